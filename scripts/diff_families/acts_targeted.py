"""Targeted cases of the `acts` family: every function and layer of
`scripts/diff_families/acts.py` at least once, on a small input and on one large enough
that its row totals pass 2^24 (XLA's float32 sums), run through Flax's table builder as
the random cases are. Writes `tests/differential/cases_acts_targeted.json` (ids
`acts-t-…`), which `tests/it/differential.rs` loads with the other `cases_*.json`.

    PYTHONHASHSEED=0 JAX_PLATFORMS=cpu /work/venv/bin/python scripts/diff_families/acts_targeted.py
"""

import json
import os
import sys

os.environ['DIFF_FAMILY'] = 'acts'
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import differential as d  # noqa: E402


def fn(name, **kw):
  return {'op': 'fn', 'name': name, **kw}


def stack(*ops):
  return {'class': 'Stack', 'ops': list(ops)}


def setup_stack(*ops):
  return {'class': 'SetupStack', 'ops': list(ops)}


def case(cid, shape, model, dtype='float32', depth=None):
  return {'id': f'acts-t-{cid}', 'input': {'dtype': dtype, 'shape': shape}, 'depth': depth,
          'show_repeated': False, 'model': model}


DENSE = {'op': 'Dense', 'features': 4, 'use_bias': True}
FNS = [
  fn('relu6'), fn('hard_sigmoid'), fn('hard_tanh'), fn('hard_silu'), fn('hard_swish'),
  fn('celu', alpha=1.0), fn('celu', alpha=0.5), fn('selu'), fn('glu', axis=-1),
  fn('glu', axis=0), fn('log_sigmoid'), fn('soft_sign'),
  fn('standardize', axis=[-1], epsilon=1e-5), fn('standardize', axis=[-2, -1], epsilon=1e-6),
  fn('normalize'), fn('logsumexp', axis=[-1], keepdims=False),
  fn('logsumexp', axis=[-1], keepdims=True), fn('one_hot', num_classes=3, axis=-1),
  fn('sin'), fn('cos'), fn('tan'), fn('arcsin'), fn('arccos'), fn('arctan'), fn('sinh'),
  fn('cosh'), fn('arcsinh'), fn('arccosh'), fn('arctanh'), fn('erf_inv'),
]

def module(spec):
  return {'op': 'module', 'module': spec}


CASES = []
for i, f in enumerate(FNS):
  tag = f"{i:02d}-{f['name']}"
  CASES.append(case(f'{tag}-small', [2, 3, 4], stack(module(stack(DENSE, f)))))
  CASES.append(case(f'{tag}-large', [32, 1024, 1024], stack(module(stack(f)))))
CASES += [
  case('one-hot-int', [4, 7], stack(fn('one_hot', num_classes=5, axis=0)), dtype='int32'),
] + [
  # Integer inputs: each function promotes where (and as often as) `jnp` does.
  case(f"int-{f['name']}", [4, 6], stack(f), dtype='int32')
  for f in (fn('relu6'), fn('hard_sigmoid'), fn('hard_tanh'), fn('hard_silu'),
            fn('celu', alpha=1.0), fn('log_sigmoid'), fn('soft_sign'), fn('sin'),
            fn('arcsinh'))
] + [
  case('prelu', [2, 3, 4], setup_stack({'op': 'PReLU'}, DENSE, {'op': 'PReLU'})),
  case('prelu-large', [64, 1024, 1024], stack({'op': 'PReLU'})),
  case('normal', [4, 6], stack({'op': 'Noise', 'kind': 'normal', 'minval': 0.0,
                                'maxval': 1.0})),
  case('uniform', [4, 6], stack(DENSE, {'op': 'Noise', 'kind': 'uniform', 'minval': -2.0,
                                        'maxval': 3.0, 'name': 'jitter'})),
  case('normal-large', [32, 1024, 1024],
       stack({'op': 'Noise', 'kind': 'normal', 'minval': 0.0, 'maxval': 1.0})),
  case('gqa', [2, 5, 16], stack({'op': 'GQA', 'num_heads': 8, 'num_kv_heads': 2,
                                 'head_dim': 4})),
  case('gqa-mqa', [3, 7, 12], stack({'op': 'GQA', 'num_heads': 4, 'num_kv_heads': 1,
                                     'head_dim': 8})),
  case('gqa-causal', [2, 5, 16], stack({'op': 'GQA', 'num_heads': 8, 'num_kv_heads': 2,
                                        'head_dim': 4, 'causal': True})),
  case('gqa-causal-large', [4, 1024, 1024],
       stack({'op': 'GQA', 'num_heads': 16, 'num_kv_heads': 2, 'head_dim': 64,
              'causal': True})),
  case('rotary', [2, 5, 8], stack({'op': 'Rotary'}, DENSE)),
  case('rotary-large', [16, 2048, 1024], stack({'op': 'Rotary'})),
  case('gqa-large', [8, 512, 1024], stack({'op': 'GQA', 'num_heads': 16, 'num_kv_heads': 4,
                                           'head_dim': 64})),
]


def main():
  out = []
  for c in CASES:
    c['collections'], c['rows'] = d.run_flax(c)
    print(f"{c['id']}: {len(c['rows'])} rows", file=sys.stderr)
    out.append(c)
  path = os.path.join(d.OUT_DIR, 'cases_acts_targeted.json')
  with open(path, 'w') as f:
    f.write('{"generator": "scripts/diff_families/acts_targeted.py", "cases": [\n')
    f.write(',\n'.join(json.dumps(c, sort_keys=True) for c in out))
    f.write('\n]}\n')
  print(f'wrote {len(out)} cases to {os.path.relpath(path, d.ROOT)}', file=sys.stderr)


if __name__ == '__main__':
  main()
