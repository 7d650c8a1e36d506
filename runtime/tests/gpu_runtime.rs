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

#[path = "programs/stencil1d.rs"]
mod stencil1d;

use stencil1d::reference;

/// The stencil with NVRTC kernels as the GPU variants of `init`, `step` and `copyback` (`sum`
/// stays a host function on every kind), on `local`.
fn run(mapper: &TableMapper, n: i64, blocks: i64) -> Result<(Vec<f64>, f64, Profile), String> {
    let gpu = |task: &str| match task {
        "init" => Some(cuda("init", INIT)),
        "step" => Some(cuda("step", STEP)),
        "copyback" => Some(cuda("copyback", COPY)),
        _ => None,
    };
    stencil1d::run(stencil1d::app(&gpu), "local", mapper, n, blocks)
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
