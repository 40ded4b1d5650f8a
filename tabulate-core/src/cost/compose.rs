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
use super::memo::{Canonical, SpanProgram};
use super::metric::{forward_program, program_inputs, program_outputs};
use super::program;
use super::vjp;
use crate::ops::Prim;
use crate::ops::graph::{Graph, Region, RegionId, RegionKind, ValueId};
use crate::trace::{CallRecord, CallVariables, Recording};

/// Below this many nodes per child on average, a row is counted, not composed.
const SMALL_CHILD: usize = 16;

/// Why a row falls back to costing its program.
type Why = &'static str;

/// A row's children and glue, or why they cannot be composed.
type Prepared = Result<(Vec<Child>, Glue), Why>;

/// A child's part of a VJP program for one pattern of incoming cotangents.
type Variant = (Vec<bool>, Result<Rc<PieceRun>, Why>);

/// What the run learnt about child programs, shared by every row's composition.
#[derive(Default)]
pub(crate) struct Compose {
    /// Per value of the trace, the node computing it (`u32::MAX` for none).
    producer: Vec<u32>,
    /// Distinct child programs by the structural hash of the span they were first met
    /// as, read in place (the memo's [`Canonical`] form): an equal span is matched
    /// without extracting it.
    by_form: HashMap<u64, Vec<(Canonical, usize)>>,
    blocks: Vec<Block>,
    /// By call index: the block of the child calls met so far.
    block_of: HashMap<usize, usize>,
    /// By call index: child programs extracted for a parent (with the call's variables),
    /// until their row takes them.
    programs: HashMap<usize, (Option<Graph>, CallVariables)>,
    /// The children and glue of the row composed last, by its call index.
    prepared: Option<(usize, Prepared)>,
    /// The span lengths of the calls whose programs are blocks.
    block_sizes: std::collections::HashSet<usize>,
    /// Whether composing the row asked last is worth it, by its call index.
    worth: Option<(usize, bool)>,
    /// By call index: the in-place forms of child programs read to decide that, until
    /// the child is met.
    forms: HashMap<usize, Option<(u64, Canonical)>>,
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
/// let model = Sequential::new().then(Dense::new(4)).then(Dense::new(2));
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
    /// Rows whose `vjp_flops` were composed from their children.
    pub vjp_composed: u64,
    /// Rows with children whose VJP program was costed because a precondition failed.
    pub vjp_fallbacks: u64,
    /// Why the last of them fell back.
    pub last_vjp_fallback: Option<&'static str>,
}

thread_local! {
    static MODE: Cell<Option<Reuse>> = const { Cell::new(None) };
    static STATS: Cell<ReuseStats> = const {
        Cell::new(ReuseStats {
            composed: 0,
            fallbacks: 0,
            last_fallback: None,
            vjp_composed: 0,
            vjp_fallbacks: 0,
            last_vjp_fallback: None,
        })
    };
    static REASONS: std::cell::RefCell<Vec<(&'static str, &'static str, u64)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// Counts one fallback of `column` for `why`.
fn note_fallback(column: &'static str, why: Why) {
    REASONS.with_borrow_mut(|reasons| {
        if let Some(r) = reasons.iter_mut().find(|r| r.0 == column && r.1 == why) {
            r.2 += 1;
        } else {
            reasons.push((column, why, 1));
        }
    });
}

/// Every fallback since [`set_reuse`]: per column (`"flops"`, `"vjp_flops"`) and
/// reason, how many rows fell back (not public API).
///
/// ```
/// use tabulate::__private::{Reuse, fallback_reasons, set_reuse};
/// set_reuse(Reuse::On);
/// assert!(fallback_reasons().is_empty());
/// ```
#[doc(hidden)]
pub fn fallback_reasons() -> Vec<(&'static str, &'static str, u64)> {
    REASONS.with_borrow(Clone::clone)
}

/// Sets how this thread's runs cost rows with child calls, and clears the counts.
#[doc(hidden)]
pub fn set_reuse(mode: Reuse) {
    MODE.set(Some(mode));
    STATS.set(ReuseStats::default());
    REASONS.with_borrow_mut(Vec::clear);
}

/// This thread's mode: what [`set_reuse`] set, else the environment's.
pub(crate) fn reuse() -> Reuse {
    MODE.get().unwrap_or_else(env_reuse)
}

/// The mode the environment variable `TABULATE_REUSE` asks for (`on`, `off`, `check`;
/// read once per process; anything else is `on`): `TABULATE_REUSE=check cargo test`
/// costs every composed row both ways and fails on a difference.
fn env_reuse() -> Reuse {
    static ENV: std::sync::OnceLock<Reuse> = std::sync::OnceLock::new();
    *ENV.get_or_init(|| match std::env::var("TABULATE_REUSE").as_deref() {
        Ok("check") => Reuse::Check,
        Ok("off") => Reuse::Off,
        _ => Reuse::On,
    })
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
    /// Each input read by a node or returned, with the first place it is.
    sites: Vec<(ValueId, Site)>,
    /// Per value: its index in `sites` (`u32::MAX` for none).
    site_of: Vec<u32>,
    orders: Vec<(Vec<usize>, Option<Events>)>,
    /// Its shape as a part of its parent's VJP program, once asked.
    shape: Option<Result<Rc<vjp::PieceShape>, Why>>,
    /// Its parts of VJP programs, per pattern of incoming cotangents.
    pieces: Vec<Variant>,
}

/// Per entry of a child (in an order), its events.
type Events = Rc<Vec<Vec<Event>>>;

/// Where a program reads an input: operand `k` of node `n`, or output `p`.
#[derive(Clone, Copy)]
enum Site {
    Node(u32, usize),
    Output(usize),
}

/// One child call inside the row being composed.
struct Child {
    block: usize,
    span: Range<u32>,
    /// Each input of the child's program it reads or returns (its block's `sites`
    /// order), with the trace value it stands for.
    inputs: Vec<(ValueId, ValueId)>,
    /// The trace values of its outputs, by position.
    outputs: Vec<ValueId>,
    /// The positions of the outputs computed inside it, each trace value once.
    produced: Vec<usize>,
    /// The positions entered so far, in order, and the events of the current order.
    entered: Vec<usize>,
    order: Vec<usize>,
    events: Option<Rc<Vec<Vec<Event>>>>,
}

impl Child {
    /// Whether the child's program reads its input `v` (or returns it).
    fn reads(&self, blocks: &[Block], v: ValueId) -> bool {
        blocks[self.block].read[v.0 as usize]
    }
}

impl Compose {
    /// The float32 flop total of `call`'s forward program, composed from the programs of
    /// its direct child calls; `None` when it has none or a precondition fails (the
    /// caller then costs the row's program itself).
    pub(crate) fn flops(
        &mut self,
        recording: &Recording,
        call: &CallRecord,
        variables: &CallVariables,
    ) -> Option<f32> {
        let index = index_of(recording, call)?;
        let children = direct_children(recording, index);
        if children.is_empty() {
            return None;
        }
        if reuse() != Reuse::Check && !self.worth_composing(recording, index, &children) {
            return None;
        }
        // A checkpointed row's own `remat` region is transparent to folding and counting,
        // as every region but `call`s and `while`s is.
        let total = self.compose(recording, call, variables, (index, &children));
        let mut stats = STATS.get();
        match total {
            Ok(_) => stats.composed += 1,
            Err(why) => {
                stats.fallbacks += 1;
                stats.last_fallback = Some(why);
                note_fallback("flops", why);
            }
        }
        STATS.set(stats);
        total.ok()
    }

    /// The float32 flop total of `call`'s VJP program, composed from its direct child
    /// calls' parts of it (see [`vjp::glue_vjp`]); `None` when it has none or a
    /// precondition fails (the caller then costs the row's VJP program itself).
    pub(crate) fn vjp_flops(
        &mut self,
        recording: &Recording,
        call: &CallRecord,
        variables: &CallVariables,
    ) -> Option<f32> {
        let index = index_of(recording, call)?;
        let children = direct_children(recording, index);
        if children.is_empty() {
            return None;
        }
        if reuse() != Reuse::Check && !self.worth_composing(recording, index, &children) {
            return None;
        }
        let total = self.compose_vjp(recording, call, variables, (index, &children));
        let mut stats = STATS.get();
        match total {
            Ok(_) => stats.vjp_composed += 1,
            Err(why) => {
                stats.vjp_fallbacks += 1;
                stats.last_vjp_fallback = Some(why);
                note_fallback("vjp_flops", why);
            }
        }
        STATS.set(stats);
        total.ok()
    }

    /// Whether composing row `index` from `children` saves work (a matter of speed only:
    /// both ways are exact, and `Reuse::Check` composes every row). Composing costs a few
    /// microseconds per child, as much as counting its nodes in the row's program: rows
    /// of small children (a stack of tiny layers) are counted directly. And it saves work
    /// only where a child program was met before or repeats among the children (GPT-2's
    /// blocks): a row of distinct children (a chain nested N deep) would build a part
    /// for each, as much work as its program and kept for the run.
    fn worth_composing(&mut self, recording: &Recording, index: usize, children: &[usize]) -> bool {
        if let Some((i, worth)) = self.worth
            && i == index
        {
            return worth;
        }
        let in_children: usize = children
            .iter()
            .map(|&c| recording.calls[c].span.len())
            .sum();
        let worth = in_children >= SMALL_CHILD * children.len() && {
            let mut met: Vec<(u64, usize)> = Vec::new();
            let mut repeated = false;
            // Only spans as long as another child's or a known block's can repeat.
            let len = |c: usize| recording.calls[c].span.len();
            for &c in children {
                if self.block_of.contains_key(&c) {
                    repeated = true;
                    break;
                }
                let twin = children.iter().any(|&d| d != c && len(d) == len(c));
                if !twin && !self.block_sizes.contains(&len(c)) {
                    continue;
                }
                self.note_form(recording, c);
                let Some((hash, form)) = self.forms[&c].as_ref() else {
                    continue;
                };
                let hash = *hash;
                let trace = &recording.graph;
                let known = self
                    .by_form
                    .get(&hash)
                    .is_some_and(|forms| forms.iter().any(|(other, _)| other.same(form, trace)));
                let twice = met.iter().any(|&(h, other)| {
                    h == hash
                        && self.forms[&other]
                            .as_ref()
                            .is_some_and(|(_, f)| f.same(form, trace))
                });
                if known || twice {
                    repeated = true;
                    break;
                }
                met.push((hash, c));
            }
            repeated
        };
        if !worth {
            for c in children {
                self.forms.remove(c);
            }
        }
        self.worth = Some((index, worth));
        worth
    }

    /// The memo's in-place form of child call `c`'s program and its hash, computed once
    /// (its variables wait for the call's row).
    fn note_form(&mut self, recording: &Recording, c: usize) {
        if let std::collections::hash_map::Entry::Vacant(entry) = self.forms.entry(c) {
            let call = &recording.calls[c];
            let variables = recording.variables_of(call);
            let outputs = program_outputs(call, &variables);
            let inputs = program_inputs(call, &variables);
            let trace = &recording.graph;
            let form = Canonical::of(&SpanProgram {
                graph: trace,
                span: call.span.clone(),
                inputs: &inputs,
                outputs: &outputs,
                remat: call.remat,
            })
            .map(|form| (form.digest(trace), form));
            entry.insert(form);
            self.programs.insert(c, (None, variables));
        }
    }

    /// Per value of the trace, the node computing it.
    fn note_producers(&mut self, trace: &Graph) -> Result<(), Why> {
        if self.producer.len() != trace.values.len() {
            self.producer = vec![u32::MAX; trace.values.len()];
            for (i, node) in trace.nodes.iter().enumerate() {
                let i = u32::try_from(i).map_err(|_| "too many nodes")?;
                for v in &node.outputs {
                    self.producer[v.0 as usize] = i;
                }
            }
        }
        Ok(())
    }

    fn compose_vjp(
        &mut self,
        recording: &Recording,
        call: &CallRecord,
        variables: &CallVariables,
        (index, children): (usize, &[usize]),
    ) -> Result<f32, Why> {
        if call.remat {
            return Err("the row is checkpointed");
        }
        if children.iter().any(|&c| recording.calls[c].remat) {
            return Err("a child is checkpointed");
        }
        let (kids, glue) = self.prepared(recording, call, variables, (index, children))?;
        let total = self.vjp_total(recording, call, variables, &kids, &glue);
        self.prepared = Some((index, Ok((kids, glue))));
        total
    }

    fn vjp_total(
        &mut self,
        recording: &Recording,
        call: &CallRecord,
        variables: &CallVariables,
        kids: &[Child],
        glue: &Glue,
    ) -> Result<f32, Why> {
        let trace = &recording.graph;
        flat_row(trace, &call.span, kids)?;
        glue.check_boundaries(kids, &self.blocks)?;
        if glue
            .graph
            .regions
            .iter()
            .any(|r| r.kind == RegionKind::Loop)
        {
            return Err("the row's own operations hold a loop");
        }
        let inputs = row_inputs(glue, kids, &self.blocks, &program_inputs(call, variables))?;
        let mut opaque = Vec::with_capacity(kids.len());
        let mut shapes = Vec::with_capacity(kids.len());
        for kid in kids {
            let shape = self.shape(kid.block)?;
            let block = &self.blocks[kid.block];
            let mut reads = Vec::with_capacity(block.graph.inputs.len());
            for v in &block.graph.inputs {
                let site = block.site_of[v.0 as usize] as usize;
                let &(_, t) = kid
                    .inputs
                    .get(site)
                    .ok_or("a child's input is never read")?;
                reads.push(glue.value_of[&t]);
            }
            if shape.produced.len() != kid.produced.len()
                || shape
                    .produced
                    .iter()
                    .zip(&kid.produced)
                    .any(|(a, &b)| a.0 != b)
            {
                return Err("a child's computed results differ from its program's");
            }
            let produced = shape
                .produced
                .iter()
                .map(|&(p, tangent)| (glue.value_of[&kid.outputs[p]], tangent))
                .collect();
            opaque.push(vjp::Opaque {
                reads,
                produced,
                own: shape.own(),
            });
            shapes.push(shape);
        }
        let items: Vec<vjp::GlueItem> = glue
            .items
            .iter()
            .map(|item| match *item {
                Item::Node(n) => vjp::GlueItem::Node(n),
                Item::Child(k) => vjp::GlueItem::Kid(k),
            })
            .collect();
        let mut variants = PieceVariants {
            blocks: &mut self.blocks,
            kids,
            shapes: &shapes,
            chosen: vec![None; kids.len()],
            failed: None,
        };
        let built = vjp::glue_vjp(
            &glue.graph,
            (&inputs, &glue.outputs),
            &items,
            &opaque,
            &mut variants,
        );
        let (chosen, failed) = (variants.chosen, variants.failed);
        let mut built = built.map_err(|why| failed.unwrap_or(why))?;
        let folded = fold(&built.program);
        let (mut runs, owner) = runs_of(&built, chosen, &folded)?;
        let roots = built.program.outputs.clone();
        let live = glue_liveness(&mut built.program, &folded, &runs, &owner)?;
        let mut replayer = VjpReplayer {
            runs: &mut runs,
            owner: &owner,
        };
        let total = count::sum_with_pieces(
            &built.program,
            (&folded.alias, &live, &folded.producer),
            &roots,
            &mut replayer,
        );
        // A part with nested computations is what its own program makes of it only when
        // the row needs all of it (which calls' operands and results are live).
        if runs
            .iter()
            .any(|run| run.piece.nested && run.entered.iter().any(|&e| !e))
        {
            return Err("the row's VJP needs only some of a child's part");
        }
        Ok(total)
    }

    /// The shape of block `b`'s program as a part of a VJP program, built once.
    fn shape(&mut self, b: usize) -> Result<Rc<vjp::PieceShape>, Why> {
        let block = &mut self.blocks[b];
        if block.shape.is_none() {
            block.shape = Some(vjp::piece_shape(&block.graph).map(Rc::new));
        }
        block.shape.clone().unwrap_or(Err("no shape"))
    }

    fn compose(
        &mut self,
        recording: &Recording,
        call: &CallRecord,
        variables: &CallVariables,
        (index, children): (usize, &[usize]),
    ) -> Result<f32, Why> {
        let (mut kids, glue) = self.prepared(recording, call, variables, (index, children))?;
        let outputs = program_outputs(call, variables);
        let total = forward_total(&mut self.blocks, &mut kids, &glue, &outputs);
        self.prepared = Some((index, Ok((kids, glue))));
        total
    }

    /// The row's children and glue: built once for both FLOP columns (kept until the
    /// other column asks for them).
    fn prepared(
        &mut self,
        recording: &Recording,
        call: &CallRecord,
        variables: &CallVariables,
        (index, children): (usize, &[usize]),
    ) -> Result<(Vec<Child>, Glue), Why> {
        if let Some((i, ready)) = self.prepared.take()
            && i == index
        {
            return ready;
        }
        let ready = self.prepare(recording, call, variables, children);
        if let Err(why) = ready {
            self.prepared = Some((index, Err(why)));
        }
        ready
    }

    fn prepare(
        &mut self,
        recording: &Recording,
        call: &CallRecord,
        variables: &CallVariables,
        children: &[usize],
    ) -> Result<(Vec<Child>, Glue), Why> {
        let trace = &recording.graph;
        self.note_producers(trace)?;
        let mut kids = Vec::with_capacity(children.len());
        for &c in children {
            kids.push(self.child(recording, c)?);
        }
        let outputs = program_outputs(call, variables);
        let glue = Glue::build(
            trace,
            &self.producer,
            &call.span,
            &kids,
            &self.blocks,
            &outputs,
        )?;
        Ok((kids, glue))
    }

    /// The child call `index`: its program (shared with equal ones), where its inputs
    /// and outputs come from in the trace. Its program waits for its own row.
    fn child(&mut self, recording: &Recording, index: usize) -> Result<Child, Why> {
        let call = &recording.calls[index];
        let variables = match self.programs.remove(&index) {
            Some((None, variables)) => variables,
            Some(waiting) => {
                // Met again before its row: its program waits on.
                self.programs.insert(index, waiting);
                recording.variables_of(call)
            }
            None => recording.variables_of(call),
        };
        let outputs = program_outputs(call, &variables);
        let trace = &recording.graph;
        let block = if let Some(&b) = self.block_of.get(&index) {
            b
        } else {
            let inputs = program_inputs(call, &variables);
            let form = self.forms.remove(&index).unwrap_or_else(|| {
                Canonical::of(&SpanProgram {
                    graph: trace,
                    span: call.span.clone(),
                    inputs: &inputs,
                    outputs: &outputs,
                    remat: call.remat,
                })
                .map(|form| (form.digest(trace), form))
            });
            let known = form.as_ref().and_then(|(hash, form)| {
                self.by_form
                    .get(hash)?
                    .iter()
                    .find(|(other, _)| other.same(form, trace))
                    .map(|&(_, b)| b)
            });
            let b = if let Some(b) = known {
                b
            } else {
                // A span whose form cannot be read in place gets a block of its own.
                let graph = forward_program(recording, call, &inputs, &outputs);
                let b = self.block(&graph);
                self.block_sizes.insert(call.span.len());
                if let Some((hash, form)) = form {
                    self.by_form.entry(hash).or_default().push((form, b));
                }
                self.programs
                    .insert(index, (Some(graph), CallVariables::default()));
                b
            };
            self.block_of.insert(index, b);
            b
        };
        let mut inputs = Vec::with_capacity(self.blocks[block].sites.len());
        for &(v, site) in &self.blocks[block].sites {
            let t = match site {
                Site::Node(n, k) => {
                    let n = call.span.start.checked_add(n).ok_or("too many nodes")?;
                    trace.node(n).inputs[k]
                }
                Site::Output(p) => outputs[p],
            };
            inputs.push((v, t));
        }
        let mut produced: Vec<usize> = Vec::new();
        for (p, &t) in outputs.iter().enumerate() {
            let made_inside = call.span.contains(&self.producer[t.0 as usize]);
            if made_inside && !produced.iter().any(|&q| outputs[q] == t) {
                produced.push(p);
            }
        }
        // The call's variables (and its program, if extracted) wait for its row.
        self.programs
            .entry(index)
            .or_insert((None, CallVariables::default()))
            .1 = variables;
        Ok(Child {
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

    /// The variables of `call`'s row and its program, if they were found when its
    /// parent was composed (each is handed over once).
    pub(crate) fn take_program(
        &mut self,
        recording: &Recording,
        call: &CallRecord,
    ) -> Option<(Option<Graph>, CallVariables)> {
        index_of(recording, call).and_then(|i| self.programs.remove(&i))
    }

    /// XLA's flop total of `call`'s `program` costed on its own (folded and pruned once
    /// per distinct child program).
    pub(crate) fn count(&self, recording: &Recording, call: &CallRecord, program: &Graph) -> u64 {
        match index_of(recording, call).and_then(|i| self.block_of.get(&i)) {
            Some(&b) => count::count_live(program, &self.blocks[b].live).flops,
            None => count::count(program).flops,
        }
    }

    /// A new block of `graph`: its liveness, where it reads its inputs, whether it is
    /// sealed.
    fn block(&mut self, graph: &Graph) -> usize {
        let live = count::live(graph);
        let mut read = vec![false; graph.values.len()];
        for (node, &is_live) in graph.nodes.iter().zip(&live.kept) {
            if is_live {
                for v in &node.inputs {
                    read[live.alias[v.0 as usize].0 as usize] = true;
                }
            }
        }
        let mut sealed = true;
        for &o in &graph.outputs {
            let r = live.alias[o.0 as usize];
            read[r.0 as usize] = true;
            if let Some(p) = live.producer[r.0 as usize] {
                // Folded to a constant, or a `concatenate` a slice outside could see through.
                sealed &= live.kept[p] && !matches!(graph.nodes[p].prim, Prim::Concatenate { .. });
            }
        }
        // Where each input is first read: the same places in every equal program.
        let mut sites = Vec::new();
        let mut seen = vec![false; graph.values.len()];
        for v in &graph.inputs {
            seen[v.0 as usize] = true;
        }
        for (i, node) in graph.nodes.iter().enumerate() {
            for (k, v) in node.inputs.iter().enumerate() {
                if std::mem::take(&mut seen[v.0 as usize]) {
                    sites.push((*v, Site::Node(u32::try_from(i).unwrap_or(u32::MAX), k)));
                }
            }
        }
        for (p, v) in graph.outputs.iter().enumerate() {
            if std::mem::take(&mut seen[v.0 as usize]) {
                sites.push((*v, Site::Output(p)));
            }
        }
        let mut site_of = vec![u32::MAX; graph.values.len()];
        for (i, &(v, _)) in sites.iter().enumerate() {
            site_of[v.0 as usize] = u32::try_from(i).unwrap_or(u32::MAX);
        }
        let b = self.blocks.len();
        self.blocks.push(Block {
            graph: graph.clone(),
            live,
            sites,
            site_of,
            read,
            sealed,
            orders: Vec::new(),
            shape: None,
            pieces: Vec::new(),
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
    let offset = (std::ptr::from_ref(call) as usize).checked_sub(base)?;
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

/// The row's program with each child call left out: its own operations (and their
/// `call` and `while` regions), each child's outputs as inputs. Folded like the row's
/// program: across no boundary, given the preconditions.
struct Glue {
    graph: Graph,
    /// Trace value → glue value, and back.
    value_of: HashMap<ValueId, ValueId>,
    trace_of: Vec<ValueId>,
    /// Per glue value that is an input, the child whose output it is.
    kid_of: HashMap<ValueId, usize>,
    removed: Vec<bool>,
    alias: Vec<ValueId>,
    /// The node computing each glue value (`None` for inputs).
    producer: Vec<Option<usize>>,
    /// The glue's nodes (by index) and the children, in emission order.
    items: Vec<Item>,
    /// The row's outputs, as glue values.
    outputs: Vec<ValueId>,
}

#[derive(Clone, Copy)]
enum Item {
    Node(usize),
    Child(usize),
}

impl Glue {
    fn build(
        trace: &Graph,
        producer: &[u32],
        span: &Range<u32>,
        kids: &[Child],
        blocks: &[Block],
        outputs: &[ValueId],
    ) -> Result<Glue, Why> {
        let mut glue = Glue {
            graph: Graph::default(),
            value_of: HashMap::new(),
            trace_of: Vec::new(),
            kid_of: HashMap::new(),
            removed: Vec::new(),
            alias: Vec::new(),
            producer: Vec::new(),
            items: Vec::new(),
            outputs: Vec::new(),
        };
        // Trace region → glue region, for the `call` and `while` regions inside the span
        // (the only kinds folding and counting tell apart); others are transparent.
        let mut regions: HashMap<RegionId, RegionId> = HashMap::new();
        let mut n = span.start;
        let mut next_kid = 0;
        while n < span.end {
            if let Some(kid) = kids.get(next_kid)
                && kid.span.start == n
            {
                if in_nested(trace, span, &kid.span) {
                    return Err("a nested computation holds a child");
                }
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
            let region = glue.region(trace, span, &mut regions, node.region);
            let specs = node.outputs.iter().map(|&v| trace.spec(v).clone());
            let outs = glue
                .graph
                .push_node(node.prim.clone(), inputs, specs, region, node.tag);
            for (&t, g) in node.outputs.iter().zip(outs) {
                glue.value_of.insert(t, g);
                glue.trace_of.push(t);
            }
            let end = u32::try_from(glue.graph.nodes.len()).map_err(|_| "too many nodes")?;
            let mut r = region;
            while r != RegionId::TOP {
                let copy = &mut glue.graph.regions[r.0 as usize];
                copy.nodes.end = end;
                r = copy.parent;
            }
            glue.items.push(Item::Node(glue.graph.nodes.len() - 1));
            n += 1;
        }
        glue.finish_regions(trace, producer, span, kids, &regions)?;
        glue.outputs = outputs
            .iter()
            .map(|&t| glue.value(trace, producer, span, kids, t))
            .collect::<Result<_, Why>>()?;
        // What the children read are uses outside the glue's regions (a `call`'s results
        // are the values used outside it): outputs of the glue after the row's own.
        glue.graph.outputs.clone_from(&glue.outputs);
        for (k, kid) in kids.iter().enumerate() {
            for &t in &kid.outputs {
                let g = glue.value(trace, producer, span, kids, t)?;
                if kid.span.contains(&producer[t.0 as usize]) {
                    glue.kid_of.insert(g, k);
                }
            }
            for &(v, t) in &kid.inputs {
                let g = glue.value(trace, producer, span, kids, t)?;
                if kid.reads(blocks, v) {
                    glue.graph.outputs.push(g);
                }
            }
        }
        glue.note_keys(trace, outputs);
        let folded = fold(&glue.graph);
        glue.removed = folded.removed;
        glue.alias = folded.alias;
        glue.producer = folded.producer;
        Ok(glue)
    }

    /// Gives the copied regions their inputs, outputs and literal scopes.
    fn finish_regions(
        &mut self,
        trace: &Graph,
        producer: &[u32],
        span: &Range<u32>,
        kids: &[Child],
        regions: &HashMap<RegionId, RegionId>,
    ) -> Result<(), Why> {
        let copied: Vec<(RegionId, RegionId)> = regions
            .iter()
            .filter(|&(&old, _)| is_copied(trace, span, old))
            .map(|(&old, &new)| (old, new))
            .collect();
        for &(old, new) in &copied {
            let r = trace.region(old);
            let inputs = r
                .inputs
                .iter()
                .map(|&v| self.value(trace, producer, span, kids, v))
                .collect::<Result<_, Why>>()?;
            let outs = r
                .outputs
                .iter()
                .map(|&v| self.value(trace, producer, span, kids, v))
                .collect::<Result<_, Why>>()?;
            let literals_of = r.literals_of.and_then(|l| regions.get(&l).copied());
            let copy = &mut self.graph.regions[new.0 as usize];
            copy.inputs = inputs;
            copy.outputs = outs;
            copy.literals_of = literals_of;
        }
        Ok(())
    }

    /// The typed keys of the glue: the row's inputs that are keys, and keys it returns
    /// (made by its own operations: a child returning a key it makes does not compose).
    fn note_keys(&mut self, trace: &Graph, outputs: &[ValueId]) {
        for &g in &self.graph.inputs {
            let t = self.trace_of[g.0 as usize];
            if trace.keys.contains(&t) && !self.kid_of.contains_key(&g) {
                self.graph.keys.push(g);
            }
        }
        for &t in outputs {
            let g = self.value_of[&t];
            if trace.keys.contains(&t)
                && !self.graph.keys.contains(&g)
                && !self.graph.inputs.contains(&g)
            {
                self.graph.keys.push(g);
            }
        }
    }

    /// The copy of trace region `r` for a node inside `span`: its nearest `call` or
    /// `while` ancestor inside the span, copied once, or the top.
    fn region(
        &mut self,
        trace: &Graph,
        span: &Range<u32>,
        regions: &mut HashMap<RegionId, RegionId>,
        r: RegionId,
    ) -> RegionId {
        if r == RegionId::TOP {
            return RegionId::TOP;
        }
        if let Some(&copy) = regions.get(&r) {
            return copy;
        }
        let original = trace.region(r);
        let parent = self.region(trace, span, regions, original.parent);
        if !is_copied(trace, span, r) {
            regions.insert(r, parent);
            return parent;
        }
        let start = u32::try_from(self.graph.nodes.len()).unwrap_or(u32::MAX);
        let id = RegionId(u32::try_from(self.graph.regions.len()).unwrap_or(u32::MAX));
        self.graph.regions.push(Region {
            kind: original.kind.clone(),
            parent,
            literals_of: None,
            nodes: start..start,
            inputs: Vec::new(),
            outputs: Vec::new(),
        });
        regions.insert(r, id);
        id
    }

    /// The glue value of trace value `t`: a glue node's output, or an input standing for a
    /// child's output or a value from outside the row. An error for a value a child
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
            // The children are in emission order, their spans disjoint.
            let kid = kids
                .get(kids.partition_point(|k| k.span.end <= p))
                .filter(|k| k.span.contains(&p))
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

    /// Folding does not cross a child's boundary: its outputs stay what they are inside
    /// it, and the inputs it reads are neither constants nor `concatenate`s.
    fn check_boundaries(&self, kids: &[Child], blocks: &[Block]) -> Result<(), Why> {
        let mut producer: Vec<Option<usize>> = vec![None; self.graph.values.len()];
        for (i, node) in self.graph.nodes.iter().enumerate() {
            for v in &node.outputs {
                producer[v.0 as usize] = Some(i);
            }
        }
        for kid in kids {
            if !blocks[kid.block].sealed {
                return Err("a child's output is a constant or a concatenate");
            }
            for &(v, t) in &kid.inputs {
                if !kid.reads(blocks, v) {
                    continue;
                }
                let g = self.alias[self.value_of[&t].0 as usize];
                if let Some(n) = producer[g.0 as usize]
                    && (self.removed[n]
                        || matches!(self.graph.nodes[n].prim, Prim::Concatenate { .. }))
                {
                    return Err("a child reads a constant or a concatenate");
                }
            }
        }
        Ok(())
    }

    /// The live glue nodes: what the row's outputs need, walking back in emission order.
    /// A child is needed whole or not at all (else the row prunes part of it).
    fn liveness(&self, kids: &[Child], blocks: &[Block]) -> Result<Vec<bool>, Why> {
        let mut needed = vec![false; self.graph.values.len()];
        for &o in &self.outputs {
            needed[self.alias[o.0 as usize].0 as usize] = true;
        }
        let mut live = vec![false; self.graph.nodes.len()];
        for item in self.items.iter().rev() {
            match *item {
                Item::Node(g) => {
                    let node = &self.graph.nodes[g];
                    if self.removed[g] || !node.outputs.iter().any(|v| needed[v.0 as usize]) {
                        continue;
                    }
                    live[g] = true;
                    for v in &node.inputs {
                        needed[self.alias[v.0 as usize].0 as usize] = true;
                    }
                }
                Item::Child(k) => {
                    let kid = &kids[k];
                    let is_needed = |p: &usize| needed[self.value_of[&kid.outputs[*p]].0 as usize];
                    let count = kid.produced.iter().filter(|p| is_needed(p)).count();
                    if count == 0 {
                        continue;
                    }
                    if count < kid.produced.len() {
                        return Err("the row needs only some of a child's outputs");
                    }
                    for &(v, t) in &kid.inputs {
                        if kid.reads(blocks, v) {
                            needed[self.alias[self.value_of[&t].0 as usize].0 as usize] = true;
                        }
                    }
                }
            }
        }
        Ok(live)
    }
}

/// Whether trace region `r` has a copy in the glue: a `call` or `while` inside `span`
/// (which folding and counting tell apart), or a custom JVP or a checkpoint (which the
/// glue's linearisation does; folding and counting see through them).
fn is_copied(trace: &Graph, span: &Range<u32>, r: RegionId) -> bool {
    let region = trace.region(r);
    r != RegionId::TOP
        && region.nodes.start >= span.start
        && region.nodes.end <= span.end
        && matches!(
            region.kind,
            RegionKind::Call(_) | RegionKind::Loop | RegionKind::CustomJvp(_) | RegionKind::Remat
        )
}

/// Whether trace region `r` is a `call` or `while` inside `span`.
fn is_nested(trace: &Graph, span: &Range<u32>, r: RegionId) -> bool {
    is_copied(trace, span, r)
        && matches!(trace.region(r).kind, RegionKind::Call(_) | RegionKind::Loop)
}

/// Whether the nodes `part` lie in a `call` or `while` region inside `span` (regions
/// inside `part` itself are not around it).
fn in_nested(trace: &Graph, span: &Range<u32>, part: &Range<u32>) -> bool {
    let mut r = trace.node(part.start).region;
    while r != RegionId::TOP {
        let region = trace.region(r);
        let within_part = region.nodes.start >= part.start && region.nodes.end <= part.end;
        if !within_part && is_nested(trace, span, r) {
            return true;
        }
        r = region.parent;
    }
    false
}

/// The children's events, handed to the glue's DFS as it reaches their outputs.
struct Replayer<'a> {
    glue: &'a Glue,
    kids: &'a mut [Child],
    blocks: &'a mut Vec<Block>,
    failed: Option<Why>,
}

impl count::Pieces for Replayer<'_> {
    fn enter(&mut self, g: ValueId) -> Option<(usize, usize)> {
        let &k = self.glue.kid_of.get(&g)?;
        let t = self.glue.trace_of[g.0 as usize];
        let kid = &mut self.kids[k];
        let position = kid.outputs.iter().position(|&o| o == t)?;
        if kid.entered.contains(&position) {
            return None;
        }
        let entry = kid.entered.len();
        kid.entered.push(position);
        if kid.order.get(entry) != Some(&position) {
            let mut order = kid.entered.clone();
            order.extend(kid.produced.iter().filter(|p| !kid.entered.contains(p)));
            if let Some(events) = events(self.blocks, kid.block, &order) {
                kid.events = Some(events);
            } else {
                self.failed = Some("a child has a loop at its top level or returns a key it makes");
                return None;
            }
            kid.order = order;
        }
        Some((k, entry))
    }

    fn replay(
        &mut self,
        piece: usize,
        entry: usize,
        pos: &mut usize,
        sum: &mut f32,
    ) -> Option<ValueId> {
        let kid = &self.kids[piece];
        let site_of = &self.blocks[kid.block].site_of;
        let events = &kid.events.as_ref()?[entry];
        while let Some(&event) = events.get(*pos) {
            *pos += 1;
            match event {
                Event::Term(t) => *sum += t,
                Event::Input(v) => {
                    let site = site_of[v.0 as usize] as usize;
                    let Some(&(_, t)) = kid.inputs.get(site) else {
                        self.failed = Some("a child reads an input the row does not know");
                        return None;
                    };
                    return Some(self.glue.value_of[&t]);
                }
            }
        }
        None
    }
}

/// Each child's part ready to replay in the glue's VJP program `built` (folded as
/// `folded`), and per value of that program the child and result it stands for. An
/// error when a part reads a value that folds in the row.
#[allow(clippy::type_complexity)]
fn runs_of(
    built: &vjp::GlueVjp,
    chosen: Vec<Option<Rc<PieceRun>>>,
    folded: &crate::cost::fold::Folded,
) -> Result<(Vec<Run>, Vec<(u32, u32)>), Why> {
    let mut owner = vec![(u32::MAX, 0u32); built.program.values.len()];
    let mut runs = Vec::with_capacity(built.kids.len());
    for (k, (part, piece)) in built.kids.iter().zip(chosen).enumerate() {
        let piece = piece.ok_or("a child's part was not built")?;
        let ins: Vec<ValueId> = part
            .reads
            .iter()
            .copied()
            .chain(part.incoming.iter().flatten().copied())
            .collect();
        for (&v, &read) in ins.iter().zip(&piece.read) {
            let g = folded.alias[v.0 as usize];
            if read
                && let Some(n) = folded.producer[g.0 as usize]
                && (folded.removed[n]
                    || matches!(built.program.nodes[n].prim, Prim::Concatenate { .. }))
            {
                return Err("a child's part of the VJP reads a constant or a concatenate");
            }
        }
        let outs = part.produced.iter().chain(part.outgoing.iter().flatten());
        let k32 = u32::try_from(k).map_err(|_| "too many children")?;
        for (o, &v) in outs.enumerate() {
            owner[v.0 as usize] = (k32, u32::try_from(o).map_err(|_| "too many results")?);
        }
        runs.push(Run {
            done: vec![false; piece.dfs.ids()],
            entered: vec![false; piece.dfs.roots.len()],
            piece,
            inputs: ins,
            stack: Vec::new(),
        });
    }
    Ok((runs, owner))
}

/// The live nodes of the glue's VJP program `program` (folded as `folded`) when it holds
/// nested calls (whose operands and results are what live nodes read across them): what
/// its outputs need, through the children's parts (`runs`, whose results stand as the
/// inputs `owner` tells). The values the parts read become outputs after the row's own,
/// as uses from outside every call, as in the row's program. An error when a call's
/// results are listed in first-use order (not declared) and a part reads one of several:
/// the row's program orders them by where the part reads them.
fn glue_liveness(
    program: &mut Graph,
    folded: &crate::cost::fold::Folded,
    runs: &[Run],
    owner: &[(u32, u32)],
) -> Result<Vec<bool>, Why> {
    if !program
        .regions
        .iter()
        .any(|r| matches!(r.kind, RegionKind::Call(_)))
    {
        // Without nested calls, what the walk reaches is what it needs.
        return Ok(folded.removed.iter().map(|&r| !r).collect());
    }
    let alias = |v: ValueId| folded.alias[v.0 as usize];
    let mut needed = vec![false; program.values.len()];
    let mut live = vec![false; program.nodes.len()];
    let mut read_by_parts: Vec<ValueId> = Vec::new();
    let mut work: Vec<ValueId> = program.outputs.iter().map(|&v| alias(v)).collect();
    while let Some(v) = work.pop() {
        if std::mem::replace(&mut needed[v.0 as usize], true) {
            continue;
        }
        if let Some(n) = folded.producer[v.0 as usize] {
            if !folded.removed[n] && !std::mem::replace(&mut live[n], true) {
                work.extend(program.nodes[n].inputs.iter().map(|&i| alias(i)));
            }
        } else if let Some(&(k, o)) = owner.get(v.0 as usize)
            && k != u32::MAX
        {
            let run = &runs[k as usize];
            for i in run.piece.dfs.inputs_reached(o) {
                let read = alias(run.inputs[i as usize]);
                read_by_parts.push(read);
                work.push(read);
            }
        }
    }
    // Per call, its results read outside it (a VJP program's calls declare none, so
    // they are in first-use order): more than one, one of them read by a part, and the
    // order may differ from the row's program.
    let within = |mut r: RegionId, call: RegionId| loop {
        if r == call {
            return true;
        }
        if r == RegionId::TOP {
            return false;
        }
        r = program.region(r).parent;
    };
    let made_in = |v: ValueId, call: RegionId| {
        folded.producer[v.0 as usize].is_some_and(|n| within(program.nodes[n].region, call))
    };
    for (r, region) in program.regions.iter().enumerate() {
        if !matches!(region.kind, RegionKind::Call(_)) {
            continue;
        }
        let r = RegionId(u32::try_from(r).map_err(|_| "too many regions")?);
        let mut results: Vec<ValueId> = Vec::new();
        let mut note = |v: ValueId| {
            if made_in(v, r) && !results.contains(&v) {
                results.push(v);
            }
        };
        for (n, node) in program.nodes.iter().enumerate() {
            if live[n] && !within(node.region, r) {
                for &v in &node.inputs {
                    note(alias(v));
                }
            }
        }
        for &v in program.outputs.iter().chain(&read_by_parts) {
            note(alias(v));
        }
        if results.len() > 1 && read_by_parts.iter().any(|&v| made_in(v, r)) {
            return Err("a child's part reads one of several results of a nested call");
        }
    }
    read_by_parts.retain(|v| !program.outputs.contains(v));
    read_by_parts.sort_unstable_by_key(|v| v.0);
    read_by_parts.dedup();
    program.outputs.extend(read_by_parts);
    Ok(live)
}

/// The row's forward total: the glue's walk with each child replayed from its events.
fn forward_total(
    blocks: &mut Vec<Block>,
    kids: &mut [Child],
    glue: &Glue,
    outputs: &[ValueId],
) -> Result<f32, Why> {
    glue.check_boundaries(kids, blocks)?;
    let live = glue.liveness(kids, blocks)?;
    let roots: Vec<ValueId> = outputs.iter().map(|t| glue.value_of[t]).collect();
    let mut pieces = Replayer {
        glue,
        kids,
        blocks,
        failed: None,
    };
    let total = count::sum_with_pieces(
        &glue.graph,
        (&glue.alias, &live, &glue.producer),
        &roots,
        &mut pieces,
    );
    match pieces.failed {
        Some(why) => Err(why),
        None => Ok(total),
    }
}

/// The row program's inputs as glue values, in its order (what its VJP returns
/// cotangents of): its variables and arguments (`given`), then any other value from
/// outside it in the order the row first reads them (`program::extract`'s).
fn row_inputs(
    glue: &Glue,
    kids: &[Child],
    blocks: &[Block],
    given: &[ValueId],
) -> Result<Vec<ValueId>, Why> {
    let mut inputs: Vec<ValueId> = Vec::new();
    let mut seen = vec![false; glue.graph.values.len()];
    for t in given {
        if let Some(&g) = glue.value_of.get(t)
            && !std::mem::replace(&mut seen[g.0 as usize], true)
        {
            inputs.push(g);
        }
    }
    let given_count = inputs.len();
    let mut note = |g: ValueId, inputs: &mut Vec<ValueId>| {
        let outside = glue.producer[g.0 as usize].is_none() && !glue.kid_of.contains_key(&g);
        if outside && !std::mem::replace(&mut seen[g.0 as usize], true) {
            inputs.push(g);
        }
    };
    for item in &glue.items {
        match *item {
            Item::Node(n) => {
                for &g in &glue.graph.nodes[n].inputs {
                    note(g, &mut inputs);
                }
            }
            Item::Child(k) => {
                let kid = &kids[k];
                for (&(_, t), &(_, site)) in kid.inputs.iter().zip(&blocks[kid.block].sites) {
                    if matches!(site, Site::Node(..)) {
                        note(glue.value_of[&t], &mut inputs);
                    }
                }
            }
        }
    }
    for &g in &glue.outputs {
        note(g, &mut inputs);
    }
    let others = inputs[given_count..]
        .iter()
        .any(|&g| glue.graph.spec(g).dtype.is_inexact());
    if others && glue.graph.regions.len() > 1 {
        // `extract` orders values only regions list after what nodes read.
        return Err("the row reads values from outside and holds regions");
    }
    for &g in &glue.graph.inputs {
        if !glue.kid_of.contains_key(&g)
            && glue.graph.spec(g).dtype.is_inexact()
            && !seen[g.0 as usize]
        {
            return Err("the row reads a value from outside only through a region");
        }
    }
    Ok(inputs)
}

/// Whether the row's children sit at its top level: no region inside the row (a `jit`,
/// a custom JVP, a checkpoint, a loop) holds a child, so the row's linearisation meets
/// each child as one contiguous part.
fn flat_row(trace: &Graph, span: &Range<u32>, kids: &[Child]) -> Result<(), Why> {
    let inside = |r: RegionId, part: &Range<u32>| {
        r != RegionId::TOP && program::within(&trace.region(r).nodes, part)
    };
    let mut n = span.start;
    let mut next = 0;
    while n < span.end {
        if let Some(kid) = kids.get(next)
            && kid.span.start == n
        {
            for m in [kid.span.start, kid.span.end - 1] {
                let mut r = trace.node(m).region;
                while inside(r, span) {
                    if !inside(r, &kid.span) {
                        return Err("a region of the row holds a child");
                    }
                    r = trace.region(r).parent;
                }
            }
            n = kid.span.end;
            next += 1;
            continue;
        }
        n += 1;
    }
    Ok(())
}

/// A child's part of its parent's VJP program, ready to replay.
struct PieceRun {
    /// XLA's DFS over it, entered through its results (its computed results, then the
    /// cotangents it hands back); inputs by their index among the part's inputs.
    dfs: count::DfsGraph,
    /// Per input of the part: read by a live node or returned.
    read: Vec<bool>,
    /// Whether it holds `call` or `while` regions.
    nested: bool,
    /// Per input slot: whether it hands back a cotangent.
    outgoing: Vec<bool>,
}

impl PieceRun {
    fn new(piece: vjp::Piece) -> Result<PieceRun, Why> {
        let graph = &piece.program;
        let live = count::live(graph);
        let dfs = count::dfs_graph(graph, &live)
            .ok_or("a child has a loop at its top level or returns a key it makes")?;
        let mut read_value = vec![false; graph.values.len()];
        for (node, &kept) in graph.nodes.iter().zip(&live.kept) {
            if kept {
                for v in &node.inputs {
                    read_value[live.alias[v.0 as usize].0 as usize] = true;
                }
            }
        }
        for &o in &graph.outputs {
            let r = live.alias[o.0 as usize];
            read_value[r.0 as usize] = true;
            if let Some(p) = live.producer[r.0 as usize]
                && (!live.kept[p] || matches!(graph.nodes[p].prim, Prim::Concatenate { .. }))
            {
                return Err("a child's part of the VJP returns a constant or a concatenate");
            }
        }
        let read = graph
            .inputs
            .iter()
            .map(|v| read_value[v.0 as usize])
            .collect();
        Ok(PieceRun {
            dfs,
            read,
            nested: graph
                .regions
                .iter()
                .any(|r| matches!(r.kind, RegionKind::Call(_) | RegionKind::Loop)),
            outgoing: piece.outgoing,
        })
    }
}

/// The parts of the row's children, built (once per block and pattern of incoming
/// cotangents) as the glue's backward pass reaches them.
struct PieceVariants<'a> {
    blocks: &'a mut [Block],
    kids: &'a [Child],
    shapes: &'a [Rc<vjp::PieceShape>],
    chosen: Vec<Option<Rc<PieceRun>>>,
    failed: Option<Why>,
}

impl vjp::Variants for PieceVariants<'_> {
    fn outgoing(&mut self, k: usize, incoming: &[bool]) -> Option<Vec<bool>> {
        let block = &mut self.blocks[self.kids[k].block];
        let known = block
            .pieces
            .iter()
            .find(|(mask, _)| mask == incoming)
            .map(|(_, run)| run.clone());
        let run = known.unwrap_or_else(|| {
            let run = vjp::piece(&block.graph, &self.shapes[k], incoming)
                .and_then(PieceRun::new)
                .map(Rc::new);
            block.pieces.push((incoming.to_vec(), run.clone()));
            run
        });
        match run {
            Ok(run) => {
                let outgoing = run.outgoing.clone();
                self.chosen[k] = Some(run);
                Some(outgoing)
            }
            Err(why) => {
                self.failed = Some(why);
                None
            }
        }
    }
}

/// One child's part being replayed in its parent's VJP walk.
struct Run {
    piece: Rc<PieceRun>,
    /// The parent's value for each input of the part.
    inputs: Vec<ValueId>,
    /// Per node and region of the part: visited.
    done: Vec<bool>,
    /// Per result of the part: entered.
    entered: Vec<bool>,
    /// The part's DFS in progress: ids and the next target of each. An entry reached
    /// while another waits on an input of the part runs above it and ends first.
    stack: Vec<(u32, u32)>,
}

/// The children's parts, replayed as the parent's VJP walk reaches their results.
struct VjpReplayer<'a> {
    runs: &'a mut [Run],
    /// Per value of the parent's program: the child and result it stands for.
    owner: &'a [(u32, u32)],
}

impl count::Pieces for VjpReplayer<'_> {
    fn enter(&mut self, v: ValueId) -> Option<(usize, usize)> {
        let &(k, o) = self.owner.get(v.0 as usize)?;
        let run = self.runs.get_mut(k as usize)?;
        let entered = run.entered.get_mut(o as usize)?;
        if std::mem::replace(entered, true) {
            return None;
        }
        Some((k as usize, o as usize))
    }

    fn replay(
        &mut self,
        piece: usize,
        entry: usize,
        pos: &mut usize,
        sum: &mut f32,
    ) -> Option<ValueId> {
        let run = &mut self.runs[piece];
        let dfs = &run.piece.dfs;
        if *pos == 0 {
            // `pos` keeps the depth of the part's stack this entry runs above, plus one.
            *pos = run.stack.len() + 1;
            match dfs.roots.get(entry).copied().flatten()? {
                count::Target::Input(i) => return run.inputs.get(i as usize).copied(),
                count::Target::Id(id) => {
                    if std::mem::replace(&mut run.done[id as usize], true) {
                        return None;
                    }
                    run.stack.push((id, 0));
                }
            }
        }
        let base = *pos - 1;
        while run.stack.len() > base {
            let top = run.stack.len() - 1;
            let (id, next) = run.stack[top];
            if let Some(&target) = dfs.targets(id).get(next as usize) {
                run.stack[top].1 = next + 1;
                match target {
                    count::Target::Input(i) => return run.inputs.get(i as usize).copied(),
                    count::Target::Id(m) => {
                        if !std::mem::replace(&mut run.done[m as usize], true) {
                            run.stack.push((m, 0));
                        }
                    }
                }
            } else {
                run.stack.pop();
                for &t in dfs.terms(id) {
                    *sum += t;
                }
            }
        }
        None
    }
}
