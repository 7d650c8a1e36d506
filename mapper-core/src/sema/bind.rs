//! Statement tables: the per-(task, argument, kind) decisions of a mapper's statements, resolved
//! once for an application and a machine, shared by the interpreted and the generated mappers.
//!
//! Precedence (DSL.md §2): for a given (task, region, kind) the most specific matching statement
//! wins — a named task beats `*`, then a named region (or argument index) beats `*`, then a named
//! kind beats `*` — and among equally specific statements the later one wins.
//!
//! Decisions where the spec leaves room:
//! - **Processor kind.** The best `Task` statement's list is scanned for the first kind the task
//!   has a variant for and the machine has processors of. If none qualifies, a statement naming
//!   the task is an error; a `*` statement falls back to the default order (GPU, OMP, CPU, then
//!   IO, PY, PROC) so that `Task * GPU;` still runs CPU-only tasks and still runs on machines
//!   without GPUs.
//! - **Memory visibility.** A GPU can use FBMEM and ZCMEM; every other processor kind can use
//!   SYSMEM, SOCKMEM, ZCMEM and RDMEM. VIRTUAL (no physical instance) is usable by every kind.
//!   A memory list keeps the mapper's kinds that are visible and present on the machine, in order,
//!   then appends the default list as a fallback (never empty), so a mapper without `Region`
//!   statements behaves exactly like the default mapper.
//! - **Default memories** (as `default.rs`): GPU: FBMEM, ZCMEM; OMP: SOCKMEM, SYSMEM, ZCMEM;
//!   others: SYSMEM, SOCKMEM, ZCMEM; restricted to kinds the machine has; SYSMEM if none is.
//! - **Layout.** `Layout::default().with(constraints)` of the best matching statement; its KIND
//!   column matches the memory kind or the processor kind.
//! - **CollectMemory** applies to read-only arguments only.
//! - **Placement functions.** `IndexTaskMap`/`SingleTaskMap` entries for a task: by name beats
//!   by processor kind (`IndexTaskMap GPU f;`, for the kind the task runs on), which beats `*`;
//!   the later of equally specific entries wins. The original language looks a task's name up
//!   before its processor kind in the same way.

use crate::app::{AppInfo, TaskId, TaskInfo};
use crate::ast::{LayoutTarget, ProcSel, Program, RegionSel, Stmt, TaskNames, TaskSel};
use crate::check;
use crate::diag::Diagnostic;
use crate::kinds::{Constraint, Layout, MemKind, ProcKind};
use crate::machine::MachineShape;
use crate::sema::checked::Checked;
use crate::span::Span;

/// Number of processor kinds (table stride).
const NPROC: usize = 6;
/// Number of memory kinds (table stride).
const NMEM: usize = 6;

/// Which memories processors see (the machine model; re-exported for existing users).
pub use crate::machine::{visible, visible_mems};
/// The default policy's kind order and memory lists (re-exported for existing users).
pub use crate::policy::{default_memories, DEFAULT_KIND_ORDER};

/// Resolved statement tables for one application on one machine. All lookups are array indexing
/// (out-of-range ids give the defaults instead of panicking).
#[derive(Clone, Debug)]
pub struct Tables {
    /// Processor kind per task.
    kinds: Vec<ProcKind>,
    /// Index of each task's first argument in the per-argument tables.
    arg_base: Vec<usize>,
    /// Range into `mem_pool` per (global argument, processor kind).
    mem_ranges: Vec<(u32, u32)>,
    /// Concatenated memory lists.
    mem_pool: Vec<MemKind>,
    /// Layout per (global argument, processor kind, memory kind).
    layouts: Vec<Layout>,
    /// Instance limit per (task, processor kind).
    limits: Vec<Option<u32>>,
    /// Early collection per global argument.
    collect: Vec<bool>,
    /// Index-launch placement function per task (index into `funcs`).
    index_funcs: Vec<Option<usize>>,
    /// Single-launch placement function per task (index into `funcs`).
    single_funcs: Vec<Option<usize>>,
    /// Names of placement functions.
    funcs: Vec<String>,
    /// Range into `mem_pool` of the default list per processor kind (for out-of-range lookups).
    fallback: Vec<(u32, u32)>,
    /// Per (global argument, processor kind): range into `listed_pool` of the memory kinds the
    /// mapper's `Region` statement lists, as written; `None` when no statement applies.
    listed_ranges: Vec<Option<(u32, u32)>>,
    /// Memory kinds of `listed_ranges`.
    listed_pool: Vec<MemKind>,
}

/// Specificity of a statement for precedence: (task named, region named, kind named).
type Rank = (bool, bool, bool);

fn task_matches(sel: &TaskSel, t: &TaskInfo) -> Option<bool> {
    match sel {
        TaskSel::Any(_) => Some(false),
        TaskSel::Named(n) => (n.node == t.name).then_some(true),
    }
}

fn names_match(sel: &TaskNames, t: &TaskInfo) -> Option<bool> {
    match sel {
        TaskNames::Any(_) => Some(false),
        TaskNames::List(v) => v.iter().any(|n| n.node == t.name).then_some(true),
        TaskNames::Kind(_) => None,
    }
}

/// Rank of a placement statement (`IndexTaskMap`/`SingleTaskMap`) for task `t` running on
/// `kind`: by name beats by processor kind, which beats `*` (as in the original language, where
/// an entry by name is looked up before the entry for the task's processor kind).
fn map_rank(sel: &TaskNames, t: &TaskInfo, kind: ProcKind) -> Option<Rank> {
    match sel {
        TaskNames::Kind(k) => (k.node == kind).then_some((false, true, false)),
        _ => names_match(sel, t).map(|n| (n, false, false)),
    }
}

fn region_matches(sel: &RegionSel, t: &TaskInfo, arg: usize) -> Option<bool> {
    match sel {
        RegionSel::Any(_) => Some(false),
        RegionSel::Named(n) => t.arg_matches(arg, &n.node).then_some(true),
        RegionSel::Index(i) => (i.node as usize == arg).then_some(true),
    }
}

fn proc_matches(sel: Option<&ProcSel>, k: ProcKind) -> Option<bool> {
    match sel {
        None | Some(ProcSel::Any(_)) => Some(false),
        Some(ProcSel::Kind(x)) => (x.node == k).then_some(true),
    }
}

/// Picks the best of `(rank, value)` candidates in statement order: highest rank, later wins.
fn best<T>(cands: impl Iterator<Item = (Rank, T)>) -> Option<T> {
    let mut out: Option<(Rank, T)> = None;
    for (r, v) in cands {
        if out.as_ref().is_none_or(|(br, _)| r >= *br) {
            out = Some((r, v));
        }
    }
    out.map(|(_, v)| v)
}

impl Tables {
    /// Checks `p` ([`check::check_program`]) and resolves it ([`Tables::resolve`]).
    pub fn resolve_program(
        p: &Program,
        app: &AppInfo,
        m: &MachineShape,
    ) -> Result<Tables, Vec<Diagnostic>> {
        let checked = check::check_program(p.clone(), Some(app))?;
        Tables::resolve(&checked, app, m)
    }

    /// Resolves the checked program for `app` on machine `m`. Fails with the errors of its task
    /// and region names against `app` ([`check::check_app`]) plus binding errors (a named task
    /// with no runnable variant in its list, a task with no runnable variant at all).
    pub fn resolve(
        checked: &Checked,
        app: &AppInfo,
        m: &MachineShape,
    ) -> Result<Tables, Vec<Diagnostic>> {
        let p = &checked.program;
        let mut errors: Vec<Diagnostic> = check::check_app(checked, app)
            .into_iter()
            .filter(Diagnostic::is_error)
            .collect();
        let stmts = &p.stmts;
        let ntasks = app.tasks.len();

        // Processor kinds.
        let mut kinds = Vec::with_capacity(ntasks);
        for t in &app.tasks {
            let runnable = |k: ProcKind| t.variants.contains(&k) && m.has(k);
            let chosen = best(stmts.iter().filter_map(|s| match s {
                Stmt::Task { tasks, kinds, span } => {
                    names_match(tasks, t).map(|n| ((n, false, false), (kinds, *span, n)))
                }
                _ => None,
            }));
            let from_stmt = chosen.and_then(|(list, span, named)| {
                match list.iter().map(|k| k.node).find(|&k| runnable(k)) {
                    Some(k) => Some(Ok(k)),
                    None if named => {
                        let names: Vec<&str> = list.iter().map(|k| k.node.as_str()).collect();
                        Some(Err(Diagnostic::error(
                            span,
                            format!(
                                "task `{}` has no variant for any of {} on this machine",
                                t.name,
                                names.join(", ")
                            ),
                        )
                        .with_help(variant_help(t, m))))
                    }
                    None => None,
                }
            });
            let kind = match from_stmt {
                Some(Ok(k)) => k,
                Some(Err(d)) => {
                    errors.push(d);
                    ProcKind::Cpu
                }
                None => match DEFAULT_KIND_ORDER.iter().copied().find(|&k| runnable(k)) {
                    Some(k) => k,
                    None => {
                        errors.push(
                            Diagnostic::error(
                                Span::default(),
                                format!(
                                    "task `{}` has no variant that can run on this machine",
                                    t.name
                                ),
                            )
                            .with_help(variant_help(t, m)),
                        );
                        ProcKind::Cpu
                    }
                },
            };
            kinds.push(kind);
        }

        // Per-argument tables.
        let mut arg_base = Vec::with_capacity(ntasks);
        let mut nargs = 0usize;
        for t in &app.tasks {
            arg_base.push(nargs);
            nargs += t.args.len();
        }
        let mut mem_ranges = Vec::with_capacity(nargs * NPROC);
        let defaults: Vec<Vec<MemKind>> = ProcKind::ALL
            .iter()
            .map(|&k| default_memories(k, m))
            .collect();
        let mut mem_pool = Vec::new();
        let mut listed_ranges = Vec::with_capacity(nargs * NPROC);
        let mut listed_pool = Vec::new();
        let mut fallback = Vec::with_capacity(NPROC);
        for d in &defaults {
            fallback.push((mem_pool.len() as u32, d.len() as u32));
            mem_pool.extend_from_slice(d);
        }
        let mut layouts = Vec::with_capacity(nargs * NPROC * NMEM);
        let mut collect = Vec::with_capacity(nargs);
        for t in &app.tasks {
            for (a, info) in t.args.iter().enumerate() {
                for &k in ProcKind::ALL {
                    let list = best(stmts.iter().filter_map(|s| match s {
                        Stmt::Region {
                            task,
                            region,
                            proc,
                            mems,
                            ..
                        } => {
                            let r = (
                                task_matches(task, t)?,
                                region_matches(region, t, a)?,
                                proc_matches(Some(proc), k)?,
                            );
                            Some((r, mems))
                        }
                        _ => None,
                    }));
                    match list {
                        Some(l) => {
                            let ls = listed_pool.len();
                            for mk in l.iter().map(|x| x.node) {
                                if !listed_pool[ls..].contains(&mk) {
                                    listed_pool.push(mk);
                                }
                            }
                            listed_ranges.push(Some((ls as u32, (listed_pool.len() - ls) as u32)));
                        }
                        None => listed_ranges.push(None),
                    }
                    let start = mem_pool.len();
                    for mk in list.into_iter().flatten().map(|x| x.node) {
                        if visible(k, mk)
                            && m.mems.contains(&mk)
                            && !mem_pool[start..].contains(&mk)
                        {
                            mem_pool.push(mk);
                        }
                    }
                    for d in &defaults[k as usize] {
                        if !mem_pool[start..].contains(d) {
                            mem_pool.push(*d);
                        }
                    }
                    mem_ranges.push((start as u32, (mem_pool.len() - start) as u32));
                    for &mk in MemKind::ALL {
                        let cs = best(stmts.iter().filter_map(|s| match s {
                            Stmt::Layout {
                                task,
                                region,
                                target,
                                constraints,
                                ..
                            } => {
                                let kind_rank = match target {
                                    LayoutTarget::Any(_) => false,
                                    LayoutTarget::Mem(x) => (x.node == mk).then_some(true)?,
                                    LayoutTarget::Proc(x) => (x.node == k).then_some(true)?,
                                };
                                let r = (
                                    task_matches(task, t)?,
                                    region_matches(region, t, a)?,
                                    kind_rank,
                                );
                                Some((r, constraints))
                            }
                            _ => None,
                        }));
                        let cs: Vec<Constraint> =
                            cs.into_iter().flatten().map(|c| c.node).collect();
                        layouts.push(Layout::default().with(&cs));
                    }
                }
                let any = stmts.iter().any(|s| match s {
                    Stmt::CollectMemory { task, region, .. } => {
                        task_matches(task, t).is_some() && region_matches(region, t, a).is_some()
                    }
                    _ => false,
                });
                collect.push(any && info.read_only);
            }
        }

        // Instance limits.
        let mut limits = Vec::with_capacity(ntasks * NPROC);
        for t in &app.tasks {
            for &k in ProcKind::ALL {
                let lim = best(stmts.iter().filter_map(|s| match s {
                    Stmt::InstanceLimit {
                        task, proc, limit, ..
                    } => {
                        let r = (
                            task_matches(task, t)?,
                            false,
                            proc_matches(proc.as_ref(), k)?,
                        );
                        Some((r, limit.node))
                    }
                    _ => None,
                }));
                limits.push(lim.and_then(|v| u32::try_from(v).ok()).filter(|&v| v > 0));
            }
        }

        // Placement functions.
        let mut funcs: Vec<String> = Vec::new();
        let mut func_id = |name: &str| match funcs.iter().position(|f| f == name) {
            Some(i) => i,
            None => {
                funcs.push(name.to_string());
                funcs.len() - 1
            }
        };
        let mut index_funcs = Vec::with_capacity(ntasks);
        let mut single_funcs = Vec::with_capacity(ntasks);
        for (t, &kind) in app.tasks.iter().zip(&kinds) {
            let idx = best(stmts.iter().filter_map(|s| match s {
                Stmt::IndexTaskMap { tasks, func, .. } => Some((map_rank(tasks, t, kind)?, func)),
                _ => None,
            }));
            let single = best(stmts.iter().filter_map(|s| match s {
                Stmt::SingleTaskMap { tasks, func, .. } => Some((map_rank(tasks, t, kind)?, func)),
                _ => None,
            }));
            index_funcs.push(idx.map(|f| func_id(&f.node)));
            single_funcs.push(single.map(|f| func_id(&f.node)));
        }

        if errors.is_empty() {
            Ok(Tables {
                kinds,
                arg_base,
                mem_ranges,
                mem_pool,
                layouts,
                limits,
                collect,
                index_funcs,
                single_funcs,
                funcs,
                fallback,
                listed_ranges,
                listed_pool,
            })
        } else {
            errors.sort_by_key(|d| (d.span.lo.line, d.span.lo.col));
            errors.truncate(crate::diag::MAX_DIAGNOSTICS);
            Err(errors)
        }
    }

    fn garg(&self, task: TaskId, arg: usize) -> Option<usize> {
        let base = *self.arg_base.get(task)?;
        let end = self
            .arg_base
            .get(task + 1)
            .copied()
            .unwrap_or(self.collect.len());
        let g = base.checked_add(arg)?;
        (g < end).then_some(g)
    }

    /// The processor kind `task` runs on.
    pub fn proc_kind(&self, task: TaskId) -> ProcKind {
        self.kinds.get(task).copied().unwrap_or(ProcKind::Cpu)
    }

    /// Memory-kind priority list for argument `arg` of `task` on `kind` (never empty).
    /// The memory kinds the mapper's `Region` statement lists for argument `arg` of `task` on
    /// `kind`, as written (before kinds that are not visible or not present are dropped and the
    /// default list is appended); `None` when no statement applies.
    pub fn listed_memories(&self, task: TaskId, arg: usize, kind: ProcKind) -> Option<&[MemKind]> {
        let g = self.garg(task, arg)?;
        let (s, n) = (*self.listed_ranges.get(g * NPROC + kind as usize)?)?;
        self.listed_pool.get(s as usize..(s + n) as usize)
    }

    pub fn memories(&self, task: TaskId, arg: usize, kind: ProcKind) -> &[MemKind] {
        let range = self
            .garg(task, arg)
            .and_then(|g| self.mem_ranges.get(g * NPROC + kind as usize))
            .or_else(|| self.fallback.get(kind as usize));
        match range {
            Some(&(start, len)) => {
                let (s, e) = (start as usize, start as usize + len as usize);
                match self.mem_pool.get(s..e) {
                    Some(v) if !v.is_empty() => v,
                    _ => &[MemKind::Sysmem],
                }
            }
            None => &[MemKind::Sysmem],
        }
    }

    /// Layout of argument `arg` of `task` on `kind` in memory `mem`.
    pub fn layout(&self, task: TaskId, arg: usize, kind: ProcKind, mem: MemKind) -> Layout {
        self.garg(task, arg)
            .and_then(|g| {
                self.layouts
                    .get((g * NPROC + kind as usize) * NMEM + mem as usize)
            })
            .copied()
            .unwrap_or_default()
    }

    /// Instance limit of `task` on `kind`, if any.
    pub fn instance_limit(&self, task: TaskId, kind: ProcKind) -> Option<u32> {
        self.limits
            .get(task * NPROC + kind as usize)
            .copied()
            .flatten()
    }

    /// True if read-only instances of argument `arg` of `task` are collected after the task.
    pub fn collect(&self, task: TaskId, arg: usize) -> bool {
        self.garg(task, arg)
            .and_then(|g| self.collect.get(g))
            .copied()
            .unwrap_or(false)
    }

    /// The placement function for index launches of `task`, if a statement names one.
    pub fn index_func(&self, task: TaskId) -> Option<&str> {
        let i = (*self.index_funcs.get(task)?)?;
        self.funcs.get(i).map(String::as_str)
    }

    /// The placement function for single launches of `task`, if a statement names one.
    pub fn single_func(&self, task: TaskId) -> Option<&str> {
        let i = (*self.single_funcs.get(task)?)?;
        self.funcs.get(i).map(String::as_str)
    }
}

/// "`x` has variants for CPU; this machine has CPU, OMP": what to tell a user whose task cannot run.
fn variant_help(t: &TaskInfo, m: &MachineShape) -> String {
    let vars: Vec<&str> = t.variants.iter().map(|k| k.as_str()).collect();
    let has: Vec<&str> = ProcKind::ALL
        .iter()
        .filter(|&&k| m.has(k))
        .map(|k| k.as_str())
        .collect();
    format!(
        "`{}` has variants for {}; this machine has {}",
        t.name,
        if vars.is_empty() {
            "no kind".to_string()
        } else {
            vars.join(", ")
        },
        if has.is_empty() {
            "no processors".to_string()
        } else {
            has.join(", ")
        }
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::ArgInfo;
    use crate::ast::LayoutTarget;
    use crate::check::tests::{def, id, index, int, itm, names, ret, var};
    use crate::kinds::AlignOp;
    use crate::span::Spanned;

    fn s<T>(x: T) -> Spanned<T> {
        Spanned::new(x, Span::default())
    }
    fn tsel(t: &str) -> TaskSel {
        if t == "*" {
            TaskSel::Any(Span::default())
        } else {
            TaskSel::Named(id(t))
        }
    }
    fn rsel(r: &str) -> RegionSel {
        if r == "*" {
            RegionSel::Any(Span::default())
        } else if let Ok(i) = r.parse::<u32>() {
            RegionSel::Index(s(i))
        } else {
            RegionSel::Named(id(r))
        }
    }
    fn psel(p: &str) -> ProcSel {
        if p == "*" {
            ProcSel::Any(Span::default())
        } else {
            ProcSel::Kind(s(ProcKind::parse(p).unwrap_or(ProcKind::Proc)))
        }
    }
    fn task(ts: &[&str], kinds: &[ProcKind]) -> Stmt {
        Stmt::Task {
            tasks: names(ts),
            kinds: kinds.iter().map(|k| s(*k)).collect(),
            span: Span::default(),
        }
    }
    fn region(t: &str, r: &str, p: &str, mems: &[MemKind]) -> Stmt {
        Stmt::Region {
            task: tsel(t),
            region: rsel(r),
            proc: psel(p),
            mems: mems.iter().map(|m| s(*m)).collect(),
            span: Span::default(),
        }
    }
    fn layout(t: &str, r: &str, target: &str, cs: &[Constraint]) -> Stmt {
        let target = if target == "*" {
            LayoutTarget::Any(Span::default())
        } else if let Some(m) = MemKind::parse(target) {
            LayoutTarget::Mem(s(m))
        } else {
            LayoutTarget::Proc(s(ProcKind::parse(target).unwrap_or(ProcKind::Proc)))
        };
        Stmt::Layout {
            task: tsel(t),
            region: rsel(r),
            target,
            constraints: cs.iter().map(|c| s(*c)).collect(),
            span: Span::default(),
        }
    }
    fn limit(t: &str, p: Option<&str>, n: i64) -> Stmt {
        Stmt::InstanceLimit {
            task: tsel(t),
            proc: p.map(psel),
            limit: s(n),
            span: Span::default(),
        }
    }

    /// Tasks: `a(x: rx, y: ry ro)` with CPU+GPU, `b(x: rx ro)` CPU only, `c()` GPU only.
    fn app() -> AppInfo {
        let arg = |n: &str, r: &str, ro: bool| ArgInfo {
            name: n.into(),
            regions: vec![r.into(), "top".into()],
            read_only: ro,
        };
        let t = |n: &str, args: Vec<ArgInfo>, v: &[ProcKind]| TaskInfo {
            name: n.into(),
            args,
            variants: v.to_vec(),
            index_launch: true,
        };
        AppInfo {
            name: "t".into(),
            tasks: vec![
                t(
                    "a",
                    vec![arg("x", "rx", false), arg("y", "ry", true)],
                    &[ProcKind::Cpu, ProcKind::Gpu],
                ),
                t("b", vec![arg("x", "rx", true)], &[ProcKind::Cpu]),
                t("c", vec![], &[ProcKind::Gpu]),
            ],
        }
    }
    fn gpu_machine() -> MachineShape {
        MachineShape::new(1, 4, 2)
    }
    fn tables(stmts: Vec<Stmt>) -> Tables {
        match Tables::resolve_program(&Program { stmts }, &app(), &gpu_machine()) {
            Ok(t) => t,
            Err(e) => panic!("{e:?}"),
        }
    }
    fn errors(stmts: Vec<Stmt>, m: &MachineShape) -> Vec<(String, Option<String>)> {
        match Tables::resolve_program(&Program { stmts }, &app(), m) {
            Ok(_) => vec![],
            Err(e) => e.into_iter().map(|d| (d.message, d.help)).collect(),
        }
    }
    use MemKind::{Fbmem, Sysmem, Zcmem};
    use ProcKind::{Cpu, Gpu, Omp};

    #[test]
    fn defaults_without_statements() {
        let t = tables(vec![]);
        assert_eq!(
            (t.proc_kind(0), t.proc_kind(1), t.proc_kind(2)),
            (Gpu, Cpu, Gpu)
        );
        assert_eq!(t.memories(0, 0, Gpu), &[Fbmem, Zcmem]);
        assert_eq!(t.memories(0, 0, Cpu), &[Sysmem, Zcmem]);
        assert_eq!(t.layout(0, 1, Gpu, Fbmem), Layout::default());
        assert_eq!(t.instance_limit(0, Gpu), None);
        assert!(!t.collect(0, 1));
        assert_eq!(t.index_func(0), None);
        // Out-of-range ids give defaults instead of panicking.
        assert_eq!(t.proc_kind(99), Cpu);
        assert_eq!(t.memories(99, 0, Gpu), &[Fbmem, Zcmem]);
        assert_eq!(t.memories(0, 7, Cpu), &[Sysmem, Zcmem]);
        assert_eq!(t.layout(5, 5, Gpu, Fbmem), Layout::default());
        assert!(!t.collect(0, 9));
    }

    #[test]
    fn task_kind_first_runnable_in_list() {
        // b has only a CPU variant: `*` falls through GPU to CPU.
        let t = tables(vec![task(&["*"], &[Gpu, Cpu])]);
        assert_eq!(
            (t.proc_kind(0), t.proc_kind(1), t.proc_kind(2)),
            (Gpu, Cpu, Gpu)
        );
        // Named beats `*` even when earlier; among equals the later wins.
        let t = tables(vec![
            task(&["a"], &[Cpu]),
            task(&["*"], &[Gpu]),
            task(&["c"], &[Cpu, Gpu]),
        ]);
        assert_eq!(
            (t.proc_kind(0), t.proc_kind(1), t.proc_kind(2)),
            (Cpu, Cpu, Gpu)
        );
        let t = tables(vec![task(&["a"], &[Cpu]), task(&["a"], &[Gpu])]);
        assert_eq!(t.proc_kind(0), Gpu);
        // On a CPU-only machine, `Task * GPU;` falls back to the default order.
        let cpu = MachineShape::new(1, 4, 0);
        let e = errors(vec![task(&["*"], &[Gpu])], &cpu);
        assert_eq!(e.len(), 1, "{e:?}");
        assert_eq!(
            e[0].0,
            "task `c` has no variant that can run on this machine"
        );
        let mut one_app = app();
        one_app.tasks.truncate(2);
        let t = Tables::resolve_program(
            &Program {
                stmts: vec![task(&["*"], &[Gpu])],
            },
            &one_app,
            &cpu,
        );
        assert_eq!(
            t.map(|t| (t.proc_kind(0), t.proc_kind(1))).ok(),
            Some((Cpu, Cpu))
        );
    }

    #[test]
    fn named_task_without_runnable_kind_is_an_error() {
        assert_eq!(
            errors(vec![task(&["b"], &[Gpu])], &gpu_machine()),
            vec![(
                "task `b` has no variant for any of GPU on this machine".into(),
                Some("`b` has variants for CPU; this machine has CPU, GPU, OMP".into())
            )]
        );
        let cpu = MachineShape::new(1, 4, 0);
        assert_eq!(
            errors(vec![], &cpu),
            vec![(
                "task `c` has no variant that can run on this machine".into(),
                Some("`c` has variants for GPU; this machine has CPU, OMP".into())
            )]
        );
    }

    #[test]
    fn region_precedence() {
        let t = tables(vec![
            region("*", "*", "GPU", &[Zcmem]),
            region("*", "rx", "*", &[Fbmem, Zcmem]), // named region beats `*` region
            region("a", "*", "*", &[Zcmem, Fbmem]),  // named task beats everything without it
            region("*", "*", "GPU", &[Fbmem]),       // later among equals
        ]);
        // Task a: named-task statement wins for both arguments.
        assert_eq!(t.memories(0, 0, Gpu), &[Zcmem, Fbmem]);
        assert_eq!(t.memories(0, 1, Gpu), &[Zcmem, Fbmem]);
        // Task b arg 0 (launched with rx): named region beats (*, *, GPU).
        assert_eq!(t.memories(1, 0, Gpu), &[Fbmem, Zcmem]);
        // On CPU, b's rx statement lists only GPU memories: filtered, default appended.
        assert_eq!(t.memories(1, 0, Cpu), &[Zcmem, Sysmem]);
        let t = tables(vec![
            region("*", "*", "GPU", &[Zcmem]),
            region("*", "*", "GPU", &[Fbmem]),
        ]);
        assert_eq!(t.memories(1, 0, Gpu), &[Fbmem, Zcmem]);
        // Named kind beats `*` kind at equal task and region specificity, whatever the order.
        let t = tables(vec![
            region("b", "x", "GPU", &[Zcmem]),
            region("b", "x", "*", &[Fbmem]),
        ]);
        assert_eq!(t.memories(1, 0, Gpu), &[Zcmem, Fbmem]);
        assert_eq!(t.memories(1, 0, Omp), &[Sysmem, Zcmem]);
        // Region matching: argument name, launched region, ancestor, index.
        for r in ["y", "ry", "top", "1"] {
            let t = tables(vec![region("a", r, "GPU", &[Zcmem])]);
            assert_eq!(t.memories(0, 1, Gpu), &[Zcmem, Fbmem], "{r}");
        }
        let t = tables(vec![region("a", "1", "GPU", &[Zcmem])]);
        assert_eq!(t.memories(0, 0, Gpu), &[Fbmem, Zcmem]);
        // Memories absent from the machine are dropped; duplicates too.
        let t = tables(vec![region(
            "*",
            "*",
            "CPU",
            &[MemKind::Sockmem, Sysmem, Sysmem],
        )]);
        assert_eq!(t.memories(0, 0, Cpu), &[Sysmem, Zcmem]);
    }

    #[test]
    fn invisible_memory_is_a_binding_error() {
        assert_eq!(
            errors(vec![region("*", "*", "GPU", &[Sysmem])], &gpu_machine()),
            vec![(
                "GPU tasks cannot use SYSMEM, where this puts argument `x` of task `a`; argument `y` of task `a`".into(),
                Some("use FBMEM or ZCMEM".into())
            )]
        );
    }

    #[test]
    fn layout_precedence() {
        let aos = Layout::default().with(&[Constraint::Aos]);
        let f = Layout::default().with(&[Constraint::FOrder]);
        let al = Layout::default().with(&[Constraint::Align(AlignOp::Eq, 128)]);
        let t = tables(vec![
            layout("*", "*", "*", &[Constraint::Aos]),
            layout("*", "*", "FBMEM", &[Constraint::FOrder]),
            layout("*", "*", "CPU", &[Constraint::Align(AlignOp::Eq, 128)]),
            layout("b", "*", "*", &[Constraint::Soa]),
        ]);
        assert_eq!(t.layout(0, 0, Gpu, Fbmem), f);
        assert_eq!(t.layout(0, 0, Gpu, Zcmem), aos);
        assert_eq!(t.layout(0, 0, Cpu, Sysmem), al);
        // Memory kind and processor kind both count as a named kind: the later wins.
        assert_eq!(t.layout(0, 0, Cpu, Fbmem), al);
        // Named task beats every `*`-task statement; constraints do not accumulate.
        assert_eq!(t.layout(1, 0, Cpu, Fbmem), Layout::default());
        let t = tables(vec![
            layout("a", "ry", "*", &[Constraint::Aos]),
            layout("a", "*", "GPU", &[Constraint::FOrder]),
        ]);
        assert_eq!(t.layout(0, 1, Gpu, Fbmem), aos);
        assert_eq!(t.layout(0, 0, Gpu, Fbmem), f);
    }

    #[test]
    fn instance_limits_and_collect() {
        let t = tables(vec![
            limit("*", None, 4),
            limit("a", None, 2),
            limit("a", Some("GPU"), 1),
            limit("*", Some("CPU"), 8),
        ]);
        assert_eq!(t.instance_limit(0, Gpu), Some(1));
        assert_eq!(t.instance_limit(0, Cpu), Some(2));
        assert_eq!(t.instance_limit(1, Cpu), Some(8));
        assert_eq!(t.instance_limit(1, Gpu), Some(4));
        let cm = |tk: &str, r: &str| Stmt::CollectMemory {
            task: tsel(tk),
            region: rsel(r),
            span: Span::default(),
        };
        let t = tables(vec![cm("a", "*"), cm("*", "rx")]);
        assert_eq!(
            (t.collect(0, 0), t.collect(0, 1), t.collect(1, 0)),
            (false, true, true)
        );
    }

    #[test]
    fn placement_functions() {
        let body = || vec![ret(index(var("m"), vec![int(0), int(0)]))];
        let p = vec![
            crate::check::tests::assign("m", crate::check::tests::machine(Gpu)),
            def("f", &[(crate::ast::ParamType::Task, "task")], body()),
            def("g", &[(crate::ast::ParamType::Task, "task")], body()),
            itm(&["a"], "g"),
            itm(&["*"], "f"),
            Stmt::SingleTaskMap {
                tasks: names(&["b", "c"]),
                func: id("g"),
                span: Span::default(),
            },
        ];
        let t = tables(p);
        assert_eq!(
            (t.index_func(0), t.index_func(1), t.index_func(2)),
            (Some("g"), Some("f"), Some("f"))
        );
        assert_eq!(
            (t.single_func(0), t.single_func(1), t.single_func(2)),
            (None, Some("g"), Some("g"))
        );
    }

    #[test]
    fn tables_are_send_and_sync() {
        fn ok<T: Send + Sync>() {}
        ok::<Tables>();
    }
}
