//! Data movement and literals: `constant`, `iota`, `broadcast_in_dim`, `reshape`,
//! `transpose`, `slice`, `pad`, `concatenate`, `rev`. XLA gives all of them zero flops.

use super::{Prim, ReduceOp};
use crate::error::{Error, Result};
use crate::ops::graph::{Spec, ValueId};
use crate::ops::transpose::{LinArg, TransposeCx};
use crate::shape::Shape;

/// The value of a literal array.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Literal {
    /// Every element equals this number (booleans as 0 and 1).
    Splat(f64),
}

/// Bit for bit: `-0.0` and `0.0` are different literals (they fold differently, `1 / x`),
/// and a NaN equals itself, so equal programs (`cost/memo.rs`) are the same program.
impl PartialEq for Literal {
    fn eq(&self, other: &Literal) -> bool {
        match (self, other) {
            (Literal::Splat(a), Literal::Splat(b)) => a.to_bits() == b.to_bits(),
        }
    }
}

// ---------------------------------------------------------------- shape rules

pub(super) fn broadcast_in_dim_spec(
    inputs: &[&Spec],
    shape: &Shape,
    dims: &[usize],
) -> Result<Spec> {
    let x = inputs[0];
    let fail = |why: &str| {
        Err(Error::shape(
            "broadcast_in_dim",
            format!("cannot broadcast {x} to {shape} along dimensions {dims:?}: {why}"),
        ))
    };
    if dims.len() != x.rank() {
        return fail("one target dimension is needed per operand dimension");
    }
    if dims.windows(2).any(|w| w[0] >= w[1]) || dims.iter().any(|&d| d >= shape.rank()) {
        return fail("target dimensions must be increasing and in range");
    }
    for (&size, &d) in x.dims().iter().zip(dims) {
        if size != 1 && size != shape.dims()[d] {
            return fail("operand dimensions must be 1 or equal to the target's");
        }
    }
    Ok(Spec::new(x.dtype, shape.clone()))
}

pub(super) fn reshape_spec(inputs: &[&Spec], shape: &Shape) -> Result<Spec> {
    let x = inputs[0];
    if x.shape.checked_elements().is_none()
        || x.shape.checked_elements() != shape.checked_elements()
    {
        return Err(Error::shape(
            "reshape",
            format!(
                "cannot reshape {x} ({} elements) to {shape} ({} elements)",
                x.elements(),
                shape.elements()
            ),
        ));
    }
    Ok(Spec::new(x.dtype, shape.clone()))
}

pub(super) fn transpose_spec(inputs: &[&Spec], perm: &[usize]) -> Result<Spec> {
    let x = inputs[0];
    let mut seen = vec![false; x.rank()];
    let valid = perm.len() == x.rank()
        && perm
            .iter()
            .all(|&p| p < x.rank() && !std::mem::replace(&mut seen[p], true));
    if !valid {
        return Err(Error::shape(
            "transpose",
            format!("{perm:?} is not a permutation of the axes of {x}"),
        ));
    }
    Ok(x.with_shape(perm.iter().map(|&p| x.dims()[p]).collect::<Vec<_>>()))
}

pub(super) fn slice_spec(
    inputs: &[&Spec],
    start: &[usize],
    limit: &[usize],
    strides: &[usize],
) -> Result<Spec> {
    let x = inputs[0];
    let valid = start.len() == x.rank()
        && limit.len() == x.rank()
        && strides.len() == x.rank()
        && (0..x.rank()).all(|i| start[i] <= limit[i] && limit[i] <= x.dims()[i] && strides[i] > 0);
    if !valid {
        return Err(Error::shape(
            "slice",
            format!("start {start:?}, limit {limit:?} and strides {strides:?} do not fit {x}"),
        ));
    }
    let dims: Vec<usize> = (0..x.rank())
        .map(|i| (limit[i] - start[i]).div_ceil(strides[i]))
        .collect();
    Ok(x.with_shape(dims))
}

pub(super) fn pad_spec(
    inputs: &[&Spec],
    low: &[i64],
    high: &[i64],
    interior: &[usize],
) -> Result<Spec> {
    let (x, value) = (inputs[0], inputs[1]);
    if value.rank() != 0 || value.dtype != x.dtype {
        return Err(Error::shape(
            "pad",
            format!(
                "the padding value must be a scalar of {}, got {value}",
                x.dtype
            ),
        ));
    }
    if low.len() != x.rank() || high.len() != x.rank() || interior.len() != x.rank() {
        return Err(Error::shape(
            "pad",
            format!("one padding per dimension of {x} is needed"),
        ));
    }
    let mut dims = Vec::with_capacity(x.rank());
    for (i, &d) in x.dims().iter().enumerate() {
        let d = i64::try_from(d).unwrap_or(i64::MAX);
        let holes = i64::try_from(interior[i])
            .ok()
            .and_then(|n| n.checked_mul((d - 1).max(0)));
        let size = holes
            .and_then(|h| low[i].checked_add(high[i])?.checked_add(d)?.checked_add(h))
            .ok_or_else(|| {
                Error::shape(
                    "pad",
                    format!("padding {low:?}/{high:?} makes a dimension of {x} too large"),
                )
            })?;
        let size = usize::try_from(size).map_err(|_| {
            Error::shape(
                "pad",
                format!("padding {low:?}/{high:?} leaves a negative dimension of {x}"),
            )
        })?;
        dims.push(size);
    }
    Ok(x.with_shape(dims))
}

pub(super) fn concatenate_spec(inputs: &[&Spec], axis: usize) -> Result<Spec> {
    let first = inputs
        .first()
        .ok_or_else(|| Error::shape("concatenate", "needs at least one operand"))?;
    if axis >= first.rank() {
        return Err(Error::shape(
            "concatenate",
            format!("axis {axis} is out of range for {first}"),
        ));
    }
    let mut dims = first.dims().to_vec();
    for other in &inputs[1..] {
        let compatible = other.dtype == first.dtype
            && other.rank() == first.rank()
            && (0..first.rank()).all(|i| i == axis || other.dims()[i] == first.dims()[i]);
        if !compatible {
            return Err(Error::shape(
                "concatenate",
                format!("operands differ outside axis {axis}: {first} and {other}"),
            ));
        }
        dims[axis] = dims[axis].checked_add(other.dims()[axis]).ok_or_else(|| {
            Error::shape(
                "concatenate",
                format!("the result is too large along axis {axis}: {first} and {other}"),
            )
        })?;
    }
    Ok(first.with_shape(dims))
}

pub(super) fn rev_spec(inputs: &[&Spec], axes: &[usize]) -> Result<Spec> {
    let x = inputs[0];
    if axes.iter().any(|&a| a >= x.rank()) {
        return Err(Error::shape(
            "rev",
            format!("axes {axes:?} are out of range for {x}"),
        ));
    }
    Ok(x.clone())
}

// ---------------------------------------------------------------- transposes

/// `_broadcast_in_dim_transpose_rule`: sum over the broadcast dimensions (including
/// expanded size-1 operand dimensions), then restore the operand's size-1 dimensions.
pub(super) fn broadcast_in_dim_transpose(
    cx: &mut TransposeCx<'_>,
    ct: ValueId,
    operand: LinArg,
    dims: &[usize],
) -> Result<crate::ops::transpose::Cts> {
    let x = cx.spec(operand);
    let out_rank = cx.value_spec(ct).rank();
    let kept: Vec<usize> = dims
        .iter()
        .zip(x.dims())
        .filter(|&(_, &size)| size != 1)
        .map(|(&d, _)| d)
        .collect();
    let axes: Vec<usize> = (0..out_rank).filter(|d| !kept.contains(d)).collect();
    let summed = if axes.is_empty() {
        ct
    } else {
        cx.emit(
            Prim::Reduce {
                op: ReduceOp::Sum,
                axes: axes.into(),
            },
            &[ct],
        )?
    };
    let restored = if cx.value_spec(summed).shape == x.shape {
        summed
    } else {
        cx.emit(
            Prim::Reshape {
                shape: x.shape.clone(),
            },
            &[summed],
        )?
    };
    Ok(smallvec::smallvec![Some(restored)])
}

pub(super) fn transpose_transpose(
    cx: &mut TransposeCx<'_>,
    ct: ValueId,
    perm: &[usize],
) -> Result<crate::ops::transpose::Cts> {
    let mut inverse = vec![0; perm.len()];
    for (i, &p) in perm.iter().enumerate() {
        inverse[p] = i;
    }
    Ok(smallvec::smallvec![Some(cx.emit(
        Prim::Transpose {
            perm: inverse.into()
        },
        &[ct]
    )?,)])
}

/// `_slice_transpose_rule`: pad the cotangent back with zeros (free).
pub(super) fn slice_transpose(
    cx: &mut TransposeCx<'_>,
    ct: ValueId,
    operand: LinArg,
    start: &[usize],
    strides: &[usize],
) -> Result<crate::ops::transpose::Cts> {
    let x = cx.spec(operand);
    let t = cx.value_spec(ct);
    let to_i64 = |v: usize| i64::try_from(v).unwrap_or(i64::MAX);
    let mut low = Vec::new();
    let mut high = Vec::new();
    let mut interior = Vec::new();
    for i in 0..x.rank() {
        let taken = t.dims()[i];
        let real_limit = if taken == 0 {
            start[i]
        } else {
            start[i] + 1 + (taken - 1) * strides[i]
        };
        low.push(to_i64(start[i]));
        high.push(to_i64(x.dims()[i]) - to_i64(real_limit));
        interior.push(strides[i] - 1);
    }
    let zero = cx.scalar(0.0, t.dtype)?;
    Ok(smallvec::smallvec![Some(cx.emit(
        Prim::Pad {
            low,
            high,
            interior,
        },
        &[ct, zero],
    )?)])
}

/// `_pad_transpose`: unpad and stride-slice the cotangent for the operand; for the padding
/// value, the total cotangent minus the operand's.
pub(super) fn pad_transpose(
    cx: &mut TransposeCx<'_>,
    ct: ValueId,
    args: &[LinArg],
    low: &[i64],
    interior: &[usize],
) -> Result<crate::ops::transpose::Cts> {
    let t = cx.value_spec(ct);
    let x = cx.spec(args[0]);
    let operand_ct = if matches!(args[0], LinArg::Tan(_)) {
        let zero = cx.scalar(0.0, t.dtype)?;
        let high: Vec<i64> = (0..t.rank())
            .map(|i| {
                let d = i64::try_from(x.dims()[i]).unwrap_or(i64::MAX);
                let holes = i64::try_from(interior[i]).unwrap_or(i64::MAX) * (d - 1).max(0);
                -(i64::try_from(t.dims()[i]).unwrap_or(i64::MAX) - low[i] - d - holes)
            })
            .collect();
        let neg_low: Vec<i64> = low.iter().map(|l| -l).collect();
        let unpadded = cx.emit(
            Prim::Pad {
                low: neg_low,
                high,
                interior: vec![0; t.rank()],
            },
            &[ct, zero],
        )?;
        let u = cx.value_spec(unpadded);
        let strided = cx.emit(
            Prim::Slice {
                start: vec![0; t.rank()].into(),
                limit: u.dims().to_vec().into(),
                strides: interior.iter().map(|i| i + 1).collect(),
            },
            &[unpadded],
        )?;
        Some(strided)
    } else {
        None
    };
    let value_ct = if matches!(args[1], LinArg::Tan(_)) {
        let all = |cx: &mut TransposeCx<'_>, v: ValueId| {
            let rank = cx.value_spec(v).rank();
            cx.emit(
                Prim::Reduce {
                    op: ReduceOp::Sum,
                    axes: (0..rank).collect(),
                },
                &[v],
            )
        };
        let total = all(cx, ct)?;
        let inner = match operand_ct {
            Some(v) => all(cx, v)?,
            None => cx.scalar(0.0, t.dtype)?,
        };
        Some(cx.emit(Prim::Binary(super::Binary::Sub), &[total, inner])?)
    } else {
        None
    };
    Ok(smallvec::smallvec![operand_ct, value_ct])
}

pub(super) fn split_spec(inputs: &[&Spec], axis: usize, sizes: &[usize]) -> Result<Vec<Spec>> {
    let x = inputs[0];
    let total = sizes.iter().try_fold(0usize, |acc, &s| acc.checked_add(s));
    if axis >= x.rank() || total != Some(x.dims()[axis]) {
        return Err(Error::shape(
            "split",
            format!("parts {sizes:?} along axis {axis} do not tile {x}"),
        ));
    }
    Ok(sizes
        .iter()
        .map(|&size| {
            let mut dims = x.dims().to_vec();
            dims[axis] = size;
            x.with_shape(dims)
        })
        .collect())
}

/// JAX's `_split_transpose_rule`: the cotangents concatenated, zeros for missing ones.
pub(super) fn split_transpose(
    cx: &mut TransposeCx<'_>,
    cts: &[Option<ValueId>],
    operand: LinArg,
    axis: usize,
    sizes: &[usize],
) -> Result<crate::ops::transpose::Cts> {
    let spec = cx.spec(operand);
    let parts = cts
        .iter()
        .zip(sizes)
        .map(|(ct, &size)| {
            if let Some(ct) = ct {
                Ok(*ct)
            } else {
                let mut dims = spec.dims().to_vec();
                dims[axis] = size;
                cx.emit(
                    Prim::Constant {
                        literal: Literal::Splat(0.0),
                        spec: spec.with_shape(dims),
                    },
                    &[],
                )
            }
        })
        .collect::<Result<Vec<ValueId>>>()?;
    Ok(smallvec::smallvec![Some(
        cx.emit(Prim::Concatenate { axis }, &parts)?
    )])
}

pub(super) fn concatenate_transpose(
    cx: &mut TransposeCx<'_>,
    ct: ValueId,
    args: &[LinArg],
    axis: usize,
) -> Result<crate::ops::transpose::Cts> {
    let t = cx.value_spec(ct);
    let mut offset = 0;
    let mut out = Vec::with_capacity(args.len());
    for arg in args {
        let spec = cx.spec(*arg);
        let size = spec.dims()[axis];
        if matches!(arg, LinArg::Tan(_)) {
            let mut start = vec![0; t.rank()];
            let mut limit = t.dims().to_vec();
            start[axis] = offset;
            limit[axis] = offset + size;
            let strides = vec![1; t.rank()];
            out.push(Some(cx.emit(
                Prim::Slice {
                    start: start.into(),
                    limit: limit.into(),
                    strides: strides.into(),
                },
                &[ct],
            )?));
        } else {
            out.push(None);
        }
        offset += size;
    }
    Ok(out.into())
}
