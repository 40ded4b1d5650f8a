//! Which module call each recorded operation belongs to.
//!
//! burn 0.22 has no forward hooks: a module's `forward` is an ordinary inherent method. The
//! module tree comes from `ModuleVisitor` (field paths), and calls are recovered from
//! **parameter dataflow**: an operation that reads a parameter belongs to the module that
//! owns it. A call of module `C` is a run of operations reading parameters of `C`'s
//! subtree; it ends where an operation reads a parameter outside that subtree, or where an
//! operation reads one of `C`'s own parameters a second time (the same layer applied
//! again). The call spans from its first to its last such operation; operations inside
//! the span that read no parameter (reshapes, activations, softmax) belong to the
//! innermost call spanning them.
//!
//! Consequences, listed in the summary's notes: a module without parameters (`Relu`,
//! `Dropout`, pooling) has no call of its own and its operations count in the enclosing
//! row; operations a module runs before its first or after its last parameter read (an
//! activation after an MLP's last `Linear`) count in the parent row; consecutive calls of
//! one composite module with no other parametrised module between them merge.

use std::collections::{HashMap, HashSet};

use burn::backend::ir::{OperationIr, TensorId};

use crate::capture::{Captured, ParamInfo};

/// A module in the tree.
#[derive(Clone, Debug)]
pub(crate) struct Node {
    /// Field path from the root (empty for the root).
    pub(crate) path: Vec<String>,
    /// Type name (`Linear`), when burn reported it: a module without module fields of its
    /// own (`Relu`) never reports its type through `ModuleVisitor`.
    pub(crate) ty: Option<String>,
    /// Parent node.
    pub(crate) parent: Option<usize>,
    /// Parameters owned directly.
    pub(crate) direct: Vec<usize>,
    /// Whether any parameter lies in its subtree.
    pub(crate) has_params: bool,
}

impl Node {
    /// `Vec`, `Array` and `Tuple` hold modules but are not called.
    pub(crate) fn is_container(&self) -> bool {
        matches!(self.ty.as_deref(), Some("Vec" | "Array" | "Tuple"))
    }
}

/// The module tree with each parameter's owner.
pub(crate) struct Tree {
    pub(crate) nodes: Vec<Node>,
    /// Ancestors of each node, root first, the node itself last.
    pub(crate) ancestors: Vec<Vec<usize>>,
    pub(crate) params: Vec<ParamInfo>,
    /// Owner node of each parameter.
    pub(crate) owner: Vec<usize>,
    pub(crate) by_id: HashMap<TensorId, usize>,
}

impl Tree {
    pub(crate) fn build(captured: &Captured) -> Tree {
        let param_paths: HashSet<&[String]> =
            captured.params.iter().map(|p| p.path.as_slice()).collect();
        let mut nodes = vec![Node {
            path: Vec::new(),
            ty: Some(captured.root_type.clone()),
            parent: None,
            direct: Vec::new(),
            has_params: false,
        }];
        let mut index: HashMap<Vec<String>, usize> = HashMap::new();
        index.insert(Vec::new(), 0);
        for (path, ty) in &captured.module_types {
            if path.is_empty() {
                if let Some(ty) = ty {
                    nodes[0].ty = Some(ty.clone());
                }
                continue;
            }
            if param_paths.contains(path.as_slice()) {
                continue;
            }
            let parent = index.get(&path[..path.len() - 1]).copied();
            index.insert(path.clone(), nodes.len());
            nodes.push(Node {
                path: path.clone(),
                ty: ty.clone(),
                parent,
                direct: Vec::new(),
                has_params: false,
            });
        }
        let mut owner = Vec::with_capacity(captured.params.len());
        let mut by_id = HashMap::new();
        for (i, p) in captured.params.iter().enumerate() {
            let o = index
                .get(&p.path[..p.path.len().saturating_sub(1)])
                .copied()
                .unwrap_or(0);
            nodes[o].direct.push(i);
            owner.push(o);
            by_id.insert(p.id, i);
        }
        let ancestors: Vec<Vec<usize>> = (0..nodes.len())
            .map(|i| {
                let mut chain = vec![i];
                let mut cur = nodes[i].parent;
                while let Some(p) = cur {
                    chain.push(p);
                    cur = nodes[p].parent;
                }
                chain.reverse();
                chain
            })
            .collect();
        for &o in &owner {
            for &a in &ancestors[o] {
                nodes[a].has_params = true;
            }
        }
        Tree {
            nodes,
            ancestors,
            params: captured.params.clone(),
            owner,
            by_id,
        }
    }

    fn contains(&self, ancestor: usize, node: usize) -> bool {
        self.ancestors[node].contains(&ancestor)
    }

    fn lowest_common_ancestor(&self, a: usize, b: usize) -> usize {
        let (x, y) = (&self.ancestors[a], &self.ancestors[b]);
        let mut lca = 0;
        for (p, q) in x.iter().zip(y) {
            if p != q {
                break;
            }
            lca = *p;
        }
        lca
    }

    pub(crate) fn depth(&self, node: usize) -> usize {
        self.ancestors[node].len() - 1
    }
}

/// One module call: an inclusive range of forward-op indices.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Call {
    pub(crate) module: usize,
    pub(crate) start: usize,
    pub(crate) end: usize,
}

/// An operation reading parameters (or tensors computed from parameters only): its index,
/// the module owning what it reads, and the parameters it reads directly.
struct Event {
    op: usize,
    owner: usize,
    params: Vec<usize>,
}

/// The operations reading parameters, in order.
fn events(tree: &Tree, ops: &[OperationIr]) -> Vec<Event> {
    // Tensors computed from parameters only (a transposed weight, a reshaped bias) belong
    // to the parameters' owners too.
    let mut derived: HashMap<TensorId, Vec<usize>> = HashMap::new();
    let mut events = Vec::new();
    for (i, op) in ops.iter().enumerate() {
        let mut direct: Vec<usize> = Vec::new();
        let mut all: Vec<usize> = Vec::new();
        let mut only_params = true;
        for t in op.inputs() {
            if let Some(&p) = tree.by_id.get(&t.id) {
                direct.push(p);
                all.push(p);
            } else if let Some(ps) = derived.get(&t.id) {
                all.extend(ps);
            } else {
                only_params = false;
            }
        }
        if all.is_empty() {
            continue;
        }
        all.sort_unstable();
        all.dedup();
        direct.sort_unstable();
        direct.dedup();
        if only_params {
            for t in op.outputs() {
                derived.insert(t.id, all.clone());
            }
        }
        let owner = all
            .iter()
            .map(|&p| tree.owner[p])
            .reduce(|a, b| tree.lowest_common_ancestor(a, b))
            .unwrap_or(0);
        events.push(Event {
            op: i,
            owner,
            params: direct,
        });
    }
    events
}

/// The calls of every module with parameters, plus the root's single call; sorted by
/// start, outer calls first.
pub(crate) fn calls(
    tree: &Tree,
    ops: &[OperationIr],
    marked: &[(Vec<TensorId>, usize, usize)],
) -> Vec<Call> {
    let events = events(tree, ops);
    let mut calls = Vec::new();
    if !ops.is_empty() {
        calls.push(Call {
            module: 0,
            start: 0,
            end: ops.len() - 1,
        });
    }
    // Calls marked with `tabulate_burn::call` replace the dataflow's calls of their module.
    let mut exact: HashSet<usize> = HashSet::new();
    for (ids, start, end) in marked {
        let module = ids
            .iter()
            .filter_map(|id| tree.by_id.get(id).map(|&p| tree.owner[p]))
            .reduce(|a, b| tree.lowest_common_ancestor(a, b));
        if let Some(module) = module.filter(|&m| m != 0) {
            exact.insert(module);
            calls.push(Call {
                module,
                start: *start,
                end: end - 1,
            });
        }
    }
    for (c, node) in tree.nodes.iter().enumerate().skip(1) {
        if !node.has_params || node.is_container() || exact.contains(&c) {
            continue;
        }
        let mut current: Option<(Call, HashSet<usize>)> = None;
        let mut foreign = false;
        for e in &events {
            if !tree.contains(c, e.owner) {
                foreign = current.is_some();
                continue;
            }
            let own: Vec<usize> = e
                .params
                .iter()
                .copied()
                .filter(|&p| tree.owner[p] == c)
                .collect();
            let repeats = current
                .as_ref()
                .is_some_and(|(_, read)| own.iter().any(|p| read.contains(p)));
            match current.as_mut() {
                Some((call, read)) if !foreign && !repeats => {
                    call.end = e.op;
                    read.extend(own);
                }
                _ => {
                    if let Some((call, _)) = current.take() {
                        calls.push(call);
                    }
                    current = Some((
                        Call {
                            module: c,
                            start: e.op,
                            end: e.op,
                        },
                        own.into_iter().collect(),
                    ));
                }
            }
            foreign = false;
        }
        if let Some((call, _)) = current {
            calls.push(call);
        }
    }
    widen_to_marked(tree, &mut calls, &exact);
    calls.sort_by_key(|c| (c.start, tree.depth(c.module), std::cmp::Reverse(c.end)));
    calls
}

/// A call found by dataflow grows to cover the calls of its submodules that overlap it
/// (a marked submodule call can start before, or end after, the dataflow's span), inner
/// calls first so that growth propagates outwards.
fn widen_to_marked(tree: &Tree, calls: &mut [Call], exact: &HashSet<usize>) {
    if exact.is_empty() {
        return;
    }
    let mut order: Vec<usize> = (0..calls.len())
        .filter(|&i| calls[i].module != 0 && !exact.contains(&calls[i].module))
        .collect();
    order.sort_by_key(|&i| std::cmp::Reverse(tree.depth(calls[i].module)));
    for i in order {
        let mut call = calls[i];
        for other in calls.iter() {
            let inside = other.module != call.module && tree.contains(call.module, other.module);
            if inside && other.start <= call.end && other.end >= call.start {
                call.start = call.start.min(other.start);
                call.end = call.end.max(other.end);
            }
        }
        calls[i] = call;
    }
}
