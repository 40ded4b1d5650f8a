use tabulate::prelude::*;

#[derive(Describe)]
struct Pair(#[tabulate(rename = "hidden")] Tensor, Tensor);

fn main() {}
