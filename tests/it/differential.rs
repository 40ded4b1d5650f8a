//! The differential suite against the real Flax: `tests/differential/cases_*.json` (made by
//! `scripts/differential.py` with flax 0.12.8) holds random models — a spec in JSON — and
//! the rows Flax's table builder gives them. Every case is rebuilt here with the public API
//! and every field of every row is compared exactly.
//!
//! Cases that do not match yet are listed, with their cause, in
//! `tests/differential/known_failures.txt`. The test fails when a case not on that list
//! mismatches, and when a listed case matches (the list must shrink as fixes land).
//! `TABULATE_DIFF_REPORT=1` prints per-field match counts and every mismatch.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::Value as Json;
use tabulate::nn::{
    self, BatchNorm, Conv, ConvTranspose, Dense, DenseGeneral, Dropout, Einsum, Embed, GRUCell,
    GroupNorm, LSTMCell, LayerNorm, MultiHeadDotProductAttention, Padding, PoolPadding, RMSNorm,
    RNN, SelfAttention, Sequential, SimpleCell,
};
use tabulate::prelude::*;
use tabulate::{Submodules, Value, Visitor};

// ------------------------------------------------------------------ spec access

fn usize_of(op: &Json, key: &str) -> usize {
    op[key]
        .as_u64()
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or_else(|| panic!("spec: `{key}` must be a number in {op}"))
}

fn usizes(op: &Json, key: &str) -> Vec<usize> {
    op[key]
        .as_array()
        .unwrap_or_else(|| panic!("spec: `{key}` must be a list in {op}"))
        .iter()
        .map(|v| {
            v.as_u64()
                .and_then(|n| usize::try_from(n).ok())
                .expect("spec: a size")
        })
        .collect()
}

fn isizes(op: &Json, key: &str) -> Vec<isize> {
    op[key]
        .as_array()
        .unwrap_or_else(|| panic!("spec: `{key}` must be a list in {op}"))
        .iter()
        .map(|v| {
            v.as_i64()
                .and_then(|n| isize::try_from(n).ok())
                .expect("spec: an axis")
        })
        .collect()
}

fn flag(op: &Json, key: &str) -> bool {
    op[key]
        .as_bool()
        .unwrap_or_else(|| panic!("spec: `{key}` must be a bool in {op}"))
}

fn float(op: &Json, key: &str) -> f64 {
    op[key]
        .as_f64()
        .unwrap_or_else(|| panic!("spec: `{key}` must be a number in {op}"))
}

fn kind(op: &Json) -> &str {
    op["op"].as_str().expect("spec: every op has a kind")
}

fn conv_padding(p: &Json) -> Padding {
    match p.as_str() {
        Some("SAME") => Padding::Same,
        Some("VALID") => Padding::Valid,
        Some("CIRCULAR") => Padding::Circular,
        Some(other) => panic!("spec: padding {other}"),
        None => Padding::Explicit(
            p.as_array()
                .expect("spec: explicit padding")
                .iter()
                .map(|pair| {
                    (
                        pair[0].as_i64().expect("spec: padding"),
                        pair[1].as_i64().expect("spec: padding"),
                    )
                })
                .collect(),
        ),
    }
}

// ------------------------------------------------------------------ functions

/// A `fn` or `pool` op: no module, no row of its own.
fn apply_fn(op: &Json, x: &Tensor) -> Result<Tensor> {
    if kind(op) == "pool" {
        let window = usizes(op, "window");
        let strides = usizes(op, "strides");
        let padding = match op["padding"].as_str() {
            Some("SAME") => PoolPadding::Same,
            _ => PoolPadding::Valid,
        };
        return match op["kind"].as_str() {
            Some("avg") => nn::avg_pool(
                x,
                &window,
                Some(&strides),
                &padding,
                flag(op, "count_include_pad"),
            ),
            Some("max") => nn::max_pool(x, &window, Some(&strides), &padding),
            _ => nn::min_pool(x, &window, Some(&strides), &padding),
        };
    }
    let axis = || isize::try_from(op["axis"].as_i64().expect("spec: axis")).expect("axis");
    match op["name"].as_str().expect("spec: function name") {
        "relu" => nn::relu(x),
        "gelu" => nn::gelu_with(x, flag(op, "approximate")),
        "silu" => nn::silu(x),
        "swish" => nn::swish(x),
        "sigmoid" => nn::sigmoid(x),
        "tanh" => nn::tanh(x),
        "softmax" => nn::softmax_with(x, axis()),
        "log_softmax" => nn::log_softmax_with(x, axis()),
        "elu" => nn::elu(x),
        "leaky_relu" => nn::leaky_relu(x),
        "softplus" => nn::softplus(x),
        other => FAMILIES
            .iter()
            .find_map(|family| (family.apply_fn)(op, x))
            .unwrap_or_else(|| panic!("spec: function {other}")),
    }
}

fn is_module_op(op: &Json) -> bool {
    !matches!(kind(op), "fn" | "pool")
}

// ------------------------------------------------------------------ layers

/// Any module an op builds: a built-in layer or one of the user modules.
enum Built {
    Dense(Dense),
    DenseGeneral(DenseGeneral),
    Einsum(Einsum),
    Embed(Embed),
    Conv(Conv),
    ConvTranspose(ConvTranspose),
    BatchNorm(BatchNorm),
    LayerNorm(LayerNorm),
    RMSNorm(RMSNorm),
    GroupNorm(GroupNorm),
    Mha(MultiHeadDotProductAttention),
    SelfAttention(SelfAttention),
    RnnLstm(RNN<LSTMCell>),
    RnnGru(RNN<GRUCell>),
    RnnSimple(RNN<SimpleCell>),
    Lstm(LSTMCell),
    Gru(GRUCell),
    Simple(SimpleCell),
    Dropout(Dropout),
    Sequential(Sequential),
    User(User),
    /// A layer of a feature family (`tests/differential/families/`).
    #[allow(dead_code)] // constructed only while a family is listed in `FAMILIES`
    Family(Box<dyn FamilyLayer>),
}

// ------------------------------------------------------------------ families

/// A layer a feature family adds to the generator (`DIFF_FAMILY` in the script).
trait FamilyLayer {
    /// The module, for the summary's field walk.
    fn module(&self) -> &dyn Tabulate;
    /// Calls the module the way op `op` says.
    fn call(&self, op: &Json, x: &Tensor) -> Result<Tensor>;
}

/// A family's layer, boxed.
type BoxedLayer = Box<dyn FamilyLayer>;

/// A feature family: its layers and functions, each `None` for an op it does not know.
struct Family {
    /// The layer of op `op`, named `name` if given.
    build: fn(op: &Json, name: Option<&str>) -> Option<BoxedLayer>,
    /// Function op `op` (`{"op": "fn", "name": …}`) applied to `x`.
    apply_fn: fn(op: &Json, x: &Tensor) -> Option<Result<Tensor>>,
}

#[path = "../differential/families/part.rs"]
mod part;
#[path = "../differential/families/scan.rs"]
mod scan;

#[path = "../differential/families/wrap.rs"]
mod wrap;

/// Every family whose cases (`cases_<family>_NN.json`) are in the suite.
const FAMILIES: &[Family] = &[part::FAMILY, acts::FAMILY, wrap::FAMILY, scan::FAMILY];

impl Submodules for Built {
    fn visit_named(&self, name: &str, visitor: &mut dyn Visitor) {
        let module: &dyn Tabulate = match self {
            Built::Dense(m) => m,
            Built::DenseGeneral(m) => m,
            Built::Einsum(m) => m,
            Built::Embed(m) => m,
            Built::Conv(m) => m,
            Built::ConvTranspose(m) => m,
            Built::BatchNorm(m) => m,
            Built::LayerNorm(m) => m,
            Built::RMSNorm(m) => m,
            Built::GroupNorm(m) => m,
            Built::Mha(m) => m,
            Built::SelfAttention(m) => m,
            Built::RnnLstm(m) => m,
            Built::RnnGru(m) => m,
            Built::RnnSimple(m) => m,
            Built::Lstm(m) => m,
            Built::Gru(m) => m,
            Built::Simple(m) => m,
            Built::Dropout(m) => m,
            Built::Sequential(m) => m,
            Built::User(u) => return u.visit_named(name, visitor),
            Built::Family(m) => m.module(),
        };
        visitor.visit(name, module);
    }
}

/// Gives a layer its explicit name, if the op has one.
macro_rules! named {
    ($layer:expr, $name:expr) => {{
        let layer = $layer;
        match $name {
            Some(name) => layer.name(name),
            None => layer,
        }
    }};
}

#[path = "../differential/families/acts.rs"]
mod acts;

/// Whether op `op` gives `deterministic` at construction rather than at the call.
fn at_init(op: &Json) -> bool {
    op["deterministic_at"] == "init"
}

/// The module of op `op`; `in_setup` ignores explicit names, as the script does.
#[allow(clippy::too_many_lines)] // one arm per layer kind
fn build(op: &Json, in_setup: bool) -> Built {
    let name = if in_setup { None } else { op["name"].as_str() };
    match kind(op) {
        "Dense" => Built::Dense(named!(
            Dense::new(usize_of(op, "features")).use_bias(flag(op, "use_bias")),
            name
        )),
        "DenseGeneral" => Built::DenseGeneral(named!(
            DenseGeneral::new(usizes(op, "features")).axis(isizes(op, "axis")),
            name
        )),
        "Einsum" => Built::Einsum(named!(
            Einsum::new(
                usizes(op, "shape"),
                op["equation"].as_str().expect("equation")
            )
            .use_bias(flag(op, "use_bias")),
            name
        )),
        "Embed" | "EmbedAttend" => Built::Embed(named!(
            Embed::new(usize_of(op, "num_embeddings"), usize_of(op, "features")),
            name
        )),
        "Conv" => Built::Conv(named!(
            Conv::new(usize_of(op, "features"), usizes(op, "kernel_size"))
                .strides(usizes(op, "strides"))
                .padding(conv_padding(&op["padding"]))
                .kernel_dilation(usizes(op, "kernel_dilation"))
                .feature_group_count(usize_of(op, "feature_group_count"))
                .use_bias(flag(op, "use_bias")),
            name
        )),
        "ConvTranspose" => Built::ConvTranspose(named!(
            ConvTranspose::new(usize_of(op, "features"), usizes(op, "kernel_size"))
                .strides(usizes(op, "strides"))
                .padding(conv_padding(&op["padding"]))
                .kernel_dilation(usizes(op, "kernel_dilation"))
                .transpose_kernel(flag(op, "transpose_kernel"))
                .use_bias(flag(op, "use_bias")),
            name
        )),
        "BatchNorm" => Built::BatchNorm(named!(
            BatchNorm::new(
                (op["use_running_average_at"] != "call").then(|| flag(op, "use_running_average"))
            )
            .use_scale(flag(op, "use_scale"))
            .use_bias(flag(op, "use_bias")),
            name
        )),
        "LayerNorm" => Built::LayerNorm(named!(
            LayerNorm::new()
                .epsilon(float(op, "epsilon"))
                .use_scale(flag(op, "use_scale"))
                .use_bias(flag(op, "use_bias")),
            name
        )),
        "RMSNorm" => Built::RMSNorm(named!(RMSNorm::new().epsilon(float(op, "epsilon")), name)),
        "GroupNorm" => Built::GroupNorm(named!(
            if op.get("group_size").is_some_and(|g| !g.is_null()) {
                GroupNorm::with_group_size(usize_of(op, "group_size"))
            } else {
                GroupNorm::new(usize_of(op, "num_groups"))
            },
            name
        )),
        "MHA" => {
            let mut mha = MultiHeadDotProductAttention::new(usize_of(op, "num_heads"))
                .qkv_features(usize_of(op, "qkv_features"))
                .dropout_rate(float(op, "dropout_rate"));
            if op.get("out_features").is_some_and(|f| !f.is_null()) {
                mha = mha.out_features(usize_of(op, "out_features"));
            }
            if at_init(op) {
                mha = mha.deterministic(flag(op, "deterministic"));
            }
            Built::Mha(named!(mha, name))
        }
        "SelfAttention" => {
            let mut attention = SelfAttention::new(usize_of(op, "num_heads"))
                .qkv_features(usize_of(op, "qkv_features"));
            if at_init(op) {
                attention = attention.deterministic(flag(op, "deterministic"));
            }
            Built::SelfAttention(named!(attention, name))
        }
        "RNN" => {
            let f = usize_of(op, "features");
            match op["cell"].as_str() {
                Some("lstm") => Built::RnnLstm(named!(RNN::new(LSTMCell::new(f)), name)),
                Some("gru") => Built::RnnGru(named!(RNN::new(GRUCell::new(f)), name)),
                _ => Built::RnnSimple(named!(RNN::new(SimpleCell::new(f)), name)),
            }
        }
        "Cell" => {
            let f = usize_of(op, "features");
            match op["cell"].as_str() {
                Some("lstm") => Built::Lstm(named!(LSTMCell::new(f), name)),
                Some("gru") => Built::Gru(named!(GRUCell::new(f), name)),
                _ => Built::Simple(named!(SimpleCell::new(f), name)),
            }
        }
        "Dropout" => {
            let mut dropout = Dropout::new(float(op, "rate"));
            if op.get("broadcast_dims").is_some_and(|d| !d.is_null()) {
                dropout = dropout.broadcast_dims(isizes(op, "broadcast_dims"));
            }
            if at_init(op) {
                dropout = dropout.deterministic(flag(op, "deterministic"));
            }
            Built::Dropout(named!(dropout, name))
        }
        "Sequential" => {
            let mut seq = Sequential::new();
            for layer in op["layers"].as_array().expect("spec: layers") {
                if !is_module_op(layer) {
                    let layer = layer.clone();
                    seq = seq.then(move |x: &Tensor| apply_fn(&layer, x));
                    continue;
                }
                seq = match build(layer, in_setup) {
                    Built::Dense(m) => seq.then(m),
                    Built::LayerNorm(m) => seq.then(m),
                    _ => panic!("spec: {} inside Sequential", kind(layer)),
                };
            }
            Built::Sequential(named!(seq, name))
        }
        "module" => Built::User(User::build(&op["module"])),
        other => FAMILIES
            .iter()
            .find_map(|family| (family.build)(op, name))
            .map_or_else(|| panic!("spec: layer {other}"), Built::Family),
    }
}

impl Built {
    /// Calls the module the way op `op` says.
    fn call(&self, op: &Json, x: &Tensor) -> Result<Tensor> {
        // `deterministic` at the call unless the op gives it at construction.
        let deterministic = || (!at_init(op)).then(|| flag(op, "deterministic"));
        let carry_shape = |features: usize| {
            let mut dims = x.shape().dims().to_vec();
            if let Some(last) = dims.last_mut() {
                *last = features;
            }
            dims
        };
        match self {
            Built::Dense(m) => m.forward(x),
            Built::DenseGeneral(m) => m.forward(x),
            Built::Einsum(m) => m.forward(x),
            Built::Embed(m) if kind(op) == "EmbedAttend" => m.attend(x),
            Built::Embed(m) => m.forward(x),
            Built::Conv(m) => m.forward(x),
            Built::ConvTranspose(m) => m.forward(x),
            Built::BatchNorm(m) if op["use_running_average_at"] == "call" => {
                m.forward_with(x, flag(op, "use_running_average"))
            }
            Built::BatchNorm(m) => m.forward(x),
            Built::LayerNorm(m) => m.forward(x),
            Built::RMSNorm(m) => m.forward(x),
            Built::GroupNorm(m) => m.forward(x),
            Built::Mha(m) => m.forward(x, deterministic()),
            Built::SelfAttention(m) => m.forward(x, deterministic()),
            Built::RnnLstm(m) => m.forward(x),
            Built::RnnGru(m) => m.forward(x),
            Built::RnnSimple(m) => m.forward(x),
            Built::Lstm(m) => {
                // Two arrays, as the script's two `jnp.zeros`: Flax costs a call with one
                // input per argument leaf, and one `Tensor` passed twice is one input.
                let zeros = || Tensor::zeros(x.dtype(), carry_shape(m.features));
                Ok(m.forward(&(zeros()?, zeros()?), x)?.1)
            }
            Built::Gru(m) => {
                let zeros = Tensor::zeros(x.dtype(), carry_shape(m.features))?;
                Ok(m.forward(&zeros, x)?.1)
            }
            Built::Simple(m) => {
                let zeros = Tensor::zeros(x.dtype(), carry_shape(m.features))?;
                Ok(m.forward(&zeros, x)?.1)
            }
            Built::Dropout(m) => m.forward(x, deterministic()),
            Built::Sequential(m) => m.forward(x),
            Built::User(u) => u.forward(x),
            Built::Family(m) => m.call(op, x),
        }
    }
}

/// An op applied in a compact method: its module is built here, inline.
fn apply_op(op: &Json, x: &Tensor) -> Result<Tensor> {
    if is_module_op(op) {
        build(op, false).call(op, x)
    } else {
        apply_fn(op, x)
    }
}

// ------------------------------------------------------------------ user modules

/// `Stack` of the script (compact): applies its ops in order, building each inline.
#[derive(Tabulate)]
struct Stack {
    #[tabulate(skip)]
    ops: Vec<Json>,
    identity: ModuleIdentity,
}

impl Stack {
    #[forward]
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let mut x = x.clone();
        for op in &self.ops {
            x = apply_op(op, &x)?;
        }
        Ok(x)
    }
}

/// `SetupStack` of the script (setup style): its module ops are the fields `layers_N`.
#[derive(Tabulate)]
struct SetupStack {
    layers: Vec<Built>,
    #[tabulate(skip)]
    ops: Vec<Json>,
    identity: ModuleIdentity,
}

impl SetupStack {
    #[forward]
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let mut x = x.clone();
        let mut layers = self.layers.iter();
        for op in &self.ops {
            x = if is_module_op(op) {
                layers
                    .next()
                    .expect("one layer per module op")
                    .call(op, &x)?
            } else {
                apply_fn(op, &x)?
            };
        }
        Ok(x)
    }
}

/// `Residual` of the script (compact): `x + body(x)` when the shapes agree, else `body(x)`.
#[derive(Tabulate)]
struct Residual {
    #[tabulate(skip)]
    body: Json,
    identity: ModuleIdentity,
}

impl Residual {
    #[forward]
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let h = User::build(&self.body).forward(x)?;
        if h.shape() == x.shape() && h.dtype() == x.dtype() {
            x.add(&h)
        } else {
            Ok(h)
        }
    }
}

/// `Shared` of the script (compact): one module, called twice.
#[derive(Tabulate)]
struct Shared {
    #[tabulate(skip)]
    op: Json,
    identity: ModuleIdentity,
}

impl Shared {
    #[forward]
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let m = build(&self.op, false);
        let h = m.call(&self.op, x)?;
        m.call(&self.op, &h)
    }
}

/// `Branch` of the script (compact): both branches on `x`, concatenated on the last axis.
#[derive(Tabulate)]
struct Branch {
    #[tabulate(skip)]
    left: Json,
    #[tabulate(skip)]
    right: Json,
    identity: ModuleIdentity,
}

impl Branch {
    #[forward]
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let a = User::build(&self.left).forward(x)?;
        let b = User::build(&self.right).forward(x)?;
        Tensor::concatenate(&[&a, &b], -1)
    }
}

/// One of the user modules.
enum User {
    Stack(Stack),
    SetupStack(SetupStack),
    Residual(Residual),
    Shared(Shared),
    Branch(Branch),
}

impl User {
    fn build(spec: &Json) -> User {
        let ops = || spec["ops"].as_array().expect("spec: ops").clone();
        let identity = ModuleIdentity::new();
        match spec["class"].as_str().expect("spec: class") {
            "Stack" => User::Stack(Stack {
                ops: ops(),
                identity,
            }),
            "SetupStack" => {
                let ops = ops();
                let layers = ops
                    .iter()
                    .filter(|op| is_module_op(op))
                    .map(|op| build(op, true))
                    .collect();
                User::SetupStack(SetupStack {
                    layers,
                    ops,
                    identity,
                })
            }
            "Residual" => User::Residual(Residual {
                body: spec["body"].clone(),
                identity,
            }),
            "Shared" => User::Shared(Shared {
                op: spec["op"].clone(),
                identity,
            }),
            "Branch" => User::Branch(Branch {
                left: spec["left"].clone(),
                right: spec["right"].clone(),
                identity,
            }),
            other => panic!("spec: class {other}"),
        }
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        match self {
            User::Stack(m) => m.forward(x),
            User::SetupStack(m) => m.forward(x),
            User::Residual(m) => m.forward(x),
            User::Shared(m) => m.forward(x),
            User::Branch(m) => m.forward(x),
        }
    }

    fn summarize(&self, case: &Json, x: &Tensor) -> Result<Summary> {
        fn options<'m, M: Tabulate>(m: &'m M, case: &Json) -> tabulate::Tabulator<'m, M> {
            let mut t = tabulate(m)
                .compute_flops(true)
                .compute_vjp_flops(true)
                .show_repeated(flag(case, "show_repeated"))
                .rngs(["dropout"]);
            if let Some(depth) = case["depth"].as_u64() {
                t = t.depth(usize::try_from(depth).expect("depth"));
            }
            t
        }
        match self {
            User::Stack(m) => options(m, case).run(|m| m.forward(x)),
            User::SetupStack(m) => options(m, case).run(|m| m.forward(x)),
            User::Residual(m) => options(m, case).run(|m| m.forward(x)),
            User::Shared(m) => options(m, case).run(|m| m.forward(x)),
            User::Branch(m) => options(m, case).run(|m| m.forward(x)),
        }
    }
}

impl Submodules for User {
    fn visit_named(&self, name: &str, visitor: &mut dyn Visitor) {
        let module: &dyn Tabulate = match self {
            User::Stack(m) => m,
            User::SetupStack(m) => m,
            User::Residual(m) => m,
            User::Shared(m) => m,
            User::Branch(m) => m,
        };
        visitor.visit(name, module);
    }
}

// ------------------------------------------------------------------ comparison

/// The canonical text of a value, as the script writes Flax's.
fn text(value: &Value) -> String {
    match value {
        Value::Array { dtype, shape, .. } => array_text(*dtype, shape.dims()),
        Value::Key { shape } => format!("key<fry>{shape}"),
        Value::Object { repr } => repr.clone(),
        Value::Sequence { items } => {
            let items: Vec<String> = items.iter().map(text).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Mapping { entries } => {
            let entries: Vec<String> = entries
                .iter()
                .map(|(k, v)| format!("{k}: {}", text(v)))
                .collect();
            format!("{{{}}}", entries.join(", "))
        }
    }
}

/// Python's `repr` of a tuple of names and `None`s: `('embed', None)`, `(None,)`.
fn python_tuple(names: &[Option<String>]) -> String {
    let items: Vec<String> = names
        .iter()
        .map(|n| {
            n.as_ref()
                .map_or_else(|| "None".to_string(), |n| format!("'{n}'"))
        })
        .collect();
    match items.as_slice() {
        [one] => format!("({one},)"),
        _ => format!("({})", items.join(", ")),
    }
}

fn array_text(dtype: DType, dims: &[usize]) -> String {
    let dims: Vec<String> = dims.iter().map(ToString::to_string).collect();
    format!("{dtype}[{}]", dims.join(","))
}

/// The fields of one row, named as the JSON names them, as text.
fn our_row(summary: &Summary, row: &tabulate::Row) -> BTreeMap<String, String> {
    let mut fields = BTreeMap::new();
    fields.insert("path".into(), row.path.join("/"));
    fields.insert("module_type".into(), row.module_type.clone());
    let method = if row.method == "forward" {
        "__call__"
    } else {
        &row.method
    };
    fields.insert("method".into(), method.to_string());
    fields.insert("inputs".into(), text(&row.inputs));
    fields.insert("outputs".into(), text(&row.outputs));
    let count = |n: Option<u64>| n.map_or_else(|| "-".into(), |n| n.to_string());
    fields.insert("flops".into(), count(row.flops()));
    fields.insert("vjp_flops".into(), count(row.vjp_flops()));
    for (col, vars) in summary.collections.iter().zip(&row.variables) {
        // Arrays (with their logical axis names, as the script writes a partitioned box:
        // `P('embed', None)`) and sown tuples, by name as the script sorts them.
        let mut leaves: Vec<(&str, String)> = vars
            .own
            .iter()
            .map(|l| {
                let mut text = format!("{}: {}", l.name, array_text(l.dtype, l.shape.dims()));
                if let Some(names) = &l.partition {
                    text.push_str(" P");
                    text.push_str(&python_tuple(names));
                }
                (l.name.as_str(), text)
            })
            .chain(
                vars.values
                    .iter()
                    .map(|(name, value)| (name.as_str(), format!("{name}: {}", text(value)))),
            )
            .collect();
        leaves.sort_by(|a, b| a.0.cmp(b.0));
        let leaves: Vec<String> = leaves.into_iter().map(|(_, text)| text).collect();
        fields.insert(format!("{col}.leaves"), leaves.join("; "));
        fields.insert(format!("{col}.count"), vars.counted.count.to_string());
        fields.insert(format!("{col}.bytes"), vars.counted.bytes.to_string());
    }
    fields
}

fn flax_row(row: &Json) -> BTreeMap<String, String> {
    let mut fields = BTreeMap::new();
    for key in ["path", "module_type", "method", "inputs", "outputs"] {
        fields.insert(
            key.into(),
            row[key].as_str().expect("row field").to_string(),
        );
    }
    for key in ["flops", "vjp_flops"] {
        fields.insert(key.into(), row[key].to_string());
    }
    for (col, vars) in row["variables"].as_object().expect("variables") {
        let leaves: Vec<&str> = vars["leaves"]
            .as_array()
            .expect("leaves")
            .iter()
            .map(|l| l.as_str().expect("leaf"))
            .collect();
        fields.insert(format!("{col}.leaves"), leaves.join("; "));
        fields.insert(format!("{col}.count"), vars["count"].to_string());
        fields.insert(format!("{col}.bytes"), vars["bytes"].to_string());
    }
    fields
}

/// A field class for the statistics: `params.count` and `batch_stats.count` are `count`.
fn field_class(field: &str) -> &str {
    field.rsplit('.').next().unwrap_or(field)
}

/// One mismatch: the field, ours, Flax's.
struct Mismatch {
    row: String,
    field: String,
    ours: String,
    flax: String,
}

/// Compares one case; returns the mismatches and, per field class, (compared, matched).
fn compare(case: &Json) -> (Vec<Mismatch>, BTreeMap<String, (usize, usize)>) {
    let mut mismatches = Vec::new();
    let mut stats: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let input = &case["input"];
    let dtype = match input["dtype"].as_str() {
        Some("int32") => DType::I32,
        _ => DType::F32,
    };
    let x = Tensor::new(dtype, usizes(input, "shape"));
    let model = User::build(&case["model"]);
    let summary = match model.summarize(case, &x) {
        Ok(s) => s,
        Err(e) => {
            mismatches.push(Mismatch {
                row: String::new(),
                field: "error".into(),
                ours: e.to_string(),
                flax: "ok".into(),
            });
            stats.entry("error".into()).or_default().0 += 1;
            return (mismatches, stats);
        }
    };
    let mut record = |row: &str, field: &str, ours: &str, flax: &str| {
        let entry = stats.entry(field_class(field).to_string()).or_default();
        entry.0 += 1;
        if ours == flax {
            entry.1 += 1;
        } else {
            mismatches.push(Mismatch {
                row: row.to_string(),
                field: field.to_string(),
                ours: ours.to_string(),
                flax: flax.to_string(),
            });
        }
    };
    let flax_cols: Vec<&str> = case["collections"]
        .as_array()
        .expect("collections")
        .iter()
        .map(|c| c.as_str().expect("collection"))
        .collect();
    let mut our_cols = summary.collections.clone();
    our_cols.sort();
    record("", "collections", &our_cols.join(","), &flax_cols.join(","));
    let flax_rows = case["rows"].as_array().expect("rows");
    let ours: Vec<_> = summary.rows.iter().map(|r| our_row(&summary, r)).collect();
    let flax: Vec<_> = flax_rows.iter().map(flax_row).collect();
    let paths = |rows: &[BTreeMap<String, String>]| -> String {
        rows.iter()
            .map(|r| format!("'{}'", r["path"]))
            .collect::<Vec<_>>()
            .join(" ")
    };
    record("", "row_count", &paths(&ours), &paths(&flax));
    // Rows are matched by path, method and occurrence, so that one missing or extra row
    // does not shift every row after it.
    let keyed = |rows: &[BTreeMap<String, String>]| {
        let mut seen: BTreeMap<(String, String), usize> = BTreeMap::new();
        rows.iter()
            .enumerate()
            .map(|(i, r)| {
                let k = (r["path"].clone(), r["method"].clone());
                let n = seen.entry(k.clone()).or_default();
                *n += 1;
                (format!("'{}' {} #{}", k.0, k.1, *n), i)
            })
            .collect::<BTreeMap<String, usize>>()
    };
    let (our_keys, flax_keys) = (keyed(&ours), keyed(&flax));
    let absent = String::from("<absent>");
    for (key, &fi) in &flax_keys {
        let row = format!("#{fi} '{}'", flax[fi]["path"]);
        let Some(&oi) = our_keys.get(key) else {
            record(&row, "row", &absent, key);
            continue;
        };
        record(&row, "row", key, key);
        let (o, f) = (&ours[oi], &flax[fi]);
        let fields: BTreeSet<&String> = o.keys().chain(f.keys()).collect();
        for field in fields {
            record(
                &row,
                field,
                o.get(field).unwrap_or(&absent),
                f.get(field).unwrap_or(&absent),
            );
        }
    }
    for key in our_keys.keys().filter(|k| !flax_keys.contains_key(*k)) {
        record("", "row", key, &absent);
    }
    (mismatches, stats)
}

fn data_dir() -> PathBuf {
    std::env::var_os("TABULATE_DIFF_DIR").map_or_else(
        || {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests")
                .join("differential")
        },
        PathBuf::from,
    )
}

fn load_cases() -> Vec<Json> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(data_dir())
        .expect("tests/differential exists")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| {
            p.extension().is_some_and(|e| e == "json")
                && p.file_stem()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("cases_"))
        })
        .collect();
    files.sort();
    files
        .iter()
        .flat_map(|p| {
            let data: Json = serde_json::from_str(&std::fs::read_to_string(p).expect("read"))
                .expect("valid JSON");
            data["cases"].as_array().expect("cases").clone()
        })
        .collect()
}

/// `id cause…` per line; `#` starts a comment.
fn known_failures() -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(data_dir().join("known_failures.txt")).unwrap_or_default();
    text.lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (id, cause) = l.split_once(char::is_whitespace).unwrap_or((l, ""));
            (id.to_string(), cause.trim().to_string())
        })
        .collect()
}

/// Every mismatch as JSON (`{id: [{row, field, ours, flax}]}`), for
/// `scripts/classify_differential.py`.
fn write_report(path: &Path, failing: &BTreeMap<String, Vec<Mismatch>>) {
    let json: serde_json::Map<String, Json> = failing
        .iter()
        .map(|(id, mismatches)| {
            let list = mismatches
                .iter()
                .map(|m| {
                    serde_json::json!({
                        "row": m.row, "field": m.field, "ours": m.ours, "flax": m.flax,
                    })
                })
                .collect();
            (id.clone(), Json::Array(list))
        })
        .collect();
    let text = serde_json::to_string_pretty(&Json::Object(json)).expect("JSON");
    std::fs::write(path, text).expect("report written");
}

#[test]
fn differential_against_flax() {
    let cases = load_cases();
    if std::env::var_os("TABULATE_DIFF_DIR").is_none() {
        assert!(cases.len() >= 300, "{} cases", cases.len());
    }
    let known = known_failures();
    let mut stats: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut failing: BTreeMap<String, Vec<Mismatch>> = BTreeMap::new();
    // Two workers (each summary traces on its own thread): the suite is the longest test
    // of `cargo test`, which would otherwise wait for it on one core.
    let compared: Vec<_> = std::thread::scope(|scope| {
        let workers: Vec<_> = cases
            .chunks(cases.len().div_ceil(2).max(1))
            .map(|chunk| scope.spawn(move || chunk.iter().map(compare).collect::<Vec<_>>()))
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("a comparison panicked"))
            .collect()
    });
    for (case, (mismatches, case_stats)) in cases.iter().zip(compared) {
        let id = case["id"].as_str().expect("id").to_string();
        for (k, (n, m)) in case_stats {
            let e = stats.entry(k).or_default();
            e.0 += n;
            e.1 += m;
        }
        if !mismatches.is_empty() {
            failing.insert(id, mismatches);
        }
    }
    let mut report = String::new();
    let full = cases.len() - failing.len();
    let _ = writeln!(report, "{full}/{} cases match fully", cases.len());
    for (field, (n, m)) in &stats {
        let _ = writeln!(report, "  {field:12} {m}/{n}");
    }
    let describe = |id: &str, mismatches: &[Mismatch], out: &mut String| {
        for m in mismatches {
            let _ = writeln!(
                out,
                "  {id} {} {}: ours {:?} vs Flax {:?}",
                m.row, m.field, m.ours, m.flax
            );
        }
    };
    if let Some(target) = std::env::var_os("TABULATE_DIFF_REPORT") {
        for (id, mismatches) in &failing {
            describe(id, mismatches, &mut report);
        }
        eprintln!("{report}");
        if target != "1" {
            write_report(Path::new(&target), &failing);
        }
    }
    let mut problems = String::new();
    for (id, mismatches) in &failing {
        if !known.contains_key(id) {
            let _ = writeln!(
                problems,
                "{id} mismatches and is not in known_failures.txt:"
            );
            describe(id, mismatches, &mut problems);
        }
    }
    let all: BTreeSet<&str> = cases.iter().filter_map(|c| c["id"].as_str()).collect();
    for (id, cause) in &known {
        if !all.contains(id.as_str()) {
            let _ = writeln!(problems, "{id} is in known_failures.txt but is not a case");
        } else if !failing.contains_key(id) {
            let _ = writeln!(
                problems,
                "{id} matches Flax now: remove it from known_failures.txt (was: {cause})"
            );
        }
    }
    assert!(problems.is_empty(), "{report}\n{problems}");
}

/// The minimal repro of each class the random suite found (`scripts/differential_targeted.py`):
/// every one must match Flax, with no known-failures list.
#[test]
fn targeted_against_flax() {
    let path = data_dir().join("targeted.json");
    let data: Json =
        serde_json::from_str(&std::fs::read_to_string(path).expect("read")).expect("valid JSON");
    let cases = data["cases"].as_array().expect("cases");
    let mut problems = String::new();
    for case in cases {
        let (mismatches, _) = compare(case);
        for m in &mismatches {
            let _ = writeln!(
                problems,
                "{} ({}) {} {}: ours {:?} vs Flax {:?}",
                case["id"].as_str().unwrap_or("?"),
                case["why"].as_str().unwrap_or(""),
                m.row,
                m.field,
                m.ours,
                m.flax
            );
        }
    }
    assert!(problems.is_empty(), "{problems}");
}

/// XLA's float32 sums far above 2^24 (`tests/golden/xla_sums.json`, made by
/// `scripts/xla_sums.py` with real Flax): the three mismatches — stochastic
/// `Dropout` on `float32[32,28,28,32]` (36126764 / 37732396), `Dense(4843, use_bias=False)`
/// on `[16,1875]` (vjp 880820608), a `ResNet` basic block at 224×224 — and generated stacks.
/// Every field of every row must match; there is no list of known failures here.
#[test]
fn xla_sums_match_flax() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/xla_sums.json");
    let data: Json = serde_json::from_str(&std::fs::read_to_string(path).expect("xla_sums.json"))
        .expect("valid JSON");
    let cases = data["cases"].as_array().expect("cases");
    assert!(cases.len() >= 20, "{} cases", cases.len());
    // The figures, as real Flax gave them when the file was made.
    let root = |id: &str| {
        let case = cases.iter().find(|c| c["id"] == id).expect("named case");
        let row = &case["rows"][0];
        (row["flops"].as_u64(), row["vjp_flops"].as_u64())
    };
    assert_eq!(
        root("dropout_32x28x28x32"),
        (Some(36_126_764), Some(37_732_396))
    );
    assert_eq!(root("dense_no_bias_16x1875_4843").1, Some(880_820_608));
    let mut problems = String::new();
    for case in cases {
        let id = case["id"].as_str().expect("id");
        let (mismatches, _) = compare(case);
        for m in &mismatches {
            let _ = writeln!(
                problems,
                "  {id} {} {}: ours {:?} vs Flax {:?}",
                m.row, m.field, m.ours, m.flax
            );
        }
    }
    assert!(
        problems.is_empty(),
        "XLA sums differ from Flax:\n{problems}"
    );
}
