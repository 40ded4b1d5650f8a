"""Reference rows of Flax's table builder for single layers and functions.

Writes tests/golden/layers.json: for each case, every row that
`flax.linen.summary._get_module_table` (what `nn.tabulate` uses) produces, with
path, module type, method, flops, vjp_flops, outputs and the row's own variables.
All numbers are Flax's own; nothing is computed by formula here.

Run (from the repository root):

    PYTHONHASHSEED=0 JAX_PLATFORMS=cpu ../pyenv/bin/python scripts/layer_cases.py

Reference environment: jax 0.10.2, flax 0.12.8, rich 15.0.0 (CPU).
"""

import functools
import json
import os
import sys
from collections.abc import Mapping
from typing import Any

os.environ.setdefault('JAX_PLATFORMS', 'cpu')

import jax
import jax.numpy as jnp
import flax.linen
import flax.linen as nn
from flax.linen import summary as fs

OUT = os.path.join(
  os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
  'tests', 'golden', 'layers.json',
)


# ----------------------------------------------------------------- wrappers
class Fn(nn.Module):
  """A parameter-free function as a module: the case is the `Fn` root row."""

  fn: Any

  @nn.compact
  def __call__(self, *a, **k):
    return self.fn(*a, **k)


class EmbedAttend(nn.Module):
  """Fallback for `embed_attend` if `method='attend'` cannot be tabulated."""

  @nn.compact
  def __call__(self, idx, q):
    e = nn.Embed(10, 3)
    e(idx)
    return e.attend(q)


class CrossMaskMHA(nn.Module):
  @nn.compact
  def __call__(self, q, kv):
    mask = nn.make_attention_mask(jnp.ones(q.shape[:2]), jnp.ones(kv.shape[:2]))
    return nn.MultiHeadDotProductAttention(num_heads=2, qkv_features=8)(
      q, kv, mask=mask, deterministic=True
    )


class DPAMask(nn.Module):
  @nn.compact
  def __call__(self, q, k, v):
    mask = nn.make_causal_mask(jnp.ones((2, 7), jnp.int32))
    return nn.dot_product_attention(q, k, v, mask=mask)


class RNNParent(nn.Module):
  """`nn.RNN(cell)(x)` inside a compact parent, as EmbedLSTM does."""

  cell: str
  features: int

  @nn.compact
  def __call__(self, x):
    cell_cls = {'lstm': nn.LSTMCell, 'gru': nn.GRUCell, 'simple': nn.SimpleCell}[
      self.cell
    ]
    return nn.RNN(cell_cls(features=self.features))(x)


class SequentialParent(nn.Module):
  @nn.compact
  def __call__(self, x):
    return nn.Sequential([nn.Dense(5), nn.relu, nn.Dense(3)])(x)


# ----------------------------------------------------------------- cases
def A(shape, dtype='float32', zeros=False):
  d = {'dtype': dtype, 'shape': list(shape)}
  if zeros:
    d['_zeros'] = True  # internal: filled with zeros; stripped from the JSON
  return d


def Z(shape, dtype='float32'):
  return A(shape, dtype, zeros=True)


F32 = 'float32'
I32 = 'int32'
DROPOUT_RNGS = 'dropout'  # {'params': key(0), 'dropout': key(1)}


def case(name, description, module, inputs, kwargs=None, rngs='default', method=None):
  return dict(
    name=name,
    description=description,
    module=module,
    inputs=inputs,
    kwargs=kwargs or {},
    rngs=rngs,
    method=method,
  )


P = functools.partial


def build_cases():
  C = []
  add = lambda *a, **k: C.append(case(*a, **k))
  det = {'deterministic': True}
  train = {'deterministic': False}

  # Dense
  add('dense_16x9_4', 'nn.Dense(4) on float32[16,9]', nn.Dense(4), [A((16, 9))])
  add('dense_3d', 'nn.Dense(7) on float32[2,3,5]', nn.Dense(7), [A((2, 3, 5))])
  add('dense_nobias', 'nn.Dense(5, use_bias=False) on float32[4,6]',
      nn.Dense(5, use_bias=False), [A((4, 6))])
  add('dense_bf16_params', 'nn.Dense(16, param_dtype=jnp.bfloat16) on float32[4,8]',
      nn.Dense(16, param_dtype=jnp.bfloat16), [A((4, 8))])
  add('dense_bf16_compute', 'nn.Dense(5, dtype=jnp.bfloat16) on float32[2,9]',
      nn.Dense(5, dtype=jnp.bfloat16), [A((2, 9))])

  # DenseGeneral
  add('dg_features2', 'nn.DenseGeneral(features=(4,16)) on float32[2,16,64]',
      nn.DenseGeneral(features=(4, 16)), [A((2, 16, 64))])
  add('dg_axis2', 'nn.DenseGeneral(64, axis=(-2,-1)) on float32[2,16,4,16]',
      nn.DenseGeneral(64, axis=(-2, -1)), [A((2, 16, 4, 16))])
  add('dg_both', 'nn.DenseGeneral((2,7), axis=(-2,-1)) on float32[3,5,6]',
      nn.DenseGeneral((2, 7), axis=(-2, -1)), [A((3, 5, 6))])
  add('dg_batch_dims', 'nn.DenseGeneral(5, axis=-1, batch_dims=(0,)) on float32[3,4,6]',
      nn.DenseGeneral(5, axis=-1, batch_dims=(0,)), [A((3, 4, 6))])

  # Einsum
  add('einsum_bias', "nn.Einsum((5,3,4), 'abc,cde->abde') on float32[2,7,5]",
      nn.Einsum((5, 3, 4), 'abc,cde->abde'), [A((2, 7, 5))])
  add('einsum_nobias',
      "nn.Einsum((5,3,4), 'abc,cde->abde', use_bias=False) on float32[2,7,5]",
      nn.Einsum((5, 3, 4), 'abc,cde->abde', use_bias=False), [A((2, 7, 5))])

  # Embed
  add('embed_4x12', 'nn.Embed(1000,32) on int32[4,12] (zeros)',
      nn.Embed(1000, 32), [A((4, 12), I32)])
  add('embed_small', 'nn.Embed(10,3) on int32[7] (zeros)',
      nn.Embed(10, 3), [A((7,), I32)])
  add('embed_3d', 'nn.Embed(20,5) on int32[2,3,4] (zeros)',
      nn.Embed(20, 5), [A((2, 3, 4), I32)])
  add('embed_attend', "nn.Embed(10,3) tabulated with method='attend' on float32[2,3]",
      nn.Embed(10, 3), [A((2, 3))], method='attend')

  # Conv
  add('conv_same', 'nn.Conv(32,(3,3)) on float32[4,28,28,1]',
      nn.Conv(32, (3, 3)), [A((4, 28, 28, 1))])
  add('conv_valid_1d', "nn.Conv(4,(5,),strides=3,padding='VALID') on float32[3,17,5]",
      nn.Conv(4, (5,), strides=3, padding='VALID'), [A((3, 17, 5))])
  add('conv_stride2_nobias', 'nn.Conv(32,(3,3),(2,2),use_bias=False) on float32[2,32,32,16]',
      nn.Conv(32, (3, 3), (2, 2), use_bias=False), [A((2, 32, 32, 16))])
  add('conv_grouped', 'nn.Conv(6,(3,3),feature_group_count=3) on float32[2,9,9,6]',
      nn.Conv(6, (3, 3), feature_group_count=3), [A((2, 9, 9, 6))])
  add('conv_depthwise', 'nn.Conv(8,(3,3),feature_group_count=8) on float32[2,8,8,8]',
      nn.Conv(8, (3, 3), feature_group_count=8), [A((2, 8, 8, 8))])
  add('conv_kernel_dilation', 'nn.Conv(4,(3,3),kernel_dilation=2) on float32[1,10,10,3]',
      nn.Conv(4, (3, 3), kernel_dilation=2), [A((1, 10, 10, 3))])
  add('conv_input_dilation',
      "nn.Conv(4,(3,3),input_dilation=2,padding='VALID') on float32[1,5,5,3]",
      nn.Conv(4, (3, 3), input_dilation=2, padding='VALID'), [A((1, 5, 5, 3))])
  add('conv_explicit_pad', 'nn.Conv(3,(2,2),padding=((1,0),(0,2))) on float32[2,7,7,2]',
      nn.Conv(3, (2, 2), padding=((1, 0), (0, 2))), [A((2, 7, 7, 2))])
  add('conv_circular', "nn.Conv(4,(3,3),padding='CIRCULAR') on float32[1,6,6,2]",
      nn.Conv(4, (3, 3), padding='CIRCULAR'), [A((1, 6, 6, 2))])
  add('conv_3d', "nn.Conv(3,(2,2,2),padding='VALID') on float32[1,4,4,4,2]",
      nn.Conv(3, (2, 2, 2), padding='VALID'), [A((1, 4, 4, 4, 2))])
  add('conv_no_batch', 'nn.Conv(4,(3,3)) on float32[8,8,3] (unbatched input)',
      nn.Conv(4, (3, 3)), [A((8, 8, 3))])

  # ConvTranspose
  add('convt_same_s2', 'nn.ConvTranspose(8,(3,3),strides=(2,2)) on float32[2,5,5,4]',
      nn.ConvTranspose(8, (3, 3), strides=(2, 2)), [A((2, 5, 5, 4))])
  add('convt_valid', "nn.ConvTranspose(4,(3,3),padding='VALID') on float32[1,6,6,2]",
      nn.ConvTranspose(4, (3, 3), padding='VALID'), [A((1, 6, 6, 2))])
  add('convt_1d', 'nn.ConvTranspose(3,(4,),strides=(2,)) on float32[2,9,5]',
      nn.ConvTranspose(3, (4,), strides=(2,)), [A((2, 9, 5))])
  add('convt_dilated', 'nn.ConvTranspose(4,(3,3),kernel_dilation=(2,2)) on float32[1,6,6,2]',
      nn.ConvTranspose(4, (3, 3), kernel_dilation=(2, 2)), [A((1, 6, 6, 2))])
  add('convt_transpose_kernel',
      'nn.ConvTranspose(4,(3,3),strides=(2,2),transpose_kernel=True) on float32[1,5,5,2]',
      nn.ConvTranspose(4, (3, 3), strides=(2, 2), transpose_kernel=True),
      [A((1, 5, 5, 2))])

  # Norms
  add('bn_train', 'nn.BatchNorm(use_running_average=False) on float32[2,8,8,16]',
      nn.BatchNorm(use_running_average=False), [A((2, 8, 8, 16))])
  add('bn_eval', 'nn.BatchNorm(use_running_average=True) on float32[2,8,8,16]',
      nn.BatchNorm(use_running_average=True), [A((2, 8, 8, 16))])
  add('bn_train_2d', 'nn.BatchNorm(use_running_average=False) on float32[5,7]',
      nn.BatchNorm(use_running_average=False), [A((5, 7))])
  add('bn_noscale',
      'nn.BatchNorm(use_running_average=False, use_scale=False, use_bias=False) on float32[4,6]',
      nn.BatchNorm(use_running_average=False, use_scale=False, use_bias=False),
      [A((4, 6))])
  add('ln', 'nn.LayerNorm() on float32[2,16,64]', nn.LayerNorm(), [A((2, 16, 64))])
  add('ln_eps', 'nn.LayerNorm(epsilon=1e-5) on float32[3,5,7]',
      nn.LayerNorm(epsilon=1e-5), [A((3, 5, 7))])
  add('ln_nobias', 'nn.LayerNorm(use_bias=False) on float32[4,8]',
      nn.LayerNorm(use_bias=False), [A((4, 8))])
  add('rms', 'nn.RMSNorm() on float32[2,16,64]', nn.RMSNorm(), [A((2, 16, 64))])
  add('rms_small', 'nn.RMSNorm() on float32[3,5,7]', nn.RMSNorm(), [A((3, 5, 7))])
  add('gn4', 'nn.GroupNorm(num_groups=4) on float32[2,8,8,16]',
      nn.GroupNorm(num_groups=4), [A((2, 8, 8, 16))])
  add('gn3', 'nn.GroupNorm(num_groups=3) on float32[3,5,12]',
      nn.GroupNorm(num_groups=3), [A((3, 5, 12))])
  add('gn_instance', 'nn.GroupNorm(num_groups=8) on float32[2,4,4,8]',
      nn.GroupNorm(num_groups=8), [A((2, 4, 4, 8))])
  add('gn_layer', 'nn.GroupNorm(num_groups=1) on float32[2,4,4,8]',
      nn.GroupNorm(num_groups=1), [A((2, 4, 4, 8))])
  add('gn_group_size', 'nn.GroupNorm(num_groups=None, group_size=2) on float32[2,4,4,8]',
      nn.GroupNorm(num_groups=None, group_size=2), [A((2, 4, 4, 8))])

  # Attention
  MHA = nn.MultiHeadDotProductAttention
  add('mha_self',
      'nn.MultiHeadDotProductAttention(num_heads=4, qkv_features=64)(x, deterministic=True) on float32[2,16,64]',
      MHA(num_heads=4, qkv_features=64), [A((2, 16, 64))], det)
  add('mha_small',
      'nn.MultiHeadDotProductAttention(num_heads=2, qkv_features=8)(x, deterministic=True) on float32[3,5,12]',
      MHA(num_heads=2, qkv_features=8), [A((3, 5, 12))], det)
  add('mha_out',
      'nn.MultiHeadDotProductAttention(num_heads=2, qkv_features=8, out_features=5)(x, deterministic=True) on float32[2,3,4,6]',
      MHA(num_heads=2, qkv_features=8, out_features=5), [A((2, 3, 4, 6))], det)
  add('mha_cross_mask',
      'wrapper: mask = nn.make_attention_mask(ones(q.shape[:2]), ones(kv.shape[:2])); '
      'nn.MultiHeadDotProductAttention(num_heads=2, qkv_features=8)(q, kv, mask=mask, deterministic=True); '
      'q float32[2,5,6], kv float32[2,7,6]',
      CrossMaskMHA(), [A((2, 5, 6)), A((2, 7, 6))])
  add('mha_dropout',
      'nn.MultiHeadDotProductAttention(num_heads=2, qkv_features=8, dropout_rate=0.1)(x, deterministic=False) '
      "on float32[2,4,6]; rngs {'params': key(0), 'dropout': key(1)}",
      MHA(num_heads=2, qkv_features=8, dropout_rate=0.1), [A((2, 4, 6))], train,
      rngs=DROPOUT_RNGS)
  add('self_attention',
      'nn.SelfAttention(num_heads=2, qkv_features=8)(x, deterministic=True) on float32[2,5,6]',
      nn.SelfAttention(num_heads=2, qkv_features=8), [A((2, 5, 6))], det)
  add('dpa', 'Fn(nn.dot_product_attention) on q, k, v float32[2,7,3,4]',
      Fn(nn.dot_product_attention), [A((2, 7, 3, 4))] * 3)
  add('dpa_mask',
      'wrapper: mask = nn.make_causal_mask(ones((2,7), int32)); '
      'nn.dot_product_attention(q, k, v, mask=mask) on q, k, v float32[2,7,3,4]',
      DPAMask(), [A((2, 7, 3, 4))] * 3)
  add('dpa_weights', 'Fn(nn.dot_product_attention_weights) on q, k float32[2,7,3,4]',
      Fn(nn.dot_product_attention_weights), [A((2, 7, 3, 4))] * 2)
  add('causal_mask', 'Fn(nn.make_causal_mask) on int32[2,7] (zeros)',
      Fn(nn.make_causal_mask), [A((2, 7), I32)])
  add('attention_mask', 'Fn(nn.make_attention_mask) on int32[2,5], int32[2,7] (zeros)',
      Fn(nn.make_attention_mask), [A((2, 5), I32), A((2, 7), I32)])

  # Recurrent cells: inputs are (carry, x)
  add('lstm_cell', 'nn.LSTMCell(64)(carry, x), carry (zeros float32[4,64], zeros float32[4,64]), x float32[4,32]',
      nn.LSTMCell(64), [[Z((4, 64)), Z((4, 64))], A((4, 32))])
  add('lstm_cell_small', 'nn.LSTMCell(5)(carry, x), carry (zeros float32[2,5] x2), x float32[2,3]',
      nn.LSTMCell(5), [[Z((2, 5)), Z((2, 5))], A((2, 3))])
  add('gru_cell', 'nn.GRUCell(6)(carry, x), carry zeros float32[3,6], x float32[3,4]',
      nn.GRUCell(6), [Z((3, 6)), A((3, 4))])
  add('simple_cell', 'nn.SimpleCell(6)(carry, x), carry zeros float32[3,6], x float32[3,4]',
      nn.SimpleCell(6), [Z((3, 6)), A((3, 4))])
  add('rnn_lstm', 'parent: nn.RNN(nn.LSTMCell(64))(x) on float32[4,12,32]',
      RNNParent('lstm', 64), [A((4, 12, 32))])
  add('rnn_lstm_small', 'parent: nn.RNN(nn.LSTMCell(5))(x) on float32[2,5,3]',
      RNNParent('lstm', 5), [A((2, 5, 3))])
  add('rnn_gru', 'parent: nn.RNN(nn.GRUCell(6))(x) on float32[3,7,4]',
      RNNParent('gru', 6), [A((3, 7, 4))])
  add('rnn_simple', 'parent: nn.RNN(nn.SimpleCell(6))(x) on float32[3,7,4]',
      RNNParent('simple', 6), [A((3, 7, 4))])

  # Dropout and combinators
  add('dropout_det', 'nn.Dropout(0.1)(x, deterministic=True) on float32[2,16,64]',
      nn.Dropout(0.1), [A((2, 16, 64))], det)
  add('dropout_train',
      "nn.Dropout(0.5)(x, deterministic=False) on float32[4,8]; rngs {'params': key(0), 'dropout': key(1)}",
      nn.Dropout(0.5), [A((4, 8))], train, rngs=DROPOUT_RNGS)
  add('dropout_train_big',
      "nn.Dropout(0.1)(x, deterministic=False) on float32[2,16,64]; rngs {'params': key(0), 'dropout': key(1)}",
      nn.Dropout(0.1), [A((2, 16, 64))], train, rngs=DROPOUT_RNGS)
  add('dropout_broadcast',
      "nn.Dropout(0.5, broadcast_dims=(0,))(x, deterministic=False) on float32[4,8]; "
      "rngs {'params': key(0), 'dropout': key(1)}",
      nn.Dropout(0.5, broadcast_dims=(0,)), [A((4, 8))], train, rngs=DROPOUT_RNGS)
  add('sequential', 'parent: nn.Sequential([nn.Dense(5), nn.relu, nn.Dense(3)])(x) on float32[2,4]',
      SequentialParent(), [A((2, 4))])

  # Functions, each wrapped in Fn
  fns = [
    ('relu', nn.relu, 'nn.relu', (8, 128)),
    ('gelu', P(nn.gelu, approximate=True), 'nn.gelu (approximate=True)', (8, 128)),
    ('gelu_exact', P(nn.gelu, approximate=False), 'nn.gelu (approximate=False)', (3, 5)),
    ('silu', nn.silu, 'nn.silu', (3, 5)),
    ('swish', nn.swish, 'nn.swish', (3, 5)),
    ('sigmoid', nn.sigmoid, 'nn.sigmoid', (3, 5)),
    ('tanh', nn.tanh, 'nn.tanh', (3, 5)),
    ('softmax', nn.softmax, 'nn.softmax', (8, 128)),
    ('softmax_axis0', P(nn.softmax, axis=0), 'nn.softmax (axis=0)', (3, 5)),
    ('log_softmax', nn.log_softmax, 'nn.log_softmax', (3, 5)),
    ('elu', nn.elu, 'nn.elu', (3, 5)),
    ('leaky_relu', nn.leaky_relu, 'nn.leaky_relu', (3, 5)),
    ('softplus', nn.softplus, 'nn.softplus', (3, 5)),
    ('avg_pool_2x2', P(nn.avg_pool, window_shape=(2, 2), strides=(2, 2)),
     'nn.avg_pool window (2,2) strides (2,2)', (4, 28, 28, 32)),
    ('avg_pool_3x3_s2', P(nn.avg_pool, window_shape=(3, 3), strides=(2, 2)),
     'nn.avg_pool window (3,3) strides (2,2)', (2, 9, 9, 3)),
    ('avg_pool_same', P(nn.avg_pool, window_shape=(3, 3), strides=(1, 1), padding='SAME'),
     "nn.avg_pool window (3,3) strides (1,1) padding 'SAME'", (2, 8, 8, 3)),
    ('avg_pool_same_exclude',
     P(nn.avg_pool, window_shape=(3, 3), strides=(1, 1), padding='SAME',
       count_include_pad=False),
     "nn.avg_pool window (3,3) strides (1,1) padding 'SAME' count_include_pad=False",
     (2, 8, 8, 3)),
    ('max_pool_2x2', P(nn.max_pool, window_shape=(2, 2), strides=(2, 2)),
     'nn.max_pool window (2,2) strides (2,2)', (2, 8, 8, 3)),
    ('max_pool_same', P(nn.max_pool, window_shape=(3, 3), strides=(1, 1), padding='SAME'),
     "nn.max_pool window (3,3) strides (1,1) padding 'SAME'", (1, 5, 5, 1)),
    ('min_pool', P(flax.linen.pooling.min_pool, window_shape=(2, 2), strides=(2, 2)),
     'flax.linen.pooling.min_pool window (2,2) strides (2,2)', (2, 8, 8, 3)),
  ]
  for name, fn, what, shape in fns:
    add(name, f'Fn({what}) on float32[{",".join(map(str, shape))}]', Fn(fn), [A(shape)])
  return C


# ----------------------------------------------------------------- running
def make_input(spec):
  if isinstance(spec, list):
    return tuple(make_input(s) for s in spec)
  dtype = jnp.dtype(spec['dtype'])
  if spec.get('_zeros') or jnp.issubdtype(dtype, jnp.integer):
    return jnp.zeros(spec['shape'], dtype)
  return jnp.ones(spec['shape'], dtype)


def public_inputs(specs):
  if isinstance(specs, list):
    return [public_inputs(s) for s in specs]
  return {k: v for k, v in specs.items() if not k.startswith('_')}


def make_rngs(kind):
  if kind == DROPOUT_RNGS:
    return {'params': jax.random.key(0), 'dropout': jax.random.key(1)}
  return jax.random.key(0)


def call_args(c):
  args = [make_input(s) for s in c['inputs']]
  kwargs = dict(c['kwargs'])
  if c['method'] is not None:
    kwargs['method'] = c['method']
  return make_rngs(c['rngs']), args, kwargs


def run_table(c, show_repeated=True):
  rngs, args, kwargs = call_args(c)
  return fs._get_module_table(
    c['module'], depth=None, show_repeated=show_repeated, compute_flops=True,
    compute_vjp_flops=True,
  )(rngs, *args, **kwargs)


def spec(shape, dtype):
  return {'dtype': str(jnp.dtype(dtype)), 'shape': [int(d) for d in shape]}


def render_tree(x):
  if isinstance(x, fs._ArrayRepresentation):
    return spec(x.shape, x.dtype)
  if isinstance(x, fs._PartitionedArrayRepresentation):
    d = render_tree(x.array_representation)
    d['names'] = list(x.names)
    return d
  if isinstance(x, fs._ObjectRepresentation):
    return {'repr': repr(x.obj)}
  if isinstance(x, (tuple, list)):
    return [render_tree(v) for v in x]
  if isinstance(x, Mapping):
    return {str(k): render_tree(v) for k, v in x.items()}
  if x is None:
    return None
  if hasattr(x, 'shape') and hasattr(x, 'dtype'):
    return spec(x.shape, x.dtype)
  return {'repr': repr(x)}


def render_row(row):
  return {
    'path': '/'.join(row.path),
    'module_type': type(row.module_copy).__name__,
    'method': row.method,
    'flops': int(row.flops),
    'vjp_flops': int(row.vjp_flops),
    'outputs': render_tree(row.outputs),
    'variables': {
      str(col): render_tree(v) for col, v in row.module_variables.items()
    },
  }


def run_case(c):
  out = {
    'name': c['name'],
    'description': c['description'],
    'inputs': public_inputs(c['inputs']),
    'kwargs': c['kwargs'],
  }
  if c['rngs'] == DROPOUT_RNGS:
    out['rngs'] = {'params': 'jax.random.key(0)', 'dropout': 'jax.random.key(1)'}
  if c['method'] is not None:
    out['method'] = c['method']
  try:
    table = run_table(c)
    out['rows'] = [render_row(r) for r in table]
  except Exception as e:  # record Flax's failure and go on
    out['error'] = f'{type(e).__name__}: {e}'
    # Supplementary data: if the same call works with show_repeated=False
    # (the nn.tabulate default), keep those rows too, under a separate key.
    try:
      table = run_table(c, show_repeated=False)
      out['rows_show_repeated_false'] = [render_row(r) for r in table]
    except Exception:
      pass
  return out


def embed_attend_fallback():
  """Used only if `method='attend'` fails inside Flax."""
  return case(
    'embed_attend',
    "wrapper: e = nn.Embed(10,3); e(idx); e.attend(q); idx int32[2] (zeros), q float32[2,3]"
    " (fallback: tabulating nn.Embed with method='attend' failed)",
    EmbedAttend(), [A((2,), I32), A((2, 3))],
  )


def main():
  results = []
  for c in build_cases():
    r = run_case(c)
    if c['name'] == 'embed_attend' and 'error' in r:
      first_error = r['error']
      r = run_case(embed_attend_fallback())
      r['attend_method_error'] = first_error
    status = r.get('error') or f"{len(r['rows'])} rows"
    print(f"{r['name']:24s} {status}", file=sys.stderr)
    results.append(r)
  os.makedirs(os.path.dirname(OUT), exist_ok=True)
  with open(OUT, 'w') as f:
    json.dump({'cases': results}, f, indent=1)
    f.write('\n')
  n_err = sum('error' in r for r in results)
  print(f'wrote {OUT}: {len(results)} cases, {len(results) - n_err} ok, {n_err} errors',
        file=sys.stderr)


if __name__ == '__main__':
  main()
