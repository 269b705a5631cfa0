#!/usr/bin/env bash
# Builds, on the CPU machine, everything benches/gpu/run.sh runs on the GPU machine: release CUDA
# builds of gpu-bench, the trainer and provence-model's cuda_parity example, stripped and
# gzipped into target-gpu/ (git-ignored; carry it to the GPU machine, 64 MiB limit).
# A cold release CUDA build took 19 min 20 s on 2 cores (3 gzipped binaries, 30 MiB); with a
# warm target cache, a few minutes.
set -euo pipefail
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/open-provence/target}
export CUDARC_CUDA_VERSION=${CUDARC_CUDA_VERSION:-13000}
cargo build --release --features cuda -p gpu-bench -p open_provence_trainer
cargo build --release --features cuda -p provence-model --example cuda_parity
mkdir -p target-gpu
for exe in gpu-bench open_provence_trainer examples/cuda_parity; do
  name=$(basename "$exe")
  strip -o "/tmp/$name.stripped" "$CARGO_TARGET_DIR/release/$exe"
  gzip -c "/tmp/$name.stripped" > "target-gpu/$name.gz"
done
ls -l target-gpu
