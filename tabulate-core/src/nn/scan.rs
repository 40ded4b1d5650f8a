//! The lifted `scan` (`flax.linen.scan`): a module applied over an axis of its inputs, as
//! one XLA `while` loop whose body is analysed once, whatever the length.
//!
//! [`scan`] wraps a module in a [`Scan`]; `RNN` runs the same loop ([`run`]) around its
//! cell. Both record the calls Flax's lifted transform records: a `<lambda>` call on the
//! root path (shown only with `show_repeated`), the body traced once outside the loop
//! (Flax's invariance check: its rows are the real ones, its ops dead code) and once
//! inside it (repeated rows).

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use crate::call;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::lax;
use crate::module::{ModuleIdentity, Tabulate, Visitor};
use crate::path::ModulePath;
use crate::tensor::Tensor;
use crate::trace;
use crate::value::Describe;

/// The tensors a scan carries from step to step, takes per step (`xs`) or stacks (`ys`):
/// one tensor, a tuple of them, a `Vec` of them, or `()` for none (Flax's `None`).
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::nn::Carry;
///
/// let pair = (Tensor::new(DType::F32, [2, 4]), Tensor::new(DType::F32, [2, 4]));
/// assert_eq!(pair.parts().len(), 2);
/// assert!(<(Tensor, Tensor)>::from_parts(&pair.parts()).is_ok());
/// ```
pub trait Carry: Clone + Describe {
    /// The tensors, in order.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::Carry;
    ///
    /// let (c, h) = (Tensor::new(DType::F32, [2, 8]), Tensor::new(DType::F32, [2, 8]));
    /// let parts = (c, h.clone()).parts();
    /// assert_eq!(parts.len(), 2);
    /// assert_eq!(h.parts().len(), 1); // a tensor is a carry of one
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    fn parts(&self) -> Vec<Tensor>;
    /// The value made of `parts`, as [`Carry::parts`] lists them.
    ///
    /// # Errors
    /// When `parts` has the wrong number of tensors.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::Carry;
    ///
    /// let h = Tensor::new(DType::F32, [2, 8]);
    /// let pair = <(Tensor, Tensor)>::from_parts(&[h.clone(), h.clone()])?;
    /// assert_eq!(pair.1.to_string(), "float32[2,8]");
    /// assert!(<(Tensor, Tensor)>::from_parts(&[h]).is_err()); // two parts expected
    /// # Ok::<(), tabulate::Error>(())
    /// ```
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

impl Carry for (Tensor, Tensor, Tensor) {
    fn parts(&self) -> Vec<Tensor> {
        vec![self.0.clone(), self.1.clone(), self.2.clone()]
    }

    fn from_parts(parts: &[Tensor]) -> Result<(Tensor, Tensor, Tensor)> {
        match parts {
            [a, b, c] => Ok((a.clone(), b.clone(), c.clone())),
            _ => Err(Error::invalid("a carry of three tensors was expected")),
        }
    }
}

impl Carry for Vec<Tensor> {
    fn parts(&self) -> Vec<Tensor> {
        self.clone()
    }

    fn from_parts(parts: &[Tensor]) -> Result<Vec<Tensor>> {
        Ok(parts.to_vec())
    }
}

impl Carry for () {
    fn parts(&self) -> Vec<Tensor> {
        Vec::new()
    }

    fn from_parts(parts: &[Tensor]) -> Result<()> {
        if parts.is_empty() {
            Ok(())
        } else {
            Err(Error::invalid("no tensors were expected"))
        }
    }
}

/// How one input or output of a scan meets the loop: sliced (stacked) along an axis, or
/// passed whole to every step (Flax's `nn.broadcast`).
///
/// ```
/// use tabulate::nn::ScanAxis;
///
/// assert_eq!(ScanAxis::from(1), ScanAxis::Axis(1));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScanAxis {
    /// Scanned along this axis (negative counts from the end).
    Axis(isize),
    /// The same value at every step (`nn.broadcast`); inputs only.
    Broadcast,
}

impl From<isize> for ScanAxis {
    fn from(axis: isize) -> ScanAxis {
        ScanAxis::Axis(axis)
    }
}

/// The axes of a scan's inputs (`in_axes`) or outputs (`out_axes`): one for all tensors,
/// or one per tensor in [`Carry::parts`] order.
///
/// ```
/// use tabulate::nn::{ScanAxes, ScanAxis};
///
/// assert_eq!(ScanAxes::from(1), ScanAxes::All(ScanAxis::Axis(1)));
/// let each = ScanAxes::from(vec![ScanAxis::Axis(0), ScanAxis::Broadcast]);
/// assert_eq!(each, ScanAxes::Each(vec![ScanAxis::Axis(0), ScanAxis::Broadcast]));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScanAxes {
    /// The same for every tensor.
    All(ScanAxis),
    /// One per tensor.
    Each(Vec<ScanAxis>),
}

impl From<isize> for ScanAxes {
    fn from(axis: isize) -> ScanAxes {
        ScanAxes::All(ScanAxis::Axis(axis))
    }
}

impl From<ScanAxis> for ScanAxes {
    fn from(axis: ScanAxis) -> ScanAxes {
        ScanAxes::All(axis)
    }
}

impl From<Vec<ScanAxis>> for ScanAxes {
    fn from(axes: Vec<ScanAxis>) -> ScanAxes {
        ScanAxes::Each(axes)
    }
}

impl ScanAxes {
    /// The axis of each of `n` tensors.
    fn each(&self, n: usize, what: &str) -> Result<Vec<ScanAxis>> {
        match self {
            ScanAxes::All(axis) => Ok(vec![*axis; n]),
            ScanAxes::Each(axes) if axes.len() == n => Ok(axes.clone()),
            ScanAxes::Each(axes) => Err(Error::invalid(format!(
                "scan: {what} gives {} axes for {n} tensors",
                axes.len()
            ))),
        }
    }
}

/// Variable collections, as Flax's `CollectionFilter` names them: none (`False`), all
/// (`True`) or some by name.
///
/// ```
/// use tabulate::nn::Collections;
///
/// assert!(Collections::from("params").contains("params"));
/// assert!(!Collections::from(false).contains("params"));
/// assert!(Collections::from(["params", "batch_stats"]).contains("batch_stats"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Collections {
    /// Every collection.
    All,
    /// The collections named.
    Only(Vec<String>),
}

impl Collections {
    /// Whether `collection` is one of them.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::Collections;
    ///
    /// let some = Collections::Only(vec!["params".to_string()]);
    /// assert!(some.contains("params") && !some.contains("batch_stats"));
    /// assert!(Collections::All.contains("cache"));
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    #[must_use]
    pub fn contains(&self, collection: &str) -> bool {
        match self {
            Collections::All => true,
            Collections::Only(names) => names.iter().any(|n| n == collection),
        }
    }
}

impl From<bool> for Collections {
    fn from(all: bool) -> Collections {
        if all {
            Collections::All
        } else {
            Collections::Only(Vec::new())
        }
    }
}

impl From<&str> for Collections {
    fn from(name: &str) -> Collections {
        Collections::Only(vec![name.to_string()])
    }
}

impl<const N: usize> From<[&str; N]> for Collections {
    fn from(names: [&str; N]) -> Collections {
        Collections::Only(names.iter().map(ToString::to_string).collect())
    }
}

impl From<Vec<String>> for Collections {
    fn from(names: Vec<String>) -> Collections {
        Collections::Only(names)
    }
}

/// The options of a lifted scan, with Flax's defaults (`flax.linen.scan`).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ScanOptions {
    pub(crate) variable_axes: Vec<(String, isize)>,
    pub(crate) variable_broadcast: Collections,
    pub(crate) split_rngs: Vec<(String, bool)>,
    pub(crate) in_axes: ScanAxes,
    pub(crate) out_axes: ScanAxes,
    pub(crate) length: Option<usize>,
    pub(crate) reverse: bool,
    pub(crate) unroll: usize,
}

impl Default for ScanOptions {
    fn default() -> ScanOptions {
        ScanOptions {
            variable_axes: Vec::new(),
            variable_broadcast: Collections::from(false),
            split_rngs: Vec::new(),
            in_axes: ScanAxes::from(0),
            out_axes: ScanAxes::from(0),
            length: None,
            reverse: false,
            unroll: 1,
        }
    }
}

/// `axis` of a `rank`-dimensional array, from the end when negative.
fn normalize(axis: isize, rank: usize, what: &str, spec: &dyn std::fmt::Display) -> Result<usize> {
    let r = isize::try_from(rank).unwrap_or(isize::MAX);
    let a = if axis < 0 { axis + r } else { axis };
    usize::try_from(a)
        .ok()
        .filter(|&a| a < rank)
        .ok_or_else(|| {
            Error::invalid(format!(
                "scan: {what} axis {axis} is out of range for {spec}"
            ))
        })
}

/// One step of a scan's body: `(carry, x) -> (carry, y)`.
pub(crate) type Step<'a, C, X, Y> = &'a dyn Fn(&C, &X) -> Result<(C, Y)>;

/// Runs `body` over the steps of `xs`, as Flax's lifted scan (`flax.core.lift.scan` over
/// `jax.lax.scan`): `(carry, ys)`. `lambda_of` is the module Flax records the `<lambda>`
/// call of.
pub(crate) fn run<C: Carry, X: Carry, Y: Carry>(
    options: &ScanOptions,
    lambda_of: &dyn Tabulate,
    init: &C,
    xs: &X,
    body: Step<'_, C, X, Y>,
) -> Result<(C, Y)> {
    if options.unroll != 1 {
        return Err(Error::invalid(format!(
            "scan: unroll={} is not modelled (only unroll=1)",
            options.unroll
        )));
    }
    let parts = xs.parts();
    let mut in_axes = Vec::with_capacity(parts.len());
    let mut lengths = Vec::new();
    for (x, axis) in parts
        .iter()
        .zip(options.in_axes.each(parts.len(), "in_axes")?)
    {
        match axis {
            ScanAxis::Axis(a) => {
                let a = normalize(a, x.rank(), "in_axes", x)?;
                lengths.push(x.shape().dims()[a]);
                in_axes.push(Some(a));
            }
            ScanAxis::Broadcast => in_axes.push(None),
        }
    }
    let length = match (options.length, lengths.first()) {
        (_, Some(&first)) if lengths.iter().any(|&l| l != first) => {
            return Err(Error::invalid(format!(
                "scan: inconsistent scan lengths {lengths:?}"
            )));
        }
        (Some(given), Some(&found)) if given != found => {
            return Err(Error::invalid(format!(
                "scan: length={given} but the scanned inputs have length {found}"
            )));
        }
        (Some(given), _) => given,
        (None, Some(&found)) => found,
        (None, None) => {
            return Err(Error::invalid(
                "scan: length should be specified manually (no input is scanned)",
            ));
        }
    };
    record_lambda(lambda_of);
    let rule = lift_rule(options);
    let split = options
        .split_rngs
        .iter()
        .filter(|(_, split)| *split)
        .map(|(stream, _)| stream.clone())
        .collect();
    trace::with_lifted(rule, split, length, || {
        passes(options, length, &init.parts(), &parts, &in_axes, body)
    })
}

/// How `options` lift each collection.
fn lift_rule(options: &ScanOptions) -> Box<dyn Fn(&str) -> trace::Lift> {
    let axes = options.variable_axes.clone();
    let broadcast = options.variable_broadcast.clone();
    Box::new(move |collection: &str| {
        if let Some((_, axis)) = axes.iter().find(|(c, _)| c == collection) {
            trace::Lift::Scanned(*axis)
        } else if broadcast.contains(collection) {
            trace::Lift::Broadcast
        } else {
            trace::Lift::Missing
        }
    })
}

/// The body traced outside the loop, then the loop.
fn passes<C: Carry, X: Carry, Y: Carry>(
    options: &ScanOptions,
    length: usize,
    init: &[Tensor],
    parts: &[Tensor],
    in_axes: &[Option<usize>],
    body: Step<'_, C, X, Y>,
) -> Result<(C, Y)> {
    // The loop's entries, in `jax.lax.scan`'s operand order: the carries, then the scanned
    // inputs (Flax's scanned variables first, then the arguments).
    let step_inputs = |in_loop: bool| -> Result<(C, X, Vec<usize>)> {
        let carry = init.iter().map(lax::loop_var).collect::<Result<Vec<_>>>()?;
        let var_axes = if in_loop {
            trace::enter_scanned_variables()?
        } else {
            Vec::new()
        };
        let x = parts
            .iter()
            .zip(in_axes)
            .map(|(x, axis)| match axis {
                Some(a) => lax::loop_slice(x, *a),
                None => Ok(x.clone()),
            })
            .collect::<Result<Vec<_>>>()?;
        Ok((C::from_parts(&carry)?, X::from_parts(&x)?, var_axes))
    };
    // Flax's `axes_scan` first traces the body once, outside the loop, to find its loop
    // invariants; that trace's ops are dead, but its calls are recorded (the real rows).
    let (carry, x, _) = step_inputs(false)?;
    let (out, _) = body(&carry, &x)?;
    check_carry(init, &out.parts())?;
    let (carry, ys, vars) = trace::loop_region(|| {
        let (carry, x, var_axes) = step_inputs(true)?;
        let (carry, y) = body(&carry, &x)?;
        let carry = carry.parts();
        check_carry(init, &carry)?;
        let y = y.parts();
        let mut out_axes = Vec::with_capacity(y.len() + var_axes.len());
        for (t, axis) in y.iter().zip(options.out_axes.each(y.len(), "out_axes")?) {
            match axis {
                ScanAxis::Axis(a) => out_axes.push(normalize(a, t.rank() + 1, "out_axes", t)?),
                ScanAxis::Broadcast => {
                    return Err(Error::invalid(
                        "scan: broadcast outputs (out_axes=nn.broadcast) are not modelled",
                    ));
                }
            }
        }
        // The scanned variables leave the loop stacked, after the outputs (`(y, scan_vars)`).
        let mut stacked = y.clone();
        stacked.extend(trace::scanned_variable_values());
        let sliced = !var_axes.is_empty() || in_axes.iter().any(Option::is_some);
        out_axes.extend(var_axes);
        // One `while` stacks every output along one axis; JAX stacks along 0 and moves
        // the axis after the loop (a transpose: free), which is what differing axes take.
        let common = match out_axes.first() {
            Some(&first) if out_axes.iter().all(|&a| a == first) => first,
            _ => 0,
        };
        let mut out = lax::loop_exit(&carry, &stacked, length, common, options.reverse, sliced)?;
        let mut ys = out.split_off(carry.len());
        let vars = ys.split_off(y.len());
        let var_axes = out_axes.split_off(y.len());
        let restack = |ts: Vec<Tensor>, axes: Vec<usize>| -> Vec<(Tensor, usize, usize)> {
            ts.into_iter()
                .zip(axes)
                .map(|(t, a)| (t, a, common))
                .collect()
        };
        Ok((out, restack(ys, out_axes), restack(vars, var_axes)))
    })?;
    let moved = |ts: Vec<(Tensor, usize, usize)>| -> Result<Vec<Tensor>> {
        ts.into_iter()
            .map(|(t, axis, stacked)| {
                if axis == stacked {
                    Ok(t)
                } else {
                    move_axis(&t, stacked, axis)
                }
            })
            .collect()
    };
    let ys = moved(ys)?;
    trace::leave_scanned_variables(&moved(vars)?);
    Ok((C::from_parts(&carry)?, Y::from_parts(&ys)?))
}

/// `jnp.moveaxis(y, from, to)`.
fn move_axis(y: &Tensor, from: usize, to: usize) -> Result<Tensor> {
    let mut perm: Vec<usize> = (0..y.rank()).filter(|&d| d != from).collect();
    perm.insert(to, from);
    y.transpose(&perm)
}

/// The carry must keep its dtypes and shapes from step to step (`jax.lax.scan`'s check).
fn check_carry(init: &[Tensor], out: &[Tensor]) -> Result<()> {
    let same = init.len() == out.len() && init.iter().zip(out).all(|(a, b)| a.spec() == b.spec());
    if same {
        return Ok(());
    }
    let show = |ts: &[Tensor]| {
        ts.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    Err(Error::invalid(format!(
        "scan: the body's carry output [{}] differs from its carry input [{}]",
        show(out),
        show(init)
    )))
}

/// Flax's lifted scan records one `<lambda>` call of the scanned module on the root path,
/// with an `int32` scalar; it only shows with `show_repeated`.
fn record_lambda(module: &dyn Tabulate) {
    let counter = Tensor::new(DType::I32, []);
    let guard = call::enter_lifted_call(module, "<lambda>", Some(ModulePath::root()), |args| {
        args.positional(&counter);
    });
    guard.exit(&counter);
}

/// `"Scan" + name`, interned: the class `nn.scan` makes (`ScanLSTMCell`).
fn scan_type_name(inner: &'static str) -> &'static str {
    static NAMES: OnceLock<Mutex<HashMap<&'static str, &'static str>>> = OnceLock::new();
    let mut names = NAMES
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    names
        .entry(inner)
        .or_insert_with(|| Box::leak(format!("Scan{inner}").into_boxed_str()))
}

/// `flax.linen.scan` of a module class: `module` applied over an axis of its inputs.
///
/// The rows are Flax's: the module's calls are named after the scan (`ScanCell_0`, or the
/// scan's [`Scan::name`]) and show the module's own type with per-step shapes; the body is
/// traced twice (the second call is a repeated row), and the whole loop counts once in its
/// parent, whatever the length. Flax's defaults: no collection is broadcast or scanned,
/// so a module with parameters needs [`Scan::variable_broadcast`] or
/// [`Scan::variable_axes`].
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::nn::{self, Dense};
///
/// #[derive(Tabulate)]
/// struct Cell;
///
/// impl Cell {
///     #[forward]
///     fn forward(&self, c: &Tensor, x: &Tensor) -> Result<(Tensor, Tensor)> {
///         let h = nn::tanh(&Dense::new(4).forward(x)?.add(&Dense::new(4).forward(c)?)?)?;
///         Ok((h.clone(), h))
///     }
/// }
///
/// let c = Tensor::zeros(DType::F32, [2, 4])?;
/// let x = Tensor::new(DType::F32, [2, 5, 3]);
/// let (carry, ys) = nn::scan(Cell)
///     .variable_broadcast("params")
///     .split_rngs([("params", false)])
///     .in_axes(1)
///     .out_axes(1)
///     .call(&c, &x, Cell::forward)?;
/// assert_eq!((carry.to_string(), ys.to_string()), ("float32[2,4]".into(), "float32[2,5,4]".into()));
/// # Ok::<(), tabulate::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Scan<M> {
    /// The module applied at every step.
    pub module: M,
    options: ScanOptions,
    identity: ModuleIdentity,
}

/// Wraps `module` in a lifted scan (`nn.scan(Module, …)`), with Flax's defaults; see
/// [`Scan`].
///
/// ```
/// use tabulate::nn::{self, Dense};
///
/// let scan = nn::scan(Dense::new(4)).variable_broadcast("params").length(3);
/// assert_eq!(scan.module.features, 4);
/// ```
pub fn scan<M: Tabulate>(module: M) -> Scan<M> {
    Scan {
        module,
        options: ScanOptions::default(),
        identity: ModuleIdentity::new(),
    }
}

impl<M: Tabulate> Scan<M> {
    /// Names the scan, as Flax's `name=`: the module's calls take this path.
    ///
    /// ```
    /// use tabulate::nn::{self, Dense};
    /// let scan = nn::scan(Dense::new(4)).name("steps");
    /// # let _ = scan;
    /// ```
    #[must_use]
    pub fn name(mut self, name: impl Into<String>) -> Scan<M> {
        self.identity.set_name(name);
        self
    }

    /// Collections scanned over: each step sees its slice along `axis` of a variable
    /// stacked over the steps (`variable_axes={'params': 0}`).
    ///
    /// ```
    /// use tabulate::nn::{self, Dense};
    /// let scan = nn::scan(Dense::new(4)).variable_axes([("params", 0)]);
    /// # let _ = scan;
    /// ```
    #[must_use]
    pub fn variable_axes<const N: usize>(mut self, axes: [(&str, isize); N]) -> Scan<M> {
        self.options.variable_axes = axes.iter().map(|(c, a)| ((*c).to_string(), *a)).collect();
        self
    }

    /// Collections shared by every step (`variable_broadcast='params'`).
    ///
    /// ```
    /// use tabulate::nn::{self, Dense};
    /// let scan = nn::scan(Dense::new(4)).variable_broadcast("params");
    /// # let _ = scan;
    /// ```
    #[must_use]
    pub fn variable_broadcast(mut self, collections: impl Into<Collections>) -> Scan<M> {
        self.options.variable_broadcast = collections.into();
        self
    }

    /// Whether each random stream is split per step (`split_rngs={'params': False}`).
    ///
    /// ```
    /// use tabulate::nn::{self, Dense};
    /// let scan = nn::scan(Dense::new(4)).split_rngs([("params", false)]);
    /// # let _ = scan;
    /// ```
    #[must_use]
    pub fn split_rngs<const N: usize>(mut self, splits: [(&str, bool); N]) -> Scan<M> {
        self.options.split_rngs = splits.iter().map(|(s, b)| ((*s).to_string(), *b)).collect();
        self
    }

    /// The axis of the scanned inputs (default 0), one for all or one per tensor.
    ///
    /// ```
    /// use tabulate::nn::{self, Dense, ScanAxis};
    /// let scan = nn::scan(Dense::new(4)).in_axes(vec![ScanAxis::Axis(1), ScanAxis::Broadcast]);
    /// # let _ = scan;
    /// ```
    #[must_use]
    pub fn in_axes(mut self, axes: impl Into<ScanAxes>) -> Scan<M> {
        self.options.in_axes = axes.into();
        self
    }

    /// The axis the outputs are stacked along (default 0).
    ///
    /// ```
    /// use tabulate::nn::{self, Dense};
    /// let scan = nn::scan(Dense::new(4)).out_axes(1);
    /// # let _ = scan;
    /// ```
    #[must_use]
    pub fn out_axes(mut self, axes: impl Into<ScanAxes>) -> Scan<M> {
        self.options.out_axes = axes.into();
        self
    }

    /// The number of steps, needed when no input is scanned.
    ///
    /// ```
    /// use tabulate::nn::{self, Dense};
    /// let scan = nn::scan(Dense::new(4)).length(4);
    /// # let _ = scan;
    /// ```
    #[must_use]
    pub fn length(mut self, length: usize) -> Scan<M> {
        self.options.length = Some(length);
        self
    }

    /// Runs the steps from the last to the first (the `while` then computes a reversed
    /// index: two more ops).
    ///
    /// ```
    /// use tabulate::nn::{self, Dense};
    /// let scan = nn::scan(Dense::new(4)).reverse(true);
    /// # let _ = scan;
    /// ```
    #[must_use]
    pub fn reverse(mut self, reverse: bool) -> Scan<M> {
        self.options.reverse = reverse;
        self
    }

    /// Steps per loop iteration (default 1). Other values change XLA's program and are
    /// not modelled: the call is an error.
    ///
    /// ```
    /// use tabulate::nn::{self, Dense};
    /// let scan = nn::scan(Dense::new(4)).unroll(1);
    /// # let _ = scan;
    /// ```
    #[must_use]
    pub fn unroll(mut self, unroll: usize) -> Scan<M> {
        self.options.unroll = unroll;
        self
    }

    /// Applies the scanned module: `step(module, carry, x)` runs one step on the per-step
    /// slices of `xs` (usually a call of the module's `#[forward]` method); the result is
    /// Flax's `(carry, ys)`.
    ///
    /// # Errors
    /// Inconsistent lengths, a carry that changes shape, a variable in a collection that
    /// is neither broadcast nor scanned, and whatever the step returns.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::{self, LSTMCell, RNNCell};
    ///
    /// let cell = LSTMCell::new(8);
    /// let carry = cell.initialize_carry(&[4, 3])?;
    /// let xs = Tensor::new(DType::F32, [4, 12, 3]);
    /// let scan = nn::scan(cell).variable_broadcast("params").in_axes(1).out_axes(1);
    /// let (_, ys) = scan.call(&carry, &xs, LSTMCell::forward)?;
    /// assert_eq!(ys.to_string(), "float32[4,12,8]");
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn call<C: Carry, X: Carry, Y: Carry>(
        &self,
        carry: &C,
        xs: &X,
        step: impl Fn(&M, &C, &X) -> Result<(C, Y)>,
    ) -> Result<(C, Y)> {
        let body = |c: &C, x: &X| -> Result<(C, Y)> {
            match trace::module_path(self) {
                Some(path) => trace::with_alias(&self.module, path, || step(&self.module, c, x)),
                None => step(&self.module, c, x),
            }
        };
        run(&self.options, self, carry, xs, &body)
    }
}

impl<M: Tabulate> Tabulate for Scan<M> {
    fn type_name(&self) -> &'static str {
        scan_type_name(self.module.type_name())
    }

    fn visit_submodules(&self, visitor: &mut dyn Visitor) {
        self.module.visit_submodules(visitor);
    }

    fn identity(&self) -> Option<&ModuleIdentity> {
        Some(&self.identity)
    }
}
