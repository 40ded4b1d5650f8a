//! The primitives applied to [`Tensor`]s, as `jax.lax` applies them: check shapes with the
//! primitive's rule, record the application when a summary runs, return the results.
//! Layers and [`Tensor`] methods are written only in terms of these, in the order Flax
//! and `jax.numpy` apply them, so their costs come out of the rules in `ops`.

mod control;
mod conv;
mod custom;
mod dot;
mod elementwise;
mod gather;
pub(crate) mod public;
mod random;
mod reduce;
mod structural;
pub(crate) mod tensor;
mod window;

use crate::error::{Result, Stage};
use crate::ops::{Prim, Specs};
use crate::spec::Spec;
use crate::tensor::Tensor;
use crate::trace;

pub(crate) use control::{loop_exit, loop_slice, loop_var};
pub(crate) use conv::conv_general_dilated;
pub(crate) use custom::{logaddexp, relu, relu6};
pub(crate) use dot::dot_general;
pub(crate) use elementwise::{
    binary, bitcast_convert, compare, convert, integer_pow, select_n, stop_gradient, unary,
};
pub(crate) use gather::take_rows;
pub(crate) use random::{fold_in, iota_2x32_shape, threefry2x32};
pub(crate) use reduce::{argmax, reduce};
pub(crate) use structural::{
    broadcast_in_dim, concatenate, constant, iota, pad, reshape, rev, slice, split, transpose,
};
pub(crate) use window::reduce_window;

pub(crate) use crate::ops::{
    Binary, Cmp, ConvParams, DotDims, Padding, ReduceOp, Unary, Window, WindowOp, same_padding,
};

/// Applies `prim` to tensors: checks shapes, records the application when a summary is
/// running, and returns the results.
/// A rule's error names the user-level operation that applied the primitive
/// (`Tensor::matmul`, `nn::Conv`), not only the primitive.
pub(crate) fn bind(prim: Prim, inputs: &[&Tensor]) -> Result<Vec<Tensor>> {
    let out = checked_specs(&prim, inputs)?;
    Ok(trace::record(prim, inputs, out))
}

/// The specs of `prim`'s results on `inputs`, every size checked.
fn checked_specs(prim: &Prim, inputs: &[&Tensor]) -> Result<Specs> {
    let name = prim.name();
    let checked = || -> Result<Specs> {
        with_specs(inputs, |specs| {
            for spec in specs {
                check_size(name, spec)?;
            }
            let out = prim.infer_specs(specs)?;
            for spec in &out {
                check_size(name, spec)?;
            }
            Ok(out)
        })
    };
    checked().map_err(|e| e.in_operation(crate::scope::current_operation(), name, Stage::Apply))
}

/// Calls `f` with the specs of `inputs`, gathered on the stack when there are few (every
/// op asks for them).
fn with_specs<R>(inputs: &[&Tensor], f: impl FnOnce(&[&Spec]) -> R) -> R {
    const FEW: usize = 8;
    match inputs.first() {
        None => f(&[]),
        Some(first) if inputs.len() <= FEW => {
            let mut specs = [first.spec(); FEW];
            for (slot, t) in specs.iter_mut().zip(inputs) {
                *slot = t.spec();
            }
            f(&specs[..inputs.len()])
        }
        Some(_) => f(&inputs.iter().map(|t| t.spec()).collect::<Vec<_>>()),
    }
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
pub(crate) fn bind_one(prim: Prim, inputs: &[&Tensor]) -> Result<Tensor> {
    let name = prim.name();
    let out = checked_specs(&prim, inputs)?;
    trace::record_one(prim, inputs, out).ok_or_else(|| {
        crate::error::Error::internal(format!("`{name}` was applied for one result and has none"))
    })
}
