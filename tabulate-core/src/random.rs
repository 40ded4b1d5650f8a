//! Random numbers as `jax.random` draws them, abstractly: keys are `uint32[2]` tensors
//! and draws have only a dtype and a shape, but every draw records the primitives JAX's
//! threefry implementation runs (`random_bits` as `iota_2x32_shape`, `threefry2x32` and
//! an `xor`; `uniform`'s bit tricks; `bernoulli`'s compare, each in the nested `jit` JAX
//! puts it in), so stochastic layers cost in a summary what they cost in XLA.
//!
//! ```
//! use tabulate::prelude::*;
//! use tabulate::random;
//!
//! #[derive(Tabulate)]
//! struct Noise;
//!
//! impl Noise {
//!     #[forward]
//!     fn forward(&self, x: &Tensor) -> Result<Tensor> {
//!         let key = random::make_rng("noise")?;
//!         let keep = random::bernoulli(&key, 0.5, x.shape().dims())?;
//!         keep.astype(x.dtype())?.mul(x)
//!     }
//! }
//!
//! let x = Tensor::new(DType::F32, [4, 8]);
//! let summary = tabulate(&Noise).rngs(["noise"]).compute_flops(true).run(|n| n.forward(&x))?;
//! // As Flax counts `Dropout(0.5)` on float32[4,8]: threefry costs ~40 flops per element.
//! assert_eq!(summary.rows[0].flops(), Some(1360));
//! assert!(tabulate(&Noise).run(|n| n.forward(&x)).is_err()); // no `noise` stream
//! # Ok::<(), tabulate::Error>(())
//! ```

use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::lax::{self, Binary, Cmp};
use crate::shape::Shape;
use crate::spec::Spec;
use crate::tensor::Tensor;
use crate::trace;

/// A fresh key from random stream `stream` for the current module call, as Flax's
/// `self.make_rng(stream)`: the stream's key folded with a constant of the call's path.
/// In a summary run, an error if the run does not provide the stream
/// ([`Tabulator::rngs`](crate::Tabulator::rngs); `params` is always provided); outside
/// one, a fresh key, so that stochastic layers also run without a summary.
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::random;
///
/// #[derive(Tabulate)]
/// struct Noise;
///
/// impl Noise {
///     #[forward]
///     fn forward(&self, x: &Tensor) -> Result<Tensor> {
///         let key = random::make_rng("noise")?;
///         random::uniform(&key, x.shape().dims())?.add(x)
///     }
/// }
///
/// let x = Tensor::new(DType::F32, [4, 8]);
/// let summary = tabulate(&Noise).rngs(["noise"]).run(|n| n.forward(&x))?;
/// assert_eq!(summary.rows[0].outputs, tabulate::Value::Array { dtype: DType::F32, shape: [4, 8].into() });
/// assert_eq!(random::make_rng("noise")?.to_string(), "key<fry>[]"); // outside a run: a fresh typed key
/// # Ok::<(), tabulate::Error>(())
/// ```
pub fn make_rng(stream: &str) -> Result<Tensor> {
    lax::fold_in(&trace::rng_key(stream)?)
}

/// A typed PRNG key made outside the model and passed to it, as `jax.random.key(seed)`
/// (the seed does not change the table): shown `key<fry>[]`. An old-style key
/// (`jax.random.PRNGKey(seed)`) is `Tensor::new(DType::U32, [2])`, shown `uint32[2]`.
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::random;
///
/// #[derive(Tabulate)]
/// struct Noisy;
///
/// impl Noisy {
///     #[forward]
///     fn forward(&self, x: &Tensor, key: &Tensor) -> Result<Tensor> {
///         x.add(&random::normal(key, x.shape().dims())?)
///     }
/// }
///
/// let x = Tensor::new(DType::F32, [4, 6]);
/// let typed = tabulate(&Noisy).compute_flops(true).run(|m| m.forward(&x, &random::key()))?;
/// let old = Tensor::new(DType::U32, [2]);
/// let raw = tabulate(&Noisy).compute_flops(true).run(|m| m.forward(&x, &old))?;
/// // As Flax: a typed key input costs one `Sharding` custom call (-1) less.
/// assert_eq!((typed.rows[0].flops(), raw.rows[0].flops()), (Some(1859), Some(1860)));
/// # Ok::<(), tabulate::Error>(())
/// ```
pub fn key() -> Tensor {
    Tensor::new(DType::U32, [2]).into_typed_key()
}

/// `jax.random.bits(key, shape)` (32-bit): the threefry hash of each element's index.
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::random;
///
/// #[derive(Tabulate)]
/// struct Noise;
///
/// impl Noise {
///     #[forward]
///     fn forward(&self, x: &Tensor) -> Result<Tensor> {
///         let key = random::make_rng("noise")?;
///         random::bits(&key, x.shape().dims())
///     }
/// }
///
/// let x = Tensor::new(DType::F32, [4, 8]);
/// let summary = tabulate(&Noise).rngs(["noise"]).run(|n| n.forward(&x))?;
/// assert_eq!(summary.rows[0].outputs, tabulate::Value::Array { dtype: DType::U32, shape: [4, 8].into() });
/// # Ok::<(), tabulate::Error>(())
/// ```
pub fn bits(key: &Tensor, shape: &[usize]) -> Result<Tensor> {
    let (hi, lo) = lax::iota_2x32_shape(Shape::new(shape.to_vec()))?;
    let (b1, b2) = lax::threefry2x32(key, &hi, &lo)?;
    lax::binary(Binary::Xor, &b1, &b2)
}

/// `jax.random.uniform(key, shape)` in float32 over `[0, 1)`: a nested `jit` (JAX's
/// `_uniform`) that builds floats from the top 23 random bits.
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::random;
///
/// #[derive(Tabulate)]
/// struct Noise;
///
/// impl Noise {
///     #[forward]
///     fn forward(&self, x: &Tensor) -> Result<Tensor> {
///         let key = random::make_rng("noise")?;
///         random::uniform(&key, &[4, 8])
///     }
/// }
///
/// let x = Tensor::new(DType::F32, [4, 8]);
/// let summary = tabulate(&Noise).rngs(["noise"]).run(|n| n.forward(&x))?;
/// assert_eq!(summary.rows[0].outputs, tabulate::Value::Array { dtype: DType::F32, shape: [4, 8].into() });
/// # Ok::<(), tabulate::Error>(())
/// ```
pub fn uniform(key: &Tensor, shape: &[usize]) -> Result<Tensor> {
    uniform_with(key, shape, 0.0, 1.0)
}

/// `jax.random.uniform(key, shape, minval=minval, maxval=maxval)` in float32 over
/// `[minval, maxval)`: JAX's `_uniform` with the bounds as its arguments (their cost
/// does not depend on their values).
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::random;
///
/// #[derive(Tabulate)]
/// struct Jitter;
///
/// impl Jitter {
///     #[forward]
///     fn forward(&self, x: &Tensor) -> Result<Tensor> {
///         let key = random::make_rng("noise")?;
///         x.add(&random::uniform_with(&key, x.shape().dims(), -0.1, 0.1)?)
///     }
/// }
///
/// let x = Tensor::new(DType::F32, [4, 6]);
/// let summary = tabulate(&Jitter).rngs(["noise"]).compute_flops(true).run(|m| m.forward(&x))?;
/// assert_eq!(summary.rows[0].flops(), Some(984)); // as Flax counts it
/// # Ok::<(), tabulate::Error>(())
/// ```
pub fn uniform_with(key: &Tensor, shape: &[usize], minval: f64, maxval: f64) -> Result<Tensor> {
    let minval = Tensor::full(minval, DType::F32, Shape::scalar())?;
    let maxval = Tensor::full(maxval, DType::F32, Shape::scalar())?;
    trace::call_region("_uniform", &[key, &minval, &maxval], || {
        // The bounds are call parameters here: nothing on them folds.
        let ones = Shape::new(vec![1; shape.len()]);
        let lo = minval.astype(DType::F32)?.reshape(&ones)?;
        let hi = maxval.astype(DType::F32)?.reshape(&ones)?;
        let words = bits(key, shape)?;
        let mantissa = lax::binary(Binary::ShiftRightLogical, &words, &u32_full(9, shape)?)?;
        let one_to_two = lax::binary(Binary::Or, &mantissa, &u32_full(0x3F80_0000, shape)?)?;
        let floats = lax::bitcast_convert(&one_to_two, DType::F32)?;
        let unit = floats.sub(1.0)?;
        let scaled = unit.mul(&hi.sub(&lo)?)?.add(&lo)?;
        lax::binary(Binary::Max, &lo, &scaled)
    })
}

/// `jax.random.normal(key, shape)` in float32: `√2 · erf_inv(u)` of a uniform `u` over
/// `(-1, 1)`, inside JAX's nested `_normal` and `_normal_real` `jit`s.
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::random;
///
/// #[derive(Tabulate)]
/// struct Noise;
///
/// impl Noise {
///     #[forward]
///     fn forward(&self, x: &Tensor) -> Result<Tensor> {
///         let key = random::make_rng("noise")?;
///         x.add(&random::normal(&key, x.shape().dims())?)
///     }
/// }
///
/// let x = Tensor::new(DType::F32, [4, 6]);
/// let summary = tabulate(&Noise).rngs(["noise"]).compute_flops(true).run(|m| m.forward(&x))?;
/// assert_eq!(summary.rows[0].flops(), Some(1896)); // as Flax counts it
/// # Ok::<(), tabulate::Error>(())
/// ```
pub fn normal(key: &Tensor, shape: &[usize]) -> Result<Tensor> {
    trace::call_region("_normal", &[key], || {
        trace::call_region("_normal_real", &[key], || {
            // `np.nextafter(-1., 0.)` in float32: the open interval (-1, 1).
            let lo = f64::from(f32::from_bits(0xBF7F_FFFF));
            let u = uniform_with(key, shape, lo, 1.0)?;
            let r = u.erf_inv()?;
            Tensor::full(std::f64::consts::SQRT_2, DType::F32, Shape::scalar())?.mul(&r)
        })
    })
}

/// `jax.random.bernoulli(key, p, shape)`: `true` with probability `p`, as `uniform < p`
/// in JAX's nested `_bernoulli` `jit`.
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::random;
///
/// #[derive(Tabulate)]
/// struct Noise;
///
/// impl Noise {
///     #[forward]
///     fn forward(&self, x: &Tensor) -> Result<Tensor> {
///         let key = random::make_rng("noise")?;
///         random::bernoulli(&key, 0.9, x.shape().dims())
///     }
/// }
///
/// let x = Tensor::new(DType::F32, [4, 8]);
/// let summary = tabulate(&Noise).rngs(["noise"]).run(|n| n.forward(&x))?;
/// assert_eq!(summary.rows[0].outputs, tabulate::Value::Array { dtype: DType::Bool, shape: [4, 8].into() });
/// # Ok::<(), tabulate::Error>(())
/// ```
pub fn bernoulli(key: &Tensor, p: f64, shape: &[usize]) -> Result<Tensor> {
    if !(0.0..=1.0).contains(&p) {
        return Err(Error::invalid(format!(
            "bernoulli: p must be in [0, 1], got {p}"
        )));
    }
    let p = Tensor::full(p, DType::F32, Shape::scalar())?;
    trace::call_region("_bernoulli", &[key, &p], || {
        let u = uniform(key, shape)?;
        lax::compare(Cmp::Lt, &u, &p.broadcast_to(u.shape().clone())?)
    })
}

fn u32_full(value: u32, shape: &[usize]) -> Result<Tensor> {
    lax::constant(f64::from(value), Spec::new(DType::U32, shape.to_vec()))
}
