//! The `Mapper` trait: the runtime's only view of a mapping policy.
//!
//! A [`Mapper`] is bound once to an application and a machine ([`Mapper::bind`]); binding
//! resolves every per-task and per-argument decision into tables, so that the runtime's hot path
//! is array lookups plus, for placement, one call of the placement function.

use crate::app::{AppInfo, TaskId};
use crate::diag::Diagnostic;
use crate::kinds::{Layout, MemKind, ProcKind};
use crate::machine::{MachineShape, Placement};
use std::fmt;

/// The task point being placed.
#[derive(Clone, Copy, Debug)]
pub struct PointCtx<'a> {
    /// The task.
    pub task: TaskId,
    /// The point in the launch domain (empty for a single launch).
    pub point: &'a [i64],
    /// The extents of the launch domain (empty for a single launch).
    pub domain: &'a [i64],
    /// True for a point of an index launch, false for a single launch.
    pub index_launch: bool,
    /// The processor the launching (parent) task runs on.
    pub parent_proc: crate::machine::ProcId,
    /// Sequence number of this launch of the task (for round-robin single placement).
    pub seq: u64,
}

/// An error raised while mapping one task point: names the task, the point and the function.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapError {
    /// Task name.
    pub task: String,
    /// The point being mapped.
    pub point: Vec<i64>,
    /// The mapper function that failed, if any.
    pub function: Option<String>,
    /// What went wrong.
    pub message: String,
    /// Source line:column of the failing expression, if known.
    pub at: Option<crate::span::Pos>,
}

impl fmt::Display for MapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "mapping task `{}` at point {:?}", self.task, self.point)?;
        if let Some(func) = &self.function {
            write!(f, " in function `{func}`")?;
        }
        if let Some(at) = &self.at {
            write!(f, " (line {at})")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for MapError {}

/// The result of placing one task point. The error is boxed so that the whole result is two
/// machine words, returned in registers: placement is the runtime's hot path.
pub type PlaceResult = Result<Placement, Box<MapError>>;

/// A mapping policy, before it is bound to an application and machine.
pub trait Mapper: Send + Sync {
    /// A short name for reports.
    fn name(&self) -> &str;
    /// Resolves the policy for `app` on `machine`. Errors are diagnostics with spans into the
    /// mapper's source (unknown task or region names, placements impossible on this machine).
    fn bind(
        &self,
        app: &AppInfo,
        machine: &MachineShape,
    ) -> Result<Box<dyn BoundMapper>, Vec<Diagnostic>>;
}

/// A mapping policy bound to one application and machine.
pub trait BoundMapper: Send + Sync {
    /// The processor kind a task runs on.
    fn proc_kind(&self, task: TaskId) -> ProcKind;
    /// Memory-kind priority list for argument `arg` of `task` when run on `kind` (never empty).
    fn memories(&self, task: TaskId, arg: usize, kind: ProcKind) -> &[MemKind];
    /// The memory kinds the mapper itself lists for argument `arg` of `task` on `kind`, as
    /// written, before kinds the processor cannot see or the machine lacks are dropped and the
    /// default list is appended as a fallback; `None` when the mapper says nothing for it. The
    /// runtime reports an instance placed outside this list as a fallback.
    fn listed_memories(&self, task: TaskId, arg: usize, kind: ProcKind) -> Option<&[MemKind]> {
        let _ = (task, arg, kind);
        None
    }
    /// Layout of the instance of argument `arg` of `task` on `kind` in memory `mem`.
    fn layout(&self, task: TaskId, arg: usize, kind: ProcKind, mem: MemKind) -> Layout;
    /// Maximum mapped-but-unfinished instances of `task` on `kind` per node, if limited.
    fn instance_limit(&self, task: TaskId, kind: ProcKind) -> Option<u32>;
    /// True if read-only instances of argument `arg` of `task` are collected after the task.
    fn collect(&self, task: TaskId, arg: usize) -> bool;
    /// The processor for one task point.
    fn place(&self, ctx: &PointCtx<'_>) -> PlaceResult;
}
