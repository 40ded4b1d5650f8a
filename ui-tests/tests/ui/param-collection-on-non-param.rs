use tabulate::nn::Dense;
use tabulate::prelude::*;

/// `#[tabulate(collection = …)]` is for `Param` fields (and containers of them) only.
#[derive(Tabulate)]
struct Norm {
    #[tabulate(collection = "batch_stats")]
    features: usize,
    #[tabulate(collection = "batch_stats")]
    dense: Dense,
    #[tabulate(collection = "batch_stats")]
    means: Vec<Param>,
}

fn main() {}
