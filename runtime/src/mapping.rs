//! Instance management for the mapping stage: find-or-create an instance of a region in a
//! memory with a layout (reusing one that covers the region with the same layout), evict unused
//! instances when a memory is full (writing back data only they hold), and the coherence
//! actions that make an instance valid before a task (copies from the best-bandwidth source,
//! zero fills) and record writes and reduction epochs after it.

use crate::analysis::OpId;
use crate::coherence::{FieldState, ValidCopy};
use crate::exec::sim::SimModel;
use crate::exec::{CopyWork, Work};
use crate::fasthash::FastMap;
use crate::field::{FieldId, FieldType};
use crate::geom::{IndexSpace, Rect};
use crate::instance::{InstId, Instance};
use crate::layout::InstLayout;
use crate::machine::{MachineDesc, MemId};
use crate::memory::Memory;
use crate::profile::{CopyKind, CopyRecord, Profiler};
use crate::region::RegionId;
use crate::sched::Scheduler;
use crate::spatial::RectIndex;
use mapper_core::{Layout, MemKind};
use std::sync::Arc;

/// A live instance known to the mapping stage.
pub struct InstEntry {
    /// The instance (ops hold further references while they use it).
    pub inst: Arc<Instance>,
    /// Root of its region tree.
    pub root: RegionId,
    /// Fields and types it holds.
    pub fields: Vec<(FieldId, FieldType)>,
    /// Logical time of last use (for LRU eviction).
    pub last_use: u64,
}

/// An instance as listed per memory: enough to filter candidates without a map lookup.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemSlot {
    /// The instance.
    pub id: InstId,
    /// Root of its region tree.
    pub root: RegionId,
    /// Its rectangle.
    pub rect: Rect,
}

/// What an instance request is for.
pub struct InstRequest<'a> {
    /// The region.
    pub region: RegionId,
    /// Its root.
    pub root: RegionId,
    /// Its name.
    pub name: &'a Arc<str>,
    /// Its bounding rectangle.
    pub bbox: Rect,
    /// Fields needed.
    pub fields: &'a [(FieldId, FieldType)],
    /// Layout.
    pub layout: Layout,
}

/// Instances, memories and coherence state.
pub struct MapState {
    /// Memories, indexed by [`MemId`].
    pub mems: Vec<Arc<Memory>>,
    /// Live instances.
    pub insts: FastMap<InstId, InstEntry>,
    /// Instances per memory, by root region (each list in creation order).
    pub by_mem: Vec<FastMap<RegionId, Vec<MemSlot>>>,
    /// The same instances by rectangle (ids no longer in `insts` are ignored).
    by_rect: Vec<FastMap<RegionId, RectIndex>>,
    /// Scratch for index queries.
    scratch: Vec<u64>,
    /// Bounds of the root regions (sizes the per-memory instance indices).
    root_bounds: FastMap<RegionId, Rect>,
    next_inst: InstId,
    /// Coherence per (root, field).
    pub coherence: FastMap<(RegionId, FieldId), FieldState>,
    clock: u64,
    /// The simulator's cost tables (simulated runs only).
    pub sim: Option<Arc<SimModel>>,
    /// Simulated time (ns) the control thread spent in synchronous write-backs since the
    /// runtime last took it (simulated runs only).
    pub blocked_ns: u64,
    /// In a distributed run, the scheduler to drain before deciding that a memory is full:
    /// bytes are released when the last operation using an instance finishes, which differs
    /// between ranks, while a drained graph leaves the same instances on every rank, so
    /// evictions (and memory-full errors) stay replicated.
    pub drain: Option<Arc<Scheduler>>,
}

/// Outcome of an instance request in one memory.
pub enum Found {
    /// An instance (true if freshly created, hence zero-filled).
    Inst(Arc<Instance>, bool),
    /// The memory cannot hold it even after evicting unused instances.
    NoSpace {
        /// Bytes needed.
        needed: u64,
        /// Bytes available.
        available: u64,
    },
}

/// Points of `bbox` (summed over `fields`) for which instance `id` holds valid data.
fn valid_volume(
    coherence: &mut FastMap<(RegionId, FieldId), FieldState>,
    id: InstId,
    root: RegionId,
    fields: &[(FieldId, FieldType)],
    bbox: &Rect,
) -> u64 {
    let mut n = 0;
    for (f, _) in fields {
        if let Some(s) = coherence.get_mut(&(root, *f)) {
            n += s.volume_held(id, bbox);
        }
    }
    n
}

impl MapState {
    /// The state for `machine` with no instances; memories are virtual (accounted, never
    /// allocated) when `sim` is given, and so are other nodes' memories in a distributed run.
    pub fn new(machine: &MachineDesc, sim: Option<Arc<SimModel>>) -> MapState {
        MapState {
            mems: machine
                .mems
                .iter()
                .enumerate()
                .map(|(i, d)| {
                    // In a distributed run, memories of other nodes (ranks) are virtual here.
                    let remote = machine.local_node.is_some_and(|n| n != d.node);
                    let mut m = if sim.is_some() || remote {
                        Memory::new_virtual(i, d)
                    } else {
                        Memory::new(i, d)
                    };
                    m.real_gpu = sim.is_none() && machine.has_real_gpus();
                    Arc::new(m)
                })
                .collect(),
            insts: FastMap::default(),
            by_mem: vec![FastMap::default(); machine.mems.len()],
            by_rect: vec![FastMap::default(); machine.mems.len()],
            scratch: Vec::new(),
            root_bounds: FastMap::default(),
            next_inst: 1,
            coherence: FastMap::default(),
            clock: 0,
            sim,
            blocked_ns: 0,
            drain: None,
        }
    }

    /// Records the bounds of root region `root` (its instance indices are laid out over them).
    pub fn note_root(&mut self, root: RegionId, bounds: Rect) {
        self.root_bounds.insert(root, bounds);
    }

    /// The coherence state of (`root`, `field`), created on first use.
    pub fn field_state(
        &mut self,
        root: RegionId,
        field: FieldId,
        root_space: &IndexSpace,
    ) -> &mut FieldState {
        self.coherence
            .entry((root, field))
            .or_insert_with(|| FieldState::new(root_space))
    }

    /// Finds an instance in `mem` for the request, or creates one (evicting if needed).
    pub fn find_or_create(
        &mut self,
        mem: MemId,
        req: &InstRequest<'_>,
        profiler: &Profiler,
    ) -> Result<Found, String> {
        self.clock += 1;
        let clock = self.clock;
        // Among reusable instances prefer the one already holding the most valid data for the
        // request, then the largest (it serves more future requests), then the oldest. The
        // valid volume is only computed when there is a choice to make.
        let mut best: Option<(u64, u64, InstId)> = None;
        let mut first: Option<InstId> = None;
        let mut choices = 0usize;
        let mut cand = self.candidates(mem, req.root, &req.bbox);
        cand.retain(|&id| {
            let Some(e) = self.insts.get(&id) else {
                return false;
            };
            let l = &e.inst.layout;
            let covers = if req.layout.exact {
                l.rect == req.bbox
            } else {
                l.rect.contains_rect(&req.bbox)
            };
            let ok = e.root == req.root
                && covers
                && l.layout == req.layout
                && req
                    .fields
                    .iter()
                    .all(|f| e.fields.iter().any(|g| g.0 == f.0));
            if ok {
                choices += 1;
                first = first.or(Some(id));
            }
            ok
        });
        if choices == 1 {
            best = first.map(|id| (0, 0, id));
        } else {
            for &id in &cand {
                let Some(e) = self.insts.get(&id) else {
                    continue;
                };
                let valid = valid_volume(&mut self.coherence, id, e.root, req.fields, &req.bbox);
                let key = (valid, e.inst.layout.rect.volume(), id);
                if best.is_none_or(|b| (key.0, key.1) > (b.0, b.1)) {
                    best = Some(key);
                }
            }
        }
        self.scratch = cand;
        if let Some((_, _, id)) = best {
            if let Some(e) = self.insts.get_mut(&id) {
                e.last_use = clock;
                return Ok(Found::Inst(e.inst.clone(), false));
            }
        }
        match self.create(mem, req, true, profiler)? {
            Ok(i) => Ok(Found::Inst(i, true)),
            Err((needed, available)) => Ok(Found::NoSpace { needed, available }),
        }
    }

    /// Ids of the instances of `root` in `mem` whose rectangles may contain `bbox`, in
    /// creation order (return the vector to `scratch`).
    fn candidates(&mut self, mem: MemId, root: RegionId, bbox: &Rect) -> Vec<u64> {
        let mut cand = std::mem::take(&mut self.scratch);
        cand.clear();
        let indexed = self
            .by_rect
            .get(mem)
            .and_then(|m| m.get(&root))
            .is_some_and(|ix| ix.query_containing(bbox, &mut cand));
        if !indexed {
            cand.clear();
            if let Some(v) = self.by_mem.get(mem).and_then(|m| m.get(&root)) {
                cand.extend(v.iter().map(|s| s.id));
            }
        }
        cand
    }

    /// Creates a fresh instance (for reductions, or when none can be reused). Returns
    /// `Err((needed, available))` when the memory cannot hold it.
    pub fn create(
        &mut self,
        mem: MemId,
        req: &InstRequest<'_>,
        evict: bool,
        profiler: &Profiler,
    ) -> Result<Result<Arc<Instance>, (u64, u64)>, String> {
        let memory = self
            .mems
            .get(mem)
            .cloned()
            .ok_or_else(|| format!("no memory #{mem}"))?;
        let layout = InstLayout::new(req.bbox, req.fields, req.layout).ok_or_else(|| {
            format!(
                "the instance of region `{}` over {:?} is too large to address",
                req.name, req.bbox
            )
        })?;
        let needed = layout.bytes as u64;
        if needed > memory.available() {
            if let Some(s) = &self.drain {
                s.wait_idle();
            }
        }
        if needed > memory.available() && evict {
            self.evict(mem, needed, profiler);
        }
        let id = self.next_inst;
        match Instance::create(id, memory.clone(), req.region, req.name.clone(), layout) {
            Some(inst) => {
                self.next_inst += 1;
                let inst = Arc::new(inst);
                self.insts.insert(
                    id,
                    InstEntry {
                        inst: inst.clone(),
                        root: req.root,
                        fields: req.fields.to_vec(),
                        last_use: self.clock,
                    },
                );
                if let Some(v) = self.by_mem.get_mut(mem) {
                    v.entry(req.root).or_default().push(MemSlot {
                        id,
                        root: req.root,
                        rect: inst.layout.rect,
                    });
                }
                if let Some(v) = self.by_rect.get_mut(mem) {
                    let bounds = self.root_bounds.get(&req.root);
                    v.entry(req.root)
                        .or_insert_with(|| bounds.map_or_else(RectIndex::new, RectIndex::within))
                        .insert(id, &inst.layout.rect);
                }
                Ok(Ok(inst))
            }
            None => Ok(Err((needed, memory.available()))),
        }
    }

    /// Forgets an instance: no longer valid anywhere; its memory is freed when the last
    /// operation using it finishes.
    pub fn drop_instance(&mut self, id: InstId) {
        if let Some(e) = self.insts.remove(&id) {
            for (f, _) in &e.fields {
                if let Some(s) = self.coherence.get_mut(&(e.root, *f)) {
                    s.remove_instance(id);
                }
            }
            if let Some(v) = self
                .by_mem
                .get_mut(e.inst.mem.id)
                .and_then(|m| m.get_mut(&e.root))
            {
                v.retain(|x| x.id != id);
            }
            if let Some(ix) = self
                .by_rect
                .get_mut(e.inst.mem.id)
                .and_then(|m| m.get_mut(&e.root))
            {
                ix.remove(id, &e.inst.layout.rect);
            }
        }
    }

    /// Evicts unused instances of `mem` (least recently used first) until `needed` bytes are
    /// free, writing back data they alone hold to host memory on the same node.
    pub fn evict(&mut self, mem: MemId, needed: u64, profiler: &Profiler) {
        let Some(memory) = self.mems.get(mem).cloned() else {
            return;
        };
        let mut cands: Vec<(u64, InstId)> = self
            .by_mem
            .get(mem)
            .into_iter()
            .flat_map(|m| m.values().flatten())
            .filter_map(|s| self.insts.get(&s.id).map(|e| (e, s.id)))
            .filter(|(e, _)| Arc::strong_count(&e.inst) == 1)
            .map(|(e, id)| (e.last_use, id))
            .collect();
        cands.sort_unstable();
        for (_, id) in cands {
            if memory.available() >= needed {
                break;
            }
            if self.write_back(id, profiler) {
                self.drop_instance(id);
            }
        }
    }

    /// Copies every piece `id` alone holds to a host memory of its node. False if impossible.
    fn write_back(&mut self, id: InstId, profiler: &Profiler) -> bool {
        let Some(e) = self.insts.get(&id) else {
            return false;
        };
        let (src, root, fields) = (e.inst.clone(), e.root, e.fields.clone());
        let sole: Vec<(FieldId, Vec<usize>)> = fields
            .iter()
            .filter_map(|(f, _)| {
                let s = self.coherence.get(&(root, *f))?;
                let idx: Vec<usize> = s
                    .pieces
                    .iter()
                    .enumerate()
                    .filter(|(_, p)| p.copies.len() == 1 && p.copies[0].inst == id)
                    .map(|(i, _)| i)
                    .collect();
                (!idx.is_empty()).then_some((*f, idx))
            })
            .collect();
        if sole.is_empty() {
            return true;
        }
        let node = src.mem.node;
        let targets: Vec<MemId> = [MemKind::Sysmem, MemKind::Zcmem]
            .iter()
            .filter_map(|k| {
                self.mems
                    .iter()
                    .find(|m| m.node == node && m.kind == *k && m.id != src.mem.id)
                    .map(|m| m.id)
            })
            .collect();
        let req_name = src.region_name.clone();
        let req = InstRequest {
            region: src.region,
            root,
            name: &req_name,
            bbox: src.layout.rect,
            fields: &fields,
            layout: Layout::default(),
        };
        let mut dst = None;
        for t in targets {
            if let Ok(Found::Inst(i, _)) = self.find_or_create_no_evict(t, &req, profiler) {
                dst = Some(i);
                break;
            }
        }
        let Some(dst) = dst else { return false };
        for (f, idx) in sole {
            let Some(state) = self.coherence.get_mut(&(root, f)) else {
                continue;
            };
            for i in idx {
                let Some(p) = state.pieces.get_mut(i) else {
                    continue;
                };
                let start = profiler.now() + self.blocked_ns;
                let bytes = dst.copy_from(&src, f, &p.space).unwrap_or(0);
                let end = match &self.sim {
                    Some(m) => {
                        let d = m.copy_ns(src.mem.id, dst.mem.id, bytes);
                        self.blocked_ns += d;
                        start + d
                    }
                    None => profiler.now(),
                };
                p.copies.push(ValidCopy {
                    inst: dst.id,
                    ready: 0,
                });
                p.redop = None;
                profiler.copy(CopyRecord {
                    kind: CopyKind::Writeback,
                    src: Some(Arc::from(src.mem.label.as_str())),
                    dst: Arc::from(dst.mem.label.as_str()),
                    node,
                    bytes,
                    region: src.region_name.clone(),
                    field: Arc::from(format!("#{f}").as_str()),
                    task: Arc::from("eviction"),
                    start_ns: start,
                    end_ns: end,
                });
            }
        }
        true
    }

    fn find_or_create_no_evict(
        &mut self,
        mem: MemId,
        req: &InstRequest<'_>,
        profiler: &Profiler,
    ) -> Result<Found, String> {
        let cand = self.candidates(mem, req.root, &req.bbox);
        let found = cand.iter().find_map(|id| {
            let e = self.insts.get(id)?;
            (e.root == req.root
                && e.inst.layout.rect.contains_rect(&req.bbox)
                && req
                    .fields
                    .iter()
                    .all(|f| e.fields.iter().any(|g| g.0 == f.0)))
            .then(|| e.inst.clone())
        });
        self.scratch = cand;
        if let Some(i) = found {
            return Ok(Found::Inst(i, false));
        }
        match self.create(mem, req, false, profiler)? {
            Ok(i) => Ok(Found::Inst(i, true)),
            Err((needed, available)) => Ok(Found::NoSpace { needed, available }),
        }
    }

    /// Makes `dst` valid for `field` over `space` (pieces `idx` of the field state): issues
    /// copies from the best-bandwidth valid source, or zero fills for never-written points
    /// (skipped when `dst` is fresh). Pushes what the task must wait for onto `task_deps`.
    #[allow(clippy::too_many_arguments)]
    pub fn ensure_valid(
        &mut self,
        sched: &Arc<Scheduler>,
        machine: &MachineDesc,
        key: (RegionId, FieldId),
        idx: &[usize],
        dst: &Arc<Instance>,
        fresh: bool,
        copy_deps: &[OpId],
        task_deps: &mut Vec<OpId>,
        field_name: &Arc<str>,
        task: &Arc<str>,
    ) {
        // Group the missing pieces by source instance (None = fill).
        let mut groups: Vec<(Option<InstId>, OpId, Vec<usize>)> = Vec::new();
        let Some(state) = self.coherence.get(&key) else {
            return;
        };
        for &i in idx {
            let Some(p) = state.pieces.get(i) else {
                continue;
            };
            if let Some(c) = p.copies.iter().find(|c| c.inst == dst.id) {
                if c.ready != 0 {
                    task_deps.push(c.ready);
                }
                continue;
            }
            let src = p
                .copies
                .iter()
                .filter(|c| self.insts.contains_key(&c.inst))
                .max_by(|a, b| {
                    let bw = |c: &ValidCopy| {
                        self.insts
                            .get(&c.inst)
                            .map_or(0.0, |e| machine.copy_bandwidth(e.inst.mem.id, dst.mem.id))
                    };
                    bw(a).total_cmp(&bw(b)).then(b.inst.cmp(&a.inst))
                })
                .copied();
            let (sid, ready) = match src {
                Some(c) => (Some(c.inst), c.ready),
                None => (None, 0),
            };
            match groups.iter_mut().find(|g| g.0 == sid && g.1 == ready) {
                Some(g) => g.2.push(i),
                None => groups.push((sid, ready, vec![i])),
            }
        }
        for (sid, ready, pieces) in groups {
            let op = if sid.is_none() && fresh {
                0
            } else {
                let rects: Vec<Rect> = pieces
                    .iter()
                    .filter_map(|&i| self.coherence.get(&key)?.pieces.get(i))
                    .flat_map(|p| p.space.rects().iter().copied())
                    .collect();
                let space = IndexSpace::from_rects_disjoint(dst.layout.rect.dim(), rects);
                let src = sid.and_then(|s| self.insts.get(&s)).map(|e| e.inst.clone());
                let kind = if src.is_some() {
                    CopyKind::Copy
                } else {
                    CopyKind::Fill
                };
                let work = CopyWork {
                    kind,
                    src,
                    dst: dst.clone(),
                    field: key.1,
                    field_name: field_name.clone(),
                    space,
                    task: task.clone(),
                };
                let mut deps: Vec<OpId> = copy_deps.to_vec();
                if ready != 0 {
                    deps.push(ready);
                }
                let id = sched.add(Work::Copy(Box::new(work)), &mut deps);
                task_deps.push(id);
                id
            };
            if let Some(state) = self.coherence.get_mut(&key) {
                for i in pieces {
                    if let Some(p) = state.pieces.get_mut(i) {
                        p.copies.push(ValidCopy {
                            inst: dst.id,
                            ready: op,
                        });
                    }
                }
            }
        }
    }
}
