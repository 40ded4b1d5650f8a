//! Functions JAX defines with `jax.custom_jvp`: their bodies are costed as written, but
//! they are differentiated by their own rule, not through the body.

use super::{Binary, Cmp, Prim, binary, constant};
use crate::cost::linearize::{J, JvpCx};
use crate::error::Result;
use crate::tensor::Tensor;
use crate::trace::{self, graph::Spec, graph::ValueId};

/// The functions with a custom JVP rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CustomRule {
    /// `jax.nn.relu`: `select(x > 0, g, 0)`.
    Relu,
}

impl CustomRule {
    /// Tangents of the outputs from the primal inputs `x`, outputs `y` and input tangents.
    pub(crate) fn jvp(
        self,
        cx: &mut JvpCx<'_>,
        x: &[ValueId],
        _y: &[ValueId],
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
        }
    }
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
