"""Flax's forward FLOPs for the Flax layers that burn layers are costed as, written to
`tabulate-burn/tests/flax_flops.json` (read by `tabulate-burn/tests/models.rs`).

Shapes are burn's examples' (NCHW activations become Flax's NHWC)."""

import json
import pathlib

import flax.linen as nn
import jax
import jax.numpy as jnp


def flops(module, *args):
    """The root row's `flops` of `nn.tabulate` (the whole call)."""
    fn = nn.summary._get_module_table(module, depth=0, show_repeated=False,
                                      compute_flops=True, compute_vjp_flops=False)
    rows = fn({"params": jax.random.key(0)}, *args)
    return int(rows[0].flops)


CASES = {
    # burn Linear(512, 10) on f32[8, 512].
    "dense_512_10_on_8x512": (nn.Dense(10), jnp.zeros((8, 512))),
    # burn Conv2d 3→64, 3×3, padding 1, no bias on f32[8, 3, 32, 32].
    "conv_3_64_k3_p1_on_8x32x32x3": (
        nn.Conv(64, (3, 3), padding=1, use_bias=False), jnp.zeros((8, 32, 32, 3))),
    # burn BatchNorm(64) in inference on f32[8, 64, 32, 32].
    "batchnorm_64_on_8x32x32x64": (
        nn.BatchNorm(use_running_average=True), jnp.zeros((8, 32, 32, 64))),
    # burn LayerNorm(128) (variance as mean((x − mean)²)) on f32[2, 64, 128].
    "layernorm_slow_variance_on_2x64x128": (
        nn.LayerNorm(use_fast_variance=False), jnp.zeros((2, 64, 128))),
}

out = {name: flops(module, x) for name, (module, x) in CASES.items()}
path = pathlib.Path(__file__).resolve().parent.parent / "tabulate-burn/tests/flax_flops.json"
path.write_text(json.dumps(out, indent=2, sort_keys=True) + "\n")
print(json.dumps(out, indent=2, sort_keys=True))
