//! Functions JAX defines with `jax.custom_jvp`: their bodies are costed as written, but
//! they are differentiated by their own rule, not through the body.

use super::{Binary, Cmp, Prim, Unary};
use crate::error::Result;
use crate::ops::graph::ValueId;
use crate::ops::linearize::{J, JvpCx};

/// The functions with a custom JVP rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CustomRule {
    /// `jax.nn.relu`: `select(x > 0, g, 0)`.
    Relu,
    /// `jnp.logaddexp`: `t1 · exp(x1 − out) + t2 · exp(x2 − out)`, infinities replaced by 0.
    LogAddExp,
    /// `jax.nn.relu6`: `select((x > 0) & (x < 6), g, 0)`.
    Relu6,
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
            // relu6.defjvps(lambda g, ans, x:
            //               lax.select((x > 0) & (x < 6), g, lax.full_like(g, 0)))
            CustomRule::Relu6 => {
                let zero = cx.full_like_rank(x[0], 0.0)?;
                let positive = cx.primal(Prim::Compare(Cmp::Gt), &[x[0], zero])?;
                let six = cx.full_like_rank(x[0], 6.0)?;
                let below = cx.primal(Prim::Compare(Cmp::Lt), &[x[0], six])?;
                let inside = cx.primal(Prim::Binary(Binary::And), &[positive, below])?;
                let zeros = cx.full_like(x[0], 0.0)?;
                Ok(vec![cx.apply(
                    Prim::SelectN,
                    &[J::Primal(inside), J::Primal(zeros), t[0]],
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
