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
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::lax::dot_general;
///
/// let a = Tensor::new(DType::F32, [2, 3, 4]);
/// let b = Tensor::new(DType::F32, [2, 4, 5]);
/// // Contract a's axis 2 with b's axis 1; batch over axis 0 of both.
/// let c = dot_general(&a, &b, (&[2], &[1]), (&[0], &[0]))?;
/// assert_eq!(c.shape().dims(), [2, 3, 5]);
/// # Ok::<(), tabulate::Error>(())
/// ```
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
            lhs_contracting: contracting.0.to_vec().into(),
            rhs_contracting: contracting.1.to_vec().into(),
            lhs_batch: batch.0.to_vec().into(),
            rhs_batch: batch.1.to_vec().into(),
        },
    )
}

/// How a convolution slides: `lax.conv_general_dilated`'s arguments other than the operands.
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::lax::{ConvOptions, conv_general_dilated};
///
/// let lhs = Tensor::new(DType::F32, [1, 3, 8, 8]); // N, C, H, W
/// let rhs = Tensor::new(DType::F32, [4, 3, 3, 3]); // O, I, H, W
/// let options = ConvOptions {
///     window_strides: vec![1, 1],
///     padding: vec![(1, 1), (1, 1)],
///     lhs_dilation: vec![1, 1],
///     rhs_dilation: vec![1, 1],
///     feature_group_count: 1,
/// };
/// assert_eq!(conv_general_dilated(&lhs, &rhs, options)?.shape().dims(), [1, 4, 8, 8]);
/// # Ok::<(), tabulate::Error>(())
/// ```
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
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::lax::{ConvOptions, conv_general_dilated};
///
/// // A depthwise convolution, stride 2, no padding: 8 groups of one channel.
/// let lhs = Tensor::new(DType::F32, [1, 8, 9, 9]);
/// let rhs = Tensor::new(DType::F32, [8, 1, 3, 3]);
/// let options = ConvOptions {
///     window_strides: vec![2, 2],
///     padding: vec![(0, 0), (0, 0)],
///     lhs_dilation: vec![1, 1],
///     rhs_dilation: vec![1, 1],
///     feature_group_count: 8,
/// };
/// assert_eq!(conv_general_dilated(&lhs, &rhs, options)?.shape().dims(), [1, 8, 4, 4]);
/// # Ok::<(), tabulate::Error>(())
/// ```
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
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::lax::{WindowReduction, reduce_window};
///
/// let x = Tensor::new(DType::F32, [1, 8, 8, 3]);
/// let pooled = reduce_window(WindowReduction::Max, &x, &[1, 2, 2, 1], &[1, 2, 2, 1], &[(0, 0); 4], &[1; 4])?;
/// assert_eq!(pooled.shape().dims(), [1, 4, 4, 3]);
/// # Ok::<(), tabulate::Error>(())
/// ```
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
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::lax::{WindowReduction, reduce_window};
///
/// // A sum over windows of 3 with padding 1: a box filter along the length axis.
/// let x = Tensor::new(DType::F32, [2, 10, 4]);
/// let y = reduce_window(WindowReduction::Sum, &x, &[1, 3, 1], &[1, 1, 1], &[(0, 0), (1, 1), (0, 0)], &[1, 1, 1])?;
/// assert_eq!(y.shape().dims(), [2, 10, 4]);
/// # Ok::<(), tabulate::Error>(())
/// ```
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
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::lax::take;
///
/// let table = Tensor::new(DType::F32, [1000, 64]);
/// let ids = Tensor::new(DType::I32, [2, 16]);
/// assert_eq!(take(&table, &ids)?.shape().dims(), [2, 16, 64]); // an embedding lookup
/// # Ok::<(), tabulate::Error>(())
/// ```
pub fn take(table: &Tensor, indices: &Tensor) -> Result<Tensor> {
    let _operation = crate::scope::operation("lax::take");
    super::take_rows(table, indices)
}

/// `lax.argmax(x, axis, index_dtype)`.
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::lax::argmax;
///
/// let logits = Tensor::new(DType::F32, [8, 10]);
/// assert_eq!(argmax(&logits, 1, DType::I64)?.to_string(), "int64[8]");
/// # Ok::<(), tabulate::Error>(())
/// ```
pub fn argmax(x: &Tensor, axis: usize, index_dtype: DType) -> Result<Tensor> {
    let _operation = crate::scope::operation("lax::argmax");
    super::argmax(x, axis, index_dtype)
}
