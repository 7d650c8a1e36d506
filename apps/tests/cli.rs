//! The `mapper` binary: exit statuses, rendered diagnostics and `fmt` behaviour.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The mapper-core crate, which holds the corpus and the invalid-file cases.
fn manifest() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../mapper-core")
}

fn mapper(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mapper"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("mapper runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A scratch directory unique to one test.
fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("mapper-cli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

#[path = "../../mapper-core/corpus/experts.rs"]
mod experts;

/// The corpus as `.mapper` files in a scratch directory: mapper-core's corpus files and the
/// apps' experts, read from their `mapper!` invocations.
fn corpus() -> PathBuf {
    let d = scratch("corpus");
    for f in files("corpus", ".mapper") {
        std::fs::copy(manifest().join("corpus").join(&f), d.join(&f)).expect("copy");
    }
    let root = experts::workspace_root(env!("CARGO_MANIFEST_DIR"));
    for (name, _, _) in experts::EXPERTS {
        let text = experts::expert_text(&root, name).expect("expert mapper readable");
        std::fs::write(d.join(format!("{name}.mapper")), text).expect("write");
    }
    d
}

/// The `.mapper` files of a directory, sorted.
fn mapper_files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .expect("dir exists")
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.ends_with(".mapper"))
        .collect();
    v.sort();
    v
}

fn files(dir: &str, ext: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(manifest().join(dir))
        .expect("dir exists")
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.ends_with(ext))
        .collect();
    v.sort();
    v
}

#[test]
fn corpus_checks_clean() {
    let dir = corpus();
    let corpus = mapper_files(&dir);
    assert!(corpus.len() >= 11);
    let mut args = vec!["check"];
    args.extend(corpus.iter().map(String::as_str));
    let o = mapper(&args, &dir);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stderr(&o), "");
}

#[test]
fn invalid_files_fail_with_rendered_diagnostics() {
    let dir = manifest().join("tests/invalid");
    let cases = files("tests/invalid", ".mapper");
    assert!(cases.len() >= 40);
    // `_app_` cases need an application (`--app`, not there yet); tests/check.rs covers them.
    for case in cases.iter().filter(|c| !c.contains("_app_")) {
        let o = mapper(&["check", case], &dir);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{case}: {err}");
        assert!(
            err.contains(&format!("--> {case}:")),
            "{case}: no file:line:col in\n{err}"
        );
        assert!(err.contains('^'), "{case}: no caret in\n{err}");
        assert!(
            err.contains("error: could not check"),
            "{case}: no summary in\n{err}"
        );
        // Exactly what the library renders (tests/check.rs pins it).
        let expected =
            std::fs::read_to_string(dir.join(case.replace(".mapper", ".stderr"))).expect("stderr");
        assert_eq!(err, expected, "{case}");
    }
}

#[test]
fn help_lines_are_printed() {
    let dir = manifest().join("tests/invalid");
    let o = mapper(&["check", "11_undefined_mgpu.mapper"], &dir);
    let err = stderr(&o);
    assert!(err.contains("error: mgpu is not defined"), "{err}");
    assert!(err.contains("--> 11_undefined_mgpu.mapper:2:12"), "{err}");
    assert!(
        err.contains("= help: add `mgpu = Machine(GPU);` before its first use"),
        "{err}"
    );
}

#[test]
fn several_files_report_each_and_fail_if_any_fails() {
    let root = manifest();
    let circuit = corpus().join("circuit.mapper");
    let o = mapper(
        &[
            "check",
            circuit.to_str().expect("UTF-8 path"),
            "tests/invalid/26_instance_limit_zero.mapper",
        ],
        &root,
    );
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("--> tests/invalid/26_instance_limit_zero.mapper:1:24"),
        "{err}"
    );
    assert!(!err.contains("circuit.mapper"), "{err}");
}

#[test]
fn warnings_alone_exit_zero() {
    let d = scratch("warn");
    std::fs::write(
        d.join("w.mapper"),
        "Task * GPU,CPU,GPU;\nControlReplicate *;\n",
    )
    .expect("write");
    let o = mapper(&["check", "w.mapper"], &d);
    assert_eq!(o.status.code(), Some(0));
    let err = stderr(&o);
    assert!(
        err.contains("warning: `GPU` is listed more than once"),
        "{err}"
    );
    assert!(
        err.contains("warning: ControlReplicate has no effect on a single-node run"),
        "{err}"
    );
    assert!(!err.contains("error"), "{err}");
}

#[test]
fn empty_garbage_and_missing_files() {
    let d = scratch("odd");
    std::fs::write(d.join("empty.mapper"), "").expect("write");
    let o = mapper(&["check", "empty.mapper"], &d);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));

    std::fs::write(
        d.join("garbage.mapper"),
        "\u{1}\u{2} ]]]} )( @@ \"\n\\ `~ 0x 9z ;;; {{{",
    )
    .expect("write");
    let o = mapper(&["check", "garbage.mapper"], &d);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("--> garbage.mapper:"));

    std::fs::write(d.join("binary.mapper"), [0xff, 0xfe, 0x00, 0x41]).expect("write");
    let o = mapper(&["check", "binary.mapper"], &d);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).starts_with("error: cannot read `binary.mapper`: "),
        "{}",
        stderr(&o)
    );

    let o = mapper(&["check", "no_such_file.mapper"], &d);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).starts_with("error: cannot read `no_such_file.mapper`: "),
        "{}",
        stderr(&o)
    );
}

#[test]
fn deep_nesting_neither_panics_nor_hangs() {
    let d = scratch("deep");
    for (name, open, close) in [
        ("parens", "(", ")"),
        ("brackets", "x[", "]"),
        ("neg", "-", ""),
    ] {
        let n = 20_000;
        let src = format!("x = 1;\ny = {}1{};\n", open.repeat(n), close.repeat(n));
        let file = format!("{name}.mapper");
        std::fs::write(d.join(&file), src).expect("write");
        let o = mapper(&["check", &file], &d);
        let code = o.status.code();
        assert!(
            code == Some(0) || code == Some(1),
            "{name}: status {:?}: {}",
            o.status,
            stderr(&o)
        );
    }
    let src = format!("x = {}1;\n", "(1 + ".repeat(5000)) + &")".repeat(5000);
    std::fs::write(d.join("unbalanced.mapper"), src).expect("write");
    let o = mapper(&["check", "unbalanced.mapper"], &d);
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn fmt_is_canonical_and_stable() {
    let d = scratch("fmt");
    let dir = corpus();
    for case in mapper_files(&dir) {
        let o = mapper(&["fmt", &case], &dir);
        assert_eq!(o.status.code(), Some(0), "{case}: {}", stderr(&o));
        let once = stdout(&o);
        assert!(!once.is_empty());
        let f = d.join(&case);
        std::fs::write(&f, &once).expect("write");
        let o = mapper(&["fmt", &case], &d);
        assert_eq!(o.status.code(), Some(0));
        assert_eq!(stdout(&o), once, "{case}: fmt of fmt differs");
        let o = mapper(&["check", &case], &d);
        assert_eq!(
            (o.status.code(), stderr(&o)),
            (Some(0), String::new()),
            "{case}"
        );
        let o = mapper(&["fmt", "--check", &case], &d);
        assert_eq!(o.status.code(), Some(0), "{case}: {}", stderr(&o));
        assert_eq!(stdout(&o), "");
    }
    // The corpus files carry comments, so they are not canonical.
    let o = mapper(&["fmt", "--check", "circuit.mapper"], &dir);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("error: `circuit.mapper` is not in canonical form"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn fmt_refuses_files_with_errors() {
    let o = mapper(
        &["fmt", "24_conflicting_soa_aos.mapper"],
        &manifest().join("tests/invalid"),
    );
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stdout(&o), "");
    assert!(stderr(&o).contains("error: conflicting layout constraints `SOA` and `AOS`"));
}

#[test]
fn usage_errors() {
    let o = mapper(&["check"], &manifest());
    assert_eq!(o.status.code(), Some(2));
    let o = mapper(&["frobnicate"], &manifest());
    assert_eq!(o.status.code(), Some(2));
}

/// Runs the binary from the apps crate directory.
fn mapper_here(args: &[&str]) -> Output {
    mapper(args, Path::new(env!("CARGO_MANIFEST_DIR")))
}

#[test]
fn run_prints_a_verified_report() {
    let o = mapper_here(&["run", "--app", "cannon", "--size", "tiny"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.starts_with("cannon (expert mapper) on local: n=24 f64, N=24 grid 2x2 on "),
        "{out}"
    );
    assert!(out.contains("FLOP/s, verified (max rel error"), "{out}");
}

#[test]
fn run_json_is_one_line_with_the_fields() {
    let o = mapper_here(&[
        "run",
        "--app",
        "johnson",
        "--size",
        "tiny",
        "--machine",
        "emulated:2x4",
        "--mapper",
        "default",
        "--fp32",
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert_eq!(out.lines().count(), 1, "{out}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).expect("json");
    assert_eq!(v["app"], "johnson");
    assert_eq!(v["mapper"], "default");
    assert_eq!(v["machine"], "emulated:2x4");
    assert_eq!(v["size"], "tiny");
    assert_eq!(v["precision"], "f32");
    assert_eq!(v["verified"], true);
    assert_eq!(v["unit"], "FLOP");
    assert_eq!(v["params"]["n"], 24);
    for k in ["time_s", "rate", "work", "max_rel_error"] {
        assert!(v[k].is_f64(), "{k}: {}", v[k]);
    }
}

#[test]
fn run_writes_a_profile() {
    let dir = scratch("profile");
    let path = dir.join("trace.json");
    let p = path.to_string_lossy().into_owned();
    let o = mapper_here(&["run", "--app", "cosma", "--size", "tiny", "--profile", &p]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("trace")).expect("json");
    let text = v.to_string();
    assert!(text.contains("cosma_gemm"), "{text}");
}

#[test]
fn run_with_a_mapper_file_and_errors() {
    let dir = scratch("run-errors");
    std::fs::write(dir.join("typo.mapper"), "Task * CPU;\nTask gem CPU;\n").expect("write");
    let o = mapper(
        &[
            "run",
            "--app",
            "cannon",
            "--size",
            "tiny",
            "--mapper",
            "typo.mapper",
        ],
        &dir,
    );
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.contains("typo.mapper:2:6"), "{err}");
    assert!(err.contains("gem"), "{err}");
    let o = mapper(&["run", "--app", "canon", "--size", "tiny"], &dir);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("did you mean `cannon`?"),
        "{}",
        stderr(&o)
    );
    let o = mapper(&["run", "--app", "cannon", "--size", "huge"], &dir);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stderr(&o),
        "error: unknown size `huge` for cannon; (presets: tiny, small, large, gpu, multigpu)\n"
    );
    let o = mapper(
        &["run", "--app", "cannon", "--mapper", "missing.mapper"],
        &dir,
    );
    assert_eq!(o.status.code(), Some(2));
    let o = mapper(
        &[
            "run",
            "--app",
            "cannon",
            "--size",
            "tiny",
            "--machine",
            "cluster:9",
        ],
        &dir,
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("unknown machine `cluster:9`"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn check_with_app_reports_a_misspelled_task_with_its_position() {
    let dir = scratch("check-app");
    let src = std::fs::read_to_string(corpus().join("cannon.mapper")).expect("corpus");
    // A misspelled task name appended to the expert.
    let bad = format!("{src}CollectMemory gem a;\n");
    std::fs::write(dir.join("bad.mapper"), &bad).expect("write");
    let line = bad
        .lines()
        .position(|l| l.starts_with("CollectMemory gem a;"))
        .expect("line")
        + 1;
    // Without the app the file is fine; with it the task name is unknown.
    let o = mapper(&["check", "bad.mapper"], &dir);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = mapper(&["check", "bad.mapper", "--app", "cannon"], &dir);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.contains(&format!("bad.mapper:{line}:15")), "{err}");
    assert!(err.contains("`gem`"), "{err}");
    assert!(err.contains("gemm"), "{err}");
    // The experts check clean against their apps.
    let dir = corpus();
    for app in [
        "stencil",
        "circuit",
        "pennant",
        "cannon",
        "summa",
        "pumma",
        "johnson",
        "solomonik",
        "cosma",
    ] {
        let f = format!("{app}.mapper");
        let o = mapper(&["check", &f, "--app", app], &dir);
        assert_eq!(o.status.code(), Some(0), "{app}: {}", stderr(&o));
        assert_eq!(stderr(&o), "", "{app}");
    }
    let o = mapper(&["check", "bad.mapper", "--app", "nope"], &dir);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).starts_with("error: unknown app `nope`"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn apps_lists_tasks_and_region_arguments() {
    let o = mapper_here(&["apps"]);
    assert_eq!(o.status.code(), Some(0));
    let out = stdout(&o);
    for app in [
        "stencil",
        "circuit",
        "pennant",
        "cannon",
        "summa",
        "pumma",
        "johnson",
        "solomonik",
        "cosma",
    ] {
        assert!(
            out.contains(&format!("\n{app}: ")) || out.starts_with(&format!("{app}: ")),
            "{out}"
        );
    }
    assert!(
        out.contains("  gemm_3d(a_face: [a_tiles, a], b_face: [b_tiles, b], c: [c_tiles, c])\n"),
        "{out}"
    );
    assert!(
        out.contains(
            "  shift_a(src: [a_tiles, a_next, a, a_buf], dst: [a_tiles, a_next, a, a_buf])\n"
        ),
        "{out}"
    );
}

#[test]
fn bench_reports_the_baseline_and_the_ratio() {
    let o = mapper_here(&[
        "bench",
        "--apps",
        "cannon,stencil",
        "--size",
        "tiny",
        "--reps",
        "1",
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert_eq!(lines[0]["app"], "cannon");
    assert!(lines[0]["baseline"]
        .as_str()
        .unwrap()
        .starts_with("one GEMM, "));
    assert_eq!(lines[1]["app"], "stencil");
    assert!(lines[1]["baseline"].as_str().unwrap().starts_with("triad "));
    for l in &lines {
        assert!(l["ratio"].as_f64().is_some_and(|g| g > 0.0), "{l}");
    }
}

#[test]
fn sizes_and_parameters_are_checked() {
    let cases: [(&[&str], &str); 5] = [
        (&["--size", "huge"], "error: unknown size `huge` for cannon; (presets: tiny, small, large, gpu, multigpu)\n"),
        (&["--size", "tiyn"], "error: unknown size `tiyn` for cannon; did you mean `tiny`? (presets: tiny, small, large, gpu, multigpu)\n"),
        (&["--n", "9223372036854775807"], "error: parameter `n` of cannon must be in 1..=1048576, not 9223372036854775807\n"),
        (&["--set", "steps=3"], "error: cannon has no parameter `steps`; (parameters: n)\n"),
        (&["--n", "x"], "error: parameter `n` of cannon takes an integer, not `x`\n"),
    ];
    for (extra, want) in cases {
        let mut args = vec!["run", "--app", "cannon"];
        args.extend_from_slice(extra);
        let o = mapper_here(&args);
        assert_eq!(o.status.code(), Some(1), "{extra:?}");
        assert_eq!(stderr(&o), want, "{extra:?}");
    }
}

#[test]
fn simulated_runs_are_byte_identical_and_say_so() {
    let args = [
        "run",
        "--app",
        "cannon",
        "--machine",
        "sim:p100x4",
        "--size",
        "small",
        "--json",
    ];
    let first = mapper_here(&args);
    let second = mapper_here(&args);
    assert!(first.status.success(), "{}", stderr(&first));
    assert_eq!(first.stdout, second.stdout);
    let v: serde_json::Value = serde_json::from_str(stdout(&first).trim()).expect("one JSON line");
    assert_eq!(v["simulated"], true);
    assert_eq!(v["machine"], "sim:p100x4");
    assert!(v["time_s"].as_f64().is_some_and(|t| t > 0.0));
}

#[test]
fn run_warns_about_memory_fallbacks() {
    // The expert lists the memory it uses: no warning.
    let o = mapper_here(&["run", "--app", "stencil", "--size", "tiny"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stderr(&o), "");
    let dir = scratch("fallback");
    // FBMEM for every kind: CPU tasks cannot see it, so the default list takes over.
    std::fs::write(dir.join("fb.mapper"), "Task * CPU;\nRegion * * * FBMEM;\n").expect("write");
    let o = mapper(
        &[
            "run",
            "--app",
            "stencil",
            "--size",
            "tiny",
            "--machine",
            "emulated:1x2",
            "--mapper",
            "fb.mapper",
        ],
        &dir,
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("warning: `stencil` argument `ghost` (region ghost[0,0]) on CPU went to SYSMEM[0.0], a memory the mapper did not list ([FBMEM]): FBMEM is not visible from CPU (8 instances)\n"),
        "{}",
        stderr(&o)
    );
    // FBMEM full: the panels of a 49152 x 49152 SUMMA do not all fit the P100s' 16 GiB, and
    // `Region * * GPU FBMEM;` quietly puts them in zero-copy memory; the run says so.
    std::fs::write(
        dir.join("gpu.mapper"),
        "Task * GPU,CPU;\nRegion * * GPU FBMEM;\n",
    )
    .expect("write");
    let o = mapper(
        &[
            "run",
            "--app",
            "summa",
            "--size",
            "49152",
            "--machine",
            "sim:p100x4",
            "--mapper",
            "gpu.mapper",
        ],
        &dir,
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("warning: `gemm_panel` argument `a_panel` (region a_panels[0,2]) on GPU went to ZCMEM[0.0], a memory the mapper did not list ([FBMEM]): FBMEM[0.1] is full (needs 2.25 GiB, 256.00 MiB free of 16.00 GiB) (6 instances)\n"),
        "{err}"
    );
    assert!(
        err.lines()
            .all(|l| l.starts_with("warning: `") && l.contains(" went to ZCMEM[0.0], ")),
        "{err}"
    );
}

fn mapper_env(args: &[&str], dir: &Path, key: &str, val: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mapper"))
        .args(args)
        .current_dir(dir)
        .env(key, val)
        .output()
        .expect("mapper runs")
}

#[test]
fn sim_local_is_measured_once_cached_and_checked() {
    let d = scratch("sim-local");
    let file = d.join("host.toml");
    let _ = std::fs::remove_file(&file);
    // First use measures this host and writes the description.
    let o = mapper_env(&["calibrate-host"], &d, "MAPPER_SIM_LOCAL", &file);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(&file).expect("description written");
    assert_eq!(stdout(&o), text);
    assert!(text.contains("kind = \"CPU\"") && text.contains("curve = [["));
    let desc = runtime::machine::file::parse_str(&text, "host", "sim:local").expect("parses");
    assert_eq!(desc.shape(), runtime::MachineDesc::local().shape());
    // It is reused: a run on sim:local is simulated and leaves the file as it was.
    let o = mapper_env(
        &[
            "run",
            "--app",
            "cannon",
            "--machine",
            "sim:local",
            "--size",
            "tiny",
            "--json",
        ],
        &d,
        "MAPPER_SIM_LOCAL",
        &file,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("\"machine\":\"sim:local\""),
        "{}",
        stdout(&o)
    );
    assert!(stdout(&o).contains("\"simulated\":true"), "{}", stdout(&o));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), text);
    // A cached description of another machine is refused, with the fix.
    std::fs::write(&file, runtime::machine::presets::source("p100x4").unwrap()).unwrap();
    let o = mapper_env(
        &[
            "run",
            "--app",
            "cannon",
            "--machine",
            "sim:local",
            "--size",
            "tiny",
        ],
        &d,
        "MAPPER_SIM_LOCAL",
        &file,
    );
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("describes another machine")
            && stderr(&o).contains("mapper calibrate-host --force"),
        "{}",
        stderr(&o)
    );
}
