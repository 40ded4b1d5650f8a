//! The rest of `flax.linen.activation` (`jax.nn`'s functions and Flax's `PReLU`), each
//! applying the primitives JAX emits, in its order, inside the nested `jit`s and custom
//! derivatives JAX puts them in (checked with `jax.make_jaxpr`), so FLOPs match XLA's.

use super::linear::layer_common;
use crate::call::module_call;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::lax::{self, Cmp, Unary};
use crate::module::{ModuleIdentity, Tabulate};
use crate::shape::{Shape, normalize_axis};
use crate::tensor::Tensor;
use crate::trace::call_region;
use crate::variable::param;

/// A floating-point version of `x` (`promote_args_inexact`).
fn inexact(x: &Tensor) -> Result<Tensor> {
    if x.dtype().is_inexact() {
        Ok(x.clone())
    } else {
        x.astype(DType::F32)
    }
}

/// A scalar of `x`'s dtype, as JAX makes a Python scalar weakly typed.
fn scalar(value: f64, like: &Tensor) -> Result<Tensor> {
    Tensor::full(value, like.dtype(), Shape::scalar())
}

/// A Python `int` literal passed to a `jnp` function (`int32[]`, converted where used).
fn int_literal(value: i32) -> Result<Tensor> {
    Tensor::full(f64::from(value), DType::I32, Shape::scalar())
}

/// `jax.nn.relu6`: `min(max(x, 0), 6)`, with JAX's custom derivative (zero outside
/// `(0, 6)`).
///
/// ```
/// # use tabulate::{nn, DType, Tensor};
/// # fn main() -> tabulate::Result<()> {
/// let y = nn::relu6(&Tensor::new(DType::F32, [4, 6]))?;
/// assert_eq!(y.to_string(), "float32[4,6]");
/// # Ok(()) }
/// ```
pub fn relu6(x: &Tensor) -> Result<Tensor> {
    lax::relu6(x)
}

/// `jax.nn.hard_sigmoid`: `relu6(x + 3) / 6`.
///
/// ```
/// # use tabulate::{nn, DType, Tensor};
/// # fn main() -> tabulate::Result<()> {
/// let y = nn::hard_sigmoid(&Tensor::new(DType::F32, [4, 6]))?;
/// assert_eq!(y.to_string(), "float32[4,6]");
/// # Ok(()) }
/// ```
pub fn hard_sigmoid(x: &Tensor) -> Result<Tensor> {
    call_region("hard_sigmoid", &[x], || relu6(&x.add(3.0)?)?.div(6.0))
}

/// `jax.nn.hard_silu` (also `hard_swish`): `x · hard_sigmoid(x)`.
///
/// ```
/// # use tabulate::{nn, DType, Tensor};
/// # fn main() -> tabulate::Result<()> {
/// let y = nn::hard_silu(&Tensor::new(DType::F32, [4, 6]))?;
/// assert_eq!(y.to_string(), "float32[4,6]");
/// # Ok(()) }
/// ```
pub fn hard_silu(x: &Tensor) -> Result<Tensor> {
    call_region("hard_silu", &[x], || x.mul(&hard_sigmoid(x)?))
}

/// `jax.nn.hard_swish`, the same function as [`hard_silu`].
///
/// ```
/// # use tabulate::{nn, DType, Tensor};
/// # fn main() -> tabulate::Result<()> {
/// let y = nn::hard_swish(&Tensor::new(DType::F32, [4, 6]))?;
/// assert_eq!(y.to_string(), "float32[4,6]");
/// # Ok(()) }
/// ```
pub fn hard_swish(x: &Tensor) -> Result<Tensor> {
    hard_silu(x)
}

/// `jax.nn.hard_tanh`: `x` clipped to `[-1, 1]`, as two `jnp.where`s with integer
/// bounds.
///
/// ```
/// # use tabulate::{nn, DType, Tensor};
/// # fn main() -> tabulate::Result<()> {
/// let y = nn::hard_tanh(&Tensor::new(DType::F32, [4, 6]))?;
/// assert_eq!(y.to_string(), "float32[4,6]");
/// # Ok(()) }
/// ```
pub fn hard_tanh(x: &Tensor) -> Result<Tensor> {
    call_region("hard_tanh", &[x], || {
        // Integer bounds: an integer `x` stays integer, as in `jnp`.
        let above = x.greater(1)?;
        let below = x.less(-1)?;
        let low = below.select(&int_literal(-1)?, x)?;
        above.select(&int_literal(1)?, &low)
    })
}

/// `jax.nn.celu` with its default `alpha=1.0`.
///
/// ```
/// # use tabulate::{nn, DType, Tensor};
/// # fn main() -> tabulate::Result<()> {
/// let y = nn::celu(&Tensor::new(DType::F32, [4, 6]))?;
/// assert_eq!(y.to_string(), "float32[4,6]");
/// # Ok(()) }
/// ```
pub fn celu(x: &Tensor) -> Result<Tensor> {
    celu_with(x, 1.0)
}

/// `jax.nn.celu`: `max(x, 0) + alpha · expm1(min(x, 0) / alpha)`.
///
/// ```
/// # use tabulate::{nn, DType, Tensor};
/// # fn main() -> tabulate::Result<()> {
/// let y = nn::celu_with(&Tensor::new(DType::F32, [4, 6]), 0.5)?;
/// assert_eq!(y.to_string(), "float32[4,6]");
/// # Ok(()) }
/// ```
pub fn celu_with(x: &Tensor, alpha: f64) -> Result<Tensor> {
    // `alpha` is an argument of the `jit`, so nothing folds on it (not even `1.0 · y`); a
    // Python float, it takes an integer `x`'s promotion, float32.
    let dtype = if x.dtype().is_inexact() {
        x.dtype()
    } else {
        DType::F32
    };
    let alpha = Tensor::full(alpha, dtype, Shape::scalar())?;
    call_region("celu", &[x, &alpha], || {
        let positive = x.maximum(0.0)?;
        let negative = x.minimum(0.0)?.div(&alpha)?.expm1()?;
        let scaled = alpha.mul(&negative)?;
        positive.add(&scaled)
    })
}

/// `jax.nn.selu`: `scale · elu(x, alpha)` with the self-normalising constants
/// (`alpha ≈ 1.6733`, `scale ≈ 1.0507`).
///
/// ```
/// # use tabulate::{nn, DType, Tensor};
/// # fn main() -> tabulate::Result<()> {
/// let y = nn::selu(&Tensor::new(DType::F32, [4, 6]))?;
/// assert_eq!(y.to_string(), "float32[4,6]");
/// # Ok(()) }
/// ```
pub fn selu(x: &Tensor) -> Result<Tensor> {
    const ALPHA: f64 = 1.673_263_242_354_377_3;
    const SCALE: f64 = 1.050_700_987_355_480_5;
    call_region("selu", &[x], || {
        let elu = super::activation::elu_with(x, ALPHA)?;
        scalar(SCALE, &elu)?.mul(&elu)
    })
}

/// `jax.nn.glu` over the last axis (its default `axis=-1`).
///
/// ```
/// # use tabulate::{nn, DType, Tensor};
/// # fn main() -> tabulate::Result<()> {
/// let y = nn::glu(&Tensor::new(DType::F32, [4, 6]))?;
/// assert_eq!(y.to_string(), "float32[4,3]");
/// # Ok(()) }
/// ```
pub fn glu(x: &Tensor) -> Result<Tensor> {
    glu_with(x, -1)
}

/// `jax.nn.glu`: `x` split in two halves `a`, `b` along `axis`, then `a · sigmoid(b)`.
/// The axis must have an even size.
///
/// ```
/// # use tabulate::{nn, DType, Tensor};
/// # fn main() -> tabulate::Result<()> {
/// let y = nn::glu_with(&Tensor::new(DType::F32, [4, 6]), 0)?;
/// assert_eq!(y.to_string(), "float32[2,6]");
/// # Ok(()) }
/// ```
pub fn glu_with(x: &Tensor, axis: isize) -> Result<Tensor> {
    call_region("glu", &[x], || {
        let halves = x.split(2, axis)?;
        halves[0].mul(&halves[1].sigmoid()?)
    })
}

/// `jax.nn.log_sigmoid`: `-softplus(-x)`.
///
/// ```
/// # use tabulate::{nn, DType, Tensor};
/// # fn main() -> tabulate::Result<()> {
/// let y = nn::log_sigmoid(&Tensor::new(DType::F32, [4, 6]))?;
/// assert_eq!(y.to_string(), "float32[4,6]");
/// # Ok(()) }
/// ```
pub fn log_sigmoid(x: &Tensor) -> Result<Tensor> {
    call_region("log_sigmoid", &[x], || {
        super::activation::softplus(&x.neg()?)?.neg()
    })
}

/// `jax.nn.soft_sign`: `x / (|x| + 1)`.
///
/// ```
/// # use tabulate::{nn, DType, Tensor};
/// # fn main() -> tabulate::Result<()> {
/// let y = nn::soft_sign(&Tensor::new(DType::F32, [4, 6]))?;
/// assert_eq!(y.to_string(), "float32[4,6]");
/// # Ok(()) }
/// ```
pub fn soft_sign(x: &Tensor) -> Result<Tensor> {
    call_region("soft_sign", &[x], || x.div(&x.abs()?.add(1)?))
}

/// `jax.nn.standardize` over the last axis with its default `epsilon=1e-5`.
///
/// ```
/// # use tabulate::{nn, DType, Tensor};
/// # fn main() -> tabulate::Result<()> {
/// let y = nn::standardize(&Tensor::new(DType::F32, [4, 6]))?;
/// assert_eq!(y.to_string(), "float32[4,6]");
/// # Ok(()) }
/// ```
pub fn standardize(x: &Tensor) -> Result<Tensor> {
    standardize_with(x, &[-1], 1e-5)
}

/// `jax.nn.standardize(x, axis, epsilon=epsilon)`: `(x − mean) · rsqrt(var + epsilon)`
/// over `axis` with JAX's default `"fast"` variance (`mean(x²) − mean(x)²`, clipped at 0).
/// The mean and variance are computed (Flax's `mean=`, `variance=` and `where=` are not
/// supported).
///
/// ```
/// # use tabulate::{nn, DType, Tensor};
/// # fn main() -> tabulate::Result<()> {
/// let y = nn::standardize_with(&Tensor::new(DType::F32, [2, 4, 6]), &[1, 2], 1e-6)?;
/// assert_eq!(y.to_string(), "float32[2,4,6]");
/// # Ok(()) }
/// ```
pub fn standardize_with(x: &Tensor, axis: &[isize], epsilon: f64) -> Result<Tensor> {
    if axis.is_empty() {
        return Err(Error::shape("standardize", "needs at least one axis"));
    }
    call_region("standardize", &[x], || {
        let x = inexact(x)?;
        let mean = x.mean(axis, true)?;
        let mean_of_squares = x.square()?.mean(axis, true)?;
        let variance = mean_of_squares.sub(&mean.square()?)?;
        // `jnp.clip(variance, 0)`: a nested `jit` taking the bound as an `int32[]`.
        let zero = int_literal(0)?;
        let variance = call_region("clip", &[&variance, &zero], || {
            let bound = zero.astype(variance.dtype())?;
            bound.maximum(&variance)
        })?;
        x.sub(&mean)?.mul(&variance.add(epsilon)?.rsqrt()?)
    })
}

/// `flax.linen.normalize` (`jax.nn.normalize`), the former name of [`standardize`]: the
/// same function over the last axis.
///
/// ```
/// # use tabulate::{nn, DType, Tensor};
/// # fn main() -> tabulate::Result<()> {
/// let y = nn::normalize(&Tensor::new(DType::F32, [4, 6]))?;
/// assert_eq!(y.to_string(), "float32[4,6]");
/// # Ok(()) }
/// ```
pub fn normalize(x: &Tensor) -> Result<Tensor> {
    standardize(x)
}

/// `jax.nn.logsumexp(x)` over all axes (its default `axis=None`), a scalar.
///
/// ```
/// # use tabulate::{nn, DType, Tensor};
/// # fn main() -> tabulate::Result<()> {
/// let y = nn::logsumexp(&Tensor::new(DType::F32, [4, 6]))?;
/// assert_eq!(y.to_string(), "float32[]");
/// # Ok(()) }
/// ```
pub fn logsumexp(x: &Tensor) -> Result<Tensor> {
    let all: Vec<isize> = (0..x.rank())
        .map(|a| isize::try_from(a).unwrap_or(isize::MAX))
        .collect();
    logsumexp_with(x, &all, false)
}

/// `jax.nn.logsumexp(x, axis, keepdims=keepdims)`: `log Σ exp(x − m) + m` with `m` the
/// (finite) maximum held constant, as `jax.scipy.special.logsumexp` computes it (no
/// nested `jit`). Flax's `b=`, `return_sign=` and `where=` are not supported.
///
/// ```
/// # use tabulate::{nn, DType, Tensor};
/// # fn main() -> tabulate::Result<()> {
/// let y = nn::logsumexp_with(&Tensor::new(DType::F32, [4, 6]), &[-1], true)?;
/// assert_eq!(y.to_string(), "float32[4,1]");
/// # Ok(()) }
/// ```
pub fn logsumexp_with(x: &Tensor, axis: &[isize], keepdims: bool) -> Result<Tensor> {
    let x = inexact(x)?;
    let axes = axis
        .iter()
        .map(|&a| {
            normalize_axis(a, x.rank()).ok_or_else(|| {
                Error::shape("logsumexp", format!("axis {a} is out of range for {x}"))
            })
        })
        .collect::<Result<Vec<usize>>>()?;
    let signed: Vec<isize> = axes
        .iter()
        .map(|&a| isize::try_from(a).unwrap_or(isize::MAX))
        .collect();
    let kept: Vec<usize> = (0..x.rank()).filter(|d| !axes.contains(d)).collect();
    let keep_shape = Shape::new(
        (0..x.rank())
            .map(|d| {
                if axes.contains(&d) {
                    1
                } else {
                    x.shape().dims()[d]
                }
            })
            .collect::<Vec<_>>(),
    );
    let keep = |t: &Tensor| lax::broadcast_in_dim(t, keep_shape.clone(), kept.clone());
    let finite_max = |max: &Tensor| -> Result<Tensor> {
        let finite = lax::unary(Unary::IsFinite, max)?;
        let zeros = Tensor::full(0.0, max.dtype(), max.shape().clone())?;
        lax::select_n(&finite, &zeros, max)?.stop_gradient()
    };
    let max = x.max(&signed, false)?;
    let max = scalar(f64::NEG_INFINITY, &max)?.maximum(&max)?;
    let (shift, reduced_shift) = if keepdims {
        let shift = finite_max(&keep(&max)?)?;
        (shift.clone(), shift)
    } else {
        let reduced = finite_max(&max)?;
        (keep(&reduced)?, reduced)
    };
    let total = x.sub(&shift)?.exp()?.sum(&signed, false)?;
    let total = if keepdims { keep(&total)? } else { total };
    // `return_sign=False` still computes the sign; it is dead code.
    let _sign = lax::unary(Unary::Sign, &total)?;
    total.abs()?.log()?.add(&reduced_shift)
}

/// `jax.nn.one_hot(x, num_classes)` with its defaults (`dtype=float32`, `axis=-1`).
///
/// ```
/// # use tabulate::{nn, DType, Tensor};
/// # fn main() -> tabulate::Result<()> {
/// let y = nn::one_hot(&Tensor::new(DType::I32, [4]), 5)?;
/// assert_eq!(y.to_string(), "float32[4,5]");
/// # Ok(()) }
/// ```
pub fn one_hot(x: &Tensor, num_classes: usize) -> Result<Tensor> {
    one_hot_with(x, num_classes, DType::F32, -1)
}

/// `jax.nn.one_hot(x, num_classes, dtype=dtype, axis=axis)`: `x` compared with an `iota`
/// of the classes along the new axis `axis` (of the result), converted to `dtype`.
///
/// ```
/// # use tabulate::{nn, DType, Tensor};
/// # fn main() -> tabulate::Result<()> {
/// let y = nn::one_hot_with(&Tensor::new(DType::I32, [4, 3]), 5, DType::BF16, 0)?;
/// assert_eq!(y.to_string(), "bfloat16[5,4,3]");
/// # Ok(()) }
/// ```
pub fn one_hot_with(x: &Tensor, num_classes: usize, dtype: DType, axis: isize) -> Result<Tensor> {
    let rank = x.rank() + 1;
    let axis = normalize_axis(axis, rank).ok_or_else(|| {
        Error::shape(
            "one_hot",
            format!("axis {axis} is out of range for a one-hot of {x}"),
        )
    })?;
    call_region("_one_hot", &[x], || {
        let mut expanded = x.shape().dims().to_vec();
        expanded.insert(axis, 1);
        let dims: Vec<usize> = (0..rank).filter(|&d| d != axis).collect();
        let lhs = lax::broadcast_in_dim(x, Shape::new(expanded), dims)?;
        let mut classes = vec![1; rank];
        classes[axis] = num_classes;
        let rhs = lax::iota(x.dtype(), Shape::new(classes), axis)?;
        let hits = lax::compare(Cmp::Eq, &lhs, &rhs)?;
        lax::convert(&hits, dtype)
    })
}

/// The parametric rectifier (`flax.linen.PReLU`): `x` where `x ≥ 0`, else `negative_slope · x`,
/// with a scalar `negative_slope` in `params` (initialised to `negative_slope_init`).
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::nn::PReLU;
///
/// let x = Tensor::new(DType::F32, [4, 6]);
/// let summary = tabulate(&PReLU::new()).run(|m| m.forward(&x))?;
/// assert_eq!(summary.rows[0].module_type, "PReLU");
/// assert_eq!(summary.total().count, 1);
/// # Ok::<(), tabulate::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct PReLU {
    /// The dtype of the parameter (default `float32`).
    pub param_dtype: DType,
    /// The slope's initial value (default 0.01; it does not change the table).
    pub negative_slope_init: f64,
    identity: ModuleIdentity,
}

impl Default for PReLU {
    fn default() -> PReLU {
        PReLU::new()
    }
}

impl PReLU {
    /// A `PReLU` with Flax's defaults.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::PReLU;
    ///
    /// let x = Tensor::new(DType::F32, [2, 8]);
    /// let layer = PReLU::new();
    /// assert_eq!(layer.forward(&x)?.to_string(), "float32[2,8]");
    /// let total = tabulate(&layer).run(|l| l.forward(&x))?.total();
    /// assert_eq!((total.count, total.bytes), (1, 4)); // as Flax 0.12.8 counts them
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn new() -> PReLU {
        PReLU {
            param_dtype: DType::F32,
            negative_slope_init: 0.01,
            identity: ModuleIdentity::new(),
        }
    }

    /// Sets the parameter's dtype.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::PReLU;
    ///
    /// let x = Tensor::new(DType::F32, [2, 8]);
    /// let layer = PReLU::new().param_dtype(DType::BF16);
    /// assert_eq!(layer.forward(&x)?.to_string(), "float32[2,8]");
    /// let total = tabulate(&layer).run(|l| l.forward(&x))?.total();
    /// assert_eq!((total.count, total.bytes), (1, 2)); // as Flax 0.12.8 counts them
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    #[must_use]
    pub fn param_dtype(mut self, dtype: DType) -> PReLU {
        self.param_dtype = dtype;
        self
    }

    /// Sets the slope's initial value.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::PReLU;
    ///
    /// let x = Tensor::new(DType::F32, [2, 8]);
    /// let layer = PReLU::new().negative_slope_init(0.25);
    /// assert_eq!(layer.forward(&x)?.to_string(), "float32[2,8]");
    /// let total = tabulate(&layer).run(|l| l.forward(&x))?.total();
    /// assert_eq!((total.count, total.bytes), (1, 4)); // as Flax 0.12.8 counts them
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    #[must_use]
    pub fn negative_slope_init(mut self, value: f64) -> PReLU {
        self.negative_slope_init = value;
        self
    }

    /// Applies the layer.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::PReLU;
    ///
    /// let x = Tensor::new(DType::F32, [2, 8]);
    /// let layer = PReLU::new();
    /// assert_eq!(layer.forward(&x)?.to_string(), "float32[2,8]");
    /// let total = tabulate(&layer).run(|l| l.forward(&x))?.total();
    /// assert_eq!((total.count, total.bytes), (1, 4)); // as Flax 0.12.8 counts them
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        module_call(
            self,
            "forward",
            |args| args.positional(x),
            || {
                let slope = param("negative_slope", self.param_dtype, Shape::scalar())?;
                let keep = x.greater_equal(0)?;
                let scaled = slope.astype(x.dtype())?.mul(x)?;
                keep.select(x, &scaled)
            },
        )
    }
}

layer_common!(PReLU, "PReLU", "PReLU::new()");
