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
            let (i, w, s) = (i as i128, w as i128, s.max(1) as i128);
            let out = (i + s - 1) / s;
            // `lax.padtype_to_pads`: max(0, (out − 1)·stride + window − in), out − 1 may be −1.
            let total = ((out - 1) * s + w - i).max(0);
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
    if d == 0 {
        0
    } else {
        dilation.saturating_mul(d - 1).saturating_add(1)
    }
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
    // In i128: dilated sizes and paddings of 64-bit numbers cannot overflow it.
    let wide = |d: usize, dilation: usize| {
        let (d, dilation) = (d as i128, dilation as i128);
        if d == 0 { 0 } else { 1 + dilation * (d - 1) }
    };
    for s in 0..spatial {
        let input = wide(l[2 + s], p.lhs_dilation[s]);
        let window = wide(r[2 + s], p.rhs_dilation[s]);
        let padded = input + i128::from(p.padding[s].0) + i128::from(p.padding[s].1);
        if padded < 0 {
            return fail(format!("padding {:?} is larger than the input", p.padding));
        }
        let size = if padded < window {
            0
        } else {
            (padded - window) / p.window_strides[s] as i128 + 1
        };
        match usize::try_from(size) {
            Ok(size) => out.push(size),
            Err(_) => return fail(format!("spatial dimension {s} of the output is too large")),
        }
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
    if input_feature == 0 || output_feature == 0 || batch == 0 {
        return Cost::ZERO;
    }
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

/// (output position, kernel tap) pairs of spatial dim `s` that read a real input element:
/// pairs `(o, k)`, `0 ≤ o < out`, `0 ≤ k < kernel`, whose position in the dilated, padded
/// input `u = o·stride + k·window_dilation − pad_low` is a real element, `u = base·i` with
/// `0 ≤ i < input`.
///
/// Closed form, a fixed number of steps whatever the sizes: the pairs with `base | u`
/// form a coset of a lattice, `k = k0 + c·t` and, for each such `k`, `o ≡ r0 − δ·t`
/// (mod `m`); for each `t` the feasible `o` are an interval `[B(k), A(k)]` whose ends are
/// constants or floors of linear functions of `k`, switching form at most once each. So
/// the count is a difference of floor sums `Σ_t ⌊(α + β·t)/M⌋` over at most three pieces,
/// each summed in O(log) steps. `u64::MAX` (the rules' overflow) when the count or an
/// intermediate does not fit.
fn valid_positions(input: i64, kernel: i64, out: i64, p: &ConvParams, s: usize) -> u64 {
    let count = lattice_count(
        i128::from(input),
        i128::from(kernel),
        i128::from(out),
        i128::from(to_i64(p.window_strides[s]).max(1)),
        i128::from(to_i64(p.lhs_dilation[s]).max(1)),
        i128::from(to_i64(p.rhs_dilation[s]).max(1)),
        i128::from(p.padding[s].0),
    );
    count
        .and_then(|c| u64::try_from(c).ok())
        .unwrap_or(u64::MAX)
}

/// [`valid_positions`]'s count in checked `i128` arithmetic (`None` on overflow).
fn lattice_count(
    input: i128,
    kernel: i128,
    out: i128,
    stride: i128,
    base: i128,
    wd: i128,
    pad: i128,
) -> Option<i128> {
    if input <= 0 || kernel <= 0 || out <= 0 {
        return Some(0);
    }
    let last = (input - 1).checked_mul(base)?; // the last real element's dilated position
    let reach = pad.checked_add(last)?; // u ≤ last ⟺ o·stride + k·wd ≤ reach
    // Taps with some feasible output: k·wd ∈ [pad − (out−1)·stride, reach].
    let k_lo = ceil_div(pad.checked_sub((out - 1).checked_mul(stride)?)?, wd).max(0);
    let k_hi = floor_div(reach, wd).min(kernel - 1);
    if k_hi < k_lo {
        return Some(0);
    }
    // base | o·stride + k·wd − pad: solvable in o iff g_s | k·wd − pad (g_s = gcd(stride,
    // base)), i.e. k ≡ k0 (mod c); then o ≡ r(k) (mod m), m = base / g_s.
    let g_s = gcd(stride, base);
    let m = base / g_s;
    let g2 = gcd(wd, g_s);
    if pad.rem_euclid(g2) != 0 {
        return Some(0);
    }
    let c = g_s / g2;
    let k0 = ((pad / g2).rem_euclid(c) * mod_inverse((wd / g2).rem_euclid(c), c)).rem_euclid(c);
    // r(k0 + c·t) ≡ (R0 − t·D)·inv (mod m), R0 = (pad − k0·wd)/g_s, D = c·wd/g_s.
    let inv = mod_inverse((stride / g_s).rem_euclid(m), m);
    let r_0 = pad.checked_sub(k0.checked_mul(wd)?)? / g_s;
    let r0 = mul_mod(r_0.rem_euclid(m), inv, m)?;
    let delta = mul_mod((c.checked_mul(wd)? / g_s).rem_euclid(m), inv, m)?;
    // t ranges over k0 + c·t ∈ [k_lo, k_hi].
    let t_lo = ceil_div(k_lo - k0, c);
    let t_hi = floor_div(k_hi - k0, c);
    if t_hi < t_lo {
        return Some(0);
    }
    // A(k) = out − 1 for k ≤ kA, else ⌊(reach − k·wd)/stride⌋;
    // B(k) = ⌈(pad − k·wd)/stride⌉ for k ≤ kB, else 0.
    let k_a = floor_div(reach.checked_sub((out - 1).checked_mul(stride)?)?, wd);
    let k_b = ceil_div(pad, wd) - 1;
    let t_a = floor_div(k_a - k0, c);
    let t_b = floor_div(k_b - k0, c);
    // For o ≡ ρ (mod m), ρ = r0 − δ·t: #{o ∈ [B, A]} = ⌊(A − ρ)/m⌋ − ⌊(B − 1 − ρ)/m⌋, and
    // ⌊(⌊X/stride⌋ − ρ)/m⌋ = ⌊(X − stride·ρ)/(stride·m)⌋.
    let sm = stride.checked_mul(m)?;
    let slope = stride.checked_mul(delta)?.checked_sub(c.checked_mul(wd)?)?;
    let k0wd = k0.checked_mul(wd)?;
    let s_r0 = stride.checked_mul(r0)?;
    // The A terms: constant piece, then the floor piece.
    let a_const = floor_sum_range(t_lo, t_hi.min(t_a), out - 1 - r0, delta, m)?;
    let a_floor = floor_sum_range(
        t_lo.max(t_a.checked_add(1)?),
        t_hi,
        reach.checked_sub(k0wd)?.checked_sub(s_r0)?,
        slope,
        sm,
    )?;
    // The B terms: B − 1 = ⌊(pad − k·wd − 1)/stride⌋ on the first piece, −1 after it.
    let b_ceil = floor_sum_range(
        t_lo,
        t_hi.min(t_b),
        pad.checked_sub(k0wd)?.checked_sub(1)?.checked_sub(s_r0)?,
        slope,
        sm,
    )?;
    let b_zero = floor_sum_range(t_lo.max(t_b.checked_add(1)?), t_hi, -1 - r0, delta, m)?;
    a_const
        .checked_add(a_floor)?
        .checked_sub(b_ceil)?
        .checked_sub(b_zero)
}

/// `a·b mod m` for `0 ≤ a, b < m`, checked.
fn mul_mod(a: i128, b: i128, m: i128) -> Option<i128> {
    Some(a.checked_mul(b)?.rem_euclid(m))
}

/// `Σ_{t = lo}^{hi} ⌊(alpha + beta·t)/modulus⌋` (0 for an empty range), `modulus > 0`.
fn floor_sum_range(lo: i128, hi: i128, alpha: i128, beta: i128, modulus: i128) -> Option<i128> {
    if hi < lo {
        return Some(0);
    }
    let n = hi.checked_sub(lo)?.checked_add(1)?;
    floor_sum(n, modulus, beta, alpha.checked_add(beta.checked_mul(lo)?)?)
}

/// `Σ_{i = 0}^{n−1} ⌊(a·i + b)/m⌋` for `n ≥ 0`, `m > 0` and any `a`, `b`, by the
/// Euclid-like reduction (O(log m) steps), checked.
#[allow(clippy::many_single_char_names)] // the formula's names
fn floor_sum(mut n: i128, mut m: i128, mut a: i128, mut b: i128) -> Option<i128> {
    let pairs = |n: i128| -> Option<i128> {
        // n·(n−1)/2 without overflowing first.
        if n % 2 == 0 {
            (n / 2).checked_mul(n - 1)
        } else {
            n.checked_mul((n - 1) / 2)
        }
    };
    let mut total: i128 = 0;
    if a < 0 || a >= m {
        let q = a.div_euclid(m);
        total = total.checked_add(pairs(n)?.checked_mul(q)?)?;
        a = a.rem_euclid(m);
    }
    if b < 0 || b >= m {
        let q = b.div_euclid(m);
        total = total.checked_add(n.checked_mul(q)?)?;
        b = b.rem_euclid(m);
    }
    loop {
        if a >= m {
            total = total.checked_add(pairs(n)?.checked_mul(a / m)?)?;
            a %= m;
        }
        if b >= m {
            total = total.checked_add(n.checked_mul(b / m)?)?;
            b %= m;
        }
        let y_max = a.checked_mul(n)?.checked_add(b)?;
        if y_max < m {
            return Some(total);
        }
        n = y_max / m;
        b = y_max % m;
        std::mem::swap(&mut m, &mut a);
    }
}

fn floor_div(a: i128, b: i128) -> i128 {
    a.div_euclid(b)
}

fn ceil_div(a: i128, b: i128) -> i128 {
    -(-a).div_euclid(b)
}

fn gcd(mut a: i128, mut b: i128) -> i128 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a.abs()
}

/// The inverse of `a` modulo `m` (`a` and `m` coprime; 0 when `m` is 1).
fn mod_inverse(value: i128, modulus: i128) -> i128 {
    let (mut old_rem, mut rem) = (value, modulus);
    let (mut old_coef, mut coef) = (1i128, 0i128);
    while rem != 0 {
        let quotient = old_rem / rem;
        (old_rem, rem) = (rem, old_rem - quotient * rem);
        (old_coef, coef) = (coef, old_coef - quotient * coef);
    }
    old_coef.rem_euclid(modulus)
}

/// Bilinear: `conv(lhs_dot, rhs) + conv(lhs, rhs_dot)`.
#[allow(clippy::many_single_char_names)] // the names of JAX's rule
pub(super) fn conv_jvp(p: &ConvParams, cx: &mut JvpCx<'_>, x: &[ValueId], t: &[J]) -> Result<J> {
    let prim = Prim::Conv(Box::new(p.clone()));
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
) -> Result<crate::ops::transpose::Cts> {
    match (args[0], args[1]) {
        (LinArg::Tan(_), LinArg::Primal(rhs)) => {
            let lhs_shape = cx.spec(args[0]).shape;
            Ok(smallvec::smallvec![
                Some(transpose_lhs(cx, ct, &lhs_shape, rhs, p)?),
                None
            ])
        }
        (LinArg::Primal(lhs), LinArg::Tan(_)) => {
            let rhs_shape = cx.spec(args[1]).shape;
            Ok(smallvec::smallvec![
                None,
                Some(transpose_rhs(cx, ct, lhs, &rhs_shape, p)?)
            ])
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

/// The dilated sizes of the transposed convolution's operands, in `i128` so that the
/// paddings computed from them cannot overflow; each must fit in 64 bits, as the paddings
/// of the convolution it emits (`i64`) are computed from them.
fn dilated(dims: &[usize], dilation: &[usize]) -> Result<Vec<i128>> {
    dims.iter()
        .zip(dilation)
        .map(|(&d, &k)| {
            // `dilate` saturates at `usize::MAX`, which no `i64` holds either.
            i64::try_from(dilate(d, k)).map(i128::from).map_err(|_| {
                Error::shape(
                    "conv_general_dilated",
                    format!("a size of {d} dilated by {k} does not fit in 64 bits"),
                )
            })
        })
        .collect()
}

/// A padding of the transposed convolution, which must fit in `i64`.
fn padding_of(value: i128) -> Result<i64> {
    i64::try_from(value).map_err(|_| {
        Error::shape(
            "conv_general_dilated",
            format!("a padding of {value} does not fit in 64 bits"),
        )
    })
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
    let lhs_d = dilated(&lhs_sp, &p.lhs_dilation)?;
    let rhs_d = dilated(&rhs_sp, &p.rhs_dilation)?;
    let out_d = dilated(&out_sp, &p.window_strides)?;
    let padding = (0..lhs_sp.len())
        .map(|s| {
            let before = rhs_d[s] - i128::from(p.padding[s].0) - 1;
            let after = lhs_d[s] + rhs_d[s] - 1 - out_d[s] - before;
            Ok((padding_of(before)?, padding_of(after)?))
        })
        .collect::<Result<Vec<_>>>()?;
    let reversed = cx.emit(
        Prim::Rev {
            axes: p.rhs_spec[2..].to_vec().into(),
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
    let mut out = cx.emit(Prim::Conv(Box::new(params)), &[g, reversed])?;
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
    let lhs_d = dilated(&lhs_sp, &p.lhs_dilation)?;
    let rhs_d = dilated(&rhs_sp, &p.rhs_dilation)?;
    let out_d = dilated(&out_sp, &p.window_strides)?;
    let padding = (0..lhs_sp.len())
        .map(|s| {
            let low = p.padding[s].0;
            let high = (out_d[s] - lhs_d[s]) + (rhs_d[s] - i128::from(low) - 1);
            Ok((low, padding_of(high)?))
        })
        .collect::<Result<Vec<_>>>()?;
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
    cx.emit(Prim::Conv(Box::new(params)), &[lhs, g])
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
        cx.emit(Prim::Transpose { perm: perm.into() }, &[x])?
    };
    cx.emit(
        Prim::Reshape {
            shape: Shape::new(shape),
        },
        &[moved],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The definition, one pair at a time (C++'s truncating division, as XLA writes it).
    fn brute(input: i64, kernel: i64, out: i64, p: &ConvParams) -> u64 {
        let (stride, base, wd) = (
            to_i64(p.window_strides[0]),
            to_i64(p.lhs_dilation[0]),
            to_i64(p.rhs_dilation[0]),
        );
        let mut count = 0;
        for k in 0..kernel {
            for o in 0..out {
                let undilated = o * stride - p.padding[0].0 + k * wd;
                let index = undilated / base;
                if undilated == index * base && (0..input).contains(&index) {
                    count += 1;
                }
            }
        }
        count
    }

    #[test]
    fn valid_positions_match_the_definition() {
        for (input, kernel, out) in [
            (0, 2, 3),
            (5, 3, 5),
            (7, 4, 3),
            (3, 7, 9),
            (1, 1, 1),
            (2, 9, 11),
            (1, 6, 8),
        ] {
            for stride in 1..=3 {
                for base in 1..=3 {
                    for wd in 1..=3 {
                        for pad in -4..=5 {
                            let p = ConvParams {
                                window_strides: vec![stride],
                                padding: vec![(pad, 0)],
                                lhs_dilation: vec![base],
                                rhs_dilation: vec![wd],
                                lhs_spec: vec![0, 1, 2],
                                rhs_spec: vec![0, 1, 2],
                                out_spec: vec![0, 1, 2],
                                feature_group_count: 1,
                                batch_group_count: 1,
                            };
                            assert_eq!(
                                valid_positions(input, kernel, out, &p, 0),
                                brute(input, kernel, out, &p),
                                "{input} {kernel} {out} {p:?}"
                            );
                        }
                    }
                }
            }
        }
    }

    /// Sizes, strides, dilations and paddings beyond the exhaustive grid above, from a
    /// fixed pseudo-random sequence: the closed form agrees with the definition.
    #[test]
    #[allow(clippy::cast_possible_wrap, clippy::cast_possible_truncation)] // small draws
    fn valid_positions_match_the_definition_on_random_configurations() {
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = |n: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % n
        };
        for _ in 0..20_000 {
            let (input, kernel, out) = (next(40) as i64, next(25) as i64 + 1, next(40) as i64 + 1);
            let p = ConvParams {
                window_strides: vec![next(9) as usize + 1],
                padding: vec![(next(60) as i64 - 30, 0)],
                lhs_dilation: vec![next(9) as usize + 1],
                rhs_dilation: vec![next(9) as usize + 1],
                lhs_spec: vec![0, 1, 2],
                rhs_spec: vec![0, 1, 2],
                out_spec: vec![0, 1, 2],
                feature_group_count: 1,
                batch_group_count: 1,
            };
            assert_eq!(
                valid_positions(input, kernel, out, &p, 0),
                brute(input, kernel, out, &p),
                "{input} {kernel} {out} {p:?}"
            );
        }
    }

    /// The fuzz suite's hang: every one of the three ranges (input, kernel taps, output
    /// positions) 2^28 or more, which the former loop over the shortest range took
    /// minutes over. Now a handful of steps, with the exact count: SAME padding of a
    /// `k`-tap kernel over `n` positions (stride 1), every pair but the taps over the
    /// padding.
    #[test]
    fn valid_positions_with_every_range_huge_are_immediate() {
        let same = |n: i64, k: i64| {
            let pad = (k - 1) / 2;
            let p = ConvParams {
                window_strides: vec![1],
                padding: vec![(pad, k - 1 - pad)],
                lhs_dilation: vec![1],
                rhs_dilation: vec![1],
                lhs_spec: vec![0, 1, 2],
                rhs_spec: vec![0, 1, 2],
                out_spec: vec![0, 1, 2],
                feature_group_count: 1,
                batch_group_count: 1,
            };
            let (n, k, pad) = (i128::from(n), i128::from(k), i128::from(pad));
            let right = k - 1 - pad;
            (p, n * k - pad * (pad + 1) / 2 - right * (right + 1) / 2)
        };
        let started = std::time::Instant::now();
        let (p, expected) = same(1 << 32, 1 << 28);
        assert_eq!(
            i128::from(valid_positions(1 << 32, 1 << 28, 1 << 32, &p, 0)),
            expected
        );
        // 2^72 pairs: exact in i128, an overflow (u64::MAX) as a rule's count.
        let (p, expected) = same(1 << 40, 1 << 32);
        assert_eq!(
            lattice_count(1 << 40, 1 << 32, 1 << 40, 1, 1, 1, p.padding[0].0.into()),
            Some(expected)
        );
        assert_eq!(valid_positions(1 << 40, 1 << 32, 1 << 40, &p, 0), u64::MAX);
        // Transposed (base 2^20), strided and dilated: still a few steps.
        let p = ConvParams {
            lhs_dilation: vec![1 << 20],
            rhs_dilation: vec![(1 << 20) + 1],
            window_strides: vec![3],
            ..p
        };
        let _ = valid_positions(1 << 40, 1 << 32, 1 << 40, &p, 0);
        assert!(started.elapsed() < std::time::Duration::from_millis(100));
    }

    /// Extreme sizes, strides, dilations and paddings (up to `i64::MAX` and `i64::MIN`):
    /// no overflow panic, and never more pairs than `out · kernel`.
    #[test]
    fn valid_positions_of_extreme_configurations_stay_in_bounds() {
        let sizes = [0, 1, 2, (1 << 32) + 1, i64::MAX];
        let steps = [1, 3, 1 << 31, i64::MAX];
        let pads = [i64::MIN, -(1 << 40), -1, 0, 1, i64::MAX];
        for (&input, &kernel, &out) in triples(&sizes) {
            for &stride in &steps {
                for &base in &steps {
                    for &wd in &steps {
                        for &pad in &pads {
                            let count = lattice_count(
                                input.into(),
                                kernel.into(),
                                out.into(),
                                stride.into(),
                                base.into(),
                                wd.into(),
                                pad.into(),
                            );
                            if let Some(count) = count {
                                assert!(
                                    (0..=i128::from(out.max(0)) * i128::from(kernel.max(0)))
                                        .contains(&count),
                                    "{input} {kernel} {out} {stride} {base} {wd} {pad}: {count}"
                                );
                            }
                        }
                    }
                }
            }
        }
    }

    /// Every triple of `values`.
    fn triples(values: &[i64]) -> Vec<(&i64, &i64, &i64)> {
        let mut out = Vec::new();
        for a in values {
            for b in values {
                for c in values {
                    out.push((a, b, c));
                }
            }
        }
        out
    }

    #[test]
    fn valid_positions_of_a_huge_input_are_immediate() {
        let p = ConvParams {
            window_strides: vec![1],
            padding: vec![(1, 1)],
            lhs_dilation: vec![1],
            rhs_dilation: vec![1],
            lhs_spec: vec![0, 1, 2],
            rhs_spec: vec![0, 1, 2],
            out_spec: vec![0, 1, 2],
            feature_group_count: 1,
            batch_group_count: 1,
        };
        let n = 1i64 << 40;
        assert_eq!(valid_positions(n, 3, n, &p, 0), 3 * (1u64 << 40) - 2);
    }
}
