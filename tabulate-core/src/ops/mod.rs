//! Primitives, mirroring JAX's. Each one owns four rules, all functions of shapes only:
//!
//! * its **shape rule** ([`Prim::infer_specs`]), or a shape error naming the operands;
//! * its **forward cost** ([`Prim::cost`]): the flops XLA's `HloCostAnalysis` assigns to the
//!   HLO the primitive lowers to (`reference/xla-cost-model.md` §3, §7.2);
//! * its **JVP** ([`Prim::jvp`]): written, like JAX's rule, with primal ops (residuals,
//!   emitted in the forward half of a VJP) and linear ops on tangents;
//! * its **transpose** ([`Prim::transpose`]) when it is linear: the ops JAX's transpose rule
//!   emits in the backward half.
//!
//! This layer is the IR: the graph arena ([`graph`]), the `Prim` enum with its parameter
//! types, and the contexts the JVP and transpose rules write into ([`linearize`],
//! [`transpose`]). It knows nothing of tensors or of the recorder: `lax` applies these
//! primitives to tensors, and `cost` drives the passes.

pub(crate) mod control;
pub(crate) mod conv;
pub(crate) mod custom;
pub(crate) mod dot;
pub(crate) mod elementwise;
mod fold;
pub(crate) mod gather;
pub(crate) mod graph;
pub(crate) mod linearize;
pub(crate) mod random;
pub(crate) mod reduce;
pub(crate) mod remat;
pub(crate) mod structural;
pub(crate) mod transpose;
pub(crate) mod window;

use crate::error::Result;
use graph::{Spec, ValueId};
use linearize::{J, JvpCx};
use transpose::{LinArg, TransposeCx};

pub(crate) use conv::{ConvParams, Padding, same_padding};
pub(crate) use custom::CustomRule;
pub(crate) use dot::DotDims;
pub(crate) use elementwise::{Binary, Cmp, Unary};
pub(crate) use gather::{GatherDims, GatherMode};
pub(crate) use reduce::ReduceOp;
pub(crate) use structural::Literal;
pub(crate) use window::{Window, WindowOp};

/// The cost XLA assigns to one HLO instruction (or the few a primitive lowers to).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Cost {
    pub(crate) flops: u64,
    pub(crate) transcendentals: u64,
}

/// One term of XLA's float32 flop sum (`HloCostAnalysis`): each is rounded to float32
/// and added to its computation's float32 total in DFS order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Term {
    /// One instruction's flops.
    Op(u64),
    /// A nested computation (`call`, `while`: body then condition), summed on its own
    /// in float32; its total is one term of the caller.
    Nested(Vec<Term>),
    /// A `reduce` (or `map`, `scatter`, `reduce-window`): `f32(f32(body) × f32(count))`,
    /// the flops of one application of its body times how often it is applied.
    Scaled { body: u64, count: u64 },
}

/// A primitive's list of axes, dimensions or offsets (`broadcast_in_dim`'s `dims`, a
/// `transpose`'s permutation, a reduction's axes, `dot_general`'s dimension numbers):
/// inline up to four, so that copying a primitive (every pass copies the nodes it keeps)
/// allocates nothing for them.
pub(crate) type Axes = smallvec::SmallVec<[usize; 4]>;

/// The result specs of one primitive application: nearly always one, kept inline.
pub(crate) type Specs = smallvec::SmallVec<[Spec; 1]>;

/// The terms of one instruction's primitive: nearly always one, kept inline.
pub(crate) type Terms = smallvec::SmallVec<[Term; 1]>;

impl Term {
    /// The terms of instructions with these element counts, one instruction each.
    pub(crate) fn ops(counts: impl IntoIterator<Item = u64>) -> Terms {
        counts.into_iter().map(Term::Op).collect()
    }

    /// The float32 value this term adds to its computation's total.
    #[allow(clippy::cast_precision_loss)] // float32, as XLA's `Properties`
    pub(crate) fn value(&self) -> f32 {
        match self {
            Term::Op(flops) => *flops as f32,
            Term::Nested(terms) => terms.iter().fold(0f32, |sum, t| sum + t.value()),
            Term::Scaled { body, count } => (*body as f32) * (*count as f32),
        }
    }
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
        dims: Axes,
    },
    /// `reshape`.
    Reshape { shape: crate::shape::Shape },
    /// `transpose`: output dim `i` is operand dim `perm[i]`.
    Transpose { perm: Axes },
    /// `slice` with unit strides allowed to differ.
    Slice {
        start: Axes,
        limit: Axes,
        strides: Axes,
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
    Split { axis: usize, sizes: Axes },
    /// `rev` along `axes`.
    Rev { axes: Axes },
    /// A reduction over `axes`.
    Reduce { op: ReduceOp, axes: Axes },
    /// `argmax` along `axis`.
    Argmax {
        axis: usize,
        index_dtype: crate::dtype::DType,
    },
    /// `dot_general`.
    DotGeneral(Box<DotDims>),
    /// `conv_general_dilated`.
    Conv(Box<ConvParams>),
    /// `reduce_window_sum` / `_max` / `_min`.
    ReduceWindow { op: WindowOp, window: Box<Window> },
    /// `select_and_gather_add`: a max/min pool's tangent (linear; only ever transposed).
    SelectAndGatherAdd { max: bool, window: Box<Window> },
    /// `select_and_scatter_add`: the transpose of a max/min pool.
    SelectAndScatterAdd { max: bool, window: Box<Window> },
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
    /// stacked (`length` steps) along `axis`; `reverse` runs the steps from the last;
    /// `sliced` if the body reads per-step slices (scanned inputs, or the residuals a
    /// differentiated loop stacks), which with the stacked outputs make its step index
    /// live.
    LoopExit {
        carries: usize,
        length: usize,
        axis: usize,
        reverse: bool,
        sliced: bool,
    },
    /// On the linear tape only: a loop's entry, mapping the tangents of its first
    /// `scanned` inputs (initial carries, scanned inputs) and of its invariants to the
    /// body's; `reverse` if the forward loop runs backwards.
    LoopEntry {
        carries: usize,
        scanned: usize,
        reverse: bool,
    },
    /// The start of a transposed `while`: its loop variables and per-step slices.
    LoopBackwardEnter { specs: Vec<Spec> },
    /// The end of a transposed `while`: the cotangents it hands out; `reverse` if the
    /// forward loop ran backwards (the transposed one then runs forwards).
    LoopBackwardExit { specs: Vec<Spec>, reverse: bool },
    /// `optimization_barrier`: its operands unchanged, as one instruction XLA may not
    /// look through (what `jax.checkpoint`'s `prevent_cse` puts before a recomputation).
    OptimizationBarrier,
    /// On the linear tape only: a checkpointed function (`jax.checkpoint`), transposed by
    /// recomputing its forward pass, then transposing that.
    Remat(remat::RematRule),
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
            Prim::OptimizationBarrier => "optimization_barrier",
            Prim::Remat(_) => "checkpoint",
        }
    }

    /// How many results the primitive gives when applied to `inputs` operands.
    #[inline]
    pub(crate) fn result_count(&self, inputs: usize) -> usize {
        match self {
            Prim::Split { sizes, .. } => sizes.len(),
            Prim::Iota2x32 { .. } | Prim::Threefry2x32 => 2,
            // Final carries, then one stacked output per remaining operand.
            Prim::LoopExit { .. } | Prim::LoopEntry { .. } | Prim::OptimizationBarrier => inputs,
            Prim::Remat(rule) => rule.results(),
            Prim::LoopBackwardEnter { specs } | Prim::LoopBackwardExit { specs, .. } => specs.len(),
            Prim::Unary(_)
            | Prim::Binary(_)
            | Prim::Compare(_)
            | Prim::SelectN
            | Prim::Convert(_)
            | Prim::IntegerPow(_)
            | Prim::StopGradient
            | Prim::Constant { .. }
            | Prim::Iota { .. }
            | Prim::BroadcastInDim { .. }
            | Prim::Reshape { .. }
            | Prim::Transpose { .. }
            | Prim::Slice { .. }
            | Prim::Pad { .. }
            | Prim::Concatenate { .. }
            | Prim::Rev { .. }
            | Prim::Reduce { .. }
            | Prim::Argmax { .. }
            | Prim::DotGeneral(_)
            | Prim::Conv(_)
            | Prim::ReduceWindow { .. }
            | Prim::SelectAndGatherAdd { .. }
            | Prim::SelectAndScatterAdd { .. }
            | Prim::Gather { .. }
            | Prim::ScatterAdd { .. }
            | Prim::BitcastConvert(_)
            | Prim::RandomFoldIn
            | Prim::LoopVar
            | Prim::LoopSlice { .. } => 1,
        }
    }

    /// The specs of the outputs, or a shape error; kept inline when there is one (every
    /// op the trace records and every node the cost passes emit asks for them).
    pub(crate) fn infer_specs(&self, inputs: &[&Spec]) -> Result<Specs> {
        let one = |spec: Result<Spec>| spec.map(|s| smallvec::smallvec![s]);
        match self {
            Prim::Unary(op) => one(elementwise::unary_spec(*op, inputs)),
            Prim::Binary(op) => one(elementwise::binary_op_spec(*op, inputs)),
            Prim::Compare(op) => one(elementwise::compare_spec(*op, inputs)),
            Prim::SelectN => one(elementwise::select_spec(inputs)),
            Prim::Convert(to) => Ok(smallvec::smallvec![elementwise::unary_spec_to(inputs, *to)]),
            Prim::IntegerPow(y) => one(elementwise::integer_pow_spec(*y, inputs)),
            Prim::StopGradient => Ok(smallvec::smallvec![elementwise::unary_spec_to(
                inputs,
                inputs[0].dtype
            )]),
            Prim::Constant { spec, .. } | Prim::Iota { spec, .. } => {
                Ok(smallvec::smallvec![spec.clone()])
            }
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
            Prim::Split { axis, sizes } => {
                structural::split_spec(inputs, *axis, sizes).map(Specs::from)
            }
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
            Prim::BitcastConvert(to) => one(elementwise::bitcast_convert_spec(inputs, *to)),
            Prim::RandomFoldIn => one(random::fold_in_spec(inputs)),
            Prim::Iota2x32 { shape } => Ok(random::iota_2x32_specs(shape).into()),
            Prim::Threefry2x32 => random::threefry_spec(inputs).map(Specs::from),
            Prim::LoopVar => Ok(smallvec::smallvec![inputs[0].clone()]),
            Prim::LoopSlice { axis } => one(control::loop_slice_spec(inputs, *axis)),
            Prim::LoopExit {
                carries,
                length,
                axis,
                ..
            } => control::loop_exit_spec(inputs, *carries, *length, *axis).map(Specs::from),
            Prim::LoopBackwardEnter { specs } | Prim::LoopBackwardExit { specs, .. } => {
                Ok(specs.iter().cloned().collect())
            }
            // Each input passes into the body unchanged, as far as specs go.
            Prim::LoopEntry { .. } | Prim::OptimizationBarrier => {
                Ok(inputs.iter().map(|&s| s.clone()).collect())
            }
            Prim::Remat(rule) => Ok(rule.result_specs().into()),
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
            | Prim::OptimizationBarrier
            // Only ever transposed, never lowered.
            | Prim::Remat(_)
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
            Prim::LoopExit {
                reverse,
                sliced,
                carries,
                ..
            } => control::loop_exit_cost(*reverse && (*sliced || inputs.len() > *carries)),
            Prim::LoopBackwardExit { reverse, .. } => control::loop_backward_exit_cost(*reverse),
        }
    }

    /// The terms the primitive adds to XLA's float32 sum, in the order XLA's DFS visits
    /// the HLO instructions it lowers to (`reference/xla-cost-model.md` §7.8): one per
    /// instruction, a nested computation (a `call`, a `while`) as one term summed on its
    /// own, a `reduce` as its body's flops times its count. From its [`Prim::cost`] and
    /// the specs of its operands and results.
    pub(crate) fn instruction_terms(
        &self,
        cost: Cost,
        inputs: &[&Spec],
        outputs: &[&Spec],
    ) -> Terms {
        match (self, outputs.first()) {
            (Prim::IntegerPow(_), Some(out)) => elementwise::integer_pow_instructions(cost, out),
            (Prim::Unary(op), Some(out)) => op.instruction_terms(cost, out.elements()),
            (Prim::Reduce { .. }, Some(out)) => smallvec::smallvec![Term::Scaled {
                body: 1,
                count: inputs
                    .first()
                    .map_or(0, |x| x.elements())
                    .saturating_sub(out.elements()),
            }],
            (Prim::Argmax { .. }, Some(out)) => inputs.first().map_or_else(
                || smallvec::smallvec![Term::Op(cost.flops)],
                |x| reduce::argmax_terms(x, out.elements()),
            ),
            (Prim::Gather { mode, .. }, Some(out)) => inputs.get(1).map_or_else(
                || smallvec::smallvec![Term::Op(cost.flops)],
                |indices| gather::gather_terms(indices, out, *mode),
            ),
            (Prim::RandomFoldIn, _) => random::fold_in_terms(),
            (Prim::Iota2x32 { shape }, _) => random::iota_2x32_terms(shape),
            (Prim::Threefry2x32, _) => {
                random::threefry_terms(inputs.get(1).map_or(0, |x| x.elements()))
            }
            (
                Prim::IntegerPow(_)
                | Prim::Unary(_)
                | Prim::Reduce { .. }
                | Prim::Argmax { .. }
                | Prim::Binary(_)
                | Prim::Compare(_)
                | Prim::SelectN
                | Prim::Convert(_)
                | Prim::StopGradient
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
                | Prim::DotGeneral(_)
                | Prim::Conv(_)
                | Prim::ReduceWindow { .. }
                | Prim::SelectAndGatherAdd { .. }
                | Prim::SelectAndScatterAdd { .. }
                | Prim::Gather { .. }
                | Prim::ScatterAdd { .. }
                | Prim::BitcastConvert(_)
                | Prim::LoopVar
                | Prim::LoopSlice { .. }
                | Prim::LoopExit { .. }
                | Prim::LoopEntry { .. }
                | Prim::LoopBackwardEnter { .. }
                | Prim::LoopBackwardExit { .. }
                | Prim::OptimizationBarrier
                | Prim::Remat(_),
                _,
            ) => smallvec::smallvec![Term::Op(cost.flops)],
        }
    }

    /// Whether the primitive is the `while` that ends a loop region (forward or
    /// transposed): its terms are the loop's own scalar ops, not its body's.
    pub(crate) fn is_loop_exit(&self) -> bool {
        matches!(self, Prim::LoopExit { .. } | Prim::LoopBackwardExit { .. })
    }

    /// Whether a tangent can flow through the primitive: false where its JVP is zero
    /// (JAX's `defjvp_zero`, integer and key results). The carries' fixpoint of a loop
    /// uses it as JAX's does.
    #[inline]
    pub(crate) fn has_derivative(&self) -> bool {
        match self {
            Prim::Unary(op) => op.has_derivative(),
            Prim::Compare(_)
            | Prim::StopGradient
            | Prim::Argmax { .. }
            | Prim::Constant { .. }
            | Prim::Iota { .. }
            | Prim::BitcastConvert(_)
            | Prim::RandomFoldIn
            | Prim::Iota2x32 { .. }
            | Prim::Threefry2x32
            | Prim::OptimizationBarrier => false,
            Prim::Binary(_)
            | Prim::SelectN
            | Prim::Convert(_)
            | Prim::IntegerPow(_)
            | Prim::BroadcastInDim { .. }
            | Prim::Reshape { .. }
            | Prim::Transpose { .. }
            | Prim::Slice { .. }
            | Prim::Pad { .. }
            | Prim::Concatenate { .. }
            | Prim::Split { .. }
            | Prim::Rev { .. }
            | Prim::Reduce { .. }
            | Prim::DotGeneral(_)
            | Prim::Conv(_)
            | Prim::ReduceWindow { .. }
            | Prim::SelectAndGatherAdd { .. }
            | Prim::SelectAndScatterAdd { .. }
            | Prim::Gather { .. }
            | Prim::ScatterAdd { .. }
            | Prim::LoopVar
            | Prim::LoopSlice { .. }
            | Prim::LoopExit { .. }
            | Prim::LoopEntry { .. }
            | Prim::LoopBackwardEnter { .. }
            | Prim::LoopBackwardExit { .. }
            | Prim::Remat(_) => true,
        }
    }

    /// Multiply-accumulates of the forward pass as torchvision, ptflops and fvcore count
    /// them: matmuls and convolutions only (no bias, no elementwise op), every tap of a
    /// convolution counted on the padded input. Every primitive must decide here.
    pub(crate) fn macs(&self, inputs: &[&Spec], outputs: &[&Spec]) -> u64 {
        match self {
            Prim::DotGeneral(dims) => {
                let out = outputs.first().map_or(0, |s| s.elements());
                dot::dot_general_macs(inputs, out, dims)
            }
            Prim::Conv(params) => outputs
                .first()
                .map_or(0, |out| conv::conv_macs(inputs, out, params)),
            // Elementwise, structural, reductions, windows, gathers, random bits and loop
            // plumbing: no multiply-accumulate in the torchvision convention.
            Prim::Unary(_)
            | Prim::Binary(_)
            | Prim::Compare(_)
            | Prim::SelectN
            | Prim::Convert(_)
            | Prim::IntegerPow(_)
            | Prim::StopGradient
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
            | Prim::Reduce { .. }
            | Prim::Argmax { .. }
            | Prim::ReduceWindow { .. }
            | Prim::SelectAndGatherAdd { .. }
            | Prim::SelectAndScatterAdd { .. }
            | Prim::Gather { .. }
            | Prim::ScatterAdd { .. }
            | Prim::BitcastConvert(_)
            | Prim::RandomFoldIn
            | Prim::Iota2x32 { .. }
            | Prim::Threefry2x32
            | Prim::LoopVar
            | Prim::LoopSlice { .. }
            | Prim::LoopExit { .. }
            | Prim::LoopEntry { .. }
            | Prim::LoopBackwardEnter { .. }
            | Prim::LoopBackwardExit { .. }
            | Prim::OptimizationBarrier
            | Prim::Remat(_) => 0,
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
    ) -> Result<linearize::Tangents> {
        if !self.has_derivative() {
            return Ok(smallvec::smallvec![J::Zero; self.result_count(x.len())]);
        }
        let one = |tangent: Result<J>| tangent.map(|t| smallvec::smallvec![t]);
        match self {
            Prim::Unary(op) => one(elementwise::unary_jvp(*op, cx, x[0], y[0], t[0])),
            Prim::Binary(op) => one(elementwise::binary_jvp(*op, cx, x, y[0], t)),
            Prim::SelectN => one(elementwise::select_jvp(cx, x, t)),
            Prim::IntegerPow(n) => one(elementwise::integer_pow_jvp(*n, cx, x[0], t[0])),
            // A loop entry is met outside a loop only in a trace that stands for a
            // function's shape (Flax's invariance trace of a scan body): a fresh parameter.
            // The others have no derivative ([`Prim::has_derivative`], returned above).
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
            | Prim::Iota { .. } => Ok(smallvec::smallvec![J::Zero]),
            Prim::OptimizationBarrier => Ok(smallvec::smallvec![J::Zero; x.len()]),
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
            | Prim::LoopBackwardExit { .. } => Err(crate::error::Error::internal(
                "a loop is differentiated as a whole, not op by op",
            )),
            Prim::Remat(_) => Err(crate::error::Error::internal(
                "a checkpointed function is differentiated as a whole, not op by op",
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
    ) -> Result<crate::ops::transpose::Cts> {
        match self {
            Prim::Unary(op) => elementwise::unary_transpose(*op, cx, ct, args),
            Prim::Binary(op) => elementwise::binary_transpose(*op, cx, ct, args),
            Prim::SelectN => elementwise::select_transpose(cx, ct, args),
            Prim::Convert(_) => {
                let back = cx.spec(args[0]).dtype;
                Ok(smallvec::smallvec![Some(
                    cx.emit(Prim::Convert(back), &[ct])?
                )])
            }
            Prim::BroadcastInDim { dims, .. } => {
                structural::broadcast_in_dim_transpose(cx, ct, args[0], dims)
            }
            Prim::Reshape { .. } => {
                let shape = cx.spec(args[0]).shape.clone();
                Ok(smallvec::smallvec![Some(
                    cx.emit(Prim::Reshape { shape }, &[ct])?
                )])
            }
            Prim::Transpose { perm } => structural::transpose_transpose(cx, ct, perm),
            Prim::Slice { start, strides, .. } => {
                structural::slice_transpose(cx, ct, args[0], start, strides)
            }
            Prim::Pad { low, interior, .. } => {
                structural::pad_transpose(cx, ct, args, low, interior)
            }
            Prim::Concatenate { axis } => structural::concatenate_transpose(cx, ct, args, *axis),
            Prim::Rev { axes } => Ok(smallvec::smallvec![Some(
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
            Prim::Split { .. }
            | Prim::LoopExit { .. }
            | Prim::LoopEntry { .. }
            | Prim::Remat(_) => self.transpose_multi(cx, &[Some(ct)], args),
            Prim::BitcastConvert(_)
            | Prim::RandomFoldIn
            | Prim::Iota2x32 { .. }
            | Prim::Threefry2x32
            | Prim::LoopVar
            | Prim::LoopSlice { .. }
            | Prim::LoopBackwardEnter { .. }
            | Prim::LoopBackwardExit { .. }
            | Prim::OptimizationBarrier
            | Prim::Compare(_)
            | Prim::IntegerPow(_)
            | Prim::StopGradient
            | Prim::Constant { .. }
            | Prim::Iota { .. }
            | Prim::Argmax { .. }
            | Prim::ReduceWindow { .. }
            | Prim::SelectAndScatterAdd { .. } => Err(crate::error::Error::internal(format!(
                "`{}` is not linear and cannot be transposed",
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
    ) -> Result<crate::ops::transpose::Cts> {
        match self {
            Prim::Split { axis, sizes } => {
                structural::split_transpose(cx, cts, args[0], *axis, sizes)
            }
            Prim::LoopExit {
                carries,
                length,
                axis,
                ..
            } => {
                let ins: Vec<Spec> = args.iter().map(|&a| cx.spec(a)).collect();
                let refs: Vec<&Spec> = ins.iter().collect();
                let outs = control::loop_exit_spec(&refs, *carries, *length, *axis)?;
                control::loop_exit_transpose(cx, cts, args, &outs)
            }
            Prim::LoopEntry {
                scanned, reverse, ..
            } => control::loop_entry_transpose(cx, cts, args, *scanned, *reverse),
            Prim::Remat(rule) => remat::remat_transpose(rule, cx, cts, args),
            _ => Err(crate::error::Error::internal(format!(
                "`{}` has one result",
                self.name()
            ))),
        }
    }
}
