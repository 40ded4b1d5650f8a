//! The example of Flax's `nn.tabulate` documentation: `Dense(4)` then `Dense(2)` on a
//! `float32[16, 9]` input, with both FLOP columns.
//!
//! `cargo run --example foo` prints the documented table; `COLUMNS=90` narrows it to the
//! width of the documentation's own rendering.

use tabulate::nn::Dense;
use tabulate::prelude::*;

/// Two dense layers, built inline (Flax's `@nn.compact` style).
#[derive(Tabulate)]
pub struct Foo;

impl Foo {
    /// `Dense(4)` then `Dense(2)`.
    #[forward]
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let h = Dense::new(4).forward(x)?;
        Dense::new(2).forward(&h)
    }
}

#[allow(dead_code)] // the golden tests include this file for the model only
fn main() -> tabulate::Result<()> {
    let x = Tensor::new(DType::F32, [16, 9]);
    let summary = tabulate(&Foo)
        .compute_flops(true)
        .compute_vjp_flops(true)
        .run(|model| model.forward(&x))?;
    print!("{summary}");
    Ok(())
}
