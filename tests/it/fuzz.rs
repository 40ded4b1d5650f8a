//! The fuzz suite: random inputs to every public `Tensor` method and every `tabulate::nn`
//! layer and function, run on their own and inside a summary with both FLOP columns.
//!
//! Every case must end in a value or an `Error` — never a panic, abort, hang or stack
//! overflow. Errors raised inside the summary carry the module call they happened in.
//! For small sizes, result shapes must agree with the reference rules written here
//! (numpy broadcasting, reshape, convolution and pool output sizes, …), and the summary's
//! parameter totals must equal the exact sum of the declared variables' sizes.
//!
//! `cargo test --test it fuzz::` runs a bounded number of cases (1024 per property);
//! `TABULATE_FUZZ_CASES=500000 cargo test --release --test it fuzz::` runs a long one
//! (the count is per property: 500,000 Tensor-method cases and 500,000 layer cases).

// Generators and reference rules read best with the short names of the formulas they
// follow (x, y, window w, stride s, …) and as one match per family of operations.
#![allow(
    clippy::collapsible_if,
    clippy::many_single_char_names,
    clippy::too_many_lines,
    clippy::cast_possible_wrap
)]

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError};
use tabulate::nn::{
    self, AttentionCall, AttentionDropout, AttentionOptions, BatchNorm, Conv, ConvTranspose, Dense,
    DenseGeneral, Dropout, Einsum, Embed, GRUCell, GroupNorm, LSTMCell, LayerNorm,
    MultiHeadDotProductAttention, PoolPadding, RMSNorm, RNN, SelfAttention, Sequential, SimpleCell,
    SpectralNorm, WeightNorm,
};
use tabulate::prelude::*;
use tabulate::{Error, Metric, MetricValue, Shape};

// ------------------------------------------------------------------ generators

/// Huge dimensions and configuration numbers: products of these overflow `u64`.
const HUGE: [usize; 9] = [
    1 << 20,
    1 << 31,
    1 << 32,
    (1 << 32) + 1,
    1 << 40,
    (1 << 40) + 3,
    1 << 62,
    1 << 63,
    usize::MAX,
];

fn dim() -> impl Strategy<Value = usize> {
    prop_oneof![
        6 => 0usize..=4,
        2 => Just(1usize),
        2 => 5usize..=9,
        1 => prop::sample::select(HUGE.to_vec()),
    ]
}

/// A count, size or window parameter of a layer: mostly small, sometimes 0 or huge.
fn number() -> impl Strategy<Value = usize> {
    prop_oneof![
        8 => 1usize..=4,
        2 => Just(0usize),
        1 => prop::sample::select(HUGE.to_vec()),
    ]
}

fn axis() -> impl Strategy<Value = isize> {
    prop_oneof![
        10 => -7isize..=7,
        1 => prop::sample::select(vec![isize::MIN, isize::MAX, -(1 << 40), 1 << 40]),
    ]
}

fn shape() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(dim(), 0..=6)
}

fn dtype() -> impl Strategy<Value = DType> {
    prop_oneof![
        6 => Just(DType::F32),
        1 => Just(DType::I32),
        1 => Just(DType::BF16),
        1 => prop::sample::select(DType::ALL.to_vec()),
    ]
}

fn pad_width() -> impl Strategy<Value = i64> {
    prop_oneof![
        8 => -2i64..=3,
        1 => prop::sample::select(vec![i64::MIN, i64::MAX, 1 << 40, -(1 << 40)]),
    ]
}

fn conv_padding() -> impl Strategy<Value = nn::Padding> {
    prop_oneof![
        Just(nn::Padding::Same),
        Just(nn::Padding::Valid),
        Just(nn::Padding::Circular),
        prop::collection::vec((pad_width(), pad_width()), 0..=4).prop_map(nn::Padding::Explicit),
    ]
}

fn pool_padding() -> impl Strategy<Value = PoolPadding> {
    prop_oneof![
        Just(PoolPadding::Same),
        Just(PoolPadding::Valid),
        prop::collection::vec((pad_width(), pad_width()), 0..=4).prop_map(PoolPadding::Explicit),
    ]
}

fn rate() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => 0.0f64..1.0,
        1 => prop::sample::select(vec![0.0, 1.0, -0.5, 1.5, f64::NAN, f64::INFINITY]),
    ]
}

fn numbers(max: usize) -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(number(), 0..=max)
}

fn axes() -> impl Strategy<Value = Vec<isize>> {
    prop::collection::vec(axis(), 0..=4)
}

fn widths() -> impl Strategy<Value = Vec<(usize, usize)>> {
    prop::collection::vec((number(), number()), 0..=6)
}

/// One operation and its parameters.
#[derive(Clone, Debug)]
enum Op {
    Binary(u8),
    Scalar(u8, f64),
    IntScalar(u8, i32),
    Unary(u8),
    Powi(i32),
    Select,
    Astype(DType),
    Matmul,
    Reshape(Vec<isize>),
    Transpose(Vec<usize>),
    Swapaxes(isize, isize),
    ExpandDims(isize),
    Squeeze(isize),
    BroadcastTo,
    Slice(isize, usize, usize),
    Split(usize, isize),
    Flip(isize),
    Pad(Vec<(usize, usize)>),
    PadWrap(Vec<(usize, usize)>),
    Argmax(isize),
    AnyAll(bool, Vec<isize>),
    Concatenate(isize),
    Reduce(u8, Vec<isize>, bool),
    Dim(isize),
    Constant(u8),
    Arange(usize),
    Activation(u8, isize),
    Pool(u8, Vec<usize>, Option<Vec<usize>>, PoolPadding, bool),
    Dense(usize, bool),
    DenseGeneral(Vec<usize>, Vec<isize>, Vec<isize>),
    Einsum(Vec<usize>, String),
    Embed(usize, usize, bool),
    Conv(ConvConfig),
    ConvTranspose(ConvConfig, bool),
    LayerNorm(bool, bool),
    RmsNorm,
    GroupNorm(Option<usize>, usize),
    BatchNorm(Merge),
    Dropout(f64, Merge, Vec<isize>),
    Attention(AttentionConfig),
    AttentionFn(bool, Option<f64>),
    Mask(bool),
    Cell(u8, usize),
    Rnn(u8, usize),
    Sequential(usize, usize),
    /// `Dense(features)` inside one or two lifted wrappers, outermost first: 0 `remat`,
    /// 1 `vmap`, 2 `SpectralNorm` (outermost only: it is no `Layer`), 3 `WeightNorm`; an
    /// inner 3 is a module (`Sequential`) calling `remat(Dense)`, so that a checkpoint's
    /// body can be a checkpoint.
    Wrapped(u8, Option<u8>, usize),
    Random(u8, f64),
    Param(bool),
}

#[derive(Clone, Debug)]
struct ConvConfig {
    features: usize,
    kernel: Vec<usize>,
    strides: Vec<usize>,
    padding: nn::Padding,
    input_dilation: Vec<usize>,
    kernel_dilation: Vec<usize>,
    groups: usize,
    use_bias: bool,
}

#[derive(Clone, Debug)]
struct AttentionConfig {
    heads: usize,
    qkv: Option<usize>,
    out: Option<usize>,
    rate: f64,
    deterministic: Merge,
    self_attention: bool,
}

/// A `merge_param` flag (`deterministic`, `use_running_average`): given at construction,
/// at the call, both (an error) or neither (an error where Flax needs it).
type Merge = (Option<bool>, Option<bool>);

fn merge() -> impl Strategy<Value = Merge> {
    (
        prop::option::of(any::<bool>()),
        prop::option::of(any::<bool>()),
    )
}

fn conv_config() -> impl Strategy<Value = ConvConfig> {
    (
        number(),
        numbers(3),
        numbers(3),
        conv_padding(),
        numbers(3),
        numbers(3),
        number(),
        any::<bool>(),
    )
        .prop_map(
            |(
                features,
                kernel,
                strides,
                padding,
                input_dilation,
                kernel_dilation,
                groups,
                use_bias,
            )| {
                ConvConfig {
                    features,
                    kernel,
                    strides,
                    padding,
                    input_dilation,
                    kernel_dilation,
                    groups,
                    use_bias,
                }
            },
        )
}

fn attention_config() -> impl Strategy<Value = AttentionConfig> {
    (
        number(),
        prop::option::of(number()),
        prop::option::of(number()),
        rate(),
        merge(),
        any::<bool>(),
    )
        .prop_map(
            |(heads, qkv, out, rate, deterministic, self_attention)| AttentionConfig {
                heads,
                qkv,
                out,
                rate,
                deterministic,
                self_attention,
            },
        )
}

fn einsum_string() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "...ij,jk->...ik",
        "ab,bc->ac",
        "abc,cd->abd",
        "...x,xy->...y",
        "ij,jk",
        "i,i->",
        "ab,bc->ca",
        "a,b->ab",
        "...,->...",
        "aa,ab->ab",
        "junk",
    ])
    .prop_map(str::to_string)
}

fn tensor_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u8..12).prop_map(Op::Binary),
        (0u8..7, prop::sample::select(vec![0.0, 1.0, -2.5, 1e30])).prop_map(|(o, v)| Op::Scalar(o, v)),
        (0u8..7, prop::sample::select(vec![0, 2, -3, i32::MAX])).prop_map(|(o, v)| Op::IntScalar(o, v)),
        (0u8..17).prop_map(Op::Unary),
        prop::sample::select(vec![0, 1, 2, 3, -1, -2, 7, i32::MAX, i32::MIN]).prop_map(Op::Powi),
        Just(Op::Select),
        prop::sample::select(DType::ALL.to_vec()).prop_map(Op::Astype),
        Just(Op::Matmul),
        prop::collection::vec(
            prop_oneof![4 => -1isize..=6, 1 => prop::sample::select(vec![-2, isize::MAX, 1 << 32, 1 << 40])],
            0..=6
        )
        .prop_map(Op::Reshape),
        prop::collection::vec(0usize..=7, 0..=7).prop_map(Op::Transpose),
        (axis(), axis()).prop_map(|(a, b)| Op::Swapaxes(a, b)),
        axis().prop_map(Op::ExpandDims),
        axis().prop_map(Op::Squeeze),
        Just(Op::BroadcastTo),
        (axis(), number(), number()).prop_map(|(a, s, e)| Op::Slice(a, s, e)),
        (number(), axis()).prop_map(|(n, a)| Op::Split(n, a)),
        axis().prop_map(Op::Flip),
        widths().prop_map(Op::Pad),
        widths().prop_map(Op::PadWrap),
        axis().prop_map(Op::Argmax),
        (any::<bool>(), axes()).prop_map(|(b, a)| Op::AnyAll(b, a)),
        axis().prop_map(Op::Concatenate),
        (0u8..4, axes(), any::<bool>()).prop_map(|(o, a, k)| Op::Reduce(o, a, k)),
        axis().prop_map(Op::Dim),
        (0u8..3).prop_map(Op::Constant),
        dim().prop_map(Op::Arange),
    ]
}

fn nn_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u8..12, axis()).prop_map(|(o, a)| Op::Activation(o, a)),
        (
            0u8..3,
            numbers(3),
            prop::option::of(numbers(3)),
            pool_padding(),
            any::<bool>()
        )
            .prop_map(|(o, w, s, p, c)| Op::Pool(o, w, s, p, c)),
        (number(), any::<bool>()).prop_map(|(f, b)| Op::Dense(f, b)),
        (numbers(3), axes(), axes()).prop_map(|(f, a, b)| Op::DenseGeneral(f, a, b)),
        (numbers(3), einsum_string()).prop_map(|(s, e)| Op::Einsum(s, e)),
        (number(), number(), any::<bool>()).prop_map(|(n, f, a)| Op::Embed(n, f, a)),
        conv_config().prop_map(Op::Conv),
        (conv_config(), any::<bool>()).prop_map(|(c, t)| Op::ConvTranspose(c, t)),
        (any::<bool>(), any::<bool>()).prop_map(|(b, s)| Op::LayerNorm(b, s)),
        Just(Op::RmsNorm),
        (prop::option::of(number()), number()).prop_map(|(g, s)| Op::GroupNorm(g, s)),
        merge().prop_map(Op::BatchNorm),
        (rate(), merge(), axes()).prop_map(|(r, d, b)| Op::Dropout(r, d, b)),
        attention_config().prop_map(Op::Attention),
        (any::<bool>(), prop::option::of(rate())).prop_map(|(w, r)| Op::AttentionFn(w, r)),
        any::<bool>().prop_map(Op::Mask),
        (0u8..3, number()).prop_map(|(c, f)| Op::Cell(c, f)),
        (0u8..3, number()).prop_map(|(c, f)| Op::Rnn(c, f)),
        (number(), number()).prop_map(|(a, b)| Op::Sequential(a, b)),
        (0u8..4, prop::option::of(0u8..4), number()).prop_map(|(o, i, f)| Op::Wrapped(o, i, f)),
        (0u8..4, rate()).prop_map(|(o, p)| Op::Random(o, p)),
        any::<bool>().prop_map(Op::Param),
    ]
}

/// One fuzz case: two operands and an operation.
#[derive(Clone, Debug)]
struct Case {
    x: (DType, Vec<usize>),
    y: (DType, Vec<usize>),
    op: Op,
}

/// The second operand: often related to the first (same shape, a suffix, ones), so
/// that ops get past their first check.
fn case(op: impl Strategy<Value = Op>) -> impl Strategy<Value = Case> {
    (dtype(), shape(), dtype(), shape(), 0u8..4, op).prop_map(|(dx, sx, dy, sy, relate, op)| {
        let sy = match relate {
            0 => sx.clone(),
            1 => sx[sx.len() / 2..].to_vec(),
            2 => sx.iter().map(|&d| if d % 2 == 0 { 1 } else { d }).collect(),
            _ => sy,
        };
        Case {
            x: (dx, sx),
            y: (dy, sy),
            op,
        }
    })
}

// ------------------------------------------------------------------ applying a case

/// `layer` inside the lifted wrapper `kind` (see [`Op::Wrapped`]), applied to `x`.
fn wrapped<L: nn::Layer + Tabulate>(kind: u8, layer: L, x: &Tensor) -> Result<Tensor> {
    match kind {
        0 => nn::remat(layer).forward(x),
        1 => nn::vmap(layer).forward(x),
        2 => SpectralNorm::new(layer).forward(x, true),
        _ => WeightNorm::new(layer).forward(x),
    }
}

fn apply(case: &Case, x: &Tensor, y: &Tensor) -> Result<Tensor> {
    let isz = |d: usize| isize::try_from(d).unwrap_or(isize::MAX);
    match &case.op {
        Op::Binary(o) => match o {
            0 => x.add(y),
            1 => x.sub(y),
            2 => x.mul(y),
            3 => x.div(y),
            4 => x.maximum(y),
            5 => x.minimum(y),
            6 => x.pow(y),
            7 => x.rem(y),
            8 => x.equal(y)?.logical_and(&x.less(y)?),
            9 => x.not_equal(y)?.logical_or(&x.greater_equal(y)?),
            10 => x.less_equal(y)?.logical_and(&x.greater(y)?),
            _ => x.logical_or(y),
        },
        Op::Scalar(o, v) => match o {
            0 => x + *v,
            1 => x - *v,
            2 => x * *v,
            3 => x / *v,
            4 => x.pow(*v),
            5 => x.rem(*v),
            _ => x.maximum(*v),
        },
        Op::IntScalar(o, v) => match o {
            0 => x + *v,
            1 => x - *v,
            2 => x * *v,
            3 => x / *v,
            4 => x.minimum(*v),
            5 => x.rem(*v),
            _ => x.equal(*v),
        },
        Op::Unary(o) => match o {
            0 => x.neg(),
            1 => x.abs(),
            2 => x.square(),
            3 => x.exp(),
            4 => x.log(),
            5 => x.tanh(),
            6 => x.sqrt(),
            7 => x.rsqrt(),
            8 => x.sigmoid(),
            9 => x.floor(),
            10 => x.ceil(),
            11 => x.round(),
            12 => x.log1p(),
            13 => x.expm1(),
            14 => x.erf(),
            15 => x.stop_gradient(),
            _ => -x,
        },
        Op::Powi(n) => x.powi(*n),
        Op::Select => x.select(y, x),
        Op::Astype(d) => x.astype(*d),
        Op::Matmul => x.matmul(y),
        Op::Reshape(dims) => x.reshape(dims.clone()),
        Op::Transpose(perm) => x.transpose(perm),
        Op::Swapaxes(a, b) => x.swapaxes(*a, *b),
        Op::ExpandDims(a) => x.expand_dims(*a),
        Op::Squeeze(a) => x.squeeze(*a),
        Op::BroadcastTo => x.broadcast_to(y.shape().clone()),
        Op::Slice(a, s, e) => x.slice(*a, *s, *e),
        Op::Split(n, a) => x
            .split(*n, *a)
            .map(|parts| parts.last().cloned().unwrap_or_else(|| x.clone())),
        Op::Flip(a) => x.flip(*a),
        Op::Pad(w) => x.pad(w, 0.5),
        Op::PadWrap(w) => x.pad_wrap(w),
        Op::Argmax(a) => x.argmax(*a),
        Op::AnyAll(b, a) => {
            if *b {
                x.any(a)
            } else {
                x.all(a)
            }
        }
        Op::Concatenate(a) => Tensor::concatenate(&[x, y, x], *a),
        Op::Reduce(o, a, k) => match o {
            0 => x.sum(a, *k),
            1 => x.max(a, *k),
            2 => x.min(a, *k),
            _ => x.mean(a, *k),
        },
        Op::Dim(a) => {
            let d = x.dim(*a)?;
            let _ = x.elements();
            x.reshape(vec![-1]).and_then(|f| f.slice(0, 0, d.min(1)))
        }
        Op::Constant(o) => {
            let c = match o {
                0 => Tensor::zeros(x.dtype(), x.shape().clone())?,
                1 => Tensor::ones(x.dtype(), x.shape().clone())?,
                _ => Tensor::full(2.5, x.dtype(), x.shape().clone())?,
            };
            c.add(x)
        }
        Op::Arange(n) => Tensor::arange(*n, x.dtype())?.add(1),
        Op::Activation(o, a) => match o {
            0 => nn::relu(x),
            1 => nn::gelu(x),
            2 => nn::gelu_with(x, false),
            3 => nn::sigmoid(x),
            4 => nn::tanh(x),
            5 => nn::silu(x),
            6 => nn::swish(x),
            7 if *a == -1 => nn::softmax(x),
            7 => nn::softmax_with(x, *a),
            8 if *a == -1 => nn::log_softmax(x),
            8 => nn::log_softmax_with(x, *a),
            9 => nn::elu(x).and_then(|h| nn::leaky_relu(&h)),
            10 => nn::elu_with(x, 0.5).and_then(|h| nn::leaky_relu_with(&h, 0.2)),
            _ => nn::softplus(x),
        },
        Op::Pool(o, w, s, p, c) => match o {
            0 => nn::avg_pool(x, w, s.as_deref(), p, *c),
            1 => nn::max_pool(x, w, s.as_deref(), p),
            _ => nn::min_pool(x, w, s.as_deref(), p),
        },
        Op::Dense(f, b) => Dense::new(*f).use_bias(*b).forward(x),
        Op::DenseGeneral(f, a, b) => {
            let mut layer = DenseGeneral::new(f.clone());
            if !a.is_empty() {
                layer = layer.axis(a.clone());
            }
            if !b.is_empty() {
                layer = layer.batch_dims(b.clone());
            }
            layer.forward(x)
        }
        Op::Einsum(s, e) => Einsum::new(s.clone(), e.clone()).forward(x),
        Op::Embed(n, f, attend) => {
            let embed = Embed::new(*n, *f);
            if *attend {
                embed.attend(x)
            } else {
                embed.forward(x)
            }
        }
        Op::Conv(c) => Conv::new(c.features, c.kernel.clone())
            .strides(c.strides.clone())
            .padding(c.padding.clone())
            .input_dilation(c.input_dilation.clone())
            .kernel_dilation(c.kernel_dilation.clone())
            .feature_group_count(c.groups)
            .use_bias(c.use_bias)
            .forward(x),
        Op::ConvTranspose(c, t) => ConvTranspose::new(c.features, c.kernel.clone())
            .strides(c.strides.clone())
            .padding(c.padding.clone())
            .kernel_dilation(c.kernel_dilation.clone())
            .transpose_kernel(*t)
            .use_bias(c.use_bias)
            .forward(x),
        Op::LayerNorm(b, s) => LayerNorm::new().use_bias(*b).use_scale(*s).forward(x),
        Op::RmsNorm => RMSNorm::new().forward(x),
        Op::GroupNorm(g, s) => match g {
            Some(g) => GroupNorm::new(*g).forward(x),
            None => GroupNorm::with_group_size(*s).forward(x),
        },
        Op::BatchNorm((built, called)) => BatchNorm::new(*built).forward_with(x, *called),
        Op::Dropout(r, (built, called), b) => {
            let mut layer = Dropout::new(*r).broadcast_dims(b.clone());
            if let Some(d) = built {
                layer = layer.deterministic(*d);
            }
            layer.forward(x, *called)
        }
        Op::Attention(a) => {
            if a.self_attention {
                let mut layer = SelfAttention::new(a.heads).dropout_rate(a.rate);
                if let Some(q) = a.qkv {
                    layer = layer.qkv_features(q);
                }
                if let Some(d) = a.deterministic.0 {
                    layer = layer.deterministic(d);
                }
                layer.forward(x, a.deterministic.1)
            } else {
                let mut layer = MultiHeadDotProductAttention::new(a.heads).dropout_rate(a.rate);
                if let Some(q) = a.qkv {
                    layer = layer.qkv_features(q);
                }
                if let Some(o) = a.out {
                    layer = layer.out_features(o);
                }
                if let Some(d) = a.deterministic.0 {
                    layer = layer.deterministic(d);
                }
                let mut call = AttentionCall::new(x).key(y).value(y);
                if let Some(d) = a.deterministic.1 {
                    call = call.deterministic(d);
                }
                layer.forward_with(&call)
            }
        }
        Op::AttentionFn(weights, rate) => {
            let options = AttentionOptions {
                dropout: rate.map(|rate| AttentionDropout {
                    rate,
                    broadcast: true,
                }),
                ..AttentionOptions::default()
            };
            if *weights {
                nn::dot_product_attention_weights(x, y, &options)
            } else {
                nn::dot_product_attention(x, y, y, &options)
            }
        }
        Op::Mask(causal) => {
            if *causal {
                nn::make_causal_mask(x)
            } else {
                nn::make_attention_mask(x, y)
            }
        }
        Op::Cell(c, f) => match c {
            0 => {
                let carry = (y.clone(), y.clone());
                LSTMCell::new(*f).forward(&carry, x).map(|(_, h)| h)
            }
            1 => GRUCell::new(*f).forward(y, x).map(|(_, h)| h),
            _ => SimpleCell::new(*f).forward(y, x).map(|(_, h)| h),
        },
        Op::Rnn(c, f) => match c {
            0 => RNN::new(LSTMCell::new(*f)).forward(x),
            1 => RNN::new(GRUCell::new(*f)).forward(x),
            _ => RNN::new(SimpleCell::new(*f)).forward(x),
        },
        Op::Sequential(a, b) => Sequential::new()
            .then(Dense::new(*a))
            .then(nn::relu)
            .then(Dense::new(*b))
            .forward(x),
        Op::Wrapped(outer, inner, f) => {
            let dense = Dense::new(*f);
            match inner {
                None => wrapped(*outer, dense, x),
                Some(0) => wrapped(*outer, nn::remat(dense), x),
                Some(1) => wrapped(*outer, nn::vmap(dense), x),
                Some(2) => wrapped(*outer, WeightNorm::new(dense), x),
                Some(_) => wrapped(*outer, Sequential::new().then(nn::remat(dense)), x),
            }
        }
        Op::Random(o, p) => {
            let key = tabulate::random::make_rng("dropout")?;
            let dims = x.shape().dims();
            match o {
                0 => tabulate::random::bits(&key, dims),
                1 => tabulate::random::uniform(&key, dims),
                2 => tabulate::random::bernoulli(&key, *p, dims),
                _ => {
                    let k = tabulate::random::make_rng("params")?;
                    tabulate::random::uniform(&k, &[isz(dims.len()).unsigned_abs()])
                }
            }
        }
        Op::Param(declare_twice) => {
            let w = tabulate::param("w", x.dtype(), x.shape().clone())?;
            if *declare_twice {
                tabulate::param("w", y.dtype(), y.shape().clone())?;
            }
            let mut v = tabulate::variable("batch_stats", "v", y.dtype(), y.shape().clone())?;
            v.set(y.clone())?;
            x.add(&w)
        }
    }
}

/// A module that applies one case, for the summary run.
#[derive(Tabulate)]
struct Harness {
    #[tabulate(skip)]
    case: Case,
}

impl Harness {
    #[forward]
    fn forward(&self, x: &Tensor, y: &Tensor) -> Result<Tensor> {
        apply(&self.case, x, y)
    }
}

// ------------------------------------------------------------------ reference rules

/// What a case must give, by a rule written independently of the crate.
enum Expect {
    /// Succeeds with this shape.
    Shape(Vec<usize>),
    /// Has this shape if it succeeds (dtype rules may reject it).
    IfOk(Vec<usize>),
    Fails,
}

const SMALL: usize = 16;

fn small(dims: &[usize]) -> bool {
    dims.iter().all(|&d| d <= SMALL)
}

fn numpy_broadcast(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    let rank = a.len().max(b.len());
    let at = |s: &[usize], i: usize| if i < s.len() { s[s.len() - 1 - i] } else { 1 };
    let mut out = vec![0; rank];
    for i in 0..rank {
        let (x, y) = (at(a, i), at(b, i));
        out[rank - 1 - i] = match (x, y) {
            _ if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => return None,
        };
    }
    Some(out)
}

fn norm_axis(axis: isize, rank: usize) -> Option<usize> {
    let r = isize::try_from(rank).ok()?;
    let a = if axis < 0 { axis.checked_add(r)? } else { axis };
    (0..r).contains(&a).then_some(a.unsigned_abs())
}

fn norm_axes(axes: &[isize], rank: usize) -> Option<Vec<usize>> {
    let mut out: Vec<usize> = axes
        .iter()
        .map(|&a| norm_axis(a, rank))
        .collect::<Option<_>>()?;
    out.sort_unstable();
    let len = out.len();
    out.dedup();
    (out.len() == len).then_some(out)
}

/// Output size of a window of `window` (dilated) over `padded` elements with `stride`.
fn window_out(padded: i128, window: i128, stride: i128) -> i128 {
    if padded < window {
        return 0;
    }
    (padded - window) / stride + 1
}

fn per_dim(values: &[usize], rank: usize) -> Option<Vec<usize>> {
    match values.len() {
        0 => Some(vec![1; rank]),
        1 => Some(vec![values[0]; rank]),
        n if n == rank => Some(values.to_vec()),
        _ => None,
    }
}

#[allow(clippy::too_many_lines)]
fn expected(case: &Case) -> Option<Expect> {
    let (xs, ys) = (&case.x.1, &case.y.1);
    if !small(xs) || !small(ys) {
        return None;
    }
    let rank = xs.len();
    let shape_or_fail = |s: Option<Vec<usize>>| Some(s.map_or(Expect::Fails, Expect::Shape));
    match &case.op {
        Op::Binary(_) => Some(numpy_broadcast(xs, ys).map_or(Expect::Fails, Expect::IfOk)),
        Op::Scalar(..) | Op::IntScalar(..) | Op::Unary(_) | Op::Astype(_) | Op::Powi(_) => {
            Some(Expect::IfOk(xs.clone()))
        }
        Op::Flip(a) => shape_or_fail(norm_axis(*a, rank).map(|_| xs.clone())),
        Op::Reshape(dims) => {
            let total: usize = xs.iter().product();
            let inferred = dims.iter().filter(|&&d| d == -1).count();
            if dims.iter().any(|&d| d < -1) || inferred > 1 {
                return Some(Expect::Fails);
            }
            let known = product(dims.iter().filter(|&&d| d != -1).map(|d| d.unsigned_abs()));
            let Some(known) = known else {
                return Some(Expect::Fails);
            };
            if inferred == 1 {
                if known == 0 || !total.is_multiple_of(known) {
                    return Some(Expect::Fails);
                }
                let out = dims
                    .iter()
                    .map(|&d| {
                        if d == -1 {
                            total / known
                        } else {
                            d.unsigned_abs()
                        }
                    })
                    .collect();
                Some(Expect::Shape(out))
            } else if known == total {
                Some(Expect::Shape(
                    dims.iter().map(|&d| d.unsigned_abs()).collect(),
                ))
            } else {
                Some(Expect::Fails)
            }
        }
        Op::Transpose(perm) => {
            let mut sorted = perm.clone();
            sorted.sort_unstable();
            if sorted != (0..rank).collect::<Vec<_>>() {
                return Some(Expect::Fails);
            }
            Some(Expect::Shape(perm.iter().map(|&p| xs[p]).collect()))
        }
        Op::Swapaxes(a, b) => {
            let (Some(a), Some(b)) = (norm_axis(*a, rank), norm_axis(*b, rank)) else {
                return Some(Expect::Fails);
            };
            let mut out = xs.clone();
            out.swap(a, b);
            Some(Expect::Shape(out))
        }
        Op::ExpandDims(a) => {
            let Some(a) = norm_axis(*a, rank + 1) else {
                return Some(Expect::Fails);
            };
            let mut out = xs.clone();
            out.insert(a, 1);
            Some(Expect::Shape(out))
        }
        Op::Squeeze(a) => match norm_axis(*a, rank) {
            Some(a) if xs[a] == 1 => {
                let mut out = xs.clone();
                out.remove(a);
                Some(Expect::Shape(out))
            }
            _ => Some(Expect::Fails),
        },
        Op::BroadcastTo => {
            let ok = ys.len() >= rank && numpy_broadcast(xs, ys).as_ref() == Some(ys);
            shape_or_fail(ok.then(|| ys.clone()))
        }
        Op::Slice(a, s, e) => match norm_axis(*a, rank) {
            Some(a) if s <= e && *e <= xs[a] => {
                let mut out = xs.clone();
                out[a] = e - s;
                Some(Expect::Shape(out))
            }
            _ => Some(Expect::Fails),
        },
        Op::Split(n, a) => match norm_axis(*a, rank) {
            // At most 65,536 parts are made (more is refused before allocating).
            Some(a) if *n > 0 && *n <= 1 << 16 && xs[a] % n == 0 => {
                let mut out = xs.clone();
                out[a] = xs[a] / n;
                Some(Expect::Shape(out))
            }
            _ => Some(Expect::Fails),
        },
        Op::Pad(w) => {
            if w.len() != rank {
                return Some(Expect::Fails);
            }
            if w.iter().any(|&(l, h)| l > SMALL || h > SMALL) {
                return None;
            }
            Some(Expect::Shape(
                xs.iter().zip(w).map(|(&d, &(l, h))| d + l + h).collect(),
            ))
        }
        Op::PadWrap(w) => {
            if w.len() != rank {
                return Some(Expect::Fails);
            }
            if w.iter().any(|&(l, h)| l > SMALL || h > SMALL) {
                return None;
            }
            if xs.iter().zip(w).any(|(&d, &(l, h))| d == 0 && l + h > 0) {
                return Some(Expect::Fails);
            }
            Some(Expect::Shape(
                xs.iter().zip(w).map(|(&d, &(l, h))| d + l + h).collect(),
            ))
        }
        Op::Argmax(a) => match norm_axis(*a, rank) {
            Some(a) => {
                let mut out = xs.clone();
                out.remove(a);
                Some(Expect::Shape(out))
            }
            None => Some(Expect::Fails),
        },
        Op::AnyAll(_, axes) | Op::Reduce(_, axes, false) => {
            let axes = if axes.is_empty() {
                (0..rank).collect()
            } else {
                match norm_axes(axes, rank) {
                    Some(a) => a,
                    None => return Some(Expect::Fails),
                }
            };
            Some(Expect::Shape(
                (0..rank)
                    .filter(|d| !axes.contains(d))
                    .map(|d| xs[d])
                    .collect(),
            ))
        }
        Op::Reduce(_, axes, true) => {
            let axes = if axes.is_empty() {
                (0..rank).collect()
            } else {
                match norm_axes(axes, rank) {
                    Some(a) => a,
                    None => return Some(Expect::Fails),
                }
            };
            Some(Expect::Shape(
                (0..rank)
                    .map(|d| if axes.contains(&d) { 1 } else { xs[d] })
                    .collect(),
            ))
        }
        Op::Concatenate(a) => {
            let Some(a) = norm_axis(*a, rank) else {
                return Some(Expect::Fails);
            };
            if ys.len() != rank || (0..rank).any(|d| d != a && xs[d] != ys[d]) {
                return Some(Expect::Fails);
            }
            let mut out = xs.clone();
            out[a] = 2 * xs[a] + ys[a];
            Some(Expect::Shape(out))
        }
        Op::Matmul => {
            if rank == 0 || ys.is_empty() {
                return Some(Expect::Fails);
            }
            let (a, b) = (xs, ys);
            let (ka, kb) = (
                a[a.len() - 1],
                if b.len() == 1 { b[0] } else { b[b.len() - 2] },
            );
            if ka != kb {
                return Some(Expect::Fails);
            }
            match (a.len(), b.len()) {
                (1, 1) => Some(Expect::Shape(vec![])),
                (1, _) => {
                    let mut out = b[..b.len() - 2].to_vec();
                    out.push(b[b.len() - 1]);
                    Some(Expect::Shape(out))
                }
                (_, 1) => Some(Expect::Shape(a[..a.len() - 1].to_vec())),
                _ => {
                    let batch = numpy_broadcast(&a[..a.len() - 2], &b[..b.len() - 2]);
                    shape_or_fail(batch.map(|mut out| {
                        out.push(a[a.len() - 2]);
                        out.push(b[b.len() - 1]);
                        out
                    }))
                }
            }
        }
        Op::Dense(f, _) if *f <= SMALL => {
            if rank == 0 {
                return Some(Expect::Fails);
            }
            let mut out = xs.clone();
            out[rank - 1] = *f;
            Some(Expect::Shape(out))
        }
        // JAX's `sub` refuses booleans (`x - max(x)`).
        Op::Activation(7 | 8, _) if case.x.0 == DType::Bool => Some(Expect::Fails),
        Op::Activation(o, a) if *o == 7 || *o == 8 => {
            shape_or_fail(norm_axis(*a, rank).map(|_| xs.clone()))
        }
        Op::Activation(..) => Some(Expect::Shape(xs.clone())),
        Op::Conv(c) => conv_expected(c, xs),
        Op::Pool(_, w, s, p, _) => pool_expected(w, s.as_deref(), p, xs),
        // (One entry and a scalar index: Flax's `where` broadcasts to [1, features].)
        Op::Embed(n, f, false)
            if (1..=SMALL).contains(n) && *f <= SMALL && x_is_int(case) && (rank > 0 || *n > 1) =>
        {
            let mut out = xs.clone();
            out.push(*f);
            Some(Expect::Shape(out))
        }
        Op::LayerNorm(..) | Op::RmsNorm if rank > 0 => Some(Expect::Shape(xs.clone())),
        _ => None,
    }
}

fn x_is_int(case: &Case) -> bool {
    case.x.0.is_integer()
}

/// `flax.linen.Conv`'s output shape on channels-last input (`lax.conv_general_dilated`).
fn conv_expected(c: &ConvConfig, xs: &[usize]) -> Option<Expect> {
    let spatial = c.kernel.len();
    if c.features > SMALL
        || c.groups > SMALL
        || [&c.kernel, &c.strides, &c.input_dilation, &c.kernel_dilation]
            .iter()
            .any(|v| !small(v))
    {
        return None;
    }
    if let nn::Padding::Explicit(p) = &c.padding {
        if p.iter()
            .any(|&(l, h)| l.unsigned_abs() > 16 || h.unsigned_abs() > 16)
        {
            return None;
        }
    }
    let fails = Some(Expect::Fails);
    if spatial == 0 || xs.len() < spatial + 1 {
        return fails;
    }
    let (Some(strides), Some(ld), Some(kd)) = (
        per_dim(&c.strides, spatial),
        per_dim(&c.input_dilation, spatial),
        per_dim(&c.kernel_dilation, spatial),
    ) else {
        return fails;
    };
    if ld.iter().any(|&d| d != 1) && matches!(c.padding, nn::Padding::Same) {
        return Some(Expect::Fails); // as in JAX: string padding with input dilation
    }
    let zero = |v: &[usize]| v.contains(&0);
    if zero(&c.kernel) || zero(&strides) || zero(&ld) || zero(&kd) || c.groups == 0 {
        return fails;
    }
    let inf = xs[xs.len() - 1];
    if c.features == 0 || !inf.is_multiple_of(c.groups) || !c.features.is_multiple_of(c.groups) {
        return None; // the exact error is checked by the regression tests
    }
    let batch = &xs[..xs.len() - 1 - spatial];
    let mut out = batch.to_vec();
    for i in 0..spatial {
        let n = i128::try_from(xs[xs.len() - 1 - spatial + i]).ok()?;
        let dilated_in = if n == 0 {
            0
        } else {
            (n - 1) * ld[i] as i128 + 1
        };
        let window = (c.kernel[i] as i128 - 1) * kd[i] as i128 + 1;
        let s = strides[i] as i128;
        let (lo, hi) = match &c.padding {
            nn::Padding::Valid => (0, 0),
            nn::Padding::Same | nn::Padding::Circular => {
                let out = (dilated_in + s - 1) / s;
                let total = ((out - 1) * s + window - dilated_in).max(0);
                (total / 2, total - total / 2)
            }
            // As Flax's `canonicalize_padding`: one pair per spatial dimension, or an error.
            nn::Padding::Explicit(p) if p.len() != spatial => return Some(Expect::Fails),
            nn::Padding::Explicit(p) => (i128::from(p[i].0), i128::from(p[i].1)),
        };
        if matches!(c.padding, nn::Padding::Circular) {
            return None;
        }
        let padded = dilated_in + lo + hi;
        if padded < 0 {
            return None;
        }
        out.push(usize::try_from(window_out(padded, window, s)).ok()?);
    }
    out.push(c.features);
    Some(Expect::Shape(out))
}

fn pool_expected(
    w: &[usize],
    s: Option<&[usize]>,
    p: &PoolPadding,
    xs: &[usize],
) -> Option<Expect> {
    let spatial = w.len();
    if !small(w) || s.is_some_and(|s| !small(s)) {
        return None;
    }
    if let PoolPadding::Explicit(p) = p {
        if p.iter()
            .any(|&(l, h)| l.unsigned_abs() > 16 || h.unsigned_abs() > 16)
        {
            return None;
        }
    }
    let strides = s.map_or_else(|| vec![1; spatial], <[usize]>::to_vec);
    if xs.len() < spatial + 1 || strides.len() != spatial || w.contains(&0) || strides.contains(&0)
    {
        return Some(Expect::Fails);
    }
    if matches!(p, PoolPadding::Explicit(q) if q.len() != spatial) {
        return Some(Expect::Fails);
    }
    let lead = xs.len() - 1 - spatial;
    let mut out = xs[..lead].to_vec();
    for i in 0..spatial {
        let n = xs[lead + i] as i128;
        let (win, st) = (w[i] as i128, strides[i] as i128);
        let (lo, hi) = match p {
            PoolPadding::Valid => (0, 0),
            PoolPadding::Same => {
                let o = (n + st - 1) / st;
                let total = ((o - 1) * st + win - n).max(0);
                (total / 2, total - total / 2)
            }
            PoolPadding::Explicit(q) => {
                if q.len() != spatial {
                    return None;
                }
                (i128::from(q[i].0), i128::from(q[i].1))
            }
        };
        let padded = n + lo + hi;
        if padded < 0 {
            return None;
        }
        out.push(usize::try_from(window_out(padded, win, st)).ok()?);
    }
    out.push(xs[xs.len() - 1]);
    Some(Expect::Shape(out))
}

// ------------------------------------------------------------------ the property

fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".to_string())
}

/// The exact total size of the declared variables, counted in `u128`.
/// The product of `dims`, `None` when it overflows; 0 when any is 0, however large the
/// others (as JAX, whose shapes are Python integers: `[2^63 − 1, 2^63 − 1, 0]` is an
/// empty array).
fn product(dims: impl Iterator<Item = usize> + Clone) -> Option<usize> {
    if dims.clone().any(|d| d == 0) {
        return Some(0);
    }
    dims.into_iter().try_fold(1usize, usize::checked_mul)
}

fn exact_total(summary: &Summary) -> (u128, u128) {
    let mut count = 0u128;
    let mut bytes = 0u128;
    for row in &summary.rows {
        for vars in &row.variables {
            for leaf in &vars.own {
                // 0 when any dimension is 0 (an empty array, however large the others); a
                // product past `u128` saturates, a count the summary refuses before this.
                let n: u128 = if leaf.shape.dims().contains(&0) {
                    0
                } else {
                    leaf.shape
                        .dims()
                        .iter()
                        .map(|&d| d as u128)
                        .try_fold(1u128, u128::checked_mul)
                        .unwrap_or(u128::MAX)
                };
                count = count.saturating_add(n);
                bytes = bytes.saturating_add(n.saturating_mul(u128::from(leaf.dtype.item_size())));
            }
        }
    }
    (count, bytes)
}

/// Every row's and the model's figures are exact sums of their parts (in `u128`).
fn check_metric_sums(summary: &Summary) -> Result<(), TestCaseError> {
    for row in &summary.rows {
        let by = match row.metric(Metric::ByOperator) {
            Some(MetricValue::ByOperator(by)) => by,
            other => return Err(TestCaseError::fail(format!("by_operator: {other:?}"))),
        };
        let macs: u128 = by.values().map(|c| u128::from(c.macs)).sum();
        let macs_cell = row.metric(Metric::Macs).and_then(MetricValue::as_count);
        prop_assert_eq!(
            macs_cell.map(u128::from),
            Some(macs),
            "macs = Σ by_operator"
        );
        prop_assert!(row.metric(Metric::SelfFlops).is_some());
        let params = row
            .variables
            .first()
            .filter(|_| summary.collections.first().is_some_and(|c| c == "params"))
            .map_or(0, |v| u128::from(v.counted.count));
        let trainable = match row.metric(Metric::Trainable) {
            Some(MetricValue::Params { count, .. }) => u128::from(*count),
            other => return Err(TestCaseError::fail(format!("trainable: {other:?}"))),
        };
        prop_assert_eq!(
            trainable,
            params,
            "trainable = the row's params (nothing frozen)"
        );
        let gradients = row
            .metric(Metric::Gradients)
            .and_then(MetricValue::as_bytes);
        let state = row
            .metric(Metric::OptimizerState)
            .and_then(MetricValue::as_bytes);
        prop_assert!(gradients.is_some() && state.is_some());
        prop_assert!(
            row.metric(Metric::SavedActivations)
                .and_then(MetricValue::as_bytes)
                .is_some()
        );
    }
    let split = summary
        .trainable
        .ok_or_else(|| TestCaseError::fail("no trainable split"))?;
    let all = summary.total();
    prop_assert_eq!(
        u128::from(split.trainable.count) + u128::from(split.non_trainable.count),
        u128::from(all.count),
        "trainable + non-trainable = total"
    );
    let memory = summary
        .memory
        .as_ref()
        .ok_or_else(|| TestCaseError::fail("no memory estimate"))?;
    let parts = [
        memory.inputs,
        memory.variables,
        memory.gradients,
        memory.optimizer_state,
    ]
    .into_iter()
    .chain(memory.saved_activations.values().copied())
    .map(u128::from)
    .sum::<u128>();
    prop_assert_eq!(u128::from(memory.total), parts, "memory total = Σ parts");
    prop_assert!(summary.operators.is_some());
    Ok(())
}

fn check(case: &Case) -> Result<(), TestCaseError> {
    let started = Instant::now();
    let x = Tensor::new(case.x.0, Shape::new(case.x.1.clone()));
    let y = Tensor::new(case.y.0, Shape::new(case.y.1.clone()));

    // On its own, outside a summary (a layer is then its own root module).
    let direct = catch_unwind(AssertUnwindSafe(|| apply(case, &x, &y)))
        .map_err(|p| TestCaseError::fail(format!("panic (direct): {}", panic_text(&*p))))?;

    // Inside a summary with both FLOP columns.
    let harness = Harness { case: case.clone() };
    let summary = catch_unwind(AssertUnwindSafe(|| {
        // Every computed column and model-wide figure, so that each sum is exercised.
        let result = tabulate(&harness)
            .metrics(Metric::ALL)
            .trainable(true)
            .estimate_memory(true)
            .operators(true)
            .rngs(["dropout"])
            .run(|h| h.forward(&x, &y));
        let text = result.as_ref().ok().map(ToString::to_string);
        (result, text)
    }))
    .map_err(|p| TestCaseError::fail(format!("panic (summary): {}", panic_text(&*p))))?;

    match &summary.0 {
        Err(error) => {
            check_error(error)?;
            // An error only the cost stage raises (the same run without metric columns
            // succeeds) names the user-level operation whose derivative or count failed,
            // or is a count that does not fit.
            if direct.is_ok() {
                let plain = catch_unwind(AssertUnwindSafe(|| {
                    tabulate(&harness)
                        .metrics([])
                        .rngs(["dropout"])
                        .run(|h| h.forward(&x, &y))
                        .is_ok()
                }))
                .map_err(|p| TestCaseError::fail(format!("panic (plain): {}", panic_text(&*p))))?;
                let text = error.to_string();
                prop_assert!(
                    !plain || text.contains("::") || text.contains("does not fit in 64 bits"),
                    "a cost-stage error names no operation: {}",
                    text
                );
            }
        }
        Ok(summary) => {
            let total = summary.total();
            let (count, bytes) = exact_total(summary);
            prop_assert_eq!(u128::from(total.count), count, "total parameters");
            prop_assert_eq!(u128::from(total.bytes), bytes, "total bytes");
            let root = &summary.rows[0];
            prop_assert!(root.flops().is_some() && root.vjp_flops().is_some());
            check_metric_sums(summary)?;
        }
    }

    if let Some(expect) = expected(case) {
        match (expect, &direct) {
            (Expect::Shape(dims), Ok(t)) => {
                prop_assert_eq!(t.shape().dims(), dims.as_slice(), "shape of the result");
            }
            (Expect::Fails, Ok(t)) => {
                return Err(TestCaseError::fail(format!(
                    "the reference rule rejects this case, but it gave {t}"
                )));
            }
            (Expect::Shape(dims), Err(e)) => {
                return Err(TestCaseError::fail(format!(
                    "the reference rule gives {dims:?}, but it failed: {e}"
                )));
            }
            (Expect::IfOk(dims), Ok(t)) => {
                prop_assert_eq!(t.shape().dims(), dims.as_slice(), "shape of the result");
            }
            (Expect::Fails | Expect::IfOk(_), Err(_)) => {}
        }
    }
    let elapsed = started.elapsed();
    prop_assert!(
        elapsed < Duration::from_secs(20),
        "one case took {elapsed:?}"
    );
    Ok(())
}

/// How long one case may take before the run counts it as a hang: 10 s in a release
/// build, 60 s in a debug build (about six times slower); `TABULATE_FUZZ_DEADLINE` (in
/// seconds) overrides it.
fn deadline() -> Duration {
    let default = if cfg!(debug_assertions) { 60 } else { 10 };
    let seconds = std::env::var("TABULATE_FUZZ_DEADLINE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    Duration::from_secs(seconds)
}

/// Set once a case has hung: its thread cannot be stopped, so the cases proptest then
/// tries while shrinking pass at once and the report shows the input that hung.
static HUNG: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Runs [`check`] on a worker thread and fails the case, with its input, if it has not
/// returned within the [`deadline`]: a hang is reported, not waited for.
fn watched(case: &Case) -> Result<(), TestCaseError> {
    use std::sync::atomic::Ordering;
    if HUNG.load(Ordering::Relaxed) {
        return Ok(());
    }
    let (sender, receiver) = std::sync::mpsc::channel();
    let input = case.clone();
    std::thread::Builder::new()
        .name("fuzz case".into())
        .stack_size(8 << 20)
        .spawn(move || {
            // The receiver is gone only after a timeout, which is reported below.
            let _ = sender.send(check(&input));
        })
        .map_err(|e| TestCaseError::fail(format!("cannot start a case thread: {e}")))?;
    let limit = deadline();
    match receiver.recv_timeout(limit) {
        Ok(result) => result,
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            HUNG.store(true, Ordering::Relaxed);
            let message = format!("hang: no result after {limit:?} for {case:?}");
            eprintln!("{message}");
            Err(TestCaseError::fail(message))
        }
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => Err(TestCaseError::fail(format!(
            "the case thread ended without a result for {case:?}"
        ))),
    }
}

fn check_error(error: &Error) -> Result<(), TestCaseError> {
    let text = error.to_string();
    let Some(location) = error.location() else {
        return Err(TestCaseError::fail(format!(
            "an error inside a module call has no location: {text}"
        )));
    };
    prop_assert!(!location.module.is_empty(), "{}", text);
    prop_assert!(!text.contains("internal"), "internal wording: {}", text);
    Ok(())
}

fn config() -> Config {
    let cases = std::env::var("TABULATE_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024);
    Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 2048,
        ..Config::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn tensor_methods_never_panic(case in case(tensor_op())) {
        watched(&case)?;
    }

    #[test]
    fn layers_never_panic(case in case(nn_op())) {
        watched(&case)?;
    }
}

/// Runs many cases without stopping at the first failure and prints each distinct
/// failure (panic location, or the first words of a failed check) with its count and
/// one input: `cargo test --test it fuzz::survey -- --ignored --nocapture`.
#[test]
#[ignore = "a survey of failure classes, run by hand"]
fn survey() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    use std::collections::BTreeMap;
    use std::sync::Mutex;

    static LOCATION: Mutex<Option<String>> = Mutex::new(None);
    std::panic::set_hook(Box::new(|info| {
        let at = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let message = panic_text(info.payload());
        if std::env::var_os("TABULATE_FUZZ_TRACE").is_some() {
            eprintln!("PANIC {at}: {message}");
        }
        *LOCATION.lock().unwrap() = Some(format!("{at}: {message}"));
    }));
    let cases = config().cases;
    let trace = std::env::var_os("TABULATE_FUZZ_TRACE").is_some();
    let mut classes: BTreeMap<String, (usize, String)> = BTreeMap::new();
    let mut runner = TestRunner::new(config());
    let strategy = prop_oneof![case(tensor_op()), case(nn_op())];
    let started = Instant::now();
    for n in 0..cases {
        if n > 0 && n % 10_000 == 0 {
            let failures: usize = classes.values().map(|c| c.0).sum();
            eprintln!(
                "{n} cases, {failures} failures in {} classes, {:?}",
                classes.len(),
                started.elapsed()
            );
        }
        let case = strategy.new_tree(&mut runner).unwrap().current();
        *LOCATION.lock().unwrap() = None;
        if trace {
            eprintln!("{case:?}");
        }
        if let Err(e) = watched(&case) {
            let key = LOCATION.lock().unwrap().take().map_or_else(
                || {
                    let msg = e.to_string();
                    msg.split(':').take(2).collect::<Vec<_>>().join(":")
                },
                |l| {
                    let mut l = l;
                    l.truncate(160);
                    l
                },
            );
            let entry = classes
                .entry(key)
                .or_insert((0, format!("{case:?} => {e}")));
            entry.0 += 1;
        }
    }
    for (key, (count, example)) in &classes {
        let mut example = example.replace('\n', " ");
        example = example.split_whitespace().collect::<Vec<_>>().join(" ");
        example.truncate(600);
        println!("{count:6}  {key}\n        {example}\n");
    }
    println!(
        "{} classes in {cases} cases, {:?}",
        classes.len(),
        started.elapsed()
    );
}
