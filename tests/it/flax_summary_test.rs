//! Flax's own tabulate tests (`tests/linen/summary_test.py` of flax 0.12.8), ported: the
//! same models written with `tabulate`, each table compared byte for byte with the text
//! real Flax printed for the test's call (`tests/golden/summary_test/*.txt`, made by
//! `scripts/summary_test_port.py`), and the rows the tests read from
//! `summary._get_module_table` compared field by field (`rows.json`).
//!
//! The tests of that file without an analogue here yet are listed in README.md
//! ("Flax's `summary_test.py`: tests without an analogue (yet)"); their expected tables are
//! generated too.
//!
//! Collection columns: Flax orders them by its variables dict (hash-seed dependent),
//! `tabulate` puts `params` first, then the others alphabetically (a deliberate difference,
//! DESIGN.md). Where Flax's order differs, the test renders Flax's order explicitly with
//! [`RenderOptions::columns`].

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value as Json;
use tabulate::nn::{
    BatchNorm, Conv, Dense, DenseGeneral, Dropout, SpectralNorm, WeightNorm, initializers, relu,
    with_logical_partitioning, with_partitioning,
};
use tabulate::prelude::*;
use tabulate::{ColorChoice, Column, ModuleIdentity, Mutable, RenderOptions, Summary};

fn golden(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden/summary_test")
        .join(format!("{name}.txt"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The test's `CONSOLE_TEST_KWARGS`: no colour, width 10,000 (the natural width).
fn plain(summary: &Summary) -> String {
    summary.render(&RenderOptions::new().width(10_000))
}

/// Flax's columns for a table whose collections Flax orders differently from ours.
fn flax_columns(summary: &Summary, collections: &[&str]) -> String {
    let mut columns = vec![
        Column::Path,
        Column::Module,
        Column::Inputs,
        Column::Outputs,
    ];
    columns.extend(summary.metrics.iter().map(|&m| Column::Metric(m)));
    columns.extend(
        collections
            .iter()
            .map(|c| Column::Collection((*c).to_string())),
    );
    summary.render(&RenderOptions::new().width(10_000).columns(columns))
}

/// The summary of `model` with both FLOP columns, as the tests' `**FLOPS` keywords ask.
#[track_caller]
fn with_flops<M: Tabulate, R: tabulate::ForwardOutput>(
    model: &M,
    forward: impl FnOnce(&M) -> R,
) -> Summary {
    tabulate(model)
        .compute_flops(true)
        .compute_vjp_flops(true)
        .run(forward)
        .expect("summary")
}

#[track_caller]
fn assert_table(actual: &str, name: &str) {
    let expected = golden(name);
    if actual != expected {
        for (i, (a, e)) in actual.lines().zip(expected.lines()).enumerate() {
            assert_eq!(
                a, e,
                "{name}: first difference at line {i}\n\nours:\n{actual}\nflax:\n{expected}"
            );
        }
        panic!("{name}: line counts differ\nours:\n{actual}\nflax:\n{expected}");
    }
}

fn rows(name: &str) -> Vec<Json> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/summary_test/rows.json");
    let all: Json = serde_json::from_str(&std::fs::read_to_string(path).expect("rows.json"))
        .expect("rows.json is JSON");
    all[name].as_array().expect("rows of the test").clone()
}

/// Every row's path, type, method, FLOPs and counted sizes against Flax's.
#[track_caller]
fn assert_rows(summary: &Summary, name: &str) {
    let expected = rows(name);
    assert_eq!(summary.rows.len(), expected.len(), "{name}: row count");
    for (row, flax) in summary.rows.iter().zip(&expected) {
        let path = row.path.join("/");
        assert_eq!(path, flax["path"].as_str().unwrap(), "{name}: path");
        assert_eq!(
            row.module_type,
            flax["module_type"].as_str().unwrap(),
            "{name}: {path}"
        );
        let method = if row.method == "forward" {
            "__call__"
        } else {
            &row.method
        };
        assert_eq!(
            method,
            flax["method"].as_str().unwrap(),
            "{name}: {path} method"
        );
        assert_eq!(row.flops(), flax["flops"].as_u64(), "{name}: {path} flops");
        assert_eq!(
            row.vjp_flops(),
            flax["vjp_flops"].as_u64(),
            "{name}: {path} vjp_flops"
        );
        for (collection, size) in flax["variables"].as_object().unwrap() {
            let i = summary.collections.iter().position(|c| c == collection);
            let counted = i.map(|i| row.variables[i].counted).unwrap_or_default();
            assert_eq!(
                counted.count,
                size["count"].as_u64().unwrap(),
                "{name}: {path} {collection}"
            );
            assert_eq!(
                counted.bytes,
                size["bytes"].as_u64().unwrap(),
                "{name}: {path} {collection}"
            );
        }
    }
}

// ------------------------------------------------------------------ the file's CNN

/// `ConvBlock`: setup style (`conv`, `bn`, `dropout`), two methods with the same body.
#[derive(Tabulate)]
struct ConvBlock {
    conv: Conv,
    bn: BatchNorm,
    dropout: Dropout,
    test_sow: bool,
}

impl ConvBlock {
    fn new(features: usize, test_sow: bool) -> ConvBlock {
        ConvBlock {
            conv: Conv::new(features, [3, 3]),
            bn: BatchNorm::new(None),
            dropout: Dropout::new(0.5),
            test_sow,
        }
    }

    fn body(&self, x: &Tensor, training: bool) -> Result<Tensor> {
        let x = self.conv.forward(x)?;
        if self.test_sow {
            tabulate::sow("intermediates", "INTERM", &x)?;
        }
        let x = self.bn.forward_with(&x, !training)?;
        let x = self.dropout.forward(&x, !training)?;
        relu(&x)
    }

    #[forward]
    fn block_method(&self, x: &Tensor, #[kwarg] training: bool) -> Result<Tensor> {
        self.body(x, training)
    }

    #[forward]
    fn forward(&self, x: &Tensor, #[kwarg] training: bool) -> Result<Tensor> {
        self.body(x, training)
    }
}

#[derive(Tabulate)]
#[tabulate(rename = "CNN")]
struct Cnn {
    block1: ConvBlock,
    block2: ConvBlock,
    dense: Dense,
    test_sow: bool,
}

type CnnOutput = (Tensor, BTreeMap<&'static str, Tensor>);

impl Cnn {
    fn new(test_sow: bool) -> Cnn {
        Cnn {
            block1: ConvBlock::new(32, test_sow),
            block2: ConvBlock::new(64, test_sow),
            dense: Dense::new(10),
            test_sow,
        }
    }

    fn body(&self, x: &Tensor, training: bool) -> Result<CnnOutput> {
        let x = self.block1.block_method(x, training)?;
        let x = self.block2.block_method(&x, training)?;
        let x = x.mean(&[1, 2], false)?;
        if self.test_sow {
            tabulate::sow("intermediates", "INTERM", &x)?;
        }
        let x = self.dense.forward(&x)?;
        let b = x.add(1.0)?;
        Ok((x.clone(), BTreeMap::from([("a", x), ("b", b)])))
    }

    #[forward]
    fn cnn_method(&self, x: &Tensor, #[kwarg] training: bool) -> Result<CnnOutput> {
        self.body(x, training)
    }

    #[forward]
    fn forward(&self, x: &Tensor, #[kwarg] training: bool) -> Result<CnnOutput> {
        self.body(x, training)
    }
}

fn cnn_input() -> Tensor {
    Tensor::new(DType::F32, [32, 28, 28, 1])
}

fn cnn_summary(
    cnn: &Cnn,
    options: impl FnOnce(tabulate::Tabulator<'_, Cnn>) -> tabulate::Tabulator<'_, Cnn>,
) -> Summary {
    let x = cnn_input();
    options(
        tabulate(cnn)
            .rngs(["dropout", "params"])
            .compute_flops(true)
            .compute_vjp_flops(true),
    )
    .run(|m| m.forward(&x, true))
    .expect("CNN summary")
}

/// `test_module_summary`: every row of `_get_module_table(depth=None,
/// show_repeated=True)` with `mutable=True`, and the table `nn.tabulate` prints for it.
#[test]
fn test_module_summary() {
    let cnn = Cnn::new(false);
    let summary = cnn_summary(&cnn, |t| t.show_repeated(true).mutable(Mutable::All));
    assert_rows(&summary, "test_module_summary");
    assert_table(&plain(&summary), "test_module_summary");
}

/// `test_module_summary_with_depth`: `depth=1`.
#[test]
fn test_module_summary_with_depth() {
    let cnn = Cnn::new(false);
    let summary = cnn_summary(&cnn, |t| {
        t.depth(1).show_repeated(true).mutable(Mutable::All)
    });
    assert_rows(&summary, "test_module_summary_with_depth");
    assert_table(&plain(&summary), "test_module_summary_with_depth");
}

/// `test_tabulate` and `test_tabulate_function` (`Module.tabulate` and `nn.tabulate` print
/// the same table): Flax's default `mutable`.
#[test]
fn test_tabulate() {
    let cnn = Cnn::new(false);
    let summary = cnn_summary(&cnn, |t| t);
    let text = plain(&summary);
    assert_table(&text, "test_tabulate");
    assert_table(&text, "test_tabulate_function");
    assert_eq!(summary.params().count, 19_658);
    assert_eq!(summary.collection("batch_stats").count, 192);
    assert_eq!(summary.total().count, 19_850);
}

/// `test_tabulate_with_sow`: `mutable=True` stores the sown values in `intermediates`;
/// with Flax's default `mutable` (all but `intermediates`) `sow` stores nothing.
#[test]
fn test_tabulate_with_sow() {
    let cnn = Cnn::new(true);
    let summary = cnn_summary(&cnn, |t| t.mutable(Mutable::All));
    assert_table(
        &flax_columns(&summary, &["intermediates", "params", "batch_stats"]),
        "test_tabulate_with_sow",
    );
    let summary = cnn_summary(&cnn, |t| t);
    assert_table(&plain(&summary), "test_tabulate_with_sow_default_mutable");
}

/// `test_tabulate_with_method`: `method=CNN.cnn_method`.
#[test]
fn test_tabulate_with_method() {
    let cnn = Cnn::new(false);
    let x = cnn_input();
    let summary = tabulate(&cnn)
        .rngs(["dropout", "params"])
        .compute_flops(true)
        .compute_vjp_flops(true)
        .run(|m| m.cnn_method(&x, true))
        .expect("summary");
    assert_table(&plain(&summary), "test_tabulate_with_method");
}

// ------------------------------------------------------------------ module reuse

/// `test_module_reuse`'s `ConvBlock`: compact, built once in `CNN` and called three times.
#[derive(Tabulate)]
#[tabulate(rename = "ConvBlock")]
struct ReuseBlock {
    identity: ModuleIdentity,
}

impl ReuseBlock {
    #[forward]
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let x = Conv::new(32, [3, 3]).forward(x)?;
        let x = BatchNorm::new(true).forward(&x)?;
        let x = Dropout::new(0.5).deterministic(true).forward(&x, None)?;
        relu(&x)
    }
}

#[derive(Tabulate)]
#[tabulate(rename = "CNN")]
struct ReuseCnn;

impl ReuseCnn {
    /// The test calls `CNN().tabulate(key, x=x)`: `x` is a keyword.
    #[forward]
    fn forward(&self, #[kwarg] x: &Tensor) -> Result<Tensor> {
        let block = ReuseBlock {
            identity: ModuleIdentity::new(),
        };
        let x = block.forward(x)?;
        let x = block.forward(&x)?;
        block.forward(&x)
    }
}

#[test]
fn test_module_reuse() {
    let x = Tensor::new(DType::F32, [4, 28, 28, 32]);
    let summary = tabulate(&ReuseCnn)
        .show_repeated(true)
        .compute_flops(true)
        .compute_vjp_flops(true)
        .run(|m| m.forward(&x))
        .expect("summary");
    assert_table(&plain(&summary), "test_module_reuse");

    // "CNN FLOPs are 3x ConvBlock FLOPs": the depth-1 tables the test compares.
    let cnn = tabulate(&ReuseCnn)
        .depth(1)
        .show_repeated(true)
        .mutable(Mutable::All)
        .rngs(["dropout", "params"])
        .compute_flops(true)
        .compute_vjp_flops(true)
        .run(|m| m.forward(&x))
        .expect("summary");
    assert_rows(&cnn, "test_module_reuse_cnn");
    let block = ReuseBlock {
        identity: ModuleIdentity::new(),
    };
    let one = tabulate(&block)
        .depth(1)
        .show_repeated(true)
        .mutable(Mutable::All)
        .rngs(["dropout", "params"])
        .compute_flops(true)
        .compute_vjp_flops(true)
        .run(|m| m.forward(&x))
        .expect("summary");
    assert_rows(&one, "test_module_reuse_block");
    let sum: u64 = cnn.rows[1..].iter().map(|r| r.flops().unwrap()).sum();
    assert_eq!(cnn.rows[0].flops(), Some(sum));
    for row in &cnn.rows[1..] {
        assert_eq!(row.flops(), one.rows[0].flops());
        assert_eq!(row.vjp_flops(), one.rows[0].vjp_flops());
    }
}

// ------------------------------------------------------------------ scalars, no inputs

#[derive(Tabulate)]
struct EmptyInput;

impl EmptyInput {
    #[forward]
    fn forward(&self) -> i64 {
        1
    }
}

#[test]
fn test_empty_input() {
    let summary = with_flops(&EmptyInput, EmptyInput::forward);
    assert_table(&plain(&summary), "test_empty_input");
}

#[derive(Tabulate)]
struct Submodule;

impl Submodule {
    #[forward]
    fn forward(&self, #[kwarg] x: f64) -> f64 {
        x + 1.0
    }
}

#[derive(Tabulate)]
#[tabulate(rename = "EmptyInput")]
struct NumpyScalar;

impl NumpyScalar {
    #[forward]
    fn forward(&self) -> f64 {
        Submodule.forward(std::f64::consts::PI)
    }
}

#[test]
fn test_numpy_scalar() {
    let summary = with_flops(&NumpyScalar, NumpyScalar::forward);
    assert_table(&plain(&summary), "test_numpy_scalar");
}

// ------------------------------------------------------------------ partitioned params

#[derive(Tabulate)]
struct Classifier;

impl Classifier {
    #[forward]
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let hidden = Dense::new(1024)
            .kernel_init(with_partitioning(
                initializers::lecun_normal(),
                [None, Some("data")],
            ))
            .bias_init(with_partitioning(initializers::zeros(), [None::<&str>]))
            .name("hidden");
        let x = x.div(255.0)?;
        // flatten: `x.reshape((x.shape[0], -1))`, with the new `[usize; N]` form.
        let x = x.reshape([x.dim(0)?, x.shape().dims()[1..].iter().product()])?;
        let x = relu(&hidden.forward(&x)?)?;
        Dense::new(10).name("head").forward(&x)
    }
}

#[test]
fn test_partitioned_params() {
    let x = Tensor::new(DType::F32, [1, 28, 28, 1]);
    let summary = with_flops(&Classifier, |m| m.forward(&x));
    assert_table(&plain(&summary), "test_partitioned_params");
    let hidden = &summary.rows[1].variables[0];
    assert_eq!(hidden.own[1].name, "kernel");
    assert_eq!(
        hidden.own[1].partition,
        Some(vec![None, Some("data".to_string())])
    );
    assert_eq!(summary.rows[2].variables[0].own[0].partition, None);
}

// ------------------------------------------------------------------ non-array variables

/// Flax's `struct.PyTreeNode` with a static field: a mapping of its fields in the cell.
#[derive(Describe)]
struct Metadata {
    names: (&'static str, &'static str),
}

#[derive(Tabulate)]
#[tabulate(rename = "Foo")]
struct SowMetadata;

impl SowMetadata {
    #[forward]
    fn forward(&self) -> Result<()> {
        tabulate::sow(
            "foo",
            "bar",
            &Metadata {
                names: ("baz", "qux"),
            },
        )?;
        Ok(())
    }
}

#[test]
fn test_non_array_variables() {
    let summary = with_flops(&SowMetadata, SowMetadata::forward);
    assert_table(&plain(&summary), "test_non_array_variables");
    assert_eq!(summary.collections, ["foo"]);
    assert_eq!(summary.collection("foo").count, 0);
}

// ------------------------------------------------------------------ parameter count

#[derive(Tabulate)]
struct Foo;

impl Foo {
    #[forward]
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let h = Dense::new(4).forward(x)?;
        Dense::new(2).forward(&h)
    }
}

#[test]
fn test_tabulate_param_count_and_flops() {
    let x = Tensor::new(DType::F32, [16, 9]);
    let summary = with_flops(&Foo, |m| m.forward(&x));
    assert_table(&plain(&summary), "test_tabulate_param_count_and_flops");
    assert_eq!(summary.params().count, 50);
}

// ------------------------------------------------------------------ mapping inputs

/// `test_tabulate_enum`'s `Net`: a mapping of inputs (Flax shows an enum key by its value).
#[derive(Tabulate)]
struct Net;

impl Net {
    fn body(inputs: &BTreeMap<String, Tensor>) -> Result<Tensor> {
        let x = Dense::new(2).forward(&inputs["x"])?;
        x.sum(&[0, 1], false)
    }

    #[forward]
    fn forward(&self, inputs: &BTreeMap<String, Tensor>) -> Result<Tensor> {
        Net::body(inputs)
    }
}

/// `Net` called with `inputs=` as a keyword.
#[derive(Tabulate)]
#[tabulate(rename = "Net")]
struct NetKw;

impl NetKw {
    #[forward]
    fn forward(&self, #[kwarg] inputs: &BTreeMap<String, Tensor>) -> Result<Tensor> {
        Net::body(inputs)
    }
}

#[test]
fn test_tabulate_enum() {
    let inputs = BTreeMap::from([("x".to_string(), Tensor::new(DType::F32, [1, 1]))]);
    // The test's calls use Flax's default console: colour on.
    let colour = RenderOptions::new()
        .width(10_000)
        .color(ColorChoice::Always);
    let summary = tabulate(&Net).run(|m| m.forward(&inputs)).expect("summary");
    assert_table(&summary.render(&colour), "test_tabulate_enum_args");
    let summary = tabulate(&NetKw)
        .run(|m| m.forward(&inputs))
        .expect("summary");
    assert_table(&summary.render(&colour), "test_tabulate_enum_kwargs");
}

// ------------------------------------------------------------------ the features, alone

/// `sow` twice into `intermediates` and once into `other`, under three `mutable` choices.
#[derive(Tabulate)]
struct Sow;

impl Sow {
    #[forward]
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let y = Dense::new(3).forward(x)?;
        tabulate::sow("intermediates", "h", &y)?;
        tabulate::sow("intermediates", "h", &y.mul(2.0)?)?;
        tabulate::sow("other", "z", &y)?;
        Ok(y)
    }
}

#[test]
fn sow_follows_mutable() {
    let x = Tensor::new(DType::F32, [2, 4]);
    let run = |mutable: Option<Mutable>| {
        let mut t = tabulate(&Sow).compute_flops(true).compute_vjp_flops(true);
        if let Some(m) = mutable {
            t = t.mutable(m);
        }
        t.run(|m| m.forward(&x)).expect("summary")
    };
    let default = run(None);
    assert_table(
        &flax_columns(&default, &["other", "params"]),
        "part_sow_default_mutable",
    );
    let all = run(Some(Mutable::All));
    assert_table(
        &flax_columns(&all, &["intermediates", "other", "params"]),
        "part_sow_mutable_all",
    );
    let list = run(Some(Mutable::only(["params", "intermediates"])));
    assert_table(
        &flax_columns(&list, &["intermediates", "params"]),
        "part_sow_mutable_list",
    );
    // Flax's `mutable=['intermediates']` cannot create `params`: an error, as in Flax.
    let err = tabulate(&Sow)
        .mutable(Mutable::only(["intermediates"]))
        .run(|m| m.forward(&x))
        .expect_err("params are not mutable");
    assert_eq!(
        err.to_string(),
        "Dense_0 (Dense): cannot declare variable `kernel` in collection `params`: the collection is not mutable (see the `mutable` option)"
    );
}

/// Partitioned kernels and biases on `Dense`, `Conv` and `DenseGeneral`.
#[derive(Tabulate)]
#[tabulate(rename = "Partitioned")]
struct PartitionedModel;

impl PartitionedModel {
    #[forward]
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let x = Dense::new(16)
            .kernel_init(with_partitioning(
                initializers::lecun_normal(),
                ["embed", "mlp"],
            ))
            .forward(x)?;
        let x = Conv::new(8, [3, 3])
            .kernel_init(with_partitioning(
                initializers::lecun_normal(),
                [None, None, Some("mlp"), Some("out")],
            ))
            .bias_init(with_logical_partitioning(
                initializers::zeros_init(),
                ["out"],
            ))
            .forward(&x)?;
        DenseGeneral::new([2, 4])
            .use_bias(false)
            .kernel_init(with_partitioning(
                initializers::lecun_normal(),
                [Some("out"), Some("heads"), None],
            ))
            .forward(&x)
    }
}

#[test]
fn partitioned_layers() {
    let x = Tensor::new(DType::F32, [2, 6, 6, 5]);
    let summary = with_flops(&PartitionedModel, |m| m.forward(&x));
    assert_table(&plain(&summary), "part_partitioned");
}

/// Like Flax without a device mesh, names that do not match the rank are shown as given
/// (Flax 0.12.8 prints `kernel: float32[3,4] P(embed,)` for this model).
#[test]
fn partition_names_are_shown_as_given() {
    #[derive(Tabulate)]
    struct Bad;
    impl Bad {
        #[forward]
        fn forward(&self, x: &Tensor) -> Result<Tensor> {
            Dense::new(4)
                .kernel_init(with_partitioning(initializers::lecun_normal(), ["embed"]))
                .forward(x)
        }
    }
    let x = Tensor::new(DType::F32, [2, 3]);
    let text = plain(&Bad.summary(&x).expect("summary"));
    assert!(
        text.contains("│ kernel: float32[3,4] P(embed,) │"),
        "{text}"
    );
}

/// Partitioned initialisers on every other layer that takes one: `Embed`, the norms,
/// attention (with `out_kernel_init`), `Einsum`, `ConvTranspose`.
#[derive(Tabulate)]
#[tabulate(rename = "PartitionedMore")]
struct PartitionedMore;

impl PartitionedMore {
    #[forward]
    fn forward(&self, tokens: &Tensor) -> Result<Tensor> {
        use tabulate::nn::{
            ConvTranspose, Einsum, Embed, GroupNorm, LayerNorm, MultiHeadDotProductAttention,
            RMSNorm,
        };
        let x = Embed::new(11, 8)
            .embedding_init(with_partitioning(
                initializers::normal(0.02),
                ["vocab", "embed"],
            ))
            .forward(tokens)?;
        let x = LayerNorm::new()
            .scale_init(with_partitioning(initializers::ones(), ["embed"]))
            .bias_init(with_partitioning(initializers::zeros(), ["embed"]))
            .forward(&x)?;
        let x = MultiHeadDotProductAttention::new(2)
            .kernel_init(with_partitioning(
                initializers::lecun_normal(),
                ["embed", "heads", "kv"],
            ))
            .bias_init(with_partitioning(initializers::zeros(), ["heads", "kv"]))
            .out_kernel_init(with_partitioning(
                initializers::lecun_normal(),
                ["heads", "kv", "embed"],
            ))
            .forward(&x, true)?;
        let x = RMSNorm::new()
            .scale_init(with_partitioning(initializers::ones(), ["embed"]))
            .forward(&x)?;
        let x = Einsum::new([8, 6], "btd,de->bte")
            .bias_init(with_partitioning(initializers::zeros(), ["mlp"]))
            .kernel_init(with_partitioning(
                initializers::lecun_normal(),
                ["embed", "mlp"],
            ))
            .forward(&x)?;
        let x = GroupNorm::new(2)
            .scale_init(with_partitioning(initializers::ones(), ["mlp"]))
            .forward(&x)?;
        let x = BatchNorm::new(false)
            .bias_init(with_partitioning(initializers::zeros(), ["mlp"]))
            .forward(&x)?;
        ConvTranspose::new(4, [3])
            .kernel_init(with_partitioning(
                initializers::lecun_normal(),
                [None, Some("mlp"), Some("out")],
            ))
            .forward(&x)
    }
}

#[test]
fn partitioned_layers_more() {
    let tokens = Tensor::new(DType::I32, [2, 5]);
    let summary = tabulate(&PartitionedMore)
        .mutable(Mutable::All)
        .compute_flops(true)
        .compute_vjp_flops(true)
        .run(|m| m.forward(&tokens))
        .expect("summary");
    assert_table(&plain(&summary), "part_partitioned_more");
}

/// `sow` with a `reduce_fn`/`init_fn` (a running sum from `0`, a running maximum), in a
/// module called twice (`show_repeated`).
#[derive(Tabulate)]
#[tabulate(rename = "SowSum")]
struct SowSum {
    identity: ModuleIdentity,
}

impl SowSum {
    #[forward]
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let y = Dense::new(3).forward(x)?;
        let zero = || Tensor::zeros(DType::F32, []);
        tabulate::sow_with("stats", "sum", &y, zero, |a, b| a.add(b))?;
        tabulate::sow_with("stats", "sum", &y.mul(2.0)?, zero, |a, b| a.add(b))?;
        tabulate::sow_with("stats", "max", &y, zero, |a, b| a.maximum(b))?;
        Ok(y)
    }
}

#[derive(Tabulate)]
#[tabulate(rename = "SowSumShared")]
struct SowSumShared;

impl SowSumShared {
    #[forward]
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let m = SowSum {
            identity: ModuleIdentity::new(),
        };
        let h = Dense::new(4).forward(&m.forward(x)?)?;
        m.forward(&h)
    }
}

#[test]
fn sow_with_reduce_fn() {
    let x = Tensor::new(DType::F32, [2, 4]);
    let summary = tabulate(&SowSumShared)
        .show_repeated(true)
        .compute_flops(true)
        .compute_vjp_flops(true)
        .run(|m| m.forward(&x))
        .expect("summary");
    assert_table(
        &flax_columns(&summary, &["stats", "params"]),
        "part_sow_reduce",
    );
}

/// The recurrent cells' `kernel_init` (input Denses), `recurrent_kernel_init` (hidden
/// Denses) and `bias_init`, in an `RNN` and called as cells.
#[derive(Tabulate)]
#[tabulate(rename = "PartitionedCells")]
struct PartitionedCells;

macro_rules! partitioned_cell {
    ($cell:expr) => {
        $cell
            .kernel_init(with_partitioning(
                initializers::lecun_normal(),
                ["embed", "mlp"],
            ))
            .recurrent_kernel_init(with_partitioning(
                initializers::orthogonal(),
                [Some("mlp"), None],
            ))
            .bias_init(with_partitioning(initializers::zeros_init(), ["mlp"]))
    };
}

impl PartitionedCells {
    #[forward]
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        use tabulate::nn::{GRUCell, LSTMCell, RNN, SimpleCell};
        let h = RNN::new(partitioned_cell!(GRUCell::new(4))).forward(x)?;
        let h = h.mean(&[1], false)?;
        let zeros = || Tensor::zeros(DType::F32, [2, 4]);
        let (_, y) = partitioned_cell!(LSTMCell::new(4)).forward(&(zeros()?, zeros()?), &h)?;
        let (_, z) = partitioned_cell!(SimpleCell::new(4)).forward(&zeros()?, &y)?;
        Ok(z)
    }
}

#[test]
fn partitioned_cells() {
    let x = Tensor::new(DType::F32, [2, 5, 3]);
    let summary = with_flops(&PartitionedCells, |m| m.forward(&x));
    assert_table(&plain(&summary), "part_partitioned_cells");
}

/// A partitioned initialiser on a variable of another collection (`self.variable`).
#[derive(Tabulate)]
#[tabulate(rename = "PartitionedVariable")]
struct PartitionedVariable;

impl PartitionedVariable {
    #[forward]
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let init = with_partitioning(initializers::zeros_init(), [Some("batch"), None]);
        let mut kv = tabulate::variable_with("cache", "kv", &init, x.dtype(), x.shape().clone())?;
        let updated = kv.value().add(x)?;
        kv.set(updated)?;
        Dense::new(3).forward(kv.value())
    }
}

#[test]
fn partitioned_variable() {
    let x = Tensor::new(DType::F32, [2, 8]);
    let summary = with_flops(&PartitionedVariable, |m| m.forward(&x));
    assert_table(
        &flax_columns(&summary, &["cache", "params"]),
        "part_partitioned_variable",
    );
}

/// `test_tabulate_norm_wrapper`'s inner module: `SpectralNorm`, a `Dense`, `WeightNorm`.
#[derive(Tabulate)]
#[tabulate(rename = "SubModel")]
struct NormSubModel;

impl NormSubModel {
    #[forward]
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let x = SpectralNorm::new(Dense::new(5)).forward(x, false)?;
        let x = Dense::new(6).forward(&x)?;
        WeightNorm::new(Dense::new(7)).forward(&x)
    }
}

/// `test_tabulate_norm_wrapper`'s model: the wrappers at the top and inside a submodule.
#[derive(Tabulate)]
#[tabulate(rename = "Model")]
struct NormModel;

impl NormModel {
    #[forward]
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let x = WeightNorm::new(Dense::new(3)).forward(x)?;
        let x = Dense::new(4).forward(&x)?;
        let x = NormSubModel.forward(&x)?;
        let x = Dense::new(8).forward(&x)?;
        SpectralNorm::new(Dense::new(9)).forward(&x, false)
    }
}

/// `test_tabulate_norm_wrapper`: `SpectralNorm`'s `u`/`sigma` in `batch_stats` and
/// `WeightNorm`'s `scale` in `params`, named after the wrapped layer's variable, with the
/// wrapped layer's own row beside the wrapper's.
#[test]
fn test_tabulate_norm_wrapper() {
    let x = Tensor::new(DType::F32, [1, 2]);
    let summary = with_flops(&NormModel, |m| m.forward(&x));
    assert_table(&plain(&summary), "test_tabulate_norm_wrapper");
    assert_eq!(summary.params().count, 290);
    assert_eq!(summary.collection("batch_stats").count, 16);
}
