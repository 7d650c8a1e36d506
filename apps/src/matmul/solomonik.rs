//! Solomonik's 2.5-D algorithm on an s x s x c grid: layer 0 holds the inputs (the tile
//! partitions of A and B), which are replicated onto layers 1..c (3-D regions `a_rep`/`b_rep`,
//! partitions `a_layers`/`b_layers`, colors (layer, i, j)), each layer l skewed as if Cannon had
//! already run l * s / c steps; layer 0 reads its first, skewed operands straight from the
//! inputs (the skew is the runtime's copy wherever a tile lives elsewhere). Every layer then
//! runs s / c Cannon steps (shifts into the double buffers `a_next`/`b_next`), and every step's
//! product is reduced into C (sum) across layers.

use super::common::{colors, copy_task, gemm_task, init_task, CMode, Elem, Grid, Job, MatmulSpec};
use crate::{AppError, NamedMapper, Precision};
use runtime::{ArgRef, Point, Proj, Rect};

runtime::app_names! {
    /// Task and region names of the app, for compile-time checks of its mappers.
    pub mod names {
        init_tiles(tile: [a_tiles, b_tiles, c_tiles, a, b, c]);
        replicate(src: [a_tiles, b_tiles, a, b], dst: [a_layers, b_layers, a_rep, b_rep]);
        shift_a(src: [a_tiles, a_layers, a_next, a, a_rep, a_buf], dst: [a_layers, a_next, a_rep, a_buf]);
        shift_b(src: [b_tiles, b_layers, b_next, b, b_rep, b_buf], dst: [b_layers, b_next, b_rep, b_buf]);
        cannon_step(a_tile: [a_tiles, a_layers, a_next, a, a_rep, a_buf], b_tile: [b_tiles, b_layers, b_next, b, b_rep, b_buf], c: [c_tiles, c]);
    }
}

runtime::mapper! {
    pub SolomonikExpert for names;
    // Solomonik's 2.5-D matrix multiplication: expert mapper.
    //
    // App `solomonik` (tasks and region arguments, in order):
    //   init_tiles(tile)                  index launch over the s x s tile grid of one matrix
    //   replicate(src, dst)               index launch over (i, j, l), l >= 1: copies tile (i, j) of
    //                                     A or B, skewed for layer l, into layer l (a_layers,
    //                                     b_layers); layer 0 starts from the inputs themselves
    //   cannon_step(a_tile, b_tile, c)    index launch over (i, j, l): one of the layer's s/c
    //                                     multiplies, reduced (sum) into c(i, j); inputs read-only
    //   shift_a(src, dst), shift_b(src, dst)
    //                                     index launches over (i, j, l) within each layer
    // Regions a, b, c, a_rep, b_rep, a_buf, b_buf; partitions a_tiles, b_tiles, c_tiles,
    // a_layers, b_layers, a_next, b_next.
    // GPUs when the machine has them (their cuBLAS variant takes column-major tiles), else CPUs.

    Task * GPU,CPU;

    Region * * GPU FBMEM;
    Region * * CPU SYSMEM;

    Layout * * * SOA C_order;
    Layout * * GPU SOA F_order;

    InstanceLimit cannon_step GPU 8;
    InstanceLimit replicate GPU 8;
    CollectMemory cannon_step a_tile;
    CollectMemory cannon_step b_tile;

    m = Machine(GPU).volume > 0 ? Machine(GPU) : Machine(CPU);
    mflat = m.merge(0, 1);

    // Layers are spread across the machine: a 3-D decomposition of all processors with the
    // launch's aspect ratio; each layer gets a 2-D face, tiles are dealt cyclically on it.
    def layered(Task task) {
        ip = task.ipoint;
        g = mflat.decompose(0, task.ispace);
        return g[ip[0] % g.size[0], ip[1] % g.size[1], ip[2] % g.size[2]];
    }

    // 2-D launches (init) use the layer-0 face.
    def layer0(Task task) {
        ip = task.ipoint;
        is = task.ispace;
        g = mflat.decompose(0, (is[0], is[1], 1));
        return g[ip[0] % g.size[0], ip[1] % g.size[1], 0];
    }

    IndexTaskMap replicate, cannon_step, shift_a, shift_b layered;
    IndexTaskMap init_tiles layer0;
}

/// The app.
pub static SPEC: MatmulSpec = MatmulSpec {
    name: "solomonik",
    description: "Solomonik 2.5-D: inputs replicated on c layers, each layer runs 1/c of Cannon's steps, C reduced across layers",
    expert: crate::expert!(SolomonikExpert),
    mappers: &[NamedMapper {
        name: "zcmem",
        about: "the expert with every GPU instance in zero-copy memory",
        source: include_str!("zcmem/solomonik.mapper"),
    }],
    gemm_tasks: &["cannon_step"],
    layout_rules: super::gemm_rules!("cannon_step"),
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

const A_LAYERS: &[&str] = &["a_layers", "a_next", "a_rep", "a_buf"];
const B_LAYERS: &[&str] = &["b_layers", "b_next", "b_rep", "b_buf"];
/// What a step or a shift reads: layer 0 reads the inputs at its first step.
const A_SRC: &[&str] = &["a_tiles", "a_layers", "a_next", "a", "a_rep", "a_buf"];
const B_SRC: &[&str] = &["b_tiles", "b_layers", "b_next", "b", "b_rep", "b_buf"];

fn declare_t<T: Elem>() -> runtime::App {
    let mut app = runtime::App::new("solomonik");
    app.task(init_task::<T>(&[
        "a_tiles", "b_tiles", "c_tiles", "a", "b", "c",
    ]));
    app.task(copy_task::<T>(
        "replicate",
        &["a_tiles", "b_tiles", "a", "b"],
        &["a_layers", "b_layers", "a_rep", "b_rep"],
    ));
    app.task(copy_task::<T>("shift_a", A_SRC, A_LAYERS));
    app.task(copy_task::<T>("shift_b", B_SRC, B_LAYERS));
    app.task(gemm_task::<T>(
        "cannon_step",
        [
            ("a_tile", A_SRC),
            ("b_tile", B_SRC),
            ("c", &["c_tiles", "c"]),
        ],
        CMode::Reduce,
    ));
    app
}

fn grid(procs: u32) -> Grid {
    let p = f64::from(procs.max(1));
    let c = (p.cbrt().floor() as i64).max(2);
    let s = ((p / c as f64).sqrt().ceil() as i64).max(c);
    let s = (s + c - 1) / c * c;
    Grid {
        dims: vec![s, c],
        multiple: s,
        text: format!("grid {s}x{s}x{c} ({c} layers)"),
    }
}

fn layered_region(job: &mut Job, name: &str, c: i64) -> Result<runtime::RegionId, AppError> {
    let n = job.n;
    job.region(
        name,
        Rect::new(Point::p3(0, 0, 0), Point::p3(c - 1, n - 1, n - 1)),
    )
}

fn body(job: &mut Job) -> Result<(), AppError> {
    let (s, c) = match job.grid.dims[..] {
        [s, c] => (s, c),
        _ => return Err(AppError::Config("solomonik: bad grid".into())),
    };
    let steps = s / c;
    let (a, b, cm) = (job.a, job.b, job.c);
    let at = job.rt.partition_equal(a, "a_tiles", &[s, s])?;
    let bt = job.rt.partition_equal(b, "b_tiles", &[s, s])?;
    let ct = job.rt.partition_equal(cm, "c_tiles", &[s, s])?;
    let a_rep = layered_region(job, "a_rep", c)?;
    let b_rep = layered_region(job, "b_rep", c)?;
    let a_buf = layered_region(job, "a_buf", c)?;
    let b_buf = layered_region(job, "b_buf", c)?;
    let al = job.rt.partition_equal(a_rep, "a_layers", &[c, s, s])?;
    let bl = job.rt.partition_equal(b_rep, "b_layers", &[c, s, s])?;
    let an = job.rt.partition_equal(a_buf, "a_next", &[c, s, s])?;
    let bn = job.rt.partition_equal(b_buf, "b_next", &[c, s, s])?;
    let face = colors(&[s, s])?;
    job.init(at, face, 0)?;
    job.init(bt, face, 1)?;
    job.init(ct, face, 2)?;
    job.start_clock()?;
    let (rep, sa, sb, step) = (
        job.task("replicate")?,
        job.task("shift_a")?,
        job.task("shift_b")?,
        job.task("cannon_step")?,
    );
    let dom = colors(&[s, s, c])?;
    // Layer 0 (the inputs' layer) and the layers the inputs are replicated onto: launches
    // over (i, j, l) with l in 0..c - 1 standing for layer l + 1.
    let front = colors(&[s, s, 1])?;
    let back = colors(&[s, s, c - 1])?;
    // Launch point (i, j, l) -> color (l + dl, i + di, j + dj) of a layered partition.
    let layer = |dl: i64, di: i64, dj: i64| {
        Proj::func(move |p: &Point| {
            Point::p3(p.get(2) + dl, (p.get(0) + di) % s, (p.get(1) + dj) % s)
        })
    };
    // The input tiles layer l works on at step t of its s / c Cannon steps: layer l starts at
    // Cannon step l * s / c, so C tile (i, j) multiplies A(i, i + j + l s / c + t) by
    // B(i + j + l s / c + t, j). `dl` as in `layer`.
    let input_a = move |dl: i64, t: i64| {
        ArgRef::Partition(
            at,
            Proj::func(move |p: &Point| {
                let (i, j, l) = (p.get(0), p.get(1), p.get(2) + dl);
                Point::p2(i, (i + j + l * steps + t) % s)
            }),
        )
    };
    let input_b = move |dl: i64, t: i64| {
        ArgRef::Partition(
            bt,
            Proj::func(move |p: &Point| {
                let (i, j, l) = (p.get(0), p.get(1), p.get(2) + dl);
                Point::p2((i + j + l * steps + t) % s, j)
            }),
        )
    };
    job.rt.index_launch(
        rep,
        back,
        &[input_a(1, 0), ArgRef::Partition(al, layer(1, 0, 0))],
        &[],
    )?;
    job.rt.index_launch(
        rep,
        back,
        &[input_b(1, 0), ArgRef::Partition(bl, layer(1, 0, 0))],
        &[],
    )?;
    let c_of = || Proj::func(|p: &Point| Point::p2(p.get(0), p.get(1)));
    let (mut cur_a, mut cur_b, mut next_a, mut next_b) = (al, bl, an, bn);
    for t in 0..steps {
        // At step 0, layer 0's operands are the inputs; afterwards every layer's are in the
        // layered buffers.
        let launches = if t == 0 {
            vec![
                (front, input_a(0, 0), input_b(0, 0)),
                (
                    back,
                    ArgRef::Partition(cur_a, layer(1, 0, 0)),
                    ArgRef::Partition(cur_b, layer(1, 0, 0)),
                ),
            ]
        } else {
            vec![(
                dom,
                ArgRef::Partition(cur_a, layer(0, 0, 0)),
                ArgRef::Partition(cur_b, layer(0, 0, 0)),
            )]
        };
        for (d, a_src, b_src) in launches {
            job.rt
                .index_launch(step, d, &[a_src, b_src, ArgRef::Partition(ct, c_of())], &[])?;
        }
        if t + 1 < steps {
            // A shifts one tile left, B one tile up (layer 0's first shift reads the inputs).
            let shifts = if t == 0 {
                vec![
                    (front, 0, input_a(0, 1), input_b(0, 1)),
                    (
                        back,
                        1,
                        ArgRef::Partition(cur_a, layer(1, 0, 1)),
                        ArgRef::Partition(cur_b, layer(1, 1, 0)),
                    ),
                ]
            } else {
                vec![(
                    dom,
                    0,
                    ArgRef::Partition(cur_a, layer(0, 0, 1)),
                    ArgRef::Partition(cur_b, layer(0, 1, 0)),
                )]
            };
            for (d, dl, a_src, b_src) in shifts {
                job.rt.index_launch(
                    sa,
                    d,
                    &[a_src, ArgRef::Partition(next_a, layer(dl, 0, 0))],
                    &[],
                )?;
                job.rt.index_launch(
                    sb,
                    d,
                    &[b_src, ArgRef::Partition(next_b, layer(dl, 0, 0))],
                    &[],
                )?;
            }
            std::mem::swap(&mut cur_a, &mut next_a);
            std::mem::swap(&mut cur_b, &mut next_b);
        }
    }
    Ok(())
}
