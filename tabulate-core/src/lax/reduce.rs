//! `reduce` primitives applied to tensors (the rules are in `ops/reduce.rs`).

use super::bind_one;
use crate::dtype::DType;
use crate::error::Result;
use crate::ops::Prim;
use crate::ops::reduce::ReduceOp;
use crate::tensor::Tensor;

/// Reduces `x` over `axes` (sorted, distinct).
pub(crate) fn reduce(op: ReduceOp, x: &Tensor, axes: Vec<usize>) -> Result<Tensor> {
    bind_one(
        Prim::Reduce {
            op,
            axes: axes.into(),
        },
        &[x],
    )
}

/// The index of the largest element along `axis`.
pub(crate) fn argmax(x: &Tensor, axis: usize, index_dtype: DType) -> Result<Tensor> {
    bind_one(Prim::Argmax { axis, index_dtype }, &[x])
}
