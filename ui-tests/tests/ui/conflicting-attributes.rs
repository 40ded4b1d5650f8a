use tabulate::nn::Dense;
use tabulate::prelude::*;

#[derive(Tabulate)]
struct Model {
    #[tabulate(skip, rename = "proj")]
    dense: Dense,
    #[tabulate(rename = "head")]
    first: Dense,
    head: Dense,
}

fn main() {}
