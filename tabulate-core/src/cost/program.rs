//! The program Flax costs for one row: the call's span of the trace, closed over its
//! inputs (arguments, variables, anything computed outside it), with the call's results
//! and every variable it touched as outputs — what `module.apply(..., mutable=...)`
//! returns when the row's module is re-run on its own.

use std::hash::BuildHasherDefault;
use std::ops::Range;

use crate::ops::graph::{Graph, Region, RegionId, RegionKind, ValueId, ValueIds};

/// Copies nodes `span` of `source` into a new graph whose outputs are `outputs`. Its
/// inputs come in the order of `inputs` (the values of `source` that JAX passes as the
/// program's arguments: variables, then the call's arguments), then any other value read
/// from outside the span in first-use order. The VJP's root tuple follows that order.
pub(crate) fn extract(
    source: &Graph,
    span: Range<u32>,
    inputs: &[ValueId],
    outputs: &[ValueId],
) -> Graph {
    extract_without(source, span, &[], inputs, outputs)
}

/// The program of a row's own operations: nodes `span` of `source` except those in
/// `holes` (its child calls). A child's results become inputs; whatever the row computes
/// for a child becomes an output, so that it stays live.
pub(crate) fn extract_glue(
    source: &Graph,
    span: Range<u32>,
    holes: &[Range<u32>],
    inputs: &[ValueId],
    outputs: &[ValueId],
) -> Graph {
    let mut outputs = outputs.to_vec();
    let own = |n: &u32| !holes.iter().any(|h| h.contains(n));
    let produced: std::collections::HashSet<ValueId, BuildHasherDefault<IdHasher>> = span
        .clone()
        .filter(own)
        .flat_map(|n| source.node(n).outputs.iter().copied())
        .collect();
    for n in span.clone().filter(|n| !own(n)) {
        for v in &source.node(n).inputs {
            if produced.contains(v) && !outputs.contains(v) {
                outputs.push(*v);
            }
        }
    }
    extract_without(source, span, holes, inputs, &outputs)
}

fn extract_without(
    source: &Graph,
    span: Range<u32>,
    holes: &[Range<u32>],
    inputs: &[ValueId],
    outputs: &[ValueId],
) -> Graph {
    let mut graph = Graph::default();
    let nodes = span.len();
    graph.nodes.reserve(nodes);
    graph.values.reserve(nodes.saturating_add(nodes / 2));
    let mut values = Renumbering::for_span(source, &span);
    let mut regions: IdMap<RegionId, RegionId> = IdMap::default();
    regions.insert(RegionId::TOP, RegionId::TOP);
    // Consecutive nodes nearly always share a region: the last one mapped is remembered.
    let mut last_region = (RegionId::TOP, RegionId::TOP);
    let mut holes = Holes::new(holes);
    for n in span.clone() {
        if holes.skips(n) {
            continue;
        }
        let node = source.node(n);
        let mut inputs = ValueIds::new();
        for &v in &node.inputs {
            inputs.push(map_value(source, &mut graph, &mut values, v));
        }
        let region = if node.region == last_region.0 {
            last_region.1
        } else {
            let mapped = map_region(source, &mut graph, &mut regions, node.region, &span);
            last_region = (node.region, mapped);
            mapped
        };
        let specs = node.outputs.iter().map(|&v| source.spec(v).clone());
        let outs = graph.append(
            node.prim.clone(),
            inputs,
            specs,
            region,
            node.tag,
            node.origin,
        );
        for (&old, new) in node.outputs.iter().zip(outs) {
            values.insert(old, ValueId(new));
        }
        extend_region_ranges(&mut graph, region);
    }
    for (&old, &new) in &regions {
        let r = source.region(old);
        if old == RegionId::TOP || !within(&r.nodes, &span) {
            continue;
        }
        let inputs = r
            .inputs
            .iter()
            .map(|&v| map_value(source, &mut graph, &mut values, v))
            .collect();
        let outs = r
            .outputs
            .iter()
            .map(|&v| map_value(source, &mut graph, &mut values, v))
            .collect();
        let target = &mut graph.regions[new.0 as usize];
        target.inputs = inputs;
        target.outputs = outs;
    }
    graph.outputs = outputs
        .iter()
        .map(|&v| map_value(source, &mut graph, &mut values, v))
        .collect();
    // A typed key among the results: its lowering ends in a `Sharding` custom call too.
    for (&v, &mapped) in outputs.iter().zip(&graph.outputs) {
        if source.keys.contains(&v) && !graph.keys.contains(&mapped) {
            graph.keys.push(mapped);
        }
    }
    // Per value of the copy: 1 if it is an input not yet ordered, 2 once ordered (a
    // linear pass: a root row's program has an input per parameter of the model).
    let mut state = vec![0u8; graph.values.len()];
    for v in &graph.inputs {
        state[v.0 as usize] = 1;
    }
    let mut ordered: Vec<ValueId> = Vec::with_capacity(graph.inputs.len());
    for v in inputs {
        if let Some(mapped) = values.get(*v)
            && state[mapped.0 as usize] == 1
        {
            state[mapped.0 as usize] = 2;
            ordered.push(mapped);
        }
    }
    ordered.extend(
        graph
            .inputs
            .iter()
            .copied()
            .filter(|v| state[v.0 as usize] == 1),
    );
    graph.inputs = ordered;
    graph
}

/// The copy of `v`. Values defined in the span are copied before their first use (the
/// graph is in emission order), so an unmapped value comes from outside: an input.
fn map_value(source: &Graph, graph: &mut Graph, values: &mut Renumbering, v: ValueId) -> ValueId {
    if let Some(mapped) = values.get(v) {
        return mapped;
    }
    let input = graph.add_input(source.spec(v).clone());
    if source.keys.contains(&v) {
        graph.keys.push(input);
    }
    values.insert(v, input);
    input
}

/// The spans left out of an extraction (the child calls of a glue program), walked in
/// node order: whether a node falls in one is decided without scanning them all.
struct Holes {
    /// The holes, by start.
    sorted: Vec<Range<u32>>,
    /// The first hole not yet reached.
    next: usize,
    /// The end of the holes reached so far (nodes before it are left out).
    until: u32,
}

impl Holes {
    fn new(holes: &[Range<u32>]) -> Holes {
        let mut sorted = holes.to_vec();
        sorted.sort_by_key(|h| h.start);
        Holes {
            sorted,
            next: 0,
            until: 0,
        }
    }

    /// Whether node `n` is in a hole; `n` must not decrease from one call to the next.
    fn skips(&mut self, n: u32) -> bool {
        while let Some(hole) = self.sorted.get(self.next)
            && hole.start <= n
        {
            if !hole.is_empty() {
                self.until = self.until.max(hole.end);
            }
            self.next += 1;
        }
        n < self.until
    }
}

/// Whether a region of nodes `nodes` lies inside `span`.
pub(crate) fn within(nodes: &Range<u32>, span: &Range<u32>) -> bool {
    nodes.start >= span.start && nodes.end <= span.end
}

/// The copy of region `r`. A region that is not inside the span (a loop around a call
/// inside its body, a checkpointed call around a call that starts it) is not part of the
/// call's program: its nodes go to its parent.
fn map_region(
    source: &Graph,
    graph: &mut Graph,
    regions: &mut IdMap<RegionId, RegionId>,
    r: RegionId,
    span: &Range<u32>,
) -> RegionId {
    if let Some(&mapped) = regions.get(&r) {
        return mapped;
    }
    let original = source.region(r);
    let parent = map_region(source, graph, regions, original.parent, span);
    if !within(&original.nodes, span) {
        regions.insert(r, parent);
        return parent;
    }
    let start = u32::try_from(graph.nodes.len()).expect("graph exceeds 2^32 nodes");
    let id = RegionId(u32::try_from(graph.regions.len()).expect("too many regions"));
    graph.regions.push(Region {
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

/// Extends `region` and its ancestors to cover the node just pushed.
fn extend_region_ranges(graph: &mut Graph, mut region: RegionId) {
    if region == RegionId::TOP {
        return;
    }
    let end = u32::try_from(graph.nodes.len()).expect("graph exceeds 2^32 nodes");
    while region != RegionId::TOP {
        let r = &mut graph.regions[region.0 as usize];
        r.nodes.end = end;
        region = r.parent;
    }
}

/// In the program of a checkpointed call (`nn::remat`), the remat region that is the
/// call itself becomes a plain grouping: Flax costs that row on the module it wraps.
/// It is the outermost remat region holding every node (regions are numbered outermost
/// first); it may sit in a region already inlined (`remat(remat(f))`: the inner
/// checkpoint's program, inside the outer's, holds both).
pub(crate) fn inline_remat_of_span(graph: &mut Graph) {
    let len = u32::try_from(graph.nodes.len()).expect("graph exceeds 2^32 nodes");
    if let Some(region) = graph
        .regions
        .iter_mut()
        .find(|r| r.kind == RegionKind::Remat && r.nodes == (0..len))
    {
        region.kind = RegionKind::Inlined;
    }
}

/// The copy of each value of the source: a table over the ids the span's nodes define
/// (values are numbered in emission order, so they form one range with the few inputs
/// created between them), a hash map for values from before the span.
pub(crate) struct Renumbering {
    /// The first id of the table.
    start: u32,
    /// Per id from `start`: its copy, once made.
    table: Vec<Option<ValueId>>,
    /// Copies of the values outside the table's range.
    others: IdMap<ValueId, ValueId>,
}

impl Renumbering {
    pub(crate) fn for_span(source: &Graph, span: &Range<u32>) -> Renumbering {
        // Values are numbered as nodes are pushed: the span's first and last results
        // bound the ids it defines.
        let first = span
            .clone()
            .find_map(|n| source.node(n).outputs.first().map(|v| v.0));
        let last = span
            .clone()
            .rev()
            .find_map(|n| source.node(n).outputs.last().map(|v| v.0));
        let (start, end) = match (first, last) {
            (Some(start), Some(last)) => (start, last.saturating_add(1).max(start)),
            _ => (0, 0),
        };
        Renumbering {
            start,
            table: vec![None; (end - start) as usize],
            others: IdMap::default(),
        }
    }

    fn slot(&self, v: ValueId) -> Option<usize> {
        let i = v.0.checked_sub(self.start)? as usize;
        (i < self.table.len()).then_some(i)
    }

    pub(crate) fn get(&self, v: ValueId) -> Option<ValueId> {
        match self.slot(v) {
            Some(i) => self.table[i],
            None => self.others.get(&v).copied(),
        }
    }

    pub(crate) fn insert(&mut self, v: ValueId, copy: ValueId) {
        match self.slot(v) {
            Some(i) => self.table[i] = Some(copy),
            None => {
                self.others.insert(v, copy);
            }
        }
    }
}

pub(crate) use crate::hash::{IdHasher, IdMap};
