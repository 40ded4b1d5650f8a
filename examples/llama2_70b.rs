//! Llama-2-70B (80 decoder layers, hidden 8192, 64 query heads sharing 8 key/value heads,
//! `SwiGLU` feed-forward of 28672, vocabulary 32000) on one sequence of 4096 tokens. The
//! grouped-query attention is a user module written from `Tensor` ops, as a user would.
//! Rotary embeddings are left out: they add element-wise ops, not structure.

use tabulate::nn::{Dense, Embed, RMSNorm, silu, softmax};
use tabulate::prelude::*;

/// Grouped-query attention: `n_head` query heads, `n_kv_head` key/value heads, each
/// key/value head shared by `n_head / n_kv_head` query heads; causal.
#[derive(Tabulate)]
pub struct GroupedQueryAttention {
    /// Query heads.
    pub n_head: usize,
    /// Key/value heads.
    pub n_kv_head: usize,
    /// Its name in the layer (`self_attn`).
    #[tabulate(identity)]
    pub identity: ModuleIdentity,
}

impl GroupedQueryAttention {
    /// `o_proj(softmax(q kᵀ / √d + mask) v)` with k and v repeated over each group.
    #[forward]
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (b, t, c) = (x.dim(0)?, x.dim(1)?, x.dim(2)?);
        let hd = c / self.n_head;
        let group = self.n_head / self.n_kv_head;
        let q = Dense::new(self.n_head * hd)
            .use_bias(false)
            .name("q_proj")
            .forward(x)?;
        let k = Dense::new(self.n_kv_head * hd)
            .use_bias(false)
            .name("k_proj")
            .forward(x)?;
        let v = Dense::new(self.n_kv_head * hd)
            .use_bias(false)
            .name("v_proj")
            .forward(x)?;
        // [b, t, kv, group, hd] → [b, kv, group, t, hd]
        let q = q
            .reshape([s(b), s(t), s(self.n_kv_head), s(group), s(hd)])?
            .transpose(&[0, 2, 3, 1, 4])?;
        // [b, t, kv, hd] → [b, kv, 1, t, hd], broadcast over the group
        let kv_heads = |m: &Tensor| -> Result<Tensor> {
            m.reshape([s(b), s(t), s(self.n_kv_head), s(hd)])?
                .transpose(&[0, 2, 1, 3])?
                .expand_dims(2)?
                .broadcast_to([b, self.n_kv_head, group, t, hd])
        };
        let (k, v) = (kv_heads(&k)?, kv_heads(&v)?);
        let scale = 1.0 / (hd as f64).sqrt();
        let scores = q.matmul(&k.swapaxes(-1, -2)?)?.mul(scale)?;
        let positions = Tensor::arange(t, DType::I32)?;
        let causal = positions
            .expand_dims(1)?
            .greater_equal(&positions.expand_dims(0)?)?;
        let masked = Tensor::full(-1e9, DType::F32, [t, t])?;
        let scores = causal.select(&scores, &masked)?;
        let weights = softmax(&scores)?;
        let y = weights
            .matmul(&v)?
            .transpose(&[0, 3, 1, 2, 4])?
            .reshape([s(b), s(t), s(c)])?;
        Dense::new(c).use_bias(false).name("o_proj").forward(&y)
    }
}

/// The `SwiGLU` feed-forward block: `down(silu(gate(x)) · up(x))`.
#[derive(Tabulate)]
pub struct LlamaMLP {
    /// Inner width.
    pub intermediate: usize,
    /// Its name in the layer (`mlp`).
    #[tabulate(identity)]
    pub identity: ModuleIdentity,
}

impl LlamaMLP {
    /// `down_proj(silu(gate_proj(x)) * up_proj(x))`.
    #[forward]
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let c = x.dim(-1)?;
        let gate = Dense::new(self.intermediate)
            .use_bias(false)
            .name("gate_proj")
            .forward(x)?;
        let up = Dense::new(self.intermediate)
            .use_bias(false)
            .name("up_proj")
            .forward(x)?;
        let h = silu(&gate)?.mul(&up)?;
        Dense::new(c).use_bias(false).name("down_proj").forward(&h)
    }
}

/// A pre-RMSNorm decoder layer.
#[derive(Tabulate)]
pub struct LlamaLayer {
    /// Query heads.
    pub n_head: usize,
    /// Key/value heads.
    pub n_kv_head: usize,
    /// Feed-forward width.
    pub intermediate: usize,
    /// Its name (`layers_0`, …).
    #[tabulate(identity)]
    pub identity: ModuleIdentity,
}

impl LlamaLayer {
    /// `x + attn(norm(x))`, then `x + mlp(norm(x))`.
    #[forward]
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let attn = GroupedQueryAttention {
            n_head: self.n_head,
            n_kv_head: self.n_kv_head,
            identity: ModuleIdentity::named("self_attn"),
        };
        let h = RMSNorm::new()
            .epsilon(1e-5)
            .name("input_layernorm")
            .forward(x)?;
        let x = x.add(&attn.forward(&h)?)?;
        let mlp = LlamaMLP {
            intermediate: self.intermediate,
            identity: ModuleIdentity::named("mlp"),
        };
        let h = RMSNorm::new()
            .epsilon(1e-5)
            .name("post_attention_layernorm")
            .forward(&x)?;
        x.add(&mlp.forward(&h)?)
    }
}

/// Llama 2.
#[derive(Tabulate)]
pub struct Llama {
    /// Vocabulary size.
    pub vocab_size: usize,
    /// Decoder layers.
    pub n_layer: usize,
    /// Width.
    pub hidden: usize,
    /// Query heads.
    pub n_head: usize,
    /// Key/value heads.
    pub n_kv_head: usize,
    /// Feed-forward width.
    pub intermediate: usize,
}

impl Llama {
    /// Llama-2-70B's configuration.
    pub fn llama2_70b() -> Llama {
        Llama {
            vocab_size: 32000,
            n_layer: 80,
            hidden: 8192,
            n_head: 64,
            n_kv_head: 8,
            intermediate: 28672,
        }
    }

    /// Logits for every position.
    #[forward]
    pub fn forward(&self, tokens: &Tensor) -> Result<Tensor> {
        let mut x = Embed::new(self.vocab_size, self.hidden)
            .name("embed_tokens")
            .forward(tokens)?;
        for i in 0..self.n_layer {
            let layer = LlamaLayer {
                n_head: self.n_head,
                n_kv_head: self.n_kv_head,
                intermediate: self.intermediate,
                identity: ModuleIdentity::named(format!("layers_{i}")),
            };
            x = layer.forward(&x)?;
        }
        let x = RMSNorm::new().epsilon(1e-5).name("norm").forward(&x)?;
        Dense::new(self.vocab_size)
            .use_bias(false)
            .name("lm_head")
            .forward(&x)
    }
}

fn s(n: usize) -> isize {
    isize::try_from(n).expect("dimension fits isize")
}

#[allow(dead_code)] // the benches include this file for the model only
fn main() -> tabulate::Result<()> {
    let tokens = Tensor::new(DType::I32, [1, 4096]);
    let summary = tabulate(&Llama::llama2_70b())
        .compute_flops(true)
        .compute_vjp_flops(true)
        .run(|m| m.forward(&tokens))?;
    print!("{summary}");
    Ok(())
}
