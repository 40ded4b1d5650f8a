//! Exact call boundaries for burn 0.22, which has no forward hooks: a forward method that
//! wraps a submodule call in [`call`] marks where the call starts and ends. Inside a
//! summary, [`call`] records a marker operation on the capture device before and after
//! the call; anywhere else it only runs the closure (one thread-local check).
//!
//! Without marks, calls are recovered by parameter dataflow (`attribution`), which cannot
//! see operations a module runs before its first or after its last parameter read.

use std::cell::RefCell;

use burn::backend::ir::TensorId;
use burn::module::Module;
use burn::tensor::{Device, Tensor};

use crate::capture::{ParamIds, float_id};

/// One marked call: the ids of its enter and exit markers and of the module's parameters.
#[derive(Clone, Debug)]
pub(crate) struct MarkedCall {
    pub(crate) enter: TensorId,
    pub(crate) exit: Option<TensorId>,
    pub(crate) params: Vec<TensorId>,
}

pub(crate) struct Recorder {
    device: Device,
    pub(crate) calls: Vec<MarkedCall>,
}

thread_local! {
    static RECORDER: RefCell<Option<Recorder>> = const { RefCell::new(None) };
}

/// Starts recording marks on this thread (inside a capture scope).
pub(crate) fn start(device: &Device) {
    RECORDER.with(|r| {
        *r.borrow_mut() = Some(Recorder {
            device: device.clone(),
            calls: Vec::new(),
        });
    });
}

/// Stops recording and returns the marked calls.
pub(crate) fn finish() -> Vec<MarkedCall> {
    RECORDER.with(|r| r.borrow_mut().take().map(|r| r.calls).unwrap_or_default())
}

fn marker(device: &Device) -> Option<TensorId> {
    float_id(&Tensor::<1>::empty([1], device))
}

/// Runs `forward` as one call of `module`, marking its exact boundaries for
/// [`summarize`](crate::summarize): every operation between the marks (activations,
/// residual adds, normalisation statistics) belongs to the module's row. The module is
/// identified by its parameters, so it must have some.
///
/// ```ignore
/// fn forward(&self, x: Tensor<3>) -> Tensor<3> {
///     let h = tabulate_burn::call(&self.mlp, || self.mlp.forward(x.clone()));
///     x + h
/// }
/// ```
pub fn call<M: Module, R>(module: &M, forward: impl FnOnce() -> R) -> R {
    let device = RECORDER.with(|r| r.borrow().as_ref().map(|r| r.device.clone()));
    let Some(device) = device else {
        return forward();
    };
    let mut ids = ParamIds::default();
    module.visit(&mut ids);
    let Some(enter) = marker(&device) else {
        return forward();
    };
    let index = RECORDER.with(|r| {
        let mut r = r.borrow_mut();
        let recorder = r.as_mut()?;
        recorder.calls.push(MarkedCall {
            enter,
            exit: None,
            params: ids.0,
        });
        Some(recorder.calls.len() - 1)
    });
    let result = forward();
    let exit = marker(&device);
    if let Some(index) = index {
        RECORDER.with(|r| {
            if let Some(recorder) = r.borrow_mut().as_mut() {
                recorder.calls[index].exit = exit;
            }
        });
    }
    result
}
