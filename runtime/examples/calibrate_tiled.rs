//! Simulator calibration on this machine: measures the host (GEMM kernel throughput per core,
//! memory bandwidth, per-task overhead), then runs the tiled GEMM program with several mappers
//! for real on `local` (CPU executor, median of `--reps` runs) and simulated on a description of
//! this machine, and reports the Spearman rank correlation of the two orderings.
//!
//! ```text
//! cargo run --release -p runtime --example calibrate_tiled -- --machine sim:devbox
//! cargo run --release -p runtime --example calibrate_tiled -- --describe host.toml
//! ```
//!
//! With `--describe FILE`, the measured host numbers are written as a machine description
//! (`local`'s shape: one CPU processor per core, one OMP processor over all cores, one SYSMEM)
//! and the comparison simulates that file.

#[path = "../tests/programs/tiled_gemm.rs"]
mod tiled_gemm;

use clap::Parser;
use runtime::mapper_core::interp::Interpreted;
use runtime::*;
use std::time::Instant;

#[derive(Parser)]
#[command(about = "Compare simulated and measured times of mappers (Spearman rank correlation)")]
struct Args {
    /// The simulated description of this machine.
    #[arg(long, default_value = "sim:devbox")]
    machine: String,
    /// Matrix size.
    #[arg(long, default_value_t = 512)]
    n: i64,
    /// Tiles per dimension.
    #[arg(long, default_value_t = 8)]
    tiles: i64,
    /// Real runs per mapper (the median is reported).
    #[arg(long, default_value_t = 5)]
    reps: usize,
    /// Only measure the host (throughput, bandwidth, overhead).
    #[arg(long)]
    host_only: bool,
    /// Write the measured description of this host here and simulate it (overrides --machine).
    #[arg(long)]
    describe: Option<std::path::PathBuf>,
}

/// Measured host numbers.
struct Host {
    cores: usize,
    gflops: f64,
    copy_gbs: f64,
    fanout_us: f64,
    task_us: f64,
    map_us: f64,
}

impl Host {
    fn toml(&self) -> String {
        let m = MachineDesc::local();
        let sys = m.mems.first().map_or(1 << 30, |x| x.capacity);
        format!(
            "# Measured by `cargo run --release -p runtime --example calibrate_tiled -- --describe FILE`.\n\
             description = \"this host, measured\"\nnodes = 1\nmap_us = {mu:.2}\n\n\
             [[processor]]\nkind = \"CPU\"\ncount = {c}\ngflops = {g:.2}\nlaunch_us = {t:.2}\n\n\
             [[processor]]\nkind = \"OMP\"\ncount = 1\nthreads = {c}\ngflops = {og:.2}\nlaunch_us = {f:.2}\n\n\
             [[memory]]\nkind = \"SYSMEM\"\ncapacity = {sys}\nbandwidth = {b:.1}\n\n\
             [[access]]\nproc = \"CPU\"\nmem = \"SYSMEM\"\nbandwidth = {b:.1}\nlatency_us = 0.1\n\n\
             [[access]]\nproc = \"OMP\"\nmem = \"SYSMEM\"\nbandwidth = {ob:.1}\nlatency_us = 0.1\n\n\
             [[copy]]\nbetween = [\"SYSMEM\", \"SYSMEM\"]\nbandwidth = {b:.1}\nlatency_us = 1.0\n",
            mu = self.map_us,
            c = self.cores,
            g = self.gflops,
            t = self.task_us,
            og = self.gflops * self.cores as f64,
            f = self.fanout_us,
            b = self.copy_gbs / 2.0,
            ob = self.copy_gbs / 2.0 * self.cores.min(4) as f64,
        )
    }
}

/// The mappers compared: name and DSL text. `{T}` is replaced by the tile count.
const MAPPERS: &[(&str, &str)] = &[
    ("serial", "Task * CPU;\nmcpu = Machine(CPU);\ndef one(Task t) {\n    return mcpu[0, 0];\n}\nIndexTaskMap gemm one;\n"),
    ("limit1", "Task * CPU;\nInstanceLimit gemm 1;\n"),
    ("skew7of8", "Task * CPU;\nmcpu = Machine(CPU);\ndef skew(Task t) {\n    ip = t.ipoint;\n    return ip[0] * {T} + ip[1] < {T} * {T} * 7 / 8 ? mcpu[0, 0] : mcpu[0, 1];\n}\nIndexTaskMap gemm skew;\n"),
    ("skew3of4", "Task * CPU;\nmcpu = Machine(CPU);\ndef skew(Task t) {\n    ip = t.ipoint;\n    return ip[0] * {T} + ip[1] < {T} * {T} * 3 / 4 ? mcpu[0, 0] : mcpu[0, 1];\n}\nIndexTaskMap gemm skew;\n"),
    ("skew5of8", "Task * CPU;\nmcpu = Machine(CPU);\ndef skew(Task t) {\n    ip = t.ipoint;\n    return ip[0] * {T} + ip[1] < {T} * {T} * 5 / 8 ? mcpu[0, 0] : mcpu[0, 1];\n}\nIndexTaskMap gemm skew;\n"),
    ("cpu_blocked", "Task * CPU;\n"),
    ("cpu_cyclic", "Task * CPU;\nmcpu = Machine(CPU);\ndef cyc(Task t) {\n    ip = t.ipoint;\n    return mcpu[0, (ip[0] + ip[1]) % 2];\n}\nIndexTaskMap gemm cyc;\n"),
    ("omp", "Task * OMP;\n"),
    ("default", ""),
];

fn ranks(v: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by(|&a, &b| v[a].total_cmp(&v[b]));
    let mut r = vec![0.0; v.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && v[idx[j + 1]] == v[idx[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            r[k] = avg;
        }
        i = j + 1;
    }
    r
}

/// Spearman's rho: the Pearson correlation of the ranks (ties get average ranks).
fn spearman(a: &[f64], b: &[f64]) -> f64 {
    let (ra, rb) = (ranks(a), ranks(b));
    let n = ra.len() as f64;
    let (ma, mb) = (ra.iter().sum::<f64>() / n, rb.iter().sum::<f64>() / n);
    let (mut num, mut da, mut db) = (0.0, 0.0, 0.0);
    for (x, y) in ra.iter().zip(&rb) {
        num += (x - ma) * (y - mb);
        da += (x - ma) * (x - ma);
        db += (y - mb) * (y - mb);
    }
    if da == 0.0 || db == 0.0 {
        return 0.0;
    }
    num / (da * db).sqrt()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

fn host(a: &Args) -> Result<Host, String> {
    // GEMM kernel: the tiled program on one core (serial mapper), flops / time.
    let m = Interpreted::from_text("serial", &MAPPERS[0].1.replace("{T}", "8"))
        .map_err(|d| format!("{d:?}"))?;
    let mut best = f64::MAX;
    for _ in 0..a.reps {
        let o = tiled_gemm::run_with("local", &m, a.n, a.tiles, 1, false, false)?;
        best = best.min(o.ns as f64);
    }
    let flops = 2.0 * (a.n as f64).powi(3);
    println!(
        "gemm kernel, one core: {:.2} GFLOP/s ({} tasks of {}^3 in {:.3} ms)",
        flops / best,
        a.tiles * a.tiles * a.tiles,
        a.n / a.tiles,
        best / 1e6
    );
    // Memory bandwidth of one core: copy 64 MiB.
    let src = vec![1.0f64; 8 << 20];
    let mut dst = vec![0.0f64; 8 << 20];
    let mut bw = 0.0f64;
    for _ in 0..a.reps {
        let t = Instant::now();
        dst.copy_from_slice(&src);
        let s = t.elapsed().as_secs_f64();
        bw = bw.max(2.0 * (src.len() * 8) as f64 / s / 1e9);
    }
    println!(
        "memory, one core: {bw:.1} GB/s (read + write of 64 MiB), checksum {}",
        dst[dst.len() / 2]
    );
    // Fanning a task out over the cores (what an OMP task pays per launch).
    let cores = MachineDesc::local()
        .procs
        .iter()
        .filter(|p| p.id.kind == runtime::mapper_core::ProcKind::Cpu)
        .count();
    let start = Instant::now();
    for _ in 0..1000 {
        std::thread::scope(|s| {
            for i in 0..cores {
                s.spawn(move || std::hint::black_box(i));
            }
        });
    }
    let fanout_us = start.elapsed().as_secs_f64() * 1e6 / 1000.0;
    println!("{cores}-thread fan-out: {fanout_us:.2} us");
    // Per-task overhead: empty tasks on local.
    let mut app = App::new("empty");
    let t = app.task(TaskDecl::new("empty").cpu(|_| Ok(Value::None)));
    let mut rt = Runtime::with_defaults(app, "local").map_err(|e| e.to_string())?;
    let start = Instant::now();
    for _ in 0..10_000 {
        rt.launch(t, &[], &[]).map_err(|e| e.to_string())?;
    }
    rt.wait_all().map_err(|e| e.to_string())?;
    let task_us = start.elapsed().as_secs_f64() * 1e6 / 10_000.0;
    println!("runtime, empty task: {task_us:.2} us per task");
    // Mapping a gemm point task (3 region arguments): a simulated run is all mapping.
    let mut map_us = f64::MAX;
    for _ in 0..a.reps {
        let start = Instant::now();
        let o = tiled_gemm::run_with("sim:devbox", &m, a.n, a.tiles, 1, false, false)?;
        map_us = map_us.min(start.elapsed().as_secs_f64() * 1e6 / o.tasks.max(1) as f64);
    }
    println!("runtime, mapping a gemm task: {map_us:.2} us");
    Ok(Host {
        cores,
        gflops: flops / best,
        copy_gbs: bw,
        fanout_us,
        task_us,
        map_us,
    })
}

fn run(a: &Args) -> Result<(), String> {
    let h = host(a)?;
    if a.host_only {
        print!("\n{}", h.toml());
        return Ok(());
    }
    let machine = match &a.describe {
        Some(p) => {
            std::fs::write(p, h.toml())
                .map_err(|e| format!("cannot write {}: {e}", p.display()))?;
            p.display().to_string()
        }
        None => a.machine.clone(),
    };
    let t = a.tiles.to_string();
    let mut measured = Vec::new();
    let mut simulated = Vec::new();
    println!();
    println!(
        "| mapper | measured on local (median of {}), ms | simulated on {}, ms |",
        a.reps, machine
    );
    println!("|---|---|---|");
    for (name, text) in MAPPERS {
        let m = Interpreted::from_text(name, &text.replace("{T}", &t))
            .map_err(|d| format!("{name}: {d:?}"))?;
        let mut times = Vec::new();
        for _ in 0..a.reps {
            let o = tiled_gemm::run_with("local", &m, a.n, a.tiles, 1, true, false)?;
            if o.max_err != 0.0 {
                return Err(format!("{name}: wrong result (max error {})", o.max_err));
            }
            times.push(o.ns as f64 / 1e6);
        }
        let real = median(times);
        let sim =
            tiled_gemm::run_with(&machine, &m, a.n, a.tiles, 1, false, false)?.ns as f64 / 1e6;
        println!("| {name} | {real:.2} | {sim:.2} |");
        measured.push(real);
        simulated.push(sim);
    }
    println!();
    println!(
        "Spearman rank correlation (simulated vs measured, {} mappers): {:.3}",
        MAPPERS.len(),
        spearman(&simulated, &measured)
    );
    Ok(())
}

fn main() {
    let a = Args::parse();
    if let Err(e) = run(&a) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
