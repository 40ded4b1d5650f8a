//! Primitives, mirroring JAX's. Each one owns four rules, all functions of shapes only:
//!
//! * its **shape rule** ([`Prim::infer`]), or a shape error naming the operands;
//! * its **forward cost** ([`Prim::cost`]): the flops XLA's `HloCostAnalysis` assigns to the
//!   HLO the primitive lowers to (`reference/xla-cost-model.md` §3, §7.2);
//! * its **JVP** ([`Prim::jvp`]): written, like JAX's rule, with primal ops (residuals,
//!   emitted in the forward half of a VJP) and linear ops on tangents;
//! * its **transpose** ([`Prim::transpose`]) when it is linear: the ops JAX's transpose rule
//!   emits in the backward half.
//!
//! Layers and [`Tensor`](crate::Tensor) methods are written only in terms of these, in the
//! order Flax and `jax.numpy` apply them, so their costs come out of the rules.

mod custom;
mod dot;
mod elementwise;
mod reduce;
mod structural;

use crate::cost::linearize::{J, JvpCx};
use crate::cost::transpose::{LinArg, TransposeCx};
use crate::error::Result;
use crate::tensor::Tensor;
use crate::trace;
use crate::trace::graph::{Spec, ValueId};

pub(crate) use custom::{CustomRule, relu};
pub(crate) use dot::{DotDims, dot_general};
pub(crate) use elementwise::{
    Binary, Cmp, Unary, binary, compare, convert, integer_pow, select_n, stop_gradient, unary,
};
pub(crate) use reduce::{ReduceOp, argmax, reduce};
pub(crate) use structural::{
    Literal, broadcast_in_dim, concatenate, constant, iota, pad, reshape, rev, slice, transpose,
};

/// The cost XLA assigns to one HLO instruction (or the few a primitive lowers to).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Cost {
    pub(crate) flops: u64,
    pub(crate) transcendentals: u64,
}

impl Cost {
    pub(crate) const ZERO: Cost = Cost {
        flops: 0,
        transcendentals: 0,
    };

    pub(crate) fn flops(flops: u64) -> Cost {
        Cost {
            flops,
            transcendentals: 0,
        }
    }

    pub(crate) fn transcendentals(transcendentals: u64) -> Cost {
        Cost {
            flops: 0,
            transcendentals,
        }
    }
}

/// A primitive with its static parameters.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Prim {
    /// Elementwise function of one operand.
    Unary(Unary),
    /// Elementwise function of two operands, size-1 dimensions broadcast (as `lax` allows).
    Binary(Binary),
    /// Elementwise comparison, giving `bool`.
    Compare(Cmp),
    /// `select_n(which, *cases)`: `cases[which]` elementwise.
    SelectN,
    /// `convert_element_type`.
    Convert(crate::dtype::DType),
    /// `integer_pow(x, y)`, lowered by repeated squaring.
    IntegerPow(i32),
    /// `stop_gradient`: the identity, with a zero tangent.
    StopGradient,
    /// A literal array.
    Constant { literal: Literal, spec: Spec },
    /// `iota` along `dimension`.
    Iota { spec: Spec, dimension: usize },
    /// `broadcast_in_dim`: operand dim `i` becomes output dim `dims[i]`.
    BroadcastInDim {
        shape: crate::shape::Shape,
        dims: Vec<usize>,
    },
    /// `reshape`.
    Reshape { shape: crate::shape::Shape },
    /// `transpose`: output dim `i` is operand dim `perm[i]`.
    Transpose { perm: Vec<usize> },
    /// `slice` with unit strides allowed to differ.
    Slice {
        start: Vec<usize>,
        limit: Vec<usize>,
        strides: Vec<usize>,
    },
    /// `pad` with a padding value operand.
    Pad {
        low: Vec<i64>,
        high: Vec<i64>,
        interior: Vec<usize>,
    },
    /// `concatenate` along `axis`.
    Concatenate { axis: usize },
    /// `rev` along `axes`.
    Rev { axes: Vec<usize> },
    /// A reduction over `axes`.
    Reduce { op: ReduceOp, axes: Vec<usize> },
    /// `argmax` along `axis`.
    Argmax {
        axis: usize,
        index_dtype: crate::dtype::DType,
    },
    /// `dot_general`.
    DotGeneral(DotDims),
}

impl Prim {
    /// The primitive's JAX name, for errors.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Prim::Unary(op) => op.name(),
            Prim::Binary(op) => op.name(),
            Prim::Compare(op) => op.name(),
            Prim::SelectN => "select_n",
            Prim::Convert(_) => "convert_element_type",
            Prim::IntegerPow(_) => "integer_pow",
            Prim::StopGradient => "stop_gradient",
            Prim::Constant { .. } => "constant",
            Prim::Iota { .. } => "iota",
            Prim::BroadcastInDim { .. } => "broadcast_in_dim",
            Prim::Reshape { .. } => "reshape",
            Prim::Transpose { .. } => "transpose",
            Prim::Slice { .. } => "slice",
            Prim::Pad { .. } => "pad",
            Prim::Concatenate { .. } => "concatenate",
            Prim::Rev { .. } => "rev",
            Prim::Reduce { op, .. } => op.name(),
            Prim::Argmax { .. } => "argmax",
            Prim::DotGeneral(_) => "dot_general",
        }
    }

    /// The specs of the outputs, or a shape error.
    pub(crate) fn infer(&self, inputs: &[&Spec]) -> Result<Vec<Spec>> {
        let one = |spec: Result<Spec>| spec.map(|s| vec![s]);
        match self {
            Prim::Unary(op) => one(elementwise::unary_spec(*op, inputs)),
            Prim::Binary(op) => one(elementwise::binary_spec(op.name(), inputs)),
            Prim::Compare(op) => one(elementwise::compare_spec(*op, inputs)),
            Prim::SelectN => one(elementwise::select_spec(inputs)),
            Prim::Convert(to) => Ok(vec![elementwise::unary_spec_to(inputs, *to)]),
            Prim::IntegerPow(_) | Prim::StopGradient => {
                Ok(vec![elementwise::unary_spec_to(inputs, inputs[0].dtype)])
            }
            Prim::Constant { spec, .. } | Prim::Iota { spec, .. } => Ok(vec![spec.clone()]),
            Prim::BroadcastInDim { shape, dims } => {
                one(structural::broadcast_in_dim_spec(inputs, shape, dims))
            }
            Prim::Reshape { shape } => one(structural::reshape_spec(inputs, shape)),
            Prim::Transpose { perm } => one(structural::transpose_spec(inputs, perm)),
            Prim::Slice {
                start,
                limit,
                strides,
            } => one(structural::slice_spec(inputs, start, limit, strides)),
            Prim::Pad {
                low,
                high,
                interior,
            } => one(structural::pad_spec(inputs, low, high, interior)),
            Prim::Concatenate { axis } => one(structural::concatenate_spec(inputs, *axis)),
            Prim::Rev { axes } => one(structural::rev_spec(inputs, axes)),
            Prim::Reduce { op, axes } => one(reduce::reduce_spec(*op, inputs, axes)),
            Prim::Argmax { axis, index_dtype } => {
                one(reduce::argmax_spec(inputs, *axis, *index_dtype))
            }
            Prim::DotGeneral(dims) => one(dot::dot_general_spec(inputs, dims)),
        }
    }

    /// XLA's cost of the HLO this primitive lowers to.
    pub(crate) fn cost(&self, inputs: &[&Spec], outputs: &[&Spec]) -> Cost {
        let out = outputs.first().map_or(0, |s| s.elements());
        match self {
            Prim::Unary(op) => op.cost(out),
            Prim::Binary(op) => op.cost(out),
            Prim::Convert(to) if inputs[0].dtype == *to => Cost::ZERO,
            Prim::Compare(_) | Prim::SelectN | Prim::Convert(_) => Cost::flops(out),
            Prim::IntegerPow(y) => Cost::flops(out * elementwise::integer_pow_ops(*y)),
            Prim::StopGradient
            | Prim::Constant { .. }
            | Prim::Iota { .. }
            | Prim::BroadcastInDim { .. }
            | Prim::Reshape { .. }
            | Prim::Transpose { .. }
            | Prim::Slice { .. }
            | Prim::Pad { .. }
            | Prim::Concatenate { .. }
            | Prim::Rev { .. } => Cost::ZERO,
            Prim::Reduce { .. } => Cost::flops(inputs[0].elements().saturating_sub(out)),
            Prim::Argmax { .. } => reduce::argmax_cost(inputs[0], out),
            Prim::DotGeneral(dims) => dot::dot_general_cost(inputs, out, dims),
        }
    }

    /// The primitive's JVP: tangents of the outputs from tangents of the inputs `t`
    /// (never all zero), primal inputs `x` and primal outputs `y`.
    pub(crate) fn jvp(
        &self,
        cx: &mut JvpCx<'_>,
        x: &[ValueId],
        y: &[ValueId],
        t: &[J],
    ) -> Result<Vec<J>> {
        let one = |tangent: Result<J>| tangent.map(|t| vec![t]);
        match self {
            Prim::Unary(op) => one(elementwise::unary_jvp(*op, cx, x[0], y[0], t[0])),
            Prim::Binary(op) => one(elementwise::binary_jvp(*op, cx, x, y[0], t)),
            Prim::SelectN => one(elementwise::select_jvp(cx, x, t)),
            Prim::IntegerPow(n) => one(elementwise::integer_pow_jvp(*n, cx, x[0], t[0])),
            Prim::Compare(_)
            | Prim::StopGradient
            | Prim::Argmax { .. }
            | Prim::Constant { .. }
            | Prim::Iota { .. } => Ok(vec![J::Zero]),
            Prim::Convert(_)
            | Prim::BroadcastInDim { .. }
            | Prim::Reshape { .. }
            | Prim::Transpose { .. }
            | Prim::Slice { .. }
            | Prim::Rev { .. } => one(cx.apply(self.clone(), &[t[0]])),
            // `linear_jvp`: the primitive applied to the tangents, zeros instantiated.
            Prim::Pad { .. } | Prim::Concatenate { .. } => {
                let tangents = cx.instantiate_zeros(t, x)?;
                one(cx.apply(self.clone(), &tangents))
            }
            Prim::Reduce { op, axes } => one(reduce::reduce_jvp(*op, axes, cx, x[0], y[0], t[0])),
            Prim::DotGeneral(dims) => one(dot::dot_general_jvp(dims, cx, x, t)),
        }
    }

    /// The transpose of a linear application: cotangents of the linear operands (`None`
    /// for operands that are not linear or get no cotangent) from the output cotangent.
    pub(crate) fn transpose(
        &self,
        cx: &mut TransposeCx<'_>,
        ct: ValueId,
        args: &[LinArg],
    ) -> Result<Vec<Option<ValueId>>> {
        match self {
            Prim::Unary(op) => elementwise::unary_transpose(*op, cx, ct, args),
            Prim::Binary(op) => elementwise::binary_transpose(*op, cx, ct, args),
            Prim::SelectN => elementwise::select_transpose(cx, ct, args),
            Prim::Convert(_) => {
                let back = cx.spec(args[0]).dtype;
                Ok(vec![Some(cx.emit(Prim::Convert(back), &[ct])?)])
            }
            Prim::BroadcastInDim { dims, .. } => {
                structural::broadcast_in_dim_transpose(cx, ct, args[0], dims)
            }
            Prim::Reshape { .. } => {
                let shape = cx.spec(args[0]).shape.clone();
                Ok(vec![Some(cx.emit(Prim::Reshape { shape }, &[ct])?)])
            }
            Prim::Transpose { perm } => structural::transpose_transpose(cx, ct, perm),
            Prim::Slice { start, strides, .. } => {
                structural::slice_transpose(cx, ct, args[0], start, strides)
            }
            Prim::Pad { low, interior, .. } => {
                structural::pad_transpose(cx, ct, args, low, interior)
            }
            Prim::Concatenate { axis } => structural::concatenate_transpose(cx, ct, args, *axis),
            Prim::Rev { axes } => Ok(vec![Some(
                cx.emit(Prim::Rev { axes: axes.clone() }, &[ct])?,
            )]),
            Prim::Reduce { op, axes } => reduce::reduce_transpose(*op, cx, ct, args[0], axes),
            Prim::DotGeneral(dims) => dot::dot_general_transpose(dims, cx, ct, args),
            Prim::Compare(_)
            | Prim::IntegerPow(_)
            | Prim::StopGradient
            | Prim::Constant { .. }
            | Prim::Iota { .. }
            | Prim::Argmax { .. } => Err(crate::error::Error::invalid(format!(
                "internal: `{}` is not linear and cannot be transposed",
                self.name()
            ))),
        }
    }
}

/// Applies `prim` to tensors: checks shapes, records the application when a summary is
/// running, and returns the results.
pub(crate) fn bind(prim: Prim, inputs: &[&Tensor]) -> Result<Vec<Tensor>> {
    let specs: Vec<&Spec> = inputs.iter().map(|t| t.spec()).collect();
    let out = prim.infer(&specs)?;
    Ok(trace::record(prim, inputs, out))
}

/// [`bind`] for primitives with one result.
pub(crate) fn bind1(prim: Prim, inputs: &[&Tensor]) -> Result<Tensor> {
    let mut out = bind(prim, inputs)?;
    Ok(out.swap_remove(0))
}
