//! Does allocating GPU memory wait for kernels already running on that GPU? Measures, on the
//! host clock, each allocation API while a ~300 ms spin kernel occupies GPU 0's compute stream:
//! `cuMemAlloc` (fresh and right after a `cuMemFree`), `cuMemFree`, the stream-ordered
//! allocator (`cuMemAllocFromPoolAsync` / `cuMemFreeAsync` on the copy stream, pool release
//! threshold at its maximum), the runtime's `DeviceBuffer` (allocation plus zeroing, and drop),
//! and mapped pinned memory (`PinnedBuffer`: `cuMemHostAlloc` / `cuMemFreeHost`). A call that
//! takes about the kernel's remaining time waited for it. Last, `DeviceBuffer::new` while a
//! kernel of 16 waves of 5 ms blocks fills every SM (as a large GEMM does): its zeroing runs on
//! a high-priority stream, so it should wait about one block, not the whole kernel.
//! Prints one JSON object per measurement.
//!
//! Usage: `cuda_alloc [MIB]` (default 512). Needs `--features cuda`.

#[cfg(not(feature = "cuda"))]
fn main() {
    println!("skipped: no CUDA driver: built without the `cuda` feature");
}

#[cfg(feature = "cuda")]
fn main() {
    if let Err(e) = real::main() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

#[cfg(feature = "cuda")]
mod real {
    use cudarc::driver::{result, sys};
    use runtime::cuda::{gpus, DeviceBuffer, Gpu, KArg, Kernel, PinnedBuffer};
    use std::sync::Arc;
    use std::time::Instant;

    const SPIN: &str = r#"
extern "C" __global__ void spin(long long cycles) {
  long long start = clock64();
  while (clock64() - start < cycles) { }
}
"#;

    fn check(what: &str, r: sys::CUresult) -> Result<(), String> {
        if r == sys::CUresult::CUDA_SUCCESS {
            Ok(())
        } else {
            Err(format!("{what}: {r:?}"))
        }
    }

    /// Starts a ~`ms` spin on every SM of `gpu`'s compute stream.
    fn spin(gpu: &Arc<Gpu>, ms: f64) -> Result<(), String> {
        let k = Kernel::get(gpu, SPIN, "spin")?;
        // Clock rate in kHz (cycles per ms).
        let khz = gpu
            .ctx
            .attribute(sys::CUdevice_attribute::CU_DEVICE_ATTRIBUTE_CLOCK_RATE)
            .map_err(|e| format!("{e:?}"))? as f64;
        // SAFETY: a kernel without pointers.
        unsafe { k.launch(gpu.sms, 32, &[KArg::I64((ms * khz) as i64)]) }
    }

    /// Starts 16 waves of ~5 ms blocks of 1024 threads (two per SM) on the compute stream.
    fn spin_waves(gpu: &Arc<Gpu>) -> Result<(), String> {
        let k = Kernel::get(gpu, SPIN, "spin")?;
        let khz = gpu
            .ctx
            .attribute(sys::CUdevice_attribute::CU_DEVICE_ATTRIBUTE_CLOCK_RATE)
            .map_err(|e| format!("{e:?}"))? as f64;
        // SAFETY: a kernel without pointers.
        unsafe { k.launch(gpu.sms * 32, 1024, &[KArg::I64((5.0 * khz) as i64)]) }
    }

    fn busy(gpu: &Gpu) -> bool {
        // SAFETY: a plain query of a live stream.
        let r = unsafe { sys::cuStreamQuery(gpu.stream.cu_stream()) };
        r == sys::CUresult::CUDA_ERROR_NOT_READY
    }

    fn rec(name: &str, ms: f64, still_busy: bool) {
        println!(
            "{{\"probe\":\"{name}\",\"ms\":{ms:.3},\"kernel_still_running_after\":{still_busy}}}"
        );
    }

    fn timed<T>(gpu: &Gpu, name: &str, f: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
        let t = Instant::now();
        let v = f()?;
        rec(name, t.elapsed().as_secs_f64() * 1e3, busy(gpu));
        Ok(v)
    }

    pub fn main() -> Result<(), String> {
        let mib: usize = std::env::args()
            .nth(1)
            .map(|s| s.parse().map_err(|e| format!("MIB: {e}")))
            .transpose()?
            .unwrap_or(512);
        let bytes = mib << 20;
        let gpu = gpus()?.first().ok_or("no GPU")?.clone();
        gpu.bind()?;
        println!("{{\"gpu\":\"{}\",\"bytes\":{bytes}}}", gpu.name);
        spin(&gpu, 1.0)?;
        gpu.sync()?;

        // 1. cuMemAlloc / cuMemFree while the kernel runs.
        spin(&gpu, 300.0)?;
        let a = timed(&gpu, "cuMemAlloc fresh #1", || {
            // SAFETY: plain allocation in the bound context.
            unsafe { result::malloc_sync(bytes) }.map_err(|e| format!("{e:?}"))
        })?;
        let b = timed(&gpu, "cuMemAlloc fresh #2", || {
            // SAFETY: as above.
            unsafe { result::malloc_sync(bytes) }.map_err(|e| format!("{e:?}"))
        })?;
        timed(&gpu, "cuMemFree", || {
            // SAFETY: allocated above, unused.
            unsafe { result::free_sync(a) }.map_err(|e| format!("{e:?}"))
        })?;
        gpu.sync()?;
        spin(&gpu, 300.0)?;
        let c = timed(&gpu, "cuMemAlloc after a free", || {
            // SAFETY: as above.
            unsafe { result::malloc_sync(bytes) }.map_err(|e| format!("{e:?}"))
        })?;
        gpu.sync()?;
        // SAFETY: unused allocations.
        unsafe {
            let _ = result::free_sync(b);
            let _ = result::free_sync(c);
        }

        // 2. The stream-ordered allocator on the copy stream.
        let mut pool: sys::CUmemoryPool = std::ptr::null_mut();
        // SAFETY: out pointer and the context's device.
        check("cuDeviceGetDefaultMemPool", unsafe {
            sys::cuDeviceGetDefaultMemPool(&mut pool, gpu.ctx.cu_device())
        })?;
        let mut max = u64::MAX;
        // SAFETY: the attribute takes a u64.
        check("cuMemPoolSetAttribute", unsafe {
            sys::cuMemPoolSetAttribute(
                pool,
                sys::CUmemPool_attribute::CU_MEMPOOL_ATTR_RELEASE_THRESHOLD,
                (&mut max as *mut u64).cast(),
            )
        })?;
        let cs = gpu.copy_stream.cu_stream();
        let alloc = |name: &str| {
            timed(&gpu, name, || {
                let mut p: sys::CUdeviceptr = 0;
                // SAFETY: out pointer, a live pool and stream.
                check("cuMemAllocFromPoolAsync", unsafe {
                    sys::cuMemAllocFromPoolAsync(&mut p, bytes, pool, cs)
                })?;
                // SAFETY: the range was just allocated on this stream.
                unsafe { result::memset_d8_async(p, 0, bytes, cs) }
                    .map_err(|e| format!("{e:?}"))?;
                gpu.copy_stream
                    .synchronize()
                    .map_err(|e| format!("{e:?}"))?;
                Ok(p)
            })
        };
        spin(&gpu, 300.0)?;
        let p1 = alloc("cuMemAllocFromPoolAsync fresh #1 (+ zero, sync copy stream)")?;
        let p2 = alloc("cuMemAllocFromPoolAsync fresh #2 (+ zero, sync copy stream)")?;
        timed(&gpu, "cuMemFreeAsync (+ sync copy stream)", || {
            // SAFETY: allocated above on this stream, unused since.
            unsafe { result::free_async(p1, cs) }.map_err(|e| format!("{e:?}"))?;
            gpu.copy_stream.synchronize().map_err(|e| format!("{e:?}"))
        })?;
        let p3 = alloc("cuMemAllocFromPoolAsync reuse (+ zero, sync copy stream)")?;
        gpu.sync()?;
        // SAFETY: unused allocations of this stream.
        unsafe {
            let _ = result::free_async(p2, cs);
            let _ = result::free_async(p3, cs);
        }
        gpu.copy_stream
            .synchronize()
            .map_err(|e| format!("{e:?}"))?;

        // 3. The runtime's buffers.
        spin(&gpu, 300.0)?;
        let d = timed(&gpu, "DeviceBuffer::new", || DeviceBuffer::new(&gpu, bytes))?;
        timed(&gpu, "drop(DeviceBuffer)", || {
            drop(d);
            Ok(())
        })?;
        let d = timed(&gpu, "DeviceBuffer::new again", || {
            DeviceBuffer::new(&gpu, bytes)
        })?;
        let h = timed(&gpu, "PinnedBuffer::new (cuMemHostAlloc + zero)", || {
            PinnedBuffer::new(bytes)
        })?;
        timed(&gpu, "drop(PinnedBuffer) (cuMemFreeHost)", || {
            drop(h);
            Ok(())
        })?;
        gpu.sync()?;
        drop(d);

        // 4. Zeroing a new buffer while every SM is busy.
        spin_waves(&gpu)?;
        let t = Instant::now();
        let d = timed(
            &gpu,
            "DeviceBuffer::new under a full 16-wave kernel",
            || DeviceBuffer::new(&gpu, bytes),
        )?;
        gpu.sync()?;
        rec(
            "the 16-wave kernel (from DeviceBuffer::new to its end)",
            t.elapsed().as_secs_f64() * 1e3,
            false,
        );
        drop(d);
        Ok(())
    }
}
