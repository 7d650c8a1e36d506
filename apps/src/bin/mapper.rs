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
//! - `mapper run --app NAME [--mapper expert|default|NAME|FILE] [--machine M] [--size S]
//!   [--set k=v]... [--fp32] [--profile FILE] [--json]` runs an app, verifies it and prints
//!   the time and the rate in the app's unit of work.
//! - `mpirun -np N mapper run ... --machine mpi [--time-limit SECS]` (feature `mpi`) runs the
//!   app on N ranks, one node each (docs/multinode.md); rank 0 prints the report or the error.
//! - `mapper bench [--apps A,B] ...` runs apps interleaved with each app's measured baseline
//!   (one GEMM of the whole problem, the memory bandwidth, ...) and prints the ratios.

use apps::{Application, MapperChoice, Precision, Problem, RunConfig};
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
    /// Run an app with a mapper, verify the result and print the time and the rate.
    Run {
        /// The app (see `mapper apps`).
        #[arg(long, value_name = "NAME")]
        app: String,
        /// `expert`, `default`, one of the app's named mappers, or a mapper file.
        #[arg(
            long,
            default_value = "expert",
            value_name = "expert|default|NAME|FILE"
        )]
        mapper: String,
        /// Machine: `local`, `emulated:NxG`, `sim:PRESET` or a machine TOML file.
        #[arg(long, default_value = "local")]
        machine: String,
        #[command(flatten)]
        problem: ProblemArgs,
        /// Write the profile as a Chrome trace (open in ui.perfetto.dev).
        #[arg(long, value_name = "FILE")]
        profile: Option<PathBuf>,
        /// Print one JSON line instead of the text report.
        #[arg(long)]
        json: bool,
        /// With `--machine mpi`: stop every rank with an error after this many seconds.
        #[arg(long, value_name = "SECS")]
        time_limit: Option<f64>,
    },
    /// Benchmark apps against each app's measured baseline on this machine (one GEMM of the
    /// whole problem, the memory bandwidth, ...): best of `--reps`, runs interleaved with the
    /// baseline; prints a Markdown table or JSON lines.
    Bench {
        /// Comma-separated apps (default: all).
        #[arg(long, value_delimiter = ',')]
        apps: Vec<String>,
        /// `expert`, `default`, a named mapper of the app, or a mapper file.
        #[arg(long, default_value = "expert")]
        mapper: String,
        /// Machine.
        #[arg(long, default_value = "local")]
        machine: String,
        #[command(flatten)]
        problem: ProblemArgs,
        /// Repetitions (the best time of each is reported).
        #[arg(long, default_value_t = 3)]
        reps: usize,
        /// Print one JSON line per app.
        #[arg(long)]
        json: bool,
    },
    /// Measure this host (GEMM kernel by size on one and on all cores, copy bandwidths,
    /// runtime overheads) and cache its simulator description for `sim:local`; prints the
    /// description and where it is.
    CalibrateHost {
        /// Measure again even if a cached description exists.
        #[arg(long)]
        force: bool,
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

/// The problem options shared by `run` and `bench`.
#[derive(clap::Args, Debug, Clone)]
struct ProblemArgs {
    /// Size: a preset (`tiny`, `small`, `large`, ... see `mapper apps`), optionally followed by
    /// `,name=value` overrides of the app's parameters.
    #[arg(long, default_value = "small")]
    size: String,
    /// Sets one of the app's size parameters (repeatable), e.g. `--set steps=20`.
    #[arg(long = "set", value_name = "NAME=VALUE")]
    set: Vec<String>,
    /// Shorthand for `--set n=N` (the matrix order of the matmul apps, the grid side of the
    /// stencil).
    #[arg(long)]
    n: Option<String>,
    /// Run in single precision (same as `--precision f32`), where the app supports it.
    #[arg(long)]
    fp32: bool,
    /// Precision: f64 or f32 (default: the app's first).
    #[arg(long)]
    precision: Option<String>,
    /// Seed of generated inputs.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

impl ProblemArgs {
    /// The problem these options describe for `app`.
    fn problem(&self, app: &dyn Application) -> Result<Problem, String> {
        let mut p = Problem::parse(app, &self.size)?;
        let mut sets: Vec<String> = self.set.clone();
        if let Some(n) = &self.n {
            sets.push(format!("n={n}"));
        }
        for kv in &sets {
            let (k, v) = kv
                .split_once('=')
                .ok_or_else(|| format!("`--set {kv}`: expected NAME=VALUE"))?;
            p.set_text(app, k.trim(), v.trim())?;
            p.preset = "custom".into();
        }
        if self.fp32 {
            p.precision = Precision::F32;
        } else if let Some(s) = &self.precision {
            p.precision = Precision::parse(s)?;
        }
        p.seed = self.seed;
        Ok(p)
    }
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
            problem,
            profile,
            json,
            time_limit,
        } => {
            let a = RunArgs {
                app,
                mapper,
                machine,
                problem,
                profile,
                json,
            };
            if a.machine == "mpi" || a.machine.starts_with("mpi:") {
                run_distributed(a, time_limit)
            } else {
                run_app(a)
            }
        }
        Cmd::Bench {
            apps,
            mapper,
            machine,
            problem,
            reps,
            json,
        } => bench(BenchArgs {
            apps,
            mapper,
            machine,
            problem,
            reps,
            json,
        }),
        Cmd::CalibrateHost { force } => match apps::host::ensure_local_sim(force) {
            Ok(path) => match std::fs::read_to_string(&path) {
                Ok(text) => {
                    print!("{text}");
                    eprintln!("sim:local: {}", path.display());
                    0
                }
                Err(e) => {
                    eprintln!("error: cannot read {}: {e}", path.display());
                    1
                }
            },
            Err(e) => {
                eprintln!("error: {e}");
                1
            }
        },
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

/// Prints every app with its tasks, their region arguments, its parameters, presets and named
/// mappers.
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
        let params: Vec<String> = a
            .params()
            .iter()
            .map(|p| format!("{} ({})", p.name, p.about))
            .collect();
        out.push_str(&format!("  parameters: {}\n", params.join("; ")));
        let presets: Vec<String> = a
            .presets()
            .iter()
            .map(|p| {
                let v: Vec<String> = p.values.iter().map(|(k, v)| format!("{k}={v}")).collect();
                format!("{} ({})", p.name, v.join(","))
            })
            .collect();
        out.push_str(&format!("  sizes: {}\n", presets.join(", ")));
        let mut mappers = vec!["expert".to_string(), "default".to_string()];
        mappers.extend(a.mappers().iter().map(|m| m.name.to_string()));
        out.push_str(&format!("  mappers: {}\n", mappers.join(", ")));
    }
    print!("{out}");
    0
}

/// Arguments of `mapper run`.
struct RunArgs {
    app: String,
    mapper: String,
    machine: String,
    problem: ProblemArgs,
    profile: Option<PathBuf>,
    json: bool,
}

/// Prints an app error to stderr.
fn report_error(e: &apps::AppError) {
    let text = e.to_string();
    if text.starts_with("error") {
        eprint!("{text}");
        if !text.ends_with('\n') {
            eprintln!();
        }
    } else {
        eprintln!("error: {text}");
    }
}

/// The app, its problem and its mapper from the command line; errors are printed.
fn setup(
    name: &str,
    problem: &ProblemArgs,
    mapper: &str,
) -> Result<(&'static dyn Application, Problem, MapperChoice), u8> {
    let app = apps::find(name).map_err(|e| {
        eprintln!("error: {e}");
        EXIT_ERRORS
    })?;
    let problem = problem.problem(app).map_err(|e| {
        eprintln!("error: {e}");
        EXIT_ERRORS
    })?;
    let mapper = MapperChoice::resolve(app, mapper).map_err(|e| {
        eprintln!("error: {e}");
        EXIT_IO
    })?;
    Ok((app, problem, mapper))
}

/// `mapper run`: exit 0 if verified, 1 on a mapper/mapping/runtime error or a failed
/// verification, 2 if the mapper file cannot be read.
fn run_app(a: RunArgs) -> u8 {
    let (app, problem, mapper) = match setup(&a.app, &a.problem, &a.mapper) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let cfg = RunConfig {
        machine: a.machine,
        problem,
        mapper,
        profile: a.profile.is_some(),
    };
    let report = match apps::run(app, &cfg) {
        Ok(r) => r,
        Err(e) => {
            report_error(&e);
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
    // The runtime appends the default memories to every list as a fallback; say where that
    // happened, since it can cost far more than the mapper's choice would have.
    for f in &report.fallbacks {
        eprintln!("warning: {f}");
    }
    if report.verified() {
        0
    } else {
        eprintln!(
            "error: {} result is wrong: {}",
            report.app,
            report.outcome.verification.note()
        );
        EXIT_ERRORS
    }
}

/// `mapper run --machine mpi`: every rank runs the app (control replication); rank 0 prints
/// the report, or the error of the job (once) when any rank failed.
#[cfg(feature = "mpi")]
fn run_distributed(a: RunArgs, time_limit: Option<f64>) -> u8 {
    use runtime::dist::Transport;
    let limit = match time_limit {
        Some(s) if !(s > 0.0 && s.is_finite()) => {
            eprintln!("error: `--time-limit {s}`: expected a positive number of seconds");
            return EXIT_ERRORS;
        }
        s => s.map(std::time::Duration::from_secs_f64),
    };
    let t = match runtime::dist::mpi::start(limit) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_ERRORS;
        }
    };
    let (index, of) = t.local();
    runtime::cuda::share_gpus(index, of);
    let link: std::sync::Arc<dyn Transport> = t.clone();
    runtime::dist::install(link.clone());
    let rank = link.rank();
    let code = run_replicated(&a, &*link, rank);
    link.finish();
    code
}

/// The body of [`run_distributed`] between starting and stopping the transport.
#[cfg(feature = "mpi")]
fn run_replicated(a: &RunArgs, link: &dyn runtime::dist::Transport, rank: u32) -> u8 {
    let (app, problem, mapper) = match setup(&a.app, &a.problem, &a.mapper) {
        Ok(x) => x,
        Err(code) => {
            link.fail("a rank could not set up the run (see its message above)");
            let _ = link.agree(Err("set-up failed".into()));
            return code;
        }
    };
    let cfg = RunConfig {
        machine: a.machine.clone(),
        problem,
        mapper,
        profile: a.profile.is_some(),
    };
    let result = apps::run(app, &cfg).map_err(|e| e.to_string());
    let mine = match &result {
        Ok(r) if !r.verified() => Err(format!(
            "{} result is wrong on rank {rank}: {}",
            r.app,
            r.outcome.verification.note()
        )),
        Ok(_) => Ok(()),
        Err(e) => Err(e.clone()),
    };
    if let Err(e) = &mine {
        link.fail(e);
    }
    let agreed = link.agree(mine);
    let report = match (agreed, result) {
        (Ok(()), Ok(r)) => r,
        (Err(e), _) | (Ok(()), Err(e)) => {
            // The job's first failure (the message of the rank where it happened), else this.
            let e = link.failure().unwrap_or(e);
            if rank == 0 {
                if e.starts_with("error") {
                    eprintln!("{}", e.trim_end());
                } else {
                    eprintln!("error: {}", e.trim_end());
                }
            }
            return EXIT_ERRORS;
        }
    };
    let moved = runtime::dist::exchange(link, &[link.bytes_sent()])
        .map(|v| v.iter().filter_map(|x| x.first()).sum::<u64>())
        .unwrap_or(0);
    if let (Some(path), Some(prof)) = (&a.profile, &report.profile) {
        let path = if rank == 0 {
            path.clone()
        } else {
            PathBuf::from(format!("{}.rank{rank}", path.display()))
        };
        if let Err(e) = std::fs::write(&path, prof.chrome_trace().to_string()) {
            eprintln!(
                "error: rank {rank} cannot write the profile to `{}`: {e}",
                path.display()
            );
        }
    }
    if rank == 0 {
        if a.json {
            let mut v = report.json();
            v["ranks"] = serde_json::json!(link.size());
            v["bytes_between_ranks"] = serde_json::json!(moved);
            println!("{v}");
        } else {
            println!("{report}");
            println!(
                "{} ranks; {moved} bytes of region data moved between ranks",
                link.size()
            );
        }
    }
    0
}

/// `mapper run --machine mpi` in a build without MPI.
#[cfg(not(feature = "mpi"))]
fn run_distributed(a: RunArgs, _time_limit: Option<f64>) -> u8 {
    eprintln!(
        "error: machine `{}` needs a `mapper` built with MPI support: `cargo build --release --bin mapper --features mpi`, then start it with mpirun or srun (docs/multinode.md)",
        a.machine
    );
    EXIT_ERRORS
}

/// Arguments of `mapper bench`.
struct BenchArgs {
    apps: Vec<String>,
    mapper: String,
    machine: String,
    problem: ProblemArgs,
    reps: usize,
    json: bool,
}

/// `mapper bench`: every app (best of `reps`) against its baseline measured right after each
/// run (best of all), interleaved so that load from other processes hits both alike.
fn bench(a: BenchArgs) -> u8 {
    let names: Vec<String> = if a.apps.is_empty() {
        apps::apps().iter().map(|x| x.name().to_string()).collect()
    } else {
        a.apps.clone()
    };
    let mut jobs: Vec<(&'static dyn Application, RunConfig)> = Vec::new();
    for n in &names {
        match setup(n, &a.problem, &a.mapper) {
            Ok((app, problem, mapper)) => jobs.push((
                app,
                RunConfig {
                    machine: a.machine.clone(),
                    problem,
                    mapper,
                    profile: false,
                },
            )),
            Err(code) => return code,
        }
    }
    let mut best: Vec<Option<apps::RunReport>> = vec![None; jobs.len()];
    let mut base: Vec<Option<apps::Baseline>> = vec![None; jobs.len()];
    let mut status = 0;
    for _ in 0..a.reps.max(1) {
        for (i, (app, cfg)) in jobs.iter().enumerate() {
            let r = match apps::run(*app, cfg) {
                Ok(r) => r,
                Err(e) => {
                    eprint!("{}: ", app.name());
                    report_error(&e);
                    status = EXIT_ERRORS;
                    continue;
                }
            };
            if !r.verified() {
                eprintln!(
                    "error: {} did not verify: {}",
                    app.name(),
                    r.outcome.verification.note()
                );
                status = EXIT_ERRORS;
            }
            if !r.simulated {
                if let Some(b) = app.baseline(&r) {
                    if base[i].as_ref().is_none_or(|x| b.rate > x.rate) {
                        base[i] = Some(b);
                    }
                }
            }
            if best[i].as_ref().is_none_or(|b| r.time_s < b.time_s) {
                best[i] = Some(r);
            }
        }
    }
    if !a.json {
        println!(
            "| app | mapper | decomposition | time (s) | rate | baseline | baseline rate | ratio |"
        );
        println!("|---|---|---|---|---|---|---|---|");
    }
    for (r, b) in best.iter().zip(&base) {
        let Some(r) = r else { continue };
        let ratio = b.as_ref().map(|b| r.rate() / b.rate);
        if a.json {
            let mut v = r.json();
            if let (Some(b), Some(x)) = (b, ratio) {
                v["baseline"] = serde_json::json!(b.label);
                v["baseline_rate"] = serde_json::json!(b.rate);
                v["ratio"] = serde_json::json!(x);
            }
            println!("{v}");
        } else {
            println!(
                "| {} | {} | {} | {:.4} | {} | {} | {} | {} |",
                r.app,
                r.mapper,
                r.outcome.decomposition,
                r.time_s,
                r.rate_text(),
                b.as_ref().map_or("-".to_string(), |b| b.label.clone()),
                b.as_ref()
                    .map_or("-".to_string(), |b| apps::rate_text(b.rate, r.outcome.unit)),
                ratio.map_or("-".to_string(), |x| format!("{:.0}%", 100.0 * x)),
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
