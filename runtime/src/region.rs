//! Logical regions (index space x field space, named) and partitions of them: equal/blocked
//! partitions and partitions by explicit subspaces (disjoint or aliased, e.g. ghost/halo
//! regions), with subregions addressed by color and ancestry names for mapper matching.

use crate::fasthash::FastMap;
use crate::field::FieldSpace;
use crate::geom::{IndexSpace, Point, Rect, MAX_DIM};
use std::collections::HashMap;
use std::sync::Arc;

/// Handle of a logical region.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RegionId(pub usize);

/// Handle of a partition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PartitionId(pub usize);

/// A logical region.
#[derive(Clone, Debug)]
pub struct RegionNode {
    /// Display name (`name` for a root, `partition[color]` for a subregion).
    pub name: String,
    /// The points.
    pub space: Arc<IndexSpace>,
    /// The fields (shared by the whole region tree).
    pub fields: Arc<FieldSpace>,
    /// The root of the region tree.
    pub root: RegionId,
    /// The partition and color this region is a subregion of, if any.
    pub parent: Option<(PartitionId, Point)>,
}

/// A partition of a region into colored subregions.
#[derive(Clone, Debug)]
pub struct PartitionNode {
    /// Name.
    pub name: String,
    /// The partitioned region.
    pub parent: RegionId,
    /// Bounding rectangle of the colors.
    pub color_bounds: Rect,
    /// Subregions by color.
    pub subregions: FastMap<Point, RegionId>,
    /// Colors in C order.
    pub colors: Vec<Point>,
    /// True if no two subregions share a point.
    pub disjoint: bool,
}

/// Every region and partition of a program.
#[derive(Debug, Default)]
pub struct RegionForest {
    regions: Vec<RegionNode>,
    partitions: Vec<PartitionNode>,
    names: HashMap<String, Named>,
}

/// What a top-level name refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Named {
    /// A root region.
    Region(RegionId),
    /// A partition.
    Partition(PartitionId),
}

impl RegionForest {
    /// An empty forest.
    pub fn new() -> RegionForest {
        RegionForest::default()
    }

    fn check_name(&self, name: &str) -> Result<(), String> {
        if name.is_empty() {
            return Err("region and partition names must not be empty".into());
        }
        if self.names.contains_key(name) {
            return Err(format!("the name `{name}` is already used by another region or partition; names must be unique"));
        }
        Ok(())
    }

    /// Creates a root region.
    pub fn create_region(
        &mut self,
        name: &str,
        space: IndexSpace,
        fields: FieldSpace,
    ) -> Result<RegionId, String> {
        self.check_name(name)?;
        let id = RegionId(self.regions.len());
        self.regions.push(RegionNode {
            name: name.to_string(),
            space: Arc::new(space),
            fields: Arc::new(fields),
            root: id,
            parent: None,
        });
        self.names.insert(name.to_string(), Named::Region(id));
        Ok(id)
    }

    /// The region `id`.
    pub fn region(&self, id: RegionId) -> Option<&RegionNode> {
        self.regions.get(id.0)
    }

    /// The partition `id`.
    pub fn partition(&self, id: PartitionId) -> Option<&PartitionNode> {
        self.partitions.get(id.0)
    }

    /// What `name` refers to.
    pub fn lookup(&self, name: &str) -> Option<Named> {
        self.names.get(name).copied()
    }

    /// Splits the bounds of `region` into `blocks[i]` near-equal blocks along dimension `i`
    /// (colors `0..blocks`), each intersected with the region's points: a disjoint partition.
    pub fn partition_equal(
        &mut self,
        region: RegionId,
        name: &str,
        blocks: &[i64],
    ) -> Result<PartitionId, String> {
        let node = self
            .region(region)
            .ok_or_else(|| format!("unknown region {region:?}"))?;
        let bounds = node.space.bounds();
        if blocks.len() != bounds.dim() {
            return Err(format!(
                "partition `{name}`: {} block counts given for a {}-D region `{}`",
                blocks.len(),
                bounds.dim(),
                node.name
            ));
        }
        if let Some(b) = blocks.iter().find(|&&b| b < 1) {
            return Err(format!(
                "partition `{name}`: block count {b} must be at least 1"
            ));
        }
        let colors = Rect::from_extents(blocks)
            .ok_or_else(|| format!("partition `{name}`: bad block counts {blocks:?}"))?;
        let ext = bounds.extents();
        let mut subs = Vec::new();
        for c in colors.iter() {
            let mut lo = [0; MAX_DIM];
            let mut hi = [0; MAX_DIM];
            for d in 0..bounds.dim() {
                let n = blocks[d];
                let e = if bounds.is_empty() { 0 } else { ext[d] };
                let (q, r) = (e / n, e % n);
                let i = c.get(d);
                let start = i * q + i.min(r);
                let len = q + i64::from(i < r);
                lo[d] = bounds.lo.get(d) + start;
                hi[d] = lo[d] + len - 1;
            }
            let rect = Rect {
                lo: Point::new(&lo[..bounds.dim()]).unwrap_or(bounds.lo),
                hi: Point::new(&hi[..bounds.dim()]).unwrap_or(bounds.hi),
            };
            subs.push((c, node.space.intersection(&IndexSpace::from_rect(rect))));
        }
        self.add_partition(region, name, subs, Some(true))
    }

    /// A partition with explicitly given subspaces (each must lie inside the region). Subspaces
    /// may overlap (aliased partition, e.g. ghost cells); disjointness is computed.
    pub fn partition_by_subspaces(
        &mut self,
        region: RegionId,
        name: &str,
        subspaces: Vec<(Point, IndexSpace)>,
    ) -> Result<PartitionId, String> {
        self.add_partition(region, name, subspaces, None)
    }

    fn add_partition(
        &mut self,
        region: RegionId,
        name: &str,
        subspaces: Vec<(Point, IndexSpace)>,
        disjoint: Option<bool>,
    ) -> Result<PartitionId, String> {
        self.check_name(name)?;
        let parent = self
            .region(region)
            .ok_or_else(|| format!("unknown region {region:?}"))?
            .clone();
        let Some(first) = subspaces.first() else {
            return Err(format!(
                "partition `{name}` of `{}` has no subregions",
                parent.name
            ));
        };
        let cdim = first.0.dim();
        let mut color_bounds = Rect {
            lo: first.0,
            hi: first.0,
        };
        for (c, s) in &subspaces {
            if c.dim() != cdim {
                return Err(format!(
                    "partition `{name}`: color {c} has {} dimensions, expected {cdim}",
                    c.dim()
                ));
            }
            if s.dim() != parent.space.dim() {
                return Err(format!(
                    "partition `{name}`: subspace of color {c} has {} dimensions but region `{}` has {}",
                    s.dim(),
                    parent.name,
                    parent.space.dim()
                ));
            }
            if !parent.space.contains_space(s) {
                return Err(format!(
                    "partition `{name}`: subspace of color {c} ({:?}) is not inside region `{}` ({:?})",
                    s.bounds(),
                    parent.name,
                    parent.space.bounds()
                ));
            }
            color_bounds = color_bounds.union_bbox(&Rect { lo: *c, hi: *c });
        }
        let disjoint = disjoint.unwrap_or_else(|| {
            subspaces
                .iter()
                .enumerate()
                .all(|(i, (_, a))| subspaces[i + 1..].iter().all(|(_, b)| !a.overlaps(b)))
        });
        let pid = PartitionId(self.partitions.len());
        let mut map = FastMap::default();
        let mut colors = Vec::new();
        for (c, s) in subspaces {
            if map.contains_key(&c) {
                return Err(format!("partition `{name}`: color {c} is given twice"));
            }
            let rid = RegionId(self.regions.len());
            self.regions.push(RegionNode {
                name: format!(
                    "{name}[{}]",
                    c.coords()
                        .iter()
                        .map(|x| x.to_string())
                        .collect::<Vec<_>>()
                        .join(",")
                ),
                space: Arc::new(s),
                fields: parent.fields.clone(),
                root: parent.root,
                parent: Some((pid, c)),
            });
            map.insert(c, rid);
            colors.push(c);
        }
        colors.sort_unstable();
        self.partitions.push(PartitionNode {
            name: name.to_string(),
            parent: region,
            color_bounds,
            subregions: map,
            colors,
            disjoint,
        });
        self.names.insert(name.to_string(), Named::Partition(pid));
        Ok(pid)
    }

    /// The subregion of `part` with color `color`.
    pub fn subregion(&self, part: PartitionId, color: &Point) -> Option<RegionId> {
        self.partition(part)?.subregions.get(color).copied()
    }

    /// Names of `region`, its partition (if a subregion) and all ancestors, nearest first.
    pub fn ancestry(&self, region: RegionId) -> Vec<String> {
        let mut out = Vec::new();
        let mut cur = Some(region);
        while let Some(r) = cur.and_then(|r| self.region(r)) {
            out.push(r.name.clone());
            cur = match r.parent {
                Some((p, _)) => self.partition(p).map(|pn| {
                    out.push(pn.name.clone());
                    pn.parent
                }),
                None => None,
            };
        }
        out
    }

    /// Names of `part` and all its ancestors, nearest first.
    pub fn partition_ancestry(&self, part: PartitionId) -> Vec<String> {
        match self.partition(part) {
            Some(p) => std::iter::once(p.name.clone())
                .chain(self.ancestry(p.parent))
                .collect(),
            None => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forest() -> (RegionForest, RegionId) {
        let mut f = RegionForest::new();
        let r = f
            .create_region(
                "grid",
                IndexSpace::range(0, 9),
                FieldSpace::new().field::<f64>("x"),
            )
            .unwrap();
        (f, r)
    }

    #[test]
    fn equal_partition_blocks() {
        let (mut f, r) = forest();
        let p = f.partition_equal(r, "blocks", &[3]).unwrap();
        let sizes: Vec<Rect> = (0..3)
            .map(|c| {
                f.region(f.subregion(p, &Point::p1(c)).unwrap())
                    .unwrap()
                    .space
                    .bounds()
            })
            .collect();
        assert_eq!(sizes, vec![Rect::r1(0, 3), Rect::r1(4, 6), Rect::r1(7, 9)]);
        assert!(f.partition(p).unwrap().disjoint);
        let sub = f.subregion(p, &Point::p1(1)).unwrap();
        assert_eq!(f.ancestry(sub), vec!["blocks[1]", "blocks", "grid"]);
        assert_eq!(f.region(sub).unwrap().root, r);
    }

    #[test]
    fn equal_partition_2d() {
        let mut f = RegionForest::new();
        let r = f
            .create_region(
                "m",
                IndexSpace::from_rect(Rect::r2((0, 0), (3, 5))),
                FieldSpace::new(),
            )
            .unwrap();
        let p = f.partition_equal(r, "tiles", &[2, 3]).unwrap();
        let s = f
            .region(f.subregion(p, &Point::p2(1, 2)).unwrap())
            .unwrap()
            .space
            .bounds();
        assert_eq!(s, Rect::r2((2, 4), (3, 5)));
        assert_eq!(f.partition(p).unwrap().colors.len(), 6);
    }

    #[test]
    fn aliased_partition_and_errors() {
        let (mut f, r) = forest();
        let ghost = f
            .partition_by_subspaces(
                r,
                "ghost",
                vec![
                    (Point::p1(0), IndexSpace::range(0, 5)),
                    (Point::p1(1), IndexSpace::range(4, 9)),
                ],
            )
            .unwrap();
        assert!(!f.partition(ghost).unwrap().disjoint);
        assert_eq!(f.partition_ancestry(ghost), vec!["ghost", "grid"]);
        let e = f
            .partition_by_subspaces(r, "bad", vec![(Point::p1(0), IndexSpace::range(5, 12))])
            .unwrap_err();
        assert_eq!(e, "partition `bad`: subspace of color (0) ([(5)..=(12)]) is not inside region `grid` ([(0)..=(9)])");
        let e = f
            .create_region("ghost", IndexSpace::range(0, 1), FieldSpace::new())
            .unwrap_err();
        assert!(e.starts_with("the name `ghost` is already used"), "{e}");
        assert_eq!(f.lookup("ghost"), Some(Named::Partition(ghost)));
    }
}
