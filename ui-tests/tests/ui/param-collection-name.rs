use tabulate::prelude::*;

#[derive(Tabulate)]
struct Norm {
    #[tabulate(collection = "")]
    mean: Param,
    #[tabulate(collection = "batch stats")]
    var: Param,
    #[tabulate(collection = batch_stats)]
    scale: Param,
    #[tabulate(collection = "a", collection = "b")]
    bias: Param,
    #[tabulate(skip, collection = "cache")]
    skipped: Param,
    #[tabulate(identity, collection = "cache")]
    identity: ModuleIdentity,
}

fn main() {}
