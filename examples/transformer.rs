//! One pre-LayerNorm transformer encoder block (attention, then an MLP with gelu), on
//! `float32[2, 16, 64]` (the `transformer` golden).

use tabulate::nn::{Dense, Dropout, LayerNorm, MultiHeadDotProductAttention, gelu};
use tabulate::prelude::*;

/// Flax's `EncoderBlock(num_heads=4, qkv_features=64, mlp_dim=256, dropout_rate=0.1)`.
#[derive(Tabulate)]
pub struct EncoderBlock {
    /// Attention heads.
    pub num_heads: usize,
    /// Size of the query/key/value projections.
    pub qkv_features: usize,
    /// Hidden size of the MLP.
    pub mlp_dim: usize,
    /// Dropout rate (inactive here: the block runs deterministically).
    pub dropout_rate: f64,
}

impl Default for EncoderBlock {
    fn default() -> EncoderBlock {
        EncoderBlock {
            num_heads: 4,
            qkv_features: 64,
            mlp_dim: 256,
            dropout_rate: 0.1,
        }
    }
}

impl EncoderBlock {
    /// `x + attention(ln(x))`, then `x + mlp(ln(x))`.
    #[forward]
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let h = LayerNorm::new().forward(x)?;
        let h = MultiHeadDotProductAttention::new(self.num_heads)
            .qkv_features(self.qkv_features)
            .dropout_rate(self.dropout_rate)
            .forward(&h, true)?;
        let h = Dropout::new(self.dropout_rate).forward(&h, true)?;
        let x = x.add(&h)?;
        let h = LayerNorm::new().forward(&x)?;
        let h = Dense::new(self.mlp_dim).forward(&h)?;
        let h = gelu(&h)?;
        let h = Dense::new(x.dim(-1)?).forward(&h)?;
        let h = Dropout::new(self.dropout_rate).forward(&h, true)?;
        x.add(&h)
    }
}

#[allow(dead_code)] // the golden tests include this file for the model only
fn main() -> tabulate::Result<()> {
    let x = Tensor::new(DType::F32, [2, 16, 64]);
    let summary = tabulate(&EncoderBlock::default())
        .compute_flops(true)
        .compute_vjp_flops(true)
        .run(|block| block.forward(&x))?;
    print!("{summary}");
    Ok(())
}
