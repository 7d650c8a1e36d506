#!/usr/bin/env bash
# Runs every app under mpirun with 1, 2 and 4 ranks, each rank one node of G emulated GPUs and
# C CPUs (`--machine mpi:emulated:1xG,cpus=C`, C = cores / ranks), and checks that each run
# verifies and that its result digest (a hash of every value the app read back) equals the
# one-process run of the same machine (`emulated:NxG,cpus=C`).
# Usage: GPUS=G scripts/mpi-check.sh [MAPPER_BINARY] [SIZE] [APPS...]
set -u
bin=${1:-target/release/mapper}
size=${2:-small}
shift 2 2>/dev/null || shift $#
apps=${*:-stencil circuit pennant cannon summa pumma johnson solomonik cosma}
cores=$(nproc)
g=${GPUS:-0}
fail=0
field() { python3 -c "import sys,json; d=json.loads(sys.stdin.read().strip().splitlines()[-1]); print(d.get('$1'))"; }
for app in $apps; do
  for np in 1 2 4; do
    cpus=$(( cores / np )); [ "$cpus" -ge 1 ] || cpus=1
    ref=$("$bin" run --app "$app" --machine "emulated:${np}x$g,cpus=$cpus" --size "$size" --json) || { echo "FAIL $app: one-process run"; fail=1; continue; }
    got=$(timeout 300 mpirun -np "$np" --oversubscribe --allow-run-as-root "$bin" run --app "$app" \
      --machine "mpi:emulated:1x$g,cpus=$cpus" --size "$size" --json --time-limit 240) || { echo "FAIL $app -np $np: exit $?"; fail=1; continue; }
    want=$(echo "$ref" | field result_digest); have=$(echo "$got" | field result_digest)
    v=$(echo "$got" | field verified); moved=$(echo "$got" | field bytes_between_ranks)
    t=$(echo "$got" | field time_s)
    if [ "$v" = "True" ] && [ "$want" = "$have" ]; then
      echo "ok   $app -np $np: verified, digest $have = one-process emulated:${np}x$g,cpus=$cpus; time ${t} s; ${moved} bytes between ranks"
    else
      echo "FAIL $app -np $np: verified=$v digest $have, one-process $want"; fail=1
    fi
  done
done
exit $fail
