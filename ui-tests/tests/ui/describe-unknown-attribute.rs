use tabulate::prelude::*;

#[derive(Describe)]
struct Output {
    #[tabulate(flatten)]
    logits: Tensor,
}

fn main() {}
