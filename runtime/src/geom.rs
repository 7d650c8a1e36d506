//! Geometry: points and rectangles in 1-3 dimensions (i64 coordinates) and index spaces stored
//! as sets of disjoint rectangles, with union, intersection, difference, volume and iteration in
//! C order (last dimension fastest).

use std::fmt;

/// Maximum number of dimensions.
pub const MAX_DIM: usize = 3;

/// A point in 1-3 dimensions. Unused coordinates are zero.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Point {
    dim: u8,
    c: [i64; MAX_DIM],
}

impl Point {
    /// A point from 1-3 coordinates; `None` if `coords` is empty or longer than 3.
    pub fn new(coords: &[i64]) -> Option<Point> {
        if coords.is_empty() || coords.len() > MAX_DIM {
            return None;
        }
        let mut c = [0; MAX_DIM];
        c[..coords.len()].copy_from_slice(coords);
        Some(Point {
            dim: coords.len() as u8,
            c,
        })
    }

    /// A 1-D point.
    pub const fn p1(x: i64) -> Point {
        Point {
            dim: 1,
            c: [x, 0, 0],
        }
    }

    /// A 2-D point.
    pub const fn p2(x: i64, y: i64) -> Point {
        Point {
            dim: 2,
            c: [x, y, 0],
        }
    }

    /// A 3-D point.
    pub const fn p3(x: i64, y: i64, z: i64) -> Point {
        Point {
            dim: 3,
            c: [x, y, z],
        }
    }

    /// The point of `dim` dimensions with every coordinate equal to `v` (dim clamped to 1..=3).
    pub fn splat(dim: usize, v: i64) -> Point {
        let dim = dim.clamp(1, MAX_DIM);
        let mut c = [0; MAX_DIM];
        c[..dim].fill(v);
        Point { dim: dim as u8, c }
    }

    /// Number of dimensions.
    #[inline]
    pub fn dim(&self) -> usize {
        self.dim as usize
    }

    /// The coordinates (length `dim`).
    #[inline]
    pub fn coords(&self) -> &[i64] {
        &self.c[..self.dim as usize]
    }

    /// Coordinate `i` (0 beyond `dim`).
    #[inline]
    pub fn get(&self, i: usize) -> i64 {
        if i < self.dim as usize {
            self.c[i]
        } else {
            0
        }
    }

    /// Elementwise sum (dimensions must agree; the result has `self`'s dimension).
    pub fn add(&self, o: &Point) -> Point {
        let mut c = self.c;
        for (a, b) in c.iter_mut().zip(o.c) {
            *a += b;
        }
        Point { dim: self.dim, c }
    }
}

impl fmt::Debug for Point {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "(")?;
        for (i, v) in self.coords().iter().enumerate() {
            if i > 0 {
                write!(f, ", ")?;
            }
            write!(f, "{v}")?;
        }
        write!(f, ")")
    }
}

impl fmt::Display for Point {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl From<i64> for Point {
    fn from(x: i64) -> Point {
        Point::p1(x)
    }
}

impl From<[i64; 1]> for Point {
    fn from(a: [i64; 1]) -> Point {
        Point::p1(a[0])
    }
}

impl From<[i64; 2]> for Point {
    fn from(a: [i64; 2]) -> Point {
        Point::p2(a[0], a[1])
    }
}

impl From<[i64; 3]> for Point {
    fn from(a: [i64; 3]) -> Point {
        Point::p3(a[0], a[1], a[2])
    }
}

impl From<(i64, i64)> for Point {
    fn from(a: (i64, i64)) -> Point {
        Point::p2(a.0, a.1)
    }
}

impl From<(i64, i64, i64)> for Point {
    fn from(a: (i64, i64, i64)) -> Point {
        Point::p3(a.0, a.1, a.2)
    }
}

/// An axis-aligned rectangle with inclusive bounds; empty when `lo[i] > hi[i]` for some `i`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rect {
    /// Lower corner (inclusive).
    pub lo: Point,
    /// Upper corner (inclusive).
    pub hi: Point,
}

impl fmt::Debug for Rect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{:?}..={:?}]", self.lo, self.hi)
    }
}

impl Rect {
    /// The rectangle `lo..=hi` (dimension of `lo`).
    pub fn new(lo: impl Into<Point>, hi: impl Into<Point>) -> Rect {
        Rect {
            lo: lo.into(),
            hi: hi.into(),
        }
    }

    /// The 1-D interval `lo..=hi`.
    pub fn r1(lo: i64, hi: i64) -> Rect {
        Rect::new(Point::p1(lo), Point::p1(hi))
    }

    /// The 2-D rectangle `(x0, y0)..=(x1, y1)`.
    pub fn r2(lo: (i64, i64), hi: (i64, i64)) -> Rect {
        Rect::new(lo, hi)
    }

    /// The rectangle `0..extents` (exclusive extents) in `extents.len()` dimensions.
    pub fn from_extents(extents: &[i64]) -> Option<Rect> {
        let lo = Point::new(&vec![0; extents.len()])?;
        let hi: Vec<i64> = extents.iter().map(|e| e - 1).collect();
        Some(Rect {
            lo,
            hi: Point::new(&hi)?,
        })
    }

    /// Number of dimensions.
    #[inline]
    pub fn dim(&self) -> usize {
        self.lo.dim()
    }

    /// True if the rectangle contains no point.
    #[inline]
    pub fn is_empty(&self) -> bool {
        (0..self.dim()).any(|i| self.lo.c[i] > self.hi.c[i])
    }

    /// Extent along each dimension (0 when empty).
    #[inline]
    pub fn extents(&self) -> [i64; MAX_DIM] {
        let mut e = [1; MAX_DIM];
        for (i, x) in e.iter_mut().enumerate().take(self.dim()) {
            *x = (self.hi.c[i] - self.lo.c[i] + 1).max(0);
        }
        e
    }

    /// Number of points.
    #[inline]
    pub fn volume(&self) -> u64 {
        if self.is_empty() {
            return 0;
        }
        self.extents().iter().map(|&e| e as u64).product()
    }

    /// True if `p` lies inside.
    pub fn contains(&self, p: &Point) -> bool {
        p.dim == self.lo.dim
            && (0..self.dim()).all(|i| self.lo.c[i] <= p.c[i] && p.c[i] <= self.hi.c[i])
    }

    /// True if `o` lies entirely inside (an empty `o` is contained in anything).
    #[inline]
    pub fn contains_rect(&self, o: &Rect) -> bool {
        (0..self.dim()).all(|i| self.lo.c[i] <= o.lo.c[i] && o.hi.c[i] <= self.hi.c[i])
            || o.is_empty()
    }

    /// The intersection (possibly empty).
    #[inline]
    pub fn intersect(&self, o: &Rect) -> Rect {
        let mut r = *self;
        for i in 0..self.dim() {
            r.lo.c[i] = self.lo.c[i].max(o.lo.c[i]);
            r.hi.c[i] = self.hi.c[i].min(o.hi.c[i]);
        }
        r
    }

    /// True if the two rectangles share a point.
    #[inline]
    pub fn overlaps(&self, o: &Rect) -> bool {
        self.dim() == o.dim()
            && (0..self.dim()).all(|i| self.lo.c[i].max(o.lo.c[i]) <= self.hi.c[i].min(o.hi.c[i]))
    }

    /// The smallest rectangle containing both.
    pub fn union_bbox(&self, o: &Rect) -> Rect {
        if self.is_empty() {
            return *o;
        }
        if o.is_empty() {
            return *self;
        }
        let mut r = *self;
        for i in 0..self.dim() {
            r.lo.c[i] = self.lo.c[i].min(o.lo.c[i]);
            r.hi.c[i] = self.hi.c[i].max(o.hi.c[i]);
        }
        r
    }

    /// `self - o` as up to `2 * dim` disjoint rectangles.
    pub fn subtract(&self, o: &Rect, out: &mut Vec<Rect>) {
        let inter = self.intersect(o);
        if inter.is_empty() {
            if !self.is_empty() {
                out.push(*self);
            }
            return;
        }
        let mut rest = *self;
        for i in 0..self.dim() {
            if rest.lo.c[i] < inter.lo.c[i] {
                let mut below = rest;
                below.hi.c[i] = inter.lo.c[i] - 1;
                out.push(below);
                rest.lo.c[i] = inter.lo.c[i];
            }
            if rest.hi.c[i] > inter.hi.c[i] {
                let mut above = rest;
                above.lo.c[i] = inter.hi.c[i] + 1;
                out.push(above);
                rest.hi.c[i] = inter.hi.c[i];
            }
        }
    }

    /// The points in C order (last dimension fastest).
    pub fn iter(&self) -> RectIter {
        RectIter {
            rect: *self,
            next: if self.is_empty() { None } else { Some(self.lo) },
        }
    }
}

/// Iterator over the points of a rectangle in C order.
pub struct RectIter {
    rect: Rect,
    next: Option<Point>,
}

impl Iterator for RectIter {
    type Item = Point;
    fn next(&mut self) -> Option<Point> {
        let cur = self.next?;
        let mut n = cur;
        let d = self.rect.dim();
        let mut i = d;
        loop {
            if i == 0 {
                self.next = None;
                break;
            }
            i -= 1;
            if n.c[i] < self.rect.hi.c[i] {
                n.c[i] += 1;
                self.next = Some(n);
                break;
            }
            n.c[i] = self.rect.lo.c[i];
        }
        Some(cur)
    }
}

/// A set of points stored as disjoint, non-empty rectangles of one dimension.
#[derive(Clone, PartialEq, Eq)]
pub struct IndexSpace {
    dim: u8,
    rects: Vec<Rect>,
}

impl fmt::Debug for IndexSpace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IndexSpace{:?}", self.rects)
    }
}

impl From<Rect> for IndexSpace {
    fn from(r: Rect) -> IndexSpace {
        IndexSpace::from_rect(r)
    }
}

impl IndexSpace {
    /// The empty space of `dim` dimensions.
    pub fn empty(dim: usize) -> IndexSpace {
        IndexSpace {
            dim: dim.clamp(1, MAX_DIM) as u8,
            rects: Vec::new(),
        }
    }

    /// The space of one rectangle.
    pub fn from_rect(r: Rect) -> IndexSpace {
        let rects = if r.is_empty() { Vec::new() } else { vec![r] };
        IndexSpace {
            dim: r.dim() as u8,
            rects,
        }
    }

    /// The union of possibly overlapping rectangles (all of dimension `dim`; others are ignored).
    pub fn from_rects(dim: usize, rects: impl IntoIterator<Item = Rect>) -> IndexSpace {
        let mut s = IndexSpace::empty(dim);
        for r in rects {
            if r.dim() == s.dim() && !r.is_empty() {
                s = s.union(&IndexSpace::from_rect(r));
            }
        }
        s
    }

    /// A space from rectangles the caller guarantees to be disjoint (empty ones are dropped).
    pub fn from_rects_disjoint(dim: usize, rects: Vec<Rect>) -> IndexSpace {
        let dim = dim.clamp(1, MAX_DIM);
        IndexSpace {
            dim: dim as u8,
            rects: rects
                .into_iter()
                .filter(|r| r.dim() == dim && !r.is_empty())
                .collect(),
        }
    }

    /// The 1-D space `lo..=hi`.
    pub fn range(lo: i64, hi: i64) -> IndexSpace {
        IndexSpace::from_rect(Rect::r1(lo, hi))
    }

    /// Number of dimensions.
    #[inline]
    pub fn dim(&self) -> usize {
        self.dim as usize
    }

    /// The disjoint rectangles.
    #[inline]
    pub fn rects(&self) -> &[Rect] {
        &self.rects
    }

    /// True if the space has no point.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.rects.is_empty()
    }

    /// Number of points.
    #[inline]
    pub fn volume(&self) -> u64 {
        self.rects.iter().map(Rect::volume).sum()
    }

    /// The bounding rectangle (empty rectangle for an empty space).
    #[inline]
    pub fn bounds(&self) -> Rect {
        let mut it = self.rects.iter();
        match it.next() {
            None => Rect {
                lo: Point::splat(self.dim(), 0),
                hi: Point::splat(self.dim(), -1),
            },
            Some(first) => it.fold(*first, |acc, r| acc.union_bbox(r)),
        }
    }

    /// True if `p` is in the space.
    pub fn contains(&self, p: &Point) -> bool {
        self.rects.iter().any(|r| r.contains(p))
    }

    /// True if every point of `o` is in `self`.
    pub fn contains_space(&self, o: &IndexSpace) -> bool {
        if self.dim != o.dim {
            return o.is_empty();
        }
        // Common case without allocating: each rectangle of `o` inside one of `self`.
        if o.rects
            .iter()
            .all(|b| self.rects.iter().any(|a| a.contains_rect(b)))
        {
            return true;
        }
        o.difference(self).is_empty()
    }

    /// True if the spaces share a point.
    pub fn overlaps(&self, o: &IndexSpace) -> bool {
        self.dim == o.dim
            && self
                .rects
                .iter()
                .any(|a| o.rects.iter().any(|b| a.overlaps(b)))
    }

    /// Points in both spaces.
    pub fn intersection(&self, o: &IndexSpace) -> IndexSpace {
        let mut rects = Vec::new();
        if self.dim == o.dim {
            for a in &self.rects {
                for b in &o.rects {
                    let r = a.intersect(b);
                    if !r.is_empty() {
                        rects.push(r);
                    }
                }
            }
        }
        IndexSpace {
            dim: self.dim,
            rects,
        }
    }

    /// Points in `self` but not in `o`.
    pub fn difference(&self, o: &IndexSpace) -> IndexSpace {
        if self.dim != o.dim {
            return self.clone();
        }
        let mut cur = self.rects.clone();
        let mut next = Vec::new();
        for b in &o.rects {
            next.clear();
            for a in &cur {
                a.subtract(b, &mut next);
            }
            std::mem::swap(&mut cur, &mut next);
            if cur.is_empty() {
                break;
            }
        }
        IndexSpace {
            dim: self.dim,
            rects: cur,
        }
    }

    /// Points in either space.
    pub fn union(&self, o: &IndexSpace) -> IndexSpace {
        if self.dim != o.dim || o.is_empty() {
            return self.clone();
        }
        if self.is_empty() {
            return o.clone();
        }
        let mut rects = self.rects.clone();
        rects.extend(o.difference(self).rects);
        IndexSpace {
            dim: self.dim,
            rects,
        }
    }

    /// The points in C order (lexicographic, last dimension fastest).
    pub fn iter(&self) -> Box<dyn Iterator<Item = Point> + '_> {
        match self.rects.as_slice() {
            [] => Box::new(std::iter::empty()),
            [r] => Box::new(r.iter()),
            rs => {
                let mut pts: Vec<Point> = rs.iter().flat_map(Rect::iter).collect();
                pts.sort_unstable();
                Box::new(pts.into_iter())
            }
        }
    }

    /// The points in C order, collected.
    pub fn points(&self) -> Vec<Point> {
        self.iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rect_volume_and_contains() {
        let r = Rect::r2((0, 0), (3, 4));
        assert_eq!(r.volume(), 20);
        assert!(r.contains(&Point::p2(3, 4)));
        assert!(!r.contains(&Point::p2(4, 0)));
        assert!(!r.contains(&Point::p1(1)));
        assert_eq!(Rect::r1(5, 4).volume(), 0);
        assert!(Rect::r1(5, 4).is_empty());
    }

    #[test]
    fn rect_iter_c_order() {
        let pts: Vec<Point> = Rect::r2((0, 0), (1, 2)).iter().collect();
        assert_eq!(
            pts,
            vec![
                Point::p2(0, 0),
                Point::p2(0, 1),
                Point::p2(0, 2),
                Point::p2(1, 0),
                Point::p2(1, 1),
                Point::p2(1, 2)
            ]
        );
        assert_eq!(Rect::r1(3, 2).iter().count(), 0);
        assert_eq!(
            Rect::new(Point::p3(0, 0, 0), Point::p3(1, 1, 1))
                .iter()
                .count(),
            8
        );
    }

    #[test]
    fn subtract_and_difference() {
        let a = Rect::r2((0, 0), (9, 9));
        let b = Rect::r2((2, 3), (4, 5));
        let mut out = Vec::new();
        a.subtract(&b, &mut out);
        assert_eq!(out.len(), 4);
        assert_eq!(out.iter().map(Rect::volume).sum::<u64>(), 100 - 9);
        for (i, x) in out.iter().enumerate() {
            assert!(!x.overlaps(&b));
            for y in &out[i + 1..] {
                assert!(!x.overlaps(y));
            }
        }
        let s = IndexSpace::from_rect(a).difference(&IndexSpace::from_rect(b));
        assert_eq!(s.volume(), 91);
        assert!(!s.contains(&Point::p2(3, 4)));
        assert!(s.contains(&Point::p2(1, 4)));
    }

    #[test]
    fn union_intersection_volume() {
        let a = IndexSpace::range(0, 9);
        let b = IndexSpace::range(5, 14);
        assert_eq!(a.union(&b).volume(), 15);
        assert_eq!(a.intersection(&b).volume(), 5);
        assert_eq!(a.intersection(&b).bounds(), Rect::r1(5, 9));
        assert_eq!(a.difference(&b).bounds(), Rect::r1(0, 4));
        assert!(a.overlaps(&b));
        assert!(!a.overlaps(&IndexSpace::range(10, 12)));
        assert!(a.union(&b).contains_space(&a));
        assert!(!a.contains_space(&b));
        let u = IndexSpace::from_rects(1, [Rect::r1(0, 3), Rect::r1(2, 6), Rect::r1(10, 10)]);
        assert_eq!(u.volume(), 8);
    }

    #[test]
    fn space_iter_is_c_order_across_rects() {
        let s = IndexSpace::from_rects(2, [Rect::r2((0, 2), (1, 3)), Rect::r2((0, 0), (1, 1))]);
        let pts: Vec<Vec<i64>> = s.iter().map(|p| p.coords().to_vec()).collect();
        assert_eq!(
            pts,
            vec![
                vec![0, 0],
                vec![0, 1],
                vec![0, 2],
                vec![0, 3],
                vec![1, 0],
                vec![1, 1],
                vec![1, 2],
                vec![1, 3]
            ]
        );
    }

    #[test]
    fn empty_space_bounds() {
        let e = IndexSpace::empty(2);
        assert!(e.bounds().is_empty());
        assert_eq!(e.volume(), 0);
        assert_eq!(e.iter().count(), 0);
        assert!(IndexSpace::range(0, 3).contains_space(&e));
    }
}
