//! Counts over a program's live instructions, in exact integers rather than XLA's float32
//! sum: multiply-accumulates, the per-primitive breakdown, and the residuals a VJP
//! program keeps between its halves. "Live" is what [`count`](super::count) costs: the
//! program folded, then pruned of dead code.

use std::collections::BTreeMap;

use super::count::{Live, live};
use super::vjp::VjpParts;
use crate::dtype::DType;
use crate::ops::graph::{Graph, Spec, ValueId};

/// What one primitive contributes to a program.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct OpTally {
    /// Live applications.
    pub(crate) calls: u64,
    /// XLA's flops, summed exactly.
    pub(crate) flops: u64,
    /// Multiply-accumulates ([`Prim::macs`](crate::ops::Prim)).
    pub(crate) macs: u64,
}

/// Per primitive name, the live applications, flops and MACs of `graph`; `None` when a
/// sum, or a total over primitives, does not fit in a `u64` (a rule's `u64::MAX` is its
/// own overflow: rules saturate).
pub(crate) fn by_primitive(graph: &Graph) -> Option<BTreeMap<&'static str, OpTally>> {
    let Live { kept: live, .. } = live(graph);
    let mut tallies: BTreeMap<&'static str, OpTally> = BTreeMap::new();
    // The totals over primitives (the operators table's footer) fit too.
    let mut total = OpTally::default();
    for (node, _) in graph.nodes.iter().zip(&live).filter(|(_, l)| **l) {
        let inputs: Vec<&Spec> = node.inputs.iter().map(|&v| graph.spec(v)).collect();
        let outputs: Vec<&Spec> = node.outputs.iter().map(|&v| graph.spec(v)).collect();
        let tally = tallies.entry(node.prim.name()).or_default();
        let flops = exact(node.prim.cost(&inputs, &outputs).flops)?;
        let macs = exact(node.prim.macs(&inputs, &outputs))?;
        for t in [&mut *tally, &mut total] {
            t.calls = t.calls.checked_add(1)?;
            t.flops = t.flops.checked_add(flops)?;
            t.macs = t.macs.checked_add(macs)?;
        }
    }
    Some(tallies)
}

/// The live node of `graph` that counts most (flops, then MACs; a saturated rule first):
/// the user-level operation that applied it, if known, and its primitive. What an
/// overflow error names as the largest part of a count that does not fit.
pub(crate) fn largest_part(graph: &Graph) -> Option<(Option<&'static str>, &'static str)> {
    let Live { kept: live, .. } = live(graph);
    graph
        .nodes
        .iter()
        .zip(&live)
        .filter(|(_, l)| **l)
        .map(|(node, _)| {
            let inputs: Vec<&Spec> = node.inputs.iter().map(|&v| graph.spec(v)).collect();
            let outputs: Vec<&Spec> = node.outputs.iter().map(|&v| graph.spec(v)).collect();
            let key = (
                node.prim.cost(&inputs, &outputs).flops,
                node.prim.macs(&inputs, &outputs),
            );
            (key, (node.origin, node.prim.name()))
        })
        .max_by_key(|&(key, _)| key)
        .map(|(_, part)| part)
}

/// A rule's count, unless it saturated.
fn exact(count: u64) -> Option<u64> {
    (count != u64::MAX).then_some(count)
}

/// The multiply-accumulates of `graph`'s live instructions; `None` past `u64`.
pub(crate) fn macs(graph: &Graph) -> Option<u64> {
    by_primitive(graph)?
        .values()
        .try_fold(0u64, |acc, t| acc.checked_add(t.macs))
}

/// Bytes per dtype of the values the backward half of a VJP program reads from its
/// forward half: intermediates only, not the program's inputs (arguments, variables: held
/// anyway) nor its forward outputs (the caller holds them; they are also the seeds).
/// `None` when a dtype's total does not fit in a `u64`.
pub(crate) fn residual_bytes(parts: &VjpParts) -> Option<BTreeMap<DType, u64>> {
    let graph = &parts.program;
    let Live {
        alias, kept: live, ..
    } = live(graph);
    let mut producer: Vec<Option<usize>> = vec![None; graph.values.len()];
    for (i, node) in graph.nodes.iter().enumerate() {
        for v in &node.outputs {
            producer[v.0 as usize] = Some(i);
        }
    }
    let outputs: Vec<ValueId> = parts
        .primal_outputs
        .iter()
        .map(|v| alias[v.0 as usize])
        .collect();
    let mut seen = vec![false; graph.values.len()];
    let mut bytes: BTreeMap<DType, u64> = BTreeMap::new();
    for (i, node) in graph.nodes.iter().enumerate().skip(parts.backward_start) {
        if !live[i] {
            continue;
        }
        for &v in &node.inputs {
            let v = alias[v.0 as usize];
            let from_forward =
                producer[v.0 as usize].is_some_and(|p| p < parts.backward_start && live[p]);
            if from_forward && !outputs.contains(&v) && !seen[v.0 as usize] {
                seen[v.0 as usize] = true;
                let spec = graph.spec(v);
                let size = spec
                    .shape
                    .checked_elements()?
                    .checked_mul(spec.dtype.item_size())?;
                let total = bytes.entry(spec.dtype).or_default();
                *total = total.checked_add(size)?;
            }
        }
    }
    Some(bytes)
}
