//! Coherence: exactly which copies, fills and folds happen for small programs with fixed
//! placements on `emulated:1x2`.

use runtime::mapper_core::{MemKind, Placement, ProcId, ProcKind};
use runtime::profile::CopyKind;
use runtime::*;
use std::sync::Arc;

fn app() -> App {
    let mut app = App::new("coh");
    let rw = |ctx: &TaskCtx| -> Result<Value, TaskError> {
        let w = ctx.write::<f64>(0, "x")?;
        for p in ctx.space(0)?.iter() {
            w.set(p, w.get(p) + 1.0);
        }
        Ok(Value::None)
    };
    let rd = |ctx: &TaskCtx| -> Result<Value, TaskError> {
        let r = ctx.read::<f64>(0, "x")?;
        Ok(Value::F64(ctx.space(0)?.iter().map(|p| r.get(p)).sum()))
    };
    app.task(
        TaskDecl::new("w0")
            .arg("r", Privilege::ReadWrite, &["x"], &["r", "parts"])
            .all_kinds(rw),
    );
    app.task(
        TaskDecl::new("r1")
            .arg("r", Privilege::Read, &["x"], &["r", "parts"])
            .all_kinds(rd),
    );
    app.task(
        TaskDecl::new("rc")
            .arg("r", Privilege::Read, &["x"], &["r"])
            .all_kinds(rd),
    );
    app.task(
        TaskDecl::new("wd")
            .arg("r", Privilege::WriteDiscard, &["x"], &["r"])
            .all_kinds(|ctx| {
                let w = ctx.write::<f64>(0, "x")?;
                for p in ctx.space(0)?.iter() {
                    w.set(p, 2.0);
                }
                Ok(Value::None)
            }),
    );
    app.task(
        TaskDecl::new("red")
            .arg("r", Privilege::Reduce(ReduceOp::Sum), &["x"], &["r"])
            .all_kinds(|ctx| {
                let a = ctx.reduce::<f64>(0, "x")?;
                for p in ctx.space(0)?.iter() {
                    a.fold(p, 10.0);
                }
                Ok(Value::None)
            })
            .index_launch(),
    );
    app
}

fn mapper() -> TableMapper {
    let mut m = TableMapper::new("fixed");
    m.task_kind.insert("rc".into(), ProcKind::Cpu);
    m.memories
        .insert(("rc".into(), 0, ProcKind::Cpu), vec![MemKind::Sysmem]);
    m.place = Some(Arc::new(|task, ctx, _shape, kind| {
        let index = match task {
            "w0" => 0,
            "r1" | "wd" => 1,
            "red" => ctx.point.first().copied().unwrap_or(0) as u32,
            _ => 0,
        };
        Ok(Placement::Proc(ProcId {
            node: 0,
            kind,
            index,
        }))
    }));
    m
}

type Moves = Vec<(CopyKind, Option<String>, String, u64)>;

fn moves(rt: &Runtime, from: usize) -> Moves {
    rt.profile().copies[from..]
        .iter()
        .map(|c| {
            (
                c.kind,
                c.src.as_deref().map(String::from),
                c.dst.to_string(),
                c.bytes,
            )
        })
        .collect()
}

fn mv(kind: CopyKind, src: &str, dst: &str, bytes: u64) -> (CopyKind, Option<String>, String, u64) {
    (kind, Some(src.to_string()), dst.to_string(), bytes)
}

#[test]
fn copies_follow_validity() {
    let a = app();
    let h = |n: &str| a.handle(n).unwrap();
    let (w0, r1, rc, wd, red) = (h("w0"), h("r1"), h("rc"), h("wd"), h("red"));
    let mut rt = Runtime::from_spec(a, "emulated:1x2", &mapper()).unwrap();
    let r = rt
        .create_region(
            "r",
            IndexSpace::range(0, 99),
            FieldSpace::new().field::<f64>("x"),
        )
        .unwrap();
    rt.fill_field(r, "x", 1.0f64).unwrap();
    let step = |rt: &mut Runtime, t: TaskHandle| -> Moves {
        let before = rt.profile().copies.len();
        rt.launch(t, &[r.into()], &[]).unwrap();
        rt.wait_all().unwrap();
        moves(rt, before)
    };
    use CopyKind::*;
    assert_eq!(
        step(&mut rt, w0),
        vec![mv(Copy, "SYSMEM[0.0]", "FBMEM[0.0]", 800)]
    );
    assert_eq!(
        step(&mut rt, r1),
        vec![mv(Copy, "FBMEM[0.0]", "FBMEM[0.1]", 800)]
    );
    assert_eq!(
        step(&mut rt, r1),
        vec![],
        "a valid instance is reused without copies"
    );
    assert_eq!(
        step(&mut rt, rc),
        vec![mv(Copy, "FBMEM[0.0]", "SYSMEM[0.0]", 800)]
    );
    assert_eq!(step(&mut rt, wd), vec![], "write-discard needs no copy-in");
    assert_eq!(
        step(&mut rt, rc),
        vec![mv(Copy, "FBMEM[0.1]", "SYSMEM[0.0]", 800)]
    );
    // Reductions: point 0 on GPU0 starts an epoch in FBMEM[0.0] (made valid from the fastest
    // source, the peer framebuffer); both points fold into that instance.
    let before = rt.profile().copies.len();
    rt.index_launch(red, Rect::r1(0, 1), &[r.into()], &[])
        .unwrap();
    rt.wait_all().unwrap();
    let mut got = moves(&rt, before);
    got.sort();
    assert_eq!(
        got,
        vec![
            mv(Copy, "FBMEM[0.1]", "FBMEM[0.0]", 800),
            mv(Fold, "FBMEM[0.0]", "FBMEM[0.0]", 800),
            mv(Fold, "FBMEM[0.1]", "FBMEM[0.0]", 800),
        ]
    );
    assert_eq!(rt.read_field::<f64>(r, "x").unwrap(), vec![22.0; 100]);
}

#[test]
fn subregion_reads_copy_only_their_points() {
    let a = app();
    let h = |n: &str| a.handle(n).unwrap();
    let (w0, r1) = (h("w0"), h("r1"));
    let mut rt = Runtime::from_spec(a, "emulated:1x2", &mapper()).unwrap();
    let r = rt
        .create_region(
            "r",
            IndexSpace::range(0, 99),
            FieldSpace::new().field::<f64>("x"),
        )
        .unwrap();
    let p = rt.partition_equal(r, "parts", &[4]).unwrap();
    rt.launch(w0, &[r.into()], &[]).unwrap();
    let s2 = rt.subregion(p, 2).unwrap();
    let f = rt.launch(r1, &[s2.into()], &[]).unwrap();
    assert_eq!(f.get_f64().unwrap(), 25.0);
    let prof = rt.profile();
    let copies: Vec<(CopyKind, u64)> = prof.copies.iter().map(|c| (c.kind, c.bytes)).collect();
    // The fresh FBMEM[0.0] instance is zero-filled already (no fill); the read of one quarter
    // copies 25 * 8 bytes to GPU1.
    assert_eq!(copies, vec![(CopyKind::Copy, 200)]);
    assert_eq!(prof.copies[0].region.as_ref(), "parts[2]");
}
