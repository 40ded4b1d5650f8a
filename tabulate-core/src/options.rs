//! Options of a summary run that the stages below the summary need: which variable
//! collections are mutable (the trace), which parameters are frozen and which optimizer
//! holds state (the memory and trainable columns).

/// Which variable collections a run may create and write, as Flax's `mutable` argument.
///
/// The default, like Flax's `DenyList('intermediates')`, makes every collection mutable
/// except `intermediates`. Declaring a variable in a collection that is not mutable is an
/// error ([`ErrorKind::NotMutable`](crate::ErrorKind::NotMutable)), as in Flax; so is
/// writing one.
///
/// ```
/// use tabulate::Mutable;
///
/// assert!(Mutable::default().allows("batch_stats"));
/// assert!(!Mutable::default().allows("intermediates")); // Flax's default
/// assert!(Mutable::only(["params"]).allows("params"));
/// assert!(!Mutable::Nothing.allows("params"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mutable {
    /// Every collection (Flax's `mutable=True`).
    All,
    /// No collection (Flax's `mutable=False`): only modules without variables can run.
    Nothing,
    /// Only these collections (Flax's `mutable=['params', …]`).
    Only(Vec<String>),
    /// Every collection but these (Flax's `DenyList([...])`).
    AllExcept(Vec<String>),
}

impl Default for Mutable {
    fn default() -> Mutable {
        Mutable::AllExcept(vec!["intermediates".to_string()])
    }
}

impl Mutable {
    /// Only the named collections.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::Mutable;
    ///
    /// let mutable = Mutable::only(["params", "batch_stats"]);
    /// assert!(mutable.allows("batch_stats"));
    /// assert!(!mutable.allows("cache"));
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn only<S: Into<String>>(collections: impl IntoIterator<Item = S>) -> Mutable {
        Mutable::Only(collections.into_iter().map(Into::into).collect())
    }

    /// Whether `collection` is mutable.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::Mutable;
    ///
    /// // The default, like Flax's: every collection but `intermediates`.
    /// assert!(Mutable::default().allows("params"));
    /// assert!(!Mutable::default().allows("intermediates"));
    /// assert!(!Mutable::Nothing.allows("params"));
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn allows(&self, collection: &str) -> bool {
        match self {
            Mutable::All => true,
            Mutable::Nothing => false,
            Mutable::Only(list) => list.iter().any(|c| c == collection),
            Mutable::AllExcept(list) => !list.iter().any(|c| c == collection),
        }
    }
}

/// The optimizer whose state the memory columns count, per trainable parameter element.
///
/// ```
/// use tabulate::Optimizer;
///
/// assert_eq!(Optimizer::Sgd.slots(), 0);
/// assert_eq!(Optimizer::Momentum.slots(), 1);
/// assert_eq!(Optimizer::Adam.slots(), 2);
/// ```
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Optimizer {
    /// Plain SGD: no state.
    Sgd,
    /// SGD with momentum (`optax.sgd(momentum=…)`): one trace per parameter.
    Momentum,
    /// Adam (`optax.adam`): first and second moments per parameter. The default.
    #[default]
    Adam,
}

impl Optimizer {
    /// Arrays of state per trainable parameter, each of the parameter's dtype and shape.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::Optimizer;
    ///
    /// // Adam keeps two arrays (moments) per trainable parameter.
    /// assert_eq!(Optimizer::Adam.slots(), 2);
    /// assert_eq!(Optimizer::Sgd.slots(), 0);
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn slots(self) -> u64 {
        match self {
            Optimizer::Sgd => 0,
            Optimizer::Momentum => 1,
            Optimizer::Adam => 2,
        }
    }

    /// Its name in the table's notes (`Adam`).
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::Optimizer;
    ///
    /// assert_eq!(Optimizer::default().name(), "Adam");
    /// assert_eq!(Optimizer::Momentum.name(), "SGD with momentum");
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Optimizer::Sgd => "SGD",
            Optimizer::Momentum => "SGD with momentum",
            Optimizer::Adam => "Adam",
        }
    }
}

/// Parameters held fixed while fine-tuning: glob patterns over a parameter's path, its
/// module path and name joined by `/` (`backbone/layers_0/Dense_0/kernel`). `*` matches
/// within one segment, `**` across segments, `?` one character.
///
/// ```
/// use tabulate::Frozen;
///
/// let frozen = Frozen::new(["backbone/**", "*/bias"]);
/// assert!(frozen.matches("backbone/Dense_0/kernel"));
/// assert!(frozen.matches("head/bias"));
/// assert!(!frozen.matches("head/kernel"));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Frozen {
    patterns: Vec<String>,
}

impl Frozen {
    /// The parameters matching any of `patterns`.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::Frozen;
    ///
    /// let frozen = Frozen::new(["encoder/**"]);
    /// assert!(frozen.matches("encoder/layers_3/Dense_0/kernel"));
    /// assert!(!frozen.matches("decoder/Dense_0/kernel"));
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn new<S: Into<String>>(patterns: impl IntoIterator<Item = S>) -> Frozen {
        Frozen {
            patterns: patterns.into_iter().map(Into::into).collect(),
        }
    }

    /// Whether no pattern was given.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::Frozen;
    ///
    /// assert!(Frozen::default().is_empty());
    /// assert!(!Frozen::new(["*/bias"]).is_empty());
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Whether the parameter at `path` (`Dense_0/kernel`) is frozen.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::Frozen;
    ///
    /// let frozen = Frozen::new(["Dense_?/bias"]);
    /// assert!(frozen.matches("Dense_0/bias"));
    /// assert!(!frozen.matches("Dense_10/bias")); // `?` is one character
    /// assert!(!frozen.matches("Block_0/Dense_0/bias")); // `*`, `?` and names stay in one segment
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn matches(&self, path: &str) -> bool {
        self.patterns
            .iter()
            .any(|p| glob(p.as_bytes(), path.as_bytes()))
    }
}

/// Glob matching with `*` (not across `/`), `**` (across `/`) and `?`.
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    match pattern {
        [] => text.is_empty(),
        [b'*', b'*', rest @ ..] => {
            // `**/` also matches no segment at all.
            let rest_after_slash = rest.strip_prefix(b"/").unwrap_or(rest);
            (0..=text.len()).any(|i| glob(rest, &text[i..]))
                || (rest.first() == Some(&b'/') && glob(rest_after_slash, text))
        }
        [b'*', rest @ ..] => {
            let segment = text.iter().position(|&c| c == b'/').unwrap_or(text.len());
            (0..=segment).any(|i| glob(rest, &text[i..]))
        }
        [b'?', rest @ ..] => text.first().is_some_and(|&c| c != b'/') && glob(rest, &text[1..]),
        [c, rest @ ..] => text.first() == Some(c) && glob(rest, &text[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::{Frozen, Mutable};

    #[test]
    fn frozen_globs() {
        let f = Frozen::new(["encoder/**"]);
        assert!(f.matches("encoder/layers_0/attn/kernel"));
        assert!(f.matches("encoder/x"));
        assert!(!f.matches("encoderx/kernel"));
        assert!(!f.matches("decoder/encoder/kernel"));
        let f = Frozen::new(["**/bias"]);
        assert!(f.matches("bias"));
        assert!(f.matches("a/b/bias"));
        assert!(!f.matches("a/b/bias2"));
        let f = Frozen::new(["Dense_?/*"]);
        assert!(f.matches("Dense_1/kernel"));
        assert!(!f.matches("Dense_1/sub/kernel"));
        assert!(!f.matches("Dense_10/kernel"));
        assert!(!Frozen::default().matches("anything"));
    }

    #[test]
    fn default_denies_intermediates_only() {
        let m = Mutable::default();
        assert!(m.allows("params"));
        assert!(m.allows("batch_stats"));
        assert!(!m.allows("intermediates"));
        assert!(Mutable::only(["params"]).allows("params"));
        assert!(!Mutable::only(["params"]).allows("batch_stats"));
        assert!(!Mutable::Nothing.allows("params"));
    }
}
