//! The recorder: a thread-local trace, active only inside a summary run.
//!
//! Every primitive application becomes a node of a [`Graph`] in emission order; every
//! module call becomes a [`CallRecord`]: its path, its span of the graph, its arguments and
//! result, and the variables it read or wrote. Outside a run, recording costs one
//! thread-local check.

mod naming;
mod vars;

use std::cell::RefCell;
use std::collections::HashMap;
use std::ops::Range;

use crate::dtype::DType;
use crate::error::{Error, ErrorKind, Location, Result};
use crate::module::Tabulate;
use crate::ops::graph::{Graph, NodeTag, RegionId, RegionKind, Spec, ValueId};
use crate::ops::{CustomRule, Prim};
use crate::options::Mutable;
use crate::path::{ModulePath, PathInterner};
use crate::scope;
use crate::tensor::Tensor;
use crate::value::{CallArgs, Value};
use naming::{Fields, Frame, ModuleKey};
use vars::Variables;
pub(crate) use vars::{VarId, Variable};

thread_local! {
    static TRACE: RefCell<Option<Trace>> = const { RefCell::new(None) };
}

/// One module call, as recorded.
#[derive(Clone, Debug)]
pub(crate) struct CallRecord {
    /// The module's path (`["Block_0", "Dense_1"]`); empty for the root. Equal paths
    /// are one interned node.
    pub(crate) path: ModulePath,
    pub(crate) type_name: &'static str,
    pub(crate) method: &'static str,
    pub(crate) inputs: Value,
    /// `None` when the call returned an error.
    pub(crate) outputs: Option<Value>,
    /// The nodes the call emitted, nested calls included.
    pub(crate) span: Range<u32>,
    /// The graph values of the tensors in `outputs`.
    pub(crate) results: Vec<ValueId>,
    /// Recorded by a lifted transform (`scan`) for a function that is not a method of the
    /// module: Flax's `hasattr(module, method)` is false, so it only shows as repeated.
    pub(crate) lifted: bool,
    /// The call's entries in the run's touch log: every variable the call (or a call
    /// inside it) declared, read or wrote, with the value it held then.
    pub(crate) touches: Range<usize>,
    /// The tensors of the call's arguments, as JAX flattens `(args, kwargs)`.
    pub(crate) arguments: Vec<ValueId>,
}

/// A finished trace: the graph, the calls in entry order and the variables.
#[derive(Debug)]
pub(crate) struct Recording {
    pub(crate) graph: Graph,
    pub(crate) calls: Vec<CallRecord>,
    pub(crate) variables: Vec<Variable>,
    /// Every declaration, read and write of a variable, in order, with its value after it.
    touches: Vec<(VarId, ValueId)>,
}

impl Recording {
    /// Every variable `call` (or a call inside it) declared, read or wrote: the mutable
    /// state Flax's `apply` returns. Sorted as JAX flattens the variables dict: by
    /// collection, module path and name, in code-point order (the order of the program's
    /// inputs and outputs, on which XLA's summation order depends).
    pub(crate) fn variables_of(&self, call: &CallRecord) -> CallVariables {
        // For each variable: its value when first touched, and its final value.
        let mut position: HashMap<VarId, usize> = HashMap::new();
        let mut touched: Vec<(VarId, ValueId, ValueId)> = Vec::new();
        for &(var, value) in &self.touches[call.touches.clone()] {
            if let Some(&i) = position.get(&var) {
                touched[i].2 = value;
            } else {
                position.insert(var, touched.len());
                touched.push((var, value, value));
            }
        }
        touched.sort_by_cached_key(|&(var, _, _)| {
            let v = &self.variables[var.0];
            (v.collection.as_str(), v.path.segments(), v.name.as_str())
        });
        CallVariables {
            finals: touched.iter().map(|&(_, _, last)| last).collect(),
            inputs: touched.iter().map(|&(_, first, _)| first).collect(),
        }
    }
}

/// The variables a call touched, in JAX's flattening order.
#[derive(Debug, Default)]
pub(crate) struct CallVariables {
    /// The final value of each: the call program's variable outputs.
    pub(crate) finals: Vec<ValueId>,
    /// The value each held when the call first touched it: the program's variable inputs.
    pub(crate) inputs: Vec<ValueId>,
}

struct Trace {
    generation: u64,
    graph: Graph,
    /// Graph value of every tensor seen in this trace, by tensor id.
    values: IdMap<ValueId>,
    calls: Vec<CallRecord>,
    frames: Vec<Frame>,
    /// The submodule fields of the open frames.
    fields: Fields,
    /// Every path given, interned.
    paths: PathInterner,
    touches: Vec<(VarId, ValueId)>,
    variables: Variables,
    mutable: Mutable,
    region: RegionId,
    next_frame: u64,
    /// Paths already given to modules that carry an identity (built-in layers).
    token_paths: HashMap<u64, (ModulePath, bool)>,
    model: ModuleKey,
    /// The random streams the run provides, each with its root key once drawn from.
    rngs: HashMap<String, Option<Tensor>>,
}

/// Runs `f` with a trace active on this thread, for `model`, and returns what it returned
/// with the recording.
pub(crate) fn run<M: Tabulate, R>(
    model: &M,
    mutable: Mutable,
    rngs: &[String],
    f: impl FnOnce(&M) -> R,
) -> Result<(R, Recording)> {
    let generation = next_generation();
    let mut base = Frame::base();
    let mut fields = Fields::default();
    fields.push(&mut base, 0, naming::fields_of(model));
    let installed = TRACE.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_some() {
            return false;
        }
        *slot = Some(Trace {
            generation,
            graph: Graph::default(),
            values: IdMap::default(),
            calls: Vec::new(),
            frames: vec![base],
            fields,
            paths: PathInterner::default(),
            touches: Vec::new(),
            variables: Variables::default(),
            mutable,
            region: RegionId::TOP,
            next_frame: 1,
            token_paths: HashMap::new(),
            model: naming::key_of(model),
            rngs: rngs.iter().map(|s| (s.clone(), None)).collect(),
        });
        true
    });
    if !installed {
        return Err(Error::new(ErrorKind::Reentrant));
    }
    scope::open(generation);
    let uninstall = Uninstall;
    let out = f(model);
    let trace = TRACE
        .with(|cell| cell.borrow_mut().take())
        .expect("the trace installed by `run` is still there");
    drop(uninstall);
    Ok((
        out,
        Recording {
            graph: trace.graph,
            calls: trace.calls,
            variables: trace.variables.into_list(),
            touches: trace.touches,
        },
    ))
}

/// Removes the trace when dropped, even if the run panics, so the thread can run another
/// summary.
struct Uninstall;

impl Drop for Uninstall {
    fn drop(&mut self) {
        TRACE.with(|cell| cell.borrow_mut().take());
        scope::close();
    }
}

fn next_generation() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Whether a summary run is active on this thread.
pub(crate) fn is_active() -> bool {
    // A trace that is borrowed right now is active: only the trace itself borrows it.
    TRACE.with(|cell| cell.try_borrow().map_or(true, |t| t.is_some()))
}

fn with_trace<R>(f: impl FnOnce(&mut Trace) -> R) -> Option<R> {
    TRACE.with(|cell| cell.borrow_mut().as_mut().map(f))
}

/// Applies `prim` to `inputs` with results of `outputs` specs, recording the application
/// when a trace is active.
pub(crate) fn record(prim: Prim, inputs: &[&Tensor], outputs: Vec<Spec>) -> Vec<Tensor> {
    let mut outputs = Some(outputs);
    with_trace(|trace| trace.record(prim, inputs, outputs.take().unwrap_or_default()))
        .unwrap_or_else(|| {
            outputs
                .unwrap_or_default()
                .into_iter()
                .map(Tensor::from_spec)
                .collect()
        })
}

/// Hashes tensor ids (sequential numbers) by one multiplication: the trace looks one up
/// for every operand of every op.
#[derive(Default)]
struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0 ^ n).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

type IdMap<V> = HashMap<u64, V, std::hash::BuildHasherDefault<IdHasher>>;

/// Runs `f`, recording the ops it emits as a region of `kind` with `inputs`.
fn region(
    kind: RegionKind,
    inputs: &[&Tensor],
    f: impl FnOnce() -> Result<Tensor>,
) -> Result<Tensor> {
    let opened = with_trace(|trace| {
        let ins = inputs.iter().map(|t| trace.value_of(t)).collect();
        let outer = trace.region;
        trace.region = trace.graph.open_region(kind, outer, ins);
        (trace.region, outer)
    });
    let out = f();
    if let Some((region, outer)) = opened {
        with_trace(|trace| {
            let outs = match &out {
                Ok(t) => vec![trace.value_of(t)],
                Err(_) => Vec::new(),
            };
            trace.graph.close_region(region, outs);
            trace.region = outer;
        });
    }
    out
}

/// A nested `jax.jit` around `f` (an HLO `call`).
pub(crate) fn call_region(
    name: &'static str,
    inputs: &[&Tensor],
    f: impl FnOnce() -> Result<Tensor>,
) -> Result<Tensor> {
    region(RegionKind::Call(name), inputs, f)
}

/// Runs `f`, recording its ops as the body of a `while` loop (`scan`).
pub(crate) fn loop_region<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    let opened = with_trace(|trace| {
        let outer = trace.region;
        trace.region = trace.graph.open_region(RegionKind::Loop, outer, Vec::new());
        (trace.region, outer)
    });
    let out = f();
    if let Some((region, outer)) = opened {
        with_trace(|trace| {
            trace.graph.close_region(region, Vec::new());
            trace.region = outer;
        });
    }
    out
}

/// The path of the module whose call is running now, without its last name: where the
/// module that called it lives.
pub(crate) fn parent_path() -> ModulePath {
    with_trace(|trace| {
        trace
            .current_path()
            .and_then(ModulePath::parent)
            .cloned()
            .unwrap_or_default()
    })
    .unwrap_or_default()
}

/// How a lifted call is recorded: under `path` when given, else the module's own.
pub(crate) struct Lifted {
    pub(crate) path: Option<ModulePath>,
}

/// `f` differentiated by the custom rule `rule` (`jax.custom_jvp`).
pub(crate) fn custom_jvp(
    rule: CustomRule,
    inputs: &[&Tensor],
    f: impl FnOnce() -> Result<Tensor>,
) -> Result<Tensor> {
    region(RegionKind::CustomJvp(rule), inputs, f)
}

/// Declares variable `name` in `collection` on the current module (or returns the
/// existing one), as Flax's `self.variable` / `self.param` do.
pub(crate) fn declare_variable(collection: &str, name: &str, spec: Spec) -> Result<Tensor> {
    with_trace(|trace| trace.declare(collection, name, spec.clone()))
        .unwrap_or_else(|| Ok(Tensor::from_spec(spec)))
}

/// Writes a new value to a declared variable.
pub(crate) fn write_variable(collection: &str, name: &str, value: &Tensor) -> Result<()> {
    with_trace(|trace| trace.write(collection, name, value)).unwrap_or(Ok(()))
}

/// Whether `collection` may be written in this run (always true outside a run).
pub(crate) fn is_mutable(collection: &str) -> bool {
    with_trace(|trace| trace.mutable.allows(collection)).unwrap_or(true)
}

/// The root key of random stream `stream` (an input of the program, like a variable),
/// or an error if the run does not provide it. Outside a run, a fresh key.
pub(crate) fn rng_key(stream: &str) -> Result<Tensor> {
    with_trace(|trace| trace.rng_key(stream)).unwrap_or_else(|| Ok(Tensor::new(DType::U32, [2])))
}

impl Trace {
    fn location(&self) -> Option<Location> {
        let frame = self.frames.iter().rev().find(|f| f.call.is_some())?;
        let call = &self.calls[frame.call?];
        Some(Location {
            path: call.path.join("/"),
            module: call.type_name.to_string(),
        })
    }

    fn error(&self, kind: ErrorKind) -> Error {
        Error::located(kind, self.location())
    }

    /// The graph value of `tensor`; a tensor made outside the trace becomes a graph input.
    fn value_of(&mut self, tensor: &Tensor) -> ValueId {
        if let Some(&v) = self.values.get(&tensor.id()) {
            return v;
        }
        let v = self.graph.add_input(tensor.spec().clone());
        self.values.insert(tensor.id(), v);
        v
    }

    fn record(&mut self, prim: Prim, inputs: &[&Tensor], outputs: Vec<Spec>) -> Vec<Tensor> {
        let ins: Vec<ValueId> = inputs.iter().map(|t| self.value_of(t)).collect();
        let outs = self
            .graph
            .push_node(prim, ins, outputs, self.region, NodeTag::Plain);
        if let Some(node) = self.graph.nodes.last_mut() {
            node.origin = crate::scope::current_operation();
        }
        outs.into_iter()
            .map(|v| {
                let tensor = Tensor::from_spec(self.graph.spec(v).clone());
                self.values.insert(tensor.id(), v);
                tensor
            })
            .collect()
    }

    fn node_count(&self) -> u32 {
        u32::try_from(self.graph.nodes.len()).expect("graph exceeds 2^32 nodes")
    }

    fn enter(
        &mut self,
        module: &dyn Tabulate,
        key: &ModuleKey,
        fields: Vec<(ModuleKey, String)>,
        method: &'static str,
        call_args: &CallArgs,
        lifted: Option<&Lifted>,
    ) -> usize {
        let (path, attached) = match lifted.and_then(|l| l.path.as_ref()) {
            Some(path) => (self.paths.intern(path), false),
            None => self.resolve_path(module, key),
        };
        let adopts = attached || module.fields_are_attributes();
        let arguments = call_args
            .flat_arrays()
            .into_iter()
            .map(|(id, spec)| self.value_for_id(id, spec))
            .collect();
        let inputs = call_args.to_value();
        let index = self.calls.len();
        let touches = self.touches.len();
        self.calls.push(CallRecord {
            path: path.clone(),
            type_name: module.type_name(),
            method,
            inputs,
            outputs: None,
            span: self.node_count()..self.node_count(),
            results: Vec::new(),
            touches: touches..touches,
            arguments,
            lifted: lifted.is_some(),
        });
        let uid = self.next_frame;
        self.next_frame += 1;
        scope::push_frame(uid, path.clone(), module.type_name());
        let mut frame = Frame::call(uid, index, path, adopts, touches);
        let depth = self.frames.len();
        self.fields.push(&mut frame, depth, fields);
        self.frames.push(frame);
        depth
    }

    /// Closes the innermost frame.
    fn pop_frame(&mut self) -> Option<Frame> {
        let frame = self.frames.pop()?;
        self.fields.pop(&frame, self.frames.len());
        Some(frame)
    }

    fn exit(&mut self, depth: usize, outputs: Option<Value>, arrays: Vec<(u64, Spec)>) {
        // A frame deeper than `depth` is left only by a panic inside it; drop it too.
        while self.frames.len() > depth + 1 {
            self.pop_frame();
        }
        let Some(frame) = self.pop_frame() else {
            return;
        };
        scope::truncate_frames(self.frames.len());
        let Some(index) = frame.call else {
            return;
        };
        let end = self.node_count();
        let results = arrays
            .into_iter()
            .map(|(id, spec)| self.value_for_id(id, spec))
            .collect();
        let touches = frame.touches..self.touches.len();
        let call = &mut self.calls[index];
        call.span.end = end;
        call.outputs = outputs;
        call.results = results;
        call.touches = touches;
    }

    /// The graph value of tensor `id`; a tensor the trace never saw (made outside the run
    /// and returned untouched) becomes a graph input of its described spec.
    fn value_for_id(&mut self, id: u64, spec: Spec) -> ValueId {
        if let Some(&v) = self.values.get(&id) {
            return v;
        }
        let v = self.graph.add_input(spec);
        self.values.insert(id, v);
        v
    }

    fn current_path(&self) -> Option<&ModulePath> {
        let frame = self.frames.last()?;
        frame.call.map(|_| &frame.path)
    }

    fn rng_key(&mut self, stream: &str) -> Result<Tensor> {
        if self.current_path().is_none() {
            return Err(self.error(ErrorKind::OutsideModule {
                what: "drawing random numbers",
            }));
        }
        // `params` is always there: Flax's `tabulate(model, key)` is `rngs={'params': key}`.
        if stream != "params" && !self.rngs.contains_key(stream) {
            return Err(self.error(ErrorKind::MissingRng {
                stream: stream.to_string(),
            }));
        }
        if let Some(Some(key)) = self.rngs.get(stream) {
            return Ok(key.clone());
        }
        let key = Tensor::new(DType::U32, [2]);
        let v = self.value_of(&key);
        self.graph.keys.push(v);
        self.rngs.insert(stream.to_string(), Some(key.clone()));
        Ok(key)
    }

    fn declare(&mut self, collection: &str, name: &str, spec: Spec) -> Result<Tensor> {
        let Some(path) = self.current_path().cloned() else {
            return Err(self.error(ErrorKind::OutsideModule {
                what: "declaring a variable",
            }));
        };
        if let Some(var) = self.variables.find(collection, &path, name) {
            let existing = self.variables.get(var);
            if existing.spec != spec {
                return Err(self.error(ErrorKind::VariableMismatch {
                    collection: collection.to_string(),
                    name: name.to_string(),
                    first: existing.spec.to_string(),
                    second: spec.to_string(),
                }));
            }
            self.touch(var);
            return Ok(self.variables.get(var).tensor.clone());
        }
        if !self.mutable.allows(collection) {
            return Err(self.error(ErrorKind::NotMutable {
                action: "declare",
                collection: collection.to_string(),
                name: name.to_string(),
            }));
        }
        let input = self.graph.add_input(spec.clone());
        let tensor = Tensor::from_spec(spec.clone());
        self.values.insert(tensor.id(), input);
        let var = self
            .variables
            .add(collection, path, name, spec, input, tensor.clone());
        self.touch(var);
        Ok(tensor)
    }

    fn write(&mut self, collection: &str, name: &str, value: &Tensor) -> Result<()> {
        let Some(path) = self.current_path().cloned() else {
            return Err(self.error(ErrorKind::OutsideModule {
                what: "writing a variable",
            }));
        };
        if !self.mutable.allows(collection) {
            return Err(self.error(ErrorKind::NotMutable {
                action: "write",
                collection: collection.to_string(),
                name: name.to_string(),
            }));
        }
        let Some(var) = self.variables.find(collection, &path, name) else {
            return Err(self.error(ErrorKind::InvalidArgument {
                what: format!("variable `{name}` in collection `{collection}` is written before it is declared"),
            }));
        };
        let v = self.value_of(value);
        self.variables.set_current(var, v, value.clone());
        self.touch(var);
        Ok(())
    }

    /// Notes, for every open call, that the call touched `var` (which holds its value).
    fn touch(&mut self, var: VarId) {
        self.touches.push((var, self.variables.get(var).current));
    }
}

/// Opens a call of `method` on `module`, when a run is active: resolves its path, records
/// its arguments (`args` is only called then) and pushes its frame. Returns the frame's
/// depth, which [`close_call`] takes.
pub(crate) fn open_call(
    module: &dyn Tabulate,
    method: &'static str,
    args: impl FnOnce(&mut CallArgs),
    lifted: Option<&Lifted>,
) -> Option<usize> {
    if !is_active() {
        return None;
    }
    let fields = naming::fields_of(module);
    let key = naming::key_of(module);
    let mut call_args = CallArgs::default();
    args(&mut call_args);
    with_trace(|trace| trace.enter(module, &key, fields, method, &call_args, lifted))
}

/// Closes the call whose frame is at `depth` with its result (`None` when it failed or
/// panicked); `arrays` are the tensors its result holds, in order.
pub(crate) fn close_call(depth: usize, outputs: Option<Value>, arrays: Vec<(u64, Spec)>) {
    with_trace(|trace| trace.exit(depth, outputs, arrays));
}
