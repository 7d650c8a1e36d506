//! The text loader's lexical pre-pass for `.mapper` files.
//!
//! [`strip_comments`] blanks out `#` line comments (outside string literals and `//`/`/* */`
//! comments) so that every remaining character keeps its line and column. [`check_delimiters`]
//! then checks delimiter balance, nesting depth and unterminated strings/comments *before* the
//! text is handed to `proc_macro2::TokenStream::from_str`, so those errors get precise positions
//! and clear messages.

use crate::diag::Diagnostic;
use crate::span::{Pos, Span};

/// Deepest delimiter nesting (`(`, `[`, `{`) accepted in mapper text.
pub const MAX_NESTING: usize = 200;

/// What the scanner is inside of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Ordinary tokens.
    Code,
    /// `// ...` up to the end of the line.
    LineComment,
    /// `# ...` up to the end of the line.
    HashComment,
    /// `/* ... */`, with its nesting depth.
    Block(usize),
    /// `"..."`.
    Str,
    /// `r#"..."#` with the number of `#`.
    RawStr(usize),
}

/// One character as classified by [`scan`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Class {
    /// Part of the token stream proper (outside literals and comments).
    Code,
    /// Inside a string or character literal, or a `//`/`/* */` comment.
    Other,
    /// Part of a `#` comment (including the `#`).
    Hash,
}

/// Where an unterminated construct began, if the text ends inside one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Unterminated {
    /// A string literal opened at the position.
    Str(Pos),
    /// A block comment opened at the position.
    Block(Pos),
}

fn is_ident_continue(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Walks `src`, calling `f(char, position, class)` for every character, and reports an
/// unterminated string or block comment at the end.
fn scan(src: &str, mut f: impl FnMut(char, Pos, Class)) -> Option<Unterminated> {
    let chars: Vec<char> = src.chars().collect();
    let mut state = State::Code;
    let mut open_pos = Pos { line: 1, col: 1 };
    let mut line = 1u32;
    let mut col = 1u32;
    let mut i = 0usize;
    let at = |k: usize| chars.get(k).copied();
    while let Some(c) = at(i) {
        let pos = Pos { line, col };
        // How many characters this step consumes, and their class.
        let mut take = 1usize;
        let class;
        match state {
            State::Code => {
                if c == '#' {
                    state = State::HashComment;
                    class = Class::Hash;
                } else if c == '/' && at(i + 1) == Some('/') {
                    state = State::LineComment;
                    class = Class::Other;
                    take = 2;
                } else if c == '/' && at(i + 1) == Some('*') {
                    state = State::Block(1);
                    open_pos = pos;
                    class = Class::Other;
                    take = 2;
                } else if c == '"' {
                    state = State::Str;
                    open_pos = pos;
                    class = Class::Other;
                } else if let Some(n) = raw_string_prefix(&chars, i) {
                    // `r###"`: the prefix letters, the hashes and the quote.
                    state = State::RawStr(n.hashes);
                    open_pos = pos;
                    class = Class::Other;
                    take = n.len;
                } else if c == '\'' {
                    take = char_literal_len(&chars, i);
                    class = if take > 1 { Class::Other } else { Class::Code };
                } else {
                    class = Class::Code;
                }
            }
            State::LineComment | State::HashComment => {
                if c == '\n' {
                    state = State::Code;
                    class = Class::Code;
                } else if state == State::HashComment {
                    class = Class::Hash;
                } else {
                    class = Class::Other;
                }
            }
            State::Block(depth) => {
                class = Class::Other;
                if c == '/' && at(i + 1) == Some('*') {
                    state = State::Block(depth + 1);
                    take = 2;
                } else if c == '*' && at(i + 1) == Some('/') {
                    state = if depth <= 1 {
                        State::Code
                    } else {
                        State::Block(depth - 1)
                    };
                    take = 2;
                }
            }
            State::Str => {
                class = Class::Other;
                if c == '\\' && at(i + 1).is_some() {
                    take = 2;
                } else if c == '"' {
                    state = State::Code;
                }
            }
            State::RawStr(hashes) => {
                class = Class::Other;
                if c == '"' && (1..=hashes).all(|k| at(i + k) == Some('#')) {
                    state = State::Code;
                    take = 1 + hashes;
                }
            }
        }
        for _ in 0..take {
            let Some(ch) = at(i) else { break };
            f(ch, Pos { line, col }, class);
            if ch == '\n' {
                line += 1;
                col = 1;
            } else {
                col += 1;
            }
            i += 1;
        }
    }
    match state {
        State::Str | State::RawStr(_) => Some(Unterminated::Str(open_pos)),
        State::Block(_) => Some(Unterminated::Block(open_pos)),
        _ => None,
    }
}

/// Length and hash count of a raw-string opener (`r"`, `r#"`, `br##"`, `cr"`) at `i`.
struct RawPrefix {
    len: usize,
    hashes: usize,
}

fn raw_string_prefix(chars: &[char], i: usize) -> Option<RawPrefix> {
    if i > 0 && chars.get(i - 1).is_some_and(|&p| is_ident_continue(p)) {
        return None;
    }
    let mut k = i;
    match chars.get(k) {
        Some('b') | Some('c') => {
            k += 1;
            if chars.get(k) != Some(&'r') {
                return None;
            }
        }
        Some('r') => {}
        _ => return None,
    }
    k += 1;
    let mut hashes = 0;
    while chars.get(k) == Some(&'#') {
        hashes += 1;
        k += 1;
    }
    if chars.get(k) == Some(&'"') {
        Some(RawPrefix {
            len: k + 1 - i,
            hashes,
        })
    } else {
        None
    }
}

/// Length of a character literal starting at `i` (`'a'`, `'#'`, `'\n'`, `'\u{41}'`), or 1 when
/// the quote does not start one (a lifetime-like `'a` or a stray quote).
fn char_literal_len(chars: &[char], i: usize) -> usize {
    match chars.get(i + 1) {
        Some('\\') => {
            // Escape: find the closing quote on the same line, within a short distance.
            for k in (i + 3)..(i + 14).min(chars.len()) {
                match chars.get(k) {
                    Some('\'') => return k + 1 - i,
                    Some('\n') | None => return 1,
                    _ => {}
                }
            }
            1
        }
        Some(&c) if c != '\n' && chars.get(i + 2) == Some(&'\'') => 3,
        _ => 1,
    }
}

/// '#' to end-of-line outside string literals is replaced by spaces (same number of chars; the
/// newline kept) so every line/column stays where it was.
pub fn strip_comments(src: &str) -> String {
    let mut out = String::with_capacity(src.len());
    scan(src, |c, _, class| {
        if class == Class::Hash && c != '\n' {
            out.push(' ');
        } else {
            out.push(c);
        }
    });
    out
}

fn point(pos: Pos) -> Span {
    Span {
        lo: pos,
        hi: Pos {
            line: pos.line,
            col: pos.col + 1,
        },
        tok_lo: 0,
        tok_hi: 0,
    }
}

/// If the last `def NAME(...)` before `before` is not followed by `{`, the position just after
/// its `)`: an unexpected `}` there most likely closes a body whose `{` was forgotten.
fn def_without_brace(src: &str, before: Pos) -> Option<Pos> {
    let chars: Vec<(Pos, char)> = {
        let mut v = Vec::new();
        scan(src, |c, pos, class| {
            if class == Class::Code && pos < before {
                v.push((pos, c));
            }
        });
        v
    };
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    let start = (0..chars.len()).rev().find(|&i| {
        chars[i..].iter().map(|x| x.1).take(3).eq("def".chars())
            && (i == 0 || !is_word(chars[i - 1].1))
            && chars.get(i + 3).is_some_and(|x| x.1.is_whitespace())
    })?;
    let open = start + chars[start..].iter().position(|x| x.1 == '(')?;
    let mut depth = 0usize;
    for (j, &(pos, c)) in chars.iter().enumerate().skip(open) {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    let next = chars[j + 1..].iter().find(|x| !x.1.is_whitespace());
                    return match next {
                        Some(&(_, '{')) => None,
                        _ => Some(Pos {
                            line: pos.line,
                            col: pos.col + 1,
                        }),
                    };
                }
            }
            _ => {}
        }
    }
    None
}

/// Checks delimiter balance, nesting depth (at most [`MAX_NESTING`]) and unterminated string
/// literals or block comments in mapper text (after [`strip_comments`]). Returns the problems
/// found; an empty vector means the text can be tokenized. Stops at the first mismatched or
/// unexpected closing delimiter; reports every unclosed one.
pub fn check_delimiters(src: &str) -> Vec<Diagnostic> {
    let mut stack: Vec<(char, Pos)> = Vec::new();
    let mut first_error: Option<Diagnostic> = None;
    let unterminated = scan(src, |c, pos, class| {
        if class != Class::Code || first_error.is_some() {
            return;
        }
        match c {
            '(' | '[' | '{' => {
                stack.push((c, pos));
                if stack.len() > MAX_NESTING {
                    first_error = Some(
                        Diagnostic::error(point(pos), "nesting too deep").with_help(format!(
                            "delimiters `(`, `[` and `{{` may nest at most {MAX_NESTING} levels"
                        )),
                    );
                }
            }
            ')' | ']' | '}' => {
                let want = match c {
                    ')' => '(',
                    ']' => '[',
                    _ => '{',
                };
                match stack.pop() {
                    None => {
                        first_error = Some(match (c, def_without_brace(src, pos)) {
                            ('}', Some(after)) => Diagnostic::error(
                                point(after),
                                "expected `{` after function parameters",
                            )
                            .with_help("function bodies are wrapped in `{ }`"),
                            _ => Diagnostic::error(
                                point(pos),
                                format!("unexpected closing delimiter `{c}`"),
                            )
                            .with_help(format!("no `{want}` is open here; remove this `{c}`")),
                        });
                    }
                    Some((open, open_pos)) if open != want => {
                        first_error = Some(
                            Diagnostic::error(
                                point(pos),
                                format!("mismatched closing delimiter `{c}`"),
                            )
                            .with_help(format!(
                                "the `{open}` opened at {open_pos} must be closed by `{}` first",
                                closer(open)
                            )),
                        );
                    }
                    Some(_) => {}
                }
            }
            _ => {}
        }
    });
    if let Some(d) = first_error {
        return vec![d];
    }
    let mut diags = Vec::new();
    match unterminated {
        Some(Unterminated::Str(pos)) => {
            diags.push(
                Diagnostic::error(point(pos), "unterminated string literal")
                    .with_help("add the closing `\"`"),
            );
        }
        Some(Unterminated::Block(pos)) => {
            diags.push(
                Diagnostic::error(point(pos), "unterminated block comment")
                    .with_help("close the comment with `*/`"),
            );
        }
        None => {}
    }
    for (open, pos) in stack.iter().rev() {
        if diags.len() >= crate::diag::MAX_DIAGNOSTICS {
            break;
        }
        diags.push(
            Diagnostic::error(point(*pos), format!("unclosed delimiter `{open}`"))
                .with_help(format!("add the matching `{}`", closer(*open))),
        );
    }
    diags
}

fn closer(open: char) -> char {
    match open {
        '(' => ')',
        '[' => ']',
        _ => '}',
    }
}

/// The character at a 1-based line/column of `src`, if any.
pub fn char_at(src: &str, pos: Pos) -> Option<char> {
    let line = src.split('\n').nth((pos.line as usize).checked_sub(1)?)?;
    line.chars().nth((pos.col as usize).checked_sub(1)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_hash_comments_keeping_columns() {
        let src = "Task * GPU; # all on GPU\n# whole line\nRegion * * GPU FBMEM;";
        let out = strip_comments(src);
        assert_eq!(
            out,
            "Task * GPU;             \n            \nRegion * * GPU FBMEM;"
        );
        assert_eq!(out.chars().count(), src.chars().count());
    }

    #[test]
    fn keeps_hash_in_strings_and_comments() {
        let src = "print(\"a # b\", x); # c\n// d # e \"\nx = 1; /* # */ y\n";
        let out = strip_comments(src);
        assert_eq!(
            out,
            "print(\"a # b\", x);    \n// d # e \"\nx = 1; /* # */ y\n"
        );
    }

    #[test]
    fn raw_strings_and_escapes() {
        assert_eq!(strip_comments("r#\"a\"# # c"), "r#\"a\"#    ");
        assert_eq!(strip_comments("\"a\\\"#\" #x"), "\"a\\\"#\"   ");
        assert_eq!(strip_comments("'#' #x"), "'#'   ");
        assert_eq!(strip_comments("bar#x\n"), "bar  \n");
        assert_eq!(strip_comments("a # é ü\nb"), "a      \nb");
    }

    #[test]
    fn delimiter_errors() {
        let d = check_delimiters("def f(Task t) {\n  x = (1;\n");
        assert_eq!(d.len(), 2);
        assert_eq!(d[0].message, "unclosed delimiter `(`");
        assert_eq!((d[0].span.lo.line, d[0].span.lo.col), (2, 7));
        assert_eq!(d[1].message, "unclosed delimiter `{`");
        assert_eq!((d[1].span.lo.line, d[1].span.lo.col), (1, 15));

        let d = check_delimiters("Task * GPU;\n}\n");
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].message, "unexpected closing delimiter `}`");
        assert_eq!((d[0].span.lo.line, d[0].span.lo.col), (2, 1));

        let d = check_delimiters("x = (1];");
        assert_eq!(d[0].message, "mismatched closing delimiter `]`");
        assert_eq!(
            d[0].help.as_deref(),
            Some("the `(` opened at 1:5 must be closed by `)` first")
        );

        let d = check_delimiters("x = \"abc;\n");
        assert_eq!(d[0].message, "unterminated string literal");
        assert_eq!((d[0].span.lo.line, d[0].span.lo.col), (1, 5));

        let d = check_delimiters("x /* abc");
        assert_eq!(d[0].message, "unterminated block comment");

        assert!(check_delimiters("x = \"(\"; // )\n/* ] */ y = ('(');").is_empty());
    }

    #[test]
    fn nesting_limit() {
        let ok = "(".repeat(MAX_NESTING) + &")".repeat(MAX_NESTING);
        assert!(check_delimiters(&ok).is_empty());
        let deep = "(".repeat(MAX_NESTING + 1) + &")".repeat(MAX_NESTING + 1);
        let d = check_delimiters(&deep);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].message, "nesting too deep");
        assert_eq!(d[0].span.lo.col, MAX_NESTING as u32 + 1);
    }

    #[test]
    fn char_at_positions() {
        assert_eq!(char_at("ab\ncd", Pos { line: 2, col: 2 }), Some('d'));
        assert_eq!(char_at("ab\ncd", Pos { line: 3, col: 1 }), None);
        assert_eq!(char_at("ab", Pos { line: 0, col: 1 }), None);
    }
}
