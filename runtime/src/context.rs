//! The view a running task has of itself: its point, processor, scalar arguments and typed
//! accessors to its region arguments.

use crate::accessor::{RawField, ReadAccessor, ReduceAccessor, ReduceValue, View, WriteAccessor};
use crate::exec::{ArgInst, TaskWork};
use crate::field::{FieldId, FieldValue};
use crate::geom::{IndexSpace, Point, Rect, MAX_DIM};
#[cfg(feature = "cuda")]
use crate::instance::DeviceAccess;
use crate::instance::HostAccess;
use crate::task::{Privilege, TaskError, Value};
use mapper_core::{Layout, MemKind, ProcId, ProcKind};
use std::marker::PhantomData;
use std::sync::Mutex;

/// Names a field: by name (`"x"`) or by id.
pub trait FieldRef {
    /// Resolves against a field space.
    fn resolve(&self, fs: &crate::field::FieldSpace) -> Option<FieldId>;
}

impl FieldRef for &str {
    fn resolve(&self, fs: &crate::field::FieldSpace) -> Option<FieldId> {
        fs.id(self)
    }
}

impl FieldRef for FieldId {
    fn resolve(&self, fs: &crate::field::FieldSpace) -> Option<FieldId> {
        fs.get(*self).map(|_| *self)
    }
}

/// The context of a running task.
pub struct TaskCtx<'a> {
    pub(crate) work: &'a TaskWork,
    /// What the task did to its instances so far.
    pub(crate) io: Mutex<TaskIo>,
}

/// The accesses of a running task that the runtime completes when it ends.
#[derive(Debug, Default)]
pub(crate) struct TaskIo {
    /// (argument, field) pairs in GPU memory the task was given host access to write: their
    /// points are uploaded from the mirrors of framebuffer instances when the task ends (and
    /// before a device pointer is handed out, so that the task's own kernels see them).
    pub(crate) host_writes: Vec<(usize, FieldId)>,
    /// The task was handed device pointers: its queued GPU work finishes before host code
    /// touches an instance.
    #[cfg(feature = "cuda")]
    pub(crate) device: bool,
}

impl<'a> TaskCtx<'a> {
    /// The context of `work`, before its body runs.
    pub(crate) fn new(work: &'a TaskWork) -> TaskCtx<'a> {
        TaskCtx {
            work,
            io: Mutex::new(TaskIo::default()),
        }
    }

    fn io(&self) -> std::sync::MutexGuard<'_, TaskIo> {
        self.io.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// An id of this task unique among running tasks (the address of its work item).
    #[cfg(feature = "cuda")]
    pub(crate) fn token(&self) -> usize {
        self.work as *const TaskWork as usize
    }

    /// Gives host code access to `field` of argument `arg` (`a`): waits for the task's own
    /// queued GPU work first, makes the bytes current, and records a write for
    /// [`TaskCtx::publish_host_writes`].
    fn host_access(
        &self,
        arg: usize,
        a: &ArgInst,
        fid: FieldId,
        write: bool,
    ) -> Result<(), TaskError> {
        let err = |e: String| {
            TaskError(format!(
                "task `{}` argument `{}`: {e}",
                self.work.name, a.name
            ))
        };
        #[cfg(feature = "cuda")]
        if self.io().device {
            crate::exec::cuda::finish_task().map_err(err)?;
        }
        let access = if write {
            HostAccess::ReadWrite
        } else {
            HostAccess::Read
        };
        a.inst.host_acquire(fid, &a.space, access).map_err(err)?;
        // Host memory needs no publishing; FBMEM's mirror does.
        if write && a.inst.is_gpu_memory() {
            let mut io = self.io();
            if !io.host_writes.contains(&(arg, fid)) {
                io.host_writes.push((arg, fid));
            }
        }
        Ok(())
    }

    /// Uploads the points the task's host code may have written (see [`TaskIo::host_writes`]).
    pub(crate) fn publish_host_writes(&self) -> Result<(), String> {
        let writes = self.io().host_writes.clone();
        for (arg, fid) in writes {
            if let Some(a) = self.work.args.get(arg) {
                a.inst
                    .host_release(fid, &a.space)
                    .map_err(|e| format!("task `{}` argument `{}`: {e}", self.work.name, a.name))?;
            }
        }
        Ok(())
    }

    /// Task name.
    pub fn task_name(&self) -> &str {
        &self.work.name
    }

    /// The point (1-D 0 for a single launch).
    pub fn point(&self) -> Point {
        self.work.point
    }

    /// The launch domain (None for a single launch).
    pub fn domain(&self) -> Option<Rect> {
        self.work.domain
    }

    /// The processor running the task.
    pub fn proc(&self) -> ProcId {
        self.work.proc
    }

    /// The kind of that processor.
    pub fn kind(&self) -> ProcKind {
        self.work.proc.kind
    }

    /// Threads available to the task (the OMP pool size on an OMP processor, else 1).
    pub fn threads(&self) -> usize {
        self.work.threads.max(1) as usize
    }

    /// Scalar arguments.
    pub fn scalars(&self) -> &[Value] {
        &self.work.scalars
    }

    /// Scalar argument `i` as f64.
    pub fn f64(&self, i: usize) -> Result<f64, TaskError> {
        self.work
            .scalars
            .get(i)
            .and_then(Value::as_f64)
            .ok_or_else(|| TaskError(format!("scalar argument {i} is missing or not a number")))
    }

    /// Scalar argument `i` as i64.
    pub fn i64(&self, i: usize) -> Result<i64, TaskError> {
        self.work
            .scalars
            .get(i)
            .and_then(Value::as_i64)
            .ok_or_else(|| TaskError(format!("scalar argument {i} is missing or not an integer")))
    }

    fn arg(&self, arg: usize) -> Result<&'a ArgInst, TaskError> {
        self.work.args.get(arg).ok_or_else(|| {
            TaskError(format!(
                "task `{}` has {} region arguments; there is no argument {arg}",
                self.work.name,
                self.work.args.len()
            ))
        })
    }

    /// The points of region argument `arg`.
    pub fn space(&self, arg: usize) -> Result<&'a IndexSpace, TaskError> {
        Ok(&self.arg(arg)?.space)
    }

    /// The bounding rectangle of region argument `arg`.
    pub fn bounds(&self, arg: usize) -> Result<Rect, TaskError> {
        Ok(self.arg(arg)?.bounds)
    }

    /// The layout of the instance behind `arg`.
    pub fn layout(&self, arg: usize) -> Result<Layout, TaskError> {
        Ok(self.arg(arg)?.inst.layout.layout)
    }

    /// The memory kind holding `arg`'s instance.
    pub fn memory(&self, arg: usize) -> Result<MemKind, TaskError> {
        Ok(self.arg(arg)?.inst.mem.kind)
    }

    fn view<T: FieldValue>(
        &self,
        arg: usize,
        field: impl FieldRef,
        what: &str,
    ) -> Result<(View, &'a ArgInst, FieldId), TaskError> {
        let a = self.arg(arg)?;
        let fid = field
            .resolve(&a.field_space)
            .filter(|f| a.fields.contains(f))
            .ok_or_else(|| {
                TaskError(format!(
                    "task `{}` argument `{}`: no such field among the argument's fields {:?}",
                    self.work.name,
                    a.name,
                    a.fields
                        .iter()
                        .filter_map(|f| a.field_space.get(*f))
                        .map(|f| f.name.as_str())
                        .collect::<Vec<_>>()
                ))
            })?;
        let def = a
            .field_space
            .get(fid)
            .ok_or_else(|| TaskError("field vanished".into()))?;
        if def.ty != T::TYPE {
            return Err(TaskError(format!(
                "task `{}` argument `{}`: field `{}` has type {} but was {what} as {}",
                self.work.name,
                a.name,
                def.name,
                def.ty,
                T::TYPE
            )));
        }
        let write = a.privilege.writes() || matches!(a.privilege, Privilege::Reduce(_));
        self.host_access(arg, a, fid, write)?;
        let v = View::new(&a.inst, fid, a.bounds).ok_or_else(|| {
            TaskError(format!(
                "task `{}` argument `{}`: instance does not cover the argument",
                self.work.name, a.name
            ))
        })?;
        Ok((v, a, fid))
    }

    /// A read accessor for `field` of `arg` (any privilege but reduce).
    pub fn read<T: FieldValue>(
        &self,
        arg: usize,
        field: impl FieldRef,
    ) -> Result<ReadAccessor<'a, T>, TaskError> {
        let (v, a, _) = self.view::<T>(arg, field, "read")?;
        if matches!(a.privilege, Privilege::Reduce(_)) {
            return Err(TaskError(format!(
                "task `{}` argument `{}` has reduce privilege; use ctx.reduce",
                self.work.name, a.name
            )));
        }
        Ok(ReadAccessor { v, _p: PhantomData })
    }

    /// A read-write accessor for `field` of `arg` (write privileges only).
    pub fn write<T: FieldValue>(
        &self,
        arg: usize,
        field: impl FieldRef,
    ) -> Result<WriteAccessor<'a, T>, TaskError> {
        let (v, a, _) = self.view::<T>(arg, field, "written")?;
        if !a.privilege.writes() {
            return Err(TaskError(format!(
                "task `{}` argument `{}` has {:?} privilege; it cannot be written",
                self.work.name, a.name, a.privilege
            )));
        }
        Ok(WriteAccessor { v, _p: PhantomData })
    }

    /// A reduction accessor for `field` of `arg` (reduce privilege only).
    pub fn reduce<T: ReduceValue>(
        &self,
        arg: usize,
        field: impl FieldRef,
    ) -> Result<ReduceAccessor<'a, T>, TaskError> {
        let (v, a, _) = self.view::<T>(arg, field, "reduced")?;
        let Privilege::Reduce(op) = a.privilege else {
            return Err(TaskError(format!(
                "task `{}` argument `{}` does not have reduce privilege",
                self.work.name, a.name
            )));
        };
        Ok(ReduceAccessor {
            v,
            op,
            _p: PhantomData,
        })
    }

    /// The fast path: the SOA field as a slice with strides. Errors for AOS instances.
    pub fn raw<T: FieldValue>(
        &self,
        arg: usize,
        field: impl FieldRef,
    ) -> Result<RawField<'a, T>, TaskError> {
        self.raw_impl(arg, field, false)
    }

    /// The fast path for a reduce argument: the task's private reduction instance as a writable
    /// SOA slice, pre-filled with the operator's identity. The task must only combine values
    /// into it with the argument's operator (e.g. `+=` for a sum); the runtime folds it into
    /// the target after the task. Errors for other privileges and for AOS instances.
    pub fn raw_reduce<T: ReduceValue>(
        &self,
        arg: usize,
        field: impl FieldRef,
    ) -> Result<RawField<'a, T>, TaskError> {
        let a = self.arg(arg)?;
        if !matches!(a.privilege, Privilege::Reduce(_)) {
            return Err(TaskError(format!(
                "task `{}` argument `{}` does not have reduce privilege; use ctx.raw",
                self.work.name, a.name
            )));
        }
        self.raw_impl(arg, field, true)
    }

    fn raw_impl<T: FieldValue>(
        &self,
        arg: usize,
        field: impl FieldRef,
        reduce: bool,
    ) -> Result<RawField<'a, T>, TaskError> {
        let (_, a, fid) = self.view::<T>(arg, field, "accessed")?;
        let l = &a.inst.layout;
        if !l.layout.soa {
            return Err(TaskError(format!(
                "task `{}` argument `{}`: the instance is AOS; raw slices need an SOA layout (use ctx.read/ctx.write)",
                self.work.name, a.name
            )));
        }
        let slot = l.slot(fid).ok_or_else(|| TaskError("no slot".into()))?;
        let (lo, hi) = (a.bounds.lo, a.bounds.hi);
        let start = l.offset(slot, &lo);
        let end = l.offset(slot, &hi) + slot.stride;
        let mut strides = [0usize; MAX_DIM];
        for (d, s) in strides.iter_mut().enumerate() {
            *s = l.strides[d] as usize;
        }
        let write = a.privilege.writes() || matches!(a.privilege, Privilege::Reduce(_));
        self.host_access(arg, a, fid, write)?;
        // SAFETY: `start` is the offset of an in-bounds point.
        let ptr = unsafe { a.inst.base_ptr().add(start) } as *mut T;
        let len = if a.bounds.is_empty() {
            0
        } else {
            (end - start) / std::mem::size_of::<T>().max(1)
        };
        Ok(RawField {
            ptr,
            len,
            strides,
            bounds: a.bounds,
            c_order: l.layout.c_order,
            writable: a.privilege.writes() || reduce,
            _p: PhantomData,
        })
    }

    /// Counts the processor's other threads as busy until the guard drops, for a body that
    /// runs its own thread pool on them (a multithreaded GEMM), so that idle workers do not
    /// poll on their cores meanwhile ([`TaskCtx::parallel_for`] does this itself).
    pub fn pool_busy(&self) -> crate::exec::cpu::ActiveGuard {
        crate::exec::cpu::activity().scoped(self.threads().saturating_sub(1))
    }

    /// Runs `f(i)` for every `i` in `range`, split over the task's threads (the OMP pool on an
    /// OMP processor, sequential elsewhere).
    pub fn parallel_for(&self, range: std::ops::Range<i64>, f: impl Fn(i64) + Sync) {
        let n = self.threads();
        let len = (range.end - range.start).max(0);
        if n <= 1 || len < 2 {
            range.for_each(f);
            return;
        }
        let chunk = (len + n as i64 - 1) / n as i64;
        let f = &f;
        // The pool's threads besides the calling worker count as busy while they run.
        let _busy = crate::exec::cpu::activity().scoped(n - 1);
        std::thread::scope(|s| {
            for t in 0..n as i64 {
                let lo = range.start + t * chunk;
                let hi = (lo + chunk).min(range.end);
                if lo < hi {
                    s.spawn(move || (lo..hi).for_each(f));
                }
            }
        });
    }
}

/// A field of a region argument as GPU code sees it: the device address of the argument's
/// first point and the element strides of each dimension (see [`TaskCtx::device_field`]).
#[cfg(feature = "cuda")]
#[derive(Clone, Copy, Debug)]
pub struct DeviceField {
    /// Device address (FBMEM, or the device address of ZCMEM) of the first point.
    pub ptr: u64,
    /// Elements between consecutive points of each dimension.
    pub strides: [usize; MAX_DIM],
    /// Bytes between consecutive elements (the element size for SOA, the record for AOS).
    pub elem_stride: usize,
    /// Element size in bytes.
    pub elem: usize,
    /// The argument's bounds.
    pub bounds: Rect,
}

#[cfg(feature = "cuda")]
impl DeviceField {
    /// The last two dimensions as a matrix for cuBLAS (leading dimensions must have extent 1).
    pub fn mat(&self) -> Result<crate::cuda::gemm_plan::MatDesc, TaskError> {
        let d = self.bounds.dim();
        let e = self.bounds.extents();
        if d < 2 || (0..d - 2).any(|i| e[i] != 1) {
            return Err(TaskError(format!(
                "a matrix needs 2-D bounds (or leading extents of 1), got {:?}",
                self.bounds
            )));
        }
        Ok(crate::cuda::gemm_plan::MatDesc {
            rows: e[d - 2].max(0) as usize,
            cols: e[d - 1].max(0) as usize,
            elem: self.elem,
            row_stride: self.strides[d - 2] * self.elem_stride,
            col_stride: self.strides[d - 1] * self.elem_stride,
        })
    }
}

#[cfg(feature = "cuda")]
impl TaskCtx<'_> {
    /// The real GPU this task runs on (a GPU processor of a `local` machine with CUDA), or
    /// `None` (CPU processors, emulated GPUs).
    pub fn cuda_gpu(&self) -> Option<std::sync::Arc<crate::cuda::Gpu>> {
        crate::exec::cuda::current_gpu()
    }

    /// Number of region arguments.
    pub fn num_args(&self) -> usize {
        self.work.args.len()
    }

    /// The field ids of argument `arg`, in order.
    pub fn field_ids(&self, arg: usize) -> Result<Vec<FieldId>, TaskError> {
        Ok(self.arg(arg)?.fields.to_vec())
    }

    /// The device view of `field` of `arg` for GPU code: the instance must be in GPU memory
    /// (FBMEM or ZCMEM). Work queued on the GPU's stream is waited for when the task returns.
    pub fn device_field<T: FieldValue>(
        &self,
        arg: usize,
        field: impl FieldRef,
    ) -> Result<DeviceField, TaskError> {
        let a = self.arg(arg)?;
        let fid = field
            .resolve(&a.field_space)
            .filter(|f| a.fields.contains(f))
            .ok_or_else(|| {
                TaskError(format!(
                    "task `{}` argument `{}`: no such field",
                    self.work.name, a.name
                ))
            })?;
        let slot = *a
            .inst
            .layout
            .slot(fid)
            .ok_or_else(|| TaskError("no slot".into()))?;
        if slot.ty != T::TYPE {
            return Err(TaskError(format!(
                "task `{}` argument `{}`: field has type {} but was accessed as {}",
                self.work.name,
                a.name,
                slot.ty,
                T::TYPE
            )));
        }
        self.device_field_raw(arg, fid)
    }

    /// [`TaskCtx::device_field`] by field id, without a type check.
    pub fn device_field_raw(&self, arg: usize, fid: FieldId) -> Result<DeviceField, TaskError> {
        let a = self.arg(arg)?;
        let l = &a.inst.layout;
        let slot = *l.slot(fid).ok_or_else(|| {
            TaskError(format!(
                "task `{}` argument `{}`: the instance does not hold field #{fid}",
                self.work.name, a.name
            ))
        })?;
        let write = a.privilege.writes() || matches!(a.privilege, Privilege::Reduce(_));
        // The task's own host writes so far reach the device before its kernels run.
        self.publish_host_writes().map_err(TaskError)?;
        self.io().device = true;
        let access = match (write, crate::exec::cuda::current_gpu()) {
            (false, _) => DeviceAccess::Read,
            (true, Some(gpu)) => DeviceAccess::TaskWrite(fid, &a.space, self.token(), gpu),
            (true, None) => DeviceAccess::Write(fid, &a.space),
        };
        let base = a
            .inst
            .device_ptr(access)
            .map_err(|e| {
                TaskError(format!(
                    "task `{}` argument `{}`: {e}",
                    self.work.name, a.name
                ))
            })?
            .ok_or_else(|| {
                TaskError(format!(
                    "mapping error: task `{}` runs on {} but argument `{}` is in {} (host memory); \
                     map it to FBMEM or ZCMEM",
                    self.work.name, self.work.proc, a.name, a.inst.mem.label
                ))
            })?;
        let mut strides = [0usize; MAX_DIM];
        for (d, s) in strides.iter_mut().enumerate() {
            *s = l.strides[d] as usize;
        }
        let start = if a.bounds.is_empty() {
            slot.base
        } else {
            l.offset(&slot, &a.bounds.lo)
        };
        Ok(DeviceField {
            ptr: base + start as u64,
            strides,
            elem_stride: slot.stride,
            elem: slot.ty.size(),
            bounds: a.bounds,
        })
    }
}
