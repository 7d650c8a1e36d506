//! Physical instances: a buffer in one memory holding some fields of a rectangle of points with
//! a concrete [`InstLayout`], and the data movement between them (copies that translate between
//! layouts, reduction folds, fills). Concurrent access to one instance is race-free because the
//! dependence analysis orders every pair of operations that touch the same points and fields.

use crate::field::{FieldId, Prim};
use crate::geom::{IndexSpace, Point, Rect};
use crate::layout::{FieldSlot, InstLayout};
use crate::memory::Memory;
use crate::region::RegionId;
use crate::task::ReduceOp;
use std::alloc::{alloc_zeroed, dealloc, Layout as AllocLayout};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// Identity of an instance.
pub type InstId = u64;

/// A zero-initialized, aligned heap allocation written through raw pointers.
struct Buffer {
    ptr: NonNull<u8>,
    layout: AllocLayout,
}

// SAFETY: the buffer is plain bytes; concurrent accesses are ordered by the dependence analysis
// (no two unordered operations touch the same bytes).
unsafe impl Send for Buffer {}
// SAFETY: as above.
unsafe impl Sync for Buffer {}

impl Buffer {
    /// The allocation layout of `len` bytes aligned to `align` (rounded up to a power of two).
    fn layout(len: usize, align: usize) -> Option<AllocLayout> {
        AllocLayout::from_size_align(len.max(1), align.max(1).next_power_of_two()).ok()
    }

    /// A fresh zeroed buffer of `len` bytes aligned to `align`.
    #[cfg(feature = "cuda")]
    fn new(len: usize, align: usize) -> Option<Buffer> {
        Buffer::zeroed(Buffer::layout(len, align)?, None).map(|(b, _)| b)
    }

    /// A zeroed buffer: a recycled one of the same size and alignment (zeroed again) when
    /// `pool` has one, else a fresh allocation; and whether it was recycled (its pages are
    /// mapped, and were just written with zeroes).
    fn zeroed(layout: AllocLayout, pool: Option<&BufferPool>) -> Option<(Buffer, bool)> {
        if let Some(b) = pool.and_then(|p| p.take(layout)) {
            // SAFETY: the buffer holds `layout.size()` bytes that nothing else references.
            unsafe { std::ptr::write_bytes(b.ptr.as_ptr(), 0, layout.size()) };
            return Some((b, true));
        }
        // SAFETY: the layout has non-zero size.
        let ptr = NonNull::new(unsafe { alloc_zeroed(layout) })?;
        Some((Buffer { ptr, layout }, false))
    }
}

/// Recycling of large host buffers, one pool per memory (it lives as long as the runtime's
/// memories). Fresh memory is expensive: every page of a new allocation takes a page fault and
/// is zeroed by the kernel when first touched (on the 2-core dev VM about 0.8 s per GB, ten
/// times a memcpy of the same bytes), while instances are created and collected at every step
/// of an iterative algorithm (reduction instances, collected buffers). Buffers of at least
/// [`BufferPool::MIN_BYTES`] released by dropped instances are kept, up to
/// [`BufferPool::MAX_BYTES`] per memory, and handed to the next instance of the same size and
/// alignment, zeroed again with a memset of already-mapped pages, as a memory manager with
/// preallocated memories (Realm's) reuses its space.
#[derive(Default)]
pub struct BufferPool {
    kept: Mutex<Vec<Buffer>>,
}

impl std::fmt::Debug for BufferPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BufferPool({} bytes kept)", self.kept_bytes())
    }
}

impl BufferPool {
    /// Smallest buffer kept (smaller ones are cheap to get from the allocator).
    pub const MIN_BYTES: usize = 1 << 20;
    /// Most bytes kept in all; the oldest buffers go first.
    pub const MAX_BYTES: usize = 1 << 30;

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Buffer>> {
        self.kept.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A kept buffer with exactly this layout, if any (the most recently released).
    fn take(&self, layout: AllocLayout) -> Option<Buffer> {
        if layout.size() < Self::MIN_BYTES {
            return None;
        }
        let mut p = self.lock();
        let i = p.iter().rposition(|b| b.layout == layout)?;
        Some(p.remove(i))
    }

    /// Keeps `b` for reuse, or frees it when it is too small or too large to keep.
    fn give(&self, b: Buffer) {
        let size = b.layout.size();
        if !(Self::MIN_BYTES..=Self::MAX_BYTES).contains(&size) {
            return;
        }
        let evicted = {
            let mut p = self.lock();
            p.push(b);
            let mut total: usize = p.iter().map(|b| b.layout.size()).sum();
            let mut n = 0;
            while total > Self::MAX_BYTES {
                total -= p.get(n).map_or(0, |b| b.layout.size());
                n += 1;
            }
            p.drain(..n).collect::<Vec<_>>()
        };
        // Freed outside the lock.
        drop(evicted);
    }

    /// Bytes kept for reuse now.
    pub fn kept_bytes(&self) -> usize {
        self.lock().iter().map(|b| b.layout.size()).sum()
    }
}

impl Storage {
    /// Storage for an instance with `layout` in `mem`.
    fn new(mem: &Memory, layout: &InstLayout) -> Option<Storage> {
        let (len, align) = (layout.bytes, layout.align);
        if mem.is_virtual {
            return Some(Storage::Virtual);
        }
        #[cfg(feature = "cuda")]
        if mem.real_gpu {
            use mapper_core::MemKind;
            match mem.kind {
                MemKind::Fbmem => {
                    let gpu = crate::cuda::gpus().ok()?.get(mem.index as usize)?.clone();
                    let dev = crate::cuda::DeviceBuffer::new(&gpu, len).ok()?;
                    return Some(Storage::Device(Box::new(DeviceStorage {
                        dev,
                        mirror: std::sync::OnceLock::new(),
                        align,
                        state: Mutex::new(MirrorState {
                            fresh: crate::cuda::mirror::Fresh::all(
                                layout.slots.iter().map(|s| s.field),
                                layout.rect,
                            ),
                            device_tasks: Vec::new(),
                        }),
                    })));
                }
                MemKind::Zcmem => {
                    return crate::cuda::PinnedBuffer::new(len)
                        .ok()
                        .map(Storage::Pinned);
                }
                _ => {}
            }
        }
        let _ = mem;
        Some(Storage::Host(LazyBuffer {
            cell: OnceLock::new(),
            layout: Buffer::layout(len, align)?,
        }))
    }
}

impl Drop for Buffer {
    fn drop(&mut self) {
        // SAFETY: allocated in `zeroed` with exactly this layout.
        unsafe { dealloc(self.ptr.as_ptr(), self.layout) }
    }
}

/// A host buffer allocated when an operation first touches it (on the thread running that
/// operation), not when the instance is created: the runtime maps a task's instances when the
/// task is launched, possibly long before it runs, and a buffer taken at first use can be one
/// that an operation finished in the meantime gave back to the [`pool`].
struct LazyBuffer {
    /// The buffer, and whether it was recycled from the pool.
    cell: OnceLock<(Buffer, bool)>,
    layout: AllocLayout,
}

impl LazyBuffer {
    /// The buffer (allocated from `pool` if it has one, on first use) and whether it was
    /// recycled, i.e. its zeroes are already written to mapped pages.
    fn get(&self, pool: &BufferPool) -> &(Buffer, bool) {
        self.cell.get_or_init(|| {
            Buffer::zeroed(self.layout, Some(pool))
                .unwrap_or_else(|| std::alloc::handle_alloc_error(self.layout))
        })
    }

    /// The buffer's start, allocating it on first use.
    fn ptr(&self, pool: &BufferPool) -> *mut u8 {
        self.get(pool).0.ptr.as_ptr()
    }
}

/// Where an instance's bytes live: host memory, or (with the `cuda` feature, on a machine with
/// real GPUs) mapped pinned memory (ZCMEM) or framebuffer memory (FBMEM) with a host mirror.
enum Storage {
    /// No bytes: an instance in a virtual (simulated) memory.
    Virtual,
    Host(LazyBuffer),
    #[cfg(feature = "cuda")]
    Pinned(crate::cuda::PinnedBuffer),
    #[cfg(feature = "cuda")]
    Device(Box<DeviceStorage>),
}

/// A framebuffer instance: the device copy is the master; host-side operations (copies that
/// translate layouts, folds, fills, host task bodies) work on the mirror. Each moves only the
/// bytes of the field and points it owns ([`crate::cuda::mirror`]): it downloads the stale
/// part of what it reads ([`Instance::host_acquire`]) and uploads exactly what it wrote
/// ([`Instance::host_release`]), so a GPU kernel writing other points or fields of the same
/// instance at the same time (not ordered by the dependence analysis, since they are disjoint)
/// keeps its results.
#[cfg(feature = "cuda")]
struct DeviceStorage {
    dev: crate::cuda::DeviceBuffer,
    /// The host mirror, allocated on the first host access (most framebuffer instances are
    /// only ever touched by the GPU; an aligned zeroed allocation costs a memset).
    mirror: std::sync::OnceLock<Buffer>,
    /// Alignment of the mirror.
    align: usize,
    state: Mutex<MirrorState>,
}

#[cfg(feature = "cuda")]
struct MirrorState {
    /// The points of each field whose mirror bytes equal the device's.
    fresh: crate::cuda::mirror::Fresh,
    /// GPU tasks that were handed a device pointer to write this instance and may still have
    /// work queued, with their GPU: uploads of host writes are queued after that work.
    device_tasks: Vec<(usize, Arc<crate::cuda::Gpu>)>,
}

/// What host code does with the bytes of one field over some points between
/// [`Instance::host_acquire`] and [`Instance::host_release`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostAccess {
    /// Reads them.
    Read,
    /// Reads and writes them.
    ReadWrite,
    /// Writes every one of them without reading (a fill, the destination of a copy).
    Overwrite,
}

/// How GPU code uses an instance through [`Instance::device_ptr`].
#[cfg(feature = "cuda")]
pub enum DeviceAccess<'a> {
    /// Reads it.
    Read,
    /// Writes `field` at the points of the space; done (waited for) when the caller returns.
    Write(FieldId, &'a IndexSpace),
    /// Writes `field` at the points of the space from GPU task `task` (any id unique among
    /// running tasks) on `gpu`, whose queued work may still run until
    /// [`Instance::device_task_done`].
    TaskWrite(FieldId, &'a IndexSpace, usize, Arc<crate::cuda::Gpu>),
}

/// A physical instance.
pub struct Instance {
    /// Identity.
    pub id: InstId,
    /// The memory holding it.
    pub mem: Arc<Memory>,
    /// The region it was created for.
    pub region: RegionId,
    /// That region's name (for profiles).
    pub region_name: Arc<str>,
    /// Byte layout.
    pub layout: InstLayout,
    /// Serializes reduction folds into this instance.
    pub fold_lock: Mutex<()>,
    buf: Storage,
    /// True while no host pointer to the bytes has been handed out since the (zeroed) host
    /// buffer was made: a zero fill (the identity of a sum reduction) of a recycled buffer then
    /// has nothing to do. (A fresh buffer is still filled: its first touch maps the pages,
    /// which is far cheaper in the fill's memset than inside, say, a GEMM that reads and
    /// writes them.)
    pristine: AtomicBool,
}

impl std::fmt::Debug for Instance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Instance#{}({} in {}, {:?})",
            self.id, self.region_name, self.mem.label, self.layout.rect
        )
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.mem.release(self.layout.bytes as u64);
        if let Storage::Host(b) = std::mem::replace(&mut self.buf, Storage::Virtual) {
            if let Some((b, _)) = b.cell.into_inner() {
                self.mem.pool.give(b);
            }
        }
    }
}

impl Instance {
    /// Creates a zeroed instance, reserving its bytes in `mem`; `None` if it does not fit. In a
    /// virtual memory the bytes are reserved but no buffer is allocated.
    pub fn create(
        id: InstId,
        mem: Arc<Memory>,
        region: RegionId,
        region_name: Arc<str>,
        layout: InstLayout,
    ) -> Option<Instance> {
        if !mem.try_reserve(layout.bytes as u64) {
            return None;
        }
        let Some(buf) = Storage::new(&mem, &layout) else {
            mem.release(layout.bytes as u64);
            return None;
        };
        let pristine = AtomicBool::new(matches!(buf, Storage::Host(_)));
        Some(Instance {
            id,
            mem,
            region,
            region_name,
            layout,
            fold_lock: Mutex::new(()),
            buf,
            pristine,
        })
    }

    /// Size in bytes.
    pub fn bytes(&self) -> usize {
        self.layout.bytes
    }

    /// Base pointer of the host bytes (null for a virtual instance, which nothing dereferences:
    /// simulated runs execute no task bodies), or the mirror of a framebuffer instance: bracket host
    /// accesses with [`Instance::host_acquire`] and [`Instance::host_release`]).
    pub(crate) fn base_ptr(&self) -> *mut u8 {
        if self.pristine.load(Ordering::Relaxed) {
            self.pristine.store(false, Ordering::Relaxed);
        }
        match &self.buf {
            Storage::Virtual => std::ptr::null_mut(),
            Storage::Host(b) => b.ptr(&self.mem.pool),
            #[cfg(feature = "cuda")]
            Storage::Pinned(p) => p.host,
            #[cfg(feature = "cuda")]
            Storage::Device(d) => d
                .mirror
                .get()
                .map_or(std::ptr::null_mut(), |m| m.ptr.as_ptr()),
        }
    }

    /// True if the instance has no buffer (a simulated run).
    pub fn is_virtual(&self) -> bool {
        matches!(self.buf, Storage::Virtual)
    }

    /// True if the bytes live on a real GPU (FBMEM) or in mapped pinned memory (ZCMEM).
    pub fn is_gpu_memory(&self) -> bool {
        !matches!(self.buf, Storage::Host(_) | Storage::Virtual)
    }

    /// Makes the host bytes of `field` at the points of `space` current before host code uses
    /// them as `access` says: downloads the stale part of them into the mirror of a framebuffer
    /// instance (nothing for [`HostAccess::Overwrite`]). A no-op for host memory. Host code
    /// that writes calls [`Instance::host_release`] with the same field and points afterwards.
    pub fn host_acquire(
        &self,
        field: FieldId,
        space: &IndexSpace,
        access: HostAccess,
    ) -> Result<(), String> {
        #[cfg(feature = "cuda")]
        if let Storage::Device(d) = &self.buf {
            let slot = *self.slot(field)?;
            let mut st = d.state.lock().unwrap_or_else(|p| p.into_inner());
            if d.mirror.get().is_none() {
                // The device holds zeroes wherever no device write made the mirror stale: a
                // zeroed mirror matches it there.
                let b = Buffer::new(self.layout.bytes, d.align)
                    .ok_or_else(|| format!("out of host memory for the mirror of {self:?}"))?;
                let _ = d.mirror.set(b);
            }
            if access == HostAccess::Overwrite {
                return Ok(());
            }
            let mptr = d
                .mirror
                .get()
                .map(|m| m.ptr.as_ptr())
                .ok_or_else(|| format!("no host mirror for {self:?}"))?;
            let mut spans = Vec::new();
            for r in space.rects() {
                for m in st.fresh.missing(field, &r.intersect(&self.layout.rect)) {
                    crate::cuda::mirror::field_spans(&self.layout, &slot, &m, &mut spans);
                }
            }
            // SAFETY: the spans lie inside both the mirror and the device buffer (both hold
            // `bytes` bytes); the dependence analysis orders this against device writers of
            // these points, and the lock against other downloads.
            unsafe { crate::cuda::memory::dtoh_spans(&d.dev.gpu, mptr, d.dev.ptr, &spans) }
                .map_err(|e| format!("download of {self:?}: {e}"))?;
            for r in space.rects() {
                st.fresh.add(field, r.intersect(&self.layout.rect));
            }
        }
        let _ = (field, space, access);
        Ok(())
    }

    /// Publishes host writes to `field` at the points of `space` made since
    /// [`Instance::host_acquire`]: uploads exactly those bytes of the mirror of a framebuffer
    /// instance (never other points or fields, which a GPU kernel may be writing), queued after
    /// the work of GPU tasks still writing the instance. A no-op for host memory.
    pub fn host_release(&self, field: FieldId, space: &IndexSpace) -> Result<(), String> {
        #[cfg(feature = "cuda")]
        if let Storage::Device(d) = &self.buf {
            let Some(m) = d.mirror.get() else {
                return Ok(());
            };
            let slot = *self.slot(field)?;
            let mut spans = Vec::new();
            for r in space.rects() {
                crate::cuda::mirror::field_spans(&self.layout, &slot, r, &mut spans);
            }
            let after: Vec<_> = {
                let st = d.state.lock().unwrap_or_else(|p| p.into_inner());
                st.device_tasks
                    .iter()
                    .map(|(_, g)| g.stream.clone())
                    .collect()
            };
            // SAFETY: as in `host_acquire`; only this operation's points are written.
            unsafe {
                crate::cuda::memory::htod_spans(
                    &d.dev.gpu,
                    d.dev.ptr,
                    m.ptr.as_ptr(),
                    &spans,
                    &after,
                )
            }
            .map_err(|e| format!("upload of {self:?}: {e}"))?;
            let mut st = d.state.lock().unwrap_or_else(|p| p.into_inner());
            for r in space.rects() {
                st.fresh.add(field, r.intersect(&self.layout.rect));
            }
        }
        let _ = (field, space);
        Ok(())
    }

    /// The device address of the instance's bytes for GPU code that uses them as `access`
    /// says: framebuffer memory (a write makes those points of the mirror stale), or the
    /// device address of mapped pinned memory. `None` for host memory.
    #[cfg(feature = "cuda")]
    pub fn device_ptr(&self, access: DeviceAccess<'_>) -> Result<Option<u64>, String> {
        match &self.buf {
            Storage::Host(_) | Storage::Virtual => Ok(None),
            Storage::Pinned(p) => Ok(Some(p.dev)),
            Storage::Device(d) => {
                let mut st = d.state.lock().unwrap_or_else(|p| p.into_inner());
                let (field, space) = match &access {
                    DeviceAccess::Read => return Ok(Some(d.dev.ptr)),
                    DeviceAccess::Write(f, s) => (*f, *s),
                    DeviceAccess::TaskWrite(f, s, task, gpu) => {
                        if !st.device_tasks.iter().any(|(t, _)| t == task) {
                            st.device_tasks.push((*task, gpu.clone()));
                        }
                        (*f, *s)
                    }
                };
                for r in space.rects() {
                    st.fresh.remove(field, r);
                }
                Ok(Some(d.dev.ptr))
            }
        }
    }

    /// GPU task `task` (as given to [`DeviceAccess::TaskWrite`]) has finished its device work.
    #[cfg(feature = "cuda")]
    pub fn device_task_done(&self, task: usize) {
        if let Storage::Device(d) = &self.buf {
            let mut st = d.state.lock().unwrap_or_else(|p| p.into_inner());
            st.device_tasks.retain(|(t, _)| *t != task);
        }
    }

    /// The GPU holding a framebuffer instance.
    #[cfg(feature = "cuda")]
    pub fn gpu(&self) -> Option<&std::sync::Arc<crate::cuda::Gpu>> {
        match &self.buf {
            Storage::Device(d) => Some(&d.dev.gpu),
            _ => None,
        }
    }

    /// Device-to-device fast path of [`Instance::copy_from`]: whole SOA field arrays between
    /// GPU-resident instances (FBMEM/ZCMEM, any GPUs, peer to peer) with identical layouts.
    #[cfg(feature = "cuda")]
    fn copy_on_device(
        &self,
        src: &Instance,
        field: FieldId,
        space: &IndexSpace,
    ) -> Result<Option<u64>, String> {
        if !self.is_gpu_memory()
            || !src.is_gpu_memory()
            || !self.layout.layout.soa
            || !src.layout.layout.soa
        {
            return Ok(None);
        }
        if !self.layout.same_bytes(&src.layout) || space.volume() != self.layout.rect.volume() {
            return Ok(None);
        }
        let slot = *self.slot(field)?;
        let (Some(s), Some(d)) = (
            src.device_ptr(DeviceAccess::Read)?,
            self.device_ptr(DeviceAccess::Write(field, space))?,
        ) else {
            return Ok(None);
        };
        let n = slot.ty.size() * self.layout.rect.volume() as usize;
        let (s, d) = (s + slot.base as u64, d + slot.base as u64);
        let gpu = match (self.gpu(), src.gpu()) {
            (Some(g), _) | (None, Some(g)) => g.clone(),
            (None, None) => match crate::cuda::gpus()?.first() {
                Some(g) => g.clone(),
                None => return Ok(None),
            },
        };
        // SAFETY: both field arrays hold `n` bytes; ordered by the dependence analysis.
        match (self.gpu(), src.gpu()) {
            (Some(dg), Some(sg)) if dg.ordinal != sg.ordinal => unsafe {
                crate::cuda::memory::copy_peer(dg, d, sg, s, n)?
            },
            _ => unsafe { crate::cuda::memory::copy(&gpu, d, s, n)? },
        }
        Ok(Some(n as u64))
    }

    /// Device path of copies and folds between GPU-resident instances (FBMEM of one GPU or of
    /// peer-enabled GPUs, ZCMEM) that [`Instance::copy_on_device`] does not cover: any layouts
    /// (C/F order, SOA/AOS) and sub-rectangles, through the strided kernels of
    /// [`crate::cuda::strided`] on the destination's GPU. `op` is `None` for a copy, else the
    /// fold's operator (sums of scalar f32/f64 fields only). `None` when it does not apply.
    #[cfg(feature = "cuda")]
    fn strided_on_device(
        &self,
        src: &Instance,
        field: FieldId,
        space: &IndexSpace,
        op: Option<ReduceOp>,
    ) -> Result<Option<u64>, String> {
        use crate::cuda::strided::{apply, supported, StreamChoice, StridedArray, StridedOp};
        if !self.is_gpu_memory() || !src.is_gpu_memory() {
            return Ok(None);
        }
        let (ds, ss) = (*self.slot(field)?, *src.slot(field)?);
        if ds.ty != ss.ty {
            return Ok(None);
        }
        let sop = match op {
            None => StridedOp::Copy(ds.ty.size()),
            Some(ReduceOp::Sum) if ds.ty.count == 1 && ds.ty.prim == Prim::F64 => StridedOp::SumF64,
            Some(ReduceOp::Sum) if ds.ty.count == 1 && ds.ty.prim == Prim::F32 => StridedOp::SumF32,
            Some(_) => return Ok(None),
        };
        let dim = self.layout.rect.dim();
        if !supported(sop) || dim > 3 || src.layout.rect.dim() != dim {
            return Ok(None);
        }
        if space.rects().iter().any(|r| {
            !(r.is_empty() || self.layout.rect.contains_rect(r) && src.layout.rect.contains_rect(r))
        }) {
            return Ok(None);
        }
        let gpu = match (self.gpu(), src.gpu()) {
            (Some(d), Some(s)) => {
                if d.ordinal != s.ordinal && !crate::cuda::peer_access(d.ordinal, s.ordinal) {
                    return Ok(None);
                }
                d.clone()
            }
            (Some(g), None) | (None, Some(g)) => g.clone(),
            (None, None) => match crate::cuda::gpus()?.first() {
                Some(g) => g.clone(),
                None => return Ok(None),
            },
        };
        let (Some(sp), Some(dp)) = (
            src.device_ptr(DeviceAccess::Read)?,
            self.device_ptr(DeviceAccess::Write(field, space))?,
        ) else {
            return Ok(None);
        };
        let strides = |l: &InstLayout, slot: &FieldSlot| {
            let mut s = [0i64; 3];
            for (d, x) in s.iter_mut().enumerate().take(dim) {
                *x = l.strides[d] * slot.stride as i64;
            }
            s
        };
        let mut bytes = 0u64;
        for r in space.rects() {
            if r.is_empty() {
                continue;
            }
            let e = r.extents();
            let mut ext = [1i64; 3];
            ext[..dim].copy_from_slice(&e[..dim]);
            let d = StridedArray {
                ptr: dp + self.layout.offset(&ds, &r.lo) as u64,
                strides: strides(&self.layout, &ds),
            };
            let s = StridedArray {
                ptr: sp + src.layout.offset(&ss, &r.lo) as u64,
                strides: strides(&src.layout, &ss),
            };
            // SAFETY: both instances hold every point of `r` (checked above) at these byte
            // strides; `gpu` owns the destination (or the source), the other side is its peer's
            // framebuffer or mapped pinned memory; ordered by the dependence analysis.
            unsafe { apply(&gpu, StreamChoice::CopyAndWait, sop, d, s, ext)? };
            bytes += r.volume() * ds.ty.size() as u64;
        }
        Ok(Some(bytes))
    }

    /// Device path of [`Instance::fill`] with zero bytes over a whole SOA framebuffer field
    /// (a sum's reduction instance): `cuMemsetD8` on the GPU's copy stream.
    #[cfg(feature = "cuda")]
    fn zero_on_device(
        &self,
        field: FieldId,
        space: &IndexSpace,
        value: &[u8],
    ) -> Result<Option<u64>, String> {
        let Storage::Device(dev) = &self.buf else {
            return Ok(None);
        };
        if value.iter().any(|&b| b != 0)
            || !self.layout.layout.soa
            || space.volume() != self.layout.rect.volume()
        {
            return Ok(None);
        }
        let slot = *self.slot(field)?;
        let n = slot.ty.size() * self.layout.rect.volume() as usize;
        let Some(base) = self.device_ptr(DeviceAccess::Write(field, space))? else {
            return Ok(None);
        };
        let gpu = &dev.dev.gpu;
        gpu.bind()?;
        // SAFETY: the field array of a whole SOA instance is `n` contiguous bytes from its base.
        unsafe {
            cudarc::driver::result::memset_d8_async(
                base + slot.base as u64,
                0,
                n,
                gpu.copy_stream.cu_stream(),
            )
        }
        .map_err(|e| format!("CUDA: cuMemsetD8Async failed: {e:?}"))?;
        gpu.copy_stream
            .synchronize()
            .map_err(|e| format!("CUDA: cuStreamSynchronize failed: {e:?}"))?;
        Ok(Some(n as u64))
    }

    /// The slot of `field`, or an error naming the instance.
    pub fn slot(&self, field: FieldId) -> Result<&FieldSlot, String> {
        self.layout
            .slot(field)
            .ok_or_else(|| format!("{self:?} does not hold field #{field}"))
    }

    fn check_rect(&self, r: &Rect) -> Result<(), String> {
        if self.layout.rect.contains_rect(r) {
            Ok(())
        } else {
            Err(format!("{r:?} is outside {self:?}"))
        }
    }

    /// Fills `field` at every point of `space` with `value` (one element of the field's size).
    pub fn fill(&self, field: FieldId, space: &IndexSpace, value: &[u8]) -> Result<u64, String> {
        #[cfg(feature = "cuda")]
        if let Some(n) = self.zero_on_device(field, space, value)? {
            return Ok(n);
        }
        let recycled = match &self.buf {
            Storage::Host(b) if self.pristine.load(Ordering::Relaxed) => b.get(&self.mem.pool).1,
            _ => false,
        };
        if recycled && value.iter().all(|&b| b == 0) {
            // The bytes are still the zeroes the recycled buffer was given.
            let slot = *self.slot(field)?;
            if value.len() != slot.ty.size() {
                return Err(format!(
                    "fill value of {} bytes for a field of {} bytes",
                    value.len(),
                    slot.ty.size()
                ));
            }
            let mut n = 0u64;
            for r in space.rects() {
                self.check_rect(r)?;
                n += r.volume() * value.len() as u64;
            }
            return Ok(n);
        }
        self.host_acquire(field, space, HostAccess::Overwrite)?;
        let r = self.fill_host(field, space, value);
        self.host_release(field, space)?;
        r
    }

    fn fill_host(&self, field: FieldId, space: &IndexSpace, value: &[u8]) -> Result<u64, String> {
        let slot = *self.slot(field)?;
        if value.len() != slot.ty.size() {
            return Err(format!(
                "fill value of {} bytes for a field of {} bytes",
                value.len(),
                slot.ty.size()
            ));
        }
        let mut n = 0u64;
        let size = value.len();
        let fd = self.layout.fastest_dim();
        if self.is_virtual() {
            for r in space.rects() {
                self.check_rect(r)?;
                n += r.volume() * value.len() as u64;
            }
            return Ok(n);
        }
        for r in space.rects() {
            self.check_rect(r)?;
            if slot.stride == size && size > 0 {
                // Rows along the fastest dimension are contiguous: fill each as one slice.
                let run = r.extents()[fd] as usize;
                let mut rows = *r;
                rows.hi = set_coord(rows.hi, fd, r.lo.get(fd));
                for p in rows.iter() {
                    let off = self.layout.offset(&slot, &p);
                    // SAFETY: the row of `run` points lies in the instance rectangle.
                    let row = unsafe {
                        std::slice::from_raw_parts_mut(self.base_ptr().add(off), run * size)
                    };
                    for chunk in row.chunks_exact_mut(size) {
                        chunk.copy_from_slice(value);
                    }
                    n += (run * size) as u64;
                }
                continue;
            }
            for p in r.iter() {
                let off = self.layout.offset(&slot, &p);
                // SAFETY: `p` lies in the instance rectangle, so the field bytes are in bounds.
                unsafe {
                    std::ptr::copy_nonoverlapping(
                        value.as_ptr(),
                        self.base_ptr().add(off),
                        value.len(),
                    )
                };
                n += value.len() as u64;
            }
        }
        Ok(n)
    }

    /// Fills `field` over `space` with the identity of `op`.
    pub fn fill_identity(
        &self,
        field: FieldId,
        space: &IndexSpace,
        op: ReduceOp,
    ) -> Result<u64, String> {
        let slot = *self.slot(field)?;
        let elem = identity_bytes(slot.ty.prim, op);
        let value: Vec<u8> = (0..slot.ty.count)
            .flat_map(|_| elem.iter().copied())
            .collect();
        self.fill(field, space, &value)
    }

    /// Copies `field` of `src` into `field` of `self` at the points of `space`, translating
    /// between layouts. Returns the bytes copied.
    pub fn copy_from(
        &self,
        src: &Instance,
        field: FieldId,
        space: &IndexSpace,
    ) -> Result<u64, String> {
        #[cfg(feature = "cuda")]
        if let Some(n) = self.copy_on_device(src, field, space)? {
            return Ok(n);
        }
        #[cfg(feature = "cuda")]
        if let Some(n) = self.strided_on_device(src, field, space, None)? {
            return Ok(n);
        }
        src.host_acquire(field, space, HostAccess::Read)?;
        self.host_acquire(field, space, HostAccess::Overwrite)?;
        let r = self.copy_from_host(src, field, space);
        self.host_release(field, space)?;
        r
    }

    fn copy_from_host(
        &self,
        src: &Instance,
        field: FieldId,
        space: &IndexSpace,
    ) -> Result<u64, String> {
        let ds = *self.slot(field)?;
        let ss = *src.slot(field)?;
        let size = ds.ty.size();
        let fd = self.layout.fastest_dim();
        let contiguous = fd == src.layout.fastest_dim() && ds.stride == size && ss.stride == size;
        let mut bytes = 0u64;
        if self.is_virtual() || src.is_virtual() {
            for r in space.rects() {
                self.check_rect(r)?;
                src.check_rect(r)?;
                bytes += r.volume() * size as u64;
            }
            return Ok(bytes);
        }
        for r in space.rects() {
            self.check_rect(r)?;
            src.check_rect(r)?;
            if contiguous {
                let run = r.extents()[fd] as usize;
                let mut rows = *r;
                rows.hi = set_coord(rows.hi, fd, r.lo.get(fd));
                for p in rows.iter() {
                    let so = src.layout.offset(&ss, &p);
                    let d = self.layout.offset(&ds, &p);
                    // SAFETY: the row of `run` points lies in both instance rectangles, and the
                    // two buffers are distinct allocations (or the same bytes, when equal).
                    unsafe {
                        std::ptr::copy(src.base_ptr().add(so), self.base_ptr().add(d), run * size)
                    };
                    bytes += (run * size) as u64;
                }
            } else {
                for p in r.iter() {
                    let so = src.layout.offset(&ss, &p);
                    let d = self.layout.offset(&ds, &p);
                    // SAFETY: `p` lies in both instance rectangles.
                    unsafe { std::ptr::copy(src.base_ptr().add(so), self.base_ptr().add(d), size) };
                    bytes += size as u64;
                }
            }
        }
        Ok(bytes)
    }

    /// Folds `field` of `src` into `field` of `self` with `op` at the points of `space`.
    /// Callers serialize folds into one instance with [`Instance::fold_lock`].
    pub fn fold_from(
        &self,
        src: &Instance,
        field: FieldId,
        space: &IndexSpace,
        op: ReduceOp,
    ) -> Result<u64, String> {
        #[cfg(feature = "cuda")]
        if let Some(n) = self.strided_on_device(src, field, space, Some(op))? {
            return Ok(n);
        }
        src.host_acquire(field, space, HostAccess::Read)?;
        self.host_acquire(field, space, HostAccess::ReadWrite)?;
        let r = self.fold_from_host(src, field, space, op);
        self.host_release(field, space)?;
        r
    }

    fn fold_from_host(
        &self,
        src: &Instance,
        field: FieldId,
        space: &IndexSpace,
        op: ReduceOp,
    ) -> Result<u64, String> {
        let ds = *self.slot(field)?;
        let ss = *src.slot(field)?;
        let prim = ds.ty.prim;
        let esz = prim.size();
        let size = ds.ty.size();
        let fd = self.layout.fastest_dim();
        let contiguous = fd == src.layout.fastest_dim() && ds.stride == size && ss.stride == size;
        let mut bytes = 0u64;
        if self.is_virtual() || src.is_virtual() {
            for r in space.rects() {
                self.check_rect(r)?;
                src.check_rect(r)?;
                bytes += r.volume() * ds.ty.size() as u64;
            }
            return Ok(bytes);
        }
        for r in space.rects() {
            self.check_rect(r)?;
            src.check_rect(r)?;
            if contiguous {
                // Rows along the fastest dimension are contiguous in both instances.
                let run = r.extents()[fd] as usize;
                let mut rows = *r;
                rows.hi = set_coord(rows.hi, fd, r.lo.get(fd));
                for p in rows.iter() {
                    let so = src.layout.offset(&ss, &p);
                    let d = self.layout.offset(&ds, &p);
                    // SAFETY: the row of `run` points lies in both instance rectangles.
                    unsafe {
                        fold_run(
                            prim,
                            op,
                            self.base_ptr().add(d),
                            src.base_ptr().add(so),
                            run * ds.ty.count as usize,
                        )
                    };
                    bytes += (run * size) as u64;
                }
                continue;
            }
            for p in r.iter() {
                let so = src.layout.offset(&ss, &p);
                let d = self.layout.offset(&ds, &p);
                for e in 0..ds.ty.count as usize {
                    // SAFETY: `p` lies in both instance rectangles; element `e` is inside the field.
                    unsafe {
                        fold_elem(
                            prim,
                            op,
                            self.base_ptr().add(d + e * esz),
                            src.base_ptr().add(so + e * esz),
                        )
                    };
                }
                bytes += ds.ty.size() as u64;
            }
        }
        Ok(bytes)
    }
}

fn set_coord(p: Point, d: usize, v: i64) -> Point {
    let mut c = [0i64; 3];
    for (i, x) in c.iter_mut().enumerate().take(p.dim()) {
        *x = if i == d { v } else { p.get(i) };
    }
    Point::new(&c[..p.dim()]).unwrap_or(p)
}

/// The identity element of `op` for `prim`, as bytes.
pub fn identity_bytes(prim: Prim, op: ReduceOp) -> Vec<u8> {
    use ReduceOp::*;
    match prim {
        Prim::F32 => match op {
            Sum => 0f32,
            Prod => 1.0,
            Min => f32::INFINITY,
            Max => f32::NEG_INFINITY,
        }
        .to_ne_bytes()
        .to_vec(),
        Prim::F64 => match op {
            Sum => 0f64,
            Prod => 1.0,
            Min => f64::INFINITY,
            Max => f64::NEG_INFINITY,
        }
        .to_ne_bytes()
        .to_vec(),
        Prim::I32 => match op {
            Sum => 0i32,
            Prod => 1,
            Min => i32::MAX,
            Max => i32::MIN,
        }
        .to_ne_bytes()
        .to_vec(),
        Prim::I64 => match op {
            Sum => 0i64,
            Prod => 1,
            Min => i64::MAX,
            Max => i64::MIN,
        }
        .to_ne_bytes()
        .to_vec(),
        Prim::U32 => match op {
            Sum => 0u32,
            Prod => 1,
            Min => u32::MAX,
            Max => u32::MIN,
        }
        .to_ne_bytes()
        .to_vec(),
        Prim::U64 => match op {
            Sum => 0u64,
            Prod => 1,
            Min => u64::MAX,
            Max => u64::MIN,
        }
        .to_ne_bytes()
        .to_vec(),
    }
}

/// A primitive type that reductions combine.
pub trait Reducible: Copy {
    /// `a op b`.
    fn combine(op: ReduceOp, a: Self, b: Self) -> Self;
}

macro_rules! reducible_int {
    ($($t:ty),*) => {$(
        impl Reducible for $t {
            fn combine(op: ReduceOp, a: Self, b: Self) -> Self {
                match op {
                    ReduceOp::Sum => a.wrapping_add(b),
                    ReduceOp::Prod => a.wrapping_mul(b),
                    ReduceOp::Min => a.min(b),
                    ReduceOp::Max => a.max(b),
                }
            }
        }
    )*};
}
reducible_int!(i32, i64, u32, u64);

macro_rules! reducible_float {
    ($($t:ty),*) => {$(
        impl Reducible for $t {
            fn combine(op: ReduceOp, a: Self, b: Self) -> Self {
                match op {
                    ReduceOp::Sum => a + b,
                    ReduceOp::Prod => a * b,
                    ReduceOp::Min => a.min(b),
                    ReduceOp::Max => a.max(b),
                }
            }
        }
    )*};
}
reducible_float!(f32, f64);

/// # Safety
/// `dst` and `src` must point to valid (possibly unaligned) elements of `T`.
unsafe fn fold_t<T: Reducible>(op: ReduceOp, dst: *mut u8, src: *const u8) {
    // SAFETY: guaranteed by the caller.
    unsafe {
        let a = std::ptr::read_unaligned(dst as *const T);
        let b = std::ptr::read_unaligned(src as *const T);
        std::ptr::write_unaligned(dst as *mut T, T::combine(op, a, b));
    }
}

/// # Safety
/// `dst` and `src` must point to valid elements of type `prim`.
unsafe fn fold_elem(prim: Prim, op: ReduceOp, dst: *mut u8, src: *const u8) {
    // SAFETY: guaranteed by the caller.
    unsafe {
        match prim {
            Prim::F32 => fold_t::<f32>(op, dst, src),
            Prim::F64 => fold_t::<f64>(op, dst, src),
            Prim::I32 => fold_t::<i32>(op, dst, src),
            Prim::I64 => fold_t::<i64>(op, dst, src),
            Prim::U32 => fold_t::<u32>(op, dst, src),
            Prim::U64 => fold_t::<u64>(op, dst, src),
        }
    }
}

/// Folds `n` consecutive elements of `src` into `dst`, with the operator's dispatch hoisted out
/// of the loop.
///
/// # Safety
/// `dst` and `src` must point to `n` valid (possibly unaligned) consecutive elements of `T`.
unsafe fn fold_run_t<T: Reducible>(op: ReduceOp, dst: *mut u8, src: *const u8, n: usize) {
    let (d, s) = (dst as *mut T, src as *const T);
    macro_rules! go {
        ($op:expr) => {
            for i in 0..n {
                // SAFETY: guaranteed by the caller.
                unsafe {
                    let a = std::ptr::read_unaligned(d.add(i));
                    let b = std::ptr::read_unaligned(s.add(i));
                    std::ptr::write_unaligned(d.add(i), T::combine($op, a, b));
                }
            }
        };
    }
    match op {
        ReduceOp::Sum => go!(ReduceOp::Sum),
        ReduceOp::Min => go!(ReduceOp::Min),
        ReduceOp::Max => go!(ReduceOp::Max),
        ReduceOp::Prod => go!(ReduceOp::Prod),
    }
}

/// # Safety
/// `dst` and `src` must point to `n` valid consecutive elements of type `prim`.
unsafe fn fold_run(prim: Prim, op: ReduceOp, dst: *mut u8, src: *const u8, n: usize) {
    // SAFETY: guaranteed by the caller.
    unsafe {
        match prim {
            Prim::F32 => fold_run_t::<f32>(op, dst, src, n),
            Prim::F64 => fold_run_t::<f64>(op, dst, src, n),
            Prim::I32 => fold_run_t::<i32>(op, dst, src, n),
            Prim::I64 => fold_run_t::<i64>(op, dst, src, n),
            Prim::U32 => fold_run_t::<u32>(op, dst, src, n),
            Prim::U64 => fold_run_t::<u64>(op, dst, src, n),
        }
    }
}

/// Packing for transfers between processes ([`crate::dist`]): the values of one field at some
/// points as bytes in a layout-independent order (the rectangles of the space in turn, each in
/// C order), staged through host memory (a framebuffer instance's host mirror).
impl Instance {
    /// Calls `f(offset, points)` for the runs of points of `r`, in C order, that are contiguous
    /// in this instance (rows along the last dimension when it is the fastest and the field is
    /// packed, else single points).
    fn c_runs(&self, slot: &FieldSlot, r: &Rect, mut f: impl FnMut(usize, usize)) {
        let d = r.dim();
        if d == 0 || r.is_empty() {
            return;
        }
        let last = d - 1;
        let size = slot.ty.size();
        let step = self.layout.strides[last] as usize * slot.stride;
        let run = r.extents()[last] as usize;
        let mut lead = *r;
        lead.hi = set_coord(r.hi, last, r.lo.get(last));
        for p in lead.iter() {
            let off = self.layout.offset(slot, &p);
            if step == size {
                f(off, run);
            } else {
                for j in 0..run {
                    f(off + j * step, 1);
                }
            }
        }
    }

    /// The bytes of `field` at the points of `space` (see the block comment above for the
    /// order); empty for a virtual instance.
    pub fn pack(&self, field: FieldId, space: &IndexSpace) -> Result<Vec<u8>, String> {
        let slot = *self.slot(field)?;
        let size = slot.ty.size();
        for r in space.rects() {
            self.check_rect(r)?;
        }
        if self.is_virtual() {
            return Ok(Vec::new());
        }
        self.host_acquire(field, space, HostAccess::Read)?;
        let mut out = Vec::with_capacity(space.volume() as usize * size);
        let base = self.base_ptr();
        for r in space.rects() {
            self.c_runs(&slot, r, |off, n| {
                // SAFETY: the run lies inside the instance rectangle (checked above).
                let s = unsafe { std::slice::from_raw_parts(base.add(off), n * size) };
                out.extend_from_slice(s);
            });
        }
        Ok(out)
    }

    /// Checks that `bytes` (made by [`Instance::pack`]) hold exactly the points of `space` for
    /// `field`, all inside this instance; returns the field's slot and the byte count.
    fn check_packed(
        &self,
        field: FieldId,
        space: &IndexSpace,
        bytes: &[u8],
        what: &str,
    ) -> Result<(FieldSlot, usize), String> {
        let slot = *self.slot(field)?;
        let want = space.volume() as usize * slot.ty.size();
        if bytes.len() != want {
            return Err(format!(
                "{self:?}: received {} bytes{what} for {} points of field #{field} ({want} expected)",
                bytes.len(),
                space.volume()
            ));
        }
        for r in space.rects() {
            self.check_rect(r)?;
        }
        Ok((slot, want))
    }

    /// Stores bytes made by [`Instance::pack`] (of another instance of the same field) at the
    /// points of `space`; returns the bytes stored.
    pub fn unpack(&self, field: FieldId, space: &IndexSpace, bytes: &[u8]) -> Result<u64, String> {
        let (slot, want) = self.check_packed(field, space, bytes, "")?;
        let size = slot.ty.size();
        if self.is_virtual() {
            return Ok(want as u64);
        }
        self.host_acquire(field, space, HostAccess::Overwrite)?;
        let base = self.base_ptr();
        let mut at = 0usize;
        for r in space.rects() {
            self.c_runs(&slot, r, |off, n| {
                let len = n * size;
                if let Some(src) = bytes.get(at..at + len) {
                    // SAFETY: the run lies inside the instance rectangle (checked above).
                    unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), base.add(off), len) };
                }
                at += len;
            });
        }
        self.host_release(field, space)?;
        Ok(want as u64)
    }

    /// Folds bytes made by [`Instance::pack`] (of a reduction instance) into `field` at the
    /// points of `space` with `op`; returns the bytes folded.
    pub fn fold_packed(
        &self,
        field: FieldId,
        space: &IndexSpace,
        op: ReduceOp,
        bytes: &[u8],
    ) -> Result<u64, String> {
        let (slot, want) = self.check_packed(field, space, bytes, " of reductions")?;
        let size = slot.ty.size();
        if self.is_virtual() {
            return Ok(want as u64);
        }
        self.host_acquire(field, space, HostAccess::ReadWrite)?;
        let base = self.base_ptr();
        let prim = slot.ty.prim;
        let per = slot.ty.count as usize;
        let mut at = 0usize;
        for r in space.rects() {
            self.c_runs(&slot, r, |off, n| {
                let len = n * size;
                if let Some(src) = bytes.get(at..at + len) {
                    // SAFETY: the run of `n` values lies inside the instance rectangle and
                    // `src` holds as many values of the same type.
                    unsafe { fold_run(prim, op, base.add(off), src.as_ptr(), n * per) };
                }
                at += len;
            });
        }
        self.host_release(field, space)?;
        Ok(want as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field::FieldType;
    use crate::machine::MemDesc;
    use mapper_core::{Layout, MemKind};

    fn mem(cap: u64) -> Arc<Memory> {
        Arc::new(Memory::new(
            0,
            &MemDesc {
                kind: MemKind::Sysmem,
                node: 0,
                index: 0,
                capacity: cap,
                bandwidth: 1.0,
            },
        ))
    }

    fn inst(id: InstId, m: &Arc<Memory>, rect: Rect, layout: Layout) -> Instance {
        let fields = [
            (0, FieldType::scalar(Prim::F64)),
            (1, FieldType::scalar(Prim::I32)),
        ];
        let l = InstLayout::new(rect, &fields, layout).unwrap();
        Instance::create(id, m.clone(), RegionId(0), "r".into(), l).unwrap()
    }

    fn get_f64(i: &Instance, p: Point) -> f64 {
        let s = *i.slot(0).unwrap();
        let off = i.layout.offset(&s, &p);
        // SAFETY: test points lie inside the instance.
        unsafe { std::ptr::read_unaligned(i.base_ptr().add(off) as *const f64) }
    }

    #[test]
    fn copy_between_layouts_and_fold() {
        let m = mem(1 << 20);
        let rect = Rect::r2((0, 0), (3, 4));
        let a = inst(1, &m, rect, Layout::default());
        let b = inst(
            2,
            &m,
            rect,
            Layout {
                soa: false,
                c_order: false,
                ..Layout::default()
            },
        );
        for p in rect.iter() {
            let v = (p.get(0) * 10 + p.get(1)) as f64;
            a.fill(
                0,
                &IndexSpace::from_rect(Rect { lo: p, hi: p }),
                &v.to_ne_bytes(),
            )
            .unwrap();
        }
        let part = IndexSpace::from_rect(Rect::r2((1, 1), (2, 3)));
        assert_eq!(b.copy_from(&a, 0, &part).unwrap(), 6 * 8);
        assert_eq!(get_f64(&b, Point::p2(2, 3)), 23.0);
        assert_eq!(get_f64(&b, Point::p2(0, 0)), 0.0);
        let c = inst(3, &m, rect, Layout::default());
        c.copy_from(&b, 0, &part).unwrap();
        assert_eq!(get_f64(&c, Point::p2(1, 2)), 12.0);
        c.fill_identity(0, &part, ReduceOp::Max).unwrap();
        assert_eq!(get_f64(&c, Point::p2(1, 2)), f64::NEG_INFINITY);
        a.fold_from(&b, 0, &part, ReduceOp::Sum).unwrap();
        assert_eq!(get_f64(&a, Point::p2(1, 2)), 24.0);
        assert_eq!(get_f64(&a, Point::p2(0, 2)), 2.0);
        assert!(a
            .copy_from(&b, 0, &IndexSpace::from_rect(Rect::r2((0, 0), (9, 9))))
            .is_err());
        // Contiguous rows (SOA, same order): the run-wise fold and fill.
        let d = inst(4, &m, rect, Layout::default());
        d.copy_from(&a, 0, &IndexSpace::from_rect(rect)).unwrap();
        assert_eq!(d.fold_from(&a, 0, &part, ReduceOp::Sum).unwrap(), 6 * 8);
        assert_eq!(get_f64(&d, Point::p2(1, 2)), 48.0);
        assert_eq!(get_f64(&d, Point::p2(2, 3)), 92.0);
        assert_eq!(get_f64(&d, Point::p2(0, 2)), 2.0);
        assert_eq!(get_f64(&d, Point::p2(3, 3)), 33.0);
        let f = Layout {
            c_order: false,
            ..Layout::default()
        };
        let e = inst(5, &m, rect, f);
        e.fill(0, &part, &7.5f64.to_ne_bytes()).unwrap();
        assert_eq!(get_f64(&e, Point::p2(2, 1)), 7.5);
        assert_eq!(get_f64(&e, Point::p2(3, 1)), 0.0);
        assert_eq!(get_f64(&e, Point::p2(1, 0)), 0.0);
    }

    #[test]
    fn memory_accounting_follows_instances() {
        let m = mem(1000);
        let rect = Rect::r1(0, 9);
        let fields = [(0, FieldType::scalar(Prim::F64))];
        let l = InstLayout::new(rect, &fields, Layout::default()).unwrap();
        let a = Instance::create(1, m.clone(), RegionId(0), "r".into(), l.clone()).unwrap();
        assert_eq!(m.used(), 80);
        drop(a);
        assert_eq!(m.used(), 0);
        let big = InstLayout::new(Rect::r1(0, 199), &fields, Layout::default()).unwrap();
        assert!(Instance::create(2, m.clone(), RegionId(0), "r".into(), big).is_none());
        assert_eq!(m.used(), 0);
    }

    #[test]
    fn buffers_are_recycled_zeroed_and_zero_fills_of_untouched_instances_are_skipped() {
        let m = mem(1 << 30);
        // 512 x 512 f64 = 2 MiB: kept by the pool when dropped.
        let rect = Rect::r2((0, 0), (511, 511));
        let fields = [(0, FieldType::scalar(Prim::F64))];
        let l = InstLayout::new(rect, &fields, Layout::default()).unwrap();
        let all = IndexSpace::from_rect(rect);
        let a = Instance::create(1, m.clone(), RegionId(0), "r".into(), l.clone()).unwrap();
        // A fresh buffer is filled (the fill maps its pages).
        assert!(a.pristine.load(Ordering::Relaxed));
        assert_eq!(a.fill(0, &all, &0f64.to_ne_bytes()).unwrap(), 512 * 512 * 8);
        assert!(!a.pristine.load(Ordering::Relaxed));
        assert_eq!(get_f64(&a, Point::p2(5, 7)), 0.0);
        a.fill(0, &all, &3.0f64.to_ne_bytes()).unwrap();
        a.fill(
            0,
            &IndexSpace::from_rect(Rect::r2((0, 0), (0, 511))),
            &0f64.to_ne_bytes(),
        )
        .unwrap();
        assert_eq!(get_f64(&a, Point::p2(0, 9)), 0.0);
        assert_eq!(get_f64(&a, Point::p2(1, 9)), 3.0);
        let ptr = a.base_ptr();
        assert_eq!(m.pool.kept_bytes(), 0);
        drop(a);
        assert_eq!(m.pool.kept_bytes(), 512 * 512 * 8);
        // The next instance of that size gets the same buffer, zeroed, once it is touched; a
        // zero fill of it has nothing to do but reports the bytes it covers.
        let b = Instance::create(2, m.clone(), RegionId(0), "r".into(), l).unwrap();
        assert_eq!(m.pool.kept_bytes(), 512 * 512 * 8);
        assert_eq!(b.fill(0, &all, &0f64.to_ne_bytes()).unwrap(), 512 * 512 * 8);
        assert!(b.pristine.load(Ordering::Relaxed));
        assert_eq!(b.base_ptr(), ptr);
        assert_eq!(m.pool.kept_bytes(), 0);
        assert!(rect.iter().all(|p| get_f64(&b, p) == 0.0));
        // Small buffers are not kept.
        let small = InstLayout::new(Rect::r1(0, 9), &fields, Layout::default()).unwrap();
        let c = Instance::create(3, m.clone(), RegionId(0), "r".into(), small).unwrap();
        c.fill(
            0,
            &IndexSpace::from_rect(Rect::r1(0, 9)),
            &1f64.to_ne_bytes(),
        )
        .unwrap();
        drop(c);
        assert_eq!(m.pool.kept_bytes(), 0);
    }
}
