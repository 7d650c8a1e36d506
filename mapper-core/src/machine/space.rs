//! Machine spaces (DSL.md §4): n-D views of the processors of one kind.
//!
//! `Machine(KIND)` is the 2-D space `(nodes, processors of KIND per node)`. Every transform
//! (`merge`, `split`, `swap`, `slice`, `reverse`, `balance_split`, `auto_split`/`decompose`,
//! `greedy_split`) returns a new [`Space`] whose points name processors of the base space. A
//! space stores the composed index transform as a short list of per-dimension operations that map
//! a point of the space back to a point of the base space, plus (for spaces of at most
//! [`TABLE_LIMIT`] points, i.e. every realistic machine) a flat table of processors in row-major
//! order, so that [`Space::get`] is a bounds check, a dot product and a load.
//!
//! Transform results are memoized per space ([`Space::apply_cached`]), so a placement function
//! that recomputes `mgpu.auto_split(0, task.ispace)` for every point pays for the decomposition
//! only once per launch domain.
//!
//! Point conventions follow the original Legion mapping DSL: splitting dimension `d` into
//! sizes `(s_0, s_1, ...)` makes the *first* new dimension vary fastest
//! (`old = i_0 + i_1*s_0 + i_2*s_0*s_1 + ...`), and `merge(d1, d2)` makes `d2` vary fastest
//! (`new = old[d1] * size[d2] + old[d2]`), with the merged dimension where `d1` was once `d2` is
//! removed.

use crate::kinds::ProcKind;
use crate::machine::{MachineShape, Placement, ProcId};
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, RwLock};

/// Most dimensions a machine space may have.
pub const MAX_DIMS: usize = 16;

/// Spaces with at most this many points keep a flat processor table for O(1) lookups.
pub const TABLE_LIMIT: i64 = 1 << 16;

/// Most memoized transform results kept per space (further results are computed, not stored).
const CACHE_LIMIT: usize = 256;

/// Most factorizations `auto_split` enumerates before giving up with an error.
const ENUM_LIMIT: u64 = 5_000_000;

/// The extents argument of `auto_split`/`greedy_split`: up to [`MAX_DIMS`] integers stored
/// inline (so a [`Transform`] is `Copy` and hashing it allocates nothing).
#[derive(Clone, Copy)]
pub struct Extents {
    len: u8,
    v: [i64; MAX_DIMS],
}

impl Extents {
    /// Extents from a slice (an error beyond [`MAX_DIMS`] values).
    pub fn new(v: &[i64]) -> Result<Extents, String> {
        if v.len() > MAX_DIMS {
            return Err(format!(
                "at most {MAX_DIMS} extents are supported, got {}",
                v.len()
            ));
        }
        let mut e = Extents {
            len: v.len() as u8,
            v: [0; MAX_DIMS],
        };
        e.v[..v.len()].copy_from_slice(v);
        Ok(e)
    }

    /// The extents.
    #[inline]
    pub fn as_slice(&self) -> &[i64] {
        &self.v[..usize::from(self.len)]
    }
}

impl Extents {
    /// True if these are exactly the extents `v` (no allocation, no `memcmp` call).
    #[inline]
    pub fn is(&self, v: &[i64]) -> bool {
        let s = self.as_slice();
        s.len() == v.len() && s.iter().zip(v).all(|(a, b)| a == b)
    }
}

impl PartialEq for Extents {
    /// Compares only the used extents (unused slots are always zero).
    #[inline]
    fn eq(&self, o: &Extents) -> bool {
        self.is(o.as_slice())
    }
}

impl Eq for Extents {}

impl std::hash::Hash for Extents {
    /// Hashes only the used extents (unused slots are always zero, so this agrees with `Eq`).
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        h.write_u8(self.len);
        for &x in self.as_slice() {
            h.write_i64(x);
        }
    }
}

impl fmt::Debug for Extents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.as_slice())
    }
}

/// A small, fast hasher for transform keys (FxHash-style multiply-rotate; keys are not
/// adversarial: they come from the mapper's own arithmetic).
#[derive(Default, Clone, Copy)]
struct FxHasher(u64);

impl std::hash::Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        for c in bytes.chunks(8) {
            let mut w = [0u8; 8];
            w[..c.len()].copy_from_slice(c);
            self.write_u64(u64::from_le_bytes(w));
        }
    }
    fn write_u64(&mut self, x: u64) {
        self.0 = (self.0.rotate_left(5) ^ x).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_u8(&mut self, x: u8) {
        self.write_u64(u64::from(x));
    }
    fn write_usize(&mut self, x: usize) {
        self.write_u64(x as u64);
    }
    fn write_i64(&mut self, x: i64) {
        self.write_u64(x as u64);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

type FxBuild = std::hash::BuildHasherDefault<FxHasher>;

/// A transform of a machine space, with its arguments as written in the DSL.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Transform {
    /// `merge(d1, d2)`
    Merge(i64, i64),
    /// `split(d, f)`
    Split(i64, i64),
    /// `swap(d1, d2)`
    Swap(i64, i64),
    /// `slice(d, lo, hi)` (inclusive bounds)
    Slice(i64, i64, i64),
    /// `reverse(d)`
    Reverse(i64),
    /// `balance_split(d, k)`
    BalanceSplit(i64, i64),
    /// `auto_split(d, v)` / `decompose(d, v)`
    AutoSplit(i64, Extents),
    /// `greedy_split(d, v)`
    GreedySplit(i64, Extents),
}

impl Transform {
    /// The DSL name of the transform.
    pub fn name(&self) -> &'static str {
        match self {
            Transform::Merge(..) => "merge",
            Transform::Split(..) => "split",
            Transform::Swap(..) => "swap",
            Transform::Slice(..) => "slice",
            Transform::Reverse(..) => "reverse",
            Transform::BalanceSplit(..) => "balance_split",
            Transform::AutoSplit(..) => "auto_split",
            Transform::GreedySplit(..) => "greedy_split",
        }
    }
}

/// One step of the composed index transform: maps a point of a space to a point of the space
/// it was derived from.
#[derive(Clone, Debug)]
enum Op {
    /// New dims `d..d+pre.len()` fuse into old dim `d`: `old[d] = sum_k new[d+k] * pre[k]`.
    Fuse { d: usize, pre: Vec<i64> },
    /// New dim `pos` unfolds into old dims `d1` (`x / s2`) and `d2` (`x % s2`).
    Merge {
        pos: usize,
        d1: usize,
        d2: usize,
        s2: i64,
        old_n: usize,
    },
    /// Dims `a` and `b` are exchanged.
    Swap { a: usize, b: usize },
    /// `old[d] = new[d] + lo`.
    Offset { d: usize, lo: i64 },
    /// `old[d] = s - 1 - new[d]`.
    Reverse { d: usize, s: i64 },
}

/// A small point buffer on the stack.
type Buf = [i64; MAX_DIMS + 1];

impl Op {
    /// Rewrites `p[..*n]` (a point of the derived space) into a point of the parent space.
    fn back(&self, p: &mut Buf, n: &mut usize) {
        match self {
            Op::Fuse { d, pre } => {
                let k = pre.len();
                let x: i64 = (0..k).map(|j| p[d + j] * pre[j]).sum();
                p[*d] = x;
                p.copy_within(d + k..*n, d + 1);
                *n -= k - 1;
            }
            Op::Merge {
                pos,
                d1,
                d2,
                s2,
                old_n,
            } => {
                let x = p[*pos];
                let mut q: Buf = [0; MAX_DIMS + 1];
                for (i, qi) in q.iter_mut().enumerate().take(*old_n) {
                    *qi = if i == *d1 {
                        x / s2
                    } else if i == *d2 {
                        x % s2
                    } else {
                        p[i - usize::from(i > *d2)]
                    };
                }
                *p = q;
                *n = *old_n;
            }
            Op::Swap { a, b } => p.swap(*a, *b),
            Op::Offset { d, lo } => p[*d] += lo,
            Op::Reverse { d, s } => p[*d] = s - 1 - p[*d],
        }
    }
}

/// An n-D machine space whose points name processors of one kind.
pub struct Space {
    kind: ProcKind,
    nodes: i64,
    per_node: i64,
    size: Vec<i64>,
    strides: Vec<i64>,
    volume: i64,
    /// From this space back to the base space, newest first.
    ops: Vec<Op>,
    /// Processors in row-major order of this space's points, when the volume is small.
    table: Option<Box<[ProcId]>>,
    cache: RwLock<HashMap<Transform, Arc<Space>, FxBuild>>,
}

impl Clone for Space {
    fn clone(&self) -> Self {
        Space {
            kind: self.kind,
            nodes: self.nodes,
            per_node: self.per_node,
            size: self.size.clone(),
            strides: self.strides.clone(),
            volume: self.volume,
            ops: self.ops.clone(),
            table: self.table.clone(),
            cache: RwLock::new(HashMap::default()),
        }
    }
}

impl fmt::Debug for Space {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Space({}, size={:?})", self.kind, self.size)
    }
}

impl PartialEq for Space {
    /// Two spaces are equal when they have the same extents and name the same processors at
    /// every point.
    fn eq(&self, other: &Space) -> bool {
        self.kind == other.kind && self.size == other.size && self.procs() == other.procs()
    }
}

/// `"1-D"`, `"2-D"`, ...
fn dims_word(n: usize) -> String {
    format!("{n}-D")
}

impl Space {
    /// The base space `Machine(kind)`: `(nodes, processors of kind per node)`.
    pub fn machine(kind: ProcKind, shape: &MachineShape) -> Result<Space, String> {
        let nodes = i64::from(shape.nodes);
        let per_node = i64::from(shape.per_node(kind));
        Space::build(kind, nodes, per_node, vec![nodes, per_node], Vec::new())
    }

    fn build(
        kind: ProcKind,
        nodes: i64,
        per_node: i64,
        size: Vec<i64>,
        ops: Vec<Op>,
    ) -> Result<Space, String> {
        if size.len() > MAX_DIMS {
            return Err(format!(
                "a machine space may have at most {MAX_DIMS} dimensions, this one would have {}",
                size.len()
            ));
        }
        let mut volume: i64 = 1;
        for &s in &size {
            volume = volume
                .checked_mul(s)
                .ok_or_else(|| "machine space volume overflows i64".to_string())?;
        }
        let mut strides = vec![1i64; size.len()];
        for i in (0..size.len().saturating_sub(1)).rev() {
            strides[i] = strides[i + 1] * size[i + 1].max(1);
        }
        let mut sp = Space {
            kind,
            nodes,
            per_node,
            size,
            strides,
            volume,
            ops,
            table: None,
            cache: RwLock::new(HashMap::default()),
        };
        if volume <= TABLE_LIMIT {
            let mut table = Vec::with_capacity(volume as usize);
            let mut p: Buf = [0; MAX_DIMS + 1];
            let n = sp.size.len();
            for _ in 0..volume {
                table.push(sp.resolve(&p, n));
                // Advance the row-major counter.
                for i in (0..n).rev() {
                    p[i] += 1;
                    if p[i] < sp.size[i] {
                        break;
                    }
                    p[i] = 0;
                }
            }
            sp.table = Some(table.into_boxed_slice());
        }
        Ok(sp)
    }

    /// Maps an in-range point through the op chain to a processor.
    fn resolve(&self, p: &[i64], n: usize) -> ProcId {
        let mut buf: Buf = [0; MAX_DIMS + 1];
        buf[..n].copy_from_slice(&p[..n]);
        let mut len = n;
        for op in &self.ops {
            op.back(&mut buf, &mut len);
        }
        ProcId {
            node: buf[0] as u32,
            kind: self.kind,
            index: buf[1] as u32,
        }
    }

    /// The processor kind of the space.
    #[inline]
    pub fn kind(&self) -> ProcKind {
        self.kind
    }

    /// The extents of every dimension.
    #[inline]
    pub fn size(&self) -> &[i64] {
        &self.size
    }

    /// The number of dimensions.
    #[inline]
    pub fn len(&self) -> usize {
        self.size.len()
    }

    /// True if the space has no points.
    pub fn is_empty(&self) -> bool {
        self.volume == 0
    }

    /// The number of points (= processors it covers).
    #[inline]
    pub fn volume(&self) -> i64 {
        self.volume
    }

    #[inline]
    fn check_index(&self, idx: &[i64]) -> Result<(), String> {
        if idx.len() != self.size.len() {
            return Err(format!(
                "a {} machine space needs {} indices, got {}",
                dims_word(self.size.len()),
                self.size.len(),
                idx.len()
            ));
        }
        for (d, (&i, &s)) in idx.iter().zip(&self.size).enumerate() {
            if i < 0 || i >= s {
                return Err(format!(
                    "index {i} out of bound for dimension {d} of size {s}"
                ));
            }
        }
        Ok(())
    }

    /// True if `idx` names a point of the space (one in-range index per dimension): then
    /// [`Space::at`] gives its processor and [`Space::get`] cannot fail.
    #[inline]
    pub fn contains(&self, idx: &[i64]) -> bool {
        idx.len() == self.size.len() && idx.iter().zip(&self.size).all(|(&i, &s)| i >= 0 && i < s)
    }

    /// The processor at point `idx`, which must be [`Space::contains`]ed (the placement hot
    /// path: no error value is built or inspected).
    #[inline]
    pub fn at(&self, idx: &[i64]) -> ProcId {
        let flat: i64 = idx.iter().zip(&self.strides).map(|(i, s)| i * s).sum();
        match self.table.as_ref().and_then(|t| t.get(flat as usize)) {
            Some(&p) => p,
            None => self.resolve(idx, idx.len()),
        }
    }

    /// The processor at point `idx` (one index per dimension; out-of-range is an error).
    #[inline]
    pub fn get(&self, idx: &[i64]) -> Result<ProcId, String> {
        self.check_index(idx)?;
        match &self.table {
            Some(t) => {
                let flat: i64 = idx.iter().zip(&self.strides).map(|(i, s)| i * s).sum();
                Ok(t[flat as usize])
            }
            None => Ok(self.resolve(idx, idx.len())),
        }
    }

    /// The placement named by `idx` where `None` is a `*` wildcard: a whole node's processors
    /// give [`Placement::AnyOnNode`]; a set of exactly one processor gives [`Placement::Proc`];
    /// anything else is an error.
    pub fn get_any(&self, idx: &[Option<i64>]) -> Result<Placement, String> {
        if idx.len() != self.size.len() {
            return Err(format!(
                "a {} machine space needs {} indices, got {}",
                dims_word(self.size.len()),
                self.size.len(),
                idx.len()
            ));
        }
        let mut point: Vec<i64> = Vec::with_capacity(idx.len());
        let mut wild: Vec<usize> = Vec::new();
        let mut count: i64 = 1;
        for (d, (i, &s)) in idx.iter().zip(&self.size).enumerate() {
            match i {
                Some(i) => {
                    if *i < 0 || *i >= s {
                        return Err(format!(
                            "index {i} out of bound for dimension {d} of size {s}"
                        ));
                    }
                    point.push(*i);
                }
                None => {
                    if s == 0 {
                        return Err(format!(
                            "`*` over dimension {d} of size 0 names no processor"
                        ));
                    }
                    count = count.saturating_mul(s);
                    wild.push(d);
                    point.push(0);
                }
            }
        }
        if wild.is_empty() {
            return self.get(&point).map(Placement::Proc);
        }
        if count > self.per_node.max(1) {
            return Err(format!(
                "`*` names {count} processors, more than the {} {} processors of one node; a wildcard must name the processors of one node",
                self.per_node, self.kind
            ));
        }
        let mut seen: Vec<ProcId> = Vec::with_capacity(count as usize);
        loop {
            seen.push(self.get(&point)?);
            // Advance the wildcard counter.
            let mut done = true;
            for &d in wild.iter().rev() {
                point[d] += 1;
                if point[d] < self.size[d] {
                    done = false;
                    break;
                }
                point[d] = 0;
            }
            if done {
                break;
            }
        }
        let node = seen[0].node;
        if seen.iter().any(|p| p.node != node) {
            return Err(format!(
                "`*` names processors on several nodes ({} and {}); a wildcard must name the processors of one node",
                seen[0],
                seen.iter().find(|p| p.node != node).copied().unwrap_or(seen[0])
            ));
        }
        if seen.len() == 1 {
            return Ok(Placement::Proc(seen[0]));
        }
        if seen.len() as i64 == self.per_node {
            return Ok(Placement::AnyOnNode {
                node,
                kind: self.kind,
            });
        }
        Err(format!(
            "`*` names {} of the {} {} processors of node {node}; a wildcard must name all processors of one node or exactly one",
            seen.len(),
            self.per_node,
            self.kind
        ))
    }

    /// Every processor of the space, in row-major order of its points.
    pub fn procs(&self) -> Vec<ProcId> {
        if let Some(t) = &self.table {
            return t.to_vec();
        }
        let n = self.size.len();
        let mut out = Vec::new();
        let mut p: Buf = [0; MAX_DIMS + 1];
        for _ in 0..self.volume {
            out.push(self.resolve(&p, n));
            for i in (0..n).rev() {
                p[i] += 1;
                if p[i] < self.size[i] {
                    break;
                }
                p[i] = 0;
            }
        }
        out
    }

    /// The coordinates of processor `proc` in this space (`task.processor(m)`).
    pub fn coords_of(&self, proc: ProcId) -> Result<Vec<i64>, String> {
        if proc.kind != self.kind {
            return Err(format!(
                "processor {proc} is not in this {} machine space",
                self.kind
            ));
        }
        let flat = match &self.table {
            Some(t) => t.iter().position(|p| *p == proc),
            None => self.procs().iter().position(|p| *p == proc),
        };
        let Some(mut flat) = flat.map(|f| f as i64) else {
            return Err(format!(
                "processor {proc} is not in this machine space of size {:?}",
                self.size
            ));
        };
        let mut out = vec![0; self.size.len()];
        for (o, s) in out.iter_mut().zip(&self.strides) {
            *o = flat / s;
            flat %= s;
        }
        Ok(out)
    }

    fn dim(&self, what: &str, d: i64) -> Result<usize, String> {
        if d < 0 || d as usize >= self.size.len() {
            return Err(format!(
                "{what}: dimension {d} out of range for a {} machine space (dimensions are 0..{})",
                dims_word(self.size.len()),
                self.size.len()
            ));
        }
        Ok(d as usize)
    }

    fn derive(&self, size: Vec<i64>, op: Op) -> Result<Space, String> {
        let mut ops = Vec::with_capacity(self.ops.len() + 1);
        ops.push(op);
        ops.extend(self.ops.iter().cloned());
        Space::build(self.kind, self.nodes, self.per_node, size, ops)
    }

    /// Replaces dim `d` by dims of extents `parts` (product = old extent), first fastest.
    fn fuse(&self, d: usize, parts: &[i64]) -> Result<Space, String> {
        let mut pre = Vec::with_capacity(parts.len());
        let mut acc = 1i64;
        for &s in parts {
            pre.push(acc);
            acc = acc.saturating_mul(s);
        }
        let mut size = Vec::with_capacity(self.size.len() + parts.len() - 1);
        size.extend_from_slice(&self.size[..d]);
        size.extend_from_slice(parts);
        size.extend_from_slice(&self.size[d + 1..]);
        self.derive(size, Op::Fuse { d, pre })
    }

    /// Applies a transform, without memoization.
    pub fn apply(&self, t: &Transform) -> Result<Space, String> {
        match t {
            Transform::Merge(a, b) => self.merge(*a, *b),
            Transform::Split(d, f) => self.split(*d, *f),
            Transform::Swap(a, b) => self.swap(*a, *b),
            Transform::Slice(d, lo, hi) => self.slice(*d, *lo, *hi),
            Transform::Reverse(d) => self.reverse(*d),
            Transform::BalanceSplit(d, k) => self.balance_split(*d, *k),
            Transform::AutoSplit(d, v) => self.auto_split(*d, v.as_slice()),
            Transform::GreedySplit(d, v) => self.greedy_split(*d, v.as_slice()),
        }
    }

    /// Applies a transform, memoizing the result on `self` (results are pure functions of the
    /// space and the arguments).
    pub fn apply_cached(self: &Arc<Self>, t: &Transform) -> Result<Arc<Space>, String> {
        if let Ok(c) = self.cache.read() {
            if let Some(s) = c.get(t) {
                return Ok(Arc::clone(s));
            }
        }
        let s = Arc::new(self.apply(t)?);
        if let Ok(mut c) = self.cache.write() {
            if c.len() < CACHE_LIMIT {
                c.insert(*t, Arc::clone(&s));
            }
        }
        Ok(s)
    }

    /// `merge(d1, d2)`: dims d1 and d2 become one dim of extent `size[d1]*size[d2]`, with d2
    /// varying fastest; it sits where d1 was once d2 is removed.
    pub fn merge(&self, d1: i64, d2: i64) -> Result<Space, String> {
        let a = self.dim("merge", d1)?;
        let b = self.dim("merge", d2)?;
        if a == b {
            return Err(format!(
                "merge: the two dimensions must differ, got {d1} twice"
            ));
        }
        let s2 = self.size[b];
        let merged = self.size[a]
            .checked_mul(s2)
            .ok_or_else(|| "merge: extent overflows i64".to_string())?;
        let mut size = Vec::with_capacity(self.size.len() - 1);
        for (i, &s) in self.size.iter().enumerate() {
            if i == a {
                size.push(merged);
            } else if i != b {
                size.push(s);
            }
        }
        let pos = a - usize::from(a > b);
        self.derive(
            size,
            Op::Merge {
                pos,
                d1: a,
                d2: b,
                s2: s2.max(1),
                old_n: self.size.len(),
            },
        )
    }

    /// `split(d, f)`: dim d becomes `(f, size/f)` with `new[.., i, j, ..] = old[.., i + j*f, ..]`.
    pub fn split(&self, d: i64, f: i64) -> Result<Space, String> {
        let d = self.dim("split", d)?;
        if f <= 0 {
            return Err(format!("split: the factor must be positive, got {f}"));
        }
        let o = self.size[d];
        if o % f != 0 {
            return Err(format!("split: {o} is not divisible by {f}"));
        }
        self.fuse(d, &[f, o / f])
    }

    /// `swap(d1, d2)`: exchanges two dims.
    pub fn swap(&self, d1: i64, d2: i64) -> Result<Space, String> {
        let a = self.dim("swap", d1)?;
        let b = self.dim("swap", d2)?;
        let mut size = self.size.clone();
        size.swap(a, b);
        self.derive(size, Op::Swap { a, b })
    }

    /// `slice(d, lo, hi)`: keeps indices `lo..=hi` of dim d.
    pub fn slice(&self, d: i64, lo: i64, hi: i64) -> Result<Space, String> {
        let dd = self.dim("slice", d)?;
        let s = self.size[dd];
        if lo < 0 || hi >= s || lo > hi {
            return Err(format!(
                "slice: bounds {lo}..={hi} are not a non-empty range within dimension {d} of size {s}"
            ));
        }
        let mut size = self.size.clone();
        size[dd] = hi - lo + 1;
        self.derive(size, Op::Offset { d: dd, lo })
    }

    /// `reverse(d)`: reverses dim d.
    pub fn reverse(&self, d: i64) -> Result<Space, String> {
        let d = self.dim("reverse", d)?;
        let s = self.size[d];
        self.derive(self.size.clone(), Op::Reverse { d, s })
    }

    /// `balance_split(d, k)`: dim d becomes k (2 or 3) dims as equal as possible, non-increasing.
    pub fn balance_split(&self, d: i64, k: i64) -> Result<Space, String> {
        let d = self.dim("balance_split", d)?;
        let parts = balance_factors(self.size[d], k).map_err(|e| format!("balance_split: {e}"))?;
        self.fuse(d, &parts)
    }

    /// `auto_split(d, v)` / `decompose(d, v)`: dim d (extent O) becomes `len(v)` dims whose
    /// extents minimize the communication surface of a block decomposition of extents `v`
    /// (see [`auto_split_factors`]).
    pub fn auto_split(&self, d: i64, v: &[i64]) -> Result<Space, String> {
        let d = self.dim("auto_split", d)?;
        let parts = auto_split_factors(self.size[d], v).map_err(|e| format!("auto_split: {e}"))?;
        self.fuse(d, &parts)
    }

    /// `greedy_split(d, v)`: like `auto_split` but with the greedy prime-factor heuristic
    /// (see [`greedy_split_factors`]).
    pub fn greedy_split(&self, d: i64, v: &[i64]) -> Result<Space, String> {
        let d = self.dim("greedy_split", d)?;
        let parts =
            greedy_split_factors(self.size[d], v).map_err(|e| format!("greedy_split: {e}"))?;
        self.fuse(d, &parts)
    }
}

/// Prime factors of `n > 0` in non-decreasing order (empty for 1).
pub fn prime_factors(mut n: i64) -> Vec<i64> {
    let mut out = Vec::new();
    let mut p = 2i64;
    while p.saturating_mul(p) <= n {
        while n % p == 0 {
            out.push(p);
            n /= p;
        }
        p += if p == 2 { 1 } else { 2 };
    }
    if n > 1 {
        out.push(n);
    }
    out
}

fn check_split_args(o: i64, v: &[i64]) -> Result<(), String> {
    if v.is_empty() {
        return Err("the extents tuple must not be empty".into());
    }
    if v.len() > MAX_DIMS {
        return Err(format!(
            "at most {MAX_DIMS} extents are supported, got {}",
            v.len()
        ));
    }
    if let Some((i, x)) = v.iter().enumerate().find(|(_, x)| **x <= 0) {
        return Err(format!(
            "extent {i} of {v:?} is {x}; extents must be positive"
        ));
    }
    if o <= 0 {
        return Err(format!("cannot split a dimension of size {o}"));
    }
    Ok(())
}

/// Extents `(O_1..O_n)` with product `o` minimizing the surface of a block of a decomposition
/// of extents `v` into `O_1 x .. x O_n` blocks.
///
/// With `W_i = v_i / O_i` the cost is `sum_k prod_{i != k} W_i`, the (n-1)-dimensional surface
/// of one block. For 3 extents this is `W_1W_2 + W_1W_3 + W_2W_3`, i.e. half of DSL.md's
/// `sum_{i != j} W_i W_j`; for 2 extents it is the perimeter `W_1 + W_2` (DSL.md's formula would be
/// constant there), and it equals the original DSL's `sum_i O_i / v_i` up to a constant factor for
/// every n. The minimum is found exactly by enumerating every ordered factorization of `o`.
/// Ties (costs within a relative 1e-9) go to the lexicographically largest `(O_1, ..., O_n)`, so
/// equal extents give the larger factor to the earlier dimension, as the original did.
pub fn auto_split_factors(o: i64, v: &[i64]) -> Result<Vec<i64>, String> {
    check_split_args(o, v)?;
    let n = v.len();
    if n == 1 {
        return Ok(vec![o]);
    }
    // Divisors of o, descending (enumeration in lexicographically decreasing order).
    let mut divs: Vec<i64> = Vec::new();
    let mut i = 1i64;
    while i.saturating_mul(i) <= o {
        if o % i == 0 {
            divs.push(i);
            if i != o / i {
                divs.push(o / i);
            }
        }
        i += 1;
    }
    divs.sort_unstable_by(|a, b| b.cmp(a));
    let vf: Vec<f64> = v.iter().map(|&x| x as f64).collect();
    let mut best: Option<(f64, Vec<i64>)> = None;
    let mut cur: Vec<i64> = Vec::with_capacity(n);
    let mut visited: u64 = 0;
    enumerate(o, n, &divs, &mut cur, &mut |f: &[i64]| {
        visited += 1;
        let w: Vec<f64> = f.iter().zip(&vf).map(|(&oi, &vi)| vi / oi as f64).collect();
        let cost: f64 = (0..n)
            .map(|k| {
                w.iter()
                    .enumerate()
                    .filter(|(i, _)| *i != k)
                    .map(|(_, x)| x)
                    .product::<f64>()
            })
            .sum();
        let better = match &best {
            None => true,
            Some((b, _)) => cost < b - b.abs() * 1e-9,
        };
        if better {
            best = Some((cost, f.to_vec()));
        }
        visited <= ENUM_LIMIT
    });
    if visited > ENUM_LIMIT {
        return Err(format!(
            "too many ways to split {o} into {n} dimensions; use greedy_split instead"
        ));
    }
    best.map(|(_, f)| f)
        .ok_or_else(|| format!("no factorization of {o} into {n} dimensions"))
}

/// Calls `f` on every ordered factorization of `rest` into `n - cur.len()` more factors
/// (factors drawn from `divs`, descending), in lexicographically decreasing order. Stops when
/// `f` returns false.
fn enumerate(
    rest: i64,
    n: usize,
    divs: &[i64],
    cur: &mut Vec<i64>,
    f: &mut dyn FnMut(&[i64]) -> bool,
) -> bool {
    if cur.len() + 1 == n {
        cur.push(rest);
        let go = f(cur);
        cur.pop();
        return go;
    }
    for &d in divs {
        if d > rest || rest % d != 0 {
            continue;
        }
        cur.push(d);
        let go = enumerate(rest / d, n, divs, cur, f);
        cur.pop();
        if !go {
            return false;
        }
    }
    true
}

/// The greedy heuristic: the prime factors of `o`, largest first, each go to the dimension with
/// the largest current `v_i / O_i` (the first such dimension on ties).
pub fn greedy_split_factors(o: i64, v: &[i64]) -> Result<Vec<i64>, String> {
    check_split_args(o, v)?;
    let mut out = vec![1i64; v.len()];
    let mut w: Vec<f64> = v.iter().map(|&x| x as f64).collect();
    for p in prime_factors(o).into_iter().rev() {
        let mut k = 0;
        for (i, x) in w.iter().enumerate() {
            if *x > w[k] {
                k = i;
            }
        }
        out[k] *= p;
        w[k] /= p as f64;
    }
    Ok(out)
}

/// `k` (2 or 3) factors of `o`, non-increasing, as equal as possible: the lexicographically
/// smallest non-increasing factorization (smallest largest factor, then smallest second).
pub fn balance_factors(o: i64, k: i64) -> Result<Vec<i64>, String> {
    if !(2..=3).contains(&k) {
        return Err(format!("the number of parts must be 2 or 3, got {k}"));
    }
    if o <= 0 {
        return Err(format!("cannot split a dimension of size {o}"));
    }
    let mut best: Option<Vec<i64>> = None;
    let mut consider = |f: Vec<i64>| {
        if best.as_ref().is_none_or(|b| f < *b) {
            best = Some(f);
        }
    };
    let mut a = 1i64;
    while a <= o {
        if o % a == 0 {
            let r = o / a;
            if k == 2 {
                if a >= r {
                    consider(vec![a, r]);
                }
            } else {
                let mut b = 1i64;
                while b <= a && b <= r {
                    if r % b == 0 && r / b <= b {
                        consider(vec![a, b, r / b]);
                    }
                    b += 1;
                }
            }
        }
        a += 1;
    }
    best.ok_or_else(|| format!("no balanced split of {o} into {k}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(nodes: u32, gpus: u32) -> MachineShape {
        MachineShape::new(nodes, 4, gpus)
    }

    fn gpu(node: u32, index: u32) -> ProcId {
        ProcId {
            node,
            kind: ProcKind::Gpu,
            index,
        }
    }

    fn m24() -> Space {
        Space::machine(ProcKind::Gpu, &shape(2, 4)).unwrap()
    }

    /// All points of a space in row-major order.
    fn points(s: &Space) -> Vec<Vec<i64>> {
        let mut out = vec![vec![]];
        for &e in s.size() {
            out = out
                .into_iter()
                .flat_map(|p| (0..e).map(move |i| [p.clone(), vec![i]].concat()))
                .collect();
        }
        out
    }

    #[test]
    fn machine_space_basics() {
        let m = m24();
        assert_eq!(m.size(), &[2, 4]);
        assert_eq!(m.len(), 2);
        assert_eq!(m.volume(), 8);
        assert_eq!(m.get(&[1, 3]).unwrap(), gpu(1, 3));
        assert_eq!(
            m.get(&[1, 4]).unwrap_err(),
            "index 4 out of bound for dimension 1 of size 4"
        );
        assert_eq!(
            m.get(&[-1, 0]).unwrap_err(),
            "index -1 out of bound for dimension 0 of size 2"
        );
        assert_eq!(
            m.get(&[1]).unwrap_err(),
            "a 2-D machine space needs 2 indices, got 1"
        );
    }

    #[test]
    fn split_maps_every_point() {
        let m = m24().split(1, 2).unwrap();
        assert_eq!(m.size(), &[2, 2, 2]);
        // new[n, i, j] = old[n, i + 2*j]
        for n in 0..2 {
            for i in 0..2 {
                for j in 0..2 {
                    assert_eq!(
                        m.get(&[n, i, j]).unwrap(),
                        gpu(n as u32, (i + 2 * j) as u32)
                    );
                }
            }
        }
        let m6 = Space::machine(ProcKind::Gpu, &shape(1, 6)).unwrap();
        assert_eq!(
            m6.split(1, 4).unwrap_err(),
            "split: 6 is not divisible by 4"
        );
        assert_eq!(
            m24().split(2, 2).unwrap_err(),
            "split: dimension 2 out of range for a 2-D machine space (dimensions are 0..2)"
        );
    }

    #[test]
    fn merge_second_dim_fastest() {
        let m = m24().merge(0, 1).unwrap();
        assert_eq!(m.size(), &[8]);
        for x in 0..8 {
            assert_eq!(m.get(&[x]).unwrap(), gpu((x / 4) as u32, (x % 4) as u32));
        }
        let m = m24().merge(1, 0).unwrap();
        assert_eq!(m.size(), &[8]);
        for x in 0..8 {
            assert_eq!(m.get(&[x]).unwrap(), gpu((x % 2) as u32, (x / 2) as u32));
        }
        assert_eq!(
            m24().merge(1, 1).unwrap_err(),
            "merge: the two dimensions must differ, got 1 twice"
        );
    }

    #[test]
    fn merge_position_follows_original() {
        // 3-D (2, 2, 2): merge(2, 0) removes dim 0, merged dim sits where dim 2 was -> index 1.
        let m = m24().split(1, 2).unwrap();
        let g = m.merge(2, 0).unwrap();
        assert_eq!(g.size(), &[2, 4]);
        // g[i, x] = m[x % 2, i, x / 2]
        for i in 0..2 {
            for x in 0..4 {
                assert_eq!(g.get(&[i, x]).unwrap(), m.get(&[x % 2, i, x / 2]).unwrap());
            }
        }
    }

    #[test]
    fn swap_slice_reverse() {
        let m = m24().swap(0, 1).unwrap();
        assert_eq!(m.size(), &[4, 2]);
        assert_eq!(m.get(&[3, 1]).unwrap(), gpu(1, 3));
        let s = m24().slice(1, 1, 2).unwrap();
        assert_eq!(s.size(), &[2, 2]);
        assert_eq!(s.procs(), vec![gpu(0, 1), gpu(0, 2), gpu(1, 1), gpu(1, 2)]);
        assert_eq!(
            m24().slice(1, 2, 4).unwrap_err(),
            "slice: bounds 2..=4 are not a non-empty range within dimension 1 of size 4"
        );
        let r = m24().reverse(1).unwrap();
        assert_eq!(r.get(&[0, 0]).unwrap(), gpu(0, 3));
        assert_eq!(r.get(&[1, 3]).unwrap(), gpu(1, 0));
    }

    #[test]
    fn balance_split_factors() {
        assert_eq!(balance_factors(12, 2).unwrap(), vec![4, 3]);
        assert_eq!(balance_factors(12, 3).unwrap(), vec![3, 2, 2]);
        assert_eq!(balance_factors(7, 2).unwrap(), vec![7, 1]);
        assert_eq!(balance_factors(64, 3).unwrap(), vec![4, 4, 4]);
        assert_eq!(
            balance_factors(8, 4).unwrap_err(),
            "the number of parts must be 2 or 3, got 4"
        );
        let m = Space::machine(ProcKind::Gpu, &shape(1, 12))
            .unwrap()
            .balance_split(1, 2)
            .unwrap();
        assert_eq!(m.size(), &[1, 4, 3]);
        assert_eq!(m.get(&[0, 1, 2]).unwrap(), gpu(0, 1 + 2 * 4));
    }

    #[test]
    fn auto_split_exact() {
        // Square domain on 16 processors: 4 x 4.
        assert_eq!(auto_split_factors(16, &[100, 100]).unwrap(), vec![4, 4]);
        // Long domain: more cuts along the long axis.
        assert_eq!(auto_split_factors(16, &[400, 100]).unwrap(), vec![8, 2]);
        assert_eq!(auto_split_factors(16, &[100, 400]).unwrap(), vec![2, 8]);
        // 3-D cube, 8 processors: 2 x 2 x 2.
        assert_eq!(auto_split_factors(8, &[10, 10, 10]).unwrap(), vec![2, 2, 2]);
        // Tie (8 into 2 equal extents: 4x2 and 2x4): larger factor first.
        assert_eq!(auto_split_factors(8, &[10, 10]).unwrap(), vec![4, 2]);
        // Matrix-multiply style (m, n, k) with a small k.
        assert_eq!(
            auto_split_factors(16, &[1024, 1024, 64]).unwrap(),
            vec![4, 4, 1]
        );
        assert_eq!(auto_split_factors(6, &[1]).unwrap(), vec![6]);
        assert_eq!(
            auto_split_factors(4, &[2, 0]).unwrap_err(),
            "extent 1 of [2, 0] is 0; extents must be positive"
        );
        let m = m24().auto_split(1, &[8, 8]).unwrap();
        assert_eq!(m.size(), &[2, 2, 2]);
    }

    #[test]
    fn auto_split_beats_or_matches_greedy() {
        for o in 1..=48 {
            for v in [[3, 5], [100, 7], [64, 64], [9, 1000]] {
                let a = auto_split_factors(o, &v).unwrap();
                let g = greedy_split_factors(o, &v).unwrap();
                let cost = |f: &[i64]| v[0] as f64 / f[0] as f64 + v[1] as f64 / f[1] as f64;
                assert!(
                    cost(&a) <= cost(&g) + 1e-9,
                    "o={o} v={v:?} auto={a:?} greedy={g:?}"
                );
                assert_eq!(a.iter().product::<i64>(), o);
            }
        }
    }

    #[test]
    fn greedy_split_heuristic() {
        // 3 -> dim 0 (33.3, 100), 2 -> dim 1 (33.3, 50), 2 -> dim 1 (33.3, 25).
        assert_eq!(greedy_split_factors(12, &[100, 100]).unwrap(), vec![3, 4]);
        assert_eq!(greedy_split_factors(12, &[10, 100]).unwrap(), vec![1, 12]);
        assert_eq!(greedy_split_factors(12, &[40, 100]).unwrap(), vec![2, 6]);
        assert_eq!(greedy_split_factors(1, &[3, 4]).unwrap(), vec![1, 1]);
        assert_eq!(prime_factors(360), vec![2, 2, 2, 3, 3, 5]);
        assert_eq!(prime_factors(1), Vec::<i64>::new());
        assert_eq!(prime_factors(97), vec![97]);
    }

    #[test]
    fn wildcards() {
        let m = m24();
        assert_eq!(
            m.get_any(&[Some(1), None]).unwrap(),
            Placement::AnyOnNode {
                node: 1,
                kind: ProcKind::Gpu
            }
        );
        assert_eq!(
            m.get_any(&[Some(1), Some(2)]).unwrap(),
            Placement::Proc(gpu(1, 2))
        );
        assert!(m
            .get_any(&[None, Some(0)])
            .unwrap_err()
            .contains("several nodes"));
        let s = m.slice(1, 0, 1).unwrap();
        assert_eq!(
            s.get_any(&[Some(0), None]).unwrap_err(),
            "`*` names 2 of the 4 GPU processors of node 0; a wildcard must name all processors of one node or exactly one"
        );
        // A node split across two dims: both wildcards cover node 0.
        let t = m.split(1, 2).unwrap();
        assert_eq!(
            t.get_any(&[Some(0), None, None]).unwrap(),
            Placement::AnyOnNode {
                node: 0,
                kind: ProcKind::Gpu
            }
        );
    }

    #[test]
    fn coords_of_inverts_get() {
        let m = m24().split(1, 2).unwrap().swap(0, 2).unwrap();
        for p in points(&m) {
            let proc = m.get(&p).unwrap();
            assert_eq!(m.coords_of(proc).unwrap(), p);
        }
        let cpu = ProcId {
            node: 0,
            kind: ProcKind::Cpu,
            index: 0,
        };
        assert_eq!(
            m.coords_of(cpu).unwrap_err(),
            "processor CPU[0, 0] is not in this GPU machine space"
        );
    }

    #[test]
    fn cache_returns_same_space() {
        let m = Arc::new(m24());
        let t = Transform::AutoSplit(1, Extents::new(&[4, 4]).unwrap());
        let a = m.apply_cached(&t).unwrap();
        let b = m.apply_cached(&t).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
    }

    #[test]
    fn large_space_without_table() {
        let big = MachineShape::new(1 << 10, 1, 128);
        let m = Space::machine(ProcKind::Gpu, &big).unwrap();
        assert_eq!(m.volume(), 1 << 17);
        let s = m.split(1, 16).unwrap().swap(0, 2).unwrap();
        assert_eq!(s.size(), &[8, 16, 1024]);
        assert_eq!(s.get(&[7, 3, 1000]).unwrap(), gpu(1000, 3 + 7 * 16));
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        fn transform() -> impl Strategy<Value = Transform> {
            prop_oneof![
                (0i64..4, 0i64..4).prop_map(|(a, b)| Transform::Merge(a, b)),
                (0i64..4, 1i64..5).prop_map(|(a, b)| Transform::Split(a, b)),
                (0i64..4, 0i64..4).prop_map(|(a, b)| Transform::Swap(a, b)),
                (0i64..4, 0i64..3, 0i64..4).prop_map(|(a, b, c)| Transform::Slice(a, b, c)),
                (0i64..4).prop_map(Transform::Reverse),
                (0i64..4, 2i64..4).prop_map(|(a, b)| Transform::BalanceSplit(a, b)),
                (0i64..4, proptest::collection::vec(1i64..50, 1..4))
                    .prop_map(|(a, v)| Transform::AutoSplit(a, Extents::new(&v).unwrap())),
                (0i64..4, proptest::collection::vec(1i64..50, 1..4))
                    .prop_map(|(a, v)| Transform::GreedySplit(a, Extents::new(&v).unwrap())),
            ]
        }

        proptest! {
            #[test]
            fn transforms_are_bijections(nodes in 1u32..4, gpus in 1u32..9, ts in proptest::collection::vec(transform(), 1..5)) {
                let base = Space::machine(ProcKind::Gpu, &MachineShape::new(nodes, 1, gpus)).unwrap();
                let mut cur = base.clone();
                for t in &ts {
                    let before: std::collections::HashSet<ProcId> = cur.procs().into_iter().collect();
                    let Ok(next) = cur.apply(t) else { continue };
                    let procs = next.procs();
                    prop_assert_eq!(procs.len() as i64, next.volume());
                    let set: std::collections::HashSet<ProcId> = procs.iter().copied().collect();
                    // Injective, and every processor is one of the parent's.
                    prop_assert_eq!(set.len(), procs.len());
                    prop_assert!(set.is_subset(&before));
                    // Everything but slice covers exactly the parent's processors.
                    if !matches!(t, Transform::Slice(..)) {
                        prop_assert_eq!(&set, &before);
                    }
                    // get agrees with the table, and coords_of inverts get.
                    for p in points(&next) {
                        let proc = next.get(&p).unwrap();
                        prop_assert_eq!(next.coords_of(proc).unwrap(), p);
                    }
                    cur = next;
                }
            }
        }
    }
}
