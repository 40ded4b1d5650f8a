#!/usr/bin/env python3
"""Flax's tables for parameters declared as fields (`tabulate::Param`, issue 8 item 6).

Random models (seeded) of this shape, each table made by Flax 0.12.8:

    Net (compact):  gain = param('gain', [out])            # declared first, like a field
                    for i, spec in layers: x = Layer(spec, name=f'layers_{i}')(x)
                    x = x * gain
                    offset = param('offset', [out])        # declared at first use
                    return x + offset
    Layer (compact, every variable declared first, in field order):
                    kernel [in, out] (params), bias [out] (params, optional),
                    extra_i (params), stats_i (batch_stats), cache_i (cache): random dtypes
                    and shapes; the ones marked `read` broadcast to [batch, out] and
                    multiply the output (cast to float32 when needed).
                    y = x @ kernel (+ bias) (* each read variable)

The same model is also built in setup style (every `Layer` variable made in `setup`,
which Flax runs at the module's first call) and must give the same table: that is the
moment `tabulate` declares `Param` fields.

Writes tests/golden/field_params.json: a list of {"id", "spec", "table"} with Flax's table
rendered by rich at width 200, plain, FLOP columns on, collection columns in `tabulate`'s
order (`params`, then alphabetical: a deliberate difference, see DESIGN.md). Needs the scratch virtualenv.
Usage: PYTHONHASHSEED=0 JAX_PLATFORMS=cpu /work/venv/bin/python scripts/field_params.py [N]
"""
import json
import os
import pathlib
import sys

os.environ.setdefault("JAX_PLATFORMS", "cpu")
import flax.linen as nn  # noqa: E402
import flax.linen.summary as fs  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "golden" / "field_params.json"
CONSOLE = {"width": 200, "force_terminal": False, "no_color": True}
DTYPES = ["float32", "bfloat16", "float16", "int32"]
COLLECTIONS = [("extra", "params"), ("stats", "batch_stats"), ("cache", "cache")]


def zeros_var(shape, dtype):
    return lambda: jnp.zeros(shape, dtype)


def declare(module, v):
    shape, dtype = tuple(v["shape"]), jnp.dtype(v["dtype"])
    if v["collection"] == "params":
        return module.param(v["name"], nn.initializers.zeros, shape, dtype)
    return module.variable(v["collection"], v["name"], zeros_var(shape, dtype)).value


def layer_apply(spec, values, x):
    y = x @ values["kernel"]
    if spec["bias"]:
        y = y + values["bias"]
    for v in spec["vars"]:
        if v.get("read"):
            value = values[v["name"]]
            if value.dtype != jnp.float32:
                value = value.astype(jnp.float32)
            y = y * value
    return y


def layer_vars(spec):
    """The layer's variables in field order."""
    out = [{"name": "kernel", "collection": "params", "dtype": "float32",
            "shape": [spec["inputs"], spec["outputs"]]}]
    if spec["bias"]:
        out.append({"name": "bias", "collection": "params", "dtype": "float32",
                    "shape": [spec["outputs"]]})
    return out + list(spec["vars"])


def compact_layer():
    class Layer(nn.Module):
        spec: dict

        @nn.compact
        def __call__(self, x):
            values = {v["name"]: declare(self, v) for v in layer_vars(self.spec)}
            return layer_apply(self.spec, values, x)

    return Layer


def setup_layer():
    class Layer(nn.Module):
        spec: dict

        def setup(self):
            self.values = {v["name"]: declare(self, v) for v in layer_vars(self.spec)}

        def __call__(self, x):
            return layer_apply(self.spec, self.values, x)

    return Layer


def make_net(layer_cls):
    class Net(nn.Module):
        spec: dict

        @nn.compact
        def __call__(self, x):
            out = self.spec["layers"][-1]["outputs"]
            gain = self.param("gain", nn.initializers.zeros, (out,), jnp.float32)
            for i, layer in enumerate(self.spec["layers"]):
                x = layer_cls(layer, name=f"layers_{i}")(x)
            x = x * gain
            offset = self.param("offset", nn.initializers.zeros, (out,), jnp.float32)
            return x + offset

    return Net


def random_spec(gen):
    batch = int(gen.integers(1, 9))
    features = int(gen.integers(1, 65))
    layers = []
    for _ in range(int(gen.integers(1, 4))):
        outputs = int(gen.integers(1, 65))
        variables = []
        for prefix, collection in COLLECTIONS:
            for i in range(int(gen.integers(0, 3))):
                read = bool(gen.integers(0, 2))
                if read:
                    shape = [[outputs], [1, outputs], [batch, outputs], []][int(gen.integers(0, 4))]
                    dtype = DTYPES[int(gen.integers(0, 3))]
                else:
                    rank = int(gen.integers(0, 4))
                    shape = [int(gen.integers(1, 8)) for _ in range(rank)]
                    dtype = DTYPES[int(gen.integers(0, 4))]
                variables.append({"name": f"{prefix}_{i}", "collection": collection,
                                  "dtype": dtype, "shape": shape, "read": read})
        layers.append({"inputs": features, "outputs": outputs,
                       "bias": bool(gen.integers(0, 2)), "vars": variables})
        features = outputs
    return {"input": [batch, layers[0]["inputs"]], "layers": layers}


def table(net_cls, spec):
    """Flax's table, its collection columns in `tabulate`'s fixed order (`params`, then
    alphabetical; Flax iterates a `set`): everything else is `nn.tabulate`'s own text."""
    x = jnp.zeros(tuple(spec["input"]), jnp.float32)
    table = fs._get_module_table(net_cls(spec), depth=None, show_repeated=False,
                                 compute_flops=True, compute_vjp_flops=True)(
        jax.random.key(0), x)
    table.collections = tuple(sorted(table.collections, key=lambda c: (c != "params", c)))
    columns = ["path", "module", "inputs", "outputs", "flops", "vjp_flops"]
    return fs._render_table(table, CONSOLE, {}, {}, columns)


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 12
    gen = np.random.default_rng(20261201)
    compact, setup = make_net(compact_layer()), make_net(setup_layer())
    cases = []
    for i in range(n):
        spec = random_spec(gen)
        text = table(compact, spec)
        if table(setup, spec) != text:
            raise SystemExit(f"case {i}: setup and compact styles give different tables")
        cases.append({"id": f"fields-c{i:04d}", "spec": spec, "table": text})
    OUT.write_text(json.dumps(cases, indent=1) + "\n")
    print(f"{len(cases)} cases written to {OUT}")


if __name__ == "__main__":
    main()
