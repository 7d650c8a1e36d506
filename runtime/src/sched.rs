//! The task graph: operations (tasks, copies, joins) with dependence counts. An operation whose
//! dependences have all completed is handed to the executor; completing it releases its
//! successors. The control thread waits here for progress (backpressure, memory pressure) and
//! for the whole graph to drain.

use crate::analysis::OpId;
use crate::exec::{Executor, Ready, Work};
use crate::fasthash::FastMap;
use crate::profile::Profiler;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};

struct Node {
    waiting: usize,
    submitted: bool,
    succs: Vec<OpId>,
    work: Option<Work>,
}

#[derive(Default)]
struct Graph {
    nodes: FastMap<OpId, Node>,
    next: OpId,
    completed: u64,
    unsubmitted: usize,
}

/// The scheduler shared by the control thread and the executor's workers.
pub struct Scheduler {
    graph: Mutex<Graph>,
    progress: Condvar,
    executor: OnceLock<Box<dyn Executor>>,
    /// The profiler every worker records into.
    pub profiler: Arc<Profiler>,
    error: Mutex<Option<String>>,
}

impl Scheduler {
    /// A scheduler with no executor yet (set it with [`Scheduler::set_executor`]).
    pub fn new(profiler: Arc<Profiler>) -> Arc<Scheduler> {
        Arc::new(Scheduler {
            graph: Mutex::new(Graph {
                next: 1,
                ..Graph::default()
            }),
            progress: Condvar::new(),
            executor: OnceLock::new(),
            profiler,
            error: Mutex::new(None),
        })
    }

    /// Installs the executor (once).
    pub fn set_executor(&self, e: Box<dyn Executor>) {
        let _ = self.executor.set(e);
    }

    fn lock(&self) -> MutexGuard<'_, Graph> {
        self.graph.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Reserves an operation id; the operation cannot run before [`Scheduler::submit`].
    pub fn reserve(&self) -> OpId {
        let mut g = self.lock();
        let id = g.next;
        g.next += 1;
        g.unsubmitted += 1;
        g.nodes.insert(
            id,
            Node {
                waiting: 1,
                submitted: false,
                succs: Vec::new(),
                work: None,
            },
        );
        id
    }

    /// Submits reserved operation `id` with its work and dependences.
    pub fn submit(self: &Arc<Self>, id: OpId, work: Work, deps: &mut Vec<OpId>) {
        deps.sort_unstable();
        deps.dedup();
        let ready = {
            let mut g = self.lock();
            let mut n = 0;
            for &d in deps.iter() {
                if d != id {
                    if let Some(node) = g.nodes.get_mut(&d) {
                        node.succs.push(id);
                        n += 1;
                    }
                }
            }
            g.unsubmitted = g.unsubmitted.saturating_sub(1);
            match g.nodes.get_mut(&id) {
                Some(node) if !node.submitted => {
                    node.submitted = true;
                    node.waiting = node.waiting - 1 + n;
                    if node.waiting == 0 {
                        Some(work)
                    } else {
                        node.work = Some(work);
                        None
                    }
                }
                _ => None,
            }
        };
        if let Some(w) = ready {
            self.dispatch(id, w);
        }
    }

    /// Reserves and submits in one step.
    pub fn add(self: &Arc<Self>, work: Work, deps: &mut Vec<OpId>) -> OpId {
        let id = self.reserve();
        self.submit(id, work, deps);
        id
    }

    fn dispatch(self: &Arc<Self>, id: OpId, work: Work) {
        match self.executor.get() {
            Some(e) => e.dispatch(Ready {
                id,
                work,
                sched: self.clone(),
            }),
            None => self.complete(id),
        }
    }

    /// Marks `id` finished and releases its successors.
    pub fn complete(self: &Arc<Self>, id: OpId) {
        let mut ready = Vec::new();
        {
            let mut g = self.lock();
            if let Some(node) = g.nodes.remove(&id) {
                g.completed += 1;
                for s in node.succs {
                    if let Some(sn) = g.nodes.get_mut(&s) {
                        sn.waiting -= 1;
                        if sn.waiting == 0 {
                            if let Some(w) = sn.work.take() {
                                ready.push((s, w));
                            }
                        }
                    }
                }
            }
        }
        self.progress.notify_all();
        for (s, w) in ready {
            self.dispatch(s, w);
        }
    }

    /// True if `id` has completed (or was never issued).
    pub fn is_done(&self, id: OpId) -> bool {
        !self.lock().nodes.contains_key(&id)
    }

    /// Operations submitted but not completed.
    pub fn in_flight(&self) -> usize {
        let g = self.lock();
        g.nodes.len() - g.unsubmitted
    }

    /// Number of operations completed so far.
    pub fn completed(&self) -> u64 {
        self.lock().completed
    }

    /// The executor, when it must be driven by the waiting thread (the simulator).
    fn driven(&self) -> Option<&dyn Executor> {
        self.executor.get().map(|e| &**e).filter(|e| e.drives())
    }

    /// Waits until more than `seen` operations have completed or nothing is in flight; returns
    /// the new completed count.
    pub fn wait_progress(&self, seen: u64) -> u64 {
        if let Some(e) = self.driven() {
            loop {
                let (done, busy) = {
                    let g = self.lock();
                    (g.completed, g.nodes.len() > g.unsubmitted)
                };
                if done > seen || !busy || !e.step() {
                    return done;
                }
            }
        }
        let mut g = self.lock();
        while g.completed <= seen && g.nodes.len() > g.unsubmitted {
            g = self.progress.wait(g).unwrap_or_else(|p| p.into_inner());
        }
        g.completed
    }

    /// Waits until every submitted operation has completed.
    pub fn wait_idle(&self) {
        if let Some(e) = self.driven() {
            while self.in_flight() > 0 && e.step() {}
            return;
        }
        let mut g = self.lock();
        while g.nodes.len() > g.unsubmitted {
            g = self.progress.wait(g).unwrap_or_else(|p| p.into_inner());
        }
    }

    /// Records the first failure of the run.
    pub fn fail(&self, msg: String) {
        if let Ok(mut e) = self.error.lock() {
            if e.is_none() {
                *e = Some(msg);
            }
        }
    }

    /// The first failure, if any.
    pub fn error(&self) -> Option<String> {
        self.error.lock().ok().and_then(|e| e.clone())
    }

    /// Stops the executor's workers (after the graph drained).
    pub fn shutdown(&self) {
        if let Some(e) = self.executor.get() {
            e.shutdown();
        }
    }
}
