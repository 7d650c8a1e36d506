//! `sim:local`: a simulator description of this host, measured once and cached.
//!
//! [`measure`] times the apps' own kernels and the runtime on this machine: the tile GEMM
//! (faer) by size on one core (the CPU processors' `curve`) and on all cores (the OMP
//! processor's), a one-core and an all-core memory copy (the SYSMEM bandwidths), the end-to-end
//! cost of an empty task (`launch_us`), the fan-out of a tiny GEMM over the cores (the OMP
//! `launch_us`) and the control thread's cost per task of a simulated run (`map_us`). Each
//! number is the best of several runs; single-thread numbers count the thread's time on a CPU
//! (where Linux reports it), so other load on the host affects them little. The
//! description has `local`'s shape (one CPU processor per core, one OMP processor over all
//! cores, one SYSMEM). [`ensure_local_sim`] writes it to [`runtime::machine::local_sim_path`]
//! unless it is there already; `sim:local` then reads it.

use crate::Precision;
use runtime::{App, MachineDesc, Runtime, TaskDecl, Value};
use std::path::PathBuf;
use std::time::Instant;

/// Measured numbers of this host.
#[derive(Clone, Debug)]
pub struct HostNumbers {
    /// CPU processors of `local` (one per core).
    pub cores: usize,
    /// `[flops, GFLOP/s]` of one-tile GEMMs on one core, ascending.
    pub cpu_curve: Vec<(f64, f64)>,
    /// The same on all cores.
    pub omp_curve: Vec<(f64, f64)>,
    /// Bytes copied per second by one core (read + write counted once each), GB/s.
    pub copy_gbs: f64,
    /// The same with every core copying its own buffer, GB/s in all.
    pub copy_all_gbs: f64,
    /// An empty task end to end, microseconds.
    pub task_us: f64,
    /// Fanning a GEMM out over all cores (a tiny one on all cores minus on one), microseconds.
    pub fanout_us: f64,
    /// The control thread's time per task of a simulated run of empty tasks, microseconds.
    pub map_us: f64,
}

/// Best of `reps` timings of `f`, seconds.
fn best_of(reps: usize, mut f: impl FnMut()) -> f64 {
    let mut best = f64::INFINITY;
    for _ in 0..reps.max(1) {
        let t = Instant::now();
        f();
        best = best.min(t.elapsed().as_secs_f64());
    }
    best
}

/// CPU time of the calling thread in seconds (Linux: `/proc/thread-self/schedstat`), if known:
/// single-thread measurements use it, so time the thread spent preempted by other load does
/// not count.
fn thread_cpu_s() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: f64 = s.split_whitespace().next()?.parse().ok()?;
    Some(ns / 1e9)
}

/// Best of `reps` single-thread timings of `f` in seconds: on-CPU time where the system reports
/// it, else wall time.
fn best_on_cpu(reps: usize, mut f: impl FnMut()) -> f64 {
    let mut best = f64::INFINITY;
    for _ in 0..reps.max(1) {
        let (c0, t0) = (thread_cpu_s(), Instant::now());
        f();
        let wall = t0.elapsed().as_secs_f64();
        let s = match (c0, thread_cpu_s()) {
            (Some(a), Some(b)) if b > a => (b - a).min(wall),
            _ => wall,
        };
        best = best.min(s);
    }
    best
}

/// Copy bandwidth of `threads` cores, each copying its own 32 MiB buffer, GB/s (read + write).
fn copy_bandwidth(threads: usize, reps: usize) -> f64 {
    let len = 4 << 20;
    let mut bufs: Vec<(Vec<f64>, Vec<f64>)> = (0..threads.max(1))
        .map(|i| (vec![i as f64; len], vec![0.0; len]))
        .collect();
    let s = best_of(reps, || {
        std::thread::scope(|sc| {
            for (src, dst) in bufs.iter_mut() {
                sc.spawn(move || dst.copy_from_slice(src));
            }
        });
    });
    let sum: f64 = bufs.iter().map(|b| b.1[len / 2]).sum();
    std::hint::black_box(sum);
    2.0 * (threads.max(1) * len * 8) as f64 / s / 1e9
}

/// Measures this host (a few seconds; best of `reps` for each number).
pub fn measure(reps: usize) -> Result<HostNumbers, String> {
    let local = MachineDesc::local();
    let cores = local
        .procs
        .iter()
        .filter(|p| p.id.kind == runtime::mapper_core::ProcKind::Cpu)
        .count()
        .max(1);
    let sizes = [64usize, 128, 256, 512];
    let curve = |threads: usize| -> Vec<(f64, f64)> {
        sizes
            .iter()
            .map(|&n| {
                let flops = 2.0 * (n as f64).powi(3);
                if threads > 1 {
                    let (_, g) =
                        crate::matmul::common::gemm_baseline(n, Precision::F64, threads, reps);
                    return (flops, g);
                }
                let (a, b) = crate::matmul::common::inputs::<f64>(n, 1);
                let mut c = vec![0.0f64; n * n];
                let s = best_on_cpu(reps, || {
                    crate::matmul::common::gemm_whole(&a, &b, &mut c, n, 1);
                });
                std::hint::black_box(&c);
                (flops, flops / s / 1e9)
            })
            .collect()
    };
    let cpu_curve = curve(1);
    let omp_curve = curve(cores);
    let copy_gbs = {
        let len = 4 << 20;
        let (src, mut dst) = (vec![1.0f64; len], vec![0.0f64; len]);
        let s = best_on_cpu(reps, || dst.copy_from_slice(&src));
        std::hint::black_box(&dst);
        2.0 * (len * 8) as f64 / s / 1e9
    };
    let copy_all_gbs = copy_bandwidth(cores, reps);
    // Fanning a GEMM out over the cores: a tiny GEMM on all cores against one core.
    let tiny = |threads| crate::matmul::common::gemm_baseline(16, Precision::F64, threads, reps).0;
    let fanout_us = (tiny(cores) - tiny(1)).max(0.0) * 1e6;
    // Empty tasks on `local`, end to end.
    let mut app = App::new("empty");
    let t = app.task(TaskDecl::new("empty").cpu(|_| Ok(Value::None)));
    let mut rt = Runtime::with_defaults(app, "local").map_err(|e| e.to_string())?;
    let n = 5000;
    let start = Instant::now();
    for _ in 0..n {
        rt.launch(t, &[], &[]).map_err(|e| e.to_string())?;
    }
    rt.wait_all().map_err(|e| e.to_string())?;
    let task_us = start.elapsed().as_secs_f64() * 1e6 / f64::from(n);
    // The control thread per task: the same loop simulated (no task body runs, so the wall
    // time is dependence analysis and mapping).
    let mut map_us = f64::INFINITY;
    for _ in 0..reps.max(1) {
        let mut app = App::new("empty");
        let t = app.task(TaskDecl::new("empty").cpu(|_| Ok(Value::None)));
        let mut rt = Runtime::with_defaults(app, "sim:devbox").map_err(|e| e.to_string())?;
        let start = Instant::now();
        for _ in 0..n {
            rt.launch(t, &[], &[]).map_err(|e| e.to_string())?;
        }
        rt.wait_all().map_err(|e| e.to_string())?;
        map_us = map_us.min(start.elapsed().as_secs_f64() * 1e6 / f64::from(n));
    }
    Ok(HostNumbers {
        cores,
        cpu_curve,
        omp_curve,
        copy_gbs,
        copy_all_gbs,
        task_us,
        fanout_us,
        map_us,
    })
}

fn curve_text(c: &[(f64, f64)]) -> String {
    let pts: Vec<String> = c
        .iter()
        .map(|(f, g)| format!("[{f:.3e}, {g:.1}]"))
        .collect();
    format!("[{}]", pts.join(", "))
}

impl HostNumbers {
    /// The machine description (TOML) of this host.
    pub fn toml(&self) -> String {
        let sys = MachineDesc::local()
            .mems
            .first()
            .map_or(1 << 30, |m| m.capacity);
        let peak = |c: &[(f64, f64)]| c.iter().map(|x| x.1).fold(1.0f64, f64::max);
        let b = self.copy_gbs / 2.0;
        let ob = (self.copy_all_gbs / 2.0).max(b);
        format!(
            "# This host, measured by `mapper calibrate-host`: the apps' tile GEMM by size on one core\n\
             # (CPU curve) and on all {c} cores (OMP curve), memory copies on one core and on all\n\
             # cores, an empty task end to end (CPU launch_us), a tiny GEMM's fan-out over the cores\n\
             # (OMP launch_us) and the control thread's time per task of a simulated run (map_us).\n\
             description = \"this host ({c} cores), measured\"\nnodes = 1\nmap_us = {mu:.2}\n\n\
             [[processor]]\nkind = \"CPU\"\ncount = {c}\ngflops = {g:.1}\nlaunch_us = {t:.2}\ncurve = {cc}\n\n\
             [[processor]]\nkind = \"OMP\"\ncount = 1\nthreads = {c}\ngflops = {og:.1}\nlaunch_us = {f:.2}\ncurve = {oc}\n\n\
             [[memory]]\nkind = \"SYSMEM\"\ncapacity = {sys}\nbandwidth = {b:.1}\n\n\
             [[access]]\nproc = \"CPU\"\nmem = \"SYSMEM\"\nbandwidth = {b:.1}\nlatency_us = 0.1\n\n\
             [[access]]\nproc = \"OMP\"\nmem = \"SYSMEM\"\nbandwidth = {ob:.1}\nlatency_us = 0.1\n\n\
             [[copy]]\nbetween = [\"SYSMEM\", \"SYSMEM\"]\nbandwidth = {b:.1}\nlatency_us = 1.0\n",
            c = self.cores,
            mu = self.map_us,
            g = peak(&self.cpu_curve),
            t = self.task_us,
            cc = curve_text(&self.cpu_curve),
            og = peak(&self.omp_curve),
            f = self.fanout_us.max(self.task_us),
            oc = curve_text(&self.omp_curve),
        )
    }
}

/// The cached description of this host: measured and written now if it is not there yet (or
/// `force`), else reused. Returns its path.
pub fn ensure_local_sim(force: bool) -> Result<PathBuf, String> {
    let path = runtime::machine::local_sim_path();
    if path.exists() && !force {
        return Ok(path);
    }
    eprintln!(
        "measuring this host for sim:local (a few seconds); cached in {}",
        path.display()
    );
    let h = measure(9)?;
    let text = h.toml();
    // The description must have `local`'s shape, or `sim:local` would refuse it.
    let parsed = runtime::machine::file::parse_str(&text, "measured host", "sim:local")?;
    if parsed.shape() != MachineDesc::local().shape() {
        return Err(format!(
            "the measured description does not have local's shape ({:?} vs {:?}); this host's processors are not one CPU per core and one OMP processor",
            parsed.shape(),
            MachineDesc::local().shape()
        ));
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let tmp = path.with_extension("toml.tmp");
    std::fs::write(&tmp, &text).map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, &path).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}
