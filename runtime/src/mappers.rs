//! A small table-driven [`Mapper`] for tests, examples and benchmarks: processor-kind priority
//! with per-task overrides, memory lists and layouts per argument, instance limits, early
//! collection and an optional placement function. With empty tables it is mapper-core's default
//! policy ([`mapper_core::default`], the one [`mapper_core::default::DefaultMapper`] applies):
//! kind order, memory lists, layout, near-square index blocks and round-robin single launches.

use mapper_core::default::{default_kind, default_memories, default_placement};
use mapper_core::{
    AppInfo, BoundMapper, Diagnostic, Layout, MachineShape, Mapper, MemKind, PlaceResult, PointCtx,
    ProcKind, TaskId,
};
use std::collections::HashMap;
use std::sync::Arc;

/// A placement function: task name, point context, machine shape, chosen kind.
pub type PlaceFn =
    Arc<dyn Fn(&str, &PointCtx<'_>, &MachineShape, ProcKind) -> PlaceResult + Send + Sync>;

/// A table-driven mapper.
#[derive(Clone, Default)]
pub struct TableMapper {
    /// Name for reports.
    pub name: String,
    /// Kind priority (empty: the default policy's order).
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
    /// Placement function (default: the default policy's placement).
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
        let id = |n: &str| app.task_id(n);
        let kind = app
            .tasks
            .iter()
            .map(|t| {
                self.task_kind.get(&t.name).copied().unwrap_or_else(|| {
                    let chosen = if self.kind_priority.is_empty() {
                        default_kind(&t.variants, machine)
                    } else {
                        self.kind_priority
                            .iter()
                            .copied()
                            .find(|k| t.variants.contains(k) && machine.has(*k))
                    };
                    chosen.unwrap_or(ProcKind::Cpu)
                })
            })
            .collect();
        let default_mems = ProcKind::ALL
            .iter()
            .map(|&k| (k, default_memories(k, machine)))
            .collect();
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

    fn place(&self, ctx: &PointCtx<'_>) -> PlaceResult {
        let kind = self.proc_kind(ctx.task);
        match &self.place {
            Some(f) => f(
                self.names.get(ctx.task).map(|s| s.as_str()).unwrap_or("?"),
                ctx,
                &self.shape,
                kind,
            ),
            None => default_placement(
                ctx,
                kind,
                &self.shape,
                self.names.get(ctx.task).map(|s| s.as_str()).unwrap_or("?"),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mapper_core::default::DefaultMapper;
    use mapper_core::{ArgInfo, ProcId, TaskInfo};

    #[test]
    fn empty_tables_are_the_default_policy() {
        let app = AppInfo {
            name: "a".into(),
            tasks: vec![TaskInfo {
                name: "t".into(),
                args: vec![ArgInfo {
                    name: "x".into(),
                    regions: vec![],
                    read_only: false,
                }],
                variants: vec![ProcKind::Cpu, ProcKind::Gpu],
                index_launch: true,
            }],
        };
        for m in [MachineShape::new(2, 4, 2), MachineShape::new(3, 4, 0)] {
            let t = TableMapper::new("d").bind(&app, &m).expect("binds");
            let d = DefaultMapper.bind(&app, &m).expect("binds");
            assert_eq!(t.proc_kind(0), d.proc_kind(0));
            for &k in ProcKind::ALL {
                assert_eq!(t.memories(0, 0, k), d.memories(0, 0, k), "{k}");
            }
            let domain = [4, 6];
            for i in 0..4 {
                for j in 0..6 {
                    let point = [i, j];
                    let ctx = PointCtx {
                        task: 0,
                        point: &point,
                        domain: &domain,
                        index_launch: true,
                        parent_proc: ProcId {
                            node: 0,
                            kind: ProcKind::Cpu,
                            index: 0,
                        },
                        seq: (i * 6 + j) as u64,
                    };
                    assert_eq!(t.place(&ctx), d.place(&ctx), "{point:?}");
                }
            }
        }
    }
}
