//! A row's `flops` from the programs of the calls inside it, replayed exactly.
//!
//! XLA's total is the float32 sum of one term per instruction in the order of a post-order
//! DFS from the ROOT tuple (`count`). Inside a row's program, each direct child call is a
//! contiguous piece of the graph entered only through its outputs. When that piece is,
//! after folding and dead-code elimination, the child's own program, the DFS inside it is
//! the child's DFS: entered through an output, it adds the terms the child's DFS adds and,
//! where the child's DFS first reaches one of its inputs, the parent's DFS continues from
//! that input before coming back. So the child's program gives, per output in the order
//! the parent enters them, its *events* (`count::top_events`: terms and first reaches),
//! computed once per distinct program and entry order (GPT-2's `h_1`..`h_11` are `h_0`),
//! and the parent's sum is its own DFS over its glue operations with each child replayed
//! from its events: the same terms, added in the same order, so the same bits.
//!
//! The piece is the child's program when (each is checked; otherwise the row is costed
//! from scratch, which is always right):
//! - no value computed inside the child is read outside it but through its outputs;
//! - folding does not cross the boundary: no output of the child folds to a constant or is
//!   a `concatenate` (a slice of it in the parent would fold), and no input the child reads
//!   is a constant or a `concatenate` in the parent;
//! - dead-code elimination agrees: the parent needs every output the child computes, or
//!   none (then the child is dead in both);
//! - no nested computation (`call`, `while`) of the parent holds a child or a glue
//!   operation, the child's top level has no loop (XLA visits loops before the ROOT), and
//!   no output of the child is a typed key it makes.

use std::cell::Cell;
use std::collections::HashMap;
use std::ops::Range;
use std::rc::Rc;

use super::count::{self, Event, Live};
use super::fold::fold;
use super::memo::{program_hash, same_program};
use super::metric::forward_program;
use crate::ops::Prim;
use crate::ops::graph::{Graph, NodeTag, RegionId, RegionKind, ValueId};
use crate::trace::{CallRecord, Recording};

/// Why a row falls back to costing its program.
type Why = &'static str;

/// What the run learnt about child programs, shared by every row's composition.
#[derive(Default)]
pub(crate) struct Compose {
    /// Per value of the trace, the node computing it (`u32::MAX` for none).
    producer: Vec<u32>,
    /// Distinct child programs by structural hash.
    by_hash: HashMap<u64, Vec<usize>>,
    blocks: Vec<Block>,
}

/// Whether rows with child calls take their `flops` from their children's programs (not
/// public API: the tests compare it with costing every row's program from scratch).
///
/// ```
/// use tabulate::__private::{Reuse, reuse_stats, set_reuse};
/// use tabulate::nn::{Dense, Sequential};
/// use tabulate::prelude::*;
///
/// set_reuse(Reuse::Check); // both ways, an error if they differ
/// let model = Sequential::new().push(Dense::new(4)).push(Dense::new(2));
/// let x = Tensor::new(DType::F32, [3, 5]);
/// tabulate(&model).compute_flops(true).run(|m| m.forward(&x))?;
/// assert_eq!(reuse_stats().composed, 1); // the root, from its two layers
/// # Ok::<(), tabulate::Error>(())
/// ```
#[doc(hidden)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Reuse {
    /// Composed where the preconditions hold (the default).
    #[default]
    On,
    /// Every row costed from its own program.
    Off,
    /// Both; a difference is an internal error naming the row.
    Check,
}

/// How many rows with child calls this thread's runs composed, and how many fell back to
/// costing their program (not public API).
#[doc(hidden)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReuseStats {
    /// Rows whose `flops` were composed from their children.
    pub composed: u64,
    /// Rows with children whose program was costed because a precondition failed.
    pub fallbacks: u64,
    /// Why the last of them fell back.
    pub last_fallback: Option<&'static str>,
}

thread_local! {
    static MODE: Cell<Reuse> = const { Cell::new(Reuse::Check) };
    static STATS: Cell<ReuseStats> = const {
        Cell::new(ReuseStats { composed: 0, fallbacks: 0, last_fallback: None })
    };
}

/// Sets how this thread's runs cost rows with child calls, and clears the counts.
#[doc(hidden)]
pub fn set_reuse(mode: Reuse) {
    MODE.set(mode);
    STATS.set(ReuseStats::default());
}

/// This thread's mode.
pub(crate) fn reuse() -> Reuse {
    MODE.get()
}

/// The counts since [`set_reuse`].
#[doc(hidden)]
pub fn reuse_stats() -> ReuseStats {
    STATS.get()
}

impl std::fmt::Debug for Compose {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Compose")
            .field("blocks", &self.blocks.len())
            .finish_non_exhaustive()
    }
}

/// A distinct child program, its liveness and the events of the entry orders asked.
struct Block {
    graph: Graph,
    live: Live,
    /// Per value: read by a live node or an output (for inputs: needed by the child).
    read: Vec<bool>,
    /// Whether its outputs keep folding inside it (see the module's preconditions).
    sealed: bool,
    orders: Vec<(Vec<usize>, Option<Rc<Vec<Vec<Event>>>>)>,
}

/// One child call inside the row being composed.
struct Child {
    block: usize,
    span: Range<u32>,
    /// Per value of the child's program that is an input: the trace value it stands for.
    inputs: HashMap<ValueId, ValueId>,
    /// The trace values of its outputs, by position.
    outputs: Vec<ValueId>,
    /// The positions of the outputs computed inside it, each trace value once.
    produced: Vec<usize>,
    /// The positions entered so far, in order, and the events of the current order.
    entered: Vec<usize>,
    order: Vec<usize>,
    events: Option<Rc<Vec<Vec<Event>>>>,
}

/// A step of the parent's DFS.
enum Step {
    /// A glue node (trace node `n`), `next` operands reached so far.
    Glue { n: u32, next: usize },
    /// Replaying child `child`'s events of its `entry`-th entry from event `pos`.
    Replay {
        child: usize,
        entry: usize,
        pos: usize,
    },
    /// The `Sharding` custom call of a typed key the row returns.
    Key,
}

impl Compose {
    /// The float32 flop total of `call`'s forward program, composed from the programs of
    /// its direct child calls; `None` when it has none or a precondition fails (the
    /// caller then costs the row's program itself).
    pub(crate) fn flops(&mut self, recording: &Recording, call: &CallRecord) -> Option<f32> {
        let index = index_of(recording, call)?;
        let children = direct_children(recording, index);
        if children.is_empty() {
            return None;
        }
        let total = if call.remat {
            Err("the row is checkpointed")
        } else {
            self.compose(recording, call, &children)
        };
        let mut stats = STATS.get();
        match total {
            Ok(_) => stats.composed += 1,
            Err(why) => {
                stats.fallbacks += 1;
                stats.last_fallback = Some(why);
            }
        }
        STATS.set(stats);
        total.ok()
    }

    fn compose(
        &mut self,
        recording: &Recording,
        call: &CallRecord,
        children: &[usize],
    ) -> Result<f32, Why> {
        let trace = &recording.graph;
        if self.producer.len() != trace.values.len() {
            self.producer = vec![u32::MAX; trace.values.len()];
            for (i, node) in trace.nodes.iter().enumerate() {
                let i = u32::try_from(i).map_err(|_| "too many nodes")?;
                for v in &node.outputs {
                    self.producer[v.0 as usize] = i;
                }
            }
        }
        let span = call.span.clone();
        let mut kids = Vec::with_capacity(children.len());
        for &c in children {
            kids.push(self.child(recording, &recording.calls[c]).ok_or("too many nodes")?);
        }
        if !top_level(trace, &span, &kids) {
            return Err("a nested computation holds a child or glue");
        }
        let glue = Glue::build(trace, &self.producer, &span, &kids)?;
        let variables = recording.variables_of(call);
        let mut outputs = call.results.clone();
        outputs.extend(variables.finals.iter().copied());
        let mut parent = Parent {
            trace,
            producer: &self.producer,
            span,
            glue,
            kids,
            keys_reached: Vec::new(),
        };
        parent.check_boundaries(&self.blocks)?;
        let live = parent.liveness(&self.blocks, &outputs)?;
        parent.sum(&mut self.blocks, &live, &outputs)
    }

    /// The child `call`: its program (shared with equal ones), where its inputs and
    /// outputs come from in the trace.
    fn child(&mut self, recording: &Recording, call: &CallRecord) -> Option<Child> {
        let variables = recording.variables_of(call);
        let graph = forward_program(recording, call, &variables);
        let trace = &recording.graph;
        let mut is_input = vec![false; graph.values.len()];
        for v in &graph.inputs {
            is_input[v.0 as usize] = true;
        }
        let mut inputs = HashMap::new();
        for (i, node) in graph.nodes.iter().enumerate() {
            let original = trace.node(call.span.start + u32::try_from(i).ok()?);
            for (&v, &t) in node.inputs.iter().zip(&original.inputs) {
                if is_input[v.0 as usize] {
                    inputs.insert(v, t);
                }
            }
        }
        let mut outputs = call.results.clone();
        outputs.extend(variables.finals.iter().copied());
        for (&v, &t) in graph.outputs.iter().zip(&outputs) {
            if is_input[v.0 as usize] {
                inputs.insert(v, t);
            }
        }
        let mut produced: Vec<usize> = Vec::new();
        for (p, &t) in outputs.iter().enumerate() {
            let made_inside = call.span.contains(&self.producer[t.0 as usize]);
            if made_inside && !produced.iter().any(|&q| outputs[q] == t) {
                produced.push(p);
            }
        }
        let block = self.block(graph);
        Some(Child {
            block,
            span: call.span.clone(),
            inputs,
            outputs,
            produced,
            entered: Vec::new(),
            order: Vec::new(),
            events: None,
        })
    }

    /// The index of the block equal to `graph`, added if new.
    fn block(&mut self, graph: Graph) -> usize {
        let hash = program_hash(&graph);
        let candidates = self.by_hash.entry(hash).or_default();
        if let Some(&b) = candidates
            .iter()
            .find(|&&b| same_program(&self.blocks[b].graph, &graph))
        {
            return b;
        }
        let live = count::live(&graph);
        let mut read = vec![false; graph.values.len()];
        for (node, &is_live) in graph.nodes.iter().zip(&live.live) {
            if is_live {
                for v in &node.inputs {
                    read[live.alias[v.0 as usize].0 as usize] = true;
                }
            }
        }
        let mut producer = vec![None; graph.values.len()];
        for (i, node) in graph.nodes.iter().enumerate() {
            for v in &node.outputs {
                producer[v.0 as usize] = Some(i);
            }
        }
        let mut sealed = true;
        for &o in &graph.outputs {
            let r = live.alias[o.0 as usize];
            read[r.0 as usize] = true;
            if let Some(p) = producer[r.0 as usize] {
                // Folded to a constant, or a `concatenate` a slice outside could see through.
                sealed &= live.live[p] && !matches!(graph.nodes[p].prim, Prim::Concatenate { .. });
            }
        }
        let b = self.blocks.len();
        candidates.push(b);
        self.blocks.push(Block {
            graph,
            live,
            read,
            sealed,
            orders: Vec::new(),
        });
        b
    }
}

/// The events of block `b` entered through its outputs at positions `order`.
fn events(blocks: &mut [Block], b: usize, order: &[usize]) -> Option<Rc<Vec<Vec<Event>>>> {
    let block = &mut blocks[b];
    if let Some((_, events)) = block.orders.iter().find(|(o, _)| o == order) {
        return events.clone();
    }
    let roots: Vec<ValueId> = order.iter().map(|&p| block.graph.outputs[p]).collect();
    let events = count::top_events(&block.graph, &block.live, &roots).map(|mut per_root| {
        // A term of 0 leaves a float32 sum as it is (sums start at +0 and stay finite).
        for events in &mut per_root {
            events.retain(|e| *e != Event::Term(0.0));
        }
        Rc::new(per_root)
    });
    block.orders.push((order.to_vec(), events.clone()));
    events
}

/// The index of `call` in the run's calls (it is one of them).
fn index_of(recording: &Recording, call: &CallRecord) -> Option<usize> {
    let base = recording.calls.as_ptr() as usize;
    let offset = (call as *const CallRecord as usize).checked_sub(base)?;
    let index = offset / std::mem::size_of::<CallRecord>().max(1);
    recording
        .calls
        .get(index)
        .filter(|c| std::ptr::eq(*c, call))
        .map(|_| index)
}

/// The calls directly inside call `index` (not inside another of them) with nodes.
fn direct_children(recording: &Recording, index: usize) -> Vec<usize> {
    let span = &recording.calls[index].span;
    let mut children = Vec::new();
    let mut end = span.start;
    for (i, c) in recording.calls.iter().enumerate().skip(index + 1) {
        if c.span.start >= span.end && !c.span.is_empty() {
            break;
        }
        if c.span.is_empty() || c.span.start < end || c.span.end > span.end {
            continue;
        }
        end = c.span.end;
        children.push(i);
    }
    children
}

/// Whether, in the row's program, the glue and each child are at the top level as far
/// as folding and counting see: every `call` or `while` region inside the row's span
/// lies inside one child (a region around the whole span is not part of the program).
fn top_level(trace: &Graph, span: &Range<u32>, kids: &[Child]) -> bool {
    let first = trace
        .regions
        .partition_point(|r| r.nodes.start < span.start);
    trace.regions[first.max(1)..]
        .iter()
        .take_while(|r| r.nodes.start < span.end)
        .all(|r| {
            r.nodes.end > span.end
                || !matches!(r.kind, RegionKind::Call(_) | RegionKind::Loop)
                || kids
                    .iter()
                    .any(|k| r.nodes.start >= k.span.start && r.nodes.end <= k.span.end)
        })
}

/// The row's own operations, copied into a graph of their own to fold them.
struct Glue {
    graph: Graph,
    /// Per trace node of the glue, its node in `graph`.
    node_of: HashMap<u32, usize>,
    /// Trace value → glue value, and back.
    value_of: HashMap<ValueId, ValueId>,
    trace_of: Vec<ValueId>,
    removed: Vec<bool>,
    alias: Vec<ValueId>,
    /// Trace nodes of the glue and the children, in emission order.
    items: Vec<Item>,
}

#[derive(Clone, Copy)]
enum Item {
    Node(u32),
    Child(usize),
}

impl Glue {
    fn build(
        trace: &Graph,
        producer: &[u32],
        span: &Range<u32>,
        kids: &[Child],
    ) -> Result<Glue, Why> {
        let mut glue = Glue {
            graph: Graph::default(),
            node_of: HashMap::new(),
            value_of: HashMap::new(),
            trace_of: Vec::new(),
            removed: Vec::new(),
            alias: Vec::new(),
            items: Vec::new(),
        };
        let mut n = span.start;
        let mut next_kid = 0;
        while n < span.end {
            if let Some(kid) = kids.get(next_kid)
                && kid.span.start == n
            {
                glue.items.push(Item::Child(next_kid));
                n = kid.span.end;
                next_kid += 1;
                continue;
            }
            let node = trace.node(n);
            let inputs: Vec<ValueId> = node
                .inputs
                .iter()
                .map(|&v| glue.value(trace, producer, span, kids, v))
                .collect::<Result<_, Why>>()?;
            let specs = node.outputs.iter().map(|&v| trace.spec(v).clone());
            let outs = glue
                .graph
                .push_node(node.prim.clone(), inputs, specs, RegionId::TOP, NodeTag::Plain);
            for (&t, g) in node.outputs.iter().zip(outs) {
                glue.value_of.insert(t, g);
                glue.trace_of.push(t);
            }
            glue.node_of.insert(n, glue.graph.nodes.len() - 1);
            glue.items.push(Item::Node(n));
            n += 1;
        }
        // The children's inputs and outputs are glue values too (liveness marks them).
        for kid in kids {
            for &t in kid.inputs.values().chain(&kid.outputs) {
                glue.value(trace, producer, span, kids, t)?;
            }
        }
        let folded = fold(&glue.graph);
        glue.removed = folded.removed;
        glue.alias = folded.alias;
        Ok(glue)
    }

    /// The glue value of trace value `t`: a glue node's output, or an input standing for a
    /// child's output or a value from outside the row. `None` for a value a child
    /// computes but does not return (it leaks).
    fn value(
        &mut self,
        trace: &Graph,
        producer: &[u32],
        span: &Range<u32>,
        kids: &[Child],
        t: ValueId,
    ) -> Result<ValueId, Why> {
        if let Some(&g) = self.value_of.get(&t) {
            return Ok(g);
        }
        let p = producer[t.0 as usize];
        if span.contains(&p) {
            let kid = kids
                .iter()
                .find(|k| k.span.contains(&p))
                .ok_or("a value is read before it is made")?;
            if !kid.outputs.contains(&t) {
                return Err("a value a child computes is read outside it");
            }
        }
        let g = self.graph.add_input(trace.spec(t).clone());
        self.value_of.insert(t, g);
        self.trace_of.push(t);
        Ok(g)
    }

    /// The trace value `t` stands for after folding the glue.
    fn resolve(&self, t: ValueId) -> ValueId {
        match self.value_of.get(&t) {
            Some(&g) => self.trace_of[self.alias[g.0 as usize].0 as usize],
            None => t,
        }
    }
}

/// The row being composed.
struct Parent<'a> {
    trace: &'a Graph,
    producer: &'a [u32],
    span: Range<u32>,
    glue: Glue,
    kids: Vec<Child>,
    keys_reached: Vec<ValueId>,
}

impl Parent<'_> {
    /// The child computing trace value `t`, if one does.
    fn kid_of(&self, t: ValueId) -> Option<usize> {
        let p = self.producer[t.0 as usize];
        if !self.span.contains(&p) {
            return None;
        }
        let i = self.kids.partition_point(|k| k.span.end <= p);
        self.kids.get(i).filter(|k| k.span.contains(&p)).map(|_| i)
    }

    /// Folding does not cross a child's boundary: its outputs stay what they are inside
    /// it, and the inputs it reads are neither constants nor `concatenate`s.
    fn check_boundaries(&self, blocks: &[Block]) -> Result<(), Why> {
        for kid in &self.kids {
            let block = &blocks[kid.block];
            if !block.sealed {
                return Err("a child's output is a constant or a concatenate");
            }
            for (&v, &t) in &kid.inputs {
                if !block.read[v.0 as usize] {
                    continue;
                }
                let r = self.glue.resolve(t);
                if let Some(g) = self.glue.value_of.get(&r)
                    && let Some(&n) = self.glue_node_of(*g)
                    && (self.glue.removed[n]
                        || matches!(self.glue.graph.nodes[n].prim, Prim::Concatenate { .. }))
                {
                    return Err("a child reads a constant or a concatenate");
                }
            }
        }
        Ok(())
    }

    /// The glue node computing glue value `g`.
    fn glue_node_of(&self, g: ValueId) -> Option<&usize> {
        let t = self.glue.trace_of[g.0 as usize];
        let p = self.producer[t.0 as usize];
        if self.kid_of(t).is_some() {
            return None;
        }
        self.glue.node_of.get(&p)
    }

    /// Which glue nodes the row's outputs need (children are needed whole or not at all).
    fn liveness(&self, blocks: &[Block], outputs: &[ValueId]) -> Result<Vec<bool>, Why> {
        let glue = &self.glue;
        let mut needed = vec![false; glue.graph.values.len()];
        let mark = |needed: &mut Vec<bool>, t: ValueId| {
            if let Some(&g) = glue.value_of.get(&t) {
                needed[glue.alias[g.0 as usize].0 as usize] = true;
            }
        };
        for &o in outputs {
            mark(&mut needed, o);
        }
        let mut live = vec![false; glue.graph.nodes.len()];
        for item in glue.items.iter().rev() {
            match *item {
                Item::Node(n) => {
                    let g = glue.node_of[&n];
                    let node = &glue.graph.nodes[g];
                    if glue.removed[g] || !node.outputs.iter().any(|v| needed[v.0 as usize]) {
                        continue;
                    }
                    live[g] = true;
                    for v in &node.inputs {
                        needed[glue.alias[v.0 as usize].0 as usize] = true;
                    }
                }
                Item::Child(k) => {
                    let kid = &self.kids[k];
                    let is_needed = |p: &usize| needed[glue.value_of[&kid.outputs[*p]].0 as usize];
                    let count = kid.produced.iter().filter(|p| is_needed(p)).count();
                    if count == 0 {
                        continue;
                    }
                    if count < kid.produced.len() {
                        return Err("the row needs only some of a child's outputs");
                    }
                    let read = &blocks[kid.block].read;
                    for (&v, &t) in &kid.inputs {
                        if read[v.0 as usize] {
                            mark(&mut needed, t);
                        }
                    }
                }
            }
        }
        Ok(live)
    }

    /// XLA's DFS over the row's program, each child replayed from its events.
    fn sum(
        &mut self,
        blocks: &mut [Block],
        live: &[bool],
        outputs: &[ValueId],
    ) -> Result<f32, Why> {
        let mut total = 0.0f32;
        let mut done = vec![false; self.glue.graph.nodes.len()];
        let mut stack: Vec<Step> = Vec::new();
        for &o in outputs {
            if self.trace.keys.contains(&o) && self.span.contains(&self.producer[o.0 as usize]) {
                stack.push(Step::Key);
            }
            self.reach(blocks, o, live, &mut done, &mut stack, &mut total)?;
            while let Some(step) = stack.last_mut() {
                let reached = match step {
                    Step::Glue { n, next } => {
                        let node = self.trace.node(*n);
                        if let Some(&input) = node.inputs.get(*next) {
                            *next += 1;
                            Some(input)
                        } else {
                            let (terms, _) = count::terms(self.trace, node);
                            for term in terms {
                                total += term.value();
                            }
                            stack.pop();
                            None
                        }
                    }
                    Step::Replay { child, entry, pos } => {
                        let kid = &self.kids[*child];
                        let list = &kid.events.as_ref().ok_or("no events")?[*entry];
                        let mut reached = None;
                        while let Some(&event) = list.get(*pos) {
                            *pos += 1;
                            match event {
                                Event::Term(t) => total += t,
                                Event::Input(v) => {
                                    reached =
                                        Some(*kid.inputs.get(&v).ok_or("an unknown input")?);
                                    break;
                                }
                            }
                        }
                        if reached.is_none() {
                            stack.pop();
                        }
                        reached
                    }
                    Step::Key => {
                        total += -1.0;
                        stack.pop();
                        None
                    }
                };
                if let Some(t) = reached {
                    self.reach(blocks, t, live, &mut done, &mut stack, &mut total)?;
                }
            }
        }
        Ok(total)
    }

    /// Reaches trace value `t`: pushes what visiting it starts (a glue node, a child's
    /// entry) or scores a typed key input at its first reach.
    fn reach(
        &mut self,
        blocks: &mut [Block],
        t: ValueId,
        live: &[bool],
        done: &mut [bool],
        stack: &mut Vec<Step>,
        total: &mut f32,
    ) -> Result<(), Why> {
        let t = self.glue.resolve(t);
        let p = self.producer[t.0 as usize];
        if !self.span.contains(&p) {
            if self.trace.keys.contains(&t) && !self.keys_reached.contains(&t) {
                self.keys_reached.push(t);
                *total += -1.0;
            }
            return Ok(());
        }
        if let Some(k) = self.kid_of(t) {
            let kid = &mut self.kids[k];
            let position = kid
                .outputs
                .iter()
                .position(|&o| o == t)
                .ok_or("a value a child computes is read outside it")?;
            if kid.entered.contains(&position) {
                return Ok(());
            }
            let entry = kid.entered.len();
            kid.entered.push(position);
            if kid.order.get(entry) != Some(&position) {
                let mut order = kid.entered.clone();
                order.extend(kid.produced.iter().filter(|p| !kid.entered.contains(p)));
                kid.events = Some(
                    events(blocks, kid.block, &order)
                        .ok_or("a child has a loop at its top level or returns a key it makes")?,
                );
                kid.order = order;
            }
            stack.push(Step::Replay {
                child: k,
                entry,
                pos: 0,
            });
            return Ok(());
        }
        let g = *self.glue.node_of.get(&p).ok_or("a value from nowhere")?;
        if !done[g] && live[g] && !self.glue.removed[g] {
            done[g] = true;
            stack.push(Step::Glue { n: p, next: 0 });
        }
        Ok(())
    }
}
