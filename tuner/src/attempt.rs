//! One evaluated proposal: the mapper text, its score (higher is better; `None` or `<= 0` means
//! the mapper failed) and the feedback the evaluation produced.

use serde::{Deserialize, Serialize};

/// One proposal and its evaluation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Attempt {
    /// The proposed mapper text (empty when the optimizer produced none).
    pub mapper: String,
    /// Higher is better (e.g. throughput or speed-up); `None` when it could not be measured.
    pub score: Option<f64>,
    /// What the evaluation says: diagnostics, errors, timings, explanations, suggestions.
    pub feedback: String,
}

impl Attempt {
    /// A failed attempt (no score) with its feedback.
    pub fn failed(mapper: impl Into<String>, feedback: impl Into<String>) -> Self {
        Attempt {
            mapper: mapper.into(),
            score: None,
            feedback: feedback.into(),
        }
    }

    /// A measured attempt.
    pub fn scored(mapper: impl Into<String>, score: f64, feedback: impl Into<String>) -> Self {
        Attempt {
            mapper: mapper.into(),
            score: Some(score),
            feedback: feedback.into(),
        }
    }

    /// True if the attempt has a finite positive score.
    pub fn is_valid(&self) -> bool {
        self.valid_score().is_some()
    }

    /// The score if it is finite and positive.
    pub fn valid_score(&self) -> Option<f64> {
        self.score.filter(|s| s.is_finite() && *s > 0.0)
    }
}

/// The valid attempt with the highest score (the earliest among equals).
pub fn best_attempt(history: &[Attempt]) -> Option<&Attempt> {
    let mut best: Option<(&Attempt, f64)> = None;
    for a in history {
        if let Some(s) = a.valid_score() {
            if best.is_none_or(|(_, b)| s > b) {
                best = Some((a, s));
            }
        }
    }
    best.map(|(a, _)| a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn best() {
        let h = vec![
            Attempt::scored("a", 1.0, ""),
            Attempt::failed("b", "bad"),
            Attempt::scored("c", 3.0, ""),
            Attempt::scored("d", 3.0, ""),
            Attempt::scored("e", f64::NAN, ""),
            Attempt::scored("f", 0.0, ""),
        ];
        assert_eq!(best_attempt(&h).map(|a| a.mapper.as_str()), Some("c"));
        assert!(best_attempt(&h[1..2]).is_none());
        assert!(!h[4].is_valid() && !h[5].is_valid() && h[0].is_valid());
    }
}
