//! The computed columns of a summary: which exist ([`Metric`]), what a row's cell holds
//! ([`MetricValue`]), and how each is measured on one call. A new column is a variant
//! here, its header in [`Metric::header`] and its arm in [`measure`].

use serde::Serialize;

use super::memo::Memo;
use super::{count, program, vjp};
use crate::error::Result;
use crate::trace::{CallRecord, Recording};

/// A computed column of a summary, off unless an option asks for it.
///
/// Columns appear in the order of [`Metric::ALL`], after `outputs` and before the
/// variable collections.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// XLA's flops of the call's forward pass (Flax's `compute_flops`).
    Flops,
    /// XLA's flops of the call's forward pass plus its VJP with respect to its variables
    /// and array inputs (Flax's `compute_vjp_flops`).
    VjpFlops,
}

impl Metric {
    /// Every metric, in column order.
    pub const ALL: [Metric; 2] = [Metric::Flops, Metric::VjpFlops];

    /// The column's header, which is also its key in a serialised row.
    pub fn header(self) -> &'static str {
        match self {
            Metric::Flops => "flops",
            Metric::VjpFlops => "vjp_flops",
        }
    }
}

/// One metric's value in one row.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum MetricValue {
    /// A count (flops), shown as a plain integer.
    Count(u64),
}

impl MetricValue {
    /// The count, when the value is one.
    pub fn as_count(&self) -> Option<u64> {
        match self {
            MetricValue::Count(count) => Some(*count),
        }
    }
}

/// The values of the computed columns of one row, in column order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Metrics {
    values: Vec<(Metric, MetricValue)>,
}

impl Metrics {
    /// The value of `metric`, when it was computed.
    pub fn get(&self, metric: Metric) -> Option<&MetricValue> {
        self.values
            .iter()
            .find_map(|(m, value)| (*m == metric).then_some(value))
    }

    /// Every computed metric with its value, in column order.
    pub fn iter(&self) -> impl Iterator<Item = (Metric, &MetricValue)> {
        self.values.iter().map(|(m, value)| (*m, value))
    }

    /// Whether no metric was computed.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

impl Serialize for Metrics {
    /// A map from header to value: `{"flops": 1216, "vjp_flops": 3620}`.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.values.iter().map(|(m, v)| (m.header(), v)))
    }
}

/// Measures `metrics` (in column order) on `call`: the costing stage, run once per row
/// before the rows are assembled. A program measured before in the run (`memo`) is not
/// measured again.
pub(crate) fn measure(
    recording: &Recording,
    call: &CallRecord,
    metrics: &[Metric],
    memo: &mut Memo,
) -> Result<Metrics> {
    if metrics.is_empty() {
        return Ok(Metrics::default());
    }
    let mut outputs = call.results.clone();
    outputs.extend(recording.variables_of(call));
    let forward = program::extract(&recording.graph, call.span.clone(), &outputs);
    let key = memo.key(&forward, metrics);
    if let Some(known) = memo.get(key) {
        return Ok(known.clone());
    }
    let mut values = Vec::with_capacity(metrics.len());
    for &metric in metrics {
        let value = match metric {
            Metric::Flops => MetricValue::Count(count::count(&forward).flops),
            Metric::VjpFlops => {
                MetricValue::Count(count::count(&vjp::vjp_program(&forward)?).flops)
            }
        };
        values.push((metric, value));
    }
    let measured = Metrics { values };
    memo.insert(key, &measured);
    Ok(measured)
}
