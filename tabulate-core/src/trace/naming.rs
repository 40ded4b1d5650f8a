//! Path resolution: which name a module call gets, exactly as Flax names modules.
//!
//! A module stored in a field of a calling module (setup style) takes the field's name;
//! the root module has the empty path; any other module (built inline, compact style) takes
//! its explicit name or `{Type}_{n}`, counted per parent call and type, in the module that
//! built it when it carries an identity (built-in layers), else in the calling module.

use std::collections::HashMap;

use super::Trace;
use super::vars::VarId;
use crate::module::{ModuleIdentity, Tabulate, Visitor};

/// What identifies a module between calls.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum ModuleKey {
    /// A module with an identity token (built-in layers).
    Token(u64),
    /// Any other module: its address and type.
    Addr(usize, &'static str),
}

pub(super) fn key_of(module: &dyn Tabulate) -> ModuleKey {
    match module.identity() {
        Some(identity) => ModuleKey::Token(identity.id()),
        None => ModuleKey::Addr(
            std::ptr::from_ref(module).cast::<()>().addr(),
            module.type_name(),
        ),
    }
}

/// The submodule fields of `module`, with their names (`dense`, `layers_0`, …).
pub(super) fn fields_of(module: &dyn Tabulate) -> Vec<(ModuleKey, String)> {
    struct Collect(Vec<(ModuleKey, String)>);
    impl Visitor for Collect {
        fn visit(&mut self, name: &str, module: &dyn Tabulate) {
            self.0.push((key_of(module), name.to_string()));
        }
    }
    let mut collect = Collect(Vec::new());
    module.visit_submodules(&mut collect);
    collect.0
}

/// A module call in progress, or the base frame of a run.
#[derive(Debug)]
pub(super) struct Frame {
    pub(super) uid: u64,
    /// The call's index, `None` for the base frame.
    pub(super) call: Option<usize>,
    pub(super) path: Vec<String>,
    fields: Vec<(ModuleKey, String)>,
    counters: HashMap<&'static str, usize>,
    /// Variables touched during the call, each with the value it held when first
    /// touched (what the call's program takes as that variable's input).
    pub(super) touched: Vec<(VarId, crate::ops::graph::ValueId)>,
}

impl Frame {
    pub(super) fn base(fields: Vec<(ModuleKey, String)>) -> Frame {
        Frame {
            uid: 0,
            call: None,
            path: Vec::new(),
            fields,
            counters: HashMap::new(),
            touched: Vec::new(),
        }
    }

    pub(super) fn call(
        uid: u64,
        index: usize,
        path: Vec<String>,
        fields: Vec<(ModuleKey, String)>,
    ) -> Frame {
        Frame {
            uid,
            call: Some(index),
            path,
            fields,
            counters: HashMap::new(),
            touched: Vec::new(),
        }
    }

    fn field_name(&self, key: &ModuleKey) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, name)| name.as_str())
    }
}

impl Trace {
    pub(super) fn resolve_path(&mut self, module: &dyn Tabulate, key: &ModuleKey) -> Vec<String> {
        if let ModuleKey::Token(id) = key
            && let Some(path) = self.token_paths.get(id)
        {
            return path.clone();
        }
        // A module built during this run belongs to the call that built it, as a Flax
        // module binds to the module whose compact method built it, even when it is then
        // handed to another module (`RNN(LSTMCell(…))`, `Sequential([Dense(…), …])`).
        let path = if *key == self.model {
            Vec::new()
        } else if self.born_in_open_frame(module).is_some() {
            self.inline_path(module)
        } else {
            self.field_path(key)
                .unwrap_or_else(|| self.inline_path(module))
        };
        if let ModuleKey::Token(id) = key {
            self.token_paths.insert(*id, path.clone());
        }
        path
    }

    /// The path of a module held in a field of a module being called, innermost first.
    fn field_path(&self, key: &ModuleKey) -> Option<Vec<String>> {
        self.frames.iter().rev().find_map(|frame| {
            frame.field_name(key).map(|name| {
                let mut path = frame.path.clone();
                path.push(name.to_string());
                path
            })
        })
    }

    /// The open frame that built `module` during this run, if any.
    fn born_in_open_frame(&self, module: &dyn Tabulate) -> Option<usize> {
        let generation = self.generation;
        module
            .identity()
            .and_then(ModuleIdentity::birthplace)
            .filter(|born| born.run == generation && born.frame != 0)
            .and_then(|born| self.frames.iter().rposition(|f| f.uid == born.frame))
    }

    /// The path of a module built inline: named in the frame that built it, if that frame
    /// is still open, else in the current one.
    fn inline_path(&mut self, module: &dyn Tabulate) -> Vec<String> {
        let identity = module.identity();
        let parent = self
            .born_in_open_frame(module)
            .unwrap_or(self.frames.len() - 1);
        let frame = &mut self.frames[parent];
        let name = if let Some(name) = identity.and_then(ModuleIdentity::name) {
            name.to_string()
        } else {
            let counter = frame.counters.entry(module.type_name()).or_insert(0);
            let name = format!("{}_{}", module.type_name(), counter);
            *counter += 1;
            name
        };
        let mut path = frame.path.clone();
        path.push(name);
        path
    }
}
