//! Calls → rows, as Flax's `_get_module_table` does: rows in call order, repeated calls
//! hidden unless asked for, `depth` collapsing subtrees into the deepest row shown.
//!
//! Two steps around the costing stage: [`shown_calls`] picks the calls that become rows,
//! the caller measures each one's metrics, and [`collect`] assembles the rows.

use std::collections::HashSet;

use super::{Leaf, Row, RowVariables, Size, Summary};
use crate::cost::{Metric, Metrics};
use crate::trace::{CallRecord, Recording, Variable};
use crate::value::Value;

/// Which calls become rows.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Selection {
    pub(crate) depth: Option<usize>,
    pub(crate) show_repeated: bool,
}

/// A call that becomes a row.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ShownCall<'r> {
    pub(crate) call: &'r CallRecord,
    /// Called before (shared weights, another method) or lifted: no variables shown.
    pub(crate) repeated: bool,
    /// At the `depth` limit: counts its whole subtree's variables.
    pub(crate) collapsed: bool,
}

/// The calls shown as rows, in call order.
pub(crate) fn shown_calls(recording: &Recording, selection: Selection) -> Vec<ShownCall<'_>> {
    let mut visited: HashSet<&[String]> = HashSet::new();
    let mut shown = Vec::new();
    for call in &recording.calls {
        let depth = call.path.len();
        let repeated = call.lifted || visited.contains(call.path.as_slice());
        if repeated && !selection.show_repeated {
            continue;
        }
        if !repeated && selection.depth.is_some_and(|d| depth > d) {
            continue;
        }
        visited.insert(&call.path);
        shown.push(ShownCall {
            call,
            repeated,
            collapsed: selection.depth == Some(depth),
        });
    }
    shown
}

/// The summary of `shown` calls, each with its measured `metrics` (same order).
pub(crate) fn collect(
    recording: &Recording,
    module_type: &str,
    shown: &[ShownCall<'_>],
    metrics: Vec<Metric>,
    measured: Vec<Metrics>,
) -> Summary {
    let collections = collection_order(&recording.variables);
    let rows: Vec<Row> = shown
        .iter()
        .zip(measured)
        .map(|(shown, metrics)| row(recording, &collections, shown, metrics))
        .collect();
    let totals = (0..collections.len())
        .map(|i| {
            rows.iter()
                .filter_map(|r: &Row| r.variables.get(i))
                .map(|v| v.counted)
                .sum()
        })
        .collect();
    Summary {
        module_type: module_type.to_string(),
        metrics,
        collections,
        rows,
        totals,
        trainable: None,
        memory: None,
        operators: None,
        notes: Vec::new(),
    }
}

fn row(
    recording: &Recording,
    collections: &[String],
    shown: &ShownCall<'_>,
    metrics: Metrics,
) -> Row {
    let call = shown.call;
    let variables = collections
        .iter()
        .map(|collection| {
            if shown.repeated {
                return RowVariables {
                    own: Vec::new(),
                    counted: Size::default(),
                };
            }
            let own = own_variables(recording, collection, &call.path);
            let counted = if shown.collapsed {
                subtree_size(recording, collection, &call.path)
            } else {
                own.iter().map(|l| Size::of(l.dtype, &l.shape)).sum()
            };
            RowVariables { own, counted }
        })
        .collect();
    Row {
        path: call.path.clone(),
        module_type: call.type_name.clone(),
        method: call.method.clone(),
        inputs: call.inputs.clone(),
        outputs: call.outputs.clone().unwrap_or_else(Value::none),
        metrics,
        variables,
    }
}

/// `params` first, then the other collections alphabetically (Flax's order depends on
/// the hash seed; this one does not).
fn collection_order(variables: &[Variable]) -> Vec<String> {
    let mut names: Vec<String> = variables.iter().map(|v| v.collection.clone()).collect();
    names.sort();
    names.dedup();
    names.sort_by_key(|c| c != "params");
    names
}
fn own_variables(recording: &Recording, collection: &str, path: &[String]) -> Vec<Leaf> {
    let mut leaves: Vec<Leaf> = recording
        .variables
        .iter()
        .filter(|v| v.collection == collection && v.path == path)
        .map(|v| Leaf {
            name: v.name.clone(),
            dtype: v.spec.dtype,
            shape: v.spec.shape.clone(),
        })
        .collect();
    leaves.sort_by(|a, b| a.name.cmp(&b.name));
    leaves
}

fn subtree_size(recording: &Recording, collection: &str, path: &[String]) -> Size {
    recording
        .variables
        .iter()
        .filter(|v| v.collection == collection && v.path.starts_with(path))
        .map(|v| Size::of(v.spec.dtype, &v.spec.shape))
        .sum()
}

/// Bytes of the arrays in a value tree.
pub(crate) fn value_bytes(value: &Value) -> u64 {
    match value {
        Value::Array { dtype, shape } => Size::of(*dtype, shape).bytes,
        Value::Object { .. } => 0,
        Value::Sequence { items } => items.iter().map(value_bytes).sum(),
        Value::Mapping { entries } => entries.iter().map(|(_, v)| value_bytes(v)).sum(),
    }
}
