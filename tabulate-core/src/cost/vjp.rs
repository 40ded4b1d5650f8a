//! The program behind `vjp_flops`: `vjp_fn(out)` after `jax.vjp(apply, variables, rngs,
//! inputs)`, with the forward output as its own cotangent. Every inexact input is
//! differentiated; an output that is an input returned unchanged (a variable in the
//! mutable state) seeds that input's cotangent directly, which is how the "+1 flop per
//! variable element" of Flax's passthrough arises.

use std::collections::HashSet;
use std::ops::Range;
use std::sync::Arc;

use smallvec::SmallVec;

use crate::error::{Error, Result, Stage};
use crate::ops::Prim;
use crate::ops::graph::{Graph, NodeTag, Region, RegionId, RegionKind, ValueId, ValueIds};
use crate::ops::linearize::{J, JvpCx, LinNode, TanId, Tape};
use crate::ops::remat::RematRule;
use crate::ops::transpose::{Cotangents, LinArg, backward, backward_range};

/// Builds the VJP program of `forward` (a closed program with inputs and outputs).
pub(crate) fn vjp_program(forward: &Graph) -> Result<Graph> {
    vjp_parts(forward).map(|parts| parts.program)
}

/// The VJP program with where its halves meet: what the memory columns read.
pub(crate) struct VjpParts {
    pub(crate) program: Graph,
    /// Nodes before this index are the forward half (primal ops and residuals); the
    /// rest is the backward half.
    pub(crate) backward_start: usize,
    /// The forward outputs' primal values in `program` (also the seed cotangents).
    pub(crate) primal_outputs: Vec<ValueId>,
}

/// [`vjp_program`], keeping the boundary between its halves.
pub(crate) fn vjp_parts(forward: &Graph) -> Result<VjpParts> {
    let Linearized {
        mut program,
        tape,
        primal,
        tangent,
        differentiated,
    } = linearize(forward)?;
    // `vjp_fn(out)`: each output is its own cotangent.
    let backward_start = program.nodes.len();
    let mut cts = Cotangents::new(&tape);
    for &o in &forward.outputs {
        if let J::Tan(t) = tangent[o.0 as usize] {
            let value = primal[o.0 as usize].expect("outputs are defined");
            cts.add(&mut program, t, value, RegionId::TOP)?;
        }
    }
    backward(&mut program, &tape, &mut cts)?;
    program.outputs = differentiated.iter().filter_map(|&t| cts.get(t)).collect();
    let primal_outputs = forward
        .outputs
        .iter()
        .filter_map(|o| primal[o.0 as usize])
        .collect();
    Ok(VjpParts {
        program,
        backward_start,
        primal_outputs,
    })
}

/// The forward half of a VJP program and its linear tape, not yet transposed.
pub(crate) struct Linearized {
    /// Primal copies of the forward nodes and the residuals their JVP rules compute.
    pub(crate) program: Graph,
    pub(crate) tape: Tape,
    /// Per forward value, its copy in `program`.
    pub(crate) primal: Vec<Option<ValueId>>,
    /// Per forward value, its tangent.
    pub(crate) tangent: Vec<J>,
    /// The tangents of the inexact inputs, in input order.
    pub(crate) differentiated: Vec<TanId>,
}

/// `jax.linearize` of `forward` with every inexact input differentiated: the first half
/// of [`vjp_parts`].
pub(crate) fn linearize(forward: &Graph) -> Result<Linearized> {
    let mut lin = Linearizer {
        forward,
        program: Graph::default(),
        tape: Tape::default(),
        primal: vec![None; forward.values.len()],
        tangent: vec![J::Zero; forward.values.len()],
        regions: Vec::new(),
    };
    let mut differentiated = Vec::new();
    for &v in &forward.inputs {
        let spec = forward.spec(v).clone();
        let input = lin.program.add_input(spec.clone());
        if forward.keys.contains(&v) {
            lin.program.keys.push(input);
        }
        lin.primal[v.0 as usize] = Some(input);
        if spec.dtype.is_inexact() {
            let t = lin.tape.new_tangent(spec);
            lin.tangent[v.0 as usize] = J::Tan(t);
            differentiated.push(t);
        }
    }
    lin.regions = mirror_regions(forward, &mut lin.program);
    lin.reserve();
    let count = u32::try_from(forward.nodes.len()).expect("graph exceeds 2^32 nodes");
    lin.nodes(0..count, RegionId::TOP)?;
    let Linearizer {
        program,
        tape,
        primal,
        tangent,
        ..
    } = lin;
    Ok(Linearized {
        program,
        tape,
        primal,
        tangent,
        differentiated,
    })
}

/// `jax.linearize` of a forward program: primal ops with their residuals into `program`, linear
/// ops onto `tape`.
struct Linearizer<'a> {
    forward: &'a Graph,
    program: Graph,
    tape: Tape,
    primal: Vec<Option<ValueId>>,
    tangent: Vec<J>,
    /// For each forward region, its forward and transposed copies in `program`.
    regions: Vec<(RegionId, RegionId)>,
}

impl Linearizer<'_> {
    /// Room for the program and the tape, so that they are not copied as they grow: a
    /// VJP program has about three nodes per forward node (primal copy, residuals,
    /// transpose), the tape about one and a half.
    fn reserve(&mut self) {
        let n = self.forward.nodes.len();
        let v = self.forward.values.len();
        self.program.nodes.reserve(n.saturating_mul(3));
        self.program.values.reserve(v.saturating_mul(3));
        self.tape.nodes.reserve(n.saturating_add(n / 2));
        self.tape.specs.reserve(v.saturating_add(v / 2));
    }

    /// Linearises nodes `range`, all inside region `within`.
    fn nodes(&mut self, range: Range<u32>, within: RegionId) -> Result<()> {
        let mut i = range.start;
        while i < range.end {
            if let Some(r) = self.forward.custom_region_starting_at(i, within) {
                let from = self.program.nodes.len();
                match self.forward.region(r).kind {
                    RegionKind::CustomJvp(rule) => self.custom_jvp(r, rule)?,
                    RegionKind::Loop => self.scan(r)?,
                    RegionKind::Remat => self.remat(r)?,
                    _ => {
                        unreachable!("custom_region_starting_at returns custom-JVP or loop regions")
                    }
                }
                let origin = self.origin_of_nodes(&self.forward.region(r).nodes);
                self.program.set_origins(from, origin);
                i = self.forward.region(r).nodes.end;
            } else {
                let from = self.program.nodes.len();
                self.node(i)?;
                let origin = self.forward.node(i).origin;
                self.program.set_origins(from, origin);
                i += 1;
            }
        }
        Ok(())
    }

    /// A checkpointed call (`jax.checkpoint`): its primal ops only in the forward half;
    /// on the tape one [`Prim::Remat`] node whose transpose recomputes the call's
    /// forward pass with its residuals and transposes it (the *fragment*, built here by
    /// linearising the call's program on its own).
    fn remat(&mut self, r: RegionId) -> Result<()> {
        let forward = self.forward;
        let region = forward.region(r);
        let range = region.nodes.clone();
        for n in range.clone() {
            self.copy_node(n);
        }
        let (inputs, outputs) = boundary(forward, r);
        let differentiate: Vec<bool> = inputs
            .iter()
            .map(|v| !self.tangent[v.0 as usize].is_zero())
            .collect();
        if !differentiate.iter().any(|&d| d) {
            return Ok(());
        }
        let mut sub = crate::cost::program::extract(forward, range, &inputs, &outputs);
        crate::cost::program::inline_remat_of_span(&mut sub);
        let staged = stage(&sub, &differentiate)?;
        let mut args: Vec<LinArg> = inputs
            .iter()
            .map(|&v| LinArg::Primal(self.get(v)))
            .collect();
        for (&v, _) in inputs.iter().zip(&differentiate).filter(|(_, d)| **d) {
            let J::Tan(t) = self.tangent[v.0 as usize] else {
                return Err(Error::internal(
                    "a differentiated remat input has no tangent",
                ));
            };
            args.push(LinArg::Tan(t));
        }
        let mut outs = Vec::new();
        for (&v, &has) in outputs.iter().zip(&staged.out_tangents) {
            if has {
                let t = self.tape.new_tangent(forward.spec(v).clone());
                self.tangent[v.0 as usize] = J::Tan(t);
                outs.push(t);
            }
        }
        let (_, backward_region) = self.regions[region.parent.0 as usize];
        self.tape.nodes.push(LinNode {
            prim: Prim::Remat(RematRule {
                residuals: inputs.len(),
                used: staged.used,
                returns: staged.returns,
                fragment: Arc::new(staged.program),
                prevent_cse: true,
            }),
            args: args.into(),
            outs: outs.into(),
            region: backward_region,
        });
        Ok(())
    }

    /// The user-level operation that applied the first of `nodes` (a region's).
    fn origin_of_nodes(&self, nodes: &Range<u32>) -> Option<&'static str> {
        (!nodes.is_empty())
            .then(|| self.forward.node(nodes.start).origin)
            .flatten()
    }

    fn get(&self, v: ValueId) -> ValueId {
        self.primal[v.0 as usize].expect("values are defined before use")
    }

    fn cx(&mut self, region: RegionId) -> JvpCx<'_> {
        let (forward_region, backward_region) = self.regions[region.0 as usize];
        JvpCx {
            program: &mut self.program,
            tape: &mut self.tape,
            forward_region,
            backward_region,
        }
    }

    /// One primitive: its primal copy, then its JVP rule when a tangent reaches it.
    fn node(&mut self, n: u32) -> Result<()> {
        let node = self.forward.node(n);
        self.copy_node(n);
        let mut t_in: SmallVec<[J; 4]> = SmallVec::new();
        for v in &node.inputs {
            t_in.push(self.tangent[v.0 as usize]);
        }
        let any_inexact_out = node
            .outputs
            .iter()
            .any(|v| self.forward.spec(*v).dtype.is_inexact());
        if any_inexact_out && t_in.iter().any(|t| !t.is_zero()) {
            let mut x = ValueIds::new();
            for &v in &node.inputs {
                x.push(self.get(v));
            }
            let mut y = ValueIds::new();
            for &v in &node.outputs {
                y.push(self.get(v));
            }
            let name = node.prim.name();
            self.tape.mark(node.origin, name);
            let t_out = node
                .prim
                .jvp(&mut self.cx(node.region), &x, &y, &t_in)
                .map_err(|e| e.in_operation(node.origin, name, Stage::Differentiate))?;
            for (v, t) in node.outputs.iter().zip(t_out) {
                self.tangent[v.0 as usize] = keep_if_inexact(self.forward, *v, t);
            }
        }
        Ok(())
    }

    /// A `custom_jvp` function: its body's primal ops, then its rule.
    fn custom_jvp(&mut self, r: RegionId, rule: crate::ops::CustomRule) -> Result<()> {
        let region = self.forward.region(r);
        for n in region.nodes.clone() {
            self.copy_node(n);
        }
        let t_in: Vec<J> = region
            .inputs
            .iter()
            .map(|v| self.tangent[v.0 as usize])
            .collect();
        if t_in.iter().all(|t| t.is_zero()) {
            return Ok(());
        }
        let x: Vec<ValueId> = region.inputs.iter().map(|&v| self.get(v)).collect();
        let y: Vec<ValueId> = region.outputs.iter().map(|&v| self.get(v)).collect();
        let origin = self.origin_of_nodes(&region.nodes);
        self.tape.mark(origin, "custom_jvp_call");
        let t_out = rule
            .jvp(&mut self.cx(region.parent), &x, &y, &t_in)
            .map_err(|e| e.in_operation(origin, "custom_jvp_call", Stage::Differentiate))?;
        for (v, t) in region.outputs.iter().zip(t_out) {
            self.tangent[v.0 as usize] = keep_if_inexact(self.forward, *v, t);
        }
        Ok(())
    }

    /// A `scan`, as JAX differentiates it: the body linearised once, inside the loop. On
    /// the tape, a `loop_entry` node maps the tangents from outside (initial carries,
    /// scanned inputs, loop invariants) to the body's, and the `while` node maps the
    /// body's results to the loop's; their transposes open and close the backward loop.
    fn scan(&mut self, r: RegionId) -> Result<()> {
        let origin = self.origin_of_nodes(&self.forward.region(r).nodes);
        let located = |e: Error| e.in_operation(origin, "scan", Stage::Differentiate);
        let LoopParts {
            entries,
            body,
            exit,
            carries,
        } = self.loop_parts(r).map_err(located)?;
        let range = self.forward.region(r).nodes.clone();
        let invariants = self.invariants(&range, body.start);
        let carried = self.carried_tangents(&entries, &invariants, body.clone(), exit, carries);
        for &e in &entries {
            self.copy_node(e);
        }
        if !carried.iter().any(|&c| c) && invariants.is_empty() {
            // No tangent enters the loop: it is primal code only.
            for n in body.chain([exit]) {
                self.copy_node(n);
            }
            return Ok(());
        }
        let (_, backward_region) = self.regions[r.0 as usize];
        let reverse = matches!(
            self.forward.node(exit).prim,
            Prim::LoopExit { reverse: true, .. }
        );
        self.tape.mark(origin, "scan");
        let saved = self
            .enter_loop(&entries, &carried, &invariants, backward_region, reverse)
            .map_err(located)?;
        self.nodes(body, r)?;
        for (v, outer) in saved {
            self.tangent[v.0 as usize] = J::Tan(outer);
        }
        self.tape.mark(origin, "scan");
        self.exit_loop(exit, backward_region);
        Ok(())
    }

    /// A loop region's entries (`loop_var`s and `loop_slice`s first), body and `while`.
    fn loop_parts(&self, r: RegionId) -> Result<LoopParts> {
        let forward = self.forward;
        let range = forward.region(r).nodes.clone();
        let entries: Vec<u32> = range
            .clone()
            .take_while(|&n| {
                let node = forward.node(n);
                node.region == r && matches!(node.prim, Prim::LoopVar | Prim::LoopSlice { .. })
            })
            .collect();
        let exit = range.end.checked_sub(1);
        let carries = exit.map(|e| &forward.node(e).prim);
        let (Some(exit), Some(&Prim::LoopExit { carries, .. })) = (exit, carries) else {
            return Err(Error::internal("a loop region must end with its `while`"));
        };
        // Entries are a prefix of the region's nodes, so their count fits in a `u32`.
        let start = range.start + u32::try_from(entries.len()).unwrap_or(u32::MAX);
        Ok(LoopParts {
            entries,
            body: start..exit,
            exit,
            carries,
        })
    }

    /// The tape's `loop_entry` node: the tangents entering the body (each entry's from
    /// outside, then each invariant's), mapped to fresh tangents inside it. Returns each
    /// invariant with its outside tangent, to restore after the body.
    fn enter_loop(
        &mut self,
        entries: &[u32],
        carried: &[bool],
        invariants: &[ValueId],
        backward_region: RegionId,
        reverse: bool,
    ) -> Result<Vec<(ValueId, TanId)>> {
        let forward = self.forward;
        let mut args = Vec::new();
        let mut outs = Vec::new();
        let mut saved = Vec::new();
        for (&e, &nonzero) in entries.iter().zip(carried) {
            let node = forward.node(e);
            let outer = node.inputs[0];
            args.push(match self.tangent[outer.0 as usize] {
                J::Tan(t) => LinArg::Tan(t),
                _ => LinArg::Primal(self.get(outer)),
            });
            let inner = node.outputs[0];
            let t = self.tape.new_tangent(forward.spec(inner).clone());
            outs.push(t);
            self.tangent[inner.0 as usize] = if nonzero { J::Tan(t) } else { J::Zero };
        }
        for &v in invariants {
            let J::Tan(outer) = self.tangent[v.0 as usize] else {
                return Err(Error::internal("a loop invariant has no tangent"));
            };
            args.push(LinArg::Tan(outer));
            let local = self.tape.new_tangent(forward.spec(v).clone());
            outs.push(local);
            saved.push((v, outer));
            self.tangent[v.0 as usize] = J::Tan(local);
        }
        self.tape.nodes.push(LinNode {
            prim: Prim::LoopEntry {
                carries: entries
                    .iter()
                    .filter(|&&e| forward.node(e).prim == Prim::LoopVar)
                    .count(),
                scanned: entries.len(),
                reverse,
            },
            args: args.into(),
            outs: outs.into(),
            region: backward_region,
        });
        Ok(saved)
    }

    /// The `while` node itself, and its tangent on the tape: the body's results mapped to
    /// the loop's.
    fn exit_loop(&mut self, exit: u32, backward_region: RegionId) {
        let forward = self.forward;
        let exit_node = forward.node(exit);
        // The differentiated loop stacks the residuals its transpose reads per step, so its
        // step index is live (a `reverse` loop computes it: JAX's partial evaluation).
        let prim = match &exit_node.prim {
            Prim::LoopExit {
                carries,
                length,
                axis,
                reverse,
                ..
            } => Prim::LoopExit {
                carries: *carries,
                length: *length,
                axis: *axis,
                reverse: *reverse,
                sliced: true,
            },
            other => other.clone(),
        };
        self.copy_node_as(exit, prim);
        let args: Vec<LinArg> = exit_node
            .inputs
            .iter()
            .map(|&v| match self.tangent[v.0 as usize] {
                J::Tan(t) => LinArg::Tan(t),
                _ => LinArg::Primal(self.get(v)),
            })
            .collect();
        let outs: Vec<TanId> = exit_node
            .outputs
            .iter()
            .map(|&v| self.tape.new_tangent(forward.spec(v).clone()))
            .collect();
        for ((&v, &t), arg) in exit_node.outputs.iter().zip(&outs).zip(&args) {
            self.tangent[v.0 as usize] = if matches!(arg, LinArg::Tan(_)) {
                J::Tan(t)
            } else {
                J::Zero
            };
        }
        self.tape.nodes.push(LinNode {
            prim: exit_node.prim.clone(),
            args: args.into(),
            outs: outs.into(),
            region: backward_region,
        });
    }

    /// Values from outside the loop (nodes `range`) that its body and `while` (from
    /// `body_start`, after the entries) use and that carry a tangent: the loop invariants
    /// whose cotangents the backward loop accumulates.
    fn invariants(&self, range: &Range<u32>, body_start: u32) -> Vec<ValueId> {
        let inside: HashSet<ValueId> = range
            .clone()
            .flat_map(|n| self.forward.node(n).outputs.iter().copied())
            .collect();
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for n in body_start..range.end {
            let node = self.forward.node(n);
            for &v in &node.inputs {
                if !inside.contains(&v) && !self.tangent[v.0 as usize].is_zero() && seen.insert(v) {
                    out.push(v);
                }
            }
        }
        out
    }

    /// Which loop entries carry a nonzero tangent, as JAX's fixpoint over the carries
    /// finds it: a carry is differentiated if its initial value is, or if its new value
    /// depends on anything differentiated.
    fn carried_tangents(
        &self,
        entries: &[u32],
        invariants: &[ValueId],
        body: Range<u32>,
        exit: u32,
        carries: usize,
    ) -> Vec<bool> {
        let forward = self.forward;
        let mut nonzero: Vec<bool> = entries
            .iter()
            .map(|&e| !self.tangent[forward.node(e).inputs[0].0 as usize].is_zero())
            .collect();
        let carry_entries: Vec<usize> = (0..entries.len())
            .filter(|&i| forward.node(entries[i]).prim == Prim::LoopVar)
            .collect();
        loop {
            let mut live: HashSet<ValueId> = invariants.iter().copied().collect();
            for (&e, &nz) in entries.iter().zip(&nonzero) {
                if nz {
                    live.insert(forward.node(e).outputs[0]);
                }
            }
            for n in body.clone() {
                let node = forward.node(n);
                if node.prim.has_derivative() && node.inputs.iter().any(|v| live.contains(v)) {
                    for &v in &node.outputs {
                        if forward.spec(v).dtype.is_inexact() {
                            live.insert(v);
                        }
                    }
                }
            }
            let exit_node = forward.node(exit);
            let mut changed = false;
            for (k, &i) in carry_entries.iter().enumerate().take(carries) {
                if !nonzero[i] && live.contains(&exit_node.inputs[k]) {
                    nonzero[i] = true;
                    changed = true;
                }
            }
            if !changed {
                return nonzero;
            }
        }
    }

    fn copy_node(&mut self, n: u32) {
        self.copy_node_as(n, self.forward.node(n).prim.clone());
    }

    /// Copies node `n` as an application of `prim`.
    fn copy_node_as(&mut self, n: u32, prim: Prim) {
        let forward = self.forward;
        let node = forward.node(n);
        let mut inputs = ValueIds::new();
        for &v in &node.inputs {
            inputs.push(self.get(v));
        }
        let outs = self.program.append(
            prim,
            inputs,
            node.outputs.iter().map(|&v| forward.spec(v).clone()),
            self.regions[node.region.0 as usize].0,
            NodeTag::Plain,
            node.origin,
        );
        for (&old, new) in node.outputs.iter().zip(outs) {
            self.primal[old.0 as usize] = Some(ValueId(new));
        }
    }
}

/// Integer and boolean values carry no tangent (`float0`).
fn keep_if_inexact(graph: &Graph, v: ValueId, t: J) -> J {
    if graph.spec(v).dtype.is_inexact() {
        t
    } else {
        J::Zero
    }
}

/// For each region of `forward`, a region of `program` for its forward ops and one for its
/// transposed ops (a transposed `jit` is a second call).
fn mirror_regions(forward: &Graph, program: &mut Graph) -> Vec<(RegionId, RegionId)> {
    let mut map = vec![(RegionId::TOP, RegionId::TOP)];
    for region in &forward.regions[1..] {
        let (pf, pb) = map[region.parent.0 as usize];
        let mut add = |parent: RegionId, literals_of: Option<RegionId>| {
            let id = RegionId(u32::try_from(program.regions.len()).expect("too many regions"));
            program.regions.push(Region {
                kind: region.kind.clone(),
                parent,
                literals_of,
                nodes: 0..0,
                inputs: Vec::new(),
                outputs: Vec::new(),
            });
            id
        };
        let f = add(pf, None);
        let b = add(pb, Some(f));
        map.push((f, b));
    }
    map
}

/// The parts of a loop region, in node order.
struct LoopParts {
    /// The `loop_var` and `loop_slice` nodes that start the region.
    entries: Vec<u32>,
    /// The body's nodes.
    body: Range<u32>,
    /// The `while` node that ends the region.
    exit: u32,
    /// How many loop-carried values the `while` returns first.
    carries: usize,
}

/// The values crossing remat region `r`'s boundary: its inputs (those declared first, in
/// the checkpointed function's argument order, then any other outside value it reads, in
/// first-use order) and its outputs (those declared first, then any other value it
/// defines that is read after it or is a graph output).
fn boundary(forward: &Graph, r: RegionId) -> (Vec<ValueId>, Vec<ValueId>) {
    let region = forward.region(r);
    let range = region.nodes.clone();
    let defined: HashSet<ValueId> = range
        .clone()
        .flat_map(|n| forward.node(n).outputs.iter().copied())
        .collect();
    let mut read = Vec::new();
    let mut seen = HashSet::new();
    for n in range.clone() {
        for &v in &forward.node(n).inputs {
            if !defined.contains(&v) && seen.insert(v) {
                read.push(v);
            }
        }
    }
    let mut inputs: Vec<ValueId> = region
        .inputs
        .iter()
        .copied()
        .filter(|v| seen.contains(v))
        .collect();
    let declared: HashSet<ValueId> = inputs.iter().copied().collect();
    inputs.extend(read.into_iter().filter(|v| !declared.contains(v)));
    let mut escaping = HashSet::new();
    for node in &forward.nodes[range.end as usize..] {
        escaping.extend(node.inputs.iter().copied().filter(|v| defined.contains(v)));
    }
    escaping.extend(
        forward
            .outputs
            .iter()
            .copied()
            .filter(|v| defined.contains(v)),
    );
    let mut outputs: Vec<ValueId> = Vec::new();
    for &v in &region.outputs {
        if escaping.contains(&v) && !outputs.contains(&v) {
            outputs.push(v);
        }
    }
    for n in range {
        for &v in &forward.node(n).outputs {
            if escaping.contains(&v) && !outputs.contains(&v) {
                outputs.push(v);
            }
        }
    }
    (inputs, outputs)
}

/// What a checkpointed function stages into the backward pass.
struct Staged {
    /// Inputs: `sub`'s inputs, then one cotangent per result with a tangent. Outputs:
    /// the cotangents of the differentiated inputs that get one.
    program: Graph,
    /// Per result of `sub`: whether it has a tangent.
    out_tangents: Vec<bool>,
    /// Per input of `sub`: whether the staged program reads it.
    used: Vec<bool>,
    /// Per differentiated input: whether the staged program returns its cotangent.
    returns: Vec<bool>,
}

/// JAX's staged half of `remat2`'s partial evaluation for the function `sub`: its JVP
/// (primal ops and residuals, recomputed) with the linear part transposed, the inputs
/// marked in `differentiate` differentiated.
fn stage(sub: &Graph, differentiate: &[bool]) -> Result<Staged> {
    let mut lin = Linearizer {
        forward: sub,
        program: Graph::default(),
        tape: Tape::default(),
        primal: vec![None; sub.values.len()],
        tangent: vec![J::Zero; sub.values.len()],
        regions: Vec::new(),
    };
    let mut differentiated = Vec::new();
    for (&v, &d) in sub.inputs.iter().zip(differentiate) {
        let spec = sub.spec(v).clone();
        let input = lin.program.add_input(spec.clone());
        if sub.keys.contains(&v) {
            lin.program.keys.push(input);
        }
        lin.primal[v.0 as usize] = Some(input);
        if d {
            let t = lin.tape.new_tangent(spec);
            lin.tangent[v.0 as usize] = J::Tan(t);
            differentiated.push(t);
        }
    }
    lin.regions = mirror_regions(sub, &mut lin.program);
    lin.reserve();
    let count = u32::try_from(sub.nodes.len()).expect("graph exceeds 2^32 nodes");
    lin.nodes(0..count, RegionId::TOP)?;
    let Linearizer {
        mut program,
        tape,
        tangent,
        ..
    } = lin;
    let mut cts = Cotangents::new(&tape);
    let mut out_tangents = Vec::new();
    for &o in &sub.outputs {
        if let J::Tan(t) = tangent[o.0 as usize] {
            let ct = program.add_input(sub.spec(o).clone());
            cts.add(&mut program, t, ct, RegionId::TOP)?;
            out_tangents.push(true);
        } else {
            out_tangents.push(false);
        }
    }
    backward(&mut program, &tape, &mut cts)?;
    let returns: Vec<bool> = differentiated
        .iter()
        .map(|&t| cts.get(t).is_some())
        .collect();
    program.outputs = differentiated.iter().filter_map(|&t| cts.get(t)).collect();
    let live = crate::cost::count::live(&program);
    let used = program.inputs[..sub.inputs.len()]
        .iter()
        .map(|&v| live.reads(&program, v))
        .collect();
    Ok(Staged {
        program,
        out_tangents,
        used,
        returns,
    })
}

/// The tangent a child's program gives one of the results it computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OutTangent {
    /// None (an integer result, or one no input reaches).
    Zero,
    /// The tangent of its input `i` (its program's input order).
    Input(usize),
    /// A tangent of its own: the child's `j`th own slot.
    Own(usize),
}

/// A child call of a row whose VJP program is built with the child left out
/// (`cost::compose`): what the row's linearisation needs to know of it.
pub(crate) struct Opaque {
    /// The glue values standing for its program's inputs, in their order.
    pub(crate) reads: Vec<ValueId>,
    /// The glue values standing for the results it computes, with their tangents.
    pub(crate) produced: Vec<(ValueId, OutTangent)>,
    /// How many own tangents its results have.
    pub(crate) own: usize,
}

/// How a child's part of the row's VJP program takes and gives cotangents, asked as the
/// row's backward pass reaches the child.
pub(crate) trait Variants {
    /// Child `k`, whose slots (its inexact inputs' tangents, in input order, then its
    /// own results' tangents) hold a cotangent where `incoming` says, on entering its
    /// part of the backward pass: per input slot, whether it hands back a new cotangent.
    /// `None` when that part cannot be composed.
    fn outgoing(&mut self, k: usize, incoming: &[bool]) -> Option<Vec<bool>>;
}

/// A row's VJP program with each child call left out: the glue's linearisation and
/// transposition, each child's primal results, and the cotangents it hands back,
/// standing as inputs.
pub(crate) struct GlueVjp {
    pub(crate) program: Graph,
    /// Per child, in the order the items meet them.
    pub(crate) kids: Vec<KidVjp>,
}

/// Where a child's part meets the rest of the row's VJP program.
pub(crate) struct KidVjp {
    /// The values of the program it reads, per input of its own program.
    pub(crate) reads: Vec<ValueId>,
    /// The inputs standing for its computed results, in the order of [`Opaque::produced`].
    pub(crate) produced: Vec<ValueId>,
    /// Per slot, the cotangent it receives.
    pub(crate) incoming: Vec<Option<ValueId>>,
    /// Per input slot, the input standing for the cotangent it hands back.
    pub(crate) outgoing: Vec<Option<ValueId>>,
}

/// One item of a row's glue in emission order: a glue node, or child `k`.
#[derive(Clone, Copy, Debug)]
pub(crate) enum GlueItem {
    Node(usize),
    Kid(usize),
}

/// The VJP program of a row whose program is `glue` (its own nodes, all at its top level,
/// with the children's results as inputs) and the children `kids` (`items`: where each
/// sits among the glue's nodes): as [`vjp_parts`] builds it for the whole row, but each
/// child's part left out. `inputs` are the row program's inputs (in its order) and
/// `outputs` its outputs, as glue values. `Err` when a child's part would not be what its
/// own program gives (a reason), or when the glue fails to differentiate (the row is
/// then costed whole, and reports it).
pub(crate) fn glue_vjp(
    glue: &Graph,
    (inputs, outputs): (&[ValueId], &[ValueId]),
    items: &[GlueItem],
    kids: &[Opaque],
    variants: &mut dyn Variants,
) -> std::result::Result<GlueVjp, &'static str> {
    let failed = |_| "the row's glue does not differentiate";
    let mut lin = Linearizer {
        forward: glue,
        program: Graph::default(),
        tape: Tape::default(),
        primal: vec![None; glue.values.len()],
        tangent: vec![J::Zero; glue.values.len()],
        regions: Vec::new(),
    };
    let mut stands_in = vec![false; glue.values.len()];
    for kid in kids {
        for &(g, _) in &kid.produced {
            stands_in[g.0 as usize] = true;
        }
    }
    for &v in &glue.inputs {
        if stands_in[v.0 as usize] {
            continue;
        }
        let spec = glue.spec(v).clone();
        let input = lin.program.add_input(spec.clone());
        if glue.keys.contains(&v) {
            lin.program.keys.push(input);
        }
        lin.primal[v.0 as usize] = Some(input);
        if spec.dtype.is_inexact() {
            lin.tangent[v.0 as usize] = J::Tan(lin.tape.new_tangent(spec));
        }
    }
    lin.regions = mirror_regions(glue, &mut lin.program);
    // Per child: where its part sits on the tape, and its slots' tangents.
    let mut marks: Vec<(usize, usize, Vec<TanId>, usize)> = Vec::with_capacity(kids.len());
    // Per child met, its index in `kids`.
    let mut met: Vec<usize> = Vec::with_capacity(kids.len());
    let mut out = Vec::with_capacity(kids.len());
    // The end of the custom-JVP or checkpointed region being linearised whole.
    let mut skip_until = 0;
    for &item in items {
        match item {
            GlueItem::Node(n) => {
                let n = u32::try_from(n).map_err(|_| "too many nodes")?;
                if n < skip_until {
                    continue;
                }
                if let Some(r) = glue.custom_region_starting_at(n, RegionId::TOP) {
                    skip_until = glue.region(r).nodes.end;
                    lin.nodes(n..skip_until, RegionId::TOP).map_err(failed)?;
                } else {
                    lin.node(n).map_err(failed)?;
                }
            }
            GlueItem::Kid(k) => {
                let (reads, produced, slots, inputs) = lin.opaque(&kids[k])?;
                marks.push((lin.tape.nodes.len(), out.len(), slots, inputs));
                met.push(k);
                out.push(KidVjp {
                    reads,
                    produced,
                    incoming: Vec::new(),
                    outgoing: Vec::new(),
                });
            }
        }
    }
    let Linearizer {
        mut program,
        tape,
        primal,
        tangent,
        ..
    } = lin;
    let mut cts = Cotangents::new(&tape);
    for &o in outputs {
        if let J::Tan(t) = tangent[o.0 as usize] {
            let value = primal[o.0 as usize].ok_or("an output is not defined")?;
            cts.add(&mut program, t, value, RegionId::TOP)
                .map_err(failed)?;
        }
    }
    let mut end = tape.nodes.len();
    for (at, m, slots, inputs) in marks.into_iter().rev() {
        backward_range(&mut program, &tape, &mut cts, at..end).map_err(failed)?;
        end = at;
        let (incoming, handed) =
            transpose_opaque(&mut program, &tape, &mut cts, (&slots, inputs), |mask| {
                variants.outgoing(met[m], mask)
            })?;
        out[m].incoming = incoming;
        out[m].outgoing = handed;
    }
    backward_range(&mut program, &tape, &mut cts, 0..end).map_err(failed)?;
    program.outputs = inputs
        .iter()
        .filter_map(|v| match tangent[v.0 as usize] {
            J::Tan(t) => cts.get(t),
            _ => None,
        })
        .collect();
    Ok(GlueVjp { program, kids: out })
}

impl Linearizer<'_> {
    /// A child left out of the linearisation (see [`glue_vjp`]): the program's values of
    /// what it reads, the inputs standing for its computed results (whose tangents are
    /// set as its own linearisation makes them), its slots' tangents and how many of
    /// them are its inputs'.
    #[allow(clippy::type_complexity)]
    fn opaque(
        &mut self,
        kid: &Opaque,
    ) -> std::result::Result<(Vec<ValueId>, Vec<ValueId>, Vec<TanId>, usize), &'static str> {
        let mut slots: Vec<TanId> = Vec::new();
        let mut reads = Vec::with_capacity(kid.reads.len());
        let mut slot_of_read = vec![usize::MAX; kid.reads.len()];
        for (i, &r) in kid.reads.iter().enumerate() {
            reads.push(self.primal[r.0 as usize].ok_or("a child reads an unknown value")?);
            if !self.forward.spec(r).dtype.is_inexact() {
                continue;
            }
            let J::Tan(t) = self.tangent[r.0 as usize] else {
                return Err("a child's input has no tangent in the row");
            };
            if slots.contains(&t) {
                return Err("two inputs of a child share a tangent");
            }
            slot_of_read[i] = slots.len();
            slots.push(t);
        }
        let inputs = slots.len();
        for _ in 0..kid.own {
            // Specs are set below from the result that has the tangent.
            slots.push(TanId(u32::MAX));
        }
        let mut produced = Vec::with_capacity(kid.produced.len());
        for &(g, tangent) in &kid.produced {
            let spec = self.forward.spec(g).clone();
            produced.push(self.program.add_input(spec.clone()));
            self.primal[g.0 as usize] = produced.last().copied();
            self.tangent[g.0 as usize] = match tangent {
                OutTangent::Zero => J::Zero,
                OutTangent::Input(i) => {
                    let slot = *slot_of_read.get(i).ok_or("an unknown input")?;
                    J::Tan(
                        *slots
                            .get(slot)
                            .ok_or("a result's tangent is an integer's")?,
                    )
                }
                OutTangent::Own(j) => {
                    let slot = slots.get_mut(inputs + j).ok_or("an unknown slot")?;
                    if slot.0 == u32::MAX {
                        *slot = self.tape.new_tangent(spec);
                    }
                    J::Tan(*slot)
                }
            };
        }
        if slots.iter().any(|t| t.0 == u32::MAX) {
            return Err("a child's own tangent is no result's");
        }
        Ok((reads, produced, slots, inputs))
    }
}

/// A child's part met by the backward pass: the cotangents its slots (`slots`, the
/// first `inputs` of them its inputs') hold, taken from its own results' tangents; each
/// input slot it hands a new cotangent back for (`outgoing` of the pattern) then holds an
/// input standing for it. Returns both.
#[allow(clippy::type_complexity)]
fn transpose_opaque(
    program: &mut Graph,
    tape: &Tape,
    cts: &mut Cotangents,
    (slots, inputs): (&[TanId], usize),
    outgoing: impl FnOnce(&[bool]) -> Option<Vec<bool>>,
) -> std::result::Result<(Vec<Option<ValueId>>, Vec<Option<ValueId>>), &'static str> {
    let incoming: Vec<Option<ValueId>> = slots
        .iter()
        .enumerate()
        .map(|(j, &t)| {
            if j < inputs {
                cts.get(t)
            } else {
                cts.take_ct(t)
            }
        })
        .collect();
    let mask: Vec<bool> = incoming.iter().map(Option::is_some).collect();
    let outgoing = outgoing(&mask).ok_or("a child's part of the VJP cannot be replayed")?;
    let mut handed = vec![None; inputs];
    for (j, &gives) in outgoing.iter().enumerate().take(inputs) {
        if gives {
            let v = program.add_input(tape.spec(slots[j]).clone());
            cts.set(slots[j], Some(v));
            handed[j] = Some(v);
        }
    }
    Ok((incoming, handed))
}

/// How a child's program sits in its parent's VJP program: its linearisation, its slots
/// (the tangents cotangents reach it through) and the tangents of its computed results.
pub(crate) struct PieceShape {
    lin: Linearized,
    /// Its inexact inputs' tangents, in input order, then its results' own tangents.
    slots: Vec<TanId>,
    inputs: usize,
    /// Per computed result (each value once, in output order): its output position and
    /// tangent.
    pub(crate) produced: Vec<(usize, OutTangent)>,
}

impl PieceShape {
    /// How many own tangents its results have.
    pub(crate) fn own(&self) -> usize {
        self.slots.len() - self.inputs
    }
}

/// The shape of `forward` (a child's program) as a part of its parent's VJP program.
pub(crate) fn piece_shape(forward: &Graph) -> std::result::Result<PieceShape, &'static str> {
    let lin = linearize(forward).map_err(|_| "a child does not differentiate")?;
    let mut slots = Vec::new();
    let mut input_of = std::collections::HashMap::new();
    for (i, v) in forward.inputs.iter().enumerate() {
        if let J::Tan(t) = lin.tangent[v.0 as usize] {
            input_of.insert(t, i);
            slots.push(t);
        }
    }
    let inputs = slots.len();
    let mut seen = HashSet::new();
    let mut produced = Vec::new();
    for (p, &o) in forward.outputs.iter().enumerate() {
        if forward.inputs.contains(&o) || !seen.insert(o) {
            continue;
        }
        let tangent = match lin.tangent[o.0 as usize] {
            J::Zero => OutTangent::Zero,
            J::Tan(t) => {
                if let Some(&i) = input_of.get(&t) {
                    OutTangent::Input(i)
                } else if let Some(j) = slots[inputs..].iter().position(|&s| s == t) {
                    OutTangent::Own(j)
                } else {
                    slots.push(t);
                    OutTangent::Own(slots.len() - inputs - 1)
                }
            }
            J::Primal(_) => return Err("a child's result has a primal tangent"),
        };
        produced.push((p, tangent));
    }
    Ok(PieceShape {
        lin,
        slots,
        inputs,
        produced,
    })
}

/// A child's part of its parent's VJP program, for the cotangents `incoming` says reach
/// its slots: its VJP program with those cotangents as inputs (after its own inputs, in
/// slot order) instead of its results' own values as seeds. Its outputs are its computed
/// results, then the new cotangent of each input slot it hands one back for (`outgoing`).
pub(crate) struct Piece {
    pub(crate) program: Graph,
    pub(crate) outgoing: Vec<bool>,
}

/// [`Piece`] of `forward` (shaped `shape`) for `incoming`.
pub(crate) fn piece(
    forward: &Graph,
    shape: &PieceShape,
    incoming: &[bool],
) -> std::result::Result<Piece, &'static str> {
    let failed = |_| "a child's part does not transpose";
    let lin = &shape.lin;
    let mut program = lin.program.clone();
    let mut cts = Cotangents::new(&lin.tape);
    let mut seeds = vec![None; shape.slots.len()];
    for (j, (&t, &has)) in shape.slots.iter().zip(incoming).enumerate() {
        if has {
            let x = program.add_input(lin.tape.spec(t).clone());
            cts.add(&mut program, t, x, RegionId::TOP).map_err(failed)?;
            seeds[j] = Some(x);
        }
    }
    backward(&mut program, &lin.tape, &mut cts).map_err(failed)?;
    let mut outputs: Vec<ValueId> = Vec::new();
    for &(p, _) in &shape.produced {
        outputs.push(lin.primal[forward.outputs[p].0 as usize].ok_or("a result is not defined")?);
    }
    let mut outgoing = Vec::with_capacity(shape.inputs);
    for (&t, &seed) in shape.slots.iter().zip(&seeds).take(shape.inputs) {
        let last = cts.get(t);
        let gives = last.is_some() && last != seed;
        if gives {
            outputs.extend(last);
        }
        outgoing.push(gives);
    }
    program.outputs = outputs;
    Ok(Piece { program, outgoing })
}
