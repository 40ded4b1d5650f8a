#!/usr/bin/env python3
"""Renders the documentation's `Foo` table with Flax at many console widths, to check
that rich's column shrinking, wrapping and truncation are reproduced at every width.

Writes tests/golden/widths/seed_w{N}.plain.txt. Needs jax, flax and rich (a scratch
virtualenv; see scripts/README.md). Usage: python3 scripts/seed_widths.py [out_dir]
"""
import os
import pathlib
import sys

os.environ.setdefault("JAX_PLATFORMS", "cpu")
import flax.linen as nn  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "tests" / "golden" / "widths"
WIDTHS = [30, 35, 40, 45, 50, 55, 60, 64, 68, 72, 76, 79, 83, 86, 88, 93, 94, 95, 96]


class Foo(nn.Module):
    @nn.compact
    def __call__(self, x):
        h = nn.Dense(4)(x)
        return nn.Dense(2)(h)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for width in WIDTHS:
        text = nn.tabulate(
            Foo(), jax.random.key(0), compute_flops=True, compute_vjp_flops=True,
            console_kwargs={"width": width, "force_terminal": False, "no_color": True},
        )(jnp.ones((16, 9)))
        (OUT / f"seed_w{width}.plain.txt").write_text(text)
    print(f"{len(WIDTHS)} widths written to {OUT}")


if __name__ == "__main__":
    main()
