//! Attention (`flax.linen.attention`): `dot_product_attention(_weights)`, the masks, and
//! `MultiHeadDotProductAttention` / `SelfAttention`.

use super::activation::softmax;
use super::initializers;
use super::linear::{DenseGeneral, einsum2, layer_common};
use super::promote_dtype;
use super::stochastic::dropout_mask;
use crate::call::module_call;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::module::{ModuleIdentity, Tabulate};
use crate::shape::Shape;
use crate::tensor::Tensor;
use crate::value::CallArgs;
use crate::variable::Initializer;

/// Letters for `n` leading batch dimensions of an einsum (`...` in Flax's strings).
fn batch_letters(n: usize) -> String {
    "ABCDEFGHIJKLMNOP".chars().take(n).collect()
}

/// Dropout of attention weights: the rate, the random stream, and whether one mask is
/// shared across the batch dimensions (Flax's `broadcast_dropout`, default `true`).
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::nn::{AttentionDropout, AttentionOptions, dot_product_attention};
///
/// #[derive(Tabulate)]
/// struct Attend;
///
/// impl Attend {
///     #[forward]
///     fn forward(&self, q: &Tensor) -> Result<Tensor> {
///         let dropout = AttentionDropout { rate: 0.1, broadcast: true };
///         let options = AttentionOptions { dropout: Some(dropout), ..AttentionOptions::default() };
///         dot_product_attention(q, q, q, &options)
///     }
/// }
///
/// let q = Tensor::new(DType::F32, [2, 5, 4, 8]);
/// assert!(tabulate(&Attend).rngs(["dropout"]).run(|m| m.forward(&q)).is_ok());
/// assert!(tabulate(&Attend).run(|m| m.forward(&q)).is_err()); // needs the `dropout` stream
/// # Ok::<(), tabulate::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct AttentionDropout {
    /// Probability of dropping a weight.
    pub rate: f64,
    /// Whether one mask serves every batch element and head.
    pub broadcast: bool,
}

/// The optional parts of a dot-product attention.
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::nn::{AttentionOptions, dot_product_attention, make_causal_mask};
///
/// let q = Tensor::new(DType::F32, [2, 5, 4, 8]); // [batch, length, heads, depth]
/// let mask = make_causal_mask(&Tensor::new(DType::I32, [2, 5]))?;
/// let options = AttentionOptions { mask: Some(&mask), ..AttentionOptions::default() };
/// assert_eq!(dot_product_attention(&q, &q, &q, &options)?.shape().dims(), [2, 5, 4, 8]);
/// # Ok::<(), tabulate::Error>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct AttentionOptions<'a> {
    /// Added to the logits (`[batch…, heads, q_len, kv_len]`).
    pub bias: Option<&'a Tensor>,
    /// Where false (or zero), the weight is masked out.
    pub mask: Option<&'a Tensor>,
    /// Weight dropout, applied only when given.
    pub dropout: Option<AttentionDropout>,
    /// The dtype of the computation.
    pub dtype: Option<DType>,
}

fn check_qk(query: &Tensor, key: &Tensor) -> Result<()> {
    let (q, k) = (query.shape().dims(), key.shape().dims());
    let fail = |why: &str| {
        Err(Error::invalid(format!(
            "dot_product_attention: {why}: query {query}, key {key}"
        )))
    };
    if query.rank() < 3 || q.len() != k.len() {
        return fail(
            "query and key must have the same rank, at least 3 ([batch…, length, heads, depth])",
        );
    }
    let n = q.len();
    if q[..n - 3] != k[..n - 3] {
        return fail("batch dimensions differ");
    }
    if q[n - 2] != k[n - 2] {
        return fail("the number of heads differs");
    }
    if q[n - 1] != k[n - 1] {
        return fail("the depths differ");
    }
    Ok(())
}

/// `flax.linen.dot_product_attention_weights`: `softmax(q·kᵀ / √depth)` over the key
/// axis, masked and with dropout when asked; `[batch…, heads, q_len, kv_len]`.
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::nn::{AttentionOptions, dot_product_attention_weights};
///
/// let q = Tensor::new(DType::F32, [2, 5, 4, 8]);
/// let k = Tensor::new(DType::F32, [2, 7, 4, 8]);
/// let weights = dot_product_attention_weights(&q, &k, &AttentionOptions::default())?;
/// assert_eq!(weights.shape().dims(), [2, 4, 5, 7]); // [batch, heads, q_len, kv_len]
/// # Ok::<(), tabulate::Error>(())
/// ```
pub fn dot_product_attention_weights(
    query: &Tensor,
    key: &Tensor,
    options: &AttentionOptions<'_>,
) -> Result<Tensor> {
    let _operation = crate::scope::operation("nn::dot_product_attention_weights");
    let dtype = promote_dtype(options.dtype, &[Some(query), Some(key)], true);
    let query = query.astype(dtype)?;
    let key = key.astype(dtype)?;
    check_qk(&query, &key)?;
    let depth = query.dim(-1)?;
    // `jnp.sqrt(depth)` of a Python int is folded into a constant.
    let scale = Tensor::full(
        f64::from(u32::try_from(depth).unwrap_or(u32::MAX)),
        DType::F32,
        Shape::scalar(),
    )?
    .sqrt()?
    .astype(dtype)?;
    let query = query.div(&scale)?;
    let b = batch_letters(query.rank() - 3);
    let mut weights = einsum2(
        &format!("{b}qhd"),
        &format!("{b}khd"),
        &format!("{b}hqk"),
        &query,
        &key,
    )?;
    if let Some(bias) = options.bias {
        weights = weights.add(bias)?;
    }
    if let Some(mask) = options.mask {
        let big_neg = Tensor::full(f64::from(f32::MIN), dtype, Shape::scalar())?;
        weights = mask.select(&weights, &big_neg)?;
    }
    let mut weights = softmax(&weights)?.astype(dtype)?;
    if let Some(dropout) = &options.dropout
        && dropout.rate > 0.0
    {
        let shape = if dropout.broadcast {
            let mut shape = vec![1; key.rank() - 2];
            shape.extend_from_slice(&weights.shape().dims()[weights.rank() - 2..]);
            Shape::new(shape)
        } else {
            weights.shape().clone()
        };
        let keep = dropout_mask("dropout", 1.0 - dropout.rate, shape.dims())?;
        let multiplier = keep.astype(dtype)?.div(1.0 - dropout.rate)?;
        weights = weights.mul(&multiplier)?;
    }
    Ok(weights)
}

/// `flax.linen.dot_product_attention`: the attention weights applied to `value`;
/// `[batch…, q_len, heads, depth]`.
///
/// Key and value may have fewer heads than the query (grouped-query attention, as
/// Llama 2 70B uses) when the inputs are `[batch, length, heads, depth]`, float32, and
/// the key heads divide the query heads. Flax 0.12.8 refuses that; this follows
/// `jax.nn.dot_product_attention(…, implementation='xla')`, which groups the query
/// heads, and takes then a boolean `[batch, 1, q_len, kv_len]` mask (a causal one, say)
/// but no bias or dropout.
///
/// ```
/// # use tabulate::{nn, DType, Tensor};
/// # fn main() -> tabulate::Result<()> {
/// let q = Tensor::new(DType::F32, [2, 5, 8, 4]);
/// let kv = Tensor::new(DType::F32, [2, 5, 2, 4]); // 2 key/value heads for 8 query heads
/// let out = nn::dot_product_attention(&q, &kv, &kv, &nn::AttentionOptions::default())?;
/// assert_eq!(out.to_string(), "float32[2,5,8,4]");
/// # Ok(()) }
/// ```
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::nn::{AttentionOptions, dot_product_attention};
///
/// let q = Tensor::new(DType::F32, [2, 5, 4, 8]);
/// let kv = Tensor::new(DType::F32, [2, 7, 4, 8]);
/// let out = dot_product_attention(&q, &kv, &kv, &AttentionOptions::default())?;
/// assert_eq!(out.shape().dims(), [2, 5, 4, 8]);
/// assert!(dot_product_attention(&q, &q.reshape(vec![2, 5, 8, 4])?, &kv, &AttentionOptions::default()).is_err());
/// # Ok::<(), tabulate::Error>(())
/// ```
pub fn dot_product_attention(
    query: &Tensor,
    key: &Tensor,
    value: &Tensor,
    options: &AttentionOptions<'_>,
) -> Result<Tensor> {
    let _operation = crate::scope::operation("nn::dot_product_attention");
    let dtype = promote_dtype(options.dtype, &[Some(query), Some(key), Some(value)], true);
    if [query, key, value].iter().any(|t| t.rank() < 3) {
        return Err(Error::invalid(format!(
            "dot_product_attention: query, key and value must have rank 3 or more ([batch…, length, heads, depth]): query {query}, key {key}, value {value}"
        )));
    }
    if super::grouped_attention::is_grouped(query, key) {
        return super::grouped_attention::grouped_attention(query, key, value, options);
    }
    let (query, key, value) = (
        query.astype(dtype)?,
        key.astype(dtype)?,
        value.astype(dtype)?,
    );
    if value.rank() != key.rank()
        || value.shape().dims()[..value.rank() - 1] != key.shape().dims()[..key.rank() - 1]
    {
        return Err(Error::invalid(format!(
            "dot_product_attention: key and value must agree in every dimension but depth: key {key}, value {value}"
        )));
    }
    let weights = dot_product_attention_weights(
        &query,
        &key,
        &AttentionOptions {
            dtype: Some(dtype),
            ..options.clone()
        },
    )?;
    let b = batch_letters(query.rank() - 3);
    einsum2(
        &format!("{b}hqk"),
        &format!("{b}khd"),
        &format!("{b}qhd"),
        &weights,
        &value,
    )
}

/// `flax.linen.make_attention_mask` with `jnp.multiply`: `[batch…, 1, q_len, kv_len]`,
/// as float32.
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::nn::make_attention_mask;
///
/// let queries = Tensor::new(DType::I32, [2, 5]); // e.g. token ids != padding
/// let keys = Tensor::new(DType::I32, [2, 7]);
/// assert_eq!(make_attention_mask(&queries, &keys)?.to_string(), "float32[2,1,5,7]");
/// # Ok::<(), tabulate::Error>(())
/// ```
pub fn make_attention_mask(query_input: &Tensor, key_input: &Tensor) -> Result<Tensor> {
    let _operation = crate::scope::operation("nn::make_attention_mask");
    make_attention_mask_with(query_input, key_input, |q, k| q.mul(k))
}

/// `flax.linen.make_attention_mask` with a pairwise function of its own.
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::nn::make_attention_mask_with;
///
/// // Query and key positions attend when their segment ids are equal.
/// let segments = Tensor::new(DType::I32, [2, 5]);
/// let mask = make_attention_mask_with(&segments, &segments, |q, k| q.equal(k))?;
/// assert_eq!(mask.to_string(), "float32[2,1,5,5]");
/// # Ok::<(), tabulate::Error>(())
/// ```
pub fn make_attention_mask_with(
    query_input: &Tensor,
    key_input: &Tensor,
    pairwise: impl Fn(&Tensor, &Tensor) -> Result<Tensor>,
) -> Result<Tensor> {
    let _operation = crate::scope::operation("nn::make_attention_mask_with");
    let q = query_input.expand_dims(-1)?;
    let k = key_input.expand_dims(-2)?;
    let mask = pairwise(&q, &k)?;
    mask.expand_dims(-3)?.astype(DType::F32)
}

/// `flax.linen.make_causal_mask`: position `i` may attend to `j ≤ i`; `x` gives the
/// batch shape and length (its values are not read).
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::nn::make_causal_mask;
///
/// let tokens = Tensor::new(DType::I32, [2, 10]);
/// assert_eq!(make_causal_mask(&tokens)?.to_string(), "float32[2,1,10,10]");
/// # Ok::<(), tabulate::Error>(())
/// ```
pub fn make_causal_mask(x: &Tensor) -> Result<Tensor> {
    let _operation = crate::scope::operation("nn::make_causal_mask");
    if x.rank() == 0 {
        return Err(Error::invalid(format!(
            "make_causal_mask needs at least a length axis, got {x}"
        )));
    }
    let idxs = Tensor::arange(x.dim(-1)?, DType::I32)?.broadcast_to(x.shape().clone())?;
    make_attention_mask_with(&idxs, &idxs, |q, k| q.greater_equal(k))
}

/// The inputs of one attention call, as Flax's `__call__` takes them.
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::nn::{AttentionCall, MultiHeadDotProductAttention, make_attention_mask};
///
/// let attention = MultiHeadDotProductAttention::new(4);
/// let queries = Tensor::new(DType::F32, [2, 5, 32]);
/// let memory = Tensor::new(DType::F32, [2, 9, 32]);
/// let mask = make_attention_mask(&Tensor::new(DType::I32, [2, 5]), &Tensor::new(DType::I32, [2, 9]))?;
/// let out = attention.forward_with(&AttentionCall::new(&queries).key(&memory).mask(&mask).deterministic(true))?;
/// assert_eq!(out.shape().dims(), [2, 5, 32]); // cross-attention
/// # Ok::<(), tabulate::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct AttentionCall<'a> {
    inputs_q: &'a Tensor,
    inputs_k: Option<&'a Tensor>,
    inputs_v: Option<&'a Tensor>,
    mask: Option<&'a Tensor>,
    deterministic: Option<bool>,
}

impl<'a> AttentionCall<'a> {
    /// Attention of `inputs_q` over itself.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::{AttentionCall, MultiHeadDotProductAttention};
    ///
    /// let q = Tensor::new(DType::F32, [2, 10, 64]);
    /// let layer = MultiHeadDotProductAttention::new(4);
    /// assert_eq!(layer.forward_with(&AttentionCall::new(&q).deterministic(true))?.to_string(), "float32[2,10,64]"); // self-attention
    /// let total = tabulate(&layer).run(|l| l.forward_with(&AttentionCall::new(&q).deterministic(true)))?.total();
    /// assert_eq!((total.count, total.bytes), (16_640, 66_560)); // as Flax 0.12.8 counts them
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn new(inputs_q: &'a Tensor) -> AttentionCall<'a> {
        AttentionCall {
            inputs_q,
            inputs_k: None,
            inputs_v: None,
            mask: None,
            deterministic: None,
        }
    }

    /// Keys (and values, unless given separately).
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::{AttentionCall, MultiHeadDotProductAttention};
    ///
    /// let q = Tensor::new(DType::F32, [2, 10, 64]);
    /// let kv = Tensor::new(DType::F32, [2, 20, 32]);
    /// let layer = MultiHeadDotProductAttention::new(4);
    /// assert_eq!(layer.forward_with(&AttentionCall::new(&q).key(&kv).deterministic(true))?.to_string(), "float32[2,10,64]"); // cross-attention: keys and values from `kv`
    /// let total = tabulate(&layer).run(|l| l.forward_with(&AttentionCall::new(&q).key(&kv).deterministic(true)))?.total();
    /// assert_eq!((total.count, total.bytes), (12_544, 50_176)); // as Flax 0.12.8 counts them
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    #[must_use]
    pub fn key(mut self, inputs_k: &'a Tensor) -> Self {
        self.inputs_k = Some(inputs_k);
        self
    }

    /// Values.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::{AttentionCall, MultiHeadDotProductAttention};
    ///
    /// let q = Tensor::new(DType::F32, [2, 10, 64]);
    /// let kv = Tensor::new(DType::F32, [2, 20, 32]);
    /// let v = Tensor::new(DType::F32, [2, 20, 48]);
    /// let layer = MultiHeadDotProductAttention::new(4);
    /// assert_eq!(layer.forward_with(&AttentionCall::new(&q).key(&kv).value(&v).deterministic(true))?.to_string(), "float32[2,10,64]");
    /// let total = tabulate(&layer).run(|l| l.forward_with(&AttentionCall::new(&q).key(&kv).value(&v).deterministic(true)))?.total();
    /// assert_eq!((total.count, total.bytes), (13_568, 54_272)); // as Flax 0.12.8 counts them
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    #[must_use]
    pub fn value(mut self, inputs_v: &'a Tensor) -> Self {
        self.inputs_v = Some(inputs_v);
        self
    }

    /// The attention mask (`[batch…, heads or 1, q_len, kv_len]`).
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::{AttentionCall, MultiHeadDotProductAttention};
    ///
    /// let q = Tensor::new(DType::F32, [2, 10, 64]);
    /// let kv = Tensor::new(DType::F32, [2, 20, 32]);
    /// let mask = Tensor::new(DType::Bool, [2, 1, 10, 20]);
    /// let layer = MultiHeadDotProductAttention::new(4);
    /// assert_eq!(layer.forward_with(&AttentionCall::new(&q).key(&kv).mask(&mask).deterministic(true))?.to_string(), "float32[2,10,64]");
    /// let total = tabulate(&layer).run(|l| l.forward_with(&AttentionCall::new(&q).key(&kv).mask(&mask).deterministic(true)))?.total();
    /// assert_eq!((total.count, total.bytes), (12_544, 50_176)); // as Flax 0.12.8 counts them
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    #[must_use]
    pub fn mask(mut self, mask: &'a Tensor) -> Self {
        self.mask = Some(mask);
        self
    }

    /// Whether dropout is off.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::{AttentionCall, MultiHeadDotProductAttention};
    ///
    /// let q = Tensor::new(DType::F32, [2, 10, 64]);
    /// let layer = MultiHeadDotProductAttention::new(4).dropout_rate(0.1);
    /// assert_eq!(layer.forward_with(&AttentionCall::new(&q).deterministic(true))?.to_string(), "float32[2,10,64]"); // no dropout stream needed
    /// let total = tabulate(&layer).run(|l| l.forward_with(&AttentionCall::new(&q).deterministic(true)))?.total();
    /// assert_eq!((total.count, total.bytes), (16_640, 66_560)); // as Flax 0.12.8 counts them
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    #[must_use]
    pub fn deterministic(mut self, deterministic: bool) -> Self {
        self.deterministic = Some(deterministic);
        self
    }

    /// The arguments as Flax records them: tensors positional, the rest by keyword.
    fn describe(&self, args: &mut CallArgs) {
        args.positional(self.inputs_q);
        if let Some(k) = self.inputs_k {
            args.positional(k);
        }
        if let Some(v) = self.inputs_v {
            args.positional(v);
        }
        if let Some(mask) = self.mask {
            args.keyword("mask", mask);
        }
        if let Some(deterministic) = self.deterministic {
            args.keyword("deterministic", &deterministic);
        }
    }
}

/// Multi-head dot-product attention (`flax.linen.MultiHeadDotProductAttention`): query,
/// key and value `DenseGeneral` projections named `query`, `key`, `value` to
/// `[num_heads, head_dim]`, attention, and an `out` projection.
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::nn::MultiHeadDotProductAttention;
///
/// let attention = MultiHeadDotProductAttention::new(2).qkv_features(8);
/// let x = Tensor::new(DType::F32, [1, 5, 8]);
/// let summary = tabulate(&attention).run(|a| a.forward(&x, true))?;
/// let paths: Vec<_> = summary.rows.iter().map(|r| r.path.join("/")).collect();
/// assert_eq!(paths, ["", "query", "key", "value", "out"]);
/// assert_eq!(summary.total().count, 3 * (8 * 8 + 8) + (8 * 8 + 8));
/// # Ok::<(), tabulate::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct MultiHeadDotProductAttention {
    /// Number of heads.
    pub num_heads: usize,
    /// Size of the query/key/value projections (default: the input features).
    pub qkv_features: Option<usize>,
    /// Output features (default: the input features).
    pub out_features: Option<usize>,
    /// Attention-weight dropout rate (default 0).
    pub dropout_rate: f64,
    /// One dropout mask for all batch elements and heads (default `true`).
    pub broadcast_dropout: bool,
    /// Whether dropout is off, unless given at the call.
    pub deterministic: Option<bool>,
    /// Whether the projections have biases (default `true`).
    pub use_bias: bool,
    /// The dtype of the computation.
    pub dtype: Option<DType>,
    /// The dtype of the parameters (default `float32`).
    pub param_dtype: DType,
    /// The initialiser of the query, key and value kernels, and of `out`'s unless
    /// `out_kernel_init` is set (default `lecun_normal()`).
    pub kernel_init: Initializer,
    /// The initialiser of the projections' biases, and of `out`'s unless `out_bias_init`
    /// is set (default `zeros`).
    pub bias_init: Initializer,
    /// The initialiser of `out`'s kernel (default: `kernel_init`).
    pub out_kernel_init: Option<Initializer>,
    /// The initialiser of `out`'s bias (default: `bias_init`).
    pub out_bias_init: Option<Initializer>,
    identity: ModuleIdentity,
}

impl MultiHeadDotProductAttention {
    /// Attention with `num_heads` heads and Flax's defaults.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::MultiHeadDotProductAttention;
    ///
    /// let x = Tensor::new(DType::F32, [2, 10, 64]);
    /// let layer = MultiHeadDotProductAttention::new(8);
    /// assert_eq!(layer.forward(&x, true)?.to_string(), "float32[2,10,64]");
    /// let total = tabulate(&layer).run(|l| l.forward(&x, true))?.total();
    /// assert_eq!((total.count, total.bytes), (16_640, 66_560)); // as Flax 0.12.8 counts them
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn new(num_heads: usize) -> MultiHeadDotProductAttention {
        MultiHeadDotProductAttention {
            num_heads,
            qkv_features: None,
            out_features: None,
            dropout_rate: 0.0,
            broadcast_dropout: true,
            deterministic: None,
            use_bias: true,
            dtype: None,
            param_dtype: DType::F32,
            kernel_init: initializers::lecun_normal(),
            bias_init: initializers::zeros(),
            out_kernel_init: None,
            out_bias_init: None,
            identity: ModuleIdentity::new(),
        }
    }

    /// Sets the initialiser of the projections' kernels (Flax's `kernel_init=`).
    ///
    /// ```
    /// use tabulate::nn::{MultiHeadDotProductAttention, initializers, with_partitioning};
    ///
    /// let init = with_partitioning(initializers::lecun_normal(), ["embed", "heads", "kv"]);
    /// let attention = MultiHeadDotProductAttention::new(2).kernel_init(init.clone());
    /// assert_eq!(attention.kernel_init, init);
    /// ```
    #[must_use]
    pub fn kernel_init(mut self, init: Initializer) -> Self {
        self.kernel_init = init;
        self
    }

    /// Sets the initialiser of the projections' biases (Flax's `bias_init=`).
    ///
    /// ```
    /// use tabulate::nn::{MultiHeadDotProductAttention, initializers, with_partitioning};
    ///
    /// let init = with_partitioning(initializers::zeros(), ["heads", "kv"]);
    /// let attention = MultiHeadDotProductAttention::new(2).bias_init(init.clone());
    /// assert_eq!(attention.bias_init, init);
    /// ```
    #[must_use]
    pub fn bias_init(mut self, init: Initializer) -> Self {
        self.bias_init = init;
        self
    }

    /// Sets the initialiser of the `out` projection's kernel (Flax's `out_kernel_init=`).
    ///
    /// ```
    /// use tabulate::nn::{MultiHeadDotProductAttention, initializers, with_partitioning};
    ///
    /// let init = with_partitioning(initializers::lecun_normal(), ["heads", "kv", "embed"]);
    /// let attention = MultiHeadDotProductAttention::new(2).out_kernel_init(init.clone());
    /// assert_eq!(attention.out_kernel_init, Some(init));
    /// ```
    #[must_use]
    pub fn out_kernel_init(mut self, init: Initializer) -> Self {
        self.out_kernel_init = Some(init);
        self
    }

    /// Sets the initialiser of the `out` projection's bias (Flax's `out_bias_init=`).
    ///
    /// ```
    /// use tabulate::nn::{MultiHeadDotProductAttention, initializers, with_partitioning};
    ///
    /// let init = with_partitioning(initializers::zeros(), ["embed"]);
    /// let attention = MultiHeadDotProductAttention::new(2).out_bias_init(init.clone());
    /// assert_eq!(attention.out_bias_init, Some(init));
    /// ```
    #[must_use]
    pub fn out_bias_init(mut self, init: Initializer) -> Self {
        self.out_bias_init = Some(init);
        self
    }

    /// Sets the query/key/value size.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::MultiHeadDotProductAttention;
    ///
    /// let x = Tensor::new(DType::F32, [2, 10, 64]);
    /// let layer = MultiHeadDotProductAttention::new(4).qkv_features(32);
    /// assert_eq!(layer.forward(&x, true)?.to_string(), "float32[2,10,64]");
    /// let total = tabulate(&layer).run(|l| l.forward(&x, true))?.total();
    /// assert_eq!((total.count, total.bytes), (8352, 33408)); // as Flax 0.12.8 counts them
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    #[must_use]
    pub fn qkv_features(mut self, features: usize) -> Self {
        self.qkv_features = Some(features);
        self
    }

    /// Sets the output size.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::MultiHeadDotProductAttention;
    ///
    /// let x = Tensor::new(DType::F32, [2, 10, 64]);
    /// let layer = MultiHeadDotProductAttention::new(4).out_features(16);
    /// assert_eq!(layer.forward(&x, true)?.to_string(), "float32[2,10,16]");
    /// let total = tabulate(&layer).run(|l| l.forward(&x, true))?.total();
    /// assert_eq!((total.count, total.bytes), (13_520, 54_080)); // as Flax 0.12.8 counts them
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    #[must_use]
    pub fn out_features(mut self, features: usize) -> Self {
        self.out_features = Some(features);
        self
    }

    /// Sets the attention dropout rate.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::MultiHeadDotProductAttention;
    ///
    /// let x = Tensor::new(DType::F32, [2, 10, 64]);
    /// let layer = MultiHeadDotProductAttention::new(4).dropout_rate(0.1);
    /// // Not deterministic: the attention weights' dropout draws from the `dropout` stream.
    /// let summary = tabulate(&layer).rngs(["dropout"]).run(|l| l.forward(&x, false))?;
    /// assert_eq!(summary.total().count, 16_640); // no parameters of its own
    /// assert!(tabulate(&layer).run(|l| l.forward(&x, false)).is_err()); // no stream given
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    #[must_use]
    pub fn dropout_rate(mut self, rate: f64) -> Self {
        self.dropout_rate = rate;
        self
    }

    /// Sets whether one dropout mask is shared across batch and heads.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::MultiHeadDotProductAttention;
    ///
    /// let x = Tensor::new(DType::F32, [2, 10, 64]);
    /// let layer = MultiHeadDotProductAttention::new(4).dropout_rate(0.1).broadcast_dropout(false);
    /// let summary = tabulate(&layer).rngs(["dropout"]).run(|l| l.forward(&x, false))?;
    /// assert_eq!(summary.rows.len(), 5); // the layer, query, key, value, out
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    #[must_use]
    pub fn broadcast_dropout(mut self, broadcast: bool) -> Self {
        self.broadcast_dropout = broadcast;
        self
    }

    /// Sets whether the projections have biases.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::MultiHeadDotProductAttention;
    ///
    /// let x = Tensor::new(DType::F32, [2, 10, 64]);
    /// let layer = MultiHeadDotProductAttention::new(4).use_bias(false);
    /// assert_eq!(layer.forward(&x, true)?.to_string(), "float32[2,10,64]");
    /// let total = tabulate(&layer).run(|l| l.forward(&x, true))?.total();
    /// assert_eq!((total.count, total.bytes), (16_384, 65_536)); // as Flax 0.12.8 counts them
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    #[must_use]
    pub fn use_bias(mut self, use_bias: bool) -> Self {
        self.use_bias = use_bias;
        self
    }

    /// Sets `deterministic` at construction, as Flax's
    /// `MultiHeadDotProductAttention(…, deterministic=…)`; then call with `None`.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::MultiHeadDotProductAttention;
    ///
    /// let x = Tensor::new(DType::F32, [2, 10, 64]);
    /// let layer = MultiHeadDotProductAttention::new(4).dropout_rate(0.1).deterministic(true);
    /// assert_eq!(layer.forward(&x, None)?.to_string(), "float32[2,10,64]");
    /// let total = tabulate(&layer).run(|l| l.forward(&x, None))?.total();
    /// assert_eq!((total.count, total.bytes), (16_640, 66_560)); // as Flax 0.12.8 counts them
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    #[must_use]
    pub fn deterministic(mut self, deterministic: bool) -> Self {
        self.deterministic = Some(deterministic);
        self
    }

    /// Self-attention of `x`, recorded as Flax's `mha(x, deterministic=…)`, or `mha(x)`
    /// with `None` (the layer's [`deterministic`](Self::deterministic)).
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::MultiHeadDotProductAttention;
    ///
    /// let x = Tensor::new(DType::F32, [2, 10, 64]);
    /// let layer = MultiHeadDotProductAttention::new(4);
    /// assert_eq!(layer.forward(&x, true)?.to_string(), "float32[2,10,64]");
    /// let total = tabulate(&layer).run(|l| l.forward(&x, true))?.total();
    /// assert_eq!((total.count, total.bytes), (16_640, 66_560)); // as Flax 0.12.8 counts them
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn forward(&self, x: &Tensor, deterministic: impl Into<Option<bool>>) -> Result<Tensor> {
        let mut call = AttentionCall::new(x);
        call.deterministic = deterministic.into();
        self.forward_with(&call)
    }

    /// Attention with every input of Flax's `__call__`.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::{AttentionCall, MultiHeadDotProductAttention};
    ///
    /// let q = Tensor::new(DType::F32, [2, 10, 64]);
    /// let kv = Tensor::new(DType::F32, [2, 20, 32]);
    /// let layer = MultiHeadDotProductAttention::new(4);
    /// assert_eq!(layer.forward_with(&AttentionCall::new(&q).key(&kv).deterministic(true))?.to_string(), "float32[2,10,64]");
    /// let total = tabulate(&layer).run(|l| l.forward_with(&AttentionCall::new(&q).key(&kv).deterministic(true)))?.total();
    /// assert_eq!((total.count, total.bytes), (12_544, 50_176)); // as Flax 0.12.8 counts them
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn forward_with(&self, call: &AttentionCall<'_>) -> Result<Tensor> {
        module_call(
            self,
            "forward",
            |args| call.describe(args),
            || self.attend(call),
        )
    }

    fn attend(&self, call: &AttentionCall<'_>) -> Result<Tensor> {
        let inputs_q = call.inputs_q;
        let inputs_k = call.inputs_k.unwrap_or(inputs_q);
        let inputs_v = call.inputs_v.unwrap_or(inputs_k);
        let features = self.out_features.map_or_else(|| inputs_q.dim(-1), Ok)?;
        let qkv_features = self.qkv_features.map_or_else(|| inputs_q.dim(-1), Ok)?;
        if self.num_heads == 0 || qkv_features % self.num_heads != 0 {
            return Err(Error::invalid(format!(
                "MultiHeadDotProductAttention: the qkv features ({qkv_features}) must be divisible by the number of heads ({})",
                self.num_heads
            )));
        }
        let head_dim = qkv_features / self.num_heads;
        let projection = |name: &str| {
            let mut dense = DenseGeneral::new([self.num_heads, head_dim])
                .use_bias(self.use_bias)
                .param_dtype(self.param_dtype)
                .kernel_init(self.kernel_init.clone())
                .bias_init(self.bias_init.clone())
                .name(name);
            if let Some(dtype) = self.dtype {
                dense = dense.dtype(dtype);
            }
            dense
        };
        let query = projection("query").forward(inputs_q)?;
        let key = projection("key").forward(inputs_k)?;
        let value = projection("value").forward(inputs_v)?;
        // Flax requires `deterministic` (`merge_param`) only when using dropout.
        let dropout = if self.dropout_rate > 0.0 {
            let deterministic =
                super::merge_param("deterministic", self.deterministic, call.deterministic)?;
            (!deterministic).then_some(AttentionDropout {
                rate: self.dropout_rate,
                broadcast: self.broadcast_dropout,
            })
        } else {
            None
        };
        let options = AttentionOptions {
            bias: None,
            mask: call.mask,
            dropout,
            dtype: self.dtype,
        };
        let x = dot_product_attention(&query, &key, &value, &options)?;
        let mut out = DenseGeneral::new([features])
            .axis([-2, -1])
            .use_bias(self.use_bias)
            .param_dtype(self.param_dtype)
            .kernel_init(
                self.out_kernel_init
                    .clone()
                    .unwrap_or_else(|| self.kernel_init.clone()),
            )
            .bias_init(
                self.out_bias_init
                    .clone()
                    .unwrap_or_else(|| self.bias_init.clone()),
            )
            .name("out");
        if let Some(dtype) = self.dtype {
            out = out.dtype(dtype);
        }
        out.forward(&x)
    }
}

layer_common!(
    MultiHeadDotProductAttention,
    "MultiHeadDotProductAttention",
    "MultiHeadDotProductAttention::new(8)"
);

/// Self-attention (`flax.linen.SelfAttention`, Flax's deprecated subclass): the same as
/// `MultiHeadDotProductAttention` of one input, recorded as a call that calls the
/// attention again, as Flax's `super().__call__` does.
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::nn::SelfAttention;
///
/// let x = Tensor::new(DType::F32, [1, 5, 8]);
/// let summary = tabulate(&SelfAttention::new(2)).run(|a| a.forward(&x, true))?;
/// assert_eq!(summary.total().count, 4 * (8 * 8 + 8)); // query, key, value, out
/// # Ok::<(), tabulate::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct SelfAttention {
    attention: MultiHeadDotProductAttention,
}

impl SelfAttention {
    /// Self-attention with `num_heads` heads.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::SelfAttention;
    ///
    /// let x = Tensor::new(DType::F32, [2, 10, 64]);
    /// let layer = SelfAttention::new(8);
    /// assert_eq!(layer.forward(&x, true)?.to_string(), "float32[2,10,64]");
    /// let total = tabulate(&layer).run(|l| l.forward(&x, true))?.total();
    /// assert_eq!((total.count, total.bytes), (16_640, 66_560)); // as Flax 0.12.8 counts them
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn new(num_heads: usize) -> SelfAttention {
        SelfAttention {
            attention: MultiHeadDotProductAttention::new(num_heads),
        }
    }

    /// Sets the query/key/value size.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::SelfAttention;
    ///
    /// let x = Tensor::new(DType::F32, [2, 10, 64]);
    /// let layer = SelfAttention::new(4).qkv_features(32);
    /// assert_eq!(layer.forward(&x, true)?.to_string(), "float32[2,10,64]");
    /// let total = tabulate(&layer).run(|l| l.forward(&x, true))?.total();
    /// assert_eq!((total.count, total.bytes), (8352, 33408)); // as Flax 0.12.8 counts them
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    #[must_use]
    pub fn qkv_features(mut self, features: usize) -> Self {
        self.attention = self.attention.qkv_features(features);
        self
    }

    /// Names the layer, as Flax's `name=`.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::SelfAttention;
    ///
    /// #[derive(Tabulate)]
    /// struct Net;
    ///
    /// impl Net {
    ///     #[forward]
    ///     fn forward(&self, x: &Tensor) -> Result<Tensor> {
    ///         SelfAttention::new(4).name("attn").forward(x, true)
    ///     }
    /// }
    ///
    /// let summary = tabulate(&Net).run(|n| n.forward(&Tensor::new(DType::F32, [2, 10, 64])))?;
    /// assert_eq!(summary.rows[1].path, ["attn"]);
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    #[must_use]
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.attention = self.attention.name(name);
        self
    }

    /// Sets `deterministic` at construction; then call with `None`.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::SelfAttention;
    ///
    /// let x = Tensor::new(DType::F32, [2, 10, 64]);
    /// let layer = SelfAttention::new(4).dropout_rate(0.1).deterministic(true);
    /// assert_eq!(layer.forward(&x, None)?.to_string(), "float32[2,10,64]");
    /// let total = tabulate(&layer).run(|l| l.forward(&x, None))?.total();
    /// assert_eq!((total.count, total.bytes), (16_640, 66_560)); // as Flax 0.12.8 counts them
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    #[must_use]
    pub fn deterministic(mut self, deterministic: bool) -> Self {
        self.attention = self.attention.deterministic(deterministic);
        self
    }

    /// Sets the attention-weight dropout rate.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::SelfAttention;
    ///
    /// let x = Tensor::new(DType::F32, [2, 10, 64]);
    /// let layer = SelfAttention::new(4).dropout_rate(0.1);
    /// let summary = tabulate(&layer).rngs(["dropout"]).run(|l| l.forward(&x, false))?;
    /// assert_eq!(summary.total().count, 16_640);
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    #[must_use]
    pub fn dropout_rate(mut self, rate: f64) -> Self {
        self.attention = self.attention.dropout_rate(rate);
        self
    }

    /// Sets the initialiser of the projections' kernels
    /// ([`MultiHeadDotProductAttention::kernel_init`]).
    ///
    /// ```
    /// use tabulate::nn::{SelfAttention, initializers, with_partitioning};
    ///
    /// let init = with_partitioning(initializers::lecun_normal(), ["embed", "heads", "kv"]);
    /// let _attention = SelfAttention::new(2).kernel_init(init);
    /// ```
    #[must_use]
    pub fn kernel_init(mut self, init: Initializer) -> Self {
        self.attention = self.attention.kernel_init(init);
        self
    }

    /// Sets the initialiser of the projections' biases
    /// ([`MultiHeadDotProductAttention::bias_init`]).
    ///
    /// ```
    /// use tabulate::nn::{SelfAttention, initializers, with_partitioning};
    ///
    /// let _attention =
    ///     SelfAttention::new(2).bias_init(with_partitioning(initializers::zeros(), ["heads", "kv"]));
    /// ```
    #[must_use]
    pub fn bias_init(mut self, init: Initializer) -> Self {
        self.attention = self.attention.bias_init(init);
        self
    }

    /// Attention of `x` over itself, `deterministic` given at the call or `None` (the
    /// layer's).
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::SelfAttention;
    ///
    /// let x = Tensor::new(DType::F32, [2, 10, 64]);
    /// let layer = SelfAttention::new(4);
    /// assert_eq!(layer.forward(&x, true)?.to_string(), "float32[2,10,64]");
    /// let total = tabulate(&layer).run(|l| l.forward(&x, true))?.total();
    /// assert_eq!((total.count, total.bytes), (16_640, 66_560)); // as Flax 0.12.8 counts them
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn forward(&self, x: &Tensor, deterministic: impl Into<Option<bool>>) -> Result<Tensor> {
        let mut call = AttentionCall::new(x);
        call.deterministic = deterministic.into();
        module_call(
            self,
            "forward",
            |args| call.describe(args),
            || {
                // `super().__call__(inputs_q, mask=…, deterministic=…, dropout_rng=…,
                // sow_weights=…)`: the inner call has every keyword (Flax shows them sorted).
                module_call(
                    self,
                    "forward",
                    |args| {
                        args.positional(call.inputs_q);
                        args.keyword("deterministic", &call.deterministic);
                        args.keyword("dropout_rng", &());
                        args.keyword("mask", &call.mask);
                        args.keyword("sow_weights", &false);
                    },
                    || self.attention.attend(&call),
                )
            },
        )
    }
}

impl Tabulate for SelfAttention {
    fn type_name(&self) -> &'static str {
        "SelfAttention"
    }

    fn identity(&self) -> Option<&ModuleIdentity> {
        self.attention.identity()
    }
}
