use tabulate::prelude::*;

#[forward]
struct Model;

fn main() {}
