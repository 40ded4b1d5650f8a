//! Activation functions (`flax.linen.activation`, i.e. `jax.nn`).

use crate::error::Result;
use crate::ops;
use crate::tensor::Tensor;

/// `jax.nn.relu`: `max(x, 0)`, with JAX's custom derivative (`select(x > 0, g, 0)`).
pub fn relu(x: &Tensor) -> Result<Tensor> {
    ops::relu(x)
}
