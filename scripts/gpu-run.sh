#!/usr/bin/env bash
# Runs on a GPU machine (no Rust needed there), from the folder scripts/gpu-check.sh staged:
#
#   bash STAGE_DIR/gpu-run.sh [quick|check|full|single] [LOG_DIR]
#
# Runs the GPU tests, the mapping-invariance property test on real GPUs, the CUDA benchmarks and
# the matmul apps, each with the binaries next to this script; writes one log per step in
# LOG_DIR (default: $OUT, else ./gpu-logs) and prints a summary last.
set -u
MODE=${1:-full}
D=$(cd "$(dirname "$0")" && pwd)
OUT=${2:-${OUT:-./gpu-logs}}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
# Keep NVLink multicast off (nothing here needs it, and some shared hosts do not allow it).
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
# cudarc loads libcuda/libnvrtc/libcublas (.so.13) at run time: put CUDA 13's folders on the path.
LIBS=""
for d in /usr/local/cuda/lib64 /usr/local/cuda-13*/lib64 /usr/local/cuda/targets/x86_64-linux/lib \
         /usr/local/nvidia/lib64 /usr/lib/x86_64-linux-gnu; do
  [ -d "$d" ] && LIBS="$LIBS:$d"
done
for lib in libcublas.so.13 libnvrtc.so.13; do
  if ! ls ${LIBS//:/ } 2>/dev/null | grep -q "^$lib"; then
    f=$(find / -xdev -name "$lib*" 2>/dev/null | head -1)
    [ -n "$f" ] && LIBS="$LIBS:$(dirname "$f")"
  fi
done
export LD_LIBRARY_PATH="${LIBS#:}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
{
  nvidia-smi --query-gpu=index,name,memory.total,driver_version --format=csv
  nvidia-smi topo -m 2>/dev/null | head -12
  echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
} 2>&1 | tee "$OUT/machine.txt"
SUMMARY=()
step() { # name, command...
  local name=$1; shift
  local s=$(date +%s%N)
  "$@" >"$OUT/$name.log" 2>&1
  local rc=$?
  local ms=$(( ($(date +%s%N) - s) / 1000000 ))
  SUMMARY+=("$(printf '%-28s rc=%-3s %8s ms' "$name" "$rc" "$ms")")
  tail -n 40 "$OUT/$name.log"
}
# quick: GPU tests + the 8192 benchmark; check: tests, invariance, apps at small sizes;
# full: tests, invariance, benchmarks at 8192 and 16384 (the single-DGEMM baselines), apps at the
# large sizes (expert, default, ZCMEM); single: tests, benchmarks at 8192, and stencil, circuit
# and pennant on one GPU at their single-GPU sizes (gpu-apps.sh single).
[ -x "$D/gpu_tests" ] && step gpu_tests "$D/gpu_tests" --nocapture --test-threads=1
[ -x "$D/gpu_runtime" ] && [ "$MODE" != quick ] && step gpu_runtime "$D/gpu_runtime" --nocapture --test-threads=1
[ -x "$D/cuda_alloc" ] && [ "$MODE" != check ] && step cuda_alloc "$D/cuda_alloc" 512
[ -x "$D/cuda_bench" ] && [ "$MODE" != check ] && step cuda_bench "$D/cuda_bench" 8192
[ -x "$D/cuda_bench" ] && [ "$MODE" = full ] && step cuda_bench_16384 "$D/cuda_bench" 16384
[ -x "$D/mapper" ] && [ "$MODE" != quick ] && step apps bash "$D/gpu-apps.sh" "$D" "$OUT" "$MODE"
echo "== summary ($MODE; logs in $OUT) =="
printf '%s\n' "${SUMMARY[@]}"
