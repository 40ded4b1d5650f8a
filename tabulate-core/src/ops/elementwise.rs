//! Elementwise primitives: unary and binary arithmetic, comparisons, `select_n`,
//! `convert_element_type`, `integer_pow` and `stop_gradient`.

use super::{Cost, Prim, Term, Terms};
use crate::dtype::{DType, DTypeKind};
use crate::error::{Error, Result};
use crate::ops::graph::{Spec, ValueId};
use crate::ops::linearize::{J, JvpCx};
use crate::ops::transpose::{LinArg, TransposeCx};
use crate::shape::Shape;

/// Elementwise functions of one operand.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Unary {
    Neg,
    Abs,
    Sign,
    Floor,
    Ceil,
    Round,
    Not,
    IsFinite,
    Exp,
    Log,
    Log1p,
    Expm1,
    Tanh,
    Logistic,
    Sqrt,
    Rsqrt,
    Erf,
    /// `lax.erfc`, which CHLO expands into a rational approximation when lowering.
    Erfc,
    Sin,
    Cos,
    /// `lax.square`, lowered to one multiply.
    Square,
    /// `lax.tan` (HLO `tan`).
    Tan,
    /// `lax.atan` (CHLO `atan`: an `atan2` with 1).
    Atan,
    /// `lax.asin`, `lax.acos`, `lax.sinh`, `lax.cosh`, `lax.asinh`, `lax.acosh`,
    /// `lax.atanh`: CHLO ops that XLA expands into elementwise instructions.
    Asin,
    Acos,
    Sinh,
    Cosh,
    Asinh,
    Acosh,
    Atanh,
    /// `lax.erf_inv` (CHLO `erf_inv`: two polynomial branches and a select).
    ErfInv,
}

impl Unary {
    /// Whether a tangent flows through the function: JAX defines sign, floor, ceil and
    /// round with `defjvp_zero`, and `not`/`is_finite` give integers or booleans.
    pub(crate) fn has_derivative(self) -> bool {
        match self {
            Unary::Sign
            | Unary::Floor
            | Unary::Ceil
            | Unary::Round
            | Unary::Not
            | Unary::IsFinite => false,
            Unary::Neg
            | Unary::Abs
            | Unary::Exp
            | Unary::Log
            | Unary::Log1p
            | Unary::Expm1
            | Unary::Tanh
            | Unary::Logistic
            | Unary::Sqrt
            | Unary::Rsqrt
            | Unary::Erf
            | Unary::Erfc
            | Unary::Sin
            | Unary::Cos
            | Unary::Square
            | Unary::Tan
            | Unary::Atan
            | Unary::Asin
            | Unary::Acos
            | Unary::Sinh
            | Unary::Cosh
            | Unary::Asinh
            | Unary::Acosh
            | Unary::Atanh
            | Unary::ErfInv => true,
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Unary::Neg => "neg",
            Unary::Abs => "abs",
            Unary::Sign => "sign",
            Unary::Floor => "floor",
            Unary::Ceil => "ceil",
            Unary::Round => "round",
            Unary::Not => "not",
            Unary::IsFinite => "is_finite",
            Unary::Exp => "exp",
            Unary::Log => "log",
            Unary::Log1p => "log1p",
            Unary::Expm1 => "expm1",
            Unary::Tanh => "tanh",
            Unary::Logistic => "logistic",
            Unary::Sqrt => "sqrt",
            Unary::Rsqrt => "rsqrt",
            Unary::Erf => "erf",
            Unary::Erfc => "erfc",
            Unary::Sin => "sin",
            Unary::Cos => "cos",
            Unary::Square => "square",
            Unary::Tan => "tan",
            Unary::Atan => "atan",
            Unary::Asin => "asin",
            Unary::Acos => "acos",
            Unary::Sinh => "sinh",
            Unary::Cosh => "cosh",
            Unary::Asinh => "asinh",
            Unary::Acosh => "acosh",
            Unary::Atanh => "atanh",
            Unary::ErfInv => "erf_inv",
        }
    }

    /// XLA counts transcendental opcodes separately and gives them no flops.
    pub(crate) fn cost(self, elements: u64) -> Cost {
        match self {
            Unary::Exp
            | Unary::Log
            | Unary::Log1p
            | Unary::Expm1
            | Unary::Tanh
            | Unary::Sqrt
            | Unary::Rsqrt
            | Unary::Erf
            | Unary::Sin
            | Unary::Cos
            | Unary::Tan
            | Unary::Atan => Cost::transcendentals(elements),
            // CHLO expansions (measured on the lowered module): elementwise instructions,
            // each of `elements` flops, around their transcendental ones.
            Unary::Asin
            | Unary::Acos
            | Unary::Sinh
            | Unary::Cosh
            | Unary::Asinh
            | Unary::Acosh
            | Unary::Atanh
            | Unary::ErfInv => {
                let (instructions, transcendentals) = self.chlo_expansion();
                Cost {
                    flops: elements.saturating_mul(instructions),
                    transcendentals: elements.saturating_mul(transcendentals),
                }
            }
            // JAX lowers logistic as 1 / (1 + exp(-x)): negate, add, divide and one exp.
            Unary::Logistic => Cost {
                flops: elements.saturating_mul(3),
                transcendentals: elements,
            },
            // CHLO's float32 erfc expansion: 62 flops and one exp per element (measured:
            // exact gelu costs 66 per element, 4 of them around the erfc).
            Unary::Erfc => Cost {
                flops: elements.saturating_mul(62),
                transcendentals: elements,
            },
            _ => Cost::flops(elements),
        }
    }

    /// XLA's terms for this op on `elements` elements: one per HLO instruction it
    /// lowers to. Logistic is `neg`, `add`, `div` around its `exp` (the constant 1
    /// folds); erfc is CHLO's float32 expansion, 62 elementwise instructions.
    pub(crate) fn instruction_terms(self, cost: Cost, elements: u64) -> Terms {
        let instructions: usize = match self {
            Unary::Logistic => 3,
            Unary::Erfc => 62,
            Unary::Asin
            | Unary::Acos
            | Unary::Sinh
            | Unary::Cosh
            | Unary::Asinh
            | Unary::Acosh
            | Unary::Atanh
            | Unary::ErfInv => usize::try_from(self.chlo_expansion().0).unwrap_or(usize::MAX),
            _ => return smallvec::smallvec![Term::Op(cost.flops)],
        };
        if (instructions as u64).checked_mul(elements) == Some(cost.flops) {
            Term::ops(std::iter::repeat_n(elements, instructions))
        } else {
            smallvec::smallvec![Term::Op(cost.flops)]
        }
    }

    /// The flop instructions and transcendental instructions per element of XLA's
    /// expansion of a CHLO op (counted in `jax.jit(f).lower(x).as_text(dialect='hlo')`,
    /// jax 0.10.2): `asin` is `subtract`, three `add`s and a `multiply` around `sqrt` and
    /// `atan2`; `erf_inv` 37 (`abs`, compares, 11 selects, the polynomial's multiplies
    /// and adds) around `log1p` and `sqrt`.
    fn chlo_expansion(self) -> (u64, u64) {
        match self {
            Unary::Asin => (5, 2),
            Unary::Acos | Unary::Cosh => (3, 2),
            Unary::Sinh => (10, 3),
            Unary::Asinh => (11, 3),
            Unary::Acosh => (7, 4),
            Unary::Atanh => (6, 2),
            Unary::ErfInv => (37, 2),
            _ => (0, 0),
        }
    }

    fn needs_inexact(self) -> bool {
        !matches!(
            self,
            Unary::Neg | Unary::Abs | Unary::Sign | Unary::Not | Unary::Square
        )
    }
}

/// Elementwise functions of two operands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Binary {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
    Max,
    Min,
    Pow,
    And,
    Or,
    Xor,
    ShiftRightLogical,
}

impl Binary {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Binary::Add => "add",
            Binary::Sub => "sub",
            Binary::Mul => "mul",
            Binary::Div => "div",
            Binary::Rem => "rem",
            Binary::Max => "max",
            Binary::Min => "min",
            Binary::Pow => "pow",
            Binary::And => "and",
            Binary::Or => "or",
            Binary::Xor => "xor",
            Binary::ShiftRightLogical => "shift_right_logical",
        }
    }

    pub(crate) fn cost(self, elements: u64) -> Cost {
        match self {
            Binary::Pow => Cost::transcendentals(elements),
            _ => Cost::flops(elements),
        }
    }
}

/// Elementwise comparisons.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Cmp {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Cmp::Eq => "eq",
            Cmp::Ne => "ne",
            Cmp::Lt => "lt",
            Cmp::Le => "le",
            Cmp::Gt => "gt",
            Cmp::Ge => "ge",
        }
    }
}

// ---------------------------------------------------------------- shape rules

pub(super) fn unary_spec(op: Unary, inputs: &[&Spec]) -> Result<Spec> {
    let x = inputs[0];
    if op.needs_inexact() && !x.dtype.is_inexact() {
        return Err(Error::shape(
            op.name(),
            format!("needs a floating-point operand, got {x}"),
        ));
    }
    if op == Unary::Not && x.dtype.is_inexact() {
        return Err(Error::shape(
            op.name(),
            format!("needs a boolean or integer operand, got {x}"),
        ));
    }
    let dtype = if op == Unary::IsFinite {
        DType::Bool
    } else {
        x.dtype
    };
    Ok(x.with_dtype(dtype))
}

/// `integer_pow`'s result: the operand's spec; booleans are refused, and integers raised
/// to a negative power (`lax._integer_pow_dtype_rule`).
pub(super) fn integer_pow_spec(y: i32, inputs: &[&Spec]) -> Result<Spec> {
    let x = inputs[0];
    if x.dtype == DType::Bool {
        return Err(Error::shape(
            "integer_pow",
            format!("needs a numeric operand, got {x}"),
        ));
    }
    if y < 0 && !x.dtype.is_inexact() {
        return Err(Error::shape(
            "integer_pow",
            format!("integers cannot be raised to a negative power, got {x} to the power {y}"),
        ));
    }
    Ok(x.clone())
}

pub(super) fn unary_spec_to(inputs: &[&Spec], dtype: DType) -> Spec {
    inputs[0].with_dtype(dtype)
}

/// The shape of an elementwise result: equal ranks with each dimension equal or 1, or a
/// scalar against anything (`lax`'s implicit broadcasting).
fn broadcast_dims(op: &'static str, a: &Spec, b: &Spec) -> Result<Shape> {
    if a.rank() == 0 {
        return Ok(b.shape.clone());
    }
    if b.rank() == 0 {
        return Ok(a.shape.clone());
    }
    if a.rank() != b.rank() {
        return Err(Error::shape(
            op,
            format!("operands must have the same rank: {a} and {b}"),
        ));
    }
    if a.shape == b.shape {
        return Ok(a.shape.clone());
    }
    let dims = a
        .dims()
        .iter()
        .zip(b.dims())
        .map(|(&x, &y)| match (x, y) {
            _ if x == y => Ok(x),
            (1, _) => Ok(y),
            (_, 1) => Ok(x),
            _ => Err(Error::shape(
                op,
                format!("incompatible shapes: {a} and {b}"),
            )),
        })
        .collect::<Result<smallvec::SmallVec<[usize; 6]>>>()?;
    Ok(Shape::from(&dims[..]))
}

pub(super) fn binary_spec(op: &'static str, inputs: &[&Spec]) -> Result<Spec> {
    let (a, b) = (inputs[0], inputs[1]);
    if a.dtype != b.dtype {
        return Err(Error::shape(
            op,
            format!("operands must have the same dtype: {a} and {b}"),
        ));
    }
    Ok(Spec::new(a.dtype, broadcast_dims(op, a, b)?))
}

/// The result of a [`Binary`] operation: [`binary_spec`], and `sub` refuses booleans as
/// `lax.sub` (and `jnp.subtract`) do.
pub(super) fn binary_op_spec(op: Binary, inputs: &[&Spec]) -> Result<Spec> {
    if op == Binary::Sub
        && let Some(x) = inputs.iter().find(|x| x.dtype == DType::Bool)
    {
        return Err(Error::shape(
            op.name(),
            format!("needs numeric operands, got {x}"),
        ));
    }
    binary_spec(op.name(), inputs)
}

pub(super) fn compare_spec(op: Cmp, inputs: &[&Spec]) -> Result<Spec> {
    Ok(binary_spec(op.name(), inputs)?.with_dtype(DType::Bool))
}

pub(super) fn select_spec(inputs: &[&Spec]) -> Result<Spec> {
    let (which, cases) = inputs
        .split_first()
        .ok_or_else(|| Error::shape("select_n", "needs a predicate"))?;
    let first = cases
        .first()
        .ok_or_else(|| Error::shape("select_n", "needs at least one case"))?;
    if let Some(other) = cases.iter().find(|c| *c != first) {
        return Err(Error::shape(
            "select_n",
            format!("cases must have the same dtype and shape: {first} and {other}"),
        ));
    }
    if which.dtype != DType::Bool && which.dtype.kind() != DTypeKind::Int {
        return Err(Error::shape(
            "select_n",
            format!("the predicate must be boolean or integer, got {which}"),
        ));
    }
    if which.rank() != 0 && which.shape != first.shape {
        return Err(Error::shape(
            "select_n",
            format!("the predicate {which} does not match the cases {first}"),
        ));
    }
    Ok((*first).clone())
}

// ---------------------------------------------------------------- tensor-level appliers

/// The HLO ops `integer_pow` lowers to per element: multiplies by repeated squaring, and a
/// divide for negative exponents (`lax._integer_pow`).
pub(super) fn integer_pow_ops(y: i32) -> u64 {
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
    ops + u64::from(y < 0)
}

// ---------------------------------------------------------------- JVP rules (jax/_src/lax/lax.py)

pub(super) fn unary_jvp(
    op: Unary,
    cx: &mut JvpCx<'_>,
    x: ValueId,
    ans: ValueId,
    g: J,
) -> Result<J> {
    match op {
        // deflinear2(neg_p, lambda t, operand: [neg(t)])
        Unary::Neg => cx.neg(g),
        Unary::Sign | Unary::Floor | Unary::Ceil | Unary::Round | Unary::Not | Unary::IsFinite => {
            Ok(J::Zero)
        }
        // select(ge(x, 0), g, neg(g))
        Unary::Abs => {
            let zero = cx.full_like(x, 0.0)?;
            let pred = cx.primal(Prim::Compare(Cmp::Ge), &[x, zero])?;
            let neg = cx.neg(g)?;
            cx.apply(Prim::SelectN, &[J::Primal(pred), neg, g])
        }
        // mul(g, ans)
        Unary::Exp => cx.mul(g, J::Primal(ans)),
        // div(g, x)
        Unary::Log => cx.div(g, J::Primal(x)),
        // div(g, add(x, 1))
        Unary::Log1p => {
            let one = cx.full_like(x, 1.0)?;
            let xp1 = cx.primal(Prim::Binary(Binary::Add), &[x, one])?;
            cx.div(g, J::Primal(xp1))
        }
        // mul(g, add(ans, 1))
        Unary::Expm1 => {
            let one = cx.full_like(ans, 1.0)?;
            let ap1 = cx.primal(Prim::Binary(Binary::Add), &[ans, one])?;
            cx.mul(g, J::Primal(ap1))
        }
        // mul(add(g, mul(g, ans)), sub(1, ans))
        Unary::Tanh => {
            let g_ans = cx.mul(g, J::Primal(ans))?;
            let sum = cx.add_tangents(g, g_ans)?;
            let one = cx.full_like(x, 1.0)?;
            let coef = cx.primal(Prim::Binary(Binary::Sub), &[one, ans])?;
            cx.mul(sum, J::Primal(coef))
        }
        // mul(g, mul(ans, sub(1, ans)))
        Unary::Logistic => {
            let one = cx.full_like(ans, 1.0)?;
            let one_minus = cx.primal(Prim::Binary(Binary::Sub), &[one, ans])?;
            let coef = cx.primal(Prim::Binary(Binary::Mul), &[ans, one_minus])?;
            cx.mul(g, J::Primal(coef))
        }
        // mul(g, div(0.5, ans))
        Unary::Sqrt => {
            let half = cx.full_like(x, 0.5)?;
            let coef = cx.primal(Prim::Binary(Binary::Div), &[half, ans])?;
            cx.mul(g, J::Primal(coef))
        }
        // mul(g, mul(-0.5, div(ans, x)))
        Unary::Rsqrt => {
            let minus_half = cx.full_like(x, -0.5)?;
            let ratio = cx.primal(Prim::Binary(Binary::Div), &[ans, x])?;
            let coef = cx.primal(Prim::Binary(Binary::Mul), &[minus_half, ratio])?;
            cx.mul(g, J::Primal(coef))
        }
        // mul(2/sqrt(pi), mul(g, exp(neg(square(x)))))
        Unary::Erf => {
            let c = cx.full_like(x, 2.0 / std::f64::consts::PI.sqrt())?;
            let sq = cx.primal(Prim::Unary(Unary::Square), &[x])?;
            let neg = cx.primal(Prim::Unary(Unary::Neg), &[sq])?;
            let e = cx.primal(Prim::Unary(Unary::Exp), &[neg])?;
            let ge = cx.mul(g, J::Primal(e))?;
            cx.mul(J::Primal(c), ge)
        }
        // mul(-2/sqrt(pi), mul(g, exp(neg(square(x)))))
        Unary::Erfc => {
            let c = cx.full_like(x, -2.0 / std::f64::consts::PI.sqrt())?;
            let sq = cx.primal(Prim::Unary(Unary::Square), &[x])?;
            let neg = cx.primal(Prim::Unary(Unary::Neg), &[sq])?;
            let e = cx.primal(Prim::Unary(Unary::Exp), &[neg])?;
            let ge = cx.mul(g, J::Primal(e))?;
            cx.mul(J::Primal(c), ge)
        }
        // mul(g, cos(x))
        Unary::Sin => {
            let c = cx.primal(Prim::Unary(Unary::Cos), &[x])?;
            cx.mul(g, J::Primal(c))
        }
        // neg(mul(g, sin(x)))
        Unary::Cos => {
            let s = cx.primal(Prim::Unary(Unary::Sin), &[x])?;
            let gs = cx.mul(g, J::Primal(s))?;
            cx.neg(gs)
        }
        Unary::Tan
        | Unary::Atan
        | Unary::Asin
        | Unary::Acos
        | Unary::Sinh
        | Unary::Cosh
        | Unary::Asinh
        | Unary::Acosh
        | Unary::Atanh
        | Unary::ErfInv => trig_jvp(op, cx, x, ans, g),
        // mul(g, mul(2, x))
        Unary::Square => {
            let two = cx.full_like(x, 2.0)?;
            let coef = cx.primal(Prim::Binary(Binary::Mul), &[two, x])?;
            cx.mul(g, J::Primal(coef))
        }
    }
}

/// The JVPs of the trigonometric and hyperbolic functions and `erf_inv` (`lax.py`,
/// `special.py`).
fn trig_jvp(op: Unary, cx: &mut JvpCx<'_>, x: ValueId, ans: ValueId, g: J) -> Result<J> {
    match op {
        // mul(g, add(1, square(ans)))
        Unary::Tan => {
            let one = cx.full_like(x, 1.0)?;
            let sq = cx.primal(Prim::Unary(Unary::Square), &[ans])?;
            let coef = cx.primal(Prim::Binary(Binary::Add), &[one, sq])?;
            cx.mul(g, J::Primal(coef))
        }
        // div(g, add(1, square(x)))
        Unary::Atan => {
            let one = cx.full_like(x, 1.0)?;
            let sq = cx.primal(Prim::Unary(Unary::Square), &[x])?;
            let den = cx.primal(Prim::Binary(Binary::Add), &[one, sq])?;
            cx.div(g, J::Primal(den))
        }
        // mul(g, rsqrt(sub(1, square(x)))), negated for acos
        Unary::Asin | Unary::Acos => {
            let one = cx.full_like(x, 1.0)?;
            let sq = cx.primal(Prim::Unary(Unary::Square), &[x])?;
            let diff = cx.primal(Prim::Binary(Binary::Sub), &[one, sq])?;
            let mut coef = cx.primal(Prim::Unary(Unary::Rsqrt), &[diff])?;
            if op == Unary::Acos {
                coef = cx.primal(Prim::Unary(Unary::Neg), &[coef])?;
            }
            cx.mul(g, J::Primal(coef))
        }
        // mul(g, cosh(x)) and mul(g, sinh(x))
        Unary::Sinh | Unary::Cosh => {
            let other = if op == Unary::Sinh {
                Unary::Cosh
            } else {
                Unary::Sinh
            };
            let coef = cx.primal(Prim::Unary(other), &[x])?;
            cx.mul(g, J::Primal(coef))
        }
        // mul(g, rsqrt(add(square(x), 1))) and mul(g, rsqrt(sub(square(x), 1)))
        Unary::Asinh | Unary::Acosh => {
            let sq = cx.primal(Prim::Unary(Unary::Square), &[x])?;
            let one = cx.full_like(x, 1.0)?;
            let combine = if op == Unary::Asinh {
                Binary::Add
            } else {
                Binary::Sub
            };
            let inner = cx.primal(Prim::Binary(combine), &[sq, one])?;
            let coef = cx.primal(Prim::Unary(Unary::Rsqrt), &[inner])?;
            cx.mul(g, J::Primal(coef))
        }
        // mul(reciprocal(add(1, x)), div(g, sub(1, x)))
        Unary::Atanh => {
            let one = cx.full_like(x, 1.0)?;
            let xp1 = cx.primal(Prim::Binary(Binary::Add), &[one, x])?;
            let recip = cx.primal(Prim::IntegerPow(-1), &[xp1])?;
            let one = cx.full_like(x, 1.0)?;
            let xm1 = cx.primal(Prim::Binary(Binary::Sub), &[one, x])?;
            let q = cx.div(g, J::Primal(xm1))?;
            cx.mul(J::Primal(recip), q)
        }
        // mul(sqrt(pi)/2, mul(g, exp(square(ans))))
        Unary::ErfInv => {
            let c = cx.full_like(x, std::f64::consts::PI.sqrt() / 2.0)?;
            let sq = cx.primal(Prim::Unary(Unary::Square), &[ans])?;
            let e = cx.primal(Prim::Unary(Unary::Exp), &[sq])?;
            let ge = cx.mul(g, J::Primal(e))?;
            cx.mul(J::Primal(c), ge)
        }
        _ => Err(Error::internal(format!(
            "`{}` has no trigonometric JVP",
            op.name()
        ))),
    }
}

pub(super) fn binary_jvp(
    op: Binary,
    cx: &mut JvpCx<'_>,
    primals: &[ValueId],
    ans: ValueId,
    tangents: &[J],
) -> Result<J> {
    let (lhs, rhs) = (primals[0], primals[1]);
    let (t_lhs, t_rhs) = (tangents[0], tangents[1]);
    match op {
        Binary::Add | Binary::Sub => add_sub_jvp(op, cx, ans, t_lhs, t_rhs),
        // defjvp(mul_p, lambda xdot, x, y: mul(xdot, y), lambda ydot, x, y: mul(x, ydot))
        Binary::Mul => {
            let a = cx.mul(t_lhs, J::Primal(rhs))?;
            let b = cx.mul(J::Primal(lhs), t_rhs)?;
            cx.add_tangents(a, b)
        }
        Binary::Div => div_jvp(cx, lhs, rhs, t_lhs, t_rhs),
        // defjvp2(max_p, lambda g, ans, x, y: mul(g, _balanced_eq(x, ans, y)),
        //                lambda g, ans, x, y: mul(g, _balanced_eq(y, ans, x)))
        Binary::Max | Binary::Min => {
            let a = if t_lhs.is_zero() {
                J::Zero
            } else {
                let weight = balanced_eq(cx, lhs, ans, rhs)?;
                cx.mul(t_lhs, J::Primal(weight))?
            };
            let b = if t_rhs.is_zero() {
                J::Zero
            } else {
                let weight = balanced_eq(cx, rhs, ans, lhs)?;
                cx.mul(t_rhs, J::Primal(weight))?
            };
            cx.add_tangents(a, b)
        }
        Binary::Pow => pow_jvp(cx, lhs, rhs, ans, t_lhs, t_rhs),
        Binary::Rem => rem_jvp(cx, lhs, rhs, ans, t_lhs, t_rhs),
        Binary::And | Binary::Or | Binary::Xor | Binary::ShiftRightLogical => Ok(J::Zero),
    }
}

/// `_add_jvp` / `_sub_jvp`: a lone tangent is broadcast to the result's shape.
fn add_sub_jvp(op: Binary, cx: &mut JvpCx<'_>, ans: ValueId, t_lhs: J, t_rhs: J) -> Result<J> {
    if t_lhs.is_zero() {
        let t = if op == Binary::Sub {
            cx.neg(t_rhs)?
        } else {
            t_rhs
        };
        cx.broadcast_tangent(t, ans)
    } else if t_rhs.is_zero() {
        cx.broadcast_tangent(t_lhs, ans)
    } else {
        cx.apply(Prim::Binary(op), &[t_lhs, t_rhs])
    }
}

/// `defjvp(div_p, lambda g, x, y: div(g, y),
///                lambda g, x, y: mul(mul(neg(g), x), integer_pow(y, -2)))`.
fn div_jvp(cx: &mut JvpCx<'_>, lhs: ValueId, rhs: ValueId, t_lhs: J, t_rhs: J) -> Result<J> {
    let a = cx.div(t_lhs, J::Primal(rhs))?;
    let b = if t_rhs.is_zero() {
        J::Zero
    } else {
        let neg = cx.neg(t_rhs)?;
        let scaled = cx.mul(neg, J::Primal(lhs))?;
        let inv_sq = cx.primal(Prim::IntegerPow(-2), &[rhs])?;
        cx.mul(scaled, J::Primal(inv_sq))?
    };
    cx.add_tangents(a, b)
}

/// `_pow_jvp_lhs` / `_pow_jvp_rhs` for float exponents.
fn pow_jvp(
    cx: &mut JvpCx<'_>,
    base: ValueId,
    exp: ValueId,
    ans: ValueId,
    t_base: J,
    t_exp: J,
) -> Result<J> {
    let a = if t_base.is_zero() {
        J::Zero
    } else {
        let one = cx.full_like(exp, 1.0)?;
        let exp_m1 = cx.primal(Prim::Binary(Binary::Sub), &[exp, one])?;
        let power = cx.primal(Prim::Binary(Binary::Pow), &[base, exp_m1])?;
        let jac = cx.primal(Prim::Binary(Binary::Mul), &[exp, power])?;
        cx.mul(t_base, J::Primal(jac))?
    };
    let b = if t_exp.is_zero() {
        J::Zero
    } else {
        let zero = cx.full_like(base, 0.0)?;
        let one = cx.full_like(base, 1.0)?;
        let is_zero = cx.primal(Prim::Compare(Cmp::Eq), &[base, zero])?;
        let safe = cx.primal(Prim::SelectN, &[is_zero, base, one])?;
        let log = cx.primal(Prim::Unary(Unary::Log), &[safe])?;
        let jac = cx.primal(Prim::Binary(Binary::Mul), &[log, ans])?;
        cx.mul(t_exp, J::Primal(jac))?
    };
    cx.add_tangents(a, b)
}

/// `defjvp(rem_p, lambda g, x, y: _brcast(g, y),
///        lambda g, x, y: mul(neg(g), mul(sign(div(x, y)), floor(abs(div(x, y))))))`.
fn rem_jvp(
    cx: &mut JvpCx<'_>,
    lhs: ValueId,
    rhs: ValueId,
    ans: ValueId,
    t_lhs: J,
    t_rhs: J,
) -> Result<J> {
    let a = cx.broadcast_tangent(t_lhs, ans)?;
    let b = if t_rhs.is_zero() {
        J::Zero
    } else {
        let neg = cx.neg(t_rhs)?;
        let quotient = cx.primal(Prim::Binary(Binary::Div), &[lhs, rhs])?;
        let sign = cx.primal(Prim::Unary(Unary::Sign), &[quotient])?;
        let quotient = cx.primal(Prim::Binary(Binary::Div), &[lhs, rhs])?;
        let magnitude = cx.primal(Prim::Unary(Unary::Abs), &[quotient])?;
        let floor = cx.primal(Prim::Unary(Unary::Floor), &[magnitude])?;
        let coef = cx.primal(Prim::Binary(Binary::Mul), &[sign, floor])?;
        cx.mul(neg, J::Primal(coef))?
    };
    cx.add_tangents(a, b)
}

/// `_balanced_eq(x, z, y)`: 1 where `x == z != y`, 0.5 where all three are equal, else 0.
fn balanced_eq(cx: &mut JvpCx<'_>, x: ValueId, z: ValueId, y: ValueId) -> Result<ValueId> {
    let eq_xz = cx.primal(Prim::Compare(Cmp::Eq), &[x, z])?;
    let ones = cx.full_like(z, 1.0)?;
    let zeros = cx.full_like(z, 0.0)?;
    let num = cx.primal(Prim::SelectN, &[eq_xz, zeros, ones])?;
    let eq_yz = cx.primal(Prim::Compare(Cmp::Eq), &[y, z])?;
    let twos = cx.full_like(z, 2.0)?;
    let ones = cx.full_like(z, 1.0)?;
    let den = cx.primal(Prim::SelectN, &[eq_yz, ones, twos])?;
    cx.primal(Prim::Binary(Binary::Div), &[num, den])
}

pub(super) fn select_jvp(cx: &mut JvpCx<'_>, p: &[ValueId], t: &[J]) -> Result<J> {
    let cases = &t[1..];
    if cases.iter().all(|c| c.is_zero()) {
        return Ok(J::Zero);
    }
    // Zero cases are instantiated as zeros of the output's shape.
    let mut args = vec![J::Primal(p[0])];
    for (&case, &primal) in cases.iter().zip(&p[1..]) {
        args.push(if case.is_zero() {
            J::Primal(cx.full_like(primal, 0.0)?)
        } else {
            case
        });
    }
    cx.apply(Prim::SelectN, &args)
}

/// `mul(g, mul(y, integer_pow(x, y - 1)))`, with JAX's special cases (`_integer_pow_jvp`):
/// a zero tangent for `y = 0`, the tangent itself for `y = 1`, and `x` in place of
/// `integer_pow(x, 1)` for `y = 2`.
pub(super) fn integer_pow_jvp(y: i32, cx: &mut JvpCx<'_>, x: ValueId, g: J) -> Result<J> {
    match y {
        0 => return Ok(J::Zero),
        1 => return Ok(g),
        _ => {}
    }
    let c = cx.full_like(x, f64::from(y))?;
    let pw = if y == 2 {
        x
    } else {
        cx.primal(Prim::IntegerPow(y - 1), &[x])?
    };
    let coef = cx.primal(Prim::Binary(Binary::Mul), &[c, pw])?;
    cx.mul(g, J::Primal(coef))
}

// ---------------------------------------------------------------- transposes

pub(super) fn unary_transpose(
    op: Unary,
    cx: &mut TransposeCx<'_>,
    ct: ValueId,
    args: &[LinArg],
) -> Result<crate::ops::transpose::Cts> {
    match (op, args) {
        (Unary::Neg, [LinArg::Tan(_)]) => Ok(smallvec::smallvec![Some(
            cx.emit(Prim::Unary(Unary::Neg), &[ct])?
        )]),
        _ => Err(Error::internal(format!("`{}` is not linear", op.name()))),
    }
}

pub(super) fn binary_transpose(
    op: Binary,
    cx: &mut TransposeCx<'_>,
    ct: ValueId,
    args: &[LinArg],
) -> Result<crate::ops::transpose::Cts> {
    let linear = |a: &LinArg| matches!(a, LinArg::Tan(_));
    match op {
        Binary::Add => {
            let a = if linear(&args[0]) {
                Some(cx.unbroadcast(ct, args[0])?)
            } else {
                None
            };
            let b = if linear(&args[1]) {
                Some(cx.unbroadcast(ct, args[1])?)
            } else {
                None
            };
            Ok(smallvec::smallvec![a, b])
        }
        Binary::Sub => {
            let a = if linear(&args[0]) {
                Some(cx.unbroadcast(ct, args[0])?)
            } else {
                None
            };
            let b = if linear(&args[1]) {
                let neg = cx.emit(Prim::Unary(Unary::Neg), &[ct])?;
                Some(cx.unbroadcast(neg, args[1])?)
            } else {
                None
            };
            Ok(smallvec::smallvec![a, b])
        }
        Binary::Mul => match (&args[0], &args[1]) {
            (LinArg::Tan(_), LinArg::Primal(y)) => {
                let prod = cx.emit(Prim::Binary(Binary::Mul), &[ct, *y])?;
                Ok(smallvec::smallvec![
                    Some(cx.unbroadcast(prod, args[0])?),
                    None
                ])
            }
            (LinArg::Primal(x), LinArg::Tan(_)) => {
                let prod = cx.emit(Prim::Binary(Binary::Mul), &[*x, ct])?;
                Ok(smallvec::smallvec![
                    None,
                    Some(cx.unbroadcast(prod, args[1])?)
                ])
            }
            _ => Err(Error::internal("mul is linear in one operand only")),
        },
        Binary::Div => match (&args[0], &args[1]) {
            (LinArg::Tan(_), LinArg::Primal(y)) => {
                let q = cx.emit(Prim::Binary(Binary::Div), &[ct, *y])?;
                Ok(smallvec::smallvec![Some(cx.unbroadcast(q, args[0])?), None])
            }
            _ => Err(Error::internal("div is linear in its numerator only")),
        },
        _ => Err(Error::internal(format!("`{}` is not linear", op.name()))),
    }
}

/// `_select_transpose_rule`: each linear case gets `select_n(which, …, ct, …)` with zeros in
/// the other cases.
pub(super) fn select_transpose(
    cx: &mut TransposeCx<'_>,
    ct: ValueId,
    args: &[LinArg],
) -> Result<crate::ops::transpose::Cts> {
    let LinArg::Primal(which) = args[0] else {
        return Err(Error::internal("select_n's predicate cannot be linear"));
    };
    let n = args.len() - 1;
    let mut out = vec![None];
    for (i, arg) in args[1..].iter().enumerate() {
        if matches!(arg, LinArg::Tan(_)) {
            let zeros = cx.zeros_like(ct)?;
            let mut operands = vec![which];
            operands.extend((0..n).map(|j| if j == i { ct } else { zeros }));
            out.push(Some(cx.emit(Prim::SelectN, &operands)?));
        } else {
            out.push(None);
        }
    }
    Ok(out.into())
}

/// `bitcast_convert_type`: the same bits read as `to`, of the same width.
pub(super) fn bitcast_convert_spec(inputs: &[&Spec], to: DType) -> Result<Spec> {
    if inputs[0].dtype.item_size() == to.item_size() {
        Ok(inputs[0].with_dtype(to))
    } else {
        Err(Error::shape(
            "bitcast_convert_type",
            format!("{} and {to} differ in width", inputs[0]),
        ))
    }
}

/// `integer_pow` lowers to one instruction per multiply or divide, each of `elements`
/// flops: `cost.flops` split into that many terms.
pub(super) fn integer_pow_instructions(cost: Cost, out: &Spec) -> Terms {
    let e = out.elements();
    if e > 0 && cost.flops > e {
        #[allow(clippy::cast_possible_truncation)] // a handful of multiplies
        return smallvec::smallvec![Term::Op(e); (cost.flops / e) as usize];
    }
    smallvec::smallvec![Term::Op(cost.flops)]
}

#[cfg(test)]
mod tests {
    use super::integer_pow_ops;

    #[test]
    fn integer_pow_lowers_by_squaring() {
        assert_eq!(integer_pow_ops(1), 0);
        assert_eq!(integer_pow_ops(2), 1);
        assert_eq!(integer_pow_ops(3), 2);
        assert_eq!(integer_pow_ops(4), 2);
        assert_eq!(integer_pow_ops(-1), 1);
        assert_eq!(integer_pow_ops(-2), 2);
        assert_eq!(integer_pow_ops(0), 0);
    }
}
