//! Activation functions (`flax.linen.activation`, i.e. `jax.nn`), applying the same
//! primitives in the same order as JAX, nested `jit`s and custom derivatives included.

use crate::dtype::DType;
use crate::error::Result;
use crate::lax;
use crate::shape::Shape;
use crate::tensor::Tensor;
use crate::trace::call_region;

/// A floating-point version of `x` (`promote_args_inexact`).
fn inexact(x: &Tensor) -> Result<Tensor> {
    if x.dtype().is_inexact() {
        Ok(x.clone())
    } else {
        x.astype(DType::F32)
    }
}

fn scalar(value: f64, like: &Tensor) -> Result<Tensor> {
    Tensor::full(value, like.dtype(), Shape::scalar())
}

/// `jax.nn.relu`: `max(x, 0)`, with JAX's custom derivative (`select(x > 0, g, 0)`).
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::nn::relu;
///
/// let x = Tensor::new(DType::F32, [16, 4]);
/// let y = relu(&x)?;
/// assert_eq!(y.to_string(), "float32[16,4]");
/// assert_eq!(relu(&Tensor::new(DType::BF16, [2]))?.dtype(), DType::BF16);
/// # Ok::<(), tabulate::Error>(())
/// ```
pub fn relu(x: &Tensor) -> Result<Tensor> {
    let _operation = crate::scope::operation("nn::relu");
    lax::relu(x)
}

/// `jax.nn.gelu` with its default `approximate=True`: the tanh form
/// `0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))`.
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::nn::gelu;
///
/// let x = Tensor::new(DType::F32, [16, 4]);
/// let y = gelu(&x)?; // tanh approximation, Flax's default
/// assert_eq!(y.to_string(), "float32[16,4]");
/// assert_eq!(gelu(&Tensor::new(DType::BF16, [2]))?.dtype(), DType::BF16);
/// # Ok::<(), tabulate::Error>(())
/// ```
pub fn gelu(x: &Tensor) -> Result<Tensor> {
    let _operation = crate::scope::operation("nn::gelu");
    gelu_with(x, true)
}

/// `jax.nn.gelu(x, approximate)`: the tanh form when `approximate`, else the exact
/// `0.5·x·erfc(−x/√2)`.
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::nn::gelu_with;
///
/// let x = Tensor::new(DType::F32, [16, 4]);
/// let y = gelu_with(&x, false)?; // exact: erf
/// assert_eq!(y.to_string(), "float32[16,4]");
/// assert_eq!(gelu_with(&Tensor::new(DType::BF16, [2]), false)?.dtype(), DType::BF16);
/// # Ok::<(), tabulate::Error>(())
/// ```
pub fn gelu_with(x: &Tensor, approximate: bool) -> Result<Tensor> {
    let _operation = crate::scope::operation("nn::gelu_with");
    let x = inexact(x)?;
    if approximate {
        let cube = x.powi(3)?;
        let inner = x.add(&cube.mul(0.044_715)?)?;
        let scaled = inner.mul((2.0 / std::f64::consts::PI).sqrt())?;
        let cdf = scaled.tanh()?.add(1.0)?.mul(0.5)?;
        x.mul(&cdf)
    } else {
        let half_x = x.mul(0.5)?;
        let arg = x.neg()?.mul(0.5_f64.sqrt())?;
        half_x.mul(&lax::unary(lax::Unary::Erfc, &arg)?)
    }
}

/// `jax.nn.sigmoid` (`lax.logistic`).
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::nn::sigmoid;
///
/// let x = Tensor::new(DType::F32, [16, 4]);
/// let y = sigmoid(&x)?;
/// assert_eq!(y.to_string(), "float32[16,4]");
/// assert_eq!(sigmoid(&Tensor::new(DType::BF16, [2]))?.dtype(), DType::BF16);
/// # Ok::<(), tabulate::Error>(())
/// ```
pub fn sigmoid(x: &Tensor) -> Result<Tensor> {
    let _operation = crate::scope::operation("nn::sigmoid");
    x.sigmoid()
}

/// `jnp.tanh`.
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::nn::tanh;
///
/// let x = Tensor::new(DType::F32, [16, 4]);
/// let y = tanh(&x)?;
/// assert_eq!(y.to_string(), "float32[16,4]");
/// assert_eq!(tanh(&Tensor::new(DType::BF16, [2]))?.dtype(), DType::BF16);
/// # Ok::<(), tabulate::Error>(())
/// ```
pub fn tanh(x: &Tensor) -> Result<Tensor> {
    let _operation = crate::scope::operation("nn::tanh");
    x.tanh()
}

/// `jax.nn.silu` (also `swish`): `x · sigmoid(x)`.
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::nn::silu;
///
/// let x = Tensor::new(DType::F32, [16, 4]);
/// let y = silu(&x)?;
/// assert_eq!(y.to_string(), "float32[16,4]");
/// assert_eq!(silu(&Tensor::new(DType::BF16, [2]))?.dtype(), DType::BF16);
/// # Ok::<(), tabulate::Error>(())
/// ```
pub fn silu(x: &Tensor) -> Result<Tensor> {
    let _operation = crate::scope::operation("nn::silu");
    call_region("silu", &[x], || x.mul(&x.sigmoid()?))
}

/// `jax.nn.swish`, the same function as [`silu`].
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::nn::swish;
///
/// let x = Tensor::new(DType::F32, [16, 4]);
/// let y = swish(&x)?; // silu's other name
/// assert_eq!(y.to_string(), "float32[16,4]");
/// assert_eq!(swish(&Tensor::new(DType::BF16, [2]))?.dtype(), DType::BF16);
/// # Ok::<(), tabulate::Error>(())
/// ```
pub fn swish(x: &Tensor) -> Result<Tensor> {
    let _operation = crate::scope::operation("nn::swish");
    silu(x)
}

/// `jax.nn.softmax` over the last axis (its default `axis=-1`).
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::nn::softmax;
///
/// let x = Tensor::new(DType::F32, [16, 4]);
/// let y = softmax(&x)?; // over the last axis
/// assert_eq!(y.to_string(), "float32[16,4]");
/// assert_eq!(softmax(&Tensor::new(DType::BF16, [2]))?.dtype(), DType::BF16);
/// # Ok::<(), tabulate::Error>(())
/// ```
pub fn softmax(x: &Tensor) -> Result<Tensor> {
    let _operation = crate::scope::operation("nn::softmax");
    softmax_with(x, -1)
}

/// `jax.nn.softmax` along `axis`: `exp(x − max) / Σ exp(x − max)`, the max held constant
/// (`stop_gradient`), as JAX's default (non-custom-JVP) softmax computes it.
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::nn::softmax_with;
///
/// let x = Tensor::new(DType::F32, [16, 4]);
/// let y = softmax_with(&x, 0)?; // over axis 0
/// assert_eq!(y.to_string(), "float32[16,4]");
/// assert_eq!(softmax_with(&Tensor::new(DType::BF16, [2]), 0)?.dtype(), DType::BF16);
/// # Ok::<(), tabulate::Error>(())
/// ```
pub fn softmax_with(x: &Tensor, axis: isize) -> Result<Tensor> {
    let _operation = crate::scope::operation("nn::softmax_with");
    let shifted = shift_by_max(x, axis)?;
    let unnormalized = inexact(&shifted)?.exp()?;
    let total = unnormalized.sum(&[axis], true)?;
    unnormalized.div(&total)
}

/// `x − stop_gradient(max(x, axis, initial=−∞, keepdims=True))`, in `x`'s dtype as JAX
/// computes it (so a boolean `x` is refused by `sub`, as in JAX); each use of an integer
/// result converts it to float32 on its own, as `jnp.exp` and `jnp.subtract` do.
fn shift_by_max(x: &Tensor, axis: isize) -> Result<Tensor> {
    let max = x.max(&[axis], false)?;
    let max = scalar(f64::NEG_INFINITY, &max)?.maximum(&max)?;
    let max = max.expand_dims(axis_after_reduction(axis, x.rank()))?;
    x.sub(&max.stop_gradient()?)
}

/// The position of `axis` of a rank-`rank` tensor, for re-inserting it after a reduction.
fn axis_after_reduction(axis: isize, rank: usize) -> isize {
    if axis < 0 {
        axis + isize::try_from(rank).unwrap_or(isize::MAX)
    } else {
        axis
    }
}

/// `jax.nn.log_softmax` over the last axis (its default `axis=-1`).
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::nn::log_softmax;
///
/// let x = Tensor::new(DType::F32, [16, 4]);
/// let y = log_softmax(&x)?;
/// assert_eq!(y.to_string(), "float32[16,4]");
/// assert_eq!(log_softmax(&Tensor::new(DType::BF16, [2]))?.dtype(), DType::BF16);
/// # Ok::<(), tabulate::Error>(())
/// ```
pub fn log_softmax(x: &Tensor) -> Result<Tensor> {
    let _operation = crate::scope::operation("nn::log_softmax");
    log_softmax_with(x, -1)
}

/// `jax.nn.log_softmax` along `axis`: `(x − max) − log Σ exp(x − max)`.
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::nn::log_softmax_with;
///
/// let x = Tensor::new(DType::F32, [16, 4]);
/// let y = log_softmax_with(&x, 0)?;
/// assert_eq!(y.to_string(), "float32[16,4]");
/// assert_eq!(log_softmax_with(&Tensor::new(DType::BF16, [2]), 0)?.dtype(), DType::BF16);
/// # Ok::<(), tabulate::Error>(())
/// ```
pub fn log_softmax_with(x: &Tensor, axis: isize) -> Result<Tensor> {
    let _operation = crate::scope::operation("nn::log_softmax_with");
    call_region("log_softmax", &[x], || {
        let shifted = shift_by_max(x, axis)?;
        let total = inexact(&shifted)?.exp()?.sum(&[axis], true)?;
        inexact(&shifted)?.sub(&total.log()?)
    })
}

/// `jax.nn.elu` with its default `alpha=1.0`.
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::nn::elu;
///
/// let x = Tensor::new(DType::F32, [16, 4]);
/// let y = elu(&x)?; // alpha = 1
/// assert_eq!(y.to_string(), "float32[16,4]");
/// assert_eq!(elu(&Tensor::new(DType::BF16, [2]))?.dtype(), DType::BF16);
/// # Ok::<(), tabulate::Error>(())
/// ```
pub fn elu(x: &Tensor) -> Result<Tensor> {
    let _operation = crate::scope::operation("nn::elu");
    elu_with(x, 1.0)
}

/// `jax.nn.elu`: `x` where positive, else `alpha · expm1(x)`.
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::nn::elu_with;
///
/// let x = Tensor::new(DType::F32, [16, 4]);
/// let y = elu_with(&x, 0.5)?;
/// assert_eq!(y.to_string(), "float32[16,4]");
/// assert_eq!(elu_with(&Tensor::new(DType::BF16, [2]), 0.5)?.dtype(), DType::BF16);
/// # Ok::<(), tabulate::Error>(())
/// ```
pub fn elu_with(x: &Tensor, alpha: f64) -> Result<Tensor> {
    let _operation = crate::scope::operation("nn::elu_with");
    call_region("elu", &[x], || {
        let positive = x.greater(0.0)?;
        let positive_again = x.greater(0.0)?;
        let negative_part = positive_again.select(&scalar(0.0, x)?, x)?;
        let scaled = negative_part.expm1()?.mul(alpha)?;
        positive.select(x, &scaled)
    })
}

/// `jax.nn.leaky_relu` with its default `negative_slope=0.01`.
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::nn::leaky_relu;
///
/// let x = Tensor::new(DType::F32, [16, 4]);
/// let y = leaky_relu(&x)?; // slope 0.01
/// assert_eq!(y.to_string(), "float32[16,4]");
/// assert_eq!(leaky_relu(&Tensor::new(DType::BF16, [2]))?.dtype(), DType::BF16);
/// # Ok::<(), tabulate::Error>(())
/// ```
pub fn leaky_relu(x: &Tensor) -> Result<Tensor> {
    let _operation = crate::scope::operation("nn::leaky_relu");
    leaky_relu_with(x, 0.01)
}

/// `jax.nn.leaky_relu`: `x` where non-negative, else `negative_slope · x`.
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::nn::leaky_relu_with;
///
/// let x = Tensor::new(DType::F32, [16, 4]);
/// let y = leaky_relu_with(&x, 0.2)?;
/// assert_eq!(y.to_string(), "float32[16,4]");
/// assert_eq!(leaky_relu_with(&Tensor::new(DType::BF16, [2]), 0.2)?.dtype(), DType::BF16);
/// # Ok::<(), tabulate::Error>(())
/// ```
pub fn leaky_relu_with(x: &Tensor, negative_slope: f64) -> Result<Tensor> {
    let _operation = crate::scope::operation("nn::leaky_relu_with");
    call_region("leaky_relu", &[x], || {
        let keep = x.greater_equal(0.0)?;
        let scaled = x.mul(negative_slope)?;
        keep.select(x, &scaled)
    })
}

/// `jax.nn.softplus`: `logaddexp(x, 0)`.
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::nn::softplus;
///
/// let x = Tensor::new(DType::F32, [16, 4]);
/// let y = softplus(&x)?;
/// assert_eq!(y.to_string(), "float32[16,4]");
/// assert_eq!(softplus(&Tensor::new(DType::BF16, [2]))?.dtype(), DType::BF16);
/// # Ok::<(), tabulate::Error>(())
/// ```
pub fn softplus(x: &Tensor) -> Result<Tensor> {
    let _operation = crate::scope::operation("nn::softplus");
    call_region("softplus", &[x], || {
        // `jnp.logaddexp` promotes its arguments to an inexact dtype.
        let x = &if x.dtype().is_inexact() {
            x.clone()
        } else {
            x.astype(crate::dtype::DType::F32)?
        };
        let zero = scalar(0.0, x)?;
        lax::logaddexp(x, &zero)
    })
}
