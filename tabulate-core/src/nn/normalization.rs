//! Normalisation layers (`flax.linen.normalization`): `BatchNorm`, `LayerNorm`,
//! `RMSNorm`, `GroupNorm`, sharing Flax's `_compute_stats` and `_normalize`.

use super::initializers;
use super::linear::{layer_common, normalize_axes};
use crate::call::module_call;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::module::{ModuleIdentity, Tabulate};
use crate::shape::Shape;
use crate::tensor::Tensor;
use crate::variable::{Initializer, param, param_with, variable};

/// Which statistics `_compute_stats` takes.
#[derive(Clone, Copy)]
struct Stats {
    use_mean: bool,
    fast_variance: bool,
}

/// `_compute_stats`: mean and variance over `axes` in at least float32; with the fast
/// variance `E[x²] − E[x]²` clipped at 0.
fn compute_stats(
    x: &Tensor,
    axes: &[usize],
    dtype: Option<DType>,
    how: Stats,
) -> Result<(Tensor, Tensor)> {
    let dtype = dtype.unwrap_or(x.dtype()).promote(DType::F32);
    let x = x.astype(dtype)?;
    let axes: Vec<isize> = axes
        .iter()
        .map(|&a| isize::try_from(a).unwrap_or(isize::MAX))
        .collect();
    if !how.use_mean {
        let var = x.square()?.mean(&axes, false)?;
        let mean = Tensor::zeros(var.dtype(), var.shape().clone())?;
        return Ok((mean, var));
    }
    if how.fast_variance {
        let squared = x.square()?;
        let mean = x.mean(&axes, false)?;
        let mean_sq = squared.mean(&axes, false)?;
        let var = mean_sq.sub(&mean.square()?)?;
        let zero = Tensor::full(0.0, var.dtype(), Shape::scalar())?;
        return Ok((mean, zero.maximum(&var)?));
    }
    let mean = x.mean(&axes, false)?;
    let centered = x.sub(&expand(&mean, &axes_usize(&axes))?)?;
    let var = centered.square()?.mean(&axes, false)?;
    Ok((mean, var))
}

fn axes_usize(axes: &[isize]) -> Vec<usize> {
    axes.iter().map(|a| a.unsigned_abs()).collect()
}

/// `jnp.expand_dims(x, axes)` for sorted `axes` of the result.
fn expand(x: &Tensor, axes: &[usize]) -> Result<Tensor> {
    let mut y = x.clone();
    for &a in axes {
        y = y.expand_dims(isize::try_from(a).unwrap_or(isize::MAX))?;
    }
    Ok(y)
}

/// The learned part of a normalisation layer.
#[derive(Clone, Copy)]
struct Affine<'a> {
    /// The initialisers of `scale` and `bias` (`None`: the layer has no such option).
    scale_init: Option<&'a Initializer>,
    bias_init: Option<&'a Initializer>,
    epsilon: f64,
    use_bias: bool,
    use_scale: bool,
    param_dtype: DType,
    dtype: Option<DType>,
}

/// The parameter `name`, made by `init` when the layer has one.
fn declare(
    name: &str,
    init: Option<&Initializer>,
    dtype: DType,
    shape: Vec<usize>,
) -> Result<Tensor> {
    match init {
        Some(init) => param_with(name, init, dtype, shape),
        None => param(name, dtype, shape),
    }
}

/// `_normalize`: `(x − mean) · rsqrt(var + ε) · scale + bias`, with `scale` and `bias`
/// (shaped like the feature axes) declared here.
fn normalize(
    x: &Tensor,
    mean: &Tensor,
    var: &Tensor,
    reduction: &[usize],
    features: &[usize],
    a: Affine<'_>,
) -> Result<Tensor> {
    let dims = x.shape().dims();
    let feature_shape: Vec<usize> = (0..x.rank())
        .map(|i| if features.contains(&i) { dims[i] } else { 1 })
        .collect();
    let reduced_shape: Vec<usize> = features.iter().map(|&i| dims[i]).collect();
    let mean = expand(mean, reduction)?;
    let var = expand(var, reduction)?;
    let mut y = x.sub(&mean)?;
    let mut mul = var.add(a.epsilon)?.rsqrt()?;
    let mut args = vec![x.dtype()];
    if a.use_scale {
        let scale = declare("scale", a.scale_init, a.param_dtype, reduced_shape.clone())?
            .reshape(Shape::new(feature_shape.clone()))?;
        mul = mul.mul(&scale)?;
        args.push(scale.dtype());
    }
    y = y.mul(&mul)?;
    if a.use_bias {
        let bias = declare("bias", a.bias_init, a.param_dtype, reduced_shape)?
            .reshape(Shape::new(feature_shape))?;
        y = y.add(&bias)?;
        args.push(bias.dtype());
    }
    // `canonicalize_dtype`: the requested dtype, else the promoted (inexact) dtype of
    // the input and parameters.
    let dtype = a.dtype.unwrap_or_else(|| {
        args.into_iter()
            .reduce(DType::promote)
            .unwrap_or(DType::F32)
    });
    let dtype = if dtype.is_inexact() {
        dtype
    } else {
        DType::F32.promote(dtype)
    };
    y.astype(dtype)
}

/// Layer normalisation over the last axis (`flax.linen.LayerNorm`): `scale` and `bias`
/// of the feature size in `params`.
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::nn::LayerNorm;
///
/// let x = Tensor::new(DType::F32, [2, 10, 768]);
/// let summary = tabulate(&LayerNorm::new().epsilon(1e-5)).run(|n| n.forward(&x))?;
/// assert_eq!(summary.total().count, 2 * 768); // scale and bias
/// # Ok::<(), tabulate::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct LayerNorm {
    /// Added to the variance (default 1e-6).
    pub epsilon: f64,
    /// Whether to add a bias (default `true`).
    pub use_bias: bool,
    /// Whether to scale (default `true`).
    pub use_scale: bool,
    /// Axes to normalise over (default `[-1]`).
    pub reduction_axes: Vec<isize>,
    /// Axes with their own scale and bias (default `[-1]`).
    pub feature_axes: Vec<isize>,
    /// `E[x²] − E[x]²` rather than `E[(x − E[x])²]` (default `true`).
    pub use_fast_variance: bool,
    /// The dtype of the result.
    pub dtype: Option<DType>,
    /// The dtype of the parameters (default `float32`).
    pub param_dtype: DType,
    /// The initialiser of `scale` (default `ones`); a partitioned one
    /// ([`with_partitioning`](super::with_partitioning)) names its axes.
    pub scale_init: Initializer,
    /// The initialiser of `bias` (default `zeros`); a partitioned one
    /// ([`with_partitioning`](super::with_partitioning)) names its axes.
    pub bias_init: Initializer,
    identity: ModuleIdentity,
}

impl Default for LayerNorm {
    fn default() -> LayerNorm {
        LayerNorm::new()
    }
}

impl LayerNorm {
    /// A `LayerNorm` with Flax's defaults.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::LayerNorm;
    ///
    /// let x = Tensor::new(DType::F32, [2, 10, 32]);
    /// let layer = LayerNorm::new();
    /// assert_eq!(layer.forward(&x)?.to_string(), "float32[2,10,32]");
    /// let total = tabulate(&layer).run(|l| l.forward(&x))?.total();
    /// assert_eq!((total.count, total.bytes), (64, 256)); // as Flax 0.12.8 counts them
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn new() -> LayerNorm {
        LayerNorm {
            epsilon: 1e-6,
            use_bias: true,
            use_scale: true,
            reduction_axes: vec![-1],
            feature_axes: vec![-1],
            use_fast_variance: true,
            dtype: None,
            param_dtype: DType::F32,
            scale_init: initializers::ones(),
            bias_init: initializers::zeros(),
            identity: ModuleIdentity::new(),
        }
    }

    /// Sets epsilon.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::LayerNorm;
    ///
    /// let x = Tensor::new(DType::F32, [2, 10, 32]);
    /// let layer = LayerNorm::new().epsilon(1e-5);
    /// assert_eq!(layer.forward(&x)?.to_string(), "float32[2,10,32]");
    /// let total = tabulate(&layer).run(|l| l.forward(&x))?.total();
    /// assert_eq!((total.count, total.bytes), (64, 256)); // as Flax 0.12.8 counts them
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    #[must_use]
    pub fn epsilon(mut self, epsilon: f64) -> LayerNorm {
        self.epsilon = epsilon;
        self
    }

    /// Sets whether to add a bias.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::LayerNorm;
    ///
    /// let x = Tensor::new(DType::F32, [2, 10, 32]);
    /// let layer = LayerNorm::new().use_bias(false);
    /// assert_eq!(layer.forward(&x)?.to_string(), "float32[2,10,32]");
    /// let total = tabulate(&layer).run(|l| l.forward(&x))?.total();
    /// assert_eq!((total.count, total.bytes), (32, 128)); // as Flax 0.12.8 counts them
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    #[must_use]
    pub fn use_bias(mut self, use_bias: bool) -> LayerNorm {
        self.use_bias = use_bias;
        self
    }

    /// Sets whether to scale.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::LayerNorm;
    ///
    /// let x = Tensor::new(DType::F32, [2, 10, 32]);
    /// let layer = LayerNorm::new().use_scale(false);
    /// assert_eq!(layer.forward(&x)?.to_string(), "float32[2,10,32]");
    /// let total = tabulate(&layer).run(|l| l.forward(&x))?.total();
    /// assert_eq!((total.count, total.bytes), (32, 128)); // as Flax 0.12.8 counts them
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    #[must_use]
    pub fn use_scale(mut self, use_scale: bool) -> LayerNorm {
        self.use_scale = use_scale;
        self
    }

    /// Applies the layer.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::LayerNorm;
    ///
    /// let x = Tensor::new(DType::F32, [2, 10, 32]);
    /// let layer = LayerNorm::new();
    /// assert_eq!(layer.forward(&x)?.to_string(), "float32[2,10,32]");
    /// let total = tabulate(&layer).run(|l| l.forward(&x))?.total();
    /// assert_eq!((total.count, total.bytes), (64, 256)); // as Flax 0.12.8 counts them
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        module_call(
            self,
            "forward",
            |args| args.positional(x),
            || {
                let reduction =
                    normalize_axes(&self.reduction_axes, x.rank(), "LayerNorm reduction_axes")?;
                let features =
                    normalize_axes(&self.feature_axes, x.rank(), "LayerNorm feature_axes")?;
                let stats = Stats {
                    use_mean: true,
                    fast_variance: self.use_fast_variance,
                };
                let (mean, var) = compute_stats(x, &sorted(reduction.clone()), self.dtype, stats)?;
                normalize(
                    x,
                    &mean,
                    &var,
                    &sorted(reduction),
                    &sorted(features),
                    self.affine(),
                )
            },
        )
    }

    fn affine(&self) -> Affine<'_> {
        Affine {
            scale_init: Some(&self.scale_init),
            bias_init: Some(&self.bias_init),
            epsilon: self.epsilon,
            use_bias: self.use_bias,
            use_scale: self.use_scale,
            param_dtype: self.param_dtype,
            dtype: self.dtype,
        }
    }
}

fn sorted(mut axes: Vec<usize>) -> Vec<usize> {
    axes.sort_unstable();
    axes
}

layer_common!(LayerNorm, "LayerNorm", "LayerNorm::new()");

impl LayerNorm {
    /// Sets the initialiser of `scale` (Flax's `scale_init=`).
    ///
    /// ```
    /// use tabulate::nn::{initializers, with_partitioning, LayerNorm};
    ///
    /// let init = with_partitioning(initializers::ones(), ["embed"]);
    /// let layer = LayerNorm::new().scale_init(init.clone());
    /// assert_eq!(layer.scale_init, init);
    /// ```
    #[must_use]
    pub fn scale_init(mut self, init: Initializer) -> LayerNorm {
        self.scale_init = init;
        self
    }

    /// Sets the initialiser of `bias` (Flax's `bias_init=`).
    ///
    /// ```
    /// use tabulate::nn::{initializers, with_partitioning, LayerNorm};
    ///
    /// let init = with_partitioning(initializers::ones(), ["embed"]);
    /// let layer = LayerNorm::new().bias_init(init.clone());
    /// assert_eq!(layer.bias_init, init);
    /// ```
    #[must_use]
    pub fn bias_init(mut self, init: Initializer) -> LayerNorm {
        self.bias_init = init;
        self
    }
}

/// Root-mean-square normalisation over the last axis (`flax.linen.RMSNorm`): no mean, no
/// bias, a `scale` in `params`.
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::nn::RMSNorm;
///
/// let x = Tensor::new(DType::BF16, [2, 10, 4096]);
/// let summary = tabulate(&RMSNorm::new()).run(|n| n.forward(&x))?;
/// assert_eq!(summary.total().count, 4096); // scale only
/// # Ok::<(), tabulate::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct RMSNorm {
    /// Added to the mean square (default 1e-6).
    pub epsilon: f64,
    /// Whether to scale (default `true`).
    pub use_scale: bool,
    /// The dtype of the result.
    pub dtype: Option<DType>,
    /// The dtype of the parameters (default `float32`).
    pub param_dtype: DType,
    /// The initialiser of `scale` (default `ones`); a partitioned one
    /// ([`with_partitioning`](super::with_partitioning)) names its axes.
    pub scale_init: Initializer,
    identity: ModuleIdentity,
}

impl Default for RMSNorm {
    fn default() -> RMSNorm {
        RMSNorm::new()
    }
}

impl RMSNorm {
    /// An `RMSNorm` with Flax's defaults.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::RMSNorm;
    ///
    /// let x = Tensor::new(DType::F32, [2, 10, 32]);
    /// let layer = RMSNorm::new();
    /// assert_eq!(layer.forward(&x)?.to_string(), "float32[2,10,32]");
    /// let total = tabulate(&layer).run(|l| l.forward(&x))?.total();
    /// assert_eq!((total.count, total.bytes), (32, 128)); // as Flax 0.12.8 counts them
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn new() -> RMSNorm {
        RMSNorm {
            epsilon: 1e-6,
            use_scale: true,
            dtype: None,
            param_dtype: DType::F32,
            scale_init: initializers::ones(),
            identity: ModuleIdentity::new(),
        }
    }

    /// Sets epsilon.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::RMSNorm;
    ///
    /// let x = Tensor::new(DType::F32, [2, 10, 32]);
    /// let layer = RMSNorm::new().epsilon(1e-5);
    /// assert_eq!(layer.forward(&x)?.to_string(), "float32[2,10,32]");
    /// let total = tabulate(&layer).run(|l| l.forward(&x))?.total();
    /// assert_eq!((total.count, total.bytes), (32, 128)); // as Flax 0.12.8 counts them
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    #[must_use]
    pub fn epsilon(mut self, epsilon: f64) -> RMSNorm {
        self.epsilon = epsilon;
        self
    }

    /// Applies the layer.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::RMSNorm;
    ///
    /// let x = Tensor::new(DType::F32, [2, 10, 32]);
    /// let layer = RMSNorm::new();
    /// assert_eq!(layer.forward(&x)?.to_string(), "float32[2,10,32]");
    /// let total = tabulate(&layer).run(|l| l.forward(&x))?.total();
    /// assert_eq!((total.count, total.bytes), (32, 128)); // as Flax 0.12.8 counts them
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        module_call(
            self,
            "forward",
            |args| args.positional(x),
            || {
                let last = normalize_axes(&[-1], x.rank(), "RMSNorm")?;
                let stats = Stats {
                    use_mean: false,
                    fast_variance: true,
                };
                let (mean, var) = compute_stats(x, &last, self.dtype, stats)?;
                let affine = Affine {
                    scale_init: Some(&self.scale_init),
                    bias_init: None,
                    epsilon: self.epsilon,
                    use_bias: false,
                    use_scale: self.use_scale,
                    param_dtype: self.param_dtype,
                    dtype: self.dtype,
                };
                normalize(x, &mean, &var, &last, &last, affine)
            },
        )
    }
}

layer_common!(RMSNorm, "RMSNorm", "RMSNorm::new()");

impl RMSNorm {
    /// Sets the initialiser of `scale` (Flax's `scale_init=`).
    ///
    /// ```
    /// use tabulate::nn::{initializers, with_partitioning, RMSNorm};
    ///
    /// let init = with_partitioning(initializers::ones(), ["embed"]);
    /// let layer = RMSNorm::new().scale_init(init.clone());
    /// assert_eq!(layer.scale_init, init);
    /// ```
    #[must_use]
    pub fn scale_init(mut self, init: Initializer) -> RMSNorm {
        self.scale_init = init;
        self
    }
}

/// Group normalisation (`flax.linen.GroupNorm`): statistics per group of channels over
/// all but the batch axis; `scale` and `bias` per channel.
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::nn::GroupNorm;
///
/// let x = Tensor::new(DType::F32, [2, 8, 8, 64]);
/// let summary = tabulate(&GroupNorm::new(32)).run(|n| n.forward(&x))?;
/// assert_eq!(summary.total().count, 2 * 64);
/// assert!(GroupNorm::new(5).forward(&x).is_err()); // 64 channels are not 5 groups
/// # Ok::<(), tabulate::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct GroupNorm {
    /// Number of groups (default 32); `None` when `group_size` is given.
    pub num_groups: Option<usize>,
    /// Channels per group, instead of `num_groups`.
    pub group_size: Option<usize>,
    /// Added to the variance (default 1e-6).
    pub epsilon: f64,
    /// Whether to add a bias (default `true`).
    pub use_bias: bool,
    /// Whether to scale (default `true`).
    pub use_scale: bool,
    /// The dtype of the result.
    pub dtype: Option<DType>,
    /// The dtype of the parameters (default `float32`).
    pub param_dtype: DType,
    /// The initialiser of `scale` (default `ones`); a partitioned one
    /// ([`with_partitioning`](super::with_partitioning)) names its axes.
    pub scale_init: Initializer,
    /// The initialiser of `bias` (default `zeros`); a partitioned one
    /// ([`with_partitioning`](super::with_partitioning)) names its axes.
    pub bias_init: Initializer,
    identity: ModuleIdentity,
}

impl Default for GroupNorm {
    fn default() -> GroupNorm {
        GroupNorm::new(32)
    }
}

impl GroupNorm {
    /// A `GroupNorm` with `num_groups` groups.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::GroupNorm;
    ///
    /// let x = Tensor::new(DType::F32, [2, 8, 8, 16]);
    /// let layer = GroupNorm::new(4);
    /// assert_eq!(layer.forward(&x)?.to_string(), "float32[2,8,8,16]");
    /// let total = tabulate(&layer).run(|l| l.forward(&x))?.total();
    /// assert_eq!((total.count, total.bytes), (32, 128)); // as Flax 0.12.8 counts them
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn new(num_groups: usize) -> GroupNorm {
        GroupNorm {
            num_groups: Some(num_groups),
            group_size: None,
            epsilon: 1e-6,
            use_bias: true,
            use_scale: true,
            dtype: None,
            param_dtype: DType::F32,
            scale_init: initializers::ones(),
            bias_init: initializers::zeros(),
            identity: ModuleIdentity::new(),
        }
    }

    /// A `GroupNorm` with groups of `group_size` channels.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::GroupNorm;
    ///
    /// let x = Tensor::new(DType::F32, [2, 8, 8, 16]);
    /// let layer = GroupNorm::with_group_size(4);
    /// assert_eq!(layer.forward(&x)?.to_string(), "float32[2,8,8,16]");
    /// let total = tabulate(&layer).run(|l| l.forward(&x))?.total();
    /// assert_eq!((total.count, total.bytes), (32, 128)); // as Flax 0.12.8 counts them
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn with_group_size(group_size: usize) -> GroupNorm {
        GroupNorm {
            num_groups: None,
            group_size: Some(group_size),
            ..GroupNorm::new(32)
        }
    }

    fn groups(&self, channels: usize) -> Result<usize> {
        let groups = match (self.num_groups, self.group_size) {
            (Some(_), Some(_)) | (None, None) => {
                return Err(Error::invalid(
                    "GroupNorm needs either num_groups or group_size, not both",
                ));
            }
            (None, Some(size)) => {
                if size == 0 || !channels.is_multiple_of(size) {
                    return Err(Error::invalid(format!(
                        "GroupNorm: the number of channels ({channels}) is not a multiple of the group size ({size})"
                    )));
                }
                channels / size
            }
            (Some(groups), None) => groups,
        };
        if groups == 0 || !channels.is_multiple_of(groups) {
            return Err(Error::invalid(format!(
                "GroupNorm: the number of groups ({groups}) does not divide the number of channels ({channels})"
            )));
        }
        Ok(groups)
    }

    /// Applies the layer to `[batch, …, channels]`.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::GroupNorm;
    ///
    /// let x = Tensor::new(DType::F32, [2, 8, 8, 16]);
    /// let layer = GroupNorm::new(8);
    /// assert_eq!(layer.forward(&x)?.to_string(), "float32[2,8,8,16]");
    /// let total = tabulate(&layer).run(|l| l.forward(&x))?.total();
    /// assert_eq!((total.count, total.bytes), (32, 128)); // as Flax 0.12.8 counts them
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        module_call(
            self,
            "forward",
            |args| args.positional(x),
            || {
                if x.rank() < 2 {
                    return Err(Error::invalid(format!(
                        "GroupNorm needs a batch and a channel axis, got {x}"
                    )));
                }
                let channels = x.dim(-1)?;
                let groups = self.groups(channels)?;
                let size = channels / groups;
                let mut group_shape = x.shape().dims()[..x.rank() - 1].to_vec();
                group_shape.extend([groups, size]);
                let grouped = x.reshape(Shape::new(group_shape))?;
                // Statistics over the spatial axes and the channels within a group.
                let mut axes: Vec<usize> = (1..x.rank() - 1).collect();
                axes.push(x.rank());
                let stats = Stats {
                    use_mean: true,
                    fast_variance: true,
                };
                let (mean, var) = compute_stats(&grouped, &axes, self.dtype, stats)?;
                let mean = repeat_last(&mean, size)?;
                let var = repeat_last(&var, size)?;
                let affine = Affine {
                    scale_init: Some(&self.scale_init),
                    bias_init: Some(&self.bias_init),
                    epsilon: self.epsilon,
                    use_bias: self.use_bias,
                    use_scale: self.use_scale,
                    param_dtype: self.param_dtype,
                    dtype: self.dtype,
                };
                let reduction: Vec<usize> = (1..x.rank() - 1).collect();
                normalize(x, &mean, &var, &reduction, &[x.rank() - 1], affine)
            },
        )
    }
}

/// `jnp.repeat(x, repeats, axis=-1)`: each element repeated (a broadcast and a reshape).
fn repeat_last(x: &Tensor, repeats: usize) -> Result<Tensor> {
    let mut tiled = x.shape().dims().to_vec();
    tiled.push(repeats);
    let expanded = x.expand_dims(isize::try_from(x.rank()).unwrap_or(isize::MAX))?;
    let broadcast = expanded.broadcast_to(Shape::new(tiled))?;
    let mut out = x.shape().dims().to_vec();
    if let Some(last) = out.last_mut() {
        *last *= repeats;
    }
    broadcast.reshape(Shape::new(out))
}

layer_common!(GroupNorm, "GroupNorm", "GroupNorm::new(4)");

impl GroupNorm {
    /// Sets the initialiser of `scale` (Flax's `scale_init=`).
    ///
    /// ```
    /// use tabulate::nn::{initializers, with_partitioning, GroupNorm};
    ///
    /// let init = with_partitioning(initializers::ones(), ["embed"]);
    /// let layer = GroupNorm::new(4).scale_init(init.clone());
    /// assert_eq!(layer.scale_init, init);
    /// ```
    #[must_use]
    pub fn scale_init(mut self, init: Initializer) -> GroupNorm {
        self.scale_init = init;
        self
    }

    /// Sets the initialiser of `bias` (Flax's `bias_init=`).
    ///
    /// ```
    /// use tabulate::nn::{initializers, with_partitioning, GroupNorm};
    ///
    /// let init = with_partitioning(initializers::ones(), ["embed"]);
    /// let layer = GroupNorm::new(4).bias_init(init.clone());
    /// assert_eq!(layer.bias_init, init);
    /// ```
    #[must_use]
    pub fn bias_init(mut self, init: Initializer) -> GroupNorm {
        self.bias_init = init;
        self
    }
}

/// Batch normalisation (`flax.linen.BatchNorm`): in training (`use_running_average =
/// false`) it normalises with the batch's statistics and updates the running averages
/// `mean` and `var` in `batch_stats` (which must then be mutable); in evaluation it reads
/// them.
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::nn::BatchNorm;
///
/// let x = Tensor::new(DType::F32, [8, 16, 16, 32]);
/// // Training: batch statistics, and `batch_stats` written.
/// let summary = tabulate(&BatchNorm::new(false)).run(|bn| bn.forward(&x))?;
/// assert_eq!(summary.collections, ["params", "batch_stats"]);
/// assert_eq!(summary.totals[1].count, 2 * 32); // mean, var
/// // `use_running_average` given at the call instead (Flax's merge_param), exactly once.
/// let bn = BatchNorm::new(None);
/// assert!(tabulate(&bn).run(|bn| bn.forward_with(&x, true)).is_ok());
/// assert!(tabulate(&bn).run(|bn| bn.forward(&x)).is_err()); // given nowhere
/// # Ok::<(), tabulate::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
#[allow(clippy::struct_excessive_bools)] // Flax's fields
pub struct BatchNorm {
    /// Use the running averages instead of the batch's statistics, if given at
    /// construction; otherwise it is given at the call (exactly one of the two, Flax's
    /// `merge_param`).
    pub use_running_average: Option<bool>,
    /// The feature axis (default `-1`).
    pub axis: isize,
    /// Weight of the old running average (default 0.99).
    pub momentum: f64,
    /// Added to the variance (default 1e-5).
    pub epsilon: f64,
    /// Whether to add a bias (default `true`).
    pub use_bias: bool,
    /// Whether to scale (default `true`).
    pub use_scale: bool,
    /// `E[x²] − E[x]²` rather than `E[(x − E[x])²]` (default `true`).
    pub use_fast_variance: bool,
    /// The dtype of the result.
    pub dtype: Option<DType>,
    /// The dtype of the parameters (default `float32`).
    pub param_dtype: DType,
    /// The initialiser of `scale` (default `ones`); a partitioned one
    /// ([`with_partitioning`](super::with_partitioning)) names its axes.
    pub scale_init: Initializer,
    /// The initialiser of `bias` (default `zeros`); a partitioned one
    /// ([`with_partitioning`](super::with_partitioning)) names its axes.
    pub bias_init: Initializer,
    identity: ModuleIdentity,
}

impl BatchNorm {
    /// A `BatchNorm` in training (`false`) or evaluation (`true`) mode, or `None` to give
    /// the mode at each call ([`BatchNorm::forward_with`]), as Flax's
    /// `BatchNorm(use_running_average=…)`.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::BatchNorm;
    ///
    /// let x = Tensor::new(DType::F32, [4, 8]);
    /// let layer = BatchNorm::new(true);
    /// assert_eq!(layer.forward(&x)?.to_string(), "float32[4,8]");
    /// let total = tabulate(&layer).run(|l| l.forward(&x))?.total();
    /// assert_eq!((total.count, total.bytes), (32, 128)); // as Flax 0.12.8 counts them
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn new(use_running_average: impl Into<Option<bool>>) -> BatchNorm {
        BatchNorm {
            use_running_average: use_running_average.into(),
            axis: -1,
            momentum: 0.99,
            epsilon: 1e-5,
            use_bias: true,
            use_scale: true,
            use_fast_variance: true,
            dtype: None,
            param_dtype: DType::F32,
            scale_init: initializers::ones(),
            bias_init: initializers::zeros(),
            identity: ModuleIdentity::new(),
        }
    }

    /// Sets the momentum.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::BatchNorm;
    ///
    /// let x = Tensor::new(DType::F32, [4, 8]);
    /// let layer = BatchNorm::new(true).momentum(0.9);
    /// assert_eq!(layer.forward(&x)?.to_string(), "float32[4,8]");
    /// let total = tabulate(&layer).run(|l| l.forward(&x))?.total();
    /// assert_eq!((total.count, total.bytes), (32, 128)); // as Flax 0.12.8 counts them
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    #[must_use]
    pub fn momentum(mut self, momentum: f64) -> BatchNorm {
        self.momentum = momentum;
        self
    }

    /// Sets epsilon.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::BatchNorm;
    ///
    /// let x = Tensor::new(DType::F32, [4, 8]);
    /// let layer = BatchNorm::new(true).epsilon(1e-3);
    /// assert_eq!(layer.forward(&x)?.to_string(), "float32[4,8]");
    /// let total = tabulate(&layer).run(|l| l.forward(&x))?.total();
    /// assert_eq!((total.count, total.bytes), (32, 128)); // as Flax 0.12.8 counts them
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    #[must_use]
    pub fn epsilon(mut self, epsilon: f64) -> BatchNorm {
        self.epsilon = epsilon;
        self
    }

    /// Sets whether to add a bias.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::BatchNorm;
    ///
    /// let x = Tensor::new(DType::F32, [4, 8]);
    /// let layer = BatchNorm::new(true).use_bias(false);
    /// assert_eq!(layer.forward(&x)?.to_string(), "float32[4,8]");
    /// let total = tabulate(&layer).run(|l| l.forward(&x))?.total();
    /// assert_eq!((total.count, total.bytes), (24, 96)); // as Flax 0.12.8 counts them
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    #[must_use]
    pub fn use_bias(mut self, use_bias: bool) -> BatchNorm {
        self.use_bias = use_bias;
        self
    }

    /// Sets whether to scale.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::BatchNorm;
    ///
    /// let x = Tensor::new(DType::F32, [4, 8]);
    /// let layer = BatchNorm::new(true).use_scale(false);
    /// assert_eq!(layer.forward(&x)?.to_string(), "float32[4,8]");
    /// let total = tabulate(&layer).run(|l| l.forward(&x))?.total();
    /// assert_eq!((total.count, total.bytes), (24, 96)); // as Flax 0.12.8 counts them
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    #[must_use]
    pub fn use_scale(mut self, use_scale: bool) -> BatchNorm {
        self.use_scale = use_scale;
        self
    }

    /// Applies the layer in the mode given at construction (Flax's `bn(x)`).
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::BatchNorm;
    ///
    /// let x = Tensor::new(DType::F32, [4, 8]);
    /// let layer = BatchNorm::new(true);
    /// assert_eq!(layer.forward(&x)?.to_string(), "float32[4,8]");
    /// let total = tabulate(&layer).run(|l| l.forward(&x))?.total();
    /// assert_eq!((total.count, total.bytes), (32, 128)); // as Flax 0.12.8 counts them
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.forward_with(x, None)
    }

    /// Applies the layer with `use_running_average` given at the call (Flax's
    /// `bn(x, use_running_average=…)`, shown in the inputs cell), or `None` for the
    /// layer's; exactly one of the two must be given, as Flax's `merge_param` requires.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::BatchNorm;
    ///
    /// let x = Tensor::new(DType::F32, [4, 8]);
    /// let layer = BatchNorm::new(None);
    /// assert_eq!(layer.forward_with(&x, true)?.to_string(), "float32[4,8]");
    /// let total = tabulate(&layer).run(|l| l.forward_with(&x, true))?.total();
    /// assert_eq!((total.count, total.bytes), (32, 128)); // as Flax 0.12.8 counts them
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn forward_with(
        &self,
        x: &Tensor,
        use_running_average: impl Into<Option<bool>>,
    ) -> Result<Tensor> {
        let use_running_average = use_running_average.into();
        module_call(
            self,
            "forward",
            |args| {
                args.positional(x);
                if let Some(value) = &use_running_average {
                    args.keyword("use_running_average", value);
                }
            },
            || {
                let use_running_average = super::merge_param(
                    "use_running_average",
                    self.use_running_average,
                    use_running_average,
                )?;
                let features = normalize_axes(&[self.axis], x.rank(), "BatchNorm axis")?;
                let reduction: Vec<usize> =
                    (0..x.rank()).filter(|a| !features.contains(a)).collect();
                let feature_shape: Vec<usize> =
                    features.iter().map(|&a| x.shape().dims()[a]).collect();
                let mut running_mean =
                    variable("batch_stats", "mean", DType::F32, feature_shape.clone())?;
                let mut running_var = variable("batch_stats", "var", DType::F32, feature_shape)?;
                let (mean, var) = if use_running_average {
                    (running_mean.value().clone(), running_var.value().clone())
                } else {
                    let stats = Stats {
                        use_mean: true,
                        fast_variance: self.use_fast_variance,
                    };
                    let (mean, var) = compute_stats(x, &reduction, self.dtype, stats)?;
                    let m = self.momentum;
                    let new_mean = running_mean.value().mul(m)?.add(&mean.mul(1.0 - m)?)?;
                    running_mean.set(new_mean)?;
                    let new_var = running_var.value().mul(m)?.add(&var.mul(1.0 - m)?)?;
                    running_var.set(new_var)?;
                    (mean, var)
                };
                let affine = Affine {
                    scale_init: Some(&self.scale_init),
                    bias_init: Some(&self.bias_init),
                    epsilon: self.epsilon,
                    use_bias: self.use_bias,
                    use_scale: self.use_scale,
                    param_dtype: self.param_dtype,
                    dtype: self.dtype,
                };
                normalize(x, &mean, &var, &reduction, &features, affine)
            },
        )
    }
}

layer_common!(BatchNorm, "BatchNorm", "BatchNorm::new(true)");

impl BatchNorm {
    /// Sets the initialiser of `scale` (Flax's `scale_init=`).
    ///
    /// ```
    /// use tabulate::nn::{initializers, with_partitioning, BatchNorm};
    ///
    /// let init = with_partitioning(initializers::ones(), ["embed"]);
    /// let layer = BatchNorm::new(true).scale_init(init.clone());
    /// assert_eq!(layer.scale_init, init);
    /// ```
    #[must_use]
    pub fn scale_init(mut self, init: Initializer) -> BatchNorm {
        self.scale_init = init;
        self
    }

    /// Sets the initialiser of `bias` (Flax's `bias_init=`).
    ///
    /// ```
    /// use tabulate::nn::{initializers, with_partitioning, BatchNorm};
    ///
    /// let init = with_partitioning(initializers::ones(), ["embed"]);
    /// let layer = BatchNorm::new(true).bias_init(init.clone());
    /// assert_eq!(layer.bias_init, init);
    /// ```
    #[must_use]
    pub fn bias_init(mut self, init: Initializer) -> BatchNorm {
        self.bias_init = init;
        self
    }
}
