use tabulate::prelude::*;

/// `#[forward]` also adds `summary`; the missing derive is still reported once.
struct Plain;

impl Plain {
    #[forward]
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        Ok(x.clone())
    }
}

fn main() {}
