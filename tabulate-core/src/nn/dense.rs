//! `Dense`: `flax.linen.Dense`.

use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::module::{ModuleIdentity, Tabulate};
use crate::ops::{self, DotDims};
use crate::tensor::Tensor;
use crate::trace::module_call;
use crate::variable::param;

/// A linear transformation applied over the last dimension: `y = x · kernel + bias`,
/// with `kernel: [in, features]` and `bias: [features]` in `params`.
///
/// Defaults as in Flax: a bias, `float32` parameters, and the computation in the
/// promoted dtype of input and parameters.
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::nn::Dense;
///
/// let y = Dense::new(4).forward(&Tensor::new(DType::F32, [16, 9]))?;
/// assert_eq!(y.to_string(), "float32[16,4]");
/// # Ok::<(), tabulate::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Dense {
    /// Output features.
    pub features: usize,
    /// Whether to add a bias.
    pub use_bias: bool,
    /// The dtype of the computation (default: promoted from input and parameters).
    pub dtype: Option<DType>,
    /// The dtype of the parameters.
    pub param_dtype: DType,
    identity: ModuleIdentity,
}

impl Dense {
    /// A `Dense` layer with `features` outputs.
    pub fn new(features: usize) -> Dense {
        Dense {
            features,
            use_bias: true,
            dtype: None,
            param_dtype: DType::F32,
            identity: ModuleIdentity::new(),
        }
    }

    /// Sets whether to add a bias.
    #[must_use]
    pub fn use_bias(mut self, use_bias: bool) -> Dense {
        self.use_bias = use_bias;
        self
    }

    /// Sets the dtype of the computation.
    #[must_use]
    pub fn dtype(mut self, dtype: DType) -> Dense {
        self.dtype = Some(dtype);
        self
    }

    /// Sets the dtype of the parameters.
    #[must_use]
    pub fn param_dtype(mut self, dtype: DType) -> Dense {
        self.param_dtype = dtype;
        self
    }

    /// Names the layer, as Flax's `name=`.
    #[must_use]
    pub fn name(mut self, name: impl Into<String>) -> Dense {
        self.identity.set_name(name);
        self
    }

    /// Applies the layer to `x` (`[..., in]` → `[..., features]`).
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        module_call(self, "forward", |args| args.positional(x), || self.apply(x))
    }

    fn apply(&self, x: &Tensor) -> Result<Tensor> {
        if x.rank() == 0 {
            return Err(Error::invalid(format!(
                "Dense needs an input of rank 1 or more, got {x}"
            )));
        }
        let kernel = param("kernel", self.param_dtype, [x.dim(-1)?, self.features])?;
        let bias = if self.use_bias {
            Some(param("bias", self.param_dtype, [self.features])?)
        } else {
            None
        };
        let dtype = promoted_dtype(self.dtype, &[Some(x), Some(&kernel), bias.as_ref()]);
        let x = x.astype(dtype)?;
        let kernel = kernel.astype(dtype)?;
        let bias = bias.map(|b| b.astype(dtype)).transpose()?;
        let contracting = x.rank() - 1;
        let y = ops::dot_general(
            &x,
            &kernel,
            DotDims {
                lhs_contracting: vec![contracting],
                rhs_contracting: vec![0],
                ..DotDims::default()
            },
        )?;
        match bias {
            Some(bias) => {
                let mut shape = vec![1isize; y.rank() - 1];
                shape.push(-1);
                y.add(&bias.reshape(shape)?)
            }
            None => Ok(y),
        }
    }
}

/// `flax.linen.dtypes.promote_dtype`: the given dtype, or the promotion of the arrays'
/// dtypes, made inexact.
pub(crate) fn promoted_dtype(dtype: Option<DType>, arrays: &[Option<&Tensor>]) -> DType {
    let dtype = dtype.unwrap_or_else(|| {
        arrays
            .iter()
            .flatten()
            .map(|t| t.dtype())
            .reduce(DType::promote)
            .unwrap_or(DType::F32)
    });
    if dtype.is_inexact() {
        dtype
    } else {
        DType::F32.promote(dtype)
    }
}

impl Tabulate for Dense {
    fn type_name(&self) -> &'static str {
        "Dense"
    }

    fn identity(&self) -> Option<&ModuleIdentity> {
        Some(&self.identity)
    }
}
