//! The stencil's host kernels (CPUs, OMP pools and emulated GPUs) and its cost model for the
//! simulator.
//!
//! On SOA instances the kernels work on the instances' strided slices, row by row, with the
//! inner loop over x on plain slices when x has unit stride (C order), so the compiler
//! vectorises it; other layouts go through the layout-aware accessors.

use super::{RADIUS, WEIGHTS};
use runtime::accessor::RawField;
use runtime::task::{Cost, CostModel};
use runtime::{Point, Rect, TaskCtx, TaskError, Value};
use std::sync::Arc;

/// Field names.
pub const INPUT: &str = "input";
/// Field names.
pub const OUTPUT: &str = "output";

/// Element strides (y, x) and the first point of a raw field.
fn geometry<T: runtime::FieldValue>(raw: &RawField<'_, T>) -> (usize, usize, Rect) {
    let s = raw.strides();
    (s[0], s[1], raw.bounds())
}

/// A raw pointer that may cross into the threads of `parallel_for`.
#[derive(Clone, Copy)]
struct SendPtr(*mut f64);
// SAFETY: each thread writes disjoint rows; the task owns the instance while it runs.
unsafe impl Send for SendPtr {}
// SAFETY: as above.
unsafe impl Sync for SendPtr {}

impl SendPtr {
    /// The pointer `i` elements further.
    ///
    /// # Safety
    /// The result must stay inside the allocation.
    unsafe fn at(self, i: usize) -> *mut f64 {
        // SAFETY: forwarded.
        unsafe { self.0.add(i) }
    }
}

/// `init(tile)`: input = x + y, output = 0 on the tile (x is dimension 1, y dimension 0).
pub fn init(ctx: &TaskCtx) -> Result<Value, TaskError> {
    #[cfg(feature = "cuda")]
    if let Some(gpu) = ctx.cuda_gpu() {
        return super::gpu::init(ctx, &gpu).map(|()| Value::None);
    }
    if ctx.layout(0)?.soa {
        let mut inp = ctx.raw::<f64>(0, INPUT)?;
        let mut out = ctx.raw::<f64>(0, OUTPUT)?;
        let (sy, sx, b) = geometry(&inp);
        let (oy, ox, _) = geometry(&out);
        let (ny, nx) = extents(&b);
        let (y0, x0) = (b.lo.get(0), b.lo.get(1));
        let ip = slice_mut(&mut inp, ctx)?;
        let op = slice_mut(&mut out, ctx)?;
        for j in 0..ny {
            for i in 0..nx {
                ip[j * sy + i * sx] = (x0 + i as i64 + y0 + j as i64) as f64;
                op[j * oy + i * ox] = 0.0;
            }
        }
    } else {
        let wi = ctx.write::<f64>(0, INPUT)?;
        let wo = ctx.write::<f64>(0, OUTPUT)?;
        for p in ctx.space(0)?.iter() {
            wi.set(p, (p.get(0) + p.get(1)) as f64);
            wo.set(p, 0.0);
        }
    }
    Ok(Value::None)
}

fn extents(b: &Rect) -> (usize, usize) {
    let e = b.extents();
    (e[0].max(0) as usize, e[1].max(0) as usize)
}

fn slice_mut<'a>(
    raw: &'a mut RawField<'_, f64>,
    ctx: &TaskCtx,
) -> Result<&'a mut [f64], TaskError> {
    raw.as_mut_slice()
        .ok_or_else(|| TaskError(format!("task `{}`: field is not writable", ctx.task_name())))
}

/// `stencil(ghost, out)`: `output += Σ w_i (input(+i) - input(-i))` along x and y, on the
/// points of `out` (all at least R from the grid's edge), reading `input` through `ghost`.
pub fn stencil(ctx: &TaskCtx) -> Result<Value, TaskError> {
    #[cfg(feature = "cuda")]
    if let Some(gpu) = ctx.cuda_gpu() {
        return super::gpu::stencil(ctx, &gpu).map(|()| Value::None);
    }
    let ob = ctx.bounds(1)?;
    if ob.is_empty() {
        return Ok(Value::None);
    }
    if ctx.layout(0)?.soa && ctx.layout(1)?.soa {
        let inp = ctx.raw::<f64>(0, INPUT)?;
        let mut out = ctx.raw::<f64>(1, OUTPUT)?;
        let (sy, sx, gb) = geometry(&inp);
        let (oy, ox, _) = geometry(&out);
        let (ny, nx) = extents(&ob);
        // Offsets of the output's first point inside the ghost field.
        let dy = (ob.lo.get(0) - gb.lo.get(0)) as usize;
        let dx = (ob.lo.get(1) - gb.lo.get(1)) as usize;
        let src = inp.as_slice();
        let dst = SendPtr(slice_mut(&mut out, ctx)?.as_mut_ptr());
        let r = RADIUS as usize;
        ctx.parallel_for(0..ny as i64, |j| {
            let j = j as usize;
            // SAFETY: row j of the output is written by this iteration only; the pointer
            // covers every row at stride `oy`.
            let row = |k: usize| unsafe { dst.at(j * oy + k * ox) };
            let c = (dy + j) * sy + dx * sx;
            if sx == 1 && ox == 1 {
                // SAFETY: the row holds nx elements at unit stride.
                let o = unsafe { std::slice::from_raw_parts_mut(row(0), nx) };
                // The eight neighbours of the row as slices of exactly nx elements, so the
                // loop has no bounds checks and vectorises.
                let at = |off: usize| &src[off..off + nx];
                let (xm2, xm1, xp1, xp2) = (at(c - 2), at(c - 1), at(c + 1), at(c + 2));
                let (ym2, ym1, yp1, yp2) = (at(c - 2 * sy), at(c - sy), at(c + sy), at(c + 2 * sy));
                let [w1, w2] = WEIGHTS;
                for k in 0..o.len().min(nx) {
                    let mut acc = 0.0;
                    acc += w1 * (xp1[k] - xm1[k]);
                    acc += w2 * (xp2[k] - xm2[k]);
                    acc += w1 * (yp1[k] - ym1[k]);
                    acc += w2 * (yp2[k] - ym2[k]);
                    o[k] += acc;
                }
            } else {
                for k in 0..nx {
                    let p = c + k * sx;
                    let mut acc = 0.0;
                    for (w, i) in WEIGHTS.iter().zip(1..=r) {
                        acc += w * (src[p + i * sx] - src[p - i * sx]);
                    }
                    for (w, i) in WEIGHTS.iter().zip(1..=r) {
                        acc += w * (src[p + i * sy] - src[p - i * sy]);
                    }
                    // SAFETY: (j, k) is a point of the output.
                    unsafe { *row(k) += acc };
                }
            }
        });
    } else {
        let rd = ctx.read::<f64>(0, INPUT)?;
        let wr = ctx.write::<f64>(1, OUTPUT)?;
        for p in ctx.space(1)?.iter() {
            let (y, x) = (p.get(0), p.get(1));
            let mut acc = 0.0;
            for (w, i) in WEIGHTS.iter().zip(1..=RADIUS) {
                acc += w * (rd.get(Point::p2(y, x + i)) - rd.get(Point::p2(y, x - i)));
            }
            for (w, i) in WEIGHTS.iter().zip(1..=RADIUS) {
                acc += w * (rd.get(Point::p2(y + i, x)) - rd.get(Point::p2(y - i, x)));
            }
            wr.set(p, wr.get(p) + acc);
        }
    }
    Ok(Value::None)
}

/// `increment(tile)`: input += 1.
pub fn increment(ctx: &TaskCtx) -> Result<Value, TaskError> {
    #[cfg(feature = "cuda")]
    if let Some(gpu) = ctx.cuda_gpu() {
        return super::gpu::increment(ctx, &gpu).map(|()| Value::None);
    }
    if ctx.layout(0)?.soa {
        let mut inp = ctx.raw::<f64>(0, INPUT)?;
        let (sy, sx, b) = geometry(&inp);
        let (ny, nx) = extents(&b);
        let dst = SendPtr(slice_mut(&mut inp, ctx)?.as_mut_ptr());
        ctx.parallel_for(0..ny as i64, |j| {
            let j = j as usize;
            if sx == 1 {
                // SAFETY: row j holds nx elements at unit stride and is written here only.
                let row = unsafe { std::slice::from_raw_parts_mut(dst.at(j * sy), nx) };
                row.iter_mut().for_each(|v| *v += 1.0);
            } else {
                for k in 0..nx {
                    // SAFETY: (j, k) is a point of the tile.
                    unsafe { *dst.at(j * sy + k * sx) += 1.0 };
                }
            }
        });
    } else {
        let w = ctx.write::<f64>(0, INPUT)?;
        for p in ctx.space(0)?.iter() {
            w.set(p, w.get(p) + 1.0);
        }
    }
    Ok(Value::None)
}

/// Simulator cost of `stencil`: 4R multiply-adds and 4R subtractions per output point; bytes:
/// the ghost's input once, the output read and written.
pub fn stencil_cost() -> CostModel {
    CostModel::PerArgs(Arc::new(|rects, _| {
        let v = |i: usize| rects.get(i).map(|r| r.volume() as f64).unwrap_or(0.0);
        Cost {
            flops: 12.0 * RADIUS as f64 * v(1),
            bytes: vec![8.0 * v(0), 16.0 * v(1)],
            streamed: Vec::new(),
        }
    }))
}

/// Simulator cost of `increment`: one add per point, the input read and written.
pub fn increment_cost() -> CostModel {
    CostModel::PerArgs(Arc::new(|rects, _| {
        let v = rects.first().map(|r| r.volume() as f64).unwrap_or(0.0);
        Cost {
            flops: v,
            bytes: vec![16.0 * v],
            streamed: Vec::new(),
        }
    }))
}

/// Simulator cost of `init`: both fields written.
pub fn init_cost() -> CostModel {
    CostModel::PerArgs(Arc::new(|rects, _| {
        let v = rects.first().map(|r| r.volume() as f64).unwrap_or(0.0);
        Cost {
            flops: v,
            bytes: vec![16.0 * v],
            streamed: Vec::new(),
        }
    }))
}
