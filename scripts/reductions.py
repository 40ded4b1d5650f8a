"""Reference data for every (reduction, dtype) pair of `Tensor`'s reductions and the
`nn` reductions: the output dtype, the jaxpr's primitives, and Flax's table numbers
(flops and vjp_flops of a one-function module) from jax 0.10.2 / flax 0.12.8.

Run: PYTHONHASHSEED=0 JAX_PLATFORMS=cpu /work/venv/bin/python scripts/reductions.py
Writes tests/golden/reductions.json (read by tests/it/reductions.rs).
"""
import json
import os
import traceback

import jax
import jax.numpy as jnp
import flax.linen as nn
from flax.linen import summary as fs

SHAPE = (3, 4)
DTYPES = ['bool', 'int8', 'int16', 'int32', 'uint8', 'uint32', 'float16',
          'bfloat16', 'float32']
REDUCTIONS = {
  'sum': lambda x: jnp.sum(x, axis=1),
  'sum_all': lambda x: jnp.sum(x),
  'sum_keepdims': lambda x: jnp.sum(x, axis=1, keepdims=True),
  'mean': lambda x: jnp.mean(x, axis=1),
  'mean_keepdims': lambda x: jnp.mean(x, axis=1, keepdims=True),
  'max': lambda x: jnp.max(x, axis=1),
  'min': lambda x: jnp.min(x, axis=1),
  'argmax': lambda x: jnp.argmax(x, axis=-1),
  'any': lambda x: jnp.any(x, axis=1),
  'all': lambda x: jnp.all(x, axis=1),
  'logsumexp': lambda x: jax.nn.logsumexp(x, axis=-1),
  'softmax': lambda x: jax.nn.softmax(x, axis=-1),
  'log_softmax': lambda x: jax.nn.log_softmax(x, axis=-1),
}


def module_for(fn):
  class Reduce(nn.Module):
    @nn.compact
    def __call__(self, x):
      return fn(x)
  return Reduce()


def prims(jaxpr):
  out = []
  for eqn in jaxpr.eqns:
    name = eqn.primitive.name
    if name in ('jit', 'pjit'):  # inline a nested jit (jax.nn.log_softmax is jitted)
      out.extend(prims(eqn.params['jaxpr'].jaxpr))
      continue
    if name == 'convert_element_type':
      name += ':' + str(eqn.params['new_dtype'])
    out.append(name)
  return out


def case(name, fn, dtype):
  x = jnp.zeros(SHAPE, dtype)
  c = {'reduction': name, 'dtype': dtype, 'shape': list(SHAPE)}
  try:
    jaxpr = jax.make_jaxpr(fn)(x)
  except Exception as e:  # noqa: BLE001 - recorded as the reference behaviour
    c['error'] = type(e).__name__ + ': ' + str(e).splitlines()[0]
    return c
  out = jaxpr.out_avals[0]
  c['out'] = {'dtype': str(out.dtype), 'shape': list(out.shape)}
  c['prims'] = prims(jaxpr.jaxpr)
  try:
    rows = fs._get_module_table(
      module_for(fn), depth=None, show_repeated=False, compute_flops=True,
      compute_vjp_flops=True,
    )(jax.random.key(0), x)
    row = rows[0]
    c['flops'] = int(row.flops)
    c['vjp_flops'] = int(row.vjp_flops)
  except Exception as e:  # noqa: BLE001
    c['table_error'] = type(e).__name__ + ': ' + str(e).splitlines()[0]
  return c


def main():
  cases = [case(n, f, d) for n, f in REDUCTIONS.items() for d in DTYPES]
  path = os.path.join(os.path.dirname(__file__), '..', 'tests', 'golden',
                      'reductions.json')
  with open(path, 'w') as f:
    json.dump({'jax': jax.__version__, 'cases': cases}, f, indent=1)
    f.write('\n')


if __name__ == '__main__':
  main()
