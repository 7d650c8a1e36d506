//! Executors run the operations the mapping stage produced, behind one interface
//! ([`Executor`]): mapping, instances and copies are decided before an operation reaches an
//! executor, and [`run_work`] holds the shared host-side semantics (reduction-instance
//! initialization, the task body, folds, copies, profiling). [`cpu`] runs CPU and OMP
//! processors on worker threads; [`emulated`] adds GPUs emulated by one host thread each;
//! [`sim`] simulates a described machine on a simulated clock without running task bodies.

pub mod cpu;
#[cfg(feature = "cuda")]
pub mod cuda;
pub mod emulated;
pub mod sim;

use crate::analysis::OpId;
use crate::context::TaskCtx;
use crate::field::{FieldId, FieldSpace};
use crate::future::Promise;
use crate::geom::{IndexSpace, Point, Rect};
use crate::instance::Instance;
use crate::profile::{CopyKind, CopyRecord, TaskRecord};
use crate::sched::Scheduler;
use crate::task::{Cost, HostFn, Privilege, Value};
use mapper_core::ProcId;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

/// An operation whose dependences are satisfied, handed to an executor.
pub struct Ready {
    /// Operation id.
    pub id: OpId,
    /// What to do.
    pub work: Work,
    /// The scheduler to report completion to.
    pub sched: Arc<Scheduler>,
}

impl Ready {
    /// Runs the work on the calling thread and reports completion.
    pub fn run_here(self) {
        let Ready { id, work, sched } = self;
        run_work(work, &sched);
        sched.complete(id);
    }
}

/// A pluggable executor.
pub trait Executor: Send + Sync {
    /// Short name (`cpu`, `emulated`, ...).
    fn name(&self) -> &str;
    /// Queues a ready operation; the executor must eventually call [`Ready::run_here`] or
    /// otherwise run it and call `sched.complete(id)`.
    fn dispatch(&self, op: Ready);
    /// Stops the workers (the graph has drained).
    fn shutdown(&self);
    /// True if operations progress only when the control thread calls [`Executor::step`]
    /// (the simulator); false for executors with their own threads.
    fn drives(&self) -> bool {
        false
    }
    /// Makes progress on the calling thread (completes one operation); false if nothing is
    /// pending. Only meaningful when [`Executor::drives`] is true.
    fn step(&self) -> bool {
        false
    }
    /// The control thread starts (`true`) or stops (`false`) waiting for completions, so
    /// that idle workers may use its core meanwhile (repeating a state is harmless).
    fn control_waits(&self, _waiting: bool) {}
}

/// One unit of work.
pub enum Work {
    /// A point task.
    Task(Box<TaskWork>),
    /// A copy or fill between instances.
    Copy(Box<CopyWork>),
    /// A no-op that completes after its dependences (joins long user lists).
    Join,
}

impl Work {
    /// The node whose executor resources should run it.
    pub fn node(&self) -> u32 {
        match self {
            Work::Task(t) => t.proc.node,
            Work::Copy(c) => c.dst.mem.node,
            Work::Join => 0,
        }
    }
}

/// A decrement-on-drop counter of mapped-but-unfinished tasks (InstanceLimit).
#[derive(Debug)]
pub struct LimitGuard(pub Arc<AtomicU32>);

impl Drop for LimitGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A reduction fold after the task: the task's reduction instance into `target`.
pub struct Fold {
    /// Field.
    pub field: FieldId,
    /// The instance holding the valid data.
    pub target: Arc<Instance>,
    /// Points to fold.
    pub space: IndexSpace,
}

/// A mapped region argument.
pub struct ArgInst {
    /// Argument name.
    pub name: Arc<str>,
    /// Privilege.
    pub privilege: Privilege,
    /// Launched region's name.
    pub region_name: Arc<str>,
    /// The region's points.
    pub space: Arc<IndexSpace>,
    /// Bounding rectangle of the points.
    pub bounds: Rect,
    /// Field ids of the argument.
    pub fields: Arc<[FieldId]>,
    /// The region's field space.
    pub field_space: Arc<FieldSpace>,
    /// The instance the task accesses (a fresh reduction instance for reductions).
    pub inst: Arc<Instance>,
    /// Folds to perform after the task (reductions only).
    pub folds: Vec<Fold>,
}

/// A mapped point task.
pub struct TaskWork {
    /// Task name.
    pub name: Arc<str>,
    /// The processor.
    pub proc: ProcId,
    /// Index of the processor in the machine description.
    pub proc_index: usize,
    /// Threads of the processor (OMP pool size).
    pub threads: u32,
    /// The point (1-D 0 for single launches).
    pub point: Point,
    /// The launch domain (None for single launches).
    pub domain: Option<Rect>,
    /// Scalar arguments.
    pub scalars: Arc<[Value]>,
    /// Region arguments.
    pub args: Vec<ArgInst>,
    /// The body.
    pub body: HostFn,
    /// Receives the result.
    pub promise: Promise,
    /// InstanceLimit accounting.
    pub limit: Option<LimitGuard>,
    /// The cost of this point from the task's cost model (simulated runs only).
    pub cost: Option<Cost>,
    /// Runs after the body and the folds, before the result is published and the task counts
    /// as done (distributed runs send the result and remote reductions from here).
    pub after: Option<AfterTask>,
}

/// A hook run with a finished task and its result (see [`TaskWork::after`]).
pub type AfterTask = Box<dyn FnOnce(&TaskWork, &Result<Value, String>) + Send + Sync>;

/// A copy (or, without a source, a zero fill) of one field over some points.
pub struct CopyWork {
    /// Kind (copy or fill).
    pub kind: CopyKind,
    /// Source instance (none for fills).
    pub src: Option<Arc<Instance>>,
    /// Destination instance.
    pub dst: Arc<Instance>,
    /// Field.
    pub field: FieldId,
    /// Field name (for profiles).
    pub field_name: Arc<str>,
    /// Points.
    pub space: IndexSpace,
    /// The task it was issued for.
    pub task: Arc<str>,
}

/// Executes a copy (or zero fill) synchronously and records it in the profile.
pub fn do_copy(c: &CopyWork, sched: &Scheduler) -> Result<(), String> {
    let start = sched.profiler.now();
    let bytes = match &c.src {
        Some(src) => c.dst.copy_from(src, c.field, &c.space)?,
        None => {
            let size = c.dst.slot(c.field)?.ty.size();
            c.dst.fill(c.field, &c.space, &vec![0u8; size])?
        }
    };
    sched.profiler.copy(CopyRecord {
        kind: c.kind,
        src: c.src.as_ref().map(|s| Arc::from(s.mem.label.as_str())),
        dst: Arc::from(c.dst.mem.label.as_str()),
        node: c.dst.mem.node,
        bytes,
        region: c.dst.region_name.clone(),
        field: c.field_name.clone(),
        task: c.task.clone(),
        start_ns: start,
        end_ns: sched.profiler.now(),
    });
    Ok(())
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic".to_string()
    }
}

fn run_task(t: &TaskWork, sched: &Scheduler) -> Result<Value, String> {
    let fail = |m: String| format!("task `{}` at point {} on {}: {m}", t.name, t.point, t.proc);
    for a in &t.args {
        if let Privilege::Reduce(op) = a.privilege {
            for &f in a.fields.iter() {
                a.inst.fill_identity(f, &a.space, op).map_err(fail)?;
            }
        }
    }
    let start = sched.profiler.now();
    let ctx = TaskCtx::new(t);
    let mut result = catch_unwind(AssertUnwindSafe(|| (t.body)(&ctx)));
    // Device work of a real GPU's variant finishes, and host writes to GPU memory are published,
    // before the task counts as done.
    #[cfg(feature = "cuda")]
    {
        if let Err(e) = cuda::finish_task() {
            result = Ok(Err(crate::task::TaskError(e)));
        }
        for a in &t.args {
            a.inst.device_task_done(ctx.token());
        }
    }
    if let Err(e) = ctx.publish_host_writes() {
        result = Ok(Err(crate::task::TaskError(e)));
    }
    let end = sched.profiler.now();
    sched.profiler.task(TaskRecord {
        name: t.name.clone(),
        point: t.point,
        proc: t.proc,
        start_ns: start,
        end_ns: end,
    });
    let value = match result {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => return Err(fail(e.0)),
        Err(p) => return Err(fail(format!("panicked: {}", panic_message(&*p)))),
    };
    for a in &t.args {
        for fold in &a.folds {
            let Privilege::Reduce(op) = a.privilege else {
                continue;
            };
            let s = sched.profiler.now();
            let bytes = {
                let _g = fold
                    .target
                    .fold_lock
                    .lock()
                    .unwrap_or_else(|p| p.into_inner());
                fold.target
                    .fold_from(&a.inst, fold.field, &fold.space, op)
                    .map_err(fail)?
            };
            let end = sched.profiler.now();
            sched
                .profiler
                .copy(fold_record(a, fold, bytes, &t.name, s, end));
        }
    }
    Ok(value)
}

/// The profile record of `fold` (of argument `a` of task `task`): `bytes` folded from `a`'s
/// instance into the fold's target between `start_ns` and `end_ns`.
pub(crate) fn fold_record(
    a: &ArgInst,
    fold: &Fold,
    bytes: u64,
    task: &Arc<str>,
    start_ns: u64,
    end_ns: u64,
) -> CopyRecord {
    let field = a
        .field_space
        .get(fold.field)
        .map(|f| f.name.as_str())
        .unwrap_or("?");
    CopyRecord {
        kind: CopyKind::Fold,
        src: Some(Arc::from(a.inst.mem.label.as_str())),
        dst: Arc::from(fold.target.mem.label.as_str()),
        node: fold.target.mem.node,
        bytes,
        region: a.region_name.clone(),
        field: Arc::from(field),
        task: task.clone(),
        start_ns,
        end_ns,
    }
}

/// Runs one unit of work with the shared host semantics. After a failure anywhere in the run,
/// task bodies are skipped and their futures fail.
pub fn run_work(work: Work, sched: &Scheduler) {
    match work {
        Work::Task(mut t) => {
            let after = t.after.take();
            let result = match sched.error() {
                Some(e) => Err(format!("not run: an earlier operation failed: {e}")),
                None => {
                    let r = run_task(&t, sched);
                    if let Err(e) = &r {
                        sched.fail(e.clone());
                    }
                    r
                }
            };
            if let Some(f) = after {
                f(&t, &result);
            }
            t.promise.set(result);
        }
        Work::Copy(c) => {
            if let Err(e) = do_copy(&c, sched) {
                sched.fail(format!(
                    "copy of `{}.{}` for task `{}`: {e}",
                    c.dst.region_name, c.field_name, c.task
                ));
            }
        }
        Work::Join => {}
    }
}
