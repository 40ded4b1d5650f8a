//! Weight sharing: one `Dense` named `shared_dense` called twice, then a `Dense` named
//! `head` (the `shared` golden). The second call is a repeated call of the same module:
//! hidden by default, shown with `show_repeated`.

use tabulate::nn::{Dense, relu};
use tabulate::prelude::*;

/// Flax's `SharedDense`.
#[derive(Tabulate)]
pub struct SharedDense;

impl SharedDense {
    /// Calls `shared_dense` twice, then `head`.
    #[forward]
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let dense = Dense::new(8).name("shared_dense");
        let h = relu(&dense.forward(x)?)?;
        let h = dense.forward(&h)?; // the same module again: shared weights
        Dense::new(2).name("head").forward(&h)
    }
}

#[allow(dead_code)] // the golden tests include this file for the model only
fn main() -> tabulate::Result<()> {
    let x = Tensor::new(DType::F32, [4, 8]);
    for show_repeated in [false, true] {
        let summary = tabulate(&SharedDense)
            .compute_flops(true)
            .compute_vjp_flops(true)
            .show_repeated(show_repeated)
            .run(|model| model.forward(&x))?;
        print!("{summary}");
    }
    Ok(())
}
