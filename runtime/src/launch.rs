//! Launch arguments: a region argument is launched with a logical region (the same for every
//! point) or with a partition and a projection from the launch point to a subregion color.

use crate::geom::Point;
use crate::region::{PartitionId, RegionId};
use std::fmt;
use std::sync::Arc;

/// Maps a launch point to a color of a partition.
#[derive(Clone)]
pub enum Proj {
    /// The color is the point itself.
    Identity,
    /// The color is `f(point)`.
    Func(Arc<dyn Fn(&Point) -> Point + Send + Sync>),
}

impl Proj {
    /// A projection from a function.
    pub fn func(f: impl Fn(&Point) -> Point + Send + Sync + 'static) -> Proj {
        Proj::Func(Arc::new(f))
    }

    /// The color for `p`.
    pub fn apply(&self, p: &Point) -> Point {
        match self {
            Proj::Identity => *p,
            Proj::Func(f) => f(p),
        }
    }
}

impl fmt::Debug for Proj {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Proj::Identity => f.write_str("Identity"),
            Proj::Func(_) => f.write_str("Func(..)"),
        }
    }
}

/// What a region argument is launched with.
#[derive(Clone, Debug)]
pub enum ArgRef {
    /// One region for every point.
    Region(RegionId),
    /// A subregion of a partition per point (index launches only).
    Partition(PartitionId, Proj),
}

impl From<RegionId> for ArgRef {
    fn from(r: RegionId) -> ArgRef {
        ArgRef::Region(r)
    }
}

impl From<PartitionId> for ArgRef {
    fn from(p: PartitionId) -> ArgRef {
        ArgRef::Partition(p, Proj::Identity)
    }
}
