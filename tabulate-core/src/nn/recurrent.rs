//! Recurrent cells and `RNN` (`flax.linen.recurrent`): `LSTMCell`, `GRUCell`,
//! `SimpleCell`, and `RNN`, a `scan` of a cell over the time axis.

use super::activation::{sigmoid, tanh};
use super::initializers;
use super::linear::{Dense, layer_common};
use super::scan::{self, Carry, Collections, ScanAxes, ScanOptions};
use crate::call::{self, module_call};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::module::{ModuleIdentity, Tabulate, Visitor};
use crate::tensor::Tensor;
use crate::value::Describe;
use crate::variable::Initializer;

/// A recurrent cell: one step maps `(carry, x)` to `(carry, y)` (`flax.linen.RNNCellBase`).
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::nn::{GRUCell, RNNCell};
///
/// #[derive(Tabulate)]
/// struct Unrolled {
///     cell: GRUCell,
/// }
///
/// impl Unrolled {
///     #[forward]
///     fn forward(&self, xs: &[Tensor]) -> Result<Tensor> {
///         let mut carry = self.cell.initialize_carry(xs[0].shape().dims())?;
///         for x in xs {
///             carry = self.cell.step(&carry, x)?.0;
///         }
///         Ok(carry)
///     }
/// }
///
/// let xs = vec![Tensor::new(DType::F32, [2, 3]); 3];
/// let model = Unrolled { cell: GRUCell::new(4) };
/// let summary = tabulate(&model).show_repeated(true).run(|m| m.forward(&xs))?;
/// assert_eq!(summary.rows.iter().filter(|r| r.path == ["cell"]).count(), 3); // one per step
/// # Ok::<(), tabulate::Error>(())
/// ```
pub trait RNNCell: Tabulate {
    /// What the cell carries between steps.
    type Carry: Carry;

    /// One step, recorded as the cell's call.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::{LSTMCell, RNNCell};
    ///
    /// let cell = LSTMCell::new(8);
    /// let x = Tensor::new(DType::F32, [2, 5]);
    /// let carry = cell.initialize_carry(x.shape().dims())?;
    /// let ((c, h), y) = cell.step(&carry, &x)?;
    /// assert_eq!((c.to_string(), h.to_string(), y.to_string()), ("float32[2,8]".into(), "float32[2,8]".into(), "float32[2,8]".into()));
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    fn step(&self, carry: &Self::Carry, x: &Tensor) -> Result<(Self::Carry, Tensor)>;

    /// The zero carry for inputs of `input_shape` (`[batch…, features]`).
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::{GRUCell, RNNCell};
    ///
    /// // Batch dimensions from the input, the cell's features last.
    /// let carry = GRUCell::new(16).initialize_carry(&[4, 7, 3])?;
    /// assert_eq!(carry.to_string(), "float32[4,7,16]");
    /// assert!(GRUCell::new(16).initialize_carry(&[]).is_err()); // no feature axis
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    fn initialize_carry(&self, input_shape: &[usize]) -> Result<Self::Carry>;
}

/// Zeros of `batch… + [features]` in `dtype` (`carry_init=zeros_init()`).
fn zero_carry(input_shape: &[usize], features: usize, dtype: DType) -> Result<Tensor> {
    let Some((_, batch)) = input_shape.split_last() else {
        return Err(Error::invalid(
            "a recurrent cell's input needs a feature axis",
        ));
    };
    let mut shape = batch.to_vec();
    shape.push(features);
    Tensor::zeros(dtype, shape)
}

/// Implements the builder methods the cells share.
macro_rules! cell_common {
    ($ty:ident) => {
        impl $ty {
            /// A cell with `features` hidden units.
            ///
            /// ```
            /// use tabulate::prelude::*;
            /// use tabulate::nn::RNNCell;
            ///
            /// let x = Tensor::new(DType::F32, [2, 5]);
            #[doc = concat!("let cell = tabulate::nn::", stringify!($ty), "::new(8);")]
            /// let carry = cell.initialize_carry(x.shape().dims())?;
            /// let (_carry, y) = cell.step(&carry, &x)?;
            /// assert_eq!(y.to_string(), "float32[2,8]");
            /// # Ok::<(), tabulate::Error>(())
            /// ```
            pub fn new(features: usize) -> $ty {
                $ty {
                    features,
                    dtype: None,
                    param_dtype: DType::F32,
                    kernel_init: initializers::lecun_normal(),
                    recurrent_kernel_init: initializers::orthogonal(),
                    bias_init: initializers::zeros_init(),
                    identity: ModuleIdentity::new(),
                }
            }

            /// Sets the initialiser of the input kernels (Flax's `kernel_init=`).
            ///
            /// ```
            /// use tabulate::nn::{initializers, with_partitioning};
            ///
            /// let init = with_partitioning(initializers::lecun_normal(), ["embed", "mlp"]);
            #[doc = concat!("let cell = tabulate::nn::", stringify!($ty), "::new(4).kernel_init(init.clone());")]
            /// assert_eq!(cell.kernel_init, init);
            /// ```
            #[must_use]
            pub fn kernel_init(mut self, init: Initializer) -> $ty {
                self.kernel_init = init;
                self
            }

            /// Sets the initialiser of the hidden kernels (Flax's `recurrent_kernel_init=`).
            ///
            /// ```
            /// use tabulate::nn::{initializers, with_partitioning};
            ///
            /// let init = with_partitioning(initializers::orthogonal(), ["mlp", "mlp2"]);
            #[doc = concat!("let cell = tabulate::nn::", stringify!($ty), "::new(4).recurrent_kernel_init(init.clone());")]
            /// assert_eq!(cell.recurrent_kernel_init, init);
            /// ```
            #[must_use]
            pub fn recurrent_kernel_init(mut self, init: Initializer) -> $ty {
                self.recurrent_kernel_init = init;
                self
            }

            /// Sets the initialiser of the biases (Flax's `bias_init=`).
            ///
            /// ```
            /// use tabulate::nn::{initializers, with_partitioning};
            ///
            /// let init = with_partitioning(initializers::zeros_init(), ["mlp"]);
            #[doc = concat!("let cell = tabulate::nn::", stringify!($ty), "::new(4).bias_init(init.clone());")]
            /// assert_eq!(cell.bias_init, init);
            /// ```
            #[must_use]
            pub fn bias_init(mut self, init: Initializer) -> $ty {
                self.bias_init = init;
                self
            }

            /// Sets the dtype of the computation (its dense layers'; default: from the
            /// inputs and parameters, as Flax's `dtype=None`).
            ///
            /// ```
            /// use tabulate::prelude::*;
            /// use tabulate::nn::RNNCell;
            ///
            /// let x = Tensor::new(DType::BF16, [2, 5]);
            #[doc = concat!("let cell = tabulate::nn::", stringify!($ty), "::new(8).dtype(DType::BF16);")]
            /// let carry = cell.initialize_carry(x.shape().dims())?;
            /// assert_eq!(cell.step(&carry, &x)?.1.shape().dims(), [2, 8]);
            /// # Ok::<(), tabulate::Error>(())
            /// ```
            #[must_use]
            pub fn dtype(mut self, dtype: DType) -> $ty {
                self.dtype = Some(dtype);
                self
            }

            /// Sets the dtype of the parameters, and of the zero carry
            /// ([`RNNCell::initialize_carry`]), as Flax's cells use `param_dtype` for both.
            ///
            /// ```
            /// use tabulate::prelude::*;
            /// use tabulate::nn::{Carry, RNNCell};
            ///
            #[doc = concat!("let cell = tabulate::nn::", stringify!($ty), "::new(8).param_dtype(DType::BF16);")]
            /// let carry = cell.initialize_carry(&[2, 5])?;
            /// assert!(carry.parts().iter().all(|part| part.to_string() == "bfloat16[2,8]"));
            /// # Ok::<(), tabulate::Error>(())
            /// ```
            #[must_use]
            pub fn param_dtype(mut self, dtype: DType) -> $ty {
                self.param_dtype = dtype;
                self
            }

            /// The Dense `name`: an input one (`i…`) takes `kernel_init`, a hidden one
            /// (`h…`) `recurrent_kernel_init`, as every Flax cell builds them.
            fn dense(&self, features: usize, use_bias: bool, name: &str) -> Dense {
                let kernel_init = if name.starts_with('h') {
                    &self.recurrent_kernel_init
                } else {
                    &self.kernel_init
                };
                let mut dense = Dense::new(features)
                    .use_bias(use_bias)
                    .param_dtype(self.param_dtype)
                    .kernel_init(kernel_init.clone())
                    .bias_init(self.bias_init.clone())
                    .name(name);
                if let Some(dtype) = self.dtype {
                    dense = dense.dtype(dtype);
                }
                dense
            }
        }
    };
}

/// Long short-term memory (`flax.linen.LSTMCell`): input Denses `ii`, `if`, `ig`, `io`
/// without bias and hidden Denses `hi`, `hf`, `hg`, `ho` with bias; sigmoid gates and a
/// tanh activation. The carry is `(c, h)`.
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::nn::{LSTMCell, RNNCell};
///
/// let cell = LSTMCell::new(4);
/// let x = Tensor::new(DType::F32, [2, 3]);
/// let carry = cell.initialize_carry(&[2, 3])?; // (c, h), zeros
/// let summary = tabulate(&cell).run(|c| c.forward(&carry, &x))?;
/// // ii, if, ig, io: kernel [3,4]; hi, hf, hg, ho: kernel [4,4] and bias [4].
/// assert_eq!(summary.total().count, 4 * 3 * 4 + 4 * (4 * 4 + 4));
/// # Ok::<(), tabulate::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct LSTMCell {
    /// Hidden units.
    pub features: usize,
    /// The dtype of the computation.
    pub dtype: Option<DType>,
    /// The dtype of the parameters (default `float32`).
    pub param_dtype: DType,
    /// The initialiser of the input kernels (`i…`; default `lecun_normal()`).
    pub kernel_init: Initializer,
    /// The initialiser of the hidden kernels (`h…`; default `orthogonal()`).
    pub recurrent_kernel_init: Initializer,
    /// The initialiser of the biases (default `zeros_init()`).
    pub bias_init: Initializer,
    identity: ModuleIdentity,
}

cell_common!(LSTMCell);

impl LSTMCell {
    #[allow(clippy::many_single_char_names)] // the names of Flax's equations
    /// One step: `((c', h'), h')`, recorded as Flax's `cell(carry, x)`.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::LSTMCell;
    ///
    /// let c = Tensor::new(DType::F32, [2, 8]);
    /// let h = Tensor::new(DType::F32, [2, 8]);
    /// let x = Tensor::new(DType::F32, [2, 5]);
    /// let layer = LSTMCell::new(8);
    /// assert_eq!(layer.forward(&(c.clone(), h.clone()), &x)?.1.to_string(), "float32[2,8]"); // the new hidden state; the carry is `(c, h)`
    /// let total = tabulate(&layer).run(|l| l.forward(&(c.clone(), h.clone()), &x))?.total();
    /// assert_eq!((total.count, total.bytes), (448, 1792)); // as Flax 0.12.8 counts them
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn forward(
        &self,
        carry: &(Tensor, Tensor),
        x: &Tensor,
    ) -> Result<((Tensor, Tensor), Tensor)> {
        module_call(
            self,
            "forward",
            |args| {
                args.positional(carry);
                args.positional(x);
            },
            || {
                let (c, h) = carry;
                let hidden = h.dim(-1)?;
                let gate = |name: char| -> Result<Tensor> {
                    let i = self.dense(hidden, false, &format!("i{name}")).forward(x)?;
                    i.add(&self.dense(hidden, true, &format!("h{name}")).forward(h)?)
                };
                let i = sigmoid(&gate('i')?)?;
                let f = sigmoid(&gate('f')?)?;
                let g = tanh(&gate('g')?)?;
                let o = sigmoid(&gate('o')?)?;
                let new_c = f.mul(c)?.add(&i.mul(&g)?)?;
                let new_h = o.mul(&tanh(&new_c)?)?;
                Ok(((new_c, new_h.clone()), new_h))
            },
        )
    }
}

impl RNNCell for LSTMCell {
    type Carry = (Tensor, Tensor);

    fn step(&self, carry: &(Tensor, Tensor), x: &Tensor) -> Result<((Tensor, Tensor), Tensor)> {
        self.forward(carry, x)
    }

    fn initialize_carry(&self, input_shape: &[usize]) -> Result<(Tensor, Tensor)> {
        let c = zero_carry(input_shape, self.features, self.param_dtype)?;
        let h = zero_carry(input_shape, self.features, self.param_dtype)?;
        Ok((c, h))
    }
}

layer_common!(LSTMCell, "LSTMCell", "LSTMCell::new(8)");

/// Gated recurrent unit (`flax.linen.GRUCell`): input Denses `ir`, `iz`, `in` with bias,
/// hidden Denses `hr`, `hz` without and `hn` with bias.
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::nn::GRUCell;
///
/// let cell = GRUCell::new(4);
/// let (h, x) = (Tensor::new(DType::F32, [2, 4]), Tensor::new(DType::F32, [2, 3]));
/// let summary = tabulate(&cell).run(|c| c.forward(&h, &x))?;
/// // ir, iz, in: kernel [3,4] and bias; hr, hz: kernel [4,4]; hn: kernel and bias.
/// assert_eq!(summary.total().count, 3 * (3 * 4 + 4) + 2 * 4 * 4 + (4 * 4 + 4));
/// # Ok::<(), tabulate::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct GRUCell {
    /// Hidden units.
    pub features: usize,
    /// The dtype of the computation.
    pub dtype: Option<DType>,
    /// The dtype of the parameters (default `float32`).
    pub param_dtype: DType,
    /// The initialiser of the input kernels (`i…`; default `lecun_normal()`).
    pub kernel_init: Initializer,
    /// The initialiser of the hidden kernels (`h…`; default `orthogonal()`).
    pub recurrent_kernel_init: Initializer,
    /// The initialiser of the biases (default `zeros_init()`).
    pub bias_init: Initializer,
    identity: ModuleIdentity,
}

cell_common!(GRUCell);

impl GRUCell {
    #[allow(clippy::many_single_char_names)] // the names of Flax's equations
    /// One step: `(h', h')`, recorded as Flax's `cell(carry, x)`.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::GRUCell;
    ///
    /// let h = Tensor::new(DType::F32, [2, 8]);
    /// let x = Tensor::new(DType::F32, [2, 5]);
    /// let layer = GRUCell::new(8);
    /// assert_eq!(layer.forward(&h, &x)?.1.to_string(), "float32[2,8]");
    /// let total = tabulate(&layer).run(|l| l.forward(&h, &x))?.total();
    /// assert_eq!((total.count, total.bytes), (344, 1376)); // as Flax 0.12.8 counts them
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn forward(&self, h: &Tensor, x: &Tensor) -> Result<(Tensor, Tensor)> {
        module_call(
            self,
            "forward",
            |args| {
                args.positional(h);
                args.positional(x);
            },
            || {
                let hidden = h.dim(-1)?;
                let r = sigmoid(
                    &self
                        .dense(hidden, true, "ir")
                        .forward(x)?
                        .add(&self.dense(hidden, false, "hr").forward(h)?)?,
                )?;
                let z = sigmoid(
                    &self
                        .dense(hidden, true, "iz")
                        .forward(x)?
                        .add(&self.dense(hidden, false, "hz").forward(h)?)?,
                )?;
                let candidate = self.dense(hidden, true, "in").forward(x)?;
                let n =
                    tanh(&candidate.add(&r.mul(&self.dense(hidden, true, "hn").forward(h)?)?)?)?;
                let one_minus_z =
                    Tensor::full(1.0, z.dtype(), crate::shape::Shape::scalar())?.sub(&z)?;
                let new_h = one_minus_z.mul(&n)?.add(&z.mul(h)?)?;
                Ok((new_h.clone(), new_h))
            },
        )
    }
}

impl RNNCell for GRUCell {
    type Carry = Tensor;

    fn step(&self, carry: &Tensor, x: &Tensor) -> Result<(Tensor, Tensor)> {
        self.forward(carry, x)
    }

    fn initialize_carry(&self, input_shape: &[usize]) -> Result<Tensor> {
        zero_carry(input_shape, self.features, self.param_dtype)
    }
}

layer_common!(GRUCell, "GRUCell", "GRUCell::new(8)");

/// The Elman cell (`flax.linen.SimpleCell`): `tanh(i(x) + h(carry))`, with `i` biased
/// and `h` not.
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::nn::SimpleCell;
///
/// let cell = SimpleCell::new(4);
/// let (h, x) = (Tensor::new(DType::F32, [2, 4]), Tensor::new(DType::F32, [2, 3]));
/// let summary = tabulate(&cell).run(|c| c.forward(&h, &x))?;
/// assert_eq!(summary.total().count, 3 * 4 + (4 * 4 + 4)); // i: kernel; h: kernel and bias
/// # Ok::<(), tabulate::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct SimpleCell {
    /// Hidden units.
    pub features: usize,
    /// The dtype of the computation.
    pub dtype: Option<DType>,
    /// The dtype of the parameters (default `float32`).
    pub param_dtype: DType,
    /// The initialiser of the input kernels (`i…`; default `lecun_normal()`).
    pub kernel_init: Initializer,
    /// The initialiser of the hidden kernels (`h…`; default `orthogonal()`).
    pub recurrent_kernel_init: Initializer,
    /// The initialiser of the biases (default `zeros_init()`).
    pub bias_init: Initializer,
    identity: ModuleIdentity,
}

cell_common!(SimpleCell);

impl SimpleCell {
    /// One step: `(h', h')`, recorded as Flax's `cell(carry, x)`.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::SimpleCell;
    ///
    /// let h = Tensor::new(DType::F32, [2, 8]);
    /// let x = Tensor::new(DType::F32, [2, 5]);
    /// let layer = SimpleCell::new(8);
    /// assert_eq!(layer.forward(&h, &x)?.1.to_string(), "float32[2,8]");
    /// let total = tabulate(&layer).run(|l| l.forward(&h, &x))?.total();
    /// assert_eq!((total.count, total.bytes), (112, 448)); // as Flax 0.12.8 counts them
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn forward(&self, carry: &Tensor, x: &Tensor) -> Result<(Tensor, Tensor)> {
        module_call(
            self,
            "forward",
            |args| {
                args.positional(carry);
                args.positional(x);
            },
            || {
                let hidden = carry.dim(-1)?;
                let pre = self
                    .dense(hidden, true, "i")
                    .forward(x)?
                    .add(&self.dense(hidden, false, "h").forward(carry)?)?;
                let new = tanh(&pre)?;
                Ok((new.clone(), new))
            },
        )
    }
}

impl RNNCell for SimpleCell {
    type Carry = Tensor;

    fn step(&self, carry: &Tensor, x: &Tensor) -> Result<(Tensor, Tensor)> {
        self.forward(carry, x)
    }

    fn initialize_carry(&self, input_shape: &[usize]) -> Result<Tensor> {
        zero_carry(input_shape, self.features, self.param_dtype)
    }
}

layer_common!(SimpleCell, "SimpleCell", "SimpleCell::new(8)");

/// The keyword arguments of `RNN.__call__` (`flax.linen.RNN`): each given one overrides
/// the module's attribute of the same name and shows in the row's inputs.
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::nn::{RnnArgs, RNN, SimpleCell};
///
/// let x = Tensor::new(DType::F32, [2, 5, 3]);
/// let out = RNN::new(SimpleCell::new(4))
///     .forward_with(&x, &RnnArgs::new().return_carry(true).reverse(true))?;
/// assert_eq!(out.carry().map(ToString::to_string), Some("float32[2,4]".to_string()));
/// assert_eq!(out.outputs().to_string(), "float32[2,5,4]");
/// # Ok::<(), tabulate::Error>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct RnnArgs<C> {
    /// `initial_carry`, `init_key` and `seq_lengths` given as `None` when not set (what
    /// `Bidirectional` passes).
    explicit_none: bool,
    initial_carry: Option<C>,
    seq_lengths: Option<Tensor>,
    return_carry: Option<bool>,
    time_major: Option<bool>,
    reverse: Option<bool>,
    keep_order: Option<bool>,
}

impl<C: Clone + Describe> RnnArgs<C> {
    /// No keyword arguments: the module's attributes apply.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::{RNN, RnnArgs, SimpleCell};
    ///
    /// let x = Tensor::new(DType::F32, [2, 5, 3]);
    /// let out = RNN::new(SimpleCell::new(4)).forward_with(&x, &RnnArgs::new())?;
    /// assert_eq!(out.outputs().to_string(), "float32[2,5,4]");
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    #[must_use]
    pub fn new() -> RnnArgs<C> {
        RnnArgs {
            explicit_none: false,
            initial_carry: None,
            seq_lengths: None,
            return_carry: None,
            time_major: None,
            reverse: None,
            keep_order: None,
        }
    }

    /// `initial_carry=`: the carry the first step starts from (else the cell's zeros).
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::{RNN, RnnArgs, SimpleCell};
    /// let x = Tensor::new(DType::F32, [2, 5, 3]);
    /// let h0 = Tensor::zeros(DType::F32, [2, 4])?;
    /// let y = RNN::new(SimpleCell::new(4)).forward_with(&x, &RnnArgs::new().initial_carry(h0))?;
    /// assert_eq!(y.outputs().to_string(), "float32[2,5,4]");
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    #[must_use]
    pub fn initial_carry(mut self, carry: C) -> RnnArgs<C> {
        self.initial_carry = Some(carry);
        self
    }

    /// `seq_lengths=`: an integer array of shape `[batch…]` with each sequence's length.
    /// As in Flax it matters only with `reverse` (padding stays at the end) or
    /// `return_carry` (each sequence's last valid carry).
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::{RNN, RnnArgs, SimpleCell};
    /// let x = Tensor::new(DType::F32, [2, 5, 3]);
    /// let lengths = Tensor::new(DType::I32, [2]);
    /// let y = RNN::new(SimpleCell::new(4)).forward_with(&x, &RnnArgs::new().seq_lengths(lengths))?;
    /// assert_eq!(y.outputs().to_string(), "float32[2,5,4]");
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    #[must_use]
    pub fn seq_lengths(mut self, lengths: Tensor) -> RnnArgs<C> {
        self.seq_lengths = Some(lengths);
        self
    }

    /// `return_carry=`: also return the final carry.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::{RNN, RnnArgs, SimpleCell};
    /// let x = Tensor::new(DType::F32, [2, 5, 3]);
    /// let out = RNN::new(SimpleCell::new(4)).forward_with(&x, &RnnArgs::new().return_carry(true))?;
    /// assert!(out.carry().is_some());
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    #[must_use]
    pub fn return_carry(mut self, yes: bool) -> RnnArgs<C> {
        self.return_carry = Some(yes);
        self
    }

    /// `time_major=`: inputs are `[time, batch…, features]`.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::{RNN, RnnArgs, SimpleCell};
    /// let x = Tensor::new(DType::F32, [5, 2, 3]);
    /// let out = RNN::new(SimpleCell::new(4)).forward_with(&x, &RnnArgs::new().time_major(true))?;
    /// assert_eq!(out.outputs().to_string(), "float32[5,2,4]");
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    #[must_use]
    pub fn time_major(mut self, yes: bool) -> RnnArgs<C> {
        self.time_major = Some(yes);
        self
    }

    /// `reverse=`: process the sequence from its end.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::{RNN, RnnArgs, SimpleCell};
    /// let x = Tensor::new(DType::F32, [2, 5, 3]);
    /// let out = RNN::new(SimpleCell::new(4)).forward_with(&x, &RnnArgs::new().reverse(true))?;
    /// assert_eq!(out.outputs().to_string(), "float32[2,5,4]");
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    #[must_use]
    pub fn reverse(mut self, yes: bool) -> RnnArgs<C> {
        self.reverse = Some(yes);
        self
    }

    /// `keep_order=`: with `reverse`, flip the outputs back to the input's order.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::{RNN, RnnArgs, SimpleCell};
    /// let x = Tensor::new(DType::F32, [2, 5, 3]);
    /// let args = RnnArgs::new().reverse(true).keep_order(true);
    /// assert_eq!(RNN::new(SimpleCell::new(4)).forward_with(&x, &args)?.outputs().to_string(), "float32[2,5,4]");
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    #[must_use]
    pub fn keep_order(mut self, yes: bool) -> RnnArgs<C> {
        self.keep_order = Some(yes);
        self
    }

    /// Records the given keywords as Flax shows them (sorted by name).
    fn record(&self, args: &mut crate::value::CallArgs) {
        if self.explicit_none {
            args.keyword("init_key", &());
        }
        match &self.initial_carry {
            Some(carry) => args.keyword("initial_carry", carry),
            None if self.explicit_none => args.keyword("initial_carry", &()),
            None => {}
        }
        if let Some(keep_order) = self.keep_order {
            args.keyword("keep_order", &keep_order);
        }
        if let Some(return_carry) = self.return_carry {
            args.keyword("return_carry", &return_carry);
        }
        if let Some(reverse) = self.reverse {
            args.keyword("reverse", &reverse);
        }
        match &self.seq_lengths {
            Some(lengths) => args.keyword("seq_lengths", lengths),
            None if self.explicit_none => args.keyword("seq_lengths", &()),
            None => {}
        }
        if let Some(time_major) = self.time_major {
            args.keyword("time_major", &time_major);
        }
    }
}

/// What an `RNN` returns: the outputs, or `(carry, outputs)` with `return_carry`.
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::nn::{GRUCell, RNN, RnnArgs, RnnOutput};
///
/// let x = Tensor::new(DType::F32, [2, 5, 3]);
/// let out = RNN::new(GRUCell::new(4)).return_carry(true).forward_with(&x, &RnnArgs::new())?;
/// assert!(matches!(out, RnnOutput::WithCarry(..)));
/// # Ok::<(), tabulate::Error>(())
/// ```
#[derive(Clone, Debug)]
pub enum RnnOutput<C> {
    /// Every step's output (`return_carry=False`).
    Outputs(Tensor),
    /// The final carry and every step's output (`return_carry=True`).
    WithCarry(C, Tensor),
}

impl<C> RnnOutput<C> {
    /// Every step's output.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::{RNN, RnnArgs, SimpleCell};
    /// let x = Tensor::new(DType::F32, [2, 5, 3]);
    /// let out = RNN::new(SimpleCell::new(4)).forward_with(&x, &RnnArgs::new())?;
    /// assert_eq!(out.outputs().to_string(), "float32[2,5,4]");
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    #[must_use]
    pub fn outputs(&self) -> &Tensor {
        match self {
            RnnOutput::Outputs(y) | RnnOutput::WithCarry(_, y) => y,
        }
    }

    /// The final carry, with `return_carry`.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::{RNN, RnnArgs, SimpleCell};
    /// let x = Tensor::new(DType::F32, [2, 5, 3]);
    /// let out = RNN::new(SimpleCell::new(4)).forward_with(&x, &RnnArgs::new())?;
    /// assert!(out.carry().is_none());
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    #[must_use]
    pub fn carry(&self) -> Option<&C> {
        match self {
            RnnOutput::Outputs(_) => None,
            RnnOutput::WithCarry(c, _) => Some(c),
        }
    }
}

impl<C: Clone + Describe> Describe for RnnOutput<C> {
    fn describe(&self) -> crate::value::Value {
        match self {
            RnnOutput::Outputs(y) => y.describe(),
            RnnOutput::WithCarry(c, y) => (c.clone(), y.clone()).describe(),
        }
    }
}

/// A cell scanned over the time axis (`flax.linen.RNN`), with Flax's attributes and
/// defaults: batch-major `[batch…, time, features]` inputs, zero initial carry, `params`
/// broadcast to every step, and `time_major`, `return_carry`, `reverse`, `keep_order`.
///
/// As in Flax, the scan is an XLA `while` loop whose body counts once whatever the
/// length (built on the lifted [`scan`](crate::nn::scan)), and the rows show the cell as
/// Flax's lifted `scan` records it: named next to the `RNN` when built in the same method
/// (`LSTMCell_0`), with per-step shapes.
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::nn::{LSTMCell, RNN};
///
/// let x = Tensor::new(DType::F32, [2, 5, 3]);
/// let y = RNN::new(LSTMCell::new(5)).forward(&x)?;
/// assert_eq!(y.to_string(), "float32[2,5,5]");
/// # Ok::<(), tabulate::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
#[allow(clippy::struct_excessive_bools)] // Flax's four attributes
pub struct RNN<C> {
    /// The cell applied at every step.
    pub cell: C,
    /// Inputs are `[time, batch…, features]` (default `false`).
    pub time_major: bool,
    /// Return `(carry, outputs)` (default `false`).
    pub return_carry: bool,
    /// Process the sequence from its end (default `false`).
    pub reverse: bool,
    /// With `reverse`, flip the outputs back to the input's order (default `false`).
    pub keep_order: bool,
    scan: ScanOptions,
    identity: ModuleIdentity,
}

impl<C: RNNCell> RNN<C> {
    /// An RNN of `cell`, with Flax's defaults.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::{RNN, SimpleCell};
    /// assert!(!RNN::new(SimpleCell::new(4)).reverse);
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn new(cell: C) -> RNN<C> {
        RNN {
            cell,
            time_major: false,
            return_carry: false,
            reverse: false,
            keep_order: false,
            scan: ScanOptions {
                variable_broadcast: Collections::from("params"),
                split_rngs: vec![("params".to_string(), false)],
                ..ScanOptions::default()
            },
            identity: ModuleIdentity::new(),
        }
    }

    /// Names the module, as Flax's `name=`.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::{RNN, SimpleCell};
    /// let rnn = RNN::new(SimpleCell::new(4)).name("encoder");
    /// # let _ = rnn;
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    #[must_use]
    pub fn name(mut self, name: impl Into<String>) -> RNN<C> {
        self.identity.set_name(name);
        self
    }

    /// Sets `time_major`.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::{RNN, SimpleCell};
    /// let y = RNN::new(SimpleCell::new(4)).time_major(true).forward(&Tensor::new(DType::F32, [5, 2, 3]))?;
    /// assert_eq!(y.to_string(), "float32[5,2,4]");
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    #[must_use]
    pub fn time_major(mut self, yes: bool) -> RNN<C> {
        self.time_major = yes;
        self
    }

    /// Sets `return_carry`.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::{RNN, RnnArgs, SimpleCell};
    /// let rnn = RNN::new(SimpleCell::new(4)).return_carry(true);
    /// let out = rnn.forward_with(&Tensor::new(DType::F32, [2, 5, 3]), &RnnArgs::new())?;
    /// assert_eq!(out.carry().map(ToString::to_string), Some("float32[2,4]".into()));
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    #[must_use]
    pub fn return_carry(mut self, yes: bool) -> RNN<C> {
        self.return_carry = yes;
        self
    }

    /// Sets `reverse`.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::{RNN, SimpleCell};
    /// let y = RNN::new(SimpleCell::new(4)).reverse(true).forward(&Tensor::new(DType::F32, [2, 5, 3]))?;
    /// assert_eq!(y.to_string(), "float32[2,5,4]");
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    #[must_use]
    pub fn reverse(mut self, yes: bool) -> RNN<C> {
        self.reverse = yes;
        self
    }

    /// Sets `keep_order`.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::{RNN, SimpleCell};
    /// let rnn = RNN::new(SimpleCell::new(4)).reverse(true).keep_order(true);
    /// assert_eq!(rnn.forward(&Tensor::new(DType::F32, [2, 5, 3]))?.to_string(), "float32[2,5,4]");
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    #[must_use]
    pub fn keep_order(mut self, yes: bool) -> RNN<C> {
        self.keep_order = yes;
        self
    }

    /// Sets the scan's `unroll` (only 1 is modelled).
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::{RNN, SimpleCell};
    /// let rnn = RNN::new(SimpleCell::new(4)).unroll(1);
    /// assert!(rnn.forward(&Tensor::new(DType::F32, [2, 5, 3])).is_ok());
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    #[must_use]
    pub fn unroll(mut self, unroll: usize) -> RNN<C> {
        self.scan.unroll = unroll;
        self
    }

    /// Sets the scan's `variable_broadcast` (default `'params'`).
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::{RNN, SimpleCell};
    /// let rnn = RNN::new(SimpleCell::new(4)).variable_broadcast("params");
    /// assert!(rnn.forward(&Tensor::new(DType::F32, [2, 5, 3])).is_ok());
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    #[must_use]
    pub fn variable_broadcast(mut self, collections: impl Into<Collections>) -> RNN<C> {
        self.scan.variable_broadcast = collections.into();
        self
    }

    /// Sets the scan's `variable_axes` (default none).
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::{RNN, SimpleCell};
    /// let rnn = RNN::new(SimpleCell::new(4)).variable_axes([("params", 0)]);
    /// assert!(rnn.forward(&Tensor::new(DType::F32, [2, 5, 3])).is_ok());
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    #[must_use]
    pub fn variable_axes<const N: usize>(mut self, axes: [(&str, isize); N]) -> RNN<C> {
        self.scan.variable_axes = axes.iter().map(|(c, a)| ((*c).to_string(), *a)).collect();
        self
    }

    /// Sets the scan's `split_rngs` (default `{'params': False}`).
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::{RNN, SimpleCell};
    /// let rnn = RNN::new(SimpleCell::new(4)).split_rngs([("params", true)]);
    /// # let _ = rnn;
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    #[must_use]
    pub fn split_rngs<const N: usize>(mut self, splits: [(&str, bool); N]) -> RNN<C> {
        self.scan.split_rngs = splits.iter().map(|(s, b)| ((*s).to_string(), *b)).collect();
        self
    }

    /// `rnn(x)`: the outputs of every step, `[batch…, time, hidden]`.
    ///
    /// # Errors
    /// Inputs without a time and a feature axis, and an `RNN` built with `return_carry`
    /// (use [`RNN::forward_with`]).
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::{RNN, SimpleCell};
    /// let y = RNN::new(SimpleCell::new(4)).forward(&Tensor::new(DType::F32, [2, 5, 3]))?;
    /// assert_eq!(y.to_string(), "float32[2,5,4]");
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        if self.return_carry {
            return Err(Error::invalid(
                "RNN: return_carry=True returns (carry, outputs): call forward_with",
            ));
        }
        module_call(
            self,
            "forward",
            |args| args.positional(x),
            || self.run(x, &RnnArgs::new()).map(|(_, y)| y),
        )
    }

    /// `rnn(x, **kwargs)`: the keyword arguments of `RNN.__call__` override the
    /// attributes and show in the row's inputs.
    ///
    /// # Errors
    /// Inputs without a time and a feature axis; a carry of the wrong shape;
    /// `seq_lengths` with `reverse` or `return_carry` (not modelled).
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::{RNN, RnnArgs, SimpleCell};
    /// let x = Tensor::new(DType::F32, [2, 5, 3]);
    /// let out = RNN::new(SimpleCell::new(4)).forward_with(&x, &RnnArgs::new().return_carry(true))?;
    /// assert_eq!(out.outputs().to_string(), "float32[2,5,4]");
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn forward_with(
        &self,
        x: &Tensor,
        args: &RnnArgs<C::Carry>,
    ) -> Result<RnnOutput<C::Carry>> {
        module_call(
            self,
            "forward",
            |call| {
                call.positional(x);
                args.record(call);
            },
            || {
                let (carry, y) = self.run(x, args)?;
                Ok(if args.return_carry.unwrap_or(self.return_carry) {
                    RnnOutput::WithCarry(carry, y)
                } else {
                    RnnOutput::Outputs(y)
                })
            },
        )
    }

    /// `RNN.__call__`'s body: the final carry and the outputs.
    fn run(&self, x: &Tensor, args: &RnnArgs<C::Carry>) -> Result<(C::Carry, Tensor)> {
        let time_major = args.time_major.unwrap_or(self.time_major);
        let reverse = args.reverse.unwrap_or(self.reverse);
        let keep_order = args.keep_order.unwrap_or(self.keep_order);
        let return_carry = args.return_carry.unwrap_or(self.return_carry);
        if x.rank() < 2 {
            return Err(Error::invalid(format!(
                "RNN: inputs must be [batch…, time, features], got {x}"
            )));
        }
        if args.seq_lengths.is_some() && (reverse || return_carry) {
            return Err(Error::invalid(
                "RNN: seq_lengths with reverse or return_carry (flip_sequences' and \
                 _select_last_carry's gathers) is not modelled",
            ));
        }
        // Cells here have one feature axis.
        let time_axis = if time_major { 0 } else { x.rank() - 2 };
        let inputs = if reverse {
            x.flip(isize::try_from(time_axis).unwrap_or(0))?
        } else {
            x.clone()
        };
        let carry = if let Some(carry) = &args.initial_carry {
            carry.clone()
        } else {
            let mut step_shape = inputs.shape().dims().to_vec();
            step_shape.remove(time_axis);
            self.cell.initialize_carry(&step_shape)?
        };
        let axis = isize::try_from(time_axis).unwrap_or(0);
        let options = ScanOptions {
            in_axes: ScanAxes::from(axis),
            out_axes: ScanAxes::from(axis),
            ..self.scan.clone()
        };
        let body = |carry: &C::Carry, x: &Tensor| self.scan_fn(carry, x);
        let (carry, outputs) = scan::run(&options, &self.cell, &carry, &inputs, &body)?;
        let outputs = if reverse && keep_order {
            outputs.flip(axis)?
        } else {
            outputs
        };
        Ok((carry, outputs))
    }

    /// The scanned function: the cell's step, recorded as Flax's `scan_fn(cell, carry, x)`.
    fn scan_fn(&self, carry: &C::Carry, x: &Tensor) -> Result<(C::Carry, Tensor)> {
        let guard = call::enter_lifted_call(&self.cell, "scan_fn", None, |args| {
            args.positional(carry);
            args.positional(x);
        });
        let out = self.cell.step(carry, x);
        guard.exit(&out);
        out
    }
}

impl<C: RNNCell> Tabulate for RNN<C> {
    fn type_name(&self) -> &'static str {
        "RNN"
    }

    fn visit_submodules(&self, visitor: &mut dyn Visitor) {
        visitor.visit("cell", &self.cell);
    }

    fn identity(&self) -> Option<&ModuleIdentity> {
        Some(&self.identity)
    }

    fn fields_are_attributes(&self) -> bool {
        false
    }
}

/// `flax.linen.Bidirectional`: a forward and a backward `RNN` over the same inputs, their
/// outputs merged by `merge_fn` (default: concatenated on the last axis). The backward
/// one runs with `reverse=True, keep_order=True`, so both outputs are in input order.
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::nn::{Bidirectional, GRUCell, RNN, SimpleCell};
///
/// let x = Tensor::new(DType::F32, [2, 5, 3]);
/// let bi = Bidirectional::new(RNN::new(SimpleCell::new(4)), RNN::new(GRUCell::new(3)));
/// assert_eq!(bi.forward(&x)?.to_string(), "float32[2,5,7]");
/// # Ok::<(), tabulate::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Bidirectional<F: RNNCell, B: RNNCell> {
    /// The RNN run forwards.
    pub forward_rnn: RNN<F>,
    /// The RNN run backwards.
    pub backward_rnn: RNN<B>,
    /// Merges the two outputs (default: `concatenate([a, b], axis=-1)`).
    pub merge_fn: fn(&Tensor, &Tensor) -> Result<Tensor>,
    /// Inputs are `[time, batch…, features]` (default `false`).
    pub time_major: bool,
    /// Return `((forward carry, backward carry), outputs)` (default `false`).
    pub return_carry: bool,
    identity: ModuleIdentity,
}

/// The carries of a `Bidirectional`: the forward RNN's, then the backward one's.
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::nn::{BiCarry, GRUCell, LSTMCell};
///
/// let carries: BiCarry<LSTMCell, GRUCell> = (
///     (Tensor::zeros(DType::F32, [2, 4])?, Tensor::zeros(DType::F32, [2, 4])?),
///     Tensor::zeros(DType::F32, [2, 3])?,
/// );
/// # let _ = carries;
/// # Ok::<(), tabulate::Error>(())
/// ```
pub type BiCarry<F, B> = (<F as RNNCell>::Carry, <B as RNNCell>::Carry);

/// What `Bidirectional` passes each of its RNNs: every keyword, `None`s included.
fn inner_args<C>(initial: Option<C>, seq_lengths: Option<Tensor>, time_major: bool) -> RnnArgs<C> {
    RnnArgs {
        explicit_none: true,
        initial_carry: initial,
        seq_lengths,
        return_carry: Some(true),
        time_major: Some(time_major),
        reverse: None,
        keep_order: None,
    }
}

/// Flax's `_concatenate`: the two outputs on the last axis.
fn concatenate_last(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    Tensor::concatenate(&[a, b], -1)
}

impl<F: RNNCell, B: RNNCell> Bidirectional<F, B> {
    /// A bidirectional layer of two RNNs, with Flax's defaults.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::{Bidirectional, RNN, SimpleCell};
    /// let bi = Bidirectional::new(RNN::new(SimpleCell::new(4)), RNN::new(SimpleCell::new(3)));
    /// assert!(!bi.return_carry);
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn new(forward_rnn: RNN<F>, backward_rnn: RNN<B>) -> Bidirectional<F, B> {
        Bidirectional {
            forward_rnn,
            backward_rnn,
            merge_fn: concatenate_last,
            time_major: false,
            return_carry: false,
            identity: ModuleIdentity::new(),
        }
    }

    /// Names the module, as Flax's `name=`.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::{Bidirectional, RNN, SimpleCell};
    /// let bi = Bidirectional::new(RNN::new(SimpleCell::new(4)), RNN::new(SimpleCell::new(3))).name("bi");
    /// # let _ = bi;
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    #[must_use]
    pub fn name(mut self, name: impl Into<String>) -> Bidirectional<F, B> {
        self.identity.set_name(name);
        self
    }

    /// Sets `merge_fn`.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::{Bidirectional, RNN, SimpleCell};
    /// let bi = Bidirectional::new(RNN::new(SimpleCell::new(4)), RNN::new(SimpleCell::new(4)))
    ///     .merge_fn(|a, b| a.add(b));
    /// assert_eq!(bi.forward(&Tensor::new(DType::F32, [2, 5, 3]))?.to_string(), "float32[2,5,4]");
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    #[must_use]
    pub fn merge_fn(
        mut self,
        merge: fn(&Tensor, &Tensor) -> Result<Tensor>,
    ) -> Bidirectional<F, B> {
        self.merge_fn = merge;
        self
    }

    /// Sets `time_major`.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::{Bidirectional, RNN, SimpleCell};
    /// let bi = Bidirectional::new(RNN::new(SimpleCell::new(4)), RNN::new(SimpleCell::new(3))).time_major(true);
    /// assert_eq!(bi.forward(&Tensor::new(DType::F32, [5, 2, 3]))?.to_string(), "float32[5,2,7]");
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    #[must_use]
    pub fn time_major(mut self, yes: bool) -> Bidirectional<F, B> {
        self.time_major = yes;
        self
    }

    /// Sets `return_carry`.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::{Bidirectional, RNN, RnnArgs, SimpleCell};
    /// let bi = Bidirectional::new(RNN::new(SimpleCell::new(4)), RNN::new(SimpleCell::new(3))).return_carry(true);
    /// let out = bi.forward_with(&Tensor::new(DType::F32, [2, 5, 3]), &RnnArgs::new())?;
    /// assert!(out.carry().is_some());
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    #[must_use]
    pub fn return_carry(mut self, yes: bool) -> Bidirectional<F, B> {
        self.return_carry = yes;
        self
    }

    /// `layer(x)`: the merged outputs.
    ///
    /// # Errors
    /// As [`RNN::forward_with`], and a `Bidirectional` built with `return_carry` (use
    /// [`Bidirectional::forward_with`]).
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::{Bidirectional, RNN, SimpleCell};
    /// let bi = Bidirectional::new(RNN::new(SimpleCell::new(4)), RNN::new(SimpleCell::new(3)));
    /// assert_eq!(bi.forward(&Tensor::new(DType::F32, [2, 5, 3]))?.to_string(), "float32[2,5,7]");
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        if self.return_carry {
            return Err(Error::invalid(
                "Bidirectional: return_carry=True returns (carry, outputs): call forward_with",
            ));
        }
        module_call(
            self,
            "forward",
            |args| args.positional(x),
            || Ok(self.run(x, &RnnArgs::new())?.1),
        )
    }

    /// `layer(x, **kwargs)`: `initial_carry` (a pair), `seq_lengths`, `return_carry` and
    /// `time_major` override the attributes (`reverse` and `keep_order` are ignored, as
    /// in Flax).
    ///
    /// # Errors
    /// As [`RNN::forward_with`].
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::{Bidirectional, RNN, RnnArgs, SimpleCell};
    /// let bi = Bidirectional::new(RNN::new(SimpleCell::new(4)), RNN::new(SimpleCell::new(3)));
    /// let out = bi.forward_with(&Tensor::new(DType::F32, [2, 5, 3]), &RnnArgs::new().return_carry(true))?;
    /// assert_eq!(out.outputs().to_string(), "float32[2,5,7]");
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn forward_with(
        &self,
        x: &Tensor,
        args: &RnnArgs<BiCarry<F, B>>,
    ) -> Result<RnnOutput<BiCarry<F, B>>> {
        module_call(
            self,
            "forward",
            |call| {
                call.positional(x);
                args.record(call);
            },
            || {
                let (carry, y) = self.run(x, args)?;
                Ok(if args.return_carry.unwrap_or(self.return_carry) {
                    RnnOutput::WithCarry(carry, y)
                } else {
                    RnnOutput::Outputs(y)
                })
            },
        )
    }

    fn run(&self, x: &Tensor, args: &RnnArgs<BiCarry<F, B>>) -> Result<(BiCarry<F, B>, Tensor)> {
        let time_major = args.time_major.unwrap_or(self.time_major);
        let (forward_carry, backward_carry) = match &args.initial_carry {
            Some((f, b)) => (Some(f.clone()), Some(b.clone())),
            None => (None, None),
        };
        let forward = self.forward_rnn.forward_with(
            x,
            &RnnArgs {
                reverse: Some(false),
                ..inner_args(forward_carry, args.seq_lengths.clone(), time_major)
            },
        )?;
        let backward = self.backward_rnn.forward_with(
            x,
            &RnnArgs {
                reverse: Some(true),
                keep_order: Some(true),
                ..inner_args(backward_carry, args.seq_lengths.clone(), time_major)
            },
        )?;
        let (RnnOutput::WithCarry(cf, yf), RnnOutput::WithCarry(cb, yb)) = (forward, backward)
        else {
            return Err(Error::internal(
                "an RNN called with return_carry returns its carry",
            ));
        };
        Ok(((cf, cb), (self.merge_fn)(&yf, &yb)?))
    }
}

impl<F: RNNCell, B: RNNCell> Tabulate for Bidirectional<F, B> {
    fn type_name(&self) -> &'static str {
        "Bidirectional"
    }

    fn visit_submodules(&self, visitor: &mut dyn Visitor) {
        visitor.visit("forward_rnn", &self.forward_rnn);
        visitor.visit("backward_rnn", &self.backward_rnn);
    }

    fn identity(&self) -> Option<&ModuleIdentity> {
        Some(&self.identity)
    }

    fn fields_are_attributes(&self) -> bool {
        false
    }
}
