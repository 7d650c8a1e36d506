//! Instance layouts: where each field of each point lives in an instance buffer. SOA puts one
//! array per field (each array starting at a multiple of the alignment), AOS interleaves the
//! fields of a point in one record; C order makes the last dimension fastest, F order the first.

use crate::field::{FieldId, FieldType};
use crate::geom::{Point, Rect, MAX_DIM};
use mapper_core::Layout;

/// Where one field lives in an instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FieldSlot {
    /// The field.
    pub field: FieldId,
    /// Its type.
    pub ty: FieldType,
    /// Byte offset of the field of the first point.
    pub base: usize,
    /// Bytes between consecutive points in linear order.
    pub stride: usize,
}

/// The byte layout of an instance covering `rect`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstLayout {
    /// The points covered.
    pub rect: Rect,
    /// The layout constraints it was built from.
    pub layout: Layout,
    /// Linear index stride of each dimension (in points).
    pub strides: [i64; MAX_DIM],
    /// Field placements.
    pub slots: Vec<FieldSlot>,
    /// Total bytes.
    pub bytes: usize,
    /// Alignment of the buffer start.
    pub align: usize,
}

fn round_up(x: usize, a: usize) -> Option<usize> {
    let a = a.max(1);
    x.checked_add(a - 1).map(|v| v / a * a)
}

impl InstLayout {
    /// Computes the layout of `fields` over `rect`; `None` if the size overflows.
    pub fn new(rect: Rect, fields: &[(FieldId, FieldType)], layout: Layout) -> Option<InstLayout> {
        let dim = rect.dim();
        let ext = rect.extents();
        let mut strides = [0i64; MAX_DIM];
        let mut acc: i64 = 1;
        if layout.c_order {
            for d in (0..dim).rev() {
                strides[d] = acc;
                acc = acc.checked_mul(ext[d].max(1))?;
            }
        } else {
            for d in 0..dim {
                strides[d] = acc;
                acc = acc.checked_mul(ext[d].max(1))?;
            }
        }
        let volume = usize::try_from(rect.volume()).ok()?;
        let user_align = layout.align as usize;
        let mut slots = Vec::with_capacity(fields.len());
        let mut max_align = 16usize.max(user_align.next_power_of_two());
        let bytes;
        if layout.soa {
            let mut off = 0usize;
            for &(field, ty) in fields {
                let a = ty.align().max(user_align);
                off = round_up(off, a)?;
                slots.push(FieldSlot {
                    field,
                    ty,
                    base: off,
                    stride: ty.size(),
                });
                off = off.checked_add(ty.size().checked_mul(volume)?)?;
            }
            bytes = off;
        } else {
            let mut off = 0usize;
            let mut rec_align = 1usize;
            for &(field, ty) in fields {
                off = round_up(off, ty.align())?;
                slots.push(FieldSlot {
                    field,
                    ty,
                    base: off,
                    stride: 0,
                });
                off += ty.size();
                rec_align = rec_align.max(ty.align());
            }
            let rec = round_up(off, rec_align)?;
            for s in &mut slots {
                s.stride = rec;
            }
            bytes = rec.checked_mul(volume)?;
            max_align = max_align.max(rec_align);
        }
        Some(InstLayout {
            rect,
            layout,
            strides,
            slots,
            bytes,
            align: max_align,
        })
    }

    /// The slot of `field`.
    pub fn slot(&self, field: FieldId) -> Option<&FieldSlot> {
        self.slots.iter().find(|s| s.field == field)
    }

    /// Linear index of `p` (must lie in `rect`).
    pub fn linear(&self, p: &Point) -> usize {
        let mut l = 0i64;
        for d in 0..self.rect.dim() {
            l += (p.get(d) - self.rect.lo.get(d)) * self.strides[d];
        }
        l as usize
    }

    /// Byte offset of field `slot` at point `p` (must lie in `rect`).
    pub fn offset(&self, slot: &FieldSlot, p: &Point) -> usize {
        slot.base + self.linear(p) * slot.stride
    }

    /// The dimension whose consecutive points are adjacent (last for C order, first for F).
    pub fn fastest_dim(&self) -> usize {
        if self.layout.c_order {
            self.rect.dim().saturating_sub(1)
        } else {
            0
        }
    }

    /// True if the fields of `other` over the same points sit at the same byte offsets.
    pub fn same_bytes(&self, other: &InstLayout) -> bool {
        self.rect == other.rect && self.strides == other.strides && self.slots == other.slots
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field::Prim;

    fn f64t() -> FieldType {
        FieldType::scalar(Prim::F64)
    }
    fn f32t() -> FieldType {
        FieldType::scalar(Prim::F32)
    }

    #[test]
    fn soa_c_order_offsets() {
        let l = InstLayout::new(
            Rect::r2((0, 0), (1, 2)),
            &[(0, f32t()), (1, f64t())],
            Layout::default(),
        )
        .unwrap();
        // f32 array: 6 * 4 = 24 bytes, f64 array starts at 24 (8-aligned).
        assert_eq!(l.slots[1].base, 24);
        assert_eq!(l.bytes, 24 + 48);
        assert_eq!(l.offset(&l.slots[0], &Point::p2(1, 1)), 4 * 4);
        assert_eq!(l.offset(&l.slots[1], &Point::p2(0, 2)), 24 + 2 * 8);
    }

    #[test]
    fn soa_alignment_pads_arrays() {
        let lay = Layout {
            align: 64,
            ..Layout::default()
        };
        let l = InstLayout::new(Rect::r1(0, 2), &[(0, f32t()), (1, f32t())], lay).unwrap();
        assert_eq!(l.slots[1].base, 64);
        assert_eq!(l.bytes, 64 + 12);
        assert_eq!(l.align, 64);
    }

    #[test]
    fn aos_f_order_offsets() {
        let lay = Layout {
            soa: false,
            c_order: false,
            ..Layout::default()
        };
        let l =
            InstLayout::new(Rect::r2((0, 0), (1, 2)), &[(0, f32t()), (1, f64t())], lay).unwrap();
        // Record: f32 at 0, f64 at 8, size 16. F order: (1, 1) is linear 1 + 1 * 2 = 3.
        assert_eq!(l.slots[1].base, 8);
        assert_eq!(l.slots[0].stride, 16);
        assert_eq!(l.offset(&l.slots[1], &Point::p2(1, 1)), 3 * 16 + 8);
        assert_eq!(l.bytes, 96);
        assert_eq!(l.fastest_dim(), 0);
    }
}
