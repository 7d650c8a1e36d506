//! The lexer: `.mapper` text or `mapper!` tokens -> a flat token list. Text goes through
//! `#`-comment stripping and the delimiter pre-scan ([`super::text`]), then
//! `TokenStream::from_str`; every group contributes its open delimiter, its contents and its
//! close delimiter, and literals are classified (integers with `_`, strings, malformed ones).

use crate::diag::Diagnostic;
use crate::span::{Pos, Span};
use crate::text;
use proc_macro2::{Delimiter, Spacing, TokenStream, TokenTree};
use std::str::FromStr;

/// `strip_comments`, the delimiter pre-scan, then `TokenStream::from_str`.
pub(crate) fn tokenize_text(src: &str) -> Result<TokenStream, Vec<Diagnostic>> {
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
pub(crate) enum Tk {
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
pub(crate) struct Token {
    /// The token.
    pub(crate) tk: Tk,
    /// Position of its first character.
    pub(crate) lo: Pos,
    /// Position just past its last character.
    pub(crate) hi: Pos,
}

pub(crate) fn to_pos(lc: proc_macro2::LineColumn) -> Pos {
    Pos {
        line: lc.line as u32,
        col: lc.column as u32 + 1,
    }
}

/// Length of a `#[doc = ...]` / `#![doc = ...]` attribute (what doc comments become) at `i`.
pub(crate) fn doc_attr_len(trees: &[TokenTree], i: usize) -> Option<usize> {
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
pub(crate) fn flatten(ts: TokenStream) -> (Vec<Token>, Vec<proc_macro2::Span>) {
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

pub(crate) fn bad_lit(repr: &str, message: String, help: &str) -> Tk {
    Tk::BadLit {
        repr: repr.to_string(),
        message,
        help: help.to_string(),
    }
}

/// Turns a literal's source text into a token, or into the error it deserves.
pub(crate) fn classify_literal(repr: &str) -> Tk {
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

pub(crate) fn int_literal(repr: &str) -> Tk {
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
pub(crate) fn unescape(s: &str) -> Result<String, ()> {
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
