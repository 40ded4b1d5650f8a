use tabulate::nn::Dense;
use tabulate::prelude::*;

#[derive(Tabulate)]
struct Model {
    #[tabulate(skip, skip)]
    dense: Dense,
    #[tabulate(rename = "a")]
    #[tabulate(rename = "b")]
    head: Dense,
}

fn main() {}
