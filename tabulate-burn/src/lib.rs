//! `tabulate` for [burn](https://burn.dev) models: the same [`tabulate::Summary`] as a
//! native model's (one row per module call with its field path, type, input and output
//! shapes, parameters, FLOPs and every other column), computed without running the model
//! and without allocating its weights.
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
//!   forward hooks; see that module for the exact rule and its limits) and by the exact
//!   marks of [`call`].
//! * `replay`: the recorded graph is replayed onto `tabulate`'s abstract tensors inside
//!   `tabulate(..).run(..)`: every call a `module_call` of a [`BurnModule`] declaring its
//!   parameters, every operation the `tabulate` operations emitting the primitives JAX
//!   would (`map`). Costs are then core's rules; operations with no mapping are listed in
//!   the summary's notes, never dropped.

mod attribution;
pub mod capture;
mod error;
mod map;
mod marked;
mod names;
mod replay;

pub use capture::{Inputs, Outputs, ParamInfo, ParamKind, TensorSpec};
pub use error::{Error, ErrorKind};
pub use marked::call;
pub use replay::BurnModule;

use burn::module::Module;
use burn::tensor::Device;
use tabulate::{Summary, Tabulator};

/// Summarises a burn model with forward and VJP FLOPs.
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
) -> Result<Summary, Error>
where
    M: Module,
    O: Outputs,
{
    summarize_with(
        |t| t.compute_flops(true).compute_vjp_flops(true),
        init,
        forward,
    )
}

/// [`summarize`] with `tabulate`'s options chosen by `configure` (every [`Tabulator`]
/// option: depth, columns such as MACs or memory, …), starting from Flax's defaults.
pub fn summarize_with<M, O>(
    configure: impl FnOnce(Tabulator<'_, BurnModule>) -> Tabulator<'_, BurnModule>,
    init: impl FnOnce(&Device) -> M,
    forward: impl FnOnce(&M, &mut Inputs) -> O,
) -> Result<Summary, Error>
where
    M: Module,
    O: Outputs,
{
    let captured = capture::capture(init, forward)?;
    replay::summarize(&captured, configure).map_err(|e| Error::summary(&e))
}

/// burn's own `Module::num_params()` of the model `init` builds (on the capture device, so
/// nothing is allocated).
pub fn num_params<M: Module>(init: impl FnOnce(&Device) -> M) -> Result<usize, Error> {
    let captured = capture::capture(init, |_, _| ())?;
    Ok(captured.burn_num_params)
}
