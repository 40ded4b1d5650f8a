//! Element types, named and sized as numpy names them, and JAX's promotion lattice.

use std::fmt;

#[cfg(feature = "serde")]
use serde::{Serialize, Serializer};

/// The element type of a tensor.
///
/// Names follow numpy (`float32`, `bfloat16`, `int8`, `bool`, …) because that is how Flax
/// prints them; sizes are numpy's `itemsize`, which is what parameter byte counts use
/// (`int4` occupies a whole byte, as in `ml_dtypes`).
///
/// ```
/// use tabulate::{DType, DTypeKind};
///
/// assert_eq!(DType::BF16.name(), "bfloat16");
/// assert_eq!(DType::from_name("float32"), Some(DType::F32));
/// assert_eq!(DType::F16.item_size(), 2);
/// assert_eq!(DType::I8.kind(), DTypeKind::Int);
/// assert_eq!(DType::I32.promote(DType::F16), DType::F16); // jax.numpy's promotion
/// assert_eq!(DType::U8.promote(DType::I8), DType::I16);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum DType {
    /// `bool`
    Bool,
    /// `int4` (stored in one byte)
    I4,
    /// `int8`
    I8,
    /// `int16`
    I16,
    /// `int32`
    I32,
    /// `int64`
    I64,
    /// `uint4` (stored in one byte)
    U4,
    /// `uint8`
    U8,
    /// `uint16`
    U16,
    /// `uint32`
    U32,
    /// `uint64`
    U64,
    /// `float8_e4m3fn`
    F8E4M3FN,
    /// `float8_e5m2`
    F8E5M2,
    /// `bfloat16`
    BF16,
    /// `float16`
    F16,
    /// `float32`
    F32,
    /// `float64`
    F64,
    /// `complex64`
    C64,
    /// `complex128`
    C128,
}

/// What kind of number a [`DType`] holds.
///
/// ```
/// use tabulate::{DType, DTypeKind};
///
/// let floats: Vec<DType> = DType::ALL.into_iter().filter(|d| d.kind() == DTypeKind::Float).collect();
/// assert!(floats.contains(&DType::BF16) && floats.contains(&DType::F64));
/// assert!(DType::C64.is_inexact() && !DType::U32.is_inexact());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DTypeKind {
    /// `bool`
    Bool,
    /// Signed integers.
    Int,
    /// Unsigned integers.
    UInt,
    /// Floating point.
    Float,
    /// Complex floating point.
    Complex,
}

impl DType {
    /// Every dtype, in declaration order.
    pub const ALL: [DType; 19] = [
        DType::Bool,
        DType::I4,
        DType::I8,
        DType::I16,
        DType::I32,
        DType::I64,
        DType::U4,
        DType::U8,
        DType::U16,
        DType::U32,
        DType::U64,
        DType::F8E4M3FN,
        DType::F8E5M2,
        DType::BF16,
        DType::F16,
        DType::F32,
        DType::F64,
        DType::C64,
        DType::C128,
    ];

    /// The numpy name, as Flax prints it (`float32`).
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// assert_eq!(DType::BF16.name(), "bfloat16");
    /// assert_eq!(DType::F8E4M3FN.name(), "float8_e4m3fn");
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            DType::Bool => "bool",
            DType::I4 => "int4",
            DType::I8 => "int8",
            DType::I16 => "int16",
            DType::I32 => "int32",
            DType::I64 => "int64",
            DType::U4 => "uint4",
            DType::U8 => "uint8",
            DType::U16 => "uint16",
            DType::U32 => "uint32",
            DType::U64 => "uint64",
            DType::F8E4M3FN => "float8_e4m3fn",
            DType::F8E5M2 => "float8_e5m2",
            DType::BF16 => "bfloat16",
            DType::F16 => "float16",
            DType::F32 => "float32",
            DType::F64 => "float64",
            DType::C64 => "complex64",
            DType::C128 => "complex128",
        }
    }

    /// Looks a dtype up by its numpy name.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// assert_eq!(DType::from_name("int8"), Some(DType::I8));
    /// assert_eq!(DType::from_name("float"), None); // numpy names only
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn from_name(name: &str) -> Option<DType> {
        DType::ALL.into_iter().find(|d| d.name() == name)
    }

    /// Bytes per element (numpy's `itemsize`).
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// assert_eq!(DType::BF16.item_size(), 2);
    /// assert_eq!(DType::C64.item_size(), 8);
    /// assert_eq!(DType::Bool.item_size(), 1);
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn item_size(self) -> u64 {
        match self {
            DType::Bool
            | DType::I4
            | DType::I8
            | DType::U4
            | DType::U8
            | DType::F8E4M3FN
            | DType::F8E5M2 => 1,
            DType::I16 | DType::U16 | DType::BF16 | DType::F16 => 2,
            DType::I32 | DType::U32 | DType::F32 => 4,
            DType::I64 | DType::U64 | DType::F64 | DType::C64 => 8,
            DType::C128 => 16,
        }
    }

    /// The kind of number this dtype holds.
    ///
    /// ```
    /// use tabulate::{DType, DTypeKind};
    /// assert_eq!(DType::U8.kind(), DTypeKind::UInt);
    /// assert_eq!(DType::BF16.kind(), DTypeKind::Float);
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn kind(self) -> DTypeKind {
        match self {
            DType::Bool => DTypeKind::Bool,
            DType::I4 | DType::I8 | DType::I16 | DType::I32 | DType::I64 => DTypeKind::Int,
            DType::U4 | DType::U8 | DType::U16 | DType::U32 | DType::U64 => DTypeKind::UInt,
            DType::F8E4M3FN
            | DType::F8E5M2
            | DType::BF16
            | DType::F16
            | DType::F32
            | DType::F64 => DTypeKind::Float,
            DType::C64 | DType::C128 => DTypeKind::Complex,
        }
    }

    /// Floating point or complex: values of this dtype carry gradients.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// assert!(DType::F16.is_inexact() && DType::C64.is_inexact());
    /// assert!(!DType::I32.is_inexact());
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn is_inexact(self) -> bool {
        matches!(self.kind(), DTypeKind::Float | DTypeKind::Complex)
    }

    /// Signed or unsigned integer.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// assert!(DType::I4.is_integer() && DType::U32.is_integer());
    /// assert!(!DType::Bool.is_integer());
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn is_integer(self) -> bool {
        matches!(self.kind(), DTypeKind::Int | DTypeKind::UInt)
    }

    /// Promotes two dtypes the way `jnp.promote_types` does (JAX's lattice, no weak types).
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// // As jnp.promote_types:
    /// assert_eq!(DType::I8.promote(DType::U8), DType::I16);
    /// assert_eq!(DType::BF16.promote(DType::F16), DType::F32);
    /// assert_eq!(DType::I32.promote(DType::BF16), DType::BF16);
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    #[must_use]
    pub fn promote(self, other: DType) -> DType {
        if self == other {
            return self;
        }
        let upper_a = upper_set(self);
        let upper_b = upper_set(other);
        // The least upper bound is the common ancestor that every other common ancestor is above.
        let common: Vec<DType> = upper_a
            .into_iter()
            .filter(|d| upper_b.contains(d))
            .collect();
        common
            .iter()
            .copied()
            .find(|candidate| common.iter().all(|d| upper_set(*candidate).contains(d)))
            // Only 64-bit integers mixed with other integers meet at JAX's weak float `f*`,
            // which `jnp.promote_types` resolves to the default float of x64 mode.
            .unwrap_or(DType::F64)
    }
}

/// Direct successors in JAX's type-promotion lattice (`jax._src.dtypes._type_promotion_lattice`),
/// without the weak `i*`/`f*`/`c*` nodes, which only Python scalars occupy.
fn successors(d: DType) -> &'static [DType] {
    match d {
        DType::Bool => &[DType::U8, DType::I8, DType::U4, DType::I4],
        DType::U4 => &[DType::U8],
        DType::I4 => &[DType::I8],
        DType::U8 => &[DType::U16, DType::I16],
        DType::U16 => &[DType::U32, DType::I32],
        DType::U32 => &[DType::U64, DType::I64],
        DType::U64 | DType::I64 => &[DType::F8E4M3FN, DType::F8E5M2, DType::BF16, DType::F16],
        DType::I8 => &[DType::I16],
        DType::I16 => &[DType::I32],
        DType::I32 => &[DType::I64],
        DType::F8E4M3FN | DType::F8E5M2 | DType::BF16 | DType::F16 => &[DType::F32],
        DType::F32 => &[DType::F64, DType::C64],
        DType::F64 | DType::C64 => &[DType::C128],
        DType::C128 => &[],
    }
}

/// `d` and everything above it in the lattice.
fn upper_set(d: DType) -> Vec<DType> {
    let mut seen = vec![d];
    let mut i = 0;
    while i < seen.len() {
        for &next in successors(seen[i]) {
            if !seen.contains(&next) {
                seen.push(next);
            }
        }
        i += 1;
    }
    seen
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(feature = "serde")]
impl Serialize for DType {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::DType::{self, *};

    #[test]
    fn names_round_trip() {
        for d in DType::ALL {
            assert_eq!(DType::from_name(d.name()), Some(d));
        }
        assert_eq!(DType::from_name("float128"), None);
    }

    #[test]
    fn item_sizes_match_numpy() {
        assert_eq!(BF16.item_size(), 2);
        assert_eq!(I8.item_size(), 1);
        assert_eq!(F32.item_size(), 4);
        assert_eq!(C128.item_size(), 16);
        assert_eq!(Bool.item_size(), 1);
    }

    #[test]
    fn promotion_follows_jax() {
        // Values from jnp.promote_types.
        assert_eq!(F32.promote(BF16), F32);
        assert_eq!(BF16.promote(F16), F32);
        assert_eq!(I32.promote(F16), F16);
        assert_eq!(U8.promote(I8), I16);
        assert_eq!(U32.promote(I32), I64);
        assert_eq!(U64.promote(I64), F64);
        assert_eq!(Bool.promote(I32), I32);
        assert_eq!(F64.promote(C64), C128);
        assert_eq!(I64.promote(BF16), BF16);
    }
}
