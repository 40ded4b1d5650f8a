use tabulate::prelude::*;

#[derive(Tabulate)]
struct Model;

impl Model {
    #[forward]
    const fn forward(&self, x: u32) -> u32 {
        x
    }
}

fn main() {}
