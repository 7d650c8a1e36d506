//! Simulator speed, end to end (runtime creation, dependence analysis, mapping, virtual
//! instances, the discrete-event loop; without rendering the profile) on the P100 node and the
//! 4-node cluster, with the default mapper, for two graphs built from the tiled GEMM program:
//!
//! - `gemm8x8_x8`: 8 multiplications in sequence on 8 x 8 tiles: 192 init + 4,096 gemm tasks;
//! - `gemm16x16`: one multiplication on 16 x 16 tiles: 768 init + 4,096 gemm tasks (256
//!   pieces per matrix, so the mapping stage's per-piece scans cost more).
//!
//! Target: a graph of a few thousand tasks in under 10 ms.

#[path = "../tests/programs/tiled_gemm.rs"]
mod tiled_gemm;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use runtime::DefaultMapper;
use std::time::Duration;

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("sim");
    g.sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    for (label, tiles, reps) in [("gemm8x8_x8", 8, 8), ("gemm16x16", 16, 1)] {
        for machine in ["sim:p100x4", "sim:cluster4x4"] {
            let run =
                || tiled_gemm::run_with(machine, &DefaultMapper, 16384, tiles, reps, false, false);
            let tasks = run().map(|o| o.tasks).unwrap_or(0);
            g.throughput(Throughput::Elements(tasks as u64));
            g.bench_with_input(BenchmarkId::new(label, machine), &machine, |b, _| {
                b.iter(|| run().map(|o| o.ns).unwrap_or(0))
            });
        }
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
