//! `vmap` of a module call, as JAX batches it. Flax's lifted `vmap` records the module's
//! call at per-example shapes (its row, which Flax costs on the module alone); the
//! program around it runs the batched computation. So the call is recorded as it is,
//! then its nodes are replayed here with JAX's batching rules, with the batch dimension
//! kept in front: the replay's nodes are the ones the enclosing calls use, the
//! per-example ones are dead code there. Ops that read no batched value are not
//! replayed (JAX runs them once, unbatched). Variables of a collection with an axis are
//! stored batched (their shape is what the rows show); the call reads a per-example
//! view.

use std::collections::HashMap;

use super::{Trace, VarId, with_trace};
use crate::error::{Error, Result};
use crate::ops::graph::{NodeTag, RegionId, RegionKind, Spec, ValueId};
use crate::ops::{DotDims, Prim};
use crate::shape::Shape;
use crate::tensor::Tensor;

/// How a `vmap` maps its module call.
#[derive(Clone, Debug)]
pub(crate) struct VmapAxes {
    /// Per collection: the axis its variables are stacked along, `None` to share them.
    pub(crate) variable_axes: Vec<(String, Option<usize>)>,
    /// The input's mapped axis (`None`: the same input for every example).
    pub(crate) in_axis: Option<usize>,
    /// Where the output's mapped axis goes.
    pub(crate) out_axis: usize,
    /// How many examples.
    pub(crate) size: usize,
}

/// `shape` with `size` inserted at `axis`.
fn insert_axis(spec: &Spec, axis: usize, size: usize) -> Result<Spec> {
    let mut dims = spec.dims().to_vec();
    if axis > dims.len() {
        return Err(Error::shape(
            "vmap",
            format!("axis {axis} is out of range for {spec} batched"),
        ));
    }
    dims.insert(axis, size);
    Ok(spec.with_shape(Shape::new(dims)))
}

/// Finishes a `vmap` of call `call` (recorded on `x_pe`, a per-example view of `x_b`,
/// giving `y_pe`): stores its variables batched and replays it batched. Returns the
/// batched output; outside a run, a tensor of its spec.
pub(crate) fn vmap_finish(
    call: usize,
    x_pe: &Tensor,
    x_b: &Tensor,
    y_pe: &Tensor,
    axes: &VmapAxes,
) -> Result<Tensor> {
    with_trace(|trace| {
        let from = trace.graph.nodes.len();
        let result = trace.vmap_finish(call, x_pe, x_b, y_pe, axes);
        // The axis moves and broadcasts around the replay are the wrapper's own operations.
        trace.graph.set_origins(from, Some("nn::vmap"));
        result
    })
    .unwrap_or_else(|| {
        Ok(Tensor::from_spec(insert_axis(
            y_pe.spec(),
            axes.out_axis,
            axes.size,
        )?))
    })
}

/// A value of the replay: its value and whether it carries the batch dimension (in
/// front).
type Mapped = (ValueId, bool);

impl Trace {
    fn vmap_finish(
        &mut self,
        call: usize,
        x_pe: &Tensor,
        x_b: &Tensor,
        y_pe: &Tensor,
        axes: &VmapAxes,
    ) -> Result<Tensor> {
        let Some(record) = self.calls.get(call) else {
            return Err(Error::internal("vmap: the mapped call was not recorded"));
        };
        let span = record.span.clone();
        let touches = record.touches.clone();
        let top = self.region;
        let mut map: HashMap<ValueId, Mapped> = HashMap::new();
        let x_pe = self.value_of(x_pe);
        let x_b = self.value_of(x_b);
        map.insert(
            x_pe,
            match axes.in_axis {
                Some(a) => (self.move_to_front(x_b, a, top)?, true),
                None => (x_b, false),
            },
        );
        // The variables the call read: batched where their collection has an axis.
        let mut seen: HashMap<VarId, ValueId> = HashMap::new();
        for &(var, value) in &self.touches[touches] {
            if let Some(&first) = seen.get(&var) {
                if first != value {
                    return Err(Error::invalid(
                        "vmap: a mapped call that writes variables is not modelled",
                    ));
                }
                continue;
            }
            seen.insert(var, value);
        }
        let mut vars: Vec<(VarId, ValueId)> = seen.into_iter().collect();
        vars.sort_unstable_by_key(|&(var, _)| var.0);
        for (var, value) in vars {
            let collection = self.variables.get(var).collection.clone();
            let axis = axes
                .variable_axes
                .iter()
                .find(|(c, _)| *c == collection)
                .and_then(|(_, a)| *a);
            let Some(axis) = axis else { continue };
            let batched = if self.per_example.contains_key(&var) {
                self.variables.get(var).current
            } else {
                let v = self.variables.get(var);
                let spec = insert_axis(&v.spec, axis, axes.size)?;
                let pe = (v.spec.clone(), v.tensor.clone());
                let input = self.graph.add_input(spec.clone());
                let tensor = Tensor::from_spec(spec.clone());
                self.values.insert(tensor.id(), input);
                let v = self.variables.get_mut(var);
                v.spec = spec;
                v.current = input;
                v.tensor = tensor;
                self.per_example.insert(var, pe);
                self.lifted.insert(value, (input, span.end));
                input
            };
            map.insert(value, (self.move_to_front(batched, axis, top)?, true));
        }
        self.replay(span, top, axes.size, &mut map)?;
        let y_pe = self.value_of(y_pe);
        let (y, batched) = map.get(&y_pe).copied().unwrap_or((y_pe, false));
        let out = if batched {
            self.move_from_front(y, axes.out_axis, top)?
        } else {
            let spec = self.graph.spec(y).clone();
            let target = insert_axis(&spec, axes.out_axis, axes.size)?;
            let dims = (0..spec.rank())
                .map(|d| if d < axes.out_axis { d } else { d + 1 })
                .collect();
            self.emit(
                Prim::BroadcastInDim {
                    shape: target.shape.clone(),
                    dims,
                },
                &[y],
                top,
            )?
        };
        let tensor = Tensor::from_spec(self.graph.spec(out).clone());
        self.values.insert(tensor.id(), out);
        Ok(tensor)
    }

    fn emit(&mut self, prim: Prim, inputs: &[ValueId], region: RegionId) -> Result<ValueId> {
        Ok(self
            .graph
            .emit(prim, inputs.iter().copied(), region, NodeTag::Plain)?[0])
    }

    /// `moveaxis(v, axis, 0)` (a `transpose`, none when `axis` is 0).
    fn move_to_front(&mut self, v: ValueId, axis: usize, region: RegionId) -> Result<ValueId> {
        if axis == 0 {
            return Ok(v);
        }
        let rank = self.graph.spec(v).rank();
        let mut perm: Vec<usize> = (0..rank).filter(|&d| d != axis).collect();
        perm.insert(0, axis);
        self.emit(Prim::Transpose { perm: perm.into() }, &[v], region)
    }

    /// `moveaxis(v, 0, axis)`.
    fn move_from_front(&mut self, v: ValueId, axis: usize, region: RegionId) -> Result<ValueId> {
        if axis == 0 {
            return Ok(v);
        }
        let rank = self.graph.spec(v).rank();
        if axis >= rank {
            return Err(Error::shape(
                "vmap",
                format!("out_axes {axis} is out of range for a result of rank {rank}"),
            ));
        }
        let mut perm: Vec<usize> = (1..rank).collect();
        perm.insert(axis, 0);
        self.emit(Prim::Transpose { perm: perm.into() }, &[v], region)
    }

    /// Replays nodes `span` batched. `map` holds the batched values known so far.
    fn replay(
        &mut self,
        span: std::ops::Range<u32>,
        top: RegionId,
        size: usize,
        map: &mut HashMap<ValueId, Mapped>,
    ) -> Result<()> {
        // Open copies of the regions nested in the span: (original, copy).
        let mut open: Vec<(RegionId, RegionId)> = Vec::new();
        for n in span {
            let node = self.graph.node(n).clone();
            let chain = self.region_chain(node.region, top);
            while open.len() > chain.len() || open.iter().zip(&chain).any(|((o, _), c)| o != c) {
                let (original, copy) = open.pop().expect("checked non-empty");
                self.close_copy(original, copy, map);
            }
            for &r in &chain[open.len()..] {
                let parent = open.last().map_or(top, |&(_, c)| c);
                let kind = self.graph.region(r).kind.clone();
                if matches!(kind, RegionKind::Loop | RegionKind::Remat) {
                    return Err(Error::invalid(
                        "vmap: a scan or remat inside a mapped call is not modelled",
                    ));
                }
                let inputs = self
                    .graph
                    .region(r)
                    .inputs
                    .iter()
                    .map(|v| map.get(v).map_or(*v, |m| m.0))
                    .collect();
                let copy = self.graph.open_region(kind, parent, inputs);
                open.push((r, copy));
            }
            let region = open.last().map_or(top, |&(_, c)| c);
            let ins: Vec<Mapped> = node
                .inputs
                .iter()
                .map(|v| map.get(v).copied().unwrap_or((*v, false)))
                .collect();
            if !ins.iter().any(|&(_, b)| b) && open.is_empty() {
                continue; // JAX runs it once, unbatched: the recorded node serves.
            }
            // The batched nodes are named by the operation that made the original, so an
            // error of the cost stage in them names it too.
            let from = self.graph.nodes.len();
            let outs = self.batch_node(&node.prim, &ins, region, size)?;
            self.graph.set_origins(from, node.origin);
            for (&old, new) in node.outputs.iter().zip(outs) {
                map.insert(old, new);
            }
        }
        while let Some((original, copy)) = open.pop() {
            self.close_copy(original, copy, map);
        }
        Ok(())
    }

    /// The regions holding `r` strictly inside `top`, outermost first.
    fn region_chain(&self, mut r: RegionId, top: RegionId) -> Vec<RegionId> {
        let mut chain = Vec::new();
        while r != top && r != RegionId::TOP {
            chain.push(r);
            r = self.graph.region(r).parent;
        }
        chain.reverse();
        chain
    }

    fn close_copy(&mut self, original: RegionId, copy: RegionId, map: &HashMap<ValueId, Mapped>) {
        let outputs = self
            .graph
            .region(original)
            .outputs
            .iter()
            .map(|v| map.get(v).map_or(*v, |m| m.0))
            .collect();
        self.graph.close_region(copy, outputs);
    }

    /// One primitive batched by JAX's rule, the batch dimension in front.
    fn batch_node(
        &mut self,
        prim: &Prim,
        ins: &[Mapped],
        region: RegionId,
        size: usize,
    ) -> Result<Vec<Mapped>> {
        let any = ins.iter().any(|&(_, b)| b);
        let values: Vec<ValueId> = ins.iter().map(|&(v, _)| v).collect();
        if !any {
            let outs = self
                .graph
                .emit(prim.clone(), values, region, NodeTag::Plain)?;
            return Ok(outs.into_iter().map(|v| (v, false)).collect());
        }
        let plus = |dims: &[usize]| dims.iter().map(|d| d + 1).collect::<Vec<_>>();
        let batched_shape = |shape: &Shape| {
            let mut dims = vec![size];
            dims.extend_from_slice(shape.dims());
            Shape::new(dims)
        };
        let one = |this: &mut Trace, prim: Prim, inputs: &[ValueId]| -> Result<Vec<Mapped>> {
            Ok(vec![(this.emit(prim, inputs, region)?, true)])
        };
        match prim {
            Prim::Unary(_) | Prim::Convert(_) | Prim::IntegerPow(_) | Prim::StopGradient => {
                one(self, prim.clone(), &values)
            }
            Prim::Binary(_) | Prim::Compare(_) | Prim::SelectN => {
                self.broadcast_batcher(prim, ins, region)
            }
            Prim::BroadcastInDim { shape, dims } => {
                let mut dims = plus(dims);
                dims.insert(0, 0);
                one(
                    self,
                    Prim::BroadcastInDim {
                        shape: batched_shape(shape),
                        dims: dims.into(),
                    },
                    &values,
                )
            }
            Prim::Reshape { shape } => one(
                self,
                Prim::Reshape {
                    shape: batched_shape(shape),
                },
                &values,
            ),
            Prim::Transpose { perm } => {
                let mut perm = plus(perm);
                perm.insert(0, 0);
                one(self, Prim::Transpose { perm: perm.into() }, &values)
            }
            Prim::Reduce { op, axes } => one(
                self,
                Prim::Reduce {
                    op: *op,
                    axes: plus(axes).into(),
                },
                &values,
            ),
            Prim::DotGeneral(dims) => self.batch_dot(dims, ins, region),
            other => Err(Error::invalid(format!(
                "vmap: batching `{}` is not modelled",
                other.name()
            ))),
        }
    }

    /// `broadcast_batcher`: the primitive itself when every operand is batched alike (or
    /// a scalar); otherwise unbatched operands get a size-1 leading axis and batched
    /// scalars trailing ones, and the primitive broadcasts them.
    fn broadcast_batcher(
        &mut self,
        prim: &Prim,
        ins: &[Mapped],
        region: RegionId,
    ) -> Result<Vec<Mapped>> {
        let rank = |this: &Trace, v: ValueId| this.graph.spec(v).rank();
        let (first, _) = *ins
            .iter()
            .find(|&&(_, b)| b)
            .expect("an operand is batched");
        let shape = self.graph.spec(first).shape.clone();
        let agree = ins
            .iter()
            .filter(|&&(v, b)| b || rank(self, v) > 0)
            .all(|&(v, b)| b && self.graph.spec(v).shape == shape);
        let mut values = Vec::with_capacity(ins.len());
        if agree {
            values.extend(ins.iter().map(|&(v, _)| v));
        } else {
            let mut lifted = Vec::with_capacity(ins.len());
            for &(v, b) in ins {
                let spec = self.graph.spec(v).clone();
                lifted.push(if !b && spec.rank() > 0 {
                    let mut dims = vec![1];
                    dims.extend_from_slice(spec.dims());
                    self.emit(
                        Prim::BroadcastInDim {
                            shape: Shape::new(dims),
                            dims: (1..=spec.rank()).collect(),
                        },
                        &[v],
                        region,
                    )?
                } else {
                    v
                });
            }
            let ndim = lifted.iter().map(|&v| rank(self, v)).max().unwrap_or(0);
            for (&v, &(_, b)) in lifted.iter().zip(ins) {
                let spec = self.graph.spec(v).clone();
                values.push(if b && spec.rank() < ndim {
                    let mut dims = spec.dims().to_vec();
                    dims.resize(ndim, 1);
                    self.emit(
                        Prim::Reshape {
                            shape: Shape::new(dims),
                        },
                        &[v],
                        region,
                    )?
                } else {
                    v
                });
            }
        }
        let outs = self
            .graph
            .emit(prim.clone(), values, region, NodeTag::Plain)?;
        Ok(outs.into_iter().map(|v| (v, true)).collect())
    }

    /// `_dot_general_batch_rule`: both batched, a new leading batch dimension; one
    /// batched, its mapped axis a free dimension (moved to the front afterwards).
    fn batch_dot(
        &mut self,
        dims: &DotDims,
        ins: &[Mapped],
        region: RegionId,
    ) -> Result<Vec<Mapped>> {
        let plus = |d: &[usize]| d.iter().map(|x| x + 1).collect::<Vec<_>>();
        let (lhs, lb) = ins[0];
        let (rhs, rb) = ins[1];
        let mut new = dims.clone();
        let result_dim = match (lb, rb) {
            (true, true) => {
                new.lhs_batch = std::iter::once(0).chain(plus(&dims.lhs_batch)).collect();
                new.rhs_batch = std::iter::once(0).chain(plus(&dims.rhs_batch)).collect();
                new.lhs_contracting = plus(&dims.lhs_contracting).into();
                new.rhs_contracting = plus(&dims.rhs_contracting).into();
                0
            }
            (true, false) => {
                new.lhs_batch = plus(&dims.lhs_batch).into();
                new.lhs_contracting = plus(&dims.lhs_contracting).into();
                dims.lhs_batch.len()
            }
            (false, true) => {
                new.rhs_batch = plus(&dims.rhs_batch).into();
                new.rhs_contracting = plus(&dims.rhs_contracting).into();
                let lhs_rank = self.graph.spec(lhs).rank();
                dims.lhs_batch.len() + lhs_rank - dims.lhs_batch.len() - dims.lhs_contracting.len()
            }
            (false, false) => unreachable!("an operand is batched"),
        };
        let out = self.emit(Prim::DotGeneral(Box::new(new)), &[lhs, rhs], region)?;
        Ok(vec![(self.move_to_front(out, result_dim, region)?, true)])
    }
}
