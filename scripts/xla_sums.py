"""XLA's float32 FLOP sums at large totals: Flax's rows for models whose row totals lie
far above 2^24, where the order and grouping of XLA's float32 additions decide the
last bits (issue 8 item 1).

Writes tests/golden/xla_sums.json in the spec format of scripts/differential.py (whose
model builder and row renderer it reuses): the three mismatches the issue names
(stochastic Dropout on float32[32,28,28,32], a large Dense without bias, a ResNet
basic block at 224x224), then seeded random stacks of Dense (with and without bias),
Conv, BatchNorm, LayerNorm, RMSNorm, Dropout, MHA and activations with wide layers.
`tests/it/differential.rs` (`xla_sums_match_flax`) rebuilds each case with the public
Rust API and requires every field to match.

Run (from the repository root):

    PYTHONHASHSEED=0 JAX_PLATFORMS=cpu /work/venv/bin/python scripts/xla_sums.py

Reference environment: jax 0.10.2, flax 0.12.8 (CPU).
"""

import json
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import differential as d  # noqa: E402

OUT = os.path.join(d.ROOT, 'tests', 'golden', 'xla_sums.json')


def case(cid, shape, model, depth=None, show_repeated=False):
  return {'id': cid, 'input': {'dtype': 'float32', 'shape': shape}, 'depth': depth,
          'show_repeated': show_repeated, 'model': model}


def stack(*ops):
  return {'class': 'Stack', 'ops': list(ops)}


def dense(f, bias=True):
  return {'op': 'Dense', 'features': f, 'use_bias': bias}


def conv(f, k=3, stride=1, bias=False):
  return {'op': 'Conv', 'features': f, 'kernel_size': [k, k], 'strides': [stride, stride],
          'padding': 'SAME', 'kernel_dilation': [1, 1], 'feature_group_count': 1,
          'use_bias': bias}


def bn():
  return {'op': 'BatchNorm', 'use_running_average': False, 'use_scale': True,
          'use_bias': True}


def fn(name, **kw):
  return {'op': 'fn', 'name': name, **kw}


def named():
  """The issue's three cases."""
  basic_block = stack(
    {'op': 'module', 'module': {'class': 'Residual', 'body': stack(
      conv(64), bn(), fn('relu'), conv(64), bn())}},
    fn('relu'))
  return [
    case('dropout_32x28x28x32', [32, 28, 28, 32],
         stack({'op': 'Dropout', 'rate': 0.5, 'deterministic': False})),
    case('dense_no_bias_16x1875_4843', [16, 1875], stack(dense(4843, bias=False))),
    case('resnet_basic_block_224', [2, 224, 224, 64], basic_block),
    case('resnet_basic_block_224_b8', [8, 224, 224, 64], basic_block),
    case('resnet_basic_block_224_b32', [32, 224, 224, 64], basic_block),
  ]


def generated(n):
  """Seeded random stacks whose rows total far above 2^24."""
  out = []
  for i in range(n):
    r = random.Random(f'tabulate-xla-sums-{i}')
    batch = r.choice([8, 16, 32, 64])
    if r.random() < 0.3:
      hw, c = r.choice([28, 56, 112]), r.choice([16, 32, 64])
      shape = [r.choice([2, 4, 8]), hw, hw, c]
      ops = []
      for _ in range(r.randint(1, 3)):
        ops.append(r.choice([conv(r.randint(17, 96), bias=r.random() < 0.5), bn(),
                             fn('relu'), fn('silu'), fn('sigmoid'),
                             {'op': 'Dropout', 'rate': 0.25, 'deterministic': False}]))
    else:
      shape = [batch, r.randint(64, 512), r.randint(257, 2049)]
      ops = []
      for _ in range(r.randint(1, 4)):
        k = r.choice(['dense', 'dense_nb', 'ln', 'rms', 'act', 'drop', 'mha'])
        if k == 'dense':
          ops.append(dense(r.randint(257, 4099)))
        elif k == 'dense_nb':
          ops.append(dense(r.randint(257, 4099), bias=False))
        elif k == 'ln':
          ops.append({'op': 'LayerNorm', 'epsilon': 1e-6, 'use_scale': True,
                      'use_bias': True})
        elif k == 'rms':
          ops.append({'op': 'RMSNorm', 'epsilon': 1e-6})
        elif k == 'act':
          name = r.choice(['gelu', 'relu', 'sigmoid', 'silu', 'tanh', 'softmax'])
          extra = {'approximate': r.random() < 0.5} if name == 'gelu' else {}
          if name == 'softmax':
            extra = {'axis': -1}
          ops.append(fn(name, **extra))
        elif k == 'drop':
          ops.append({'op': 'Dropout', 'rate': r.choice([0.1, 0.5]), 'deterministic': False})
        else:
          ops.append({'op': 'MHA', 'num_heads': 4, 'qkv_features': 256,
                      'dropout_rate': 0.0, 'deterministic': True})
    out.append(case(f'x{i:02d}', shape, stack(*ops)))
  return out


def main():
  cases = []
  for c in named() + generated(int(sys.argv[1]) if len(sys.argv) > 1 else 20):
    c['collections'], c['rows'] = d.run_flax(c)
    top = max(row['vjp_flops'] or 0 for row in c['rows'])
    print(f"{c['id']}: {len(c['rows'])} rows, max vjp_flops {top}", file=sys.stderr,
          flush=True)
    cases.append(c)
  with open(OUT, 'w') as f:
    f.write('{"generator": "scripts/xla_sums.py", "cases": [\n')
    f.write(',\n'.join(json.dumps(c, sort_keys=True) for c in cases))
    f.write('\n]}\n')
  print(f'wrote {len(cases)} cases to {os.path.relpath(OUT, d.ROOT)}', file=sys.stderr)


if __name__ == '__main__':
  main()
