//! Running the user's closures on burn's capture device and collecting what it records.
//!
//! burn 0.22's `capture` backend executes nothing: every tensor operation becomes a
//! `burn_ir::OperationIr` whose tensors carry only an id, a shape and a dtype. Random and
//! constant initialisation are recorded ops too, so a model built from its config on the
//! capture device holds no weight memory. Both the model's construction and its forward
//! pass must run inside one capture scope (burn rejects capture ops outside a scope).

use std::any::Any;
use std::collections::{HashMap, HashSet};
use std::panic::{AssertUnwindSafe, catch_unwind};

use burn::backend::Capture;
use burn::backend::ir::{OperationIr, TensorId};
use burn::module::{Flag, Module, ModuleVisitor, Param};
use burn::tensor::{Bool, DType, Device, Int, Tensor};

use crate::error::Error;

/// A tensor's shape and dtype.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorSpec {
    /// Dimensions.
    pub shape: Vec<usize>,
    /// burn's dtype.
    pub dtype: DType,
}

impl TensorSpec {
    /// Number of elements.
    pub fn elements(&self) -> u64 {
        self.shape.iter().map(|&d| d as u64).product()
    }

    /// `f32[8, 3, 32, 32]`.
    pub fn display(&self) -> String {
        let dims: Vec<String> = self.shape.iter().map(ToString::to_string).collect();
        format!("{}[{}]", self.dtype.name(), dims.join(","))
    }
}

/// The model's inputs, created on the capture device from a shape and a dtype only.
///
/// The forward closure asks for each input it passes to the model; each becomes an input
/// of the root row.
pub struct Inputs {
    device: Device,
    ids: Vec<(TensorId, TensorSpec)>,
}

impl Inputs {
    /// The capture device (for tensors the forward closure builds itself, e.g. masks).
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// A `float32` input of the given shape.
    pub fn float<const D: usize>(&mut self, shape: [usize; D]) -> Tensor<D> {
        self.float_dtype(shape, DType::F32)
    }

    /// A float input of the given shape and dtype (`DType::BF16`, `DType::F16`, …).
    pub fn float_dtype<const D: usize>(&mut self, shape: [usize; D], dtype: DType) -> Tensor<D> {
        let t = Tensor::<D>::empty(shape, (&self.device, dtype));
        self.record(float_id(&t), &t.shape(), t.dtype());
        t
    }

    /// An `int64` input (token ids, class labels) of the given shape.
    pub fn int<const D: usize>(&mut self, shape: [usize; D]) -> Tensor<D, Int> {
        let t = Tensor::<D, Int>::empty(shape, &self.device);
        self.record(int_id(&t), &t.shape(), t.dtype());
        t
    }

    /// A boolean input (a mask) of the given shape.
    pub fn bool<const D: usize>(&mut self, shape: [usize; D]) -> Tensor<D, Bool> {
        let t = Tensor::<D, Bool>::empty(shape, &self.device);
        self.record(bool_id(&t), &t.shape(), t.dtype());
        t
    }

    fn record(&mut self, id: Option<TensorId>, shape: &[usize], dtype: DType) {
        if let Some(id) = id {
            self.ids.push((
                id,
                TensorSpec {
                    shape: shape.to_vec(),
                    dtype,
                },
            ));
        }
    }
}

pub(crate) fn float_id<const D: usize>(t: &Tensor<D>) -> Option<TensorId> {
    t.clone()
        .try_into_primitive::<Capture>()
        .ok()
        .map(|p| p.id())
}

fn int_id<const D: usize>(t: &Tensor<D, Int>) -> Option<TensorId> {
    t.clone()
        .try_into_primitive::<Capture>()
        .ok()
        .map(|p| p.id())
}

fn bool_id<const D: usize>(t: &Tensor<D, Bool>) -> Option<TensorId> {
    t.clone()
        .try_into_primitive::<Capture>()
        .ok()
        .map(|p| p.id())
}

/// What a forward closure returns: one or more tensors, whose ids mark the root's outputs.
pub trait Outputs {
    /// Appends the ids of the returned tensors (in order).
    fn tensor_ids(&self, ids: &mut Vec<TensorId>);
}

impl<const D: usize> Outputs for Tensor<D> {
    fn tensor_ids(&self, ids: &mut Vec<TensorId>) {
        ids.extend(float_id(self));
    }
}

impl<const D: usize> Outputs for Tensor<D, Int> {
    fn tensor_ids(&self, ids: &mut Vec<TensorId>) {
        ids.extend(int_id(self));
    }
}

impl<const D: usize> Outputs for Tensor<D, Bool> {
    fn tensor_ids(&self, ids: &mut Vec<TensorId>) {
        ids.extend(bool_id(self));
    }
}

impl<T: Outputs> Outputs for Vec<T> {
    fn tensor_ids(&self, ids: &mut Vec<TensorId>) {
        for t in self {
            t.tensor_ids(ids);
        }
    }
}

impl<T: Outputs> Outputs for Option<T> {
    fn tensor_ids(&self, ids: &mut Vec<TensorId>) {
        if let Some(t) = self {
            t.tensor_ids(ids);
        }
    }
}

macro_rules! tuple_outputs {
    ($($name:ident : $idx:tt),+) => {
        impl<$($name: Outputs),+> Outputs for ($($name,)+) {
            fn tensor_ids(&self, ids: &mut Vec<TensorId>) {
                $(self.$idx.tensor_ids(ids);)+
            }
        }
    };
}
tuple_outputs!(A: 0);
tuple_outputs!(A: 0, B: 1);
tuple_outputs!(A: 0, B: 1, C: 2);
tuple_outputs!(A: 0, B: 1, C: 2, E: 3);

/// Kind of a module variable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamKind {
    /// A float tensor (`Param<Tensor<D>>`, including `RunningState`).
    Float,
    /// An int tensor.
    Int,
    /// A bool tensor.
    Bool,
}

/// One module variable found by burn's `ModuleVisitor`.
#[derive(Clone, Debug)]
pub struct ParamInfo {
    /// Field path, e.g. `["layers", "0", "attn", "query", "weight"]`.
    pub path: Vec<String>,
    /// The id of its tensor in the capture graph.
    pub id: TensorId,
    /// Shape and dtype.
    pub spec: TensorSpec,
    /// Tensor kind.
    pub kind: ParamKind,
}

/// Everything one capture produced.
pub(crate) struct Captured {
    /// The model's Rust type name, shortened (`ResNet`).
    pub(crate) root_type: String,
    /// Types of modules by path, from the container type burn passes when entering a
    /// module's own fields (`Struct:Linear`, `Vec`, `Enum:…`).
    pub(crate) module_types: Vec<(Vec<String>, Option<String>)>,
    /// Every variable.
    pub(crate) params: Vec<ParamInfo>,
    /// burn's own `num_params()` of the model.
    pub(crate) burn_num_params: usize,
    /// Recorded operations of the forward pass only (initialisation excluded).
    pub(crate) forward: Vec<OperationIr>,
    /// Number of operations recorded while building the model.
    pub(crate) init_ops: usize,
    /// The root's inputs, in the order the closure asked for them.
    pub(crate) inputs: Vec<(TensorId, TensorSpec)>,
    /// The root's outputs.
    pub(crate) outputs: Vec<TensorId>,
    /// Calls marked with [`crate::call`]: the module's parameter ids and the range of
    /// forward ops between its marks (`start..end`, marker ops removed).
    pub(crate) marked: Vec<(Vec<TensorId>, usize, usize)>,
    /// Tensors holding real data in host memory (weights loaded from records, tables
    /// built from host data), and their total bytes.
    pub(crate) stored_values: usize,
    pub(crate) stored_bytes: u64,
}

/// Collects the module tree and parameters; asking for each parameter's value initialises
/// lazy parameters, which on the capture device records an op and allocates nothing.
#[derive(Default)]
struct TreeVisitor {
    stack: Vec<String>,
    types: Vec<(Vec<String>, Option<String>)>,
    params: Vec<ParamInfo>,
    flags: Vec<Vec<String>>,
    missing: Vec<String>,
}

impl TreeVisitor {
    fn node(&mut self, path: &[String]) -> usize {
        if let Some(i) = self.types.iter().position(|(p, _)| p == path) {
            i
        } else {
            self.types.push((path.to_vec(), None));
            self.types.len() - 1
        }
    }

    fn param(&mut self, id: Option<TensorId>, shape: &[usize], dtype: DType, kind: ParamKind) {
        match id {
            Some(id) => self.params.push(ParamInfo {
                path: self.stack.clone(),
                id,
                spec: TensorSpec {
                    shape: shape.to_vec(),
                    dtype,
                },
                kind,
            }),
            None => self.missing.push(self.stack.join(".")),
        }
    }
}

impl ModuleVisitor for TreeVisitor {
    fn enter_module(&mut self, name: &str, container_type: &str) {
        let current = self.stack.clone();
        let i = self.node(&current);
        let ty = container_type
            .strip_prefix("Struct:")
            .or_else(|| container_type.strip_prefix("Enum:"))
            .unwrap_or(container_type);
        self.types[i].1 = Some(ty.to_string());
        self.stack.push(name.to_string());
        let path = self.stack.clone();
        self.node(&path);
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.stack.pop();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let t = param.val();
        self.param(float_id(&t), &t.shape(), t.dtype(), ParamKind::Float);
    }

    fn visit_int<const D: usize>(&mut self, param: &Param<Tensor<D, Int>>) {
        let t = param.val();
        self.param(int_id(&t), &t.shape(), t.dtype(), ParamKind::Int);
    }

    fn visit_bool<const D: usize>(&mut self, param: &Param<Tensor<D, Bool>>) {
        let t = param.val();
        self.param(bool_id(&t), &t.shape(), t.dtype(), ParamKind::Bool);
    }

    fn visit_flag(&mut self, _flag: &Param<Flag>) {
        // A control value (`training`), not a module and not a tensor.
        self.flags.push(self.stack.clone());
    }
}

/// The tensor ids of a module's parameters.
#[derive(Default)]
pub(crate) struct ParamIds(pub(crate) Vec<TensorId>);

impl ModuleVisitor for ParamIds {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.0.extend(float_id(&param.val()));
    }

    fn visit_int<const D: usize>(&mut self, param: &Param<Tensor<D, Int>>) {
        self.0.extend(int_id(&param.val()));
    }

    fn visit_bool<const D: usize>(&mut self, param: &Param<Tensor<D, Bool>>) {
        self.0.extend(bool_id(&param.val()));
    }
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-string payload".to_string()
    }
}

/// `my_crate::model::ResNet<…>` → `ResNet`.
fn short_type_name<M>() -> String {
    let full = std::any::type_name::<M>();
    let base = full.split('<').next().unwrap_or(full);
    base.rsplit("::").next().unwrap_or(base).to_string()
}

/// Builds the model and runs its forward pass inside one capture scope.
pub(crate) fn capture<M, O>(
    init: impl FnOnce(&Device) -> M,
    forward: impl FnOnce(&M, &mut Inputs) -> O,
) -> Result<Captured, Error>
where
    M: Module,
    O: Outputs,
{
    let device = Device::capture();
    let mut outcome: Result<Stage, Error> = Err(Error::capture("the capture scope did not run"));
    let graph = device
        .capture_scope(|scope| {
            outcome = run_stages(&device, init, forward);
            scope.complete([], [])
        })
        .map_err(|e| Error::capture(e.to_string()))?;
    let stage = outcome?;

    let ops = graph.graph.operations;
    let marker_at = ops
        .iter()
        .position(|op| op.outputs().any(|t| t.id == stage.marker))
        .ok_or_else(|| Error::capture("the forward-pass marker was not recorded"))?;
    // Marker ops of marked calls are boundaries, not computation: drop them and remember
    // where each one stood.
    let markers: HashSet<TensorId> = stage
        .marked
        .iter()
        .flat_map(|m| std::iter::once(m.enter).chain(m.exit))
        .collect();
    let mut position: HashMap<TensorId, usize> = HashMap::new();
    let mut forward_ops: Vec<OperationIr> = Vec::new();
    for op in ops.into_iter().skip(marker_at + 1) {
        if let Some(t) = op.outputs().find(|t| markers.contains(&t.id)) {
            position.insert(t.id, forward_ops.len());
            continue;
        }
        forward_ops.push(op);
    }
    let marked = stage
        .marked
        .iter()
        .filter_map(|m| {
            let start = *position.get(&m.enter)?;
            let end = *position.get(&m.exit?)?;
            (end > start).then(|| (m.params.clone(), start, end))
        })
        .collect();
    let stored_bytes = graph.values.values().map(|v| v.bytes().len() as u64).sum();
    Ok(Captured {
        root_type: short_type_name::<M>(),
        module_types: stage
            .visitor
            .types
            .into_iter()
            .filter(|(path, _)| !stage.visitor.flags.contains(path))
            .collect(),
        params: stage.visitor.params,
        burn_num_params: stage.num_params,
        forward: forward_ops,
        init_ops: marker_at,
        inputs: stage.inputs,
        outputs: stage.outputs,
        marked,
        stored_values: graph.values.len(),
        stored_bytes,
    })
}

struct Stage {
    visitor: TreeVisitor,
    num_params: usize,
    marker: TensorId,
    inputs: Vec<(TensorId, TensorSpec)>,
    outputs: Vec<TensorId>,
    marked: Vec<crate::marked::MarkedCall>,
}

fn run_stages<M, O>(
    device: &Device,
    init: impl FnOnce(&Device) -> M,
    forward: impl FnOnce(&M, &mut Inputs) -> O,
) -> Result<Stage, Error>
where
    M: Module,
    O: Outputs,
{
    let model = catch_unwind(AssertUnwindSafe(|| init(device)))
        .map_err(|p| Error::panicked("building the model", &panic_message(p.as_ref())))?;
    let mut visitor = TreeVisitor::default();
    let num_params = catch_unwind(AssertUnwindSafe(|| {
        model.visit(&mut visitor);
        model.num_params()
    }))
    .map_err(|p| {
        Error::panicked(
            "visiting the model's parameters",
            &panic_message(p.as_ref()),
        )
    })?;
    if let Some(path) = visitor.missing.first() {
        return Err(Error::capture(format!(
            "parameter `{path}` is not on the capture device: build the model with the \
             device passed to the init closure"
        )));
    }
    // Everything recorded before this marker built the model; everything after is forward.
    let marker_tensor = Tensor::<1>::empty([1], device);
    let marker = float_id(&marker_tensor)
        .ok_or_else(|| Error::capture("the capture device returned a non-capture tensor"))?;
    let mut inputs = Inputs {
        device: device.clone(),
        ids: Vec::new(),
    };
    crate::marked::start(device);
    let out = catch_unwind(AssertUnwindSafe(|| forward(&model, &mut inputs)));
    let marked = crate::marked::finish();
    let out = out.map_err(|p| Error::panicked("the forward pass", &panic_message(p.as_ref())))?;
    let mut outputs = Vec::new();
    out.tensor_ids(&mut outputs);
    Ok(Stage {
        visitor,
        num_params,
        marker,
        inputs: inputs.ids,
        outputs,
        marked,
    })
}

impl Outputs for () {
    fn tensor_ids(&self, _ids: &mut Vec<TensorId>) {}
}
