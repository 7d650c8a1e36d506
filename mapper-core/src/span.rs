//! Source positions. Every AST node carries a [`Span`]: a line/column range for text diagnostics
//! and a token-index range so the `mapper!` macro can map a diagnostic back onto the exact
//! `proc_macro2::Span` of the tokens it covers.

use std::fmt;

/// A 1-based line and 1-based column (in characters).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pos {
    /// 1-based line number.
    pub line: u32,
    /// 1-based column number, counted in characters.
    pub col: u32,
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}

/// A source range. Equality of spans is always `true` so that ASTs compare by structure only
/// (this is what makes `parse(print(ast)) == ast` meaningful), as `syn` does.
#[derive(Clone, Copy, Debug, Default)]
pub struct Span {
    /// Start position (inclusive).
    pub lo: Pos,
    /// End position (exclusive).
    pub hi: Pos,
    /// Index of the first token covered, in the parser's flattened token list.
    pub tok_lo: u32,
    /// Index of the last token covered (inclusive).
    pub tok_hi: u32,
}

impl Span {
    /// A span covering both `self` and `other`.
    pub fn to(self, other: Span) -> Span {
        Span {
            lo: self.lo.min(other.lo),
            hi: self.hi.max(other.hi),
            tok_lo: self.tok_lo.min(other.tok_lo),
            tok_hi: self.tok_hi.max(other.tok_hi),
        }
    }
}

impl PartialEq for Span {
    fn eq(&self, _: &Span) -> bool {
        true
    }
}
impl Eq for Span {}

/// A value with a span.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spanned<T> {
    /// The value.
    pub node: T,
    /// Where it was written.
    pub span: Span,
}

impl<T> Spanned<T> {
    /// Wraps `node` with `span`.
    pub fn new(node: T, span: Span) -> Self {
        Spanned { node, span }
    }
}

/// An identifier with its span.
pub type Ident = Spanned<String>;
