//! Built-in layers and functions mirroring `flax.linen`: the same names, defaults,
//! parameter names and shapes, written only in terms of primitives, in the order Flax
//! applies them, so that their FLOPs come out of the primitives' rules.

mod activation;
mod dense;

pub use activation::relu;
pub use dense::Dense;
