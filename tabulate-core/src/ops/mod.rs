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

mod control;
mod conv;
mod custom;
mod dot;
mod elementwise;
mod gather;
mod random;
mod reduce;
mod structural;
mod window;

use crate::cost::linearize::{J, JvpCx};
use crate::cost::transpose::{LinArg, TransposeCx};
use crate::error::Result;
use crate::tensor::Tensor;
use crate::trace;
use crate::trace::graph::{Spec, ValueId};

pub(crate) use control::{loop_exit, loop_slice, loop_var};
pub(crate) use conv::{ConvParams, Padding, conv_general_dilated, same_padding};
pub(crate) use custom::{CustomRule, logaddexp, relu};
pub(crate) use dot::{DotDims, dot_general};
pub(crate) use elementwise::{
    Binary, Cmp, Unary, binary, bitcast_convert, compare, convert, integer_pow, select_n,
    stop_gradient, unary,
};
pub(crate) use gather::{GatherDims, GatherMode, take_rows};
pub(crate) use random::{fold_in, iota_2x32_shape, key_spec, threefry2x32};
pub(crate) use reduce::{ReduceOp, argmax, reduce};
pub(crate) use structural::{
    Literal, broadcast_in_dim, concatenate, constant, iota, pad, reshape, rev, slice, split,
    transpose,
};
pub(crate) use window::{Window, WindowOp, reduce_window};

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
    /// `split` along `axis` into parts of `sizes` (several results).
    Split { axis: usize, sizes: Vec<usize> },
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
    /// `conv_general_dilated`.
    Conv(ConvParams),
    /// `reduce_window_sum` / `_max` / `_min`.
    ReduceWindow { op: WindowOp, window: Window },
    /// `select_and_gather_add`: a max/min pool's tangent (linear; only ever transposed).
    SelectAndGatherAdd { max: bool, window: Window },
    /// `select_and_scatter_add`: the transpose of a max/min pool.
    SelectAndScatterAdd { max: bool, window: Window },
    /// `gather`.
    Gather {
        dims: GatherDims,
        slice_sizes: Vec<usize>,
        mode: GatherMode,
    },
    /// `scatter_add` (operand, indices, updates).
    ScatterAdd { dims: GatherDims, mode: GatherMode },
    /// `bitcast_convert_type`: the same bits read as another dtype of the same width.
    BitcastConvert(crate::dtype::DType),
    /// `random_fold_in` of a key with a constant.
    RandomFoldIn,
    /// `iota_2x32_shape`: high and low words of the linear index of each element.
    Iota2x32 { shape: crate::shape::Shape },
    /// `threefry2x32(key, x1, x2)`: the threefry hash of pairs of words.
    Threefry2x32,
    /// A loop-carried value inside a `while` body, from its initial value.
    LoopVar,
    /// One step's slice of a scanned input along `axis`.
    LoopSlice { axis: usize },
    /// The end of a forward `while`: `carries` final carries, then each step's outputs
    /// stacked (`length` steps) along `axis`.
    LoopExit {
        carries: usize,
        length: usize,
        axis: usize,
    },
    /// On the linear tape only: a loop's entry, mapping the tangents of its first
    /// `scanned` inputs (initial carries, scanned inputs) and of its invariants to the
    /// body's.
    LoopEntry { carries: usize, scanned: usize },
    /// The start of a transposed `while`: its loop variables and per-step slices.
    LoopBackwardEnter { specs: Vec<Spec> },
    /// The end of a transposed `while`: the cotangents it hands out.
    LoopBackwardExit { specs: Vec<Spec> },
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
            Prim::Split { .. } => "split",
            Prim::Rev { .. } => "rev",
            Prim::Reduce { op, .. } => op.name(),
            Prim::Argmax { .. } => "argmax",
            Prim::DotGeneral(_) => "dot_general",
            Prim::Conv(_) => "conv_general_dilated",
            Prim::ReduceWindow { op, .. } => match op {
                WindowOp::Sum => "reduce_window_sum",
                WindowOp::Max => "reduce_window_max",
                WindowOp::Min => "reduce_window_min",
            },
            Prim::SelectAndGatherAdd { .. } => "select_and_gather_add",
            Prim::SelectAndScatterAdd { .. } => "select_and_scatter_add",
            Prim::Gather { .. } => "gather",
            Prim::ScatterAdd { .. } => "scatter_add",
            Prim::BitcastConvert(_) => "bitcast_convert_type",
            Prim::RandomFoldIn => "random_fold_in",
            Prim::Iota2x32 { .. } => "iota_2x32_shape",
            Prim::Threefry2x32 => "threefry2x32",
            Prim::LoopVar => "loop_var",
            Prim::LoopSlice { .. } => "loop_slice",
            Prim::LoopExit { .. } => "while",
            Prim::LoopEntry { .. } => "loop_entry",
            Prim::LoopBackwardEnter { .. } => "while_transpose_enter",
            Prim::LoopBackwardExit { .. } => "while_transpose",
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
            Prim::Split { axis, sizes } => structural::split_spec(inputs, *axis, sizes),
            Prim::Rev { axes } => one(structural::rev_spec(inputs, axes)),
            Prim::Reduce { op, axes } => one(reduce::reduce_spec(*op, inputs, axes)),
            Prim::Argmax { axis, index_dtype } => {
                one(reduce::argmax_spec(inputs, *axis, *index_dtype))
            }
            Prim::DotGeneral(dims) => one(dot::dot_general_spec(inputs, dims)),
            Prim::Conv(params) => one(conv::conv_spec(inputs, params)),
            Prim::ReduceWindow { op, window } => {
                one(window::reduce_window_spec(*op, inputs, window))
            }
            Prim::SelectAndGatherAdd { window, .. } => {
                one(
                    window::reduce_window_spec(WindowOp::Max, &inputs[1..], window)
                        .map(|s| s.with_dtype(inputs[0].dtype)),
                )
            }
            Prim::SelectAndScatterAdd { window, .. } => {
                one(window::select_and_scatter_spec(inputs, window))
            }
            Prim::Gather {
                dims, slice_sizes, ..
            } => one(gather::gather_spec(inputs, dims, slice_sizes)),
            Prim::ScatterAdd { .. } => one(gather::scatter_add_spec(inputs)),
            Prim::BitcastConvert(to) => {
                if inputs[0].dtype.item_size() == to.item_size() {
                    Ok(vec![inputs[0].with_dtype(*to)])
                } else {
                    Err(crate::error::Error::shape(
                        "bitcast_convert_type",
                        format!("{} and {to} differ in width", inputs[0]),
                    ))
                }
            }
            Prim::RandomFoldIn => {
                random::check_key("random_fold_in", inputs[0])?;
                Ok(vec![key_spec()])
            }
            Prim::Iota2x32 { shape } => {
                Ok(vec![Spec::new(crate::dtype::DType::U32, shape.clone()); 2])
            }
            Prim::Threefry2x32 => random::threefry_spec(inputs),
            Prim::LoopVar => Ok(vec![inputs[0].clone()]),
            Prim::LoopSlice { axis } => one(control::loop_slice_spec(inputs, *axis)),
            Prim::LoopExit {
                carries,
                length,
                axis,
            } => control::loop_exit_spec(inputs, *carries, *length, *axis),
            Prim::LoopBackwardEnter { specs } | Prim::LoopBackwardExit { specs } => {
                Ok(specs.clone())
            }
            // Each input passes into the body unchanged, as far as specs go.
            Prim::LoopEntry { .. } => Ok(inputs.iter().map(|&s| s.clone()).collect()),
        }
    }

    /// XLA's cost of the HLO this primitive lowers to.
    pub(crate) fn cost(&self, inputs: &[&Spec], outputs: &[&Spec]) -> Cost {
        let out = outputs.first().map_or(0, |s| s.elements());
        match self {
            Prim::Unary(op) => op.cost(out),
            Prim::Binary(op) => op.cost(out),
            Prim::Convert(to) if inputs[0].dtype == *to => Cost::ZERO,
            // `bitcast_convert_type` counts like an elementwise op, unlike a free `bitcast`.
            Prim::Compare(_) | Prim::SelectN | Prim::Convert(_) | Prim::BitcastConvert(_) => Cost::flops(out),
            Prim::IntegerPow(y) => Cost::flops(out.saturating_mul(elementwise::integer_pow_ops(*y))),
            Prim::StopGradient
            | Prim::Constant { .. }
            | Prim::Iota { .. }
            | Prim::BroadcastInDim { .. }
            | Prim::Reshape { .. }
            | Prim::Transpose { .. }
            | Prim::Slice { .. }
            | Prim::Pad { .. }
            | Prim::Concatenate { .. }
            | Prim::Split { .. }
            | Prim::Rev { .. }
            | Prim::LoopVar
            | Prim::LoopSlice { .. }
            | Prim::LoopEntry { .. }
            | Prim::LoopBackwardEnter { .. }
            // Only ever transposed, never lowered.
            | Prim::SelectAndGatherAdd { .. } => Cost::ZERO,
            Prim::Reduce { .. } => Cost::flops(inputs[0].elements().saturating_sub(out)),
            Prim::Argmax { .. } => reduce::argmax_cost(inputs[0], out),
            Prim::DotGeneral(dims) => dot::dot_general_cost(inputs, out, dims),
            Prim::Conv(params) => conv::conv_cost(inputs, outputs[0], params),
            Prim::ReduceWindow { window, .. } => window::reduce_window_cost(outputs[0], window),
            Prim::SelectAndScatterAdd { window, .. } => window::select_and_scatter_cost(inputs[0], window),
            Prim::Gather { mode, .. } => gather::gather_cost(inputs[1], outputs[0], *mode),
            Prim::ScatterAdd { .. } => gather::scatter_add_cost(inputs[2]),
            Prim::RandomFoldIn => random::fold_in_cost(),
            Prim::Iota2x32 { shape } => random::iota_2x32_cost(shape),
            Prim::Threefry2x32 => random::threefry_cost(inputs[1]),
            Prim::LoopExit { .. } => control::loop_exit_cost(),
            Prim::LoopBackwardExit { .. } => control::loop_backward_exit_cost(),
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
            // A loop entry is met outside a loop only in a trace that stands for a
            // function's shape (Flax's invariance trace of a scan body): a fresh parameter.
            Prim::LoopVar
            | Prim::LoopSlice { .. }
            | Prim::Compare(_)
            | Prim::StopGradient
            | Prim::BitcastConvert(_)
            | Prim::RandomFoldIn
            | Prim::Iota2x32 { .. }
            | Prim::Threefry2x32
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
            Prim::Split { .. } => cx.apply_multi(self.clone(), &[t[0]]),
            Prim::Reduce { op, axes } => one(reduce::reduce_jvp(*op, axes, cx, x[0], y[0], t[0])),
            Prim::DotGeneral(dims) => one(dot::dot_general_jvp(dims, cx, x, t)),
            Prim::Conv(params) => one(conv::conv_jvp(params, cx, x, t)),
            Prim::ReduceWindow { op, window } => {
                one(window::reduce_window_jvp(*op, window, cx, x[0], t[0]))
            }
            Prim::Gather { .. } => one(gather::gather_jvp(self, cx, x, t)),
            Prim::ScatterAdd { .. } => one(gather::scatter_add_jvp(self, cx, x, t)),
            Prim::SelectAndGatherAdd { .. } | Prim::SelectAndScatterAdd { .. } => {
                Err(crate::error::Error::invalid(format!(
                    "second derivatives of `{}` are not modelled",
                    self.name()
                )))
            }
            Prim::LoopExit { .. }
            | Prim::LoopEntry { .. }
            | Prim::LoopBackwardEnter { .. }
            | Prim::LoopBackwardExit { .. } => Err(crate::error::Error::invalid(
                "internal: a loop is differentiated as a whole, not op by op",
            )),
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
            Prim::Conv(params) => conv::conv_transpose(params, cx, ct, args),
            Prim::ReduceWindow {
                op: WindowOp::Sum,
                window,
            } => window::reduce_window_sum_transpose(cx, ct, args[0], window),
            Prim::SelectAndGatherAdd { max, window } => {
                window::select_and_gather_transpose(cx, ct, args, *max, window)
            }
            Prim::Gather { dims, mode, .. } => gather::gather_transpose(cx, ct, args, dims, *mode),
            Prim::ScatterAdd { dims, mode } => {
                gather::scatter_add_transpose(cx, ct, args, dims, *mode)
            }
            Prim::Split { .. } | Prim::LoopExit { .. } | Prim::LoopEntry { .. } => {
                self.transpose_multi(cx, &[Some(ct)], args)
            }
            Prim::BitcastConvert(_)
            | Prim::RandomFoldIn
            | Prim::Iota2x32 { .. }
            | Prim::Threefry2x32
            | Prim::LoopVar
            | Prim::LoopSlice { .. }
            | Prim::LoopBackwardEnter { .. }
            | Prim::LoopBackwardExit { .. }
            | Prim::Compare(_)
            | Prim::IntegerPow(_)
            | Prim::StopGradient
            | Prim::Constant { .. }
            | Prim::Iota { .. }
            | Prim::Argmax { .. }
            | Prim::ReduceWindow { .. }
            | Prim::SelectAndScatterAdd { .. } => Err(crate::error::Error::invalid(format!(
                "internal: `{}` is not linear and cannot be transposed",
                self.name()
            ))),
        }
    }
}

impl Prim {
    /// The transpose of a linear application with several results, some of which may
    /// have no cotangent.
    pub(crate) fn transpose_multi(
        &self,
        cx: &mut TransposeCx<'_>,
        cts: &[Option<ValueId>],
        args: &[LinArg],
    ) -> Result<Vec<Option<ValueId>>> {
        match self {
            Prim::Split { axis, sizes } => {
                structural::split_transpose(cx, cts, args[0], *axis, sizes)
            }
            Prim::LoopExit {
                carries,
                length,
                axis,
            } => {
                let ins: Vec<Spec> = args.iter().map(|&a| cx.spec(a)).collect();
                let refs: Vec<&Spec> = ins.iter().collect();
                let outs = control::loop_exit_spec(&refs, *carries, *length, *axis)?;
                control::loop_exit_transpose(cx, cts, args, &outs)
            }
            Prim::LoopEntry { scanned, .. } => {
                control::loop_entry_transpose(cx, cts, args, *scanned)
            }
            _ => Err(crate::error::Error::invalid(format!(
                "internal: `{}` has one result",
                self.name()
            ))),
        }
    }
}

/// Applies `prim` to tensors: checks shapes, records the application when a summary is
/// running, and returns the results.
pub(crate) fn bind(prim: Prim, inputs: &[&Tensor]) -> Result<Vec<Tensor>> {
    let specs: Vec<&Spec> = inputs.iter().map(|t| t.spec()).collect();
    for spec in &specs {
        check_size(prim.name(), spec)?;
    }
    let out = prim.infer(&specs)?;
    for spec in &out {
        check_size(prim.name(), spec)?;
    }
    Ok(trace::record(prim, inputs, out))
}

/// Every array an op takes or makes has a size in bytes that fits in a `u64`, so that
/// element, byte and flop counts are exact or reported as overflows, never wrapped.
fn check_size(op: &'static str, spec: &Spec) -> Result<()> {
    let bytes = spec
        .shape
        .checked_elements()
        .and_then(|n| n.checked_mul(spec.dtype.item_size()));
    match bytes {
        Some(_) => Ok(()),
        None => Err(crate::error::Error::shape(
            op,
            format!("{spec} is too large: its size in bytes does not fit in 64 bits"),
        )),
    }
}

/// [`bind`] for primitives with one result.
pub(crate) fn bind1(prim: Prim, inputs: &[&Tensor]) -> Result<Tensor> {
    let mut out = bind(prim, inputs)?;
    Ok(out.swap_remove(0))
}
