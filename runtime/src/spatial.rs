//! A spatial index for the mapping stage's per-region lists (coherence pieces, analysis users,
//! instances of a memory): a hashed uniform grid of cells, each listing the items whose
//! rectangles touch it, so that a lookup visits the few items near a rectangle instead of all of
//! them. Items spanning many cells (and empty rectangles) sit in one list every query returns.
//! A query returns candidates (a superset of the overlapping items) in ascending id order, so
//! callers that test them in that order decide exactly as a scan of the whole list in id order.

use crate::fasthash::FastMap;
use crate::geom::{Rect, MAX_DIM};

/// Items spanning more cells than this go to the always-returned list; queries spanning more
/// cells than this answer "scan everything".
const MAX_SPAN: i64 = 256;

/// Largest number of cells stored densely (a vector indexed by cell coordinates) over the
/// bounds given to [`RectIndex::within`]; cells outside them, or all cells of a larger grid,
/// are hashed.
const MAX_DENSE: i64 = 4096;

/// A hashed uniform grid over rectangles of one dimensionality (cells of power-of-two extents).
/// Every cell's list (and the list of large items) is kept in ascending id order.
#[derive(Clone, Debug, Default)]
pub struct RectIndex {
    /// `None` until the first insertion sizes the cells.
    /// Cell extent per dimension as a power of two (the shift), so cell coordinates are
    /// arithmetic shifts (floor division, also for negative coordinates).
    cell: Option<[u32; MAX_DIM]>,
    /// Largest cell extent per dimension (from the bounds given to [`RectIndex::within`]).
    cap: Option<[i64; MAX_DIM]>,
    /// The bounds given to [`RectIndex::within`].
    bounds: Option<Rect>,
    /// First cell coordinates of the dense grid.
    grid_lo: [i64; MAX_DIM],
    /// Cells of the dense grid per dimension (zero: no dense grid).
    grid_n: [i64; MAX_DIM],
    /// The dense grid's cell lists, C order.
    grid: Vec<Vec<u64>>,
    /// Cells outside the dense grid.
    cells: FastMap<[i64; MAX_DIM], Vec<u64>>,
    big: Vec<u64>,
}

/// Inserts `id` into the ascending list `v` (after equal ids).
fn insert_sorted(v: &mut Vec<u64>, id: u64) {
    match v.last() {
        Some(&l) if l > id => {
            let pos = v.partition_point(|&x| x <= id);
            v.insert(pos, id);
        }
        _ => v.push(id),
    }
}

/// Removes one `id` from the ascending list `v`, keeping the order.
fn remove_sorted(v: &mut Vec<u64>, id: u64) {
    let pos = v.partition_point(|&x| x < id);
    if v.get(pos) == Some(&id) {
        v.remove(pos);
    }
}

impl RectIndex {
    /// An index whose cells are sized from the first rectangle inserted (suits lists of
    /// similar rectangles, e.g. the instances of tiles).
    pub fn new() -> RectIndex {
        RectIndex::default()
    }

    /// An index of items inside `bounds`: cells are sized from the first non-empty rectangle
    /// inserted, at most an eighth of `bounds` along each dimension (so a first item covering
    /// everything does not make one cell of everything).
    pub fn within(bounds: &Rect) -> RectIndex {
        let mut idx = RectIndex::default();
        if !bounds.is_empty() {
            let e = bounds.extents();
            let mut cap = [1i64; MAX_DIM];
            for i in 0..bounds.dim() {
                cap[i] = ((e[i] + 7) / 8).max(1);
            }
            idx.cap = Some(cap);
            idx.bounds = Some(*bounds);
        }
        idx
    }

    /// Empties the index, keeping its cell size and allocations.
    pub fn clear(&mut self) {
        for v in &mut self.grid {
            v.clear();
        }
        for v in self.cells.values_mut() {
            v.clear();
        }
        self.big.clear();
    }

    /// The range of cell coordinates `r` touches, or `None` when it is empty or spans more
    /// than [`MAX_SPAN`] cells (or the grid is not sized yet).
    #[inline(always)]
    fn span(&self, r: &Rect) -> Option<([i64; MAX_DIM], [i64; MAX_DIM])> {
        let cell = self.cell?;
        let (mut lo, mut hi) = ([0i64; MAX_DIM], [0i64; MAX_DIM]);
        let mut n: i64 = 1;
        for (i, (&a, &b)) in r.lo.coords().iter().zip(r.hi.coords()).enumerate() {
            if a > b {
                // Empty.
                return None;
            }
            let s = cell.get(i).copied().unwrap_or(0);
            let (l, h) = (a >> s, b >> s);
            if let (Some(x), Some(y)) = (lo.get_mut(i), hi.get_mut(i)) {
                (*x, *y) = (l, h);
            }
            n = n.saturating_mul(h - l + 1);
        }
        (n <= MAX_SPAN).then_some((lo, hi))
    }

    #[inline(always)]
    fn for_cells(lo: [i64; MAX_DIM], hi: [i64; MAX_DIM], mut f: impl FnMut([i64; MAX_DIM])) {
        let mut a = lo[0];
        while a <= hi[0] {
            let mut b = lo[1];
            while b <= hi[1] {
                let mut c = lo[2];
                while c <= hi[2] {
                    f([a, b, c]);
                    c += 1;
                }
                b += 1;
            }
            a += 1;
        }
    }

    /// Position of cell `k` in the dense grid.
    #[inline(always)]
    fn dense(&self, k: [i64; MAX_DIM]) -> Option<usize> {
        let mut pos = 0i64;
        for ((&c, &lo), &n) in k.iter().zip(&self.grid_lo).zip(&self.grid_n) {
            let d = c - lo;
            if d < 0 || d >= n {
                return None;
            }
            pos = pos * n + d;
        }
        Some(pos as usize)
    }

    /// The list of cell `k`, if it has one.
    #[inline(always)]
    fn list(&self, k: [i64; MAX_DIM]) -> Option<&Vec<u64>> {
        match self.dense(k) {
            Some(p) => self.grid.get(p),
            None => self.cells.get(&k),
        }
    }

    /// The list of cell `k`, created if needed.
    #[inline(always)]
    fn list_mut(&mut self, k: [i64; MAX_DIM]) -> Option<&mut Vec<u64>> {
        match self.dense(k) {
            Some(p) => self.grid.get_mut(p),
            None => Some(self.cells.entry(k).or_default()),
        }
    }

    /// The list of cell `k`, if it has one (never created).
    #[inline(always)]
    fn list_existing_mut(&mut self, k: [i64; MAX_DIM]) -> Option<&mut Vec<u64>> {
        match self.dense(k) {
            Some(p) => self.grid.get_mut(p),
            None => self.cells.get_mut(&k),
        }
    }

    /// Sizes the cells from the first non-empty rectangle and lays out the dense grid over
    /// the bounds, if they are small enough.
    fn size_cells(&mut self, r: &Rect) {
        let e = r.extents();
        let mut cell = [0u32; MAX_DIM];
        for (i, c) in cell.iter_mut().enumerate() {
            // The largest power of two not above the (capped) extent.
            *c = e[i].clamp(1, self.cap.map_or(i64::MAX, |m| m[i])).ilog2();
        }
        self.cell = Some(cell);
        if let Some(b) = self.bounds.filter(|b| b.dim() == r.dim()) {
            let (mut lo, mut n) = ([0i64; MAX_DIM], [1i64; MAX_DIM]);
            let mut total: i64 = 1;
            for i in 0..b.dim() {
                lo[i] = b.lo.get(i) >> cell[i];
                n[i] = (b.hi.get(i) >> cell[i]) - lo[i] + 1;
                total = total.saturating_mul(n[i]);
            }
            if total <= MAX_DENSE {
                self.grid_lo = lo;
                self.grid_n = n;
                self.grid = vec![Vec::new(); total as usize];
            }
        }
    }

    /// Adds item `id` with rectangle `r`.
    pub fn insert(&mut self, id: u64, r: &Rect) {
        if self.cell.is_none() && !r.is_empty() {
            self.size_cells(r);
        }
        match self.span(r) {
            Some((lo, hi)) if lo == hi => {
                if let Some(v) = self.list_mut(lo) {
                    insert_sorted(v, id);
                }
            }
            Some((lo, hi)) => RectIndex::for_cells(lo, hi, |k| {
                if let Some(v) = self.list_mut(k) {
                    insert_sorted(v, id);
                }
            }),
            None => insert_sorted(&mut self.big, id),
        }
    }

    /// Removes item `id`, inserted with rectangle `r`.
    pub fn remove(&mut self, id: u64, r: &Rect) {
        match self.span(r) {
            Some((lo, hi)) => RectIndex::for_cells(lo, hi, |k| {
                if let Some(v) = self.list_existing_mut(k) {
                    remove_sorted(v, id);
                }
            }),
            None => remove_sorted(&mut self.big, id),
        }
    }

    /// Renames item `from` (inserted with rectangle `r`) to `to`.
    pub fn rename(&mut self, from: u64, to: u64, r: &Rect) {
        let rename = |v: &mut Vec<u64>| {
            let pos = v.partition_point(|&x| x < from);
            if v.get(pos) == Some(&from) {
                v.remove(pos);
                insert_sorted(v, to);
            }
        };
        match self.span(r) {
            Some((lo, hi)) => RectIndex::for_cells(lo, hi, |k| {
                if let Some(v) = self.list_existing_mut(k) {
                    rename(v);
                }
            }),
            None => rename(&mut self.big),
        }
    }

    /// Fills `out` with the ids of the items whose rectangles may overlap `r`, ascending and
    /// without repeats. False (and `out` empty) when `r` is too large or empty: the caller
    /// must consider every item.
    pub fn query(&self, r: &Rect, out: &mut Vec<u64>) -> bool {
        out.clear();
        let Some((lo, hi)) = self.span(r) else {
            return self.cell.is_none() && self.big.is_empty();
        };
        if lo == hi && self.big.is_empty() {
            // One cell: its list is the answer.
            if let Some(v) = self.list(lo) {
                out.extend_from_slice(v);
                out.dedup();
            }
            return true;
        }
        // Lists are ascending: one non-empty list needs no sorting.
        let mut lists = 0;
        if !self.big.is_empty() {
            out.extend_from_slice(&self.big);
            lists += 1;
        }
        RectIndex::for_cells(lo, hi, |k| {
            if let Some(v) = self.list(k).filter(|v| !v.is_empty()) {
                out.extend_from_slice(v);
                lists += 1;
            }
        });
        if lists > 1 {
            out.sort_unstable();
        }
        out.dedup();
        true
    }

    /// Fills `out` with the ids of the items whose rectangles may contain the point `r.lo`
    /// (every rectangle containing `r` does), ascending. False when `r` is empty: the caller
    /// must consider every item (an empty rectangle is inside any).
    pub fn query_containing(&self, r: &Rect, out: &mut Vec<u64>) -> bool {
        if r.is_empty() {
            out.clear();
            return false;
        }
        let corner = Rect { lo: r.lo, hi: r.lo };
        self.query(&corner, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_overlapping_items_in_id_order() {
        let mut idx = RectIndex::within(&Rect::r2((0, 0), (99, 99)));
        idx.insert(1000, &Rect::r2((0, 0), (99, 99)));
        // 10 x 10 tiles of 10 x 10 points; cells of 8 x 8 points (from the first tile).
        for i in 0..10i64 {
            for j in 0..10i64 {
                let id = (i * 10 + j) as u64;
                idx.insert(id, &Rect::r2((i * 10, j * 10), (i * 10 + 9, j * 10 + 9)));
            }
        }
        let tile = |id: u64| {
            let (i, j) = ((id / 10) as i64, (id % 10) as i64);
            Rect::r2((i * 10, j * 10), (i * 10 + 9, j * 10 + 9))
        };
        let rect = |id: u64| match id {
            1000 => Rect::r2((0, 0), (99, 99)),
            5000 => tile(22),
            _ => tile(id),
        };
        // Candidates are ascending and include every overlapping item (cells of 8 x 8 points
        // also bring some neighbours).
        let overlapping = |out: &[u64], q: &Rect| -> Vec<u64> {
            assert!(out.windows(2).all(|w| w[0] < w[1]));
            out.iter()
                .copied()
                .filter(|&i| rect(i).overlaps(q))
                .collect()
        };
        let q = Rect::r2((15, 15), (25, 25));
        let mut out = Vec::new();
        assert!(idx.query(&q, &mut out));
        assert_eq!(overlapping(&out, &q), vec![11, 12, 21, 22, 1000]);
        assert!(out.len() < 20);
        idx.remove(12, &tile(12));
        idx.rename(22, 5000, &tile(22));
        assert!(idx.query(&q, &mut out));
        assert_eq!(overlapping(&out, &q), vec![11, 21, 1000, 5000]);
        assert!(idx.query(&Rect::r2((0, 0), (99, 99)), &mut out));
        assert_eq!(out.len(), 100);
        assert!(!idx.query(&Rect::r2((0, 0), (299, 299)), &mut out));
        assert!(out.is_empty());
        assert!(!idx.query(&Rect::r2((5, 5), (4, 4)), &mut out));
        idx.clear();
        assert!(idx.query(&Rect::r2((15, 15), (25, 25)), &mut out));
        assert!(out.is_empty());
        // A first item covering the bounds gives cells of at most an eighth of them (64).
        let mut idx = RectIndex::within(&Rect::r1(0, 799));
        idx.insert(1, &Rect::r1(0, 799));
        idx.insert(2, &Rect::r1(0, 9));
        assert!(idx.query(&Rect::r1(150, 160), &mut out));
        assert_eq!(out, vec![1]);
        assert!(idx.query(&Rect::r1(5, 9), &mut out));
        assert_eq!(out, vec![1, 2]);
    }

    #[test]
    fn sized_from_the_first_insertion() {
        let mut idx = RectIndex::new();
        let mut out = Vec::new();
        assert!(idx.query(&Rect::r1(0, 9), &mut out));
        assert!(out.is_empty());
        // Cells of 64 points (the first item's extent).
        idx.insert(7, &Rect::r1(128, 191));
        idx.insert(8, &Rect::r1(192, 255));
        idx.insert(9, &Rect::r1(-1_000_000, 1_000_000));
        idx.insert(10, &Rect::r1(-64, -1));
        assert!(idx.query_containing(&Rect::r1(150, 160), &mut out));
        assert_eq!(out, vec![7, 9]);
        assert!(idx.query_containing(&Rect::r1(250, 260), &mut out));
        assert_eq!(out, vec![8, 9]);
        assert!(idx.query_containing(&Rect::r1(-5, -3), &mut out));
        assert_eq!(out, vec![9, 10]);
        assert!(!idx.query_containing(&Rect::r1(5, 4), &mut out));
    }
}
