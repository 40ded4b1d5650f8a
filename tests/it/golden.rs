//! Parity with Flax: every golden table of `tests/golden/` (copied from the shared goldens
//! by `scripts/sync_goldens.py`) is reproduced byte for byte, plain and coloured, by the
//! model of the example of the same name, through the public API only.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value as Json;
use tabulate::prelude::*;
use tabulate::{ColorChoice, RenderOptions, Tabulator};

#[path = "../../examples/cnn.rs"]
#[allow(unreachable_pub)] // the examples export their models
mod cnn;
#[path = "../../examples/embed_lstm.rs"]
#[allow(unreachable_pub)] // the examples export their models
mod embed_lstm;
#[path = "../../examples/foo.rs"]
#[allow(unreachable_pub)] // the examples export their models
pub(crate) mod foo;
#[path = "../../examples/gpt2_small.rs"]
// the examples export their models; `examples/gpt2_tied.rs` (in `zoo`) includes this file
// too, as its own submodule, so that the example builds alone
#[allow(unreachable_pub, clippy::duplicate_mod)]
pub(crate) mod gpt2_small;
#[path = "../../examples/mlp.rs"]
#[allow(unreachable_pub)] // the examples export their models
mod mlp;
#[path = "../../examples/resblock.rs"]
#[allow(unreachable_pub)] // the examples export their models
mod resblock;
#[path = "../../examples/shared.rs"]
#[allow(unreachable_pub)] // the examples export their models
mod shared;
#[path = "../../examples/transformer.rs"]
#[allow(unreachable_pub)] // the examples export their models
mod transformer;

/// One golden: the options of its `nn.tabulate` call, its inputs and its expected text.
struct Golden {
    stem: String,
    options: Json,
}

impl Golden {
    fn all_of(model: &str) -> Vec<Golden> {
        let manifest: BTreeMap<String, Json> =
            serde_json::from_str(&read("manifest.json")).expect("manifest.json parses");
        let goldens: Vec<Golden> = manifest
            .into_iter()
            .filter(|(_, options)| options["model"] == model)
            .map(|(stem, options)| Golden { stem, options })
            .collect();
        assert!(!goldens.is_empty(), "no golden for {model}");
        goldens
    }

    /// The positional arguments of the call, as abstract tensors.
    fn inputs(&self) -> Vec<Tensor> {
        self.options["args"]
            .as_array()
            .expect("args")
            .iter()
            .map(|arg| {
                let dtype =
                    DType::from_name(arg["dtype"].as_str().expect("dtype")).expect("known dtype");
                let shape: Vec<usize> = arg["shape"]
                    .as_array()
                    .expect("shape")
                    .iter()
                    .map(|d| usize::try_from(d.as_u64().expect("dim")).expect("dim fits"))
                    .collect();
                Tensor::new(dtype, shape)
            })
            .collect()
    }

    /// `tabulate(model)` with the golden's options.
    fn configure<'a, M: Tabulate>(&self, model: &'a M) -> Tabulator<'a, M> {
        let o = &self.options;
        let mut t = tabulate(model)
            .show_repeated(o["show_repeated"].as_bool().unwrap_or(false))
            .compute_flops(o["compute_flops"].as_bool().unwrap_or(false))
            .compute_vjp_flops(o["compute_vjp_flops"].as_bool().unwrap_or(false));
        if let Some(depth) = o["depth"].as_u64() {
            t = t.depth(usize::try_from(depth).expect("depth fits"));
        }
        t
    }

    /// Compares both renderings with the golden files.
    fn check(&self, summary: &Summary) {
        let width = usize::try_from(self.options["width"].as_u64().expect("width")).expect("fits");
        let plain = summary.render(&RenderOptions::new().width(width));
        assert_same(
            &plain,
            &read(&format!("{}.plain.txt", self.stem)),
            &self.stem,
        );
        let coloured =
            summary.render(&RenderOptions::new().width(width).color(ColorChoice::Always));
        assert_same(
            &coloured,
            &read(&format!("{}.txt", self.stem)),
            &format!("{} (coloured)", self.stem),
        );
    }
}

fn read(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Equality, reported as the first differing line.
fn assert_same(actual: &str, expected: &str, what: &str) {
    if actual == expected {
        return;
    }
    let (a, e): (Vec<&str>, Vec<&str>) =
        (actual.split('\n').collect(), expected.split('\n').collect());
    let line = a
        .iter()
        .zip(&e)
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(e.len()));
    panic!(
        "{what}: first difference at line {}\n  actual:   {:?}\n  expected: {:?}\n\nactual:\n{actual}\nexpected:\n{expected}",
        line + 1,
        a.get(line),
        e.get(line)
    );
}

/// Every golden of `model`: `forward` run with each golden's options and inputs.
fn check_model<M: Tabulate>(
    model_name: &str,
    model: &M,
    forward: impl Fn(&M, &Tensor) -> Result<Tensor>,
) {
    for golden in Golden::all_of(model_name) {
        let x = &golden.inputs()[0];
        let summary = golden
            .configure(model)
            .run(|m| forward(m, x))
            .expect("runs");
        golden.check(&summary);
    }
}

#[test]
fn seed_goldens() {
    check_model("seed", &foo::Foo, foo::Foo::forward);
}

#[test]
fn mlp_goldens() {
    check_model("mlp", &mlp::MLP::default(), mlp::MLP::forward);
}

#[test]
fn shared_goldens() {
    check_model("shared", &shared::SharedDense, shared::SharedDense::forward);
}

#[test]
fn cnn_goldens() {
    check_model("cnn", &cnn::CNN, cnn::CNN::forward);
}

#[test]
fn resblock_goldens() {
    check_model(
        "resblock",
        &resblock::ResNetBasicBlock::default(),
        resblock::ResNetBasicBlock::forward,
    );
}

#[test]
fn transformer_goldens() {
    check_model(
        "transformer",
        &transformer::EncoderBlock::default(),
        transformer::EncoderBlock::forward,
    );
}

#[test]
fn embed_lstm_goldens() {
    check_model(
        "embed_lstm",
        &embed_lstm::EmbedLSTM,
        embed_lstm::EmbedLSTM::forward,
    );
}

#[test]
fn gpt2_small_goldens() {
    check_model("gpt2_small", &gpt2_small::GPT2::default(), |m, x| {
        m.forward(x)
    });
}

/// rich's column shrinking, wrapping and `…` truncation at many widths
/// (`tests/golden/widths/`, made by `scripts/seed_widths.py` with Flax).
#[test]
fn seed_at_many_widths() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/widths");
    let x = Tensor::new(DType::F32, [16, 9]);
    let summary = tabulate(&foo::Foo)
        .compute_flops(true)
        .compute_vjp_flops(true)
        .run(|m| m.forward(&x))
        .expect("runs");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).expect("widths directory") {
        let path = entry.expect("entry").path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .expect("utf-8 name")
            .to_string();
        let width: usize = name
            .strip_prefix("seed_w")
            .and_then(|n| n.strip_suffix(".plain.txt"))
            .and_then(|n| n.parse().ok())
            .expect("seed_w{N}.plain.txt");
        let expected = std::fs::read_to_string(&path).expect("readable");
        assert_same(
            &summary.render(&RenderOptions::new().width(width)),
            &expected,
            &name,
        );
        checked += 1;
    }
    assert_eq!(checked, 19);
}
