#!/usr/bin/env python3
"""Prints this project's `cargo bench` results as the Markdown table in README.md.

Each benchmark's figure is its median time per evaluation; given several criterion baselines
(saved with `cargo bench -- --save-baseline NAME`), the lowest median of them is shown, since
on a shared 2-core machine other work only ever adds time, and the spread across runs is given.

Usage: CARGO_TARGET_DIR=/tmp/bench-flows-target python3 report.py [BASELINE ...]
"""
import json
import os
import pathlib
import sys

target = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", pathlib.Path(__file__).parent / "target"))
root = target / "criterion"
baselines = sys.argv[1:] or ["new"]
ENGINES = ["ucsync", "rhai-prefilled-scope", "rhai-scope-per-object"]
GROUPS = ["copy", "lower", "template", "rewrite_domain", "digits", "coalesce", "split_join",
          "scope_filter", "regex_filter"]


def medians(group, bench):
    out = []
    for b in baselines:
        f = root / group / bench / b / "estimates.json"
        if f.exists():
            out.append(json.loads(f.read_text())["median"]["point_estimate"])
    return out


def best(group, bench):
    m = medians(group, bench)
    return min(m) if m else None


def cell(ns):
    if ns is None:
        return "n/a"
    return f"{ns:,.0f} ns · {1e9 / ns / 1e6:,.2f} M/s"


print("| transform | " + " | ".join(ENGINES) + " | rhai ÷ ucsync |")
print("|---|" + "---|" * (len(ENGINES) + 1))
spread = []
for g in GROUPS:
    ns = [best(g, e) for e in ENGINES]
    for e in ENGINES:
        m = medians(g, e)
        if len(m) > 1:
            spread.append(max(m) / min(m))
    ratio = "n/a"
    if all(ns):
        ratio = f"{ns[1] / ns[0]:.1f}× / {ns[2] / ns[0]:.1f}×"
    print(f"| {g} | " + " | ".join(cell(n) for n in ns) + f" | {ratio} |")
c_ours, c_rhai = best("compile_all", "ucsync"), best("compile_all", "rhai")
if c_ours and c_rhai:
    print()
    print(f"Compiling the 8 transforms both engines can say: ucsync {c_ours / 1000:,.1f} µs, "
          f"rhai {c_rhai / 1000:,.1f} µs (rhai ÷ ucsync {c_rhai / c_ours:.1f}×).")
if spread:
    spread.sort()
    print()
    print(f"Runs: {len(baselines)} ({', '.join(baselines)}); slowest ÷ fastest median of a cell "
          f"across runs: typically {spread[len(spread) // 2]:.2f}×, at most {spread[-1]:.2f}×.")
