//! Parameters declared as fields (`Param`, issue 8 item 6).
//!
//! A model whose variables are `Param` fields gives the same table, JSON and FLOPs, byte
//! for byte, as the same model declaring them with `param`/`variable` in `forward`; and
//! the `param` version is Flax's table (`tests/golden/field_params.json`, made by
//! `scripts/field_params.py` with flax 0.12.8, where the field declarations are Flax
//! `setup` variables and give the same table as the compact ones).

use serde_json::Value as Json;
use tabulate::prelude::*;
use tabulate::{Metric, Mutable, RenderOptions, param, variable};

// ------------------------------------------------------------------ the models

/// One variable of a layer besides its kernel and bias.
#[derive(Clone, Debug)]
struct VarSpec {
    collection: &'static str,
    dtype: DType,
    shape: Vec<usize>,
    /// Read in `forward` (it broadcasts to `[batch, outputs]` and multiplies the output).
    read: bool,
}

#[derive(Clone, Debug)]
struct LayerSpec {
    inputs: usize,
    outputs: usize,
    bias: bool,
    /// By field: `extra` (`params`), `stats` (`batch_stats`), `cache` (`cache`).
    extra: Vec<VarSpec>,
    stats: Vec<VarSpec>,
    cache: Vec<VarSpec>,
}

impl LayerSpec {
    /// Every variable after kernel and bias, in field order, with its name.
    fn vars(&self) -> impl Iterator<Item = (String, &VarSpec)> {
        let named = |prefix: &'static str| move |(i, v)| (format!("{prefix}_{i}"), v);
        (self.extra.iter().enumerate().map(named("extra")))
            .chain(self.stats.iter().enumerate().map(named("stats")))
            .chain(self.cache.iter().enumerate().map(named("cache")))
    }
}

#[derive(Clone, Debug)]
struct NetSpec {
    input: [usize; 2],
    layers: Vec<LayerSpec>,
}

impl NetSpec {
    fn outputs(&self) -> usize {
        self.layers.last().expect("a layer").outputs
    }
}

/// Multiplies `y` by a read variable, cast to float32 first when it is not.
fn apply_read(y: &Tensor, value: &Tensor) -> Result<Tensor> {
    if value.dtype() == DType::F32 {
        y.mul(value)
    } else {
        y.mul(&value.astype(DType::F32)?)
    }
}

/// The layer with its variables declared as fields.
#[derive(Tabulate)]
#[tabulate(rename = "Layer")]
struct FieldLayer {
    kernel: Param,
    bias: Option<Param>,
    extra: Vec<Param>,
    #[tabulate(collection = "batch_stats")]
    stats: Vec<Param>,
    #[tabulate(collection = "cache")]
    cache: Vec<Param>,
    reads: Vec<bool>,
}

impl FieldLayer {
    fn new(spec: &LayerSpec) -> FieldLayer {
        let params = |list: &[VarSpec]| -> Vec<Param> {
            list.iter()
                .map(|v| Param::new(v.dtype, v.shape.clone()))
                .collect()
        };
        FieldLayer {
            kernel: Param::new(DType::F32, [spec.inputs, spec.outputs]),
            bias: spec.bias.then(|| Param::new(DType::F32, [spec.outputs])),
            extra: params(&spec.extra),
            stats: params(&spec.stats),
            cache: params(&spec.cache),
            reads: spec.vars().map(|(_, v)| v.read).collect(),
        }
    }

    #[forward]
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let mut y = x.matmul(&self.kernel.get()?)?;
        if let Some(bias) = &self.bias {
            y = y.add(&bias.get()?)?;
        }
        let fields = self.extra.iter().chain(&self.stats).chain(&self.cache);
        for (field, &read) in fields.zip(&self.reads) {
            if read {
                y = apply_read(&y, &field.get()?)?;
            }
        }
        Ok(y)
    }
}

/// Declares one variable with `param` or `variable`.
fn declare(name: &str, v: &VarSpec) -> Result<Tensor> {
    if v.collection == "params" {
        param(name, v.dtype, v.shape.clone())
    } else {
        Ok(variable(v.collection, name, v.dtype, v.shape.clone())?
            .value()
            .clone())
    }
}

/// The same layer declaring its variables in `forward`: all first, in field order (as
/// Flax's `setup` and the fields do), or each where it is first used (`lazy`).
#[derive(Tabulate)]
#[tabulate(rename = "Layer")]
struct ParamLayer {
    spec: LayerSpec,
    lazy: bool,
}

impl ParamLayer {
    #[forward]
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let s = &self.spec;
        let kernel = VarSpec {
            collection: "params",
            dtype: DType::F32,
            shape: vec![s.inputs, s.outputs],
            read: true,
        };
        let bias = VarSpec {
            shape: vec![s.outputs],
            ..kernel.clone()
        };
        let mut values = Vec::new();
        if !self.lazy {
            declare("kernel", &kernel)?;
            if s.bias {
                declare("bias", &bias)?;
            }
            for (name, v) in s.vars() {
                values.push(declare(&name, v)?);
            }
        }
        let mut y = x.matmul(&declare("kernel", &kernel)?)?;
        if s.bias {
            y = y.add(&declare("bias", &bias)?)?;
        }
        for (name, v) in s.vars() {
            if v.read {
                y = apply_read(&y, &declare(&name, v)?)?;
            }
        }
        if self.lazy {
            for (name, v) in s.vars().filter(|(_, v)| !v.read) {
                declare(&name, v)?;
            }
        }
        Ok(y)
    }
}

/// `gain` a field (declared when the call opens), `offset` a `param` at first use: mixed.
#[derive(Tabulate)]
#[tabulate(rename = "Net")]
struct FieldNet {
    layers: Vec<FieldLayer>,
    gain: Param,
}

impl FieldNet {
    fn new(spec: &NetSpec) -> FieldNet {
        FieldNet {
            layers: spec.layers.iter().map(FieldLayer::new).collect(),
            gain: Param::new(DType::F32, [spec.outputs()]),
        }
    }

    #[forward]
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let mut h = x.clone();
        for layer in &self.layers {
            h = layer.forward(&h)?;
        }
        let h = h.mul(&self.gain.get()?)?;
        let outputs = h.dim(-1)?;
        h.add(&param("offset", DType::F32, [outputs])?)
    }
}

#[derive(Tabulate)]
#[tabulate(rename = "Net")]
struct ParamNet {
    layers: Vec<ParamLayer>,
    outputs: usize,
}

impl ParamNet {
    fn new(spec: &NetSpec, lazy: bool) -> ParamNet {
        ParamNet {
            layers: spec
                .layers
                .iter()
                .map(|l| ParamLayer {
                    spec: l.clone(),
                    lazy,
                })
                .collect(),
            outputs: spec.outputs(),
        }
    }

    #[forward]
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let gain = param("gain", DType::F32, [self.outputs])?;
        let mut h = x.clone();
        for layer in &self.layers {
            h = layer.forward(&h)?;
        }
        h.mul(&gain)?
            .add(&param("offset", DType::F32, [self.outputs])?)
    }
}

// ------------------------------------------------------------------ running

fn input(spec: &NetSpec) -> Tensor {
    Tensor::new(DType::F32, spec.input)
}

/// Flax's columns.
fn flax_summary<M: Tabulate>(model: &M, forward: impl FnOnce(&M) -> Result<Tensor>) -> Summary {
    tabulate(model)
        .compute_flops(true)
        .compute_vjp_flops(true)
        .run(forward)
        .expect("summary")
}

/// Every column and model-wide figure, at `depth`.
fn full_summary<M: Tabulate>(
    model: &M,
    depth: Option<usize>,
    forward: impl FnOnce(&M) -> Result<Tensor>,
) -> Summary {
    let mut tabulator = tabulate(model)
        .compute_flops(true)
        .compute_vjp_flops(true)
        .metric(Metric::Macs, true)
        .compute_self_flops(true)
        .trainable(true)
        .estimate_memory(true)
        .operators(true);
    if let Some(depth) = depth {
        tabulator = tabulator.depth(depth);
    }
    tabulator.run(forward).expect("summary")
}

fn plain(summary: &Summary) -> String {
    summary.render(&RenderOptions::new().width(200))
}

/// Table text, JSON and every row's FLOPs of `a` and `b` are identical.
fn assert_same(a: &Summary, b: &Summary, what: &str) {
    assert_eq!(plain(a), plain(b), "{what}: tables differ");
    assert_eq!(
        serde_json::to_string(a).expect("JSON"),
        serde_json::to_string(b).expect("JSON"),
        "{what}: JSON differs"
    );
    let flops = |s: &Summary| -> Vec<_> {
        s.rows
            .iter()
            .map(|r| (r.flops(), r.vjp_flops(), r.macs(), r.self_flops()))
            .collect()
    };
    assert_eq!(flops(a), flops(b), "{what}: FLOPs differ");
}

// ------------------------------------------------------------------ against Flax

fn dtype_of(name: &str) -> DType {
    match name {
        "float32" => DType::F32,
        "bfloat16" => DType::BF16,
        "float16" => DType::F16,
        "int32" => DType::I32,
        other => panic!("spec: unknown dtype {other}"),
    }
}

fn collection_of(name: &str) -> &'static str {
    match name {
        "params" => "params",
        "batch_stats" => "batch_stats",
        "cache" => "cache",
        other => panic!("spec: unknown collection {other}"),
    }
}

fn spec_of(json: &Json) -> NetSpec {
    let size = |v: &Json| usize::try_from(v.as_u64().expect("a size")).expect("usize");
    let input = json["input"].as_array().expect("input");
    let layers = json["layers"]
        .as_array()
        .expect("layers")
        .iter()
        .map(|layer| {
            let mut spec = LayerSpec {
                inputs: size(&layer["inputs"]),
                outputs: size(&layer["outputs"]),
                bias: layer["bias"].as_bool().expect("bias"),
                extra: Vec::new(),
                stats: Vec::new(),
                cache: Vec::new(),
            };
            for v in layer["vars"].as_array().expect("vars") {
                let var = VarSpec {
                    collection: collection_of(v["collection"].as_str().expect("collection")),
                    dtype: dtype_of(v["dtype"].as_str().expect("dtype")),
                    shape: v["shape"]
                        .as_array()
                        .expect("shape")
                        .iter()
                        .map(size)
                        .collect(),
                    read: v["read"].as_bool().expect("read"),
                };
                let name = v["name"].as_str().expect("name");
                let list = match var.collection {
                    "params" => &mut spec.extra,
                    "batch_stats" => &mut spec.stats,
                    _ => &mut spec.cache,
                };
                // Names are `{field}_{index}`: the spec lists them in field order.
                assert!(name.ends_with(&format!("_{}", list.len())), "spec: {name}");
                list.push(var);
            }
            spec
        })
        .collect();
    NetSpec {
        input: [size(&input[0]), size(&input[1])],
        layers,
    }
}

#[test]
fn field_and_param_models_give_flaxs_tables() {
    let path = format!(
        "{}/tests/golden/field_params.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let cases: Json =
        serde_json::from_str(&std::fs::read_to_string(path).expect("cases")).expect("JSON");
    let cases = cases.as_array().expect("a list of cases");
    assert!(cases.len() >= 12, "{} cases", cases.len());
    for case in cases {
        let id = case["id"].as_str().expect("id");
        let spec = spec_of(&case["spec"]);
        let x = input(&spec);
        let flax = case["table"].as_str().expect("table");
        let by_param = flax_summary(&ParamNet::new(&spec, false), |m| m.forward(&x));
        assert_eq!(
            plain(&by_param),
            flax,
            "{id}: the `param` model is not Flax's table"
        );
        let by_field = flax_summary(&FieldNet::new(&spec), |m| m.forward(&x));
        assert_same(&by_field, &by_param, id);
    }
}

// ------------------------------------------------------------------ seeded random models

/// `SplitMix64`: a small seeded generator, so the cases are the same on every run.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..hi`.
    fn range(&mut self, lo: usize, hi: usize) -> usize {
        let span = u64::try_from(hi - lo).expect("span");
        lo + usize::try_from(self.next() % span).expect("fits")
    }

    fn flag(&mut self) -> bool {
        self.next() & 1 == 1
    }
}

const DTYPES: [DType; 5] = [DType::F32, DType::BF16, DType::F16, DType::I32, DType::I8];

fn random_var(
    rng: &mut SplitMix,
    collection: &'static str,
    batch: usize,
    outputs: usize,
) -> VarSpec {
    let read = rng.flag();
    if read {
        let shape = match rng.range(0, 4) {
            0 => vec![outputs],
            1 => vec![1, outputs],
            2 => vec![batch, outputs],
            _ => vec![],
        };
        VarSpec {
            collection,
            dtype: DTYPES[rng.range(0, 3)],
            shape,
            read,
        }
    } else {
        let rank = rng.range(0, 4);
        VarSpec {
            collection,
            dtype: DTYPES[rng.range(0, DTYPES.len())],
            shape: (0..rank).map(|_| rng.range(1, 8)).collect(),
            read,
        }
    }
}

fn random_spec(rng: &mut SplitMix) -> NetSpec {
    let batch = rng.range(1, 9);
    let mut features = rng.range(1, 300);
    let input = [batch, features];
    let layers = (0..rng.range(1, 5))
        .map(|_| {
            let outputs = rng.range(1, 300);
            let mut list = |collection| {
                (0..rng.range(0, 3))
                    .map(|_| random_var(rng, collection, batch, outputs))
                    .collect::<Vec<_>>()
            };
            let (extra, stats, cache) = (list("params"), list("batch_stats"), list("cache"));
            let spec = LayerSpec {
                inputs: features,
                outputs,
                bias: rng.flag(),
                extra,
                stats,
                cache,
            };
            features = outputs;
            spec
        })
        .collect();
    NetSpec { input, layers }
}

#[test]
fn random_field_models_equal_their_param_models() {
    let mut rng = SplitMix(0x005e_edf1_e1d5);
    for case in 0..60 {
        let spec = random_spec(&mut rng);
        let x = input(&spec);
        let depth = [None, Some(0), Some(1)][case % 3];
        let what = format!("case {case} (depth {depth:?}): {spec:?}");
        let by_field = full_summary(&FieldNet::new(&spec), depth, |m| m.forward(&x));
        let eager = full_summary(&ParamNet::new(&spec, false), depth, |m| m.forward(&x));
        assert_same(&by_field, &eager, &what);
        // Declaring at the call or at first use is the same variable with the same costs.
        let lazy = full_summary(&ParamNet::new(&spec, true), depth, |m| m.forward(&x));
        assert_same(&by_field, &lazy, &what);
    }
}

// ------------------------------------------------------------------ behaviour

/// `weight` both a field and a `param` call.
#[derive(Tabulate)]
struct Clash {
    weight: Param,
    #[tabulate(collection = "batch_stats")]
    scale: Param,
}

impl Clash {
    fn new() -> Clash {
        Clash {
            weight: Param::new(DType::F32, [3, 2]),
            scale: Param::new(DType::F32, [2]),
        }
    }

    #[forward]
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        // The same name in another collection is another variable, as in Flax.
        let scale = variable("cache", "scale", DType::F32, [2])?;
        let y = x.matmul(&self.weight.get()?)?.mul(scale.value())?;
        y.mul(&param("weight", DType::F32, [3, 2])?)
    }
}

#[derive(Tabulate)]
struct Holder {
    blocks: Vec<Clash>,
}

impl Holder {
    #[forward]
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.blocks[0].forward(x)
    }
}

#[test]
fn a_field_and_a_param_call_of_one_name_is_an_error_naming_the_module() {
    let holder = Holder {
        blocks: vec![Clash::new()],
    };
    let x = Tensor::new(DType::F32, [4, 3]);
    let error = tabulate(&holder).run(|h| h.forward(&x)).unwrap_err();
    assert_eq!(
        error.to_string(),
        "blocks_0 (Clash): variable `weight` in collection `params` is declared twice: by the `Param` field `weight` and by a call of `param`/`variable`; rename one of them"
    );
}

/// Holds a layer it never calls, a shared parameter, a renamed one and a skipped one.
#[derive(Tabulate)]
struct Odd {
    used: Scale,
    unused: Scale,
    #[tabulate(rename = "kernel")]
    w: Param,
    tied: std::rc::Rc<Param>,
    also_tied: std::rc::Rc<Param>,
    #[tabulate(skip)]
    loose: Param,
    read_loose: bool,
}

#[derive(Tabulate)]
struct Scale {
    gain: Param,
}

impl Scale {
    fn new(n: usize) -> Scale {
        Scale {
            gain: Param::new(DType::F32, [n]),
        }
    }

    #[forward]
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.mul(&self.gain.get()?)
    }
}

impl Odd {
    fn new(read_loose: bool) -> Odd {
        let tied = std::rc::Rc::new(Param::new(DType::BF16, [4]));
        Odd {
            used: Scale::new(4),
            unused: Scale::new(1000),
            w: Param::new(DType::F32, [4, 4]),
            also_tied: tied.clone(),
            tied,
            loose: Param::new(DType::F32, [4]),
            read_loose,
        }
    }

    #[forward]
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let h = self.used.forward(&x.matmul(&self.w.get()?)?)?;
        let h = self.used.forward(&h)?;
        let h = h.mul(&self.also_tied.get()?.astype(DType::F32)?)?;
        if self.read_loose {
            return h.mul(&self.loose.get()?);
        }
        Ok(h)
    }
}

#[test]
fn fields_are_named_shared_and_created_at_their_modules_call() {
    let x = Tensor::new(DType::F32, [2, 4]);
    let summary = tabulate(&Odd::new(false))
        .show_repeated(true)
        .run(|m| m.forward(&x))
        .expect("summary");
    let rows: Vec<(String, Vec<String>)> = summary
        .rows
        .iter()
        .map(|r| {
            let leaves = r.variables[0]
                .own
                .iter()
                .map(|l| format!("{}: {}{}", l.name, l.dtype, l.shape))
                .collect();
            (r.path.join("/"), leaves)
        })
        .collect();
    // `unused` is never called: no row, no variable. The tied parameter is one variable,
    // named after the first field that holds it; the repeated call shows none.
    assert_eq!(
        rows,
        [
            (
                String::new(),
                vec![
                    "kernel: float32[4,4]".to_string(),
                    "tied: bfloat16[4]".to_string()
                ]
            ),
            ("used".to_string(), vec!["gain: float32[4]".to_string()]),
            ("used".to_string(), vec![]),
        ]
    );
    assert_eq!(summary.total().count, 24);
}

#[test]
fn a_skipped_param_cannot_be_read() {
    let x = Tensor::new(DType::F32, [2, 4]);
    let error = tabulate(&Odd::new(true))
        .run(|m| m.forward(&x))
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "Odd: a `Param` (float32[4]) was read that is not a field of a module being called: make it a field of a `#[derive(Tabulate)]` module (not `#[tabulate(skip)]`) and read it inside that module's `#[forward]` methods"
    );
}

/// Only `params` is mutable: a `batch_stats` field cannot be declared even if never read,
/// exactly as a `variable` call could not.
#[derive(Tabulate)]
struct Stats {
    #[tabulate(collection = "batch_stats")]
    mean: Param,
}

impl Stats {
    #[forward]
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        Ok(x.clone())
    }
}

#[derive(Tabulate)]
struct StatsByCall;

impl StatsByCall {
    #[forward]
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        variable("batch_stats", "mean", DType::F32, [3])?;
        Ok(x.clone())
    }
}

#[test]
fn a_field_in_an_immutable_collection_fails_the_run_like_a_variable_call() {
    let x = Tensor::new(DType::F32, [2, 3]);
    let stats = Stats {
        mean: Param::new(DType::F32, [3]),
    };
    let by_field = tabulate(&stats)
        .mutable(Mutable::only(["params"]))
        .run(|m| m.forward(&x))
        .unwrap_err();
    let by_call = tabulate(&StatsByCall)
        .mutable(Mutable::only(["params"]))
        .run(|m| m.forward(&x))
        .unwrap_err()
        .to_string();
    assert_eq!(
        by_call,
        "StatsByCall: cannot declare variable `mean` in collection `batch_stats`: the collection is not mutable (see the `mutable` option)"
    );
    assert_eq!(
        by_field.to_string(),
        by_call.replace("StatsByCall", "Stats")
    );
}

/// A module whose field is of a type parameter, holding a `Param`.
#[derive(Tabulate)]
struct Wrap<T> {
    inner: T,
}

impl Wrap<Param> {
    #[forward]
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.add(&self.inner.get()?)
    }
}

#[test]
fn generic_fields_and_reads_outside_a_run() {
    let wrap = Wrap {
        inner: Param::new(DType::F16, [5]),
    };
    let x = Tensor::new(DType::F16, [5]);
    let summary = wrap.summary(&x).expect("summary");
    assert_eq!(summary.rows[0].variables[0].own[0].name, "inner");
    // Outside a run a `Param` reads as a fresh tensor of its dtype and shape.
    let value = wrap.inner.get().expect("value");
    assert_eq!(
        (value.dtype(), value.shape().dims()),
        (DType::F16, &[5][..])
    );
    assert_eq!(wrap.forward(&x).expect("forward").shape().dims(), [5]);
}

/// One layer called twice: the field version and the `param` version agree on every
/// row, repeated ones included.
#[derive(Tabulate)]
#[tabulate(rename = "Twice")]
struct TwiceFields {
    layer: FieldLayer,
}

#[derive(Tabulate)]
#[tabulate(rename = "Twice")]
struct TwiceParams {
    layer: ParamLayer,
}

impl TwiceFields {
    #[forward]
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.layer.forward(&self.layer.forward(x)?)
    }
}

impl TwiceParams {
    #[forward]
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.layer.forward(&self.layer.forward(x)?)
    }
}

#[test]
fn repeated_calls_find_the_same_variables() {
    let mut rng = SplitMix(7);
    for _ in 0..10 {
        let mut spec = random_spec(&mut rng);
        let layer = spec.layers.swap_remove(0);
        let layer = LayerSpec {
            inputs: layer.outputs,
            ..layer
        };
        let x = Tensor::new(DType::F32, [spec.input[0], layer.inputs]);
        for show_repeated in [false, true] {
            let by_field = tabulate(&TwiceFields {
                layer: FieldLayer::new(&layer),
            })
            .show_repeated(show_repeated)
            .compute_flops(true)
            .compute_vjp_flops(true)
            .run(|m| m.forward(&x))
            .expect("summary");
            let by_param = tabulate(&TwiceParams {
                layer: ParamLayer {
                    spec: layer.clone(),
                    lazy: true,
                },
            })
            .show_repeated(show_repeated)
            .compute_flops(true)
            .compute_vjp_flops(true)
            .run(|m| m.forward(&x))
            .expect("summary");
            assert_same(&by_field, &by_param, &format!("{layer:?}"));
        }
    }
}

/// A recurrent cell of your own, its kernel a field or a `param`, scanned by `RNN`: the
/// lifted calls Flax records (`scan_fn`, and `<lambda>` next to the `RNN`) do not declare
/// the cell's fields anywhere else than at the cell.
#[derive(Tabulate)]
#[tabulate(rename = "Cell")]
struct FieldCell {
    kernel: Param,
    features: usize,
}

#[derive(Tabulate)]
#[tabulate(rename = "Cell")]
struct ParamCell {
    inputs: usize,
    features: usize,
}

fn cell_step(kernel: &Tensor, carry: &Tensor, x: &Tensor) -> Result<(Tensor, Tensor)> {
    let h = Tensor::concatenate(&[carry, x], -1)?
        .matmul(kernel)?
        .tanh()?;
    Ok((h.clone(), h))
}

impl tabulate::nn::RNNCell for FieldCell {
    type Carry = Tensor;

    #[forward(no_summary)]
    fn step(&self, carry: &Tensor, x: &Tensor) -> Result<(Tensor, Tensor)> {
        cell_step(&self.kernel.get()?, carry, x)
    }

    fn initialize_carry(&self, input_shape: &[usize]) -> Result<Tensor> {
        Tensor::zeros(DType::F32, [input_shape[0], self.features])
    }
}

impl tabulate::nn::RNNCell for ParamCell {
    type Carry = Tensor;

    #[forward(no_summary)]
    fn step(&self, carry: &Tensor, x: &Tensor) -> Result<(Tensor, Tensor)> {
        let kernel = param(
            "kernel",
            DType::F32,
            [self.features + self.inputs, self.features],
        )?;
        cell_step(&kernel, carry, x)
    }

    fn initialize_carry(&self, input_shape: &[usize]) -> Result<Tensor> {
        Tensor::zeros(DType::F32, [input_shape[0], self.features])
    }
}

#[test]
fn a_scanned_cell_declares_its_fields_at_the_cell() {
    use tabulate::nn::RNN;
    let (inputs, features) = (3, 5);
    let x = Tensor::new(DType::F32, [2, 7, inputs]);
    let by_field = tabulate(&RNN::new(FieldCell {
        kernel: Param::new(DType::F32, [features + inputs, features]),
        features,
    }))
    .show_repeated(true)
    .compute_flops(true)
    .compute_vjp_flops(true)
    .run(|m| m.forward(&x))
    .expect("summary");
    let by_param = tabulate(&RNN::new(ParamCell { inputs, features }))
        .show_repeated(true)
        .compute_flops(true)
        .compute_vjp_flops(true)
        .run(|m| m.forward(&x))
        .expect("summary");
    assert_same(&by_field, &by_param, "RNN(Cell)");
    let paths: Vec<String> = by_field.rows.iter().map(|r| r.path.join("/")).collect();
    assert!(paths.iter().any(|p| p == "cell"), "{paths:?}");
}
