//! Windowed reductions: `reduce_window_sum` / `_max` / `_min` (an HLO `reduce-window`,
//! costed per output element and window tap) and `select_and_scatter_add`, the transpose
//! of a max/min pool.

use super::{Cost, Prim};
use crate::error::{Error, Result};
use crate::ops::graph::{Spec, ValueId};
use crate::ops::linearize::{J, JvpCx};
use crate::ops::transpose::{LinArg, TransposeCx};

/// The reducer of a window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WindowOp {
    Sum,
    Max,
    Min,
}

/// A window over every dimension of the operand.
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(clippy::struct_field_names)] // XLA's names for them
pub(crate) struct Window {
    pub(crate) dims: Vec<usize>,
    pub(crate) strides: Vec<usize>,
    pub(crate) padding: Vec<(i64, i64)>,
    pub(crate) base_dilation: Vec<usize>,
    pub(crate) window_dilation: Vec<usize>,
}

impl Window {
    /// A window without dilations.
    pub(crate) fn new(dims: Vec<usize>, strides: Vec<usize>, padding: Vec<(i64, i64)>) -> Window {
        let ones = vec![1; dims.len()];
        Window {
            dims,
            strides,
            padding,
            base_dilation: ones.clone(),
            window_dilation: ones,
        }
    }

    fn elements(&self) -> u64 {
        self.dims
            .iter()
            .fold(1u64, |a, &d| a.saturating_mul(d as u64))
    }
}

fn to_i64(v: usize) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn dilate(d: usize, dilation: usize) -> usize {
    if d == 0 {
        0
    } else {
        dilation.saturating_mul(d - 1).saturating_add(1)
    }
}

pub(super) fn reduce_window_spec(op: WindowOp, inputs: &[&Spec], w: &Window) -> Result<Spec> {
    let x = inputs[0];
    let name = match op {
        WindowOp::Sum => "reduce_window_sum",
        WindowOp::Max => "reduce_window_max",
        WindowOp::Min => "reduce_window_min",
    };
    window_output(name, x, w)
}

fn window_output(name: &'static str, x: &Spec, w: &Window) -> Result<Spec> {
    let n = x.rank();
    let lengths = [
        w.dims.len(),
        w.strides.len(),
        w.padding.len(),
        w.base_dilation.len(),
        w.window_dilation.len(),
    ];
    if lengths.iter().any(|&l| l != n)
        || w.strides
            .iter()
            .chain(&w.base_dilation)
            .chain(&w.window_dilation)
            .any(|&v| v == 0)
    {
        return Err(Error::shape(
            name,
            format!("the window {w:?} does not fit {x}"),
        ));
    }
    let mut dims = Vec::with_capacity(n);
    // In i128: dilated sizes and paddings of 64-bit numbers cannot overflow it.
    let wide = |d: usize, dilation: usize| {
        let (d, dilation) = (d as i128, dilation as i128);
        if d == 0 { 0 } else { 1 + dilation * (d - 1) }
    };
    for i in 0..n {
        let input = wide(x.dims()[i], w.base_dilation[i])
            + i128::from(w.padding[i].0)
            + i128::from(w.padding[i].1);
        let window = wide(w.dims[i], w.window_dilation[i]);
        if input < 0 {
            return Err(Error::shape(
                name,
                format!("the padding {:?} is larger than {x}", w.padding),
            ));
        }
        let out = if input < window {
            0
        } else {
            (input - window) / (w.strides[i].max(1) as i128) + 1
        };
        dims.push(usize::try_from(out).map_err(|_| {
            Error::shape(name, format!("the windows of {x} are too many to count"))
        })?);
    }
    Ok(x.with_shape(dims))
}

/// `HandleReduceWindow`: (window size − 1) reductions per output element, except for a
/// window that is a reduction broadcast back along one dimension.
pub(super) fn reduce_window_cost(out: &Spec, w: &Window) -> Cost {
    let output = out.elements();
    let reduced: Vec<usize> = (0..w.dims.len()).filter(|&i| w.dims[i] != 1).collect();
    let padded = (0..w.dims.len())
        .filter(|&i| w.padding[i] != (0, 0))
        .count();
    if reduced.len() == 1 && padded == 1 {
        let d = reduced[0];
        let (lo, hi) = w.padding[d];
        let broadcast_back = lo != 0
            && lo == hi
            && to_i64(w.dims[d]) == 2 * lo + 1
            && lo == to_i64(out.dims()[d]) - 1;
        if broadcast_back {
            let size = out.dims()[d] as u64;
            return Cost::flops((output / size).saturating_add(size - 1));
        }
    }
    Cost::flops(w.elements().saturating_sub(1).saturating_mul(output))
}

/// `_select_and_scatter_add(source, operand)`: scatters `source` into `operand`'s shape
/// at the position each window selected.
pub(super) fn select_and_scatter_spec(inputs: &[&Spec], w: &Window) -> Result<Spec> {
    let (source, operand) = (inputs[0], inputs[1]);
    let expected = window_output("select_and_scatter_add", operand, w)?;
    if expected.shape != source.shape {
        return Err(Error::shape(
            "select_and_scatter_add",
            format!("the source {source} does not match the windows of {operand}"),
        ));
    }
    Ok(operand.with_dtype(source.dtype))
}

/// `HandleSelectAndScatter`: a compare per extra window tap and an add per source element.
pub(super) fn select_and_scatter_cost(source: &Spec, w: &Window) -> Cost {
    let n = source.elements();
    Cost::flops(
        n.saturating_mul(w.elements().saturating_sub(1))
            .saturating_add(n),
    )
}

pub(super) fn reduce_window_jvp(
    op: WindowOp,
    w: &Window,
    cx: &mut JvpCx<'_>,
    x: ValueId,
    g: J,
) -> Result<J> {
    match op {
        WindowOp::Sum => cx.apply(
            Prim::ReduceWindow {
                op,
                window: Box::new(w.clone()),
            },
            &[g],
        ),
        // `_reduce_window_chooser_jvp_rule`: gather the tangent at the chosen positions.
        WindowOp::Max | WindowOp::Min => cx.apply(
            Prim::SelectAndGatherAdd {
                max: op == WindowOp::Max,
                window: Box::new(w.clone()),
            },
            &[g, J::Primal(x)],
        ),
    }
}

/// `_reduce_window_sum_transpose_rule`: pad the cotangent (with holes for the strides)
/// and sum it with the same window over the input.
pub(super) fn reduce_window_sum_transpose(
    cx: &mut TransposeCx<'_>,
    ct: ValueId,
    operand: LinArg,
    w: &Window,
) -> Result<crate::ops::transpose::Cts> {
    let input = cx.spec(operand);
    let t = cx.value_spec(ct);
    let mut low = Vec::new();
    let mut high = Vec::new();
    let mut interior = Vec::new();
    for i in 0..input.rank() {
        let lhs = to_i64(dilate(input.dims()[i], w.base_dilation[i]));
        let rhs = to_i64(dilate(w.dims[i], w.window_dilation[i]));
        let out = to_i64(dilate(t.dims()[i], w.strides[i]));
        let before = rhs.saturating_sub(w.padding[i].0).saturating_sub(1);
        let after = lhs
            .saturating_add(rhs)
            .saturating_sub(1)
            .saturating_sub(out)
            .saturating_sub(before);
        low.push(before);
        high.push(after);
        interior.push(w.strides[i] - 1);
    }
    let zero = cx.scalar(0.0, t.dtype)?;
    let padded = cx.emit(
        Prim::Pad {
            low,
            high,
            interior,
        },
        &[ct, zero],
    )?;
    let window = Window {
        dims: w.dims.clone(),
        strides: w.base_dilation.clone(),
        padding: vec![(0, 0); input.rank()],
        base_dilation: vec![1; input.rank()],
        window_dilation: w.window_dilation.clone(),
    };
    Ok(smallvec::smallvec![Some(cx.emit(
        Prim::ReduceWindow {
            op: WindowOp::Sum,
            window: Box::new(window),
        },
        &[padded],
    )?)])
}

/// `_select_and_gather_add_transpose`: a `select_and_scatter_add` of the cotangent.
pub(super) fn select_and_gather_transpose(
    cx: &mut TransposeCx<'_>,
    ct: ValueId,
    args: &[LinArg],
    max: bool,
    w: &Window,
) -> Result<crate::ops::transpose::Cts> {
    let LinArg::Primal(mut operand) = args[1] else {
        return Err(Error::internal(
            "select_and_gather_add is linear in its tangents only",
        ));
    };
    if w.window_dilation.iter().any(|&d| d != 1) {
        return Err(Error::invalid(
            "the VJP of a max/min pool with window dilation is not defined (as in JAX)",
        ));
    }
    let dilated = w.base_dilation.iter().any(|&d| d != 1);
    if dilated {
        let dtype = cx.value_spec(operand).dtype;
        let identity = cx.scalar(
            if max {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            },
            dtype,
        )?;
        let rank = w.dims.len();
        operand = cx.emit(
            Prim::Pad {
                low: vec![0; rank],
                high: vec![0; rank],
                interior: w.base_dilation.iter().map(|d| d - 1).collect(),
            },
            &[operand, identity],
        )?;
    }
    let window = Window {
        base_dilation: vec![1; w.dims.len()],
        ..w.clone()
    };
    let mut result = cx.emit(
        Prim::SelectAndScatterAdd {
            max,
            window: Box::new(window),
        },
        &[ct, operand],
    )?;
    if dilated {
        let shape = cx.value_spec(result).shape;
        result = cx.emit(
            Prim::Slice {
                start: vec![0; shape.rank()].into(),
                limit: shape.dims().to_vec().into(),
                strides: w.base_dilation.clone().into(),
            },
            &[result],
        )?;
    }
    Ok(smallvec::smallvec![Some(result), None])
}
