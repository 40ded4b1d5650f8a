//! The scope cell: what code below the recorder may know about the run in progress on
//! this thread (the innermost module call, where a module is built, which tensors a
//! result holds), without depending on the recorder. The recorder (`trace`) writes it;
//! `error`, `module` and `tensor` read it.

use std::cell::RefCell;

use crate::path::ModulePath;
use crate::spec::Spec;

/// The module call an error happened in.
///
/// ```
/// use tabulate::prelude::*;
/// let error = tabulate(&tabulate::nn::Dense::new(4))
///     .run(|d| d.forward(&Tensor::new(DType::F32, [])))
///     .unwrap_err(); // Dense needs at least one axis
/// let location = error.location().expect("inside the call");
/// assert_eq!((location.path.as_str(), location.module.as_str()), ("", "Dense")); // the root
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    /// The module's path, `/`-joined (`Block_0/Dense_1`); empty for the root module.
    pub path: String,
    /// The module's type name (`Dense`).
    pub module: String,
}

/// Where a module was built: in which summary run, inside which open call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Birthplace {
    /// The run (a number unique per run).
    pub(crate) run: u64,
    /// The call frame that was innermost (0: the run's base, outside every call).
    pub(crate) frame: u64,
}

/// One open frame of the run: its number and, for a module call, its path and type (a
/// [`Location`] once an error asks for it).
struct ScopeFrame {
    frame: u64,
    location: Option<(ModulePath, &'static str)>,
}

/// The state of the run in progress.
struct Scope {
    run: u64,
    frames: Vec<ScopeFrame>,
    /// Tensors described while a result is being described, in description order.
    arrays: Option<Arrays>,
    /// Tensors described in this run that are typed PRNG keys.
    typed_keys: Vec<u64>,
}

/// A tensor being described: its id and spec, and the graph value it is in the run that
/// made it (`run` 0: none), so that the recorder finds it without a look-up.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Array {
    pub(crate) id: u64,
    pub(crate) spec: Spec,
    pub(crate) run: u64,
    pub(crate) value: u32,
}

/// The tensors a described value holds, in order: inline when there is one (a module's
/// argument or result is nearly always one tensor).
pub(crate) type Arrays = smallvec::SmallVec<[Array; 1]>;

thread_local! {
    static SCOPE: RefCell<Option<Scope>> = const { RefCell::new(None) };
}

fn with_scope<R>(f: impl FnOnce(&mut Scope) -> R) -> Option<R> {
    SCOPE.with(|cell| cell.try_borrow_mut().ok()?.as_mut().map(f))
}

/// Opens the scope of run `run`, with its base frame (number 0).
pub(crate) fn open(run: u64) {
    SCOPE.with(|cell| {
        *cell.borrow_mut() = Some(Scope {
            run,
            frames: vec![ScopeFrame {
                frame: 0,
                location: None,
            }],
            arrays: None,
            typed_keys: Vec::new(),
        });
    });
}

/// Closes the run's scope.
pub(crate) fn close() {
    SCOPE.with(|cell| cell.borrow_mut().take());
}

/// Enters call frame `frame` of the module of type `module` at `path`.
pub(crate) fn push_frame(frame: u64, path: ModulePath, module: &'static str) {
    with_scope(|scope| {
        scope.frames.push(ScopeFrame {
            frame,
            location: Some((path, module)),
        });
    });
}

/// Leaves frames until `depth` remain.
pub(crate) fn truncate_frames(depth: usize) {
    with_scope(|scope| scope.frames.truncate(depth));
}

/// The innermost module call on this thread, for error messages.
pub(crate) fn current_location() -> Option<Location> {
    with_scope(|scope| {
        scope.frames.iter().rev().find_map(|f| {
            f.location.as_ref().map(|(path, module)| Location {
                path: path.join("/"),
                module: (*module).to_string(),
            })
        })
    })
    .flatten()
}

/// Where a module built now is born, when a run is active.
pub(crate) fn birthplace() -> Option<Birthplace> {
    with_scope(|scope| {
        Some(Birthplace {
            run: scope.run,
            frame: scope.frames.last()?.frame,
        })
    })
    .flatten()
}

/// Notes that a tensor is being described, when [`collect_arrays`] listens.
pub(crate) fn note_array(array: impl FnOnce() -> Array) {
    with_scope(|scope| {
        if let Some(arrays) = &mut scope.arrays {
            arrays.push(array());
        }
    });
}

/// Notes that tensor `id`, being described, is a typed PRNG key: made outside the trace
/// and first seen as an argument, it becomes a key input of the graph.
pub(crate) fn note_typed_key(id: u64) {
    with_scope(|scope| {
        if !scope.typed_keys.contains(&id) {
            scope.typed_keys.push(id);
        }
    });
}

/// Whether tensor `id` was described as a typed PRNG key in this run.
pub(crate) fn is_typed_key(id: u64) -> bool {
    with_scope(|scope| scope.typed_keys.contains(&id)).unwrap_or(false)
}

/// Runs `describe` and returns what it returned with the tensors it described, in order.
pub(crate) fn collect_arrays<R>(describe: impl FnOnce() -> R) -> (R, Arrays) {
    // Generic only here (instantiated for every described type, in every crate that
    // describes one): the rest is compiled once.
    let outer = start_collecting();
    let out = describe();
    (out, stop_collecting(outer))
}

/// Starts collecting described tensors; returns the list of an enclosing collection.
fn start_collecting() -> Option<Arrays> {
    with_scope(|scope| scope.arrays.replace(Arrays::new())).flatten()
}

/// Returns the tensors collected since [`start_collecting`] returned `outer`, and resumes
/// the enclosing collection.
fn stop_collecting(outer: Option<Arrays>) -> Arrays {
    with_scope(|scope| std::mem::replace(&mut scope.arrays, outer))
        .flatten()
        .unwrap_or_default()
}

// ---------------------------------------------------------------- the user's operation

thread_local! {
    /// The user-level operation running on this thread (`Tensor::transpose`, `nn::Conv`):
    /// what errors of the primitives it applies, and of their derivatives, are named by.
    static OPERATION: std::cell::Cell<Option<&'static str>> = const { std::cell::Cell::new(None) };
}

/// Restores the operation that ran before it on drop.
#[must_use = "the operation lasts as long as its guard"]
pub(crate) struct OperationGuard {
    previous: Option<&'static str>,
}

impl Drop for OperationGuard {
    fn drop(&mut self) {
        OPERATION.with(|cell| cell.set(self.previous));
    }
}

/// Marks `name` (`Tensor::matmul`, `nn::relu`) as the user-level operation until the guard
/// drops, unless one is running already: an operation built from others is named as the
/// user called it, not by its parts.
pub(crate) fn operation(name: &'static str) -> OperationGuard {
    OPERATION.with(|cell| {
        let previous = cell.get();
        if previous.is_none() {
            cell.set(Some(name));
        }
        OperationGuard { previous }
    })
}

/// Sets the user-level operation to `name` (`None`: none) until the guard drops, whatever
/// ran before: a module call starts afresh (a user's module body is not an operation; a
/// built-in layer is one, `nn::Dense`).
pub(crate) fn replace_operation(name: Option<&'static str>) -> OperationGuard {
    OPERATION.with(|cell| OperationGuard {
        previous: cell.replace(name),
    })
}

/// The user-level operation running on this thread, if any.
pub(crate) fn current_operation() -> Option<&'static str> {
    OPERATION.with(std::cell::Cell::get)
}

/// `nn::Conv` for a layer type of `tabulate::nn` (named by its Rust type name,
/// `tabulate_core::nn::conv::Conv<…>`), `None` for any other type. Interned: one leaked
/// string per built-in layer type, whatever the number of calls.
pub(crate) fn layer_operation(type_name: &'static str) -> Option<&'static str> {
    /// The last few types asked about on this thread (every built-in layer call asks).
    type Recent = [Option<(&'static str, Option<&'static str>)>; 4];
    thread_local! {
        static RECENT: std::cell::Cell<(Recent, usize)> = const { std::cell::Cell::new(([None; 4], 0)) };
    }
    let (mut recent, next) = RECENT.get();
    for (name, operation) in recent.iter().flatten() {
        if std::ptr::eq(*name, type_name) {
            return *operation;
        }
    }
    let operation = layer_operation_uncached(type_name);
    recent[next] = Some((type_name, operation));
    RECENT.set((recent, (next + 1) % recent.len()));
    operation
}

/// [`layer_operation`] without the thread's cache.
fn layer_operation_uncached(type_name: &'static str) -> Option<&'static str> {
    use std::collections::BTreeMap;
    use std::sync::Mutex;
    static NAMES: Mutex<BTreeMap<&'static str, &'static str>> = Mutex::new(BTreeMap::new());
    let rest = type_name.strip_prefix("tabulate_core::nn::")?;
    let plain = rest.split('<').next().unwrap_or(rest);
    let short = plain.rsplit("::").next().unwrap_or(plain);
    let mut names = NAMES
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    Some(
        names
            .entry(short)
            .or_insert_with(|| Box::leak(format!("nn::{short}").into_boxed_str())),
    )
}
