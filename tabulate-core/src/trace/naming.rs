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
use crate::module::{ModuleIdentity, Tabulate, Visitor};
use crate::path::ModulePath;

/// What identifies a module between calls.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
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
    pub(super) path: ModulePath,
    /// The keys of the fields this frame registered in [`Fields`].
    fields: Vec<ModuleKey>,
    /// Whether the modules in `fields` are named after their fields even when built inside
    /// an open call (Flax's adoption by `_register_submodules`).
    adopts: bool,
    counters: HashMap<&'static str, usize>,
    /// Where the call's entries start in the run's touch log.
    pub(super) touches: usize,
}

impl Frame {
    pub(super) fn base() -> Frame {
        Frame {
            uid: 0,
            call: None,
            path: ModulePath::root(),
            fields: Vec::new(),
            adopts: true,
            counters: HashMap::new(),
            touches: 0,
        }
    }

    pub(super) fn call(
        uid: u64,
        index: usize,
        path: ModulePath,
        adopts: bool,
        touches: usize,
    ) -> Frame {
        Frame {
            uid,
            call: Some(index),
            path,
            fields: Vec::new(),
            adopts,
            counters: HashMap::new(),
            touches,
        }
    }
}

/// The open frames holding one module as a field, outermost first, with its name there:
/// nearly always one.
type Holders = smallvec::SmallVec<[(usize, Box<str>); 1]>;

/// The submodule fields of every open frame, by module key: for each key, the frames that
/// hold it (outermost first) with the field's name. Finding a field is one look-up
/// however many fields and frames there are.
#[derive(Debug, Default)]
pub(super) struct Fields {
    by_key: super::FastMap<ModuleKey, Holders>,
}

impl Fields {
    /// Registers the `fields` of the frame at `index` (a key held twice keeps its first name).
    pub(super) fn push(
        &mut self,
        frame: &mut Frame,
        index: usize,
        fields: Vec<(ModuleKey, String)>,
    ) {
        for (key, name) in fields {
            let holders = self.by_key.entry(key.clone()).or_default();
            if holders.last().is_some_and(|(f, _)| *f == index) {
                continue;
            }
            holders.push((index, name.into()));
            frame.fields.push(key);
        }
    }

    /// Unregisters the fields of `frame`, at `index`, which is being closed.
    pub(super) fn pop(&mut self, frame: &Frame, index: usize) {
        for key in &frame.fields {
            if let Some(holders) = self.by_key.get_mut(key) {
                if holders.last().is_some_and(|(f, _)| *f == index) {
                    holders.pop();
                }
                if holders.is_empty() {
                    self.by_key.remove(key);
                }
            }
        }
    }

    /// The innermost open frame holding `key`, with the field's name.
    fn find(&self, key: &ModuleKey) -> Option<(usize, &str)> {
        self.by_key
            .get(key)
            .and_then(|holders| holders.last())
            .map(|(frame, name)| (*frame, &**name))
    }
}

impl Trace {
    /// The path of a call of `module`, and whether it was named by attachment (as the root
    /// or after a field) rather than where it was built.
    pub(super) fn resolve_path(
        &mut self,
        module: &dyn Tabulate,
        key: &ModuleKey,
    ) -> (ModulePath, bool) {
        if let Some(path) = self.aliases.get(key) {
            return (path.clone(), true);
        }
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
            (ModulePath::root(), true)
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
    fn field_path(&mut self, key: &ModuleKey) -> Option<(ModulePath, bool)> {
        let (frame, name) = self.fields.find(key)?;
        let frame = &self.frames[frame];
        let adopts = frame.adopts;
        let parent = frame.path.clone();
        Some((self.paths.child(&parent, name), adopts))
    }

    /// The open frame that built `module` during this run, if any.
    fn born_in_open_frame(&self, module: &dyn Tabulate) -> Option<usize> {
        let generation = self.generation;
        module
            .identity()
            .and_then(ModuleIdentity::birthplace)
            .filter(|born| born.run == generation && born.frame != 0)
            // Open frames are in increasing `uid` order.
            .and_then(|born| {
                self.frames
                    .binary_search_by_key(&born.frame, |f| f.uid)
                    .ok()
            })
    }

    /// The path of a module built inline: named in the frame that built it, if that frame
    /// is still open, else in the current one.
    fn inline_path(&mut self, module: &dyn Tabulate) -> ModulePath {
        let identity = module.identity();
        let parent = self
            .born_in_open_frame(module)
            .unwrap_or(self.frames.len() - 1);
        let prefix = self.name_prefix;
        let frame = &mut self.frames[parent];
        let name = if let Some(name) = identity.and_then(ModuleIdentity::name) {
            name.to_string()
        } else {
            let type_name = match prefix {
                Some(prefix) => intern(&format!("{prefix}{}", module.type_name())),
                None => module.type_name(),
            };
            let counter = frame.counters.entry(type_name).or_insert(0);
            let name = format!("{type_name}_{counter}");
            *counter += 1;
            name
        };
        let parent = frame.path.clone();
        self.paths.child(&parent, &name)
    }
}

/// A type name made at run time (`CheckpointDense`), kept for the process: there are as
/// many as distinct wrapped types.
fn intern(name: &str) -> &'static str {
    use std::collections::HashSet;
    use std::sync::{Mutex, OnceLock};
    static NAMES: OnceLock<Mutex<HashSet<&'static str>>> = OnceLock::new();
    let mut names = NAMES
        .get_or_init(|| Mutex::new(HashSet::new()))
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(&known) = names.get(name) {
        return known;
    }
    let leaked: &'static str = Box::leak(name.to_string().into_boxed_str());
    names.insert(leaked);
    leaked
}
