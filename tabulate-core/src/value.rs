//! `Describe`: turns the arguments and results of module calls into value trees, the
//! contents of the `inputs` and `outputs` cells.

use std::collections::{BTreeMap, HashMap};
use std::fmt::{Display, Write as _};
use std::rc::Rc;
use std::sync::Arc;

use crate::dtype::DType;
use crate::shape::Shape;

/// A value as the summary shows it: arrays by dtype and shape, other leaves by their
/// Python-style `repr`, and the sequences and mappings around them.
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::Value;
///
/// #[derive(Tabulate)]
/// struct Split;
///
/// impl Split {
///     #[forward]
///     fn forward(&self, x: &Tensor) -> Result<(Tensor, Tensor)> {
///         Ok((x.slice(-1, 0, 2)?, x.slice(-1, 2, 4)?))
///     }
/// }
///
/// let summary = tabulate(&Split).run(|m| m.forward(&Tensor::new(DType::F32, [3, 4])))?;
/// let half = Value::Array { dtype: DType::F32, shape: [3, 2].into() };
/// assert_eq!(summary.rows[0].outputs, Value::sequence([half.clone(), half]));
/// assert_eq!(true.describe(), Value::object("True")); // Python's repr
/// # Ok::<(), tabulate::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(tag = "kind", rename_all = "snake_case"))]
pub enum Value {
    /// An array (a [`Tensor`](crate::Tensor)): `float32[16,9]`.
    Array {
        /// Element type.
        dtype: DType,
        /// Dimensions.
        shape: Shape,
    },
    /// A typed PRNG key array (`jax.random.key`, Flax's `make_rng`): `key<fry>[]`, with
    /// `key<fry>` dimmed as a dtype is.
    Key {
        /// The shape of the key array (a single key is `[]`).
        shape: Shape,
    },
    /// Any other leaf, by its Python-style `repr` (`True`, `3`, `0.1`, `None`, `'relu'`).
    Object {
        /// The text shown.
        repr: String,
    },
    /// A tuple, list or other sequence.
    Sequence {
        /// The items, in order.
        items: Vec<Value>,
    },
    /// A map, struct or keyword arguments; shown with keys sorted, as JAX's tree
    /// utilities sort them.
    Mapping {
        /// The entries, sorted by key; serialised as an object.
        #[cfg_attr(feature = "serde", serde(serialize_with = "entries_as_object"))]
        entries: Vec<(String, Value)>,
    },
}

/// Serialises mapping entries as a JSON object, keys in entry order.
#[cfg(feature = "serde")]
fn entries_as_object<S: serde::Serializer>(
    entries: &[(String, Value)],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_map(entries.iter().map(|(k, v)| (k, v)))
}

impl Value {
    /// Python's `None`.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::Value;
    ///
    /// assert_eq!(Value::none(), Value::object("None"));
    /// assert!(matches!(Value::none(), Value::Object { ref repr } if repr == "None"));
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn none() -> Value {
        Value::object("None")
    }

    /// A leaf shown as `repr`.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::Value;
    ///
    /// // A leaf that is not an array, shown as its Python repr.
    /// assert!(matches!(Value::object("'relu'"), Value::Object { ref repr } if repr == "'relu'"));
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn object(repr: impl Into<String>) -> Value {
        Value::Object { repr: repr.into() }
    }

    /// A sequence of `items`.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::Value;
    ///
    /// let pair = Value::sequence([Value::object("1"), Value::object("2")]);
    /// assert!(matches!(pair, Value::Sequence { ref items } if items.len() == 2));
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn sequence(items: impl IntoIterator<Item = Value>) -> Value {
        Value::Sequence {
            items: items.into_iter().collect(),
        }
    }

    /// A mapping of `entries`, sorted by key.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::Value;
    ///
    /// let kwargs = Value::mapping([("train", Value::object("False")), ("mask", Value::none())]);
    /// let Value::Mapping { entries } = kwargs else { unreachable!() };
    /// let keys: Vec<&str> = entries.iter().map(|(k, _)| k.as_str()).collect();
    /// assert_eq!(keys, ["mask", "train"]); // sorted, as JAX's tree utilities sort
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn mapping<K: Into<String>>(entries: impl IntoIterator<Item = (K, Value)>) -> Value {
        let mut entries: Vec<(String, Value)> =
            entries.into_iter().map(|(k, v)| (k.into(), v)).collect();
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        Value::Mapping { entries }
    }
}

/// Types that can appear as arguments or results of a `#[forward]` method.
///
/// Implemented for tensors, numbers, `bool`, strings, `Option`, `()`, tuples, arrays,
/// `Vec`, slices and string-keyed maps. For a struct of your own, `#[derive(Describe)]`
/// shows it as Flax shows a `flax.struct.dataclass` (a mapping of its fields) or, for a
/// tuple struct, a `NamedTuple` (a list); implement it by hand for anything else.
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::Value;
///
/// /// A configuration value shown as Flax shows a string argument.
/// enum Activation {
///     Relu,
///     Gelu,
/// }
///
/// impl Describe for Activation {
///     fn describe(&self) -> Value {
///         Value::object(match self {
///             Activation::Relu => "'relu'",
///             Activation::Gelu => "'gelu'",
///         })
///     }
/// }
///
/// #[derive(Tabulate)]
/// struct Act;
///
/// impl Act {
///     #[forward]
///     fn forward(&self, x: &Tensor, #[kwarg] kind: &Activation) -> Result<Tensor> {
///         match kind {
///             Activation::Relu => tabulate::nn::relu(x),
///             Activation::Gelu => tabulate::nn::gelu(x),
///         }
///     }
/// }
///
/// let x = Tensor::new(DType::F32, [2, 3]);
/// let summary = tabulate(&Act).run(|m| m.forward(&x, &Activation::Gelu))?;
/// let kwargs = Value::mapping([("kind", Value::object("'gelu'"))]);
/// assert_eq!(summary.rows[0].inputs, Value::sequence([x.describe(), kwargs]));
/// # Ok::<(), tabulate::Error>(())
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be shown in the `inputs`/`outputs` columns",
    label = "arguments and results of `#[forward]` methods must implement `Describe`",
    note = "add `#[derive(Describe)]` to a struct of yours, or implement `tabulate::Describe` for it"
)]
pub trait Describe {
    /// This value as a tree.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::Value;
    ///
    /// assert_eq!(Tensor::new(DType::F32, [2]).describe(), Value::Array { dtype: DType::F32, shape: [2].into() });
    /// assert_eq!(3_usize.describe(), Value::object("3"));
    /// assert_eq!(true.describe(), Value::object("True")); // as Python prints it
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    fn describe(&self) -> Value;
}

impl Describe for Value {
    fn describe(&self) -> Value {
        self.clone()
    }
}

impl<T: Describe + ?Sized> Describe for &T {
    fn describe(&self) -> Value {
        (**self).describe()
    }
}

impl<T: Describe + ?Sized> Describe for &mut T {
    fn describe(&self) -> Value {
        (**self).describe()
    }
}

impl<T: Describe + ?Sized> Describe for Box<T> {
    fn describe(&self) -> Value {
        (**self).describe()
    }
}

impl<T: Describe + ?Sized> Describe for Rc<T> {
    fn describe(&self) -> Value {
        (**self).describe()
    }
}

impl<T: Describe + ?Sized> Describe for Arc<T> {
    fn describe(&self) -> Value {
        (**self).describe()
    }
}

impl Describe for () {
    /// A method that returns nothing returns Python's `None`.
    fn describe(&self) -> Value {
        Value::none()
    }
}

impl<T: Describe> Describe for Option<T> {
    fn describe(&self) -> Value {
        self.as_ref().map_or_else(Value::none, Describe::describe)
    }
}

impl Describe for bool {
    fn describe(&self) -> Value {
        Value::object(if *self { "True" } else { "False" })
    }
}

macro_rules! describe_integers {
    ($($t:ty),*) => {$(
        impl Describe for $t {
            fn describe(&self) -> Value {
                Value::object(self.to_string())
            }
        }
    )*};
}
describe_integers!(
    u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize
);

impl Describe for f64 {
    fn describe(&self) -> Value {
        Value::object(python_float_repr(*self, &format!("{self:e}")))
    }
}

impl Describe for f32 {
    /// Shown with the shortest digits that give back this `f32`, so `0.1_f32` reads `0.1`.
    fn describe(&self) -> Value {
        Value::object(python_float_repr(f64::from(*self), &format!("{self:e}")))
    }
}

impl Describe for str {
    fn describe(&self) -> Value {
        Value::object(python_str_repr(self))
    }
}

impl Describe for String {
    fn describe(&self) -> Value {
        self.as_str().describe()
    }
}

impl Describe for DType {
    fn describe(&self) -> Value {
        Value::object(self.name())
    }
}

impl Describe for Shape {
    /// A shape is a tuple of ints in Python.
    fn describe(&self) -> Value {
        Value::sequence(self.dims().iter().map(Describe::describe))
    }
}

impl<T: Describe> Describe for [T] {
    fn describe(&self) -> Value {
        Value::sequence(self.iter().map(Describe::describe))
    }
}

impl<T: Describe, const N: usize> Describe for [T; N] {
    fn describe(&self) -> Value {
        self.as_slice().describe()
    }
}

impl<T: Describe> Describe for Vec<T> {
    fn describe(&self) -> Value {
        self.as_slice().describe()
    }
}

impl<K: Display, V: Describe> Describe for BTreeMap<K, V> {
    fn describe(&self) -> Value {
        Value::mapping(self.iter().map(|(k, v)| (k.to_string(), v.describe())))
    }
}

impl<K: Display, V: Describe, S> Describe for HashMap<K, V, S> {
    fn describe(&self) -> Value {
        Value::mapping(self.iter().map(|(k, v)| (k.to_string(), v.describe())))
    }
}

macro_rules! describe_tuples {
    ($(($($name:ident),+)),*) => {$(
        impl<$($name: Describe),+> Describe for ($($name,)+) {
            #[allow(non_snake_case)]
            fn describe(&self) -> Value {
                let ($($name,)+) = self;
                Value::sequence([$($name.describe()),+])
            }
        }
    )*};
}
describe_tuples!(
    (A),
    (A, B),
    (A, B, C),
    (A, B, C, D),
    (A, B, C, D, E),
    (A, B, C, D, E, F),
    (A, B, C, D, E, F, G),
    (A, B, C, D, E, F, G, H)
);

/// Python's `repr` of a float, from Rust's shortest round-trip digits (`scientific` is
/// the value formatted with `{:e}`): `0.1`, `100.0`, `1e-05`, `1e+16`, `inf`, `nan`.
fn python_float_repr(value: f64, scientific: &str) -> String {
    if value.is_nan() {
        return "nan".into();
    }
    if value.is_infinite() {
        return if value > 0.0 { "inf" } else { "-inf" }.into();
    }
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let negative = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let sign = if negative { "-" } else { "" };
    // Python switches to scientific notation outside 1e-4 <= |x| < 1e16.
    if (-4..16).contains(&exponent) {
        let point = exponent + 1; // digits before the decimal point
        let body = if point <= 0 {
            format!("0.{}{}", "0".repeat(point.unsigned_abs() as usize), digits)
        } else {
            let point = point.unsigned_abs() as usize;
            if digits.len() <= point {
                format!("{}{}.0", digits, "0".repeat(point - digits.len()))
            } else {
                format!("{}.{}", &digits[..point], &digits[point..])
            }
        };
        format!("{sign}{body}")
    } else {
        let (first, rest) = digits.split_at(1);
        let fraction = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        let exp_sign = if exponent < 0 { '-' } else { '+' };
        format!(
            "{sign}{first}{fraction}e{exp_sign}{:02}",
            exponent.unsigned_abs()
        )
    }
}

/// Python's `repr` of a string: single quotes unless the text holds a single quote and no
/// double quote.
fn python_str_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => {
                let _ = write!(out, "\\x{:02x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// The positional and keyword arguments of one module call.
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::{CallArgs, Value};
///
/// let x = Tensor::new(DType::F32, [2, 3]);
/// let mut args = CallArgs::default();
/// args.positional(&x);
/// args.keyword("train", &false);
/// let shown = Value::sequence([x.describe(), Value::mapping([("train", Value::object("False"))])]);
/// assert_eq!(args.to_value(), shown); // what the `inputs` cell shows
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CallArgs {
    positional: smallvec::SmallVec<[Value; 1]>,
    keyword: Vec<(String, Value)>,
    /// The tensors of the positional arguments, in order, by tensor id (one list for all:
    /// JAX flattens them in order), then of each keyword argument with its name.
    positional_arrays: crate::scope::Arrays,
    keyword_arrays: Vec<(String, crate::scope::Arrays)>,
}

impl CallArgs {
    /// Records a positional argument.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::CallArgs;
    ///
    /// let x = Tensor::new(DType::F32, [2, 3]);
    /// let mut args = CallArgs::default();
    /// args.positional(&x);
    /// assert_eq!(args.to_value(), x.describe()); // one positional argument alone: itself
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn positional(&mut self, value: &(impl Describe + ?Sized)) {
        let (described, arrays) = crate::scope::collect_arrays(|| value.describe());
        self.positional.push(described);
        if self.positional_arrays.is_empty() {
            self.positional_arrays = arrays;
        } else {
            self.positional_arrays.extend(arrays);
        }
    }

    /// Records a keyword argument.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::{CallArgs, Value};
    ///
    /// let mut args = CallArgs::default();
    /// args.keyword("deterministic", &true);
    /// assert_eq!(args.to_value(), Value::mapping([("deterministic", Value::object("True"))]));
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn keyword(&mut self, name: &str, value: &(impl Describe + ?Sized)) {
        let (described, arrays) = crate::scope::collect_arrays(|| value.describe());
        self.keyword.push((name.to_string(), described));
        self.keyword_arrays.push((name.to_string(), arrays));
    }

    /// The arguments' tensors as JAX flattens `(args, kwargs)`: positional arguments in
    /// order, then keyword arguments sorted by name.
    pub(crate) fn flat_arrays(&self) -> impl Iterator<Item = &crate::scope::Array> {
        let mut keywords: Vec<&(String, crate::scope::Arrays)> =
            self.keyword_arrays.iter().collect();
        keywords.sort_by(|a, b| a.0.cmp(&b.0));
        self.positional_arrays
            .iter()
            .chain(keywords.into_iter().flat_map(|(_, arrays)| arrays))
    }

    /// [`to_value`](Self::to_value), taking the arguments' values instead of copying them.
    pub(crate) fn into_value(self) -> Value {
        let CallArgs {
            mut positional,
            keyword,
            ..
        } = self;
        match (positional.len(), keyword.is_empty()) {
            (0, true) => Value::sequence([]),
            (0, false) => Value::mapping(keyword),
            (1, true) => positional.pop().unwrap_or_else(|| Value::sequence([])),
            (_, true) => Value::Sequence {
                items: positional.into_vec(),
            },
            (_, false) => {
                positional.push(Value::mapping(keyword));
                Value::Sequence {
                    items: positional.into_vec(),
                }
            }
        }
    }

    /// The `inputs` cell value, normalised as Flax does: one positional argument alone is
    /// shown as itself, several as a list, keywords as a mapping, both as a list ending in
    /// the mapping, none as an empty cell.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::{CallArgs, Value};
    ///
    /// let (x, y) = (Tensor::new(DType::F32, [2]), Tensor::new(DType::I32, [2]));
    /// let mut args = CallArgs::default();
    /// assert_eq!(args.to_value(), Value::sequence([])); // no arguments: an empty cell
    /// args.positional(&x);
    /// args.positional(&y);
    /// assert_eq!(args.to_value(), Value::sequence([x.describe(), y.describe()]));
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn to_value(&self) -> Value {
        let keywords = || Value::mapping(self.keyword.iter().cloned());
        match (self.positional.as_slice(), self.keyword.is_empty()) {
            ([], true) => Value::sequence([]),
            ([], false) => keywords(),
            ([only], true) => only.clone(),
            (many, true) => Value::sequence(many.iter().cloned()),
            (many, false) => Value::sequence(many.iter().cloned().chain([keywords()])),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_read_like_python() {
        let cases: [(f64, &str); 12] = [
            (0.1, "0.1"),
            (4.5, "4.5"),
            (100.0, "100.0"),
            (1e-5, "1e-05"),
            (0.0001, "0.0001"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (-2.5e-7, "-2.5e-07"),
            (0.0, "0.0"),
            (123.456, "123.456"),
            (f64::INFINITY, "inf"),
            (1.5e300, "1.5e+300"),
        ];
        for (x, expected) in cases {
            assert_eq!(x.describe(), Value::object(expected), "{x}");
        }
        assert_eq!(0.1_f32.describe(), Value::object("0.1"));
        assert_eq!(1e-6_f32.describe(), Value::object("1e-06"));
    }

    #[test]
    fn strings_read_like_python() {
        assert_eq!("relu".describe(), Value::object("'relu'"));
        assert_eq!("it's".describe(), Value::object("\"it's\""));
        assert_eq!("a\nb".describe(), Value::object("'a\\nb'"));
    }

    #[test]
    fn inputs_are_normalised_like_flax() {
        let mut args = CallArgs::default();
        assert_eq!(args.to_value(), Value::sequence([]));
        args.positional(&3);
        assert_eq!(args.to_value(), Value::object("3"));
        args.positional(&4.5);
        assert_eq!(
            args.to_value(),
            Value::sequence([Value::object("3"), Value::object("4.5")])
        );
        args.keyword("zz", &1);
        args.keyword("aa", &true);
        assert_eq!(
            args.to_value(),
            Value::sequence([
                Value::object("3"),
                Value::object("4.5"),
                Value::mapping([("aa", Value::object("True")), ("zz", Value::object("1"))]),
            ])
        );
    }
}
