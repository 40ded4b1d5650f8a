//! The burn adapter on real burn models: the replay yields `tabulate::Summary` rows with
//! shapes, parameters (against burn's own `num_params()`) and FLOPs of single layers
//! against real Flax numbers (`tests/flax_flops.json`, from `scripts/burn_flax_flops.py`).

use burn::nn::{Linear, LinearConfig};
use tabulate::{Row, Summary, Value};
use tabulate_burn::ErrorKind;

#[path = "../examples/resnet.rs"]
#[allow(unreachable_pub, dead_code)] // the examples export their models
mod resnet;
#[path = "../examples/transformer.rs"]
#[allow(unreachable_pub, dead_code)] // the examples export their models
mod transformer;

fn row<'a>(s: &'a Summary, path: &str) -> &'a Row {
    s.rows
        .iter()
        .find(|r| r.path.join("/") == path)
        .unwrap_or_else(|| panic!("no row `{path}` in\n{s}"))
}

/// Flax 0.12.8's FLOPs for the Flax layer a burn layer maps onto.
fn flax(case: &str) -> u64 {
    let json: serde_json::Value =
        serde_json::from_str(include_str!("flax_flops.json")).expect("valid JSON");
    json[case]
        .as_u64()
        .unwrap_or_else(|| panic!("no case `{case}`"))
}

/// The shapes of a row's inputs or outputs (one array, or a list of them).
fn shapes(v: &Value) -> Vec<Vec<usize>> {
    match v {
        Value::Array { shape, .. } => vec![shape.dims().to_vec()],
        Value::Sequence { items } => items.iter().flat_map(shapes).collect(),
        _ => Vec::new(),
    }
}

/// Parameters a row counts (its own and its submodules').
fn params(r: &Row) -> u64 {
    r.variables.iter().map(|v| v.counted.count).sum()
}

fn own_params(r: &Row) -> u64 {
    r.variables
        .iter()
        .flat_map(|v| &v.own)
        .map(|l| l.shape.dims().iter().map(|&d| d as u64).product::<u64>())
        .sum()
}

fn not_mapped(s: &Summary) -> Vec<&String> {
    s.notes
        .iter()
        .filter(|n| n.starts_with("Not mapped"))
        .collect()
}

/// Flax's documented example: `Dense(4)` on `f32[16, 9]` costs 1216 flops and 3620 VJP
/// flops; burn's `Linear` replays as the same primitives.
#[test]
fn linear_costs_what_flax_dense_costs() {
    let s = tabulate_burn::summarize(
        |device| LinearConfig::new(9, 4).init(device),
        |m: &Linear, inputs| m.forward(inputs.float([16, 9])),
    )
    .unwrap();
    assert_eq!(s.rows.len(), 1, "{s}");
    let root = &s.rows[0];
    assert_eq!(root.module_type, "Linear");
    assert_eq!(root.flops(), Some(1216));
    assert_eq!(root.vjp_flops(), Some(3620));
    assert_eq!(shapes(&root.inputs), vec![vec![16, 9]]);
    assert_eq!(shapes(&root.outputs), vec![vec![16, 4]]);
    assert_eq!(s.total().count, 40);
    assert!(not_mapped(&s).is_empty(), "{s}");
}

/// Every column works: MACs from the primitives' rule.
#[test]
fn other_columns_work_unchanged() {
    let s = tabulate_burn::summarize_with(
        |t| t.compute_macs(true),
        |device| LinearConfig::new(9, 4).init(device),
        |m: &Linear, inputs| m.forward(inputs.float([16, 9])),
    )
    .unwrap();
    assert_eq!(s.rows[0].macs(), Some(16 * 9 * 4));
}

#[test]
fn resnet_rows_shapes_params_and_flops() {
    let s = resnet::summary().unwrap();
    let burn = tabulate_burn::num_params(|device| resnet::ResNet::new(10, device)).unwrap();
    // ResNet-18 (CIFAR stem): 11,173,962 trainable parameters, plus BatchNorm's running
    // mean and variance (burn counts them): 2 × 4800 channels.
    assert_eq!(burn, 11_173_962 + 2 * 4_800);
    assert_eq!(s.total().count, burn as u64);
    let own: u64 = s.rows.iter().map(own_params).sum();
    assert_eq!(own, burn as u64);

    let root = &s.rows[0];
    assert!(root.path.is_empty());
    assert_eq!(root.module_type, "ResNet");
    assert_eq!(shapes(&root.inputs), vec![vec![8, 3, 32, 32]]);
    assert_eq!(shapes(&root.outputs), vec![vec![8, 10]]);

    let stem = row(&s, "stem");
    assert_eq!(stem.module_type, "Conv2d");
    assert_eq!(params(stem), 3 * 64 * 9);
    assert_eq!(shapes(&stem.outputs), vec![vec![8, 64, 32, 32]]);
    assert_eq!(stem.flops(), Some(flax("conv_3_64_k3_p1_on_8x32x32x3")));

    let bn = row(&s, "stem_bn");
    assert_eq!(bn.flops(), Some(flax("batchnorm_64_on_8x32x32x64")));
    assert_eq!(params(bn), 4 * 64);

    // Blocks are marked calls: inputs and outputs at their exact boundaries.
    let down = row(&s, "layers_2");
    assert_eq!(down.module_type, "BasicBlock");
    assert_eq!(shapes(&down.inputs), vec![vec![8, 64, 32, 32]]);
    assert_eq!(shapes(&down.outputs), vec![vec![8, 128, 16, 16]]);
    let shortcut = row(&s, "layers_2/downsample/conv");
    assert_eq!(params(shortcut), 64 * 128);
    // A 1×1 stride-2 convolution reads every tap: 2·64·128·8·16².
    assert_eq!(shortcut.flops(), Some(2 * 64 * 128 * 8 * 16 * 16));

    let fc = row(&s, "fc");
    assert_eq!(fc.flops(), Some(flax("dense_512_10_on_8x512")));
    assert_eq!(shapes(&fc.inputs), vec![vec![8, 512]]);

    let order: Vec<String> = s.rows.iter().take(4).map(|r| r.path.join("/")).collect();
    assert_eq!(order, ["", "stem", "stem_bn", "layers_0"]);
    assert!(not_mapped(&s).is_empty(), "{s}");
    assert!(
        s.notes.iter().any(|n| n.contains("0 tensors held data")),
        "{s}"
    );
}

#[test]
fn transformer_rows_shapes_params_and_flops() {
    let s = transformer::summary().unwrap();
    let burn =
        tabulate_burn::num_params(|device| transformer::Gpt::new(&transformer::SMALL, device))
            .unwrap() as u64;
    let d = 128u64;
    let block = 2 * 2 * d + 4 * (d * d + d) + (d * 4 * d + 4 * d) + (4 * d * d + d);
    assert_eq!(burn, 1000 * d + 64 * d + 4 * block + 2 * d + d * 1000);
    assert_eq!(s.total().count, burn);
    assert_eq!(s.rows.iter().map(own_params).sum::<u64>(), burn);
    assert_eq!(shapes(&s.rows[0].inputs), vec![vec![2, 64]]);
    assert_eq!(shapes(&s.rows[0].outputs), vec![vec![2, 64, 1000]]);
    let q = s
        .rows
        .iter()
        .find(|r| r.path.name() == Some("query"))
        .unwrap_or_else(|| panic!("no query row in\n{s}"));
    assert_eq!(q.module_type, "Linear");
    // Dense 128 → 128 on [2, 64, 128]: 2·128·128·128 + 128·128.
    assert_eq!(q.flops(), Some(2 * 128 * 128 * 128 + 128 * 128));
    let norm = s
        .rows
        .iter()
        .find(|r| r.module_type == "LayerNorm")
        .unwrap_or_else(|| panic!("no LayerNorm row in\n{s}"));
    assert_eq!(shapes(&norm.outputs), vec![vec![2, 64, 128]]);
    // burn's LayerNorm on [2, 64, 128] costs what Flax's (slow variance) costs.
    assert_eq!(
        norm.flops(),
        Some(flax("layernorm_slow_variance_on_2x64x128"))
    );
}

/// An operation with no mapping is listed with its rows, never dropped silently.
#[test]
fn unmapped_operations_are_listed() {
    let s = tabulate_burn::summarize(
        |device| LinearConfig::new(9, 4).init(device),
        |m: &Linear, inputs| m.forward(inputs.float([16, 9])).cumsum(1),
    )
    .unwrap();
    let notes = not_mapped(&s);
    assert_eq!(notes.len(), 1, "{s}");
    assert!(notes[0].contains("Float::CumSum ×1"), "{}", notes[0]);
    assert!(notes[0].contains("lower bounds: <model>"), "{}", notes[0]);
    // What feeds the unmapped op is still counted: the dense layer's 1216 flops (plus
    // nothing for the cumsum itself, which is why the note says lower bound).
    assert_eq!(s.rows[0].flops(), Some(1216));
}

#[test]
fn reading_values_is_an_error_naming_the_stage() {
    let err = tabulate_burn::summarize(
        |device| LinearConfig::new(4, 2).init(device),
        |m: &Linear, inputs| {
            let y = m.forward(inputs.float([3, 4]));
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

/// Common burn tensor ops replay onto `tabulate` with burn's own result shapes: a
/// mismatch or a missing mapping would be listed as "Not mapped".
#[test]
fn common_ops_replay_with_burn_shapes() {
    use burn::nn::conv::{Conv2d, Conv2dConfig};
    use burn::tensor::Tensor;
    use burn::tensor::activation::{gelu, leaky_relu, log_softmax, sigmoid, softmax};

    let s = tabulate_burn::summarize(
        |device| Conv2dConfig::new([3, 8], [3, 3]).init(device),
        |conv: &Conv2d, inputs| {
            let x = conv.forward(inputs.float([2, 3, 16, 16]));
            let x = gelu(sigmoid(leaky_relu(x, 0.1)));
            let x: Tensor<3> = x.flatten(2, 3);
            let y = softmax(x.clone(), 2) + log_softmax(x.clone(), 2);
            let y = y
                .clone()
                .matmul(y.swap_dims(1, 2))
                .clamp(-1.0, 1.0)
                .sqrt()
                .exp();
            let z = Tensor::cat(vec![y.clone(), y.slice([0..2, 0..8, 0..4])], 2);
            z.mean_dim(2).sum_dim(1).powi_scalar(2)
        },
    )
    .unwrap();
    assert!(not_mapped(&s).is_empty(), "{s}");
    assert_eq!(shapes(&s.rows[0].outputs), vec![vec![2, 1, 1]]);
    // The conv row: 3×3 kernel without padding, every tap reads real input:
    // 2·3·8·2·14² (+ the bias add, 2·8·14²).
    assert_eq!(
        s.rows[0].flops().map(|f| f > 2 * 3 * 9 * 8 * 2 * 196),
        Some(true)
    );
}
