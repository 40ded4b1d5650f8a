use tabulate::nn::Dense;
use tabulate::prelude::*;

#[derive(Tabulate)]
#[tabulate(rename = "")]
struct Model {
    dense: Dense,
}

fn main() {}
