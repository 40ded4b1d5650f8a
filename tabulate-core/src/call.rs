//! The public call API: what `#[forward]` expands to ([`enter_call`], [`CallGuard`]),
//! what hand-written modules call ([`module_call`]), and what a forward method may
//! return ([`ForwardOutput`]). Each call is opened and closed on the recorder (`trace`).

use crate::error::{Error, ErrorKind};
use crate::module::Tabulate;
use crate::scope;
use crate::trace::{self, Lifted};
use crate::value::{CallArgs, Describe, Value};

/// Marks one module call in progress; [`CallGuard::exit`] closes it.
#[must_use = "a call must be closed with `exit`"]
pub struct CallGuard {
    depth: Option<usize>,
    /// A module call is no user-level operation of its caller's: errors inside it are
    /// named by what its own body applies.
    _operation: scope::OperationGuard,
}

/// Opens a call of `method` on `module` if a summary run is active. `args` records the
/// arguments; it is only called when a run is active.
pub fn enter_call(
    module: &dyn Tabulate,
    method: &'static str,
    args: impl FnOnce(&mut CallArgs),
) -> CallGuard {
    open_call(module, method, args, None)
}

/// Opens a call, a lifted one if `lifted` says how.
fn open_call(
    module: &dyn Tabulate,
    method: &'static str,
    args: impl FnOnce(&mut CallArgs),
    lifted: Option<&Lifted>,
) -> CallGuard {
    CallGuard {
        depth: trace::open_call(module, method, args, lifted),
        _operation: scope::replace_operation(None),
    }
}

impl CallGuard {
    /// Closes the call with its result.
    pub fn exit<T: ForwardOutput + ?Sized>(mut self, result: &T) {
        if let Some(depth) = self.depth.take() {
            let (outputs, arrays) = scope::collect_arrays(|| result.output_value());
            trace::close_call(depth, outputs, arrays);
        }
    }
}

impl Drop for CallGuard {
    fn drop(&mut self) {
        // Only reached without `exit` when the method panicked: unwind the frame.
        if let Some(depth) = self.depth.take() {
            trace::close_call(depth, None, scope::Arrays::new());
        }
    }
}

/// What a `#[forward]` method may return: a [`Describe`] value, or a `Result` of one.
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::ForwardOutput;
///
/// let x = Tensor::new(DType::F32, [2]);
/// let ok: tabulate::Result<Tensor> = Ok(x.clone());
/// assert_eq!(ok.output_value(), Some(x.describe()));
/// let failed: std::result::Result<Tensor, String> = Err("no".to_string());
/// assert_eq!(failed.failure().map(|e| e.to_string()), Some("the forward pass failed: no".to_string()));
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be the result of a `#[forward]` method",
    label = "results must implement `Describe` (or be a `Result` of such a value)",
    note = "implement `tabulate::Describe` for the result type"
)]
pub trait ForwardOutput {
    /// The value shown in the `outputs` column, or `None` for an error.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::ForwardOutput;
    ///
    /// let x = Tensor::new(DType::F32, [2]);
    /// assert_eq!(x.output_value(), Some(x.describe())); // a plain value
    /// let failed: tabulate::Result<Tensor> = x.reshape(vec![3]);
    /// assert_eq!(failed.output_value(), None);
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    fn output_value(&self) -> Option<Value>;
    /// The error, if the call failed: ours as it is, any other as its message.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::ForwardOutput;
    ///
    /// let x = Tensor::new(DType::F32, [2]);
    /// assert!(x.failure().is_none());
    /// let mine: std::result::Result<Tensor, std::fmt::Error> = Err(std::fmt::Error);
    /// assert_eq!(mine.failure().map(|e| e.to_string()), Some("the forward pass failed: an error occurred when formatting an argument".to_string()));
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    fn failure(&self) -> Option<Error> {
        None
    }
}

impl<T: Describe, E: std::fmt::Display + 'static> ForwardOutput for std::result::Result<T, E> {
    fn output_value(&self) -> Option<Value> {
        self.as_ref().ok().map(Describe::describe)
    }

    fn failure(&self) -> Option<Error> {
        let error = self.as_ref().err()?;
        let any: &dyn std::any::Any = error;
        Some(any.downcast_ref::<Error>().cloned().unwrap_or_else(|| {
            Error::new(ErrorKind::Failed {
                message: error.to_string(),
            })
        }))
    }
}

impl<T: Describe> ForwardOutput for T {
    fn output_value(&self) -> Option<Value> {
        Some(self.describe())
    }
}

/// Opens a call that a lifted transform records for a function that is not a method of
/// `module` (`scan_fn`, `<lambda>`); `path` overrides the module's path when given.
pub(crate) fn enter_lifted_call(
    module: &dyn Tabulate,
    method: &'static str,
    path: Option<crate::path::ModulePath>,
    args: impl FnOnce(&mut CallArgs),
) -> CallGuard {
    open_call(module, method, args, Some(&Lifted { path }))
}

/// Records `body` as a call of `method` on `module` (what `#[forward]` expands to, for
/// modules written by hand): `args` describes the arguments, `body` computes the result.
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::nn::Dense;
///
/// /// A module written without `#[derive(Tabulate)]` or `#[forward]`.
/// struct Projection {
///     dense: Dense,
/// }
///
/// impl tabulate::Tabulate for Projection {
///     fn type_name(&self) -> &'static str {
///         "Projection"
///     }
///     fn visit_submodules(&self, visitor: &mut dyn tabulate::Visitor) {
///         visitor.visit("dense", &self.dense);
///     }
/// }
///
/// impl Projection {
///     fn forward(&self, x: &Tensor) -> Result<Tensor> {
///         tabulate::module_call(self, "forward", |args| args.positional(x), || self.dense.forward(x))
///     }
/// }
///
/// let model = Projection { dense: Dense::new(2) };
/// let summary = tabulate(&model).run(|m| m.forward(&Tensor::new(DType::F32, [4, 3])))?;
/// assert_eq!(summary.rows[0].module_type, "Projection");
/// assert_eq!(summary.rows[1].path, ["dense"]);
/// # Ok::<(), tabulate::Error>(())
/// ```
pub fn module_call<M: Tabulate, T: ForwardOutput>(
    module: &M,
    method: &'static str,
    args: impl FnOnce(&mut CallArgs),
    body: impl FnOnce() -> T,
) -> T {
    let guard = enter_call(module, method, args);
    let out = {
        // A built-in layer is the user-level operation of what it applies (`nn::Conv`).
        let _operation =
            scope::replace_operation(scope::layer_operation(std::any::type_name::<M>()));
        body()
    };
    guard.exit(&out);
    out
}
