//! Cannon's algorithm on a p x p tile grid: an initial skew (row i of A moves i tiles left,
//! column j of B moves j tiles up), then p steps of `c(i, j) += a(i, j) * b(i, j)`, with A
//! shifted one tile left and B one tile up between steps. Shifts are copy tasks between the
//! tile partition of each matrix and a double buffer (`a_buf`/`b_buf`, partitions `a_next`/
//! `b_next`), so every tile really moves to its neighbour's position at every step.

use super::common::{
    colors, copy_task, gemm_task, init_task, square_grid, CMode, Elem, Grid, Job, MatmulSpec,
};
use crate::{AppError, NamedMapper, Precision};
use runtime::{ArgRef, Point, Proj, Rect};

runtime::app_names! {
    /// Task and region names of the app, for compile-time checks of its mappers.
    pub mod names {
        init_tiles(tile: [a_tiles, b_tiles, c_tiles, a, b, c]);
        shift_a(src: [a_tiles, a_next, a, a_buf], dst: [a_tiles, a_next, a, a_buf]);
        shift_b(src: [b_tiles, b_next, b, b_buf], dst: [b_tiles, b_next, b, b_buf]);
        gemm(a: [a_tiles, a_next, a, a_buf], b: [b_tiles, b_next, b, b_buf], c: [c_tiles, c]);
    }
}

runtime::mapper! {
    pub CannonExpert for names;
    // Cannon's matrix multiplication: expert mapper.
    //
    // App `cannon` (tasks and region arguments, in order):
    //   init_tiles(tile)        index launch over a tile grid (fills A and B, zeroes C)
    //   shift_a(src, dst)       index launch: tile (i, j) of A moves one step left along row i
    //   shift_b(src, dst)       index launch: tile (i, j) of B moves one step up along column j
    //   gemm(a, b, c)           index launch: c(i, j) += a(i, j) * b(i, j); `a`, `b` read-only
    // Regions a, b, c, a_buf, b_buf; tile partitions a_tiles, b_tiles, c_tiles, a_next, b_next.
    // GPUs when the machine has them (their cuBLAS variant takes column-major tiles), else CPUs.

    Task * GPU,CPU;

    Region * * GPU FBMEM;
    Region * * CPU SYSMEM;

    Layout * * * SOA C_order;
    Layout * * GPU SOA F_order;

    // Backpressure on GPUs: two tasks per GPU in flight (on 4-GPU nodes), so tiles do not
    // pile up in FBMEM.
    InstanceLimit gemm GPU 8;
    InstanceLimit shift_a GPU 8;
    InstanceLimit shift_b GPU 8;

    // A step's input tiles are consumed once: free extra copies as soon as the step is done.
    CollectMemory gemm a;
    CollectMemory gemm b;

    // All processors of the kind the tasks run on, as a near-square 2-D grid (node-major), so
    // tile rows are blocked over nodes and tiles are dealt cyclically over the grid.
    m = Machine(GPU).volume > 0 ? Machine(GPU) : Machine(CPU);
    grid = m.merge(0, 1).balance_split(0, 2);

    def block_cyclic(Task task) {
        ip = task.ipoint;
        return grid[ip[0] % grid.size[0], ip[1] % grid.size[1]];
    }

    IndexTaskMap init_tiles, shift_a, shift_b, gemm block_cyclic;
}

/// The app.
pub static SPEC: MatmulSpec = MatmulSpec {
    name: "cannon",
    description:
        "Cannon's algorithm: p x p tile grid, initial skew, p steps of nearest-neighbour shifts",
    expert: crate::expert!(CannonExpert),
    mappers: &[NamedMapper {
        name: "zcmem",
        about: "the expert with every GPU instance in zero-copy memory",
        source: include_str!("zcmem/cannon.mapper"),
    }],
    gemm_tasks: &["gemm"],
    layout_rules: super::gemm_rules!("gemm"),
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

const A_PARTS: &[&str] = &["a_tiles", "a_next", "a", "a_buf"];
const B_PARTS: &[&str] = &["b_tiles", "b_next", "b", "b_buf"];

fn declare_t<T: Elem>() -> runtime::App {
    let mut app = runtime::App::new("cannon");
    app.task(init_task::<T>(&[
        "a_tiles", "b_tiles", "c_tiles", "a", "b", "c",
    ]));
    app.task(copy_task::<T>("shift_a", A_PARTS, A_PARTS));
    app.task(copy_task::<T>("shift_b", B_PARTS, B_PARTS));
    app.task(gemm_task::<T>(
        "gemm",
        [("a", A_PARTS), ("b", B_PARTS), ("c", &["c_tiles", "c"])],
        CMode::ReadWrite,
    ));
    app
}

fn grid(procs: u32) -> Grid {
    let p = square_grid(procs);
    Grid {
        dims: vec![p],
        multiple: p,
        text: format!("grid {p}x{p}"),
    }
}

fn body(job: &mut Job) -> Result<(), AppError> {
    let p = job.grid.dims.first().copied().unwrap_or(2);
    let n = job.n;
    let sq = Rect::r2((0, 0), (n - 1, n - 1));
    let (a, b, c) = (job.a, job.b, job.c);
    let a_buf = job.region("a_buf", sq)?;
    let b_buf = job.region("b_buf", sq)?;
    let at = job.rt.partition_equal(a, "a_tiles", &[p, p])?;
    let bt = job.rt.partition_equal(b, "b_tiles", &[p, p])?;
    let ct = job.rt.partition_equal(c, "c_tiles", &[p, p])?;
    let an = job.rt.partition_equal(a_buf, "a_next", &[p, p])?;
    let bn = job.rt.partition_equal(b_buf, "b_next", &[p, p])?;
    let dom = colors(&[p, p])?;
    job.init(at, dom, 0)?;
    job.init(bt, dom, 1)?;
    job.init(ct, dom, 2)?;
    job.start_clock()?;
    let (sa, sb, gemm) = (
        job.task("shift_a")?,
        job.task("shift_b")?,
        job.task("gemm")?,
    );
    // Initial skew: a_next(i, j) <- a(i, i + j), b_next(i, j) <- b(i + j, j).
    let skew_a = Proj::func(move |q: &Point| Point::p2(q.get(0), (q.get(0) + q.get(1)) % p));
    let skew_b = Proj::func(move |q: &Point| Point::p2((q.get(0) + q.get(1)) % p, q.get(1)));
    job.rt
        .index_launch(sa, dom, &[ArgRef::Partition(at, skew_a), an.into()], &[])?;
    job.rt
        .index_launch(sb, dom, &[ArgRef::Partition(bt, skew_b), bn.into()], &[])?;
    let (mut cur_a, mut cur_b, mut next_a, mut next_b) = (an, bn, at, bt);
    for step in 0..p {
        job.rt
            .index_launch(gemm, dom, &[cur_a.into(), cur_b.into(), ct.into()], &[])?;
        if step + 1 < p {
            let left = Proj::func(move |q: &Point| Point::p2(q.get(0), (q.get(1) + 1) % p));
            let up = Proj::func(move |q: &Point| Point::p2((q.get(0) + 1) % p, q.get(1)));
            job.rt.index_launch(
                sa,
                dom,
                &[ArgRef::Partition(cur_a, left), next_a.into()],
                &[],
            )?;
            job.rt
                .index_launch(sb, dom, &[ArgRef::Partition(cur_b, up), next_b.into()], &[])?;
            std::mem::swap(&mut cur_a, &mut next_a);
            std::mem::swap(&mut cur_b, &mut next_b);
        }
    }
    Ok(())
}
