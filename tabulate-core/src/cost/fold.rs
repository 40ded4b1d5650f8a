//! What the MHLO canonicaliser does before XLA costs a module: fold ops on constants,
//! `x * 1`, `x + 0`, `x - 0` with splat constants, and same-dtype converts. Nothing else
//! (`reference/xla-cost-model.md` §4): `x / 1`, `x * 0`, `-(-x)` and repeated
//! subexpressions stay. Constants from outside a nested `jit` are call parameters inside
//! it, so they do not fold there.

use crate::ops::graph::{Graph, RegionId, RegionKind, ValueId};
use crate::ops::{Binary, Literal, Prim};

/// A value known at compile time.
#[derive(Clone, Copy, Debug)]
struct Known {
    /// Its elements' common value, when they are all equal and computable here.
    splat: Option<f64>,
    /// The nearest enclosing call region (or the top) where it was defined.
    scope: RegionId,
}

/// The outcome of folding: what each value became, and which nodes are gone.
#[derive(Debug)]
pub(crate) struct Folded {
    /// The value each value was replaced by (itself when kept).
    pub(crate) alias: Vec<ValueId>,
    /// Nodes folded away: they cost nothing and need nothing.
    pub(crate) removed: Vec<bool>,
}

pub(crate) fn fold(graph: &Graph) -> Folded {
    let mut alias: Vec<ValueId> = (0..graph.values.len())
        .map(|i| ValueId(u32::try_from(i).expect("graph exceeds 2^32 values")))
        .collect();
    let mut known: Vec<Option<Known>> = vec![None; graph.values.len()];
    let mut removed = vec![false; graph.nodes.len()];
    for (i, node) in graph.nodes.iter().enumerate() {
        let inputs: Vec<ValueId> = node.inputs.iter().map(|v| alias[v.0 as usize]).collect();
        let scope = call_scope(graph, node.region);
        let constant = |v: ValueId| known[v.0 as usize].filter(|k| k.scope == scope);
        if let Prim::Constant {
            literal: Literal::Splat(x),
            ..
        } = node.prim
        {
            known[node.outputs[0].0 as usize] = Some(Known {
                splat: Some(x),
                scope,
            });
            removed[i] = true;
            continue;
        }
        let out = node.outputs[0];
        if let Prim::Convert(to) = node.prim
            && graph.spec(inputs[0]).dtype == to
        {
            alias[out.0 as usize] = inputs[0];
            removed[i] = true;
            continue;
        }
        if node.prim.foldable() && node.outputs.len() == 1 && !inputs.is_empty() {
            let consts: Option<Vec<Known>> = inputs.iter().map(|&v| constant(v)).collect();
            if let Some(consts) = consts {
                let splats: Option<Vec<f64>> = consts.iter().map(|k| k.splat).collect();
                let splat = splats.and_then(|s| node.prim.evaluate(&s));
                known[out.0 as usize] = Some(Known { splat, scope });
                removed[i] = true;
                continue;
            }
        }
        if let Some(kept) = identity_operand(graph, &node.prim, &inputs, out, &constant) {
            alias[out.0 as usize] = kept;
            removed[i] = true;
        }
    }
    Folded { alias, removed }
}

/// The nearest enclosing call or loop region of `region` (or the top), as the scope whose
/// literals are visible: a transposed call sees its forward call's literals.
fn call_scope(graph: &Graph, mut region: RegionId) -> RegionId {
    while region != RegionId::TOP {
        let r = graph.region(region);
        if matches!(r.kind, RegionKind::Call(_) | RegionKind::Loop) {
            return r.literals_of.unwrap_or(region);
        }
        region = r.parent;
    }
    RegionId::TOP
}

/// `x * 1`, `1 * x`, `x + 0`, `0 + x` and `x - 0` are `x` (when no broadcast is involved).
fn identity_operand(
    graph: &Graph,
    prim: &Prim,
    inputs: &[ValueId],
    out: ValueId,
    constant: &impl Fn(ValueId) -> Option<Known>,
) -> Option<ValueId> {
    let Prim::Binary(op) = prim else { return None };
    let is = |v: ValueId, x: f64| constant(v).and_then(|k| k.splat) == Some(x);
    let same_shape = |v: ValueId| graph.spec(v) == graph.spec(out);
    let (a, b) = (inputs[0], inputs[1]);
    let keep = |kept: ValueId, other: ValueId, unit: f64| {
        (is(other, unit) && same_shape(kept)).then_some(kept)
    };
    match op {
        Binary::Mul => keep(a, b, 1.0).or_else(|| keep(b, a, 1.0)),
        Binary::Add => keep(a, b, 0.0).or_else(|| keep(b, a, 0.0)),
        Binary::Sub => keep(a, b, 0.0),
        _ => None,
    }
}
