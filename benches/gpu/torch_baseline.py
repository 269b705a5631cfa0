"""PyTorch baseline for benches/gpu: the same shapes, batches, loss and optimizer as `gpu-bench`.

Model: transformers' ModernBertForSequenceClassification (attn_implementation="sdpa", one
label, mean pooling) + a Linear(H, 2) pruning head on the last encoder layer before final_norm
(upstream OpenProvenceEncoder). Loss: 0.05 * MSE(ranking logit, target) + token cross-entropy
(labels -100 ignored). Optimizer: transformers' Adafactor as the HF Trainer configures it
(scale_parameter=False, relative_step=False, warmup_init=False, lr=5e-5, weight decay 0.01
except biases and LayerNorm weights), global-norm clipping at 1.0. Batches: SplitMix64, the
same generator and length mix as benches/gpu/src/batches.rs.

Run (GPU machine; versions as found there, e.g. torch 2.x, transformers 4.5x):
    python benches/gpu/torch_baseline.py train --shape base --precision bf16
    python benches/gpu/torch_baseline.py infer --shape base --precision f32
Prints one JSON line like gpu-bench.
"""

import argparse
import json
import os
import resource
import time

import torch
from torch import nn

SHAPES = {
    "tiny": (2, 64, 96, 4),
    "xsmall": (10, 384, 576, 6),
    "base": (22, 768, 1152, 12),
    "large": (28, 1024, 2624, 16),
}
VOCAB = 50368
LR, WEIGHT_DECAY, MAX_GRAD_NORM = 5e-5, 0.01, 1.0
MASK64 = (1 << 64) - 1


class SplitMix64:
    """The generator shared with batches.rs."""

    def __init__(self, seed):
        self.state = seed & MASK64

    def next_u64(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        return z ^ (z >> 31)

    def next_f64(self):
        return (self.next_u64() >> 11) / float(1 << 53)

    def below(self, n):
        return self.next_u64() % n


def make_batch(seed, index, pairs, max_len, vocab):
    """Mirror of batches.rs::make_batch."""
    rng = SplitMix64((seed * 1_000_003 + index) & MASK64)
    queries, lengths = [], []
    for _ in range(pairs):
        query = 8 + rng.below(32)
        u = rng.next_f64()
        passage = 32 + int(600.0 * u * u)
        queries.append(query)
        lengths.append(min(query + passage + 3, max_len))
    length = max(lengths)
    ids = torch.zeros(pairs, length, dtype=torch.long)
    mask = torch.zeros(pairs, length, dtype=torch.long)
    labels = torch.full((pairs, length), -100, dtype=torch.long)
    targets = []
    for p in range(pairs):
        for t in range(lengths[p]):
            ids[p, t] = 5 + rng.below(vocab - 5)
            mask[p, t] = 1
            if t >= queries[p] + 2 and t + 1 < lengths[p]:
                labels[p, t] = rng.next_u64() & 1
        targets.append(float(rng.next_f64()))
    return ids, mask, labels, torch.tensor(targets), lengths


class Provence(nn.Module):
    """Reranker (ModernBertForSequenceClassification) + pruning head."""

    def __init__(self, shape):
        super().__init__()
        from transformers import ModernBertConfig, ModernBertForSequenceClassification

        layers, hidden, inter, heads = SHAPES[shape]
        config = ModernBertConfig(
            vocab_size=VOCAB,
            hidden_size=hidden,
            intermediate_size=inter,
            num_hidden_layers=layers,
            num_attention_heads=heads,
            local_attention=128,
            global_attn_every_n_layers=3,
            global_rope_theta=160000.0,
            local_rope_theta=10000.0,
            classifier_pooling="mean",
            num_labels=1,
        )
        config._attn_implementation = "sdpa"
        self.ranking_model = ModernBertForSequenceClassification(config)
        self.pruning_head = nn.Linear(hidden, 2)

    def forward(self, ids, mask):
        out = self.ranking_model(input_ids=ids, attention_mask=mask, output_hidden_states=True)
        return out.logits, self.pruning_head(out.hidden_states[-1])


def loss_fn(ranking, pruning, targets, labels):
    mse = nn.functional.mse_loss(ranking[:, 0].float(), targets)
    ce = nn.functional.cross_entropy(pruning.float().reshape(-1, 2), labels.reshape(-1), ignore_index=-100)
    return 0.05 * mse + ce


def adafactor(model):
    from transformers.optimization import Adafactor

    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (no_decay if name.endswith("bias") or "norm" in name.lower() else decay).append(p)
    groups = [{"params": decay, "weight_decay": WEIGHT_DECAY}, {"params": no_decay, "weight_decay": 0.0}]
    return Adafactor(groups, lr=LR, scale_parameter=False, relative_step=False, warmup_init=False)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["train", "infer"])
    ap.add_argument("--shape", default="tiny", choices=list(SHAPES))
    ap.add_argument("--precision", default="bf16", choices=["f32", "bf16"])
    ap.add_argument("--pairs", type=int, default=32)
    ap.add_argument("--max-len", type=int, default=512)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--peak-tflops", type=float, default=float(os.environ.get("PEAK_TFLOPS", "0")) or None)
    ap.add_argument("--gpu-name", default=os.environ.get("GPU_NAME", "cuda"))
    args = ap.parse_args()

    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(args.seed)
    model = Provence(args.shape).to(dev)
    params = sum(p.numel() for p in model.parameters())
    emb = VOCAB * SHAPES[args.shape][1]
    batches = [make_batch(args.seed, i, args.pairs, args.max_len, VOCAB) for i in range(args.warmup)]
    autocast = torch.autocast(dev.type, dtype=torch.bfloat16, enabled=args.precision == "bf16")
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats()

    optimizer = adafactor(model) if args.mode == "train" else None
    if args.mode == "infer":
        model.eval()
    times, tokens, padded, last = [], 0, 0, float("nan")
    for step in range(args.warmup + args.steps):
        ids, mask, labels, targets, lengths = batches[step % len(batches)]
        ids, mask, labels, targets = ids.to(dev), mask.to(dev), labels.to(dev), targets.to(dev)
        sync()
        start = time.perf_counter()
        if args.mode == "train":
            with autocast:
                ranking, pruning = model(ids, mask)
            loss = loss_fn(ranking, pruning, targets, labels)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), MAX_GRAD_NORM)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            sync()
            elapsed = time.perf_counter() - start
            last = loss.item()
        else:
            with torch.inference_mode(), autocast:
                ranking, pruning = model(ids, mask)
                keep = pruning.float().softmax(-1)[..., 1].cpu()
                scores = ranking.float().cpu()
            elapsed = time.perf_counter() - start
            last = float(scores[0, 0])
            del keep
        if step >= args.warmup:
            times.append(elapsed)
            tokens += sum(lengths)
            padded += ids.numel()

    total = sum(times)
    step_s = total / len(times)
    per_token = (6.0 if args.mode == "train" else 2.0) * (params - emb)
    achieved = per_token * padded / len(times) / step_s / 1e12
    peak = torch.cuda.max_memory_allocated() / 2**20 if dev.type == "cuda" else None
    print(
        json.dumps(
            {
                "framework": "torch",
                "mode": args.mode,
                "shape": args.shape,
                "precision": args.precision,
                "device": args.gpu_name,
                "params": params,
                "non_embedding_params": params - emb,
                "pairs": args.pairs,
                "mean_padded_len": padded / len(times) / args.pairs,
                "warmup": args.warmup,
                "steps": args.steps,
                "step_ms": step_s * 1e3,
                "min_step_ms": min(times) * 1e3,
                "tokens_per_s": tokens / total,
                "padded_tokens_per_s": padded / total,
                "samples_per_s": args.pairs * len(times) / total,
                "peak_mem_mib": peak,
                "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "achieved_tflops": achieved,
                "mfu": achieved / args.peak_tflops if args.peak_tflops else None,
                "last_value": last,
                "torch": torch.__version__,
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
