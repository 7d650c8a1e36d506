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

use crate::{App, AppError, RunConfig, RunReport};
use common::MatmulSpec;
use mapper_core::{AppInfo, Mapper};

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

impl App for MatmulApp {
    fn name(&self) -> &'static str {
        self.spec.name
    }
    fn description(&self) -> &'static str {
        self.spec.description
    }
    fn info(&self) -> AppInfo {
        (self.spec.declare)(crate::Precision::F64).info()
    }
    fn expert_source(&self) -> &'static str {
        self.spec.expert_source
    }
    fn expert_mapper(&self) -> Box<dyn Mapper> {
        (self.spec.expert)()
    }
    fn run(&self, cfg: &RunConfig) -> Result<RunReport, AppError> {
        common::run_spec(self, self.spec, cfg)
    }
}

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
pub fn apps() -> Vec<&'static dyn App> {
    vec![&CANNON, &SUMMA, &PUMMA, &JOHNSON, &SOLOMONIK, &COSMA]
}
