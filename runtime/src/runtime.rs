//! The public entry point. A [`Runtime`] binds a mapper to an application and a machine once,
//! then runs the sequential top-level program: every launch goes through dependence analysis,
//! the mapping stage (processor, memories, layouts, instances, copies) and the executor, with
//! implicit parallelism between independent tasks. On a simulated machine (`sim:`, `.toml`)
//! the same stages run with virtual instances and the simulator executor
//! ([`crate::exec::sim`]) advances a simulated clock instead of running task bodies.

use crate::analysis::{Access, Analysis, OpId};
use crate::error::{MemoryAttempt, RuntimeError};
use crate::exec::cpu::HostExecutor;
use crate::exec::sim::{SimCore, SimExecutor};
use crate::exec::{ArgInst, Fold, LimitGuard, TaskWork, Work};
use crate::fasthash::FastMap;
use crate::field::{FieldId, FieldSpace, FieldType, FieldValue};
use crate::future::{Future, FutureMap, Promise};
use crate::geom::{IndexSpace, Point, Rect};
use crate::instance::{InstId, Instance};
use crate::launch::ArgRef;
use crate::machine::MachineDesc;
use crate::machine::MemId;
use crate::mapping::{Found, InstRequest, MapState};
use crate::profile::{Profile, Profiler};
use crate::region::{PartitionId, RegionForest, RegionId};
use crate::sched::Scheduler;
use crate::task::{App, Privilege, TaskDecl, TaskHandle, Value, Variant};
use mapper_core::{
    BoundMapper, MachineShape, MapError, Mapper, MemKind, Placement, PointCtx, ProcId, ProcKind,
    TaskId,
};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

/// Options of a runtime.
#[derive(Clone, Debug)]
pub struct RuntimeOptions {
    /// Record a profile of every task and copy.
    pub profile: bool,
}

impl Default for RuntimeOptions {
    fn default() -> Self {
        RuntimeOptions { profile: true }
    }
}

/// An argument's instance, whether it was just created, and its reduction instance.
type MappedInst = (Arc<Instance>, bool, Option<Arc<Instance>>);

/// A launch argument resolved against its declaration.
struct ResolvedArg {
    fields: Vec<(FieldId, FieldType)>,
    /// The field ids of `fields`, shared by every point's [`ArgInst`].
    field_ids: Arc<[FieldId]>,
    field_names: Vec<Arc<str>>,
    field_space: Arc<FieldSpace>,
    root: RegionId,
    root_space: Arc<IndexSpace>,
    arg_name: Arc<str>,
    privilege: Privilege,
}

/// The task runtime.
pub struct Runtime {
    app: App,
    task_names: Vec<Arc<str>>,
    machine: MachineDesc,
    shape: MachineShape,
    bound: Box<dyn BoundMapper>,
    mapper_name: String,
    forest: RegionForest,
    sched: Arc<Scheduler>,
    state: MapState,
    analysis: Analysis,
    rr: HashMap<(u32, ProcKind), u32>,
    limits: HashMap<(TaskId, u32), Arc<AtomicU32>>,
    seq: Vec<u64>,
    profiler: Arc<Profiler>,
    sim: Option<Arc<SimCore>>,
    /// Processor index in the machine description by processor id.
    proc_idx: FastMap<ProcId, usize>,
    /// `best_memory(proc, kind)` per `proc * MemKind::ALL.len() + kind`.
    best_mem: Vec<Option<MemId>>,
    /// Region display names, shared by every point that maps the region (filled lazily).
    region_names: Vec<Option<Arc<str>>>,
    /// The one ready future a simulated point returns (no body runs, so no result).
    sim_future: Option<Future>,
    /// Buffers reused across points.
    scratch: Scratch,
    /// In a distributed run: the transport and this runtime's epoch ([`crate::dist`]).
    dist: Option<(Arc<dyn crate::dist::Transport>, u32)>,
    /// Control reads ([`Runtime::read_field`]) so far (a distributed run's message ids).
    reads: u64,
    /// FNV-1a hash of every value the control program read ([`Runtime::read_digest`]).
    digest: u64,
}

/// Per-point working buffers of [`Runtime::map_point`], kept between points so that mapping a
/// point does not allocate them again.
#[derive(Default)]
struct Scratch {
    adeps: Vec<OpId>,
    task_deps: Vec<OpId>,
    /// (root, field, points, instance, generation of the field state after the split, range of
    /// the split's pieces in `write_idx`).
    #[allow(clippy::type_complexity)]
    writes: Vec<(
        RegionId,
        FieldId,
        Arc<IndexSpace>,
        InstId,
        u64,
        std::ops::Range<usize>,
    )>,
    write_idx: Vec<usize>,
    collect: Vec<(RegionId, Arc<[FieldId]>, InstId)>,
    idx: Vec<usize>,
    rects: Vec<Rect>,
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.sched.wait_idle();
        self.sched.shutdown();
    }
}

impl Runtime {
    /// Creates a runtime for `app` on `machine`, binding `mapper` once.
    pub fn new(
        app: App,
        machine: MachineDesc,
        mapper: &dyn Mapper,
        opts: RuntimeOptions,
    ) -> Result<Runtime, RuntimeError> {
        app.validate().map_err(RuntimeError::Config)?;
        let shape = machine.shape();
        let info = app.info();
        let bound = mapper
            .bind(&info, &shape)
            .map_err(|diagnostics| RuntimeError::Bind {
                mapper: mapper.name().to_string(),
                diagnostics,
            })?;
        let sim = machine.simulated.then(|| SimCore::new(&machine));
        let profiler = Arc::new(match &sim {
            Some(s) => Profiler::simulated(opts.profile, s.clock()),
            None => Profiler::new(opts.profile),
        });
        let sched = Scheduler::new(profiler.clone());
        let mut proc_idx = FastMap::default();
        for (i, p) in machine.procs.iter().enumerate() {
            proc_idx.entry(p.id).or_insert(i);
        }
        let nk = MemKind::ALL.len();
        let mut best_mem = vec![None; machine.procs.len() * nk];
        for p in 0..machine.procs.len() {
            for &k in MemKind::ALL {
                best_mem[p * nk + k as usize] = machine.best_memory(p, k);
            }
        }
        let dist = match machine.local_node {
            Some(node) if sim.is_none() => {
                let t = crate::dist::transport().ok_or_else(|| {
                    RuntimeError::Config(format!(
                        "machine `{}` runs one node per process, but this process has no transport (start it with mpirun and a build with `--features mpi`)",
                        machine.name
                    ))
                })?;
                if t.rank() != node || t.size() != machine.nodes {
                    return Err(RuntimeError::Config(format!(
                        "machine `{}` has {} nodes and runs node {node} here, but this is rank {} of {}",
                        machine.name,
                        machine.nodes,
                        t.rank(),
                        t.size()
                    )));
                }
                Some((t, crate::dist::next_epoch()))
            }
            _ => None,
        };
        match (&sim, &dist) {
            (Some(s), _) => sched.set_executor(Box::new(SimExecutor::new(s.clone()))),
            (None, Some((t, epoch))) => sched.set_executor(Box::new(
                crate::dist::DistExecutor::new(&machine, t.clone(), *epoch),
            )),
            (None, None) => sched.set_executor(Box::new(HostExecutor::new(&machine))),
        }
        let mut state = MapState::new(&machine, sim.as_ref().map(|s| s.model().clone()));
        if dist.is_some() {
            state.drain = Some(sched.clone());
        }
        Ok(Runtime {
            task_names: app
                .tasks
                .iter()
                .map(|t| Arc::from(t.name.as_str()))
                .collect(),
            seq: vec![0; app.tasks.len()],
            app,
            state,
            machine,
            shape,
            bound,
            mapper_name: mapper.name().to_string(),
            forest: RegionForest::new(),
            sched,
            analysis: Analysis::new(),
            rr: HashMap::new(),
            limits: HashMap::new(),
            profiler,
            proc_idx,
            best_mem,
            region_names: Vec::new(),
            sim_future: sim.as_ref().map(|_| Future::ready(Value::None)),
            scratch: Scratch::default(),
            sim,
            dist,
            reads: 0,
            digest: 0xcbf2_9ce4_8422_2325,
        })
    }

    /// True on a simulated machine: task bodies do not run, instances hold no data, and times
    /// are simulated.
    pub fn is_simulated(&self) -> bool {
        self.sim.is_some()
    }

    /// Nanoseconds since the runtime started: wall-clock time, or on a simulated machine the
    /// simulated time of the control thread (after [`Runtime::wait_all`], the time at which
    /// the last operation finished).
    pub fn elapsed_ns(&self) -> u64 {
        match &self.sim {
            Some(s) => s.now(),
            None => self.profiler.now(),
        }
    }

    /// Creates a runtime from a machine spec string (`local`, `emulated:2x4`, `sim:p100x4`,
    /// `machine.toml`).
    pub fn from_spec(
        app: App,
        machine: &str,
        mapper: &dyn Mapper,
    ) -> Result<Runtime, RuntimeError> {
        let m = MachineDesc::parse(machine).map_err(RuntimeError::Config)?;
        Runtime::new(app, m, mapper, RuntimeOptions::default())
    }

    /// Creates a runtime with the default mapper (DSL.md §5) from a machine spec string.
    pub fn with_defaults(app: App, machine: &str) -> Result<Runtime, RuntimeError> {
        Runtime::from_spec(app, machine, &mapper_core::default::DefaultMapper)
    }

    /// The machine.
    pub fn machine(&self) -> &MachineDesc {
        &self.machine
    }

    /// The mapper, bound to the application and the machine (bound once, in [`Runtime::new`]).
    pub fn bound(&self) -> &dyn BoundMapper {
        self.bound.as_ref()
    }

    /// The mapper's name.
    pub fn mapper_name(&self) -> &str {
        &self.mapper_name
    }

    /// The regions and partitions.
    pub fn forest(&self) -> &RegionForest {
        &self.forest
    }

    /// Creates a root region.
    pub fn create_region(
        &mut self,
        name: &str,
        space: IndexSpace,
        fields: FieldSpace,
    ) -> Result<RegionId, RuntimeError> {
        let bounds = space.bounds();
        let r = self
            .forest
            .create_region(name, space, fields)
            .map_err(RuntimeError::Launch)?;
        self.state.note_root(r, bounds);
        Ok(r)
    }

    /// An equal (blocked) partition with `blocks[i]` pieces along dimension `i`.
    pub fn partition_equal(
        &mut self,
        region: RegionId,
        name: &str,
        blocks: &[i64],
    ) -> Result<PartitionId, RuntimeError> {
        self.forest
            .partition_equal(region, name, blocks)
            .map_err(RuntimeError::Launch)
    }

    /// A partition by explicit (possibly overlapping) subspaces.
    pub fn partition_by_subspaces(
        &mut self,
        region: RegionId,
        name: &str,
        subspaces: Vec<(Point, IndexSpace)>,
    ) -> Result<PartitionId, RuntimeError> {
        self.forest
            .partition_by_subspaces(region, name, subspaces)
            .map_err(RuntimeError::Launch)
    }

    /// The subregion of `part` with color `color`.
    pub fn subregion(
        &self,
        part: PartitionId,
        color: impl Into<Point>,
    ) -> Result<RegionId, RuntimeError> {
        let c = color.into();
        self.forest.subregion(part, &c).ok_or_else(|| {
            RuntimeError::Launch(format!(
                "partition `{}` has no subregion of color {c}",
                self.forest
                    .partition(part)
                    .map(|p| p.name.as_str())
                    .unwrap_or("?")
            ))
        })
    }

    fn check_failed(&self) -> Result<(), RuntimeError> {
        match self.sched.error() {
            Some(e) => Err(RuntimeError::Exec(e)),
            None => Ok(()),
        }
    }

    /// Launches one task; its result arrives in the returned future.
    pub fn launch(
        &mut self,
        task: TaskHandle,
        args: &[ArgRef],
        scalars: &[Value],
    ) -> Result<Future, RuntimeError> {
        let mut f = self.launch_points(task, &[Point::p1(0)], None, args, scalars)?;
        f.pop()
            .ok_or_else(|| RuntimeError::Launch("launch produced no future".into()))
    }

    /// Launches one point task per point of `domain`.
    pub fn index_launch(
        &mut self,
        task: TaskHandle,
        domain: Rect,
        args: &[ArgRef],
        scalars: &[Value],
    ) -> Result<FutureMap, RuntimeError> {
        let points: Vec<Point> = domain.iter().collect();
        let fs = self.launch_points(task, &points, Some(domain), args, scalars)?;
        Ok(FutureMap {
            futures: points.into_iter().zip(fs).collect(),
        })
    }

    fn resolve_args(
        &self,
        decl: &TaskDecl,
        args: &[ArgRef],
        index: bool,
    ) -> Result<Vec<ResolvedArg>, RuntimeError> {
        if args.len() != decl.args.len() {
            return Err(RuntimeError::Launch(format!(
                "task `{}` declares {} region arguments but was launched with {}",
                decl.name,
                decl.args.len(),
                args.len()
            )));
        }
        let mut out = Vec::with_capacity(args.len());
        for (a, d) in args.iter().zip(&decl.args) {
            let (launch_name, region) = match a {
                ArgRef::Region(r) => {
                    let node = self
                        .forest
                        .region(*r)
                        .ok_or_else(|| RuntimeError::Launch(format!("unknown region {r:?}")))?;
                    let name = match node.parent {
                        Some((p, _)) => self
                            .forest
                            .partition(p)
                            .map(|p| p.name.clone())
                            .unwrap_or_default(),
                        None => node.name.clone(),
                    };
                    (name, *r)
                }
                ArgRef::Partition(p, _) => {
                    if !index {
                        return Err(RuntimeError::Launch(format!(
                            "task `{}` argument `{}`: a single launch takes a region, not a partition; pass a subregion",
                            decl.name, d.name
                        )));
                    }
                    let pn = self
                        .forest
                        .partition(*p)
                        .ok_or_else(|| RuntimeError::Launch(format!("unknown partition {p:?}")))?;
                    (pn.name.clone(), pn.parent)
                }
            };
            if !d.regions.contains(&launch_name) {
                return Err(RuntimeError::Launch(format!(
                    "task `{}` argument `{}` is launched with `{launch_name}`, which its declaration does not list (declared: {}); add \"{launch_name}\" to the argument's region names",
                    decl.name,
                    d.name,
                    d.regions.join(", ")
                )));
            }
            let node = self
                .forest
                .region(region)
                .ok_or_else(|| RuntimeError::Launch("unknown region".into()))?;
            let root = self
                .forest
                .region(node.root)
                .ok_or_else(|| RuntimeError::Launch("unknown root".into()))?;
            let mut fields = Vec::new();
            let mut field_names = Vec::new();
            for f in &d.fields {
                let id = node.fields.id(f).ok_or_else(|| {
                    RuntimeError::Launch(format!(
                        "task `{}` argument `{}`: region `{}` has no field `{f}` (fields: {})",
                        decl.name,
                        d.name,
                        node.name,
                        node.fields
                            .fields()
                            .iter()
                            .map(|f| f.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                })?;
                let ty = node
                    .fields
                    .get(id)
                    .map(|f| f.ty)
                    .ok_or_else(|| RuntimeError::Launch("field".into()))?;
                fields.push((id, ty));
                field_names.push(Arc::from(f.as_str()));
            }
            out.push(ResolvedArg {
                field_ids: fields.iter().map(|f| f.0).collect(),
                fields,
                field_names,
                field_space: node.fields.clone(),
                root: node.root,
                root_space: root.space.clone(),
                arg_name: Arc::from(d.name.as_str()),
                privilege: d.privilege,
            });
        }
        Ok(out)
    }

    fn launch_points(
        &mut self,
        task: TaskHandle,
        points: &[Point],
        domain: Option<Rect>,
        args: &[ArgRef],
        scalars: &[Value],
    ) -> Result<Vec<Future>, RuntimeError> {
        self.check_failed()?;
        let decl = self
            .app
            .tasks
            .get(task.0)
            .cloned()
            .ok_or_else(|| RuntimeError::Launch(format!("unknown task handle {}", task.0)))?;
        let resolved = self.resolve_args(&decl, args, domain.is_some())?;
        let scalars: Arc<[Value]> = scalars.into();
        let mut futures = Vec::with_capacity(points.len());
        let mut regions = Vec::with_capacity(args.len());
        for p in points {
            regions.clear();
            for (a, d) in args.iter().zip(&decl.args) {
                let r = match a {
                    ArgRef::Region(r) => *r,
                    ArgRef::Partition(part, proj) => {
                        let c = proj.apply(p);
                        self.forest.subregion(*part, &c).ok_or_else(|| {
                            RuntimeError::Launch(format!(
                                "task `{}` argument `{}` at point {p}: partition `{}` has no subregion of color {c}",
                                decl.name,
                                d.name,
                                self.forest.partition(*part).map(|x| x.name.as_str()).unwrap_or("?")
                            ))
                        })?
                    }
                };
                regions.push(r);
            }
            futures.push(self.map_point(task.0, &decl, *p, domain, &regions, &resolved, &scalars)?);
        }
        Ok(futures)
    }

    fn map_error(
        &self,
        decl: &TaskDecl,
        point: &Point,
        func: &str,
        message: String,
    ) -> RuntimeError {
        RuntimeError::Map(MapError {
            task: decl.name.clone(),
            point: point.coords().to_vec(),
            function: Some(func.to_string()),
            message,
            at: None,
        })
    }

    fn place(
        &mut self,
        tid: TaskId,
        decl: &TaskDecl,
        point: Point,
        domain: Option<Rect>,
        kind: ProcKind,
    ) -> Result<ProcId, RuntimeError> {
        let ext_all = domain.map(|d| (d.extents(), d.dim()));
        let ext: &[i64] = match &ext_all {
            Some((e, n)) => e.get(..*n).unwrap_or(&[]),
            None => &[],
        };
        let seq = self.seq[tid];
        self.seq[tid] += 1;
        let coords = point.coords();
        let ctx = PointCtx {
            task: tid,
            point: if domain.is_some() { coords } else { &[] },
            domain: ext,
            index_launch: domain.is_some(),
            parent_proc: ProcId {
                node: 0,
                kind: ProcKind::Cpu,
                index: 0,
            },
            seq,
        };
        let func = if domain.is_some() {
            "IndexTaskMap"
        } else {
            "SingleTaskMap"
        };
        let placement = self.bound.place(&ctx).map_err(|e| RuntimeError::Map(*e))?;
        let proc = match placement {
            Placement::Proc(p) => p,
            Placement::AnyOnNode { node, kind: k } => {
                let per = self.shape.per_node(k).max(1);
                let c = self.rr.entry((node, k)).or_insert(0);
                let index = *c % per;
                *c = c.wrapping_add(1);
                ProcId {
                    node,
                    kind: k,
                    index,
                }
            }
        };
        if proc.kind != kind {
            return Err(self.map_error(
                decl,
                &point,
                func,
                format!(
                    "placed on {proc}, a {} processor, but the task was mapped to run on {kind}",
                    proc.kind
                ),
            ));
        }
        if proc.node >= self.shape.nodes || proc.index >= self.shape.per_node(kind) {
            return Err(self.map_error(
                decl,
                &point,
                func,
                format!(
                    "processor {proc} does not exist: the machine has {} node(s) with {} {kind} processor(s) each",
                    self.shape.nodes,
                    self.shape.per_node(kind)
                ),
            ));
        }
        Ok(proc)
    }

    /// The display name of region `r`, shared (one allocation per region, not per point).
    fn region_name(&mut self, r: RegionId) -> Result<Arc<str>, RuntimeError> {
        if let Some(Some(n)) = self.region_names.get(r.0) {
            return Ok(n.clone());
        }
        let node = self
            .forest
            .region(r)
            .ok_or_else(|| RuntimeError::Launch("unknown region".into()))?;
        let name: Arc<str> = Arc::from(node.name.as_str());
        if self.region_names.len() <= r.0 {
            self.region_names.resize(r.0 + 1, None);
        }
        if let Some(slot) = self.region_names.get_mut(r.0) {
            *slot = Some(name.clone());
        }
        Ok(name)
    }

    /// Records a fallback when the instance of an argument went to memory `mem` (of kind `mk`)
    /// although the mapper's own list for it does not name that kind, with why each listed
    /// kind was not used.
    #[allow(clippy::too_many_arguments)]
    fn note_fallback(
        &self,
        tid: TaskId,
        decl: &TaskDecl,
        arg: usize,
        ra: &ResolvedArg,
        region: &Arc<str>,
        kind: ProcKind,
        pidx: usize,
        mk: MemKind,
        mem: usize,
        attempts: &[MemoryAttempt],
    ) {
        let Some(listed) = self.bound.listed_memories(tid, arg, kind) else {
            return;
        };
        if listed.is_empty() || listed.contains(&mk) {
            return;
        }
        let visible = self.machine.accessible_kinds(pidx);
        let why = listed
            .iter()
            .map(|l| {
                if !self.machine.mems.iter().any(|m| m.kind == *l) {
                    format!("this machine has no {l}")
                } else if !visible.contains(l) {
                    format!("{l} is not visible from {kind}")
                } else {
                    match attempts
                        .iter()
                        .find(|a| a.memory.split('[').next() == Some(l.as_str()))
                    {
                        Some(a) => format!(
                            "{} is full (needs {}, {} free of {})",
                            a.memory,
                            crate::profile::human_bytes(a.needed),
                            crate::profile::human_bytes(a.available),
                            crate::profile::human_bytes(a.capacity)
                        ),
                        None => format!("{l} could not take it"),
                    }
                }
            })
            .collect();
        self.profiler.fallback(crate::profile::Fallback {
            task: decl.name.clone(),
            arg: ra.arg_name.to_string(),
            region: region.to_string(),
            proc_kind: kind.to_string(),
            listed: listed.iter().map(|l| l.to_string()).collect(),
            placed: self
                .state
                .mems
                .get(mem)
                .map(|m| m.label.to_string())
                .unwrap_or_else(|| mk.to_string()),
            why,
            count: 1,
        });
    }

    /// The fallbacks recorded so far: argument instances placed in a memory the mapper did not
    /// list (recorded whether or not profiling is on).
    pub fn fallbacks(&self) -> Vec<crate::profile::Fallback> {
        self.profiler.fallbacks()
    }

    /// Finds or creates the instance for one argument in the first memory of the mapper's list
    /// that is accessible and can hold it; waits for running tasks to free memory before
    /// failing. Returns (instance, fresh, reduction instance).
    #[allow(clippy::too_many_arguments)]
    fn map_instance(
        &mut self,
        tid: TaskId,
        decl: &TaskDecl,
        point: &Point,
        arg: usize,
        proc: ProcId,
        pidx: usize,
        region: RegionId,
        name: &Arc<str>,
        bbox: Rect,
        ra: &ResolvedArg,
    ) -> Result<MappedInst, RuntimeError> {
        let kind = proc.kind;
        let reduce = matches!(ra.privilege, Privilege::Reduce(_));
        let nk = MemKind::ALL.len();
        let mems = self.bound.memories(tid, arg, kind);
        let mut seen = self.sched.completed();
        loop {
            let mut attempts = Vec::new();
            let mut accessible = false;
            for &mk in mems {
                let Some(mem) = self
                    .best_mem
                    .get(pidx * nk + mk as usize)
                    .copied()
                    .flatten()
                else {
                    continue;
                };
                accessible = true;
                let req = InstRequest {
                    region,
                    root: ra.root,
                    name,
                    bbox,
                    fields: &ra.fields,
                    layout: self.bound.layout(tid, arg, kind, mk),
                };
                let attempt = |st: &MapState, needed, available| MemoryAttempt {
                    memory: st.mems[mem].label.clone(),
                    needed,
                    available,
                    capacity: st.mems[mem].capacity,
                };
                match self
                    .state
                    .find_or_create(mem, &req, &self.profiler)
                    .map_err(RuntimeError::Launch)?
                {
                    Found::Inst(d, fresh) => {
                        self.note_fallback(
                            tid, decl, arg, ra, name, kind, pidx, mk, mem, &attempts,
                        );
                        if !reduce {
                            return Ok((d, fresh, None));
                        }
                        match self
                            .state
                            .create(mem, &req, true, &self.profiler)
                            .map_err(RuntimeError::Launch)?
                        {
                            Ok(r) => {
                                // The reduction instance is private to this task.
                                self.state.insts.remove(&r.id);
                                if let Some(v) = self
                                    .state
                                    .by_mem
                                    .get_mut(mem)
                                    .and_then(|m| m.get_mut(&ra.root))
                                {
                                    v.retain(|x| x.id != r.id);
                                }
                                return Ok((d, fresh, Some(r)));
                            }
                            Err((needed, available)) => {
                                attempts.push(attempt(&self.state, needed, available))
                            }
                        }
                    }
                    Found::NoSpace { needed, available } => {
                        attempts.push(attempt(&self.state, needed, available))
                    }
                }
            }
            if !accessible {
                let can: Vec<&str> = self
                    .machine
                    .accessible_kinds(pidx)
                    .iter()
                    .map(|k| k.as_str())
                    .collect();
                return Err(self.map_error(
                    decl,
                    point,
                    "Region",
                    format!(
                        "argument `{}`: none of the memories [{}] is accessible from {proc} (it can access {})",
                        ra.arg_name,
                        mems.iter().map(|m| m.as_str()).collect::<Vec<_>>().join(", "),
                        can.join(", ")
                    ),
                ));
            }
            if self.sched.in_flight() > 0 {
                seen = self.sched.wait_progress(seen);
                continue;
            }
            return Err(RuntimeError::MemoryFull {
                task: decl.name.clone(),
                point: point.coords().to_vec(),
                arg: ra.arg_name.to_string(),
                region: name.to_string(),
                attempts,
            });
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn map_point(
        &mut self,
        tid: TaskId,
        decl: &Arc<TaskDecl>,
        point: Point,
        domain: Option<Rect>,
        regions: &[RegionId],
        res: &[ResolvedArg],
        scalars: &Arc<[Value]>,
    ) -> Result<Future, RuntimeError> {
        let name = self.task_names[tid].clone();
        let kind = self.bound.proc_kind(tid);
        let body = match decl.variants.get(&kind) {
            Some(Variant::Host(f)) => f.clone(),
            // A simulated run never calls the body.
            Some(Variant::Cuda(_)) if self.sim.is_some() => {
                Arc::new(|_: &crate::context::TaskCtx| Ok(Value::None)) as crate::task::HostFn
            }
            #[cfg(feature = "cuda")]
            Some(Variant::Cuda(c)) if self.machine.has_real_gpus() && c.source.is_some() => {
                crate::exec::cuda::cuda_variant_body(c)
            }
            Some(Variant::Cuda(c)) => {
                return Err(self.map_error(
                    decl,
                    &point,
                    "Task",
                    format!("the mapper chose {kind}, whose variant is the CUDA kernel `{}`; this executor runs host variants only (CUDA variants need the `cuda` feature, a driver, the `local` machine and kernel source)", c.kernel),
                ))
            }
            None => {
                let have: Vec<&str> = decl.variants.keys().map(|k| k.as_str()).collect();
                return Err(self.map_error(
                    decl,
                    &point,
                    "Task",
                    format!("the mapper chose {kind} but the task has variants only for [{}]", have.join(", ")),
                ));
            }
        };
        if !self.shape.has(kind) {
            return Err(self.map_error(
                decl,
                &point,
                "Task",
                format!("the mapper chose {kind} but the machine has no {kind} processors"),
            ));
        }
        let proc = self.place(tid, decl, point, domain, kind)?;
        let pidx = self.proc_idx.get(&proc).copied().ok_or_else(|| {
            self.map_error(
                decl,
                &point,
                "place",
                format!("processor {proc} is not in the machine"),
            )
        })?;
        let threads = self.machine.procs[pidx].threads;

        // Backpressure: at most N mapped-but-unfinished point tasks of this task per node.
        let limit = match self.bound.instance_limit(tid, kind) {
            Some(n) => {
                let c = self.limits.entry((tid, proc.node)).or_default().clone();
                let mut seen = self.sched.completed();
                while c.load(Ordering::Acquire) >= n.max(1) && self.sched.in_flight() > 0 {
                    seen = self.sched.wait_progress(seen);
                }
                c.fetch_add(1, Ordering::AcqRel);
                Some(LimitGuard(c))
            }
            None => None,
        };

        if let Some(s) = &self.sim {
            // The control thread's own time to analyse and map this point.
            s.advance(self.machine.map_ns.round() as u64);
        }

        let mut scratch = std::mem::take(&mut self.scratch);
        let r = self.map_point_with(
            tid,
            decl,
            point,
            domain,
            regions,
            res,
            scalars,
            (name, body, proc, pidx, threads, limit),
            &mut scratch,
        );
        self.scratch = scratch;
        r
    }

    /// The part of [`Runtime::map_point`] after placement: dependence analysis, instances,
    /// coherence, registration and submission (with `scratch`'s buffers).
    #[allow(clippy::too_many_arguments, clippy::type_complexity)]
    fn map_point_with(
        &mut self,
        tid: TaskId,
        decl: &Arc<TaskDecl>,
        point: Point,
        domain: Option<Rect>,
        regions: &[RegionId],
        res: &[ResolvedArg],
        scalars: &Arc<[Value]>,
        placed: (
            Arc<str>,
            crate::task::HostFn,
            ProcId,
            usize,
            u32,
            Option<LimitGuard>,
        ),
        scratch: &mut Scratch,
    ) -> Result<Future, RuntimeError> {
        let (name, body, proc, pidx, threads, limit) = placed;
        // Dependence analysis.
        let adeps = &mut scratch.adeps;
        adeps.clear();
        for (i, &r) in regions.iter().enumerate() {
            let (Some(node), Some(ra)) = (self.forest.region(r), res.get(i)) else {
                return Err(RuntimeError::Launch("region".into()));
            };
            for &(f, _) in &ra.fields {
                self.analysis.deps(
                    ra.root,
                    f,
                    &node.space,
                    Access::from(ra.privilege),
                    OpId::MAX,
                    adeps,
                );
            }
        }
        adeps.sort_unstable();
        adeps.dedup();
        let adeps = &scratch.adeps;

        // Instances and coherence.
        let task_deps = &mut scratch.task_deps;
        task_deps.clear();
        task_deps.extend_from_slice(adeps);
        let mut arg_insts = Vec::with_capacity(regions.len());
        let writes = &mut scratch.writes;
        writes.clear();
        let write_idx = &mut scratch.write_idx;
        write_idx.clear();
        let collect = &mut scratch.collect;
        collect.clear();
        let idx = &mut scratch.idx;
        for (i, &r) in regions.iter().enumerate() {
            let Some(ra) = res.get(i) else {
                return Err(RuntimeError::Launch("region".into()));
            };
            let region_name = self.region_name(r)?;
            let space = self
                .forest
                .region(r)
                .map(|n| n.space.clone())
                .ok_or_else(|| RuntimeError::Launch("region".into()))?;
            let bbox = space.bounds();
            let (d, fresh, red) =
                self.map_instance(tid, decl, &point, i, proc, pidx, r, &region_name, bbox, ra)?;
            if let Some(s) = &self.sim {
                // Time the control thread spent blocked in write-backs while evicting.
                s.advance(std::mem::take(&mut self.state.blocked_ns));
            }
            let mut folds = Vec::new();
            for (k, &(f, _)) in ra.fields.iter().enumerate() {
                let key = (ra.root, f);
                self.state
                    .field_state(ra.root, f, &ra.root_space)
                    .split_into(&space, idx);
                match ra.privilege {
                    Privilege::WriteDiscard => {}
                    Privilege::Read | Privilege::ReadWrite | Privilege::Write => {
                        self.state.ensure_valid(
                            &self.sched,
                            &self.machine,
                            key,
                            idx,
                            &d,
                            fresh,
                            adeps,
                            task_deps,
                            &ra.field_names[k],
                            &name,
                        );
                        if let Some(st) = self.state.coherence.get_mut(&key) {
                            for &j in idx.iter() {
                                if let Some(p) = st.pieces.get_mut(j) {
                                    p.redop = None;
                                }
                            }
                        }
                    }
                    Privilege::Reduce(op) => {
                        // Pieces already in an epoch of this operator fold into its target;
                        // the others start an epoch folding into `d`, made valid first.
                        let (mut same, mut fresh_epoch) = (Vec::new(), Vec::new());
                        if let Some(st) = self.state.coherence.get(&key) {
                            for &j in idx.iter() {
                                match st.pieces.get(j).and_then(|p| p.redop) {
                                    Some((o, t))
                                        if o == op && self.state.insts.contains_key(&t) =>
                                    {
                                        same.push((j, t))
                                    }
                                    _ => fresh_epoch.push(j),
                                }
                            }
                        }
                        self.state.ensure_valid(
                            &self.sched,
                            &self.machine,
                            key,
                            &fresh_epoch,
                            &d,
                            fresh,
                            adeps,
                            task_deps,
                            &ra.field_names[k],
                            &name,
                        );
                        let mut by_target: Vec<(InstId, Vec<Rect>)> = Vec::new();
                        if let Some(st) = self.state.coherence.get_mut(&key) {
                            for (j, t) in same
                                .into_iter()
                                .chain(fresh_epoch.into_iter().map(|j| (j, d.id)))
                            {
                                let Some(p) = st.pieces.get_mut(j) else {
                                    continue;
                                };
                                p.copies.retain(|c| c.inst == t);
                                if let Some(c) = p.copies.first() {
                                    if c.ready != 0 {
                                        task_deps.push(c.ready);
                                    }
                                }
                                p.redop = Some((op, t));
                                match by_target.iter_mut().find(|(x, _)| *x == t) {
                                    Some((_, v)) => v.extend_from_slice(p.space.rects()),
                                    None => by_target.push((t, p.space.rects().to_vec())),
                                }
                            }
                        }
                        for (t, rects) in by_target {
                            if let Some(e) = self.state.insts.get(&t) {
                                folds.push(Fold {
                                    field: f,
                                    target: e.inst.clone(),
                                    space: IndexSpace::from_rects_disjoint(space.dim(), rects),
                                });
                            }
                        }
                    }
                }
                if ra.privilege.writes() {
                    // The split still holds at registration unless the pieces changed since.
                    let generation = self
                        .state
                        .coherence
                        .get(&key)
                        .map_or(u64::MAX, |st| st.generation());
                    let start = write_idx.len();
                    write_idx.extend_from_slice(idx);
                    writes.push((
                        ra.root,
                        f,
                        space.clone(),
                        d.id,
                        generation,
                        start..write_idx.len(),
                    ));
                }
            }
            if ra.privilege.read_only() && self.bound.collect(tid, i) {
                collect.push((ra.root, ra.field_ids.clone(), d.id));
            }
            arg_insts.push(ArgInst {
                name: ra.arg_name.clone(),
                privilege: ra.privilege,
                region_name,
                bounds: bbox,
                space,
                fields: ra.field_ids.clone(),
                field_space: ra.field_space.clone(),
                inst: red.unwrap_or(d),
                folds,
            });
        }

        // Register the task: validity of written data, analysis users, early collection.
        let id = self.sched.reserve();
        for (root, f, space, inst, generation, range) in writes.drain(..) {
            if let Some(st) = self.state.coherence.get_mut(&(root, f)) {
                let split = write_idx.get(range).map(|known| (generation, known));
                st.write_split(&space, inst, id, split);
            }
        }
        let sched = &self.sched;
        for (i, &r) in regions.iter().enumerate() {
            let (Some(node), Some(ra)) = (self.forest.region(r), res.get(i)) else {
                return Err(RuntimeError::Launch("region".into()));
            };
            for &(f, _) in &ra.fields {
                self.analysis.register(
                    ra.root,
                    f,
                    &node.space,
                    Access::from(ra.privilege),
                    id,
                    &ra.root_space,
                    &mut |ops| {
                        let mut deps = ops;
                        sched.add(Work::Join, &mut deps)
                    },
                );
            }
        }
        for (root, fields, inst) in collect.drain(..) {
            for &f in fields.iter() {
                if let Some(st) = self.state.coherence.get_mut(&(root, f)) {
                    for p in &mut st.pieces {
                        if p.copies.len() > 1 {
                            p.copies.retain(|c| c.inst != inst);
                        }
                    }
                }
            }
            // The instance may also hold other fields than the collected argument's (it was
            // reused because it covered the region): it goes only if it holds valid data of
            // none of them, since it may be the only copy of some.
            let still = self.state.insts.get(&inst).is_some_and(|e| {
                e.fields.iter().any(|(f, _)| {
                    self.state
                        .coherence
                        .get(&(root, *f))
                        .is_some_and(|st| st.holds(inst))
                })
            });
            if !still {
                self.state.drop_instance(inst);
            }
        }
        let cost = match (&self.sim, &decl.cost) {
            (Some(_), Some(c)) => {
                let rects = &mut scratch.rects;
                rects.clear();
                rects.extend(arg_insts.iter().map(|a| a.bounds));
                Some(c.cost(&point, rects, scalars))
            }
            _ => None,
        };
        let (future, promise) = match &self.sim_future {
            // No task body runs in a simulation, so there is no result to wait for.
            Some(f) => (f.clone(), Promise::detached()),
            None => Future::pending(),
        };
        let work = TaskWork {
            name,
            proc,
            proc_index: pidx,
            threads,
            point,
            domain,
            scalars: scalars.clone(),
            args: arg_insts,
            body,
            promise,
            limit,
            cost,
            after: None,
        };
        self.sched
            .submit(id, Work::Task(Box::new(work)), &mut scratch.task_deps);
        Ok(future)
    }

    /// Waits for every launched task; returns the first failure of the run.
    pub fn wait_all(&self) -> Result<(), RuntimeError> {
        self.sched.wait_idle();
        self.check_failed()
    }

    fn field_of<T: FieldValue>(
        &self,
        region: RegionId,
        field: &str,
    ) -> Result<(FieldId, RegionId, Arc<IndexSpace>, Arc<IndexSpace>), RuntimeError> {
        let node = self
            .forest
            .region(region)
            .ok_or_else(|| RuntimeError::Launch(format!("unknown region {region:?}")))?;
        let fid = node.fields.id(field).ok_or_else(|| {
            RuntimeError::Launch(format!("region `{}` has no field `{field}`", node.name))
        })?;
        let ty = node
            .fields
            .get(fid)
            .map(|f| f.ty)
            .ok_or_else(|| RuntimeError::Launch("field".into()))?;
        if ty != T::TYPE {
            return Err(RuntimeError::Launch(format!(
                "field `{field}` of region `{}` has type {ty}, not {}",
                node.name,
                T::TYPE
            )));
        }
        let root = self
            .forest
            .region(node.root)
            .ok_or_else(|| RuntimeError::Launch("root".into()))?;
        Ok((fid, node.root, node.space.clone(), root.space.clone()))
    }

    /// Waits for all tasks, then returns `field` of `region` in C order of its points
    /// (never-written points read as zero).
    pub fn read_field<T: FieldValue>(
        &mut self,
        region: RegionId,
        field: &str,
    ) -> Result<Vec<T>, RuntimeError> {
        self.wait_all()?;
        let (fid, root, space, root_space) = self.field_of::<T>(region, field)?;
        if self.sim.is_some() {
            return Err(RuntimeError::Launch(format!(
                "read_field `{field}`: a simulated run computes no data (machine `{}`); check Runtime::is_simulated() and skip result checks",
                self.machine.name
            )));
        }
        // SAFETY: field values are plain old data; all-zero bytes are a valid value.
        let zero: T = unsafe { std::mem::zeroed() };
        let mut out = vec![zero; space.volume() as usize];
        let single = match space.rects() {
            [r] => Some(*r),
            _ => None,
        };
        let index: HashMap<Point, usize> = if single.is_none() {
            space.iter().enumerate().map(|(i, p)| (p, i)).collect()
        } else {
            HashMap::new()
        };
        let st = self.state.field_state(root, fid, &root_space).clone();
        let read = self.reads;
        self.reads += 1;
        for (k, p) in st.pieces.iter().enumerate() {
            let inter = p.space.intersection(&space);
            if inter.is_empty() {
                continue;
            }
            let Some(inst) = p
                .copies
                .first()
                .and_then(|c| self.state.insts.get(&c.inst))
                .map(|e| e.inst.clone())
            else {
                continue;
            };
            if let Some((t, epoch)) = &self.dist {
                // The rank holding the piece sends it to every other rank.
                let key = crate::dist::Key {
                    epoch: *epoch,
                    class: crate::dist::Class::Read,
                    id: read,
                    sub: u32::try_from(k).unwrap_or(u32::MAX),
                };
                let owner = inst.mem.node;
                let bytes = if owner == t.rank() {
                    let b = inst.pack(fid, &inter).map_err(RuntimeError::Exec)?;
                    for r in (0..t.size()).filter(|&r| r != owner) {
                        t.send(r, key, b.clone());
                    }
                    b
                } else {
                    t.recv(owner, key).map_err(RuntimeError::Exec)?
                };
                let size = std::mem::size_of::<T>();
                let mut chunks = bytes.chunks_exact(size);
                for r in inter.rects() {
                    for pt in r.iter() {
                        let Some(c) = chunks.next() else {
                            return Err(RuntimeError::Exec(format!(
                                "read_field `{field}`: rank {owner} sent {} bytes for {} points",
                                bytes.len(),
                                inter.volume()
                            )));
                        };
                        let i = match single {
                            Some(r) => {
                                let e = r.extents();
                                (0..r.dim())
                                    .fold(0i64, |acc, d| acc * e[d] + (pt.get(d) - r.lo.get(d)))
                                    as usize
                            }
                            None => index.get(&pt).copied().unwrap_or(0),
                        };
                        if let Some(o) = out.get_mut(i) {
                            // SAFETY: `c` holds the bytes of one `T` (plain old data).
                            *o = unsafe { std::ptr::read_unaligned(c.as_ptr() as *const T) };
                        }
                    }
                }
                continue;
            }
            let slot = *inst.slot(fid).map_err(RuntimeError::Exec)?;
            inst.host_acquire(fid, &inter, crate::instance::HostAccess::Read)
                .map_err(RuntimeError::Exec)?;
            if let Some(r) = single {
                if read_rows(&inst, &slot, &r, &inter, &mut out) {
                    continue;
                }
            }
            for pt in inter.iter() {
                let i = match single {
                    Some(r) => {
                        let e = r.extents();
                        (0..r.dim()).fold(0i64, |acc, d| acc * e[d] + (pt.get(d) - r.lo.get(d)))
                            as usize
                    }
                    None => index.get(&pt).copied().unwrap_or(0),
                };
                if !inst.layout.rect.contains(&pt) {
                    continue;
                }
                let off = inst.layout.offset(&slot, &pt);
                // SAFETY: `pt` lies in the instance rectangle and the field holds a `T`.
                let v = unsafe { std::ptr::read_unaligned(inst.base_ptr().add(off) as *const T) };
                if let Some(o) = out.get_mut(i) {
                    *o = v;
                }
            }
        }
        // SAFETY: `out` holds plain old data; its bytes are initialized.
        let bytes = unsafe {
            std::slice::from_raw_parts(out.as_ptr() as *const u8, std::mem::size_of_val(&out[..]))
        };
        for &b in bytes {
            self.digest = (self.digest ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
        Ok(out)
    }

    /// A hash (FNV-1a, 64 bits) of every value [`Runtime::read_field`] returned so far, in
    /// order: equal digests mean bit-identical results (e.g. across machines and mappers).
    pub fn read_digest(&self) -> u64 {
        self.digest
    }

    /// Waits for all tasks, then stores `data` (C order of the region's points) into `field`
    /// of `region`, in host memory of node 0.
    pub fn write_field<T: FieldValue>(
        &mut self,
        region: RegionId,
        field: &str,
        data: &[T],
    ) -> Result<(), RuntimeError> {
        self.store_field(region, field, Some(data))
    }

    /// [`Runtime::write_field`]; `None` (simulated runs) places and validates the instance
    /// without data.
    fn store_field<T: FieldValue>(
        &mut self,
        region: RegionId,
        field: &str,
        data: Option<&[T]>,
    ) -> Result<(), RuntimeError> {
        self.wait_all()?;
        let (fid, root, space, root_space) = self.field_of::<T>(region, field)?;
        if let Some(data) = data.filter(|d| d.len() as u64 != space.volume()) {
            return Err(RuntimeError::Launch(format!(
                "write_field: {} values given for {} points of the region",
                data.len(),
                space.volume()
            )));
        }
        let mem = self
            .state
            .mems
            .iter()
            .find(|m| m.node == 0 && m.kind == mapper_core::MemKind::Sysmem)
            .map(|m| m.id)
            .ok_or_else(|| RuntimeError::Config("the machine has no SYSMEM on node 0".into()))?;
        let name: Arc<str> = Arc::from(
            self.forest
                .region(region)
                .map(|n| n.name.as_str())
                .unwrap_or("?"),
        );
        let fields = [(fid, T::TYPE)];
        let req = InstRequest {
            region,
            root,
            name: &name,
            bbox: space.bounds(),
            fields: &fields,
            layout: Default::default(),
        };
        let inst = match self
            .state
            .find_or_create(mem, &req, &self.profiler)
            .map_err(RuntimeError::Launch)?
        {
            Found::Inst(i, _) => i,
            Found::NoSpace { needed, available } => {
                return Err(RuntimeError::Launch(format!(
                "write_field: SYSMEM of node 0 cannot hold {needed} bytes ({available} available)"
            )))
            }
        };
        let slot = *inst.slot(fid).map_err(RuntimeError::Exec)?;
        for (pt, v) in space.iter().zip(data.unwrap_or_default()) {
            if inst.is_virtual() {
                break;
            }
            let off = inst.layout.offset(&slot, &pt);
            // SAFETY: `pt` lies in the instance rectangle (it covers the region's bounds).
            unsafe { std::ptr::write_unaligned(inst.base_ptr().add(off) as *mut T, *v) };
        }
        self.state
            .field_state(root, fid, &root_space)
            .write(&space, inst.id, 0);
        Ok(())
    }

    /// Sets every point of `field` of `region` to `value`.
    pub fn fill_field<T: FieldValue>(
        &mut self,
        region: RegionId,
        field: &str,
        value: T,
    ) -> Result<(), RuntimeError> {
        if self.sim.is_some() {
            return self.store_field::<T>(region, field, None);
        }
        let n = self
            .forest
            .region(region)
            .map(|r| r.space.volume())
            .unwrap_or(0) as usize;
        self.write_field(region, field, &vec![value; n])
    }

    /// A snapshot of the profile so far (waits for running tasks first).
    pub fn profile(&self) -> Profile {
        self.sched.wait_idle();
        self.profiler.snapshot()
    }

    /// Bytes in use per memory label.
    pub fn memory_usage(&self) -> Vec<(String, u64, u64)> {
        self.state
            .mems
            .iter()
            .map(|m| (m.label.clone(), m.used(), m.capacity))
            .collect()
    }

    /// Number of live instances the mapping stage tracks.
    pub fn instance_count(&self) -> usize {
        self.state.insts.len()
    }
}

/// The fast path of [`Runtime::read_field`] for a single-rectangle region: copies `inter`'s
/// rectangles row by row (along the last dimension) from `inst` into `out` (C order of `r`).
/// False (nothing done) when a rectangle of `inter` is not inside the instance.
fn read_rows<T: FieldValue>(
    inst: &Instance,
    slot: &crate::layout::FieldSlot,
    r: &Rect,
    inter: &IndexSpace,
    out: &mut [T],
) -> bool {
    let d = r.dim();
    if d == 0
        || inter
            .rects()
            .iter()
            .any(|x| !inst.layout.rect.contains_rect(x))
    {
        return false;
    }
    let e = r.extents();
    let last = d - 1;
    let step = inst.layout.strides[last] as usize * slot.stride;
    let base = inst.base_ptr();
    for x in inter.rects() {
        if x.is_empty() {
            continue;
        }
        let len = x.extents()[last] as usize;
        let mut lead = *x;
        lead.hi = {
            let mut c = [0i64; crate::geom::MAX_DIM];
            for (k, v) in c.iter_mut().enumerate().take(d) {
                *v = if k == last { x.lo.get(k) } else { x.hi.get(k) };
            }
            Point::new(&c[..d]).unwrap_or(x.lo)
        };
        for p in lead.iter() {
            let i0 = (0..d).fold(0i64, |acc, k| acc * e[k] + (p.get(k) - r.lo.get(k))) as usize;
            let off = inst.layout.offset(slot, &p);
            for (j, o) in out.iter_mut().skip(i0).take(len).enumerate() {
                // SAFETY: point `p + j` along the last dimension lies in the instance (checked
                // above) and the field holds a `T`.
                *o = unsafe { std::ptr::read_unaligned(base.add(off + j * step) as *const T) };
            }
        }
    }
    true
}
