use tabulate::nn::Dense;
use tabulate::prelude::*;

#[derive(Tabulate)]
struct Model {
    #[tabulate(skip = true)]
    dense: Dense,
    #[tabulate]
    head: Dense,
    #[tabulate(rename = head)]
    tail: Dense,
}

fn main() {}
