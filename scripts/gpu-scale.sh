#!/usr/bin/env bash
# 4-GPU scaling at N=32768: one cuBLAS DGEMM of N^3 on GPU 0, then every app the `mapper` binary
# registers (`mapper apps`) with its expert mapper on all GPUs. Runs on a GPU machine from the
# folder scripts/gpu-check.sh staged:
#
#   bash STAGE_DIR/gpu-scale.sh [LOG_DIR]
#
# LOG_DIR defaults to $OUT, else ./gpu-logs; N and APPS (space-separated) select the size and
# the apps.
set -u
D=$(cd "$(dirname "$0")" && pwd)
OUT=${1:-${OUT:-./gpu-logs}}
mkdir -p "$OUT"
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
nvidia-smi --query-gpu=index,name,memory.total --format=csv | tee "$OUT/machine.txt"
N=${N:-32768}
echo "== one DGEMM N=$N on GPU 0"; CUDA_VISIBLE_DEVICES=0 timeout 120 "$D/cuda_bench" "$N" 2>&1 | tail -6 | tee "$OUT/baseline.log"
# Every registered app: the first word (before ':') of the unindented lines of `mapper apps`.
APPS=${APPS:-$("$D/mapper" apps | grep -v '^[[:space:]]' | cut -d: -f1)}
for app in $APPS; do
  line=$(timeout 150 "$D/mapper" run --app "$app" --machine local --n "$N" --json 2>"$OUT/$app-4.err")
  echo "4gpu $app rc=$? $line" | tee -a "$OUT/big.txt"
done
