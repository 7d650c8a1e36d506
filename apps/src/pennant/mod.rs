//! PENNANT: Lagrangian staggered-grid hydrodynamics (LANL's mini-app) on 2-D rectangular quad
//! meshes in RZ geometry: a predictor-corrector cycle with a polytropic gas, TTS subzonal
//! pressure forces and the QCS artificial viscosity.
//!
//! [`seq`] is the sequential method (checked against the original's reference outputs); the
//! app runs it on the task runtime: zones and their sides blocked into pieces of whole zone
//! rows ([`pieces`]), points split into `points_private` (one piece), `points_shared`
//! (boundary points, each owned by the lowest piece touching it) and `points_ghost` (every
//! boundary point a piece touches, aliased). Each cycle is one index launch per phase; the
//! corner sums are written into private points and reduced (sum) into the ghost points, and
//! each piece's dt limit comes back as a future, min-reduced into the next cycle's dt.
//!
//! Verification: the zone densities, energies and pressures against [`seq`] run on the same
//! problem (the only difference is the order of the additions at boundary points, so the
//! fields agree to rounding); the piece count is a parameter, so every mapping of a problem
//! gives bitwise the same result.

mod expert;
#[cfg(feature = "cuda")]
mod gpu;
pub mod kernels;
pub mod params;
pub mod pieces;
pub mod seq;

pub use expert::{names, PennantExpert};
pub use params::Params;

use crate::{
    AppError, Application, Baseline, Expert, Job, NamedMapper, Outcome, ParamDecl, Preset, Problem,
    RunReport, Verification,
};
use kernels::{Setup, POINT_FIELDS, SIDE_FIELDS, ZONE_FIELDS};
use runtime::{ArgRef, FieldSpace, IndexSpace, Point, Privilege, Rect, ReduceOp, TaskDecl, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The PENNANT app.
pub struct Pennant;

/// The registered instance.
pub static PENNANT: Pennant = Pennant;

/// Longest the baseline ([`Application::baseline`]) runs the sequential code, in seconds.
pub const BASELINE_SECONDS: f64 = 2.0;

/// Relative tolerance of the comparison with the sequential run.
pub const REL_TOL: f64 = 1e-8;
/// Absolute tolerance of the comparison with the sequential run.
pub const ABS_TOL: f64 = 1e-10;

const PARAMS: &[ParamDecl] = &[
    ParamDecl {
        name: "nz",
        about: "zones along x (0: the input's mesh; y scales with it)",
        min: 0,
        max: 1 << 14,
    },
    ParamDecl {
        name: "cycles",
        about: "cycles to run (0: the input's cstop)",
        min: 0,
        max: 1 << 20,
    },
    ParamDecl {
        name: "pieces",
        about: "pieces (blocks of zone rows; fixed, so every mapping gives the same result)",
        min: 1,
        max: 1 << 14,
    },
    ParamDecl {
        name: "problem",
        about: "input: 0 sedov, 1 leblanc",
        min: 0,
        max: 1,
    },
];

const PRESETS: &[Preset] = &[
    Preset {
        name: "tiny",
        about: "the sedov input as given (45x45 zones); for tests",
        values: &[("nz", 0), ("cycles", 0), ("pieces", 4), ("problem", 0)],
    },
    Preset {
        name: "small",
        about: "sedov on 120x120 zones, 20 cycles (the tuner's default)",
        values: &[("nz", 120), ("cycles", 20), ("pieces", 4), ("problem", 0)],
    },
    Preset {
        name: "large",
        about: "the CPU benchmark: sedov on 400x400 zones, 20 cycles",
        values: &[("nz", 400), ("cycles", 20), ("pieces", 8), ("problem", 0)],
    },
    Preset {
        name: "gpu",
        about: "one GPU: sedov on 2000x2000 zones, 20 cycles",
        values: &[("nz", 2000), ("cycles", 20), ("pieces", 4), ("problem", 0)],
    },
    Preset {
        name: "multigpu",
        about: "four GPUs: sedov on 4000x4000 zones, 20 cycles",
        values: &[("nz", 4000), ("cycles", 20), ("pieces", 16), ("problem", 0)],
    },
];

const MAPPERS: &[NamedMapper] = &[NamedMapper {
    name: "all_fbmem",
    about: "the expert with the boundary points in the framebuffer too",
    source: include_str!("all_fbmem.mapper"),
}];

/// The parameters of `problem`: the input file with the mesh and cycle overrides.
pub fn problem_params(problem: &Problem) -> Params {
    let text = match problem.get("problem") {
        1 => params::LEBLANC_PNT,
        _ => params::SEDOV_PNT,
    };
    let mut p = Params::parse(text).expect("the bundled inputs parse");
    let nz = problem.get("nz");
    if nz > 0 {
        // Square zones over the input's domain, as the original's mesh parameters would give.
        let scale = nz as f64 / p.nzx as f64;
        p.nzx = nz as usize;
        p.nzy = ((p.nzy as f64 * scale).round() as usize).max(1);
        // The first step's length scales with the zones' size (the Courant limit of the hot
        // zones; the input's dtinit is for its own mesh).
        if scale > 1.0 {
            p.dtinit /= scale;
        }
    }
    let cycles = problem.get("cycles");
    if cycles > 0 {
        p.cstop = cycles as usize;
    }
    p
}

const ZP: &[&str] = &["zones_p", "zones"];
const SP: &[&str] = &["sides_p", "sides"];
const PRIV: &[&str] = &["points_private", "points"];
const SHARED: &[&str] = &["points_shared", "points"];
const GHOST: &[&str] = &["points_ghost", "points"];

impl Application for Pennant {
    fn name(&self) -> &'static str {
        "pennant"
    }
    fn description(&self) -> &'static str {
        "PENNANT Lagrangian hydrodynamics (sedov/leblanc) on zone-row pieces, boundary points reduced through ghost partitions"
    }
    fn expert(&self) -> Expert {
        expert::expert()
    }
    fn mappers(&self) -> &'static [NamedMapper] {
        MAPPERS
    }
    fn params(&self) -> &'static [ParamDecl] {
        PARAMS
    }
    fn presets(&self) -> &'static [Preset] {
        PRESETS
    }

    fn declare(&self, problem: &Problem) -> runtime::App {
        use Privilege::{Read, ReadWrite, WriteDiscard};
        let s = Arc::new(Setup::new(problem_params(problem)));
        let sum = Privilege::Reduce(ReduceOp::Sum);
        let row = (s.mesh.nzx + 1) as f64;
        let ghost_at = |i: usize| -> Vec<f64> {
            (0..=i)
                .map(|k| if k == i { 2.0 * row } else { f64::INFINITY })
                .collect()
        };
        let mut app = runtime::App::new("pennant");
        macro_rules! body {
            ($f:ident) => {{
                let s = s.clone();
                move |ctx: &runtime::TaskCtx| kernels::$f(&s, ctx)
            }};
        }
        let pts_rw = ["pu0_x", "pu0_y", "pf_x", "pf_y"];
        app.task(
            TaskDecl::new("init_mesh")
                .arg("zones", WriteDiscard, ZONE_FIELDS, ZP)
                .arg("sides", WriteDiscard, SIDE_FIELDS, SP)
                .arg("points_private", WriteDiscard, POINT_FIELDS, PRIV)
                .arg("points_shared", WriteDiscard, POINT_FIELDS, SHARED)
                .all_kinds(body!(init_mesh))
                .cost(kernels::cost(60.0, &[128.0, 96.0, 88.0, 88.0], Vec::new()))
                .index_launch(),
        );
        let half = [
            "px_x", "px_y", "pu_x", "pu_y", "pu0_x", "pu0_y", "pxp_x", "pxp_y", "pf_x", "pf_y",
            "pmass",
        ];
        app.task(
            TaskDecl::new("adv_pos_half")
                .arg("points_private", ReadWrite, &half, PRIV)
                .arg("points_shared", ReadWrite, &half, SHARED)
                .all_kinds(kernels::adv_pos_half)
                .cost(kernels::cost(4.0, &[104.0, 104.0], Vec::new()))
                .index_launch(),
        );
        let geo_s = ["exp_x", "exp_y", "sareap", "elen"];
        let geo_z = ["zxp_x", "zxp_y", "zareap", "zvolp", "zdl"];
        let pxp = ["pxp_x", "pxp_y"];
        app.task(
            TaskDecl::new("calc_ctrs_vols")
                .arg("sides", ReadWrite, &geo_s, SP)
                .arg("zones", ReadWrite, &geo_z, ZP)
                .arg("points_private", Read, &pxp, PRIV)
                .arg("points_ghost", Read, &pxp, GHOST)
                .all_kinds(body!(calc_ctrs_vols))
                .cost(kernels::cost(20.0, &[32.0, 40.0, 16.0, 16.0], ghost_at(3)))
                .index_launch(),
        );
        app.task(
            TaskDecl::new("calc_forces")
                .arg(
                    "sides",
                    ReadWrite,
                    &[
                        "smf", "sareap", "exp_x", "exp_y", "cmaswt", "sfp_x", "sfp_y", "sft_x",
                        "sft_y",
                    ],
                    SP,
                )
                .arg(
                    "zones",
                    ReadWrite,
                    &[
                        "zr", "ze", "zm", "zvol", "zwrate", "zvolp", "zareap", "zxp_x", "zxp_y",
                        "zrp", "zp", "zss",
                    ],
                    ZP,
                )
                .all_kinds(body!(calc_forces))
                .cost(kernels::cost(30.0, &[72.0, 96.0], Vec::new()))
                .index_launch(),
        );
        let pxu = ["pxp_x", "pxp_y", "pu0_x", "pu0_y"];
        app.task(
            TaskDecl::new("calc_qcs")
                .arg(
                    "sides",
                    ReadWrite,
                    &["exp_x", "exp_y", "elen", "sfq_x", "sfq_y"],
                    SP,
                )
                .arg(
                    "zones",
                    ReadWrite,
                    &["zxp_x", "zxp_y", "zrp", "zss", "zdu"],
                    ZP,
                )
                .arg("points_private", Read, &pxu, PRIV)
                .arg("points_ghost", Read, &pxu, GHOST)
                .all_kinds(body!(calc_qcs))
                .cost(kernels::cost(200.0, &[40.0, 40.0, 32.0, 32.0], ghost_at(3)))
                .index_launch(),
        );
        let sums = ["pf_x", "pf_y", "pmass"];
        app.task(
            TaskDecl::new("sum_to_points")
                .arg(
                    "sides",
                    Read,
                    &[
                        "cmaswt", "sfp_x", "sfp_y", "sfq_x", "sfq_y", "sft_x", "sft_y",
                    ],
                    SP,
                )
                .arg("points_private", ReadWrite, &sums, PRIV)
                .arg("points_ghost", sum, &sums, GHOST)
                .all_kinds(body!(sum_to_points))
                .cost(kernels::cost(12.0, &[56.0, 48.0, 48.0], ghost_at(2)))
                .index_launch(),
        );
        app.task(
            TaskDecl::new("apply_bcs")
                .arg("points_private", ReadWrite, &pts_rw, PRIV)
                .arg("points_shared", ReadWrite, &pts_rw, SHARED)
                .all_kinds(body!(apply_bcs))
                .cost(kernels::cost(2.0, &[64.0, 64.0], Vec::new()))
                .index_launch(),
        );
        let full = [
            "px_x", "px_y", "pu_x", "pu_y", "pu0_x", "pu0_y", "pf_x", "pf_y", "pmass",
        ];
        app.task(
            TaskDecl::new("adv_pos_full")
                .arg("points_private", ReadWrite, &full, PRIV)
                .arg("points_shared", ReadWrite, &full, SHARED)
                .all_kinds(kernels::adv_pos_full)
                .cost(kernels::cost(12.0, &[104.0, 104.0], Vec::new()))
                .index_launch(),
        );
        let upd = [
            "px_x", "px_y", "pxp_x", "pxp_y", "pu_x", "pu_y", "pu0_x", "pu0_y",
        ];
        app.task(
            TaskDecl::new("update_zones")
                .arg(
                    "zones",
                    ReadWrite,
                    &["zetot", "zm", "zp", "zvol", "zvol0", "zwrate", "ze", "zr"],
                    ZP,
                )
                .arg("sides", Read, &["sfp_x", "sfp_y", "sfq_x", "sfq_y"], SP)
                .arg("points_private", Read, &upd, PRIV)
                .arg("points_ghost", Read, &upd, GHOST)
                .all_kinds(body!(update_zones))
                .cost(kernels::cost(80.0, &[96.0, 128.0, 64.0, 64.0], ghost_at(3)))
                .index_launch(),
        );
        app.task(
            TaskDecl::new("calc_dt")
                .arg("zones", Read, &["zdl", "zdu", "zss", "zvol", "zvol0"], ZP)
                .all_kinds(body!(calc_dt))
                .cost(kernels::cost(12.0, &[40.0], Vec::new()))
                .index_launch(),
        );
        app
    }

    /// The sequential implementation ([`seq::Hydro`], one thread) on the run's problem: its
    /// zone-cycles per second over the problem's cycles, or as many as fit in
    /// [`BASELINE_SECONDS`] (at least one; the setup is not timed).
    fn baseline(&self, report: &RunReport) -> Option<Baseline> {
        let p = problem_params(&report.problem);
        let mut h = seq::Hydro::new(&p);
        let start = std::time::Instant::now();
        while start.elapsed().as_secs_f64() < BASELINE_SECONDS && h.advance() {}
        let secs = start.elapsed().as_secs_f64();
        if h.cycle == 0 || secs <= 0.0 {
            return None;
        }
        Some(Baseline {
            label: format!("sequential PENNANT, 1 thread, {} cycles", h.cycle),
            rate: (h.mesh.numz() * h.cycle) as f64 / secs,
        })
    }

    fn run(&self, job: &mut Job) -> Result<Outcome, AppError> {
        let p = problem_params(&job.problem);
        let setup = Setup::new(p.clone());
        let mesh = &setup.mesh;
        let parts = pieces::decompose(mesh, job.problem.get("pieces") as usize);
        let n = parts.len();
        let (numz, nump) = (mesh.numz(), mesh.nump());
        let fields = |names: &[&str]| {
            names
                .iter()
                .fold(FieldSpace::new(), |fs, f| fs.field::<f64>(f))
        };
        let zones = job.rt.create_region(
            "zones",
            IndexSpace::range(0, numz as i64 - 1),
            fields(ZONE_FIELDS),
        )?;
        let sides = job.rt.create_region(
            "sides",
            IndexSpace::range(0, 4 * numz as i64 - 1),
            fields(SIDE_FIELDS),
        )?;
        let points = job.rt.create_region(
            "points",
            IndexSpace::range(0, nump as i64 - 1),
            fields(POINT_FIELDS),
        )?;
        // Pieces are the points (k, 0) of an n x 1 launch domain (2-D like the other apps'
        // tile grids, so that mappers may place by either coordinate).
        let color = |k: usize| Point::p2(k as i64, 0);
        let zones_p = job.rt.partition_by_subspaces(
            zones,
            "zones_p",
            parts
                .iter()
                .enumerate()
                .map(|(k, pc)| (color(k), span(pc.zones.0, pc.zones.1)))
                .collect(),
        )?;
        let sides_p = job.rt.partition_by_subspaces(
            sides,
            "sides_p",
            parts
                .iter()
                .enumerate()
                .map(|(k, pc)| (color(k), span(4 * pc.zones.0, 4 * pc.zones.1)))
                .collect(),
        )?;
        let mut by = |name: &str, pick: fn(&pieces::Piece) -> &Vec<usize>| {
            let subs = parts
                .iter()
                .enumerate()
                .map(|(k, pc)| (color(k), runs(pick(pc))))
                .collect();
            job.rt.partition_by_subspaces(points, name, subs)
        };
        let private = by("points_private", |pc| &pc.private)?;
        let shared = by("points_shared", |pc| &pc.shared)?;
        let ghost = by("points_ghost", |pc| &pc.ghost)?;
        let dom = Rect::r2((0, 0), (n as i64 - 1, 0));
        let t = |name| job.task(name);
        let (init, half, ctrs, forces, qcs, sum, bcs, full, update, dtt) = (
            t("init_mesh")?,
            t("adv_pos_half")?,
            t("calc_ctrs_vols")?,
            t("calc_forces")?,
            t("calc_qcs")?,
            t("sum_to_points")?,
            t("apply_bcs")?,
            t("adv_pos_full")?,
            t("update_zones")?,
            t("calc_dt")?,
        );
        let (zp, sp, pv, sh, gh) = (zones_p, sides_p, private, shared, ghost);
        let a =
            |ps: &[runtime::PartitionId]| -> Vec<ArgRef> { ps.iter().map(|&p| p.into()).collect() };
        job.rt.index_launch(init, dom, &a(&[zp, sp, pv, sh]), &[])?;
        job.start_clock()?;
        let simulated = job.simulated();
        let (mut cycle, mut time, mut dt, mut dtrec) = (0usize, 0.0f64, 0.0f64, 1e99f64);
        while cycle < p.cstop && time < p.tstop {
            cycle += 1;
            dt = seq::global_dt(&p, cycle, dt, time, dtrec);
            let v = [Value::F64(dt)];
            let rt = &mut job.rt;
            rt.index_launch(half, dom, &a(&[pv, sh]), &v)?;
            rt.index_launch(ctrs, dom, &a(&[sp, zp, pv, gh]), &v)?;
            rt.index_launch(forces, dom, &a(&[sp, zp]), &v)?;
            rt.index_launch(qcs, dom, &a(&[sp, zp, pv, gh]), &v)?;
            rt.index_launch(sum, dom, &a(&[sp, pv, gh]), &v)?;
            rt.index_launch(bcs, dom, &a(&[pv, sh]), &v)?;
            rt.index_launch(full, dom, &a(&[pv, sh]), &v)?;
            rt.index_launch(update, dom, &a(&[zp, sp, pv, gh]), &v)?;
            let limits = rt.index_launch(dtt, dom, &a(&[zp]), &v)?;
            if !simulated {
                dtrec = limits
                    .reduce(ReduceOp::Min)
                    .get_f64()
                    .map_err(|e| AppError::Config(format!("pennant: cycle {cycle}: {e}")))?;
            }
            time += dt;
        }
        job.stop_clock()?;
        let (kind, procs) = job.procs_of("calc_forces")?;
        let mut extra = BTreeMap::new();
        extra.insert("cycles", cycle as f64);
        extra.insert("zones", numz as f64);
        let verification = if simulated {
            Verification::Simulated
        } else {
            let got = [
                job.rt.read_field::<f64>(zones, "zr")?,
                job.rt.read_field::<f64>(zones, "ze")?,
                job.rt.read_field::<f64>(zones, "zp")?,
            ];
            extra.insert("time", time);
            let px = [
                job.rt.read_field::<f64>(points, "px_x")?,
                job.rt.read_field::<f64>(points, "px_y")?,
            ];
            extra.insert("digest", digest(got.iter().chain(&px)));
            verify(&p, cycle, &got)
        };
        Ok(Outcome {
            work: (numz * cycle) as f64,
            unit: "zone-cycles",
            decomposition: format!("{n} pieces of zone rows on {procs} {kind}"),
            verification,
            extra,
        })
    }
}

/// A digest of the bits of `fields` (FNV-1a, kept to 52 bits so that it is an exact f64):
/// equal digests mean bitwise equal fields.
pub fn digest<'a>(fields: impl Iterator<Item = &'a Vec<f64>>) -> f64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for f in fields {
        for v in f {
            for b in v.to_bits().to_le_bytes() {
                h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
            }
        }
    }
    (h >> 12) as f64
}

/// The 1-D space `lo..hi`.
fn span(lo: usize, hi: usize) -> IndexSpace {
    if hi <= lo {
        return IndexSpace::empty(1);
    }
    IndexSpace::range(lo as i64, hi as i64 - 1)
}

/// The 1-D space of sorted indices `v`, as runs of consecutive indices.
fn runs(v: &[usize]) -> IndexSpace {
    let mut rects = Vec::new();
    let mut i = 0;
    while i < v.len() {
        let mut j = i;
        while j + 1 < v.len() && v[j + 1] == v[j] + 1 {
            j += 1;
        }
        rects.push(Rect::r1(v[i] as i64, v[j] as i64));
        i = j + 1;
    }
    IndexSpace::from_rects(1, rects)
}

/// Compares zone densities, energies and pressures after `cycles` cycles with the sequential
/// method's, within [`REL_TOL`] / [`ABS_TOL`].
pub fn verify(p: &Params, cycles: usize, got: &[Vec<f64>; 3]) -> Verification {
    let mut q = p.clone();
    q.cstop = cycles;
    let mut h = seq::Hydro::new(&q);
    h.run();
    if h.cycle != cycles {
        return Verification::Failed(format!(
            "the sequential run stopped after {} cycles, the tasks after {cycles}",
            h.cycle
        ));
    }
    let want = [h.zr, h.ze, h.zp];
    let (mut worst, mut max_abs) = (0.0f64, 0.0f64);
    for (f, name) in ["zr", "ze", "zp"].iter().enumerate() {
        if got[f].len() != want[f].len() {
            return Verification::Failed(format!(
                "{name}: {} zones, expected {}",
                got[f].len(),
                want[f].len()
            ));
        }
        for (z, (&g, &w)) in got[f].iter().zip(&want[f]).enumerate() {
            let d = (g - w).abs();
            if !(d <= ABS_TOL || d <= REL_TOL * w.abs()) {
                return Verification::Failed(format!(
                    "{name} of zone {z} is {g:e}, the sequential run has {w:e}"
                ));
            }
            max_abs = max_abs.max(d);
            if d > ABS_TOL {
                worst = worst.max(d / w.abs());
            }
        }
    }
    Verification::Verified(format!(
        "zr, ze, zp of {} zones after {cycles} cycles match the sequential run (max abs. diff {max_abs:.1e}, max rel. diff where abs. > {ABS_TOL:e}: {worst:.1e})",
        want[0].len()
    ))
}
