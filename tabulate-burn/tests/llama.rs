//! A Llama-2-7B-sized burn model (27 GB of float32 weights) summarises without allocating
//! its weights, as a `tabulate::Summary`.

#[path = "../examples/llama_7b.rs"]
#[allow(unreachable_pub)] // the examples export their models
mod llama_7b;

#[test]
fn llama_2_7b_summarises_without_weight_memory() {
    let s = llama_7b::summary().unwrap();
    // Llama-2-7B's published parameter count, which is also burn's `num_params()`.
    assert_eq!(s.total().count, 6_738_415_616);
    assert_eq!(s.total().bytes, 4 * 6_738_415_616);
    // The only tensors with data: the causal mask's row and column indices, 2048 × i64.
    assert!(
        s.notes[0].ends_with("2 tensors held data (32768 bytes)."),
        "{}",
        s.notes[0]
    );
    assert!(
        s.notes[0].contains("(burn's num_params: 6738415616)"),
        "{}",
        s.notes[0]
    );

    let row = |path: &str| {
        s.rows
            .iter()
            .find(|r| r.path.join("/") == path)
            .unwrap_or_else(|| panic!("no row `{path}`"))
    };
    // A bias-free 4096 → 4096 projection of 2048 tokens: 2·2048·4096·4096.
    assert_eq!(
        row("layers_0/attention/wq").flops(),
        Some(2 * 2048 * 4096 * 4096)
    );
    // Marked calls (`tabulate_burn::call` in the example): RMSNorm's row holds its
    // statistics too: x² (`integer_pow`, n), mean (reduce n − r, div r), + ε (r),
    // x / rms (n), × scale (n); sqrt is transcendental.
    let n = 2048 * 4096;
    assert_eq!(row("layers_0/attention_norm").flops(), Some(4 * n + 2048));
    // Every layer is one marked call whose row ends after its residual add.
    let layers: Vec<_> = s
        .rows
        .iter()
        .filter(|r| r.path.len() == 1 && r.path.segments()[0].starts_with("layers_"))
        .collect();
    assert_eq!(layers.len(), 32);
    let last = match &row("layers_31").outputs {
        tabulate::Value::Array { shape, .. } => shape.dims().to_vec(),
        other => panic!("one output expected, got {other:?}"),
    };
    assert_eq!(last, [1, 2048, 4096]);
}
