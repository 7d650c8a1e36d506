//! Real-GPU variants of the circuit's tasks (feature `cuda`): NVRTC kernels on the instances'
//! device memory, one thread per wire or node. The arithmetic is the host kernels' (explicit
//! round-to-nearest intrinsics, so no fused multiply-adds), and charge is fixed point: the
//! `atomicAdd`s into private charge and into the reduction instances of shared and ghost nodes
//! are exact, so GPU results are bit-identical to the sequential reference too.

use super::graph::SEGMENTS;
use super::kernels::*;
use runtime::context::DeviceField;
use runtime::cuda::{Gpu, KArg, Kernel};
use runtime::{TaskCtx, TaskError};
use std::sync::Arc;

const SOURCE: &str = r#"
#define S 10
struct F { char* p; long long lo; long long hi; long long st; };
__device__ float* nodef(long long n, char* pp, long long plo, long long phi, long long pst,
    char* sp, long long slo, long long shi, long long sst, char* gp, long long glo, long long gst) {
  if (n >= plo && n <= phi) return (float*)(pp + (n - plo) * pst);
  if (n >= slo && n <= shi) return (float*)(sp + (n - slo) * sst);
  return (float*)(gp + (n - glo) * gst);
}
extern "C" __global__ void ci_currents(const long long* ptrs, long long nw, long long wlo,
    long long ist, long long fst, long long steps,
    char* pv, long long plo, long long phi, long long pst,
    char* sv, long long slo, long long shi, long long sst,
    char* gv, long long glo, long long gst) {
  long long t = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (t >= nw) return;
  char* const* f = (char* const*)ptrs;
  long long in = *(long long*)(f[0] + t * ist), out = *(long long*)(f[1] + t * ist);
  float l = *(float*)(f[2] + t * fst), r = *(float*)(f[3] + t * fst), c = *(float*)(f[4] + t * fst);
  float v[S + 1], i[S], oi[S], ov[S + 1];
  v[0] = *nodef(in, pv, plo, phi, pst, sv, slo, shi, sst, gv, glo, gst);
  v[S] = *nodef(out, pv, plo, phi, pst, sv, slo, shi, sst, gv, glo, gst);
  for (int k = 0; k < S; k++) i[k] = *(float*)(f[5 + k] + t * fst);
  for (int k = 0; k < S - 1; k++) v[k + 1] = *(float*)(f[5 + S + k] + t * fst);
  for (int k = 0; k < S; k++) oi[k] = i[k];
  for (int k = 0; k <= S; k++) ov[k] = v[k];
  const float dt = 1e-6f;
  float rdt = __fdiv_rn(1.0f, dt), rr = __fdiv_rn(1.0f, r), rc = __fdiv_rn(1.0f, c);
  for (long long j = 0; j < steps; j++) {
    for (int k = 0; k < S; k++)
      i[k] = __fmul_rn(__fsub_rn(__fsub_rn(v[k + 1], v[k]),
                                 __fmul_rn(__fmul_rn(l, __fsub_rn(i[k], oi[k])), rdt)), rr);
    for (int k = 0; k < S - 1; k++)
      v[k + 1] = __fadd_rn(ov[k + 1], __fmul_rn(__fmul_rn(dt, __fsub_rn(i[k], i[k + 1])), rc));
  }
  for (int k = 0; k < S; k++) *(float*)(f[5 + k] + t * fst) = i[k];
  for (int k = 0; k < S - 1; k++) *(float*)(f[5 + S + k] + t * fst) = v[k + 1];
}
__device__ long long charge_of(float cur, float scale) {
  return llroundf(__fmul_rn(__fmul_rn(1e-6f, cur), scale));
}
extern "C" __global__ void ci_charge(char* inp, char* outp, long long ist, char* c0, char* c9,
    long long fst, long long nw, float scale,
    char* pq, long long plo, long long phi, long long pst,
    char* sq, long long slo, long long shi, long long sst,
    char* gq, long long glo, long long gst) {
  long long t = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (t >= nw) return;
  long long ends[2] = { *(long long*)(inp + t * ist), *(long long*)(outp + t * ist) };
  long long dq[2] = { -charge_of(*(float*)(c0 + t * fst), scale),
                      charge_of(*(float*)(c9 + t * fst), scale) };
  for (int e = 0; e < 2; e++) {
    long long n = ends[e];
    char* a;
    if (n >= plo && n <= phi) a = pq + (n - plo) * pst;
    else if (n >= slo && n <= shi) a = sq + (n - slo) * sst;
    else a = gq + (n - glo) * gst;
    atomicAdd((unsigned long long*)a, (unsigned long long)dq[e]);
  }
}
extern "C" __global__ void ci_voltages(char* cap, char* leak, char* q, char* v, long long fst,
    long long qst, long long nn, float scale) {
  long long t = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (t >= nn) return;
  long long* qp = (long long*)(q + t * qst);
  float* vp = (float*)(v + t * fst);
  float nv = __fadd_rn(*vp, __fdiv_rn(__fdiv_rn((float)*qp, scale), *(float*)(cap + t * fst)));
  *vp = __fmul_rn(nv, __fsub_rn(1.0f, *(float*)(leak + t * fst)));
  *qp = 0;
}
"#;

fn err(ctx: &TaskCtx, e: String) -> TaskError {
    TaskError(format!("task `{}` on {}: {e}", ctx.task_name(), ctx.proc()))
}

fn bstride(f: &DeviceField) -> i64 {
    (f.strides[0] * f.elem_stride) as i64
}

fn count(f: &DeviceField) -> i64 {
    f.bounds.extents()[0].max(0)
}

fn blocks(n: i64) -> u32 {
    (n as u64).div_ceil(128).max(1) as u32
}

/// A node argument as kernel arguments: pointer, first and last index, byte stride.
fn node_args(f: &DeviceField) -> [KArg; 4] {
    [
        KArg::Ptr(f.ptr),
        KArg::I64(f.bounds.lo.get(0)),
        KArg::I64(f.bounds.hi.get(0)),
        KArg::I64(bstride(f)),
    ]
}

fn same_stride(ctx: &TaskCtx, fs: &[DeviceField]) -> Result<i64, TaskError> {
    let s = fs.first().map(bstride).unwrap_or(0);
    if fs.iter().any(|f| bstride(f) != s) {
        return Err(err(ctx, "wire fields of one type need one stride".into()));
    }
    Ok(s)
}

/// `calculate_new_currents` on a GPU: one thread per wire; the field pointers go to the
/// device in a small buffer.
pub fn calculate_new_currents(ctx: &TaskCtx, gpu: &Arc<Gpu>) -> Result<(), TaskError> {
    let steps = ctx.i64(0)?;
    let ptrs = [
        ctx.device_field::<i64>(0, IN_PTR)?,
        ctx.device_field::<i64>(0, OUT_PTR)?,
    ];
    let mut fl = Vec::new();
    for n in [INDUCTANCE, RESISTANCE, WIRE_CAP]
        .into_iter()
        .chain(CURRENT)
        .chain(WIRE_VOLTAGE)
    {
        fl.push(ctx.device_field::<f32>(0, n)?);
    }
    let nw = count(&ptrs[0]);
    if nw == 0 {
        return Ok(());
    }
    let (ist, fst) = (same_stride(ctx, &ptrs)?, same_stride(ctx, &fl)?);
    let table: Vec<u64> = ptrs.iter().chain(fl.iter()).map(|f| f.ptr).collect();
    let bytes: Vec<u8> = table.iter().flat_map(|p| p.to_ne_bytes()).collect();
    let dev = runtime::cuda::DeviceBuffer::new(gpu, bytes.len()).map_err(|e| err(ctx, e))?;
    // SAFETY: the buffer holds `bytes.len()` bytes and is used by this task only.
    unsafe { runtime::cuda::memory::htod(gpu, dev.ptr, &bytes) }.map_err(|e| err(ctx, e))?;
    let (pv, sv, gv) = (
        ctx.device_field::<f32>(1, VOLTAGE)?,
        ctx.device_field::<f32>(2, VOLTAGE)?,
        ctx.device_field::<f32>(3, VOLTAGE)?,
    );
    let k = Kernel::get(gpu, SOURCE, "ci_currents").map_err(|e| err(ctx, e))?;
    let mut args = vec![
        KArg::Ptr(dev.ptr),
        KArg::I64(nw),
        KArg::I64(ptrs[0].bounds.lo.get(0)),
        KArg::I64(ist),
        KArg::I64(fst),
        KArg::I64(steps),
    ];
    args.extend(node_args(&pv));
    args.extend(node_args(&sv));
    let g = node_args(&gv);
    args.extend([g[0], g[1], g[3]]);
    debug_assert_eq!(SEGMENTS, 10);
    // SAFETY: every field holds the piece's wires at these strides; node pointers index
    // instances that hold the nodes the wires reach.
    let launched = unsafe { k.launch(blocks(nw), 128, &args) }.map_err(|e| err(ctx, e));
    // The pointer table is freed on the allocation stream, which is not ordered with the
    // compute stream: the kernel must be done with it first.
    let synced = gpu.sync().map_err(|e| err(ctx, e));
    drop(dev);
    launched.and(synced)
}

/// `distribute_charge` on a GPU: one thread per wire, integer `atomicAdd`s (exact).
pub fn distribute_charge(ctx: &TaskCtx, gpu: &Arc<Gpu>) -> Result<(), TaskError> {
    let (inp, outp) = (
        ctx.device_field::<i64>(0, IN_PTR)?,
        ctx.device_field::<i64>(0, OUT_PTR)?,
    );
    let (c0, c9) = (
        ctx.device_field::<f32>(0, CURRENT[0])?,
        ctx.device_field::<f32>(0, CURRENT[SEGMENTS - 1])?,
    );
    let nw = count(&inp);
    if nw == 0 {
        return Ok(());
    }
    let (pq, sq, gq) = (
        ctx.device_field::<i64>(1, CHARGE)?,
        ctx.device_field::<i64>(2, CHARGE)?,
        ctx.device_field::<i64>(3, CHARGE)?,
    );
    let k = Kernel::get(gpu, SOURCE, "ci_charge").map_err(|e| err(ctx, e))?;
    let mut args = vec![
        KArg::Ptr(inp.ptr),
        KArg::Ptr(outp.ptr),
        KArg::I64(same_stride(ctx, &[inp, outp])?),
        KArg::Ptr(c0.ptr),
        KArg::Ptr(c9.ptr),
        KArg::I64(same_stride(ctx, &[c0, c9])?),
        KArg::I64(nw),
        KArg::F32(super::graph::CHARGE_SCALE),
    ];
    args.extend(node_args(&pq));
    args.extend(node_args(&sq));
    let g = node_args(&gq);
    args.extend([g[0], g[1], g[3]]);
    // SAFETY: as for the currents; the reduce arguments are the task's reduction instances.
    unsafe { k.launch(blocks(nw), 128, &args) }.map_err(|e| err(ctx, e))
}

/// `update_voltages` on a GPU: one thread per node, for the private and the shared nodes.
pub fn update_voltages(ctx: &TaskCtx, gpu: &Arc<Gpu>) -> Result<(), TaskError> {
    let k = Kernel::get(gpu, SOURCE, "ci_voltages").map_err(|e| err(ctx, e))?;
    for arg in 0..2 {
        let (cap, leak, v) = (
            ctx.device_field::<f32>(arg, CAPACITANCE)?,
            ctx.device_field::<f32>(arg, LEAKAGE)?,
            ctx.device_field::<f32>(arg, VOLTAGE)?,
        );
        let q = ctx.device_field::<i64>(arg, CHARGE)?;
        let nn = count(&v);
        if nn == 0 {
            continue;
        }
        let args = [
            KArg::Ptr(cap.ptr),
            KArg::Ptr(leak.ptr),
            KArg::Ptr(q.ptr),
            KArg::Ptr(v.ptr),
            KArg::I64(same_stride(ctx, &[cap, leak, v])?),
            KArg::I64(bstride(&q)),
            KArg::I64(nn),
            KArg::F32(super::graph::CHARGE_SCALE),
        ];
        // SAFETY: the fields hold the argument's nodes at these strides.
        unsafe { k.launch(blocks(nn), 128, &args) }.map_err(|e| err(ctx, e))?;
    }
    Ok(())
}
