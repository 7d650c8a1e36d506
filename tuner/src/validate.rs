//! The tuner's view of mapper-core's front end: the diagnostics a mapper text gets (the same
//! messages the `mapper!` macro would print), a validity test and the canonical text form.
//!
//! Without an application this runs the parser only (syntax, kinds, statement forms); the
//! application-aware checks (task and region names) run when a mapper is evaluated.

use mapper_core::diag::render_all;
use mapper_core::parse::{parse_text, ParseOutput};
use mapper_core::print::print;
use mapper_core::Diagnostic;

/// File name used when rendering diagnostics of a candidate mapper.
pub const CANDIDATE_FILE: &str = "candidate.mapper";

/// The result of checking one mapper text.
#[derive(Debug)]
pub struct Checked {
    /// Parser output (the recovered program and its diagnostics).
    pub parsed: ParseOutput,
}

impl Checked {
    /// All diagnostics, errors and warnings.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        &self.parsed.diagnostics
    }

    /// Number of errors.
    pub fn error_count(&self) -> usize {
        self.parsed
            .diagnostics
            .iter()
            .filter(|d| d.is_error())
            .count()
    }

    /// Number of top-level statements recovered.
    pub fn statement_count(&self) -> usize {
        self.parsed.program.stmts.len()
    }

    /// True if the text has at least one statement and no errors.
    pub fn is_valid(&self) -> bool {
        self.error_count() == 0 && self.statement_count() > 0
    }
}

/// Parses (and checks) a mapper text.
pub fn check_text(text: &str) -> Checked {
    Checked {
        parsed: parse_text(text),
    }
}

/// The diagnostics of `text`, rendered in rustc style (empty when there are none).
pub fn render_diagnostics(text: &str) -> String {
    let c = check_text(text);
    if c.diagnostics().is_empty() {
        String::new()
    } else {
        render_all(c.diagnostics(), CANDIDATE_FILE, text)
    }
}

/// The canonical text of a valid mapper, or its rendered diagnostics.
pub fn canonicalize(text: &str) -> Result<String, String> {
    let c = check_text(text);
    if c.error_count() > 0 {
        return Err(render_all(c.diagnostics(), CANDIDATE_FILE, text));
    }
    if c.statement_count() == 0 {
        return Err("error: the mapper has no statements".to_string());
    }
    Ok(print(&c.parsed.program))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_and_canonical() {
        let c = check_text("Task  *   GPU , CPU ;\n# comment\nRegion * * GPU FBMEM;");
        assert!(c.is_valid());
        assert_eq!(c.statement_count(), 2);
        assert_eq!(
            canonicalize("Task  *   GPU , CPU ;\nRegion * * GPU FBMEM;").unwrap(),
            "Task * GPU,CPU;\nRegion * * GPU FBMEM;\n"
        );
    }

    #[test]
    fn invalid() {
        assert!(!check_text("").is_valid());
        assert_eq!(
            canonicalize("  ").unwrap_err(),
            "error: the mapper has no statements"
        );
        let c = check_text("Task * GPX;");
        assert!(!c.is_valid());
        let r = render_diagnostics("Task * GPX;");
        assert!(r.contains("candidate.mapper:1:"), "{r}");
        assert!(r.contains("GPU"), "{r}");
    }

    #[test]
    fn dsl_summary_example_parses() {
        let doc = include_str!("dsl_summary.md");
        let start = doc.find("```\n").unwrap() + 4;
        let end = start + doc[start..].find("```").unwrap();
        let c = check_text(&doc[start..end]);
        assert!(c.is_valid(), "{}", render_diagnostics(&doc[start..end]));
        assert_eq!(c.statement_count(), 8);
    }
}
