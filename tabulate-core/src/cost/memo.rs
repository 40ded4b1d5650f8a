//! Identical subprograms are costed once. A row's program is its call's span of the trace
//! extracted with its values, regions and inputs renumbered from zero in emission order,
//! so two calls that run the same program up to renaming (GPT-2's twelve `h_i` blocks,
//! their layers) extract to the same graph. The memo keeps, for each program it
//! measured, the span it came from, and answers only for a span that extracts to an
//! *equal* program — every op with its parameters (literals bit for bit), every spec,
//! region, input, output and key — asked the same question, so a hit returns exactly the
//! numbers costing it again would give.
//!
//! Nothing is extracted to ask: a span is walked in place as `program::extract` walks
//! it, numbering what the copy would number (its [`Canonical`] form: the copy's structure
//! as words, and which node, value and region of the trace each of the copy's stands
//! for). Two spans extract to equal programs when their words are equal and the nodes'
//! primitives, the values' specs and the regions' kinds they stand for are. A structural
//! hash of that form (no text is formatted) only picks the candidates to compare.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::ops::Range;

use super::compose::Compose;
use super::metric::{Metric, MetricOptions, Metrics, RowScope};
use super::program::{IdMap, Renumbering, within};
use crate::ops::graph::{Graph, NodeTag, RegionId, ValueId};

/// The metrics of the programs costed so far in one run.
#[derive(Debug, Default)]
pub(crate) struct Memo {
    /// By structural hash: the programs measured (as the canonical form of their span),
    /// with the question and the answer.
    known: HashMap<u64, Vec<(Canonical, usize, Metrics)>>,
    /// The questions asked so far (a run asks one per row scope), by index.
    questions: Vec<(Vec<Metric>, MetricOptions, RowScope)>,
    /// How many of the run's programs have each node count: a program whose count is
    /// unique (the root's) cannot equal another, so it is not looked up.
    sizes: HashMap<usize, usize>,
    /// The child programs rows are composed from (`flops` of rows with child calls).
    pub(crate) compose: Compose,
}

/// A call's forward program as the trace holds it: what `program::extract` copies.
pub(crate) struct SpanProgram<'a> {
    /// The trace's graph.
    pub(crate) graph: &'a Graph,
    /// The call's nodes.
    pub(crate) span: Range<u32>,
    /// The program's inputs, in JAX's order (variables, then arguments).
    pub(crate) inputs: &'a [ValueId],
    /// The program's outputs (results, then the variables it touched).
    pub(crate) outputs: &'a [ValueId],
    /// Whether the call is checkpointed (its own remat region is inlined).
    pub(crate) remat: bool,
}

/// What a row asks of its program: the metrics (in column order), their options and
/// the row's scope. Equal questions of equal programs have equal answers.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Question<'a> {
    pub(crate) metrics: &'a [Metric],
    pub(crate) options: &'a MetricOptions,
    pub(crate) scope: RowScope,
}

/// A program's memo key, with the question asked of it.
#[derive(Debug)]
pub(crate) struct Key {
    hash: u64,
    /// The question's index in [`Memo::questions`].
    question: usize,
    program: Canonical,
}

impl Memo {
    /// A memo for the programs of calls spanning `sizes` nodes each (a program has the
    /// nodes of its call's span).
    pub(crate) fn new(sizes: impl IntoIterator<Item = usize>) -> Memo {
        let mut memo = Memo::default();
        for size in sizes {
            *memo.sizes.entry(size).or_default() += 1;
        }
        memo
    }

    /// The key of `program` measured for `question` (the metrics asked for, their options
    /// and the row's scope). `None` when no other program of the run has as many nodes,
    /// or when the span's form cannot be read in place (then it is measured every time).
    pub(crate) fn key(&mut self, program: &SpanProgram<'_>, question: Question<'_>) -> Option<Key> {
        if self.sizes.get(&program.span.len()).copied().unwrap_or(0) < 2 {
            return None;
        }
        let canonical = Canonical::of(program)?;
        let question = self.question_index(question);
        let mut h = Mix::default();
        h.write_usize(question);
        canonical.hash(program.graph, &mut h);
        Some(Key {
            hash: h.finish(),
            question,
            program: canonical,
        })
    }

    /// The index of `question` among those asked so far (added if new).
    fn question_index(&mut self, question: Question<'_>) -> usize {
        let same = |(metrics, options, scope): &(Vec<Metric>, MetricOptions, RowScope)| {
            metrics.as_slice() == question.metrics
                && options == question.options
                && *scope == question.scope
        };
        if let Some(i) = self.questions.iter().position(same) {
            return i;
        }
        self.questions.push((
            question.metrics.to_vec(),
            question.options.clone(),
            question.scope,
        ));
        self.questions.len() - 1
    }

    /// The metrics already measured for a program equal to the one of `key` (whose spans
    /// are in `graph`) asked the same question.
    pub(crate) fn get(&self, key: Option<&Key>, graph: &Graph) -> Option<&Metrics> {
        let key = key?;
        self.known
            .get(&key.hash)?
            .iter()
            .find_map(|(known, question, metrics)| {
                (*question == key.question && known.same(&key.program, graph)).then_some(metrics)
            })
    }

    /// Remembers the metrics measured for the program of `key`.
    pub(crate) fn insert(&mut self, key: Option<Key>, metrics: &Metrics) {
        if let Some(key) = key {
            self.known.entry(key.hash).or_default().push((
                key.program,
                key.question,
                metrics.clone(),
            ));
        }
    }
}

/// Markers between the parts of a canonical form's words.
const NODE: u64 = 1 << 40;
const INPUT: u64 = 2 << 40;
const REGION: u64 = 3 << 40;
const END: u64 = 4 << 40;

/// The program a span extracts to, read in place: the copy's structure as words (its
/// nodes' operands, regions and result counts, its inputs as they are made, its regions'
/// parents and declared values, its outputs, keys and input order), and the node, value
/// and region of the trace that each node, value and region of the copy stands for.
#[derive(Debug, Default)]
pub(crate) struct Canonical {
    words: Vec<u64>,
    nodes: Vec<u32>,
    values: Vec<ValueId>,
    regions: Vec<RegionId>,
}

impl Canonical {
    /// The form of `p`'s program, numbering as `program::extract` does; `None` when a
    /// region declares a value its span never reads or defines (the copy would make it
    /// an input in an order this walk does not follow).
    pub(crate) fn of(p: &SpanProgram<'_>) -> Option<Canonical> {
        let g = p.graph;
        let mut c = Canonical {
            words: Vec::with_capacity(p.span.len().saturating_mul(5)),
            nodes: Vec::with_capacity(p.span.len()),
            values: Vec::with_capacity(p.span.len().saturating_add(p.span.len() / 2)),
            regions: vec![RegionId::TOP],
        };
        let mut values = Renumbering::for_span(g, &p.span);
        let mut regions: IdMap<RegionId, RegionId> = IdMap::default();
        regions.insert(RegionId::TOP, RegionId::TOP);
        let mut last_region = (RegionId::TOP, RegionId::TOP);
        // Per input of the copy, in the order made: its number.
        let mut made: Vec<u32> = Vec::new();
        for n in p.span.clone() {
            let node = g.node(n);
            c.words.push(NODE | u64::from(node.tag == NodeTag::AddAny));
            for &v in &node.inputs {
                let id = c.map_value(g, &mut values, &mut made, v);
                c.words.push(u64::from(id.0));
            }
            let region = if node.region == last_region.0 {
                last_region.1
            } else {
                let mapped = c.map_region(g, &mut regions, node.region, &p.span);
                last_region = (node.region, mapped);
                mapped
            };
            c.words.push(u64::from(region.0));
            c.words.push(node.outputs.len() as u64);
            for &o in &node.outputs {
                let id = c.new_value(o);
                values.insert(o, id);
            }
            c.nodes.push(n);
        }
        for k in 1..c.regions.len() {
            let r = g.region(c.regions[k]);
            c.words.push(END);
            for &v in r
                .inputs
                .iter()
                .chain([&ValueId(u32::MAX)])
                .chain(&r.outputs)
            {
                if v == ValueId(u32::MAX) {
                    c.words.push(END);
                    continue;
                }
                c.words.push(u64::from(values.get(v)?.0));
            }
        }
        c.words.push(END);
        for &v in p.outputs {
            let id = c.map_value(g, &mut values, &mut made, v);
            c.words
                .push(u64::from(id.0) | (u64::from(g.keys.contains(&v)) << 32));
        }
        // The copy's input order: those of `p.inputs` it has, then the others as made.
        c.words.push(END);
        let mut ordered = vec![false; c.values.len()];
        let is_input = |id: ValueId, ordered: &[bool]| {
            made.binary_search(&id.0).is_ok() && !ordered[id.0 as usize]
        };
        for &v in p.inputs {
            if let Some(id) = values.get(v)
                && is_input(id, &ordered)
            {
                ordered[id.0 as usize] = true;
                c.words.push(u64::from(id.0));
            }
        }
        for &id in &made {
            if !ordered[id as usize] {
                c.words.push(u64::from(id));
            }
        }
        c.words.push(END | u64::from(p.remat));
        Some(c)
    }

    /// A value of the copy standing for `v` of the trace.
    fn new_value(&mut self, v: ValueId) -> ValueId {
        let id = ValueId(u32::try_from(self.values.len()).unwrap_or(u32::MAX));
        self.values.push(v);
        id
    }

    /// The copy of `v`, made an input (with its key flag) at its first use from outside.
    fn map_value(
        &mut self,
        g: &Graph,
        values: &mut Renumbering,
        made: &mut Vec<u32>,
        v: ValueId,
    ) -> ValueId {
        if let Some(id) = values.get(v) {
            return id;
        }
        let id = self.new_value(v);
        made.push(id.0);
        values.insert(v, id);
        self.words.push(INPUT | u64::from(g.keys.contains(&v)));
        id
    }

    /// The copy of region `r`, as `program::extract` maps it: made (after its parent) at
    /// its first node when it lies inside the span, else its parent's copy.
    fn map_region(
        &mut self,
        g: &Graph,
        regions: &mut IdMap<RegionId, RegionId>,
        r: RegionId,
        span: &Range<u32>,
    ) -> RegionId {
        if let Some(&mapped) = regions.get(&r) {
            return mapped;
        }
        let original = g.region(r);
        let parent = self.map_region(g, regions, original.parent, span);
        if !within(&original.nodes, span) {
            regions.insert(r, parent);
            return parent;
        }
        let id = RegionId(u32::try_from(self.regions.len()).unwrap_or(u32::MAX));
        self.regions.push(r);
        self.words.push(REGION | u64::from(parent.0));
        regions.insert(r, id);
        id
    }

    /// Feeds the form to `h`: its words, the specs of its values, the kinds of its
    /// primitives and regions. Equal programs hash alike; parameters are compared by
    /// [`Canonical::same`].
    fn hash(&self, g: &Graph, h: &mut Mix) {
        for &w in &self.words {
            h.write_u64(w);
        }
        for &v in &self.values {
            g.spec(v).hash(h);
        }
        for &n in &self.nodes {
            std::mem::discriminant(&g.node(n).prim).hash(h);
        }
        for &r in &self.regions[1..] {
            std::mem::discriminant(&g.region(r).kind).hash(h);
        }
    }

    /// The structural hash of the form alone (see [`Canonical::hash`]).
    pub(crate) fn digest(&self, g: &Graph) -> u64 {
        let mut h = Mix::default();
        self.hash(g, &mut h);
        h.finish()
    }

    /// Whether two spans of `g` extract to the same program: the memo's exact test.
    pub(crate) fn same(&self, other: &Canonical, g: &Graph) -> bool {
        self.words == other.words
            && self.nodes.len() == other.nodes.len()
            && self.values.len() == other.values.len()
            && self.regions.len() == other.regions.len()
            && self
                .values
                .iter()
                .zip(&other.values)
                .all(|(&a, &b)| g.spec(a) == g.spec(b))
            && self
                .nodes
                .iter()
                .zip(&other.nodes)
                .all(|(&a, &b)| g.node(a).prim == g.node(b).prim)
            && self
                .regions
                .iter()
                .zip(&other.regions)
                .all(|(&a, &b)| g.region(a).kind == g.region(b).kind)
    }
}

/// A fast, deterministic hasher for the structural hash (`FxHash`'s multiply-rotate).
#[derive(Default)]
struct Mix(u64);

impl Mix {
    const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;

    #[inline]
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(Mix::K);
    }
}

impl Hasher for Mix {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        for &b in chunks.remainder() {
            self.add(u64::from(b));
        }
    }

    fn write_u8(&mut self, n: u8) {
        self.add(u64::from(n));
    }

    fn write_u32(&mut self, n: u32) {
        self.add(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }

    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dtype::DType;
    use crate::ops::graph::{NodeTag, RegionId, Spec};
    use crate::ops::{Binary, Literal, Prim};

    /// A trace of `x + c` for each splat constant `c` of `values`, one span of two nodes
    /// each, all on the same input: the graph and, per span, its result.
    fn adds(values: &[f64]) -> (Graph, ValueId, Vec<ValueId>) {
        let spec = Spec::new(DType::F32, [2, 3]);
        let mut trace = Graph::default();
        let x = trace.add_input(spec.clone());
        let mut results = Vec::new();
        for &value in values {
            let constant = Prim::Constant {
                literal: Literal::Splat(value),
                spec: spec.clone(),
            };
            let c = trace.push_node(constant, [], [spec.clone()], RegionId::TOP, NodeTag::Plain);
            let y = trace.push_node(
                Prim::Binary(Binary::Add),
                [x, c[0]],
                [spec.clone()],
                RegionId::TOP,
                NodeTag::Plain,
            );
            results.push(y[0]);
        }
        (trace, x, results)
    }

    /// The program of span `k` (nodes `2k..2k+2`) of [`adds`].
    fn span<'a>(
        trace: &'a Graph,
        inputs: &'a [ValueId],
        outputs: &'a [ValueId],
        k: u32,
    ) -> SpanProgram<'a> {
        SpanProgram {
            graph: trace,
            span: 2 * k..2 * k + 2,
            inputs,
            outputs: &outputs[k as usize..=k as usize],
            remat: false,
        }
    }

    /// The question of `metrics` with the default options, in a row of its own.
    fn question<'a>(metrics: &'a [Metric], options: &'a MetricOptions) -> Question<'a> {
        Question {
            metrics,
            options,
            scope: RowScope {
                repeated: false,
                collapsed: false,
            },
        }
    }

    const FLOPS: &[Metric] = &[Metric::Flops];

    /// A memo that measured span 0 for `metrics`.
    fn memo_with(
        trace: &Graph,
        inputs: &[ValueId],
        outputs: &[ValueId],
        metrics: &[Metric],
    ) -> Memo {
        let mut memo = Memo::new(outputs.iter().map(|_| 2));
        let options = MetricOptions::default();
        let key = memo.key(
            &span(trace, inputs, outputs, 0),
            question(metrics, &options),
        );
        memo.insert(key, &Metrics::default());
        memo
    }

    #[test]
    fn an_equal_program_asked_the_same_question_is_a_hit() {
        let (trace, x, results) = adds(&[1.0, 1.0]);
        let mut memo = memo_with(&trace, &[x], &results, FLOPS);
        let options = MetricOptions::default();
        let again = memo.key(&span(&trace, &[x], &results, 1), question(FLOPS, &options));
        assert!(memo.get(again.as_ref(), &trace).is_some());
    }

    #[test]
    fn a_different_literal_or_question_is_a_miss() {
        // Equal as floats, but different literals (`1 / x` tells them apart): not the
        // same program, so they do not share an answer.
        let (trace, x, results) = adds(&[0.0, -0.0, 2.0, 0.0]);
        let mut memo = memo_with(&trace, &[x], &results, FLOPS);
        let options = MetricOptions::default();
        for (k, metrics, hit) in [
            (1, FLOPS, false),
            (2, FLOPS, false),
            (3, &[Metric::VjpFlops][..], false),
            (3, &[Metric::VjpFlops, Metric::Flops][..], false),
            (3, FLOPS, true),
        ] {
            let key = memo.key(
                &span(&trace, &[x], &results, k),
                question(metrics, &options),
            );
            assert_eq!(memo.get(key.as_ref(), &trace).is_some(), hit, "span {k}");
        }
    }

    #[test]
    fn an_output_that_differs_is_a_miss() {
        let (trace, x, results) = adds(&[1.0, 1.0]);
        let mut memo = memo_with(&trace, &[x], &results, FLOPS);
        let options = MetricOptions::default();
        // The same nodes, but the program also returns its input.
        let (inputs, outputs) = ([x], [results[1], x]);
        let wider = SpanProgram {
            outputs: &outputs,
            ..span(&trace, &inputs, &results, 1)
        };
        let key = memo.key(&wider, question(FLOPS, &options));
        assert!(memo.get(key.as_ref(), &trace).is_none());
    }

    #[test]
    fn a_program_of_a_unique_size_is_not_looked_up() {
        let (trace, x, results) = adds(&[1.0]);
        let mut memo = Memo::new([2, 7]);
        let options = MetricOptions::default();
        let key = memo.key(&span(&trace, &[x], &results, 0), question(FLOPS, &options));
        assert!(key.is_none());
    }
}
