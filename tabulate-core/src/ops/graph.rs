//! The graph a trace records: primitive applications in emission order, like a jaxpr.
//!
//! The same structure holds the programs the cost passes build (a row's forward pass and
//! its VJP), so one set of passes (fold, dead-code elimination, costing) serves both.

use std::ops::Range;

use smallvec::SmallVec;

use crate::error::Result;
use crate::ops::Prim;
pub(crate) use crate::spec::Spec;

/// A value of one graph.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct ValueId(pub(crate) u32);

/// The operands or results of one node: inline up to four (nearly every primitive), so
/// that building a node allocates nothing beyond its primitive's own parameters.
pub(crate) type ValueIds = SmallVec<[ValueId; 4]>;

/// A region of one graph.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct RegionId(pub(crate) u32);

impl RegionId {
    /// The whole graph, outside any call.
    pub(crate) const TOP: RegionId = RegionId(0);
}

/// A value of a graph: an input, or an output of a node.
#[derive(Clone, Debug)]
pub(crate) struct ValueInfo {
    pub(crate) spec: Spec,
}

/// One primitive application.
#[derive(Clone, Debug)]
pub(crate) struct Node {
    pub(crate) prim: Prim,
    pub(crate) inputs: ValueIds,
    pub(crate) outputs: ValueIds,
    pub(crate) region: RegionId,
    /// Set on cotangent accumulations, which JAX names `add_any`.
    pub(crate) tag: NodeTag,
    /// The user-level operation that applied it (`Tensor::matmul`, `nn::Conv`), when
    /// known: what errors of its derivative are named by.
    pub(crate) origin: Option<&'static str>,
}

/// Why a node exists, where the primitive alone does not say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NodeTag {
    /// A primitive applied by the program.
    Plain,
    /// The sum of two cotangents of one value.
    AddAny,
}

/// What a region stands for.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum RegionKind {
    /// The whole graph.
    Top,
    /// A nested `jax.jit` (a `pjit` equation, an HLO `call`): constants from outside are
    /// call parameters inside, so they are not folded there.
    Call(&'static str),
    /// A function with a custom JVP rule (`jax.custom_jvp`): differentiated by its rule,
    /// not through its body.
    CustomJvp(crate::ops::CustomRule),
    /// The body of a `while` loop (`scan`): from its `loop_var`/`loop_slice` nodes to its
    /// `while` exit node. Analysed once; values from outside are loop parameters.
    Loop,
    /// A checkpointed call (`jax.checkpoint`, Flax's `nn.remat`): inlined in the forward
    /// pass, recomputed in the backward pass. Its inputs are what the checkpointed
    /// function takes, in JAX's order.
    Remat,
    /// A grouping with no effect: a remat region in the program of the call it wraps
    /// (Flax costs that row on the module alone), or the recomputed copy of one.
    Inlined,
}

/// A contiguous, properly nested run of nodes.
#[derive(Clone, Debug)]
pub(crate) struct Region {
    pub(crate) kind: RegionKind,
    pub(crate) parent: RegionId,
    /// The region whose literals this one shares: itself, or for the transposed copy of a
    /// `jit`, its forward copy (JAX re-embeds a jaxpr's literals in its transpose).
    pub(crate) literals_of: Option<RegionId>,
    pub(crate) nodes: Range<u32>,
    pub(crate) inputs: Vec<ValueId>,
    pub(crate) outputs: Vec<ValueId>,
}

/// Values, nodes in emission order, and regions.
#[derive(Clone, Debug)]
pub(crate) struct Graph {
    pub(crate) values: Vec<ValueInfo>,
    pub(crate) nodes: Vec<Node>,
    pub(crate) regions: Vec<Region>,
    pub(crate) inputs: Vec<ValueId>,
    pub(crate) outputs: Vec<ValueId>,
    /// Inputs that are typed random keys: each one live in a program becomes a `Sharding`
    /// custom call on the key's data, which XLA's cost analysis scores −1.
    pub(crate) keys: Vec<ValueId>,
}

impl Default for Graph {
    fn default() -> Graph {
        Graph {
            values: Vec::new(),
            nodes: Vec::new(),
            regions: vec![Region {
                kind: RegionKind::Top,
                parent: RegionId::TOP,
                literals_of: None,
                nodes: 0..0,
                inputs: Vec::new(),
                outputs: Vec::new(),
            }],
            inputs: Vec::new(),
            outputs: Vec::new(),
            keys: Vec::new(),
        }
    }
}

impl Graph {
    pub(crate) fn spec(&self, v: ValueId) -> &Spec {
        &self.values[v.0 as usize].spec
    }

    /// Calls `f` with the specs of `ids`, gathered on the stack when there are few (the
    /// cost passes ask for every node's operand and result specs).
    pub(crate) fn with_specs<R>(&self, ids: &[ValueId], f: impl FnOnce(&[&Spec]) -> R) -> R {
        const FEW: usize = 8;
        match ids.first() {
            None => f(&[]),
            Some(&first) if ids.len() <= FEW => {
                let mut specs = [self.spec(first); FEW];
                for (slot, &v) in specs.iter_mut().zip(ids) {
                    *slot = self.spec(v);
                }
                f(&specs[..ids.len()])
            }
            Some(_) => f(&ids.iter().map(|&v| self.spec(v)).collect::<Vec<_>>()),
        }
    }

    pub(crate) fn node(&self, n: u32) -> &Node {
        &self.nodes[n as usize]
    }

    /// Adds a graph input.
    pub(crate) fn add_input(&mut self, spec: Spec) -> ValueId {
        let id = self.new_value(spec);
        self.inputs.push(id);
        id
    }

    fn new_value(&mut self, spec: Spec) -> ValueId {
        let id = ValueId(u32::try_from(self.values.len()).expect("graph exceeds 2^32 values"));
        self.values.push(ValueInfo { spec });
        id
    }

    /// Appends a node whose outputs have `specs`, returning the output values.
    pub(crate) fn push_node(
        &mut self,
        prim: Prim,
        inputs: impl IntoIterator<Item = ValueId>,
        specs: impl IntoIterator<Item = Spec>,
        region: RegionId,
        tag: NodeTag,
    ) -> ValueIds {
        let inputs: ValueIds = inputs.into_iter().collect();
        let outputs: ValueIds = specs.into_iter().map(|spec| self.new_value(spec)).collect();
        self.nodes.push(Node {
            prim,
            inputs,
            outputs: outputs.clone(),
            region,
            tag,
            origin: None,
        });
        outputs
    }

    /// [`Graph::push_node`] for the passes that copy nodes: the operands already
    /// gathered, the origin given, and the results (new values, numbered in order)
    /// returned as a range of ids, so that nothing is collected twice.
    pub(crate) fn append(
        &mut self,
        prim: Prim,
        inputs: ValueIds,
        specs: impl IntoIterator<Item = Spec>,
        region: RegionId,
        tag: NodeTag,
        origin: Option<&'static str>,
    ) -> Range<u32> {
        let first = u32::try_from(self.values.len()).expect("graph exceeds 2^32 values");
        let mut outputs = ValueIds::new();
        for spec in specs {
            outputs.push(self.new_value(spec));
        }
        let end = u32::try_from(self.values.len()).expect("graph exceeds 2^32 values");
        self.nodes.push(Node {
            prim,
            inputs,
            outputs,
            region,
            tag,
            origin,
        });
        first..end
    }

    /// Gives the nodes from index `from` on without an origin the user-level operation
    /// `origin`: the ops a derivative emits are named by the operation they differentiate.
    pub(crate) fn set_origins(&mut self, from: usize, origin: Option<&'static str>) {
        for node in self.nodes.iter_mut().skip(from) {
            node.origin = node.origin.or(origin);
        }
    }

    /// Appends a node after inferring its output specs from the primitive's shape rule.
    pub(crate) fn emit(
        &mut self,
        prim: Prim,
        inputs: impl IntoIterator<Item = ValueId>,
        region: RegionId,
        tag: NodeTag,
    ) -> Result<ValueIds> {
        let inputs: ValueIds = inputs.into_iter().collect();
        let specs = self.with_specs(&inputs, |in_specs| prim.infer_specs(in_specs))?;
        Ok(self.push_node(prim, inputs, specs, region, tag))
    }

    /// [`Graph::emit`] for the cost passes: operands as a slice, the result specs from
    /// the shape rule without copying the operands' specs, the node pushed through
    /// [`Graph::append`].
    pub(crate) fn emit_ids(
        &mut self,
        prim: Prim,
        inputs: &[ValueId],
        region: RegionId,
        tag: NodeTag,
    ) -> Result<Range<u32>> {
        let specs = self.with_specs(inputs, |in_specs| prim.infer_specs(in_specs))?;
        Ok(self.append(prim, ValueIds::from_slice(inputs), specs, region, tag, None))
    }

    /// Opens a region inside `parent`; its nodes are those pushed until [`Graph::close_region`].
    pub(crate) fn open_region(
        &mut self,
        kind: RegionKind,
        parent: RegionId,
        inputs: Vec<ValueId>,
    ) -> RegionId {
        let start = u32::try_from(self.nodes.len()).expect("graph exceeds 2^32 nodes");
        let id = RegionId(u32::try_from(self.regions.len()).expect("too many regions"));
        self.regions.push(Region {
            kind,
            parent,
            literals_of: None,
            nodes: start..start,
            inputs,
            outputs: Vec::new(),
        });
        id
    }

    pub(crate) fn close_region(&mut self, region: RegionId, outputs: Vec<ValueId>) {
        let end = u32::try_from(self.nodes.len()).expect("graph exceeds 2^32 nodes");
        let r = &mut self.regions[region.0 as usize];
        r.nodes.end = end;
        r.outputs = outputs;
    }

    pub(crate) fn region(&self, id: RegionId) -> &Region {
        &self.regions[id.0 as usize]
    }

    /// The outermost custom-JVP, loop or remat region that starts at node `n`, inside `within`.
    pub(crate) fn custom_region_starting_at(&self, n: u32, within: RegionId) -> Option<RegionId> {
        let mut r = self.node(n).region;
        let mut found = None;
        while r != within && r != RegionId::TOP {
            let region = self.region(r);
            if region.nodes.start == n
                && matches!(
                    region.kind,
                    RegionKind::CustomJvp(_) | RegionKind::Loop | RegionKind::Remat
                )
            {
                found = Some(r);
            }
            r = region.parent;
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A graph holds a node per op of the model: large parameter lists (a convolution's,
    /// a window's, a `dot_general`'s dimension numbers) are boxed so that every node stays
    /// this small.
    #[test]
    fn nodes_stay_small() {
        assert!(
            std::mem::size_of::<Node>() <= 200,
            "a node takes {} bytes, a primitive {}",
            std::mem::size_of::<Node>(),
            std::mem::size_of::<Prim>()
        );
    }
}
