//! Text-based checker tests. Every `tests/invalid/NN_name.mapper` must render (parse, then check
//! when the parse is clean) exactly as its sibling `NN_name.stderr`, the output of
//! `mapper check NN_name.mapper`. Files whose name contains `_app_` are checked against the
//! circuit application of [`circuit_app`] (what `mapper check --app circuit` will print).
//! `BLESS=1 cargo test -p mapper-core --test check` rewrites the `.stderr` files; review them.

use mapper_core::app::{AppInfo, ArgInfo, TaskInfo};
use mapper_core::diag::{render_all, Diagnostic};
use mapper_core::kinds::ProcKind;
use mapper_core::{check, parse};
use std::path::Path;

/// Parse, then (on a clean parse) check: what `mapper check` reports.
fn diagnose(src: &str, app: Option<&AppInfo>) -> Vec<Diagnostic> {
    let out = parse::parse_text(src);
    let mut d = out.diagnostics;
    if !d.iter().any(Diagnostic::is_error) {
        d.extend(check::check(&out.program, app));
    }
    d
}

/// The circuit application as documented in `corpus/circuit.mapper`.
fn circuit_app() -> AppInfo {
    let arg = |name: &str, regions: &[&str], read_only: bool| ArgInfo {
        name: name.into(),
        regions: regions.iter().map(|s| s.to_string()).collect(),
        read_only,
    };
    let nodes = |ro: bool| {
        vec![
            arg("private_nodes", &["rp_private", "all_nodes"], ro),
            arg("shared_nodes", &["rp_shared", "all_nodes"], ro),
            arg("ghost_nodes", &["rp_ghost", "all_nodes"], ro),
        ]
    };
    let task =
        |name: &str, args: Vec<ArgInfo>, variants: &[ProcKind], index_launch: bool| TaskInfo {
            name: name.into(),
            args,
            variants: variants.to_vec(),
            index_launch,
        };
    let gc = &[ProcKind::Gpu, ProcKind::Cpu];
    let mut calc = vec![arg("wires", &["rp_wires", "all_wires"], false)];
    calc.extend(nodes(true));
    let mut dist = vec![arg("wires", &["rp_wires", "all_wires"], true)];
    dist.extend(nodes(false));
    let mut upd = nodes(false);
    upd.truncate(2);
    AppInfo {
        name: "circuit".into(),
        tasks: vec![
            task(
                "init_pieces",
                vec![
                    arg("wires", &["all_wires"], false),
                    arg("nodes", &["all_nodes"], false),
                ],
                &[ProcKind::Cpu],
                false,
            ),
            task("calculate_new_currents", calc, gc, true),
            task("distribute_charge", dist, gc, true),
            task("update_voltages", upd, gc, true),
        ],
    }
}

#[test]
fn invalid_cases_render_exactly() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/invalid");
    let bless = std::env::var_os("BLESS").is_some();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/invalid exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "mapper"))
        .collect();
    files.sort();
    assert!(files.len() >= 40, "only {} invalid cases", files.len());
    let app = circuit_app();
    let mut failures = Vec::new();
    for path in &files {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        let src = std::fs::read_to_string(path).expect("readable");
        let app = name.contains("_app_").then_some(&app);
        let diags = diagnose(&src, app);
        if !diags.iter().any(Diagnostic::is_error) {
            failures.push(format!("{name}: no error reported"));
        }
        let got = render_all(&diags, &name, &src);
        let expected_path = path.with_extension("stderr");
        if bless {
            std::fs::write(&expected_path, &got).expect("writable");
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if got != expected {
            failures.push(format!(
                "{name}: output differs\n--- expected\n{expected}--- got\n{got}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failing cases:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn messages(src: &str, app: Option<&AppInfo>) -> Vec<String> {
    diagnose(src, app)
        .into_iter()
        .map(|d| format!("{}:{} {}", d.span.lo.line, d.span.lo.col, d.message))
        .collect()
}

#[test]
fn spans_point_at_the_offending_tokens() {
    let src = "mgpu = Machine(GPU);\ndef f(Task task) {\n    return mgpu[0, task.ipont[0]];\n}\nIndexTaskMap t f;\n";
    assert_eq!(messages(src, None), vec!["3:25 no field `ipont` on a task"]);
    let src = "x = y;\n";
    assert_eq!(messages(src, None), vec!["1:5 y is not defined"]);
    let src = "m = Machine(CPU);\nz = m.split(1);\n";
    let d = diagnose(src, None);
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].message, "split takes 2 arguments but 1 was given");
    assert_eq!(
        (d[0].span.lo.line, d[0].span.lo.col, d[0].span.hi.col),
        (2, 7, 15)
    );
}

#[test]
fn all_errors_are_collected_in_source_order() {
    let src = "a = b;\nc = d;\nInstanceLimit * 0;\ne = 1 / 0;\n";
    assert_eq!(
        messages(src, None),
        vec![
            "1:5 b is not defined",
            "2:5 d is not defined",
            "3:17 InstanceLimit must be positive, found 0",
            "4:9 division by zero",
        ]
    );
}

#[test]
fn scoping_rules() {
    // Function bodies see globals assigned after the definition, and may reassign parameters.
    let src = "def f(Task task) {\n    task = task.parent;\n    return m[0, 0];\n}\nm = Machine(CPU);\nIndexTaskMap t f;\n";
    assert_eq!(messages(src, None), Vec::<String>::new());
    // A local used before its assignment.
    let src =
        "m = Machine(CPU);\ndef f(Task task) {\n    y = x;\n    x = 1;\n    return m[0, x];\n}\n";
    assert_eq!(
        messages(src, None),
        vec!["3:9 x is used before it is defined"]
    );
    // Comprehension variables are scoped to the comprehension.
    let src = "t = tuple(i * 2 for i in (1, 2));\nu = i;\n";
    assert_eq!(messages(src, None), vec!["2:5 i is not defined"]);
}

#[test]
fn valid_expressions_are_accepted() {
    let src = "\
m = Machine(GPU);
g = m.merge(0, 1).auto_split(0, (4, 4)).swap(0, 1).reverse(0).slice(1, 0, 1);
h = m.split(1, 2).balance_split(0, 3).decompose(0, (2, 2)).greedy_split(1, (8,));
def f(Task task) {
    ip = task.ipoint;
    c = tuple(x % 2 for x in ip) + 1;
    d = -(ip * 2)[0:1];
    e = m[:-1];
    ok = !(ip[0] > 0) && (e[0] != 0 || True);
    print(\"point {} on {}\", ip, task.processor(m));
    return ok ? m[ip[0] % m.size[0], *] : m[*c[0:1], 0];
}
IndexTaskMap * f;
SingleTaskMap * f;
";
    assert_eq!(messages(src, None), Vec::<String>::new());
}

#[test]
fn original_language_forms_are_accepted() {
    // Forms of the original DSLMapper language (its README's examples), accepted as written,
    // with and without the application.
    let app = circuit_app();
    let cases = [
        "def block_primitive(IPoint x, ISpace y, MSpace z, int dim1, int dim2) {\n    return x[dim1] * z.size[dim2] / y.size[dim1];\n}\n",
        "def v(ISpace y) {\n    return y.volume + y.len + y.size.len;\n}\n",
        "Layout * * GPU SOA Align!=16 Align<=256;\n",
        "Layout * * * SOA Align>=64 Align<=256 Align!=64;\n",
        "mgpu = Machine(GPU);\ndef f(Task task) {\n    return mgpu[0, 0];\n}\nIndexTaskMap GPU f;\nIndexTaskMap OMP f;\nSingleTaskMap CPU f;\nIndexTaskMap update_voltages f;\n",
        "Task * GPU,OMP,CPU;\nRegion * * * SOCKMEM,SYSMEM;\n",
        "InstanceLimit calculate_new_currents OMP 10;\nCollectMemory calculate_new_currents *;\n",
        "m_2d = Machine(GPU);\ndef same_point(Task task) {\n    return m_2d[*task.parent.processor(m_2d)];\n}\nSingleTaskMap init_pieces same_point;\n",
    ];
    for src in cases {
        assert_eq!(messages(src, None), Vec::<String>::new(), "{src}");
        assert_eq!(messages(src, Some(&app)), Vec::<String>::new(), "{src}");
    }
}

#[test]
fn app_aware_checks() {
    let app = circuit_app();
    let src = "Region * rp_shared GPU ZCMEM;\nRegion calculate_new_currents 3 GPU ZCMEM;\nCollectMemory calculate_new_currents ghost_nodes;\n";
    assert_eq!(messages(src, Some(&app)), Vec::<String>::new());
    let src = "Task calc_new_currents GPU;\nRegion update_voltages rp_ghost GPU ZCMEM;\n";
    assert_eq!(
        messages(src, Some(&app)),
        vec![
            "1:6 unknown task `calc_new_currents`",
            "2:24 unknown region `rp_ghost` for task `update_voltages`",
        ]
    );
    // Without an application, names are not checked.
    assert_eq!(messages(src, None), Vec::<String>::new());
}
