//! Bookkeeping of the host mirror of a framebuffer (FBMEM) instance, pure and built without the
//! `cuda` feature so that it is unit-tested everywhere.
//!
//! Host-side operations on an FBMEM instance (layout-translating copies, folds, fills, host
//! task bodies, `read_field`) work on its host mirror. Operations that touch disjoint points or
//! fields of one instance are not ordered by the dependence analysis and may run at the same
//! time, one of them a GPU kernel. So the mirror never moves more than an operation owns:
//! [`field_spans`] gives the bytes of one field over a rectangle (as few strided [`Span`]s as
//! the layout allows), which is all a host write uploads and all a host read downloads; and
//! [`Fresh`] records which points of each field the mirror holds as the device does, so that a
//! download fetches only what a device write made stale.

use crate::field::FieldId;
use crate::geom::{Rect, MAX_DIM};
use crate::layout::{FieldSlot, InstLayout};

/// Bytes of an instance: `count` blocks of `len` bytes, the first at byte `offset`, each
/// `pitch` bytes after the previous one (`pitch == len` when `count == 1`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    /// Byte offset of the first block.
    pub offset: usize,
    /// Bytes per block.
    pub len: usize,
    /// Bytes from the start of one block to the start of the next (at least `len`).
    pub pitch: usize,
    /// Number of blocks.
    pub count: usize,
}

impl Span {
    /// One contiguous block.
    pub fn block(offset: usize, len: usize) -> Span {
        Span {
            offset,
            len,
            pitch: len,
            count: 1,
        }
    }

    /// Bytes covered.
    pub fn bytes(&self) -> usize {
        self.len * self.count
    }

    /// One past the last byte covered.
    pub fn end(&self) -> usize {
        if self.count == 0 {
            self.offset
        } else {
            self.offset + (self.count - 1) * self.pitch + self.len
        }
    }

    /// The start of each block.
    pub fn starts(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.count).map(move |k| self.offset + k * self.pitch)
    }

    /// Appends `next` (which starts after `self`'s last block) to `self` if the union is again
    /// one span; returns false, leaving `self` as it was, otherwise.
    fn absorb(&mut self, next: &Span) -> bool {
        if self.count == 1 && next.count == 1 && next.offset == self.offset + self.len {
            // Contiguous: one longer block.
            self.len += next.len;
            self.pitch = self.len;
            return true;
        }
        if self.len != next.len {
            return false;
        }
        let pitch = match (self.count, next.count) {
            (1, 1) => next.offset.checked_sub(self.offset),
            (1, _) => Some(next.pitch),
            (_, 1) => Some(self.pitch),
            _ => (self.pitch == next.pitch).then_some(self.pitch),
        };
        match pitch {
            Some(p) if p >= self.len && next.offset == self.offset + self.count * p => {
                self.pitch = p;
                self.count += next.count;
                true
            }
            _ => false,
        }
    }
}

/// Appends to `out` the bytes of the field in `slot` at the points of `rect` (clipped to the
/// instance's rectangle) in an instance laid out by `layout`: one span per row of points along
/// the fastest dimension, merged while consecutive rows continue a span (a whole SOA field is
/// one block, an SOA sub-rectangle of a 2-D instance one strided span, an AOS row one span of
/// single elements a record apart). The spans cover exactly those bytes: no other point's, no
/// other field's.
pub fn field_spans(layout: &InstLayout, slot: &FieldSlot, rect: &Rect, out: &mut Vec<Span>) {
    let r = rect.intersect(&layout.rect);
    let dim = r.dim();
    if r.is_empty() || dim == 0 || dim != layout.rect.dim() {
        return;
    }
    let size = slot.ty.size();
    if size == 0 {
        return;
    }
    let ext = r.extents();
    let fd = layout.fastest_dim();
    let run = ext[fd] as usize;
    // The other dimensions, the one of smallest stride first: counting through them like an
    // odometer visits the rows in increasing byte order.
    let mut others: Vec<usize> = (0..dim).filter(|&d| d != fd).collect();
    others.sort_by_key(|&d| layout.strides[d]);
    let mut lo = [0i64; MAX_DIM];
    for (d, x) in lo.iter_mut().enumerate().take(dim) {
        *x = r.lo.get(d) - layout.rect.lo.get(d);
    }
    let mut at = [0i64; MAX_DIM];
    loop {
        let linear: i64 = (0..dim).map(|d| (lo[d] + at[d]) * layout.strides[d]).sum();
        let offset = slot.base + linear as usize * slot.stride;
        let row = if slot.stride == size || run == 1 {
            Span::block(offset, run * size)
        } else {
            Span {
                offset,
                len: size,
                pitch: slot.stride,
                count: run,
            }
        };
        if !out.last_mut().is_some_and(|last| last.absorb(&row)) {
            out.push(row);
        }
        // Next row.
        let mut k = 0;
        loop {
            let Some(&d) = others.get(k) else {
                return;
            };
            at[d] += 1;
            if at[d] < ext[d] {
                break;
            }
            at[d] = 0;
            k += 1;
        }
    }
}

/// The points of each field whose mirror bytes are known to equal the device's, as a short
/// list of rectangles per field. Dropping an entry is always safe (it only costs a download),
/// so the list is kept short by forgetting the oldest entries.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fresh {
    entries: Vec<(FieldId, Rect)>,
}

impl Fresh {
    /// Most entries kept.
    pub const MAX_ENTRIES: usize = 64;

    /// Every point of `rect` of every field in `fields` (a new instance: device and mirror are
    /// both zeroed).
    pub fn all(fields: impl IntoIterator<Item = FieldId>, rect: Rect) -> Fresh {
        Fresh {
            entries: fields.into_iter().map(|f| (f, rect)).collect(),
        }
    }

    /// The parts of `rect` of `field` that are not fresh (what a host read must download).
    pub fn missing(&self, field: FieldId, rect: &Rect) -> Vec<Rect> {
        let mut left = if rect.is_empty() { vec![] } else { vec![*rect] };
        for (f, e) in &self.entries {
            if *f != field || left.is_empty() {
                continue;
            }
            let mut next = Vec::with_capacity(left.len());
            for r in &left {
                r.subtract(e, &mut next);
            }
            left = next;
        }
        left
    }

    /// Records that the mirror holds `rect` of `field` as the device does (after a download or
    /// an upload).
    pub fn add(&mut self, field: FieldId, rect: Rect) {
        if rect.is_empty() {
            return;
        }
        if self
            .entries
            .iter()
            .any(|(f, e)| *f == field && e.contains_rect(&rect))
        {
            return;
        }
        self.entries
            .retain(|(f, e)| !(*f == field && rect.contains_rect(e)));
        self.entries.push((field, rect));
        self.trim();
    }

    /// Records that the device is writing `rect` of `field` (the mirror's bytes go stale).
    pub fn remove(&mut self, field: FieldId, rect: &Rect) {
        if rect.is_empty()
            || !self
                .entries
                .iter()
                .any(|(f, e)| *f == field && e.overlaps(rect))
        {
            return;
        }
        let mut kept = Vec::with_capacity(self.entries.len() + 4);
        let mut pieces = Vec::new();
        for &(f, e) in &self.entries {
            if f == field && e.overlaps(rect) {
                pieces.clear();
                e.subtract(rect, &mut pieces);
                kept.extend(pieces.iter().map(|p| (f, *p)));
            } else {
                kept.push((f, e));
            }
        }
        self.entries = kept;
        self.trim();
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True if nothing is known fresh.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn trim(&mut self) {
        if self.entries.len() > Self::MAX_ENTRIES {
            let n = self.entries.len() - Self::MAX_ENTRIES;
            self.entries.drain(..n);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field::{FieldType, Prim};
    use crate::geom::Point;
    use mapper_core::Layout;
    use std::collections::BTreeSet;

    fn fields() -> Vec<(FieldId, FieldType)> {
        vec![
            (0, FieldType::scalar(Prim::F64)),
            (1, FieldType::scalar(Prim::I32)),
            (2, FieldType::array(Prim::F32, 3)),
        ]
    }

    fn layouts(rect: Rect) -> Vec<InstLayout> {
        let mut v = Vec::new();
        for soa in [true, false] {
            for c_order in [true, false] {
                let l = Layout {
                    soa,
                    c_order,
                    ..Layout::default()
                };
                v.push(InstLayout::new(rect, &fields(), l).unwrap());
            }
        }
        v
    }

    /// The bytes of `field` at the points of `r`, point by point.
    fn expected(l: &InstLayout, field: FieldId, r: &Rect) -> BTreeSet<usize> {
        let s = l.slot(field).unwrap();
        let mut b = BTreeSet::new();
        for p in r.intersect(&l.rect).iter() {
            let o = l.offset(s, &p);
            b.extend(o..o + s.ty.size());
        }
        b
    }

    fn covered(spans: &[Span]) -> (BTreeSet<usize>, usize) {
        let mut b = BTreeSet::new();
        let mut total = 0;
        for s in spans {
            assert!(s.pitch >= s.len && s.count >= 1, "{s:?}");
            for st in s.starts() {
                b.extend(st..st + s.len);
            }
            total += s.bytes();
        }
        (b, total)
    }

    fn spans(l: &InstLayout, field: FieldId, r: &Rect) -> Vec<Span> {
        let mut v = Vec::new();
        field_spans(l, l.slot(field).unwrap(), r, &mut v);
        v
    }

    fn sub_rects(rect: &Rect) -> Vec<Rect> {
        let dim = rect.dim();
        let mut v = vec![*rect];
        let (lo, hi) = (rect.lo, rect.hi);
        // Each dimension: lower part, middle, upper part, single plane.
        for d in 0..dim {
            let (a, b) = (lo.get(d), hi.get(d));
            let mid = (a + b) / 2;
            for (x, y) in [(a, mid), (mid + 1, b), (a + 1, b - 1), (mid, mid)] {
                let mut r = *rect;
                let mut l2 = [0i64; 3];
                let mut h2 = [0i64; 3];
                for k in 0..dim {
                    l2[k] = if k == d { x } else { lo.get(k) };
                    h2[k] = if k == d { y } else { hi.get(k) };
                }
                r.lo = Point::new(&l2[..dim]).unwrap();
                r.hi = Point::new(&h2[..dim]).unwrap();
                v.push(r);
            }
        }
        // An interior box.
        let mut l2 = [0i64; 3];
        let mut h2 = [0i64; 3];
        for k in 0..dim {
            l2[k] = lo.get(k) + 1;
            h2[k] = hi.get(k) - 1;
        }
        v.push(Rect::new(
            Point::new(&l2[..dim]).unwrap(),
            Point::new(&h2[..dim]).unwrap(),
        ));
        v
    }

    #[test]
    fn spans_cover_exactly_the_field_at_the_points() {
        let rects = [
            Rect::r1(3, 40),
            Rect::r2((-2, 1), (5, 9)),
            Rect::new(
                Point::new(&[0, 1, 2]).unwrap(),
                Point::new(&[3, 5, 6]).unwrap(),
            ),
        ];
        for rect in rects {
            for l in layouts(rect) {
                for field in 0..3 {
                    for r in sub_rects(&rect) {
                        let v = spans(&l, field, &r);
                        let (got, total) = covered(&v);
                        let want = expected(&l, field, &r);
                        assert_eq!(got, want, "{:?} field {field} {r:?}: {v:?}", l.layout);
                        // No byte twice.
                        assert_eq!(total, want.len(), "{:?} field {field} {r:?}", l.layout);
                        // In increasing order, not overlapping.
                        for w in v.windows(2) {
                            assert!(w[0].end() <= w[1].offset, "{v:?}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn spans_of_disjoint_points_or_other_fields_never_share_a_byte() {
        // The property that makes a host write safe next to a GPU kernel writing other points
        // (or other fields) of the same instance: what the host uploads is disjoint from it.
        let rect = Rect::r2((0, 0), (7, 9));
        for l in layouts(rect) {
            let a = Rect::r2((0, 0), (3, 9));
            let b = Rect::r2((4, 0), (7, 9));
            let c = Rect::r2((0, 0), (7, 4));
            for (f, g) in [(0, 0), (0, 1), (1, 2), (2, 2)] {
                let (x, _) = covered(&spans(&l, f, &a));
                let (y, _) = covered(&spans(&l, g, &b));
                assert!(x.is_disjoint(&y), "{:?} fields {f} {g}", l.layout);
            }
            // Other fields over the same points.
            let (x, _) = covered(&spans(&l, 0, &c));
            let (y, _) = covered(&spans(&l, 1, &c));
            assert!(x.is_disjoint(&y), "{:?}", l.layout);
        }
    }

    #[test]
    fn spans_are_few() {
        let rect = Rect::r2((0, 0), (99, 199));
        let f64s = [(0, FieldType::scalar(Prim::F64))];
        let two = [
            (0, FieldType::scalar(Prim::F64)),
            (1, FieldType::scalar(Prim::F64)),
        ];
        let soa_c = InstLayout::new(rect, &f64s, Layout::default()).unwrap();
        // A whole SOA field, and whole rows of it: one block.
        assert_eq!(spans(&soa_c, 0, &rect), vec![Span::block(0, 100 * 200 * 8)]);
        assert_eq!(
            spans(&soa_c, 0, &Rect::r2((50, 0), (99, 199))),
            vec![Span::block(50 * 200 * 8, 50 * 200 * 8)]
        );
        // Half of every row: one strided span.
        assert_eq!(
            spans(&soa_c, 0, &Rect::r2((0, 100), (99, 199))),
            vec![Span {
                offset: 100 * 8,
                len: 100 * 8,
                pitch: 200 * 8,
                count: 100
            }]
        );
        // One column: single elements a row apart.
        assert_eq!(
            spans(&soa_c, 0, &Rect::r2((0, 7), (99, 7))),
            vec![Span {
                offset: 7 * 8,
                len: 8,
                pitch: 200 * 8,
                count: 100
            }]
        );
        // AOS of two f64 fields: the second field of whole rows is one span of elements 16
        // bytes apart.
        let aos = Layout {
            soa: false,
            ..Layout::default()
        };
        let aos = InstLayout::new(rect, &two, aos).unwrap();
        assert_eq!(
            spans(&aos, 1, &Rect::r2((10, 0), (19, 199))),
            vec![Span {
                offset: 10 * 200 * 16 + 8,
                len: 8,
                pitch: 16,
                count: 10 * 200
            }]
        );
        // A 3-D SOA sub-box: one strided span per plane.
        let r3 = Rect::new(
            Point::new(&[0, 0, 0]).unwrap(),
            Point::new(&[3, 9, 9]).unwrap(),
        );
        let l3 = InstLayout::new(r3, &f64s, Layout::default()).unwrap();
        let sub = Rect::new(
            Point::new(&[1, 2, 3]).unwrap(),
            Point::new(&[2, 5, 6]).unwrap(),
        );
        assert_eq!(spans(&l3, 0, &sub).len(), 2);
        // Points outside the instance are clipped, an empty rectangle gives nothing.
        assert_eq!(
            spans(&soa_c, 0, &Rect::r2((90, 0), (120, 199))),
            vec![Span::block(90 * 200 * 8, 10 * 200 * 8)]
        );
        assert!(spans(&soa_c, 0, &Rect::r2((5, 5), (4, 4))).is_empty());
    }

    #[test]
    fn fresh_tracks_what_device_writes_made_stale() {
        let all = Rect::r1(0, 99);
        let a = Rect::r1(0, 49);
        let b = Rect::r1(50, 99);
        let mut f = Fresh::all([0, 1], all);
        assert!(f.missing(0, &all).is_empty());
        // A GPU kernel writes `a` of field 0: only that goes stale.
        f.remove(0, &a);
        assert_eq!(f.missing(0, &all), vec![a]);
        assert!(f.missing(0, &b).is_empty());
        assert!(f.missing(1, &a).is_empty());
        // A host read of part of `a` downloads it; the rest of `a` is still stale.
        f.add(0, Rect::r1(10, 19));
        let mut m = f.missing(0, &all);
        m.sort_by_key(|r| r.lo.get(0));
        assert_eq!(m, vec![Rect::r1(0, 9), Rect::r1(20, 49)]);
        f.add(0, all);
        assert!(f.missing(0, &all).is_empty());
        assert_eq!(f.len(), 2);
        // 2-D: a device write of the middle leaves a frame.
        let r = Rect::r2((0, 0), (9, 9));
        let mut g = Fresh::all([0], r);
        g.remove(0, &Rect::r2((3, 3), (5, 5)));
        let left: u64 = g.missing(0, &r).iter().map(Rect::volume).sum();
        assert_eq!(left, 9);
        assert!(g.missing(0, &Rect::r2((0, 0), (2, 9))).is_empty());
    }

    #[test]
    fn fresh_forgets_oldest_entries_when_long() {
        let mut f = Fresh::default();
        for i in 0..(Fresh::MAX_ENTRIES as i64 + 10) {
            f.add(0, Rect::r1(2 * i, 2 * i));
        }
        assert_eq!(f.len(), Fresh::MAX_ENTRIES);
        // Forgotten entries read as stale (a download), never as fresh.
        assert_eq!(f.missing(0, &Rect::r1(0, 0)), vec![Rect::r1(0, 0)]);
        assert!(f.missing(0, &Rect::r1(140, 140)).is_empty());
        assert!(!f.is_empty());
    }
}
