//! Placement throughput on a 4-node x 4-GPU machine shape: one index point through the
//! interpreter (an `auto_split`-based COSMA/SUMMA-style function and DSL.md's `block1d`), and
//! through the runtime's default placement for comparison.

use criterion::{criterion_group, criterion_main, Criterion};
use mapper_core::default::default_index_placement;
use mapper_core::eval::Evaluator;
use mapper_core::parse::parse_text;
use mapper_core::{MachineShape, PointCtx, ProcId, ProcKind};
use std::hint::black_box;

const SRC: &str = r#"
mgpu = Machine(GPU);
def cosma(Task task) {
    ip = task.ipoint;
    is = task.ispace;
    m = mgpu.merge(0, 1).auto_split(0, is);
    return m[*(ip * m.size / is)];
}
def block1d(Task task) {
    ip = task.ipoint;
    is = task.ispace;
    node = ip[0] * mgpu.size[0] / is[0];
    per_node = (is[0] + mgpu.size[0] - 1) / mgpu.size[0];
    return mgpu[node, (ip[0] % per_node) * mgpu.size[1] / per_node];
}
"#;

fn bench(c: &mut Criterion) {
    let parsed = parse_text(SRC);
    assert!(parsed.diagnostics.is_empty(), "{:?}", parsed.diagnostics);
    let machine = MachineShape::new(4, 8, 4);
    let checked =
        mapper_core::check::check_program(parsed.program, None).expect("benchmark program checks");
    let ev = Evaluator::new(&checked, &machine).expect("benchmark program compiles");
    let parent = ProcId {
        node: 0,
        kind: ProcKind::Cpu,
        index: 0,
    };
    let cosma = ev.func_id("cosma").expect("cosma");
    let block1d = ev.func_id("block1d").expect("block1d");

    let domain2 = [64i64, 64];
    let points2: Vec<[i64; 2]> = (0..64).flat_map(|i| (0..64).map(move |j| [i, j])).collect();
    let mut k = 0usize;
    c.bench_function("interp/auto_split_point", |b| {
        b.iter(|| {
            k = (k + 1) % points2.len();
            let ctx = PointCtx {
                task: 0,
                point: &points2[k],
                domain: &domain2,
                index_launch: true,
                parent_proc: parent,
                seq: 0,
            };
            black_box(ev.place(cosma, &ctx, "mm").expect("placement"))
        })
    });

    let domain1 = [1024i64];
    let mut i = 0i64;
    c.bench_function("interp/block1d_point", |b| {
        b.iter(|| {
            i = (i + 1) % 1024;
            let p = [i];
            let ctx = PointCtx {
                task: 0,
                point: &p,
                domain: &domain1,
                index_launch: true,
                parent_proc: parent,
                seq: 0,
            };
            black_box(ev.place(block1d, &ctx, "cnc").expect("placement"))
        })
    });

    let mut k2 = 0usize;
    c.bench_function("default/index_point", |b| {
        b.iter(|| {
            k2 = (k2 + 1) % points2.len();
            black_box(
                default_index_placement(&points2[k2], &domain2, ProcKind::Gpu, &machine)
                    .expect("placement"),
            )
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
