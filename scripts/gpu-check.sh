#!/usr/bin/env bash
# Builds the GPU binaries on this machine (no CUDA needed: cudarc loads the driver, NVRTC and
# cuBLAS at run time) and stages them, stripped, in STAGE_DIR with the scripts that run them:
#
#   scripts/gpu-check.sh STAGE_DIR
#
# STAGE_DIR then holds gpu_tests and gpu_runtime (the GPU test binaries), cuda_bench and
# cuda_alloc (runtime examples), the `mapper` binary with the apps' `cuda` feature, the ZCMEM
# mappers (zcmem/), and gpu-run.sh, gpu-apps.sh and gpu-scale.sh. Copy it to any machine with
# NVIDIA GPUs and a CUDA 13 driver (no Rust needed there) and run `bash STAGE_DIR/gpu-run.sh`.
set -euo pipefail
if [ $# -ne 1 ] || [ -z "$1" ]; then
  echo "usage: $0 STAGE_DIR   (the folder to stage the GPU binaries and scripts in)" >&2
  exit 2
fi
ROOT=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$1"
STAGE=$(cd "$1" && pwd)
cd "$ROOT"
cargo build --release -p runtime --features cuda --example cuda_bench --example cuda_alloc
J=$(cargo test --release -p runtime --features cuda --test gpu --test gpu_runtime --no-run \
      --message-format=json 2>/dev/null | grep -o '"executable":"[^"]*"' | cut -d'"' -f4)
BINS=(cuda_bench cuda_alloc)
for exe in $J; do
  case "$exe" in
    */gpu_runtime-*) cp "$exe" "$STAGE/gpu_runtime"; BINS+=(gpu_runtime) ;;
    */gpu-*) cp "$exe" "$STAGE/gpu_tests"; BINS+=(gpu_tests) ;;
  esac
done
cp target/release/examples/cuda_bench target/release/examples/cuda_alloc "$STAGE/"
# The apps (the `mapper` binary) with their `cuda` feature.
if grep -q '^cuda' apps/Cargo.toml 2>/dev/null; then
  cargo build --release -p apps --features cuda --bin mapper
  cp target/release/mapper "$STAGE/"
  BINS+=(mapper)
  mkdir -p "$STAGE/zcmem" && cp apps/src/matmul/zcmem/*.mapper "$STAGE/zcmem/"
fi
cp scripts/gpu-run.sh scripts/gpu-apps.sh scripts/gpu-scale.sh "$STAGE/"
for b in "${BINS[@]}"; do
  strip "$STAGE/$b" 2>/dev/null || true
done
du -sh "$STAGE"
cat <<MSG
Staged the GPU binaries and scripts in $1.
Copy $1 to any CUDA machine, then run:
  bash $1/gpu-run.sh full     # or quick | check | single; logs in ./gpu-logs (OUT=DIR or a second argument)
  bash $1/gpu-apps.sh $1 ./gpu-logs single   # stencil, circuit, pennant on one GPU, verified
  bash $1/gpu-scale.sh        # 4-GPU scaling at N = 32768 (N=..., APPS="..." select)
MSG
