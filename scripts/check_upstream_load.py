# Pinned: python 3.11.7, torch==2.15.0 (CPU), transformers==4.57.6, safetensors==0.8.0,
# tokenizers==0.22.2, pyarrow==26.0.1, nltk + fast-bunkai (imported by upstream's modeling file).
"""Does upstream OpenProvence load a `final_model/` written by OUR trainer, and agree with us?

A manual interop check (never run in CI; it needs upstream's modeling file, which we do not ship).

1. Train nothing here: take a `final_model/` written by `open_provence_trainer`, e.g.

       cargo build -p open_provence_trainer
       mkdir /tmp/demo && cd /tmp/demo
       ln -s /work/main/data data && ln -s /work/main/configs configs
       $CARGO_TARGET_DIR/debug/open_provence_trainer configs/demo.yaml --max_steps 4

2. Get upstream's `open_provence/modeling_open_provence_standalone.py` from
   hotchpotch/open_provence (MIT) somewhere OUTSIDE this repository.
3. Run from the repository root:

       /work/.venv-fixtures/bin/python scripts/check_upstream_load.py \\
           --final-model /tmp/demo/output/demo_<stamp>/final_model \\
           --modeling-file /tmp/modeling_open_provence_standalone.py

The directory is copied to a temporary folder with the modeling file, `auto_map` is pointed at
the local module (offline), and `AutoModel.from_pretrained(dir, trust_remote_code=True)` must
build a module whose state dict has exactly the file's tensor names and shapes (no missing, no
unexpected keys). A few (query, passage) pairs from the demo test split are tokenized with Python
`tokenizers` from the model's own `tokenizer.json`; upstream's forward and ours
(`cargo run -p provence-trainer --example dump_logits`) must give ranking logits within 1e-4
(pruning logits on real tokens are compared too).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pyarrow.parquet as pq
import torch
from safetensors.torch import load_file
from tokenizers import Tokenizer
from transformers import AutoModel

ROOT = Path(__file__).resolve().parents[1]
TOLERANCE = 1e-4
MAX_LENGTH = 128


def demo_pairs(n_rows: int) -> list[tuple[str, str]]:
    pairs = []
    for subset in ("en", "ja"):
        path = ROOT / "data" / "demo" / "dataset" / subset / "test-00000-of-00001.parquet"
        table = pq.read_table(path)
        for row in table.slice(0, n_rows).to_pylist():
            pairs.extend((row["query"], text) for text in row["texts"][:2])
    return pairs


def tokenize(model_dir: Path, pairs: list[tuple[str, str]], pad_id: int) -> dict:
    tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tok.enable_truncation(MAX_LENGTH, strategy="longest_first")
    tok.enable_padding(pad_id=pad_id)
    encs = tok.encode_batch(pairs, add_special_tokens=True)
    return {"input_ids": [e.ids for e in encs], "attention_mask": [e.attention_mask for e in encs]}


def ours(model_dir: Path, inputs_path: Path) -> dict:
    cmd = ["cargo", "run", "-q", "-p", "provence-trainer", "--example", "dump_logits", "--",
           str(model_dir), str(inputs_path)]
    out = subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--final-model", required=True, type=Path)
    ap.add_argument("--modeling-file", required=True, type=Path)
    ap.add_argument("--rows", type=int, default=2, help="demo test rows per language")
    args = ap.parse_args()
    final_model = args.final_model.resolve()

    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp) / "model"
        shutil.copytree(final_model, d)
        shutil.copy(args.modeling_file, d / "modeling_open_provence_standalone.py")
        cfg_path = d / "config.json"
        cfg = json.loads(cfg_path.read_text())
        cfg["auto_map"] = {k: v.split("--", 1)[-1] for k, v in cfg["auto_map"].items()}
        cfg_path.write_text(json.dumps(cfg, indent=2))

        # dtype pinned: upstream may pick bf16 on some CPUs, which is not under test here.
        model = AutoModel.from_pretrained(str(d), trust_remote_code=True, dtype=torch.float32)
        model.eval()
        # Upstream's from_pretrained override drops `output_loading_info`, so compare the
        # module's state dict with the file directly (names and shapes).
        file = {k: tuple(v.shape) for k, v in load_file(str(d / "model.safetensors")).items()}
        module = {k: tuple(v.shape) for k, v in model.state_dict().items()}
        missing = sorted(set(module) - set(file))
        unexpected = sorted(set(file) - set(module))
        mismatched = sorted(k for k in set(file) & set(module) if file[k] != module[k])
        print(f"{type(model).__name__}: {len(module)} module tensors, {len(file)} in the file; "
              f"missing {missing}, unexpected {unexpected}, mismatched {mismatched}")
        assert not missing and not unexpected and not mismatched

        pad_id = cfg["base_model_config"]["pad_token_id"]
        inputs = tokenize(d, demo_pairs(args.rows), pad_id)
        inputs_path = Path(tmp) / "inputs.json"
        inputs_path.write_text(json.dumps(inputs))
        ids = torch.tensor(inputs["input_ids"])
        mask = torch.tensor(inputs["attention_mask"])
        with torch.no_grad():
            out = model(input_ids=ids, attention_mask=mask)
        theirs_rank = out.ranking_logits.float()
        theirs_prune = out.pruning_logits.float()
        rust = ours(final_model, inputs_path)

    our_rank = torch.tensor(rust["ranking_logits"])
    our_prune = torch.tensor(rust["pruning_logits"])
    real = mask.bool()
    d_rank = (our_rank - theirs_rank).abs().max().item()
    d_prune = (our_prune - theirs_prune).abs()[real].max().item()
    print(f"{ids.shape[0]} pairs, padded length {ids.shape[1]}")
    print("ranking logits, upstream:", [round(v, 6) for v in theirs_rank[:, 0].tolist()])
    print("ranking logits, ours:    ", [round(v, 6) for v in our_rank[:, 0].tolist()])
    print(f"max |diff|: ranking {d_rank:.3e}, pruning (real tokens) {d_prune:.3e}")
    assert d_rank <= TOLERANCE and d_prune <= TOLERANCE, "logits differ beyond 1e-4"
    print("OK")


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main()
