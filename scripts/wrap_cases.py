"""Flax's rows for the targeted wrapper tests of `tests/it/wrap.rs` (`nn.remat`,
`nn.checkpoint`, `nn.SpectralNorm`, `nn.WeightNorm`, `nn.vmap`): path, module type, flops and
vjp_flops of each row, as `_get_module_table` gives them (what `nn.tabulate` renders
with `compute_flops=True, compute_vjp_flops=True`).

    PYTHONHASHSEED=0 JAX_PLATFORMS=cpu /work/venv/bin/python scripts/wrap_cases.py
"""

import jax
import jax.numpy as jnp
import flax.linen as nn
from flax.linen import summary


def rows(title, model, *args):
  table = summary._get_module_table(
    model, depth=None, show_repeated=False, compute_flops=True, compute_vjp_flops=True,
  )({'params': jax.random.key(0)}, *args)
  print(title)
  for r in table:
    shapes = jax.tree_util.tree_map(lambda v: list(v.shape), r.module_variables)
    ins = jax.tree_util.tree_map(lambda v: getattr(v, 'shape', v), r.inputs)
    print(f"  {'/'.join(r.path)!r:28} {type(r.module_copy).__name__:14} "
          f'{int(r.flops):8d} {int(r.vjp_flops):8d}  in {ins} vars {shapes}')


class Blk(nn.Module):
  @nn.compact
  def __call__(self, x):
    h = jnp.tanh(nn.Dense(5)(x))
    return nn.Dense(3)(h)


class RematBlock(nn.Module):
  remat: bool

  @nn.compact
  def __call__(self, x):
    x = nn.Dense(4)(x)
    x = (nn.remat(Blk) if self.remat else Blk)()(x)
    return nn.Dense(2)(x)


class RematDense(nn.Module):
  @nn.compact
  def __call__(self, x):
    x = nn.remat(nn.Dense)(4)(x)
    x = nn.checkpoint(nn.Dense)(3, name='foo')(x)
    return nn.Dense(3)(x)


class Norms(nn.Module):
  @nn.compact
  def __call__(self, x, train=False):
    x = nn.SpectralNorm(nn.Dense(4))(x, update_stats=train)
    return nn.WeightNorm(nn.Dense(3))(x)


class Mapped(nn.Module):
  @nn.compact
  def __call__(self, x):
    x = nn.vmap(nn.Dense, variable_axes={'params': 0}, split_rngs={'params': True},
                in_axes=0, out_axes=0)(4)(x)
    x = nn.vmap(nn.Dense, variable_axes={'params': None}, split_rngs={'params': False},
                in_axes=1, out_axes=1)(3)(x)
    x = nn.relu(x)
    return nn.vmap(nn.LayerNorm, variable_axes={'params': 0}, split_rngs={'params': True},
                   in_axes=2, out_axes=0)()(x)


class SharedParams(nn.Module):
  @nn.compact
  def __call__(self, x):
    return nn.vmap(nn.Dense, variable_axes={'params': None},
                   split_rngs={'params': False})(3)(x)


x = jnp.ones((16, 9))
rows('RematBlock(remat=False)', RematBlock(False), x)
rows('RematBlock(remat=True)', RematBlock(True), x)
rows('RematDense', RematDense(), x)
rows('Norms(train=False)', Norms(), x, False)
rows('Norms(train=True)', Norms(), x, True)
rows('Mapped', Mapped(), jnp.ones((5, 16, 9)))
rows('SharedParams', SharedParams(), jnp.ones((5, 16, 9)))
rows('ConvTranspose CIRCULAR kernel 1', nn.ConvTranspose(2, (1,), padding='CIRCULAR',
                                                         use_bias=False), jnp.ones((4, 2, 16)))
