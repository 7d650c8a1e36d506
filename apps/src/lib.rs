//! The benchmark applications on the task runtime, each with an expert mapper, behind one
//! interface ([`Application`]) and one driver ([`run`]); and the registry the `mapper` command
//! line and the tuner use (`mapper apps`, `mapper run --app NAME`, `tune --app NAME`).
//!
//! - [`stencil`]: the PRK 2-D star stencil (radius 2) with halo exchange through ghost
//!   partitions.
//! - [`circuit`]: the Legion circuit simulation, with charge reduced into shared and ghost
//!   nodes through aliased partitions.
//! - [`matmul`]: C = A x B with six algorithms that move data differently: Cannon, SUMMA,
//!   PUMMA, Johnson 3-D, Solomonik 2.5-D and COSMA.
//! - [`pennant`]: PENNANT Lagrangian staggered-grid hydrodynamics (sedov and leblanc) on
//!   pieces of zone rows, with boundary points reduced through ghost partitions; checked
//!   against the sequential method, which matches the original's reference outputs.
//!
//! Every app runs with its expert mapper, the runtime's default mapper, its named alternative
//! mappers or any mapper text, on any machine the runtime knows, and verifies its result.

#![warn(missing_docs)]

pub mod app;
pub mod circuit;
pub mod host;
pub mod matmul;
pub mod pennant;
pub mod stencil;

pub use app::{
    check_layouts, make_mapper, rate_text, render_bind_errors, run, AppError, Application,
    Baseline, Expert, Job, LayoutNeed, LayoutRule, MapperChoice, NamedMapper, Outcome, ParamDecl,
    Precision, Preset, Problem, RunConfig, RunReport, TaskSummary, Verification,
};

/// Every registered app, in the order of BENCHMARKS.md.
pub fn apps() -> Vec<&'static dyn Application> {
    let mut v: Vec<&'static dyn Application> =
        vec![&stencil::STENCIL, &circuit::CIRCUIT, &pennant::PENNANT];
    v.extend(matmul::apps());
    v
}

/// The app called `name`; the error names the known apps (and the closest one).
pub fn find(name: &str) -> Result<&'static dyn Application, String> {
    let all = apps();
    if let Some(a) = all.iter().find(|a| a.name() == name) {
        return Ok(*a);
    }
    let names: Vec<&str> = all.iter().map(|a| a.name()).collect();
    let hint = mapper_core::diag::closest(name, names.iter().copied())
        .map(|c| format!("; did you mean `{c}`?"))
        .unwrap_or_default();
    Err(format!(
        "unknown app `{name}`{hint} (known apps: {})",
        names.join(", ")
    ))
}
