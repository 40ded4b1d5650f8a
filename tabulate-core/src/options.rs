//! Options of a summary run that the trace needs: which variable collections are mutable.

/// Which variable collections a run may create and write, as Flax's `mutable` argument.
///
/// The default, like Flax's `DenyList('intermediates')`, makes every collection mutable
/// except `intermediates`. Declaring a variable in a collection that is not mutable is an
/// error ([`ErrorKind::NotMutable`](crate::ErrorKind::NotMutable)), as in Flax; so is
/// writing one.
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
    pub fn only<S: Into<String>>(collections: impl IntoIterator<Item = S>) -> Mutable {
        Mutable::Only(collections.into_iter().map(Into::into).collect())
    }

    /// Whether `collection` is mutable.
    pub fn allows(&self, collection: &str) -> bool {
        match self {
            Mutable::All => true,
            Mutable::Nothing => false,
            Mutable::Only(list) => list.iter().any(|c| c == collection),
            Mutable::AllExcept(list) => !list.iter().any(|c| c == collection),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Mutable;

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
