//! Device discovery (once per process), one [`Gpu`] per device with its primary context and
//! compute/copy streams, peer access between every pair that supports it, and event timers.

use cudarc::driver::{result, sys, CudaContext, CudaEvent, CudaStream};
use std::sync::{Arc, OnceLock};

/// One CUDA device.
pub struct Gpu {
    /// Device ordinal.
    pub ordinal: usize,
    /// Device name (e.g. `NVIDIA H100 80GB HBM3`).
    pub name: String,
    /// Compute capability (major, minor).
    pub cc: (i32, i32),
    /// Framebuffer bytes.
    pub total_mem: u64,
    /// Multiprocessors.
    pub sms: u32,
    /// The primary context.
    pub ctx: Arc<CudaContext>,
    /// Stream for kernels and GEMMs.
    pub stream: Arc<CudaStream>,
    /// Stream for copies.
    pub copy_stream: Arc<CudaStream>,
    /// Stream for allocating, zeroing and freeing framebuffer memory (so that the control
    /// thread, which creates instances, never waits behind a copy).
    pub alloc_stream: Arc<CudaStream>,
    /// The device's stream-ordered memory pool (framebuffer allocations), if it has one.
    pub pool: Option<MemPool>,
}

/// A CUDA memory pool handle (the device's default pool, which lives as long as the process).
#[derive(Clone, Copy, Debug)]
pub struct MemPool(pub sys::CUmemoryPool);

// SAFETY: a pool handle is a process-wide driver object usable from any thread.
unsafe impl Send for MemPool {}
// SAFETY: as above.
unsafe impl Sync for MemPool {}

/// The default memory pool of `ctx`'s device, set to keep freed memory for reuse (a release
/// threshold of `u64::MAX`), or `None` if the device has no memory pools.
fn default_pool(ctx: &CudaContext) -> Option<MemPool> {
    let supported = ctx
        .attribute(sys::CUdevice_attribute::CU_DEVICE_ATTRIBUTE_MEMORY_POOLS_SUPPORTED)
        .ok()?;
    if supported == 0 {
        return None;
    }
    let mut pool: sys::CUmemoryPool = std::ptr::null_mut();
    // SAFETY: an out pointer and a valid device.
    let r = unsafe { sys::cuDeviceGetDefaultMemPool(&mut pool, ctx.cu_device()) };
    if r != sys::CUresult::CUDA_SUCCESS || pool.is_null() {
        return None;
    }
    let mut keep = u64::MAX;
    // SAFETY: the release threshold attribute takes a u64.
    let r = unsafe {
        sys::cuMemPoolSetAttribute(
            pool,
            sys::CUmemPool_attribute::CU_MEMPOOL_ATTR_RELEASE_THRESHOLD,
            (&mut keep as *mut u64).cast(),
        )
    };
    (r == sys::CUresult::CUDA_SUCCESS).then_some(MemPool(pool))
}

impl std::fmt::Debug for Gpu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "GPU {} ({}, sm_{}{}, {} SMs, {} MiB)",
            self.ordinal,
            self.name,
            self.cc.0,
            self.cc.1,
            self.sms,
            self.total_mem >> 20
        )
    }
}

pub(crate) fn err(what: &str, e: impl std::fmt::Debug) -> String {
    format!("CUDA: {what} failed: {e:?}")
}

impl Gpu {
    /// Makes this GPU's context current on the calling thread.
    pub fn bind(&self) -> Result<(), String> {
        self.ctx
            .bind_to_thread()
            .map_err(|e| err("cuCtxSetCurrent", e))
    }

    /// NVRTC architecture of this device (e.g. `sm_90`).
    pub fn arch(&self) -> String {
        format!("sm_{}{}", self.cc.0, self.cc.1)
    }

    /// Waits for the compute stream.
    pub fn sync(&self) -> Result<(), String> {
        self.stream
            .synchronize()
            .map_err(|e| err("cuStreamSynchronize", e))
    }

    /// Starts a timer on the compute stream.
    pub fn timer(&self) -> Result<Timer, String> {
        self.bind()?;
        let start = self
            .ctx
            .new_event(Some(sys::CUevent_flags::CU_EVENT_DEFAULT))
            .map_err(|e| err("cuEventCreate", e))?;
        start
            .record(&self.stream)
            .map_err(|e| err("cuEventRecord", e))?;
        Ok(Timer {
            start,
            stream: self.stream.clone(),
        })
    }
}

/// Device-event timing of the work queued on a stream between [`Gpu::timer`] and
/// [`Timer::stop_ms`].
pub struct Timer {
    start: CudaEvent,
    stream: Arc<CudaStream>,
}

impl Timer {
    /// Records the end event, waits for it, and returns the elapsed milliseconds.
    pub fn stop_ms(self) -> Result<f64, String> {
        let end = self
            .stream
            .context()
            .new_event(Some(sys::CUevent_flags::CU_EVENT_DEFAULT))
            .map_err(|e| err("cuEventCreate", e))?;
        end.record(&self.stream)
            .map_err(|e| err("cuEventRecord", e))?;
        end.synchronize()
            .map_err(|e| err("cuEventSynchronize", e))?;
        self.start
            .elapsed_ms(&end)
            .map(f64::from)
            .map_err(|e| err("cuEventElapsedTime", e))
    }
}

struct System {
    gpus: Vec<Arc<Gpu>>,
    peer: Vec<Vec<bool>>,
}

static SYSTEM: OnceLock<Result<System, String>> = OnceLock::new();

fn discover() -> Result<System, String> {
    // SAFETY: only tries to open the driver library.
    if !unsafe { sys::is_culib_present() } {
        return Err("no CUDA driver: libcuda.so could not be loaded".into());
    }
    result::init().map_err(|e| format!("no CUDA driver: cuInit failed: {e:?}"))?;
    let n = CudaContext::device_count().map_err(|e| err("cuDeviceGetCount", e))?;
    let mut gpus = Vec::new();
    for i in 0..n.max(0) as usize {
        let ctx = CudaContext::new(i).map_err(|e| err("cuDevicePrimaryCtxRetain", e))?;
        // Raw pointers cross streams under the runtime's own ordering; no implicit tracking.
        // SAFETY: this crate never uses CudaSlice, whose safety relies on event tracking.
        unsafe { ctx.disable_event_tracking() };
        let name = ctx.name().map_err(|e| err("cuDeviceGetName", e))?;
        let cc = ctx
            .compute_capability()
            .map_err(|e| err("cuDeviceGetAttribute", e))?;
        let total_mem = ctx.total_mem().map_err(|e| err("cuDeviceTotalMem", e))? as u64;
        let sms = ctx
            .attribute(sys::CUdevice_attribute::CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT)
            .map_err(|e| err("cuDeviceGetAttribute", e))? as u32;
        let stream = ctx.new_stream().map_err(|e| err("cuStreamCreate", e))?;
        // Copies, folds and zeroing are short kernels that other GPUs' tasks wait for: at the
        // highest priority their blocks are scheduled as soon as blocks of a running GEMM retire,
        // instead of after its last wave (which held a new instance's zeroing, and the control
        // thread waiting for it, for the whole GEMM).
        let high = result::stream::get_priority_range().map_or(0, |(_, greatest)| greatest);
        let copy_stream = ctx
            .new_stream_with_priority(high)
            .map_err(|e| err("cuStreamCreateWithPriority", e))?;
        let alloc_stream = ctx
            .new_stream_with_priority(high)
            .map_err(|e| err("cuStreamCreateWithPriority", e))?;
        let pool = default_pool(&ctx);
        gpus.push(Gpu {
            ordinal: i,
            name,
            cc,
            total_mem,
            sms,
            ctx,
            stream,
            copy_stream,
            alloc_stream,
            pool,
        });
    }
    let mut peer = vec![vec![false; gpus.len()]; gpus.len()];
    for (i, gi) in gpus.iter().enumerate() {
        for (j, gj) in gpus.iter().enumerate() {
            if i == j {
                peer[i][j] = true;
                continue;
            }
            let mut can = 0;
            // SAFETY: valid device handles and an out pointer.
            let r = unsafe {
                sys::cuDeviceCanAccessPeer(&mut can, gi.ctx.cu_device(), gj.ctx.cu_device())
            };
            if r != sys::CUresult::CUDA_SUCCESS || can == 0 {
                continue;
            }
            gi.bind()?;
            // SAFETY: enables access from the current context (gi) to gj's context.
            let r = unsafe { sys::cuCtxEnablePeerAccess(gj.ctx.cu_ctx(), 0) };
            peer[i][j] = matches!(
                r,
                sys::CUresult::CUDA_SUCCESS | sys::CUresult::CUDA_ERROR_PEER_ACCESS_ALREADY_ENABLED
            );
        }
    }
    // Peer access covers cuMemAlloc memory only: a pool's allocations are reachable from the
    // peers it grants access to. Without it, peer copies are staged through the host (measured
    // ~37 GB/s instead of ~390) and kernels cannot read a peer's tiles.
    for (i, g) in gpus.iter_mut().enumerate() {
        let Some(pool) = g.pool else { continue };
        let descs: Vec<sys::CUmemAccessDesc> = (0..peer.len())
            .filter(|&j| j != i && peer[j][i])
            .map(|j| sys::CUmemAccessDesc {
                location: sys::CUmemLocation {
                    type_: sys::CUmemLocationType::CU_MEM_LOCATION_TYPE_DEVICE,
                    id: j as i32,
                },
                flags: sys::CUmemAccess_flags::CU_MEM_ACCESS_FLAGS_PROT_READWRITE,
            })
            .collect();
        if descs.is_empty() {
            continue;
        }
        // SAFETY: a live pool and `descs.len()` valid descriptors.
        let r = unsafe { sys::cuMemPoolSetAccess(pool.0, descs.as_ptr(), descs.len()) };
        if r != sys::CUresult::CUDA_SUCCESS {
            // Fall back to plain allocations, which peer access covers.
            g.pool = None;
        }
    }
    let gpus = gpus.into_iter().map(Arc::new).collect();
    Ok(System { gpus, peer })
}

/// The real GPUs of this machine (discovered on first use), or why there are none.
pub fn gpus() -> Result<&'static [Arc<Gpu>], String> {
    match SYSTEM.get_or_init(discover) {
        Ok(s) => Ok(s
            .gpus
            .get(super::share_range(s.gpus.len()))
            .unwrap_or_default()),
        Err(e) => Err(e.clone()),
    }
}

/// True if GPU `from` can access GPU `to`'s memory directly (peer access enabled).
pub fn peer_access(from: usize, to: usize) -> bool {
    match SYSTEM.get_or_init(discover) {
        Ok(s) => s
            .peer
            .get(from + super::share_range(s.gpus.len()).start)
            .and_then(|r| r.get(to + super::share_range(s.gpus.len()).start))
            .copied()
            .unwrap_or(false),
        Err(_) => false,
    }
}
