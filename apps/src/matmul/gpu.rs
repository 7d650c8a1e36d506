//! Real-GPU variants of the suite's tasks (feature `cuda`, GPU processors of a `local` machine
//! with a CUDA driver): the tile GEMM is one cuBLAS D/SGEMM on the instances' device memory
//! honoring each operand's layout (C or F order, padded or sub-tile strides; a reduce argument
//! is the task's private reduction instance, which the runtime zeroes and folds on the device);
//! tile copies and input generation are NVRTC kernels. Emulated GPUs never get here: their
//! tasks run the host bodies of [`super::common`]. Also the GPU reference product used to
//! verify large runs.

use super::common::{Elem, FIELD};
use crate::Precision;
use runtime::cuda::blas::Elem as BlasElem;
use runtime::cuda::gemm_plan::MatDesc;
use runtime::cuda::strided::{apply, StreamChoice, StridedArray, StridedOp};
use runtime::cuda::{Blas, DeviceBuffer, Gpu, KArg, Kernel};
use runtime::{TaskCtx, TaskError};
use std::sync::{Arc, Mutex};

/// The input generator of [`super::common::input_value`] in CUDA C (bit-identical: integer
/// hashing, then an exact conversion to a double in [-1, 1)), writing a strided tile.
const INIT_SOURCE: &str = r#"
__device__ double mm_input_value(unsigned long long which, long long row, long long col,
                                 unsigned long long seed) {
  unsigned long long z = seed * 0x9E3779B97F4A7C15ULL + which * 0xD1B54A32D192ED03ULL
      + (unsigned long long)row * 0x8CB92BA72F3D8DD7ULL
      + (unsigned long long)col * 0x94D049BB133111EBULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  z ^= z >> 31;
  return (double)(z >> 11) / 9007199254740992.0 * 2.0 - 1.0;
}
#define MM_INIT(NAME, T)                                                                   \
extern "C" __global__ void NAME(char* p, long long rows, long long cols, long long rs,    \
    long long cs, long long row0, long long col0, long long which, long long seed,         \
    long long row_inner) {                                                                 \
  long long n = rows * cols;                                                               \
  long long step = (long long)gridDim.x * blockDim.x;                                      \
  for (long long t = (long long)blockIdx.x * blockDim.x + threadIdx.x; t < n; t += step) { \
    long long r = row_inner ? t % rows : t / cols;                                         \
    long long c = row_inner ? t / rows : t % cols;                                         \
    T v = which >= 2 ? (T)0 : (T)mm_input_value((unsigned long long)which, row0 + r,       \
                                                 col0 + c, (unsigned long long)seed);      \
    *(T*)(p + r * rs + c * cs) = v;                                                        \
  }                                                                                        \
}
MM_INIT(mm_init_f64, double)
MM_INIT(mm_init_f32, float)
"#;

fn blas_elem<T: Elem>() -> BlasElem {
    match T::PRECISION {
        Precision::F64 => BlasElem::F64,
        Precision::F32 => BlasElem::F32,
    }
}

fn task_err(ctx: &TaskCtx, e: String) -> TaskError {
    TaskError(format!("task `{}` on {}: {e}", ctx.task_name(), ctx.proc()))
}

/// The tile GEMM on a real GPU: `C += A * B` with one cuBLAS call on the GPU's compute stream
/// (the task completes when the stream drains). A layout cuBLAS cannot take is a mapping error.
pub fn tile_gemm<T: Elem>(
    ctx: &TaskCtx,
    gpu: &Arc<Gpu>,
    a: usize,
    b: usize,
    c: usize,
) -> Result<(), TaskError> {
    let (fa, fb, fc) = (
        ctx.device_field::<T>(a, FIELD)?,
        ctx.device_field::<T>(b, FIELD)?,
        ctx.device_field::<T>(c, FIELD)?,
    );
    let (ma, mb, mc) = (fa.mat()?, fb.mat()?, fc.mat()?);
    if ma.rows != mc.rows || mb.cols != mc.cols || ma.cols != mb.rows {
        return Err(TaskError(format!(
            "task `{}`: tile shapes do not multiply: A {}x{}, B {}x{}, C {}x{}",
            ctx.task_name(),
            ma.rows,
            ma.cols,
            mb.rows,
            mb.cols,
            mc.rows,
            mc.cols
        )));
    }
    if mc.rows == 0 || mc.cols == 0 {
        return Ok(());
    }
    let blas = Blas::get(gpu).map_err(|e| task_err(ctx, e))?;
    // SAFETY: the addresses and strides come from the arguments' instances, which hold every
    // point of the tiles; the runtime orders this task against every other user of them.
    unsafe {
        blas.gemm(
            blas_elem::<T>(),
            1.0,
            1.0,
            (fc.ptr, &mc),
            (fa.ptr, &ma),
            (fb.ptr, &mb),
        )
    }
    .map_err(|e| TaskError(format!("mapping error: task `{}`: {e}", ctx.task_name())))?;
    Ok(())
}

fn strided(m: &MatDesc, ptr: u64) -> StridedArray {
    StridedArray {
        ptr,
        strides: [m.row_stride as i64, m.col_stride as i64, 0],
    }
}

/// A tile copy on a real GPU: one strided kernel (any layouts on either side, FBMEM of this
/// GPU or a peer, or ZCMEM) on the compute stream.
pub fn copy_tile<T: Elem>(
    ctx: &TaskCtx,
    gpu: &Arc<Gpu>,
    src: usize,
    dst: usize,
) -> Result<(), TaskError> {
    let (fs, fd) = (
        ctx.device_field::<T>(src, FIELD)?,
        ctx.device_field::<T>(dst, FIELD)?,
    );
    let (ms, md) = (fs.mat()?, fd.mat()?);
    if (ms.rows, ms.cols) != (md.rows, md.cols) {
        return Err(TaskError(format!(
            "task `{}`: source tile {}x{} and destination tile {}x{} differ in shape",
            ctx.task_name(),
            ms.rows,
            ms.cols,
            md.rows,
            md.cols
        )));
    }
    let ext = [md.rows as i64, md.cols as i64, 1];
    // SAFETY: both tiles hold every point of the box at these strides (their instances cover
    // the arguments' bounds); the runtime orders this task against other users.
    unsafe {
        apply(
            gpu,
            StreamChoice::Compute,
            StridedOp::Copy(std::mem::size_of::<T>()),
            strided(&md, fd.ptr),
            strided(&ms, fs.ptr),
            ext,
        )
    }
    .map_err(|e| task_err(ctx, e))
}

/// Launches the input generator over a `rows x cols` matrix at `ptr` with byte strides
/// `rs`, `cs` whose first element is global (row0, col0).
///
/// # Safety
/// `ptr` must be device-visible memory holding the matrix at those strides.
#[allow(clippy::too_many_arguments)]
unsafe fn launch_init<T: Elem>(
    gpu: &Arc<Gpu>,
    ptr: u64,
    m: &MatDesc,
    row0: i64,
    col0: i64,
    which: i64,
    seed: u64,
) -> Result<(), String> {
    let name = match T::PRECISION {
        Precision::F64 => "mm_init_f64",
        Precision::F32 => "mm_init_f32",
    };
    let k = Kernel::get(gpu, INIT_SOURCE, name)?;
    let n = (m.rows * m.cols) as u64;
    if n == 0 {
        return Ok(());
    }
    let blocks = n.div_ceil(256).min(u64::from(gpu.sms.max(1)) * 64) as u32;
    let row_inner = i64::from(m.row_stride < m.col_stride);
    let args = [
        KArg::Ptr(ptr),
        KArg::I64(m.rows as i64),
        KArg::I64(m.cols as i64),
        KArg::I64(m.row_stride as i64),
        KArg::I64(m.col_stride as i64),
        KArg::I64(row0),
        KArg::I64(col0),
        KArg::I64(which),
        KArg::I64(seed as i64),
        KArg::I64(row_inner),
    ];
    // SAFETY: forwarded from the caller; the arguments match the kernel.
    unsafe { k.launch(blocks, 256, &args) }
}

/// GPUs already warmed up by [`warm_up`].
static WARM: Mutex<Vec<usize>> = Mutex::new(Vec::new());

/// Once per GPU, before the multiplication's clock starts (from `init_tiles`): creates the
/// cuBLAS handle, compiles the NVRTC kernels (input generation, the runtime's strided copies
/// and folds) and runs one `s x s x s` GEMM on scratch buffers so that cuBLAS loads the kernel
/// the tile GEMMs will use (CUDA loads modules lazily, on first launch).
fn warm_up<T: Elem>(gpu: &Arc<Gpu>, s: usize) -> Result<(), String> {
    let mut warm = WARM.lock().unwrap_or_else(|p| p.into_inner());
    if warm.contains(&gpu.ordinal) {
        return Ok(());
    }
    let blas = Blas::get(gpu)?;
    runtime::cuda::strided::warm(gpu)?;
    for name in ["mm_init_f64", "mm_init_f32"] {
        Kernel::get(gpu, INIT_SOURCE, name)?;
    }
    let s = s.max(1);
    let es = std::mem::size_of::<T>();
    let bufs = (
        DeviceBuffer::new(gpu, s * s * es)?,
        DeviceBuffer::new(gpu, s * s * es)?,
        DeviceBuffer::new(gpu, s * s * es)?,
    );
    let m = MatDesc {
        rows: s,
        cols: s,
        elem: es,
        row_stride: es,
        col_stride: s * es,
    };
    // SAFETY: three zeroed scratch buffers of s x s elements (column-major), used only here.
    unsafe {
        blas.gemm(
            blas_elem::<T>(),
            1.0,
            1.0,
            (bufs.2.ptr, &m),
            (bufs.0.ptr, &m),
            (bufs.1.ptr, &m),
        )?;
    }
    gpu.sync()?;
    warm.push(gpu.ordinal);
    Ok(())
}

/// `init_tiles` on a real GPU: the tile's values computed on the device (the same bits as the
/// host generator), any layout.
pub fn init_tile<T: Elem>(ctx: &TaskCtx, gpu: &Arc<Gpu>) -> Result<(), TaskError> {
    let which = ctx.i64(0)?;
    let seed = ctx.i64(1)? as u64;
    let f = ctx.device_field::<T>(0, FIELD)?;
    let m = f.mat()?;
    warm_up::<T>(gpu, m.rows.min(m.cols)).map_err(|e| task_err(ctx, e))?;
    let b = ctx.bounds(0)?;
    let d = b.dim();
    // SAFETY: the tile's instance holds every point at these strides.
    unsafe {
        launch_init::<T>(
            gpu,
            f.ptr,
            &m,
            b.lo.get(d - 2),
            b.lo.get(d - 1),
            which,
            seed,
        )
    }
    .map_err(|e| task_err(ctx, e))
}

/// The reference product `A x B` (C order, N x N) computed on GPU 0 with one cuBLAS GEMM from
/// inputs generated on the device; `None` without a real GPU.
pub fn reference<T: Elem>(n: usize, seed: u64) -> Result<Option<Vec<T>>, String> {
    let Some(gpu) = runtime::cuda::gpus().ok().and_then(|g| g.first().cloned()) else {
        return Ok(None);
    };
    let es = std::mem::size_of::<T>();
    let bytes = n * n * es;
    let (a, b, c) = (
        DeviceBuffer::new(&gpu, bytes)?,
        DeviceBuffer::new(&gpu, bytes)?,
        DeviceBuffer::new(&gpu, bytes)?,
    );
    let m = MatDesc {
        rows: n,
        cols: n,
        elem: es,
        row_stride: n * es,
        col_stride: es,
    };
    // SAFETY: the three buffers hold n x n elements in C order; nothing else uses them.
    unsafe {
        launch_init::<T>(&gpu, a.ptr, &m, 0, 0, 0, seed)?;
        launch_init::<T>(&gpu, b.ptr, &m, 0, 0, 1, seed)?;
        Blas::get(&gpu)?.gemm(
            blas_elem::<T>(),
            1.0,
            0.0,
            (c.ptr, &m),
            (a.ptr, &m),
            (b.ptr, &m),
        )?;
    }
    gpu.sync()?;
    let mut out = vec![T::default(); n * n];
    // SAFETY: `out` holds exactly `bytes` bytes of plain values.
    unsafe {
        let dst = std::slice::from_raw_parts_mut(out.as_mut_ptr().cast::<u8>(), bytes);
        runtime::cuda::memory::dtoh(&gpu, dst, c.ptr)?;
    }
    Ok(Some(out))
}
