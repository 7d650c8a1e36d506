//! A small table-driven [`Mapper`] for tests, examples and benchmarks: processor-kind priority
//! with per-task overrides, memory lists and layouts per argument, instance limits, early
//! collection and an optional placement function. With empty tables it follows the runtime
//! defaults of DSL.md §5 (GPU, then OMP, then CPU; the fastest memory; SOA C order; blocked
//! index placement over all processors; round-robin single placement).

use mapper_core::{
    AppInfo, BoundMapper, Diagnostic, Layout, MachineShape, MapError, Mapper, MemKind, Placement,
    PointCtx, ProcId, ProcKind, TaskId,
};
use std::collections::HashMap;
use std::sync::Arc;

/// A placement function: task name, point context, machine shape, chosen kind.
pub type PlaceFn = Arc<
    dyn Fn(&str, &PointCtx<'_>, &MachineShape, ProcKind) -> Result<Placement, MapError>
        + Send
        + Sync,
>;

/// A table-driven mapper.
#[derive(Clone, Default)]
pub struct TableMapper {
    /// Name for reports.
    pub name: String,
    /// Kind priority (default GPU, OMP, CPU).
    pub kind_priority: Vec<ProcKind>,
    /// Per-task kind overrides.
    pub task_kind: HashMap<String, ProcKind>,
    /// Memory lists per (task, argument index, kind).
    pub memories: HashMap<(String, usize, ProcKind), Vec<MemKind>>,
    /// Layouts per (task, argument index).
    pub layouts: HashMap<(String, usize), Layout>,
    /// Instance limits per task.
    pub instance_limit: HashMap<String, u32>,
    /// Early collection per (task, argument index).
    pub collect: HashMap<(String, usize), bool>,
    /// Placement function (default: blocked / round-robin).
    pub place: Option<PlaceFn>,
}

impl TableMapper {
    /// A mapper with default decisions.
    pub fn new(name: &str) -> TableMapper {
        TableMapper {
            name: name.to_string(),
            ..TableMapper::default()
        }
    }

    /// Sets the kind priority (builder style).
    pub fn kinds(mut self, k: &[ProcKind]) -> TableMapper {
        self.kind_priority = k.to_vec();
        self
    }
}

/// Blocked placement of an index point over every processor of `kind` (all nodes), or
/// round-robin by sequence number for single launches.
pub fn default_place(ctx: &PointCtx<'_>, shape: &MachineShape, kind: ProcKind) -> Placement {
    let per = shape.per_node(kind).max(1) as u64;
    let total = shape.count(kind).max(1);
    let slot = if ctx.index_launch && !ctx.domain.is_empty() {
        let vol: u64 = ctx.domain.iter().map(|&e| e.max(1) as u64).product();
        let mut lin = 0u64;
        for (i, &p) in ctx.point.iter().enumerate() {
            let e = ctx.domain.get(i).copied().unwrap_or(1).max(1) as u64;
            lin = lin * e + (p.max(0) as u64).min(e - 1);
        }
        lin * total / vol.max(1)
    } else {
        ctx.seq % total
    };
    Placement::Proc(ProcId {
        node: (slot / per) as u32,
        kind,
        index: (slot % per) as u32,
    })
}

struct Bound {
    shape: MachineShape,
    names: Vec<String>,
    kind: Vec<ProcKind>,
    mems: HashMap<(TaskId, usize, ProcKind), Vec<MemKind>>,
    default_mems: HashMap<ProcKind, Vec<MemKind>>,
    layouts: HashMap<(TaskId, usize), Layout>,
    limits: Vec<Option<u32>>,
    collect: HashMap<(TaskId, usize), bool>,
    place: Option<PlaceFn>,
}

impl Mapper for TableMapper {
    fn name(&self) -> &str {
        &self.name
    }

    fn bind(
        &self,
        app: &AppInfo,
        machine: &MachineShape,
    ) -> Result<Box<dyn BoundMapper>, Vec<Diagnostic>> {
        let prio = if self.kind_priority.is_empty() {
            vec![ProcKind::Gpu, ProcKind::Omp, ProcKind::Cpu]
        } else {
            self.kind_priority.clone()
        };
        let id = |n: &str| app.task_id(n);
        let kind = app
            .tasks
            .iter()
            .map(|t| {
                self.task_kind.get(&t.name).copied().unwrap_or_else(|| {
                    prio.iter()
                        .copied()
                        .find(|k| t.variants.contains(k) && machine.has(*k))
                        .unwrap_or(ProcKind::Cpu)
                })
            })
            .collect();
        let mut default_mems = HashMap::new();
        let has = |m: MemKind| machine.mems.contains(&m);
        let gpu: Vec<MemKind> = [MemKind::Fbmem, MemKind::Zcmem]
            .into_iter()
            .filter(|m| has(*m))
            .collect();
        default_mems.insert(ProcKind::Gpu, gpu);
        for k in [
            ProcKind::Cpu,
            ProcKind::Omp,
            ProcKind::Io,
            ProcKind::Py,
            ProcKind::Proc,
        ] {
            default_mems.insert(k, vec![MemKind::Sysmem]);
        }
        Ok(Box::new(Bound {
            shape: machine.clone(),
            names: app.tasks.iter().map(|t| t.name.clone()).collect(),
            kind,
            mems: self
                .memories
                .iter()
                .filter_map(|((t, a, k), v)| Some(((id(t)?, *a, *k), v.clone())))
                .collect(),
            default_mems,
            layouts: self
                .layouts
                .iter()
                .filter_map(|((t, a), l)| Some(((id(t)?, *a), *l)))
                .collect(),
            limits: app
                .tasks
                .iter()
                .map(|t| self.instance_limit.get(&t.name).copied())
                .collect(),
            collect: self
                .collect
                .iter()
                .filter_map(|((t, a), c)| Some(((id(t)?, *a), *c)))
                .collect(),
            place: self.place.clone(),
        }))
    }
}

impl BoundMapper for Bound {
    fn proc_kind(&self, task: TaskId) -> ProcKind {
        self.kind.get(task).copied().unwrap_or(ProcKind::Cpu)
    }

    fn memories(&self, task: TaskId, arg: usize, kind: ProcKind) -> &[MemKind] {
        if let Some(v) = self.mems.get(&(task, arg, kind)) {
            return v;
        }
        self.default_mems
            .get(&kind)
            .map(|v| v.as_slice())
            .unwrap_or(&[MemKind::Sysmem])
    }

    fn layout(&self, task: TaskId, arg: usize, _kind: ProcKind, _mem: MemKind) -> Layout {
        self.layouts.get(&(task, arg)).copied().unwrap_or_default()
    }

    fn instance_limit(&self, task: TaskId, _kind: ProcKind) -> Option<u32> {
        self.limits.get(task).copied().flatten()
    }

    fn collect(&self, task: TaskId, arg: usize) -> bool {
        self.collect.get(&(task, arg)).copied().unwrap_or(false)
    }

    fn place(&self, ctx: &PointCtx<'_>) -> Result<Placement, MapError> {
        let kind = self.proc_kind(ctx.task);
        match &self.place {
            Some(f) => f(
                self.names.get(ctx.task).map(|s| s.as_str()).unwrap_or("?"),
                ctx,
                &self.shape,
                kind,
            ),
            None => Ok(default_place(ctx, &self.shape, kind)),
        }
    }
}
