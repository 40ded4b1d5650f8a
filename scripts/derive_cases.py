#!/usr/bin/env python3
"""Flax's tables for what `#[derive(Tabulate)]` and `#[derive(Describe)]` mirror:

- `setup_containers`: setup attributes that hold modules inside tuples, lists of tuples,
  dicts of tuples and nested lists, next to plain values (Flax names `pair_0`,
  `named_0_1`, `heads_y_0`, `nested_0_0`, `act_0`);
- `struct_outputs`: module outputs that are a `flax.struct.dataclass` (a mapping of its
  fields, keys sorted, a `pytree_node=False` field included) and a `NamedTuple` (a list).

Writes tests/golden/derive/{name}.plain.txt (console width 120, no colour). Needs jax,
flax and rich (a scratch virtualenv; see scripts/README.md).
Usage: python3 scripts/derive_cases.py [out_dir]
"""
import os
import pathlib
import sys
import typing

os.environ.setdefault("JAX_PLATFORMS", "cpu")
import flax.linen as nn  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
from flax import struct  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "tests" / "golden" / "derive"
CONSOLE = {"width": 120, "force_terminal": False, "no_color": True}


class Containers(nn.Module):
    def setup(self):
        self.pair = (nn.Dense(3), 5)
        self.named = [("a", nn.Dense(3)), ("b", nn.Dense(4))]
        self.heads = {"x": (nn.Dense(2), 0.5), "y": (nn.Dense(2), 2.0)}
        self.nested = [[nn.Dense(2)]]
        self.cell = nn.Dense(2)  # a `RefCell<Dense>` in Rust: the field's own name
        self.act = (nn.Dense(2), "relu")  # beside a value of the user's own type

    def __call__(self, x):
        h = self.pair[0](x)
        for _, layer in self.named:
            h = layer(x)
        self.heads["y"][0](h)
        self.heads["x"][0](h)
        h = self.nested[0][0](h)
        h = self.cell(h)
        return self.act[0](h)


@struct.dataclass
class Output:
    zeta: jax.Array
    alpha: jax.Array
    count: int = struct.field(pytree_node=False, default=3)


class Pair(typing.NamedTuple):
    hidden: jax.Array
    logits: jax.Array


class Encoder(nn.Module):
    @nn.compact
    def __call__(self, x):
        return Output(zeta=nn.Dense(3)(x), alpha=x)


class Head(nn.Module):
    @nn.compact
    def __call__(self, x):
        return Pair(hidden=x, logits=nn.Dense(2)(x))


class Outputs(nn.Module):
    @nn.compact
    def __call__(self, x):
        out = Encoder()(x)
        return Head()(out.zeta).logits


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    x = jnp.ones((2, 4))
    for name, model in [("setup_containers", Containers()), ("struct_outputs", Outputs())]:
        text = nn.tabulate(model, jax.random.key(0), console_kwargs=CONSOLE)(x)
        (OUT / f"{name}.plain.txt").write_text(text)
    print(f"written to {OUT}")


if __name__ == "__main__":
    main()
