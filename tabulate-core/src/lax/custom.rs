//! `custom` primitives applied to tensors (the rules are in `ops/custom.rs`).

use super::{binary, constant};
use crate::error::Result;
use crate::ops::custom::CustomRule;
use crate::ops::{Binary, Cmp, Unary};
use crate::spec::Spec;
use crate::tensor::Tensor;
use crate::trace;

/// `jnp.logaddexp(x, y)` (a custom JVP around `lax` ops):
/// `select(isnan(x - y), x + y, max(x, y) + log1p(exp(-|x - y|)))`.
pub(crate) fn logaddexp(x: &Tensor, y: &Tensor) -> Result<Tensor> {
    trace::custom_jvp(CustomRule::LogAddExp, &[x, y], || {
        let amax = binary(Binary::Max, x, y)?;
        let delta = binary(Binary::Sub, x, y)?;
        let is_nan = super::compare(Cmp::Ne, &delta, &delta)?;
        let sum = binary(Binary::Add, x, y)?;
        let magnitude = super::unary(Unary::Abs, &delta)?;
        let negated = super::unary(Unary::Neg, &magnitude)?;
        let exp = super::unary(Unary::Exp, &negated)?;
        let log1p = super::unary(Unary::Log1p, &exp)?;
        let smooth = binary(Binary::Add, &amax, &log1p)?;
        super::select_n(&is_nan, &smooth, &sum)
    })
}

/// A scalar literal broadcast to `x`'s rank, as `jnp` promotes Python scalars.
pub(crate) fn scalar_like(x: &Tensor, value: f64) -> Result<Tensor> {
    constant(value, Spec::new(x.dtype(), vec![1; x.rank()]))
}

/// `jax.nn.relu`: `jnp.maximum(x, 0)` inside a `jit`, with a custom JVP.
pub(crate) fn relu(x: &Tensor) -> Result<Tensor> {
    trace::custom_jvp(CustomRule::Relu, &[x], || {
        trace::call_region("relu", &[x], || {
            let zero = scalar_like(x, 0.0)?;
            binary(Binary::Max, x, &zero)
        })
    })
}

/// `jax.nn.relu6`: `jnp.minimum(jnp.maximum(x, 0), 6.)` inside a `jit`, with a custom JVP.
pub(crate) fn relu6(x: &Tensor) -> Result<Tensor> {
    trace::custom_jvp(CustomRule::Relu6, &[x], || {
        trace::call_region("relu6", &[x], || {
            let zero = scalar_like(x, 0.0)?;
            let low = binary(Binary::Max, x, &zero)?;
            // `jnp.minimum(…, 6.)`: a float bound makes an integer operand float32.
            let low = if low.dtype().is_inexact() {
                low
            } else {
                super::convert(&low, crate::dtype::DType::F32)?
            };
            let six = scalar_like(&low, 6.0)?;
            binary(Binary::Min, &low, &six)
        })
    })
}
