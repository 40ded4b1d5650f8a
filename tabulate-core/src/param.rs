//! `Param`: a variable declared as a field of a module, with its dtype and shape known at
//! construction (as in `torch.nn` or burn), instead of inside `forward` with `param`.
//!
//! This file holds the data only, so that the module layer's [`Visitor`](crate::Visitor)
//! can name it; reading it needs the recorder, so [`Param::get`] lives in `variable.rs`
//! beside `param`.

use crate::dtype::DType;
use crate::shape::Shape;
use crate::spec::Spec;

/// A variable of a module declared as one of its fields: `kernel: Param` built as
/// `Param::new(DType::F32, [3, 4])`.
///
/// `#[derive(Tabulate)]` finds such fields by their type (in containers too: a
/// `Vec<Param>` field `taps` gives `taps_0`, `taps_1`, an `Option<Param>` its field's name
/// when `Some`). Each is a variable of its module named after its field (or its
/// `#[tabulate(rename = "…")]`), in collection `params` unless the field says
/// `#[tabulate(collection = "batch_stats")]`. It is the same variable `param` or
/// `variable` would declare with that name: listed in the module's row with the same
/// cell text, counts and bytes, and read through [`Param::get`] it is an input of the
/// FLOP and VJP programs exactly like a `param` (its gradient is counted).
///
/// **When it is created.** When its module's call opens, before the body runs, as Flax
/// runs a module's `setup` (and creates its parameters) at the module's first call: a
/// `Param` field that is never read still counts, and a module never called has no row
/// and no variables. Later calls of the same module find the same variable.
///
/// A `param("kernel", …)` or `variable(…, "kernel", …)` call in the same collection of
/// the same module is an error naming the module path, as is reading a `Param` that is
/// not a field of a module whose call is open.
///
/// ```
/// use tabulate::prelude::*;
///
/// #[derive(Tabulate)]
/// struct Linear {
///     kernel: Param,
///     bias: Option<Param>,
///     #[tabulate(collection = "batch_stats")]
///     mean: Param,
/// }
///
/// impl Linear {
///     fn new(inputs: usize, outputs: usize) -> Linear {
///         Linear {
///             kernel: Param::new(DType::F32, [inputs, outputs]),
///             bias: Some(Param::new(DType::F32, [outputs])),
///             mean: Param::new(DType::F32, [outputs]),
///         }
///     }
///
///     #[forward]
///     fn forward(&self, x: &Tensor) -> Result<Tensor> {
///         let mut y = x.matmul(&self.kernel.get()?)?;
///         if let Some(bias) = &self.bias {
///             y = y.add(&bias.get()?)?;
///         }
///         y.sub(&self.mean.get()?)
///     }
/// }
///
/// let x = Tensor::new(DType::F32, [16, 9]);
/// let summary = tabulate(&Linear::new(9, 4))
///     .compute_flops(true)
///     .compute_vjp_flops(true)
///     .run(|m| m.forward(&x))?;
/// assert_eq!(summary.collections, ["params", "batch_stats"]);
/// let row = &summary.rows[0];
/// let names: Vec<&str> = row.variables[0].own.iter().map(|v| v.name.as_str()).collect();
/// assert_eq!(names, ["bias", "kernel"]);
/// assert_eq!(row.variables[0].counted.count, 40);
/// assert_eq!(row.variables[1].counted.count, 4);
/// // Flax's numbers for the same module with `self.param`/`self.variable` in `setup`.
/// assert_eq!(row.flops(), Some(1280));
/// assert_eq!(row.vjp_flops(), Some(3812));
/// # Ok::<(), tabulate::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Param {
    pub(crate) spec: Spec,
}

impl Param {
    /// A parameter of `dtype` and `shape`.
    ///
    /// ```
    /// use tabulate::{DType, Param};
    ///
    /// let kernel = Param::new(DType::BF16, [512, 2048]);
    /// assert_eq!(kernel.dtype(), DType::BF16);
    /// assert_eq!(kernel.shape().dims(), [512, 2048]);
    /// ```
    pub fn new(dtype: DType, shape: impl Into<Shape>) -> Param {
        Param {
            spec: Spec::new(dtype, shape),
        }
    }

    /// Its element type.
    ///
    /// ```
    /// use tabulate::{DType, Param};
    ///
    /// assert_eq!(Param::new(DType::F16, [3]).dtype(), DType::F16);
    /// ```
    pub fn dtype(&self) -> DType {
        self.spec.dtype
    }

    /// Its shape.
    ///
    /// ```
    /// use tabulate::{DType, Param};
    ///
    /// assert_eq!(Param::new(DType::F32, [3, 4]).shape().dims(), [3, 4]);
    /// ```
    pub fn shape(&self) -> &Shape {
        &self.spec.shape
    }
}
