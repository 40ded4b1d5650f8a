//! Convolutions: `Conv` and `ConvTranspose` (`flax.linen.linear`), channels last, any
//! number of spatial dimensions.

use super::initializers;
use super::linear::layer_common;
use super::promote_dtype;
use crate::call::module_call;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::lax::{self, ConvParams, Padding as LaxPadding};
use crate::module::{ModuleIdentity, Tabulate};
use crate::shape::Shape;
use crate::tensor::Tensor;
use crate::variable::{Initializer, param_with};

/// How a convolution pads its input.
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::nn::{Conv, Padding};
///
/// let x = Tensor::new(DType::F32, [1, 32, 32, 3]);
/// let same = Conv::new(8, [3, 3]).strides([2, 2]).forward(&x)?;
/// let valid = Conv::new(8, [3, 3]).padding(Padding::Valid).forward(&x)?;
/// let explicit = Conv::new(8, [3, 3]).padding(Padding::Explicit(vec![(2, 2), (2, 2)])).forward(&x)?;
/// assert_eq!(same.shape().dims(), [1, 16, 16, 8]);
/// assert_eq!(valid.shape().dims(), [1, 30, 30, 8]);
/// assert_eq!(explicit.shape().dims(), [1, 34, 34, 8]);
/// # Ok::<(), tabulate::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum Padding {
    /// Output size `ceil(input / stride)` (the default).
    #[default]
    Same,
    /// No padding.
    Valid,
    /// Wrap around (periodic boundary).
    Circular,
    /// Explicit `(low, high)` padding per spatial dimension.
    Explicit(Vec<(i64, i64)>),
}

/// Kernel size, strides and dilations broadcast to every spatial dimension.
fn per_dim(values: &[usize], rank: usize, what: &str) -> Result<Vec<usize>> {
    match values.len() {
        0 => Ok(vec![1; rank]),
        1 => Ok(vec![values[0]; rank]),
        n if n == rank => Ok(values.to_vec()),
        n => Err(Error::invalid(format!(
            "{what} has {n} entries for {rank} spatial dimensions"
        ))),
    }
}

/// The extent of a kernel of `k` taps dilated by `d`, or an error when it does not fit.
fn dilate_kernel(layer: &str, k: usize, d: usize) -> Result<usize> {
    (k - 1)
        .checked_mul(d)
        .and_then(|n| n.checked_add(1))
        .ok_or_else(|| {
            Error::invalid(format!(
                "{layer}: kernel size {k} dilated by {d} does not fit in 64 bits"
            ))
        })
}

/// Rejects a kernel size, stride or dilation of 0, in the layer's terms.
fn check_positive(layer: &str, what: &str, values: &[usize]) -> Result<()> {
    if values.contains(&0) {
        return Err(Error::invalid(format!(
            "{layer}: {what} must be at least 1, got {values:?}"
        )));
    }
    Ok(())
}

/// Folds leading batch dimensions into one (or adds one), as Flax does, and returns the
/// batch shape to restore afterwards.
fn flatten_batch(x: &Tensor, spatial: usize, layer: &str) -> Result<(Tensor, Option<Vec<usize>>)> {
    if x.rank() < spatial + 1 {
        return Err(Error::invalid(format!(
            "{layer} with a {spatial}-D kernel needs an input of rank {} or more (batch…, spatial…, features), got {x}",
            spatial + 1
        )));
    }
    let batch_dims = x.rank() - (spatial + 1);
    if batch_dims == 1 {
        return Ok((x.clone(), None));
    }
    let batch = x.shape().dims()[..batch_dims].to_vec();
    // Flax reshapes to `(prod(batch),) + rest`: an explicit size, so empty batches work.
    let total = crate::shape::checked_product(batch.iter().map(|&d| d as u64))
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| Error::invalid(format!("{layer}: the batch of {x} is too large")))?;
    let mut flat = vec![total];
    flat.extend_from_slice(&x.shape().dims()[batch_dims..]);
    let flat = Shape::new(flat);
    Ok((x.reshape(flat)?, Some(batch)))
}

fn restore_batch(y: Tensor, batch: Option<Vec<usize>>) -> Result<Tensor> {
    match batch {
        None => Ok(y),
        Some(mut shape) => {
            shape.extend_from_slice(&y.shape().dims()[1..]);
            y.reshape(Shape::new(shape))
        }
    }
}

/// `NHWC` / `HWIO` / `NHWC` dimension numbers for `rank` dims (`_conv_dimension_numbers`).
fn channels_last(rank: usize) -> (Vec<usize>, Vec<usize>) {
    let mut lhs = vec![0, rank - 1];
    lhs.extend(1..rank - 1);
    let mut rhs = vec![rank - 1, rank - 2];
    rhs.extend(0..rank - 2);
    (lhs, rhs)
}

/// A convolution over the spatial dimensions of channels-last input
/// (`flax.linen.Conv`): `kernel: [*kernel_size, in / groups, features]`, `bias: [features]`.
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::nn::Conv;
///
/// let conv = Conv::new(64, [7, 7]).strides([2, 2]).use_bias(false); // ResNet's stem
/// let image = Tensor::new(DType::F32, [1, 224, 224, 3]);
/// let summary = tabulate(&conv).compute_macs(true).run(|c| c.forward(&image))?;
/// assert_eq!(summary.total().count, 7 * 7 * 3 * 64); // kernel [7,7,3,64]
/// assert_eq!(summary.rows[0].macs(), Some(118_013_952)); // torchvision's figure
/// # Ok::<(), tabulate::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Conv {
    /// Output features.
    pub features: usize,
    /// Kernel size per spatial dimension.
    pub kernel_size: Vec<usize>,
    /// Strides (default 1).
    pub strides: Vec<usize>,
    /// Padding (default `Same`).
    pub padding: Padding,
    /// Input (base) dilation (default 1).
    pub input_dilation: Vec<usize>,
    /// Kernel (window) dilation (default 1).
    pub kernel_dilation: Vec<usize>,
    /// Groups of input features convolved separately (default 1).
    pub feature_group_count: usize,
    /// Whether to add a bias (default `true`).
    pub use_bias: bool,
    /// The dtype of the computation.
    pub dtype: Option<DType>,
    /// The dtype of the parameters (default `float32`).
    pub param_dtype: DType,
    /// The initialiser of `kernel` (default `lecun_normal()`); a partitioned one
    /// ([`with_partitioning`](super::with_partitioning)) names its axes.
    pub kernel_init: Initializer,
    /// The initialiser of `bias` (default `zeros`); a partitioned one
    /// ([`with_partitioning`](super::with_partitioning)) names its axes.
    pub bias_init: Initializer,
    identity: ModuleIdentity,
}

impl Conv {
    /// A convolution with `features` outputs and a kernel of `kernel_size`.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::Conv;
    ///
    /// let x = Tensor::new(DType::F32, [1, 28, 28, 3]);
    /// let layer = Conv::new(16, [3, 3]);
    /// assert_eq!(layer.forward(&x)?.to_string(), "float32[1,28,28,16]");
    /// let total = tabulate(&layer).run(|l| l.forward(&x))?.total();
    /// assert_eq!((total.count, total.bytes), (448, 1792)); // as Flax 0.12.8 counts them
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn new(features: usize, kernel_size: impl Into<Vec<usize>>) -> Conv {
        Conv {
            features,
            kernel_size: kernel_size.into(),
            strides: Vec::new(),
            padding: Padding::Same,
            input_dilation: Vec::new(),
            kernel_dilation: Vec::new(),
            feature_group_count: 1,
            use_bias: true,
            dtype: None,
            param_dtype: DType::F32,
            kernel_init: initializers::lecun_normal(),
            bias_init: initializers::zeros(),
            identity: ModuleIdentity::new(),
        }
    }

    /// Sets the strides (one value for all dimensions, or one per dimension).
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::Conv;
    ///
    /// let x = Tensor::new(DType::F32, [1, 28, 28, 3]);
    /// let layer = Conv::new(16, [3, 3]).strides([2, 2]);
    /// assert_eq!(layer.forward(&x)?.to_string(), "float32[1,14,14,16]");
    /// let total = tabulate(&layer).run(|l| l.forward(&x))?.total();
    /// assert_eq!((total.count, total.bytes), (448, 1792)); // as Flax 0.12.8 counts them
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    #[must_use]
    pub fn strides(mut self, strides: impl Into<Vec<usize>>) -> Conv {
        self.strides = strides.into();
        self
    }

    /// Sets the padding.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::{Conv, Padding};
    ///
    /// let x = Tensor::new(DType::F32, [1, 28, 28, 3]);
    /// let layer = Conv::new(16, [3, 3]).padding(Padding::Valid);
    /// assert_eq!(layer.forward(&x)?.to_string(), "float32[1,26,26,16]");
    /// let total = tabulate(&layer).run(|l| l.forward(&x))?.total();
    /// assert_eq!((total.count, total.bytes), (448, 1792)); // as Flax 0.12.8 counts them
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    #[must_use]
    pub fn padding(mut self, padding: Padding) -> Conv {
        self.padding = padding;
        self
    }

    /// Sets the input dilation.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::{Conv, Padding};
    ///
    /// let x = Tensor::new(DType::F32, [1, 28, 28, 3]);
    /// let layer = Conv::new(16, [3, 3]).input_dilation([2, 2]).padding(Padding::Explicit(vec![(1, 1), (1, 1)]));
    /// assert_eq!(layer.forward(&x)?.to_string(), "float32[1,55,55,16]");
    /// let total = tabulate(&layer).run(|l| l.forward(&x))?.total();
    /// assert_eq!((total.count, total.bytes), (448, 1792)); // as Flax 0.12.8 counts them
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    #[must_use]
    pub fn input_dilation(mut self, dilation: impl Into<Vec<usize>>) -> Conv {
        self.input_dilation = dilation.into();
        self
    }

    /// Sets the kernel dilation.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::{Conv, Padding};
    ///
    /// let x = Tensor::new(DType::F32, [1, 28, 28, 3]);
    /// let layer = Conv::new(16, [3, 3]).kernel_dilation([2, 2]).padding(Padding::Valid);
    /// assert_eq!(layer.forward(&x)?.to_string(), "float32[1,24,24,16]");
    /// let total = tabulate(&layer).run(|l| l.forward(&x))?.total();
    /// assert_eq!((total.count, total.bytes), (448, 1792)); // as Flax 0.12.8 counts them
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    #[must_use]
    pub fn kernel_dilation(mut self, dilation: impl Into<Vec<usize>>) -> Conv {
        self.kernel_dilation = dilation.into();
        self
    }

    /// Sets the feature group count (`in` features for a depthwise convolution).
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::Conv;
    ///
    /// let x = Tensor::new(DType::F32, [1, 28, 28, 6]);
    /// let layer = Conv::new(12, [3, 3]).feature_group_count(3);
    /// assert_eq!(layer.forward(&x)?.to_string(), "float32[1,28,28,12]");
    /// let total = tabulate(&layer).run(|l| l.forward(&x))?.total();
    /// assert_eq!((total.count, total.bytes), (228, 912)); // as Flax 0.12.8 counts them
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    #[must_use]
    pub fn feature_group_count(mut self, groups: usize) -> Conv {
        self.feature_group_count = groups;
        self
    }

    /// Sets whether to add a bias.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::Conv;
    ///
    /// let x = Tensor::new(DType::F32, [1, 28, 28, 3]);
    /// let layer = Conv::new(16, [3, 3]).use_bias(false);
    /// assert_eq!(layer.forward(&x)?.to_string(), "float32[1,28,28,16]");
    /// let total = tabulate(&layer).run(|l| l.forward(&x))?.total();
    /// assert_eq!((total.count, total.bytes), (432, 1728)); // as Flax 0.12.8 counts them
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    #[must_use]
    pub fn use_bias(mut self, use_bias: bool) -> Conv {
        self.use_bias = use_bias;
        self
    }

    /// Sets the dtype of the computation.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::Conv;
    ///
    /// let x = Tensor::new(DType::F32, [1, 28, 28, 3]);
    /// let layer = Conv::new(16, [3, 3]).dtype(DType::BF16);
    /// assert_eq!(layer.forward(&x)?.to_string(), "bfloat16[1,28,28,16]");
    /// let total = tabulate(&layer).run(|l| l.forward(&x))?.total();
    /// assert_eq!((total.count, total.bytes), (448, 1792)); // as Flax 0.12.8 counts them
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    #[must_use]
    pub fn dtype(mut self, dtype: DType) -> Conv {
        self.dtype = Some(dtype);
        self
    }

    /// Sets the dtype of the parameters.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::Conv;
    ///
    /// let x = Tensor::new(DType::F32, [1, 28, 28, 3]);
    /// let layer = Conv::new(16, [3, 3]).param_dtype(DType::BF16);
    /// assert_eq!(layer.forward(&x)?.to_string(), "float32[1,28,28,16]");
    /// let total = tabulate(&layer).run(|l| l.forward(&x))?.total();
    /// assert_eq!((total.count, total.bytes), (448, 896)); // as Flax 0.12.8 counts them
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    #[must_use]
    pub fn param_dtype(mut self, dtype: DType) -> Conv {
        self.param_dtype = dtype;
        self
    }

    /// Applies the convolution to `x`: `[batch…, spatial…, in]` → `[batch…, spatial…, features]`.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::Conv;
    ///
    /// let x = Tensor::new(DType::F32, [4, 100, 2]);
    /// let layer = Conv::new(8, [5]);
    /// assert_eq!(layer.forward(&x)?.to_string(), "float32[4,100,8]");
    /// let total = tabulate(&layer).run(|l| l.forward(&x))?.total();
    /// assert_eq!((total.count, total.bytes), (88, 352)); // as Flax 0.12.8 counts them
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        module_call(self, "forward", |args| args.positional(x), || self.apply(x))
    }

    fn apply(&self, x: &Tensor) -> Result<Tensor> {
        let spatial = self.kernel_size.len();
        if spatial == 0 {
            return Err(Error::invalid("Conv needs a kernel size"));
        }
        check_positive("Conv", "kernel_size", &self.kernel_size)?;
        check_positive("Conv", "strides", &self.strides)?;
        check_positive("Conv", "input_dilation", &self.input_dilation)?;
        check_positive("Conv", "kernel_dilation", &self.kernel_dilation)?;
        let (mut x, batch) = flatten_batch(x, spatial, "Conv")?;
        let strides = per_dim(&self.strides, spatial, "strides")?;
        let input_dilation = per_dim(&self.input_dilation, spatial, "input_dilation")?;
        let kernel_dilation = per_dim(&self.kernel_dilation, spatial, "kernel_dilation")?;
        let lax_padding = match &self.padding {
            Padding::Circular => {
                let mut pads = vec![(0, 0)];
                for (&k, &d) in self.kernel_size.iter().zip(&kernel_dilation) {
                    let dilated = dilate_kernel("Conv", k, d)?;
                    pads.push(((dilated - 1) / 2, dilated / 2));
                }
                pads.push((0, 0));
                x = x.pad_wrap(&pads)?;
                LaxPadding::Valid
            }
            Padding::Same => LaxPadding::Same,
            Padding::Valid => LaxPadding::Valid,
            Padding::Explicit(pads) if pads.len() == spatial => LaxPadding::Explicit(pads.clone()),
            Padding::Explicit(pads) => {
                return Err(Error::invalid(format!(
                    "padding {pads:?} needs one pair per spatial dimension ({spatial})"
                )));
            }
        };
        if input_dilation.iter().any(|&d| d != 1) && lax_padding == LaxPadding::Same {
            return Err(Error::invalid(
                "string padding is not implemented with input dilation (as in JAX): give explicit padding",
            ));
        }
        let in_features = x.dim(-1)?;
        let groups = self.feature_group_count;
        if groups == 0 || in_features % groups != 0 || !self.features.is_multiple_of(groups) {
            return Err(Error::invalid(format!(
                "feature_group_count {groups} must divide the input features ({in_features}) and the output features ({})",
                self.features
            )));
        }
        let mut kernel_shape = self.kernel_size.clone();
        kernel_shape.extend([in_features / groups, self.features]);
        let kernel = param_with("kernel", &self.kernel_init, self.param_dtype, kernel_shape)?;
        let bias = if self.use_bias {
            Some(param_with(
                "bias",
                &self.bias_init,
                self.param_dtype,
                [self.features],
            )?)
        } else {
            None
        };
        let dtype = promote_dtype(self.dtype, &[Some(&x), Some(&kernel), bias.as_ref()], true);
        let x = x.astype(dtype)?;
        let kernel = kernel.astype(dtype)?;
        let bias = bias.map(|b| b.astype(dtype)).transpose()?;
        let (lhs_spec, rhs_spec) = channels_last(x.rank());
        let params = ConvParams {
            window_strides: strides,
            padding: Vec::new(),
            lhs_dilation: input_dilation,
            rhs_dilation: kernel_dilation,
            out_spec: lhs_spec.clone(),
            lhs_spec,
            rhs_spec,
            feature_group_count: groups,
            batch_group_count: 1,
        };
        let mut y = lax::conv_general_dilated(&x, &kernel, params, lax_padding)?;
        if let Some(bias) = bias {
            let mut shape = vec![1; y.rank() - 1];
            shape.push(self.features);
            y = y.add(&bias.reshape(Shape::new(shape))?)?;
        }
        restore_batch(y, batch)
    }
}

layer_common!(Conv, "Conv", "Conv::new(16, [3, 3])");

impl Conv {
    /// Sets the initialiser of `kernel` (Flax's `kernel_init=`).
    ///
    /// ```
    /// use tabulate::nn::{initializers, with_partitioning, Conv};
    ///
    /// let init = with_partitioning(initializers::lecun_normal(), ["a", "b"]);
    /// let layer = Conv::new(8, [3, 3]).kernel_init(init.clone());
    /// assert_eq!(layer.kernel_init, init);
    /// ```
    #[must_use]
    pub fn kernel_init(mut self, init: Initializer) -> Conv {
        self.kernel_init = init;
        self
    }
    /// Sets the initialiser of `bias` (Flax's `bias_init=`).
    ///
    /// ```
    /// use tabulate::nn::{initializers, with_partitioning, Conv};
    ///
    /// let init = with_partitioning(initializers::lecun_normal(), ["a", "b"]);
    /// let layer = Conv::new(8, [3, 3]).bias_init(init.clone());
    /// assert_eq!(layer.bias_init, init);
    /// ```
    #[must_use]
    pub fn bias_init(mut self, init: Initializer) -> Conv {
        self.bias_init = init;
        self
    }
}

/// A transposed convolution (`flax.linen.ConvTranspose`, `lax.conv_transpose`): the
/// gradient of a convolution, upsampling by its strides.
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::nn::ConvTranspose;
///
/// let up = ConvTranspose::new(16, [2, 2]).strides([2, 2]);
/// let x = Tensor::new(DType::F32, [1, 8, 8, 32]);
/// let summary = tabulate(&up).run(|u| u.forward(&x))?;
/// assert_eq!(summary.rows[0].outputs, tabulate::Value::Array { dtype: DType::F32, shape: [1, 16, 16, 16].into() });
/// assert_eq!(summary.total().count, 2 * 2 * 32 * 16 + 16);
/// # Ok::<(), tabulate::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct ConvTranspose {
    /// Output features.
    pub features: usize,
    /// Kernel size per spatial dimension.
    pub kernel_size: Vec<usize>,
    /// Strides (default 1).
    pub strides: Vec<usize>,
    /// Padding (default `Same`): `Same`, `Valid` and `Circular` are those of the forward
    /// convolution it transposes; `Explicit` pairs pad the transposed convolution's dilated
    /// input as given (Flax's `lax.conv_transpose` call, `use_consistent_padding=False`).
    pub padding: Padding,
    /// Kernel dilation (default 1).
    pub kernel_dilation: Vec<usize>,
    /// Flip the kernel and swap its feature axes, as the gradient of `Conv` would.
    pub transpose_kernel: bool,
    /// Whether to add a bias (default `true`).
    pub use_bias: bool,
    /// The dtype of the computation.
    pub dtype: Option<DType>,
    /// The dtype of the parameters (default `float32`).
    pub param_dtype: DType,
    /// The initialiser of `kernel` (default `lecun_normal()`); a partitioned one
    /// ([`with_partitioning`](super::with_partitioning)) names its axes.
    pub kernel_init: Initializer,
    /// The initialiser of `bias` (default `zeros`); a partitioned one
    /// ([`with_partitioning`](super::with_partitioning)) names its axes.
    pub bias_init: Initializer,
    identity: ModuleIdentity,
}

impl ConvTranspose {
    /// A transposed convolution with `features` outputs and a kernel of `kernel_size`.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::ConvTranspose;
    ///
    /// let x = Tensor::new(DType::F32, [1, 16, 16, 3]);
    /// let layer = ConvTranspose::new(8, [3, 3]);
    /// assert_eq!(layer.forward(&x)?.to_string(), "float32[1,16,16,8]");
    /// let total = tabulate(&layer).run(|l| l.forward(&x))?.total();
    /// assert_eq!((total.count, total.bytes), (224, 896)); // as Flax 0.12.8 counts them
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn new(features: usize, kernel_size: impl Into<Vec<usize>>) -> ConvTranspose {
        ConvTranspose {
            features,
            kernel_size: kernel_size.into(),
            strides: Vec::new(),
            padding: Padding::Same,
            kernel_dilation: Vec::new(),
            transpose_kernel: false,
            use_bias: true,
            dtype: None,
            param_dtype: DType::F32,
            kernel_init: initializers::lecun_normal(),
            bias_init: initializers::zeros(),
            identity: ModuleIdentity::new(),
        }
    }

    /// Sets the strides.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::ConvTranspose;
    ///
    /// let x = Tensor::new(DType::F32, [1, 16, 16, 3]);
    /// let layer = ConvTranspose::new(8, [3, 3]).strides([2, 2]);
    /// assert_eq!(layer.forward(&x)?.to_string(), "float32[1,32,32,8]");
    /// let total = tabulate(&layer).run(|l| l.forward(&x))?.total();
    /// assert_eq!((total.count, total.bytes), (224, 896)); // as Flax 0.12.8 counts them
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    #[must_use]
    pub fn strides(mut self, strides: impl Into<Vec<usize>>) -> ConvTranspose {
        self.strides = strides.into();
        self
    }

    /// Sets the padding.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::{ConvTranspose, Padding};
    ///
    /// let x = Tensor::new(DType::F32, [1, 16, 16, 3]);
    /// let layer = ConvTranspose::new(8, [3, 3]).strides([2, 2]).padding(Padding::Valid);
    /// assert_eq!(layer.forward(&x)?.to_string(), "float32[1,33,33,8]");
    /// let total = tabulate(&layer).run(|l| l.forward(&x))?.total();
    /// assert_eq!((total.count, total.bytes), (224, 896)); // as Flax 0.12.8 counts them
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    #[must_use]
    pub fn padding(mut self, padding: Padding) -> ConvTranspose {
        self.padding = padding;
        self
    }

    /// Sets the kernel dilation.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::{ConvTranspose, Padding};
    ///
    /// let x = Tensor::new(DType::F32, [1, 16, 16, 3]);
    /// let layer = ConvTranspose::new(8, [3, 3]).kernel_dilation([2, 2]).padding(Padding::Valid);
    /// assert_eq!(layer.forward(&x)?.to_string(), "float32[1,20,20,8]");
    /// let total = tabulate(&layer).run(|l| l.forward(&x))?.total();
    /// assert_eq!((total.count, total.bytes), (224, 896)); // as Flax 0.12.8 counts them
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    #[must_use]
    pub fn kernel_dilation(mut self, dilation: impl Into<Vec<usize>>) -> ConvTranspose {
        self.kernel_dilation = dilation.into();
        self
    }

    /// Sets whether to transpose the kernel.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::ConvTranspose;
    ///
    /// let x = Tensor::new(DType::F32, [1, 16, 16, 3]);
    /// let layer = ConvTranspose::new(8, [3, 3]).transpose_kernel(true);
    /// assert_eq!(layer.forward(&x)?.to_string(), "float32[1,16,16,8]");
    /// let total = tabulate(&layer).run(|l| l.forward(&x))?.total();
    /// assert_eq!((total.count, total.bytes), (224, 896)); // as Flax 0.12.8 counts them
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    #[must_use]
    pub fn transpose_kernel(mut self, transpose: bool) -> ConvTranspose {
        self.transpose_kernel = transpose;
        self
    }

    /// Sets whether to add a bias.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::ConvTranspose;
    ///
    /// let x = Tensor::new(DType::F32, [1, 16, 16, 3]);
    /// let layer = ConvTranspose::new(8, [3, 3]).use_bias(false);
    /// assert_eq!(layer.forward(&x)?.to_string(), "float32[1,16,16,8]");
    /// let total = tabulate(&layer).run(|l| l.forward(&x))?.total();
    /// assert_eq!((total.count, total.bytes), (216, 864)); // as Flax 0.12.8 counts them
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    #[must_use]
    pub fn use_bias(mut self, use_bias: bool) -> ConvTranspose {
        self.use_bias = use_bias;
        self
    }

    /// Applies the transposed convolution.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::ConvTranspose;
    ///
    /// let x = Tensor::new(DType::F32, [1, 16, 16, 3]);
    /// let layer = ConvTranspose::new(4, [4, 4]).strides([2, 2]);
    /// assert_eq!(layer.forward(&x)?.to_string(), "float32[1,32,32,4]");
    /// let total = tabulate(&layer).run(|l| l.forward(&x))?.total();
    /// assert_eq!((total.count, total.bytes), (196, 784)); // as Flax 0.12.8 counts them
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        module_call(self, "forward", |args| args.positional(x), || self.apply(x))
    }

    fn apply(&self, x: &Tensor) -> Result<Tensor> {
        let spatial = self.kernel_size.len();
        if spatial == 0 {
            return Err(Error::invalid("ConvTranspose needs a kernel size"));
        }
        check_positive("ConvTranspose", "kernel_size", &self.kernel_size)?;
        check_positive("ConvTranspose", "strides", &self.strides)?;
        check_positive("ConvTranspose", "kernel_dilation", &self.kernel_dilation)?;
        let (x, batch) = flatten_batch(x, spatial, "ConvTranspose")?;
        let strides = per_dim(&self.strides, spatial, "strides")?;
        let kernel_dilation = per_dim(&self.kernel_dilation, spatial, "kernel_dilation")?;
        let in_features = x.dim(-1)?;
        let mut kernel_shape = self.kernel_size.clone();
        kernel_shape.extend(if self.transpose_kernel {
            [self.features, in_features]
        } else {
            [in_features, self.features]
        });
        let kernel = param_with("kernel", &self.kernel_init, self.param_dtype, kernel_shape)?;
        let bias = if self.use_bias {
            Some(param_with(
                "bias",
                &self.bias_init,
                self.param_dtype,
                [self.features],
            )?)
        } else {
            None
        };
        let dtype = promote_dtype(self.dtype, &[Some(&x), Some(&kernel), bias.as_ref()], true);
        let x = x.astype(dtype)?;
        let mut kernel = kernel.astype(dtype)?;
        let bias = bias.map(|b| b.astype(dtype)).transpose()?;
        let (lhs_spec, rhs_spec) = channels_last(x.rank());
        // `lax.conv_transpose`: padding of the transposed convolution per dimension.
        let pads: Vec<(i64, i64)> = (0..spatial)
            .map(|s| {
                // In i128, so that huge kernels and strides cannot overflow.
                let k = dilate_kernel("ConvTranspose", self.kernel_size[s], kernel_dilation[s])?
                    as i128;
                let st = strides[s] as i128;
                let (lo, hi) = match &self.padding {
                    Padding::Same => {
                        let len = k + st - 2;
                        let a = if st > k - 1 { k - 1 } else { (len + 1) / 2 };
                        (a, len - a)
                    }
                    Padding::Valid | Padding::Circular => {
                        let len = k + st - 2 + (k - st).max(0);
                        (k - 1, len - (k - 1))
                    }
                    // Flax calls `lax.conv_transpose` with `use_consistent_padding=False`:
                    // integer pairs pad the transposed convolution's (dilated) input as
                    // given, they are not the forward convolution's padding.
                    Padding::Explicit(p) => p
                        .get(s)
                        .map(|&(lo, hi)| (i128::from(lo), i128::from(hi)))
                        .ok_or_else(|| {
                            Error::invalid(format!(
                                "padding {p:?} needs one pair per spatial dimension"
                            ))
                        })?,
                };
                match (i64::try_from(lo), i64::try_from(hi)) {
                    (Ok(lo), Ok(hi)) => Ok((lo, hi)),
                    _ => Err(Error::invalid(format!(
                        "ConvTranspose: the padding of spatial dimension {s} does not fit in 64 bits"
                    ))),
                }
            })
            .collect::<Result<_>>()?;
        if self.transpose_kernel {
            kernel = lax::rev(&kernel, rhs_spec[2..].to_vec())?;
            let rank = kernel.rank().cast_signed();
            kernel = kernel.swapaxes(rank - 1, rank - 2)?;
        }
        let params = ConvParams {
            window_strides: vec![1; spatial],
            padding: Vec::new(),
            lhs_dilation: strides.clone(),
            rhs_dilation: kernel_dilation,
            out_spec: lhs_spec.clone(),
            lhs_spec,
            rhs_spec,
            feature_group_count: 1,
            batch_group_count: 1,
        };
        let mut y = lax::conv_general_dilated(&x, &kernel, params, LaxPadding::Explicit(pads))?;
        if self.padding == Padding::Circular {
            y = circular_fold(&y, &x, &strides, self.transpose_kernel)?;
        }
        if let Some(bias) = bias {
            let mut shape = vec![1isize; y.rank() - 1];
            shape.push(-1);
            y = y.add(&bias.reshape(shape)?)?;
        }
        restore_batch(y, batch)
    }
}

/// Flax's `CIRCULAR` post-processing: pad the output to a multiple of the scaled input and
/// sum the periods.
fn circular_fold(
    y: &Tensor,
    x: &Tensor,
    strides: &[usize],
    transpose_kernel: bool,
) -> Result<Tensor> {
    let scaled: Vec<usize> = x.shape().dims()[1..x.rank() - 1]
        .iter()
        .zip(strides)
        .map(|(&d, &s)| d.checked_mul(s).filter(|&n| n > 0 && n <= usize::MAX / 4))
        .collect::<Option<_>>()
        .ok_or_else(|| {
            Error::invalid(format!(
                "ConvTranspose: CIRCULAR padding needs spatial dimensions that are neither empty nor too large (times the strides {strides:?}), got {x}"
            ))
        })?;
    let mut pads = vec![(0, 0)];
    for (i, &scaled_dim) in scaled.iter().enumerate() {
        // Python's `-(y_dim - x_dim) % (2 * x_dim)`, always non-negative.
        let period = (2 * scaled_dim) as i128;
        let y_dim = y.shape().dims()[i + 1] as i128;
        let diff = usize::try_from((-(y_dim - scaled_dim as i128)).rem_euclid(period)).unwrap_or(0);
        pads.push(if transpose_kernel {
            (diff / 2, diff.div_ceil(2))
        } else {
            (diff.div_ceil(2), diff / 2)
        });
    }
    pads.push((0, 0));
    let mut y = y.pad(&pads, 0.0)?;
    for (i, &scaled_dim) in scaled.iter().enumerate() {
        let axis = i + 1;
        let mut shape: Vec<usize> = y.shape().dims()[..axis].to_vec();
        shape.push(y.shape().dims()[axis] / scaled_dim);
        shape.push(scaled_dim);
        shape.extend_from_slice(&y.shape().dims()[axis + 1..]);
        y = y
            .reshape(Shape::new(shape))?
            .sum(&[isize::try_from(axis).unwrap_or(0)], false)?;
    }
    Ok(y)
}

layer_common!(
    ConvTranspose,
    "ConvTranspose",
    "ConvTranspose::new(8, [3, 3])"
);

impl ConvTranspose {
    /// Sets the initialiser of `kernel` (Flax's `kernel_init=`).
    ///
    /// ```
    /// use tabulate::nn::{initializers, with_partitioning, ConvTranspose};
    ///
    /// let init = with_partitioning(initializers::lecun_normal(), ["a", "b"]);
    /// let layer = ConvTranspose::new(8, [3, 3]).kernel_init(init.clone());
    /// assert_eq!(layer.kernel_init, init);
    /// ```
    #[must_use]
    pub fn kernel_init(mut self, init: Initializer) -> ConvTranspose {
        self.kernel_init = init;
        self
    }
    /// Sets the initialiser of `bias` (Flax's `bias_init=`).
    ///
    /// ```
    /// use tabulate::nn::{initializers, with_partitioning, ConvTranspose};
    ///
    /// let init = with_partitioning(initializers::lecun_normal(), ["a", "b"]);
    /// let layer = ConvTranspose::new(8, [3, 3]).bias_init(init.clone());
    /// assert_eq!(layer.bias_init, init);
    /// ```
    #[must_use]
    pub fn bias_init(mut self, init: Initializer) -> ConvTranspose {
        self.bias_init = init;
        self
    }
}
