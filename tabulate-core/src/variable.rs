//! Declaring and updating variables from inside a module's forward pass, as Flax's
//! `self.param` and `self.variable` do. Shapes may depend on the inputs; a variable is
//! declared once per module and returned again on later calls.

use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::shape::Shape;
use crate::spec::Spec;
use crate::tensor::Tensor;
use crate::trace;

/// Declares (or fetches) the parameter `name` of the current module, in collection
/// `params`, and returns its value. Outside a summary run it returns a tensor of that
/// dtype and shape, so layers also run without a summary.
///
/// ```
/// use tabulate::prelude::*;
/// /// A layer of your own: `y = x · kernel * scale`, with Flax's parameter names.
/// #[derive(Tabulate)]
/// struct ScaledLinear {
///     features: usize,
/// }
///
/// impl ScaledLinear {
///     #[forward]
///     fn forward(&self, x: &Tensor) -> Result<Tensor> {
///         let inputs = x.dim(-1)?;
///         let kernel = tabulate::param("kernel", DType::F32, [inputs, self.features])?;
///         let scale = tabulate::param("scale", DType::F32, [self.features])?;
///         x.matmul(&kernel)?.mul(&scale)
///     }
/// }
///
/// let x = Tensor::new(DType::F32, [16, 9]);
/// let summary = tabulate(&ScaledLinear { features: 4 }).compute_flops(true).run(|m| m.forward(&x))?;
/// assert_eq!(summary.total().count, 9 * 4 + 4);
/// assert_eq!(summary.rows[0].flops(), Some(16 * 4 * 2 * 9 + 16 * 4)); // XLA: 2 per multiply-add, 1 per mul
/// assert_eq!(tabulate::param("w", DType::F32, [2])?.to_string(), "float32[2]"); // outside a run
/// # Ok::<(), tabulate::Error>(())
/// ```
pub fn param(name: &str, dtype: DType, shape: impl Into<Shape>) -> Result<Tensor> {
    Ok(variable("params", name, dtype, shape)?.value)
}

/// Declares (or fetches) variable `name` in `collection` on the current module.
///
/// Declaring a new variable needs the collection to be mutable (see
/// [`Mutable`](crate::Mutable)); otherwise this returns
/// [`ErrorKind::NotMutable`](crate::ErrorKind::NotMutable), as Flax raises
/// `ScopeCollectionNotFound`.
///
/// ```
/// use tabulate::prelude::*;
/// /// Counts the calls, as a Flax module keeps a counter in a collection of its own.
/// #[derive(Tabulate)]
/// struct Counted;
///
/// impl Counted {
///     #[forward]
///     fn forward(&self, x: &Tensor) -> Result<Tensor> {
///         let mut calls = tabulate::variable("counter", "calls", DType::I32, tabulate::Shape::scalar())?;
///         let next = calls.value().add(1)?;
///         calls.set(next)?;
///         Ok(x.clone())
///     }
/// }
///
/// let summary = tabulate(&Counted).run(|m| m.forward(&Tensor::new(DType::F32, [3])))?;
/// assert_eq!(summary.collections, ["counter"]);
/// assert_eq!(summary.total().count, 1);
/// # Ok::<(), tabulate::Error>(())
/// ```
pub fn variable(
    collection: &str,
    name: &str,
    dtype: DType,
    shape: impl Into<Shape>,
) -> Result<Variable> {
    let spec = Spec::new(dtype, shape);
    let bytes = spec
        .shape
        .checked_elements()
        .and_then(|n| n.checked_mul(dtype.item_size()));
    if bytes.is_none() {
        return Err(Error::invalid(format!(
            "variable `{name}` in collection `{collection}`: {spec} is too large: its size in bytes does not fit in 64 bits"
        )));
    }
    let value = trace::declare_variable(collection, name, spec)?;
    Ok(Variable {
        collection: collection.to_string(),
        name: name.to_string(),
        value,
    })
}

/// Whether `collection` may be written in the running summary (always true outside one).
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::Mutable;
///
/// /// Updates its statistics only when the run lets it, as Flax's `self.is_mutable_collection`.
/// #[derive(Tabulate)]
/// struct Stats;
///
/// impl Stats {
///     #[forward]
///     fn forward(&self, x: &Tensor) -> Result<Tensor> {
///         if tabulate::is_mutable_collection("stats") {
///             tabulate::variable("stats", "mean", DType::F32, [x.dim(-1)?])?;
///         }
///         Ok(x.clone())
///     }
/// }
///
/// let x = Tensor::new(DType::F32, [2, 5]);
/// assert_eq!(tabulate(&Stats).run(|m| m.forward(&x))?.collections, ["stats"]);
/// let frozen = tabulate(&Stats).mutable(Mutable::Nothing).run(|m| m.forward(&x))?;
/// assert!(frozen.collections.is_empty());
/// # Ok::<(), tabulate::Error>(())
/// ```
pub fn is_mutable_collection(collection: &str) -> bool {
    trace::is_mutable(collection)
}

/// A handle on a declared variable.
///
/// ```
/// use tabulate::prelude::*;
/// #[derive(Tabulate)]
/// struct Ema;
///
/// impl Ema {
///     #[forward]
///     fn forward(&self, x: &Tensor) -> Result<Tensor> {
///         let mut mean = tabulate::variable("batch_stats", "mean", DType::F32, [x.dim(-1)?])?;
///         assert_eq!((mean.collection(), mean.name()), ("batch_stats", "mean"));
///         let updated = mean.value().mul(0.9)?.add(&x.mean(&[0], false)?.mul(0.1)?)?;
///         mean.set(updated)?; // a write: same dtype and shape, in a mutable collection
///         Ok(x.clone())
///     }
/// }
///
/// let summary = tabulate(&Ema).compute_flops(true).run(|m| m.forward(&Tensor::new(DType::F32, [8, 4])))?;
/// assert_eq!(summary.collections, ["batch_stats"]);
/// # Ok::<(), tabulate::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Variable {
    collection: String,
    name: String,
    value: Tensor,
}

impl Variable {
    /// The current value.
    pub fn value(&self) -> &Tensor {
        &self.value
    }

    /// The collection it lives in.
    pub fn collection(&self) -> &str {
        &self.collection
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Replaces the value (the new value must keep the dtype and shape).
    pub fn set(&mut self, value: Tensor) -> Result<()> {
        if value.spec() != self.value.spec() {
            return Err(Error::invalid(format!(
                "variable `{}` in collection `{}` holds {}; cannot store {}",
                self.name, self.collection, self.value, value
            )));
        }
        trace::write_variable(&self.collection, &self.name, &value)?;
        self.value = value;
        Ok(())
    }
}
