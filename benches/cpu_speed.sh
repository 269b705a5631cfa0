#!/usr/bin/env bash
# CPU speed against PyTorch and upstream, all in one run (2 threads each side):
#   * process(): ../shared/bench/side_by_side_process.py-style comparison of our CLI with upstream's
#     process() on the same random weights and English texts (SIDE_BY_SIDE = that script);
#   * forward and training step: gpu-bench vs benches/gpu/torch_baseline.py on the same batches.
# One line of JSON per measurement on stdout.
#
#   cargo build --release -p gpu-bench -p open_provence_eval
#   UPSTREAM=<open_provence checkout> SIDE_BY_SIDE=<side_by_side_process.py> PYTHON=<venv python> \
#       bash benches/cpu_speed.sh > speed.jsonl
set -euo pipefail
cd "$(dirname "$0")/.."
T="${CARGO_TARGET_DIR:-target}/release"
PYTHON="${PYTHON:-python3}"
WORK="${WORK:-$(mktemp -d)}"
export RAYON_NUM_THREADS=2 OMP_NUM_THREADS=2 MKL_NUM_THREADS=2
for case in tiny:200 xsmall:64 base:16; do
    UPSTREAM="$UPSTREAM" TOKDIR=data/demo/model EVAL="$(realpath "$T")/open_provence_eval" THREADS=2 \
        "$PYTHON" "$SIDE_BY_SIDE" "${case%%:*}" "${case##*:}" "$WORK/${case%%:*}" 2>/dev/null | grep '^{'
done
for mode in infer train; do
    common="--shape xsmall --pairs 8 --max-len 512 --precision f32 --warmup 2 --steps 4"
    "$T/gpu-bench" "$mode" $common 2>/dev/null
    "$PYTHON" benches/gpu/torch_baseline.py "$mode" $common --gpu-name cpu 2>/dev/null
done
common="--shape base --pairs 4 --max-len 512 --precision f32 --warmup 1 --steps 2"
"$T/gpu-bench" train $common 2>/dev/null
"$PYTHON" benches/gpu/torch_baseline.py train $common --gpu-name cpu 2>/dev/null
