//! End-to-end tests of small programs on `local` and `emulated:2x4`.

use runtime::mapper_core::{MemKind, ProcKind};
use runtime::*;

fn stencil_app() -> App {
    let mut app = App::new("stencil1d");
    app.task(
        TaskDecl::new("init")
            .arg("out", Privilege::WriteDiscard, &["x"], &["blocks"])
            .all_kinds(|ctx| {
                let w = ctx.write::<f64>(0, "x")?;
                for p in ctx.space(0)?.iter() {
                    w.set(p, p.get(0) as f64);
                }
                Ok(Value::None)
            })
            .index_launch(),
    );
    app.task(
        TaskDecl::new("step")
            .arg("in", Privilege::Read, &["x"], &["ghost"])
            .arg("out", Privilege::WriteDiscard, &["y"], &["blocks"])
            .all_kinds(|ctx| {
                let r = ctx.read::<f64>(0, "x")?;
                let w = ctx.write::<f64>(1, "y")?;
                let g = ctx.bounds(0)?;
                for p in ctx.space(1)?.iter() {
                    let i = p.get(0);
                    let l = if i > g.lo.get(0) {
                        r.get(i - 1)
                    } else {
                        r.get(i)
                    };
                    let h = if i < g.hi.get(0) {
                        r.get(i + 1)
                    } else {
                        r.get(i)
                    };
                    w.set(p, (l + r.get(i) + h) / 3.0);
                }
                Ok(Value::None)
            })
            .index_launch(),
    );
    app.task(
        TaskDecl::new("copyback")
            .arg("in", Privilege::Read, &["y"], &["blocks"])
            .arg("out", Privilege::ReadWrite, &["x"], &["blocks"])
            .all_kinds(|ctx| {
                let r = ctx.read::<f64>(0, "y")?;
                let w = ctx.write::<f64>(1, "x")?;
                for p in ctx.space(0)?.iter() {
                    w.set(p, r.get(p));
                }
                Ok(Value::None)
            })
            .index_launch(),
    );
    app.task(
        TaskDecl::new("sum")
            .arg("in", Privilege::Read, &["x"], &["blocks"])
            .all_kinds(|ctx| {
                let r = ctx.read::<f64>(0, "x")?;
                Ok(Value::F64(ctx.space(0)?.iter().map(|p| r.get(p)).sum()))
            })
            .index_launch(),
    );
    app
}

fn reference(n: i64, steps: usize) -> Vec<f64> {
    let mut x: Vec<f64> = (0..n).map(|i| i as f64).collect();
    for _ in 0..steps {
        let y: Vec<f64> = (0..n as usize)
            .map(|i| {
                let l = if i > 0 { x[i - 1] } else { x[i] };
                let h = if i + 1 < n as usize { x[i + 1] } else { x[i] };
                (l + x[i] + h) / 3.0
            })
            .collect();
        x = y;
    }
    x
}

fn run_stencil(machine: &str, mapper: &TableMapper) -> (Vec<f64>, f64, Profile) {
    let n = 40;
    let blocks = 4;
    let mut rt = Runtime::from_spec(stencil_app(), machine, mapper).unwrap();
    let fs = FieldSpace::new().field::<f64>("x").field::<f64>("y");
    let grid = rt
        .create_region("grid", IndexSpace::range(0, n - 1), fs)
        .unwrap();
    let bp = rt.partition_equal(grid, "blocks", &[blocks]).unwrap();
    let subs: Vec<(Point, IndexSpace)> = (0..blocks)
        .map(|c| {
            let b = rt
                .forest()
                .region(rt.subregion(bp, c).unwrap())
                .unwrap()
                .space
                .bounds();
            (
                Point::p1(c),
                IndexSpace::range((b.lo.get(0) - 1).max(0), (b.hi.get(0) + 1).min(n - 1)),
            )
        })
        .collect();
    let gp = rt.partition_by_subspaces(grid, "ghost", subs).unwrap();
    let dom = Rect::r1(0, blocks - 1);
    let h = |name: &str| {
        TaskHandle(
            ["init", "step", "copyback", "sum"]
                .iter()
                .position(|x| *x == name)
                .unwrap(),
        )
    };
    rt.index_launch(h("init"), dom, &[bp.into()], &[]).unwrap();
    for _ in 0..3 {
        rt.index_launch(h("step"), dom, &[gp.into(), bp.into()], &[])
            .unwrap();
        rt.index_launch(h("copyback"), dom, &[bp.into(), bp.into()], &[])
            .unwrap();
    }
    let total = rt
        .index_launch(h("sum"), dom, &[bp.into()], &[])
        .unwrap()
        .reduce(ReduceOp::Sum);
    let total = total.get_f64().unwrap();
    let x = rt.read_field::<f64>(grid, "x").unwrap();
    (x, total, rt.profile())
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
