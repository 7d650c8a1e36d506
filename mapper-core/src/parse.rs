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
    BinOp, Expr, ExprKind, FnStmt, FuncDef, LayoutTarget, Param, ParamType, Program, ProcSel,
    RegionSel, Stmt, TaskNames, TaskSel, UnOp,
};
use crate::diag::{closest, Diagnostic, MAX_DIAGNOSTICS};
use crate::kinds::{AlignOp, Constraint, MemKind, ProcKind};
use crate::span::{Ident, Pos, Span, Spanned};
use crate::text;
use proc_macro2::{Delimiter, Spacing, TokenStream, TokenTree};
use std::str::FromStr;

/// Deepest expression nesting the parser accepts (operators, parentheses, postfix chains).
pub const MAX_EXPR_DEPTH: usize = 128;

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
    ParseOutput { program, diagnostics: p.diags, token_spans }
}

/// Parses mapper text: strips `#` comments, checks delimiters, then tokenizes and parses.
pub fn parse_text(src: &str) -> ParseOutput {
    match tokenize_text(src) {
        Ok(ts) => {
            let (toks, token_spans) = flatten(ts);
            let mut p = Parser::new(&toks, false);
            let program = p.program();
            ParseOutput { program, diagnostics: p.diags, token_spans }
        }
        Err(diagnostics) => ParseOutput { diagnostics, ..ParseOutput::default() },
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
            p.err(Diagnostic::error(p.here(), format!("expected end of expression, found {found}")));
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
        let pos = Pos { line: lc.line as u32, col: lc.column as u32 + 1 };
        let span = Span { lo: pos, hi: Pos { line: pos.line, col: pos.col + 1 }, tok_lo: 0, tok_hi: 0 };
        let d = match text::char_at(&stripped, pos) {
            Some('"') => Diagnostic::error(span, "unterminated string literal")
                .with_help("add the closing `\"`"),
            Some('\'') => Diagnostic::error(span, "unexpected `'`")
                .with_help("character literals and lifetimes are not part of the language"),
            Some(c) => Diagnostic::error(span, format!("unexpected character `{}`", c.escape_debug()))
                .with_help("remove it; mapper text is made of names, integers, `\"strings\"` and punctuation"),
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
    Pos { line: lc.line as u32, col: lc.column as u32 + 1 }
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
        toks.push(Token { tk, lo: to_pos(span.start()), hi: to_pos(span.end()) });
        spans.push(span);
    };
    let mut stack = vec![Frame { trees: ts.into_iter().collect(), next: 0, close: None }];
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
                        stack.push(Frame { trees: g.stream().into_iter().collect(), next: 0, close: None });
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
            TokenTree::Punct(p) => {
                push(Tk::Punct(p.as_char(), p.spacing() == Spacing::Joint), p.span(), &mut toks)
            }
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
    Tk::BadLit { repr: repr.to_string(), message, help: help.to_string() }
}

/// Turns a literal's source text into a token, or into the error it deserves.
fn classify_literal(repr: &str) -> Tk {
    let mut chars = repr.chars();
    match chars.next() {
        Some('"') => match repr.get(1..repr.len().saturating_sub(1)).map(unescape) {
            Some(Ok(s)) => Tk::Str(s),
            _ => bad_lit(repr, format!("invalid string literal {repr}"), "check the escapes"),
        },
        Some('r') => {
            let body = repr.trim_start_matches('r').trim_matches('#');
            match body.get(1..body.len().saturating_sub(1)) {
                Some(s) if body.len() >= 2 => Tk::Str(s.to_string()),
                _ => bad_lit(repr, format!("invalid string literal {repr}"), "write a plain `\"...\"` string"),
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
        _ => bad_lit(repr, format!("unsupported literal `{repr}`"), "write a decimal integer"),
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
    let digits_len = repr.find(|c: char| !(c.is_ascii_digit() || c == '_')).unwrap_or(repr.len());
    let (digits, rest) = repr.split_at(digits_len);
    let is_float = rest.starts_with('.')
        || ((rest.starts_with('e') || rest.starts_with('E'))
            && rest[1..].starts_with(|c: char| c.is_ascii_digit() || c == '+' || c == '-' || c == '_'))
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
        match (i.checked_sub(1).and_then(|p| self.toks.get(p)), self.toks.get(i)) {
            (Some(prev), Some(t)) => t.lo.line > prev.hi.line,
            (None, Some(_)) => true,
            _ => false,
        }
    }

    // ----- spans -----

    fn tok_span(&self, i: usize) -> Span {
        match self.toks.get(i) {
            Some(t) => Span { lo: t.lo, hi: t.hi, tok_lo: i as u32, tok_hi: i as u32 },
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
                Span { lo: t.hi, hi: Pos { line: t.hi.line, col: t.hi.col + 1 }, tok_lo: i, tok_hi: i }
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
                hi: Pos { line: t.hi.line, col: t.hi.col + 1 },
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
                        if ["==", "!=", "<=", ">=", "&&", "||", "::", "->", "=>"].contains(&two.as_str()) {
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

    fn fail<T>(&mut self, span: Span, message: impl Into<String>, help: Option<String>) -> PResult<T> {
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
                Ok(Some(Stmt::Region { task, region, proc, mems, span }))
            }
            "Layout" => {
                self.pos += 1;
                let task = self.task_sel()?;
                let region = self.region_sel()?;
                let target = self.layout_target()?;
                let constraints = self.constraints()?;
                let span = self.end_stmt(start)?;
                Ok(Some(Stmt::Layout { task, region, target, constraints, span }))
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
                Ok(Some(Stmt::InstanceLimit { task, proc, limit, span }))
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
                let tasks = self.task_names()?;
                let func = self.name_with_help(
                    "function name",
                    Some(format!("write `{name} TASKS FUNC;`")),
                )?;
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
            "def" => Ok(self.def()?.map(Stmt::Def)),
            "return" | "print" => self.fail(
                self.here(),
                format!("`{name}` outside of a function"),
                Some(format!("`{name}` is only allowed inside `def NAME(...) {{ ... }}`")),
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
                self.fail(self.here(), format!("expected {what}, found keyword `{s}`"), help)
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
            return self.expected("processor kind", Some(format!("expected one of {PROC_LIST}")));
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
            let Some(Tk::Ident(s)) = self.peek() else { break };
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
        let two = [('=', '=', AlignOp::Eq), ('!', '=', AlignOp::Ne), ('<', '=', AlignOp::Le), ('>', '=', AlignOp::Ge)];
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

    /// `def NAME(TYPE ARG, ...) { BODY }`. Returns `None` when the definition is unusable.
    fn def(&mut self) -> PResult<Option<FuncDef>> {
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
            return self.expected(
                "`{` after function parameters",
                Some("function bodies are wrapped in `{ }`: `def f(Task task) { return ...; }`".into()),
            );
        }
        let header_broken = self.broken;
        let (close, saved) = self.enter();
        let body = self.body();
        self.end = saved;
        self.pos = close + 1;
        self.broken = header_broken;
        let span = self.range(start, close);
        Ok(Some(FuncDef { name, params, body, span }))
    }

    /// After `def f(...):` without braces: skip the rest of the line and every following line
    /// indented deeper than the `def` (a Python-style body), so it is reported once.
    fn skip_python_body(&mut self, colon: usize, def_pos: Pos) {
        let colon_line = self.toks.get(colon).map(|t| t.lo.line).unwrap_or(0);
        while self.pos < self.end {
            let Some(t) = self.toks.get(self.pos) else { break };
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
        let r: PResult<()> = (|| {
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
        })();
        let _ = r;
        self.end = saved;
        self.pos = close + 1;
        params
    }

    fn param(&mut self) -> PResult<Param> {
        let span = self.tok_span(self.pos);
        let Some(Tk::Ident(ty)) = self.peek() else {
            return self.expected(
                "parameter type",
                Some(format!("parameters are written `TYPE NAME`; types: {}", type_list())),
            );
        };
        self.pos += 1;
        if self.at_end() || self.is_punct(self.pos, ',') {
            return self.fail(
                span,
                format!("missing type for parameter `{ty}`"),
                Some(format!("parameters are written `TYPE NAME`, e.g. `Task {ty}`")),
            );
        }
        let ty = match ParamType::parse(ty) {
            Some(t) => Spanned::new(t, span),
            None => {
                let help = match closest(ty, ParamType::ALL.iter().map(|t| t.as_str())) {
                    Some(k) => format!("did you mean `{k}`?"),
                    None => format!("expected one of {}", type_list()),
                };
                self.err(Diagnostic::error(span, format!("unknown parameter type `{ty}`")).with_help(help));
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
                    format!("expected `NAME = EXPR;`, `return EXPR;` or `print(...);`, found {found}"),
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
                return self.expected("`:` in conditional expression", Some("write `c ? a : b`".into()));
            }
            self.pos += 1;
            let els = self.expr()?;
            let span = cond.span.to(els.span);
            Expr::new(ExprKind::Ternary(Box::new(cond), Box::new(then), Box::new(els)), span)
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
                    let span = e.span.to(self.tok_span(close));
                    e = Expr::new(ExprKind::Method(Box::new(e), name, args), span);
                } else {
                    let span = e.span.to(name.span);
                    e = Expr::new(ExprKind::Field(Box::new(e), name), span);
                }
            } else if self.is_open(self.pos, '(') {
                return self.fail(
                    self.here(),
                    "unexpected `(` after expression",
                    Some("only a named function can be called: `f(args)` or `x.method(args)`".into()),
                );
            } else {
                break;
            }
        }
        self.depth = saved;
        Ok(e)
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
        let hi = if self.at_end() { None } else { Some(Box::new(self.expr()?)) };
        if !self.at_end() {
            return self.expected("`]` after slice", Some("slices have no step: write `x[a:b]`".into()));
        }
        self.leave(close, saved, "`]`")?;
        Ok(Expr::new(ExprKind::Slice(Box::new(recv), lo, hi), span))
    }

    /// An element of a tuple, index list or argument list: `*` (wildcard), `*e` (splat) or an
    /// expression.
    fn element(&mut self) -> PResult<Expr> {
        if self.is_punct(self.pos, '*') {
            let star = self.tok_span(self.pos);
            if self.pos + 1 >= self.end || self.is_punct(self.pos + 1, ',') {
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
        let i = self.pos;
        let span = self.tok_span(i);
        let Some(tok) = self.peek() else {
            return self.expected("expression", None);
        };
        match tok {
            Tk::Int(v) => {
                self.pos += 1;
                Ok(Expr::new(ExprKind::Int(*v), span))
            }
            Tk::BadLit { .. } => self.bad_literal(),
            Tk::Str(_) => self.fail(
                span,
                "string literal outside `print`",
                Some("strings are only allowed as the format argument of `print(\"...\", ...)`".into()),
            ),
            Tk::Open('(') => {
                let close = self.close(i);
                let full = self.range(i, close);
                let (mut elems, trailing) = self.elements("tuple")?;
                if elems.len() == 1 && !trailing {
                    let mut e = elems.remove(0);
                    e.span = full;
                    Ok(e)
                } else {
                    Ok(Expr::new(ExprKind::Tuple(elems), full))
                }
            }
            Tk::Ident(name) => match name.as_str() {
                "True" | "False" => {
                    self.pos += 1;
                    Ok(Expr::new(ExprKind::Bool(name == "True"), span))
                }
                "Machine" => self.machine(),
                "tuple" => self.tuple_comp(),
                kw if is_keyword(kw) => {
                    self.fail(span, format!("expected expression, found keyword `{kw}`"), None)
                }
                _ => {
                    let id = Spanned::new(name.clone(), span);
                    self.pos += 1;
                    if self.is_open(self.pos, '(') {
                        let close = self.close(self.pos);
                        let args = self.args()?;
                        Ok(Expr::new(ExprKind::Call(id, args), span.to(self.tok_span(close))))
                    } else {
                        Ok(Expr::new(ExprKind::Var(name.clone()), span))
                    }
                }
            },
            Tk::Punct('*', _) => self.expected(
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
            ExprKind::TupleComp { body: Box::new(body), var, iter: Box::new(iter) },
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
    ParamType::ALL.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(", ")
}


#[cfg(test)]
mod tests {
    use super::*;
    use crate::print::{print, print_expr};

    /// Parses text that must be error-free.
    fn ok(src: &str) -> Program {
        let out = parse_text(src);
        assert!(out.diagnostics.is_empty(), "unexpected errors for {src:?}: {:#?}", out.diagnostics);
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

    #[test]
    fn smoke() {
        let p = ok("Task * GPU,CPU;\nmgpu = Machine(GPU);\n");
        assert_eq!(print(&p), "Task * GPU,CPU;\nmgpu = Machine(GPU);\n");
    }
}
