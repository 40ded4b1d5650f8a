//! Declaring and updating variables from inside a module's forward pass, as Flax's
//! `self.param` and `self.variable` do. Shapes may depend on the inputs; a variable is
//! declared once per module and returned again on later calls.

use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::param::Param;
use crate::shape::Shape;
use crate::spec::Spec;
use crate::tensor::Tensor;
use crate::trace;

/// Declares (or fetches) the parameter `name` of the current module, in collection
/// `params`, and returns its value.
pub fn param(name: &str, dtype: DType, shape: impl Into<Shape>) -> Result<Tensor> {
    Ok(variable("params", name, dtype, shape)?.value)
}

/// Declares (or fetches) variable `name` in `collection` on the current module.
///
/// Declaring a new variable needs the collection to be mutable (see
/// [`Mutable`](crate::Mutable)); otherwise this returns
/// [`ErrorKind::NotMutable`](crate::ErrorKind::NotMutable), as Flax raises
/// `ScopeCollectionNotFound`.
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
pub fn is_mutable_collection(collection: &str) -> bool {
    trace::is_mutable(collection)
}

/// A handle on a declared variable.
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

impl Param {
    /// The parameter's value: the variable its field declared when its module's call
    /// opened, recorded as a read by the running call (so FLOPs and the VJP see it, as a
    /// tensor from [`param`] would be). Outside a summary run, a fresh tensor of its dtype
    /// and shape.
    ///
    /// An error when the `Param` is not a field of a module whose call is open (a local
    /// value, a `#[tabulate(skip)]` field, a field of a module that was not called), or
    /// when its declaration failed (its collection is not mutable, its size overflows).
    ///
    /// ```
    /// use tabulate::prelude::*;
    ///
    /// #[derive(Tabulate)]
    /// struct Scale {
    ///     gain: Param,
    /// }
    ///
    /// impl Scale {
    ///     #[forward]
    ///     fn forward(&self, x: &Tensor) -> Result<Tensor> {
    ///         x.mul(&self.gain.get()?)
    ///     }
    /// }
    ///
    /// let scale = Scale { gain: Param::new(DType::F32, [8]) };
    /// let x = Tensor::new(DType::F32, [2, 8]);
    /// let summary = tabulate(&scale)
    ///     .compute_flops(true)
    ///     .compute_vjp_flops(true)
    ///     .run(|s| s.forward(&x))?;
    /// assert_eq!(summary.rows[0].variables[0].own[0].name, "gain");
    /// // Flax's numbers for `x * self.param('gain', zeros, (8,))`.
    /// assert_eq!(summary.rows[0].flops(), Some(16));
    /// assert_eq!(summary.rows[0].vjp_flops(), Some(64));
    ///
    /// // A `Param` that no module holds cannot be read inside a run.
    /// let loose = Param::new(DType::F32, [8]);
    /// let error = tabulate(&scale).run(|s| x.mul(&loose.get()?)).unwrap_err();
    /// assert!(error.to_string().contains("not a field of a module being called"));
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn get(&self) -> Result<Tensor> {
        trace::read_field_param(self)
    }
}
