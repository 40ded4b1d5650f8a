//! The primitives of JAX's threefry random numbers, as `jax.random` runs them for a
//! typed key: `random_fold_in`, `iota_2x32_shape` and `threefry2x32`. Their costs are
//! those of the HLO JAX lowers them to, before any XLA optimisation (Flax costs the
//! lowered, uncompiled module): every elementwise integer op counts one per element,
//! and the hash rounds are a `while` loop whose body and condition count once.

use super::Cost;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::ops::graph::Spec;
use crate::shape::Shape;

/// `random_fold_in(key, data)` with a constant `data` (Flax's `make_rng`): the seed
/// shift (1) and a threefry hash of two one-word halves (36).
const FOLD_IN_FLOPS: u64 = 37;

/// Scalar ops of one threefry hash whatever its size: 2 key `xor`s, 4 rotation
/// `subtract`s, 3 loop-counter `add`s and a `convert` in the body, 1 loop `compare`.
const THREEFRY_SCALAR_FLOPS: u64 = 11;

/// Per element of one threefry hash: 2 initial key `add`s; in the body, 4 rounds of
/// `add`, `shift-left`, `shift-right-logical`, `or`, `xor`, and 3 key-schedule `add`s.
const THREEFRY_FLOPS_PER_ELEMENT: u64 = 25;

pub(crate) fn key_spec() -> Spec {
    Spec::new(DType::U32, [2])
}

pub(super) fn check_key(name: &'static str, key: &Spec) -> Result<()> {
    if *key == key_spec() {
        Ok(())
    } else {
        Err(Error::shape(
            name,
            format!("expected a key (uint32[2]), got {key}"),
        ))
    }
}

/// `random_fold_in`: a key from a key.
pub(super) fn fold_in_spec(inputs: &[&Spec]) -> Result<Spec> {
    check_key("random_fold_in", inputs[0])?;
    Ok(key_spec())
}

/// `iota_2x32_shape`: two `uint32` arrays of `shape`.
pub(super) fn iota_2x32_specs(shape: &Shape) -> Vec<Spec> {
    vec![Spec::new(DType::U32, shape.clone()); 2]
}

pub(super) fn threefry_spec(inputs: &[&Spec]) -> Result<Vec<Spec>> {
    check_key("threefry2x32", inputs[0])?;
    let (x1, x2) = (inputs[1], inputs[2]);
    if x1 != x2 || x1.dtype != DType::U32 {
        return Err(Error::shape(
            "threefry2x32",
            format!("counts must be two uint32 arrays of one shape, got {x1} and {x2}"),
        ));
    }
    Ok(vec![x1.clone(), x2.clone()])
}

/// The index computation: per axis of size > 1 but the last, a 64-bit `multiply` by
/// its stride; an `add` per further such axis; a `shift-right-logical` and two
/// `convert`s to split the words. Size-1 axes fold away when the module is converted to
/// HLO, so only the `k` axes of size > 1 count; with none, the constant index still
/// costs its shift and one convert.
pub(super) fn iota_2x32_cost(shape: &Shape) -> Cost {
    if shape.rank() == 0 {
        return Cost::ZERO;
    }
    let k = shape.dims().iter().filter(|&&d| d != 1).count() as u64;
    if k == 0 {
        return Cost::flops(2);
    }
    Cost::flops((2 * k + 1) * shape.elements())
}

pub(super) fn threefry_cost(counts: &Spec) -> Cost {
    Cost::flops(
        counts
            .elements()
            .saturating_mul(THREEFRY_FLOPS_PER_ELEMENT)
            .saturating_add(THREEFRY_SCALAR_FLOPS),
    )
}

pub(super) fn fold_in_cost() -> Cost {
    Cost::flops(FOLD_IN_FLOPS)
}
