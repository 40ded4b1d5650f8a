//! `elementwise` primitives applied to tensors (the rules are in `ops/elementwise.rs`).

use super::bind_one;
use crate::dtype::DType;
use crate::error::Result;
use crate::ops::Prim;
use crate::ops::elementwise::{Binary, Cmp, Unary};
use crate::tensor::Tensor;

pub(crate) fn unary(op: Unary, x: &Tensor) -> Result<Tensor> {
    bind_one(Prim::Unary(op), &[x])
}

pub(crate) fn binary(op: Binary, a: &Tensor, b: &Tensor) -> Result<Tensor> {
    bind_one(Prim::Binary(op), &[a, b])
}

pub(crate) fn compare(op: Cmp, a: &Tensor, b: &Tensor) -> Result<Tensor> {
    bind_one(Prim::Compare(op), &[a, b])
}

/// `select_n(which, on_false, on_true)`, i.e. `lax.select(which, on_true, on_false)`.
pub(crate) fn select_n(which: &Tensor, on_false: &Tensor, on_true: &Tensor) -> Result<Tensor> {
    bind_one(Prim::SelectN, &[which, on_false, on_true])
}

/// `bitcast_convert_type`: the same bits as a dtype of the same width.
pub(crate) fn bitcast_convert(x: &Tensor, dtype: DType) -> Result<Tensor> {
    bind_one(Prim::BitcastConvert(dtype), &[x])
}

/// `convert_element_type`; converting to the same dtype emits nothing, as in JAX.
pub(crate) fn convert(x: &Tensor, dtype: DType) -> Result<Tensor> {
    if x.dtype() == dtype {
        return Ok(x.clone());
    }
    bind_one(Prim::Convert(dtype), &[x])
}

pub(crate) fn integer_pow(x: &Tensor, y: i32) -> Result<Tensor> {
    bind_one(Prim::IntegerPow(y), &[x])
}

pub(crate) fn stop_gradient(x: &Tensor) -> Result<Tensor> {
    bind_one(Prim::StopGradient, &[x])
}
