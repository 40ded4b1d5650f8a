//! Costing a program as XLA does: fold, drop dead code, then add each surviving
//! instruction's cost in float32 in the order XLA's `HloCostAnalysis` visits them: a
//! post-order DFS from the root tuple, operands left to right, each nested `jit` (an HLO
//! `call`) one instruction whose body is summed on its own (`reference/xla-cost-model.md` §5).
//! That is not the emission order: a JVP residual is emitted in the forward half but
//! visited just before its first consumer in the backward half.

use super::fold::fold;
use crate::ops::Cost;
use crate::ops::Prim;
use crate::trace::graph::{Graph, Node, RegionId, RegionKind, Spec, ValueId};

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
    let (f, transcendentals) = xla_sum(graph, &folded.alias, &live);
    flops += f;
    Cost {
        flops: to_count(flops),
        transcendentals: to_count(transcendentals),
    }
}

/// A non-negative float32 total as Python's `int()` reads it.
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // finite and positive
fn to_count(total: f32) -> u64 {
    if total > 0.0 {
        // f32 totals are integers above 2^24 and exact below; the cast truncates as int().
        // Totals of 2^64 or more (and infinity) saturate at `u64::MAX`, which no real
        // total reaches (the largest float32 below 2^64 is 2^64 − 2^40): the caller
        // reports it as an overflow.
        total as u64
    } else {
        0
    }
}

/// The flops of each HLO instruction `node` lowers to, in lowering order, and its
/// transcendentals. XLA rounds after every instruction, so a primitive that lowers to
/// several (`integer_pow` 3 = 2 multiplies, −2 = multiply + divide) must not be one term.
fn terms(graph: &Graph, node: &Node) -> (Vec<u64>, u64) {
    let inputs: Vec<&Spec> = node.inputs.iter().map(|&v| graph.spec(v)).collect();
    let outputs: Vec<&Spec> = node.outputs.iter().map(|&v| graph.spec(v)).collect();
    let cost = node.prim.cost(&inputs, &outputs);
    if let Prim::IntegerPow(_) = node.prim {
        let e = outputs[0].elements();
        if e > 0 && cost.flops > e {
            #[allow(clippy::cast_possible_truncation)] // a handful of multiplies
            return (vec![e; (cost.flops / e) as usize], cost.transcendentals);
        }
    }
    // Other primitives that lower to several instructions outside a call (logistic's
    // neg, add, div; erfc's polynomial; fill-mode gather checks) are still one term:
    // exact below 2^24 per row, and no golden row above it has them.
    (vec![cost.flops], cost.transcendentals)
}

enum Frame {
    /// A plain instruction, `next` operands pushed so far.
    Node { n: usize, next: usize },
    /// A nested `jit` seen as one `call`: its operands (`body == false`), then its body.
    Call {
        r: RegionId,
        next: usize,
        body: bool,
    },
}

/// Float32 sums of flops and transcendentals in XLA's visiting order.
#[allow(clippy::cast_precision_loss, clippy::too_many_lines)]
fn xla_sum(graph: &Graph, alias: &[ValueId], live: &[bool]) -> (f32, f32) {
    let resolve = |v: ValueId| alias[v.0 as usize];
    let mut producer: Vec<Option<usize>> = vec![None; graph.values.len()];
    for (i, node) in graph.nodes.iter().enumerate() {
        for v in &node.outputs {
            producer[v.0 as usize] = Some(i);
        }
    }
    let is_call = |r: RegionId| matches!(graph.region(r).kind, RegionKind::Call(_));
    let within = |mut r: RegionId, scope: RegionId| loop {
        if r == scope {
            return true;
        }
        if r == RegionId::TOP {
            return false;
        }
        r = graph.region(r).parent;
    };
    // The outermost call region holding `r`, strictly inside `scope`.
    let call_of = |mut r: RegionId, scope: RegionId| {
        let mut found = None;
        while r != scope && r != RegionId::TOP {
            if is_call(r) {
                found = Some(r);
            }
            r = graph.region(r).parent;
        }
        found
    };
    // Each call's operands (values from outside read inside) and results (values from
    // inside read outside), in first-use order.
    let mut operands: Vec<Vec<ValueId>> = vec![Vec::new(); graph.regions.len()];
    let mut results: Vec<Vec<ValueId>> = vec![Vec::new(); graph.regions.len()];
    let note_result = |v: ValueId, reader: Option<RegionId>, results: &mut Vec<Vec<ValueId>>| {
        let Some(p) = producer[v.0 as usize] else {
            return;
        };
        let mut r = graph.nodes[p].region;
        while r != RegionId::TOP {
            if is_call(r)
                && reader.is_none_or(|q| !within(q, r))
                && !results[r.0 as usize].contains(&v)
            {
                results[r.0 as usize].push(v);
            }
            r = graph.region(r).parent;
        }
    };
    for (i, node) in graph.nodes.iter().enumerate() {
        if !live[i] {
            continue;
        }
        for &v in &node.inputs {
            let v = resolve(v);
            let mut r = node.region;
            while r != RegionId::TOP {
                let from_outside =
                    producer[v.0 as usize].is_none_or(|p| !within(graph.nodes[p].region, r));
                if is_call(r) && from_outside && !operands[r.0 as usize].contains(&v) {
                    operands[r.0 as usize].push(v);
                }
                r = graph.region(r).parent;
            }
            note_result(v, Some(node.region), &mut results);
        }
    }
    for &o in &graph.outputs {
        note_result(resolve(o), None, &mut results);
    }

    let mut done = vec![false; graph.nodes.len()];
    let mut call_done = vec![false; graph.regions.len()];
    // What visiting `v` from inside `scope` starts, if anything.
    let mut start = |v: ValueId, scope: RegionId, done: &mut Vec<bool>| -> Option<Frame> {
        let n = producer[resolve(v).0 as usize]?;
        if done[n] || !live[n] || !within(graph.nodes[n].region, scope) {
            return None; // visited, folded away, or a parameter of this computation
        }
        if let Some(r) = call_of(graph.nodes[n].region, scope) {
            if call_done[r.0 as usize] {
                return None;
            }
            call_done[r.0 as usize] = true;
            return Some(Frame::Call {
                r,
                next: 0,
                body: false,
            });
        }
        done[n] = true;
        Some(Frame::Node { n, next: 0 })
    };
    let mut scopes = vec![RegionId::TOP];
    let mut sums = vec![(0f32, 0f32)];
    let mut stack: Vec<Frame> = Vec::new();
    for &o in &graph.outputs {
        stack.extend(start(o, RegionId::TOP, &mut done));
        while let Some(frame) = stack.last_mut() {
            let scope = *scopes.last().expect("the entry scope");
            let next = match frame {
                Frame::Node { n, next } => {
                    let node = &graph.nodes[*n];
                    if *next < node.inputs.len() {
                        *next += 1;
                        start(node.inputs[*next - 1], scope, &mut done)
                    } else {
                        let (flops, transcendentals) = terms(graph, node);
                        let sum = sums.last_mut().expect("a sum per scope");
                        for f in flops {
                            sum.0 += f as f32;
                        }
                        sum.1 += transcendentals as f32;
                        stack.pop();
                        None
                    }
                }
                Frame::Call { r, next, body } => {
                    let r = *r;
                    if !*body && *next < operands[r.0 as usize].len() {
                        *next += 1;
                        start(operands[r.0 as usize][*next - 1], scope, &mut done)
                    } else if !*body {
                        *body = true;
                        *next = 0;
                        scopes.push(r);
                        sums.push((0.0, 0.0));
                        None
                    } else if *next < results[r.0 as usize].len() {
                        *next += 1;
                        start(results[r.0 as usize][*next - 1], r, &mut done)
                    } else {
                        // The body's own float32 sum enters the caller as one term.
                        let body_sum = sums.pop().expect("the body's sum");
                        scopes.pop();
                        let sum = sums.last_mut().expect("the caller's sum");
                        sum.0 += body_sum.0;
                        sum.1 += body_sum.1;
                        stack.pop();
                        None
                    }
                }
            };
            stack.extend(next);
        }
    }
    sums[0]
}
