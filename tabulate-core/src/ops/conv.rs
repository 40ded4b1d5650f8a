//! `conv_general_dilated`: strided, padded, dilated, grouped convolution with arbitrary
//! dimension order, costed as XLA's `GetConvolutionFlops` (padding taps and dilation holes
//! excluded), with JAX's transpose rules.

use super::{Cost, Prim};
use crate::error::{Error, Result};
use crate::ops::graph::{Spec, ValueId};
use crate::ops::linearize::{J, JvpCx};
use crate::ops::transpose::{LinArg, TransposeCx};
use crate::shape::Shape;

/// The static parameters of a convolution.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ConvParams {
    pub(crate) window_strides: Vec<usize>,
    /// Explicit `(low, high)` padding per spatial dimension (may be negative).
    pub(crate) padding: Vec<(i64, i64)>,
    pub(crate) lhs_dilation: Vec<usize>,
    pub(crate) rhs_dilation: Vec<usize>,
    /// lhs dims as (batch, feature, spatial…).
    pub(crate) lhs_spec: Vec<usize>,
    /// rhs dims as (output feature, input feature, spatial…).
    pub(crate) rhs_spec: Vec<usize>,
    /// output dims as (batch, feature, spatial…).
    pub(crate) out_spec: Vec<usize>,
    pub(crate) feature_group_count: usize,
    pub(crate) batch_group_count: usize,
}

/// How `padding` is given, as `lax` accepts it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Padding {
    Same,
    Valid,
    Explicit(Vec<(i64, i64)>),
}

/// `lax.padtype_to_pads(..., 'SAME')`: the output is `ceil(in / stride)`, the extra
/// padding going to the high side.
pub(crate) fn same_padding(
    input: &[usize],
    window: &[usize],
    strides: &[usize],
) -> Vec<(i64, i64)> {
    input
        .iter()
        .zip(window)
        .zip(strides)
        .map(|((&i, &w), &s)| {
            let out = i.div_ceil(s.max(1));
            let total = ((out.saturating_sub(1)) * s + w).saturating_sub(i);
            let total = i64::try_from(total).unwrap_or(i64::MAX);
            (total / 2, total - total / 2)
        })
        .collect()
}

pub(crate) fn take(dims: &[usize], spec: &[usize]) -> Vec<usize> {
    spec.iter().map(|&i| dims[i]).collect()
}

/// `core.dilate_dim`.
pub(crate) fn dilate(d: usize, dilation: usize) -> usize {
    if d == 0 { 0 } else { 1 + dilation * (d - 1) }
}

fn to_i64(v: usize) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

pub(super) fn conv_spec(inputs: &[&Spec], p: &ConvParams) -> Result<Spec> {
    let (lhs, rhs) = (inputs[0], inputs[1]);
    let fail = |why: String| {
        Err(Error::shape(
            "conv_general_dilated",
            format!("{why}: {lhs} and {rhs}"),
        ))
    };
    if lhs.dtype != rhs.dtype {
        return fail("operands must have the same dtype".into());
    }
    let rank = lhs.rank();
    if rhs.rank() != rank || rank < 2 {
        return fail("lhs and rhs must have the same rank, at least 2".into());
    }
    let spatial = rank - 2;
    let specs_ok = [&p.lhs_spec, &p.rhs_spec, &p.out_spec]
        .iter()
        .all(|s| s.len() == rank && s.iter().all(|&d| d < rank));
    let params_ok = p.window_strides.len() == spatial
        && p.padding.len() == spatial
        && p.lhs_dilation.len() == spatial
        && p.rhs_dilation.len() == spatial
        && p.window_strides
            .iter()
            .chain(&p.lhs_dilation)
            .chain(&p.rhs_dilation)
            .all(|&v| v > 0);
    if !specs_ok || !params_ok {
        return fail(
            "dimension numbers, strides, padding or dilations do not match the rank".into(),
        );
    }
    let l = take(lhs.dims(), &p.lhs_spec);
    let r = take(rhs.dims(), &p.rhs_spec);
    let (fgc, bgc) = (p.feature_group_count, p.batch_group_count);
    if fgc == 0 || bgc == 0 || (fgc > 1 && bgc > 1) {
        return fail(
            "feature and batch group counts must be positive, and at most one above 1".into(),
        );
    }
    if !l[1].is_multiple_of(fgc) || l[1] / fgc != r[1] {
        return fail(format!(
            "the input features ({}) divided by feature_group_count ({fgc}) must equal the kernel's input features ({})",
            l[1], r[1]
        ));
    }
    if !r[0].is_multiple_of(fgc) || !r[0].is_multiple_of(bgc) || !l[0].is_multiple_of(bgc) {
        return fail("group counts must divide the output features and the batch".into());
    }
    let mut out = vec![l[0] / bgc, r[0]];
    for s in 0..spatial {
        let input = to_i64(dilate(l[2 + s], p.lhs_dilation[s]));
        let window = to_i64(dilate(r[2 + s], p.rhs_dilation[s]));
        let padded = input + p.padding[s].0 + p.padding[s].1;
        if padded < 0 {
            return fail(format!("padding {:?} is larger than the input", p.padding));
        }
        let size = if padded < window {
            0
        } else {
            (padded - window) / to_i64(p.window_strides[s]) + 1
        };
        out.push(usize::try_from(size).unwrap_or(0));
    }
    let mut dims = vec![0; rank];
    for (i, &d) in p.out_spec.iter().enumerate() {
        dims[d] = out[i];
    }
    Ok(Spec::new(lhs.dtype, Shape::new(dims)))
}

/// Multiply-accumulates as torchvision and ptflops count a convolution: output elements
/// × kernel taps × the kernel's input features (the input features of one group), every
/// tap counted, those on padding included. XLA's flops leave the padded taps out
/// ([`conv_cost`]), which is why a CNN's flops are 3–7% below twice its published MACs.
/// A transposed convolution (input dilation) counts, as they do, every input element
/// against every tap and every output feature of its group, not the dilation's holes.
pub(super) fn conv_macs(inputs: &[&Spec], output: &Spec, p: &ConvParams) -> u64 {
    let (lhs, rhs) = (inputs[0], inputs[1]);
    let taps = p.rhs_spec[2..]
        .iter()
        .fold(1u64, |acc, &d| acc.saturating_mul(rhs.dims()[d] as u64));
    if p.lhs_dilation.iter().any(|&d| d > 1) {
        let group_outputs = rhs.dims()[p.rhs_spec[0]] / p.feature_group_count.max(1);
        return lhs
            .elements()
            .saturating_mul(taps)
            .saturating_mul(group_outputs as u64);
    }
    output
        .elements()
        .saturating_mul(taps)
        .saturating_mul(rhs.dims()[p.rhs_spec[1]] as u64)
}

/// `HloCostAnalysis::GetConvolutionFlops`.
pub(super) fn conv_cost(inputs: &[&Spec], output: &Spec, p: &ConvParams) -> Cost {
    let (lhs, rhs) = (inputs[0], inputs[1]);
    let input_feature = lhs.dims()[p.lhs_spec[1]] as u64;
    let output_feature = output.dims()[p.out_spec[1]] as u64;
    let batch = lhs.dims()[p.lhs_spec[0]] as u64;
    let mut positions = 1u64;
    for s in 0..p.lhs_spec.len() - 2 {
        let kernel = to_i64(rhs.dims()[p.rhs_spec[2 + s]]);
        let out = to_i64(output.dims()[p.out_spec[2 + s]]);
        let input = to_i64(lhs.dims()[p.lhs_spec[2 + s]]);
        let count = valid_positions(input, kernel, out, p, s);
        positions = positions.saturating_mul(count);
    }
    let fma = (input_feature / p.feature_group_count as u64)
        .saturating_mul(output_feature)
        .saturating_mul(batch / p.batch_group_count as u64)
        .saturating_mul(positions);
    Cost::flops(fma.saturating_mul(2))
}

/// (output position, kernel tap) pairs of spatial dim `s` that read a real input element.
fn valid_positions(input: i64, kernel: i64, out: i64, p: &ConvParams, s: usize) -> u64 {
    let stride = to_i64(p.window_strides[s]);
    let base = to_i64(p.lhs_dilation[s]);
    let window_dilation = to_i64(p.rhs_dilation[s]);
    let (pad_low, _) = p.padding[s];
    let mut count = 0i64;
    for k in 0..kernel {
        if stride == 1 && base == 1 {
            let undilated_base = pad_low - k * window_dilation;
            count += ((input + undilated_base).min(out) - undilated_base.max(0)).max(0);
            continue;
        }
        for o in 0..out {
            let undilated = o * stride - pad_low + k * window_dilation;
            // C++ division truncates toward zero; the multiply-back check rejects holes.
            let index = if base > 1 {
                undilated / base
            } else {
                undilated
            };
            if undilated != index * base {
                continue;
            }
            if (0..input).contains(&index) {
                count += 1;
            }
        }
    }
    u64::try_from(count).unwrap_or(0)
}

/// Bilinear: `conv(lhs_dot, rhs) + conv(lhs, rhs_dot)`.
#[allow(clippy::many_single_char_names)] // the names of JAX's rule
pub(super) fn conv_jvp(p: &ConvParams, cx: &mut JvpCx<'_>, x: &[ValueId], t: &[J]) -> Result<J> {
    let prim = Prim::Conv(p.clone());
    let a = if t[0].is_zero() {
        J::Zero
    } else {
        cx.apply(prim.clone(), &[t[0], J::Primal(x[1])])?
    };
    let b = if t[1].is_zero() {
        J::Zero
    } else {
        cx.apply(prim, &[J::Primal(x[0]), t[1]])?
    };
    cx.add_tangents(a, b)
}

pub(super) fn conv_transpose(
    p: &ConvParams,
    cx: &mut TransposeCx<'_>,
    ct: ValueId,
    args: &[LinArg],
) -> Result<Vec<Option<ValueId>>> {
    match (args[0], args[1]) {
        (LinArg::Tan(_), LinArg::Primal(rhs)) => {
            let lhs_shape = cx.spec(args[0]).shape;
            Ok(vec![Some(transpose_lhs(cx, ct, &lhs_shape, rhs, p)?), None])
        }
        (LinArg::Primal(lhs), LinArg::Tan(_)) => {
            let rhs_shape = cx.spec(args[1]).shape;
            Ok(vec![None, Some(transpose_rhs(cx, ct, lhs, &rhs_shape, p)?)])
        }
        _ => Err(Error::internal(
            "a convolution is linear in one operand at a time",
        )),
    }
}

fn swap_first_two(spec: &[usize]) -> Vec<usize> {
    let mut s = spec.to_vec();
    s.swap(0, 1);
    s
}

fn dilated(dims: &[usize], dilation: &[usize]) -> Vec<i64> {
    dims.iter()
        .zip(dilation)
        .map(|(&d, &k)| to_i64(dilate(d, k)))
        .collect()
}

/// `_conv_general_dilated_transpose_lhs`: convolve the cotangent with the reversed kernel,
/// strides and input dilation swapped.
fn transpose_lhs(
    cx: &mut TransposeCx<'_>,
    g: ValueId,
    lhs_shape: &Shape,
    rhs: ValueId,
    p: &ConvParams,
) -> Result<ValueId> {
    let mut rhs = rhs;
    let mut feature_group_count = p.feature_group_count;
    let groups = if p.feature_group_count > 1 {
        p.feature_group_count
    } else {
        p.batch_group_count
    };
    if groups > 1 {
        rhs = reshape_axis_out_of(cx, p.rhs_spec[0], groups, rhs)?;
        rhs = reshape_axis_into(cx, p.rhs_spec[0], p.rhs_spec[1], rhs)?;
        feature_group_count = groups;
    }
    let rhs_dims = cx.value_spec(rhs).shape;
    let g_dims = cx.value_spec(g).shape;
    let lhs_sp = take(lhs_shape.dims(), &p.lhs_spec[2..]);
    let rhs_sp = take(rhs_dims.dims(), &p.rhs_spec[2..]);
    let out_sp = take(g_dims.dims(), &p.out_spec[2..]);
    let lhs_d = dilated(&lhs_sp, &p.lhs_dilation);
    let rhs_d = dilated(&rhs_sp, &p.rhs_dilation);
    let out_d = dilated(&out_sp, &p.window_strides);
    let padding: Vec<(i64, i64)> = (0..lhs_sp.len())
        .map(|s| {
            let before = rhs_d[s] - p.padding[s].0 - 1;
            let after = lhs_d[s] + rhs_d[s] - 1 - out_d[s] - before;
            (before, after)
        })
        .collect();
    let reversed = cx.emit(
        Prim::Rev {
            axes: p.rhs_spec[2..].to_vec(),
        },
        &[rhs],
    )?;
    let params = ConvParams {
        window_strides: p.lhs_dilation.clone(),
        padding,
        lhs_dilation: p.window_strides.clone(),
        rhs_dilation: p.rhs_dilation.clone(),
        lhs_spec: p.out_spec.clone(),
        rhs_spec: swap_first_two(&p.rhs_spec),
        out_spec: p.lhs_spec.clone(),
        feature_group_count,
        batch_group_count: 1,
    };
    let mut out = cx.emit(Prim::Conv(params), &[g, reversed])?;
    if p.batch_group_count > 1 {
        out = reshape_axis_out_of(cx, p.lhs_spec[1], p.batch_group_count, out)?;
        out = reshape_axis_into(cx, p.lhs_spec[1], p.lhs_spec[0], out)?;
    }
    Ok(out)
}

/// `_conv_general_dilated_transpose_rhs`: convolve the input with the cotangent, strides
/// and kernel dilation swapped, feature groups turned into batch groups.
fn transpose_rhs(
    cx: &mut TransposeCx<'_>,
    g: ValueId,
    lhs: ValueId,
    rhs_shape: &Shape,
    p: &ConvParams,
) -> Result<ValueId> {
    let (feature_group_count, batch_group_count) = if p.batch_group_count > 1 {
        (p.batch_group_count, 1)
    } else if p.feature_group_count > 1 {
        (1, p.feature_group_count)
    } else {
        (1, 1)
    };
    let lhs_dims = cx.value_spec(lhs).shape;
    let g_dims = cx.value_spec(g).shape;
    let lhs_sp = take(lhs_dims.dims(), &p.lhs_spec[2..]);
    let rhs_sp = take(rhs_shape.dims(), &p.rhs_spec[2..]);
    let out_sp = take(g_dims.dims(), &p.out_spec[2..]);
    let lhs_d = dilated(&lhs_sp, &p.lhs_dilation);
    let rhs_d = dilated(&rhs_sp, &p.rhs_dilation);
    let out_d = dilated(&out_sp, &p.window_strides);
    let padding: Vec<(i64, i64)> = (0..lhs_sp.len())
        .map(|s| {
            let low = p.padding[s].0;
            let high = (out_d[s] - lhs_d[s]) + (rhs_d[s] - low - 1);
            (low, high)
        })
        .collect();
    let params = ConvParams {
        window_strides: p.rhs_dilation.clone(),
        padding,
        lhs_dilation: p.lhs_dilation.clone(),
        rhs_dilation: p.window_strides.clone(),
        lhs_spec: swap_first_two(&p.lhs_spec),
        rhs_spec: swap_first_two(&p.out_spec),
        out_spec: swap_first_two(&p.rhs_spec),
        feature_group_count,
        batch_group_count,
    };
    cx.emit(Prim::Conv(params), &[lhs, g])
}

/// `_reshape_axis_out_of`: splits dimension `src` into `[size, rest]`.
fn reshape_axis_out_of(
    cx: &mut TransposeCx<'_>,
    src: usize,
    size: usize,
    x: ValueId,
) -> Result<ValueId> {
    let mut dims = cx.value_spec(x).shape.dims().to_vec();
    let rest = dims[src] / size;
    dims.splice(src..=src, [size, rest]);
    cx.emit(
        Prim::Reshape {
            shape: Shape::new(dims),
        },
        &[x],
    )
}

/// `_reshape_axis_into`: merges dimension `src` into dimension `dst` (numbered after
/// removing `src`), as the major part.
fn reshape_axis_into(
    cx: &mut TransposeCx<'_>,
    src: usize,
    dst: usize,
    x: ValueId,
) -> Result<ValueId> {
    let dims = cx.value_spec(x).shape.dims().to_vec();
    let mut perm: Vec<usize> = (0..dims.len()).filter(|&i| i != src).collect();
    perm.insert(dst, src);
    let mut shape: Vec<usize> = dims
        .iter()
        .enumerate()
        .filter(|&(i, _)| i != src)
        .map(|(_, &d)| d)
        .collect();
    shape[dst] *= dims[src];
    let moved = if perm.iter().enumerate().all(|(i, &p)| i == p) {
        x
    } else {
        cx.emit(Prim::Transpose { perm }, &[x])?
    };
    cx.emit(
        Prim::Reshape {
            shape: Shape::new(shape),
        },
        &[moved],
    )
}
