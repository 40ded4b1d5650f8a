//! Recurrent cells and `RNN` (`flax.linen.recurrent`): `LSTMCell`, `GRUCell`,
//! `SimpleCell`, and `RNN`, a `scan` of a cell over the time axis.

use super::activation::{sigmoid, tanh};
use super::initializers;
use super::linear::{Dense, layer_common};
use crate::call::{self, module_call};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::lax;
use crate::module::{ModuleIdentity, Tabulate, Visitor};
use crate::tensor::Tensor;
use crate::trace;
use crate::value::Describe;
use crate::variable::Initializer;

/// The state a cell carries from one step to the next: one tensor, or a pair (LSTM's
/// `(c, h)`).
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::nn::Carry;
///
/// let c = Tensor::new(DType::F32, [2, 4]);
/// let pair = (c.clone(), c.clone()); // LSTM's (c, h)
/// assert_eq!(pair.parts().len(), 2);
/// assert!(<(Tensor, Tensor)>::from_parts(&pair.parts()).is_ok());
/// assert!(Tensor::from_parts(&pair.parts()).is_err());
/// ```
pub trait Carry: Clone + Describe {
    /// The tensors, in order.
    fn parts(&self) -> Vec<Tensor>;
    /// The carry made of `parts`, as [`Carry::parts`] lists them.
    fn from_parts(parts: &[Tensor]) -> Result<Self>;
}

impl Carry for Tensor {
    fn parts(&self) -> Vec<Tensor> {
        vec![self.clone()]
    }

    fn from_parts(parts: &[Tensor]) -> Result<Tensor> {
        match parts {
            [t] => Ok(t.clone()),
            _ => Err(Error::invalid("a carry of one tensor was expected")),
        }
    }
}

impl Carry for (Tensor, Tensor) {
    fn parts(&self) -> Vec<Tensor> {
        vec![self.0.clone(), self.1.clone()]
    }

    fn from_parts(parts: &[Tensor]) -> Result<(Tensor, Tensor)> {
        match parts {
            [a, b] => Ok((a.clone(), b.clone())),
            _ => Err(Error::invalid("a carry of two tensors was expected")),
        }
    }
}

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
    fn step(&self, carry: &Self::Carry, x: &Tensor) -> Result<(Self::Carry, Tensor)>;

    /// The zero carry for inputs of `input_shape` (`[batch…, features]`).
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

            /// Sets the dtype of the computation.
            #[must_use]
            pub fn dtype(mut self, dtype: DType) -> $ty {
                self.dtype = Some(dtype);
                self
            }

            /// Sets the dtype of the parameters.
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

layer_common!(LSTMCell, "LSTMCell");

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

layer_common!(GRUCell, "GRUCell");

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

layer_common!(SimpleCell, "SimpleCell");

/// A cell scanned over the time axis of `[batch…, time, features]` inputs
/// (`flax.linen.RNN`, batch-major, zero initial carry), returning every step's output.
///
/// As in Flax, the scan is an XLA `while` loop whose body counts once whatever the
/// length, and the rows show the cell as Flax's lifted `scan` records it: named next to
/// the `RNN` when built in the same method (`LSTMCell_0`), with per-step shapes.
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
pub struct RNN<C> {
    /// The cell applied at every step.
    pub cell: C,
    identity: ModuleIdentity,
}

impl<C: RNNCell> RNN<C> {
    /// An RNN of `cell`.
    pub fn new(cell: C) -> RNN<C> {
        RNN {
            cell,
            identity: ModuleIdentity::new(),
        }
    }

    /// Names the module, as Flax's `name=`.
    #[must_use]
    pub fn name(mut self, name: impl Into<String>) -> RNN<C> {
        self.identity.set_name(name);
        self
    }

    /// The outputs of every step, `[batch…, time, hidden]`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        module_call(self, "forward", |args| args.positional(x), || self.scan(x))
    }

    fn scan(&self, x: &Tensor) -> Result<Tensor> {
        if x.rank() < 2 {
            return Err(Error::invalid(format!(
                "RNN: inputs must be [batch…, time, features], got {x}"
            )));
        }
        let time_axis = x.rank() - 2;
        let length = x.shape().dims()[time_axis];
        let mut step_shape = x.shape().dims().to_vec();
        step_shape.remove(time_axis);
        let init = self.cell.initialize_carry(&step_shape)?;
        self.record_lifted_lambda();
        // Flax's `axes_scan` first traces the body once, outside the loop, to find its
        // loop invariants; that trace's ops are dead, but its calls are recorded.
        let carry = C::Carry::from_parts(
            &init
                .parts()
                .iter()
                .map(lax::loop_var)
                .collect::<Result<Vec<_>>>()?,
        )?;
        self.scan_fn(&carry, &lax::loop_slice(x, time_axis)?)?;
        trace::loop_region(|| {
            let carry = C::Carry::from_parts(
                &init
                    .parts()
                    .iter()
                    .map(lax::loop_var)
                    .collect::<Result<Vec<_>>>()?,
            )?;
            let (carry, y) = self.scan_fn(&carry, &lax::loop_slice(x, time_axis)?)?;
            let mut out = lax::loop_exit(&carry.parts(), &[y], length, time_axis)?;
            out.pop()
                .ok_or_else(|| Error::internal("the loop has no output"))
        })
    }

    /// Flax's lifted `scan` records one `<lambda>` call of the cell, next to the `RNN`,
    /// with an `int32` scalar; it only shows with `show_repeated`.
    fn record_lifted_lambda(&self) {
        let counter = Tensor::new(DType::I32, []);
        let guard =
            call::enter_lifted_call(&self.cell, "<lambda>", Some(trace::parent_path()), |args| {
                args.positional(&counter);
            });
        guard.exit(&counter);
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
