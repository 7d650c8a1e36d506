//! Coherence state: for every (root region, field), the points are split into disjoint pieces;
//! each piece lists the instances holding valid data for it (with the operation after which the
//! data is ready) and, during a run of same-operator reductions, the instance they fold into.
//! A spatial index over the pieces' bounding boxes keeps lookups proportional to the pieces
//! near a region rather than all of them.

use crate::analysis::OpId;
use crate::geom::{IndexSpace, Rect};
use crate::instance::InstId;
use crate::spatial::RectIndex;
use crate::task::ReduceOp;

/// An instance holding valid data, ready once operation `ready` completes (0: already).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ValidCopy {
    /// The instance.
    pub inst: InstId,
    /// The operation that makes the data valid there.
    pub ready: OpId,
}

/// A set of points with one coherence state.
#[derive(Clone, Debug)]
pub struct Piece {
    /// The points.
    pub space: IndexSpace,
    /// Their bounding rectangle.
    pub bbox: Rect,
    /// Instances with valid data (empty: never written, the value is zero).
    pub copies: Vec<ValidCopy>,
    /// The reduction operator and target instance of the current reduction epoch.
    pub redop: Option<(ReduceOp, InstId)>,
}

/// The coherence state of one field of one region tree.
#[derive(Clone, Debug)]
pub struct FieldState {
    /// Disjoint pieces covering the root region. Callers may change a piece's `copies` and
    /// `redop`; its `space` and `bbox` change only through [`FieldState`]'s methods, which keep
    /// the spatial index in step.
    pub pieces: Vec<Piece>,
    /// Piece indices by bounding box.
    index: RectIndex,
    /// Scratch for index queries.
    scratch: Vec<u64>,
    /// Scratch for [`FieldState::write`]'s piece indices.
    idx_scratch: Vec<usize>,
    /// Changes whenever pieces are added, removed or reordered.
    generation: u64,
}

impl FieldState {
    /// The state of a never-written field over `root`.
    pub fn new(root: &IndexSpace) -> FieldState {
        let bbox = root.bounds();
        let mut index = RectIndex::within(&bbox);
        index.insert(0, &bbox);
        FieldState {
            pieces: vec![Piece {
                space: root.clone(),
                bbox,
                copies: Vec::new(),
                redop: None,
            }],
            index,
            scratch: Vec::new(),
            idx_scratch: Vec::new(),
            generation: 0,
        }
    }

    /// Splits pieces so that `space` is covered by whole pieces; returns their indices.
    pub fn split(&mut self, space: &IndexSpace) -> Vec<usize> {
        let mut out = Vec::new();
        self.split_into(space, &mut out);
        out
    }

    /// [`FieldState::split`] into `out` (cleared first), reusing its allocation.
    pub fn split_into(&mut self, space: &IndexSpace, out: &mut Vec<usize>) {
        out.clear();
        let bbox = space.bounds();
        let mut cand = std::mem::take(&mut self.scratch);
        let indexed = self.index.query(&bbox, &mut cand);
        // Candidates in ascending order: the index's answer, else every piece that existed
        // before splitting started (pieces appended by the splits below are not revisited).
        let n = if indexed {
            cand.len()
        } else {
            self.pieces.len()
        };
        for k in 0..n {
            let i = if indexed {
                match cand.get(k) {
                    Some(&i) => i as usize,
                    None => break,
                }
            } else {
                k
            };
            self.split_one(i, space, &bbox, out);
        }
        self.scratch = cand;
    }

    /// Splits piece `i` by `space` (if they overlap), pushing the index of the piece inside
    /// `space` onto `out`.
    fn split_one(&mut self, i: usize, space: &IndexSpace, bbox: &Rect, out: &mut Vec<usize>) {
        let Some(p) = self.pieces.get(i) else {
            return;
        };
        if !p.bbox.overlaps(bbox) {
            return;
        }
        if space.contains_space(&p.space) {
            out.push(i);
            return;
        }
        let inter = p.space.intersection(space);
        if inter.is_empty() {
            return;
        }
        let rest = p.space.difference(space);
        let new = Piece {
            bbox: inter.bounds(),
            space: inter,
            copies: p.copies.clone(),
            redop: p.redop,
        };
        let rest_bbox = rest.bounds();
        if rest_bbox != p.bbox {
            self.index.remove(i as u64, &p.bbox);
            self.index.insert(i as u64, &rest_bbox);
        }
        let p = &mut self.pieces[i];
        p.bbox = rest_bbox;
        p.space = rest;
        self.index.insert(self.pieces.len() as u64, &new.bbox);
        self.pieces.push(new);
        self.generation += 1;
        out.push(self.pieces.len() - 1);
    }

    /// Removes piece `i`, moving the last piece into its place (as `Vec::swap_remove`).
    fn remove_piece(&mut self, i: usize) -> Option<Piece> {
        let last = self.pieces.len().checked_sub(1)?;
        let p = self.pieces.get(i)?;
        self.generation += 1;
        self.index.remove(i as u64, &p.bbox);
        if i != last {
            let moved = self.pieces[last].bbox;
            self.index.rename(last as u64, i as u64, &moved);
        }
        Some(self.pieces.swap_remove(i))
    }

    /// Makes `inst` the only valid copy of `space`, ready after `op`; the covered pieces merge.
    pub fn write(&mut self, space: &IndexSpace, inst: InstId, op: OpId) {
        self.write_split(space, inst, op, None);
    }

    /// The generation of the pieces: it changes whenever pieces are added, removed or
    /// reordered, so a split of an unchanged generation still holds.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// [`FieldState::write`] given, optionally, the result of [`FieldState::split_into`] for
    /// `space` and the generation after it: when the generation has not changed since, the
    /// split is not repeated.
    pub fn write_split(
        &mut self,
        space: &IndexSpace,
        inst: InstId,
        op: OpId,
        split: Option<(u64, &[usize])>,
    ) {
        let mut idx = std::mem::take(&mut self.idx_scratch);
        match split {
            Some((g, known)) if g == self.generation => {
                idx.clear();
                idx.extend_from_slice(known);
            }
            _ => self.split_into(space, &mut idx),
        }
        idx.sort_unstable();
        self.generation += 1;
        if let [i] = idx[..] {
            if self.write_one(i, space, inst, op) {
                self.idx_scratch = idx;
                return;
            }
        }
        let mut merged: Vec<crate::geom::Rect> = Vec::new();
        for &i in idx.iter().rev() {
            if let Some(p) = self.remove_piece(i) {
                merged.extend_from_slice(p.space.rects());
            }
        }
        self.idx_scratch = idx;
        let space = IndexSpace::from_rects_disjoint(space.dim(), merged);
        let mut piece = Piece {
            bbox: space.bounds(),
            space,
            copies: Vec::new(),
            redop: None,
        };
        piece.copies.push(ValidCopy { inst, ready: op });
        self.index.insert(self.pieces.len() as u64, &piece.bbox);
        self.pieces.push(piece);
    }

    /// [`FieldState::write`] when `space` is covered by piece `i` alone: the piece becomes the
    /// last one, as removing it and pushing the merged piece would make it, without moving
    /// or reallocating it. False (nothing done) if the dimensions differ.
    fn write_one(&mut self, i: usize, space: &IndexSpace, inst: InstId, op: OpId) -> bool {
        let Some(last) = self.pieces.len().checked_sub(1) else {
            return false;
        };
        let Some(p) = self.pieces.get(i) else {
            return false;
        };
        if p.space.dim() != space.dim() {
            return false;
        }
        let (old, new) = (p.bbox, p.space.bounds());
        if i != last {
            let moved = self.pieces[last].bbox;
            if old == new {
                // Swap the two ids (a cell listing both keeps both).
                self.index.rename(i as u64, last as u64, &old);
                self.index.rename(last as u64, i as u64, &moved);
            } else {
                self.index.remove(i as u64, &old);
                self.index.rename(last as u64, i as u64, &moved);
                self.index.insert(last as u64, &new);
            }
            self.pieces.swap(i, last);
        } else if old != new {
            self.index.remove(i as u64, &old);
            self.index.insert(i as u64, &new);
        }
        let p = &mut self.pieces[last];
        p.bbox = new;
        p.copies.clear();
        p.copies.push(ValidCopy { inst, ready: op });
        p.redop = None;
        true
    }

    /// Points of `bbox` for which `inst` holds valid data.
    pub fn volume_held(&mut self, inst: InstId, bbox: &Rect) -> u64 {
        let mut cand = std::mem::take(&mut self.scratch);
        let all = !self.index.query(bbox, &mut cand);
        // A piece's rectangles are disjoint: the volume of its intersection with `bbox` is the
        // sum of the rectangles' intersections.
        let held = |p: &Piece| -> u64 {
            if p.bbox.overlaps(bbox) && p.copies.iter().any(|c| c.inst == inst) {
                p.space
                    .rects()
                    .iter()
                    .map(|r| r.intersect(bbox).volume())
                    .sum()
            } else {
                0
            }
        };
        let n = if all {
            self.pieces.iter().map(held).sum()
        } else {
            cand.iter()
                .filter_map(|&i| self.pieces.get(i as usize))
                .map(held)
                .sum()
        };
        self.scratch = cand;
        n
    }

    /// Forgets `inst` everywhere (its reduction epochs end).
    pub fn remove_instance(&mut self, inst: InstId) {
        for p in &mut self.pieces {
            p.copies.retain(|c| c.inst != inst);
            if p.redop.is_some_and(|(_, t)| t == inst) {
                p.redop = None;
            }
        }
    }

    /// True if `inst` holds valid data for some piece.
    pub fn holds(&self, inst: InstId) -> bool {
        self.pieces
            .iter()
            .any(|p| p.copies.iter().any(|c| c.inst == inst))
    }

    /// True if `inst` is the only valid copy of some piece.
    pub fn sole_holder(&self, inst: InstId) -> bool {
        self.pieces
            .iter()
            .any(|p| p.copies.len() == 1 && p.copies[0].inst == inst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_write_and_remove() {
        let mut s = FieldState::new(&IndexSpace::range(0, 99));
        s.write(&IndexSpace::range(0, 49), 1, 10);
        s.write(&IndexSpace::range(50, 99), 2, 11);
        assert_eq!(s.pieces.len(), 2);
        let idx = s.split(&IndexSpace::range(40, 59));
        assert_eq!(idx.len(), 2);
        assert_eq!(s.pieces.len(), 4);
        let vol: u64 = idx.iter().map(|&i| s.pieces[i].space.volume()).sum();
        assert_eq!(vol, 20);
        s.pieces[idx[0]]
            .copies
            .push(ValidCopy { inst: 3, ready: 12 });
        assert!(s.holds(3));
        assert!(!s.sole_holder(3));
        s.write(&IndexSpace::range(0, 99), 4, 13);
        assert_eq!(s.pieces.len(), 1);
        assert_eq!(s.pieces[0].space.volume(), 100);
        assert!(!s.holds(1));
        s.remove_instance(4);
        assert!(s.pieces[0].copies.is_empty());
    }

    #[test]
    fn write_reuses_a_split_only_of_the_same_generation() {
        let mut s = FieldState::new(&IndexSpace::range(0, 99));
        let space = IndexSpace::range(10, 19);
        let mut idx = Vec::new();
        s.split_into(&space, &mut idx);
        let g = s.generation();
        // The pieces change after the split: the stale split is not used.
        s.split(&IndexSpace::range(50, 59));
        assert_ne!(s.generation(), g);
        s.write_split(&space, 7, 3, Some((g, &idx)));
        let held: u64 = s
            .pieces
            .iter()
            .filter(|p| p.copies == vec![ValidCopy { inst: 7, ready: 3 }])
            .map(|p| p.space.volume())
            .sum();
        assert_eq!(held, 10);
        assert_eq!(s.pieces.iter().map(|p| p.space.volume()).sum::<u64>(), 100);
        // A split of the current generation is used as is.
        let space = IndexSpace::range(50, 59);
        s.split_into(&space, &mut idx);
        s.write_split(&space, 8, 4, Some((s.generation(), &idx)));
        let last = s.pieces.last().map(|p| (p.space.clone(), p.copies.clone()));
        assert_eq!(last, Some((space, vec![ValidCopy { inst: 8, ready: 4 }])));
    }
}
