"""Renders $OUT/results.jsonl of run.sh as the markdown tables of docs/performance.md.

One row per (shape, precision): Burn and PyTorch step time in the same precision, their ratio
(PyTorch time / Burn time, > 1 means Burn is faster), samples/s, peak device memory and MFU; and
Burn's ratio against PyTorch bf16 (the framework's best), whatever Burn's precision.

Run: python3 benches/gpu/table.py path/to/results.jsonl
"""

import json
import sys


def main():
    rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
    runs = {(r.get("framework"), r.get("mode"), r.get("shape"), r.get("precision")): r for r in rows if "step_ms" in r}
    for mode in ("train", "infer"):
        print(f"\n### {mode}\n")
        print("| shape | precision | Burn ms | PyTorch ms | PyTorch / Burn | vs PyTorch bf16 | samples/s Burn / PyTorch "
              "| peak MiB Burn / PyTorch (nvidia-smi) | MFU Burn / PyTorch |")
        print("|---|---|---|---|---|---|---|---|---|")
        for shape in ("tiny", "xsmall", "base", "large"):
            best = runs.get(("torch", mode, shape, "bf16"))
            for precision in ("bf16", "f32"):
                b = runs.get(("burn", mode, shape, precision))
                t = runs.get(("torch", mode, shape, precision))
                if not (b or t):
                    continue

                def f(r, key, fmt="{:.1f}"):
                    return fmt.format(r[key]) if r and r.get(key) is not None else "–"

                def ratio(other):
                    return f"{other['step_ms'] / b['step_ms']:.2f}×" if b and other else "–"

                print(f"| {shape} | {precision} | {f(b, 'step_ms')} | {f(t, 'step_ms')} | {ratio(t)} | {ratio(best)} "
                      f"| {f(b, 'samples_per_s')} / {f(t, 'samples_per_s')} "
                      f"| {f(b, 'nvidia_smi_peak_mib', '{}')} / {f(t, 'nvidia_smi_peak_mib', '{}')} "
                      f"| {f(b, 'mfu', '{:.1%}')} / {f(t, 'mfu', '{:.1%}')} |")


if __name__ == "__main__":
    main()
