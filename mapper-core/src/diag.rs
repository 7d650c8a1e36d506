//! Diagnostics: an error (or warning) with a span, a one-line message and an optional `help:`,
//! rendered in rustc's format:
//!
//! ```text
//! error: unknown memory kind `FBMEN`
//!  --> circuit.mapper:3:19
//!   |
//! 3 | Region * * GPU FBMEN;
//!   |                ^^^^^
//!   = help: did you mean `FBMEM`?
//! ```

use crate::span::Span;
use std::fmt::Write as _;

/// How serious a diagnostic is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    /// The mapper is rejected.
    Error,
    /// The mapper is accepted but something is probably wrong or ignored.
    Warning,
}

/// One diagnostic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// One-line message, without the `error:` prefix.
    pub message: String,
    /// Where the problem is.
    pub span: Span,
    /// An optional suggestion, without the `help:` prefix.
    pub help: Option<String>,
}

/// Longest source line shown in full; longer lines are cut around the caret.
const MAX_LINE: usize = 120;

/// Maximum number of diagnostics collected for one mapper before the rest are dropped.
pub const MAX_DIAGNOSTICS: usize = 50;

impl Diagnostic {
    /// A new error at `span`.
    pub fn error(span: Span, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            message: message.into(),
            span,
            help: None,
        }
    }

    /// A new warning at `span`.
    pub fn warning(span: Span, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            message: message.into(),
            span,
            help: None,
        }
    }

    /// Adds a `help:` line.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// True for errors.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// Renders the diagnostic rustc-style against `source` (the text the spans point into),
    /// naming `file` in the ` --> ` line.
    pub fn render(&self, file: &str, source: &str) -> String {
        let mut out = String::new();
        let label = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let _ = writeln!(out, "{label}: {}", self.message);
        let (line, col) = (self.span.lo.line.max(1), self.span.lo.col.max(1));
        let gutter = line.to_string().len();
        let pad = " ".repeat(gutter);
        let _ = writeln!(out, "{pad}--> {file}:{line}:{col}");
        if let Some(text) = source.lines().nth(line as usize - 1) {
            let chars: Vec<char> = text.chars().collect();
            let width = chars.len() as u32;
            let start = col.min(width + 1);
            let end = if self.span.hi.line == self.span.lo.line && self.span.hi.col > col {
                self.span.hi.col.min(width + 1).max(start + 1)
            } else {
                start + 1
            };
            // Long lines are cut to a window around the caret, marked with `...` like rustc.
            let (first, last) = if width as usize <= MAX_LINE {
                (0, chars.len())
            } else {
                let first = (start as usize)
                    .saturating_sub(MAX_LINE / 2)
                    .min(chars.len());
                (first, (first + MAX_LINE).min(chars.len()))
            };
            let shown: String = chars[first..last].iter().collect();
            let (pre, post) = (
                if first > 0 { "..." } else { "" },
                if last < chars.len() { "..." } else { "" },
            );
            let _ = writeln!(out, "{pad} |");
            let _ = writeln!(out, "{line} | {pre}{shown}{post}");
            let lead: String = std::iter::repeat_n(' ', pre.len())
                .chain(
                    chars[first..(start as usize - 1).max(first)]
                        .iter()
                        .map(|&c| if c == '\t' { '\t' } else { ' ' }),
                )
                .collect();
            let carets = (end - start).min(MAX_LINE as u32) as usize;
            let _ = writeln!(out, "{pad} | {lead}{}", "^".repeat(carets));
        }
        if let Some(help) = &self.help {
            let _ = writeln!(out, "{pad} = help: {help}");
        }
        out
    }
}

/// The message for a name that is neither a variable nor a function where it is used: one
/// wording for the checker, the interpreter and generated mappers (DSL.md §6).
pub fn not_defined(name: &str) -> String {
    format!("{name} is not defined")
}

/// Renders every diagnostic, separated by blank lines, followed by a summary line.
pub fn render_all(diags: &[Diagnostic], file: &str, source: &str) -> String {
    let mut out = String::new();
    for d in diags {
        out.push_str(&d.render(file, source));
        out.push('\n');
    }
    let errors = diags.iter().filter(|d| d.is_error()).count();
    if errors > 0 {
        let _ = writeln!(
            out,
            "error: could not check `{file}` due to {errors} previous error{}",
            if errors == 1 { "" } else { "s" }
        );
    }
    out
}

/// Edit distance used for did-you-mean suggestions (case-insensitive, Levenshtein).
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.to_lowercase().chars().collect();
    let b: Vec<char> = b.to_lowercase().chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The candidate closest to `name`, if it is close enough to be a plausible misspelling.
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (name.chars().count() / 3).max(1) + 1;
    candidates
        .into_iter()
        .map(|c| (edit_distance(name, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::span::Pos;

    #[test]
    fn renders_rustc_style() {
        let src = "Task * GPU;\nRegion * * GPU FBMEN;\n";
        let span = Span {
            lo: Pos { line: 2, col: 16 },
            hi: Pos { line: 2, col: 21 },
            tok_lo: 0,
            tok_hi: 0,
        };
        let d = Diagnostic::error(span, "unknown memory kind `FBMEN`")
            .with_help("did you mean `FBMEM`?");
        assert_eq!(
            d.render("x.mapper", src),
            "error: unknown memory kind `FBMEN`\n --> x.mapper:2:16\n  |\n2 | Region * * GPU FBMEN;\n  |                ^^^^^\n  = help: did you mean `FBMEM`?\n"
        );
    }

    #[test]
    fn long_lines_are_cut_around_the_caret() {
        let src = format!("x = {}1{};", "(".repeat(300), ")".repeat(300));
        let span = Span {
            lo: Pos { line: 1, col: 205 },
            hi: Pos { line: 1, col: 206 },
            tok_lo: 0,
            tok_hi: 0,
        };
        let out = Diagnostic::error(span, "nesting too deep").render("d.mapper", &src);
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines[3].starts_with("1 | ...((("), "{}", lines[3]);
        assert!(lines[3].ends_with("(((..."));
        assert_eq!(lines[3].chars().count(), "1 | ".len() + 3 + 120 + 3);
        // The caret sits under column 205 of the original line.
        let caret = lines[4].find('^').unwrap();
        assert_eq!(caret - "  | ".len(), 3 + (205 - 1 - (205 - 60)));
    }

    #[test]
    fn closest_finds_misspellings() {
        assert_eq!(
            closest("FBMEN", ["SYSMEM", "FBMEM", "ZCMEM"]),
            Some("FBMEM")
        );
        assert_eq!(closest("gpu", ["CPU", "GPU"]), Some("GPU"));
        assert_eq!(closest("banana", ["CPU", "GPU"]), None);
    }
}
