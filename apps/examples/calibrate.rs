//! Simulator calibration with the matrix-multiplication apps: every app runs with several
//! mappers that differ on a CPU machine (expert, default, everything on one core, a 3:1 skew,
//! row-cyclic and row-blocked placement, the OMP processor, an instance limit of 1) for real on
//! `local` (best of `--reps`, results verified) and simulated on a description of this machine;
//! prints measured and simulated times and the Spearman rank correlation of the two orderings
//! per app, their mean, and pooled over all (app, mapper) pairs.
//!
//! ```text
//! nice -n -15 cargo run --release -p apps --example calibrate -- --machine sim:devbox
//! cargo run --release -p apps --example calibrate -- --apps summa,cannon --n 512 --reps 5
//! ```

use apps::{Application, MapperChoice, Precision, Problem, RunConfig};
use clap::Parser;

#[derive(Parser)]
#[command(about = "Measured against simulated times of the apps under several mappers (Spearman)")]
struct Args {
    /// The simulated description of this machine.
    #[arg(long, default_value = "sim:devbox")]
    machine: String,
    /// The real machine.
    #[arg(long, default_value = "local")]
    real: String,
    /// Value of each app's parameter `n` (the matrix order of the matmul apps, rounded up to
    /// the grid; the stencil's grid side), over the `small` preset.
    #[arg(long, default_value_t = 768)]
    n: i64,
    /// Real runs per (app, mapper), interleaved; the best is reported.
    #[arg(long, default_value_t = 3)]
    reps: usize,
    /// Comma-separated apps (default: all).
    #[arg(long)]
    apps: Option<String>,
    /// Only measure the tile-GEMM kernel (faer) on one thread and on all cores, by size: the
    /// numbers for the CPU and OMP `curve`s of the machine description.
    #[arg(long)]
    host: bool,
}

/// Prints `[flops, GFLOP/s]` pairs of one-tile GEMMs on one thread and on all cores.
fn measure_host() {
    let cores = apps::matmul::common::threads();
    for threads in [1, cores] {
        let pts: Vec<String> = [64usize, 128, 256, 384, 512, 768]
            .iter()
            .map(|&n| {
                let (_, g) = apps::matmul::common::gemm_baseline(n, Precision::F64, threads, 7);
                format!("[{:.3e}, {g:.1}]", 2.0 * (n as f64).powi(3))
            })
            .collect();
        println!("{threads} thread(s): curve = [{}]", pts.join(", "));
    }
}

/// Mapper variants that use `*` task names, so they apply to every app.
const VARIANTS: &[(&str, &str)] = &[
    (
        "serial",
        "Task * CPU;\nm = Machine(CPU);\ndef one(Task task) { return m[0, 0]; }\nIndexTaskMap * one;\nSingleTaskMap * one;\n",
    ),
    (
        "skew3of4",
        "Task * CPU;\nm = Machine(CPU);\ndef skew(Task task) {\n    ip = task.ipoint;\n    is = task.ispace;\n    lin = ip[0] * is[1] + ip[1];\n    return lin * 4 < 3 * is[0] * is[1] ? m[0, 0] : m[0, m.size[1] - 1];\n}\nIndexTaskMap * skew;\n",
    ),
    (
        "rows_cyclic",
        "Task * CPU;\nm = Machine(CPU);\ndef cyc(Task task) { return m[0, task.ipoint[0] % m.size[1]]; }\nIndexTaskMap * cyc;\n",
    ),
    (
        "rows_blocked",
        "Task * CPU;\nm = Machine(CPU);\ndef blk(Task task) { return m[0, task.ipoint[0] * m.size[1] / task.ispace[0]]; }\nIndexTaskMap * blk;\n",
    ),
    ("omp", "Task * OMP,CPU;\n"),
    ("limit1", "Task * CPU;\nInstanceLimit * 1;\n"),
];

fn choices() -> Vec<(String, MapperChoice)> {
    let mut v = vec![
        ("expert".to_string(), MapperChoice::Expert),
        ("default".to_string(), MapperChoice::Default),
    ];
    for (name, src) in VARIANTS {
        v.push((
            name.to_string(),
            MapperChoice::Text {
                name: format!("{name}.mapper"),
                source: src.to_string(),
            },
        ));
    }
    v
}

/// Ranks (1-based) with ties given their average rank.
fn ranks(x: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..x.len()).collect();
    idx.sort_by(|&a, &b| x[a].total_cmp(&x[b]));
    let mut r = vec![0.0; x.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && x[idx[j + 1]] == x[idx[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for k in i..=j {
            r[idx[k]] = avg;
        }
        i = j + 1;
    }
    r
}

/// Spearman rank correlation (Pearson correlation of the ranks).
fn spearman(a: &[f64], b: &[f64]) -> f64 {
    let (ra, rb) = (ranks(a), ranks(b));
    let n = ra.len() as f64;
    let (ma, mb) = (ra.iter().sum::<f64>() / n, rb.iter().sum::<f64>() / n);
    let cov: f64 = ra.iter().zip(&rb).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let va: f64 = ra.iter().map(|x| (x - ma).powi(2)).sum();
    let vb: f64 = rb.iter().map(|y| (y - mb).powi(2)).sum();
    if va == 0.0 || vb == 0.0 {
        return f64::NAN;
    }
    cov / (va * vb).sqrt()
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn run_once(
    app: &dyn Application,
    machine: &str,
    n: i64,
    mapper: &MapperChoice,
) -> Result<f64, String> {
    let mut problem = Problem::preset(app, "small")?;
    problem.set(app, "n", n)?;
    let cfg = RunConfig {
        machine: machine.to_string(),
        problem,
        mapper: mapper.clone(),
        profile: false,
    };
    let r = apps::run(app, &cfg).map_err(|e| e.to_string())?;
    if !r.verified() {
        return Err(format!(
            "{} with {}: wrong result ({})",
            r.app,
            r.mapper,
            r.outcome.verification.note()
        ));
    }
    Ok(r.time_s)
}

fn main() {
    let a = Args::parse();
    if a.host {
        measure_host();
        return;
    }
    let all = apps::apps();
    let selected: Vec<&dyn Application> = match &a.apps {
        Some(list) => {
            let mut v = Vec::new();
            for name in list.split(',') {
                match apps::find(name.trim()) {
                    Ok(x) => v.push(x),
                    Err(e) => {
                        eprintln!("error: {e}");
                        std::process::exit(2);
                    }
                }
            }
            v
        }
        None => all,
    };
    let mappers = choices();
    println!(
        "calibration: real `{}` (best of {}) vs `{}`, N = {}, load average before: {}",
        a.real,
        a.reps,
        a.machine,
        a.n,
        load_average()
    );
    let start = std::time::Instant::now();
    let (mut pooled_m, mut pooled_s) = (Vec::new(), Vec::new());
    let mut per_app = Vec::new();
    for app in &selected {
        // Simulated times (deterministic: one run each).
        let mut sim = Vec::new();
        let mut meas = vec![f64::INFINITY; mappers.len()];
        let mut failed = vec![None; mappers.len()];
        for (_, m) in &mappers {
            sim.push(run_once(*app, &a.machine, a.n, m));
        }
        // Real runs, interleaved over the mappers so that load hits them alike.
        for _ in 0..a.reps {
            for (i, (_, m)) in mappers.iter().enumerate() {
                match run_once(*app, &a.real, a.n, m) {
                    Ok(t) => meas[i] = meas[i].min(t),
                    Err(e) => failed[i] = Some(e),
                }
            }
        }
        println!("\n{}:", app.name());
        println!("| mapper | measured, ms | simulated, ms |");
        println!("|---|---|---|");
        let (mut xs, mut ys) = (Vec::new(), Vec::new());
        for (i, (name, _)) in mappers.iter().enumerate() {
            match (&sim[i], &failed[i]) {
                (Ok(s), None) => {
                    println!("| {name} | {:.2} | {:.2} |", meas[i] * 1e3, s * 1e3);
                    xs.push(meas[i]);
                    ys.push(*s);
                }
                (Err(e), _) | (_, Some(e)) => println!("| {name} | failed: {e} | |"),
            }
        }
        let rho = spearman(&xs, &ys);
        println!("Spearman: {rho:.3}");
        per_app.push((app.name().to_string(), rho));
        pooled_m.extend(xs);
        pooled_s.extend(ys);
    }
    println!("\n| app | Spearman |");
    println!("|---|---|");
    for (name, rho) in &per_app {
        println!("| {name} | {rho:.3} |");
    }
    let valid: Vec<f64> = per_app
        .iter()
        .map(|x| x.1)
        .filter(|x| x.is_finite())
        .collect();
    let mean = valid.iter().sum::<f64>() / valid.len().max(1) as f64;
    println!("| mean over apps | {mean:.3} |");
    println!(
        "| pooled ({} runs) | {:.3} |",
        pooled_m.len(),
        spearman(&pooled_m, &pooled_s)
    );
    println!(
        "\nwall {:.1} s, load average after: {}",
        start.elapsed().as_secs_f64(),
        load_average()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spearman_of_orderings() {
        assert_eq!(ranks(&[3.0, 1.0, 2.0, 1.0]), vec![4.0, 1.5, 3.0, 1.5]);
        assert!((spearman(&[1.0, 2.0, 3.0], &[10.0, 20.0, 30.0]) - 1.0).abs() < 1e-12);
        assert!((spearman(&[1.0, 2.0, 3.0], &[30.0, 20.0, 10.0]) + 1.0).abs() < 1e-12);
    }
}
