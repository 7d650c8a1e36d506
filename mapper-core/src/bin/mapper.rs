//! `mapper`: the command-line front end of the mapping language.
//!
//! - `mapper check FILE...` parses and checks mapper files and prints every diagnostic
//!   rustc-style to stderr; exit status 0 if no file has errors (warnings are still printed),
//!   1 if some file has errors, 2 if a file cannot be read.
//! - `mapper fmt FILE` prints the canonical text of a mapper (refusing files with errors);
//!   `mapper fmt --check FILE` only reports whether the file is already canonical.
//!
//! Subcommands leave room for application-aware checks (`--app NAME`) once apps exist.

use clap::{Parser, Subcommand};
use mapper_core::diag::{render_all, Diagnostic};
use mapper_core::{ast, check, parse, print};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Command-line arguments.
#[derive(Parser, Debug)]
#[command(
    name = "mapper",
    version,
    about = "Check and format mapping-language (.mapper) files"
)]
struct Cli {
    /// What to do.
    #[command(subcommand)]
    cmd: Cmd,
}

/// Subcommands.
#[derive(Subcommand, Debug)]
enum Cmd {
    /// Parse and check mapper files; print all diagnostics rustc-style to stderr.
    Check {
        /// Mapper files to check.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// Print the canonical text of a mapper file to stdout.
    Fmt {
        /// Mapper file to format.
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// Print nothing; exit with status 1 if the file is not already in canonical form.
        #[arg(long)]
        check: bool,
    },
}

/// Exit status: the file had errors.
const EXIT_ERRORS: u8 = 1;
/// Exit status: a file could not be read.
const EXIT_IO: u8 = 2;

/// The outcome of reading, parsing and checking one file.
enum Loaded {
    /// The program and its diagnostics (none of them errors).
    Ok(ast::Program, String),
    /// The file has errors (already printed).
    Errors,
    /// The file could not be read (already reported).
    Io,
}

/// Reads, parses and checks `path`; prints its diagnostics to stderr.
fn load(path: &Path) -> Loaded {
    let src = match std::fs::read_to_string(path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: cannot read `{}`: {e}", path.display());
            return Loaded::Io;
        }
    };
    let out = parse::parse_text(&src);
    let mut diags: Vec<Diagnostic> = out.diagnostics;
    // Semantic checks on a program with syntax errors would report the holes error recovery
    // left (a missing definition, ...), so they run only on a clean parse.
    if !diags.iter().any(Diagnostic::is_error) {
        diags.extend(check::check(&out.program, None));
    }
    if !diags.is_empty() {
        let text = render_all(&diags, &path.display().to_string(), &src);
        let _ = std::io::stderr().write_all(text.as_bytes());
    }
    if diags.iter().any(Diagnostic::is_error) {
        Loaded::Errors
    } else {
        Loaded::Ok(out.program, src)
    }
}

fn run(cli: Cli) -> u8 {
    match cli.cmd {
        Cmd::Check { files } => {
            let mut status = 0;
            for f in &files {
                let s = match load(f) {
                    Loaded::Ok(..) => 0,
                    Loaded::Errors => EXIT_ERRORS,
                    Loaded::Io => EXIT_IO,
                };
                status = status.max(s);
            }
            status
        }
        Cmd::Fmt { file, check } => match load(&file) {
            Loaded::Ok(program, src) => {
                let text = print::print(&program);
                if check {
                    if text == src {
                        0
                    } else {
                        eprintln!(
                            "error: `{}` is not in canonical form\n  = help: run `mapper fmt {}` to see the canonical text",
                            file.display(),
                            file.display()
                        );
                        EXIT_ERRORS
                    }
                } else {
                    let mut out = std::io::stdout().lock();
                    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
                        Ok(()) => 0,
                        Err(e) => {
                            eprintln!("error: cannot write the formatted text: {e}");
                            EXIT_IO
                        }
                    }
                }
            }
            Loaded::Errors => EXIT_ERRORS,
            Loaded::Io => EXIT_IO,
        },
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // A generous stack, so that pathological nesting is reported by the parser's depth limit
    // rather than by a stack overflow.
    let worker = std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(move || run(cli));
    match worker.map(|h| h.join()) {
        Ok(Ok(code)) => ExitCode::from(code),
        Ok(Err(_)) => {
            eprintln!("error: internal error in the mapper front end (please report it)");
            ExitCode::from(101)
        }
        Err(e) => {
            eprintln!("error: cannot start the checker thread: {e}");
            ExitCode::from(EXIT_IO)
        }
    }
}
