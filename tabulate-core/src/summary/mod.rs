//! `Summary`: the rows, columns and totals of a summary, as plain public data; turned
//! into text by `render`.

pub(crate) mod collect;
mod export;
pub(crate) mod format;
mod render;

use std::collections::BTreeMap;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};

use serde::Serialize;

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
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
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
#[non_exhaustive]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
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
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq)]
pub struct RowVariables {
    /// The variables the module itself declared, sorted by name.
    pub own: Vec<Leaf>,
    /// What the row counts: its own variables, or its whole subtree when the row is the
    /// deepest shown (`depth`).
    pub counted: Size,
}

/// One variable.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Leaf {
    /// Its name (`kernel`).
    pub name: String,
    /// Its element type.
    pub dtype: DType,
    /// Its shape.
    pub shape: Shape,
}

/// A number of elements and the bytes they take.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Size {
    /// Elements.
    pub count: u64,
    /// Bytes (elements × item size).
    pub bytes: u64,
}

impl Row {
    /// XLA's flops of the call's forward pass, when computed.
    pub fn flops(&self) -> Option<u64> {
        self.metric(Metric::Flops).and_then(MetricValue::as_count)
    }

    /// XLA's flops of the call's forward pass plus its VJP, when computed.
    pub fn vjp_flops(&self) -> Option<u64> {
        self.metric(Metric::VjpFlops)
            .and_then(MetricValue::as_count)
    }

    /// The value of `metric` in this row, when it was computed.
    pub fn metric(&self, metric: Metric) -> Option<&MetricValue> {
        self.metrics.get(metric)
    }

    /// Every computed metric of this row, in column order.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Multiply-accumulates of the call's forward pass ([`Metric::Macs`]), when computed.
    pub fn macs(&self) -> Option<u64> {
        self.metric(Metric::Macs).and_then(MetricValue::as_count)
    }

    /// XLA's flops of the call's own operations ([`Metric::SelfFlops`]), when computed.
    pub fn self_flops(&self) -> Option<u64> {
        self.metric(Metric::SelfFlops)
            .and_then(MetricValue::as_count)
    }
}

impl Size {
    /// The size of one array.
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
    pub fn total(&self) -> Size {
        self.totals.iter().copied().sum()
    }

    /// Whether the table has a column for `metric`.
    pub fn shows(&self, metric: Metric) -> bool {
        self.metrics.contains(&metric)
    }

    /// The table as text, with explicit width and colour choices.
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
