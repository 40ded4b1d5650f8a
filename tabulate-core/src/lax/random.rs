//! `random` primitives applied to tensors (the rules are in `ops/random.rs`).

use super::{bind, bind_one};
use crate::error::Result;
use crate::ops::Prim;
use crate::shape::Shape;
use crate::tensor::Tensor;

/// `jax.random.fold_in(key, data)` for a constant `data`.
/// A typed key gives a typed key.
pub(crate) fn fold_in(key: &Tensor) -> Result<Tensor> {
    let folded = bind_one(Prim::RandomFoldIn, &[key])?;
    if key.is_typed_key() {
        crate::trace::mark_typed_key(&folded);
        return Ok(folded.into_typed_key());
    }
    Ok(folded)
}

/// `iota_2x32_shape(shape)`: the high and low words of each element's linear index.
pub(crate) fn iota_2x32_shape(shape: Shape) -> Result<(Tensor, Tensor)> {
    let mut out = bind(Prim::Iota2x32 { shape }, &[])?;
    let lo = out.pop().expect("two results");
    let hi = out.pop().expect("two results");
    Ok((hi, lo))
}

/// `threefry2x32(key, x1, x2)`: the hashed pair of words.
pub(crate) fn threefry2x32(key: &Tensor, x1: &Tensor, x2: &Tensor) -> Result<(Tensor, Tensor)> {
    let mut out = bind(Prim::Threefry2x32, &[key, x1, x2])?;
    let y2 = out.pop().expect("two results");
    let y1 = out.pop().expect("two results");
    Ok((y1, y2))
}
