//! Johnson's 3-D algorithm on a q x q x q cube of tasks: point (i, j, k) multiplies A's tile
//! (i, k) (on the A face, broadcast along j) by B's tile (k, j) (on the B face, broadcast along
//! i) and reduces the product into C's tile (i, j) with a sum reduction along k.

use super::common::{colors, gemm_task, init_task, CMode, Elem, Grid, Job, MatmulSpec};
use crate::{AppError, NamedMapper, Precision};
use runtime::{ArgRef, Point, Proj};

runtime::app_names! {
    /// Task and region names of the app, for compile-time checks of its mappers.
    pub mod names {
        init_tiles(tile: [a_tiles, b_tiles, c_tiles, a, b, c]);
        gemm_3d(a_face: [a_tiles, a], b_face: [b_tiles, b], c: [c_tiles, c]);
    }
}

runtime::mapper! {
    pub JohnsonExpert for names;
    // Johnson's 3-D matrix multiplication: expert mapper.
    //
    // App `johnson` (tasks and region arguments, in order):
    //   init_tiles(tile)              index launch over the q x q tile grid of one matrix
    //   gemm_3d(a_face, b_face, c)    index launch over the q x q x q cube: point (i, j, k)
    //                                 reduces a(i, k) * b(k, j) into c(i, j) (sum); inputs read-only
    // Regions a, b, c; partitions a_tiles, b_tiles, c_tiles.
    // GPUs when the machine has them (their cuBLAS variant takes column-major tiles), else CPUs.

    Task * GPU,CPU;

    Region * * GPU FBMEM;
    Region * * CPU SYSMEM;

    Layout * * * SOA C_order;
    Layout * * GPU SOA F_order;

    InstanceLimit gemm_3d GPU 8;
    CollectMemory gemm_3d a_face;
    CollectMemory gemm_3d b_face;

    m = Machine(GPU).volume > 0 ? Machine(GPU) : Machine(CPU);
    mflat = m.merge(0, 1);

    // The cube of tasks is laid over a 3-D decomposition of all processors that minimizes the
    // communication surface (blocked), and dealt cyclically where the cube is larger.
    def cube(Task task) {
        ip = task.ipoint;
        g = mflat.auto_split(0, task.ispace);
        return g[ip[0] % g.size[0], ip[1] % g.size[1], ip[2] % g.size[2]];
    }

    // Tile grids (init): the k = 0 face of the same decomposition.
    def face(Task task) {
        ip = task.ipoint;
        is = task.ispace;
        g = mflat.auto_split(0, (is[0], is[1], is[0]));
        return g[ip[0] % g.size[0], ip[1] % g.size[1], 0];
    }

    IndexTaskMap gemm_3d cube;
    IndexTaskMap init_tiles face;
}

/// The app.
pub static SPEC: MatmulSpec = MatmulSpec {
    name: "johnson",
    description:
        "Johnson 3-D: q^3 tasks; A and B broadcast along the third axis, C reduced along k",
    expert: crate::expert!(JohnsonExpert),
    mappers: &[NamedMapper {
        name: "zcmem",
        about: "the expert with every GPU instance in zero-copy memory",
        source: include_str!("zcmem/johnson.mapper"),
    }],
    gemm_tasks: &["gemm_3d"],
    layout_rules: super::gemm_rules!("gemm_3d"),
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
    let mut app = runtime::App::new("johnson");
    app.task(init_task::<T>(&[
        "a_tiles", "b_tiles", "c_tiles", "a", "b", "c",
    ]));
    app.task(gemm_task::<T>(
        "gemm_3d",
        [
            ("a_face", &["a_tiles", "a"]),
            ("b_face", &["b_tiles", "b"]),
            ("c", &["c_tiles", "c"]),
        ],
        CMode::Reduce,
    ));
    app
}

fn grid(procs: u32) -> Grid {
    let p = f64::from(procs.max(1));
    let mut q = (p.cbrt().round() as i64).max(1);
    while q * q * q < i64::from(procs) {
        q += 1;
    }
    let q = q.max(2);
    Grid {
        dims: vec![q],
        multiple: q,
        text: format!("cube {q}x{q}x{q}"),
    }
}

fn body(job: &mut Job) -> Result<(), AppError> {
    let q = job.grid.dims.first().copied().unwrap_or(2);
    let (a, b, c) = (job.a, job.b, job.c);
    let at = job.rt.partition_equal(a, "a_tiles", &[q, q])?;
    let bt = job.rt.partition_equal(b, "b_tiles", &[q, q])?;
    let ct = job.rt.partition_equal(c, "c_tiles", &[q, q])?;
    let face = colors(&[q, q])?;
    job.init(at, face, 0)?;
    job.init(bt, face, 1)?;
    job.init(ct, face, 2)?;
    job.start_clock()?;
    let g = job.task("gemm_3d")?;
    let a_of = Proj::func(|p: &Point| Point::p2(p.get(0), p.get(2)));
    let b_of = Proj::func(|p: &Point| Point::p2(p.get(2), p.get(1)));
    let c_of = Proj::func(|p: &Point| Point::p2(p.get(0), p.get(1)));
    job.rt.index_launch(
        g,
        colors(&[q, q, q])?,
        &[
            ArgRef::Partition(at, a_of),
            ArgRef::Partition(bt, b_of),
            ArgRef::Partition(ct, c_of),
        ],
        &[],
    )?;
    Ok(())
}
