//! `structural` primitives applied to tensors (the rules are in `ops/structural.rs`).

use super::bind_one;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::ops::Prim;
use crate::ops::graph::Spec;
use crate::ops::structural::Literal;
use crate::shape::Shape;
use crate::tensor::Tensor;

/// A literal array of `spec` whose elements all equal `value`.
pub(crate) fn constant(value: f64, spec: Spec) -> Result<Tensor> {
    bind_one(
        Prim::Constant {
            literal: Literal::Splat(value),
            spec,
        },
        &[],
    )
}

/// `iota` of `dtype` and `shape`, counting along `dimension`.
pub(crate) fn iota(dtype: DType, shape: Shape, dimension: usize) -> Result<Tensor> {
    if dimension >= shape.rank() {
        return Err(Error::shape(
            "iota",
            format!("dimension {dimension} is out of range for shape {shape}"),
        ));
    }
    bind_one(
        Prim::Iota {
            spec: Spec::new(dtype, shape),
            dimension,
        },
        &[],
    )
}

pub(crate) fn broadcast_in_dim(x: &Tensor, shape: Shape, dims: Vec<usize>) -> Result<Tensor> {
    bind_one(
        Prim::BroadcastInDim {
            shape,
            dims: dims.into(),
        },
        &[x],
    )
}

pub(crate) fn reshape(x: &Tensor, shape: Shape) -> Result<Tensor> {
    if x.shape() == &shape {
        return Ok(x.clone());
    }
    bind_one(Prim::Reshape { shape }, &[x])
}

pub(crate) fn transpose(x: &Tensor, perm: Vec<usize>) -> Result<Tensor> {
    if perm.iter().enumerate().all(|(i, &p)| i == p) && perm.len() == x.rank() {
        return Ok(x.clone());
    }
    bind_one(Prim::Transpose { perm: perm.into() }, &[x])
}

pub(crate) fn slice(
    x: &Tensor,
    start: Vec<usize>,
    limit: Vec<usize>,
    strides: Vec<usize>,
) -> Result<Tensor> {
    bind_one(
        Prim::Slice {
            start: start.into(),
            limit: limit.into(),
            strides: strides.into(),
        },
        &[x],
    )
}

pub(crate) fn pad(
    x: &Tensor,
    value: &Tensor,
    low: Vec<i64>,
    high: Vec<i64>,
    interior: Vec<usize>,
) -> Result<Tensor> {
    bind_one(
        Prim::Pad {
            low,
            high,
            interior,
        },
        &[x, value],
    )
}

pub(crate) fn concatenate(xs: &[&Tensor], axis: usize) -> Result<Tensor> {
    if xs.len() == 1 {
        return Ok(xs[0].clone());
    }
    bind_one(Prim::Concatenate { axis }, xs)
}

pub(crate) fn rev(x: &Tensor, axes: Vec<usize>) -> Result<Tensor> {
    bind_one(Prim::Rev { axes: axes.into() }, &[x])
}

/// `_concatenate_transpose_rule`: a slice of the cotangent per linear operand.
/// `lax.split`: parts of `sizes` along `axis` (how `jnp.split` lowers since JAX 0.4.36).
pub(crate) fn split(x: &Tensor, axis: usize, sizes: Vec<usize>) -> Result<Vec<Tensor>> {
    super::bind(
        Prim::Split {
            axis,
            sizes: sizes.into(),
        },
        &[x],
    )
}
