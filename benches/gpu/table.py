"""Renders $OUT/results.jsonl of run.sh as the markdown tables of docs/performance.md.

Run: python3 benches/gpu/table.py path/to/results.jsonl
"""

import json
import sys


def main():
    rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
    runs = {(r.get("framework"), r.get("mode"), r.get("shape"), r.get("precision")): r for r in rows if "step_ms" in r}
    for mode in ("train", "infer"):
        print(f"\n### {mode}\n")
        print("| shape | Burn f32 ms | Torch f32 ms | Torch bf16 ms | Burn samples/s | Torch f32 / bf16 samples/s "
              "| Burn / Torch f32 | Burn / Torch bf16 | mem MiB Burn / Torch f32 / Torch bf16 (nvidia-smi) "
              "| MFU Burn / Torch f32 / Torch bf16 |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        for shape in ("tiny", "xsmall", "base", "large"):
            b = runs.get(("burn", mode, shape, "f32"))
            tf = runs.get(("torch", mode, shape, "f32"))
            tb = runs.get(("torch", mode, shape, "bf16"))
            if not (b or tf or tb):
                continue

            def f(r, key, fmt="{:.1f}"):
                return fmt.format(r[key]) if r and r.get(key) is not None else "–"

            def ratio(other):
                return f"{other['step_ms'] / b['step_ms']:.2f}×" if b and other else "–"

            print(f"| {shape} | {f(b, 'step_ms')} | {f(tf, 'step_ms')} | {f(tb, 'step_ms')} | {f(b, 'samples_per_s')} "
                  f"| {f(tf, 'samples_per_s')} / {f(tb, 'samples_per_s')} | {ratio(tf)} | {ratio(tb)} "
                  f"| {f(b, 'nvidia_smi_peak_mib', '{}')} / {f(tf, 'nvidia_smi_peak_mib', '{}')} / "
                  f"{f(tb, 'nvidia_smi_peak_mib', '{}')} | {f(b, 'mfu', '{:.1%}')} / {f(tf, 'mfu', '{:.1%}')} / "
                  f"{f(tb, 'mfu', '{:.1%}')} |")


if __name__ == "__main__":
    main()
