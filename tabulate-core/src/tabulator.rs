//! The entry point: `tabulate(&model)`, its options, and the run that ties the stages
//! together (trace → shown calls → costs → rows).

use std::sync::Arc;

use crate::call::ForwardOutput;
use crate::cost::{self, Metric, MetricOptions, ModelPrograms, RowScope};
use crate::error::{Error, ErrorKind, Location, Result};
use crate::module::Tabulate;
use crate::options::{Frozen, Mutable, Optimizer};
use crate::summary::collect::{Selection, collect, exact_sum, shown_calls, value_bytes};
use crate::summary::{MemoryEstimate, Size, Summary, TrainableSplit};
use crate::trace::{self, Recording};
use crate::value::Value;

/// Starts a summary of `model`; set options, then [`Tabulator::run`] a forward pass.
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::nn::Dense;
///
/// let x = Tensor::new(DType::F32, [16, 9]);
/// let dense = Dense::new(4);
/// let summary = tabulate(&dense).compute_flops(true).run(|d| d.forward(&x))?;
/// assert_eq!(summary.rows[0].flops(), Some(1216));
/// # Ok::<(), tabulate::Error>(())
/// ```
pub fn tabulate<M: Tabulate>(model: &M) -> Tabulator<'_, M> {
    Tabulator {
        model,
        settings: Settings::new(),
    }
}

/// The options of a summary, as Flax's `nn.tabulate` takes them.
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::nn::{Dense, relu};
///
/// #[derive(Tabulate)]
/// struct Mlp;
///
/// impl Mlp {
///     #[forward]
///     fn forward(&self, x: &Tensor) -> Result<Tensor> {
///         let h = relu(&Dense::new(4).forward(x)?)?;
///         Dense::new(2).forward(&h)
///     }
/// }
///
/// let x = Tensor::new(DType::F32, [16, 9]);
/// let summary = tabulate(&Mlp)        // the options of Flax's `nn.tabulate`, then extras
///     .depth(1)
///     .compute_flops(true)
///     .compute_vjp_flops(true)
///     .run(|m| m.forward(&x))?;          // any method, any arguments
/// assert_eq!(summary.rows.len(), 3);
/// assert_eq!(summary.rows[1].flops(), Some(1216));
/// # Ok::<(), tabulate::Error>(())
/// ```
#[derive(Debug)]
#[must_use = "a Tabulator does nothing until `run`"]
pub struct Tabulator<'a, M> {
    model: &'a M,
    settings: Settings,
}

/// The settings of a [`Tabulator`] (all but its model): what [`Tabulator::run`] does
/// after the forward pass is not generic over the model's type, so that it is compiled
/// once in tabulate-core, not again for every model type of every crate (example,
/// doctest, test) that runs a summary.
#[derive(Debug)]
#[allow(clippy::struct_excessive_bools)] // independent on/off options, as Flax's are
struct Settings {
    depth: Option<usize>,
    show_repeated: bool,
    mutable: Mutable,
    metrics: Vec<Metric>,
    rngs: Vec<String>,
    metric_options: MetricOptions,
    trainable: bool,
    memory: bool,
    operators: bool,
    footnotes: bool,
    table_on_error: bool,
}

impl<M: Tabulate> Tabulator<'_, M> {
    /// Shows modules up to `depth` levels deep (0: the root only); a row at the limit
    /// counts the variables of its whole subtree. Default: no limit.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::{Dense, relu};
    ///
    /// #[derive(Tabulate)]
    /// struct Mlp;
    ///
    /// impl Mlp {
    ///     #[forward]
    ///     fn forward(&self, x: &Tensor) -> Result<Tensor> {
    ///         let h = relu(&Dense::new(4).forward(x)?)?;
    ///         Dense::new(2).forward(&h)
    ///     }
    /// }
    ///
    /// let x = Tensor::new(DType::F32, [16, 9]);
    /// let summary = tabulate(&Mlp).depth(0).run(|m| m.forward(&x))?;
    /// assert_eq!(summary.rows.len(), 1);
    /// assert_eq!(summary.rows[0].variables[0].counted.count, 50); // its subtree's
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn depth(mut self, depth: usize) -> Self {
        self.settings.depth = Some(depth);
        self
    }

    /// Also shows repeated calls of a module (shared weights, other methods), with empty
    /// variable cells. Default: `false`.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::Dense;
    ///
    /// #[derive(Tabulate)]
    /// struct Twice {
    ///     dense: Dense,
    /// }
    ///
    /// impl Twice {
    ///     #[forward]
    ///     fn forward(&self, x: &Tensor) -> Result<Tensor> {
    ///         self.dense.forward(&self.dense.forward(x)?)
    ///     }
    /// }
    ///
    /// let x = Tensor::new(DType::F32, [2, 4]);
    /// let model = Twice { dense: Dense::new(4) };
    /// assert_eq!(tabulate(&model).run(|m| m.forward(&x))?.rows.len(), 2);
    /// assert_eq!(tabulate(&model).show_repeated(true).run(|m| m.forward(&x))?.rows.len(), 3);
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn show_repeated(mut self, show: bool) -> Self {
        self.settings.show_repeated = show;
        self
    }

    /// Which variable collections may be created and written. Default: all but
    /// `intermediates`.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::Mutable;
    /// use tabulate::nn::BatchNorm;
    ///
    /// let x = Tensor::new(DType::F32, [4, 8]);
    /// let training = BatchNorm::new(false); // writes `batch_stats`
    /// let error = tabulate(&training)
    ///     .mutable(Mutable::only(["params"]))
    ///     .run(|bn| bn.forward(&x))
    ///     .unwrap_err();
    /// assert!(matches!(error.kind(), tabulate::ErrorKind::NotMutable { .. }));
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn mutable(mut self, mutable: Mutable) -> Self {
        self.settings.mutable = mutable;
        self
    }

    /// Adds a `flops` column: XLA's flops of each call's forward pass. Default: `false`.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::{Dense, relu};
    ///
    /// #[derive(Tabulate)]
    /// struct Mlp;
    ///
    /// impl Mlp {
    ///     #[forward]
    ///     fn forward(&self, x: &Tensor) -> Result<Tensor> {
    ///         let h = relu(&Dense::new(4).forward(x)?)?;
    ///         Dense::new(2).forward(&h)
    ///     }
    /// }
    ///
    /// let x = Tensor::new(DType::F32, [16, 9]);
    /// let summary = tabulate(&Mlp).compute_flops(true).run(|m| m.forward(&x))?;
    /// let flops: Vec<_> = summary.rows.iter().map(|r| r.flops()).collect();
    /// assert_eq!(flops, [Some(1568), Some(1216), Some(288)]); // relu's 64 in the root's sum
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn compute_flops(self, compute: bool) -> Self {
        self.metric(Metric::Flops, compute)
    }

    /// Adds a `vjp_flops` column: XLA's flops of each call's forward pass plus its VJP
    /// with respect to its variables and array inputs. Default: `false`.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::Dense;
    ///
    /// let x = Tensor::new(DType::F32, [16, 9]);
    /// let summary = tabulate(&Dense::new(4)).compute_vjp_flops(true).run(|d| d.forward(&x))?;
    /// assert_eq!(summary.rows[0].vjp_flops(), Some(3620)); // Flax's figure
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn compute_vjp_flops(self, compute: bool) -> Self {
        self.metric(Metric::VjpFlops, compute)
    }

    /// Adds (`true`) or removes (`false`) the column of `metric`. Columns appear in the
    /// order of [`Metric::ALL`] whatever the order of the calls. Default: none.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::Metric;
    /// use tabulate::nn::Dense;
    ///
    /// let x = Tensor::new(DType::F32, [16, 9]);
    /// let summary = tabulate(&Dense::new(4))
    ///     .metric(Metric::Macs, true)
    ///     .metric(Metric::Flops, true) // columns in `Metric::ALL` order, not call order
    ///     .run(|d| d.forward(&x))?;
    /// assert_eq!(summary.metrics, [Metric::Flops, Metric::Macs]);
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn metric(mut self, metric: Metric, compute: bool) -> Self {
        self.settings.metric(metric, compute);
        self
    }

    /// Adds a `macs` column: multiply-accumulates of each call's forward pass, counted as
    /// torchvision and ptflops count them (matmuls and convolutions only, no bias, every
    /// convolution tap on the padded input). Default: `false`.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::Dense;
    ///
    /// let x = Tensor::new(DType::F32, [16, 9]);
    /// let summary = tabulate(&Dense::new(4)).compute_macs(true).run(|d| d.forward(&x))?;
    /// assert_eq!(summary.rows[0].macs(), Some(16 * 4 * 9));
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn compute_macs(self, compute: bool) -> Self {
        self.metric(Metric::Macs, compute)
    }

    /// Adds a `self_flops` column: XLA's flops of each call's own operations, its child
    /// calls left out ([`Metric::SelfFlops`]). Default: `false`.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::{Dense, relu};
    ///
    /// #[derive(Tabulate)]
    /// struct Mlp;
    ///
    /// impl Mlp {
    ///     #[forward]
    ///     fn forward(&self, x: &Tensor) -> Result<Tensor> {
    ///         let h = relu(&Dense::new(4).forward(x)?)?;
    ///         Dense::new(2).forward(&h)
    ///     }
    /// }
    ///
    /// let x = Tensor::new(DType::F32, [16, 9]);
    /// let summary = tabulate(&Mlp).compute_self_flops(true).run(|m| m.forward(&x))?;
    /// assert_eq!(summary.rows[0].self_flops(), Some(64)); // relu's max, the root's own op
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn compute_self_flops(self, compute: bool) -> Self {
        self.metric(Metric::SelfFlops, compute)
    }

    /// Computes exactly `metrics`, as columns in this order (torchinfo's `col_names`);
    /// replaces any chosen before. Default: none.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::Metric;
    /// use tabulate::nn::Dense;
    ///
    /// let x = Tensor::new(DType::F32, [16, 9]);
    /// let summary = tabulate(&Dense::new(4))
    ///     .metrics([Metric::Macs, Metric::Flops])
    ///     .run(|d| d.forward(&x))?;
    /// assert_eq!(summary.metrics, [Metric::Macs, Metric::Flops]);
    /// assert_eq!((summary.rows[0].macs(), summary.rows[0].flops()), (Some(576), Some(1216)));
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn metrics(mut self, metrics: impl IntoIterator<Item = Metric>) -> Self {
        self.settings.metrics.clear();
        for metric in metrics {
            if !self.settings.metrics.contains(&metric) {
                self.settings.metrics.push(metric);
            }
        }
        self
    }

    /// Parameters held fixed (fine-tuning): they count as non-trainable in the
    /// `trainable_params`, gradient and optimizer columns and the footer. Default: none.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::Frozen;
    /// use tabulate::nn::Dense;
    ///
    /// #[derive(Tabulate)]
    /// struct Mlp;
    ///
    /// impl Mlp {
    ///     #[forward]
    ///     fn forward(&self, x: &Tensor) -> Result<Tensor> {
    ///         Dense::new(2).forward(&Dense::new(4).forward(x)?)
    ///     }
    /// }
    ///
    /// let x = Tensor::new(DType::F32, [16, 9]);
    /// let summary = tabulate(&Mlp).trainable(true).frozen(Frozen::new(["Dense_0/**"])).run(|m| m.forward(&x))?;
    /// let split = summary.trainable.expect("asked for");
    /// assert_eq!((split.trainable.count, split.non_trainable.count), (10, 40)); // 4·2 + 2 against 9·4 + 4
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn frozen(mut self, frozen: Frozen) -> Self {
        self.settings.metric_options.frozen = frozen;
        self
    }

    /// The optimizer whose state the memory figures count. Default: Adam.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::Optimizer;
    /// use tabulate::nn::Dense;
    ///
    /// let x = Tensor::new(DType::F32, [16, 9]);
    /// let summary = tabulate(&Dense::new(4)).optimizer(Optimizer::Momentum).estimate_memory(true).run(|d| d.forward(&x))?;
    /// assert_eq!(summary.memory.expect("asked for").optimizer_state, 160); // one slot
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn optimizer(mut self, optimizer: Optimizer) -> Self {
        self.settings.metric_options.optimizer = optimizer;
        self
    }

    /// Adds the trainable and non-trainable totals to the footer, as Keras does.
    /// Default: `false`.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::Dense;
    ///
    /// let x = Tensor::new(DType::F32, [16, 9]);
    /// let summary = tabulate(&Dense::new(4)).trainable(true).run(|d| d.forward(&x))?;
    /// assert!(summary.to_string().contains("Trainable Parameters: 40 (160 B)"));
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn trainable(mut self, show: bool) -> Self {
        self.settings.trainable = show;
        self
    }

    /// Adds an estimate of the memory of one training step to the footer: inputs,
    /// variables, gradients, optimizer state and saved activations, like torchinfo's
    /// "Estimated Total Size". Default: `false`.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::Dense;
    ///
    /// let x = Tensor::new(DType::F32, [16, 9]);
    /// let summary = tabulate(&Dense::new(4)).estimate_memory(true).run(|d| d.forward(&x))?;
    /// let text = summary.to_string();
    /// assert!(text.contains("Optimizer State Size (Adam): 320 B")); // Adam: two slots
    /// assert!(text.contains("Estimated Training-Step Memory"));
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn estimate_memory(mut self, estimate: bool) -> Self {
        self.settings.memory = estimate;
        self
    }

    /// Adds a table of the model's forward pass by primitive (applications, flops,
    /// MACs), as `FlopCounterMode` reports. Per row: [`Metric::ByOperator`]. Default:
    /// `false`.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::{Dense, relu};
    ///
    /// #[derive(Tabulate)]
    /// struct Mlp;
    ///
    /// impl Mlp {
    ///     #[forward]
    ///     fn forward(&self, x: &Tensor) -> Result<Tensor> {
    ///         let h = relu(&Dense::new(4).forward(x)?)?;
    ///         Dense::new(2).forward(&h)
    ///     }
    /// }
    ///
    /// let x = Tensor::new(DType::F32, [16, 9]);
    /// let summary = tabulate(&Mlp).operators(true).run(|m| m.forward(&x))?;
    /// let operators = summary.operators.expect("asked for");
    /// assert_eq!(operators["dot_general"].calls, 2);
    /// assert_eq!(operators["dot_general"].macs, 16 * 9 * 4 + 16 * 4 * 2);
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn operators(mut self, show: bool) -> Self {
        self.settings.operators = show;
        self
    }

    /// States the FLOP convention (and the MAC convention when shown) under the table
    /// even with only Flax's columns. Notes appear on their own whenever an option beyond
    /// Flax's is on. Default: `false`, so that Flax's table stays byte for byte.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::Dense;
    ///
    /// let x = Tensor::new(DType::F32, [16, 9]);
    /// let plain = tabulate(&Dense::new(4)).compute_flops(true).run(|d| d.forward(&x))?;
    /// assert!(plain.notes.is_empty()); // Flax's options: Flax's table
    /// let noted = tabulate(&Dense::new(4)).compute_flops(true).footnotes(true).run(|d| d.forward(&x))?;
    /// assert!(!noted.notes.is_empty());
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn footnotes(mut self, show: bool) -> Self {
        self.settings.footnotes = show;
        self
    }

    /// When the forward pass fails, the error carries the table of the calls made so
    /// far and displays it above the message ([`Error::partial_summary`]). Default:
    /// `false`.
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
    ///         Dense::new(4).forward(&x.reshape(vec![-1, 7])?) // 16×9 is no multiple of 7
    ///     }
    /// }
    ///
    /// let x = Tensor::new(DType::F32, [16, 9]);
    /// let error = tabulate(&Broken).table_on_error(true).run(|m| m.forward(&x)).unwrap_err();
    /// assert!(error.partial_summary().is_some());
    /// let shown = error.to_string(); // the table so far, then what failed
    /// assert!(shown.contains("Broken Summary") && shown.contains("reshape"));
    /// ```
    pub fn table_on_error(mut self, show: bool) -> Self {
        self.settings.table_on_error = show;
        self
    }

    /// The random streams the run provides besides `params` (Flax's
    /// `rngs={'params': …, 'dropout': …}`): a stochastic `Dropout` needs `dropout`.
    /// Default: only `params`.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::Dropout;
    ///
    /// let x = Tensor::new(DType::F32, [4, 8]);
    /// let dropout = Dropout::new(0.5);
    /// let summary = tabulate(&dropout).rngs(["dropout"]).run(|d| d.forward(&x, false))?;
    /// assert_eq!(summary.rows[0].outputs, tabulate::Value::Array { dtype: DType::F32, shape: [4, 8].into() });
    /// assert!(tabulate(&dropout).run(|d| d.forward(&x, false)).is_err()); // no `dropout` stream
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn rngs<S: Into<String>>(mut self, streams: impl IntoIterator<Item = S>) -> Self {
        self.settings.rngs = streams.into_iter().map(Into::into).collect();
        self
    }

    /// Runs `forward` on the model with abstract tensors and summarises the calls it made.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::Dense;
    ///
    /// #[derive(Tabulate)]
    /// struct Encoder {
    ///     dense: Dense,
    /// }
    ///
    /// impl Encoder {
    ///     #[forward]
    ///     fn encode(&self, x: &Tensor, #[kwarg] scale: f64) -> Result<Tensor> {
    ///         self.dense.forward(&x.mul(scale)?)
    ///     }
    /// }
    ///
    /// let encoder = Encoder { dense: Dense::new(3) };
    /// let x = Tensor::new(DType::F32, [2, 5]);
    /// let summary = tabulate(&encoder).run(|e| e.encode(&x, 0.5))?;
    /// assert_eq!(summary.rows[0].method, "encode"); // shown as `Encoder (encode)`
    /// assert_eq!(summary.rows[1].path, ["dense"]);
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn run<R: ForwardOutput>(self, forward: impl FnOnce(&M) -> R) -> Result<Summary> {
        // Generic over the model's type only here: the rest is compiled once, in this crate.
        let trace = trace::install(self.model, &self.settings.mutable, &self.settings.rngs)?;
        let out = forward(self.model);
        let recording = trace.recording();
        self.settings
            .summarise(self.model.type_name(), out.failure(), &recording)
    }
}

impl Settings {
    /// Flax's defaults.
    fn new() -> Settings {
        Settings {
            depth: None,
            show_repeated: false,
            mutable: Mutable::default(),
            metrics: Vec::new(),
            rngs: Vec::new(),
            metric_options: MetricOptions::default(),
            trainable: false,
            memory: false,
            operators: false,
            footnotes: false,
            table_on_error: false,
        }
    }

    /// Shows `metric` in its place among the columns, or leaves it out.
    fn metric(&mut self, metric: Metric, compute: bool) {
        self.metrics.retain(|&m| m != metric);
        if compute {
            self.metrics.push(metric);
            self.metrics.sort_unstable();
        }
    }

    /// The summary of a traced run of the model named `model` (its type name), whose
    /// forward pass ended in `failure` if it did.
    fn summarise(
        &self,
        model: &str,
        failure: Option<Error>,
        recording: &Recording,
    ) -> Result<Summary> {
        let selection = Selection {
            depth: self.depth,
            show_repeated: self.show_repeated,
        };
        // A `Param` field that could not be declared fails the run even if never read.
        let failure = failure.or_else(|| recording.field_failure.clone());
        if let Some(error) = failure {
            if self.table_on_error && !recording.calls.is_empty() {
                // A partial table that cannot be made (its totals overflow) is left out.
                if let Ok(partial) = Self::partial(model, recording, selection) {
                    return Err(error.with_partial(Arc::new(partial)));
                }
            }
            return Err(error);
        }
        if recording.calls.is_empty() {
            return Err(Error::new(ErrorKind::NoCall));
        }
        let shown = shown_calls(recording, selection);
        let mut memo = cost::Memo::new(shown.iter().map(|s| s.call.span.len()));
        let measured = shown
            .iter()
            .map(|s| {
                let scope = RowScope {
                    repeated: s.repeated,
                    collapsed: s.collapsed,
                };
                cost::measure(
                    recording,
                    s.call,
                    scope,
                    &self.metrics,
                    &self.metric_options,
                    &mut memo,
                )
            })
            .collect::<Result<Vec<_>>>()?;
        let mut summary = collect(recording, model, &shown, self.metrics.clone(), measured)?;
        // Model-wide figures: their errors name the model.
        let at_root = |e: Error| {
            e.or_at(|| Location {
                path: String::new(),
                module: model.to_string(),
            })
        };
        if self.trainable || self.memory {
            let split = self.trainable_split(recording).map_err(at_root)?;
            if self.trainable {
                summary.trainable = Some(split);
            }
            if self.memory {
                let programs = ModelPrograms::new(recording);
                summary.memory = Some(
                    self.memory_estimate(recording, &programs, split)
                        .map_err(at_root)?,
                );
            }
        }
        if self.operators {
            let programs = ModelPrograms::new(recording);
            summary.operators = Some(programs.by_operator().map_err(at_root)?);
        }
        summary.notes = self.notes();
        Ok(summary)
    }

    /// The table of the calls made before a failure: no computed columns, and the calls
    /// that did not return marked in the outputs column.
    fn partial(model: &str, recording: &Recording, selection: Selection) -> Result<Summary> {
        let shown = shown_calls(recording, selection);
        let measured = vec![cost::Metrics::default(); shown.len()];
        let mut summary = collect(recording, model, &shown, Vec::new(), measured)?;
        for (row, s) in summary.rows.iter_mut().zip(&shown) {
            if s.call.outputs.is_none() {
                row.outputs = Value::object("<failed>");
            }
        }
        Ok(summary)
    }

    fn trainable_split(&self, recording: &Recording) -> Result<TrainableSplit> {
        let is_trainable = |v: &&trace::Variable| {
            v.collection == "params"
                && !self
                    .metric_options
                    .frozen
                    .matches(&cost::variable_path(&v.path, &v.name))
        };
        let size = |v: &trace::Variable| Size::of(v.spec.dtype, &v.spec.shape);
        let trainable = exact_sum(recording.variables.iter().filter(is_trainable).map(size));
        let non_trainable = exact_sum(
            recording
                .variables
                .iter()
                .filter(|v| !is_trainable(v))
                .map(size),
        );
        match (trainable, non_trainable) {
            (Some(trainable), Some(non_trainable)) => Ok(TrainableSplit {
                trainable,
                non_trainable,
            }),
            _ => Err(cost::overflow("trainable", "model's parameter count")),
        }
    }

    fn memory_estimate(
        &self,
        recording: &Recording,
        programs: &ModelPrograms,
        split: TrainableSplit,
    ) -> Result<MemoryEstimate> {
        let optimizer = self.metric_options.optimizer;
        let mut inputs = 0u64;
        let mut end = 0;
        for call in &recording.calls {
            // A call starting where the previous top-level call ended, unless it is an
            // empty call at the very end of one (a child that emitted nothing).
            let top_level = call.span.start >= end
                && !(call.span.is_empty() && end > 0 && call.span.start == end);
            if top_level {
                inputs = value_bytes(&call.inputs)
                    .and_then(|bytes| inputs.checked_add(bytes))
                    .ok_or_else(|| cost::overflow("memory", "model's input byte count"))?;
                end = end.max(call.span.end);
            }
        }
        let saved_activations = programs.saved_activations()?;
        let too_large = || cost::overflow("memory", "model's byte count");
        let variables = split
            .trainable
            .bytes
            .checked_add(split.non_trainable.bytes)
            .ok_or_else(too_large)?;
        let gradients = split.trainable.bytes;
        let optimizer_state = gradients
            .checked_mul(optimizer.slots())
            .ok_or_else(too_large)?;
        let total = [inputs, variables, gradients, optimizer_state]
            .into_iter()
            .chain(saved_activations.values().copied())
            .try_fold(0u64, u64::checked_add)
            .ok_or_else(too_large)?;
        Ok(MemoryEstimate {
            optimizer,
            inputs,
            variables,
            gradients,
            optimizer_state,
            saved_activations,
            total,
        })
    }

    /// What the numbers count, for a table with an option beyond Flax's.
    fn notes(&self) -> Vec<String> {
        let beyond_flax = self.metrics.iter().any(|m| !m.is_flax())
            || self.trainable
            || self.memory
            || self.operators;
        if !(beyond_flax || self.footnotes) {
            return Vec::new();
        }
        let shows = |m: Metric| self.metrics.contains(&m);
        let mut notes = Vec::new();
        if shows(Metric::Flops)
            || shows(Metric::VjpFlops)
            || shows(Metric::SelfFlops)
            || shows(Metric::ByOperator)
            || self.operators
        {
            notes.push(
                "flops: XLA's cost analysis of the call's program (a multiply-add counts 2 flops, \
                 an elementwise op 1 per element; convolution taps on padding not counted)"
                    .to_string(),
            );
        }
        if shows(Metric::Macs) || shows(Metric::ByOperator) || self.operators {
            notes.push(
                "macs: multiply-accumulates of matmuls and convolutions only (torchvision's and \
                 ptflops' convention): no bias, every convolution tap counted on the padded input"
                    .to_string(),
            );
        }
        if shows(Metric::SelfFlops) {
            notes.push(
                "self_flops: the flops of the call's own operations, its child calls left out"
                    .to_string(),
            );
        }
        if shows(Metric::OptimizerState) || self.memory {
            notes.push(format!(
                "optimizer state: {} ({} array(s) per trainable parameter)",
                self.metric_options.optimizer.name(),
                self.metric_options.optimizer.slots()
            ));
        }
        if !self.metric_options.frozen.is_empty()
            && (self.trainable || shows(Metric::Trainable) || self.memory)
        {
            notes.push("frozen parameters count as non-trainable".to_string());
        }
        notes
    }
}
