//! The host executor: one worker thread per CPU processor, one per OMP processor (whose tasks
//! may fan out over the node's OMP pool with `TaskCtx::parallel_for`), one copy (DMA) thread
//! per node, and, on emulated machines, one thread per GPU (see [`super::emulated`]). With real
//! GPUs each framebuffer also gets its own copy thread (its GPU's copy engines), so copies into
//! different GPUs run at once instead of queueing behind each other. Small copies between host
//! memories run on the thread that released them. An idle worker polls its queue for a while
//! before it sleeps, as long as every active thread of the process has a core ([`Activity`]).

use super::{Executor, Ready, Work};
use crate::machine::MachineDesc;
use mapper_core::ProcKind;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long an idle worker keeps polling its queue before it sleeps, unless the environment
/// variable `MAPPER_SPIN_US` sets it (in microseconds; 0 sleeps at once). A task released by
/// another thread then starts within a microsecond instead of a wake-up later: tens of
/// microseconds, and hundreds on virtual machines whose idle cores halt. A wake-up slower than
/// the poll would make the next hand-off wait for a wake-up too, so the poll outlasts it.
const SPIN: Duration = Duration::from_micros(1000);

fn spin() -> Duration {
    static SPIN_US: OnceLock<Duration> = OnceLock::new();
    *SPIN_US.get_or_init(|| {
        std::env::var("MAPPER_SPIN_US")
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .map_or(SPIN, Duration::from_micros)
    })
}

/// The threads of the process that run work or poll for it: executor threads, the threads of
/// OMP pools while they run, and control threads while they do not wait. Idle workers poll
/// only while every active thread has a core; otherwise they sleep at once, leaving the cores
/// to the threads with work.
#[derive(Debug)]
pub struct Activity {
    active: AtomicUsize,
    cores: OnceLock<usize>,
}

static ACTIVITY: Activity = Activity {
    active: AtomicUsize::new(0),
    cores: OnceLock::new(),
};

/// The activity count of this process.
pub fn activity() -> &'static Activity {
    &ACTIVITY
}

impl Activity {
    /// A thread starts running (or polling for) work.
    pub fn enter(&self) {
        self.active.fetch_add(1, Ordering::AcqRel);
    }

    /// A thread stops (it is about to sleep, wait or end).
    pub fn leave(&self) {
        self.active.fetch_sub(1, Ordering::AcqRel);
    }

    /// Counts `n` more threads active until the guard drops.
    pub fn scoped(&'static self, n: usize) -> ActiveGuard {
        self.active.fetch_add(n, Ordering::AcqRel);
        ActiveGuard(n)
    }

    fn spare_core(&self) -> bool {
        let cores = *self
            .cores
            .get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        self.active.load(Ordering::Acquire) <= cores
    }
}

/// Threads counted active for a scope (see [`Activity::scoped`]).
#[derive(Debug)]
pub struct ActiveGuard(usize);

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        ACTIVITY.active.fetch_sub(self.0, Ordering::AcqRel);
    }
}

/// A FIFO of ready operations served by one thread.
pub struct Queue {
    items: Mutex<QueueState>,
    cv: Condvar,
    /// Operations queued (read without the lock by the polling worker).
    len: AtomicUsize,
    /// Set by [`Queue::close`] (read without the lock by the polling worker).
    closing: AtomicBool,
}

#[derive(Default)]
struct QueueState {
    ready: VecDeque<Ready>,
    closed: bool,
    /// The worker is waiting on the condition variable and out of the activity count: a push
    /// counts it back in (so that polling threads yield its core at once) and wakes it.
    sleeping: bool,
}

impl Default for Queue {
    fn default() -> Queue {
        Queue::new()
    }
}

impl Queue {
    /// An empty queue.
    pub fn new() -> Queue {
        Queue {
            items: Mutex::default(),
            cv: Condvar::new(),
            len: AtomicUsize::new(0),
            closing: AtomicBool::new(false),
        }
    }

    fn lock(&self) -> MutexGuard<'_, QueueState> {
        self.items.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Appends an operation.
    pub fn push(&self, r: Ready) {
        let mut g = self.lock();
        g.ready.push_back(r);
        self.len.store(g.ready.len(), Ordering::Release);
        let wake = std::mem::take(&mut g.sleeping);
        if wake {
            ACTIVITY.enter();
        }
        drop(g);
        if wake {
            self.cv.notify_one();
        }
    }

    /// Stops the thread once the queue is empty.
    pub fn close(&self) {
        let mut g = self.lock();
        g.closed = true;
        self.closing.store(true, Ordering::Release);
        drop(g);
        self.cv.notify_all();
    }

    fn pop_locked(&self, g: &mut QueueState) -> Option<Ready> {
        let r = g.ready.pop_front();
        self.len.store(g.ready.len(), Ordering::Release);
        r
    }

    /// The next operation, if one is queued.
    fn try_pop(&self) -> Option<Ready> {
        if self.len.load(Ordering::Acquire) == 0 {
            return None;
        }
        self.pop_locked(&mut self.lock())
    }

    /// Polls for up to [`spin`] while a core is spare; true if an operation came.
    fn poll(&self) -> bool {
        let (start, limit) = (Instant::now(), spin());
        let mut polls = 0u32;
        while self.len.load(Ordering::Acquire) == 0 {
            if self.closing.load(Ordering::Acquire) {
                return false;
            }
            std::hint::spin_loop();
            polls += 1;
            if polls.is_multiple_of(64) && (start.elapsed() > limit || !ACTIVITY.spare_core()) {
                return false;
            }
        }
        true
    }

    /// Serves the queue on the calling thread (counted active) until it is closed: runs each
    /// operation, polls for the next one while a core is spare, and sleeps otherwise.
    fn serve(&self) {
        loop {
            while let Some(r) = self.try_pop() {
                r.run_here();
            }
            if ACTIVITY.spare_core() && self.poll() {
                continue;
            }
            let mut g = self.lock();
            if let Some(r) = self.pop_locked(&mut g) {
                drop(g);
                r.run_here();
                continue;
            }
            if g.closed {
                return;
            }
            ACTIVITY.leave();
            g.sleeping = true;
            while g.sleeping && !g.closed {
                g = self.cv.wait(g).unwrap_or_else(|p| p.into_inner());
            }
            if std::mem::take(&mut g.sleeping) {
                // Closed while asleep: count back in to leave once more on the way out.
                ACTIVITY.enter();
            }
        }
    }
}

/// A worker thread serving one queue.
pub struct Worker {
    /// Its queue.
    pub queue: Arc<Queue>,
    handle: Mutex<Option<JoinHandle<()>>>,
}

impl Worker {
    /// Spawns a worker thread called `name`.
    pub fn spawn(name: String) -> Worker {
        Worker::spawn_with(name, || {})
    }

    /// Spawns a worker thread called `name` that runs `init` first (e.g. binds a GPU).
    pub fn spawn_with(name: String, init: impl FnOnce() + Send + 'static) -> Worker {
        let queue = Arc::new(Queue::new());
        let q = queue.clone();
        ACTIVITY.enter();
        let handle = std::thread::Builder::new()
            .name(name)
            .spawn(move || {
                init();
                q.serve();
                ACTIVITY.leave();
            })
            .ok();
        if handle.is_none() {
            ACTIVITY.leave();
        }
        Worker {
            queue,
            handle: Mutex::new(handle),
        }
    }

    /// Waits for the thread to end (after [`Queue::close`]).
    fn join(&self) {
        if let Some(h) = self.handle.lock().ok().and_then(|mut h| h.take()) {
            let _ = h.join();
        }
    }
}

/// Copies and fills of at most this many bytes between host memories run on the thread that
/// released them: a hand-off to the copy thread costs more than the copy.
const INLINE_COPY_BYTES: u64 = 64 << 10;

/// True if `work` is a small copy or fill that involves no real GPU memory.
fn inline_copy(work: &Work) -> bool {
    let Work::Copy(c) = work else {
        return false;
    };
    let host = |i: &crate::instance::Instance| !i.mem.real_gpu;
    let Ok(slot) = c.dst.slot(c.field) else {
        return false;
    };
    host(&c.dst)
        && c.src.as_deref().is_none_or(host)
        && c.space.volume().saturating_mul(slot.ty.size() as u64) <= INLINE_COPY_BYTES
}

thread_local! {
    /// Inline operations released while this thread runs inline operations (run by the
    /// outermost call, so completions do not recurse).
    static INLINE: RefCell<Option<Vec<Ready>>> = const { RefCell::new(None) };
}

/// Runs `op` on this thread, then any inline operations its completion released.
fn run_inline(op: Ready) {
    let outer = INLINE.with(|q| match q.borrow_mut().as_mut() {
        Some(pending) => {
            pending.push(op);
            None
        }
        None => Some(op),
    });
    let Some(op) = outer else {
        return;
    };
    INLINE.with(|q| *q.borrow_mut() = Some(Vec::new()));
    let mut next = Some(op);
    while let Some(op) = next {
        op.run_here();
        next = INLINE.with(|q| q.borrow_mut().as_mut().and_then(Vec::pop));
    }
    INLINE.with(|q| *q.borrow_mut() = None);
}

/// Worker threads for every processor of a machine plus copy threads.
pub struct HostExecutor {
    name: String,
    procs: Vec<Worker>,
    /// Copy threads: one per node, then one per real GPU framebuffer.
    dma: Vec<Worker>,
    /// For each memory of the machine, the copy thread serving copies into it.
    dma_of_mem: Vec<usize>,
    /// The control thread is counted in [`activity`] (until shutdown).
    control_active: Mutex<bool>,
}

impl HostExecutor {
    /// Spawns the workers of `machine` (GPUs become emulated GPU threads).
    pub fn new(machine: &MachineDesc) -> HostExecutor {
        #[cfg(feature = "cuda")]
        let real = if machine.has_real_gpus() {
            crate::cuda::gpus().unwrap_or(&[])
        } else {
            &[]
        };
        ACTIVITY.enter();
        let procs = machine
            .procs
            .iter()
            .map(|p| match p.id.kind {
                #[cfg(feature = "cuda")]
                ProcKind::Gpu if (p.id.index as usize) < real.len() => {
                    super::cuda::spawn_gpu(p.id, real[p.id.index as usize].clone())
                }
                ProcKind::Gpu => super::emulated::spawn_gpu(p.id),
                _ => Worker::spawn(format!("{}", p.id)),
            })
            .collect();
        let mut dma: Vec<Worker> = (0..machine.nodes)
            .map(|n| Worker::spawn(format!("dma[{n}]")))
            .collect();
        let mut dma_of_mem = Vec::with_capacity(machine.mems.len());
        for m in &machine.mems {
            if machine.has_real_gpus() && m.kind == mapper_core::MemKind::Fbmem {
                dma_of_mem.push(dma.len());
                dma.push(Worker::spawn(format!("dma[{}]", m.label())));
            } else {
                dma_of_mem.push(m.node as usize);
            }
        }
        let name = if machine.has_real_gpus() {
            "cuda"
        } else if machine.procs.iter().any(|p| p.id.kind == ProcKind::Gpu) {
            "emulated"
        } else {
            "cpu"
        };
        HostExecutor {
            name: name.to_string(),
            procs,
            dma,
            dma_of_mem,
            control_active: Mutex::new(true),
        }
    }
}

impl Executor for HostExecutor {
    fn name(&self) -> &str {
        &self.name
    }

    fn dispatch(&self, op: Ready) {
        if inline_copy(&op.work) {
            run_inline(op);
            return;
        }
        let target = match &op.work {
            Work::Task(t) => self.procs.get(t.proc_index),
            Work::Copy(c) => self
                .dma_of_mem
                .get(c.dst.mem.id)
                .and_then(|&w| self.dma.get(w))
                .or(self.dma.first()),
            other => self.dma.get(other.node() as usize).or(self.dma.first()),
        };
        match target {
            Some(w) => w.queue.push(op),
            None => op.run_here(),
        }
    }

    fn control_waits(&self, waiting: bool) {
        let mut active = self
            .control_active
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if *active == waiting {
            *active = !waiting;
            if waiting {
                ACTIVITY.leave();
            } else {
                ACTIVITY.enter();
            }
        }
    }

    fn shutdown(&self) {
        // Close every queue first, so that the threads finish at once, then join them.
        for w in self.procs.iter().chain(self.dma.iter()) {
            w.queue.close();
        }
        for w in self.procs.iter().chain(self.dma.iter()) {
            w.join();
        }
        self.control_waits(true);
    }
}
