//! Dependence analysis of the sequential top-level program. For every (root region, field) the
//! analysis keeps the list of earlier users (point set, access, operation); a new user depends on
//! every overlapping user it conflicts with. Read/read never conflicts and reductions with the
//! same operator commute. Lists stay short: a write removes its points from the earlier users
//! (dropping the users it covers), and a list that grows past a threshold is replaced by one
//! join operation, so per-launch cost stays flat.
//! A spatial index over the users' bounding boxes makes lookups visit only nearby users.

use crate::fasthash::FastMap;
use crate::field::FieldId;
use crate::geom::{IndexSpace, Rect};
use crate::region::RegionId;
use crate::spatial::RectIndex;
use crate::task::{Privilege, ReduceOp};
use std::sync::Arc;

/// Identity of an operation in the task graph (task, copy or join).
pub type OpId = u64;

/// How an operation accesses a field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Reads.
    Read,
    /// Writes (or reads and writes).
    Write,
    /// Reduces with an operator.
    Reduce(ReduceOp),
}

impl From<Privilege> for Access {
    fn from(p: Privilege) -> Access {
        match p {
            Privilege::Read => Access::Read,
            Privilege::Write | Privilege::ReadWrite | Privilege::WriteDiscard => Access::Write,
            Privilege::Reduce(op) => Access::Reduce(op),
        }
    }
}

/// True if the two accesses must be ordered when their point sets overlap.
pub fn conflicts(a: Access, b: Access) -> bool {
    match (a, b) {
        (Access::Read, Access::Read) => false,
        (Access::Reduce(x), Access::Reduce(y)) => x != y,
        _ => true,
    }
}

#[derive(Clone, Debug)]
struct User {
    space: Arc<IndexSpace>,
    bbox: Rect,
    access: Access,
    op: OpId,
}

/// The users of one field in registration order (pruned users leave holes until the list is
/// compacted), indexed by bounding box (item = position in the list).
#[derive(Debug)]
struct Users {
    list: Vec<Option<User>>,
    live: usize,
    index: RectIndex,
    scratch: Vec<u64>,
}

impl Users {
    fn new(bounds: Rect) -> Users {
        Users {
            list: Vec::new(),
            live: 0,
            index: RectIndex::within(&bounds),
            scratch: Vec::new(),
        }
    }

    /// Positions of the users that may overlap `bbox`, ascending (return it to `scratch`).
    fn candidates(&mut self, bbox: &Rect) -> Vec<u64> {
        let mut c = std::mem::take(&mut self.scratch);
        if !self.index.query(bbox, &mut c) {
            c.clear();
            c.extend(0..self.list.len() as u64);
        }
        c
    }

    fn push(&mut self, u: User) {
        self.index.insert(self.list.len() as u64, &u.bbox);
        self.list.push(Some(u));
        self.live += 1;
    }

    fn remove(&mut self, pos: usize) {
        if let Some(u) = self.list.get_mut(pos).and_then(Option::take) {
            self.index.remove(pos as u64, &u.bbox);
            self.live -= 1;
        }
    }

    /// Drops the holes (keeping the order) once they outnumber the live users.
    fn compact(&mut self) {
        if self.list.len() < 64 || self.list.len() - self.live <= self.live {
            return;
        }
        let old = std::mem::take(&mut self.list);
        self.index.clear();
        self.live = 0;
        for u in old.into_iter().flatten() {
            self.push(u);
        }
    }

    /// Removes the points of a write (`space`, bounding box `bbox`) from the user at `pos`:
    /// the write waits for that user, and every later access to those points conflicts with
    /// the write, so it is ordered after the user through the write. A user the write covers
    /// is dropped; one it overlaps keeps only the points outside it (unless that would split it
    /// into more than [`MAX_RECTS`] rectangles: keeping more points is always safe).
    fn cut(&mut self, pos: usize, space: &IndexSpace, bbox: &Rect) {
        let Some(Some(u)) = self.list.get(pos) else {
            return;
        };
        if !u.bbox.overlaps(bbox) {
            return;
        }
        if bbox.contains_rect(&u.bbox) && space.contains_space(&u.space) {
            self.remove(pos);
            return;
        }
        if !u.space.overlaps(space) {
            return;
        }
        let rest = u.space.difference(space);
        if rest.is_empty() {
            self.remove(pos);
            return;
        }
        if rest.rects().len() > MAX_RECTS {
            return;
        }
        let old = u.bbox;
        let nb = rest.bounds();
        if let Some(Some(u)) = self.list.get_mut(pos) {
            u.space = Arc::new(rest);
            u.bbox = nb;
        }
        if nb != old {
            self.index.remove(pos as u64, &old);
            self.index.insert(pos as u64, &nb);
        }
    }

    fn clear(&mut self) {
        self.list.clear();
        self.live = 0;
        self.index.clear();
    }
}

/// The most rectangles a user's remaining points may take after writes cut it.
const MAX_RECTS: usize = 8;

/// The per-field user lists.
#[derive(Debug)]
pub struct Analysis {
    users: FastMap<(RegionId, FieldId), Users>,
    /// A user list longer than this is replaced by one join operation.
    pub join_threshold: usize,
}

impl Default for Analysis {
    fn default() -> Self {
        Analysis {
            users: FastMap::default(),
            join_threshold: 256,
        }
    }
}

impl Analysis {
    /// Empty lists.
    pub fn new() -> Analysis {
        Analysis::default()
    }

    /// Appends to `deps` the operations that an access to `space` of (`root`, `field`) must
    /// wait for (other than `me`).
    pub fn deps(
        &mut self,
        root: RegionId,
        field: FieldId,
        space: &IndexSpace,
        access: Access,
        me: OpId,
        deps: &mut Vec<OpId>,
    ) {
        let Some(users) = self.users.get_mut(&(root, field)) else {
            return;
        };
        let bbox = space.bounds();
        let cand = users.candidates(&bbox);
        for &pos in &cand {
            let Some(Some(u)) = users.list.get(pos as usize) else {
                continue;
            };
            if u.op != me
                && conflicts(u.access, access)
                && u.bbox.overlaps(&bbox)
                && u.space.overlaps(space)
            {
                deps.push(u.op);
            }
        }
        users.scratch = cand;
    }

    /// Records operation `op` as a user; a write prunes the users whose points it covers. If the
    /// list grows past the threshold, `join` is called with every user's operation and must
    /// return an operation that completes after all of them; it replaces the list, covering
    /// `root_space`.
    #[allow(clippy::too_many_arguments)]
    pub fn register(
        &mut self,
        root: RegionId,
        field: FieldId,
        space: &Arc<IndexSpace>,
        access: Access,
        op: OpId,
        root_space: &Arc<IndexSpace>,
        join: &mut dyn FnMut(Vec<OpId>) -> OpId,
    ) {
        let users = self
            .users
            .entry((root, field))
            .or_insert_with(|| Users::new(root_space.bounds()));
        let bbox = space.bounds();
        if access == Access::Write {
            let cand = users.candidates(&bbox);
            for &pos in &cand {
                users.cut(pos as usize, space, &bbox);
            }
            users.scratch = cand;
            users.compact();
        }
        users.push(User {
            space: space.clone(),
            bbox,
            access,
            op,
        });
        if users.live > self.join_threshold {
            let ops: Vec<OpId> = users.list.iter().flatten().map(|u| u.op).collect();
            let j = join(ops);
            users.clear();
            users.push(User {
                space: root_space.clone(),
                bbox: root_space.bounds(),
                access: Access::Write,
                op: j,
            });
        }
    }

    /// Number of users recorded for (`root`, `field`).
    pub fn len(&self, root: RegionId, field: FieldId) -> usize {
        self.users.get(&(root, field)).map_or(0, |u| u.live)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sp(lo: i64, hi: i64) -> Arc<IndexSpace> {
        Arc::new(IndexSpace::range(lo, hi))
    }

    /// Runs a program of (space, access) steps on one field; returns each step's dependences.
    fn run(steps: &[(Arc<IndexSpace>, Access)]) -> Vec<Vec<OpId>> {
        let mut a = Analysis::new();
        let root = sp(0, 99);
        let r = RegionId(0);
        let mut out = Vec::new();
        for (i, (s, acc)) in steps.iter().enumerate() {
            let op = i as OpId + 1;
            let mut d = Vec::new();
            a.deps(r, 0, s, *acc, op, &mut d);
            d.sort_unstable();
            out.push(d);
            a.register(r, 0, s, *acc, op, &root, &mut |_| unreachable!());
        }
        out
    }

    #[test]
    fn exact_edges_of_a_small_program() {
        use Access::*;
        let deps = run(&[
            (sp(0, 49), Write),                 // 1
            (sp(50, 99), Write),                // 2
            (sp(40, 59), Read),                 // 3: reads both halves
            (sp(0, 9), Read),                   // 4
            (sp(0, 49), Write),                 // 5: WAR on 3, 4; WAW on 1
            (sp(0, 99), Reduce(ReduceOp::Sum)), // 6
            (sp(0, 99), Reduce(ReduceOp::Sum)), // 7: commutes with 6
            (sp(0, 99), Reduce(ReduceOp::Max)), // 8: different operator
            (sp(60, 69), Read),                 // 9
        ]);
        assert_eq!(
            deps,
            vec![
                vec![],
                vec![],
                vec![1, 2],
                vec![1],
                vec![1, 3, 4],
                vec![2, 3, 5],
                vec![2, 3, 5],
                vec![2, 3, 5, 6, 7],
                vec![2, 6, 7, 8],
            ]
        );
    }

    #[test]
    fn covering_write_prunes() {
        let mut a = Analysis::new();
        let root = sp(0, 99);
        let r = RegionId(0);
        for i in 0..10u64 {
            a.register(
                r,
                0,
                &sp(i as i64 * 10, i as i64 * 10 + 9),
                Access::Read,
                i + 1,
                &root,
                &mut |_| 0,
            );
        }
        assert_eq!(a.len(r, 0), 10);
        a.register(r, 0, &root, Access::Write, 11, &root, &mut |_| 0);
        assert_eq!(a.len(r, 0), 1);
    }

    #[test]
    fn writes_cut_the_readers_they_overlap() {
        use Access::*;
        // A ghost read of 10..=29 stays only where no later write covered it.
        let deps = run(&[
            (sp(10, 29), Read),  // 1
            (sp(0, 19), Write),  // 2: WAR on 1; 1 keeps 20..=29
            (sp(15, 15), Read),  // 3: only 2 wrote 15
            (sp(25, 25), Write), // 4: WAR on 1; 1 keeps 20..=24 and 26..=29
            (sp(24, 26), Write), // 5: 1 (at 24 and 26) and 4
            (sp(0, 99), Write),  // 6: 1 is gone; 2, 3, 5
        ]);
        assert_eq!(
            deps,
            vec![
                vec![],
                vec![1],
                vec![2],
                vec![1],
                vec![1, 4],
                vec![1, 2, 3, 5]
            ]
        );
    }

    #[test]
    fn ghost_readers_do_not_accumulate() {
        // Task Bench's stencil: each step reads ghosts (i-1..=i+1) of one field and writes the
        // points (i) of the other; after the neighbours' writes nothing is left of a reader.
        let mut a = Analysis {
            join_threshold: 64,
            ..Analysis::default()
        };
        let root = sp(0, 7);
        let mut op = 0;
        for _ in 0..100 {
            for f in 0..2 {
                for i in 0..8 {
                    op += 1;
                    let g = sp((i - 1).max(0), (i + 1).min(7));
                    a.register(RegionId(0), f, &g, Access::Read, op, &root, &mut |_| {
                        unreachable!("no join needed")
                    });
                }
                for i in 0..8 {
                    op += 1;
                    let own = sp(i, i);
                    a.register(
                        RegionId(0),
                        1 - f,
                        &own,
                        Access::Write,
                        op,
                        &root,
                        &mut |_| unreachable!("no join needed"),
                    );
                }
            }
        }
        assert!(a.len(RegionId(0), 0) <= 16 && a.len(RegionId(0), 1) <= 16);
    }

    #[test]
    fn long_lists_are_joined() {
        let mut a = Analysis {
            join_threshold: 4,
            ..Analysis::default()
        };
        let root = sp(0, 99);
        let r = RegionId(0);
        let mut joined = Vec::new();
        for i in 0..5u64 {
            a.register(
                r,
                0,
                &sp(i as i64, i as i64),
                Access::Write,
                i + 1,
                &root,
                &mut |ops| {
                    joined = ops;
                    100
                },
            );
        }
        assert_eq!(joined, vec![1, 2, 3, 4, 5]);
        let mut d = Vec::new();
        a.deps(r, 0, &sp(50, 50), Access::Read, 6, &mut d);
        assert_eq!(d, vec![100]);
    }
}
