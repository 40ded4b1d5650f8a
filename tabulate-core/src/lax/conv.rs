//! `conv` primitives applied to tensors (the rules are in `ops/conv.rs`).

use super::bind_one;
use crate::error::Result;
use crate::ops::Prim;
use crate::ops::conv::{ConvParams, Padding, dilate, same_padding, take};
use crate::tensor::Tensor;

/// `lax.conv_general_dilated` with a string or explicit padding.
pub(crate) fn conv_general_dilated(
    lhs: &Tensor,
    rhs: &Tensor,
    mut params: ConvParams,
    padding: Padding,
) -> Result<Tensor> {
    let spatial = params.lhs_spec.len().saturating_sub(2);
    params.padding = match padding {
        Padding::Explicit(pads) => pads,
        Padding::Valid => vec![(0, 0); spatial],
        Padding::Same => {
            let lhs_dims = take(lhs.shape().dims(), &params.lhs_spec);
            let rhs_dims = take(rhs.shape().dims(), &params.rhs_spec);
            let window: Vec<usize> = rhs_dims[2..]
                .iter()
                .zip(&params.rhs_dilation)
                .map(|(&k, &d)| dilate(k, d))
                .collect();
            same_padding(&lhs_dims[2..], &window, &params.window_strides)
        }
    };
    bind_one(Prim::Conv(Box::new(params)), &[lhs, rhs])
}
