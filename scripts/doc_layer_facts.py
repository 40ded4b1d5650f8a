#!/usr/bin/env python3
"""The Flax/JAX facts behind the doc examples of `Tensor`'s methods and of the `nn` layers.

Every method of `Tensor` and every builder and `forward` method of the `nn` layers has a doc
example (a doctest) that asserts a result: a `Tensor` method the dtype and shape JAX gives
(`jax.eval_shape`), a layer its output and the count and bytes of its variables as Flax
0.12.8 initialises them (`Module.init` under `eval_shape`). This script recomputes them from
the same cases; run it after changing an example, and compare.

    python3 scripts/doc_layer_facts.py     (jax 0.10.2, flax 0.12.8)

Prints `method: rust expression -> dtype[shape]` for `Tensor`, and
`impl … method: dtype[shape] [count, bytes]` for the layers.
"""
import jax
import jax.numpy as jnp
import flax.linen as nn
import numpy as np

# --- Tensor methods: (variables {name: (dtype, shape)}, rust expression, jax expression)
F = {
 "ones": ({}, "Tensor::ones(DType::F32, [3, 4])?", "jnp.ones((3,4), jnp.float32)"),
 "full": ({}, "Tensor::full(-1e9, DType::F32, [1, 1, 8, 8])?", "jnp.full((1,1,8,8), -1e9, jnp.float32)"),
 "arange": ({}, "Tensor::arange(16, DType::F32)?", "jnp.arange(16, dtype=jnp.float32)"),
 "sub": ({"ids": ("I32", [3])}, "ids.sub(1.5)?", "jnp.subtract(ids, 1.5)"),
 "mul": ({"x": ("F16", [2, 3]), "scale": ("F32", [3])}, "x.mul(&scale)?", "jnp.multiply(x, scale)"),
 "div": ({"counts": ("I32", [4])}, "counts.div(&counts)?", "jnp.true_divide(counts, counts)"),
 "maximum": ({"x": ("BF16", [8])}, "x.maximum(0.0)?", "jnp.maximum(x, 0.0)"),
 "minimum": ({"a": ("U8", [5]), "b": ("I8", [5])}, "a.minimum(&b)?", "jnp.minimum(a, b)"),
 "pow": ({"x": ("F32", [3])}, "x.pow(2.5)?", "jnp.power(x, 2.5)"),
 "powi": ({"x": ("BF16", [2, 3])}, "x.powi(3)?", "x ** 3"),
 "equal": ({"a": ("F32", [4, 1]), "b": ("F32", [1, 5])}, "a.equal(&b)?", "jnp.equal(a, b)"),
 "not_equal": ({"ids": ("I32", [2, 7])}, "ids.not_equal(0)?", "jnp.not_equal(ids, 0)"),
 "less": ({"x": ("F32", [3])}, "x.less(1.0)?", "jnp.less(x, 1.0)"),
 "less_equal": ({"i": ("I32", [4, 1]), "j": ("I32", [1, 4])}, "i.less_equal(&j)?", "jnp.less_equal(i, j)"),
 "greater": ({"x": ("F16", [2])}, "x.greater(0.0)?", "jnp.greater(x, 0.0)"),
 "greater_equal": ({"x": ("U8", [6])}, "x.greater_equal(128)?", "jnp.greater_equal(x, 128)"),
 "neg": ({"x": ("I8", [3])}, "x.neg()?", "jnp.negative(x)"),
 "abs": ({"x": ("F32", [2, 2])}, "x.abs()?", "jnp.abs(x)"),
 "square": ({"x": ("I32", [3])}, "x.square()?", "jnp.square(x)"),
 "log": ({"counts": ("I32", [5])}, "counts.log()?", "jnp.log(counts)"),
 "tanh": ({"x": ("BF16", [4, 8])}, "x.tanh()?", "jnp.tanh(x)"),
 "sqrt": ({"x": ("U8", [3])}, "x.sqrt()?", "jnp.sqrt(x)"),
 "rsqrt": ({"var": ("F16", [8, 1])}, "var.rsqrt()?", "jax.lax.rsqrt(var)"),
 "sigmoid": ({"gate": ("F32", [2, 16])}, "gate.sigmoid()?", "jax.nn.sigmoid(gate)"),
 "floor": ({"x": ("F32", [3]), "i": ("I32", [3])}, ("x.floor()?", "i.floor()?"), ("jnp.floor(x)", "jnp.floor(i)")),
 "ceil": ({"x": ("F16", [3]), "i": ("U8", [3])}, ("x.ceil()?", "i.ceil()?"), ("jnp.ceil(x)", "jnp.ceil(i)")),
 "round": ({"x": ("BF16", [3]), "i": ("I16", [3])}, ("x.round()?", "i.round()?"), ("jnp.round(x)", "jnp.round(i)")),
 "log1p": ({"x": ("F32", [5])}, "x.log1p()?", "jnp.log1p(x)"),
 "expm1": ({"x": ("I32", [5])}, "x.expm1()?", "jnp.expm1(x)"),
 "erf": ({"x": ("F16", [4])}, "x.erf()?", "jax.lax.erf(x)"),
 "rem": ({"step": ("I32", [4]), "x": ("F32", [4])}, ("step.rem(3)?", "x.rem(2.0)?"), ("jnp.remainder(step, 3)", "jnp.remainder(x, 2.0)")),
 "logical_and": ({"a": ("Bool", [2, 3]), "b": ("Bool", [3])}, "a.logical_and(&b)?", "jnp.logical_and(a, b)"),
 "logical_or": ({"a": ("Bool", [4]), "x": ("F32", [4])}, "a.logical_or(&x)?", "jnp.logical_or(a, x)"),
 "stop_gradient": ({"target": ("F32", [8, 10])}, "target.stop_gradient()?", "jax.lax.stop_gradient(target)"),
 "swapaxes": ({"x": ("F32", [2, 8, 16, 64])}, "x.swapaxes(1, 2)?", "jnp.swapaxes(x, 1, 2)"),
 "expand_dims": ({"x": ("F32", [2, 3])}, ("x.expand_dims(-1)?", "x.expand_dims(0)?"), ("jnp.expand_dims(x, -1)", "jnp.expand_dims(x, 0)")),
 "squeeze": ({"x": ("F32", [2, 1, 3])}, "x.squeeze(1)?", "jnp.squeeze(x, 1)"),
 "broadcast_to": ({"bias": ("F32", [3])}, "bias.broadcast_to([4, 3])?", "jnp.broadcast_to(bias, (4,3))"),
 "split": ({"x": ("F32", [2, 12])}, "x.split(3, -1)?[0]", "jnp.split(x, 3, -1)[0]"),
 "flip": ({"x": ("I32", [5, 2])}, "x.flip(0)?", "jnp.flip(x, 0)"),
 "pad_wrap": ({"x": ("F32", [5, 4])}, "x.pad_wrap(&[(2, 3), (0, 0)])?", "jnp.pad(x, ((2,3),(0,0)), mode='wrap')"),
 "concatenate": ({"a": ("F16", [2, 3]), "b": ("F32", [2, 5])}, "Tensor::concatenate(&[&a, &b], 1)?", "jnp.concatenate([a, b], 1)"),
 "max": ({"x": ("F32", [4, 5, 6])}, "x.max(&[-1], true)?", "jnp.max(x, -1, keepdims=True)"),
 "min": ({"x": ("I32", [4, 5])}, "x.min(&[], false)?", "jnp.min(x)"),
 "mean": ({"x": ("BF16", [4, 5, 6])}, "x.mean(&[0, 2], false)?", "jnp.mean(x, (0, 2))"),
}

DT = {"F32": jnp.float32, "F16": jnp.float16, "BF16": jnp.bfloat16, "I32": jnp.int32, "I8": jnp.int8, "I16": jnp.int16, "U8": jnp.uint8, "Bool": jnp.bool_}
out = {}
for m, (vars_, rust, jx) in F.items():
    rusts = rust if isinstance(rust, tuple) else (rust,)
    jxs = jx if isinstance(jx, tuple) else (jx,)
    res = []
    for r, j in zip(rusts, jxs):
        args = {k: jax.ShapeDtypeStruct(tuple(s), DT[d]) for k, (d, s) in vars_.items()}
        names = list(args)
        f = eval("lambda " + ",".join(names) + ": " + j, {"jnp": jnp, "jax": jax})
        o = jax.eval_shape(f, *[args[n] for n in names])
        res.append((r, f"{o.dtype}[{','.join(map(str, o.shape))}]"))
    out[m] = (vars_, res)
for m, (v, res) in out.items(): print(m, res)

# --- nn layers
# (file, impl anchor, method, nn imports, inputs [(var, dtype, shape)], rust layer expr, rust call with {l},
#  output accessor (rust suffix, python fn), flax module expr, flax call with m and input names, comment)
X = lambda *s: ("x", "F32", list(s))
C = []
def case(file, anchor, method, uses, inputs, layer, call, flax, fcall, out=("", "lambda o: o"), note=""):
    C.append(dict(file=file, anchor=anchor, method=method, uses=uses, inputs=inputs, layer=layer, call=call, flax=flax, fcall=fcall, out=out, note=note))
L, N, A, R, CB, S, AX = ("nn/linear.rs", "nn/normalization.rs", "nn/attention.rs", "nn/recurrent.rs", "nn/combinators.rs", "nn/stochastic.rs", "nn/activation_ext.rs")
CV = "nn/conv.rs"
# Dense
for m, lay, fl, note in [
  ("new", "Dense::new(4)", "nn.Dense(4)", "kernel [9, 4] and bias [4]"),
  ("use_bias", "Dense::new(4).use_bias(false)", "nn.Dense(4, use_bias=False)", "the kernel alone"),
  ("dtype", "Dense::new(4).dtype(DType::BF16)", "nn.Dense(4, dtype=jnp.bfloat16)", "computed in bfloat16, float32 parameters"),
  ("param_dtype", "Dense::new(4).param_dtype(DType::BF16)", "nn.Dense(4, param_dtype=jnp.bfloat16)", "bfloat16 parameters: half the bytes"),
  ("forward", "Dense::new(4)", "nn.Dense(4)", "over the last axis; leading axes are batch"),
]:
    case(L, "impl Dense {", m, "Dense", [X(2, 16, 9)], lay, "{l}.forward(&x)?", fl, "m(x)", note=note)
for m, lay, fl, inp, note in [
  ("new", "DenseGeneral::new([4, 8])", "nn.DenseGeneral((4, 8))", [X(2, 16)], "several output axes: kernel [16, 4, 8]"),
  ("axis", "DenseGeneral::new(10).axis([-2, -1])", "nn.DenseGeneral(10, axis=(-2, -1))", [X(2, 5, 16)], "contracts the last two axes: kernel [5, 16, 10]"),
  ("batch_dims", "DenseGeneral::new(6).batch_dims([0])", "nn.DenseGeneral(6, batch_dims=(0,))", [X(3, 5, 16)], "one kernel per index of axis 0: kernel [3, 16, 6]"),
  ("use_bias", "DenseGeneral::new([4, 8]).use_bias(false)", "nn.DenseGeneral((4, 8), use_bias=False)", [X(2, 16)], ""),
  ("dtype", "DenseGeneral::new([4, 8]).dtype(DType::F16)", "nn.DenseGeneral((4, 8), dtype=jnp.float16)", [X(2, 16)], ""),
  ("param_dtype", "DenseGeneral::new([4, 8]).param_dtype(DType::BF16)", "nn.DenseGeneral((4, 8), param_dtype=jnp.bfloat16)", [X(2, 16)], ""),
  ("forward", "DenseGeneral::new([2, 3]).axis([-1])", "nn.DenseGeneral((2, 3), axis=-1)", [X(4, 7, 5)], ""),
]:
    case(L, "impl DenseGeneral {", m, "DenseGeneral", inp, lay, "{l}.forward(&x)?", fl, "m(x)", note=note)
for m, lay, fl, note in [
  ("new", "Einsum::new([5, 3, 7], \"abc,cde->abde\")", "nn.Einsum((5, 3, 7), 'abc,cde->abde')", "kernel [5, 3, 7], bias [3, 7]"),
  ("use_bias", "Einsum::new([5, 3, 7], \"abc,cde->abde\").use_bias(false)", "nn.Einsum((5, 3, 7), 'abc,cde->abde', use_bias=False)", ""),
  ("forward", "Einsum::new([5, 3, 7], \"abc,cde->abde\")", "nn.Einsum((5, 3, 7), 'abc,cde->abde')", ""),
]:
    case(L, "impl Einsum {", m, "Einsum", [X(16, 11, 5)], lay, "{l}.forward(&x)?", fl, "m(x)", note=note)
ids = [("ids", "I32", [2, 7])]
for m, lay, fl, call, fcall, inp in [
  ("new", "Embed::new(1000, 64)", "nn.Embed(1000, 64)", "{l}.forward(&ids)?", "m(ids)", ids),
  ("dtype", "Embed::new(1000, 64).dtype(DType::BF16)", "nn.Embed(1000, 64, dtype=jnp.bfloat16)", "{l}.forward(&ids)?", "m(ids)", ids),
  ("param_dtype", "Embed::new(1000, 64).param_dtype(DType::BF16)", "nn.Embed(1000, 64, param_dtype=jnp.bfloat16)", "{l}.forward(&ids)?", "m(ids)", ids),
  ("forward", "Embed::new(50257, 768)", "nn.Embed(50257, 768)", "{l}.forward(&ids)?", "m(ids)", ids),
  ("attend", "Embed::new(1000, 64)", "nn.Embed(1000, 64)", "{l}.attend(&x)?", "m.attend(x)", [X(2, 7, 64)]),
]:
    case(L, "impl Embed {", m, "Embed", inp, lay, call, fl, fcall)
img = [X(1, 28, 28, 3)]
for m, lay, fl, inp in [
  ("new", "Conv::new(16, [3, 3])", "nn.Conv(16, (3, 3))", img),
  ("strides", "Conv::new(16, [3, 3]).strides([2, 2])", "nn.Conv(16, (3, 3), strides=(2, 2))", img),
  ("padding", "Conv::new(16, [3, 3]).padding(Padding::Valid)", "nn.Conv(16, (3, 3), padding='VALID')", img),
  ("input_dilation", "Conv::new(16, [3, 3]).input_dilation([2, 2]).padding(Padding::Explicit(vec![(1, 1), (1, 1)]))", "nn.Conv(16, (3, 3), input_dilation=(2, 2), padding=((1, 1), (1, 1)))", img),
  ("kernel_dilation", "Conv::new(16, [3, 3]).kernel_dilation([2, 2]).padding(Padding::Valid)", "nn.Conv(16, (3, 3), kernel_dilation=(2, 2), padding='VALID')", img),
  ("feature_group_count", "Conv::new(12, [3, 3]).feature_group_count(3)", "nn.Conv(12, (3, 3), feature_group_count=3)", [X(1, 28, 28, 6)]),
  ("use_bias", "Conv::new(16, [3, 3]).use_bias(false)", "nn.Conv(16, (3, 3), use_bias=False)", img),
  ("dtype", "Conv::new(16, [3, 3]).dtype(DType::BF16)", "nn.Conv(16, (3, 3), dtype=jnp.bfloat16)", img),
  ("param_dtype", "Conv::new(16, [3, 3]).param_dtype(DType::BF16)", "nn.Conv(16, (3, 3), param_dtype=jnp.bfloat16)", img),
  ("forward", "Conv::new(8, [5])", "nn.Conv(8, (5,))", [X(4, 100, 2)]),
]:
    case(CV, "impl Conv {", m, "Conv" + (", Padding" if "Padding" in lay else ""), inp, lay, "{l}.forward(&x)?", fl, "m(x)")
small = [X(1, 16, 16, 3)]
for m, lay, fl in [
  ("new", "ConvTranspose::new(8, [3, 3])", "nn.ConvTranspose(8, (3, 3))"),
  ("strides", "ConvTranspose::new(8, [3, 3]).strides([2, 2])", "nn.ConvTranspose(8, (3, 3), strides=(2, 2))"),
  ("padding", "ConvTranspose::new(8, [3, 3]).strides([2, 2]).padding(Padding::Valid)", "nn.ConvTranspose(8, (3, 3), strides=(2, 2), padding='VALID')"),
  ("kernel_dilation", "ConvTranspose::new(8, [3, 3]).kernel_dilation([2, 2]).padding(Padding::Valid)", "nn.ConvTranspose(8, (3, 3), kernel_dilation=(2, 2), padding='VALID')"),
  ("transpose_kernel", "ConvTranspose::new(8, [3, 3]).transpose_kernel(true)", "nn.ConvTranspose(8, (3, 3), transpose_kernel=True)"),
  ("use_bias", "ConvTranspose::new(8, [3, 3]).use_bias(false)", "nn.ConvTranspose(8, (3, 3), use_bias=False)"),
  ("forward", "ConvTranspose::new(4, [4, 4]).strides([2, 2])", "nn.ConvTranspose(4, (4, 4), strides=(2, 2))"),
]:
    case(CV, "impl ConvTranspose {", m, "ConvTranspose" + (", Padding" if "Padding" in lay else ""), small, lay, "{l}.forward(&x)?", fl, "m(x)")
tok = [X(2, 10, 32)]
for m, lay, fl in [
  ("new", "LayerNorm::new()", "nn.LayerNorm()"),
  ("epsilon", "LayerNorm::new().epsilon(1e-5)", "nn.LayerNorm(epsilon=1e-5)"),
  ("use_bias", "LayerNorm::new().use_bias(false)", "nn.LayerNorm(use_bias=False)"),
  ("use_scale", "LayerNorm::new().use_scale(false)", "nn.LayerNorm(use_scale=False)"),
  ("forward", "LayerNorm::new()", "nn.LayerNorm()"),
]:
    case(N, "impl LayerNorm {", m, "LayerNorm", tok, lay, "{l}.forward(&x)?", fl, "m(x)")
for m, lay, fl in [
  ("new", "RMSNorm::new()", "nn.RMSNorm()"),
  ("epsilon", "RMSNorm::new().epsilon(1e-5)", "nn.RMSNorm(epsilon=1e-5)"),
  ("forward", "RMSNorm::new()", "nn.RMSNorm()"),
]:
    case(N, "impl RMSNorm {", m, "RMSNorm", tok, lay, "{l}.forward(&x)?", fl, "m(x)")
fm = [X(2, 8, 8, 16)]
for m, lay, fl in [
  ("new", "GroupNorm::new(4)", "nn.GroupNorm(num_groups=4)"),
  ("with_group_size", "GroupNorm::with_group_size(4)", "nn.GroupNorm(num_groups=None, group_size=4)"),
  ("forward", "GroupNorm::new(8)", "nn.GroupNorm(num_groups=8)"),
]:
    case(N, "impl GroupNorm {", m, "GroupNorm", fm, lay, "{l}.forward(&x)?", fl, "m(x)")
bn = [X(4, 8)]
for m, lay, fl, call, fcall in [
  ("new", "BatchNorm::new(true)", "nn.BatchNorm(use_running_average=True)", "{l}.forward(&x)?", "m(x)"),
  ("momentum", "BatchNorm::new(true).momentum(0.9)", "nn.BatchNorm(use_running_average=True, momentum=0.9)", "{l}.forward(&x)?", "m(x)"),
  ("epsilon", "BatchNorm::new(true).epsilon(1e-3)", "nn.BatchNorm(use_running_average=True, epsilon=1e-3)", "{l}.forward(&x)?", "m(x)"),
  ("use_bias", "BatchNorm::new(true).use_bias(false)", "nn.BatchNorm(use_running_average=True, use_bias=False)", "{l}.forward(&x)?", "m(x)"),
  ("use_scale", "BatchNorm::new(true).use_scale(false)", "nn.BatchNorm(use_running_average=True, use_scale=False)", "{l}.forward(&x)?", "m(x)"),
  ("forward", "BatchNorm::new(true)", "nn.BatchNorm(use_running_average=True)", "{l}.forward(&x)?", "m(x)"),
  ("forward_with", "BatchNorm::new(None)", "nn.BatchNorm()", "{l}.forward_with(&x, true)?", "m(x, use_running_average=True)"),
]:
    case(N, "impl BatchNorm {", m, "BatchNorm", bn, lay, call, fl, fcall)
seq = [X(2, 10, 64)]
for m, lay, fl, call, fcall in [
  ("new", "MultiHeadDotProductAttention::new(8)", "nn.MultiHeadDotProductAttention(8)", "{l}.forward(&x, true)?", "m(x, deterministic=True)"),
  ("qkv_features", "MultiHeadDotProductAttention::new(4).qkv_features(32)", "nn.MultiHeadDotProductAttention(4, qkv_features=32)", "{l}.forward(&x, true)?", "m(x, deterministic=True)"),
  ("out_features", "MultiHeadDotProductAttention::new(4).out_features(16)", "nn.MultiHeadDotProductAttention(4, out_features=16)", "{l}.forward(&x, true)?", "m(x, deterministic=True)"),
  ("use_bias", "MultiHeadDotProductAttention::new(4).use_bias(false)", "nn.MultiHeadDotProductAttention(4, use_bias=False)", "{l}.forward(&x, true)?", "m(x, deterministic=True)"),
  ("deterministic", "MultiHeadDotProductAttention::new(4).dropout_rate(0.1).deterministic(true)", "nn.MultiHeadDotProductAttention(4, dropout_rate=0.1, deterministic=True)", "{l}.forward(&x, None)?", "m(x)"),
  ("forward", "MultiHeadDotProductAttention::new(4)", "nn.MultiHeadDotProductAttention(4)", "{l}.forward(&x, true)?", "m(x, deterministic=True)"),
]:
    case(A, "impl MultiHeadDotProductAttention {", m, "MultiHeadDotProductAttention", seq, lay, call, fl, fcall)
for m, lay, fl, call, fcall in [
  ("new", "SelfAttention::new(8)", "nn.SelfAttention(8)", "{l}.forward(&x, true)?", "m(x, deterministic=True)"),
  ("qkv_features", "SelfAttention::new(4).qkv_features(32)", "nn.SelfAttention(4, qkv_features=32)", "{l}.forward(&x, true)?", "m(x, deterministic=True)"),
  ("deterministic", "SelfAttention::new(4).dropout_rate(0.1).deterministic(true)", "nn.SelfAttention(4, dropout_rate=0.1, deterministic=True)", "{l}.forward(&x, None)?", "m(x)"),
  ("forward", "SelfAttention::new(4)", "nn.SelfAttention(4)", "{l}.forward(&x, true)?", "m(x, deterministic=True)"),
]:
    case(A, "impl SelfAttention {", m, "SelfAttention", seq, lay, call, fl, fcall)
for m, lay, fl in [
  ("new", "PReLU::new()", "nn.PReLU()"),
  ("param_dtype", "PReLU::new().param_dtype(DType::BF16)", "nn.PReLU(param_dtype=jnp.bfloat16)"),
  ("negative_slope_init", "PReLU::new().negative_slope_init(0.25)", "nn.PReLU(negative_slope_init=0.25)"),
  ("forward", "PReLU::new()", "nn.PReLU()"),
]:
    case(AX, "impl PReLU {", m, "PReLU", [X(2, 8)], lay, "{l}.forward(&x)?", fl, "m(x)")
for m, lay, fl in [
  ("new", "Sequential::new().then(Dense::new(8)).then(relu).then(Dense::new(2))", "nn.Sequential([nn.Dense(8), nn.relu, nn.Dense(2)])"),
  ("then", "Sequential::new().then(Dense::new(8)).then(LayerNorm::new())", "nn.Sequential([nn.Dense(8), nn.LayerNorm()])"),
  ("forward", "Sequential::new().then(Dense::new(4)).then(gelu)", "nn.Sequential([nn.Dense(4), nn.gelu])"),
]:
    case(CB, "impl Sequential {", m, "Dense, LayerNorm, Sequential, gelu, relu", [X(3, 5)], lay, "{l}.forward(&x)?", fl, "m(x)")
d = [X(4, 16, 32)]
for m, lay, fl, call, fcall in [
  ("new", "Dropout::new(0.1)", "nn.Dropout(0.1)", "{l}.forward(&x, true)?", "m(x, deterministic=True)"),
  ("broadcast_dims", "Dropout::new(0.1).broadcast_dims([1])", "nn.Dropout(0.1, broadcast_dims=(1,))", "{l}.forward(&x, true)?", "m(x, deterministic=True)"),
  ("deterministic", "Dropout::new(0.1).deterministic(true)", "nn.Dropout(0.1, deterministic=True)", "{l}.forward(&x, None)?", "m(x)"),
  ("forward", "Dropout::new(0.5)", "nn.Dropout(0.5)", "{l}.forward(&x, true)?", "m(x, deterministic=True)"),
]:
    case(S, "impl Dropout {", m, "Dropout", d, lay, call, fl, fcall)
case(R, "impl LSTMCell {", "forward", "LSTMCell", [("c", "F32", [2, 8]), ("h", "F32", [2, 8]), X(2, 5)], "LSTMCell::new(8)", "{l}.forward(&(c.clone(), h.clone()), &x)?.1",
     "nn.LSTMCell(8)", "m((c, h), x)", out=("", "lambda o: o[1]"), note="the new hidden state; the carry is `(c, h)`")
case(R, "impl GRUCell {", "forward", "GRUCell", [("h", "F32", [2, 8]), X(2, 5)], "GRUCell::new(8)", "{l}.forward(&h, &x)?.1",
     "nn.GRUCell(8)", "m(h, x)", out=("", "lambda o: o[1]"))
case(R, "impl SimpleCell {", "forward", "SimpleCell", [("h", "F32", [2, 8]), X(2, 5)], "SimpleCell::new(8)", "{l}.forward(&h, &x)?.1",
     "nn.SimpleCell(8)", "m(h, x)", out=("", "lambda o: o[1]"))
q = ("q", "F32", [2, 10, 64]); kv = ("kv", "F32", [2, 20, 32]); vv = ("v", "F32", [2, 20, 48]); mk = ("mask", "Bool", [2, 1, 10, 20])
M = "MultiHeadDotProductAttention::new(4)"; FM = "nn.MultiHeadDotProductAttention(4)"
case(A, "impl<'a> AttentionCall<'a> {", "new", "AttentionCall, MultiHeadDotProductAttention", [q], M, "{l}.forward_with(&AttentionCall::new(&q).deterministic(true))?", FM, "m(q, deterministic=True)", note="self-attention")
case(A, "impl<'a> AttentionCall<'a> {", "key", "AttentionCall, MultiHeadDotProductAttention", [q, kv], M, "{l}.forward_with(&AttentionCall::new(&q).key(&kv).deterministic(true))?", FM, "m(q, kv, deterministic=True)", note="cross-attention: keys and values from `kv`")
case(A, "impl<'a> AttentionCall<'a> {", "value", "AttentionCall, MultiHeadDotProductAttention", [q, kv, vv], M, "{l}.forward_with(&AttentionCall::new(&q).key(&kv).value(&v).deterministic(true))?", FM, "m(q, kv, v, deterministic=True)")
case(A, "impl<'a> AttentionCall<'a> {", "mask", "AttentionCall, MultiHeadDotProductAttention", [q, kv, mk], M, "{l}.forward_with(&AttentionCall::new(&q).key(&kv).mask(&mask).deterministic(true))?", FM, "m(q, kv, mask=mask, deterministic=True)")
case(A, "impl<'a> AttentionCall<'a> {", "deterministic", "AttentionCall, MultiHeadDotProductAttention", [q], "MultiHeadDotProductAttention::new(4).dropout_rate(0.1)", "{l}.forward_with(&AttentionCall::new(&q).deterministic(true))?", "nn.MultiHeadDotProductAttention(4, dropout_rate=0.1)", "m(q, deterministic=True)", note="no dropout stream needed")
case(A, "impl MultiHeadDotProductAttention {", "forward_with", "AttentionCall, MultiHeadDotProductAttention", [q, kv], M, "{l}.forward_with(&AttentionCall::new(&q).key(&kv).deterministic(true))?", FM, "m(q, kv, deterministic=True)")

DT = {"F32": jnp.float32, "I32": jnp.int32, "Bool": jnp.bool_}
def fmt(o): return f"{o.dtype}[{','.join(map(str, o.shape))}]"
bad = []
for c in C:
  try:
      args = {v: jax.ShapeDtypeStruct(tuple(s), DT[d]) for v, d, s in c["inputs"]}
      m = eval(c["flax"], {"nn": nn, "jnp": jnp})
      names = list(args)
      f = eval("lambda m, " + ",".join(names) + ": " + c["fcall"])
      method = None
      if c["fcall"].startswith("m.attend"):
          method = "attend"
      def init(*a):
          kw = {"method": method} if method else {}
          def g(mod, *xs): return f(mod, *xs)
          return m.init(jax.random.PRNGKey(0), *a, method=(lambda mod, *xs: g(mod, *xs)))
      variables = jax.eval_shape(init, *[args[n] for n in names])
      out = jax.eval_shape(lambda v, *a: m.apply(v, *a, method=(lambda mod, *xs: f(mod, *xs))), variables, *[args[n] for n in names])
      sel = eval(c["out"][1])(out)
      leaves = jax.tree_util.tree_leaves(variables)
      count = sum(int(np.prod(l.shape)) for l in leaves)
      nbytes = sum(int(np.prod(l.shape)) * l.dtype.itemsize for l in leaves)
      c["OUT"] = fmt(sel); c["PARAMS"] = [count, nbytes]
  except Exception as e:
    bad.append((c['anchor'], c['method'], str(e)[:200]))
C = [c for c in C if "OUT" in c]
print("BAD", bad)
for c in C: print(c["anchor"], c["method"], c["OUT"], c["PARAMS"])
