"""Flax's own `tests/linen/summary_test.py` (flax 0.12.8), run in real Flax, writes
the tables its tests check to `tests/golden/summary_test/`.

Each test of that file becomes one or more `<test>[_<variant>].txt`: the exact text
`nn.tabulate` returns for the test's model and options (the test's
`CONSOLE_TEST_KWARGS`: no colour, width 10,000), and, for the tests that read
`summary._get_module_table` directly, `rows.json` with every row's fields (path,
type, method, inputs, outputs, flops, vjp_flops, variables). `tests/it/flax_summary_test.rs`
ports the tests that have a Rust analogue and compares these texts byte for byte;
the others are listed in README.md with the reason.

The models are the test file's, unchanged (the source is google/flax at the
commit of version 0.12.8, `tests/linen/summary_test.py`).

Run (from the repository root):

    PYTHONHASHSEED=0 JAX_PLATFORMS=cpu /work/venv/bin/python scripts/summary_test_port.py

Reference environment: jax 0.10.2, flax 0.12.8 (CPU).
"""

import enum
import json
import os
from collections.abc import Mapping

os.environ.setdefault('JAX_PLATFORMS', 'cpu')

import jax
import jax.numpy as jnp
import numpy as np
from jax import random

from flax import linen as nn
from flax import struct
from flax.core.scope import Array
from flax.linen import summary

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, 'tests', 'golden', 'summary_test')
CONSOLE_TEST_KWARGS = dict(force_terminal=False, no_color=True, width=10_000)


# ------------------------------------------------------------ the test file's models
class ConvBlock(nn.Module):
  features: int
  kernel_size: list[int]
  test_sow: bool

  def setup(self) -> None:
    self.conv = nn.Conv(self.features, self.kernel_size)
    self.bn = nn.BatchNorm()
    self.dropout = nn.Dropout(0.5)

  def block_method(self, x: Array, training: bool) -> Array:
    x = self.conv(x)
    if self.test_sow:
      self.sow('intermediates', 'INTERM', x)
    x = self.bn(x, use_running_average=not training)
    x = self.dropout(x, deterministic=not training)
    x = nn.relu(x)
    return x

  def __call__(self, x: Array, training: bool) -> Array:
    x = self.conv(x)
    if self.test_sow:
      self.sow('intermediates', 'INTERM', x)
    x = self.bn(x, use_running_average=not training)
    x = self.dropout(x, deterministic=not training)
    x = nn.relu(x)
    return x


class CNN(nn.Module):
  test_sow: bool

  def setup(self) -> None:
    self.block1 = ConvBlock(32, [3, 3], test_sow=self.test_sow)
    self.block2 = ConvBlock(64, [3, 3], test_sow=self.test_sow)
    self.dense = nn.Dense(10)

  def cnn_method(self, x: Array, training: bool) -> Array:
    x = self.block1.block_method(x, training=training)
    x = self.block2.block_method(x, training=training)
    x = x.mean(axis=(1, 2))
    if self.test_sow:
      self.sow('intermediates', 'INTERM', x)
    x = self.dense(x)
    return x, dict(a=x, b=x + 1.0)

  def __call__(self, x: Array, training: bool) -> Array:
    x = self.block1.block_method(x, training=training)
    x = self.block2.block_method(x, training=training)
    x = x.mean(axis=(1, 2))
    if self.test_sow:
      self.sow('intermediates', 'INTERM', x)
    x = self.dense(x)
    return x, dict(a=x, b=x + 1.0)


def rngs():
  return {'dropout': random.key(0), 'params': random.key(1)}


FLOPS = dict(compute_flops=True, compute_vjp_flops=True)


# ------------------------------------------------------------ rows as data
def text(x):
  if isinstance(x, summary._ArrayRepresentation):
    return f"{jnp.dtype(x.dtype).name}[{','.join(str(d) for d in x.shape)}]"
  if isinstance(x, summary._PartitionedArrayRepresentation):
    return f'{text(x.array_representation)} P{x.names}'
  if isinstance(x, summary._ObjectRepresentation):
    return repr(x.obj)
  if isinstance(x, (tuple, list)):
    return '[' + ', '.join(text(v) for v in x) + ']'
  if isinstance(x, Mapping):
    return '{' + ', '.join(f'{k}: {text(v)}' for k, v in x.items()) + '}'
  if hasattr(x, 'shape') and hasattr(x, 'dtype'):
    return f"{jnp.dtype(x.dtype).name}[{','.join(str(d) for d in x.shape)}]"
  return repr(x)


def rows(table):
  cols = sorted(table.collections)
  out = []
  for row in table:
    sizes = row.size_and_bytes(cols)
    out.append({
      'path': '/'.join(row.path),
      'module_type': type(row.module_copy).__name__,
      'method': row.method,
      'inputs': text(row.inputs),
      'outputs': text(row.outputs),
      'flops': int(row.flops),
      'vjp_flops': int(row.vjp_flops),
      'variables': {
        c: {'count': int(sizes[c][0]), 'bytes': int(sizes[c][1])} for c in cols
      },
    })
  return out


TEXTS = {}
ROWS = {}


def table_text(name, s):
  TEXTS[name] = s
  print(f'{name}: {len(s.splitlines())} lines')


# ------------------------------------------------------------ the tests
def test_module_summary():
  x = jnp.ones((32, 28, 28, 1))
  module = CNN(test_sow=False)
  table = summary._get_module_table(
    module, depth=None, show_repeated=True, **FLOPS
  )(rngs(), x, training=True, mutable=True)
  ROWS['test_module_summary'] = rows(table)
  table_text('test_module_summary', module.tabulate(
    rngs(), x, training=True, mutable=True, depth=None, show_repeated=True,
    console_kwargs=CONSOLE_TEST_KWARGS, **FLOPS))


def test_module_summary_with_depth():
  x = jnp.ones((32, 28, 28, 1))
  module = CNN(test_sow=False)
  table = summary._get_module_table(
    module, depth=1, show_repeated=True, **FLOPS
  )(rngs(), x, training=True, mutable=True)
  ROWS['test_module_summary_with_depth'] = rows(table)
  table_text('test_module_summary_with_depth', module.tabulate(
    rngs(), x, training=True, mutable=True, depth=1, show_repeated=True,
    console_kwargs=CONSOLE_TEST_KWARGS, **FLOPS))


def test_tabulate():
  x = jnp.ones((32, 28, 28, 1))
  table_text('test_tabulate', CNN(test_sow=False).tabulate(
    rngs(), x, training=True, console_kwargs=CONSOLE_TEST_KWARGS, **FLOPS))


def test_tabulate_with_sow():
  x = jnp.ones((32, 28, 28, 1))
  table_text('test_tabulate_with_sow', CNN(test_sow=True).tabulate(
    rngs(), x, training=True, mutable=True,
    console_kwargs=CONSOLE_TEST_KWARGS, **FLOPS))
  # The default `mutable` (every collection but `intermediates`): `sow` stores nothing.
  table_text('test_tabulate_with_sow_default_mutable', CNN(test_sow=True).tabulate(
    rngs(), x, training=True, console_kwargs=CONSOLE_TEST_KWARGS, **FLOPS))


def test_tabulate_with_method():
  x = jnp.ones((32, 28, 28, 1))
  table_text('test_tabulate_with_method', CNN(test_sow=False).tabulate(
    rngs(), x, training=True, method=CNN.cnn_method,
    console_kwargs=CONSOLE_TEST_KWARGS, **FLOPS))


def test_tabulate_function():
  x = jnp.ones((32, 28, 28, 1))
  table_text('test_tabulate_function', nn.tabulate(
    CNN(test_sow=False), rngs(), console_kwargs=CONSOLE_TEST_KWARGS, **FLOPS
  )(x, training=True))


def _lstm(rename):
  class LSTM(nn.Module):
    features: int

    @nn.compact
    def __call__(self, x):
      carry = nn.LSTMCell(self.features).initialize_carry(
        random.key(0), x[:, 0].shape
      )
      ScanLSTM = nn.scan(
        nn.LSTMCell,
        variable_broadcast='params',
        split_rngs={'params': False},
        in_axes=1,
        out_axes=1,
      )
      if rename:
        return ScanLSTM(self.features, name='ScanLSTM')(carry, x)
      return ScanLSTM(self.features)(carry, x)

  return LSTM(features=128).tabulate(
    random.key(0), x=jnp.ones((32, 128, 64)),
    console_kwargs=CONSOLE_TEST_KWARGS, **FLOPS)


def test_lifted_transform():
  table_text('test_lifted_transform', _lstm(True))


def test_lifted_transform_no_rename():
  table_text('test_lifted_transform_no_rename', _lstm(False))


def test_module_reuse():
  class ConvBlock(nn.Module):
    @nn.compact
    def __call__(self, x):
      x = nn.Conv(32, [3, 3])(x)
      x = nn.BatchNorm(use_running_average=True)(x)
      x = nn.Dropout(0.5, deterministic=True)(x)
      x = nn.relu(x)
      return x

  class CNN(nn.Module):
    @nn.compact
    def __call__(self, x):
      block = ConvBlock()
      x = block(x)
      x = block(x)
      x = block(x)
      return x

  x = jnp.ones((4, 28, 28, 32))
  table_text('test_module_reuse', CNN().tabulate(
    jax.random.key(0), x=x, show_repeated=True,
    console_kwargs=CONSOLE_TEST_KWARGS, **FLOPS))
  args = (rngs(), x)
  cnn = summary._get_module_table(
    CNN(), depth=1, show_repeated=True, **FLOPS)(*args, mutable=True)
  block = summary._get_module_table(
    ConvBlock(), depth=1, show_repeated=True, **FLOPS)(*args, mutable=True)
  ROWS['test_module_reuse_cnn'] = rows(cnn)
  ROWS['test_module_reuse_block'] = rows(block)


def test_empty_input():
  class EmptyInput(nn.Module):
    @nn.compact
    def __call__(self):
      return 1

  table_text('test_empty_input', EmptyInput().tabulate(
    {}, console_kwargs=CONSOLE_TEST_KWARGS, **FLOPS))


def test_numpy_scalar():
  class Submodule(nn.Module):
    def __call__(self, x):
      return x + 1

  class EmptyInput(nn.Module):
    @nn.compact
    def __call__(self):
      return Submodule()(x=np.pi)

  table_text('test_numpy_scalar', EmptyInput().tabulate(
    {}, console_kwargs=CONSOLE_TEST_KWARGS, **FLOPS))


def test_partitioned_params():
  class Classifier(nn.Module):
    @nn.compact
    def __call__(self, x):
      hidden = nn.Dense(
        features=1024,
        kernel_init=nn.with_partitioning(
          nn.initializers.lecun_normal(), (None, 'data')
        ),
        bias_init=nn.with_partitioning(nn.initializers.zeros, (None,)),
        name='hidden',
      )
      x = x / 255.0
      x = x.reshape((x.shape[0], -1))  # flatten
      x = nn.relu(hidden(x))
      x = nn.Dense(features=10, name='head')(x)
      return x

  table_text('test_partitioned_params', Classifier().tabulate(
    jax.random.key(0), jnp.empty((1, 28, 28, 1)),
    console_kwargs=CONSOLE_TEST_KWARGS, **FLOPS))


def test_non_array_variables():
  class Metadata(struct.PyTreeNode):
    names: tuple = struct.field(pytree_node=False)

  class Foo(nn.Module):
    @nn.compact
    def __call__(self):
      self.sow('foo', 'bar', Metadata(('baz', 'qux')))

  table_text('test_non_array_variables', Foo().tabulate(
    {}, console_kwargs=CONSOLE_TEST_KWARGS, **FLOPS))


def test_tabulate_param_count_and_flops():
  class Foo(nn.Module):
    @nn.compact
    def __call__(self, x):
      h = nn.Dense(4)(x)
      return nn.Dense(2)(h)

  table_text('test_tabulate_param_count_and_flops', Foo().tabulate(
    jax.random.key(0), jnp.ones((16, 9)),
    console_kwargs=CONSOLE_TEST_KWARGS, **FLOPS))


def test_tabulate_enum():
  class Net(nn.Module):
    @nn.compact
    def __call__(self, inputs):
      x = inputs['x']
      x = nn.Dense(features=2)(x)
      return jnp.sum(x)

  class InputEnum(str, enum.Enum):
    x = 'x'

  inputs = {InputEnum.x: jnp.ones((1, 1))}
  # The test's own calls: Flax's default console (colour codes included).
  table_text('test_tabulate_enum_args', Net().tabulate(jax.random.key(0), inputs))
  table_text('test_tabulate_enum_kwargs',
             Net().tabulate(jax.random.key(0), inputs=inputs))


def test_tabulate_norm_wrapper():
  class SubModel(nn.Module):
    @nn.compact
    def __call__(self, x):
      x = nn.SpectralNorm(nn.Dense(5))(x, update_stats=False)
      x = nn.Dense(6)(x)
      x = nn.WeightNorm(nn.Dense(7))(x)
      return x

  class Model(nn.Module):
    @nn.compact
    def __call__(self, x):
      x = nn.WeightNorm(nn.Dense(3))(x)
      x = nn.Dense(4)(x)
      x = SubModel()(x)
      x = nn.Dense(8)(x)
      x = nn.SpectralNorm(nn.Dense(9))(x, update_stats=False)
      return x

  table_text('test_tabulate_norm_wrapper', Model().tabulate(
    jax.random.key(0), jnp.ones((1, 2)),
    console_kwargs=CONSOLE_TEST_KWARGS, **FLOPS))


# ------------------------------------------------------------ beyond the test file
def features():
  """The features the port needs, each beside its Flax default (`part_*`)."""

  class Sow(nn.Module):
    @nn.compact
    def __call__(self, x):
      y = nn.Dense(3)(x)
      self.sow('intermediates', 'h', y)
      self.sow('intermediates', 'h', y * 2)
      self.sow('other', 'z', y)
      return y

  x = jnp.ones((2, 4))
  table_text('part_sow_default_mutable', Sow().tabulate(
    jax.random.key(0), x, console_kwargs=CONSOLE_TEST_KWARGS, **FLOPS))
  table_text('part_sow_mutable_all', Sow().tabulate(
    jax.random.key(0), x, mutable=True, console_kwargs=CONSOLE_TEST_KWARGS, **FLOPS))
  table_text('part_sow_mutable_list', Sow().tabulate(
    jax.random.key(0), x, mutable=['params', 'intermediates'],
    console_kwargs=CONSOLE_TEST_KWARGS, **FLOPS))

  class Partitioned(nn.Module):
    @nn.compact
    def __call__(self, x):
      x = nn.Dense(16, kernel_init=nn.with_partitioning(
        nn.initializers.lecun_normal(), ('embed', 'mlp')))(x)
      x = nn.Conv(8, (3, 3), kernel_init=nn.with_partitioning(
        nn.initializers.lecun_normal(), (None, None, 'mlp', 'out')),
        bias_init=nn.with_logical_partitioning(nn.initializers.zeros_init(), ('out',)))(x)
      x = nn.DenseGeneral((2, 4), use_bias=False, kernel_init=nn.with_partitioning(
        nn.initializers.lecun_normal(), ('out', 'heads', None)))(x)
      return x

  table_text('part_partitioned', Partitioned().tabulate(
    jax.random.key(0), jnp.ones((2, 6, 6, 5)),
    console_kwargs=CONSOLE_TEST_KWARGS, **FLOPS))

  class SowSum(nn.Module):
    @nn.compact
    def __call__(self, x):
      y = nn.Dense(3)(x)
      add = lambda a, b: a + b
      self.sow('stats', 'sum', y, reduce_fn=add, init_fn=lambda: 0)
      self.sow('stats', 'sum', y * 2.0, reduce_fn=add, init_fn=lambda: 0)
      self.sow('stats', 'max', y, reduce_fn=jnp.maximum, init_fn=lambda: jnp.zeros((), jnp.float32))
      return y

  class SowSumShared(nn.Module):
    @nn.compact
    def __call__(self, x):
      m = SowSum()
      return m(nn.Dense(4)(m(x)))

  table_text('part_sow_reduce', SowSumShared().tabulate(
    jax.random.key(0), jnp.ones((2, 4)), show_repeated=True,
    console_kwargs=CONSOLE_TEST_KWARGS, **FLOPS))

  P = nn.with_partitioning

  class PartitionedMore(nn.Module):
    @nn.compact
    def __call__(self, tokens):
      x = nn.Embed(11, 8, embedding_init=P(nn.initializers.normal(0.02), ('vocab', 'embed')))(tokens)
      x = nn.LayerNorm(scale_init=P(nn.initializers.ones, ('embed',)),
                       bias_init=P(nn.initializers.zeros, ('embed',)))(x)
      x = nn.MultiHeadDotProductAttention(
        2, kernel_init=P(nn.initializers.lecun_normal(), ('embed', 'heads', 'kv')),
        bias_init=P(nn.initializers.zeros, ('heads', 'kv')),
        out_kernel_init=P(nn.initializers.lecun_normal(), ('heads', 'kv', 'embed')),
      )(x, deterministic=True)
      x = nn.RMSNorm(scale_init=P(nn.initializers.ones, ('embed',)))(x)
      x = nn.Einsum((8, 6), 'btd,de->bte', bias_init=P(nn.initializers.zeros, ('mlp',)),
                    kernel_init=P(nn.initializers.lecun_normal(), ('embed', 'mlp')))(x)
      x = nn.GroupNorm(num_groups=2, scale_init=P(nn.initializers.ones, ('mlp',)))(x)
      x = nn.BatchNorm(use_running_average=False,
                       bias_init=P(nn.initializers.zeros, ('mlp',)))(x)
      x = nn.ConvTranspose(4, (3,), kernel_init=P(nn.initializers.lecun_normal(),
                                                   (None, 'mlp', 'out')))(x)
      return x

  def cell_inits():
    return dict(kernel_init=P(nn.initializers.lecun_normal(), ('embed', 'mlp')),
                recurrent_kernel_init=P(nn.initializers.orthogonal(), ('mlp', None)),
                bias_init=P(nn.initializers.zeros_init(), ('mlp',)))

  class PartitionedCells(nn.Module):
    @nn.compact
    def __call__(self, x):
      h = nn.RNN(nn.GRUCell(4, **cell_inits()))(x)
      h = h.mean(axis=1)
      carry = (jnp.zeros((2, 4)), jnp.zeros((2, 4)))
      _, y = nn.LSTMCell(4, **cell_inits())(carry, h)
      _, z = nn.SimpleCell(4, **cell_inits())(jnp.zeros((2, 4)), y)
      return z

  class PartitionedVariable(nn.Module):
    @nn.compact
    def __call__(self, x):
      kv = self.variable('cache', 'kv', P(nn.initializers.zeros_init(), ('batch', None)),
                         None, x.shape, x.dtype)
      kv.value = kv.value + x
      return nn.Dense(3)(kv.value)

  table_text('part_partitioned_variable', PartitionedVariable().tabulate(
    jax.random.key(0), jnp.ones((2, 8)),
    console_kwargs=CONSOLE_TEST_KWARGS, **FLOPS))

  table_text('part_partitioned_cells', PartitionedCells().tabulate(
    jax.random.key(0), jnp.ones((2, 5, 3)),
    console_kwargs=CONSOLE_TEST_KWARGS, **FLOPS))

  table_text('part_partitioned_more', PartitionedMore().tabulate(
    jax.random.key(0), jnp.ones((2, 5), jnp.int32), mutable=True,
    console_kwargs=CONSOLE_TEST_KWARGS, **FLOPS))


def main():
  os.makedirs(OUT, exist_ok=True)
  # `ONLY=features` (or a test's name) regenerates just that.
  only = os.environ.get('ONLY')
  for name, fn in list(globals().items()):
    if name.startswith('test_') and callable(fn) and only in (None, name):
      fn()
  if only in (None, 'features'):
    features()
  for name, s in TEXTS.items():
    with open(os.path.join(OUT, f'{name}.txt'), 'w') as f:
      f.write(s)
  if ROWS:
    path = os.path.join(OUT, 'rows.json')
    rows = {}
    if only is not None and os.path.exists(path):
      with open(path) as f:
        rows = json.load(f)
    rows.update(ROWS)
    with open(path, 'w') as f:
      json.dump(rows, f, indent=1, sort_keys=True)
      f.write('\n')


if __name__ == '__main__':
  main()
