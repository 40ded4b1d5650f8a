//! Calls → rows, as Flax's `_get_module_table` does: rows in call order, repeated calls
//! hidden unless asked for, `depth` collapsing subtrees into the deepest row shown.
//!
//! Two steps around the costing stage: [`shown_calls`] picks the calls that become rows,
//! the caller measures each one's metrics, and [`collect`] assembles the rows. Both take
//! time linear in the calls and variables: paths are interned, so a path is an address.

use super::{AddrMap, AddrSet, Leaf, Row, RowVariables, Size, Summary};
use crate::cost::{Metric, Metrics};
use crate::error::{Error, ErrorKind, Location, Result};
use crate::path::ModulePath;
use crate::trace::{CallRecord, Recording, Sown, Variable};
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
    let mut visited = AddrSet::default();
    let mut shown = Vec::new();
    for call in &recording.calls {
        let depth = call.path.len();
        let repeated = call.lifted || visited.contains(&call.path.addr());
        if repeated && !selection.show_repeated {
            continue;
        }
        if !repeated && selection.depth.is_some_and(|d| depth > d) {
            continue;
        }
        visited.insert(call.path.addr());
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
) -> Result<Summary> {
    let collections = collection_order(recording);
    let index = VariableIndex::new(recording, &collections, shown);
    let rows: Vec<Row> = shown
        .iter()
        .zip(measured)
        .map(|(shown, metrics)| row(&index, &collections, shown, metrics))
        .collect::<Result<_>>()?;
    let totals = (0..collections.len())
        .map(|i| {
            exact_sum(
                rows.iter()
                    .filter_map(|r: &Row| r.variables.get(i))
                    .map(|v| v.counted),
            )
            .ok_or_else(|| too_many("", module_type))
        })
        .collect::<Result<Vec<Size>>>()?;
    // The footer adds the collections up too.
    if exact_sum(totals.iter().copied()).is_none() {
        return Err(too_many("", module_type));
    }
    Ok(Summary {
        module_type: module_type.to_string(),
        metrics,
        collections,
        rows,
        totals,
        trainable: None,
        memory: None,
        operators: None,
        notes: Vec::new(),
    })
}

/// The variables of a run by the module that declared them, and the sizes of the
/// subtrees of collapsed rows, each found in one pass.
/// A module's own variables: a few (inline).
type Own<'r> = smallvec::SmallVec<[&'r Variable; 2]>;

struct VariableIndex<'r> {
    /// By path address: the module's own variables.
    own: AddrMap<Own<'r>>,
    /// By path address: the module's sown tuples.
    sown: AddrMap<Vec<&'r Sown>>,
    /// By path address of a collapsed row, per collection: its subtree's size.
    subtree: AddrMap<Vec<Option<Size>>>,
}

impl<'r> VariableIndex<'r> {
    fn new(recording: &'r Recording, collections: &[String], shown: &[ShownCall<'_>]) -> Self {
        let mut own: AddrMap<Own<'r>> = AddrMap::default();
        for v in &recording.variables {
            own.entry(v.path.addr()).or_default().push(v);
        }
        let mut sown: AddrMap<Vec<&Sown>> = AddrMap::default();
        for s in &recording.sown {
            sown.entry(s.path.addr()).or_default().push(s);
        }
        let mut subtree = AddrMap::default();
        if let Some(depth) = shown
            .iter()
            .find(|s| s.collapsed)
            .map(|s| s.call.path.len())
        {
            // Each variable counts in its ancestor at the collapsed depth; the ancestor of
            // each path is found once.
            let mut ancestor: AddrMap<usize> = AddrMap::default();
            for v in &recording.variables {
                if v.path.len() < depth {
                    continue;
                }
                let top = ancestor_at(&mut ancestor, &v.path, depth);
                let Some(c) = collections.iter().position(|c| *c == v.collection) else {
                    continue;
                };
                let sizes = subtree
                    .entry(top)
                    .or_insert_with(|| vec![Some(Size::default()); collections.len()]);
                let size = Size::of(v.spec.dtype, &v.spec.shape);
                sizes[c] = sizes[c].and_then(|acc| exact_sum([acc, size].into_iter()));
            }
        }
        VariableIndex { own, sown, subtree }
    }
}

/// The address of `path`'s ancestor `depth` names long, caching it for every path walked.
fn ancestor_at(cache: &mut AddrMap<usize>, path: &ModulePath, depth: usize) -> usize {
    let mut walked = Vec::new();
    let mut current = path;
    let top = loop {
        if let Some(&top) = cache.get(&current.addr()) {
            break top;
        }
        if current.len() <= depth {
            break current.addr();
        }
        walked.push(current.addr());
        current = current.parent().unwrap_or(current);
    };
    for addr in walked {
        cache.insert(addr, top);
    }
    top
}

fn row(
    index: &VariableIndex<'_>,
    collections: &[String],
    shown: &ShownCall<'_>,
    metrics: Metrics,
) -> Result<Row> {
    let call = shown.call;
    let variables = collections
        .iter()
        .enumerate()
        .map(|(c, collection)| {
            if shown.repeated {
                return Ok(RowVariables {
                    own: Vec::new(),
                    counted: Size::default(),
                    values: Vec::new(),
                });
            }
            let own = own_variables(index, collection, &call.path);
            let values = own_values(index, collection, &call.path);
            let counted = if shown.collapsed {
                index
                    .subtree
                    .get(&call.path.addr())
                    .map_or(Some(Size::default()), |sizes| sizes[c])
            } else {
                // A sown tree's arrays are variables too (`trace::Trace::sow`): counted once.
                exact_sum(
                    index
                        .own
                        .get(&call.path.addr())
                        .into_iter()
                        .flatten()
                        .filter(|v| v.collection == *collection)
                        .map(|v| Size::of(v.spec.dtype, &v.spec.shape)),
                )
            };
            Ok(RowVariables {
                own,
                counted: counted.ok_or_else(|| too_many(&call.path.join("/"), call.type_name))?,
                values,
            })
        })
        .collect::<Result<_>>()?;
    Ok(Row {
        path: call.path.clone(),
        module_type: call.type_name.to_string(),
        method: call.method.to_string(),
        inputs: call.inputs.clone(),
        outputs: call.outputs.clone().unwrap_or_else(Value::none),
        metrics,
        variables,
    })
}

/// `params` first, then the other collections alphabetically (Flax's order depends on
/// the hash seed; this one does not).
fn collection_order(recording: &Recording) -> Vec<String> {
    // A model has a few collections and many variables: each distinct name is kept once
    // (the previous one is checked first: variables come in runs of one collection).
    let mut distinct: std::collections::BTreeSet<&str> = std::collections::BTreeSet::new();
    let mut last = None;
    for c in recording
        .variables
        .iter()
        .map(|v| v.collection.as_str())
        .chain(recording.sown.iter().map(|s| s.collection.as_str()))
    {
        if last != Some(c) {
            distinct.insert(c);
            last = Some(c);
        }
    }
    let mut names: Vec<String> = distinct.into_iter().map(str::to_string).collect();
    names.sort_by_key(|c| c != "params");
    names
}

fn own_variables(index: &VariableIndex<'_>, collection: &str, path: &ModulePath) -> Vec<Leaf> {
    let mut leaves: Vec<Leaf> = index
        .own
        .get(&path.addr())
        .into_iter()
        .flatten()
        .filter(|v| v.collection == collection && !v.sown)
        .map(|v| Leaf {
            name: v.name.to_string(),
            dtype: v.spec.dtype,
            shape: v.spec.shape.clone(),
            partition: v.partition.clone(),
        })
        .collect();
    leaves.sort_by(|a, b| a.name.cmp(&b.name));
    leaves
}

/// The module's sown tuples in `collection`, by name.
fn own_values(
    index: &VariableIndex<'_>,
    collection: &str,
    path: &ModulePath,
) -> Vec<(String, Value)> {
    let mut values: Vec<(String, Value)> = index
        .sown
        .get(&path.addr())
        .into_iter()
        .flatten()
        .filter(|s| s.collection == collection)
        .map(|s| (s.name.clone(), Value::sequence(s.entries.iter().cloned())))
        .collect();
    values.sort_by(|a, b| a.0.cmp(&b.0));
    values
}

/// The sum of sizes, or `None` when a count or byte total does not fit in a `u64`.
/// (Each variable's own size fits: `variable` checks it when declared.)
pub(crate) fn exact_sum(sizes: impl Iterator<Item = Size>) -> Option<Size> {
    sizes.into_iter().try_fold(Size::default(), |acc, s| {
        Some(Size {
            count: acc.count.checked_add(s.count)?,
            bytes: acc.bytes.checked_add(s.bytes)?,
        })
    })
}

fn too_many(path: &str, module: &str) -> Error {
    Error::located(
        ErrorKind::InvalidArgument {
            what: "the variables' total size does not fit in 64 bits (2^64 or more parameters or bytes)".into(),
        },
        Some(Location {
            path: path.to_string(),
            module: module.to_string(),
        }),
    )
}

/// Bytes of the arrays in a value tree, or `None` when they do not fit in a `u64`.
pub(crate) fn value_bytes(value: &Value) -> Option<u64> {
    match value {
        Value::Array { dtype, shape } => shape
            .checked_elements()
            .and_then(|n| n.checked_mul(dtype.item_size())),
        // Two `uint32` words per threefry key.
        Value::Key { shape } => shape.checked_elements().and_then(|n| n.checked_mul(8)),
        Value::Object { .. } => Some(0),
        Value::Sequence { items } => items
            .iter()
            .try_fold(0u64, |acc, v| acc.checked_add(value_bytes(v)?)),
        Value::Mapping { entries } => entries
            .iter()
            .try_fold(0u64, |acc, (_, v)| acc.checked_add(value_bytes(v)?)),
    }
}
