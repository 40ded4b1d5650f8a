//! Parameters declared as fields ([`Param`]): declared when their module's call opens
//! (Flax's `setup` moment), registered by address for that call, found again by address
//! when read.

use std::collections::{HashMap, HashSet};

use super::{Trace, VarId};
use crate::error::{Error, ErrorKind, Result};
use crate::module::{Tabulate, Visitor};
use crate::ops::graph::Spec;
use crate::param::Param;
use crate::tensor::Tensor;

/// One `Param` held by a module being called.
pub(super) struct FieldParam {
    addr: usize,
    name: String,
    collection: String,
    spec: Spec,
}

/// The `Param` fields of `module` (in its containers too), with their names and
/// collections.
pub(super) fn params_of(module: &dyn Tabulate) -> Vec<FieldParam> {
    struct Collect(Vec<FieldParam>);
    impl Visitor for Collect {
        fn visit(&mut self, _name: &str, _module: &dyn Tabulate) {}
        fn param(&mut self, name: &str, collection: &str, param: &Param) {
            self.0.push(FieldParam {
                addr: addr_of(param),
                name: name.to_string(),
                collection: collection.to_string(),
                spec: param.spec.clone(),
            });
        }
    }
    let mut collect = Collect(Vec::new());
    module.visit_submodules(&mut collect);
    collect.0
}

pub(super) fn addr_of(param: &Param) -> usize {
    std::ptr::from_ref(param).cast::<()>().addr()
}

/// The `Param` fields of the open calls, and which variables were declared by one.
#[derive(Debug, Default)]
pub(super) struct FieldParams {
    /// By address: the frames (depth, outermost first) holding it, with the variable it
    /// declared there or why it could not.
    by_addr: HashMap<usize, Vec<(usize, Result<VarId>)>>,
    /// Per frame that registered some (depth, addresses), innermost last.
    frames: Vec<(usize, Vec<usize>)>,
    /// Variables declared by a field: a `param`/`variable` call of the same name clashes.
    declared: HashSet<VarId>,
    /// The first declaration that failed: the run fails with it even if the field is
    /// never read (Flax's `setup` would have raised).
    pub(super) failure: Option<Error>,
}

impl FieldParams {
    /// Whether `var` was declared by a `Param` field.
    pub(super) fn is_field(&self, var: VarId) -> bool {
        self.declared.contains(&var)
    }

    /// Unregisters the fields of the frame at `depth`, which is being closed.
    pub(super) fn pop(&mut self, depth: usize) {
        if self.frames.last().is_none_or(|(d, _)| *d != depth) {
            return;
        }
        let Some((_, addrs)) = self.frames.pop() else {
            return;
        };
        for addr in addrs {
            if let Some(holders) = self.by_addr.get_mut(&addr) {
                if holders.last().is_some_and(|(d, _)| *d == depth) {
                    holders.pop();
                }
                if holders.is_empty() {
                    self.by_addr.remove(&addr);
                }
            }
        }
    }
}

/// The error for a name given both to a `Param` field and to a `param`/`variable` call.
pub(super) fn clash(collection: &str, name: &str) -> ErrorKind {
    ErrorKind::InvalidArgument {
        what: format!(
            "variable `{name}` in collection `{collection}` is declared twice: by the `Param` field `{name}` and by a call of `param`/`variable`; rename one of them"
        ),
    }
}

impl Trace {
    /// Declares the `Param` fields of the call just opened at `depth` (before its body
    /// runs) and registers them for reads.
    pub(super) fn declare_fields(&mut self, depth: usize, params: Vec<FieldParam>) {
        if params.is_empty() {
            return;
        }
        let mut addrs = Vec::with_capacity(params.len());
        for param in params {
            let registered = self.field_params.by_addr.get(&param.addr);
            if registered
                .and_then(|h| h.last())
                .is_some_and(|(d, _)| *d == depth)
            {
                // The same `Param` reached twice (an `Rc` in two fields): its first name.
                continue;
            }
            let declared = self.declare_field(&param);
            if let Err(error) = &declared
                && self.field_params.failure.is_none()
            {
                self.field_params.failure = Some(error.clone());
            }
            let holders = self.field_params.by_addr.entry(param.addr).or_default();
            holders.push((depth, declared));
            addrs.push(param.addr);
        }
        self.field_params.frames.push((depth, addrs));
    }

    fn declare_field(&mut self, param: &FieldParam) -> Result<VarId> {
        let FieldParam {
            name,
            collection,
            spec,
            ..
        } = param;
        let fits = spec
            .shape
            .checked_elements()
            .and_then(|n| n.checked_mul(spec.dtype.item_size()))
            .is_some();
        if !fits {
            return Err(self.error(ErrorKind::InvalidArgument {
                what: format!(
                    "variable `{name}` in collection `{collection}`: {spec} is too large: its size in bytes does not fit in 64 bits"
                ),
            }));
        }
        if let Some(path) = self.current_path()
            && let Some(var) = self.variables.find(collection, path, name)
            && !self.field_params.is_field(var)
        {
            return Err(self.error(clash(collection, name)));
        }
        self.check_field_lift(collection, name)?;
        let (var, _) = self.declare_var(collection, name, spec.clone())?;
        self.field_params.declared.insert(var);
        Ok(var)
    }

    /// Reads the `Param` at `addr`: the value its variable holds, recorded as a read by the
    /// call running now.
    pub(super) fn read_field(&mut self, addr: usize, spec: &Spec) -> Result<Tensor> {
        let held = self
            .field_params
            .by_addr
            .get(&addr)
            .and_then(|holders| holders.last())
            .map(|(_, declared)| declared.clone());
        match held {
            Some(Ok(var)) => Ok(self.read_var(var)),
            Some(Err(error)) => Err(error),
            None => Err(self.error(ErrorKind::InvalidArgument {
                what: format!(
                    "a `Param` ({spec}) was read that is not a field of a module being called: make it a field of a `#[derive(Tabulate)]` module (not `#[tabulate(skip)]`) and read it inside that module's `#[forward]` methods"
                ),
            })),
        }
    }
}
