//! The parser: `proc_macro2` tokens -> [`ast::Program`], with error recovery.
//!
//! The token stream is first flattened into a list in which every group contributes its open
//! delimiter, its contents and its close delimiter ([`ParseOutput::token_spans`] holds their
//! `proc_macro2` spans; AST spans index into it through `tok_lo`/`tok_hi`). The parser is a
//! recursive-descent parser over that list with precedence climbing for binary operators and a
//! depth limit ([`MAX_EXPR_DEPTH`]). After an error it skips to the next `;` (or to a statement
//! keyword that starts a new line) and goes on, so one run reports every syntax error. A
//! statement with a syntax error is left out of the program; inside a `def`, only the broken body
//! statements are left out.

use crate::ast::{
    BinOp, Expr, ExprKind, FnStmt, FuncDef, LayoutTarget, Param, ParamType, ProcSel, Program,
    RegionSel, Stmt, TaskNames, TaskSel, UnOp,
};
use crate::diag::{closest, Diagnostic, MAX_DIAGNOSTICS};
use crate::kinds::{AlignOp, Constraint, MemKind, ProcKind};
use crate::span::{Ident, Pos, Span, Spanned};
use crate::syntax::lexer::{flatten, tokenize_text, Tk, Token};
use proc_macro2::TokenStream;

/// Deepest expression nesting the parser accepts (operators, parentheses, postfix chains).
pub const MAX_EXPR_DEPTH: usize = 64;

/// Every keyword of the language (case-sensitive); none can be used as a name.
pub const KEYWORDS: &[&str] = &[
    "Task",
    "Region",
    "Layout",
    "InstanceLimit",
    "CollectMemory",
    "IndexTaskMap",
    "SingleTaskMap",
    "ControlReplicate",
    "def",
    "return",
    "print",
    "Machine",
    "True",
    "False",
    "tuple",
    "for",
    "in",
];

/// Keywords that start a top-level statement.
pub const STATEMENT_KEYWORDS: &[&str] = &[
    "Task",
    "Region",
    "Layout",
    "InstanceLimit",
    "CollectMemory",
    "IndexTaskMap",
    "SingleTaskMap",
    "ControlReplicate",
    "def",
];

/// True if `s` is a keyword of the language.
pub fn is_keyword(s: &str) -> bool {
    KEYWORDS.contains(&s)
}

/// The result of parsing: the recovered program, all syntax errors and the token spans.
#[derive(Debug, Default)]
pub struct ParseOutput {
    /// Everything that could be recovered.
    pub program: Program,
    /// All syntax errors (capped at [`MAX_DIAGNOSTICS`]).
    pub diagnostics: Vec<Diagnostic>,
    /// Indexed by `Span::tok_lo` / `tok_hi`.
    pub token_spans: Vec<proc_macro2::Span>,
}

impl ParseOutput {
    /// True if any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Parses a token stream (the body of `mapper! { ... }`).
pub fn parse_tokens(ts: TokenStream) -> ParseOutput {
    let (toks, token_spans) = flatten(ts);
    let mut p = Parser::new(&toks, true);
    let program = p.program();
    ParseOutput {
        program,
        diagnostics: p.diags,
        token_spans,
    }
}

/// Parses mapper text: strips `#` comments, checks delimiters, then tokenizes and parses.
pub fn parse_text(src: &str) -> ParseOutput {
    match tokenize_text(src) {
        Ok(ts) => {
            let (toks, token_spans) = flatten(ts);
            let mut p = Parser::new(&toks, false);
            let program = p.program();
            ParseOutput {
                program,
                diagnostics: p.diags,
                token_spans,
            }
        }
        Err(diagnostics) => ParseOutput {
            diagnostics,
            ..ParseOutput::default()
        },
    }
}

/// Parses one expression from text (the whole input must be one expression).
pub fn parse_expr_text(src: &str) -> Result<Expr, Vec<Diagnostic>> {
    let ts = tokenize_text(src)?;
    let (toks, _) = flatten(ts);
    let mut p = Parser::new(&toks, false);
    let result = p.expr();
    if let Ok(e) = &result {
        if !p.at_end() {
            let found = p.found();
            p.err(Diagnostic::error(
                p.here(),
                format!("expected end of expression, found {found}"),
            ));
        } else if p.diags.is_empty() {
            return Ok(e.clone());
        }
    }
    if p.diags.is_empty() {
        p.err(Diagnostic::error(p.here(), "invalid expression"));
    }
    Err(p.diags)
}

mod expr;
mod stmt;
#[cfg(test)]
mod tests;

// ---------------------------------------------------------------------------------------------
// Parser
// ---------------------------------------------------------------------------------------------

/// An error was reported; the caller recovers.
struct Fail;
type PResult<T> = Result<T, Fail>;

struct Parser<'t> {
    toks: &'t [Token],
    /// For an open delimiter, the index of its close delimiter; otherwise the index itself.
    close_of: Vec<usize>,
    pos: usize,
    /// Exclusive bound of the group being parsed.
    end: usize,
    depth: usize,
    diags: Vec<Diagnostic>,
    /// Set when the current statement had an error (it is then left out of the program).
    broken: bool,
    /// Set when the failing code already skipped past the broken construct.
    recovered: bool,
    /// Parsing the body of `mapper!` (affects some help texts).
    in_macro: bool,
}

const PROC_LIST: &str = "CPU, GPU, OMP, IO, PY, PROC";
const MEM_LIST: &str = "SYSMEM, FBMEM, ZCMEM, RDMEM, SOCKMEM, VIRTUAL";

impl<'t> Parser<'t> {
    fn new(toks: &'t [Token], in_macro: bool) -> Self {
        let mut close_of: Vec<usize> = (0..toks.len()).collect();
        let mut stack = Vec::new();
        for (i, t) in toks.iter().enumerate() {
            match t.tk {
                Tk::Open(_) => stack.push(i),
                Tk::Close(_) => {
                    if let Some(o) = stack.pop() {
                        if let Some(slot) = close_of.get_mut(o) {
                            *slot = i;
                        }
                    }
                }
                _ => {}
            }
        }
        Parser {
            toks,
            close_of,
            pos: 0,
            end: toks.len(),
            depth: 0,
            diags: Vec::new(),
            broken: false,
            recovered: false,
            in_macro,
        }
    }

    // ----- token access -----

    fn tk(&self, i: usize) -> Option<&'t Tk> {
        if i < self.end {
            self.toks.get(i).map(|t| &t.tk)
        } else {
            None
        }
    }

    fn peek(&self) -> Option<&'t Tk> {
        self.tk(self.pos)
    }

    fn at_end(&self) -> bool {
        self.pos >= self.end
    }

    fn is_punct(&self, i: usize, c: char) -> bool {
        matches!(self.tk(i), Some(Tk::Punct(p, _)) if *p == c)
    }

    /// A two-character operator such as `==` (the first character joined to the second).
    fn is_punct2(&self, i: usize, a: char, b: char) -> bool {
        matches!(self.tk(i), Some(Tk::Punct(p, true)) if *p == a) && self.is_punct(i + 1, b)
    }

    fn ident_at(&self, i: usize) -> Option<&'t str> {
        match self.tk(i) {
            Some(Tk::Ident(s)) => Some(s.as_str()),
            _ => None,
        }
    }

    fn is_ident(&self, i: usize, name: &str) -> bool {
        self.ident_at(i) == Some(name)
    }

    fn is_open(&self, i: usize, c: char) -> bool {
        matches!(self.tk(i), Some(Tk::Open(o)) if *o == c)
    }

    /// `=` that is an assignment, not the start of `==`.
    fn is_assign_eq(&self, i: usize) -> bool {
        self.is_punct(i, '=') && !self.is_punct2(i, '=', '=')
    }

    fn close(&self, i: usize) -> usize {
        self.close_of.get(i).copied().unwrap_or(i)
    }

    /// Index just past the token tree starting at `i`.
    fn skip_tree(&self, i: usize) -> usize {
        match self.toks.get(i).map(|t| &t.tk) {
            Some(Tk::Open(_)) => self.close(i) + 1,
            _ => i + 1,
        }
    }

    /// True if token `i` is the first token on its line.
    fn starts_line(&self, i: usize) -> bool {
        match (
            i.checked_sub(1).and_then(|p| self.toks.get(p)),
            self.toks.get(i),
        ) {
            (Some(prev), Some(t)) => t.lo.line > prev.hi.line,
            (None, Some(_)) => true,
            _ => false,
        }
    }

    // ----- spans -----

    fn tok_span(&self, i: usize) -> Span {
        match self.toks.get(i) {
            Some(t) => Span {
                lo: t.lo,
                hi: t.hi,
                tok_lo: i as u32,
                tok_hi: i as u32,
            },
            None => self.end_span(),
        }
    }

    /// Tokens `a..=b`.
    fn range(&self, a: usize, b: usize) -> Span {
        let b = b.max(a);
        self.tok_span(a).to(self.tok_span(b))
    }

    /// A zero-width point just after the last token.
    fn end_span(&self) -> Span {
        match self.toks.last() {
            Some(t) => {
                let i = (self.toks.len() - 1) as u32;
                Span {
                    lo: t.hi,
                    hi: Pos {
                        line: t.hi.line,
                        col: t.hi.col + 1,
                    },
                    tok_lo: i,
                    tok_hi: i,
                }
            }
            None => Span {
                lo: Pos { line: 1, col: 1 },
                hi: Pos { line: 1, col: 2 },
                tok_lo: 0,
                tok_hi: 0,
            },
        }
    }

    /// Just after token `i` (where a missing `;` belongs).
    fn after(&self, i: usize) -> Span {
        match self.toks.get(i) {
            Some(t) => Span {
                lo: t.hi,
                hi: Pos {
                    line: t.hi.line,
                    col: t.hi.col + 1,
                },
                tok_lo: i as u32,
                tok_hi: i as u32,
            },
            None => self.end_span(),
        }
    }

    /// The current token (or the closing delimiter / end of input).
    fn here(&self) -> Span {
        if self.pos < self.toks.len() {
            self.tok_span(self.pos)
        } else {
            self.end_span()
        }
    }

    fn describe(&self, i: usize) -> String {
        let Some(t) = self.toks.get(i) else {
            return "end of input".to_string();
        };
        let text = match &t.tk {
            Tk::Ident(s) => s.clone(),
            Tk::Punct(c, joint) => {
                let mut s = c.to_string();
                if *joint {
                    if let Some(Tk::Punct(n, _)) = self.toks.get(i + 1).map(|t| &t.tk) {
                        let two = format!("{c}{n}");
                        if ["==", "!=", "<=", ">=", "&&", "||", "::", "->", "=>"]
                            .contains(&two.as_str())
                        {
                            s = two;
                        }
                    }
                }
                s
            }
            Tk::Int(v) => v.to_string(),
            Tk::Str(s) => format!("{s:?}"),
            Tk::BadLit { repr, .. } => repr.clone(),
            Tk::Open(c) | Tk::Close(c) => c.to_string(),
        };
        let short: String = text.chars().take(40).collect();
        if short.len() < text.len() {
            format!("`{short}...`")
        } else {
            format!("`{text}`")
        }
    }

    /// Description of the current token for "found ..." messages.
    fn found(&self) -> String {
        if self.pos < self.toks.len() && self.pos <= self.end {
            self.describe(self.pos)
        } else {
            "end of input".to_string()
        }
    }

    // ----- diagnostics -----

    fn full(&self) -> bool {
        self.diags.len() >= MAX_DIAGNOSTICS
    }

    /// Records an error that breaks the current statement.
    fn err(&mut self, d: Diagnostic) {
        self.broken = true;
        self.err_keep(d);
    }

    /// Records an error without dropping the current statement.
    fn err_keep(&mut self, d: Diagnostic) {
        if self.diags.len() < MAX_DIAGNOSTICS {
            self.diags.push(d);
        }
    }

    fn fail<T>(
        &mut self,
        span: Span,
        message: impl Into<String>,
        help: Option<String>,
    ) -> PResult<T> {
        let mut d = Diagnostic::error(span, message);
        d.help = help;
        self.err(d);
        Err(Fail)
    }

    /// "expected WHAT, found X" at the current token.
    fn expected<T>(&mut self, what: &str, help: Option<String>) -> PResult<T> {
        let found = self.found();
        self.fail(self.here(), format!("expected {what}, found {found}"), help)
    }

    // ----- groups -----

    /// Enters the group whose open delimiter is at `pos`; returns (close index, saved end).
    fn enter(&mut self) -> (usize, usize) {
        let close = self.close(self.pos);
        let saved = self.end;
        self.end = close;
        self.pos += 1;
        (close, saved)
    }

    /// Leaves a group entered with [`Parser::enter`]; everything inside must have been consumed.
    fn leave(&mut self, close: usize, saved: usize, what: &str) -> PResult<()> {
        if self.pos != close {
            return self.expected(what, None);
        }
        self.end = saved;
        self.pos = close + 1;
        Ok(())
    }

    // ----- recovery -----

    /// Skips to just after the next `;` of the statement that started at `start` (or to a
    /// statement keyword that begins a new line, or the end of the enclosing group).
    fn recover(&mut self, start: usize, in_body: bool) {
        if std::mem::take(&mut self.recovered) {
            return;
        }
        // Climb out of any group the error happened in.
        let mut i = start;
        while i < self.pos {
            i = self.skip_tree(i);
        }
        self.pos = i;
        while self.pos < self.end {
            match self.tk(self.pos) {
                Some(Tk::Punct(';', _)) => {
                    self.pos += 1;
                    return;
                }
                Some(Tk::Open('{')) if self.pos > start => {
                    // A `{ }` group ends a (broken) function definition.
                    self.pos = self.skip_tree(self.pos);
                    return;
                }
                Some(Tk::Ident(k))
                    if self.pos > start
                        && self.starts_line(self.pos)
                        && (STATEMENT_KEYWORDS.contains(&k.as_str())
                            || (in_body && (k == "return" || k == "print"))) =>
                {
                    return;
                }
                _ => self.pos = self.skip_tree(self.pos),
            }
        }
    }
}

fn statement_help() -> String {
    format!(
        "a statement starts with one of {} or is an assignment `NAME = EXPR;`",
        STATEMENT_KEYWORDS.join(", ")
    )
}

fn body_help() -> String {
    "function bodies contain `NAME = EXPR;`, `return EXPR;` and `print(\"...\", ...);`; \
     use `c ? a : b` for conditional values"
        .to_string()
}

fn type_list() -> String {
    ParamType::ALL
        .iter()
        .map(|t| t.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}
