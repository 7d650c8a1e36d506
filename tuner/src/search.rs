//! The built-in optimizers over the structured space ([`crate::space`]): random search,
//! constrained coordinate descent (AutoMap-style) and an OpenTuner-style bandit ensemble.
//!
//! All three implement [`Optimizer`]: each proposal is a rendered candidate; the score of a
//! proposal is read back from the last attempt of the history at the next call. All randomness
//! comes from one seeded generator, so the same seed and a deterministic evaluator give the same
//! history. Every optimizer first evaluates two seeds, the starting point (the expert projected
//! into the space) and the runtime default expressed in the space, then never repeats a candidate.

use crate::attempt::Attempt;
use crate::optimizer::{Optimizer, OptimizerError};
use crate::space::{Candidate, Decision, Space};
use std::collections::HashSet;
use std::sync::Arc;

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
        }
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
        for _ in 0..200 {
            let (c, arm) = match self.kind {
                SearchKind::Random => (Some(self.space.random(&mut self.rng)), 0),
                SearchKind::Coordinate => (self.coordinate_step(), 1),
                SearchKind::Ensemble => {
                    let arm = self.pick_arm();
                    (self.propose_with_arm(arm), arm)
                }
            };
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
    use crate::toy::{Demo, DEMO_EXPERT};
    use mapper_core::machine::MachineShape;

    /// A deterministic score: prefers GPU, FBMEM-only memories, cyclic placement.
    fn score(text: &str) -> Attempt {
        let mut s = 1.0;
        s += 0.1 * text.matches(" GPU FBMEM;").count() as f64;
        s += 0.5 * text.matches("tune_cyclic").count() as f64;
        s -= 0.3 * text.matches(" CPU;").count() as f64;
        if text.contains("InstanceLimit copy") {
            return Attempt::failed(text, "out of memory");
        }
        Attempt::scored(text, s, "ok")
    }

    fn space() -> Arc<Space> {
        Arc::new(Space::new(
            &Demo,
            &MachineShape::new(1, 2, 2),
            Some(&format!("{DEMO_EXPERT}InstanceLimit stencil GPU 2;\n")),
        ))
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
