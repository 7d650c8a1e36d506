//! The runtime defaults (DSL.md §5) and the [`DefaultMapper`] that applies them everywhere.
//!
//! - Processor kind: GPU, then OMP, then CPU (then IO, PY, PROC) — the first kind the task has a
//!   variant for and the machine has processors of.
//! - Memory: [`default_memories`] (shared with the statement tables): GPU: FBMEM,
//!   then ZCMEM; OMP: SOCKMEM, then SYSMEM; other kinds: SYSMEM, then SOCKMEM; each followed by
//!   ZCMEM, restricted to memory kinds the machine has (never empty: SYSMEM if none is usable).
//! - Layout: [`Layout::default`] (SOA, C order, natural alignment); no instance limit; no early
//!   collection.
//! - Index launches: the launch domain is cut into near-square blocks, one per processor of the
//!   kind over all nodes, using [`greedy_split_factors`] (largest prime factors to the longest
//!   dimensions); block `(b_0, .., b_n)` goes to processor number `b_0*O_1*..*O_n + .. + b_n`
//!   (row-major over the block grid), i.e. node `k / per_node`, processor `k % per_node`.
//! - Single launches: round-robin over all processors of the kind by the launch sequence number.

use crate::app::{AppInfo, TaskId};
use crate::diag::Diagnostic;
use crate::kinds::{Layout, MemKind, ProcKind};
use crate::machine::{MachineShape, Placement, ProcId};
use crate::mapper::{BoundMapper, MapError, Mapper, PointCtx};
use crate::space::{greedy_split_factors, MAX_DIMS};
use crate::span::Span;

/// The default kind order under its short name.
pub use self::DEFAULT_KIND_ORDER as KIND_ORDER;

/// The default processor-kind order (DSL.md §5, then the remaining kinds).
pub const DEFAULT_KIND_ORDER: &[ProcKind] = &[
    ProcKind::Gpu,
    ProcKind::Omp,
    ProcKind::Cpu,
    ProcKind::Io,
    ProcKind::Py,
    ProcKind::Proc,
];

/// The default memory-kind priority list for processors of `kind` on machine `m` (DSL.md §5;
/// the same rule as the default mapper's): never empty.
pub fn default_memories(kind: ProcKind, m: &MachineShape) -> Vec<MemKind> {
    let prefs: &[MemKind] = match kind {
        ProcKind::Gpu => &[MemKind::Fbmem, MemKind::Zcmem],
        ProcKind::Omp => &[MemKind::Sockmem, MemKind::Sysmem, MemKind::Zcmem],
        _ => &[MemKind::Sysmem, MemKind::Sockmem, MemKind::Zcmem],
    };
    let v: Vec<MemKind> = prefs
        .iter()
        .copied()
        .filter(|k| m.mems.contains(k))
        .collect();
    if v.is_empty() {
        vec![MemKind::Sysmem]
    } else {
        v
    }
}

/// The default processor kind of a task with `variants` on `machine`, if any kind qualifies.
pub fn default_kind(variants: &[ProcKind], machine: &MachineShape) -> Option<ProcKind> {
    KIND_ORDER
        .iter()
        .copied()
        .find(|k| variants.contains(k) && machine.has(*k))
}

fn map_err(message: String, point: &[i64]) -> Box<MapError> {
    Box::new(MapError {
        task: String::new(),
        point: point.to_vec(),
        function: None,
        message,
        at: None,
    })
}

/// The default placement of `point` of an index launch over `domain` (extents) on processors of
/// `kind`: near-square blocks, one per processor over all nodes. The returned error's `task` is
/// empty; callers fill it in.
pub fn default_index_placement(
    point: &[i64],
    domain: &[i64],
    kind: ProcKind,
    machine: &MachineShape,
) -> crate::mapper::PlaceResult {
    let procs = machine.count(kind);
    if procs == 0 {
        return Err(map_err(
            format!("the machine has no {kind} processors"),
            point,
        ));
    }
    if point.len() != domain.len() {
        return Err(map_err(
            format!(
                "point {point:?} has {} coordinates but the launch domain {domain:?} has {}",
                point.len(),
                domain.len()
            ),
            point,
        ));
    }
    if domain.is_empty() {
        return Ok(Placement::Proc(ProcId {
            node: 0,
            kind,
            index: 0,
        }));
    }
    for (d, (&p, &e)) in point.iter().zip(domain).enumerate() {
        if e <= 0 {
            return Err(map_err(
                format!("launch domain {domain:?} has an empty dimension {d}"),
                point,
            ));
        }
        if p < 0 || p >= e {
            return Err(map_err(
                format!("point coordinate {p} out of bound for dimension {d} of size {e}"),
                point,
            ));
        }
    }
    let procs_i =
        i64::try_from(procs).map_err(|_| map_err(format!("too many {kind} processors"), point))?;
    let fast = greedy_blocks(procs_i, domain);
    let slow;
    let blocks: &[i64] = match &fast {
        Some(b) => b.get(..domain.len()).unwrap_or(&[]),
        None => {
            slow = greedy_split_factors(procs_i, domain).map_err(|e| map_err(e, point))?;
            &slow
        }
    };
    // In i64 when nothing overflows (the same quotients as in i128), else in i128.
    let mut small: Option<i64> = Some(0);
    for ((&p, &e), &o) in point.iter().zip(domain).zip(blocks) {
        small = small.and_then(|lin| {
            let b = p.checked_mul(o)? / e;
            lin.checked_mul(o)?.checked_add(b)
        });
    }
    let lin: i128 = match small {
        Some(l) => i128::from(l),
        None => {
            let mut lin: i128 = 0;
            for ((&p, &e), &o) in point.iter().zip(domain).zip(blocks) {
                let b = i128::from(p) * i128::from(o) / i128::from(e);
                lin = lin * i128::from(o) + b;
            }
            lin
        }
    };
    Ok(Placement::Proc(proc_number(lin as u64, kind, machine)))
}

/// [`greedy_split_factors`] without allocating (the placement of every index-launch point
/// computes it): the same factors, or `None` where that function returns an error.
fn greedy_blocks(o: i64, v: &[i64]) -> Option<[i64; MAX_DIMS]> {
    if v.is_empty() || v.len() > MAX_DIMS || v.iter().any(|&x| x <= 0) || o <= 0 {
        return None;
    }
    // Prime factors ascending (a positive i64 has at most 62).
    let mut primes = [0i64; 63];
    let mut np = 0;
    let mut n = o;
    let mut p = 2i64;
    while p.saturating_mul(p) <= n {
        while n % p == 0 {
            *primes.get_mut(np)? = p;
            np += 1;
            n /= p;
        }
        p += if p == 2 { 1 } else { 2 };
    }
    if n > 1 {
        *primes.get_mut(np)? = n;
        np += 1;
    }
    let mut out = [1i64; MAX_DIMS];
    let mut w = [0f64; MAX_DIMS];
    for (x, &e) in w.iter_mut().zip(v) {
        *x = e as f64;
    }
    let w = w.get_mut(..v.len())?;
    // Largest prime first, into the currently largest block extent.
    for &p in primes.get(..np)?.iter().rev() {
        let mut k = 0;
        for (i, x) in w.iter().enumerate() {
            if *x > w[k] {
                k = i;
            }
        }
        *out.get_mut(k)? *= p;
        *w.get_mut(k)? /= p as f64;
    }
    Some(out)
}

/// Processor number `k` (node-major) of `kind`.
fn proc_number(k: u64, kind: ProcKind, machine: &MachineShape) -> ProcId {
    let per = u64::from(machine.per_node(kind).max(1));
    ProcId {
        node: (k / per) as u32,
        kind,
        index: (k % per) as u32,
    }
}

/// The default placement of one task point: [`default_index_placement`] for index launches,
/// round-robin by `ctx.seq` for single launches. Errors name `task_name`.
pub fn default_placement(
    ctx: &PointCtx<'_>,
    kind: ProcKind,
    machine: &MachineShape,
    task_name: &str,
) -> crate::mapper::PlaceResult {
    let r = if ctx.index_launch {
        default_index_placement(ctx.point, ctx.domain, kind, machine)
    } else {
        let procs = machine.count(kind);
        if procs == 0 {
            Err(map_err(
                format!("the machine has no {kind} processors"),
                ctx.point,
            ))
        } else {
            Ok(Placement::Proc(proc_number(ctx.seq % procs, kind, machine)))
        }
    };
    r.map_err(|mut e| {
        e.task = task_name.to_string();
        e
    })
}

/// The mapper that applies the runtime defaults everywhere.
#[derive(Clone, Copy, Debug, Default)]
pub struct DefaultMapper;

impl Mapper for DefaultMapper {
    fn name(&self) -> &str {
        "default"
    }

    fn bind(
        &self,
        app: &AppInfo,
        machine: &MachineShape,
    ) -> Result<Box<dyn BoundMapper>, Vec<Diagnostic>> {
        let mut kinds = Vec::with_capacity(app.tasks.len());
        let mut diags = Vec::new();
        for t in &app.tasks {
            match default_kind(&t.variants, machine) {
                Some(k) => kinds.push(k),
                None => {
                    let vs: Vec<&str> = t.variants.iter().map(|k| k.as_str()).collect();
                    diags.push(
                        Diagnostic::error(
                            Span::default(),
                            format!(
                                "task `{}` has variants for [{}] but the machine has no processors of those kinds",
                                t.name,
                                vs.join(", ")
                            ),
                        )
                        .with_help("add a variant for a processor kind the machine has"),
                    );
                    kinds.push(ProcKind::Cpu);
                }
            }
        }
        if !diags.is_empty() {
            return Err(diags);
        }
        Ok(Box::new(DefaultBound {
            kinds,
            names: app.tasks.iter().map(|t| t.name.clone()).collect(),
            mems: KIND_ORDER_ALL.map(|k| default_memories(k, machine)),
            machine: machine.clone(),
        }))
    }
}

/// Every processor kind in `ProcKind as usize` order.
const KIND_ORDER_ALL: [ProcKind; 6] = [
    ProcKind::Cpu,
    ProcKind::Gpu,
    ProcKind::Omp,
    ProcKind::Io,
    ProcKind::Py,
    ProcKind::Proc,
];

/// [`DefaultMapper`] bound to an application and machine.
struct DefaultBound {
    kinds: Vec<ProcKind>,
    names: Vec<String>,
    mems: [Vec<MemKind>; 6],
    machine: MachineShape,
}

impl BoundMapper for DefaultBound {
    fn proc_kind(&self, task: TaskId) -> ProcKind {
        self.kinds.get(task).copied().unwrap_or(ProcKind::Cpu)
    }

    fn memories(&self, _task: TaskId, _arg: usize, kind: ProcKind) -> &[MemKind] {
        &self.mems[kind as usize]
    }

    fn layout(&self, _task: TaskId, _arg: usize, _kind: ProcKind, _mem: MemKind) -> Layout {
        Layout::default()
    }

    fn instance_limit(&self, _task: TaskId, _kind: ProcKind) -> Option<u32> {
        None
    }

    fn collect(&self, _task: TaskId, _arg: usize) -> bool {
        false
    }

    fn place(&self, ctx: &PointCtx<'_>) -> crate::mapper::PlaceResult {
        let name = self.names.get(ctx.task).map(String::as_str).unwrap_or("?");
        default_placement(ctx, self.proc_kind(ctx.task), &self.machine, name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::TaskInfo;

    fn gpu(node: u32, index: u32) -> Placement {
        Placement::Proc(ProcId {
            node,
            kind: ProcKind::Gpu,
            index,
        })
    }

    #[test]
    fn greedy_blocks_match_greedy_split_factors() {
        for o in [1i64, 2, 3, 4, 6, 8, 12, 16, 30, 64, 97, 360, 1024] {
            for v in [
                vec![8i64],
                vec![8, 8],
                vec![16, 4],
                vec![3, 5, 7],
                vec![1000, 10, 1],
            ] {
                let want = greedy_split_factors(o, &v).unwrap();
                let got = greedy_blocks(o, &v).unwrap();
                assert_eq!(&got[..v.len()], &want[..], "o={o} v={v:?}");
            }
        }
        assert_eq!(greedy_blocks(0, &[4]), None);
        assert_eq!(greedy_blocks(4, &[]), None);
        assert_eq!(greedy_blocks(4, &[4, 0]), None);
    }

    #[test]
    fn kind_and_memory_defaults() {
        let m = MachineShape::new(2, 4, 4);
        assert_eq!(
            default_kind(&[ProcKind::Cpu, ProcKind::Gpu], &m),
            Some(ProcKind::Gpu)
        );
        assert_eq!(
            default_kind(&[ProcKind::Cpu, ProcKind::Omp], &m),
            Some(ProcKind::Omp)
        );
        let cpu_only = MachineShape::new(1, 1, 0);
        assert_eq!(
            default_kind(&[ProcKind::Cpu, ProcKind::Gpu], &cpu_only),
            Some(ProcKind::Cpu)
        );
        assert_eq!(default_kind(&[ProcKind::Gpu], &cpu_only), None);
        assert_eq!(
            default_memories(ProcKind::Gpu, &m),
            vec![MemKind::Fbmem, MemKind::Zcmem]
        );
        assert_eq!(
            default_memories(ProcKind::Cpu, &m),
            vec![MemKind::Sysmem, MemKind::Zcmem]
        );
        assert_eq!(
            default_memories(ProcKind::Cpu, &cpu_only),
            vec![MemKind::Sysmem]
        );
        assert_eq!(
            default_memories(ProcKind::Gpu, &cpu_only),
            vec![MemKind::Sysmem]
        );
    }

    #[test]
    fn index_blocks_are_near_square() {
        let m = MachineShape::new(2, 4, 4);
        // 8 GPUs over 8 x 8: greedy gives (4, 2) blocks of 2 x 4 points.
        let p = |i, j| default_index_placement(&[i, j], &[8, 8], ProcKind::Gpu, &m).unwrap();
        assert_eq!(p(0, 0), gpu(0, 0));
        assert_eq!(p(0, 4), gpu(0, 1));
        assert_eq!(p(2, 0), gpu(0, 2));
        assert_eq!(p(7, 7), gpu(1, 3));
        let mut counts = std::collections::HashMap::new();
        for i in 0..8 {
            for j in 0..8 {
                *counts.entry(p(i, j)).or_insert(0) += 1;
            }
        }
        assert_eq!(counts.len(), 8);
        assert!(counts.values().all(|&c| c == 8));
        // 1-D domain smaller than the machine spreads over it.
        let q: Vec<Placement> = (0..2)
            .map(|i| default_index_placement(&[i], &[2], ProcKind::Gpu, &m).unwrap())
            .collect();
        assert_eq!(q, vec![gpu(0, 0), gpu(1, 0)]);
        let e = default_index_placement(&[8, 0], &[8, 8], ProcKind::Gpu, &m).unwrap_err();
        assert_eq!(
            e.message,
            "point coordinate 8 out of bound for dimension 0 of size 8"
        );
        let e = default_index_placement(&[0], &[8], ProcKind::Gpu, &MachineShape::new(1, 2, 0))
            .unwrap_err();
        assert_eq!(e.message, "the machine has no GPU processors");
    }

    #[test]
    fn default_mapper_binds_and_places() {
        let app = AppInfo {
            name: "a".into(),
            tasks: vec![
                TaskInfo {
                    name: "g".into(),
                    args: vec![],
                    variants: vec![ProcKind::Cpu, ProcKind::Gpu],
                    index_launch: true,
                },
                TaskInfo {
                    name: "c".into(),
                    args: vec![],
                    variants: vec![ProcKind::Cpu],
                    index_launch: false,
                },
            ],
        };
        let m = MachineShape::new(2, 2, 4);
        let b = DefaultMapper.bind(&app, &m).unwrap();
        assert_eq!(b.proc_kind(0), ProcKind::Gpu);
        assert_eq!(b.proc_kind(1), ProcKind::Cpu);
        assert_eq!(
            b.memories(0, 0, ProcKind::Gpu),
            &[MemKind::Fbmem, MemKind::Zcmem]
        );
        assert_eq!(
            b.layout(0, 0, ProcKind::Gpu, MemKind::Fbmem),
            Layout::default()
        );
        assert_eq!(b.instance_limit(0, ProcKind::Gpu), None);
        assert!(!b.collect(0, 0));
        let parent = ProcId {
            node: 0,
            kind: ProcKind::Cpu,
            index: 0,
        };
        let single = |seq| PointCtx {
            task: 1,
            point: &[],
            domain: &[],
            index_launch: false,
            parent_proc: parent,
            seq,
        };
        let cpu = |node, index| {
            Placement::Proc(ProcId {
                node,
                kind: ProcKind::Cpu,
                index,
            })
        };
        assert_eq!(b.place(&single(0)).unwrap(), cpu(0, 0));
        assert_eq!(b.place(&single(1)).unwrap(), cpu(0, 1));
        assert_eq!(b.place(&single(2)).unwrap(), cpu(1, 0));
        assert_eq!(b.place(&single(4)).unwrap(), cpu(0, 0));
        let ctx = PointCtx {
            task: 0,
            point: &[9],
            domain: &[8],
            index_launch: true,
            parent_proc: parent,
            seq: 0,
        };
        let e = b.place(&ctx).unwrap_err();
        assert_eq!(e.task, "g");
        let bad = AppInfo {
            name: "b".into(),
            tasks: vec![TaskInfo {
                name: "x".into(),
                args: vec![],
                variants: vec![ProcKind::Gpu],
                index_launch: true,
            }],
        };
        let d = DefaultMapper
            .bind(&bad, &MachineShape::new(1, 2, 0))
            .err()
            .unwrap();
        assert_eq!(
            d[0].message,
            "task `x` has variants for [GPU] but the machine has no processors of those kinds"
        );
    }
}
