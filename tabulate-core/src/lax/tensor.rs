//! The operations of [`Tensor`]: methods that follow `jax.numpy` (dtype promotion,
//! broadcasting, `-1` in reshapes) and apply the same primitives in the same order, so
//! their costs match what Flax measures.

use crate::dtype::{DType, DTypeKind};
use crate::error::{Error, Result};
use crate::lax::{self, Binary, Cmp, DotDims, ReduceOp, Unary};
use crate::shape::{Shape, normalize_axis};
use crate::spec::Spec;
use crate::tensor::Tensor;

impl Tensor {
    /// An array of zeros (a constant, like `jnp.zeros`).
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// let mask = Tensor::zeros(DType::Bool, [4, 4])?;
    /// let ramp = Tensor::arange(8, DType::I32)?;
    /// let filled = Tensor::full(0.5, DType::F16, [2])?;
    /// assert_eq!((mask.to_string(), ramp.to_string(), filled.to_string()), ("bool[4,4]".into(), "int32[8]".into(), "float16[2]".into()));
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn zeros(dtype: DType, shape: impl Into<Shape>) -> Result<Tensor> {
        let _operation = crate::scope::operation("Tensor::zeros");
        Tensor::full(0.0, dtype, shape)
    }

    /// An array of ones (a constant, like `jnp.ones`).
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// assert_eq!(Tensor::ones(DType::F32, [3, 4])?.to_string(), "float32[3,4]");
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn ones(dtype: DType, shape: impl Into<Shape>) -> Result<Tensor> {
        let _operation = crate::scope::operation("Tensor::ones");
        Tensor::full(1.0, dtype, shape)
    }

    /// An array whose elements all equal `value` (a constant, like `jnp.full`).
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// assert_eq!(Tensor::full(-1e9, DType::F32, [1, 1, 8, 8])?.to_string(), "float32[1,1,8,8]");
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn full(value: f64, dtype: DType, shape: impl Into<Shape>) -> Result<Tensor> {
        let _operation = crate::scope::operation("Tensor::full");
        lax::constant(value, Spec::new(dtype, shape))
    }

    /// `0, 1, …, n-1` (like `jnp.arange(n)`).
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// assert_eq!(Tensor::arange(16, DType::F32)?.to_string(), "float32[16]");
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn arange(n: usize, dtype: DType) -> Result<Tensor> {
        let _operation = crate::scope::operation("Tensor::arange");
        lax::iota(dtype, Shape::new([n]), 0)
    }

    fn axis(&self, axis: isize, op: &'static str) -> Result<usize> {
        normalize_axis(axis, self.rank())
            .ok_or_else(|| Error::shape(op, format!("axis {axis} is out of range for {self}")))
    }

    fn axes(&self, axes: &[isize], op: &'static str) -> Result<Vec<usize>> {
        let mut out = axes
            .iter()
            .map(|&a| self.axis(a, op))
            .collect::<Result<Vec<_>>>()?;
        out.sort_unstable();
        if out.windows(2).any(|w| w[0] == w[1]) {
            return Err(Error::shape(op, format!("repeated axis in {axes:?}")));
        }
        Ok(out)
    }

    // ------------------------------------------------------------ elementwise

    /// `jnp.add`: promotes dtypes and broadcasts shapes.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// let x = Tensor::new(DType::F32, [8, 1, 3]);
    /// let y = Tensor::new(DType::F32, [5, 3]);
    /// assert_eq!(x.add(&y)?.shape().dims(), [8, 5, 3]); // numpy broadcasting
    /// assert_eq!(x.add(2)?.dtype(), DType::F32); // a Python scalar: weakly typed
    /// let i = Tensor::new(DType::I8, [3]);
    /// assert_eq!(i.add(&Tensor::new(DType::U8, [3]))?.dtype(), DType::I16);
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn add(&self, other: impl Operand) -> Result<Tensor> {
        let _operation = crate::scope::operation("Tensor::add");
        self.binary(Binary::Add, other)
    }

    /// `jnp.subtract`.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// let ids = Tensor::new(DType::I32, [3]);
    /// assert_eq!(ids.sub(1.5)?.to_string(), "float32[3]");
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn sub(&self, other: impl Operand) -> Result<Tensor> {
        let _operation = crate::scope::operation("Tensor::sub");
        self.binary(Binary::Sub, other)
    }

    /// `jnp.multiply`.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// let x = Tensor::new(DType::F16, [2, 3]);
    /// let scale = Tensor::new(DType::F32, [3]);
    /// assert_eq!(x.mul(&scale)?.to_string(), "float32[2,3]");
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn mul(&self, other: impl Operand) -> Result<Tensor> {
        let _operation = crate::scope::operation("Tensor::mul");
        self.binary(Binary::Mul, other)
    }

    /// `jnp.true_divide` (integers are divided as floats).
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// let counts = Tensor::new(DType::I32, [4]);
    /// assert_eq!(counts.div(&counts)?.to_string(), "float32[4]");
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn div(&self, other: impl Operand) -> Result<Tensor> {
        let _operation = crate::scope::operation("Tensor::div");
        let (a, b) = promote(self, other)?;
        let (a, b) = if a.dtype().is_inexact() {
            (a, b)
        } else {
            (lax::convert(&a, DType::F32)?, lax::convert(&b, DType::F32)?)
        };
        let (a, b) = broadcast_ranks(&a, &b)?;
        lax::binary(Binary::Div, &a, &b)
    }

    /// `jnp.maximum`.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// let x = Tensor::new(DType::BF16, [8]);
    /// assert_eq!(x.maximum(0.0)?.to_string(), "bfloat16[8]");
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn maximum(&self, other: impl Operand) -> Result<Tensor> {
        let _operation = crate::scope::operation("Tensor::maximum");
        self.binary(Binary::Max, other)
    }

    /// `jnp.minimum`.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// let a = Tensor::new(DType::U8, [5]);
    /// let b = Tensor::new(DType::I8, [5]);
    /// assert_eq!(a.minimum(&b)?.to_string(), "int16[5]");
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn minimum(&self, other: impl Operand) -> Result<Tensor> {
        let _operation = crate::scope::operation("Tensor::minimum");
        self.binary(Binary::Min, other)
    }

    /// `jnp.power` with a float exponent (`lax.pow`).
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// let x = Tensor::new(DType::F32, [3]);
    /// assert_eq!(x.pow(2.5)?.to_string(), "float32[3]");
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn pow(&self, exponent: impl Operand) -> Result<Tensor> {
        let _operation = crate::scope::operation("Tensor::pow");
        self.binary(Binary::Pow, exponent)
    }

    /// `x ** n` for an integer `n` (`lax.integer_pow`). As in JAX, a boolean operand, and
    /// an integer one with a negative `n`, are errors.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// let x = Tensor::new(DType::BF16, [2, 3]);
    /// assert_eq!(x.powi(3)?.to_string(), "bfloat16[2,3]");
    /// assert!(Tensor::new(DType::I32, [2]).powi(-1).is_err());
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn powi(&self, n: i32) -> Result<Tensor> {
        let _operation = crate::scope::operation("Tensor::powi");
        if n == i32::MIN {
            // Its derivative, n·x^(n−1), has an exponent no `i32` holds.
            return Err(Error::shape(
                "integer_pow",
                format!(
                    "the exponent {n} is out of range (its derivative's exponent does not fit in 32 bits)"
                ),
            ));
        }
        lax::integer_pow(self, n)
    }

    fn binary(&self, op: Binary, other: impl Operand) -> Result<Tensor> {
        let (a, b) = promote(self, other)?;
        let (a, b) = broadcast_ranks(&a, &b)?;
        lax::binary(op, &a, &b)
    }

    fn compare(&self, op: Cmp, other: impl Operand) -> Result<Tensor> {
        let (a, b) = promote(self, other)?;
        let (a, b) = broadcast_ranks(&a, &b)?;
        lax::compare(op, &a, &b)
    }

    /// `jnp.equal`.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// let a = Tensor::new(DType::F32, [4, 1]);
    /// let b = Tensor::new(DType::F32, [1, 5]);
    /// assert_eq!(a.equal(&b)?.to_string(), "bool[4,5]");
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn equal(&self, other: impl Operand) -> Result<Tensor> {
        let _operation = crate::scope::operation("Tensor::equal");
        self.compare(Cmp::Eq, other)
    }

    /// `jnp.not_equal`.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// let ids = Tensor::new(DType::I32, [2, 7]);
    /// assert_eq!(ids.not_equal(0)?.to_string(), "bool[2,7]");
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn not_equal(&self, other: impl Operand) -> Result<Tensor> {
        let _operation = crate::scope::operation("Tensor::not_equal");
        self.compare(Cmp::Ne, other)
    }

    /// `jnp.less`.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// let x = Tensor::new(DType::F32, [3]);
    /// assert_eq!(x.less(1.0)?.to_string(), "bool[3]");
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn less(&self, other: impl Operand) -> Result<Tensor> {
        let _operation = crate::scope::operation("Tensor::less");
        self.compare(Cmp::Lt, other)
    }

    /// `jnp.less_equal`.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// let i = Tensor::new(DType::I32, [4, 1]);
    /// let j = Tensor::new(DType::I32, [1, 4]);
    /// assert_eq!(i.less_equal(&j)?.to_string(), "bool[4,4]");
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn less_equal(&self, other: impl Operand) -> Result<Tensor> {
        let _operation = crate::scope::operation("Tensor::less_equal");
        self.compare(Cmp::Le, other)
    }

    /// `jnp.greater`.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// let x = Tensor::new(DType::F16, [2]);
    /// assert_eq!(x.greater(0.0)?.to_string(), "bool[2]");
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn greater(&self, other: impl Operand) -> Result<Tensor> {
        let _operation = crate::scope::operation("Tensor::greater");
        self.compare(Cmp::Gt, other)
    }

    /// `jnp.greater_equal`.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// let x = Tensor::new(DType::U8, [6]);
    /// assert_eq!(x.greater_equal(128)?.to_string(), "bool[6]");
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn greater_equal(&self, other: impl Operand) -> Result<Tensor> {
        let _operation = crate::scope::operation("Tensor::greater_equal");
        self.compare(Cmp::Ge, other)
    }

    fn unary_inexact(&self, op: Unary) -> Result<Tensor> {
        let x = if self.dtype().is_inexact() {
            self.clone()
        } else {
            lax::convert(self, DType::F32)?
        };
        lax::unary(op, &x)
    }

    /// `jnp.negative`.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// let x = Tensor::new(DType::I8, [3]);
    /// assert_eq!(x.neg()?.to_string(), "int8[3]");
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn neg(&self) -> Result<Tensor> {
        let _operation = crate::scope::operation("Tensor::neg");
        lax::unary(Unary::Neg, self)
    }

    /// `jnp.abs`.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// let x = Tensor::new(DType::F32, [2, 2]);
    /// assert_eq!(x.abs()?.to_string(), "float32[2,2]");
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn abs(&self) -> Result<Tensor> {
        let _operation = crate::scope::operation("Tensor::abs");
        lax::unary(Unary::Abs, self)
    }

    /// `jnp.square` (`lax.square`: one multiply).
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// let x = Tensor::new(DType::I32, [3]);
    /// assert_eq!(x.square()?.to_string(), "int32[3]");
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn square(&self) -> Result<Tensor> {
        let _operation = crate::scope::operation("Tensor::square");
        lax::unary(Unary::Square, self)
    }

    /// `jnp.exp`.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// let x = Tensor::new(DType::BF16, [2, 3]);
    /// assert_eq!(x.exp()?.dtype(), DType::BF16);
    /// assert_eq!(x.neg()?.abs()?.sqrt()?.shape().dims(), [2, 3]);
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn exp(&self) -> Result<Tensor> {
        let _operation = crate::scope::operation("Tensor::exp");
        self.unary_inexact(Unary::Exp)
    }

    /// `jnp.log`.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// let counts = Tensor::new(DType::I32, [5]);
    /// assert_eq!(counts.log()?.to_string(), "float32[5]");
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn log(&self) -> Result<Tensor> {
        let _operation = crate::scope::operation("Tensor::log");
        self.unary_inexact(Unary::Log)
    }

    /// `jnp.tanh`.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// let x = Tensor::new(DType::BF16, [4, 8]);
    /// assert_eq!(x.tanh()?.to_string(), "bfloat16[4,8]");
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn tanh(&self) -> Result<Tensor> {
        let _operation = crate::scope::operation("Tensor::tanh");
        self.unary_inexact(Unary::Tanh)
    }

    /// `jnp.sqrt`.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// let x = Tensor::new(DType::U8, [3]);
    /// assert_eq!(x.sqrt()?.to_string(), "float32[3]");
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn sqrt(&self) -> Result<Tensor> {
        let _operation = crate::scope::operation("Tensor::sqrt");
        self.unary_inexact(Unary::Sqrt)
    }

    /// `lax.rsqrt`.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// let var = Tensor::new(DType::F16, [8, 1]);
    /// assert_eq!(var.rsqrt()?.to_string(), "float16[8,1]");
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn rsqrt(&self) -> Result<Tensor> {
        let _operation = crate::scope::operation("Tensor::rsqrt");
        self.unary_inexact(Unary::Rsqrt)
    }

    /// `jax.nn.sigmoid` (`lax.logistic`).
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// let gate = Tensor::new(DType::F32, [2, 16]);
    /// assert_eq!(gate.sigmoid()?.to_string(), "float32[2,16]");
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn sigmoid(&self) -> Result<Tensor> {
        let _operation = crate::scope::operation("Tensor::sigmoid");
        self.unary_inexact(Unary::Logistic)
    }

    /// `jnp.floor` (integers are returned unchanged).
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// let x = Tensor::new(DType::F32, [3]);
    /// let i = Tensor::new(DType::I32, [3]);
    /// assert_eq!(x.floor()?.to_string(), "float32[3]");
    /// assert_eq!(i.floor()?.to_string(), "int32[3]");
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn floor(&self) -> Result<Tensor> {
        let _operation = crate::scope::operation("Tensor::floor");
        self.rounded(Unary::Floor)
    }

    /// `jnp.ceil` (integers are returned unchanged).
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// let x = Tensor::new(DType::F16, [3]);
    /// let i = Tensor::new(DType::U8, [3]);
    /// assert_eq!(x.ceil()?.to_string(), "float16[3]");
    /// assert_eq!(i.ceil()?.to_string(), "uint8[3]");
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn ceil(&self) -> Result<Tensor> {
        let _operation = crate::scope::operation("Tensor::ceil");
        self.rounded(Unary::Ceil)
    }

    /// `jnp.round`, halves to even (integers are returned unchanged).
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// let x = Tensor::new(DType::BF16, [3]);
    /// let i = Tensor::new(DType::I16, [3]);
    /// assert_eq!(x.round()?.to_string(), "bfloat16[3]");
    /// assert_eq!(i.round()?.to_string(), "int16[3]");
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn round(&self) -> Result<Tensor> {
        let _operation = crate::scope::operation("Tensor::round");
        self.rounded(Unary::Round)
    }

    fn rounded(&self, op: Unary) -> Result<Tensor> {
        if self.dtype().is_inexact() {
            lax::unary(op, self)
        } else {
            Ok(self.clone())
        }
    }

    /// `jnp.log1p`.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// let x = Tensor::new(DType::F32, [5]);
    /// assert_eq!(x.log1p()?.to_string(), "float32[5]");
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn log1p(&self) -> Result<Tensor> {
        let _operation = crate::scope::operation("Tensor::log1p");
        self.unary_inexact(Unary::Log1p)
    }

    /// `jnp.expm1`.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// let x = Tensor::new(DType::I32, [5]);
    /// assert_eq!(x.expm1()?.to_string(), "float32[5]");
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn expm1(&self) -> Result<Tensor> {
        let _operation = crate::scope::operation("Tensor::expm1");
        self.unary_inexact(Unary::Expm1)
    }

    /// `jax.scipy.special.erf` (`lax.erf`).
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// let x = Tensor::new(DType::F16, [4]);
    /// assert_eq!(x.erf()?.to_string(), "float16[4]");
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn erf(&self) -> Result<Tensor> {
        let _operation = crate::scope::operation("Tensor::erf");
        self.unary_inexact(Unary::Erf)
    }

    /// `jnp.sin` (`lax.sin`, one transcendental per element), e.g. for rotary tables.
    ///
    /// ```
    /// # use tabulate::{DType, Tensor};
    /// # fn main() -> tabulate::Result<()> {
    /// let x = Tensor::new(DType::F32, [4, 6]);
    /// assert_eq!(x.sin()?.to_string(), "float32[4,6]");
    /// # Ok(()) }
    /// ```
    pub fn sin(&self) -> Result<Tensor> {
        self.unary_inexact(Unary::Sin)
    }

    /// `jnp.cos` (`lax.cos`, one transcendental per element).
    ///
    /// ```
    /// # use tabulate::{DType, Tensor};
    /// # fn main() -> tabulate::Result<()> {
    /// let x = Tensor::new(DType::F32, [4, 6]);
    /// assert_eq!(x.cos()?.to_string(), "float32[4,6]");
    /// # Ok(()) }
    /// ```
    pub fn cos(&self) -> Result<Tensor> {
        self.unary_inexact(Unary::Cos)
    }

    /// `jnp.tan` (`lax.tan`, one transcendental per element).
    ///
    /// ```
    /// # use tabulate::{DType, Tensor};
    /// # fn main() -> tabulate::Result<()> {
    /// let x = Tensor::new(DType::F32, [4, 6]);
    /// assert_eq!(x.tan()?.to_string(), "float32[4,6]");
    /// # Ok(()) }
    /// ```
    pub fn tan(&self) -> Result<Tensor> {
        self.unary_inexact(Unary::Tan)
    }

    /// `jnp.arcsin` (`lax.asin`: XLA expands it into 5 flops and 2 transcendentals per element).
    ///
    /// ```
    /// # use tabulate::{DType, Tensor};
    /// # fn main() -> tabulate::Result<()> {
    /// let x = Tensor::new(DType::F32, [4, 6]);
    /// assert_eq!(x.arcsin()?.to_string(), "float32[4,6]");
    /// # Ok(()) }
    /// ```
    pub fn arcsin(&self) -> Result<Tensor> {
        self.unary_inexact(Unary::Asin)
    }

    /// `jnp.arccos` (`lax.acos`: 3 flops and 2 transcendentals per element).
    ///
    /// ```
    /// # use tabulate::{DType, Tensor};
    /// # fn main() -> tabulate::Result<()> {
    /// let x = Tensor::new(DType::F32, [4, 6]);
    /// assert_eq!(x.arccos()?.to_string(), "float32[4,6]");
    /// # Ok(()) }
    /// ```
    pub fn arccos(&self) -> Result<Tensor> {
        self.unary_inexact(Unary::Acos)
    }

    /// `jnp.arctan` (`lax.atan`: one `atan2` per element).
    ///
    /// ```
    /// # use tabulate::{DType, Tensor};
    /// # fn main() -> tabulate::Result<()> {
    /// let x = Tensor::new(DType::F32, [4, 6]);
    /// assert_eq!(x.arctan()?.to_string(), "float32[4,6]");
    /// # Ok(()) }
    /// ```
    pub fn arctan(&self) -> Result<Tensor> {
        self.unary_inexact(Unary::Atan)
    }

    /// `jnp.sinh` (`lax.sinh`: 10 flops and 3 transcendentals per element).
    ///
    /// ```
    /// # use tabulate::{DType, Tensor};
    /// # fn main() -> tabulate::Result<()> {
    /// let x = Tensor::new(DType::F32, [4, 6]);
    /// assert_eq!(x.sinh()?.to_string(), "float32[4,6]");
    /// # Ok(()) }
    /// ```
    pub fn sinh(&self) -> Result<Tensor> {
        self.unary_inexact(Unary::Sinh)
    }

    /// `jnp.cosh` (`lax.cosh`: 3 flops and 2 transcendentals per element).
    ///
    /// ```
    /// # use tabulate::{DType, Tensor};
    /// # fn main() -> tabulate::Result<()> {
    /// let x = Tensor::new(DType::F32, [4, 6]);
    /// assert_eq!(x.cosh()?.to_string(), "float32[4,6]");
    /// # Ok(()) }
    /// ```
    pub fn cosh(&self) -> Result<Tensor> {
        self.unary_inexact(Unary::Cosh)
    }

    /// `jnp.arcsinh` (`lax.asinh`: 11 flops and 3 transcendentals per element).
    ///
    /// ```
    /// # use tabulate::{DType, Tensor};
    /// # fn main() -> tabulate::Result<()> {
    /// let x = Tensor::new(DType::F32, [4, 6]);
    /// assert_eq!(x.arcsinh()?.to_string(), "float32[4,6]");
    /// # Ok(()) }
    /// ```
    pub fn arcsinh(&self) -> Result<Tensor> {
        self.unary_inexact(Unary::Asinh)
    }

    /// `jnp.arccosh`: `lax.acosh` (7 flops and 4 transcendentals per element) inside the nested `jit` `jnp` puts it in.
    ///
    /// ```
    /// # use tabulate::{DType, Tensor};
    /// # fn main() -> tabulate::Result<()> {
    /// let x = Tensor::new(DType::F32, [4, 6]);
    /// assert_eq!(x.arccosh()?.to_string(), "float32[4,6]");
    /// # Ok(()) }
    /// ```
    pub fn arccosh(&self) -> Result<Tensor> {
        crate::trace::call_region("arccosh", &[self], || self.unary_inexact(Unary::Acosh))
    }

    /// `jnp.arctanh` (`lax.atanh`: 6 flops and 2 transcendentals per element).
    ///
    /// ```
    /// # use tabulate::{DType, Tensor};
    /// # fn main() -> tabulate::Result<()> {
    /// let x = Tensor::new(DType::F32, [4, 6]);
    /// assert_eq!(x.arctanh()?.to_string(), "float32[4,6]");
    /// # Ok(()) }
    /// ```
    pub fn arctanh(&self) -> Result<Tensor> {
        self.unary_inexact(Unary::Atanh)
    }

    /// `jax.scipy.special.erfinv` (`lax.erf_inv`: 37 flops and 2 transcendentals per element).
    ///
    /// ```
    /// # use tabulate::{DType, Tensor};
    /// # fn main() -> tabulate::Result<()> {
    /// let x = Tensor::new(DType::F32, [4, 6]);
    /// assert_eq!(x.erf_inv()?.to_string(), "float32[4,6]");
    /// # Ok(()) }
    /// ```
    pub fn erf_inv(&self) -> Result<Tensor> {
        self.unary_inexact(Unary::ErfInv)
    }

    /// `jnp.remainder` (Python's `%`): `lax.rem`, then a fix-up so the result has the
    /// divisor's sign — eight elementwise ops, as in `jax.numpy`.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// let step = Tensor::new(DType::I32, [4]);
    /// let x = Tensor::new(DType::F32, [4]);
    /// assert_eq!(step.rem(3)?.to_string(), "int32[4]");
    /// assert_eq!(x.rem(2.0)?.to_string(), "float32[4]");
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn rem(&self, other: impl Operand) -> Result<Tensor> {
        let _operation = crate::scope::operation("Tensor::rem");
        let (a, b) = promote(self, other)?;
        let (a, b) = broadcast_ranks(&a, &b)?;
        let trunc = lax::binary(Binary::Rem, &a, &b)?;
        let zero = lax::constant(0.0, Spec::new(trunc.dtype(), Shape::scalar()))?;
        let nonzero = lax::compare(Cmp::Ne, &trunc, &zero)?;
        let zero_b = lax::constant(0.0, Spec::new(b.dtype(), Shape::scalar()))?;
        let signs_differ = lax::compare(
            Cmp::Ne,
            &lax::compare(Cmp::Lt, &trunc, &zero)?,
            &lax::compare(Cmp::Lt, &b, &zero_b)?,
        )?;
        let fix = lax::binary(Binary::And, &signs_differ, &nonzero)?;
        let shifted = lax::binary(Binary::Add, &trunc, &b)?;
        fix.select(&shifted, &trunc)
    }

    /// `jnp.logical_and` of boolean tensors.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// let a = Tensor::new(DType::Bool, [2, 3]);
    /// let b = Tensor::new(DType::Bool, [3]);
    /// assert_eq!(a.logical_and(&b)?.to_string(), "bool[2,3]");
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn logical_and(&self, other: &Tensor) -> Result<Tensor> {
        let _operation = crate::scope::operation("Tensor::logical_and");
        self.logical(Binary::And, other)
    }

    /// `jnp.logical_or` of boolean tensors.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// let a = Tensor::new(DType::Bool, [4]);
    /// let x = Tensor::new(DType::F32, [4]);
    /// assert_eq!(a.logical_or(&x)?.to_string(), "bool[4]");
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn logical_or(&self, other: &Tensor) -> Result<Tensor> {
        let _operation = crate::scope::operation("Tensor::logical_or");
        self.logical(Binary::Or, other)
    }

    fn logical(&self, op: Binary, other: &Tensor) -> Result<Tensor> {
        let a = self.astype(DType::Bool)?;
        let b = other.astype(DType::Bool)?;
        let (a, b) = broadcast_ranks(&a, &b)?;
        lax::binary(op, &a, &b)
    }

    /// `lax.stop_gradient`: the same values, with no gradient flowing back.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// let target = Tensor::new(DType::F32, [8, 10]);
    /// assert_eq!(target.stop_gradient()?.to_string(), "float32[8,10]");
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn stop_gradient(&self) -> Result<Tensor> {
        let _operation = crate::scope::operation("Tensor::stop_gradient");
        lax::stop_gradient(self)
    }

    /// `jnp.where(cond, on_true, on_false)`, with `self` as `cond`. Like `jnp.where` (a
    /// nested `jit`), a non-boolean condition is compared with zero first.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// let x = Tensor::new(DType::F32, [4, 4]);
    /// let positive = x.greater(0.0)?; // bool[4,4]
    /// let y = positive.select(&x, &x.mul(0.01)?)?; // leaky ReLU
    /// assert_eq!(y.to_string(), "float32[4,4]");
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn select(&self, on_true: &Tensor, on_false: &Tensor) -> Result<Tensor> {
        let _operation = crate::scope::operation("Tensor::select");
        crate::trace::call_region("_where", &[self, on_true, on_false], || {
            let cond = if self.dtype() == DType::Bool {
                self.clone()
            } else {
                let zero = lax::constant(0.0, Spec::new(self.dtype(), Shape::scalar()))?;
                lax::compare(Cmp::Ne, self, &zero)?
            };
            let (t, f) = promote(on_true, on_false)?;
            let shape = cond
                .shape()
                .broadcast(t.shape())
                .and_then(|s| s.broadcast(f.shape()))
                .ok_or_else(|| {
                    Error::shape(
                        "select_n",
                        format!("cannot broadcast {cond}, {t} and {f} together"),
                    )
                })?;
            let cond = cond.broadcast_to(shape.clone())?;
            let t = t.broadcast_to(shape.clone())?;
            let f = f.broadcast_to(shape)?;
            lax::select_n(&cond, &f, &t)
        })
    }

    /// `x.astype(dtype)` (`convert_element_type`; free when the dtype is already `dtype`).
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// let ids = Tensor::new(DType::I32, [2, 7]);
    /// assert_eq!(ids.astype(DType::F32)?.to_string(), "float32[2,7]");
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn astype(&self, dtype: DType) -> Result<Tensor> {
        let _operation = crate::scope::operation("Tensor::astype");
        lax::convert(self, dtype)
    }

    /// `jnp.matmul` (`@`): matrix products over the last two dimensions, batch
    /// dimensions broadcast; a vector operand is treated as a row or column. Emits what
    /// `jnp.matmul` emits: one `dot_general` whose batch dimensions are those both operands
    /// have (size-1 ones squeezed), the others left as free dimensions, then a `transpose`
    /// into numpy's order when needed (never a broadcast).
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// let q = Tensor::new(DType::F32, [2, 8, 5, 16]);
    /// let k = Tensor::new(DType::F32, [2, 8, 16, 7]);
    /// assert_eq!(q.matmul(&k)?.shape().dims(), [2, 8, 5, 7]); // batched, as jnp.matmul
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn matmul(&self, other: &Tensor) -> Result<Tensor> {
        let _operation = crate::scope::operation("Tensor::matmul");
        let (a, b) = promote(self, other)?;
        if a.rank() == 0 || b.rank() == 0 {
            return Err(Error::shape(
                "dot_general",
                format!("matmul needs operands of rank 1 or more: {a} × {b}"),
            ));
        }
        let contract = |lhs: usize, rhs: usize| DotDims {
            lhs_contracting: vec![lhs].into(),
            rhs_contracting: vec![rhs].into(),
            ..DotDims::default()
        };
        match (a.rank(), b.rank()) {
            // A vector or plain matrices: one contraction, free dims in numpy's order.
            (1, _) | (_, 1) | (2, 2) => {
                let rhs = if b.rank() == 1 { 0 } else { b.rank() - 2 };
                lax::dot_general(&a, &b, contract(a.rank() - 1, rhs))
            }
            (ra, rb) => matmul_batched(&a, &b, ra - 2, rb - 2),
        }
    }

    // ------------------------------------------------------------ shapes

    /// `jnp.reshape`; one dimension may be `-1`, inferred from the others.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::Shape;
    ///
    /// let x = Tensor::new(DType::F32, [2, 3, 4]);
    /// assert_eq!(x.reshape(vec![-1, 4])?.shape().dims(), [6, 4]); // -1: inferred
    /// assert_eq!(x.reshape(&[2isize, 12][..])?.shape().dims(), [2, 12]);
    /// assert_eq!(x.reshape(Shape::new([24]))?.shape().dims(), [24]);
    /// assert!(x.reshape(vec![-1, 5]).is_err());
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn reshape(&self, shape: impl ReshapeArg) -> Result<Tensor> {
        let _operation = crate::scope::operation("Tensor::reshape");
        let dims = shape.resolve(self)?;
        lax::reshape(self, dims)
    }

    /// `jnp.transpose` with axes `perm`.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// let x = Tensor::new(DType::F32, [2, 3, 4]);
    /// assert_eq!(x.transpose(&[2, 0, 1])?.shape().dims(), [4, 2, 3]);
    /// assert_eq!(x.swapaxes(0, -1)?.shape().dims(), [4, 3, 2]);
    /// assert_eq!(x.expand_dims(1)?.squeeze(1)?.shape().dims(), [2, 3, 4]);
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn transpose(&self, perm: &[usize]) -> Result<Tensor> {
        let _operation = crate::scope::operation("Tensor::transpose");
        lax::transpose(self, perm.to_vec())
    }

    /// `jnp.swapaxes`.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// let x = Tensor::new(DType::F32, [2, 8, 16, 64]);
    /// assert_eq!(x.swapaxes(1, 2)?.to_string(), "float32[2,16,8,64]");
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn swapaxes(&self, a: isize, b: isize) -> Result<Tensor> {
        let _operation = crate::scope::operation("Tensor::swapaxes");
        let (a, b) = (self.axis(a, "transpose")?, self.axis(b, "transpose")?);
        let mut perm: Vec<usize> = (0..self.rank()).collect();
        perm.swap(a, b);
        self.transpose(&perm)
    }

    /// `jnp.expand_dims`: a new axis of size 1 at `axis`.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// let x = Tensor::new(DType::F32, [2, 3]);
    /// assert_eq!(x.expand_dims(-1)?.to_string(), "float32[2,3,1]");
    /// assert_eq!(x.expand_dims(0)?.to_string(), "float32[1,2,3]");
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn expand_dims(&self, axis: isize) -> Result<Tensor> {
        let _operation = crate::scope::operation("Tensor::expand_dims");
        let axis = normalize_axis(axis, self.rank() + 1).ok_or_else(|| {
            Error::shape(
                "broadcast_in_dim",
                format!("axis {axis} is out of range for {self}"),
            )
        })?;
        let mut dims = self.shape().dims().to_vec();
        dims.insert(axis, 1);
        let kept: Vec<usize> = (0..=self.rank()).filter(|&d| d != axis).collect();
        lax::broadcast_in_dim(self, Shape::new(dims), kept)
    }

    /// `jnp.squeeze` of the size-1 axis `axis`.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// let x = Tensor::new(DType::F32, [2, 1, 3]);
    /// assert_eq!(x.squeeze(1)?.to_string(), "float32[2,3]");
    /// assert!(x.squeeze(0).is_err()); // axis 0 has size 2, as jnp.squeeze refuses
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn squeeze(&self, axis: isize) -> Result<Tensor> {
        let _operation = crate::scope::operation("Tensor::squeeze");
        let axis = self.axis(axis, "squeeze")?;
        if self.shape().dims()[axis] != 1 {
            return Err(Error::shape(
                "squeeze",
                format!("axis {axis} of {self} is not of size 1"),
            ));
        }
        let mut dims = self.shape().dims().to_vec();
        dims.remove(axis);
        lax::reshape(self, Shape::new(dims))
    }

    /// `jnp.broadcast_to`.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// let bias = Tensor::new(DType::F32, [3]);
    /// assert_eq!(bias.broadcast_to([4, 3])?.to_string(), "float32[4,3]");
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn broadcast_to(&self, shape: impl Into<Shape>) -> Result<Tensor> {
        let _operation = crate::scope::operation("Tensor::broadcast_to");
        let shape = shape.into();
        if self.shape() == &shape {
            return Ok(self.clone());
        }
        if shape.rank() < self.rank() || self.shape().broadcast(&shape).as_ref() != Some(&shape) {
            return Err(Error::shape(
                "broadcast_in_dim",
                format!("cannot broadcast {self} to {shape}"),
            ));
        }
        let offset = shape.rank() - self.rank();
        lax::broadcast_in_dim(self, shape, (offset..offset + self.rank()).collect())
    }

    /// `x[..., start:end, ...]` along `axis`.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// let qkv = Tensor::new(DType::F32, [2, 10, 96]);
    /// assert_eq!(qkv.slice(-1, 0, 32)?.shape().dims(), [2, 10, 32]);
    /// let parts = qkv.split(3, -1)?;
    /// assert_eq!(parts.len(), 3);
    /// assert_eq!(Tensor::concatenate(&[&parts[0], &parts[2]], -1)?.shape().dims(), [2, 10, 64]);
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn slice(&self, axis: isize, start: usize, end: usize) -> Result<Tensor> {
        let _operation = crate::scope::operation("Tensor::slice");
        let axis = self.axis(axis, "slice")?;
        let mut starts = vec![0; self.rank()];
        let mut limits = self.shape().dims().to_vec();
        starts[axis] = start;
        limits[axis] = end;
        lax::slice(self, starts, limits, vec![1; self.rank()])
    }

    /// `jnp.split(x, sections, axis)`: `sections` equal parts along `axis`.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// let x = Tensor::new(DType::F32, [2, 12]);
    /// assert_eq!(x.split(3, -1)?[0].to_string(), "float32[2,4]");
    /// assert_eq!(x.split(3, -1)?.len(), 3);
    /// assert!(x.split(5, -1).is_err()); // 12 is not a multiple of 5
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn split(&self, sections: usize, axis: isize) -> Result<Vec<Tensor>> {
        let _operation = crate::scope::operation("Tensor::split");
        let a = self.axis(axis, "split")?;
        let size = self.shape().dims()[a];
        if sections == 0 || !size.is_multiple_of(sections) {
            return Err(Error::shape(
                "split",
                format!("{self} does not split into {sections} equal parts along axis {axis}"),
            ));
        }
        // One result per part: bound them before making them.
        if sections > MAX_WRAP_REPEATS {
            return Err(Error::shape(
                "split",
                format!(
                    "{self} split into {sections} parts along axis {axis}: at most {MAX_WRAP_REPEATS} parts are supported"
                ),
            ));
        }
        lax::split(self, a, vec![size / sections; sections])
    }

    /// `jnp.flip` along `axis`.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// let x = Tensor::new(DType::I32, [5, 2]);
    /// assert_eq!(x.flip(0)?.to_string(), "int32[5,2]");
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn flip(&self, axis: isize) -> Result<Tensor> {
        let _operation = crate::scope::operation("Tensor::flip");
        let axis = self.axis(axis, "rev")?;
        lax::rev(self, vec![axis])
    }

    /// `jnp.pad(x, widths, constant_values=value)`: `(before, after)` per dimension.
    /// Like `jnp.pad` (a nested `jit`), it converts the padding value inside the call.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// let image = Tensor::new(DType::F32, [1, 28, 28, 3]);
    /// let padded = image.pad(&[(0, 0), (2, 2), (2, 2), (0, 0)], 0.0)?;
    /// assert_eq!(padded.shape().dims(), [1, 32, 32, 3]);
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn pad(&self, widths: &[(usize, usize)], value: f64) -> Result<Tensor> {
        let _operation = crate::scope::operation("Tensor::pad");
        if widths.len() != self.rank() {
            return Err(Error::shape(
                "pad",
                format!("one (before, after) pair per dimension of {self} is needed"),
            ));
        }
        let value = lax::constant(value, Spec::new(DType::I32, Shape::scalar()))?;
        let low = widths
            .iter()
            .map(|&(l, _)| i64::try_from(l).unwrap_or(i64::MAX))
            .collect();
        let high = widths
            .iter()
            .map(|&(_, h)| i64::try_from(h).unwrap_or(i64::MAX))
            .collect();
        let interior = vec![0; self.rank()];
        crate::trace::call_region("pad", &[self, &value], || {
            let value = lax::convert(&value, self.dtype())?;
            lax::pad(self, &value, low, high, interior)
        })
    }

    /// `jnp.pad(x, widths, mode="wrap")`: periodic padding, made of slices and
    /// concatenations (no arithmetic).
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// let x = Tensor::new(DType::F32, [5, 4]);
    /// assert_eq!(x.pad_wrap(&[(2, 3), (0, 0)])?.to_string(), "float32[10,4]");
    /// assert!(x.pad_wrap(&[(1, 1)]).is_err()); // one (before, after) pair per dimension
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn pad_wrap(&self, widths: &[(usize, usize)]) -> Result<Tensor> {
        let _operation = crate::scope::operation("Tensor::pad_wrap");
        if widths.len() != self.rank() {
            return Err(Error::shape(
                "pad",
                format!("one (before, after) pair per dimension of {self} is needed"),
            ));
        }
        let mut x = self.clone();
        for (axis, &(before, after)) in widths.iter().enumerate() {
            let size = x.shape().dims()[axis];
            if size == 0 {
                if before > 0 || after > 0 {
                    return Err(Error::shape(
                        "pad",
                        format!("cannot wrap-pad the empty axis {axis} of {self}"),
                    ));
                }
                continue;
            }
            let a = isize::try_from(axis).unwrap_or(isize::MAX);
            // jnp.pad concatenates one copy of the axis per repeat: bound the copies
            // before making them.
            let repeats = (before / size)
                .saturating_add(after / size)
                .saturating_add(1);
            if repeats > MAX_WRAP_REPEATS {
                return Err(Error::shape(
                    "pad",
                    format!(
                        "wrap padding ({before}, {after}) repeats axis {axis} of {self} {repeats} times; at most {MAX_WRAP_REPEATS} are supported"
                    ),
                ));
            }
            let mut parts = Vec::new();
            if before % size > 0 {
                parts.push(x.slice(a, size - before % size, size)?);
            }
            parts.extend(std::iter::repeat_n(
                x.clone(),
                before / size + after / size + 1,
            ));
            if after % size > 0 {
                parts.push(x.slice(a, 0, after % size)?);
            }
            let refs: Vec<&Tensor> = parts.iter().collect();
            x = lax::concatenate(&refs, axis)?;
        }
        Ok(x)
    }

    /// `jnp.argmax` along `axis`, as `int32` indices.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// let logits = Tensor::new(DType::F32, [8, 10]);
    /// assert_eq!(logits.argmax(-1)?.to_string(), "int32[8]");
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn argmax(&self, axis: isize) -> Result<Tensor> {
        let _operation = crate::scope::operation("Tensor::argmax");
        let axis = self.axis(axis, "argmax")?;
        lax::argmax(self, axis, DType::I32)
    }

    /// `jnp.any` over `axes` (all axes when empty): a `bool` reduction by `or`, after a
    /// conversion to `bool` of any other dtype.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// let mask = Tensor::new(DType::F32, [4, 6]);
    /// assert_eq!(mask.any(&[-1])?.to_string(), "bool[4]");
    /// assert_eq!(mask.any(&[])?.to_string(), "bool[]");
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn any(&self, axes: &[isize]) -> Result<Tensor> {
        let _operation = crate::scope::operation("Tensor::any");
        self.astype(DType::Bool)?
            .reduce(ReduceOp::Or, &self.axes_or_all(axes), false)
    }

    /// `jnp.all` over `axes` (all axes when empty): a `bool` reduction by `and`, after a
    /// conversion to `bool` of any other dtype.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// let valid = Tensor::new(DType::Bool, [2, 3, 5]);
    /// assert_eq!(valid.all(&[0, 2])?.to_string(), "bool[3]");
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn all(&self, axes: &[isize]) -> Result<Tensor> {
        let _operation = crate::scope::operation("Tensor::all");
        self.astype(DType::Bool)?
            .reduce(ReduceOp::And, &self.axes_or_all(axes), false)
    }

    /// `jnp.concatenate(tensors, axis)`.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// let a = Tensor::new(DType::F16, [2, 3]);
    /// let b = Tensor::new(DType::F32, [2, 5]);
    /// assert_eq!(Tensor::concatenate(&[&a, &b], 1)?.to_string(), "float32[2,8]");
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn concatenate(tensors: &[&Tensor], axis: isize) -> Result<Tensor> {
        let _operation = crate::scope::operation("Tensor::concatenate");
        let first = tensors
            .first()
            .ok_or_else(|| Error::shape("concatenate", "needs at least one tensor"))?;
        let axis = first.axis(axis, "concatenate")?;
        // Like `jnp.concatenate`, operands are promoted to one dtype first.
        let dtype = tensors
            .iter()
            .map(|t| t.dtype())
            .reduce(DType::promote)
            .unwrap_or(first.dtype());
        let promoted = tensors
            .iter()
            .map(|t| lax::convert(t, dtype))
            .collect::<Result<Vec<_>>>()?;
        let refs: Vec<&Tensor> = promoted.iter().collect();
        lax::concatenate(&refs, axis)
    }

    // ------------------------------------------------------------ reductions

    fn reduce(&self, op: ReduceOp, axes: &[isize], keepdims: bool) -> Result<Tensor> {
        let axes = self.axes(axes, op.name())?;
        let reduced = lax::reduce(op, self, axes.clone())?;
        if keepdims {
            keep_dims(&reduced, self, &axes)
        } else {
            Ok(reduced)
        }
    }

    /// `jnp.sum` over `axes` (all axes when empty).
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// let x = Tensor::new(DType::F32, [4, 5, 6]);
    /// assert_eq!(x.sum(&[1, 2], false)?.shape().dims(), [4]);
    /// assert_eq!(x.mean(&[-1], true)?.shape().dims(), [4, 5, 1]);
    /// assert_eq!(x.max(&[0], false)?.shape().dims(), [5, 6]);
    /// assert_eq!(Tensor::new(DType::I32, [3]).mean(&[0], false)?.dtype(), DType::F32); // as jnp.mean
    /// // As jnp.sum: booleans and narrow integers add in int32 (unsigned: uint32).
    /// assert_eq!(Tensor::new(DType::Bool, [3]).sum(&[], false)?.dtype(), DType::I32);
    /// assert_eq!(Tensor::new(DType::U8, [3]).sum(&[], false)?.dtype(), DType::U32);
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn sum(&self, axes: &[isize], keepdims: bool) -> Result<Tensor> {
        let _operation = crate::scope::operation("Tensor::sum");
        let (computation, result) = sum_dtypes(self.dtype());
        let x = lax::convert(self, computation)?;
        let sum = x.reduce(ReduceOp::Sum, &self.axes_or_all(axes), keepdims)?;
        lax::convert(&sum, result)
    }

    /// `jnp.max` over `axes` (all axes when empty).
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// let x = Tensor::new(DType::F32, [4, 5, 6]);
    /// assert_eq!(x.max(&[-1], true)?.to_string(), "float32[4,5,1]");
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn max(&self, axes: &[isize], keepdims: bool) -> Result<Tensor> {
        let _operation = crate::scope::operation("Tensor::max");
        self.reduce(ReduceOp::Max, &self.axes_or_all(axes), keepdims)
    }

    /// `jnp.min` over `axes` (all axes when empty).
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// let x = Tensor::new(DType::I32, [4, 5]);
    /// assert_eq!(x.min(&[], false)?.to_string(), "int32[]");
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn min(&self, axes: &[isize], keepdims: bool) -> Result<Tensor> {
        let _operation = crate::scope::operation("Tensor::min");
        self.reduce(ReduceOp::Min, &self.axes_or_all(axes), keepdims)
    }

    /// `jnp.mean` over `axes` (all axes when empty): a sum, then a divide by the count.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// let x = Tensor::new(DType::BF16, [4, 5, 6]);
    /// assert_eq!(x.mean(&[0, 2], false)?.to_string(), "bfloat16[5]");
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn mean(&self, axes: &[isize], keepdims: bool) -> Result<Tensor> {
        let _operation = crate::scope::operation("Tensor::mean");
        let axes = self.axes_or_all(axes);
        let resolved = self.axes(&axes, "reduce_sum")?;
        let count =
            crate::shape::checked_product(resolved.iter().map(|&a| self.shape().dims()[a] as u64))
                .ok_or_else(|| {
                    Error::shape(
                        "reduce_sum",
                        format!("{self} has too many elements to average"),
                    )
                })?;
        // As `jnp.mean`: integers average in float32 (a bool through int32 first), and
        // float16/bfloat16 sum and divide in float32, then convert back.
        let result = if self.dtype().is_inexact() {
            self.dtype()
        } else {
            DType::F32
        };
        let x = if self.dtype() == DType::Bool {
            lax::convert(self, DType::I32)?
        } else {
            self.clone()
        };
        let (computation, _) = sum_dtypes(result);
        let x = lax::convert(&x, computation)?;
        let sum = x.reduce(ReduceOp::Sum, &axes, keepdims)?;
        let n = lax::constant(count as f64, Spec::new(computation, Shape::scalar()))?;
        lax::convert(&lax::binary(Binary::Div, &sum, &n)?, result)
    }

    fn axes_or_all(&self, axes: &[isize]) -> Vec<isize> {
        if axes.is_empty() {
            (0..self.rank())
                .map(|a| isize::try_from(a).unwrap_or(isize::MAX))
                .collect()
        } else {
            axes.to_vec()
        }
    }
}

/// The most copies of an axis [`Tensor::pad_wrap`] concatenates (as `jnp.pad` does, one
/// operand per copy), and the most parts [`Tensor::split`] makes; more is refused rather
/// than allocated.
const MAX_WRAP_REPEATS: usize = 1 << 16;

/// The dtype `jnp.sum` adds in and the dtype it returns, for an operand of `dtype`:
/// booleans and integers narrower than 32 bits are promoted to `int32` (unsigned ones to
/// `uint32`), as JAX's `_promote_integer_dtype` does with its default integer widths;
/// float16 and bfloat16 add in float32 and convert back (`_upcast_f16`).
fn sum_dtypes(dtype: DType) -> (DType, DType) {
    match dtype {
        DType::Bool | DType::I4 | DType::I8 | DType::I16 => (DType::I32, DType::I32),
        DType::U4 | DType::U8 | DType::U16 => (DType::U32, DType::U32),
        DType::F16 | DType::BF16 => (DType::F32, dtype),
        _ => (dtype, dtype),
    }
}

/// Restores reduced axes as size-1 dimensions (`keepdims=True`), with `lax.expand_dims`.
fn keep_dims(reduced: &Tensor, original: &Tensor, axes: &[usize]) -> Result<Tensor> {
    let dims: Vec<usize> = (0..original.rank())
        .map(|d| {
            if axes.contains(&d) {
                1
            } else {
                original.shape().dims()[d]
            }
        })
        .collect();
    let kept: Vec<usize> = (0..original.rank()).filter(|d| !axes.contains(d)).collect();
    lax::broadcast_in_dim(reduced, Shape::new(dims), kept)
}

/// Right-hand operands of `Tensor` arithmetic: tensors, and Python-style scalars that
/// adopt the tensor's dtype (JAX's weak types).
///
/// ```
/// use tabulate::prelude::*;
/// let x = Tensor::new(DType::BF16, [3]);
/// assert_eq!(x.mul(2.0)?.dtype(), DType::BF16); // f64, f32, i32: weak scalars
/// assert_eq!(x.mul(&x)?.dtype(), DType::BF16); // &Tensor
/// assert_eq!(x.mul(Tensor::new(DType::F32, []))?.dtype(), DType::F32); // Tensor
/// # Ok::<(), tabulate::Error>(())
/// ```
pub trait Operand {
    /// This operand as a tensor, given the tensor it is combined with.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::Operand;
    ///
    /// let x = Tensor::new(DType::BF16, [3]);
    /// // A Python-style scalar takes the tensor's dtype and is weakly typed (`true`).
    /// let (scalar, weak) = 2.0.operand(&x)?;
    /// assert_eq!((scalar.to_string(), weak), ("bfloat16[]".to_string(), true));
    /// let (same, weak) = (&x).operand(&x)?;
    /// assert_eq!((same.to_string(), weak), ("bfloat16[3]".to_string(), false));
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    fn operand(self, like: &Tensor) -> Result<(Tensor, bool)>;
}

impl Operand for &Tensor {
    fn operand(self, _like: &Tensor) -> Result<(Tensor, bool)> {
        Ok((self.clone(), false))
    }
}

impl Operand for Tensor {
    fn operand(self, _like: &Tensor) -> Result<(Tensor, bool)> {
        Ok((self, false))
    }
}

impl Operand for f64 {
    fn operand(self, like: &Tensor) -> Result<(Tensor, bool)> {
        let dtype = if like.dtype().is_inexact() {
            like.dtype()
        } else {
            DType::F32
        };
        Ok((
            lax::constant(self, Spec::new(dtype, Shape::scalar()))?,
            true,
        ))
    }
}

impl Operand for f32 {
    fn operand(self, like: &Tensor) -> Result<(Tensor, bool)> {
        f64::from(self).operand(like)
    }
}

impl Operand for i32 {
    fn operand(self, like: &Tensor) -> Result<(Tensor, bool)> {
        let dtype = if like.dtype().kind() == DTypeKind::Bool {
            DType::I32
        } else {
            like.dtype()
        };
        Ok((
            lax::constant(f64::from(self), Spec::new(dtype, Shape::scalar()))?,
            true,
        ))
    }
}

/// Promotes `a` and `b` to one dtype as `jnp` does; a scalar operand is weakly typed.
fn promote(a: &Tensor, b: impl Operand) -> Result<(Tensor, Tensor)> {
    let (b, weak) = b.operand(a)?;
    let dtype = if weak {
        b.dtype()
    } else {
        a.dtype().promote(b.dtype())
    };
    Ok((lax::convert(a, dtype)?, lax::convert(&b, dtype)?))
}

/// Brings two operands to one rank with leading size-1 dimensions, as
/// `jnp`'s `promote_shapes` does; scalars are left to `lax`'s scalar broadcasting.
fn broadcast_ranks(a: &Tensor, b: &Tensor) -> Result<(Tensor, Tensor)> {
    if a.rank() == b.rank() || a.rank() == 0 || b.rank() == 0 {
        return Ok((a.clone(), b.clone()));
    }
    let rank = a.rank().max(b.rank());
    let lift = |t: &Tensor| -> Result<Tensor> {
        if t.rank() == rank {
            return Ok(t.clone());
        }
        let offset = rank - t.rank();
        lax::broadcast_in_dim(
            t,
            t.shape().with_leading_ones(rank),
            (offset..rank).collect(),
        )
    };
    Ok((lift(a)?, lift(b)?))
}

/// Shapes accepted by [`Tensor::reshape`]: a [`Shape`], or an array, slice or `Vec` of
/// `usize` (the dimensions), or of `isize`/`i32`/`i64` where one entry may be `-1` (inferred
/// from the others, as in `jnp.reshape`). Integer literals (`[4, -1]`) are `i32`.
///
/// ```
/// use tabulate::{DType, Tensor};
/// # fn main() -> tabulate::Result<()> {
/// let x = Tensor::new(DType::F32, [2, 3, 4]);
/// let dims: &[usize] = &[6, 4];
/// assert_eq!(x.reshape(dims)?.shape().dims(), [6, 4]);
/// assert_eq!(x.reshape([4_usize, 6])?.shape().dims(), [4, 6]);
/// assert_eq!(x.reshape([2, -1])?.shape().dims(), [2, 12]);
/// # Ok(())
/// # }
/// ```
pub trait ReshapeArg {
    /// The target shape for `x`.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::{ReshapeArg, Shape};
    ///
    /// let x = Tensor::new(DType::F32, [2, 3, 4]);
    /// assert_eq!([-1, 4].resolve(&x)?, Shape::new([6, 4]));
    /// assert!([-1, 5].resolve(&x).is_err()); // 24 elements are not rows of 5
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    fn resolve(self, x: &Tensor) -> Result<Shape>;
}

impl ReshapeArg for Shape {
    fn resolve(self, _x: &Tensor) -> Result<Shape> {
        Ok(self)
    }
}

impl ReshapeArg for &Shape {
    fn resolve(self, _x: &Tensor) -> Result<Shape> {
        Ok(self.clone())
    }
}

impl ReshapeArg for &[usize] {
    fn resolve(self, _x: &Tensor) -> Result<Shape> {
        Ok(Shape::new(self.to_vec()))
    }
}

impl ReshapeArg for &[isize] {
    fn resolve(self, x: &Tensor) -> Result<Shape> {
        let wide: smallvec::SmallVec<[i128; 8]> = self.iter().map(|&d| d as i128).collect();
        resolve_signed(&wide, x)
    }
}

impl ReshapeArg for &[i32] {
    fn resolve(self, x: &Tensor) -> Result<Shape> {
        let wide: smallvec::SmallVec<[i128; 8]> = self.iter().map(|&d| i128::from(d)).collect();
        resolve_signed(&wide, x)
    }
}

impl ReshapeArg for &[i64] {
    fn resolve(self, x: &Tensor) -> Result<Shape> {
        let wide: smallvec::SmallVec<[i128; 8]> = self.iter().map(|&d| i128::from(d)).collect();
        resolve_signed(&wide, x)
    }
}

/// Arrays, references to arrays and `Vec`s of every element type a slice takes.
macro_rules! reshape_containers {
    ($($t:ty),*) => {$(
        impl<const N: usize> ReshapeArg for [$t; N] {
            fn resolve(self, x: &Tensor) -> Result<Shape> {
                self.as_slice().resolve(x)
            }
        }

        impl<const N: usize> ReshapeArg for &[$t; N] {
            fn resolve(self, x: &Tensor) -> Result<Shape> {
                self.as_slice().resolve(x)
            }
        }

        impl ReshapeArg for Vec<$t> {
            fn resolve(self, x: &Tensor) -> Result<Shape> {
                self.as_slice().resolve(x)
            }
        }

        impl ReshapeArg for &Vec<$t> {
            fn resolve(self, x: &Tensor) -> Result<Shape> {
                self.as_slice().resolve(x)
            }
        }
    )*};
}

reshape_containers!(usize, isize, i32, i64);

/// `jnp.reshape`'s rule for signed dimensions: at most one `-1`, inferred from the others;
/// any other negative dimension is an error.
fn resolve_signed(dims: &[i128], x: &Tensor) -> Result<Shape> {
    let fail = || Error::shape("reshape", format!("cannot reshape {x} to {dims:?}"));
    let known: smallvec::SmallVec<[u64; 8]> = dims
        .iter()
        .filter(|&&d| d != -1)
        .map(|&d| u64::try_from(d).ok())
        .collect::<Option<_>>()
        .ok_or_else(fail)?;
    let known = crate::shape::checked_product(known).ok_or_else(fail)?;
    let inferred = dims.iter().filter(|&&d| d == -1).count();
    if inferred > 1 {
        return Err(fail());
    }
    let mut out: smallvec::SmallVec<[usize; 8]> = smallvec::SmallVec::with_capacity(dims.len());
    for &d in dims {
        if d == -1 {
            if known == 0 || !x.elements().is_multiple_of(known) {
                return Err(fail());
            }
            out.push(usize::try_from(x.elements() / known).map_err(|_| fail())?);
        } else {
            out.push(usize::try_from(d).map_err(|_| fail())?);
        }
    }
    Ok(Shape::from(&out[..]))
}

macro_rules! operator {
    ($trait:ident, $method:ident, $op:ident) => {
        impl<O: Operand> std::ops::$trait<O> for &Tensor {
            type Output = Result<Tensor>;
            fn $method(self, rhs: O) -> Result<Tensor> {
                Tensor::$op(self, rhs)
            }
        }
        impl<O: Operand> std::ops::$trait<O> for Tensor {
            type Output = Result<Tensor>;
            fn $method(self, rhs: O) -> Result<Tensor> {
                Tensor::$op(&self, rhs)
            }
        }
    };
}
operator!(Add, add, add);
operator!(Sub, sub, sub);
operator!(Mul, mul, mul);
operator!(Div, div, div);

impl std::ops::Neg for &Tensor {
    type Output = Result<Tensor>;
    fn neg(self) -> Result<Tensor> {
        Tensor::neg(self)
    }
}

/// `jnp.matmul` of two operands of rank 2 or more, with `na` and `nb` batch dimensions
/// (`jax/_src/numpy/tensor_contractions.py`): a batch dimension only one operand has, or of
/// size 1 in one of them, is a free dimension of the other; equal ones are `dot_general`
/// batch dimensions; the result is transposed into numpy's order.
fn matmul_batched(lhs: &Tensor, rhs: &Tensor, na: usize, nb: usize) -> Result<Tensor> {
    let batch_rank = na.max(nb);
    let batch = |t: &Tensor, own: usize, i: usize| -> Option<usize> {
        (i >= batch_rank - own).then(|| t.shape().dims()[i - (batch_rank - own)])
    };
    let (mut a_squeeze, mut b_squeeze, mut both_squeeze) = (Vec::new(), Vec::new(), Vec::new());
    let (mut a_batch, mut b_batch) = (Vec::new(), Vec::new());
    let (mut idx_batch, mut idx_a_other, mut idx_b_other) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..batch_rank {
        match (batch(lhs, na, i), batch(rhs, nb, i)) {
            (None, _) => idx_b_other.push(i),
            (_, None) => idx_a_other.push(i),
            (Some(1), Some(1)) => {
                a_squeeze.push(idx_batch.len() + idx_a_other.len() + a_squeeze.len());
                b_squeeze.push(idx_batch.len() + idx_b_other.len() + b_squeeze.len());
                both_squeeze.push(i);
            }
            (Some(1), Some(_)) => {
                idx_b_other.push(i);
                a_squeeze.push(idx_batch.len() + idx_a_other.len() + a_squeeze.len());
            }
            (Some(_), Some(1)) => {
                idx_a_other.push(i);
                b_squeeze.push(idx_batch.len() + idx_b_other.len() + b_squeeze.len());
            }
            (Some(da), Some(db)) if da == db => {
                a_batch.push(idx_batch.len() + idx_a_other.len());
                b_batch.push(idx_batch.len() + idx_b_other.len());
                idx_batch.push(i);
            }
            _ => {
                return Err(Error::shape(
                    "dot_general",
                    format!("matmul batch dimensions do not broadcast: {lhs} × {rhs}"),
                ));
            }
        }
    }
    idx_a_other.push(batch_rank);
    idx_b_other.push(batch_rank + 1);
    let order: Vec<usize> = idx_batch
        .iter()
        .chain(&idx_a_other)
        .chain(&idx_b_other)
        .copied()
        .collect();
    // `np.argsort(order)`: the positions of `order`'s values, smallest first.
    let mut perm: Vec<usize> = (0..order.len()).collect();
    perm.sort_by_key(|&position| order[position]);
    let squeeze = |t: &Tensor, axes: &[usize]| -> Result<Tensor> {
        if axes.is_empty() {
            return Ok(t.clone());
        }
        let dims: Vec<usize> = t
            .shape()
            .dims()
            .iter()
            .enumerate()
            .filter(|(d, _)| !axes.contains(d))
            .map(|(_, &size)| size)
            .collect();
        lax::reshape(t, Shape::new(dims))
    };
    let lhs = squeeze(lhs, &a_squeeze)?;
    let rhs = squeeze(rhs, &b_squeeze)?;
    let out = lax::dot_general(
        &lhs,
        &rhs,
        DotDims {
            lhs_contracting: vec![lhs.rank() - 1].into(),
            rhs_contracting: vec![rhs.rank() - 2].into(),
            lhs_batch: a_batch.into(),
            rhs_batch: b_batch.into(),
        },
    )?;
    let mut result = lax::transpose(&out, perm)?;
    for axis in both_squeeze {
        result = result.expand_dims(axis.cast_signed())?;
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(shape: &[usize]) -> Tensor {
        Tensor::new(DType::F32, shape)
    }

    #[test]
    fn arithmetic_broadcasts_like_numpy() {
        let y = (&t(&[16, 4]) + &t(&[4])).unwrap();
        assert_eq!(y.to_string(), "float32[16,4]");
        let y = (&t(&[2, 1, 3]) * &t(&[5, 1])).unwrap();
        assert_eq!(y.to_string(), "float32[2,5,3]");
        let y = (&t(&[3]) + 1.0).unwrap();
        assert_eq!(y.to_string(), "float32[3]");
        let err = (&t(&[16, 4]) + &t(&[3])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Tensor::add: incompatible shapes: float32[16,4] and float32[1,3]"
        );
    }

    #[test]
    fn dtypes_promote_like_jax() {
        let i = Tensor::new(DType::I32, [3]);
        assert_eq!((&i + 1).unwrap().dtype(), DType::I32);
        assert_eq!((&i + 1.0).unwrap().dtype(), DType::F32);
        let h = Tensor::new(DType::BF16, [3]);
        assert_eq!((&h + 2.0).unwrap().dtype(), DType::BF16);
        assert_eq!((&h + &t(&[3])).unwrap().dtype(), DType::F32);
        assert_eq!(i.div(2).unwrap().dtype(), DType::F32);
    }

    #[test]
    fn reshapes_infer_one_dimension() {
        let x = t(&[4, 7, 7, 64]);
        assert_eq!(x.reshape([4, -1]).unwrap().to_string(), "float32[4,3136]");
        assert!(x.reshape([5, -1]).is_err());
        assert!(x.reshape([-1, -1]).is_err());
        assert_eq!(
            x.reshape(Shape::new([196, 64])).unwrap().to_string(),
            "float32[196,64]"
        );
    }

    #[test]
    fn slicing_splitting_and_padding() {
        let x = t(&[2, 16, 192]);
        let parts = x.split(3, -1).unwrap();
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[2].to_string(), "float32[2,16,64]");
        assert!(x.split(5, -1).is_err());
        assert_eq!(x.slice(1, 4, 10).unwrap().to_string(), "float32[2,6,192]");
        assert!(x.slice(1, 4, 17).is_err());
        assert_eq!(
            x.pad(&[(0, 0), (1, 2), (0, 0)], 0.0).unwrap().to_string(),
            "float32[2,19,192]"
        );
        assert_eq!(x.argmax(-1).unwrap().to_string(), "int32[2,16]");
        assert_eq!(x.flip(0).unwrap().to_string(), "float32[2,16,192]");
        assert_eq!(
            x.greater(0.0).unwrap().any(&[]).unwrap().to_string(),
            "bool[]"
        );
        assert_eq!(x.rem(2.0).unwrap().to_string(), "float32[2,16,192]");
    }

    #[test]
    fn matmul_follows_numpy_shapes() {
        let mm = |a: &[usize], b: &[usize]| t(a).matmul(&t(b)).map(|y| y.to_string());
        assert_eq!(mm(&[16, 9], &[9, 4]).unwrap(), "float32[16,4]");
        assert_eq!(mm(&[2, 16, 9], &[9, 4]).unwrap(), "float32[2,16,4]");
        assert_eq!(
            mm(&[2, 4, 16, 8], &[2, 4, 8, 16]).unwrap(),
            "float32[2,4,16,16]"
        );
        assert_eq!(mm(&[4, 16, 8], &[1, 8, 3]).unwrap(), "float32[4,16,3]");
        assert_eq!(mm(&[9], &[9, 4]).unwrap(), "float32[4]");
        assert_eq!(mm(&[16, 9], &[9]).unwrap(), "float32[16]");
        assert_eq!(
            mm(&[16, 9], &[8, 4]).unwrap_err().to_string(),
            "Tensor::matmul: dot_general: contracting dimensions differ (9 vs 8): float32[16,9] × float32[8,4]"
        );
        assert!(mm(&[2, 16, 9], &[3, 9, 4]).is_err());
        // jnp.matmul's free batch dimensions, squeezed size-1 ones and final transpose.
        assert_eq!(mm(&[2, 1, 3, 4], &[5, 4, 6]).unwrap(), "float32[2,5,3,6]");
        assert_eq!(mm(&[1, 3, 4], &[1, 4, 5]).unwrap(), "float32[1,3,5]");
        assert_eq!(mm(&[7, 3, 4], &[4]).unwrap(), "float32[7,3]");
    }

    #[test]
    fn reductions_keep_or_drop_axes() {
        let x = t(&[2, 16, 64]);
        assert_eq!(x.mean(&[-1], true).unwrap().to_string(), "float32[2,16,1]");
        assert_eq!(x.sum(&[0, 2], false).unwrap().to_string(), "float32[16]");
        assert_eq!(x.max(&[], false).unwrap().to_string(), "float32[]");
        assert!(x.sum(&[3], false).is_err());
        assert!(x.sum(&[1, -2], false).is_err());
    }
}
