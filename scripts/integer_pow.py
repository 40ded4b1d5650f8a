"""Reference data for `Tensor::powi` (`lax.integer_pow`) for every exponent from -3 to 8
on float, integer and boolean dtypes: the output dtype or jax's refusal, and Flax's table numbers (flops and
vjp_flops of a one-function module on a [3, 4] input) from jax 0.10.2 / flax 0.12.8.
The derivative is JAX's `_integer_pow_jvp`, which special-cases y = 0, 1 and 2.

Run: PYTHONHASHSEED=0 JAX_PLATFORMS=cpu /work/venv/bin/python scripts/integer_pow.py
Writes tests/golden/integer_pow.json (read by tests/it/integer_pow.rs).
"""
import json
import os

import jax
import jax.numpy as jnp
from jax import lax
import flax.linen as nn
from flax.linen import summary as fs

SHAPE = (3, 4)
DTYPES = ['float32', 'bfloat16', 'float16', 'int32', 'uint8', 'bool']
EXPONENTS = range(-3, 9)


def module_for(y):
  class Pow(nn.Module):
    @nn.compact
    def __call__(self, x):
      return lax.integer_pow(x, y)
  return Pow()


def case(y, dtype):
  x = jnp.zeros(SHAPE, dtype)
  c = {'y': y, 'dtype': dtype, 'shape': list(SHAPE)}
  try:
    out = jax.eval_shape(lambda x: lax.integer_pow(x, y), x)
  except Exception as e:  # noqa: BLE001 - recorded as the reference behaviour
    c['error'] = type(e).__name__ + ': ' + str(e).splitlines()[0]
    return c
  c['out'] = {'dtype': str(out.dtype), 'shape': list(out.shape)}
  try:
    rows = fs._get_module_table(
      module_for(y), depth=None, show_repeated=False, compute_flops=True,
      compute_vjp_flops=True,
    )(jax.random.key(0), x)
    c['flops'] = int(rows[0].flops)
    c['vjp_flops'] = int(rows[0].vjp_flops)
  except Exception as e:  # noqa: BLE001
    c['table_error'] = type(e).__name__ + ': ' + str(e).splitlines()[0]
  return c


def main():
  cases = [case(y, d) for y in EXPONENTS for d in DTYPES]
  path = os.path.join(os.path.dirname(__file__), '..', 'tests', 'golden',
                      'integer_pow.json')
  with open(path, 'w') as f:
    json.dump({'jax': jax.__version__, 'cases': cases}, f, indent=1)
    f.write('\n')


if __name__ == '__main__':
  main()
