//! Transposition, as JAX's `backward_pass` does it: walk the linear tape backwards; for
//! each op whose output has a cotangent, emit its transpose rule's ops; when a tangent
//! receives a second cotangent, emit an `add_any`.

use super::linearize::{TanId, Tape};
use crate::dtype::DType;
use crate::error::{Error, Result, Stage};
use crate::ops::graph::{Graph, NodeTag, RegionId, Spec, ValueId, ValueIds};
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
pub(crate) struct Cotangents {
    cts: Vec<Option<ValueId>>,
}

impl Cotangents {
    pub(crate) fn new(tape: &Tape) -> Cotangents {
        Cotangents {
            cts: vec![None; tape.specs.len()],
        }
    }

    /// Adds `ct` to tangent `t`'s cotangent, emitting an `add_any` if it already has one.
    pub(crate) fn add(
        &mut self,
        program: &mut Graph,
        t: TanId,
        ct: ValueId,
        region: RegionId,
    ) -> Result<()> {
        let slot = &mut self.cts[t.0 as usize];
        *slot = Some(match *slot {
            None => ct,
            Some(previous) => ValueId(
                program
                    .emit_ids(
                        Prim::Binary(Binary::Add),
                        &[previous, ct],
                        region,
                        NodeTag::AddAny,
                    )?
                    .start,
            ),
        });
        Ok(())
    }

    pub(crate) fn get(&self, t: TanId) -> Option<ValueId> {
        self.cts[t.0 as usize]
    }

    /// Replaces tangent `t`'s cotangent: what a part of the program transposed elsewhere
    /// made of it (`cost::compose`).
    pub(crate) fn set(&mut self, t: TanId, ct: Option<ValueId>) {
        self.cts[t.0 as usize] = ct;
    }

    /// Takes tangent `t`'s cotangent, as transposing the op that computes it does.
    pub(crate) fn take_ct(&mut self, t: TanId) -> Option<ValueId> {
        self.take(t)
    }

    fn take(&mut self, t: TanId) -> Option<ValueId> {
        self.cts[t.0 as usize].take()
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
        let out_cts: smallvec::SmallVec<[Option<ValueId>; 2]> =
            node.outs.iter().map(|&t| cts.take(t)).collect();
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
    Ok(())
}
