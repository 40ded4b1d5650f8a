"""Real Flax tables of the lifted scan, `RNN`'s options and `Bidirectional`, for
`tests/it/scan.rs` and `tests/it/flax_summary_test_scan.rs`.

Writes `tests/scan/tables.json`: `{name: table text}`, each the plain text `nn.tabulate`
returns with Flax's test console (`force_terminal=False, no_color=True, width=10_000`, as
`tests/linen/summary_test.py` has it). (The two tests of `summary_test.py` that use
`nn.scan` have their tables in `tests/golden/summary_test/`, made by
`scripts/summary_test_port.py`.)

Run (from the repository root):

    PYTHONHASHSEED=0 JAX_PLATFORMS=cpu /work/venv/bin/python scripts/scan_tables.py

Reference environment: jax 0.10.2, flax 0.12.8 (CPU).
"""

import json
import os

os.environ.setdefault('JAX_PLATFORMS', 'cpu')

import jax
import jax.numpy as jnp
import flax.linen as nn
from jax import random

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, 'tests', 'scan', 'tables.json')
CONSOLE_TEST_KWARGS = dict(force_terminal=False, no_color=True, width=10_000)


# --- a user cell --------------------------------------------------------------------------
class Cell(nn.Module):
  @nn.compact
  def __call__(self, c, x):
    h = nn.tanh(nn.Dense(4)(x) + nn.Dense(4, use_bias=False)(c))
    return h, nn.Dense(3)(h)


class Broadcast(nn.Module):
  """`Cell` scanned over axis 1 with shared parameters."""

  reverse: bool = False
  out_axes: int = 1

  @nn.compact
  def __call__(self, x):
    ScanCell = nn.scan(Cell, variable_broadcast='params', split_rngs={'params': False},
                       in_axes=1, out_axes=self.out_axes, reverse=self.reverse)
    return ScanCell()(jnp.zeros((x.shape[0], 4)), x)


class Stacked(nn.Module):
  """`Cell` scanned over axis 1 with parameters stacked per step."""

  @nn.compact
  def __call__(self, x):
    ScanCell = nn.scan(Cell, variable_axes={'params': 0}, split_rngs={'params': True},
                       in_axes=1, out_axes=1)
    return ScanCell(name='steps')(jnp.zeros((x.shape[0], 4)), x)


class DropCell(nn.Module):
  @nn.compact
  def __call__(self, c, x):
    h = nn.tanh(nn.Dense(4)(x) + nn.Dense(4, use_bias=False)(c))
    return h, nn.Dropout(0.5)(h, deterministic=False)


class Dropped(nn.Module):
  """A stochastic cell: the `dropout` stream is not split, so every step draws from the
  caller's key."""

  @nn.compact
  def __call__(self, x):
    ScanCell = nn.scan(DropCell, variable_broadcast='params',
                       split_rngs={'params': False, 'dropout': False}, in_axes=1, out_axes=1)
    return ScanCell()(jnp.zeros((x.shape[0], 4)), x)


class CtxCell(nn.Module):
  """A cell with a context broadcast to every step."""

  @nn.compact
  def __call__(self, c, x, ctx):
    h = nn.tanh(nn.Dense(4)(x) + nn.Dense(4, use_bias=False)(c) + nn.Dense(4)(ctx))
    return h, h


class WithContext(nn.Module):
  """`in_axes=(1, nn.broadcast)`: `x` scanned over axis 1, `ctx` whole at every step."""

  @nn.compact
  def __call__(self, x, ctx):
    ScanCell = nn.scan(CtxCell, variable_broadcast='params', split_rngs={'params': False},
                       in_axes=(1, nn.broadcast), out_axes=1)
    return ScanCell()(jnp.zeros((x.shape[0], 4)), x, ctx)


class SetupScan(nn.Module):
  """The scanned module as a `setup` attribute: named after it."""

  def setup(self):
    self.steps = nn.scan(Cell, variable_broadcast='params', split_rngs={'params': False},
                         in_axes=1, out_axes=1)()

  def __call__(self, x):
    return self.steps(jnp.zeros((x.shape[0], 4)), x)


class RnnBlock(nn.Module):
  """A residual block holding an `RNN`: a scan inside the scan over layers."""

  @nn.compact
  def __call__(self, x, _):
    return x + nn.RNN(nn.SimpleCell(x.shape[-1]))(x), None


class LayersOfRnn(nn.Module):
  """Three `RnnBlock`s scanned, their parameters stacked (`stacked=True`) or shared."""

  stacked: bool

  @nn.compact
  def __call__(self, x):
    if self.stacked:
      lifted = {'variable_axes': {'params': 0}, 'split_rngs': {'params': True}}
    else:
      lifted = {'variable_broadcast': 'params', 'split_rngs': {'params': False}}
    Scan = nn.scan(RnnBlock, length=3, **lifted)
    return Scan()(x, None)[0]


class Outer(nn.Module):
  @nn.compact
  def __call__(self, x):
    return Broadcast()(x)


# --- flax.linen.scan's docstring: layers scanned with `length` ---------------------------
class ResidualMLPBlock(nn.Module):
  @nn.compact
  def __call__(self, x, _):
    h = nn.Dense(features=2)(x)
    h = nn.relu(h)
    return x + h, None


class ResidualMLP(nn.Module):
  n_layers: int = 4

  @nn.compact
  def __call__(self, x):
    ScanMLP = nn.scan(
      ResidualMLPBlock, variable_axes={'params': 0},
      variable_broadcast=False, split_rngs={'params': True},
      length=self.n_layers)
    x, _ = ScanMLP()(x, None)
    return x


# --- RNN's keywords and Bidirectional ----------------------------------------------------
class RnnKeywords(nn.Module):
  @nn.compact
  def __call__(self, x):
    carry, y = nn.RNN(nn.GRUCell(4))(x, return_carry=True, reverse=True, keep_order=True)
    z = nn.RNN(nn.SimpleCell(3), time_major=True)(y)
    return carry, z


class WithLengths(nn.Module):
  """`seq_lengths` alone: shown in the row, used only by `reverse`/`return_carry`."""

  @nn.compact
  def __call__(self, x, lengths):
    return nn.RNN(nn.SimpleCell(4))(x, seq_lengths=lengths)


class Bidir(nn.Module):
  @nn.compact
  def __call__(self, x):
    return nn.Bidirectional(nn.RNN(nn.LSTMCell(4)), nn.RNN(nn.SimpleCell(3)),
                            return_carry=True)(x)


def table(model, *args, **kw):
  opts = dict(compute_flops=True, compute_vjp_flops=True)
  opts.update(kw.pop('options', {}))
  return model.tabulate(random.key(0), *args, console_kwargs=CONSOLE_TEST_KWARGS, **opts, **kw)


def main():
  seq = jnp.ones((2, 5, 3))
  tables = {
    'broadcast': table(Broadcast(), seq),
    'broadcast_reverse_out0': table(Broadcast(reverse=True, out_axes=0), seq),
    'stacked': table(Stacked(), seq),
    'stacked_depth1': table(Stacked(), seq, options={'depth': 1}),
    'outer_show_repeated': table(Outer(), seq, options={
      'show_repeated': True, 'compute_flops': False, 'compute_vjp_flops': False}),
    'residual_mlp': table(ResidualMLP(n_layers=4), jnp.ones((1, 2))),
    'broadcast_input': table(WithContext(), seq, jnp.ones((2, 6))),
    'setup_attribute': table(SetupScan(), seq),
    'nested_stacked': table(LayersOfRnn(stacked=True), seq),
    'nested_shared': table(LayersOfRnn(stacked=False), seq),
    'dropout_not_split': Dropped().tabulate(
      {'params': random.key(0), 'dropout': random.key(1)}, seq,
      console_kwargs=CONSOLE_TEST_KWARGS, compute_flops=True, compute_vjp_flops=True),
    'rnn_keywords': table(RnnKeywords(), seq),
    'bidirectional': table(Bidir(), seq),
    'seq_lengths': table(WithLengths(), seq, jnp.array([3, 5], jnp.int32)),
  }
  os.makedirs(os.path.dirname(OUT), exist_ok=True)
  with open(OUT, 'w') as f:
    json.dump({'generator': 'scripts/scan_tables.py', 'tables': tables}, f, indent=1,
              sort_keys=True)
    f.write('\n')
  print(f'wrote {len(tables)} tables to {os.path.relpath(OUT, ROOT)}')


if __name__ == '__main__':
  main()
