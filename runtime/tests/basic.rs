//! End-to-end tests of small programs on `local` and `emulated:2x4`.

use runtime::mapper_core::{MemKind, ProcKind};
use runtime::*;

#[path = "programs/stencil1d.rs"]
mod stencil1d;

use stencil1d::reference;

/// The stencil on 40 points in 4 blocks, host functions only.
fn run_stencil(machine: &str, mapper: &TableMapper) -> (Vec<f64>, f64, Profile) {
    stencil1d::run(stencil1d::app(&|_| None), machine, mapper, 40, 4).unwrap()
}

#[test]
fn stencil_local_matches_reference() {
    let (x, total, prof) = run_stencil("local", &TableMapper::new("default"));
    let r = reference(40, 3);
    assert_eq!(x, r);
    assert_eq!(
        total,
        r.chunks(10).map(|c| c.iter().sum::<f64>()).sum::<f64>()
    );
    assert_eq!(prof.tasks.len(), 4 + 3 * 8 + 4);
}

#[test]
fn stencil_emulated_gpus_copy_between_framebuffers() {
    let (x, _, prof) = run_stencil("emulated:2x4", &TableMapper::new("default"));
    assert_eq!(x, reference(40, 3));
    assert!(prof.tasks.iter().all(|t| t.proc.kind == ProcKind::Gpu));
    // Ghost reads need data from neighbouring GPUs' framebuffers.
    assert!(prof
        .copies
        .iter()
        .any(|c| c.src.as_deref().is_some_and(|s| s.starts_with("FBMEM"))
            && c.dst.starts_with("FBMEM")));
}

#[test]
fn stencil_emulated_cpu_zcmem_aos() {
    let mut m = TableMapper::new("cpu").kinds(&[ProcKind::Cpu]);
    for t in ["init", "step", "copyback", "sum"] {
        for a in 0..2 {
            m.memories
                .insert((t.to_string(), a, ProcKind::Cpu), vec![MemKind::Zcmem]);
            m.layouts.insert(
                (t.to_string(), a),
                runtime::mapper_core::Layout {
                    soa: a == 0,
                    c_order: false,
                    align: 64,
                    ..Default::default()
                },
            );
        }
    }
    let (x, _, prof) = run_stencil("emulated:2x4", &m);
    assert_eq!(x, reference(40, 3));
    assert!(prof.tasks.iter().all(|t| t.proc.kind == ProcKind::Cpu));
}
