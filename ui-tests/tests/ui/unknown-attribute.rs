use tabulate::nn::Dense;
use tabulate::prelude::*;

#[derive(Tabulate)]
#[tabulate(title = "My model")]
struct Model {
    #[tabulate(hidden)]
    dense: Dense,
}

fn main() {}
