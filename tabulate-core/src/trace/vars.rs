//! Variables (parameters, batch statistics, …) declared during a run, by collection and
//! module path, with the graph value each currently holds.

use std::sync::Arc;

use crate::ops::graph::{Spec, ValueId};
use crate::path::ModulePath;
use crate::tensor::Tensor;

/// A collection or variable name, shared by every variable of the run that has it
/// (`params`, `kernel`, `bias` are declared thousands of times by a large model): one
/// allocation per distinct name, a reference count per variable.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Name(Arc<str>);

impl Name {
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for Name {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for Name {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Name {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&*self.0, f)
    }
}

impl std::fmt::Display for Name {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl PartialEq<str> for Name {
    fn eq(&self, other: &str) -> bool {
        *self.0 == *other
    }
}

impl PartialEq<&str> for Name {
    fn eq(&self, other: &&str) -> bool {
        *self.0 == **other
    }
}

impl PartialEq<String> for Name {
    fn eq(&self, other: &String) -> bool {
        *self.0 == **other
    }
}

impl PartialEq<Name> for String {
    fn eq(&self, other: &Name) -> bool {
        **self == *other.0
    }
}

/// Index of a variable in a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct VarId(pub(crate) usize);

/// One variable.
#[derive(Clone, Debug)]
pub(crate) struct Variable {
    pub(crate) collection: Name,
    /// Path of the module that declared it.
    pub(crate) path: ModulePath,
    pub(crate) name: Name,
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
    index: super::FastMap<usize, smallvec::SmallVec<[VarId; 2]>>,
    /// Every collection and variable name given so far.
    names: std::collections::HashSet<Name, std::hash::BuildHasherDefault<super::IdHasher>>,
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
        let collection = self.name(collection);
        let name = self.name(name);
        self.list.push(Variable {
            collection,
            path,
            name,
            spec,
            current: value,
            tensor,
            partition: None,
            sown: false,
        });
        id
    }

    /// `name`, shared with every earlier use of it.
    fn name(&mut self, name: &str) -> Name {
        if let Some(known) = self.names.get(name) {
            return known.clone();
        }
        let new = Name(name.into());
        self.names.insert(new.clone());
        new
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
