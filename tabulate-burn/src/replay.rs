//! Replaying the captured burn graph onto `tabulate`'s abstract [`Tensor`]s inside a
//! `tabulate(...).run(...)`: each attributed module call becomes a [`module_call`] of a
//! proxy module named after its field, declaring its own parameters with [`param`], and
//! each burn operation is applied as the `Tensor` methods / `tabulate::nn` /
//! `tabulate::lax` functions that emit the primitives JAX would emit for it. Every column
//! of the summary (FLOPs, VJP FLOPs, MACs, memory, …) then comes from core's rules.
//!
//! An operation with no mapping (or whose mapping disagrees with burn's output shape) gets
//! fresh abstract results of burn's shapes, so the replay goes on; it is listed in the
//! summary's notes with the rows it occurred in, whose FLOPs are then lower bounds.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::rc::Rc;
use std::sync::{Mutex, OnceLock};

use burn::backend::ir::{OperationIr, TensorId, TensorIr};
use tabulate::{
    CallArgs, DType, Describe, Result as TResult, Summary, Tabulate, Tabulator, Tensor, Value,
    Visitor, module_call, param,
};

use crate::attribution::{self, Call, Tree};
use crate::capture::{Captured, TensorSpec};

/// A burn module as `tabulate` sees it: its type name and its submodules by field name.
/// Built from burn's `ModuleVisitor` paths; it holds no tensors.
pub struct BurnModule {
    ty: &'static str,
    children: Vec<(String, Rc<BurnModule>)>,
}

impl Tabulate for BurnModule {
    fn type_name(&self) -> &'static str {
        self.ty
    }

    fn visit_submodules(&self, visitor: &mut dyn Visitor) {
        for (name, child) in &self.children {
            visitor.visit(name, &**child);
        }
    }
}

/// `type_name` returns `&'static str`: each distinct burn type name is leaked once per
/// process (a handful of short strings), not once per summary.
fn intern(name: &str) -> &'static str {
    static NAMES: OnceLock<Mutex<HashSet<&'static str>>> = OnceLock::new();
    let mut names = NAMES
        .get_or_init(|| Mutex::new(HashSet::new()))
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(&n) = names.get(name) {
        return n;
    }
    let leaked: &'static str = Box::leak(name.to_string().into_boxed_str());
    names.insert(leaked);
    leaked
}

/// Builds the proxy of tree node `node`; `proxies[i]` receives node `i`'s proxy. Container
/// nodes (`Vec`, arrays, tuples) are not modules: their elements become fields of the
/// nearest module, named `field_index` as `tabulate` names list items (`layers_0`).
fn build_proxy(tree: &Tree, node: usize, proxies: &mut [Option<Rc<BurnModule>>]) -> Rc<BurnModule> {
    let mut children = Vec::new();
    collect_children(tree, node, &mut Vec::new(), &mut children, proxies);
    let ty = tree.nodes[node].ty.as_deref().unwrap_or("?");
    let proxy = Rc::new(BurnModule {
        ty: intern(ty),
        children,
    });
    proxies[node] = Some(Rc::clone(&proxy));
    proxy
}

fn collect_children(
    tree: &Tree,
    node: usize,
    prefix: &mut Vec<String>,
    out: &mut Vec<(String, Rc<BurnModule>)>,
    proxies: &mut [Option<Rc<BurnModule>>],
) {
    for (c, child) in tree.nodes.iter().enumerate() {
        if child.parent != Some(node) {
            continue;
        }
        let Some(segment) = child.path.last() else {
            continue;
        };
        prefix.push(segment.clone());
        if child.is_container() {
            collect_children(tree, c, prefix, out, proxies);
        } else {
            let proxy = build_proxy(tree, c, proxies);
            out.push((prefix.join("_"), proxy));
        }
        prefix.pop();
    }
}

/// A call of the replay: a module call with its (nesting-clamped) op range and children.
struct Node {
    call: Call,
    children: Vec<usize>,
}

/// Nests the attributed calls: a call starting inside another ends with it at the latest.
fn nest(calls: &[Call]) -> Vec<Node> {
    let mut nodes: Vec<Node> = Vec::with_capacity(calls.len());
    let mut stack: Vec<usize> = Vec::new();
    for &call in calls {
        while let Some(&top) = stack.last() {
            if nodes[top].call.end < call.start {
                stack.pop();
            } else {
                break;
            }
        }
        let mut call = call;
        if let Some(&parent) = stack.last() {
            call.end = call.end.min(nodes[parent].call.end);
            let index = nodes.len();
            nodes[parent].children.push(index);
        } else if !nodes.is_empty() {
            // A second top-level call cannot happen (the root spans every op); skip it.
            continue;
        }
        stack.push(nodes.len());
        nodes.push(Node {
            call,
            children: Vec::new(),
        });
    }
    nodes
}

/// What a call returns: one tensor, or several (shown as a list).
enum Outs {
    One(Tensor),
    Many(Vec<Tensor>),
}

impl Describe for Outs {
    fn describe(&self) -> Value {
        match self {
            Outs::One(t) => t.describe(),
            Outs::Many(ts) => ts.describe(),
        }
    }
}

/// An operation kind that has no mapping, with where it occurred.
#[derive(Default)]
struct Unmapped {
    count: usize,
    rows: Vec<String>,
    reason: Option<String>,
}

pub(crate) struct Replay<'a> {
    captured: &'a Captured,
    tree: &'a Tree,
    nodes: Vec<Node>,
    proxies: Vec<Option<Rc<BurnModule>>>,
    values: HashMap<TensorId, Tensor>,
    skip: Vec<bool>,
    last_use: HashMap<TensorId, usize>,
    root_outputs: HashSet<TensorId>,
    unmapped: BTreeMap<String, Unmapped>,
    /// Display path of each call node (for notes).
    paths: Vec<String>,
}

/// Converts burn's dtype.
pub(crate) fn dtype(d: burn::tensor::DType) -> Option<DType> {
    use burn::tensor::DType as B;
    Some(match d {
        B::F64 => DType::F64,
        B::F32 | B::Flex32 => DType::F32,
        B::F16 => DType::F16,
        B::BF16 => DType::BF16,
        B::I64 => DType::I64,
        B::I32 => DType::I32,
        B::I16 => DType::I16,
        B::I8 => DType::I8,
        B::U64 => DType::U64,
        B::U32 => DType::U32,
        B::U16 => DType::U16,
        B::U8 => DType::U8,
        B::Bool(_) => DType::Bool,
        B::QFloat(_) => return None,
    })
}

pub(crate) fn fresh(t: &TensorIr) -> Tensor {
    Tensor::new(dtype(t.dtype).unwrap_or(DType::F32), t.shape.to_vec())
}

fn fresh_spec(s: &TensorSpec) -> Tensor {
    Tensor::new(dtype(s.dtype).unwrap_or(DType::F32), s.shape.clone())
}

/// The result of an operation with no mapping, of burn's shape and dtype, made from one
/// element of each operand (reshape, slice, convert and broadcast, plus one add or `or` per
/// extra operand on scalars) so that what feeds the operation stays live: without it,
/// dead-code elimination would drop the operand's computation from the row's FLOPs.
fn stand_in(operands: &[Tensor], out: &TensorIr) -> TResult<Tensor> {
    let d = dtype(out.dtype).unwrap_or(DType::F32);
    let mut acc: Option<Tensor> = None;
    for x in operands {
        let n: usize = x.shape().dims().iter().product();
        if n == 0 {
            continue;
        }
        let s = x
            .reshape(tabulate::Shape::new(vec![n]))?
            .slice(0, 0, 1)?
            .reshape(tabulate::Shape::new(Vec::new()))?
            .astype(d)?;
        acc = Some(match acc {
            None => s,
            Some(a) if d == DType::Bool => a.logical_or(&s)?,
            Some(a) => a.add(&s)?,
        });
    }
    match acc {
        Some(a) => a.broadcast_to(out.shape.to_vec()),
        None => Ok(fresh(out)),
    }
}

/// The display path of a burn field path in `tabulate`'s style: `layers_0/attn`.
fn display_path(tree: &Tree, node: usize) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut pending: Vec<String> = Vec::new();
    for &a in tree.ancestors[node].iter().skip(1) {
        let n = &tree.nodes[a];
        if let Some(seg) = n.path.last() {
            pending.push(seg.clone());
        }
        if !n.is_container() {
            parts.push(pending.join("_"));
            pending.clear();
        }
    }
    parts.join("/")
}

/// Runs the replay under `tabulator` and returns `tabulate`'s summary plus notes.
pub(crate) fn summarize(
    captured: &Captured,
    configure: impl FnOnce(Tabulator<'_, BurnModule>) -> Tabulator<'_, BurnModule>,
) -> TResult<Summary> {
    let tree = Tree::build(captured);
    let ops = &captured.forward;
    let calls = attribution::calls(&tree, ops, &captured.marked);
    let nodes = nest(&calls);
    let mut proxies = vec![None; tree.nodes.len()];
    let root = build_proxy(&tree, 0, &mut proxies);

    let input_ids: HashSet<TensorId> = captured.inputs.iter().map(|(id, _)| *id).collect();
    let skip: Vec<bool> = ops
        .iter()
        .map(|op| op.outputs().any(|t| input_ids.contains(&t.id)))
        .collect();
    let mut last_use: HashMap<TensorId, usize> = HashMap::new();
    for (i, op) in ops.iter().enumerate() {
        for t in op.inputs() {
            last_use.insert(t.id, i);
        }
    }
    let paths = nodes
        .iter()
        .map(|n| display_path(&tree, n.call.module))
        .collect();
    let mut replay = Replay {
        captured,
        tree: &tree,
        nodes,
        proxies,
        values: HashMap::new(),
        skip,
        last_use,
        root_outputs: captured.outputs.iter().copied().collect(),
        unmapped: BTreeMap::new(),
        paths,
    };
    let mut summary = configure(tabulate::tabulate(&*root)).run(|_| replay.root())?;
    replay.notes(&mut summary);
    Ok(summary)
}

impl Replay<'_> {
    fn root(&mut self) -> TResult<Outs> {
        if self.nodes.is_empty() {
            return Err(tabulate::Error::invalid(
                "the forward pass recorded no burn operation",
            ));
        }
        let inputs: Vec<Tensor> = self
            .captured
            .inputs
            .iter()
            .map(|(id, s)| {
                let t = fresh_spec(s);
                self.values.insert(*id, t.clone());
                t
            })
            .collect();
        self.call(0, &inputs)
    }

    /// Runs call node `n` as a `module_call` of its proxy.
    fn call(&mut self, n: usize, inputs: &[Tensor]) -> TResult<Outs> {
        let module = self.nodes[n].call.module;
        let proxy = Rc::clone(
            self.proxies[module]
                .as_ref()
                .expect("every node has a proxy"),
        );
        let args = |a: &mut CallArgs| {
            for t in inputs {
                a.positional(t);
            }
        };
        module_call(&*proxy, "forward", args, || self.body(n))
    }

    fn body(&mut self, n: usize) -> TResult<Outs> {
        let Call { module, start, end } = self.nodes[n].call;
        // The module's own parameters, declared on its call as Flax layers declare theirs.
        for &p in &self.tree.nodes[module].direct {
            let info = &self.tree.params[p];
            let name = info.path.last().map_or("param", String::as_str);
            let dt = dtype(info.spec.dtype).unwrap_or(DType::F32);
            let t = param(name, dt, info.spec.shape.clone())?;
            self.values.insert(info.id, t);
        }
        let children = self.nodes[n].children.clone();
        let mut next_child = 0;
        let mut i = start;
        while i <= end {
            if let Some(&c) = children.get(next_child)
                && self.nodes[c].call.start == i
            {
                next_child += 1;
                let inputs = self.boundary_inputs(c);
                let outs = self.call(c, &inputs)?;
                drop(outs);
                i = self.nodes[c].call.end + 1;
                continue;
            }
            if !self.skip[i] {
                self.apply(i, n);
            }
            i += 1;
        }
        Ok(self.boundary_outputs(n))
    }

    /// Tensors a call reads that were computed before it (or are the model's inputs).
    fn boundary_inputs(&mut self, n: usize) -> Vec<Tensor> {
        let Call { start, end, .. } = self.nodes[n].call;
        let ops = &self.captured.forward;
        let mut made: HashSet<TensorId> = HashSet::new();
        let mut seen: HashSet<TensorId> = HashSet::new();
        let mut inputs = Vec::new();
        for op in &ops[start..=end] {
            for t in op.inputs() {
                if !made.contains(&t.id)
                    && seen.insert(t.id)
                    && let Some(v) = self.values.get(&t.id)
                    && !self.tree.by_id.contains_key(&t.id)
                {
                    inputs.push(v.clone());
                }
            }
            for t in op.outputs() {
                made.insert(t.id);
            }
        }
        inputs
    }

    /// Tensors a call computed that are read after it (or returned by the model); the
    /// last op's results if none.
    fn boundary_outputs(&self, n: usize) -> Outs {
        let Call { start, end, .. } = self.nodes[n].call;
        let ops = &self.captured.forward;
        let mut outs: Vec<Tensor> = Vec::new();
        if n == 0 {
            outs = self
                .captured
                .outputs
                .iter()
                .filter_map(|id| self.values.get(id).cloned())
                .collect();
        } else {
            for op in &ops[start..=end] {
                for t in op.outputs() {
                    let used_after = self.last_use.get(&t.id).is_some_and(|&u| u > end);
                    if (used_after || self.root_outputs.contains(&t.id))
                        && let Some(v) = self.values.get(&t.id)
                    {
                        outs.push(v.clone());
                    }
                }
            }
            if outs.is_empty() {
                outs = ops[end]
                    .outputs()
                    .filter_map(|t| self.values.get(&t.id).cloned())
                    .collect();
            }
        }
        if outs.len() == 1 {
            Outs::One(outs.remove(0))
        } else {
            Outs::Many(outs)
        }
    }

    /// The value of a burn tensor: computed, a parameter, or (a constant made before the
    /// forward pass) a fresh leaf.
    pub(crate) fn get(&mut self, t: &TensorIr) -> Tensor {
        if let Some(v) = self.values.get(&t.id) {
            return v.clone();
        }
        let v = fresh(t);
        self.values.insert(t.id, v.clone());
        v
    }

    /// Replays op `i` inside call node `n`.
    fn apply(&mut self, i: usize, n: usize) {
        let op = &self.captured.forward[i];
        if matches!(op, OperationIr::Drop(_)) {
            return;
        }
        let outs: Vec<&TensorIr> = op.outputs().collect();
        let result = self.map(op);
        let mapped = match result {
            Ok(Some(values)) if values.len() == outs.len() => {
                let fits = values
                    .iter()
                    .zip(&outs)
                    .all(|(v, o)| v.shape().dims() == &o.shape[..]);
                if fits {
                    Ok(values)
                } else {
                    Err(Some(format!(
                        "shape differs from burn's: {} vs {:?}",
                        values
                            .iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join(", "),
                        outs.iter().map(|o| o.shape.to_vec()).collect::<Vec<_>>()
                    )))
                }
            }
            Ok(Some(_)) => Err(Some("result count differs from burn's".to_string())),
            Ok(None) => Err(None),
            Err(e) => Err(Some(e.to_string())),
        };
        match mapped {
            Ok(values) => {
                for (v, o) in values.into_iter().zip(&outs) {
                    // Same shape; a different dtype is converted as burn stores it.
                    let v = match dtype(o.dtype) {
                        Some(d) if d != v.dtype() => v.astype(d).unwrap_or_else(|_| fresh(o)),
                        _ => v,
                    };
                    self.values.insert(o.id, v);
                }
            }
            Err(reason) => {
                let name = crate::names::op_name(op);
                let entry = self.unmapped.entry(name).or_default();
                entry.count += 1;
                let path = self.paths[n].clone();
                if !entry.rows.contains(&path) {
                    entry.rows.push(path);
                }
                if entry.reason.is_none() {
                    entry.reason = reason;
                }
                let operands: Vec<Tensor> = op
                    .inputs()
                    .filter_map(|t| self.values.get(&t.id).cloned())
                    .collect();
                for o in outs {
                    let v = stand_in(&operands, o).unwrap_or_else(|_| fresh(o));
                    self.values.insert(o.id, v);
                }
            }
        }
    }

    fn notes(&self, summary: &mut Summary) {
        let c = self.captured;
        let tree = self.tree;
        let total: u64 = tree.params.iter().map(|p| p.spec.elements()).sum();
        summary.notes.push(format!(
            "burn: {} params (burn's num_params: {}); {} operations recorded by the forward pass, {} building the model; {} tensors held data ({} bytes).",
            total,
            c.burn_num_params,
            c.forward.len(),
            c.init_ops,
            c.stored_values,
            c.stored_bytes
        ));
        for (name, u) in &self.unmapped {
            let rows: Vec<&str> = u
                .rows
                .iter()
                .map(|p| if p.is_empty() { "<model>" } else { p.as_str() })
                .collect();
            let reason = u
                .reason
                .as_ref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default();
            summary.notes.push(format!(
                "Not mapped, so not costed: {name} ×{}{reason}; FLOPs of these rows and their parents are lower bounds: {}.",
                u.count,
                rows.join(", ")
            ));
        }
        let called: HashSet<usize> = self.nodes.iter().map(|n| n.call.module).collect();
        let mut free: Vec<String> = Vec::new();
        for (i, node) in tree.nodes.iter().enumerate().skip(1) {
            if node.is_container() {
                continue;
            }
            if !node.has_params {
                let pattern: String = display_path(tree, i)
                    .split('/')
                    .map(|seg| match seg.rsplit_once('_') {
                        Some((base, i))
                            if !i.is_empty() && i.bytes().all(|b| b.is_ascii_digit()) =>
                        {
                            format!("{base}_*")
                        }
                        _ => seg.to_string(),
                    })
                    .collect::<Vec<_>>()
                    .join("/");
                let entry = match &node.ty {
                    Some(t) => format!("{pattern} ({t})"),
                    None => pattern,
                };
                if !free.contains(&entry) {
                    free.push(entry);
                }
            } else if !called.contains(&i) {
                let params: u64 = tree
                    .params
                    .iter()
                    .enumerate()
                    .filter(|(p, _)| tree.ancestors[tree.owner[*p]].contains(&i))
                    .map(|(_, p)| p.spec.elements())
                    .sum();
                summary.notes.push(format!(
                    "Not called (its {params} params are not in the table): {}",
                    display_path(tree, i)
                ));
            }
        }
        if !free.is_empty() {
            summary.notes.push(format!(
                "No row (fields without parameters, e.g. activations, or absent `Option`s; their operations count in the enclosing row): {}.",
                free.join(", ")
            ));
        }
    }
}
