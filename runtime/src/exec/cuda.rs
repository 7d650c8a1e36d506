//! Real GPU processors (the `cuda` feature on a `local` machine with a driver): each GPU
//! processor is a host thread bound to its device's context that runs the task's GPU variant;
//! the variant queues kernels and cuBLAS calls on the device's compute stream (reaching
//! instances through [`crate::TaskCtx::device_field`]), and the task completes once the stream
//! has drained. Host code in a variant still works: it sees framebuffer instances through their
//! host mirrors.

use super::cpu::Worker;
use crate::context::TaskCtx;
use crate::cuda::{Gpu, KArg, Kernel};
use crate::task::{CudaVariant, HostFn, TaskError, Value};
use mapper_core::ProcId;
use std::cell::RefCell;
use std::sync::Arc;

thread_local! {
    static CURRENT: RefCell<Option<Arc<Gpu>>> = const { RefCell::new(None) };
}

/// The real GPU of the calling processor thread, if any.
pub fn current_gpu() -> Option<Arc<Gpu>> {
    CURRENT.with(|c| c.borrow().clone())
}

/// Waits for the calling GPU processor's stream (after a task body).
pub fn finish_task() -> Result<(), String> {
    match current_gpu() {
        Some(g) => g.sync(),
        None => Ok(()),
    }
}

/// Spawns the thread of real GPU `gpu` for processor `id`.
pub fn spawn_gpu(id: ProcId, gpu: Arc<Gpu>) -> Worker {
    Worker::spawn_with(format!("cuda-{id}"), move || {
        let _ = gpu.bind();
        CURRENT.with(|c| *c.borrow_mut() = Some(gpu));
    })
}

/// The body that runs a [`CudaVariant`] (NVRTC source) on the calling GPU processor, with this
/// argument convention, for 1-D arguments: for each region argument, its bounds `lo, hi`
/// (`long long`), then for each of its fields in order a pointer to the field at point `lo` and
/// its stride in elements (`long long`; 1 for SOA, the record's fields for AOS); then `n`, the
/// largest argument volume (`long long`); then the scalar arguments as `double`. The grid has
/// `n` threads (256 a block): thread `t` usually handles point `lo + t` of its output.
pub fn cuda_variant_body(v: &CudaVariant) -> HostFn {
    let kernel = v.kernel.clone();
    let source = v.source.clone().unwrap_or_default();
    Arc::new(move |ctx: &TaskCtx| -> Result<Value, TaskError> {
        let gpu = ctx.cuda_gpu().ok_or_else(|| {
            TaskError(format!(
                "CUDA variant `{kernel}` of task `{}` needs a real GPU processor",
                ctx.task_name()
            ))
        })?;
        let k = Kernel::get(&gpu, &source, &kernel).map_err(TaskError)?;
        let mut args = Vec::new();
        let mut n = 0u64;
        for i in 0..ctx.num_args() {
            let b = ctx.bounds(i)?;
            if b.dim() != 1 {
                return Err(TaskError(format!(
                    "CUDA variant `{kernel}` of task `{}`: argument {i} is {}-D; the kernel \
                     convention covers 1-D arguments only",
                    ctx.task_name(),
                    b.dim()
                )));
            }
            n = n.max(b.volume());
            args.push(KArg::I64(b.lo.get(0)));
            args.push(KArg::I64(b.hi.get(0)));
            for f in ctx.field_ids(i)? {
                let d = ctx.device_field_raw(i, f)?;
                args.push(KArg::Ptr(d.ptr));
                args.push(KArg::I64(
                    (d.strides[0] * d.elem_stride / d.elem.max(1)) as i64,
                ));
            }
        }
        args.push(KArg::I64(n as i64));
        for s in ctx.scalars() {
            args.push(KArg::F64(s.as_f64().unwrap_or(0.0)));
        }
        if n == 0 {
            return Ok(Value::None);
        }
        // SAFETY: pointers come from the arguments' instances and cover their bounds at the
        // given strides; the kernel follows the documented convention.
        unsafe { k.launch(n.div_ceil(256) as u32, 256, &args) }.map_err(TaskError)?;
        Ok(Value::None)
    })
}
