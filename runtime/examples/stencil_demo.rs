//! A 1-D three-point stencil with ghost partitions, run on any machine:
//!
//! ```text
//! cargo run -p runtime --example stencil_demo -- --machine emulated:2x4 --trace trace.json
//! ```
//!
//! Prints the result check and the profile summary; `--trace FILE` writes a Chrome trace
//! (open it in https://ui.perfetto.dev) with one event per task and per copy.

use clap::Parser;
use runtime::*;

#[derive(Parser)]
#[command(about = "1-D stencil on the task runtime")]
struct Args {
    /// Machine: `local` or `emulated:NxG`.
    #[arg(long, default_value = "local")]
    machine: String,
    /// Grid points.
    #[arg(long, default_value_t = 1 << 16)]
    n: i64,
    /// Blocks (one point task per block per step).
    #[arg(long, default_value_t = 8)]
    blocks: i64,
    /// Time steps.
    #[arg(long, default_value_t = 10)]
    steps: usize,
    /// Write a Chrome trace JSON here.
    #[arg(long)]
    trace: Option<std::path::PathBuf>,
}

fn app() -> App {
    let mut app = App::new("stencil_demo");
    app.task(
        TaskDecl::new("init")
            .arg("out", Privilege::WriteDiscard, &["x"], &["blocks"])
            .all_kinds(|ctx| {
                let w = ctx.write::<f64>(0, "x")?;
                for p in ctx.space(0)?.iter() {
                    w.set(p, (p.get(0) % 100) as f64);
                }
                Ok(Value::None)
            })
            .index_launch(),
    );
    app.task(
        TaskDecl::new("stencil")
            .arg("in", Privilege::Read, &["x"], &["ghost"])
            .arg("out", Privilege::WriteDiscard, &["y"], &["blocks"])
            .all_kinds(|ctx| {
                let r = ctx.read::<f64>(0, "x")?;
                let mut out = ctx.raw::<f64>(1, "y")?;
                let (g, b) = (ctx.bounds(0)?, out.bounds());
                let s = out.strides()[0];
                let y = out.as_mut_slice().ok_or("output is not writable")?;
                for i in b.lo.get(0)..=b.hi.get(0) {
                    let l = r.get((i - 1).max(g.lo.get(0)));
                    let h = r.get((i + 1).min(g.hi.get(0)));
                    y[(i - b.lo.get(0)) as usize * s] = 0.25 * l + 0.5 * r.get(i) + 0.25 * h;
                }
                Ok(Value::None)
            })
            .index_launch(),
    );
    app.task(
        TaskDecl::new("copy")
            .arg("in", Privilege::Read, &["y"], &["blocks"])
            .arg("out", Privilege::WriteDiscard, &["x"], &["blocks"])
            .all_kinds(|ctx| {
                let r = ctx.read::<f64>(0, "y")?;
                let w = ctx.write::<f64>(1, "x")?;
                for p in ctx.space(0)?.iter() {
                    w.set(p, r.get(p));
                }
                Ok(Value::None)
            })
            .index_launch(),
    );
    app.task(
        TaskDecl::new("checksum")
            .arg("in", Privilege::Read, &["x"], &["blocks"])
            .all_kinds(|ctx| {
                let r = ctx.read::<f64>(0, "x")?;
                Ok(Value::F64(ctx.space(0)?.iter().map(|p| r.get(p)).sum()))
            })
            .index_launch(),
    );
    app
}

fn run(a: &Args) -> Result<(), String> {
    let app = app();
    let h = |n: &str| app.handle(n).ok_or(format!("no task {n}"));
    let (ti, ts, tc, tk) = (h("init")?, h("stencil")?, h("copy")?, h("checksum")?);
    let mut rt = Runtime::with_defaults(app, &a.machine).map_err(|e| e.to_string())?;
    println!("machine {}", rt.machine());
    let n = a.n.max(a.blocks);
    let grid = rt
        .create_region(
            "grid",
            IndexSpace::range(0, n - 1),
            FieldSpace::new().field::<f64>("x").field::<f64>("y"),
        )
        .map_err(|e| e.to_string())?;
    let bp = rt
        .partition_equal(grid, "blocks", &[a.blocks])
        .map_err(|e| e.to_string())?;
    let mut ghosts = Vec::new();
    for c in 0..a.blocks {
        let b = rt
            .forest()
            .region(rt.subregion(bp, c).map_err(|e| e.to_string())?)
            .map(|r| r.space.bounds())
            .ok_or("no block")?;
        ghosts.push((
            Point::p1(c),
            IndexSpace::range((b.lo.get(0) - 1).max(0), (b.hi.get(0) + 1).min(n - 1)),
        ));
    }
    let gp = rt
        .partition_by_subspaces(grid, "ghost", ghosts)
        .map_err(|e| e.to_string())?;
    let dom = Rect::r1(0, a.blocks - 1);
    let start = std::time::Instant::now();
    rt.index_launch(ti, dom, &[bp.into()], &[])
        .map_err(|e| e.to_string())?;
    for _ in 0..a.steps {
        rt.index_launch(ts, dom, &[gp.into(), bp.into()], &[])
            .map_err(|e| e.to_string())?;
        rt.index_launch(tc, dom, &[bp.into(), bp.into()], &[])
            .map_err(|e| e.to_string())?;
    }
    let sum = rt
        .index_launch(tk, dom, &[bp.into()], &[])
        .map_err(|e| e.to_string())?
        .reduce(ReduceOp::Sum)
        .get_f64()?;
    rt.wait_all().map_err(|e| e.to_string())?;
    let elapsed = start.elapsed();
    // The stencil conserves the sum up to the boundary terms; check against a sequential run.
    let mut x: Vec<f64> = (0..n).map(|i| (i % 100) as f64).collect();
    for _ in 0..a.steps {
        let y: Vec<f64> = (0..n as usize)
            .map(|i| {
                0.25 * x[i.saturating_sub(1)] + 0.5 * x[i] + 0.25 * x[(i + 1).min(n as usize - 1)]
            })
            .collect();
        x = y;
    }
    let got = rt.read_field::<f64>(grid, "x").map_err(|e| e.to_string())?;
    let ok = got == x;
    println!(
        "n={n} blocks={} steps={} time={:.3} ms checksum={sum} verified={ok}",
        a.blocks,
        a.steps,
        elapsed.as_secs_f64() * 1e3
    );
    let prof = rt.profile();
    print!("{}", prof.summary());
    if let Some(path) = &a.trace {
        let json = serde_json::to_string(&prof.chrome_trace()).map_err(|e| e.to_string())?;
        std::fs::write(path, json).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        println!(
            "trace: {} ({} tasks, {} copies)",
            path.display(),
            prof.tasks.len(),
            prof.copies.len()
        );
    }
    if ok {
        Ok(())
    } else {
        Err("result differs from the sequential reference".into())
    }
}

fn main() {
    let a = Args::parse();
    if let Err(e) = run(&a) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
