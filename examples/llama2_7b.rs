//! Llama-2-7B as Hugging Face's `LlamaForCausalLM` builds it from the 7B config: 32
//! decoder layers of width 4096 with 32 heads (no grouped-query attention at 7B),
//! `RMSNorm` (ε = 1e-5), rotary position embeddings, a `SwiGLU` feed-forward of 11008, and
//! an untied 32000-way head; no biases. On one sequence of 128 tokens, `int32[1, 128]`
//! (the length of the published 850 GMACs / 1700 GFLOPs forward figure).
//!
//! Parameters: 6,738,415,616 — `LlamaForCausalLM.num_parameters()` for
//! `meta-llama/Llama-2-7b-hf` (embedding and head 131,072,000 each).
//!
//! Rotary embeddings have no parameters. `Tensor` has no `sin`/`cos`, so the model cannot
//! make the rotary tables itself: it takes them as arguments (`[seq, head_dim]`, as
//! Hugging Face's `LlamaRotaryEmbedding` makes them once per forward pass) and applies
//! them in every attention layer (`x · cos + rotate_half(x) · sin`).

use tabulate::nn::{
    AttentionOptions, Dense, Embed, RMSNorm, dot_product_attention, make_causal_mask, silu,
};
use tabulate::prelude::*;

/// Width, heads, feed-forward width, layers, vocabulary.
const DIM: usize = 4096;
const HEADS: usize = 32;
const HIDDEN: usize = 11008;
const LAYERS: usize = 32;
const VOCAB: usize = 32000;

fn signed(n: usize) -> isize {
    isize::try_from(n).expect("dimension fits isize")
}

/// The cosine and sine tables of rotary position embeddings, `[seq, head_dim]` each.
#[derive(Clone, Copy)]
pub struct Rotary<'a> {
    /// `cos(position · frequency)`.
    pub cos: &'a Tensor,
    /// `sin(position · frequency)`.
    pub sin: &'a Tensor,
}

impl Rotary<'_> {
    /// Rotates `[batch, seq, heads, head_dim]` queries or keys: `x · cos + rotate_half(x) · sin`.
    fn apply(&self, x: &Tensor) -> Result<Tensor> {
        let half = x.dim(-1)? / 2;
        let (x1, x2) = (x.slice(-1, 0, half)?, x.slice(-1, half, 2 * half)?);
        let rotated = Tensor::concatenate(&[&x2.neg()?, &x1], -1)?;
        // [seq, head_dim] → [1, seq, 1, head_dim]
        let cos = self.cos.expand_dims(0)?.expand_dims(2)?;
        let sin = self.sin.expand_dims(0)?.expand_dims(2)?;
        x.mul(&cos)?.add(&rotated.mul(&sin)?)
    }
}

/// Causal multi-head attention with rotary embeddings on queries and keys.
#[derive(Tabulate)]
#[allow(clippy::struct_field_names)] // Hugging Face's names
pub struct LlamaAttention {
    q_proj: Dense,
    k_proj: Dense,
    v_proj: Dense,
    o_proj: Dense,
    heads: usize,
}

impl LlamaAttention {
    /// Attention of each position over the ones before it.
    #[forward]
    pub fn forward(&self, x: &Tensor, cos: &Tensor, sin: &Tensor) -> Result<Tensor> {
        let (b, t, c) = (x.dim(0)?, x.dim(1)?, x.dim(2)?);
        let heads = |h: Tensor| h.reshape([signed(b), signed(t), signed(self.heads), -1]);
        let rotary = Rotary { cos, sin };
        let q = rotary.apply(&heads(self.q_proj.forward(x)?)?)?;
        let k = rotary.apply(&heads(self.k_proj.forward(x)?)?)?;
        let v = heads(self.v_proj.forward(x)?)?;
        let mask = make_causal_mask(&Tensor::ones(DType::I32, [b, t])?)?;
        let options = AttentionOptions {
            mask: Some(&mask),
            ..AttentionOptions::default()
        };
        let y = dot_product_attention(&q, &k, &v, &options)?;
        self.o_proj
            .forward(&y.reshape([signed(b), signed(t), signed(c)])?)
    }
}

/// `SwiGLU`: `down_proj(silu(gate_proj(x)) · up_proj(x))`.
#[derive(Tabulate)]
#[allow(clippy::struct_field_names)] // Hugging Face's names
pub struct LlamaMlp {
    gate_proj: Dense,
    up_proj: Dense,
    down_proj: Dense,
}

impl LlamaMlp {
    /// The feed-forward block.
    #[forward]
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let gate = silu(&self.gate_proj.forward(x)?)?;
        self.down_proj
            .forward(&gate.mul(&self.up_proj.forward(x)?)?)
    }
}

/// A pre-norm decoder layer.
#[derive(Tabulate)]
pub struct LlamaDecoderLayer {
    input_layernorm: RMSNorm,
    self_attn: LlamaAttention,
    post_attention_layernorm: RMSNorm,
    mlp: LlamaMlp,
}

impl LlamaDecoderLayer {
    fn new() -> LlamaDecoderLayer {
        let linear = |n: usize| Dense::new(n).use_bias(false);
        LlamaDecoderLayer {
            input_layernorm: RMSNorm::new().epsilon(1e-5),
            self_attn: LlamaAttention {
                q_proj: linear(DIM),
                k_proj: linear(DIM),
                v_proj: linear(DIM),
                o_proj: linear(DIM),
                heads: HEADS,
            },
            post_attention_layernorm: RMSNorm::new().epsilon(1e-5),
            mlp: LlamaMlp {
                gate_proj: linear(HIDDEN),
                up_proj: linear(HIDDEN),
                down_proj: linear(DIM),
            },
        }
    }

    /// `x + attn(norm(x))`, then `x + mlp(norm(x))`.
    #[forward]
    pub fn forward(&self, x: &Tensor, cos: &Tensor, sin: &Tensor) -> Result<Tensor> {
        let h = self.input_layernorm.forward(x)?;
        let x = x.add(&self.self_attn.forward(&h, cos, sin)?)?;
        let h = self.post_attention_layernorm.forward(&x)?;
        x.add(&self.mlp.forward(&h)?)
    }
}

/// Llama-2-7B with its language-model head.
#[derive(Tabulate)]
pub struct LlamaForCausalLM {
    embed_tokens: Embed,
    layers: Vec<LlamaDecoderLayer>,
    norm: RMSNorm,
    lm_head: Dense,
}

impl LlamaForCausalLM {
    /// The 7B configuration.
    pub fn llama2_7b() -> LlamaForCausalLM {
        LlamaForCausalLM {
            embed_tokens: Embed::new(VOCAB, DIM),
            layers: (0..LAYERS).map(|_| LlamaDecoderLayer::new()).collect(),
            norm: RMSNorm::new().epsilon(1e-5),
            lm_head: Dense::new(VOCAB).use_bias(false),
        }
    }

    /// Logits for every position, given the rotary tables `cos` and `sin` (`[seq, 128]`).
    #[forward]
    pub fn forward(&self, tokens: &Tensor, cos: &Tensor, sin: &Tensor) -> Result<Tensor> {
        let mut x = self.embed_tokens.forward(tokens)?;
        for layer in &self.layers {
            x = layer.forward(&x, cos, sin)?;
        }
        self.lm_head.forward(&self.norm.forward(&x)?)
    }
}

/// The arguments of one forward pass on `seq` tokens: token ids and the rotary tables.
pub fn inputs(seq: usize) -> [Tensor; 3] {
    let table = Tensor::new(DType::F32, [seq, DIM / HEADS]);
    [Tensor::new(DType::I32, [1, seq]), table.clone(), table]
}

#[allow(dead_code)] // the zoo tests include this file for the model only
fn main() -> tabulate::Result<()> {
    let [tokens, cos, sin] = inputs(128);
    let summary = tabulate(&LlamaForCausalLM::llama2_7b())
        .depth(2)
        .compute_flops(true)
        .compute_vjp_flops(true)
        .run(|model| model.forward(&tokens, &cos, &sin))?;
    println!("{summary}");
    Ok(())
}
