//! `Spec`: the dtype and shape of a value, what an abstract tensor and a graph value are.

use std::fmt;

use crate::dtype::DType;
use crate::shape::Shape;

/// Dtype and shape of a value.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Spec {
    pub(crate) dtype: DType,
    pub(crate) shape: Shape,
}

impl Spec {
    pub(crate) fn new(dtype: DType, shape: impl Into<Shape>) -> Spec {
        Spec {
            dtype,
            shape: shape.into(),
        }
    }

    pub(crate) fn elements(&self) -> u64 {
        self.shape.elements()
    }

    pub(crate) fn rank(&self) -> usize {
        self.shape.rank()
    }

    pub(crate) fn dims(&self) -> &[usize] {
        self.shape.dims()
    }

    pub(crate) fn with_dtype(&self, dtype: DType) -> Spec {
        Spec::new(dtype, self.shape.clone())
    }

    pub(crate) fn with_shape(&self, shape: impl Into<Shape>) -> Spec {
        Spec::new(self.dtype, shape)
    }
}

impl fmt::Display for Spec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.dtype, self.shape)
    }
}
