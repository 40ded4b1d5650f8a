//! `jax.checkpoint` (Flax's `nn.remat`): a function whose forward pass is not kept for
//! the backward pass but recomputed there. JAX's partial evaluation of `remat2` puts
//! only the primal ops in the forward half and stages the function's JVP — its primal
//! ops again, with the residuals the linear part needs, then the linear part — into the
//! backward half, behind an `optimization_barrier` over the residual inputs and the
//! output cotangents (`prevent_cse=True`, the default) so that XLA cannot reuse the
//! forward values.
//!
//! On the linear tape a checkpointed function is one [`Prim::Remat`] node holding that
//! staged program (the *fragment*, built by `cost/vjp.rs`); its transpose inlines the
//! fragment where the backward pass reaches it.

use std::sync::Arc;

use super::Prim;
use super::graph::{Graph, Spec, ValueId};
use super::structural::Literal;
use super::transpose::{LinArg, TransposeCx};
use crate::error::{Error, Result};

/// A checkpointed function on the linear tape.
#[derive(Clone, Debug)]
pub(crate) struct RematRule {
    /// The recomputation and transpose: inputs are the residuals (the function's
    /// inputs, in its argument order), then one cotangent per result with a tangent;
    /// outputs are the cotangents of the differentiated inputs that get one.
    pub(crate) fragment: Arc<Graph>,
    /// How many of the fragment's inputs are residuals (the rest are cotangents).
    pub(crate) residuals: usize,
    /// Per residual: whether the fragment reads it once dead code is removed (JAX's
    /// `dce_jaxpr` of the staged function drops the others from its operands).
    pub(crate) used: Vec<bool>,
    /// Per tangent operand of the tape node: whether the fragment returns its cotangent.
    pub(crate) returns: Vec<bool>,
    /// `prevent_cse`: put the recomputation behind an `optimization_barrier`.
    pub(crate) prevent_cse: bool,
}

impl PartialEq for RematRule {
    fn eq(&self, other: &RematRule) -> bool {
        Arc::ptr_eq(&self.fragment, &other.fragment)
    }
}

impl RematRule {
    /// The tape node's results: the tangents of the function's results.
    pub(crate) fn results(&self) -> usize {
        self.fragment.inputs.len() - self.residuals
    }

    /// The specs of those results (the fragment's cotangent inputs).
    pub(crate) fn result_specs(&self) -> Vec<Spec> {
        self.fragment.inputs[self.residuals..]
            .iter()
            .map(|&v| self.fragment.spec(v).clone())
            .collect()
    }
}

/// Transposes a checkpointed function: the residuals and output cotangents (zeros where
/// none reached it, as JAX instantiates them) go through the barrier, then the fragment
/// runs on them.
pub(crate) fn remat_transpose(
    rule: &RematRule,
    cx: &mut TransposeCx<'_>,
    cts: &[Option<ValueId>],
    args: &[LinArg],
) -> Result<crate::ops::transpose::Cts> {
    let fragment = &rule.fragment;
    let mut residuals = Vec::with_capacity(rule.residuals);
    for arg in &args[..rule.residuals] {
        let LinArg::Primal(v) = *arg else {
            return Err(Error::internal("a remat residual is not a primal value"));
        };
        residuals.push(v);
    }
    let mut cotangents = Vec::with_capacity(cts.len());
    for (k, ct) in cts.iter().enumerate() {
        let ct = if let Some(ct) = ct {
            *ct
        } else {
            let spec = fragment.spec(fragment.inputs[rule.residuals + k]).clone();
            cx.emit(
                Prim::Constant {
                    literal: Literal::Splat(0.0),
                    spec,
                },
                &[],
            )?
        };
        cotangents.push(ct);
    }
    let mut inputs = residuals.clone();
    inputs.extend(cotangents.iter().copied());
    if rule.prevent_cse {
        // The barrier's operands: the residuals the staged function reads, then the
        // cotangents.
        let through: Vec<usize> = (0..rule.residuals)
            .filter(|&i| rule.used[i])
            .chain(rule.residuals..inputs.len())
            .collect();
        let operands: Vec<ValueId> = through.iter().map(|&i| inputs[i]).collect();
        if !operands.is_empty() {
            let outs = cx.emit_multi(Prim::OptimizationBarrier, &operands)?;
            for (&i, v) in through.iter().zip(outs) {
                inputs[i] = v;
            }
        }
    }
    let outputs = cx.inline(fragment, &inputs)?;
    let mut result = vec![None; args.len()];
    let mut next = outputs.into_iter();
    for (k, &returns) in rule.returns.iter().enumerate() {
        if returns {
            result[rule.residuals + k] = next.next();
        }
    }
    Ok(result.into())
}
