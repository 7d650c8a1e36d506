//! The benchmark applications of the `apps` crate as [`TuneApp`]s: their registry entries,
//! expert mappers (and where they are written), sizes and runs, with the launch dimensionality
//! of each task read from one tiny profiled run with the default mapper.

use crate::target::{MapperSource, MapperSpec, ProfileFacts, RunFailure, RunReport, TuneApp};
use mapper_core::{AppInfo, Layout, ProcKind};
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// One application of the `apps` registry.
pub struct Bench {
    app: &'static dyn apps::Application,
    dims: OnceLock<BTreeMap<String, usize>>,
}

impl Bench {
    /// Wraps a registry entry.
    pub fn new(app: &'static dyn apps::Application) -> Bench {
        Bench {
            app,
            dims: OnceLock::new(),
        }
    }

    /// Task name -> dimensions of its launch points, from a tiny profiled run on `local` with
    /// the default mapper (empty if that run fails).
    fn dims(&self) -> &BTreeMap<String, usize> {
        self.dims.get_or_init(|| {
            let mut cfg = apps::RunConfig::tiny(self.app);
            cfg.mapper = apps::MapperChoice::Default;
            cfg.profile = true;
            let mut m = BTreeMap::new();
            if let Ok(r) = apps::run(self.app, &cfg) {
                if let Some(p) = r.profile {
                    for t in &p.tasks {
                        m.entry(t.name.to_string()).or_insert(t.point.dim());
                    }
                }
            }
            m
        })
    }
}

/// A privilege as the prompt shows it.
pub fn privilege_text(p: runtime::Privilege) -> String {
    use runtime::{Privilege as P, ReduceOp as R};
    match p {
        P::Read => "read".into(),
        P::Write => "write".into(),
        P::ReadWrite => "read-write".into(),
        P::WriteDiscard => "write-discard (old contents not copied in)".into(),
        P::Reduce(op) => format!(
            "reduction ({}) (private instances folded into the data after the task)",
            match op {
                R::Sum => "+",
                R::Min => "min",
                R::Max => "max",
                R::Prod => "*",
            }
        ),
    }
}

fn failure(e: apps::AppError) -> RunFailure {
    match e {
        apps::AppError::Mapper(m) => RunFailure::Bind(m),
        apps::AppError::Layout(m) => RunFailure::Map(format!("mapping error: {m}")),
        apps::AppError::Config(m) => RunFailure::Config(m),
        apps::AppError::Runtime(e) => RunFailure::from_runtime(&e),
    }
}

impl TuneApp for Bench {
    fn name(&self) -> &str {
        self.app.name()
    }

    fn summary(&self) -> String {
        self.app.description().to_string()
    }

    fn info(&self) -> AppInfo {
        self.app.info()
    }

    fn launch_dims(&self, task: &str) -> Option<usize> {
        let info = self.app.info();
        let t = info.tasks.iter().find(|t| t.name == task)?;
        if !t.index_launch {
            return None;
        }
        self.dims().get(task).copied()
    }

    /// Both SOA orders, less those the app's layout rules refuse for this variant (the GPU
    /// stencil kernel and the cuBLAS tile GEMMs take C order only), so that the search does
    /// not spend runs on mappers the app refuses before running.
    fn layouts(&self, task: &str, arg: usize, kind: ProcKind) -> Vec<String> {
        let info = self.app.info();
        let arg_name = info
            .tasks
            .iter()
            .find(|t| t.name == task)
            .and_then(|t| t.args.get(arg))
            .map(|a| a.name.as_str());
        let rules: Vec<_> = self
            .app
            .layout_rules()
            .iter()
            .filter(|r| {
                r.task == task
                    && (r.arg == "*" || Some(r.arg) == arg_name)
                    && r.kind.is_none_or(|k| k == kind)
            })
            .collect();
        [("SOA C_order", true), ("SOA F_order", false)]
            .into_iter()
            .filter(|(_, c_order)| {
                let l = Layout {
                    soa: true,
                    c_order: *c_order,
                    align: 0,
                    compact: false,
                    exact: false,
                };
                rules.iter().all(|r| r.need.accepts(&l))
            })
            .map(|(text, _)| text.to_string())
            .collect()
    }

    fn privilege(&self, task: &str, arg: usize) -> Option<String> {
        let p = apps::Problem::preset(self.app, "tiny").ok()?;
        let decl = self.app.declare(&p);
        let t = decl.tasks.iter().find(|t| t.name == task)?;
        Some(privilege_text(t.args.get(arg)?.privilege))
    }

    fn size_text(&self, size: &str) -> Option<String> {
        let p = apps::Problem::parse(self.app, size).ok()?;
        Some(format!(
            "{} ({}, {})",
            p.preset,
            p.values_text().replace(',', ", "),
            p.precision.as_str()
        ))
    }

    fn expert_mapper(&self) -> String {
        self.app.expert().source.to_string()
    }

    /// The file the app's expert `mapper!` is written in (as the app reports it, relative to
    /// the workspace root), when that file is in this workspace and holds the mapper's type.
    fn mapper_source(&self) -> Option<MapperSource> {
        let e = self.app.expert();
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()?
            .join(e.file);
        let src = std::fs::read_to_string(&path).ok()?;
        let sites = crate::rewrite::find_mappers(&src, &path.display().to_string()).ok()?;
        sites
            .iter()
            .any(|s| s.name == e.type_name)
            .then(|| MapperSource {
                path,
                type_name: e.type_name.to_string(),
                package: "apps".into(),
            })
    }

    fn sizes(&self) -> Vec<String> {
        self.app
            .presets()
            .iter()
            .map(|p| p.name.to_string())
            .collect()
    }

    fn check_size(&self, size: &str) -> Result<(), String> {
        apps::Problem::parse(self.app, size).map(|_| ())
    }

    fn run(&self, mapper: &MapperSpec, machine: &str, size: &str) -> Result<RunReport, RunFailure> {
        let problem = apps::Problem::parse(self.app, size).map_err(RunFailure::Config)?;
        let cfg = apps::RunConfig {
            machine: machine.to_string(),
            problem,
            mapper: match mapper {
                MapperSpec::Default => apps::MapperChoice::Default,
                MapperSpec::Text(t) => apps::MapperChoice::Text {
                    name: crate::validate::CANDIDATE_FILE.into(),
                    source: t.clone(),
                },
            },
            profile: true,
        };
        let r = apps::run(self.app, &cfg).map_err(failure)?;
        Ok(RunReport {
            time_s: r.time_s,
            throughput: Some(r.rate()),
            unit: r.outcome.unit.to_string(),
            // A simulated run computes no data: nothing to verify, nothing wrong.
            verified: r.verified(),
            check: if r.simulated {
                format!(
                    "simulated run (no data to verify); {}",
                    r.outcome.decomposition
                )
            } else {
                format!(
                    "{}; {}",
                    r.outcome.verification.note(),
                    r.outcome.decomposition
                )
            },
            profile: r
                .profile
                .as_ref()
                .map(ProfileFacts::from_profile)
                .unwrap_or_default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bench(name: &str) -> Bench {
        Bench::new(apps::find(name).unwrap())
    }

    #[test]
    fn matmul_apps_are_described() {
        let c = bench("cannon");
        let src = c.mapper_source().unwrap();
        assert_eq!(src.type_name, "CannonExpert");
        assert!(src.path.ends_with("apps/src/matmul/cannon.rs"));
        let s = bench("stencil").mapper_source().unwrap();
        assert_eq!(s.type_name, "StencilExpert");
        assert!(s.path.ends_with("apps/src/stencil/expert.rs"));
        assert_eq!(c.launch_dims("gemm"), Some(2));
        assert_eq!(c.launch_dims("nope"), None);
        let j = bench("johnson");
        let dims: Vec<Option<usize>> = j
            .info()
            .tasks
            .iter()
            .map(|t| j.launch_dims(&t.name))
            .collect();
        assert!(dims.contains(&Some(3)), "{dims:?}");
        assert!(crate::validate::check_text_for(&c.expert_mapper(), Some(&c.info())).is_valid());
    }

    #[test]
    fn sizes_are_presets_or_a_matrix_order() {
        let c = bench("cannon");
        assert!(c.check_size("small").is_ok() && c.check_size("96").is_ok());
        assert_eq!(
            c.check_size("huge").unwrap_err(),
            "unknown size `huge` for cannon; (presets: tiny, small, large, gpu, multigpu)"
        );
        assert!(c.check_size("0").is_err());
        // N = 96 on a 2x2 grid: the run reports the order it used.
        let r = c
            .run(&MapperSpec::Text(c.expert_mapper()), "sim:p100x4", "96")
            .unwrap();
        assert!(r.check.contains("N=96 "), "{}", r.check);
    }

    #[test]
    fn runs_and_failures_are_mapped() {
        let c = bench("cannon");
        let r = c
            .run(&MapperSpec::Text(c.expert_mapper()), "sim:p100x4", "small")
            .unwrap();
        assert!(r.verified && r.time_s > 0.0);
        assert_eq!(
            r,
            c.run(&MapperSpec::Text(c.expert_mapper()), "sim:p100x4", "small")
                .unwrap()
        );
        assert!(r.profile.tasks > 0);
        let e = c
            .run(
                &MapperSpec::Text("Layout * * * AOS;".into()),
                "local",
                "tiny",
            )
            .unwrap_err();
        assert!(matches!(e, RunFailure::Map(_)), "{e:?}");
        assert!(matches!(
            c.run(&MapperSpec::Default, "local", "huge"),
            Err(RunFailure::Config(_))
        ));
    }

    /// The stencil as the tuner runs it: the expert verifies on two emulated GPUs, and the
    /// report carries the profile facts the feedback is built from.
    #[test]
    fn stencil_runs_verify_and_report_profile_facts() {
        let s = crate::registry::find("stencil").unwrap();
        let m = MapperSpec::Text(s.expert_mapper());
        let r = s.run(&m, "emulated:1x2", "tiny").unwrap();
        assert!(r.verified, "{}", r.check);
        assert_eq!(
            r.check,
            "all 2304 cells exact after 4 steps; 2x1 tiles on 2 GPU"
        );
        assert_eq!(r.unit, "cell updates");
        // `init` on the 2 tiles, then 4 steps of `stencil` and `increment` on each.
        assert_eq!(r.profile.tasks, 2 + 4 * 2 * 2);
        let used: Vec<(&str, usize)> = r
            .profile
            .procs_used_per_kind
            .iter()
            .map(|(k, v)| (k.as_str(), *v))
            .collect();
        assert_eq!(used, vec![("GPU", 2)]);
        let dims: Vec<(&str, usize)> = r
            .profile
            .launch_dims
            .iter()
            .map(|(k, v)| (k.as_str(), *v))
            .collect();
        assert_eq!(dims, vec![("increment", 2), ("init", 2), ("stencil", 2)]);
        assert_eq!(
            r.profile.launch_extents.get("stencil"),
            Some(&(vec![2, 1], 8))
        );
        // Simulated runs are deterministic and say that nothing was verified.
        let a = s.run(&m, "sim:p100x4", "small").unwrap();
        assert_eq!(a, s.run(&m, "sim:p100x4", "small").unwrap());
        assert!(a.time_s > 0.0 && a.verified, "{a:?}");
        assert_eq!(
            a.check,
            "simulated run (no data to verify); 2x2 tiles on 4 GPU"
        );
        assert_eq!(
            s.run(&m, "local", "huge").unwrap_err(),
            RunFailure::Config(
                "unknown size `huge` for stencil; (presets: tiny, small, large, gpu, multigpu)"
                    .into()
            )
        );
    }

    /// The search offers only the layouts the app's variants take.
    #[test]
    fn layouts_follow_the_apps_rules() {
        let s = crate::registry::find("stencil").unwrap();
        let both = vec!["SOA C_order".to_string(), "SOA F_order".to_string()];
        // `stencil(ghost, out)`: the GPU kernel needs unit stride along x.
        assert_eq!(s.layouts("stencil", 0, ProcKind::Gpu), vec!["SOA C_order"]);
        assert_eq!(s.layouts("stencil", 1, ProcKind::Gpu), vec!["SOA C_order"]);
        assert_eq!(s.layouts("stencil", 0, ProcKind::Cpu), both);
        assert_eq!(s.layouts("increment", 0, ProcKind::Gpu), both);
        // The tile GEMMs take SOA in either order.
        let c = crate::registry::find("cannon").unwrap();
        assert_eq!(c.layouts("gemm", 0, ProcKind::Gpu), both);
    }

    /// A placement function that names a processor the machine lacks is a mapping failure
    /// naming the function.
    #[test]
    fn stencil_mapping_error_is_classified() {
        let s = crate::registry::find("stencil").unwrap();
        let m = MapperSpec::Text(
            "Task * CPU;\nm = Machine(CPU);\ndef f(Task t) { return m[0, 99]; }\nIndexTaskMap * f;"
                .into(),
        );
        match s.run(&m, "emulated:1x2,cpus=2", "tiny") {
            Err(RunFailure::Map(msg)) => assert_eq!(
                msg,
                "mapping task `init` at point [0, 0] in function `f` (line 3:24): index 99 out \
                 of bound for dimension 1 of size 2"
            ),
            other => panic!("{other:?}"),
        }
    }
}
