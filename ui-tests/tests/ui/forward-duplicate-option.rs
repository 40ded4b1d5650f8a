use tabulate::prelude::*;

#[derive(Tabulate)]
struct Model;

impl Model {
    #[forward(no_summary, no_summary)]
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        Ok(x.clone())
    }
}

fn main() {}
