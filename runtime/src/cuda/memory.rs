//! GPU memories: framebuffer allocations ([`DeviceBuffer`], FBMEM) and mapped pinned host
//! allocations ([`PinnedBuffer`], ZCMEM) whose device pointer kernels dereference directly over
//! the bus; and the copies between them and host memory (host-to-device, device-to-host,
//! device-to-device, peer-to-peer), each queued on a stream and waited for; and the partial
//! copies between an FBMEM instance and its host mirror ([`htod_spans`], [`dtoh_spans`]).

use super::device::{err, gpus, Gpu};
use super::mirror::Span;
use cudarc::driver::{result, sys, CudaStream};
use std::sync::Arc;

/// A framebuffer allocation on one GPU.
pub struct DeviceBuffer {
    /// Device pointer.
    pub ptr: u64,
    /// Size in bytes.
    pub bytes: usize,
    /// The owning GPU.
    pub gpu: Arc<Gpu>,
}

// SAFETY: a device pointer is a plain address; accesses are ordered by the runtime.
unsafe impl Send for DeviceBuffer {}
// SAFETY: as above.
unsafe impl Sync for DeviceBuffer {}

impl DeviceBuffer {
    /// Allocates `bytes` (at least 1) of zeroed framebuffer memory on `gpu`.
    ///
    /// With the device's memory pool (every recent GPU) the allocation, the zeroing and, in
    /// [`Drop`], the free are stream-ordered on the GPU's allocation stream. `cuMemFree` waits
    /// for every kernel running on the device (measured: a free during a 300 ms kernel took
    /// 273 ms, see `examples/cuda_alloc.rs`), which serialized a GPU's neighbours behind its
    /// GEMMs whenever the control or copy thread dropped an instance; `cuMemFreeAsync` returns
    /// at once, and the pool keeps the memory for the next allocation.
    pub fn new(gpu: &Arc<Gpu>, bytes: usize) -> Result<DeviceBuffer, String> {
        gpu.bind()?;
        let bytes1 = bytes.max(1);
        let what = || format!("cuMemAlloc of {bytes} bytes on GPU {}", gpu.ordinal);
        let ptr = match gpu.pool {
            Some(pool) => {
                let s = gpu.alloc_stream.cu_stream();
                let alloc = || {
                    let mut p: sys::CUdeviceptr = 0;
                    // SAFETY: an out pointer, the device's pool and its live allocation stream.
                    let r = unsafe { sys::cuMemAllocFromPoolAsync(&mut p, bytes1, pool.0, s) };
                    (r == sys::CUresult::CUDA_SUCCESS).then_some(p).ok_or(r)
                };
                match alloc() {
                    Ok(p) => p,
                    Err(sys::CUresult::CUDA_ERROR_OUT_OF_MEMORY) => {
                        // Give the memory the pool keeps back to the device and try once more.
                        gpu.alloc_stream
                            .synchronize()
                            .map_err(|e| err("cuStreamSynchronize", e))?;
                        // SAFETY: a live pool; nothing in it is in use after the sync.
                        check("cuMemPoolTrimTo", unsafe {
                            sys::cuMemPoolTrimTo(pool.0, 0)
                        })?;
                        alloc().map_err(|r| err(&what(), r))?
                    }
                    Err(r) => return Err(err(&what(), r)),
                }
            }
            // SAFETY: a plain allocation in the bound context.
            None => unsafe { result::malloc_sync(bytes1) }.map_err(|e| err(&what(), e))?,
        };
        let b = DeviceBuffer {
            ptr,
            bytes,
            gpu: gpu.clone(),
        };
        // Zero it on the allocation stream and wait: `cuMemsetD8` on the legacy stream would
        // return before it finished and is not ordered with the (non-blocking) compute and copy
        // streams, so it could land after later writes to the buffer. The wait also makes a
        // pool allocation usable on the other streams.
        // SAFETY: the range was just allocated.
        unsafe { result::memset_d8_async(ptr, 0, bytes1, gpu.alloc_stream.cu_stream()) }
            .map_err(|e| err("cuMemsetD8Async", e))?;
        gpu.alloc_stream
            .synchronize()
            .map_err(|e| err("cuStreamSynchronize", e))?;
        Ok(b)
    }
}

impl Drop for DeviceBuffer {
    fn drop(&mut self) {
        if self.gpu.bind().is_ok() {
            // SAFETY: allocated in `new` (from the pool on the allocation stream, or by
            // cuMemAlloc); every operation using it finished before its last owner let it go.
            let _ = unsafe {
                match self.gpu.pool {
                    Some(_) => result::free_async(self.ptr, self.gpu.alloc_stream.cu_stream()),
                    None => result::free_sync(self.ptr),
                }
            };
        }
    }
}

/// Mapped, portable pinned host memory: host code reads and writes it through [`Self::host`],
/// kernels on any GPU through [`Self::dev`].
pub struct PinnedBuffer {
    /// Host address.
    pub host: *mut u8,
    /// Device address (equal to the host address under unified addressing).
    pub dev: u64,
    /// Size in bytes.
    pub bytes: usize,
}

// SAFETY: plain memory; accesses are ordered by the runtime.
unsafe impl Send for PinnedBuffer {}
// SAFETY: as above.
unsafe impl Sync for PinnedBuffer {}

impl PinnedBuffer {
    /// Allocates `bytes` (at least 1) of zeroed mapped pinned memory.
    pub fn new(bytes: usize) -> Result<PinnedBuffer, String> {
        let g = gpus()?.first().ok_or("no CUDA device for pinned memory")?;
        g.bind()?;
        let flags = sys::CU_MEMHOSTALLOC_PORTABLE | sys::CU_MEMHOSTALLOC_DEVICEMAP;
        // SAFETY: a plain allocation in the bound context.
        let host = unsafe { result::malloc_host(bytes.max(1), flags) }
            .map_err(|e| err(&format!("cuMemHostAlloc of {bytes} bytes"), e))?
            as *mut u8;
        // SAFETY: `host` points to `bytes` writable bytes.
        unsafe { std::ptr::write_bytes(host, 0, bytes.max(1)) };
        let mut dev: sys::CUdeviceptr = 0;
        // SAFETY: `host` was allocated with DEVICEMAP.
        let r = unsafe { sys::cuMemHostGetDevicePointer_v2(&mut dev, host.cast(), 0) };
        if r != sys::CUresult::CUDA_SUCCESS {
            // SAFETY: allocated above.
            let _ = unsafe { result::free_host(host.cast()) };
            return Err(err("cuMemHostGetDevicePointer", r));
        }
        Ok(PinnedBuffer { host, dev, bytes })
    }

    /// The bytes as a host slice.
    ///
    /// # Safety
    /// No kernel or copy may write the buffer while the slice is alive.
    pub unsafe fn as_slice(&self) -> &[u8] {
        // SAFETY: the allocation holds `bytes` bytes; the caller excludes concurrent writers.
        unsafe { std::slice::from_raw_parts(self.host, self.bytes) }
    }
}

impl Drop for PinnedBuffer {
    fn drop(&mut self) {
        // SAFETY: allocated by cuMemHostAlloc in `new`.
        let _ = unsafe { result::free_host(self.host.cast()) };
    }
}

fn check(what: &str, r: sys::CUresult) -> Result<(), String> {
    if r == sys::CUresult::CUDA_SUCCESS {
        Ok(())
    } else {
        Err(err(what, r))
    }
}

/// Copies `bytes` between any two addresses the driver knows (host, pinned or device, on any
/// GPU under unified addressing) on `gpu`'s copy stream and waits. Device-to-device copies
/// between GPUs go peer to peer when peer access is enabled, else the driver stages them.
///
/// # Safety
/// Both ranges must be valid for `bytes` bytes and not accessed concurrently.
pub unsafe fn copy(gpu: &Gpu, dst: u64, src: u64, bytes: usize) -> Result<(), String> {
    if bytes == 0 {
        return Ok(());
    }
    gpu.bind()?;
    let s = gpu.copy_stream.cu_stream();
    // SAFETY: the caller guarantees both ranges.
    check("cuMemcpyAsync", unsafe {
        sys::cuMemcpyAsync(dst, src, bytes, s)
    })?;
    gpu.copy_stream
        .synchronize()
        .map_err(|e| err("cuStreamSynchronize", e))
}

/// Copies between two GPUs' framebuffers with `cuMemcpyPeerAsync` on the destination's copy
/// stream and waits.
///
/// # Safety
/// Both ranges must be valid for `bytes` bytes and not accessed concurrently.
pub unsafe fn copy_peer(
    dst_gpu: &Gpu,
    dst: u64,
    src_gpu: &Gpu,
    src: u64,
    bytes: usize,
) -> Result<(), String> {
    if bytes == 0 {
        return Ok(());
    }
    dst_gpu.bind()?;
    let s = dst_gpu.copy_stream.cu_stream();
    // SAFETY: the caller guarantees both ranges.
    check("cuMemcpyPeerAsync", unsafe {
        sys::cuMemcpyPeerAsync(
            dst,
            dst_gpu.ctx.cu_ctx(),
            src,
            src_gpu.ctx.cu_ctx(),
            bytes,
            s,
        )
    })?;
    dst_gpu
        .copy_stream
        .synchronize()
        .map_err(|e| err("cuStreamSynchronize", e))
}

/// Host to device: `src` into `dst` on `gpu`.
///
/// # Safety
/// `dst` must be valid for `src.len()` bytes and not accessed concurrently.
pub unsafe fn htod(gpu: &Gpu, dst: u64, src: &[u8]) -> Result<(), String> {
    // SAFETY: forwarded.
    unsafe { copy(gpu, dst, src.as_ptr() as u64, src.len()) }
}

/// Device to host: `src` into `dst` on `gpu`.
///
/// # Safety
/// `src` must be valid for `dst.len()` bytes and not written concurrently.
pub unsafe fn dtoh(gpu: &Gpu, dst: &mut [u8], src: u64) -> Result<(), String> {
    // SAFETY: forwarded.
    unsafe { copy(gpu, dst.as_mut_ptr() as u64, src, dst.len()) }
}

/// Largest pitch `cuMemcpy2D` takes (`CU_DEVICE_ATTRIBUTE_MAX_PITCH` is 2^31 - 1 on every
/// current GPU); spans of a larger pitch are copied block by block.
const MAX_PITCH: usize = i32::MAX as usize;

/// Queues the copy of `spans` (byte offsets relative to both bases) between the host buffer at
/// `host` and device memory at `dev` on `gpu`'s copy stream: a contiguous span is one
/// `cuMemcpyAsync`, a strided one one `cuMemcpy2DAsync`.
///
/// # Safety
/// Both ranges must be valid for every span, and not accessed concurrently by others.
unsafe fn queue_spans(
    gpu: &Gpu,
    dev: u64,
    host: *mut u8,
    spans: &[Span],
    to_device: bool,
) -> Result<(), String> {
    let s = gpu.copy_stream.cu_stream();
    // One block of `len` bytes at byte `at` of both buffers.
    let block = |at: usize, len: usize| {
        let (h, d) = (host as u64 + at as u64, dev + at as u64);
        let (dst, src) = if to_device { (d, h) } else { (h, d) };
        // SAFETY: the caller guarantees both ranges.
        check("cuMemcpyAsync", unsafe {
            sys::cuMemcpyAsync(dst, src, len, s)
        })
    };
    for sp in spans.iter().filter(|sp| sp.bytes() > 0) {
        if sp.count == 1 || sp.pitch == sp.len {
            block(sp.offset, sp.bytes())?;
        } else if sp.pitch <= MAX_PITCH {
            // Every field written out: `CUmemorytype` has no zero variant, so an all-zero
            // struct would be an invalid value.
            let (h, d) = (host.wrapping_add(sp.offset), dev + sp.offset as u64);
            let (host_t, dev_t) = (
                sys::CUmemorytype::CU_MEMORYTYPE_HOST,
                sys::CUmemorytype::CU_MEMORYTYPE_DEVICE,
            );
            let mut c = sys::CUDA_MEMCPY2D {
                srcXInBytes: 0,
                srcY: 0,
                srcMemoryType: if to_device { host_t } else { dev_t },
                srcHost: if to_device {
                    h.cast_const().cast()
                } else {
                    std::ptr::null()
                },
                srcDevice: if to_device { 0 } else { d },
                srcArray: std::ptr::null_mut(),
                srcPitch: 0,
                dstXInBytes: 0,
                dstY: 0,
                dstMemoryType: if to_device { dev_t } else { host_t },
                dstHost: if to_device {
                    std::ptr::null_mut()
                } else {
                    h.cast()
                },
                dstDevice: if to_device { d } else { 0 },
                dstArray: std::ptr::null_mut(),
                dstPitch: 0,
                WidthInBytes: 0,
                Height: 0,
            };
            c.srcPitch = sp.pitch;
            c.dstPitch = sp.pitch;
            c.WidthInBytes = sp.len;
            c.Height = sp.count;
            // SAFETY: the caller guarantees both ranges; `c` describes `sp` in each.
            check("cuMemcpy2DAsync", unsafe { sys::cuMemcpy2DAsync_v2(&c, s) })?;
        } else {
            for at in sp.starts() {
                block(at, sp.len)?;
            }
        }
    }
    Ok(())
}

/// Host to device, only `spans` of a host mirror at `host` into the device buffer at `dev` on
/// `gpu`, after the work queued so far on each stream of `after` (the compute streams of GPU
/// tasks writing other points of the same instance), and waits.
///
/// # Safety
/// Both ranges must be valid for every span, and not accessed concurrently by others.
pub unsafe fn htod_spans(
    gpu: &Gpu,
    dev: u64,
    host: *const u8,
    spans: &[Span],
    after: &[Arc<CudaStream>],
) -> Result<(), String> {
    if spans.iter().all(|s| s.bytes() == 0) {
        return Ok(());
    }
    for s in after {
        gpu.copy_stream
            .join(s)
            .map_err(|e| err("cuStreamWaitEvent", e))?;
    }
    gpu.bind()?;
    // SAFETY: forwarded; the host side is only read.
    unsafe { queue_spans(gpu, dev, host.cast_mut(), spans, true)? };
    gpu.copy_stream
        .synchronize()
        .map_err(|e| err("cuStreamSynchronize", e))
}

/// Device to host, only `spans` of the device buffer at `dev` into a host mirror at `host` on
/// `gpu`, and waits.
///
/// # Safety
/// Both ranges must be valid for every span, and not written concurrently by others.
pub unsafe fn dtoh_spans(gpu: &Gpu, host: *mut u8, dev: u64, spans: &[Span]) -> Result<(), String> {
    if spans.iter().all(|s| s.bytes() == 0) {
        return Ok(());
    }
    gpu.bind()?;
    // SAFETY: forwarded.
    unsafe { queue_spans(gpu, dev, host, spans, false)? };
    gpu.copy_stream
        .synchronize()
        .map_err(|e| err("cuStreamSynchronize", e))
}
