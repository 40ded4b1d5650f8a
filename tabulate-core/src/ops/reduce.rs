//! Reductions: `reduce_sum`, `reduce_max`, `reduce_min`, `reduce_and`,
//! `reduce_or` (an HLO `reduce`: one reducer application per input element beyond the
//! output's) and `argmax` (a variadic reduce with a 9-flop reducer).

use super::{Cmp, Cost, Prim, Term, Terms};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::ops::graph::{Spec, ValueId};
use crate::ops::linearize::{J, JvpCx};
use crate::ops::transpose::{LinArg, TransposeCx};

/// The reducer of a `reduce`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ReduceOp {
    Sum,
    Max,
    Min,
    And,
    Or,
}

impl ReduceOp {
    pub(crate) fn name(self) -> &'static str {
        match self {
            ReduceOp::Sum => "reduce_sum",
            ReduceOp::Max => "reduce_max",
            ReduceOp::Min => "reduce_min",
            ReduceOp::And => "reduce_and",
            ReduceOp::Or => "reduce_or",
        }
    }
}

pub(super) fn reduce_spec(op: ReduceOp, inputs: &[&Spec], axes: &[usize]) -> Result<Spec> {
    let x = inputs[0];
    if axes.windows(2).any(|w| w[0] >= w[1]) || axes.iter().any(|&a| a >= x.rank()) {
        return Err(Error::shape(
            op.name(),
            format!("axes {axes:?} must be distinct, sorted and within the rank of {x}"),
        ));
    }
    if matches!(op, ReduceOp::And | ReduceOp::Or) && x.dtype.is_inexact() {
        return Err(Error::shape(
            op.name(),
            format!("needs a boolean or integer operand, got {x}"),
        ));
    }
    let dims: Vec<usize> = (0..x.rank())
        .filter(|i| !axes.contains(i))
        .map(|i| x.dims()[i])
        .collect();
    Ok(x.with_shape(dims))
}

pub(super) fn argmax_spec(inputs: &[&Spec], axis: usize, index_dtype: DType) -> Result<Spec> {
    let x = inputs[0];
    if axis >= x.rank() {
        return Err(Error::shape(
            "argmax",
            format!("axis {axis} is out of range for {x}"),
        ));
    }
    if !index_dtype.is_integer() {
        return Err(Error::shape(
            "argmax",
            format!("the index dtype must be an integer, got {index_dtype}"),
        ));
    }
    let dims: Vec<usize> = (0..x.rank())
        .filter(|&i| i != axis)
        .map(|i| x.dims()[i])
        .collect();
    Ok(Spec::new(index_dtype, dims))
}

/// The variadic reducer compares values and indices and selects both: 9 flops for a
/// floating-point operand, 7 for an integer or boolean one (no NaN test).
pub(super) fn argmax_cost(input: &Spec, out: u64) -> Cost {
    Cost::flops(
        input
            .elements()
            .saturating_sub(out)
            .saturating_mul(argmax_body_flops(input.dtype)),
    )
}

/// The flops of argmax's reducer body, applied to one (value, index) pair: `gt`, `ne`,
/// `or`, `select`, `eq`, `lt`, `and`, `or`, `select` for floats, where `ne` and `or`
/// let NaN win; integers and booleans have no NaN, so `gt`, `select`, `eq`, `lt`, `and`,
/// `or`, `select`.
fn argmax_body_flops(dtype: DType) -> u64 {
    if dtype.is_inexact() { 9 } else { 7 }
}

/// XLA's term for argmax over `input` into `out` elements: a variadic `reduce` whose
/// body is applied `input − out` times, `f32(f32(body) × f32(count))`.
pub(super) fn argmax_terms(input: &Spec, out: u64) -> Terms {
    smallvec::smallvec![Term::Scaled {
        body: argmax_body_flops(input.dtype),
        count: input.elements().saturating_sub(out),
    }]
}

pub(super) fn reduce_jvp(
    op: ReduceOp,
    axes: &[usize],
    cx: &mut JvpCx<'_>,
    x: ValueId,
    ans: ValueId,
    g: J,
) -> Result<J> {
    match op {
        ReduceOp::Sum => cx.apply(
            Prim::Reduce {
                op,
                axes: axes.to_vec().into(),
            },
            &[g],
        ),
        ReduceOp::Max | ReduceOp::Min => chooser_jvp(axes, cx, x, ans, g),
        ReduceOp::And | ReduceOp::Or => Ok(J::Zero),
    }
}

/// `_reduce_chooser_jvp_rule`: the tangent averaged over the positions that hold the
/// extremum.
fn chooser_jvp(axes: &[usize], cx: &mut JvpCx<'_>, x: ValueId, ans: ValueId, g: J) -> Result<J> {
    let operand = cx.spec(x);
    let kept_shape: Vec<usize> = operand
        .dims()
        .iter()
        .enumerate()
        .map(|(i, &d)| if axes.contains(&i) { 1 } else { d })
        .collect();
    let ans_kept = cx.primal(
        Prim::Reshape {
            shape: kept_shape.into(),
        },
        &[ans],
    )?;
    let eq = cx.primal(Prim::Compare(Cmp::Eq), &[x, ans_kept])?;
    let location = cx.primal(Prim::Convert(operand.dtype), &[eq])?;
    let sum = |axes: &[usize]| Prim::Reduce {
        op: ReduceOp::Sum,
        axes: axes.to_vec().into(),
    };
    let counts = cx.primal(sum(axes), &[location])?;
    let picked = cx.mul(g, J::Primal(location))?;
    let total = cx.apply(sum(axes), &[picked])?;
    cx.div(total, J::Primal(counts))
}

/// `_reduce_sum_transpose_rule`: broadcast the cotangent back over the reduced axes.
pub(super) fn reduce_transpose(
    op: ReduceOp,
    cx: &mut TransposeCx<'_>,
    ct: ValueId,
    operand: LinArg,
    axes: &[usize],
) -> Result<crate::ops::transpose::Cts> {
    if op != ReduceOp::Sum {
        return Err(Error::internal(format!("`{}` is not linear", op.name())));
    }
    let shape = cx.spec(operand).shape;
    let dims: Vec<usize> = (0..shape.rank()).filter(|d| !axes.contains(d)).collect();
    Ok(smallvec::smallvec![Some(cx.emit(
        Prim::BroadcastInDim {
            shape,
            dims: dims.into()
        },
        &[ct]
    )?,)])
}
