//! The benchmark applications of the `apps` crate (the matrix-multiplication suite) as
//! [`TuneApp`]s: their registry entries, expert mappers and runs, with the launch
//! dimensionality of each task read from one tiny profiled run with the default mapper.

use crate::target::{MapperSource, MapperSpec, ProfileFacts, RunFailure, RunReport, TuneApp};
use mapper_core::AppInfo;
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// One application of the `apps` registry.
pub struct Bench {
    app: &'static dyn apps::App,
    dims: OnceLock<BTreeMap<String, usize>>,
}

impl Bench {
    /// Wraps a registry entry.
    pub fn new(app: &'static dyn apps::App) -> Bench {
        Bench {
            app,
            dims: OnceLock::new(),
        }
    }

    /// Task name -> dimensions of its launch points, from a tiny profiled run on `local` with
    /// the default mapper (empty if that run fails).
    fn dims(&self) -> &BTreeMap<String, usize> {
        self.dims.get_or_init(|| {
            let cfg = apps::RunConfig {
                machine: "local".into(),
                size: apps::Size::Tiny,
                mapper: apps::MapperChoice::Default,
                profile: true,
                ..apps::RunConfig::default()
            };
            let mut m = BTreeMap::new();
            if let Ok(r) = self.app.run(&cfg) {
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

fn failure(e: apps::AppError) -> RunFailure {
    match e {
        apps::AppError::Mapper(m) => RunFailure::Bind(m),
        apps::AppError::Mapping(m) => RunFailure::Map(m),
        apps::AppError::Config(m) => RunFailure::Config(m),
        apps::AppError::Runtime(m) => {
            if m.contains("out of memory") {
                RunFailure::MemoryFull(m)
            } else {
                RunFailure::Exec(m)
            }
        }
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

    fn expert_mapper(&self) -> String {
        self.app.expert_source().to_string()
    }

    /// `apps/src/matmul/NAME.rs` of this workspace, when it holds exactly one `mapper!`.
    fn mapper_source(&self) -> Option<MapperSource> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()?
            .join("apps")
            .join("src")
            .join("matmul")
            .join(format!("{}.rs", self.app.name()));
        let src = std::fs::read_to_string(&path).ok()?;
        let sites = crate::rewrite::find_mappers(&src, &path.display().to_string()).ok()?;
        match sites.as_slice() {
            [one] => Some(MapperSource {
                path,
                type_name: one.name.clone(),
                package: "apps".into(),
            }),
            _ => None,
        }
    }

    fn sizes(&self) -> Vec<String> {
        vec!["tiny".into(), "small".into(), "large".into()]
    }

    fn check_size(&self, size: &str) -> Result<(), String> {
        parse_size(size).map(|_| ())
    }

    fn run(&self, mapper: &MapperSpec, machine: &str, size: &str) -> Result<RunReport, RunFailure> {
        let (size, n) = parse_size(size).map_err(RunFailure::Config)?;
        let cfg = apps::RunConfig {
            machine: machine.to_string(),
            size,
            n,
            mapper: match mapper {
                MapperSpec::Default => apps::MapperChoice::Default,
                MapperSpec::Text(t) => apps::MapperChoice::Text {
                    name: crate::validate::CANDIDATE_FILE.into(),
                    source: t.clone(),
                },
            },
            profile: true,
            ..apps::RunConfig::default()
        };
        let r = self.app.run(&cfg).map_err(failure)?;
        Ok(RunReport {
            time_s: r.time_s,
            throughput: Some(r.gflops),
            unit: "GFLOP/s".into(),
            // A simulated run computes no data: nothing to verify, nothing wrong.
            verified: r.verified || r.simulated,
            check: if r.simulated {
                format!(
                    "simulated run (no data to verify); N={} {} on {}",
                    r.n, r.grid, r.procs
                )
            } else {
                format!(
                    "max relative error {:.3e} (tolerance {:.0e}); N={} {} on {}",
                    r.max_rel_error, r.tolerance, r.n, r.grid, r.procs
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

/// A matmul size: a preset (`tiny`, `small`, `large`) or a matrix order N (e.g. `16384`, rounded
/// up to the algorithm's grid as with `mapper run --n`).
fn parse_size(s: &str) -> Result<(apps::Size, Option<i64>), String> {
    if let Ok(size) = apps::Size::parse(s) {
        return Ok((size, None));
    }
    match s.parse::<i64>() {
        Ok(n) if n >= 1 => Ok((apps::Size::Large, Some(n))),
        _ => Err(format!(
            "unknown size `{s}`; expected tiny, small, large or a matrix order N such as 16384"
        )),
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
            "unknown size `huge`; expected tiny, small, large or a matrix order N such as 16384"
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
}
