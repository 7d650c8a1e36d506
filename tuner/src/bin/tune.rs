//! `tune`: optimize an application's mapper with an LLM or the built-in searches.
//!
//! ```text
//! cargo run --release --bin tune -- --app NAME [--machine M] [--size S]
//!     [--optimizer llm|random|coordinate|ensemble|all] [--iterations N] [--runs R] [--seed S]
//!     [--out DIR] [--write] [--model MODEL] [--prompt optoprime|opro] [--timeout SECS|inf]
//!     [--confirm-rounds N] [--confirm-top K] [--min-gain F] [--resume DIR]
//!     [--screen N] [--screen-machine M]
//! ```
//!
//! Every candidate is checked with mapper-core, then run in a child process (this executable
//! with the hidden `__eval` subcommand) under a time limit; every optimizer starts from the same
//! seeds (the expert and the default); the best candidates are confirmed against the expert in
//! interleaved rounds at the end; `best.mapper`, `history.jsonl`, `report.md` and
//! `best_so_far.svg` are rewritten in `--out` after every iteration (`--resume DIR` continues).

use clap::{Parser, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tuner::confirm::{confirm, ConfirmSettings};
use tuner::eval::{child_main, own_exe, ChildEvaluator, EvalSettings};
use tuner::llm::{LlmClient, LlmConfig, NO_LLM_MESSAGE};
use tuner::optimizer::Seeded;
use tuner::report::{confirmation_table, table, write_outputs};
use tuner::rewrite::{rewrite_mapper, CommandVerifier};
use tuner::search::{Screen, SearchKind, SpaceSearch};
use tuner::session::{read_history, run_session, Plan, Progress};
use tuner::space::Space;
use tuner::target::{is_simulated, MapperSpec, TuneApp};
use tuner::{LlmOptimizer, PromptBuilder, PromptMode};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum OptimizerArg {
    /// The LLM optimizer (falls back to `ensemble` when no LLM is configured).
    Llm,
    /// Random search.
    Random,
    /// Constrained coordinate descent.
    Coordinate,
    /// Bandit ensemble.
    Ensemble,
    /// The three built-in optimizers, one after the other.
    All,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum PromptArg {
    /// OptoPrime style.
    Optoprime,
    /// OPRO style.
    Opro,
}

#[derive(Parser, Debug)]
#[command(name = "tune", about = "Optimize an application's mapper")]
struct Args {
    /// Application name.
    #[arg(long)]
    app: String,
    /// Machine: `local`, `emulated:NxG`, `sim:PRESET`.
    #[arg(long, default_value = "local")]
    machine: String,
    /// Problem size preset (default: `small`, or the app's smallest); for the matmul apps also a
    /// matrix order N, e.g. `16384`.
    #[arg(long)]
    size: Option<String>,
    /// Optimizer.
    #[arg(long, value_enum, default_value = "llm")]
    optimizer: OptimizerArg,
    /// Iterations per optimizer run.
    #[arg(long, default_value_t = 10, allow_negative_numbers = true)]
    iterations: usize,
    /// Runs per evaluation (median); simulated machines use 1.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Seed of the built-in optimizers.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Output directory (default `tune-out/APP`).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Replace the app's `mapper!` body with the best mapper (then `cargo check`; restored on
    /// failure).
    #[arg(long)]
    write: bool,
    /// LLM model name.
    #[arg(long)]
    model: Option<String>,
    /// LLM prompt style.
    #[arg(long, value_enum, default_value = "optoprime")]
    prompt: PromptArg,
    /// Time limit of one run, seconds (a positive number; `inf` for no limit).
    #[arg(long, default_value_t = 120.0, value_parser = parse_timeout, allow_negative_numbers = true)]
    timeout: f64,
    /// Rounds of the confirmation step (the best candidates and the expert measured again,
    /// interleaved); default 5 on real machines, 1 on simulated ones; 0 skips it.
    #[arg(long)]
    confirm_rounds: Option<usize>,
    /// Distinct candidates the confirmation step measures again.
    #[arg(long, default_value_t = 3)]
    confirm_top: usize,
    /// Smallest median gain over the expert that counts as confirmed (0.02: 2%).
    #[arg(long, default_value_t = 0.02, value_parser = parse_min_gain, allow_negative_numbers = true)]
    min_gain: f64,
    /// Continue the tuning run whose outputs are in DIR (its `history.jsonl`): recorded
    /// iterations are kept and each optimizer continues up to `--iterations`; the outputs are
    /// rewritten in DIR. Pass the same app, machine, size, optimizer and seed as before.
    #[arg(long, value_name = "DIR")]
    resume: Option<PathBuf>,
    /// With --write: rewrite this file instead of the app's own source (a `.mapper` file, or a
    /// Rust file holding the app's `mapper!`); the mapper written there is then the expert the
    /// run starts from and compares against.
    #[arg(long, value_name = "FILE")]
    write_file: Option<PathBuf>,
    /// With --write: the build check run after rewriting (split at spaces; default `cargo check
    /// -p apps` in the workspace); the original is restored if it fails.
    #[arg(long, value_name = "COMMAND")]
    write_check: Option<String>,
    /// With --write: machines the new mapper must map and verify on (at the app's smallest size)
    /// before anything is written; comma-separated.
    #[arg(long, value_name = "MACHINES", default_value = "local,emulated:2x4")]
    write_machines: String,
    /// Do not draw progress bars.
    #[arg(long)]
    quiet: bool,
    /// Candidates the built-in searches rate in the simulator per iteration before the best one
    /// is evaluated on the target (a pool of this many, then a greedy climb of up to as many
    /// more); 0: no pre-screen.
    #[arg(long, default_value_t = 32)]
    screen: usize,
    /// Simulated machine of the pre-screen (default: the target itself when it is simulated,
    /// `sim:local` when it is `local`; no pre-screen otherwise). It must have the target's
    /// processors and memories.
    #[arg(long)]
    screen_machine: Option<String>,
}

fn main() {
    let argv: Vec<String> = std::env::args().collect();
    if argv.get(1).map(String::as_str) == Some("__eval") {
        std::process::exit(child_main(argv.get(2..).unwrap_or(&[])));
    }
    let args = Args::parse();
    if let Err(e) = run(&args) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

/// `--timeout`: positive seconds, or `inf` (no limit); NaN, zero and negative values are errors.
fn parse_timeout(s: &str) -> Result<f64, String> {
    let t: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a number of seconds"))?;
    if t.is_nan() {
        return Err("not a number; give positive seconds, or `inf` for no limit".into());
    }
    if t <= 0.0 {
        return Err(format!(
            "must be positive seconds (got {t}); `inf` means no limit"
        ));
    }
    Ok(t)
}

/// `--min-gain`: a fraction in [0, 10).
fn parse_min_gain(s: &str) -> Result<f64, String> {
    let g: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a number (0.02 means 2%)"))?;
    if !(0.0..10.0).contains(&g) {
        return Err(format!(
            "must be a fraction between 0 and 10 (0.02 means 2%), got {g}"
        ));
    }
    Ok(g)
}

/// The time limit of one run: `inf` (or anything too large for a `Duration`) means none.
fn timeout_of(t: f64) -> Duration {
    Duration::try_from_secs_f64(t).unwrap_or(Duration::MAX)
}

/// The pre-screen of the built-in searches: `--screen` candidates per iteration rated by one run
/// in this process on the screen machine (rate: the app's throughput, or 1 / time), or `None`
/// (with a line saying why) when there is no simulated description of the target.
fn screen_of(
    a: &Args,
    app: Arc<dyn TuneApp>,
    shape: &mapper_core::machine::MachineShape,
    size: &str,
) -> Result<Option<Screen>, String> {
    if a.screen == 0 {
        return Ok(None);
    }
    let machine = match &a.screen_machine {
        Some(m) => m.clone(),
        None if is_simulated(&a.machine) => a.machine.clone(),
        None if a.machine.trim() == "local" => {
            // The implicit screen of `local`: without a usable description of this host (e.g.
            // one with GPUs, which the measurement does not describe), search without it.
            let usable = apps::host::ensure_local_sim(false).and_then(|_| {
                let d = runtime::MachineDesc::parse("sim:local")?;
                if d.shape() == *shape {
                    Ok(())
                } else {
                    Err("its processors or memories differ from this machine's".to_string())
                }
            });
            if let Err(e) = usable {
                println!("no pre-screen: sim:local is not usable here ({e})");
                return Ok(None);
            }
            "sim:local".to_string()
        }
        None => {
            println!(
                "no pre-screen: no simulated description of {} (pass --screen-machine)",
                a.machine
            );
            return Ok(None);
        }
    };
    if !is_simulated(&machine) {
        return Err(format!(
            "--screen-machine {machine}: the pre-screen needs a simulated machine (sim:PRESET, sim:FILE.toml or sim:local)"
        ));
    }
    if machine.trim() == "sim:local" {
        apps::host::ensure_local_sim(false)?;
    }
    let desc =
        runtime::MachineDesc::parse(&machine).map_err(|e| format!("pre-screen machine: {e}"))?;
    if desc.shape() != *shape {
        return Err(format!(
            "--screen-machine {machine} does not have the processors and memories of {} (its shape: {:?}; the target's: {:?})",
            a.machine,
            desc.shape(),
            shape
        ));
    }
    println!(
        "pre-screen: the built-in searches rate {} candidates per iteration on {machine} and evaluate the best",
        a.screen
    );
    let size = size.to_string();
    let rate = Arc::new(move |text: &str| {
        let r = app
            .run(&MapperSpec::Text(text.to_string()), &machine, &size)
            .ok()?;
        match r.throughput {
            Some(t) if t > 0.0 => Some(t),
            _ => (r.time_s > 0.0).then(|| 1.0 / r.time_s),
        }
    });
    Ok(Some(Screen {
        rate,
        width: a.screen,
    }))
}

fn run(a: &Args) -> Result<(), String> {
    let app = tuner::registry::find(&a.app)?;
    let mut app: Arc<dyn TuneApp> = Arc::from(app);
    if let Some(file) = &a.write_file {
        app = Arc::new(FileExpert::new(app, file)?);
    }
    let sizes = app.sizes();
    let size = a.size.clone().unwrap_or_else(|| {
        if sizes.iter().any(|s| s == "small") {
            "small".into()
        } else {
            sizes.first().cloned().unwrap_or_else(|| "small".into())
        }
    });
    app.check_size(&size)?;
    if a.machine.trim() == "sim:local" {
        apps::host::ensure_local_sim(false)?;
    }
    let desc = runtime::MachineDesc::parse(&a.machine)?;
    let shape = desc.shape();
    let out = match (&a.resume, &a.out) {
        (Some(r), Some(o)) if r != o => {
            return Err(format!(
                "--resume {} and --out {} name different directories; the outputs of a resumed run go to the --resume directory",
                r.display(),
                o.display()
            ))
        }
        (Some(r), _) => r.clone(),
        (None, Some(o)) => o.clone(),
        (None, None) => PathBuf::from("tune-out").join(&a.app),
    };
    let resume = match &a.resume {
        None => Vec::new(),
        Some(dir) => {
            let p = dir.join("history.jsonl");
            let text = std::fs::read_to_string(&p)
                .map_err(|e| format!("--resume: cannot read {}: {e}", p.display()))?;
            read_history(&text).map_err(|e| format!("--resume: {}: {e}", p.display()))?
        }
    };
    std::fs::create_dir_all(&out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    // The LLM plan is made now; the searches' space once the baselines have shown each task's
    // launch dimensionality.
    let mut llm_plan: Option<Plan> = None;
    let mut searches: Vec<SearchKind> = Vec::new();
    let mut llm_note = None;
    match a.optimizer {
        OptimizerArg::Llm => match LlmConfig::from_env(a.model.clone()) {
            None => {
                println!("{NO_LLM_MESSAGE} (ensemble)");
                llm_note = Some(NO_LLM_MESSAGE.to_string());
                searches.push(SearchKind::Ensemble);
            }
            Some(mut config) => {
                config.log_path = Some(out.join("llm.jsonl"));
                let described = config.describe();
                let client = LlmClient::new(config).map_err(|e| e.to_string())?;
                let mode = match a.prompt {
                    PromptArg::Optoprime => PromptMode::OptoPrime,
                    PromptArg::Opro => PromptMode::Opro,
                };
                println!(
                    "LLM: {described}; prompts and replies are logged to {}",
                    out.join("llm.jsonl").display()
                );
                // One profiled run of the expert (the same child-process evaluation) shows the
                // launch extents at this size on this machine.
                let mut probe_settings = eval_settings(a, &size, &out)?;
                probe_settings.work_dir = out.join("probe");
                let mut probe = ChildEvaluator::new(app.as_ref(), probe_settings);
                let facts = match tuner::eval::Evaluate::evaluate(&mut probe, &app.expert_mapper())
                    .outcome
                {
                    tuner::feedback::Outcome::Ran { report, .. } => Some(report.profile),
                    _ => None,
                };
                let prompts = PromptBuilder::new(tuner::prompt::describe(
                    app.as_ref(),
                    &desc,
                    &size,
                    facts.as_ref(),
                ));
                llm_plan = Some(Plan {
                    optimizer: Box::new(LlmOptimizer::new(
                        client,
                        prompts,
                        mode,
                        app.expert_mapper(),
                    )),
                    expert_in_history: true,
                });
            }
        },
        OptimizerArg::Random => searches.push(SearchKind::Random),
        OptimizerArg::Coordinate => searches.push(SearchKind::Coordinate),
        OptimizerArg::Ensemble => searches.push(SearchKind::Ensemble),
        OptimizerArg::All => searches.extend(SearchKind::ALL),
    }
    let n_plans = usize::from(llm_plan.is_some()) + searches.len();
    let screen = if searches.is_empty() {
        None
    } else {
        screen_of(a, app.clone(), &shape, &size)?
    };
    let expert_text = app.expert_mapper();
    let mut make_plans = |dims: &BTreeMap<String, usize>| {
        let space = Arc::new(Space::with_dims(
            app.as_ref(),
            &shape,
            Some(&expert_text),
            dims,
        ));
        // Every optimizer starts from the same two seeds: the expert (projected into the space)
        // and the runtime default expressed in the space. The searches propose them first on
        // their own; the LLM optimizer is wrapped to do the same.
        let seeds = vec![space.render(&space.start()), space.render(&space.zero())];
        let mut plans: Vec<Plan> = llm_plan
            .take()
            .into_iter()
            .map(|p| Plan {
                optimizer: Box::new(Seeded::new(p.optimizer, seeds.clone())),
                expert_in_history: false,
            })
            .collect();
        for k in &searches {
            plans.push(Plan {
                optimizer: Box::new(match &screen {
                    Some(sc) => SpaceSearch::new(*k, space.clone(), a.seed).with_screen(sc.clone()),
                    None => SpaceSearch::new(*k, space.clone(), a.seed),
                }),
                expert_in_history: false,
            });
        }
        plans
    };
    let mut eval = ChildEvaluator::new(app.as_ref(), eval_settings(a, &size, &out)?);
    let runs = if is_simulated(&a.machine) {
        1
    } else {
        a.runs.max(1)
    };
    if is_simulated(&a.machine) {
        println!(
            "{} is simulated: times are deterministic, so each mapper runs once",
            a.machine
        );
    }
    println!(
        "tuning {} on {} (size {size}): {} optimizer run(s) x {} iterations, {runs} run(s) per evaluation",
        a.app,
        a.machine,
        n_plans,
        a.iterations
    );
    let mut confirm_settings = ConfirmSettings::for_machine(&a.machine);
    if let Some(n) = a.confirm_rounds {
        confirm_settings.rounds = n;
    }
    confirm_settings.top = a.confirm_top;
    confirm_settings.min_gain = a.min_gain;
    let bar = if a.quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(n_plans.saturating_mul(a.iterations).saturating_add(2) as u64)
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} [{elapsed_precise}] {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut settings = vec![
        ("app".to_string(), a.app.clone()),
        ("machine".to_string(), format!("{} ({desc})", a.machine)),
        ("size".to_string(), size.clone()),
        (
            "optimizer".to_string(),
            format!("{:?}", a.optimizer).to_lowercase(),
        ),
        ("iterations".to_string(), a.iterations.to_string()),
        ("runs per evaluation".to_string(), runs.to_string()),
        ("seed".to_string(), a.seed.to_string()),
        (
            "time limit per run".to_string(),
            if a.timeout.is_finite() {
                format!("{} s", a.timeout)
            } else {
                "none (--timeout inf)".to_string()
            },
        ),
        (
            "confirmation".to_string(),
            format!(
                "{} round(s), top {} candidates, gain threshold {}%",
                confirm_settings.rounds,
                confirm_settings.top,
                confirm_settings.min_gain * 100.0
            ),
        ),
    ];
    if let Some(n) = llm_note {
        settings.push(("LLM".to_string(), n));
    }
    let mut current = String::new();
    let mut write_error: Option<String> = None;
    let mut best = 0.0f64;
    let mut progress = |p: Progress<'_>| match p {
        Progress::Baseline(name) => {
            bar.set_message(format!("evaluating the {name} mapper"));
            if name == "default" {
                bar.inc(1);
            }
        }
        Progress::RunStart(name) => {
            current = name.to_string();
            best = 0.0;
            bar.inc(u64::from(bar.position() < 2));
            bar.set_message(format!("{name}: starting"));
        }
        Progress::Updated(r) => {
            // Outputs after every iteration, so an interrupted run can be resumed.
            if let Err(e) = write_outputs(r, &out, &settings) {
                write_error.get_or_insert(e);
            }
        }
        Progress::Iteration(r) => {
            best = best.max(r.score);
            bar.inc(1);
            bar.set_message(format!(
                "{current}: iteration {} {} (score {:.3}, best {best:.3})",
                r.iteration, r.outcome, r.score
            ));
        }
    };
    let result = run_session(
        app.as_ref(),
        &mut eval,
        &a.machine,
        &size,
        &mut make_plans,
        a.iterations,
        &resume,
        &mut progress,
    );
    if let Some(e) = write_error {
        eprintln!("warning: writing the outputs during the run failed: {e}");
    }
    let mut result = result;
    bar.set_message("confirming the best candidates");
    result.confirmation = confirm(&mut eval, &result, confirm_settings, &mut |i, n| {
        bar.set_message(format!("confirmation round {i}/{n}"));
    });
    bar.finish_and_clear();
    print!("\n{}", table(&result));
    match &result.confirmation {
        Some(_) => print!("\n{}", confirmation_table(&result)),
        None => println!("\nno confirmation step (no baseline ran, or --confirm-rounds 0): best.mapper holds the best search score, unconfirmed"),
    }
    for n in &result.notes {
        println!("note: {n}");
    }
    let files = write_outputs(&result, &out, &settings)?;
    println!(
        "wrote {}",
        files
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    if a.write {
        write_back(a, app.as_ref(), &result, &size, &out)?;
    }
    Ok(())
}

/// `--write`: the confirmed winner, if its gain clears the threshold and it maps and verifies
/// on every check machine, replaces the expert by the smallest edit (diff printed), then the
/// build check runs (the original is restored if it fails).
fn write_back(
    a: &Args,
    app: &dyn TuneApp,
    result: &tuner::session::SessionResult,
    size: &str,
    out: &std::path::Path,
) -> Result<(), String> {
    let refuse = |why: String| Err(format!("--write refused: {why}; the source is unchanged"));
    let Some(c) = &result.confirmation else {
        return refuse(
            "no confirmation step ran (--confirm-rounds 0, or no baseline ran), so no gain is confirmed".into(),
        );
    };
    let Some(w) = c.winner() else {
        return refuse(format!(
            "no candidate has a confirmed gain of at least {:.1}% beyond noise over the {}",
            a.min_gain * 100.0,
            c.baseline
        ));
    };
    let gain = w.median().unwrap_or(0.0);
    if gain < 1.0 + a.min_gain {
        return refuse(format!(
            "the confirmed gain {gain:.3}x is below the threshold {:.3}x (--min-gain)",
            1.0 + a.min_gain
        ));
    }
    let best = w.mapper.clone();
    let src = app
        .mapper_source()
        .ok_or_else(|| format!("--write: app `{}` has no mapper! source to rewrite", a.app))?;
    // The new mapper must still map where the app's tests run it (CPU-only and emulated
    // machines), at the app's smallest size, through the same child-process evaluation.
    let sizes = app.sizes();
    let check_size = if sizes.iter().any(|s| s == "tiny") {
        "tiny".to_string()
    } else {
        sizes.first().cloned().unwrap_or_else(|| size.to_string())
    };
    for m in a
        .write_machines
        .split(',')
        .map(str::trim)
        .filter(|m| !m.is_empty())
    {
        let settings = EvalSettings {
            exe: own_exe()?,
            app: a.app.clone(),
            machine: m.to_string(),
            size: check_size.clone(),
            runs: 1,
            timeout: timeout_of(a.timeout),
            work_dir: out.join("write-check"),
        };
        let mut eval = ChildEvaluator::new(app, settings);
        let e = tuner::eval::Evaluate::evaluate(&mut eval, &best);
        if e.outcome.time_s().is_none() {
            let raw = e.outcome.raw();
            let why = raw.lines().next().unwrap_or("failed");
            return refuse(format!(
                "the confirmed winner ({gain:.3}x) does not run on `{m}` (size {check_size}), where the app's tests run it: {} (--write-machines sets the machines it must run on)",
                why.trim_start_matches("error: ")
            ));
        }
        println!("--write: the new mapper maps and verifies on {m} (size {check_size})");
    }
    let dir = workspace_root(&src.path);
    let verifier = match &a.write_check {
        Some(cmd) => {
            let mut words = cmd.split_whitespace();
            let program = words
                .next()
                .ok_or("--write-check: empty command; give e.g. `cargo check -p apps`")?;
            CommandVerifier::new(program, words, &dir)
        }
        None => CommandVerifier::cargo_check(&dir, &src.package),
    };
    let done = rewrite_mapper(&src.path, &src.type_name, &best, &verifier)
        .map_err(|e| format!("--write: {e}"))?;
    if done.changed {
        print!("{}", done.diff);
        println!(
            "rewrote the mapper `{}` in {} ({}; {gain:.3}x the {}, confirmed; `{}` passed)",
            src.type_name,
            done.path.display(),
            if done.minimal {
                "only the statements that changed; comments kept"
            } else {
                "the whole body replaced"
            },
            c.baseline,
            tuner::rewrite::Verify::describe(&verifier)
        );
    } else {
        println!(
            "{} already holds the best mapper; nothing to write",
            done.path.display()
        );
    }
    Ok(())
}

/// An app whose expert is the mapper written in a file (`--write-file`), which `--write` then
/// rewrites.
struct FileExpert {
    inner: Arc<dyn TuneApp>,
    expert: String,
    source: tuner::target::MapperSource,
}

impl FileExpert {
    fn new(inner: Arc<dyn TuneApp>, file: &std::path::Path) -> Result<FileExpert, String> {
        let own = inner.mapper_source();
        let type_name = own
            .as_ref()
            .map(|s| s.type_name.clone())
            .unwrap_or_default();
        let package = own
            .as_ref()
            .map(|s| s.package.clone())
            .unwrap_or_else(|| "apps".into());
        let text = tuner::rewrite::mapper_text_in(file, &type_name)
            .map_err(|e| format!("--write-file: {e}"))?;
        let expert = tuner::validate::canonicalize(&text).map_err(|e| {
            format!(
                "--write-file: the mapper in {} is not valid:\n{e}",
                file.display()
            )
        })?;
        Ok(FileExpert {
            inner,
            expert,
            source: tuner::target::MapperSource {
                path: file.to_path_buf(),
                type_name,
                package,
            },
        })
    }
}

impl TuneApp for FileExpert {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn summary(&self) -> String {
        self.inner.summary()
    }
    fn info(&self) -> mapper_core::AppInfo {
        self.inner.info()
    }
    fn launch_dims(&self, task: &str) -> Option<usize> {
        self.inner.launch_dims(task)
    }
    fn layouts(&self, task: &str, arg: usize, kind: mapper_core::ProcKind) -> Vec<String> {
        self.inner.layouts(task, arg, kind)
    }
    fn expert_mapper(&self) -> String {
        self.expert.clone()
    }
    fn mapper_source(&self) -> Option<tuner::target::MapperSource> {
        Some(self.source.clone())
    }
    fn sizes(&self) -> Vec<String> {
        self.inner.sizes()
    }
    fn check_size(&self, size: &str) -> Result<(), String> {
        self.inner.check_size(size)
    }
    fn run(
        &self,
        mapper: &tuner::target::MapperSpec,
        machine: &str,
        size: &str,
    ) -> Result<tuner::target::RunReport, tuner::target::RunFailure> {
        self.inner.run(mapper, machine, size)
    }
}

/// Settings of the child-process evaluator for the tuned machine and size.
fn eval_settings(a: &Args, size: &str, out: &std::path::Path) -> Result<EvalSettings, String> {
    Ok(EvalSettings {
        exe: own_exe()?,
        app: a.app.clone(),
        machine: a.machine.clone(),
        size: size.to_string(),
        runs: a.runs,
        timeout: timeout_of(a.timeout),
        work_dir: out.join("candidates"),
    })
}

/// The nearest ancestor of `file` with a `Cargo.toml` that declares a workspace, else its
/// nearest package directory.
fn workspace_root(file: &std::path::Path) -> PathBuf {
    let mut package = None;
    for dir in file.ancestors().skip(1) {
        let manifest = dir.join("Cargo.toml");
        if let Ok(text) = std::fs::read_to_string(&manifest) {
            if text.contains("[workspace]") {
                return dir.to_path_buf();
            }
            package.get_or_insert_with(|| dir.to_path_buf());
        }
    }
    package.unwrap_or_else(|| PathBuf::from("."))
}
