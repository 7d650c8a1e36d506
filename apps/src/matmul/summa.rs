//! SUMMA on a pr x pc grid of C tiles: A is cut into pr x kt panels and B into kt x pc panels;
//! at step k every C tile (i, j) multiplies A's panel (i, k) (broadcast along row i) by B's
//! panel (k, j) (broadcast along column j). The broadcasts are the many readers of one panel:
//! the runtime copies a panel to every memory where a reader is placed.

use super::common::{colors, gemm_task, init_task, CMode, Elem, Grid, Job, MatmulSpec};
use crate::{AppError, NamedMapper, Precision};
use mapper_core::space::balance_factors;
use runtime::{ArgRef, Point, Proj};

runtime::app_names! {
    /// Task and region names of the app, for compile-time checks of its mappers.
    pub mod names {
        init_tiles(tile: [a_panels, b_panels, c_tiles, a, b, c]);
        gemm_panel(a_panel: [a_panels, a], b_panel: [b_panels, b], c: [c_tiles, c]);
    }
}

runtime::mapper! {
    pub SummaExpert for names;
    // SUMMA matrix multiplication: expert mapper.
    //
    // App `summa` (tasks and region arguments, in order):
    //   init_tiles(tile)                  index launch over a panel or tile grid
    //   gemm_panel(a_panel, b_panel, c)   index launch over (i, j) for each step k: c(i, j) +=
    //                                     a(i, k) * b(k, j); `a_panel` is launched with a_panels
    //                                     (broadcast along rows), `b_panel` with b_panels
    // Regions a, b, c; partitions a_panels, b_panels, c_tiles.
    // GPUs when the machine has them (their cuBLAS variant takes column-major tiles), else CPUs.

    Task * GPU,CPU;

    Region * * GPU FBMEM;
    Region * * CPU SYSMEM;

    Layout * * * SOA C_order;
    Layout * * GPU SOA F_order;

    InstanceLimit gemm_panel GPU 8;
    CollectMemory gemm_panel a_panel;
    CollectMemory gemm_panel b_panel;

    m = Machine(GPU).volume > 0 ? Machine(GPU) : Machine(CPU);

    // Rows of the tile grid are blocked over nodes (a row broadcast stays inside a node); the
    // tiles of a node's rows, in row-major order, are dealt cyclically over its processors, so
    // a 2x2 grid on one node of 4 GPUs puts one tile on each GPU.
    def summa2d(Task task) {
        ip = task.ipoint;
        is = task.ispace;
        node = ip[0] * m.size[0] / is[0];
        return m[node, (ip[0] * is[1] + ip[1]) % m.size[1]];
    }

    IndexTaskMap init_tiles, gemm_panel summa2d;
}

/// The app.
pub static SPEC: MatmulSpec = MatmulSpec {
    name: "summa",
    description: "SUMMA: pr x pc grid of C tiles; per k step, A's column panel broadcast along rows and B's row panel along columns",
    expert: crate::expert!(SummaExpert),
    mappers: &[NamedMapper {
        name: "zcmem",
        about: "the expert with every GPU instance in zero-copy memory",
        source: include_str!("zcmem/summa.mapper"),
    }],
    gemm_tasks: &["gemm_panel"],
    layout_rules: super::gemm_rules!("gemm_panel"),
    declare,
    grid,
    body,
};

fn declare(p: Precision) -> runtime::App {
    match p {
        Precision::F64 => declare_t::<f64>(),
        Precision::F32 => declare_t::<f32>(),
    }
}

fn declare_t<T: Elem>() -> runtime::App {
    let mut app = runtime::App::new("summa");
    app.task(init_task::<T>(&[
        "a_panels", "b_panels", "c_tiles", "a", "b", "c",
    ]));
    app.task(gemm_task::<T>(
        "gemm_panel",
        [
            ("a_panel", &["a_panels", "a"]),
            ("b_panel", &["b_panels", "b"]),
            ("c", &["c_tiles", "c"]),
        ],
        CMode::ReadWrite,
    ));
    app
}

fn gcd(a: i64, b: i64) -> i64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

fn lcm(a: i64, b: i64) -> i64 {
    a / gcd(a, b).max(1) * b
}

fn grid(procs: u32) -> Grid {
    // At least four C tiles, so the grid is 2-D even on one or two processors.
    let p = i64::from(procs.max(1));
    let total = p * ((4 + p - 1) / p);
    let f = balance_factors(total, 2).unwrap_or_else(|_| vec![total, 1]);
    let (pr, pc) = (
        f.first().copied().unwrap_or(1),
        f.get(1).copied().unwrap_or(1),
    );
    let kt = 2 * pr.max(pc);
    Grid {
        dims: vec![pr, pc, kt],
        multiple: lcm(lcm(pr, pc), kt),
        text: format!("grid {pr}x{pc}, {kt} panels"),
    }
}

fn body(job: &mut Job) -> Result<(), AppError> {
    let (pr, pc, kt) = match job.grid.dims[..] {
        [pr, pc, kt] => (pr, pc, kt),
        _ => return Err(AppError::Config("summa: bad grid".into())),
    };
    let (a, b, c) = (job.a, job.b, job.c);
    let ap = job.rt.partition_equal(a, "a_panels", &[pr, kt])?;
    let bp = job.rt.partition_equal(b, "b_panels", &[kt, pc])?;
    let ct = job.rt.partition_equal(c, "c_tiles", &[pr, pc])?;
    job.init(ap, colors(&[pr, kt])?, 0)?;
    job.init(bp, colors(&[kt, pc])?, 1)?;
    let dom = colors(&[pr, pc])?;
    job.init(ct, dom, 2)?;
    job.start_clock()?;
    let g = job.task("gemm_panel")?;
    for k in 0..kt {
        let row = Proj::func(move |q: &Point| Point::p2(q.get(0), k));
        let col = Proj::func(move |q: &Point| Point::p2(k, q.get(1)));
        job.rt.index_launch(
            g,
            dom,
            &[
                ArgRef::Partition(ap, row),
                ArgRef::Partition(bp, col),
                ct.into(),
            ],
            &[],
        )?;
    }
    Ok(())
}
