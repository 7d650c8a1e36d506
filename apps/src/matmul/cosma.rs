//! COSMA: the (m, n, k) iteration space is decomposed for the processor count by the
//! communication-minimizing split (`auto_split_factors`, the DSL's `auto_split`) into a
//! pm x pn x pk parallel grid; when the A and B blocks of a processor exceed the memory budget
//! (here: the size of its C block, so that the working set is three C blocks) k is also split
//! sequentially into sk steps. Each step is one index launch over the parallel grid; when k is
//! split in parallel (pk > 1) the products are reduced into C with a sum reduction.

use super::common::{colors, gemm_task, init_task, CMode, Elem, Grid, Job, MatmulSpec};
use crate::{AppError, NamedMapper, Precision};
use mapper_core::space::auto_split_factors;
use runtime::{ArgRef, Point, Proj};

runtime::app_names! {
    /// Task and region names of the app, for compile-time checks of its mappers.
    pub mod names {
        init_tiles(tile: [a_blocks, b_blocks, c_blocks, a, b, c]);
        cosma_gemm(a_block: [a_blocks, a], b_block: [b_blocks, b], c_block: [c_blocks, c]);
        cosma_gemm_k(a_block: [a_blocks, a], b_block: [b_blocks, b], c_block: [c_blocks, c]);
    }
}

runtime::mapper! {
    pub CosmaExpert for names;
    // COSMA (communication-optimal matrix multiplication): expert mapper.
    //
    // App `cosma` (tasks and region arguments, in order):
    //   init_tiles(tile)                         index launch over a block grid of one matrix
    //   cosma_gemm(a_block, b_block, c_block)    index launch over (pm, pn, 1) per sequential step:
    //                                            c(i, j) += a(i, k) * b(k, j) in place
    //   cosma_gemm_k(a_block, b_block, c_block)  the same over (pm, pn, pk) when k is split in
    //                                            parallel: products reduced (sum) into c(i, j)
    // Regions a, b, c; partitions a_blocks, b_blocks, c_blocks.
    // GPUs when the machine has them (their cuBLAS variant takes column-major tiles), else the OMP
    // processors (one multi-threaded GEMM per block beats one single-core GEMM per CPU, which
    // also doubles the sequential k steps), else CPUs.

    Task * GPU,OMP,CPU;

    Region * * GPU FBMEM;
    Region * * CPU SYSMEM;
    Region * * OMP SOCKMEM,SYSMEM;
    Region * c_block GPU FBMEM,ZCMEM;

    Layout * * * SOA C_order;
    Layout * * GPU SOA F_order Align==128;

    InstanceLimit cosma_gemm GPU 8;
    InstanceLimit cosma_gemm_k GPU 8;
    CollectMemory cosma_gemm a_block;
    CollectMemory cosma_gemm b_block;
    CollectMemory cosma_gemm_k a_block;
    CollectMemory cosma_gemm_k b_block;

    m = Machine(GPU).volume > 0 ? Machine(GPU) : Machine(OMP).volume > 0 ? Machine(OMP) : Machine(CPU);
    mflat = m.merge(0, 1);

    // Owner computes: the (m, n, k) grid of GEMMs and every matrix's block grid are numbered
    // row-major and cut into equal consecutive runs, one per processor (over all nodes). GEMM
    // (i, j, 0) then runs where init put C block (i, j), and the k-split partial sums of one C
    // block land on neighbouring processors.
    def cosma3d(Task task) {
        ip = task.ipoint;
        is = task.ispace;
        lin = (ip[0] * is[1] + ip[1]) * is[2] + ip[2];
        return mflat[lin * mflat.size[0] / (is[0] * is[1] * is[2])];
    }

    // 2-D launches (init): the same row-major blocks over a matrix's block grid.
    def cosma2d(Task task) {
        ip = task.ipoint;
        is = task.ispace;
        return mflat[(ip[0] * is[1] + ip[1]) * mflat.size[0] / (is[0] * is[1])];
    }

    IndexTaskMap cosma_gemm, cosma_gemm_k cosma3d;
    IndexTaskMap init_tiles cosma2d;
}

/// The app.
pub static SPEC: MatmulSpec = MatmulSpec {
    name: "cosma",
    description: "COSMA: communication-minimizing (m, n, k) decomposition, parallel then sequential splits, k reduced",
    expert: crate::expert!(CosmaExpert),
    mappers: &[NamedMapper {
        name: "zcmem",
        about: "the expert with every GPU instance in zero-copy memory",
        source: include_str!("zcmem/cosma.mapper"),
    }],
    gemm_tasks: &["cosma_gemm", "cosma_gemm_k"],
    layout_rules: super::gemm_rules!("cosma_gemm", "cosma_gemm_k"),
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
    let mut app = runtime::App::new("cosma");
    app.task(init_task::<T>(&[
        "a_blocks", "b_blocks", "c_blocks", "a", "b", "c",
    ]));
    let args: [(&str, &[&str]); 3] = [
        ("a_block", &["a_blocks", "a"]),
        ("b_block", &["b_blocks", "b"]),
        ("c_block", &["c_blocks", "c"]),
    ];
    app.task(gemm_task::<T>("cosma_gemm", args, CMode::ReadWrite));
    app.task(gemm_task::<T>("cosma_gemm_k", args, CMode::Reduce));
    app
}

fn grid(procs: u32) -> Grid {
    let p = i64::from(procs.max(1));
    let f = auto_split_factors(p, &[1024, 1024, 1024]).unwrap_or_else(|_| vec![p, 1, 1]);
    let (pm, pn, pk) = (
        f.first().copied().unwrap_or(1),
        f.get(1).copied().unwrap_or(1),
        f.get(2).copied().unwrap_or(1),
    );
    // Sequential k split: a k chunk no wider than the C block is tall or wide.
    let sk = ((pm.max(pn) + pk - 1) / pk).max(1);
    Grid {
        dims: vec![pm, pn, pk, sk],
        multiple: pm * pn * pk * sk,
        text: format!("parallel {pm}x{pn}x{pk}, {sk} sequential k steps"),
    }
}

fn body(job: &mut Job) -> Result<(), AppError> {
    let (pm, pn, pk, sk) = match job.grid.dims[..] {
        [pm, pn, pk, sk] => (pm, pn, pk, sk),
        _ => return Err(AppError::Config("cosma: bad grid".into())),
    };
    let kb = pk * sk;
    let (a, b, c) = (job.a, job.b, job.c);
    let ab = job.rt.partition_equal(a, "a_blocks", &[pm, kb])?;
    let bb = job.rt.partition_equal(b, "b_blocks", &[kb, pn])?;
    let cb = job.rt.partition_equal(c, "c_blocks", &[pm, pn])?;
    job.init(ab, colors(&[pm, kb])?, 0)?;
    job.init(bb, colors(&[kb, pn])?, 1)?;
    job.init(cb, colors(&[pm, pn])?, 2)?;
    job.start_clock()?;
    let task = if pk > 1 {
        job.task("cosma_gemm_k")?
    } else {
        job.task("cosma_gemm")?
    };
    let dom = colors(&[pm, pn, pk])?;
    for t in 0..sk {
        let a_of = Proj::func(move |p: &Point| Point::p2(p.get(0), p.get(2) * sk + t));
        let b_of = Proj::func(move |p: &Point| Point::p2(p.get(2) * sk + t, p.get(1)));
        let c_of = Proj::func(|p: &Point| Point::p2(p.get(0), p.get(1)));
        job.rt.index_launch(
            task,
            dom,
            &[
                ArgRef::Partition(ab, a_of),
                ArgRef::Partition(bb, b_of),
                ArgRef::Partition(cb, c_of),
            ],
            &[],
        )?;
    }
    Ok(())
}
