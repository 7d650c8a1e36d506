//! The decomposition the task version uses: zones (and their sides) blocked into pieces of
//! whole zone rows, points split into private points (touched by one piece only) and boundary
//! points (touched by several); each boundary point is owned by the lowest piece touching it
//! (`shared`, disjoint) and seen by every piece touching it (`ghost`, aliased).

use super::seq::RectMesh;

/// One piece of the decomposition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Piece {
    /// Zones `zones.0..zones.1` (whole rows).
    pub zones: (usize, usize),
    /// Points only this piece touches.
    pub private: Vec<usize>,
    /// Boundary points this piece owns.
    pub shared: Vec<usize>,
    /// Every boundary point this piece touches.
    pub ghost: Vec<usize>,
}

/// Blocks the zone rows of `mesh` into `n` pieces (as even as possible; `n` is capped at the
/// number of rows) and classifies the points.
pub fn decompose(mesh: &RectMesh, n: usize) -> Vec<Piece> {
    let n = n.clamp(1, mesh.nzy);
    let rows = |k: usize| k * mesh.nzy / n;
    let mut touch: Vec<Vec<usize>> = vec![Vec::new(); mesh.nump()];
    let mut pieces = Vec::with_capacity(n);
    for k in 0..n {
        let zones = (rows(k) * mesh.nzx, rows(k + 1) * mesh.nzx);
        for z in zones.0..zones.1 {
            for q in mesh.zone_points(z) {
                if touch[q].last() != Some(&k) {
                    touch[q].push(k);
                }
            }
        }
        pieces.push(Piece {
            zones,
            private: vec![],
            shared: vec![],
            ghost: vec![],
        });
    }
    for (q, t) in touch.iter().enumerate() {
        match t.as_slice() {
            [] => {}
            [k] => pieces[*k].private.push(q),
            many => {
                pieces[many[0]].shared.push(q);
                for &k in many {
                    pieces[k].ghost.push(q);
                }
            }
        }
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pennant::params::{Params, SEDOV_PNT};

    #[test]
    fn every_point_has_one_owner_and_ghosts_cover_boundaries() {
        let mesh = RectMesh::new(&Params::parse(SEDOV_PNT).unwrap());
        for n in [1, 2, 3, 7, 45, 100] {
            let ps = decompose(&mesh, n);
            let mut owner = vec![0usize; mesh.nump()];
            for p in &ps {
                for &q in p.private.iter().chain(&p.shared) {
                    owner[q] += 1;
                }
                for q in &p.shared {
                    assert!(p.ghost.contains(q));
                }
            }
            assert!(owner.iter().all(|&c| c == 1), "{n} pieces");
            assert_eq!(ps.last().unwrap().zones.1, mesh.numz());
            let zones: usize = ps.iter().map(|p| p.zones.1 - p.zones.0).sum();
            assert_eq!(zones, mesh.numz());
            // neighbouring pieces share one row of points
            for w in ps.windows(2) {
                assert_eq!(w[0].shared.len(), mesh.nzx + 1);
                assert_eq!(w[1].ghost.len() - w[1].shared.len(), mesh.nzx + 1);
            }
        }
    }
}
