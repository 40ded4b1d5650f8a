"""Writes tests/differential/known_failures.txt from a mismatch report.

    TABULATE_DIFF_REPORT=/tmp/diff.json cargo test --test differential
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
    'as siblings in the parent (Flax: SetupStack_0/layers_0) (issue 8 item 5)',
  'naming-other': 'a path differs for another reason',
  'rows': 'different rows (count or order) for another reason than naming',
  'selfattention-inputs':
    "SelfAttention's inputs cell: Flax shows MHA's full keyword set "
    '(dropout_rng, mask, sow_weights) (layer convention, issue 8 item 3)',
  'inputs': 'the inputs cell differs',
  'outputs': 'the outputs cell differs',
  'f32-sum':
    "a FLOP total past 2^24 differs from XLA's by float32 rounding steps "
    '(XLA summation order, issue 8 item 1)',
  'cost': 'a FLOP count differs by more than rounding (a cost rule); the '
          'deepest differing row\'s module is named',
  'variables': "a row's variables (leaves, counts or bytes) differ",
  'type': 'module type or method differs',
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


def classify(case, mismatches):
  causes = []
  rows = case['rows']
  flops_rows = {}
  for m in mismatches:
    f = m['field']
    if f == 'error':
      causes.append('error')
    elif f in ('path', 'row_count'):
      theirs = m['flax']
      if re.search(r'SetupStack_\d+/layers_\d+', theirs) and not re.search(
          r'SetupStack_\d+/layers_\d+', m['ours']):
        causes.append('naming-setup-in-compact')
      elif f == 'path':
        causes.append('naming-other')
      else:
        causes.append('rows')
    elif f == 'inputs':
      causes.append('selfattention-inputs' if 'dropout_rng' in m['flax'] else 'inputs')
    elif f == 'outputs':
      causes.append('outputs')
    elif f in ('flops', 'vjp_flops'):
      i = row_index(m['row'])
      ours, flax = int(m['ours']), int(m['flax'])
      rel = abs(ours - flax) / max(flax, 1)
      if flax > 2 ** 24 and rel < 2 ** -20:
        causes.append('f32-sum')
      else:
        flops_rows[i] = rows[i]
    elif f.endswith(('.leaves', '.count', '.bytes')):
      causes.append('variables')
    elif f in ('module_type', 'method'):
      causes.append('type')
    else:
      causes.append(f)
  # A cost difference shows in a row and all its ancestors: name the deepest rows.
  paths = {i: r['path'] for i, r in flops_rows.items()}
  for i, r in flops_rows.items():
    p = r['path']
    if any(q != p and (p == '' or q.startswith(p + '/')) for q in paths.values()):
      continue
    what = r['module_type'] + ('' if r['method'] == '__call__' else f".{r['method']}")
    causes.append(f'cost:{what}')
  return sorted(set(causes))


def main():
  report = json.load(open(sys.argv[1]))
  cases = load_cases()
  lines, counter = [], Counter()
  for cid in sorted(report):
    causes = classify(cases[cid], report[cid])
    counter.update(causes)
    lines.append(f"{cid} {'; '.join(causes)}")
  header = ['# Differential cases that do not match Flax yet: `id cause; cause`.',
            '# Made by scripts/classify_differential.py; tests/differential.rs fails when a',
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
