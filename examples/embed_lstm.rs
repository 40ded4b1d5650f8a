//! Token embeddings fed to an LSTM scanned over time, on `int32[4, 12]` tokens (the
//! `embed_lstm` golden).

use tabulate::nn::{Embed, LSTMCell, RNN};
use tabulate::prelude::*;

/// Flax's `EmbedLSTM`: `Embed(1000, 32)`, then `RNN(LSTMCell(64))`, both built inline.
#[derive(Tabulate)]
pub struct EmbedLSTM;

impl EmbedLSTM {
    /// The hidden state at every step, `[batch, time, 64]`.
    #[forward]
    pub fn forward(&self, tokens: &Tensor) -> Result<Tensor> {
        let x = Embed::new(1000, 32).forward(tokens)?;
        RNN::new(LSTMCell::new(64)).forward(&x)
    }
}

#[allow(dead_code)] // the golden tests include this file for the model only
fn main() -> tabulate::Result<()> {
    let tokens = Tensor::new(DType::I32, [4, 12]);
    let summary = tabulate(&EmbedLSTM)
        .compute_flops(true)
        .compute_vjp_flops(true)
        .run(|model| model.forward(&tokens))?;
    print!("{summary}");
    Ok(())
}
