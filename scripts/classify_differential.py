"""Writes tests/differential/known_failures.txt from a mismatch report.

    TABULATE_DIFF_REPORT=/tmp/diff.json cargo test --test it differential::
    python3 scripts/classify_differential.py /tmp/diff.json

Each failing case gets one line, `id cause; cause`, with causes from the classes
below (a case can have several). Plain Python; reads the committed cases for the
rows' module types.
"""

import json
import os
import re
import sys
from collections import Counter

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DIR = os.path.join(ROOT, 'tests', 'differential')

CLASSES = {
  'naming-setup-in-compact':
    'a setup-style module built inside a compact parent names its field children '
    'as siblings in the parent (Flax: SetupStack_0/layers_0); with `depth`, the '
    'parent row then counts none of their variables (issue 8 item 5)',
  'einsum-helper-row':
    "Flax records Einsum's private helper `_get_bias_shape` as a call: with "
    'show_repeated=True it is a row `Einsum (_get_bias_shape)` (flops 0)',
  'selfattention-inputs':
    'with show_repeated=True, the repeated `SelfAttention` row is the inner call of '
    "MultiHeadDotProductAttention.__call__, whose inputs Flax shows with SelfAttention's "
    'full keyword set (deterministic, dropout_rng, mask, sow_weights); ours repeats '
    '`{deterministic}` (layer convention)',
  'f32-sum':
    "a FLOP total past 2^24 differs from XLA's by a few float32 rounding steps "
    '(<= 64 ulp; XLA summation order, issue 8 item 1)',
  'cost:T':
    'a FLOP count differs by more than rounding; T is the deepest shown row that '
    'differs (with `depth`, the layer itself may be hidden below it)',
  'outputs:T': 'the output shape differs; T is the deepest shown row that differs',
  'rows': 'rows missing or extra for another reason',
  'variables': "a row's variables (leaves, counts or bytes) differ",
  'inputs': 'the inputs cell differs for another reason',
  'error': 'the Rust side returns an error where Flax gives a table',
}


def load_cases():
  cases = {}
  for f in sorted(os.listdir(DIR)):
    if f.startswith('cases_') and f.endswith('.json'):
      with open(os.path.join(DIR, f)) as fh:
        for c in json.load(fh)['cases']:
          cases[c['id']] = c
  return cases


def row_index(row):
  m = re.match(r'#(\d+) ', row)
  return int(m.group(1)) if m else None


def nested_setup(model):
  """Whether a SetupStack is built inside another module's method."""
  inner = {k: v for k, v in model.items() if k != 'class'}
  return '"SetupStack"' in json.dumps(inner)


def deepest(rows, indices):
  """The module types of the deepest rows among `indices` (a difference shows in a
  row and in every ancestor)."""
  paths = {i: rows[i]['path'] for i in indices}
  out = []
  for i in indices:
    p = paths[i]
    if any(q != p and (p == '' or q.startswith(p + '/')) for q in paths.values()):
      continue
    r = rows[i]
    out.append(r['module_type'] + ('' if r['method'] == '__call__' else f".{r['method']}"))
  return out


def ulp(x):
  return 2.0 ** (max(x, 1).bit_length() - 24)


def classify(case, mismatches):
  causes = set()
  rows = case['rows']
  cost_rows, out_rows = set(), set()
  naming = nested_setup(case['model'])
  for m in mismatches:
    f = m['field']
    if f == 'error':
      causes.add('error')
    elif f == 'row':
      key = m['flax'] if m['ours'] == '<absent>' else m['ours']
      if '_get_bias_shape' in key:
        causes.add('einsum-helper-row')
      elif naming:
        causes.add('naming-setup-in-compact')
      else:
        causes.add('rows')
    elif f == 'row_count':
      continue  # the `row` mismatches say which
    elif f == 'inputs':
      causes.add('selfattention-inputs' if 'dropout_rng' in m['flax'] else 'inputs')
    elif f == 'outputs':
      out_rows.add(row_index(m['row']))
    elif f in ('flops', 'vjp_flops'):
      ours, flax = int(m['ours']), int(m['flax'])
      if flax > 2 ** 24 and abs(ours - flax) <= 64 * ulp(flax):
        causes.add('f32-sum')
      else:
        cost_rows.add(row_index(m['row']))
    elif f.endswith(('.leaves', '.count', '.bytes')):
      causes.add('naming-setup-in-compact' if naming else 'variables')
    else:
      causes.add(f)
  causes.update(f'outputs:{t}' for t in deepest(rows, out_rows))
  if not out_rows:
    causes.update(f'cost:{t}' for t in deepest(rows, cost_rows))
  elif cost_rows - out_rows:
    causes.update(f'cost:{t}' for t in deepest(rows, cost_rows - out_rows))
  return sorted(causes)


def main():
  report = json.load(open(sys.argv[1]))
  cases = load_cases()
  lines, counter = [], Counter()
  for cid in sorted(report):
    causes = classify(cases[cid], report[cid])
    counter.update(causes)
    lines.append(f"{cid} {'; '.join(causes)}")
  header = ['# Differential cases that do not match Flax yet: `id cause; cause`.',
            '# Made by scripts/classify_differential.py; tests/it/differential.rs fails when a',
            '# case not listed here mismatches, and when a listed case matches.',
            '#']
  for k, v in CLASSES.items():
    header.append(f'# {k}: {v}')
  header.append('#')
  for k, n in counter.most_common():
    header.append(f'# {n:4d} {k}')
  with open(os.path.join(DIR, 'known_failures.txt'), 'w') as f:
    f.write('\n'.join(header + lines) + '\n')
  print(f'{len(lines)} failing cases', file=sys.stderr)
  for k, n in counter.most_common():
    print(f'{n:4d} {k}', file=sys.stderr)


if __name__ == '__main__':
  main()
