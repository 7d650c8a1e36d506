//! Memory accounting: each memory of the machine has a capacity and a count of bytes in use;
//! instances reserve bytes when created and release them when dropped.

use crate::instance::BufferPool;
use crate::machine::{MemDesc, MemId};
use mapper_core::MemKind;
use std::sync::atomic::{AtomicU64, Ordering};

/// One memory's capacity and usage.
#[derive(Debug)]
pub struct Memory {
    /// Index in the machine description.
    pub id: MemId,
    /// Kind.
    pub kind: MemKind,
    /// Node.
    pub node: u32,
    /// Label for messages and profiles (e.g. `FBMEM[0.1]`).
    pub label: String,
    /// Capacity in bytes.
    pub capacity: u64,
    /// True in simulated runs: capacity is accounted exactly but instances get no buffer.
    pub is_virtual: bool,
    /// Index among memories of this kind on the node (the GPU index for FBMEM).
    pub index: u32,
    /// Backed by a real GPU (FBMEM in device memory, ZCMEM in mapped pinned memory); set for
    /// `local` machines with the `cuda` feature and a driver.
    pub real_gpu: bool,
    used: AtomicU64,
    /// Host buffers of dropped instances kept for reuse.
    pub(crate) pool: BufferPool,
}

impl Memory {
    /// The memory described by `d`.
    pub fn new(id: MemId, d: &MemDesc) -> Memory {
        Memory {
            id,
            kind: d.kind,
            node: d.node,
            label: d.label(),
            capacity: d.capacity,
            is_virtual: false,
            index: d.index,
            real_gpu: false,
            used: AtomicU64::new(0),
            pool: BufferPool::default(),
        }
    }

    /// A memory whose instances are accounted but not allocated (simulated runs).
    pub fn new_virtual(id: MemId, d: &MemDesc) -> Memory {
        Memory {
            is_virtual: true,
            ..Memory::new(id, d)
        }
    }

    /// Bytes in use.
    pub fn used(&self) -> u64 {
        self.used.load(Ordering::Acquire)
    }

    /// Bytes free.
    pub fn available(&self) -> u64 {
        self.capacity.saturating_sub(self.used())
    }

    /// Reserves `bytes` if they fit; returns false otherwise.
    pub fn try_reserve(&self, bytes: u64) -> bool {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |u| {
                u.checked_add(bytes).filter(|&n| n <= self.capacity)
            })
            .is_ok()
    }

    /// Releases `bytes` reserved earlier.
    pub fn release(&self, bytes: u64) {
        let _ = self
            .used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |u| {
                Some(u.saturating_sub(bytes))
            });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserve_and_release() {
        let m = Memory::new(
            0,
            &MemDesc {
                kind: MemKind::Fbmem,
                node: 0,
                index: 1,
                capacity: 100,
                bandwidth: 1.0,
            },
        );
        assert!(m.try_reserve(60));
        assert!(!m.try_reserve(41));
        assert_eq!(m.available(), 40);
        m.release(60);
        assert!(m.try_reserve(100));
        assert_eq!(m.label, "FBMEM[0.1]");
    }
}
