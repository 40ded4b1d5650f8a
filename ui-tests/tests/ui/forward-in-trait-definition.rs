use tabulate::prelude::*;

trait Layer {
    #[forward]
    fn forward(&self, x: &Tensor) -> Result<Tensor>;
}

fn main() {}
