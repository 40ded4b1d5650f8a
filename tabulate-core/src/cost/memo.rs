//! Identical subprograms are costed once. A row's program is extracted with its values,
//! regions and inputs renumbered from zero in emission order, so two calls that run the
//! same program up to renaming (GPT-2's twelve `h_i` blocks, their layers) extract to the
//! same graph. The memo keeps each program it measured and answers only for a program
//! *equal* to one of them — every op with its parameters (literals bit for bit), every
//! spec, region, input, output and key — asked the same question, so a hit returns
//! exactly the numbers costing it again would give. A structural hash (no text is
//! formatted) only picks the candidates to compare.

use std::collections::HashMap;
use std::fmt;
use std::hash::{Hash, Hasher};

use super::compose::Compose;
use super::metric::Metrics;
use crate::ops::graph::{Graph, Region};

/// The metrics of the programs costed so far in one run.
#[derive(Debug, Default)]
pub(crate) struct Memo {
    /// By structural hash: the programs measured (with their child program in
    /// `compose`, when they are one), the question and the answer.
    known: HashMap<u64, Vec<Known>>,
    /// How many of the run's programs have each node count: a program whose count is
    /// unique (the root's) cannot equal another, so it is not looked up.
    sizes: HashMap<usize, usize>,
    /// The child programs rows are composed from (`flops` of rows with child calls).
    pub(crate) compose: Compose,
}

/// A program measured: itself, its child program in `compose` (if it is one), the
/// question asked and the answer.
type Known = (Graph, Option<usize>, String, Metrics);

/// A program's memo key, with the question asked of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Key {
    hash: u64,
    question: String,
    /// The program's child program in `compose`, if it is one: equal blocks are equal
    /// programs, with no comparison.
    block: Option<usize>,
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
    /// and the row's scope). `None` when no other program of the run has as many nodes.
    /// `block`: the program is `compose`'s child program `block` (whose hash is known).
    pub(crate) fn key(
        &self,
        program: &Graph,
        question: &impl fmt::Debug,
        block: Option<usize>,
    ) -> Option<Key> {
        if self.sizes.get(&program.nodes.len()).copied().unwrap_or(0) < 2 {
            return None;
        }
        let question = format!("{question:?}");
        let mut h = Mix::default();
        question.hash(&mut h);
        let structure = block
            .and_then(|b| self.compose.block_hash(b))
            .unwrap_or_else(|| program_hash(program));
        h.write_u64(structure);
        Some(Key {
            hash: h.finish(),
            question,
            block,
        })
    }

    /// The metrics already measured for a program equal to `program` asked the same
    /// question.
    pub(crate) fn get(&self, key: Option<&Key>, program: &Graph) -> Option<&Metrics> {
        let key = key?;
        self.known
            .get(&key.hash)?
            .iter()
            .find_map(|(known, block, question, metrics)| {
                // Distinct blocks are distinct programs (`compose` keeps one per program).
                let same = match (block, key.block) {
                    (Some(a), Some(b)) => *a == b,
                    _ => same_program(known, program),
                };
                (*question == key.question && same).then_some(metrics)
            })
    }

    /// Remembers the metrics measured for `program` under `key`.
    pub(crate) fn insert(&mut self, key: Option<Key>, program: Graph, metrics: &Metrics) {
        if let Some(key) = key {
            self.known.entry(key.hash).or_default().push((
                program,
                key.block,
                key.question,
                metrics.clone(),
            ));
        }
    }
}

/// The structural hash of `g` alone: equal programs hash alike (compare them with
/// [`same_program`] before taking them as equal).
pub(crate) fn program_hash(g: &Graph) -> u64 {
    let mut h = Mix::default();
    structure_hash(g, &mut h);
    h.finish()
}

/// Feeds the shape of `g` to `h`: op kinds (not their parameters), operands, results,
/// regions, specs, inputs, outputs and keys. Equal programs hash alike; the parameters
/// are compared by [`same_program`].
fn structure_hash(g: &Graph, h: &mut Mix) {
    g.values.len().hash(h);
    for value in &g.values {
        value.spec.hash(h);
    }
    for node in &g.nodes {
        std::mem::discriminant(&node.prim).hash(h);
        for v in node.inputs.iter().chain(&node.outputs) {
            h.write_u32(v.0);
        }
        h.write_u32(node.region.0);
        h.write_u32(u32::MAX); // the end of a node
    }
    for r in &g.regions {
        std::mem::discriminant(&r.kind).hash(h);
        h.write_u32(r.parent.0);
        h.write_u32(r.nodes.start);
        h.write_u32(r.nodes.end);
        h.write_usize(r.inputs.len());
        h.write_usize(r.outputs.len());
    }
    for list in [&g.inputs, &g.outputs, &g.keys] {
        h.write_usize(list.len());
        for v in list {
            h.write_u32(v.0);
        }
    }
}

/// Whether two programs are the same: the memo's exact test.
pub(crate) fn same_program(a: &Graph, b: &Graph) -> bool {
    a.values.len() == b.values.len()
        && a.nodes.len() == b.nodes.len()
        && a.regions.len() == b.regions.len()
        && a.inputs == b.inputs
        && a.outputs == b.outputs
        && a.keys == b.keys
        && a.values
            .iter()
            .zip(&b.values)
            .all(|(x, y)| x.spec == y.spec)
        && a.nodes.iter().zip(&b.nodes).all(|(x, y)| {
            x.region == y.region
                && x.tag == y.tag
                && x.inputs == y.inputs
                && x.outputs == y.outputs
                && x.prim == y.prim
        })
        && a.regions
            .iter()
            .zip(&b.regions)
            .all(|(x, y)| same_region(x, y))
}

fn same_region(a: &Region, b: &Region) -> bool {
    a.kind == b.kind
        && a.parent == b.parent
        && a.literals_of == b.literals_of
        && a.nodes == b.nodes
        && a.inputs == b.inputs
        && a.outputs == b.outputs
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

    /// `x + c` with the splat constant `c`.
    fn add_constant(value: f64) -> Graph {
        let spec = Spec::new(DType::F32, [2, 3]);
        let mut program = Graph::default();
        let x = program.add_input(spec.clone());
        let constant = Prim::Constant {
            literal: Literal::Splat(value),
            spec: spec.clone(),
        };
        let constant_out = program.push_node(
            constant,
            Vec::new(),
            vec![spec.clone()],
            RegionId::TOP,
            NodeTag::Plain,
        );
        let y = program.push_node(
            Prim::Binary(Binary::Add),
            vec![x, constant_out[0]],
            vec![spec],
            RegionId::TOP,
            NodeTag::Plain,
        );
        program.outputs = y.to_vec();
        program
    }

    fn memo_with(program: &Graph, question: &str) -> Memo {
        let mut memo = Memo::new([program.nodes.len(), program.nodes.len()]);
        let key = memo.key(program, &question, None);
        memo.insert(key, program.clone(), &Metrics::default());
        memo
    }

    #[test]
    fn an_equal_program_asked_the_same_question_is_a_hit() {
        let memo = memo_with(&add_constant(1.0), "flops");
        let again = add_constant(1.0);
        assert!(
            memo.get(memo.key(&again, &"flops", None).as_ref(), &again)
                .is_some()
        );
    }

    #[test]
    fn a_different_literal_or_question_is_a_miss() {
        let memo = memo_with(&add_constant(0.0), "flops");
        // Equal as floats, but different literals (`1 / x` tells them apart): not the
        // same program, so they do not share an answer.
        let negative = add_constant(-0.0);
        assert!(
            memo.get(memo.key(&negative, &"flops", None).as_ref(), &negative)
                .is_none()
        );
        let other = add_constant(2.0);
        assert!(
            memo.get(memo.key(&other, &"flops", None).as_ref(), &other)
                .is_none()
        );
        let same = add_constant(0.0);
        assert!(
            memo.get(memo.key(&same, &"vjp_flops", None).as_ref(), &same)
                .is_none()
        );
    }

    #[test]
    fn a_program_of_a_unique_size_is_not_looked_up() {
        let program = add_constant(1.0);
        let memo = Memo::new([program.nodes.len(), 7]);
        assert!(memo.key(&program, &"flops", None).is_none());
    }
}
