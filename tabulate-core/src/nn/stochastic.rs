//! `Dropout` (`flax.linen.stochastic`) and the random mask it draws.

use super::linear::layer_common;
use crate::call::module_call;
use crate::error::{Error, Result};
use crate::lax;
use crate::module::{ModuleIdentity, Tabulate};
use crate::random;
use crate::shape::normalize_axis;
use crate::tensor::Tensor;

/// A `bool` mask of `shape`, true with probability `keep`, drawn from the current
/// module's `dropout` stream (`random.bernoulli(self.make_rng('dropout'), keep, shape)`).
pub(crate) fn dropout_mask(stream: &str, keep: f64, shape: &[usize]) -> Result<Tensor> {
    let key = random::make_rng(stream)?;
    random::bernoulli(&key, keep, shape)
}

/// Randomly zeroes inputs with probability `rate` and scales the rest by `1/(1−rate)`
/// (`flax.linen.Dropout`). Deterministic calls return the input: no ops, no FLOPs.
/// A stochastic call draws from the `dropout` random stream, which the run must provide
/// ([`Tabulator::rngs`](crate::Tabulator::rngs)); without it the call fails, as in Flax.
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::nn::Dropout;
///
/// let x = Tensor::new(DType::F32, [2, 16, 64]);
/// assert_eq!(Dropout::new(0.1).forward(&x, true)?.to_string(), "float32[2,16,64]");
/// # Ok::<(), tabulate::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Dropout {
    /// The probability of dropping an element (not the keep rate).
    pub rate: f64,
    /// Dimensions that share one mask value.
    pub broadcast_dims: Vec<isize>,
    /// The random stream the mask is drawn from (default `dropout`).
    pub rng_collection: String,
    /// Whether dropout is off, if given at construction; otherwise it is given at the call
    /// (exactly one of the two, Flax's `merge_param`).
    pub deterministic: Option<bool>,
    identity: ModuleIdentity,
}

impl Dropout {
    /// Dropout with probability `rate`.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::Dropout;
    ///
    /// let x = Tensor::new(DType::F32, [4, 16, 32]);
    /// let layer = Dropout::new(0.1);
    /// assert_eq!(layer.forward(&x, true)?.to_string(), "float32[4,16,32]");
    /// let total = tabulate(&layer).run(|l| l.forward(&x, true))?.total();
    /// assert_eq!((total.count, total.bytes), (0, 0)); // as Flax 0.12.8 counts them
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn new(rate: f64) -> Dropout {
        Dropout {
            rate,
            broadcast_dims: Vec::new(),
            rng_collection: "dropout".to_string(),
            deterministic: None,
            identity: ModuleIdentity::new(),
        }
    }

    /// Sets the dimensions that share one mask value.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::Dropout;
    ///
    /// let x = Tensor::new(DType::F32, [4, 16, 32]);
    /// let layer = Dropout::new(0.1).broadcast_dims([1]);
    /// assert_eq!(layer.forward(&x, true)?.to_string(), "float32[4,16,32]");
    /// let total = tabulate(&layer).run(|l| l.forward(&x, true))?.total();
    /// assert_eq!((total.count, total.bytes), (0, 0)); // as Flax 0.12.8 counts them
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    #[must_use]
    pub fn broadcast_dims(mut self, dims: impl IntoIterator<Item = isize>) -> Dropout {
        self.broadcast_dims = dims.into_iter().collect();
        self
    }

    /// Sets the random stream the mask is drawn from.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::Dropout;
    ///
    /// let x = Tensor::new(DType::F32, [4, 16]);
    /// let dropout = Dropout::new(0.1).rng_collection("noise");
    /// // Not deterministic: the mask is drawn from the `noise` stream, which the run must provide.
    /// let summary = tabulate(&dropout).rngs(["noise"]).run(|d| d.forward(&x, false))?;
    /// assert_eq!(summary.rows.len(), 1);
    /// assert!(tabulate(&dropout).rngs(["dropout"]).run(|d| d.forward(&x, false)).is_err());
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    #[must_use]
    pub fn rng_collection(mut self, stream: impl Into<String>) -> Dropout {
        self.rng_collection = stream.into();
        self
    }

    /// Sets `deterministic` at construction, as Flax's `Dropout(rate, deterministic=…)`;
    /// then call with `None`.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::Dropout;
    ///
    /// let x = Tensor::new(DType::F32, [4, 16, 32]);
    /// let layer = Dropout::new(0.1).deterministic(true);
    /// assert_eq!(layer.forward(&x, None)?.to_string(), "float32[4,16,32]");
    /// let total = tabulate(&layer).run(|l| l.forward(&x, None))?.total();
    /// assert_eq!((total.count, total.bytes), (0, 0)); // as Flax 0.12.8 counts them
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    #[must_use]
    pub fn deterministic(mut self, deterministic: bool) -> Dropout {
        self.deterministic = Some(deterministic);
        self
    }

    /// Applies dropout unless deterministic. `deterministic` is the call's keyword
    /// (`dropout(x, deterministic=…)`, shown in the inputs cell) or `None` to use the
    /// layer's (`dropout(x)`); exactly one of the two must be given, as Flax's
    /// `merge_param` requires.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::Dropout;
    ///
    /// let x = Tensor::new(DType::F32, [4, 16, 32]);
    /// let layer = Dropout::new(0.5);
    /// assert_eq!(layer.forward(&x, true)?.to_string(), "float32[4,16,32]");
    /// let total = tabulate(&layer).run(|l| l.forward(&x, true))?.total();
    /// assert_eq!((total.count, total.bytes), (0, 0)); // as Flax 0.12.8 counts them
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn forward(&self, x: &Tensor, deterministic: impl Into<Option<bool>>) -> Result<Tensor> {
        let deterministic = deterministic.into();
        module_call(
            self,
            "forward",
            |args| {
                args.positional(x);
                if let Some(deterministic) = &deterministic {
                    args.keyword("deterministic", deterministic);
                }
            },
            || {
                let deterministic =
                    super::merge_param("deterministic", self.deterministic, deterministic)?;
                self.apply(x, deterministic)
            },
        )
    }

    fn apply(&self, x: &Tensor, deterministic: bool) -> Result<Tensor> {
        if !(0.0..=1.0).contains(&self.rate) {
            return Err(Error::invalid(format!(
                "Dropout: the rate must be in [0, 1], got {}",
                self.rate
            )));
        }
        if self.rate == 0.0 || deterministic {
            return Ok(x.clone());
        }
        #[allow(clippy::float_cmp)] // Flax tests this exact value
        if self.rate == 1.0 {
            return Tensor::zeros(x.dtype(), x.shape().clone());
        }
        let keep = 1.0 - self.rate;
        let mut mask_shape = x.shape().dims().to_vec();
        for &dim in &self.broadcast_dims {
            let axis = normalize_axis(dim, x.rank()).ok_or_else(|| {
                Error::invalid(format!(
                    "Dropout: broadcast dimension {dim} is out of range for {x}"
                ))
            })?;
            mask_shape[axis] = 1;
        }
        let mask = dropout_mask(&self.rng_collection, keep, &mask_shape)?
            .broadcast_to(x.shape().clone())?;
        // `lax.select(mask, x / keep, zeros_like(x))`: no `jnp.where` call around it.
        let kept = x.div(keep)?;
        lax::select_n(&mask, &Tensor::zeros(x.dtype(), x.shape().clone())?, &kept)
    }
}

layer_common!(Dropout, "Dropout", "Dropout::new(0.1)");
