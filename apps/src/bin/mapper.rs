//! `mapper`: the command-line front end of the mapping language.
//!
//! - `mapper check FILE...` parses and checks mapper files and prints every diagnostic
//!   rustc-style to stderr; exit status 0 if no file has errors (warnings are still printed),
//!   1 if some file has errors, 2 if a file cannot be read.
//! - `mapper fmt FILE` prints the canonical text of a mapper (refusing files with errors);
//!   `mapper fmt --check FILE` only reports whether the file is already canonical.
//!
//! - `mapper check FILE... --app NAME` also checks task and region names against the app.
//! - `mapper apps` lists the apps with their tasks and region arguments.
//! - `mapper run --app NAME [--mapper expert|default|FILE] [--machine M] [--size S] [--fp32]
//!   [--profile FILE] [--json]` runs an app, verifies it and prints time and GFLOP/s.
//! - `mapper gemm-baseline [--n N] [--fp32] [--json]` times one GEMM of the whole problem on all
//!   cores (the reference point of the matrix-multiplication benchmark).

use apps::matmul::common::{self, gemm_baseline, preset_n};
use apps::{MapperChoice, Precision, RunConfig, Size};
use clap::{Parser, Subcommand};
use mapper_core::diag::{render_all, Diagnostic};
use mapper_core::{ast, check, parse, print, AppInfo};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Command-line arguments.
#[derive(Parser, Debug)]
#[command(
    name = "mapper",
    version,
    about = "Check, format and run mapping-language (.mapper) files with the apps"
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
        /// Also check task and region names against this app (see `mapper apps`).
        #[arg(long, value_name = "NAME")]
        app: Option<String>,
    },
    /// List the apps with their tasks and region arguments.
    Apps,
    /// Run an app with a mapper, verify the result and print time and GFLOP/s.
    Run {
        /// The app (see `mapper apps`).
        #[arg(long, value_name = "NAME")]
        app: String,
        /// `expert`, `default` or a mapper file.
        #[arg(long, default_value = "expert", value_name = "expert|default|FILE")]
        mapper: String,
        /// Machine: `local` or `emulated:NxG` (see the runtime's machine specs).
        #[arg(long, default_value = "local")]
        machine: String,
        /// Problem size: tiny, small or large.
        #[arg(long, default_value = "small")]
        size: String,
        /// Matrix order N, overriding the size preset (rounded up to the algorithm's grid).
        #[arg(long)]
        n: Option<i64>,
        /// Run in single precision (same as `--precision f32`).
        #[arg(long)]
        fp32: bool,
        /// Precision: f64 or f32.
        #[arg(long, default_value = "f64")]
        precision: String,
        /// Seed of the input matrices.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Write the profile as a Chrome trace (open in ui.perfetto.dev).
        #[arg(long, value_name = "FILE")]
        profile: Option<PathBuf>,
        /// Print one JSON line instead of the text report.
        #[arg(long)]
        json: bool,
    },
    /// Benchmark apps against one GEMM of the same size on the same cores (best of `--reps`,
    /// runs interleaved with the baseline); prints a Markdown table or JSON lines.
    Bench {
        /// Comma-separated apps (default: all).
        #[arg(long, value_delimiter = ',')]
        apps: Vec<String>,
        /// `expert`, `default` or a mapper file.
        #[arg(long, default_value = "expert")]
        mapper: String,
        /// Machine.
        #[arg(long, default_value = "local")]
        machine: String,
        /// Problem size.
        #[arg(long, default_value = "large")]
        size: String,
        /// Single precision.
        #[arg(long)]
        fp32: bool,
        /// Repetitions (the best time of each is reported).
        #[arg(long, default_value_t = 3)]
        reps: usize,
        /// Print one JSON line per app.
        #[arg(long)]
        json: bool,
    },
    /// Time one GEMM of the whole N x N problem on all cores (the benchmark's baseline).
    GemmBaseline {
        /// Matrix order (default: the large preset).
        #[arg(long)]
        n: Option<usize>,
        /// Single precision.
        #[arg(long)]
        fp32: bool,
        /// Threads (default: all cores).
        #[arg(long)]
        threads: Option<usize>,
        /// Timed repetitions (the best is reported).
        #[arg(long, default_value_t = 3)]
        reps: usize,
        /// Print one JSON line.
        #[arg(long)]
        json: bool,
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

/// Reads, parses and checks `path` (against `app` if given); prints its diagnostics to stderr.
fn load(path: &Path, app: Option<&AppInfo>) -> Loaded {
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
        diags.extend(check::check(&out.program, app));
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
        Cmd::Check { files, app } => {
            let info = match app.as_deref().map(apps::find) {
                None => None,
                Some(Ok(a)) => Some(a.info()),
                Some(Err(e)) => {
                    eprintln!("error: {e}");
                    return EXIT_ERRORS;
                }
            };
            let mut status = 0;
            for f in &files {
                let s = match load(f, info.as_ref()) {
                    Loaded::Ok(..) => 0,
                    Loaded::Errors => EXIT_ERRORS,
                    Loaded::Io => EXIT_IO,
                };
                status = status.max(s);
            }
            status
        }
        Cmd::Apps => list_apps(),
        Cmd::Run {
            app,
            mapper,
            machine,
            size,
            n,
            fp32,
            precision,
            seed,
            profile,
            json,
        } => run_app(RunArgs {
            app,
            mapper,
            machine,
            size,
            n,
            fp32,
            precision,
            seed,
            profile,
            json,
        }),
        Cmd::Bench {
            apps,
            mapper,
            machine,
            size,
            fp32,
            reps,
            json,
        } => bench(BenchArgs {
            apps,
            mapper,
            machine,
            size,
            fp32,
            reps,
            json,
        }),
        Cmd::GemmBaseline {
            n,
            fp32,
            threads,
            reps,
            json,
        } => {
            let n = n.unwrap_or(preset_n(Size::Large) as usize).max(1);
            let p = if fp32 { Precision::F32 } else { Precision::F64 };
            let threads = threads.unwrap_or_else(common::threads).max(1);
            let (t, gflops) = gemm_baseline(n, p, threads, reps);
            if json {
                println!(
                    "{}",
                    serde_json::json!({"app": "gemm-baseline", "n": n, "precision": p.as_str(),
                        "threads": threads, "time_s": t, "gflops": gflops})
                );
            } else {
                println!(
                    "one GEMM, N={n} {} on {threads} thread(s): {t:.4} s, {gflops:.2} GFLOP/s",
                    p.as_str()
                );
            }
            0
        }
        Cmd::Fmt { file, check } => match load(&file, None) {
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

/// Prints every app with its tasks and their region arguments.
fn list_apps() -> u8 {
    let mut out = String::new();
    for a in apps::apps() {
        out.push_str(&format!("{}: {}\n", a.name(), a.description()));
        for t in a.tasks() {
            let args: Vec<String> = t
                .args
                .iter()
                .map(|(n, r)| format!("{n}: [{}]", r.join(", ")))
                .collect();
            out.push_str(&format!("  {}({})\n", t.name, args.join(", ")));
        }
    }
    print!("{out}");
    0
}

/// Arguments of `mapper run`.
struct RunArgs {
    app: String,
    mapper: String,
    machine: String,
    size: String,
    n: Option<i64>,
    fp32: bool,
    precision: String,
    seed: u64,
    profile: Option<PathBuf>,
    json: bool,
}

/// `mapper run`: exit 0 if verified, 1 on a mapper/mapping/runtime error or a failed
/// verification, 2 if the mapper file cannot be read.
fn run_app(a: RunArgs) -> u8 {
    let app = match apps::find(&a.app) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_ERRORS;
        }
    };
    let size = match Size::parse(&a.size) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_ERRORS;
        }
    };
    let precision = if a.fp32 {
        Precision::F32
    } else {
        match Precision::parse(&a.precision) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("error: {e}");
                return EXIT_ERRORS;
            }
        }
    };
    let mapper = match mapper_choice(&a.mapper) {
        Ok(m) => m,
        Err(code) => return code,
    };
    let cfg = RunConfig {
        machine: a.machine,
        size,
        n: a.n,
        precision,
        mapper,
        profile: a.profile.is_some(),
        seed: a.seed,
    };
    let report = match app.run(&cfg) {
        Ok(r) => r,
        Err(e) => {
            let text = e.to_string();
            if text.starts_with("error") {
                eprint!("{text}");
            } else {
                eprintln!("error: {text}");
            }
            return EXIT_ERRORS;
        }
    };
    if let (Some(path), Some(prof)) = (&a.profile, &report.profile) {
        let json = prof.chrome_trace().to_string();
        if let Err(e) = std::fs::write(path, json) {
            eprintln!(
                "error: cannot write the profile to `{}`: {e}",
                path.display()
            );
            return EXIT_IO;
        }
    }
    if a.json {
        println!("{}", report.json());
    } else {
        println!("{report}");
        if let Some(path) = &a.profile {
            println!("profile: {}", path.display());
        }
    }
    if report.verified || report.simulated {
        0
    } else {
        eprintln!(
            "error: {} result differs from the reference product: max relative error {:.3e} exceeds {:.0e}",
            report.app, report.max_rel_error, report.tolerance
        );
        EXIT_ERRORS
    }
}

/// Arguments of `mapper bench`.
struct BenchArgs {
    apps: Vec<String>,
    mapper: String,
    machine: String,
    size: String,
    fp32: bool,
    reps: usize,
    json: bool,
}

/// Reads the `--mapper` argument.
fn mapper_choice(arg: &str) -> Result<MapperChoice, u8> {
    match arg {
        "expert" => Ok(MapperChoice::Expert),
        "default" => Ok(MapperChoice::Default),
        path => match std::fs::read_to_string(path) {
            Ok(source) => Ok(MapperChoice::Text {
                name: path.to_string(),
                source,
            }),
            Err(e) => {
                eprintln!("error: cannot read mapper `{path}`: {e} (expected expert, default or a mapper file)");
                Err(EXIT_IO)
            }
        },
    }
}

/// `mapper bench`: every app (best of `reps`) against the single-GEMM baseline of the same N
/// on all cores, interleaved so that load from other processes hits both alike.
fn bench(a: BenchArgs) -> u8 {
    let size = match Size::parse(&a.size) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_ERRORS;
        }
    };
    let precision = if a.fp32 {
        Precision::F32
    } else {
        Precision::F64
    };
    let mapper = match mapper_choice(&a.mapper) {
        Ok(m) => m,
        Err(code) => return code,
    };
    let list: Vec<&'static dyn apps::App> = if a.apps.is_empty() {
        apps::apps()
    } else {
        let mut v = Vec::new();
        for n in &a.apps {
            match apps::find(n) {
                Ok(x) => v.push(x),
                Err(e) => {
                    eprintln!("error: {e}");
                    return EXIT_ERRORS;
                }
            }
        }
        v
    };
    let threads = common::threads();
    let cfg = RunConfig {
        machine: a.machine.clone(),
        size,
        n: None,
        precision,
        mapper,
        profile: false,
        seed: 1,
    };
    let mut best: Vec<Option<apps::RunReport>> = vec![None; list.len()];
    let mut base: std::collections::BTreeMap<i64, f64> = Default::default();
    let mut status = 0;
    for _ in 0..a.reps.max(1) {
        for (i, app) in list.iter().enumerate() {
            let r = match app.run(&cfg) {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("error: {}: {e}", app.name());
                    status = EXIT_ERRORS;
                    continue;
                }
            };
            if !r.verified {
                eprintln!(
                    "error: {} did not verify (max rel error {:.3e})",
                    app.name(),
                    r.max_rel_error
                );
                status = EXIT_ERRORS;
            }
            let (_, g) = gemm_baseline(r.n as usize, precision, threads, 1);
            let e = base.entry(r.n).or_insert(0.0);
            *e = e.max(g);
            if best[i].as_ref().is_none_or(|b| r.time_s < b.time_s) {
                best[i] = Some(r);
            }
        }
    }
    if !a.json {
        println!("| app | decomposition | N | time (s) | GFLOP/s | one GEMM, {threads} threads (GFLOP/s) | ratio |");
        println!("|---|---|---|---|---|---|---|");
    }
    for r in best.iter().flatten() {
        let g = base.get(&r.n).copied().unwrap_or(f64::NAN);
        if a.json {
            let mut v = r.json();
            v["baseline_gflops"] = serde_json::json!(g);
            v["ratio"] = serde_json::json!(r.gflops / g);
            println!("{v}");
        } else {
            println!(
                "| {} | {} on {} | {} | {:.3} | {:.1} | {:.1} | {:.0}% |",
                r.app,
                r.grid,
                r.procs,
                r.n,
                r.time_s,
                r.gflops,
                g,
                100.0 * r.gflops / g
            );
        }
    }
    status
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
