#!/usr/bin/env bash
# Builds the GPU binaries HERE (no CUDA needed: cudarc loads it at run time) and stages them,
# stripped, with scripts/gpu-run.sh in <repo>/.devbin/ (ignored by git). Then prints the device
# `run` tool call that runs them on the GPU machine.
#   scripts/gpu-check.sh [STAGE_REPO]   (default: the session's main checkout /work/main, which
#                                        is what the run tool sends)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
STAGE=${1:-/work/main}
cd "$ROOT"
cargo build --release -p runtime --features cuda --example cuda_bench --example cuda_alloc
J=$(cargo test --release -p runtime --features cuda --test gpu --test gpu_runtime --no-run \
      --message-format=json 2>/dev/null | grep -o '"executable":"[^"]*"' | cut -d'"' -f4)
mkdir -p "$STAGE/.devbin"
grep -qx '/.devbin/' "$STAGE/.git/info/exclude" 2>/dev/null || echo '/.devbin/' >> "$STAGE/.git/info/exclude"
for exe in $J; do
  case "$exe" in
    */gpu_runtime-*) cp "$exe" "$STAGE/.devbin/gpu_runtime" ;;
    */gpu-*) cp "$exe" "$STAGE/.devbin/gpu_tests" ;;
  esac
done
cp target/release/examples/cuda_bench target/release/examples/cuda_alloc "$STAGE/.devbin/"
# Matmul apps with the cuda feature, if the apps crate has the `cuda` feature.
if grep -q '^cuda' apps/Cargo.toml 2>/dev/null; then
  cargo build --release -p apps --features cuda --bin mapper && cp target/release/mapper "$STAGE/.devbin/"
  cp scripts/gpu-apps.sh "$STAGE/.devbin/apps.sh"
  mkdir -p "$STAGE/.devbin/zcmem" && cp apps/mappers/zcmem/*.mapper "$STAGE/.devbin/zcmem/"
fi
cp scripts/gpu-run.sh scripts/gpu-scale.sh "$STAGE/.devbin/"
strip "$STAGE/.devbin/"* 2>/dev/null || true
du -sh "$STAGE/.devbin"
cat <<MSG
Staged in $STAGE/.devbin. Run on the GPU machine with the device tool:
  run(kind="nvidia-h100-x1", carry=[".devbin"], timeout_s=300,
      command="bash .devbin/gpu-run.sh full")
  (four GPUs: kind="nvidia-h100-x4"). Logs come back from \$OUT.
MSG
