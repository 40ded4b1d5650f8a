//! `ViT-B/16` as torchvision builds it (`torchvision.models.vit_b_16`): 16×16 patches, 12
//! pre-norm encoder blocks of width 768 with 12 heads and a 3072-wide MLP, a class token,
//! learned position embeddings and a 1000-way head, on one 224×224 RGB image
//! `float32[1, 224, 224, 3]` (196 patches and the class token: 197 tokens).
//!
//! Parameters: 86,567,656 — torchvision's published count (`ViT_B_16_Weights`).
//! torchvision's `nn.MultiheadAttention` keeps q, k, v in one `in_proj` of `[2304, 768]`
//! plus bias; Flax's `MultiHeadDotProductAttention` has `query`, `key`, `value` of
//! `[768, 12, 64]` plus `[12, 64]` biases each: the same count. Dropout rates are 0.

use tabulate::nn::{Conv, Dense, LayerNorm, MultiHeadDotProductAttention, Padding, gelu_with};
use tabulate::prelude::*;

const WIDTH: usize = 768;

/// The MLP: `linear_2(gelu(linear_1(x)))`, exact (erf) GELU as `torch.nn.GELU()`.
#[derive(Tabulate)]
pub struct MlpBlock {
    linear_1: Dense,
    linear_2: Dense,
}

impl MlpBlock {
    /// The feed-forward block.
    #[forward]
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.linear_2
            .forward(&gelu_with(&self.linear_1.forward(x)?, false)?)
    }
}

/// A pre-norm encoder block: `x + attention(ln_1(x))`, then `x + mlp(ln_2(x))`.
#[derive(Tabulate)]
pub struct EncoderBlock {
    ln_1: LayerNorm,
    self_attention: MultiHeadDotProductAttention,
    ln_2: LayerNorm,
    mlp: MlpBlock,
}

impl EncoderBlock {
    fn new(heads: usize, mlp_dim: usize) -> EncoderBlock {
        EncoderBlock {
            ln_1: LayerNorm::new().epsilon(1e-6),
            self_attention: MultiHeadDotProductAttention::new(heads),
            ln_2: LayerNorm::new().epsilon(1e-6),
            mlp: MlpBlock {
                linear_1: Dense::new(mlp_dim),
                linear_2: Dense::new(WIDTH),
            },
        }
    }

    /// The block.
    #[forward]
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let h = self.self_attention.forward(&self.ln_1.forward(x)?, true)?;
        let x = x.add(&h)?;
        x.add(&self.mlp.forward(&self.ln_2.forward(&x)?)?)
    }
}

/// The encoder: learned position embeddings (a parameter of its own), the blocks, and a
/// final `LayerNorm`.
#[derive(Tabulate)]
pub struct Encoder {
    layers: Vec<EncoderBlock>,
    ln: LayerNorm,
}

impl Encoder {
    /// Encodes `[batch, tokens, width]`.
    #[forward]
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let pos = tabulate::param("pos_embedding", DType::F32, [1, x.dim(1)?, x.dim(2)?])?;
        let mut x = x.add(&pos)?;
        for layer in &self.layers {
            x = layer.forward(&x)?;
        }
        self.ln.forward(&x)
    }
}

/// `ViT-B/16`.
#[derive(Tabulate)]
pub struct ViT {
    conv_proj: Conv,
    encoder: Encoder,
    head: Dense,
}

impl ViT {
    /// `ViT-B/16` with 1000 classes.
    pub fn b16() -> ViT {
        ViT {
            conv_proj: Conv::new(WIDTH, [16, 16])
                .strides([16, 16])
                .padding(Padding::Explicit(vec![(0, 0); 2])),
            encoder: Encoder {
                layers: (0..12).map(|_| EncoderBlock::new(12, 3072)).collect(),
                ln: LayerNorm::new().epsilon(1e-6),
            },
            head: Dense::new(1000),
        }
    }

    /// Class logits of `NHWC` images: patches, class token, encoder, head on the class
    /// token.
    #[forward]
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let x = self.conv_proj.forward(x)?;
        let n = x.dim(0)?;
        let x = x.reshape([isize::try_from(n).expect("batch fits isize"), -1, 768])?;
        let class_token = tabulate::param("class_token", DType::F32, [1, 1, WIDTH])?;
        let class_token = class_token.broadcast_to([n, 1, WIDTH])?;
        let x = Tensor::concatenate(&[&class_token, &x], 1)?;
        let x = self.encoder.forward(&x)?;
        self.head.forward(&x.slice(1, 0, 1)?.squeeze(1)?)
    }
}

#[allow(dead_code)] // the zoo tests include this file for the model only
fn main() -> tabulate::Result<()> {
    let x = Tensor::new(DType::F32, [1, 224, 224, 3]);
    let summary = tabulate(&ViT::b16())
        .compute_flops(true)
        .compute_vjp_flops(true)
        .run(|model| model.forward(&x))?;
    println!("{summary}");
    Ok(())
}
