//! Property: no mapping changes a program's results. Random valid mappers (random processor
//! kinds among the variants, random memory priority lists, random layouts, random placements
//! across nodes, random instance limits and early collection) run stencils with aliased ghost
//! partitions, reductions and future-map reductions on `emulated:2x4`; results must equal a
//! plain sequential reference bit for bit.

mod common;

use common::*;
use proptest::prelude::*;
use runtime::mapper_core::{Layout, MemKind, Placement, ProcId, ProcKind};
use runtime::TableMapper;
use std::sync::Arc;

const TASKS: &[(&str, usize)] = &[
    ("init1", 1),
    ("step1", 2),
    ("back1", 2),
    ("step2", 2),
    ("swap2", 2),
    ("fillv", 1),
    ("count", 2),
    ("maxidx", 2),
    ("triple", 1),
    ("initxy", 1),
    ("dotp", 1),
];

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn random_mapper(seed: u64) -> TableMapper {
    let mut r = Rng(seed | 1);
    let mut m = TableMapper::new(&format!("random-{seed}"));
    let kinds = [ProcKind::Cpu, ProcKind::Omp, ProcKind::Gpu];
    let all_mems = [MemKind::Sysmem, MemKind::Zcmem, MemKind::Fbmem];
    for &(t, nargs) in TASKS {
        m.task_kind
            .insert(t.to_string(), kinds[r.below(3) as usize]);
        if r.below(3) == 0 {
            m.instance_limit
                .insert(t.to_string(), 1 + r.below(3) as u32);
        }
        for a in 0..nargs {
            for k in kinds {
                let mut list: Vec<MemKind> = Vec::new();
                for _ in 0..1 + r.below(3) {
                    let mk = all_mems[r.below(3) as usize];
                    if !list.contains(&mk) {
                        list.push(mk);
                    }
                }
                let fallback = if k == ProcKind::Gpu {
                    MemKind::Fbmem
                } else {
                    MemKind::Sysmem
                };
                if !list.iter().any(|m| *m == fallback || *m == MemKind::Zcmem) {
                    list.push(fallback);
                }
                m.memories.insert((t.to_string(), a, k), list);
            }
            let align = [0u32, 16, 64][r.below(3) as usize];
            m.layouts.insert(
                (t.to_string(), a),
                Layout {
                    soa: r.below(2) == 0,
                    c_order: r.below(2) == 0,
                    align,
                    ..Layout::default()
                },
            );
            if r.below(4) == 0 {
                m.collect.insert((t.to_string(), a), true);
            }
        }
    }
    let salt = r.next();
    m.place = Some(Arc::new(move |task, ctx, shape, kind| {
        let mut h = salt ^ (task.len() as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        for b in task.bytes() {
            h = h.wrapping_mul(31).wrapping_add(u64::from(b));
        }
        for &c in ctx.point {
            h = h.wrapping_mul(1_000_003).wrapping_add(c as u64);
        }
        h = h.wrapping_add(ctx.seq.wrapping_mul(7));
        h ^= h >> 29;
        let per = u64::from(shape.per_node(kind).max(1));
        let slot = h % shape.count(kind).max(1);
        let node = (slot / per) as u32;
        if h & 0x100 != 0 {
            Ok(Placement::AnyOnNode { node, kind })
        } else {
            Ok(Placement::Proc(ProcId {
                node,
                kind,
                index: (slot % per) as u32,
            }))
        }
    }));
    m
}

const MACHINE: &str = "emulated:2x4";

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn random_mappers_never_change_results(seed in any::<u64>()) {
        let m = random_mapper(seed);
        prop_assert_eq!(stencil1d(MACHINE, &m, 37, 5, 3).map_err(TestCaseError::fail)?, stencil1d_ref(37, 3));
        prop_assert_eq!(stencil2d(MACHINE, &m, 9, 7, 2, 3, 2).map_err(TestCaseError::fail)?, stencil2d_ref(9, 7, 2));
        prop_assert_eq!(histogram(MACHINE, &m, 101, 13, 4).map_err(TestCaseError::fail)?, histogram_ref(101, 13));
        prop_assert_eq!(dot(MACHINE, &m, 50, 6).map_err(TestCaseError::fail)?, dot_ref(50, 6));
    }
}

#[test]
fn default_mappers_match_references() {
    let table = TableMapper::new("table-default");
    let default = runtime::DefaultMapper;
    let mappers: [&dyn runtime::mapper_core::Mapper; 2] = [&table, &default];
    for (machine, m) in ["local", MACHINE]
        .into_iter()
        .flat_map(|x| mappers.iter().map(move |m| (x, *m)))
    {
        assert_eq!(
            stencil1d(machine, m, 37, 5, 3).unwrap(),
            stencil1d_ref(37, 3)
        );
        assert_eq!(
            stencil2d(machine, m, 9, 7, 2, 3, 2).unwrap(),
            stencil2d_ref(9, 7, 2)
        );
        assert_eq!(
            histogram(machine, m, 101, 13, 4).unwrap(),
            histogram_ref(101, 13)
        );
        assert_eq!(dot(machine, m, 50, 6).unwrap(), dot_ref(50, 6));
    }
}
