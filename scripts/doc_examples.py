#!/usr/bin/env python3
"""Counts the public items of the `tabulate` facade whose docs carry an example.

Reads the HTML that `cargo doc --no-deps` writes (run it first), so it sees exactly what
a user sees on docs.rs: every item the facade exports, re-exports from tabulate-core and
tabulate-derive included (the `prelude` repeats them and is skipped). An example counts
when rustdoc renders it as Rust code that `cargo test --doc` runs: `ignore` and
`compile_fail` blocks do not count.

Items: the structs, enums, traits, macros, functions, type aliases and constants listed
on `all.html`. Methods: every method of an inherent `impl` on the page of a struct or
enum of the facade, and every required or provided method of its traits.

    cargo doc --no-deps && python3 scripts/doc_examples.py [--list]

Prints the counts, and with `--list` every item and method without an example.
"""

import re
import sys
from pathlib import Path

DOC = Path(__file__).resolve().parent.parent / "target" / "doc" / "tabulate"
EXAMPLE = re.compile(r'<div class="example-wrap( [^"]*)?"><pre class="rust[^"]*"')


def examples(html):
    """The number of rendered Rust examples that run, in an HTML fragment."""
    count = 0
    for m in EXAMPLE.finditer(html):
        classes = (m.group(1) or "").split()
        if "ignore" not in classes and "compile_fail" not in classes:
            count += 1
    return count


def top_doc(page):
    """The item's own documentation: from its declaration to the first section header."""
    start = page.find('class="item-decl"')
    if start < 0:
        start = page.find('id="main-content"')
    end = page.find('<h2 id=', start)
    return page[start : end if end >= 0 else len(page)]


def methods(page, kind):
    """(name, docs) of the inherent methods (struct, enum) or trait methods (trait)."""
    if kind == "trait":
        ends = [page.find(f'<h2 id="{h}"') for h in ("implementors", "foreign-impls", "dyn-compatibility")]
        ends = [e for e in ends if e >= 0]
        region = page[: min(ends)] if ends else page
    else:
        start = page.find('id="implementations-list"')
        if start < 0:
            return []
        end = page.find('<h2 id="trait-implementations"', start)
        region = page[start : end if end >= 0 else len(page)]
    chunks = re.split(r'<section id="(?:tymethod|method)\.', region)[1:]
    out = []
    for chunk in chunks:
        name = chunk.split('"', 1)[0]
        out.append((name, chunk))
    return out


def main():
    listing = "--list" in sys.argv
    index = (DOC / "all.html").read_text()
    hrefs = re.findall(r'<li><a href="([^"]+\.html)">', index)
    items = sorted({h for h in hrefs if not h.startswith("prelude/")})
    with_example = []
    without = []
    method_total = method_with = 0
    methods_without = []
    for href in items:
        page = (DOC / href).read_text()
        running = examples(top_doc(page))
        kind = Path(href).name.split(".", 1)[0]
        name = href.replace("/", "::").split(".")[-2]
        path = "::".join(href.split("/")[:-1] + [name])
        (with_example if running else without).append(f"{kind} {path}")
        if kind in ("struct", "enum", "trait"):
            for method, chunk in methods(page, kind):
                method_total += 1
                if examples(chunk):
                    method_with += 1
                else:
                    methods_without.append(f"{path}::{method}")
    # The crate's front page.
    front = examples((DOC / "index.html").read_text())
    print(f"front page examples: {front}")
    print(f"items: {len(items)}, with a running example: {len(with_example)}")
    print(f"methods: {method_total}, with a running example: {method_with}")
    if listing:
        print("\nitems without an example:")
        for item in without:
            print(f"  {item}")
        print("\nmethods without an example:")
        for method in methods_without:
            print(f"  {method}")


if __name__ == "__main__":
    main()
