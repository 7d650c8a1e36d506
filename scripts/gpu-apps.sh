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
# (zcmem/APP.mapper) gets a "skipped" line for its ZCMEM runs.
set -u
D=${1:-$(cd "$(dirname "$0")" && pwd)}
OUT=${2:-${OUT:-./gpu-logs}}
MODE=${3:-full}
mkdir -p "$OUT"
N=${APPS_N:-16384}
NZ=${APPS_NZ:-8192}
# Every registered app: the first word (before ':') of the unindented lines of `mapper apps`.
APPS=${APPS:-$("$D/mapper" apps | grep -v '^[[:space:]]' | cut -d: -f1)}
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
for app in $APPS; do
  if [ "$MODE" = check ]; then
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
printf '%-10s %-16s %6s %6s %10s %10s %10s %s\n' app step n rc time_s TFLOP/s max_rel ok
while IFS= read -r l; do
  f() { echo "$l" | grep -o "\"$1\":[^,}]*" | head -1 | cut -d: -f2- | tr -d '"'; }
  g=$(f gflops)
  printf '%-10s %-16s %6s %6s %10s %10s %10s %s\n' "$(f app)" "$(f step)" "$(f n)" "$(f rc)" \
    "$(f time_s | cut -c1-8)" "$( [ -n "$g" ] && awk "BEGIN{printf \"%.2f\", $g/1000}")" \
    "$(m=$(f max_rel_error); [ -n "$m" ] && [ "$m" != null ] && awk "BEGIN{printf \"%.1e\", $m}")" \
    "$(f verified)$(f error)"
done <"$J"
