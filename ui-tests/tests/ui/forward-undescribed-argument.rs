use tabulate::prelude::*;

struct Config {
    rate: f32,
}

#[derive(Tabulate)]
struct Model;

impl Model {
    #[forward(no_summary)]
    fn forward(&self, x: &Tensor, config: &Config) -> Result<Tensor> {
        let _ = config.rate;
        Ok(x.clone())
    }
}

fn main() {}
