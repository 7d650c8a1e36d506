//! The runtime on real GPUs (`local` with the `cuda` feature and a driver): a 1-D stencil whose
//! GPU variants are NVRTC kernels (`Variant::Cuda`) and whose `sum` task is a host variant on
//! every kind (on a real GPU it reads framebuffer instances through their host mirrors), run
//! under random mappers (processor kinds, FBMEM / ZCMEM / SYSMEM, SOA / AOS, C / F order) — the
//! mapping-invariance property on real GPUs: results must equal the sequential reference bit
//! for bit. Without a driver the tests print `skipped: ...` and return.

use runtime::mapper_core::{Layout, MemKind, ProcKind};
use runtime::task::{CudaVariant, Variant};
use runtime::*;

const INIT: &str = r#"
extern "C" __global__ void init(long long lo, long long hi, double* x, long long sx, long long n) {
    long long t = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (lo + t <= hi) x[t * sx] = (double)(lo + t);
}"#;

const STEP: &str = r#"
extern "C" __global__ void step(long long glo, long long ghi, const double* x, long long sx,
                                long long olo, long long ohi, double* y, long long sy,
                                long long n) {
    long long t = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    long long i = olo + t;
    if (i > ohi) return;
    double c = x[(i - glo) * sx];
    double l = i > glo ? x[(i - 1 - glo) * sx] : c;
    double h = i < ghi ? x[(i + 1 - glo) * sx] : c;
    y[t * sy] = (l + c + h) / 3.0;
}"#;

const COPY: &str = r#"
extern "C" __global__ void copyback(long long ilo, long long ihi, const double* y, long long sy,
                                    long long olo, long long ohi, double* x, long long sx,
                                    long long n) {
    long long t = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (olo + t <= ohi) x[t * sx] = y[t * sy];
}"#;

fn cuda(kernel: &str, src: &str) -> Variant {
    Variant::Cuda(CudaVariant {
        kernel: kernel.into(),
        source: Some(src.into()),
    })
}

fn app() -> App {
    let mut app = App::new("stencil1d-gpu");
    app.task(
        TaskDecl::new("init")
            .arg("out", Privilege::WriteDiscard, &["x"], &["blocks"])
            .cpu(|ctx| {
                let w = ctx.write::<f64>(0, "x")?;
                for p in ctx.space(0)?.iter() {
                    w.set(p, p.get(0) as f64);
                }
                Ok(Value::None)
            })
            .variant(ProcKind::Gpu, cuda("init", INIT))
            .index_launch(),
    );
    app.task(
        TaskDecl::new("step")
            .arg("in", Privilege::Read, &["x"], &["ghost"])
            .arg("out", Privilege::WriteDiscard, &["y"], &["blocks"])
            .cpu(|ctx| {
                let r = ctx.read::<f64>(0, "x")?;
                let w = ctx.write::<f64>(1, "y")?;
                let g = ctx.bounds(0)?;
                for p in ctx.space(1)?.iter() {
                    let i = p.get(0);
                    let c = r.get(i);
                    let l = if i > g.lo.get(0) { r.get(i - 1) } else { c };
                    let h = if i < g.hi.get(0) { r.get(i + 1) } else { c };
                    w.set(p, (l + c + h) / 3.0);
                }
                Ok(Value::None)
            })
            .variant(ProcKind::Gpu, cuda("step", STEP))
            .index_launch(),
    );
    app.task(
        TaskDecl::new("copyback")
            .arg("in", Privilege::Read, &["y"], &["blocks"])
            .arg("out", Privilege::ReadWrite, &["x"], &["blocks"])
            .cpu(|ctx| {
                let r = ctx.read::<f64>(0, "y")?;
                let w = ctx.write::<f64>(1, "x")?;
                for p in ctx.space(0)?.iter() {
                    w.set(p, r.get(p));
                }
                Ok(Value::None)
            })
            .variant(ProcKind::Gpu, cuda("copyback", COPY))
            .index_launch(),
    );
    app.task(
        TaskDecl::new("sum")
            .arg("in", Privilege::Read, &["x"], &["blocks"])
            .all_kinds(|ctx| {
                let r = ctx.read::<f64>(0, "x")?;
                Ok(Value::F64(ctx.space(0)?.iter().map(|p| r.get(p)).sum()))
            })
            .index_launch(),
    );
    app
}

fn reference(n: i64, steps: usize) -> Vec<f64> {
    let mut x: Vec<f64> = (0..n).map(|i| i as f64).collect();
    for _ in 0..steps {
        let y: Vec<f64> = (0..n as usize)
            .map(|i| {
                let l = if i > 0 { x[i - 1] } else { x[i] };
                let h = if i + 1 < n as usize { x[i + 1] } else { x[i] };
                (l + x[i] + h) / 3.0
            })
            .collect();
        x = y;
    }
    x
}

fn run(mapper: &TableMapper, n: i64, blocks: i64) -> Result<(Vec<f64>, f64, Profile), String> {
    let mut rt = Runtime::from_spec(app(), "local", mapper).map_err(|e| e.to_string())?;
    let fs = FieldSpace::new().field::<f64>("x").field::<f64>("y");
    let grid = rt
        .create_region("grid", IndexSpace::range(0, n - 1), fs)
        .map_err(|e| e.to_string())?;
    let bp = rt
        .partition_equal(grid, "blocks", &[blocks])
        .map_err(|e| e.to_string())?;
    let subs: Vec<(Point, IndexSpace)> = (0..blocks)
        .map(|c| {
            let b = rt
                .forest()
                .region(rt.subregion(bp, c).unwrap())
                .unwrap()
                .space
                .bounds();
            (
                Point::p1(c),
                IndexSpace::range((b.lo.get(0) - 1).max(0), (b.hi.get(0) + 1).min(n - 1)),
            )
        })
        .collect();
    let gp = rt
        .partition_by_subspaces(grid, "ghost", subs)
        .map_err(|e| e.to_string())?;
    let dom = Rect::r1(0, blocks - 1);
    let h = |i| TaskHandle(i);
    let e = |e: RuntimeError| e.to_string();
    rt.index_launch(h(0), dom, &[bp.into()], &[]).map_err(e)?;
    for _ in 0..3 {
        rt.index_launch(h(1), dom, &[gp.into(), bp.into()], &[])
            .map_err(e)?;
        rt.index_launch(h(2), dom, &[bp.into(), bp.into()], &[])
            .map_err(e)?;
    }
    let total = rt
        .index_launch(h(3), dom, &[bp.into()], &[])
        .map_err(e)?
        .reduce(ReduceOp::Sum)
        .get_f64()
        .map_err(|e| e.to_string())?;
    let x = rt.read_field::<f64>(grid, "x").map_err(e)?;
    Ok((x, total, rt.profile()))
}

fn skip(name: &str) -> bool {
    match runtime::cuda::unavailable() {
        Some(why) => {
            println!("{name}: skipped: {why}");
            true
        }
        None => false,
    }
}

#[test]
fn nvrtc_variants_on_framebuffer_match_reference() {
    if skip("nvrtc_variants_on_framebuffer_match_reference") {
        return;
    }
    let m = TableMapper::new("gpu").kinds(&[ProcKind::Gpu, ProcKind::Cpu]);
    let (x, total, prof) = run(&m, 100_000, 8).unwrap();
    let r = reference(100_000, 3);
    assert_eq!(x, r);
    let want: f64 = r.chunks(12_500).map(|c| c.iter().sum::<f64>()).sum();
    assert_eq!(total, want);
    assert!(prof.tasks.iter().all(|t| t.proc.kind == ProcKind::Gpu));
}

struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

/// Random valid mappers on the real machine: results never change.
#[test]
fn mapping_invariance_on_real_gpus() {
    if skip("mapping_invariance_on_real_gpus") {
        return;
    }
    let n = 3000;
    let r = reference(n, 3);
    let cases: u64 = std::env::var("GPU_INVARIANCE_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(24);
    for seed in 1..=cases {
        let mut g = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        let mut m = TableMapper::new(&format!("random-{seed}"));
        let tasks = [("init", 1), ("step", 2), ("copyback", 2), ("sum", 1)];
        for (t, nargs) in tasks {
            let kind = if g.below(3) == 0 {
                ProcKind::Cpu
            } else {
                ProcKind::Gpu
            };
            m.task_kind.insert(t.to_string(), kind);
            for a in 0..nargs {
                let mems = match (kind, g.below(3)) {
                    (ProcKind::Gpu, 0) => vec![MemKind::Zcmem],
                    (ProcKind::Gpu, _) => vec![MemKind::Fbmem],
                    (_, 0) => vec![MemKind::Zcmem],
                    _ => vec![MemKind::Sysmem],
                };
                m.memories.insert((t.to_string(), a, kind), mems);
                m.layouts.insert(
                    (t.to_string(), a),
                    Layout {
                        soa: g.below(2) == 0,
                        c_order: g.below(2) == 0,
                        ..Layout::default()
                    },
                );
            }
        }
        let (x, _, _) = run(&m, n, 1 + g.below(6) as i64)
            .unwrap_or_else(|e| panic!("seed {seed} ({:?}): {e}", m.task_kind));
        assert_eq!(x, r, "seed {seed}: mapping {:?}", m.task_kind);
    }
    println!("mapping_invariance_on_real_gpus: {cases} random mappers matched the reference");
}
