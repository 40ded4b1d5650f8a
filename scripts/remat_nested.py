"""The root row's flops and vjp_flops of a checkpoint around a checkpoint (Flax 0.12.8):
`remat(Nested)` where `Nested` calls `remat(DenseBlock)`, against one checkpoint and none,
on float32[4, 8]. Checked by `tests/it/wrap.rs`
(`a_checkpoint_around_a_checkpoint_has_a_vjp`): 576/2304, 576/2304, 576/1760.

PYTHONHASHSEED=0 JAX_PLATFORMS=cpu /work/venv/bin/python scripts/remat_nested.py
"""
import jax, jax.numpy as jnp, flax.linen as nn
class DenseBlock(nn.Module):
    @nn.compact
    def __call__(self, x):
        return nn.relu(nn.Dense(8)(x))
class Nested(nn.Module):
    @nn.compact
    def __call__(self, x):
        return nn.remat(DenseBlock)()(x)
class Root(nn.Module):
    kind: str
    @nn.compact
    def __call__(self, x):
        if self.kind == 'twice': return nn.remat(Nested)()(x)
        if self.kind == 'once': return nn.remat(DenseBlock)()(x)
        return DenseBlock()(x)
x = jnp.zeros((4, 8))
for k in ['twice', 'once', 'never']:
    t = Root(k).tabulate(jax.random.PRNGKey(0), x, compute_flops=True, compute_vjp_flops=True, console_kwargs={'width': 250})
    line = [l for l in t.splitlines() if '│ ' in l and 'Root' in l]
    print(k, line)
