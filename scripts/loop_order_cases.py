"""Differential cases for the order in which XLA visits a computation's loops.

XLA's `HloCostAnalysis` visits a computation's unreachable roots (each `while`'s unused
counter) before its ROOT in the lowered module's instruction order, where a VJP
program's transposed loops follow every forward loop, in reverse. Two fresh random models
(`DIFF_START=900000`) were one float32 ulp off in their root `vjp_flops` while we visited
the loops by region number (a loop's forward and transposed copies together); this writes
them, and the smallest model found that shows it, to
`tests/differential/cases_<family>_loops.json` (not a numbered file, so `differential.py`
leaves it alone). `tests/it/differential.rs` loads it with the other `cases_*.json`.

Run (from the repository root), once per family:

    DIFF_FAMILY=scan PYTHONHASHSEED=0 JAX_PLATFORMS=cpu /work/venv/bin/python scripts/loop_order_cases.py
    DIFF_FAMILY=acts PYTHONHASHSEED=0 JAX_PLATFORMS=cpu /work/venv/bin/python scripts/loop_order_cases.py

Reference environment: jax 0.10.2, flax 0.12.8 (CPU).
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import differential as d  # noqa: E402

# Per family: the fresh random indices, then hand-written repros (id, input shape, model).
FRESH = {'scan': [900048], 'acts': [900027]}
GRU = {'op': 'RNNx', 'cell': 'gru', 'features': 128, 'at': 'call',
       'opts': {'keep_order': False, 'reverse': False, 'time_major': False}}
REVERSED_CELL = {'op': 'Scan', 'kind': 'cell', 'mode': 'broadcast', 'act': 'tanh', 'features': 64,
                 'in_axis': -2, 'out_axis': 1, 'out': None, 'out_bias': True, 'reverse': True}
TARGETED = {
  'scan': [
    # Forward GRU, forward reversed cell, then their transposes in reverse: the sum of the
    # four loop terms rounds differently when the GRU's transpose comes second.
    ('scan-t-loop-order', [8, 14, 14, 32],
     {'class': 'Branch', 'left': {'class': 'Stack', 'ops': [GRU]},
      'right': {'class': 'Stack', 'ops': [REVERSED_CELL]}}),
  ],
  'acts': [],
}


def main():
  family = d.FAMILY
  cases = []
  for index in FRESH[family]:
    case = d.make_case(index)
    cases.append(case)
  for cid, shape, model in TARGETED[family]:
    cases.append({'id': cid, 'input': {'dtype': 'float32', 'shape': shape}, 'depth': None,
                  'show_repeated': False, 'model': model})
  for case in cases:
    case['collections'], case['rows'] = d.run_flax(case)
    print(case['id'], case['rows'][0]['vjp_flops'], file=sys.stderr)
  path = os.path.join(d.ROOT, 'tests', 'differential', f'cases_{family}_loops.json')
  with open(path, 'w') as f:
    f.write('{"generator": "scripts/loop_order_cases.py", "cases": [\n')
    f.write(',\n'.join(json.dumps(c, sort_keys=True) for c in cases))
    f.write('\n]}\n')


if __name__ == '__main__':
  main()
