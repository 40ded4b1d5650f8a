//! A small convolutional network for 28×28 images: two stages of `Conv`, `relu` and `avg_pool`, then
//! two Dense layers, on `float32[4, 28, 28, 1]` (the `cnn` golden).

use tabulate::nn::{Conv, Dense, PoolPadding, avg_pool, relu};
use tabulate::prelude::*;

/// Flax's `CNN`: every layer built inline, as in its `@nn.compact` `__call__`.
#[derive(Tabulate)]
#[allow(clippy::upper_case_acronyms)] // the name Flax shows
pub struct CNN;

impl CNN {
    /// Two convolution stages, a flatten and the classifier.
    #[forward]
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let pool = |x: &Tensor| avg_pool(x, &[2, 2], Some(&[2, 2]), &PoolPadding::Valid, true);
        let x = Conv::new(32, [3, 3]).forward(x)?;
        let x = pool(&relu(&x)?)?;
        let x = Conv::new(64, [3, 3]).forward(&x)?;
        let x = pool(&relu(&x)?)?;
        let batch = isize::try_from(x.dim(0)?).expect("batch fits isize");
        let x = x.reshape([batch, -1])?; // flatten
        let x = relu(&Dense::new(256).forward(&x)?)?;
        Dense::new(10).forward(&x)
    }
}

#[allow(dead_code)] // the golden tests include this file for the model only
fn main() -> tabulate::Result<()> {
    let x = Tensor::new(DType::F32, [4, 28, 28, 1]);
    let summary = tabulate(&CNN)
        .compute_flops(true)
        .compute_vjp_flops(true)
        .run(|cnn| cnn.forward(&x))?;
    print!("{summary}");
    Ok(())
}
