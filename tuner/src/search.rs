//! The built-in optimizers over the structured space ([`crate::space`]): random search,
//! constrained coordinate descent (AutoMap-style) and an OpenTuner-style bandit ensemble.
//!
//! All three implement [`Optimizer`]: each proposal is a rendered candidate; the score of a
//! proposal is read back from the last attempt of the history at the next call. All randomness
//! comes from one seeded generator, so the same seed and a deterministic evaluator give the same
//! history. Every optimizer first evaluates two seeds, the starting point (the expert projected
//! into the space) and the runtime default expressed in the space, then never repeats a candidate.
//!
//! With a [`Screen`] (a cheap, deterministic estimate of a candidate's rate, e.g. a run in the
//! simulator), each proposal after the seeds is chosen from many: the optimizer's operator
//! draws a pool of `width` new candidates, the screen rates each, and the best one is then
//! improved by a greedy climb in the screen (single-decision changes, up to `width` more
//! screened candidates) before it is proposed for the real evaluation.

use crate::attempt::Attempt;
use crate::optimizer::{Optimizer, OptimizerError};
use crate::space::{Candidate, Decision, Space};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// Rates a mapper text cheaply (work per second, higher is better; e.g. one simulated run in
/// this process), or `None` if it fails there.
pub type ScreenFn = Arc<dyn Fn(&str) -> Option<f64> + Send + Sync>;

/// The pre-screen of a search: many candidates rated cheaply, the best evaluated for real.
#[derive(Clone)]
pub struct Screen {
    /// The cheap rating.
    pub rate: ScreenFn,
    /// Candidates drawn and screened per proposal (the greedy climb screens up to as many
    /// more).
    pub width: usize,
}

impl std::fmt::Debug for Screen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Screen")
            .field("width", &self.width)
            .finish()
    }
}

/// Which built-in optimizer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SearchKind {
    /// Uniform random samples.
    Random,
    /// One decision at a time from the best so far.
    Coordinate,
    /// UCB bandit over random, coordinate and mutation operators.
    Ensemble,
}

impl SearchKind {
    /// Every built-in optimizer.
    pub const ALL: [SearchKind; 3] = [
        SearchKind::Random,
        SearchKind::Coordinate,
        SearchKind::Ensemble,
    ];

    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            SearchKind::Random => "random",
            SearchKind::Coordinate => "coordinate",
            SearchKind::Ensemble => "ensemble",
        }
    }
}

/// The bandit's arms.
const ARMS: [&str; 5] = ["random", "coordinate", "mutate1", "mutate2", "crossover"];

/// A built-in optimizer over a [`Space`].
pub struct SpaceSearch {
    kind: SearchKind,
    space: Arc<Space>,
    rng: fastrand::Rng,
    /// Evaluated candidates and scores (0 for failures), in order.
    evaluated: Vec<(Candidate, f64)>,
    seen: HashSet<Candidate>,
    /// The last proposal and the arm that made it, awaiting its score.
    pending: Option<(Candidate, usize)>,
    /// Coordinate descent: the current point and its untried single-decision neighbours.
    current: Option<(Candidate, f64)>,
    neighbours: Vec<(Decision, usize)>,
    /// Bandit statistics per arm: (pulls, total reward).
    arms: [(u32, f64); ARMS.len()],
    /// Which arms made each proposal, for reports.
    log: Vec<String>,
    /// The pre-screen, if any.
    screen: Option<Screen>,
    /// Screened candidates and their screen rates (`None`: failed in the screen).
    screened: HashMap<Candidate, Option<f64>>,
}

impl SpaceSearch {
    /// A search of `kind` over `space` with `seed`.
    pub fn new(kind: SearchKind, space: Arc<Space>, seed: u64) -> SpaceSearch {
        SpaceSearch {
            kind,
            space,
            rng: fastrand::Rng::with_seed(seed),
            evaluated: Vec::new(),
            seen: HashSet::new(),
            pending: None,
            current: None,
            neighbours: Vec::new(),
            arms: [(0, 0.0); ARMS.len()],
            log: Vec::new(),
            screen: None,
            screened: HashMap::new(),
        }
    }

    /// The same search choosing each proposal after the seeds through `screen` (a `width` of
    /// 0 turns the screen off).
    pub fn with_screen(mut self, screen: Screen) -> SpaceSearch {
        self.screen = (screen.width > 0).then_some(screen);
        self
    }

    /// Candidates rated by the screen so far.
    pub fn screened_count(&self) -> usize {
        self.screened.len()
    }

    /// The operator that made each proposal so far (`start`, `random`, `coordinate`, ...).
    pub fn operators(&self) -> &[String] {
        &self.log
    }

    fn best(&self) -> Option<&(Candidate, f64)> {
        let mut best: Option<&(Candidate, f64)> = None;
        for e in &self.evaluated {
            if e.1 > 0.0 && best.is_none_or(|b| e.1 > b.1) {
                best = Some(e);
            }
        }
        best
    }

    fn best_score(&self) -> f64 {
        self.best().map_or(0.0, |b| b.1)
    }

    /// Records the score of the pending proposal.
    fn absorb(&mut self, history: &[Attempt]) {
        let Some((cand, arm)) = self.pending.take() else {
            return;
        };
        let score = history.last().and_then(Attempt::valid_score).unwrap_or(0.0);
        let before = self.best_score();
        if arm < ARMS.len() {
            let reward = if score > before { 1.0 } else { 0.0 };
            self.arms[arm].0 += 1;
            self.arms[arm].1 += reward;
        }
        self.evaluated.push((cand.clone(), score));
        // Coordinate descent moves to any improvement and starts over from there.
        let improve = match &self.current {
            None => score > 0.0,
            Some((_, s)) => score > *s,
        };
        if improve {
            self.current = Some((cand, score));
            self.neighbours.clear();
        }
    }

    /// The next untried single-decision change of the current point.
    fn coordinate_step(&mut self) -> Option<Candidate> {
        let base = match &self.current {
            Some((c, _)) => c.clone(),
            None => self.space.start(),
        };
        loop {
            if self.neighbours.is_empty() {
                let mut all = Vec::new();
                for d in self.space.decisions() {
                    let cur = self.space.get(&base, d);
                    for v in 0..self.space.options(&base, d) {
                        if v != cur {
                            all.push((d, v));
                        }
                    }
                }
                self.rng.shuffle(&mut all);
                // Placement and memory changes first: they move the most data.
                all.sort_by_key(|(d, _)| match d {
                    Decision::Place(_) | Decision::Kind(_) => 0,
                    Decision::Mem(..) => 1,
                    Decision::Layout(..) | Decision::Collect(..) => 2,
                    Decision::Limit(_) => 3,
                });
                all.reverse();
                if all.is_empty() {
                    return None;
                }
                self.neighbours = all;
            }
            let (d, v) = self.neighbours.pop()?;
            let mut c = base.clone();
            self.space.set(&mut c, d, v);
            if !self.seen.contains(&c) {
                return Some(c);
            }
            if self.neighbours.is_empty() {
                return None;
            }
        }
    }

    fn mutate(&mut self, from: &Candidate, changes: usize) -> Candidate {
        let ds = self.space.decisions();
        let mut c = from.clone();
        if ds.is_empty() {
            return c;
        }
        for _ in 0..changes {
            let d = ds[self.rng.usize(..ds.len())];
            let n = self.space.options(&c, d);
            if n > 1 {
                let cur = self.space.get(&c, d);
                let v = (cur + 1 + self.rng.usize(..n - 1)) % n;
                self.space.set(&mut c, d, v);
            }
        }
        c
    }

    fn crossover(&mut self) -> Candidate {
        let mut good: Vec<&(Candidate, f64)> =
            self.evaluated.iter().filter(|e| e.1 > 0.0).collect();
        good.sort_by(|a, b| b.1.total_cmp(&a.1));
        let (a, b) = match (good.first(), good.get(1)) {
            (Some(a), Some(b)) => (a.0.clone(), b.0.clone()),
            (Some(a), None) => (a.0.clone(), self.space.start()),
            _ => (self.space.start(), self.space.zero()),
        };
        // Uniform crossover per task (a task keeps its kind, data and placement together).
        let mut c = a.clone();
        for t in 0..c.kind.len() {
            if self.rng.bool() {
                c.kind[t] = b.kind[t];
                c.mem[t] = b.mem[t].clone();
                c.layout[t] = b.layout[t].clone();
                c.place[t] = b.place[t];
                c.limit[t] = b.limit[t];
                c.collect[t] = b.collect[t].clone();
            }
        }
        c
    }

    fn propose_with_arm(&mut self, arm: usize) -> Option<Candidate> {
        let best = self.best().map(|b| b.0.clone());
        match ARMS.get(arm).copied() {
            Some("random") => Some(self.space.random(&mut self.rng)),
            Some("coordinate") => self.coordinate_step(),
            Some("mutate1") => Some(self.mutate(&best.unwrap_or_else(|| self.space.start()), 1)),
            Some("mutate2") => Some(self.mutate(&best.unwrap_or_else(|| self.space.start()), 2)),
            _ => Some(self.crossover()),
        }
    }

    /// UCB1 over the arms; untried arms first, in a seeded order.
    fn pick_arm(&mut self) -> usize {
        let untried: Vec<usize> = (0..ARMS.len()).filter(|a| self.arms[*a].0 == 0).collect();
        if !untried.is_empty() {
            return untried[self.rng.usize(..untried.len())];
        }
        let total: f64 = self.arms.iter().map(|a| f64::from(a.0)).sum();
        let mut best = (0, f64::NEG_INFINITY);
        for (i, (n, r)) in self.arms.iter().enumerate() {
            let n = f64::from(*n);
            let ucb = r / n + (2.0 * total.ln() / n).sqrt();
            if ucb > best.1 {
                best = (i, ucb);
            }
        }
        best.0
    }

    /// One candidate from the optimizer's operator (the ensemble's arm: `arm`, or the bandit's
    /// pick), with the arm that made it.
    fn draw(&mut self, arm: Option<usize>) -> (Option<Candidate>, usize) {
        match self.kind {
            SearchKind::Random => (Some(self.space.random(&mut self.rng)), 0),
            SearchKind::Coordinate => (self.coordinate_step(), 1),
            SearchKind::Ensemble => {
                let arm = arm.unwrap_or_else(|| self.pick_arm());
                (self.propose_with_arm(arm), arm)
            }
        }
    }

    /// The screen's rate of `c` (cached).
    fn screen_rate(&mut self, screen: &Screen, c: &Candidate) -> Option<f64> {
        if let Some(r) = self.screened.get(c) {
            return *r;
        }
        let r = (screen.rate)(&self.space.render(c)).filter(|r| r.is_finite() && *r > 0.0);
        self.screened.insert(c.clone(), r);
        r
    }

    /// The next proposal through the screen: a pool of `width` unseen candidates from the
    /// operator (the ensemble deals its arms in turn, starting at the bandit's pick), the best
    /// by the screen, then a greedy climb from it over single-decision changes while the screen
    /// rates a change strictly higher. Falls back to the first drawn if none ran in the screen.
    fn screened_next(&mut self, screen: &Screen) -> Option<(Candidate, usize, String)> {
        let mut pool: Vec<(Candidate, usize, String)> = Vec::new();
        let first_arm = (self.kind == SearchKind::Ensemble).then(|| self.pick_arm());
        let mut tries = 0;
        while pool.len() < screen.width && tries < screen.width.saturating_mul(8).max(8) {
            let arm = first_arm.map(|a| (a + tries) % ARMS.len());
            tries += 1;
            let (c, arm) = self.draw(arm);
            let c = match c {
                Some(c) => (c, arm, ARMS[arm].to_string()),
                None if self.kind == SearchKind::Coordinate => {
                    (self.space.random(&mut self.rng), 0, "restart".into())
                }
                None => continue,
            };
            if !self.seen.contains(&c.0) && !pool.iter().any(|p| p.0 == c.0) {
                pool.push(c);
            }
        }
        let mut best: Option<(usize, f64)> = None;
        let drawn: Vec<Candidate> = pool.iter().map(|p| p.0.clone()).collect();
        for (i, c) in drawn.iter().enumerate() {
            if let Some(r) = self.screen_rate(screen, c) {
                if best.is_none_or(|b| r > b.1) {
                    best = Some((i, r));
                }
            }
        }
        let Some((bi, mut rate)) = best else {
            return pool.into_iter().next();
        };
        let (mut cur, arm, op) = pool.swap_remove(bi);
        // Greedy climb in the screen.
        let mut budget = screen.width;
        let mut climbed = false;
        'climb: while budget > 0 {
            let mut moves = Vec::new();
            for d in self.space.decisions() {
                let now = self.space.get(&cur, d);
                for v in 0..self.space.options(&cur, d) {
                    if v != now {
                        moves.push((d, v));
                    }
                }
            }
            self.rng.shuffle(&mut moves);
            for (d, v) in moves {
                let mut c = cur.clone();
                self.space.set(&mut c, d, v);
                if self.seen.contains(&c) {
                    continue;
                }
                let cached = self.screened.contains_key(&c);
                let r = self.screen_rate(screen, &c);
                if !cached {
                    budget -= 1;
                }
                if let Some(r) = r {
                    if r > rate {
                        cur = c;
                        rate = r;
                        climbed = true;
                        continue 'climb;
                    }
                }
                if budget == 0 {
                    break 'climb;
                }
            }
            break;
        }
        let label = if climbed {
            format!("{op}+screen+climb")
        } else {
            format!("{op}+screen")
        };
        Some((cur, arm, label))
    }

    fn next(&mut self) -> Option<(Candidate, usize, String)> {
        // Seeds: the starting mapper, then the runtime default expressed in the space.
        let seeds = [
            (self.space.start(), "start"),
            (self.space.zero(), "default"),
        ];
        for (s, label) in seeds {
            if !self.seen.contains(&s) {
                return Some((s, usize::MAX, label.into()));
            }
        }
        if let Some(screen) = self.screen.clone() {
            return self.screened_next(&screen);
        }
        for _ in 0..200 {
            let (c, arm) = self.draw(None);
            match c {
                Some(c) if !self.seen.contains(&c) => {
                    return Some((c, arm, ARMS[arm].to_string()));
                }
                // A repeat: count it as a fruitless pull so the bandit moves on.
                Some(_) if self.kind == SearchKind::Ensemble => self.arms[arm].0 += 1,
                Some(_) => {}
                None if self.kind == SearchKind::Coordinate => {
                    // Local optimum: restart from a random point.
                    let r = self.space.random(&mut self.rng);
                    if !self.seen.contains(&r) {
                        return Some((r, 0, "restart".into()));
                    }
                }
                None => {}
            }
        }
        None
    }
}

impl Optimizer for SpaceSearch {
    fn propose(&mut self, history: &[Attempt]) -> Result<String, OptimizerError> {
        self.absorb(history);
        let (c, arm, op) = self.next().ok_or_else(|| {
            OptimizerError::Exhausted(format!(
                "every candidate the {} search can reach was evaluated",
                self.kind.name()
            ))
        })?;
        self.seen.insert(c.clone());
        let text = self.space.render(&c);
        self.pending = Some((c, arm));
        self.log.push(op);
        Ok(text)
    }

    fn name(&self) -> &str {
        self.kind.name()
    }

    fn replayable(&self) -> bool {
        true
    }

    fn last_was_seed(&self) -> bool {
        self.pending.as_ref().is_some_and(|p| p.1 == usize::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optimizer::run_loop;
    use mapper_core::machine::MachineShape;

    /// A deterministic score: prefers GPU, FBMEM-only memories, cyclic placement; instance
    /// limits on `increment` fail.
    fn score(text: &str) -> Attempt {
        let mut s = 1.0;
        s += 0.1 * text.matches(" GPU FBMEM;").count() as f64;
        s += 0.5 * text.matches("tune_cyclic").count() as f64;
        s -= 0.3 * text.matches(" CPU;").count() as f64;
        if text.contains("InstanceLimit increment") {
            return Attempt::failed(text, "out of memory");
        }
        Attempt::scored(text, s, "ok")
    }

    /// The stencil's space on one node with 2 CPUs and 2 GPUs, starting from its expert with
    /// an instance limit added (built once: the launch dimensions come from a run).
    fn space() -> Arc<Space> {
        static SPACE: std::sync::OnceLock<Arc<Space>> = std::sync::OnceLock::new();
        SPACE
            .get_or_init(|| {
                let app = crate::registry::find("stencil").unwrap();
                let base = format!("{}\nInstanceLimit stencil GPU 2;\n", app.expert_mapper());
                Arc::new(Space::new(&*app, &MachineShape::new(1, 2, 2), Some(&base)))
            })
            .clone()
    }

    #[test]
    fn seeded_searches_are_reproducible_and_distinct() {
        for kind in SearchKind::ALL {
            let run = |seed| {
                let mut s = SpaceSearch::new(kind, space(), seed);
                let r = run_loop(&mut s, score, 12);
                (r, s.operators().to_vec())
            };
            let (a, ops) = run(3);
            let (b, _) = run(3);
            assert_eq!(a, b, "{kind:?}");
            assert_eq!(a.history.len(), 12);
            assert_eq!(ops[0], "start");
            assert_eq!(ops[1], "default");
            let texts: HashSet<&str> = a.history.iter().map(|x| x.mapper.as_str()).collect();
            assert_eq!(texts.len(), 12, "{kind:?} repeated a candidate");
            let (c, _) = run(4);
            assert_ne!(a.history, c.history, "{kind:?}");
        }
    }

    #[test]
    fn coordinate_descent_keeps_improvements() {
        let mut s = SpaceSearch::new(SearchKind::Coordinate, space(), 1);
        let r = run_loop(&mut s, score, 40);
        let best = r.best.unwrap().score.unwrap();
        let start = r.history[0].score.unwrap();
        assert!(best >= start + 0.5, "{start} -> {best}");
        assert!(s
            .operators()
            .iter()
            .skip(2)
            .all(|o| o == "coordinate" || o == "restart"));
    }

    #[test]
    fn screened_searches_propose_the_screens_best() {
        // The screen is the evaluator itself (as on a simulated target): every proposal after
        // the seeds is the best of a pool, climbed, so each search beats its seeds at once.
        let screen = Screen {
            rate: Arc::new(|t: &str| score(t).valid_score()),
            width: 16,
        };
        for kind in SearchKind::ALL {
            let mut plain = SpaceSearch::new(kind, space(), 2);
            let p = run_loop(&mut plain, score, 4);
            let mut s = SpaceSearch::new(kind, space(), 2).with_screen(screen.clone());
            let r = run_loop(&mut s, score, 4);
            let seeds = r.history[0]
                .score
                .unwrap()
                .max(r.history[1].score.unwrap_or(0.0));
            let best = r.best.as_ref().unwrap().score.unwrap();
            let third = r.history[2].score.unwrap();
            assert!(third > seeds, "{kind:?}: {third} <= {seeds}");
            assert!(best >= p.best.unwrap().score.unwrap(), "{kind:?}");
            assert!(s.screened_count() >= 16, "{kind:?}");
            assert!(s.operators()[2].contains("+screen"), "{:?}", s.operators());
            // Reproducible: the same seed gives the same history.
            let mut again = SpaceSearch::new(kind, space(), 2).with_screen(screen.clone());
            assert_eq!(run_loop(&mut again, score, 4), r, "{kind:?}");
        }
        // A screen where everything fails still proposes (the first drawn candidate).
        let failing = Screen {
            rate: Arc::new(|_: &str| None),
            width: 4,
        };
        let mut s = SpaceSearch::new(SearchKind::Random, space(), 2).with_screen(failing);
        let r = run_loop(&mut s, score, 5);
        assert_eq!(r.history.len(), 5);
        assert_eq!(s.operators()[2], "random");
    }

    #[test]
    fn ensemble_pulls_every_arm() {
        let mut s = SpaceSearch::new(SearchKind::Ensemble, space(), 9);
        let _ = run_loop(&mut s, score, 12);
        for (i, arm) in ARMS.iter().enumerate() {
            assert!(s.arms[i].0 > 0, "{arm} never pulled");
        }
        assert!(s
            .operators()
            .iter()
            .skip(2)
            .all(|o| ARMS.contains(&o.as_str())));
    }
}
