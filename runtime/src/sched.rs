//! The task graph: operations (tasks, copies, joins) with dependence counts. An operation whose
//! dependences have all completed is handed to the executor; completing it releases its
//! successors. The control thread waits here for progress (backpressure, memory pressure) and
//! for the whole graph to drain.

use crate::analysis::OpId;
use crate::exec::{Executor, Ready, Work};
use crate::profile::Profiler;
use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};

/// End of a successor list.
const NIL: u32 = u32::MAX;

struct Node {
    waiting: usize,
    submitted: bool,
    /// First and last entries of the successor list in [`Graph::edges`] (in the order the
    /// successors were added), or [`NIL`].
    first: u32,
    last: u32,
    work: Option<Work>,
}

/// One entry of a successor list.
#[derive(Clone, Copy)]
struct Edge {
    succ: OpId,
    next: u32,
}

/// The operations not yet completed, indexed densely by id (ids are issued in order and the
/// completed prefix is dropped), with successor lists in one pool of edges.
struct Graph {
    /// Id of `nodes[0]`.
    base: OpId,
    nodes: VecDeque<Option<Node>>,
    /// Nodes present in `nodes`.
    live: usize,
    edges: Vec<Edge>,
    /// Head of the list of free entries of `edges`.
    free: u32,
    next: OpId,
    completed: u64,
    unsubmitted: usize,
    /// Reused buffer for the operations a completion releases.
    ready: Vec<(OpId, Work)>,
    /// Threads waiting on [`Scheduler::progress`] for any completion, and for the graph to
    /// drain: a completion wakes them only if one of them waits for what it brings.
    waiters: usize,
    idle_waiters: usize,
}

impl Graph {
    fn get_mut(&mut self, id: OpId) -> Option<&mut Node> {
        let i = usize::try_from(id.checked_sub(self.base)?).ok()?;
        self.nodes.get_mut(i)?.as_mut()
    }

    fn contains(&self, id: OpId) -> bool {
        id.checked_sub(self.base)
            .and_then(|i| usize::try_from(i).ok())
            .and_then(|i| self.nodes.get(i))
            .is_some_and(Option::is_some)
    }

    fn remove(&mut self, id: OpId) -> Option<Node> {
        let i = usize::try_from(id.checked_sub(self.base)?).ok()?;
        let n = self.nodes.get_mut(i)?.take()?;
        self.live -= 1;
        while let Some(None) = self.nodes.front() {
            self.nodes.pop_front();
            self.base += 1;
        }
        Some(n)
    }

    /// Appends `succ` to the successor list of `id` (if `id` is pending).
    fn add_succ(&mut self, id: OpId, succ: OpId) -> bool {
        let e = match self.free {
            NIL => {
                let Ok(e) = u32::try_from(self.edges.len()) else {
                    return false;
                };
                if e == NIL {
                    return false;
                }
                self.edges.push(Edge { succ, next: NIL });
                e
            }
            f => {
                let Some(slot) = self.edges.get_mut(f as usize) else {
                    return false;
                };
                self.free = slot.next;
                *slot = Edge { succ, next: NIL };
                f
            }
        };
        let Some(node) = self.get_mut(id) else {
            // Give the entry back.
            if let Some(slot) = self.edges.get_mut(e as usize) {
                slot.next = self.free;
            }
            self.free = e;
            return false;
        };
        let last = node.last;
        node.last = e;
        if last == NIL {
            node.first = e;
        } else if let Some(slot) = self.edges.get_mut(last as usize) {
            slot.next = e;
        }
        true
    }
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
                base: 1,
                nodes: VecDeque::new(),
                live: 0,
                edges: Vec::new(),
                free: NIL,
                next: 1,
                completed: 0,
                unsubmitted: 0,
                ready: Vec::new(),
                waiters: 0,
                idle_waiters: 0,
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
        if g.nodes.is_empty() {
            g.base = id;
        }
        g.nodes.push_back(Some(Node {
            waiting: 1,
            submitted: false,
            first: NIL,
            last: NIL,
            work: None,
        }));
        g.live += 1;
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
                if d != id && g.add_succ(d, id) {
                    n += 1;
                }
            }
            g.unsubmitted = g.unsubmitted.saturating_sub(1);
            match g.get_mut(id) {
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
        let wake;
        let mut ready = {
            let mut g = self.lock();
            let g = &mut *g;
            let mut ready = std::mem::take(&mut g.ready);
            if let Some(node) = g.remove(id) {
                g.completed += 1;
                let mut e = node.first;
                while let Some(&Edge { succ, next }) = g.edges.get(e as usize) {
                    let free = g.free;
                    if let Some(slot) = g.edges.get_mut(e as usize) {
                        slot.next = free;
                    }
                    g.free = e;
                    e = next;
                    if let Some(sn) = g.get_mut(succ) {
                        sn.waiting -= 1;
                        if sn.waiting == 0 {
                            if let Some(w) = sn.work.take() {
                                ready.push((succ, w));
                            }
                        }
                    }
                }
            }
            wake = g.waiters > 0 || (g.idle_waiters > 0 && g.live == g.unsubmitted);
            if wake {
                // Count the waiter in now, so that polling workers leave it a core.
                if let Some(e) = self.executor.get() {
                    e.control_waits(false);
                }
            }
            ready
        };
        if wake {
            self.progress.notify_all();
        }
        for (s, w) in ready.drain(..) {
            self.dispatch(s, w);
        }
        if ready.capacity() > 0 {
            let mut g = self.lock();
            if g.ready.capacity() < ready.capacity() {
                g.ready = ready;
            }
        }
    }

    /// True if `id` has completed (or was never issued).
    pub fn is_done(&self, id: OpId) -> bool {
        !self.lock().contains(id)
    }

    /// Operations submitted but not completed.
    pub fn in_flight(&self) -> usize {
        let g = self.lock();
        g.live - g.unsubmitted
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
                    (g.completed, g.live > g.unsubmitted)
                };
                if done > seen || !busy || !e.step() {
                    return done;
                }
            }
        }
        let mut g = self.lock();
        while g.completed <= seen && g.live > g.unsubmitted {
            g = self.wait(g, false);
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
        while g.live > g.unsubmitted {
            g = self.wait(g, true);
        }
    }

    /// Sleeps until a completion (registered as a waiter, so that completions notify).
    fn wait<'a>(&self, mut g: MutexGuard<'a, Graph>, idle: bool) -> MutexGuard<'a, Graph> {
        fn count(g: &mut Graph, idle: bool) -> &mut usize {
            if idle {
                &mut g.idle_waiters
            } else {
                &mut g.waiters
            }
        }
        *count(&mut g, idle) += 1;
        let e = self.executor.get();
        if let Some(e) = e {
            e.control_waits(true);
        }
        let mut g = self.progress.wait(g).unwrap_or_else(|p| p.into_inner());
        if let Some(e) = e {
            e.control_waits(false);
        }
        *count(&mut g, idle) -= 1;
        g
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn successors_run_after_their_dependences_in_order() {
        // Without an executor an operation completes as soon as it is ready.
        let s = Scheduler::new(Arc::new(Profiler::new(false)));
        let a = s.reserve();
        let b = s.reserve();
        let c = s.reserve();
        s.submit(c, Work::Join, &mut vec![a, b]);
        s.submit(b, Work::Join, &mut vec![a]);
        assert!(!s.is_done(a) && !s.is_done(b) && !s.is_done(c));
        assert_eq!(s.in_flight(), 2);
        s.submit(a, Work::Join, &mut vec![]);
        assert!(s.is_done(a) && s.is_done(b) && s.is_done(c));
        assert_eq!((s.completed(), s.in_flight()), (3, 0));
        // Ids keep increasing after the graph drained; unknown ids count as done.
        let d = s.add(Work::Join, &mut vec![a, 999]);
        assert_eq!(d, 4);
        assert!(s.is_done(d) && s.is_done(999));
    }
}
