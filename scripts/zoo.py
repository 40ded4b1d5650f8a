"""Reference numbers of the model zoo (examples/resnet18.rs, …) from the real Flax.

Writes tests/zoo/<model>.json for each model: what `nn.tabulate` computes for it
(`flax.linen.summary._get_module_table`, the table builder `nn.tabulate` uses) — every
row's path and counted variables per collection, the root row's flops and vjp_flops —
and, for checking the architectures against torchvision before a MAC column exists, an
independent count of multiply-accumulates: every `dot_general` and
`conv_general_dilated` of the model's jaxpr (nested jaxprs included), counted on the
full padded input as torchvision and ptflops count (output elements × contraction
size; a convolution's contraction is its kernel's spatial size × input features per
group), with no bias. Nothing here is computed by a per-layer formula.

The models are the Flax twins of the Rust examples, layer for layer and op for op, in
setup style so the rows carry the same names.

Run (from the repository root):

    PYTHONHASHSEED=0 JAX_PLATFORMS=cpu /work/venv/bin/python scripts/zoo.py [model …]

Reference environment: jax 0.10.2, flax 0.12.8 (CPU).
"""

import json
import math
import os
import sys
import time

os.environ.setdefault('JAX_PLATFORMS', 'cpu')

import jax
import jax.numpy as jnp
import flax.linen as nn
from flax.linen import summary as fs

OUT = os.path.join(
  os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'tests', 'zoo'
)

F32 = jnp.float32


def pad(p):
  return ((p, p), (p, p))


# ------------------------------------------------------------------ ResNet
class Downsample(nn.Module):
  features: int
  stride: int

  def setup(self):
    self.conv = nn.Conv(self.features, (1, 1), strides=self.stride, padding=pad(0), use_bias=False)
    self.bn = nn.BatchNorm(use_running_average=True)

  def __call__(self, x):
    return self.bn(self.conv(x))


class BasicBlock(nn.Module):
  planes: int
  stride: int
  downsample: bool

  def setup(self):
    self.conv1 = nn.Conv(self.planes, (3, 3), strides=self.stride, padding=pad(1), use_bias=False)
    self.bn1 = nn.BatchNorm(use_running_average=True)
    self.conv2 = nn.Conv(self.planes, (3, 3), padding=pad(1), use_bias=False)
    self.bn2 = nn.BatchNorm(use_running_average=True)
    self.down = Downsample(self.planes, self.stride) if self.downsample else None

  def __call__(self, x):
    identity = x
    out = nn.relu(self.bn1(self.conv1(x)))
    out = self.bn2(self.conv2(out))
    if self.down is not None:
      identity = self.down(x)
    return nn.relu(out + identity)


class Bottleneck(nn.Module):
  planes: int
  stride: int
  downsample: bool

  def setup(self):
    self.conv1 = nn.Conv(self.planes, (1, 1), padding=pad(0), use_bias=False)
    self.bn1 = nn.BatchNorm(use_running_average=True)
    # v1.5: the stride is on the 3×3 convolution
    self.conv2 = nn.Conv(self.planes, (3, 3), strides=self.stride, padding=pad(1), use_bias=False)
    self.bn2 = nn.BatchNorm(use_running_average=True)
    self.conv3 = nn.Conv(self.planes * 4, (1, 1), padding=pad(0), use_bias=False)
    self.bn3 = nn.BatchNorm(use_running_average=True)
    self.down = Downsample(self.planes * 4, self.stride) if self.downsample else None

  def __call__(self, x):
    identity = x
    out = nn.relu(self.bn1(self.conv1(x)))
    out = nn.relu(self.bn2(self.conv2(out)))
    out = self.bn3(self.conv3(out))
    if self.down is not None:
      identity = self.down(x)
    return nn.relu(out + identity)


class ResNet(nn.Module):
  bottleneck: bool
  layers: tuple

  def setup(self):
    block = Bottleneck if self.bottleneck else BasicBlock
    expansion = 4 if self.bottleneck else 1
    self.conv1 = nn.Conv(64, (7, 7), strides=2, padding=pad(3), use_bias=False)
    self.bn1 = nn.BatchNorm(use_running_average=True)
    inplanes = 64
    stages = []
    for i, (planes, n) in enumerate(zip((64, 128, 256, 512), self.layers)):
      stride = 1 if i == 0 else 2
      blocks = []
      for j in range(n):
        s = stride if j == 0 else 1
        down = j == 0 and (s != 1 or inplanes != planes * expansion)
        blocks.append(block(planes, s, down))
        inplanes = planes * expansion
      stages.append(blocks)
    self.layer1, self.layer2, self.layer3, self.layer4 = stages
    self.fc = nn.Dense(1000)

  def __call__(self, x):
    x = nn.relu(self.bn1(self.conv1(x)))
    x = nn.max_pool(x, (3, 3), strides=(2, 2), padding=pad(1))
    for stage in (self.layer1, self.layer2, self.layer3, self.layer4):
      for blk in stage:
        x = blk(x)
    x = jnp.mean(x, axis=(1, 2))
    return self.fc(x)


# ------------------------------------------------------------------ VGG-16
VGG16 = (64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512, 512, 'M', 512, 512, 512, 'M')


class VGG(nn.Module):
  def setup(self):
    self.features = [nn.Conv(c, (3, 3), padding=pad(1)) for c in VGG16 if c != 'M']
    self.classifier = [nn.Dense(4096), nn.Dense(4096), nn.Dense(1000)]

  def __call__(self, x):
    convs = iter(self.features)
    for c in VGG16:
      if c == 'M':
        x = nn.max_pool(x, (2, 2), strides=(2, 2))
      else:
        x = nn.relu(next(convs)(x))
    x = x.reshape(x.shape[0], -1)
    x = nn.relu(self.classifier[0](x))
    x = nn.relu(self.classifier[1](x))
    return self.classifier[2](x)


# ------------------------------------------------------------- MobileNetV2
def relu6(x):
  return jnp.minimum(nn.relu(x), 6.0)


class ConvBNReLU(nn.Module):
  features: int
  kernel: int
  stride: int = 1
  groups: int = 1

  def setup(self):
    p = (self.kernel - 1) // 2
    self.conv = nn.Conv(
      self.features, (self.kernel, self.kernel), strides=self.stride, padding=pad(p),
      feature_group_count=self.groups, use_bias=False,
    )
    self.bn = nn.BatchNorm(use_running_average=True)

  def __call__(self, x):
    return relu6(self.bn(self.conv(x)))


class InvertedResidual(nn.Module):
  inp: int
  oup: int
  stride: int
  expand_ratio: int

  def setup(self):
    hidden = int(round(self.inp * self.expand_ratio))
    self.expand = ConvBNReLU(hidden, 1) if self.expand_ratio != 1 else None
    self.depthwise = ConvBNReLU(hidden, 3, self.stride, hidden)
    self.project = nn.Conv(self.oup, (1, 1), padding=pad(0), use_bias=False)
    self.bn = nn.BatchNorm(use_running_average=True)

  def __call__(self, x):
    h = x
    if self.expand is not None:
      h = self.expand(h)
    h = self.bn(self.project(self.depthwise(h)))
    if self.stride == 1 and self.inp == self.oup:
      return x + h
    return h


MBV2 = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))


class MobileNetV2(nn.Module):
  def setup(self):
    self.stem = ConvBNReLU(32, 3, 2)
    blocks = []
    inp = 32
    for t, c, n, s in MBV2:
      for i in range(n):
        blocks.append(InvertedResidual(inp, c, s if i == 0 else 1, t))
        inp = c
    self.blocks = blocks
    self.head = ConvBNReLU(1280, 1)
    self.classifier = nn.Dense(1000)

  def __call__(self, x):
    x = self.stem(x)
    for b in self.blocks:
      x = b(x)
    x = self.head(x)
    x = jnp.mean(x, axis=(1, 2))
    return self.classifier(x)


# ---------------------------------------------------------------- ViT-B/16
class MlpBlock(nn.Module):
  def setup(self):
    self.linear_1 = nn.Dense(3072)
    self.linear_2 = nn.Dense(768)

  def __call__(self, x):
    return self.linear_2(nn.gelu(self.linear_1(x), approximate=False))


class EncoderBlock(nn.Module):
  def setup(self):
    self.ln_1 = nn.LayerNorm(epsilon=1e-6)
    self.self_attention = nn.MultiHeadDotProductAttention(num_heads=12)
    self.ln_2 = nn.LayerNorm(epsilon=1e-6)
    self.mlp = MlpBlock()

  def __call__(self, x):
    x = x + self.self_attention(self.ln_1(x), deterministic=True)
    return x + self.mlp(self.ln_2(x))


class Encoder(nn.Module):
  def setup(self):
    self.pos_embedding = self.param('pos_embedding', nn.initializers.zeros, (1, 197, 768))
    self.layers = [EncoderBlock() for _ in range(12)]
    self.ln = nn.LayerNorm(epsilon=1e-6)

  def __call__(self, x):
    x = x + self.pos_embedding
    for layer in self.layers:
      x = layer(x)
    return self.ln(x)


class ViT(nn.Module):
  def setup(self):
    self.conv_proj = nn.Conv(768, (16, 16), strides=16, padding=pad(0))
    self.class_token = self.param('class_token', nn.initializers.zeros, (1, 1, 768))
    self.encoder = Encoder()
    self.head = nn.Dense(1000)

  def __call__(self, x):
    x = self.conv_proj(x)
    n = x.shape[0]
    x = x.reshape(n, -1, 768)
    cls = jnp.broadcast_to(self.class_token, (n, 1, 768))
    x = jnp.concatenate([cls, x], axis=1)
    x = self.encoder(x)
    return self.head(x[:, 0])


# ---------------------------------------------------------------- reference
VISION = {
  'resnet18': lambda: ResNet(False, (2, 2, 2, 2)),
  'resnet50': lambda: ResNet(True, (3, 4, 6, 3)),
  'vgg16': VGG,
  'mobilenet_v2': MobileNetV2,
  'vit_b16': ViT,
}

# torchvision's published MACs (issue 10 item 5; peers.md §4), for the report line.
TORCHVISION_MACS = {
  'resnet18': 1_814_073_344,
  'resnet50': 4_089_184_256,
  'vgg16': 15_470_264_320,
  'mobilenet_v2': 300_774_272,
  'vit_b16': 17_563_828_224,
}


def sub_jaxprs(eqn):
  for v in eqn.params.values():
    vs = v if isinstance(v, (list, tuple)) else [v]
    for x in vs:
      if isinstance(x, jax.extend.core.ClosedJaxpr):
        yield x.jaxpr
      elif isinstance(x, jax.extend.core.Jaxpr):
        yield x


def count_macs(jaxpr):
  """Multiply-accumulates of every dot_general and convolution, on the padded input."""
  total = 0
  for eqn in jaxpr.eqns:
    name = eqn.primitive.name
    if name == 'dot_general':
      (lc, _), _ = eqn.params['dimension_numbers']
      lhs = eqn.invars[0].aval.shape
      out = eqn.outvars[0].aval.shape
      total += math.prod(out) * math.prod(lhs[d] for d in lc)
    elif name == 'conv_general_dilated':
      dn = eqn.params['dimension_numbers']
      rhs = eqn.invars[1].aval.shape
      out = eqn.outvars[0].aval.shape
      # rhs_spec = (out feature dim, in feature dim, spatial dims…)
      in_per_group = rhs[dn.rhs_spec[1]]
      spatial = math.prod(rhs[d] for d in dn.rhs_spec[2:])
      total += math.prod(out) * in_per_group * spatial
    for sub in sub_jaxprs(eqn):
      total += count_macs(sub)
  return total


def size(tree):
  return sum(math.prod(x.shape) for x in jax.tree_util.tree_leaves(tree))


def reference(name, module, x, compute_flops=True, compute_vjp_flops=True):
  t0 = time.time()
  rngs = jax.random.key(0)
  table = fs._get_module_table(
    module, depth=None, show_repeated=False, compute_flops=compute_flops,
    compute_vjp_flops=compute_vjp_flops,
  )(rngs, x)
  collections = sorted({c for row in table for c in row.counted_variables})
  rows = []
  for row in table:
    rows.append({
      'path': '/'.join(row.path),
      'module_type': type(row.module_copy).__name__,
      **{c: size(row.counted_variables.get(c, {})) for c in collections},
      'flops': int(row.flops) if compute_flops else None,
      'vjp_flops': int(row.vjp_flops) if compute_vjp_flops else None,
    })
  root = table[0]
  variables = jax.eval_shape(module.init, rngs, x)
  out = {
    'model': name,
    'input': {'dtype': str(x.dtype), 'shape': list(x.shape)},
    'output': list(jax.eval_shape(module.apply, variables, x).shape),
    'totals': {c: size(variables.get(c, {})) for c in collections},
    'flops': int(root.flops) if compute_flops else None,
    'vjp_flops': int(root.vjp_flops) if compute_vjp_flops else None,
    'rows': rows,
  }
  jaxpr = jax.make_jaxpr(module.apply)(variables, x)
  out['macs'] = count_macs(jaxpr.jaxpr)
  out['seconds'] = round(time.time() - t0, 1)
  return out


def write(name, out):
  """One key per line, one row per line."""
  out = dict(out)
  rows = out.pop('rows')
  lines = [f'  {json.dumps(k)}: {json.dumps(v)},' for k, v in out.items()]
  lines.append('  "rows": [')
  lines.append(',\n'.join(f'    {json.dumps(r)}' for r in rows))
  lines.append('  ]')
  with open(os.path.join(OUT, f'{name}.json'), 'w') as f:
    f.write('{\n' + '\n'.join(lines) + '\n}\n')


def main(names):
  os.makedirs(OUT, exist_ok=True)
  for name in names:
    module = VISION[name]()
    x = jnp.ones((1, 224, 224, 3), F32)
    out = reference(name, module, x)
    seconds = out.pop('seconds')
    write(name, out)
    tv = TORCHVISION_MACS[name]
    print(
      f"{name}: params {out['totals'].get('params')} flops {out['flops']} "
      f"vjp_flops {out['vjp_flops']} rows {len(out['rows'])} macs {out['macs']} "
      f"(torchvision {tv}: {'equal' if out['macs'] == tv else 'DIFFERENT'}) in {seconds}s",
      flush=True,
    )


if __name__ == '__main__':
  main(sys.argv[1:] or list(VISION))
