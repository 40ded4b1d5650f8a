//! Built-in layers and functions mirroring `flax.linen`: the same names, defaults,
//! parameter names and shapes, written only in terms of primitives, in the order Flax
//! applies them, so that their FLOPs come out of the primitives' rules.
//!
//! Layers are builders (`Conv::new(64, [3, 3]).strides([2, 2])`) and modules: called
//! inside a `#[forward]` method or held in a field, each call is a row. Functions
//! (`relu`, `softmax`, `max_pool`, …) are not modules; their cost goes to the caller.
//!
//! ```
//! use tabulate::prelude::*;
//! use tabulate::nn::{BatchNorm, Conv, Dense, PoolPadding, avg_pool, relu};
//!
//! #[derive(Tabulate)]
//! struct SmallCnn;
//!
//! impl SmallCnn {
//!     #[forward]
//!     fn forward(&self, x: &Tensor, #[kwarg] train: bool) -> Result<Tensor> {
//!         let h = Conv::new(8, [3, 3]).forward(x)?;
//!         let h = relu(&BatchNorm::new(!train).forward(&h)?)?;
//!         let h = avg_pool(&h, &[2, 2], Some(&[2, 2]), &PoolPadding::Valid, true)?;
//!         Dense::new(10).forward(&h.reshape(vec![h.dim(0)?.cast_signed(), -1])?)
//!     }
//! }
//!
//! let x = Tensor::new(DType::F32, [4, 28, 28, 1]);
//! let summary = SmallCnn.summary(&x, false)?;
//! let paths: Vec<String> = summary.rows.iter().map(|r| r.path.join("/")).collect();
//! assert_eq!(paths, ["", "Conv_0", "BatchNorm_0", "Dense_0"]);
//! assert_eq!(summary.totals[0].count, (9 * 8 + 8) + 2 * 8 + (14 * 14 * 8 * 10 + 10));
//! # Ok::<(), tabulate::Error>(())
//! ```

mod activation;
mod activation_ext;
mod attention;
mod combinators;
mod conv;
mod grouped_attention;
pub mod initializers;
mod linear;
mod normalization;
mod pooling;
mod recurrent;
mod scan;
mod stochastic;
mod wrappers;

pub use activation::{
    elu, elu_with, gelu, gelu_with, leaky_relu, leaky_relu_with, log_softmax, log_softmax_with,
    relu, sigmoid, silu, softmax, softmax_with, softplus, swish, tanh,
};
pub use activation_ext::{
    PReLU, celu, celu_with, glu, glu_with, hard_sigmoid, hard_silu, hard_swish, hard_tanh,
    log_sigmoid, logsumexp, logsumexp_with, normalize, one_hot, one_hot_with, relu6, selu,
    soft_sign, standardize, standardize_with,
};
pub use attention::{
    AttentionCall, AttentionDropout, AttentionOptions, MultiHeadDotProductAttention, SelfAttention,
    dot_product_attention, dot_product_attention_weights, make_attention_mask,
    make_attention_mask_with, make_causal_mask,
};
pub use combinators::{Layer, Sequential};
pub use conv::{Conv, ConvTranspose, Padding};
pub use linear::{Dense, DenseGeneral, Einsum, Embed};
pub use normalization::{BatchNorm, GroupNorm, LayerNorm, RMSNorm};
pub use pooling::{PoolPadding, avg_pool, max_pool, min_pool};
pub use recurrent::{
    BiCarry, Bidirectional, GRUCell, LSTMCell, RNN, RNNCell, RnnArgs, RnnOutput, SimpleCell,
};
pub use scan::{Carry, Collections, Scan, ScanAxes, ScanAxis, scan};
pub use stochastic::Dropout;
pub use wrappers::{Remat, SpectralNorm, Vmap, WeightNorm, checkpoint, remat, vmap};

/// `flax.linen.with_partitioning(init, names)`: `init`, with its parameters given the
/// logical axis names `names` (one per dimension; `None` for an axis not partitioned).
/// The table shows them after the shape, as Flax does: `kernel: float32[784,1024]
/// P(None, data)`, `bias: float32[1024] P(None,)`.
///
/// ```
/// use tabulate::nn::{Dense, initializers, with_partitioning};
/// use tabulate::prelude::*;
///
/// #[derive(Tabulate)]
/// struct Mlp;
///
/// impl Mlp {
///     #[forward]
///     fn forward(&self, x: &Tensor) -> Result<Tensor> {
///         Dense::new(16)
///             .kernel_init(with_partitioning(initializers::lecun_normal(), ["embed", "mlp"]))
///             .bias_init(with_partitioning(initializers::zeros(), [None::<&str>]))
///             .forward(x)
///     }
/// }
///
/// # fn main() -> tabulate::Result<()> {
/// let table = Mlp.summary(&Tensor::new(DType::F32, [2, 5]))?.to_string();
/// assert!(table.contains("kernel: float32[5,16] P(embed, mlp)"));
/// assert!(table.contains("bias: float32[16] P(None,)"));
/// # Ok(())
/// # }
/// ```
pub fn with_partitioning<N: crate::variable::AxisName>(
    init: initializers::Initializer,
    names: impl IntoIterator<Item = N>,
) -> initializers::Initializer {
    init.partitioned(names)
}

/// `flax.linen.with_logical_partitioning(init, names)`: Flax's `LogicallyPartitioned`
/// box, shown in the table exactly as [`with_partitioning`]'s (`P(embed, mlp)`).
///
/// ```
/// use tabulate::nn::{initializers, with_logical_partitioning};
///
/// let init = with_logical_partitioning(initializers::zeros_init(), ["out"]);
/// assert_eq!(init.partition(), Some(&[Some("out".to_string())][..]));
/// ```
pub fn with_logical_partitioning<N: crate::variable::AxisName>(
    init: initializers::Initializer,
    names: impl IntoIterator<Item = N>,
) -> initializers::Initializer {
    init.partitioned(names)
}

use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// `flax.linen.merge_param`: a hyperparameter given at construction (`a`) or at the call
/// (`b`), exactly one of them; otherwise Flax's error.
pub(crate) fn merge_param<T>(name: &str, a: Option<T>, b: Option<T>) -> Result<T> {
    match (a, b) {
        (Some(value), None) | (None, Some(value)) => Ok(value),
        (None, None) => Err(Error::invalid(format!(
            "Parameter \"{name}\" must be passed to the constructor or at call time."
        ))),
        (Some(_), Some(_)) => Err(Error::invalid(format!(
            "Parameter \"{name}\" was passed to the constructor and at call time. Should be passed just once."
        ))),
    }
}

/// `flax.linen.dtypes.promote_dtype`: `dtype` if given, else the promotion of the arrays'
/// dtypes; made inexact (at least `float32`) when `inexact`.
pub(crate) fn promote_dtype(
    dtype: Option<DType>,
    arrays: &[Option<&Tensor>],
    inexact: bool,
) -> DType {
    let dtype = dtype.unwrap_or_else(|| {
        arrays
            .iter()
            .flatten()
            .map(|t| t.dtype())
            .reduce(DType::promote)
            .unwrap_or(DType::F32)
    });
    if inexact && !dtype.is_inexact() {
        DType::F32.promote(dtype)
    } else {
        dtype
    }
}
