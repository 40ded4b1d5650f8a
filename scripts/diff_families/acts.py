"""Differential family `acts`: the rest of `flax.linen`'s activations (and `PReLU`),
`jnp`'s trigonometric and hyperbolic functions, `jax.random.normal`/`uniform` inside a
module, and grouped-query attention (`jax.nn.dot_product_attention`, fewer key/value
heads), mixed into the base suite's random models.

    WORKERS=1 DIFF_FAMILY=acts PYTHONHASHSEED=0 JAX_PLATFORMS=cpu \\
        /work/venv/bin/python scripts/differential.py 60

Ops: `{"op": "fn", "name": NAME, ...}` for the functions (parameters below), and the
layers `PReLU`, `Noise {kind, minval, maxval}`, `GQA {num_heads, num_kv_heads,
head_dim, causal}` and `Rotary` (targeted cases only) (see `BUILD`).
"""

import jax
import jax.numpy as jnp
import flax.linen as nn

# Functions of one array (`x`, the op's parameters).
FNS = {
  'relu6': lambda x, o: nn.relu6(x),
  'hard_sigmoid': lambda x, o: nn.hard_sigmoid(x),
  'hard_tanh': lambda x, o: nn.hard_tanh(x),
  'hard_silu': lambda x, o: nn.hard_silu(x),
  'hard_swish': lambda x, o: nn.hard_swish(x),
  'celu': lambda x, o: nn.celu(x, alpha=o['alpha']),
  'selu': lambda x, o: nn.selu(x),
  'glu': lambda x, o: nn.glu(x, axis=o['axis']),
  'log_sigmoid': lambda x, o: nn.log_sigmoid(x),
  'soft_sign': lambda x, o: nn.soft_sign(x),
  'standardize': lambda x, o: nn.standardize(x, axis=tuple(o['axis']), epsilon=o['epsilon']),
  'normalize': lambda x, o: nn.normalize(x),
  'logsumexp': lambda x, o: nn.logsumexp(x, axis=tuple(o['axis']), keepdims=o['keepdims']),
  'one_hot': lambda x, o: nn.one_hot(x, o['num_classes'], axis=o['axis']),
  'sin': lambda x, o: jnp.sin(x),
  'cos': lambda x, o: jnp.cos(x),
  'tan': lambda x, o: jnp.tan(x),
  'arcsin': lambda x, o: jnp.arcsin(x),
  'arccos': lambda x, o: jnp.arccos(x),
  'arctan': lambda x, o: jnp.arctan(x),
  'sinh': lambda x, o: jnp.sinh(x),
  'cosh': lambda x, o: jnp.cosh(x),
  'arcsinh': lambda x, o: jnp.arcsinh(x),
  'arccosh': lambda x, o: jnp.arccosh(x),
  'arctanh': lambda x, o: jnp.arctanh(x),
  'erf_inv': lambda x, o: jax.lax.erf_inv(x),
}

ELEMENTWISE = ['relu6', 'hard_sigmoid', 'hard_tanh', 'hard_silu', 'hard_swish', 'celu',
               'selu', 'log_sigmoid', 'soft_sign', 'normalize', 'sin', 'cos', 'tan',
               'arcsin', 'arccos', 'arctan', 'sinh', 'cosh', 'arcsinh', 'arccosh', 'arctanh',
               'erf_inv']


class Noise(nn.Module):
  """Adds `jax.random.normal` or `uniform(minval, maxval)` noise from `make_rng('dropout')`."""

  kind: str
  minval: float = 0.0
  maxval: float = 1.0

  @nn.compact
  def __call__(self, x):
    key = self.make_rng('dropout')
    if self.kind == 'normal':
      noise = jax.random.normal(key, x.shape)
    else:
      noise = jax.random.uniform(key, x.shape, minval=self.minval, maxval=self.maxval)
    return x + noise


class GQA(nn.Module):
  """Grouped-query self-attention on `[batch, length, features]`, causal if asked (a
  boolean `[batch, 1, length, length]` mask from `make_causal_mask`)."""

  num_heads: int
  num_kv_heads: int
  head_dim: int
  causal: bool = False

  @nn.compact
  def __call__(self, x):
    q = nn.DenseGeneral((self.num_heads, self.head_dim), name='query')(x)
    k = nn.DenseGeneral((self.num_kv_heads, self.head_dim), name='key')(x)
    v = nn.DenseGeneral((self.num_kv_heads, self.head_dim), name='value')(x)
    mask = None
    if self.causal:
      mask = nn.make_causal_mask(jnp.ones(x.shape[:2])).astype(jnp.bool_)
    o = jax.nn.dot_product_attention(q, k, v, mask=mask, implementation='xla')
    return nn.DenseGeneral(x.shape[-1], axis=(-2, -1), name='out')(o)


class Rotary(nn.Module):
  """Rotary position embedding of `[..., length, features]` (features even): the
  `sin`/`cos` tables of `position / 10000^(2i/features)`, applied to the two halves."""

  @nn.compact
  def __call__(self, x):
    length, features = x.shape[-2], x.shape[-1]
    half = features // 2
    freqs = 1.0 / (10000.0 ** (jnp.arange(half, dtype=jnp.float32) / half))
    angles = jnp.arange(length, dtype=jnp.float32)[:, None] * freqs[None, :]
    sin, cos = jnp.sin(angles), jnp.cos(angles)
    x1, x2 = x[..., :half], x[..., half:]
    return jnp.concatenate([x1 * cos - x2 * sin, x1 * sin + x2 * cos], axis=-1)


BUILD = {
  'PReLU': lambda op, kw: nn.PReLU(**kw),
  'Noise': lambda op, kw: Noise(op['kind'], op['minval'], op['maxval'], **kw),
  'GQA': lambda op, kw: GQA(op['num_heads'], op['num_kv_heads'], op['head_dim'],
                            op.get('causal', False), **kw),
  'Rotary': lambda op, kw: Rotary(**kw),
}

CALL = {
  'PReLU': lambda m, op, x: m(x),
  'Noise': lambda m, op, x: m(x),
  'GQA': lambda m, op, x: m(x),
  'Rotary': lambda m, op, x: m(x),
}


def fn_op(gen, shape, dtype):
  r = gen.r
  rank = len(shape)
  if dtype.startswith('int'):
    return {'op': 'fn', 'name': 'one_hot', 'num_classes': r.choice([3, 5, 8]),
            'axis': r.choice([-1, -1, 0])}
  choices = ELEMENTWISE * 2 + ['celu', 'standardize', 'logsumexp', 'one_hot']
  if any(d % 2 == 0 for d in shape):
    choices += ['glu'] * 3
  name = r.choice(choices)
  op = {'op': 'fn', 'name': name}
  if name == 'celu':
    op['alpha'] = r.choice([1.0, 0.5, 2.0])
  elif name == 'glu':
    axes = [a - rank for a in range(rank) if shape[a] % 2 == 0]
    op['axis'] = -1 if -1 in axes and r.random() < 0.7 else r.choice(axes)
  elif name == 'standardize':
    op['axis'] = r.choice([[-1], [-1]] + ([[-2, -1]] if rank >= 2 else []))
    op['epsilon'] = r.choice([1e-5, 1e-6])
  elif name == 'logsumexp':
    op['axis'] = [-1]
    op['keepdims'] = rank < 2 or r.random() < 0.5
  elif name == 'one_hot':
    op['num_classes'] = r.choice([2, 3, 4])
    op['axis'] = -1
  return op


def ops(gen, shape, dtype):
  """A random op of this family valid on `shape`, or None."""
  r = gen.r
  rank = len(shape)
  if dtype.startswith('int'):
    return fn_op(gen, shape, dtype) if r.random() < 0.5 else None
  u = r.random()
  if u < 0.6:
    return fn_op(gen, shape, dtype)
  if u < 0.72:
    return {'op': 'PReLU'}
  if u < 0.86:
    kind = r.choice(['normal', 'uniform'])
    lo = r.choice([0.0, -1.0, -0.5])
    return {'op': 'Noise', 'kind': kind, 'minval': lo, 'maxval': lo + r.choice([1.0, 2.0])}
  if rank == 3:
    kv = r.choice([1, 2, 4])
    return {'op': 'GQA', 'num_heads': kv * r.choice([2, 4]), 'num_kv_heads': kv,
            'head_dim': r.choice([4, 8, 16, 64])}
  return fn_op(gen, shape, dtype)
