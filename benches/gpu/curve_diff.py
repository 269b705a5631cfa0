#!/usr/bin/env python3
"""Loss-curve agreement of two training runs (e.g. `--precision f32` vs `--precision bf16`).

Usage: python3 benches/gpu/curve_diff.py A/log_history.jsonl B/log_history.jsonl

Pairs the training log records of both runs by step and prints, as Markdown: the number of
steps compared, the largest and mean absolute difference of the logged loss, the largest
relative difference, both curves every 10 steps, and the eval losses of both runs. Standard
library only.
"""

import json
import sys


def records(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    a, b = (records(p) for p in sys.argv[1:])
    train = lambda rs: {r["step"]: r["loss"] for r in rs if "loss" in r}
    evals = lambda rs: {r["step"]: r["eval_loss"] for r in rs if "eval_loss" in r}
    ta, tb = train(a), train(b)
    steps = sorted(set(ta) & set(tb))
    if not steps:
        sys.exit("no common training steps")
    diffs = [abs(ta[s] - tb[s]) for s in steps]
    rel = [abs(ta[s] - tb[s]) / max(abs(ta[s]), 1e-12) for s in steps]
    print(f"steps compared: {len(steps)} ({steps[0]}..{steps[-1]})")
    print(f"max |Δloss| {max(diffs):.4g}, mean |Δloss| {sum(diffs) / len(diffs):.4g}, "
          f"max relative {max(rel):.3%}")
    print()
    print("| step | A loss | B loss |")
    print("|---|---|---|")
    for s in steps:
        if s == steps[0] or s % 10 == 0 or s == steps[-1]:
            print(f"| {s} | {ta[s]:.4f} | {tb[s]:.4f} |")
    ea, eb = evals(a), evals(b)
    if ea or eb:
        print()
        print("| step | A eval_loss | B eval_loss |")
        print("|---|---|---|")
        for s in sorted(set(ea) | set(eb)):
            fa, fb = ea.get(s), eb.get(s)
            print(f"| {s} | {'–' if fa is None else f'{fa:.4f}'} | {'–' if fb is None else f'{fb:.4f}'} |")


if __name__ == "__main__":
    main()
