//! InstanceLimit backpressure, CollectMemory and layout-dependent accessors.

use runtime::mapper_core::{Layout, MemKind, ProcKind};
use runtime::*;

fn app() -> App {
    let mut app = App::new("pol");
    app.task(
        TaskDecl::new("work")
            .arg("r", Privilege::ReadWrite, &["x"], &["parts"])
            .all_kinds(|ctx| {
                let w = ctx.write::<f64>(0, "x")?;
                for p in ctx.space(0)?.iter() {
                    w.set(p, w.get(p) + p.get(0) as f64);
                }
                Ok(Value::None)
            })
            .index_launch(),
    );
    app.task(
        TaskDecl::new("look")
            .arg("r", Privilege::Read, &["x"], &["r"])
            .all_kinds(|ctx| {
                let r = ctx.read::<f64>(0, "x")?;
                Ok(Value::F64(ctx.space(0)?.iter().map(|p| r.get(p)).sum()))
            }),
    );
    app.task(
        TaskDecl::new("tile")
            .arg("r", Privilege::Read, &["m"], &["m"])
            .all_kinds(|ctx| {
                let raw = ctx.raw::<f64>(0, "m")?;
                let b = raw.bounds();
                // Sum of row 1 through the slice and strides.
                let s = raw.strides();
                let data = raw.as_slice();
                let row: f64 = (0..b.extents()[1] as usize)
                    .map(|j| data[s[0] + j * s[1]])
                    .sum();
                Ok(Value::F64(row))
            }),
    );
    app
}

#[test]
fn instance_limit_one_serializes_points_on_a_node() {
    let mut m = TableMapper::new("lim").kinds(&[ProcKind::Gpu]);
    m.instance_limit.insert("work".into(), 1);
    let a = app();
    let work = a.handle("work").unwrap();
    let mut rt = Runtime::from_spec(a, "emulated:1x4", &m).unwrap();
    let r = rt
        .create_region(
            "r",
            IndexSpace::range(0, 79),
            FieldSpace::new().field::<f64>("x"),
        )
        .unwrap();
    let p = rt.partition_equal(r, "parts", &[8]).unwrap();
    rt.index_launch(work, Rect::r1(0, 7), &[p.into()], &[])
        .unwrap();
    assert_eq!(
        rt.read_field::<f64>(r, "x").unwrap(),
        (0..80).map(|i| i as f64).collect::<Vec<_>>()
    );
    let mut spans: Vec<(u64, u64)> = rt
        .profile()
        .tasks
        .iter()
        .map(|t| (t.start_ns, t.end_ns))
        .collect();
    spans.sort_unstable();
    assert_eq!(spans.len(), 8);
    for w in spans.windows(2) {
        assert!(
            w[0].1 <= w[1].0,
            "point tasks overlapped despite InstanceLimit 1: {w:?}"
        );
    }
}

#[test]
fn collect_memory_frees_read_only_instances() {
    let mut m = TableMapper::new("col").kinds(&[ProcKind::Gpu]);
    m.collect.insert(("look".into(), 0), true);
    let a = app();
    let look = a.handle("look").unwrap();
    let mut rt = Runtime::from_spec(a, "emulated:1x1", &m).unwrap();
    let r = rt
        .create_region(
            "r",
            IndexSpace::range(0, 99),
            FieldSpace::new().field::<f64>("x"),
        )
        .unwrap();
    rt.fill_field(r, "x", 2.0f64).unwrap();
    assert_eq!(
        rt.launch(look, &[r.into()], &[])
            .unwrap()
            .get_f64()
            .unwrap(),
        200.0
    );
    rt.wait_all().unwrap();
    let fb = |rt: &Runtime| {
        rt.memory_usage()
            .into_iter()
            .find(|m| m.0 == "FBMEM[0.0]")
            .map(|m| m.1)
    };
    assert_eq!(fb(&rt), Some(0));
    // Without collection the framebuffer instance stays.
    let a = app();
    let look = a.handle("look").unwrap();
    let mut rt = Runtime::from_spec(
        a,
        "emulated:1x1",
        &TableMapper::new("keep").kinds(&[ProcKind::Gpu]),
    )
    .unwrap();
    let r = rt
        .create_region(
            "r",
            IndexSpace::range(0, 99),
            FieldSpace::new().field::<f64>("x"),
        )
        .unwrap();
    rt.fill_field(r, "x", 2.0f64).unwrap();
    rt.launch(look, &[r.into()], &[])
        .unwrap()
        .get_f64()
        .unwrap();
    rt.wait_all().unwrap();
    assert_eq!(fb(&rt), Some(800));
}

#[test]
fn raw_slices_follow_the_layout_and_refuse_aos() {
    let run = |layout: Layout| {
        let mut m = TableMapper::new("lay").kinds(&[ProcKind::Cpu]);
        m.memories
            .insert(("tile".into(), 0, ProcKind::Cpu), vec![MemKind::Sysmem]);
        m.layouts.insert(("tile".into(), 0), layout);
        let a = app();
        let tile = a.handle("tile").unwrap();
        let mut rt = Runtime::from_spec(a, "emulated:1x1", &m).unwrap();
        let mr = rt
            .create_region(
                "m",
                IndexSpace::from_rect(Rect::r2((0, 0), (2, 3))),
                FieldSpace::new().field::<f64>("m"),
            )
            .unwrap();
        let vals: Vec<f64> = (0..12).map(|k| k as f64).collect();
        rt.write_field(mr, "m", &vals).unwrap();
        rt.launch(tile, &[mr.into()], &[]).unwrap().get()
    };
    // Row 1 is 4, 5, 6, 7 in C order and in F order (strides differ, the result does not).
    assert_eq!(run(Layout::default()), Ok(Value::F64(22.0)));
    assert_eq!(
        run(Layout {
            c_order: false,
            ..Layout::default()
        }),
        Ok(Value::F64(22.0))
    );
    assert_eq!(
        run(Layout { soa: false, ..Layout::default() }),
        Err("task `tile` at point (0) on CPU[0, 0]: task `tile` argument `r`: the instance is AOS; raw slices need an SOA layout (use ctx.read/ctx.write)".to_string())
    );
}
