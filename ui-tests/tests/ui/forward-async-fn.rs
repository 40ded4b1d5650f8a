use tabulate::prelude::*;

#[derive(Tabulate)]
struct Model;

impl Model {
    #[forward]
    async fn forward(&self, x: &Tensor) -> Result<Tensor> {
        Ok(x.clone())
    }
}

fn main() {}
