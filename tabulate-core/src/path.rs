//! [`ModulePath`]: a module's path as a chain of names that shares its parent's, so a
//! row 10,000 modules deep costs one name, not 10,000 copies of its ancestors'.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

#[cfg(feature = "serde")]
use serde::{Serialize, Serializer};

/// A module's path from the root (`Block_0/Dense_1` is `["Block_0", "Dense_1"]`); empty
/// for the root module. Cloning is a reference count: a path shares its parent's names.
///
/// Compare it with a list of names (`path == ["Block_0", "Dense_1"]`), [`join`] it, or
/// walk its [`segments`].
///
/// [`join`]: ModulePath::join
/// [`segments`]: ModulePath::segments
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::nn::Dense;
///
/// #[derive(Tabulate)]
/// struct Block;
///
/// impl Block {
///     #[forward]
///     fn forward(&self, x: &Tensor) -> Result<Tensor> {
///         Dense::new(2).forward(x)
///     }
/// }
///
/// let summary = tabulate(&Block).run(|m| m.forward(&Tensor::new(DType::F32, [1, 3])))?;
/// let path = &summary.rows[1].path;
/// assert_eq!(*path, ["Dense_0"]); // compares with lists of names
/// assert_eq!(path.name(), Some("Dense_0"));
/// assert!(path.starts_with(&summary.rows[0].path)); // the root's, empty
/// assert_eq!(path.join("/"), "Dense_0");
/// # Ok::<(), tabulate::Error>(())
/// ```
#[derive(Clone, Default)]
pub struct ModulePath(Option<Arc<Node>>);

struct Node {
    parent: ModulePath,
    name: Box<str>,
    len: usize,
}

impl ModulePath {
    /// The root's path: no names.
    ///
    /// ```
    /// use tabulate::ModulePath;
    /// let root = ModulePath::root();
    /// assert!(root.is_empty());
    /// assert_eq!(root.name(), None);
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn root() -> ModulePath {
        ModulePath(None)
    }

    /// This path followed by `name`.
    ///
    /// ```
    /// use tabulate::ModulePath;
    /// let path = ModulePath::root().child("Block_0").child("Dense_1");
    /// assert_eq!(path, ["Block_0", "Dense_1"]);
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    #[must_use]
    pub fn child(&self, name: &str) -> ModulePath {
        ModulePath(Some(Arc::new(Node {
            parent: self.clone(),
            name: name.into(),
            len: self.len() + 1,
        })))
    }

    /// How many names: the module's depth (0 for the root).
    ///
    /// ```
    /// use tabulate::ModulePath;
    /// assert_eq!(ModulePath::root().child("a").child("b").len(), 2);
    /// assert_eq!(ModulePath::root().len(), 0);
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn len(&self) -> usize {
        self.0.as_ref().map_or(0, |n| n.len)
    }

    /// Whether this is the root's path.
    ///
    /// ```
    /// use tabulate::ModulePath;
    /// assert!(ModulePath::root().is_empty());
    /// assert!(!ModulePath::root().child("a").is_empty());
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    /// The last name (the module's own), `None` for the root.
    ///
    /// ```
    /// use tabulate::ModulePath;
    /// assert_eq!(ModulePath::root().child("h_0").child("attn").name(), Some("attn"));
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn name(&self) -> Option<&str> {
        self.0.as_deref().map(|n| &*n.name)
    }

    /// The path of the parent module, `None` for the root.
    ///
    /// ```
    /// use tabulate::ModulePath;
    /// let path = ModulePath::root().child("h_0").child("attn");
    /// assert_eq!(path.parent(), Some(&ModulePath::root().child("h_0")));
    /// assert_eq!(ModulePath::root().parent(), None);
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn parent(&self) -> Option<&ModulePath> {
        self.0.as_deref().map(|n| &n.parent)
    }

    /// The ancestor `depth` names long (itself when `depth >= len`).
    ///
    /// ```
    /// use tabulate::ModulePath;
    /// let path = ModulePath::root().child("a").child("b").child("c");
    /// assert_eq!(*path.ancestor(1), ["a"]);
    /// assert_eq!(*path.ancestor(9), ["a", "b", "c"]);
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn ancestor(&self, depth: usize) -> &ModulePath {
        let mut path = self;
        while path.len() > depth {
            path = path.parent().unwrap_or(path);
        }
        path
    }

    /// The names from the root down.
    ///
    /// ```
    /// use tabulate::ModulePath;
    /// let path = ModulePath::root().child("h_0").child("mlp");
    /// assert_eq!(path.segments(), ["h_0", "mlp"]);
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn segments(&self) -> Vec<&str> {
        let mut names = Vec::with_capacity(self.len());
        let mut path = self;
        while let Some(node) = path.0.as_deref() {
            names.push(&*node.name);
            path = &node.parent;
        }
        names.reverse();
        names
    }

    /// The names joined by `separator` (`"Block_0/Dense_1"` with `"/"`).
    ///
    /// ```
    /// use tabulate::ModulePath;
    /// let path = ModulePath::root().child("h_0").child("mlp");
    /// assert_eq!(path.join("."), "h_0.mlp");
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn join(&self, separator: &str) -> String {
        self.segments().join(separator)
    }

    /// The names as owned strings.
    ///
    /// ```
    /// use tabulate::ModulePath;
    /// let path = ModulePath::root().child("h_0");
    /// assert_eq!(path.to_vec(), vec!["h_0".to_string()]);
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn to_vec(&self) -> Vec<String> {
        self.segments().into_iter().map(str::to_string).collect()
    }

    /// Whether `prefix` is this path or one of its ancestors.
    ///
    /// ```
    /// use tabulate::ModulePath;
    /// let block = ModulePath::root().child("h_0");
    /// assert!(block.child("mlp").starts_with(&block));
    /// assert!(!ModulePath::root().child("h_1").starts_with(&block));
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn starts_with(&self, prefix: &ModulePath) -> bool {
        self.len() >= prefix.len() && self.ancestor(prefix.len()) == prefix
    }

    /// An address that tells interned paths apart (0 for the root).
    pub(crate) fn addr(&self) -> usize {
        self.0.as_ref().map_or(0, |n| Arc::as_ptr(n).addr())
    }
}

impl PartialEq for ModulePath {
    fn eq(&self, other: &ModulePath) -> bool {
        let (mut a, mut b) = (self, other);
        if a.len() != b.len() {
            return false;
        }
        loop {
            match (a.0.as_ref(), b.0.as_ref()) {
                (None, None) => return true,
                (Some(x), Some(y)) if Arc::ptr_eq(x, y) => return true,
                (Some(x), Some(y)) if x.name == y.name => (a, b) = (&x.parent, &y.parent),
                _ => return false,
            }
        }
    }
}

impl Eq for ModulePath {}

impl Hash for ModulePath {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.segments().hash(state);
    }
}

impl<S: AsRef<str>> PartialEq<[S]> for ModulePath {
    fn eq(&self, other: &[S]) -> bool {
        self.len() == other.len()
            && self
                .segments()
                .iter()
                .zip(other)
                .all(|(a, b)| *a == b.as_ref())
    }
}

impl<S: AsRef<str>, const N: usize> PartialEq<[S; N]> for ModulePath {
    fn eq(&self, other: &[S; N]) -> bool {
        *self == other[..]
    }
}

impl<S: AsRef<str>> PartialEq<Vec<S>> for ModulePath {
    fn eq(&self, other: &Vec<S>) -> bool {
        *self == other[..]
    }
}

impl<S: AsRef<str>> From<&[S]> for ModulePath {
    fn from(names: &[S]) -> ModulePath {
        names
            .iter()
            .fold(ModulePath::root(), |path, name| path.child(name.as_ref()))
    }
}

impl fmt::Display for ModulePath {
    /// The names joined by `/`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.join("/"))
    }
}

impl fmt::Debug for ModulePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.segments()).finish()
    }
}

#[cfg(feature = "serde")]
impl Serialize for ModulePath {
    /// A list of names, as `Vec<String>` serialises.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.segments())
    }
}

impl Drop for ModulePath {
    /// Unlinks the chain one node at a time: dropping a path thousands of names deep
    /// recursively would overflow the stack.
    fn drop(&mut self) {
        let mut next = self.0.take();
        while let Some(node) = next {
            next = match Arc::try_unwrap(node) {
                Ok(mut node) => node.parent.0.take(),
                Err(_) => None,
            };
        }
    }
}

/// Gives each distinct path one node, so that equal paths are the same address.
#[derive(Default)]
pub(crate) struct PathInterner {
    /// By a hash of the parent's address and the name (one multiply per 8 bytes, no
    /// copy of the name): the paths with that hash, nearly always one. Finding a known
    /// path allocates nothing; a new one allocates only its own node.
    nodes: std::collections::HashMap<
        u64,
        smallvec::SmallVec<[ModulePath; 1]>,
        std::hash::BuildHasherDefault<crate::hash::PassThrough>,
    >,
}

/// The interner's key of `name` under the path at address `parent`.
fn child_key(parent: usize, name: &str) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut h = (parent as u64).wrapping_mul(K);
    let mut chunks = name.as_bytes().chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        h = (h.rotate_left(5) ^ u64::from_le_bytes(word)).wrapping_mul(K);
    }
    let mut word = [0u8; 8];
    word[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
    h = (h.rotate_left(5) ^ u64::from_le_bytes(word) ^ name.len() as u64).wrapping_mul(K);
    h ^ (h >> 29)
}

impl PathInterner {
    pub(crate) fn child(&mut self, parent: &ModulePath, name: &str) -> ModulePath {
        let candidates = self
            .nodes
            .entry(child_key(parent.addr(), name))
            .or_default();
        if let Some(known) = candidates.iter().find(|p| {
            p.name() == Some(name) && p.parent().is_some_and(|q| q.addr() == parent.addr())
        }) {
            return known.clone();
        }
        let path = parent.child(name);
        candidates.push(path.clone());
        path
    }

    pub(crate) fn intern(&mut self, path: &ModulePath) -> ModulePath {
        path.segments()
            .into_iter()
            .fold(ModulePath::root(), |parent, name| self.child(&parent, name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_compare_join_and_serialise_as_lists_of_names() {
        let mut interner = PathInterner::default();
        let block = interner.child(&ModulePath::root(), "Block_0");
        let dense = interner.child(&block, "Dense_1");
        assert_eq!(dense, ["Block_0", "Dense_1"]);
        assert_eq!(dense.join("/"), "Block_0/Dense_1");
        assert_eq!(dense.to_string(), "Block_0/Dense_1");
        assert_eq!(format!("{dense:?}"), r#"["Block_0", "Dense_1"]"#);
        #[cfg(feature = "serde")]
        assert_eq!(
            serde_json::to_string(&dense).unwrap(),
            r#"["Block_0","Dense_1"]"#
        );
        assert_eq!(ModulePath::root(), [""; 0]);
        assert!(dense.starts_with(&block) && !block.starts_with(&dense));
        assert_eq!(interner.child(&block, "Dense_1").addr(), dense.addr());
        assert_eq!(ModulePath::from(&["Block_0", "Dense_1"][..]), dense);
        assert_ne!(ModulePath::from(&["Block_0", "Dense_2"][..]), dense);
    }

    #[test]
    fn a_path_100_000_deep_drops_without_recursion() {
        let mut path = ModulePath::root();
        for _ in 0..100_000 {
            path = path.child("inner");
        }
        assert_eq!(path.len(), 100_000);
        drop(path);
    }
}
