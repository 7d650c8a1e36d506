//! METG(50%) of the runtime for Task Bench's stencil pattern on this machine: the smallest task
//! granularity at which the runtime still reaches half of the peak rate.
//!
//! A 1-D row of `width` points (one per core by default) runs `steps` time steps; the task of
//! point i at step t reads points i-1, i, i+1 of step t-1 (through an aliased ghost partition)
//! and writes point i, after a compute-bound kernel of `k` multiply-adds. The mapper
//! ([`OnePointPerCore`]) blocks the row over the CPU processors, so each core runs its own
//! column of tasks, on one instance of the row in system memory.
//! One untimed step first creates the instances. The sweep halves k from `--max-k` down;
//! efficiency is the rate (multiply-adds per second) over the peak rate (the best of the
//! sweep), and granularity is wall time x cores / tasks, as Task Bench defines them. Prints
//! one line per k and METG(50%), interpolated between the two points around 50%.
//!
//! ```text
//! cargo run --release -p apps --example metg
//! cargo run --release -p apps --example metg -- --steps 200 --reps 3 --json
//! ```

use clap::Parser;
use runtime::{
    App, FieldSpace, IndexSpace, Point, Privilege, Rect, Runtime, RuntimeOptions, TaskDecl, Value,
};
use std::time::Instant;

// Worker threads free the task records that the control thread allocated; with the system
// allocator that contends on its arena lock, a thread-caching allocator avoids it.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(about = "METG(50%) of the runtime for Task Bench's stencil pattern")]
struct Args {
    /// Machine (`local`; an emulated machine measures the emulation too).
    #[arg(long, default_value = "local")]
    machine: String,
    /// Points of the row (default: one per core).
    #[arg(long)]
    width: Option<i64>,
    /// Time steps per run.
    #[arg(long, default_value_t = 1000)]
    steps: usize,
    /// Runs per k (the best is kept).
    #[arg(long, default_value_t = 3)]
    reps: usize,
    /// Smallest k (multiply-adds per task).
    #[arg(long, default_value_t = 16)]
    min_k: u64,
    /// Largest k (the sweep starts here; the peak rate is the best of the sweep).
    #[arg(long, default_value_t = 1 << 18)]
    max_k: u64,
    /// Print JSON lines.
    #[arg(long)]
    json: bool,
}

/// The compute-bound kernel: `k` dependent multiply-adds starting from `x`.
fn kernel(mut x: f64, k: u64) -> f64 {
    for _ in 0..k {
        x = x.mul_add(0.999_999_9, 1e-7);
    }
    x
}

runtime::app_names! {
    /// Task and region names of the pattern, for the mapper's compile-time checks.
    pub mod names {
        step_ab(ghost: [ghost], own: [own]);
        step_ba(ghost: [ghost], own: [own]);
    }
}

runtime::mapper! {
    OnePointPerCore for names;
    // Each point on its own CPU processor, blocked over the processors (the row has one
    // point per core by default), with its data in the node's system memory.
    Task * CPU;
    Region * * CPU SYSMEM;
    Layout * * * SOA C_order;
    m = Machine(CPU);
    def block(Task task) {
        ip = task.ipoint;
        is = task.ispace;
        i = ip[0] * m.volume / is[0];
        return m[i / m.size[1], i % m.size[1]];
    }
    IndexTaskMap step_ab, step_ba block;
}

fn app() -> App {
    let mut app = App::new("taskbench_stencil");
    for (name, src, dst) in [("step_ab", "a", "b"), ("step_ba", "b", "a")] {
        app.task(
            TaskDecl::new(name)
                .arg("ghost", Privilege::Read, &[src], &["ghost"])
                .arg("own", Privilege::WriteDiscard, &[dst], &["own"])
                .all_kinds(move |ctx| {
                    let k = ctx.i64(0)? as u64;
                    let r = ctx.read::<f64>(0, src)?;
                    let w = ctx.write::<f64>(1, dst)?;
                    let g = ctx.bounds(0)?;
                    for p in ctx.space(1)?.iter() {
                        let mut s = 0.0;
                        for q in g.lo.get(0)..=g.hi.get(0) {
                            s += r.get(Point::p1(q));
                        }
                        w.set(p, kernel(s / 3.0, k));
                    }
                    Ok(Value::None)
                })
                .index_launch(),
        );
    }
    app
}

/// Seconds of `steps` steps of `width` tasks with `k` multiply-adds each.
fn run(machine: &str, width: i64, steps: usize, k: u64) -> Result<f64, String> {
    let e = |e: runtime::RuntimeError| e.to_string();
    let m = runtime::MachineDesc::parse(machine)?;
    let mut rt = Runtime::new(
        app(),
        m,
        &OnePointPerCore,
        RuntimeOptions { profile: false },
    )
    .map_err(e)?;
    let fs = FieldSpace::new().field::<f64>("a").field::<f64>("b");
    let row = rt
        .create_region("row", IndexSpace::range(0, width - 1), fs)
        .map_err(e)?;
    let own = rt.partition_equal(row, "own", &[width]).map_err(e)?;
    let ghost = rt
        .partition_by_subspaces(
            row,
            "ghost",
            (0..width)
                .map(|i| {
                    (
                        Point::p1(i),
                        IndexSpace::range((i - 1).max(0), (i + 1).min(width - 1)),
                    )
                })
                .collect(),
        )
        .map_err(e)?;
    rt.fill_field(row, "a", 1.0f64).map_err(e)?;
    rt.fill_field(row, "b", 1.0f64).map_err(e)?;
    rt.wait_all().map_err(e)?;
    let dom = Rect::r1(0, width - 1);
    let args = [ghost.into(), own.into()];
    // One untimed step creates the instances (and copies the initial values into them).
    rt.index_launch(runtime::TaskHandle(1), dom, &args, &[Value::I64(0)])
        .map_err(e)?;
    rt.wait_all().map_err(e)?;
    let t = Instant::now();
    for s in 0..steps {
        let task = runtime::TaskHandle(s % 2);
        rt.index_launch(task, dom, &args, &[Value::I64(k as i64)])
            .map_err(e)?;
    }
    rt.wait_all().map_err(e)?;
    Ok(t.elapsed().as_secs_f64())
}

fn main() {
    let a = Args::parse();
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let width = a.width.unwrap_or(cores as i64).max(1);
    let tasks = width as f64 * a.steps as f64;
    let mut rows: Vec<(u64, f64, f64)> = Vec::new(); // (k, rate, granularity in seconds)
    let mut k: u64 = a.max_k.max(1);
    while k >= a.min_k.max(1) {
        let mut best = f64::INFINITY;
        for _ in 0..a.reps.max(1) {
            match run(&a.machine, width, a.steps, k) {
                Ok(t) => best = best.min(t),
                Err(e) => {
                    eprintln!("error: {e}");
                    std::process::exit(1);
                }
            }
        }
        let rate = tasks * k as f64 / best;
        let gran = best * cores as f64 / tasks;
        rows.push((k, rate, gran));
        k /= 2;
    }
    let peak = rows.iter().map(|r| r.1).fold(0.0, f64::max);
    if !a.json {
        println!(
            "Task Bench stencil pattern on {}: width {width}, {} steps, {cores} cores",
            a.machine, a.steps
        );
        println!("| k (FMA/task) | granularity (us) | efficiency |");
        println!("|---|---|---|");
    }
    for (k, rate, gran) in &rows {
        let eff = rate / peak;
        if a.json {
            println!(
                "{}",
                serde_json::json!({"k": k, "granularity_us": gran * 1e6, "efficiency": eff})
            );
        } else {
            println!("| {k} | {:.2} | {:.1}% |", gran * 1e6, 100.0 * eff);
        }
    }
    // Rows go from coarse to fine: METG is where efficiency first drops below 50%,
    // interpolated (in log granularity) with the last point at or above it.
    let mut metg = None;
    for w in rows.windows(2) {
        let (e0, e1) = (w[0].1 / peak, w[1].1 / peak);
        if e0 >= 0.5 && e1 < 0.5 {
            let f = (e0 - 0.5) / (e0 - e1);
            let g = (w[0].2.ln() + f * (w[1].2.ln() - w[0].2.ln())).exp();
            metg = Some(g);
            break;
        }
    }
    match metg {
        Some(g) if a.json => println!("{}", serde_json::json!({"metg50_us": g * 1e6})),
        Some(g) => println!("METG(50%) = {:.2} us", g * 1e6),
        None => println!(
            "METG(50%) is below the smallest granularity measured ({:.2} us); lower --min-k",
            rows.last().map_or(0.0, |r| r.2 * 1e6)
        ),
    }
}
