//! The one error type: everything a user can get wrong at run time, with where it happened.

use std::fmt;
use std::sync::Arc;

/// A `Result` whose error is [`Error`].
///
/// ```
/// use tabulate::prelude::*;
/// fn widen(x: &Tensor) -> tabulate::Result<Tensor> {
///     x.reshape(vec![-1, 6])
/// }
///
/// assert!(widen(&Tensor::new(DType::F32, [4, 3])).is_ok());
/// assert!(widen(&Tensor::new(DType::F32, [4, 5])).is_err());
/// ```
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, and in which module call.
///
/// Displays as `Block_0/Dense_1 (Dense): Tensor::matmul: dot_general: contracting dimensions differ: …`:
/// the module path and type first (when the error happened inside a module call), then
/// the [`ErrorKind`].
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::ErrorKind;
/// use tabulate::nn::Dense;
///
/// #[derive(Tabulate)]
/// struct Block;
///
/// impl Block {
///     #[forward]
///     fn forward(&self, x: &Tensor) -> Result<Tensor> {
///         let w = Tensor::new(DType::F32, [8, 4]);
///         x.matmul(&w)
///     }
/// }
///
/// #[derive(Tabulate)]
/// struct Net;
///
/// impl Net {
///     #[forward]
///     fn forward(&self, x: &Tensor) -> Result<Tensor> {
///         Block.forward(&Dense::new(9).forward(x)?)
///     }
/// }
///
/// let x = Tensor::new(DType::F32, [16, 3]);
/// let error = Net.summary(&x).unwrap_err();
/// let location = error.location().expect("inside a module call");
/// assert_eq!((location.path.as_str(), location.module.as_str()), ("Block_0", "Block"));
/// assert!(matches!(error.kind(), ErrorKind::Shape { op: "Tensor::matmul", .. }));
/// assert!(error.to_string().starts_with("Block_0 (Block): Tensor::matmul: dot_general: "));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error(Box<Inner>);

/// Boxed, so that `Result<T>` stays small on the happy path.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Inner {
    location: Option<Location>,
    kind: ErrorKind,
    partial: Option<Partial>,
}

/// The table of the calls made before a forward pass failed. The summary layer, above
/// this one, implements it for its `Summary`.
pub(crate) trait PartialTable: fmt::Display + fmt::Debug + Send + Sync + 'static {
    /// For downcasting to the summary type.
    fn as_any(&self) -> &dyn std::any::Any;
    /// The inputs of the call that failed, as one line, when known.
    fn failed_inputs(&self) -> Option<String>;
}

/// A shared partial table; errors compare equal whatever their tables.
#[derive(Clone, Debug)]
struct Partial(Arc<dyn PartialTable>);

impl PartialEq for Partial {
    fn eq(&self, _: &Partial) -> bool {
        true
    }
}

impl Eq for Partial {}

pub use crate::scope::Location;

/// When a primitive's rule failed: applying it (the forward pass) or differentiating it
/// (the cost stage, building the VJP).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stage {
    /// Checking its operands' shapes as it is applied.
    Apply,
    /// Building its derivative for the VJP columns.
    Differentiate,
}

/// The kinds of [`Error`].
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::{Error, ErrorKind};
///
/// // Errors of your own layers: a kind, placed in the module call running now.
/// fn check_rank(x: &Tensor) -> tabulate::Result<()> {
///     if x.rank() != 4 {
///         return Err(Error::new(ErrorKind::InvalidArgument {
///             what: format!("expected NHWC input, got {x}"),
///         }));
///     }
///     Ok(())
/// }
///
/// let error = check_rank(&Tensor::new(DType::F32, [2, 3])).unwrap_err();
/// assert_eq!(error.to_string(), "expected NHWC input, got float32[2,3]");
/// assert!(error.location().is_none()); // made outside any module call
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// An operation got operands it cannot combine: shapes, dtypes or arguments.
    Shape {
        /// The user-level operation (`Tensor::matmul`, `nn::Conv`), or the primitive
        /// (`dot_general`) when none was running; the detail then names the primitive.
        op: &'static str,
        /// What is wrong, with the operands' dtypes and shapes.
        detail: String,
    },
    /// A layer or option was configured with a value it cannot use.
    InvalidArgument {
        /// What is wrong.
        what: String,
    },
    /// A variable was declared or written in a collection that is not mutable.
    NotMutable {
        /// `declare` or `write`.
        action: &'static str,
        /// The variable collection (`params`, `batch_stats`, …).
        collection: String,
        /// The variable's name.
        name: String,
    },
    /// A variable was declared twice with different shapes or dtypes.
    VariableMismatch {
        /// The variable collection.
        collection: String,
        /// The variable's name.
        name: String,
        /// The first declaration (`float32[9,4]`).
        first: String,
        /// The conflicting declaration.
        second: String,
    },
    /// A layer needs a random stream that was not provided.
    MissingRng {
        /// The stream's name (`dropout`, …).
        stream: String,
    },
    /// Something that only works inside a module call was used outside one.
    OutsideModule {
        /// What was attempted.
        what: &'static str,
    },
    /// The summarised function made no module call.
    NoCall,
    /// The summarised function failed with an error of its own type.
    Failed {
        /// The error's message.
        message: String,
    },
    /// A summary run was started while another one was running on the same thread.
    Reentrant,
    /// An invariant of `tabulate` itself broke: a bug, never the input's fault.
    Internal {
        /// Which invariant broke.
        what: String,
    },
}

// Written out rather than derived (thiserror): one proc-macro crate less to build, for a
// user's crate and for every `cargo test`.
impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::Shape { op, detail } => write!(f, "{op}: {detail}"),
            ErrorKind::InvalidArgument { what } => write!(f, "{what}"),
            ErrorKind::NotMutable {
                action,
                name,
                collection,
            } => write!(
                f,
                "cannot {action} variable `{name}` in collection `{collection}`: the collection is not mutable (see the `mutable` option)"
            ),
            ErrorKind::VariableMismatch {
                name,
                collection,
                first,
                second,
            } => write!(
                f,
                "variable `{name}` in collection `{collection}` was declared as {first} and again as {second}"
            ),
            ErrorKind::MissingRng { stream } => write!(
                f,
                "the random stream `{stream}` is needed but was not provided (see the `rngs` option)"
            ),
            ErrorKind::OutsideModule { what } => write!(
                f,
                "{what} only works inside a module call made by a summary run"
            ),
            ErrorKind::NoCall => write!(
                f,
                "no module call was recorded: the function passed to `run` must call a `#[forward]` method"
            ),
            ErrorKind::Failed { message } => write!(f, "the forward pass failed: {message}"),
            ErrorKind::Reentrant => {
                write!(f, "a summary run is already in progress on this thread")
            }
            ErrorKind::Internal { what } => write!(
                f,
                "internal error: {what}; this is a bug in tabulate, please report it with the model that caused it"
            ),
        }
    }
}

impl std::error::Error for ErrorKind {}

impl Error {
    /// An error of `kind`, placed in the innermost module call running on this thread.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::{Error, ErrorKind};
    ///
    /// let error = Error::new(ErrorKind::MissingRng { stream: "noise".into() });
    /// assert_eq!(
    ///     error.to_string(),
    ///     "the random stream `noise` is needed but was not provided (see the `rngs` option)"
    /// );
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn new(kind: ErrorKind) -> Error {
        Error::located(kind, crate::scope::current_location())
    }

    /// An error of `kind` at `location`.
    pub(crate) fn located(kind: ErrorKind, location: Option<Location>) -> Error {
        Error(Box::new(Inner {
            location,
            kind,
            partial: None,
        }))
    }

    /// This error, placed at `location` unless it already has one.
    pub(crate) fn or_at(mut self, location: impl FnOnce() -> Location) -> Error {
        if self.0.location.is_none() {
            self.0.location = Some(location());
        }
        self
    }

    /// A shape error of operation `op`. Raised while a user-level operation runs
    /// (`Tensor::matmul`, `nn::Conv`), it is named by that operation, with `op` (the
    /// primitive, `dot_general`) leading the detail unless it is the operation's own name.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::{Error, ErrorKind};
    ///
    /// // In a layer of your own: the operands that cannot be combined, in the detail.
    /// let x = Tensor::new(DType::F32, [2, 3]);
    /// let error = Error::shape("my_op", format!("expected a rank-4 input, got {x}"));
    /// assert!(matches!(error.kind(), ErrorKind::Shape { op: "my_op", .. }));
    /// assert_eq!(error.to_string(), "my_op: expected a rank-4 input, got float32[2,3]");
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn shape(op: &'static str, detail: impl Into<String>) -> Error {
        let detail = detail.into();
        let (op, detail) = match crate::scope::current_operation() {
            Some(name) if name.rsplit("::").next() == Some(op) => (name, detail),
            Some(name) => (name, format!("{op}: {detail}")),
            None => (op, detail),
        };
        Error::new(ErrorKind::Shape { op, detail })
    }

    /// An invalid-argument error.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::{Error, ErrorKind};
    ///
    /// let error = Error::invalid("`heads` must be at least 1");
    /// assert!(matches!(error.kind(), ErrorKind::InvalidArgument { .. }));
    /// assert_eq!(error.to_string(), "`heads` must be at least 1");
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn invalid(what: impl Into<String>) -> Error {
        Error::new(ErrorKind::InvalidArgument { what: what.into() })
    }

    /// A broken internal invariant ([`ErrorKind::Internal`]).
    pub(crate) fn internal(what: impl Into<String>) -> Error {
        Error::new(ErrorKind::Internal { what: what.into() })
    }

    /// This error, raised by a primitive's rule while `operation` (`Tensor::matmul`,
    /// `nn::Conv`; `None` when unknown) applied it, or while the cost stage
    /// differentiated it (`stage`), named in the user's terms: the operation the user
    /// called leads, the primitive (`lax.dot_general`) follows as the detail's subject.
    /// `prim` names the primitive when the operation is unknown.
    pub(crate) fn in_operation(
        mut self,
        operation: Option<&'static str>,
        prim: &'static str,
        stage: Stage,
    ) -> Error {
        let named = operation.unwrap_or(prim);
        // `lax.transpose` is what `Tensor::transpose` says already.
        let same = |op: &str| named.rsplit("::").next() == Some(op);
        let doing = match stage {
            Stage::Apply => String::new(),
            Stage::Differentiate => {
                "its derivative (for the VJP columns) cannot be built: ".to_string()
            }
        };
        self.0.kind = match std::mem::replace(&mut self.0.kind, ErrorKind::NoCall) {
            ErrorKind::Shape { op, detail } if op == named => ErrorKind::Shape {
                op,
                detail: format!("{doing}{detail}"),
            },
            ErrorKind::Shape { op, detail } => ErrorKind::Shape {
                op: named,
                detail: match stage {
                    Stage::Apply if same(op) => detail,
                    Stage::Apply => format!("{op}: {detail}"),
                    Stage::Differentiate => format!("{doing}lax.{op}: {detail}"),
                },
            },
            ErrorKind::InvalidArgument { what } => ErrorKind::InvalidArgument {
                what: format!("{named}: {doing}{what}"),
            },
            ErrorKind::Internal { what } => ErrorKind::Internal {
                what: match stage {
                    Stage::Apply => format!("{what} (applying {named})"),
                    Stage::Differentiate => format!("{what} (differentiating {named})"),
                },
            },
            other => other,
        };
        self
    }

    /// What went wrong.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::ErrorKind;
    ///
    /// let error = Tensor::new(DType::F32, [4, 5]).reshape(vec![-1, 6]).unwrap_err();
    /// assert!(matches!(error.kind(), ErrorKind::Shape { op: "Tensor::reshape", .. }));
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn kind(&self) -> &ErrorKind {
        &self.0.kind
    }

    /// The module call it happened in, if any.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::Dense;
    ///
    /// #[derive(Tabulate)]
    /// struct Net;
    ///
    /// impl Net {
    ///     #[forward]
    ///     fn forward(&self, x: &Tensor) -> Result<Tensor> {
    ///         let h = Dense::new(4).forward(x)?;
    ///         h.reshape(vec![-1, 3]) // 8 × 4 elements do not split into rows of 3
    ///     }
    /// }
    ///
    /// let x = Tensor::new(DType::F32, [8, 2]);
    /// let error = Net.summary(&x).unwrap_err();
    /// let location = error.location().expect("raised inside a module call");
    /// assert_eq!((location.path.as_str(), location.module.as_str()), ("", "Net"));
    /// // Outside any module call there is none.
    /// assert!(x.reshape(vec![-1, 7]).unwrap_err().location().is_none());
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn location(&self) -> Option<&Location> {
        self.0.location.as_ref()
    }

    /// This error with the table of the calls made before it.
    pub(crate) fn with_partial(mut self, table: Arc<dyn PartialTable>) -> Error {
        self.0.partial = Some(Partial(table));
        self
    }

    /// The table of the calls made before the failure, for the summary layer.
    pub(crate) fn partial_table(&self) -> Option<&dyn PartialTable> {
        self.0.partial.as_ref().map(|p| &*p.0)
    }
}

impl fmt::Display for Error {
    /// `path (Type): op: detail`. With the table of the calls made so far
    /// ([`Tabulator::table_on_error`](crate::Tabulator::table_on_error)): that table, then
    /// the message in the style of Keras' input-spec errors, naming the call, the
    /// operation, and what it got.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(partial) = &self.0.partial {
            write!(f, "{}", partial.0)?;
            let (path, module) = match &self.0.location {
                Some(Location { path, module }) if path.is_empty() => ("(root)", module.as_str()),
                Some(Location { path, module }) => (path.as_str(), module.as_str()),
                None => ("(outside any module)", ""),
            };
            write!(f, "Call `{path}`")?;
            if !module.is_empty() {
                write!(f, " ({module})")?;
            }
            match &self.0.kind {
                ErrorKind::Shape { op, detail } => {
                    write!(f, " failed in operation `{op}`: {detail}")?;
                }
                other => write!(f, " failed: {other}")?,
            }
            if let Some(inputs) = partial.0.failed_inputs() {
                write!(f, "\n  the call received: {inputs}")?;
            }
            return Ok(());
        }
        match &self.0.location {
            Some(Location { path, module }) if path.is_empty() => write!(f, "{module}: ")?,
            Some(Location { path, module }) => write!(f, "{path} ({module}): ")?,
            None => {}
        }
        fmt::Display::fmt(&self.0.kind, f)
    }
}

impl std::error::Error for Error {}

impl From<ErrorKind> for Error {
    fn from(kind: ErrorKind) -> Error {
        Error::new(kind)
    }
}

#[cfg(test)]
mod tests {
    use super::{Error, ErrorKind};

    #[test]
    fn internal_errors_ask_for_a_report() {
        let error = Error::internal("`mul` is linear in one operand only");
        assert!(matches!(error.kind(), ErrorKind::Internal { .. }));
        assert_eq!(
            error.to_string(),
            "internal error: `mul` is linear in one operand only; this is a bug in tabulate, \
             please report it with the model that caused it"
        );
    }
}
