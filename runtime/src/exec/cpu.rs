//! The host executor: one worker thread per CPU processor, one per OMP processor (whose tasks
//! may fan out over the node's OMP pool with `TaskCtx::parallel_for`), one copy (DMA) thread
//! per node, and, on emulated machines, one thread per GPU (see [`super::emulated`]). With real
//! GPUs each framebuffer also gets its own copy thread (its GPU's copy engines), so copies into
//! different GPUs run at once instead of queueing behind each other.

use super::{Executor, Ready, Work};
use crate::machine::MachineDesc;
use mapper_core::ProcKind;
use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

/// A FIFO of ready operations served by one thread.
#[derive(Default)]
pub struct Queue {
    items: Mutex<(VecDeque<Ready>, bool)>,
    cv: Condvar,
}

impl Queue {
    /// Appends an operation.
    pub fn push(&self, r: Ready) {
        let mut g = self.items.lock().unwrap_or_else(|p| p.into_inner());
        g.0.push_back(r);
        drop(g);
        self.cv.notify_one();
    }

    /// Stops the thread once the queue is empty.
    pub fn close(&self) {
        let mut g = self.items.lock().unwrap_or_else(|p| p.into_inner());
        g.1 = true;
        drop(g);
        self.cv.notify_all();
    }

    fn pop(&self) -> Option<Ready> {
        let mut g = self.items.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if let Some(r) = g.0.pop_front() {
                return Some(r);
            }
            if g.1 {
                return None;
            }
            g = self.cv.wait(g).unwrap_or_else(|p| p.into_inner());
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
        let queue = Arc::new(Queue::default());
        let q = queue.clone();
        let handle = std::thread::Builder::new()
            .name(name)
            .spawn(move || {
                init();
                while let Some(r) = q.pop() {
                    r.run_here();
                }
            })
            .ok();
        Worker {
            queue,
            handle: Mutex::new(handle),
        }
    }

    fn stop(&self) {
        self.queue.close();
        if let Some(h) = self.handle.lock().ok().and_then(|mut h| h.take()) {
            let _ = h.join();
        }
    }
}

/// Worker threads for every processor of a machine plus copy threads.
pub struct HostExecutor {
    name: String,
    procs: Vec<Worker>,
    /// Copy threads: one per node, then one per real GPU framebuffer.
    dma: Vec<Worker>,
    /// For each memory of the machine, the copy thread serving copies into it.
    dma_of_mem: Vec<usize>,
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
        }
    }
}

impl Executor for HostExecutor {
    fn name(&self) -> &str {
        &self.name
    }

    fn dispatch(&self, op: Ready) {
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

    fn shutdown(&self) {
        for w in self.procs.iter().chain(self.dma.iter()) {
            w.stop();
        }
    }
}
