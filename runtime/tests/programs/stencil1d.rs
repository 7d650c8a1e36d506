//! A 1-D three-point stencil: `init` (x = i), three rounds of `step` (y = mean of x over the
//! point and its neighbours, read through a ghost partition) and `copyback` (x = y), then `sum`
//! (a future-map reduction of x); its driver and the sequential reference. Shared by the
//! end-to-end tests (`basic.rs`) and the real-GPU tests (`gpu_runtime.rs`, which give the first
//! three tasks NVRTC variants); each includes this file with `#[path]`.

#![allow(dead_code)]

use runtime::mapper_core::{Mapper, ProcKind};
use runtime::task::Variant;
use runtime::*;

/// The app. Every task has one host function for all processor kinds; `gpu(task)` may replace
/// a task's GPU variant (e.g. by a CUDA kernel).
pub fn app(gpu: &dyn Fn(&str) -> Option<Variant>) -> App {
    let with_gpu = |t: TaskDecl, name: &str| match gpu(name) {
        Some(v) => t.variant(ProcKind::Gpu, v),
        None => t,
    };
    let mut app = App::new("stencil1d");
    app.task(with_gpu(
        TaskDecl::new("init")
            .arg("out", Privilege::WriteDiscard, &["x"], &["blocks"])
            .all_kinds(|ctx| {
                let w = ctx.write::<f64>(0, "x")?;
                for p in ctx.space(0)?.iter() {
                    w.set(p, p.get(0) as f64);
                }
                Ok(Value::None)
            })
            .index_launch(),
        "init",
    ));
    app.task(with_gpu(
        TaskDecl::new("step")
            .arg("in", Privilege::Read, &["x"], &["ghost"])
            .arg("out", Privilege::WriteDiscard, &["y"], &["blocks"])
            .all_kinds(|ctx| {
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
            .index_launch(),
        "step",
    ));
    app.task(with_gpu(
        TaskDecl::new("copyback")
            .arg("in", Privilege::Read, &["y"], &["blocks"])
            .arg("out", Privilege::ReadWrite, &["x"], &["blocks"])
            .all_kinds(|ctx| {
                let r = ctx.read::<f64>(0, "y")?;
                let w = ctx.write::<f64>(1, "x")?;
                for p in ctx.space(0)?.iter() {
                    w.set(p, r.get(p));
                }
                Ok(Value::None)
            })
            .index_launch(),
        "copyback",
    ));
    app.task(with_gpu(
        TaskDecl::new("sum")
            .arg("in", Privilege::Read, &["x"], &["blocks"])
            .all_kinds(|ctx| {
                let r = ctx.read::<f64>(0, "x")?;
                Ok(Value::F64(ctx.space(0)?.iter().map(|p| r.get(p)).sum()))
            })
            .index_launch(),
        "sum",
    ));
    app
}

/// The sequential result after `steps` rounds on `n` points.
pub fn reference(n: i64, steps: usize) -> Vec<f64> {
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

/// Runs `app` on `n` points in `blocks` blocks on `machine` with `mapper`: init, three rounds,
/// sum. Returns x, the sum and the profile.
pub fn run(
    app: App,
    machine: &str,
    mapper: &dyn Mapper,
    n: i64,
    blocks: i64,
) -> Result<(Vec<f64>, f64, Profile), String> {
    let e = |e: RuntimeError| e.to_string();
    let mut rt = Runtime::from_spec(app, machine, mapper).map_err(e)?;
    let fs = FieldSpace::new().field::<f64>("x").field::<f64>("y");
    let grid = rt
        .create_region("grid", IndexSpace::range(0, n - 1), fs)
        .map_err(e)?;
    let bp = rt.partition_equal(grid, "blocks", &[blocks]).map_err(e)?;
    let mut subs: Vec<(Point, IndexSpace)> = Vec::new();
    for c in 0..blocks {
        let sub = rt.subregion(bp, c).map_err(e)?;
        let b = rt
            .forest()
            .region(sub)
            .ok_or("no such subregion")?
            .space
            .bounds();
        subs.push((
            Point::p1(c),
            IndexSpace::range((b.lo.get(0) - 1).max(0), (b.hi.get(0) + 1).min(n - 1)),
        ));
    }
    let gp = rt.partition_by_subspaces(grid, "ghost", subs).map_err(e)?;
    let dom = Rect::r1(0, blocks - 1);
    let [init, step, copyback, sum] = [0, 1, 2, 3].map(TaskHandle);
    rt.index_launch(init, dom, &[bp.into()], &[]).map_err(e)?;
    for _ in 0..3 {
        rt.index_launch(step, dom, &[gp.into(), bp.into()], &[])
            .map_err(e)?;
        rt.index_launch(copyback, dom, &[bp.into(), bp.into()], &[])
            .map_err(e)?;
    }
    let total = rt
        .index_launch(sum, dom, &[bp.into()], &[])
        .map_err(e)?
        .reduce(ReduceOp::Sum)
        .get_f64()
        .map_err(|e| e.to_string())?;
    let x = rt.read_field::<f64>(grid, "x").map_err(e)?;
    Ok((x, total, rt.profile()))
}
