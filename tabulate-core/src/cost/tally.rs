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

/// Per primitive name, the live applications, flops and MACs of `graph`.
pub(crate) fn by_primitive(graph: &Graph) -> BTreeMap<&'static str, OpTally> {
    let Live { live, .. } = live(graph);
    let mut tallies: BTreeMap<&'static str, OpTally> = BTreeMap::new();
    for (node, _) in graph.nodes.iter().zip(&live).filter(|(_, l)| **l) {
        let inputs: Vec<&Spec> = node.inputs.iter().map(|&v| graph.spec(v)).collect();
        let outputs: Vec<&Spec> = node.outputs.iter().map(|&v| graph.spec(v)).collect();
        let tally = tallies.entry(node.prim.name()).or_default();
        tally.calls += 1;
        tally.flops = tally
            .flops
            .saturating_add(node.prim.cost(&inputs, &outputs).flops);
        tally.macs = tally.macs.saturating_add(node.prim.macs(&inputs, &outputs));
    }
    tallies
}

/// The multiply-accumulates of `graph`'s live instructions.
pub(crate) fn macs(graph: &Graph) -> u64 {
    by_primitive(graph).values().map(|t| t.macs).sum()
}

/// Bytes per dtype of the values the backward half of a VJP program reads from its
/// forward half: intermediates only, not the program's inputs (arguments, variables: held
/// anyway) nor its forward outputs (the caller holds them; they are also the seeds).
pub(crate) fn residual_bytes(parts: &VjpParts) -> BTreeMap<DType, u64> {
    let graph = &parts.program;
    let Live { alias, live } = live(graph);
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
                *bytes.entry(spec.dtype).or_default() +=
                    spec.elements().saturating_mul(spec.dtype.item_size());
            }
        }
    }
    bytes
}
