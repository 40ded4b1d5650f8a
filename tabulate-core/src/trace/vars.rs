//! Variables (parameters, batch statistics, …) declared during a run, by collection and
//! module path, with the graph value each currently holds.

use crate::ops::graph::{Spec, ValueId};
use crate::path::ModulePath;
use crate::tensor::Tensor;

/// Index of a variable in a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct VarId(pub(crate) usize);

/// One variable.
#[derive(Clone, Debug)]
pub(crate) struct Variable {
    pub(crate) collection: String,
    /// Path of the module that declared it.
    pub(crate) path: ModulePath,
    pub(crate) name: String,
    pub(crate) spec: Spec,
    /// The graph value it holds now.
    pub(crate) current: ValueId,
    /// The tensor reads return.
    pub(crate) tensor: Tensor,
    /// Logical axis names, for a parameter made by a partitioned initialiser
    /// (`nn.with_partitioning`): shown as `P(embed, mlp)`.
    pub(crate) partition: Option<Vec<Option<String>>>,
    /// One array of a value stored with `sow`: a program input and output like any
    /// variable, but shown in its row as part of the sown tree ([`Sown`]), not alone.
    pub(crate) sown: bool,
}

/// The values `sow` stored under one name of one module (Flax's tuple), as trees.
#[derive(Clone, Debug)]
pub(crate) struct Sown {
    pub(crate) collection: String,
    pub(crate) path: ModulePath,
    pub(crate) name: String,
    /// Each call's value, in order.
    pub(crate) entries: Vec<crate::value::Value>,
}

#[derive(Debug, Default)]
pub(super) struct Variables {
    list: Vec<Variable>,
    /// By interned path: the module's variables (a module declares a few).
    index: super::FastMap<usize, Vec<VarId>>,
}

impl Variables {
    pub(super) fn find(&self, collection: &str, path: &ModulePath, name: &str) -> Option<VarId> {
        self.index.get(&path.addr())?.iter().copied().find(|v| {
            let var = &self.list[v.0];
            var.name == name && var.collection == collection
        })
    }

    pub(super) fn get(&self, var: VarId) -> &Variable {
        &self.list[var.0]
    }

    pub(super) fn add(
        &mut self,
        collection: &str,
        path: ModulePath,
        name: &str,
        spec: Spec,
        value: ValueId,
        tensor: Tensor,
    ) -> VarId {
        let id = VarId(self.list.len());
        self.index.entry(path.addr()).or_default().push(id);
        self.list.push(Variable {
            collection: collection.to_string(),
            path,
            name: name.to_string(),
            spec,
            current: value,
            tensor,
            partition: None,
            sown: false,
        });
        id
    }

    pub(super) fn get_mut(&mut self, var: VarId) -> &mut Variable {
        &mut self.list[var.0]
    }

    pub(super) fn set_current(&mut self, var: VarId, value: ValueId, tensor: Tensor) {
        let v = &mut self.list[var.0];
        v.current = value;
        v.tensor = tensor;
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = (VarId, &Variable)> {
        self.list.iter().enumerate().map(|(i, v)| (VarId(i), v))
    }

    pub(super) fn into_list(self) -> Vec<Variable> {
        self.list
    }
}
