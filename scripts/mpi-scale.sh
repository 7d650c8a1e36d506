#!/usr/bin/env bash
# Scaling of apps over 1, 2 and 4 ranks of `--machine mpi` on this host, interleaved: each
# round runs every (app, ranks) once; prints the median time and rate per (app, ranks) and the
# bytes of region data moved between ranks.
# Usage: scripts/mpi-scale.sh [ROUNDS] [SIZE] [APPS...]   (default: 5 small stencil cannon)
set -u
bin=${BIN:-target/release/mapper}
rounds=${1:-5}
size=${2:-small}
shift 2 2>/dev/null || shift $#
apps=${*:-stencil cannon}
out=$(mktemp)
for r in $(seq "$rounds"); do
  for app in $apps; do
    for np in 1 2 4; do
      timeout 300 mpirun -np "$np" --oversubscribe --allow-run-as-root "$bin" run --app "$app" \
        --machine mpi --size "$size" --json --time-limit 240 | tail -1 >> "$out"
    done
  done
done
python3 - "$out" <<'PY'
import json, sys, statistics
rows = {}
for line in open(sys.argv[1]):
    d = json.loads(line)
    assert d["verified"], d
    rows.setdefault((d["app"], d["ranks"]), []).append(d)
print("| app | ranks | decomposition | median time (s) | median rate | bytes between ranks |")
print("|---|---|---|---|---|---|")
for (app, np), ds in sorted(rows.items()):
    t = statistics.median(d["time_s"] for d in ds)
    r = statistics.median(d["rate"] for d in ds)
    print(f"| {app} | {np} | {ds[0]['decomposition']} | {t:.4f} | {r/1e9:.3f} G {ds[0]['unit']}/s | {ds[0]['bytes_between_ranks']} |")
PY
rm -f "$out"
