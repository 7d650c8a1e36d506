//! A test fixture: a minimal four-task application whose mapping decisions the tuner's unit
//! tests (search space, evaluation, sessions) know exactly. The product tunes the benchmark
//! applications of the `apps` crate only.
//!
//! A 1-D three-point stencil with ghost partitions on the task runtime: `init` fills the grid,
//! then per step `stencil` (reads `x` through the ghost partition, writes `y`) and `copy`
//! (`y` back to `x`); `checksum` sums the result. The result is compared with a sequential
//! reference, so a mapping that changed the result would fail verification.

use crate::target::{MapperSource, MapperSpec, ProfileFacts, RunFailure, RunReport, TuneApp};
use mapper_core::{AppInfo, Mapper};
use runtime::{
    App, FieldSpace, IndexSpace, Point, Privilege, Rect, ReduceOp, Runtime, RuntimeOptions,
    TaskDecl, Value,
};

/// The expert mapper of the demo: everything on the fastest kind, one block per processor.
pub const DEMO_EXPERT: &str = "\
Task * GPU,OMP,CPU;
Region * * GPU FBMEM;
Region * * CPU SYSMEM;
Layout * * * SOA C_order;
";

/// The demo application.
#[derive(Clone, Copy, Debug, Default)]
pub struct Demo;

/// Sizes: (grid points, blocks, steps).
fn size_params(size: &str) -> Option<(i64, i64, usize)> {
    match size {
        "tiny" => Some((1 << 12, 4, 3)),
        "small" => Some((1 << 18, 8, 10)),
        "large" => Some((1 << 22, 16, 20)),
        _ => None,
    }
}

fn app() -> App {
    let mut app = App::new("demo");
    app.task(
        TaskDecl::new("init")
            .arg("out", Privilege::WriteDiscard, &["x"], &["blocks"])
            .all_kinds(|ctx| {
                let w = ctx.write::<f64>(0, "x")?;
                for p in ctx.space(0)?.iter() {
                    w.set(p, (p.get(0) % 100) as f64);
                }
                Ok(Value::None)
            })
            .index_launch(),
    );
    app.task(
        TaskDecl::new("stencil")
            .arg("in", Privilege::Read, &["x"], &["ghost"])
            .arg("out", Privilege::WriteDiscard, &["y"], &["blocks"])
            .all_kinds(|ctx| {
                let r = ctx.read::<f64>(0, "x")?;
                let w = ctx.write::<f64>(1, "y")?;
                let g = ctx.bounds(0)?;
                for p in ctx.space(1)?.iter() {
                    let i = p.get(0);
                    let l = r.get(Point::p1((i - 1).max(g.lo.get(0))));
                    let h = r.get(Point::p1((i + 1).min(g.hi.get(0))));
                    w.set(p, 0.25 * l + 0.5 * r.get(p) + 0.25 * h);
                }
                Ok(Value::None)
            })
            .index_launch(),
    );
    app.task(
        TaskDecl::new("copy")
            .arg("in", Privilege::Read, &["y"], &["blocks"])
            .arg("out", Privilege::WriteDiscard, &["x"], &["blocks"])
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
        TaskDecl::new("checksum")
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
    let n = n.max(1) as usize;
    let mut x: Vec<f64> = (0..n).map(|i| (i % 100) as f64).collect();
    for _ in 0..steps {
        x = (0..n)
            .map(|i| 0.25 * x[i.saturating_sub(1)] + 0.5 * x[i] + 0.25 * x[(i + 1).min(n - 1)])
            .collect();
    }
    x
}

fn run_demo(
    mapper: &dyn Mapper,
    machine: &str,
    (n, blocks, steps): (i64, i64, usize),
) -> Result<RunReport, runtime::RuntimeError> {
    use runtime::RuntimeError as E;
    let app = app();
    let h = |name: &str| {
        app.handle(name)
            .ok_or_else(|| E::Config(format!("demo has no task {name}")))
    };
    let (ti, ts, tc, tk) = (h("init")?, h("stencil")?, h("copy")?, h("checksum")?);
    let desc = runtime::MachineDesc::parse(machine).map_err(E::Config)?;
    let mut rt = Runtime::new(app, desc, mapper, RuntimeOptions::default())?;
    let grid = rt.create_region(
        "grid",
        IndexSpace::range(0, n - 1),
        FieldSpace::new().field::<f64>("x").field::<f64>("y"),
    )?;
    let bp = rt.partition_equal(grid, "blocks", &[blocks])?;
    let mut ghosts = Vec::new();
    for c in 0..blocks {
        let sub = rt.subregion(bp, c)?;
        let b = rt
            .forest()
            .region(sub)
            .map(|r| r.space.bounds())
            .ok_or_else(|| E::Config(format!("demo: block {c} has no region")))?;
        ghosts.push((
            Point::p1(c),
            IndexSpace::range((b.lo.get(0) - 1).max(0), (b.hi.get(0) + 1).min(n - 1)),
        ));
    }
    let gp = rt.partition_by_subspaces(grid, "ghost", ghosts)?;
    let dom = Rect::r1(0, blocks - 1);
    let start_ns = rt.elapsed_ns();
    rt.index_launch(ti, dom, &[bp.into()], &[])?;
    for _ in 0..steps {
        rt.index_launch(ts, dom, &[gp.into(), bp.into()], &[])?;
        rt.index_launch(tc, dom, &[bp.into(), bp.into()], &[])?;
    }
    let sums = rt.index_launch(tk, dom, &[bp.into()], &[])?;
    rt.wait_all()?;
    let time_s = rt.elapsed_ns().saturating_sub(start_ns) as f64 * 1e-9;
    let cells = (n as f64) * (steps as f64);
    if rt.is_simulated() {
        return Ok(RunReport {
            time_s,
            throughput: Some(cells / time_s.max(1e-12) * 1e-6),
            unit: "Mcell/s".into(),
            verified: true,
            check: "simulated run: no data is computed, so the result is not verified".into(),
            profile: ProfileFacts::from_profile(&rt.profile()),
        });
    }
    let sum = sums
        .reduce(ReduceOp::Sum)
        .get_f64()
        .map_err(|e| E::Exec(e.to_string()))?;
    let expect = reference(n, steps);
    let got = rt.read_field::<f64>(grid, "x")?;
    let want_sum: f64 = expect.iter().sum();
    let verified = got == expect && (sum - want_sum).abs() <= 1e-9 * want_sum.abs().max(1.0);
    let check = if verified {
        format!("grid matches the sequential reference; checksum {sum}")
    } else {
        let bad = got
            .iter()
            .zip(&expect)
            .position(|(a, b)| a != b)
            .map_or("checksum only".to_string(), |i| {
                format!("first difference at {i}")
            });
        format!("result differs from the sequential reference ({bad})")
    };
    Ok(RunReport {
        time_s,
        throughput: Some(cells / time_s.max(1e-12) * 1e-6),
        unit: "Mcell/s".into(),
        verified,
        check,
        profile: ProfileFacts::from_profile(&rt.profile()),
    })
}

impl TuneApp for Demo {
    fn name(&self) -> &str {
        "demo"
    }

    fn summary(&self) -> String {
        "A 1-D three-point stencil over a grid cut into blocks: `init` fills field x, then each \
         step `stencil` reads x through the ghost partition (each block plus one point on each \
         side) and writes y, and `copy` writes y back to x; `checksum` sums x. All launches are \
         1-D index launches over the blocks."
            .to_string()
    }

    fn info(&self) -> AppInfo {
        app().info()
    }

    fn launch_dims(&self, task: &str) -> Option<usize> {
        matches!(task, "init" | "stencil" | "copy" | "checksum").then_some(1)
    }

    fn expert_mapper(&self) -> String {
        DEMO_EXPERT.to_string()
    }

    fn mapper_source(&self) -> Option<MapperSource> {
        None
    }

    fn sizes(&self) -> Vec<String> {
        vec!["tiny".into(), "small".into(), "large".into()]
    }

    fn run(&self, mapper: &MapperSpec, machine: &str, size: &str) -> Result<RunReport, RunFailure> {
        let params = size_params(size).ok_or_else(|| {
            RunFailure::Config(format!(
                "unknown size `{size}` for demo; known: tiny, small, large"
            ))
        })?;
        let mapper = mapper.build()?;
        run_demo(mapper.as_ref(), machine, params).map_err(|e| RunFailure::from_runtime(&e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_runs_and_verifies() {
        let m = MapperSpec::Text(DEMO_EXPERT.into());
        let r = Demo.run(&m, "emulated:1x2", "tiny").unwrap();
        assert!(r.verified, "{}", r.check);
        assert_eq!(r.profile.tasks, 4 + 3 * 8 + 4);
        assert_eq!(r.profile.procs_used_per_kind.get("GPU"), Some(&2));
        let dims: Vec<(&str, usize)> = r
            .profile
            .launch_dims
            .iter()
            .map(|(k, v)| (k.as_str(), *v))
            .collect();
        assert_eq!(
            dims,
            vec![("checksum", 1), ("copy", 1), ("init", 1), ("stencil", 1)]
        );
        let s = Demo.run(&m, "sim:p100x4", "small").unwrap();
        assert_eq!(s, Demo.run(&m, "sim:p100x4", "small").unwrap());
        assert!(
            s.time_s > 0.0 && s.check.starts_with("simulated run"),
            "{s:?}"
        );
        let e = Demo.run(&m, "local", "huge").unwrap_err();
        assert_eq!(
            e,
            RunFailure::Config("unknown size `huge` for demo; known: tiny, small, large".into())
        );
    }

    #[test]
    fn demo_mapping_error_is_classified() {
        let m = MapperSpec::Text(
            "Task * CPU;\nm = Machine(CPU);\ndef f(Task t) { return m[0, 99]; }\nIndexTaskMap * f;"
                .into(),
        );
        match Demo.run(&m, "emulated:1x2,cpus=2", "tiny") {
            Err(RunFailure::Map(msg)) => assert!(msg.contains("`f`"), "{msg}"),
            other => panic!("{other:?}"),
        }
    }
}
