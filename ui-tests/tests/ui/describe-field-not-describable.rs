use tabulate::prelude::*;

struct Cache;

#[derive(Describe)]
struct Output {
    logits: Tensor,
    cache: Cache,
}

fn main() {}
