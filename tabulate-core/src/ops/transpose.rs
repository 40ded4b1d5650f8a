//! Transposition, as JAX's `backward_pass` does it: walk the linear tape backwards; for
//! each op whose output has a cotangent, emit its transpose rule's ops; when a tangent
//! receives a second cotangent, emit an `add_any`.

use super::linearize::{TanId, Tape};
use crate::dtype::DType;
use crate::error::{Error, Result, Stage};
use crate::ops::graph::{Graph, NodeTag, RegionId, RegionKind, Spec, ValueId, ValueIds};
use crate::ops::{Binary, Literal, Prim, ReduceOp};
use crate::shape::Shape;

/// The cotangents a transpose rule gives its operands (`None` for an operand that is not
/// linear or gets none): one or two, kept inline.
pub(crate) type Cts = smallvec::SmallVec<[Option<ValueId>; 2]>;

/// An argument of a linear op: a tangent (the op is linear in it) or a primal value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LinArg {
    Tan(TanId),
    Primal(ValueId),
}

/// What a transpose rule writes to.
pub(crate) struct TransposeCx<'a> {
    program: &'a mut Graph,
    tape: &'a Tape,
    region: RegionId,
}

impl TransposeCx<'_> {
    pub(crate) fn emit(&mut self, prim: Prim, inputs: &[ValueId]) -> Result<ValueId> {
        let outs = self
            .program
            .emit_ids(prim, inputs, self.region, NodeTag::Plain)?;
        Ok(ValueId(outs.start))
    }

    /// Emits a primitive with several results.
    pub(crate) fn emit_multi(&mut self, prim: Prim, inputs: &[ValueId]) -> Result<ValueIds> {
        self.program
            .emit(prim, inputs.iter().copied(), self.region, NodeTag::Plain)
    }

    /// The spec of an argument of the op being transposed.
    pub(crate) fn spec(&self, arg: LinArg) -> Spec {
        match arg {
            LinArg::Tan(t) => self.tape.spec(t).clone(),
            LinArg::Primal(v) => self.program.spec(v).clone(),
        }
    }

    pub(crate) fn value_spec(&self, v: ValueId) -> Spec {
        self.program.spec(v).clone()
    }

    /// A literal scalar.
    pub(crate) fn scalar(&mut self, value: f64, dtype: DType) -> Result<ValueId> {
        self.emit(
            Prim::Constant {
                literal: Literal::Splat(value),
                spec: Spec::new(dtype, Shape::scalar()),
            },
            &[],
        )
    }

    /// Zeros of `v`'s spec (`full_like(v, 0)`).
    pub(crate) fn zeros_like(&mut self, v: ValueId) -> Result<ValueId> {
        let spec = self.value_spec(v);
        self.emit(
            Prim::Constant {
                literal: Literal::Splat(0.0),
                spec,
            },
            &[],
        )
    }

    /// Copies `fragment` (a closed program) here with `inputs` as its inputs; returns the
    /// copies of its outputs. Its regions become regions nested in this one.
    pub(crate) fn inline(&mut self, fragment: &Graph, inputs: &[ValueId]) -> Result<Vec<ValueId>> {
        let mut values: std::collections::HashMap<ValueId, ValueId> = fragment
            .inputs
            .iter()
            .copied()
            .zip(inputs.iter().copied())
            .collect();
        let mut regions = vec![self.region];
        for region in &fragment.regions[1..] {
            let id = RegionId(
                u32::try_from(self.program.regions.len())
                    .map_err(|_| crate::error::Error::internal("too many regions"))?,
            );
            self.program.regions.push(crate::ops::graph::Region {
                kind: region.kind.clone(),
                parent: regions[region.parent.0 as usize],
                literals_of: region.literals_of.map(|r| regions[r.0 as usize]),
                nodes: 0..0,
                inputs: Vec::new(),
                outputs: Vec::new(),
            });
            regions.push(id);
        }
        let value = |values: &std::collections::HashMap<ValueId, ValueId>, v: &ValueId| {
            values
                .get(v)
                .copied()
                .ok_or_else(|| crate::error::Error::internal("an inlined value is not defined"))
        };
        for node in &fragment.nodes {
            let ins = node
                .inputs
                .iter()
                .map(|v| value(&values, v))
                .collect::<Result<ValueIds>>()?;
            let specs = node.outputs.iter().map(|&v| fragment.spec(v).clone());
            let outs = self.program.push_node(
                node.prim.clone(),
                ins,
                specs,
                regions[node.region.0 as usize],
                node.tag,
            );
            for (&old, new) in node.outputs.iter().zip(outs) {
                values.insert(old, new);
            }
        }
        for (k, region) in fragment.regions.iter().enumerate().skip(1) {
            let ins = region
                .inputs
                .iter()
                .filter_map(|v| values.get(v).copied())
                .collect();
            let outs = region
                .outputs
                .iter()
                .filter_map(|v| values.get(v).copied())
                .collect();
            let target = &mut self.program.regions[regions[k].0 as usize];
            target.inputs = ins;
            target.outputs = outs;
        }
        fragment.outputs.iter().map(|v| value(&values, v)).collect()
    }

    /// `_unbroadcast`: sums a cotangent over the dimensions its operand was broadcast
    /// along, back to the operand's shape.
    pub(crate) fn unbroadcast(&mut self, ct: ValueId, operand: LinArg) -> Result<ValueId> {
        let target = self.spec(operand);
        let have = self.value_spec(ct);
        if have.shape == target.shape {
            return Ok(ct);
        }
        let axes: Vec<usize> = if target.rank() == 0 {
            (0..have.rank()).collect()
        } else {
            (0..have.rank())
                .filter(|&i| have.dims()[i] != target.dims()[i])
                .collect()
        };
        let summed = self.emit(
            Prim::Reduce {
                op: ReduceOp::Sum,
                axes: axes.into(),
            },
            &[ct],
        )?;
        if self.value_spec(summed).shape == target.shape {
            return Ok(summed);
        }
        self.emit(
            Prim::Reshape {
                shape: target.shape,
            },
            &[summed],
        )
    }
}

/// The cotangents reaching each tangent, as they accumulate.
///
/// JAX transposes a nested `jit` as one equation: the cotangents its body gives one of
/// its operands are summed inside the transposed call, and that sum is added to the
/// operand's other cotangents after the call, in the caller. So a tangent's cotangent is
/// kept as a stack of partial sums, one per nest of calls its contributions came from
/// (outermost first); a contribution from outside a partial sum's calls first closes it,
/// adding it to the sum of the enclosing calls in the region that holds the call.
pub(crate) struct Cotangents {
    cts: Vec<Vec<Partial>>,
}

/// A partial sum of a tangent's cotangent: the contributions from inside `calls` (the
/// call regions around them, outermost first).
struct Partial {
    calls: Vec<RegionId>,
    value: ValueId,
}

/// `add_any(a, b)` in `region`: one step of a cotangent's sum.
fn add_any(program: &mut Graph, a: ValueId, b: ValueId, region: RegionId) -> Result<ValueId> {
    let added = program.emit_ids(Prim::Binary(Binary::Add), &[a, b], region, NodeTag::AddAny)?;
    Ok(ValueId(added.start))
}

/// The call regions around `region`, outermost first.
fn calls_around(program: &Graph, mut region: RegionId) -> Vec<RegionId> {
    let mut calls = Vec::new();
    while region != RegionId::TOP {
        let r = program.region(region);
        if matches!(r.kind, RegionKind::Call(_)) {
            calls.push(region);
        }
        region = r.parent;
    }
    calls.reverse();
    calls
}

impl Cotangents {
    pub(crate) fn new(tape: &Tape) -> Cotangents {
        Cotangents {
            cts: (0..tape.specs.len()).map(|_| Vec::new()).collect(),
        }
    }

    /// Adds `ct` (computed in `region`) to tangent `t`'s cotangent, emitting an `add_any`
    /// if it already has one: in `region` if the earlier contributions came from the
    /// same calls, else (see [`Cotangents`]) after closing the partial sums of calls
    /// `region` is not in.
    pub(crate) fn add(
        &mut self,
        program: &mut Graph,
        t: TanId,
        ct: ValueId,
        region: RegionId,
    ) -> Result<()> {
        let calls = calls_around(program, region);
        Self::close(program, &mut self.cts[t.0 as usize], &calls)?;
        let stack = &mut self.cts[t.0 as usize];
        match stack.last_mut() {
            Some(top) if top.calls == calls => {
                top.value = add_any(program, top.value, ct, region)?;
            }
            _ => stack.push(Partial { calls, value: ct }),
        }
        Ok(())
    }

    /// Closes the partial sums in `stack` whose calls are not around `calls`: each is
    /// added to the sum of its enclosing calls, after its outermost call (in the region
    /// holding that call).
    fn close(program: &mut Graph, stack: &mut Vec<Partial>, calls: &[RegionId]) -> Result<()> {
        while let Some(top) = stack.last() {
            if calls.starts_with(&top.calls) {
                break;
            }
            let Some(Partial {
                calls: mut outer,
                value,
            }) = stack.pop()
            else {
                break;
            };
            let Some(call) = outer.pop() else {
                // The empty nest is around every region, so it is never closed.
                return Err(Error::internal("a cotangent's top-level sum was closed"));
            };
            match stack.last_mut() {
                Some(below) if below.calls == outer => {
                    let region = program.region(call).parent;
                    below.value = add_any(program, below.value, value, region)?;
                }
                _ => stack.push(Partial {
                    calls: outer,
                    value,
                }),
            }
        }
        Ok(())
    }

    /// Closes every partial sum: each tangent's cotangent becomes one value.
    pub(crate) fn finish(&mut self, program: &mut Graph) -> Result<()> {
        for stack in &mut self.cts {
            if stack.len() > 1 || stack.last().is_some_and(|p| !p.calls.is_empty()) {
                Self::close(program, stack, &[])?;
            }
        }
        Ok(())
    }

    /// Tangent `t`'s cotangent (after [`Cotangents::finish`]).
    pub(crate) fn get(&self, t: TanId) -> Option<ValueId> {
        self.cts[t.0 as usize].last().map(|p| p.value)
    }

    /// Replaces tangent `t`'s cotangent: what a part of the program transposed elsewhere
    /// made of it (`cost::compose`).
    pub(crate) fn set(&mut self, t: TanId, ct: Option<ValueId>) {
        let stack = &mut self.cts[t.0 as usize];
        stack.clear();
        stack.extend(ct.map(|value| Partial {
            calls: Vec::new(),
            value,
        }));
    }

    /// Takes tangent `t`'s cotangent, as transposing the op that computes it does
    /// (after [`Cotangents::finish`]).
    pub(crate) fn take_ct(&mut self, t: TanId) -> Option<ValueId> {
        self.cts[t.0 as usize].pop().map(|p| p.value)
    }

    /// Takes tangent `t`'s cotangent, closing its partial sums first.
    fn take(&mut self, program: &mut Graph, t: TanId) -> Result<Option<ValueId>> {
        let stack = &mut self.cts[t.0 as usize];
        Self::close(program, stack, &[])?;
        Ok(stack.pop().map(|p| p.value))
    }
}

/// Walks `tape` backwards from the cotangents already in `cts`, emitting transposes into `program`.
pub(crate) fn backward(program: &mut Graph, tape: &Tape, cts: &mut Cotangents) -> Result<()> {
    backward_range(program, tape, cts, 0..tape.nodes.len())
}

/// [`backward`] over the tape's nodes `range` only (the last first).
pub(crate) fn backward_range(
    program: &mut Graph,
    tape: &Tape,
    cts: &mut Cotangents,
    range: std::ops::Range<usize>,
) -> Result<()> {
    for (index, node) in tape.nodes[range.clone()]
        .iter()
        .enumerate()
        .map(|(i, node)| (range.start + i, node))
        .rev()
    {
        let out_cts = node
            .outs
            .iter()
            .map(|&t| cts.take(program, t))
            .collect::<Result<smallvec::SmallVec<[Option<ValueId>; 2]>>>()?;
        if out_cts.iter().all(Option::is_none) {
            continue;
        }
        // Errors name the user-level operation whose derivative this is.
        let located = |e: Error| {
            let (operation, prim) = tape.origin_of(index);
            e.in_operation(operation, prim, Stage::Differentiate)
        };
        let from = program.nodes.len();
        let mut cx = TransposeCx {
            program,
            tape,
            region: node.region,
        };
        let contributions = match out_cts.as_slice() {
            [Some(ct)] => node.prim.transpose(&mut cx, *ct, &node.args),
            _ => node.prim.transpose_multi(&mut cx, &out_cts, &node.args),
        }
        .map_err(located)?;
        // The transposed loop entry ends the backward loop: what it hands out are the
        // loop's results, so their sums with other cotangents come after the loop.
        let region = if matches!(node.prim, Prim::LoopEntry { .. }) {
            program.region(node.region).parent
        } else {
            node.region
        };
        for (arg, contribution) in node.args.iter().zip(contributions) {
            if let (LinArg::Tan(t), Some(c)) = (arg, contribution) {
                cts.add(program, *t, c, region).map_err(located)?;
            }
        }
        program.set_origins(from, tape.origin_of(index).0);
    }
    cts.finish(program)
}
