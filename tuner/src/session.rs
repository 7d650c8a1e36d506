//! One tuning session: evaluate the expert and default mappers (the baselines), then run each
//! planned optimizer for N iterations (propose, evaluate, feed back), recording every iteration.

use crate::attempt::Attempt;
use crate::eval::{Evaluate, Evaluation};
use crate::feedback::Outcome;
use crate::optimizer::{Optimizer, OptimizerError};
use crate::target::TuneApp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One iteration of one optimizer run (a line of `history.jsonl`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IterationRecord {
    /// 1-based iteration within the optimizer run.
    pub iteration: usize,
    /// Optimizer name.
    pub optimizer: String,
    /// The mapper text proposed (empty if the optimizer produced none).
    pub mapper: String,
    /// Score (expert time / this time; 0 for failures).
    pub score: f64,
    /// Median time in seconds if it ran and verified.
    pub time_s: Option<f64>,
    /// Outcome class (`ok`, `rejected`, `mapping error`, ...).
    pub outcome: String,
    /// The feedback the optimizer was given.
    pub feedback: String,
    /// Best score of this run so far (after this iteration).
    pub best_so_far: f64,
    /// True if the proposal was one of the seeds every optimizer starts from (the expert and
    /// the runtime default, as expressed in the search space).
    #[serde(default)]
    pub seed: bool,
}

/// Everything one optimizer run produced.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OptimizerRun {
    /// Optimizer name.
    pub optimizer: String,
    /// Every iteration.
    pub records: Vec<IterationRecord>,
}

impl OptimizerRun {
    /// The record with the highest positive score (earliest among equals).
    pub fn best(&self) -> Option<&IterationRecord> {
        let mut best: Option<&IterationRecord> = None;
        for r in &self.records {
            if r.score > 0.0 && best.is_none_or(|b| r.score > b.score) {
                best = Some(r);
            }
        }
        best
    }
}

/// One optimizer to run, and whether its history starts with the evaluated expert mapper (the
/// LLM optimizers learn from it; the structured searches start from it through their space).
pub struct Plan {
    /// The optimizer.
    pub optimizer: Box<dyn Optimizer>,
    /// Start the optimizer's history with the expert's attempt.
    pub expert_in_history: bool,
}

/// The result of a session.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SessionResult {
    /// App name.
    pub app: String,
    /// Machine spec.
    pub machine: String,
    /// Size preset.
    pub size: String,
    /// Runs per evaluation (median taken).
    pub runs: usize,
    /// The expert mapper's evaluation (score 1 by definition when it ran).
    pub expert: Evaluation,
    /// The runtime default mapper's evaluation.
    pub default: Evaluation,
    /// Time scores are relative to (the expert's, else the default's).
    pub reference_s: Option<f64>,
    /// Every optimizer run.
    pub runs_by_optimizer: Vec<OptimizerRun>,
    /// Notes for the report (e.g. the reference is not the expert).
    pub notes: Vec<String>,
    /// The confirmation step's result (`None` until it ran, or if it was skipped).
    #[serde(default)]
    pub confirmation: Option<crate::confirm::Confirmation>,
}

impl SessionResult {
    /// The best record over all optimizer runs: (optimizer, record).
    pub fn best(&self) -> Option<&IterationRecord> {
        let mut best: Option<&IterationRecord> = None;
        for run in &self.runs_by_optimizer {
            if let Some(r) = run.best() {
                if best.is_none_or(|b| r.score > b.score) {
                    best = Some(r);
                }
            }
        }
        best
    }
}

/// Progress events of a session.
#[derive(Clone, Debug, PartialEq)]
pub enum Progress<'a> {
    /// A baseline is being evaluated (`expert`, `default`).
    Baseline(&'a str),
    /// An optimizer run starts.
    RunStart(&'a str),
    /// An iteration finished.
    Iteration(&'a IterationRecord),
    /// The result so far, after every iteration (and once before the first): the caller
    /// writes its outputs here, so an interrupted run leaves its history behind.
    Updated(&'a SessionResult),
}

/// Reads a `history.jsonl` written by an earlier tuning run (for `--resume`).
pub fn read_history(text: &str) -> Result<Vec<IterationRecord>, String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let r: IterationRecord =
            serde_json::from_str(line).map_err(|e| format!("history.jsonl line {}: {e}", i + 1))?;
        out.push(r);
    }
    Ok(out)
}

/// The attempt an optimizer's history holds for a recorded iteration.
fn attempt_of(r: &IterationRecord) -> Attempt {
    if r.score > 0.0 {
        Attempt::scored(&r.mapper, r.score, &r.feedback)
    } else {
        Attempt::failed(&r.mapper, &r.feedback)
    }
}

/// Runs a tuning run: baselines, then each plan up to `iterations` iterations. `make_plans` gets
/// the launch dimensionality of each task observed in the baseline runs. `resume` holds the
/// records of an earlier run: each plan starts with those of its optimizer (its history refilled;
/// a replayable optimizer re-proposes them without evaluating, to regain its state) and
/// continues the iteration count.
#[allow(clippy::too_many_arguments)]
pub fn run_session(
    app: &dyn TuneApp,
    eval: &mut dyn Evaluate,
    machine: &str,
    size: &str,
    make_plans: &mut dyn FnMut(&BTreeMap<String, usize>) -> Vec<Plan>,
    iterations: usize,
    resume: &[IterationRecord],
    progress: &mut dyn FnMut(Progress<'_>),
) -> SessionResult {
    let mut notes = Vec::new();
    progress(Progress::Baseline("expert"));
    eval.set_reference(None);
    let expert_text = app.expert_mapper();
    let mut expert = eval.evaluate(&expert_text);
    progress(Progress::Baseline("default"));
    let reference = expert.outcome.time_s();
    eval.set_reference(reference);
    let mut default = eval.evaluate_default();
    let reference = match reference {
        Some(t) => Some(t),
        None => {
            notes.push(format!(
                "The expert mapper did not run ({}); scores are relative to the default mapper.",
                expert.outcome.class()
            ));
            let d = default.outcome.time_s();
            if d.is_some() {
                eval.set_reference(d);
                default = crate::eval::finish(String::new(), None, default.outcome.clone(), d);
            } else {
                notes.push("The default mapper did not run either; no run can be scored.".into());
            }
            d
        }
    };
    if expert.outcome.time_s().is_some() {
        expert = crate::eval::finish(
            expert.mapper.clone(),
            expert.canonical.clone(),
            expert.outcome.clone(),
            reference,
        );
    }
    let mut dims = BTreeMap::new();
    for e in [&default, &expert] {
        if let Outcome::Ran { report, .. } = &e.outcome {
            for (k, v) in &report.profile.launch_dims {
                dims.entry(k.clone()).or_insert(*v);
            }
        }
    }
    let plans = make_plans(&dims);
    if !resume.is_empty() {
        notes.push(format!(
            "Resumed from {} recorded iteration(s); the baselines were evaluated again.",
            resume.len()
        ));
    }
    let mut result = SessionResult {
        app: app.name().to_string(),
        machine: machine.to_string(),
        size: size.to_string(),
        runs: eval.runs(),
        expert,
        default,
        reference_s: reference,
        runs_by_optimizer: Vec::new(),
        notes,
        confirmation: None,
    };
    progress(Progress::Updated(&result));
    for mut plan in plans {
        let name = plan.optimizer.name().to_string();
        progress(Progress::RunStart(&name));
        let mut history: Vec<Attempt> = Vec::new();
        if plan.expert_in_history {
            history.push(result.expert.attempt());
        }
        result.runs_by_optimizer.push(OptimizerRun {
            optimizer: name.clone(),
            records: Vec::new(),
        });
        let run = result.runs_by_optimizer.len() - 1;
        let mut best = 0.0f64;
        let mut prior: Vec<&IterationRecord> =
            resume.iter().filter(|r| r.optimizer == name).collect();
        prior.sort_by_key(|r| r.iteration);
        for r in prior.into_iter().take(iterations) {
            if plan.optimizer.replayable() {
                let _ = plan.optimizer.propose(&history);
            }
            history.push(attempt_of(r));
            best = best.max(r.score);
            let rec = IterationRecord {
                iteration: result.runs_by_optimizer[run].records.len() + 1,
                best_so_far: best,
                ..r.clone()
            };
            progress(Progress::Iteration(&rec));
            result.runs_by_optimizer[run].records.push(rec);
        }
        let done = result.runs_by_optimizer[run].records.len();
        for i in done + 1..=iterations {
            let (attempt, rec) = match plan.optimizer.propose(&history) {
                Ok(text) => {
                    let e = eval.evaluate(&text);
                    best = best.max(e.score);
                    let rec = IterationRecord {
                        iteration: i,
                        optimizer: name.clone(),
                        mapper: e.canonical.clone().unwrap_or_else(|| text.clone()),
                        score: e.score,
                        time_s: e.outcome.time_s(),
                        outcome: e.outcome.class().to_string(),
                        feedback: e.feedback.clone(),
                        best_so_far: best,
                        seed: plan.optimizer.last_was_seed(),
                    };
                    (e.attempt(), rec)
                }
                Err(OptimizerError::Exhausted(why)) => {
                    result
                        .notes
                        .push(format!("{name} stopped after {} iterations: {why}", i - 1));
                    break;
                }
                Err(err) => {
                    let fb = format!("The {name} optimizer produced no mapper: {err}");
                    let rec = IterationRecord {
                        iteration: i,
                        optimizer: name.clone(),
                        mapper: String::new(),
                        score: 0.0,
                        time_s: None,
                        outcome: "no proposal".into(),
                        feedback: fb.clone(),
                        best_so_far: best,
                        seed: false,
                    };
                    (Attempt::failed("", fb), rec)
                }
            };
            progress(Progress::Iteration(&rec));
            history.push(attempt);
            result.runs_by_optimizer[run].records.push(rec);
            progress(Progress::Updated(&result));
        }
    }
    result
}

/// A failed evaluation's outcome class, or `ok` with the time.
pub fn status_text(o: &Outcome) -> String {
    match o.time_s() {
        Some(t) => format!("ok, {}", crate::report::format_time(t)),
        None => o.class().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::{finish, precheck};
    use crate::search::{SearchKind, SpaceSearch};
    use crate::space::Space;
    use crate::target::{ProfileFacts, RunReport, TuneApp};
    use mapper_core::machine::MachineShape;
    use std::sync::{Arc, OnceLock};

    /// The stencil app, shared so that its launch dimensions are measured once.
    fn stencil() -> &'static dyn TuneApp {
        static APP: OnceLock<Box<dyn TuneApp>> = OnceLock::new();
        APP.get_or_init(|| crate::registry::find("stencil").unwrap())
            .as_ref()
    }

    /// The plans of a session: each built-in search over the stencil's space on one node with
    /// 2 CPUs and 2 GPUs, from its expert, with `seed`.
    fn plans(seed: u64) -> impl FnMut(&BTreeMap<String, usize>) -> Vec<Plan> {
        move |dims: &BTreeMap<String, usize>| -> Vec<Plan> {
            let app = stencil();
            let space = Arc::new(Space::with_dims(
                app,
                &MachineShape::new(1, 2, 2),
                Some(&app.expert_mapper()),
                dims,
            ));
            SearchKind::ALL
                .iter()
                .map(|k| Plan {
                    optimizer: Box::new(SpaceSearch::new(*k, space.clone(), seed)),
                    expert_in_history: false,
                })
                .collect()
        }
    }

    /// A deterministic evaluator: time from the text (cyclic placements are faster, ZCMEM is
    /// slower, instance limits on `increment` run out of memory).
    struct Model {
        reference: Option<f64>,
    }

    impl Evaluate for Model {
        fn evaluate(&mut self, text: &str) -> Evaluation {
            let canonical = match precheck(text, &stencil().info()) {
                Ok(c) => c,
                Err(o) => return finish(text.into(), None, *o, self.reference),
            };
            let outcome = if text.contains("InstanceLimit increment") {
                Outcome::Failed {
                    failure: crate::target::RunFailure::MemoryFull("FBMEM full".into()),
                }
            } else {
                let t = 1.0 - 0.05 * text.matches("tune_cyclic").count() as f64
                    + 0.1 * text.matches("ZCMEM").count() as f64;
                Outcome::Ran {
                    time_s: t,
                    times_s: vec![t],
                    report: Box::new(RunReport {
                        time_s: t,
                        throughput: None,
                        unit: String::new(),
                        verified: true,
                        check: String::new(),
                        profile: ProfileFacts::default(),
                    }),
                }
            };
            finish(text.into(), Some(canonical), outcome, self.reference)
        }
        fn evaluate_default(&mut self) -> Evaluation {
            self.evaluate("Task * GPU;")
        }
        fn set_reference(&mut self, t: Option<f64>) {
            self.reference = t;
        }
        fn runs(&self) -> usize {
            1
        }
    }

    fn session(seed: u64) -> SessionResult {
        let mut events = 0;
        let r = run_session(
            stencil(),
            &mut Model { reference: None },
            "model",
            "tiny",
            &mut plans(seed),
            10,
            &[],
            &mut |p| {
                if !matches!(p, Progress::Updated(_)) {
                    events += 1
                }
            },
        );
        assert_eq!(events, 2 + 3 + 30);
        r
    }

    #[test]
    fn resumed_runs_continue_where_they_stopped() {
        let full = session(5);
        // The first 4 iterations of each run, as a history file would hold them.
        let prior: Vec<IterationRecord> = full
            .runs_by_optimizer
            .iter()
            .flat_map(|r| r.records[..4].iter().cloned())
            .collect();
        let text: String = prior
            .iter()
            .map(|r| serde_json::to_string(r).unwrap() + "\n")
            .collect();
        assert_eq!(read_history(&text).unwrap(), prior);
        assert!(read_history("{")
            .unwrap_err()
            .starts_with("history.jsonl line 1:"));
        let mut updates = 0;
        let r = run_session(
            stencil(),
            &mut Model { reference: None },
            "model",
            "tiny",
            &mut plans(5),
            10,
            &prior,
            &mut |p| {
                if matches!(p, Progress::Updated(_)) {
                    updates += 1
                }
            },
        );
        // One update before the loop, then one per new iteration.
        assert_eq!(updates, 1 + 3 * 6);
        // Replayed searches continue exactly as the uninterrupted run did.
        assert_eq!(r.runs_by_optimizer, full.runs_by_optimizer);
    }

    #[test]
    fn seeded_sessions_are_reproducible() {
        let a = session(5);
        assert_eq!(a, session(5));
        assert_ne!(a.runs_by_optimizer, session(6).runs_by_optimizer);
        assert_eq!(a.expert.score, 1.0);
        assert_eq!(a.reference_s, Some(1.0));
        assert_eq!(a.runs_by_optimizer.len(), 3);
        for run in &a.runs_by_optimizer {
            assert_eq!(run.records.len(), 10);
            // The first proposal is the expert projected into the space: same modelled time.
            assert_eq!(run.records[0].score, 1.0, "{}", run.optimizer);
            let mut best = 0.0f64;
            for r in &run.records {
                best = best.max(r.score);
                assert_eq!(r.best_so_far, best);
            }
        }
        let best = a.best().unwrap();
        assert!(best.score > 1.0, "{}", best.score);
        assert!(best.mapper.contains("tune_cyclic"), "{}", best.mapper);
    }

    #[test]
    fn confirmation_keeps_real_gains_and_reports_noise() {
        use crate::confirm::{confirm, ConfirmSettings, Verdict};
        let mut r = session(5);
        let mut rounds = 0;
        let settings = ConfirmSettings {
            rounds: 2,
            top: 3,
            min_gain: 0.02,
        };
        let c = confirm(
            &mut Model {
                reference: Some(1.0),
            },
            &r,
            settings,
            &mut |_, _| rounds += 1,
        )
        .unwrap();
        assert_eq!(rounds, 2);
        assert_eq!(c.baseline, "expert");
        assert_eq!(c.baseline_times_s, vec![1.0, 1.0]);
        assert_eq!(c.candidates.len(), 3);
        let w = c.winner().unwrap();
        assert_eq!(w.verdict, Verdict::Gain);
        assert_eq!(w.ratios.len(), 2);
        assert!(w.mapper.contains("tune_cyclic"), "{}", w.mapper);
        r.confirmation = Some(c.clone());
        assert_eq!(crate::report::best_mapper_text(&r).trim(), w.mapper.trim());
        // With a threshold above every gain, nothing is confirmed: best.mapper is the expert.
        let c = confirm(
            &mut Model {
                reference: Some(1.0),
            },
            &r,
            ConfirmSettings {
                min_gain: 10.0,
                ..settings
            },
            &mut |_, _| {},
        )
        .unwrap();
        assert_eq!(c.winner, None);
        assert!(
            c.summary().contains("no gain beyond noise"),
            "{}",
            c.summary()
        );
        r.confirmation = Some(c);
        let best = crate::report::best_mapper_text(&r);
        assert!(best.starts_with("# No gain beyond noise over the expert mapper (2 round(s))"));
        assert!(crate::report::confirmation_table(&r).contains("no gain beyond noise"));
        assert!(crate::report::markdown(&r, &[], &best).contains("## Confirmed result"));
    }
}
