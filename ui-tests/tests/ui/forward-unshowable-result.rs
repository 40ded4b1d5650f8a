use tabulate::prelude::*;

struct Hidden {
    logits: Tensor,
}

#[derive(Tabulate)]
struct Model;

impl Model {
    #[forward(no_summary)]
    fn forward(&self, x: &Tensor) -> Result<Hidden> {
        Ok(Hidden { logits: x.clone() })
    }
}

fn main() {}
