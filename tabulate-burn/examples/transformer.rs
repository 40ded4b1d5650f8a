//! A GPT-style decoder-only transformer built from `burn::nn` modules (token and position
//! embeddings, pre-norm blocks of causal multi-head attention and a GELU MLP, a final
//! layer norm and an untied head), summarised on a batch of token ids `i64[2, 64]`.
//! `llama_7b` sizes the same kind of model to Llama-2-7B.

use burn::module::Module;
use burn::nn::attention::{
    MhaInput, MultiHeadAttention, MultiHeadAttentionConfig, generate_autoregressive_mask,
};
use burn::nn::{
    Embedding, EmbeddingConfig, Gelu, LayerNorm, LayerNormConfig, Linear, LinearConfig,
};
use burn::tensor::{Device, Int, Tensor};

/// Sizes of the model.
#[derive(Clone, Copy, Debug)]
pub struct GptConfig {
    /// Vocabulary size.
    pub vocab: usize,
    /// Longest sequence.
    pub context: usize,
    /// Model width.
    pub d_model: usize,
    /// Attention heads.
    pub heads: usize,
    /// Blocks.
    pub layers: usize,
}

/// Two linear layers with a GELU between them.
#[derive(Module, Debug)]
pub struct Mlp {
    fc: Linear,
    act: Gelu,
    proj: Linear,
}

/// A pre-norm transformer block.
#[derive(Module, Debug)]
pub struct Block {
    ln1: LayerNorm,
    attn: MultiHeadAttention,
    ln2: LayerNorm,
    mlp: Mlp,
}

impl Block {
    fn new(c: &GptConfig, device: &Device) -> Block {
        Block {
            ln1: LayerNormConfig::new(c.d_model).init(device),
            attn: MultiHeadAttentionConfig::new(c.d_model, c.heads)
                .with_dropout(0.0)
                .init(device),
            ln2: LayerNormConfig::new(c.d_model).init(device),
            mlp: Mlp {
                fc: LinearConfig::new(c.d_model, 4 * c.d_model).init(device),
                act: Gelu::new(),
                proj: LinearConfig::new(4 * c.d_model, c.d_model).init(device),
            },
        }
    }

    fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let [batch, len, _] = x.dims();
        let mask = generate_autoregressive_mask(batch, len, &x.device());
        let attn = self
            .attn
            .forward(MhaInput::self_attn(self.ln1.forward(x.clone())).mask_attn(mask))
            .context;
        let x = x + attn;
        let h = self.mlp.fc.forward(self.ln2.forward(x.clone()));
        let h = self.mlp.proj.forward(self.mlp.act.forward(h));
        x + h
    }
}

/// The model.
#[derive(Module, Debug)]
pub struct Gpt {
    tok_emb: Embedding,
    pos_emb: Embedding,
    blocks: Vec<Block>,
    ln_f: LayerNorm,
    head: Linear,
}

impl Gpt {
    /// A model of the given sizes.
    pub fn new(c: &GptConfig, device: &Device) -> Gpt {
        Gpt {
            tok_emb: EmbeddingConfig::new(c.vocab, c.d_model).init(device),
            pos_emb: EmbeddingConfig::new(c.context, c.d_model).init(device),
            blocks: (0..c.layers).map(|_| Block::new(c, device)).collect(),
            ln_f: LayerNormConfig::new(c.d_model).init(device),
            head: LinearConfig::new(c.d_model, c.vocab)
                .with_bias(false)
                .init(device),
        }
    }

    /// Logits `[batch, len, vocab]` for token ids `[batch, len]`.
    ///
    /// # Panics
    ///
    /// If the sequence is longer than `i64::MAX` tokens.
    pub fn forward(&self, tokens: Tensor<2, Int>) -> Tensor<3> {
        let [batch, len] = tokens.dims();
        let device = tokens.device();
        let end = i64::try_from(len).expect("sequence length fits in i64");
        let positions = Tensor::<1, Int>::arange(0..end, &device)
            .unsqueeze::<2>()
            .expand([batch, len]);
        let x = self.tok_emb.forward(tokens) + self.pos_emb.forward(positions);
        let x = self.blocks.iter().fold(x, |x, block| block.forward(x));
        self.head.forward(self.ln_f.forward(x))
    }
}

/// A small GPT: 4 blocks of width 128, 4 heads, vocabulary 1000, context 64.
pub const SMALL: GptConfig = GptConfig {
    vocab: 1000,
    context: 64,
    d_model: 128,
    heads: 4,
    layers: 4,
};

/// Summarises [`SMALL`] on two sequences of 64 tokens.
pub fn summary() -> Result<tabulate::Summary, tabulate_burn::Error> {
    tabulate_burn::summarize(
        |device| Gpt::new(&SMALL, device),
        |model: &Gpt, inputs| model.forward(inputs.int([2, 64])),
    )
}

#[allow(dead_code)] // the tests include this file for its model
fn main() -> Result<(), tabulate_burn::Error> {
    print!("{}", summary()?);
    Ok(())
}
