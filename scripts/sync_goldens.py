#!/usr/bin/env python3
"""Copies Flax's golden tables into tests/golden/ and writes tests/golden/manifest.json.

The goldens (made by flax 0.12.8; see ../shared/golden/README.md) are the reference the
tests compare against. The manifest keeps, per golden, only what a test needs to
reproduce it: the model, the options of the `nn.tabulate` call and its inputs.

Usage: python3 scripts/sync_goldens.py [path/to/shared/golden]
"""
import json
import pathlib
import shutil
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
SOURCE = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ROOT.parent / "shared" / "golden")
TARGET = ROOT / "tests" / "golden"


def main() -> None:
    TARGET.mkdir(parents=True, exist_ok=True)
    manifest = {}
    for path in sorted(SOURCE.glob("*.json")):
        data = json.loads(path.read_text())
        if "stem" not in data:
            continue  # not a golden table (e.g. flax-timings.json)
        stem = data["stem"]
        kwargs = data["tabulate_kwargs"]
        manifest[stem] = {
            "model": data["name"],
            "variant": data["variant"],
            "module_class": data["module_class"],
            "depth": kwargs.get("depth"),
            "show_repeated": kwargs.get("show_repeated", False),
            "compute_flops": kwargs.get("compute_flops", False),
            "compute_vjp_flops": kwargs.get("compute_vjp_flops", False),
            "width": (kwargs.get("console_kwargs") or {}).get("width"),
            "args": [{"dtype": a["dtype"], "shape": a["shape"]} for a in data["call"]["args"]],
            "kwargs": data["call"]["kwargs"],
        }
        for suffix in (".txt", ".plain.txt"):
            shutil.copyfile(SOURCE / f"{stem}{suffix}", TARGET / f"{stem}{suffix}")
    (TARGET / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    print(f"{len(manifest)} goldens copied to {TARGET.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
