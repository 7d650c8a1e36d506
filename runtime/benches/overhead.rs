//! Runtime overhead: empty-task throughput and per-task cost including dependence analysis and
//! mapping, for 1k, 10k and 100k tasks (per-task cost should stay flat as the count grows).
//!
//! `empty`: single launches of a task without region arguments (mapping + scheduling only).
//! `region_rw`: index launches of 16 points, each read-writing its block of a 16-way partition
//! (analysis, instance reuse and coherence on every point).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use runtime::mapper_core::ProcKind;
use runtime::*;
use std::time::{Duration, Instant};

fn app() -> App {
    let mut app = App::new("bench");
    app.task(TaskDecl::new("empty").cpu(|_| Ok(Value::None)));
    app.task(
        TaskDecl::new("touch")
            .arg("r", Privilege::ReadWrite, &["x"], &["blocks"])
            .cpu(|_| Ok(Value::None))
            .index_launch(),
    );
    app
}

fn runtime() -> (Runtime, PartitionId) {
    let m = TableMapper::new("cpu").kinds(&[ProcKind::Cpu]);
    let machine = MachineDesc::parse("local").unwrap();
    let mut rt = Runtime::new(app(), machine, &m, RuntimeOptions { profile: false }).unwrap();
    let r = rt
        .create_region(
            "grid",
            IndexSpace::range(0, 16 * 64 - 1),
            FieldSpace::new().field::<f64>("x"),
        )
        .unwrap();
    let p = rt.partition_equal(r, "blocks", &[16]).unwrap();
    (rt, p)
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("overhead");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    for &n in &[1_000u64, 10_000, 100_000] {
        g.throughput(Throughput::Elements(n));
        g.bench_with_input(BenchmarkId::new("empty", n), &n, |b, &n| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let (mut rt, _) = runtime();
                    let t = TaskHandle(0);
                    let start = Instant::now();
                    for _ in 0..n {
                        rt.launch(t, &[], &[]).unwrap();
                    }
                    rt.wait_all().unwrap();
                    total += start.elapsed();
                }
                total
            })
        });
        g.bench_with_input(BenchmarkId::new("region_rw", n), &n, |b, &n| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let (mut rt, p) = runtime();
                    let t = TaskHandle(1);
                    let start = Instant::now();
                    for _ in 0..n / 16 {
                        rt.index_launch(t, Rect::r1(0, 15), &[p.into()], &[])
                            .unwrap();
                    }
                    rt.wait_all().unwrap();
                    total += start.elapsed();
                }
                total
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
