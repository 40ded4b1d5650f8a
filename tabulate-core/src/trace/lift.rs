//! Variables inside a lifted `scan` (`flax.core.lift.scan`): each collection is broadcast
//! (one value shared by every step: a loop invariant), scanned along an axis (a variable
//! stacked over the steps; each step sees its slice, and the loop stacks what each step
//! leaves in it), or not lifted at all, which is an error as in Flax.
//!
//! A scanned variable is declared with the stacked shape. In the body's first trace (the
//! one outside the loop, whose calls are the rows) a step's slice is a fresh value, so a
//! row inside the scan costs one step, as Flax's isolated call does; inside the loop it
//! is the loop's slice of the stacked value. The calls around the scan see the stacked
//! value go in and the loop's stacked output come out.

use std::collections::HashMap;

use super::{Trace, VarId, with_trace};
use crate::error::{ErrorKind, Result};
use crate::ops::Prim;
use crate::ops::graph::Spec;
use crate::tensor::Tensor;

/// How a collection meets a scan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Lift {
    /// Shared by every step (`variable_broadcast`).
    Broadcast,
    /// Stacked along this axis of the stacked variable (`variable_axes`).
    Scanned(isize),
    /// Neither: a variable of it cannot be made inside the scan.
    Missing,
}

/// A scan whose body is running.
pub(super) struct LiftScope {
    rule: Box<dyn Fn(&str) -> Lift>,
    /// The random streams split per step (`split_rngs`).
    split: Vec<String>,
    length: usize,
    /// Scanned variables, with the axis they are stacked along, in declaration order.
    vars: Vec<(VarId, usize)>,
    /// The value each scanned variable has in the current step.
    views: HashMap<VarId, Tensor>,
    /// The first call made inside the scan.
    first_call: usize,
    /// Where the scan's entries start in the touch log.
    touch_start: usize,
    /// The scanned variables the body wrote.
    written: Vec<VarId>,
}

impl Trace {
    /// Declares a variable inside a scan, or `None` when no scan lifts it (the caller
    /// declares it as usual). The innermost scan that does not broadcast the collection
    /// decides: a scan broadcasting it leaves it to the scan around it (an `RNN` inside a
    /// scan over layers with stacked parameters).
    pub(super) fn declare_lifted(
        &mut self,
        collection: &str,
        name: &str,
        spec: &Spec,
        found: Option<VarId>,
    ) -> Option<Result<Tensor>> {
        // A scanned variable a running scan has seen: the step's slice. One made by an
        // earlier scan of the same module (called again) joins this scan below.
        if let Some(var) = found
            && let Some(view) = self.lifts.iter().rev().find_map(|s| s.views.get(&var))
        {
            let view = view.clone();
            if *view.spec() != *spec {
                return Some(Err(self.error(ErrorKind::VariableMismatch {
                    collection: collection.to_string(),
                    name: name.to_string(),
                    first: view.spec().to_string(),
                    second: spec.to_string(),
                })));
            }
            let v = self.value_of(&view);
            self.touches.push((var, v));
            return Some(Ok(view));
        }
        for i in (0..self.lifts.len()).rev() {
            match (self.lifts[i].rule)(collection) {
                Lift::Broadcast => {}
                Lift::Missing => {
                    return Some(Err(self.error(ErrorKind::InvalidArgument {
                        what: format!(
                            "scan: variable `{name}` of collection `{collection}` is made \
                             inside a scan that neither broadcasts (variable_broadcast) nor \
                             scans (variable_axes) `{collection}`"
                        ),
                    })));
                }
                Lift::Scanned(axis) => {
                    return Some(self.declare_scanned(i, collection, name, spec, axis));
                }
            }
        }
        None
    }

    /// A `Param` field declared inside a scan: fine where the scans broadcast its
    /// collection; stacking it (`variable_axes`) is not modelled, and a collection not
    /// lifted at all is Flax's error.
    pub(super) fn check_field_lift(&self, collection: &str, name: &str) -> Result<()> {
        for scope in self.lifts.iter().rev() {
            match (scope.rule)(collection) {
                Lift::Broadcast => {}
                Lift::Missing => {
                    return Err(self.error(ErrorKind::InvalidArgument {
                        what: format!(
                            "scan: variable `{name}` of collection `{collection}` is made \
                             inside a scan that neither broadcasts (variable_broadcast) nor \
                             scans (variable_axes) `{collection}`"
                        ),
                    }));
                }
                Lift::Scanned(_) => {
                    return Err(self.error(ErrorKind::InvalidArgument {
                        what: format!(
                            "scan: the `Param` field `{name}` of collection `{collection}` \
                             inside a scan that stacks `{collection}` (variable_axes) is not \
                             modelled; declare it with `param` in the forward method"
                        ),
                    }));
                }
            }
        }
        Ok(())
    }

    /// Declares (or finds) the variable stacked by scan `scope` and gives this step its
    /// slice.
    fn declare_scanned(
        &mut self,
        scope: usize,
        collection: &str,
        name: &str,
        spec: &Spec,
        axis: isize,
    ) -> Result<Tensor> {
        let rank = spec.rank() + 1;
        let signed = isize::try_from(rank).unwrap_or(isize::MAX);
        let a = if axis < 0 { axis + signed } else { axis };
        let Some(axis) = usize::try_from(a).ok().filter(|&a| a < rank) else {
            return Err(self.error(ErrorKind::InvalidArgument {
                what: format!(
                    "scan: variable_axes gives axis {axis} for `{collection}`, out of range \
                     for variable `{name}`: {spec}"
                ),
            }));
        };
        let mut dims = spec.dims().to_vec();
        dims.insert(axis, self.lifts[scope].length);
        let (var, _) = self.declare_var(collection, name, spec.with_shape(dims))?;
        // Its touch (the stacked value) moves to where the scan began.
        let touch = match self.touches.last() {
            Some(&(v, value)) if v == var => {
                self.touches.pop();
                (v, value)
            }
            _ => (var, self.variables.get(var).current),
        };
        // The calls around the scan see the stacked value enter: its touch goes where the
        // scan began, before the touches of the calls (and scans) inside it.
        let (start, first_call) = (self.lifts[scope].touch_start, self.lifts[scope].first_call);
        self.lifts[scope].vars.push((var, axis));
        self.touches.insert(start, touch);
        for call in &mut self.calls[first_call..] {
            if call.touches.start >= start {
                call.touches = call.touches.start + 1..call.touches.end + 1;
            } else if call.touches.end > start {
                call.touches.end += 1;
            }
        }
        for frame in &mut self.frames {
            if frame.call.is_some_and(|c| c >= first_call) {
                frame.touches += 1;
            }
        }
        for inner in &mut self.lifts[scope + 1..] {
            inner.touch_start += 1;
        }
        // This step's slice: a value of its own in the first trace.
        let view = Tensor::from_spec(spec.clone());
        let v = self.graph.add_input(spec.clone());
        self.values.insert(view.id(), v);
        self.lifts[scope].views.insert(var, view.clone());
        self.touches.push((var, v));
        Ok(view)
    }

    /// An error if random stream `stream` is split per step by a scan running now: Flax
    /// then splits its key `length` ways outside the loop, which is not modelled.
    pub(super) fn check_split_stream(&self, stream: &str) -> Result<()> {
        if self
            .lifts
            .iter()
            .any(|scope| scope.split.iter().any(|s| s == stream))
        {
            return Err(self.error(ErrorKind::InvalidArgument {
                what: format!(
                    "scan: random stream `{stream}` is split per step (split_rngs), which is \
                     not modelled; draw it with split_rngs={{'{stream}': False}}"
                ),
            }));
        }
        Ok(())
    }

    /// Writes a scanned variable inside its scan: the step's value changes, or `None` when
    /// the variable is not scanned here.
    pub(super) fn write_lifted(&mut self, var: VarId, value: &Tensor) -> Option<()> {
        let scope = self
            .lifts
            .iter_mut()
            .rev()
            .find(|scope| scope.vars.iter().any(|(v, _)| *v == var))?;
        scope.views.insert(var, value.clone());
        if !scope.written.contains(&var) {
            scope.written.push(var);
        }
        let v = self.value_of(value);
        self.touches.push((var, v));
        Some(())
    }
}

/// Runs `f` (a scan of `length` steps) with variables declared inside it lifted by
/// `rule`; `split` names the random streams split per step.
pub(crate) fn with_lifted<T>(
    rule: Box<dyn Fn(&str) -> Lift>,
    split: Vec<String>,
    length: usize,
    f: impl FnOnce() -> Result<T>,
) -> Result<T> {
    let opened = with_trace(|trace| {
        trace.lifts.push(LiftScope {
            rule,
            split,
            length,
            vars: Vec::new(),
            views: HashMap::new(),
            first_call: trace.calls.len(),
            touch_start: trace.touches.len(),
            written: Vec::new(),
        });
    })
    .is_some();
    let out = f();
    if opened {
        with_trace(|trace| trace.lifts.pop());
    }
    out
}

/// Inside the loop, before the body: each scanned variable's slice, a loop entry (in
/// JAX's order of the variables dict). Returns the variables' axes, in that order.
pub(crate) fn enter_scanned_variables() -> Result<Vec<usize>> {
    with_trace(|trace| {
        let Some(scope) = trace.lifts.last() else {
            return Ok(Vec::new());
        };
        let mut vars = scope.vars.clone();
        vars.sort_by_cached_key(|(var, _)| {
            let v = trace.variables.get(*var);
            (v.collection.clone(), v.path.segments(), v.name.clone())
        });
        let mut axes = Vec::new();
        for (var, axis) in vars {
            let stacked = trace.variables.get(var).tensor.clone();
            let spec = stacked.spec().clone();
            let mut dims = spec.dims().to_vec();
            dims.remove(axis);
            let slice = trace
                .record(
                    Prim::LoopSlice { axis },
                    &[&stacked],
                    smallvec::smallvec![spec.with_shape(dims)],
                )
                .swap_remove(0);
            let scope = trace.lifts.last_mut().expect("checked above");
            scope.views.insert(var, slice);
            axes.push(axis);
        }
        Ok(axes)
    })
    .unwrap_or_else(|| Ok(Vec::new()))
}

/// The value each scanned variable the step wrote holds at the end of the step, in the
/// order of [`enter_scanned_variables`]: the loop stacks them. A variable only read is
/// not an output: JAX forwards a scanned input returned unchanged (its stacked value
/// stays the variable's).
pub(crate) fn scanned_variable_values() -> Vec<Tensor> {
    with_trace(|trace| {
        let Some(scope) = trace.lifts.last() else {
            return Vec::new();
        };
        let mut vars = scope.vars.clone();
        vars.sort_by_cached_key(|(var, _)| {
            let v = trace.variables.get(*var);
            (v.collection.clone(), v.path.segments(), v.name.clone())
        });
        vars.iter()
            .filter(|(var, _)| scope.written.contains(var))
            .filter_map(|(var, _)| scope.views.get(var).cloned())
            .collect()
    })
    .unwrap_or_default()
}

/// After the loop: each scanned variable the step wrote holds the loop's stacked output.
pub(crate) fn leave_scanned_variables(stacked: &[Tensor]) {
    with_trace(|trace| {
        let Some(scope) = trace.lifts.last() else {
            return;
        };
        let mut vars = scope.vars.clone();
        vars.sort_by_cached_key(|(var, _)| {
            let v = trace.variables.get(*var);
            (v.collection.clone(), v.path.segments(), v.name.clone())
        });
        let (written, read): (Vec<_>, Vec<_>) = vars
            .into_iter()
            .partition(|(var, _)| scope.written.contains(var));
        for ((var, _), value) in written.into_iter().zip(stacked) {
            let v = trace.value_of(value);
            trace.variables.set_current(var, v, value.clone());
            trace.touches.push((var, v));
        }
        // A variable only read leaves the scan as it entered (the calls around see it so).
        for (var, _) in read {
            trace.touch(var);
        }
        if let Some(scope) = trace.lifts.last_mut() {
            scope.views.clear();
        }
    });
}
