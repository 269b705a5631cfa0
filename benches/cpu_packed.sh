#!/usr/bin/env bash
# Training-step throughput on the CPU, padded vs packed execution, beside PyTorch on the same
# batches (gpu-bench's SplitMix64 batches, 8 pairs <= 512 tokens, f32, Adafactor), 2 threads.
# One JSON line per run on stdout (peak_rss_mib = the process's peak resident memory).
#
#   cargo build --release -p gpu-bench
#   PYTHON=/path/to/venv/bin/python bash benches/cpu_packed.sh > packed.jsonl
#   python3 benches/gpu/table.py packed.jsonl
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${CARGO_TARGET_DIR:-target}/release/gpu-bench"
PYTHON="${PYTHON:-python3}"
SHAPES="${SHAPES:-xsmall base}"
export RAYON_NUM_THREADS=2 OMP_NUM_THREADS=2 MKL_NUM_THREADS=2
for shape in $SHAPES; do
    if [ "$shape" = base ]; then steps="--warmup 1 --steps 2"; else steps="--warmup 2 --steps 4"; fi
    common="--shape $shape --pairs 8 --max-len 512 --precision f32 $steps"
    "$BIN" train $common --attention padded 2>/dev/null
    "$BIN" train $common --attention packed --packed-kernel per-sequence 2>/dev/null
    "$BIN" train $common --attention packed --packed-kernel repadded 2>/dev/null
    "$PYTHON" benches/gpu/torch_baseline.py train $common --gpu-name cpu 2>/dev/null
done
