//! `scan` as XLA runs it: a `while` loop whose body is analysed once, whatever the trip
//! count (`reference/xla-cost-model.md` §3.8, §7.3). The body's own ops are ordinary
//! primitives inside a loop region; these primitives mark where values enter and leave
//! the loop. Inside the body, loop-carried values are opaque parameters: nothing about
//! them folds, and none of them is dead while the loop lives.

use super::{Binary, Cost, Literal, Prim};
use crate::error::{Error, Result};
use crate::ops::graph::{Spec, ValueId};
use crate::ops::transpose::{LinArg, TransposeCx};
use crate::shape::Shape;

/// A `while` running its steps forwards: the loop counter's `add` and the condition's
/// `compare`.
const FORWARD_LOOP_FLOPS: u64 = 2;

/// A `while` running its steps backwards (a `reverse` scan, or the transpose of a forward
/// one): a counter `add`, two `subtract`s for the reversed index (`length - i - 1`), and
/// the condition's `compare`.
const BACKWARD_LOOP_FLOPS: u64 = 4;

pub(super) fn loop_slice_spec(inputs: &[&Spec], axis: usize) -> Result<Spec> {
    let xs = inputs[0];
    if axis >= xs.rank() {
        return Err(Error::shape(
            "scan",
            format!("{xs} has no axis {axis} to scan over"),
        ));
    }
    let mut dims = xs.dims().to_vec();
    dims.remove(axis);
    Ok(xs.with_shape(dims))
}

pub(super) fn loop_exit_spec(
    inputs: &[&Spec],
    carries: usize,
    length: usize,
    axis: usize,
) -> Result<Vec<Spec>> {
    let (carry, ys) = inputs.split_at(carries.min(inputs.len()));
    let mut out: Vec<Spec> = carry.iter().map(|&s| s.clone()).collect();
    for y in ys {
        if axis > y.rank() {
            return Err(Error::shape(
                "scan",
                format!("cannot stack {y} along axis {axis}"),
            ));
        }
        let mut dims = y.dims().to_vec();
        dims.insert(axis, length);
        out.push(y.with_shape(Shape::new(dims)));
    }
    Ok(out)
}

/// The forward `while`'s own ops: the reversed index when the scan is `reverse` and the
/// index is used (JAX's loop body is dead-code eliminated: a loop that slices and stacks
/// nothing computes no index).
pub(super) fn loop_exit_cost(reverse: bool) -> Cost {
    Cost::flops(if reverse {
        BACKWARD_LOOP_FLOPS
    } else {
        FORWARD_LOOP_FLOPS
    })
}

/// The transposed `while`'s own ops: it runs against the forward loop's direction.
pub(super) fn loop_backward_exit_cost(reverse: bool) -> Cost {
    Cost::flops(if reverse {
        FORWARD_LOOP_FLOPS
    } else {
        BACKWARD_LOOP_FLOPS
    })
}

/// The transpose of the `while`: the backward loop starts from the cotangents of the
/// final carries (its loop variables) and of the stacked outputs (sliced per step), with
/// zeros for those that have none, as JAX instantiates them: inside the loop they are
/// loop values like any other.
pub(super) fn loop_exit_transpose(
    cx: &mut TransposeCx<'_>,
    cts: &[Option<ValueId>],
    args: &[LinArg],
    out_specs: &[Spec],
) -> Result<crate::ops::transpose::Cts> {
    let mut inputs = Vec::new();
    let mut specs = Vec::new();
    let mut which = Vec::new();
    for (k, (ct, arg)) in cts.iter().zip(args).enumerate() {
        if !matches!(arg, LinArg::Tan(_)) {
            continue;
        }
        let ct = match ct {
            Some(ct) => *ct,
            None => cx.emit(
                Prim::Constant {
                    literal: Literal::Splat(0.0),
                    spec: out_specs[k].clone(),
                },
                &[],
            )?,
        };
        inputs.push(ct);
        specs.push(cx.spec(*arg));
        which.push(k);
    }
    let mut out = vec![None; args.len()];
    if inputs.is_empty() {
        return Ok(out.into());
    }
    let values = cx.emit_multi(Prim::LoopBackwardEnter { specs }, &inputs)?;
    for (k, v) in which.into_iter().zip(values) {
        out[k] = Some(v);
    }
    Ok(out.into())
}

/// The transpose of the loop's entry: the backward loop ends, handing out the cotangents
/// of the initial carries and scanned inputs, and of each loop invariant, which it
/// accumulated over the steps (one `add` per element, counted once).
pub(super) fn loop_entry_transpose(
    cx: &mut TransposeCx<'_>,
    cts: &[Option<ValueId>],
    args: &[LinArg],
    scanned: usize,
    reverse: bool,
) -> Result<crate::ops::transpose::Cts> {
    let mut inputs = Vec::new();
    let mut specs = Vec::new();
    let mut which = Vec::new();
    // The transposed body returns the invariants' cotangents first, then the carries'
    // and scanned inputs' (JAX's `c_bar + a_bar`): XLA's DFS of the body follows that.
    let order = (scanned..cts.len().min(args.len())).chain(0..scanned.min(cts.len()));
    for k in order {
        let (ct, arg) = (&cts[k], &args[k]);
        let Some(ct) = *ct else { continue };
        let ct = if k < scanned {
            ct
        } else {
            let spec = cx.value_spec(ct);
            let zeros = cx.emit(
                Prim::Constant {
                    literal: Literal::Splat(0.0),
                    spec,
                },
                &[],
            )?;
            let accumulator = cx.emit(Prim::LoopVar, &[zeros])?;
            cx.emit(Prim::Binary(Binary::Add), &[accumulator, ct])?
        };
        inputs.push(ct);
        if matches!(arg, LinArg::Tan(_)) {
            specs.push(cx.spec(*arg));
            which.push(k);
        }
    }
    let mut out = vec![None; args.len()];
    if inputs.is_empty() {
        return Ok(out.into());
    }
    let values = cx.emit_multi(Prim::LoopBackwardExit { specs, reverse }, &inputs)?;
    for (k, v) in which.into_iter().zip(values) {
        out[k] = Some(v);
    }
    Ok(out.into())
}
