//! A tiled GEMM, C = A x B for n x n f64 matrices cut into t x t tiles: one index launch of
//! t x t `init` tasks per matrix, then t steps of t x t `gemm` tasks (C(i,j) += A(i,k) B(k,j)).
//! Shared by the simulator tests, the simulator benchmark and the calibration example (each
//! includes this file with `#[path]`). Its `gemm` task has a cost model (2 b^3 flops per b x b
//! tile; bytes from the default: each argument once, the read-write C tile twice).

#![allow(dead_code)]

use runtime::mapper_core::Mapper;
use runtime::task::{Cost, CostModel};
use runtime::*;

/// What a run observed.
pub struct Outcome {
    /// Time of the multiplication (after the inits), ns: wall clock or simulated.
    pub ns: u64,
    /// The profile summary text.
    pub summary: String,
    /// The Chrome trace JSON text.
    pub trace: String,
    /// True if the run was simulated.
    pub simulated: bool,
    /// For real runs: the largest error against a sequential reference (0 when simulated).
    pub max_err: f64,
    /// Point tasks recorded in the profile.
    pub tasks: usize,
}

fn elem_a(i: i64, j: i64) -> f64 {
    ((i * 3 + j) % 7) as f64 - 3.0
}

fn elem_b(i: i64, j: i64) -> f64 {
    ((i + 2 * j) % 5) as f64 * 0.5
}

/// The application; `cost` adds the gemm cost model.
pub fn app(cost: bool) -> App {
    let mut app = App::new("tiled_gemm");
    app.task(
        TaskDecl::new("init")
            .arg(
                "out",
                Privilege::WriteDiscard,
                &["v"],
                &["A_tiles", "B_tiles", "C_tiles"],
            )
            .all_kinds(|ctx| {
                let which = ctx.i64(0)?;
                let mut out = ctx.raw::<f64>(0, "v")?;
                let b = out.bounds();
                let mut idx = Vec::new();
                for p in b.iter() {
                    idx.push((p, out.index(p).ok_or("point outside the tile")?));
                }
                let s = out.as_mut_slice().ok_or("tile is not writable")?;
                for (p, k) in idx {
                    let (i, j) = (p.get(0), p.get(1));
                    s[k] = match which {
                        0 => elem_a(i, j),
                        1 => elem_b(i, j),
                        _ => 0.0,
                    };
                }
                Ok(Value::None)
            })
            .index_launch(),
    );
    let mut gemm = TaskDecl::new("gemm")
        .arg("a", Privilege::Read, &["v"], &["A_tiles"])
        .arg("b", Privilege::Read, &["v"], &["B_tiles"])
        .arg("c", Privilege::ReadWrite, &["v"], &["C_tiles"])
        .all_kinds(|ctx| {
            let a = ctx.raw::<f64>(0, "v")?;
            let b = ctx.raw::<f64>(1, "v")?;
            let mut c = ctx.raw::<f64>(2, "v")?;
            let (ab, cb) = (a.bounds(), c.bounds());
            let m = cb.extents()[0] as usize;
            let n = cb.extents()[1] as usize;
            let kk = ab.extents()[1] as usize;
            // Element (r, col) of a tile sits at r * s[0] + col * s[1].
            let (sa, sb, sc) = (a.strides(), b.strides(), c.strides());
            let (av, bv) = (a.as_slice(), b.as_slice());
            let cv = c.as_mut_slice().ok_or("C tile is not writable")?;
            // Rows i0..i1 of C, given as the slice starting at row i0.
            let rows = |cv: &mut [f64], i0: usize, i1: usize| {
                for i in i0..i1 {
                    for k in 0..kk {
                        let aik = av[i * sa[0] + k * sa[1]];
                        let brow = k * sb[0];
                        let crow = (i - i0) * sc[0];
                        for j in 0..n {
                            cv[crow + j * sc[1]] += aik * bv[brow + j * sb[1]];
                        }
                    }
                }
            };
            let threads = ctx.threads().min(m.max(1));
            if threads > 1 && sc[1] == 1 && sc[0] >= n {
                // An OMP processor: split the rows of C (C order) over the pool.
                let per = m.div_ceil(threads);
                std::thread::scope(|s| {
                    let mut rest: &mut [f64] = cv;
                    let mut i0 = 0;
                    while i0 < m {
                        let i1 = (i0 + per).min(m);
                        let take = ((i1 - i0) * sc[0]).min(rest.len());
                        let (mine, tail) = std::mem::take(&mut rest).split_at_mut(take);
                        rest = tail;
                        let rows = &rows;
                        s.spawn(move || rows(mine, i0, i1));
                        i0 = i1;
                    }
                });
            } else {
                rows(cv, 0, m);
            }
            Ok(Value::None)
        })
        .index_launch();
    if cost {
        gemm = gemm.cost(CostModel::PerPoint(std::sync::Arc::new(|_p, s| {
            let b = s.first().and_then(Value::as_f64).unwrap_or(0.0);
            Cost {
                flops: 2.0 * b * b * b,
                ..Cost::default()
            }
        })));
    }
    app.task(gemm);
    app
}

/// Runs C = A x B (n x n, t x t tiles) on `machine` with `mapper`. Real runs are checked
/// against a sequential reference when `check` is set.
pub fn run(
    machine: &str,
    mapper: &dyn Mapper,
    n: i64,
    t: i64,
    check: bool,
) -> Result<Outcome, String> {
    run_with(machine, mapper, n, t, 1, check, true)
}

/// [`run`] with `reps` multiplications in sequence (C += A x B each time; the check expects
/// one) and, unless `outputs`, no summary or trace text.
pub fn run_with(
    machine: &str,
    mapper: &dyn Mapper,
    n: i64,
    t: i64,
    reps: usize,
    check: bool,
    outputs: bool,
) -> Result<Outcome, String> {
    let app = app(true);
    let init = app.handle("init").ok_or("no init")?;
    let gemm = app.handle("gemm").ok_or("no gemm")?;
    let e = |e: RuntimeError| e.to_string();
    let mut rt = Runtime::from_spec(app, machine, mapper).map_err(e)?;
    let fs = || FieldSpace::new().field::<f64>("v");
    let space = || IndexSpace::from_rect(Rect::r2((0, 0), (n - 1, n - 1)));
    let a = rt.create_region("A", space(), fs()).map_err(e)?;
    let b = rt.create_region("B", space(), fs()).map_err(e)?;
    let c = rt.create_region("C", space(), fs()).map_err(e)?;
    let pa = rt.partition_equal(a, "A_tiles", &[t, t]).map_err(e)?;
    let pb = rt.partition_equal(b, "B_tiles", &[t, t]).map_err(e)?;
    let pc = rt.partition_equal(c, "C_tiles", &[t, t]).map_err(e)?;
    let dom = Rect::r2((0, 0), (t - 1, t - 1));
    for (i, p) in [pa, pb, pc].into_iter().enumerate() {
        rt.index_launch(init, dom, &[p.into()], &[Value::I64(i as i64)])
            .map_err(e)?;
    }
    rt.wait_all().map_err(e)?;
    let start = rt.elapsed_ns();
    let tile = (n / t) as f64;
    for k in (0..reps).flat_map(|_| 0..t) {
        let pa_k = ArgRef::Partition(pa, Proj::func(move |p| Point::p2(p.get(0), k)));
        let pb_k = ArgRef::Partition(pb, Proj::func(move |p| Point::p2(k, p.get(1))));
        rt.index_launch(gemm, dom, &[pa_k, pb_k, pc.into()], &[Value::F64(tile)])
            .map_err(e)?;
    }
    rt.wait_all().map_err(e)?;
    let ns = rt.elapsed_ns() - start;
    let mut max_err = 0.0f64;
    if check && reps == 1 && !rt.is_simulated() {
        let got = rt.read_field::<f64>(c, "v").map_err(e)?;
        for i in 0..n {
            for j in 0..n {
                let want: f64 = (0..n).map(|k| elem_a(i, k) * elem_b(k, j)).sum();
                let g = got.get((i * n + j) as usize).copied().unwrap_or(f64::NAN);
                max_err = max_err.max((g - want).abs());
            }
        }
    }
    let prof = rt.profile();
    let (summary, trace) = if outputs {
        (
            prof.summary(),
            serde_json::to_string(&prof.chrome_trace()).map_err(|e| e.to_string())?,
        )
    } else {
        (String::new(), String::new())
    };
    Ok(Outcome {
        ns,
        summary,
        trace,
        simulated: rt.is_simulated(),
        max_err,
        tasks: prof.tasks.len(),
    })
}
