//! The matrix-multiplication suite: every algorithm verified on tiny sizes on `local` and
//! `emulated:2x4` with the expert, the default and random valid mappers; mapping errors for
//! layouts the tile GEMM cannot take; expert mappers check clean against their apps.

use apps::{App, AppError, MapperChoice, Precision, RunConfig, Size};
use mapper_core::{check, parse};

const MACHINES: &[&str] = &["local", "emulated:2x4"];

fn cfg(machine: &str, mapper: MapperChoice) -> RunConfig {
    RunConfig {
        machine: machine.into(),
        size: Size::Tiny,
        mapper,
        ..RunConfig::default()
    }
}

fn run_ok(app: &dyn App, c: &RunConfig) {
    match app.run(c) {
        Ok(r) => {
            assert!(
                r.verified,
                "{} with {} on {}: max rel error {} (n = {})",
                app.name(),
                c.mapper.label(),
                c.machine,
                r.max_rel_error,
                r.n
            );
            assert!(r.max_rel_error < 1e-12 || c.precision == Precision::F32);
            assert_eq!(r.flops, 2.0 * (r.n as f64).powi(3));
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
        ["cannon", "summa", "pumma", "johnson", "solomonik", "cosma"]
    );
    assert_eq!(
        apps::find("canon").err().as_deref(),
        Some("unknown app `canon`; did you mean `cannon`? (known apps: cannon, summa, pumma, johnson, solomonik, cosma)")
    );
}

#[test]
fn expert_mappers_check_clean_against_their_apps() {
    for app in apps::apps() {
        let out = parse::parse_text(app.expert_source());
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

#[test]
fn corpus_files_are_the_expert_mappers() {
    // Each app's expert is written with `mapper!` in its source; corpus/<app>.mapper holds the
    // same program as a text file.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../mapper-core/corpus");
    for app in apps::apps() {
        let text = std::fs::read_to_string(dir.join(format!("{}.mapper", app.name())))
            .expect("corpus file");
        // The corpus keeps the comments; the `mapper!` source is the canonical text.
        let canonical = mapper_core::print::print(&parse::parse_text(&text).program);
        assert_eq!(
            canonical,
            app.expert_source(),
            "corpus/{}.mapper",
            app.name()
        );
    }
}

#[test]
fn every_algorithm_verifies_with_expert_and_default_mappers() {
    for app in apps::apps() {
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
    for app in apps::apps() {
        if !matches!(app.name(), "solomonik" | "pumma") {
            continue;
        }
        for m in ["emulated:1x16", "emulated:2x16"] {
            for mapper in [MapperChoice::Expert, MapperChoice::Default] {
                let c = cfg(m, mapper);
                run_ok(app, &c);
                let r = app.run(&c).expect("ran above");
                let want = match (app.name(), m) {
                    ("solomonik", "emulated:1x16") => "grid 4x4x2 (2 layers)",
                    ("solomonik", _) => "grid 6x6x3 (3 layers)",
                    (_, "emulated:1x16") => "tile grid 8x8 (block-cyclic)",
                    _ => "tile grid 16x16 (block-cyclic)",
                };
                assert_eq!(r.grid, want);
            }
        }
    }
}

#[test]
fn every_algorithm_verifies_in_single_precision() {
    for app in apps::apps() {
        let mut c = cfg("emulated:2x4", MapperChoice::Expert);
        c.precision = Precision::F32;
        run_ok(app, &c);
    }
}

#[test]
fn uneven_orders_are_rounded_up_to_the_grid() {
    for app in apps::apps() {
        let mut c = cfg("local", MapperChoice::Expert);
        c.n = Some(37);
        let r = app.run(&c).expect("runs");
        assert!(r.verified, "{}", app.name());
        assert!(r.n >= 37 && r.n < 37 + 16, "{}: n = {}", app.name(), r.n);
    }
}

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, v: &[&'a str]) -> &'a str {
        v[self.below(v.len())]
    }
}

/// A random mapper valid for `app` on a machine with `gpus` GPUs per node: random processor
/// kind per task, memories, SOA layouts (C or F order, alignments), instance limits, early
/// collection and placement functions.
fn random_mapper(app: &dyn App, gpus: bool, rng: &mut Rng) -> String {
    let info = app.info();
    let mut kinds = vec!["CPU", "OMP"];
    if gpus {
        kinds.push("GPU");
    }
    let mut s = String::new();
    s.push_str("mcpu = Machine(CPU);\nmomp = Machine(OMP);\n");
    if gpus {
        s.push_str("mgpu = Machine(GPU);\n");
        s.push_str(rng.pick(&[
            "Region * * GPU FBMEM;\n",
            "Region * * GPU ZCMEM;\n",
            "Region * * GPU FBMEM,ZCMEM;\n",
            "Region * * GPU ZCMEM,FBMEM;\n",
        ]));
        s.push_str(rng.pick(&["Region * * CPU SYSMEM;\n", "Region * * CPU ZCMEM,SYSMEM;\n"]));
    } else {
        s.push_str("Region * * CPU SYSMEM;\n");
    }
    s.push_str("Region * * OMP SYSMEM;\n");
    for (ti, t) in info.tasks.iter().enumerate() {
        let kind = rng.pick(&kinds);
        s.push_str(&format!("Task {} {kind};\n", t.name));
        for (i, a) in t.args.iter().enumerate() {
            let order = rng.pick(&["C_order", "F_order"]);
            let align = rng.pick(&["", " Align==16", " Align==64", " Align==128", " No_Align"]);
            let target = if rng.below(2) == 0 {
                a.name.clone()
            } else {
                i.to_string()
            };
            s.push_str(&format!(
                "Layout {} {target} * SOA {order}{align};\n",
                t.name
            ));
            if a.read_only && rng.below(2) == 0 {
                s.push_str(&format!("CollectMemory {} {};\n", t.name, a.name));
            }
        }
        if rng.below(2) == 0 {
            s.push_str(&format!("InstanceLimit {} {};\n", t.name, 1 + rng.below(4)));
        }
        let m = match kind {
            "GPU" => "mgpu",
            "OMP" => "momp",
            _ => "mcpu",
        };
        let (c0, c1, c2, c3) = (
            1 + rng.below(3),
            rng.below(3),
            rng.below(3),
            1 + rng.below(3),
        );
        let body = match rng.below(4) {
            0 => format!(
                "    return {m}[(ip[0] * {c0} + ip[1] * {c1}) % {m}.size[0], (ip[0] * {c2} + ip[1] * {c3} + {c1}) % {m}.size[1]];\n"
            ),
            1 => format!(
                "    f = {m}.merge(0, 1);\n    return f[(ip[0] * {c0} + ip[1] * {c3} + {c2}) % f.size[0]];\n"
            ),
            2 => format!(
                "    g = {m}.merge(0, 1).balance_split(0, 2);\n    return g[ip[0] % g.size[0], (ip[1] + {c1}) % g.size[1]];\n"
            ),
            _ => String::new(),
        };
        if !body.is_empty() {
            s.push_str(&format!(
                "def place{ti}(Task task) {{\n    ip = task.ipoint;\n{body}}}\nIndexTaskMap {} place{ti};\n",
                t.name
            ));
        }
    }
    s
}

#[test]
fn every_algorithm_verifies_with_random_valid_mappers() {
    let mut rng = Rng(0x5EED_1234_ABCD_0001);
    for app in apps::apps() {
        for m in MACHINES {
            for k in 0..4 {
                let text = random_mapper(app, m.starts_with("emulated"), &mut rng);
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
    let text = format!("{}\nLayout gemm b * AOS C_order;\n", app.expert_source());
    assert!(text.contains("Layout * * * SOA C_order;"), "{text}");
    let c = cfg(
        "local",
        MapperChoice::Text {
            name: "aos.mapper".into(),
            source: text,
        },
    );
    match app.run(&c) {
        Err(AppError::Mapping(m)) => assert_eq!(
            m,
            "the mapper lays out argument `b` of task `gemm` on CPU in SYSMEM as AOS, which the tile GEMM cannot take (it needs SOA tiles, C_order or F_order); help: use `Layout gemm b CPU SOA C_order;` (or F_order)"
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
            app.expert_source()
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
    match app.run(&c) {
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
    match app.run(&c) {
        Err(e @ (AppError::Mapping(_) | AppError::Mapper(_))) => {
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
    let r = app.run(&c).expect("runs");
    let p = r.profile.expect("profile");
    // The 2x2x2 cube of products, plus the three initializations of 2x2 tiles.
    assert_eq!(p.tasks.iter().filter(|t| &*t.name == "gemm_3d").count(), 8);
    assert_eq!(
        p.tasks.iter().filter(|t| &*t.name == "init_tiles").count(),
        12
    );
}
