//! Identical subprograms are costed once. A row's program is extracted with its values,
//! regions and inputs renumbered from zero in emission order, so two calls that run the
//! same program up to renaming (GPT-2's twelve `h_i` blocks, their layers) extract to the
//! same graph. The memo key is a 128-bit hash of that whole graph — every op with its
//! parameters, every spec, every region, input and output — so a hit returns exactly the
//! numbers costing it again would give.

use std::collections::HashMap;
use std::fmt::{self, Write as _};
use std::hash::{BuildHasher, Hasher, RandomState};

use super::metric::{Metric, Metrics};
use crate::ops::graph::Graph;

/// The metrics of the programs costed so far in one run.
#[derive(Debug, Default)]
pub(crate) struct Memo {
    known: HashMap<(u64, u64), Metrics>,
    seeds: (RandomState, RandomState),
}

/// A program's memo key, with the metrics asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Key((u64, u64));

impl Memo {
    /// The key of `program` measured for `metrics`: two independent hashes of its full
    /// description, written straight into the hashers (nothing is built in memory).
    pub(crate) fn key(&self, program: &Graph, metrics: &[Metric]) -> Key {
        struct Feed<A, B>(A, B);
        impl<A: Hasher, B: Hasher> fmt::Write for Feed<A, B> {
            fn write_str(&mut self, s: &str) -> fmt::Result {
                self.0.write(s.as_bytes());
                self.1.write(s.as_bytes());
                Ok(())
            }
        }
        let mut feed = Feed(self.seeds.0.build_hasher(), self.seeds.1.build_hasher());
        // Writing into a hasher cannot fail.
        let _ = write!(feed, "{metrics:?}{program:?}");
        Key((feed.0.finish(), feed.1.finish()))
    }

    /// The metrics already measured for `key`.
    pub(crate) fn get(&self, key: Key) -> Option<&Metrics> {
        self.known.get(&key.0)
    }

    /// Remembers the metrics measured for `key`.
    pub(crate) fn insert(&mut self, key: Key, metrics: Metrics) {
        self.known.insert(key.0, metrics);
    }
}
