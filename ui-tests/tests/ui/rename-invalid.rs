use tabulate::nn::Dense;
use tabulate::prelude::*;

#[derive(Tabulate)]
struct Model {
    #[tabulate(rename = "encoder/proj")]
    dense: Dense,
}

fn main() {}
