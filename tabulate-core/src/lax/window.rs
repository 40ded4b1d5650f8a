//! `window` primitives applied to tensors (the rules are in `ops/window.rs`).

use super::bind_one;
use crate::error::Result;
use crate::ops::Prim;
use crate::ops::window::{Window, WindowOp};
use crate::tensor::Tensor;

/// `lax.reduce_window` with a sum, max or min monoid.
pub(crate) fn reduce_window(op: WindowOp, x: &Tensor, window: Window) -> Result<Tensor> {
    bind_one(
        Prim::ReduceWindow {
            op,
            window: Box::new(window),
        },
        &[x],
    )
}
