//! GPT-2 small (124M parameters: 12 blocks, 768 wide, 12 heads) on one sequence of 1024
//! tokens, `int32[1, 1024]` (the `gpt2_small` golden).

use tabulate::nn::{
    AttentionOptions, Dense, Embed, LayerNorm, dot_product_attention, gelu, make_causal_mask,
};
use tabulate::prelude::*;

/// Causal self-attention: one `c_attn` projection to q, k, v, and `c_proj` back.
#[derive(Tabulate)]
pub struct CausalSelfAttention {
    /// Attention heads.
    pub n_head: usize,
    /// Its name in the block (`attn`).
    #[tabulate(identity)]
    pub identity: ModuleIdentity,
}

impl CausalSelfAttention {
    /// Attention of each position over the ones before it.
    #[forward]
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (b, t, c) = (x.dim(0)?, x.dim(1)?, x.dim(2)?);
        let qkv = Dense::new(3 * c).name("c_attn").forward(x)?;
        let hd = c / self.n_head;
        let heads =
            |part: &Tensor| part.reshape([signed(b), signed(t), signed(self.n_head), signed(hd)]);
        let (q, k, v) = match qkv.split(3, -1)?.as_slice() {
            [q, k, v] => (heads(q)?, heads(k)?, heads(v)?),
            _ => unreachable!("split(3) gives three parts"),
        };
        let mask = make_causal_mask(&Tensor::ones(DType::I32, [b, t])?)?;
        let options = AttentionOptions {
            mask: Some(&mask),
            ..AttentionOptions::default()
        };
        let y = dot_product_attention(&q, &k, &v, &options)?;
        let y = y.reshape([signed(b), signed(t), signed(c)])?;
        Dense::new(c).name("c_proj").forward(&y)
    }
}

/// The feed-forward block: `c_fc` to 4× width, gelu, `c_proj` back.
#[derive(Tabulate)]
#[allow(clippy::upper_case_acronyms)] // the name Flax shows
pub struct GPT2MLP {
    /// Its name in the block (`mlp`).
    #[tabulate(identity)]
    pub identity: ModuleIdentity,
}

impl GPT2MLP {
    /// `c_proj(gelu(c_fc(x)))`.
    #[forward]
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let c = x.dim(-1)?;
        let h = Dense::new(4 * c).name("c_fc").forward(x)?;
        let h = gelu(&h)?;
        Dense::new(c).name("c_proj").forward(&h)
    }
}

/// A pre-LayerNorm decoder block.
#[derive(Tabulate)]
pub struct GPT2Block {
    /// Attention heads.
    pub n_head: usize,
    /// The block's own name (`h_0`, …), as Flax's `name=f'h_{i}'`.
    #[tabulate(identity)]
    pub identity: ModuleIdentity,
}

impl GPT2Block {
    /// `x + attn(ln_1(x))`, then `x + mlp(ln_2(x))`.
    #[forward]
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let attn = CausalSelfAttention {
            n_head: self.n_head,
            identity: ModuleIdentity::named("attn"),
        };
        let h = LayerNorm::new().epsilon(1e-5).name("ln_1").forward(x)?;
        let x = x.add(&attn.forward(&h)?)?;
        let mlp = GPT2MLP {
            identity: ModuleIdentity::named("mlp"),
        };
        let h = LayerNorm::new().epsilon(1e-5).name("ln_2").forward(&x)?;
        x.add(&mlp.forward(&h)?)
    }
}

/// GPT-2: token and position embeddings, `n_layer` blocks, a final `LayerNorm` and the
/// (untied) language-model head.
#[derive(Tabulate)]
#[allow(clippy::upper_case_acronyms)] // the name Flax shows
pub struct GPT2 {
    /// Vocabulary size.
    pub vocab_size: usize,
    /// Context length (position embeddings).
    pub n_ctx: usize,
    /// Number of blocks.
    pub n_layer: usize,
    /// Width.
    pub n_embd: usize,
    /// Attention heads.
    pub n_head: usize,
}

impl Default for GPT2 {
    fn default() -> GPT2 {
        GPT2 {
            vocab_size: 50257,
            n_ctx: 1024,
            n_layer: 12,
            n_embd: 768,
            n_head: 12,
        }
    }
}

impl GPT2 {
    /// Logits for every position.
    #[forward]
    pub fn forward(&self, tokens: &Tensor) -> Result<Tensor> {
        let t = tokens.dim(1)?;
        let pos = Tensor::arange(t, DType::I32)?.expand_dims(0)?;
        let x = Embed::new(self.vocab_size, self.n_embd)
            .name("wte")
            .forward(tokens)?;
        let mut x = x.add(
            &Embed::new(self.n_ctx, self.n_embd)
                .name("wpe")
                .forward(&pos)?,
        )?;
        for i in 0..self.n_layer {
            let block = GPT2Block {
                n_head: self.n_head,
                identity: ModuleIdentity::named(format!("h_{i}")),
            };
            x = block.forward(&x)?;
        }
        let x = LayerNorm::new().epsilon(1e-5).name("ln_f").forward(&x)?;
        Dense::new(self.vocab_size)
            .use_bias(false)
            .name("lm_head")
            .forward(&x)
    }
}

fn signed(n: usize) -> isize {
    isize::try_from(n).expect("dimension fits isize")
}

#[allow(dead_code)] // the golden tests include this file for the model only
fn main() -> tabulate::Result<()> {
    let tokens = Tensor::new(DType::I32, [1, 1024]);
    let summary = tabulate(&GPT2::default())
        .compute_flops(true)
        .compute_vjp_flops(true)
        .run(|gpt| gpt.forward(&tokens))?;
    print!("{summary}");
    Ok(())
}
