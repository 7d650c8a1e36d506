#!/usr/bin/env bash
# 4-GPU scaling at N=32768 (expert mappers), against one DGEMM of the same N on one GPU. Staged in
# .devbin/ by scripts/gpu-check.sh; on the GPU machine: bash .devbin/gpu-scale.sh
# (N and APPS select the size and the apps).
set -u
D=$(cd "$(dirname "$0")" && pwd)
OUT=${OUT:-/tmp/gpu-out}
mkdir -p "$OUT"
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
for app in ${APPS:-cosma summa cannon pumma solomonik johnson}; do
  line=$(timeout 150 "$D/mapper" run --app "$app" --machine local --n "$N" --json 2>"$OUT/$app-4.err")
  echo "4gpu $app rc=$? $line" | tee -a "$OUT/big.txt"
done
