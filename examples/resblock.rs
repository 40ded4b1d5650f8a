//! A `ResNet` basic block with a projection shortcut and `BatchNorm` in training mode, on
//! `float32[2, 32, 32, 16]` (the `resblock` golden).

use tabulate::nn::{BatchNorm, Conv, relu};
use tabulate::prelude::*;

/// Flax's `ResNetBasicBlock(filters=32, strides=(2, 2))`.
#[derive(Tabulate)]
pub struct ResNetBasicBlock {
    /// Output channels.
    pub filters: usize,
    /// Strides of the first convolution and of the shortcut.
    pub strides: [usize; 2],
}

impl Default for ResNetBasicBlock {
    fn default() -> ResNetBasicBlock {
        ResNetBasicBlock {
            filters: 32,
            strides: [2, 2],
        }
    }
}

impl ResNetBasicBlock {
    /// `relu(shortcut(x) + bn(conv(relu(bn(conv(x))))))`; the shortcut projects when the
    /// shapes differ. `BatchNorm` runs in training mode, so it writes `batch_stats`.
    #[forward]
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let mut residual = x.clone();
        let y = Conv::new(self.filters, [3, 3])
            .strides(self.strides)
            .use_bias(false)
            .forward(x)?;
        let y = relu(&BatchNorm::new(false).forward(&y)?)?;
        let y = Conv::new(self.filters, [3, 3])
            .use_bias(false)
            .forward(&y)?;
        // Flax's `scale_init=zeros` changes values only, not shapes or FLOPs.
        let y = BatchNorm::new(false).forward(&y)?;
        if residual.shape() != y.shape() {
            residual = Conv::new(self.filters, [1, 1])
                .strides(self.strides)
                .use_bias(false)
                .name("conv_proj")
                .forward(&residual)?;
            residual = BatchNorm::new(false).name("norm_proj").forward(&residual)?;
        }
        relu(&residual.add(&y)?)
    }
}

#[allow(dead_code)] // the golden tests include this file for the model only
fn main() -> tabulate::Result<()> {
    let x = Tensor::new(DType::F32, [2, 32, 32, 16]);
    let summary = tabulate(&ResNetBasicBlock::default())
        .compute_flops(true)
        .compute_vjp_flops(true)
        .run(|block| block.forward(&x))?;
    print!("{summary}");
    Ok(())
}
