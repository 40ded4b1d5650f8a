//! Costing a program as XLA does: fold, drop dead code, then add each surviving
//! instruction's cost in float32 in the order XLA's `HloCostAnalysis` visits them: a
//! post-order DFS from the root tuple, operands left to right, each nested `jit` (an HLO
//! `call`) and each loop (an HLO `while`) one instruction whose body is summed on its own
//! (`reference/xla-cost-model.md` §5). Loops are visited first, as XLA visits a
//! computation's unreachable roots (their unused counter) before its ROOT. Each
//! instruction adds the float32 `Term`s its primitive defines (`Prim::instruction_terms`).
//! That is not the emission order: a JVP residual is emitted in the forward half but
//! visited just before its first consumer in the backward half.

use super::fold::fold;
use crate::ops::graph::{Graph, Node, RegionId, RegionKind, ValueId};
use crate::ops::{Cost, Term, Terms};

/// Flops and transcendentals of `graph`'s live instructions, summed as XLA sums them.
pub(crate) fn count(graph: &Graph) -> Cost {
    count_live(graph, &live(graph))
}

/// [`count`] of `graph` whose live instructions are `live` (from [`live`]).
pub(crate) fn count_live(graph: &Graph, live: &Live) -> Cost {
    let (flops, transcendentals) = xla_sum(graph, &live.alias, &live.kept, &live.producer);
    Cost {
        flops: to_count(flops),
        transcendentals: to_count(transcendentals),
    }
}

/// What the float32 DFS of a program meets at its top level, in order (see
/// [`top_events`]): a term added to the top-level sum, or the first reach of one of the
/// program's inputs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Event {
    /// A term of the top-level sum (an instruction's term, or a nested computation's
    /// float32 total).
    Term(f32),
    /// The DFS reached this input for the first time.
    Input(ValueId),
}

/// The events of XLA's DFS over `graph` (whose liveness is `live`) entered through
/// `roots` in that order instead of its outputs: per root, the terms its visit adds to
/// the top-level sum and the inputs it reaches first, in order. Summing the terms of
/// every root in order is `count` when `roots` are the outputs (and no input is a typed
/// key). `None` when the top level has loops (XLA visits them before the ROOT, so they
/// are not part of any root's visit) or a root is a typed key produced inside.
pub(crate) fn top_events(graph: &Graph, live: &Live, roots: &[ValueId]) -> Option<Vec<Vec<Event>>> {
    let mut walk = XlaWalk::new(graph, &live.alias, &live.kept, &live.producer);
    walk.note_call_boundaries();
    if !walk.loop_roots(RegionId::TOP).is_empty() {
        return None;
    }
    let producer = walk.producer;
    if roots
        .iter()
        .any(|o| graph.keys.contains(o) && producer[o.0 as usize].is_some())
    {
        return None;
    }
    walk.recording = Some(Recorder {
        events: Vec::new(),
        reached: vec![false; graph.values.len()],
        failed: false,
    });
    let mut per_root = Vec::with_capacity(roots.len());
    for &root in roots {
        walk.sum_from(vec![Root::Value(root)]);
        let recorder = walk.recording.as_mut()?;
        if recorder.failed {
            return None;
        }
        per_root.push(std::mem::take(&mut recorder.events));
    }
    Some(per_root)
}

/// Where XLA's DFS goes from an operand at the top level of a program (see [`DfsGraph`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    /// A node, or a nested computation numbered after the nodes: visited once.
    Id(u32),
    /// The program's input with this index: the caller's DFS goes on from it.
    Input(u32),
}

/// XLA's DFS over the top level of a program, resolved once (folding, liveness, nested
/// computations): per node, where each operand leads and the terms it adds; per nested
/// computation (`call`), its operands and its body's float32 total. Walking it from a
/// result with a visited set gives the terms [`count`]'s walk adds, in the same order,
/// from any state of that set; so a program's part of a larger one can be walked as the
/// larger program's DFS enters it, leaves it through its inputs and enters it again.
pub(crate) struct DfsGraph {
    /// Per id, its targets: `targets[first[id]..first[id + 1]]`.
    first: Vec<u32>,
    targets: Vec<Target>,
    /// Per id, its non-zero terms: `terms[term_first[id]..term_first[id + 1]]`.
    term_first: Vec<u32>,
    terms: Vec<f32>,
    /// Per output of the program, where its visit starts (`None`: nothing to visit).
    pub(crate) roots: Vec<Option<Target>>,
}

impl DfsGraph {
    /// How many ids (nodes and regions) a visited set needs.
    pub(crate) fn ids(&self) -> usize {
        self.first.len() - 1
    }

    /// The targets of `id`.
    pub(crate) fn targets(&self, id: u32) -> &[Target] {
        let id = id as usize;
        &self.targets[self.first[id] as usize..self.first[id + 1] as usize]
    }

    /// The inputs (by index) the walk from root `root` reaches, each once.
    pub(crate) fn inputs_reached(&self, root: u32) -> Vec<u32> {
        let mut seen = vec![false; self.ids()];
        let mut inputs = Vec::new();
        let mut work: Vec<Target> = self
            .roots
            .get(root as usize)
            .copied()
            .flatten()
            .into_iter()
            .collect();
        while let Some(target) = work.pop() {
            match target {
                Target::Input(i) => {
                    if !inputs.contains(&i) {
                        inputs.push(i);
                    }
                }
                Target::Id(id) => {
                    if !std::mem::replace(&mut seen[id as usize], true) {
                        work.extend_from_slice(self.targets(id));
                    }
                }
            }
        }
        inputs
    }

    /// The terms `id` adds once its operands are visited.
    pub(crate) fn terms(&self, id: u32) -> &[f32] {
        let id = id as usize;
        &self.terms[self.term_first[id] as usize..self.term_first[id + 1] as usize]
    }
}

/// [`DfsGraph`] of `graph` (whose liveness is `live`), entered through its outputs.
/// `None` when the top level has loops (XLA visits them before the ROOT, outside any
/// output's visit), a loop's own operations, or a typed key it makes among its outputs.
pub(crate) fn dfs_graph(graph: &Graph, live: &Live) -> Option<DfsGraph> {
    let mut walk = XlaWalk::new(graph, &live.alias, &live.kept, &live.producer);
    walk.note_call_boundaries();
    if !walk.loop_roots(RegionId::TOP).is_empty() {
        return None;
    }
    let mut input_index = vec![u32::MAX; graph.values.len()];
    for (i, v) in graph.inputs.iter().enumerate() {
        input_index[v.0 as usize] = u32::try_from(i).ok()?;
    }
    let nodes = graph.nodes.len();
    let target = |walk: &XlaWalk, v: ValueId| -> Option<Target> {
        let v = walk.resolve(v);
        let Some(p) = walk.producer[v.0 as usize] else {
            return Some(Target::Input(input_index[v.0 as usize]));
        };
        if !walk.live[p] {
            return None;
        }
        let id = match walk.call_of(graph.nodes[p].region, RegionId::TOP) {
            Some(r) => nodes + r.0 as usize,
            None => p,
        };
        u32::try_from(id).ok().map(Target::Id)
    };
    let ids = nodes + graph.regions.len();
    let mut dfs = DfsGraph {
        first: Vec::with_capacity(ids + 1),
        targets: Vec::new(),
        term_first: Vec::with_capacity(ids + 1),
        terms: Vec::new(),
        roots: Vec::with_capacity(graph.outputs.len()),
    };
    // A key input's `Sharding` call is the caller's to score, where its DFS first
    // reaches the input: a call's operands (visited first) hold any key its body reads.
    walk.keys_done.clone_from(&graph.keys);
    for (n, node) in graph.nodes.iter().enumerate() {
        dfs.first.push(u32::try_from(dfs.targets.len()).ok()?);
        dfs.term_first.push(u32::try_from(dfs.terms.len()).ok()?);
        if !live.kept[n] || walk.call_of(node.region, RegionId::TOP).is_some() {
            continue;
        }
        if node.prim.is_loop_exit() {
            return None;
        }
        for &v in &node.inputs {
            dfs.targets.extend(target(&walk, v));
        }
        let (flops, _) = terms(graph, node);
        dfs.terms
            .extend(flops.iter().map(Term::value).filter(|&t| t != 0.0));
    }
    for r in 0..graph.regions.len() {
        dfs.first.push(u32::try_from(dfs.targets.len()).ok()?);
        dfs.term_first.push(u32::try_from(dfs.terms.len()).ok()?);
        let r = RegionId(u32::try_from(r).ok()?);
        let region = graph.region(r);
        if r == RegionId::TOP
            || !matches!(region.kind, RegionKind::Call(_))
            || walk.call_of(region.parent, RegionId::TOP).is_some()
        {
            continue;
        }
        for &v in &walk.operands[r.0 as usize].clone() {
            dfs.targets.extend(target(&walk, v));
        }
        let total = walk.body_total(r);
        if total != 0.0 {
            dfs.terms.push(total);
        }
    }
    dfs.first.push(u32::try_from(dfs.targets.len()).ok()?);
    dfs.term_first.push(u32::try_from(dfs.terms.len()).ok()?);
    for &o in &graph.outputs {
        if graph.keys.contains(&o) && live.producer[o.0 as usize].is_some() {
            return None;
        }
        dfs.roots.push(target(&walk, o));
    }
    Some(dfs)
}

/// Inputs of a graph that stand for the outputs of pieces summed elsewhere (the child
/// calls of a row, in `compose`): the DFS reaching one replays the piece's events.
pub(crate) trait Pieces {
    /// Enters a piece through input `v`: the piece and the entry whose events to replay,
    /// `None` when `v` is a plain input or its piece was entered through it before.
    fn enter(&mut self, v: ValueId) -> Option<(usize, usize)>;

    /// Adds the terms of `piece`'s `entry` from event `pos` on to `sum` until the events
    /// reach an input, returned as a value of the walked graph (`None`: done).
    fn replay(
        &mut self,
        piece: usize,
        entry: usize,
        pos: &mut usize,
        sum: &mut f32,
    ) -> Option<ValueId>;
}

/// XLA's float32 flop sum of `graph` (folded into `alias`, live nodes `live`, values
/// computed by `producer`) from `roots` (its loops first, as [`count`]), where reaching
/// an input that stands for a piece's output replays the piece's events at the top level.
pub(crate) fn sum_with_pieces(
    graph: &Graph,
    (alias, live, producer): (&[ValueId], &[bool], &[Option<usize>]),
    roots: &[ValueId],
    pieces: &mut dyn Pieces,
) -> f32 {
    let mut walk = XlaWalk::new(graph, alias, live, producer);
    walk.note_call_boundaries();
    walk.pieces = Some(pieces);
    let mut all: Vec<Root> = walk
        .loop_roots(RegionId::TOP)
        .into_iter()
        .map(Root::Region)
        .collect();
    all.extend(roots.iter().map(|&o| Root::Value(o)));
    walk.sum_from(all).0
}

/// The events [`top_events`] records as the walk goes.
struct Recorder {
    events: Vec<Event>,
    /// Per value, whether it was reached as an input.
    reached: Vec<bool>,
    /// Something the events cannot express was met (a loop's scalar ops at the top).
    failed: bool,
}

/// A program's live instructions: what survives folding and dead-code elimination.
pub(crate) struct Live {
    /// Per value, the value it stands for after folding.
    pub(crate) alias: Vec<ValueId>,
    /// Per node, whether an output of the program needs it.
    pub(crate) kept: Vec<bool>,
    /// The node computing each value (`None` for inputs).
    pub(crate) producer: Vec<Option<usize>>,
}

impl Live {
    /// Whether a live node of `graph` (or an output) reads `v`.
    pub(crate) fn reads(&self, graph: &Graph, v: ValueId) -> bool {
        let is_v = |x: &ValueId| self.alias[x.0 as usize] == v;
        graph
            .nodes
            .iter()
            .zip(&self.kept)
            .any(|(node, &live)| live && node.inputs.iter().any(is_v))
            || graph.outputs.iter().any(is_v)
    }
}

/// Folds `graph`, then marks the nodes its outputs need, walking backwards.
pub(crate) fn live(graph: &Graph) -> Live {
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
    Live {
        alias: folded.alias,
        kept: live,
        producer: folded.producer,
    }
}

/// A non-negative float32 total as Python's `int()` reads it.
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // finite and positive
pub(crate) fn to_count(total: f32) -> u64 {
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

/// The terms `node` adds to XLA's float32 flop sum, in visiting order, and its
/// transcendentals.
pub(crate) fn terms(graph: &Graph, node: &Node) -> (Terms, u64) {
    graph.with_specs(&node.inputs, |inputs| {
        graph.with_specs(&node.outputs, |outputs| {
            let cost = node.prim.cost(inputs, outputs);
            (
                node.prim.instruction_terms(cost, inputs, outputs),
                cost.transcendentals,
            )
        })
    })
}

/// Where a computation's DFS starts: an unreachable root (a loop), or a result.
enum Root {
    Region(RegionId),
    Value(ValueId),
}

/// One step of the DFS in progress.
enum Visit {
    /// A plain instruction, `next` operands pushed so far.
    Node { n: usize, next: usize },
    /// The `Sharding` custom call on a typed key argument, which XLA scores −1.
    Key,
    /// A nested `jit` seen as one `call`: its operands (`body == false`), then its body.
    Call {
        r: RegionId,
        next: usize,
        body: bool,
    },
    /// A piece's entry (see [`Pieces`]), replayed from event `pos`.
    Replay {
        piece: usize,
        entry: usize,
        pos: usize,
    },
}

/// Float32 sums of flops and transcendentals in XLA's visiting order.
fn xla_sum(
    graph: &Graph,
    alias: &[ValueId],
    live: &[bool],
    producer: &[Option<usize>],
) -> (f32, f32) {
    let mut walk = XlaWalk::new(graph, alias, live, producer);
    walk.note_call_boundaries();
    walk.sum()
}

/// A computation being summed: the top, a call's body or a loop's.
struct Scope {
    region: RegionId,
    /// Float32 sums of its instructions.
    flops: f32,
    transcendentals: f32,
    /// A loop's own scalar ops (its `while` node's terms: the counter and index updates
    /// of the body, then the condition's `compare`); 0 elsewhere.
    control: f32,
}

impl Scope {
    fn new(region: RegionId) -> Scope {
        Scope {
            region,
            flops: 0.0,
            transcendentals: 0.0,
            control: 0.0,
        }
    }

    /// The term this computation adds to its caller. A loop is XLA's `while`: its body
    /// (the scalar updates, then the step function as one nested call) plus its
    /// condition (one `compare`), each summed in float32.
    fn total(&self) -> f32 {
        if self.control == 0.0 {
            return self.flops;
        }
        let condition = 1.0;
        let body = (self.control - condition) + self.flops;
        body + condition
    }
}

/// The state of XLA's post-order walk over one graph.
struct XlaWalk<'g, 'p> {
    graph: &'g Graph,
    /// What each value was folded into.
    alias: &'g [ValueId],
    /// The nodes that survive folding and dead-code elimination.
    live: &'g [bool],
    /// The node computing each value (`None` for inputs).
    producer: &'g [Option<usize>],
    /// Each call region's operands (values from outside read inside), in first-use order.
    operands: Vec<Vec<ValueId>>,
    /// Each call region's results (values from inside read outside), in first-use order.
    results: Vec<Vec<ValueId>>,
    /// Nodes already visited.
    done: Vec<bool>,
    /// Call regions already visited.
    call_done: Vec<bool>,
    /// Key inputs whose custom call was visited.
    keys_done: Vec<ValueId>,
    /// Per region, the live loops directly inside it (computed on first use).
    loops: Option<Vec<Vec<RegionId>>>,
    /// Set by [`top_events`]: the top level's terms and first reaches are recorded.
    recording: Option<Recorder>,
    /// Set by [`sum_with_pieces`]: the inputs that stand for pieces' outputs.
    pieces: Option<&'p mut dyn Pieces>,
}

impl<'g, 'p> XlaWalk<'g, 'p> {
    fn new(
        graph: &'g Graph,
        alias: &'g [ValueId],
        live: &'g [bool],
        producer: &'g [Option<usize>],
    ) -> XlaWalk<'g, 'p> {
        XlaWalk {
            graph,
            alias,
            live,
            producer,
            operands: vec![Vec::new(); graph.regions.len()],
            results: vec![Vec::new(); graph.regions.len()],
            done: vec![false; graph.nodes.len()],
            call_done: vec![false; graph.regions.len()],
            keys_done: Vec::new(),
            loops: None,
            recording: None,
            pieces: None,
        }
    }

    #[inline]
    fn resolve(&self, v: ValueId) -> ValueId {
        self.alias[v.0 as usize]
    }

    /// Whether region `r` is a nested computation of its own: a `call`, or a `while`
    /// loop (a scan), whose body XLA sums on its own.
    #[inline]
    fn is_call(&self, r: RegionId) -> bool {
        matches!(
            self.graph.region(r).kind,
            RegionKind::Call(_) | RegionKind::Loop
        )
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

    /// Fills each call's operands and results: the callee's parameters in argument
    /// order and its results in result order, as JAX lowers a nested `jit` (unused ones
    /// are pruned); values used across the boundary that are neither (closed over) follow
    /// in first-use order.
    fn note_call_boundaries(&mut self) {
        let graph = self.graph;
        self.note_first_uses();
        for (i, region) in graph.regions.iter().enumerate() {
            if !matches!(region.kind, RegionKind::Call(_)) {
                continue;
            }
            let alias = self.alias;
            let declared = |values: &[ValueId], used: &[ValueId]| {
                let mut ordered: Vec<ValueId> = Vec::new();
                for &v in values {
                    let v = alias[v.0 as usize];
                    if used.contains(&v) && !ordered.contains(&v) {
                        ordered.push(v);
                    }
                }
                let rest: Vec<ValueId> = used
                    .iter()
                    .copied()
                    .filter(|v| !ordered.contains(v))
                    .collect();
                ordered.extend(rest);
                ordered
            };
            let operands = declared(&region.inputs, &self.operands[i]);
            let results = declared(&region.outputs, &self.results[i]);
            self.operands[i] = operands;
            self.results[i] = results;
        }
    }

    /// Fills each call's operands and results in first-use order.
    fn note_first_uses(&mut self) {
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

    /// The live loop regions directly inside `scope` (the top, a call or a loop; not
    /// inside a call or loop nested in it), in emission order.
    fn loop_roots(&mut self, scope: RegionId) -> Vec<RegionId> {
        if self.loops.is_none() {
            self.loops = Some(self.loops_by_scope());
        }
        self.loops
            .as_ref()
            .and_then(|loops| loops.get(scope.0 as usize))
            .cloned()
            .unwrap_or_default()
    }

    /// For every region, the live loops directly inside it, found in one pass: a loop
    /// belongs to the nearest call or loop holding it (or the top). Ordered by where
    /// each loop's nodes are emitted (XLA visits the unreachable roots in the module's
    /// instruction order), not by region number: a VJP program numbers each loop's
    /// forward and transposed copies together, but emits the transposed ones after
    /// every forward node, in reverse.
    fn loops_by_scope(&self) -> Vec<Vec<RegionId>> {
        let graph = self.graph;
        // Per region, its first live node (`None`: no live node directly in it).
        let mut first: Vec<Option<usize>> = vec![None; graph.regions.len()];
        for (n, node) in graph.nodes.iter().enumerate() {
            if self.live[n] {
                first[node.region.0 as usize].get_or_insert(n);
            }
        }
        let mut loops = vec![Vec::new(); graph.regions.len()];
        let mut order: Vec<(usize, usize)> = graph
            .regions
            .iter()
            .enumerate()
            .skip(1)
            .filter(|(_, region)| region.kind == RegionKind::Loop)
            .filter_map(|(i, _)| first[i].map(|n| (n, i)))
            .collect();
        order.sort_unstable();
        for (_, i) in order {
            let region = &graph.regions[i];
            let mut owner = region.parent;
            while owner != RegionId::TOP && !self.is_call(owner) {
                owner = graph.region(owner).parent;
            }
            if let Ok(r) = u32::try_from(i) {
                loops[owner.0 as usize].push(RegionId(r));
            }
        }
        loops
    }

    /// Starts the visit of call or loop region `r` unless it was visited.
    fn start_region(&mut self, r: RegionId) -> Option<Visit> {
        if self.call_done[r.0 as usize] {
            return None;
        }
        self.call_done[r.0 as usize] = true;
        Some(Visit::Call {
            r,
            next: 0,
            body: false,
        })
    }

    /// What visiting `v` from inside `scope` starts, if anything.
    #[inline]
    fn start(&mut self, v: ValueId, scope: RegionId) -> Option<Visit> {
        let v = self.resolve(v);
        let Some(n) = self.producer[v.0 as usize] else {
            if scope == RegionId::TOP
                && let Some(recorder) = self.recording.as_mut()
            {
                // Recorded instead of its key's custom call: whoever replays the events
                // scores the key where its own DFS first reaches it.
                if !recorder.reached[v.0 as usize] {
                    recorder.reached[v.0 as usize] = true;
                    recorder.events.push(Event::Input(v));
                }
                if self.graph.keys.contains(&v) && !self.keys_done.contains(&v) {
                    self.keys_done.push(v);
                }
                return None;
            }
            if let Some(pieces) = self.pieces.as_mut()
                && let Some((piece, entry)) = pieces.enter(v)
            {
                return Some(Visit::Replay {
                    piece,
                    entry,
                    pos: 0,
                });
            }
            // An input: a typed key's custom call is visited at its first reach.
            if self.graph.keys.contains(&v) && !self.keys_done.contains(&v) {
                self.keys_done.push(v);
                return Some(Visit::Key);
            }
            return None;
        };
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
    fn sum(&mut self) -> (f32, f32) {
        // XLA visits a computation's unreachable roots before its ROOT: each `while`
        // leaves its loop counter unused, so every loop comes first, in emission order.
        let mut roots: Vec<Root> = self
            .loop_roots(RegionId::TOP)
            .into_iter()
            .map(Root::Region)
            .collect();
        roots.extend(self.graph.outputs.iter().map(|&o| Root::Value(o)));
        self.sum_from(roots)
    }

    /// Adds `node`'s terms to the innermost open computation's sums (and records them
    /// at the top level for [`top_events`]).
    #[allow(clippy::cast_precision_loss)] // float32 sums, as XLA's
    fn add_terms(&mut self, node: &Node, scopes: &mut [Scope]) {
        let (flops, transcendentals) = terms(self.graph, node);
        if scopes.len() == 1
            && let Some(recorder) = self.recording.as_mut()
        {
            recorder.failed |= node.prim.is_loop_exit();
            recorder
                .events
                .extend(flops.iter().map(|t| Event::Term(t.value())));
        }
        if let Some(sum) = scopes.last_mut() {
            if node.prim.is_loop_exit() {
                // The loop's own scalar ops sit outside its body call.
                sum.control += flops.iter().map(Term::value).sum::<f32>();
            } else {
                for term in flops {
                    sum.flops += term.value();
                }
            }
            sum.transcendentals += transcendentals as f32;
        }
    }

    /// The DFS from `roots` in order, continuing from what earlier walks visited.
    #[allow(clippy::cast_precision_loss)] // float32 sums, as XLA's
    fn sum_from(&mut self, roots: Vec<Root>) -> (f32, f32) {
        let graph = self.graph;
        // Per open scope (the top, then each call being summed): its region and sums.
        let mut scopes = vec![Scope::new(RegionId::TOP)];
        let mut stack: Vec<Visit> = Vec::new();
        for root in roots {
            match root {
                Root::Region(r) => stack.extend(self.start_region(r)),
                Root::Value(o) => {
                    // A typed key result: its `Sharding` custom call (-1) follows it.
                    if graph.keys.contains(&o) && self.producer[o.0 as usize].is_some() {
                        stack.push(Visit::Key);
                    }
                    stack.extend(self.start(o, RegionId::TOP));
                }
            }
            self.drain(&mut stack, &mut scopes);
        }
        // The top scope is never popped: calls pop only the scopes they pushed.
        (scopes[0].flops, scopes[0].transcendentals)
    }

    /// Runs the DFS until `stack` is empty.
    #[allow(clippy::cast_precision_loss)] // float32 sums, as XLA's
    fn drain(&mut self, stack: &mut Vec<Visit>, scopes: &mut Vec<Scope>) {
        let graph = self.graph;
        while let Some(visit) = stack.last_mut() {
            // The scope stack starts with the top and pops only what it pushed.
            let Some(scope) = scopes.last().map(|s| s.region) else {
                break;
            };
            let next = match visit {
                Visit::Node { n, next } => {
                    let node = &graph.nodes[*n];
                    if let Some(&input) = node.inputs.get(*next) {
                        *next += 1;
                        self.start(input, scope)
                    } else {
                        self.add_terms(node, scopes);
                        stack.pop();
                        None
                    }
                }
                Visit::Key => {
                    if let Some(sum) = scopes.last_mut() {
                        sum.flops += -1.0;
                    }
                    stack.pop();
                    None
                }
                Visit::Replay { piece, entry, pos } => {
                    let reached = match (self.pieces.as_mut(), scopes.last_mut()) {
                        (Some(pieces), Some(sum)) => {
                            pieces.replay(*piece, *entry, pos, &mut sum.flops)
                        }
                        _ => None,
                    };
                    if let Some(v) = reached {
                        self.start(v, scope)
                    } else {
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
                        scopes.push(Scope::new(r));
                        // The body's loops first, as unreachable roots (see above).
                        let loops: Vec<Visit> = self
                            .loop_roots(r)
                            .into_iter()
                            .rev()
                            .filter_map(|inner| self.start_region(inner))
                            .collect();
                        stack.extend(loops);
                        None
                    } else if *next < self.results[i].len() {
                        *next += 1;
                        let result = self.results[i][*next - 1];
                        self.start(result, r)
                    } else {
                        // The body's own float32 sum enters the caller as one term.
                        let top = scopes.len() == 2;
                        if let Some(inner) = scopes.pop()
                            && let Some(sum) = scopes.last_mut()
                        {
                            if top && let Some(recorder) = self.recording.as_mut() {
                                recorder.events.push(Event::Term(inner.total()));
                            }
                            sum.flops += inner.total();
                            sum.transcendentals += inner.transcendentals;
                        }
                        stack.pop();
                        None
                    }
                }
            };
            stack.extend(next);
        }
    }

    /// The float32 total call region `r` (at the top level) adds to the top-level sum:
    /// its body summed on its own, its operands left out.
    fn body_total(&mut self, r: RegionId) -> f32 {
        self.call_done[r.0 as usize] = true;
        let mut scopes = vec![Scope::new(RegionId::TOP)];
        let mut stack = vec![Visit::Call {
            r,
            next: self.operands[r.0 as usize].len(),
            body: false,
        }];
        self.drain(&mut stack, &mut scopes);
        scopes[0].flops
    }
}
