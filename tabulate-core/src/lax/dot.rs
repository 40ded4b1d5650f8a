//! `dot` primitives applied to tensors (the rules are in `ops/dot.rs`).

use super::bind_one;
use crate::error::Result;
use crate::ops::Prim;
use crate::ops::dot::DotDims;
use crate::tensor::Tensor;

pub(crate) fn dot_general(lhs: &Tensor, rhs: &Tensor, dims: DotDims) -> Result<Tensor> {
    bind_one(Prim::DotGeneral(Box::new(dims)), &[lhs, rhs])
}
