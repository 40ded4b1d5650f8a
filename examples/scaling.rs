//! Models whose size is a parameter, to measure how the summary scales: `siblings N` is a
//! `Vec<Dense>` of N layers called one after another (N sibling calls); `deep N` is N
//! modules each calling the one it holds (nesting N deep).
//!
//! `cargo run --release --example scaling -- siblings 100000 [flops]` prints the time
//! each stage takes and the table's size.

use std::sync::Arc;

use tabulate::nn::Dense;
use tabulate::prelude::*;

/// `N` dense layers applied in sequence: N sibling calls named `layers_0` … `layers_{N-1}`.
#[derive(Tabulate)]
pub struct Stack {
    /// The layers.
    pub layers: Vec<Dense>,
}

impl Stack {
    /// A stack of `n` layers of width `width`.
    pub fn new(n: usize, width: usize) -> Stack {
        Stack {
            layers: (0..n).map(|_| Dense::new(width)).collect(),
        }
    }

    /// Each layer on the output of the one before.
    #[forward]
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let mut x = x.clone();
        for layer in &self.layers {
            x = layer.forward(&x)?;
        }
        Ok(x)
    }
}

/// A module holding the next one: a chain `N` deep (`inner/inner/…`).
#[derive(Tabulate)]
pub struct Nest {
    /// The module one level deeper, if any. (`Arc`, not `Box`: a `Box` field is visited as
    /// the box, whose address is not the module's, so its calls would be named `Nest_0`.)
    pub inner: Option<Arc<Nest>>,
}

impl Nest {
    /// A chain of `depth` modules.
    pub fn new(depth: usize) -> Nest {
        let mut nest = Nest { inner: None };
        for _ in 1..depth {
            nest = Nest {
                inner: Some(Arc::new(nest)),
            };
        }
        nest
    }

    /// Calls the inner module, then adds one.
    #[forward]
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let x = match &self.inner {
            Some(inner) => inner.forward(x)?,
            None => x.clone(),
        };
        x.add(1.0)
    }
}

impl Drop for Nest {
    /// Unlinks the chain iteratively: a recursive drop of a chain this deep would overflow
    /// the stack.
    fn drop(&mut self) {
        let mut next = self.inner.take();
        while let Some(nest) = next {
            next = Arc::try_unwrap(nest).ok().and_then(|mut n| n.inner.take());
        }
    }
}

#[allow(dead_code)] // the benches include this file for the models only
fn main() -> tabulate::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let kind = args.first().map_or("siblings", String::as_str);
    let n: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(1000);
    let flops = args.iter().any(|a| a == "flops");
    let x = Tensor::new(DType::F32, [1, 4]);
    let start = std::time::Instant::now();
    let summary = if kind == "deep" {
        let nest = Nest::new(n);
        // The user's own recursion needs a stack proportional to the depth.
        std::thread::scope(|s| {
            std::thread::Builder::new()
                .stack_size(n * 16 * 1024 + (1 << 20))
                .spawn_scoped(s, || {
                    tabulate(&nest)
                        .compute_flops(flops)
                        .compute_vjp_flops(flops)
                        .run(|m| m.forward(&x))
                })
                .expect("spawns")
                .join()
                .expect("no panic")
        })?
    } else {
        let stack = Stack::new(n, 4);
        tabulate(&stack)
            .compute_flops(flops)
            .compute_vjp_flops(flops)
            .run(|m| m.forward(&x))?
    };
    let summarised = start.elapsed();
    let start = std::time::Instant::now();
    let text = summary.render(&tabulate::RenderOptions::new().width(200));
    let rendered = start.elapsed();
    eprintln!(
        "{kind} {n}{}: summary {:.3} s, render {:.3} s, {} rows, {} bytes",
        if flops { " flops" } else { "" },
        summarised.as_secs_f64(),
        rendered.as_secs_f64(),
        summary.rows.len(),
        text.len()
    );
    Ok(())
}
