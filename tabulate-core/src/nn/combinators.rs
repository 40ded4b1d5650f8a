//! `Sequential` (`flax.linen.combinators`) and the [`Layer`] trait it chains.

use crate::call::module_call;
use crate::error::Result;
use crate::module::{ModuleIdentity, Tabulate, Visitor};
use crate::tensor::Tensor;

/// Something that maps one tensor to one tensor: a single-input layer, or a function such
/// as [`relu`](super::relu). Layers are modules (they get a row); functions are not.
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::nn::{Dense, Layer, relu};
///
/// let x = Tensor::new(DType::F32, [2, 3]);
/// let layers: Vec<Box<dyn Layer>> = vec![Box::new(Dense::new(4)), Box::new(relu)];
/// let mut h = x.clone();
/// for layer in &layers {
///     h = layer.apply(&h)?;
/// }
/// assert_eq!(h.shape().dims(), [2, 4]);
/// assert!(layers[0].as_module().is_some() && layers[1].as_module().is_none());
/// # Ok::<(), tabulate::Error>(())
/// ```
pub trait Layer {
    /// Applies the layer.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::{Dense, Layer, relu};
    ///
    /// let x = Tensor::new(DType::F32, [3, 5]);
    /// // Layers, activations and closures all apply to a tensor.
    /// assert_eq!(Dense::new(4).apply(&x)?.to_string(), "float32[3,4]");
    /// assert_eq!(relu.apply(&x)?.to_string(), "float32[3,5]");
    /// assert_eq!((|t: &Tensor| t.mul(2.0)).apply(&x)?.to_string(), "float32[3,5]");
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    fn apply(&self, x: &Tensor) -> Result<Tensor>;

    /// The layer as a module, if it is one.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::{Dense, Layer, relu};
    ///
    /// assert!(Dense::new(4).as_module().is_some()); // a row of its own
    /// assert!(relu.as_module().is_none()); // a function: no row
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    fn as_module(&self) -> Option<&dyn Tabulate> {
        None
    }
}

impl<F: Fn(&Tensor) -> Result<Tensor>> Layer for F {
    fn apply(&self, x: &Tensor) -> Result<Tensor> {
        self(x)
    }
}

/// Implements [`Layer`] for modules whose `forward` takes one tensor; `generic:` for
/// wrappers generic over the module they wrap (`Remat<M>`).
macro_rules! single_input_layers {
    (generic: $($ty:ident),* $(,)?) => {$(
        impl<M: Tabulate + Layer> Layer for $ty<M> {
            fn apply(&self, x: &Tensor) -> Result<Tensor> {
                self.forward(x)
            }

            fn as_module(&self) -> Option<&dyn Tabulate> {
                Some(self)
            }
        }
    )*};
    ($($ty:ty),* $(,)?) => {$(
        impl Layer for $ty {
            fn apply(&self, x: &Tensor) -> Result<Tensor> {
                self.forward(x)
            }

            fn as_module(&self) -> Option<&dyn Tabulate> {
                Some(self)
            }
        }
    )*};
}
pub(crate) use single_input_layers;

single_input_layers!(
    super::Dense,
    super::DenseGeneral,
    super::Einsum,
    super::Embed,
    super::Conv,
    super::ConvTranspose,
    super::LayerNorm,
    super::RMSNorm,
    super::GroupNorm,
    super::BatchNorm,
    Sequential,
);

/// Applies layers in order, each to the previous one's output (`flax.linen.Sequential`).
/// Layers built inside a parent's `forward` belong to that parent, as in Flax
/// (`Dense_0`, `Dense_1` next to `Sequential_0`); layers of a `Sequential` built before
/// the run are its fields `layers_0`, `layers_1`, ….
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::nn::{Dense, Sequential, relu};
///
/// let mlp = Sequential::new().then(Dense::new(5)).then(relu).then(Dense::new(3));
/// let summary = tabulate(&mlp).run(|m| m.forward(&Tensor::new(DType::F32, [2, 4])))?;
/// let paths: Vec<_> = summary.rows.iter().map(|r| r.path.join("/")).collect();
/// assert_eq!(paths, ["", "layers_0", "layers_2"]);
/// # Ok::<(), tabulate::Error>(())
/// ```
pub struct Sequential {
    layers: Vec<Box<dyn Layer>>,
    identity: ModuleIdentity,
}

impl Sequential {
    /// An empty chain; add layers with [`Sequential::then`].
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::{Dense, LayerNorm, Sequential, gelu, relu};
    ///
    /// let x = Tensor::new(DType::F32, [3, 5]);
    /// let layer = Sequential::new().then(Dense::new(8)).then(relu).then(Dense::new(2));
    /// assert_eq!(layer.forward(&x)?.to_string(), "float32[3,2]");
    /// let total = tabulate(&layer).run(|l| l.forward(&x))?.total();
    /// assert_eq!((total.count, total.bytes), (66, 264)); // as Flax 0.12.8 counts them
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn new() -> Sequential {
        Sequential {
            layers: Vec::new(),
            identity: ModuleIdentity::new(),
        }
    }

    /// Appends a layer or a function.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::{Dense, LayerNorm, Sequential, gelu, relu};
    ///
    /// let x = Tensor::new(DType::F32, [3, 5]);
    /// let layer = Sequential::new().then(Dense::new(8)).then(LayerNorm::new());
    /// assert_eq!(layer.forward(&x)?.to_string(), "float32[3,8]");
    /// let total = tabulate(&layer).run(|l| l.forward(&x))?.total();
    /// assert_eq!((total.count, total.bytes), (64, 256)); // as Flax 0.12.8 counts them
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    #[must_use]
    pub fn then(mut self, layer: impl Layer + 'static) -> Sequential {
        self.layers.push(Box::new(layer));
        self
    }

    /// Names the module, as Flax's `name=`.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::{Dense, Sequential, relu};
    ///
    /// #[derive(Tabulate)]
    /// struct Net;
    ///
    /// impl Net {
    ///     #[forward]
    ///     fn forward(&self, x: &Tensor) -> Result<Tensor> {
    ///         Sequential::new().then(Dense::new(4)).then(relu).name("mlp").forward(x)
    ///     }
    /// }
    ///
    /// let summary = tabulate(&Net).run(|n| n.forward(&Tensor::new(DType::F32, [2, 3])))?;
    /// assert_eq!(summary.rows[1].path, ["mlp"]);
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    #[must_use]
    pub fn name(mut self, name: impl Into<String>) -> Sequential {
        self.identity.set_name(name);
        self
    }

    /// Applies the layers in order.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::{Dense, LayerNorm, Sequential, gelu, relu};
    ///
    /// let x = Tensor::new(DType::F32, [3, 5]);
    /// let layer = Sequential::new().then(Dense::new(4)).then(gelu);
    /// assert_eq!(layer.forward(&x)?.to_string(), "float32[3,4]");
    /// let total = tabulate(&layer).run(|l| l.forward(&x))?.total();
    /// assert_eq!((total.count, total.bytes), (24, 96)); // as Flax 0.12.8 counts them
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        module_call(
            self,
            "forward",
            |args| args.positional(x),
            || {
                if self.layers.is_empty() {
                    return Err(crate::error::Error::invalid(
                        "Sequential: there are no layers to apply",
                    ));
                }
                self.layers
                    .iter()
                    .try_fold(x.clone(), |x, layer| layer.apply(&x))
            },
        )
    }
}

impl Default for Sequential {
    fn default() -> Sequential {
        Sequential::new()
    }
}

impl std::fmt::Debug for Sequential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sequential")
            .field("layers", &self.layers.len())
            .finish_non_exhaustive()
    }
}

impl Tabulate for Sequential {
    fn type_name(&self) -> &'static str {
        "Sequential"
    }

    fn visit_submodules(&self, visitor: &mut dyn Visitor) {
        for (i, layer) in self.layers.iter().enumerate() {
            if let Some(module) = layer.as_module() {
                visitor.visit(&format!("layers_{i}"), module);
            }
        }
    }

    fn identity(&self) -> Option<&ModuleIdentity> {
        Some(&self.identity)
    }

    fn fields_are_attributes(&self) -> bool {
        false
    }
}
