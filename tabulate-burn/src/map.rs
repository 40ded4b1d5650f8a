//! Each burn operation as the `tabulate` operations that emit the primitives JAX would
//! emit for it (`jax.numpy`, `jax.nn`, `flax.linen` where burn fuses a layer).

use burn::backend::ir::{
    ActivationOperationIr, BaseOperationIr, BoolOperationIr, FloatOperationIr, IntOperationIr,
    ModuleOperationIr, NumericOperationIr, OperationIr, PadModeIr, ScalarIr, TensorIr,
};
use tabulate::lax::{self as tlax, ConvOptions, WindowReduction};
use tabulate::nn::{self as tnn, AttentionOptions};
use tabulate::{DType, Result as TResult, Shape, Tensor};

use crate::replay::{Replay, dtype};

type Mapped = TResult<Option<Vec<Tensor>>>;

fn one(t: TResult<Tensor>) -> Mapped {
    t.map(|t| Some(vec![t]))
}

fn scalar_value(s: &ScalarIr) -> f64 {
    match *s {
        ScalarIr::Float(v) => v,
        #[allow(clippy::cast_precision_loss)]
        ScalarIr::Int(v) => v as f64,
        #[allow(clippy::cast_precision_loss)]
        ScalarIr::UInt(v) => v as f64,
        ScalarIr::Bool(b) => f64::from(u8::from(b)),
    }
}

/// A scalar operand as `jnp` sees a Python scalar next to an array: a constant of the
/// array's dtype, broadcast by the elementwise op.
fn scalar(x: &Tensor, s: &ScalarIr) -> TResult<Tensor> {
    Tensor::full(scalar_value(s), x.dtype(), Vec::<usize>::new())
}

/// A burn convolution's options (no input dilation): strides, `(low, high)` padding,
/// kernel dilation and groups per spatial dimension.
fn conv_options(
    stride: &[usize],
    padding: Vec<(usize, usize)>,
    dilation: &[usize],
    groups: usize,
) -> ConvOptions {
    ConvOptions {
        window_strides: stride.to_vec(),
        padding: padding
            .into_iter()
            .map(|(low, high)| (to_i64(low), to_i64(high)))
            .collect(),
        lhs_dilation: vec![1; stride.len()],
        rhs_dilation: dilation.to_vec(),
        feature_group_count: groups,
    }
}

fn to_i64(v: usize) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn isize_dim(d: usize) -> isize {
    isize::try_from(d).unwrap_or(isize::MAX)
}

fn out_dims(t: &TensorIr) -> Vec<usize> {
    t.shape.to_vec()
}

/// Reshapes a reduction's result to burn's (kept dimensions of size 1).
fn as_out(t: TResult<Tensor>, out: &TensorIr) -> Mapped {
    one(t?.reshape(Shape::new(out_dims(out))))
}

/// A per-channel vector (`[C]`) shaped to broadcast against `NC…`.
fn channel(v: &Tensor, rank: usize) -> TResult<Tensor> {
    let mut shape = vec![1usize; rank];
    if rank > 1 {
        shape[1] = v.shape().dims().iter().product();
    }
    v.reshape(Shape::new(shape))
}

impl Replay<'_> {
    pub(crate) fn map(&mut self, op: &OperationIr) -> Mapped {
        match op {
            OperationIr::BaseFloat(b) | OperationIr::BaseInt(b) | OperationIr::BaseBool(b) => {
                self.base(b)
            }
            OperationIr::NumericFloat(_, n) | OperationIr::NumericInt(_, n) => self.numeric(n),
            OperationIr::Float(_, f) => self.float(f),
            OperationIr::Int(i) => self.int(i),
            OperationIr::Bool(b) => self.bool(b),
            OperationIr::Module(m) => self.module(m),
            OperationIr::Activation(a) => self.activation(a),
            // A tensor created from host data: a constant leaf.
            OperationIr::Init(i) => Ok(Some(vec![crate::replay::fresh(&i.out)])),
            _ => Ok(None),
        }
    }

    #[allow(clippy::too_many_lines)] // one arm per burn op
    fn base(&mut self, op: &BaseOperationIr) -> Mapped {
        use BaseOperationIr as B;
        match op {
            B::Reshape(r) => one(self.get(&r.input).reshape(Shape::new(out_dims(&r.out)))),
            B::SwapDims(s) => one(self
                .get(&s.input)
                .swapaxes(isize_dim(s.dim1), isize_dim(s.dim2))),
            B::Permute(p) => one(self.get(&p.input).transpose(&p.axes)),
            B::Flip(f) => {
                let mut x = self.get(&f.input);
                for &a in &f.axes {
                    x = x.flip(isize_dim(a))?;
                }
                one(Ok(x))
            }
            B::Expand(e) => one(self.get(&e.input).broadcast_to(out_dims(&e.out))),
            // `repeat_dim` concatenates copies along the axis.
            B::RepeatDim(r) => {
                let x = self.get(&r.tensor);
                let copies: Vec<&Tensor> = std::iter::repeat_n(&x, r.times.max(1)).collect();
                one(Tensor::concatenate(&copies, isize_dim(r.dim)))
            }
            B::Slice(s) => {
                let mut x = self.get(&s.tensor);
                for (axis, range) in s.ranges.iter().enumerate() {
                    if range.step != 1 {
                        return Ok(None);
                    }
                    let dim = isize_dim(x.shape().dims()[axis]);
                    let start = if range.start < 0 {
                        range.start + dim
                    } else {
                        range.start
                    };
                    let start = usize::try_from(start.max(0)).unwrap_or(0);
                    let len = s.out.shape[axis];
                    if start != 0 || len != x.shape().dims()[axis] {
                        x = x.slice(isize_dim(axis), start, start + len)?;
                    }
                }
                one(Ok(x))
            }
            B::Cat(c) => {
                let xs: Vec<Tensor> = c.tensors.iter().map(|t| self.get(t)).collect();
                let refs: Vec<&Tensor> = xs.iter().collect();
                one(Tensor::concatenate(&refs, isize_dim(c.dim)))
            }
            B::Cast(c) => match dtype(c.out.dtype) {
                Some(d) => one(self.get(&c.input).astype(d)),
                None => Ok(None),
            },
            B::Equal(b) => one(self.get(&b.lhs).equal(self.get(&b.rhs))),
            B::NotEqual(b) => one(self.get(&b.lhs).not_equal(self.get(&b.rhs))),
            B::EqualElem(s) => {
                let x = self.get(&s.lhs);
                one(x.equal(scalar(&x, &s.rhs)?))
            }
            B::NotEqualElem(s) => {
                let x = self.get(&s.lhs);
                one(x.not_equal(scalar(&x, &s.rhs)?))
            }
            // `jnp.where(mask, value, tensor)`.
            B::MaskWhere(m) => {
                let shape = out_dims(&m.out);
                let mask = self.get(&m.mask).broadcast_to(shape.clone())?;
                let value = self.get(&m.value).broadcast_to(shape.clone())?;
                let x = self.get(&m.tensor).broadcast_to(shape)?;
                one(mask.select(&value, &x))
            }
            B::MaskFill(m) => {
                let shape = out_dims(&m.out);
                let mask = self.get(&m.mask).broadcast_to(shape.clone())?;
                let x = self.get(&m.tensor).broadcast_to(shape.clone())?;
                let value = scalar(&x, &m.value)?.broadcast_to(shape)?;
                one(mask.select(&value, &x))
            }
            // `jnp.take(x, indices, axis)`.
            B::Select(s) => {
                let x = self.get(&s.tensor);
                let idx = self.get(&s.indices);
                if s.dim == 0 {
                    return one(tlax::take(&x, &idx));
                }
                let rank = x.rank();
                let mut perm: Vec<usize> = (0..rank).collect();
                perm.remove(s.dim);
                perm.insert(0, s.dim);
                let mut back: Vec<usize> = (1..rank).collect();
                back.insert(s.dim, 0);
                let taken = tlax::take(&x.transpose(&perm)?, &idx)?;
                one(taken.transpose(&back))
            }
            B::All(r) => {
                let x = self.get(&r.input);
                as_out(x.all(&all_axes(&x)), &r.out)
            }
            B::Any(r) => {
                let x = self.get(&r.input);
                as_out(x.any(&all_axes(&x)), &r.out)
            }
            B::AllDim(r) => as_out(self.get(&r.input).all(&[isize_dim(r.axis)]), &r.out),
            B::AnyDim(r) => as_out(self.get(&r.input).any(&[isize_dim(r.axis)]), &r.out),
            B::Empty(c) => Ok(Some(vec![crate::replay::fresh(&c.out)])),
            B::Zeros(c) => match dtype(c.out.dtype) {
                Some(d) => one(Tensor::zeros(d, out_dims(&c.out))),
                None => Ok(None),
            },
            B::Ones(c) => match dtype(c.out.dtype) {
                Some(d) => one(Tensor::ones(d, out_dims(&c.out))),
                None => Ok(None),
            },
            _ => Ok(None),
        }
    }

    fn binary(
        &mut self,
        b: &burn::backend::ir::BinaryOpIr,
        f: impl FnOnce(&Tensor, &Tensor) -> TResult<Tensor>,
    ) -> Mapped {
        let (x, y) = (self.get(&b.lhs), self.get(&b.rhs));
        one(f(&x, &y))
    }

    fn with_scalar(
        &mut self,
        s: &burn::backend::ir::ScalarOpIr,
        f: impl FnOnce(&Tensor, Tensor) -> TResult<Tensor>,
    ) -> Mapped {
        let x = self.get(&s.lhs);
        let c = scalar(&x, &s.rhs)?;
        one(f(&x, c))
    }

    #[allow(clippy::too_many_lines)] // one arm per burn op
    fn numeric(&mut self, op: &NumericOperationIr) -> Mapped {
        use NumericOperationIr as N;
        match op {
            N::Add(b) => self.binary(b, |x, y| x.add(y)),
            N::Sub(b) => self.binary(b, |x, y| x.sub(y)),
            N::Mul(b) => self.binary(b, |x, y| x.mul(y)),
            N::Div(b) => self.binary(b, |x, y| x.div(y)),
            N::Rem(b) => self.binary(b, |x, y| x.rem(y)),
            N::AddScalar(s) => self.with_scalar(s, tabulate::Tensor::add),
            N::SubScalar(s) => self.with_scalar(s, tabulate::Tensor::sub),
            N::MulScalar(s) => self.with_scalar(s, tabulate::Tensor::mul),
            N::DivScalar(s) => self.with_scalar(s, tabulate::Tensor::div),
            N::RemScalar(s) => self.with_scalar(s, tabulate::Tensor::rem),
            N::Abs(u) => one(self.get(&u.input).abs()),
            N::Neg(u) => one(self.get(&u.input).neg()),
            N::Full(f) => match dtype(f.out.dtype) {
                Some(d) => one(Tensor::full(scalar_value(&f.value), d, out_dims(&f.out))),
                None => Ok(None),
            },
            N::Mean(r) => {
                let x = self.get(&r.input);
                as_out(x.mean(&all_axes(&x), false), &r.out)
            }
            N::MeanDim(r) => one(self.get(&r.input).mean(&[isize_dim(r.axis)], true)),
            N::Sum(r) => {
                let x = self.get(&r.input);
                as_out(x.sum(&all_axes(&x), false), &r.out)
            }
            N::SumDim(r) => one(self.get(&r.input).sum(&[isize_dim(r.axis)], true)),
            N::SumDims(r) => {
                let axes: Vec<isize> = r.axes.iter().map(|&a| isize_dim(a)).collect();
                one(self.get(&r.input).sum(&axes, true))
            }
            N::Max(r) => {
                let x = self.get(&r.input);
                as_out(x.max(&all_axes(&x), false), &r.out)
            }
            N::MaxDim(r) => one(self.get(&r.input).max(&[isize_dim(r.axis)], true)),
            N::Min(r) => {
                let x = self.get(&r.input);
                as_out(x.min(&all_axes(&x), false), &r.out)
            }
            N::MinDim(r) => one(self.get(&r.input).min(&[isize_dim(r.axis)], true)),
            N::MaxAbs(r) => {
                let x = self.get(&r.input).abs()?;
                as_out(x.max(&all_axes(&x), false), &r.out)
            }
            N::MaxAbsDim(r) => one(self.get(&r.input).abs()?.max(&[isize_dim(r.axis)], true)),
            N::ArgMax(r) => match dtype(r.out.dtype) {
                Some(d) => as_out(tlax::argmax(&self.get(&r.input), r.axis, d), &r.out),
                None => Ok(None),
            },
            N::Greater(b) => self.binary(b, |x, y| x.greater(y)),
            N::GreaterEqual(b) => self.binary(b, |x, y| x.greater_equal(y)),
            N::Lower(b) => self.binary(b, |x, y| x.less(y)),
            N::LowerEqual(b) => self.binary(b, |x, y| x.less_equal(y)),
            N::GreaterElem(s) => self.with_scalar(s, tabulate::Tensor::greater),
            N::GreaterEqualElem(s) => self.with_scalar(s, tabulate::Tensor::greater_equal),
            N::LowerElem(s) => self.with_scalar(s, tabulate::Tensor::less),
            N::LowerEqualElem(s) => self.with_scalar(s, tabulate::Tensor::less_equal),
            // `jnp.clip`: maximum, then minimum.
            N::Clamp(c) => {
                let x = self.get(&c.tensor);
                let lo = scalar(&x, &c.min)?;
                let hi = scalar(&x, &c.max)?;
                one(x.maximum(lo)?.minimum(hi))
            }
            N::ClampMin(s) => self.with_scalar(s, tabulate::Tensor::maximum),
            N::ClampMax(s) => self.with_scalar(s, tabulate::Tensor::minimum),
            N::PowiScalar(s) => match s.rhs {
                ScalarIr::Int(y) => match i32::try_from(y) {
                    Ok(y) => one(self.get(&s.lhs).powi(y)),
                    Err(_) => Ok(None),
                },
                _ => Ok(None),
            },
            N::Powi(b) => self.binary(b, |x, y| x.pow(y)),
            N::Pad(p) => {
                let PadModeIr::Constant(v) = p.mode else {
                    return Ok(None);
                };
                one(self.get(&p.input).pad(&p.padding, scalar_value(&v)))
            }
            _ => Ok(None),
        }
    }

    fn float(&mut self, op: &FloatOperationIr) -> Mapped {
        use FloatOperationIr as F;
        match op {
            F::Exp(u) => one(self.get(&u.input).exp()),
            F::Log(u) => one(self.get(&u.input).log()),
            F::Log1p(u) => one(self.get(&u.input).log1p()),
            F::Erf(u) => one(self.get(&u.input).erf()),
            F::Sqrt(u) => one(self.get(&u.input).sqrt()),
            F::Tanh(u) => one(self.get(&u.input).tanh()),
            F::Round(u) => one(self.get(&u.input).round()),
            F::Floor(u) => one(self.get(&u.input).floor()),
            F::Ceil(u) => one(self.get(&u.input).ceil()),
            // `jnp.reciprocal`: `integer_pow(x, -1)`.
            F::Recip(u) => one(self.get(&u.input).powi(-1)),
            // `jnp.isnan(x)`: `x != x`.
            F::IsNan(u) => {
                let x = self.get(&u.input);
                one(x.not_equal(&x))
            }
            F::IntoInt(c) => match dtype(c.out.dtype) {
                Some(d) => one(self.get(&c.input).astype(d)),
                None => Ok(None),
            },
            F::Matmul(m) => self.binary(
                &burn::backend::ir::BinaryOpIr {
                    lhs: m.lhs.clone(),
                    rhs: m.rhs.clone(),
                    out: m.out.clone(),
                },
                tabulate::Tensor::matmul,
            ),
            F::PowfScalar(s) => self.with_scalar(s, tabulate::Tensor::pow),
            F::Powf(b) => self.binary(b, |x, y| x.pow(y)),
            _ => Ok(None),
        }
    }

    fn int(&mut self, op: &IntOperationIr) -> Mapped {
        match op {
            IntOperationIr::IntoFloat(c) => match dtype(c.out.dtype) {
                Some(d) => one(self.get(&c.input).astype(d)),
                None => Ok(None),
            },
            IntOperationIr::Matmul(m) => {
                let (x, y) = (self.get(&m.lhs), self.get(&m.rhs));
                one(x.matmul(&y))
            }
            _ => Ok(None),
        }
    }

    fn bool(&mut self, op: &BoolOperationIr) -> Mapped {
        match op {
            BoolOperationIr::IntoFloat(c) | BoolOperationIr::IntoInt(c) => {
                match dtype(c.out.dtype) {
                    Some(d) => one(self.get(&c.input).astype(d)),
                    None => Ok(None),
                }
            }
            BoolOperationIr::And(b) => self.binary(b, tabulate::Tensor::logical_and),
            BoolOperationIr::Or(b) => self.binary(b, tabulate::Tensor::logical_or),
            _ => Ok(None),
        }
    }

    /// A convolution with burn's `NC…`/`OI…` layouts (`lax.conv_general_dilated`'s
    /// defaults) and an optional bias added per channel, as `flax.linen.Conv` adds it.
    fn conv(
        &mut self,
        x: &TensorIr,
        weight: &TensorIr,
        bias: Option<&TensorIr>,
        options: ConvOptions,
    ) -> Mapped {
        let (x, w) = (self.get(x), self.get(weight));
        let y = tlax::conv_general_dilated(&x, &w, options)?;
        match bias {
            Some(b) => {
                let b = channel(&self.get(b), y.rank())?;
                one(y.add(&b))
            }
            None => one(Ok(y)),
        }
    }

    /// `reduce_window` over the spatial dims of an `NC…` tensor.
    fn pool(
        &mut self,
        reduction: WindowReduction,
        x: &TensorIr,
        kernel: &[usize],
        stride: &[usize],
        padding: &[usize],
        dilation: &[usize],
    ) -> TResult<Tensor> {
        let x = self.get(x);
        let mut dims = vec![1, 1];
        dims.extend_from_slice(kernel);
        let mut strides = vec![1, 1];
        strides.extend_from_slice(stride);
        let mut pads = vec![(0, 0), (0, 0)];
        pads.extend(padding.iter().map(|&p| (to_i64(p), to_i64(p))));
        let mut dil = vec![1, 1];
        dil.extend_from_slice(dilation);
        tlax::reduce_window(reduction, &x, &dims, &strides, &pads, &dil)
    }

    /// `flax.linen.avg_pool` counting padding: the window sum divided by the window size.
    fn avg_pool(
        &mut self,
        x: &TensorIr,
        kernel: &[usize],
        stride: &[usize],
        padding: &[usize],
    ) -> Mapped {
        let ones = vec![1; kernel.len()];
        let y = self.pool(WindowReduction::Sum, x, kernel, stride, padding, &ones)?;
        let size: usize = kernel.iter().product();
        one(y.div(f64::from(u32::try_from(size).unwrap_or(u32::MAX))))
    }

    /// Adaptive average pooling whose windows all have one size: an average pool.
    fn adaptive(&mut self, x: &TensorIr, out: &TensorIr) -> Mapped {
        let mut kernel = Vec::new();
        for s in 2..x.shape.len() {
            let (i, o) = (x.shape[s], out.shape[s]);
            if o == 0 || i % o != 0 {
                return Ok(None);
            }
            kernel.push(i / o);
        }
        let zeros = vec![0; kernel.len()];
        let kernel2 = kernel.clone();
        self.avg_pool(x, &kernel, &kernel2, &zeros)
    }

    /// Flax's `_normalize`: `(x − mean) · (rsqrt(var + ε) · scale) + bias`.
    fn normalize(
        x: &Tensor,
        mean: &Tensor,
        var: &Tensor,
        scale: &Tensor,
        bias: Option<&Tensor>,
        epsilon: f64,
    ) -> TResult<Tensor> {
        let y = x.sub(mean)?;
        let mul = var
            .add(Tensor::full(epsilon, var.dtype(), Vec::<usize>::new())?)?
            .rsqrt()?;
        let mul = mul.mul(scale)?;
        let y = y.mul(&mul)?;
        match bias {
            Some(b) => y.add(b),
            None => Ok(y),
        }
    }

    #[allow(clippy::too_many_lines)] // one arm per burn module op
    fn module(&mut self, op: &ModuleOperationIr) -> Mapped {
        use ModuleOperationIr as M;
        match op {
            // `flax.linen.Dense`: the last axis contracted with the kernel's first, then
            // the bias reshaped to `(1, …, 1, out)` and added.
            M::Linear(linear) => {
                let (x, kernel) = (self.get(&linear.x), self.get(&linear.weight));
                let last = x.rank().saturating_sub(1);
                let y = tlax::dot_general(&x, &kernel, (&[last], &[0]), (&[], &[]))?;
                match &linear.bias {
                    Some(b) => {
                        let mut shape = vec![1usize; y.rank()];
                        if let Some(l) = shape.last_mut() {
                            *l = y.shape().dims()[y.rank() - 1];
                        }
                        let b = self.get(b).reshape(Shape::new(shape))?;
                        one(y.add(&b))
                    }
                    None => one(Ok(y)),
                }
            }
            M::Embedding(e) => {
                let (w, i) = (self.get(&e.weights), self.get(&e.indices));
                one(tlax::take(&w, &i))
            }
            M::Conv1d(c) => {
                let o = &c.options;
                let options = conv_options(&o.stride, o.padding.to_vec(), &o.dilation, o.groups);
                self.conv(&c.x, &c.weight, c.bias.as_ref(), options)
            }
            M::Conv2d(c) => {
                let o = &c.options;
                let options = conv_options(&o.stride, o.padding.to_vec(), &o.dilation, o.groups);
                self.conv(&c.x, &c.weight, c.bias.as_ref(), options)
            }
            M::Conv3d(c) => {
                let o = &c.options;
                let options = conv_options(
                    &o.stride,
                    o.padding.iter().map(|&p| (p, p)).collect(),
                    &o.dilation,
                    o.groups,
                );
                self.conv(&c.x, &c.weight, c.bias.as_ref(), options)
            }
            // Inference batch norm with running statistics: Flax's `_normalize` per
            // channel.
            M::BatchNorm(b) => {
                let x = self.get(&b.x);
                let r = x.rank();
                let mean = channel(&self.get(&b.mean), r)?;
                let var = channel(&self.get(&b.variance), r)?;
                let gamma = channel(&self.get(&b.gamma), r)?;
                let beta = channel(&self.get(&b.beta), r)?;
                one(Self::normalize(
                    &x,
                    &mean,
                    &var,
                    &gamma,
                    Some(&beta),
                    scalar_value(&b.epsilon),
                ))
            }
            // burn's layer norm computes `mean((x − mean)²)`: Flax's LayerNorm with
            // `use_fast_variance=False`.
            M::LayerNorm(l) => {
                let x = self.get(&l.input);
                let mean = x.mean(&[-1], true)?;
                let var = x.sub(&mean)?.square()?.mean(&[-1], true)?;
                let gamma = self.get(&l.gamma);
                let beta = l.beta.as_ref().map(|b| self.get(b));
                one(Self::normalize(
                    &x,
                    &mean,
                    &var,
                    &gamma,
                    beta.as_ref(),
                    scalar_value(&l.epsilon),
                ))
            }
            M::AvgPool1d(p) if !p.ceil_mode && (p.count_include_pad || p.padding == 0) => {
                self.avg_pool(&p.x, &[p.kernel_size], &[p.stride], &[p.padding])
            }
            M::AvgPool2d(p) if !p.ceil_mode && (p.count_include_pad || p.padding == [0, 0]) => {
                self.avg_pool(&p.x, &p.kernel_size, &p.stride, &p.padding)
            }
            M::MaxPool1d(p) if !p.ceil_mode => one(self.pool(
                WindowReduction::Max,
                &p.x,
                &[p.kernel_size],
                &[p.stride],
                &[p.padding],
                &[p.dilation],
            )),
            M::MaxPool2d(p) if !p.ceil_mode => one(self.pool(
                WindowReduction::Max,
                &p.x,
                &p.kernel_size,
                &p.stride,
                &p.padding,
                &p.dilation,
            )),
            M::AdaptiveAvgPool1d(p) => self.adaptive(&p.x, &p.out),
            M::AdaptiveAvgPool2d(p) => self.adaptive(&p.x, &p.out),
            M::AdaptiveAvgPool3d(p) => self.adaptive(&p.x, &p.out),
            // `flax.linen.dot_product_attention` on burn's `[batch, heads, len, depth]`
            // (transposed to Flax's `[batch, len, heads, depth]` and back, which is free).
            // burn's mask marks positions to drop, Flax's positions to keep: the select
            // costs the same either way.
            M::Attention(att) => {
                if att.options.softcap.is_some() || att.options.scale.is_some() {
                    return Ok(None);
                }
                let (query, key, value) = (
                    self.get(&att.query),
                    self.get(&att.key),
                    self.get(&att.value),
                );
                if query.rank() != 4 {
                    return Ok(None);
                }
                let flax = |t: &Tensor| t.transpose(&[0, 2, 1, 3]);
                let mask = match (&att.mask, att.options.is_causal) {
                    (Some(mask), _) => Some(self.get(mask)),
                    (None, true) => Some(Tensor::new(
                        DType::Bool,
                        vec![1, 1, query.shape().dims()[2], key.shape().dims()[2]],
                    )),
                    (None, false) => None,
                };
                let bias = att.attn_bias.as_ref().map(|b| self.get(b));
                let options = AttentionOptions {
                    bias: bias.as_ref(),
                    mask: mask.as_ref(),
                    ..AttentionOptions::default()
                };
                let out = tnn::dot_product_attention(
                    &flax(&query)?,
                    &flax(&key)?,
                    &flax(&value)?,
                    &options,
                )?;
                one(flax(&out))
            }
            _ => Ok(None),
        }
    }

    fn activation(&mut self, op: &ActivationOperationIr) -> Mapped {
        use ActivationOperationIr as A;
        match op {
            A::Relu(u) => one(tnn::relu(&self.get(&u.input))),
            // burn's gelu is the exact (erf) form.
            A::Gelu(u) => one(tnn::gelu_with(&self.get(&u.input), false)),
            A::Sigmoid(u) => one(tnn::sigmoid(&self.get(&u.input))),
            A::LeakyRelu(s) => one(tnn::leaky_relu_with(
                &self.get(&s.lhs),
                scalar_value(&s.rhs),
            )),
            A::Softmax(d) => one(tnn::softmax_with(&self.get(&d.input), isize_dim(d.axis))),
            A::LogSoftmax(d) => one(tnn::log_softmax_with(
                &self.get(&d.input),
                isize_dim(d.axis),
            )),
            // softmin(x) = softmax(−x).
            A::Softmin(d) => one(tnn::softmax_with(
                &self.get(&d.input).neg()?,
                isize_dim(d.axis),
            )),
            _ => Ok(None),
        }
    }
}

/// Every axis of `x`, for a reduction over the whole tensor.
fn all_axes(x: &Tensor) -> Vec<isize> {
    (0..x.rank()).map(isize_dim).collect()
}
