//! What the tuner needs from an application: its description (tasks, arguments, launch
//! dimensionality, the layouts its variants accept), its expert mapper and where that mapper
//! lives in the source, and a way to run it once with any mapper on a machine at a size,
//! returning the time, whether the result verified, and facts from the profile.
//!
//! [`TuneApp`] is implemented by the benchmark applications (through the registry, see
//! [`crate::bench`]); everything else in the tuner only sees this trait.

use mapper_core::kinds::ProcKind;
use mapper_core::{AppInfo, Mapper};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Where an application's expert `mapper!` invocation is, for `--write`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapperSource {
    /// The Rust file holding the invocation.
    pub path: PathBuf,
    /// The mapper type name (`mapper! { NAME; ... }`).
    pub type_name: String,
    /// The cargo package to `cargo check` after rewriting.
    pub package: String,
}

/// Facts from a run's profile, small enough to pass between processes.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ProfileFacts {
    /// Busy time per processor kind (`GPU`, `CPU`, ...) in seconds, summed over processors.
    pub busy_s_per_kind: BTreeMap<String, f64>,
    /// Number of processors of each kind that ran at least one task.
    pub procs_used_per_kind: BTreeMap<String, usize>,
    /// Bytes per memory pair (`SYSMEM[0.0] -> FBMEM[0.1]`, fills as `fill -> ...`).
    pub bytes_per_pair: BTreeMap<String, u64>,
    /// Copy bytes and counts per region, largest first.
    pub copies_by_region: Vec<(String, u64, usize)>,
    /// Copy bytes and counts per task, largest first.
    pub copies_by_task: Vec<(String, u64, usize)>,
    /// Tasks executed.
    pub tasks: usize,
    /// Copies executed (fills and folds included).
    pub copies: usize,
    /// Dimensions of each task's launch points (the most common, if several).
    #[serde(default)]
    pub launch_dims: BTreeMap<String, usize>,
    /// Extents of each task's index launches, as the points ran (`4x4x2`), and the number of
    /// points run in all.
    #[serde(default)]
    pub launch_extents: BTreeMap<String, (Vec<i64>, usize)>,
    /// Busy time per processor (`GPU[0.1]`), seconds.
    #[serde(default)]
    pub busy_s_per_proc: BTreeMap<String, f64>,
    /// Time from the first task or copy to the last end, seconds.
    #[serde(default)]
    pub span_s: f64,
    /// The longest waits on the critical path, longest first: what a processor waited for
    /// (a copy or a task on another processor) and for how long.
    #[serde(default)]
    pub waits: Vec<Wait>,
    /// Argument instances placed in a memory the mapper did not list, and why (one line each).
    #[serde(default)]
    pub fallbacks: Vec<String>,
}

/// A wait on the critical path.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Wait {
    /// The waiting task and where it ran (`gemm_panel on GPU[0.1]`).
    pub waiter: String,
    /// What it waited for (`copy of a_panels.x SYSMEM[0.0] -> FBMEM[0.1], 8.00 MiB` or
    /// `task init_tiles on CPU[0.0]`).
    pub on: String,
    /// Idle time of the waiting processor before it started, seconds.
    pub idle_s: f64,
}

/// Walks the critical path backwards from the last task to end: each task's predecessor is
/// the latest event that ended before it started among the previous task on its processor,
/// the copies issued for a task of its name and tasks on other processors; when that
/// predecessor is not the previous task on the same processor, the processor idled from its
/// previous task's end to the start: a wait on that predecessor.
fn critical_waits(p: &runtime::Profile) -> Vec<Wait> {
    let tasks = &p.tasks;
    if tasks.is_empty() {
        return Vec::new();
    }
    let mut by_end: Vec<usize> = (0..tasks.len()).collect();
    by_end.sort_by_key(|&i| tasks[i].end_ns);
    // Copies per task name, by end time.
    let mut copies: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, c) in p.copies.iter().enumerate() {
        copies.entry(&*c.task).or_default().push(i);
    }
    for v in copies.values_mut() {
        v.sort_by_key(|&i| p.copies[i].end_ns);
    }
    // Previous task end on the same processor, per task.
    let mut prev_same: Vec<Option<u64>> = vec![None; tasks.len()];
    let mut by_proc: BTreeMap<mapper_core::ProcId, Vec<usize>> = BTreeMap::new();
    for (i, t) in tasks.iter().enumerate() {
        by_proc.entry(t.proc).or_default().push(i);
    }
    for v in by_proc.values_mut() {
        v.sort_by_key(|&i| tasks[i].start_ns);
        for w in v.windows(2) {
            prev_same[w[1]] = Some(tasks[w[0]].end_ns);
        }
    }
    let mut waits: Vec<Wait> = Vec::new();
    let mut cur = *by_end.last().unwrap_or(&0);
    for _ in 0..tasks.len().min(20_000) {
        let t = &tasks[cur];
        let start = t.start_ns;
        // The latest copy for this task name ending by `start`.
        let copy = copies.get(&*t.name).and_then(|v| {
            let k = v.partition_point(|&c| p.copies[c].end_ns <= start);
            v[..k].last()
        });
        // The latest task ending by `start` (any processor).
        let k = by_end.partition_point(|&i| tasks[i].end_ns <= start);
        let task = by_end[..k].iter().rev().find(|&&i| i != cur).copied();
        let copy_end = copy.map(|&c| p.copies[c].end_ns);
        let task_end = task.map(|i| tasks[i].end_ns);
        let own_end = prev_same[cur];
        let idle = start.saturating_sub(own_end.unwrap_or(0));
        let next = match (copy_end, task_end) {
            (Some(ce), te) if te.is_none_or(|te| ce >= te) => {
                if let Some(&c) = copy {
                    let c = &p.copies[c];
                    if idle > 0 && own_end.is_none_or(|o| ce > o) {
                        waits.push(Wait {
                            waiter: format!("{} on {}", t.name, t.proc),
                            on: format!(
                                "{} of {}.{} {} -> {} ({})",
                                match c.kind {
                                    runtime::profile::CopyKind::Copy => "copy",
                                    runtime::profile::CopyKind::Fill => "fill",
                                    runtime::profile::CopyKind::Fold => "reduction fold",
                                    runtime::profile::CopyKind::Writeback => "write-back",
                                },
                                c.region,
                                c.field,
                                c.src.as_deref().unwrap_or("fill"),
                                c.dst,
                                crate::feedback::human_bytes(c.bytes)
                            ),
                            idle_s: idle as f64 * 1e-9,
                        });
                    }
                    // Continue from the task the copy waited for.
                    let k = by_end.partition_point(|&i| tasks[i].end_ns <= c.start_ns);
                    by_end[..k].last().copied()
                } else {
                    None
                }
            }
            (_, Some(te)) => {
                let i = task.unwrap_or(cur);
                if idle > 0 && tasks[i].proc != t.proc && own_end.is_none_or(|o| te > o) {
                    waits.push(Wait {
                        waiter: format!("{} on {}", t.name, t.proc),
                        on: format!("task {} on {}", tasks[i].name, tasks[i].proc),
                        idle_s: idle as f64 * 1e-9,
                    });
                }
                Some(i)
            }
            _ => None,
        };
        match next {
            Some(n) if n != cur && tasks[n].end_ns <= start => cur = n,
            _ => break,
        }
    }
    // Merge equal waits, longest total first.
    let mut merged: Vec<Wait> = Vec::new();
    for w in waits {
        match merged
            .iter_mut()
            .find(|m| m.waiter == w.waiter && m.on == w.on)
        {
            Some(m) => m.idle_s += w.idle_s,
            None => merged.push(w),
        }
    }
    merged.sort_by(|a, b| b.idle_s.total_cmp(&a.idle_s));
    merged.truncate(5);
    merged
}

/// Kind label of a memory label such as `FBMEM[0.1]`.
fn mem_kind_label(label: &str) -> &str {
    label.split('[').next().unwrap_or(label)
}

impl ProfileFacts {
    /// Facts from a runtime profile.
    pub fn from_profile(p: &runtime::Profile) -> ProfileFacts {
        let mut busy = BTreeMap::new();
        let mut used: BTreeMap<String, usize> = BTreeMap::new();
        for (proc, ns) in p.busy_per_proc() {
            let k = proc.kind.to_string();
            *busy.entry(k.clone()).or_insert(0.0) += ns as f64 * 1e-9;
            *used.entry(k).or_insert(0) += 1;
        }
        let mut dims: BTreeMap<String, BTreeMap<usize, usize>> = BTreeMap::new();
        for t in &p.tasks {
            *dims
                .entry(t.name.to_string())
                .or_default()
                .entry(t.point.dim())
                .or_insert(0) += 1;
        }
        let launch_dims = dims
            .into_iter()
            .filter_map(|(k, m)| Some((k, m.into_iter().max_by_key(|(_, n)| *n)?.0)))
            .collect();
        // Extents: per task, the range of each coordinate over its points (of the most common
        // dimensionality).
        let mut ranges: BTreeMap<String, (Vec<(i64, i64)>, usize)> = BTreeMap::new();
        for t in &p.tasks {
            let c = t.point.coords();
            let e = ranges
                .entry(t.name.to_string())
                .or_insert_with(|| (c.iter().map(|&x| (x, x)).collect(), 0));
            e.1 += 1;
            if e.0.len() == c.len() {
                for (r, &x) in e.0.iter_mut().zip(c) {
                    r.0 = r.0.min(x);
                    r.1 = r.1.max(x);
                }
            }
        }
        let launch_extents = ranges
            .into_iter()
            .map(|(k, (r, n))| (k, (r.iter().map(|(lo, hi)| hi - lo + 1).collect(), n)))
            .collect();
        let lo = p
            .tasks
            .iter()
            .map(|t| t.start_ns)
            .chain(p.copies.iter().map(|c| c.start_ns))
            .min()
            .unwrap_or(0);
        let hi = p
            .tasks
            .iter()
            .map(|t| t.end_ns)
            .chain(p.copies.iter().map(|c| c.end_ns))
            .max()
            .unwrap_or(0);
        ProfileFacts {
            launch_extents,
            busy_s_per_proc: p
                .busy_per_proc()
                .into_iter()
                .map(|(k, ns)| (k.to_string(), ns as f64 * 1e-9))
                .collect(),
            span_s: hi.saturating_sub(lo) as f64 * 1e-9,
            waits: critical_waits(p),
            fallbacks: p.fallbacks.iter().map(|f| f.to_string()).collect(),
            launch_dims,
            busy_s_per_kind: busy,
            procs_used_per_kind: used,
            bytes_per_pair: p.bytes_per_pair(),
            copies_by_region: p.copies_by_region().into_iter().take(8).collect(),
            copies_by_task: p.copies_by_task().into_iter().take(8).collect(),
            tasks: p.tasks.len(),
            copies: p.copies.len(),
        }
    }

    /// Bytes moved between memories of different kinds or nodes (fills excluded), largest pair
    /// first: `(pair, bytes)`.
    pub fn top_pair(&self) -> Option<(&str, u64)> {
        self.bytes_per_pair
            .iter()
            .filter(|(k, _)| !k.starts_with("fill"))
            .max_by_key(|(_, b)| **b)
            .map(|(k, b)| (k.as_str(), *b))
    }

    /// The memory-kind pair of a pair label (`SYSMEM -> FBMEM`).
    pub fn kind_pair(pair: &str) -> String {
        match pair.split_once(" -> ") {
            Some((a, b)) => format!("{} -> {}", mem_kind_label(a), mem_kind_label(b)),
            None => pair.to_string(),
        }
    }
}

/// One run of an application.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    /// Elapsed time of the timed part, in seconds (simulated time on `sim:` machines).
    pub time_s: f64,
    /// Throughput in the app's unit (e.g. GFLOP/s), if it reports one.
    pub throughput: Option<f64>,
    /// Unit of `throughput`.
    pub unit: String,
    /// True if the result matched the reference.
    pub verified: bool,
    /// A one-line note on the verification (e.g. the largest error).
    pub check: String,
    /// Facts from the profile.
    pub profile: ProfileFacts,
}

/// Why a run failed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "message", rename_all = "snake_case")]
pub enum RunFailure {
    /// Bad machine spec, size or application configuration (not the mapper's fault).
    Config(String),
    /// The mapper could not be bound to the application and machine.
    Bind(String),
    /// A mapping decision failed (placement out of range, wrong kind, division by zero...).
    Map(String),
    /// No memory in a priority list could hold an instance.
    MemoryFull(String),
    /// A task failed (e.g. a variant rejected the layout it was given).
    Exec(String),
}

impl RunFailure {
    /// The message.
    pub fn message(&self) -> &str {
        match self {
            RunFailure::Config(m)
            | RunFailure::Bind(m)
            | RunFailure::Map(m)
            | RunFailure::MemoryFull(m)
            | RunFailure::Exec(m) => m,
        }
    }

    /// A failure from a runtime error.
    pub fn from_runtime(e: &runtime::RuntimeError) -> RunFailure {
        use runtime::RuntimeError as E;
        let m = e.to_string();
        match e {
            E::Config(_) => RunFailure::Config(m),
            E::Bind { .. } => RunFailure::Bind(m),
            E::Map(_) => RunFailure::Map(m),
            E::MemoryFull { .. } => RunFailure::MemoryFull(m),
            E::Launch(_) | E::Exec(_) => RunFailure::Exec(m),
        }
    }
}

impl std::fmt::Display for RunFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message())
    }
}

/// An application the tuner can optimize.
pub trait TuneApp: Send + Sync {
    /// Registry name (`cannon`, `stencil`, ...).
    fn name(&self) -> &str;
    /// One paragraph for prompts and reports.
    fn summary(&self) -> String;
    /// Tasks, arguments and variants.
    fn info(&self) -> AppInfo;
    /// Number of dimensions of a task's index launches (`None` for single launches).
    fn launch_dims(&self, task: &str) -> Option<usize>;
    /// Layout constraint sets (e.g. `SOA C_order`) a task's `kind` variant accepts for argument
    /// `arg`, most natural first. The default: both orders in SOA.
    fn layouts(&self, task: &str, arg: usize, kind: ProcKind) -> Vec<String> {
        let _ = (task, arg, kind);
        vec!["SOA C_order".to_string(), "SOA F_order".to_string()]
    }
    /// The privilege of a task's argument as the prompt shows it (`read`, `write`,
    /// `read-write`, `write-discard`, `reduce(+)`), if known.
    fn privilege(&self, task: &str, arg: usize) -> Option<String> {
        let _ = (task, arg);
        None
    }
    /// The problem a `--size` value means, in words (`preset large: n=8192`), if known.
    fn size_text(&self, size: &str) -> Option<String> {
        let _ = size;
        None
    }
    /// The expert mapper's DSL text.
    fn expert_mapper(&self) -> String;
    /// Where the expert `mapper!` lives, if it is in Rust source.
    fn mapper_source(&self) -> Option<MapperSource>;
    /// Size presets, smallest first.
    fn sizes(&self) -> Vec<String>;
    /// Checks a `--size` value: by default one of [`TuneApp::sizes`] (any value if there are
    /// none).
    fn check_size(&self, size: &str) -> Result<(), String> {
        let sizes = self.sizes();
        if sizes.is_empty() || sizes.iter().any(|s| s == size) {
            Ok(())
        } else {
            Err(format!(
                "unknown size `{size}` for {}; known: {}",
                self.name(),
                sizes.join(", ")
            ))
        }
    }
    /// Runs the app once with `mapper` on `machine` at `size`.
    fn run(&self, mapper: &MapperSpec, machine: &str, size: &str) -> Result<RunReport, RunFailure>;
}

/// The mapper a run uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MapperSpec {
    /// The runtime's default mapper.
    Default,
    /// A mapper text (checked, then interpreted).
    Text(String),
}

impl MapperSpec {
    /// The mapper to hand the runtime; diagnostics of a bad text become a bind failure.
    pub fn build(&self) -> Result<Box<dyn Mapper>, RunFailure> {
        match self {
            MapperSpec::Default => Ok(Box::new(mapper_core::default::DefaultMapper)),
            MapperSpec::Text(t) => mapper_core::interp::Interpreted::from_text("candidate", t)
                .map(|m| Box::new(m) as Box<dyn Mapper>)
                .map_err(|d| {
                    RunFailure::Bind(mapper_core::diag::render_all(
                        &d,
                        crate::validate::CANDIDATE_FILE,
                        t,
                    ))
                }),
        }
    }
}

/// True for machines whose times are simulated (deterministic: one run suffices).
pub fn is_simulated(machine: &str) -> bool {
    let m = machine.trim();
    m.starts_with("sim:") || m.ends_with(".toml")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn critical_path_waits() {
        use runtime::profile::{CopyKind, CopyRecord, Profile, TaskRecord};
        let gpu = |index| mapper_core::ProcId {
            node: 0,
            kind: ProcKind::Gpu,
            index,
        };
        let task = |name: &str, proc, start_ns, end_ns| TaskRecord {
            name: name.into(),
            point: runtime::Point::p1(0),
            proc,
            start_ns,
            end_ns,
        };
        // a on GPU 0, then a 2 us copy for b, then b on GPU 1; c runs on GPU 0 meanwhile.
        let p = Profile {
            tasks: vec![
                task("a", gpu(0), 0, 10_000),
                task("c", gpu(0), 10_000, 12_000),
                task("b", gpu(1), 30_000, 40_000),
            ],
            copies: vec![CopyRecord {
                kind: CopyKind::Copy,
                src: Some("FBMEM[0.0]".into()),
                dst: "FBMEM[0.1]".into(),
                node: 0,
                bytes: 2 << 20,
                region: "r".into(),
                field: "v".into(),
                task: "b".into(),
                start_ns: 10_000,
                end_ns: 30_000,
            }],
            fallbacks: Vec::new(),
        };
        let f = ProfileFacts::from_profile(&p);
        assert_eq!(
            f.waits,
            vec![Wait {
                waiter: "b on GPU[0, 1]".into(),
                on: "copy of r.v FBMEM[0.0] -> FBMEM[0.1] (2.00 MiB)".into(),
                idle_s: 30e-6,
            }]
        );
        assert!((f.span_s - 40e-6).abs() < 1e-12);
        assert_eq!(f.busy_s_per_proc.len(), 2);
        assert_eq!(f.launch_extents.get("a"), Some(&(vec![1], 1)));
    }

    #[test]
    fn pairs_and_sim() {
        let mut f = ProfileFacts::default();
        f.bytes_per_pair.insert("fill -> FBMEM[0.0]".into(), 1000);
        f.bytes_per_pair
            .insert("SYSMEM[0.0] -> FBMEM[0.1]".into(), 10);
        f.bytes_per_pair
            .insert("FBMEM[0.0] -> FBMEM[0.1]".into(), 20);
        assert_eq!(f.top_pair(), Some(("FBMEM[0.0] -> FBMEM[0.1]", 20)));
        assert_eq!(
            ProfileFacts::kind_pair("SYSMEM[0.0] -> FBMEM[0.1]"),
            "SYSMEM -> FBMEM"
        );
        assert!(is_simulated("sim:p100x4") && is_simulated("m.toml") && !is_simulated("local"));
        let j = serde_json::to_string(&RunFailure::Map("x".into())).unwrap();
        assert_eq!(j, r#"{"kind":"map","message":"x"}"#);
    }
}
