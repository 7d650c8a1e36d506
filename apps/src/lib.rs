//! Applications on the task runtime, each with an expert mapper, and the registry the `mapper`
//! command line uses (`mapper apps`, `mapper run --app NAME`, `mapper check --app NAME`).
//!
//! The matrix-multiplication suite ([`matmul`]) computes C = A x B with six algorithms that
//! move data differently: Cannon, SUMMA, PUMMA, Johnson 3-D, Solomonik 2.5-D and COSMA. Every
//! app runs with its expert mapper, the runtime's default mapper, or any mapper text, on any
//! machine the runtime knows, and verifies its result against a reference product.

#![warn(missing_docs)]

pub mod matmul;

use mapper_core::diag::render_all;
use mapper_core::interp::Interpreted;
use mapper_core::{AppInfo, Diagnostic, Mapper};
use runtime::Profile;
use std::fmt;

/// Problem size presets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Size {
    /// Milliseconds; for tests.
    Tiny,
    /// Tens of milliseconds on two cores: long enough to time mappers (the tuner's default).
    Small,
    /// The CPU benchmark size (every tile GEMM well over 1 ms).
    Large,
}

impl Size {
    /// Parses `tiny`, `small` or `large`.
    pub fn parse(s: &str) -> Result<Size, String> {
        match s {
            "tiny" => Ok(Size::Tiny),
            "small" => Ok(Size::Small),
            "large" => Ok(Size::Large),
            _ => Err(format!("unknown size `{s}`; expected tiny, small or large")),
        }
    }

    /// The preset's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Size::Tiny => "tiny",
            Size::Small => "small",
            Size::Large => "large",
        }
    }
}

/// Floating-point precision of the matrices.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Precision {
    /// 64-bit (the default).
    F64,
    /// 32-bit.
    F32,
}

impl Precision {
    /// Parses `f64` or `f32`.
    pub fn parse(s: &str) -> Result<Precision, String> {
        match s {
            "f64" | "fp64" | "double" => Ok(Precision::F64),
            "f32" | "fp32" | "single" | "float" => Ok(Precision::F32),
            _ => Err(format!("unknown precision `{s}`; expected f64 or f32")),
        }
    }

    /// `f64` or `f32`.
    pub fn as_str(self) -> &'static str {
        match self {
            Precision::F64 => "f64",
            Precision::F32 => "f32",
        }
    }
}

/// Which mapper a run uses.
#[derive(Clone, Debug)]
pub enum MapperChoice {
    /// The app's expert mapper.
    Expert,
    /// The runtime's default mapper (DSL.md §5).
    Default,
    /// A mapper program: a name for messages (e.g. the file path) and its text.
    Text {
        /// Name used in diagnostics (usually the file path).
        name: String,
        /// The mapper's source text.
        source: String,
    },
}

impl MapperChoice {
    /// A short label for reports: `expert`, `default` or the text's name.
    pub fn label(&self) -> String {
        match self {
            MapperChoice::Expert => "expert".into(),
            MapperChoice::Default => "default".into(),
            MapperChoice::Text { name, .. } => name.clone(),
        }
    }
}

/// How to run an app.
#[derive(Clone, Debug)]
pub struct RunConfig {
    /// Machine spec passed to the runtime (`local`, `emulated:2x4`, ...).
    pub machine: String,
    /// Problem size preset.
    pub size: Size,
    /// Overrides the preset's matrix order N (rounded up to what the algorithm's grid needs).
    pub n: Option<i64>,
    /// Element precision.
    pub precision: Precision,
    /// The mapper.
    pub mapper: MapperChoice,
    /// Record a profile (returned in the report).
    pub profile: bool,
    /// Seed of the input matrices.
    pub seed: u64,
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig {
            machine: "local".into(),
            size: Size::Tiny,
            n: None,
            precision: Precision::F64,
            mapper: MapperChoice::Expert,
            profile: false,
            seed: 1,
        }
    }
}

/// The outcome of a run.
#[derive(Clone, Debug)]
pub struct RunReport {
    /// App name.
    pub app: String,
    /// Mapper label.
    pub mapper: String,
    /// Machine name.
    pub machine: String,
    /// Size preset.
    pub size: Size,
    /// Precision.
    pub precision: Precision,
    /// Matrix order N (C = A x B, all N x N).
    pub n: i64,
    /// The algorithm's decomposition, e.g. `grid 2x2`.
    pub grid: String,
    /// Processor kind and count the main tasks ran on, e.g. `2 CPU`.
    pub procs: String,
    /// Seconds of the multiplication (after the inputs are initialized; until all tasks end).
    pub time_s: f64,
    /// Floating-point operations (2 N^3).
    pub flops: f64,
    /// GFLOP/s.
    pub gflops: f64,
    /// True if the result matched the reference product within the precision's tolerance.
    pub verified: bool,
    /// True on a simulated machine: `time_s` is simulated and there is no result to verify.
    pub simulated: bool,
    /// max |C - C_ref| / max |C_ref|.
    pub max_rel_error: f64,
    /// The tolerance `max_rel_error` was held to.
    pub tolerance: f64,
    /// The profile, if requested.
    pub profile: Option<Profile>,
}

impl RunReport {
    /// One machine-readable JSON line.
    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "app": self.app,
            "mapper": self.mapper,
            "machine": self.machine,
            "size": self.size.as_str(),
            "precision": self.precision.as_str(),
            "n": self.n,
            "grid": self.grid,
            "procs": self.procs,
            "time_s": self.time_s,
            "gflops": self.gflops,
            "verified": self.verified,
            "simulated": self.simulated,
            "max_rel_error": self.max_rel_error,
        })
    }
}

impl fmt::Display for RunReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({} mapper) on {}: N={} {} {} on {}, time {:.4} s, {:.2} GFLOP/s, ",
            self.app,
            self.mapper,
            self.machine,
            self.n,
            self.precision.as_str(),
            self.grid,
            self.procs,
            self.time_s,
            self.gflops,
        )?;
        if self.simulated {
            return f.write_str("simulated time (no data to verify)");
        }
        write!(
            f,
            "{} (max rel error {:.3e}, tolerance {:.0e})",
            if self.verified {
                "verified"
            } else {
                "NOT VERIFIED"
            },
            self.max_rel_error,
            self.tolerance
        )
    }
}

/// Why a run failed.
#[derive(Clone, Debug)]
pub enum AppError {
    /// The mapper has errors or cannot be bound (diagnostics rendered against its source).
    Mapper(String),
    /// A mapping decision the app cannot run with (e.g. a layout the tile GEMM rejects).
    Mapping(String),
    /// The runtime failed (launch, mapping, memory, task failure).
    Runtime(String),
    /// Bad configuration (machine spec, size).
    Config(String),
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AppError::Mapper(m) => write!(f, "{m}"),
            AppError::Mapping(m) => write!(f, "mapping error: {m}"),
            AppError::Runtime(m) => write!(f, "runtime error: {m}"),
            AppError::Config(m) => write!(f, "{m}"),
        }
    }
}

impl std::error::Error for AppError {}

impl From<runtime::RuntimeError> for AppError {
    fn from(e: runtime::RuntimeError) -> Self {
        match e {
            runtime::RuntimeError::Map(m) => AppError::Mapping(m.to_string()),
            runtime::RuntimeError::Config(m) => AppError::Config(m),
            other => AppError::Runtime(other.to_string()),
        }
    }
}

/// A task of an app, as `mapper apps` lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskSummary {
    /// Task name.
    pub name: String,
    /// Region arguments: declared name and the region/partition names it is launched with.
    pub args: Vec<(String, Vec<String>)>,
}

/// An application in the registry.
pub trait App: Sync {
    /// Registry name (`cannon`, `summa`, ...).
    fn name(&self) -> &'static str;
    /// One-line description.
    fn description(&self) -> &'static str;
    /// The application as a mapper sees it (tasks, region arguments, variants).
    fn info(&self) -> AppInfo;
    /// The expert mapper's source text.
    fn expert_source(&self) -> &'static str;
    /// The expert mapper.
    fn expert_mapper(&self) -> Box<dyn Mapper>;
    /// Runs the app and verifies the result.
    fn run(&self, cfg: &RunConfig) -> Result<RunReport, AppError>;

    /// Tasks and their region arguments (for `mapper apps`).
    fn tasks(&self) -> Vec<TaskSummary> {
        self.info()
            .tasks
            .iter()
            .map(|t| TaskSummary {
                name: t.name.clone(),
                args: t
                    .args
                    .iter()
                    .map(|a| (a.name.clone(), a.regions.clone()))
                    .collect(),
            })
            .collect()
    }
}

/// Every registered app.
pub fn apps() -> Vec<&'static dyn App> {
    matmul::apps()
}

/// The app called `name`; the error names the known apps (and the closest one).
pub fn find(name: &str) -> Result<&'static dyn App, String> {
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

/// Builds the mapper a run asks for; errors are diagnostics rendered against the mapper text.
pub fn make_mapper(app: &dyn App, choice: &MapperChoice) -> Result<Box<dyn Mapper>, AppError> {
    match choice {
        MapperChoice::Expert => Ok(app.expert_mapper()),
        MapperChoice::Default => Ok(Box::new(runtime::DefaultMapper)),
        MapperChoice::Text { name, source } => Interpreted::from_text(name, source)
            .map(|m| Box::new(m) as Box<dyn Mapper>)
            .map_err(|d| AppError::Mapper(render_all(&d, name, source))),
    }
}

/// Renders bind diagnostics against the source of the mapper `choice` names.
pub fn render_bind_errors(app: &dyn App, choice: &MapperChoice, diags: &[Diagnostic]) -> String {
    match choice {
        MapperChoice::Expert => render_all(
            diags,
            &format!("<{} expert mapper>", app.name()),
            app.expert_source(),
        ),
        MapperChoice::Default => diags
            .iter()
            .map(|d| format!("error: {}\n", d.message))
            .collect(),
        MapperChoice::Text { name, source } => render_all(diags, name, source),
    }
}
