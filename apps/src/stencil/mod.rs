//! The PRK star stencil (the stencil of the Parallel Research Kernels, as in the seed system's
//! benchmark set): a 2-D grid of f64 with fields `input` and `output`, tiled over a 2-D grid of
//! tiles; each step runs `stencil` (a radius-2 star, weights ±1/(2·i·R) at distance i along x
//! and y, read through halos from the neighbouring tiles, added to `output` on the grid's
//! interior) and then `increment` (`input += 1`).
//!
//! Partitions: `tiles` (the private tiles, disjoint), `interior` (each tile's points at least R
//! from the grid's edge, where the stencil writes) and `ghost` (each tile grown by R, clipped to
//! the grid: aliased, so every step moves the halos between the tiles' instances).
//!
//! Verification is exact: with `input(x, y) = x + y` the stencil adds exactly 2 per step on the
//! interior, so after T steps `input = x + y + T` and `output = 2T` (0 on the edge), all exact
//! in f64. A wrong or stale halo breaks the antisymmetric sums and the first wrong cell is named.

pub mod bandwidth;
mod expert;
#[cfg(feature = "cuda")]
mod gpu;
pub mod kernels;

pub use expert::{names, StencilExpert};

use crate::{
    AppError, Application, Baseline, Expert, Job, LayoutNeed, LayoutRule, Outcome, ParamDecl,
    Preset, Problem, RunReport, Verification,
};
use mapper_core::ProcKind;
use runtime::{FieldSpace, IndexSpace, Point, Privilege, Rect, TaskDecl};
use std::collections::BTreeMap;

/// Radius of the star.
pub const RADIUS: i64 = 2;
/// Weights at distance 1..=R: 1/(2·i·R).
pub const WEIGHTS: [f64; RADIUS as usize] = [0.25, 0.125];

/// Bytes of memory traffic per cell update of one step at best: `stencil` reads `input` and
/// reads and writes `output`, `increment` reads and writes `input` (8-byte values).
pub const BYTES_PER_UPDATE: f64 = 40.0;

/// The stencil app.
pub struct Stencil;

/// The registered instance.
pub static STENCIL: Stencil = Stencil;

const PARAMS: &[ParamDecl] = &[
    ParamDecl {
        name: "n",
        about: "grid side (n x n points)",
        min: 2 * RADIUS + 1,
        max: 1 << 18,
    },
    ParamDecl {
        name: "steps",
        about: "time steps",
        min: 1,
        max: 1 << 20,
    },
    ParamDecl {
        name: "tiles",
        about: "tiles (0: one per processor the stencil runs on)",
        min: 0,
        max: 1 << 16,
    },
];

const PRESETS: &[Preset] = &[
    Preset {
        name: "tiny",
        about: "milliseconds; for tests",
        values: &[("n", 48), ("steps", 4), ("tiles", 0)],
    },
    Preset {
        name: "small",
        about: "tens of milliseconds on two cores (the tuner's default)",
        values: &[("n", 1024), ("steps", 10), ("tiles", 0)],
    },
    Preset {
        name: "large",
        about: "the CPU benchmark (1 GiB of fields, far beyond the caches)",
        values: &[("n", 8192), ("steps", 10), ("tiles", 0)],
    },
    Preset {
        name: "gpu",
        about: "one GPU (16000^2 points)",
        values: &[("n", 16000), ("steps", 50), ("tiles", 0)],
    },
    Preset {
        name: "multigpu",
        about: "four GPUs (16000^2 points each)",
        values: &[("n", 32000), ("steps", 50), ("tiles", 0)],
    },
];

const RULES: &[LayoutRule] = &[LayoutRule {
    task: "stencil",
    arg: "*",
    kind: Some(ProcKind::Gpu),
    need: LayoutNeed::SoaCOrder,
    who: "the GPU stencil kernel",
}];

/// Factors `p` as `rows x cols`, rows >= cols, as square as possible.
pub fn tile_grid(p: i64) -> (i64, i64) {
    let p = p.max(1);
    let mut c = (p as f64).sqrt() as i64;
    while c > 1 && p % c != 0 {
        c -= 1;
    }
    let c = c.max(1);
    (p / c, c)
}

impl Application for Stencil {
    fn name(&self) -> &'static str {
        "stencil"
    }
    fn description(&self) -> &'static str {
        "PRK 2-D star stencil (radius 2) on a tiled grid, halos through aliased ghost partitions"
    }
    fn expert(&self) -> Expert {
        expert::expert()
    }
    fn params(&self) -> &'static [ParamDecl] {
        PARAMS
    }
    fn presets(&self) -> &'static [Preset] {
        PRESETS
    }
    fn layout_rules(&self) -> &'static [LayoutRule] {
        RULES
    }

    fn declare(&self, _: &Problem) -> runtime::App {
        let mut app = runtime::App::new("stencil");
        let both = [kernels::INPUT, kernels::OUTPUT];
        app.task(
            TaskDecl::new("init")
                .arg("tile", Privilege::WriteDiscard, &both, &["tiles", "grid"])
                .all_kinds(kernels::init)
                .cost(kernels::init_cost())
                .index_launch(),
        );
        app.task(
            TaskDecl::new("stencil")
                .arg(
                    "ghost",
                    Privilege::Read,
                    &[kernels::INPUT],
                    &["ghost", "grid"],
                )
                .arg(
                    "out",
                    Privilege::ReadWrite,
                    &[kernels::OUTPUT],
                    &["interior", "grid"],
                )
                .all_kinds(kernels::stencil)
                .cost(kernels::stencil_cost())
                .index_launch(),
        );
        app.task(
            TaskDecl::new("increment")
                .arg(
                    "tile",
                    Privilege::ReadWrite,
                    &[kernels::INPUT],
                    &["tiles", "grid"],
                )
                .all_kinds(kernels::increment)
                .cost(kernels::increment_cost())
                .index_launch(),
        );
        app
    }

    /// The triad bandwidth of all cores (arrays of 64 MiB each, best of five) over the
    /// [`BYTES_PER_UPDATE`] one cell update moves.
    fn baseline(&self, _: &RunReport) -> Option<Baseline> {
        let threads = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        let bw = bandwidth::triad_bandwidth(8 << 20, threads, 5);
        Some(Baseline {
            label: format!(
                "triad {:.1} GB/s on {threads} threads / {BYTES_PER_UPDATE} B",
                bw / 1e9
            ),
            rate: bw / BYTES_PER_UPDATE,
        })
    }

    fn run(&self, job: &mut Job) -> Result<Outcome, AppError> {
        let n = job.problem.get("n");
        let steps = job.problem.get("steps");
        let (kind, procs) = job.procs_of("stencil")?;
        let t = match job.problem.get("tiles") {
            0 => i64::from(procs),
            t => t,
        };
        let (ty, tx) = tile_grid(t);
        if ty > n || tx > n {
            return Err(AppError::Config(format!(
                "stencil: {ty}x{tx} tiles do not fit an {n}x{n} grid; use fewer tiles or a larger n"
            )));
        }
        let fs = FieldSpace::new()
            .field::<f64>(kernels::INPUT)
            .field::<f64>(kernels::OUTPUT);
        let grid = job.rt.create_region(
            "grid",
            IndexSpace::from_rect(Rect::r2((0, 0), (n - 1, n - 1))),
            fs,
        )?;
        let tiles = job.rt.partition_equal(grid, "tiles", &[ty, tx])?;
        let inner = Rect::r2((RADIUS, RADIUS), (n - 1 - RADIUS, n - 1 - RADIUS));
        let all = Rect::r2((0, 0), (n - 1, n - 1));
        let mut interior = Vec::new();
        let mut ghost = Vec::new();
        for i in 0..ty {
            for j in 0..tx {
                let c = Point::p2(i, j);
                let sub = job.rt.subregion(tiles, c)?;
                let b = job
                    .rt
                    .forest()
                    .region(sub)
                    .map(|r| r.space.bounds())
                    .ok_or_else(|| AppError::Config("stencil: a tile has no region".into()))?;
                interior.push((c, IndexSpace::from_rect(b.intersect(&inner))));
                let grown = Rect::r2(
                    (b.lo.get(0) - RADIUS, b.lo.get(1) - RADIUS),
                    (b.hi.get(0) + RADIUS, b.hi.get(1) + RADIUS),
                );
                ghost.push((c, IndexSpace::from_rect(grown.intersect(&all))));
            }
        }
        let interior = job.rt.partition_by_subspaces(grid, "interior", interior)?;
        let ghost = job.rt.partition_by_subspaces(grid, "ghost", ghost)?;
        let dom = Rect::r2((0, 0), (ty - 1, tx - 1));
        let (init, stencil, increment) = (
            job.task("init")?,
            job.task("stencil")?,
            job.task("increment")?,
        );
        job.rt.index_launch(init, dom, &[tiles.into()], &[])?;
        job.start_clock()?;
        for _ in 0..steps {
            job.rt
                .index_launch(stencil, dom, &[ghost.into(), interior.into()], &[])?;
            job.rt.index_launch(increment, dom, &[tiles.into()], &[])?;
        }
        job.stop_clock()?;
        let verification = if job.simulated() {
            Verification::Simulated
        } else {
            let input = job.rt.read_field::<f64>(grid, kernels::INPUT)?;
            let output = job.rt.read_field::<f64>(grid, kernels::OUTPUT)?;
            verify(n, steps, &input, &output)
        };
        let updates = ((n - 2 * RADIUS) as f64).powi(2) * steps as f64;
        let mut extra = BTreeMap::new();
        extra.insert("bytes_per_update", BYTES_PER_UPDATE);
        Ok(Outcome {
            work: updates,
            unit: "cell updates",
            decomposition: format!("{ty}x{tx} tiles on {procs} {kind}"),
            verification,
            extra,
        })
    }
}

/// Compares the fields (C order, y major) after `steps` steps with the closed forms; names the
/// first wrong cell.
pub fn verify(n: i64, steps: i64, input: &[f64], output: &[f64]) -> Verification {
    let cells = (n * n) as usize;
    if input.len() != cells || output.len() != cells {
        return Verification::Failed(format!(
            "expected {cells} cells, read {} inputs and {} outputs",
            input.len(),
            output.len()
        ));
    }
    let t = steps as f64;
    let interior = |v: i64| (RADIUS..n - RADIUS).contains(&v);
    for y in 0..n {
        for x in 0..n {
            let i = (y * n + x) as usize;
            let want_in = (x + y) as f64 + t;
            if input[i] != want_in {
                return Verification::Failed(format!(
                    "input at (y={y}, x={x}) is {}, expected {want_in}",
                    input[i]
                ));
            }
            let want_out = if interior(x) && interior(y) {
                2.0 * t
            } else {
                0.0
            };
            if output[i] != want_out {
                return Verification::Failed(format!(
                    "output at (y={y}, x={x}) is {}, expected {want_out}",
                    output[i]
                ));
            }
        }
    }
    Verification::Verified(format!("all {cells} cells exact after {steps} steps"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tile_grids_are_near_square() {
        assert_eq!(
            [1, 2, 3, 4, 6, 8, 12, 16].map(tile_grid),
            [
                (1, 1),
                (2, 1),
                (3, 1),
                (2, 2),
                (3, 2),
                (4, 2),
                (4, 3),
                (4, 4)
            ]
        );
    }

    #[test]
    fn verification_names_the_first_wrong_cell() {
        let n = 6;
        let t = 3;
        let mut input: Vec<f64> = (0..n * n).map(|i| (i / n + i % n + t) as f64).collect();
        let mut output: Vec<f64> = (0..n * n)
            .map(|i| {
                let (y, x) = (i / n, i % n);
                if (2..4).contains(&x) && (2..4).contains(&y) {
                    6.0
                } else {
                    0.0
                }
            })
            .collect();
        assert!(verify(n, t, &input, &output).ok());
        output[2 * 6 + 3] = 5.875;
        assert_eq!(
            verify(n, t, &input, &output),
            Verification::Failed("output at (y=2, x=3) is 5.875, expected 6".into())
        );
        input[7] = 0.0;
        assert_eq!(
            verify(n, t, &input, &output),
            Verification::Failed("input at (y=1, x=1) is 0, expected 5".into())
        );
    }

    #[test]
    fn weights_are_one_over_2_i_r() {
        for (i, w) in WEIGHTS.iter().enumerate() {
            assert_eq!(*w, 1.0 / (2.0 * (i as f64 + 1.0) * RADIUS as f64));
        }
    }
}
