//! Linearisation, as `jax.linearize` does it for `jax.vjp`: the forward pass runs again,
//! each primitive followed by the residual ops its JVP rule computes from primal values,
//! while the rule's ops on tangents are recorded on a linear tape for transposition.
//!
//! JVP rules are written against [`JvpCx`]: an op whose operands are all primal values is
//! a residual and is emitted into the VJP program now; an op with a tangent operand is
//! linear and goes on the tape. This is JAX's partial evaluation, decided by data
//! dependence, so rules read like JAX's.

use smallvec::SmallVec;

use super::transpose::LinArg;
use crate::error::{Error, Result};
use crate::ops::graph::{Graph, NodeTag, RegionId, Spec, ValueId, ValueIds};
use crate::ops::{Binary, Literal, Prim, Unary};

/// A tangent on the linear tape.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct TanId(pub(crate) u32);

/// A value inside a JVP rule: a symbolic zero tangent, a primal value of the VJP
/// program, or a tangent on the tape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum J {
    Zero,
    Primal(ValueId),
    Tan(TanId),
}

impl J {
    pub(crate) fn is_zero(self) -> bool {
        self == J::Zero
    }
}

/// The tangents of one primitive's results: nearly always one, kept inline.
pub(crate) type Tangents = SmallVec<[J; 2]>;

/// One linear op: `outs = prim(args)`, linear in its tangent arguments.
#[derive(Clone, Debug)]
pub(crate) struct LinNode {
    pub(crate) prim: Prim,
    pub(crate) args: SmallVec<[LinArg; 4]>,
    /// One tangent per result (several only for `split`).
    pub(crate) outs: SmallVec<[TanId; 2]>,
    /// Where its transpose is emitted in the VJP program.
    pub(crate) region: RegionId,
}

/// The linear program, in the order the JVP rules emitted it.
#[derive(Debug, Default)]
pub(crate) struct Tape {
    pub(crate) nodes: Vec<LinNode>,
    pub(crate) specs: Vec<Spec>,
    /// Which forward primitive, applied by which user-level operation, the nodes from an
    /// index on linearise: `(first node, operation, primitive)`, in tape order.
    pub(crate) origins: Vec<(usize, Option<&'static str>, &'static str)>,
}

impl Tape {
    /// The nodes pushed from now on linearise primitive `prim`, applied by `operation`.
    pub(crate) fn mark(&mut self, operation: Option<&'static str>, prim: &'static str) {
        self.origins.push((self.nodes.len(), operation, prim));
    }

    /// The user-level operation and the primitive that node `index` linearises.
    pub(crate) fn origin_of(&self, index: usize) -> (Option<&'static str>, &'static str) {
        let after = self.origins.partition_point(|&(start, ..)| start <= index);
        after
            .checked_sub(1)
            .map_or((None, "vjp"), |i| (self.origins[i].1, self.origins[i].2))
    }

    pub(crate) fn new_tangent(&mut self, spec: Spec) -> TanId {
        let id = TanId(u32::try_from(self.specs.len()).expect("tape exceeds 2^32 tangents"));
        self.specs.push(spec);
        id
    }

    pub(crate) fn spec(&self, t: TanId) -> &Spec {
        &self.specs[t.0 as usize]
    }
}

/// What a JVP rule writes to.
pub(crate) struct JvpCx<'a> {
    pub(crate) program: &'a mut Graph,
    pub(crate) tape: &'a mut Tape,
    /// Region of the VJP program for residual ops.
    pub(crate) forward_region: RegionId,
    /// Region of the VJP program for the transposes of linear ops.
    pub(crate) backward_region: RegionId,
}

impl JvpCx<'_> {
    pub(crate) fn spec(&self, v: ValueId) -> Spec {
        self.program.spec(v).clone()
    }

    fn spec_of(&self, j: J) -> Option<Spec> {
        match j {
            J::Zero => None,
            J::Primal(v) => Some(self.spec(v)),
            J::Tan(t) => Some(self.tape.spec(t).clone()),
        }
    }

    /// A residual: `prim` on primal values, emitted into the forward half now.
    pub(crate) fn primal(&mut self, prim: Prim, inputs: &[ValueId]) -> Result<ValueId> {
        let out = self
            .program
            .emit_ids(prim, inputs, self.forward_region, NodeTag::Plain)?;
        Ok(ValueId(out.start))
    }

    /// A literal of `v`'s spec with every element `value` (`full_like`).
    pub(crate) fn full_like(&mut self, v: ValueId, value: f64) -> Result<ValueId> {
        let spec = self.spec(v);
        self.literal(value, spec)
    }

    /// A literal scalar broadcast to `v`'s rank (a promoted Python scalar).
    pub(crate) fn full_like_rank(&mut self, v: ValueId, value: f64) -> Result<ValueId> {
        let spec = self.spec(v);
        let ones = vec![1; spec.rank()];
        self.literal(value, spec.with_shape(ones))
    }

    fn literal(&mut self, value: f64, spec: Spec) -> Result<ValueId> {
        self.primal(
            Prim::Constant {
                literal: Literal::Splat(value),
                spec,
            },
            &[],
        )
    }

    /// `prim` applied to `args`: a residual when all are primal, a linear op when one is
    /// a tangent, a zero when a zero tangent meets only primal values.
    pub(crate) fn apply(&mut self, prim: Prim, args: &[J]) -> Result<J> {
        Ok(self.apply_some(prim, args)?.swap_remove(0))
    }

    /// [`JvpCx::apply`] for a primitive with several results.
    pub(crate) fn apply_multi(&mut self, prim: Prim, args: &[J]) -> Result<Tangents> {
        self.apply_some(prim, args)
    }

    /// [`JvpCx::apply_multi`], its results inline.
    fn apply_some(&mut self, prim: Prim, args: &[J]) -> Result<Tangents> {
        let has_tangent = args.iter().any(|a| matches!(a, J::Tan(_)));
        if !has_tangent {
            let primals: Option<ValueIds> = args
                .iter()
                .map(|a| match a {
                    J::Primal(v) => Some(*v),
                    _ => None,
                })
                .collect();
            let Some(primals) = primals else {
                return Ok(smallvec::smallvec![J::Zero; prim.result_count(args.len())]);
            };
            let outs =
                self.program
                    .emit_ids(prim, &primals, self.forward_region, NodeTag::Plain)?;
            return Ok(outs.map(|v| J::Primal(ValueId(v))).collect());
        }
        let specs = {
            let (program, tape) = (&*self.program, &*self.tape);
            let refs = args
                .iter()
                .map(|&a| match a {
                    J::Zero => None,
                    J::Primal(v) => Some(program.spec(v)),
                    J::Tan(t) => Some(tape.spec(t)),
                })
                .collect::<Option<SmallVec<[&Spec; 4]>>>()
                .ok_or_else(|| {
                    Error::internal(format!("a zero tangent reached linear `{}`", prim.name()))
                })?;
            prim.infer_specs(&refs)?
        };
        let mut outs: SmallVec<[TanId; 2]> = SmallVec::new();
        for spec in specs {
            outs.push(self.tape.new_tangent(spec));
        }
        let args = args
            .iter()
            .map(|a| match *a {
                J::Tan(t) => LinArg::Tan(t),
                J::Primal(v) => LinArg::Primal(v),
                J::Zero => unreachable!("rejected above"),
            })
            .collect();
        let tangents = outs.iter().map(|&t| J::Tan(t)).collect();
        self.tape.nodes.push(LinNode {
            prim,
            args,
            outs,
            region: self.backward_region,
        });
        Ok(tangents)
    }

    /// Tangents with each zero replaced by zeros of its primal's spec
    /// (`instantiate_zeros`).
    pub(crate) fn instantiate_zeros(
        &mut self,
        tangents: &[J],
        primals: &[ValueId],
    ) -> Result<Vec<J>> {
        tangents
            .iter()
            .zip(primals)
            .map(|(&t, &p)| {
                if t.is_zero() {
                    Ok(J::Primal(self.full_like(p, 0.0)?))
                } else {
                    Ok(t)
                }
            })
            .collect()
    }

    /// The sum of two tangent contributions (`add_tangents`, an `add_any`).
    pub(crate) fn add_tangents(&mut self, a: J, b: J) -> Result<J> {
        match (a, b) {
            (J::Zero, other) | (other, J::Zero) => Ok(other),
            _ => self.apply(Prim::Binary(Binary::Add), &[a, b]),
        }
    }

    pub(crate) fn mul(&mut self, a: J, b: J) -> Result<J> {
        if a.is_zero() || b.is_zero() {
            return Ok(J::Zero);
        }
        self.apply(Prim::Binary(Binary::Mul), &[a, b])
    }

    pub(crate) fn div(&mut self, a: J, b: J) -> Result<J> {
        if a.is_zero() {
            return Ok(J::Zero);
        }
        self.apply(Prim::Binary(Binary::Div), &[a, b])
    }

    pub(crate) fn neg(&mut self, a: J) -> Result<J> {
        if a.is_zero() {
            return Ok(J::Zero);
        }
        self.apply(Prim::Unary(Unary::Neg), &[a])
    }

    /// `_maybe_broadcast`: a tangent brought to the shape of `like` (an elementwise result).
    pub(crate) fn broadcast_tangent(&mut self, t: J, like: ValueId) -> Result<J> {
        let Some(spec) = self.spec_of(t) else {
            return Ok(J::Zero);
        };
        let target = self.spec(like).shape;
        if spec.shape == target {
            return Ok(t);
        }
        if spec.rank() == 0 {
            return self.apply(
                Prim::BroadcastInDim {
                    shape: target,
                    dims: super::Axes::new(),
                },
                &[t],
            );
        }
        let dims: Vec<usize> = (0..spec.rank())
            .filter(|&i| spec.dims()[i] == target.dims()[i])
            .collect();
        let squeezed: Vec<usize> = dims.iter().map(|&i| spec.dims()[i]).collect();
        let t = self.apply(
            Prim::Reshape {
                shape: squeezed.into(),
            },
            &[t],
        )?;
        self.apply(
            Prim::BroadcastInDim {
                shape: target,
                dims: dims.into(),
            },
            &[t],
        )
    }
}
