//! How the summary scales with the number of calls: a `Vec<Dense>` of 1k, 10k and 100k
//! layers (sibling calls) and a chain of modules 1k and 10k deep, without FLOP columns,
//! render included; then both FLOP columns on 1k and 10k siblings and 100 and 300 deep.
//! Linear cost means ten times the calls take about ten times as long.

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use tabulate::RenderOptions;
use tabulate::prelude::*;

#[path = "../examples/scaling.rs"]
#[allow(dead_code, unreachable_pub)] // the example's models, without its `main`
mod scaling;

fn siblings(c: &mut Criterion) {
    let x = Tensor::new(DType::F32, [1, 4]);
    let mut group = c.benchmark_group("siblings");
    group.sample_size(10);
    for n in [1_000, 10_000, 100_000] {
        let stack = scaling::Stack::new(n, 4);
        group.bench_with_input(BenchmarkId::from_parameter(n), &stack, |b, stack| {
            b.iter(|| {
                let summary = tabulate(stack).run(|m| m.forward(&x)).expect("runs");
                summary.render(&RenderOptions::new().width(200))
            });
        });
    }
    group.finish();
}

fn nesting(c: &mut Criterion) {
    let x = Tensor::new(DType::F32, [1, 4]);
    let mut group = c.benchmark_group("nesting");
    group.sample_size(10);
    for n in [1_000, 10_000] {
        let nest = scaling::Nest::new(n);
        group.bench_with_input(BenchmarkId::from_parameter(n), &nest, |b, nest| {
            b.iter(|| {
                let summary = tabulate(nest).run(|m| m.forward(&x)).expect("runs");
                summary.render(&RenderOptions::new().width(200))
            });
        });
    }
    group.finish();
}

/// Both FLOP columns: identical sibling programs are costed once (the memo), so siblings
/// stay linear. A nested row's program holds its whole subtree, and the rows of a chain of
/// distinct depths share no program to reuse (composition pays only for repeated
/// children, `Compose::worth_composing`), so with FLOP columns a chain costs depth
/// squared: 100 → 300 deep took 4.2 → 32 ms on 2026-12-02 (7.7×).
fn with_flops(c: &mut Criterion) {
    let x = Tensor::new(DType::F32, [1, 4]);
    let mut group = c.benchmark_group("with_flops");
    group.sample_size(10);
    for n in [1_000, 10_000] {
        let stack = scaling::Stack::new(n, 4);
        group.bench_with_input(BenchmarkId::new("siblings", n), &stack, |b, stack| {
            b.iter(|| {
                let summary = tabulate(stack)
                    .compute_flops(true)
                    .compute_vjp_flops(true)
                    .run(|m| m.forward(&x))
                    .expect("runs");
                summary.render(&RenderOptions::new().width(200))
            });
        });
    }
    for n in [100, 300] {
        let nest = scaling::Nest::new(n);
        group.bench_with_input(BenchmarkId::new("nesting", n), &nest, |b, nest| {
            b.iter(|| {
                let summary = tabulate(nest)
                    .compute_flops(true)
                    .compute_vjp_flops(true)
                    .run(|m| m.forward(&x))
                    .expect("runs");
                summary.render(&RenderOptions::new().width(200))
            });
        });
    }
    group.finish();
}

criterion_group!(benches, siblings, nesting, with_flops);
criterion_main!(benches);
