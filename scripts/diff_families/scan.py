"""Differential family `scan`: the lifted `nn.scan`, `nn.RNN`'s options and
`nn.Bidirectional` (issue 8 item 4).

Ops (see `scripts/differential.py` for the mechanism):

- `Scan`: `nn.scan(Target, ...)` of a user cell `Cell` (`Dense(x) + Dense(c)`, an
  activation, an optional output `Dense`), of a built-in cell (`LSTMCell`, `GRUCell`,
  `SimpleCell`), or of a residual `Block` scanned `length` times with no scanned input
  (`Block()(x, None)`). Options: `variable_broadcast='params'` (with
  `split_rngs={'params': False}`) or `variable_axes={'params': a}` (with
  `split_rngs={'params': True}`), `in_axes`, `out_axes`, `reverse`. The carry is zeros
  (two arrays for an LSTM); the op's result is the stacked outputs.
- `RNNx`: `nn.RNN(cell)` with `time_major`, `reverse`, `keep_order` and `return_carry`
  given at construction or at the call (`"at"`); with `return_carry` the op continues with
  the outputs.
- `Bidir`: `nn.Bidirectional(nn.RNN(cell_f), nn.RNN(cell_b))` with `time_major` and
  `return_carry` at construction.
"""

import json

import flax.linen as nn
import jax.numpy as jnp

CELLS = {'lstm': nn.LSTMCell, 'gru': nn.GRUCell, 'simple': nn.SimpleCell}
ACTS = {'tanh': nn.tanh, 'relu': nn.relu, 'sigmoid': nn.sigmoid, 'gelu': nn.gelu}

# Ops whose scan records Flax's `<lambda>` call: no `show_repeated` with FLOPs.
LIFTED = ('Scan', 'RNNx', 'Bidir')


class Cell(nn.Module):
  """A user cell: `h = act(Dense(x) + Dense(c, no bias))`, `y = Dense(h)` or `h`."""

  spec: str

  @nn.compact
  def __call__(self, c, x):
    s = json.loads(self.spec)
    h = nn.Dense(s['features'])(x) + nn.Dense(s['features'], use_bias=False)(c)
    h = ACTS[s['act']](h)
    y = nn.Dense(s['out'], use_bias=s['out_bias'])(h) if s['out'] else h
    return h, y


class Block(nn.Module):
  """A residual block scanned over layers: `(x + act(Dense(x)) [LayerNorm], None)`."""

  spec: str

  @nn.compact
  def __call__(self, x, _):
    s = json.loads(self.spec)
    h = ACTS[s['act']](nn.Dense(x.shape[-1])(x))
    if s['norm']:
      h = nn.LayerNorm()(h)
    return x + h, None


def norm(axis, rank):
  return axis + rank if axis < 0 else axis


def ops(gen, shape, dtype):
  if dtype != 'float32':
    return None
  r = gen.r
  rank = len(shape)
  kinds = ['block']
  if rank >= 3:
    kinds += ['cell', 'cell', 'cell', 'lstm', 'gru', 'simple', 'RNNx', 'RNNx', 'RNNx', 'Bidir', 'Bidir']
  kind = r.choice(kinds)
  if kind == 'RNNx':
    op = {'op': 'RNNx', 'cell': r.choice(list(CELLS)), 'features': gen.w(),
          'at': r.choice(['init', 'call']), 'opts': {}}
    for k in ('return_carry', 'time_major', 'reverse', 'keep_order'):
      if r.random() < 0.6:
        op['opts'][k] = r.random() < 0.6
    return op
  if kind == 'Bidir':
    return {'op': 'Bidir', 'cell_f': r.choice(list(CELLS)), 'cell_b': r.choice(list(CELLS)),
            'features_f': gen.w(), 'features_b': gen.w(),
            'time_major': r.random() < 0.3, 'return_carry': r.random() < 0.4}
  mode = r.choice(['broadcast', 'axes'])
  op = {'op': 'Scan', 'kind': kind, 'mode': mode, 'reverse': r.random() < 0.3,
        'act': r.choice(list(ACTS))}
  if mode == 'axes':
    op['var_axis'] = r.choice([0, 0, 1])
  if kind == 'block':
    op['length'] = r.choice([2, 3, 4])
    op['norm'] = r.random() < 0.4
    return op
  op['in_axis'] = r.choice([0, rank - 2, -2])
  op['out_axis'] = r.choice([op['in_axis'], op['in_axis'], 0, 1])
  op['features'] = gen.w()
  if kind == 'cell':
    op['out'] = gen.w() if r.random() < 0.6 else None
    op['out_bias'] = r.random() < 0.7
  return op


def scan_target(op):
  if op['kind'] == 'cell':
    return Cell
  if op['kind'] == 'block':
    return Block
  return CELLS[op['kind']]


def build_scan(op, kw):
  if op['mode'] == 'broadcast':
    lifted = {'variable_broadcast': 'params', 'split_rngs': {'params': False}}
  else:
    lifted = {'variable_axes': {'params': op['var_axis']}, 'split_rngs': {'params': True}}
  if op['kind'] == 'block':
    axes = {'length': op['length']}
  else:
    axes = {'in_axes': op['in_axis'], 'out_axes': op['out_axis']}
  Scanned = nn.scan(scan_target(op), reverse=op['reverse'], **lifted, **axes)
  if op['kind'] == 'cell':
    spec = {k: op[k] for k in ('features', 'act', 'out', 'out_bias')}
    return Scanned(json.dumps(spec, sort_keys=True), **kw)
  if op['kind'] == 'block':
    return Scanned(json.dumps({'act': op['act'], 'norm': op['norm']}, sort_keys=True), **kw)
  return Scanned(features=op['features'], **kw)


def call_scan(m, op, x):
  if op['kind'] == 'block':
    y, _ = m(x, None)
    return y
  step = list(x.shape)
  del step[norm(op['in_axis'], x.ndim)]
  carry_shape = tuple(step[:-1] + [op['features']])
  if op['kind'] == 'lstm':
    c = (jnp.zeros(carry_shape, x.dtype), jnp.zeros(carry_shape, x.dtype))
  else:
    c = jnp.zeros(carry_shape, x.dtype)
  _, ys = m(c, x)
  return ys


def build_rnn(op, kw):
  attrs = op['opts'] if op['at'] == 'init' else {}
  return nn.RNN(CELLS[op['cell']](features=op['features']), **attrs, **kw)


def call_rnn(m, op, x):
  kwargs = op['opts'] if op['at'] == 'call' else {}
  out = m(x, **kwargs)
  return out[1] if op['opts'].get('return_carry') else out


def build_bidir(op, kw):
  return nn.Bidirectional(
    nn.RNN(CELLS[op['cell_f']](features=op['features_f'])),
    nn.RNN(CELLS[op['cell_b']](features=op['features_b'])),
    time_major=op['time_major'], return_carry=op['return_carry'], **kw)


def call_bidir(m, op, x):
  out = m(x)
  return out[1] if op['return_carry'] else out


BUILD = {'Scan': build_scan, 'RNNx': build_rnn, 'Bidir': build_bidir}
CALL = {'Scan': call_scan, 'RNNx': call_rnn, 'Bidir': call_bidir}
