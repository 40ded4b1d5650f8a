"""Targeted differential cases: the minimal repro of each class the random suite found.

Each case is a hand-written model spec in the format of `scripts/differential.py`
(same user modules, same ops), run through Flax's own table builder exactly as the
random cases are, and written to `tests/differential/targeted.json`.
`tests/it/differential.rs` (`targeted_against_flax`) requires every one to match, with no
known-failures list: a fix lands with its repro here.

Run (from the repository root):

    PYTHONHASHSEED=0 JAX_PLATFORMS=cpu /work/venv/bin/python scripts/differential_targeted.py

Reference environment: jax 0.10.2, flax 0.12.8 (CPU).
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import differential as d  # noqa: E402


def dense(features, use_bias=True):
  return {'op': 'Dense', 'features': features, 'use_bias': use_bias}


def stack(*ops):
  return {'class': 'Stack', 'ops': list(ops)}


def setup_stack(*ops):
  return {'class': 'SetupStack', 'ops': list(ops)}


def module(spec):
  return {'op': 'module', 'module': spec}


def case(cid, shape, model, depth=None, show_repeated=False, why=''):
  return {
    'id': cid,
    'why': why,
    'input': {'dtype': 'float32', 'shape': shape},
    'depth': depth,
    'show_repeated': show_repeated,
    'model': model,
  }


SETUP_OPS = (
  dense(3),
  {'op': 'RNN', 'cell': 'lstm', 'features': 3},
  {'op': 'Sequential', 'layers': [dense(4), {'op': 'LayerNorm', 'epsilon': 1e-6,
                                             'use_scale': True, 'use_bias': True}]},
)

CASES = [
  case('t-setup-in-compact', [2, 4], stack(module(setup_stack(dense(3)))),
       why='a setup-style module built in a compact parent: SetupStack_0/layers_0'),
  case('t-setup-in-compact-adopts', [2, 5, 4], stack(module(setup_stack(*SETUP_OPS))),
       why='setup attributes adopt their dataclass fields: layers_1/cell, layers_2/layers_0'),
  case('t-setup-in-compact-depth', [2, 5, 4], stack(module(setup_stack(*SETUP_OPS))),
       depth=1, why='with depth, the setup-style row counts its children\'s params'),
  case('t-compact-keeps-binding', [2, 5, 4],
       stack(*SETUP_OPS, module(setup_stack(dense(2)))),
       why='compact RNN/Sequential children stay siblings (LSTMCell_0 beside RNN_0)'),
  case('t-setup-root', [2, 5, 4], setup_stack(*SETUP_OPS),
       why='the root in setup style'),
  case('t-convtranspose-explicit', [1, 4, 1],
       stack({'op': 'ConvTranspose', 'features': 2, 'kernel_size': [1], 'strides': [1],
              'padding': [[0, 1]], 'kernel_dilation': [1], 'transpose_kernel': False,
              'use_bias': True}),
       why='explicit ConvTranspose padding pads the dilated input as given: float32[1,5,2]'),
  case('t-convtranspose-explicit-strided', [2, 5, 6, 3],
       stack({'op': 'ConvTranspose', 'features': 4, 'kernel_size': [3, 2], 'strides': [2, 3],
              'padding': [[1, 2], [0, 3]], 'kernel_dilation': [2, 1],
              'transpose_kernel': True, 'use_bias': False}),
       why='explicit padding with strides, dilation and a transposed kernel'),
  case('t-embed-attend', [1, 3], stack({'op': 'EmbedAttend', 'num_embeddings': 2,
                                        'features': 3}),
       why='Embed.attend: jnp.dot(query, embedding.T); one pass-through add per entry'),
  case('t-embed-attend-batched', [4, 64, 128],
       stack({'op': 'EmbedAttend', 'num_embeddings': 24, 'features': 128}),
       why='Embed.attend on a batch of sequences'),
  case('t-lstmcell-direct', [1, 2], stack({'op': 'Cell', 'cell': 'lstm', 'features': 2}),
       why='LSTMCell called directly on a zero carry'),
  case('t-grucell-direct', [3, 4], stack({'op': 'Cell', 'cell': 'gru', 'features': 5}),
       why='GRUCell called directly on a zero carry'),
  case('t-selfattention-repeated', [2, 5, 8],
       stack({'op': 'SelfAttention', 'num_heads': 2, 'qkv_features': 8,
              'deterministic': True}),
       show_repeated=True,
       why='SelfAttention calls MultiHeadDotProductAttention.__call__ with every keyword'),
  case('t-einsum-bias-shape', [2, 3, 4],
       stack({'op': 'Einsum', 'shape': [3, 4, 5], 'equation': 'abc,bcd->abd',
              'use_bias': True}),
       show_repeated=True,
       why='Einsum._get_bias_shape is a call (a repeated row); the bias takes every output '
           'letter of the kernel, batch letters too'),
  # Flax's merge_param: given at construction, the call shows no keyword.
  case('t-dropout-at-init', [2, 6, 8],
       stack({'op': 'Dropout', 'rate': 0.5, 'deterministic': True, 'deterministic_at': 'init'},
             {'op': 'Dropout', 'rate': 0.25, 'deterministic': False,
              'deterministic_at': 'init'}),
       why='Dropout(deterministic=...) at construction: dropout(x)'),
  case('t-batchnorm-at-call', [4, 5, 3],
       stack({'op': 'BatchNorm', 'use_running_average': False, 'use_scale': True,
              'use_bias': True, 'use_running_average_at': 'call'},
             {'op': 'BatchNorm', 'use_running_average': True, 'use_scale': True,
              'use_bias': False, 'use_running_average_at': 'call'}),
       why='BatchNorm() then bn(x, use_running_average=...)'),
  case('t-attention-at-init', [2, 5, 8],
       stack({'op': 'MHA', 'num_heads': 2, 'qkv_features': 8, 'dropout_rate': 0.1,
              'deterministic': False, 'deterministic_at': 'init'},
             {'op': 'SelfAttention', 'num_heads': 2, 'qkv_features': 8,
              'deterministic': True, 'deterministic_at': 'init'}),
       show_repeated=True,
       why='attention configured at construction; SelfAttention passes deterministic=None on'),
]


def main():
  out = []
  for c in CASES:
    c['collections'], c['rows'] = d.run_flax(c)
    print(f"{c['id']}: {len(c['rows'])} rows", file=sys.stderr)
    out.append(c)
  path = os.path.join(d.OUT_DIR, 'targeted.json')
  with open(path, 'w') as f:
    f.write('{"generator": "scripts/differential_targeted.py", "cases": [\n')
    f.write(',\n'.join(json.dumps(c, sort_keys=True) for c in out))
    f.write('\n]}\n')
  print(f'wrote {len(out)} cases to {os.path.relpath(path, d.ROOT)}', file=sys.stderr)


if __name__ == '__main__':
  main()
