//! `Summary`: the rows, columns and totals of a summary, as plain public data; turned
//! into text by `render`.

pub(crate) mod collect;
mod export;
pub(crate) mod format;
mod render;

use std::collections::BTreeMap;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};

use crate::cost::{Metric, MetricValue, Metrics, OperatorCount};
use crate::dtype::DType;
use crate::options::Optimizer;
use crate::path::ModulePath;
use crate::shape::Shape;
use crate::value::Value;
pub use export::SCHEMA_VERSION;
pub use render::{ColorChoice, Column, RenderOptions};

/// A model summary: one row per module call, the variable collections as columns, and
/// totals. Display it to get Flax's table; serialise it for programs (a stable JSON
/// object, [`SCHEMA_VERSION`]), or write it as Markdown or CSV.
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::nn::Dense;
///
/// let x = Tensor::new(DType::F32, [16, 9]);
/// let summary = tabulate(&Dense::new(4)).compute_flops(true).run(|d| d.forward(&x))?;
/// assert_eq!(summary.module_type, "Dense");
/// assert_eq!(summary.collections, ["params"]);
/// assert_eq!(summary.rows.len(), 1);
/// assert_eq!(summary.totals[0].count, 40); // kernel 9×4, bias 4
/// assert_eq!(summary.total().bytes, 160);
/// assert!(summary.shows(tabulate::Metric::Flops));
/// let table = summary.to_string(); // what `println!("{summary}")` prints
/// assert!(table.contains("Dense Summary") && table.contains("Total Parameters: 40 (160 B)"));
/// # Ok::<(), tabulate::Error>(())
/// ```
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    /// The summarised module's type name; the title reads `{module_type} Summary`.
    pub module_type: String,
    /// The computed columns the options asked for, in column order; every row holds a
    /// value for each.
    pub metrics: Vec<Metric>,
    /// Variable collections, in column order: `params` first, then alphabetical.
    pub collections: Vec<String>,
    /// The rows, in call order (a parent before its children).
    pub rows: Vec<Row>,
    /// Per collection (in [`Summary::collections`] order), the sum over rows.
    pub totals: Vec<Size>,
    /// Trainable versus non-trainable variables, when asked for
    /// ([`Tabulator::trainable`](crate::Tabulator::trainable)).
    pub trainable: Option<TrainableSplit>,
    /// The estimated memory of one training step, when asked for
    /// ([`Tabulator::estimate_memory`](crate::Tabulator::estimate_memory)).
    pub memory: Option<MemoryEstimate>,
    /// The model's forward pass by primitive, when asked for
    /// ([`Tabulator::operators`](crate::Tabulator::operators)).
    pub operators: Option<BTreeMap<String, OperatorCount>>,
    /// Footnotes saying what the numbers count (the FLOP and MAC conventions); empty
    /// for a table with only Flax's options, which stays Flax's byte for byte.
    pub notes: Vec<String>,
}

/// Trainable versus non-trainable variables, as Keras' summary footer shows them.
///
/// Trainable: the `params` collection, less the parameters a
/// [`Frozen`](crate::Frozen) pattern selects. Non-trainable: every other collection
/// (`batch_stats`, …) and the frozen parameters.
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::Frozen;
/// use tabulate::nn::Dense;
///
/// #[derive(Tabulate)]
/// struct Head {
///     backbone: Dense,
///     head: Dense,
/// }
///
/// impl Head {
///     #[forward]
///     fn forward(&self, x: &Tensor) -> Result<Tensor> {
///         self.head.forward(&self.backbone.forward(x)?)
///     }
/// }
///
/// let model = Head { backbone: Dense::new(4), head: Dense::new(2) };
/// let x = Tensor::new(DType::F32, [1, 9]);
/// let summary = tabulate(&model).frozen(Frozen::new(["backbone/**"])).trainable(true).run(|m| m.forward(&x))?;
/// let split = summary.trainable.expect("asked for");
/// assert_eq!(split.trainable.count, 10); // head: 4×2 + 2
/// assert_eq!(split.non_trainable.count, 40); // backbone: 9×4 + 4
/// # Ok::<(), tabulate::Error>(())
/// ```
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct TrainableSplit {
    /// Trainable parameters.
    pub trainable: Size,
    /// Everything else.
    pub non_trainable: Size,
}

/// The memory of one training step, estimated like torchinfo's "Estimated Total Size":
/// the inputs, every variable, a gradient per trainable parameter, the optimizer's state,
/// and the activations the backward pass keeps. All in bytes; temporaries that XLA frees
/// early and its workspace are not counted.
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::Optimizer;
/// use tabulate::nn::Dense;
///
/// let x = Tensor::new(DType::F32, [16, 9]);
/// let summary = tabulate(&Dense::new(4)).estimate_memory(true).optimizer(Optimizer::Sgd).run(|d| d.forward(&x))?;
/// let memory = summary.memory.expect("asked for");
/// assert_eq!(memory.inputs, 16 * 9 * 4);
/// assert_eq!(memory.variables, 160);
/// assert_eq!(memory.gradients, 160); // one per trainable parameter
/// assert_eq!(memory.optimizer_state, 0); // plain SGD keeps none
/// assert_eq!(
///     memory.total,
///     memory.inputs + memory.variables + memory.gradients + memory.optimizer_state
///         + memory.saved_activations.values().sum::<u64>()
/// );
/// # Ok::<(), tabulate::Error>(())
/// ```
#[non_exhaustive]
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct MemoryEstimate {
    /// The optimizer whose state is counted.
    pub optimizer: Optimizer,
    /// The arrays passed to the top-level calls.
    pub inputs: u64,
    /// Every variable, all collections.
    pub variables: u64,
    /// One gradient per trainable parameter.
    pub gradients: u64,
    /// The optimizer's state ([`Optimizer::slots`] arrays per trainable parameter).
    pub optimizer_state: u64,
    /// The residuals the model's VJP keeps between its forward and backward halves, by
    /// dtype.
    pub saved_activations: BTreeMap<DType, u64>,
    /// The sum of the above.
    pub total: u64,
}

/// One module call.
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::{Metric, Value};
/// use tabulate::nn::Dense;
///
/// let x = Tensor::new(DType::F32, [16, 9]);
/// let summary = tabulate(&Dense::new(4)).compute_flops(true).compute_macs(true).run(|d| d.forward(&x))?;
/// let row = &summary.rows[0];
/// assert!(row.path.is_empty()); // the root module
/// assert_eq!((row.module_type.as_str(), row.method.as_str()), ("Dense", "forward"));
/// assert_eq!(row.outputs, Value::Array { dtype: DType::F32, shape: [16, 4].into() });
/// assert_eq!(row.flops(), Some(1216)); // Flax's figure
/// assert_eq!(row.macs(), Some(16 * 9 * 4));
/// assert_eq!(row.vjp_flops(), None); // not asked for
/// assert_eq!(row.metrics().iter().map(|(m, _)| m).collect::<Vec<_>>(), [Metric::Flops, Metric::Macs]);
/// assert_eq!(row.variables[0].counted.count, 40);
/// # Ok::<(), tabulate::Error>(())
/// ```
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// The module's path (`["Block_0", "Dense_1"]`); empty for the root module. Rows
    /// share their ancestors' names.
    pub path: ModulePath,
    /// The module's type name (`Dense`).
    pub module_type: String,
    /// The method called (`forward` for the module's main method).
    pub method: String,
    /// The arguments, normalised as Flax shows them.
    pub inputs: Value,
    /// The result.
    pub outputs: Value,
    /// The computed columns ([`Summary::metrics`]).
    pub(crate) metrics: Metrics,
    /// Per collection (in [`Summary::collections`] order), the row's variables.
    pub variables: Vec<RowVariables>,
}

/// A row's variables in one collection.
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::nn::Dense;
///
/// let x = Tensor::new(DType::F32, [16, 9]);
/// let summary = tabulate(&Dense::new(4)).run(|d| d.forward(&x))?;
/// let params = &summary.rows[0].variables[0]; // collection `params`
/// let names: Vec<&str> = params.own.iter().map(|leaf| leaf.name.as_str()).collect();
/// assert_eq!(names, ["bias", "kernel"]);
/// assert_eq!((params.counted.count, params.counted.bytes), (40, 160));
/// # Ok::<(), tabulate::Error>(())
/// ```
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq)]
pub struct RowVariables {
    /// The variables the module itself declared, sorted by name.
    pub own: Vec<Leaf>,
    /// What the row counts: its own variables, or its whole subtree when the row is the
    /// deepest shown (`depth`).
    pub counted: Size,
    /// The module's own entries that are not one array, sorted by name: what
    /// [`sow`](crate::sow) stored (a tuple of the values sown, as Flax keeps it), which may
    /// hold arrays (counted in `counted`) and other values (shown, not counted).
    pub values: Vec<(String, Value)>,
}

/// One variable.
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::nn::Dense;
///
/// let x = Tensor::new(DType::BF16, [16, 9]);
/// let summary = tabulate(&Dense::new(4).param_dtype(DType::BF16)).run(|d| d.forward(&x))?;
/// let kernel = &summary.rows[0].variables[0].own[1];
/// assert_eq!(kernel.name, "kernel");
/// assert_eq!(kernel.dtype, DType::BF16);
/// assert_eq!(kernel.shape.dims(), [9, 4]);
/// # Ok::<(), tabulate::Error>(())
/// ```
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Leaf {
    /// Its name (`kernel`).
    pub name: String,
    /// Its element type.
    pub dtype: DType,
    /// Its shape.
    pub shape: Shape,
    /// Its logical axis names, one per dimension, when a partitioned initialiser made it
    /// ([`with_partitioning`](crate::nn::with_partitioning)): shown as `P(None, data)`.
    pub partition: Option<Vec<Option<String>>>,
}

/// A number of elements and the bytes they take.
///
/// ```
/// use tabulate::{DType, Shape, Size};
///
/// let kernel = Size::of(DType::F32, &Shape::new([9, 4]));
/// let bias = Size::of(DType::F32, &Shape::new([4]));
/// assert_eq!(kernel + bias, Size { count: 40, bytes: 160 });
/// assert_eq!([kernel, bias].into_iter().sum::<Size>().bytes, 160);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Size {
    /// Elements.
    pub count: u64,
    /// Bytes (elements × item size).
    pub bytes: u64,
}

impl Row {
    /// XLA's flops of the call's forward pass, when computed.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::Dense;
    ///
    /// let x = Tensor::new(DType::F32, [16, 9]);
    /// let summary = tabulate(&Dense::new(4)).compute_flops(true).run(|d| d.forward(&x))?;
    /// assert_eq!(summary.rows[0].flops(), Some(2 * 16 * 9 * 4 + 16 * 4)); // Flax's 1216
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn flops(&self) -> Option<u64> {
        self.metric(Metric::Flops).and_then(MetricValue::as_count)
    }

    /// XLA's flops of the call's forward pass plus its VJP, when computed.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::Dense;
    ///
    /// let x = Tensor::new(DType::F32, [16, 9]);
    /// let summary = tabulate(&Dense::new(4)).compute_vjp_flops(true).run(|d| d.forward(&x))?;
    /// assert_eq!(summary.rows[0].vjp_flops(), Some(3620)); // Flax's figure
    /// assert_eq!(summary.rows[0].flops(), None); // not asked for
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn vjp_flops(&self) -> Option<u64> {
        self.metric(Metric::VjpFlops)
            .and_then(MetricValue::as_count)
    }

    /// The value of `metric` in this row, when it was computed.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::{Metric, MetricValue};
    /// use tabulate::nn::Dense;
    ///
    /// let x = Tensor::new(DType::F32, [16, 9]);
    /// let summary = tabulate(&Dense::new(4)).metric(Metric::OptimizerState, true).run(|d| d.forward(&x))?;
    /// assert_eq!(summary.rows[0].metric(Metric::OptimizerState), Some(&MetricValue::Bytes(320))); // Adam
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn metric(&self, metric: Metric) -> Option<&MetricValue> {
        self.metrics.get(metric)
    }

    /// Every computed metric of this row, in column order.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::Metric;
    /// use tabulate::nn::Dense;
    ///
    /// let x = Tensor::new(DType::F32, [16, 9]);
    /// let summary = tabulate(&Dense::new(4)).metrics(Metric::ALL).run(|d| d.forward(&x))?;
    /// assert_eq!(summary.rows[0].metrics().iter().count(), Metric::ALL.len());
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Multiply-accumulates of the call's forward pass ([`Metric::Macs`]), when computed.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::Conv;
    ///
    /// let x = Tensor::new(DType::F32, [1, 8, 8, 3]);
    /// let summary = tabulate(&Conv::new(4, [3, 3])).compute_macs(true).run(|c| c.forward(&x))?;
    /// assert_eq!(summary.rows[0].macs(), Some(8 * 8 * 4 * 3 * 3 * 3)); // every tap, padding included
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn macs(&self) -> Option<u64> {
        self.metric(Metric::Macs).and_then(MetricValue::as_count)
    }

    /// XLA's flops of the call's own operations ([`Metric::SelfFlops`]), when computed.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::Dense;
    ///
    /// #[derive(Tabulate)]
    /// struct Residual;
    ///
    /// impl Residual {
    ///     #[forward]
    ///     fn forward(&self, x: &Tensor) -> Result<Tensor> {
    ///         Dense::new(9).forward(x)?.add(x) // the add is the row's own
    ///     }
    /// }
    ///
    /// let x = Tensor::new(DType::F32, [16, 9]);
    /// let summary = tabulate(&Residual).compute_self_flops(true).run(|m| m.forward(&x))?;
    /// assert_eq!(summary.rows[0].self_flops(), Some(16 * 9));
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn self_flops(&self) -> Option<u64> {
        self.metric(Metric::SelfFlops)
            .and_then(MetricValue::as_count)
    }
}

impl Size {
    /// The size of one array.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::{Shape, Size};
    ///
    /// let kernel = Size::of(DType::BF16, &Shape::new([768, 3072]));
    /// assert_eq!((kernel.count, kernel.bytes), (2_359_296, 4_718_592));
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn of(dtype: DType, shape: &Shape) -> Size {
        let count = shape.elements();
        Size {
            count,
            bytes: count.saturating_mul(dtype.item_size()),
        }
    }
}

impl std::ops::Add for Size {
    type Output = Size;
    fn add(self, other: Size) -> Size {
        Size {
            count: self.count.saturating_add(other.count),
            bytes: self.bytes.saturating_add(other.bytes),
        }
    }
}

impl std::iter::Sum for Size {
    fn sum<I: Iterator<Item = Size>>(iter: I) -> Size {
        iter.fold(Size::default(), |a, b| a + b)
    }
}

impl Summary {
    /// The total over every collection, as the caption's `Total Parameters` counts it.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::BatchNorm;
    ///
    /// let x = Tensor::new(DType::F32, [4, 8]);
    /// let summary = tabulate(&BatchNorm::new(false)).run(|bn| bn.forward(&x))?;
    /// assert_eq!(summary.collections, ["params", "batch_stats"]);
    /// assert_eq!(summary.total().count, 32); // scale, bias, mean, var: 8 each
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn total(&self) -> Size {
        self.totals.iter().copied().sum()
    }

    /// The total of the `params` collection (zero when the model has none): the figure
    /// usually quoted as a model's parameter count, beside [`Summary::total`], which adds
    /// every collection (`batch_stats`, …) as Flax's caption does.
    ///
    /// ```
    /// use tabulate::nn::{BatchNorm, Dense};
    /// use tabulate::prelude::*;
    ///
    /// #[derive(Tabulate)]
    /// struct Net;
    ///
    /// impl Net {
    ///     #[forward]
    ///     fn forward(&self, x: &Tensor) -> Result<Tensor> {
    ///         let h = Dense::new(4).forward(x)?;
    ///         BatchNorm::new(Some(true)).forward(&h)
    ///     }
    /// }
    ///
    /// # fn main() -> tabulate::Result<()> {
    /// let summary = Net.summary(&Tensor::new(DType::F32, [16, 9]))?;
    /// assert_eq!(summary.params().count, 40 + 8); // Dense: 36 + 4, BatchNorm: scale and bias
    /// assert_eq!(summary.total().count, 48 + 8); // and batch_stats: mean and var
    /// # Ok(())
    /// # }
    /// ```
    pub fn params(&self) -> Size {
        self.collection("params")
    }

    /// The total of `collection` (zero when no variable is in it).
    ///
    /// ```
    /// # use tabulate::nn::Dense;
    /// # use tabulate::prelude::*;
    /// # #[derive(Tabulate)]
    /// # struct Net;
    /// # impl Net {
    /// #     #[forward]
    /// #     fn forward(&self, x: &Tensor) -> Result<Tensor> { Dense::new(4).forward(x) }
    /// # }
    /// # fn main() -> tabulate::Result<()> {
    /// let summary = Net.summary(&Tensor::new(DType::F32, [16, 9]))?;
    /// assert_eq!(summary.collection("params").bytes, 160);
    /// assert_eq!(summary.collection("batch_stats").count, 0);
    /// # Ok(())
    /// # }
    /// ```
    pub fn collection(&self, collection: &str) -> Size {
        self.collections
            .iter()
            .position(|c| c == collection)
            .and_then(|i| self.totals.get(i).copied())
            .unwrap_or_default()
    }

    /// Whether the table has a column for `metric`.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::Metric;
    /// use tabulate::nn::Dense;
    ///
    /// let x = Tensor::new(DType::F32, [16, 9]);
    /// let summary = tabulate(&Dense::new(4)).compute_macs(true).run(|d| d.forward(&x))?;
    /// assert!(summary.shows(Metric::Macs) && !summary.shows(Metric::Flops));
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn shows(&self, metric: Metric) -> bool {
        self.metrics.contains(&metric)
    }

    /// The table as text, with explicit width and colour choices.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::{ColorChoice, RenderOptions};
    /// use tabulate::nn::Dense;
    ///
    /// let x = Tensor::new(DType::F32, [16, 9]);
    /// let summary = tabulate(&Dense::new(4)).run(|d| d.forward(&x))?;
    /// let text = summary.render(&RenderOptions::new().width(60).color(ColorChoice::Never));
    /// assert!(text.lines().all(|line| line.chars().count() <= 60));
    /// assert!(!text.contains('\x1b'));
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn render(&self, options: &RenderOptions) -> String {
        render::render(self, options)
    }
}

impl fmt::Display for Summary {
    /// The table as Flax prints it: plain unless standard output is a terminal (and
    /// `NO_COLOR` is unset), as wide as needed unless `COLUMNS` or the terminal limit it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(&RenderOptions::auto()))
    }
}

impl crate::error::PartialTable for Summary {
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    fn failed_inputs(&self) -> Option<String> {
        let failed = Value::object("<failed>");
        self.rows
            .iter()
            .rev()
            .find(|row| row.outputs == failed)
            .map(|row| format::flow_text(&row.inputs).text())
    }
}

impl crate::error::Error {
    /// The table of the calls made before the forward pass failed, when the run asked
    /// for it ([`Tabulator::table_on_error`](crate::Tabulator::table_on_error)): rows of
    /// every call opened so far, with the shapes known so far; calls that did not return
    /// show `<failed>` as their output.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::Dense;
    ///
    /// #[derive(Tabulate)]
    /// struct Broken;
    ///
    /// impl Broken {
    ///     #[forward]
    ///     fn forward(&self, x: &Tensor) -> Result<Tensor> {
    ///         let h = Dense::new(4).forward(x)?;
    ///         h.add(&Tensor::new(DType::F32, [3])) // [16,4] + [3] does not broadcast
    ///     }
    /// }
    ///
    /// let x = Tensor::new(DType::F32, [16, 9]);
    /// let error = tabulate(&Broken).table_on_error(true).run(|m| m.forward(&x)).unwrap_err();
    /// let partial = error.partial_summary().expect("asked for");
    /// assert_eq!(partial.rows[1].path, ["Dense_0"]); // the call that succeeded
    /// assert_eq!(partial.rows[0].outputs, tabulate::Value::object("<failed>"));
    /// ```
    pub fn partial_summary(&self) -> Option<&Summary> {
        self.partial_table()?.as_any().downcast_ref::<Summary>()
    }
}

/// A map keyed by addresses (interned paths), hashed by one multiplication: collecting and
/// formatting look every row's path up.
pub(crate) type AddrMap<V> = std::collections::HashMap<usize, V, BuildHasherDefault<AddrHasher>>;

/// A set of addresses, hashed like [`AddrMap`]'s keys.
pub(crate) type AddrSet = std::collections::HashSet<usize, BuildHasherDefault<AddrHasher>>;

/// Multiplies, then rotates the well-mixed high bits down (addresses end in zero bits).
#[derive(Default)]
pub(crate) struct AddrHasher(u64);

impl Hasher for AddrHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0 ^ n)
            .wrapping_mul(0x9e37_79b9_7f4a_7c15)
            .rotate_left(26);
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
}
