//! Errors: mapping decisions that cannot be honoured, malformed launches and failing tasks all
//! produce messages naming the task, point and mapper function.

use runtime::mapper_core::{MapError, MemKind, Placement, ProcId, ProcKind};
use runtime::*;
use std::sync::Arc;

fn app() -> App {
    let mut app = App::new("err");
    app.task(
        TaskDecl::new("t")
            .arg("r", Privilege::ReadWrite, &["x"], &["r"])
            .all_kinds(|ctx| {
                let w = ctx.write::<f64>(0, "x")?;
                w.set(0, 1.0);
                Ok(Value::None)
            }),
    );
    app.task(
        TaskDecl::new("cpu_only")
            .arg("r", Privilege::Read, &["x"], &["r"])
            .cpu(|_| Ok(Value::None)),
    );
    app.task(
        TaskDecl::new("fails")
            .arg("r", Privilege::Read, &["x"], &["r"])
            .cpu(|_| Err("bad input".into())),
    );
    app.task(
        TaskDecl::new("panics")
            .arg("r", Privilege::Read, &["x"], &["r"])
            .cpu(|ctx| {
                let r = ctx.read::<f64>(0, "x")?;
                Ok(Value::F64(r.get(1000)))
            }),
    );
    app.task(
        TaskDecl::new("wrongtype")
            .arg("r", Privilege::Read, &["x"], &["r"])
            .cpu(|ctx| {
                ctx.read::<i32>(0, "x")?;
                Ok(Value::None)
            }),
    );
    app
}

fn setup(m: &TableMapper, machine: &str) -> (Runtime, RegionId, App) {
    let a = app();
    let mut rt = Runtime::from_spec(a.clone(), machine, m).unwrap();
    let r = rt
        .create_region(
            "r",
            IndexSpace::range(0, 9),
            FieldSpace::new().field::<f64>("x"),
        )
        .unwrap();
    (rt, r, a)
}

fn placing(
    f: impl Fn(ProcKind) -> mapper_core::mapper::PlaceResult + Send + Sync + 'static,
) -> TableMapper {
    let mut m = TableMapper::new("p");
    m.place = Some(Arc::new(move |_, _, _, k| f(k)));
    m
}

#[test]
fn placement_on_wrong_kind() {
    let m = placing(|_| {
        Ok(Placement::Proc(ProcId {
            node: 0,
            kind: ProcKind::Cpu,
            index: 0,
        }))
    });
    let (mut rt, r, a) = setup(&m, "emulated:1x2");
    let e = rt
        .launch(a.handle("t").unwrap(), &[r.into()], &[])
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "mapping task `t` at point [0] in function `SingleTaskMap`: placed on CPU[0, 0], a CPU processor, but the task was mapped to run on GPU"
    );
}

#[test]
fn placement_on_missing_processor() {
    let m = placing(|k| {
        Ok(Placement::Proc(ProcId {
            node: 1,
            kind: k,
            index: 0,
        }))
    });
    let (mut rt, r, a) = setup(&m, "emulated:1x2");
    let e = rt
        .index_launch(a.handle("t").unwrap(), Rect::r1(0, 0), &[r.into()], &[])
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "mapping task `t` at point [0] in function `IndexTaskMap`: processor GPU[1, 0] does not exist: the machine has 1 node(s) with 2 GPU processor(s) each"
    );
}

#[test]
fn map_error_from_place_is_reported() {
    let m = placing(|_| {
        Err(Box::new(MapError {
            task: "t".into(),
            point: vec![0],
            function: Some("block1d".into()),
            message: "division by zero".into(),
            at: None,
        }))
    });
    let (mut rt, r, a) = setup(&m, "emulated:1x2");
    let e = rt
        .launch(a.handle("t").unwrap(), &[r.into()], &[])
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "mapping task `t` at point [0] in function `block1d`: division by zero"
    );
}

#[test]
fn inaccessible_memory_and_missing_variant() {
    let mut m = TableMapper::new("m").kinds(&[ProcKind::Cpu]);
    m.memories
        .insert(("t".into(), 0, ProcKind::Cpu), vec![MemKind::Fbmem]);
    m.task_kind.insert("cpu_only".into(), ProcKind::Gpu);
    let (mut rt, r, a) = setup(&m, "emulated:1x2");
    let e = rt
        .launch(a.handle("t").unwrap(), &[r.into()], &[])
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "mapping task `t` at point [0] in function `Region`: argument `r`: none of the memories [FBMEM] is accessible from CPU[0, 0] (it can access SYSMEM, ZCMEM)"
    );
    let e = rt
        .launch(a.handle("cpu_only").unwrap(), &[r.into()], &[])
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "mapping task `cpu_only` at point [0] in function `Task`: the mapper chose GPU but the task has variants only for [CPU]"
    );
}

#[test]
fn undeclared_region_and_bad_arity() {
    let (mut rt, _r, a) = setup(&TableMapper::new("d"), "local");
    let other = rt
        .create_region(
            "other",
            IndexSpace::range(0, 3),
            FieldSpace::new().field::<f64>("x"),
        )
        .unwrap();
    let t = a.handle("t").unwrap();
    let e = rt.launch(t, &[other.into()], &[]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "task `t` argument `r` is launched with `other`, which its declaration does not list (declared: r); add \"other\" to the argument's region names"
    );
    let e = rt.launch(t, &[], &[]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "task `t` declares 1 region arguments but was launched with 0"
    );
}

#[test]
fn task_failures_fail_the_run() {
    let (mut rt, r, a) = setup(&TableMapper::new("d"), "local");
    let f = rt
        .launch(a.handle("fails").unwrap(), &[r.into()], &[])
        .unwrap();
    assert_eq!(
        f.get().unwrap_err(),
        "task `fails` at point (0) on CPU[0, 0]: bad input"
    );
    assert_eq!(
        rt.wait_all().unwrap_err().to_string(),
        "task `fails` at point (0) on CPU[0, 0]: bad input"
    );
    let e = rt
        .launch(a.handle("t").unwrap(), &[r.into()], &[])
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "task `fails` at point (0) on CPU[0, 0]: bad input"
    );
}

#[test]
fn panics_and_type_errors_are_reported() {
    let (mut rt, r, a) = setup(&TableMapper::new("d"), "local");
    let f = rt
        .launch(a.handle("panics").unwrap(), &[r.into()], &[])
        .unwrap();
    assert_eq!(
        f.get().unwrap_err(),
        "task `panics` at point (0) on CPU[0, 0]: panicked: read: point (1000) is outside the argument's bounds [(0)..=(9)]"
    );
    let (mut rt, r, a) = setup(&TableMapper::new("d"), "local");
    let f = rt
        .launch(a.handle("wrongtype").unwrap(), &[r.into()], &[])
        .unwrap();
    assert_eq!(
        f.get().unwrap_err(),
        "task `wrongtype` at point (0) on CPU[0, 0]: task `wrongtype` argument `r`: field `x` has type f64 but was read as i32"
    );
}
