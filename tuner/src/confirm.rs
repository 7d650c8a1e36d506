//! Confirmed results: after the optimizer loop, the best few distinct candidates and the
//! baseline (the expert, else the runtime default) are measured again, interleaved for several
//! rounds, the baseline first in odd rounds and last in even ones. Each candidate gets the
//! median of its per-round ratios (baseline time / candidate time, or candidate throughput /
//! baseline throughput when the two did different amounts of work) with the spread (min-max);
//! a gain whose spread includes 1.0, or whose median is below the `min_gain` threshold, is "no
//! gain beyond noise". The confirmed winner (or the baseline) is what `best.mapper` holds.

use crate::eval::Evaluate;
use crate::session::SessionResult;
use crate::target::RunReport;
use serde::{Deserialize, Serialize};

/// Settings of the confirmation step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ConfirmSettings {
    /// Rounds (each measures the baseline and every candidate once); 0 skips the step.
    pub rounds: usize,
    /// How many distinct candidates to confirm.
    pub top: usize,
    /// Smallest median gain that counts (0.02: 2%).
    pub min_gain: f64,
}

impl ConfirmSettings {
    /// Defaults: 5 rounds on real machines, 1 on simulated ones (deterministic), top 3, 2%.
    pub fn for_machine(machine: &str) -> ConfirmSettings {
        ConfirmSettings {
            rounds: if crate::target::is_simulated(machine) {
                1
            } else {
                5
            },
            top: 3,
            min_gain: 0.02,
        }
    }
}

/// What the confirmation concluded about one candidate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Faster than the baseline in every round and by at least the threshold (median).
    Gain,
    /// The spread includes 1.0 or the median gain is below the threshold.
    NoGainBeyondNoise,
    /// Slower than the baseline in every round, by more than the threshold (median).
    Slower,
    /// It failed in at least one round.
    Failed,
}

impl Verdict {
    /// Text for tables.
    pub fn text(self) -> &'static str {
        match self {
            Verdict::Gain => "confirmed gain",
            Verdict::NoGainBeyondNoise => "no gain beyond noise",
            Verdict::Slower => "slower",
            Verdict::Failed => "failed",
        }
    }
}

/// One candidate measured again.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Confirmed {
    /// Optimizer that found it.
    pub optimizer: String,
    /// Iteration that found it.
    pub iteration: usize,
    /// True if it is one of the seeds (expert or default) rather than a search result.
    #[serde(default)]
    pub seed: bool,
    /// Its score during the search.
    pub search_score: f64,
    /// The mapper text (canonical).
    pub mapper: String,
    /// Per-round ratios (higher is better; 1.0 = as fast as the baseline).
    pub ratios: Vec<f64>,
    /// Per-round times in seconds.
    pub times_s: Vec<f64>,
    /// Why it failed in a round, if it did.
    pub failure: Option<String>,
    /// The verdict.
    pub verdict: Verdict,
}

impl Confirmed {
    /// A short label (`ensemble, iteration 6`).
    pub fn label(&self) -> String {
        format!("{}, iteration {}", self.optimizer, self.iteration)
    }

    /// Median of the per-round ratios.
    pub fn median(&self) -> Option<f64> {
        median(&self.ratios)
    }

    /// Smallest and largest per-round ratio.
    pub fn spread(&self) -> Option<(f64, f64)> {
        spread(&self.ratios)
    }
}

/// The result of the confirmation step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Confirmation {
    /// Rounds run.
    pub rounds: usize,
    /// The threshold (0.02: 2%).
    pub min_gain: f64,
    /// What the candidates are compared with: `expert` or `default`.
    pub baseline: String,
    /// Per-round times of the baseline, seconds.
    pub baseline_times_s: Vec<f64>,
    /// True if some candidate did a different amount of work than the baseline, so its ratios
    /// compare throughput (work/time) instead of time.
    pub by_throughput: bool,
    /// The candidates, best search score first.
    pub candidates: Vec<Confirmed>,
    /// Index of the confirmed winner in `candidates` (`None`: no confirmed gain).
    pub winner: Option<usize>,
    /// Problems (e.g. the baseline failed in a round).
    pub notes: Vec<String>,
}

impl Confirmation {
    /// The confirmed winner.
    pub fn winner(&self) -> Option<&Confirmed> {
        self.winner.and_then(|i| self.candidates.get(i))
    }

    /// One sentence with the conclusion.
    pub fn summary(&self) -> String {
        let how = format!(
            "{} round(s) interleaved with the {}",
            self.rounds, self.baseline
        );
        match self.winner() {
            Some(w) => format!(
                "confirmed: {} is {:.3}x the {} (median of {how}, spread {}); best.mapper holds it",
                w.label(),
                w.median().unwrap_or(0.0),
                self.baseline,
                spread_text(w.spread()),
            ),
            None if self.candidates.is_empty() => format!(
                "confirmed: no candidate to confirm; best.mapper holds the {} mapper",
                self.baseline
            ),
            None => format!(
                "confirmed: no gain beyond noise over the {} ({how}, threshold {:.1}%); \
                 best.mapper holds the {} mapper",
                self.baseline,
                self.min_gain * 100.0,
                self.baseline
            ),
        }
    }
}

/// `0.981x-1.061x`, or `-`.
pub fn spread_text(s: Option<(f64, f64)>) -> String {
    s.map_or("-".into(), |(a, b)| format!("{a:.3}x-{b:.3}x"))
}

/// The median of `v` (the mean of the middle two for an even count).
pub fn median(v: &[f64]) -> Option<f64> {
    let mut s: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    if s.is_empty() {
        return None;
    }
    s.sort_by(f64::total_cmp);
    let n = s.len();
    Some(if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    })
}

fn spread(v: &[f64]) -> Option<(f64, f64)> {
    let s: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    if s.is_empty() {
        return None;
    }
    Some((
        s.iter().copied().fold(f64::INFINITY, f64::min),
        s.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    ))
}

/// The verdict for per-round `ratios` with threshold `min_gain`.
pub fn verdict(ratios: &[f64], min_gain: f64) -> Verdict {
    let (Some(m), Some((lo, hi))) = (median(ratios), spread(ratios)) else {
        return Verdict::Failed;
    };
    if lo > 1.0 && m >= 1.0 + min_gain {
        Verdict::Gain
    } else if hi < 1.0 && m <= 1.0 - min_gain {
        Verdict::Slower
    } else {
        Verdict::NoGainBeyondNoise
    }
}

/// Work done by a run (throughput x time), if the app reports a throughput.
fn work(r: &RunReport) -> Option<f64> {
    r.throughput
        .filter(|t| t.is_finite() && *t > 0.0)
        .map(|t| t * r.time_s)
}

/// The ratio of `cand` to `base` (higher is better), and whether it compares throughput
/// because the two runs did different amounts of work.
pub fn ratio(base: &RunReport, cand: &RunReport) -> Option<(f64, bool)> {
    if let (Some(wb), Some(wc)) = (work(base), work(cand)) {
        if (wb - wc).abs() > 1e-6 * wb.abs().max(wc.abs()) {
            let (tb, tc) = (base.throughput?, cand.throughput?);
            return Some((tc / tb, true));
        }
    }
    (cand.time_s > 0.0 && base.time_s > 0.0).then_some((base.time_s / cand.time_s, false))
}

/// The best `top` distinct candidates that ran (highest search score first, earliest among
/// equals), leaving out texts equal to `exclude` (the baseline's).
pub fn pick(result: &SessionResult, top: usize, exclude: &[&str]) -> Vec<Confirmed> {
    let mut all: Vec<_> = result
        .runs_by_optimizer
        .iter()
        .flat_map(|run| run.records.iter())
        .filter(|r| r.score > 0.0 && !r.mapper.trim().is_empty())
        .collect();
    all.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut out: Vec<Confirmed> = Vec::new();
    for r in all {
        if out.len() >= top {
            break;
        }
        let t = r.mapper.trim();
        if exclude.iter().any(|e| e.trim() == t) || out.iter().any(|c| c.mapper.trim() == t) {
            continue;
        }
        out.push(Confirmed {
            optimizer: r.optimizer.clone(),
            iteration: r.iteration,
            seed: r.seed,
            search_score: r.score,
            mapper: r.mapper.clone(),
            ratios: Vec::new(),
            times_s: Vec::new(),
            failure: None,
            verdict: Verdict::Failed,
        });
    }
    out
}

/// Runs the confirmation step; `None` if no baseline ran or `settings.rounds` is 0.
/// `progress` gets (round, rounds) before each round.
pub fn confirm(
    eval: &mut dyn Evaluate,
    result: &SessionResult,
    settings: ConfirmSettings,
    progress: &mut dyn FnMut(usize, usize),
) -> Option<Confirmation> {
    if settings.rounds == 0 {
        return None;
    }
    let expert_text = result
        .expert
        .canonical
        .clone()
        .unwrap_or_else(|| result.expert.mapper.clone());
    let (baseline, base_text) = if result.expert.outcome.time_s().is_some() {
        ("expert", Some(expert_text.clone()))
    } else if result.default.outcome.time_s().is_some() {
        ("default", None)
    } else {
        return None;
    };
    let mut cands = pick(
        result,
        settings.top,
        &[expert_text.as_str(), result.expert.mapper.as_str()],
    );
    let mut c = Confirmation {
        rounds: settings.rounds,
        min_gain: settings.min_gain,
        baseline: baseline.to_string(),
        baseline_times_s: Vec::new(),
        by_throughput: false,
        candidates: Vec::new(),
        winner: None,
        notes: Vec::new(),
    };
    for round in 1..=settings.rounds {
        progress(round, settings.rounds);
        // Odd rounds run the baseline first, even rounds last (A B B A ...), so a systematic
        // advantage of running first or second (warm caches, clock boost) cancels out.
        let baseline_first = round % 2 == 1;
        let mut base = None;
        if baseline_first {
            base = run_baseline(eval, base_text.as_deref(), baseline, round, &mut c);
            if base.is_none() {
                continue;
            }
        }
        let mut runs: Vec<(usize, RunReport)> = Vec::new();
        for (i, cand) in cands.iter_mut().enumerate() {
            if cand.failure.is_some() {
                continue;
            }
            match eval.run_once(Some(&cand.mapper)) {
                Ok(r) => runs.push((i, r)),
                Err(e) => cand.failure = Some(format!("round {round}: {e}")),
            }
        }
        if !baseline_first {
            base = run_baseline(eval, base_text.as_deref(), baseline, round, &mut c);
        }
        let Some(base) = base else { continue };
        for (i, r) in runs {
            let cand = &mut cands[i];
            cand.times_s.push(r.time_s);
            if let Some((x, by_work)) = ratio(&base, &r) {
                cand.ratios.push(x);
                c.by_throughput |= by_work;
            }
        }
    }
    let mut best: Option<(usize, f64)> = None;
    for (i, cand) in cands.iter_mut().enumerate() {
        cand.verdict = if cand.failure.is_some() {
            Verdict::Failed
        } else {
            verdict(&cand.ratios, settings.min_gain)
        };
        if cand.verdict == Verdict::Gain {
            let m = cand.median().unwrap_or(0.0);
            if best.is_none_or(|(_, b)| m > b) {
                best = Some((i, m));
            }
        }
    }
    c.winner = best.map(|b| b.0);
    c.candidates = cands;
    Some(c)
}

/// Runs the baseline once in `round`; on failure notes it (the round is skipped).
fn run_baseline(
    eval: &mut dyn Evaluate,
    text: Option<&str>,
    name: &str,
    round: usize,
    c: &mut Confirmation,
) -> Option<RunReport> {
    match eval.run_once(text) {
        Ok(r) => {
            c.baseline_times_s.push(r.time_s);
            Some(r)
        }
        Err(e) => {
            c.notes.push(format!(
                "round {round}: the {name} mapper failed ({e}); round skipped"
            ));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::ProfileFacts;

    fn rep(t: f64, thr: Option<f64>) -> RunReport {
        RunReport {
            time_s: t,
            throughput: thr,
            unit: String::new(),
            verified: true,
            check: String::new(),
            profile: ProfileFacts::default(),
        }
    }

    #[test]
    fn verdicts_and_statistics() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[1.0, 2.0]), Some(1.5));
        assert_eq!(median(&[]), None);
        assert_eq!(verdict(&[1.10, 1.05, 1.2], 0.02), Verdict::Gain);
        // The spread includes 1.0: noise, however large the median.
        assert_eq!(verdict(&[1.3, 0.99, 1.2], 0.02), Verdict::NoGainBeyondNoise);
        // Always faster, but by less than the threshold.
        assert_eq!(verdict(&[1.01, 1.01], 0.02), Verdict::NoGainBeyondNoise);
        assert_eq!(verdict(&[0.5, 0.6], 0.02), Verdict::Slower);
        assert_eq!(verdict(&[], 0.02), Verdict::Failed);
        assert_eq!(spread_text(Some((0.98, 1.5))), "0.980x-1.500x");
    }

    #[test]
    fn ratios_compare_throughput_when_the_work_differs() {
        // Same work: time ratio.
        assert_eq!(
            ratio(&rep(2.0, Some(10.0)), &rep(1.0, Some(20.0))),
            Some((2.0, false))
        );
        // The candidate did twice the work in the same time: throughput ratio 2.
        assert_eq!(
            ratio(&rep(1.0, Some(10.0)), &rep(1.0, Some(20.0))),
            Some((2.0, true))
        );
        assert_eq!(ratio(&rep(1.0, None), &rep(0.5, None)), Some((2.0, false)));
        assert_eq!(ratio(&rep(1.0, None), &rep(0.0, None)), None);
    }
}
