//! The `Tabulate` trait, implemented by every module, and how submodules held in fields
//! and containers are found and named.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt::Display;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::scope::{self, Birthplace};

/// A module: something whose `#[forward]` calls become rows of a summary.
///
/// Derive it with `#[derive(Tabulate)]`; the derive names the type and lists the fields
/// that hold submodules, so that their calls are named after the fields (`dense`,
/// `layers_0`, …) as Flax names `setup` attributes.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a module",
    label = "`#[forward]` methods and summaries need a module",
    note = "add `#[derive(Tabulate)]` to the struct"
)]
pub trait Tabulate {
    /// The type name shown in the `module` column (`Dense`).
    fn type_name(&self) -> &'static str;

    /// Calls `visitor` once for every submodule held in a field, with its name.
    fn visit_submodules(&self, visitor: &mut dyn Visitor) {
        let _ = visitor;
    }

    /// The identity of a module built inline, if it carries one.
    ///
    /// Built-in layers carry one (see [`ModuleIdentity`]), so that a layer built in one
    /// method and called twice is one module with a repeated call, and so that it is named
    /// in the module that built it, as Flax binds modules where they are constructed.
    /// Modules without one are told apart by the field that holds them or, when built
    /// inline, are a new module at every call.
    fn identity(&self) -> Option<&ModuleIdentity> {
        None
    }

    /// Whether the modules in this module's fields are its `setup` attributes (`true`, the
    /// default, and what `#[derive(Tabulate)]` gives) or Flax dataclass fields (`false`).
    ///
    /// Flax names a submodule where it is bound (`flax/linen/module.py`): a module
    /// constructed in a compact method is bound there at once (`Module.__post_init__`
    /// auto-names it `{Type}_{n}` in `_context.module_stack[-1]`), while one constructed
    /// in `setup` without a name is deferred and bound by the first module that adopts it
    /// (`_register_submodules`: a `setup` attribute, or a dataclass field registered by
    /// `_try_setup`), under that field's name. A derived module stands for a `setup`-style
    /// Flax module: its fields were built for it, so they take the field names
    /// (`SetupStack_0/layers_0`) wherever they were built. Built-in layers that take modules
    /// as constructor arguments (`RNN`'s cell, `Sequential`'s layers) answer `false`: a
    /// child built in a running compact call stays bound there (`RNN(LSTMCell())` gives
    /// `LSTMCell_0` beside `RNN_0`), and is adopted under its field name (`layers_1/cell`)
    /// only when this module was itself adopted or its child was built outside the run.
    fn fields_are_attributes(&self) -> bool {
        true
    }
}

/// Receives the submodules of a module, with their names.
pub trait Visitor {
    /// Called for one submodule named `name`.
    fn visit(&mut self, name: &str, module: &dyn Tabulate);
}

/// Field types that hold submodules: a module, or a container of them (`Vec`, `Option`,
/// arrays, `Box`, `Rc`, `Arc`, string-keyed maps, tuples).
///
/// Containers name their elements the way Flax names `setup` containers: `layers_0`,
/// `blocks_0_1`, `heads_query` (map keys in sorted order).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a module",
    label = "a field of a generic type must hold a module (a type implementing `Tabulate`)",
    note = "add `#[tabulate(skip)]` to a field that holds configuration, not submodules"
)]
pub trait Submodules {
    /// Calls `visitor` for every module held, named `name` or after it.
    fn visit_named(&self, name: &str, visitor: &mut dyn Visitor);
}

impl<M: Tabulate> Submodules for M {
    fn visit_named(&self, name: &str, visitor: &mut dyn Visitor) {
        visitor.visit(name, self);
    }
}

impl<M: Tabulate + ?Sized> Tabulate for Box<M> {
    fn type_name(&self) -> &'static str {
        (**self).type_name()
    }
    fn visit_submodules(&self, visitor: &mut dyn Visitor) {
        (**self).visit_submodules(visitor);
    }
    fn identity(&self) -> Option<&ModuleIdentity> {
        (**self).identity()
    }
    fn fields_are_attributes(&self) -> bool {
        (**self).fields_are_attributes()
    }
}

impl<M: Tabulate + ?Sized> Tabulate for &M {
    fn type_name(&self) -> &'static str {
        (**self).type_name()
    }
    fn visit_submodules(&self, visitor: &mut dyn Visitor) {
        (**self).visit_submodules(visitor);
    }
    fn identity(&self) -> Option<&ModuleIdentity> {
        (**self).identity()
    }
    fn fields_are_attributes(&self) -> bool {
        (**self).fields_are_attributes()
    }
}

fn visit_indexed<'a, T: Submodules + 'a>(
    items: impl IntoIterator<Item = &'a T>,
    name: &str,
    visitor: &mut dyn Visitor,
) {
    for (i, item) in items.into_iter().enumerate() {
        item.visit_named(&format!("{name}_{i}"), visitor);
    }
}

impl<T: Submodules> Submodules for Vec<T> {
    fn visit_named(&self, name: &str, visitor: &mut dyn Visitor) {
        visit_indexed(self, name, visitor);
    }
}

impl<T: Submodules> Submodules for VecDeque<T> {
    fn visit_named(&self, name: &str, visitor: &mut dyn Visitor) {
        visit_indexed(self, name, visitor);
    }
}

impl<T: Submodules, const N: usize> Submodules for [T; N] {
    fn visit_named(&self, name: &str, visitor: &mut dyn Visitor) {
        visit_indexed(self, name, visitor);
    }
}

impl<T: Submodules> Submodules for Option<T> {
    fn visit_named(&self, name: &str, visitor: &mut dyn Visitor) {
        if let Some(m) = self {
            m.visit_named(name, visitor);
        }
    }
}

impl<T: Submodules + ?Sized> Submodules for Rc<T> {
    fn visit_named(&self, name: &str, visitor: &mut dyn Visitor) {
        (**self).visit_named(name, visitor);
    }
}

impl<T: Submodules + ?Sized> Submodules for Arc<T> {
    fn visit_named(&self, name: &str, visitor: &mut dyn Visitor) {
        (**self).visit_named(name, visitor);
    }
}

impl<K: Display, T: Submodules> Submodules for BTreeMap<K, T> {
    fn visit_named(&self, name: &str, visitor: &mut dyn Visitor) {
        let mut entries: Vec<(String, &T)> = self.iter().map(|(k, v)| (k.to_string(), v)).collect();
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        for (key, module) in entries {
            module.visit_named(&format!("{name}_{key}"), visitor);
        }
    }
}

impl<K: Display, T: Submodules, S> Submodules for HashMap<K, T, S> {
    fn visit_named(&self, name: &str, visitor: &mut dyn Visitor) {
        let mut entries: Vec<(String, &T)> = self.iter().map(|(k, v)| (k.to_string(), v)).collect();
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        for (key, module) in entries {
            module.visit_named(&format!("{name}_{key}"), visitor);
        }
    }
}

macro_rules! tuple_submodules {
    ($(($($name:ident $idx:tt),+)),*) => {$(
        impl<$($name: Submodules),+> Submodules for ($($name,)+) {
            fn visit_named(&self, name: &str, visitor: &mut dyn Visitor) {
                $( self.$idx.visit_named(&format!("{name}_{}", $idx), visitor); )+
            }
        }
    )*};
}
tuple_submodules!((A 0, B 1), (A 0, B 1, C 2), (A 0, B 1, C 2, D 3));

/// The identity of a module built inline: built-in layers hold one.
///
/// It records the module call that was running when the layer was built, so the layer is
/// named in that module (as Flax binds a module to the one whose method constructs it),
/// and it tells two calls of the same layer apart from calls of two equal layers. Cloning
/// a layer makes a new module, with a new identity.
#[derive(Debug)]
pub struct ModuleIdentity {
    id: u64,
    name: Option<String>,
    birthplace: Option<Birthplace>,
}

impl ModuleIdentity {
    /// A new identity, born in the module call running now (if any).
    pub fn new() -> ModuleIdentity {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        ModuleIdentity {
            id: NEXT.fetch_add(1, Ordering::Relaxed),
            name: None,
            birthplace: scope::birthplace(),
        }
    }

    /// A new identity with an explicit name, as Flax's `name=` gives one: for a module of
    /// your own, hold it in a field of type `ModuleIdentity` (the derive finds it by its
    /// type; `#[tabulate(identity)]` marks it explicitly).
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::Dense;
    ///
    /// #[derive(Tabulate)]
    /// struct Block {
    ///     identity: ModuleIdentity,
    /// }
    ///
    /// impl Block {
    ///     #[forward]
    ///     fn forward(&self, x: &Tensor) -> Result<Tensor> {
    ///         Dense::new(4).forward(x)
    ///     }
    /// }
    ///
    /// #[derive(Tabulate)]
    /// struct Net;
    ///
    /// impl Net {
    ///     #[forward]
    ///     fn forward(&self, x: &Tensor) -> Result<Tensor> {
    ///         Block { identity: ModuleIdentity::named("h_0") }.forward(x)
    ///     }
    /// }
    ///
    /// let x = Tensor::new(DType::F32, [2, 3]);
    /// let summary = tabulate(&Net).run(|n| n.forward(&x))?;
    /// assert_eq!(summary.rows[2].path, ["h_0", "Dense_0"]);
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn named(name: impl Into<String>) -> ModuleIdentity {
        let mut identity = ModuleIdentity::new();
        identity.set_name(name);
        identity
    }

    /// Gives the module an explicit name, as Flax's `name=` does.
    pub fn set_name(&mut self, name: impl Into<String>) {
        self.name = Some(name.into());
    }

    /// The explicit name, if one was given.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    pub(crate) fn birthplace(&self) -> Option<Birthplace> {
        self.birthplace
    }
}

impl Default for ModuleIdentity {
    fn default() -> ModuleIdentity {
        ModuleIdentity::new()
    }
}

impl Clone for ModuleIdentity {
    /// A clone is a new module: a new identity with the same explicit name.
    fn clone(&self) -> ModuleIdentity {
        let mut fresh = ModuleIdentity::new();
        fresh.name.clone_from(&self.name);
        fresh
    }
}

impl PartialEq for ModuleIdentity {
    /// Identities never affect equality of layer configurations.
    fn eq(&self, _other: &ModuleIdentity) -> bool {
        true
    }
}

/// Support for `#[derive(Tabulate)]`: a field is visited as submodules when its type
/// implements [`Submodules`], and skipped otherwise (configuration), chosen at compile time
/// by method resolution.
#[doc(hidden)]
pub mod probe {
    use super::{Submodules, Visitor};

    /// Wraps a field for method resolution.
    pub struct FieldProbe<'a, T: ?Sized>(pub &'a T);

    /// Chosen for fields that hold submodules.
    pub trait ViaSubmodules {
        /// Visits the field's submodules.
        fn visit_field(&self, name: &str, visitor: &mut dyn Visitor);
    }

    impl<T: Submodules + ?Sized> ViaSubmodules for FieldProbe<'_, T> {
        fn visit_field(&self, name: &str, visitor: &mut dyn Visitor) {
            self.0.visit_named(name, visitor);
        }
    }

    /// Chosen for every other field: configuration, not shown.
    pub trait ViaConfig {
        /// Does nothing.
        fn visit_field(&self, name: &str, visitor: &mut dyn Visitor);
    }

    impl<T: ?Sized> ViaConfig for &FieldProbe<'_, T> {
        fn visit_field(&self, _name: &str, _visitor: &mut dyn Visitor) {}
    }
}
