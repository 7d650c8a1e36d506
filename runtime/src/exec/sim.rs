//! The simulator: a discrete-event executor on a simulated clock. The runtime maps tasks,
//! creates (virtual) instances and issues copies exactly as in a real run; this executor never
//! runs task bodies or moves bytes. Instead, every operation the scheduler releases occupies a
//! resource for a modelled duration:
//!
//! - a point task occupies its processor for
//!   `launch + max(flops / throughput(flops), sum over arguments of bytes / bandwidth(memory ->
//!   processor))`, plus the initialization of reduction instances and the folds after it; an
//!   argument in a memory the processor does not cache (a GPU reading mapped host memory) costs
//!   its streamed bytes (every re-read crosses the bus) where the cost model gives them;
//! - a copy occupies a channel for `latency + bytes / bandwidth` of the path between the two
//!   memories; channels are the directed memory pair within a node and the source node's network
//!   link across nodes (FIFO contention: a channel carries one copy at a time);
//! - a fill occupies its memory's fill channel for `bytes / memory bandwidth`;
//! - joins take no time and no resource.
//!
//! Each resource serves its ready operations first come, first served. Events are ordered by
//! (time, sequence number), and the control thread drives the loop when it waits (for
//! backpressure, memory, or the end of the run), so a simulation is a pure function of its inputs:
//! the same program, mapper and machine give the same schedule, byte for byte.

use super::{Executor, Ready, Work};
use crate::machine::{MachineDesc, MemId, ProcDesc};
use crate::profile::{CopyRecord, Profiler, TaskRecord};
use crate::task::{Cost, Privilege, Value};
use std::collections::{BTreeMap, BinaryHeap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// The cost tables of a machine: processor throughput, processor-memory bandwidth, copy paths.
#[derive(Debug)]
pub struct SimModel {
    procs: Vec<ProcDesc>,
    nmems: usize,
    /// (bandwidth GB/s, latency ns, cached) per `proc * nmems + mem`; bandwidth 0 = no access.
    access: Vec<(f64, f64, bool)>,
    /// (bandwidth GB/s, latency ns) per `src * nmems + dst`.
    copy: Vec<(f64, f64)>,
    mem_bw: Vec<f64>,
    mem_node: Vec<u32>,
}

fn ns(x: f64) -> u64 {
    if x.is_finite() && x > 0.0 {
        x.round() as u64
    } else {
        0
    }
}

impl SimModel {
    /// The tables of `m`.
    pub fn new(m: &MachineDesc) -> SimModel {
        let nmems = m.mems.len();
        let mut access = vec![(0.0, 0.0, true); m.procs.len() * nmems];
        for a in &m.access {
            if let Some(slot) = access.get_mut(a.proc * nmems + a.mem) {
                *slot = (a.bandwidth, a.latency, a.cached);
            }
        }
        let mut copy = Vec::with_capacity(nmems * nmems);
        for s in 0..nmems {
            for d in 0..nmems {
                copy.push(m.copy_link(s, d));
            }
        }
        SimModel {
            procs: m.procs.clone(),
            nmems,
            access,
            copy,
            mem_bw: m.mems.iter().map(|x| x.bandwidth).collect(),
            mem_node: m.mems.iter().map(|x| x.node).collect(),
        }
    }

    /// Time (ns) to copy `bytes` from `src` to `dst`: latency + bytes / bandwidth.
    pub fn copy_ns(&self, src: MemId, dst: MemId, bytes: u64) -> u64 {
        let (bw, lat) = self
            .copy
            .get(src * self.nmems + dst)
            .copied()
            .unwrap_or((1.0, 0.0));
        ns(lat + bytes as f64 / bw.max(1e-9))
    }

    /// Time (ns) to fill `bytes` of memory `mem`.
    pub fn fill_ns(&self, mem: MemId, bytes: u64) -> u64 {
        let bw = self.mem_bw.get(mem).copied().unwrap_or(1.0);
        ns(bytes as f64 / bw.max(1e-9))
    }

    /// Bandwidth (GB/s) of processor `proc` accessing memory `mem` (0 if it cannot).
    pub fn access_bw(&self, proc: usize, mem: MemId) -> f64 {
        self.access
            .get(proc * self.nmems + mem)
            .map_or(0.0, |a| a.0)
    }

    /// True if processor `proc`'s caches serve re-reads from memory `mem`.
    pub fn access_cached(&self, proc: usize, mem: MemId) -> bool {
        self.access.get(proc * self.nmems + mem).is_none_or(|a| a.2)
    }

    /// Time (ns) of a task body of `flops` operations on processor `proc` that moves
    /// `bytes[i]` bytes to or from memory `mems[i]`:
    /// `launch + max(flops / throughput(flops), sum of bytes / bandwidth)`.
    pub fn body_ns(&self, proc: usize, flops: f64, traffic: &[(MemId, f64)]) -> u64 {
        let Some(p) = self.procs.get(proc) else {
            return 0;
        };
        self.body_ns_with(proc, p.throughput(flops), flops, traffic.iter().copied())
    }

    /// [`SimModel::body_ns`] with the processor's throughput for `flops` given, over an
    /// iterator of (memory, bytes).
    fn body_ns_with(
        &self,
        proc: usize,
        throughput: f64,
        flops: f64,
        traffic: impl Iterator<Item = (MemId, f64)>,
    ) -> u64 {
        let Some(p) = self.procs.get(proc) else {
            return 0;
        };
        let compute = if flops > 0.0 {
            flops / throughput.max(1e-9)
        } else {
            0.0
        };
        let mut memory = 0.0;
        for (mem, bytes) in traffic {
            // A processor without access (which mapping never produces) reads at 1 GB/s.
            let bw = self.access_bw(proc, mem);
            memory += bytes.max(0.0) / if bw > 0.0 { bw } else { 1.0 };
        }
        ns(p.launch_ns + compute.max(memory))
    }

    /// True if the two memories are on different nodes.
    fn remote(&self, a: MemId, b: MemId) -> bool {
        self.mem_node.get(a) != self.mem_node.get(b)
    }
}

/// A copy channel (a FIFO resource).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Chan {
    /// Copies from one memory to another on the same node.
    Pair(MemId, MemId),
    /// Copies leaving a node over the network.
    Net(u32),
    /// Fills of one memory.
    Fill(MemId),
}

/// A resource: busy or idle, with its FIFO of waiting operations and their durations.
#[derive(Default)]
struct Res {
    busy: bool,
    queue: VecDeque<(Ready, u64)>,
}

/// An operation that finishes at its event time.
struct Running {
    op: Ready,
    res: Option<usize>,
    start: u64,
}

/// An event: the operation in slot `slot` of [`State::running`] finishes at `time`; ties go
/// in `seq` (scheduling) order. Small and `Copy`, so the heap moves little.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Event {
    time: u64,
    seq: u64,
    slot: u32,
}

impl PartialOrd for Event {
    fn partial_cmp(&self, o: &Event) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}

impl Ord for Event {
    /// Reversed, so that the max-heap pops the earliest event.
    fn cmp(&self, o: &Event) -> std::cmp::Ordering {
        (o.time, o.seq).cmp(&(self.time, self.seq))
    }
}

struct State {
    now: u64,
    seq: u64,
    events: BinaryHeap<Event>,
    /// The operations of pending events, by slot (`None`: free, listed in `free`).
    running: Vec<Option<Running>>,
    free: Vec<u32>,
    /// Per processor, the last (flops bits, throughput) computed: a launch's tasks repeat it.
    throughput: Vec<Option<(u64, f64)>>,
    res: Vec<Res>,
    chans: BTreeMap<Chan, usize>,
    end: u64,
}

/// The shared simulation: clock, event queue and resources.
pub struct SimCore {
    model: Arc<SimModel>,
    clock: Arc<AtomicU64>,
    state: Mutex<State>,
}

impl SimCore {
    /// A simulation of `machine`, at time 0.
    pub fn new(machine: &MachineDesc) -> Arc<SimCore> {
        let nprocs = machine.procs.len();
        Arc::new(SimCore {
            model: Arc::new(SimModel::new(machine)),
            clock: Arc::new(AtomicU64::new(0)),
            state: Mutex::new(State {
                now: 0,
                seq: 0,
                events: BinaryHeap::new(),
                running: Vec::new(),
                free: Vec::new(),
                throughput: vec![None; nprocs],
                res: (0..nprocs).map(|_| Res::default()).collect(),
                chans: BTreeMap::new(),
                end: 0,
            }),
        })
    }

    /// The cost tables.
    pub fn model(&self) -> &Arc<SimModel> {
        &self.model
    }

    /// The simulated clock (ns) that the profiler reads.
    pub fn clock(&self) -> Arc<AtomicU64> {
        self.clock.clone()
    }

    /// The current simulated time (ns) of the control thread.
    pub fn now(&self) -> u64 {
        self.lock().now
    }

    /// The latest finish time of any operation so far (ns).
    pub fn end(&self) -> u64 {
        self.lock().end
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Which resource runs `work` and for how long.
    fn cost(&self, st: &mut State, work: &Work) -> (Option<usize>, u64) {
        let m = &*self.model;
        match work {
            Work::Task(t) => (Some(t.proc_index), task_ns(m, t, &mut st.throughput)),
            Work::Copy(c) => {
                let dst = c.dst.mem.id;
                let bytes = copy_bytes(c);
                let (chan, dur) = match &c.src {
                    Some(s) => {
                        let src = s.mem.id;
                        let chan = if m.remote(src, dst) {
                            Chan::Net(s.mem.node)
                        } else {
                            Chan::Pair(src, dst)
                        };
                        (chan, m.copy_ns(src, dst, bytes))
                    }
                    None => (Chan::Fill(dst), m.fill_ns(dst, bytes)),
                };
                let next = st.res.len();
                let r = *st.chans.entry(chan).or_insert(next);
                if r == next {
                    st.res.push(Res::default());
                }
                (Some(r), dur)
            }
            Work::Join => (None, 0),
        }
    }

    fn schedule(st: &mut State, op: Ready, res: Option<usize>, dur: u64) {
        let (now, seq) = (st.now, st.seq);
        st.seq += 1;
        let run = Running {
            op,
            res,
            start: now,
        };
        let slot = match st.free.pop() {
            Some(f) => {
                if let Some(x) = st.running.get_mut(f as usize) {
                    *x = Some(run);
                }
                f
            }
            None => {
                st.running.push(Some(run));
                // More than u32::MAX pending operations cannot be represented in memory anyway.
                u32::try_from(st.running.len() - 1).unwrap_or(u32::MAX)
            }
        };
        st.events.push(Event {
            time: now.saturating_add(dur),
            seq,
            slot,
        });
    }

    /// Processes the earliest event: the operation finishes, its resource starts the next
    /// waiting operation, and the scheduler releases its successors. False if none is pending.
    pub fn step(&self) -> bool {
        let (t, run) = {
            let mut st = self.lock();
            let Some(Event { time: t, slot, .. }) = st.events.pop() else {
                return false;
            };
            let Some(run) = st.running.get_mut(slot as usize).and_then(Option::take) else {
                return false;
            };
            st.free.push(slot);
            st.now = st.now.max(t);
            st.end = st.end.max(t);
            self.clock.store(st.now, Ordering::Release);
            if let Some(r) = run.res {
                let next = st.res.get_mut(r).and_then(|x| x.queue.pop_front());
                match next {
                    Some((op, dur)) => Self::schedule(&mut st, op, Some(r), dur),
                    None => {
                        if let Some(x) = st.res.get_mut(r) {
                            x.busy = false;
                        }
                    }
                }
            }
            (t, run)
        };
        let Running { op, start, .. } = run;
        let Ready { id, work, sched } = op;
        finish(work, start, t, &sched.profiler, &self.model);
        sched.complete(id);
        true
    }

    /// Advances the control thread's clock by `ns` (time it spent blocked, e.g. in a
    /// synchronous write-back): events up to then are processed first.
    pub fn advance(&self, ns: u64) {
        if ns == 0 {
            return;
        }
        let target = self.now().saturating_add(ns);
        loop {
            let next = self.lock().events.peek().map(|e| e.time);
            match next {
                Some(t) if t <= target => {
                    self.step();
                }
                _ => break,
            }
        }
        let mut st = self.lock();
        st.now = st.now.max(target);
        self.clock.store(st.now, Ordering::Release);
    }
}

/// Bytes of one copy or fill: points times the field's size.
fn copy_bytes(c: &super::CopyWork) -> u64 {
    let size = c.dst.slot(c.field).map_or(0, |s| s.ty.size()) as u64;
    c.space.volume().saturating_mul(size)
}

/// Bytes of argument `a` over its points and fields.
fn arg_bytes(a: &super::ArgInst) -> f64 {
    let per_point: usize = a
        .fields
        .iter()
        .filter_map(|f| a.field_space.get(*f))
        .map(|f| f.ty.size())
        .sum();
    a.space.volume() as f64 * per_point as f64
}

/// The modelled duration of a point task: its body (the cost model, or the default: each
/// argument's bytes once, twice for read-write and reductions, no flops), reduction-instance
/// initialization, and the folds after it.
fn task_ns(m: &SimModel, t: &super::TaskWork, cache: &mut [Option<(u64, f64)>]) -> u64 {
    let default_cost;
    let cost: &Cost = match &t.cost {
        Some(c) => c,
        None => {
            default_cost = Cost::default();
            &default_cost
        }
    };
    let traffic = t.args.iter().enumerate().map(|(i, a)| {
        let streamed = match cost.streamed.get(i) {
            Some(&s) if !m.access_cached(t.proc_index, a.inst.mem.id) => Some(s),
            _ => None,
        };
        let bytes = streamed
            .or_else(|| cost.bytes.get(i).copied())
            .unwrap_or_else(|| {
                let b = arg_bytes(a);
                match a.privilege {
                    Privilege::ReadWrite | Privilege::Reduce(_) => 2.0 * b,
                    _ => b,
                }
            });
        (a.inst.mem.id, bytes)
    });
    let bits = cost.flops.to_bits();
    let slot = cache.get_mut(t.proc_index);
    let throughput = match slot {
        Some(Some((f, tp))) if *f == bits => *tp,
        _ => {
            let tp = m
                .procs
                .get(t.proc_index)
                .map_or(0.0, |p| p.throughput(cost.flops));
            if let Some(s) = slot {
                *s = Some((bits, tp));
            }
            tp
        }
    };
    let mut total = m.body_ns_with(t.proc_index, throughput, cost.flops, traffic);
    for a in &t.args {
        if let Privilege::Reduce(_) = a.privilege {
            total += m.fill_ns(a.inst.mem.id, arg_bytes(a) as u64);
            for f in &a.folds {
                total += m.copy_ns(a.inst.mem.id, f.target.mem.id, fold_bytes(a, f));
            }
        }
    }
    total
}

fn fold_bytes(a: &super::ArgInst, f: &super::Fold) -> u64 {
    let size = a.field_space.get(f.field).map_or(0, |x| x.ty.size()) as u64;
    f.space.volume().saturating_mul(size)
}

/// Records a finished operation in the profile and resolves its future.
fn finish(work: Work, start: u64, end: u64, profiler: &Profiler, m: &SimModel) {
    match work {
        Work::Task(t) => {
            let mut body_end = end;
            let mut folds = Vec::new();
            for a in t
                .args
                .iter()
                .filter(|a| matches!(a.privilege, Privilege::Reduce(_)))
            {
                for f in &a.folds {
                    let bytes = fold_bytes(a, f);
                    let d = m.copy_ns(a.inst.mem.id, f.target.mem.id, bytes);
                    body_end = body_end.saturating_sub(d);
                    folds.push(super::fold_record(a, f, bytes, &t.name, 0, d));
                }
            }
            profiler.task(TaskRecord {
                name: t.name.clone(),
                point: t.point,
                proc: t.proc,
                start_ns: start,
                end_ns: body_end,
            });
            let mut at = body_end;
            for mut f in folds {
                let d = f.end_ns;
                f.start_ns = at;
                f.end_ns = at + d;
                at += d;
                profiler.copy(f);
            }
            t.promise.set(Ok(Value::None));
        }
        Work::Copy(c) => {
            profiler.copy(CopyRecord {
                kind: c.kind,
                src: c.src.as_ref().map(|s| Arc::from(s.mem.label.as_str())),
                dst: Arc::from(c.dst.mem.label.as_str()),
                node: c.dst.mem.node,
                bytes: copy_bytes(&c),
                region: c.dst.region_name.clone(),
                field: c.field_name.clone(),
                task: c.task.clone(),
                start_ns: start,
                end_ns: end,
            });
        }
        Work::Join => {}
    }
}

/// The executor face of a [`SimCore`].
pub struct SimExecutor {
    core: Arc<SimCore>,
}

impl SimExecutor {
    /// An executor over `core`.
    pub fn new(core: Arc<SimCore>) -> SimExecutor {
        SimExecutor { core }
    }
}

impl Executor for SimExecutor {
    fn name(&self) -> &str {
        "sim"
    }

    fn dispatch(&self, op: Ready) {
        let core = &*self.core;
        let mut st = core.lock();
        let (res, dur) = core.cost(&mut st, &op.work);
        let nres = st.res.len();
        match res.filter(|r| *r < nres) {
            None => SimCore::schedule(&mut st, op, None, dur),
            Some(r) => {
                let idle = st.res.get(r).is_some_and(|x| !x.busy);
                if idle {
                    if let Some(x) = st.res.get_mut(r) {
                        x.busy = true;
                    }
                    SimCore::schedule(&mut st, op, Some(r), dur);
                } else if let Some(x) = st.res.get_mut(r) {
                    x.queue.push_back((op, dur));
                }
            }
        }
    }

    fn drives(&self) -> bool {
        true
    }

    fn step(&self) -> bool {
        self.core.step()
    }

    fn shutdown(&self) {}
}
