use tabulate::prelude::*;

#[derive(Tabulate)]
struct Model;

impl Model {
    #[forward]
    extern "C" fn forward(&self, x: u32) -> u32 {
        x
    }
}

fn main() {}
