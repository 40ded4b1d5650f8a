use tabulate::prelude::*;

#[derive(Tabulate)]
union Bits {
    int: u32,
    float: f32,
}

fn main() {}
