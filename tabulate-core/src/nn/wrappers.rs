//! Modules that wrap a module: `nn.remat` (`nn.checkpoint`), `nn.SpectralNorm` and
//! `nn.WeightNorm`.

use super::combinators::Layer;
use crate::call::module_call;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::module::{ModuleIdentity, Tabulate, Visitor};
use crate::tensor::Tensor;
use crate::trace::{self, VarView};
use crate::variable::{param, variable};

/// `flax.linen.remat` (also `nn.checkpoint`): `module`, with its forward pass recomputed
/// in the backward pass instead of kept (`jax.checkpoint` with Flax's defaults:
/// `prevent_cse=True`, no saving policy).
///
/// As in Flax, the row of the wrapped call is named after `Checkpoint` and the wrapped
/// type (`CheckpointDense_0`) but shows the wrapped type (`Dense`) and the module's own
/// numbers; the rows above it pay for the recomputation in `vjp_flops`.
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::nn::{Dense, remat};
///
/// let layer = remat(Dense::new(4));
/// let x = Tensor::new(DType::F32, [16, 9]);
/// let summary = tabulate(&layer).run(|m| m.forward(&x))?;
/// assert_eq!(summary.rows[0].module_type, "Dense");
/// # Ok::<(), tabulate::Error>(())
/// ```
pub fn remat<M: Tabulate>(module: M) -> Remat<M> {
    Remat::new(module)
}

/// `flax.linen.checkpoint`, the same as [`remat`].
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::nn::{Dense, checkpoint};
///
/// let y = checkpoint(Dense::new(4)).forward(&Tensor::new(DType::F32, [2, 3]))?;
/// assert_eq!(y.to_string(), "float32[2,4]");
/// # Ok::<(), tabulate::Error>(())
/// ```
pub fn checkpoint<M: Tabulate>(module: M) -> Remat<M> {
    Remat::new(module)
}

/// A checkpointed module: see [`remat`]. Call it with [`Remat::call`] (any method), or
/// [`Remat::forward`] for a single-input layer.
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::nn::{Dense, Remat};
///
/// let layer = Remat::new(Dense::new(4));
/// let y = layer.call(|dense| dense.forward(&Tensor::new(DType::F32, [2, 3])))?;
/// assert_eq!(y.to_string(), "float32[2,4]");
/// # Ok::<(), tabulate::Error>(())
/// ```
// The module comes first, so that the wrapper and the module have one address: a wrapper
// held in a field is found by the module's calls.
#[repr(C)]
#[derive(Clone, Debug)]
pub struct Remat<M> {
    module: M,
}

impl<M: Tabulate> Remat<M> {
    /// Wraps `module`.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::{Dense, Remat};
    ///
    /// assert_eq!(Remat::new(Dense::new(4)).module().features, 4);
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn new(module: M) -> Remat<M> {
        Remat { module }
    }

    /// The wrapped module.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::{Dense, remat};
    ///
    /// assert!(remat(Dense::new(4)).module().use_bias);
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn module(&self) -> &M {
        &self.module
    }

    /// Runs `f` on the wrapped module; the first module call it makes is checkpointed.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::{Dense, remat};
    ///
    /// let layer = remat(Dense::new(3));
    /// let x = Tensor::new(DType::F32, [5, 2]);
    /// let summary = tabulate(&layer).run(|m| m.call(|d| d.forward(&x)))?;
    /// assert_eq!(summary.rows.len(), 1);
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn call<R>(&self, f: impl FnOnce(&M) -> R) -> R {
        trace::remat_call("Checkpoint", || f(&self.module))
    }
}

impl<M: Tabulate + Layer> Remat<M> {
    /// Applies the wrapped single-input layer, checkpointed.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::{Conv, remat};
    ///
    /// let y = remat(Conv::new(8, [3, 3])).forward(&Tensor::new(DType::F32, [1, 6, 6, 3]))?;
    /// assert_eq!(y.to_string(), "float32[1,6,6,8]");
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.call(|m| m.apply(x))
    }
}

/// Calls `layer` on `x` once as it is (Flax's `map_variables` initialises the layer that
/// way), then again with each of its variables seen through `view` (the view of a
/// variable that `view` leaves alone is the variable); returns the second result and the
/// views that differ. Outside a summary run, only the first call.
fn call_through_views(
    layer: &(impl Layer + ?Sized),
    x: &Tensor,
    mut view: impl FnMut(&str, &VarView) -> Result<Option<Tensor>>,
) -> Result<(Tensor, Vec<(trace::VarId, Tensor)>)> {
    let first = trace::call_count();
    let y = layer.apply(x)?;
    let Some(path) = trace::call_path(first) else {
        return Ok((y, Vec::new()));
    };
    let name = path.name().unwrap_or_default().to_string();
    let mut views = Vec::new();
    for var in trace::variables_under(&path) {
        if let Some(tensor) = view(&name, &var)? {
            views.push((var.id, tensor));
        }
    }
    let y = trace::with_variable_views(views.clone(), || layer.apply(x))?;
    Ok((y, views))
}

/// `layer/below/name` of a wrapped layer's variable, as Flax names the wrapper's own
/// variables after it.
fn variable_path(layer: &str, var: &VarView) -> String {
    let mut parts = vec![layer.to_string()];
    parts.extend(var.below.iter().cloned());
    parts.push(var.name.clone());
    parts.join("/")
}

/// Flax's `_l2_normalize`: `x * rsqrt(sum(x * x, axes, keepdims=True) + eps)`.
fn l2_normalize(x: &Tensor, axes: &[isize], eps: f64) -> Result<Tensor> {
    x.mul(&x.mul(x)?.sum(axes, true)?.add(eps)?.rsqrt()?)
}

/// Spectral normalisation (`flax.linen.SpectralNorm`): the wrapped layer runs with each
/// of its weight matrices divided by an estimate of its largest singular value, found by
/// `n_steps` of power iteration from a vector `u` kept in `batch_stats` with the estimate
/// `sigma` (named `{layer}/{variable}/u` and `…/sigma`, as Flax names them). Weights of
/// rank 3 or more are flattened to a matrix over their last dimension; vectors and
/// scalars are left alone. As Flax's `map_variables(mutable=True)`, the normalised weights
/// are written back to the layer's variables when `params` is mutable.
///
/// Flax builds the layer before the wrapper, so it is named next to it (`Dense_0` beside
/// `SpectralNorm_0`).
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::nn::{Dense, SpectralNorm};
///
/// let sn = SpectralNorm::new(Dense::new(4));
/// let x = Tensor::new(DType::F32, [16, 9]);
/// let summary = tabulate(&sn).run(|m| m.forward(&x, false))?;
/// assert_eq!(summary.rows[0].module_type, "SpectralNorm");
/// # Ok::<(), tabulate::Error>(())
/// ```
#[derive(Debug)]
pub struct SpectralNorm<M> {
    layer: M,
    /// Steps of power iteration (default 1; below 1, nothing is normalised).
    pub n_steps: usize,
    /// Added before the square root of each `l2` normalisation (default `1e-12`).
    pub epsilon: f64,
    /// The result's dtype (default: inferred).
    pub dtype: Option<DType>,
    /// The dtype of `u` and `sigma` (default `float32`).
    pub param_dtype: DType,
    /// Reject weights of rank 3 or more instead of flattening them (default `false`).
    pub error_on_non_matrix: bool,
    /// The collection of `u` and `sigma` (default `batch_stats`).
    pub collection_name: String,
    identity: ModuleIdentity,
}

impl<M: Layer + Tabulate> SpectralNorm<M> {
    /// Wraps `layer` with Flax's defaults.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::{Dense, SpectralNorm};
    ///
    /// let sn = SpectralNorm::new(Dense::new(4));
    /// assert_eq!((sn.n_steps, sn.collection_name.as_str()), (1, "batch_stats"));
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn new(layer: M) -> SpectralNorm<M> {
        SpectralNorm {
            layer,
            n_steps: 1,
            epsilon: 1e-12,
            dtype: None,
            param_dtype: DType::F32,
            error_on_non_matrix: false,
            collection_name: "batch_stats".to_string(),
            identity: ModuleIdentity::new(),
        }
    }

    /// Sets the number of power-iteration steps.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::{Dense, SpectralNorm};
    ///
    /// assert_eq!(SpectralNorm::new(Dense::new(4)).n_steps(3).n_steps, 3);
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    #[must_use]
    pub fn n_steps(mut self, n_steps: usize) -> Self {
        self.n_steps = n_steps;
        self
    }

    /// Names the module, as Flax's `name=`.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::{Dense, SpectralNorm};
    ///
    /// let sn = SpectralNorm::new(Dense::new(4)).name("sn");
    /// let summary = tabulate(&sn).run(|m| m.forward(&Tensor::new(DType::F32, [2, 3]), false))?;
    /// assert_eq!(summary.rows[0].module_type, "SpectralNorm");
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    #[must_use]
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.identity.set_name(name);
        self
    }

    /// Sets `epsilon`.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::{Dense, SpectralNorm};
    ///
    /// assert_eq!(SpectralNorm::new(Dense::new(4)).epsilon(1e-6).epsilon, 1e-6);
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    #[must_use]
    pub fn epsilon(mut self, epsilon: f64) -> Self {
        self.epsilon = epsilon;
        self
    }

    /// Sets the result's dtype.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::{Dense, SpectralNorm};
    ///
    /// assert_eq!(SpectralNorm::new(Dense::new(4)).dtype(DType::F16).dtype, Some(DType::F16));
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    #[must_use]
    pub fn dtype(mut self, dtype: DType) -> Self {
        self.dtype = Some(dtype);
        self
    }

    /// Sets the dtype of `u` and `sigma`.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::{Dense, SpectralNorm};
    ///
    /// let sn = SpectralNorm::new(Dense::new(4)).param_dtype(DType::BF16);
    /// assert_eq!(sn.param_dtype, DType::BF16);
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    #[must_use]
    pub fn param_dtype(mut self, dtype: DType) -> Self {
        self.param_dtype = dtype;
        self
    }

    /// Rejects weights of rank 3 or more.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::{Conv, SpectralNorm};
    ///
    /// let sn = SpectralNorm::new(Conv::new(4, [3, 3])).error_on_non_matrix(true);
    /// let x = Tensor::new(DType::F32, [1, 5, 5, 2]);
    /// let error = tabulate(&sn).run(|m| m.forward(&x, false)).unwrap_err();
    /// assert!(error.to_string().contains("Input is 4D but error_on_non_matrix is True"));
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    #[must_use]
    pub fn error_on_non_matrix(mut self, error: bool) -> Self {
        self.error_on_non_matrix = error;
        self
    }

    /// Sets the collection of `u` and `sigma`.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::{Dense, SpectralNorm};
    ///
    /// let sn = SpectralNorm::new(Dense::new(4)).collection_name("spectral");
    /// assert_eq!(sn.collection_name, "spectral");
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    #[must_use]
    pub fn collection_name(mut self, collection: impl Into<String>) -> Self {
        self.collection_name = collection.into();
        self
    }

    /// The wrapped layer.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::{Dense, SpectralNorm};
    ///
    /// assert_eq!(SpectralNorm::new(Dense::new(4)).layer().features, 4);
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn layer(&self) -> &M {
        &self.layer
    }

    /// Applies the layer with normalised weights; with `update_stats`, writes the new
    /// `u` and `sigma`.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::{Dense, SpectralNorm};
    ///
    /// let sn = SpectralNorm::new(Dense::new(4));
    /// let x = Tensor::new(DType::F32, [16, 9]);
    /// let summary = tabulate(&sn).compute_flops(true).run(|m| m.forward(&x, true))?;
    /// assert_eq!(summary.rows[0].flops(), Some(1518));
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn forward(&self, x: &Tensor, update_stats: bool) -> Result<Tensor> {
        module_call(
            self,
            "forward",
            |args| {
                args.positional(x);
                args.keyword("update_stats", &update_stats);
            },
            || {
                let (y, views) = call_through_views(&self.layer, x, |layer, var| {
                    self.normalize(layer, var, update_stats)
                })?;
                for (id, tensor) in &views {
                    trace::write_variable_by_id(*id, tensor);
                }
                Ok(y)
            },
        )
    }

    /// Flax's `_spectral_normalize` of one variable.
    fn normalize(&self, layer: &str, var: &VarView, update_stats: bool) -> Result<Option<Tensor>> {
        let value = &var.tensor;
        if value.rank() <= 1 || self.n_steps < 1 {
            return Ok(None);
        }
        let shape = value.shape().clone();
        let last = shape.dims()[value.rank() - 1];
        let matrix = if value.rank() > 2 {
            if self.error_on_non_matrix {
                return Err(Error::invalid(format!(
                    "Input is {}D but error_on_non_matrix is True",
                    value.rank()
                )));
            }
            value.reshape([-1, isize::try_from(last).unwrap_or(isize::MAX)])?
        } else {
            value.clone()
        };
        let base = variable_path(layer, var);
        let mut u_var = variable(
            &self.collection_name,
            &format!("{base}/u"),
            self.param_dtype,
            [1, last],
        )?;
        let mut sigma_var = variable(
            &self.collection_name,
            &format!("{base}/sigma"),
            self.param_dtype,
            [],
        )?;
        let mut u0 = u_var.value().clone();
        let mut v0 = u0.clone();
        for _ in 0..self.n_steps {
            v0 = l2_normalize(
                &u0.matmul(&matrix.transpose(&[1, 0])?)?,
                &[0, 1],
                self.epsilon,
            )?;
            u0 = l2_normalize(&v0.matmul(&matrix)?, &[0, 1], self.epsilon)?;
        }
        let u0 = u0.stop_gradient()?;
        let v0 = v0.stop_gradient()?;
        let sigma = v0
            .matmul(&matrix)?
            .matmul(&u0.transpose(&[1, 0])?)?
            .squeeze(0)?
            .squeeze(0)?;
        let one = Tensor::full(1.0, DType::I32, [])?;
        let divisor = sigma.not_equal(0.0)?.select(&sigma, &one)?;
        let normalized = matrix.div(&divisor)?.reshape(shape)?;
        if update_stats {
            u_var.set(u0.clone())?;
            sigma_var.set(sigma.clone())?;
        }
        let dtype = self.dtype.unwrap_or_else(|| {
            [value, &u0, &v0, &sigma]
                .iter()
                .map(|t| t.dtype())
                .reduce(DType::promote)
                .unwrap_or(DType::F32)
        });
        Ok(Some(normalized.astype(dtype)?))
    }
}

/// Weight normalisation (`flax.linen.WeightNorm`): the wrapped layer runs with each
/// variable whose path contains a name of `variable_filter` (default `kernel`)
/// `l2`-normalised over every axis but `feature_axes` (default the last) and, with
/// `use_scale`, multiplied by a learned `scale` (in `params`, named
/// `{layer}/{variable}/scale`, as Flax names it).
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::nn::{Dense, WeightNorm};
///
/// let wn = WeightNorm::new(Dense::new(3));
/// let x = Tensor::new(DType::F32, [16, 4]);
/// let summary = tabulate(&wn).run(|m| m.forward(&x))?;
/// assert_eq!(summary.rows[1].module_type, "Dense");
/// # Ok::<(), tabulate::Error>(())
/// ```
#[derive(Debug)]
pub struct WeightNorm<M> {
    layer: M,
    /// Added before the square root of the `l2` norm (default `1e-12`).
    pub epsilon: f64,
    /// The result's dtype (default: inferred).
    pub dtype: Option<DType>,
    /// The dtype of `scale` (default `float32`).
    pub param_dtype: DType,
    /// Whether to learn a `scale` (default `true`).
    pub use_scale: bool,
    /// The axes normalised separately (default `[-1]`); `None`: the whole variable.
    pub feature_axes: Option<Vec<isize>>,
    /// The variables normalised: those whose path contains one of these (default
    /// `kernel`); empty: all.
    pub variable_filter: Vec<String>,
    identity: ModuleIdentity,
}

impl<M: Layer + Tabulate> WeightNorm<M> {
    /// Wraps `layer` with Flax's defaults.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::{Dense, WeightNorm};
    ///
    /// let wn = WeightNorm::new(Dense::new(4));
    /// assert_eq!((wn.use_scale, wn.variable_filter.clone()), (true, vec!["kernel".to_string()]));
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn new(layer: M) -> WeightNorm<M> {
        WeightNorm {
            layer,
            epsilon: 1e-12,
            dtype: None,
            param_dtype: DType::F32,
            use_scale: true,
            feature_axes: Some(vec![-1]),
            variable_filter: vec!["kernel".to_string()],
            identity: ModuleIdentity::new(),
        }
    }

    /// Names the module, as Flax's `name=`.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::{Dense, WeightNorm};
    ///
    /// let wn = WeightNorm::new(Dense::new(4)).name("wn");
    /// let summary = tabulate(&wn).run(|m| m.forward(&Tensor::new(DType::F32, [2, 3])))?;
    /// assert_eq!(summary.rows[0].module_type, "WeightNorm");
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    #[must_use]
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.identity.set_name(name);
        self
    }

    /// Sets `epsilon`.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::{Dense, WeightNorm};
    ///
    /// assert_eq!(WeightNorm::new(Dense::new(4)).epsilon(1e-6).epsilon, 1e-6);
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    #[must_use]
    pub fn epsilon(mut self, epsilon: f64) -> Self {
        self.epsilon = epsilon;
        self
    }

    /// Sets the result's dtype.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::{Dense, WeightNorm};
    ///
    /// assert_eq!(WeightNorm::new(Dense::new(4)).dtype(DType::F16).dtype, Some(DType::F16));
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    #[must_use]
    pub fn dtype(mut self, dtype: DType) -> Self {
        self.dtype = Some(dtype);
        self
    }

    /// Sets the dtype of `scale`.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::{Dense, WeightNorm};
    ///
    /// assert_eq!(WeightNorm::new(Dense::new(4)).param_dtype(DType::BF16).param_dtype, DType::BF16);
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    #[must_use]
    pub fn param_dtype(mut self, dtype: DType) -> Self {
        self.param_dtype = dtype;
        self
    }

    /// Whether to learn a `scale`.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::{Dense, WeightNorm};
    ///
    /// assert!(!WeightNorm::new(Dense::new(4)).use_scale(false).use_scale);
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    #[must_use]
    pub fn use_scale(mut self, use_scale: bool) -> Self {
        self.use_scale = use_scale;
        self
    }

    /// Sets the feature axes (`None`: normalise each variable as a whole).
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::{Dense, WeightNorm};
    ///
    /// assert_eq!(WeightNorm::new(Dense::new(4)).feature_axes(None).feature_axes, None);
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    #[must_use]
    pub fn feature_axes(mut self, axes: Option<Vec<isize>>) -> Self {
        self.feature_axes = axes;
        self
    }

    /// Sets the variable filter (empty: every variable).
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::{Dense, WeightNorm};
    ///
    /// let wn = WeightNorm::new(Dense::new(4)).variable_filter(["kernel", "bias"]);
    /// assert_eq!(wn.variable_filter.len(), 2);
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    #[must_use]
    pub fn variable_filter<S: Into<String>>(mut self, names: impl IntoIterator<Item = S>) -> Self {
        self.variable_filter = names.into_iter().map(Into::into).collect();
        self
    }

    /// The wrapped layer.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::{Dense, WeightNorm};
    ///
    /// assert_eq!(WeightNorm::new(Dense::new(4)).layer().features, 4);
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn layer(&self) -> &M {
        &self.layer
    }

    /// Applies the layer with normalised weights.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::{Dense, WeightNorm};
    ///
    /// let wn = WeightNorm::new(Dense::new(3));
    /// let x = Tensor::new(DType::F32, [16, 4]);
    /// let summary = tabulate(&wn).compute_flops(true).run(|m| m.forward(&x))?;
    /// assert_eq!(summary.rows[0].flops(), Some(480));
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        module_call(
            self,
            "forward",
            |args| args.positional(x),
            || {
                call_through_views(&self.layer, x, |layer, var| self.normalize(layer, var))
                    .map(|(y, _)| y)
            },
        )
    }

    /// Flax's `WeightNorm._l2_normalize` of one variable.
    fn normalize(&self, layer: &str, var: &VarView) -> Result<Option<Tensor>> {
        let value = &var.tensor;
        let path = variable_path(layer, var);
        if !self.variable_filter.is_empty()
            && !self
                .variable_filter
                .iter()
                .any(|f| path.contains(f.as_str()))
        {
            return Ok(None);
        }
        let rank = value.rank();
        let feature_axes: Vec<usize> = match &self.feature_axes {
            None => Vec::new(),
            Some(axes) => {
                let mut out = Vec::new();
                for &a in axes {
                    let axis = usize::try_from(if a < 0 {
                        a + isize::try_from(rank).unwrap_or(isize::MAX)
                    } else {
                        a
                    })
                    .ok()
                    .filter(|&axis| axis < rank)
                    .ok_or_else(|| {
                        Error::shape(
                            "WeightNorm",
                            format!("feature axis {a} is out of range for {value}"),
                        )
                    })?;
                    if !out.contains(&axis) {
                        out.push(axis);
                    }
                }
                out.sort_unstable();
                out
            }
        };
        let reduction: Vec<isize> = (0..rank)
            .filter(|a| !feature_axes.contains(a))
            .map(|a| isize::try_from(a).unwrap_or(isize::MAX))
            .collect();
        let mut feature_shape = vec![1; rank];
        let mut reduced = Vec::new();
        for &a in &feature_axes {
            feature_shape[a] = value.shape().dims()[a];
            reduced.push(value.shape().dims()[a]);
        }
        let mut normalized = l2_normalize(value, &reduction, self.epsilon)?;
        let mut dtypes = vec![value.dtype()];
        if self.use_scale {
            let scale = param(&format!("{path}/scale"), self.param_dtype, reduced)?
                .reshape(crate::shape::Shape::new(feature_shape.clone()))?;
            normalized = normalized.mul(&scale)?;
            dtypes.push(scale.dtype());
        }
        let dtype = self.dtype.unwrap_or_else(|| {
            dtypes
                .into_iter()
                .reduce(DType::promote)
                .unwrap_or(DType::F32)
        });
        Ok(Some(normalized.astype(dtype)?))
    }
}

/// `flax.linen.vmap` of a single-input module: the module mapped over an axis of its
/// input, each collection's variables stacked along an axis (`variable_axes`) or shared
/// (`None`), as JAX's batching rules run it.
///
/// As in Flax, the row of the mapped call is named after `Vmap` and the module's type
/// (`VmapDense_0`), shows the module's type, its per-example inputs and outputs and its
/// stacked variables, and is costed as the module alone on one example; the rows above
/// it pay for the batched computation. `split_rngs` is accepted for Flax's spelling (the
/// forward pass draws no random numbers here). Not modelled yet (a clear error): a
/// mapped call that writes variables, draws random numbers, or uses a primitive
/// without a batching rule here (convolutions, gathers, windows, loops, `remat`).
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::nn::{Dense, vmap};
///
/// let layer = vmap(Dense::new(4)).variable_axes("params", Some(0));
/// let x = Tensor::new(DType::F32, [5, 16, 9]);
/// let summary = tabulate(&layer).compute_flops(true).run(|m| m.forward(&x))?;
/// assert_eq!(summary.rows[0].flops(), Some(1216)); // one example, as Flax costs the row
/// # Ok::<(), tabulate::Error>(())
/// ```
pub fn vmap<M: Tabulate + Layer>(module: M) -> Vmap<M> {
    Vmap::new(module)
}

/// A mapped module: see [`vmap`].
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::nn::{Dense, Vmap};
///
/// let y = Vmap::new(Dense::new(4)).in_axes(Some(1)).forward(&Tensor::new(DType::F32, [16, 5, 9]))?;
/// assert_eq!(y.to_string(), "float32[5,16,4]");
/// # Ok::<(), tabulate::Error>(())
/// ```
#[repr(C)]
#[derive(Clone, Debug)]
pub struct Vmap<M> {
    module: M,
    variable_axes: Vec<(String, Option<usize>)>,
    split_rngs: Vec<(String, bool)>,
    in_axes: Option<usize>,
    out_axes: usize,
    axis_size: Option<usize>,
}

impl<M: Tabulate + Layer> Vmap<M> {
    /// Maps `module` with Flax's defaults: input and output axis 0, no collection
    /// stacked (set [`Vmap::variable_axes`]).
    ///
    /// ```
    /// use tabulate::nn::{Dense, Vmap};
    ///
    /// assert_eq!(Vmap::new(Dense::new(4)).module().features, 4);
    /// ```
    pub fn new(module: M) -> Vmap<M> {
        Vmap {
            module,
            variable_axes: Vec::new(),
            split_rngs: Vec::new(),
            in_axes: Some(0),
            out_axes: 0,
            axis_size: None,
        }
    }

    /// Stacks the variables of `collection` along `axis` (`None`: shared by every
    /// example), as an entry of Flax's `variable_axes`.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::{Dense, vmap};
    ///
    /// let layer = vmap(Dense::new(4)).variable_axes("params", Some(0));
    /// let x = Tensor::new(DType::F32, [5, 16, 9]);
    /// let summary = tabulate(&layer).run(|m| m.forward(&x))?;
    /// assert_eq!(summary.rows[0].variables[0].own[1].shape.dims(), [5, 9, 4]);
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    #[must_use]
    pub fn variable_axes(mut self, collection: impl Into<String>, axis: Option<usize>) -> Self {
        let collection = collection.into();
        self.variable_axes.retain(|(c, _)| *c != collection);
        self.variable_axes.push((collection, axis));
        self
    }

    /// Whether the random stream `stream` is split per example (Flax's `split_rngs`).
    ///
    /// ```
    /// use tabulate::nn::{Dense, vmap};
    ///
    /// let layer = vmap(Dense::new(4)).split_rngs("params", true);
    /// assert_eq!(layer.module().features, 4);
    /// ```
    #[must_use]
    pub fn split_rngs(mut self, stream: impl Into<String>, split: bool) -> Self {
        self.split_rngs.push((stream.into(), split));
        self
    }

    /// The input's mapped axis (`None`: the same input for every example; then give
    /// [`Vmap::axis_size`]).
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::{Dense, vmap};
    ///
    /// let y = vmap(Dense::new(4)).in_axes(None).axis_size(3).forward(&Tensor::new(DType::F32, [2, 9]))?;
    /// assert_eq!(y.to_string(), "float32[3,2,4]");
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    #[must_use]
    pub fn in_axes(mut self, axis: Option<usize>) -> Self {
        self.in_axes = axis;
        self
    }

    /// Where the output's mapped axis goes.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::{Dense, vmap};
    ///
    /// let y = vmap(Dense::new(4)).out_axes(1).forward(&Tensor::new(DType::F32, [5, 16, 9]))?;
    /// assert_eq!(y.to_string(), "float32[16,5,4]");
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    #[must_use]
    pub fn out_axes(mut self, axis: usize) -> Self {
        self.out_axes = axis;
        self
    }

    /// The number of examples, when the input is not mapped.
    ///
    /// ```
    /// use tabulate::nn::{Dense, vmap};
    ///
    /// let layer = vmap(Dense::new(4)).in_axes(None).axis_size(8);
    /// assert_eq!(layer.module().features, 4);
    /// ```
    #[must_use]
    pub fn axis_size(mut self, size: usize) -> Self {
        self.axis_size = Some(size);
        self
    }

    /// The mapped module.
    ///
    /// ```
    /// use tabulate::nn::{Dense, vmap};
    ///
    /// assert!(vmap(Dense::new(4)).module().use_bias);
    /// ```
    pub fn module(&self) -> &M {
        &self.module
    }

    /// Applies the module to every example of `x`.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::{Dense, vmap};
    ///
    /// let layer = vmap(Dense::new(4)).variable_axes("params", Some(0));
    /// let x = Tensor::new(DType::F32, [5, 16, 9]);
    /// let summary = tabulate(&layer).compute_flops(true).compute_vjp_flops(true).run(|m| m.forward(&x))?;
    /// assert_eq!(summary.rows[0].path.join("/"), "");
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (per_example, size) = if let Some(axis) = self.in_axes {
            if axis >= x.rank() {
                return Err(Error::shape(
                    "vmap",
                    format!("in_axes {axis} is out of range for {x}"),
                ));
            }
            let mut dims = x.shape().dims().to_vec();
            let size = dims.remove(axis);
            if self.axis_size.is_some_and(|s| s != size) {
                return Err(Error::shape(
                    "vmap",
                    format!("axis_size {size} differs from {x}'s axis {axis}"),
                ));
            }
            (Tensor::new(x.dtype(), dims), size)
        } else {
            let Some(size) = self.axis_size else {
                return Err(Error::invalid("vmap: with in_axes None, give axis_size"));
            };
            (x.clone(), size)
        };
        let first = trace::call_count();
        let y = trace::lifted_call("Vmap", || self.module.apply(&per_example))?;
        trace::vmap_finish(
            first,
            &per_example,
            x,
            &y,
            &trace::VmapAxes {
                variable_axes: self.variable_axes.clone(),
                in_axis: self.in_axes,
                out_axis: self.out_axes,
                size,
            },
        )
    }
}

/// `Tabulate` of the wrappers: a lifted transform (`transparent:`) takes the type name,
/// submodules and identity of the module it wraps (`self.module`), as Flax's lifted
/// modules do; a norm wrapper (`named:`) is a row of its own whose one child is the
/// wrapped layer, `layer_instance`.
macro_rules! wrapper_tabulate {
    (transparent: $($ty:ident),*) => {$(
        impl<M: Tabulate> Tabulate for $ty<M> {
            fn type_name(&self) -> &'static str {
                self.module.type_name()
            }

            fn visit_submodules(&self, visitor: &mut dyn Visitor) {
                self.module.visit_submodules(visitor);
            }

            fn identity(&self) -> Option<&ModuleIdentity> {
                self.module.identity()
            }

            fn fields_are_attributes(&self) -> bool {
                self.module.fields_are_attributes()
            }
        }
    )*};
    (named: $($ty:ident),*) => {$(
        impl<M: Tabulate> Tabulate for $ty<M> {
            fn type_name(&self) -> &'static str {
                stringify!($ty)
            }

            fn visit_submodules(&self, visitor: &mut dyn Visitor) {
                visitor.visit("layer_instance", &self.layer);
            }

            fn identity(&self) -> Option<&ModuleIdentity> {
                Some(&self.identity)
            }

            fn fields_are_attributes(&self) -> bool {
                false
            }
        }
    )*};
}

wrapper_tabulate!(transparent: Remat, Vmap);
wrapper_tabulate!(named: SpectralNorm, WeightNorm);
super::combinators::single_input_layers!(generic: Remat, WeightNorm, Vmap);
