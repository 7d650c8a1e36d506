//! Tolerant extraction of a mapper from an LLM reply.
//!
//! Candidates are gathered by several strategies: the reply as a JSON object with a field such as
//! `mapper`/`code`/`answer` (strict or slightly malformed JSON, bare or inside a code fence, or
//! embedded in prose), fenced code blocks, the reply as plain DSL, and, failing those, the lines of
//! prose that look like DSL statements. Each candidate is parsed with mapper-core; the one with the
//! fewest errors wins (ties go to the more explicit strategy). A candidate may still have errors:
//! the evaluation turns them into feedback. A reply with no candidate at all is an error.

use crate::lenient_json;
use crate::llm::preview;
use crate::validate::check_text;
use serde_json::Value;

/// JSON field names that may hold the mapper, most likely first.
const MAPPER_FIELDS: &[&str] = &[
    "mapper",
    "code",
    "answer",
    "solution",
    "program",
    "dsl",
    "new_mapper",
    "improved_mapper",
    "text",
    "value",
];

/// JSON field names that may hold the model's explanation.
const REASONING_FIELDS: &[&str] = &[
    "reasoning",
    "explanation",
    "analysis",
    "thoughts",
    "rationale",
];

/// Statement keywords that start a DSL line (the language's own list).
use mapper_core::parse::STATEMENT_KEYWORDS as STMT_KEYWORDS;

/// How a candidate was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// A field of a JSON object that is the whole reply.
    Json,
    /// A field of a JSON object inside a code fence.
    FencedJson,
    /// A field of a JSON object embedded in prose.
    EmbeddedJson,
    /// The content of a fenced code block.
    Fenced,
    /// The whole reply is DSL.
    Raw,
    /// DSL-looking lines picked out of prose.
    Prose,
}

impl Strategy {
    /// Preference among candidates with equally many errors (lower is preferred).
    fn rank(self) -> u8 {
        match self {
            Strategy::Json => 0,
            Strategy::FencedJson => 1,
            Strategy::EmbeddedJson => 2,
            Strategy::Fenced => 3,
            Strategy::Raw => 4,
            Strategy::Prose => 5,
        }
    }

    /// Short name for logs and feedback.
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::Json => "json",
            Strategy::FencedJson => "fenced_json",
            Strategy::EmbeddedJson => "embedded_json",
            Strategy::Fenced => "fenced",
            Strategy::Raw => "raw",
            Strategy::Prose => "prose",
        }
    }
}

/// The mapper found in a reply.
#[derive(Clone, Debug, PartialEq)]
pub struct Extracted {
    /// The candidate mapper text (not canonicalized).
    pub text: String,
    /// Which strategy found it.
    pub strategy: Strategy,
    /// Parser errors in the candidate (0 for a syntactically valid mapper).
    pub errors: usize,
    /// The model's explanation, when the reply was JSON with a reasoning field.
    pub reasoning: Option<String>,
}

/// Why no mapper could be found.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ExtractError {
    /// The reply was empty.
    #[error("the reply is empty; expected a JSON object {{\"reasoning\": ..., \"mapper\": ...}}")]
    Empty,
    /// Nothing in the reply looks like a mapper.
    #[error(
        "no mapper found in the reply (no JSON `mapper` field, no code block, no DSL statements); \
         reply with a JSON object {{\"reasoning\": ..., \"mapper\": ...}}. The reply began: {preview}"
    )]
    NoMapper {
        /// The start of the reply.
        preview: String,
    },
}

/// Extracts the best mapper candidate from an LLM reply.
pub fn extract_mapper(reply: &str) -> Result<Extracted, ExtractError> {
    let trimmed = reply.trim();
    if trimmed.is_empty() {
        return Err(ExtractError::Empty);
    }
    let mut cands: Vec<(String, Strategy, Option<String>)> = Vec::new();

    // 1. The whole reply as JSON.
    if let Some((m, r)) = json_mapper(trimmed) {
        cands.push((m, Strategy::Json, r));
    }
    // 2. Fenced blocks: JSON inside a fence, or DSL.
    let blocks = fenced_blocks(reply);
    for b in &blocks {
        let looks_json =
            b.info.eq_ignore_ascii_case("json") || b.body.trim_start().starts_with('{');
        if looks_json {
            if let Some((m, r)) = json_mapper(b.body.trim()) {
                cands.push((m, Strategy::FencedJson, r));
                continue;
            }
        }
        if !b.body.trim().is_empty() {
            cands.push((b.body.clone(), Strategy::Fenced, None));
        }
    }
    // 3. A JSON object embedded in prose: from a `{` to the last `}`.
    if cands
        .iter()
        .all(|c| c.1 != Strategy::Json && c.1 != Strategy::FencedJson)
    {
        if let (Some(lo), Some(hi)) = (trimmed.find('{'), trimmed.rfind('}')) {
            if lo < hi && lo > 0 {
                if let Some((m, r)) = json_mapper(&trimmed[lo..=hi]) {
                    cands.push((m, Strategy::EmbeddedJson, r));
                }
            }
        }
    }
    // 4. The whole reply as DSL (only counted when it has no errors).
    let raw = check_text(trimmed);
    if raw.is_valid() {
        cands.push((trimmed.to_string(), Strategy::Raw, None));
    }
    // 5. DSL lines out of prose (only when nothing explicit was found).
    if cands.is_empty() {
        let lines = prose_dsl(reply);
        if !lines.trim().is_empty() {
            cands.push((lines, Strategy::Prose, None));
        }
    }

    let mut best: Option<Extracted> = None;
    for (text, strategy, reasoning) in cands {
        let text = normalize(&text);
        let c = check_text(&text);
        if c.statement_count() == 0 && c.error_count() == 0 {
            continue; // empty program
        }
        let e = Extracted {
            errors: c.error_count(),
            text,
            strategy,
            reasoning,
        };
        let better = match &best {
            None => true,
            Some(b) => (e.errors, e.strategy.rank()) < (b.errors, b.strategy.rank()),
        };
        if better {
            best = Some(e);
        }
    }
    best.ok_or_else(|| ExtractError::NoMapper {
        preview: preview(trimmed, 200),
    })
}

/// Cleans a candidate: strips a fence inside a JSON string, undoes double escaping, trims.
fn normalize(text: &str) -> String {
    let mut t = text.to_string();
    let blocks = fenced_blocks(&t);
    if let Some(b) = blocks.first() {
        t = b.body.clone();
    }
    if !t.contains('\n') && t.contains("\\n") {
        t = t
            .replace("\\n", "\n")
            .replace("\\t", "\t")
            .replace("\\\"", "\"");
    }
    let mut out = t
        .trim_matches(|c: char| c == '\n' || c == '\r')
        .trim_end()
        .to_string();
    out.push('\n');
    // Leading indentation common to all lines is noise; drop it.
    dedent(&out)
}

/// Removes the indentation common to all non-empty lines.
fn dedent(text: &str) -> String {
    let indent = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    let mut out = String::new();
    for l in text.lines() {
        out.push_str(l.get(indent..).unwrap_or_else(|| l.trim_start()));
        out.push('\n');
    }
    out
}

/// The mapper (and reasoning) from a JSON or JSON-like object, if it has a mapper field.
fn json_mapper(src: &str) -> Option<(String, Option<String>)> {
    if !src.starts_with('{') {
        return None;
    }
    let v = lenient_json::parse(src).ok()?;
    let m = find_field(&v, MAPPER_FIELDS, 0)?;
    let r = find_field(&v, REASONING_FIELDS, 0);
    Some((m, r))
}

/// The first string (or list of strings, joined by newlines) under one of `names`, searching
/// nested objects breadth-first down to a small depth.
fn find_field(v: &Value, names: &[&str], depth: usize) -> Option<String> {
    let obj = v.as_object()?;
    for name in names {
        for (k, val) in obj {
            if k.eq_ignore_ascii_case(name) {
                match val {
                    Value::String(s) if !s.trim().is_empty() => return Some(s.clone()),
                    Value::Array(items)
                        if !items.is_empty() && items.iter().all(Value::is_string) =>
                    {
                        let lines: Vec<&str> = items.iter().filter_map(Value::as_str).collect();
                        return Some(lines.join("\n"));
                    }
                    _ => {}
                }
            }
        }
    }
    if depth < 3 {
        for val in obj.values() {
            if let Some(s) = find_field(val, names, depth + 1) {
                return Some(s);
            }
        }
    }
    None
}

/// One fenced code block.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Block {
    /// The info string after the opening fence (`mapper`, `json`, ...).
    info: String,
    /// The lines between the fences.
    body: String,
}

/// All fenced blocks (```` ``` ```` or `~~~`); an unclosed last block runs to the end.
fn fenced_blocks(text: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    // (fence, block being read)
    let mut open: Option<(&str, Block)> = None;
    for line in text.lines() {
        let t = line.trim_start();
        match &mut open {
            None => {
                let fence = if t.starts_with("```") {
                    "```"
                } else if t.starts_with("~~~") {
                    "~~~"
                } else {
                    continue;
                };
                let rest = &t[3..];
                // A one-line block: ```Task * GPU;```
                if let Some(end) = rest.find(fence) {
                    let inner = rest[..end].trim();
                    if !inner.is_empty() {
                        blocks.push(Block {
                            info: String::new(),
                            body: format!("{inner}\n"),
                        });
                    }
                    continue;
                }
                let info = rest.trim_start_matches(['`', '~']).trim().to_string();
                open = Some((
                    fence,
                    Block {
                        info,
                        body: String::new(),
                    },
                ));
            }
            Some((fence, block)) => {
                if t.starts_with(*fence) && t.trim_start_matches(['`', '~']).trim().is_empty() {
                    if let Some((_, b)) = open.take() {
                        blocks.push(b);
                    }
                } else {
                    block.body.push_str(line);
                    block.body.push('\n');
                }
            }
        }
    }
    if let Some((_, b)) = open {
        blocks.push(b);
    }
    blocks
}

/// The lines of prose that look like DSL statements (and whole `def` bodies).
fn prose_dsl(text: &str) -> String {
    let mut out = String::new();
    let mut depth: i64 = 0;
    for line in text.lines() {
        let t = strip_decoration(line);
        if depth > 0 {
            out.push_str(line.trim_end());
            out.push('\n');
            depth += brace_delta(line);
            continue;
        }
        if looks_like_statement(t) {
            out.push_str(t);
            out.push('\n');
            depth = brace_delta(t).max(0);
        }
    }
    out
}

/// Removes list bullets, numbering and surrounding backticks from a prose line.
fn strip_decoration(line: &str) -> &str {
    let mut t = line.trim();
    for p in ["- ", "* ", "+ ", "> "] {
        if let Some(r) = t.strip_prefix(p) {
            t = r.trim_start();
        }
    }
    if let Some((num, rest)) = t.split_once(". ") {
        if !num.is_empty() && num.chars().all(|c| c.is_ascii_digit()) {
            t = rest.trim_start();
        }
    }
    t.trim_matches('`').trim()
}

/// True for `KEYWORD ...;`, `def NAME(...) {`, and `NAME = EXPR;`.
fn looks_like_statement(t: &str) -> bool {
    let first = t
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .next()
        .unwrap_or("");
    if first == "def" {
        return t.contains('(') && t.trim_end().ends_with('{');
    }
    if !t.ends_with(';') {
        return false;
    }
    if STMT_KEYWORDS.contains(&first) {
        // `Task placement is key;` is prose: a statement has no lowercase word before kinds...
        // be lenient but require the second word to be `*`, a name or a digit, not a sentence.
        let words: Vec<&str> = t.split_whitespace().collect();
        return words.len() >= 2 && words.len() <= 12;
    }
    // NAME = EXPR;
    if let Some((lhs, rhs)) = t.split_once('=') {
        let lhs = lhs.trim();
        return !lhs.is_empty()
            && lhs.chars().all(|c| c.is_alphanumeric() || c == '_')
            && !rhs.starts_with('=')
            && rhs.contains('(');
    }
    false
}

/// `{` count minus `}` count of a line.
fn brace_delta(line: &str) -> i64 {
    line.chars().fold(0, |d, c| match c {
        '{' => d + 1,
        '}' => d - 1,
        _ => d,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_reply() {
        let e = extract_mapper(
            r#"{"reasoning": "use GPUs", "mapper": "Task * GPU;\nRegion * * GPU FBMEM;"}"#,
        )
        .unwrap();
        assert_eq!(e.text, "Task * GPU;\nRegion * * GPU FBMEM;\n");
        assert_eq!(e.strategy, Strategy::Json);
        assert_eq!(e.errors, 0);
        assert_eq!(e.reasoning.as_deref(), Some("use GPUs"));
    }

    #[test]
    fn malformed_json_reply() {
        let e = extract_mapper("{'reasoning': 'x', 'code': 'Task * CPU;',}").unwrap();
        assert_eq!(
            (e.text.as_str(), e.strategy),
            ("Task * CPU;\n", Strategy::Json)
        );
        let e =
            extract_mapper("{\"answer\": {\"mapper\": [\"Task * GPU;\", \"Layout * * * AOS;\"]}}")
                .unwrap();
        assert_eq!(e.text, "Task * GPU;\nLayout * * * AOS;\n");
    }

    #[test]
    fn json_in_fence_and_in_prose() {
        let e =
            extract_mapper("Here:\n```json\n{\"mapper\": \"Task * GPU;\"}\n```\nDone.").unwrap();
        assert_eq!(
            (e.text.as_str(), e.strategy),
            ("Task * GPU;\n", Strategy::FencedJson)
        );
        let e = extract_mapper("Sure! {\"mapper\": \"Task * OMP;\"} Hope it helps.").unwrap();
        assert_eq!(
            (e.text.as_str(), e.strategy),
            ("Task * OMP;\n", Strategy::EmbeddedJson)
        );
    }

    #[test]
    fn fenced_blocks_pick_best() {
        let reply = "Old one:\n```\nTask * GPX;\n```\nNew one:\n```mapper\nTask * GPU;\nmgpu = Machine(GPU);\n```\n";
        let e = extract_mapper(reply).unwrap();
        assert_eq!(
            (e.text.as_str(), e.strategy, e.errors),
            ("Task * GPU;\nmgpu = Machine(GPU);\n", Strategy::Fenced, 0)
        );
        // An unclosed fence runs to the end.
        let e = extract_mapper("```\nTask * CPU;\n").unwrap();
        assert_eq!(e.text, "Task * CPU;\n");
    }

    #[test]
    fn raw_and_prose() {
        let e = extract_mapper("Task * GPU;\nRegion * * GPU FBMEM;\n").unwrap();
        assert_eq!(e.strategy, Strategy::Raw);
        let reply = "I think we should run on GPUs.\n- `Task * GPU;`\nAlso place data in framebuffer:\n\
                     Region * * GPU FBMEM;\nand map points:\ndef f(Task t) {\n    return m[0, 0];\n}\nThat is all.";
        let e = extract_mapper(reply).unwrap();
        assert_eq!(e.strategy, Strategy::Prose);
        assert_eq!(
            e.text,
            "Task * GPU;\nRegion * * GPU FBMEM;\ndef f(Task t) {\n    return m[0, 0];\n}\n"
        );
    }

    #[test]
    fn checker_errors_count_in_ranking() {
        // Both blocks parse; the first uses an undefined function, so the second wins.
        let reply = "```\nIndexTaskMap * nowhere;\n```\n```\nTask * GPU;\n```";
        let e = extract_mapper(reply).unwrap();
        assert_eq!((e.text.as_str(), e.errors), ("Task * GPU;\n", 0));
    }

    #[test]
    fn invalid_dsl_is_returned_with_errors() {
        let e = extract_mapper(r#"{"mapper": "Task * GPX;"}"#).unwrap();
        assert_eq!(e.text, "Task * GPX;\n");
        assert!(e.errors > 0);
    }

    #[test]
    fn escaped_newlines_and_dedent() {
        let e = extract_mapper(r#"{"mapper": "Task * GPU;\\nRegion * * GPU FBMEM;"}"#).unwrap();
        assert_eq!(e.text, "Task * GPU;\nRegion * * GPU FBMEM;\n");
        let e = extract_mapper("```\n    Task * GPU;\n    Task a CPU;\n```").unwrap();
        assert_eq!(e.text, "Task * GPU;\nTask a CPU;\n");
    }

    #[test]
    fn garbage() {
        assert_eq!(extract_mapper("  \n").unwrap_err(), ExtractError::Empty);
        let err = extract_mapper("I am sorry, I cannot do that.").unwrap_err();
        assert_eq!(
            err.to_string(),
            "no mapper found in the reply (no JSON `mapper` field, no code block, no DSL statements); \
             reply with a JSON object {\"reasoning\": ..., \"mapper\": ...}. The reply began: I am sorry, I cannot do that."
        );
        assert!(extract_mapper("{\"reasoning\": \"nothing\"}").is_err());
    }
}
