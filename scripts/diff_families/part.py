"""Differential family `part`: partitioned parameters and `sow` (issue 8, item 4).

- `PDense`: `nn.Dense` whose kernel (and sometimes bias) comes from
  `nn.with_partitioning(init, names)`, names drawn from a small pool with `None`.
- `PConv`: `nn.Conv` (the base generator's random convolution) with a partitioned kernel
  and sometimes bias.
- `Sow`: a module that stores its input (and, with `twice`, `x * 2.0` too) with
  `self.sow(collection, tag, ...)` in a collection mutable by default (`probes`, `stats`)
  and returns its input: the sown tuple is a row's variable, and its arrays are outputs
  of the call's program (they count in `vjp_flops`).

Rows carry partitioned leaves as `kernel: float32[5,16] P('embed', None)` and sown
tuples as `h: [float32[2,3], float32[2,3]]` (see `text` in `differential.py`).

    WORKERS=1 DIFF_FAMILY=part PYTHONHASHSEED=0 JAX_PLATFORMS=cpu \
        /work/venv/bin/python scripts/differential.py 60
"""

import flax.linen as nn

NAMES = ['embed', 'mlp', 'data', 'heads', None]


def _names(gen, n):
  return [gen.r.choice(NAMES) for _ in range(n)]


def ops(gen, shape, dtype):
  """A random op of the family valid on `shape`, or None."""
  if not dtype.startswith('float') and not dtype.startswith('bfloat'):
    return None
  rank = len(shape)
  choices = ['PDense', 'PDense', 'Sow', 'Sow']
  if rank >= 3:
    choices.append('PConv')
  k = gen.r.choice(choices)
  if k == 'PDense':
    op = {'op': 'PDense', 'features': gen.w(), 'use_bias': gen.r.random() < 0.8,
          'kernel_names': _names(gen, 2)}
  elif k == 'PConv':
    op = gen.conv_op(shape)
    op['op'] = 'PConv'
    op['kernel_names'] = _names(gen, rank)
  else:
    return {'op': 'Sow', 'collection': gen.r.choice(['probes', 'stats']),
            'tag': gen.r.choice(['h', 'act']), 'twice': gen.r.random() < 0.5}
  if op['use_bias'] and gen.r.random() < 0.7:
    op['bias_names'] = _names(gen, 1)
  return op


def _inits(op):
  kw = {'kernel_init': nn.with_partitioning(nn.initializers.lecun_normal(),
                                            tuple(op['kernel_names']))}
  if 'bias_names' in op:
    kw['bias_init'] = nn.with_partitioning(nn.initializers.zeros_init(),
                                           tuple(op['bias_names']))
  return kw


class Sow(nn.Module):
  collection: str
  tag: str
  twice: bool

  @nn.compact
  def __call__(self, x):
    self.sow(self.collection, self.tag, x)
    if self.twice:
      self.sow(self.collection, self.tag, x * 2.0)
    return x


def _conv(op, kw):
  padding = op['padding'] if isinstance(op['padding'], str) else tuple(
    tuple(p) for p in op['padding'])
  return nn.Conv(
    op['features'], tuple(op['kernel_size']), strides=tuple(op['strides']),
    padding=padding, kernel_dilation=tuple(op['kernel_dilation']),
    feature_group_count=op['feature_group_count'], use_bias=op['use_bias'],
    **_inits(op), **kw)


BUILD = {
  'PDense': lambda op, kw: nn.Dense(op['features'], use_bias=op['use_bias'],
                                    **_inits(op), **kw),
  'PConv': _conv,
  'Sow': lambda op, kw: Sow(op['collection'], op['tag'], op['twice'], **kw),
}
