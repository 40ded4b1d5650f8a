use tabulate::nn::Dense;
use tabulate::prelude::*;

#[derive(Tabulate)]
enum Head {
    Linear(Dense),
    Identity,
}

fn main() {}
