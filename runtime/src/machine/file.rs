//! Machine descriptions in TOML (the schema is documented with a full example in
//! `docs/simulator.md`). A description lists identical nodes; per node, processors by kind
//! (count, throughput, launch overhead, optional size-dependent throughput curve) and memories
//! by kind (count, capacity, internal bandwidth); which processor kinds access which memory
//! kinds (bandwidth, latency, and how processors pair with memories); and copy paths between
//! memory kinds within a node or across the network. Errors name the file, the key and what is
//! wrong.

use super::{Access, CopyPath, MachineDesc, MemDesc, ProcDesc};
use mapper_core::diag::closest;
use mapper_core::{MemKind, ProcId, ProcKind};
use serde::Deserialize;
use std::path::Path;

/// The top level of a description file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MachineFile {
    /// Display name (defaults to the spec the file was loaded from).
    pub name: Option<String>,
    /// Free text.
    pub description: Option<String>,
    /// Number of identical nodes.
    pub nodes: u32,
    /// Processors per node, one entry per kind.
    #[serde(default)]
    pub processor: Vec<ProcSpec>,
    /// Memories per node, one entry per kind.
    #[serde(default)]
    pub memory: Vec<MemSpec>,
    /// Which processor kinds access which memory kinds.
    #[serde(default)]
    pub access: Vec<AccessSpec>,
    /// Copy paths between memory kinds.
    #[serde(default)]
    pub copy: Vec<CopySpec>,
    /// Bandwidth and latency of copies no `copy` entry covers.
    pub default_copy: Option<LinkSpec>,
    /// Time the runtime's control thread spends mapping one point task, microseconds.
    #[serde(default)]
    pub map_us: f64,
}

/// `[[processor]]`: the processors of one kind on every node.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProcSpec {
    /// `CPU`, `GPU`, `OMP`, `IO`, `PY` or `PROC`.
    pub kind: String,
    /// Processors of this kind per node.
    pub count: u32,
    /// Threads per processor (an OMP pool size); 1 by default.
    pub threads: Option<u32>,
    /// Peak throughput per processor, GFLOP/s.
    pub gflops: f64,
    /// Launch overhead per task, microseconds.
    #[serde(default)]
    pub launch_us: f64,
    /// Achieved throughput by task size: `[[flops, gflops], ...]`, ascending in flops.
    #[serde(default)]
    pub curve: Vec<[f64; 2]>,
}

/// `[[memory]]`: the memories of one kind on every node.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemSpec {
    /// `SYSMEM`, `FBMEM`, `ZCMEM`, `RDMEM`, `SOCKMEM` or `VIRTUAL`.
    pub kind: String,
    /// Memories of this kind per node; 1 by default.
    pub count: Option<u32>,
    /// Capacity of each: bytes (integer) or a string with a K, M, G or T suffix (`"16G"`).
    pub capacity: toml::Value,
    /// Internal bandwidth (fills, copies within the memory), GB/s.
    pub bandwidth: f64,
}

/// How the processors of a kind pair with the memories of a kind on a node.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Pairing {
    /// Every processor accesses every memory (the default).
    #[default]
    All,
    /// Processor i accesses memory i (a GPU and its framebuffer); counts must match.
    Index,
    /// Processors are split into equal consecutive blocks, one per memory (cores and sockets).
    Block,
}

/// `[[access]]`: processors of kind `proc` access memories of kind `mem` directly.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessSpec {
    /// Processor kind.
    pub proc: String,
    /// Memory kind.
    pub mem: String,
    /// Bandwidth of a task on such a processor reading or writing such a memory, GB/s.
    pub bandwidth: f64,
    /// Access latency, microseconds.
    #[serde(default)]
    pub latency_us: f64,
    /// Pairing of processors with memories.
    #[serde(default)]
    pub pairing: Pairing,
    /// Whether the processor's caches serve re-reads (default true; false for a GPU reading
    /// mapped host memory over PCIe: tasks are then charged their streamed bytes).
    #[serde(default = "yes")]
    pub cached: bool,
}

fn yes() -> bool {
    true
}

/// Where a copy path applies.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Between memories of the same node (the default).
    #[default]
    Node,
    /// Between memories of different nodes.
    Network,
}

/// `[[copy]]`: copies between two memory kinds (either direction; `*` matches any kind).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CopySpec {
    /// The two memory kinds.
    pub between: [String; 2],
    /// `node` (same node, the default) or `network` (different nodes).
    #[serde(default)]
    pub scope: Scope,
    /// Bandwidth, GB/s.
    pub bandwidth: f64,
    /// Latency, microseconds.
    #[serde(default)]
    pub latency_us: f64,
}

/// A bandwidth and latency.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkSpec {
    /// Bandwidth, GB/s.
    pub bandwidth: f64,
    /// Latency, microseconds.
    #[serde(default)]
    pub latency_us: f64,
}

/// The largest machine description file accepted, in bytes (1 MiB).
pub const MAX_FILE_BYTES: u64 = 1 << 20;

/// The most processors (or memories) a whole machine may have, over all nodes and kinds.
pub const MAX_TOTAL_UNITS: u64 = 1 << 16;

/// Loads a description file; the machine is simulated and named after `path`. Files over
/// [`MAX_FILE_BYTES`] are refused before they are read.
pub fn load(path: &Path) -> Result<MachineDesc, String> {
    use std::io::Read;
    let cannot = |e: &dyn std::fmt::Display| {
        format!("cannot read machine description `{}`: {e}", path.display())
    };
    let file = std::fs::File::open(path).map_err(|e| cannot(&e))?;
    let too_big = || {
        format!(
            "machine description `{}` is larger than {} bytes (1 MiB); refusing to read it",
            path.display(),
            MAX_FILE_BYTES
        )
    };
    if file.metadata().map_err(|e| cannot(&e))?.len() > MAX_FILE_BYTES {
        return Err(too_big());
    }
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| cannot(&e))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(too_big());
    }
    let text = String::from_utf8(bytes).map_err(|e| cannot(&e))?;
    parse_str(
        &text,
        &path.display().to_string(),
        &path.display().to_string(),
    )
}

fn positive(origin: &str, key: &str, v: f64) -> Result<f64, String> {
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        Err(format!(
            "{origin}: {key}: must be a positive number, got {v}"
        ))
    }
}

fn non_negative(origin: &str, key: &str, v: f64) -> Result<f64, String> {
    if v.is_finite() && v >= 0.0 {
        Ok(v)
    } else {
        Err(format!(
            "{origin}: {key}: must be zero or a positive number, got {v}"
        ))
    }
}

fn proc_kind(origin: &str, key: &str, s: &str) -> Result<ProcKind, String> {
    ProcKind::parse(s.trim()).ok_or_else(|| {
        let hint = closest(s.trim(), ProcKind::names())
            .map(|c| format!(" (did you mean `{c}`?)"))
            .unwrap_or_default();
        format!(
            "{origin}: {key}: unknown processor kind `{s}`{hint}; expected one of {}",
            ProcKind::names().collect::<Vec<_>>().join(", ")
        )
    })
}

fn mem_kind(origin: &str, key: &str, s: &str) -> Result<MemKind, String> {
    MemKind::parse(s.trim()).ok_or_else(|| {
        let hint = closest(s.trim(), MemKind::names())
            .map(|c| format!(" (did you mean `{c}`?)"))
            .unwrap_or_default();
        format!(
            "{origin}: {key}: unknown memory kind `{s}`{hint}; expected one of {}",
            MemKind::names().collect::<Vec<_>>().join(", ")
        )
    })
}

fn capacity(origin: &str, key: &str, v: &toml::Value) -> Result<u64, String> {
    let bytes = match v {
        toml::Value::Integer(n) => u64::try_from(*n).ok(),
        toml::Value::String(s) => {
            let s = s.trim();
            match s.strip_suffix(['T', 't']) {
                Some(n) => n
                    .trim()
                    .parse::<u64>()
                    .ok()
                    .and_then(|n| n.checked_mul(1 << 40)),
                None => super::parse_size(s).ok(),
            }
        }
        _ => None,
    };
    match bytes {
        Some(b) if b > 0 => Ok(b),
        _ => Err(format!(
            "{origin}: {key}: bad capacity {v}; expected a positive number of bytes or a string such as \"16G\" (suffix K, M, G or T)"
        )),
    }
}

/// Parses description text. `origin` names the source in errors (a path or `preset NAME`);
/// `name` becomes the machine's name.
pub fn parse_str(text: &str, origin: &str, name: &str) -> Result<MachineDesc, String> {
    let f: MachineFile = toml::from_str(text).map_err(|e| {
        format!(
            "{origin}: invalid machine description: {}",
            e.to_string().trim_end()
        )
    })?;
    build(&f, origin, name)
}

/// Turns a parsed file into a machine description (validating every entry).
pub fn build(f: &MachineFile, origin: &str, name: &str) -> Result<MachineDesc, String> {
    if f.nodes == 0 || f.nodes > 4096 {
        return Err(format!(
            "{origin}: nodes: must be between 1 and 4096, got {}",
            f.nodes
        ));
    }
    if f.processor.is_empty() {
        return Err(format!(
            "{origin}: no [[processor]] entries; describe at least one processor kind"
        ));
    }
    if f.memory.is_empty() {
        return Err(format!(
            "{origin}: no [[memory]] entries; describe at least one memory kind"
        ));
    }
    // Processor kinds.
    struct PK {
        kind: ProcKind,
        count: u32,
        threads: u32,
        gflops: f64,
        launch_ns: f64,
        curve: Vec<(f64, f64)>,
    }
    let mut pks: Vec<PK> = Vec::new();
    for (i, p) in f.processor.iter().enumerate() {
        let key = |k: &str| format!("processor[{i}].{k}");
        let kind = proc_kind(origin, &key("kind"), &p.kind)?;
        if pks.iter().any(|x| x.kind == kind) {
            return Err(format!(
                "{origin}: {}: processor kind {kind} is described twice; use one entry with a count",
                key("kind")
            ));
        }
        if p.count == 0 || p.count > 4096 {
            return Err(format!(
                "{origin}: {}: must be between 1 and 4096, got {}",
                key("count"),
                p.count
            ));
        }
        let threads = p.threads.unwrap_or(1);
        if threads == 0 || threads > 4096 {
            return Err(format!(
                "{origin}: {}: must be between 1 and 4096, got {threads}",
                key("threads")
            ));
        }
        let gflops = positive(origin, &key("gflops"), p.gflops)?;
        let launch_ns = non_negative(origin, &key("launch_us"), p.launch_us)? * 1e3;
        let mut curve = Vec::with_capacity(p.curve.len());
        for (j, [fl, g]) in p.curve.iter().enumerate() {
            let k = format!("processor[{i}].curve[{j}]");
            positive(origin, &k, *fl)?;
            positive(origin, &k, *g)?;
            if curve.last().is_some_and(|&(prev, _)| prev >= *fl) {
                return Err(format!(
                    "{origin}: {k}: flops must increase along the curve ({fl} follows a point with as many or more)"
                ));
            }
            curve.push((*fl, *g));
        }
        pks.push(PK {
            kind,
            count: p.count,
            threads,
            gflops,
            launch_ns,
            curve,
        });
    }
    // Memory kinds.
    let mut mks: Vec<(MemKind, u32, u64, f64)> = Vec::new();
    for (i, m) in f.memory.iter().enumerate() {
        let key = |k: &str| format!("memory[{i}].{k}");
        let kind = mem_kind(origin, &key("kind"), &m.kind)?;
        if mks.iter().any(|x| x.0 == kind) {
            return Err(format!(
                "{origin}: {}: memory kind {kind} is described twice; use one entry with a count",
                key("kind")
            ));
        }
        let count = m.count.unwrap_or(1);
        if count == 0 || count > 4096 {
            return Err(format!(
                "{origin}: {}: must be between 1 and 4096, got {count}",
                key("count")
            ));
        }
        let cap = capacity(origin, &key("capacity"), &m.capacity)?;
        let bw = positive(origin, &key("bandwidth"), m.bandwidth)?;
        mks.push((kind, count, cap, bw));
    }
    // Whole-machine totals, so that a file cannot ask for billions of processors or memories.
    let nodes = u64::from(f.nodes);
    let procs_total: u64 = nodes * pks.iter().map(|p| u64::from(p.count)).sum::<u64>();
    let mems_total: u64 = nodes * mks.iter().map(|m| u64::from(m.1)).sum::<u64>();
    for (what, n) in [("processors", procs_total), ("memories", mems_total)] {
        if n > MAX_TOTAL_UNITS {
            return Err(format!(
                "{origin}: the machine has {n} {what} in all (nodes x count per node); at most {MAX_TOTAL_UNITS} are supported"
            ));
        }
    }
    // Access entries, checked against the kinds.
    struct AK {
        proc: ProcKind,
        mem: MemKind,
        bandwidth: f64,
        latency: f64,
        pairing: Pairing,
        cached: bool,
    }
    let mut aks: Vec<AK> = Vec::new();
    for (i, a) in f.access.iter().enumerate() {
        let key = |k: &str| format!("access[{i}].{k}");
        let proc = proc_kind(origin, &key("proc"), &a.proc)?;
        let mem = mem_kind(origin, &key("mem"), &a.mem)?;
        let Some(pk) = pks.iter().find(|p| p.kind == proc) else {
            return Err(format!(
                "{origin}: {}: no [[processor]] entry describes {proc} processors",
                key("proc")
            ));
        };
        let Some(mk) = mks.iter().find(|m| m.0 == mem) else {
            return Err(format!(
                "{origin}: {}: no [[memory]] entry describes {mem} memories",
                key("mem")
            ));
        };
        if aks.iter().any(|x| x.proc == proc && x.mem == mem) {
            return Err(format!(
                "{origin}: access[{i}]: access of {proc} to {mem} is described twice"
            ));
        }
        if a.pairing == Pairing::Index && pk.count != mk.1 {
            return Err(format!(
                "{origin}: {}: \"index\" pairs processor i with memory i, so it needs as many {mem} as {proc} per node ({} vs {}); use \"block\" or \"all\"",
                key("pairing"),
                mk.1,
                pk.count
            ));
        }
        aks.push(AK {
            proc,
            mem,
            bandwidth: positive(origin, &key("bandwidth"), a.bandwidth)?,
            latency: non_negative(origin, &key("latency_us"), a.latency_us)? * 1e3,
            pairing: a.pairing,
            cached: a.cached,
        });
    }
    for pk in &pks {
        if !aks.iter().any(|a| a.proc == pk.kind) {
            return Err(format!(
                "{origin}: {} processors access no memory; add an [[access]] entry with proc = \"{}\"",
                pk.kind, pk.kind
            ));
        }
    }
    // Copy paths: explicit pairs first, then wildcard expansions.
    let mut explicit = Vec::new();
    let mut wild = Vec::new();
    for (i, c) in f.copy.iter().enumerate() {
        let key = format!("copy[{i}].between");
        let ends: Vec<Option<MemKind>> = c
            .between
            .iter()
            .map(|s| {
                if s.trim() == "*" {
                    Ok(None)
                } else {
                    let k = mem_kind(origin, &key, s)?;
                    if !mks.iter().any(|m| m.0 == k) {
                        return Err(format!(
                            "{origin}: {key}: no [[memory]] entry describes {k} memories"
                        ));
                    }
                    Ok(Some(k))
                }
            })
            .collect::<Result<_, String>>()?;
        let bandwidth = positive(origin, &format!("copy[{i}].bandwidth"), c.bandwidth)?;
        let latency = non_negative(origin, &format!("copy[{i}].latency_us"), c.latency_us)? * 1e3;
        let same_node = c.scope == Scope::Node;
        let kinds = |e: Option<MemKind>| -> Vec<MemKind> {
            match e {
                Some(k) => vec![k],
                None => mks.iter().map(|m| m.0).collect(),
            }
        };
        let is_wild = ends.iter().any(Option::is_none);
        for a in kinds(ends[0]) {
            for b in kinds(ends[1]) {
                let p = CopyPath {
                    a,
                    b,
                    same_node,
                    bandwidth,
                    latency,
                };
                let list = if is_wild { &mut wild } else { &mut explicit };
                let dup = list.iter().any(|q: &CopyPath| {
                    q.same_node == same_node && ((q.a == a && q.b == b) || (q.a == b && q.b == a))
                });
                if dup && !is_wild {
                    return Err(format!(
                        "{origin}: copy[{i}]: copies between {a} and {b} ({}) are described twice",
                        if same_node { "node" } else { "network" }
                    ));
                }
                if !dup {
                    list.push(p);
                }
            }
        }
    }
    explicit.extend(wild);
    let (default_copy, default_latency) = match &f.default_copy {
        Some(l) => (
            positive(origin, "default_copy.bandwidth", l.bandwidth)?,
            non_negative(origin, "default_copy.latency_us", l.latency_us)? * 1e3,
        ),
        None if explicit.is_empty() => (1.0, 0.0),
        None => (
            explicit
                .iter()
                .map(|p| p.bandwidth)
                .fold(f64::INFINITY, f64::min),
            explicit.iter().map(|p| p.latency).fold(0.0, f64::max),
        ),
    };

    // Expand per node.
    let mut procs = Vec::new();
    let mut mems = Vec::new();
    let mut access = Vec::new();
    for node in 0..f.nodes {
        let mem_base = mems.len();
        for &(kind, count, capacity, bandwidth) in &mks {
            for index in 0..count {
                mems.push(MemDesc {
                    kind,
                    node,
                    index,
                    capacity,
                    bandwidth,
                });
            }
        }
        for pk in &pks {
            for index in 0..pk.count {
                procs.push(ProcDesc {
                    id: ProcId {
                        node,
                        kind: pk.kind,
                        index,
                    },
                    threads: pk.threads,
                    gflops: pk.gflops,
                    curve: pk.curve.clone(),
                    launch_ns: pk.launch_ns,
                });
                let p = procs.len() - 1;
                for a in aks.iter().filter(|a| a.proc == pk.kind) {
                    let mcount = mks.iter().find(|m| m.0 == a.mem).map_or(0, |m| m.1);
                    let on_node = mems[mem_base..]
                        .iter()
                        .enumerate()
                        .filter(|(_, m)| m.kind == a.mem);
                    for (off, m) in on_node {
                        let ok = match a.pairing {
                            Pairing::All => true,
                            Pairing::Index => m.index == index,
                            Pairing::Block => {
                                u64::from(index) * u64::from(mcount) / u64::from(pk.count)
                                    == u64::from(m.index)
                            }
                        };
                        if ok {
                            access.push(Access {
                                proc: p,
                                mem: mem_base + off,
                                bandwidth: a.bandwidth,
                                latency: a.latency,
                                cached: a.cached,
                            });
                        }
                    }
                }
            }
        }
    }
    Ok(MachineDesc {
        name: f.name.clone().unwrap_or_else(|| name.to_string()),
        nodes: f.nodes,
        procs,
        mems,
        access,
        paths: explicit,
        default_copy,
        default_latency,
        simulated: true,
        map_ns: non_negative(origin, "map_us", f.map_us)? * 1e3,
        local_node: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: &str = r#"
nodes = 2
[[processor]]
kind = "CPU"
count = 2
gflops = 10.0
launch_us = 1.5
[[processor]]
kind = "GPU"
count = 2
gflops = 1000.0
curve = [[1e6, 100.0], [1e9, 900.0]]
[[memory]]
kind = "SYSMEM"
capacity = "1G"
bandwidth = 50.0
[[memory]]
kind = "FBMEM"
count = 2
capacity = 1048576
bandwidth = 500.0
[[access]]
proc = "CPU"
mem = "SYSMEM"
bandwidth = 10.0
[[access]]
proc = "GPU"
mem = "FBMEM"
bandwidth = 400.0
pairing = "index"
[[copy]]
between = ["SYSMEM", "FBMEM"]
bandwidth = 12.0
latency_us = 10.0
[[copy]]
between = ["*", "*"]
scope = "network"
bandwidth = 25.0
latency_us = 2.0
"#;

    #[test]
    fn parses_and_expands() {
        let m = parse_str(SMALL, "test.toml", "test.toml").unwrap();
        assert!(m.simulated);
        assert_eq!(m.name, "test.toml");
        assert_eq!(m.nodes, 2);
        assert_eq!(m.procs.len(), 8);
        assert_eq!(m.mems.len(), 6);
        assert_eq!(m.mems[2].label(), "FBMEM[0.1]");
        assert_eq!(m.mems[2].capacity, 1 << 20);
        let g1 = m
            .proc_index(ProcId {
                node: 1,
                kind: ProcKind::Gpu,
                index: 1,
            })
            .unwrap();
        let fb = m.best_memory(g1, MemKind::Fbmem).unwrap();
        assert_eq!(m.mems[fb].label(), "FBMEM[1.1]");
        assert_eq!(m.procs[g1].launch_ns, 0.0);
        assert_eq!(m.procs[0].launch_ns, 1500.0);
        // Copies: explicit intra-node path, network wildcard, default for the rest.
        assert_eq!(m.copy_link(0, 1), (12.0, 10_000.0));
        assert_eq!(m.copy_link(1, 4), (25.0, 2_000.0));
        assert_eq!(m.copy_link(1, 2), (12.0, 10_000.0));
        assert_eq!(m.copy_link(1, 1), (500.0, 0.0));
        // Throughput curve: clamped and log-interpolated.
        assert_eq!(m.procs[g1].throughput(1e3), 100.0);
        assert_eq!(m.procs[g1].throughput(1e12), 900.0);
        assert!((m.procs[g1].throughput(10f64.powf(7.5)) - 500.0).abs() < 1e-9);
        assert_eq!(m.procs[0].throughput(1e9), 10.0);
    }

    fn err(text: &str) -> String {
        parse_str(text, "m.toml", "m").unwrap_err()
    }

    #[test]
    fn errors_name_file_key_and_problem() {
        assert_eq!(
            err(&SMALL.replace("kind = \"GPU\"", "kind = \"GPX\"")),
            "m.toml: processor[1].kind: unknown processor kind `GPX` (did you mean `GPU`?); expected one of CPU, GPU, OMP, IO, PY, PROC"
        );
        assert_eq!(
            err(&SMALL.replace("bandwidth = 400.0", "bandwidth = -4.0")),
            "m.toml: access[1].bandwidth: must be a positive number, got -4"
        );
        assert_eq!(
            err(&SMALL.replace("capacity = \"1G\"", "capacity = \"lots\"")),
            "m.toml: memory[0].capacity: bad capacity \"lots\"; expected a positive number of bytes or a string such as \"16G\" (suffix K, M, G or T)"
        );
        assert!(err(&SMALL.replace("count = 2\ncapacity", "count = 3\ncapacity"))
            .starts_with("m.toml: access[1].pairing: \"index\" pairs processor i with memory i, so it needs as many FBMEM as GPU per node (3 vs 2)"));
        let e = err(&SMALL.replace("gflops = 10.0", "gflop = 10.0"));
        assert!(
            e.starts_with("m.toml: invalid machine description: TOML parse error at line"),
            "{e}"
        );
        assert!(e.contains("unknown field `gflop`"), "{e}");
        let e = err(&SMALL.replace("nodes = 2", "nodes = \"two\""));
        assert!(
            e.contains("invalid type: string \"two\", expected u32"),
            "{e}"
        );
        assert_eq!(
            err(&SMALL.replace(
                "proc = \"CPU\"\nmem = \"SYSMEM\"",
                "proc = \"CPU\"\nmem = \"ZCMEM\""
            )),
            "m.toml: access[0].mem: no [[memory]] entry describes ZCMEM memories"
        );
        assert_eq!(
            err(&SMALL.replace(
                "[[access]]\nproc = \"CPU\"\nmem = \"SYSMEM\"\nbandwidth = 10.0\n",
                ""
            )),
            "m.toml: CPU processors access no memory; add an [[access]] entry with proc = \"CPU\""
        );
        assert_eq!(
            err(&SMALL.replace("curve = [[1e6, 100.0], [1e9, 900.0]]", "curve = [[1e9, 100.0], [1e6, 900.0]]")),
            "m.toml: processor[1].curve[1]: flops must increase along the curve (1000000 follows a point with as many or more)"
        );
    }

    #[test]
    fn sizes_are_bounded() {
        let e = err(&SMALL
            .replace("nodes = 2", "nodes = 4096")
            .replace("count = 2\ncapacity", "count = 4000\ncapacity"));
        assert!(e.contains("at most 65536 are supported"), "{e}");
        let dir = std::env::temp_dir().join(format!("machine-file-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("big.toml");
        std::fs::write(&p, "#".repeat((MAX_FILE_BYTES + 1) as usize)).unwrap();
        let e = load(&p).unwrap_err();
        assert!(e.contains("is larger than 1048576 bytes (1 MiB)"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn missing_file_is_a_clear_error() {
        let e = load(Path::new("/nonexistent/machine.toml")).unwrap_err();
        assert!(
            e.starts_with("cannot read machine description `/nonexistent/machine.toml`:"),
            "{e}"
        );
    }
}
