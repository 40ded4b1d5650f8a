//! Identical subprograms are costed once. A row's program is extracted with its values,
//! regions and inputs renumbered from zero in emission order, so two calls that run the
//! same program up to renaming (GPT-2's twelve `h_i` blocks, their layers) extract to the
//! same graph. The memo key is a 128-bit hash of that whole graph — every op with its
//! parameters, every spec, every region, input and output — so a hit returns exactly the
//! numbers costing it again would give.

use std::collections::HashMap;
use std::fmt::{self, Write as _};
use std::hash::{BuildHasher, Hasher, RandomState};

use super::metric::Metrics;
use crate::ops::graph::Graph;

/// The metrics of the programs costed so far in one run.
#[derive(Debug, Default)]
pub(crate) struct Memo {
    known: HashMap<(u64, u64), Metrics>,
    seeds: (RandomState, RandomState),
    /// How many of the run's programs have each node count: a program whose count is
    /// unique (the root's) cannot equal another, so it is not hashed.
    sizes: HashMap<usize, usize>,
}

/// A program's memo key, with the question asked of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Key((u64, u64));

impl Memo {
    /// A memo for the programs of calls spanning `sizes` nodes each (a program has the
    /// nodes of its call's span).
    pub(crate) fn new(sizes: impl IntoIterator<Item = usize>) -> Memo {
        let mut memo = Memo::default();
        for size in sizes {
            *memo.sizes.entry(size).or_default() += 1;
        }
        memo
    }

    /// The key of `program` measured for `question` (the metrics asked for, their options
    /// and the row's scope): two independent hashes of the full description of both, fed
    /// to the hashers through a small buffer (the description is never built in memory).
    /// `None` when no other program of the run has as many nodes.
    pub(crate) fn key(&self, program: &Graph, question: &impl fmt::Debug) -> Option<Key> {
        struct Feed<A, B> {
            hashers: (A, B),
            buffer: Vec<u8>,
        }
        impl<A: Hasher, B: Hasher> Feed<A, B> {
            fn flush(&mut self) {
                self.hashers.0.write(&self.buffer);
                self.hashers.1.write(&self.buffer);
                self.buffer.clear();
            }
        }
        impl<A: Hasher, B: Hasher> fmt::Write for Feed<A, B> {
            fn write_str(&mut self, s: &str) -> fmt::Result {
                if self.buffer.len() + s.len() > self.buffer.capacity() {
                    self.flush();
                }
                if s.len() > self.buffer.capacity() {
                    self.hashers.0.write(s.as_bytes());
                    self.hashers.1.write(s.as_bytes());
                } else {
                    self.buffer.extend_from_slice(s.as_bytes());
                }
                Ok(())
            }
        }
        if self.sizes.get(&program.nodes.len()).copied().unwrap_or(0) < 2 {
            return None;
        }
        let mut feed = Feed {
            hashers: (self.seeds.0.build_hasher(), self.seeds.1.build_hasher()),
            buffer: Vec::with_capacity(1 << 14),
        };
        // Writing into a hasher cannot fail.
        let _ = write!(feed, "{question:?}{program:?}");
        feed.flush();
        Some(Key((feed.hashers.0.finish(), feed.hashers.1.finish())))
    }

    /// The metrics already measured for `key`.
    pub(crate) fn get(&self, key: Option<Key>) -> Option<&Metrics> {
        self.known.get(&key?.0)
    }

    /// Remembers the metrics measured for `key`.
    pub(crate) fn insert(&mut self, key: Option<Key>, metrics: &Metrics) {
        if let Some(key) = key {
            self.known.insert(key.0, metrics.clone());
        }
    }
}
