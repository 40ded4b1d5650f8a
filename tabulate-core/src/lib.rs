//! The runtime of [`tabulate`](https://docs.rs/tabulate): abstract tensors, the trace of a
//! forward pass, XLA's cost model, the built-in layers and the summary table.
//!
//! Use it through the `tabulate` crate, which adds the derive macros.

pub mod dtype;
pub mod error;
pub mod module;
pub mod nn;
pub mod options;
pub mod random;
pub mod shape;
pub mod summary;
pub mod tensor;
pub mod value;
pub mod variable;

mod call;
mod cost;
mod lax;
mod ops;
mod scope;
mod spec;
mod tabulator;
mod trace;

pub use call::{CallGuard, ForwardOutput, enter_call, module_call};
pub use cost::{Metric, MetricValue, Metrics};
pub use dtype::{DType, DTypeKind};
pub use error::{Error, ErrorKind, Location, Result};
pub use lax::tensor::{Operand, ReshapeArg};
pub use module::{ModuleIdentity, Submodules, Tabulate, Visitor};
pub use options::Mutable;
pub use shape::Shape;
pub use summary::{ColorChoice, Leaf, RenderOptions, Row, RowVariables, Size, Summary};
pub use tabulator::{Tabulator, tabulate};
pub use tensor::Tensor;
pub use value::{CallArgs, Describe, Value};
pub use variable::{Variable, is_mutable_collection, param, variable};

#[doc(hidden)]
pub use module::probe;
