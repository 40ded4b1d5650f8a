//! Linear layers: `Dense`, `DenseGeneral`, `Einsum` and `Embed` (`flax.linen.linear`).

use super::initializers;
use super::promote_dtype;
use crate::call::module_call;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::lax::{self, DotDims};
use crate::module::{ModuleIdentity, Tabulate};
use crate::shape::{Shape, normalize_axis};
use crate::tensor::Tensor;
use crate::variable::{Initializer, param_with};

/// Implements the builder methods every layer shares and its `Tabulate` impl.
macro_rules! layer_common {
    ($ty:ident, $name:literal, $example:literal) => {
        impl $ty {
            /// Names the layer, as Flax's `name=`: its row's path ends in this name instead
            /// of the automatic `{type}_{n}`.
            ///
            /// ```
            /// use tabulate::Tabulate;
            ///
            #[doc = concat!("let layer = tabulate::nn::", $example, ".name(\"proj\");")]
            /// assert_eq!(layer.identity().and_then(|identity| identity.name()), Some("proj"));
            /// ```
            #[must_use]
            pub fn name(mut self, name: impl Into<String>) -> $ty {
                self.identity.set_name(name);
                self
            }
        }

        impl Tabulate for $ty {
            fn type_name(&self) -> &'static str {
                $name
            }

            fn identity(&self) -> Option<&ModuleIdentity> {
                Some(&self.identity)
            }
        }
    };
}
pub(crate) use layer_common;

/// A linear transformation over the last dimension: `y = x · kernel + bias`, with
/// `kernel: [in, features]` and `bias: [features]` in `params` (`flax.linen.Dense`).
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::nn::Dense;
///
/// let y = Dense::new(4).forward(&Tensor::new(DType::F32, [16, 9]))?;
/// assert_eq!(y.to_string(), "float32[16,4]");
/// # Ok::<(), tabulate::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Dense {
    /// Output features.
    pub features: usize,
    /// Whether to add a bias (default `true`).
    pub use_bias: bool,
    /// The dtype of the computation (default: promoted from input and parameters).
    pub dtype: Option<DType>,
    /// The dtype of the parameters (default `float32`).
    pub param_dtype: DType,
    /// The initialiser of `kernel` (default `lecun_normal()`); a partitioned one
    /// ([`with_partitioning`](super::with_partitioning)) names its axes.
    pub kernel_init: Initializer,
    /// The initialiser of `bias` (default `zeros`); a partitioned one
    /// ([`with_partitioning`](super::with_partitioning)) names its axes.
    pub bias_init: Initializer,
    identity: ModuleIdentity,
}

impl Dense {
    /// A `Dense` layer with `features` outputs.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::Dense;
    ///
    /// let x = Tensor::new(DType::F32, [2, 16, 9]);
    /// let layer = Dense::new(4);
    /// assert_eq!(layer.forward(&x)?.to_string(), "float32[2,16,4]"); // kernel [9, 4] and bias [4]
    /// let total = tabulate(&layer).run(|l| l.forward(&x))?.total();
    /// assert_eq!((total.count, total.bytes), (40, 160)); // as Flax 0.12.8 counts them
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn new(features: usize) -> Dense {
        Dense {
            features,
            use_bias: true,
            dtype: None,
            param_dtype: DType::F32,
            kernel_init: initializers::lecun_normal(),
            bias_init: initializers::zeros(),
            identity: ModuleIdentity::new(),
        }
    }

    /// Sets whether to add a bias.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::Dense;
    ///
    /// let x = Tensor::new(DType::F32, [2, 16, 9]);
    /// let layer = Dense::new(4).use_bias(false);
    /// assert_eq!(layer.forward(&x)?.to_string(), "float32[2,16,4]"); // the kernel alone
    /// let total = tabulate(&layer).run(|l| l.forward(&x))?.total();
    /// assert_eq!((total.count, total.bytes), (36, 144)); // as Flax 0.12.8 counts them
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    #[must_use]
    pub fn use_bias(mut self, use_bias: bool) -> Dense {
        self.use_bias = use_bias;
        self
    }

    /// Sets the dtype of the computation.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::Dense;
    ///
    /// let x = Tensor::new(DType::F32, [2, 16, 9]);
    /// let layer = Dense::new(4).dtype(DType::BF16);
    /// assert_eq!(layer.forward(&x)?.to_string(), "bfloat16[2,16,4]"); // computed in bfloat16, float32 parameters
    /// let total = tabulate(&layer).run(|l| l.forward(&x))?.total();
    /// assert_eq!((total.count, total.bytes), (40, 160)); // as Flax 0.12.8 counts them
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    #[must_use]
    pub fn dtype(mut self, dtype: DType) -> Dense {
        self.dtype = Some(dtype);
        self
    }

    /// Sets the dtype of the parameters.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::Dense;
    ///
    /// let x = Tensor::new(DType::F32, [2, 16, 9]);
    /// let layer = Dense::new(4).param_dtype(DType::BF16);
    /// assert_eq!(layer.forward(&x)?.to_string(), "float32[2,16,4]"); // bfloat16 parameters: half the bytes
    /// let total = tabulate(&layer).run(|l| l.forward(&x))?.total();
    /// assert_eq!((total.count, total.bytes), (40, 80)); // as Flax 0.12.8 counts them
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    #[must_use]
    pub fn param_dtype(mut self, dtype: DType) -> Dense {
        self.param_dtype = dtype;
        self
    }

    /// Applies the layer to `x` (`[..., in]` → `[..., features]`).
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::Dense;
    ///
    /// let x = Tensor::new(DType::F32, [2, 16, 9]);
    /// let layer = Dense::new(4);
    /// assert_eq!(layer.forward(&x)?.to_string(), "float32[2,16,4]"); // over the last axis; leading axes are batch
    /// let total = tabulate(&layer).run(|l| l.forward(&x))?.total();
    /// assert_eq!((total.count, total.bytes), (40, 160)); // as Flax 0.12.8 counts them
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        module_call(self, "forward", |args| args.positional(x), || self.apply(x))
    }

    fn apply(&self, x: &Tensor) -> Result<Tensor> {
        if x.rank() == 0 {
            return Err(Error::invalid(format!(
                "Dense needs an input of rank 1 or more, got {x}"
            )));
        }
        let kernel = param_with(
            "kernel",
            &self.kernel_init,
            self.param_dtype,
            [x.dim(-1)?, self.features],
        )?;
        let bias = if self.use_bias {
            Some(param_with(
                "bias",
                &self.bias_init,
                self.param_dtype,
                [self.features],
            )?)
        } else {
            None
        };
        let dtype = promote_dtype(self.dtype, &[Some(x), Some(&kernel), bias.as_ref()], true);
        let x = x.astype(dtype)?;
        let kernel = kernel.astype(dtype)?;
        let bias = bias.map(|b| b.astype(dtype)).transpose()?;
        let contracting = x.rank() - 1;
        let y = lax::dot_general(
            &x,
            &kernel,
            DotDims {
                lhs_contracting: smallvec::smallvec![contracting],
                rhs_contracting: smallvec::smallvec![0],
                ..DotDims::default()
            },
        )?;
        match bias {
            Some(bias) => {
                // `[1, …, 1, -1]` (inline: a layer call allocates nothing for it).
                let mut shape: smallvec::SmallVec<[isize; 8]> =
                    smallvec::smallvec![1; y.rank() - 1];
                shape.push(-1);
                y.add(&bias.reshape(&shape[..])?)
            }
            None => Ok(y),
        }
    }
}

layer_common!(Dense, "Dense", "Dense::new(4)");

impl Dense {
    /// Sets the initialiser of `kernel` (Flax's `kernel_init=`).
    ///
    /// ```
    /// use tabulate::nn::{initializers, with_partitioning, Dense};
    ///
    /// let init = with_partitioning(initializers::lecun_normal(), ["a", "b"]);
    /// let layer = Dense::new(4).kernel_init(init.clone());
    /// assert_eq!(layer.kernel_init, init);
    /// ```
    #[must_use]
    pub fn kernel_init(mut self, init: Initializer) -> Dense {
        self.kernel_init = init;
        self
    }
    /// Sets the initialiser of `bias` (Flax's `bias_init=`).
    ///
    /// ```
    /// use tabulate::nn::{initializers, with_partitioning, Dense};
    ///
    /// let init = with_partitioning(initializers::lecun_normal(), ["a", "b"]);
    /// let layer = Dense::new(4).bias_init(init.clone());
    /// assert_eq!(layer.bias_init, init);
    /// ```
    #[must_use]
    pub fn bias_init(mut self, init: Initializer) -> Dense {
        self.bias_init = init;
        self
    }
}

/// A linear transformation over several axes at once, with several output feature
/// dimensions and optional batch dimensions (`flax.linen.DenseGeneral`).
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::nn::DenseGeneral;
///
/// // Projects the last axis onto (heads, depth), as attention's query projection.
/// let layer = DenseGeneral::new([2, 3]);
/// let x = Tensor::new(DType::F32, [4, 5]);
/// let summary = tabulate(&layer).run(|l| l.forward(&x))?;
/// assert_eq!(summary.rows[0].outputs, tabulate::Value::Array { dtype: DType::F32, shape: [4, 2, 3].into() });
/// assert_eq!(summary.total().count, 5 * 2 * 3 + 2 * 3); // kernel [5,2,3], bias [2,3]
/// # Ok::<(), tabulate::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct DenseGeneral {
    /// Output feature dimensions.
    pub features: Vec<usize>,
    /// Input axes contracted with the kernel (default `[-1]`).
    pub axis: Vec<isize>,
    /// Leading input axes that get their own kernel (default none).
    pub batch_dims: Vec<isize>,
    /// Whether to add a bias (default `true`).
    pub use_bias: bool,
    /// The dtype of the computation.
    pub dtype: Option<DType>,
    /// The dtype of the parameters (default `float32`).
    pub param_dtype: DType,
    /// The initialiser of `kernel` (default `lecun_normal()`); a partitioned one
    /// ([`with_partitioning`](super::with_partitioning)) names its axes.
    pub kernel_init: Initializer,
    /// The initialiser of `bias` (default `zeros`); a partitioned one
    /// ([`with_partitioning`](super::with_partitioning)) names its axes.
    pub bias_init: Initializer,
    identity: ModuleIdentity,
}

impl DenseGeneral {
    /// A `DenseGeneral` producing dimensions `features` from the last input axis.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::DenseGeneral;
    ///
    /// let x = Tensor::new(DType::F32, [2, 16]);
    /// let layer = DenseGeneral::new([4, 8]);
    /// assert_eq!(layer.forward(&x)?.to_string(), "float32[2,4,8]"); // several output axes: kernel [16, 4, 8]
    /// let total = tabulate(&layer).run(|l| l.forward(&x))?.total();
    /// assert_eq!((total.count, total.bytes), (544, 2176)); // as Flax 0.12.8 counts them
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn new(features: impl Into<Vec<usize>>) -> DenseGeneral {
        DenseGeneral {
            features: features.into(),
            axis: vec![-1],
            batch_dims: Vec::new(),
            use_bias: true,
            dtype: None,
            param_dtype: DType::F32,
            kernel_init: initializers::lecun_normal(),
            bias_init: initializers::zeros(),
            identity: ModuleIdentity::new(),
        }
    }

    /// Sets the contracted input axes.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::DenseGeneral;
    ///
    /// let x = Tensor::new(DType::F32, [2, 5, 16]);
    /// let layer = DenseGeneral::new([10]).axis([-2, -1]);
    /// assert_eq!(layer.forward(&x)?.to_string(), "float32[2,10]"); // contracts the last two axes: kernel [5, 16, 10]
    /// let total = tabulate(&layer).run(|l| l.forward(&x))?.total();
    /// assert_eq!((total.count, total.bytes), (810, 3240)); // as Flax 0.12.8 counts them
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    #[must_use]
    pub fn axis(mut self, axis: impl Into<Vec<isize>>) -> DenseGeneral {
        self.axis = axis.into();
        self
    }

    /// Sets the batch axes.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::DenseGeneral;
    ///
    /// let x = Tensor::new(DType::F32, [3, 5, 16]);
    /// let layer = DenseGeneral::new([6]).batch_dims([0]);
    /// assert_eq!(layer.forward(&x)?.to_string(), "float32[3,5,6]"); // one kernel per index of axis 0: kernel [3, 16, 6]
    /// let total = tabulate(&layer).run(|l| l.forward(&x))?.total();
    /// assert_eq!((total.count, total.bytes), (306, 1224)); // as Flax 0.12.8 counts them
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    #[must_use]
    pub fn batch_dims(mut self, batch_dims: impl Into<Vec<isize>>) -> DenseGeneral {
        self.batch_dims = batch_dims.into();
        self
    }

    /// Sets whether to add a bias.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::DenseGeneral;
    ///
    /// let x = Tensor::new(DType::F32, [2, 16]);
    /// let layer = DenseGeneral::new([4, 8]).use_bias(false);
    /// assert_eq!(layer.forward(&x)?.to_string(), "float32[2,4,8]");
    /// let total = tabulate(&layer).run(|l| l.forward(&x))?.total();
    /// assert_eq!((total.count, total.bytes), (512, 2048)); // as Flax 0.12.8 counts them
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    #[must_use]
    pub fn use_bias(mut self, use_bias: bool) -> DenseGeneral {
        self.use_bias = use_bias;
        self
    }

    /// Sets the dtype of the computation.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::DenseGeneral;
    ///
    /// let x = Tensor::new(DType::F32, [2, 16]);
    /// let layer = DenseGeneral::new([4, 8]).dtype(DType::F16);
    /// assert_eq!(layer.forward(&x)?.to_string(), "float16[2,4,8]");
    /// let total = tabulate(&layer).run(|l| l.forward(&x))?.total();
    /// assert_eq!((total.count, total.bytes), (544, 2176)); // as Flax 0.12.8 counts them
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    #[must_use]
    pub fn dtype(mut self, dtype: DType) -> DenseGeneral {
        self.dtype = Some(dtype);
        self
    }

    /// Sets the dtype of the parameters.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::DenseGeneral;
    ///
    /// let x = Tensor::new(DType::F32, [2, 16]);
    /// let layer = DenseGeneral::new([4, 8]).param_dtype(DType::BF16);
    /// assert_eq!(layer.forward(&x)?.to_string(), "float32[2,4,8]");
    /// let total = tabulate(&layer).run(|l| l.forward(&x))?.total();
    /// assert_eq!((total.count, total.bytes), (544, 1088)); // as Flax 0.12.8 counts them
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    #[must_use]
    pub fn param_dtype(mut self, dtype: DType) -> DenseGeneral {
        self.param_dtype = dtype;
        self
    }

    /// Applies the layer.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::DenseGeneral;
    ///
    /// let x = Tensor::new(DType::F32, [4, 7, 5]);
    /// let layer = DenseGeneral::new([2, 3]).axis([-1]);
    /// assert_eq!(layer.forward(&x)?.to_string(), "float32[4,7,2,3]");
    /// let total = tabulate(&layer).run(|l| l.forward(&x))?.total();
    /// assert_eq!((total.count, total.bytes), (36, 144)); // as Flax 0.12.8 counts them
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        module_call(self, "forward", |args| args.positional(x), || self.apply(x))
    }

    fn apply(&self, x: &Tensor) -> Result<Tensor> {
        let axes = normalize_axes(&self.axis, x.rank(), "DenseGeneral axis")?;
        let batch = normalize_axes(&self.batch_dims, x.rank(), "DenseGeneral batch_dims")?;
        if batch.iter().enumerate().any(|(i, &b)| i != b) {
            return Err(Error::invalid(format!(
                "batch_dims {:?} must be consecutive leading dimensions starting from 0",
                self.batch_dims
            )));
        }
        if let Some(a) = axes.iter().find(|a| batch.contains(a)) {
            return Err(Error::invalid(format!(
                "DenseGeneral: axis {:?} and batch_dims {:?} overlap (both contain dimension {a} of {x})",
                self.axis, self.batch_dims
            )));
        }
        let dims = x.shape().dims();
        let batch_shape: Vec<usize> = batch.iter().map(|&a| dims[a]).collect();
        let mut kernel_shape = batch_shape.clone();
        kernel_shape.extend(axes.iter().map(|&a| dims[a]));
        kernel_shape.extend(&self.features);
        let kernel = param_with("kernel", &self.kernel_init, self.param_dtype, kernel_shape)?;
        let bias = if self.use_bias {
            let mut shape = batch_shape.clone();
            shape.extend(&self.features);
            Some(param_with(
                "bias",
                &self.bias_init,
                self.param_dtype,
                shape,
            )?)
        } else {
            None
        };
        let dtype = promote_dtype(self.dtype, &[Some(x), Some(&kernel), bias.as_ref()], true);
        let x = x.astype(dtype)?;
        let kernel = kernel.astype(dtype)?;
        let bias = bias.map(|b| b.astype(dtype)).transpose()?;
        let nb = batch.len();
        let out = lax::dot_general(
            &x,
            &kernel,
            DotDims {
                lhs_contracting: axes.clone().into(),
                rhs_contracting: (nb..nb + axes.len()).collect(),
                lhs_batch: batch.clone().into(),
                rhs_batch: (0..nb).collect(),
            },
        )?;
        match bias {
            Some(bias) => {
                let mut shape: Vec<usize> = (0..x.rank())
                    .filter(|a| !axes.contains(a))
                    .map(|a| if batch.contains(&a) { dims[a] } else { 1 })
                    .collect();
                shape.extend(&self.features);
                out.add(&bias.reshape(Shape::new(shape))?)
            }
            None => Ok(out),
        }
    }
}

layer_common!(DenseGeneral, "DenseGeneral", "DenseGeneral::new([4])");

impl DenseGeneral {
    /// Sets the initialiser of `kernel` (Flax's `kernel_init=`).
    ///
    /// ```
    /// use tabulate::nn::{initializers, with_partitioning, DenseGeneral};
    ///
    /// let init = with_partitioning(initializers::lecun_normal(), ["a", "b"]);
    /// let layer = DenseGeneral::new([2, 3]).kernel_init(init.clone());
    /// assert_eq!(layer.kernel_init, init);
    /// ```
    #[must_use]
    pub fn kernel_init(mut self, init: Initializer) -> DenseGeneral {
        self.kernel_init = init;
        self
    }
    /// Sets the initialiser of `bias` (Flax's `bias_init=`).
    ///
    /// ```
    /// use tabulate::nn::{initializers, with_partitioning, DenseGeneral};
    ///
    /// let init = with_partitioning(initializers::lecun_normal(), ["a", "b"]);
    /// let layer = DenseGeneral::new([2, 3]).bias_init(init.clone());
    /// assert_eq!(layer.bias_init, init);
    /// ```
    #[must_use]
    pub fn bias_init(mut self, init: Initializer) -> DenseGeneral {
        self.bias_init = init;
        self
    }
}

/// Sorted, distinct, non-negative axes (`_normalize_axes`).
pub(crate) fn normalize_axes(axes: &[isize], rank: usize, what: &str) -> Result<Vec<usize>> {
    let mut out = Vec::with_capacity(axes.len());
    for &a in axes {
        let axis = normalize_axis(a, rank).ok_or_else(|| {
            Error::invalid(format!("{what}: axis {a} is out of range for rank {rank}"))
        })?;
        if out.contains(&axis) {
            return Err(Error::invalid(format!("{what}: axis {a} is repeated")));
        }
        out.push(axis);
    }
    Ok(out)
}

/// A learned kernel of a given shape contracted with the input by an einsum expression,
/// such as `"abc,cde->abde"`, plus a bias over the kernel's output dimensions
/// (`flax.linen.Einsum`).
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::nn::Einsum;
///
/// let layer = Einsum::new([3, 4], "ab,bc->ac");
/// let x = Tensor::new(DType::F32, [2, 3]);
/// let summary = tabulate(&layer).run(|l| l.forward(&x))?;
/// let kernel = &summary.rows[0].variables[0].own[1];
/// assert_eq!((kernel.name.as_str(), kernel.shape.dims()), ("kernel", &[3, 4][..]));
/// # Ok::<(), tabulate::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Einsum {
    /// The kernel's shape.
    pub shape: Vec<usize>,
    /// `input,kernel->output` subscripts, one letter per dimension.
    pub einsum_str: String,
    /// Whether to add a bias (default `true`).
    pub use_bias: bool,
    /// The dtype of the computation.
    pub dtype: Option<DType>,
    /// The dtype of the parameters (default `float32`).
    pub param_dtype: DType,
    /// The initialiser of `kernel` (default `lecun_normal()`); a partitioned one
    /// ([`with_partitioning`](super::with_partitioning)) names its axes.
    pub kernel_init: Initializer,
    /// The initialiser of `bias` (default `zeros`); a partitioned one
    /// ([`with_partitioning`](super::with_partitioning)) names its axes.
    pub bias_init: Initializer,
    identity: ModuleIdentity,
}

impl Einsum {
    /// An `Einsum` with a kernel of `shape` and the expression `einsum_str`.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::Einsum;
    ///
    /// let x = Tensor::new(DType::F32, [16, 11, 5]);
    /// let layer = Einsum::new([5, 3, 7], "abc,cde->abde");
    /// assert_eq!(layer.forward(&x)?.to_string(), "float32[16,11,3,7]"); // kernel [5, 3, 7], bias [3, 7]
    /// let total = tabulate(&layer).run(|l| l.forward(&x))?.total();
    /// assert_eq!((total.count, total.bytes), (126, 504)); // as Flax 0.12.8 counts them
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn new(shape: impl Into<Vec<usize>>, einsum_str: impl Into<String>) -> Einsum {
        Einsum {
            shape: shape.into(),
            einsum_str: einsum_str.into(),
            use_bias: true,
            dtype: None,
            param_dtype: DType::F32,
            kernel_init: initializers::lecun_normal(),
            bias_init: initializers::zeros(),
            identity: ModuleIdentity::new(),
        }
    }

    /// Sets whether to add a bias.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::Einsum;
    ///
    /// let x = Tensor::new(DType::F32, [16, 11, 5]);
    /// let layer = Einsum::new([5, 3, 7], "abc,cde->abde").use_bias(false);
    /// assert_eq!(layer.forward(&x)?.to_string(), "float32[16,11,3,7]");
    /// let total = tabulate(&layer).run(|l| l.forward(&x))?.total();
    /// assert_eq!((total.count, total.bytes), (105, 420)); // as Flax 0.12.8 counts them
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    #[must_use]
    pub fn use_bias(mut self, use_bias: bool) -> Einsum {
        self.use_bias = use_bias;
        self
    }

    /// Applies the layer.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::Einsum;
    ///
    /// let x = Tensor::new(DType::F32, [16, 11, 5]);
    /// let layer = Einsum::new([5, 3, 7], "abc,cde->abde");
    /// assert_eq!(layer.forward(&x)?.to_string(), "float32[16,11,3,7]");
    /// let total = tabulate(&layer).run(|l| l.forward(&x))?.total();
    /// assert_eq!((total.count, total.bytes), (126, 504)); // as Flax 0.12.8 counts them
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        module_call(self, "forward", |args| args.positional(x), || self.apply(x))
    }

    fn apply(&self, x: &Tensor) -> Result<Tensor> {
        let spec: String = self
            .einsum_str
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        let (inputs, output) = spec.split_once("->").ok_or_else(|| {
            Error::invalid(format!(
                "Einsum needs an explicit output: {:?}",
                self.einsum_str
            ))
        })?;
        let (lhs, rhs) = inputs
            .split_once(',')
            .filter(|(_, r)| !r.contains(','))
            .ok_or_else(|| {
                Error::invalid(format!(
                    "Einsum needs exactly two operands: {:?}",
                    self.einsum_str
                ))
            })?;
        let kernel = param_with(
            "kernel",
            &self.kernel_init,
            self.param_dtype,
            self.shape.clone(),
        )?;
        let bias = if self.use_bias {
            // Flax calls its method `self._get_bias_shape(einsum_str, inputs, kernel)`, a
            // call of the module (a repeated row with `show_repeated`).
            let (bias_shape, broadcast) = module_call(
                self,
                "_get_bias_shape",
                |args| {
                    args.positional(spec.as_str());
                    args.positional(x);
                    args.positional(&kernel);
                },
                || Ok::<_, Error>(bias_shape(rhs, output, &self.shape)),
            )?;
            Some((
                param_with("bias", &self.bias_init, self.param_dtype, bias_shape)?,
                broadcast,
            ))
        } else {
            None
        };
        let dtype = promote_dtype(
            self.dtype,
            &[Some(x), Some(&kernel), bias.as_ref().map(|(b, _)| b)],
            true,
        );
        let x = x.astype(dtype)?;
        let kernel = kernel.astype(dtype)?;
        let y = einsum2(lhs, rhs, output, &x, &kernel)?;
        match bias {
            Some((b, broadcast)) => y.add(&b.astype(dtype)?.reshape(Shape::new(broadcast))?),
            None => Ok(y),
        }
    }
}

layer_common!(
    Einsum,
    "Einsum",
    "Einsum::new([5, 3, 7], \"abc,cde->abde\")"
);

impl Einsum {
    /// Sets the initialiser of `kernel` (Flax's `kernel_init=`).
    ///
    /// ```
    /// use tabulate::nn::{initializers, with_partitioning, Einsum};
    ///
    /// let init = with_partitioning(initializers::lecun_normal(), ["a", "b"]);
    /// let layer = Einsum::new([3, 4], "ab,bc->ac").kernel_init(init.clone());
    /// assert_eq!(layer.kernel_init, init);
    /// ```
    #[must_use]
    pub fn kernel_init(mut self, init: Initializer) -> Einsum {
        self.kernel_init = init;
        self
    }
    /// Sets the initialiser of `bias` (Flax's `bias_init=`).
    ///
    /// ```
    /// use tabulate::nn::{initializers, with_partitioning, Einsum};
    ///
    /// let init = with_partitioning(initializers::lecun_normal(), ["a", "b"]);
    /// let layer = Einsum::new([3, 4], "ab,bc->ac").bias_init(init.clone());
    /// assert_eq!(layer.bias_init, init);
    /// ```
    #[must_use]
    pub fn bias_init(mut self, init: Initializer) -> Einsum {
        self.bias_init = init;
        self
    }
}

/// Flax's `Einsum._get_bias_shape`: for each output letter that names a kernel dimension,
/// in output order, that dimension (the bias shape), and the output's rank with ones
/// elsewhere (the broadcast shape).
fn bias_shape(rhs: &str, output: &str, shape: &[usize]) -> (Vec<usize>, Vec<usize>) {
    let kernel_dim = |c: char| {
        rhs.chars()
            .position(|r| r == c)
            .map(|i| shape.get(i).copied().unwrap_or(1))
    };
    let mut bias = Vec::new();
    let broadcast = output
        .chars()
        .map(|c| match kernel_dim(c) {
            Some(size) => {
                bias.push(size);
                size
            }
            None => 1,
        })
        .collect();
    (bias, broadcast)
}

/// `jnp.einsum` of two operands as JAX contracts them: a `dot_general` with the shared
/// letters as batch (in the output's order) or contracted dimensions, then a transpose
/// to the output's order. JAX tries `dot_general(a, b)` first and keeps it when its
/// result is already in the output's order; otherwise it contracts `dot_general(b, a)`,
/// which decides the order XLA visits the operands in.
pub(crate) fn einsum2(lhs: &str, rhs: &str, out: &str, a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let (lc, rc, oc): (Vec<char>, Vec<char>, Vec<char>) = (
        lhs.chars().collect(),
        rhs.chars().collect(),
        out.chars().collect(),
    );
    if lc.len() != a.rank() || rc.len() != b.rank() {
        return Err(Error::shape(
            "dot_general",
            format!("einsum {lhs},{rhs}->{out} does not match the operands {a} and {b}"),
        ));
    }
    for &c in &lc {
        if !rc.contains(&c) && !oc.contains(&c) {
            return Err(Error::invalid(format!(
                "einsum letter {c:?} appears only in the input and is not summed here"
            )));
        }
    }
    if rc.iter().any(|&c| !lc.contains(&c) && !oc.contains(&c)) {
        return Err(Error::invalid(format!(
            "einsum {lhs},{rhs}->{out}: a kernel letter appears nowhere else"
        )));
    }
    let batch: Vec<char> = oc
        .iter()
        .copied()
        .filter(|c| lc.contains(c) && rc.contains(c))
        .collect();
    let mut contracted: Vec<char> = lc
        .iter()
        .copied()
        .filter(|c| rc.contains(c) && !oc.contains(c))
        .collect();
    contracted.sort_unstable();
    let free = |s: &[char], other: &[char]| -> Vec<char> {
        s.iter().copied().filter(|c| !other.contains(c)).collect()
    };
    let (a_free, b_free) = (free(&lc, &rc), free(&rc, &lc));
    let straight: Vec<char> = batch
        .iter()
        .chain(&a_free)
        .chain(&b_free)
        .copied()
        .collect();
    let ((x, xc), (y, yc)) = if straight == oc {
        ((a, &lc), (b, &rc))
    } else {
        ((b, &rc), (a, &lc))
    };
    let pos = |s: &[char], c: char| s.iter().position(|&x| x == c);
    let mut dims = DotDims::default();
    for &c in &batch {
        dims.lhs_batch.extend(pos(xc, c));
        dims.rhs_batch.extend(pos(yc, c));
    }
    for &c in &contracted {
        dims.lhs_contracting.extend(pos(xc, c));
        dims.rhs_contracting.extend(pos(yc, c));
    }
    let result = lax::dot_general(x, y, dims)?;
    // dot_general's output order: batch letters, lhs free letters, rhs free letters.
    let mut order = batch.clone();
    order.extend(free(xc, yc));
    order.extend(free(yc, xc));
    if order == oc {
        return Ok(result);
    }
    let perm = oc
        .iter()
        .map(|&c| {
            pos(&order, c).ok_or_else(|| {
                Error::invalid(format!("einsum output letter {c:?} is not in an operand"))
            })
        })
        .collect::<Result<Vec<usize>>>()?;
    result.transpose(&perm)
}

/// A lookup table of `num_embeddings` vectors of `features` (`flax.linen.Embed`); its
/// parameter is `embedding: [num_embeddings, features]`.
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::nn::Embed;
///
/// let embed = Embed::new(1000, 64);
/// let tokens = Tensor::new(DType::I32, [2, 16]);
/// let summary = tabulate(&embed).run(|e| e.forward(&tokens))?;
/// assert_eq!(summary.total().count, 1000 * 64); // `embedding`
/// // `attend`: the tied output projection, logits over the vocabulary.
/// let hidden = Tensor::new(DType::F32, [2, 16, 64]);
/// let summary = tabulate(&embed).run(|e| e.attend(&hidden))?;
/// assert_eq!(summary.rows[0].method, "attend");
/// # Ok::<(), tabulate::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Embed {
    /// Table size (vocabulary size).
    pub num_embeddings: usize,
    /// Vector size.
    pub features: usize,
    /// The dtype of the computation (default: the embedding's).
    pub dtype: Option<DType>,
    /// The dtype of the parameters (default `float32`).
    pub param_dtype: DType,
    /// The initialiser of `embedding` (default `variance_scaling(1.0, 'fan_in', 'normal', out_axis=0)`); a partitioned one
    /// ([`with_partitioning`](super::with_partitioning)) names its axes.
    pub embedding_init: Initializer,
    identity: ModuleIdentity,
}

impl Embed {
    /// An embedding table of `num_embeddings` vectors of `features`.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::Embed;
    ///
    /// let ids = Tensor::new(DType::I32, [2, 7]);
    /// let layer = Embed::new(1000, 64);
    /// assert_eq!(layer.forward(&ids)?.to_string(), "float32[2,7,64]");
    /// let total = tabulate(&layer).run(|l| l.forward(&ids))?.total();
    /// assert_eq!((total.count, total.bytes), (64_000, 256_000)); // as Flax 0.12.8 counts them
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn new(num_embeddings: usize, features: usize) -> Embed {
        Embed {
            num_embeddings,
            features,
            dtype: None,
            param_dtype: DType::F32,
            embedding_init: initializers::variance_scaling(1.0, "fan_in", "normal"),
            identity: ModuleIdentity::new(),
        }
    }

    /// Sets the dtype of the computation.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::Embed;
    ///
    /// let ids = Tensor::new(DType::I32, [2, 7]);
    /// let layer = Embed::new(1000, 64).dtype(DType::BF16);
    /// assert_eq!(layer.forward(&ids)?.to_string(), "bfloat16[2,7,64]");
    /// let total = tabulate(&layer).run(|l| l.forward(&ids))?.total();
    /// assert_eq!((total.count, total.bytes), (64_000, 256_000)); // as Flax 0.12.8 counts them
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    #[must_use]
    pub fn dtype(mut self, dtype: DType) -> Embed {
        self.dtype = Some(dtype);
        self
    }

    /// Sets the dtype of the parameters.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::Embed;
    ///
    /// let ids = Tensor::new(DType::I32, [2, 7]);
    /// let layer = Embed::new(1000, 64).param_dtype(DType::BF16);
    /// assert_eq!(layer.forward(&ids)?.to_string(), "bfloat16[2,7,64]");
    /// let total = tabulate(&layer).run(|l| l.forward(&ids))?.total();
    /// assert_eq!((total.count, total.bytes), (64_000, 128_000)); // as Flax 0.12.8 counts them
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    #[must_use]
    pub fn param_dtype(mut self, dtype: DType) -> Embed {
        self.param_dtype = dtype;
        self
    }

    fn embedding(&self) -> Result<Tensor> {
        if self.num_embeddings == 0 {
            return Err(Error::invalid(
                "Embed: num_embeddings must be at least 1, got 0",
            ));
        }
        param_with(
            "embedding",
            &self.embedding_init,
            self.param_dtype,
            [self.num_embeddings, self.features],
        )
    }

    /// Looks up integer `indices`: the output is `indices`' shape plus `[features]`;
    /// out-of-range indices read NaN, as in Flax (`jnp.take` in `fill` mode).
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::Embed;
    ///
    /// let ids = Tensor::new(DType::I32, [2, 7]);
    /// let layer = Embed::new(50257, 768);
    /// assert_eq!(layer.forward(&ids)?.to_string(), "float32[2,7,768]");
    /// let total = tabulate(&layer).run(|l| l.forward(&ids))?.total();
    /// assert_eq!((total.count, total.bytes), (38_597_376, 154_389_504)); // as Flax 0.12.8 counts them
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn forward(&self, indices: &Tensor) -> Result<Tensor> {
        module_call(
            self,
            "forward",
            |args| args.positional(indices),
            || {
                if !indices.dtype().is_integer() {
                    return Err(Error::invalid(format!(
                        "Embed needs integer indices, got {indices} (Flax: Input type must be an integer or unsigned integer)"
                    )));
                }
                let table = self.embedding()?;
                let dtype = self.dtype.unwrap_or(table.dtype());
                let table = table.astype(dtype)?;
                if self.num_embeddings == 1 {
                    let mut shape = indices.shape().dims().to_vec();
                    shape.push(self.features);
                    return table.broadcast_to(Shape::new(shape));
                }
                lax::take_rows(&table, indices)
            },
        )
    }

    /// The inner products of `query` (`[..., features]`) with every embedding
    /// (`[..., num_embeddings]`), for weight-tied output layers.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::Embed;
    ///
    /// let x = Tensor::new(DType::F32, [2, 7, 64]);
    /// let layer = Embed::new(1000, 64);
    /// assert_eq!(layer.attend(&x)?.to_string(), "float32[2,7,1000]");
    /// let total = tabulate(&layer).run(|l| l.attend(&x))?.total();
    /// assert_eq!((total.count, total.bytes), (64_000, 256_000)); // as Flax 0.12.8 counts them
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn attend(&self, query: &Tensor) -> Result<Tensor> {
        module_call(
            self,
            "attend",
            |args| args.positional(query),
            || {
                let table = self.embedding()?;
                let dtype = promote_dtype(self.dtype, &[Some(query), Some(&table)], true);
                let query = query.astype(dtype)?;
                let table = table.astype(dtype)?;
                query.matmul(&table.transpose(&[1, 0])?)
            },
        )
    }
}

layer_common!(Embed, "Embed", "Embed::new(1000, 64)");

impl Embed {
    /// Sets the initialiser of `embedding` (Flax's `embedding_init=`).
    ///
    /// ```
    /// use tabulate::nn::{initializers, with_partitioning, Embed};
    ///
    /// let init = with_partitioning(initializers::lecun_normal(), ["a", "b"]);
    /// let layer = Embed::new(10, 4).embedding_init(init.clone());
    /// assert_eq!(layer.embedding_init, init);
    /// ```
    #[must_use]
    pub fn embedding_init(mut self, init: Initializer) -> Embed {
        self.embedding_init = init;
        self
    }
}
