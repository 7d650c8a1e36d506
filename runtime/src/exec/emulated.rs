//! Emulated GPUs: each GPU processor is a host thread whose tasks run the task's GPU variant (a
//! host function) against instances in that GPU's own FBMEM buffers, so every copy between
//! memories is a real memcpy between separate allocations and mapping decisions are exercised
//! without a GPU.

use super::cpu::Worker;
use mapper_core::ProcId;

/// Spawns the thread of one emulated GPU.
pub fn spawn_gpu(id: ProcId) -> Worker {
    Worker::spawn(format!("emulated-{id}"))
}
