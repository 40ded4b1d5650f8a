//! The runtime of [`tabulate`](https://docs.rs/tabulate): abstract tensors, the trace of a
//! forward pass, XLA's cost model, the built-in layers and the summary table.
//!
//! Use it through the `tabulate` crate, which adds the derive macros.

// The layers, lowest first, are listed in `tests/it/layering.rs`, which checks that no module
// uses one listed after it.
mod call;
mod cost;
mod dtype;
mod error;
mod hash;
mod lax;
mod module;
// Re-exported by the `tabulate` facade as `tabulate::nn` and `tabulate::random`. Not
// `#[doc(hidden)]`: rustdoc drops the impls (`Dense::new`, `forward`, …) of items it
// inlines from a hidden module, and the facade shows these modules' own docs.
pub mod nn;
mod ops;
mod options;
mod param;
mod path;
pub mod random;
mod scope;
mod shape;
mod spec;
mod summary;
mod tabulator;
mod tensor;
mod trace;
mod value;
mod variable;

#[doc(hidden)]
pub use call::{CallGuard, enter_call};
pub use call::{ForwardOutput, module_call};
pub use cost::{Metric, MetricValue, Metrics, OperatorCount};
pub use dtype::{DType, DTypeKind};
pub use error::{Error, ErrorKind, Location, Result};
pub use lax::tensor::{Operand, ReshapeArg};
/// Primitives without a [`Tensor`] method (re-exported by the facade as `tabulate::lax`).
#[doc(hidden)]
pub mod lax_api {
    pub use crate::lax::public::*;
}
pub use module::{ModuleIdentity, Submodules, Tabulate, Visitor};
pub use options::{Frozen, Mutable, Optimizer};
pub use param::Param;
pub use path::ModulePath;
pub use shape::Shape;
pub use summary::{
    ColorChoice, Column, Leaf, MemoryEstimate, RenderOptions, Row, RowVariables, SCHEMA_VERSION,
    Size, Summary, TrainableSplit,
};
pub use tabulator::{Tabulator, tabulate};
pub use tensor::Tensor;
pub use value::{CallArgs, Describe, Value};
pub use variable::{
    AxisName, Initializer, Variable, is_mutable_collection, param, param_with, sow, sow_with,
    variable, variable_with,
};

#[doc(hidden)]
pub use cost::{Reuse, ReuseStats, fallback_reasons, reuse_stats, set_reuse};
#[doc(hidden)]
pub use module::probe;
