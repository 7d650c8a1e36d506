//! The matrix-multiplication suite: every algorithm verified on tiny sizes on `local` and
//! `emulated:2x4` with the expert, the default and random valid mappers; mapping errors for
//! layouts the tile GEMM cannot take; expert mappers check clean against their apps.

use apps::{AppError, Application, MapperChoice, Precision, Problem, RunConfig};
use mapper_core::{check, parse};

mod common;
use common::{random_mapper, Rng};

const MACHINES: &[&str] = &["local", "emulated:2x4"];

/// The six matrix-multiplication apps.
fn matmul_apps() -> Vec<&'static dyn Application> {
    apps::matmul::apps()
}

fn cfg(machine: &str, mapper: MapperChoice) -> RunConfig {
    let app = apps::find("cannon").expect("cannon");
    RunConfig {
        machine: machine.into(),
        problem: Problem::preset(app, "tiny").expect("tiny"),
        mapper,
        profile: false,
    }
}

fn extra(r: &apps::RunReport, k: &str) -> f64 {
    r.outcome.extra.get(k).copied().unwrap_or(f64::NAN)
}

fn run_ok(app: &dyn Application, c: &RunConfig) {
    match apps::run(app, c) {
        Ok(r) => {
            assert!(
                r.verified(),
                "{} with {} on {}: {}",
                app.name(),
                c.mapper.label(),
                c.machine,
                r.outcome.verification.note(),
            );
            assert!(extra(&r, "max_rel_error") < 1e-12 || c.problem.precision == Precision::F32);
            assert_eq!(r.outcome.work, 2.0 * extra(&r, "n").powi(3));
            assert_eq!(r.outcome.unit, "FLOP");
        }
        Err(e) => panic!(
            "{} with {} on {} failed: {e}\n--- mapper ---\n{}",
            app.name(),
            c.mapper.label(),
            c.machine,
            match &c.mapper {
                MapperChoice::Text { source, .. } => source.as_str(),
                _ => "",
            }
        ),
    }
}

#[test]
fn registry_lists_the_six_algorithms() {
    let names: Vec<&str> = apps::apps().iter().map(|a| a.name()).collect();
    assert_eq!(
        names,
        [
            "stencil",
            "circuit",
            "pennant",
            "cannon",
            "summa",
            "pumma",
            "johnson",
            "solomonik",
            "cosma"
        ]
    );
    assert_eq!(
        apps::find("canon").err().as_deref(),
        Some("unknown app `canon`; did you mean `cannon`? (known apps: stencil, circuit, pennant, cannon, summa, pumma, johnson, solomonik, cosma)")
    );
}

#[test]
fn expert_mappers_check_clean_against_their_apps() {
    for app in matmul_apps() {
        let out = parse::parse_text(app.expert().source);
        assert!(
            out.diagnostics.is_empty(),
            "{}: {:?}",
            app.name(),
            out.diagnostics
        );
        let d = check::check(&out.program, Some(&app.info()));
        assert!(d.is_empty(), "{}: {d:?}", app.name());
    }
}

#[path = "../../mapper-core/corpus/experts.rs"]
mod experts;

#[test]
fn the_corpus_reads_each_expert_from_its_app() {
    // Each app's expert is written once, with `mapper!` in its source; the corpus index points
    // at that file and reads the same program from it (comments kept).
    let root = experts::workspace_root(env!("CARGO_MANIFEST_DIR"));
    let mut names: Vec<&str> = experts::EXPERTS.iter().map(|(n, _, _)| *n).collect();
    names.sort_unstable();
    let mut apps_names: Vec<&str> = apps::apps().iter().map(|a| a.name()).collect();
    apps_names.sort_unstable();
    assert_eq!(names, apps_names);
    for app in apps::apps() {
        let e = app.expert();
        let (_, file, ty) = experts::EXPERTS
            .iter()
            .find(|(n, _, _)| *n == app.name())
            .expect("listed");
        assert_eq!((*file, *ty), (e.file, e.type_name), "{}", app.name());
        let text = experts::expert_text(&root, app.name()).expect("readable");
        let canonical = mapper_core::print::print(&parse::parse_text(&text).program);
        assert_eq!(canonical, e.source, "{}", app.name());
    }
}

#[test]
fn every_algorithm_verifies_with_expert_and_default_mappers() {
    for app in matmul_apps() {
        for m in MACHINES {
            run_ok(app, &cfg(m, MapperChoice::Expert));
            run_ok(app, &cfg(m, MapperChoice::Default));
        }
    }
}

#[test]
fn solomonik_and_pumma_verify_with_several_steps_per_layer_and_many_rows() {
    // 16 GPUs: Solomonik on 4x4x2 (two Cannon steps per layer, so layer 0's first shift reads
    // the input tiles), PUMMA on an 8x8 tile grid (eight double-buffered row broadcasts);
    // 32 GPUs: Solomonik on 6x6x3 (three layers, two replicated).
    for app in matmul_apps() {
        if !matches!(app.name(), "solomonik" | "pumma") {
            continue;
        }
        for m in ["emulated:1x16", "emulated:2x16"] {
            for mapper in [MapperChoice::Expert, MapperChoice::Default] {
                let c = cfg(m, mapper);
                run_ok(app, &c);
                let r = apps::run(app, &c).expect("ran above");
                let want = match (app.name(), m) {
                    ("solomonik", "emulated:1x16") => "grid 4x4x2 (2 layers)",
                    ("solomonik", _) => "grid 6x6x3 (3 layers)",
                    (_, "emulated:1x16") => "tile grid 8x8 (block-cyclic)",
                    _ => "tile grid 16x16 (block-cyclic)",
                };
                assert!(
                    r.outcome.decomposition.contains(want),
                    "{}",
                    r.outcome.decomposition
                );
            }
        }
    }
}

#[test]
fn every_algorithm_verifies_in_single_precision() {
    for app in matmul_apps() {
        let mut c = cfg("emulated:2x4", MapperChoice::Expert);
        c.problem.precision = Precision::F32;
        run_ok(app, &c);
    }
}

#[test]
fn uneven_orders_are_rounded_up_to_the_grid() {
    for app in matmul_apps() {
        let mut c = cfg("local", MapperChoice::Expert);
        c.problem.set(app, "n", 37).expect("n");
        let r = apps::run(app, &c).expect("runs");
        assert!(r.verified(), "{}", app.name());
        let n = extra(&r, "n");
        assert!((37.0..53.0).contains(&n), "{}: n = {n}", app.name());
    }
}

#[test]
fn every_algorithm_verifies_with_random_valid_mappers() {
    let mut rng = Rng(0x5EED_1234_ABCD_0001);
    for app in matmul_apps() {
        for m in MACHINES {
            for k in 0..4 {
                let text = random_mapper(app, m.starts_with("emulated"), false, &mut rng);
                let c = cfg(
                    m,
                    MapperChoice::Text {
                        name: format!("random-{}-{k}", app.name()),
                        source: text,
                    },
                );
                run_ok(app, &c);
            }
        }
    }
}

#[test]
fn an_aos_layout_for_the_gemm_is_a_clear_mapping_error() {
    let app = apps::find("cannon").expect("cannon");
    let text = format!("{}\nLayout gemm b * AOS C_order;\n", app.expert().source);
    assert!(text.contains("Layout * * * SOA C_order;"), "{text}");
    let c = cfg(
        "local",
        MapperChoice::Text {
            name: "aos.mapper".into(),
            source: text,
        },
    );
    match apps::run(app, &c) {
        Err(AppError::Layout(m)) => assert_eq!(
            m,
            "the mapper lays out argument `b` of task `gemm` on CPU in SYSMEM as AOS C_order, which the tile GEMM cannot take (it needs SOA instances (C_order or F_order)); help: use `Layout gemm b CPU SOA C_order;`"
        ),
        other => panic!("expected a mapping error, got {other:?}"),
    }
}

#[test]
fn aos_is_fine_for_the_copy_tasks() {
    // Shifts and initialization go through the layout-aware accessors when a tile is AOS.
    for name in ["cannon", "solomonik"] {
        let app = apps::find(name).expect("app");
        let text = format!(
            "{}\nLayout init_tiles * * AOS;\nLayout shift_a dst * AOS F_order;\n",
            app.expert().source
        );
        let c = cfg(
            "emulated:2x4",
            MapperChoice::Text {
                name: "aos-copies.mapper".into(),
                source: text,
            },
        );
        run_ok(app, &c);
    }
}

#[test]
fn an_unknown_task_in_a_mapper_fails_to_bind_with_its_position() {
    let app = apps::find("summa").expect("summa");
    let c = cfg(
        "local",
        MapperChoice::Text {
            name: "typo.mapper".into(),
            source: "Task gem_panel CPU;\n".into(),
        },
    );
    match apps::run(app, &c) {
        Err(AppError::Mapper(m)) => {
            assert!(m.contains("typo.mapper:1:6"), "{m}");
            assert!(m.contains("gem_panel"), "{m}");
        }
        other => panic!("expected a mapper error, got {other:?}"),
    }
}

#[test]
fn a_placement_on_the_wrong_processor_kind_is_a_mapping_error() {
    let app = apps::find("johnson").expect("johnson");
    let text = "Task * CPU;\nm = Machine(GPU);\ndef f(Task task) {\n    return m[0, 0];\n}\nIndexTaskMap gemm_3d f;\n";
    let c = cfg(
        "emulated:2x4",
        MapperChoice::Text {
            name: "wrong.mapper".into(),
            source: text.into(),
        },
    );
    match apps::run(app, &c) {
        Err(e @ (AppError::Runtime(_) | AppError::Mapper(_))) => {
            assert!(e.to_string().contains("gemm_3d"), "{e}")
        }
        other => panic!("expected a mapping error, got {other:?}"),
    }
}

#[test]
fn a_profile_records_the_gemm_tasks() {
    let app = apps::find("johnson").expect("johnson");
    let mut c = cfg("local", MapperChoice::Expert);
    c.profile = true;
    let r = apps::run(app, &c).expect("runs");
    let p = r.profile.expect("profile");
    // The 2x2x2 cube of products, plus the three initializations of 2x2 tiles.
    assert_eq!(p.tasks.iter().filter(|t| &*t.name == "gemm_3d").count(), 8);
    assert_eq!(
        p.tasks.iter().filter(|t| &*t.name == "init_tiles").count(),
        12
    );
}
