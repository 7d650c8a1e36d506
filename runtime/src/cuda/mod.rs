//! Real GPUs through CUDA. With the `cuda` feature, the driver, NVRTC and cuBLAS are loaded at
//! run time (cudarc, dynamic loading): the crate builds anywhere, and on a machine without a
//! driver [`gpus`] returns an error that callers report as "no CUDA driver" (GPU processors are
//! then simply absent). Each [`Gpu`] owns its primary context and two streams (compute and
//! copy); [`memory`] has framebuffer allocations ([`DeviceBuffer`], FBMEM), mapped pinned host
//! memory that kernels read directly ([`PinnedBuffer`], ZCMEM) and the host/device/peer copies;
//! [`kernels`] compiles CUDA C with NVRTC for the device's architecture; [`blas`] runs tile
//! GEMMs through cuBLAS, honoring each operand's layout ([`gemm_plan`], which is pure and also
//! built without the feature, decides how or says why a layout cannot be taken); [`mirror`]
//! (pure as well) says which bytes of an FBMEM instance's host mirror a host operation moves.

pub mod gemm_plan;
pub mod mirror;

#[cfg(feature = "cuda")]
pub mod blas;
#[cfg(feature = "cuda")]
mod device;
#[cfg(feature = "cuda")]
pub mod kernels;
#[cfg(feature = "cuda")]
pub mod memory;
#[cfg(feature = "cuda")]
pub mod strided;

#[cfg(feature = "cuda")]
pub use blas::Blas;
#[cfg(feature = "cuda")]
pub use device::{gpus, peer_access, Gpu, MemPool, Timer};
#[cfg(feature = "cuda")]
pub use kernels::{KArg, Kernel};
#[cfg(feature = "cuda")]
pub use memory::{DeviceBuffer, PinnedBuffer};

/// This process's share of the host's GPUs when several processes run on one host (`mpi`
/// machines): `(index, of)`; process `index` uses the `index`-th of `of` equal slices.
static SHARE: std::sync::OnceLock<(u32, u32)> = std::sync::OnceLock::new();

/// Makes this process use only its share of the host's GPUs (call before any GPU is used;
/// later calls are ignored).
pub fn share_gpus(index: u32, of: u32) {
    let _ = SHARE.set((index, of.max(1)));
}

/// The range of the host's `n` GPUs this process uses (all of them unless [`share_gpus`]).
pub fn share_range(n: usize) -> std::ops::Range<usize> {
    match SHARE.get() {
        Some(&(i, of)) if of > 1 => {
            let per = n / of as usize;
            let lo = (i as usize * per).min(n);
            lo..(lo + per).min(n)
        }
        _ => 0..n,
    }
}

/// Why no real GPU can be used here, or `None` when at least one is available. GPU tests print
/// `skipped: <reason>` and return when this is `Some`.
pub fn unavailable() -> Option<String> {
    #[cfg(feature = "cuda")]
    {
        match gpus() {
            Ok([]) => Some("no CUDA driver: the driver reports no devices".into()),
            Ok(_) => None,
            Err(e) => Some(e),
        }
    }
    #[cfg(not(feature = "cuda"))]
    {
        Some("no CUDA driver: the runtime was built without the `cuda` feature".into())
    }
}

/// Number of real GPUs (0 without the feature or without a driver).
pub fn gpu_count() -> usize {
    #[cfg(feature = "cuda")]
    {
        gpus().map(|g| g.len()).unwrap_or(0)
    }
    #[cfg(not(feature = "cuda"))]
    {
        0
    }
}

/// GPUs of the `local` machine: their count and the smallest framebuffer (bytes, less 10% kept
/// for the CUDA context, cuBLAS workspaces and kernels); `(0, 0)` without GPUs.
pub fn local_gpus() -> (u32, u64) {
    #[cfg(feature = "cuda")]
    {
        if let Ok(g) = gpus() {
            if !g.is_empty() {
                let fb = g.iter().map(|g| g.total_mem).min().unwrap_or(0);
                return (g.len().min(16) as u32, fb / 10 * 9);
            }
        }
    }
    (0, 0)
}
