//! GPT-2 small (124M) with its language-model head tied to the token embedding, as
//! Hugging Face's `GPT2LMHeadModel` and `nanoGPT` tie it: the logits are
//! `wte.attend(ln_f(x))`, so the head adds no parameter. On one sequence of 1024 tokens,
//! `int32[1, 1024]`. The blocks are those of the `gpt2_small` example (which has an
//! untied head, as the Flax golden does).
//!
//! Parameters: 124,439,808 — Hugging Face's `GPT2LMHeadModel.num_parameters()` (position
//! embeddings included; `nanoGPT`'s `get_num_params()` leaves them out for 123,653,376).
//! The second call of `wte` (`attend`) is a repeated call: its row shows only with
//! `show_repeated`, and its parameters are counted once.

use tabulate::nn::{Embed, LayerNorm};
use tabulate::prelude::*;

#[path = "gpt2_small.rs"]
#[allow(dead_code, unreachable_pub)] // only its blocks are used here
mod gpt2_small;

use gpt2_small::GPT2Block;

/// GPT-2 with a tied head.
#[derive(Tabulate)]
#[allow(clippy::upper_case_acronyms)] // the name Flax shows
pub struct GPT2 {
    wte: Embed,
    wpe: Embed,
    ln_f: LayerNorm,
    n_layer: usize,
    n_head: usize,
}

impl GPT2 {
    /// GPT-2 small: vocabulary 50257, context 1024, 12 blocks, width 768, 12 heads.
    pub fn small() -> GPT2 {
        GPT2 {
            wte: Embed::new(50257, 768),
            wpe: Embed::new(1024, 768),
            ln_f: LayerNorm::new().epsilon(1e-5),
            n_layer: 12,
            n_head: 12,
        }
    }

    /// Logits for every position.
    #[forward]
    pub fn forward(&self, tokens: &Tensor) -> Result<Tensor> {
        let pos = Tensor::arange(tokens.dim(1)?, DType::I32)?.expand_dims(0)?;
        let mut x = self.wte.forward(tokens)?.add(&self.wpe.forward(&pos)?)?;
        for i in 0..self.n_layer {
            let block = GPT2Block {
                n_head: self.n_head,
                identity: ModuleIdentity::named(format!("h_{i}")),
            };
            x = block.forward(&x)?;
        }
        self.wte.attend(&self.ln_f.forward(&x)?)
    }
}

#[allow(dead_code)] // the zoo tests include this file for the model only
fn main() -> tabulate::Result<()> {
    let tokens = Tensor::new(DType::I32, [1, 1024]);
    let summary = tabulate(&GPT2::small())
        .compute_flops(true)
        .compute_vjp_flops(true)
        .run(|model| model.forward(&tokens))?;
    println!("{summary}");
    Ok(())
}
