use tabulate::prelude::*;

trait Layer {
    fn forward(&self, x: &Tensor) -> Result<Tensor>;
}

#[derive(Tabulate)]
struct Model;

impl Layer for Model {
    #[forward]
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        Ok(x.clone())
    }
}

fn main() {}
