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
use crate::text;
use proc_macro2::{Delimiter, Spacing, TokenStream, TokenTree};
use std::str::FromStr;

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

/// `strip_comments`, the delimiter pre-scan, then `TokenStream::from_str`.
fn tokenize_text(src: &str) -> Result<TokenStream, Vec<Diagnostic>> {
    let stripped = text::strip_comments(src);
    let diags = text::check_delimiters(&stripped);
    if !diags.is_empty() {
        return Err(diags);
    }
    TokenStream::from_str(&stripped).map_err(|e| {
        let lc = e.span().start();
        let pos = Pos {
            line: lc.line as u32,
            col: lc.column as u32 + 1,
        };
        let span = Span {
            lo: pos,
            hi: Pos {
                line: pos.line,
                col: pos.col + 1,
            },
            tok_lo: 0,
            tok_hi: 0,
        };
        let d = match text::char_at(&stripped, pos) {
            Some('"') => Diagnostic::error(span, "unterminated string literal")
                .with_help("add the closing `\"`"),
            Some('\'') => Diagnostic::error(span, "unexpected `'`")
                .with_help("character literals and lifetimes are not part of the language"),
            Some(c) => Diagnostic::error(
                span,
                format!("unexpected character `{}`", c.escape_debug()),
            )
            .with_help(
                "remove it; mapper text is made of names, integers, `\"strings\"` and punctuation",
            ),
            None => Diagnostic::error(span, "invalid token"),
        };
        vec![d]
    })
}

// ---------------------------------------------------------------------------------------------
// Flattened tokens
// ---------------------------------------------------------------------------------------------

/// A flattened token.
#[derive(Clone, Debug, PartialEq)]
enum Tk {
    Ident(String),
    /// A punctuation character and whether it is joined to the next one (`=` in `==`).
    Punct(char, bool),
    Int(i64),
    Str(String),
    /// A literal the language does not accept, with the error to report.
    BadLit {
        repr: String,
        message: String,
        help: String,
    },
    Open(char),
    Close(char),
}

#[derive(Clone, Debug)]
struct Token {
    tk: Tk,
    lo: Pos,
    hi: Pos,
}

fn to_pos(lc: proc_macro2::LineColumn) -> Pos {
    Pos {
        line: lc.line as u32,
        col: lc.column as u32 + 1,
    }
}

/// Length of a `#[doc = ...]` / `#![doc = ...]` attribute (what doc comments become) at `i`.
fn doc_attr_len(trees: &[TokenTree], i: usize) -> Option<usize> {
    match trees.get(i) {
        Some(TokenTree::Punct(p)) if p.as_char() == '#' => {}
        _ => return None,
    }
    let mut k = i + 1;
    if let Some(TokenTree::Punct(p)) = trees.get(k) {
        if p.as_char() == '!' {
            k += 1;
        }
    }
    match trees.get(k) {
        Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Bracket => {
            match g.stream().into_iter().next() {
                Some(TokenTree::Ident(id)) if id == "doc" => Some(k + 1 - i),
                _ => None,
            }
        }
        _ => None,
    }
}

/// Flattens a token stream without recursion. `Delimiter::None` groups (from macro expansion)
/// are transparent: only their contents appear. Doc comments are dropped.
fn flatten(ts: TokenStream) -> (Vec<Token>, Vec<proc_macro2::Span>) {
    struct Frame {
        trees: Vec<TokenTree>,
        next: usize,
        close: Option<(char, proc_macro2::Span)>,
    }
    let mut toks = Vec::new();
    let mut spans = Vec::new();
    let mut push = |tk: Tk, span: proc_macro2::Span, toks: &mut Vec<Token>| {
        toks.push(Token {
            tk,
            lo: to_pos(span.start()),
            hi: to_pos(span.end()),
        });
        spans.push(span);
    };
    let mut stack = vec![Frame {
        trees: ts.into_iter().collect(),
        next: 0,
        close: None,
    }];
    while let Some(frame) = stack.last_mut() {
        let i = frame.next;
        let Some(tree) = frame.trees.get(i).cloned() else {
            if let Some((c, span)) = frame.close {
                push(Tk::Close(c), span, &mut toks);
            }
            stack.pop();
            continue;
        };
        if let Some(n) = doc_attr_len(&frame.trees, i) {
            frame.next += n;
            continue;
        }
        frame.next += 1;
        match tree {
            TokenTree::Group(g) => {
                let (open, close) = match g.delimiter() {
                    Delimiter::Parenthesis => ('(', ')'),
                    Delimiter::Bracket => ('[', ']'),
                    Delimiter::Brace => ('{', '}'),
                    Delimiter::None => {
                        stack.push(Frame {
                            trees: g.stream().into_iter().collect(),
                            next: 0,
                            close: None,
                        });
                        continue;
                    }
                };
                push(Tk::Open(open), g.span_open(), &mut toks);
                stack.push(Frame {
                    trees: g.stream().into_iter().collect(),
                    next: 0,
                    close: Some((close, g.span_close())),
                });
            }
            TokenTree::Ident(id) => push(Tk::Ident(id.to_string()), id.span(), &mut toks),
            TokenTree::Punct(p) => push(
                Tk::Punct(p.as_char(), p.spacing() == Spacing::Joint),
                p.span(),
                &mut toks,
            ),
            TokenTree::Literal(l) => {
                let repr = l.to_string();
                if let Some(rest) = repr.strip_prefix('-') {
                    // A negative literal built by a macro: `-` then the magnitude.
                    push(Tk::Punct('-', false), l.span(), &mut toks);
                    push(classify_literal(rest), l.span(), &mut toks);
                } else {
                    push(classify_literal(&repr), l.span(), &mut toks);
                }
            }
        }
    }
    (toks, spans)
}

fn bad_lit(repr: &str, message: String, help: &str) -> Tk {
    Tk::BadLit {
        repr: repr.to_string(),
        message,
        help: help.to_string(),
    }
}

/// Turns a literal's source text into a token, or into the error it deserves.
fn classify_literal(repr: &str) -> Tk {
    let mut chars = repr.chars();
    match chars.next() {
        Some('"') => match repr.get(1..repr.len().saturating_sub(1)).map(unescape) {
            Some(Ok(s)) => Tk::Str(s),
            _ => bad_lit(
                repr,
                format!("invalid string literal {repr}"),
                "check the escapes",
            ),
        },
        Some('r') => {
            let body = repr.trim_start_matches('r').trim_matches('#');
            match body.get(1..body.len().saturating_sub(1)) {
                Some(s) if body.len() >= 2 => Tk::Str(s.to_string()),
                _ => bad_lit(
                    repr,
                    format!("invalid string literal {repr}"),
                    "write a plain `\"...\"` string",
                ),
            }
        }
        Some('b') | Some('c') => bad_lit(
            repr,
            format!("byte and C string literals are not supported: {repr}"),
            "write a plain `\"...\"` string",
        ),
        Some('\'') => bad_lit(
            repr,
            format!("character literals are not supported: {repr}"),
            "the language has integers, booleans and (in `print`) strings",
        ),
        Some(c) if c.is_ascii_digit() => int_literal(repr),
        _ => bad_lit(
            repr,
            format!("unsupported literal `{repr}`"),
            "write a decimal integer",
        ),
    }
}

fn int_literal(repr: &str) -> Tk {
    let lower = repr.to_ascii_lowercase();
    if lower.starts_with("0x") || lower.starts_with("0o") || lower.starts_with("0b") {
        let base = match lower.as_bytes().get(1) {
            Some(b'x') => "hexadecimal",
            Some(b'o') => "octal",
            _ => "binary",
        };
        return bad_lit(
            repr,
            format!("{base} literal `{repr}` is not supported"),
            "write the value in decimal",
        );
    }
    let digits_len = repr
        .find(|c: char| !(c.is_ascii_digit() || c == '_'))
        .unwrap_or(repr.len());
    let (digits, rest) = repr.split_at(digits_len);
    let is_float = rest.starts_with('.')
        || ((rest.starts_with('e') || rest.starts_with('E'))
            && rest[1..]
                .starts_with(|c: char| c.is_ascii_digit() || c == '+' || c == '-' || c == '_'))
        || rest.starts_with("f32")
        || rest.starts_with("f64");
    if is_float {
        return bad_lit(
            repr,
            format!("floating-point literal `{repr}` is not supported"),
            "the language has only integers (64-bit signed)",
        );
    }
    if !rest.is_empty() {
        return bad_lit(
            repr,
            format!("integer literal `{repr}` has a suffix `{rest}`"),
            &format!("write just `{digits}`"),
        );
    }
    let clean: String = digits.chars().filter(|&c| c != '_').collect();
    match clean.parse::<i64>() {
        Ok(v) => Tk::Int(v),
        Err(_) => bad_lit(
            repr,
            format!("integer literal `{repr}` is too large"),
            "integers are 64-bit signed; the largest is 9223372036854775807",
        ),
    }
}

/// Resolves the escapes of a (non-raw) string literal's contents.
fn unescape(s: &str) -> Result<String, ()> {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars().peekable();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match it.next().ok_or(())? {
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            '0' => out.push('\0'),
            '\\' => out.push('\\'),
            '"' => out.push('"'),
            '\'' => out.push('\''),
            'x' => {
                let h: String = it.by_ref().take(2).collect();
                let v = u8::from_str_radix(&h, 16).map_err(|_| ())?;
                out.push(char::from(v));
            }
            'u' => {
                if it.next() != Some('{') {
                    return Err(());
                }
                let mut h = String::new();
                for c in it.by_ref() {
                    if c == '}' {
                        break;
                    }
                    if c != '_' {
                        h.push(c);
                    }
                }
                let v = u32::from_str_radix(&h, 16).map_err(|_| ())?;
                out.push(char::from_u32(v).ok_or(())?);
            }
            '\n' => {
                while it.peek().is_some_and(|c| c.is_whitespace()) {
                    it.next();
                }
            }
            _ => return Err(()),
        }
    }
    Ok(out)
}

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

    // ----- program and statements -----

    fn program(&mut self) -> Program {
        let mut stmts = Vec::new();
        while !self.at_end() && !self.full() {
            let start = self.pos;
            self.broken = false;
            self.depth = 0;
            match self.statement() {
                Ok(Some(s)) if !self.broken => stmts.push(s),
                Ok(_) => {}
                Err(Fail) => {
                    self.end = self.toks.len();
                    self.recover(start, false);
                }
            }
            if self.pos <= start {
                self.pos = self.skip_tree(start);
            }
        }
        Program { stmts }
    }

    /// Expects the `;` ending the statement that started at `start`; returns its span.
    fn end_stmt(&mut self, start: usize) -> PResult<Span> {
        if self.is_punct(self.pos, ';') {
            let span = self.range(start, self.pos);
            self.pos += 1;
            return Ok(span);
        }
        let last = self.pos.saturating_sub(1).max(start);
        let span = self.after(last);
        if self.at_end() || self.starts_line(self.pos) {
            // Probably just a forgotten `;` at the end of the line: keep the statement.
            self.err_keep(
                Diagnostic::error(span, "expected `;` after statement")
                    .with_help("every statement ends with `;`"),
            );
            return Ok(self.range(start, last));
        }
        let found = self.found();
        self.fail(
            span,
            "expected `;` after statement",
            Some(format!("found {found}; every statement ends with `;`")),
        )
    }

    fn statement(&mut self) -> PResult<Option<Stmt>> {
        let start = self.pos;
        let Some(tok) = self.peek() else {
            return Ok(None);
        };
        let name = match tok {
            Tk::Punct(';', _) => {
                self.pos += 1;
                return Ok(None);
            }
            Tk::Ident(name) => name.as_str(),
            Tk::Punct('#', _) if self.in_macro => {
                return self.fail(
                    self.here(),
                    "unexpected `#`",
                    Some("`#` comments are only allowed in `.mapper` files; use `//` inside `mapper!`".into()),
                );
            }
            _ => return self.expected("statement", Some(statement_help())),
        };
        match name {
            "Task" => {
                self.pos += 1;
                let tasks = self.task_names()?;
                let kinds = self.kind_list()?;
                let span = self.end_stmt(start)?;
                Ok(Some(Stmt::Task { tasks, kinds, span }))
            }
            "Region" => {
                self.pos += 1;
                let task = self.task_sel()?;
                let region = self.region_sel()?;
                let proc = self.proc_sel()?;
                let mems = self.mem_list()?;
                let span = self.end_stmt(start)?;
                Ok(Some(Stmt::Region {
                    task,
                    region,
                    proc,
                    mems,
                    span,
                }))
            }
            "Layout" => {
                self.pos += 1;
                let task = self.task_sel()?;
                let region = self.region_sel()?;
                let target = self.layout_target()?;
                let constraints = self.constraints()?;
                let span = self.end_stmt(start)?;
                Ok(Some(Stmt::Layout {
                    task,
                    region,
                    target,
                    constraints,
                    span,
                }))
            }
            "InstanceLimit" => {
                self.pos += 1;
                let task = self.task_sel()?;
                let proc = match self.peek() {
                    Some(Tk::Punct('*', _)) | Some(Tk::Ident(_)) => Some(self.proc_sel()?),
                    _ => None,
                };
                let limit = match self.peek() {
                    Some(Tk::Int(v)) => Spanned::new(*v, self.tok_span(self.pos)),
                    Some(Tk::BadLit { .. }) => return self.bad_literal(),
                    _ => {
                        return self.expected(
                            "instance limit (a non-negative integer)",
                            Some("write e.g. `InstanceLimit TASK GPU 4;`".into()),
                        )
                    }
                };
                self.pos += 1;
                let span = self.end_stmt(start)?;
                Ok(Some(Stmt::InstanceLimit {
                    task,
                    proc,
                    limit,
                    span,
                }))
            }
            "CollectMemory" => {
                self.pos += 1;
                let task = self.task_sel()?;
                let region = self.region_sel()?;
                let span = self.end_stmt(start)?;
                Ok(Some(Stmt::CollectMemory { task, region, span }))
            }
            "IndexTaskMap" | "SingleTaskMap" => {
                let index = name == "IndexTaskMap";
                self.pos += 1;
                // `IndexTaskMap GPU f;`: a processor kind instead of task names.
                let kind = match (self.peek(), self.tk(self.pos + 1)) {
                    (Some(Tk::Ident(k)), Some(Tk::Ident(_))) => ProcKind::parse(k),
                    _ => None,
                };
                let tasks = match kind {
                    Some(k) => {
                        self.pos += 1;
                        TaskNames::Kind(Spanned::new(k, self.tok_span(self.pos - 1)))
                    }
                    None => self.task_names()?,
                };
                let func = self
                    .name_with_help("function name", Some(format!("write `{name} TASKS FUNC;`")))?;
                let span = self.end_stmt(start)?;
                Ok(Some(if index {
                    Stmt::IndexTaskMap { tasks, func, span }
                } else {
                    Stmt::SingleTaskMap { tasks, func, span }
                }))
            }
            "ControlReplicate" => {
                self.pos += 1;
                let tasks = self.task_names()?;
                let span = self.end_stmt(start)?;
                Ok(Some(Stmt::ControlReplicate { tasks, span }))
            }
            "def" => Ok(Some(Stmt::Def(self.def()?))),
            "return" | "print" => self.fail(
                self.here(),
                format!("`{name}` outside of a function"),
                Some(format!(
                    "`{name}` is only allowed inside `def NAME(...) {{ ... }}`"
                )),
            ),
            _ if self.is_assign_eq(self.pos + 1) => {
                if is_keyword(name) {
                    return self.fail(
                        self.here(),
                        format!("cannot assign to keyword `{name}`"),
                        Some("choose another name".into()),
                    );
                }
                let name = Spanned::new(name.to_string(), self.tok_span(self.pos));
                self.pos += 2;
                let value = self.expr()?;
                let span = self.end_stmt(start)?;
                Ok(Some(Stmt::Assign { name, value, span }))
            }
            _ => {
                if let Some(kw) = closest(name, STATEMENT_KEYWORDS.iter().copied()) {
                    return self.fail(
                        self.here(),
                        format!("unknown statement `{name}`"),
                        Some(format!("did you mean `{kw}`?")),
                    );
                }
                let next_is_word = matches!(
                    self.tk(self.pos + 1),
                    Some(Tk::Ident(_)) | Some(Tk::Punct('*', _)) | Some(Tk::Int(_))
                );
                if next_is_word || is_keyword(name) {
                    return self.fail(
                        self.here(),
                        format!("unknown statement `{name}`"),
                        Some(statement_help()),
                    );
                }
                self.pos += 1;
                self.expected(
                    &format!("`=` after `{name}`"),
                    Some("a top-level assignment is written `NAME = EXPR;`".into()),
                )
            }
        }
    }

    fn bad_literal<T>(&mut self) -> PResult<T> {
        if let Some(Tk::BadLit { message, help, .. }) = self.peek() {
            let (m, h) = (message.clone(), help.clone());
            return self.fail(self.here(), m, Some(h));
        }
        self.expected("literal", None)
    }

    /// A name (identifier that is not a keyword).
    fn name_with_help(&mut self, what: &str, help: Option<String>) -> PResult<Ident> {
        match self.peek() {
            Some(Tk::Ident(s)) if !is_keyword(s) => {
                let id = Spanned::new(s.clone(), self.tok_span(self.pos));
                self.pos += 1;
                Ok(id)
            }
            Some(Tk::Ident(s)) => {
                let s = s.clone();
                self.fail(
                    self.here(),
                    format!("expected {what}, found keyword `{s}`"),
                    help,
                )
            }
            _ => self.expected(what, help),
        }
    }

    fn name(&mut self, what: &str) -> PResult<Ident> {
        self.name_with_help(what, None)
    }

    /// `*` or `a, b, c` (the list ends at the first name not preceded by a comma).
    fn task_names(&mut self) -> PResult<TaskNames> {
        if self.is_punct(self.pos, '*') {
            self.pos += 1;
            return Ok(TaskNames::Any(self.tok_span(self.pos - 1)));
        }
        let mut names = vec![self.name_with_help("task name or `*`", None)?];
        while self.is_punct(self.pos, ',') && matches!(self.tk(self.pos + 1), Some(Tk::Ident(_))) {
            self.pos += 1;
            names.push(self.name("task name")?);
        }
        Ok(TaskNames::List(names))
    }

    fn task_sel(&mut self) -> PResult<TaskSel> {
        if self.is_punct(self.pos, '*') {
            self.pos += 1;
            return Ok(TaskSel::Any(self.tok_span(self.pos - 1)));
        }
        Ok(TaskSel::Named(self.name("task name or `*`")?))
    }

    fn region_sel(&mut self) -> PResult<RegionSel> {
        let span = self.tok_span(self.pos);
        match self.peek() {
            Some(Tk::Punct('*', _)) => {
                self.pos += 1;
                Ok(RegionSel::Any(span))
            }
            Some(Tk::Int(v)) => match u32::try_from(*v) {
                Ok(v) => {
                    self.pos += 1;
                    Ok(RegionSel::Index(Spanned::new(v, span)))
                }
                Err(_) => self.fail(
                    span,
                    format!("region argument index `{v}` is too large"),
                    Some("an argument index is a small non-negative integer".into()),
                ),
            },
            Some(Tk::BadLit { .. }) => self.bad_literal(),
            Some(Tk::Ident(s)) if !is_keyword(s) => {
                self.pos += 1;
                Ok(RegionSel::Named(Spanned::new(s.clone(), span)))
            }
            _ => self.expected(
                "region name, argument index or `*`",
                Some("the region column is `*`, a region/argument name or a 0-based index".into()),
            ),
        }
    }

    fn proc_sel(&mut self) -> PResult<ProcSel> {
        if self.is_punct(self.pos, '*') {
            self.pos += 1;
            return Ok(ProcSel::Any(self.tok_span(self.pos - 1)));
        }
        Ok(ProcSel::Kind(self.proc_kind()?))
    }

    /// A processor kind. An unknown name is reported and skipped (the statement is dropped).
    fn proc_kind(&mut self) -> PResult<Spanned<ProcKind>> {
        let span = self.tok_span(self.pos);
        let Some(Tk::Ident(s)) = self.peek() else {
            return self.expected(
                "processor kind",
                Some(format!("expected one of {PROC_LIST}")),
            );
        };
        self.pos += 1;
        if let Some(k) = ProcKind::parse(s) {
            return Ok(Spanned::new(k, span));
        }
        let help = match closest(s, ProcKind::names()) {
            Some(k) => format!("did you mean `{k}`?"),
            None if MemKind::parse(s).is_some() => {
                format!("`{s}` is a memory kind; expected a processor kind, one of {PROC_LIST}")
            }
            None => format!("expected one of {PROC_LIST}"),
        };
        self.err(Diagnostic::error(span, format!("unknown processor kind `{s}`")).with_help(help));
        Ok(Spanned::new(ProcKind::Cpu, span))
    }

    /// A memory kind. An unknown name is reported and skipped (the statement is dropped).
    fn mem_kind(&mut self) -> PResult<Spanned<MemKind>> {
        let span = self.tok_span(self.pos);
        let Some(Tk::Ident(s)) = self.peek() else {
            return self.expected("memory kind", Some(format!("expected one of {MEM_LIST}")));
        };
        self.pos += 1;
        if let Some(k) = MemKind::parse(s) {
            return Ok(Spanned::new(k, span));
        }
        let help = match closest(s, MemKind::names()) {
            Some(k) => format!("did you mean `{k}`?"),
            None if ProcKind::parse(s).is_some() => {
                format!("`{s}` is a processor kind; expected a memory kind, one of {MEM_LIST}")
            }
            None => format!("expected one of {MEM_LIST}"),
        };
        self.err(Diagnostic::error(span, format!("unknown memory kind `{s}`")).with_help(help));
        Ok(Spanned::new(MemKind::Sysmem, span))
    }

    /// After a list item: a name on the same line means a forgotten `,`.
    fn missing_comma(&mut self, what: &str, example: &str) -> PResult<()> {
        if matches!(self.peek(), Some(Tk::Ident(_))) && !self.starts_line(self.pos) {
            let found = self.found();
            return self.fail(
                self.here(),
                format!("expected `,` or `;` after {what}, found {found}"),
                Some(format!("separate {what}s with `,`: `{example}`")),
            );
        }
        Ok(())
    }

    fn kind_list(&mut self) -> PResult<Vec<Spanned<ProcKind>>> {
        if !matches!(self.peek(), Some(Tk::Ident(_))) {
            return self.expected(
                "processor kind",
                Some(format!("write e.g. `Task * GPU,CPU;` (kinds: {PROC_LIST})")),
            );
        }
        let mut kinds = vec![self.proc_kind()?];
        while self.is_punct(self.pos, ',') {
            self.pos += 1;
            kinds.push(self.proc_kind()?);
        }
        self.missing_comma("processor kind", "GPU,CPU")?;
        Ok(kinds)
    }

    fn mem_list(&mut self) -> PResult<Vec<Spanned<MemKind>>> {
        let mut mems = vec![self.mem_kind()?];
        while self.is_punct(self.pos, ',') {
            self.pos += 1;
            mems.push(self.mem_kind()?);
        }
        self.missing_comma("memory kind", "FBMEM,ZCMEM")?;
        Ok(mems)
    }

    fn layout_target(&mut self) -> PResult<LayoutTarget> {
        let span = self.tok_span(self.pos);
        match self.peek() {
            Some(Tk::Punct('*', _)) => {
                self.pos += 1;
                Ok(LayoutTarget::Any(span))
            }
            Some(Tk::Ident(s)) => {
                self.pos += 1;
                if let Some(m) = MemKind::parse(s) {
                    return Ok(LayoutTarget::Mem(Spanned::new(m, span)));
                }
                if let Some(p) = ProcKind::parse(s) {
                    return Ok(LayoutTarget::Proc(Spanned::new(p, span)));
                }
                let help = match closest(s, MemKind::names().chain(ProcKind::names())) {
                    Some(k) => format!("did you mean `{k}`?"),
                    None => format!(
                        "expected `*`, a memory kind ({MEM_LIST}) or a processor kind ({PROC_LIST})"
                    ),
                };
                self.err(
                    Diagnostic::error(span, format!("unknown memory or processor kind `{s}`"))
                        .with_help(help),
                );
                Ok(LayoutTarget::Any(span))
            }
            _ => self.expected(
                "memory kind, processor kind or `*`",
                Some("write e.g. `Layout * * * SOA C_order;`".into()),
            ),
        }
    }

    fn constraints(&mut self) -> PResult<Vec<Spanned<Constraint>>> {
        let mut out = Vec::new();
        loop {
            if self.is_punct(self.pos, ',') && !out.is_empty() {
                return self.fail(
                    self.here(),
                    "unexpected `,` between layout constraints",
                    Some("layout constraints are separated by spaces: `SOA C_order`".into()),
                );
            }
            let Some(Tk::Ident(s)) = self.peek() else {
                break;
            };
            let start = self.pos;
            let span = self.tok_span(start);
            self.pos += 1;
            let c = match s.as_str() {
                "SOA" => Constraint::Soa,
                "AOS" => Constraint::Aos,
                "C_order" => Constraint::COrder,
                "F_order" => Constraint::FOrder,
                "No_Align" => Constraint::NoAlign,
                "Compact" => Constraint::Compact,
                "Exact" => Constraint::Exact,
                "Align" => {
                    let op = self.align_op()?;
                    let n = match self.peek() {
                        Some(Tk::Int(v)) => *v,
                        Some(Tk::BadLit { .. }) => return self.bad_literal(),
                        _ => {
                            return self.expected(
                                &format!("alignment in bytes after `Align{}`", op.as_str()),
                                Some("write e.g. `Align==128`".into()),
                            )
                        }
                    };
                    self.pos += 1;
                    Constraint::Align(op, n)
                }
                _ => {
                    let help = match closest(s, Constraint::NAMES.iter().copied()) {
                        Some(k) => format!("did you mean `{k}`?"),
                        None => format!("expected one of {}", Constraint::NAMES.join(", ")),
                    };
                    self.err(
                        Diagnostic::error(span, format!("unknown layout constraint `{s}`"))
                            .with_help(help),
                    );
                    // Skip a misspelled `Align` clause's operator and value too.
                    while matches!(self.peek(), Some(Tk::Punct('=' | '!' | '<' | '>', _))) {
                        self.pos += 1;
                    }
                    if matches!(self.peek(), Some(Tk::Int(_))) {
                        self.pos += 1;
                    }
                    continue;
                }
            };
            out.push(Spanned::new(c, self.range(start, self.pos - 1)));
        }
        if out.is_empty() && !self.broken {
            return self.expected(
                "layout constraint",
                Some(format!("expected one of {}", Constraint::NAMES.join(", "))),
            );
        }
        Ok(out)
    }

    fn align_op(&mut self) -> PResult<AlignOp> {
        let two = [
            ('=', '=', AlignOp::Eq),
            ('!', '=', AlignOp::Ne),
            ('<', '=', AlignOp::Le),
            ('>', '=', AlignOp::Ge),
        ];
        for (a, b, op) in two {
            if self.is_punct2(self.pos, a, b) {
                self.pos += 2;
                return Ok(op);
            }
        }
        if self.is_punct(self.pos, '<') {
            self.pos += 1;
            return Ok(AlignOp::Lt);
        }
        if self.is_punct(self.pos, '>') {
            self.pos += 1;
            return Ok(AlignOp::Gt);
        }
        self.expected(
            "comparison operator after `Align`",
            Some("write e.g. `Align==128` (operators: == != < <= > >=)".into()),
        )
    }

    // ----- functions -----

    /// `def NAME(TYPE ARG, ...) { BODY }`. Errors in the header mark the definition broken;
    /// broken body statements are left out of the body.
    fn def(&mut self) -> PResult<FuncDef> {
        let start = self.pos;
        let def_tok = self.toks.get(start).map(|t| t.lo).unwrap_or_default();
        self.pos += 1;
        let name = self.name("function name")?;
        if !self.is_open(self.pos, '(') {
            return self.expected(
                "`(` after function name",
                Some("write `def NAME(Task task) { ... }`".into()),
            );
        }
        let params = self.params();
        if self.is_punct(self.pos, ':') {
            let colon = self.pos;
            self.err(
                Diagnostic::error(self.here(), "unexpected `:` in function definition")
                    .with_help("function bodies are wrapped in `{ }`, not introduced by `:`"),
            );
            self.pos += 1;
            if !self.is_open(self.pos, '{') {
                self.skip_python_body(colon, def_tok);
                return Err(Fail);
            }
        }
        if !self.is_open(self.pos, '{') {
            let found = self.found();
            return self.fail(
                self.here(),
                "expected `{` after function parameters",
                Some(format!(
                    "found {found}; function bodies are wrapped in `{{ }}`: `def f(Task task) {{ return ...; }}`"
                )),
            );
        }
        let header_broken = self.broken;
        let (close, saved) = self.enter();
        let body = self.body();
        self.end = saved;
        self.pos = close + 1;
        self.broken = header_broken;
        let span = self.range(start, close);
        Ok(FuncDef {
            name,
            params,
            body,
            span,
        })
    }

    /// After `def f(...):` without braces: skip the rest of the line and every following line
    /// indented deeper than the `def` (a Python-style body), so it is reported once.
    fn skip_python_body(&mut self, colon: usize, def_pos: Pos) {
        let colon_line = self.toks.get(colon).map(|t| t.lo.line).unwrap_or(0);
        while self.pos < self.end {
            let Some(t) = self.toks.get(self.pos) else {
                break;
            };
            if t.lo.line != colon_line && self.starts_line(self.pos) && t.lo.col <= def_pos.col {
                break;
            }
            self.pos = self.skip_tree(self.pos);
        }
        self.recovered = true;
    }

    /// The parameter list; the position ends after `)` whatever happens.
    fn params(&mut self) -> Vec<Param> {
        let (close, saved) = self.enter();
        let mut params = Vec::new();
        // An error has been reported (and the header marked broken); the rest of the list is
        // skipped below either way.
        let _ = self.param_list(&mut params);
        self.end = saved;
        self.pos = close + 1;
        params
    }

    /// `TYPE NAME, ...` up to the end of the enclosing group.
    fn param_list(&mut self, params: &mut Vec<Param>) -> PResult<()> {
        while !self.at_end() {
            params.push(self.param()?);
            if self.at_end() {
                break;
            }
            if !self.is_punct(self.pos, ',') {
                return self.expected("`,` or `)` after parameter", None);
            }
            self.pos += 1;
        }
        Ok(())
    }

    fn param(&mut self) -> PResult<Param> {
        let span = self.tok_span(self.pos);
        let Some(Tk::Ident(ty)) = self.peek() else {
            return self.expected(
                "parameter type",
                Some(format!(
                    "parameters are written `TYPE NAME`; types: {}",
                    type_list()
                )),
            );
        };
        self.pos += 1;
        if (self.at_end() || self.is_punct(self.pos, ',')) && ParamType::parse(ty).is_some() {
            return self.fail(
                span,
                format!("missing name for parameter of type `{ty}`"),
                Some(format!("parameters are written `TYPE NAME`, e.g. `{ty} x`")),
            );
        }
        if self.at_end() || self.is_punct(self.pos, ',') {
            return self.fail(
                span,
                format!("missing type for parameter `{ty}`"),
                Some(format!(
                    "parameters are written `TYPE NAME`, e.g. `Task {ty}`"
                )),
            );
        }
        let ty = match ParamType::parse(ty) {
            Some(t) => Spanned::new(t, span),
            None => {
                let help = match closest(ty, ParamType::ALL.iter().map(|t| t.as_str())) {
                    Some(k) => format!("did you mean `{k}`?"),
                    None => format!("expected one of {}", type_list()),
                };
                self.err(
                    Diagnostic::error(span, format!("unknown parameter type `{ty}`"))
                        .with_help(help),
                );
                Spanned::new(ParamType::Task, span)
            }
        };
        let name = self.name("parameter name")?;
        Ok(Param { ty, name })
    }

    /// Body statements up to the end of the enclosing `{ }` group.
    fn body(&mut self) -> Vec<FnStmt> {
        let mut out = Vec::new();
        let body_end = self.end;
        while !self.at_end() && !self.full() {
            let start = self.pos;
            self.broken = false;
            self.depth = 0;
            match self.body_stmt() {
                Ok(Some(s)) if !self.broken => out.push(s),
                Ok(_) => {}
                Err(Fail) => {
                    self.end = body_end;
                    self.recover(start, true);
                }
            }
            if self.pos <= start {
                self.pos = self.skip_tree(start);
            }
        }
        out
    }

    fn body_stmt(&mut self) -> PResult<Option<FnStmt>> {
        let start = self.pos;
        let name = match self.peek() {
            Some(Tk::Punct(';', _)) => {
                self.pos += 1;
                return Ok(None);
            }
            Some(Tk::Ident(s)) => s.as_str(),
            _ => return self.expected("statement", Some(body_help())),
        };
        match name {
            "return" => {
                self.pos += 1;
                if self.is_punct(self.pos, ';') || self.at_end() {
                    return self.fail(
                        self.tok_span(start),
                        "`return` needs a value",
                        Some("write `return EXPR;`".into()),
                    );
                }
                let value = self.expr()?;
                let span = self.end_stmt(start)?;
                Ok(Some(FnStmt::Return { value, span }))
            }
            "print" if self.is_open(self.pos + 1, '(') => {
                self.pos += 1;
                let (close, saved) = self.enter();
                let format = match self.peek() {
                    Some(Tk::Str(s)) => Spanned::new(s.clone(), self.tok_span(self.pos)),
                    Some(Tk::BadLit { .. }) => return self.bad_literal(),
                    _ => {
                        return self.fail(
                            self.here(),
                            "`print` needs a format string as its first argument",
                            Some("write e.g. `print(\"x = {}\", x);`".into()),
                        )
                    }
                };
                self.pos += 1;
                let mut args = Vec::new();
                while self.is_punct(self.pos, ',') {
                    self.pos += 1;
                    if self.at_end() {
                        break;
                    }
                    args.push(self.element()?);
                }
                if !self.at_end() {
                    return self.expected("`,` or `)` in `print(...)`", None);
                }
                self.leave(close, saved, "`)`")?;
                let span = self.end_stmt(start)?;
                Ok(Some(FnStmt::Print { format, args, span }))
            }
            "def" => self.fail(
                self.here(),
                "nested function definitions are not allowed",
                Some("define the function at top level".into()),
            ),
            _ if STATEMENT_KEYWORDS.contains(&name) => self.fail(
                self.here(),
                format!("`{name}` statements are only allowed at top level"),
                Some("move it out of the function body".into()),
            ),
            _ if self.is_assign_eq(self.pos + 1) => {
                if is_keyword(name) {
                    return self.fail(
                        self.here(),
                        format!("cannot assign to keyword `{name}`"),
                        Some("choose another name".into()),
                    );
                }
                let name = Spanned::new(name.to_string(), self.tok_span(self.pos));
                self.pos += 2;
                let value = self.expr()?;
                let span = self.end_stmt(start)?;
                Ok(Some(FnStmt::Assign { name, value, span }))
            }
            _ => {
                if let Some(kw) = closest(name, ["return", "print"]) {
                    return self.fail(
                        self.here(),
                        format!("unknown statement `{name}`"),
                        Some(format!("did you mean `{kw}`?")),
                    );
                }
                let found = self.found();
                self.fail(
                    self.here(),
                    format!(
                        "expected `NAME = EXPR;`, `return EXPR;` or `print(...);`, found {found}"
                    ),
                    Some(body_help()),
                )
            }
        }
    }

    // ----- expressions -----

    fn deeper(&mut self) -> PResult<()> {
        self.depth += 1;
        if self.depth > MAX_EXPR_DEPTH {
            return self.fail(
                self.here(),
                "expression nested too deeply",
                Some(format!(
                    "expressions may nest at most {MAX_EXPR_DEPTH} levels; split it with intermediate variables"
                )),
            );
        }
        Ok(())
    }

    /// A full expression (ternary level).
    fn expr(&mut self) -> PResult<Expr> {
        self.deeper()?;
        let cond = self.binary(1)?;
        let e = if self.is_punct(self.pos, '?') {
            self.pos += 1;
            let then = self.expr()?;
            if !self.is_punct(self.pos, ':') {
                return self.expected(
                    "`:` in conditional expression",
                    Some("write `c ? a : b`".into()),
                );
            }
            self.pos += 1;
            let els = self.expr()?;
            let span = cond.span.to(els.span);
            Expr::new(
                ExprKind::Ternary(Box::new(cond), Box::new(then), Box::new(els)),
                span,
            )
        } else {
            cond
        };
        self.depth -= 1;
        Ok(e)
    }

    fn peek_binop(&self) -> Option<(BinOp, usize)> {
        let i = self.pos;
        let two = [
            ('|', '|', BinOp::Or),
            ('&', '&', BinOp::And),
            ('=', '=', BinOp::Eq),
            ('!', '=', BinOp::Ne),
            ('<', '=', BinOp::Le),
            ('>', '=', BinOp::Ge),
        ];
        for (a, b, op) in two {
            if self.is_punct2(i, a, b) {
                return Some((op, 2));
            }
        }
        let op = match self.tk(i) {
            Some(Tk::Punct(c, _)) => match c {
                '<' => BinOp::Lt,
                '>' => BinOp::Gt,
                '+' => BinOp::Add,
                '-' => BinOp::Sub,
                '*' => BinOp::Mul,
                '/' => BinOp::Div,
                '%' => BinOp::Rem,
                _ => return None,
            },
            _ => return None,
        };
        Some((op, 1))
    }

    /// Precedence climbing over left-associative binary operators.
    fn binary(&mut self, min_prec: u8) -> PResult<Expr> {
        let saved = self.depth;
        let mut lhs = self.unary()?;
        while let Some((op, n)) = self.peek_binop() {
            if op.precedence() < min_prec {
                break;
            }
            self.pos += n;
            self.deeper()?;
            let rhs = self.binary(op.precedence() + 1)?;
            let span = lhs.span.to(rhs.span);
            lhs = Expr::new(ExprKind::Binary(op, Box::new(lhs), Box::new(rhs)), span);
        }
        self.depth = saved;
        Ok(lhs)
    }

    fn unary(&mut self) -> PResult<Expr> {
        let op = match self.peek() {
            Some(Tk::Punct('-', _)) => UnOp::Neg,
            Some(Tk::Punct('!', _)) if !self.is_punct2(self.pos, '!', '=') => UnOp::Not,
            _ => return self.postfix(),
        };
        let start = self.tok_span(self.pos);
        self.pos += 1;
        self.deeper()?;
        let operand = self.unary()?;
        self.depth -= 1;
        let span = start.to(operand.span);
        Ok(Expr::new(ExprKind::Unary(op, Box::new(operand)), span))
    }

    fn postfix(&mut self) -> PResult<Expr> {
        let saved = self.depth;
        let mut e = self.primary()?;
        loop {
            if self.is_open(self.pos, '[') {
                self.deeper()?;
                e = self.index(e)?;
            } else if self.is_punct(self.pos, '.') {
                self.deeper()?;
                e = self.dot(e)?;
            } else if self.is_open(self.pos, '(') {
                return self.fail(
                    self.here(),
                    "unexpected `(` after expression",
                    Some(
                        "only a named function can be called: `f(args)` or `x.method(args)`".into(),
                    ),
                );
            } else {
                break;
            }
        }
        self.depth = saved;
        Ok(e)
    }

    /// `.field` or `.method(args)` after `recv`, at `pos` (the `.`).
    fn dot(&mut self, recv: Expr) -> PResult<Expr> {
        self.pos += 1;
        let name = match self.peek() {
            Some(Tk::Ident(s)) => Spanned::new(s.clone(), self.tok_span(self.pos)),
            _ => {
                return self.expected(
                    "field or method name after `.`",
                    Some("index tuples with `t[i]`".into()),
                )
            }
        };
        self.pos += 1;
        if self.is_open(self.pos, '(') {
            let close = self.close(self.pos);
            let args = self.args()?;
            let span = recv.span.to(self.tok_span(close));
            Ok(Expr::new(
                ExprKind::Method(Box::new(recv), name, args),
                span,
            ))
        } else {
            let span = recv.span.to(name.span);
            Ok(Expr::new(ExprKind::Field(Box::new(recv), name), span))
        }
    }

    /// `x[...]` at `pos` (the `[`): an index list or a slice.
    fn index(&mut self, recv: Expr) -> PResult<Expr> {
        let (close, saved) = self.enter();
        let span = recv.span.to(self.tok_span(close));
        if self.at_end() {
            return self.expected("index expression", Some("write `x[i]` or `x[a:b]`".into()));
        }
        let lo = if self.is_punct(self.pos, ':') {
            None
        } else {
            let bare_star = self.is_punct(self.pos, '*');
            let first = self.element()?;
            if !self.is_punct(self.pos, ':') {
                // An index list.
                let mut elems = vec![first];
                while self.is_punct(self.pos, ',') {
                    self.pos += 1;
                    if self.at_end() {
                        break;
                    }
                    elems.push(self.element()?);
                }
                if !self.at_end() {
                    return self.expected("`,` or `]` in index list", None);
                }
                self.leave(close, saved, "`]`")?;
                return Ok(Expr::new(ExprKind::Index(Box::new(recv), elems), span));
            }
            if bare_star {
                return self.fail(
                    first.span,
                    "`*` is not allowed in a slice bound",
                    Some("a slice is written `x[a:b]` with integer bounds".into()),
                );
            }
            Some(Box::new(first))
        };
        // The slice's `:`.
        self.pos += 1;
        let hi = if self.at_end() {
            None
        } else {
            Some(Box::new(self.expr()?))
        };
        if !self.at_end() {
            return self.expected(
                "`]` after slice",
                Some("slices have no step: write `x[a:b]`".into()),
            );
        }
        self.leave(close, saved, "`]`")?;
        Ok(Expr::new(ExprKind::Slice(Box::new(recv), lo, hi), span))
    }

    /// An element of a tuple, index list or argument list: `*` (wildcard), `*e` (splat) or an
    /// expression.
    fn element(&mut self) -> PResult<Expr> {
        if self.is_punct(self.pos, '*') {
            let star = self.tok_span(self.pos);
            if self.pos + 1 >= self.end
                || self.is_punct(self.pos + 1, ',')
                || self.is_punct(self.pos + 1, ':')
            {
                self.pos += 1;
                return Ok(Expr::new(ExprKind::Wildcard, star));
            }
            self.pos += 1;
            self.deeper()?;
            let inner = self.expr()?;
            self.depth -= 1;
            let span = star.to(inner.span);
            return Ok(Expr::new(ExprKind::Splat(Box::new(inner)), span));
        }
        self.expr()
    }

    /// The contents of the group at `pos`: comma-separated elements. Returns the elements and
    /// whether a trailing comma was written; the position ends after the group.
    fn elements(&mut self, what: &str) -> PResult<(Vec<Expr>, bool)> {
        let (close, saved) = self.enter();
        let mut elems = Vec::new();
        let mut trailing = false;
        while !self.at_end() {
            elems.push(self.element()?);
            trailing = false;
            if self.at_end() {
                break;
            }
            if !self.is_punct(self.pos, ',') {
                return self.expected(&format!("`,` or `)` in {what}"), None);
            }
            self.pos += 1;
            trailing = true;
        }
        self.leave(close, saved, "`)`")?;
        Ok((elems, trailing))
    }

    fn args(&mut self) -> PResult<Vec<Expr>> {
        Ok(self.elements("argument list")?.0)
    }

    fn primary(&mut self) -> PResult<Expr> {
        match self.peek() {
            Some(Tk::Int(v)) => {
                let e = Expr::new(ExprKind::Int(*v), self.tok_span(self.pos));
                self.pos += 1;
                Ok(e)
            }
            Some(Tk::Open('(')) => self.paren(),
            Some(Tk::Ident(_)) => self.ident_expr(),
            _ => self.primary_error(),
        }
    }

    /// `(e)` (just `e`, its span widened to the parentheses) or a tuple.
    fn paren(&mut self) -> PResult<Expr> {
        let i = self.pos;
        let full = self.range(i, self.close(i));
        let (mut elems, trailing) = self.elements("tuple")?;
        if elems.len() == 1 && !trailing {
            let mut e = elems.remove(0);
            e.span = full;
            Ok(e)
        } else {
            Ok(Expr::new(ExprKind::Tuple(elems), full))
        }
    }

    /// An expression starting with an identifier: a keyword form, a call or a variable.
    fn ident_expr(&mut self) -> PResult<Expr> {
        let span = self.tok_span(self.pos);
        let Some(name) = self.ident_at(self.pos) else {
            return self.primary_error();
        };
        match name {
            "True" | "False" => {
                self.pos += 1;
                Ok(Expr::new(ExprKind::Bool(name == "True"), span))
            }
            "Machine" => self.machine(),
            "tuple" => self.tuple_comp(),
            _ if is_keyword(name) => self.primary_error(),
            _ => {
                self.pos += 1;
                if self.is_open(self.pos, '(') {
                    let close = self.close(self.pos);
                    let args = self.args()?;
                    let id = Spanned::new(name.to_string(), span);
                    Ok(Expr::new(
                        ExprKind::Call(id, args),
                        span.to(self.tok_span(close)),
                    ))
                } else {
                    Ok(Expr::new(ExprKind::Var(name.to_string()), span))
                }
            }
        }
    }

    /// Reports a token that cannot start an expression.
    #[cold]
    #[inline(never)]
    fn primary_error(&mut self) -> PResult<Expr> {
        let span = self.here();
        match self.peek() {
            Some(Tk::BadLit { .. }) => self.bad_literal(),
            Some(Tk::Str(_)) => self.fail(
                span,
                "string literal outside `print`",
                Some(
                    "strings are only allowed as the format argument of `print(\"...\", ...)`"
                        .into(),
                ),
            ),
            Some(Tk::Ident(kw)) => self.fail(
                span,
                format!("expected expression, found keyword `{kw}`"),
                None,
            ),
            Some(Tk::Punct('*', _)) => self.expected(
                "expression",
                Some("`*t` splats a tuple only inside `( )`, `[ ]` or call arguments".into()),
            ),
            _ => self.expected("expression", None),
        }
    }

    /// `Machine(KIND)`.
    fn machine(&mut self) -> PResult<Expr> {
        let start = self.pos;
        self.pos += 1;
        if !self.is_open(self.pos, '(') {
            return self.expected("`(` after `Machine`", Some("write `Machine(GPU)`".into()));
        }
        let (close, saved) = self.enter();
        if !matches!(self.peek(), Some(Tk::Ident(_))) || self.pos + 1 != close {
            return self.expected(
                "processor kind in `Machine(...)`",
                Some(format!("write e.g. `Machine(GPU)` (kinds: {PROC_LIST})")),
            );
        }
        let kind = self.proc_kind()?;
        self.leave(close, saved, "`)`")?;
        Ok(Expr::new(ExprKind::Machine(kind), self.range(start, close)))
    }

    /// `tuple(EXPR for NAME in TUPLE)`.
    fn tuple_comp(&mut self) -> PResult<Expr> {
        let start = self.pos;
        self.pos += 1;
        let help = || Some("write `tuple(EXPR for NAME in TUPLE)`".to_string());
        if !self.is_open(self.pos, '(') {
            return self.expected("`(` after `tuple`", help());
        }
        let (close, saved) = self.enter();
        let body = self.expr()?;
        if !self.is_ident(self.pos, "for") {
            return self.expected("`for` in tuple comprehension", help());
        }
        self.pos += 1;
        let var = self.name("loop variable name")?;
        if !self.is_ident(self.pos, "in") {
            return self.expected("`in` in tuple comprehension", help());
        }
        self.pos += 1;
        let iter = self.expr()?;
        self.leave(close, saved, "`)`")?;
        Ok(Expr::new(
            ExprKind::TupleComp {
                body: Box::new(body),
                var,
                iter: Box::new(iter),
            },
            self.range(start, close),
        ))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::print::{print, print_expr};

    /// Parses text that must be error-free.
    fn ok(src: &str) -> Program {
        let out = parse_text(src);
        assert!(
            out.diagnostics.is_empty(),
            "unexpected errors for {src:?}: {:#?}",
            out.diagnostics
        );
        out.program
    }

    /// The single statement of `src`.
    fn one(src: &str) -> Stmt {
        let mut p = ok(src);
        assert_eq!(p.stmts.len(), 1, "{src:?}");
        p.stmts.remove(0)
    }

    /// Errors of `src` as `line:col message` strings.
    fn errs(src: &str) -> Vec<String> {
        parse_text(src)
            .diagnostics
            .iter()
            .map(|d| format!("{}:{} {}", d.span.lo.line, d.span.lo.col, d.message))
            .collect()
    }

    /// The first diagnostic of `src`.
    fn first(src: &str) -> Diagnostic {
        let out = parse_text(src);
        assert!(!out.diagnostics.is_empty(), "expected an error for {src:?}");
        out.diagnostics[0].clone()
    }

    fn e(src: &str) -> String {
        match parse_expr_text(src) {
            Ok(e) => print_expr(&e),
            Err(d) => panic!("{src:?}: {d:#?}"),
        }
    }

    const CIRCUIT: &str = "Task * GPU,CPU;
Region * * GPU FBMEM;
Region * * CPU SYSMEM;
Region * rp_shared GPU ZCMEM;
Region * rp_ghost GPU ZCMEM;
Layout * * * SOA C_order;
mgpu = Machine(GPU);
def block1d(Task task) {
    ip = task.ipoint;
    is = task.ispace;
    node = ip[0] * mgpu.size[0] / is[0];
    per_node = (is[0] + mgpu.size[0] - 1) / mgpu.size[0];
    return mgpu[node, (ip[0] % per_node) * mgpu.size[1] / per_node];
}
IndexTaskMap calculate_new_currents, distribute_charge, update_voltages block1d;
";

    #[test]
    fn circuit_example_prints_canonically() {
        let p = ok(CIRCUIT);
        assert_eq!(p.stmts.len(), 9);
        // Minimal parentheses: `%` and `*` have the same precedence and associate left.
        let canonical = CIRCUIT.replace("(ip[0] % per_node) * ", "ip[0] % per_node * ");
        assert_eq!(print(&p), canonical);
        assert_eq!(print(&ok(&canonical)), canonical);
    }

    #[test]
    fn original_style() {
        let src = "# A mapper in the original style\n\
            Task * GPU,CPU; # comment after a statement\n\
            Layout * * * SOA C_order Align==128;\n\
            Layout * * GPU AOS F_order Align == 64 No_Align Compact Exact;\n\
            InstanceLimit task_5 GPU 1;\n\
            Region * * CPU SOCKMEM;\n\
            m_2d = Machine(GPU);\n\
            def f(Task task) {\n\
            \x20   ip = task.ipoint;\n\
            \x20   t = tuple(g(i) for i in (0,1,2));\n\
            \x20   return m_2d[*ip[:-1], *];\n\
            }\n\
            SingleTaskMap a f;\n";
        let p = ok(src);
        assert_eq!(
            print(&p),
            "Task * GPU,CPU;\n\
             Layout * * * SOA C_order Align==128;\n\
             Layout * * GPU AOS F_order Align==64 No_Align Compact Exact;\n\
             InstanceLimit task_5 GPU 1;\n\
             Region * * CPU SOCKMEM;\n\
             m_2d = Machine(GPU);\n\
             def f(Task task) {\n\
             \x20   ip = task.ipoint;\n\
             \x20   t = tuple(g(i) for i in (0, 1, 2));\n\
             \x20   return m_2d[*ip[:-1], *];\n\
             }\n\
             SingleTaskMap a f;\n"
        );
    }

    /// Fully parenthesized prefix form of an expression, to check structure.
    fn sx(e: &Expr) -> String {
        let list = |v: &[Expr]| v.iter().map(sx).collect::<Vec<_>>().join(" ");
        match &e.kind {
            ExprKind::Int(v) => v.to_string(),
            ExprKind::Bool(b) => b.to_string(),
            ExprKind::Str(s) => format!("{s:?}"),
            ExprKind::Var(v) => v.clone(),
            ExprKind::Machine(k) => format!("(machine {})", k.node),
            ExprKind::Tuple(v) => format!("(tuple {})", list(v)),
            ExprKind::Splat(x) => format!("(splat {})", sx(x)),
            ExprKind::Wildcard => "_".into(),
            ExprKind::Unary(op, x) => format!(
                "({} {})",
                if *op == UnOp::Neg { "neg" } else { "not" },
                sx(x)
            ),
            ExprKind::Binary(op, l, r) => format!("({} {} {})", op.as_str(), sx(l), sx(r)),
            ExprKind::Ternary(c, a, b) => format!("(? {} {} {})", sx(c), sx(a), sx(b)),
            ExprKind::Index(x, v) => format!("(index {} {})", sx(x), list(v)),
            ExprKind::Slice(x, lo, hi) => format!(
                "(slice {} {} {})",
                sx(x),
                lo.as_ref().map_or("none".into(), |e| sx(e)),
                hi.as_ref().map_or("none".into(), |e| sx(e))
            ),
            ExprKind::Field(x, f) => format!("(. {} {})", sx(x), f.node),
            ExprKind::Method(x, m, a) => format!("(.{} {} {})", m.node, sx(x), list(a)),
            ExprKind::Call(f, a) => format!("(call {} {})", f.node, list(a)),
            ExprKind::TupleComp { body, var, iter } => {
                format!("(comp {} {} {})", sx(body), var.node, sx(iter))
            }
        }
    }

    fn s(src: &str) -> String {
        match parse_expr_text(src) {
            Ok(e) => sx(&e),
            Err(d) => panic!("{src:?}: {d:#?}"),
        }
    }

    fn pos(span: Span) -> (u32, u32, u32, u32) {
        (span.lo.line, span.lo.col, span.hi.line, span.hi.col)
    }

    fn toks(span: Span) -> (u32, u32) {
        (span.tok_lo, span.tok_hi)
    }

    fn names(t: &TaskNames) -> Vec<String> {
        match t {
            TaskNames::Any(_) => vec!["*".into()],
            TaskNames::List(v) => v.iter().map(|n| n.node.clone()).collect(),
            TaskNames::Kind(k) => vec![format!("kind {}", k.node)],
        }
    }

    // ----- statements -----

    #[test]
    fn empty_input() {
        assert_eq!(ok(""), Program::default());
        assert_eq!(
            ok("# just a comment\n   \n// and another\n"),
            Program::default()
        );
        assert_eq!(ok(";;"), Program::default());
    }

    #[test]
    fn task_statement() {
        let Stmt::Task { tasks, kinds, span } = one("Task a, b GPU,CPU;") else {
            panic!()
        };
        assert_eq!(names(&tasks), ["a", "b"]);
        assert_eq!(
            kinds.iter().map(|k| k.node).collect::<Vec<_>>(),
            [ProcKind::Gpu, ProcKind::Cpu]
        );
        assert_eq!(pos(span), (1, 1, 1, 19));
        assert_eq!(toks(span), (0, 7));
        assert_eq!(pos(kinds[1].span), (1, 15, 1, 18));
        assert_eq!(toks(kinds[1].span), (6, 6));
        let Stmt::Task { tasks, kinds, .. } = one("Task * OMP;") else {
            panic!()
        };
        assert!(matches!(tasks, TaskNames::Any(_)));
        assert_eq!(kinds.len(), 1);
        let Stmt::Task { tasks, kinds, .. } = one("Task GPU CPU , PY;") else {
            panic!()
        };
        assert_eq!(names(&tasks), ["GPU"]);
        assert_eq!(
            kinds.iter().map(|k| k.node).collect::<Vec<_>>(),
            [ProcKind::Cpu, ProcKind::Py]
        );
    }

    #[test]
    fn region_statement() {
        let Stmt::Region {
            task,
            region,
            proc,
            mems,
            span,
        } = one("Region * rp_shared GPU ZCMEM,SYSMEM;")
        else {
            panic!()
        };
        assert!(matches!(task, TaskSel::Any(_)));
        assert!(matches!(&region, RegionSel::Named(n) if n.node == "rp_shared"));
        assert!(matches!(proc, ProcSel::Kind(k) if k.node == ProcKind::Gpu));
        assert_eq!(
            mems.iter().map(|m| m.node).collect::<Vec<_>>(),
            [MemKind::Zcmem, MemKind::Sysmem]
        );
        assert_eq!(toks(span), (0, 7));
        let Stmt::Region {
            task, region, proc, ..
        } = one("Region t 2 * SOCKMEM;")
        else {
            panic!()
        };
        assert!(matches!(&task, TaskSel::Named(n) if n.node == "t"));
        assert!(matches!(region, RegionSel::Index(i) if i.node == 2));
        assert!(matches!(proc, ProcSel::Any(_)));
    }

    #[test]
    fn layout_statement() {
        let Stmt::Layout {
            target,
            constraints,
            ..
        } = one("Layout * * * SOA C_order Align==128 No_Align Compact Exact;")
        else {
            panic!()
        };
        assert!(matches!(target, LayoutTarget::Any(_)));
        let cs: Vec<Constraint> = constraints.iter().map(|c| c.node).collect();
        assert_eq!(
            cs,
            [
                Constraint::Soa,
                Constraint::COrder,
                Constraint::Align(AlignOp::Eq, 128),
                Constraint::NoAlign,
                Constraint::Compact,
                Constraint::Exact
            ]
        );
        // `Align==128` spans its four tokens: Align = = 128.
        assert_eq!(toks(constraints[2].span), (6, 9));
        assert_eq!(pos(constraints[2].span), (1, 26, 1, 36));
        let Stmt::Layout {
            target,
            constraints,
            ..
        } = one("Layout t r FBMEM AOS F_order Align != 8 Align<4 Align <= 2 Align>1 Align >= 16;")
        else {
            panic!()
        };
        assert!(matches!(target, LayoutTarget::Mem(m) if m.node == MemKind::Fbmem));
        let cs: Vec<Constraint> = constraints.iter().map(|c| c.node).collect();
        assert_eq!(
            cs,
            [
                Constraint::Aos,
                Constraint::FOrder,
                Constraint::Align(AlignOp::Ne, 8),
                Constraint::Align(AlignOp::Lt, 4),
                Constraint::Align(AlignOp::Le, 2),
                Constraint::Align(AlignOp::Gt, 1),
                Constraint::Align(AlignOp::Ge, 16)
            ]
        );
        let Stmt::Layout { target, .. } = one("Layout * 0 GPU SOA;") else {
            panic!()
        };
        assert!(matches!(target, LayoutTarget::Proc(p) if p.node == ProcKind::Gpu));
    }

    #[test]
    fn instance_limit_collect_replicate() {
        let Stmt::InstanceLimit {
            task, proc, limit, ..
        } = one("InstanceLimit task_5 GPU 1;")
        else {
            panic!()
        };
        assert!(matches!(&task, TaskSel::Named(n) if n.node == "task_5"));
        assert!(matches!(proc, Some(ProcSel::Kind(k)) if k.node == ProcKind::Gpu));
        assert_eq!(limit.node, 1);
        let Stmt::InstanceLimit { proc, limit, .. } = one("InstanceLimit * 1_000;") else {
            panic!()
        };
        assert!(proc.is_none());
        assert_eq!(limit.node, 1000);
        let Stmt::InstanceLimit { proc, .. } = one("InstanceLimit t * 3;") else {
            panic!()
        };
        assert!(matches!(proc, Some(ProcSel::Any(_))));
        let Stmt::CollectMemory { task, region, .. } = one("CollectMemory t *;") else {
            panic!()
        };
        assert!(matches!(task, TaskSel::Named(_)));
        assert!(matches!(region, RegionSel::Any(_)));
        let Stmt::ControlReplicate { tasks, .. } = one("ControlReplicate a, b;") else {
            panic!()
        };
        assert_eq!(names(&tasks), ["a", "b"]);
    }

    #[test]
    fn task_map_statements() {
        let Stmt::IndexTaskMap { tasks, func, span } = one("IndexTaskMap a, b f;") else {
            panic!()
        };
        assert_eq!(names(&tasks), ["a", "b"]);
        assert_eq!(func.node, "f");
        assert_eq!(pos(func.span), (1, 19, 1, 20));
        assert_eq!(toks(span), (0, 5));
        let Stmt::SingleTaskMap { tasks, func, .. } = one("SingleTaskMap * g;") else {
            panic!()
        };
        assert!(matches!(tasks, TaskNames::Any(_)));
        assert_eq!(func.node, "g");
        // A processor kind alone is the fallback for that kind (as in the original language);
        // in a list it is a task name.
        let Stmt::IndexTaskMap { tasks, .. } = one("IndexTaskMap GPU f;") else {
            panic!()
        };
        assert_eq!(names(&tasks), ["kind GPU"]);
        let TaskNames::Kind(k) = &tasks else { panic!() };
        assert_eq!(pos(k.span), (1, 14, 1, 17));
        let Stmt::SingleTaskMap { tasks, .. } = one("SingleTaskMap OMP g;") else {
            panic!()
        };
        assert_eq!(names(&tasks), ["kind OMP"]);
        let Stmt::IndexTaskMap { tasks, .. } = one("IndexTaskMap GPU, t f;") else {
            panic!()
        };
        assert_eq!(names(&tasks), ["GPU", "t"]);
    }

    #[test]
    fn assignment_and_def() {
        let Stmt::Assign { name, value, span } = one("mgpu = Machine(GPU);") else {
            panic!()
        };
        assert_eq!(name.node, "mgpu");
        assert_eq!(sx(&value), "(machine GPU)");
        assert_eq!(toks(value.span), (2, 5));
        assert_eq!(toks(span), (0, 6));
        let src = "def f(Task task, int n, bool b, IPoint p, ISpace s, MSpace m, Tuple t) {\n\
                   \x20   x = n + 1;\n\
                   \x20   print(\"x = {} #{}\", x, *t);\n\
                   \x20   return m[x, *];\n\
                   }\n";
        let Stmt::Def(f) = one(src) else { panic!() };
        assert_eq!(f.name.node, "f");
        let tys: Vec<ParamType> = f.params.iter().map(|p| p.ty.node).collect();
        assert_eq!(tys, ParamType::ALL);
        assert_eq!(f.params[6].name.node, "t");
        assert_eq!(f.body.len(), 3);
        let FnStmt::Assign { name, value, span } = &f.body[0] else {
            panic!()
        };
        assert_eq!((name.node.as_str(), sx(value).as_str()), ("x", "(+ n 1)"));
        assert_eq!(pos(*span), (2, 5, 2, 15));
        let FnStmt::Print { format, args, .. } = &f.body[1] else {
            panic!()
        };
        assert_eq!(format.node, "x = {} #{}");
        assert_eq!(args.iter().map(sx).collect::<Vec<_>>(), ["x", "(splat t)"]);
        let FnStmt::Return { value, .. } = &f.body[2] else {
            panic!()
        };
        assert_eq!(sx(value), "(index m x _)");
        assert_eq!(pos(f.span), (1, 1, 5, 2));
        assert_eq!(print(&ok(src)), src);
        // Empty body and no parameters.
        let Stmt::Def(f) = one("def g() { }") else {
            panic!()
        };
        assert!(f.params.is_empty() && f.body.is_empty());
        assert_eq!(print(&ok("def g() { }")), "def g() {\n}\n");
    }

    #[test]
    fn doc_comments_are_ignored() {
        let p = ok("/// doc\nTask * GPU; //! inner\n/** block */ Region * * GPU FBMEM;");
        assert_eq!(p.stmts.len(), 2);
    }

    // ----- expressions -----

    #[test]
    fn expression_forms() {
        assert_eq!(s("42"), "42");
        assert_eq!(s("1_000"), "1000");
        assert_eq!(s("True"), "true");
        assert_eq!(s("False"), "false");
        assert_eq!(s("x"), "x");
        assert_eq!(s("Machine(CPU)"), "(machine CPU)");
        assert_eq!(s("(a, b)"), "(tuple a b)");
        assert_eq!(s("(a,)"), "(tuple a)");
        assert_eq!(s("()"), "(tuple )");
        assert_eq!(s("(a)"), "a");
        assert_eq!(s("((a))"), "a");
        assert_eq!(s("(*t, 1)"), "(tuple (splat t) 1)");
        assert_eq!(s("-x"), "(neg x)");
        assert_eq!(s("-1"), "(neg 1)");
        assert_eq!(s("- -1"), "(neg (neg 1))");
        assert_eq!(s("--1"), "(neg (neg 1))");
        assert_eq!(s("!b"), "(not b)");
        assert_eq!(s("x[i, j]"), "(index x i j)");
        assert_eq!(s("m[i, *]"), "(index m i _)");
        assert_eq!(s("m[*p]"), "(index m (splat p))");
        assert_eq!(s("m[*p, *]"), "(index m (splat p) _)");
        assert_eq!(s("x[a:b]"), "(slice x a b)");
        assert_eq!(s("m[:-1]"), "(slice m none (neg 1))");
        assert_eq!(s("x[1:]"), "(slice x 1 none)");
        assert_eq!(s("x[:]"), "(slice x none none)");
        assert_eq!(s("x.size"), "(. x size)");
        assert_eq!(s("x.size[0]"), "(index (. x size) 0)");
        assert_eq!(s("m.split(0, 2)"), "(.split m 0 2)");
        assert_eq!(s("t.processor(m)[0]"), "(index (.processor t m) 0)");
        assert_eq!(s("f()"), "(call f )");
        assert_eq!(s("f(a, *b)"), "(call f a (splat b))");
        assert_eq!(s("f(a,)"), "(call f a)");
        assert_eq!(
            s("tuple(f(i) for i in (0,1,2))"),
            "(comp (call f i) i (tuple 0 1 2))"
        );
        assert_eq!(s("c ? a : b"), "(? c a b)");
    }

    #[test]
    fn precedence_and_associativity() {
        assert_eq!(s("a + b * c"), "(+ a (* b c))");
        assert_eq!(s("a * b + c"), "(+ (* a b) c)");
        assert_eq!(s("a - b - c"), "(- (- a b) c)");
        assert_eq!(s("a - (b - c)"), "(- a (- b c))");
        assert_eq!(s("a / b % c * d"), "(* (% (/ a b) c) d)");
        assert_eq!(s("a < b == c >= d"), "(>= (== (< a b) c) d)");
        assert_eq!(s("a <= b != c > d"), "(> (!= (<= a b) c) d)");
        assert_eq!(
            s("a || b && c == d + e * -f[0]"),
            "(|| a (&& b (== c (+ d (* e (neg (index f 0)))))))"
        );
        assert_eq!(s("!a && b"), "(&& (not a) b)");
        assert_eq!(s("-a.b"), "(neg (. a b))");
        assert_eq!(s("a ? b : c ? d : e"), "(? a b (? c d e))");
        assert_eq!(s("a ? b ? c : d : e"), "(? a (? b c d) e)");
        assert_eq!(s("a || b ? c + 1 : d"), "(? (|| a b) (+ c 1) d)");
        assert_eq!(s("a==-1"), "(== a (neg 1))");
        assert_eq!(s("a<-1"), "(< a (neg 1))");
        assert_eq!(s("x[c ? a : b : d]"), "(slice x (? c a b) d)");
    }

    #[test]
    fn expression_spans() {
        let Stmt::Assign { value, .. } = one("x = (a + b) * c;") else {
            panic!()
        };
        // `(` a + b `)` * c: tokens 2..=8, the parenthesized operand includes its parentheses.
        assert_eq!(toks(value.span), (2, 8));
        assert_eq!(pos(value.span), (1, 5, 1, 16));
        let ExprKind::Binary(_, l, r) = &value.kind else {
            panic!()
        };
        assert_eq!(toks(l.span), (2, 6));
        assert_eq!(toks(r.span), (8, 8));
        let out = parse_text("x = f(y)[0];\n");
        // x = f ( y ) [ 0 ] ;  -> 10 flattened tokens.
        assert_eq!(out.token_spans.len(), 10);
        let Stmt::Assign { value, .. } = &out.program.stmts[0] else {
            panic!()
        };
        assert_eq!(toks(value.span), (2, 8));
        let ExprKind::Index(f, _) = &value.kind else {
            panic!()
        };
        assert_eq!(toks(f.span), (2, 5));
        let start = out.token_spans[2].start();
        assert_eq!((start.line, start.column), (1, 4));
    }

    #[test]
    fn printer_minimal_parentheses() {
        assert_eq!(e("a - (b - c)"), "a - (b - c)");
        assert_eq!(e("(a - b) - c"), "a - b - c");
        assert_eq!(e("(a * b) + (c * d)"), "a * b + c * d");
        assert_eq!(e("(a + b) * (c + d)"), "(a + b) * (c + d)");
        assert_eq!(e("-(-1)"), "- -1");
        assert_eq!(e("-(a + b)"), "-(a + b)");
        assert_eq!(e("(a ? b : c) ? d : e"), "(a ? b : c) ? d : e");
        assert_eq!(e("a ? b : (c ? d : e)"), "a ? b : c ? d : e");
        assert_eq!(e("(a + b)[0]"), "(a + b)[0]");
        assert_eq!(e("(-a).b"), "(-a).b");
        assert_eq!(e("(1,)"), "(1,)");
        assert_eq!(e("f(*(a, b), *)"), "f(*(a, b), *)");
        assert_eq!(e("m[i,*]"), "m[i, *]");
        assert_eq!(e("tuple( i*2 for i in t )"), "tuple(i * 2 for i in t)");
        assert_eq!(e("(5).x"), "(5).x");
    }

    // ----- errors -----

    #[test]
    fn kind_errors_with_suggestions() {
        let d = first("Task * GPUU;");
        assert_eq!(
            (d.message.as_str(), d.help.as_deref()),
            ("unknown processor kind `GPUU`", Some("did you mean `GPU`?"))
        );
        assert_eq!(pos(d.span), (1, 8, 1, 12));
        let d = first("Task * XYZZY;");
        assert_eq!(
            d.help.as_deref(),
            Some("expected one of CPU, GPU, OMP, IO, PY, PROC")
        );
        let d = first("Region * * GPU FBMEN;");
        assert_eq!(
            (d.message.as_str(), d.help.as_deref()),
            ("unknown memory kind `FBMEN`", Some("did you mean `FBMEM`?"))
        );
        assert_eq!(pos(d.span), (1, 16, 1, 21));
        let d = first("Region * * GPU QQQQQQQ;");
        assert_eq!(
            d.help.as_deref(),
            Some("expected one of SYSMEM, FBMEM, ZCMEM, RDMEM, SOCKMEM, VIRTUAL")
        );
        let d = first("Layout * * * SOAA;");
        assert_eq!(
            (d.message.as_str(), d.help.as_deref()),
            (
                "unknown layout constraint `SOAA`",
                Some("did you mean `SOA`?")
            )
        );
        let d = first("Layout * * * Zigzag;");
        assert_eq!(
            d.help.as_deref(),
            Some("expected one of SOA, AOS, C_order, F_order, Align, No_Align, Compact, Exact")
        );
        let d = first("x = Machine(gpu);");
        assert_eq!(
            (d.message.as_str(), d.help.as_deref()),
            ("unknown processor kind `gpu`", Some("did you mean `GPU`?"))
        );
        // Several errors in one statement are all reported; the statement is dropped.
        let out = parse_text("Region * * GPUS FBMEN,ZCMEN;\nTask * GPU;");
        assert_eq!(out.diagnostics.len(), 3);
        assert_eq!(out.program.stmts.len(), 1);
    }

    #[test]
    fn statement_errors() {
        assert_eq!(errs("task * GPU;"), ["1:1 unknown statement `task`"]);
        let d = first("Regoin * * GPU FBMEM;");
        assert_eq!(
            (d.message.as_str(), d.help.as_deref()),
            ("unknown statement `Regoin`", Some("did you mean `Region`?"))
        );
        assert_eq!(
            errs("Task * GPU\nRegion * * GPU FBMEM;"),
            ["1:11 expected `;` after statement"]
        );
        // A forgotten `;` at the end of a line keeps the statement.
        assert_eq!(
            parse_text("Task * GPU\nRegion * * GPU FBMEM;")
                .program
                .stmts
                .len(),
            2
        );
        assert_eq!(
            errs("Task * GPU CPU;"),
            ["1:12 expected `,` or `;` after processor kind, found `CPU`"]
        );
        assert_eq!(errs("x = 1 2;"), ["1:6 expected `;` after statement"]);
        assert_eq!(errs("return 1;"), ["1:1 `return` outside of a function"]);
        assert_eq!(
            errs("IndexTaskMap f;"),
            ["1:15 expected function name, found `;`"]
        );
        assert_eq!(
            errs("Layout * * * SOA, C_order;"),
            ["1:17 unexpected `,` between layout constraints"]
        );
        assert_eq!(
            errs("Layout * * * Align=128;"),
            ["1:19 expected comparison operator after `Align`, found `=`"]
        );
        assert_eq!(
            errs("Layout * * *;"),
            ["1:13 expected layout constraint, found `;`"]
        );
        assert_eq!(
            errs("Task for GPU;"),
            ["1:6 expected task name or `*`, found keyword `for`"]
        );
        assert_eq!(
            errs("Machine = 1;"),
            ["1:1 cannot assign to keyword `Machine`"]
        );
        assert_eq!(
            errs("InstanceLimit t GPU x;"),
            ["1:21 expected instance limit (a non-negative integer), found `x`"]
        );
        assert_eq!(
            errs("Region * 4294967296 GPU FBMEM;"),
            ["1:10 region argument index `4294967296` is too large"]
        );
    }

    #[test]
    fn def_errors() {
        let d = first("def f(Task t)\n    return 1;\n");
        assert_eq!(d.message, "expected `{` after function parameters");
        assert_eq!(pos(d.span), (2, 5, 2, 11));
        let d = first("def f(Task t):\n    ip = t.ipoint;\n    return ip;\nTask * GPU;\n");
        assert_eq!(d.message, "unexpected `:` in function definition");
        assert_eq!(
            d.help.as_deref(),
            Some("function bodies are wrapped in `{ }`, not introduced by `:`")
        );
        assert_eq!(pos(d.span), (1, 14, 1, 15));
        // The Python-style body is skipped as a whole; the next statement is parsed.
        let out = parse_text("def f(Task t):\n    ip = t.ipoint;\n    return ip;\nTask * GPU;\n");
        assert_eq!(out.diagnostics.len(), 1);
        assert_eq!(out.program.stmts.len(), 1);
        // `:` followed by a braced body: one error, the body is still checked.
        assert_eq!(
            errs("def f(Task t): { return 1 }"),
            [
                "1:14 unexpected `:` in function definition",
                "1:26 expected `;` after statement"
            ]
        );
        let d = first("def f(Tsk t) { return 1; }");
        assert_eq!(
            (d.message.as_str(), d.help.as_deref()),
            ("unknown parameter type `Tsk`", Some("did you mean `Task`?"))
        );
        assert_eq!(pos(d.span), (1, 7, 1, 10));
        let d = first("def f(Banana t) { return 1; }");
        assert_eq!(
            d.help.as_deref(),
            Some("expected one of Task, int, bool, IPoint, ISpace, MSpace, Tuple")
        );
        assert_eq!(
            errs("def f(task) { return 1; }"),
            ["1:7 missing type for parameter `task`"]
        );
        assert_eq!(
            errs("def f Task t { }"),
            ["1:7 expected `(` after function name, found `Task`"]
        );
        assert_eq!(
            errs("def f(Task t) { return; }"),
            ["1:17 `return` needs a value"]
        );
        assert_eq!(
            errs("def f(Task t) { retrun 1; }"),
            ["1:17 unknown statement `retrun`"]
        );
        assert_eq!(
            errs("def f(Task t) { Task * GPU; }"),
            ["1:17 `Task` statements are only allowed at top level"]
        );
        assert_eq!(
            errs("def f(Task t) { print(x); }"),
            ["1:23 `print` needs a format string as its first argument"]
        );
        assert_eq!(
            errs("def f(Task t) { if x { return 1; } }"),
            ["1:17 expected `NAME = EXPR;`, `return EXPR;` or `print(...);`, found `if`"]
        );
        // Broken body statements are dropped, the rest of the function is kept.
        let out = parse_text("def f(Task t) {\n    x = ;\n    return 1;\n}\n");
        assert_eq!(
            errs("def f(Task t) {\n    x = ;\n    return 1;\n}\n"),
            ["2:9 expected expression, found `;`"]
        );
        let Some(Stmt::Def(f)) = out.program.stmts.first() else {
            panic!()
        };
        assert_eq!(f.body.len(), 1);
        // A def with a broken header is dropped, and recovery does not eat the next statement.
        let out = parse_text("def 5(Task t) { return 1; }\nTask * GPU;");
        assert_eq!(out.diagnostics.len(), 1);
        assert_eq!(out.program.stmts.len(), 1);
    }

    #[test]
    fn expression_errors() {
        assert_eq!(errs("x = 1 +;"), ["1:8 expected expression, found `;`"]);
        assert_eq!(errs("x = );"), ["1:5 unexpected closing delimiter `)`"]);
        assert_eq!(
            errs("x = 1.5;"),
            ["1:5 floating-point literal `1.5` is not supported"]
        );
        assert_eq!(
            errs("x = 0x10;"),
            ["1:5 hexadecimal literal `0x10` is not supported"]
        );
        assert_eq!(
            errs("x = 3u8;"),
            ["1:5 integer literal `3u8` has a suffix `u8`"]
        );
        assert_eq!(
            errs("x = 9223372036854775808;"),
            ["1:5 integer literal `9223372036854775808` is too large"]
        );
        assert_eq!(ok("x = 9223372036854775807;").stmts.len(), 1);
        assert_eq!(errs("x = \"s\";"), ["1:5 string literal outside `print`"]);
        assert_eq!(errs("x = *t;"), ["1:5 expected expression, found `*`"]);
        assert_eq!(
            errs("x = f(1)(2);"),
            ["1:9 unexpected `(` after expression"]
        );
        assert_eq!(
            errs("x = a[];"),
            ["1:7 expected index expression, found `]`"]
        );
        assert_eq!(
            errs("x = a[1:2:3];"),
            ["1:10 expected `]` after slice, found `:`"]
        );
        assert_eq!(
            errs("x = a[*:2];"),
            ["1:7 `*` is not allowed in a slice bound"]
        );
        assert_eq!(
            errs("x = Machine(1);"),
            ["1:13 expected processor kind in `Machine(...)`, found `1`"]
        );
        assert_eq!(
            errs("x = tuple(1, 2);"),
            ["1:12 expected `for` in tuple comprehension, found `,`"]
        );
        assert_eq!(
            errs("x = t.0;"),
            ["1:7 expected field or method name after `.`, found `0`"]
        );
        assert_eq!(
            errs("x = a ? b;"),
            ["1:10 expected `:` in conditional expression, found `;`"]
        );
        assert_eq!(
            errs("x = (1 2);"),
            ["1:8 expected `,` or `)` in tuple, found `2`"]
        );
        assert_eq!(
            errs("x = def;"),
            ["1:5 expected expression, found keyword `def`"]
        );
        assert_eq!(errs("x = a $ b;"), ["1:6 expected `;` after statement"]);
        let deep = format!("x = {}1{};", "(".repeat(150), ")".repeat(150));
        assert_eq!(
            errs(&deep)[0],
            format!("1:{} expression nested too deeply", 5 + MAX_EXPR_DEPTH)
        );
        assert_eq!(
            parse_expr_text("a b").unwrap_err()[0].message,
            "expected end of expression, found `b`"
        );
    }

    #[test]
    fn lexical_errors() {
        assert_eq!(
            errs("x = \"abc;\nTask * GPU;"),
            ["1:5 unterminated string literal"]
        );
        assert_eq!(errs("x = 1; /* open"), ["1:8 unterminated block comment"]);
        assert_eq!(
            errs("Task * GPU;\n}"),
            ["2:1 unexpected closing delimiter `}`"]
        );
        assert_eq!(
            errs("def f(Task t) {\n  return 1;\n"),
            ["1:15 unclosed delimiter `{`"]
        );
        assert_eq!(errs("x = (1];"), ["1:7 mismatched closing delimiter `]`"]);
        assert_eq!(errs("x = \0;"), ["1:5 unexpected character `\\0`"]);
        assert_eq!(errs(&"(".repeat(10_000)), ["1:201 nesting too deep"]);
        assert_eq!(
            errs("x = 'a';"),
            ["1:5 character literals are not supported: 'a'"]
        );
        // `#` inside a string is not a comment.
        let Stmt::Def(f) = one("def f() { print(\"a # b\"); } # c") else {
            panic!()
        };
        let FnStmt::Print { format, .. } = &f.body[0] else {
            panic!()
        };
        assert_eq!(format.node, "a # b");
    }

    #[test]
    fn recovery_collects_all_errors() {
        let src = "Task * GPUU;\nRegion * * GPU FBMEN;\nLayout * * * SOAA;\nx = ;\nTask * CPU;\n";
        assert_eq!(
            errs(src),
            [
                "1:8 unknown processor kind `GPUU`",
                "2:16 unknown memory kind `FBMEN`",
                "3:14 unknown layout constraint `SOAA`",
                "4:5 expected expression, found `;`"
            ]
        );
        assert_eq!(parse_text(src).program.stmts.len(), 1);
    }

    #[test]
    fn token_stream_input() {
        let ts = TokenStream::from_str("Task * GPU; /// doc\n def f(Task t) { return t.ipoint; }")
            .unwrap_or_default();
        let out = parse_tokens(ts);
        assert!(out.diagnostics.is_empty());
        assert_eq!(out.program.stmts.len(), 2);
        let ts = TokenStream::from_str("# x\nTask * GPU;").unwrap_or_default();
        let out = parse_tokens(ts);
        assert_eq!(out.diagnostics[0].message, "unexpected `#`");
        // Negative literals built by macros (`Literal::i64_unsuffixed(-3)`).
        let ts: TokenStream = [
            TokenTree::from(proc_macro2::Ident::new("x", proc_macro2::Span::call_site())),
            TokenTree::from(proc_macro2::Punct::new('=', Spacing::Alone)),
            TokenTree::from(proc_macro2::Literal::i64_unsuffixed(-3)),
            TokenTree::from(proc_macro2::Punct::new(';', Spacing::Alone)),
        ]
        .into_iter()
        .collect();
        let out = parse_tokens(ts);
        assert!(out.diagnostics.is_empty(), "{:?}", out.diagnostics);
        let Some(Stmt::Assign { value, .. }) = out.program.stmts.first() else {
            panic!()
        };
        assert_eq!(sx(value), "(neg 3)");
        // Invisible groups from macro expansion are transparent.
        let inner: TokenStream = TokenStream::from_str("1 + 2").unwrap_or_default();
        let mut ts = TokenStream::from_str("x = ").unwrap_or_default();
        ts.extend([TokenTree::from(proc_macro2::Group::new(
            Delimiter::None,
            inner,
        ))]);
        ts.extend(TokenStream::from_str("* 3;").unwrap_or_default());
        let out = parse_tokens(ts);
        assert!(out.diagnostics.is_empty(), "{:?}", out.diagnostics);
    }

    #[test]
    fn smoke() {
        let p = ok("Task * GPU,CPU;\nmgpu = Machine(GPU);\n");
        assert_eq!(print(&p), "Task * GPU,CPU;\nmgpu = Machine(GPU);\n");
    }
}
