//! Prompt builders for the LLM optimizer.
//!
//! *OptoPrime* style (after Trace's OptoPrime): the instruction, the documentation of the mapping
//! language, the application and machine, the current mapper as the variable to change, the
//! constraints, the feedback of its last evaluation and a memory of past attempts with scores.
//! *OPRO* style: the task description followed by past mappers with their scores in ascending
//! order, asking for a new, better one. Both ask for a JSON reply `{"reasoning", "mapper"}`.

use crate::attempt::{best_attempt, Attempt};
use crate::llm::Message;
use mapper_core::AppInfo;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

/// The compact language documentation embedded in every prompt.
pub const DSL_SUMMARY: &str = include_str!("dsl_summary.md");

/// The reply format both prompt styles ask for.
pub const REPLY_FORMAT: &str = "Reply with one JSON object and nothing else:\n\
{\"reasoning\": \"<your analysis, briefly>\", \"mapper\": \"<the complete new mapper text, newlines as \\n>\"}";

/// A region argument of a task, as the prompt shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArgDescription {
    /// Declared argument name.
    pub name: String,
    /// Privilege (`read`, `write`, `read-write`, `reduce(+)`, ...).
    pub privilege: String,
    /// Logical regions / partitions the argument is launched with.
    pub regions: Vec<String>,
}

/// A task of the application, as the prompt shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskDescription {
    /// Task name.
    pub name: String,
    /// Region arguments in declaration order (index = argument index in the DSL).
    pub args: Vec<ArgDescription>,
    /// Processor kinds it has variants for (`CPU`, `GPU`, ...).
    pub variants: Vec<String>,
    /// Launch domain of its index launches (e.g. `(4, 4)`); `None` for single launches.
    pub launch_domain: Option<String>,
}

/// What the LLM is told about the application and the machine.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppDescription {
    /// Application name.
    pub name: String,
    /// One paragraph on what it computes and how.
    pub summary: String,
    /// Its tasks.
    pub tasks: Vec<TaskDescription>,
    /// Names of its logical regions and partitions.
    pub regions: Vec<String>,
    /// The machine: nodes, processors, memories, capacities, bandwidths.
    pub machine: String,
    /// The problem size, in words (empty if unknown).
    #[serde(default)]
    pub size: String,
}

/// The description of `app` at `size` on machine `desc` for prompts: exact kind spellings,
/// each argument's privilege (reductions included), the problem size, the machine's processors,
/// memories and bandwidths, and, from `facts` (a profiled run at this size on this machine),
/// the extents of each task's index launches.
pub fn describe(
    app: &dyn crate::target::TuneApp,
    desc: &runtime::MachineDesc,
    size: &str,
    facts: Option<&crate::target::ProfileFacts>,
) -> AppDescription {
    let mut d = AppDescription::from_app_info(&app.info(), machine_text(desc));
    d.summary = app.summary();
    d.size = app.size_text(size).unwrap_or_else(|| size.to_string());
    for t in &mut d.tasks {
        for (i, a) in t.args.iter_mut().enumerate() {
            if let Some(p) = app.privilege(&t.name, i) {
                a.privilege = p;
            }
        }
        if t.launch_domain.is_none() {
            continue;
        }
        let ext = facts.and_then(|f| f.launch_extents.get(&t.name));
        t.launch_domain = Some(match (ext, app.launch_dims(&t.name)) {
            (Some((e, n)), _) if !e.is_empty() => {
                let volume: i64 = e.iter().product();
                let dims: Vec<String> = e.iter().map(i64::to_string).collect();
                let launches = if volume > 0 {
                    (*n as i64 + volume - 1) / volume
                } else {
                    0
                };
                format!(
                    "{} ({} point{} per launch; {n} points ran in all, about {launches} launch{})",
                    dims.join("x"),
                    volume,
                    if volume == 1 { "" } else { "s" },
                    if launches == 1 { "" } else { "es" }
                )
            }
            (None, _) if facts.is_some_and(|f| f.tasks > 0) => {
                "an index space (no point of it ran at this size on this machine)".to_string()
            }
            (_, Some(n)) => format!("a {n}-D domain"),
            _ => "an index space".to_string(),
        });
    }
    d
}

/// The machine as the prompt shows it: processors per node with their peak rates, memories
/// with capacities and bandwidths, which processor reaches which memory at what bandwidth, and
/// the copy bandwidths between memories, as the runtime and the simulator use them.
pub fn machine_text(d: &runtime::MachineDesc) -> String {
    use std::collections::BTreeMap;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "`{}`{}: {} node(s); the numbers below are the ones the {} uses.",
        d.name,
        if d.simulated { " (simulated)" } else { "" },
        d.nodes,
        if d.simulated { "simulator" } else { "runtime" }
    );
    let node0 = |n: u32| n == 0;
    let mut procs: BTreeMap<&str, (usize, f64, u32, f64)> = BTreeMap::new();
    for p in d.procs.iter().filter(|p| node0(p.id.node)) {
        let e = procs
            .entry(p.id.kind.as_str())
            .or_insert((0, p.gflops, p.threads, p.launch_ns));
        e.0 += 1;
    }
    let parts: Vec<String> = procs
        .iter()
        .map(|(k, (n, gf, th, launch))| {
            let threads = if *th > 1 {
                format!(", {th} threads")
            } else {
                String::new()
            };
            format!(
                "{n} {k} ({gf:.0} GFLOP/s peak{threads}, {:.1} us per task launch)",
                launch / 1e3
            )
        })
        .collect();
    let _ = writeln!(out, "Processors per node: {}.", parts.join(", "));
    let mut mems: BTreeMap<&str, (usize, u64, f64)> = BTreeMap::new();
    for m in d.mems.iter().filter(|m| node0(m.node)) {
        let e = mems
            .entry(m.kind.as_str())
            .or_insert((0, m.capacity, m.bandwidth));
        e.0 += 1;
    }
    let parts: Vec<String> = mems
        .iter()
        .map(|(k, (n, cap, bw))| {
            format!(
                "{n} {k} ({} each, {bw:.0} GB/s inside the memory)",
                crate::feedback::human_bytes(*cap)
            )
        })
        .collect();
    let _ = writeln!(out, "Memories per node: {}.", parts.join(", "));
    // Access: (processor kind, memory kind, same index?) -> bandwidth, latency, cached.
    let mut access: BTreeMap<(String, String), (f64, f64, bool)> = BTreeMap::new();
    for a in &d.access {
        let (Some(p), Some(m)) = (d.procs.get(a.proc), d.mems.get(a.mem)) else {
            continue;
        };
        if !node0(p.id.node) || m.node != p.id.node {
            continue;
        }
        let mk = if m.kind == mapper_core::MemKind::Fbmem {
            if m.index == p.id.index {
                "its own FBMEM".to_string()
            } else {
                "another GPU's FBMEM".to_string()
            }
        } else {
            m.kind.as_str().to_string()
        };
        access
            .entry((p.id.kind.as_str().to_string(), mk))
            .or_insert((a.bandwidth, a.latency, a.cached));
    }
    let parts: Vec<String> = access
        .iter()
        .map(|((p, m), (bw, lat, cached))| {
            format!(
                "{p} -> {m} {bw:.0} GB/s ({:.1} us latency{})",
                lat / 1e3,
                if *cached {
                    ""
                } else {
                    "; not cached: a task pays again for every re-read"
                }
            )
        })
        .collect();
    let _ = writeln!(
        out,
        "Direct access by tasks (processor -> memory): {}.",
        parts.join("; ")
    );
    let mut paths: Vec<String> = d
        .paths
        .iter()
        .map(|c| {
            format!(
                "{} <-> {} {} {:.0} GB/s",
                c.a.as_str(),
                c.b.as_str(),
                if c.same_node {
                    "same node"
                } else {
                    "across nodes"
                },
                c.bandwidth
            )
        })
        .collect();
    paths.dedup();
    let _ = writeln!(
        out,
        "Copies between memories: {}; other pairs {:.0} GB/s.",
        paths.join("; "),
        d.default_copy
    );
    out
}

impl AppDescription {
    /// A description from mapper-core's [`AppInfo`] (privileges and launch domains unknown).
    pub fn from_app_info(app: &AppInfo, machine: impl Into<String>) -> Self {
        let tasks = app
            .tasks
            .iter()
            .map(|t| TaskDescription {
                name: t.name.clone(),
                args: t
                    .args
                    .iter()
                    .map(|a| ArgDescription {
                        name: a.name.clone(),
                        privilege: if a.read_only { "read" } else { "read-write" }.to_string(),
                        regions: a.regions.clone(),
                    })
                    .collect(),
                variants: t.variants.iter().map(|k| k.as_str().to_string()).collect(),
                launch_domain: t.index_launch.then(|| "an index space".to_string()),
            })
            .collect();
        let regions = app.region_names().into_iter().map(str::to_string).collect();
        AppDescription {
            name: app.name.clone(),
            summary: String::new(),
            tasks,
            regions,
            machine: machine.into(),
            size: String::new(),
        }
    }

    /// The application section of a prompt.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "Application `{}`.", self.name);
        if !self.summary.trim().is_empty() {
            let _ = writeln!(out, "{}", self.summary.trim());
        }
        if !self.size.trim().is_empty() {
            let _ = writeln!(out, "Problem size: {}.", self.size.trim());
        }
        let _ = writeln!(out, "Tasks:");
        for t in &self.tasks {
            let launch = match &t.launch_domain {
                Some(d) => format!("index launch over {d}"),
                None => "single launch".to_string(),
            };
            let _ = writeln!(
                out,
                "- {} (variants: {}; {launch})",
                t.name,
                t.variants.join(", ")
            );
            for (i, a) in t.args.iter().enumerate() {
                let regions = if a.regions.is_empty() {
                    String::new()
                } else {
                    format!(", launched with {}", a.regions.join(", "))
                };
                let _ = writeln!(out, "    arg {i} `{}`: {}{regions}", a.name, a.privilege);
            }
        }
        if !self.regions.is_empty() {
            let _ = writeln!(out, "Regions and partitions: {}", self.regions.join(", "));
        }
        out
    }
}

/// Builds the messages of both prompt styles.
#[derive(Clone, Debug, PartialEq)]
pub struct PromptBuilder {
    /// The application and machine.
    pub app: AppDescription,
    /// What the score measures (shown in the instruction).
    pub objective: String,
    /// Extra constraints, after the built-in ones.
    pub constraints: Vec<String>,
    /// Past attempts shown in the OptoPrime memory.
    pub memory: usize,
    /// Past mappers shown in the OPRO prompt.
    pub opro_max: usize,
    /// Longest feedback shown for one attempt (characters; the middle is cut).
    pub max_feedback_chars: usize,
    /// Longest mapper shown for one past attempt (characters; the middle is cut).
    pub max_mapper_chars: usize,
}

/// Constraints every prompt states.
const BASE_CONSTRAINTS: &[&str] = &[
    "Use only the statements, kinds and functions of #Documentation, and only the task and region names of #Application.",
    "Write the complete mapper, not a diff; it replaces the current one entirely.",
    "A mapping function has exactly one parameter `(Task task)` and returns a processor on every path; indices must stay inside the machine space (they are never wrapped).",
    "Every mapper computes the same results; only speed differs, and a mapper that fails to map or runs out of memory scores 0.",
];

impl PromptBuilder {
    /// A builder with default limits (memory of 5 attempts, 20 past mappers for OPRO).
    pub fn new(app: AppDescription) -> Self {
        PromptBuilder {
            app,
            objective: "the application's throughput on the machine, higher is better".to_string(),
            constraints: Vec::new(),
            memory: 5,
            opro_max: 20,
            max_feedback_chars: 3000,
            max_mapper_chars: 4000,
        }
    }

    fn system(&self) -> Message {
        Message::system(format!(
            "You are an expert performance engineer for task-based parallel programs. You optimize a \
             mapper: a program in a small mapping language that decides which processor runs each \
             task, which memory holds each region argument, the data layout, and which processor \
             runs each point of an index launch. The score is {}. {REPLY_FORMAT}",
            self.objective
        ))
    }

    fn constraints_text(&self) -> String {
        let mut out = String::new();
        for c in BASE_CONSTRAINTS
            .iter()
            .copied()
            .chain(self.constraints.iter().map(String::as_str))
        {
            let _ = writeln!(out, "- {c}");
        }
        out
    }

    /// OptoPrime-style messages: `current` is the mapper to improve (when `None`, the most recent
    /// attempt with a mapper); the feedback is that of the most recent attempt.
    pub fn optoprime(&self, current: Option<&str>, history: &[Attempt]) -> Vec<Message> {
        let last = history.last();
        let current_text = current
            .map(str::to_string)
            .or_else(|| {
                history
                    .iter()
                    .rev()
                    .find(|a| !a.mapper.trim().is_empty())
                    .map(|a| a.mapper.clone())
            })
            .unwrap_or_default();
        let mut u = String::new();
        let _ = writeln!(
            u,
            "#Instruction\nChange the value of the variable `mapper` in #Variables to improve the score \
             according to #Feedback; the score is {}. Learn from #Memory: keep what worked, avoid what failed, and \
             fix every error the feedback reports. Think about where the time goes (computation, \
             copies between memories, idle processors) before you change anything.\n",
            self.objective
        );
        let _ = writeln!(u, "#Documentation\n{}", DSL_SUMMARY.trim_end());
        let _ = writeln!(u, "\n#Application\n{}", self.app.render().trim_end());
        let _ = writeln!(u, "\n#Machine\n{}", self.app.machine.trim_end());
        let _ = writeln!(
            u,
            "\n#Variables\n(mapper) mapper:\n```\n{}\n```",
            current_text.trim_end()
        );
        let _ = writeln!(u, "\n#Constraints\n{}", self.constraints_text().trim_end());
        let feedback = match last {
            None => "No evaluation yet: this is the starting mapper.".to_string(),
            Some(a) => {
                let change = match history.len().checked_sub(2).map(|i| &history[i]) {
                    Some(prev) => format!("\n{}", change_line(prev, a)),
                    None => String::new(),
                };
                format!(
                    "Score of the last attempt: {}{change}\n{}",
                    score_text(a),
                    cut_middle(a.feedback.trim(), self.max_feedback_chars)
                )
            }
        };
        let _ = writeln!(u, "\n#Feedback\n{}", feedback.trim_end());
        if history.len() > 1 || best_attempt(history).is_some() {
            let _ = writeln!(u, "\n#Memory");
            if let Some(best) = best_attempt(history) {
                let _ = writeln!(
                    u,
                    "Best mapper so far (score {}):\n```\n{}\n```",
                    score_text(best),
                    cut_middle(best.mapper.trim_end(), self.max_mapper_chars)
                );
            }
            let earlier = &history[..history.len().saturating_sub(1)];
            let start = earlier.len().saturating_sub(self.memory);
            if start < earlier.len() {
                let _ = writeln!(u, "Earlier attempts, oldest first:");
            }
            for (i, a) in earlier.iter().enumerate().skip(start) {
                let _ = writeln!(
                    u,
                    "Attempt {} (score {}):\n```\n{}\n```\nFeedback: {}",
                    i + 1,
                    score_text(a),
                    cut_middle(a.mapper.trim_end(), self.max_mapper_chars),
                    cut_middle(a.feedback.trim(), self.max_feedback_chars / 4)
                );
            }
        }
        let _ = write!(u, "\n#Reply\n{REPLY_FORMAT}");
        vec![self.system(), Message::user(u)]
    }

    /// OPRO-style messages: past mappers with their scores, ascending, then the request for a
    /// new one. The best `opro_max` distinct scored mappers are shown, after up to three recent
    /// failures (score 0, with the first line of their feedback).
    pub fn opro(&self, history: &[Attempt]) -> Vec<Message> {
        let mut scored: Vec<(&Attempt, f64)> = Vec::new();
        for a in history {
            let Some(s) = a.valid_score() else { continue };
            let text = a.mapper.trim();
            match scored.iter_mut().find(|(b, _)| b.mapper.trim() == text) {
                Some(entry) if s > entry.1 => *entry = (a, s),
                Some(_) => {}
                None => scored.push((a, s)),
            }
        }
        scored.sort_by(|x, y| y.1.total_cmp(&x.1));
        scored.truncate(self.opro_max);
        scored.reverse();
        let failed: Vec<&Attempt> = history
            .iter()
            .rev()
            .filter(|a| !a.is_valid() && !a.mapper.trim().is_empty())
            .take(3)
            .collect();

        let mut u = String::new();
        let _ = writeln!(
            u,
            "Your task is to write a mapper for the application below that maximizes the score ({}).\n",
            self.objective
        );
        let _ = writeln!(u, "#Application\n{}", self.app.render().trim_end());
        let _ = writeln!(u, "\n#Machine\n{}", self.app.machine.trim_end());
        let _ = writeln!(u, "\n#Documentation\n{}", DSL_SUMMARY.trim_end());
        let _ = writeln!(u, "\n#Constraints\n{}", self.constraints_text().trim_end());
        if scored.is_empty() && failed.is_empty() {
            let _ = writeln!(u, "\nNo mapper has been evaluated yet.");
        } else {
            let _ = writeln!(
                u,
                "\nBelow are previous mappers with their scores, in ascending order of score (higher is better).\n"
            );
            for a in failed.iter().rev() {
                let why = a
                    .feedback
                    .lines()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or("failed")
                    .trim();
                let _ = writeln!(
                    u,
                    "mapper:\n```\n{}\n```\nscore: 0 (failed: {})\n",
                    cut_middle(a.mapper.trim_end(), self.max_mapper_chars),
                    cut_middle(why, 300)
                );
            }
            for (a, s) in &scored {
                let _ = writeln!(
                    u,
                    "mapper:\n```\n{}\n```\nscore: {}\n",
                    cut_middle(a.mapper.trim_end(), self.max_mapper_chars),
                    fmt_score(*s)
                );
            }
        }
        let _ = write!(
            u,
            "\nWrite a new mapper that is different from all the mappers above and has a score as high \
             as possible.\n{REPLY_FORMAT}"
        );
        vec![self.system(), Message::user(u)]
    }
}

/// One line on what changed from attempt `prev` to attempt `last` (statements removed and
/// added, in canonical form) and what it did to the score.
pub fn change_line(prev: &Attempt, last: &Attempt) -> String {
    let stmts = |t: &str| -> Vec<String> {
        let out = mapper_core::parse::parse_text(t);
        if out.diagnostics.iter().any(|d| d.is_error()) {
            return t.lines().map(|l| l.trim().to_string()).collect();
        }
        out.program
            .stmts
            .iter()
            .map(|s| {
                let p = mapper_core::print::print_stmt(s);
                p.split_whitespace().collect::<Vec<_>>().join(" ")
            })
            .collect()
    };
    let (a, b) = (stmts(&prev.mapper), stmts(&last.mapper));
    let removed: Vec<String> = a
        .iter()
        .filter(|s| !b.contains(s))
        .map(|s| format!("-`{}`", cut_middle(s, 120)))
        .collect();
    let added: Vec<String> = b
        .iter()
        .filter(|s| !a.contains(s))
        .map(|s| format!("+`{}`", cut_middle(s, 120)))
        .collect();
    let what: Vec<String> = if removed.is_empty() && added.is_empty() {
        vec!["no statement changed".to_string()]
    } else {
        removed.into_iter().chain(added).collect::<Vec<_>>()
    };
    let what = if what.len() > 8 {
        format!("{} and {} more", what[..8].join(" "), what.len() - 8)
    } else {
        what.join(" ")
    };
    let effect = match (prev.valid_score(), last.valid_score()) {
        (Some(x), Some(y)) if y > x * 1.005 => {
            format!("faster ({} -> {})", fmt_score(x), fmt_score(y))
        }
        (Some(x), Some(y)) if y < x / 1.005 => {
            format!("slower ({} -> {})", fmt_score(x), fmt_score(y))
        }
        (Some(x), Some(y)) => format!(
            "no effect on the score ({} -> {})",
            fmt_score(x),
            fmt_score(y)
        ),
        (Some(x), None) => format!("it failed (score {} -> 0)", fmt_score(x)),
        (None, Some(y)) => format!("it ran again (score 0 -> {})", fmt_score(y)),
        (None, None) => "it still fails".to_string(),
    };
    format!("Change since the previous attempt: {what}; result: {effect}.")
}

/// A score for the prompt: the number, or why there is none.
fn score_text(a: &Attempt) -> String {
    match a.score {
        Some(s) if s.is_finite() && s > 0.0 => fmt_score(s),
        Some(_) | None => "0 (failed)".to_string(),
    }
}

/// Four significant digits, without exponent for ordinary magnitudes.
fn fmt_score(s: f64) -> String {
    if s != 0.0 && (s.abs() >= 1e9 || s.abs() < 1e-4) {
        format!("{s:.3e}")
    } else {
        let magnitude = if s == 0.0 {
            0
        } else {
            s.abs().log10().floor() as i32
        };
        let digits = 3i32.saturating_sub(magnitude).clamp(0, 8) as usize;
        format!("{s:.digits$}")
    }
}

/// `s` if at most `max` characters, else its head and tail around a marker.
pub fn cut_middle(s: &str, max: usize) -> String {
    let n = s.chars().count();
    if n <= max {
        return s.to_string();
    }
    let keep = max / 2;
    let head: String = s.chars().take(keep).collect();
    let tail: String = s.chars().skip(n - keep).collect();
    format!(
        "{head}\n[... {} characters omitted ...]\n{tail}",
        n - 2 * keep
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app() -> AppDescription {
        AppDescription {
            name: "stencil".into(),
            summary: "A 2-D 5-point stencil.".into(),
            tasks: vec![TaskDescription {
                name: "stencil".into(),
                args: vec![
                    ArgDescription {
                        name: "out".into(),
                        privilege: "write".into(),
                        regions: vec!["p_private".into()],
                    },
                    ArgDescription {
                        name: "inp".into(),
                        privilege: "read".into(),
                        regions: vec![],
                    },
                ],
                variants: vec!["CPU".into(), "GPU".into()],
                launch_domain: Some("(2, 2)".into()),
            }],
            regions: vec!["grid".into(), "p_private".into()],
            machine: "1 node: 4 GPU (16 GiB FBMEM each), 2 CPU".into(),
            size: String::new(),
        }
    }

    #[test]
    fn app_render() {
        assert_eq!(
            app().render(),
            "Application `stencil`.\nA 2-D 5-point stencil.\nTasks:\n\
             - stencil (variants: CPU, GPU; index launch over (2, 2))\n    arg 0 `out`: write, launched with p_private\n    arg 1 `inp`: read\n\
             Regions and partitions: grid, p_private\n"
        );
    }

    #[test]
    fn optoprime_sections() {
        let b = PromptBuilder::new(app());
        let m = b.optoprime(Some("Task * GPU;\n"), &[]);
        assert_eq!(m.len(), 2);
        let u = &m[1].content;
        for s in [
            "#Instruction",
            "#Documentation",
            "#Application",
            "#Machine",
            "#Variables",
            "#Constraints",
            "#Feedback",
            "#Reply",
        ] {
            assert!(u.contains(s), "missing {s}");
        }
        assert!(u.contains("(mapper) mapper:\n```\nTask * GPU;\n```"));
        assert!(u.contains("No evaluation yet"));
        assert!(!u.contains("\n#Memory"));
        let h = vec![
            Attempt::scored("Task * CPU;", 1.5, "slow: CPU busy 100%"),
            Attempt::failed("Task * GPX;", "error: unknown processor kind `GPX`"),
        ];
        let u = b.optoprime(None, &h)[1].content.clone();
        assert!(u.contains("(mapper) mapper:\n```\nTask * GPX;\n```"), "{u}");
        assert!(u.contains(
            "#Feedback\nScore of the last attempt: 0 (failed)\nChange since the previous attempt: -`Task * CPU;` +`Task * GPX;`; result: it failed (score 1.500 -> 0).\nerror: unknown processor kind `GPX`"
        ), "{u}");
        assert!(u.contains("Best mapper so far (score 1.500):\n```\nTask * CPU;\n```"));
        assert!(u.contains("Attempt 1 (score 1.500):"));
    }

    #[test]
    fn change_lines() {
        let a = Attempt::scored("Task * GPU;\nRegion * * GPU FBMEM;", 1.0, "");
        let b = Attempt::scored("Task * GPU;\nRegion  *  * GPU ZCMEM;", 0.5, "");
        assert_eq!(
            change_line(&a, &b),
            "Change since the previous attempt: -`Region * * GPU FBMEM;` +`Region * * GPU ZCMEM;`; result: slower (1.000 -> 0.5000)."
        );
        assert_eq!(
            change_line(&a, &a),
            "Change since the previous attempt: no statement changed; result: no effect on the score (1.000 -> 1.000)."
        );
    }

    #[test]
    fn opro_ascending() {
        let b = PromptBuilder::new(app());
        let h = vec![
            Attempt::scored("Task * GPU;", 5.0, ""),
            Attempt::scored("Task * CPU;", 1.0, ""),
            Attempt::failed("Task * GPX;", "\nerror: unknown kind\nmore"),
            Attempt::scored("Task * OMP;", 3.0, ""),
            Attempt::scored("Task * CPU;", 2.0, ""),
        ];
        let u = b.opro(&h)[1].content.clone();
        let pos = |s: &str| u.find(s).unwrap_or_else(|| panic!("missing {s}"));
        assert!(
            pos("score: 0 (failed: error: unknown kind)") < pos("Task * CPU;\n```\nscore: 2.000")
        );
        assert!(pos("score: 2.000") < pos("score: 3.000"));
        assert!(pos("score: 3.000") < pos("score: 5.000"));
        assert!(
            !u.contains("score: 1.000"),
            "duplicates keep their best score"
        );
        let mut b2 = b.clone();
        b2.opro_max = 1;
        let u = b2.opro(&h)[1].content.clone();
        assert!(u.contains("score: 5.000") && !u.contains("score: 3.000"));
        assert!(b.opro(&[])[1]
            .content
            .contains("No mapper has been evaluated yet."));
    }

    #[test]
    fn helpers() {
        assert_eq!(fmt_score(1234.5678), "1235");
        assert_eq!(fmt_score(0.012346), "0.01235");
        assert_eq!(fmt_score(2e12), "2.000e12");
        assert_eq!(fmt_score(0.0), "0.000");
        assert_eq!(fmt_score(-5.0), "-5.000");
        assert_eq!(
            cut_middle("abcdefghij", 4),
            "ab\n[... 6 characters omitted ...]\nij"
        );
        assert_eq!(cut_middle("abc", 4), "abc");
    }
}
