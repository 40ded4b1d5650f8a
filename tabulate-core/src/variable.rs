//! Declaring and updating variables from inside a module's forward pass, as Flax's
//! `self.param` and `self.variable` do. Shapes may depend on the inputs; a variable is
//! declared once per module and returned again on later calls.

use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::param::Param;
use crate::shape::Shape;
use crate::spec::Spec;
use crate::tensor::Tensor;
use crate::trace;

/// Declares (or fetches) the parameter `name` of the current module, in collection
/// `params`, and returns its value. Outside a summary run it returns a tensor of that
/// dtype and shape, so layers also run without a summary.
///
/// ```
/// use tabulate::prelude::*;
/// /// A layer of your own: `y = x · kernel * scale`, with Flax's parameter names.
/// #[derive(Tabulate)]
/// struct ScaledLinear {
///     features: usize,
/// }
///
/// impl ScaledLinear {
///     #[forward]
///     fn forward(&self, x: &Tensor) -> Result<Tensor> {
///         let inputs = x.dim(-1)?;
///         let kernel = tabulate::param("kernel", DType::F32, [inputs, self.features])?;
///         let scale = tabulate::param("scale", DType::F32, [self.features])?;
///         x.matmul(&kernel)?.mul(&scale)
///     }
/// }
///
/// let x = Tensor::new(DType::F32, [16, 9]);
/// let summary = tabulate(&ScaledLinear { features: 4 }).compute_flops(true).run(|m| m.forward(&x))?;
/// assert_eq!(summary.total().count, 9 * 4 + 4);
/// assert_eq!(summary.rows[0].flops(), Some(16 * 4 * 2 * 9 + 16 * 4)); // XLA: 2 per multiply-add, 1 per mul
/// assert_eq!(tabulate::param("w", DType::F32, [2])?.to_string(), "float32[2]"); // outside a run
/// # Ok::<(), tabulate::Error>(())
/// ```
pub fn param(name: &str, dtype: DType, shape: impl Into<Shape>) -> Result<Tensor> {
    declare("params", name, Spec::new(dtype, shape))
}

/// Declares (or fetches) variable `name` in `collection` on the current module.
///
/// Declaring a new variable needs the collection to be mutable (see
/// [`Mutable`](crate::Mutable)); otherwise this returns
/// [`ErrorKind::NotMutable`](crate::ErrorKind::NotMutable), as Flax raises
/// `ScopeCollectionNotFound`.
///
/// ```
/// use tabulate::prelude::*;
/// /// Counts the calls, as a Flax module keeps a counter in a collection of its own.
/// #[derive(Tabulate)]
/// struct Counted;
///
/// impl Counted {
///     #[forward]
///     fn forward(&self, x: &Tensor) -> Result<Tensor> {
///         let mut calls = tabulate::variable("counter", "calls", DType::I32, tabulate::Shape::scalar())?;
///         let next = calls.value().add(1)?;
///         calls.set(next)?;
///         Ok(x.clone())
///     }
/// }
///
/// let summary = tabulate(&Counted).run(|m| m.forward(&Tensor::new(DType::F32, [3])))?;
/// assert_eq!(summary.collections, ["counter"]);
/// assert_eq!(summary.total().count, 1);
/// # Ok::<(), tabulate::Error>(())
/// ```
pub fn variable(
    collection: &str,
    name: &str,
    dtype: DType,
    shape: impl Into<Shape>,
) -> Result<Variable> {
    let value = declare(collection, name, Spec::new(dtype, shape))?;
    Ok(Variable {
        collection: collection.to_string(),
        name: name.to_string(),
        value,
    })
}

/// Declares (or fetches) variable `name` of `spec` in `collection` and returns its value,
/// without a [`Variable`] handle (`param` needs none).
fn declare(collection: &str, name: &str, spec: Spec) -> Result<Tensor> {
    let bytes = spec
        .shape
        .checked_elements()
        .and_then(|n| n.checked_mul(spec.dtype.item_size()));
    if bytes.is_none() {
        return Err(Error::invalid(format!(
            "variable `{name}` in collection `{collection}`: {spec} is too large: its size in bytes does not fit in 64 bits"
        )));
    }
    trace::declare_variable(collection, name, spec)
}

/// Whether `collection` may be written in the running summary (always true outside one).
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::Mutable;
///
/// /// Updates its statistics only when the run lets it, as Flax's `self.is_mutable_collection`.
/// #[derive(Tabulate)]
/// struct Stats;
///
/// impl Stats {
///     #[forward]
///     fn forward(&self, x: &Tensor) -> Result<Tensor> {
///         if tabulate::is_mutable_collection("stats") {
///             tabulate::variable("stats", "mean", DType::F32, [x.dim(-1)?])?;
///         }
///         Ok(x.clone())
///     }
/// }
///
/// let x = Tensor::new(DType::F32, [2, 5]);
/// assert_eq!(tabulate(&Stats).run(|m| m.forward(&x))?.collections, ["stats"]);
/// let frozen = tabulate(&Stats).mutable(Mutable::Nothing).run(|m| m.forward(&x))?;
/// assert!(frozen.collections.is_empty());
/// # Ok::<(), tabulate::Error>(())
/// ```
pub fn is_mutable_collection(collection: &str) -> bool {
    trace::is_mutable(collection)
}

/// A handle on a declared variable.
///
/// ```
/// use tabulate::prelude::*;
/// #[derive(Tabulate)]
/// struct Ema;
///
/// impl Ema {
///     #[forward]
///     fn forward(&self, x: &Tensor) -> Result<Tensor> {
///         let mut mean = tabulate::variable("batch_stats", "mean", DType::F32, [x.dim(-1)?])?;
///         assert_eq!((mean.collection(), mean.name()), ("batch_stats", "mean"));
///         let updated = mean.value().mul(0.9)?.add(&x.mean(&[0], false)?.mul(0.1)?)?;
///         mean.set(updated)?; // a write: same dtype and shape, in a mutable collection
///         Ok(x.clone())
///     }
/// }
///
/// let summary = tabulate(&Ema).compute_flops(true).run(|m| m.forward(&Tensor::new(DType::F32, [8, 4])))?;
/// assert_eq!(summary.collections, ["batch_stats"]);
/// # Ok::<(), tabulate::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Variable {
    collection: String,
    name: String,
    value: Tensor,
}

impl Variable {
    /// The current value.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// #[derive(Tabulate)]
    /// struct Counter;
    ///
    /// impl Counter {
    ///     #[forward]
    ///     fn forward(&self, x: &Tensor) -> Result<Tensor> {
    ///         let steps = tabulate::variable("stats", "steps", DType::I32, [])?;
    ///         assert_eq!(steps.value().to_string(), "int32[]");
    ///         Ok(x.clone())
    ///     }
    /// }
    ///
    /// tabulate(&Counter).run(|m| m.forward(&Tensor::new(DType::F32, [2])))?;
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn value(&self) -> &Tensor {
        &self.value
    }

    /// The collection it lives in.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// #[derive(Tabulate)]
    /// struct Counter;
    ///
    /// impl Counter {
    ///     #[forward]
    ///     fn forward(&self, x: &Tensor) -> Result<Tensor> {
    ///         let steps = tabulate::variable("stats", "steps", DType::I32, [])?;
    ///         assert_eq!(steps.collection(), "stats");
    ///         Ok(x.clone())
    ///     }
    /// }
    ///
    /// tabulate(&Counter).run(|m| m.forward(&Tensor::new(DType::F32, [2])))?;
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn collection(&self) -> &str {
        &self.collection
    }

    /// Its name.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// #[derive(Tabulate)]
    /// struct Counter;
    ///
    /// impl Counter {
    ///     #[forward]
    ///     fn forward(&self, x: &Tensor) -> Result<Tensor> {
    ///         let steps = tabulate::variable("stats", "steps", DType::I32, [])?;
    ///         assert_eq!(steps.name(), "steps");
    ///         Ok(x.clone())
    ///     }
    /// }
    ///
    /// tabulate(&Counter).run(|m| m.forward(&Tensor::new(DType::F32, [2])))?;
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Replaces the value (the new value must keep the dtype and shape).
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// #[derive(Tabulate)]
    /// struct Counter;
    ///
    /// impl Counter {
    ///     #[forward]
    ///     fn forward(&self, x: &Tensor) -> Result<Tensor> {
    ///         let mut steps = tabulate::variable("stats", "steps", DType::I32, [])?;
    ///         steps.set(steps.value().add(1)?)?;
    ///         // The value keeps its dtype and shape:
    ///         assert!(steps.set(Tensor::new(DType::F32, [])).is_err());
    ///         Ok(x.clone())
    ///     }
    /// }
    ///
    /// tabulate(&Counter).run(|m| m.forward(&Tensor::new(DType::F32, [2])))?;
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn set(&mut self, value: Tensor) -> Result<()> {
        if value.spec() != self.value.spec() {
            return Err(Error::invalid(format!(
                "variable `{}` in collection `{}` holds {}; cannot store {}",
                self.name, self.collection, self.value, value
            )));
        }
        trace::write_variable(&self.collection, &self.name, &value)?;
        self.value = value;
        Ok(())
    }
}

impl Param {
    /// The parameter's value: the variable its field declared when its module's call
    /// opened, recorded as a read by the running call (so FLOPs and the VJP see it, as a
    /// tensor from [`param`] would be). Outside a summary run, a fresh tensor of its dtype
    /// and shape.
    ///
    /// An error when the `Param` is not a field of a module whose call is open (a local
    /// value, a `#[tabulate(skip)]` field, a field of a module that was not called), or
    /// when its declaration failed (its collection is not mutable, its size overflows).
    ///
    /// ```
    /// use tabulate::prelude::*;
    ///
    /// #[derive(Tabulate)]
    /// struct Scale {
    ///     gain: Param,
    /// }
    ///
    /// impl Scale {
    ///     #[forward]
    ///     fn forward(&self, x: &Tensor) -> Result<Tensor> {
    ///         x.mul(&self.gain.get()?)
    ///     }
    /// }
    ///
    /// let scale = Scale { gain: Param::new(DType::F32, [8]) };
    /// let x = Tensor::new(DType::F32, [2, 8]);
    /// let summary = tabulate(&scale)
    ///     .compute_flops(true)
    ///     .compute_vjp_flops(true)
    ///     .run(|s| s.forward(&x))?;
    /// assert_eq!(summary.rows[0].variables[0].own[0].name, "gain");
    /// // Flax's numbers for `x * self.param('gain', zeros, (8,))`.
    /// assert_eq!(summary.rows[0].flops(), Some(16));
    /// assert_eq!(summary.rows[0].vjp_flops(), Some(64));
    ///
    /// // A `Param` that no module holds cannot be read inside a run.
    /// let loose = Param::new(DType::F32, [8]);
    /// let error = tabulate(&scale).run(|s| x.mul(&loose.get()?)).unwrap_err();
    /// assert!(error.to_string().contains("not a field of a module being called"));
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn get(&self) -> Result<Tensor> {
        trace::read_field_param(self)
    }
}
/// A parameter initialiser, as Flax's `kernel_init=` / `bias_init=` take one
/// (`tabulate::nn::initializers`). Values are never drawn in a summary, so an initialiser
/// matters for what the table shows: a partitioned one
/// ([`with_partitioning`](crate::nn::with_partitioning)) gives its parameter logical
/// axis names, shown as Flax shows them (`kernel: float32[5,16] P(embed, mlp)`).
///
/// ```
/// use tabulate::nn::{initializers, with_partitioning};
///
/// let init = with_partitioning(initializers::lecun_normal(), ["embed", "mlp"]);
/// assert_eq!(init.name(), "lecun_normal");
/// assert_eq!(init.partition(), Some(&[Some("embed".to_string()), Some("mlp".to_string())][..]));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Initializer {
    name: std::borrow::Cow<'static, str>,
    partition: Option<Vec<Option<String>>>,
}

impl Initializer {
    /// An initialiser called `name` (its values are never drawn).
    ///
    /// ```
    /// let init = tabulate::Initializer::new("my_init");
    /// assert_eq!(init.name(), "my_init");
    /// assert_eq!(init.partition(), None);
    /// ```
    pub fn new(name: impl Into<std::borrow::Cow<'static, str>>) -> Initializer {
        Initializer {
            name: name.into(),
            partition: None,
        }
    }

    /// Its name (`lecun_normal`, `zeros`, …).
    ///
    /// ```
    /// assert_eq!(tabulate::nn::initializers::zeros().name(), "zeros");
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The logical axis names its parameters get, one per dimension (`None`: not
    /// partitioned along it), when it is partitioned.
    ///
    /// ```
    /// use tabulate::nn::{initializers, with_partitioning};
    ///
    /// let init = with_partitioning(initializers::zeros(), [None::<&str>]);
    /// assert_eq!(init.partition(), Some(&[None][..]));
    /// ```
    pub fn partition(&self) -> Option<&[Option<String>]> {
        self.partition.as_deref()
    }

    /// This initialiser with logical axis names (what
    /// [`with_partitioning`](crate::nn::with_partitioning) returns).
    ///
    /// ```
    /// let init = tabulate::Initializer::new("ones").partitioned([Some("data"), None]);
    /// assert_eq!(init.partition().map(<[_]>::len), Some(2));
    /// ```
    #[must_use]
    pub fn partitioned<N: AxisName>(mut self, names: impl IntoIterator<Item = N>) -> Initializer {
        self.partition = Some(names.into_iter().map(AxisName::axis_name).collect());
        self
    }
}

/// One logical axis name of a partitioned parameter: a name (`"embed"`, a `String`) or an
/// optional one (`None` for an axis not partitioned, Python's `None` in Flax's tuple).
///
/// ```
/// use tabulate::AxisName;
///
/// assert_eq!("embed".axis_name(), Some("embed".to_string()));
/// assert_eq!(None::<&str>.axis_name(), None);
/// ```
pub trait AxisName {
    /// The name, or `None` for an axis that is not partitioned.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::AxisName;
    ///
    /// assert_eq!("mlp".axis_name(), Some("mlp".to_string()));
    /// assert_eq!(Some("heads").axis_name(), Some("heads".to_string()));
    /// assert_eq!(None::<&str>.axis_name(), None); // not partitioned
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    fn axis_name(self) -> Option<String>;
}

impl AxisName for &str {
    fn axis_name(self) -> Option<String> {
        Some(self.to_string())
    }
}

impl AxisName for String {
    fn axis_name(self) -> Option<String> {
        Some(self)
    }
}

impl AxisName for &String {
    fn axis_name(self) -> Option<String> {
        Some(self.clone())
    }
}

impl<N: AxisName> AxisName for Option<N> {
    fn axis_name(self) -> Option<String> {
        self.and_then(AxisName::axis_name)
    }
}

/// Declares (or fetches) the parameter `name` of the current module, made by `init`, and
/// returns its value: Flax's `self.param(name, init, shape, dtype)`. Like Flax without a
/// device mesh, a partitioned initialiser's names are shown as given, even when their
/// number differs from the parameter's rank.
///
/// ```
/// use tabulate::nn::{initializers, with_partitioning};
/// use tabulate::prelude::*;
///
/// #[derive(Tabulate)]
/// struct Scale;
///
/// impl Scale {
///     #[forward]
///     fn forward(&self, x: &Tensor) -> Result<Tensor> {
///         let init = with_partitioning(initializers::ones(), ["embed"]);
///         let scale = tabulate::param_with("scale", &init, DType::F32, [x.dim(-1)?])?;
///         x.mul(&scale)
///     }
/// }
///
/// # fn main() -> tabulate::Result<()> {
/// let summary = Scale.summary(&Tensor::new(DType::F32, [2, 5]))?;
/// assert!(summary.to_string().contains("scale: float32[5] P(embed,)"));
/// # Ok(())
/// # }
/// ```
pub fn param_with(
    name: &str,
    init: &Initializer,
    dtype: DType,
    shape: impl Into<Shape>,
) -> Result<Tensor> {
    let value = param(name, dtype, shape)?;
    if let Some(names) = init.partition() {
        trace::set_partition("params", name, names);
    }
    Ok(value)
}

/// Declares (or fetches) variable `name` in `collection`, made by `init`: Flax's
/// `self.variable(collection, name, init, …)`. A partitioned initialiser's axis names are
/// shown after the shape (`kv: float32[2,8] P(batch, None)`), as for [`param_with`].
///
/// ```
/// use tabulate::nn::{initializers, with_partitioning};
/// use tabulate::prelude::*;
///
/// #[derive(Tabulate)]
/// struct Cache;
///
/// impl Cache {
///     #[forward]
///     fn forward(&self, x: &Tensor) -> Result<Tensor> {
///         let init = with_partitioning(initializers::zeros_init(), [Some("batch"), None]);
///         let mut kv = tabulate::variable_with("cache", "kv", &init, x.dtype(), x.shape().clone())?;
///         let sum = kv.value().add(x)?;
///         kv.set(sum.clone())?;
///         Ok(sum)
///     }
/// }
///
/// # fn main() -> tabulate::Result<()> {
/// let table = Cache.summary(&Tensor::new(DType::F32, [2, 8]))?.to_string();
/// assert!(table.contains("kv: float32[2,8] P(batch, None)"));
/// # Ok(())
/// # }
/// ```
pub fn variable_with(
    collection: &str,
    name: &str,
    init: &Initializer,
    dtype: DType,
    shape: impl Into<Shape>,
) -> Result<Variable> {
    let declared = variable(collection, name, dtype, shape)?;
    if let Some(names) = init.partition() {
        trace::set_partition(collection, name, names);
    }
    Ok(declared)
}

/// Stores `value` under `name` in `collection` on the current module, as Flax's
/// `self.sow(collection, name, value)` with its defaults (`init_fn=lambda: ()`,
/// `reduce_fn` appending): each call appends `value` to the tuple stored so far, and the
/// table shows the tuple (`INTERM:` then `- float32[32,28,28,32]` per value). Returns
/// whether it stored anything: `false` when `collection` is not mutable in the run —
/// `intermediates` is not by default ([`Mutable`](crate::Mutable); Flax's
/// `mutable=DenyList('intermediates')`). Any [`Describe`](crate::Describe) value may be
/// sown: its arrays count in the collection's column and are outputs of the module's
/// program (so they count in its FLOPs), other leaves are shown as Flax shows them.
///
/// ```
/// use tabulate::nn::Dense;
/// use tabulate::prelude::*;
/// use tabulate::Mutable;
///
/// #[derive(Tabulate)]
/// struct Probe;
///
/// impl Probe {
///     #[forward]
///     fn forward(&self, x: &Tensor) -> Result<Tensor> {
///         let h = Dense::new(3).forward(x)?;
///         tabulate::sow("intermediates", "h", &h)?;
///         Ok(h)
///     }
/// }
///
/// # fn main() -> tabulate::Result<()> {
/// let x = Tensor::new(DType::F32, [2, 4]);
/// let hidden = Probe.summary(&x)?; // `intermediates` is not mutable by default
/// assert!(!hidden.collections.contains(&"intermediates".to_string()));
/// let shown = tabulate(&Probe).mutable(Mutable::All).run(|m| m.forward(&x))?;
/// assert_eq!(shown.collection("intermediates").count, 6);
/// # Ok(())
/// # }
/// ```
pub fn sow(
    collection: &str,
    name: &str,
    value: &(impl crate::value::Describe + ?Sized),
) -> Result<bool> {
    let (tree, arrays) = crate::scope::collect_arrays(|| value.describe());
    trace::sow(collection, name, tree, arrays)
}

/// Flax's `self.sow(collection, name, value, reduce_fn=…, init_fn=…)` for a tensor state:
/// the variable `name` of `collection` becomes `reduce_fn(stored, value)`, where `stored`
/// is what it holds, or `init_fn()` the first time (a running sum:
/// `init_fn=lambda: 0`, `reduce_fn=lambda a, b: a + b`). Returns `false`, storing
/// nothing, when `collection` is not mutable.
///
/// FLOPs follow Flax's tabulate, whose `apply` receives the value `init` stored: the
/// first reduction of a call already reads a stored value (one `add` per element for a
/// sum), and the value is the call's output (its cotangent flows back). The stored value
/// must keep the dtype and shape the first reduction gives (a reduction that grows it,
/// such as concatenation, is an error naming the call); Flax's default, a tuple that
/// grows with each call, is [`sow`].
///
/// ```
/// use tabulate::nn::Dense;
/// use tabulate::prelude::*;
///
/// #[derive(Tabulate)]
/// struct Probe;
///
/// impl Probe {
///     #[forward]
///     fn forward(&self, x: &Tensor) -> Result<Tensor> {
///         let h = Dense::new(3).forward(x)?;
///         let zero = || Tensor::zeros(DType::F32, []);
///         tabulate::sow_with("stats", "sum", &h, zero, |a, b| a.add(b))?;
///         Ok(h)
///     }
/// }
///
/// # fn main() -> tabulate::Result<()> {
/// let summary = Probe.summary(&Tensor::new(DType::F32, [2, 4]))?;
/// assert_eq!(summary.collection("stats").count, 6);
/// # Ok(())
/// # }
/// ```
pub fn sow_with(
    collection: &str,
    name: &str,
    value: &Tensor,
    init_fn: impl FnOnce() -> Result<Tensor>,
    reduce_fn: impl Fn(&Tensor, &Tensor) -> Result<Tensor>,
) -> Result<bool> {
    if !trace::is_active() || !trace::is_mutable(collection) {
        return Ok(false);
    }
    let spec = match trace::variable_spec(collection, name) {
        Some(spec) => spec,
        // What Flax's `init` stores: the first reduction from `init_fn()` (traced here
        // only for its dtype and shape; nothing reads it).
        None => reduce_fn(&init_fn()?, value)?.spec().clone(),
    };
    let mut stored = variable(collection, name, spec.dtype, spec.shape.clone())?;
    let reduced = reduce_fn(stored.value(), value)?;
    stored.set(reduced)?;
    Ok(true)
}
