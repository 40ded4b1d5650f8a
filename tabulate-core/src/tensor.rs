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
    /// A typed PRNG key (`jax.random.key`): held as its `uint32[…, 2]` words, shown as
    /// `key<fry>[…]`.
    typed_key: bool,
    /// The run (trace generation) that made this tensor as the value `value` of its
    /// graph, or 0: the recorder finds a tensor of its own run without a look-up.
    run: u64,
    value: u32,
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
        Tensor::traced(spec, 0, 0)
    }

    /// A new tensor that is value `value` of the graph of run `run` (a generation, never
    /// 0).
    pub(crate) fn traced(spec: Spec, run: u64, value: u32) -> Tensor {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        Tensor {
            spec,
            id: NEXT.fetch_add(1, Ordering::Relaxed),
            typed_key: false,
            run,
            value,
        }
    }

    /// The graph value this tensor is in run `run`, if that run made it.
    pub(crate) fn value_in(&self, run: u64) -> Option<u32> {
        (self.run == run && run != 0).then_some(self.value)
    }

    /// This tensor (its threefry words, `uint32[…, 2]`) as a typed PRNG key.
    pub(crate) fn into_typed_key(mut self) -> Tensor {
        self.typed_key = true;
        self
    }

    /// Whether this is a typed PRNG key, as `jax.random.key` makes and Flax's
    /// `make_rng` returns: shown `key<fry>[]` in the `inputs` and `outputs` cells, while an
    /// old-style key (`jax.random.PRNGKey`, a plain `Tensor::new(DType::U32, [2])`) shows
    /// `uint32[2]`.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::random;
    ///
    /// #[derive(Tabulate)]
    /// struct Draw;
    ///
    /// impl Draw {
    ///     #[forward]
    ///     fn forward(&self) -> Result<Tensor> {
    ///         let key = random::make_rng("noise")?;
    ///         assert!(key.is_typed_key());
    ///         assert_eq!(key.to_string(), "key<fry>[]");
    ///         Ok(key)
    ///     }
    /// }
    ///
    /// let summary = tabulate(&Draw).rngs(["noise"]).run(|m| m.forward())?;
    /// assert!(summary.to_string().contains("key<fry>[]"));
    /// assert!(!Tensor::new(DType::U32, [2]).is_typed_key());
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn is_typed_key(&self) -> bool {
        self.typed_key
    }

    /// The shape of the keys a typed key array holds (its words' shape without the last
    /// axis).
    fn key_shape(&self) -> Shape {
        let dims = self.spec.shape.dims();
        Shape::new(dims[..dims.len().saturating_sub(1)].to_vec())
    }

    /// The element type.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// let x = Tensor::new(DType::BF16, [2, 3]);
    /// assert_eq!(x.dtype(), DType::BF16);
    /// assert_eq!(x.astype(DType::F32)?.dtype(), DType::F32);
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn dtype(&self) -> DType {
        self.spec.dtype
    }

    /// The shape.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// let x = Tensor::new(DType::F32, [2, 3, 5]);
    /// assert_eq!(x.shape().dims(), [2, 3, 5]);
    /// assert_eq!(x.shape().to_string(), "[2,3,5]"); // as Flax prints shapes
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn shape(&self) -> &Shape {
        &self.spec.shape
    }

    /// The number of dimensions.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// assert_eq!(Tensor::new(DType::F32, [2, 3, 5]).rank(), 3);
    /// assert_eq!(Tensor::new(DType::F32, []).rank(), 0); // a scalar
    /// # Ok::<(), tabulate::Error>(())
    /// ```
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
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// assert_eq!(Tensor::new(DType::F32, [2, 3, 5]).elements(), 30);
    /// assert_eq!(Tensor::new(DType::F32, []).elements(), 1);
    /// assert_eq!(Tensor::new(DType::F32, [4, 0]).elements(), 0);
    /// # Ok::<(), tabulate::Error>(())
    /// ```
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
        scope::note_array(|| scope::Array {
            id: self.id,
            spec: self.spec.clone(),
            run: self.run,
            value: self.value,
        });
        if self.typed_key {
            scope::note_typed_key(self.id);
            return Value::Key {
                shape: self.key_shape(),
            };
        }
        Value::Array {
            dtype: self.dtype(),
            shape: self.shape().clone(),
        }
    }
}

impl fmt::Display for Tensor {
    /// `float32[16,9]`; a typed key `key<fry>[]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.typed_key {
            return write!(f, "key<fry>{}", self.key_shape());
        }
        write!(f, "{}", self.spec)
    }
}

impl fmt::Debug for Tensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tensor({})", self.spec)
    }
}
