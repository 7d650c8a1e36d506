//! Machine descriptions: nodes, processors per node by kind (with throughput and launch
//! overhead), memories per node by kind with capacities and bandwidths, which processors access
//! which memories (bandwidth, latency) and copy-path bandwidths and latencies. Parsed from
//! strings: `local` (the discovered host), `emulated:NxG[,key=val]` (N nodes x G GPUs emulated by
//! host threads, each with its own FBMEM), and, for the simulator, `sim:PRESET`, `sim:FILE.toml`
//! or `FILE.toml` (see [`file`] for the TOML schema and [`presets`] for the built-in machines).

pub mod file;
pub mod presets;

use mapper_core::{MachineShape, MemKind, ProcId, ProcKind};
use std::fmt;

/// Index of a memory in [`MachineDesc::mems`].
pub type MemId = usize;

/// One memory.
#[derive(Clone, Debug, PartialEq)]
pub struct MemDesc {
    /// Kind.
    pub kind: MemKind,
    /// Node.
    pub node: u32,
    /// Index among memories of this kind on the node (the GPU index for FBMEM).
    pub index: u32,
    /// Capacity in bytes.
    pub capacity: u64,
    /// Internal bandwidth in GB/s (fills and copies within the memory).
    pub bandwidth: f64,
}

impl MemDesc {
    /// A short label such as `FBMEM[0.3]`.
    pub fn label(&self) -> String {
        format!("{}[{}.{}]", self.kind, self.node, self.index)
    }
}

/// One processor.
#[derive(Clone, Debug, PartialEq)]
pub struct ProcDesc {
    /// Identity (node, kind, index).
    pub id: ProcId,
    /// Threads this processor uses (the OMP pool size; 1 otherwise).
    pub threads: u32,
    /// Peak throughput in GFLOP/s (the whole processor, all its threads).
    pub gflops: f64,
    /// Achieved throughput by task size: `(flops of the task, GFLOP/s)` points, ascending in
    /// flops, interpolated log-linearly (empty: always `gflops`).
    pub curve: Vec<(f64, f64)>,
    /// Overhead of launching one task, in ns.
    pub launch_ns: f64,
}

impl ProcDesc {
    /// A processor with default performance numbers for host emulation.
    pub fn new(id: ProcId, threads: u32) -> ProcDesc {
        let (gflops, launch_ns) = match id.kind {
            ProcKind::Gpu => (1000.0, 5_000.0),
            _ => (10.0 * f64::from(threads.max(1)), 1_000.0),
        };
        ProcDesc {
            id,
            threads,
            gflops,
            curve: Vec::new(),
            launch_ns,
        }
    }

    /// The achieved throughput (GFLOP/s) for a task of `flops` operations: `gflops`, or the
    /// curve interpolated linearly in log10(flops), clamped to its end points.
    pub fn throughput(&self, flops: f64) -> f64 {
        let c = &self.curve;
        let (Some(first), Some(last)) = (c.first(), c.last()) else {
            return self.gflops;
        };
        if flops <= first.0 {
            return first.1;
        }
        if flops >= last.0 {
            return last.1;
        }
        let x = flops.log10();
        for w in c.windows(2) {
            let (a, b) = (w[0], w[1]);
            if flops <= b.0 {
                let (xa, xb) = (a.0.log10(), b.0.log10());
                let t = if xb > xa { (x - xa) / (xb - xa) } else { 1.0 };
                return a.1 + t * (b.1 - a.1);
            }
        }
        last.1
    }
}

/// A processor-memory affinity: the processor can access the memory directly.
#[derive(Clone, Debug, PartialEq)]
pub struct Access {
    /// Index into [`MachineDesc::procs`].
    pub proc: usize,
    /// The memory.
    pub mem: MemId,
    /// Bandwidth in GB/s.
    pub bandwidth: f64,
    /// Latency in ns.
    pub latency: f64,
    /// True if the processor's caches serve what a task re-reads from this memory; false for
    /// mapped host memory read by a GPU over PCIe, where a kernel pays for every re-read (the
    /// simulator then charges a task's [`crate::task::Cost::streamed`] bytes).
    pub cached: bool,
}

/// Bandwidth of copies between two memory kinds, within a node or across nodes.
#[derive(Clone, Debug, PartialEq)]
pub struct CopyPath {
    /// One end.
    pub a: MemKind,
    /// Other end.
    pub b: MemKind,
    /// True for memories on the same node.
    pub same_node: bool,
    /// Bandwidth in GB/s.
    pub bandwidth: f64,
    /// Latency in ns.
    pub latency: f64,
}

/// A full machine description.
#[derive(Clone, Debug, PartialEq)]
pub struct MachineDesc {
    /// The spec it was parsed from (e.g. `emulated:2x4`).
    pub name: String,
    /// Number of nodes.
    pub nodes: u32,
    /// Processors.
    pub procs: Vec<ProcDesc>,
    /// Memories.
    pub mems: Vec<MemDesc>,
    /// Processor-memory affinities.
    pub access: Vec<Access>,
    /// Copy paths; pairs not listed fall back to `default_copy`.
    pub paths: Vec<CopyPath>,
    /// Bandwidth (GB/s) of copies between memories not covered by `paths`.
    pub default_copy: f64,
    /// Latency (ns) of copies between memories not covered by `paths`.
    pub default_latency: f64,
    /// True for a described machine that only the simulator runs (`sim:`, `.toml`).
    pub simulated: bool,
    /// Simulated time (ns) the control thread spends mapping one point task (0: free).
    pub map_ns: f64,
    /// In a distributed run (`mpi`), the node this process executes (its rank); `None` when
    /// every node runs in this process.
    pub local_node: Option<u32>,
}

/// Parses sizes like `256M`, `4K`, `1G`, `4096`.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (num, mult) = match s.char_indices().last() {
        Some((i, 'K' | 'k')) => (&s[..i], 1u64 << 10),
        Some((i, 'M' | 'm')) => (&s[..i], 1 << 20),
        Some((i, 'G' | 'g')) => (&s[..i], 1 << 30),
        _ => (s, 1),
    };
    num.parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .ok_or_else(|| {
            format!("bad size `{s}`: expected a number with an optional K, M or G suffix")
        })
}

/// The options of `emulated:NxG[,key=value]...` (`rest` follows `emulated:` in `spec`).
fn emulated_opts(spec: &str, rest: &str) -> Result<EmulatedOpts, String> {
    let mut parts = rest.split(',');
    let shape = parts.next().unwrap_or("");
    let (n, g) = shape
        .split_once('x')
        .and_then(|(n, g)| Some((n.trim().parse::<u32>().ok()?, g.trim().parse::<u32>().ok()?)))
        .ok_or_else(|| format!("bad machine `{spec}`: expected emulated:NxG, e.g. emulated:2x4"))?;
    if n == 0 || n > 64 || g > 16 {
        return Err(format!(
            "bad machine `{spec}`: need 1..=64 nodes and 0..=16 GPUs per node"
        ));
    }
    let mut o = EmulatedOpts {
        nodes: n,
        gpus: g,
        ..EmulatedOpts::default()
    };
    for kv in parts {
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| format!("bad machine option `{kv}` in `{spec}`: expected key=value"))?;
        match k.trim() {
            "cpus" => {
                o.cpus = v
                    .trim()
                    .parse()
                    .ok()
                    .filter(|c| (1..=64).contains(c))
                    .ok_or_else(|| format!("bad cpus `{v}` in `{spec}`: expected 1..=64"))?
            }
            "fb" => o.fb = parse_size(v)?,
            "zc" => o.zc = parse_size(v)?,
            "sys" => o.sys = parse_size(v)?,
            other => {
                return Err(format!(
                    "unknown machine option `{other}` in `{spec}`; known: cpus, fb, zc, sys"
                ))
            }
        }
    }
    Ok(o)
}

/// Options of an emulated machine.
#[derive(Clone, Debug, PartialEq)]
pub struct EmulatedOpts {
    /// Nodes.
    pub nodes: u32,
    /// GPUs per node.
    pub gpus: u32,
    /// CPU processors per node.
    pub cpus: u32,
    /// FBMEM capacity per GPU.
    pub fb: u64,
    /// ZCMEM capacity per node.
    pub zc: u64,
    /// SYSMEM capacity per node.
    pub sys: u64,
}

impl Default for EmulatedOpts {
    fn default() -> Self {
        EmulatedOpts {
            nodes: 1,
            gpus: 1,
            cpus: 2,
            fb: 256 << 20,
            zc: 64 << 20,
            sys: 1 << 30,
        }
    }
}

impl MachineDesc {
    /// Parses a machine spec: `local`, `emulated:NxG[,cpus=C][,fb=SIZE][,zc=SIZE][,sys=SIZE]`,
    /// `sim:PRESET`, `sim:FILE.toml` or `FILE.toml` (the last three are simulated).
    pub fn parse(spec: &str) -> Result<MachineDesc, String> {
        let spec = spec.trim();
        if spec == "local" {
            return Ok(MachineDesc::local());
        }
        if spec == "mpi" || spec.starts_with("mpi:") {
            return MachineDesc::mpi(spec);
        }
        if let Some(rest) = spec.strip_prefix("emulated:") {
            let o = emulated_opts(spec, rest)?;
            return Ok(MachineDesc::emulated(&o, spec));
        }
        if let Some(rest) = spec.strip_prefix("sim:") {
            let rest = rest.trim();
            if rest.ends_with(".toml") {
                return file::load(std::path::Path::new(rest));
            }
            if rest == "local" {
                return local_sim();
            }
            return presets::preset(rest);
        }
        if spec.ends_with(".toml") {
            return file::load(std::path::Path::new(spec));
        }
        Err(format!(
            "unknown machine `{spec}`; expected `local`, `emulated:NxG` (e.g. emulated:2x4), `sim:PRESET` (presets: {}) or a description FILE.toml",
            presets::names().join(", ")
        ))
    }

    /// The discovered host: `available_parallelism` CPUs, one OMP group, one SYSMEM.
    pub fn local() -> MachineDesc {
        let mut d = MachineDesc::emulated(&local_opts(), "local");
        d.name = "local".into();
        d
    }

    /// A distributed machine (`mpi`, or `mpi:emulated:1xG[,...]` for emulated GPUs on every
    /// rank): one node per rank of the installed transport ([`crate::dist`]), each described as
    /// the smallest of the ranks' own nodes (the host's CPUs shared among the ranks on it, its
    /// GPUs split among them), so that every rank builds the same description.
    pub fn mpi(spec: &str) -> Result<MachineDesc, String> {
        let t = crate::dist::transport().ok_or_else(|| {
            format!("machine `{spec}` needs the `mapper` binary built with `--features mpi` and started by mpirun or srun (see docs/multinode.md)")
        })?;
        let mut o = match spec.strip_prefix("mpi:") {
            None | Some("local") => {
                let mut o = local_opts();
                let (_, on_host) = crate::dist::local_rank();
                o.cpus = (o.cpus / on_host.max(1)).max(1);
                o.sys /= u64::from(on_host.max(1));
                o.zc /= u64::from(on_host.max(1));
                o
            }
            Some(rest) => match rest.strip_prefix("emulated:") {
                Some(e) => emulated_opts(rest, e)?,
                None => {
                    return Err(format!(
                        "bad machine `{spec}`: expected `mpi` or `mpi:emulated:1xG[,key=value...]`"
                    ))
                }
            },
        };
        if o.nodes != 1 {
            return Err(format!("bad machine `{spec}`: describe one node per rank (emulated:1xG); the ranks are the nodes"));
        }
        let mine = [o.cpus as u64, o.gpus as u64, o.fb, o.zc, o.sys];
        let all = crate::dist::exchange(&*t, &mine)?;
        o.cpus = all.iter().map(|v| v[0]).min().unwrap_or(1) as u32;
        o.gpus = all.iter().map(|v| v[1]).min().unwrap_or(0) as u32;
        o.fb = all.iter().map(|v| v[2]).min().unwrap_or(0);
        o.zc = all.iter().map(|v| v[3]).min().unwrap_or(0);
        o.sys = all.iter().map(|v| v[4]).min().unwrap_or(0);
        o.nodes = t.size();
        let mut d = MachineDesc::emulated(&o, spec);
        d.name = if spec.starts_with("mpi:emulated:") {
            spec.to_string()
        } else {
            "mpi".into()
        };
        d.local_node = Some(t.rank());
        Ok(d)
    }
}

/// The options of the discovered host (see [`MachineDesc::local`]).
fn local_opts() -> EmulatedOpts {
    {
        let cpus = std::thread::available_parallelism()
            .map(|n| n.get() as u32)
            .unwrap_or(1);
        let sys = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("MemTotal:"))
                    .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
            })
            .map(|kb| kb * 1024 / 2)
            .unwrap_or(4 << 30);
        // Real GPUs with the `cuda` feature and a driver (else none; see `cuda::unavailable`).
        let (gpus, fb) = crate::cuda::local_gpus();
        EmulatedOpts {
            nodes: 1,
            gpus,
            cpus,
            fb,
            zc: if gpus > 0 { sys / 4 } else { 0 },
            sys,
        }
    }
}

impl MachineDesc {
    /// True for a `local` machine whose GPUs are real CUDA devices.
    pub fn has_real_gpus(&self) -> bool {
        (self.name == "local" || self.name == "mpi")
            && self.procs.iter().any(|p| p.id.kind == ProcKind::Gpu)
    }

    /// An emulated machine.
    pub fn emulated(o: &EmulatedOpts, name: &str) -> MachineDesc {
        let mut procs = Vec::new();
        let mut mems = Vec::new();
        let mut access = Vec::new();
        for node in 0..o.nodes {
            let sys = mems.len();
            mems.push(MemDesc {
                kind: MemKind::Sysmem,
                node,
                index: 0,
                capacity: o.sys,
                bandwidth: 20.0,
            });
            let zc = if o.gpus > 0 {
                mems.push(MemDesc {
                    kind: MemKind::Zcmem,
                    node,
                    index: 0,
                    capacity: o.zc,
                    bandwidth: 20.0,
                });
                Some(mems.len() - 1)
            } else {
                None
            };
            let host_kinds = [
                (ProcKind::Cpu, o.cpus, 1),
                (ProcKind::Omp, u32::from(o.cpus > 1), o.cpus),
            ];
            for (kind, count, threads) in host_kinds {
                for index in 0..count {
                    procs.push(ProcDesc::new(ProcId { node, kind, index }, threads));
                    let p = procs.len() - 1;
                    access.push(Access {
                        proc: p,
                        mem: sys,
                        bandwidth: 20.0,
                        latency: 100.0,
                        cached: true,
                    });
                    if let Some(zc) = zc {
                        access.push(Access {
                            proc: p,
                            mem: zc,
                            bandwidth: 15.0,
                            latency: 150.0,
                            cached: true,
                        });
                    }
                }
            }
            for index in 0..o.gpus {
                mems.push(MemDesc {
                    kind: MemKind::Fbmem,
                    node,
                    index,
                    capacity: o.fb,
                    bandwidth: 500.0,
                });
                let fb = mems.len() - 1;
                procs.push(ProcDesc::new(
                    ProcId {
                        node,
                        kind: ProcKind::Gpu,
                        index,
                    },
                    1,
                ));
                let p = procs.len() - 1;
                access.push(Access {
                    proc: p,
                    mem: fb,
                    bandwidth: 500.0,
                    latency: 50.0,
                    cached: true,
                });
                if let Some(zc) = zc {
                    access.push(Access {
                        proc: p,
                        mem: zc,
                        bandwidth: 12.0,
                        latency: 1000.0,
                        cached: false,
                    });
                }
            }
        }
        use MemKind::*;
        let path = |a, b, same_node, bandwidth, latency| CopyPath {
            a,
            b,
            same_node,
            bandwidth,
            latency,
        };
        let paths = vec![
            path(Sysmem, Sysmem, true, 20.0, 100.0),
            path(Sysmem, Zcmem, true, 20.0, 100.0),
            path(Zcmem, Zcmem, true, 20.0, 100.0),
            path(Fbmem, Fbmem, true, 50.0, 1000.0),
            path(Fbmem, Zcmem, true, 12.0, 1000.0),
            path(Fbmem, Sysmem, true, 10.0, 2000.0),
        ];
        MachineDesc {
            name: name.to_string(),
            nodes: o.nodes,
            procs,
            mems,
            access,
            paths,
            default_copy: 5.0,
            default_latency: 5_000.0,
            simulated: false,
            map_ns: 0.0,
            local_node: None,
        }
    }

    /// The shape a mapper sees (processor counts of node 0; nodes are homogeneous).
    pub fn shape(&self) -> MachineShape {
        let mut procs_per_node = [0u32; 6];
        for p in self.procs.iter().filter(|p| p.id.node == 0) {
            procs_per_node[p.id.kind as usize] += 1;
        }
        let mut mems: Vec<MemKind> = Vec::new();
        for m in &self.mems {
            if !mems.contains(&m.kind) {
                mems.push(m.kind);
            }
        }
        MachineShape {
            nodes: self.nodes,
            procs_per_node,
            mems,
        }
    }

    /// The index of processor `id` in [`MachineDesc::procs`].
    pub fn proc_index(&self, id: ProcId) -> Option<usize> {
        self.procs.iter().position(|p| p.id == id)
    }

    /// The memory of `kind` that processor `proc` (an index) accesses with the best bandwidth.
    pub fn best_memory(&self, proc: usize, kind: MemKind) -> Option<MemId> {
        self.access
            .iter()
            .filter(|a| a.proc == proc && self.mems.get(a.mem).is_some_and(|m| m.kind == kind))
            .max_by(|a, b| a.bandwidth.total_cmp(&b.bandwidth))
            .map(|a| a.mem)
    }

    /// Memory kinds processor `proc` can access.
    pub fn accessible_kinds(&self, proc: usize) -> Vec<MemKind> {
        let mut v: Vec<MemKind> = Vec::new();
        for a in self.access.iter().filter(|a| a.proc == proc) {
            if let Some(m) = self.mems.get(a.mem) {
                if !v.contains(&m.kind) {
                    v.push(m.kind);
                }
            }
        }
        v
    }

    /// Copy bandwidth in GB/s between two memories, for choosing a copy source (a source in the
    /// destination memory itself ranks first: infinity).
    pub fn copy_bandwidth(&self, src: MemId, dst: MemId) -> f64 {
        if src == dst && src < self.mems.len() {
            return f64::INFINITY;
        }
        self.copy_link(src, dst).0
    }

    /// Copy (bandwidth in GB/s, latency in ns) between two memories: a memory's own bandwidth
    /// within it, else the path between the two kinds (same node or across nodes), else the
    /// default.
    pub fn copy_link(&self, src: MemId, dst: MemId) -> (f64, f64) {
        let (Some(s), Some(d)) = (self.mems.get(src), self.mems.get(dst)) else {
            return (0.0, 0.0);
        };
        if src == dst {
            return (s.bandwidth, 0.0);
        }
        let same = s.node == d.node;
        self.paths
            .iter()
            .find(|p| {
                p.same_node == same
                    && ((p.a == s.kind && p.b == d.kind) || (p.a == d.kind && p.b == s.kind))
            })
            .map(|p| (p.bandwidth, p.latency))
            .unwrap_or((self.default_copy, self.default_latency))
    }

    /// The memory labels, indexed by [`MemId`].
    pub fn mem_labels(&self) -> Vec<String> {
        self.mems.iter().map(MemDesc::label).collect()
    }
}

impl fmt::Display for MachineDesc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.shape();
        write!(
            f,
            "{}: {} node(s), per node {} CPU, {} OMP, {} GPU; memories {:?}",
            self.name,
            self.nodes,
            s.per_node(ProcKind::Cpu),
            s.per_node(ProcKind::Omp),
            s.per_node(ProcKind::Gpu),
            s.mems.iter().map(|m| m.as_str()).collect::<Vec<_>>()
        )
    }
}

/// Where the measured description of this host (`sim:local`) is cached: `$MAPPER_SIM_LOCAL` if
/// set, else `sim-local.toml` in `$XDG_CACHE_HOME/mapper` (or `$HOME/.cache/mapper`), else in
/// the system's temporary directory.
pub fn local_sim_path() -> std::path::PathBuf {
    if let Some(p) = std::env::var_os("MAPPER_SIM_LOCAL").filter(|p| !p.is_empty()) {
        return p.into();
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|p| !p.is_empty())
        .map(std::path::PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|p| !p.is_empty())
                .map(|h| std::path::PathBuf::from(h).join(".cache"))
        })
        .unwrap_or_else(std::env::temp_dir);
    base.join("mapper").join("sim-local.toml")
}

/// `sim:local`: the cached measured description of this host ([`local_sim_path`]), named
/// `sim:local`. It must have `local`'s processors and memories (a description measured on
/// another host is refused).
fn local_sim() -> Result<MachineDesc, String> {
    let path = local_sim_path();
    if !path.exists() {
        return Err(format!(
            "sim:local: this host has not been measured yet ({} does not exist); run `mapper calibrate-host` (or any app run on sim:local through the apps crate, which measures it first)",
            path.display()
        ));
    }
    let mut d = file::load(&path)?;
    let here = MachineDesc::local().shape();
    if d.shape() != here {
        return Err(format!(
            "sim:local: {} describes another machine (its shape {:?}, this host's {:?}); measure again with `mapper calibrate-host --force`",
            path.display(),
            d.shape(),
            here
        ));
    }
    d.name = "sim:local".into();
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_emulated() {
        let m = MachineDesc::parse("emulated:2x4").unwrap();
        let s = m.shape();
        assert_eq!(s.nodes, 2);
        assert_eq!(s.per_node(ProcKind::Gpu), 4);
        assert_eq!(s.per_node(ProcKind::Cpu), 2);
        assert_eq!(s.per_node(ProcKind::Omp), 1);
        assert_eq!(
            s.mems,
            vec![MemKind::Sysmem, MemKind::Zcmem, MemKind::Fbmem]
        );
        assert_eq!(m.mems.len(), 12);
        let g = m
            .proc_index(ProcId {
                node: 1,
                kind: ProcKind::Gpu,
                index: 2,
            })
            .unwrap();
        let fb = m.best_memory(g, MemKind::Fbmem).unwrap();
        assert_eq!(m.mems[fb].label(), "FBMEM[1.2]");
        assert_eq!(m.mems[fb].capacity, 256 << 20);
        assert_eq!(m.best_memory(g, MemKind::Sysmem), None);
        assert_eq!(m.accessible_kinds(g), vec![MemKind::Fbmem, MemKind::Zcmem]);
    }

    #[test]
    fn parse_options_and_errors() {
        let m = MachineDesc::parse("emulated:1x2,fb=4K,cpus=3").unwrap();
        assert_eq!(
            m.mems
                .iter()
                .find(|x| x.kind == MemKind::Fbmem)
                .unwrap()
                .capacity,
            4096
        );
        assert_eq!(m.shape().per_node(ProcKind::Cpu), 3);
        assert_eq!(
            MachineDesc::parse("emulated:2").unwrap_err(),
            "bad machine `emulated:2`: expected emulated:NxG, e.g. emulated:2x4"
        );
        assert!(MachineDesc::parse("emulated:1x1,foo=1")
            .unwrap_err()
            .starts_with("unknown machine option `foo`"));
        assert!(MachineDesc::parse("sim:p100")
            .unwrap_err()
            .starts_with("unknown simulated machine preset `p100`"));
        assert!(MachineDesc::parse("cluster")
            .unwrap_err()
            .starts_with("unknown machine `cluster`"));
        assert_eq!(parse_size("2M"), Ok(2 << 20));
    }

    #[test]
    fn local_has_cpus_and_sysmem() {
        let m = MachineDesc::parse("local").unwrap();
        assert!(m.shape().per_node(ProcKind::Cpu) >= 1);
        let gpus = crate::cuda::gpu_count() as u32;
        if gpus == 0 {
            assert_eq!(m.shape().mems, vec![MemKind::Sysmem]);
        }
        assert_eq!(m.shape().per_node(ProcKind::Gpu), gpus);
    }

    #[test]
    fn copy_bandwidths() {
        let m = MachineDesc::parse("emulated:2x2").unwrap();
        let fb = |n: u32, i: u32| {
            m.mems
                .iter()
                .position(|x| x.kind == MemKind::Fbmem && x.node == n && x.index == i)
                .unwrap()
        };
        assert_eq!(m.copy_bandwidth(fb(0, 0), fb(0, 1)), 50.0);
        assert_eq!(m.copy_bandwidth(fb(0, 0), fb(1, 0)), 5.0);
    }
}
