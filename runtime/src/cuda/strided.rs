//! Strided element-wise kernels between two device-visible arrays (FBMEM of any peer-enabled
//! GPU, or ZCMEM): `dst = src` (a copy translating any layouts: C/F order, SOA/AOS records,
//! sub-rectangles of larger instances) and `dst += src` (a sum fold of f32/f64 fields). Each
//! side is described by the device address of its first point and its byte strides over up to
//! three dimensions; one NVRTC kernel per element kind, compiled once per GPU.

use super::device::{err, Gpu};
use super::kernels::{KArg, Kernel};
use std::sync::Arc;

/// The CUDA C of the strided kernels (one per element kind and operation).
const SOURCE: &str = r#"
#define STRIDED(NAME, T, STMT)                                                            \
extern "C" __global__ void NAME(char* d, const char* s, long long n, long long e1,      \
    long long e2, long long d0, long long d1, long long d2, long long s0, long long s1,   \
    long long s2) {                                                                       \
  long long step = (long long)gridDim.x * blockDim.x;                                    \
  for (long long t = (long long)blockIdx.x * blockDim.x + threadIdx.x; t < n; t += step) { \
    long long i2 = t % e2; long long r = t / e2; long long i1 = r % e1; long long i0 = r / e1; \
    T* dp = (T*)(d + i0 * d0 + i1 * d1 + i2 * d2);                                       \
    const T* sp = (const T*)(s + i0 * s0 + i1 * s1 + i2 * s2);                          \
    STMT;                                                                                 \
  }                                                                                       \
}
STRIDED(rt_copy_1, unsigned char, *dp = *sp)
STRIDED(rt_copy_2, unsigned short, *dp = *sp)
STRIDED(rt_copy_4, unsigned int, *dp = *sp)
STRIDED(rt_copy_8, unsigned long long, *dp = *sp)
STRIDED(rt_sum_f32, float, *dp += *sp)
STRIDED(rt_sum_f64, double, *dp += *sp)
"#;

/// What a strided kernel does to each destination element.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StridedOp {
    /// `dst = src` for elements of this many bytes (1, 2, 4 or 8).
    Copy(usize),
    /// `dst += src` on f32 elements.
    SumF32,
    /// `dst += src` on f64 elements.
    SumF64,
}

impl StridedOp {
    fn kernel(self) -> Option<&'static str> {
        Some(match self {
            StridedOp::Copy(1) => "rt_copy_1",
            StridedOp::Copy(2) => "rt_copy_2",
            StridedOp::Copy(4) => "rt_copy_4",
            StridedOp::Copy(8) => "rt_copy_8",
            StridedOp::Copy(_) => return None,
            StridedOp::SumF32 => "rt_sum_f32",
            StridedOp::SumF64 => "rt_sum_f64",
        })
    }
}

/// One side of a strided operation: the device address of the first point and the byte
/// distance between consecutive points along each of up to three dimensions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StridedArray {
    /// Device address of the first point.
    pub ptr: u64,
    /// Bytes between consecutive points of each dimension.
    pub strides: [i64; 3],
}

/// Which of the GPU's streams runs the kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamChoice {
    /// The compute stream, asynchronously (a task's GPU variant; the task waits at its end).
    Compute,
    /// The copy stream, waited for before returning (runtime copies and folds).
    CopyAndWait,
}

/// Compiles and loads the strided kernels on `gpu` now (they are otherwise compiled on first
/// use, e.g. inside a timed region).
pub fn warm(gpu: &Arc<Gpu>) -> Result<(), String> {
    for name in [
        "rt_copy_1",
        "rt_copy_2",
        "rt_copy_4",
        "rt_copy_8",
        "rt_sum_f32",
        "rt_sum_f64",
    ] {
        Kernel::get(gpu, SOURCE, name)?;
    }
    Ok(())
}

/// True if `op` has a kernel (copies of 1, 2, 4 or 8-byte elements, f32/f64 sums).
pub fn supported(op: StridedOp) -> bool {
    op.kernel().is_some()
}

/// Applies `op` at every point of an `ext[0] x ext[1] x ext[2]` box on `gpu`: element
/// `(i, j, k)` of `dst` gets `src`'s element `(i, j, k)` (copied or added). The dimensions are
/// reordered so that consecutive threads walk the destination's smallest stride.
///
/// # Safety
/// Both arrays must be valid device (or mapped) memory for every point of the box, readable
/// (and for `dst` writable) from `gpu` (its own memory, a peer's with peer access on, or mapped
/// pinned memory), and not accessed concurrently by other work.
pub unsafe fn apply(
    gpu: &Arc<Gpu>,
    stream: StreamChoice,
    op: StridedOp,
    dst: StridedArray,
    src: StridedArray,
    ext: [i64; 3],
) -> Result<(), String> {
    let name = op
        .kernel()
        .ok_or_else(|| format!("no strided kernel for {op:?}"))?;
    if ext.iter().any(|&e| e <= 0) {
        return Ok(());
    }
    let mut order = [0usize, 1, 2];
    order.sort_by_key(|&d| std::cmp::Reverse(dst.strides[d].unsigned_abs()));
    let e = order.map(|d| ext[d]);
    let ds = order.map(|d| dst.strides[d]);
    let ss = order.map(|d| src.strides[d]);
    let n = e[0] * e[1] * e[2];
    let k = Kernel::get(gpu, SOURCE, name)?;
    let blocks = (n as u64).div_ceil(256).min(u64::from(gpu.sms.max(1)) * 64) as u32;
    let args = [
        KArg::Ptr(dst.ptr),
        KArg::Ptr(src.ptr),
        KArg::I64(n),
        KArg::I64(e[1]),
        KArg::I64(e[2]),
        KArg::I64(ds[0]),
        KArg::I64(ds[1]),
        KArg::I64(ds[2]),
        KArg::I64(ss[0]),
        KArg::I64(ss[1]),
        KArg::I64(ss[2]),
    ];
    match stream {
        // SAFETY: the caller vouches for the arrays; the arguments match the kernel.
        StreamChoice::Compute => unsafe { k.launch(blocks, 256, &args) },
        StreamChoice::CopyAndWait => {
            // SAFETY: as above.
            unsafe { k.launch_on(&gpu.copy_stream, blocks, 256, &args) }?;
            gpu.copy_stream
                .synchronize()
                .map_err(|e| err("cuStreamSynchronize", e))
        }
    }
}
