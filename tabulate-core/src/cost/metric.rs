//! The computed columns of a summary: which exist ([`Metric`]), what a row's cell holds
//! ([`MetricValue`]), and how each is measured on one call. A new column is a variant
//! here, its header in [`Metric::header`] and its arm in [`measure`].

use std::cell::OnceCell;
use std::collections::BTreeMap;

use super::compose::{self, Compose, Reuse};
use super::memo::{Memo, Question, SpanProgram};
use super::{count, program, tally, vjp};
use crate::dtype::DType;
use crate::error::{Error, ErrorKind, Location, Result};
use crate::ops::graph::{Graph, ValueId};
use crate::options::{Frozen, Optimizer};
use crate::path::ModulePath;
use crate::trace::{CallRecord, CallVariables, Recording};

/// A computed column of a summary, off unless an option asks for it.
///
/// Flax's columns are [`Metric::Flops`] and [`Metric::VjpFlops`]; the others go beyond
/// Flax. Columns asked for one at a time ([`Tabulator::metric`](crate::Tabulator::metric))
/// appear in the order of [`Metric::ALL`]; [`Tabulator::metrics`](crate::Tabulator::metrics)
/// takes an order. They sit after `outputs` and before the variable collections.
///
/// ```
/// use tabulate::Metric;
///
/// assert_eq!(Metric::Macs.header(), "macs");
/// assert_eq!(Metric::ALL[0], Metric::Flops);
/// ```
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Metric {
    /// XLA's flops of the call's forward pass (Flax's `compute_flops`): a multiply-add
    /// counts 2, every elementwise op 1 per element, the call's children included.
    Flops,
    /// XLA's flops of the call's forward pass plus its VJP with respect to its variables
    /// and array inputs (Flax's `compute_vjp_flops`).
    VjpFlops,
    /// XLA's flops of the call's own operations, its child calls left out: the program
    /// of the call with each child replaced by its results (what the row adds around its
    /// children: residual adds, activations, reshapes). Costed directly, not as the
    /// difference of float32 totals, so a leaf's equals its `flops` and a row that only
    /// calls children has 0.
    SelfFlops,
    /// Multiply-accumulates of the forward pass as torchvision, ptflops and fvcore count
    /// them: matmuls (`dot_general`) and convolutions only, no bias, every tap of a
    /// convolution counted on the padded input. Not half of `flops`: XLA's flops skip
    /// the taps on padding, so a CNN's `flops` are 3–7% below `2 × macs`.
    Macs,
    /// The call's forward pass by primitive, as `FlopCounterMode` reports: per primitive,
    /// its live applications, flops (exact integer sums) and MACs.
    ByOperator,
    #[cfg_attr(feature = "serde", serde(rename = "trainable_params"))]
    /// Trainable parameters of the row: the `params` collection, less those
    /// [`Frozen`] selects. Other collections (`batch_stats`, …) are never trainable.
    Trainable,
    #[cfg_attr(feature = "serde", serde(rename = "saved_activation_bytes"))]
    /// Bytes of the activations the call's backward pass reads from its forward pass (the
    /// residuals of its VJP program), by dtype: intermediates only, not the call's
    /// inputs, variables or outputs.
    SavedActivations,
    #[cfg_attr(feature = "serde", serde(rename = "gradient_bytes"))]
    /// Bytes of the gradients of the row's trainable parameters.
    Gradients,
    #[cfg_attr(feature = "serde", serde(rename = "optimizer_state_bytes"))]
    /// Bytes of the optimizer's state for the row's trainable parameters ([`Optimizer`]).
    OptimizerState,
}

impl Metric {
    /// Every metric, in column order.
    pub const ALL: [Metric; 9] = [
        Metric::Flops,
        Metric::VjpFlops,
        Metric::SelfFlops,
        Metric::Macs,
        Metric::ByOperator,
        Metric::Trainable,
        Metric::SavedActivations,
        Metric::Gradients,
        Metric::OptimizerState,
    ];

    /// The column's header, which is also its key in a serialised row.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::Metric;
    ///
    /// let headers: Vec<&str> = Metric::ALL.iter().map(|m| m.header()).collect();
    /// assert_eq!(&headers[..4], ["flops", "vjp_flops", "self_flops", "macs"]);
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn header(self) -> &'static str {
        match self {
            Metric::Flops => "flops",
            Metric::VjpFlops => "vjp_flops",
            Metric::SelfFlops => "self_flops",
            Metric::Macs => "macs",
            Metric::ByOperator => "by_operator",
            Metric::Trainable => "trainable_params",
            Metric::SavedActivations => "saved_activation_bytes",
            Metric::Gradients => "gradient_bytes",
            Metric::OptimizerState => "optimizer_state_bytes",
        }
    }

    /// Whether this is one of Flax's own columns.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::Metric;
    ///
    /// assert!(Metric::VjpFlops.is_flax());
    /// assert!(!Metric::Macs.is_flax()); // torchvision's convention, beyond Flax
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn is_flax(self) -> bool {
        matches!(self, Metric::Flops | Metric::VjpFlops)
    }

    /// Whether measuring it needs the call's program (as opposed to its variables).
    /// Whether the call's forward program alone determines the value (so the memo may
    /// answer it).
    fn program_determined(self) -> bool {
        !matches!(
            self,
            Metric::SelfFlops | Metric::Trainable | Metric::Gradients | Metric::OptimizerState
        )
    }

    fn needs_program(self) -> bool {
        !matches!(
            self,
            Metric::Trainable | Metric::Gradients | Metric::OptimizerState
        )
    }
}

/// One metric's value in one row.
///
/// In JSON a count or a byte count is a number, a breakdown an object.
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::{Metric, MetricValue};
/// use tabulate::nn::Dense;
///
/// let x = Tensor::new(DType::F32, [16, 9]);
/// let summary = tabulate(&Dense::new(4)).compute_macs(true).metric(Metric::Gradients, true).run(|d| d.forward(&x))?;
/// let row = &summary.rows[0];
/// assert_eq!(row.metric(Metric::Macs), Some(&MetricValue::Count(576)));
/// assert_eq!(row.metric(Metric::Gradients).and_then(MetricValue::as_bytes), Some(160));
/// # Ok::<(), tabulate::Error>(())
/// ```
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(untagged))]
pub enum MetricValue {
    /// A count (flops, MACs), shown as a plain integer.
    Count(u64),
    /// A number of bytes, shown in Flax's units (`1.2 KB`).
    Bytes(u64),
    /// Bytes per dtype, shown one dtype a line; `{"float32": 256}` in JSON.
    BytesByDtype(BTreeMap<DType, u64>),
    /// A number of parameter elements and their bytes, shown as `40 (160 B)`.
    Params {
        /// Elements.
        count: u64,
        /// Bytes.
        bytes: u64,
    },
    /// Per primitive name, what it contributes; `{"dot_general": {…}}` in JSON.
    ByOperator(BTreeMap<String, OperatorCount>),
}

/// What one primitive contributes to a forward pass ([`Metric::ByOperator`]).
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::Metric;
/// use tabulate::nn::Dense;
///
/// let x = Tensor::new(DType::F32, [16, 9]);
/// let summary = tabulate(&Dense::new(4)).metric(Metric::ByOperator, true).run(|d| d.forward(&x))?;
/// let Some(tabulate::MetricValue::ByOperator(ops)) = summary.rows[0].metric(Metric::ByOperator) else {
///     unreachable!("asked for")
/// };
/// assert_eq!((ops["dot_general"].calls, ops["dot_general"].flops, ops["dot_general"].macs), (1, 1152, 576));
/// assert_eq!(ops["add"].flops, 64); // the bias
/// # Ok::<(), tabulate::Error>(())
/// ```
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct OperatorCount {
    /// How many times it is applied (live applications after dead-code elimination).
    pub calls: u64,
    /// XLA's flops, summed exactly.
    pub flops: u64,
    /// Multiply-accumulates ([`Metric::Macs`]'s convention).
    pub macs: u64,
}

impl MetricValue {
    /// The count, when the value is one.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::MetricValue;
    ///
    /// assert_eq!(MetricValue::Count(1216).as_count(), Some(1216));
    /// assert_eq!(MetricValue::Bytes(160).as_count(), None);
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn as_count(&self) -> Option<u64> {
        match self {
            MetricValue::Count(count) => Some(*count),
            _ => None,
        }
    }

    /// The total number of bytes, when the value is a number of bytes (a summary's
    /// values always fit in a `u64`: the costing stage reports larger ones as errors).
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::{DType, MetricValue};
    ///
    /// assert_eq!(MetricValue::Bytes(160).as_bytes(), Some(160));
    /// // Per dtype, the total:
    /// let by_dtype = [(DType::F32, 256), (DType::BF16, 64)].into_iter().collect();
    /// assert_eq!(MetricValue::BytesByDtype(by_dtype).as_bytes(), Some(320));
    /// assert_eq!(MetricValue::Count(7).as_bytes(), None);
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn as_bytes(&self) -> Option<u64> {
        match self {
            MetricValue::Bytes(bytes) | MetricValue::Params { bytes, .. } => Some(*bytes),
            MetricValue::BytesByDtype(by) => by
                .values()
                .try_fold(0u64, |acc, &bytes| acc.checked_add(bytes)),
            _ => None,
        }
    }
}

/// The values of the computed columns of one row, in column order.
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::Metric;
/// use tabulate::nn::Dense;
///
/// let x = Tensor::new(DType::F32, [16, 9]);
/// let summary = tabulate(&Dense::new(4)).metrics([Metric::Macs, Metric::Flops]).run(|d| d.forward(&x))?;
/// let metrics = summary.rows[0].metrics();
/// let headers: Vec<&str> = metrics.iter().map(|(m, _)| m.header()).collect();
/// assert_eq!(headers, ["macs", "flops"]); // `metrics` keeps the order asked
/// assert!(metrics.get(Metric::VjpFlops).is_none());
/// # Ok::<(), tabulate::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Metrics {
    values: Vec<(Metric, MetricValue)>,
}

impl Metrics {
    /// The value of `metric`, when it was computed.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::{Metric, MetricValue};
    /// use tabulate::nn::Dense;
    ///
    /// let x = Tensor::new(DType::F32, [16, 9]);
    /// let summary = tabulate(&Dense::new(4)).compute_flops(true).run(|d| d.forward(&x))?;
    /// // Flax 0.12.8: 2·16·9·4 for the matmul, 64 for the bias.
    /// assert_eq!(summary.rows[0].metrics().get(Metric::Flops), Some(&MetricValue::Count(1216)));
    /// assert_eq!(summary.rows[0].metrics().get(Metric::VjpFlops), None); // not asked for
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn get(&self, metric: Metric) -> Option<&MetricValue> {
        self.values
            .iter()
            .find_map(|(m, value)| (*m == metric).then_some(value))
    }

    /// Every computed metric with its value, in column order.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::Metric;
    /// use tabulate::nn::Dense;
    ///
    /// let x = Tensor::new(DType::F32, [16, 9]);
    /// let summary = tabulate(&Dense::new(4)).compute_flops(true).compute_vjp_flops(true).run(|d| d.forward(&x))?;
    /// let computed: Vec<Metric> = summary.rows[0].metrics().iter().map(|(m, _)| m).collect();
    /// assert_eq!(computed, [Metric::Flops, Metric::VjpFlops]);
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = (Metric, &MetricValue)> {
        self.values.iter().map(|(m, value)| (*m, value))
    }

    /// Whether no metric was computed.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::Dense;
    ///
    /// let x = Tensor::new(DType::F32, [16, 9]);
    /// // Flax's defaults: no computed column.
    /// let summary = tabulate(&Dense::new(4)).run(|d| d.forward(&x))?;
    /// assert!(summary.rows[0].metrics().is_empty());
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for Metrics {
    /// A map from header to value: `{"flops": 1216, "vjp_flops": 3620}`.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.values.iter().map(|(m, v)| (m.header(), v)))
    }
}

/// The options the metrics depend on.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct MetricOptions {
    pub(crate) frozen: Frozen,
    pub(crate) optimizer: Optimizer,
}

/// Where a row stands: what its variable cells count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RowScope {
    /// A repeated call: no variables of its own.
    pub(crate) repeated: bool,
    /// At the `depth` limit: counts its whole subtree's variables.
    pub(crate) collapsed: bool,
}

/// Measures `metrics` (in column order) on `call`: the costing stage, run once per row
/// before the rows are assembled. A program measured before in the run (`memo`) is not
/// measured again. Its errors name the call; a count that does not fit in 64 bits is an
/// error naming the column, never a saturated number.
pub(crate) fn measure(
    recording: &Recording,
    call: &CallRecord,
    scope: RowScope,
    metrics: &[Metric],
    options: &MetricOptions,
    memo: &mut Memo,
) -> Result<Metrics> {
    if metrics.is_empty() {
        return Ok(Metrics::default());
    }
    measure_unlocated(recording, call, scope, metrics, options, memo).map_err(|e| {
        e.or_at(|| Location {
            path: call.path.join("/"),
            module: call.type_name.to_string(),
        })
    })
}

fn measure_unlocated(
    recording: &Recording,
    call: &CallRecord,
    scope: RowScope,
    metrics: &[Metric],
    options: &MetricOptions,
    memo: &mut Memo,
) -> Result<Metrics> {
    let (variables, forward) = row_program(recording, call, &mut memo.compose);
    // The columns a row's program determines are asked of the memo; the key holds every
    // metric asked for, their options and the row's scope as well as the whole program,
    // so a hit is exactly the same question. The others depend on more than the program
    // (the row's path against frozen patterns, the calls inside it) and are measured here.
    // The memo reads the call's span in place: the program is extracted only when a
    // column is measured on it.
    let inputs = program_inputs(call, &variables);
    let outputs = program_outputs(call, &variables);
    let key = if metrics.iter().any(|m| m.needs_program()) {
        let span = SpanProgram {
            graph: &recording.graph,
            span: call.span.clone(),
            inputs: &inputs,
            outputs: &outputs,
            remat: call.remat,
        };
        memo.key(
            &span,
            Question {
                metrics,
                options,
                scope,
            },
        )
    } else {
        None
    };
    let known = memo.get(key.as_ref(), &recording.graph).cloned();
    let mut determined = Vec::new();
    let trainable = if metrics.iter().all(|m| m.needs_program()) {
        (0, 0)
    } else {
        trainable_size(recording, call, scope, &options.frozen)
            .ok_or_else(|| overflow("trainable_params", "call's parameter count"))?
    };
    let mut values = Vec::with_capacity(metrics.len());
    for &metric in metrics {
        let program = || -> Result<&Graph> {
            Ok(forward.get_or_init(|| forward_program(recording, call, &inputs, &outputs)))
        };
        if metric.program_determined()
            && let Some(value) = known.as_ref().and_then(|k| k.get(metric))
        {
            values.push((metric, value.clone()));
            continue;
        }
        let column = metric.header();
        let value = match metric {
            Metric::Flops => {
                let total = row_flops(recording, call, &variables, program, &mut memo.compose)?;
                // A composed total needs no program of the row but to name an overflow.
                if total == u64::MAX {
                    flops(total, column, program()?)?;
                }
                MetricValue::Count(total)
            }
            Metric::VjpFlops => {
                let compose = &mut memo.compose;
                MetricValue::Count(row_vjp_flops(
                    recording, call, &variables, program, compose,
                )?)
            }
            Metric::SelfFlops => {
                let glue = glue_program(recording, call, &variables);
                MetricValue::Count(flops(count::count(&glue).flops, column, &glue)?)
            }
            Metric::Macs => {
                let program = program()?;
                MetricValue::Count(
                    tally::macs(program)
                        .ok_or_else(|| overflow_in(column, "call's count", program))?,
                )
            }
            Metric::ByOperator => {
                let program = program()?;
                MetricValue::ByOperator(
                    by_operator(program)
                        .ok_or_else(|| overflow_in(column, "call's count", program))?,
                )
            }
            Metric::SavedActivations => MetricValue::BytesByDtype(saved_bytes(
                tally::residual_bytes(&vjp::vjp_parts(program()?)?),
                column,
                "call's byte count",
            )?),
            Metric::Trainable => MetricValue::Params {
                count: trainable.0,
                bytes: trainable.1,
            },
            Metric::Gradients => MetricValue::Bytes(trainable.1),
            Metric::OptimizerState => MetricValue::Bytes(
                trainable
                    .1
                    .checked_mul(options.optimizer.slots())
                    .ok_or_else(|| overflow(column, "call's byte count"))?,
            ),
        };
        if metric.program_determined() {
            determined.push((metric, value.clone()));
        }
        values.push((metric, value));
    }
    if known.is_none() {
        memo.insert(key, &Metrics { values: determined });
    }
    Ok(Metrics { values })
}

/// The variables of `call`'s row, and its forward program if the composition of its
/// parent's row extracted it (each program is extracted once), else a cell to build it
/// in when a column is measured on it.
fn row_program(
    recording: &Recording,
    call: &CallRecord,
    compose: &mut Compose,
) -> (CallVariables, OnceCell<Graph>) {
    let forward = OnceCell::new();
    let variables = match compose.take_program(recording, call) {
        Some((graph, variables)) => {
            if let Some(graph) = graph {
                let _ = forward.set(graph);
            }
            variables
        }
        None => recording.variables_of(call),
    };
    (variables, forward)
}

/// XLA's float32 flop total of the row's forward `program`: composed from the programs
/// of the calls inside it where that is exact (`compose`, which needs no program of the
/// row), else costed on its own.
fn row_flops<'p>(
    recording: &Recording,
    call: &CallRecord,
    variables: &CallVariables,
    program: impl Fn() -> Result<&'p Graph>,
    compose: &mut Compose,
) -> Result<u64> {
    Ok(match compose::reuse() {
        Reuse::Off => count::count(program()?).flops,
        Reuse::On => match compose.flops(recording, call, variables) {
            Some(total) => count::to_count(total),
            None => compose.count(recording, call, program()?),
        },
        Reuse::Check => {
            let full = count::count(program()?).flops;
            if let Some(total) = compose.flops(recording, call, variables)
                && count::to_count(total) != full
            {
                return Err(Error::internal(format!(
                    "flops composed from the child calls ({}) differ from the program's \
                     ({full})",
                    count::to_count(total)
                )));
            }
            full
        }
    })
}

/// XLA's float32 flop total of the row's VJP program: composed from the calls inside it
/// where that is exact (`compose`, which needs no program of the row), else costed on
/// its own.
fn row_vjp_flops<'p>(
    recording: &Recording,
    call: &CallRecord,
    variables: &CallVariables,
    program: impl Fn() -> Result<&'p Graph>,
    compose: &mut Compose,
) -> Result<u64> {
    let full =
        |program: &Graph| -> Result<u64> { Ok(count::count(&vjp::vjp_program(program)?).flops) };
    Ok(match compose::reuse() {
        Reuse::Off => full(program()?)?,
        Reuse::On => match compose.vjp_flops(recording, call, variables) {
            Some(total) => count::to_count(total),
            None => full(program()?)?,
        },
        Reuse::Check => {
            let full = full(program()?)?;
            if let Some(total) = compose.vjp_flops(recording, call, variables)
                && count::to_count(total) != full
            {
                return Err(Error::internal(format!(
                    "vjp_flops composed from the child calls ({}) differ from the program's \
                     ({full})",
                    count::to_count(total)
                )));
            }
            full
        }
    })
    .and_then(|total| {
        // A composed total needs no program of the row but to name an overflow.
        if total == u64::MAX {
            flops(total, "vjp_flops", &vjp::vjp_program(program()?)?)?;
        }
        Ok(total)
    })
}

/// A count of `column` that does not fit in 64 bits.
pub(crate) fn overflow(column: &str, what: &str) -> Error {
    Error::new(ErrorKind::InvalidArgument {
        what: format!("{column}: the {what} does not fit in 64 bits (2^64 or more)"),
    })
}

/// [`overflow`] of a count over `program`, naming its largest part: the user-level
/// operation (`Tensor::matmul`) and primitive that count most.
pub(crate) fn overflow_in(column: &str, what: &str, program: &Graph) -> Error {
    let largest = match tally::largest_part(program) {
        Some((Some(operation), prim)) => format!("; its largest part is `{operation}` ({prim})"),
        Some((None, prim)) => format!("; its largest part is {prim}"),
        None => String::new(),
    };
    Error::new(ErrorKind::InvalidArgument {
        what: format!("{column}: the {what} does not fit in 64 bits (2^64 or more){largest}"),
    })
}

/// A float32 flop total of `program` as a count: XLA's sum saturates at `u64::MAX` from
/// 2^64 on (the largest float32 below 2^64 is 2^64 − 2^40), which is reported, not shown.
fn flops(total: u64, column: &str, program: &Graph) -> Result<u64> {
    if total == u64::MAX {
        Err(overflow_in(column, "call's flop count", program))
    } else {
        Ok(total)
    }
}

/// Saved bytes by dtype whose total, as the cell and the footer add them, fits in 64 bits.
fn saved_bytes(
    by_dtype: Option<BTreeMap<DType, u64>>,
    column: &str,
    what: &str,
) -> Result<BTreeMap<DType, u64>> {
    by_dtype
        .filter(|by| {
            by.values()
                .try_fold(0u64, |acc, &b| acc.checked_add(b))
                .is_some()
        })
        .ok_or_else(|| overflow(column, what))
}

/// The call's program as Flax costs it: its span, with its results and every variable it
/// touched as outputs ([`program_outputs`]), its variables and arguments as inputs.
pub(crate) fn forward_program(
    recording: &Recording,
    call: &CallRecord,
    inputs: &[ValueId],
    outputs: &[ValueId],
) -> Graph {
    let mut graph = program::extract(&recording.graph, call.span.clone(), inputs, outputs);
    if call.remat {
        program::inline_remat_of_span(&mut graph);
    }
    graph
}

/// What a call's program returns: its results, then every variable it touched.
pub(crate) fn program_outputs(call: &CallRecord, variables: &CallVariables) -> Vec<ValueId> {
    let mut outputs = call.results.to_vec();
    outputs.extend(variables.finals.iter().copied());
    outputs
}

/// The values a call's program takes, in JAX's order for `apply(variables, rngs,
/// *args)`: its variables as the flattened (sorted) variables dict, then its arguments.
pub(crate) fn program_inputs(call: &CallRecord, variables: &CallVariables) -> Vec<ValueId> {
    let mut inputs = variables.inputs.clone();
    inputs.extend(call.arguments.iter().copied());
    inputs
}

/// The call's own operations: its program with the spans of the calls inside it removed.
fn glue_program(recording: &Recording, call: &CallRecord, variables: &CallVariables) -> Graph {
    let index = recording
        .calls
        .iter()
        .position(|c| std::ptr::eq(c, call))
        .unwrap_or(recording.calls.len());
    let holes: Vec<_> = recording.calls[index.saturating_add(1).min(recording.calls.len())..]
        .iter()
        .take_while(|c| c.span.start < call.span.end || c.span.is_empty())
        .filter(|c| {
            !c.span.is_empty() && c.span.start >= call.span.start && c.span.end <= call.span.end
        })
        .map(|c| c.span.clone())
        .collect();
    let mut outputs = call.results.to_vec();
    outputs.extend(variables.finals.iter().copied());
    let mut graph = program::extract_glue(
        &recording.graph,
        call.span.clone(),
        &holes,
        &program_inputs(call, variables),
        &outputs,
    );
    if call.remat {
        program::inline_remat_of_span(&mut graph);
    }
    graph
}

fn by_operator(program: &Graph) -> Option<BTreeMap<String, OperatorCount>> {
    let by = tally::by_primitive(program)?
        .into_iter()
        .map(|(name, t)| {
            (
                name.to_string(),
                OperatorCount {
                    calls: t.calls,
                    flops: t.flops,
                    macs: t.macs,
                },
            )
        })
        .collect();
    Some(by)
}

/// Elements and bytes of the trainable parameters a row counts.
fn trainable_size(
    recording: &Recording,
    call: &CallRecord,
    scope: RowScope,
    frozen: &Frozen,
) -> Option<(u64, u64)> {
    if scope.repeated {
        return Some((0, 0));
    }
    recording
        .variables
        .iter()
        .filter(|v| v.collection == "params")
        .filter(|v| {
            if scope.collapsed {
                v.path.starts_with(&call.path)
            } else {
                v.path == call.path
            }
        })
        .filter(|v| !frozen.matches(&variable_path(&v.path, &v.name)))
        .try_fold((0u64, 0u64), |(count, bytes), v| {
            let n = v.spec.shape.checked_elements()?;
            Some((
                count.checked_add(n)?,
                bytes.checked_add(n.checked_mul(v.spec.dtype.item_size())?)?,
            ))
        })
}

/// A variable's path as [`Frozen`] patterns see it: `Block_0/Dense_1/kernel`.
pub(crate) fn variable_path(module: &ModulePath, name: &str) -> String {
    let mut path = module.join("/");
    if !path.is_empty() {
        path.push('/');
    }
    path.push_str(name);
    path
}

/// Model-wide figures: the program of every top-level call at once.
pub(crate) struct ModelPrograms {
    forward: Graph,
}

impl ModelPrograms {
    /// The forward program of the calls not nested in another call.
    pub(crate) fn new(recording: &Recording) -> ModelPrograms {
        let mut outputs = Vec::new();
        let mut end = 0;
        for call in &recording.calls {
            if call.span.start < end {
                continue; // nested in an earlier top-level call
            }
            end = end.max(call.span.end);
            outputs.extend(call.results.iter().copied());
            outputs.extend(recording.variables_of(call).finals);
        }
        let nodes = u32::try_from(recording.graph.nodes.len()).unwrap_or(u32::MAX);
        ModelPrograms {
            forward: program::extract(&recording.graph, 0..nodes, &[], &outputs),
        }
    }

    /// The model's forward pass by primitive (unlocated errors: the caller places them).
    pub(crate) fn by_operator(&self) -> Result<BTreeMap<String, OperatorCount>> {
        by_operator(&self.forward)
            .ok_or_else(|| overflow_in("operators", "model's count", &self.forward))
    }

    /// Bytes of the activations the model's backward pass keeps, by dtype.
    pub(crate) fn saved_activations(&self) -> Result<BTreeMap<DType, u64>> {
        saved_bytes(
            tally::residual_bytes(&vjp::vjp_parts(&self.forward)?),
            "saved activations",
            "model's byte count",
        )
    }
}
