"""Differential cases for where a nested `jit`'s operand cotangents are summed.

JAX transposes a nested `jit` (a `pjit` equation, an HLO `call`) as one equation: the
cotangents its body gives an operand are summed inside the transposed call, and that sum
is added to the operand's other cotangents after the call, in the caller. A fresh random
`wrap` model (`DIFF_START=600000`, index 600093) was one float32 ulp off in two rows'
`vjp_flops` while we added every contribution from inside the call to the running
cotangent inside the call: `SpectralNorm`'s `sigma` is read by `jnp.where` (a nested
`jit`) and written back to `batch_stats`, so its cotangent's last `add_any` (1 flop) was
summed in the `_where` call instead of the top level (checked with an emulation of
HloCostAnalysis over the lowered HLO proto, which reproduces XLA's totals). This writes
that model and its `Residual` row alone to `tests/differential/cases_wrap_sn.json` (not
a numbered file, so `differential.py` leaves it alone); both fail with the old rule.

Run (from the repository root):

    DIFF_FAMILY=wrap PYTHONHASHSEED=0 JAX_PLATFORMS=cpu /work/venv/bin/python scripts/call_ct_cases.py

Reference environment: jax 0.10.2, flax 0.12.8 (CPU).
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import differential as d  # noqa: E402

FRESH = [600093]
# `Residual(SetupStack(SpectralNorm(Dense 48), Sequential(Dense 16, tanh, LayerNorm)))`,
# the first layer of 600093, alone: its root row shows the same ulp.
SN = {'inner': {'features': 48, 'op': 'Dense', 'use_bias': True}, 'n_steps': 1,
      'op': 'SpectralNorm', 'update_stats': True}
SEQ = {'layers': [{'features': 16, 'op': 'Dense', 'use_bias': True}, {'name': 'tanh', 'op': 'fn'},
                  {'epsilon': 1e-06, 'op': 'LayerNorm', 'use_bias': True, 'use_scale': True}],
       'op': 'Sequential'}
TARGETED = [
  ('wrap-t-sn-where', [2, 32, 32, 32],
   {'class': 'SetupStack', 'ops': [{'op': 'module', 'module': {
     'class': 'Residual', 'body': {'class': 'SetupStack', 'ops': [SN, SEQ]}}}]}),
]


def main():
  if d.FAMILY != 'wrap':
    sys.exit('run with DIFF_FAMILY=wrap')
  cases = [d.make_case(index) for index in FRESH]
  for cid, shape, model in TARGETED:
    cases.append({'id': cid, 'input': {'dtype': 'float32', 'shape': shape}, 'depth': None,
                  'show_repeated': False, 'model': model})
  for case in cases:
    case['collections'], case['rows'] = d.run_flax(case)
    print(case['id'], case['rows'][0]['vjp_flops'], file=sys.stderr)
  path = os.path.join(d.ROOT, 'tests', 'differential', 'cases_wrap_sn.json')
  with open(path, 'w') as f:
    f.write('{"generator": "scripts/call_ct_cases.py", "cases": [\n')
    f.write(',\n'.join(json.dumps(c, sort_keys=True) for c in cases))
    f.write('\n]}\n')


if __name__ == '__main__':
  main()
