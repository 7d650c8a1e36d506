//! The tiled GEMM test program (runtime/tests/programs/tiled_gemm.rs) on any machine, real or
//! simulated, with the default mapper or a `.mapper` file:
//!
//! ```text
//! cargo run --release -p runtime --example sim_gemm -- --machine sim:p100x4 --n 16384 --tiles 16
//! cargo run --release -p runtime --example sim_gemm -- --machine local --n 512 --tiles 4 --check
//! ```
//!
//! Prints the time of the multiplication (simulated or measured), the host time the run took,
//! and the profile summary; `--trace FILE` writes the Chrome trace.

#[path = "../tests/programs/tiled_gemm.rs"]
mod tiled_gemm;

use clap::Parser;
use runtime::mapper_core::interp::Interpreted;
use runtime::mapper_core::Mapper;
use runtime::DefaultMapper;

#[derive(Parser)]
#[command(about = "Tiled GEMM on the task runtime (real or simulated)")]
struct Args {
    /// Machine: `local`, `emulated:NxG`, `sim:PRESET` or a description FILE.toml.
    #[arg(long, default_value = "sim:p100x4")]
    machine: String,
    /// Matrix size (n x n).
    #[arg(long, default_value_t = 4096)]
    n: i64,
    /// Tiles per dimension.
    #[arg(long, default_value_t = 4)]
    tiles: i64,
    /// A `.mapper` file (default: the runtime's default mapper).
    #[arg(long)]
    mapper: Option<std::path::PathBuf>,
    /// Multiplications in sequence (C += A x B each time; `--check` expects one).
    #[arg(long, default_value_t = 1)]
    reps: usize,
    /// Skip rendering the profile summary and trace (to time or profile the run itself).
    #[arg(long)]
    quiet: bool,
    /// Check the result against a sequential reference (real runs only).
    #[arg(long)]
    check: bool,
    /// Print the profile summary.
    #[arg(long)]
    profile: bool,
    /// Write the Chrome trace JSON here.
    #[arg(long)]
    trace: Option<std::path::PathBuf>,
}

fn run(a: &Args) -> Result<(), String> {
    let interp;
    let mapper: &dyn Mapper = match &a.mapper {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .map_err(|e| format!("cannot read {}: {e}", p.display()))?;
            interp = Interpreted::from_text(&p.display().to_string(), &text).map_err(|d| {
                d.iter()
                    .map(|x| x.message.clone())
                    .collect::<Vec<_>>()
                    .join("; ")
            })?;
            &interp
        }
        None => &DefaultMapper,
    };
    let host = std::time::Instant::now();
    let o = tiled_gemm::run_with(&a.machine, mapper, a.n, a.tiles, a.reps, a.check, !a.quiet)?;
    let host = host.elapsed();
    println!(
        "machine={} n={} tiles={} tasks={} {}time={:.6} ms host={:.3} ms{}",
        a.machine,
        a.n,
        a.tiles,
        o.tasks,
        if o.simulated { "simulated " } else { "" },
        o.ns as f64 / 1e6,
        host.as_secs_f64() * 1e3,
        if a.check && !o.simulated {
            format!(" max_err={}", o.max_err)
        } else {
            String::new()
        }
    );
    if a.profile {
        print!("{}", o.summary);
    }
    if let Some(p) = &a.trace {
        std::fs::write(p, &o.trace).map_err(|e| format!("cannot write {}: {e}", p.display()))?;
    }
    Ok(())
}

fn main() {
    let a = Args::parse();
    if let Err(e) = run(&a) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
