use tabulate::prelude::*;

#[derive(Tabulate)]
struct Model;

impl Model {
    #[forward(no_summary = true)]
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        Ok(x.clone())
    }
}

fn main() {}
