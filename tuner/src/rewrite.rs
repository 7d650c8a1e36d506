//! `--write`: replace the body of an application's `mapper!` invocation with a new mapper.
//!
//! The Rust source is scanned with a small lexer that knows comments (nested block comments
//! too), string, raw-string, byte-string and char literals and lifetimes, so `mapper!` inside a
//! comment or a string is never taken for the invocation. The invocation is
//! `mapper! { [pub] NAME [for PATH]; BODY }` (also with `( )` or `[ ]`); only BODY changes, every
//! other byte of the file stays as it was. The new text is canonicalized with mapper-core first,
//! the file is replaced atomically (temporary file in the same directory, fsync, rename), then a
//! verification command runs (by default `cargo check -p APP`); if it fails, the original bytes
//! are restored and the compiler output is returned.

use crate::validate::canonicalize;
use std::ffi::OsString;
use std::io::{Read as _, Write as _};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Why a rewrite failed.
#[derive(Debug, thiserror::Error)]
pub enum RewriteError {
    /// Reading or writing a file failed.
    #[error("cannot {op} {path}: {source}")]
    Io {
        /// What was being done (`read`, `write`).
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// No `mapper!` invocation with that name.
    #[error("no `mapper!` invocation named `{name}` in {file}{}", found_text(.found))]
    NotFound {
        /// The mapper type name looked for.
        name: String,
        /// The file searched.
        file: String,
        /// Names of the invocations that were found.
        found: Vec<String>,
    },
    /// More than one invocation with that name.
    #[error("{count} `mapper!` invocations are named `{name}` in {file}; rename one so the target is unambiguous")]
    Ambiguous {
        /// The mapper type name.
        name: String,
        /// The file searched.
        file: String,
        /// How many were found.
        count: usize,
    },
    /// The Rust source could not be scanned (e.g. an unclosed delimiter).
    #[error("{file}:{line}: {message}")]
    Malformed {
        /// The file.
        file: String,
        /// 1-based line of the problem.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// The new mapper does not parse.
    #[error("the new mapper is not valid, nothing was written:\n{0}")]
    InvalidMapper(String),
    /// The verification command failed; the original file was restored (or could not be).
    #[error("{command} failed after rewriting {path}; {restore}\n{output}")]
    VerificationFailed {
        /// The file.
        path: PathBuf,
        /// The verification command, for the message.
        command: String,
        /// Its output (stdout and stderr).
        output: String,
        /// Whether the original was restored, in words.
        restore: String,
        /// True if the original bytes are back in place.
        restored: bool,
    },
}

fn found_text(found: &[String]) -> String {
    if found.is_empty() {
        "; the file has no `mapper! { NAME; ... }` invocation".to_string()
    } else {
        format!("; found: {}", found.join(", "))
    }
}

/// One `mapper!` invocation in a Rust source file (byte ranges into the source).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapperSite {
    /// The mapper type name from the header.
    pub name: String,
    /// From the `mapper` identifier to the closing delimiter, inclusive.
    pub invocation: Range<usize>,
    /// The header, from after the opening delimiter through its `;`.
    pub header: Range<usize>,
    /// The DSL body: after the header's `;` up to the closing delimiter (exclusive).
    pub body: Range<usize>,
    /// The opening delimiter: `{`, `(` or `[`.
    pub delimiter: char,
}

/// A token of the Rust lexer (only what the search needs).
#[derive(Clone, Debug, PartialEq, Eq)]
enum Tok {
    Ident(Range<usize>),
    Punct(char, usize),
    Open(char, usize),
    Close(char, usize),
    Literal,
}

/// A lexing error at a byte offset.
struct LexError {
    at: usize,
    message: String,
}

/// Splits Rust source into identifiers, punctuation, delimiters and literals; comments vanish.
fn lex(src: &str) -> Result<Vec<Tok>, LexError> {
    let b = src.as_bytes();
    let n = b.len();
    let mut toks = Vec::new();
    let mut i = 0;
    let is_ident_start = |c: u8| c.is_ascii_alphabetic() || c == b'_' || c >= 0x80;
    let is_ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80;
    while i < n {
        let c = b[i];
        let next = b.get(i + 1).copied();
        if c.is_ascii_whitespace() {
            i += 1;
        } else if c == b'/' && next == Some(b'/') {
            while i < n && b[i] != b'\n' {
                i += 1;
            }
        } else if c == b'/' && next == Some(b'*') {
            let start = i;
            let mut depth = 0usize;
            while i < n {
                if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                    depth += 1;
                    i += 2;
                } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            if depth > 0 {
                return Err(LexError {
                    at: start,
                    message: "unterminated block comment".into(),
                });
            }
        } else if c == b'"' {
            i = skip_string(b, i)?;
            toks.push(Tok::Literal);
        } else if c == b'\'' {
            i = skip_quote(b, i)?;
        } else if is_ident_start(c) {
            let start = i;
            while i < n && is_ident(b[i]) {
                i += 1;
            }
            let word = &src[start..i];
            let after = b.get(i).copied();
            // Raw strings r"..", r#".."#, br"..", cr#".."#; byte/C strings b"..", c"..".
            if matches!(word, "r" | "br" | "cr") && matches!(after, Some(b'"') | Some(b'#')) {
                let mut j = i;
                while j < n && b[j] == b'#' {
                    j += 1;
                }
                if b.get(j) == Some(&b'"') {
                    i = skip_raw_string(b, start, j, j - i)?;
                    toks.push(Tok::Literal);
                    continue;
                }
                if word == "r" && j == i + 1 && b.get(j).is_some_and(|&c| is_ident_start(c)) {
                    // Raw identifier r#name.
                    let s = j;
                    i = j;
                    while i < n && is_ident(b[i]) {
                        i += 1;
                    }
                    toks.push(Tok::Ident(s..i));
                    continue;
                }
            }
            if matches!(word, "b" | "c") && after == Some(b'"') {
                i = skip_string(b, i)?;
                toks.push(Tok::Literal);
                continue;
            }
            if word == "b" && after == Some(b'\'') {
                i = skip_quote(b, i)?;
                continue;
            }
            toks.push(Tok::Ident(start..i));
        } else if c.is_ascii_digit() {
            while i < n
                && (is_ident(b[i])
                    || (b[i] == b'.' && b.get(i + 1).is_some_and(u8::is_ascii_digit)))
            {
                i += 1;
            }
            toks.push(Tok::Literal);
        } else if matches!(c, b'{' | b'(' | b'[') {
            toks.push(Tok::Open(c as char, i));
            i += 1;
        } else if matches!(c, b'}' | b')' | b']') {
            toks.push(Tok::Close(c as char, i));
            i += 1;
        } else {
            // Punctuation (multi-byte characters only occur in identifiers, strings, comments).
            toks.push(Tok::Punct(c as char, i));
            i += 1;
        }
    }
    Ok(toks)
}

/// Skips a `"..."` string starting at `i` (the quote); returns the offset after it.
fn skip_string(b: &[u8], i: usize) -> Result<usize, LexError> {
    let mut j = i + 1;
    while j < b.len() {
        match b[j] {
            b'\\' => j += 2,
            b'"' => return Ok(j + 1),
            _ => j += 1,
        }
    }
    Err(LexError {
        at: i,
        message: "unterminated string literal".into(),
    })
}

/// Skips `r#"..."#` whose quote is at `q`, with `hashes` hashes.
fn skip_raw_string(b: &[u8], start: usize, q: usize, hashes: usize) -> Result<usize, LexError> {
    let mut j = q + 1;
    while j < b.len() {
        if b[j] == b'"'
            && b.len() >= j + 1 + hashes
            && b[j + 1..j + 1 + hashes].iter().all(|&h| h == b'#')
        {
            return Ok(j + 1 + hashes);
        }
        j += 1;
    }
    Err(LexError {
        at: start,
        message: "unterminated raw string literal".into(),
    })
}

/// Skips a char literal (`'a'`, `'\n'`, `'\u{1F600}'`) or a lifetime (`'a`) starting at `i`.
fn skip_quote(b: &[u8], i: usize) -> Result<usize, LexError> {
    let q = if b.get(i) == Some(&b'b') { i + 1 } else { i };
    match b.get(q + 1) {
        Some(b'\\') => {
            let mut j = q + 2;
            while j < b.len() && j < q + 16 {
                if b[j] == b'\'' && j > q + 2 {
                    return Ok(j + 1);
                }
                j += 1;
            }
            Err(LexError {
                at: i,
                message: "unterminated char literal".into(),
            })
        }
        Some(&c) => {
            // One (possibly multi-byte) character followed by a quote is a char literal.
            let len = utf8_len(c);
            if b.get(q + 1 + len) == Some(&b'\'') {
                Ok(q + 2 + len)
            } else {
                Ok(q + 1) // a lifetime or label: the identifier is lexed next
            }
        }
        None => Ok(q + 1),
    }
}

fn utf8_len(first: u8) -> usize {
    match first {
        0xF0..=0xFF => 4,
        0xE0..=0xEF => 3,
        0xC0..=0xDF => 2,
        _ => 1,
    }
}

/// 1-based line of a byte offset.
fn line_of(src: &str, at: usize) -> usize {
    src.as_bytes()
        .iter()
        .take(at)
        .filter(|&&c| c == b'\n')
        .count()
        + 1
}

/// Every `mapper!` invocation with a `[pub] NAME [for PATH];` header, in source order.
pub fn find_mappers(src: &str, file: &str) -> Result<Vec<MapperSite>, RewriteError> {
    let malformed = |at: usize, message: String| RewriteError::Malformed {
        file: file.to_string(),
        line: line_of(src, at),
        message,
    };
    let toks = lex(src).map_err(|e| malformed(e.at, e.message))?;
    let ident = |t: &Tok| match t {
        Tok::Ident(r) => Some(&src[r.clone()]),
        _ => None,
    };
    let mut sites = Vec::new();
    let mut k = 0;
    while k + 2 < toks.len() {
        let (Tok::Ident(name_r), Tok::Punct('!', _), Tok::Open(d, open_at)) =
            (&toks[k], &toks[k + 1], &toks[k + 2])
        else {
            k += 1;
            continue;
        };
        if &src[name_r.clone()] != "mapper" {
            k += 1;
            continue;
        }
        // Find the matching closing delimiter.
        let mut stack = vec![*d];
        let mut j = k + 3;
        let mut close_at = None;
        while j < toks.len() {
            match &toks[j] {
                Tok::Open(o, _) => stack.push(*o),
                Tok::Close(c, at) => {
                    let want = match stack.pop() {
                        Some('{') => '}',
                        Some('(') => ')',
                        _ => ']',
                    };
                    if *c != want {
                        return Err(malformed(
                            *at,
                            format!("mismatched `{c}` (expected `{want}`)"),
                        ));
                    }
                    if stack.is_empty() {
                        close_at = Some((*at, j));
                        break;
                    }
                }
                _ => {}
            }
            j += 1;
        }
        let Some((close_at, close_k)) = close_at else {
            return Err(malformed(
                *open_at,
                "unclosed `mapper!` invocation".to_string(),
            ));
        };
        // Header: [pub [(..)]] NAME [for PATH] ;
        let inner = &toks[k + 3..close_k];
        let mut h = 0;
        if inner.first().and_then(ident) == Some("pub") {
            h += 1;
            if let Some(Tok::Open('(', _)) = inner.get(h) {
                while h < inner.len() && !matches!(inner[h], Tok::Close(')', _)) {
                    h += 1;
                }
                h += 1;
            }
        }
        let name = inner.get(h).and_then(ident).map(str::to_string);
        h += 1;
        let header_ok = match inner.get(h) {
            Some(Tok::Punct(';', _)) => true,
            Some(t) if ident(t) == Some("for") => {
                while h < inner.len() && !matches!(inner[h], Tok::Punct(';', _) | Tok::Open(..)) {
                    h += 1;
                }
                matches!(inner.get(h), Some(Tok::Punct(';', _)))
            }
            _ => false,
        };
        if let (Some(name), true, Some(Tok::Punct(';', semi))) = (name, header_ok, inner.get(h)) {
            sites.push(MapperSite {
                name,
                invocation: name_r.start..close_at + 1,
                header: open_at + 1..semi + 1,
                body: semi + 1..close_at,
                delimiter: *d,
            });
        }
        k = close_k + 1;
    }
    Ok(sites)
}

/// The unique invocation named `name`.
pub fn find_mapper(src: &str, file: &str, name: &str) -> Result<MapperSite, RewriteError> {
    let sites = find_mappers(src, file)?;
    let mut matching: Vec<&MapperSite> = sites.iter().filter(|s| s.name == name).collect();
    match matching.len() {
        1 => Ok(matching.remove(0).clone()),
        0 => Err(RewriteError::NotFound {
            name: name.to_string(),
            file: file.to_string(),
            found: sites.iter().map(|s| s.name.clone()).collect(),
        }),
        count => Err(RewriteError::Ambiguous {
            name: name.to_string(),
            file: file.to_string(),
            count,
        }),
    }
}

/// The source with the body of mapper `name` replaced by `text` (used verbatim, indented).
pub fn replace_body(src: &str, file: &str, name: &str, text: &str) -> Result<String, RewriteError> {
    let site = find_mapper(src, file, name)?;
    let nl = if src.contains("\r\n") { "\r\n" } else { "\n" };
    let line_start = src[..site.invocation.start]
        .rfind('\n')
        .map_or(0, |p| p + 1);
    let base: String = src[line_start..site.invocation.start]
        .chars()
        .take_while(|c| *c == ' ' || *c == '\t')
        .collect();
    // Keep the body's own indentation if it has one, else the base plus four spaces.
    let old_body = &src[site.body.clone()];
    let indent = old_body
        .split('\n')
        .skip(1)
        .find(|l| !l.trim().is_empty())
        .map(|l| {
            l.chars()
                .take_while(|c| *c == ' ' || *c == '\t')
                .collect::<String>()
        })
        .filter(|i| i.len() > base.len())
        .unwrap_or_else(|| format!("{base}    "));
    let mut body = String::new();
    for line in text.lines() {
        body.push_str(nl);
        if !line.trim().is_empty() {
            body.push_str(&indent);
            body.push_str(line.trim_end());
        }
    }
    body.push_str(nl);
    body.push_str(&base);
    let mut out = String::with_capacity(src.len() + body.len());
    out.push_str(&src[..site.body.start]);
    out.push_str(&body);
    out.push_str(&src[site.body.end..]);
    Ok(out)
}

/// Replaces `path` with `bytes` atomically: temporary file in the same directory, fsync,
/// permissions of the old file, rename over it, fsync of the directory.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{file_name}."))
        .suffix(".tmp")
        .tempfile_in(&dir)?;
    tmp.write_all(bytes)?;
    if let Ok(meta) = std::fs::metadata(path) {
        tmp.as_file().set_permissions(meta.permissions())?;
    }
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    // Make the rename durable; not all platforms can open a directory, so this is best effort.
    if let Ok(d) = std::fs::File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Checks the rewritten source (usually by compiling it).
pub trait Verify {
    /// `Ok` if the source is acceptable, else the output explaining why not.
    fn verify(&self) -> Result<(), String>;
    /// The command, for messages.
    fn describe(&self) -> String;
}

impl<F: Fn() -> Result<(), String>> Verify for F {
    fn verify(&self) -> Result<(), String> {
        self()
    }
    fn describe(&self) -> String {
        "verification".to_string()
    }
}

/// Runs a command in a directory; success means exit status 0 within the time limit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommandVerifier {
    /// The program.
    pub program: OsString,
    /// Its arguments.
    pub args: Vec<OsString>,
    /// Working directory.
    pub dir: PathBuf,
    /// Time limit; the command is killed after it.
    pub timeout: Duration,
}

impl CommandVerifier {
    /// `cargo check -p PACKAGE` in `dir` (10 minute limit).
    pub fn cargo_check(dir: impl Into<PathBuf>, package: &str) -> Self {
        CommandVerifier {
            program: "cargo".into(),
            args: vec![
                "check".into(),
                "-p".into(),
                package.into(),
                "--message-format=short".into(),
            ],
            dir: dir.into(),
            timeout: Duration::from_secs(600),
        }
    }

    /// Any command in `dir`.
    pub fn new<I, S>(program: impl Into<OsString>, args: I, dir: impl Into<PathBuf>) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        CommandVerifier {
            program: program.into(),
            args: args.into_iter().map(Into::into).collect(),
            dir: dir.into(),
            timeout: Duration::from_secs(600),
        }
    }
}

impl Verify for CommandVerifier {
    fn verify(&self) -> Result<(), String> {
        let mut child = Command::new(&self.program)
            .args(&self.args)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run `{}`: {e}", self.describe()))?;
        let reader = |pipe: Option<Box<dyn std::io::Read + Send>>| {
            std::thread::spawn(move || {
                let mut s = Vec::new();
                if let Some(mut p) = pipe {
                    let _ = p.read_to_end(&mut s);
                }
                String::from_utf8_lossy(&s).into_owned()
            })
        };
        let out = reader(
            child
                .stdout
                .take()
                .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
        );
        let err = reader(
            child
                .stderr
                .take()
                .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
        );
        let start = Instant::now();
        let status = loop {
            match child.try_wait() {
                Ok(Some(s)) => break Ok(s),
                Ok(None) if start.elapsed() >= self.timeout => {
                    let _ = child.kill();
                    let _ = child.wait();
                    break Err(format!(
                        "`{}` did not finish within {} s and was killed",
                        self.describe(),
                        self.timeout.as_secs()
                    ));
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                Err(e) => break Err(format!("cannot wait for `{}`: {e}", self.describe())),
            }
        };
        let mut output = out.join().unwrap_or_default();
        output.push_str(&err.join().unwrap_or_default());
        match status {
            Ok(s) if s.success() => Ok(()),
            Ok(s) => Err(format!("`{}` exited with {s}\n{output}", self.describe())),
            Err(e) => Err(format!("{e}\n{output}")),
        }
    }

    fn describe(&self) -> String {
        let mut s = self.program.to_string_lossy().into_owned();
        for a in &self.args {
            s.push(' ');
            s.push_str(&a.to_string_lossy());
        }
        s
    }
}

/// What a successful rewrite did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RewriteOutcome {
    /// The file.
    pub path: PathBuf,
    /// The canonical mapper text the body now holds.
    pub mapper: String,
    /// False if the body already held this program (nothing was written or verified).
    pub changed: bool,
    /// A unified diff of the file (empty when unchanged).
    pub diff: String,
    /// True when the statements were edited in place (comments and unchanged statements
    /// kept); false when the whole body had to be replaced.
    pub minimal: bool,
}

/// The text of the mapper a file holds: the whole file for a `.mapper` file, else the body of
/// the `mapper!` invocation named `name`.
pub fn mapper_text_in(path: &Path, name: &str) -> Result<String, RewriteError> {
    let file = path.display().to_string();
    let src = std::fs::read_to_string(path).map_err(|source| RewriteError::Io {
        op: "read",
        path: path.to_path_buf(),
        source,
    })?;
    if is_mapper_file(path) {
        return Ok(src);
    }
    let site = find_mapper(&src, &file, name)?;
    Ok(src[site.body].to_string())
}

fn is_mapper_file(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "mapper")
}

/// The source with the mapper (a `.mapper` file's whole text, or the body of the `mapper!`
/// named `name`) changed to the program `canonical` by the smallest edit, and whether that
/// edit kept the rest (see [`minimal_edit`]); else the body is replaced whole.
pub fn edit_source(
    src: &str,
    file: &str,
    mapper_file: bool,
    name: &str,
    canonical: &str,
) -> Result<(String, bool), RewriteError> {
    if mapper_file {
        return Ok(match minimal_edit(src, canonical) {
            Some(t) => (t, true),
            None => (canonical.to_string(), false),
        });
    }
    let site = find_mapper(src, file, name)?;
    let body = &src[site.body.clone()];
    match minimal_edit(body, canonical) {
        Some(new_body) => {
            let mut out = String::with_capacity(src.len() + 256);
            out.push_str(&src[..site.body.start]);
            out.push_str(&new_body);
            out.push_str(&src[site.body.end..]);
            Ok((out, true))
        }
        None => Ok((replace_body(src, file, name, canonical)?, false)),
    }
}

/// The backup kept beside `path` while a rewrite is being verified.
pub fn backup_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!("{name}.tune-backup"))
}

/// Changes the mapper in `path` (a `.mapper` file, or the body of the `mapper!` named `name`
/// in Rust source) to the program of `mapper_text` by the smallest textual edit, then verifies.
/// The original is copied to [`backup_path`] first; the backup is removed once verification
/// passes; if it fails, the original bytes are put back (and the backup removed).
pub fn rewrite_mapper(
    path: &Path,
    name: &str,
    mapper_text: &str,
    verifier: &dyn Verify,
) -> Result<RewriteOutcome, RewriteError> {
    let file = path.display().to_string();
    let canonical = canonicalize(mapper_text).map_err(RewriteError::InvalidMapper)?;
    let original = std::fs::read(path).map_err(|source| RewriteError::Io {
        op: "read",
        path: path.to_path_buf(),
        source,
    })?;
    let src = String::from_utf8(original.clone()).map_err(|e| RewriteError::Malformed {
        file: file.clone(),
        line: line_of(
            &String::from_utf8_lossy(&original),
            e.utf8_error().valid_up_to(),
        ),
        message: "the file is not valid UTF-8".to_string(),
    })?;
    let current = if is_mapper_file(path) {
        src.clone()
    } else {
        src[find_mapper(&src, &file, name)?.body].to_string()
    };
    if canonicalize(&current).ok().as_deref() == Some(canonical.as_str()) {
        return Ok(RewriteOutcome {
            path: path.to_path_buf(),
            mapper: canonical,
            changed: false,
            diff: String::new(),
            minimal: true,
        });
    }
    let (new_src, minimal) = edit_source(&src, &file, is_mapper_file(path), name, &canonical)?;
    let diff = unified_diff(&src, &new_src, &file);
    let backup = backup_path(path);
    std::fs::write(&backup, &original).map_err(|source| RewriteError::Io {
        op: "write the backup",
        path: backup.clone(),
        source,
    })?;
    if let Err(source) = write_atomic(path, new_src.as_bytes()) {
        let _ = std::fs::remove_file(&backup);
        return Err(RewriteError::Io {
            op: "write",
            path: path.to_path_buf(),
            source,
        });
    }
    if let Err(output) = verifier.verify() {
        let (restore, restored) = match write_atomic(path, &original) {
            Ok(()) => {
                let _ = std::fs::remove_file(&backup);
                ("the original file was restored".to_string(), true)
            }
            Err(e) => (
                format!(
                    "restoring the original failed: {e}; it is kept in {}",
                    backup.display()
                ),
                false,
            ),
        };
        return Err(RewriteError::VerificationFailed {
            path: path.to_path_buf(),
            command: verifier.describe(),
            output,
            restore,
            restored,
        });
    }
    let _ = std::fs::remove_file(&backup);
    Ok(RewriteOutcome {
        path: path.to_path_buf(),
        mapper: canonical,
        changed: true,
        diff,
        minimal,
    })
}

/// The span of a top-level statement.
fn stmt_span(s: &mapper_core::ast::Stmt) -> mapper_core::span::Span {
    use mapper_core::ast::Stmt;
    match s {
        Stmt::Task { span, .. }
        | Stmt::Region { span, .. }
        | Stmt::Layout { span, .. }
        | Stmt::InstanceLimit { span, .. }
        | Stmt::CollectMemory { span, .. }
        | Stmt::IndexTaskMap { span, .. }
        | Stmt::SingleTaskMap { span, .. }
        | Stmt::ControlReplicate { span, .. }
        | Stmt::Assign { span, .. } => *span,
        Stmt::Def(f) => f.span,
    }
}

/// Byte offset of a 1-based line/column (columns counted in characters) in `text`.
fn offset_of(text: &str, line_starts: &[usize], pos: mapper_core::span::Pos) -> usize {
    let Some(&start) = line_starts.get((pos.line as usize).saturating_sub(1)) else {
        return text.len();
    };
    let line_end = text[start..].find('\n').map_or(text.len(), |e| start + e);
    text[start..line_end]
        .char_indices()
        .nth((pos.col as usize).saturating_sub(1))
        .map_or(line_end, |(i, _)| start + i)
}

/// The top-level statements of a mapper text: canonical text and the byte range it is written
/// in (through its `;` or closing `}`).
fn statements(text: &str) -> Result<Vec<(String, Range<usize>)>, String> {
    let out = mapper_core::parse::parse_text(text);
    if out.diagnostics.iter().any(|d| d.is_error()) {
        return Err(mapper_core::diag::render_all(
            &out.diagnostics,
            "mapper",
            text,
        ));
    }
    let mut line_starts = vec![0];
    line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
    let mut v = Vec::new();
    for s in &out.program.stmts {
        let sp = stmt_span(s);
        let lo = offset_of(text, &line_starts, sp.lo);
        let mut hi = offset_of(text, &line_starts, sp.hi).max(lo);
        // Include a `;` the span stops short of.
        let rest = &text[hi..];
        let trimmed = rest.trim_start_matches([' ', '\t']);
        if !text[lo..hi].trim_end().ends_with([';', '}']) && trimmed.starts_with(';') {
            hi += rest.len() - trimmed.len() + 1;
        }
        v.push((mapper_core::print::print_stmt(s), lo..hi));
    }
    Ok(v)
}

/// One step of a line or statement diff.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    Keep(usize, usize),
    Del(usize),
    Ins(usize),
}

/// A shortest edit script between `a` and `b` (longest common subsequence).
fn lcs_script<T: PartialEq>(a: &[T], b: &[T]) -> Vec<Step> {
    // The common prefix and suffix are kept as they are; the table covers the middle only.
    let pre = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let suf = a[pre..]
        .iter()
        .rev()
        .zip(b[pre..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let mut out: Vec<Step> = (0..pre).map(|i| Step::Keep(i, i)).collect();
    let (am, bm) = (&a[pre..a.len() - suf], &b[pre..b.len() - suf]);
    for s in lcs_middle(am, bm) {
        out.push(match s {
            Step::Keep(i, j) => Step::Keep(i + pre, j + pre),
            Step::Del(i) => Step::Del(i + pre),
            Step::Ins(j) => Step::Ins(j + pre),
        });
    }
    let (an, bn) = (a.len() - suf, b.len() - suf);
    out.extend((0..suf).map(|k| Step::Keep(an + k, bn + k)));
    out
}

fn lcs_middle<T: PartialEq>(a: &[T], b: &[T]) -> Vec<Step> {
    let (n, m) = (a.len(), b.len());
    let mut t = vec![0u32; (n + 1) * (m + 1)];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            t[i * (m + 1) + j] = if a[i] == b[j] {
                t[(i + 1) * (m + 1) + j + 1] + 1
            } else {
                t[(i + 1) * (m + 1) + j].max(t[i * (m + 1) + j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::new();
    while i < n || j < m {
        if i < n && j < m && a[i] == b[j] {
            out.push(Step::Keep(i, j));
            i += 1;
            j += 1;
        } else if i < n && (j == m || t[(i + 1) * (m + 1) + j] >= t[i * (m + 1) + j + 1]) {
            out.push(Step::Del(i));
            i += 1;
        } else {
            out.push(Step::Ins(j));
            j += 1;
        }
    }
    out
}

/// Leading spaces and tabs of the line holding byte `at`.
fn indent_at(text: &str, at: usize) -> String {
    let start = text[..at].rfind('\n').map_or(0, |p| p + 1);
    text[start..]
        .chars()
        .take_while(|c| *c == ' ' || *c == '\t')
        .collect()
}

/// A canonical statement (possibly several lines) indented by `indent` after its first line.
fn indented(stmt: &str, indent: &str, nl: &str) -> String {
    let mut out = String::new();
    for (k, line) in stmt.trim_end().lines().enumerate() {
        if k > 0 {
            out.push_str(nl);
            if !line.trim().is_empty() {
                out.push_str(indent);
            }
        }
        out.push_str(line.trim_end());
    }
    out
}

/// The smallest textual edit of a mapper text `old` (comments, blank lines and unchanged
/// statements kept byte for byte) whose program is the canonical text `new`: statements are
/// matched by their canonical form; a changed statement is replaced where it was written
/// (comments above it stay), removed ones are cut out with their line when nothing else is on
/// it, added ones go on new lines after the statement before them. `None` when `old` does not
/// parse or has no statement to anchor the edit (then the caller replaces the whole body).
pub fn minimal_edit(old: &str, new: &str) -> Option<String> {
    let olds = statements(old).ok()?;
    let news = statements(new).ok()?;
    if olds.is_empty() {
        return None;
    }
    let nl = if old.contains("\r\n") { "\r\n" } else { "\n" };
    let a: Vec<&str> = olds.iter().map(|(t, _)| t.as_str()).collect();
    let b: Vec<&str> = news.iter().map(|(t, _)| t.as_str()).collect();
    let script = lcs_script(&a, &b);
    // (range of `old`, replacement), in increasing order.
    let mut edits: Vec<(Range<usize>, String)> = Vec::new();
    let mut k = 0;
    // The last old statement kept or replaced: where insertions go.
    let mut anchor: Option<usize> = None;
    while k < script.len() {
        match script[k] {
            Step::Keep(i, _) => {
                anchor = Some(i);
                k += 1;
            }
            _ => {
                // A run of deletions and insertions between kept statements.
                let mut dels = Vec::new();
                let mut inss = Vec::new();
                while k < script.len() && !matches!(script[k], Step::Keep(..)) {
                    match script[k] {
                        Step::Del(i) => dels.push(i),
                        Step::Ins(j) => inss.push(j),
                        Step::Keep(..) => {}
                    }
                    k += 1;
                }
                let mut inss = inss.into_iter().peekable();
                for &i in &dels {
                    let r = olds[i].1.clone();
                    let indent = indent_at(old, r.start);
                    match inss.next() {
                        Some(j) => {
                            edits.push((r, indented(&news[j].0, &indent, nl)));
                            anchor = Some(i);
                        }
                        None => {
                            // Remove the statement, and its line if nothing else is on it.
                            let ls = old[..r.start].rfind('\n').map_or(0, |p| p + 1);
                            let le = old[r.end..].find('\n').map_or(old.len(), |p| r.end + p);
                            let alone = old[ls..r.start].trim().is_empty()
                                && old[r.end..le].trim().is_empty();
                            if alone && le < old.len() {
                                edits.push((ls..le + 1, String::new()));
                            } else {
                                edits.push((r, String::new()));
                            }
                        }
                    }
                }
                let rest: Vec<usize> = inss.collect();
                if !rest.is_empty() {
                    let (at, indent) = match anchor {
                        Some(i) => {
                            let r = &olds[i].1;
                            let le = old[r.end..].find('\n').map_or(old.len(), |p| r.end + p);
                            (le, indent_at(old, r.start))
                        }
                        None => {
                            let r = &olds[0].1;
                            let ls = old[..r.start].rfind('\n').map_or(0, |p| p + 1);
                            (ls, indent_at(old, r.start))
                        }
                    };
                    let mut text = String::new();
                    for j in rest {
                        let s = indented(&news[j].0, &indent, nl);
                        if anchor.is_some() {
                            text.push_str(nl);
                            text.push_str(&indent);
                            text.push_str(&s);
                        } else {
                            text.push_str(&indent);
                            text.push_str(&s);
                            text.push_str(nl);
                        }
                    }
                    edits.push((at..at, text));
                }
            }
        }
    }
    edits.sort_by_key(|(r, _)| (r.start, r.end));
    let mut out = String::with_capacity(old.len() + 256);
    let mut pos = 0;
    for (r, text) in edits {
        if r.start < pos {
            return None;
        }
        out.push_str(&old[pos..r.start]);
        out.push_str(&text);
        pos = r.end;
    }
    out.push_str(&old[pos..]);
    // A statement removed at the end leaves no blank line behind: the trailing whitespace is
    // the original's.
    let trailing = |t: &str| t.len() - t.trim_end().len();
    let (ot, nt) = (trailing(old), trailing(&out));
    if out[out.len() - nt..].matches('\n').count() > old[old.len() - ot..].matches('\n').count() {
        out.truncate(out.len() - nt);
        out.push_str(&old[old.len() - ot..]);
    }
    // The edit must give exactly the new program.
    let printed = mapper_core::print::print(&mapper_core::parse::parse_text(&out).program);
    (printed == mapper_core::print::print(&mapper_core::parse::parse_text(new).program))
        .then_some(out)
}

/// A unified diff (3 lines of context) of `old` and `new`, both called `path`; empty when they
/// are equal.
pub fn unified_diff(old: &str, new: &str, path: &str) -> String {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    if a == b {
        return String::new();
    }
    let script = lcs_script(&a, &b);
    // Indices of changed steps, grouped into hunks with 3 lines of context.
    let changed: Vec<usize> = script
        .iter()
        .enumerate()
        .filter(|(_, s)| !matches!(s, Step::Keep(..)))
        .map(|(k, _)| k)
        .collect();
    let mut out = format!("--- {path}\n+++ {path} (new)\n");
    let mut g = 0;
    while g < changed.len() {
        let first = changed[g];
        let mut last = first;
        while g + 1 < changed.len() && changed[g + 1] <= last + 7 {
            g += 1;
            last = changed[g];
        }
        g += 1;
        let lo = first.saturating_sub(3);
        let hi = (last + 4).min(script.len());
        // Line numbers of the hunk's first line in each file.
        let (mut oi, mut ni) = (0, 0);
        for s in &script[..lo] {
            match s {
                Step::Keep(..) => {
                    oi += 1;
                    ni += 1;
                }
                Step::Del(_) => oi += 1,
                Step::Ins(_) => ni += 1,
            }
        }
        let hunk = &script[lo..hi];
        let ol = hunk.iter().filter(|s| !matches!(s, Step::Ins(_))).count();
        let nlen = hunk.iter().filter(|s| !matches!(s, Step::Del(_))).count();
        let _ = std::fmt::Write::write_fmt(
            &mut out,
            format_args!("@@ -{},{ol} +{},{nlen} @@\n", oi + 1, ni + 1),
        );
        for s in hunk {
            let (c, line) = match *s {
                Step::Keep(i, _) => (' ', a[i]),
                Step::Del(i) => ('-', a[i]),
                Step::Ins(j) => ('+', b[j]),
            };
            out.push(c);
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lexer_skips_comments_strings_chars() {
        let src = r##"// mapper! { A; }
/* mapper! { B; } /* nested */ mapper! { C; } */
let s = "mapper! { D; }"; let r = r#"mapper! { E; } "# ; let c = '{'; let l: &'a str = b"x"; let q = '\'';
fn f<'a>(x: &'a u8) {}
mapper! { pub Real for crate::x; Task * GPU; }
"##;
        let sites = find_mappers(src, "t.rs").unwrap();
        assert_eq!(sites.len(), 1);
        assert_eq!(sites[0].name, "Real");
        assert_eq!(&src[sites[0].body.clone()], " Task * GPU; ");
        assert_eq!(&src[sites[0].header.clone()], " pub Real for crate::x;");
    }

    #[test]
    fn delimiters_and_errors() {
        let src = "mapper!( X; def f(Task t) { return m[0, (1 + 2)]; } IndexTaskMap * f; );\nmapper![pub(crate) Y; Task * CPU;];";
        let sites = find_mappers(src, "t.rs").unwrap();
        assert_eq!(
            sites
                .iter()
                .map(|s| (s.name.as_str(), s.delimiter))
                .collect::<Vec<_>>(),
            vec![("X", '('), ("Y", '[')]
        );
        assert_eq!(
            &src[sites[0].body.clone()],
            " def f(Task t) { return m[0, (1 + 2)]; } IndexTaskMap * f; "
        );
        let e = find_mappers("fn a() {}\nmapper! { X; Task * GPU;", "t.rs").unwrap_err();
        assert_eq!(e.to_string(), "t.rs:2: unclosed `mapper!` invocation");
        let e = find_mappers("let s = \"abc;", "t.rs").unwrap_err();
        assert_eq!(e.to_string(), "t.rs:1: unterminated string literal");
        let e = find_mapper("mapper! { X; }", "t.rs", "Z").unwrap_err();
        assert_eq!(
            e.to_string(),
            "no `mapper!` invocation named `Z` in t.rs; found: X"
        );
        let e = find_mapper("mapper! { X; } mapper! { X; }", "t.rs", "X").unwrap_err();
        assert_eq!(e.to_string(), "2 `mapper!` invocations are named `X` in t.rs; rename one so the target is unambiguous");
        // Not a mapper! invocation: other macro names, missing header.
        assert!(
            find_mappers("my_mapper! { X; } mapper! { Task * GPU; }", "t.rs")
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn replace_keeps_indentation() {
        let src = "mod m {\n    mapper! {\n        pub A for p;\n        Task * CPU;\n    }\n}\n";
        let out = replace_body(src, "t.rs", "A", "Task * GPU;\n\nmgpu = Machine(GPU);\n").unwrap();
        assert_eq!(out, "mod m {\n    mapper! {\n        pub A for p;\n        Task * GPU;\n\n        mgpu = Machine(GPU);\n    }\n}\n");
        let out = replace_body("mapper!{A; Task * CPU;}", "t.rs", "A", "Task * GPU;\n").unwrap();
        assert_eq!(out, "mapper!{A;\n    Task * GPU;\n}");
        let out = replace_body(
            "mapper! {\r\n    A;\r\n    Task * CPU;\r\n}\r\n",
            "t.rs",
            "A",
            "Task * GPU;\n",
        )
        .unwrap();
        assert_eq!(out, "mapper! {\r\n    A;\r\n    Task * GPU;\r\n}\r\n");
    }
}
