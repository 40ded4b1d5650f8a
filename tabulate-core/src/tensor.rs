//! The abstract `Tensor`: a dtype and a shape, nothing else. Its operations (the methods
//! that apply primitives) are in `lax/tensor.rs`, above the recorder.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::scope;
use crate::shape::Shape;
use crate::spec::Spec;
use crate::value::{Describe, Value};

/// An abstract array: its element type and shape. No memory is allocated for its
/// elements and no arithmetic is done on them; operations only compute the shape of
/// their result (or an error) and, during a summary run, record themselves.
///
/// ```
/// use tabulate::prelude::*;
/// // Outside a summary, operations only check and compute shapes, as `jax.eval_shape`.
/// let x = Tensor::new(DType::F32, [16, 9]);
/// let w = Tensor::new(DType::BF16, [9, 4]);
/// let y = x.matmul(&w)?.add(1.0)?; // float32 × bfloat16 → float32; scalars are weak
/// assert_eq!(y.to_string(), "float32[16,4]");
/// let z = y.reshape(vec![-1])?.sum(&[0], false)?;
/// assert_eq!((z.dtype(), z.rank()), (DType::F32, 0));
/// assert!(x.matmul(&x).is_err()); // contracting dimensions differ
/// # Ok::<(), tabulate::Error>(())
/// ```
#[derive(Clone)]
pub struct Tensor {
    spec: Spec,
    id: u64,
}

impl Tensor {
    /// An input tensor of `dtype` and `shape`, e.g. `Tensor::new(DType::F32, [16, 9])`.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// let tokens = Tensor::new(DType::I32, [1, 1024]);
    /// assert_eq!((tokens.dtype(), tokens.shape().dims()), (DType::I32, &[1, 1024][..]));
    /// assert_eq!(tokens.elements(), 1024);
    /// ```
    pub fn new(dtype: DType, shape: impl Into<Shape>) -> Tensor {
        Tensor::from_spec(Spec::new(dtype, shape))
    }

    pub(crate) fn from_spec(spec: Spec) -> Tensor {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        Tensor {
            spec,
            id: NEXT.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// The element type.
    pub fn dtype(&self) -> DType {
        self.spec.dtype
    }

    /// The shape.
    pub fn shape(&self) -> &Shape {
        &self.spec.shape
    }

    /// The number of dimensions.
    pub fn rank(&self) -> usize {
        self.spec.rank()
    }

    /// The size of dimension `axis`, counting from the end when negative.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// let x = Tensor::new(DType::F32, [2, 3, 5]);
    /// assert_eq!(x.dim(-1)?, 5);
    /// assert!(x.dim(3).is_err());
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn dim(&self, axis: isize) -> Result<usize> {
        self.shape()
            .dim(axis)
            .ok_or_else(|| Error::shape("dim", format!("axis {axis} is out of range for {self}")))
    }

    /// The number of elements.
    pub fn elements(&self) -> u64 {
        self.spec.elements()
    }

    pub(crate) fn spec(&self) -> &Spec {
        &self.spec
    }

    pub(crate) fn id(&self) -> u64 {
        self.id
    }
}

impl Describe for Tensor {
    fn describe(&self) -> Value {
        scope::note_array(self.id, &self.spec);
        Value::Array {
            dtype: self.dtype(),
            shape: self.shape().clone(),
        }
    }
}

impl fmt::Display for Tensor {
    /// `float32[16,9]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.spec)
    }
}

impl fmt::Debug for Tensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tensor({})", self.spec)
    }
}
