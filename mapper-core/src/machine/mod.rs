//! The shape of a machine as a mapper sees it: how many nodes, and how many processors of each
//! kind and memories of each kind per node. Full descriptions (capacities, bandwidths, latencies)
//! live in the runtime, which derives a [`MachineShape`] from them.

use crate::kinds::{MemKind, ProcKind};
use std::fmt;

pub mod space;

/// Number of processors of each kind on every node, and which memory kinds exist.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MachineShape {
    /// Number of nodes.
    pub nodes: u32,
    /// Processors per node, indexed by `ProcKind as usize`.
    pub procs_per_node: [u32; 6],
    /// Memory kinds present on every node.
    pub mems: Vec<MemKind>,
}

impl MachineShape {
    /// A machine of `nodes` nodes with `cpus` CPUs and `gpus` GPUs each (plus one OMP group per
    /// node when `cpus > 1`), SYSMEM everywhere and FBMEM/ZCMEM when there are GPUs.
    pub fn new(nodes: u32, cpus: u32, gpus: u32) -> Self {
        let mut procs_per_node = [0; 6];
        procs_per_node[ProcKind::Cpu as usize] = cpus;
        procs_per_node[ProcKind::Gpu as usize] = gpus;
        procs_per_node[ProcKind::Omp as usize] = u32::from(cpus > 1);
        let mut mems = vec![MemKind::Sysmem];
        if gpus > 0 {
            mems.push(MemKind::Fbmem);
            mems.push(MemKind::Zcmem);
        }
        MachineShape {
            nodes,
            procs_per_node,
            mems,
        }
    }

    /// Processors of `kind` per node.
    pub fn per_node(&self, kind: ProcKind) -> u32 {
        self.procs_per_node[kind as usize]
    }

    /// Total processors of `kind`.
    pub fn count(&self, kind: ProcKind) -> u64 {
        u64::from(self.nodes) * u64::from(self.per_node(kind))
    }

    /// True if the machine has at least one processor of `kind`.
    pub fn has(&self, kind: ProcKind) -> bool {
        self.nodes > 0 && self.per_node(kind) > 0
    }
}

/// One processor: node, kind and index among the processors of that kind on the node.
///
/// Laid out as two whole 8-byte words with the kind first, so that a `ProcId`, a [`Placement`]
/// and a placement result (`Result<Placement, Box<_>>`, whose discriminant lives in the kind)
/// are copied with word moves and tested at offset 0: a 12-byte layout made the compiler copy
/// them in 4- and 8-byte pieces, and a discriminant at offset 4 was read back from a wider
/// store, both of which stall store forwarding on the placement hot path. Ordered by node,
/// then kind, then index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(C, align(8))]
pub struct ProcId {
    /// Processor kind.
    pub kind: ProcKind,
    /// Node index.
    pub node: u32,
    /// Index among processors of `kind` on `node`.
    pub index: u32,
}

impl PartialOrd for ProcId {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for ProcId {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.node, self.kind, self.index).cmp(&(other.node, other.kind, other.index))
    }
}

impl fmt::Display for ProcId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}[{}, {}]", self.kind, self.node, self.index)
    }
}

/// Where a placement function sends a task.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Placement {
    /// Exactly this processor.
    Proc(ProcId),
    /// Any processor of `kind` on `node` (`m[i, *]`): the runtime picks round-robin.
    AnyOnNode {
        /// Node index.
        node: u32,
        /// Processor kind.
        kind: ProcKind,
    },
}

/// Memories a GPU can use.
const GPU_MEMS: &[MemKind] = &[MemKind::Fbmem, MemKind::Zcmem, MemKind::Virtual];
/// Memories every other processor kind can use.
const HOST_MEMS: &[MemKind] = &[
    MemKind::Sysmem,
    MemKind::Sockmem,
    MemKind::Zcmem,
    MemKind::Rdmem,
    MemKind::Virtual,
];

/// Memory kinds processors of `kind` can use (VIRTUAL last).
pub fn visible_mems(kind: ProcKind) -> &'static [MemKind] {
    let all = if kind == ProcKind::Gpu {
        GPU_MEMS
    } else {
        HOST_MEMS
    };
    // Suggestions name only physical memories.
    &all[..all.len() - 1]
}

/// True if processors of `kind` can use memories of kind `mem`.
pub fn visible(kind: ProcKind, mem: MemKind) -> bool {
    if kind == ProcKind::Gpu {
        GPU_MEMS
    } else {
        HOST_MEMS
    }
    .contains(&mem)
}
