//! Costs of burn's recorded operations, by mapping each `OperationIr` onto the primitives
//! `tabulate-core` models (`dot_general`, `conv_general_dilated`, elementwise, `reduce`,
//! `reduce_window`, `gather`, …) and applying those primitives' XLA cost rules
//! (`reference/xla-cost-model.md`): never a per-layer formula.
//!
//! A fused burn op (`LayerNorm`, `BatchNorm`, `Softmax`, `Gelu`, `Attention`, …) is costed
//! as the sequence of primitives that `flax.linen` / `jax.nn` emit for the same function,
//! in the same order as `tabulate-core`'s `nn` layers emit them. The rules below mirror
//! `tabulate-core/src/ops/*::cost` one for one (those are crate-private today); each helper
//! names the primitive whose rule it applies.
//!
//! Operations with no faithful primitive mapping are [`OpCost::not_costed`]: they are never
//! silently counted as zero, and the summary lists them.

use burn::backend::ir::{
    ActivationOperationIr, BaseOperationIr, BoolOperationIr, FloatOperationIr, IntOperationIr,
    ModuleOperationIr, NumericOperationIr, OperationIr, TensorIr,
};

/// Forward cost of an operation, in XLA's units.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cost {
    /// Floating-point operations (XLA's `flops`: transcendental opcodes count 0 here).
    pub flops: u64,
    /// Transcendental operations (`exp`, `log`, `tanh`, `rsqrt`, `pow`, …), counted apart
    /// as XLA does.
    pub transcendentals: u64,
    /// Multiply-accumulates of `dot_general` and `conv_general_dilated` (half their flops).
    pub macs: u64,
}

impl Cost {
    const ZERO: Cost = Cost {
        flops: 0,
        transcendentals: 0,
        macs: 0,
    };

    fn flops(flops: u64) -> Cost {
        Cost {
            flops,
            ..Cost::ZERO
        }
    }

    fn transcendentals(n: u64) -> Cost {
        Cost {
            transcendentals: n,
            ..Cost::ZERO
        }
    }
}

impl std::ops::Add for Cost {
    type Output = Cost;
    fn add(self, rhs: Cost) -> Cost {
        Cost {
            flops: self.flops.saturating_add(rhs.flops),
            transcendentals: self.transcendentals.saturating_add(rhs.transcendentals),
            macs: self.macs.saturating_add(rhs.macs),
        }
    }
}

impl std::ops::AddAssign for Cost {
    fn add_assign(&mut self, rhs: Cost) {
        *self = *self + rhs;
    }
}

impl std::iter::Sum for Cost {
    fn sum<I: Iterator<Item = Cost>>(iter: I) -> Cost {
        iter.fold(Cost::ZERO, |a, b| a + b)
    }
}

/// The cost of one recorded burn operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpCost {
    /// burn's name of the operation, e.g. `Float::Matmul`, `Module::Conv2d`.
    pub name: String,
    /// The primitives it maps onto, in order (empty when not costed).
    pub primitives: Vec<&'static str>,
    /// Their summed cost (zero when not costed).
    pub cost: Cost,
    /// `false` when the operation has no primitive mapping; its cost is unknown, not zero.
    pub costed: bool,
}

impl OpCost {
    fn of(name: String, parts: &[(&'static str, Cost)]) -> OpCost {
        OpCost {
            name,
            primitives: parts.iter().map(|p| p.0).collect(),
            cost: parts.iter().map(|p| p.1).sum(),
            costed: true,
        }
    }

    fn not_costed(name: String) -> OpCost {
        OpCost {
            name,
            primitives: Vec::new(),
            cost: Cost::ZERO,
            costed: false,
        }
    }
}

fn elements(t: &TensorIr) -> u64 {
    t.shape.iter().map(|&d| d as u64).product()
}

// ------------------------------------------------------- primitive rules (tabulate-core)

/// `dot_general`: 2 × output elements × contracted size (`ops/dot.rs`).
fn dot_general(out: u64, contracted: u64) -> (&'static str, Cost) {
    let macs = out.saturating_mul(contracted);
    (
        "dot_general",
        Cost {
            flops: macs.saturating_mul(2),
            transcendentals: 0,
            macs,
        },
    )
}

/// Elementwise op of `n` results costing one flop each: add, sub, mul, div, max, min,
/// compare, `select_n`, convert, neg, abs, floor, round, … (`ops/elementwise.rs`).
fn elementwise(name: &'static str, n: u64) -> (&'static str, Cost) {
    (name, Cost::flops(n))
}

/// Transcendental unary op (`exp`, `log`, `tanh`, `sqrt`, `rsqrt`, `erf`, `sin`, …) and
/// binary `pow`: no flops, one transcendental per result (`ops/elementwise.rs`).
fn transcendental(name: &'static str, n: u64) -> (&'static str, Cost) {
    (name, Cost::transcendentals(n))
}

/// `logistic`, lowered as `1 / (1 + exp(-x))`: 3 flops and one exp per element.
fn logistic(n: u64) -> (&'static str, Cost) {
    (
        "logistic",
        Cost {
            flops: 3 * n,
            transcendentals: n,
            macs: 0,
        },
    )
}

/// `erfc`, CHLO's float32 expansion: 62 flops and one exp per element.
fn erfc(n: u64) -> (&'static str, Cost) {
    (
        "erfc",
        Cost {
            flops: 62 * n,
            transcendentals: n,
            macs: 0,
        },
    )
}

/// `reduce_*` of `input` elements to `out`: one flop per element folded in (`ops/reduce.rs`).
fn reduce(name: &'static str, input: u64, out: u64) -> (&'static str, Cost) {
    (name, Cost::flops(input.saturating_sub(out)))
}

/// `argmax`/`argmin`: 9 flops per element folded in (`ops/reduce.rs`).
fn argmax(input: u64, out: u64) -> (&'static str, Cost) {
    ("argmax", Cost::flops(9 * input.saturating_sub(out)))
}

/// Zero-cost structural primitives (reshape, transpose, `broadcast_in_dim`, slice, pad,
/// concatenate, rev, constant, iota).
fn free(name: &'static str) -> (&'static str, Cost) {
    (name, Cost::ZERO)
}

/// `integer_pow(x, y)`: multiplications of repeated squaring, per element
/// (`ops/elementwise.rs::integer_pow_ops`).
fn integer_pow_ops(y: i64) -> u64 {
    if y == 0 {
        return 0;
    }
    let mut n = y.unsigned_abs();
    let mut ops = 0;
    let mut have_acc = false;
    while n > 0 {
        if n & 1 == 1 {
            if have_acc {
                ops += 1;
            }
            have_acc = true;
        }
        n >>= 1;
        if n > 0 {
            ops += 1;
        }
    }
    // A negative exponent divides once at the end.
    ops + u64::from(y < 0)
}

/// `conv_general_dilated` (`ops/conv.rs::conv_cost`): 2 × (input features / groups) ×
/// output features × batch × (output position, kernel tap) pairs reading a real input
/// element, per spatial dimension.
struct ConvGeometry<'a> {
    input: &'a [usize],
    kernel: &'a [usize],
    output: &'a [usize],
    strides: &'a [usize],
    lhs_dilation: &'a [usize],
    rhs_dilation: &'a [usize],
    pad_low: &'a [i64],
    groups: usize,
}

fn conv(x: &TensorIr, out: &TensorIr, g: &ConvGeometry<'_>) -> (&'static str, Cost) {
    let batch = x.shape[0] as u64;
    let input_features = x.shape[1] as u64;
    let output_features = out.shape[1] as u64;
    let mut positions = 1u64;
    for s in 0..g.kernel.len() {
        positions = positions.saturating_mul(valid_positions(g, s));
    }
    let macs = (input_features / g.groups.max(1) as u64)
        .saturating_mul(output_features)
        .saturating_mul(batch)
        .saturating_mul(positions);
    (
        "conv_general_dilated",
        Cost {
            flops: macs.saturating_mul(2),
            transcendentals: 0,
            macs,
        },
    )
}

fn to_i64(v: usize) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// XLA's count of (output position, kernel tap) pairs of spatial dim `s` that read a real
/// input element (`ops/conv.rs::valid_positions`).
fn valid_positions(g: &ConvGeometry<'_>, s: usize) -> u64 {
    let input = to_i64(g.input[s]);
    let kernel = to_i64(g.kernel[s]);
    let out = to_i64(g.output[s]);
    let stride = to_i64(g.strides[s]);
    let base = to_i64(g.lhs_dilation[s]);
    let window_dilation = to_i64(g.rhs_dilation[s]);
    let pad_low = g.pad_low[s];
    let mut count = 0i64;
    for k in 0..kernel {
        if stride == 1 && base == 1 {
            let undilated_base = pad_low - k * window_dilation;
            count += ((input + undilated_base).min(out) - undilated_base.max(0)).max(0);
            continue;
        }
        for o in 0..out {
            let undilated = o * stride - pad_low + k * window_dilation;
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

/// A convolution with an optional bias: the conv, then the bias broadcast (free) and added
/// (one flop per output element), as `flax.linen.Conv` does.
fn conv_with_bias(
    x: &TensorIr,
    out: &TensorIr,
    has_bias: bool,
    g: &ConvGeometry<'_>,
) -> Vec<(&'static str, Cost)> {
    let mut parts = vec![conv(x, out, g)];
    if has_bias {
        parts.push(free("broadcast_in_dim"));
        parts.push(elementwise("add", elements(out)));
    }
    parts
}

/// `reduce_window` of `window` elements per output (`ops/window.rs::reduce_window_cost`,
/// general case: pools here never hit its cumsum-shaped special case, which needs a single
/// padded reduced dim whose window spans the whole output).
fn reduce_window(name: &'static str, out: u64, window: u64) -> (&'static str, Cost) {
    (
        name,
        Cost::flops(window.saturating_sub(1).saturating_mul(out)),
    )
}

/// `jnp.take(table, indices, axis=0)` (`flax.linen.Embed`, `ops/gather.rs`, fill mode):
/// the gather's index vectors have length 1.
fn take_rows(indices: u64, out: u64) -> (&'static str, Cost) {
    ("gather", Cost::flops(3 * indices + out))
}

/// `jax.nn.softmax` over one axis of `n` elements reduced to `r`: `reduce_max`, max with
/// −∞, sub, exp, `reduce_sum`, div (`tabulate-core/src/nn/activation.rs`).
fn softmax(n: u64, r: u64) -> Vec<(&'static str, Cost)> {
    vec![
        reduce("reduce_max", n, r),
        elementwise("max", r),
        free("broadcast_in_dim"),
        elementwise("sub", n),
        transcendental("exp", n),
        reduce("reduce_sum", n, r),
        elementwise("div", n),
    ]
}

/// `jnp.mean` over axes reducing `n` elements to `r`: `reduce_sum`, then div by the count.
fn mean(n: u64, r: u64) -> Vec<(&'static str, Cost)> {
    vec![reduce("reduce_sum", n, r), elementwise("div", r)]
}

fn reduced_elements(x: &TensorIr, axis: usize) -> u64 {
    elements(x) / (x.shape.get(axis).copied().unwrap_or(1).max(1) as u64)
}

// -------------------------------------------------------------------------- the mapping

/// burn's name of an operation: the enum variant and the inner variant, e.g.
/// `NumericFloat::Add`, `Module::Conv2d`, `BaseFloat::Reshape`.
pub fn op_name(op: &OperationIr) -> String {
    let debug = format!("{op:?}");
    let outer_end = debug.find('(').unwrap_or(debug.len());
    let outer = &debug[..outer_end];
    let mut rest = debug.get(outer_end + 1..).unwrap_or("");
    // Skip a leading dtype argument (`NumericFloat(F32, Add(..))`).
    if let Some(comma) = rest.find(", ")
        && rest[..comma]
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '(' || c == ')')
        && !rest[..comma].contains("OpIr")
    {
        rest = &rest[comma + 2..];
    }
    let inner_end = rest
        .find(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .unwrap_or(rest.len());
    let inner = &rest[..inner_end];
    let kind = match outer {
        "BaseFloat" | "NumericFloat" | "Float" => "Float",
        "BaseInt" | "NumericInt" | "Int" => "Int",
        "BaseBool" | "Bool" => "Bool",
        other => other,
    };
    if inner.is_empty() || inner.ends_with("Ir") {
        kind.to_string()
    } else {
        format!("{kind}::{inner}")
    }
}

/// The cost of one operation.
pub fn cost(op: &OperationIr) -> OpCost {
    let name = op_name(op);
    match parts(op) {
        Some(parts) => OpCost::of(name, &parts),
        None => OpCost::not_costed(name),
    }
}

fn parts(op: &OperationIr) -> Option<Vec<(&'static str, Cost)>> {
    match op {
        OperationIr::BaseFloat(b) | OperationIr::BaseInt(b) | OperationIr::BaseBool(b) => base(b),
        OperationIr::NumericFloat(_, n) | OperationIr::NumericInt(_, n) => numeric(n),
        OperationIr::Float(_, f) => float(f),
        OperationIr::Int(i) => Some(vec![int(i)]),
        OperationIr::Bool(b) => Some(vec![match b {
            BoolOperationIr::IntoFloat(c) | BoolOperationIr::IntoInt(c) => {
                elementwise("convert_element_type", elements(&c.out))
            }
            BoolOperationIr::Not(u) => elementwise("not", elements(&u.out)),
            BoolOperationIr::And(b) => elementwise("and", elements(&b.out)),
            BoolOperationIr::Or(b) => elementwise("or", elements(&b.out)),
            BoolOperationIr::Xor(b) => elementwise("xor", elements(&b.out)),
        }]),
        OperationIr::Module(m) => module(m),
        OperationIr::Activation(a) => activation(a),
        // A tensor created from host data: a constant.
        OperationIr::Init(_) => Some(vec![free("constant")]),
        // Custom kernels, collectives and handle drops have no primitive mapping.
        OperationIr::Custom(_) | OperationIr::Distributed(_) | OperationIr::Drop(_) => None,
    }
}

fn base(op: &BaseOperationIr) -> Option<Vec<(&'static str, Cost)>> {
    use BaseOperationIr as B;
    let part = match op {
        B::Reshape(_) => free("reshape"),
        B::SwapDims(_) | B::Permute(_) => free("transpose"),
        B::Flip(_) => free("rev"),
        // Broadcasts: `expand`, `jnp.repeat` of a whole axis (broadcast then reshape), and
        // constants filled with one value.
        B::Expand(_) | B::RepeatDim(_) | B::Empty(_) | B::Zeros(_) | B::Ones(_) => {
            free("broadcast_in_dim")
        }
        B::Slice(_) => free("slice"),
        B::Cat(_) => free("concatenate"),
        B::Cast(c) => {
            if c.input.dtype == c.out.dtype {
                free("convert_element_type")
            } else {
                elementwise("convert_element_type", elements(&c.out))
            }
        }
        B::Equal(b) | B::NotEqual(b) => elementwise("compare", elements(&b.out)),
        B::EqualElem(s) | B::NotEqualElem(s) => elementwise("compare", elements(&s.out)),
        B::MaskWhere(m) => elementwise("select_n", elements(&m.out)),
        B::MaskFill(m) => elementwise("select_n", elements(&m.out)),
        // `jnp.take(x, indices, axis)`.
        B::Select(s) => take_rows(elements(&s.indices), elements(&s.out)),
        B::All(r) | B::Any(r) => reduce("reduce_and", elements(&r.input), elements(&r.out)),
        B::AllDim(r) | B::AnyDim(r) => reduce("reduce_and", elements(&r.input), elements(&r.out)),
        // Strided windows (`unfold`), scatters, n-d gathers and take_along_axis lower to
        // gathers/scatters whose index arrays we do not model.
        B::Unfold(_)
        | B::SliceAssign(_)
        | B::SelectAssign(_)
        | B::Gather(_)
        | B::Scatter(_)
        | B::ScatterNd(_)
        | B::GatherNd(_) => return None,
    };
    Some(vec![part])
}

fn numeric(op: &NumericOperationIr) -> Option<Vec<(&'static str, Cost)>> {
    use NumericOperationIr as N;
    let one = |p| Some(vec![p]);
    match op {
        N::Add(b) => one(elementwise("add", elements(&b.out))),
        N::AddScalar(s) => one(elementwise("add", elements(&s.out))),
        N::Sub(b) => one(elementwise("sub", elements(&b.out))),
        N::SubScalar(s) => one(elementwise("sub", elements(&s.out))),
        N::Mul(b) => one(elementwise("mul", elements(&b.out))),
        N::MulScalar(s) => one(elementwise("mul", elements(&s.out))),
        N::Div(b) => one(elementwise("div", elements(&b.out))),
        N::DivScalar(s) => one(elementwise("div", elements(&s.out))),
        N::Rem(b) => one(elementwise("rem", elements(&b.out))),
        N::RemScalar(s) => one(elementwise("rem", elements(&s.out))),
        N::Abs(u) => one(elementwise("abs", elements(&u.out))),
        N::Neg(u) => one(elementwise("neg", elements(&u.out))),
        N::Sign(u) => one(elementwise("sign", elements(&u.out))),
        N::Full(_) => one(free("broadcast_in_dim")),
        N::Mean(r) => Some(mean(elements(&r.input), elements(&r.out))),
        N::MeanDim(r) => Some(mean(elements(&r.input), elements(&r.out))),
        N::Sum(r) => one(reduce("reduce_sum", elements(&r.input), elements(&r.out))),
        N::SumDim(r) => one(reduce("reduce_sum", elements(&r.input), elements(&r.out))),
        N::Prod(r) => one(reduce("reduce_mul", elements(&r.input), elements(&r.out))),
        N::ProdDim(r) => one(reduce("reduce_mul", elements(&r.input), elements(&r.out))),
        N::SumDims(r) => one(reduce("reduce_sum", elements(&r.input), elements(&r.out))),
        N::Max(r) => one(reduce("reduce_max", elements(&r.input), elements(&r.out))),
        N::MaxDim(r) => one(reduce("reduce_max", elements(&r.input), elements(&r.out))),
        N::Min(r) => one(reduce("reduce_min", elements(&r.input), elements(&r.out))),
        N::MinDim(r) => one(reduce("reduce_min", elements(&r.input), elements(&r.out))),
        N::MaxAbs(r) => Some(vec![
            elementwise("abs", elements(&r.input)),
            reduce("reduce_max", elements(&r.input), elements(&r.out)),
        ]),
        N::MaxAbsDim(r) => Some(vec![
            elementwise("abs", elements(&r.input)),
            reduce("reduce_max", elements(&r.input), elements(&r.out)),
        ]),
        N::ArgMax(r) | N::ArgMin(r) => one(argmax(elements(&r.input), elements(&r.out))),
        N::Greater(b) | N::GreaterEqual(b) | N::Lower(b) | N::LowerEqual(b) => {
            one(elementwise("compare", elements(&b.out)))
        }
        N::GreaterElem(s) | N::GreaterEqualElem(s) | N::LowerElem(s) | N::LowerEqualElem(s) => {
            one(elementwise("compare", elements(&s.out)))
        }
        // `jnp.clip`: maximum then minimum.
        N::Clamp(c) => Some(vec![
            elementwise("max", elements(&c.out)),
            elementwise("min", elements(&c.out)),
        ]),
        N::ClampMin(s) => one(elementwise("max", elements(&s.out))),
        N::ClampMax(s) => one(elementwise("min", elements(&s.out))),
        N::PowiScalar(s) => match s.rhs {
            burn::backend::ir::ScalarIr::Int(y) => one((
                "integer_pow",
                Cost::flops(elements(&s.out).saturating_mul(integer_pow_ops(y))),
            )),
            _ => None,
        },
        N::Powi(b) => one(transcendental("pow", elements(&b.out))),
        N::Pad(_) => one(free("pad")),
        // Random draws (threefry's cost depends on JAX's key handling, not modelled),
        // cumulative ops, sorts and top-k.
        N::IntRandom(_)
        | N::CumSum(_)
        | N::CumProd(_)
        | N::CumMin(_)
        | N::CumMax(_)
        | N::Sort(_)
        | N::SortWithIndices(_)
        | N::ArgSort(_)
        | N::ArgTopK(_)
        | N::TopK(_)
        | N::TopKWithIndices(_)
        | N::MaxDimWithIndices(_)
        | N::MinDimWithIndices(_) => None,
    }
}

fn float(op: &FloatOperationIr) -> Option<Vec<(&'static str, Cost)>> {
    use FloatOperationIr as F;
    let one = |p| Some(vec![p]);
    match op {
        F::Exp(u) => one(transcendental("exp", elements(&u.out))),
        F::Log(u) => one(transcendental("log", elements(&u.out))),
        F::Log1p(u) => one(transcendental("log1p", elements(&u.out))),
        F::Erf(u) => one(transcendental("erf", elements(&u.out))),
        F::Sqrt(u) => one(transcendental("sqrt", elements(&u.out))),
        F::Cos(u) => one(transcendental("cos", elements(&u.out))),
        F::Sin(u) => one(transcendental("sin", elements(&u.out))),
        F::Tanh(u) => one(transcendental("tanh", elements(&u.out))),
        F::Tan(u) => one(transcendental("tan", elements(&u.out))),
        F::ArcTan2(b) => one(transcendental("atan2", elements(&b.out))),
        F::PowfScalar(s) => one(transcendental("pow", elements(&s.out))),
        F::Powf(b) => one(transcendental("pow", elements(&b.out))),
        F::Round(u) => one(elementwise("round", elements(&u.out))),
        F::Floor(u) => one(elementwise("floor", elements(&u.out))),
        F::Ceil(u) => one(elementwise("ceil", elements(&u.out))),
        // `jnp.reciprocal` = integer_pow(x, −1): one divide per element.
        F::Recip(u) => one(("integer_pow", Cost::flops(elements(&u.out)))),
        // `jnp.isnan(x)` = `x != x`.
        F::IsNan(u) => one(elementwise("compare", elements(&u.out))),
        F::IntoInt(c) => one(elementwise("convert_element_type", elements(&c.out))),
        F::Matmul(m) => {
            let k = m.lhs.shape.last().copied().unwrap_or(1) as u64;
            one(dot_general(elements(&m.out), k))
        }
        // Hyperbolic and inverse trigonometric functions are CHLO expansions whose flop
        // counts we have not measured; truncation, isinf, cross products, random draws,
        // (de)quantisation, grid sampling and hypot likewise.
        F::Cosh(_)
        | F::Sinh(_)
        | F::ArcCos(_)
        | F::ArcCosh(_)
        | F::ArcSin(_)
        | F::ArcSinh(_)
        | F::ArcTan(_)
        | F::ArcTanh(_)
        | F::Trunc(_)
        | F::IsInf(_)
        | F::Cross(_)
        | F::Random(_)
        | F::Quantize(_)
        | F::Dequantize(_)
        | F::GridSample2d(_)
        | F::Hypot(_) => None,
    }
}

fn int(op: &IntOperationIr) -> (&'static str, Cost) {
    use IntOperationIr as I;
    match op {
        I::IntoFloat(c) => elementwise("convert_element_type", elements(&c.out)),
        I::BitwiseAnd(b) => elementwise("and", elements(&b.out)),
        I::BitwiseOr(b) => elementwise("or", elements(&b.out)),
        I::BitwiseXor(b) => elementwise("xor", elements(&b.out)),
        I::BitwiseLeftShift(b) => elementwise("shift_left", elements(&b.out)),
        I::BitwiseRightShift(b) => elementwise("shift_right", elements(&b.out)),
        I::BitwiseAndScalar(s) => elementwise("and", elements(&s.out)),
        I::BitwiseOrScalar(s) => elementwise("or", elements(&s.out)),
        I::BitwiseXorScalar(s) => elementwise("xor", elements(&s.out)),
        I::BitwiseLeftShiftScalar(s) => elementwise("shift_left", elements(&s.out)),
        I::BitwiseRightShiftScalar(s) => elementwise("shift_right", elements(&s.out)),
        I::BitwiseNot(u) => elementwise("not", elements(&u.out)),
        I::Matmul(m) => {
            let k = m.lhs.shape.last().copied().unwrap_or(1) as u64;
            dot_general(elements(&m.out), k)
        }
    }
}

/// Normalisation by given statistics (`_normalize` in Flax, `tabulate-core`'s
/// `nn/normalization.rs`): sub mean (n), add ε (r), rsqrt (r), × scale (`scaled`: the
/// statistics broadcast against the scale — r when both are per channel as in batch norm,
/// n when statistics are per row and the scale per feature as in layer norm), × (n),
/// + bias (n).
fn normalize(n: u64, r: u64, scaled: Option<u64>, bias: bool) -> Vec<(&'static str, Cost)> {
    let mut parts = vec![
        elementwise("sub", n),
        elementwise("add", r),
        transcendental("rsqrt", r),
    ];
    if let Some(scaled) = scaled {
        parts.push(elementwise("mul", scaled));
    }
    parts.push(elementwise("mul", n));
    if bias {
        parts.push(elementwise("add", n));
    }
    parts
}

#[allow(clippy::too_many_lines)] // one arm per burn module op
fn module(op: &ModuleOperationIr) -> Option<Vec<(&'static str, Cost)>> {
    use ModuleOperationIr as M;
    match op {
        M::Linear(l) => {
            let k = l.x.shape.last().copied().unwrap_or(1) as u64;
            let mut parts = vec![dot_general(elements(&l.out), k)];
            if l.bias.is_some() {
                parts.push(free("broadcast_in_dim"));
                parts.push(elementwise("add", elements(&l.out)));
            }
            Some(parts)
        }
        M::Embedding(e) => Some(vec![take_rows(elements(&e.indices), elements(&e.out))]),
        M::Conv1d(c) => {
            let o = &c.options;
            let pad: Vec<i64> = o.padding.iter().map(|p| to_i64(p.0)).collect();
            Some(conv_with_bias(
                &c.x,
                &c.out,
                c.bias.is_some(),
                &ConvGeometry {
                    input: &c.x.shape[2..],
                    kernel: &c.weight.shape[2..],
                    output: &c.out.shape[2..],
                    strides: &o.stride,
                    lhs_dilation: &[1],
                    rhs_dilation: &o.dilation,
                    pad_low: &pad,
                    groups: o.groups,
                },
            ))
        }
        M::Conv2d(c) => {
            let o = &c.options;
            let pad: Vec<i64> = o.padding.iter().map(|p| to_i64(p.0)).collect();
            Some(conv_with_bias(
                &c.x,
                &c.out,
                c.bias.is_some(),
                &ConvGeometry {
                    input: &c.x.shape[2..],
                    kernel: &c.weight.shape[2..],
                    output: &c.out.shape[2..],
                    strides: &o.stride,
                    lhs_dilation: &[1, 1],
                    rhs_dilation: &o.dilation,
                    pad_low: &pad,
                    groups: o.groups,
                },
            ))
        }
        M::Conv3d(c) => {
            let o = &c.options;
            let pad: Vec<i64> = o.padding.iter().map(|&p| to_i64(p)).collect();
            Some(conv_with_bias(
                &c.x,
                &c.out,
                c.bias.is_some(),
                &ConvGeometry {
                    input: &c.x.shape[2..],
                    kernel: &c.weight.shape[2..],
                    output: &c.out.shape[2..],
                    strides: &o.stride,
                    lhs_dilation: &[1, 1, 1],
                    rhs_dilation: &o.dilation,
                    pad_low: &pad,
                    groups: o.groups,
                },
            ))
        }
        // Inference batch norm with running statistics: `_normalize` over the channel axis.
        M::BatchNorm(b) => {
            let channels = b.x.shape.get(1).copied().unwrap_or(1) as u64;
            Some(normalize(elements(&b.out), channels, Some(channels), true))
        }
        // burn's layer norm computes `mean((x − mean)²)`: Flax's LayerNorm with
        // `use_fast_variance=False` — mean, sub, square, mean — then `_normalize`
        // (Flax 0.12.8 gives 131,200 flops on f32[2, 64, 128]: 8n + r).
        M::LayerNorm(l) => {
            let n = elements(&l.input);
            let r = reduced_elements(&l.input, l.input.shape.len().saturating_sub(1));
            let mut parts = mean(n, r);
            parts.push(free("broadcast_in_dim"));
            parts.push(elementwise("sub", n));
            parts.push(elementwise("square", n));
            parts.extend(mean(n, r));
            parts.extend(normalize(n, r, Some(n), l.beta.is_some()));
            Some(parts)
        }
        M::AvgPool1d(p) if p.count_include_pad || p.padding == 0 => Some(vec![
            reduce_window("reduce_window_sum", elements(&p.out), p.kernel_size as u64),
            elementwise("div", elements(&p.out)),
        ]),
        M::AvgPool2d(p) if p.count_include_pad || p.padding == [0, 0] => Some(vec![
            reduce_window(
                "reduce_window_sum",
                elements(&p.out),
                (p.kernel_size[0] * p.kernel_size[1]) as u64,
            ),
            elementwise("div", elements(&p.out)),
        ]),
        M::MaxPool1d(p) => Some(vec![reduce_window(
            "reduce_window_max",
            elements(&p.out),
            p.kernel_size as u64,
        )]),
        M::MaxPool2d(p) => Some(vec![reduce_window(
            "reduce_window_max",
            elements(&p.out),
            (p.kernel_size[0] * p.kernel_size[1]) as u64,
        )]),
        // Adaptive average pooling is an average pool when every window has the same size
        // (input divisible by output); otherwise windows vary and no primitive matches.
        M::AdaptiveAvgPool1d(p) => adaptive(&p.x, &p.out),
        M::AdaptiveAvgPool2d(p) => adaptive(&p.x, &p.out),
        M::AdaptiveAvgPool3d(p) => adaptive(&p.x, &p.out),
        // `flax.linen.dot_product_attention`: q scaled, q·kᵀ, (mask select), softmax, ·v.
        M::Attention(a) => {
            if a.options.softcap.is_some() || a.attn_bias.is_some() {
                return None;
            }
            let q = &a.query;
            let rank = q.shape.len();
            let (lq, d) = (q.shape[rank - 2] as u64, q.shape[rank - 1] as u64);
            let lk = a.key.shape[rank - 2] as u64;
            let dv = a.value.shape[rank - 1] as u64;
            let batch: u64 = q.shape[..rank - 2].iter().map(|&v| v as u64).product();
            let scores = batch * lq * lk;
            let mut parts = vec![elementwise("mul", elements(q)), dot_general(scores, d)];
            if a.mask.is_some() || a.options.is_causal {
                parts.push(elementwise("select_n", scores));
            }
            parts.extend(softmax(scores, batch * lq));
            parts.push(dot_general(batch * lq * dv, lk));
            Some(parts)
        }
        // Transposed and deformable convolutions, pools with indices or excluding padding,
        // interpolation, CTC loss and unfold have no primitive mapping here; backward ops
        // only appear on autodiff devices, which capture rejects.
        M::ConvTranspose1d(_)
        | M::ConvTranspose2d(_)
        | M::ConvTranspose3d(_)
        | M::DeformableConv2d(_)
        | M::AvgPool1d(_)
        | M::AvgPool2d(_)
        | M::MaxPool1dWithIndices(_)
        | M::MaxPool2dWithIndices(_)
        | M::Interpolate(_)
        | M::CtcLoss(_)
        | M::Unfold4d(_)
        | M::EmbeddingBackward(_)
        | M::LinearXBackward(_)
        | M::LinearWeightBackward(_)
        | M::LinearBiasBackward(_)
        | M::Conv1dXBackward(_)
        | M::Conv1dWeightBackward(_)
        | M::Conv1dBiasBackward(_)
        | M::Conv2dXBackward(_)
        | M::Conv2dWeightBackward(_)
        | M::Conv2dBiasBackward(_)
        | M::Conv3dXBackward(_)
        | M::Conv3dWeightBackward(_)
        | M::Conv3dBiasBackward(_)
        | M::DeformableConv2dBackward(_)
        | M::AvgPool1dBackward(_)
        | M::AvgPool2dBackward(_)
        | M::AdaptiveAvgPool1dBackward(_)
        | M::AdaptiveAvgPool2dBackward(_)
        | M::AdaptiveAvgPool3dBackward(_)
        | M::MaxPool1dWithIndicesBackward(_)
        | M::MaxPool2dWithIndicesBackward(_)
        | M::InterpolateBackward(_)
        | M::CtcLossBackward(_)
        | M::ConvTranspose1dWeightBackward(_)
        | M::ConvTranspose1dBiasBackward(_)
        | M::ConvTranspose2dWeightBackward(_)
        | M::ConvTranspose2dBiasBackward(_)
        | M::ConvTranspose3dWeightBackward(_)
        | M::ConvTranspose3dBiasBackward(_) => None,
    }
}

fn adaptive(x: &TensorIr, out: &TensorIr) -> Option<Vec<(&'static str, Cost)>> {
    let spatial = x.shape.len().checked_sub(2)?;
    let mut window = 1u64;
    for s in 2..2 + spatial {
        let (i, o) = (x.shape[s], out.shape[s]);
        if o == 0 || i % o != 0 {
            return None;
        }
        window *= (i / o) as u64;
    }
    Some(vec![
        reduce_window("reduce_window_sum", elements(out), window),
        elementwise("div", elements(out)),
    ])
}

fn activation(op: &ActivationOperationIr) -> Option<Vec<(&'static str, Cost)>> {
    use ActivationOperationIr as A;
    match op {
        // `jax.nn.relu`: max(x, 0).
        A::Relu(u) => Some(vec![elementwise("max", elements(&u.out))]),
        // `jax.nn.leaky_relu`: where(x >= 0, x, slope·x).
        A::LeakyRelu(s) => {
            let n = elements(&s.out);
            Some(vec![
                elementwise("compare", n),
                elementwise("mul", n),
                elementwise("select_n", n),
            ])
        }
        A::PRelu(b) => {
            let n = elements(&b.out);
            Some(vec![
                elementwise("compare", n),
                elementwise("mul", n),
                elementwise("select_n", n),
            ])
        }
        // burn's gelu is the exact (erf) form: `jax.nn.gelu(approximate=False)` =
        // 0.5·x·erfc(−x/√2): mul, neg, mul, erfc, mul.
        A::Gelu(u) => {
            let n = elements(&u.out);
            Some(vec![
                elementwise("mul", n),
                elementwise("neg", n),
                elementwise("mul", n),
                erfc(n),
                elementwise("mul", n),
            ])
        }
        A::Sigmoid(u) => Some(vec![logistic(elements(&u.out))]),
        A::Softmax(d) => Some(softmax(
            elements(&d.input),
            reduced_elements(&d.input, d.axis),
        )),
        // `jax.nn.log_softmax`: shift by max, exp, reduce_sum, log, sub.
        A::LogSoftmax(d) => {
            let (n, r) = (elements(&d.input), reduced_elements(&d.input, d.axis));
            Some(vec![
                reduce("reduce_max", n, r),
                elementwise("max", r),
                elementwise("sub", n),
                transcendental("exp", n),
                reduce("reduce_sum", n, r),
                transcendental("log", r),
                elementwise("sub", n),
            ])
        }
        // softmin(x) = softmax(−x).
        A::Softmin(d) => {
            let (n, r) = (elements(&d.input), reduced_elements(&d.input, d.axis));
            let mut parts = vec![elementwise("neg", n)];
            parts.extend(softmax(n, r));
            Some(parts)
        }
        // Not measured; backward ops never appear on the capture device.
        A::HardSigmoid(_)
        | A::LogSigmoid(_)
        | A::ReluBackward(_)
        | A::GeluBackward(_)
        | A::SigmoidBackward(_)
        | A::LogSigmoidBackward(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::integer_pow_ops;

    #[test]
    fn integer_pow_counts_repeated_squaring() {
        // x² = x·x; x³ = x²·x; x⁴ = (x²)²; x⁵ = x⁴·x.
        assert_eq!(integer_pow_ops(2), 1);
        assert_eq!(integer_pow_ops(3), 2);
        assert_eq!(integer_pow_ops(4), 2);
        assert_eq!(integer_pow_ops(5), 3);
        assert_eq!(integer_pow_ops(1), 0);
    }
}
