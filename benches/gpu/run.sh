#!/usr/bin/env bash
# The whole GPU run of issue 7, in one go (GPU time is scarce): environment check, CUDA smoke
# test, then Burn (gpu-bench) vs PyTorch (torch_baseline.py) for the training step and for
# inference, on the shapes below. Results: $OUT/results.jsonl (one JSON object per run, with
# `nvidia_smi_peak_mib` = peak device memory used by the process as nvidia-smi sees it), logs in
# $OUT/logs/. Every run has its own timeout and the whole script keeps to $BUDGET_S seconds.
#
# Expects the CUDA builds in target-gpu/ (gpu-bench, and if present cuda_parity and
# open_provence_trainer, gzipped): make them on the CPU machine with benches/gpu/build.sh,
# carry target-gpu/, and run:  OUT=/some/dir bash benches/gpu/run.sh
set -u
OUT=${OUT:-$PWD/gpu-out}
BUDGET_S=${BUDGET_S:-420}
SHAPES=${SHAPES:-"base xsmall tiny"}
mkdir -p "$OUT/logs"
RESULTS=$OUT/results.jsonl
START=$(date +%s)
left() { echo $((BUDGET_S - ($(date +%s) - START))); }

# Environment.
{
  date -u
  nvidia-smi || echo "nvidia-smi failed"
  CUDA_PATH=${CUDA_PATH:-$(ls -d /usr/local/cuda* 2>/dev/null | sort | tail -1)}
  echo "CUDA_PATH=$CUDA_PATH"
} > "$OUT/logs/env.log" 2>&1
CUDA_PATH=${CUDA_PATH:-$(ls -d /usr/local/cuda* 2>/dev/null | sort | tail -1)}
export CUDA_PATH
NVRTC_DIR=$(dirname "$( (find "$CUDA_PATH" -name "libnvrtc.so*"; find /usr/lib /usr/local/lib /opt -maxdepth 8 -name "libnvrtc.so*") 2>/dev/null | head -1)" 2>/dev/null)
export LD_LIBRARY_PATH="$CUDA_PATH/lib64:$CUDA_PATH/targets/x86_64-linux/lib:${NVRTC_DIR:-.}:${LD_LIBRARY_PATH:-}"
PY=$(command -v python || command -v python3)
GPU_NAME=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)
export GPU_NAME=${GPU_NAME:-unknown}
# Dense bf16 tensor-core peak (H100/H200 SXM: 989 TFLOP/s); MFU of every run is against it.
case "$GPU_NAME" in
  *H100*PCIe*) export PEAK_TFLOPS=${PEAK_TFLOPS:-756} ;;
  *H100*|*H200*) export PEAK_TFLOPS=${PEAK_TFLOPS:-989} ;;
  *A100*) export PEAK_TFLOPS=${PEAK_TFLOPS:-312} ;;
  *) export PEAK_TFLOPS=${PEAK_TFLOPS:-989} ;;
esac
{ echo "GPU_NAME=$GPU_NAME PEAK_TFLOPS=$PEAK_TFLOPS NVRTC_DIR=$NVRTC_DIR"; $PY -c "import torch, transformers; print('torch', torch.__version__, 'transformers', transformers.__version__, 'cuda', torch.version.cuda)"; } >> "$OUT/logs/env.log" 2>&1

# The carried binaries are stripped and gzipped (the carry limit is 64 MiB).
for exe in gpu-bench cuda_parity open_provence_trainer; do
  if [ -f "target-gpu/$exe.gz" ]; then gunzip -c "target-gpu/$exe.gz" > "/tmp/$exe" && chmod +x "/tmp/$exe"; fi
  [ -x "target-gpu/$exe" ] && cp "target-gpu/$exe" "/tmp/$exe"
done
BIN=/tmp/gpu-bench

# run NAME TIMEOUT CMD...: runs CMD with a memory sampler; JSON lines of its stdout go to
# results.jsonl with the sampled peak added.
run() {
  local name=$1 limit=$2; shift 2
  local rest; rest=$(left)
  if [ "$rest" -lt 20 ]; then echo "{\"run\": \"$name\", \"skipped\": \"budget\"}" >> "$RESULTS"; return; fi
  [ "$limit" -gt "$rest" ] && limit=$rest
  local base; base=$(nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits 2>/dev/null | head -1)
  nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 100 > "$OUT/logs/$name.mem" 2>/dev/null &
  local sampler=$!
  local t0; t0=$(date +%s.%N)
  timeout "$limit" "$@" > "$OUT/logs/$name.out" 2> "$OUT/logs/$name.err"
  local rc=$?
  kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null
  local peak; peak=$(sort -n "$OUT/logs/$name.mem" | tail -1)
  "$PY" - "$name" "$rc" "${peak:-0}" "${base:-0}" "$t0" "$OUT/logs/$name.out" >> "$RESULTS" <<'PY'
import json, sys, time
name, rc, peak, base, t0, path = sys.argv[1:]
lines = [l for l in open(path) if l.strip().startswith("{")]
extra = {"run": name, "rc": int(rc), "wall_s": round(time.time() - float(t0), 1),
         "nvidia_smi_peak_mib": int(peak) - int(base)}
if not lines or int(rc) != 0:
    print(json.dumps(extra))
for l in lines:
    try:
        d = json.loads(l)
    except ValueError:
        continue
    d.update(extra)
    print(json.dumps(d))
PY
  echo "[$(date -u +%T)] $name rc=$rc peak=${peak}MiB left=$(left)s" | tee -a "$OUT/logs/progress.log"
}

run smoke 180 "$BIN" smoke
if [ -x /tmp/cuda_parity ] && [ -d tests/fixtures/model ]; then
  run cuda_parity 90 /tmp/cuda_parity tests/fixtures/model
fi

TORCH="$PY benches/gpu/torch_baseline.py"
# Most important first (the budget may run out): the base shape in bf16 (mixed precision in both
# frameworks), then f32, then the other shapes.
for shape in $SHAPES; do
  for precision in bf16 f32; do
    run "burn_train_${shape}_${precision}" 150 "$BIN" train --shape "$shape" --precision "$precision"
    run "torch_train_${shape}_${precision}" 90 $TORCH train --shape "$shape" --precision "$precision"
    run "burn_infer_${shape}_${precision}" 90 "$BIN" infer --shape "$shape" --precision "$precision"
    run "torch_infer_${shape}_${precision}" 60 $TORCH infer --shape "$shape" --precision "$precision"
  done
done
# Packed attention per sequence (the CubeCL online-softmax forward and recomputing backward, one
# launch set per layer, no [B, heads, T, T] tensor) against the default above, repadded (the
# CubeCL chunk softmax and score-gradient kernels between Burn's matmuls), on the base shape.
run burn_train_base_bf16_per_sequence 150 "$BIN" train --shape base --precision bf16 --packed-kernel per-sequence
run burn_infer_base_bf16_per_sequence 90 "$BIN" infer --shape base --precision bf16 --packed-kernel per-sequence
# large (≈395M) last, with whatever budget is left.
run burn_train_large_bf16 150 "$BIN" train --shape large --precision bf16
run torch_train_large_bf16 90 $TORCH train --shape large --precision bf16
# bf16 vs f32 loss curves of the demo recipe on the GPU (needs the CUDA trainer binary).
if [ -x /tmp/open_provence_trainer ]; then
  for precision in f32 bf16; do
    run "demo_curve_${precision}" 120 /tmp/open_provence_trainer configs/demo.yaml --precision "$precision" \
      --output_dir "$OUT/demo_$precision" --logging_steps 1
  done
fi
cp "$RESULTS" "$OUT/results.copy.jsonl" 2>/dev/null
echo "done in $(( $(date +%s) - START ))s" >> "$OUT/logs/progress.log"
