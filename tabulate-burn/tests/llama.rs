//! A Llama-2-7B-sized burn model (27 GB of float32 weights) summarises without allocating
//! its weights.

#[path = "../examples/llama_7b.rs"]
#[allow(unreachable_pub)] // the examples export their models
mod llama_7b;

#[test]
fn llama_2_7b_summarises_without_weight_memory() {
    let s = llama_7b::summary().unwrap();
    // Llama-2-7B's published parameter count.
    assert_eq!(s.total_params, 6_738_415_616);
    assert_eq!(s.burn_num_params, 6_738_415_616);
    assert_eq!(s.total_param_bytes, 4 * 6_738_415_616);
    // The only tensors with data: the causal mask's row and column indices, 2048 × i64.
    assert_eq!(s.stored_values, 2);
    assert_eq!(s.stored_bytes, 2 * 2048 * 8);

    let row = |path: &str| {
        s.rows
            .iter()
            .find(|r| r.path_string() == path)
            .unwrap_or_else(|| panic!("no row `{path}`"))
    };
    // A bias-free 4096 → 4096 projection of 2048 tokens: 2·2048·4096·4096.
    assert_eq!(
        row("layers.0.attention.wq").cost.flops,
        2 * 2048 * 4096 * 4096
    );
    assert_eq!(row("output").cost.macs, 2048 * 4096 * 32000);
    // Marked calls (`tabulate_burn::call` in the example): RMSNorm's row holds its
    // statistics too: x² (`integer_pow`, n), mean (reduce n − r, div r), + ε (r),
    // sqrt (r transcendentals), x / rms (n), × scale (n).
    let n = 2048 * 4096;
    let norm = row("layers.0.attention_norm");
    assert_eq!(norm.cost.flops, 4 * n + 2048);
    assert_eq!(norm.cost.transcendentals, 2048);
    // A layer's row ends after its residual add: one output.
    assert_eq!(row("layers.31").outputs.len(), 1);
    assert_eq!(row("layers.31").outputs[0].shape, [1, 2048, 4096]);
    assert_eq!(s.rows[0].outputs[0].shape, [1, 2048, 32000]);
    // Every layer is one marked call.
    assert_eq!(
        s.rows
            .iter()
            .filter(|r| r.path.len() == 2 && r.path[0] == "layers")
            .count(),
        32
    );
}
