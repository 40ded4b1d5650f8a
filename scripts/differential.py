"""A differential suite against the real Flax: random models, Flax's rows.

Generates seeded, reproducible random models — stacks and nestings of the
`flax.linen` layers `tabulate` mirrors, compact and setup style, shared modules,
widths from tiny to ~2^40 FLOPs per row, random `depth` and `show_repeated` —
runs Flax's own table builder on each (`flax.linen.summary._get_module_table`,
what `nn.tabulate` renders) with `compute_flops` and `compute_vjp_flops`, and
writes the model spec and Flax's rows to `tests/differential/cases_NN.json`
(50 cases per file). `tests/it/differential.rs` rebuilds every case with the
public Rust API and compares every field.

Run (from the repository root):

    PYTHONHASHSEED=0 JAX_PLATFORMS=cpu /work/venv/bin/python scripts/differential.py [N]

Reference environment: jax 0.10.2, flax 0.12.8 (CPU). N defaults to 320.

Models the suite has never seen: `DIFF_START=600000 DIFF_OUT=/tmp/fresh ... differential.py 600`
starts at another candidate index; `TABULATE_DIFF_DIR=/tmp/fresh cargo test --test it
differential::differential_against_flax` compares them.

A feature family adds its layers to the generator without changing the base
suite: `DIFF_FAMILY=acts ... differential.py 60` loads
`scripts/diff_families/acts.py`, mixes its ops in (half of the layer choices)
and writes `tests/differential/cases_acts_NN.json` with ids `acts-c0000`, ....
Its Rust side is a module under `tests/differential/families/` listed in
`FAMILIES` of `tests/it/differential.rs`.

## The spec

A case is `{id, input: {dtype, shape}, depth, show_repeated, model}`. `model`
is a user module, one of five classes, each with a fixed calling pattern
(`tests/it/differential.rs` mirrors each with one `#[derive(Tabulate)]` struct):

- `Stack {ops}` (compact): applies each op in order, building its layers inline
  (`Dense_0`, `Dense_1`, ...; an op may carry an explicit `name`).
- `SetupStack {ops}` (setup style): the module ops are built in `setup()` as the
  list `self.layers` (`layers_0`, `layers_1`, ... counting module ops only);
  `__call__` applies the ops in order, function ops inline.
- `Residual {body}` (compact): `h = body(x)`; `x + h` if the shapes agree, else `h`.
- `Shared {op}` (compact): builds one module from `op` and calls it twice:
  `m(m(x))` (a shared module; its second call is a repeated row).
- `Branch {left, right}` (compact): `concatenate([left(x), right(x)], -1)`.

An op is `{"op": KIND, ...}`; KIND is a layer (`Dense`, `DenseGeneral`,
`Einsum`, `Embed`, `EmbedAttend`, `Conv`, `ConvTranspose`, `BatchNorm`,
`LayerNorm`, `RMSNorm`, `GroupNorm`, `MHA`, `SelfAttention`, `RNN`, `Cell`,
`Dropout`, `Sequential`), a function (`fn`, `pool`) or `module` (a nested
user module, under `"module"`). See `build_layer` / `apply_op` for the fields.
Flax's construction-or-call hyperparameters follow the calls the generator
writes (`deterministic` at the call, `use_running_average` at construction)
unless an op says `"deterministic_at": "init"` or
`"use_running_average_at": "call"` (used by the targeted cases).

## The rows

Per row: `path` (joined by `/`), `module_type`, `method`, `inputs` and
`outputs` as canonical text (arrays `float32[2,3]`, other leaves by `repr`,
sequences `[a, b]`, mappings `{k: v}`), `flops`, `vjp_flops`, and per
collection the row's own leaves (`name: float32[3,4]`, `/`-joined paths,
sorted) and its counted `count` and `bytes`. The table's collections are kept,
sorted.
"""

import importlib
import json
import multiprocessing
import os
import random
import sys
import time
from collections.abc import Mapping
from typing import Any

os.environ.setdefault('JAX_PLATFORMS', 'cpu')

import jax
import jax.numpy as jnp
import flax.linen as nn
from flax.linen import pooling
from flax.core import meta as flax_meta
from flax.linen import summary as fs

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.environ.get('DIFF_OUT') or os.path.join(ROOT, 'tests', 'differential')
PER_FILE = 50
RNGS = lambda: {'params': jax.random.key(0), 'dropout': jax.random.key(1)}

# ===================================================================== the models
FNS = {
  'relu': lambda x, o: nn.relu(x),
  'gelu': lambda x, o: nn.gelu(x, approximate=o['approximate']),
  'silu': lambda x, o: nn.silu(x),
  'swish': lambda x, o: nn.swish(x),
  'sigmoid': lambda x, o: nn.sigmoid(x),
  'tanh': lambda x, o: nn.tanh(x),
  'softmax': lambda x, o: nn.softmax(x, axis=o['axis']),
  'log_softmax': lambda x, o: nn.log_softmax(x, axis=o['axis']),
  'elu': lambda x, o: nn.elu(x),
  'leaky_relu': lambda x, o: nn.leaky_relu(x),
  'softplus': lambda x, o: nn.softplus(x),
}
POOLS = {'avg': nn.avg_pool, 'max': nn.max_pool, 'min': pooling.min_pool}
CELLS = {'lstm': nn.LSTMCell, 'gru': nn.GRUCell, 'simple': nn.SimpleCell}

# A family (`DIFF_FAMILY=name`, `scripts/diff_families/<name>.py`) adds ops to the
# generator: `ops(gen, shape, dtype)` (a random op of the family, or None), `BUILD` (op name
# -> fn(op, kw) -> module), `CALL` (op name -> fn(module, op, x)) and `FNS` (function name ->
# fn(x, op)). Without a family the generator is exactly the base suite's.
FAMILY = os.environ.get('DIFF_FAMILY') or None
if FAMILY:
  sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'diff_families'))
  FAM = importlib.import_module(FAMILY)
  FNS.update(getattr(FAM, 'FNS', {}))
else:
  FAM = None
FAM_BUILD = getattr(FAM, 'BUILD', {})
FAM_CALL = getattr(FAM, 'CALL', {})


def conv_padding(p):
  return p if isinstance(p, str) else tuple(tuple(q) for q in p)


def build_layer(op, in_setup=False):
  """The Flax module of a layer op (unbound: named by where it is built)."""
  k = op['op']
  kw = {} if in_setup or 'name' not in op else {'name': op['name']}
  if k == 'Dense':
    return nn.Dense(op['features'], use_bias=op['use_bias'], **kw)
  if k == 'DenseGeneral':
    return nn.DenseGeneral(tuple(op['features']), axis=tuple(op['axis']), **kw)
  if k == 'Einsum':
    return nn.Einsum(tuple(op['shape']), op['equation'], use_bias=op['use_bias'], **kw)
  if k in ('Embed', 'EmbedAttend'):
    return nn.Embed(op['num_embeddings'], op['features'], **kw)
  if k == 'Conv':
    return nn.Conv(
      op['features'], tuple(op['kernel_size']), strides=tuple(op['strides']),
      padding=conv_padding(op['padding']), kernel_dilation=tuple(op['kernel_dilation']),
      feature_group_count=op['feature_group_count'], use_bias=op['use_bias'], **kw)
  if k == 'ConvTranspose':
    return nn.ConvTranspose(
      op['features'], tuple(op['kernel_size']), strides=tuple(op['strides']),
      padding=conv_padding(op['padding']), kernel_dilation=tuple(op['kernel_dilation']),
      transpose_kernel=op['transpose_kernel'], use_bias=op['use_bias'], **kw)
  if k == 'BatchNorm':
    if op.get('use_running_average_at') != 'call':
      kw['use_running_average'] = op['use_running_average']
    return nn.BatchNorm(use_scale=op['use_scale'], use_bias=op['use_bias'], **kw)
  if k == 'LayerNorm':
    return nn.LayerNorm(epsilon=op['epsilon'], use_scale=op['use_scale'],
                        use_bias=op['use_bias'], **kw)
  if k == 'RMSNorm':
    return nn.RMSNorm(epsilon=op['epsilon'], **kw)
  if k == 'GroupNorm':
    if op.get('group_size'):
      return nn.GroupNorm(num_groups=None, group_size=op['group_size'], **kw)
    return nn.GroupNorm(num_groups=op['num_groups'], **kw)
  if op.get('deterministic_at') == 'init':
    kw['deterministic'] = op['deterministic']
  if k == 'MHA':
    extra = {'out_features': op['out_features']} if op.get('out_features') else {}
    return nn.MultiHeadDotProductAttention(
      num_heads=op['num_heads'], qkv_features=op['qkv_features'],
      dropout_rate=op['dropout_rate'], **extra, **kw)
  if k == 'SelfAttention':
    return nn.SelfAttention(num_heads=op['num_heads'], qkv_features=op['qkv_features'], **kw)
  if k == 'RNN':
    return nn.RNN(CELLS[op['cell']](features=op['features']), **kw)
  if k == 'Cell':
    return CELLS[op['cell']](features=op['features'], **kw)
  if k == 'Dropout':
    extra = {'broadcast_dims': tuple(op['broadcast_dims'])} if op.get('broadcast_dims') else {}
    return nn.Dropout(rate=op['rate'], **extra, **kw)
  if k == 'Sequential':
    return nn.Sequential([layer_or_fn(o, in_setup) for o in op['layers']], **kw)
  if k == 'module':
    return build_user(op['module'])
  if k in FAM_BUILD:
    return FAM_BUILD[k](op, kw)
  raise ValueError(k)


def layer_or_fn(op, in_setup=False):
  if op['op'] in ('fn', 'pool'):
    return lambda x: apply_fn(op, x)
  return build_layer(op, in_setup)


def is_module_op(op):
  return op['op'] not in ('fn', 'pool')


def apply_fn(op, x):
  if op['op'] == 'fn':
    return FNS[op['name']](x, op)
  pad = op['padding']
  pool = POOLS[op['kind']]
  if op['kind'] == 'avg':
    return pool(x, tuple(op['window']), strides=tuple(op['strides']), padding=pad,
                count_include_pad=op['count_include_pad'])
  return pool(x, tuple(op['window']), strides=tuple(op['strides']), padding=pad)


def call_module(m, op, x):
  """Calls module `m` of op `op` on `x` the way the op says."""
  k = op['op']
  if k in FAM_CALL:
    return FAM_CALL[k](m, op, x)
  if k in ('Dropout', 'MHA', 'SelfAttention') and op.get('deterministic_at') == 'init':
    return m(x)
  if k == 'Dropout':
    return m(x, deterministic=op['deterministic'])
  if k in ('MHA', 'SelfAttention'):
    return m(x, deterministic=op['deterministic'])
  if k == 'BatchNorm' and op.get('use_running_average_at') == 'call':
    return m(x, use_running_average=op['use_running_average'])
  if k == 'EmbedAttend':
    return m.attend(x)
  if k == 'Cell':
    batch = x.shape[:-1] + (op['features'],)
    if op['cell'] == 'lstm':
      carry = (jnp.zeros(batch, x.dtype), jnp.zeros(batch, x.dtype))
    else:
      carry = jnp.zeros(batch, x.dtype)
    _, y = m(carry, x)
    return y
  return m(x)


def apply_op(op, x):
  if not is_module_op(op):
    return apply_fn(op, x)
  return call_module(build_layer(op), op, x)


class Stack(nn.Module):
  spec: str

  @nn.compact
  def __call__(self, x):
    for op in json.loads(self.spec)['ops']:
      x = apply_op(op, x)
    return x


class SetupStack(nn.Module):
  spec: str

  def setup(self):
    ops = json.loads(self.spec)['ops']
    self.layers = [build_layer(op, in_setup=True) for op in ops if is_module_op(op)]

  def __call__(self, x):
    i = 0
    for op in json.loads(self.spec)['ops']:
      if is_module_op(op):
        x = call_module(self.layers[i], op, x)
        i += 1
      else:
        x = apply_fn(op, x)
    return x


class Residual(nn.Module):
  spec: str

  @nn.compact
  def __call__(self, x):
    h = build_user(json.loads(self.spec)['body'])(x)
    return x + h if h.shape == x.shape and h.dtype == x.dtype else h


class Shared(nn.Module):
  spec: str

  @nn.compact
  def __call__(self, x):
    op = json.loads(self.spec)['op']
    m = build_layer(op)
    return call_module(m, op, call_module(m, op, x))


class Branch(nn.Module):
  spec: str

  @nn.compact
  def __call__(self, x):
    s = json.loads(self.spec)
    a = build_user(s['left'])(x)
    b = build_user(s['right'])(x)
    return jnp.concatenate([a, b], axis=-1)


USER = {c.__name__: c for c in (Stack, SetupStack, Residual, Shared, Branch)}


def build_user(spec):
  return USER[spec['class']](json.dumps(spec, sort_keys=True))


# ===================================================================== shapes
class _One(nn.Module):
  """Applies one op (or user module): used to learn output shapes."""

  op: str

  @nn.compact
  def __call__(self, x):
    return apply_op(json.loads(self.op), x)


def out_shape(op, shape, dtype):
  x = jax.ShapeDtypeStruct(tuple(shape), jnp.dtype(dtype))
  y = jax.eval_shape(lambda x: _One(json.dumps(op)).init_with_output(RNGS(), x)[0], x)
  return list(y.shape), str(y.dtype)


# ===================================================================== generator
SCALES = {
  # batch, feature widths, sequence lengths, spatial sizes
  'small': ([1, 2, 3, 4], [2, 3, 4, 5, 6, 8, 12, 16], [3, 4, 5, 7, 8], [4, 5, 6, 8, 9]),
  'medium': ([2, 4, 8], [16, 24, 32, 48, 64, 128], [8, 16, 32, 64], [8, 14, 16, 28, 32]),
  'large': ([8, 16, 32], [128, 256, 512, 768, 1024], [64, 128, 256, 512],
            [28, 32, 56, 64, 112]),
  'huge': ([32, 64], [1024, 2048, 4096], [512, 1024, 2048], [56, 112, 224]),
}
MAX_ELEMS = 2 ** 28  # largest activation (elements) a generated op may produce


def numel(shape):
  n = 1
  for d in shape:
    n *= d
  return n


class Gen:
  def __init__(self, rng, scale):
    self.r = rng
    self.batch, self.widths, self.lengths, self.spatial = SCALES[scale]
    self.names = 0

  def w(self):
    return self.r.choice(self.widths)

  # ------------------------------------------------------------ layer ops
  def fn_op(self, shape):
    name = self.r.choice(list(FNS))
    op = {'op': 'fn', 'name': name}
    if name == 'gelu':
      op['approximate'] = self.r.random() < 0.5
    if name in ('softmax', 'log_softmax'):
      op['axis'] = self.r.choice([-1, -1, 0])
    return op

  def pool_op(self, shape):
    nd = len(shape) - 2
    kind = self.r.choice(['avg', 'max', 'min'])
    win = [self.r.choice([2, 3]) for _ in range(nd)]
    strides = [self.r.choice([1, 2]) for _ in range(nd)]
    pad = self.r.choice(['VALID', 'SAME'])
    if pad == 'VALID' and any(shape[1 + i] < win[i] for i in range(nd)):
      pad = 'SAME'
    op = {'op': 'pool', 'kind': kind, 'window': win, 'strides': strides, 'padding': pad}
    if kind == 'avg':
      op['count_include_pad'] = self.r.random() < 0.7
    return op

  def conv_op(self, shape, transpose=False):
    nd = len(shape) - 2
    cin = shape[-1]
    feats = self.w()
    ks = [self.r.choice([1, 2, 3, 5]) for _ in range(nd)]
    strides = [self.r.choice([1, 1, 2]) for _ in range(nd)]
    dil = [self.r.choice([1, 1, 2]) for _ in range(nd)]
    pad_kind = self.r.choice(['SAME', 'SAME', 'VALID', 'CIRCULAR', 'explicit'])
    if pad_kind == 'explicit':
      pad = [[self.r.randint(0, 2), self.r.randint(0, 2)] for _ in range(nd)]
    else:
      pad = pad_kind
    op = {'op': 'ConvTranspose' if transpose else 'Conv', 'features': feats,
          'kernel_size': ks, 'strides': strides, 'padding': pad,
          'kernel_dilation': dil, 'use_bias': self.r.random() < 0.7}
    if transpose:
      op['transpose_kernel'] = self.r.random() < 0.3
    else:
      groups = 1
      if self.r.random() < 0.3:
        divs = [g for g in range(2, cin + 1) if cin % g == 0]
        if divs:
          groups = self.r.choice(divs)
          op['features'] = groups * max(1, feats // groups)
      op['feature_group_count'] = groups
    return op

  def layer_op(self, shape, dtype, allow_cells=True):
    """A random op valid on an input of `shape`."""
    rank = len(shape)
    f = shape[-1]
    if FAM is not None and self.r.random() < 0.5:
      op = FAM.ops(self, shape, dtype)
      if op is not None:
        return op
    if dtype.startswith('int'):
      return {'op': 'Embed', 'num_embeddings': self.w() * 4, 'features': self.w()}
    choices = ['Dense'] * 4 + ['fn'] * 3 + ['LayerNorm', 'RMSNorm', 'BatchNorm', 'Dropout',
                                              'DenseGeneral', 'Einsum', 'Sequential',
                                              'EmbedAttend']
    if rank >= 3:
      choices += ['MHA', 'SelfAttention', 'RNN'] * 2 + ['Conv'] * 3 + ['ConvTranspose', 'pool'] * 2
    if rank >= 2:
      choices += ['GroupNorm']
    if rank == 2 and allow_cells:
      choices += ['Cell'] * 2
    k = self.r.choice(choices)
    if k == 'Dense':
      return {'op': 'Dense', 'features': self.w(), 'use_bias': self.r.random() < 0.8}
    if k == 'fn':
      return self.fn_op(shape)
    if k == 'pool':
      return self.pool_op(shape)
    if k == 'LayerNorm':
      return {'op': 'LayerNorm', 'epsilon': self.r.choice([1e-6, 1e-5]),
              'use_scale': self.r.random() < 0.8, 'use_bias': self.r.random() < 0.8}
    if k == 'RMSNorm':
      return {'op': 'RMSNorm', 'epsilon': self.r.choice([1e-6, 1e-5])}
    if k == 'BatchNorm':
      return {'op': 'BatchNorm', 'use_running_average': self.r.random() < 0.4,
              'use_scale': self.r.random() < 0.8, 'use_bias': self.r.random() < 0.8}
    if k == 'GroupNorm':
      divs = [g for g in range(1, f + 1) if f % g == 0]
      if self.r.random() < 0.3:
        return {'op': 'GroupNorm', 'group_size': self.r.choice(divs)}
      return {'op': 'GroupNorm', 'num_groups': self.r.choice(divs)}
    if k == 'Dropout':
      op = {'op': 'Dropout', 'rate': self.r.choice([0.1, 0.25, 0.5]),
            'deterministic': self.r.random() < 0.5}
      if self.r.random() < 0.2 and rank >= 2:
        op['broadcast_dims'] = [0]
      return op
    if k == 'DenseGeneral':
      if rank >= 3 and self.r.random() < 0.5:
        return {'op': 'DenseGeneral', 'features': [self.w()], 'axis': [-2, -1]}
      if rank <= 3 and self.r.random() < 0.5:
        return {'op': 'DenseGeneral', 'features': [self.r.choice([2, 4]), self.w()],
                'axis': [-1]}
      return {'op': 'DenseGeneral', 'features': [self.w()], 'axis': [-1]}
    if k == 'Einsum':
      letters = 'abcdefg'[:rank]
      eq = f'{letters},{letters[-1]}z->{letters[:-1]}z'
      return {'op': 'Einsum', 'shape': [f, self.w()], 'equation': eq,
              'use_bias': self.r.random() < 0.6}
    if k == 'EmbedAttend':
      return {'op': 'EmbedAttend', 'num_embeddings': self.w(), 'features': f}
    if k == 'Sequential':
      layers = []
      s, d = shape, dtype
      for _ in range(self.r.randint(1, 3)):
        o = self.r.choice([
          {'op': 'Dense', 'features': self.w(), 'use_bias': True},
          self.fn_op(s),
          {'op': 'LayerNorm', 'epsilon': 1e-6, 'use_scale': True, 'use_bias': True},
        ])
        layers.append(o)
        s, d = out_shape(o, s, d)
      return {'op': 'Sequential', 'layers': layers}
    if k in ('MHA', 'SelfAttention'):
      heads = self.r.choice([1, 2, 4, 8])
      qkv = heads * self.r.choice([1, 2, 4, 8, 16, 32, 64])
      op = {'op': k, 'num_heads': heads, 'qkv_features': qkv,
            'deterministic': self.r.random() < 0.6}
      if k == 'MHA':
        op['dropout_rate'] = self.r.choice([0.0, 0.1])
        if self.r.random() < 0.3:
          op['out_features'] = self.w()
      else:
        op['deterministic'] = True
      return op
    if k == 'RNN':
      return {'op': 'RNN', 'cell': self.r.choice(list(CELLS)), 'features': self.w()}
    if k == 'Cell':
      return {'op': 'Cell', 'cell': self.r.choice(list(CELLS)), 'features': self.w()}
    if k == 'Conv':
      return self.conv_op(shape)
    if k == 'ConvTranspose':
      return self.conv_op(shape, transpose=True)
    raise ValueError(k)

  def valid_op(self, shape, dtype, **kw):
    """A random op whose output is non-empty and not too big, with its shape."""
    for _ in range(30):
      try:
        # Inside the `try`: building a `Sequential` applies its layers, and a family's
        # function drawn there without its parameters fails like any invalid op.
        op = self.layer_op(shape, dtype, **kw)
        s, d = out_shape(op, shape, dtype)
      except Exception:
        continue
      if 0 < numel(s) <= MAX_ELEMS and all(x > 0 for x in s) and len(s) <= 5:
        return op, s, d
    op = {'op': 'fn', 'name': 'relu'}
    return op, shape, dtype

  # ------------------------------------------------------------ user modules
  def user(self, shape, dtype, level):
    """A random user module on `shape`; returns (spec, out shape, out dtype)."""
    kinds = ['Stack', 'Stack', 'SetupStack', 'SetupStack']
    if level < 2 and not dtype.startswith('int'):
      kinds += ['Residual', 'Shared', 'Branch']
    k = self.r.choice(kinds)
    if k in ('Stack', 'SetupStack'):
      ops = []
      s, d = shape, dtype
      for _ in range(self.r.randint(1, 3)):
        if level < 2 and not d.startswith('int') and self.r.random() < 0.25:
          spec, s2, d2 = self.user(s, d, level + 1)
          ops.append({'op': 'module', 'module': spec})
          s, d = s2, d2
          continue
        op, s, d = self.valid_op(s, d)
        if k == 'Stack' and is_module_op(op) and self.r.random() < 0.15:
          self.names += 1
          op['name'] = f'named_{self.names}'
        ops.append(op)
      return {'class': k, 'ops': ops}, s, d
    if k == 'Residual':
      body, s, d = self.user(shape, dtype, level + 1)
      if s == shape and d == dtype:
        return {'class': 'Residual', 'body': body}, shape, dtype
      return {'class': 'Residual', 'body': body}, s, d
    if k == 'Shared':
      for _ in range(20):
        op, s, d = self.valid_op(shape, dtype, allow_cells=True)
        if s == shape and d == dtype and is_module_op(op) and op['op'] != 'RNN':
          return {'class': 'Shared', 'op': op}, s, d
      op = {'op': 'Dense', 'features': shape[-1], 'use_bias': True}
      return {'class': 'Shared', 'op': op}, shape, dtype
    if k == 'Branch':
      left, s1, d1 = self.user(shape, dtype, level + 1)
      for _ in range(10):
        right, s2, d2 = self.user(shape, dtype, level + 1)
        if s2[:-1] == s1[:-1] and d1 == d2:
          s = s1[:-1] + [s1[-1] + s2[-1]]
          return {'class': 'Branch', 'left': left, 'right': right}, s, d1
      return self.user(shape, dtype, level)
    raise ValueError(k)

  def input(self):
    kind = self.r.choice(['vec', 'seq', 'seq', 'img', 'img', 'tokens'])
    b = self.r.choice(self.batch)
    if kind == 'vec':
      return [b, self.w()], 'float32'
    if kind == 'seq':
      return [b, self.r.choice(self.lengths), self.w()], 'float32'
    if kind == 'tokens':
      return [b, self.r.choice(self.lengths)], 'int32'
    h = self.r.choice(self.spatial)
    return [b, h, h, self.r.choice([1, 3] + self.widths[:3])], 'float32'


def max_depth(spec):
  """The deepest path length the model can produce (for choosing `depth`)."""
  if 'class' not in spec:
    return 1
  kids = []
  if spec['class'] in ('Stack', 'SetupStack'):
    kids = [o['module'] if o['op'] == 'module' else o for o in spec['ops']]
  elif spec['class'] == 'Residual':
    kids = [spec['body']]
  elif spec['class'] == 'Shared':
    kids = [spec['op']['module'] if spec['op']['op'] == 'module' else spec['op']]
  elif spec['class'] == 'Branch':
    kids = [spec['left'], spec['right']]
  return 1 + max((max_depth(k) for k in kids), default=0)


def make_case(index):
  prefix = f'{FAMILY}-' if FAMILY else ''
  r = random.Random(f'tabulate-differential-{prefix}{index}')
  scale = r.choice(['small', 'small', 'medium', 'medium', 'large', 'huge'])
  g = Gen(r, scale)
  shape, dtype = g.input()
  model, _, _ = g.user(shape, dtype, 0)
  md = max_depth(model)
  depth = None if r.random() < 0.5 else r.randint(0, md)
  show_repeated = r.random() < 0.5
  text = json.dumps(model)
  if '"RNN"' in text or any(f'"{k}"' in text for k in getattr(FAM, 'LIFTED', ())):
    # Flax 0.12.8 cannot tabulate an `nn.RNN` with show_repeated=True: the scan's
    # `<lambda>` call of the cell is a repeated row whose FLOPs it then fails to compute.
    # A family lists its ops that scan the same way in `LIFTED`.
    show_repeated = False
  return {
    'id': f'{prefix}c{index:04d}',
    'scale': scale,
    'input': {'dtype': dtype, 'shape': shape},
    'depth': depth,
    'show_repeated': show_repeated,
    'model': model,
  }


# ===================================================================== Flax's rows
def text(x):
  """Canonical text of a value as Flax's table holds it."""
  if isinstance(x, fs._ArrayRepresentation):
    return f"{jnp.dtype(x.dtype).name}[{','.join(str(d) for d in x.shape)}]"
  if isinstance(x, fs._PartitionedArrayRepresentation):  # `nn.with_partitioning`
    return f'{text(x.array_representation)} P{x.names}'
  if isinstance(x, flax_meta.Partitioned):  # a row's own variables hold the box itself
    return f'{text(x.value)} P{x.names}'
  if isinstance(x, fs._ObjectRepresentation):
    return repr(x.obj)
  if isinstance(x, (tuple, list)):
    return '[' + ', '.join(text(v) for v in x) + ']'
  if isinstance(x, Mapping):
    return '{' + ', '.join(f'{k}: {text(v)}' for k, v in x.items()) + '}'
  if x is None:
    return 'None'
  if hasattr(x, 'shape') and hasattr(x, 'dtype'):
    return f"{jnp.dtype(x.dtype).name}[{','.join(str(d) for d in x.shape)}]"
  return repr(x)


def leaves(tree, path=()):
  """`name: dtype[shape]` of every leaf, sorted by `/`-joined path."""
  if isinstance(tree, Mapping):
    return [line for k in sorted(tree) for line in leaves(tree[k], path + (str(k),))]
  return [f"{'/'.join(path)}: {text(tree)}"]


def render_row(row, collections):
  sizes = row.size_and_bytes(collections)
  return {
    'path': '/'.join(row.path),
    'module_type': type(row.module_copy).__name__,
    'method': row.method,
    'inputs': text(row.inputs),
    'outputs': text(row.outputs),
    'flops': int(row.flops),
    'vjp_flops': int(row.vjp_flops),
    'variables': {
      col: {
        'leaves': leaves(row.module_variables.get(col, {})),
        'count': int(sizes[col][0]),
        'bytes': int(sizes[col][1]),
      }
      for col in collections
    },
  }


def run_flax(case):
  model = build_user(case['model'])
  x = jnp.zeros(case['input']['shape'], jnp.dtype(case['input']['dtype']))
  table = fs._get_module_table(
    model, depth=case['depth'], show_repeated=case['show_repeated'],
    compute_flops=True, compute_vjp_flops=True,
  )(RNGS(), x)
  cols = sorted(table.collections)
  return cols, [render_row(r, cols) for r in table]


def run_index(index):
  """Case `index` with Flax's rows, or None when Flax rejects the generated model."""
  t = time.time()
  case = make_case(index)
  try:
    case['collections'], case['rows'] = run_flax(case)
  except Exception as e:  # a generated model Flax rejects: skip it, reproducibly
    print(f"{case['id']} skipped: {type(e).__name__}: {str(e)[:200]}", file=sys.stderr)
    return None
  print(f"{case['id']} {case['scale']:6s} {len(case['rows']):3d} rows "
        f"{time.time() - t:6.2f}s", file=sys.stderr, flush=True)
  return case


def main():
  n = int(sys.argv[1]) if len(sys.argv) > 1 else 320
  workers = int(os.environ.get('WORKERS', '2'))
  os.makedirs(OUT_DIR, exist_ok=True)
  t0 = time.time()
  # DIFF_START: the first candidate index (a fresh range gives models the suite has not seen).
  cases, index = [], int(os.environ.get('DIFF_START', '0'))
  ctx = multiprocessing.get_context('spawn')
  with ctx.Pool(workers) as pool:
    while len(cases) < n:
      # Candidates in index order; the first n that Flax accepts are the suite.
      batch = range(index, index + (n - len(cases)) + 8)
      index = batch.stop
      results = pool.map(run_index, batch, chunksize=1)
      cases += [c for c in results if c is not None]
  cases = cases[:n]
  skipped = int(cases[-1]['id'].rsplit('c', 1)[1]) + 1 - n - int(os.environ.get('DIFF_START', '0'))
  # The base suite is `cases_NN.json`; a family's is `cases_<family>_NN.json`.
  stem = f'cases_{FAMILY}_' if FAMILY else 'cases_'
  for f in os.listdir(OUT_DIR):
    rest = f[len(stem):-len('.json')] if f.startswith(stem) and f.endswith('.json') else ''
    if rest.isdigit():
      os.remove(os.path.join(OUT_DIR, f))
  for i in range(0, len(cases), PER_FILE):
    path = os.path.join(OUT_DIR, f'{stem}{i // PER_FILE:02d}.json')
    with open(path, 'w') as f:
      f.write('{"generator": "scripts/differential.py", "cases": [\n')
      f.write(',\n'.join(json.dumps(c, sort_keys=True) for c in cases[i:i + PER_FILE]))
      f.write('\n]}\n')
  print(f'wrote {len(cases)} cases ({skipped} generated models skipped) to '
        f'{os.path.relpath(OUT_DIR, ROOT)} in {time.time() - t0:.0f}s', file=sys.stderr)


if __name__ == '__main__':
  main()
