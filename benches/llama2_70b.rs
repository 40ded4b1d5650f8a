//! Time to tabulate Llama-2-70B (80 layers, grouped-query attention written from `Tensor`
//! ops) on 4096 tokens with both FLOP columns, render included.

use criterion::{Criterion, criterion_group, criterion_main};
use tabulate::RenderOptions;
use tabulate::prelude::*;

#[path = "../examples/llama2_70b.rs"]
#[allow(dead_code, unreachable_pub)] // the example's model, without its `main`
mod llama2_70b;

fn tabulate_llama2_70b(c: &mut Criterion) {
    let model = llama2_70b::Llama::llama2_70b();
    let tokens = Tensor::new(DType::I32, [1, 4096]);
    let mut group = c.benchmark_group("llama2_70b");
    group.sample_size(10);
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
    group.finish();
}

criterion_group!(benches, tabulate_llama2_70b);
criterion_main!(benches);
