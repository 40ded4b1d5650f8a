//! The recorder: a thread-local trace, active only inside a summary run.
//!
//! Every primitive application becomes a node of a [`Graph`] in emission order; every
//! module call becomes a [`CallRecord`]: its path, its span of the graph, its arguments and
//! result, and the variables it read or wrote. Outside a run, recording costs one
//! thread-local check.

mod batch;
mod lift;
mod naming;
mod params;
mod vars;

use std::cell::RefCell;
use std::collections::HashMap;
use std::ops::Range;

use crate::dtype::DType;
use crate::error::{Error, ErrorKind, Location, Result};
use crate::module::Tabulate;
use crate::ops::graph::{Graph, NodeTag, RegionId, RegionKind, Spec, ValueId, ValueIds};
use crate::ops::{CustomRule, Prim, Specs};
use crate::options::Mutable;
use crate::path::{ModulePath, PathInterner};
use crate::scope::{self, Arrays};
use crate::tensor::Tensor;
use crate::value::{CallArgs, Value};
pub(crate) use lift::{
    Lift, enter_scanned_variables, leave_scanned_variables, scanned_variable_values, with_lifted,
};
use naming::{Fields, Frame, ModuleKey};
use params::FieldParams;
use vars::Variables;
pub(crate) use vars::{Sown, VarId, Variable};

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
    /// The graph values of the tensors in `outputs` (inline when few).
    pub(crate) results: ValueIds,
    /// Recorded by a lifted transform (`scan`) for a function that is not a method of the
    /// module: Flax's `hasattr(module, method)` is false, so it only shows as repeated.
    pub(crate) lifted: bool,
    /// The call's entries in the run's touch log: every variable the call (or a call
    /// inside it) declared, read or wrote, with the value it held then.
    pub(crate) touches: Range<usize>,
    /// The tensors of the call's arguments, as JAX flattens `(args, kwargs)` (inline when
    /// few).
    pub(crate) arguments: ValueIds,
    /// Made through `nn::remat`: the call's span is a [`RegionKind::Remat`] region, which
    /// its own program does not have (Flax costs the row on the module it wraps).
    pub(crate) remat: bool,
}

/// A finished trace: the graph, the calls in entry order and the variables.
#[derive(Debug)]
pub(crate) struct Recording {
    pub(crate) graph: Graph,
    pub(crate) calls: Vec<CallRecord>,
    pub(crate) variables: Vec<Variable>,
    /// The values `sow` stored, by collection, module and name, in first-sown order.
    pub(crate) sown: Vec<Sown>,
    /// Every declaration, read and write of a variable, in order, with its value after it.
    touches: Vec<(VarId, ValueId)>,
    /// The first `Param` field that could not be declared: the run fails with it.
    pub(crate) field_failure: Option<Error>,
    /// Variables a lifted `vmap` batched: the per-example value its module's call read,
    /// the batched value, and the end of that call's span. A call whose span goes past
    /// it (one that holds the batched replay) takes the batched value.
    lifted: HashMap<ValueId, (ValueId, u32)>,
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
        if !self.lifted.is_empty() {
            let lift = |v: &mut ValueId| {
                if let Some(&(batched, end)) = self.lifted.get(v)
                    && call.span.end > end
                {
                    *v = batched;
                }
            };
            for (_, first, last) in &mut touched {
                lift(first);
                lift(last);
            }
        }
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
    /// The `Param` fields of the open calls.
    field_params: FieldParams,
    sown: Vec<Sown>,
    mutable: Mutable,
    region: RegionId,
    next_frame: u64,
    /// Paths already given to modules that carry an identity (built-in layers).
    token_paths: FastMap<u64, (ModulePath, bool)>,
    /// Modules that take the path of the lifted transform wrapping them while it runs
    /// (`nn.scan(Cell)` names the cell's calls `ScanCell_0`).
    aliases: HashMap<ModuleKey, ModulePath>,
    /// The scans whose bodies are running, innermost last.
    lifts: Vec<lift::LiftScope>,
    model: ModuleKey,
    /// The random streams the run provides, each with its root key once drawn from.
    rngs: HashMap<String, Option<Tensor>>,
    /// Variables a lifted transform shows its module through a view of
    /// (`map_variables`): reading one returns the view's tensor.
    overrides: HashMap<VarId, Tensor>,
    /// Set by `nn::remat` for the next call opened: the prefix of its type in automatic
    /// names (`Checkpoint`, as `CheckpointDense_0`).
    pending_remat: Option<&'static str>,
    /// The open remat regions: the depth of the frame that owns each, the region and the
    /// region around it.
    remats: Vec<(usize, RegionId, RegionId)>,
    /// The type-name prefix of the call being resolved (from `pending_remat` or
    /// `pending_lift`).
    name_prefix: Option<&'static str>,
    /// Set by a lifted transform for the next call opened: the prefix of its type in
    /// automatic names (`Vmap`, as `VmapDense_0`).
    pending_lift: Option<&'static str>,
    /// See [`Recording::lifted`].
    lifted: HashMap<ValueId, (ValueId, u32)>,
    /// Variables stored batched by a `vmap`: the spec and tensor its module reads.
    per_example: HashMap<VarId, (Spec, Tensor)>,
}

/// Installs the trace of a run of `model` on this thread, for the forward pass that
/// follows; the trace is removed when the returned guard is dropped or read
/// ([`Uninstall::recording`]). Not generic over the model's type: compiled once, here,
/// not in every crate that runs a summary.
pub(crate) fn install(
    model: &dyn Tabulate,
    mutable: &Mutable,
    rngs: &[String],
) -> Result<Uninstall> {
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
            field_params: FieldParams::default(),
            sown: Vec::new(),
            mutable: mutable.clone(),
            region: RegionId::TOP,
            next_frame: 1,
            token_paths: FastMap::default(),
            aliases: HashMap::new(),
            lifts: Vec::new(),
            model: naming::key_of(model),
            rngs: rngs.iter().map(|s| (s.clone(), None)).collect(),
            overrides: HashMap::new(),
            pending_remat: None,
            remats: Vec::new(),
            name_prefix: None,
            pending_lift: None,
            lifted: HashMap::new(),
            per_example: HashMap::new(),
        });
        true
    });
    if !installed {
        return Err(Error::new(ErrorKind::Reentrant));
    }
    scope::open(generation);
    Ok(Uninstall)
}

/// Removes the trace when dropped, even if the run panics, so the thread can run another
/// summary.
pub(crate) struct Uninstall;

impl Uninstall {
    /// Takes the trace of the finished run and removes it.
    pub(crate) fn recording(self) -> Recording {
        let trace = TRACE
            .with(|cell| cell.borrow_mut().take())
            .expect("the trace installed by `install` is still there");
        drop(self);
        Recording {
            graph: trace.graph,
            calls: trace.calls,
            variables: trace.variables.into_list(),
            sown: trace.sown,
            touches: trace.touches,
            field_failure: trace.field_params.failure,
            lifted: trace.lifted,
        }
    }
}

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
pub(crate) fn record(prim: Prim, inputs: &[&Tensor], outputs: Specs) -> Vec<Tensor> {
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

/// [`record`] for a primitive applied for its first result (the others, if any, are
/// unused): no list of results is made. `None` if it has no result.
pub(crate) fn record_one(prim: Prim, inputs: &[&Tensor], outputs: Specs) -> Option<Tensor> {
    let mut outputs = Some(outputs);
    with_trace(|trace| trace.record_one(prim, inputs, outputs.take().unwrap_or_default()))
        .unwrap_or_else(|| outputs?.into_iter().next().map(Tensor::from_spec))
}

pub(super) use crate::hash::IdHasher;

/// A map keyed by tensor ids, addresses or module keys: the recorder looks one up on every
/// op and every call.
pub(super) type FastMap<K, V> = crate::hash::IdMap<K, V>;

type IdMap<V> = FastMap<u64, V>;

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

/// The path `module` has (or gets now, as a call of it would) in the running call,
/// without recording a call: a lifted transform's wrapper, which has no row of its own
/// but a name (`ScanCell_0`) that the module it wraps takes. `None` outside a run.
pub(crate) fn module_path(module: &dyn Tabulate) -> Option<ModulePath> {
    let key = naming::key_of(module);
    with_trace(|trace| trace.resolve_path(module, &key).0)
}

/// Runs `f` with the calls of `module` taking `path` (a lifted transform's name), as
/// Flax's lifted module stands for its target.
pub(crate) fn with_alias<T>(module: &dyn Tabulate, path: ModulePath, f: impl FnOnce() -> T) -> T {
    let key = naming::key_of(module);
    let previous = with_trace(|trace| trace.aliases.insert(key.clone(), path)).flatten();
    let out = f();
    with_trace(|trace| match previous {
        Some(previous) => trace.aliases.insert(key, previous),
        None => trace.aliases.remove(&key),
    });
    out
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

/// Gives the variable `name` of `collection` on the current module its logical axis
/// names (a partitioned initialiser), unless it has some already.
pub(crate) fn set_partition(collection: &str, name: &str, names: &[Option<String>]) {
    with_trace(|trace| trace.set_partition(collection, name, names));
}

/// Stores `value` (whose arrays are `arrays`) under `name` in `collection` on the current
/// module, as Flax's `Module.sow` with its default `reduce_fn`: appended to the tuple of
/// values stored so far. `Ok(false)` when the collection is not mutable (nothing stored).
/// Outside a run, nothing is stored either.
pub(crate) fn sow(collection: &str, name: &str, value: Value, arrays: Arrays) -> Result<bool> {
    with_trace(|trace| trace.sow(collection, name, value, arrays)).unwrap_or(Ok(false))
}

/// The spec of variable `name` of `collection` on the current module, if it is declared.
pub(crate) fn variable_spec(collection: &str, name: &str) -> Option<Spec> {
    with_trace(|trace| {
        let path = trace.current_path()?.clone();
        let var = trace.variables.find(collection, &path, name)?;
        Some(trace.variables.get(var).spec.clone())
    })
    .flatten()
}

/// Whether `collection` may be written in this run (always true outside a run).
pub(crate) fn is_mutable(collection: &str) -> bool {
    with_trace(|trace| trace.mutable.allows(collection)).unwrap_or(true)
}

/// The root key of random stream `stream` (an input of the program, like a variable),
/// or an error if the run does not provide it. Outside a run, a fresh key.
pub(crate) fn rng_key(stream: &str) -> Result<Tensor> {
    with_trace(|trace| trace.rng_key(stream))
        .unwrap_or_else(|| Ok(Tensor::new(DType::U32, [2]).into_typed_key()))
}

/// Marks `key`'s value as a typed PRNG key (one derived from a typed key, as `fold_in`'s
/// result): a program that takes it as an input then counts its `Sharding` custom call,
/// as a Flax submodule given `self.make_rng(…)` does.
pub(crate) fn mark_typed_key(key: &Tensor) {
    with_trace(|trace| {
        let v = trace.value_of(key);
        if !trace.graph.keys.contains(&v) {
            trace.graph.keys.push(v);
        }
    });
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
        if let Some(v) = tensor.value_in(self.generation) {
            return ValueId(v);
        }
        if let Some(&v) = self.values.get(&tensor.id()) {
            return v;
        }
        let v = self.graph.add_input(tensor.spec().clone());
        self.values.insert(tensor.id(), v);
        if tensor.is_typed_key() {
            self.graph.keys.push(v);
        }
        v
    }

    /// A new tensor that is graph value `v` (of spec `spec`): found again without a
    /// look-up.
    fn tensor_of(&self, spec: Spec, v: ValueId) -> Tensor {
        Tensor::traced(spec, self.generation, v.0)
    }

    /// Records `prim` on `inputs` as a node of the current region, tagged with the
    /// user-level operation running it: its result values.
    fn push_op(&mut self, prim: Prim, inputs: &[&Tensor], outputs: Specs) -> ValueIds {
        let ins: ValueIds = inputs.iter().map(|t| self.value_of(t)).collect();
        let outs = self
            .graph
            .push_node(prim, ins, outputs, self.region, NodeTag::Plain);
        if let Some(node) = self.graph.nodes.last_mut() {
            node.origin = crate::scope::current_operation();
        }
        outs
    }

    fn record(&mut self, prim: Prim, inputs: &[&Tensor], outputs: Specs) -> Vec<Tensor> {
        self.push_op(prim, inputs, outputs)
            .into_iter()
            .map(|v| self.tensor_of(self.graph.spec(v).clone(), v))
            .collect()
    }

    fn record_one(&mut self, prim: Prim, inputs: &[&Tensor], outputs: Specs) -> Option<Tensor> {
        let &v = self.push_op(prim, inputs, outputs).first()?;
        Some(self.tensor_of(self.graph.spec(v).clone(), v))
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
        call_args: CallArgs,
        lifted: Option<&Lifted>,
    ) -> usize {
        let remat = self.pending_remat.take();
        self.name_prefix = remat.or(self.pending_lift.take());
        let (path, attached) = match lifted.and_then(|l| l.path.as_ref()) {
            Some(path) => (self.paths.intern(path), false),
            None => self.resolve_path(module, key),
        };
        self.name_prefix = None;
        let adopts = attached || module.fields_are_attributes();
        let arguments = call_args
            .flat_arrays()
            .map(|tensor| self.value_for(tensor))
            .collect();
        let inputs = call_args.into_value();
        let index = self.calls.len();
        let touches = self.touches.len();
        self.calls.push(CallRecord {
            path: path.clone(),
            type_name: module.type_name(),
            method,
            inputs,
            outputs: None,
            span: self.node_count()..self.node_count(),
            results: ValueIds::new(),
            touches: touches..touches,
            arguments,
            lifted: lifted.is_some(),
            remat: remat.is_some(),
        });
        let uid = self.next_frame;
        self.next_frame += 1;
        scope::push_frame(uid, path.clone(), module.type_name());
        let mut frame = Frame::call(uid, index, path, adopts, touches);
        let depth = self.frames.len();
        self.fields.push(&mut frame, depth, fields);
        self.frames.push(frame);
        if remat.is_some() {
            let outer = self.region;
            self.region = self.graph.open_region(RegionKind::Remat, outer, Vec::new());
            self.remats.push((depth, self.region, outer));
        }
        depth
    }

    /// Closes the innermost frame.
    fn pop_frame(&mut self) -> Option<Frame> {
        let frame = self.frames.pop()?;
        self.fields.pop(&frame, self.frames.len());
        self.field_params.pop(self.frames.len());
        Some(frame)
    }

    fn exit(&mut self, depth: usize, outputs: Option<Value>, arrays: Arrays) {
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
        let results: ValueIds = arrays
            .into_iter()
            .map(|tensor| self.value_for(&tensor))
            .collect();
        let touches = frame.touches..self.touches.len();
        self.close_remats(depth, &results, index, touches.clone());
        let call = &mut self.calls[index];
        call.span.end = end;
        call.outputs = outputs;
        call.results = results;
        call.touches = touches;
    }

    /// Closes the remat regions of frames at `depth` or deeper. A region's inputs are what
    /// `jax.checkpoint` takes in Flax's lifted `remat` (the variables the call touched,
    /// flattened as JAX sorts them, then its arguments); its outputs are the call's
    /// results, then the variables' final values.
    fn close_remats(
        &mut self,
        depth: usize,
        results: &[ValueId],
        index: usize,
        touches: Range<usize>,
    ) {
        while let Some(&(d, region, outer)) = self.remats.last() {
            if d < depth {
                break;
            }
            self.remats.pop();
            let mut first: Vec<(VarId, ValueId, ValueId)> = Vec::new();
            for &(var, value) in &self.touches[touches.clone()] {
                match first.iter_mut().find(|(v, _, _)| *v == var) {
                    Some(entry) => entry.2 = value,
                    None => first.push((var, value, value)),
                }
            }
            first.sort_by_cached_key(|&(var, _, _)| {
                let v = self.variables.get(var);
                (v.collection.clone(), v.path.to_vec(), v.name.clone())
            });
            let mut inputs: Vec<ValueId> = first.iter().map(|&(_, entry, _)| entry).collect();
            inputs.extend(self.calls[index].arguments.iter().copied());
            let mut outputs = results.to_vec();
            outputs.extend(first.iter().map(|&(_, _, last)| last));
            self.graph.close_region(region, outputs);
            self.graph.regions[region.0 as usize].inputs = inputs;
            self.region = outer;
        }
    }

    /// The graph value of a described tensor; a tensor the trace never saw (made outside
    /// the run and returned untouched) becomes a graph input, a typed key if any copy of
    /// it was described as one.
    fn value_for(&mut self, array: &scope::Array) -> ValueId {
        if array.run == self.generation {
            return ValueId(array.value);
        }
        if let Some(&v) = self.values.get(&array.id) {
            return v;
        }
        let v = self.graph.add_input(array.spec.clone());
        self.values.insert(array.id, v);
        if scope::is_typed_key(array.id) {
            self.graph.keys.push(v);
        }
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
        self.check_split_stream(stream)?;
        // `params` is always there: Flax's `tabulate(model, key)` is `rngs={'params': key}`.
        if stream != "params" && !self.rngs.contains_key(stream) {
            return Err(self.error(ErrorKind::MissingRng {
                stream: stream.to_string(),
            }));
        }
        if let Some(Some(key)) = self.rngs.get(stream) {
            return Ok(key.clone());
        }
        // A typed key: `value_of` lists it among the graph's keys.
        let key = Tensor::new(DType::U32, [2]).into_typed_key();
        self.value_of(&key);
        self.rngs.insert(stream.to_string(), Some(key.clone()));
        Ok(key)
    }

    /// A `param`/`variable` call: declares the variable (or finds it again), unless a
    /// `Param` field of the module has its name.
    fn declare(&mut self, collection: &str, name: &str, spec: Spec) -> Result<Tensor> {
        if let Some(path) = self.current_path()
            && let Some(var) = self.variables.find(collection, path, name)
            && self.field_params.is_field(var)
        {
            return Err(self.error(params::clash(collection, name)));
        }
        if !self.lifts.is_empty()
            && let Some(path) = self.current_path().cloned()
        {
            let found = self.variables.find(collection, &path, name);
            if let Some(out) = self.declare_lifted(collection, name, &spec, found) {
                return out;
            }
        }
        self.declare_plain(collection, name, spec)
    }

    /// Declares a variable (or returns the existing one) outside any scan's lifting.
    fn declare_plain(&mut self, collection: &str, name: &str, spec: Spec) -> Result<Tensor> {
        let (_, seen) = self.declare_var(collection, name, spec)?;
        Ok(seen)
    }

    /// Declares variable `name` on the current module, or finds it again (and records the
    /// touch); with the value the call sees (a lifted transform's view, if one is open).
    fn declare_var(&mut self, collection: &str, name: &str, spec: Spec) -> Result<(VarId, Tensor)> {
        let Some(path) = self.current_path().cloned() else {
            return Err(self.error(ErrorKind::OutsideModule {
                what: "declaring a variable",
            }));
        };
        if let Some(var) = self.variables.find(collection, &path, name) {
            let seen_spec = match self.per_example.get(&var) {
                Some((pe_spec, _)) => pe_spec,
                None => &self.variables.get(var).spec,
            };
            if *seen_spec != spec {
                return Err(self.error(ErrorKind::VariableMismatch {
                    collection: collection.to_string(),
                    name: name.to_string(),
                    first: seen_spec.to_string(),
                    second: spec.to_string(),
                }));
            }
            return Ok((var, self.read_var(var)));
        }
        if !self.mutable.allows(collection) {
            return Err(self.error(ErrorKind::NotMutable {
                action: "declare",
                collection: collection.to_string(),
                name: name.to_string(),
            }));
        }
        let input = self.graph.add_input(spec.clone());
        let tensor = self.tensor_of(spec.clone(), input);
        let var = self
            .variables
            .add(collection, path, name, spec, input, tensor.clone());
        self.touch(var);
        Ok((var, tensor))
    }

    /// Records a read of declared variable `var` by the running call and returns the value
    /// the call sees: a `vmap`'s per-example view (the touch holds it), a wrapper's
    /// normalised view (`map_variables`), or the variable's current value.
    fn read_var(&mut self, var: VarId) -> Tensor {
        if !self.per_example.is_empty()
            && let Some((_, pe_tensor)) = self.per_example.get(&var)
        {
            let pe_tensor = pe_tensor.clone();
            let view = self.value_of(&pe_tensor);
            self.touches.push((var, view));
            return pe_tensor;
        }
        if !self.overrides.is_empty()
            && let Some(view) = self.overrides.get(&var)
        {
            return view.clone();
        }
        self.touch(var);
        self.variables.get(var).tensor.clone()
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
        if self.write_lifted(var, value).is_some() {
            return Ok(());
        }
        let v = self.value_of(value);
        self.variables.set_current(var, v, value.clone());
        self.touch(var);
        Ok(())
    }

    fn set_partition(&mut self, collection: &str, name: &str, names: &[Option<String>]) {
        let Some(path) = self.current_path().cloned() else {
            return;
        };
        if let Some(var) = self.variables.find(collection, &path, name) {
            let var = self.variables.get_mut(var);
            if var.partition.is_none() {
                var.partition = Some(names.to_vec());
            }
        }
    }

    fn sow(&mut self, collection: &str, name: &str, value: Value, arrays: Arrays) -> Result<bool> {
        let Some(path) = self.current_path().cloned() else {
            return Err(self.error(ErrorKind::OutsideModule { what: "sow" }));
        };
        if !self.mutable.allows(collection) {
            return Ok(false);
        }
        if self.variables.find(collection, &path, name).is_some() {
            return Err(self.error(ErrorKind::InvalidArgument {
                what: format!(
                    "sow: `{name}` in collection `{collection}` holds a variable, not the tuple `sow` appends to"
                ),
            }));
        }
        let existing = self
            .sown
            .iter()
            .position(|s| s.collection == collection && s.path == path && s.name == name);
        let index = existing.unwrap_or_else(|| {
            self.sown.push(Sown {
                collection: collection.to_string(),
                path: path.clone(),
                name: name.to_string(),
                entries: Vec::new(),
            });
            self.sown.len() - 1
        });
        let entry = self.sown[index].entries.len();
        self.sown[index].entries.push(value);
        // Each array is a variable of its own, named so that the variables sort as JAX
        // flattens `{name: (entry_0, entry_1, …)}` (`\u{1}` sorts below every name
        // character): its input is the value Flax's `init` stored (never read), its
        // output the array sown now.
        for (leaf, array) in arrays.into_iter().enumerate() {
            let spec = array.spec.clone();
            let hidden = format!("{name}\u{1}{entry:020}\u{1}{leaf:020}");
            self.declare(collection, &hidden, spec.clone())?;
            let var = self
                .variables
                .find(collection, &path, &hidden)
                .ok_or_else(|| Error::internal("a sown array's variable was just declared"))?;
            self.variables.get_mut(var).sown = true;
            let v = self.value_for(&array);
            let tensor = self.tensor_of(spec, v);
            self.variables.set_current(var, v, tensor);
            self.touch(var);
        }
        Ok(true)
    }

    /// Notes, for every open call, that the call touched `var` (which holds its value).
    fn touch(&mut self, var: VarId) {
        self.touches.push((var, self.variables.get(var).current));
    }
}

/// One variable as a lifted transform sees it: under the path of the module it wraps.
#[derive(Clone, Debug)]
pub(crate) struct VarView {
    pub(crate) id: VarId,
    pub(crate) collection: String,
    /// The path below the wrapped module's own (empty for its own variables).
    pub(crate) below: Vec<String>,
    pub(crate) name: String,
    pub(crate) tensor: Tensor,
}

/// How many calls the run has recorded (the index of the next one).
pub(crate) fn call_count() -> usize {
    with_trace(|trace| trace.calls.len()).unwrap_or(0)
}

/// The path of recorded call `index`.
pub(crate) fn call_path(index: usize) -> Option<ModulePath> {
    with_trace(|trace| trace.calls.get(index).map(|c| c.path.clone())).flatten()
}

/// The variables of the module at `path` and of the modules below it, with their current
/// values, in JAX's order (collection, path, name).
pub(crate) fn variables_under(path: &ModulePath) -> Vec<VarView> {
    with_trace(|trace| {
        let mut views: Vec<VarView> = trace
            .variables
            .iter()
            .filter(|(_, v)| v.path.starts_with(path))
            .map(|(id, v)| VarView {
                id,
                collection: v.collection.to_string(),
                below: v.path.to_vec()[path.len()..].to_vec(),
                name: v.name.to_string(),
                tensor: v.tensor.clone(),
            })
            .collect();
        views.sort_by(|a, b| {
            (&a.collection, &a.below, &a.name).cmp(&(&b.collection, &b.below, &b.name))
        });
        views
    })
    .unwrap_or_default()
}

/// Runs `f` with the variables `views` read as the given tensors (Flax's `map_variables`).
pub(crate) fn with_variable_views<R>(views: Vec<(VarId, Tensor)>, f: impl FnOnce() -> R) -> R {
    let previous = with_trace(|trace| {
        let mut previous = Vec::new();
        for (id, tensor) in views {
            previous.push((id, trace.overrides.insert(id, tensor)));
        }
        previous
    });
    let out = f();
    if let Some(previous) = previous {
        with_trace(|trace| {
            for (id, old) in previous.into_iter().rev() {
                match old {
                    Some(t) => trace.overrides.insert(id, t),
                    None => trace.overrides.remove(&id),
                };
            }
        });
    }
    out
}

/// Writes `value` to variable `id` (the write-back of a mutable `map_variables`), when
/// its collection is mutable.
pub(crate) fn write_variable_by_id(id: VarId, value: &Tensor) {
    with_trace(|trace| {
        let collection = trace.variables.get(id).collection.clone();
        if trace.mutable.allows(&collection) {
            let v = trace.value_of(value);
            trace.variables.set_current(id, v, value.clone());
            trace.touch(id);
        }
    });
}

/// Runs `f` with the first call it opens checkpointed (`nn::remat`): that call's
/// automatic name takes `prefix` before its type (`CheckpointDense_0`) and its span is a
/// remat region.
pub(crate) fn remat_call<R>(prefix: &'static str, f: impl FnOnce() -> R) -> R {
    with_trace(|trace| trace.pending_remat = Some(prefix));
    let out = f();
    with_trace(|trace| trace.pending_remat = None);
    out
}

/// Runs `f` with the first call it opens named as a lifted transform names it: `prefix`
/// before its type in automatic names (`VmapDense_0`).
pub(crate) fn lifted_call<R>(prefix: &'static str, f: impl FnOnce() -> R) -> R {
    with_trace(|trace| trace.pending_lift = Some(prefix));
    let out = f();
    with_trace(|trace| trace.pending_lift = None);
    out
}

pub(crate) use batch::{VmapAxes, vmap_finish};

/// Opens a call of `method` on `module`, when a run is active: resolves its path, records
/// its arguments (`args` is only called then) and pushes its frame. Returns the frame's
/// depth, which [`close_call`] takes.
pub(crate) fn open_call(
    module: &dyn Tabulate,
    method: &'static str,
    args: impl FnOnce(&mut CallArgs),
    lifted: Option<&Lifted>,
) -> Option<usize> {
    // Generic only here (instantiated for every call site of every `#[forward]` method):
    // the rest is compiled once.
    let mut args = Some(args);
    open_call_with(
        module,
        method,
        &mut |call_args| {
            if let Some(args) = args.take() {
                args(call_args);
            }
        },
        lifted,
    )
}

fn open_call_with(
    module: &dyn Tabulate,
    method: &'static str,
    args: &mut dyn FnMut(&mut CallArgs),
    lifted: Option<&Lifted>,
) -> Option<usize> {
    let opening = Opening::new(module, lifted)?;
    let mut call_args = CallArgs::default();
    args(&mut call_args);
    opening.enter(module, method, call_args, lifted)
}

/// What [`open_call`] reads of a module before its arguments are described.
struct Opening {
    fields: Vec<(ModuleKey, String)>,
    params: Vec<params::FieldParam>,
    key: ModuleKey,
}

impl Opening {
    /// `None` when no run is active.
    fn new(module: &dyn Tabulate, lifted: Option<&Lifted>) -> Option<Opening> {
        if !is_active() {
            return None;
        }
        let fields = naming::fields_of(module);
        // A lifted call recorded at another path (`<lambda>`, next to the `RNN`) does not
        // declare the module's `Param` fields there.
        let own_path = lifted.is_none_or(|l| l.path.is_none());
        let params = if own_path {
            params::params_of(module)
        } else {
            Vec::new()
        };
        let key = naming::key_of(module);
        Some(Opening {
            fields,
            params,
            key,
        })
    }

    fn enter(
        self,
        module: &dyn Tabulate,
        method: &'static str,
        call_args: CallArgs,
        lifted: Option<&Lifted>,
    ) -> Option<usize> {
        with_trace(|trace| {
            let depth = trace.enter(module, &self.key, self.fields, method, call_args, lifted);
            trace.declare_fields(depth, self.params);
            depth
        })
    }
}

/// Reads a `Param` field: its variable's value, recorded as a read by the running call.
/// Outside a run, a fresh tensor of its dtype and shape.
pub(crate) fn read_field_param(param: &crate::param::Param) -> Result<Tensor> {
    with_trace(|trace| trace.read_field(params::addr_of(param), &param.spec))
        .unwrap_or_else(|| Ok(Tensor::from_spec(param.spec.clone())))
}

/// Closes the call whose frame is at `depth` with its result (`None` when it failed or
/// panicked); `arrays` are the tensors its result holds, in order.
pub(crate) fn close_call(depth: usize, outputs: Option<Value>, arrays: Arrays) {
    with_trace(|trace| trace.exit(depth, outputs, arrays));
}
