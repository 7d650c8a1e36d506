//! The mapper optimizer: proposes mappers (with an LLM or, later, built-in searches), learns from
//! their evaluation, and writes the winner back into the application's source.
//!
//! Pieces: [`llm`] (OpenAI-compatible chat client with retries and a JSONL log, [`jsonl`]),
//! [`prompt`] (OptoPrime- and OPRO-style prompts), [`extract`] (tolerant parsing of replies, with
//! [`lenient_json`]), [`validate`] (mapper-core's parser as the judge of candidates), [`attempt`]
//! and [`optimizer`] (the optimizer interface and loop), and [`rewrite`] (replacing the body of a
//! `mapper!` invocation in Rust source, atomically, with verification and restore); [`session`]
//! (one tuning run: baselines, seeds, the loop, outputs after every iteration, resuming) and
//! [`confirm`] (the best candidates measured again against the expert, interleaved).

#![warn(missing_docs)]

pub mod attempt;
pub mod bench;
pub mod confirm;
pub mod eval;
pub mod extract;
pub mod feedback;
pub mod jsonl;
pub mod lenient_json;
pub mod llm;
pub mod optimizer;
pub mod prompt;
pub mod registry;
pub mod report;
pub mod rewrite;
pub mod search;
pub mod session;
pub mod space;
pub mod target;
pub mod validate;

pub use attempt::{best_attempt, Attempt};
pub use extract::{extract_mapper, ExtractError, Extracted, Strategy};
pub use llm::{ChatBackend, LlmClient, LlmConfig, LlmError, Message, Role};
pub use optimizer::{
    continue_loop, run_loop, LlmOptimizer, LoopResult, Optimizer, OptimizerError, PromptMode,
};
pub use prompt::{AppDescription, ArgDescription, PromptBuilder, TaskDescription};
