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

/// One framebuffer instance written by a GPU kernel and by host code at the same time: a task
/// whose two arguments are the two halves of one region, both mapped to the FBMEM instance an
/// earlier task made for the whole region. A kernel writes the first half while host code (the
/// task body, through the instance's host mirror) writes the second. The halves are disjoint,
/// so nothing orders the two writes; each must reach the device and the host reads.
///
/// Before host writes were uploaded point by point, both orders lost data: with the kernel
/// launched first, the host access downloaded the whole instance while the kernel was still
/// running and uploaded it all when the task ended, putting the first half back to its old
/// value; with the host access first, handing out the device pointer uploaded the mirror and
/// forgot the host writes, so the values written afterwards never reached the device.
#[cfg(feature = "cuda")]
mod shared_instance {
    use super::*;
    use runtime::cuda::{KArg, Kernel};
    use runtime::mapper_core::{Placement, ProcId};
    use std::sync::Arc;

    /// `x = v` over one argument (the `Variant::Cuda` convention).
    const FILL: &str = r#"
extern "C" __global__ void fill(long long lo, long long hi, double* x, long long sx, long long n,
                                double v) {
    long long t = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (lo + t <= hi) x[t * sx] = v;
}"#;

    /// `y = x` over two arguments.
    const COPY_XY: &str = r#"
extern "C" __global__ void copy_xy(long long ilo, long long ihi, const double* x, long long sx,
                                   long long olo, long long ohi, double* y, long long sy,
                                   long long n) {
    long long t = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (olo + t <= ohi) y[t * sy] = x[t * sx];
}"#;

    /// Spins for `cycles` clock cycles, then `x = v` over `n` points: still running when the
    /// host side of the task starts.
    const SPIN_WRITE: &str = r#"
extern "C" __global__ void spin_write(double* x, long long sx, long long n, double v,
                                      long long cycles) {
    long long t = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    long long start = clock64();
    while (clock64() - start < cycles) { }
    if (t < n) x[t * sx] = v;
}"#;

    /// Points per half: 256 blocks of 256 threads, one wave on any recent GPU.
    const HALF: i64 = 1 << 16;

    /// The body of `split` on a real GPU: a kernel writes 1 over argument 0 and host code
    /// writes 2 over argument 1, the host access taken before the kernel is launched when
    /// scalar 0 is 1, after it otherwise.
    fn split(ctx: &TaskCtx) -> Result<Value, TaskError> {
        let gpu = ctx
            .cuda_gpu()
            .ok_or_else(|| TaskError("`split` needs a real GPU".into()))?;
        let k = Kernel::get(&gpu, SPIN_WRITE, "spin_write").map_err(TaskError)?;
        let launch = || -> Result<(), TaskError> {
            let d = ctx.device_field::<f64>(0, "x")?;
            let n = d.bounds.volume();
            let sx = (d.strides[0] * d.elem_stride / d.elem) as i64;
            let args = [
                KArg::Ptr(d.ptr),
                KArg::I64(sx),
                KArg::I64(n as i64),
                KArg::F64(1.0),
                // About 50 ms at 2 GHz: far longer than downloading a half.
                KArg::I64(100_000_000),
            ];
            // SAFETY: `d` covers argument 0's `n` points at stride `sx`.
            unsafe { k.launch(n.div_ceil(256) as u32, 256, &args) }.map_err(TaskError)
        };
        let host_first = ctx.i64(0)? == 1;
        if !host_first {
            launch()?;
        }
        let w = ctx.write::<f64>(1, "x")?;
        if host_first {
            launch()?;
        }
        for p in ctx.space(1)?.iter() {
            w.set(p, 2.0);
        }
        Ok(Value::None)
    }

    fn app() -> App {
        let mut app = App::new("shared_instance");
        app.task(
            TaskDecl::new("init")
                .arg("v", Privilege::WriteDiscard, &["x"], &["v"])
                .variant(ProcKind::Gpu, cuda("fill", FILL)),
        );
        app.task(
            TaskDecl::new("split")
                .arg("a", Privilege::ReadWrite, &["x"], &["halves"])
                .arg("b", Privilege::ReadWrite, &["x"], &["halves"])
                .host(ProcKind::Gpu, split),
        );
        app.task(
            TaskDecl::new("copy_xy")
                .arg("in", Privilege::Read, &["x"], &["v"])
                .arg("out", Privilege::WriteDiscard, &["y"], &["v"])
                .variant(ProcKind::Gpu, cuda("copy_xy", COPY_XY)),
        );
        app
    }

    /// Runs init (x = -1 on the GPU), split, and copy_xy (y = x on the GPU, so that y shows
    /// what the device holds); returns x as the host reads it and y.
    fn run(host_first: bool) -> Result<(Vec<f64>, Vec<f64>), String> {
        let e = |e: RuntimeError| e.to_string();
        let mut m = TableMapper::new("gpu0").kinds(&[ProcKind::Gpu]);
        // Every task on GPU 0, so that split's halves find init's instance in its FBMEM.
        m.place = Some(Arc::new(|_, _, _, kind| {
            Ok(Placement::Proc(ProcId {
                node: 0,
                kind,
                index: 0,
            }))
        }));
        let mut rt = Runtime::from_spec(app(), "local", &m).map_err(e)?;
        let fs = FieldSpace::new().field::<f64>("x").field::<f64>("y");
        let v = rt
            .create_region("v", IndexSpace::range(0, 2 * HALF - 1), fs)
            .map_err(e)?;
        let halves = rt.partition_equal(v, "halves", &[2]).map_err(e)?;
        let (a, b) = (
            rt.subregion(halves, 0).map_err(e)?,
            rt.subregion(halves, 1).map_err(e)?,
        );
        let [init, split, copy_xy] = [0, 1, 2].map(TaskHandle);
        rt.launch(init, &[v.into()], &[Value::F64(-1.0)])
            .map_err(e)?;
        rt.launch(
            split,
            &[a.into(), b.into()],
            &[Value::I64(host_first as i64)],
        )
        .map_err(e)?;
        rt.launch(copy_xy, &[v.into(), v.into()], &[]).map_err(e)?;
        let x = rt.read_field::<f64>(v, "x").map_err(e)?;
        let y = rt.read_field::<f64>(v, "y").map_err(e)?;
        Ok((x, y))
    }

    #[test]
    fn kernel_and_host_write_halves_of_one_framebuffer_instance() {
        if skip("kernel_and_host_write_halves_of_one_framebuffer_instance") {
            return;
        }
        let want: Vec<f64> = (0..2 * HALF)
            .map(|i| if i < HALF { 1.0 } else { 2.0 })
            .collect();
        for host_first in [false, true] {
            let (x, y) = run(host_first).unwrap();
            let order = if host_first {
                "host access first"
            } else {
                "kernel first"
            };
            let bad = |v: &[f64]| v.iter().zip(&want).filter(|(a, b)| a != b).count();
            assert_eq!(bad(&y), 0, "{order}: points wrong on the device");
            assert_eq!(bad(&x), 0, "{order}: points wrong as the host reads them");
        }
    }
}
