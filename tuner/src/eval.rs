//! Evaluating a mapper: check it with mapper-core (diagnostics become feedback without running),
//! run the app with the interpreted mapper in a child process under a time limit, repeat and
//! take the median, classify failures, verify the result, and score it against the expert.
//!
//! The child is the `tune` executable itself with the hidden subcommand
//! `__eval --app NAME --mapper FILE|--default --machine M --size S`, which runs the app once
//! in-process ([`child_main`]) and prints one JSON line ([`ChildMessage`]). The parent
//! ([`ChildEvaluator`]) kills it at the time limit and classifies timeouts and crashes.

use crate::feedback::{feedback, Outcome};
use crate::registry;
use crate::target::{is_simulated, MapperSpec, RunFailure, RunReport, TuneApp};
use crate::validate::{check_text_for, CANDIDATE_FILE};
use mapper_core::diag::render_all;
use mapper_core::print::print;
use serde::{Deserialize, Serialize};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What the child prints: one JSON line.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChildMessage {
    /// The run finished (verified or not).
    Ok(Box<RunReport>),
    /// The run failed.
    Err(RunFailure),
}

/// The mapper a child runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MapperChoice {
    /// A `.mapper` file.
    File(PathBuf),
    /// The runtime's default mapper.
    Default,
}

/// Runs `app` once in this process and returns the message the child prints.
pub fn run_once(
    app: &dyn TuneApp,
    mapper: &MapperChoice,
    machine: &str,
    size: &str,
) -> ChildMessage {
    let result = match mapper {
        MapperChoice::Default => app.run(&MapperSpec::Default, machine, size),
        MapperChoice::File(path) => match std::fs::read_to_string(path) {
            Err(e) => Err(RunFailure::Config(format!(
                "cannot read mapper {}: {e}",
                path.display()
            ))),
            Ok(text) => app.run(&MapperSpec::Text(text), machine, size),
        },
    };
    match result {
        Ok(r) => ChildMessage::Ok(Box::new(r)),
        Err(e) => ChildMessage::Err(e),
    }
}

/// The `__eval` subcommand: parses its arguments, runs once, prints one JSON line. Returns the
/// process exit code.
pub fn child_main(args: &[String]) -> i32 {
    let mut app = None;
    let mut mapper = None;
    let mut machine = "local".to_string();
    let mut size = "small".to_string();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--app" => app = it.next().cloned(),
            "--mapper" => mapper = it.next().map(|p| MapperChoice::File(PathBuf::from(p))),
            "--default" => mapper = Some(MapperChoice::Default),
            "--machine" => machine = it.next().cloned().unwrap_or_default(),
            "--size" => size = it.next().cloned().unwrap_or_default(),
            other => {
                eprintln!("__eval: unknown argument `{other}`");
                return 2;
            }
        }
    }
    let (Some(name), Some(mapper)) = (app, mapper) else {
        eprintln!("__eval: need --app NAME and --mapper FILE or --default");
        return 2;
    };
    let msg = match registry::find(&name) {
        Ok(app) => run_once(app.as_ref(), &mapper, &machine, &size),
        Err(e) => ChildMessage::Err(RunFailure::Config(e)),
    };
    match serde_json::to_string(&msg) {
        Ok(line) => {
            println!("{line}");
            0
        }
        Err(e) => {
            eprintln!("__eval: cannot encode the result: {e}");
            3
        }
    }
}

/// One evaluated mapper.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// The mapper text as proposed.
    pub mapper: String,
    /// Its canonical form (mapper-core's printer) when it parsed.
    pub canonical: Option<String>,
    /// What happened.
    pub outcome: Outcome,
    /// Expert time / this time (0 for failures).
    pub score: f64,
    /// Feedback text for the optimizer.
    pub feedback: String,
}

impl Evaluation {
    /// The attempt the optimizer loop records.
    pub fn attempt(&self) -> crate::Attempt {
        if self.score > 0.0 {
            crate::Attempt::scored(&self.mapper, self.score, &self.feedback)
        } else {
            crate::Attempt::failed(&self.mapper, &self.feedback)
        }
    }
}

/// Something that evaluates mapper texts.
pub trait Evaluate {
    /// Evaluates a mapper text.
    fn evaluate(&mut self, text: &str) -> Evaluation;
    /// Evaluates the runtime's default mapper.
    fn evaluate_default(&mut self) -> Evaluation;
    /// Sets the reference time scores are relative to (the expert's).
    fn set_reference(&mut self, time_s: Option<f64>);
    /// Number of runs per evaluation actually used (1 on simulated machines).
    fn runs(&self) -> usize;
    /// Runs a mapper text (`None`: the runtime default) exactly once, for the confirmation
    /// step; `Err` holds the outcome class of a failure.
    fn run_once(&mut self, text: Option<&str>) -> Result<RunReport, String> {
        let e = match text {
            Some(t) => self.evaluate(t),
            None => self.evaluate_default(),
        };
        match e.outcome {
            Outcome::Ran { time_s, report, .. } => Ok(RunReport { time_s, ..*report }),
            o => Err(o.class().to_string()),
        }
    }
}

/// Settings of the child-process evaluator.
#[derive(Clone, Debug)]
pub struct EvalSettings {
    /// The `tune` executable (re-invoked with `__eval`).
    pub exe: PathBuf,
    /// App name.
    pub app: String,
    /// Machine spec.
    pub machine: String,
    /// Size preset.
    pub size: String,
    /// Runs per evaluation (median taken); forced to 1 on simulated machines.
    pub runs: usize,
    /// Time limit of one run.
    pub timeout: Duration,
    /// Where candidate mapper files are written.
    pub work_dir: PathBuf,
}

/// Evaluates mappers in child processes.
pub struct ChildEvaluator {
    settings: EvalSettings,
    info: mapper_core::AppInfo,
    reference: Option<f64>,
    counter: usize,
    timeout: Duration,
    /// Run each evaluation once (the confirmation step).
    once: bool,
    /// The largest fixed cost of a child seen so far: its wall time minus the app's time
    /// (process start, device setup, input generation, verification).
    overhead_s: f64,
}

impl ChildEvaluator {
    /// An evaluator for `app` with `settings`.
    pub fn new(app: &dyn TuneApp, settings: EvalSettings) -> ChildEvaluator {
        ChildEvaluator {
            info: app.info(),
            timeout: settings.timeout,
            settings,
            reference: None,
            counter: 0,
            once: false,
            overhead_s: 0.0,
        }
    }

    /// Runs the child once; on success also returns its wall time in seconds.
    fn run_child(&self, mapper: &MapperChoice) -> Result<(RunReport, f64), Box<Outcome>> {
        let s = &self.settings;
        let mut cmd = Command::new(&s.exe);
        cmd.arg("__eval")
            .args(["--app", &s.app, "--machine", &s.machine, "--size", &s.size]);
        match mapper {
            MapperChoice::File(p) => {
                cmd.arg("--mapper").arg(p);
            }
            MapperChoice::Default => {
                cmd.arg("--default");
            }
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().map_err(|e| {
            Box::new(Outcome::Crash {
                status: format!("cannot start {}: {e}", s.exe.display()),
                stderr: String::new(),
            })
        })?;
        let out = child.stdout.take().map(drain);
        let err = child.stderr.take().map(drain);
        let start = Instant::now();
        let status = loop {
            match child.try_wait() {
                Ok(Some(st)) => break Some(st),
                Ok(None) if start.elapsed() >= self.timeout => {
                    let _ = child.kill();
                    let _ = child.wait();
                    break None;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(5)),
                Err(e) => {
                    return Err(Box::new(Outcome::Crash {
                        status: format!("cannot wait for the child: {e}"),
                        stderr: String::new(),
                    }))
                }
            }
        };
        let stdout = out.and_then(|h| h.join().ok()).unwrap_or_default();
        let stderr = err.and_then(|h| h.join().ok()).unwrap_or_default();
        let Some(status) = status else {
            return Err(Box::new(Outcome::Timeout {
                limit_s: self.timeout.as_secs_f64(),
            }));
        };
        let msg = stdout
            .lines()
            .rev()
            .find(|l| l.trim_start().starts_with('{'))
            .and_then(|l| serde_json::from_str::<ChildMessage>(l).ok());
        match msg {
            Some(ChildMessage::Ok(r)) => Ok((*r, start.elapsed().as_secs_f64())),
            Some(ChildMessage::Err(f)) => Err(Box::new(Outcome::Failed { failure: f })),
            None => Err(Box::new(Outcome::Crash {
                status: status.to_string(),
                stderr: tail(&stderr, 4000),
            })),
        }
    }

    fn measure(
        &mut self,
        mapper: MapperChoice,
        text: String,
        canonical: Option<String>,
    ) -> Evaluation {
        let runs = self.runs();
        let mut reports: Vec<RunReport> = Vec::new();
        let mut outcome = None;
        for _ in 0..runs {
            match self.run_child(&mapper) {
                Ok((r, wall)) => {
                    self.overhead_s = self.overhead_s.max(wall - r.time_s.max(0.0));
                    if !r.verified {
                        outcome = Some(Outcome::WrongResult {
                            check: r.check.clone(),
                            time_s: r.time_s,
                        });
                        break;
                    }
                    reports.push(r);
                }
                Err(o) => {
                    outcome = Some(*o);
                    break;
                }
            }
        }
        let outcome = match outcome {
            Some(o) => o,
            None => {
                let mut times: Vec<f64> = reports.iter().map(|r| r.time_s).collect();
                let times_s = times.clone();
                times.sort_by(f64::total_cmp);
                let median = times.get(times.len() / 2).copied().unwrap_or(f64::NAN);
                let report = reports
                    .iter()
                    .find(|r| r.time_s == median)
                    .cloned()
                    .or_else(|| reports.first().cloned());
                match report {
                    Some(report) => Outcome::Ran {
                        time_s: median,
                        times_s,
                        report: Box::new(report),
                    },
                    None => Outcome::Crash {
                        status: "no run".into(),
                        stderr: String::new(),
                    },
                }
            }
        };
        finish(text, canonical, outcome, self.reference)
    }
}

/// Score and feedback for an outcome.
pub fn finish(
    text: String,
    canonical: Option<String>,
    outcome: Outcome,
    reference: Option<f64>,
) -> Evaluation {
    let score = match (outcome.time_s(), reference) {
        (Some(t), Some(r)) if t > 0.0 && r > 0.0 => r / t,
        (Some(t), None) if t > 0.0 => 1.0,
        _ => 0.0,
    };
    let fb = feedback(&outcome, score, reference);
    Evaluation {
        mapper: text,
        canonical,
        outcome,
        score,
        feedback: fb,
    }
}

/// Checks a mapper text against the app; `Err` holds the rejection outcome.
pub fn precheck(text: &str, info: &mapper_core::AppInfo) -> Result<String, Box<Outcome>> {
    let c = check_text_for(text, Some(info));
    if c.error_count() > 0 || c.statement_count() == 0 {
        let mut messages: Vec<String> = c
            .diagnostics()
            .iter()
            .filter(|d| d.is_error())
            .map(|d| d.message.clone())
            .collect();
        let rendered = if c.diagnostics().is_empty() {
            messages.push("the mapper has no statements".into());
            "error: the mapper has no statements".to_string()
        } else {
            render_all(c.diagnostics(), CANDIDATE_FILE, text)
        };
        return Err(Box::new(Outcome::Rejected { messages, rendered }));
    }
    Ok(print(&c.parsed.program))
}

impl Evaluate for ChildEvaluator {
    fn evaluate(&mut self, text: &str) -> Evaluation {
        let canonical = match precheck(text, &self.info) {
            Ok(c) => c,
            Err(o) => return finish(text.to_string(), None, *o, self.reference),
        };
        self.counter += 1;
        let path = self
            .settings
            .work_dir
            .join(format!("candidate-{:04}.mapper", self.counter));
        if let Err(e) = std::fs::create_dir_all(&self.settings.work_dir)
            .and_then(|()| std::fs::write(&path, &canonical))
        {
            let o = Outcome::Crash {
                status: format!("cannot write {}: {e}", path.display()),
                stderr: String::new(),
            };
            return finish(text.to_string(), Some(canonical), o, self.reference);
        }
        self.measure(MapperChoice::File(path), text.to_string(), Some(canonical))
    }

    fn evaluate_default(&mut self) -> Evaluation {
        self.measure(MapperChoice::Default, String::new(), None)
    }

    /// Also tightens the time limit on real machines to 20x the reference plus twice the
    /// largest fixed cost of a child seen so far (at least 10 s, at most the configured limit),
    /// so a hopeless mapper does not hold the session for long while a child's setup and
    /// verification (seconds for a large problem on GPUs) are not mistaken for a slow mapping.
    fn set_reference(&mut self, time_s: Option<f64>) {
        self.reference = time_s;
        if let Some(t) = time_s.filter(|t| t.is_finite() && *t > 0.0) {
            if !is_simulated(&self.settings.machine) {
                self.timeout = self.settings.timeout.min(limit_for(t, self.overhead_s));
            }
        }
    }

    fn run_once(&mut self, text: Option<&str>) -> Result<RunReport, String> {
        self.once = true;
        let e = match text {
            Some(t) => self.evaluate(t),
            None => self.evaluate_default(),
        };
        self.once = false;
        match e.outcome {
            Outcome::Ran { time_s, report, .. } => Ok(RunReport { time_s, ..*report }),
            o => Err(o.class().to_string()),
        }
    }

    fn runs(&self) -> usize {
        if self.once || is_simulated(&self.settings.machine) {
            1
        } else {
            self.settings.runs.max(1)
        }
    }
}

/// The time limit of a child on a real machine: 20x the reference time plus twice the fixed
/// cost of a child, at least 10 s.
fn limit_for(reference_s: f64, overhead_s: f64) -> Duration {
    Duration::from_secs_f64((20.0 * reference_s + 2.0 * overhead_s.max(0.0)).max(10.0))
}

fn drain<R: Read + Send + 'static>(mut r: R) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    })
}

fn tail(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut start = s.len() - max;
    while !s.is_char_boundary(start) {
        start += 1;
    }
    format!("...{}", &s[start..])
}

/// The path of the `tune` executable for child evaluations: this process's own executable.
pub fn own_exe() -> Result<PathBuf, String> {
    std::env::current_exe().map_err(|e| format!("cannot find the tune executable: {e}"))
}

/// True if `p` looks like a usable executable path.
pub fn exe_exists(p: &Path) -> bool {
    p.is_file()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_limit_covers_the_child_fixed_cost() {
        // A 56 ms GPU run whose child spends 8 s on setup and verification: 17.12 s, not 10 s.
        assert_eq!(limit_for(0.056, 8.0), Duration::from_secs_f64(17.12));
        assert_eq!(limit_for(0.01, 0.5), Duration::from_secs(10));
        assert_eq!(limit_for(1.0, 3.0), Duration::from_secs(26));
        assert_eq!(limit_for(1.0, -1.0), Duration::from_secs(20));
    }

    #[test]
    fn precheck_rejects_and_canonicalizes() {
        let info = crate::registry::find("stencil").unwrap().info();
        match precheck("Task stencl GPU;", &info).map_err(|o| *o) {
            Err(Outcome::Rejected { messages, rendered }) => {
                assert!(messages[0].contains("stencl"), "{messages:?}");
                assert!(rendered.contains("candidate.mapper:1:"), "{rendered}");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            precheck("", &info).map_err(|o| *o),
            Err(Outcome::Rejected { .. })
        ));
        assert_eq!(precheck("Task  *  GPU ;", &info).unwrap(), "Task * GPU;\n");
    }

    #[test]
    fn run_once_in_process() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.mapper");
        let app = crate::registry::find("stencil").unwrap();
        std::fs::write(&p, app.expert_mapper()).unwrap();
        match run_once(&*app, &MapperChoice::File(p), "emulated:1x2", "tiny") {
            ChildMessage::Ok(r) => {
                assert!(r.verified, "{}", r.check);
                assert_eq!(
                    r.check,
                    "all 2304 cells exact after 4 steps; 2x1 tiles on 2 GPU"
                );
            }
            other => panic!("{other:?}"),
        }
        match run_once(
            &*app,
            &MapperChoice::File(dir.path().join("none")),
            "local",
            "tiny",
        ) {
            ChildMessage::Err(RunFailure::Config(m)) => {
                assert!(m.starts_with("cannot read mapper"), "{m}")
            }
            other => panic!("{other:?}"),
        }
        let line = serde_json::to_string(&ChildMessage::Err(RunFailure::Exec("x".into()))).unwrap();
        assert_eq!(line, r#"{"err":{"kind":"exec","message":"x"}}"#);
    }

    #[test]
    fn scores_relative_to_reference() {
        let o = Outcome::Timeout { limit_s: 1.0 };
        assert_eq!(finish("m".into(), None, o, Some(2.0)).score, 0.0);
        assert_eq!(tail("abcdef", 3), "...def");
    }
}
