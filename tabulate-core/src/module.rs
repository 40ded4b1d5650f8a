//! The `Tabulate` trait, implemented by every module, and how submodules held in fields
//! and containers are found and named.

use std::cell::{OnceCell, RefCell};
use std::collections::{BTreeMap, HashMap, LinkedList, VecDeque};
use std::fmt::Display;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock, TryLockError};

use crate::param::Param;
use crate::scope::{self, Birthplace};

/// A module: something whose `#[forward]` calls become rows of a summary.
///
/// Derive it with `#[derive(Tabulate)]`; the derive names the type and lists the fields
/// that hold submodules, so that their calls are named after the fields (`dense`,
/// `layers_0`, …) as Flax names `setup` attributes.
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::nn::Dense;
///
/// #[derive(Tabulate)]
/// #[tabulate(rename = "Encoder")]
/// struct MyEncoder {
///     #[tabulate(rename = "proj")]
///     projection: Dense,
///     #[tabulate(skip)]
///     debug_copy: Option<Dense>,
///     hidden: usize, // configuration: needs no attribute
/// }
///
/// impl MyEncoder {
///     #[forward]
///     fn forward(&self, x: &Tensor) -> Result<Tensor> {
///         self.projection.forward(x)
///     }
/// }
///
/// let model = MyEncoder { projection: Dense::new(8), debug_copy: None, hidden: 8 };
/// assert_eq!(tabulate::Tabulate::type_name(&model), "Encoder");
/// let summary = model.summary(&Tensor::new(DType::F32, [1, 3]))?;
/// assert_eq!(summary.rows[1].path, ["proj"]);
/// # Ok::<(), tabulate::Error>(())
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a module",
    label = "`#[forward]` methods and summaries need a module",
    note = "add `#[derive(Tabulate)]` to the struct"
)]
pub trait Tabulate {
    /// The type name shown in the `module` column (`Dense`).
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::Dense;
    ///
    /// #[derive(Tabulate)]
    /// struct Mlp;
    ///
    /// #[derive(Tabulate)]
    /// #[tabulate(rename = "MLP")]
    /// struct Renamed;
    ///
    /// assert_eq!(tabulate::Tabulate::type_name(&Dense::new(4)), "Dense");
    /// assert_eq!(tabulate::Tabulate::type_name(&Mlp), "Mlp");
    /// assert_eq!(tabulate::Tabulate::type_name(&Renamed), "MLP");
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    fn type_name(&self) -> &'static str;

    /// Calls `visitor` once for every submodule held in a field, with its name.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::Dense;
    /// use tabulate::{Tabulate, Visitor};
    ///
    /// #[derive(Tabulate)]
    /// struct Pair {
    ///     encoder: Dense,
    ///     decoder: Option<Dense>,
    /// }
    ///
    /// struct Names(Vec<String>);
    ///
    /// impl Visitor for Names {
    ///     fn visit(&mut self, name: &str, module: &dyn Tabulate) {
    ///         self.0.push(format!("{name}: {}", module.type_name()));
    ///     }
    /// }
    ///
    /// let pair = Pair { encoder: Dense::new(4), decoder: Some(Dense::new(2)) };
    /// let mut names = Names(Vec::new());
    /// pair.visit_submodules(&mut names);
    /// assert_eq!(names.0, ["encoder: Dense", "decoder: Dense"]);
    /// # Ok::<(), tabulate::Error>(())
    /// ```
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
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::Tabulate;
    /// use tabulate::nn::Dense;
    ///
    /// #[derive(Tabulate)]
    /// struct Plain;
    ///
    /// assert!(Dense::new(4).identity().is_some()); // built-in layers carry one
    /// assert!(Plain.identity().is_none());
    /// # Ok::<(), tabulate::Error>(())
    /// ```
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
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::Tabulate;
    /// use tabulate::nn::{Dense, Sequential};
    ///
    /// #[derive(Tabulate)]
    /// struct Block {
    ///     dense: Dense,
    /// }
    ///
    /// assert!(Block { dense: Dense::new(4) }.fields_are_attributes()); // derived: `setup` style
    /// assert!(!Sequential::new().then(Dense::new(4)).fields_are_attributes());
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    fn fields_are_attributes(&self) -> bool {
        true
    }
}

/// Receives the submodules of a module, with their names.
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::nn::Dense;
/// use tabulate::{Tabulate, Visitor};
///
/// #[derive(Tabulate)]
/// struct Tower {
///     layers: Vec<Dense>,
///     head: Dense,
/// }
///
/// struct Names(Vec<String>);
///
/// impl Visitor for Names {
///     fn visit(&mut self, name: &str, _module: &dyn Tabulate) {
///         self.0.push(name.to_string());
///     }
/// }
///
/// let tower = Tower { layers: vec![Dense::new(4), Dense::new(4)], head: Dense::new(1) };
/// let mut names = Names(Vec::new());
/// tower.visit_submodules(&mut names);
/// assert_eq!(names.0, ["layers_0", "layers_1", "head"]);
/// ```
pub trait Visitor {
    /// Called for one submodule named `name`.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::Dense;
    /// use tabulate::{Tabulate, Visitor};
    ///
    /// #[derive(Tabulate)]
    /// struct Heads {
    ///     heads: std::collections::BTreeMap<String, Dense>,
    /// }
    ///
    /// struct Names(Vec<String>);
    ///
    /// impl Visitor for Names {
    ///     fn visit(&mut self, name: &str, module: &dyn Tabulate) {
    ///         self.0.push(format!("{name}: {}", module.type_name()));
    ///     }
    /// }
    ///
    /// let heads = Heads { heads: [("value".to_string(), Dense::new(1)), ("policy".to_string(), Dense::new(4))].into() };
    /// let mut names = Names(Vec::new());
    /// heads.visit_submodules(&mut names);
    /// assert_eq!(names.0, ["heads_policy: Dense", "heads_value: Dense"]); // keys in sorted order
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    fn visit(&mut self, name: &str, module: &dyn Tabulate);

    /// Called for one [`Param`] field (or element of a field) named `name`, a variable of
    /// `collection`. Visitors that only look for submodules keep this default, which
    /// ignores it.
    ///
    /// ```
    /// use tabulate::{DType, Param, Submodules, Tabulate, Visitor};
    ///
    /// struct Names(Vec<String>);
    ///
    /// impl Visitor for Names {
    ///     fn visit(&mut self, name: &str, _module: &dyn Tabulate) {
    ///         self.0.push(name.to_string());
    ///     }
    ///     fn param(&mut self, name: &str, collection: &str, _param: &Param) {
    ///         self.0.push(format!("{collection}/{name}"));
    ///     }
    /// }
    ///
    /// let taps = vec![Param::new(DType::F32, [3]), Param::new(DType::F32, [3])];
    /// let mut names = Names(Vec::new());
    /// taps.visit_named("taps", &mut names);
    /// assert_eq!(names.0, ["params/taps_0", "params/taps_1"]);
    /// ```
    fn param(&mut self, name: &str, collection: &str, param: &Param) {
        let _ = (name, collection, param);
    }
}

/// Field types that may hold submodules: a module; a container of them (`Vec`,
/// `VecDeque`, `LinkedList`, arrays and slices, `Option`, `Box`, `Rc`, `Arc`, `RefCell`,
/// `Mutex`, `RwLock`, `OnceCell`, `OnceLock`, maps with keys shown by `Display`, tuples of up
/// to 12 elements); and the plain values that sit beside modules in those containers
/// (numbers, `bool`, `char`, strings, `()`), which hold none.
///
/// Containers name their elements the way Flax names `setup` attributes that hold pytrees
/// of modules: `layers_0`, `blocks_0_1`, `heads_query` (map keys in sorted order), so a
/// `Vec<(String, Dense)>` field `named` names its layers `named_0_1`, `named_1_1`.
/// `RefCell`, `Mutex`, `RwLock` and the once-cells are transparent (the field's name);
/// one that is mutably borrowed or locked when its parent is called is not visited.
///
/// A field of your own configuration type is left out of the table by itself; inside a
/// tuple field too. Inside a container next to modules it must say it holds none, with
/// an impl like this one:
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::nn::{Dense, relu};
///
/// #[derive(Clone, Copy)]
/// enum Act {
///     Relu,
/// }
///
/// impl tabulate::Submodules for Act {
///     const CAN_HOLD_MODULES: bool = false;
///     fn visit_named(&self, _name: &str, _visitor: &mut dyn tabulate::Visitor) {}
/// }
///
/// #[derive(Tabulate)]
/// struct Mlp {
///     layers: Vec<(Dense, Act)>,
/// }
///
/// impl Mlp {
///     #[forward]
///     fn forward(&self, x: &Tensor) -> Result<Tensor> {
///         let mut h = x.clone();
///         for (dense, Act::Relu) in &self.layers {
///             h = relu(&dense.forward(&h)?)?;
///         }
///         Ok(h)
///     }
/// }
///
/// let mlp = Mlp { layers: vec![(Dense::new(4), Act::Relu), (Dense::new(2), Act::Relu)] };
/// let summary = mlp.summary(&Tensor::new(DType::F32, [1, 3]))?;
/// assert_eq!(summary.rows[1].path, ["layers_0_0"]);
/// assert_eq!(summary.rows[2].path, ["layers_1_0"]);
/// # Ok::<(), tabulate::Error>(())
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a module, and a field of a generic type holds it",
    label = "a field whose type is a type parameter must hold modules",
    note = "add `#[tabulate(skip)]` to that field if it holds configuration, or implement `tabulate::Submodules` for `{Self}` with an empty `visit_named`"
)]
pub trait Submodules {
    /// Whether a value of this type can hold a module (or a [`Param`]) at all: `false`
    /// for plain values, so that containers of them are not walked.
    const CAN_HOLD_MODULES: bool = true;

    /// Calls `visitor` for every module (and [`Param`]) held, named `name` or after it.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::Dense;
    /// use tabulate::{Submodules, Tabulate, Visitor};
    ///
    /// struct Names(Vec<String>);
    ///
    /// impl Visitor for Names {
    ///     fn visit(&mut self, name: &str, module: &dyn Tabulate) {
    ///         self.0.push(format!("{name}: {}", module.type_name()));
    ///     }
    /// }
    ///
    /// let blocks = vec![(Dense::new(4), 0.1), (Dense::new(2), 0.2)]; // a float holds no module
    /// let mut names = Names(Vec::new());
    /// blocks.visit_named("blocks", &mut names);
    /// assert_eq!(names.0, ["blocks_0_0: Dense", "blocks_1_0: Dense"]);
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    fn visit_named(&self, name: &str, visitor: &mut dyn Visitor);
}

// `do_not_recommend`: a field of a generic type that holds no module is reported as not
// `Submodules` (the field's mistake, with the fix), not as not `Tabulate`.
#[diagnostic::do_not_recommend]
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

/// A parameter field: a variable of collection `params` (a field's
/// `#[tabulate(collection = "…")]` changes it), never a module. Containers of parameters are
/// walked like containers of modules.
impl Submodules for Param {
    fn visit_named(&self, name: &str, visitor: &mut dyn Visitor) {
        visitor.param(name, "params", self);
    }
}

/// Plain values: they hold no module.
macro_rules! no_submodules {
    ($($t:ty),*) => {$(
        impl Submodules for $t {
            const CAN_HOLD_MODULES: bool = false;
            fn visit_named(&self, _name: &str, _visitor: &mut dyn Visitor) {}
        }
    )*};
}
no_submodules!(
    bool,
    char,
    u8,
    u16,
    u32,
    u64,
    u128,
    usize,
    i8,
    i16,
    i32,
    i64,
    i128,
    isize,
    f32,
    f64,
    String,
    str,
    &str,
    ()
);

fn visit_indexed<'a, T: Submodules + 'a>(
    items: impl IntoIterator<Item = &'a T>,
    name: &str,
    visitor: &mut dyn Visitor,
) {
    if !T::CAN_HOLD_MODULES {
        return;
    }
    // One buffer for every element's name (`name_0`, `name_1`, …).
    let mut element = String::with_capacity(name.len() + 8);
    element.push_str(name);
    element.push('_');
    for (i, item) in items.into_iter().enumerate() {
        element.truncate(name.len() + 1);
        push_index(&mut element, i);
        item.visit_named(&element, visitor);
    }
}

/// Appends `i` in decimal (without the formatting machinery: a sequence of 100,000
/// modules is named on every call of the module holding it).
fn push_index(out: &mut String, mut i: usize) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        // A decimal digit.
        #[allow(clippy::cast_possible_truncation)]
        let digit = (i % 10) as u8;
        digits[start] = b'0' + digit;
        i /= 10;
        if i == 0 {
            break;
        }
    }
    out.extend(digits[start..].iter().map(|&d| char::from(d)));
}

/// Sequences: elements named `{name}_{index}`.
macro_rules! indexed_submodules {
    ($($t:ty),*) => {$(
        impl<T: Submodules> Submodules for $t {
            const CAN_HOLD_MODULES: bool = T::CAN_HOLD_MODULES;
            fn visit_named(&self, name: &str, visitor: &mut dyn Visitor) {
                visit_indexed(self.iter(), name, visitor);
            }
        }
    )*};
}
indexed_submodules!([T], Vec<T>, VecDeque<T>, LinkedList<T>, Box<[T]>);

impl<T: Submodules, const N: usize> Submodules for [T; N] {
    const CAN_HOLD_MODULES: bool = T::CAN_HOLD_MODULES;
    fn visit_named(&self, name: &str, visitor: &mut dyn Visitor) {
        visit_indexed(self, name, visitor);
    }
}

impl<T: Submodules> Submodules for Option<T> {
    const CAN_HOLD_MODULES: bool = T::CAN_HOLD_MODULES;
    fn visit_named(&self, name: &str, visitor: &mut dyn Visitor) {
        if let Some(m) = self {
            m.visit_named(name, visitor);
        }
    }
}

impl<T: Submodules + ?Sized> Submodules for Rc<T> {
    const CAN_HOLD_MODULES: bool = T::CAN_HOLD_MODULES;
    fn visit_named(&self, name: &str, visitor: &mut dyn Visitor) {
        (**self).visit_named(name, visitor);
    }
}

impl<T: Submodules + ?Sized> Submodules for Arc<T> {
    const CAN_HOLD_MODULES: bool = T::CAN_HOLD_MODULES;
    fn visit_named(&self, name: &str, visitor: &mut dyn Visitor) {
        (**self).visit_named(name, visitor);
    }
}

impl<T: Submodules + ?Sized> Submodules for RefCell<T> {
    const CAN_HOLD_MODULES: bool = T::CAN_HOLD_MODULES;
    /// Visits the content unless it is mutably borrowed right now.
    fn visit_named(&self, name: &str, visitor: &mut dyn Visitor) {
        if let Ok(inner) = self.try_borrow() {
            inner.visit_named(name, visitor);
        }
    }
}

impl<T: Submodules + ?Sized> Submodules for Mutex<T> {
    const CAN_HOLD_MODULES: bool = T::CAN_HOLD_MODULES;
    /// Visits the content unless it is locked right now (never waits for the lock).
    fn visit_named(&self, name: &str, visitor: &mut dyn Visitor) {
        match self.try_lock() {
            Ok(inner) => inner.visit_named(name, visitor),
            Err(TryLockError::Poisoned(poisoned)) => {
                poisoned.into_inner().visit_named(name, visitor);
            }
            Err(TryLockError::WouldBlock) => {}
        }
    }
}

impl<T: Submodules + ?Sized> Submodules for RwLock<T> {
    const CAN_HOLD_MODULES: bool = T::CAN_HOLD_MODULES;
    /// Visits the content unless it is write-locked right now (never waits for the lock).
    fn visit_named(&self, name: &str, visitor: &mut dyn Visitor) {
        match self.try_read() {
            Ok(inner) => inner.visit_named(name, visitor),
            Err(TryLockError::Poisoned(poisoned)) => {
                poisoned.into_inner().visit_named(name, visitor);
            }
            Err(TryLockError::WouldBlock) => {}
        }
    }
}

impl<T: Submodules> Submodules for OnceCell<T> {
    const CAN_HOLD_MODULES: bool = T::CAN_HOLD_MODULES;
    fn visit_named(&self, name: &str, visitor: &mut dyn Visitor) {
        if let Some(inner) = self.get() {
            inner.visit_named(name, visitor);
        }
    }
}

impl<T: Submodules> Submodules for OnceLock<T> {
    const CAN_HOLD_MODULES: bool = T::CAN_HOLD_MODULES;
    fn visit_named(&self, name: &str, visitor: &mut dyn Visitor) {
        if let Some(inner) = self.get() {
            inner.visit_named(name, visitor);
        }
    }
}

fn visit_keyed<'a, K: Display + 'a, T: Submodules + 'a>(
    entries: impl Iterator<Item = (&'a K, &'a T)>,
    name: &str,
    visitor: &mut dyn Visitor,
) {
    if !T::CAN_HOLD_MODULES {
        return;
    }
    let mut entries: Vec<(String, &T)> = entries.map(|(k, v)| (k.to_string(), v)).collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    for (key, module) in entries {
        module.visit_named(&format!("{name}_{key}"), visitor);
    }
}

impl<K: Display, T: Submodules> Submodules for BTreeMap<K, T> {
    const CAN_HOLD_MODULES: bool = T::CAN_HOLD_MODULES;
    fn visit_named(&self, name: &str, visitor: &mut dyn Visitor) {
        visit_keyed(self.iter(), name, visitor);
    }
}

impl<K: Display, T: Submodules, S> Submodules for HashMap<K, T, S> {
    const CAN_HOLD_MODULES: bool = T::CAN_HOLD_MODULES;
    fn visit_named(&self, name: &str, visitor: &mut dyn Visitor) {
        visit_keyed(self.iter(), name, visitor);
    }
}

/// Tuples: elements named `{name}_{index}`, as Flax names a tuple attribute's modules.
macro_rules! tuple_submodules {
    ($(($($name:ident $idx:tt),+)),*) => {$(
        impl<$($name: Submodules),+> Submodules for ($($name,)+) {
            const CAN_HOLD_MODULES: bool = $($name::CAN_HOLD_MODULES)||+;
            fn visit_named(&self, name: &str, visitor: &mut dyn Visitor) {
                $(
                    if $name::CAN_HOLD_MODULES {
                        self.$idx.visit_named(&format!("{name}_{}", $idx), visitor);
                    }
                )+
            }
        }
    )*};
}
tuple_submodules!(
    (A 0),
    (A 0, B 1),
    (A 0, B 1, C 2),
    (A 0, B 1, C 2, D 3),
    (A 0, B 1, C 2, D 3, E 4),
    (A 0, B 1, C 2, D 3, E 4, F 5),
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6),
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7),
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8),
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9),
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10),
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10, L 11)
);

/// The identity of a module built inline: built-in layers hold one.
///
/// It records the module call that was running when the layer was built, so the layer is
/// named in that module (as Flax binds a module to the one whose method constructs it),
/// and it tells two calls of the same layer apart from calls of two equal layers. Cloning
/// a layer makes a new module, with a new identity.
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::nn::Dense;
///
/// #[derive(Tabulate)]
/// struct Shared;
///
/// impl Shared {
///     #[forward]
///     fn forward(&self, x: &Tensor) -> Result<Tensor> {
///         let dense = Dense::new(3); // one identity: one module, called twice
///         dense.forward(&dense.forward(x)?)
///     }
/// }
///
/// let summary = tabulate(&Shared).show_repeated(true).run(|m| m.forward(&Tensor::new(DType::F32, [1, 3])))?;
/// let paths: Vec<_> = summary.rows.iter().map(|r| r.path.join("/")).collect();
/// assert_eq!(paths, ["", "Dense_0", "Dense_0"]);
/// assert_eq!(summary.total().count, 12); // counted once
/// # Ok::<(), tabulate::Error>(())
/// ```
#[derive(Debug)]
pub struct ModuleIdentity {
    id: u64,
    name: Option<String>,
    birthplace: Option<Birthplace>,
}

impl ModuleIdentity {
    /// A new identity, born in the module call running now (if any).
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// // Each identity is one module: two values holding equal identities are not.
    /// let (a, b) = (ModuleIdentity::new(), ModuleIdentity::new());
    /// assert_eq!((a.name(), b.name()), (None, None)); // auto-named (`Dense_0`) when called
    /// # Ok::<(), tabulate::Error>(())
    /// ```
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
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// let mut identity = ModuleIdentity::new();
    /// identity.set_name("encoder");
    /// assert_eq!(identity.name(), Some("encoder"));
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn set_name(&mut self, name: impl Into<String>) {
        self.name = Some(name.into());
    }

    /// The explicit name, if one was given.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// assert_eq!(ModuleIdentity::named("h_0").name(), Some("h_0"));
    /// assert_eq!(ModuleIdentity::default().name(), None);
    /// # Ok::<(), tabulate::Error>(())
    /// ```
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
    use super::{Arc, BTreeMap, Param, Rc, Submodules, Tabulate, VecDeque, Visitor};

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

    /// Passes a field's visits on, its [`Param`]s in the field's
    /// `#[tabulate(collection = "…")]`.
    pub struct InCollection<'a> {
        collection: &'static str,
        inner: &'a mut dyn Visitor,
    }

    impl<'a> InCollection<'a> {
        /// Visits through `inner`, parameters in `collection`.
        pub fn new(collection: &'static str, inner: &'a mut dyn Visitor) -> InCollection<'a> {
            InCollection { collection, inner }
        }
    }

    impl Visitor for InCollection<'_> {
        fn visit(&mut self, name: &str, module: &dyn Tabulate) {
            self.inner.visit(name, module);
        }
        fn param(&mut self, name: &str, _collection: &str, param: &Param) {
            self.inner.param(name, self.collection, param);
        }
    }

    /// Field types that `#[tabulate(collection = "…")]` may mark: a [`Param`], or a
    /// container of them.
    #[diagnostic::on_unimplemented(
        message = "`{Self}` holds no `Param`: `#[tabulate(collection = …)]` is only for parameter fields",
        label = "the collection of a field that is not a `Param`",
        note = "a variable declared as a field has type `tabulate::Param` (or `Option`, `Vec`, `Box`, an array of them); remove the attribute from this field"
    )]
    pub trait ParamField {}

    impl ParamField for Param {}
    impl<T: ParamField> ParamField for Option<T> {}
    impl<T: ParamField> ParamField for Vec<T> {}
    impl<T: ParamField> ParamField for VecDeque<T> {}
    impl<T: ParamField + ?Sized> ParamField for Box<T> {}
    impl<T: ParamField + ?Sized> ParamField for Rc<T> {}
    impl<T: ParamField + ?Sized> ParamField for Arc<T> {}
    impl<T: ParamField> ParamField for [T] {}
    impl<T: ParamField, const N: usize> ParamField for [T; N] {}
    impl<K, T: ParamField> ParamField for BTreeMap<K, T> {}

    /// Compiles only when `T`, a field's type, is a [`ParamField`].
    pub fn assert_param_field<T: ParamField + ?Sized>() {}
}
