//! Pooling (`flax.linen.pooling`): `avg_pool`, `max_pool`, `min_pool` over the spatial
//! dimensions of channels-last input, as `lax.reduce_window`.

use crate::error::{Error, Result};
use crate::lax::{self, Window, WindowOp};
use crate::shape::Shape;
use crate::tensor::Tensor;

/// How a pool pads its input.
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::nn::{PoolPadding, max_pool};
///
/// let x = Tensor::new(DType::F32, [1, 7, 7, 8]);
/// let valid = max_pool(&x, &[2, 2], Some(&[2, 2]), &PoolPadding::Valid)?;
/// let same = max_pool(&x, &[2, 2], Some(&[2, 2]), &PoolPadding::Same)?;
/// assert_eq!((valid.shape().dims(), same.shape().dims()), (&[1, 3, 3, 8][..], &[1, 4, 4, 8][..]));
/// # Ok::<(), tabulate::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum PoolPadding {
    /// No padding (the default).
    #[default]
    Valid,
    /// Output size `ceil(input / stride)`.
    Same,
    /// Explicit `(low, high)` padding per window dimension.
    Explicit(Vec<(i64, i64)>),
}

/// Flax's `pool`: a window over the spatial dimensions (none over batch and features).
fn pool(
    x: &Tensor,
    op: WindowOp,
    window: &[usize],
    strides: Option<&[usize]>,
    padding: &PoolPadding,
) -> Result<Tensor> {
    let spatial = window.len();
    if x.rank() < spatial + 1 {
        return Err(Error::invalid(format!(
            "a {spatial}-D pool needs an input of rank {} or more (batch…, spatial…, features), got {x}",
            spatial + 1
        )));
    }
    let strides = strides.map_or_else(|| vec![1; spatial], <[usize]>::to_vec);
    if strides.len() != spatial {
        return Err(Error::invalid(format!(
            "strides {strides:?} need one entry per window dimension ({spatial})"
        )));
    }
    for (what, values) in [("window", window), ("strides", strides.as_slice())] {
        if values.contains(&0) {
            return Err(Error::invalid(format!(
                "a pool's {what} must be at least 1 in every dimension, got {values:?}"
            )));
        }
    }
    let batch = x.rank() - (spatial + 1);
    let single = batch == 0;
    let x = if single { x.expand_dims(0)? } else { x.clone() };
    let lead = batch.max(1);
    let mut dims = vec![1; lead];
    dims.extend(window);
    dims.push(1);
    let mut all_strides = vec![1; lead];
    all_strides.extend(&strides);
    all_strides.push(1);
    let pads = match padding {
        PoolPadding::Valid => vec![(0, 0); x.rank()],
        PoolPadding::Same => lax::same_padding(x.shape().dims(), &dims, &all_strides),
        PoolPadding::Explicit(pairs) => {
            if pairs.len() != spatial {
                return Err(Error::invalid(format!(
                    "padding {pairs:?} needs one pair per window dimension ({spatial})"
                )));
            }
            let mut pads = vec![(0, 0); lead];
            pads.extend(pairs);
            pads.push((0, 0));
            pads
        }
    };
    let y = lax::reduce_window(op, &x, Window::new(dims, all_strides, pads))?;
    if single { y.squeeze(0) } else { Ok(y) }
}

/// `flax.linen.avg_pool`: the window mean. With `count_include_pad` (Flax's default)
/// padding counts towards the divisor; without, each window is divided by its real size.
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::nn::{PoolPadding, avg_pool};
///
/// let x = Tensor::new(DType::F32, [1, 8, 8, 3]);
/// let y = avg_pool(&x, &[2, 2], Some(&[2, 2]), &PoolPadding::Valid, true)?;
/// assert_eq!(y.shape().dims(), [1, 4, 4, 3]);
/// # Ok::<(), tabulate::Error>(())
/// ```
pub fn avg_pool(
    x: &Tensor,
    window: &[usize],
    strides: Option<&[usize]>,
    padding: &PoolPadding,
    count_include_pad: bool,
) -> Result<Tensor> {
    let _operation = crate::scope::operation("nn::avg_pool");
    let y = pool(x, WindowOp::Sum, window, strides, padding)?;
    if count_include_pad {
        // The window's size as a float (f64 holds any product of 64-bit sizes in range).
        let size: f64 = window.iter().map(|&w| w as f64).product();
        return y.div(size);
    }
    let mut div_shape = x.shape().dims().to_vec();
    if let Some(last) = div_shape.last_mut() {
        *last = 1;
    }
    if div_shape.len() == window.len() + 2 {
        div_shape[0] = 1;
    }
    let ones = Tensor::ones(x.dtype(), Shape::new(div_shape))?;
    y.div(&pool(&ones, WindowOp::Sum, window, strides, padding)?)
}

/// `flax.linen.max_pool`: the window maximum.
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::nn::{PoolPadding, max_pool};
///
/// let x = Tensor::new(DType::F32, [1, 112, 112, 64]);
/// let y = max_pool(&x, &[3, 3], Some(&[2, 2]), &PoolPadding::Explicit(vec![(1, 1), (1, 1)]))?;
/// assert_eq!(y.shape().dims(), [1, 56, 56, 64]); // ResNet's stem pool
/// # Ok::<(), tabulate::Error>(())
/// ```
pub fn max_pool(
    x: &Tensor,
    window: &[usize],
    strides: Option<&[usize]>,
    padding: &PoolPadding,
) -> Result<Tensor> {
    let _operation = crate::scope::operation("nn::max_pool");
    pool(x, WindowOp::Max, window, strides, padding)
}

/// `flax.linen.pooling.min_pool`: the window minimum.
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::nn::{PoolPadding, min_pool};
///
/// let x = Tensor::new(DType::F32, [4, 10, 2]); // one spatial dimension
/// let y = min_pool(&x, &[3], None, &PoolPadding::Valid)?; // strides default to 1
/// assert_eq!(y.shape().dims(), [4, 8, 2]);
/// # Ok::<(), tabulate::Error>(())
/// ```
pub fn min_pool(
    x: &Tensor,
    window: &[usize],
    strides: Option<&[usize]>,
    padding: &PoolPadding,
) -> Result<Tensor> {
    let _operation = crate::scope::operation("nn::min_pool");
    pool(x, WindowOp::Min, window, strides, padding)
}
