//! Functions JAX defines with `jax.custom_jvp`: their bodies are costed as written, but
//! they are differentiated by their own rule, not through the body.

use super::{Binary, Cmp, Prim, Unary, binary, constant};
use crate::cost::linearize::{J, JvpCx};
use crate::error::Result;
use crate::tensor::Tensor;
use crate::trace::{self, graph::Spec, graph::ValueId};

/// The functions with a custom JVP rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CustomRule {
    /// `jax.nn.relu`: `select(x > 0, g, 0)`.
    Relu,
    /// `jnp.logaddexp`: `t1 · exp(x1 − out) + t2 · exp(x2 − out)`, infinities replaced by 0.
    LogAddExp,
}

impl CustomRule {
    /// Tangents of the outputs from the primal inputs `x`, outputs `y` and input tangents.
    pub(crate) fn jvp(
        self,
        cx: &mut JvpCx<'_>,
        x: &[ValueId],
        y: &[ValueId],
        t: &[J],
    ) -> Result<Vec<J>> {
        match self {
            // relu.defjvps(lambda g, ans, x: lax.select(x > 0, g, lax.full_like(g, 0)))
            CustomRule::Relu => {
                let zero = cx.full_like_rank(x[0], 0.0)?;
                let positive = cx.primal(Prim::Compare(Cmp::Gt), &[x[0], zero])?;
                let zeros = cx.full_like(x[0], 0.0)?;
                Ok(vec![cx.apply(
                    Prim::SelectN,
                    &[J::Primal(positive), J::Primal(zeros), t[0]],
                )?])
            }
            // _logaddexp_jvp: each operand's weight is exp(x - out), with +inf replaced by 0.
            CustomRule::LogAddExp => {
                let mut sum = J::Zero;
                for (&xi, &ti) in x.iter().zip(t) {
                    if ti.is_zero() {
                        continue;
                    }
                    let xi_safe = replace_inf(cx, xi)?;
                    let out_safe = replace_inf(cx, y[0])?;
                    let diff = cx.primal(Prim::Binary(Binary::Sub), &[xi_safe, out_safe])?;
                    let weight = cx.primal(Prim::Unary(Unary::Exp), &[diff])?;
                    let ti = cx.broadcast_tangent(ti, y[0])?;
                    let term = cx.mul(ti, J::Primal(weight))?;
                    sum = cx.add_tangents(sum, term)?;
                }
                Ok(vec![sum])
            }
        }
    }
}

/// `_replace_inf`: `x` with `+inf` replaced by 0.
fn replace_inf(cx: &mut JvpCx<'_>, x: ValueId) -> Result<ValueId> {
    let inf = cx.full_like_rank(x, f64::INFINITY)?;
    let is_inf = cx.primal(Prim::Compare(Cmp::Eq), &[x, inf])?;
    let zeros = cx.full_like(x, 0.0)?;
    cx.primal(Prim::SelectN, &[is_inf, x, zeros])
}

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
