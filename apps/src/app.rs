//! The one interface every benchmark application implements ([`Application`]) and the one
//! driver that runs any of them ([`run`]): it builds the mapper, binds it once (inside the
//! runtime), refuses layouts the app's variants cannot take, hands the runtime to the app, and
//! returns the app's [`Outcome`] (work done in the app's own unit, and its verification) with the
//! time and the profile.

use mapper_core::diag::{closest, render_all};
use mapper_core::interp::Interpreted;
use mapper_core::{AppInfo, BoundMapper, Diagnostic, Layout, Mapper, ProcKind};
use runtime::{Profile, Runtime, RuntimeError, RuntimeOptions, TaskHandle};
use std::collections::BTreeMap;
use std::fmt;

/// An application of the benchmark suite.
pub trait Application: Sync {
    /// Registry name (`stencil`, `cannon`, ...).
    fn name(&self) -> &'static str;
    /// One-line description.
    fn description(&self) -> &'static str;
    /// The expert mapper, written with `mapper!` in the app's folder.
    fn expert(&self) -> Expert;
    /// Further named mappers of the app (files beside it), e.g. an all-framebuffer variant.
    fn mappers(&self) -> &'static [NamedMapper] {
        &[]
    }
    /// The app's own size parameters (the first is the one a bare number sets).
    fn params(&self) -> &'static [ParamDecl];
    /// Size presets, smallest first; `tiny`, `small` and `large` are always among them.
    fn presets(&self) -> &'static [Preset];
    /// The precisions the app runs in (the first is the default).
    fn precisions(&self) -> &'static [Precision] {
        &[Precision::F64]
    }
    /// Declares the tasks (names, region arguments, variants) for a problem.
    fn declare(&self, problem: &Problem) -> runtime::App;
    /// Layouts the app's variants require; checked against the bound mapper before anything
    /// runs.
    fn layout_rules(&self) -> &'static [LayoutRule] {
        &[]
    }
    /// Creates the regions, launches the tasks, times the measured part with
    /// [`Job::start_clock`] / [`Job::stop_clock`], and verifies the result.
    fn run(&self, job: &mut Job) -> Result<Outcome, AppError>;

    /// The best a run of `report`'s problem could do on this machine's cores, in the app's
    /// unit per second, measured now (e.g. one GEMM of the whole problem, or the memory
    /// bandwidth over the bytes each update must move); `None` if the app has none.
    fn baseline(&self, report: &RunReport) -> Option<Baseline> {
        let _ = report;
        None
    }

    /// The application as a mapper sees it (tasks, region arguments, variants), at the `tiny`
    /// preset.
    fn info(&self) -> AppInfo {
        let p = Problem::preset(self, "tiny").unwrap_or_else(|_| Problem::empty(self));
        self.declare(&p).info()
    }

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

/// A measured reference rate for `mapper bench`.
#[derive(Clone, Debug, PartialEq)]
pub struct Baseline {
    /// What was measured, e.g. `one GEMM, 2 threads`.
    pub label: String,
    /// The rate, in the app's unit of work per second.
    pub rate: f64,
}

/// An app's expert mapper: the type `mapper!` made, its text and where it is written.
#[derive(Clone, Copy)]
pub struct Expert {
    /// The mapper's type name (`mapper! { pub NAME for ...; }`).
    pub type_name: &'static str,
    /// The canonical text of the mapper.
    pub source: &'static str,
    /// The Rust file holding the `mapper!` invocation, relative to the workspace root.
    pub file: &'static str,
    /// Makes the (natively compiled) mapper.
    pub make: fn() -> Box<dyn Mapper>,
}

/// Builds the [`Expert`] of a `mapper!` type defined in the calling file.
#[macro_export]
macro_rules! expert {
    ($ty:ident) => {
        $crate::Expert {
            type_name: stringify!($ty),
            source: $ty::SOURCE,
            file: file!(),
            make: || Box::new($ty),
        }
    };
}

/// A further mapper of an app, kept as a `.mapper` file beside it.
#[derive(Clone, Copy, Debug)]
pub struct NamedMapper {
    /// Name used with `--mapper NAME`.
    pub name: &'static str,
    /// What it changes, in one line.
    pub about: &'static str,
    /// Its text.
    pub source: &'static str,
}

/// A size parameter of an app.
#[derive(Clone, Copy, Debug)]
pub struct ParamDecl {
    /// Name (`n`, `steps`, ...).
    pub name: &'static str,
    /// What it sets, in a few words.
    pub about: &'static str,
    /// Smallest value accepted.
    pub min: i64,
    /// Largest value accepted.
    pub max: i64,
}

/// A named set of parameter values.
#[derive(Clone, Copy, Debug)]
pub struct Preset {
    /// Name (`tiny`, `small`, `large`, `gpu`, ...).
    pub name: &'static str,
    /// What it is for.
    pub about: &'static str,
    /// Values of every parameter.
    pub values: &'static [(&'static str, i64)],
}

/// Floating-point precision of an app's data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Precision {
    /// 64-bit.
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

/// A problem: the preset it came from, every parameter's value, the precision and the seed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The preset name (or `custom` if none).
    pub preset: String,
    /// Parameter values, in declaration order.
    pub values: Vec<(&'static str, i64)>,
    /// Element precision.
    pub precision: Precision,
    /// Seed of generated inputs.
    pub seed: u64,
}

impl Problem {
    fn empty(app: &(impl Application + ?Sized)) -> Problem {
        Problem {
            preset: "custom".into(),
            values: app.params().iter().map(|p| (p.name, p.min)).collect(),
            precision: app.precisions().first().copied().unwrap_or(Precision::F64),
            seed: 1,
        }
    }

    /// The problem of preset `name`; the error names the presets (and the closest one).
    pub fn preset(app: &(impl Application + ?Sized), name: &str) -> Result<Problem, String> {
        let presets = app.presets();
        let Some(p) = presets.iter().find(|p| p.name == name) else {
            let names: Vec<&str> = presets.iter().map(|p| p.name).collect();
            let hint = closest(name, names.iter().copied())
                .map(|c| format!("did you mean `{c}`? "))
                .unwrap_or_default();
            return Err(format!(
                "unknown size `{name}` for {}; {hint}(presets: {})",
                app.name(),
                names.join(", ")
            ));
        };
        let mut prob = Problem::empty(app);
        prob.preset = p.name.to_string();
        for (k, v) in p.values {
            prob.set(app, k, *v)?;
        }
        Ok(prob)
    }

    /// Parses a size: a preset name, optionally followed by `,name=value` overrides, or a bare
    /// `name=value,...` list (over the `small` preset), or a bare number (the app's first
    /// parameter, over the `large` preset).
    pub fn parse(app: &(impl Application + ?Sized), text: &str) -> Result<Problem, String> {
        let text = text.trim();
        let mut parts = text.split(',').map(str::trim);
        let first = parts.next().unwrap_or("");
        let (mut prob, rest): (Problem, Vec<&str>) = if first.contains('=') {
            (Problem::preset(app, "small")?, text.split(',').collect())
        } else if first.chars().all(|c| c.is_ascii_digit() || c == '-') && !first.is_empty() {
            let mut p = Problem::preset(app, "large")?;
            let name = app
                .params()
                .first()
                .map(|d| d.name)
                .ok_or_else(|| format!("{} takes no size parameters", app.name()))?;
            p.set_text(app, name, first)?;
            p.preset = "custom".into();
            (p, parts.collect())
        } else {
            (Problem::preset(app, first)?, parts.collect())
        };
        for kv in rest {
            let Some((k, v)) = kv.split_once('=') else {
                return Err(format!(
                    "bad size part `{kv}`; expected name=value (parameters of {}: {})",
                    app.name(),
                    param_names(app)
                ));
            };
            prob.set_text(app, k.trim(), v.trim())?;
            prob.preset = "custom".into();
        }
        Ok(prob)
    }

    /// Sets parameter `name` from text, checking its range.
    pub fn set_text(
        &mut self,
        app: &(impl Application + ?Sized),
        name: &str,
        value: &str,
    ) -> Result<(), String> {
        let v: i64 = value.parse().map_err(|_| {
            format!(
                "parameter `{name}` of {} takes an integer, not `{value}`",
                app.name()
            )
        })?;
        self.set(app, name, v)
    }

    /// Sets parameter `name`, checking its range.
    pub fn set(
        &mut self,
        app: &(impl Application + ?Sized),
        name: &str,
        value: i64,
    ) -> Result<(), String> {
        let Some(d) = app.params().iter().find(|d| d.name == name) else {
            let hint = closest(name, app.params().iter().map(|d| d.name))
                .map(|c| format!("did you mean `{c}`? "))
                .unwrap_or_default();
            return Err(format!(
                "{} has no parameter `{name}`; {hint}(parameters: {})",
                app.name(),
                param_names(app)
            ));
        };
        if value < d.min || value > d.max {
            return Err(format!(
                "parameter `{name}` of {} must be in {}..={}, not {value}",
                app.name(),
                d.min,
                d.max
            ));
        }
        match self.values.iter_mut().find(|(k, _)| *k == name) {
            Some(slot) => slot.1 = value,
            None => self.values.push((d.name, value)),
        }
        Ok(())
    }

    /// The value of parameter `name` (0 if the app declares no such parameter).
    pub fn get(&self, name: &str) -> i64 {
        self.values
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| *v)
            .unwrap_or(0)
    }

    /// `name=value` pairs, comma-separated.
    pub fn values_text(&self) -> String {
        self.values
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(",")
    }
}

fn param_names(app: &(impl Application + ?Sized)) -> String {
    app.params()
        .iter()
        .map(|d| d.name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// A layout an app's variant requires of one argument.
#[derive(Clone, Copy, Debug)]
pub struct LayoutRule {
    /// Task name.
    pub task: &'static str,
    /// Argument name (`*` for every argument).
    pub arg: &'static str,
    /// The processor kind whose variant has the requirement (`None`: every kind).
    pub kind: Option<ProcKind>,
    /// The requirement.
    pub need: LayoutNeed,
    /// Which code has it, for the message (e.g. `the tile GEMM`).
    pub who: &'static str,
}

/// A layout requirement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LayoutNeed {
    /// Struct of arrays, either order.
    Soa,
    /// Struct of arrays in C order (unit stride along the last dimension).
    SoaCOrder,
}

impl LayoutNeed {
    /// True if `l` meets the requirement.
    pub fn accepts(self, l: &Layout) -> bool {
        match self {
            LayoutNeed::Soa => l.soa,
            LayoutNeed::SoaCOrder => l.soa && l.c_order,
        }
    }

    /// The layout constraints that meet it, as the language writes them.
    pub fn constraint(self) -> &'static str {
        match self {
            LayoutNeed::Soa => "SOA C_order",
            LayoutNeed::SoaCOrder => "SOA C_order",
        }
    }

    /// What it asks for, in words.
    pub fn describe(self) -> &'static str {
        match self {
            LayoutNeed::Soa => "SOA instances (C_order or F_order)",
            LayoutNeed::SoaCOrder => {
                "SOA instances in C_order (unit stride along the last dimension)"
            }
        }
    }
}

/// Checks the layouts a bound mapper gives every argument a rule covers, for every memory it may
/// use; the error names the task, the argument, the layout and the constraint to write.
pub fn check_layouts(
    rules: &[LayoutRule],
    info: &AppInfo,
    bound: &dyn BoundMapper,
) -> Result<(), AppError> {
    for r in rules {
        let Some(tid) = info.task_id(r.task) else {
            continue;
        };
        let kind = bound.proc_kind(tid);
        if r.kind.is_some_and(|k| k != kind) {
            continue;
        }
        let Some(t) = info.tasks.get(tid) else {
            continue;
        };
        for (i, a) in t.args.iter().enumerate() {
            if r.arg != "*" && r.arg != a.name {
                continue;
            }
            for &mem in bound.memories(tid, i, kind) {
                let l = bound.layout(tid, i, kind, mem);
                if !r.need.accepts(&l) {
                    let got = format!(
                        "{} {}",
                        if l.soa { "SOA" } else { "AOS" },
                        if l.c_order { "C_order" } else { "F_order" }
                    );
                    return Err(AppError::Layout(format!(
                        "the mapper lays out argument `{}` of task `{}` on {kind} in {mem} as {got}, \
                         which {} cannot take (it needs {}); help: use `Layout {} {} {kind} {};`",
                        a.name,
                        r.task,
                        r.who,
                        r.need.describe(),
                        r.task,
                        a.name,
                        r.need.constraint(),
                    )));
                }
            }
        }
    }
    Ok(())
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

    /// Resolves a `--mapper` argument: `expert`, `default`, one of the app's named mappers, or
    /// a file path (read here).
    pub fn resolve(app: &dyn Application, arg: &str) -> Result<MapperChoice, String> {
        match arg {
            "expert" => Ok(MapperChoice::Expert),
            "default" => Ok(MapperChoice::Default),
            _ => {
                if let Some(m) = app.mappers().iter().find(|m| m.name == arg) {
                    return Ok(MapperChoice::Text {
                        name: m.name.to_string(),
                        source: m.source.to_string(),
                    });
                }
                std::fs::read_to_string(arg)
                    .map(|source| MapperChoice::Text {
                        name: arg.to_string(),
                        source,
                    })
                    .map_err(|e| {
                        let named: Vec<&str> = app.mappers().iter().map(|m| m.name).collect();
                        format!(
                            "cannot read mapper `{arg}`: {e} (expected expert, default{}{} or a mapper file)",
                            if named.is_empty() { "" } else { ", " },
                            named.join(", ")
                        )
                    })
            }
        }
    }
}

/// How to run an app.
#[derive(Clone, Debug)]
pub struct RunConfig {
    /// Machine spec passed to the runtime (`local`, `emulated:2x4`, `sim:p100x4`, ...).
    pub machine: String,
    /// The problem.
    pub problem: Problem,
    /// The mapper.
    pub mapper: MapperChoice,
    /// Record a profile (returned in the report).
    pub profile: bool,
}

impl RunConfig {
    /// The `tiny` preset of `app` with the expert mapper on `local`.
    pub fn tiny(app: &dyn Application) -> RunConfig {
        RunConfig {
            machine: "local".into(),
            problem: Problem::preset(app, "tiny").unwrap_or_else(|_| Problem::empty(app)),
            mapper: MapperChoice::Expert,
            profile: false,
        }
    }
}

/// How a run's result compared with its reference.
#[derive(Clone, Debug, PartialEq)]
pub enum Verification {
    /// The result matched; the note says how closely.
    Verified(String),
    /// The result differs; the note names the first wrong element.
    Failed(String),
    /// A simulated run computes no data: nothing to verify.
    Simulated,
}

impl Verification {
    /// True if the run verified.
    pub fn ok(&self) -> bool {
        matches!(self, Verification::Verified(_))
    }

    /// The note (empty for a simulated run).
    pub fn note(&self) -> &str {
        match self {
            Verification::Verified(s) | Verification::Failed(s) => s,
            Verification::Simulated => "",
        }
    }
}

/// What an app's run returns to the driver.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// Work done in the measured part, in `unit`.
    pub work: f64,
    /// The unit of work (`FLOP`, `cell updates`, `wire updates`, `zone-cycles`).
    pub unit: &'static str,
    /// The decomposition and processors, e.g. `grid 2x2 on 4 CPU`.
    pub decomposition: String,
    /// The verification.
    pub verification: Verification,
    /// App-specific numbers for the JSON line (e.g. `max_rel_error`).
    pub extra: BTreeMap<&'static str, f64>,
}

/// The outcome of a run, as the CLI and the tuner see it.
#[derive(Clone, Debug)]
pub struct RunReport {
    /// App name.
    pub app: String,
    /// Mapper label.
    pub mapper: String,
    /// Machine name.
    pub machine: String,
    /// The problem.
    pub problem: Problem,
    /// Seconds of the measured part (simulated seconds on a simulated machine).
    pub time_s: f64,
    /// The app's outcome.
    pub outcome: Outcome,
    /// True on a simulated machine.
    pub simulated: bool,
    /// The profile, if requested.
    pub profile: Option<Profile>,
    /// Argument instances placed in a memory the mapper did not list (the default list's
    /// fallback), recorded with or without a profile.
    pub fallbacks: Vec<runtime::profile::Fallback>,
}

impl RunReport {
    /// Work per second, in the app's unit.
    pub fn rate(&self) -> f64 {
        self.outcome.work / self.time_s.max(1e-12)
    }

    /// True if the result verified (a simulated run counts as verified: it has no data).
    pub fn verified(&self) -> bool {
        self.simulated || self.outcome.verification.ok()
    }

    /// The rate with an SI prefix, e.g. `12.3 GFLOP/s`, `1.91 G cell updates/s`.
    pub fn rate_text(&self) -> String {
        rate_text(self.rate(), self.outcome.unit)
    }

    /// One machine-readable JSON line.
    pub fn json(&self) -> serde_json::Value {
        let mut v = serde_json::json!({
            "app": self.app,
            "mapper": self.mapper,
            "machine": self.machine,
            "size": self.problem.preset,
            "params": self.problem.values.iter().map(|(k, v)| (k.to_string(), serde_json::json!(v))).collect::<serde_json::Map<_, _>>(),
            "precision": self.problem.precision.as_str(),
            "decomposition": self.outcome.decomposition,
            "time_s": self.time_s,
            "work": self.outcome.work,
            "unit": self.outcome.unit,
            "rate": self.rate(),
            "verified": self.outcome.verification.ok(),
            "simulated": self.simulated,
            "check": self.outcome.verification.note(),
        });
        for (k, x) in &self.outcome.extra {
            v[*k] = serde_json::json!(x);
        }
        v
    }
}

/// `x` per second with an SI prefix: `12.3 GFLOP/s`, `1.91 G cell updates/s`.
pub fn rate_text(x: f64, unit: &str) -> String {
    let (s, p) = [(1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")]
        .into_iter()
        .find(|(s, _)| x >= *s)
        .unwrap_or((1.0, ""));
    let sep = if unit.contains(' ') && !p.is_empty() {
        " "
    } else {
        ""
    };
    format!("{:.2} {p}{sep}{unit}/s", x / s)
}

impl fmt::Display for RunReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({} mapper) on {}: {} {}, {}, time {:.4} s, {}, ",
            self.app,
            self.mapper,
            self.machine,
            self.problem.values_text(),
            self.problem.precision.as_str(),
            self.outcome.decomposition,
            self.time_s,
            self.rate_text(),
        )?;
        match &self.outcome.verification {
            Verification::Simulated => f.write_str("simulated time (no data to verify)"),
            Verification::Verified(n) => write!(f, "verified ({n})"),
            Verification::Failed(n) => write!(f, "NOT VERIFIED ({n})"),
        }
    }
}

/// Why a run failed.
#[derive(Clone, Debug)]
pub enum AppError {
    /// The mapper has errors or cannot be bound (diagnostics rendered against its source).
    Mapper(String),
    /// The mapper asks for a layout one of the app's variants cannot take.
    Layout(String),
    /// The runtime failed (launch, mapping, memory, task failure), with its typed error.
    Runtime(RuntimeError),
    /// Bad configuration (machine spec, size, precision).
    Config(String),
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AppError::Mapper(m) => write!(f, "{m}"),
            AppError::Layout(m) => write!(f, "mapping error: {m}"),
            AppError::Runtime(RuntimeError::Map(m)) => write!(f, "mapping error: {m}"),
            AppError::Runtime(e) => write!(f, "runtime error: {e}"),
            AppError::Config(m) => write!(f, "{m}"),
        }
    }
}

impl std::error::Error for AppError {}

impl From<RuntimeError> for AppError {
    fn from(e: RuntimeError) -> Self {
        match e {
            RuntimeError::Config(m) => AppError::Config(m),
            other => AppError::Runtime(other),
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

/// A running app: the runtime (with the mapper bound), the task declarations, the problem and
/// the clock of the measured part.
pub struct Job {
    /// The runtime.
    pub rt: Runtime,
    /// The task declarations.
    pub decl: runtime::App,
    /// The problem.
    pub problem: Problem,
    started: Option<u64>,
    stopped: Option<u64>,
}

impl Job {
    /// The handle of task `name`.
    pub fn task(&self, name: &str) -> Result<TaskHandle, AppError> {
        self.decl.handle(name).ok_or_else(|| {
            AppError::Config(format!(
                "the app declares no task `{name}` (a bug in the app)"
            ))
        })
    }

    /// The mapper, bound to the app and the machine.
    pub fn bound(&self) -> &dyn BoundMapper {
        self.rt.bound()
    }

    /// The processor kind the bound mapper runs task `name` on, and how many processors of that
    /// kind the machine has (at least 1).
    pub fn procs_of(&self, name: &str) -> Result<(ProcKind, u32), AppError> {
        let info = self.decl.info();
        let tid = info.task_id(name).ok_or_else(|| {
            AppError::Config(format!(
                "the app declares no task `{name}` (a bug in the app)"
            ))
        })?;
        let kind = self.bound().proc_kind(tid);
        let n = self.rt.machine().shape().count(kind);
        Ok((kind, u32::try_from(n).unwrap_or(u32::MAX).max(1)))
    }

    /// True on a simulated machine (task bodies do not run; there is no data to verify).
    pub fn simulated(&self) -> bool {
        self.rt.is_simulated()
    }

    /// Waits for everything launched so far (the set-up) and starts the clock.
    pub fn start_clock(&mut self) -> Result<(), AppError> {
        self.rt.wait_all()?;
        self.started = Some(self.rt.elapsed_ns());
        Ok(())
    }

    /// Waits for everything launched so far and stops the clock.
    pub fn stop_clock(&mut self) -> Result<(), AppError> {
        self.rt.wait_all()?;
        self.stopped = Some(self.rt.elapsed_ns());
        Ok(())
    }

    /// Seconds between [`Job::start_clock`] and [`Job::stop_clock`].
    pub fn seconds(&self) -> Option<f64> {
        match (self.started, self.stopped) {
            (Some(a), Some(b)) => Some(b.saturating_sub(a) as f64 / 1e9),
            _ => None,
        }
    }
}

/// Builds the mapper a run asks for; errors are diagnostics rendered against the mapper text.
pub fn make_mapper(
    app: &dyn Application,
    choice: &MapperChoice,
) -> Result<Box<dyn Mapper>, AppError> {
    match choice {
        MapperChoice::Expert => Ok((app.expert().make)()),
        MapperChoice::Default => Ok(Box::new(runtime::DefaultMapper)),
        MapperChoice::Text { name, source } => {
            Interpreted::from_text_for(name, source, &app.info())
                .map(|m| Box::new(m) as Box<dyn Mapper>)
                .map_err(|d| AppError::Mapper(render_all(&d, name, source)))
        }
    }
}

/// Renders bind diagnostics against the source of the mapper `choice` names.
pub fn render_bind_errors(
    app: &dyn Application,
    choice: &MapperChoice,
    diags: &[Diagnostic],
) -> String {
    match choice {
        MapperChoice::Expert => render_all(
            diags,
            &format!("<{} expert mapper>", app.name()),
            app.expert().source,
        ),
        MapperChoice::Default => diags
            .iter()
            .map(|d| format!("error: {}\n", d.message))
            .collect(),
        MapperChoice::Text { name, source } => render_all(diags, name, source),
    }
}

/// Runs `app` as `cfg` says: builds and binds the mapper (once), refuses layouts the app cannot
/// take, runs the app, and returns its report with the measured time and the profile.
pub fn run(app: &dyn Application, cfg: &RunConfig) -> Result<RunReport, AppError> {
    if !app.precisions().contains(&cfg.problem.precision) {
        return Err(AppError::Config(format!(
            "{} does not run in {} (it runs in {})",
            app.name(),
            cfg.problem.precision.as_str(),
            app.precisions()
                .iter()
                .map(|p| p.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let mapper = make_mapper(app, &cfg.mapper)?;
    if cfg.machine.trim() == "sim:local" {
        // The description of this host is measured on first use and cached.
        crate::host::ensure_local_sim(false).map_err(AppError::Config)?;
    }
    let machine = runtime::MachineDesc::parse(&cfg.machine).map_err(AppError::Config)?;
    let decl = app.declare(&cfg.problem);
    let rt = Runtime::new(
        decl.clone(),
        machine,
        mapper.as_ref(),
        RuntimeOptions {
            profile: cfg.profile,
        },
    )
    .map_err(|e| match e {
        RuntimeError::Bind { diagnostics, .. } => {
            AppError::Mapper(render_bind_errors(app, &cfg.mapper, &diagnostics))
        }
        other => other.into(),
    })?;
    check_layouts(app.layout_rules(), &decl.info(), rt.bound())?;
    let mut job = Job {
        rt,
        decl,
        problem: cfg.problem.clone(),
        started: None,
        stopped: None,
    };
    let mut outcome = app.run(&mut job)?;
    job.rt.wait_all()?;
    if !job.rt.is_simulated() {
        // 52 bits of the hash of every value the app read back: exact in a JSON number.
        let d = job.rt.read_digest() & ((1 << 52) - 1);
        outcome.extra.insert("result_digest", d as f64);
    }
    let time_s = job.seconds().ok_or_else(|| {
        AppError::Config(format!(
            "{} never started and stopped its clock (a bug in the app)",
            app.name()
        ))
    })?;
    Ok(RunReport {
        app: app.name().to_string(),
        mapper: cfg.mapper.label(),
        machine: job.rt.machine().name.clone(),
        problem: cfg.problem.clone(),
        time_s,
        simulated: job.rt.is_simulated(),
        outcome,
        profile: cfg.profile.then(|| job.rt.profile()),
        fallbacks: job.rt.fallbacks(),
    })
}
