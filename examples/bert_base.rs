//! BERT-base (uncased) as Hugging Face's `BertModel(BertConfig())` builds it: word,
//! position and token-type embeddings, 12 post-norm encoder layers of width 768 with 12
//! heads and a 3072-wide GELU feed-forward, and the pooler (`tanh(dense(h[:, 0]))`). On
//! one sequence of 128 tokens (`int32[1, 128]` ids and token types), the length at which
//! BERT was mostly pre-trained and at which its published 11.174 GMACs are counted.
//!
//! Parameters: 109,482,240 — `BertModel(BertConfig()).num_parameters()`, pooler included.
//! Hugging Face's separate `query`, `key`, `value` and `attention.output.dense` are
//! Flax's `MultiHeadDotProductAttention` (`[768, 12, 64]` kernels and `[12, 64]` biases:
//! the same count). Dropout is the identity in evaluation and is not written; the
//! attention mask is all ones and is left out.

use tabulate::nn::{Dense, Embed, LayerNorm, MultiHeadDotProductAttention, gelu_with};
use tabulate::prelude::*;

/// Word + position + token-type embeddings, then `LayerNorm`.
#[derive(Tabulate)]
pub struct BertEmbeddings {
    word_embeddings: Embed,
    position_embeddings: Embed,
    token_type_embeddings: Embed,
    layer_norm: LayerNorm,
}

impl BertEmbeddings {
    /// Embeds `[batch, seq]` ids and token types.
    #[forward]
    pub fn forward(&self, input_ids: &Tensor, token_type_ids: &Tensor) -> Result<Tensor> {
        let pos = Tensor::arange(input_ids.dim(1)?, DType::I32)?.expand_dims(0)?;
        let x = self.word_embeddings.forward(input_ids)?;
        let x = x.add(&self.position_embeddings.forward(&pos)?)?;
        let x = x.add(&self.token_type_embeddings.forward(token_type_ids)?)?;
        self.layer_norm.forward(&x)
    }
}

/// A post-norm encoder layer: `ln(x + attention(x))`, then `ln(x + output(gelu(intermediate(x))))`.
#[derive(Tabulate)]
pub struct BertLayer {
    attention: MultiHeadDotProductAttention,
    attention_norm: LayerNorm,
    intermediate: Dense,
    output: Dense,
    output_norm: LayerNorm,
}

impl BertLayer {
    fn new() -> BertLayer {
        BertLayer {
            attention: MultiHeadDotProductAttention::new(12),
            attention_norm: LayerNorm::new().epsilon(1e-12),
            intermediate: Dense::new(3072),
            output: Dense::new(768),
            output_norm: LayerNorm::new().epsilon(1e-12),
        }
    }

    /// The layer.
    #[forward]
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let x = self
            .attention_norm
            .forward(&x.add(&self.attention.forward(x, true)?)?)?;
        let h = gelu_with(&self.intermediate.forward(&x)?, false)?;
        self.output_norm.forward(&x.add(&self.output.forward(&h)?)?)
    }
}

/// BERT-base with its pooler.
#[derive(Tabulate)]
pub struct BertModel {
    embeddings: BertEmbeddings,
    encoder: Vec<BertLayer>,
    pooler: Dense,
}

impl BertModel {
    /// `BertConfig()`'s defaults: vocabulary 30522, 512 positions, 2 token types.
    pub fn base() -> BertModel {
        BertModel {
            embeddings: BertEmbeddings {
                word_embeddings: Embed::new(30522, 768),
                position_embeddings: Embed::new(512, 768),
                token_type_embeddings: Embed::new(2, 768),
                layer_norm: LayerNorm::new().epsilon(1e-12),
            },
            encoder: (0..12).map(|_| BertLayer::new()).collect(),
            pooler: Dense::new(768),
        }
    }

    /// The last hidden states and the pooled class token.
    #[forward]
    pub fn forward(&self, input_ids: &Tensor, token_type_ids: &Tensor) -> Result<(Tensor, Tensor)> {
        let mut x = self.embeddings.forward(input_ids, token_type_ids)?;
        for layer in &self.encoder {
            x = layer.forward(&x)?;
        }
        let first = x.slice(1, 0, 1)?.squeeze(1)?;
        let pooled = self.pooler.forward(&first)?.tanh()?;
        Ok((x, pooled))
    }
}

#[allow(dead_code)] // the zoo tests include this file for the model only
fn main() -> tabulate::Result<()> {
    let ids = Tensor::new(DType::I32, [1, 128]);
    let summary = tabulate(&BertModel::base())
        .compute_flops(true)
        .compute_vjp_flops(true)
        .run(|model| model.forward(&ids, &ids))?;
    println!("{summary}");
    Ok(())
}
