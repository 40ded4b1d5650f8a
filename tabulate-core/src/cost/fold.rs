//! What the MHLO canonicaliser does before XLA costs a module: fold ops on constants,
//! `x * 1`, `x + 0`, `x - 0` with splat constants, and same-dtype converts. Nothing else
//! (`reference/xla-cost-model.md` §4): `x / 1`, `x * 0`, `-(-x)` and repeated
//! subexpressions stay. Constants from outside a nested `jit` are call parameters inside
//! it, so they do not fold there.

use crate::ops::graph::{Graph, RegionId, RegionKind, ValueId, ValueIds};
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
    /// The node computing each value (`None` for inputs): the cost walk needs it too.
    pub(crate) producer: Vec<Option<usize>>,
}

pub(crate) fn fold(graph: &Graph) -> Folded {
    let mut alias: Vec<ValueId> = (0..graph.values.len())
        .map(|i| ValueId(u32::try_from(i).expect("graph exceeds 2^32 values")))
        .collect();
    let mut known: Vec<Option<Known>> = vec![None; graph.values.len()];
    let mut removed = vec![false; graph.nodes.len()];
    let producer = producers(graph);
    // Each region's call scope, found once (regions are few; nodes ask for it).
    let scopes: Vec<RegionId> = (0..graph.regions.len())
        .map(|r| call_scope(graph, RegionId(u32::try_from(r).unwrap_or(u32::MAX))))
        .collect();
    for (i, node) in graph.nodes.iter().enumerate() {
        let mut inputs = ValueIds::new();
        for v in &node.inputs {
            inputs.push(alias[v.0 as usize]);
        }
        let scope = scopes[node.region.0 as usize];
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
        if let Some(parts) = concat_parts(graph, &producer, &removed, &alias, &inputs, scope)
            && let Some(picked) = pieces_of_concat(graph, &node.prim, &node.outputs, &parts)
        {
            for (out, operand) in node.outputs.iter().zip(picked) {
                alias[out.0 as usize] = operand;
            }
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
    Folded {
        alias,
        removed,
        producer,
    }
}

/// The node computing each value of `graph` (`None` for its inputs).
fn producers(graph: &Graph) -> Vec<Option<usize>> {
    let mut producer: Vec<Option<usize>> = vec![None; graph.values.len()];
    for (i, node) in graph.nodes.iter().enumerate() {
        for v in &node.outputs {
            producer[v.0 as usize] = Some(i);
        }
    }
    producer
}

/// The nearest enclosing call or loop region of `region` (or the top), as the scope whose
/// literals are visible: a transposed call sees its forward call's literals.
/// The operands of the `concatenate` producing `inputs[0]` with the axis and each
/// operand's offset along it, when that `concatenate` is live and in the same function.
fn concat_parts(
    graph: &Graph,
    producer: &[Option<usize>],
    removed: &[bool],
    alias: &[ValueId],
    inputs: &[ValueId],
    scope: RegionId,
) -> Option<(usize, Vec<(ValueId, usize)>)> {
    let p = producer[inputs.first()?.0 as usize]?;
    let concat = &graph.nodes[p];
    let Prim::Concatenate { axis } = concat.prim else {
        return None;
    };
    if removed[p] || call_scope(graph, concat.region) != scope {
        return None;
    }
    let mut offset = 0;
    let parts = concat
        .inputs
        .iter()
        .map(|&v| {
            let v = alias[v.0 as usize];
            let start = offset;
            offset += graph.spec(v).shape.dims()[axis];
            (v, start)
        })
        .collect();
    Some((axis, parts))
}

/// The canonicaliser's `slice(concatenate(a, b, …))` fold: a slice (or each result of
/// a `split`) that is exactly one operand of the `concatenate` is that operand — how
/// the transpose of a `concatenate` applied to its own output reads its pieces.
fn pieces_of_concat(
    graph: &Graph,
    prim: &Prim,
    outputs: &[ValueId],
    (axis, parts): &(usize, Vec<(ValueId, usize)>),
) -> Option<Vec<ValueId>> {
    let axis = *axis;
    let find = |start: usize, out: ValueId| {
        parts
            .iter()
            .find(|&&(v, offset)| offset == start && graph.spec(v) == graph.spec(out))
            .map(|&(v, _)| v)
    };
    match prim {
        Prim::Slice { start, strides, .. } => {
            let whole_elsewhere = start.iter().enumerate().all(|(d, &s)| d == axis || s == 0);
            if !whole_elsewhere || strides.iter().any(|&s| s != 1) {
                return None;
            }
            Some(vec![find(start[axis], *outputs.first()?)?])
        }
        Prim::Split { axis: a, sizes } if *a == axis => {
            let mut offset = 0;
            sizes
                .iter()
                .zip(outputs)
                .map(|(&size, &out)| {
                    let piece = find(offset, out);
                    offset += size;
                    piece
                })
                .collect()
        }
        _ => None,
    }
}

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

/// `x * 1`, `1 * x`, `x + 0`, `0 + x`, `x - 0` and `x & true` are `x` (when no broadcast
/// is involved); a `pad` of zero widths everywhere is its operand (the canonicaliser's
/// `PadOp` fold: `jnp.pad` of zero widths, whose padding value is then dead).
fn identity_operand(
    graph: &Graph,
    prim: &Prim,
    inputs: &[ValueId],
    out: ValueId,
    constant: &impl Fn(ValueId) -> Option<Known>,
) -> Option<ValueId> {
    if let Prim::Pad {
        low,
        high,
        interior,
    } = prim
    {
        let zero = low.iter().chain(high).all(|&p| p == 0) && interior.iter().all(|&p| p == 0);
        return (zero && graph.spec(inputs[0]) == graph.spec(out)).then_some(inputs[0]);
    }
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
        // `stablehlo.and` with an all-true splat (JAX's `jnp.ones_like(…, bool)` mask).
        Binary::And => keep(a, b, 1.0).or_else(|| keep(b, a, 1.0)),
        _ => None,
    }
}
