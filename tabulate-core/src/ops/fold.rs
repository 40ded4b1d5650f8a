//! What the canonicaliser knows of each primitive: whether it folds on constants, and the
//! splat value it computes. The pass that uses these is `cost/fold.rs`.

use super::{Binary, Cmp, Prim, Unary};

impl Prim {
    /// Whether the MHLO canonicaliser folds the primitive when all its operands are
    /// constants (`reference/xla-cost-model.md` §4).
    #[inline]
    pub(crate) fn foldable(&self) -> bool {
        match self {
            Prim::Unary(_)
            | Prim::Binary(_)
            | Prim::Compare(_)
            | Prim::SelectN
            | Prim::Convert(_)
            | Prim::IntegerPow(_)
            | Prim::StopGradient
            | Prim::BroadcastInDim { .. }
            | Prim::Reshape { .. }
            | Prim::Transpose { .. }
            | Prim::Rev { .. }
            | Prim::Slice { .. }
            | Prim::Pad { .. }
            | Prim::Concatenate { .. } => true,
            Prim::Constant { .. }
            | Prim::Iota { .. }
            | Prim::Split { .. }
            | Prim::Reduce { .. }
            | Prim::Argmax { .. }
            | Prim::DotGeneral(_)
            | Prim::Conv(_)
            | Prim::ReduceWindow { .. }
            | Prim::SelectAndGatherAdd { .. }
            | Prim::SelectAndScatterAdd { .. }
            | Prim::Gather { .. }
            | Prim::ScatterAdd { .. }
            | Prim::BitcastConvert(_)
            | Prim::RandomFoldIn
            | Prim::Iota2x32 { .. }
            | Prim::Threefry2x32
            | Prim::LoopVar
            | Prim::LoopSlice { .. }
            | Prim::LoopExit { .. }
            | Prim::LoopEntry { .. }
            | Prim::LoopBackwardEnter { .. }
            | Prim::LoopBackwardExit { .. }
            | Prim::OptimizationBarrier
            | Prim::Remat(_) => false,
        }
    }

    /// The splat value of the primitive applied to splats `x` (one per operand), where it is simple to compute. Literals
    /// are compared exactly, as a compiler folding them does.
    #[allow(clippy::float_cmp)]
    #[inline]
    pub(crate) fn evaluate(&self, x: &[f64]) -> Option<f64> {
        let b = |c: bool| if c { 1.0 } else { 0.0 };
        Some(match self {
            Prim::Unary(op) => match op {
                Unary::Neg => -x[0],
                Unary::Abs => x[0].abs(),
                Unary::Sign => x[0].signum(),
                Unary::Floor => x[0].floor(),
                Unary::Ceil => x[0].ceil(),
                Unary::Round => x[0].round(),
                Unary::Exp => x[0].exp(),
                Unary::Log => x[0].ln(),
                Unary::Log1p => x[0].ln_1p(),
                Unary::Expm1 => x[0].exp_m1(),
                Unary::Tanh => x[0].tanh(),
                Unary::Logistic => 1.0 / (1.0 + (-x[0]).exp()),
                Unary::Sqrt => x[0].sqrt(),
                Unary::Rsqrt => 1.0 / x[0].sqrt(),
                Unary::Sin => x[0].sin(),
                Unary::Cos => x[0].cos(),
                Unary::Square => x[0] * x[0],
                // CHLO ops and `tan` are not folded before they are expanded.
                Unary::Not
                | Unary::IsFinite
                | Unary::Erf
                | Unary::Erfc
                | Unary::Tan
                | Unary::Atan
                | Unary::Asin
                | Unary::Acos
                | Unary::Sinh
                | Unary::Cosh
                | Unary::Asinh
                | Unary::Acosh
                | Unary::Atanh
                | Unary::ErfInv => return None,
            },
            Prim::Binary(op) => match op {
                Binary::Add => x[0] + x[1],
                Binary::Sub => x[0] - x[1],
                Binary::Mul => x[0] * x[1],
                Binary::Div => x[0] / x[1],
                Binary::Rem => x[0] % x[1],
                Binary::Max => x[0].max(x[1]),
                Binary::Min => x[0].min(x[1]),
                Binary::Pow => x[0].powf(x[1]),
                Binary::And | Binary::Or | Binary::Xor | Binary::ShiftRightLogical => return None,
            },
            Prim::Compare(op) => b(match op {
                Cmp::Eq => x[0] == x[1],
                Cmp::Ne => x[0] != x[1],
                Cmp::Lt => x[0] < x[1],
                Cmp::Le => x[0] <= x[1],
                Cmp::Gt => x[0] > x[1],
                Cmp::Ge => x[0] >= x[1],
            }),
            // A boolean or small integer predicate picks a case.
            Prim::SelectN => match x[0] {
                0.0 => x[1],
                1.0 => *x.get(2)?,
                _ => return None,
            },
            Prim::IntegerPow(y) => x[0].powi(*y),
            Prim::Convert(_)
            | Prim::StopGradient
            | Prim::BroadcastInDim { .. }
            | Prim::Reshape { .. }
            | Prim::Transpose { .. }
            | Prim::Rev { .. }
            | Prim::Slice { .. } => x[0],
            Prim::Pad { .. }
            | Prim::Concatenate { .. }
            | Prim::Constant { .. }
            | Prim::Iota { .. }
            | Prim::Split { .. }
            | Prim::Reduce { .. }
            | Prim::Argmax { .. }
            | Prim::DotGeneral(_)
            | Prim::Conv(_)
            | Prim::ReduceWindow { .. }
            | Prim::SelectAndGatherAdd { .. }
            | Prim::SelectAndScatterAdd { .. }
            | Prim::Gather { .. }
            | Prim::ScatterAdd { .. }
            | Prim::BitcastConvert(_)
            | Prim::RandomFoldIn
            | Prim::Iota2x32 { .. }
            | Prim::Threefry2x32
            | Prim::LoopVar
            | Prim::LoopSlice { .. }
            | Prim::LoopExit { .. }
            | Prim::LoopEntry { .. }
            | Prim::LoopBackwardEnter { .. }
            | Prim::LoopBackwardExit { .. }
            | Prim::OptimizationBarrier
            | Prim::Remat(_) => return None,
        })
    }
}
