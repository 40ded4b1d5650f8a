//! Every column beyond Flax's on a small MLP (`Dense(4)`, `relu`, `Dense(2)` on
//! `float32[16, 9]`), with the first layer frozen, the trainable split, the memory
//! estimate of an Adam step and the per-operator table; then the same summary compact
//! with chosen columns, as Markdown and as CSV.
//!
//! `cargo run --example beyond_flax`

use tabulate::nn::{Dense, relu};
use tabulate::prelude::*;
use tabulate::{Column, Frozen, Metric, RenderOptions};

/// `Dense(4)`, `relu`, `Dense(2)`.
#[derive(Tabulate)]
pub struct Mlp;

impl Mlp {
    /// The two layers with a `relu` between them (the root's own operation).
    #[forward]
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let h = relu(&Dense::new(4).forward(x)?)?;
        Dense::new(2).forward(&h)
    }
}

fn main() -> tabulate::Result<()> {
    let x = Tensor::new(DType::F32, [16, 9]);
    let summary = tabulate(&Mlp)
        .metrics(Metric::ALL)
        .frozen(Frozen::new(["Dense_0/**"]))
        .trainable(true)
        .estimate_memory(true)
        .operators(true)
        .run(|m| m.forward(&x))?;
    print!("{}", summary.render(&RenderOptions::new()));
    let compact = RenderOptions::new().compact(true).columns([
        Column::Path,
        Column::Outputs,
        Column::Metric(Metric::Macs),
        Column::Metric(Metric::SelfFlops),
        Column::Collections,
    ]);
    print!("{}", summary.render(&compact));
    println!("{}", summary.to_markdown());
    print!("{}", summary.to_csv());
    Ok(())
}
