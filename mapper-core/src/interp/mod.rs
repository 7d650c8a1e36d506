//! The Interpreted mapper: a mapper program held as an AST and run by the [`Evaluator`].
//!
//! [`Interpreted::from_text`] parses and checks a `.mapper` text into a [`Checked`] program;
//! [`Mapper::bind`] resolves the statement tables for an application and machine and compiles
//! the functions; [`BoundMapper::place`] runs the task's `IndexTaskMap`/`SingleTaskMap` function
//! or falls back to the default placement ([`crate::default`]). A placement function that names a
//! processor of another kind than the task runs on is a [`MapError`].

use crate::app::{AppInfo, TaskId};
use crate::ast::Program;
use crate::bind::Tables;
use crate::check;
use crate::default::default_placement;
use crate::diag::Diagnostic;
use crate::eval::Evaluator;
use crate::kinds::{Layout, MemKind, ProcKind};
use crate::machine::{MachineShape, Placement};
use crate::mapper::{BoundMapper, MapError, Mapper, PointCtx};
use crate::parse;
use crate::sema::checked::Checked;

pub mod eval;
#[doc(hidden)]
pub mod ops;
pub mod value;

/// A mapper interpreted from its AST.
#[derive(Clone, Debug)]
pub struct Interpreted {
    name: String,
    source: String,
    checked: Checked,
}

impl Interpreted {
    /// Parses `src` (a `.mapper` text). Syntax errors are returned as diagnostics with spans
    /// into `src`.
    pub fn from_text(name: &str, src: &str) -> Result<Interpreted, Vec<Diagnostic>> {
        Self::build(name, src, None)
    }

    /// As [`Interpreted::from_text`], with the checks that know `app` too (unknown task and
    /// region names; errors name the tasks and arguments a statement maps).
    pub fn from_text_for(
        name: &str,
        src: &str,
        app: &AppInfo,
    ) -> Result<Interpreted, Vec<Diagnostic>> {
        Self::build(name, src, Some(app))
    }

    fn build(name: &str, src: &str, app: Option<&AppInfo>) -> Result<Interpreted, Vec<Diagnostic>> {
        let out = parse::parse_text(src);
        if out.diagnostics.iter().any(Diagnostic::is_error) {
            return Err(out.diagnostics);
        }
        Ok(Interpreted {
            name: name.to_string(),
            source: src.to_string(),
            checked: check::check_program(out.program, app)?,
        })
    }

    /// Wraps a checked program; `source` is kept for diagnostics.
    pub fn from_checked(name: &str, source: &str, checked: Checked) -> Interpreted {
        Interpreted {
            name: name.to_string(),
            source: source.to_string(),
            checked,
        }
    }

    /// The mapper's source text.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The mapper's AST.
    pub fn program(&self) -> &Program {
        &self.checked.program
    }

    /// The checked program.
    pub fn checked(&self) -> &Checked {
        &self.checked
    }
}

impl Mapper for Interpreted {
    fn name(&self) -> &str {
        &self.name
    }

    fn bind(
        &self,
        app: &AppInfo,
        machine: &MachineShape,
    ) -> Result<Box<dyn BoundMapper>, Vec<Diagnostic>> {
        let prepared = Prepared::new(&self.checked, app, machine)?;
        Ok(Box::new(Bound {
            prepared,
            placer: EvalPlacer,
        }))
    }
}

/// A program bound to an application and a machine: the statement tables, the evaluated
/// globals and the placement function of every task. Shared by the interpreted mapper and the
/// mappers `mapper!` generates, so that both bind (and fail to bind) identically.
#[derive(Debug)]
pub struct Prepared {
    /// Resolved statement tables.
    pub tables: Tables,
    /// The compiled program with its globals evaluated.
    pub ev: Evaluator,
    /// `IndexTaskMap` function id per task.
    pub index_fn: Vec<Option<usize>>,
    /// `SingleTaskMap` function id per task.
    pub single_fn: Vec<Option<usize>>,
    /// Task names.
    pub names: Vec<String>,
    /// The machine.
    pub machine: MachineShape,
}

impl Prepared {
    /// Resolves the checked program for `app` on `machine`: statement tables, globals and
    /// placement functions (the checker has made sure each exists and takes one `Task`).
    pub fn new(
        checked: &Checked,
        app: &AppInfo,
        machine: &MachineShape,
    ) -> Result<Prepared, Vec<Diagnostic>> {
        let tables = Tables::resolve(checked, app, machine)?;
        let ev = Evaluator::new(checked, machine)?;
        let mut diags = Vec::new();
        let mut resolve_fn = |name: Option<&str>| -> Option<usize> {
            let name = name?;
            let id = checked.func_id(name);
            if id.is_none() {
                diags.push(Diagnostic::error(
                    crate::span::Span::default(),
                    format!(
                        "internal error: placement function `{name}` is not in the checked program"
                    ),
                ));
            }
            id
        };
        let mut index_fn = Vec::with_capacity(app.tasks.len());
        let mut single_fn = Vec::with_capacity(app.tasks.len());
        for t in 0..app.tasks.len() {
            index_fn.push(resolve_fn(tables.index_func(t)));
            single_fn.push(resolve_fn(tables.single_func(t)));
        }
        if !diags.is_empty() {
            diags.dedup();
            return Err(diags);
        }
        Ok(Prepared {
            tables,
            ev,
            index_fn,
            single_fn,
            names: app.tasks.iter().map(|t| t.name.clone()).collect(),
            machine: machine.clone(),
        })
    }
}

/// Runs placement functions for a [`Bound`] mapper: the interpreter, or generated code.
pub trait Placer: Send + Sync {
    /// Runs placement function `func` (an id of [`Prepared::ev`]) for `ctx`.
    fn run(
        &self,
        prepared: &Prepared,
        func: usize,
        ctx: &PointCtx<'_>,
        task_name: &str,
    ) -> crate::mapper::PlaceResult;
}

/// The interpreter as a [`Placer`].
#[derive(Clone, Copy, Debug, Default)]
pub struct EvalPlacer;

impl Placer for EvalPlacer {
    #[inline]
    fn run(
        &self,
        prepared: &Prepared,
        func: usize,
        ctx: &PointCtx<'_>,
        task_name: &str,
    ) -> crate::mapper::PlaceResult {
        prepared.ev.place(func, ctx, task_name)
    }
}

/// A [`Prepared`] program with a [`Placer`]: the bound mapper of both back ends. Placement runs
/// the task's `IndexTaskMap`/`SingleTaskMap` function (or the default placement) and checks that
/// the processor is of the kind the task runs on.
pub struct Bound<P> {
    /// The bound program.
    pub prepared: Prepared,
    /// Runs placement functions.
    pub placer: P,
}

impl<P: Placer> BoundMapper for Bound<P> {
    fn proc_kind(&self, task: TaskId) -> ProcKind {
        self.prepared.tables.proc_kind(task)
    }

    fn memories(&self, task: TaskId, arg: usize, kind: ProcKind) -> &[MemKind] {
        self.prepared.tables.memories(task, arg, kind)
    }

    fn listed_memories(&self, task: TaskId, arg: usize, kind: ProcKind) -> Option<&[MemKind]> {
        self.prepared.tables.listed_memories(task, arg, kind)
    }

    fn layout(&self, task: TaskId, arg: usize, kind: ProcKind, mem: MemKind) -> Layout {
        self.prepared.tables.layout(task, arg, kind, mem)
    }

    fn instance_limit(&self, task: TaskId, kind: ProcKind) -> Option<u32> {
        self.prepared.tables.instance_limit(task, kind)
    }

    fn collect(&self, task: TaskId, arg: usize) -> bool {
        self.prepared.tables.collect(task, arg)
    }

    fn place(&self, ctx: &PointCtx<'_>) -> crate::mapper::PlaceResult {
        let p = &self.prepared;
        let name = p.names.get(ctx.task).map(String::as_str).unwrap_or("?");
        let kind = p.tables.proc_kind(ctx.task);
        let func = if ctx.index_launch {
            &p.index_fn
        } else {
            &p.single_fn
        };
        let Some(f) = func.get(ctx.task).copied().flatten() else {
            return default_placement(ctx, kind, &p.machine, name);
        };
        let placed = self.placer.run(p, f, ctx, name)?;
        let got = match placed {
            Placement::Proc(id) => id.kind,
            Placement::AnyOnNode { kind, .. } => kind,
        };
        if got != kind {
            return Err(Box::new(MapError {
                task: name.to_string(),
                point: ctx.point.to_vec(),
                function: p.ev.func_name(f).map(str::to_string),
                message: format!("placement function returned a {got} processor but task `{name}` runs on {kind}"),
                at: None,
            }));
        }
        Ok(placed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::{ArgInfo, TaskInfo};
    use crate::machine::ProcId;

    const CIRCUIT: &str = r#"
Task * GPU,CPU;
Region * * GPU FBMEM;
Region * * CPU SYSMEM;
Region * rp_shared GPU ZCMEM;
Layout * * * SOA C_order;
Layout calculate_new_currents 0 FBMEM AOS;
InstanceLimit distribute_charge 4;
CollectMemory * rp_ghost;
mgpu = Machine(GPU);
def block1d(Task task) {
    ip = task.ipoint;
    is = task.ispace;
    node = ip[0] * mgpu.size[0] / is[0];
    per_node = (is[0] + mgpu.size[0] - 1) / mgpu.size[0];
    return mgpu[node, (ip[0] % per_node) * mgpu.size[1] / per_node];
}
IndexTaskMap calculate_new_currents, distribute_charge block1d;
"#;

    fn arg(name: &str, region: &str, read_only: bool) -> ArgInfo {
        ArgInfo {
            name: name.into(),
            regions: vec![region.into()],
            read_only,
        }
    }

    fn app() -> AppInfo {
        let task = |name: &str, variants: Vec<ProcKind>, index_launch| TaskInfo {
            name: name.into(),
            args: vec![
                arg("wires", "rp_private", false),
                arg("ghost", "rp_ghost", true),
                arg("shared", "rp_shared", false),
            ],
            variants,
            index_launch,
        };
        AppInfo {
            name: "circuit".into(),
            tasks: vec![
                task(
                    "calculate_new_currents",
                    vec![ProcKind::Cpu, ProcKind::Gpu],
                    true,
                ),
                task(
                    "distribute_charge",
                    vec![ProcKind::Cpu, ProcKind::Gpu],
                    true,
                ),
                task("init", vec![ProcKind::Cpu], false),
            ],
        }
    }

    fn ctx<'a>(task: TaskId, point: &'a [i64], domain: &'a [i64]) -> PointCtx<'a> {
        PointCtx {
            task,
            point,
            domain,
            index_launch: !point.is_empty(),
            parent_proc: ProcId {
                node: 0,
                kind: ProcKind::Cpu,
                index: 0,
            },
            seq: 3,
        }
    }

    fn gpu(node: u32, index: u32) -> Placement {
        Placement::Proc(ProcId {
            node,
            kind: ProcKind::Gpu,
            index,
        })
    }

    #[test]
    fn circuit_mapper_binds_and_places() {
        let m = Interpreted::from_text("circuit", CIRCUIT).unwrap();
        assert_eq!(m.name(), "circuit");
        let machine = MachineShape::new(2, 4, 4);
        let b = m.bind(&app(), &machine).unwrap();
        assert_eq!(b.proc_kind(0), ProcKind::Gpu);
        assert_eq!(b.proc_kind(2), ProcKind::Cpu);
        // bind appends the default memories as fallbacks.
        assert_eq!(
            b.memories(0, 0, ProcKind::Gpu),
            &[MemKind::Fbmem, MemKind::Zcmem]
        );
        assert_eq!(
            b.memories(0, 2, ProcKind::Gpu),
            &[MemKind::Zcmem, MemKind::Fbmem]
        );
        assert_eq!(
            b.memories(2, 0, ProcKind::Cpu),
            &[MemKind::Sysmem, MemKind::Zcmem]
        );
        assert!(!b.layout(0, 0, ProcKind::Gpu, MemKind::Fbmem).soa);
        assert!(b.layout(0, 1, ProcKind::Gpu, MemKind::Fbmem).soa);
        assert!(b.layout(1, 0, ProcKind::Gpu, MemKind::Fbmem).soa);
        assert_eq!(b.instance_limit(1, ProcKind::Gpu), Some(4));
        assert_eq!(b.instance_limit(0, ProcKind::Gpu), None);
        assert!(b.collect(0, 1));
        assert!(!b.collect(0, 0));
        // block1d over 16 points: 8 per node, 2 per GPU.
        let got: Vec<Placement> = (0..16)
            .map(|i| b.place(&ctx(0, &[i], &[16])).unwrap())
            .collect();
        let want: Vec<Placement> = (0..16)
            .map(|i| gpu((i / 8) as u32, ((i % 8) / 2) as u32))
            .collect();
        assert_eq!(got, want);
        // `init` has no placement function: round-robin by seq over the 8 CPUs.
        assert_eq!(
            b.place(&ctx(2, &[], &[])).unwrap(),
            Placement::Proc(ProcId {
                node: 0,
                kind: ProcKind::Cpu,
                index: 3
            })
        );
    }

    #[test]
    fn wrong_kind_is_a_map_error() {
        let src = "Task * CPU;\nmgpu = Machine(GPU);\ndef f(Task task) { return mgpu[0, 0]; }\nIndexTaskMap * f;\n";
        let m = Interpreted::from_text("x", src).unwrap();
        let b = m.bind(&app(), &MachineShape::new(1, 2, 2)).unwrap();
        let e = b.place(&ctx(0, &[0], &[4])).unwrap_err();
        assert_eq!(e.message, "placement function returned a GPU processor but task `calculate_new_currents` runs on CPU");
        assert_eq!(e.function.as_deref(), Some("f"));
    }

    #[test]
    fn evaluation_errors_carry_positions() {
        let src = "mgpu = Machine(GPU);\ndef f(Task task) {\n    ip = task.ipoint;\n    return mgpu[0, ip[0]];\n}\nIndexTaskMap * f;\n";
        let b = Interpreted::from_text("x", src)
            .unwrap()
            .bind(&app(), &MachineShape::new(2, 2, 4))
            .unwrap();
        let e = b.place(&ctx(0, &[4], &[8])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "mapping task `calculate_new_currents` at point [4] in function `f` (line 4:12): index 4 out of bound for dimension 1 of size 4"
        );
        // A constant out-of-range index is not folded away: it fails when a point reaches it.
        let src =
            "mgpu = Machine(GPU);\ndef f(Task task) { return mgpu[0, 9]; }\nIndexTaskMap * f;\n";
        let b = Interpreted::from_text("x", src)
            .unwrap()
            .bind(&app(), &MachineShape::new(2, 2, 4))
            .unwrap();
        let e = b.place(&ctx(0, &[0], &[8])).unwrap_err();
        assert_eq!(e.message, "index 9 out of bound for dimension 1 of size 4");
        assert_eq!(e.at.map(|p| p.line), Some(2));
        // Division by zero.
        let src = "mgpu = Machine(GPU);\ndef f(Task task) { z = task.ipoint[0]; return mgpu[0, 1 / z]; }\nIndexTaskMap * f;\n";
        let b = Interpreted::from_text("x", src)
            .unwrap()
            .bind(&app(), &MachineShape::new(2, 2, 4))
            .unwrap();
        assert_eq!(
            b.place(&ctx(0, &[0], &[8])).unwrap_err().message,
            "division by zero in `1 / 0`"
        );
    }

    #[test]
    fn check_and_bind_errors() {
        // The checker rejects undefined and ill-typed placement functions up front.
        let d = Interpreted::from_text("x", "IndexTaskMap * nope;\n").unwrap_err();
        assert_eq!(d[0].message, "nope is not defined");
        let d = Interpreted::from_text("x", "def g(int x) { return x; }\nIndexTaskMap * g;\n")
            .unwrap_err();
        assert_eq!(
            d[0].message,
            "placement function `g` must take exactly one parameter of type `Task`"
        );
        // Syntax errors.
        let d = Interpreted::from_text("x", "Task * GPU\n").unwrap_err();
        assert!(d[0].is_error());
        // Binding checks names against the application.
        let m = Interpreted::from_text("x", "Task nosuchtask GPU;\n").unwrap();
        let d = m.bind(&app(), &MachineShape::new(1, 2, 2)).err().unwrap();
        assert!(d[0].message.contains("nosuchtask"), "{}", d[0].message);
        // A named task whose listed kinds cannot run is a bind error.
        let m = Interpreted::from_text("x", "Task init GPU;\n").unwrap();
        let d = m.bind(&app(), &MachineShape::new(1, 2, 2)).err().unwrap();
        assert_eq!(
            d[0].message,
            "task `init` has no variant for any of GPU on this machine"
        );
    }

    /// Transforms and expressions from DSL text, end to end.
    #[test]
    fn dsl_text_expressions() {
        let src = r#"
mgpu = Machine(GPU);
def cosma(Task task) {
    ip = task.ipoint;
    is = task.ispace;
    m = mgpu.merge(0, 1).auto_split(0, is);
    return m[*(ip * m.size / is)];
}
def swapped(Task task) {
    m = mgpu.split(1, 2).swap(0, 2);
    t = tuple(x % 2 for x in task.ipoint);
    return m[t[0], t[-1], m.size[2] - 1];
}
def wild(Task task) { return task.ipoint.len > 0 ? mgpu[1, *] : mgpu[0, *]; }
IndexTaskMap calculate_new_currents cosma;
IndexTaskMap distribute_charge swapped;
SingleTaskMap init wild;
"#;
        let b = Interpreted::from_text("x", src)
            .unwrap()
            .bind(&app(), &MachineShape::new(2, 4, 4))
            .unwrap();
        // 8 GPUs on an 8 x 4 domain: auto_split gives (4, 2): blocks of 2 x 2.
        assert_eq!(b.place(&ctx(0, &[7, 3], &[8, 4])).unwrap(), gpu(1, 3));
        // Block (1, 0); the first split dimension varies fastest: 1 + 0 * 4 -> GPU[0, 1].
        assert_eq!(b.place(&ctx(0, &[2, 0], &[8, 4])).unwrap(), gpu(0, 1));
        // m = (2 nodes, 2, 2).swap(0, 2); m[a, b, c] = split[c, b, a] = mgpu[c, b + 2*a];
        // t = (1, 0): m[1, 0, 1] = mgpu[1, 2].
        assert_eq!(b.place(&ctx(1, &[3, 2], &[4, 4])).unwrap(), gpu(1, 2));
        let mut c = ctx(2, &[], &[]);
        c.index_launch = false;
        // `init` runs on CPU but `wild` returns GPUs: a kind error.
        assert!(b
            .place(&c)
            .unwrap_err()
            .message
            .starts_with("placement function returned a GPU"));
    }
}
