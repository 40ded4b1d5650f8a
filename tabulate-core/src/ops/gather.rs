//! `gather` and `scatter_add`: indexing with an array of indices (`jnp.take`, embedding
//! lookups) and its transpose. XLA gives the gather itself no flops; the `fill` mode's
//! bounds mask and NaN fill are what cost.

use super::{Cost, Prim, Term, Terms};
use crate::error::{Error, Result};
use crate::ops::graph::{Spec, ValueId};
use crate::ops::linearize::{J, JvpCx};
use crate::ops::transpose::{LinArg, TransposeCx};
use crate::shape::Shape;

/// `GatherDimensionNumbers` (without batching dimensions); scatter uses the same numbers
/// under its own names (`update_window_dims`, `inserted_window_dims`,
/// `scatter_dims_to_operand_dims`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct GatherDims {
    pub(crate) offset_dims: Vec<usize>,
    pub(crate) collapsed_slice_dims: Vec<usize>,
    pub(crate) start_index_map: Vec<usize>,
}

/// What happens to out-of-bounds indices.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum GatherMode {
    /// `FILL_OR_DROP`: out-of-bounds reads give the fill value (NaN), writes are dropped.
    Fill,
}

pub(super) fn gather_spec(
    inputs: &[&Spec],
    dims: &GatherDims,
    slice_sizes: &[usize],
) -> Result<Spec> {
    let (operand, indices) = (inputs[0], inputs[1]);
    let fail = |why: &str| {
        Err(Error::shape(
            "gather",
            format!("{why}: operand {operand}, indices {indices}"),
        ))
    };
    if !indices.dtype.is_integer() {
        return fail("indices must be integers");
    }
    let Some((&vector, batch)) = indices.dims().split_last() else {
        return fail("indices need an index-vector dimension");
    };
    if vector != dims.start_index_map.len() || slice_sizes.len() != operand.rank() {
        return fail("the index vector and slice sizes must match the operand");
    }
    if slice_sizes.iter().zip(operand.dims()).any(|(&s, &d)| s > d)
        || dims
            .collapsed_slice_dims
            .iter()
            .any(|&c| c >= operand.rank() || slice_sizes[c] != 1)
        || dims.start_index_map.iter().any(|&d| d >= operand.rank())
    {
        return fail("slice sizes must fit the operand and collapsed dimensions must be of size 1");
    }
    let offsets: Vec<usize> = (0..operand.rank())
        .filter(|d| !dims.collapsed_slice_dims.contains(d))
        .map(|d| slice_sizes[d])
        .collect();
    let rank = batch.len() + offsets.len();
    if dims.offset_dims.len() != offsets.len() || dims.offset_dims.iter().any(|&d| d >= rank) {
        return fail("offset dimensions do not fit the output");
    }
    let mut out = vec![0; rank];
    let (mut b, mut o) = (batch.iter(), offsets.iter());
    for (d, slot) in out.iter_mut().enumerate() {
        *slot = if dims.offset_dims.contains(&d) {
            *o.next().unwrap_or(&0)
        } else {
            *b.next().unwrap_or(&0)
        };
    }
    Ok(Spec::new(operand.dtype, Shape::new(out)))
}

/// `_gather_fill`'s lowering: `ge`, `le` and `and` per index, a `reduce_and` over the index
/// vector, and a `select` of the fill value per output element.
pub(super) fn gather_cost(indices: &Spec, out: &Spec, mode: GatherMode) -> Cost {
    match mode {
        GatherMode::Fill => {
            let index_elements = indices.elements();
            let vectors = index_elements / indices.dims().last().map_or(1, |&v| v.max(1) as u64);
            Cost::flops(
                index_elements
                    .saturating_mul(3)
                    .saturating_add(index_elements - vectors)
                    .saturating_add(out.elements()),
            )
        }
    }
}

/// XLA's terms for [`gather_cost`], one per instruction in `_gather_fill`'s lowering:
/// `ge`, `le`, `and` over the indices, the `reduce_and` over each index vector, the
/// fill `select` over the output.
pub(super) fn gather_terms(indices: &Spec, out: &Spec, mode: GatherMode) -> Terms {
    match mode {
        GatherMode::Fill => {
            let index_elements = indices.elements();
            let vectors = index_elements / indices.dims().last().map_or(1, |&v| v.max(1) as u64);
            smallvec::smallvec![
                Term::Op(index_elements),
                Term::Op(index_elements),
                Term::Op(index_elements),
                Term::Scaled {
                    body: 1,
                    count: index_elements - vectors,
                },
                Term::Op(out.elements()),
            ]
        }
    }
}

/// Linear in the operand: the same gather of its tangent.
pub(super) fn gather_jvp(prim: &Prim, cx: &mut JvpCx<'_>, x: &[ValueId], t: &[J]) -> Result<J> {
    if t[0].is_zero() {
        return Ok(J::Zero);
    }
    cx.apply(prim.clone(), &[t[0], J::Primal(x[1])])
}

/// `_gather_transpose_rule`: `scatter_add` of the cotangent into zeros.
pub(super) fn gather_transpose(
    cx: &mut TransposeCx<'_>,
    ct: ValueId,
    args: &[LinArg],
    dims: &GatherDims,
    mode: GatherMode,
) -> Result<crate::ops::transpose::Cts> {
    let (LinArg::Tan(_), LinArg::Primal(indices)) = (args[0], args[1]) else {
        return Err(Error::internal("gather is linear in its operand only"));
    };
    let operand = cx.spec(args[0]);
    let zeros = cx.emit(
        Prim::Constant {
            literal: super::Literal::Splat(0.0),
            spec: operand,
        },
        &[],
    )?;
    let out = cx.emit(
        Prim::ScatterAdd {
            dims: dims.clone(),
            mode,
        },
        &[zeros, indices, ct],
    )?;
    Ok(smallvec::smallvec![Some(out), None])
}

pub(super) fn scatter_add_spec(inputs: &[&Spec]) -> Result<Spec> {
    let (operand, indices, updates) = (inputs[0], inputs[1], inputs[2]);
    if !indices.dtype.is_integer() || operand.dtype != updates.dtype {
        return Err(Error::shape(
            "scatter_add",
            format!(
                "operand {operand}, indices {indices} and updates {updates} do not fit together"
            ),
        ));
    }
    Ok(operand.clone())
}

/// `HandleScatter`: one combiner application (an add) per update element.
pub(super) fn scatter_add_cost(updates: &Spec) -> Cost {
    Cost::flops(updates.elements())
}

/// Linear in operand and updates: `scatter_add(t_operand, indices, t_updates)`.
pub(super) fn scatter_add_jvp(
    prim: &Prim,
    cx: &mut JvpCx<'_>,
    x: &[ValueId],
    t: &[J],
) -> Result<J> {
    let operand = if t[0].is_zero() {
        J::Primal(cx.full_like(x[0], 0.0)?)
    } else {
        t[0]
    };
    let updates = if t[2].is_zero() {
        J::Primal(cx.full_like(x[2], 0.0)?)
    } else {
        t[2]
    };
    cx.apply(prim.clone(), &[operand, J::Primal(x[1]), updates])
}

/// The operand's cotangent passes through; the updates' is gathered back.
pub(super) fn scatter_add_transpose(
    cx: &mut TransposeCx<'_>,
    ct: ValueId,
    args: &[LinArg],
    dims: &GatherDims,
    mode: GatherMode,
) -> Result<crate::ops::transpose::Cts> {
    let LinArg::Primal(indices) = args[1] else {
        return Err(Error::internal("scatter indices cannot be linear"));
    };
    let operand_ct = matches!(args[0], LinArg::Tan(_)).then_some(ct);
    let updates_ct = if matches!(args[2], LinArg::Tan(_)) {
        // `_scatter_add_transpose_rule`: gather windows the size of the updates' windows.
        let rank = cx.value_spec(ct).rank();
        let updates = cx.spec(args[2]);
        let mut windows = dims.offset_dims.iter().map(|&d| updates.dims()[d]);
        let slice_sizes = (0..rank)
            .map(|d| {
                if dims.collapsed_slice_dims.contains(&d) {
                    1
                } else {
                    windows.next().unwrap_or(1)
                }
            })
            .collect();
        Some(cx.emit(
            Prim::Gather {
                dims: dims.clone(),
                slice_sizes,
                mode,
            },
            &[ct, indices],
        )?)
    } else {
        None
    };
    Ok(smallvec::smallvec![operand_ct, None, updates_ct])
}
