"""Differential family `wrap`: lifted wrappers around a layer.

- `Remat {inner}`: `nn.remat(type(layer))(**fields)` of the layer op `inner` (Dense,
  DenseGeneral, Conv, LayerNorm, RMSNorm, BatchNorm), called as the layer is.
- `SpectralNorm {inner, n_steps, update_stats}`: `nn.SpectralNorm(layer, n_steps=...)`
  called with `update_stats` (Dense, DenseGeneral, Conv, Einsum).
- `WeightNorm {inner, use_scale, feature_axes}`: `nn.WeightNorm(layer, ...)` (Dense,
  DenseGeneral, Conv, Einsum); `feature_axes` is `-1` or `null` (the whole kernel).
- `Vmap {inner, variable_axes, in_axes, out_axes}`: `nn.vmap(type(layer),
  variable_axes={'params': variable_axes}, split_rngs={'params': variable_axes is not
  None}, in_axes=..., out_axes=...)(**fields)` of a layer op valid on one example
  (Dense, DenseGeneral, Einsum, LayerNorm, RMSNorm).

Flax 0.12.8 cannot tabulate these with `show_repeated=True` (the lifted `<lambda>` call
is a repeated row whose FLOPs it fails to compute): such generated cases are skipped.
"""

import dataclasses

import flax.linen as nn
from flax.linen import module as flax_module

REMAT_INNER = ('Dense', 'DenseGeneral', 'Conv', 'LayerNorm', 'RMSNorm', 'BatchNorm')
NORM_INNER = ('Dense', 'DenseGeneral', 'Conv', 'Einsum')
VMAP_INNER = ('Dense', 'DenseGeneral', 'Einsum', 'LayerNorm', 'RMSNorm')


_GEN = []


def _d():
  """The generator's globals (its script runs as `__main__`, `__mp_main__` in a
  worker), as `ops` found them."""
  return _GEN[0]


def _inner(gen, shape, dtype, kinds):
  """A base layer op of one of `kinds`, valid on `shape` (checked by the generator)."""
  d = _d()
  fam, d['FAM'] = d['FAM'], None  # a base layer, not another wrapper
  try:
    for _ in range(40):
      op = gen.layer_op(shape, dtype)
      if op['op'] in kinds:
        op.pop('name', None)
        return op
  finally:
    d['FAM'] = fam
  return {'op': 'Dense', 'features': gen.w(), 'use_bias': True}


def ops(gen, shape, dtype):
  if not _GEN:
    _GEN.append(type(gen).layer_op.__globals__)
  if dtype.startswith('int'):
    return None
  k = gen.r.choice(['Remat', 'Remat', 'SpectralNorm', 'WeightNorm', 'Vmap', 'Vmap'])
  if k == 'Vmap':
    if len(shape) < 2:
      return None
    in_axes = gen.r.randrange(len(shape) - 1) if gen.r.random() < 0.4 else 0
    example = shape[:in_axes] + shape[in_axes + 1:]
    return {'op': 'Vmap', 'inner': _inner(gen, example, dtype, VMAP_INNER),
            'variable_axes': gen.r.choice([0, 0, None]), 'in_axes': in_axes,
            'out_axes': gen.r.choice([0, 0, 1])}
  if k == 'Remat':
    return {'op': 'Remat', 'inner': _inner(gen, shape, dtype, REMAT_INNER)}
  inner = _inner(gen, shape, dtype, NORM_INNER)
  if k == 'SpectralNorm':
    return {'op': 'SpectralNorm', 'inner': inner, 'n_steps': gen.r.choice([1, 1, 2]),
            'update_stats': gen.r.random() < 0.5}
  return {'op': 'WeightNorm', 'inner': inner, 'use_scale': gen.r.random() < 0.8,
          'feature_axes': gen.r.choice([-1, -1, None])}


def _unbound(op):
  """The layer of `op`, built without binding it to the module being defined."""
  flax_module._context.module_stack.append(None)
  try:
    return _d()['build_layer'](op)
  finally:
    flax_module._context.module_stack.pop()


def _remat(op, kw):
  layer = _unbound(op['inner'])
  fields = {f.name: getattr(layer, f.name) for f in dataclasses.fields(layer)
            if f.init and f.name not in ('parent', 'name')}
  return nn.remat(type(layer))(**fields, **kw)


def _vmap(op, kw):
  layer = _unbound(op['inner'])
  fields = {f.name: getattr(layer, f.name) for f in dataclasses.fields(layer)
            if f.init and f.name not in ('parent', 'name')}
  va = op['variable_axes']
  cls = nn.vmap(type(layer), variable_axes={'params': va},
                split_rngs={'params': va is not None},
                in_axes=op['in_axes'], out_axes=op['out_axes'])
  return cls(**fields, **kw)


def _layer(op):
  return _d()['build_layer'](op['inner'])


BUILD = {
  'Remat': _remat,
  'SpectralNorm': lambda op, kw: nn.SpectralNorm(_layer(op), n_steps=op['n_steps'], **kw),
  'Vmap': _vmap,
  'WeightNorm': lambda op, kw: nn.WeightNorm(
    _layer(op), use_scale=op['use_scale'], feature_axes=op['feature_axes'], **kw),
}


def _call_remat(m, op, x):
  return _d()['call_module'](m, op['inner'], x)


CALL = {
  'Remat': _call_remat,
  'SpectralNorm': lambda m, op, x: m(x, update_stats=op['update_stats']),
  'WeightNorm': lambda m, op, x: m(x),
  'Vmap': lambda m, op, x: m(x),
}
