//! The program behind `vjp_flops`: `vjp_fn(out)` after `jax.vjp(apply, variables, rngs,
//! inputs)`, with the forward output as its own cotangent. Every inexact input is
//! differentiated; an output that is an input returned unchanged (a variable in the
//! mutable state) seeds that input's cotangent directly, which is how the "+1 flop per
//! variable element" of Flax's passthrough arises.

use super::linearize::{J, JvpCx, Tape};
use super::transpose::{Cotangents, backward};
use crate::error::Result;
use crate::trace::graph::{Graph, NodeTag, Region, RegionId, RegionKind, ValueId};

/// Builds the VJP program of `forward` (a closed program with inputs and outputs).
pub(crate) fn vjp_program(forward: &Graph) -> Result<Graph> {
    let mut h = Graph::default();
    let mut tape = Tape::default();
    let mut primal: Vec<Option<ValueId>> = vec![None; forward.values.len()];
    let mut tangent: Vec<J> = vec![J::Zero; forward.values.len()];
    let mut differentiated = Vec::new();
    for &v in &forward.inputs {
        let spec = forward.spec(v).clone();
        let inexact = spec.dtype.is_inexact();
        let input = h.add_input(spec.clone());
        if forward.keys.contains(&v) {
            h.keys.push(input);
        }
        primal[v.0 as usize] = Some(input);
        if inexact {
            let t = tape.new_tangent(spec);
            tangent[v.0 as usize] = J::Tan(t);
            differentiated.push(t);
        }
    }
    let regions = mirror_regions(forward, &mut h);
    let get = |primal: &[Option<ValueId>], v: ValueId| {
        primal[v.0 as usize].expect("values are defined before use")
    };

    let mut i = 0u32;
    let count = u32::try_from(forward.nodes.len()).expect("graph exceeds 2^32 nodes");
    while i < count {
        if let Some(r) = forward.custom_region_starting_at(i, RegionId::TOP) {
            let region = forward.region(r);
            for n in region.nodes.clone() {
                copy_node(forward, &mut h, &mut primal, &regions, n);
            }
            let t_in: Vec<J> = region
                .inputs
                .iter()
                .map(|v| tangent[v.0 as usize])
                .collect();
            if t_in.iter().any(|t| !t.is_zero()) {
                let RegionKind::CustomJvp(rule) = region.kind else {
                    unreachable!("custom_region_starting_at returns custom-JVP regions")
                };
                let x: Vec<ValueId> = region.inputs.iter().map(|&v| get(&primal, v)).collect();
                let y: Vec<ValueId> = region.outputs.iter().map(|&v| get(&primal, v)).collect();
                let (fwd, bwd) = regions[region.parent.0 as usize];
                let mut cx = JvpCx {
                    h: &mut h,
                    tape: &mut tape,
                    forward_region: fwd,
                    backward_region: bwd,
                };
                let t_out = rule.jvp(&mut cx, &x, &y, &t_in)?;
                for (v, t) in region.outputs.iter().zip(t_out) {
                    tangent[v.0 as usize] = keep_if_inexact(forward, *v, t);
                }
            }
            i = region.nodes.end;
            continue;
        }
        let node = forward.node(i);
        copy_node(forward, &mut h, &mut primal, &regions, i);
        let t_in: Vec<J> = node.inputs.iter().map(|v| tangent[v.0 as usize]).collect();
        let any_inexact_out = node
            .outputs
            .iter()
            .any(|v| forward.spec(*v).dtype.is_inexact());
        if any_inexact_out && t_in.iter().any(|t| !t.is_zero()) {
            let x: Vec<ValueId> = node.inputs.iter().map(|&v| get(&primal, v)).collect();
            let y: Vec<ValueId> = node.outputs.iter().map(|&v| get(&primal, v)).collect();
            let (fwd, bwd) = regions[node.region.0 as usize];
            let mut cx = JvpCx {
                h: &mut h,
                tape: &mut tape,
                forward_region: fwd,
                backward_region: bwd,
            };
            let t_out = node.prim.jvp(&mut cx, &x, &y, &t_in)?;
            for (v, t) in node.outputs.iter().zip(t_out) {
                tangent[v.0 as usize] = keep_if_inexact(forward, *v, t);
            }
        }
        i += 1;
    }

    // `vjp_fn(out)`: each output is its own cotangent.
    let mut cts = Cotangents::new(&tape);
    for &o in &forward.outputs {
        if let J::Tan(t) = tangent[o.0 as usize] {
            cts.add(&mut h, t, get(&primal, o), RegionId::TOP)?;
        }
    }
    backward(&mut h, &tape, &mut cts)?;
    h.outputs = differentiated.iter().filter_map(|&t| cts.get(t)).collect();
    Ok(h)
}

/// Integer and boolean values carry no tangent (`float0`).
fn keep_if_inexact(graph: &Graph, v: ValueId, t: J) -> J {
    if graph.spec(v).dtype.is_inexact() {
        t
    } else {
        J::Zero
    }
}

fn copy_node(
    forward: &Graph,
    h: &mut Graph,
    primal: &mut [Option<ValueId>],
    regions: &[(RegionId, RegionId)],
    n: u32,
) {
    let node = forward.node(n);
    let inputs = node
        .inputs
        .iter()
        .map(|v| primal[v.0 as usize].expect("values are defined before use"))
        .collect();
    let specs = node
        .outputs
        .iter()
        .map(|&v| forward.spec(v).clone())
        .collect();
    let outs = h.push_node(
        node.prim.clone(),
        inputs,
        specs,
        regions[node.region.0 as usize].0,
        NodeTag::Plain,
    );
    for (&old, new) in node.outputs.iter().zip(outs) {
        primal[old.0 as usize] = Some(new);
    }
}

/// For each region of `forward`, a region of `h` for its forward ops and one for its
/// transposed ops (a transposed `jit` is a second call).
fn mirror_regions(forward: &Graph, h: &mut Graph) -> Vec<(RegionId, RegionId)> {
    let mut map = vec![(RegionId::TOP, RegionId::TOP)];
    for region in &forward.regions[1..] {
        let (pf, pb) = map[region.parent.0 as usize];
        let mut add = |parent: RegionId, literals_of: Option<RegionId>| {
            let id = RegionId(u32::try_from(h.regions.len()).expect("too many regions"));
            h.regions.push(Region {
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
