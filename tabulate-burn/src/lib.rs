//! `tabulate` for [burn](https://burn.dev) models: one row per module call with its field
//! path, type, input and output shapes, parameters and FLOPs, computed without running the
//! model and without allocating its weights.
//!
//! ```no_run
//! use burn::nn::{Linear, LinearConfig};
//!
//! let summary = tabulate_burn::summarize(
//!     |device| LinearConfig::new(512, 10).init(device),
//!     |model: &Linear, inputs| model.forward(inputs.float([8, 512])),
//! )?;
//! println!("{summary}");
//! # Ok::<(), tabulate_burn::Error>(())
//! ```
//!
//! How it works (burn 0.22.1):
//! * [`capture`](crate::capture): the model is built and run on burn's `capture` device,
//!   which records every operation as a `burn_ir::OperationIr` (shapes and dtypes only)
//!   and executes nothing; lazy parameter initialisation is a recorded op, so no weight
//!   memory is used.
//! * `attribution`: the module tree and field paths come from burn's `ModuleVisitor`;
//!   operations are assigned to module calls by parameter dataflow (burn 0.22 has no
//!   forward hooks; see that module for the exact rule and its limits).
//! * [`cost`]: each operation is mapped onto the primitives `tabulate-core` models and
//!   costed by their XLA rules; operations with no mapping are listed, never dropped.
//! * `rows`: the rows, with inputs/outputs recovered from the dataflow at call
//!   boundaries.

mod attribution;
pub mod capture;
pub mod cost;
mod error;
mod marked;
mod rows;

pub use capture::{Inputs, Outputs, ParamInfo, ParamKind, TensorSpec};
pub use error::{Error, ErrorKind};
pub use marked::call;
pub use rows::{BurnSummary, NotCosted, OpRecord, ParamSpec, Row, Unattributed};

use burn::module::Module;
use burn::tensor::Device;

/// Summarises a burn model.
///
/// `init` builds the model on the device it is given (burn's capture device: build from
/// the config, e.g. `ModelConfig::new().init(device)`, so that no weights are allocated);
/// `forward` calls the model's forward pass on inputs asked from [`Inputs`] by shape and
/// dtype, and returns its result.
///
/// Errors: a panic in either closure (a shape assertion in burn, or reading tensor values,
/// which a shape-only run cannot do) and capture failures are returned as [`Error`].
pub fn summarize<M, O>(
    init: impl FnOnce(&Device) -> M,
    forward: impl FnOnce(&M, &mut Inputs) -> O,
) -> Result<BurnSummary, Error>
where
    M: Module,
    O: Outputs,
{
    let captured = capture::capture(init, forward)?;
    Ok(rows::build(&captured))
}
