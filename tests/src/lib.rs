//! Workspace-level tests (in `tests/tests`, `tests/ui`, `tests/benches`) and what they share:
//! the corpus mappers compiled by `mapper!` ([`corpus`]), application descriptions read from
//! the corpus files' header comments ([`app_from_header`]) and a seeded random generator.

use mapper_core::{AppInfo, ArgInfo, ProcKind, TaskInfo};

/// The corpus mappers of `mapper-core/corpus`, each compiled by `mapper!` (see `build.rs`).
pub mod corpus {
    include!(concat!(env!("OUT_DIR"), "/corpus.rs"));
}

/// Extra region names an argument is launched with, per application (where a corpus mapper's
/// `Region` statements name partitions rather than arguments).
fn extra_regions(app: &str, arg: &str) -> Vec<String> {
    let v: &[&str] = match (app, arg) {
        ("circuit" | "circuit_hetero", "wires") => &["rp_wires", "all_wires"],
        ("circuit" | "circuit_hetero", "nodes") => &["all_nodes"],
        ("circuit" | "circuit_hetero", "private_nodes") => &["rp_private", "all_nodes"],
        ("circuit" | "circuit_hetero", "shared_nodes") => &["rp_shared", "all_nodes"],
        ("circuit" | "circuit_hetero", "ghost_nodes") => &["rp_ghost", "all_nodes"],
        ("stencil", "input") => &["halo", "tiles", "grid"],
        ("stencil", "output") => &["tiles", "grid"],
        _ => &[],
    };
    v.iter().map(|s| s.to_string()).collect()
}

/// The application a corpus file's header comment describes: every line `#   task(arg, ...)`
/// (several per line allowed) is a task; "single launch" marks single launches, "CPU only" and
/// "OMP and CPU" restrict the variants, "GPU, OMP and CPU" widens them (default: CPU and GPU).
/// Arguments named in a `CollectMemory` statement of the file (or all of a task's arguments,
/// for `CollectMemory TASK *;`) are read-only.
pub fn app_from_header(name: &str, text: &str) -> AppInfo {
    let mut tasks: Vec<TaskInfo> = Vec::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("#   ") else {
            if !line.starts_with('#') {
                break;
            }
            continue;
        };
        if rest.starts_with(' ') {
            continue;
        }
        let mut s = rest;
        let mut found: Vec<(String, Vec<String>)> = Vec::new();
        while let Some(open) = s.find('(') {
            let tname = &s[..open];
            if tname.is_empty() || !tname.chars().all(|c| c.is_alphanumeric() || c == '_') {
                break;
            }
            let Some(close) = s[open..].find(')') else {
                break;
            };
            let args = s[open + 1..open + close]
                .split(',')
                .map(|a| a.trim().to_string())
                .filter(|a| !a.is_empty())
                .collect();
            found.push((tname.to_string(), args));
            s = &s[open + close + 1..];
            match s.strip_prefix(", ") {
                Some(r) => s = r,
                None => break,
            }
        }
        let variants = if rest.contains("CPU only") {
            vec![ProcKind::Cpu]
        } else if rest.contains("GPU, OMP and CPU") {
            vec![ProcKind::Cpu, ProcKind::Gpu, ProcKind::Omp]
        } else if rest.contains("OMP and CPU") {
            vec![ProcKind::Omp, ProcKind::Cpu]
        } else {
            vec![ProcKind::Cpu, ProcKind::Gpu]
        };
        let index_launch = !rest.contains("single launch");
        for (tname, args) in found {
            let collected = |a: &str| {
                text.lines().any(|l| {
                    let w: Vec<&str> = l.split(|c: char| c.is_whitespace() || c == ';').collect();
                    w.first() == Some(&"CollectMemory")
                        && (w.get(1) == Some(&tname.as_str()) || w.get(1) == Some(&"*"))
                        && (w.get(2) == Some(&a) || w.get(2) == Some(&"*"))
                })
            };
            tasks.push(TaskInfo {
                name: tname.clone(),
                args: args
                    .iter()
                    .map(|a| ArgInfo {
                        name: a.clone(),
                        regions: extra_regions(name, a),
                        read_only: collected(a),
                    })
                    .collect(),
                variants: variants.clone(),
                index_launch,
            });
        }
    }
    AppInfo {
        name: name.to_string(),
        tasks,
    }
}

/// A small seeded generator (SplitMix64): reproducible random queries without dependencies.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator with seed `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A uniform integer in `lo..hi` (`lo` if the range is empty).
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            return lo;
        }
        lo + (self.next_u64() % (hi - lo) as u64) as i64
    }
}
