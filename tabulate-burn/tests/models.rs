//! The burn adapter on real burn models: shapes, parameter counts (against burn's own
//! `num_params()`), FLOPs of single layers against the primitives' rules worked by hand,
//! and what cannot be summarised.

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use tabulate_burn::{BurnSummary, ErrorKind, Row, TensorSpec};

#[path = "../examples/resnet.rs"]
#[allow(unreachable_pub)] // the examples export their models
mod resnet;
#[path = "../examples/transformer.rs"]
#[allow(unreachable_pub)] // the examples export their models
mod transformer;

fn row<'a>(s: &'a BurnSummary, path: &str) -> &'a Row {
    s.rows
        .iter()
        .find(|r| r.path_string() == path && r.call_index == 0)
        .unwrap_or_else(|| panic!("no row `{path}` in\n{s}"))
}

/// Flax 0.12.8's FLOPs for the Flax layer a burn layer is costed as
/// (`scripts/burn_flax_flops.py`).
fn flax(case: &str) -> u64 {
    let json: serde_json::Value =
        serde_json::from_str(include_str!("flax_flops.json")).expect("valid JSON");
    json[case]
        .as_u64()
        .unwrap_or_else(|| panic!("no case `{case}`"))
}

fn shapes(specs: &[TensorSpec]) -> Vec<Vec<usize>> {
    specs.iter().map(|s| s.shape.clone()).collect()
}

/// Flax's documented example: `Dense(4)` on `f32[16, 9]` costs 1216 flops
/// (2·16·9·4 for the dot, 16·4 for the bias add). burn's `Linear` must cost the same.
#[test]
fn linear_costs_what_flax_dense_costs() {
    let s = tabulate_burn::summarize(
        |device| LinearConfig::new(9, 4).init(device),
        |m: &Linear, inputs| m.forward(inputs.float([16, 9])),
    )
    .unwrap();
    assert_eq!(s.rows.len(), 1, "{s}");
    let root = &s.rows[0];
    assert_eq!(root.cost.flops, 1216);
    assert_eq!(root.cost.macs, 16 * 9 * 4);
    assert_eq!(shapes(&root.inputs), vec![vec![16, 9]]);
    assert_eq!(shapes(&root.outputs), vec![vec![16, 4]]);
    assert_eq!(s.total_params, 40);
    assert_eq!(s.burn_num_params, 40);
    assert_eq!(s.stored_values, 0);
    assert!(s.not_costed.is_empty(), "{s}");
}

#[test]
fn resnet_rows_shapes_params_and_flops() {
    let s = resnet::summary().unwrap();
    assert_eq!(s.total_params, s.burn_num_params);
    // ResNet-18 (CIFAR stem): 11,173,962 trainable parameters, plus BatchNorm's running
    // mean and variance (burn counts them): 2 × 4800 channels.
    assert_eq!(s.burn_num_params, 11_173_962 + 2 * 4_800);
    assert_eq!(s.stored_values, 0, "no weight memory");

    let root = &s.rows[0];
    assert_eq!(root.path_string(), "");
    assert_eq!(root.module_type.as_deref(), Some("ResNet"));
    assert_eq!(shapes(&root.inputs), vec![vec![8, 3, 32, 32]]);
    assert_eq!(shapes(&root.outputs), vec![vec![8, 10]]);

    let stem = row(&s, "stem");
    assert_eq!(stem.module_type.as_deref(), Some("Conv2d"));
    assert_eq!(stem.subtree_params, 3 * 64 * 9);
    assert_eq!(shapes(&stem.outputs), vec![vec![8, 64, 32, 32]]);
    // conv_general_dilated counts only taps that read real input: with padding 1, each
    // spatial dim has 31 + 32 + 31 = 94 (output, tap) pairs; 2·3·64·8·94² flops.
    assert_eq!(stem.cost.flops, 2 * 3 * 64 * 8 * 94 * 94);
    assert_eq!(stem.cost.flops, flax("conv_3_64_k3_p1_on_8x32x32x3"));

    // Batch norm with running statistics, Flax's `_normalize`: sub, mul, add per element
    // (3·n) and add ε, mul scale per channel (2·C); rsqrt per channel is transcendental.
    let bn = row(&s, "stem_bn");
    let n = 8 * 64 * 32 * 32;
    assert_eq!(bn.cost.flops, 3 * n + 2 * 64);
    assert_eq!(bn.cost.flops, flax("batchnorm_64_on_8x32x32x64"));
    assert_eq!(bn.cost.transcendentals, 64);
    assert_eq!(bn.subtree_params, 4 * 64);

    // The example marks each block's call, so its row ends after the residual add and relu.
    let down = row(&s, "layers.2");
    assert_eq!(down.module_type.as_deref(), Some("BasicBlock"));
    assert_eq!(shapes(&down.inputs), vec![vec![8, 64, 32, 32]]);
    assert_eq!(shapes(&down.outputs), vec![vec![8, 128, 16, 16]]);
    let children: u64 = ["downsample", "conv1", "bn1", "conv2", "bn2"]
        .iter()
        .map(|c| row(&s, &format!("layers.2.{c}")).cost.flops)
        .sum();
    // Plus relu after bn1, the residual add and the final relu: one flop per element each.
    assert_eq!(down.cost.flops, children + 3 * 8 * 128 * 16 * 16);
    let shortcut = row(&s, "layers.2.downsample.conv");
    assert_eq!(shortcut.subtree_params, 64 * 128);
    assert_eq!(shapes(&shortcut.outputs), vec![vec![8, 128, 16, 16]]);
    // A 1×1 stride-2 convolution reads every tap: 2·64·128·8·16².
    assert_eq!(shortcut.cost.flops, 2 * 64 * 128 * 8 * 16 * 16);
    let block = row(&s, "layers.3");
    assert_eq!(shapes(&block.inputs), vec![vec![8, 128, 16, 16]]);
    assert_eq!(shapes(&block.outputs), vec![vec![8, 128, 16, 16]]);

    // Linear 512 → 10 on [8, 512]: 2·8·512·10 + 8·10.
    let fc = row(&s, "fc");
    assert_eq!(fc.cost.flops, 2 * 8 * 512 * 10 + 8 * 10);
    assert_eq!(fc.cost.flops, flax("dense_512_10_on_8x512"));
    assert_eq!(shapes(&fc.inputs), vec![vec![8, 512]]);

    // The root's cost is the sum over every recorded op; rows are listed in call order.
    let calls: Vec<String> = s.rows.iter().take(4).map(Row::path_string).collect();
    assert_eq!(calls, ["", "stem", "stem_bn", "layers.0"]);
    // Parameter-free modules have no row and are listed.
    assert!(s.parameter_free.iter().any(|u| u.path == "relu"), "{s}");
    assert!(s.parameter_free.iter().any(|u| u.path == "pool"), "{s}");
}

#[test]
fn transformer_rows_shapes_params_and_flops() {
    let s = transformer::summary().unwrap();
    assert_eq!(s.total_params, s.burn_num_params);
    let d = 128u64;
    let block = 2 * 2 * d + 4 * (d * d + d) + (d * 4 * d + 4 * d) + (4 * d * d + d);
    assert_eq!(
        s.burn_num_params,
        1000 * d + 64 * d + 4 * block + 2 * d + d * 1000
    );
    // No weight memory: the only tensors holding data are index ranges built on the host,
    // `arange(0..64)` for the positions and two per causal mask (`tril_mask`'s row and
    // column indices), 64 × i64 each.
    assert_eq!(s.stored_values, 1 + 2 * 4);
    assert_eq!(s.stored_bytes, 9 * 64 * 8);

    let root = &s.rows[0];
    assert_eq!(shapes(&root.inputs), vec![vec![2, 64]]);
    assert_eq!(root.inputs[0].dtype, burn::tensor::DType::I64);
    assert_eq!(shapes(&root.outputs), vec![vec![2, 64, 1000]]);

    let b0 = row(&s, "blocks.0");
    assert_eq!(shapes(&b0.inputs)[0], vec![2, 64, 128]);
    assert_eq!(row(&s, "blocks.0.attn").subtree_params, 4 * (d * d + d));
    assert_eq!(row(&s, "tok_emb").subtree_params, 1000 * d);

    // burn's variance is `mean((x − mean)²)`: Flax's `LayerNorm(use_fast_variance=False)`.
    // Stats 4n (mean, sub, square, mean), then sub n, + ε r, × scale n (per-row statistics
    // broadcast against the per-feature scale), × n, + bias n; 128 rsqrt.
    let ln = row(&s, "blocks.0.ln1");
    assert_eq!(ln.cost.flops, 8 * (2 * 64 * 128) + 2 * 64);
    assert_eq!(ln.cost.flops, flax("layernorm_slow_variance_on_2x64x128"));
    assert_eq!(ln.cost.transcendentals, 128);

    // Linear 128 → 512 on [2, 64, 128]: 2·128·128·512 + 128·512.
    let fc = row(&s, "blocks.0.mlp.fc");
    assert_eq!(fc.cost.flops, 2 * 128 * 128 * 512 + 128 * 512);
    // Head without bias: 2·(2·64)·128·1000.
    assert_eq!(row(&s, "head").cost.flops, 2 * 128 * 128 * 1000);
    // Every block is one call.
    assert_eq!(
        s.rows
            .iter()
            .filter(|r| r.path_string() == "blocks.3")
            .count(),
        1
    );
}

#[derive(Module, Debug)]
struct ReadsValues {
    fc: Linear,
}

#[test]
fn reading_values_is_an_error_naming_the_stage() {
    let err = tabulate_burn::summarize(
        |device| ReadsValues {
            fc: LinearConfig::new(4, 2).init(device),
        },
        |m: &ReadsValues, inputs| {
            let y = m.fc.forward(inputs.float([3, 4]));
            let _ = y.clone().into_data();
            y
        },
    )
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Panicked);
    assert!(
        err.to_string()
            .starts_with("the forward pass panicked on the capture device")
    );
}

#[test]
fn a_shape_mismatch_is_an_error() {
    let err = tabulate_burn::summarize(
        |device| LinearConfig::new(4, 2).init(device),
        |m: &Linear, inputs| m.forward(inputs.float([3, 5])),
    )
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Panicked);
}

#[test]
fn uncosted_operations_are_listed_with_their_row() {
    let s = tabulate_burn::summarize(
        |device| LinearConfig::new(4, 2).init(device),
        |m: &Linear, inputs| m.forward(inputs.float([3, 4])).cumsum(1),
    )
    .unwrap();
    assert_eq!(s.not_costed.len(), 1, "{s}");
    assert_eq!(s.not_costed[0].name, "Float::CumSum");
    assert_eq!(s.not_costed[0].count, 1);
    assert_eq!(s.not_costed[0].rows, [""]);
    assert_eq!(s.rows[0].not_costed, 1);
    assert!(
        s.to_string()
            .contains("Not costed: Float::CumSum ×1 (in <model>)")
    );
}

#[test]
fn a_layer_applied_twice_is_two_calls() {
    #[derive(Module, Debug)]
    struct Twice {
        fc: Linear,
    }
    let s = tabulate_burn::summarize(
        |device| Twice {
            fc: LinearConfig::new(4, 4).init(device),
        },
        |m: &Twice, inputs| m.fc.forward(m.fc.forward(inputs.float([2, 4]))),
    )
    .unwrap();
    let calls: Vec<usize> = s
        .rows
        .iter()
        .filter(|r| r.path_string() == "fc")
        .map(|r| r.call_index)
        .collect();
    assert_eq!(calls, [0, 1], "{s}");
    assert_eq!(s.rows[0].cost.flops, 2 * (2 * 2 * 4 * 4 + 2 * 4));
}

#[derive(Module, Debug)]
struct Mlp {
    fc1: Linear,
    fc2: Linear,
    act: burn::nn::Relu,
}

impl Mlp {
    fn forward(&self, x: burn::tensor::Tensor<2>) -> burn::tensor::Tensor<2> {
        self.act
            .forward(self.fc2.forward(self.act.forward(self.fc1.forward(x))))
    }
}

#[derive(Module, Debug)]
struct Residual {
    mlp: Mlp,
}

fn residual(device: &burn::tensor::Device) -> Residual {
    Residual {
        mlp: Mlp {
            fc1: LinearConfig::new(8, 16).init(device),
            fc2: LinearConfig::new(16, 8).init(device),
            act: burn::nn::Relu::new(),
        },
    }
}

/// Without marks a call ends at its last parameter read: the MLP's final relu counts in
/// the parent row. Marked with `tabulate_burn::call`, the row holds all of it.
#[test]
fn marked_calls_have_exact_boundaries() {
    let linears = (2 * 4 * 8 * 16 + 4 * 16) + (2 * 4 * 16 * 8 + 4 * 8);
    let relus = 4 * 16 + 4 * 8;

    let dataflow = tabulate_burn::summarize(residual, |m: &Residual, inputs| {
        let x = inputs.float([4, 8]);
        x.clone() + m.mlp.forward(x)
    })
    .unwrap();
    assert_eq!(row(&dataflow, "mlp").cost.flops, linears + 4 * 16);
    assert_eq!(dataflow.rows[0].cost.flops, linears + relus + 4 * 8);

    let marked = tabulate_burn::summarize(residual, |m: &Residual, inputs| {
        let x = inputs.float([4, 8]);
        x.clone() + tabulate_burn::call(&m.mlp, || m.mlp.forward(x))
    })
    .unwrap();
    let mlp = row(&marked, "mlp");
    assert_eq!(mlp.cost.flops, linears + relus);
    assert_eq!(shapes(&mlp.outputs), vec![vec![4, 8]]);
    assert_eq!(marked.rows[0].cost.flops, linears + relus + 4 * 8);
    // Marker ops are not part of the forward pass.
    assert_eq!(marked.forward_ops, dataflow.forward_ops);
}
