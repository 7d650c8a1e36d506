//! Feedback for the optimizer (AutoGuide-style): the raw outcome of an evaluation, an
//! explanation and a suggestion from a rule table, and facts from the profile.
//!
//! [`Outcome`] classifies what happened: the mapper was rejected by mapper-core's checker
//! (never run), binding or mapping failed, a memory was full, a task failed (for example a
//! variant rejected its layout), the run timed out or crashed, the result was wrong, or it ran.
//! [`RULES`] maps outcome classes and message patterns to advice; the first matching rule wins.
//! [`feedback`] renders all of it as the text the optimizer sees.

use crate::report::format_time;
use crate::target::{ProfileFacts, RunFailure, RunReport};
pub use runtime::profile::human_bytes;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

/// What happened when a mapper was evaluated.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// The parser or checker reported errors; the mapper was not run.
    Rejected {
        /// The diagnostics' one-line messages.
        messages: Vec<String>,
        /// The diagnostics rendered in rustc style.
        rendered: String,
    },
    /// The run failed with a classified error.
    Failed {
        /// The failure.
        failure: RunFailure,
    },
    /// The run exceeded the time limit and was killed.
    Timeout {
        /// The limit, in seconds.
        limit_s: f64,
    },
    /// The child process died without a result (signal, panic, abort).
    Crash {
        /// Exit status as text.
        status: String,
        /// The end of its stderr.
        stderr: String,
    },
    /// The app ran but its result did not verify.
    WrongResult {
        /// The app's verification note.
        check: String,
        /// Time of the run.
        time_s: f64,
    },
    /// The app ran and verified.
    Ran {
        /// Median time over the runs, seconds.
        time_s: f64,
        /// Every run's time.
        times_s: Vec<f64>,
        /// The report of the median run.
        report: Box<RunReport>,
    },
}

impl Outcome {
    /// Short class name for tables and logs.
    pub fn class(&self) -> &'static str {
        match self {
            Outcome::Rejected { .. } => "rejected",
            Outcome::Failed { failure } => match failure {
                RunFailure::Config(_) => "config error",
                RunFailure::Bind(_) => "bind error",
                RunFailure::Map(_) => "mapping error",
                RunFailure::MemoryFull(_) => "out of memory",
                RunFailure::Exec(_) => "task failed",
            },
            Outcome::Timeout { .. } => "timeout",
            Outcome::Crash { .. } => "crash",
            Outcome::WrongResult { .. } => "wrong result",
            Outcome::Ran { .. } => "ok",
        }
    }

    /// The median time if the mapper ran and verified.
    pub fn time_s(&self) -> Option<f64> {
        match self {
            Outcome::Ran { time_s, .. } => Some(*time_s),
            _ => None,
        }
    }

    /// The raw text of the outcome (diagnostics, error message, timings).
    pub fn raw(&self) -> String {
        match self {
            Outcome::Rejected { rendered, .. } => rendered.trim_end().to_string(),
            Outcome::Failed { failure } => format!("error: {failure}"),
            Outcome::Timeout { limit_s } => {
                format!("the run did not finish within {limit_s:.1} s and was stopped")
            }
            Outcome::Crash { status, stderr } => {
                let tail = crate::prompt::cut_middle(stderr.trim(), 1500);
                format!("the run crashed ({status}); stderr:\n{tail}")
            }
            Outcome::WrongResult { check, time_s } => {
                format!(
                    "the run finished in {} but the result is wrong: {check}",
                    format_time(*time_s)
                )
            }
            Outcome::Ran {
                time_s,
                times_s,
                report,
            } => {
                let runs = if times_s.len() > 1 {
                    let t: Vec<String> = times_s.iter().map(|t| format_time(*t)).collect();
                    format!(" (median of {} runs: {})", times_s.len(), t.join(", "))
                } else {
                    String::new()
                };
                let thr = report
                    .throughput
                    .map(|t| format!(", {}", apps::rate_text(t, &report.unit)))
                    .unwrap_or_default();
                format!(
                    "ran in {}{runs}{thr}; {}",
                    format_time(*time_s),
                    if report.check.starts_with("simulated") {
                        "simulated, nothing to verify"
                    } else {
                        "result verified"
                    }
                )
            }
        }
    }
}

/// Which outcomes a rule applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// Parser/checker diagnostics.
    Rejected,
    /// Bind errors.
    Bind,
    /// Mapping errors.
    Map,
    /// Memory full.
    MemoryFull,
    /// Task failures.
    Exec,
    /// Timeouts.
    Timeout,
    /// Crashes.
    Crash,
    /// Wrong results.
    WrongResult,
    /// Any failure class (a catch-all).
    AnyFailure,
}

/// One rule: when it applies, what it means, what to try.
#[derive(Clone, Copy, Debug)]
pub struct Rule {
    /// Stable identifier (logged in the history).
    pub id: &'static str,
    /// The outcome class it applies to.
    pub class: Class,
    /// Lower-case substrings of the message, any of which must occur (empty: always).
    pub patterns: &'static [&'static str],
    /// What the outcome means.
    pub explanation: &'static str,
    /// What to change.
    pub suggestion: &'static str,
}

/// The rule table, most specific first.
pub const RULES: &[Rule] = &[
    Rule {
        id: "types",
        class: Class::Rejected,
        patterns: &["mismatched types", "cannot index", "tuple length", "cannot apply", "no method", "no field", "arguments of"],
        explanation: "An expression mixes types: e.g. indexing an integer, tuples of different lengths, or a method that does not exist.",
        suggestion: "`task.ipoint` and `task.ispace` are tuples, `m.size` is a tuple, `m[i, j]` needs one integer per dimension; use only the methods in the documentation.",
    },
    Rule {
        id: "syntax",
        class: Class::Rejected,
        patterns: &["expected", "unexpected", "unclosed", "unterminated"],
        explanation: "The mapper does not parse: a statement is malformed.",
        suggestion: "End every statement with `;`, wrap function bodies in `{ }`, write `def f(Task task) { ... }` with no `:` and no return type, and follow the statement forms of the documentation exactly.",
    },
    Rule {
        id: "unknown-kind",
        class: Class::Rejected,
        patterns: &["unknown processor kind", "unknown memory kind", "unknown layout", "unknown constraint"],
        explanation: "A processor kind, memory kind or layout constraint is misspelled or does not exist.",
        suggestion: "Use only CPU, GPU, OMP, IO, PY, PROC; SYSMEM, FBMEM, ZCMEM, RDMEM, SOCKMEM, VIRTUAL; SOA, AOS, C_order, F_order, Align, No_Align, Compact, Exact (see the did-you-mean help).",
    },
    Rule {
        id: "unknown-name",
        class: Class::Rejected,
        patterns: &["unknown task", "unknown region"],
        explanation: "The mapper names a task or region the application does not have.",
        suggestion: "Use exactly the task and region names listed in the application description, or `*`.",
    },
    Rule {
        id: "undefined",
        class: Class::Rejected,
        patterns: &["is not defined", "used before it is defined", "unknown function", "assign it before"],
        explanation: "A variable or function is used before it is defined.",
        suggestion: "Define machine spaces at top level before the functions that use them, e.g. `mgpu = Machine(GPU);`, and define every function with `def` before `IndexTaskMap` names it.",
    },
    Rule {
        id: "signature",
        class: Class::Rejected,
        patterns: &["without `return`", "exactly one parameter", "return` statement"],
        explanation: "A placement function has the wrong signature or can end without returning a processor.",
        suggestion: "Declare placement functions as `def NAME(Task task) { ... return m[...]; }` and return on every path.",
    },
    Rule {
        id: "check-other",
        class: Class::Rejected,
        patterns: &[],
        explanation: "mapper-core's checker rejected the mapper before it ran.",
        suggestion: "Fix the first error shown (with its help line) and keep the rest of the mapper unchanged.",
    },
    Rule {
        id: "bind-divisible",
        class: Class::Bind,
        patterns: &["not divisible", "no factorization", "no balanced split"],
        explanation: "A machine-space transform does not fit this machine's processor counts.",
        suggestion: "Split by factors that divide the dimension (read sizes from `m.size` rather than constants), or use `auto_split`/`decompose`, which always fit.",
    },
    Rule {
        id: "bind-other",
        class: Class::Bind,
        patterns: &[],
        explanation: "The mapper cannot be bound to this application and machine (a name, kind or machine space does not exist here).",
        suggestion: "Use only processor kinds this machine has and task/region names of this application.",
    },
    Rule {
        id: "layout-map",
        class: Class::Map,
        patterns: &["layout", "soa tiles", "f_order", "c_order"],
        explanation: "The application rejected the layout this mapper gives a task's arguments (e.g. the tile GEMM needs SOA tiles).",
        suggestion: "Give that task's arguments a layout its variant accepts, e.g. `Layout TASK * GPU SOA F_order;` (the message names the task and the accepted layouts).",
    },
    Rule {
        id: "placement-range",
        class: Class::Map,
        patterns: &["out of bound", "out of range", "too many indices"],
        explanation: "A placement function computed a processor index outside the machine space; indices are never wrapped.",
        suggestion: "Scale the point into the space, e.g. `ip[0] * m.size[0] / is[0]`, or wrap it yourself with `% m.size[i]`.",
    },
    Rule {
        id: "placement-kind",
        class: Class::Map,
        patterns: &["processor but task", "runs on"],
        explanation: "A placement function returned a processor of another kind than the one the task runs on.",
        suggestion: "Index the machine space of the task's kind (e.g. `Machine(GPU)` for a task mapped to GPU), or change its `Task` statement so the kinds agree.",
    },
    Rule {
        id: "placement-arith",
        class: Class::Map,
        patterns: &["division by zero", "overflow"],
        explanation: "Arithmetic in a placement function failed for some point (division by zero or overflow).",
        suggestion: "Guard divisors (e.g. divide by `is[0]`, which is never 0, not by a difference) and keep products small.",
    },
    Rule {
        id: "map-other",
        class: Class::Map,
        patterns: &[],
        explanation: "Evaluating a mapping decision failed for some task point.",
        suggestion: "Check the failing function at the reported line for the reported point.",
    },
    Rule {
        id: "memory-full",
        class: Class::MemoryFull,
        patterns: &[],
        explanation: "An instance did not fit in any memory of its priority list (even after evicting unused instances).",
        suggestion: "Add a larger memory as fallback (e.g. `Region TASK REGION GPU FBMEM,ZCMEM;`), limit instances in flight with `InstanceLimit`, or free consumed inputs early with `CollectMemory`.",
    },
    Rule {
        id: "layout-rejected",
        class: Class::Exec,
        patterns: &["layout", "order", "column-major", "row-major", "aos", "soa"],
        explanation: "A task variant rejected the layout of one of its instances (e.g. cuBLAS needs a specific dimension order).",
        suggestion: "Give that task's arguments the layout its variant accepts, e.g. `Layout TASK * GPU SOA F_order;`, and keep the others unchanged.",
    },
    Rule {
        id: "task-failed",
        class: Class::Exec,
        patterns: &[],
        explanation: "A task failed while running with this mapping.",
        suggestion: "Revert the last change to the failing task's kind, memories or layout.",
    },
    Rule {
        id: "timeout",
        class: Class::Timeout,
        patterns: &[],
        explanation: "The run took longer than the time limit: the mapping is far slower than the baseline (e.g. everything on one processor, or data in slow memory).",
        suggestion: "Spread index launches over all processors of the kind and keep data in the memory closest to the processor (FBMEM for GPU tasks).",
    },
    Rule {
        id: "crash",
        class: Class::Crash,
        patterns: &[],
        explanation: "The evaluation process died without a result (panic, abort or signal).",
        suggestion: "Revert to the last mapper that ran and change one decision at a time.",
    },
    Rule {
        id: "wrong-result",
        class: Class::WrongResult,
        patterns: &[],
        explanation: "The program ran but its result did not match the reference; a correct mapping never changes results, so this points at a runtime or variant problem exposed by this mapping.",
        suggestion: "Avoid the decision that exposed it (e.g. the last memory or layout change) and report the mapper as a bug.",
    },
    Rule {
        id: "failure",
        class: Class::AnyFailure,
        patterns: &[],
        explanation: "The mapper failed.",
        suggestion: "Revert to the last mapper that ran and change one decision at a time.",
    },
];

fn class_of(o: &Outcome) -> Option<Class> {
    Some(match o {
        Outcome::Rejected { .. } => Class::Rejected,
        Outcome::Failed { failure } => match failure {
            RunFailure::Bind(_) => Class::Bind,
            RunFailure::Map(_) => Class::Map,
            RunFailure::MemoryFull(_) => Class::MemoryFull,
            RunFailure::Exec(_) => Class::Exec,
            RunFailure::Config(_) => Class::AnyFailure,
        },
        Outcome::Timeout { .. } => Class::Timeout,
        Outcome::Crash { .. } => Class::Crash,
        Outcome::WrongResult { .. } => Class::WrongResult,
        Outcome::Ran { .. } => return None,
    })
}

fn message_of(o: &Outcome) -> String {
    match o {
        Outcome::Rejected { messages, .. } => messages.join("\n"),
        Outcome::Failed { failure } => failure.message().to_string(),
        Outcome::Crash { stderr, .. } => stderr.clone(),
        Outcome::WrongResult { check, .. } => check.clone(),
        _ => String::new(),
    }
    .to_lowercase()
}

/// The first rule that applies to a failed outcome (`None` for one that ran).
pub fn rule_for(o: &Outcome) -> Option<&'static Rule> {
    let class = class_of(o)?;
    let msg = message_of(o);
    RULES.iter().find(|r| {
        (r.class == class || r.class == Class::AnyFailure)
            && (r.patterns.is_empty() || r.patterns.iter().any(|p| msg.contains(p)))
    })
}

/// Facts from a profile, one per line: where time went, which copies dominate.
pub fn profile_facts(p: &ProfileFacts) -> Vec<String> {
    let mut out = Vec::new();
    let total: f64 = p.busy_s_per_kind.values().sum();
    if total > 0.0 {
        let parts: Vec<String> = p
            .busy_s_per_kind
            .iter()
            .map(|(k, s)| {
                let n = p.procs_used_per_kind.get(k).copied().unwrap_or(0);
                format!(
                    "{k} {:.0}% ({s:.4} s on {n} processor{})",
                    100.0 * s / total,
                    if n == 1 { "" } else { "s" }
                )
            })
            .collect();
        out.push(format!(
            "Task time by processor kind: {} ({} tasks).",
            parts.join(", "),
            p.tasks
        ));
    }
    if p.span_s > 0.0 && !p.busy_s_per_proc.is_empty() {
        let parts: Vec<String> = p
            .busy_s_per_proc
            .iter()
            .map(|(proc, s)| format!("{proc} {:.0}%", 100.0 * s / p.span_s))
            .collect();
        out.push(format!(
            "Busy fraction of each processor over the run ({} from first to last event): {}.",
            format_time(p.span_s),
            parts.join(", ")
        ));
    }
    for f in &p.fallbacks {
        out.push(format!("Memory fallback: {f}."));
    }
    if !p.waits.is_empty() {
        let parts: Vec<String> = p
            .waits
            .iter()
            .map(|w| {
                format!(
                    "{} idled {} waiting for {}",
                    w.waiter,
                    format_time(w.idle_s),
                    w.on
                )
            })
            .collect();
        out.push(format!(
            "Longest waits on the critical path: {}.",
            parts.join("; ")
        ));
    }
    let moved: u64 = p
        .bytes_per_pair
        .iter()
        .filter(|(k, _)| !k.starts_with("fill"))
        .map(|(_, b)| *b)
        .sum();
    if let Some((pair, bytes)) = p.top_pair() {
        out.push(format!(
            "Most bytes moved: {} ({}, {:.0}% of {} copied).",
            pair,
            human_bytes(bytes),
            100.0 * bytes as f64 / moved.max(1) as f64,
            human_bytes(moved)
        ));
        let kp = ProfileFacts::kind_pair(pair);
        if kp.contains("ZCMEM") || kp.contains("SYSMEM -> FBMEM") || kp.contains("FBMEM -> SYSMEM")
        {
            out.push(format!(
                "Copies {kp} cross the host link; keeping data that GPU tasks use in FBMEM avoids them."
            ));
        }
    } else if p.copies == 0 || moved == 0 {
        out.push("No data was copied between memories.".to_string());
    }
    let pairs: Vec<String> = p
        .bytes_per_pair
        .iter()
        .filter(|(k, b)| !k.starts_with("fill") && **b > 0)
        .map(|(k, b)| format!("{k} {}", human_bytes(*b)))
        .collect();
    if pairs.len() > 1 {
        out.push(format!("Bytes per memory pair: {}.", pairs.join(", ")));
    }
    if let Some((region, bytes, n)) = p.copies_by_region.first() {
        out.push(format!(
            "Region with most copy traffic: `{region}` ({} in {n} copies).",
            human_bytes(*bytes)
        ));
    }
    if let Some((task, bytes, n)) = p.copies_by_task.first() {
        out.push(format!(
            "Task whose arguments needed most copies: `{task}` ({} in {n} copies).",
            human_bytes(*bytes)
        ));
    }
    out
}

/// The full feedback text: raw outcome, explanation and suggestion (for failures), score against
/// the expert and profile facts (for runs).
pub fn feedback(o: &Outcome, score: f64, expert_time_s: Option<f64>) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "Outcome: {}.", o.class());
    let _ = writeln!(s, "Raw: {}", o.raw());
    if let Some(rule) = rule_for(o) {
        let _ = writeln!(s, "Explanation: {}", rule.explanation);
        let _ = writeln!(s, "Suggestion: {}", rule.suggestion);
        let _ = writeln!(s, "Score: 0 (a failed mapper scores 0).");
    }
    if let Outcome::Ran { time_s, report, .. } = o {
        match expert_time_s {
            Some(e) => {
                let _ = writeln!(
                    s,
                    "Score: {score:.3} (expert {} / this {}; above 1 beats the expert).",
                    format_time(e),
                    format_time(*time_s)
                );
            }
            None => {
                let _ = writeln!(s, "Score: {score:.3}.");
            }
        }
        for f in profile_facts(&report.profile) {
            let _ = writeln!(s, "Profile: {f}");
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(f: RunFailure) -> Outcome {
        Outcome::Failed { failure: f }
    }

    fn rejected(msg: &str) -> Outcome {
        Outcome::Rejected {
            messages: vec![msg.to_string()],
            rendered: format!("error: {msg}"),
        }
    }

    fn id(o: &Outcome) -> &'static str {
        rule_for(o).map_or("none", |r| r.id)
    }

    #[test]
    fn rules_by_class_and_message() {
        assert_eq!(id(&rejected("expected `;` after the statement")), "syntax");
        assert_eq!(id(&rejected("unknown memory kind `FBMEN`")), "unknown-kind");
        assert_eq!(id(&rejected("unknown task `gem`")), "unknown-name");
        assert_eq!(id(&rejected("mgpu is not defined")), "undefined");
        assert_eq!(
            id(&rejected("function `f` finished without `return`")),
            "signature"
        );
        assert_eq!(
            id(&rejected("mismatched types: expected tuple, found int")),
            "types"
        );
        assert_eq!(id(&rejected("something new")), "check-other");
        assert_eq!(
            id(&failed(RunFailure::Bind(
                "split: 6 is not divisible by 4".into()
            ))),
            "bind-divisible"
        );
        assert_eq!(id(&failed(RunFailure::Bind("x".into()))), "bind-other");
        assert_eq!(
            id(&failed(RunFailure::Map(
                "mapping task `t` at point [4] in function `f`: index 4 out of bound for dimension 1 of size 4".into()
            ))),
            "placement-range"
        );
        assert_eq!(
            id(&failed(RunFailure::Map(
                "placement function returned a CPU processor but task `t` runs on GPU".into()
            ))),
            "placement-kind"
        );
        assert_eq!(
            id(&failed(RunFailure::Map(
                "division by zero in `1 / 0`".into()
            ))),
            "placement-arith"
        );
        assert_eq!(id(&failed(RunFailure::Map("?".into()))), "map-other");
        assert_eq!(
            id(&failed(RunFailure::Map(
                "task `gemm` argument 0 gets an AOS layout, which the tile GEMM cannot take (it needs SOA tiles, C_order or F_order)".into()
            ))),
            "layout-map"
        );
        assert_eq!(
            id(&failed(RunFailure::MemoryFull("out of memory".into()))),
            "memory-full"
        );
        assert_eq!(
            id(&failed(RunFailure::Exec(
                "task `gemm`: cuBLAS needs F_order (column-major) tiles, got C_order".into()
            ))),
            "layout-rejected"
        );
        assert_eq!(
            id(&failed(RunFailure::Exec("task panicked".into()))),
            "task-failed"
        );
        assert_eq!(id(&failed(RunFailure::Config("bad".into()))), "failure");
        assert_eq!(id(&Outcome::Timeout { limit_s: 3.0 }), "timeout");
        assert_eq!(
            id(&Outcome::Crash {
                status: "signal 9".into(),
                stderr: String::new()
            }),
            "crash"
        );
        assert_eq!(
            id(&Outcome::WrongResult {
                check: "differs".into(),
                time_s: 1.0
            }),
            "wrong-result"
        );
    }

    fn facts() -> ProfileFacts {
        let mut p = ProfileFacts::default();
        p.busy_s_per_kind.insert("GPU".into(), 3.0);
        p.busy_s_per_kind.insert("CPU".into(), 1.0);
        p.procs_used_per_kind.insert("GPU".into(), 4);
        p.procs_used_per_kind.insert("CPU".into(), 1);
        p.bytes_per_pair
            .insert("ZCMEM[0.0] -> FBMEM[0.1]".into(), 3 << 20);
        p.bytes_per_pair
            .insert("FBMEM[0.0] -> FBMEM[0.1]".into(), 1 << 20);
        p.bytes_per_pair
            .insert("fill -> FBMEM[0.1]".into(), 9 << 20);
        p.copies_by_region.push(("a_tiles".into(), 3 << 20, 12));
        p.copies_by_task.push(("gemm".into(), 4 << 20, 16));
        p.tasks = 40;
        p.copies = 30;
        p.span_s = 4.0;
        p.busy_s_per_proc.insert("GPU[0, 0]".into(), 3.0);
        p.busy_s_per_proc.insert("CPU[0, 0]".into(), 1.0);
        p.waits.push(crate::target::Wait {
            waiter: "gemm on GPU[0, 0]".into(),
            on: "copy of a_tiles.v ZCMEM[0.0] -> FBMEM[0.1] (3.00 MiB)".into(),
            idle_s: 0.5,
        });
        p.fallbacks.push("`gemm` argument `a` (region a_tiles[0,0]) on GPU went to ZCMEM[0.0], a memory the mapper did not list ([FBMEM]): FBMEM[0.0] is full (needs 8.00 GiB, 0 B free of 16.00 GiB)".into());
        p
    }

    #[test]
    fn profile_fact_lines() {
        assert_eq!(
            profile_facts(&facts()),
            vec![
                "Task time by processor kind: CPU 25% (1.0000 s on 1 processor), GPU 75% (3.0000 s on 4 processors) (40 tasks).",
                "Busy fraction of each processor over the run (4.000 s from first to last event): CPU[0, 0] 25%, GPU[0, 0] 75%.",
                "Memory fallback: `gemm` argument `a` (region a_tiles[0,0]) on GPU went to ZCMEM[0.0], a memory the mapper did not list ([FBMEM]): FBMEM[0.0] is full (needs 8.00 GiB, 0 B free of 16.00 GiB).",
                "Longest waits on the critical path: gemm on GPU[0, 0] idled 500.000 ms waiting for copy of a_tiles.v ZCMEM[0.0] -> FBMEM[0.1] (3.00 MiB).",
                "Most bytes moved: ZCMEM[0.0] -> FBMEM[0.1] (3.00 MiB, 75% of 4.00 MiB copied).",
                "Copies ZCMEM -> FBMEM cross the host link; keeping data that GPU tasks use in FBMEM avoids them.",
                "Bytes per memory pair: FBMEM[0.0] -> FBMEM[0.1] 1.00 MiB, ZCMEM[0.0] -> FBMEM[0.1] 3.00 MiB.",
                "Region with most copy traffic: `a_tiles` (3.00 MiB in 12 copies).",
                "Task whose arguments needed most copies: `gemm` (4.00 MiB in 16 copies).",
            ]
        );
        assert_eq!(
            profile_facts(&ProfileFacts::default()),
            vec!["No data was copied between memories."]
        );
    }

    #[test]
    fn full_feedback_text() {
        let o = failed(RunFailure::MemoryFull(
            "out of memory mapping task `t`".into(),
        ));
        assert_eq!(
            feedback(&o, 0.0, Some(1.0)),
            format!(
                "Outcome: out of memory.\nRaw: error: out of memory mapping task `t`\nExplanation: {}\nSuggestion: {}\nScore: 0 (a failed mapper scores 0).\n",
                RULES[14].explanation, RULES[14].suggestion
            )
        );
        let report = RunReport {
            time_s: 2.0,
            throughput: Some(5e9),
            unit: "FLOP".into(),
            verified: true,
            check: "ok".into(),
            profile: facts(),
        };
        let o = Outcome::Ran {
            time_s: 2.0,
            times_s: vec![2.0, 1.0, 3.0],
            report: Box::new(report),
        };
        let f = feedback(&o, 0.5, Some(1.0));
        assert!(f.starts_with("Outcome: ok.\nRaw: ran in 2.000 s (median of 3 runs: 2.000 s, 1.000 s, 3.000 s), 5.00 GFLOP/s; result verified\nScore: 0.500 (expert 1.000 s / this 2.000 s; above 1 beats the expert).\nProfile: Task time"), "{f}");
        assert!(!f.contains("Explanation"));
    }
}
