//! Rows of the summary: one per module call, built from the calls, the recorded
//! operations and their costs.
//!
//! [`BurnSummary`] is the adapter's own representation until `tabulate-core`'s `Summary`
//! can be built from outside a trace; converting it is the one seam left
//! (`BurnSummary` → `tabulate::Summary`).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;

use burn::backend::ir::{OperationIr, TensorId, TensorIr};

use crate::attribution::{self, Call, Tree};
use crate::capture::{Captured, ParamInfo, TensorSpec};
use crate::cost::{self, Cost, OpCost};

/// One recorded operation of a row, with its cost.
#[derive(Clone, Debug)]
pub struct OpRecord {
    /// Index in the forward pass (0 = first op after the model was built).
    pub index: usize,
    /// Name, primitives and cost.
    pub cost: OpCost,
    /// Operands' shapes and dtypes.
    pub inputs: Vec<TensorSpec>,
    /// Results' shapes and dtypes.
    pub outputs: Vec<TensorSpec>,
}

/// A module variable as a row lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamSpec {
    /// Field name (`weight`, `running_mean`).
    pub name: String,
    /// Shape and dtype.
    pub spec: TensorSpec,
}

/// One module call.
#[derive(Clone, Debug)]
pub struct Row {
    /// Field path from the model (empty for the model itself).
    pub path: Vec<String>,
    /// Module type (`Linear`); `None` when burn did not report it.
    pub module_type: Option<String>,
    /// 0 for a module's first call, 1 for its second, …
    pub call_index: usize,
    /// Tensors the call read that were computed before it (or are the model's inputs).
    pub inputs: Vec<TensorSpec>,
    /// Tensors the call computed that are used after it (or are the model's outputs).
    pub outputs: Vec<TensorSpec>,
    /// The module's own variables.
    pub params: Vec<ParamSpec>,
    /// Elements of the variables of the module and its submodules.
    pub subtree_params: u64,
    /// Bytes of those variables.
    pub subtree_param_bytes: u64,
    /// Cost of every operation in the call, submodule calls included.
    pub cost: Cost,
    /// Operations in the call that could not be costed (their cost is unknown, not 0).
    pub not_costed: usize,
    /// Operations attributed to this call and no inner call.
    pub ops: Vec<OpRecord>,
}

impl Row {
    /// `layers.0.attn` (empty for the model).
    pub fn path_string(&self) -> String {
        self.path.join(".")
    }
}

/// An operation kind that could not be costed, with where it occurred.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotCosted {
    /// burn's operation name.
    pub name: String,
    /// How many times it was recorded.
    pub count: usize,
    /// Paths of the rows it was attributed to.
    pub rows: Vec<String>,
}

/// A module that has no row of its own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unattributed {
    /// Field path.
    pub path: String,
    /// Type, when known.
    pub module_type: Option<String>,
    /// Elements of its variables.
    pub params: u64,
}

/// The summary of a burn model, as the adapter builds it.
#[derive(Clone, Debug)]
pub struct BurnSummary {
    /// One row per module call, outer calls first, in call order.
    pub rows: Vec<Row>,
    /// Every variable with its full path.
    pub params: Vec<(String, TensorSpec)>,
    /// Total elements of all variables.
    pub total_params: u64,
    /// Their bytes.
    pub total_param_bytes: u64,
    /// burn's own `Module::num_params()` of the model (a cross-check of `total_params`).
    pub burn_num_params: u64,
    /// Operation kinds that could not be costed.
    pub not_costed: Vec<NotCosted>,
    /// Modules without parameters: no call boundary can be recovered, their operations
    /// count in the enclosing row.
    pub parameter_free: Vec<Unattributed>,
    /// Modules with parameters that the forward pass never read.
    pub not_called: Vec<Unattributed>,
    /// Operations recorded while building the model (lazy initialisation).
    pub init_ops: usize,
    /// Operations recorded by the forward pass.
    pub forward_ops: usize,
    /// Tensors holding real data in host memory during the summary, and their bytes
    /// (0 for a model built from its config).
    pub stored_values: usize,
    /// Bytes held by those tensors.
    pub stored_bytes: u64,
}

fn spec(t: &TensorIr) -> TensorSpec {
    TensorSpec {
        shape: t.shape.to_vec(),
        dtype: t.dtype,
    }
}

fn bytes(s: &TensorSpec) -> u64 {
    s.elements() * s.dtype.size() as u64
}

/// Builds the rows from a capture.
pub(crate) fn build(captured: &Captured) -> BurnSummary {
    let tree = Tree::build(captured);
    let ops = &captured.forward;
    // Input creation ops are the root's inputs, not computation.
    let input_ids: HashSet<TensorId> = captured.inputs.iter().map(|(id, _)| *id).collect();
    let is_input_op: Vec<bool> = ops
        .iter()
        .map(|op| op.outputs().any(|t| input_ids.contains(&t.id)))
        .collect();
    let costs: Vec<OpCost> = ops.iter().map(cost::cost).collect();

    let calls = attribution::calls(&tree, ops, &captured.marked);
    let owner_call = attribution::innermost(&tree, &calls, ops.len());

    let mut producer: HashMap<TensorId, (usize, TensorSpec)> = HashMap::new();
    let mut last_use: HashMap<TensorId, usize> = HashMap::new();
    for (i, op) in ops.iter().enumerate() {
        for t in op.inputs() {
            last_use.insert(t.id, i);
        }
        for t in op.outputs() {
            producer.entry(t.id).or_insert((i, spec(t)));
        }
    }
    let root_outputs: HashSet<TensorId> = captured.outputs.iter().copied().collect();

    let mut call_counts: HashMap<usize, usize> = HashMap::new();
    let mut rows = Vec::with_capacity(calls.len());
    for (ci, call) in calls.iter().enumerate() {
        let node = &tree.nodes[call.module];
        let call_index = {
            let n = call_counts.entry(call.module).or_insert(0);
            *n += 1;
            *n - 1
        };
        let (inputs, outputs) = if call.module == 0 {
            root_boundary(captured, &producer)
        } else {
            call_boundary(ops, *call, &producer, &last_use, &root_outputs)
        };
        let range = call.start..=call.end;
        let cost: Cost = range
            .clone()
            .filter(|&i| !is_input_op[i])
            .map(|i| costs[i].cost)
            .sum();
        let not_costed = range.filter(|&i| !costs[i].costed).count();
        let own_ops = (call.start..=call.end)
            .filter(|&i| owner_call[i] == ci && !is_input_op[i])
            .map(|i| OpRecord {
                index: i,
                cost: costs[i].clone(),
                inputs: ops[i].inputs().map(spec).collect(),
                outputs: ops[i].outputs().map(spec).collect(),
            })
            .collect();
        let (subtree_params, subtree_param_bytes) = subtree_params(&tree, call.module);
        rows.push(Row {
            path: node.path.clone(),
            module_type: node.ty.clone(),
            call_index,
            inputs,
            outputs,
            params: node
                .direct
                .iter()
                .map(|&p| ParamSpec {
                    name: tree.params[p].path.last().cloned().unwrap_or_default(),
                    spec: tree.params[p].spec.clone(),
                })
                .collect(),
            subtree_params,
            subtree_param_bytes,
            cost,
            not_costed,
            ops: own_ops,
        });
    }

    let not_costed = not_costed_ops(&costs, &is_input_op, &owner_call, &rows);
    let (parameter_free, not_called) = unattributed(&tree, &calls);

    let (total_params, total_param_bytes) = tree.params.iter().fold((0, 0), |(n, b), p| {
        (n + p.spec.elements(), b + bytes(&p.spec))
    });
    BurnSummary {
        rows,
        params: tree
            .params
            .iter()
            .map(|p: &ParamInfo| (p.path.join("."), p.spec.clone()))
            .collect(),
        total_params,
        total_param_bytes,
        burn_num_params: captured.burn_num_params as u64,
        not_costed,
        parameter_free,
        not_called,
        init_ops: captured.init_ops,
        forward_ops: ops.len(),
        stored_values: captured.stored_values,
        stored_bytes: captured.stored_bytes,
    }
}

/// Operation kinds with no cost, with the rows they were attributed to.
fn not_costed_ops(
    costs: &[OpCost],
    is_input_op: &[bool],
    owner_call: &[usize],
    rows: &[Row],
) -> Vec<NotCosted> {
    let mut not_costed: BTreeMap<String, NotCosted> = BTreeMap::new();
    for (i, c) in costs.iter().enumerate() {
        if c.costed || is_input_op[i] {
            continue;
        }
        let entry = not_costed
            .entry(c.name.clone())
            .or_insert_with(|| NotCosted {
                name: c.name.clone(),
                count: 0,
                rows: Vec::new(),
            });
        entry.count += 1;
        let path = rows[owner_call[i]].path_string();
        if !entry.rows.contains(&path) {
            entry.rows.push(path);
        }
    }

    not_costed.into_values().collect()
}

/// Modules without parameters (no row) and modules with parameters never called.
fn unattributed(tree: &Tree, calls: &[Call]) -> (Vec<Unattributed>, Vec<Unattributed>) {
    let called: HashSet<usize> = calls.iter().map(|c| c.module).collect();
    let mut parameter_free = Vec::new();
    let mut not_called = Vec::new();
    for (i, node) in tree.nodes.iter().enumerate().skip(1) {
        if node.is_container() {
            continue;
        }
        let entry = Unattributed {
            path: node.path.join("."),
            module_type: node.ty.clone(),
            params: subtree_params(tree, i).0,
        };
        if !node.has_params {
            // One entry per field pattern: `layers.*.relu` for every block's `relu`.
            let pattern: Vec<&str> = node
                .path
                .iter()
                .map(|seg| {
                    if seg.bytes().all(|b| b.is_ascii_digit()) {
                        "*"
                    } else {
                        seg.as_str()
                    }
                })
                .collect();
            let path = pattern.join(".");
            if !parameter_free.iter().any(|u: &Unattributed| u.path == path) {
                parameter_free.push(Unattributed { path, ..entry });
            }
        } else if !called.contains(&i) {
            not_called.push(entry);
        }
    }

    (parameter_free, not_called)
}

/// Elements and bytes of the parameters of `node` and its submodules.
fn subtree_params(tree: &Tree, node: usize) -> (u64, u64) {
    tree.params
        .iter()
        .enumerate()
        .filter(|(p, _)| tree.ancestors[tree.owner[*p]].contains(&node))
        .fold((0, 0), |(n, b), (_, p)| {
            (n + p.spec.elements(), b + bytes(&p.spec))
        })
}

fn root_boundary(
    captured: &Captured,
    producer: &HashMap<TensorId, (usize, TensorSpec)>,
) -> (Vec<TensorSpec>, Vec<TensorSpec>) {
    let inputs = captured.inputs.iter().map(|(_, s)| s.clone()).collect();
    let outputs = captured
        .outputs
        .iter()
        .filter_map(|id| {
            producer.get(id).map(|(_, s)| s.clone()).or_else(|| {
                captured
                    .inputs
                    .iter()
                    .find(|(i, _)| i == id)
                    .map(|(_, s)| s.clone())
            })
        })
        .collect();
    (inputs, outputs)
}

/// Inputs: tensors read in the call and computed before it. Outputs: tensors computed in
/// the call and read after it (or returned by the model); the last op's results if none.
fn call_boundary(
    ops: &[OperationIr],
    call: Call,
    producer: &HashMap<TensorId, (usize, TensorSpec)>,
    last_use: &HashMap<TensorId, usize>,
    root_outputs: &HashSet<TensorId>,
) -> (Vec<TensorSpec>, Vec<TensorSpec>) {
    let mut seen = HashSet::new();
    let mut inputs = Vec::new();
    let mut outputs = Vec::new();
    for op in &ops[call.start..=call.end] {
        for t in op.inputs() {
            if let Some((at, s)) = producer.get(&t.id)
                && *at < call.start
                && seen.insert(t.id)
            {
                inputs.push(s.clone());
            }
        }
        for t in op.outputs() {
            let used_after = last_use.get(&t.id).is_some_and(|&u| u > call.end);
            if used_after || root_outputs.contains(&t.id) {
                outputs.push(spec(t));
            }
        }
    }
    if outputs.is_empty() {
        outputs = ops[call.end].outputs().map(spec).collect();
    }
    (inputs, outputs)
}

fn join_specs(specs: &[TensorSpec]) -> String {
    specs
        .iter()
        .map(TensorSpec::display)
        .collect::<Vec<_>>()
        .join(", ")
}

fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A plain-text table (first calls only; repeated calls are counted in the type column).
/// This is a stand-in until the rows convert to `tabulate::Summary`, whose renderer and
/// exports then apply.
impl fmt::Display for BurnSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut calls: HashMap<&[String], usize> = HashMap::new();
        for r in &self.rows {
            *calls.entry(r.path.as_slice()).or_insert(0) += 1;
        }
        let header = [
            "path", "module", "inputs", "outputs", "params", "flops", "macs",
        ];
        let mut table: Vec<[String; 7]> = vec![header.map(String::from)];
        for r in self.rows.iter().filter(|r| r.call_index == 0) {
            let n = calls[r.path.as_slice()];
            let ty = r.module_type.clone().unwrap_or_else(|| "?".to_string());
            let ty = if n > 1 { format!("{ty} (×{n})") } else { ty };
            let own: u64 = r.params.iter().map(|p| p.spec.elements()).sum();
            let flops = if r.not_costed > 0 {
                format!("≥{}", count(r.cost.flops))
            } else {
                count(r.cost.flops)
            };
            table.push([
                r.path_string(),
                ty,
                join_specs(&r.inputs),
                join_specs(&r.outputs),
                if own > 0 { count(own) } else { String::new() },
                flops,
                count(r.cost.macs),
            ]);
        }
        let widths: Vec<usize> = (0..7)
            .map(|c| {
                table
                    .iter()
                    .map(|r| r[c].chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        for (i, r) in table.iter().enumerate() {
            let cells: Vec<String> = r
                .iter()
                .zip(&widths)
                .enumerate()
                .map(|(c, (s, &w))| {
                    let pad = w - s.chars().count();
                    if c >= 4 {
                        format!("{}{s}", " ".repeat(pad))
                    } else {
                        format!("{s}{}", " ".repeat(pad))
                    }
                })
                .collect();
            writeln!(f, "{}", cells.join(" | ").trim_end())?;
            if i == 0 {
                let rule: Vec<String> = widths.iter().map(|&w| "-".repeat(w)).collect();
                writeln!(f, "{}", rule.join("-+-"))?;
            }
        }
        let total = self.rows.first().map(|r| r.cost).unwrap_or_default();
        writeln!(
            f,
            "Total: {} params ({} bytes; burn num_params: {}), {} flops, {} transcendentals, {} MACs",
            count(self.total_params),
            count(self.total_param_bytes),
            count(self.burn_num_params),
            count(total.flops),
            count(total.transcendentals),
            count(total.macs),
        )?;
        writeln!(
            f,
            "Recorded: {} ops building the model, {} in the forward pass; {} tensors with data in memory ({} bytes).",
            self.init_ops,
            self.forward_ops,
            self.stored_values,
            count(self.stored_bytes)
        )?;
        self.write_notes(f)
    }
}

impl BurnSummary {
    /// The lines under the table: what was not costed, not attributed or not called.
    fn write_notes(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for n in &self.not_costed {
            writeln!(
                f,
                "Not costed: {} ×{} (in {})",
                n.name,
                n.count,
                n.rows
                    .iter()
                    .map(|p| if p.is_empty() { "<model>" } else { p.as_str() })
                    .collect::<Vec<_>>()
                    .join(", ")
            )?;
        }
        if !self.parameter_free.is_empty() {
            let names: Vec<String> = self
                .parameter_free
                .iter()
                .map(|u| match &u.module_type {
                    Some(t) => format!("{} ({t})", u.path),
                    None => u.path.clone(),
                })
                .collect();
            writeln!(
                f,
                "No row (fields without parameters: parameter-free modules such as activations, \
                 or absent `Option`s; their operations count in the enclosing row): {}",
                names.join(", ")
            )?;
        }
        for u in &self.not_called {
            writeln!(f, "Not called: {} ({} params)", u.path, count(u.params))?;
        }
        Ok(())
    }
}
