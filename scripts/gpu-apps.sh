#!/usr/bin/env bash
# Runs on a GPU machine (gpu-run.sh calls it; by hand: bash STAGE_DIR/gpu-apps.sh [D [LOG_DIR
# [MODE]]], D being the staged folder with the `mapper` binary, default this script's folder):
# every app the `mapper` binary registers (`mapper apps`) on the `local` machine (all real GPUs)
# with the expert, default and ZCMEM mappers, each run verified against the reference product.
# MODE check: small sizes (host reference up to N=2048, then the cuBLAS reference), fp64 and
# fp32; MODE full: the expert and default mappers at N=$APPS_N (default 16384), the expert and
# ZCMEM mappers at N=$APPS_NZ (default 8192: the ZCMEM runs read every operand over PCIe and take
# ~100x longer), and the expert at N on GPU 0 alone (CUDA_VISIBLE_DEVICES=0). Each run's JSON
# line goes to LOG_DIR/apps.jsonl (LOG_DIR: default $OUT, else ./gpu-logs) with a "step" field;
# a table is printed last. APPS="a b" restricts the apps; an app without a ZCMEM mapper
# (zcmem/APP.mapper) gets a "skipped" line for its ZCMEM runs. The check and full modes are for
# the apps with an `n` size parameter (the matmul apps and stencil); by default they run the
# apps whose `mapper apps` entry lists one.
#
# MODE single: stencil, circuit and pennant (APPS="..." to choose) on GPU 0 alone at their
# single-GPU size (`--size gpu`), each with the expert, all_fbmem and default mappers (an app
# without a named `all_fbmem` mapper gets a "skipped" line), every run verified; then pennant's
# `small` problem with the expert once on the GPU and once with no GPU visible (CPUs), whose
# field digests must be equal (the GPU variants are bitwise the CPU ones). Each JSON line is
# printed as it comes, and the table last.
set -u
D=${1:-$(cd "$(dirname "$0")" && pwd)}
OUT=${2:-${OUT:-./gpu-logs}}
MODE=${3:-full}
mkdir -p "$OUT"
N=${APPS_N:-16384}
NZ=${APPS_NZ:-8192}
# Every registered app: the first word (before ':') of the unindented lines of `mapper apps`.
LISTING=$("$D/mapper" apps)
ALL=$(echo "$LISTING" | grep -v '^[[:space:]]' | cut -d: -f1)
# entry APP KEY: what `mapper apps` lists after "KEY: " under APP (parameters, sizes, mappers).
entry() {
  echo "$LISTING" | awk -v app="$1" -v key="$2" '
    /^[^[:space:]]/ { cur = $1; sub(/:$/, "", cur) }
    cur == app && $1 == key ":" { sub("^[[:space:]]*" key ": ", ""); print }'
}
if [ "$MODE" = single ]; then
  APPS=${APPS:-stencil circuit pennant}
else
  APPS=${APPS:-$(for a in $ALL; do entry "$a" parameters | grep -qE '(^|; )n \(' && echo "$a"; done)}
fi
if [ -z "$APPS" ]; then
  echo "no apps: \`$D/mapper apps\` listed none" >&2
  exit 1
fi
STEPS=${STEPS:-"expert default expert_nz zcmem expert_1gpu"}   # which full-mode runs, in order
PROFILE_APPS=${PROFILE_APPS:-}   # apps whose expert run at N also writes a Chrome trace
J="$OUT/apps.jsonl"
: >"$J"
one() { # step app mapper n [extra args]
  local step=$1 app=$2 mapper=$3 n=$4; shift 4
  local line rc
  line=$(timeout 120 "$D/mapper" run --app "$app" --machine local --mapper "$mapper" \
           --size large --n "$n" --json "$@" 2>"$OUT/err-$step-$app.txt")
  rc=$?
  if [ -n "$line" ]; then
    echo "{\"step\":\"$step\",\"rc\":$rc,${line#\{}" >>"$J"
  else
    echo "{\"step\":\"$step\",\"rc\":$rc,\"app\":\"$app\",\"error\":\"$(head -c 300 "$OUT/err-$step-$app.txt" | tr '\n"' ' _')\"}" >>"$J"
  fi
  [ -s "$OUT/err-$step-$app.txt" ] || rm -f "$OUT/err-$step-$app.txt"
}
zcmem() { # step app n: the app's ZCMEM mapper, if it has one
  if [ -f "$D/zcmem/$2.mapper" ]; then
    one "$1" "$2" "$D/zcmem/$2.mapper" "$3"
  else
    echo "{\"step\":\"$1\",\"rc\":0,\"app\":\"$2\",\"error\":\"skipped: no ZCMEM mapper zcmem/$2.mapper\"}" >>"$J"
  fi
}
# single mode: one run at the app's `gpu` size on GPU 0 (extra args after the mapper).
single() { # step app mapper [extra args]
  local step=$1 app=$2 mapper=$3; shift 3
  local line rc
  line=$(CUDA_VISIBLE_DEVICES=${GPU-0} timeout "${SINGLE_TIMEOUT:-600}" "$D/mapper" run \
           --app "$app" --machine local --mapper "$mapper" --json "$@" 2>"$OUT/err-$step-$app.txt")
  rc=$?
  if [ -n "$line" ]; then
    echo "{\"step\":\"$step\",\"rc\":$rc,${line#\{}" | tee -a "$J"
  else
    echo "{\"step\":\"$step\",\"rc\":$rc,\"app\":\"$app\",\"error\":\"$(head -c 300 "$OUT/err-$step-$app.txt" | tr '\n"' ' _')\"}" | tee -a "$J"
  fi
  [ -s "$OUT/err-$step-$app.txt" ] || rm -f "$OUT/err-$step-$app.txt"
}
if [ "$MODE" = single ]; then
  for app in $APPS; do
    for m in expert all_fbmem default; do
      if [ "$m" = all_fbmem ] && ! entry "$app" mappers | tr ',' '\n' | grep -qx ' *all_fbmem'; then
        echo "{\"step\":\"${m}_gpu\",\"rc\":0,\"app\":\"$app\",\"error\":\"skipped: no all_fbmem mapper\"}" | tee -a "$J"
        continue
      fi
      single "${m}_gpu" "$app" "$m" --size gpu
    done
  done
  case " $APPS " in *" pennant "*)
    single expert_small_gpu pennant expert --size small
    GPU= single expert_small_cpu pennant expert --size small
    d() { grep "\"step\":\"$1\"" "$J" | grep -o '"digest":[^,}]*' | cut -d: -f2; }
    g=$(d expert_small_gpu); c=$(d expert_small_cpu)
    if [ -n "$g" ] && [ "$g" = "$c" ]; then
      echo "pennant small: GPU and CPU field digests equal ($g)"
    else
      echo "pennant small: GPU digest '$g' differs from the CPU digest '$c'"
    fi ;;
  esac
fi
for app in $APPS; do
  if [ "$MODE" = single ]; then
    break
  elif [ "$MODE" = check ]; then
    one expert_1024 "$app" expert 1024
    zcmem zcmem_1024 "$app" 1024
    one default_1024 "$app" default 1024
    one expert_1024_f32 "$app" expert 1024 --precision f32
    one expert_4096 "$app" expert 4096
  else
    prof=()
    case " $PROFILE_APPS " in *" $app "*) prof=(--profile "$OUT/profile-$app-$N.json") ;; esac
    for st in $STEPS; do
      case $st in
        expert) one "expert_$N" "$app" expert "$N" "${prof[@]}" ;;
        default) one "default_$N" "$app" default "$N" ;;
        expert_nz) one "expert_$NZ" "$app" expert "$NZ" ;;
        zcmem) zcmem "zcmem_$NZ" "$app" "$NZ" ;;
        expert_1gpu) CUDA_VISIBLE_DEVICES=0 one "expert_1gpu_$N" "$app" expert "$N" ;;
      esac
    done
  fi
done
echo "== apps ($MODE) on $(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | sort | uniq -c | tr -s ' ') =="
if [ "$MODE" = single ]; then
  printf '%-10s %-18s %4s %10s %12s %-14s %s\n' app step rc time_s rate unit ok
  while IFS= read -r l; do
    f() { echo "$l" | grep -o "\"$1\":[^,}]*" | head -1 | cut -d: -f2- | tr -d '"'; }
    r=$(f rate)
    printf '%-10s %-18s %4s %10s %12s %-14s %s\n' "$(f app)" "$(f step)" "$(f rc)" \
      "$(f time_s | cut -c1-8)" "$( [ -n "$r" ] && awk "BEGIN{printf \"%.3e\", $r}")" \
      "$(f unit)" "$(f verified)$(f error)"
  done <"$J"
  exit 0
fi
printf '%-10s %-16s %6s %6s %10s %10s %10s %s\n' app step n rc time_s TFLOP/s max_rel ok
while IFS= read -r l; do
  f() { echo "$l" | grep -o "\"$1\":[^,}]*" | head -1 | cut -d: -f2- | tr -d '"'; }
  g=$(f gflops)
  printf '%-10s %-16s %6s %6s %10s %10s %10s %s\n' "$(f app)" "$(f step)" "$(f n)" "$(f rc)" \
    "$(f time_s | cut -c1-8)" "$( [ -n "$g" ] && awk "BEGIN{printf \"%.2f\", $g/1000}")" \
    "$(m=$(f max_rel_error); [ -n "$m" ] && [ "$m" != null ] && awk "BEGIN{printf \"%.1e\", $m}")" \
    "$(f verified)$(f error)"
done <"$J"
