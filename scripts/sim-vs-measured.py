#!/usr/bin/env python3
"""Simulated vs measured app times: reads the JSON lines a GPU run of scripts/gpu-apps.sh wrote
(apps.jsonl), runs each (app, mapper, N) again on a simulated machine (default sim:h100x4) with
the mapper binary built here, prints both times side by side and Spearman's rank correlation,
and writes the pairs as JSON lines.

    scripts/sim-vs-measured.py MEASURED.jsonl [--machine sim:h100x4] [--mapper-bin PATH] [--out F]
"""
import argparse, json, os, subprocess, sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def ranks(xs):
    order = sorted(range(len(xs)), key=lambda i: xs[i])
    r = [0.0] * len(xs)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and xs[order[j + 1]] == xs[order[i]]:
            j += 1
        for k in range(i, j + 1):
            r[order[k]] = (i + j) / 2.0 + 1.0
        i = j + 1
    return r


def spearman(a, b):
    ra, rb = ranks(a), ranks(b)
    n = len(a)
    ma, mb = sum(ra) / n, sum(rb) / n
    cov = sum((x - ma) * (y - mb) for x, y in zip(ra, rb))
    va = sum((x - ma) ** 2 for x in ra) ** 0.5
    vb = sum((y - mb) ** 2 for y in rb) ** 0.5
    return cov / (va * vb) if va and vb else float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("measured")
    ap.add_argument("--machine", default="sim:h100x4")
    ap.add_argument("--mapper-bin", default=os.path.join(ROOT, "target/release/mapper"))
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    pairs = []
    for line in open(a.measured):
        m = json.loads(line)
        if not m.get("verified") or "time_s" not in m:
            continue
        if "1gpu" in m.get("step", ""):
            # One GPU of the 4-GPU host: not the simulated 4-GPU machine.
            continue
        mapper = m["mapper"]
        if mapper.endswith(".mapper"):
            mapper = os.path.join(ROOT, "apps/src/matmul/zcmem", os.path.basename(mapper))
        cmd = [a.mapper_bin, "run", "--app", m["app"], "--machine", a.machine, "--mapper",
               mapper, "--size", "large", "--n", str(m["n"]), "--json"]
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0 or not p.stdout.strip():
            print(f"sim failed for {m['app']} {m['step']}: {p.stderr.strip()}", file=sys.stderr)
            continue
        s = json.loads(p.stdout.strip().splitlines()[-1])
        pairs.append({"app": m["app"], "step": m["step"], "n": m["n"],
                      "measured_s": m["time_s"], "simulated_s": s["time_s"],
                      "machine": m["machine"], "sim_machine": a.machine})
    print(f"{'app':10} {'step':16} {'measured s':>11} {'simulated s':>12} {'sim/meas':>9}")
    for p in pairs:
        print(f"{p['app']:10} {p['step']:16} {p['measured_s']:11.4f} {p['simulated_s']:12.4f} "
              f"{p['simulated_s'] / p['measured_s']:9.2f}")
    if len(pairs) >= 3:
        rho = spearman([p["measured_s"] for p in pairs], [p["simulated_s"] for p in pairs])
        print(f"Spearman rank correlation over {len(pairs)} runs: {rho:.3f}")
        steps = sorted({p["step"] for p in pairs})
        for st in steps:
            sub = [p for p in pairs if p["step"] == st]
            if len(sub) >= 3:
                r = spearman([p["measured_s"] for p in sub], [p["simulated_s"] for p in sub])
                print(f"  within {st} ({len(sub)} apps): {r:.3f}")
    if a.out:
        with open(a.out, "w") as f:
            for p in pairs:
                f.write(json.dumps(p) + "\n")


if __name__ == "__main__":
    main()
