//! Tensor shapes: dimensions, element counts, broadcasting and axis helpers.

use std::fmt;

/// The dimensions of a tensor, outermost first. A scalar has no dimensions.
///
/// ```
/// use tabulate::Shape;
///
/// let shape = Shape::new([16, 1, 9]);
/// assert_eq!((shape.rank(), shape.elements()), (3, 144));
/// assert_eq!(shape.dim(-1), Some(9));
/// assert_eq!(shape.broadcast(&Shape::new([4, 1])), Some(Shape::new([16, 4, 9])));
/// assert_eq!(shape.to_string(), "[16,1,9]");
/// assert_eq!(Shape::scalar().elements(), 1);
/// ```
#[derive(Clone)]
pub struct Shape(Dims);

/// A shape's dimensions: inline up to [`INLINE`] (no allocation when a spec is copied, which
/// the trace and the cost passes do for every value), else on the heap.
#[derive(Clone)]
enum Dims {
    Inline { rank: u8, dims: [usize; INLINE] },
    Heap(Vec<usize>),
}

/// The largest rank stored inline.
const INLINE: usize = 6;

impl Dims {
    fn from_slice(dims: &[usize]) -> Dims {
        if dims.len() <= INLINE {
            let mut inline = [0; INLINE];
            inline[..dims.len()].copy_from_slice(dims);
            Dims::Inline {
                // At most `INLINE`.
                #[allow(clippy::cast_possible_truncation)]
                rank: dims.len() as u8,
                dims: inline,
            }
        } else {
            Dims::Heap(dims.to_vec())
        }
    }

    fn from_vec(dims: Vec<usize>) -> Dims {
        if dims.len() <= INLINE {
            Dims::from_slice(&dims)
        } else {
            Dims::Heap(dims)
        }
    }

    #[inline]
    fn as_slice(&self) -> &[usize] {
        match self {
            Dims::Inline { rank, dims } => &dims[..usize::from(*rank)],
            Dims::Heap(dims) => dims,
        }
    }
}

impl Default for Shape {
    fn default() -> Shape {
        Shape::scalar()
    }
}

impl PartialEq for Shape {
    fn eq(&self, other: &Shape) -> bool {
        self.dims() == other.dims()
    }
}

impl Eq for Shape {}

impl std::hash::Hash for Shape {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.dims().hash(state);
    }
}

impl fmt::Debug for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Shape").field(&self.dims()).finish()
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for Shape {
    /// The list of dimensions.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serde::Serialize::serialize(self.dims(), serializer)
    }
}

impl Shape {
    /// A shape from its dimensions.
    ///
    /// ```
    /// use tabulate::Shape;
    /// let shape = Shape::new([16, 9]);
    /// assert_eq!(shape.to_string(), "[16,9]");
    /// assert_eq!(Shape::from(vec![16, 9]), shape);
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn new(dims: impl Into<Vec<usize>>) -> Shape {
        Shape(Dims::from_vec(dims.into()))
    }

    /// The shape of a scalar.
    ///
    /// ```
    /// use tabulate::Shape;
    /// assert_eq!(Shape::scalar().rank(), 0);
    /// assert_eq!(Shape::scalar().elements(), 1);
    /// assert_eq!(Shape::scalar().to_string(), "[]");
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn scalar() -> Shape {
        Shape(Dims::Inline {
            rank: 0,
            dims: [0; INLINE],
        })
    }

    /// The dimensions.
    ///
    /// ```
    /// use tabulate::Shape;
    /// assert_eq!(Shape::new([2, 3]).dims(), [2, 3]);
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn dims(&self) -> &[usize] {
        self.0.as_slice()
    }

    /// The number of dimensions.
    ///
    /// ```
    /// use tabulate::Shape;
    /// assert_eq!(Shape::new([2, 3, 4]).rank(), 3);
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn rank(&self) -> usize {
        self.dims().len()
    }

    /// The number of elements (1 for a scalar), saturating at `u64::MAX`.
    ///
    /// ```
    /// use tabulate::Shape;
    /// assert_eq!(Shape::new([2, 3, 4]).elements(), 24);
    /// assert_eq!(Shape::new([2, 0]).elements(), 0);
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn elements(&self) -> u64 {
        self.dims()
            .iter()
            .fold(1u64, |acc, &d| acc.saturating_mul(d as u64))
    }

    /// The number of elements, or `None` when it does not fit in a `u64`. A shape with a
    /// dimension of 0 has none, however large the others.
    ///
    /// ```
    /// use tabulate::Shape;
    /// assert_eq!(Shape::new([2, 3]).checked_elements(), Some(6));
    /// assert_eq!(Shape::new([1 << 40, 1 << 40]).checked_elements(), None); // 2^80
    /// assert_eq!(Shape::new([1 << 40, 1 << 40, 0]).checked_elements(), Some(0));
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn checked_elements(&self) -> Option<u64> {
        checked_product(self.dims().iter().map(|&d| d as u64))
    }

    /// Dimension `axis`, counting from the end when negative (`-1` is the last).
    ///
    /// ```
    /// use tabulate::Shape;
    /// let shape = Shape::new([2, 3, 4]);
    /// assert_eq!(shape.dim(0), Some(2));
    /// assert_eq!(shape.dim(-1), Some(4));
    /// assert_eq!(shape.dim(3), None);
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn dim(&self, axis: isize) -> Option<usize> {
        normalize_axis(axis, self.rank()).map(|a| self.dims()[a])
    }

    /// The shape numpy broadcasting gives two shapes, or `None` when they do not broadcast.
    ///
    /// ```
    /// use tabulate::Shape;
    /// let a = Shape::new([8, 1, 3]);
    /// assert_eq!(a.broadcast(&Shape::new([5, 3])), Some(Shape::new([8, 5, 3])));
    /// assert_eq!(a.broadcast(&Shape::new([2])), None); // 3 against 2
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn broadcast(&self, other: &Shape) -> Option<Shape> {
        let rank = self.rank().max(other.rank());
        let mut dims = vec![0; rank];
        for (i, out) in dims.iter_mut().enumerate() {
            let a = dim_from_end(self, rank - 1 - i);
            let b = dim_from_end(other, rank - 1 - i);
            *out = match (a, b) {
                (x, y) if x == y => x,
                (1, y) => y,
                (x, 1) => x,
                _ => return None,
            };
        }
        Some(Shape::from(dims))
    }

    /// This shape with `rank - self.rank()` leading ones, as numpy aligns shapes.
    pub(crate) fn with_leading_ones(&self, rank: usize) -> Shape {
        let mut dims = vec![1; rank.saturating_sub(self.rank())];
        dims.extend_from_slice(self.dims());
        Shape::from(dims)
    }
}

/// The product of `dims`, or `None` when it does not fit in a `u64`; 0 when any factor is
/// 0, whatever the others (the element count of an empty array of huge dimensions).
pub(crate) fn checked_product<I>(dims: I) -> Option<u64>
where
    I: IntoIterator<Item = u64>,
    I::IntoIter: Clone,
{
    let mut dims = dims.into_iter();
    if dims.clone().any(|d| d == 0) {
        return Some(0);
    }
    dims.try_fold(1u64, u64::checked_mul)
}

/// Dimension `i` counted from the end, 1 beyond the rank (numpy's implicit leading ones).
fn dim_from_end(shape: &Shape, i: usize) -> usize {
    if i < shape.rank() {
        shape.dims()[shape.rank() - 1 - i]
    } else {
        1
    }
}

/// Resolves a possibly negative axis against `rank`, or `None` when out of range.
pub(crate) fn normalize_axis(axis: isize, rank: usize) -> Option<usize> {
    let rank = isize::try_from(rank).ok()?;
    let a = if axis < 0 { axis + rank } else { axis };
    (0..rank).contains(&a).then(|| a.unsigned_abs())
}

impl fmt::Display for Shape {
    /// `[16,9]`, with no spaces, as Flax prints shapes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Written digit by digit: shapes are printed for every cell of every row.
        let mut buffer = [0u8; 24];
        f.write_str("[")?;
        for (i, &d) in self.dims().iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            let mut n = d;
            let mut start = buffer.len();
            loop {
                start -= 1;
                // A decimal digit.
                #[allow(clippy::cast_possible_truncation)]
                {
                    buffer[start] = b'0' + (n % 10) as u8;
                }
                n /= 10;
                if n == 0 {
                    break;
                }
            }
            f.write_str(std::str::from_utf8(&buffer[start..]).map_err(|_| fmt::Error)?)?;
        }
        f.write_str("]")
    }
}

impl From<Vec<usize>> for Shape {
    fn from(dims: Vec<usize>) -> Shape {
        Shape(Dims::from_vec(dims))
    }
}

impl From<&[usize]> for Shape {
    fn from(dims: &[usize]) -> Shape {
        Shape(Dims::from_slice(dims))
    }
}

impl<const N: usize> From<[usize; N]> for Shape {
    fn from(dims: [usize; N]) -> Shape {
        Shape(Dims::from_slice(&dims))
    }
}

impl From<&Shape> for Shape {
    fn from(shape: &Shape) -> Shape {
        shape.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_without_spaces() {
        assert_eq!(Shape::new([16, 9]).to_string(), "[16,9]");
        assert_eq!(Shape::scalar().to_string(), "[]");
    }

    #[test]
    fn broadcasts_like_numpy() {
        let a = Shape::new([16, 4]);
        assert_eq!(a.broadcast(&Shape::new([4])), Some(Shape::new([16, 4])));
        assert_eq!(a.broadcast(&Shape::new([1, 4])), Some(Shape::new([16, 4])));
        assert_eq!(
            Shape::new([2, 1, 3]).broadcast(&Shape::new([5, 1])),
            Some(Shape::new([2, 5, 3]))
        );
        assert_eq!(a.broadcast(&Shape::new([3])), None);
    }

    #[test]
    fn counts_and_axes() {
        assert_eq!(Shape::new([2, 3, 4]).elements(), 24);
        assert_eq!(Shape::scalar().elements(), 1);
        assert_eq!(Shape::new([2, 3]).dim(-1), Some(3));
        assert_eq!(Shape::new([2, 3]).dim(2), None);
        assert_eq!(normalize_axis(-3, 2), None);
    }
}
