//! Every built-in layer and function against the real Flax: `tests/golden/layers.json`
//! (made by `scripts/layer_cases.py` with flax 0.12.8) holds, per case, Flax's rows with
//! their FLOPs, own variables and output shapes. Each case is rebuilt here with the
//! public API and must match row for row.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::Value as Json;
use tabulate::Value;
use tabulate::nn::{
    self, BatchNorm, Conv, ConvTranspose, Dense, DenseGeneral, Einsum, Embed, GroupNorm, LayerNorm,
    MultiHeadDotProductAttention, Padding, PoolPadding, RMSNorm,
};
use tabulate::prelude::*;

/// A function of the case's inputs.
type CaseFn = Box<dyn Fn(&[Tensor]) -> Result<Tensor>>;

/// A parameter-free function as a module, like the `Fn` wrapper of the reference script.
#[derive(Tabulate)]
#[tabulate(rename = "Fn")]
struct Func {
    #[tabulate(skip)]
    f: CaseFn,
}

impl Func {
    fn new(f: impl Fn(&[Tensor]) -> Result<Tensor> + 'static) -> Func {
        Func { f: Box::new(f) }
    }

    #[forward(no_summary)]
    fn forward(&self, args: &[Tensor]) -> Result<Tensor> {
        (self.f)(args)
    }
}

/// `CrossMaskMHA` of the reference script: attention of `q` over `kv` with a padding mask.
#[derive(Tabulate)]
struct CrossMaskMHA;

impl CrossMaskMHA {
    #[forward]
    fn forward(&self, q: &Tensor, kv: &Tensor) -> Result<Tensor> {
        let ones = |t: &Tensor| Tensor::ones(DType::F32, &t.shape().dims()[..2]);
        let mask = nn::make_attention_mask(&ones(q)?, &ones(kv)?)?;
        let call = nn::AttentionCall::new(q)
            .key(kv)
            .mask(&mask)
            .deterministic(true);
        nn::MultiHeadDotProductAttention::new(2)
            .qkv_features(8)
            .forward_with(&call)
    }
}

/// `DPAMask` of the reference script: causal dot-product attention.
#[derive(Tabulate)]
struct DPAMask;

impl DPAMask {
    #[forward]
    fn forward(&self, q: &Tensor, k: &Tensor, v: &Tensor) -> Result<Tensor> {
        let mask = nn::make_causal_mask(&Tensor::ones(DType::I32, [2, 7])?)?;
        let options = nn::AttentionOptions {
            mask: Some(&mask),
            ..Default::default()
        };
        nn::dot_product_attention(q, k, v, &options)
    }
}

/// `RNNParent` of the reference script: an `RNN` and its cell built inline.
#[derive(Tabulate)]
struct RNNParent {
    cell: &'static str,
    features: usize,
}

impl RNNParent {
    #[forward]
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        match self.cell {
            "lstm" => nn::RNN::new(nn::LSTMCell::new(self.features)).forward(x),
            "gru" => nn::RNN::new(nn::GRUCell::new(self.features)).forward(x),
            _ => nn::RNN::new(nn::SimpleCell::new(self.features)).forward(x),
        }
    }
}

/// `SequentialParent` of the reference script: a `Sequential` built inline.
#[derive(Tabulate)]
struct SequentialParent;

impl SequentialParent {
    #[forward]
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        nn::Sequential::new()
            .then(Dense::new(5))
            .then(nn::relu)
            .then(Dense::new(3))
            .forward(x)
    }
}

/// Runs case `name` on `x`, or `None` when the case has no Rust counterpart here.
fn t<M: Tabulate>(model: &M) -> tabulate::Tabulator<'_, M> {
    tabulate(model).compute_flops(true).compute_vjp_flops(true)
}

fn run(name: &str, x: &[Tensor]) -> Option<Result<Summary>> {
    let x0 = x[0].clone();
    macro_rules! layer {
        ($layer:expr) => {{
            let layer = $layer;
            t(&layer).run(|l| l.forward(&x0))
        }};
    }
    Some(match name {
        "dense_16x9_4" => layer!(Dense::new(4)),
        "dense_3d" => layer!(Dense::new(7)),
        "dense_nobias" => layer!(Dense::new(5).use_bias(false)),
        "dense_bf16_params" => layer!(Dense::new(16).param_dtype(DType::BF16)),
        "dense_bf16_compute" => layer!(Dense::new(5).dtype(DType::BF16)),
        "dg_features2" => layer!(DenseGeneral::new([4, 16])),
        "dg_axis2" => layer!(DenseGeneral::new([64]).axis([-2, -1])),
        "dg_both" => layer!(DenseGeneral::new([2, 7]).axis([-2, -1])),
        "dg_batch_dims" => layer!(DenseGeneral::new([5]).batch_dims([0])),
        "einsum_bias" => layer!(Einsum::new([5, 3, 4], "abc,cde->abde")),
        "einsum_nobias" => layer!(Einsum::new([5, 3, 4], "abc,cde->abde").use_bias(false)),
        "embed_4x12" => layer!(Embed::new(1000, 32)),
        "embed_small" => layer!(Embed::new(10, 3)),
        "embed_3d" => layer!(Embed::new(20, 5)),
        "embed_attend" => {
            let embed = Embed::new(10, 3);
            t(&embed).run(|e| e.attend(&x0))
        }
        "conv_same" => layer!(Conv::new(32, [3, 3])),
        "conv_valid_1d" => layer!(Conv::new(4, [5]).strides([3]).padding(Padding::Valid)),
        "conv_stride2_nobias" => layer!(Conv::new(32, [3, 3]).strides([2, 2]).use_bias(false)),
        "conv_grouped" => layer!(Conv::new(6, [3, 3]).feature_group_count(3)),
        "conv_depthwise" => layer!(Conv::new(8, [3, 3]).feature_group_count(8)),
        "conv_kernel_dilation" => layer!(Conv::new(4, [3, 3]).kernel_dilation([2])),
        "conv_explicit_pad" => {
            layer!(Conv::new(3, [2, 2]).padding(Padding::Explicit(vec![(1, 0), (0, 2)])))
        }
        "conv_circular" => layer!(Conv::new(4, [3, 3]).padding(Padding::Circular)),
        "conv_3d" => layer!(Conv::new(3, [2, 2, 2]).padding(Padding::Valid)),
        "conv_no_batch" => layer!(Conv::new(4, [3, 3])),
        "convt_same_s2" => layer!(ConvTranspose::new(8, [3, 3]).strides([2, 2])),
        "convt_valid" => layer!(ConvTranspose::new(4, [3, 3]).padding(Padding::Valid)),
        "convt_1d" => layer!(ConvTranspose::new(3, [4]).strides([2])),
        "convt_dilated" => layer!(ConvTranspose::new(4, [3, 3]).kernel_dilation([2, 2])),
        "convt_transpose_kernel" => layer!(
            ConvTranspose::new(4, [3, 3])
                .strides([2, 2])
                .transpose_kernel(true)
        ),
        "bn_train" | "bn_train_2d" => layer!(BatchNorm::new(false)),
        "bn_eval" => layer!(BatchNorm::new(true)),
        "bn_noscale" => layer!(BatchNorm::new(false).use_scale(false).use_bias(false)),
        "ln" => layer!(LayerNorm::new()),
        "ln_eps" => layer!(LayerNorm::new().epsilon(1e-5)),
        "ln_nobias" => layer!(LayerNorm::new().use_bias(false)),
        "rms" | "rms_small" => layer!(RMSNorm::new()),
        "gn4" => layer!(GroupNorm::new(4)),
        "gn3" => layer!(GroupNorm::new(3)),
        "gn_instance" => layer!(GroupNorm::new(8)),
        "gn_layer" => layer!(GroupNorm::new(1)),
        "gn_group_size" => layer!(GroupNorm::with_group_size(2)),
        _ => return run_functions(name, x),
    })
}

/// The functions, attention, dropout and combinator cases.
fn run_functions(name: &str, x: &[Tensor]) -> Option<Result<Summary>> {
    let x0 = x[0].clone();
    Some(match name {
        "relu" => func(x, |a| nn::relu(&a[0])),
        "gelu" => func(x, |a| nn::gelu(&a[0])),
        "gelu_exact" => func(x, |a| nn::gelu_with(&a[0], false)),
        "silu" => func(x, |a| nn::silu(&a[0])),
        "swish" => func(x, |a| nn::swish(&a[0])),
        "sigmoid" => func(x, |a| nn::sigmoid(&a[0])),
        "tanh" => func(x, |a| nn::tanh(&a[0])),
        "softmax" => func(x, |a| nn::softmax(&a[0])),
        "softmax_axis0" => func(x, |a| nn::softmax_with(&a[0], 0)),
        "log_softmax" => func(x, |a| nn::log_softmax(&a[0])),
        "elu" => func(x, |a| nn::elu(&a[0])),
        "leaky_relu" => func(x, |a| nn::leaky_relu(&a[0])),
        "softplus" => func(x, |a| nn::softplus(&a[0])),
        "avg_pool_2x2" => func(x, |a| {
            nn::avg_pool(&a[0], &[2, 2], Some(&[2, 2]), &PoolPadding::Valid, true)
        }),
        "avg_pool_3x3_s2" => func(x, |a| {
            nn::avg_pool(&a[0], &[3, 3], Some(&[2, 2]), &PoolPadding::Valid, true)
        }),
        "avg_pool_same" => func(x, |a| {
            nn::avg_pool(&a[0], &[3, 3], Some(&[1, 1]), &PoolPadding::Same, true)
        }),
        "avg_pool_same_exclude" => func(x, |a| {
            nn::avg_pool(&a[0], &[3, 3], Some(&[1, 1]), &PoolPadding::Same, false)
        }),
        "max_pool_2x2" => func(x, |a| {
            nn::max_pool(&a[0], &[2, 2], Some(&[2, 2]), &PoolPadding::Valid)
        }),
        "max_pool_same" => func(x, |a| {
            nn::max_pool(&a[0], &[3, 3], Some(&[1, 1]), &PoolPadding::Same)
        }),
        "min_pool" => func(x, |a| {
            nn::min_pool(&a[0], &[2, 2], Some(&[2, 2]), &PoolPadding::Valid)
        }),
        "mha_self" => {
            t(&MultiHeadDotProductAttention::new(4).qkv_features(64)).run(|m| m.forward(&x0, true))
        }
        "mha_small" => {
            t(&MultiHeadDotProductAttention::new(2).qkv_features(8)).run(|m| m.forward(&x0, true))
        }
        "mha_out" => t(&MultiHeadDotProductAttention::new(2)
            .qkv_features(8)
            .out_features(5))
        .run(|m| m.forward(&x0, true)),
        "mha_cross_mask" => t(&CrossMaskMHA).run(|m| m.forward(&x[0], &x[1])),
        "mha_dropout" => t(&MultiHeadDotProductAttention::new(2)
            .qkv_features(8)
            .dropout_rate(0.1))
        .rngs(["dropout"])
        .run(|m| m.forward(&x0, false)),
        "self_attention" => {
            t(&nn::SelfAttention::new(2).qkv_features(8)).run(|m| m.forward(&x0, true))
        }
        "dpa" => func(x, |a| {
            nn::dot_product_attention(&a[0], &a[1], &a[2], &nn::AttentionOptions::default())
        }),
        "dpa_mask" => t(&DPAMask).run(|m| m.forward(&x[0], &x[1], &x[2])),
        "dpa_weights" => func(x, |a| {
            nn::dot_product_attention_weights(&a[0], &a[1], &nn::AttentionOptions::default())
        }),
        "causal_mask" => func(x, |a| nn::make_causal_mask(&a[0])),
        "attention_mask" => func(x, |a| nn::make_attention_mask(&a[0], &a[1])),
        "dropout_det" => t(&nn::Dropout::new(0.1)).run(|m| m.forward(&x0, true)),
        "dropout_train" => t(&nn::Dropout::new(0.5))
            .rngs(["dropout"])
            .run(|m| m.forward(&x0, false)),
        "dropout_train_big" => t(&nn::Dropout::new(0.1))
            .rngs(["dropout"])
            .run(|m| m.forward(&x0, false)),
        "dropout_broadcast" => t(&nn::Dropout::new(0.5).broadcast_dims([0]))
            .rngs(["dropout"])
            .run(|m| m.forward(&x0, false)),
        "sequential" => t(&SequentialParent).run(|m| m.forward(&x0)),
        _ => return run_recurrent(name, x),
    })
}

/// The recurrent cells and `RNN`s.
fn run_recurrent(name: &str, x: &[Tensor]) -> Option<Result<Summary>> {
    let rnn = |cell, features| t(&RNNParent { cell, features }).run(|m| m.forward(&x[0]));
    Some(match name {
        "lstm_cell" | "lstm_cell_small" => {
            let features = x[0].dim(-1).expect("carry has features");
            t(&nn::LSTMCell::new(features)).run(|c| c.forward(&(x[0].clone(), x[1].clone()), &x[2]))
        }
        "gru_cell" => t(&nn::GRUCell::new(6)).run(|c| c.forward(&x[0], &x[1])),
        "simple_cell" => t(&nn::SimpleCell::new(6)).run(|c| c.forward(&x[0], &x[1])),
        "rnn_lstm" => rnn("lstm", 64),
        "rnn_lstm_small" => rnn("lstm", 5),
        "rnn_gru" => rnn("gru", 6),
        "rnn_simple" => rnn("simple", 6),
        _ => return None,
    })
}

/// A parameter-free function of the inputs, summarised as Flax's `Fn` wrapper.
fn func(x: &[Tensor], f: impl Fn(&[Tensor]) -> Result<Tensor> + 'static) -> Result<Summary> {
    t(&Func::new(f)).run(|m| m.forward(x))
}

/// Flax's method names for ours.
fn flax_method(method: &str) -> &str {
    if method == "forward" {
        "__call__"
    } else {
        method
    }
}

fn tensors(inputs: &Json) -> Vec<Tensor> {
    fn one(spec: &Json) -> Tensor {
        let dtype = DType::from_name(spec["dtype"].as_str().expect("dtype")).expect("known dtype");
        let shape: Vec<usize> = spec["shape"]
            .as_array()
            .expect("shape")
            .iter()
            .map(|d| usize::try_from(d.as_u64().expect("dim")).expect("fits"))
            .collect();
        Tensor::new(dtype, shape)
    }
    // Nested inputs (an RNN cell's carry) are flattened in order.
    fn walk(value: &Json, out: &mut Vec<Tensor>) {
        match value {
            Json::Array(items) => items.iter().for_each(|v| walk(v, out)),
            spec => out.push(one(spec)),
        }
    }
    let mut out = Vec::new();
    walk(inputs, &mut out);
    out
}

/// A value tree in the JSON's form, for comparison.
fn json_of(value: &Value) -> Json {
    match value {
        Value::Array { dtype, shape, .. } => {
            serde_json::json!({"dtype": dtype.name(), "shape": shape.dims()})
        }
        Value::Key { shape } => serde_json::json!({"dtype": "key<fry>", "shape": shape.dims()}),
        Value::Object { repr } => serde_json::json!({"repr": repr}),
        Value::Sequence { items } => Json::Array(items.iter().map(json_of).collect()),
        Value::Mapping { entries } => Json::Object(
            entries
                .iter()
                .map(|(k, v)| (k.clone(), json_of(v)))
                .collect(),
        ),
    }
}

/// Differences between our summary and Flax's rows (first call per path, as shown by
/// default).
fn compare(summary: &Summary, expected: &[Json]) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    let expected: Vec<&Json> = expected
        .iter()
        .filter(|r| seen.insert(r["path"].as_str().unwrap_or_default().to_string()))
        .collect();
    let mut problems = Vec::new();
    let ours: Vec<String> = summary.rows.iter().map(|r| r.path.join("/")).collect();
    let theirs: Vec<&str> = expected
        .iter()
        .map(|r| r["path"].as_str().unwrap_or_default())
        .collect();
    if ours != theirs {
        problems.push(format!("rows {ours:?} != {theirs:?}"));
        return problems;
    }
    for (row, exp) in summary.rows.iter().zip(expected) {
        let path = row.path.join("/");
        let check = |what: &str, ours: String, theirs: String, problems: &mut Vec<String>| {
            if ours != theirs {
                problems.push(format!("{path:?} {what}: {ours} != {theirs}"));
            }
        };
        check(
            "module",
            row.module_type.clone(),
            exp["module_type"].as_str().unwrap_or_default().to_string(),
            &mut problems,
        );
        check(
            "method",
            flax_method(&row.method).to_string(),
            exp["method"].as_str().unwrap_or_default().to_string(),
            &mut problems,
        );
        check(
            "flops",
            format!("{:?}", row.flops()),
            format!("{:?}", exp["flops"].as_u64()),
            &mut problems,
        );
        check(
            "vjp_flops",
            format!("{:?}", row.vjp_flops()),
            format!("{:?}", exp["vjp_flops"].as_u64()),
            &mut problems,
        );
        check(
            "outputs",
            json_of(&row.outputs).to_string(),
            exp["outputs"].to_string(),
            &mut problems,
        );
        let mut ours_vars = BTreeMap::new();
        for (collection, vars) in summary.collections.iter().zip(&row.variables) {
            if !vars.own.is_empty() {
                let leaves: serde_json::Map<String, Json> = vars
                    .own
                    .iter()
                    .map(|l| {
                        (
                            l.name.clone(),
                            serde_json::json!({"dtype": l.dtype.name(), "shape": l.shape.dims()}),
                        )
                    })
                    .collect();
                ours_vars.insert(collection.clone(), Json::Object(leaves));
            }
        }
        let theirs_vars: BTreeMap<String, Json> = exp["variables"]
            .as_object()
            .map(|o| {
                o.iter()
                    .filter(|(_, v)| v.as_object().is_some_and(|m| !m.is_empty()))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            })
            .unwrap_or_default();
        check(
            "variables",
            format!("{ours_vars:?}"),
            format!("{theirs_vars:?}"),
            &mut problems,
        );
    }
    problems
}

#[test]
fn layers_match_flax() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/layers.json");
    let data: Json =
        serde_json::from_str(&std::fs::read_to_string(path).expect("layers.json")).expect("parses");
    let mut report = String::new();
    let (mut passed, mut missing) = (0, Vec::new());
    for case in data["cases"].as_array().expect("cases") {
        let name = case["name"].as_str().expect("name");
        let rows = case
            .get("rows_show_repeated_false")
            .or_else(|| case.get("rows"))
            .and_then(Json::as_array);
        let Some(rows) = rows.filter(|r| !r.is_empty()) else {
            continue; // Flax itself failed on this case
        };
        let x = tensors(&case["inputs"]);
        match run(name, &x) {
            None => missing.push(name),
            Some(Err(e)) => {
                let _ = writeln!(report, "{name}: error {e}");
            }
            Some(Ok(summary)) => {
                let problems = compare(&summary, rows);
                if problems.is_empty() {
                    passed += 1;
                } else {
                    for p in problems {
                        let _ = writeln!(report, "{name}: {p}");
                    }
                }
            }
        }
    }
    eprintln!("layers: {passed} cases match; not covered: {missing:?}");
    assert!(report.is_empty(), "mismatches:\n{report}");
    assert!(
        missing.is_empty(),
        "cases without a Rust counterpart: {missing:?}"
    );
}
