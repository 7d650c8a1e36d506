//! The tuner's view of mapper-core's front end: the diagnostics a mapper text gets (the same
//! messages the `mapper!` macro would print), a validity test and the canonical text form.
//!
//! The parser runs first; if it reports no errors, the static checker follows (names, kinds,
//! signatures, types; with an [`AppInfo`] also task and region names).

use mapper_core::check::check;
use mapper_core::diag::render_all;
use mapper_core::parse::{parse_text, ParseOutput};
use mapper_core::print::print;
use mapper_core::{AppInfo, Diagnostic};

/// File name used when rendering diagnostics of a candidate mapper.
pub const CANDIDATE_FILE: &str = "candidate.mapper";

/// The result of checking one mapper text.
#[derive(Debug)]
pub struct Checked {
    /// Parser output (the recovered program and its syntax diagnostics).
    pub parsed: ParseOutput,
    /// Syntax diagnostics, or, when there are no syntax errors, the checker's diagnostics too.
    pub diagnostics: Vec<Diagnostic>,
}

impl Checked {
    /// All diagnostics, errors and warnings.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        &self.diagnostics
    }

    /// Number of errors.
    pub fn error_count(&self) -> usize {
        self.diagnostics.iter().filter(|d| d.is_error()).count()
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

/// Parses and checks a mapper text without an application.
pub fn check_text(text: &str) -> Checked {
    check_text_for(text, None)
}

/// Parses and checks a mapper text, with the application's task and region names if given.
pub fn check_text_for(text: &str, app: Option<&AppInfo>) -> Checked {
    let parsed = parse_text(text);
    let mut diagnostics = parsed.diagnostics.clone();
    if !parsed.has_errors() {
        diagnostics.extend(check(&parsed.program, app));
    }
    Checked {
        parsed,
        diagnostics,
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
    fn checker_runs() {
        let c = check_text("IndexTaskMap * nowhere;");
        assert_eq!(c.error_count(), 1, "{:?}", c.diagnostics());
        assert!(render_diagnostics("IndexTaskMap * nowhere;").contains("nowhere"));
        let app = AppInfo {
            name: "a".into(),
            tasks: vec![],
        };
        assert!(check_text_for("Task foo GPU;", Some(&app)).error_count() > 0);
        assert!(check_text_for("Task foo GPU;", None).is_valid());
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
