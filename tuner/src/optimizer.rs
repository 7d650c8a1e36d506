//! The optimizer interface and the LLM optimizer, plus a small driver loop.
//!
//! An [`Optimizer`] proposes a mapper text from the history of evaluated attempts. The
//! [`LlmOptimizer`] builds an OptoPrime- or OPRO-style prompt, asks a [`ChatBackend`] and extracts
//! the mapper from the reply. [`run_loop`] alternates proposing and evaluating; any failure of the
//! optimizer (network, unusable reply) becomes an attempt with feedback, never a crash.

use crate::attempt::{best_attempt, Attempt};
use crate::extract::{extract_mapper, Extracted};
use crate::llm::{ChatBackend, LlmError, Message};
use crate::prompt::PromptBuilder;
use std::fmt;

/// Why an optimizer produced no proposal.
#[derive(Debug, thiserror::Error)]
pub enum OptimizerError {
    /// The LLM request failed.
    #[error("{0}")]
    Llm(#[from] LlmError),
    /// The LLM replied, but no mapper could be found in the reply.
    #[error("{0}")]
    Extract(#[from] crate::extract::ExtractError),
    /// The optimizer has nothing more to propose.
    #[error("the optimizer has no more proposals: {0}")]
    Exhausted(String),
}

/// Something that proposes mappers.
pub trait Optimizer {
    /// The next mapper text to evaluate, given every attempt so far (oldest first).
    fn propose(&mut self, history: &[Attempt]) -> Result<String, OptimizerError>;
    /// A short name for reports (`llm-optoprime`, `random`, ...).
    fn name(&self) -> &str;
    /// True if the last proposal was a seed (the expert or the default) rather than the
    /// optimizer's own.
    fn last_was_seed(&self) -> bool {
        false
    }
    /// True if, given the same history, it proposes the same mappers again (a seeded search):
    /// a resumed run then re-proposes the recorded iterations to regain its state.
    fn replayable(&self) -> bool {
        false
    }
}

/// An optimizer whose first proposals are fixed seed texts (one per attempt already in the
/// history, so a resumed run does not propose them again); then the inner optimizer's. Gives
/// the LLM optimizer the same seeds (the expert and the default) as the built-in searches.
pub struct Seeded {
    inner: Box<dyn Optimizer>,
    seeds: Vec<String>,
    last_seed: bool,
}

impl Seeded {
    /// `inner`, proposing `seeds` first.
    pub fn new(inner: Box<dyn Optimizer>, seeds: Vec<String>) -> Seeded {
        Seeded {
            inner,
            seeds,
            last_seed: false,
        }
    }
}

impl Optimizer for Seeded {
    fn propose(&mut self, history: &[Attempt]) -> Result<String, OptimizerError> {
        if let Some(s) = self.seeds.get(history.len()) {
            self.last_seed = true;
            return Ok(s.clone());
        }
        self.last_seed = false;
        self.inner.propose(history)
    }

    fn name(&self) -> &str {
        self.inner.name()
    }

    fn last_was_seed(&self) -> bool {
        self.last_seed
    }
}

/// Which prompt style the LLM optimizer uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PromptMode {
    /// Instruction, documentation, variable, constraints, feedback and memory.
    OptoPrime,
    /// Past mappers with scores in ascending order.
    Opro,
}

impl fmt::Display for PromptMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PromptMode::OptoPrime => "optoprime",
            PromptMode::Opro => "opro",
        })
    }
}

/// The LLM optimizer.
pub struct LlmOptimizer<B: ChatBackend> {
    backend: B,
    prompts: PromptBuilder,
    mode: PromptMode,
    initial: String,
    name: String,
    last_extraction: Option<Extracted>,
}

impl<B: ChatBackend> LlmOptimizer<B> {
    /// An optimizer starting from `initial` (e.g. the app's expert or default mapper).
    pub fn new(
        backend: B,
        prompts: PromptBuilder,
        mode: PromptMode,
        initial: impl Into<String>,
    ) -> Self {
        let name = format!("llm-{mode}");
        LlmOptimizer {
            backend,
            prompts,
            mode,
            initial: initial.into(),
            name,
            last_extraction: None,
        }
    }

    /// The messages the next proposal would send.
    pub fn messages(&self, history: &[Attempt]) -> Vec<Message> {
        match self.mode {
            PromptMode::OptoPrime => {
                // The variable is the latest proposal; the starting mapper until there is one.
                let has_proposal = history.iter().any(|a| !a.mapper.trim().is_empty());
                let current = if has_proposal {
                    None
                } else {
                    Some(self.initial.as_str())
                };
                self.prompts.optoprime(current, history)
            }
            PromptMode::Opro => self.prompts.opro(history),
        }
    }

    /// How the last reply was parsed (strategy, errors, reasoning).
    pub fn last_extraction(&self) -> Option<&Extracted> {
        self.last_extraction.as_ref()
    }

    /// The chat backend.
    pub fn backend(&self) -> &B {
        &self.backend
    }
}

impl<B: ChatBackend> Optimizer for LlmOptimizer<B> {
    fn propose(&mut self, history: &[Attempt]) -> Result<String, OptimizerError> {
        let messages = self.messages(history);
        self.last_extraction = None;
        let reply = self.backend.chat(&messages)?;
        let e = extract_mapper(&reply)?;
        let text = e.text.clone();
        self.last_extraction = Some(e);
        Ok(text)
    }

    fn name(&self) -> &str {
        &self.name
    }
}

/// The outcome of [`run_loop`].
#[derive(Clone, Debug, PartialEq)]
pub struct LoopResult {
    /// The valid attempt (score > 0) with the highest score, if any.
    pub best: Option<Attempt>,
    /// Every attempt, in order.
    pub history: Vec<Attempt>,
}

/// Runs `iterations` rounds of propose-then-evaluate from an empty history.
pub fn run_loop<O, E>(optimizer: &mut O, evaluate: E, iterations: usize) -> LoopResult
where
    O: Optimizer + ?Sized,
    E: FnMut(&str) -> Attempt,
{
    continue_loop(optimizer, evaluate, iterations, Vec::new())
}

/// Like [`run_loop`], continuing from an existing history (e.g. the evaluated starting mapper).
pub fn continue_loop<O, E>(
    optimizer: &mut O,
    mut evaluate: E,
    iterations: usize,
    mut history: Vec<Attempt>,
) -> LoopResult
where
    O: Optimizer + ?Sized,
    E: FnMut(&str) -> Attempt,
{
    for _ in 0..iterations {
        let attempt = match optimizer.propose(&history) {
            Ok(text) => evaluate(&text),
            Err(OptimizerError::Exhausted(_)) => break,
            Err(e) => Attempt::failed(
                "",
                format!("The {} optimizer produced no mapper: {e}", optimizer.name()),
            ),
        };
        history.push(attempt);
    }
    LoopResult {
        best: best_attempt(&history).cloned(),
        history,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prompt::AppDescription;
    use std::cell::RefCell;

    /// Replies from a script; records the prompts it was sent.
    struct Scripted {
        replies: RefCell<Vec<Result<String, String>>>,
        seen: RefCell<Vec<Vec<Message>>>,
    }

    impl ChatBackend for Scripted {
        fn chat(&self, messages: &[Message]) -> Result<String, LlmError> {
            self.seen.borrow_mut().push(messages.to_vec());
            let next = if self.replies.borrow().is_empty() {
                Err("script ended".into())
            } else {
                self.replies.borrow_mut().remove(0)
            };
            next.map_err(|m| LlmError::Network {
                url: "fake".into(),
                message: m,
                attempts: 1,
            })
        }
        fn model(&self) -> &str {
            "scripted"
        }
    }

    fn eval(text: &str) -> Attempt {
        if crate::validate::check_text(text).is_valid() {
            Attempt::scored(text, text.len() as f64, "ran fine")
        } else {
            Attempt::failed(text, crate::validate::render_diagnostics(text))
        }
    }

    #[test]
    fn loop_survives_failures() {
        let backend = Scripted {
            replies: RefCell::new(vec![
                Ok(r#"{"reasoning": "r", "mapper": "Task * GPU;"}"#.into()),
                Err("connection refused".into()),
                Ok("no idea".into()),
                Ok(r#"{"mapper": "Task * GPX;"}"#.into()),
                Ok("```\nTask * GPU;\nRegion * * GPU FBMEM;\n```".into()),
            ]),
            seen: RefCell::new(Vec::new()),
        };
        let mut opt = LlmOptimizer::new(
            backend,
            PromptBuilder::new(AppDescription::default()),
            PromptMode::OptoPrime,
            "Task * CPU;",
        );
        assert_eq!(opt.name(), "llm-optoprime");
        let r = run_loop(&mut opt, eval, 6);
        assert_eq!(r.history.len(), 6);
        assert_eq!(
            r.best.as_ref().map(|a| a.mapper.as_str()),
            Some("Task * GPU;\nRegion * * GPU FBMEM;\n")
        );
        assert_eq!(
            r.history[1].feedback,
            "The llm-optoprime optimizer produced no mapper: cannot reach LLM server fake after 1 attempt(s): connection refused; check OPENAI_BASE_URL"
        );
        assert!(r.history[2]
            .feedback
            .contains("no mapper found in the reply"));
        assert!(r.history[3].score.is_none() && r.history[3].feedback.contains("GPX"));
        let seen = opt.backend().seen.borrow();
        assert!(seen[0][1]
            .content
            .contains("(mapper) mapper:\n```\nTask * CPU;\n```"));
        assert!(seen[1][1]
            .content
            .contains("(mapper) mapper:\n```\nTask * GPU;\n```"));
        // After a failure without a mapper, the variable stays the last real proposal.
        assert!(seen[2][1]
            .content
            .contains("(mapper) mapper:\n```\nTask * GPU;\n```"));
        assert!(seen[2][1].content.contains("produced no mapper"));
    }

    struct Exhausting(usize);

    impl Optimizer for Exhausting {
        fn propose(&mut self, _: &[Attempt]) -> Result<String, OptimizerError> {
            if self.0 == 0 {
                return Err(OptimizerError::Exhausted("done".into()));
            }
            self.0 -= 1;
            Ok("Task * CPU;".into())
        }
        fn name(&self) -> &str {
            "exhausting"
        }
    }

    #[test]
    fn loop_stops_when_exhausted() {
        let r = continue_loop(
            &mut Exhausting(2),
            eval,
            10,
            vec![Attempt::failed("x", "y")],
        );
        assert_eq!(r.history.len(), 3);
        assert_eq!(r.best.map(|a| a.score), Some(Some(11.0)));
        let r = run_loop(&mut Exhausting(0), eval, 10);
        assert_eq!(
            r,
            LoopResult {
                best: None,
                history: vec![]
            }
        );
    }
}
