//! Test programs shared by the integration tests: each builds its app, runs it on a runtime
//! with a given mapper and machine, and returns its observable results, with a plain sequential
//! reference computation to compare against.

#![allow(dead_code)]

use runtime::mapper_core::Mapper;
use runtime::*;

/// Results of a program: named vectors of numbers (as f64 bit-exact values).
pub type Results = Vec<(String, Vec<f64>)>;

fn h(app: &App, name: &str) -> TaskHandle {
    app.handle(name).unwrap()
}

/// 1-D three-point stencil over `steps` steps with aliased ghost partitions.
pub fn stencil1d(
    machine: &str,
    mapper: &dyn Mapper,
    n: i64,
    blocks: i64,
    steps: usize,
) -> Result<Results, String> {
    let mut app = App::new("stencil1d");
    app.task(
        TaskDecl::new("init1")
            .arg("out", Privilege::WriteDiscard, &["x"], &["blocks1"])
            .all_kinds(|ctx| {
                let w = ctx.write::<f64>(0, "x")?;
                for p in ctx.space(0)?.iter() {
                    let i = p.get(0);
                    w.set(p, ((i * 37) % 11) as f64 * 0.5);
                }
                Ok(Value::None)
            })
            .index_launch(),
    );
    app.task(
        TaskDecl::new("step1")
            .arg("in", Privilege::Read, &["x"], &["ghost1"])
            .arg("out", Privilege::WriteDiscard, &["y"], &["blocks1"])
            .all_kinds(|ctx| {
                let r = ctx.read::<f64>(0, "x")?;
                let w = ctx.write::<f64>(1, "y")?;
                let g = ctx.bounds(0)?;
                for p in ctx.space(1)?.iter() {
                    let i = p.get(0);
                    let l = if i > g.lo.get(0) {
                        r.get(i - 1)
                    } else {
                        r.get(i)
                    };
                    let hi = if i < g.hi.get(0) {
                        r.get(i + 1)
                    } else {
                        r.get(i)
                    };
                    w.set(p, 0.25 * l + 0.5 * r.get(i) + 0.25 * hi);
                }
                Ok(Value::None)
            })
            .index_launch(),
    );
    app.task(
        TaskDecl::new("back1")
            .arg("in", Privilege::Read, &["y"], &["blocks1"])
            .arg("out", Privilege::ReadWrite, &["x"], &["blocks1"])
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
    let (ti, ts, tb) = (h(&app, "init1"), h(&app, "step1"), h(&app, "back1"));
    let mut rt = Runtime::from_spec(app, machine, mapper).map_err(|e| e.to_string())?;
    let grid = rt
        .create_region(
            "grid1",
            IndexSpace::range(0, n - 1),
            FieldSpace::new().field::<f64>("x").field::<f64>("y"),
        )
        .map_err(|e| e.to_string())?;
    let bp = rt
        .partition_equal(grid, "blocks1", &[blocks])
        .map_err(|e| e.to_string())?;
    let mut subs = Vec::new();
    for c in 0..blocks {
        let b = rt
            .forest()
            .region(rt.subregion(bp, c).map_err(|e| e.to_string())?)
            .unwrap()
            .space
            .bounds();
        subs.push((
            Point::p1(c),
            IndexSpace::range((b.lo.get(0) - 1).max(0), (b.hi.get(0) + 1).min(n - 1)),
        ));
    }
    let gp = rt
        .partition_by_subspaces(grid, "ghost1", subs)
        .map_err(|e| e.to_string())?;
    let dom = Rect::r1(0, blocks - 1);
    rt.index_launch(ti, dom, &[bp.into()], &[])
        .map_err(|e| e.to_string())?;
    for _ in 0..steps {
        rt.index_launch(ts, dom, &[gp.into(), bp.into()], &[])
            .map_err(|e| e.to_string())?;
        rt.index_launch(tb, dom, &[bp.into(), bp.into()], &[])
            .map_err(|e| e.to_string())?;
    }
    let x = rt.read_field::<f64>(grid, "x").map_err(|e| e.to_string())?;
    Ok(vec![("x".into(), x)])
}

/// Reference of [`stencil1d`].
pub fn stencil1d_ref(n: i64, steps: usize) -> Results {
    let mut x: Vec<f64> = (0..n).map(|i| ((i * 37) % 11) as f64 * 0.5).collect();
    let n = n as usize;
    for _ in 0..steps {
        x = (0..n)
            .map(|i| {
                let l = if i > 0 { x[i - 1] } else { x[i] };
                let h = if i + 1 < n { x[i + 1] } else { x[i] };
                0.25 * l + 0.5 * x[i] + 0.25 * h
            })
            .collect();
    }
    vec![("x".into(), x)]
}

/// 2-D five-point integer stencil over 2x2 (or `bx` x `by`) blocks with halos.
pub fn stencil2d(
    machine: &str,
    mapper: &dyn Mapper,
    nx: i64,
    ny: i64,
    bx: i64,
    by: i64,
    steps: usize,
) -> Result<Results, String> {
    let mut app = App::new("stencil2d");
    app.task(
        TaskDecl::new("step2")
            .arg("in", Privilege::Read, &["a"], &["ghost2"])
            .arg("out", Privilege::ReadWrite, &["b"], &["blocks2"])
            .all_kinds(|ctx| {
                let r = ctx.read::<i64>(0, "a")?;
                let w = ctx.write::<i64>(1, "b")?;
                let g = ctx.bounds(0)?;
                for p in ctx.space(1)?.iter() {
                    let (i, j) = (p.get(0), p.get(1));
                    let mut s = 2 * r.get((i, j));
                    for (di, dj) in [(-1, 0), (1, 0), (0, -1), (0, 1)] {
                        let q = Point::p2(i + di, j + dj);
                        if g.contains(&q) {
                            s += r.get(q);
                        }
                    }
                    w.set(p, (s + w.get(p)) % 1_000_003);
                }
                Ok(Value::None)
            })
            .index_launch(),
    );
    app.task(
        TaskDecl::new("swap2")
            .arg("in", Privilege::Read, &["b"], &["blocks2"])
            .arg("out", Privilege::Write, &["a"], &["blocks2"])
            .all_kinds(|ctx| {
                let r = ctx.read::<i64>(0, "b")?;
                let w = ctx.write::<i64>(1, "a")?;
                for p in ctx.space(0)?.iter() {
                    w.set(p, r.get(p));
                }
                Ok(Value::None)
            })
            .index_launch(),
    );
    let (ts, tw) = (h(&app, "step2"), h(&app, "swap2"));
    let mut rt = Runtime::from_spec(app, machine, mapper).map_err(|e| e.to_string())?;
    let grid = rt
        .create_region(
            "grid2",
            IndexSpace::from_rect(Rect::r2((0, 0), (nx - 1, ny - 1))),
            FieldSpace::new().field::<i64>("a").field::<i64>("b"),
        )
        .map_err(|e| e.to_string())?;
    let init: Vec<i64> = (0..nx * ny).map(|k| (k * 13) % 17).collect();
    rt.write_field(grid, "a", &init)
        .map_err(|e| e.to_string())?;
    let bp = rt
        .partition_equal(grid, "blocks2", &[bx, by])
        .map_err(|e| e.to_string())?;
    let mut subs = Vec::new();
    for c in Rect::r2((0, 0), (bx - 1, by - 1)).iter() {
        let b = rt
            .forest()
            .region(rt.subregion(bp, c).map_err(|e| e.to_string())?)
            .unwrap()
            .space
            .bounds();
        let lo = ((b.lo.get(0) - 1).max(0), (b.lo.get(1) - 1).max(0));
        let hi = ((b.hi.get(0) + 1).min(nx - 1), (b.hi.get(1) + 1).min(ny - 1));
        subs.push((c, IndexSpace::from_rect(Rect::r2(lo, hi))));
    }
    let gp = rt
        .partition_by_subspaces(grid, "ghost2", subs)
        .map_err(|e| e.to_string())?;
    let dom = Rect::r2((0, 0), (bx - 1, by - 1));
    for _ in 0..steps {
        rt.index_launch(ts, dom, &[gp.into(), bp.into()], &[])
            .map_err(|e| e.to_string())?;
        rt.index_launch(tw, dom, &[bp.into(), bp.into()], &[])
            .map_err(|e| e.to_string())?;
    }
    let a = rt.read_field::<i64>(grid, "a").map_err(|e| e.to_string())?;
    let b = rt.read_field::<i64>(grid, "b").map_err(|e| e.to_string())?;
    Ok(vec![
        ("a".into(), a.iter().map(|v| *v as f64).collect()),
        ("b".into(), b.iter().map(|v| *v as f64).collect()),
    ])
}

/// Reference of [`stencil2d`].
pub fn stencil2d_ref(nx: i64, ny: i64, steps: usize) -> Results {
    let idx = |i: i64, j: i64| (i * ny + j) as usize;
    let mut a: Vec<i64> = (0..nx * ny).map(|k| (k * 13) % 17).collect();
    let mut b = vec![0i64; (nx * ny) as usize];
    for _ in 0..steps {
        for i in 0..nx {
            for j in 0..ny {
                let mut s = 2 * a[idx(i, j)];
                for (di, dj) in [(-1, 0), (1, 0), (0, -1), (0, 1)] {
                    let (x, y) = (i + di, j + dj);
                    if (0..nx).contains(&x) && (0..ny).contains(&y) {
                        s += a[idx(x, y)];
                    }
                }
                b[idx(i, j)] = (s + b[idx(i, j)]) % 1_000_003;
            }
        }
        a = b.clone();
    }
    vec![
        ("a".into(), a.iter().map(|v| *v as f64).collect()),
        ("b".into(), b.iter().map(|v| *v as f64).collect()),
    ]
}

/// Histogram by reductions (sum and max), a read-write pass between two reduction epochs.
pub fn histogram(
    machine: &str,
    mapper: &dyn Mapper,
    n: i64,
    bins: i64,
    blocks: i64,
) -> Result<Results, String> {
    let mut app = App::new("histogram");
    app.task(
        TaskDecl::new("fillv")
            .arg("out", Privilege::WriteDiscard, &["v"], &["vblocks"])
            .all_kinds(|ctx| {
                let w = ctx.write::<u32>(0, "v")?;
                for p in ctx.space(0)?.iter() {
                    w.set(p, ((p.get(0) * 7919) % 1000) as u32);
                }
                Ok(Value::None)
            })
            .index_launch(),
    );
    app.task(
        TaskDecl::new("count")
            .arg("in", Privilege::Read, &["v"], &["vblocks"])
            .arg("hist", Privilege::Reduce(ReduceOp::Sum), &["n"], &["hist"])
            .all_kinds(|ctx| {
                let r = ctx.read::<u32>(0, "v")?;
                let acc = ctx.reduce::<i64>(1, "n")?;
                let bins = ctx.i64(0)?;
                for p in ctx.space(0)?.iter() {
                    acc.fold(i64::from(r.get(p)) % bins, 1);
                }
                Ok(Value::None)
            })
            .index_launch(),
    );
    app.task(
        TaskDecl::new("maxidx")
            .arg("in", Privilege::Read, &["v"], &["vblocks"])
            .arg("hist", Privilege::Reduce(ReduceOp::Max), &["m"], &["hist"])
            .all_kinds(|ctx| {
                let r = ctx.read::<u32>(0, "v")?;
                let acc = ctx.reduce::<f64>(1, "m")?;
                let bins = ctx.i64(0)?;
                for p in ctx.space(0)?.iter() {
                    acc.fold(i64::from(r.get(p)) % bins, p.get(0) as f64);
                }
                Ok(Value::None)
            })
            .index_launch(),
    );
    app.task(
        TaskDecl::new("triple")
            .arg("hist", Privilege::ReadWrite, &["n"], &["hist"])
            .all_kinds(|ctx| {
                let w = ctx.write::<i64>(0, "n")?;
                for p in ctx.space(0)?.iter() {
                    w.set(p, 3 * w.get(p));
                }
                Ok(Value::None)
            }),
    );
    let (tf, tc, tm, tt) = (
        h(&app, "fillv"),
        h(&app, "count"),
        h(&app, "maxidx"),
        h(&app, "triple"),
    );
    let mut rt = Runtime::from_spec(app, machine, mapper).map_err(|e| e.to_string())?;
    let vals = rt
        .create_region(
            "vals",
            IndexSpace::range(0, n - 1),
            FieldSpace::new().field::<u32>("v"),
        )
        .map_err(|e| e.to_string())?;
    let hist = rt
        .create_region(
            "hist",
            IndexSpace::range(0, bins - 1),
            FieldSpace::new().field::<i64>("n").field::<f64>("m"),
        )
        .map_err(|e| e.to_string())?;
    let vp = rt
        .partition_equal(vals, "vblocks", &[blocks])
        .map_err(|e| e.to_string())?;
    let dom = Rect::r1(0, blocks - 1);
    let s = [Value::I64(bins)];
    rt.index_launch(tf, dom, &[vp.into()], &[])
        .map_err(|e| e.to_string())?;
    rt.index_launch(tc, dom, &[vp.into(), hist.into()], &s)
        .map_err(|e| e.to_string())?;
    rt.index_launch(tm, dom, &[vp.into(), hist.into()], &s)
        .map_err(|e| e.to_string())?;
    rt.launch(tt, &[hist.into()], &[])
        .map_err(|e| e.to_string())?;
    rt.index_launch(tc, dom, &[vp.into(), hist.into()], &s)
        .map_err(|e| e.to_string())?;
    let cnt = rt.read_field::<i64>(hist, "n").map_err(|e| e.to_string())?;
    let m = rt.read_field::<f64>(hist, "m").map_err(|e| e.to_string())?;
    Ok(vec![
        ("n".into(), cnt.iter().map(|v| *v as f64).collect()),
        ("m".into(), m),
    ])
}

/// Reference of [`histogram`].
pub fn histogram_ref(n: i64, bins: i64) -> Results {
    let mut c = vec![0i64; bins as usize];
    let mut m = vec![f64::NEG_INFINITY; bins as usize];
    for i in 0..n {
        let b = (((i * 7919) % 1000) % bins) as usize;
        c[b] += 1;
        m[b] = m[b].max(i as f64);
    }
    // Bins never hit by maxidx keep the max identity only where a reduction epoch touched them:
    // every bin is in every task's reduction instance, so untouched bins fold -inf into 0.
    let m: Vec<f64> = m.iter().map(|v| v.max(0.0)).collect();
    vec![
        ("n".into(), c.iter().map(|v| (*v * 4) as f64).collect()),
        ("m".into(), m),
    ]
}

/// Dot product of two initialized vectors via a future-map reduction.
pub fn dot(machine: &str, mapper: &dyn Mapper, n: i64, blocks: i64) -> Result<Results, String> {
    let mut app = App::new("dot");
    app.task(
        TaskDecl::new("initxy")
            .arg("out", Privilege::WriteDiscard, &["x", "y"], &["dblocks"])
            .all_kinds(|ctx| {
                let x = ctx.write::<f64>(0, "x")?;
                let y = ctx.write::<f64>(0, "y")?;
                for p in ctx.space(0)?.iter() {
                    let i = p.get(0);
                    x.set(p, (i % 7) as f64 - 3.0);
                    y.set(p, (i % 5) as f64 * 0.5);
                }
                Ok(Value::None)
            })
            .index_launch(),
    );
    app.task(
        TaskDecl::new("dotp")
            .arg("in", Privilege::Read, &["x", "y"], &["dblocks"])
            .all_kinds(|ctx| {
                let x = ctx.read::<f64>(0, "x")?;
                let y = ctx.read::<f64>(0, "y")?;
                Ok(Value::F64(
                    ctx.space(0)?.iter().map(|p| x.get(p) * y.get(p)).sum(),
                ))
            })
            .index_launch(),
    );
    let (ti, td) = (h(&app, "initxy"), h(&app, "dotp"));
    let mut rt = Runtime::from_spec(app, machine, mapper).map_err(|e| e.to_string())?;
    let v = rt
        .create_region(
            "vec",
            IndexSpace::range(0, n - 1),
            FieldSpace::new().field::<f64>("x").field::<f64>("y"),
        )
        .map_err(|e| e.to_string())?;
    let p = rt
        .partition_equal(v, "dblocks", &[blocks])
        .map_err(|e| e.to_string())?;
    let dom = Rect::r1(0, blocks - 1);
    rt.index_launch(ti, dom, &[p.into()], &[])
        .map_err(|e| e.to_string())?;
    let fm = rt
        .index_launch(td, dom, &[p.into()], &[])
        .map_err(|e| e.to_string())?;
    let d = fm.reduce(ReduceOp::Sum).get_f64()?;
    rt.wait_all().map_err(|e| e.to_string())?;
    Ok(vec![("dot".into(), vec![d])])
}

/// Reference of [`dot`] (block sums in launch order).
pub fn dot_ref(n: i64, blocks: i64) -> Results {
    let (q, r) = (n / blocks, n % blocks);
    let mut total = 0.0;
    let mut start = 0;
    for b in 0..blocks {
        let len = q + i64::from(b < r);
        let s: f64 = (start..start + len)
            .map(|i| ((i % 7) as f64 - 3.0) * ((i % 5) as f64 * 0.5))
            .sum();
        total += s;
        start += len;
    }
    vec![("dot".into(), vec![total])]
}
