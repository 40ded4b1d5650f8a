//! A Llama-2-7B-sized decoder built from `burn::nn` modules (`RmsNorm`, bias-free attention
//! projections, `SwiGlu` MLP; 32 layers of width 4096, 32 heads, MLP width 11008, vocabulary
//! 32000: 6,738,415,616 parameters, 27 GB in float32), summarised on one sequence of 2048
//! tokens. It allocates no weight: run it under `/usr/bin/time -v` to see the peak memory.
//! (Rotary position embeddings are left out; they hold no parameters.)

use burn::module::Module;
use burn::nn::{
    Embedding, EmbeddingConfig, Linear, LinearConfig, RmsNorm, RmsNormConfig, SwiGlu, SwiGluConfig,
};
use burn::tensor::activation::softmax;
use burn::tensor::{Bool, Device, Int, Tensor};

/// Sizes of the model.
#[derive(Clone, Copy, Debug)]
pub struct LlamaConfig {
    /// Vocabulary size.
    pub vocab: usize,
    /// Model width.
    pub d_model: usize,
    /// MLP width.
    pub d_ff: usize,
    /// Attention heads.
    pub heads: usize,
    /// Decoder layers.
    pub layers: usize,
}

/// Llama-2-7B's sizes.
pub const LLAMA_2_7B: LlamaConfig = LlamaConfig {
    vocab: 32000,
    d_model: 4096,
    d_ff: 11008,
    heads: 32,
    layers: 32,
};

fn linear(d_in: usize, d_out: usize, device: &Device) -> Linear {
    LinearConfig::new(d_in, d_out).with_bias(false).init(device)
}

/// Causal self-attention with bias-free projections.
#[derive(Module, Debug)]
pub struct Attention {
    wq: Linear,
    wk: Linear,
    wv: Linear,
    wo: Linear,
    heads: usize,
}

impl Attention {
    fn forward(&self, x: Tensor<3>, mask: Tensor<4, Bool>) -> Tensor<3> {
        let [batch, len, width] = x.dims();
        let d_head = width / self.heads;
        let split = |t: Tensor<3>| t.reshape([batch, len, self.heads, d_head]).swap_dims(1, 2);
        let q = split(self.wq.forward(x.clone()));
        let k = split(self.wk.forward(x.clone()));
        let v = split(self.wv.forward(x));
        let scores = q.matmul(k.transpose()).div_scalar((d_head as f64).sqrt());
        let scores = scores.mask_fill(mask, f32::NEG_INFINITY);
        let context = softmax(scores, 3).matmul(v);
        self.wo
            .forward(context.swap_dims(1, 2).reshape([batch, len, width]))
    }
}

/// `SwiGlu` feed-forward: `down(silu(gate(x)) · up(x))`.
#[derive(Module, Debug)]
pub struct FeedForward {
    swiglu: SwiGlu,
    down: Linear,
}

/// One decoder layer.
#[derive(Module, Debug)]
pub struct Layer {
    attention_norm: RmsNorm,
    attention: Attention,
    ffn_norm: RmsNorm,
    feed_forward: FeedForward,
}

/// The model.
#[derive(Module, Debug)]
pub struct Llama {
    tok_embeddings: Embedding,
    layers: Vec<Layer>,
    norm: RmsNorm,
    output: Linear,
}

impl Llama {
    /// A model of the given sizes.
    pub fn new(c: &LlamaConfig, device: &Device) -> Llama {
        let layers = (0..c.layers)
            .map(|_| Layer {
                attention_norm: RmsNormConfig::new(c.d_model).init(device),
                attention: Attention {
                    wq: linear(c.d_model, c.d_model, device),
                    wk: linear(c.d_model, c.d_model, device),
                    wv: linear(c.d_model, c.d_model, device),
                    wo: linear(c.d_model, c.d_model, device),
                    heads: c.heads,
                },
                ffn_norm: RmsNormConfig::new(c.d_model).init(device),
                feed_forward: FeedForward {
                    swiglu: SwiGluConfig::new(c.d_model, c.d_ff).init(device),
                    down: linear(c.d_ff, c.d_model, device),
                },
            })
            .collect();
        Llama {
            tok_embeddings: EmbeddingConfig::new(c.vocab, c.d_model).init(device),
            layers,
            norm: RmsNormConfig::new(c.d_model).init(device),
            output: linear(c.d_model, c.vocab, device),
        }
    }

    /// Logits `[batch, len, vocab]` for token ids `[batch, len]`.
    pub fn forward(&self, tokens: Tensor<2, Int>) -> Tensor<3> {
        let [batch, len] = tokens.dims();
        let device = tokens.device();
        // Future positions are masked out.
        let mask = Tensor::<2, Bool>::tril_mask([len, len], 0, &device)
            .unsqueeze::<4>()
            .expand([batch, 1, len, len]);
        // `tabulate_burn::call` marks exact call boundaries (burn 0.22 has no forward hooks):
        // RMSNorm computes its statistics before reading its scale, SwiGLU multiplies after
        // its last projection, a layer adds its residual after its last parameter read.
        let norm = |n: &RmsNorm, x: Tensor<3>| tabulate_burn::call(n, || n.forward(x));
        let mut x = self.tok_embeddings.forward(tokens);
        for layer in &self.layers {
            x = tabulate_burn::call(layer, || {
                let h = layer
                    .attention
                    .forward(norm(&layer.attention_norm, x.clone()), mask.clone());
                let x = x + h;
                let f = &layer.feed_forward;
                let normed = norm(&layer.ffn_norm, x.clone());
                let gated = tabulate_burn::call(&f.swiglu, || f.swiglu.forward(normed));
                x + f.down.forward(gated)
            });
        }
        self.output.forward(norm(&self.norm, x))
    }
}

/// Summarises the Llama-2-7B-sized model on one sequence of 2048 tokens.
pub fn summary() -> Result<tabulate::Summary, tabulate_burn::Error> {
    tabulate_burn::summarize(
        |device| Llama::new(&LLAMA_2_7B, device),
        |model: &Llama, inputs| model.forward(inputs.int([1, 2048])),
    )
}

#[allow(dead_code)] // the tests include this file for its model
fn main() -> Result<(), tabulate_burn::Error> {
    let start = std::time::Instant::now();
    let summary = summary()?;
    let elapsed = start.elapsed();
    print!("{summary}");
    println!("Summarised in {:.1} ms.", elapsed.as_secs_f64() * 1e3);
    Ok(())
}
