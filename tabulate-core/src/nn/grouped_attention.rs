//! Grouped-query attention: `dot_product_attention` with fewer key/value heads than query
//! heads. Flax 0.12.8's `nn.dot_product_attention` refuses it (`q, k, v num_heads must
//! match`), so this follows `jax.nn.dot_product_attention(implementation='xla')`, which
//! groups the query heads (`[B, T, K, G, H]`) and `vmap`s its core over the group axis;
//! the primitives below are that `vmap`'s, in its order (`jax.make_jaxpr`, jax 0.10.2).

use super::attention::AttentionOptions;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::lax::{self, Binary, DotDims, ReduceOp};
use crate::shape::Shape;
use crate::tensor::Tensor;

/// Whether `query` and `key` ask for grouped-query attention: rank 4 and fewer key heads.
pub(super) fn is_grouped(query: &Tensor, key: &Tensor) -> bool {
    query.rank() == 4 && key.rank() == 4 && query.shape().dims()[2] != key.shape().dims()[2]
}

/// `jax.nn.dot_product_attention(query, key, value, implementation='xla')` for
/// `[batch, length, heads, depth]` inputs whose key/value heads divide the query heads.
pub(super) fn grouped_attention(
    query: &Tensor,
    key: &Tensor,
    value: &Tensor,
    options: &AttentionOptions<'_>,
) -> Result<Tensor> {
    let fail = |why: &str| {
        Err(Error::invalid(format!(
            "dot_product_attention: grouped-query attention (fewer key/value heads than query heads) {why}: query {query}, key {key}, value {value}"
        )))
    };
    if options.bias.is_some() || options.dropout.is_some() {
        return fail("takes no bias or dropout here (jax.nn's grouped form has neither)");
    }
    if [query, key, value].iter().any(|t| t.dtype() != DType::F32)
        || options.dtype.is_some_and(|d| d != DType::F32)
    {
        return fail("is supported in float32 only");
    }
    let (q, k, v) = (
        query.shape().dims(),
        key.shape().dims(),
        value.shape().dims(),
    );
    if value.rank() != 4 {
        return fail("needs rank-4 inputs ([batch, length, heads, depth])");
    }
    let [batch, q_len, heads, depth] = [q[0], q[1], q[2], q[3]];
    let [kv_len, kv_heads] = [k[1], k[2]];
    if k[0] != batch || v[0] != batch {
        return fail("needs one batch size");
    }
    if k[3] != depth {
        return fail("needs query and key of one depth");
    }
    if v[1] != kv_len || v[2] != kv_heads {
        return fail("needs key and value of one length and one number of heads");
    }
    if kv_heads == 0 || !heads.is_multiple_of(kv_heads) {
        return fail("needs the key/value heads to divide the query heads");
    }
    let groups = heads / kv_heads;
    let value_depth = v[3];

    let grouped = query.reshape(Shape::new([batch, q_len, kv_heads, groups, depth]))?;
    // einsum("BTNH,BSNH->BNTS") batched over the group axis: [B, K, T, G, S].
    let logits = lax::dot_general(
        &grouped,
        key,
        DotDims {
            lhs_contracting: vec![4].into(),
            rhs_contracting: vec![3].into(),
            lhs_batch: vec![0, 2].into(),
            rhs_batch: vec![0, 2].into(),
        },
    )?;
    #[allow(clippy::cast_precision_loss)] // a head depth
    let scale = 1.0 / (depth as f64).sqrt();
    let logits = logits.mul(scale)?;
    let front = Shape::new([groups, batch, kv_heads, q_len, 1]);
    let weights = if let Some(mask) = options.mask {
        let Some(masked) = masked_logits(mask, &logits, [batch, kv_heads, q_len, kv_len, groups])?
        else {
            return fail(&format!(
                "takes a boolean mask of shape [{batch}, 1, {q_len}, {kv_len}] (one for all heads), got {mask}"
            ));
        };
        softmax_last(&masked, &front)?
    } else {
        // `jax.nn.softmax` over S, the group axis moved to the front by `vmap` after the
        // maximum.
        let max = lax::reduce(ReduceOp::Max, &logits, vec![4])?;
        let max = Tensor::full(f64::NEG_INFINITY, DType::F32, Shape::scalar())?.maximum(&max)?;
        let max = lax::transpose(&max, vec![3, 0, 1, 2])?;
        let max = lax::broadcast_in_dim(&max, front.clone(), vec![0, 1, 2, 3])?.stop_gradient()?;
        let logits = lax::transpose(&logits, vec![3, 0, 1, 2, 4])?;
        normalize_exp(&logits, &max, &front)?
    };
    // einsum("BNTS,BSNH->BTNH") batched over the group axis: [B, K, H, G, T].
    let encoded = lax::dot_general(
        value,
        &weights,
        DotDims {
            lhs_contracting: vec![1].into(),
            rhs_contracting: vec![4].into(),
            lhs_batch: vec![0, 2].into(),
            rhs_batch: vec![1, 2].into(),
        },
    )?;
    let encoded = lax::transpose(&encoded, vec![3, 0, 4, 1, 2])?;
    let encoded = lax::transpose(&encoded, vec![1, 2, 3, 0, 4])?;
    encoded.reshape(Shape::new([batch, q_len, heads, value_depth]))
}

/// `exp(logits − max) / Σ exp(logits − max)` over the last axis of `[G, B, K, T, S]`.
fn normalize_exp(logits: &Tensor, max: &Tensor, front: &Shape) -> Result<Tensor> {
    let unnormalized = lax::binary(Binary::Sub, logits, max)?.exp()?;
    let total = lax::reduce(ReduceOp::Sum, &unnormalized, vec![4])?;
    let total = lax::broadcast_in_dim(&total, front.clone(), vec![0, 1, 2, 3])?;
    lax::binary(Binary::Div, &unnormalized, &total)
}

/// `jax.nn.softmax` over the last axis of `[G, B, K, T, S]` logits.
fn softmax_last(logits: &Tensor, front: &Shape) -> Result<Tensor> {
    let max = lax::reduce(ReduceOp::Max, logits, vec![4])?;
    let max = Tensor::full(f64::NEG_INFINITY, DType::F32, Shape::scalar())?.maximum(&max)?;
    let max = lax::broadcast_in_dim(&max, front.clone(), vec![0, 1, 2, 3])?.stop_gradient()?;
    normalize_exp(logits, &max, front)
}

/// `_apply_masks` under the group `vmap`: a boolean `[B, 1, T, S]` mask, broadcast over
/// the groups and `and`ed with all-true, selects the `[B, K, T, G, S]` logits or
/// float32's large negative (in `jnp.where`'s nested `jit`); the result is
/// `[G, B, K, T, S]`. `None` for any other mask.
fn masked_logits(
    mask: &Tensor,
    logits: &Tensor,
    [batch, kv_heads, q_len, kv_len, groups]: [usize; 5],
) -> Result<Option<Tensor>> {
    if mask.dtype() != DType::Bool || mask.shape().dims() != [batch, 1, q_len, kv_len] {
        return Ok(None);
    }
    let grid = [batch, kv_heads, q_len, kv_len];
    let mask = lax::broadcast_in_dim(
        mask,
        Shape::new([batch, 1, 1, q_len, kv_len]),
        vec![0, 1, 3, 4],
    )?;
    let mask = lax::broadcast_in_dim(
        &mask,
        Shape::new([batch, 1, groups, q_len, kv_len]),
        vec![0, 1, 2, 3, 4],
    )?;
    let all = Tensor::full(1.0, DType::Bool, Shape::new(grid))?;
    let all = lax::broadcast_in_dim(
        &all,
        Shape::new([1, batch, kv_heads, q_len, kv_len]),
        vec![1, 2, 3, 4],
    )?;
    let mask = lax::transpose(&mask, vec![2, 0, 1, 3, 4])?;
    // `and` of `[1, B, K, T, S]` and `[G, B, 1, T, S]`: lowered with both broadcast to the
    // result's shape, where the all-true operand folds away.
    let full = Shape::new([groups, batch, kv_heads, q_len, kv_len]);
    let all = lax::broadcast_in_dim(&all, full.clone(), vec![0, 1, 2, 3, 4])?;
    let mask = lax::broadcast_in_dim(&mask, full, vec![0, 1, 2, 3, 4])?;
    let combined = lax::binary(Binary::And, &all, &mask)?;
    // `_get_large_negative(float32)`: -0.7 × the largest float32.
    let big_neg = Tensor::full(-0.7 * f64::from(f32::MAX), DType::F32, Shape::scalar())?;
    crate::trace::call_region("_where", &[&combined, logits, &big_neg], || {
        let fill = lax::broadcast_in_dim(&big_neg, Shape::new(grid), vec![])?;
        let fill = lax::broadcast_in_dim(
            &fill,
            Shape::new([groups, batch, kv_heads, q_len, kv_len]),
            vec![1, 2, 3, 4],
        )?;
        let moved = lax::transpose(logits, vec![3, 0, 1, 2, 4])?;
        lax::select_n(&combined, &fill, &moved)
    })
    .map(Some)
}
