//! Calls → rows, as Flax's `_get_module_table` does: rows in call order, repeated calls
//! hidden unless asked for, `depth` collapsing subtrees into the deepest row shown.

use std::collections::HashSet;

use super::{Leaf, Row, RowVariables, Size, Summary};
use crate::cost;
use crate::error::{Error, ErrorKind, Location, Result};
use crate::trace::{Recording, Variable};
use crate::value::Value;

/// What to put in the summary.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Selection {
    pub(crate) depth: Option<usize>,
    pub(crate) show_repeated: bool,
    pub(crate) flops: bool,
    pub(crate) vjp_flops: bool,
}

pub(crate) fn collect(
    recording: &Recording,
    module_type: &str,
    selection: Selection,
) -> Result<Summary> {
    let collections = collection_order(&recording.variables);
    let mut visited: HashSet<&[String]> = HashSet::new();
    let mut rows = Vec::new();
    for call in &recording.calls {
        let depth = call.path.len();
        let repeated = call.lifted || visited.contains(call.path.as_slice());
        if repeated && !selection.show_repeated {
            continue;
        }
        if !repeated && selection.depth.is_some_and(|d| depth > d) {
            continue;
        }
        let collapsed = selection.depth == Some(depth);
        let variables = collections
            .iter()
            .map(|collection| {
                if repeated {
                    return Ok(RowVariables {
                        own: Vec::new(),
                        counted: Size::default(),
                    });
                }
                let own = own_variables(recording, collection, &call.path);
                let counted = if collapsed {
                    subtree_size(recording, collection, &call.path)
                } else {
                    exact_sum(own.iter().map(|l| Size::of(l.dtype, &l.shape)))
                };
                Ok(RowVariables {
                    own,
                    counted: counted.ok_or_else(|| too_many(&call.path, &call.type_name))?,
                })
            })
            .collect::<Result<_>>()?;
        visited.insert(&call.path);
        let (flops, vjp_flops) = if selection.flops || selection.vjp_flops {
            cost::call_flops(recording, call, selection.flops, selection.vjp_flops)?
        } else {
            (None, None)
        };
        rows.push(Row {
            path: call.path.clone(),
            module_type: call.type_name.clone(),
            method: call.method.clone(),
            inputs: call.inputs.clone(),
            outputs: call.outputs.clone().unwrap_or_else(Value::none),
            flops,
            vjp_flops,
            variables,
        });
    }
    let totals = (0..collections.len())
        .map(|i| {
            exact_sum(rows.iter().map(|r: &Row| r.variables[i].counted))
                .ok_or_else(|| too_many(&[], module_type))
        })
        .collect::<Result<Vec<Size>>>()?;
    if exact_sum(totals.iter().copied()).is_none() {
        return Err(too_many(&[], module_type));
    }
    Ok(Summary {
        module_type: module_type.to_string(),
        show_flops: selection.flops,
        show_vjp_flops: selection.vjp_flops,
        collections,
        rows,
        totals,
    })
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

fn subtree_size(recording: &Recording, collection: &str, path: &[String]) -> Option<Size> {
    exact_sum(
        recording
            .variables
            .iter()
            .filter(|v| v.collection == collection && v.path.starts_with(path))
            .map(|v| Size::of(v.spec.dtype, &v.spec.shape)),
    )
}

/// The sum of sizes, or `None` when a count or byte total does not fit in a `u64`.
/// (Each variable's own size fits: `variable` checks it when declared.)
fn exact_sum(sizes: impl Iterator<Item = Size>) -> Option<Size> {
    sizes.into_iter().try_fold(Size::default(), |acc, s| {
        Some(Size {
            count: acc.count.checked_add(s.count)?,
            bytes: acc.bytes.checked_add(s.bytes)?,
        })
    })
}

fn too_many(path: &[String], module: &str) -> Error {
    Error::located(
        ErrorKind::InvalidArgument {
            what: "the variables' total size does not fit in 64 bits (2^64 or more parameters or bytes)".into(),
        },
        Some(Location {
            path: path.join("/"),
            module: module.to_string(),
        }),
    )
}
