//! Real-GPU variants of the stencil's tasks (feature `cuda`): NVRTC kernels on the instances'
//! device memory (FBMEM of this GPU or a peer, or ZCMEM). The stencil kernel needs unit stride
//! along x (SOA, C order; the app's layout rule refuses other layouts before the run); `init`
//! and `increment` take any strides.

use super::kernels::{INPUT, OUTPUT};
use runtime::context::DeviceField;
use runtime::cuda::{Gpu, KArg, Kernel};
use runtime::{TaskCtx, TaskError};
use std::sync::Arc;

/// The kernels, in CUDA C. Strides of `init` and `increment` are in bytes; those of the
/// stencil in elements (unit stride along x).
const SOURCE: &str = r#"
extern "C" __global__ void st_init(char* in, char* out, long long ny, long long nx,
    long long iy, long long ix, long long oy, long long ox, long long y0, long long x0) {
  long long n = ny * nx;
  long long step = (long long)gridDim.x * blockDim.x;
  for (long long t = (long long)blockIdx.x * blockDim.x + threadIdx.x; t < n; t += step) {
    long long j = t / nx, k = t % nx;
    *(double*)(in + j * iy + k * ix) = (double)(x0 + k + y0 + j);
    *(double*)(out + j * oy + k * ox) = 0.0;
  }
}

extern "C" __global__ void st_increment(char* p, long long ny, long long nx, long long sy,
    long long sx) {
  long long n = ny * nx;
  long long step = (long long)gridDim.x * blockDim.x;
  for (long long t = (long long)blockIdx.x * blockDim.x + threadIdx.x; t < n; t += step) {
    long long j = t / nx, k = t % nx;
    *(double*)(p + j * sy + k * sx) += 1.0;
  }
}

extern "C" __global__ void st_stencil(const double* __restrict__ in, double* __restrict__ out,
    long long ny, long long nx, long long sy, long long oy, long long dy, long long dx,
    long long chunks) {
  long long b = blockIdx.x;
  long long j = b / chunks;
  long long k = (b % chunks) * blockDim.x + threadIdx.x;
  if (j >= ny || k >= nx) return;
  const double* c = in + (dy + j) * sy + dx + k;
  double acc = 0.0;
  acc += 0.25 * (c[1] - c[-1]);
  acc += 0.125 * (c[2] - c[-2]);
  acc += 0.25 * (c[sy] - c[-sy]);
  acc += 0.125 * (c[2 * sy] - c[-2 * sy]);
  out[j * oy + k] += acc;
}
"#;

fn err(ctx: &TaskCtx, e: String) -> TaskError {
    TaskError(format!("task `{}` on {}: {e}", ctx.task_name(), ctx.proc()))
}

/// Byte strides (y, x) of a 2-D device field.
fn byte_strides(f: &DeviceField) -> (i64, i64) {
    (
        (f.strides[0] * f.elem_stride) as i64,
        (f.strides[1] * f.elem_stride) as i64,
    )
}

fn extents(f: &DeviceField) -> (i64, i64) {
    let e = f.bounds.extents();
    (e[0].max(0), e[1].max(0))
}

/// Blocks of 256 threads for `n` points in a grid-stride loop.
fn blocks(gpu: &Gpu, n: i64) -> u32 {
    (n as u64)
        .div_ceil(256)
        .clamp(1, u64::from(gpu.sms.max(1)) * 32) as u32
}

/// `init` on a GPU.
pub fn init(ctx: &TaskCtx, gpu: &Arc<Gpu>) -> Result<(), TaskError> {
    let (fi, fo) = (
        ctx.device_field::<f64>(0, INPUT)?,
        ctx.device_field::<f64>(0, OUTPUT)?,
    );
    let (ny, nx) = extents(&fi);
    if ny * nx == 0 {
        return Ok(());
    }
    let ((iy, ix), (oy, ox)) = (byte_strides(&fi), byte_strides(&fo));
    let k = Kernel::get(gpu, SOURCE, "st_init").map_err(|e| err(ctx, e))?;
    let args = [
        KArg::Ptr(fi.ptr),
        KArg::Ptr(fo.ptr),
        KArg::I64(ny),
        KArg::I64(nx),
        KArg::I64(iy),
        KArg::I64(ix),
        KArg::I64(oy),
        KArg::I64(ox),
        KArg::I64(fi.bounds.lo.get(0)),
        KArg::I64(fi.bounds.lo.get(1)),
    ];
    // SAFETY: both fields hold every point of the tile at these strides; the runtime orders
    // this task against every other user of the instance.
    unsafe { k.launch(blocks(gpu, ny * nx), 256, &args) }.map_err(|e| err(ctx, e))
}

/// `increment` on a GPU.
pub fn increment(ctx: &TaskCtx, gpu: &Arc<Gpu>) -> Result<(), TaskError> {
    let f = ctx.device_field::<f64>(0, INPUT)?;
    let (ny, nx) = extents(&f);
    if ny * nx == 0 {
        return Ok(());
    }
    let (sy, sx) = byte_strides(&f);
    let k = Kernel::get(gpu, SOURCE, "st_increment").map_err(|e| err(ctx, e))?;
    let args = [
        KArg::Ptr(f.ptr),
        KArg::I64(ny),
        KArg::I64(nx),
        KArg::I64(sy),
        KArg::I64(sx),
    ];
    // SAFETY: the field holds every point of the tile at these strides.
    unsafe { k.launch(blocks(gpu, ny * nx), 256, &args) }.map_err(|e| err(ctx, e))
}

/// `stencil` on a GPU: one thread per output point, 256 points of a row per block.
pub fn stencil(ctx: &TaskCtx, gpu: &Arc<Gpu>) -> Result<(), TaskError> {
    let (fi, fo) = (
        ctx.device_field::<f64>(0, INPUT)?,
        ctx.device_field::<f64>(1, OUTPUT)?,
    );
    let (ny, nx) = extents(&fo);
    if ny * nx == 0 {
        return Ok(());
    }
    for (f, arg) in [(&fi, "ghost"), (&fo, "out")] {
        if f.strides[1] != 1 || f.elem_stride != 8 {
            return Err(TaskError(format!(
                "mapping error: the GPU stencil kernel of task `stencil` cannot take argument \
                 `{arg}` without unit stride along x; help: use `Layout stencil {arg} GPU SOA C_order;`"
            )));
        }
    }
    let dy = fo.bounds.lo.get(0) - fi.bounds.lo.get(0);
    let dx = fo.bounds.lo.get(1) - fi.bounds.lo.get(1);
    let chunks = (nx + 255) / 256;
    let grid = u32::try_from(ny * chunks)
        .map_err(|_| err(ctx, format!("a {ny}x{nx} tile is too large for one launch")))?;
    let k = Kernel::get(gpu, SOURCE, "st_stencil").map_err(|e| err(ctx, e))?;
    let args = [
        KArg::Ptr(fi.ptr),
        KArg::Ptr(fo.ptr),
        KArg::I64(ny),
        KArg::I64(nx),
        KArg::I64(fi.strides[0] as i64),
        KArg::I64(fo.strides[0] as i64),
        KArg::I64(dy),
        KArg::I64(dx),
        KArg::I64(chunks),
    ];
    // SAFETY: the ghost field holds the output's points grown by R in both directions (the
    // output lies at least R inside it), at unit stride along x; the output holds its points.
    unsafe { k.launch(grid, 256, &args) }.map_err(|e| err(ctx, e))
}
