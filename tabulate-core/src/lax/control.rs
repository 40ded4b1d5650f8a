//! `control` primitives applied to tensors (the rules are in `ops/control.rs`).

use super::bind;
use crate::error::Result;
use crate::ops::Prim;
use crate::tensor::Tensor;

/// A loop-carried value inside the body (the carry, or an accumulator of the transposed
/// loop), starting from `init`.
pub(crate) fn loop_var(init: &Tensor) -> Result<Tensor> {
    Ok(bind(Prim::LoopVar, &[init])?.swap_remove(0))
}

/// One step's slice of `xs` along `axis` (free: the loop's own dynamic slice).
pub(crate) fn loop_slice(xs: &Tensor, axis: usize) -> Result<Tensor> {
    Ok(bind(Prim::LoopSlice { axis }, &[xs])?.swap_remove(0))
}

/// Leaves the loop: the final carries, and each step's outputs stacked along `axis`;
/// `reverse` if the steps ran from the last; `sliced` if the body read per-step slices.
pub(crate) fn loop_exit(
    carries: &[Tensor],
    ys: &[Tensor],
    length: usize,
    axis: usize,
    reverse: bool,
    sliced: bool,
) -> Result<Vec<Tensor>> {
    let inputs: Vec<&Tensor> = carries.iter().chain(ys).collect();
    bind(
        Prim::LoopExit {
            carries: carries.len(),
            length,
            axis,
            reverse,
            sliced,
        },
        &inputs,
    )
}
