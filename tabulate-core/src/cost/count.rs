//! Costing a program as XLA does: fold, drop dead code, then add each surviving
//! instruction's cost in float32, in emission order (`reference/xla-cost-model.md` §5).

use super::fold::fold;
use crate::ops::Cost;
use crate::trace::graph::{Graph, Spec};

/// Flops and transcendentals of `graph`'s live instructions, summed as XLA sums them.
pub(crate) fn count(graph: &Graph) -> Cost {
    let folded = fold(graph);
    let mut needed = vec![false; graph.values.len()];
    for &v in &graph.outputs {
        needed[folded.alias[v.0 as usize].0 as usize] = true;
    }
    let mut live = vec![false; graph.nodes.len()];
    for (i, node) in graph.nodes.iter().enumerate().rev() {
        if folded.removed[i] || !node.outputs.iter().any(|v| needed[v.0 as usize]) {
            continue;
        }
        live[i] = true;
        for v in &node.inputs {
            needed[folded.alias[v.0 as usize].0 as usize] = true;
        }
    }
    let live_keys = graph
        .keys
        .iter()
        .filter(|&&k| needed[folded.alias[k.0 as usize].0 as usize])
        .count();
    // The `Sharding` custom call on each typed key argument: XLA scores custom calls −1.
    #[allow(clippy::cast_precision_loss)] // a handful of keys
    let mut flops = -(live_keys as f32);
    let mut transcendentals = 0f32;
    for (i, node) in graph.nodes.iter().enumerate() {
        if !live[i] {
            continue;
        }
        let inputs: Vec<&Spec> = node.inputs.iter().map(|&v| graph.spec(v)).collect();
        let outputs: Vec<&Spec> = node.outputs.iter().map(|&v| graph.spec(v)).collect();
        let cost = node.prim.cost(&inputs, &outputs);
        // XLA converts each instruction's count to float and accumulates in float32.
        flops += cost.flops as f32;
        transcendentals += cost.transcendentals as f32;
    }
    Cost {
        flops: to_count(flops),
        transcendentals: to_count(transcendentals),
    }
}

/// A non-negative float32 total as Python's `int()` reads it.
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // finite and positive
fn to_count(total: f32) -> u64 {
    if total.is_finite() && total > 0.0 {
        // f32 totals are integers above 2^24 and exact below; the cast truncates as int().
        total as u64
    } else {
        0
    }
}
