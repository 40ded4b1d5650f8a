//! `dot_general`: batched, multi-axis contraction, costed as XLA's `dot`
//! (2 × output elements × contracted size).

use super::{Cost, Prim};
use crate::error::{Error, Result};
use crate::ops::graph::{Spec, ValueId};
use crate::ops::linearize::{J, JvpCx};
use crate::ops::transpose::{LinArg, TransposeCx};

/// Contracting and batch dimensions of both operands.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub(crate) struct DotDims {
    pub(crate) lhs_contracting: super::Axes,
    pub(crate) rhs_contracting: super::Axes,
    pub(crate) lhs_batch: super::Axes,
    pub(crate) rhs_batch: super::Axes,
}

/// Dimensions of `rank` that are neither contracted nor batch.
fn free_dims(rank: usize, contracting: &[usize], batch: &[usize]) -> super::Axes {
    (0..rank)
        .filter(|d| !contracting.contains(d) && !batch.contains(d))
        .collect()
}

pub(super) fn dot_general_spec(inputs: &[&Spec], dims: &DotDims) -> Result<Spec> {
    let (a, b) = (inputs[0], inputs[1]);
    let fail = |why: String| Err(Error::shape("dot_general", format!("{why}: {a} × {b}")));
    if a.dtype != b.dtype {
        return fail("operands must have the same dtype".into());
    }
    if dims.lhs_contracting.len() != dims.rhs_contracting.len()
        || dims.lhs_batch.len() != dims.rhs_batch.len()
    {
        return fail("contracting and batch dimensions must pair up".into());
    }
    let in_range = |ds: &[usize], rank: usize| ds.iter().all(|&d| d < rank);
    if !in_range(&dims.lhs_contracting, a.rank())
        || !in_range(&dims.lhs_batch, a.rank())
        || !in_range(&dims.rhs_contracting, b.rank())
        || !in_range(&dims.rhs_batch, b.rank())
    {
        return fail("dimension numbers are out of range".into());
    }
    for (&l, &r) in dims.lhs_contracting.iter().zip(&dims.rhs_contracting) {
        if a.dims()[l] != b.dims()[r] {
            return fail(format!(
                "contracting dimensions differ ({} vs {})",
                a.dims()[l],
                b.dims()[r]
            ));
        }
    }
    for (&l, &r) in dims.lhs_batch.iter().zip(&dims.rhs_batch) {
        if a.dims()[l] != b.dims()[r] {
            return fail(format!(
                "batch dimensions differ ({} vs {})",
                a.dims()[l],
                b.dims()[r]
            ));
        }
    }
    let mut out: smallvec::SmallVec<[usize; 6]> =
        dims.lhs_batch.iter().map(|&d| a.dims()[d]).collect();
    out.extend(
        free_dims(a.rank(), &dims.lhs_contracting, &dims.lhs_batch)
            .iter()
            .map(|&d| a.dims()[d]),
    );
    out.extend(
        free_dims(b.rank(), &dims.rhs_contracting, &dims.rhs_batch)
            .iter()
            .map(|&d| b.dims()[d]),
    );
    Ok(Spec::new(a.dtype, &out[..]))
}

/// `GetDotFlops`: 2 (one fused multiply-add) per output element and contracted element.
pub(super) fn dot_general_cost(inputs: &[&Spec], out: u64, dims: &DotDims) -> Cost {
    let contracted = dims.lhs_contracting.iter().fold(1u64, |acc, &d| {
        acc.saturating_mul(inputs[0].dims()[d] as u64)
    });
    Cost::flops(out.saturating_mul(contracted).saturating_mul(2))
}

/// Multiply-accumulates as torchvision and ptflops count a matmul: one per output element
/// and contracted element (half of XLA's flops, which count the multiply-add as 2).
pub(super) fn dot_general_macs(inputs: &[&Spec], out: u64, dims: &DotDims) -> u64 {
    dims.lhs_contracting.iter().fold(out, |acc, &d| {
        acc.saturating_mul(inputs[0].dims()[d] as u64)
    })
}

/// Bilinear: `dot(xdot, y) + dot(x, ydot)`.
pub(super) fn dot_general_jvp(
    dims: &DotDims,
    cx: &mut JvpCx<'_>,
    p: &[ValueId],
    t: &[J],
) -> Result<J> {
    let prim = Prim::DotGeneral(Box::new(dims.clone()));
    let a = if t[0].is_zero() {
        J::Zero
    } else {
        cx.apply(prim.clone(), &[t[0], J::Primal(p[1])])?
    };
    let b = if t[1].is_zero() {
        J::Zero
    } else {
        cx.apply(prim, &[J::Primal(p[0]), t[1]])?
    };
    cx.add_tangents(a, b)
}

pub(super) fn dot_general_transpose(
    dims: &DotDims,
    cx: &mut TransposeCx<'_>,
    ct: ValueId,
    args: &[LinArg],
) -> Result<crate::ops::transpose::Cts> {
    match (&args[0], &args[1]) {
        (LinArg::Tan(_), LinArg::Primal(y)) => {
            let x_rank = cx.spec(args[0]).rank();
            Ok(smallvec::smallvec![
                Some(transpose_lhs(cx, ct, x_rank, *y, dims, false)?),
                None,
            ])
        }
        (LinArg::Primal(x), LinArg::Tan(_)) => {
            let y_rank = cx.spec(args[1]).rank();
            let swapped = DotDims {
                lhs_contracting: dims.rhs_contracting.clone(),
                rhs_contracting: dims.lhs_contracting.clone(),
                lhs_batch: dims.rhs_batch.clone(),
                rhs_batch: dims.lhs_batch.clone(),
            };
            Ok(smallvec::smallvec![
                None,
                Some(transpose_lhs(cx, ct, y_rank, *x, &swapped, true)?),
            ])
        }
        _ => Err(Error::internal(
            "dot_general is linear in one operand at a time",
        )),
    }
}

/// `_dot_general_transpose_lhs`: contract the cotangent with the other operand, then
/// permute the result into the operand's dimension order.
fn transpose_lhs(
    cx: &mut TransposeCx<'_>,
    g: ValueId,
    x_rank: usize,
    y: ValueId,
    dims: &DotDims,
    swap_ans: bool,
) -> Result<ValueId> {
    let y_rank = cx.value_spec(y).rank();
    let x_kept = free_dims(x_rank, &dims.lhs_contracting, &dims.lhs_batch);
    let y_kept = free_dims(y_rank, &dims.rhs_contracting, &dims.rhs_batch);
    let nb = dims.lhs_batch.len();
    let ans_batch: super::Axes = (0..nb).collect();
    let ans_y: super::Axes = if swap_ans {
        (nb..nb + y_kept.len()).collect()
    } else {
        (nb + x_kept.len()..nb + x_kept.len() + y_kept.len()).collect()
    };
    let product = cx.emit(
        Prim::DotGeneral(Box::new(DotDims {
            lhs_contracting: ans_y,
            rhs_contracting: y_kept,
            lhs_batch: ans_batch,
            rhs_batch: dims.rhs_batch.clone(),
        })),
        &[g, y],
    )?;
    // x's contracting dims, in the order of y's matching contracting dims.
    let mut order: super::Axes = (0..dims.rhs_contracting.len()).collect();
    order.sort_by_key(|&i| dims.rhs_contracting[i]);
    let mut layout: super::Axes = dims.lhs_batch.clone();
    layout.extend_from_slice(&x_kept);
    layout.extend(order.iter().map(|&i| dims.lhs_contracting[i]));
    let mut perm: super::Axes = (0..layout.len()).collect();
    perm.sort_by_key(|&i| layout[i]);
    if perm.iter().enumerate().all(|(i, &p)| i == p) {
        return Ok(product);
    }
    cx.emit(Prim::Transpose { perm }, &[product])
}
