//! Hashers for keys that are ids, addresses or hashes already: the trace and the cost
//! passes look one up for every op and every value, where `SipHash` would dominate. No key
//! is chosen to collide: ids and addresses are the program's, names are the model's.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// The multiplier of every mix below (2^64 / φ).
const K: u64 = 0x9e37_79b9_7f4a_7c15;

/// A map keyed by ids (graph values and regions, tensor ids, addresses, module keys),
/// hashed by [`IdHasher`].
pub(crate) type IdMap<K, V> = HashMap<K, V, BuildHasherDefault<IdHasher>>;

/// Mixes `bytes` into `state`, one multiplication per byte: the fallback for keys that
/// are not integers (a name, a type name).
fn mix_bytes(state: u64, bytes: &[u8]) -> u64 {
    bytes.iter().fold(state, |h, &b| {
        (h.rotate_left(8) ^ u64::from(b)).wrapping_mul(K)
    })
}

/// Hashes an integer key by one multiplication.
#[derive(Default)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0 = mix_bytes(self.0, bytes);
    }

    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0 ^ n).wrapping_mul(K);
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
}

/// Passes a `u64` key through unchanged: for keys that are hashes already.
#[derive(Default)]
pub(crate) struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0 = mix_bytes(self.0, bytes);
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}
