//! The model zoo: well-known models written with the public API (`examples/<name>.rs`),
//! each checked against its published parameter count, its output shape, the rows of its
//! summary, and — for the vision models — against real Flax: every row's path and counted
//! parameters, and the root row's `flops` and `vjp_flops` (`tests/zoo/<name>.json`, made
//! by `scripts/zoo.py` from the Flax twins of these models).
//!
//! "Published" is torchvision's `num_params` for the vision models (`BatchNorm` scale and
//! bias counted, running statistics not: those are our `batch_stats` collection), and
//! Hugging Face's `num_parameters()` for the text models.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value as Json;
use tabulate::prelude::*;
use tabulate::{Tabulate, Tabulator};

#[path = "../../examples/bert_base.rs"]
#[allow(unreachable_pub)] // the examples export their models
mod bert_base;
#[path = "../../examples/gpt2_tied.rs"]
#[allow(unreachable_pub)] // the examples export their models
mod gpt2_tied;
#[path = "../../examples/llama2_7b.rs"]
#[allow(unreachable_pub)] // the examples export their models
pub(crate) mod llama2_7b;
#[path = "../../examples/mobilenet_v2.rs"]
#[allow(unreachable_pub)] // the examples export their models
mod mobilenet_v2;
#[path = "../../examples/resnet18.rs"]
#[allow(unreachable_pub)] // the examples export their models
pub(crate) mod resnet18;
#[path = "../../examples/resnet50.rs"]
#[allow(unreachable_pub)] // the examples export their models
mod resnet50;
#[path = "../../examples/vgg16.rs"]
#[allow(unreachable_pub)] // the examples export their models
mod vgg16;
#[path = "../../examples/vit_b16.rs"]
#[allow(unreachable_pub)] // the examples export their models
mod vit_b16;

/// torchvision's published multiply-accumulates at 1×3×224×224 (`_ops`, issue 10 item 5;
/// `peers.md` §4): convolutions, linear layers and matmuls only, no bias, counted on the
/// full padded input. `scripts/zoo.py` counts the same from the Flax twins' jaxprs
/// (`macs` in `tests/zoo/<name>.json`); the `macs` column is checked against these (`*_macs` tests).
const TORCHVISION_MACS: [(&str, u64); 5] = [
    ("resnet18", 1_814_073_344),
    ("resnet50", 4_089_184_256),
    ("vgg16", 15_470_264_320),
    ("mobilenet_v2", 300_774_272),
    ("vit_b16", 17_563_828_224),
];

/// One 224×224 RGB image, channels last.
fn image() -> Tensor {
    Tensor::new(DType::F32, [1, 224, 224, 3])
}

/// Flax's numbers for a model (`tests/zoo/<name>.json`).
fn flax(name: &str) -> Json {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/zoo/{name}.json"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).expect("zoo JSON parses")
}

fn json_u64(value: &Json) -> u64 {
    value.as_u64().expect("a count")
}

/// Runs a summary and returns it with the shape of the forward pass's result.
fn run<M: Tabulate>(
    tabulator: Tabulator<'_, M>,
    forward: impl FnOnce(&M) -> Result<Tensor>,
) -> (Summary, Vec<usize>) {
    let mut shape = None;
    let summary = tabulator
        .run(|model| {
            let y = forward(model);
            if let Ok(y) = &y {
                shape = Some(y.shape().dims().to_vec());
            }
            y
        })
        .expect("the model runs");
    (summary, shape.expect("a result"))
}

/// The total of one collection (0 when the model has none).
fn collection_total(summary: &Summary, collection: &str) -> u64 {
    summary
        .collections
        .iter()
        .position(|c| c == collection)
        .map_or(0, |i| summary.totals[i].count)
}

/// Every row as `(path, type, {collection: counted})`.
fn rows_of(summary: &Summary) -> Vec<(String, String, BTreeMap<String, u64>)> {
    summary
        .rows
        .iter()
        .map(|row| {
            let counts = summary
                .collections
                .iter()
                .zip(&row.variables)
                .map(|(c, v)| (c.clone(), v.counted.count))
                .collect();
            (row.path.join("/"), row.module_type.clone(), counts)
        })
        .collect()
}

/// Flax's rows in the same form, leaving out collections a row has none of.
fn flax_rows(reference: &Json) -> Vec<(String, String, BTreeMap<String, u64>)> {
    let collections: Vec<String> = reference["totals"]
        .as_object()
        .expect("totals")
        .keys()
        .cloned()
        .collect();
    reference["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|row| {
            let counts = collections
                .iter()
                .map(|c| (c.clone(), json_u64(&row[c])))
                .collect();
            (
                row["path"].as_str().expect("path").to_owned(),
                row["module_type"].as_str().expect("type").to_owned(),
                counts,
            )
        })
        .collect()
}

/// A vision model against its published count and Flax: totals per collection, output
/// shape, every row (full depth) and the rows of the depth-1 summary.
fn check_vision<M: Tabulate>(
    name: &str,
    model: &M,
    forward: impl Fn(&M, &Tensor) -> Result<Tensor>,
    published_params: u64,
    depth1_rows: usize,
) {
    let reference = flax(name);
    let x = image();
    let (summary, shape) = run(tabulate(model), |m| forward(m, &x));
    assert_eq!(collection_total(&summary, "params"), published_params);
    assert_eq!(
        json_u64(&reference["totals"]["params"]),
        published_params,
        "the Flax twin of {name} has the published count"
    );
    for (collection, total) in reference["totals"].as_object().expect("totals") {
        assert_eq!(
            collection_total(&summary, collection),
            json_u64(total),
            "{name}: {collection}"
        );
    }
    assert_eq!(shape, [1, 1000]);
    assert_eq!(rows_of(&summary), flax_rows(&reference), "{name}: rows");

    let (depth1, _) = run(tabulate(model).depth(1), |m| forward(m, &x));
    assert_eq!(depth1.rows.len(), depth1_rows);
    let top: Vec<_> = flax_rows(&reference)
        .into_iter()
        .map(|(path, ..)| path)
        .filter(|path| !path.contains('/'))
        .collect();
    let ours: Vec<_> = depth1.rows.iter().map(|r| r.path.join("/")).collect();
    assert_eq!(ours, top, "{name}: depth-1 rows are Flax's top-level calls");
    assert_eq!(collection_total(&depth1, "params"), published_params);
}

/// Which FLOP column a check compares.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Flops {
    /// XLA's flops of each call's forward pass.
    Forward,
    /// … of its forward pass plus VJP.
    Vjp,
}

/// Every row's FLOPs (the root's included) against Flax's, one column at a time so that
/// each test computes only what it checks.
fn check_flops<M: Tabulate>(
    name: &str,
    model: &M,
    forward: impl Fn(&M, &Tensor) -> Result<Tensor>,
    column: Flops,
) {
    let reference = flax(name);
    let x = image();
    let tabulator = tabulate(model)
        .compute_flops(column == Flops::Forward)
        .compute_vjp_flops(column == Flops::Vjp);
    let (summary, _) = run(tabulator, |m| forward(m, &x));
    let key = match column {
        Flops::Forward => "flops",
        Flops::Vjp => "vjp_flops",
    };
    let ours: Vec<(String, Option<u64>)> = summary
        .rows
        .iter()
        .map(|row| {
            let value = match column {
                Flops::Forward => row.flops(),
                Flops::Vjp => row.vjp_flops(),
            };
            (row.path.join("/"), value)
        })
        .collect();
    let theirs: Vec<(String, Option<u64>)> = reference["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|row| {
            let path = row["path"].as_str().expect("path").to_owned();
            (path, row[key].as_u64())
        })
        .collect();
    assert_eq!(ours[0].1, reference[key].as_u64(), "{name}: root {key}");
    assert_eq!(ours, theirs, "{name}: {key} of every row");
}

#[test]
fn resnet18() {
    check_vision(
        "resnet18",
        &resnet18::ResNet::resnet18(),
        resnet18::ResNet::forward,
        11_689_512,
        12,
    );
}

#[test]
fn resnet18_flops() {
    check_flops(
        "resnet18",
        &resnet18::ResNet::resnet18(),
        resnet18::ResNet::forward,
        Flops::Forward,
    );
}

#[test]
fn resnet18_vjp_flops() {
    check_flops(
        "resnet18",
        &resnet18::ResNet::resnet18(),
        resnet18::ResNet::forward,
        Flops::Vjp,
    );
}

#[test]
fn resnet50() {
    check_vision(
        "resnet50",
        &resnet50::ResNet::resnet50(),
        resnet50::ResNet::forward,
        25_557_032,
        20,
    );
}

#[test]
fn resnet50_flops() {
    check_flops(
        "resnet50",
        &resnet50::ResNet::resnet50(),
        resnet50::ResNet::forward,
        Flops::Forward,
    );
}

#[test]
fn resnet50_vjp_flops() {
    check_flops(
        "resnet50",
        &resnet50::ResNet::resnet50(),
        resnet50::ResNet::forward,
        Flops::Vjp,
    );
}

#[test]
fn vgg16() {
    check_vision(
        "vgg16",
        &vgg16::VGG::vgg16(),
        vgg16::VGG::forward,
        138_357_544,
        17,
    );
}

#[test]
fn vgg16_flops() {
    check_flops(
        "vgg16",
        &vgg16::VGG::vgg16(),
        vgg16::VGG::forward,
        Flops::Forward,
    );
}

#[test]
fn vgg16_vjp_flops() {
    check_flops(
        "vgg16",
        &vgg16::VGG::vgg16(),
        vgg16::VGG::forward,
        Flops::Vjp,
    );
}

#[test]
fn mobilenet_v2() {
    check_vision(
        "mobilenet_v2",
        &mobilenet_v2::MobileNetV2::default(),
        mobilenet_v2::MobileNetV2::forward,
        3_504_872,
        21,
    );
}

#[test]
fn mobilenet_v2_flops() {
    check_flops(
        "mobilenet_v2",
        &mobilenet_v2::MobileNetV2::default(),
        mobilenet_v2::MobileNetV2::forward,
        Flops::Forward,
    );
}

#[test]
fn mobilenet_v2_vjp_flops() {
    check_flops(
        "mobilenet_v2",
        &mobilenet_v2::MobileNetV2::default(),
        mobilenet_v2::MobileNetV2::forward,
        Flops::Vjp,
    );
}

#[test]
fn vit_b16() {
    check_vision(
        "vit_b16",
        &vit_b16::ViT::b16(),
        vit_b16::ViT::forward,
        86_567_656,
        4,
    );
}

#[test]
fn vit_b16_flops() {
    check_flops(
        "vit_b16",
        &vit_b16::ViT::b16(),
        vit_b16::ViT::forward,
        Flops::Forward,
    );
}

#[test]
fn vit_b16_vjp_flops() {
    check_flops(
        "vit_b16",
        &vit_b16::ViT::b16(),
        vit_b16::ViT::forward,
        Flops::Vjp,
    );
}

/// The `macs` column of the root row at depth 0 (only the root is measured).
fn root_macs<M: Tabulate>(model: &M, forward: impl Fn(&M, &Tensor) -> Result<Tensor>) -> u64 {
    let x = image();
    let (summary, _) = run(tabulate(model).depth(0).compute_macs(true), |m| {
        forward(m, &x)
    });
    summary.rows[0].macs().expect("macs computed")
}

fn torchvision_macs(name: &str) -> u64 {
    TORCHVISION_MACS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|&(_, macs)| macs)
        .expect("a published figure")
}

#[test]
fn resnet18_macs() {
    let macs = root_macs(&resnet18::ResNet::resnet18(), resnet18::ResNet::forward);
    assert_eq!(macs, torchvision_macs("resnet18"));
}

#[test]
fn resnet50_macs() {
    let macs = root_macs(&resnet50::ResNet::resnet50(), resnet50::ResNet::forward);
    assert_eq!(macs, torchvision_macs("resnet50"));
}

#[test]
fn vgg16_macs() {
    let macs = root_macs(&vgg16::VGG::vgg16(), vgg16::VGG::forward);
    assert_eq!(macs, torchvision_macs("vgg16"));
}

#[test]
fn mobilenet_v2_macs() {
    let macs = root_macs(
        &mobilenet_v2::MobileNetV2::default(),
        mobilenet_v2::MobileNetV2::forward,
    );
    assert_eq!(macs, torchvision_macs("mobilenet_v2"));
}

#[test]
fn vit_b16_macs() {
    let macs = root_macs(&vit_b16::ViT::b16(), vit_b16::ViT::forward);
    assert_eq!(macs, torchvision_macs("vit_b16"));
}

/// Every row's `macs` sums, over the leaves, to the root's: a MAC is counted in exactly
/// one leaf call of these models (no glue matmuls).
#[test]
fn resnet18_leaf_macs_sum_to_the_root() {
    let x = image();
    let (summary, _) = run(
        tabulate(&resnet18::ResNet::resnet18()).compute_macs(true),
        |m| m.forward(&x),
    );
    let leaves: u64 = summary
        .rows
        .iter()
        .filter(|r| matches!(r.module_type.as_str(), "Conv" | "Dense"))
        .map(|r| r.macs().expect("computed"))
        .sum();
    assert_eq!(leaves, torchvision_macs("resnet18"));
    // The stem: 64 × 112 × 112 outputs × 7 × 7 taps × 3 input features.
    let stem = summary
        .rows
        .iter()
        .find(|r| r.path == ["conv1"])
        .expect("stem");
    assert_eq!(stem.macs(), Some(64 * 112 * 112 * 7 * 7 * 3));
}

/// The independent MAC counts of the Flax twins (`scripts/zoo.py`) are torchvision's: the
/// architectures are torchvision's.
#[test]
fn flax_twins_have_torchvision_macs() {
    for (name, macs) in TORCHVISION_MACS {
        assert_eq!(json_u64(&flax(name)["macs"]), macs, "{name}");
    }
}

#[test]
fn bert_base() {
    let model = bert_base::BertModel::base();
    let ids = Tensor::new(DType::I32, [1, 128]);
    let mut shapes = None;
    let summary = tabulate(&model)
        .run(|m| {
            let out = m.forward(&ids, &ids);
            if let Ok((hidden, pooled)) = &out {
                shapes = Some((
                    hidden.shape().dims().to_vec(),
                    pooled.shape().dims().to_vec(),
                ));
            }
            out
        })
        .expect("BERT runs");
    assert_eq!(collection_total(&summary, "params"), 109_482_240);
    assert_eq!(summary.total().count, 109_482_240);
    assert_eq!(shapes, Some((vec![1, 128, 768], vec![1, 768])));
    let depth1 = tabulate(&model)
        .depth(1)
        .run(|m| m.forward(&ids, &ids))
        .expect("BERT runs");
    // root, embeddings, encoder_0 … encoder_11, pooler
    assert_eq!(depth1.rows.len(), 15);
    assert_eq!(depth1.total().count, 109_482_240);
}

#[test]
fn gpt2_tied() {
    let model = gpt2_tied::GPT2::small();
    let tokens = Tensor::new(DType::I32, [1, 1024]);
    let (summary, shape) = run(tabulate(&model), |m| m.forward(&tokens));
    assert_eq!(summary.total().count, 124_439_808);
    assert_eq!(shape, [1, 1024, 50257]);
    // The tied head is the second call of `wte`: a repeated call, hidden by default.
    let (depth1, _) = run(tabulate(&model).depth(1), |m| m.forward(&tokens));
    // root, wte, wpe, h_0 … h_11, ln_f
    assert_eq!(depth1.rows.len(), 16);
    assert_eq!(depth1.total().count, 124_439_808);
    let (repeated, _) = run(tabulate(&model).depth(1).show_repeated(true), |m| {
        m.forward(&tokens)
    });
    let last = repeated.rows.last().expect("rows");
    assert_eq!(
        (last.path.join("/"), last.method.as_str()),
        ("wte".to_owned(), "attend")
    );
    assert_eq!(
        repeated.total().count,
        124_439_808,
        "tied weights count once"
    );
}

#[test]
fn llama2_7b() {
    let model = llama2_7b::LlamaForCausalLM::llama2_7b();
    let [tokens, cos, sin] = llama2_7b::inputs(128);
    let (summary, shape) = run(tabulate(&model), |m| m.forward(&tokens, &cos, &sin));
    assert_eq!(summary.total().count, 6_738_415_616);
    assert_eq!(shape, [1, 128, 32000]);
    let (depth1, _) = run(tabulate(&model).depth(1), |m| {
        m.forward(&tokens, &cos, &sin)
    });
    // root, embed_tokens, layers_0 … layers_31, norm, lm_head
    assert_eq!(depth1.rows.len(), 36);
    assert_eq!(depth1.total().count, 6_738_415_616);
}
