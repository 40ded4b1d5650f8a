//! The primitives of JAX's threefry random numbers, as `jax.random` runs them for a
//! typed key: `random_fold_in`, `iota_2x32_shape` and `threefry2x32`. Their costs are
//! those of the HLO JAX lowers them to, before any XLA optimisation (Flax costs the
//! lowered, uncompiled module): every elementwise integer op counts one per element,
//! and the hash rounds are a `while` loop whose body and condition count once.

use super::{Cost, Term, Terms};
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
    Cost::flops((2 * k + 1).saturating_mul(shape.elements()))
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

/// XLA's terms for `random_fold_in` with a constant (Flax's `make_rng`): the nested
/// `_threefry_fold_in` computation, a seed shift and a threefry hash of one element.
pub(super) fn fold_in_terms() -> Terms {
    let mut body = vec![Term::Op(1)];
    body.extend(threefry_terms(1));
    smallvec::smallvec![Term::Nested(body)]
}

/// XLA's terms for `iota_2x32_shape` (lowered inline): per axis of size > 1 but the
/// first, a `multiply` by its stride and an `add`; then a `shift-right-logical` and two
/// `convert`s to split the words, each over the whole shape.
pub(super) fn iota_2x32_terms(shape: &Shape) -> Terms {
    // As `iota_2x32_cost` counts: none for a scalar, the shift and one convert of the
    // constant index with no axis of size > 1, else 2k + 1 instructions over the shape
    // (built from `k`, not from the cost, which saturates on huge shapes).
    let k = shape.dims().iter().filter(|&&d| d != 1).count();
    let elements = shape.elements();
    if shape.rank() == 0 || (k > 0 && elements == 0) {
        return Terms::new();
    }
    if k == 0 {
        return Term::ops([1, 1]);
    }
    Term::ops(std::iter::repeat_n(elements, 2 * k + 1))
}

/// XLA's terms for `threefry2x32` on `n` elements per word, in its DFS order: the
/// nested `threefry2x32` computation (two key `add`s, two key-schedule `xor`s, the
/// 5-round `while` loop). The loop is one term, its body plus its condition: the body
/// is the counter `add` and a nested call of the 20 rounds with their key injections
/// (`THREEFRY_BODY`), the condition one `compare`.
pub(super) fn threefry_terms(n: u64) -> Terms {
    let rounds = Term::Nested(
        THREEFRY_BODY
            .iter()
            .map(|&whole| Term::Op(if whole { n } else { 1 }))
            .collect(),
    );
    let body = Term::Nested(vec![Term::Op(1), rounds]);
    let condition = Term::Nested(vec![Term::Op(1)]);
    smallvec::smallvec![Term::Nested(vec![
        Term::Op(n),
        Term::Op(n),
        Term::Op(1),
        Term::Op(1),
        Term::Nested(vec![body, condition]),
    ])]
}

/// The instructions of the threefry loop's inner call in DFS order: `true` for one over
/// every element, `false` for a scalar (rotation amounts, key schedule, counters).
const THREEFRY_BODY: [bool; 30] = [
    false, true, true, false, true, true, true, // counter add; round 1
    true, true, false, true, true, true, // round 2
    true, true, false, true, true, true, // round 3
    true, true, true, false, true, true, true, // round 4 after the key add
    true, false, false, true, // key injection: add, counter add, convert, add
];

#[cfg(test)]
mod tests {
    use super::{Term, threefry_terms};

    /// The threefry computation on 1048576 elements (Dropout's mask on
    /// float32[1,32,32,1024]) as XLA's cost analysis sums it (traced with
    /// `notes/xla-scripts/tree.py`): the loop's inner call 23N+7 sums to 24117252 in
    /// float32, the loop to 24117252, the whole hash to 26214406 (25N+11 = 26214411).
    #[test]
    fn threefry_sums_its_nested_computations_in_float32() {
        let n = 1_048_576;
        let terms = threefry_terms(n);
        let [Term::Nested(hash)] = terms.as_slice() else {
            panic!("threefry is one nested computation");
        };
        let Term::Nested(body_and_condition) = &hash[4] else {
            panic!("the fifth instruction is the loop");
        };
        let Term::Nested(body) = &body_and_condition[0] else {
            panic!("the loop's body");
        };
        assert_eq!(body[1].value().to_bits(), 24_117_252.0_f32.to_bits());
        assert_eq!(hash[4].value().to_bits(), 24_117_252.0_f32.to_bits());
        assert_eq!(terms[0].value().to_bits(), 26_214_406.0_f32.to_bits());
        assert_eq!(threefry_terms(1)[0].value().to_bits(), 36.0_f32.to_bits());
    }
}
