//! PUMMA, the block-cyclic SUMMA/Fox hybrid: the matrices are cut into a t x t tile grid
//! (t = twice the processor grid, so tiles are dealt block-cyclically). At step k, tile
//! (i, (i + k) mod t) of A is broadcast along row i: copied once into row i's buffer
//! `a_bcast(i, k mod 2)` (double-buffered, so the next step's broadcast need not wait for this
//! step's multiplies), which every C tile of the row reads (the runtime copies it to each
//! memory that needs it, as the broadcast's messages would); every C tile multiplies it by its
//! current B tile, and B rolls one tile up its column (into the double buffer `b_next`).

use super::common::{
    colors, copy_task, gemm_task, init_task, square_grid, CMode, Elem, Grid, Job, MatmulSpec,
};
use crate::{AppError, NamedMapper, Precision};
use runtime::{ArgRef, Point, Proj, Rect};

runtime::app_names! {
    /// Task and region names of the app, for compile-time checks of its mappers.
    pub mod names {
        init_tiles(tile: [a_tiles, b_tiles, c_tiles, a, b, c]);
        broadcast_a(src: [a_tiles, a], dst: [a_bcast, a_bc]);
        roll_b(src: [b_tiles, b_next, b, b_buf], dst: [b_tiles, b_next, b, b_buf]);
        gemm(a_block: [a_bcast, a_bc], b_block: [b_tiles, b_next, b, b_buf], c: [c_tiles, c]);
    }
}

runtime::mapper! {
    pub PummaExpert for names;
    // PUMMA (block-cyclic SUMMA/Fox hybrid) matrix multiplication: expert mapper.
    //
    // App `pumma` (tasks and region arguments, in order):
    //   init_tiles(tile)             index launch over the t x t tile grid
    //   broadcast_a(src, dst)        index launch over (i, 0): step k copies tile (i, (i + k) % t)
    //                                of A into row i's buffer a_bcast(i, k % 2)
    //   roll_b(src, dst)             index launch: tile (i, j) of B rolls one step up its column
    //   gemm(a_block, b_block, c)    index launch: c(i, j) += a_bcast(i, k % 2) * b(i, j)
    // Regions a, b, c, a_bc, b_buf; partitions a_tiles, b_tiles, c_tiles, a_bcast, b_next.
    // GPUs when the machine has them (their cuBLAS variant takes column-major tiles), else CPUs.

    Task * GPU,CPU;

    Region * * GPU FBMEM;
    Region * * CPU SYSMEM;
    Region broadcast_a dst GPU FBMEM,ZCMEM; // the broadcast buffer falls back to zero-copy

    Layout * * * SOA C_order;
    Layout * * GPU SOA F_order Align==128;

    // No instance limit and no early collection: a tile grid fits the framebuffers at every
    // preset, and a limit (8 per GPU) stalls the mapping of the next step's broadcast and gemm
    // until instances are freed, which serialises copies behind kernels.

    m = Machine(GPU).volume > 0 ? Machine(GPU) : Machine(CPU);
    mflat = m.merge(0, 1);

    // Blocked: the tile grid is cut into a 2-D grid of blocks, one per processor (greedy
    // prime-factor split), numbered row-major over all processors. Each processor owns a
    // contiguous block of tiles, so a B tile's roll up its column stays on its processor except
    // at block edges (block-cyclic tiles cross a processor boundary at every roll), and row i's A
    // broadcast (launch (t, 1), one row per processor in order) runs on a processor of the block
    // row that reads it.
    def block2d(Task task) {
        ip = task.ipoint;
        is = task.ispace;
        g = mflat.greedy_split(0, is).size;
        return mflat[(ip[0] * g[0] / is[0]) * g[1] + ip[1] * g[1] / is[1]];
    }

    IndexTaskMap init_tiles, broadcast_a, roll_b, gemm block2d;
}

/// The app.
pub static SPEC: MatmulSpec = MatmulSpec {
    name: "pumma",
    description:
        "PUMMA: block-cyclic tiles; per step broadcast one A tile along each row, roll B up",
    expert: crate::expert!(PummaExpert),
    mappers: &[NamedMapper {
        name: "zcmem",
        about: "the expert with every GPU instance in zero-copy memory",
        source: include_str!("zcmem/pumma.mapper"),
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

const B_PARTS: &[&str] = &["b_tiles", "b_next", "b", "b_buf"];

fn declare_t<T: Elem>() -> runtime::App {
    let mut app = runtime::App::new("pumma");
    app.task(init_task::<T>(&[
        "a_tiles", "b_tiles", "c_tiles", "a", "b", "c",
    ]));
    app.task(copy_task::<T>(
        "broadcast_a",
        &["a_tiles", "a"],
        &["a_bcast", "a_bc"],
    ));
    app.task(copy_task::<T>("roll_b", B_PARTS, B_PARTS));
    app.task(gemm_task::<T>(
        "gemm",
        [
            ("a_block", &["a_bcast", "a_bc"]),
            ("b_block", B_PARTS),
            ("c", &["c_tiles", "c"]),
        ],
        CMode::ReadWrite,
    ));
    app
}

fn grid(procs: u32) -> Grid {
    let t = 2 * square_grid(procs);
    Grid {
        dims: vec![t],
        multiple: t,
        text: format!("tile grid {t}x{t} (block-cyclic)"),
    }
}

fn body(job: &mut Job) -> Result<(), AppError> {
    let t = job.grid.dims.first().copied().unwrap_or(2);
    let n = job.n;
    let sq = Rect::r2((0, 0), (n - 1, n - 1));
    let (a, b, c) = (job.a, job.b, job.c);
    // One tile-sized broadcast buffer per row and step parity.
    let a_bc = job.region("a_bc", Rect::r2((0, 0), (n - 1, 2 * (n / t) - 1)))?;
    let b_buf = job.region("b_buf", sq)?;
    let at = job.rt.partition_equal(a, "a_tiles", &[t, t])?;
    let bt = job.rt.partition_equal(b, "b_tiles", &[t, t])?;
    let ct = job.rt.partition_equal(c, "c_tiles", &[t, t])?;
    let ab = job.rt.partition_equal(a_bc, "a_bcast", &[t, 2])?;
    let bn = job.rt.partition_equal(b_buf, "b_next", &[t, t])?;
    let dom = colors(&[t, t])?;
    let rows = colors(&[t, 1])?;
    job.init(at, dom, 0)?;
    job.init(bt, dom, 1)?;
    job.init(ct, dom, 2)?;
    job.start_clock()?;
    let (bc, roll, gemm) = (
        job.task("broadcast_a")?,
        job.task("roll_b")?,
        job.task("gemm")?,
    );
    let (mut cur_b, mut next_b) = (bt, bn);
    for k in 0..t {
        let diag = Proj::func(move |q: &Point| Point::p2(q.get(0), (q.get(0) + k) % t));
        let buf = move || Proj::func(move |q: &Point| Point::p2(q.get(0), k % 2));
        job.rt.index_launch(
            bc,
            rows,
            &[ArgRef::Partition(at, diag), ArgRef::Partition(ab, buf())],
            &[],
        )?;
        job.rt.index_launch(
            gemm,
            dom,
            &[ArgRef::Partition(ab, buf()), cur_b.into(), ct.into()],
            &[],
        )?;
        if k + 1 < t {
            let up = Proj::func(move |q: &Point| Point::p2((q.get(0) + 1) % t, q.get(1)));
            job.rt.index_launch(
                roll,
                dom,
                &[ArgRef::Partition(cur_b, up), next_b.into()],
                &[],
            )?;
            std::mem::swap(&mut cur_b, &mut next_b);
        }
    }
    Ok(())
}
