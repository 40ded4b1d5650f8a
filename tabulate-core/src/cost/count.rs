//! Costing a program as XLA does: fold, drop dead code, then add each surviving
//! instruction's cost in float32 in the order XLA's `HloCostAnalysis` visits them: a
//! post-order DFS from the root tuple, operands left to right, each nested `jit` (an HLO
//! `call`) one instruction whose body is summed on its own (`reference/xla-cost-model.md` §5).
//! That is not the emission order: a JVP residual is emitted in the forward half but
//! visited just before its first consumer in the backward half.

use super::fold::fold;
use crate::ops::Cost;
use crate::ops::graph::{Graph, Node, RegionId, RegionKind, Spec, ValueId};

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
/// transcendentals.
fn terms(graph: &Graph, node: &Node) -> (Vec<u64>, u64) {
    let inputs: Vec<&Spec> = node.inputs.iter().map(|&v| graph.spec(v)).collect();
    let outputs: Vec<&Spec> = node.outputs.iter().map(|&v| graph.spec(v)).collect();
    let cost = node.prim.cost(&inputs, &outputs);
    (
        node.prim.instruction_flops(cost, &outputs),
        cost.transcendentals,
    )
}

/// One step of the DFS in progress.
enum Visit {
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
fn xla_sum(graph: &Graph, alias: &[ValueId], live: &[bool]) -> (f32, f32) {
    let mut walk = XlaWalk::new(graph, alias, live);
    walk.note_call_boundaries();
    walk.sum()
}

/// The state of XLA's post-order walk over one graph.
struct XlaWalk<'g> {
    graph: &'g Graph,
    /// What each value was folded into.
    alias: &'g [ValueId],
    /// The nodes that survive folding and dead-code elimination.
    live: &'g [bool],
    /// The node computing each value (`None` for inputs).
    producer: Vec<Option<usize>>,
    /// Each call region's operands (values from outside read inside), in first-use order.
    operands: Vec<Vec<ValueId>>,
    /// Each call region's results (values from inside read outside), in first-use order.
    results: Vec<Vec<ValueId>>,
    /// Nodes already visited.
    done: Vec<bool>,
    /// Call regions already visited.
    call_done: Vec<bool>,
}

impl<'g> XlaWalk<'g> {
    fn new(graph: &'g Graph, alias: &'g [ValueId], live: &'g [bool]) -> XlaWalk<'g> {
        let mut producer: Vec<Option<usize>> = vec![None; graph.values.len()];
        for (i, node) in graph.nodes.iter().enumerate() {
            for v in &node.outputs {
                producer[v.0 as usize] = Some(i);
            }
        }
        XlaWalk {
            graph,
            alias,
            live,
            producer,
            operands: vec![Vec::new(); graph.regions.len()],
            results: vec![Vec::new(); graph.regions.len()],
            done: vec![false; graph.nodes.len()],
            call_done: vec![false; graph.regions.len()],
        }
    }

    #[inline]
    fn resolve(&self, v: ValueId) -> ValueId {
        self.alias[v.0 as usize]
    }

    #[inline]
    fn is_call(&self, r: RegionId) -> bool {
        matches!(self.graph.region(r).kind, RegionKind::Call(_))
    }

    /// Whether region `r` is `scope` or nested in it.
    #[inline]
    fn within(&self, mut r: RegionId, scope: RegionId) -> bool {
        loop {
            if r == scope {
                return true;
            }
            if r == RegionId::TOP {
                return false;
            }
            r = self.graph.region(r).parent;
        }
    }

    /// The outermost call region holding `r`, strictly inside `scope`.
    #[inline]
    fn call_of(&self, mut r: RegionId, scope: RegionId) -> Option<RegionId> {
        let mut found = None;
        while r != scope && r != RegionId::TOP {
            if self.is_call(r) {
                found = Some(r);
            }
            r = self.graph.region(r).parent;
        }
        found
    }

    /// Fills each call's operands and results, in first-use order.
    fn note_call_boundaries(&mut self) {
        let graph = self.graph;
        for (i, node) in graph.nodes.iter().enumerate() {
            if !self.live[i] {
                continue;
            }
            for &v in &node.inputs {
                let v = self.resolve(v);
                self.note_operand(v, node.region);
                self.note_result(v, Some(node.region));
            }
        }
        for &o in &graph.outputs {
            let o = self.resolve(o);
            self.note_result(o, None);
        }
    }

    /// `v`, read in region `reader`, is an operand of every call around `reader` that
    /// it comes from outside of.
    fn note_operand(&mut self, v: ValueId, reader: RegionId) {
        let mut r = reader;
        while r != RegionId::TOP {
            let from_outside = self.producer[v.0 as usize]
                .is_none_or(|p| !self.within(self.graph.nodes[p].region, r));
            if self.is_call(r) && from_outside && !self.operands[r.0 as usize].contains(&v) {
                self.operands[r.0 as usize].push(v);
            }
            r = self.graph.region(r).parent;
        }
    }

    /// `v`, read in region `reader` (`None`: a graph output), is a result of every call
    /// around its producer that `reader` is outside of.
    fn note_result(&mut self, v: ValueId, reader: Option<RegionId>) {
        let Some(p) = self.producer[v.0 as usize] else {
            return;
        };
        let mut r = self.graph.nodes[p].region;
        while r != RegionId::TOP {
            if self.is_call(r)
                && reader.is_none_or(|q| !self.within(q, r))
                && !self.results[r.0 as usize].contains(&v)
            {
                self.results[r.0 as usize].push(v);
            }
            r = self.graph.region(r).parent;
        }
    }

    /// What visiting `v` from inside `scope` starts, if anything.
    #[inline]
    fn start(&mut self, v: ValueId, scope: RegionId) -> Option<Visit> {
        let n = self.producer[self.resolve(v).0 as usize]?;
        if self.done[n] || !self.live[n] || !self.within(self.graph.nodes[n].region, scope) {
            return None; // visited, folded away, or a parameter of this computation
        }
        if let Some(r) = self.call_of(self.graph.nodes[n].region, scope) {
            if self.call_done[r.0 as usize] {
                return None;
            }
            self.call_done[r.0 as usize] = true;
            return Some(Visit::Call {
                r,
                next: 0,
                body: false,
            });
        }
        self.done[n] = true;
        Some(Visit::Node { n, next: 0 })
    }

    /// The post-order DFS from each output, operands left to right: a node's terms are
    /// added when its operands are done; a call's body is summed on its own and enters
    /// its caller's sum as one term.
    #[allow(clippy::cast_precision_loss)] // float32 sums, as XLA's
    fn sum(&mut self) -> (f32, f32) {
        let graph = self.graph;
        // Per open scope (the top, then each call being summed): its region and sums.
        let mut scopes = vec![(RegionId::TOP, 0f32, 0f32)];
        let mut stack: Vec<Visit> = Vec::new();
        for &o in &graph.outputs {
            stack.extend(self.start(o, RegionId::TOP));
            while let Some(visit) = stack.last_mut() {
                // The scope stack starts with the top and pops only what it pushed.
                let Some(&(scope, _, _)) = scopes.last() else {
                    break;
                };
                let next = match visit {
                    Visit::Node { n, next } => {
                        let node = &graph.nodes[*n];
                        if let Some(&input) = node.inputs.get(*next) {
                            *next += 1;
                            self.start(input, scope)
                        } else {
                            let (flops, transcendentals) = terms(graph, node);
                            if let Some(sum) = scopes.last_mut() {
                                for f in flops {
                                    sum.1 += f as f32;
                                }
                                sum.2 += transcendentals as f32;
                            }
                            stack.pop();
                            None
                        }
                    }
                    Visit::Call { r, next, body } => {
                        let r = *r;
                        let i = r.0 as usize;
                        if !*body && *next < self.operands[i].len() {
                            *next += 1;
                            let operand = self.operands[i][*next - 1];
                            self.start(operand, scope)
                        } else if !*body {
                            *body = true;
                            *next = 0;
                            scopes.push((r, 0.0, 0.0));
                            None
                        } else if *next < self.results[i].len() {
                            *next += 1;
                            let result = self.results[i][*next - 1];
                            self.start(result, r)
                        } else {
                            // The body's own float32 sum enters the caller as one term.
                            if let Some((_, flops, transcendentals)) = scopes.pop()
                                && let Some(sum) = scopes.last_mut()
                            {
                                sum.1 += flops;
                                sum.2 += transcendentals;
                            }
                            stack.pop();
                            None
                        }
                    }
                };
                stack.extend(next);
            }
        }
        // The top scope is never popped: calls pop only the scopes they pushed.
        (scopes[0].1, scopes[0].2)
    }
}
