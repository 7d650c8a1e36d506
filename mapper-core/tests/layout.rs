//! The source layout: one folder per pipeline stage, each stage using only earlier ones (no
//! import cycles), and no source file over 1,500 lines.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir)
        .expect("readable source folder")
        .flatten()
    {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The `crate::NAME` paths a file uses outside comments.
fn crate_uses(text: &str) -> Vec<String> {
    let mut v = Vec::new();
    for line in text.lines().filter(|l| !l.trim_start().starts_with("//")) {
        let mut rest = line;
        while let Some(i) = rest.find("crate::") {
            let name: String = rest[i + 7..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            v.push(name);
            rest = &rest[i + 7..];
        }
    }
    v
}

#[test]
fn stages_use_only_earlier_stages() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    // Stage folder -> modules (and their re-exported names) it must not use.
    let later: &[(&str, &[&str])] = &[
        (
            "syntax",
            &[
                "sema",
                "check",
                "bind",
                "interp",
                "eval",
                "ops",
                "value",
                "codegen",
                "expand",
                "expand_gen",
                "policy",
                "default",
            ],
        ),
        (
            "sema",
            &[
                "interp",
                "eval",
                "ops",
                "value",
                "codegen",
                "expand",
                "expand_gen",
            ],
        ),
        ("interp", &["codegen", "expand", "expand_gen"]),
        (
            "machine",
            &["syntax", "sema", "interp", "codegen", "policy", "default"],
        ),
        (
            "policy",
            &["syntax", "sema", "check", "bind", "interp", "codegen"],
        ),
    ];
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut bad = Vec::new();
    for f in &files {
        let rel = f.strip_prefix(&src).expect("under src");
        let stage = rel.iter().next().and_then(|s| s.to_str()).unwrap_or("");
        let Some((_, forbidden)) = later.iter().find(|(s, _)| *s == stage) else {
            continue;
        };
        let text = std::fs::read_to_string(f).expect("readable");
        for u in crate_uses(&text) {
            if forbidden.contains(&u.as_str()) {
                bad.push(format!("{} uses crate::{u}", rel.display()));
            }
        }
    }
    assert!(bad.is_empty(), "{bad:#?}");
    // `check` does not use `bind` (bind runs check), `ops` does not use `eval` (eval calls ops).
    let check = std::fs::read_to_string(src.join("sema/check.rs")).expect("check.rs");
    assert!(!crate_uses(&check).contains(&"bind".to_string()));
    let ops = std::fs::read_to_string(src.join("interp/ops.rs")).expect("ops.rs");
    assert!(!crate_uses(&ops).contains(&"eval".to_string()));
}

#[test]
fn no_source_file_is_over_1500_lines() {
    let mut files = Vec::new();
    rust_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    assert!(files.len() > 20);
    for f in files {
        let n = std::fs::read_to_string(&f)
            .expect("readable")
            .lines()
            .count();
        assert!(n <= 1500, "{}: {n} lines", f.display());
    }
}
