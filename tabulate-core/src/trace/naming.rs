//! Path resolution: which name a module call gets, exactly as Flax names modules.
//!
//! The root module has the empty path. A module stored in a field of a calling module takes
//! the field's name when that module adopts its fields (a `setup` attribute, or a Flax
//! dataclass field of a module that was itself adopted: [`Tabulate::fields_are_attributes`])
//! or when it was not built inside a call still open. Any other module (built inline,
//! compact style) takes its explicit name or `{Type}_{n}`, counted per parent call and type,
//! in the module that built it when it carries an identity (built-in layers), else in the
//! calling module.

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
    /// Whether the modules in `fields` are named after their fields even when built inside
    /// an open call (Flax's adoption by `_register_submodules`).
    adopts: bool,
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
            adopts: true,
            counters: HashMap::new(),
            touched: Vec::new(),
        }
    }

    pub(super) fn call(
        uid: u64,
        index: usize,
        path: Vec<String>,
        fields: Vec<(ModuleKey, String)>,
        adopts: bool,
    ) -> Frame {
        Frame {
            uid,
            call: Some(index),
            path,
            fields,
            adopts,
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
    /// The path of a call of `module`, and whether it was named by attachment (as the root
    /// or after a field) rather than where it was built.
    pub(super) fn resolve_path(
        &mut self,
        module: &dyn Tabulate,
        key: &ModuleKey,
    ) -> (Vec<String>, bool) {
        if let ModuleKey::Token(id) = key
            && let Some(resolved) = self.token_paths.get(id)
        {
            return resolved.clone();
        }
        // Flax binds a module built in a compact method to that method's module at once,
        // even when it is then handed to another module (`RNN(LSTMCell(…))`,
        // `Sequential([Dense(…), …])`); a module built for a `setup` attribute is bound
        // where it is attached (`_register_submodules`), and so is everything built for it.
        let resolved = if *key == self.model {
            (Vec::new(), true)
        } else {
            match self.field_path(key) {
                Some((path, adopts)) if adopts || self.born_in_open_frame(module).is_none() => {
                    (path, true)
                }
                _ => (self.inline_path(module), false),
            }
        };
        if let ModuleKey::Token(id) = key {
            self.token_paths.insert(*id, resolved.clone());
        }
        resolved
    }

    /// The path of a module held in a field of a module being called, innermost first, and
    /// whether that module adopts its fields.
    fn field_path(&self, key: &ModuleKey) -> Option<(Vec<String>, bool)> {
        self.frames.iter().rev().find_map(|frame| {
            frame.field_name(key).map(|name| {
                let mut path = frame.path.clone();
                path.push(name.to_string());
                (path, frame.adopts)
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
