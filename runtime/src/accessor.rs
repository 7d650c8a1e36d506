//! Layout-aware typed accessors: task code reads, writes and reduces fields through them
//! whatever the instance layout (SOA/AOS, C/F order, alignment). [`RawField`] is the fast path:
//! a slice of an SOA field with its strides, for BLAS-style tile kernels.

use crate::field::FieldValue;
use crate::geom::{Point, Rect, MAX_DIM};
use crate::instance::{Instance, Reducible};
use crate::task::ReduceOp;
use std::marker::PhantomData;

/// Addressing of one field of one instance, restricted to an argument's bounds.
#[derive(Clone, Copy, Debug)]
pub(crate) struct View {
    base: *mut u8,
    lo: [i64; MAX_DIM],
    strides: [i64; MAX_DIM],
    stride_bytes: usize,
    dim: usize,
    bounds: Rect,
}

// SAFETY: a view is a pointer into an instance buffer kept alive by the running task; accesses
// are ordered by the dependence analysis.
unsafe impl Send for View {}
// SAFETY: as above.
unsafe impl Sync for View {}

impl View {
    /// The view of `field` of `inst` limited to `bounds` (which must lie inside the instance).
    pub(crate) fn new(inst: &Instance, field: usize, bounds: Rect) -> Option<View> {
        let slot = inst.layout.slot(field)?;
        let r = inst.layout.rect;
        if !r.contains_rect(&bounds) {
            return None;
        }
        let mut lo = [0; MAX_DIM];
        for (d, x) in lo.iter_mut().enumerate().take(r.dim()) {
            *x = r.lo.get(d);
        }
        // SAFETY: `slot.base` is inside the buffer.
        let base = unsafe { inst.base_ptr().add(slot.base) };
        Some(View {
            base,
            lo,
            strides: inst.layout.strides,
            stride_bytes: slot.stride,
            dim: r.dim(),
            bounds,
        })
    }

    #[inline]
    fn ptr(&self, p: &Point, what: &str) -> *mut u8 {
        if !self.bounds.contains(p) {
            panic!(
                "{what}: point {p} is outside the argument's bounds {:?}",
                self.bounds
            );
        }
        let mut l = 0i64;
        for d in 0..self.dim {
            l += (p.get(d) - self.lo[d]) * self.strides[d];
        }
        // SAFETY: `p` is inside `bounds`, which lies inside the instance rectangle.
        unsafe { self.base.add(l as usize * self.stride_bytes) }
    }
}

/// Reads a field of a region argument.
#[derive(Clone, Copy, Debug)]
pub struct ReadAccessor<'a, T> {
    pub(crate) v: View,
    pub(crate) _p: PhantomData<(&'a (), T)>,
}

impl<T: FieldValue> ReadAccessor<'_, T> {
    /// The value at `p`. Panics if `p` is outside the argument's bounds.
    #[inline]
    pub fn get(&self, p: impl Into<Point>) -> T {
        let p = p.into();
        // SAFETY: in bounds; the field holds a `T` (checked when the accessor was made).
        unsafe { std::ptr::read_unaligned(self.v.ptr(&p, "read") as *const T) }
    }

    /// The argument's bounding rectangle.
    pub fn bounds(&self) -> Rect {
        self.v.bounds
    }
}

/// Reads and writes a field of a region argument.
#[derive(Clone, Copy, Debug)]
pub struct WriteAccessor<'a, T> {
    pub(crate) v: View,
    pub(crate) _p: PhantomData<(&'a (), T)>,
}

impl<T: FieldValue> WriteAccessor<'_, T> {
    /// The value at `p`. Panics if `p` is outside the argument's bounds.
    #[inline]
    pub fn get(&self, p: impl Into<Point>) -> T {
        let p = p.into();
        // SAFETY: in bounds; the field holds a `T`.
        unsafe { std::ptr::read_unaligned(self.v.ptr(&p, "read") as *const T) }
    }

    /// Stores `v` at `p`. Panics if `p` is outside the argument's bounds.
    #[inline]
    pub fn set(&self, p: impl Into<Point>, v: T) {
        let p = p.into();
        // SAFETY: in bounds; the field holds a `T`; the task has write privilege.
        unsafe { std::ptr::write_unaligned(self.v.ptr(&p, "write") as *mut T, v) }
    }

    /// The argument's bounding rectangle.
    pub fn bounds(&self) -> Rect {
        self.v.bounds
    }
}

/// A scalar field type that reductions combine.
pub trait ReduceValue: FieldValue + Reducible {}
impl<T: FieldValue + Reducible> ReduceValue for T {}

/// Folds values into a field of a reduction argument (the task's private reduction instance).
#[derive(Debug)]
pub struct ReduceAccessor<'a, T> {
    pub(crate) v: View,
    pub(crate) op: ReduceOp,
    pub(crate) _p: PhantomData<(&'a (), T, std::cell::Cell<()>)>,
}

impl<T: ReduceValue> ReduceAccessor<'_, T> {
    /// Combines `v` into the value at `p` with the argument's operator.
    #[inline]
    pub fn fold(&self, p: impl Into<Point>, v: T) {
        let p = p.into();
        let ptr = self.v.ptr(&p, "reduce") as *mut T;
        // SAFETY: in bounds; the field holds a `T`; the reduction instance is private to the task
        // and the accessor is not `Sync`.
        unsafe {
            std::ptr::write_unaligned(ptr, T::combine(self.op, std::ptr::read_unaligned(ptr), v))
        }
    }

    /// The operator.
    pub fn op(&self) -> ReduceOp {
        self.op
    }
}

/// Direct access to an SOA field: a slice covering the argument's bounding rectangle, laid out
/// with the instance's strides (in elements), for tile kernels.
#[derive(Debug)]
pub struct RawField<'a, T> {
    pub(crate) ptr: *mut T,
    pub(crate) len: usize,
    pub(crate) strides: [usize; MAX_DIM],
    pub(crate) bounds: Rect,
    pub(crate) c_order: bool,
    pub(crate) writable: bool,
    pub(crate) _p: PhantomData<&'a mut [T]>,
}

impl<'a, T: FieldValue> RawField<'a, T> {
    /// The elements from the bounds' low corner to its high corner (inclusive) in instance
    /// order. Element of point `p` is at [`RawField::index`].
    pub fn as_slice(&self) -> &[T] {
        // SAFETY: `ptr..ptr+len` lies inside the instance buffer (computed from in-bounds corners).
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }

    /// The same span, mutable; `None` unless the argument has write privilege. Only the
    /// argument's points may be written (other elements of the span may belong to other tasks).
    pub fn as_mut_slice(&mut self) -> Option<&mut [T]> {
        if !self.writable {
            return None;
        }
        // SAFETY: as in `as_slice`; the task has write privilege on its points.
        Some(unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len) })
    }

    /// Element strides per dimension (the leading dimension of a 2-D tile is `strides()[0]` in
    /// C order, `strides()[1]` in F order).
    pub fn strides(&self) -> [usize; MAX_DIM] {
        self.strides
    }

    /// True for C order (last dimension contiguous), false for F order.
    pub fn c_order(&self) -> bool {
        self.c_order
    }

    /// The argument's bounding rectangle.
    pub fn bounds(&self) -> Rect {
        self.bounds
    }

    /// Index into the slice of point `p`, if inside the bounds.
    pub fn index(&self, p: impl Into<Point>) -> Option<usize> {
        let p = p.into();
        if !self.bounds.contains(&p) {
            return None;
        }
        Some(
            (0..p.dim())
                .map(|d| (p.get(d) - self.bounds.lo.get(d)) as usize * self.strides[d])
                .sum(),
        )
    }
}
