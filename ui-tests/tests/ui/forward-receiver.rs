use tabulate::prelude::*;

#[derive(Tabulate)]
struct Model;

impl Model {
    #[forward]
    fn forward(&mut self, x: &Tensor) -> Result<Tensor> {
        Ok(x.clone())
    }

    #[forward]
    fn consume(self, x: &Tensor) -> Result<Tensor> {
        Ok(x.clone())
    }

    #[forward(verbose)]
    fn project(&self, (a, _b): (&Tensor, &Tensor)) -> Result<Tensor> {
        Ok(a.clone())
    }
}

fn main() {}
