//! Memory pressure: eviction with write-back, fallback along the priority list, and the exact
//! error when nothing can hold an instance.

use runtime::error::{MemoryAttempt, RuntimeError};
use runtime::mapper_core::{MemKind, ProcKind};
use runtime::profile::CopyKind;
use runtime::*;

fn app() -> App {
    let mut app = App::new("mem");
    app.task(
        TaskDecl::new("inc")
            .arg("r", Privilege::ReadWrite, &["x"], &["a", "b", "big"])
            .all_kinds(|ctx| {
                let w = ctx.write::<f64>(0, "x")?;
                for p in ctx.space(0)?.iter() {
                    w.set(p, w.get(p) + 1.0);
                }
                Ok(Value::None)
            }),
    );
    app
}

fn gpu_only(mems: &[MemKind]) -> TableMapper {
    let mut m = TableMapper::new("gpu").kinds(&[ProcKind::Gpu]);
    m.memories
        .insert(("inc".into(), 0, ProcKind::Gpu), mems.to_vec());
    m
}

#[test]
fn full_framebuffer_evicts_and_writes_back() {
    let a = app();
    let inc = a.handle("inc").unwrap();
    let mut rt = Runtime::from_spec(a, "emulated:1x1,fb=4K", &gpu_only(&[MemKind::Fbmem])).unwrap();
    let fs = || FieldSpace::new().field::<f64>("x");
    let ra = rt
        .create_region("a", IndexSpace::range(0, 399), fs())
        .unwrap();
    let rb = rt
        .create_region("b", IndexSpace::range(0, 399), fs())
        .unwrap();
    rt.launch(inc, &[ra.into()], &[]).unwrap();
    rt.launch(inc, &[rb.into()], &[]).unwrap();
    rt.launch(inc, &[ra.into()], &[]).unwrap();
    assert_eq!(rt.read_field::<f64>(ra, "x").unwrap(), vec![2.0; 400]);
    assert_eq!(rt.read_field::<f64>(rb, "x").unwrap(), vec![1.0; 400]);
    let wb: Vec<(String, String, u64)> = rt
        .profile()
        .copies
        .iter()
        .filter(|c| c.kind == CopyKind::Writeback)
        .map(|c| {
            (
                c.src.as_deref().unwrap_or("").to_string(),
                c.region.to_string(),
                c.bytes,
            )
        })
        .collect();
    assert_eq!(
        wb,
        vec![
            ("FBMEM[0.0]".to_string(), "a".to_string(), 3200),
            ("FBMEM[0.0]".to_string(), "b".to_string(), 3200)
        ]
    );
    let fb = rt
        .memory_usage()
        .into_iter()
        .find(|m| m.0 == "FBMEM[0.0]")
        .unwrap();
    assert_eq!((fb.1, fb.2), (3200, 4096));
}

#[test]
fn impossible_fit_reports_task_argument_memory_and_sizes() {
    let a = app();
    let inc = a.handle("inc").unwrap();
    let mut rt = Runtime::from_spec(a, "emulated:1x1,fb=4K", &gpu_only(&[MemKind::Fbmem])).unwrap();
    let big = rt
        .create_region(
            "big",
            IndexSpace::range(0, 999),
            FieldSpace::new().field::<f64>("x"),
        )
        .unwrap();
    let err = rt.launch(inc, &[big.into()], &[]).unwrap_err();
    assert_eq!(
        err,
        RuntimeError::MemoryFull {
            task: "inc".into(),
            point: vec![0],
            arg: "r".into(),
            region: "big".into(),
            attempts: vec![MemoryAttempt {
                memory: "FBMEM[0.0]".into(),
                needed: 8000,
                available: 4096,
                capacity: 4096
            }],
        }
    );
    assert_eq!(
        err.to_string(),
        "out of memory mapping task `inc` at point [0], argument `r` (region `big`): FBMEM[0.0] needs 8000 bytes but only \
         4096 of 4096 bytes are available after evicting unused instances; help: map the argument to a larger memory \
         (add one to its Region priority list) or use smaller pieces"
    );
}

#[test]
fn priority_list_falls_back_to_the_next_memory() {
    let a = app();
    let inc = a.handle("inc").unwrap();
    let mut rt = Runtime::from_spec(
        a,
        "emulated:1x1,fb=4K",
        &gpu_only(&[MemKind::Fbmem, MemKind::Zcmem]),
    )
    .unwrap();
    let big = rt
        .create_region(
            "big",
            IndexSpace::range(0, 999),
            FieldSpace::new().field::<f64>("x"),
        )
        .unwrap();
    rt.launch(inc, &[big.into()], &[]).unwrap();
    assert_eq!(rt.read_field::<f64>(big, "x").unwrap(), vec![1.0; 1000]);
    let zc = rt
        .memory_usage()
        .into_iter()
        .find(|m| m.0 == "ZCMEM[0.0]")
        .unwrap();
    assert_eq!(zc.1, 8000);
}
