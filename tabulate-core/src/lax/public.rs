//! The primitives that have no [`Tensor`] method, for code that maps another framework's
//! operations onto `tabulate`'s (the `tabulate-burn` adapter): each call emits exactly the
//! one `jax.lax` primitive it is named after, so its cost is that primitive's rule.

use crate::dtype::DType;
use crate::error::Result;
use crate::ops::conv::ConvParams;
use crate::ops::dot::DotDims;
use crate::ops::window::{Window, WindowOp};
use crate::tensor::Tensor;

/// `lax.dot_general(lhs, rhs, ((lhs_contracting, rhs_contracting), (lhs_batch,
/// rhs_batch)))`.
pub fn dot_general(
    lhs: &Tensor,
    rhs: &Tensor,
    contracting: (&[usize], &[usize]),
    batch: (&[usize], &[usize]),
) -> Result<Tensor> {
    let _operation = crate::scope::operation("lax::dot_general");
    super::dot_general(
        lhs,
        rhs,
        DotDims {
            lhs_contracting: contracting.0.to_vec(),
            rhs_contracting: contracting.1.to_vec(),
            lhs_batch: batch.0.to_vec(),
            rhs_batch: batch.1.to_vec(),
        },
    )
}

/// How a convolution slides: `lax.conv_general_dilated`'s arguments other than the operands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConvOptions {
    /// Stride per spatial dimension.
    pub window_strides: Vec<usize>,
    /// Explicit `(low, high)` padding per spatial dimension.
    pub padding: Vec<(i64, i64)>,
    /// Input (transposed-convolution) dilation per spatial dimension.
    pub lhs_dilation: Vec<usize>,
    /// Kernel dilation per spatial dimension.
    pub rhs_dilation: Vec<usize>,
    /// Feature groups (1 for a dense convolution).
    pub feature_group_count: usize,
}

/// `lax.conv_general_dilated` with its default layouts: input and output `NC…` (batch,
/// feature, spatial), kernel `OI…` (output feature, input feature, spatial).
pub fn conv_general_dilated(lhs: &Tensor, rhs: &Tensor, options: ConvOptions) -> Result<Tensor> {
    let _operation = crate::scope::operation("lax::conv_general_dilated");
    let identity: Vec<usize> = (0..lhs.rank()).collect();
    let padding = options.padding.clone();
    super::conv_general_dilated(
        lhs,
        rhs,
        ConvParams {
            window_strides: options.window_strides,
            padding: options.padding,
            lhs_dilation: options.lhs_dilation,
            rhs_dilation: options.rhs_dilation,
            lhs_spec: identity.clone(),
            rhs_spec: identity.clone(),
            out_spec: identity,
            feature_group_count: options.feature_group_count,
            batch_group_count: 1,
        },
        super::Padding::Explicit(padding),
    )
}

/// The monoid of a [`reduce_window`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WindowReduction {
    /// `reduce_window_sum`.
    Sum,
    /// `reduce_window_max`.
    Max,
    /// `reduce_window_min`.
    Min,
}

/// `lax.reduce_window` over every dimension of `x` (window 1 and stride 1 where nothing
/// slides), with explicit `(low, high)` padding and window dilation.
pub fn reduce_window(
    reduction: WindowReduction,
    x: &Tensor,
    dims: &[usize],
    strides: &[usize],
    padding: &[(i64, i64)],
    window_dilation: &[usize],
) -> Result<Tensor> {
    let _operation = crate::scope::operation("lax::reduce_window");
    let op = match reduction {
        WindowReduction::Sum => WindowOp::Sum,
        WindowReduction::Max => WindowOp::Max,
        WindowReduction::Min => WindowOp::Min,
    };
    let mut window = Window::new(dims.to_vec(), strides.to_vec(), padding.to_vec());
    window.window_dilation = window_dilation.to_vec();
    super::reduce_window(op, x, window)
}

/// `jnp.take(table, indices, axis=0)` as JAX emits it (the `take` region: negative
/// indices wrapped, a gather filling out-of-bounds rows), as `flax.linen.Embed` uses it.
pub fn take(table: &Tensor, indices: &Tensor) -> Result<Tensor> {
    let _operation = crate::scope::operation("lax::take");
    super::take_rows(table, indices)
}

/// `lax.argmax(x, axis, index_dtype)`.
pub fn argmax(x: &Tensor, axis: usize, index_dtype: DType) -> Result<Tensor> {
    let _operation = crate::scope::operation("lax::argmax");
    super::argmax(x, axis, index_dtype)
}
