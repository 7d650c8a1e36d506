//! The matrix-multiplication suite: six algorithms for C = A x B that differ in how tiles are
//! placed and moved ([`cannon`], [`summa`], [`pumma`], [`johnson`], [`solomonik`], [`cosma`]),
//! sharing the tile GEMM, copies, inputs and verification of [`common`].

pub mod cannon;
pub mod common;
pub mod cosma;
#[cfg(feature = "cuda")]
pub mod gpu;
pub mod johnson;
pub mod pumma;
pub mod solomonik;
pub mod summa;

use crate::{
    AppError, Application, Baseline, Expert, Job, LayoutRule, NamedMapper, Outcome, RunReport,
};
use crate::{ParamDecl, Precision, Preset, Problem};
use common::MatmulSpec;

/// A registered matrix-multiplication app.
pub struct MatmulApp {
    spec: &'static MatmulSpec,
}

impl MatmulApp {
    /// The app's static description.
    pub fn spec(&self) -> &'static MatmulSpec {
        self.spec
    }
}

/// The one parameter: the matrix order N (rounded up to what the algorithm's grid needs).
const PARAMS: &[ParamDecl] = &[ParamDecl {
    name: "n",
    about: "matrix order N (C = A x B, all N x N; rounded up to the grid)",
    min: 1,
    max: 1 << 20,
}];

/// The presets: tests, tuning, the CPU benchmark, one GPU and several GPUs.
const PRESETS: &[Preset] = &[
    Preset {
        name: "tiny",
        about: "milliseconds; for tests",
        values: &[("n", 24)],
    },
    Preset {
        name: "small",
        about: "tens of milliseconds on two cores (the tuner's default)",
        values: &[("n", 1536)],
    },
    Preset {
        name: "large",
        about: "the CPU benchmark (every tile GEMM well over 1 ms)",
        values: &[("n", 4096)],
    },
    Preset {
        name: "gpu",
        about: "one GPU (N = 16384)",
        values: &[("n", 16384)],
    },
    Preset {
        name: "multigpu",
        about: "several GPUs (N = 32768)",
        values: &[("n", 32768)],
    },
];

macro_rules! gemm_rules {
    ($($t:literal),*) => {
        &[$($crate::LayoutRule { task: $t, arg: "*", kind: None, need: $crate::LayoutNeed::Soa, who: "the tile GEMM" }),*]
    };
}

impl Application for MatmulApp {
    fn name(&self) -> &'static str {
        self.spec.name
    }
    fn description(&self) -> &'static str {
        self.spec.description
    }
    fn expert(&self) -> Expert {
        self.spec.expert
    }
    fn mappers(&self) -> &'static [NamedMapper] {
        self.spec.mappers
    }
    fn params(&self) -> &'static [ParamDecl] {
        PARAMS
    }
    fn presets(&self) -> &'static [Preset] {
        PRESETS
    }
    fn precisions(&self) -> &'static [Precision] {
        &[Precision::F64, Precision::F32]
    }
    fn declare(&self, problem: &Problem) -> runtime::App {
        (self.spec.declare)(problem.precision)
    }
    fn layout_rules(&self) -> &'static [LayoutRule] {
        self.spec.layout_rules
    }
    fn run(&self, job: &mut Job) -> Result<Outcome, AppError> {
        common::run_spec(self.spec, job)
    }
    /// One GEMM of the whole N x N problem on all cores (best of three).
    fn baseline(&self, report: &RunReport) -> Option<Baseline> {
        let n = *report.outcome.extra.get("n")? as usize;
        let threads = common::threads();
        let (_, gflops) = common::gemm_baseline(n, report.problem.precision, threads, 3);
        Some(Baseline {
            label: format!("one GEMM, {threads} threads"),
            rate: gflops * 1e9,
        })
    }
}

pub(crate) use gemm_rules;

static CANNON: MatmulApp = MatmulApp {
    spec: &cannon::SPEC,
};
static SUMMA: MatmulApp = MatmulApp { spec: &summa::SPEC };
static PUMMA: MatmulApp = MatmulApp { spec: &pumma::SPEC };
static JOHNSON: MatmulApp = MatmulApp {
    spec: &johnson::SPEC,
};
static SOLOMONIK: MatmulApp = MatmulApp {
    spec: &solomonik::SPEC,
};
static COSMA: MatmulApp = MatmulApp { spec: &cosma::SPEC };

/// The six apps, in the order of BENCHMARKS.md.
pub fn apps() -> Vec<&'static dyn Application> {
    vec![&CANNON, &SUMMA, &PUMMA, &JOHNSON, &SOLOMONIK, &COSMA]
}
