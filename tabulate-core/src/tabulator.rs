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

/// The options of a summary, as Flax's `nn.tabulate` takes them.
#[derive(Debug)]
#[must_use = "a Tabulator does nothing until `run`"]
#[allow(clippy::struct_excessive_bools)] // independent on/off options, as Flax's are
pub struct Tabulator<'a, M> {
    model: &'a M,
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
    pub fn depth(mut self, depth: usize) -> Self {
        self.depth = Some(depth);
        self
    }

    /// Also shows repeated calls of a module (shared weights, other methods), with empty
    /// variable cells. Default: `false`.
    pub fn show_repeated(mut self, show: bool) -> Self {
        self.show_repeated = show;
        self
    }

    /// Which variable collections may be created and written. Default: all but
    /// `intermediates`.
    pub fn mutable(mut self, mutable: Mutable) -> Self {
        self.mutable = mutable;
        self
    }

    /// Adds a `flops` column: XLA's flops of each call's forward pass. Default: `false`.
    pub fn compute_flops(self, compute: bool) -> Self {
        self.metric(Metric::Flops, compute)
    }

    /// Adds a `vjp_flops` column: XLA's flops of each call's forward pass plus its VJP
    /// with respect to its variables and array inputs. Default: `false`.
    pub fn compute_vjp_flops(self, compute: bool) -> Self {
        self.metric(Metric::VjpFlops, compute)
    }

    /// Adds (`true`) or removes (`false`) the column of `metric`. Columns appear in the
    /// order of [`Metric::ALL`] whatever the order of the calls. Default: none.
    pub fn metric(mut self, metric: Metric, compute: bool) -> Self {
        self.metrics.retain(|&m| m != metric);
        if compute {
            self.metrics.push(metric);
            self.metrics.sort_unstable();
        }
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
        self.metrics.clear();
        for metric in metrics {
            if !self.metrics.contains(&metric) {
                self.metrics.push(metric);
            }
        }
        self
    }

    /// Parameters held fixed (fine-tuning): they count as non-trainable in the
    /// `trainable_params`, gradient and optimizer columns and the footer. Default: none.
    pub fn frozen(mut self, frozen: Frozen) -> Self {
        self.metric_options.frozen = frozen;
        self
    }

    /// The optimizer whose state the memory figures count. Default: Adam.
    pub fn optimizer(mut self, optimizer: Optimizer) -> Self {
        self.metric_options.optimizer = optimizer;
        self
    }

    /// Adds the trainable and non-trainable totals to the footer, as Keras does.
    /// Default: `false`.
    pub fn trainable(mut self, show: bool) -> Self {
        self.trainable = show;
        self
    }

    /// Adds an estimate of the memory of one training step to the footer: inputs,
    /// variables, gradients, optimizer state and saved activations, like torchinfo's
    /// "Estimated Total Size". Default: `false`.
    pub fn estimate_memory(mut self, estimate: bool) -> Self {
        self.memory = estimate;
        self
    }

    /// Adds a table of the model's forward pass by primitive (applications, flops,
    /// MACs), as `FlopCounterMode` reports. Per row: [`Metric::ByOperator`]. Default:
    /// `false`.
    pub fn operators(mut self, show: bool) -> Self {
        self.operators = show;
        self
    }

    /// States the FLOP convention (and the MAC convention when shown) under the table
    /// even with only Flax's columns. Notes appear on their own whenever an option beyond
    /// Flax's is on. Default: `false`, so that Flax's table stays byte for byte.
    pub fn footnotes(mut self, show: bool) -> Self {
        self.footnotes = show;
        self
    }

    /// When the forward pass fails, the error carries the table of the calls made so
    /// far and displays it above the message ([`Error::partial_summary`]). Default:
    /// `false`.
    pub fn table_on_error(mut self, show: bool) -> Self {
        self.table_on_error = show;
        self
    }

    /// The random streams the run provides besides `params` (Flax's
    /// `rngs={'params': …, 'dropout': …}`): a stochastic `Dropout` needs `dropout`.
    /// Default: only `params`.
    pub fn rngs<S: Into<String>>(mut self, streams: impl IntoIterator<Item = S>) -> Self {
        self.rngs = streams.into_iter().map(Into::into).collect();
        self
    }

    /// Runs `forward` on the model with abstract tensors and summarises the calls it made.
    pub fn run<R: ForwardOutput>(self, forward: impl FnOnce(&M) -> R) -> Result<Summary> {
        let (out, recording) = trace::run(self.model, self.mutable.clone(), &self.rngs, forward)?;
        let selection = Selection {
            depth: self.depth,
            show_repeated: self.show_repeated,
        };
        // A `Param` field that could not be declared fails the run even if never read.
        let failure = out.failure().or_else(|| recording.field_failure.clone());
        if let Some(error) = failure {
            if self.table_on_error && !recording.calls.is_empty() {
                // A partial table that cannot be made (its totals overflow) is left out.
                if let Ok(partial) = self.partial(&recording, selection) {
                    return Err(error.with_partial(Arc::new(partial)));
                }
            }
            return Err(error);
        }
        if recording.calls.is_empty() {
            return Err(Error::new(ErrorKind::NoCall));
        }
        let shown = shown_calls(&recording, selection);
        let mut memo = cost::Memo::new(shown.iter().map(|s| s.call.span.len()));
        let measured = shown
            .iter()
            .map(|s| {
                let scope = RowScope {
                    repeated: s.repeated,
                    collapsed: s.collapsed,
                };
                cost::measure(
                    &recording,
                    s.call,
                    scope,
                    &self.metrics,
                    &self.metric_options,
                    &mut memo,
                )
            })
            .collect::<Result<Vec<_>>>()?;
        let mut summary = collect(
            &recording,
            self.model.type_name(),
            &shown,
            self.metrics.clone(),
            measured,
        )?;
        // Model-wide figures: their errors name the model.
        let at_root = |e: Error| {
            e.or_at(|| Location {
                path: String::new(),
                module: self.model.type_name().to_string(),
            })
        };
        if self.trainable || self.memory {
            let split = self.trainable_split(&recording).map_err(at_root)?;
            if self.trainable {
                summary.trainable = Some(split);
            }
            if self.memory {
                let programs = ModelPrograms::new(&recording);
                summary.memory = Some(
                    self.memory_estimate(&recording, &programs, split)
                        .map_err(at_root)?,
                );
            }
        }
        if self.operators {
            let programs = ModelPrograms::new(&recording);
            summary.operators = Some(programs.by_operator().map_err(at_root)?);
        }
        summary.notes = self.notes();
        Ok(summary)
    }

    /// The table of the calls made before a failure: no computed columns, and the calls
    /// that did not return marked in the outputs column.
    fn partial(&self, recording: &Recording, selection: Selection) -> Result<Summary> {
        let shown = shown_calls(recording, selection);
        let measured = vec![cost::Metrics::default(); shown.len()];
        let mut summary = collect(
            recording,
            self.model.type_name(),
            &shown,
            Vec::new(),
            measured,
        )?;
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
