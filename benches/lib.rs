//! Criterion benchmarks of `tabulate`, in `benches/*.rs` beside this file:
//! `cargo bench -p tabulate-benches --bench gpt2_small` (also `llama2_70b`, `scaling`).
//! The library itself is empty; it exists because a package needs a target of its own.
