"""teacher-scores throughput: `open_provence_data teacher-scores` vs sentence-transformers'
`CrossEncoder.predict` on the SAME randomly initialised ModernBERT sequence-classification
checkpoint and the SAME (query, passage) pairs, on the CPU with THREADS threads, one run each.
Manual, never in CI (needs torch, transformers 4.57.1, sentence-transformers 5.1.1, pyarrow).
Usage: TOKDIR=<tokenizer dir> DATA=<open_provence_data binary> THREADS=2 \
       python benches/teacher_scores.py SHAPE N_ROWS WORKDIR
Each row has one query and four passages. Prints one JSON line per side, the ratio, and the
largest |score difference| between the two sides."""
import json, os, random, subprocess, sys, time
from pathlib import Path

import torch

threads = int(os.environ.get("THREADS", "2"))
torch.set_num_threads(threads)
shape, n_rows, work = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
work.mkdir(parents=True, exist_ok=True)
import pyarrow as pa
import pyarrow.parquet as pq
from sentence_transformers import CrossEncoder
from transformers import AutoTokenizer, ModernBertConfig, ModernBertForSequenceClassification

tok = AutoTokenizer.from_pretrained(os.environ["TOKDIR"])
S = {"tiny": dict(hidden_size=48, intermediate_size=80, num_hidden_layers=5, num_attention_heads=3),
     "xsmall": dict(hidden_size=256, intermediate_size=1024, num_hidden_layers=10, num_attention_heads=4)}[shape]
torch.manual_seed(0)
cfg = ModernBertConfig(vocab_size=len(tok), pad_token_id=tok.pad_token_id, cls_token_id=tok.cls_token_id,
    sep_token_id=tok.sep_token_id, bos_token_id=tok.cls_token_id, eos_token_id=tok.sep_token_id,
    global_attn_every_n_layers=3, local_attention=128, classifier_pooling="mean", num_labels=1,
    max_position_embeddings=512, norm_bias=False, attention_bias=False, mlp_bias=False,
    classifier_bias=False, reference_compile=False, **S)
model = ModernBertForSequenceClassification(cfg).eval()
mdir = work / f"teacher_{shape}"
model.save_pretrained(mdir)
tok.model_max_length = 512
tok.save_pretrained(mdir)

# Pairs: English sentences from stdlib docstrings, passages of 2-14 sentences (~40-400 tokens).
import inspect, collections, functools, itertools, argparse, textwrap, statistics, fractions, decimal, datetime, pathlib, math
sents = []
for mod in (collections, functools, itertools, argparse, textwrap, statistics, fractions, decimal, datetime, pathlib, random, math, os, json):
    for _, obj in inspect.getmembers(mod):
        d = inspect.getdoc(obj)
        if d:
            for p in d.replace("\n", " ").split(". "):
                p = p.strip()
                if 30 < len(p) < 240 and p[0].isalpha():
                    sents.append(p + ".")
rng = random.Random(1)
queries = [rng.choice(sents)[:80] for _ in range(n_rows)]
texts = [[" ".join(rng.sample(sents, rng.randint(2, 14))) for _ in range(4)] for _ in range(n_rows)]
ds = work / f"pairs_{n_rows}"
(ds / "data").mkdir(parents=True, exist_ok=True)
pq.write_table(pa.table({"id": [f"r{i}" for i in range(n_rows)], "query": queries, "texts": texts}),
               ds / "data" / "train-00000-of-00001.parquet")
pairs = [(q, t) for q, ts in zip(queries, texts) for t in ts]

ce = CrossEncoder(str(mdir), device="cpu")
ce.predict(pairs[:4], batch_size=32, show_progress_bar=False)
t0 = time.perf_counter()
theirs = ce.predict(pairs, batch_size=32, show_progress_bar=False)
dt = time.perf_counter() - t0
up = {"side": "sentence-transformers CrossEncoder.predict", "shape": shape, "threads": threads,
      "pairs": len(pairs), "seconds": round(dt, 3), "pairs_per_s": round(len(pairs) / dt, 2)}
print(json.dumps(up), flush=True)

out = work / "scored"
env = dict(os.environ, RAYON_NUM_THREADS=str(threads), RUST_LOG="warn")
t0 = time.perf_counter()
p = subprocess.run([os.environ["DATA"], "teacher-scores", "--dataset-path", str(ds), "--model", str(mdir),
                    "--column-name", "t", "--output-path", str(out), "--overwrite", "--threads", str(threads)],
                   capture_output=True, text=True, env=env)
dt_ours = time.perf_counter() - t0
if p.returncode:
    print(p.stderr[-2000:])
    sys.exit(1)
line = p.stdout.strip().splitlines()[-1]
inner = float(line.rsplit("; ", 1)[1].split(" pairs/s")[0])
ours = {"side": "open_provence_data teacher-scores", "shape": shape, "threads": threads, "pairs": len(pairs),
        "seconds_whole_command": round(dt_ours, 3), "pairs_per_s_whole_command": round(len(pairs) / dt_ours, 2),
        "pairs_per_s_scoring": inner}
print(json.dumps(ours))
import datasets
got = datasets.load_from_disk(str(out))["train"]["teacher_scores.t"]
ours_flat = [s for row in got for s in row]
diff = max(abs(a - float(b)) for a, b in zip(ours_flat, theirs))
print(json.dumps({"ratio_whole_command": round(ours["pairs_per_s_whole_command"] / up["pairs_per_s"], 2),
                  "ratio_scoring": round(inner / up["pairs_per_s"], 2), "max_abs_score_diff": diff}))
