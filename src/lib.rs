//! Summary tables of neural networks written in Rust, the way Flax's `nn.tabulate` prints
//! them: one row per module call with its path, type, input and output shapes, forward
//! and backward FLOPs and parameters, from a forward pass on abstract tensors (dtype and
//! shape only). Nothing is allocated and no arithmetic is done, so a summary of a model of
//! any size takes milliseconds.
//!
//! ```
//! use tabulate::prelude::*;
//! use tabulate::nn::Dense;
//!
//! #[derive(Tabulate)]
//! struct Foo;
//!
//! impl Foo {
//!     #[forward]
//!     fn forward(&self, x: &Tensor) -> Result<Tensor> {
//!         let h = Dense::new(4).forward(x)?;
//!         Dense::new(2).forward(&h)
//!     }
//! }
//!
//! let x = Tensor::new(DType::F32, [16, 9]);
//! let summary = tabulate(&Foo)
//!     .compute_flops(true)
//!     .compute_vjp_flops(true)
//!     .run(|foo| foo.forward(&x))?;
//! assert_eq!(summary.rows[1].path, ["Dense_0"]);
//! assert_eq!(summary.rows[1].flops(), Some(1216));
//! assert_eq!(summary.rows[1].vjp_flops(), Some(3620));
//! assert_eq!(summary.total().count, 50);
//! println!("{summary}");
//! # Ok::<(), tabulate::Error>(())
//! ```
//!
//! prints the table of Flax's documentation (`cargo run --example foo`). The rest of this
//! page is a guide: [modules](#modules-compact-and-setup-style), [layers of your
//! own](#layers-of-your-own), [options](#options), [rendering](#rendering),
//! [exports](#exports), [errors](#errors), [what is counted](#what-is-counted-and-how),
//! [features](#features) and [limitations](#limitations).
//!
//! # Modules: compact and setup style
//!
//! A module is a struct with `#[derive(Tabulate)]` (see [`derive@Tabulate`]) whose
//! methods marked [`#[forward]`](macro@forward) become rows. As in Flax, a submodule is
//! named by where it lives:
//!
//! - **compact**: built inside a method, it is named `{Type}_{n}` in the module whose call
//!   built it (`Dense_0`, `Dense_1`);
//! - **setup**: held in a field, it is named after the field; containers name their
//!   elements as Flax names `setup` attributes holding pytrees (`layers_0`, `heads_q`,
//!   `blocks_0_1`). Fields of configuration (`usize`, `f32`, enums, …) need no attribute.
//!
//! ```
//! use tabulate::prelude::*;
//! use tabulate::nn::{Dense, relu};
//!
//! #[derive(Tabulate)]
//! struct Mlp {
//!     layers: Vec<Dense>,
//!     dropout_rate: f32,
//! }
//!
//! impl Mlp {
//!     #[forward]
//!     fn forward(&self, x: &Tensor, #[kwarg] train: bool) -> Result<Tensor> {
//!         let mut h = x.clone();
//!         for layer in &self.layers {
//!             h = relu(&layer.forward(&h)?)?;
//!         }
//!         Dense::new(1).forward(&h) // compact: `Dense_0`
//!     }
//! }
//!
//! let mlp = Mlp { layers: vec![Dense::new(8), Dense::new(8)], dropout_rate: 0.1 };
//! let summary = mlp.summary(&Tensor::new(DType::F32, [4, 3]), false)?; // `forward`'s arguments
//! let paths: Vec<String> = summary.rows.iter().map(|row| row.path.join("/")).collect();
//! assert_eq!(paths, ["", "layers_0", "layers_1", "Dense_0"]);
//! # Ok::<(), tabulate::Error>(())
//! ```
//!
//! `#[tabulate(skip)]` leaves a field out, `#[tabulate(rename = "…")]` renames a field or
//! the type, a [`ModuleIdentity`] field gives a module Flax's `name=`, and
//! [`derive@Describe`] shows a struct of yours in the `inputs`/`outputs` cells.
//! [`nn`] has Flax's layers (`Dense`, `Conv`, `BatchNorm`, attention, recurrent cells, …).
//!
//! # Layers of your own
//!
//! Declare variables with [`param`] (collection `params`) or [`variable`] (any collection)
//! and compute with [`Tensor`]'s methods, which follow `jax.numpy` (dtype promotion,
//! broadcasting, `reshape` with `-1`, `matmul`, reductions, `select`, `pad`, …). Every
//! method is a primitive with XLA's cost rule, so your layer is counted as exactly as the
//! built-in ones. [`lax`] has the primitives without a method; [`random`] draws as
//! `jax.random` does.
//!
//! ```
//! use tabulate::prelude::*;
//!
//! /// `y = x · kernel + bias`, then RMS-normalised with a learned `scale`.
//! #[derive(Tabulate)]
//! struct NormedLinear {
//!     features: usize,
//! }
//!
//! impl NormedLinear {
//!     #[forward]
//!     fn forward(&self, x: &Tensor) -> Result<Tensor> {
//!         let kernel = tabulate::param("kernel", DType::F32, [x.dim(-1)?, self.features])?;
//!         let bias = tabulate::param("bias", DType::F32, [self.features])?;
//!         let scale = tabulate::param("scale", DType::F32, [self.features])?;
//!         let y = x.matmul(&kernel)?.add(&bias)?;
//!         let rms = y.square()?.mean(&[-1], true)?.add(1e-6)?.rsqrt()?;
//!         y.mul(&rms)?.mul(&scale)
//!     }
//! }
//!
//! let x = Tensor::new(DType::F32, [16, 9]);
//! let summary = tabulate(&NormedLinear { features: 4 }).compute_macs(true).run(|m| m.forward(&x))?;
//! assert_eq!(summary.total().count, 9 * 4 + 4 + 4);
//! assert_eq!(summary.rows[0].macs(), Some(16 * 9 * 4));
//! # Ok::<(), tabulate::Error>(())
//! ```
//!
//! # Options
//!
//! [`tabulate()`](fn@tabulate) returns a [`Tabulator`], a builder with every option of `nn.tabulate` and
//! a few beyond it; [`Tabulator::run`] takes any method with any arguments. The
//! generated `summary(...)` is `tabulate(self).run(|m| m.forward(...))`.
//!
//! | Flax's options | beyond Flax (all off by default) |
//! | --- | --- |
//! | [`depth`](Tabulator::depth), [`show_repeated`](Tabulator::show_repeated), [`mutable`](Tabulator::mutable), [`rngs`](Tabulator::rngs), [`compute_flops`](Tabulator::compute_flops), [`compute_vjp_flops`](Tabulator::compute_vjp_flops) | [`compute_macs`](Tabulator::compute_macs), [`compute_self_flops`](Tabulator::compute_self_flops), [`metrics`](Tabulator::metrics) / [`metric`](Tabulator::metric) ([`Metric`]), [`frozen`](Tabulator::frozen) ([`Frozen`]), [`trainable`](Tabulator::trainable), [`optimizer`](Tabulator::optimizer), [`estimate_memory`](Tabulator::estimate_memory), [`operators`](Tabulator::operators), [`footnotes`](Tabulator::footnotes), [`table_on_error`](Tabulator::table_on_error) |
//!
//! ```
//! use tabulate::prelude::*;
//! use tabulate::nn::{BatchNorm, Conv, relu};
//! use tabulate::{Frozen, Metric, Optimizer};
//!
//! #[derive(Tabulate)]
//! struct Stem;
//!
//! impl Stem {
//!     #[forward]
//!     fn forward(&self, x: &Tensor, #[kwarg] train: bool) -> Result<Tensor> {
//!         let h = Conv::new(16, [3, 3]).use_bias(false).forward(x)?;
//!         relu(&BatchNorm::new(!train).forward(&h)?)
//!     }
//! }
//!
//! let x = Tensor::new(DType::F32, [8, 32, 32, 3]);
//! let summary = tabulate(&Stem)
//!     .metrics([Metric::Flops, Metric::Macs]) // these columns, in this order
//!     .frozen(Frozen::new(["Conv_0/**"]))      // glob patterns on `/`-joined paths
//!     .trainable(true)                         // Keras' trainable / non-trainable footer
//!     .optimizer(Optimizer::Adam)
//!     .estimate_memory(true)                   // torchinfo-style size lines
//!     .run(|m| m.forward(&x, true))?;
//! let split = summary.trainable.expect("asked for");
//! assert_eq!(split.trainable.count, 2 * 16); // BatchNorm's scale and bias
//! assert_eq!(split.non_trainable.count, 3 * 3 * 3 * 16 + 2 * 16); // the frozen kernel, batch_stats
//! assert_eq!(summary.rows[1].macs(), Some(8 * 32 * 32 * 16 * 3 * 3 * 3));
//! assert!(summary.memory.is_some());
//! # Ok::<(), tabulate::Error>(())
//! ```
//!
//! # Rendering
//!
//! `Display` ([`RenderOptions::auto`]) colours on a terminal and fits `COLUMNS` or the
//! terminal's width, wrapping and truncating cells like rich. `NO_COLOR` (set, not empty)
//! turns colour off whatever else is set; then `FORCE_COLOR` (not empty) or
//! `CLICOLOR_FORCE` (not `0`) turn it on even in a pipe; then `TERM=dumb` turns it off.
//! [`Summary::render`] with [`RenderOptions`] chooses explicitly: width, [`ColorChoice`],
//! which [`Column`]s in which order, and a compact one-line-per-row style. Widths are
//! terminal cells (CJK and emoji take two); control characters in names are escaped.
//!
//! ```
//! use tabulate::prelude::*;
//! use tabulate::nn::Dense;
//! use tabulate::{ColorChoice, Column, RenderOptions};
//!
//! let x = Tensor::new(DType::F32, [16, 9]);
//! let summary = tabulate(&Dense::new(4)).run(|d| d.forward(&x))?;
//! let options = RenderOptions::new()
//!     .width(50)
//!     .color(ColorChoice::Never)
//!     .compact(true)
//!     .columns([Column::Module, Column::Outputs, Column::Collections]);
//! let text = summary.render(&options);
//! assert!(text.lines().all(|line| line.chars().count() <= 50));
//! assert!(text.contains("│ Dense  │ float32[16,4] │ 40 (160 B) │"));
//! # Ok::<(), tabulate::Error>(())
//! ```
//!
//! # Exports
//!
//! A [`Summary`] is plain data: rows ([`Row`]) with their paths, [`Value`]s, metrics
//! ([`Row::flops`], [`Row::metric`]) and variables ([`RowVariables`], [`Leaf`]), totals
//! ([`Size`]), and the optional [`TrainableSplit`], [`MemoryEstimate`] and operator counts
//! ([`OperatorCount`]). It serialises with `serde` (feature `serde`, on by default) to a
//! versioned JSON object ([`SCHEMA_VERSION`]), and writes itself as GitHub Markdown
//! ([`Summary::to_markdown`]) or RFC 4180 CSV ([`Summary::to_csv`]).
//!
//! ```
//! use tabulate::prelude::*;
//! use tabulate::nn::Dense;
//!
//! let x = Tensor::new(DType::F32, [16, 9]);
//! let summary = tabulate(&Dense::new(4)).compute_flops(true).run(|d| d.forward(&x))?;
//! # #[cfg(feature = "serde")] {
//! let json = serde_json::to_value(&summary).unwrap();
//! assert_eq!(json["rows"][0]["metrics"]["flops"], 1216);
//! # }
//! assert!(summary.to_markdown().contains("| Dense | float32[16,9] | float32[16,4] | 1216 |"));
//! assert!(summary.to_csv().ends_with(",Dense,forward,\"float32[16,9]\",\"float32[16,4]\",1216,40,160\r\n"));
//! # Ok::<(), tabulate::Error>(())
//! ```
//!
//! # Errors
//!
//! Bad input is an [`Error`], never a panic: its [`ErrorKind`] says what went wrong and
//! its [`Location`] in which module call (`Block_0/Projection_0 (Projection): dot_general:
//! contracting dimensions differ (9 vs 8): float32[16,9] × float32[8,4]`). With
//! [`table_on_error`](Tabulator::table_on_error) the error also carries the table of the
//! calls made so far ([`Error::partial_summary`]) and displays it first, as Keras does.
//!
//! ```
//! use tabulate::prelude::*;
//! use tabulate::nn::Dense;
//!
//! #[derive(Tabulate)]
//! struct Broken;
//!
//! impl Broken {
//!     #[forward]
//!     fn forward(&self, x: &Tensor) -> Result<Tensor> {
//!         let h = Dense::new(4).forward(x)?;
//!         h.matmul(&Tensor::new(DType::F32, [8, 2]))
//!     }
//! }
//!
//! let x = Tensor::new(DType::F32, [16, 9]);
//! let error = tabulate(&Broken).table_on_error(true).run(|m| m.forward(&x)).unwrap_err();
//! assert!(matches!(error.kind(), tabulate::ErrorKind::Shape { op: "Tensor::matmul", .. }));
//! assert_eq!(error.partial_summary().map(|s| s.rows.len()), Some(2)); // Broken, Dense_0
//! eprintln!("{error}"); // the partial table, then what failed and what the call received
//! ```
//!
//! # What is counted and how
//!
//! - **`flops`** are what Flax shows: XLA's `HloCostAnalysis` of the unoptimised program
//!   JAX lowers for the row's call, re-run on its own. A multiply-add counts 2 (`dot`:
//!   2 × output elements × contracted size; `Dense` is `2MKN + MN` with its bias), every
//!   other elementwise op, compare, select or convert 1 per output element, reductions
//!   `in − out` elements; transcendentals (`exp`, `tanh`, `log`, `erf`, …) count **0**
//!   (XLA counts them apart, and Flax reads only `flops`); reshapes, transposes, slices,
//!   gathers and pads are free. The program is folded and pruned as JAX's lowering
//!   canonicalises it, so constants and dead code cost nothing.
//! - **XLA-exact sums**: XLA adds the costs of its instructions in float32, in its own
//!   visiting order; above 2^24 that differs from the exact integer sum (GPT-2's root by
//!   up to 1.4M), and `tabulate` sums the same way, so the numbers equal Flax's.
//! - **`vjp_flops`**: the cost of `jax.vjp` of the call with its output as cotangent:
//!   the forward pass with its residuals plus the backward pass, built from each
//!   primitive's JVP and transpose rules.
//! - **`macs`** ([`compute_macs`](Tabulator::compute_macs)): multiply-accumulates of
//!   matmuls and convolutions only, no bias, every convolution tap on the padded input
//!   (torchvision's and ptflops' convention). XLA's `flops` skip taps on padding, so a
//!   CNN's `flops` are 3–7% below `2 × macs`.
//! - **`self_flops`**: a row's own operations, its child calls replaced by their
//!   results, costed directly (not subtracted).
//! - **parameters and bytes**: elements × item size of every variable, per collection;
//!   a row at the [`depth`](Tabulator::depth) limit counts its subtree.
//! - **memory** ([`estimate_memory`](Tabulator::estimate_memory)): inputs, variables, one
//!   gradient per trainable parameter, the optimizer's state ([`Optimizer`]) and the
//!   activations the backward pass keeps (the VJP's residuals), by dtype. An estimate
//!   like torchinfo's: XLA's temporaries, fusion and workspace are not modelled.
//!
//! Counts are `u64`; one that does not fit is an error naming the column, never a
//! saturated number.
//!
//! # Features
//!
//! - `serde` (default): `serde::Serialize` for [`Summary`], [`Row`], [`Value`], [`DType`],
//!   [`Shape`], [`ModulePath`], [`Metric`] and the other plain-data types. Without it
//!   (`default-features = false`) serde is not built; Markdown and CSV need no feature.
//!
//! # Limitations
//!
//! - **Shapes only.** Tensors have no values, so nothing can depend on them: no
//!   data-dependent shapes (boolean masks, `nonzero`, `unique`), no branching on a
//!   tensor's contents. Branch on configuration and shapes instead.
//! - **The primitives `tabulate` knows.** A layer must be written with [`Tensor`]
//!   methods, [`lax`], [`random`] and [`nn`]; there is no escape hatch for an operation
//!   of your own with a hand-written cost (XLA itself counts a custom call as −1).
//! - **Flax's counting, not the hardware's.** `flops` is XLA's cost model of the
//!   unoptimised program, as Flax reports it: fusion, layout and kernel choice are not
//!   seen, transcendentals count 0, and a `scan` or `while` body (as in [`nn::RNN`]) is
//!   counted once, not once per step. [`Metric::Macs`] is the convention to compare with
//!   `PyTorch` tools.
//! - **Parity with Flax is tested, not proven**: on Flax's golden tables, every layer of
//!   [`nn`], 577 random and 100 targeted models and a model zoo; a model built from other
//!   combinations could still differ, which would be a bug to report. Deliberate differences:
//!   collection columns in a fixed order (`params` first), colour only on terminals,
//!   natural width unless given, cell text never read as markup.
//! - **Memory is an estimate**, and `by_operator` flops are exact integer sums, so above
//!   2^24 they can differ from the float32 `flops`.
//! - **One run per thread at a time** ([`ErrorKind::Reentrant`]); `#[forward]` methods
//!   take `&self`; a struct of yours built inline is a new module at every call (hold it
//!   in a field to share it).
//! - **burn models** go through the separate `tabulate-burn` crate, which maps a subset of
//!   burn's operations (see its README).

pub use tabulate_core::{
    AxisName, CallArgs, ColorChoice, Column, DType, DTypeKind, Describe, Error, ErrorKind,
    ForwardOutput, Frozen, Initializer, Leaf, Location, MemoryEstimate, Metric, MetricValue,
    Metrics, ModuleIdentity, ModulePath, Mutable, Operand, OperatorCount, Optimizer, Param,
    RenderOptions, ReshapeArg, Result, Row, RowVariables, SCHEMA_VERSION, Shape, Size, Submodules,
    Summary, Tabulate, Tabulator, Tensor, TrainableSplit, Value, Variable, Visitor,
    is_mutable_collection, module_call, param, param_with, sow, sow_with, tabulate, variable,
    variable_with,
};
/// Derives `tabulate::Describe` for a struct returned (or taken) by `#[forward]` methods,
/// so it shows in the `outputs` cell as Flax shows a `flax.struct.dataclass`: a struct
/// with named fields as a mapping of its fields, keys sorted (`alpha: float32[2,4]`,
/// `zeta: float32[2,3]`); a tuple struct as a list of its fields, like a `NamedTuple`.
///
/// Every field must implement `Describe`. Field attributes: `#[tabulate(skip)]` leaves a
/// field out; `#[tabulate(rename = "…")]` shows it under another key.
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::Value;
///
/// /// Returned by `forward`: shown as Flax shows a `flax.struct.dataclass`.
/// #[derive(Describe)]
/// struct Output {
///     logits: Tensor,
///     #[tabulate(rename = "aux")]
///     auxiliary: Tensor,
///     #[tabulate(skip)]
///     step: usize,
/// }
///
/// #[derive(Tabulate)]
/// struct Model;
///
/// impl Model {
///     #[forward]
///     fn forward(&self, x: &Tensor) -> Result<Output> {
///         Ok(Output { logits: x.clone(), auxiliary: x.sum(&[-1], false)?, step: 0 })
///     }
/// }
///
/// let x = Tensor::new(DType::F32, [2, 4]);
/// let summary = Model.summary(&x)?;
/// let expected = Value::mapping([("aux", Value::Array { dtype: DType::F32, shape: [2].into() }), ("logits", x.describe())]);
/// assert_eq!(summary.rows[0].outputs, expected);
/// # Ok::<(), tabulate::Error>(())
/// ```
pub use tabulate_derive::Describe;
/// Derives `tabulate::Tabulate` for a struct: its type name, and the fields that hold
/// submodules (recognised by type, through `tabulate::Submodules`), so that calls of those
/// submodules are named after the fields (`dense`, `layers_0`, …).
///
/// A field of type `tabulate::Param` (or a container of them) is a variable of the module,
/// named after the field, declared when the module's call opens.
///
/// Field attributes: `#[tabulate(skip)]` leaves a field out; `#[tabulate(rename = "…")]`
/// names its submodules (or its variable) differently; `#[tabulate(collection = "…")]`
/// puts a `Param` field's variables in that collection instead of `params`. Container
/// attribute: `#[tabulate(rename = "…")]` changes the type name shown.
///
/// ```
/// use tabulate::prelude::*;
/// use std::collections::BTreeMap;
/// use tabulate::nn::{Dense, LayerNorm};
///
/// #[derive(Tabulate)]
/// struct Block {
///     norm: LayerNorm,
///     heads: BTreeMap<String, Dense>, // named by key: heads_k, heads_q
///     layers: Vec<(Dense, usize)>,    // layers_0_0, layers_1_0
///     #[tabulate(skip)]
///     spare: Option<Dense>,
///     width: usize,                   // configuration: left out by itself
/// }
///
/// impl Block {
///     #[forward]
///     fn forward(&self, x: &Tensor) -> Result<Tensor> {
///         let mut h = self.norm.forward(x)?;
///         for dense in self.heads.values() {
///             h = dense.forward(&h)?;
///         }
///         for (dense, _) in &self.layers {
///             h = dense.forward(&h)?;
///         }
///         Ok(h)
///     }
/// }
///
/// let heads = [("q".to_string(), Dense::new(8)), ("k".to_string(), Dense::new(8))].into();
/// let block = Block { norm: LayerNorm::new(), heads, layers: vec![(Dense::new(8), 1), (Dense::new(8), 2)], spare: None, width: 8 };
/// let summary = block.summary(&Tensor::new(DType::F32, [2, 8]))?;
/// let paths: Vec<_> = summary.rows.iter().map(|r| r.path.join("/")).collect();
/// assert_eq!(paths, ["", "norm", "heads_k", "heads_q", "layers_0_0", "layers_1_0"]);
/// # Ok::<(), tabulate::Error>(())
/// ```
pub use tabulate_derive::Tabulate;
/// Marks a method of a module whose calls become rows of a summary. It must take `&self`;
/// its arguments must implement `tabulate::Describe` and its result
/// `tabulate::ForwardOutput`. Mark an argument `#[kwarg]` to show it as a keyword
/// argument. On a method named `forward` it also adds a `summary` method taking the same
/// arguments, unless written `#[forward(no_summary)]` (needed inside trait impls).
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::nn::{Dense, Dropout};
///
/// #[derive(Tabulate)]
/// struct Classifier {
///     dense: Dense,
///     dropout: Dropout,
/// }
///
/// impl Classifier {
///     /// Recorded as a row; adds `summary(&x, train)` with the same arguments.
///     #[forward]
///     fn forward(&self, x: &Tensor, #[kwarg] train: bool) -> Result<Tensor> {
///         let h = self.dropout.forward(x, !train)?;
///         self.dense.forward(&h)
///     }
///
///     /// Another method: its row reads `Classifier (logits)`.
///     #[forward]
///     fn logits(&self, x: &Tensor) -> Result<Tensor> {
///         self.dense.forward(x)
///     }
/// }
///
/// let model = Classifier { dense: Dense::new(10), dropout: Dropout::new(0.1) };
/// let x = Tensor::new(DType::F32, [4, 32]);
/// let summary = model.summary(&x, false)?;
/// assert_eq!(summary.rows.len(), 3); // the model, dropout, dense
/// let summary = tabulate(&model).run(|m| m.logits(&x))?;
/// assert_eq!(summary.rows[0].method, "logits");
/// # Ok::<(), tabulate::Error>(())
/// ```
pub use tabulate_derive::forward;

#[doc(inline)]
pub use tabulate_core::nn;

/// Primitives without a [`Tensor`] method (`dot_general`, `conv_general_dilated`,
/// `reduce_window`, `take`, `argmax`), for mapping another framework's operations onto
/// `tabulate`'s. They record and cost like every other operation.
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::lax;
///
/// /// A bilinear form `xᵀ W y` over a batch, written with `dot_general`.
/// #[derive(Tabulate)]
/// struct Bilinear;
///
/// impl Bilinear {
///     #[forward]
///     fn forward(&self, x: &Tensor, y: &Tensor) -> Result<Tensor> {
///         let w = tabulate::param("kernel", DType::F32, [x.dim(-1)?, y.dim(-1)?])?;
///         let xw = lax::dot_general(x, &w, (&[1], &[0]), (&[], &[]))?; // [batch, m]
///         lax::dot_general(&xw, y, (&[1], &[1]), (&[0], &[0])) // [batch]
///     }
/// }
///
/// let (x, y) = (Tensor::new(DType::F32, [8, 3]), Tensor::new(DType::F32, [8, 5]));
/// let summary = tabulate(&Bilinear).compute_macs(true).run(|b| b.forward(&x, &y))?;
/// assert_eq!(summary.rows[0].macs(), Some(8 * 3 * 5 + 8 * 5));
/// # Ok::<(), tabulate::Error>(())
/// ```
pub mod lax {
    pub use tabulate_core::lax_api::*;
}

#[doc(inline)]
pub use tabulate_core::random;

/// The names most programs need: `use tabulate::prelude::*;`.
pub mod prelude {
    pub use crate::{
        DType, Describe, ModuleIdentity, Param, Result, Summary, Tabulate, Tensor, forward,
        tabulate,
    };
}

/// Not public API: what the macros' expansions refer to.
#[doc(hidden)]
pub mod __private {
    pub use tabulate_core::enter_call;
    pub use tabulate_core::probe::{
        FieldProbe, InCollection, ParamField, ViaConfig, ViaSubmodules, assert_param_field,
    };
    pub use tabulate_core::{Reuse, ReuseStats, fallback_reasons, reuse_stats, set_reuse};

    use crate::{Error, ForwardOutput, Result, Summary, Tabulate};

    /// Runs the body of a `#[forward]` method. Taking it as `FnOnce` moves `self` into the
    /// closure, so the body may return references into `self`.
    #[inline]
    pub fn call_once<R>(body: impl FnOnce() -> R) -> R {
        body()
    }

    /// Wraps the receiver of a generated `summary` method for method resolution.
    pub struct SummaryProbe<'a, M: ?Sized>(pub &'a M);

    /// Chosen when the receiver is a module: summarises the call.
    pub trait ViaModule<M> {
        /// Runs `forward` under a summary with the default options.
        fn summarise<R: ForwardOutput>(&self, forward: impl FnOnce(&M) -> R) -> Result<Summary>;
    }

    impl<M: Tabulate> ViaModule<M> for SummaryProbe<'_, M> {
        fn summarise<R: ForwardOutput>(&self, forward: impl FnOnce(&M) -> R) -> Result<Summary> {
            crate::tabulate(self.0).run(forward)
        }
    }

    /// Chosen when the receiver is not a module. Then the `#[forward]` method that the
    /// `summary` calls cannot record its call and fails to compile, with the one error the
    /// user sees; this keeps `summary` from reporting the same mistake a second time.
    pub trait ViaNotModule<M: ?Sized> {
        /// Never runs in a program that compiles.
        fn summarise<R>(&self, forward: impl FnOnce(&M) -> R) -> Result<Summary>;
    }

    impl<M: ?Sized> ViaNotModule<M> for &SummaryProbe<'_, M> {
        fn summarise<R>(&self, _forward: impl FnOnce(&M) -> R) -> Result<Summary> {
            Err(Error::invalid(format!(
                "`{}` is not a module",
                ::core::any::type_name::<M>()
            )))
        }
    }
}

/// The README's code, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

// Lets the `::tabulate::…` paths that the macros emit resolve inside this crate's own tests.
extern crate self as tabulate;
