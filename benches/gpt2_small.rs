//! Time to tabulate GPT-2 small (124M parameters, 1024 tokens) with both FLOP columns:
//! trace, both cost programs of every row, and rendering; without FLOP columns, rendered;
//! and the trace alone. Flax takes 9.29 s for the same
//! table (`golden/flax-timings.json`).

use criterion::{Criterion, criterion_group, criterion_main};
use tabulate::RenderOptions;
use tabulate::prelude::*;

#[path = "../examples/gpt2_small.rs"]
#[allow(dead_code, unreachable_pub)] // the example's model, without its `main`
mod gpt2_small;

fn tabulate_gpt2_small(c: &mut Criterion) {
    let model = gpt2_small::GPT2::default();
    let tokens = Tensor::new(DType::I32, [1, 1024]);
    let mut group = c.benchmark_group("gpt2_small");
    group.sample_size(20);
    group.bench_function("summary with flops and vjp_flops", |b| {
        b.iter(|| {
            let summary = tabulate(&model)
                .compute_flops(true)
                .compute_vjp_flops(true)
                .run(|m| m.forward(&tokens))
                .expect("runs");
            summary.render(&RenderOptions::new().width(200))
        });
    });
    group.bench_function("summary without flops", |b| {
        b.iter(|| {
            let summary = tabulate(&model).run(|m| m.forward(&tokens)).expect("runs");
            summary.render(&RenderOptions::new().width(200))
        });
    });
    group.bench_function("trace only (no flops)", |b| {
        b.iter(|| tabulate(&model).run(|m| m.forward(&tokens)).expect("runs"));
    });
    group.finish();
}

criterion_group!(benches, tabulate_gpt2_small);
criterion_main!(benches);
