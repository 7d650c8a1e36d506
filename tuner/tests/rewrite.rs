//! `--write` on temporary files: only the body of the named `mapper!` changes, the original is
//! restored when verification fails, and `mapper!` in comments or strings is left alone.

use std::cell::Cell;
use std::path::Path;
use tuner::rewrite::{rewrite_mapper, CommandVerifier, RewriteError};

const SOURCE: &str = r##"//! The cannon app. Docs mention mapper! { pub CannonExpert; Task * CPU; } in a comment.
use crate::prelude::*;

/* A block comment: mapper! { pub CannonExpert; Task * OMP; } */
const HELP: &str = "mapper! { pub CannonExpert; Task * IO; }";
const RAW: &str = r#"mapper! { pub CannonExpert; Task * PY; }"#;

pub mod expert {
    mapper! {
        pub CannonExpert for crate::cannon::names;
        // the expert's choice
        Task * GPU;
        Region * * GPU FBMEM;
        mgpu = Machine(GPU);
        def place(Task task) {
            return mgpu[0, task.ipoint[0] % mgpu.size[1]];
        }
        IndexTaskMap * place;
    }

    mapper!(pub Other; Task * CPU;);
}

fn after<'a>(x: &'a str) -> char { let _ = x; '}' }
"##;

const NEW: &str = "Task * GPU,CPU;\nRegion * * GPU ZCMEM;\nLayout   *  * * AOS;";

fn write_source(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("cannon.rs");
    std::fs::write(&path, SOURCE).unwrap();
    path
}

#[test]
fn only_the_body_changes() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_source(dir.path());
    let calls = Cell::new(0);
    let verify = || -> Result<(), String> {
        calls.set(calls.get() + 1);
        // The new text is in place while verification runs.
        let now = std::fs::read_to_string(&path).unwrap();
        assert!(now.contains("Region * * GPU ZCMEM;"));
        Ok(())
    };
    let out = rewrite_mapper(&path, "CannonExpert", NEW, &verify).unwrap();
    assert_eq!(calls.get(), 1);
    assert!(out.changed && out.minimal);
    assert!(out.diff.contains("-        Task * GPU;\n"), "{}", out.diff);
    assert_eq!(
        out.mapper,
        "Task * GPU,CPU;\nRegion * * GPU ZCMEM;\nLayout * * * AOS;\n"
    );
    let text = std::fs::read_to_string(&path).unwrap();
    let start = SOURCE
        .find("        pub CannonExpert for crate::cannon::names;\n")
        .unwrap()
        + "        pub CannonExpert for crate::cannon::names;".len();
    let end = SOURCE.find("    }\n\n    mapper!(pub Other").unwrap();
    // The smallest edit: the comment stays, the three changed statements are replaced where
    // they were, the rest is removed.
    let expected = format!(
        "{}\n        // the expert's choice\n        Task * GPU,CPU;\n        Region * * GPU ZCMEM;\n        Layout * * * AOS;\n{}",
        &SOURCE[..start],
        &SOURCE[end..]
    );
    assert_eq!(text, expected);
    // No temporary files are left behind.
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["cannon.rs".to_string()]);

    // Writing the same mapper again changes nothing and does not verify.
    let out = rewrite_mapper(&path, "CannonExpert", NEW, &verify).unwrap();
    assert!(!out.changed);
    assert_eq!(calls.get(), 1);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), expected);

    // The parenthesized invocation is found too.
    rewrite_mapper(&path, "Other", "Task * OMP;", &|| Ok::<(), String>(())).unwrap();
    let text2 = std::fs::read_to_string(&path).unwrap();
    assert_eq!(
        text2,
        expected.replace(
            "mapper!(pub Other; Task * CPU;);",
            "mapper!(pub Other; Task * OMP;);"
        )
    );
}

#[test]
fn failed_verification_restores_the_original() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_source(dir.path());
    let verify =
        || -> Result<(), String> { Err("error[E0425]: cannot find value `x`".to_string()) };
    let err = rewrite_mapper(&path, "CannonExpert", NEW, &verify).unwrap_err();
    match &err {
        RewriteError::VerificationFailed {
            restored, output, ..
        } => {
            assert!(*restored);
            assert_eq!(output, "error[E0425]: cannot find value `x`");
        }
        other => panic!("unexpected error {other}"),
    }
    assert_eq!(
        err.to_string(),
        format!("verification failed after rewriting {}; the original file was restored\nerror[E0425]: cannot find value `x`", path.display())
    );
    assert_eq!(std::fs::read(&path).unwrap(), SOURCE.as_bytes());
}

#[cfg(unix)]
#[test]
fn command_verifier_output_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_source(dir.path());
    let failing = CommandVerifier::new(
        "sh",
        ["-c", "echo compiling; echo 'error: boom' >&2; exit 3"],
        dir.path(),
    );
    let err = rewrite_mapper(&path, "CannonExpert", NEW, &failing).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.starts_with(
            "sh -c echo compiling; echo 'error: boom' >&2; exit 3 failed after rewriting"
        ),
        "{msg}"
    );
    assert!(
        msg.contains("exited with exit status: 3\ncompiling\nerror: boom\n"),
        "{msg}"
    );
    assert_eq!(std::fs::read(&path).unwrap(), SOURCE.as_bytes());

    let ok = CommandVerifier::new("sh", ["-c", "grep -q 'ZCMEM' cannon.rs"], dir.path());
    assert!(
        rewrite_mapper(&path, "CannonExpert", NEW, &ok)
            .unwrap()
            .changed
    );

    let missing = CommandVerifier::new("/nonexistent/cargo", ["check"], dir.path());
    let err = rewrite_mapper(&path, "CannonExpert", "Task * CPU;", &missing).unwrap_err();
    assert!(
        err.to_string()
            .contains("cannot run `/nonexistent/cargo check`"),
        "{err}"
    );
    assert!(
        std::fs::read_to_string(&path).unwrap().contains("ZCMEM"),
        "restored to the previous content"
    );
}

#[test]
fn bad_inputs_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_source(dir.path());
    let never = || -> Result<(), String> { panic!("must not verify") };
    let err = rewrite_mapper(&path, "CannonExpert", "Task * GPX;", &never).unwrap_err();
    assert!(matches!(err, RewriteError::InvalidMapper(_)));
    assert!(err.to_string().contains("candidate.mapper:1:"), "{err}");
    let err = rewrite_mapper(&path, "Missing", "Task * GPU;", &never).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "no `mapper!` invocation named `Missing` in {}; found: CannonExpert, Other",
            path.display()
        )
    );
    let err = rewrite_mapper(&dir.path().join("nope.rs"), "X", "Task * GPU;", &never).unwrap_err();
    assert!(err.to_string().starts_with("cannot read "), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), SOURCE.as_bytes());
}

#[test]
fn a_mapper_file_is_edited_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.mapper");
    let text = "# header comment\nTask * GPU,CPU;   # kinds\n\n# memories\nRegion * * GPU FBMEM;\nRegion * * CPU SYSMEM;\n\n# placement\nm = Machine(GPU);\ndef f(Task task) {\n    return m[0, 0];\n}\nIndexTaskMap * f;\n";
    std::fs::write(&path, text).unwrap();
    let new = "Task * GPU,CPU;\nRegion * * GPU ZCMEM;\nRegion * * CPU SYSMEM;\nLayout * * * SOA F_order;\nm = Machine(GPU);\ndef f(Task task) {\n    return m[0, 0];\n}\nIndexTaskMap * f;\n";
    let ok = || -> Result<(), String> { Ok(()) };
    let out = tuner::rewrite::rewrite_mapper(&path, "", new, &ok).unwrap();
    assert!(out.changed && out.minimal);
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "# header comment\nTask * GPU,CPU;   # kinds\n\n# memories\nRegion * * GPU ZCMEM;\nRegion * * CPU SYSMEM;\nLayout * * * SOA F_order;\n\n# placement\nm = Machine(GPU);\ndef f(Task task) {\n    return m[0, 0];\n}\nIndexTaskMap * f;\n"
    );
    let p = path.display().to_string();
    assert_eq!(
        out.diff,
        format!("--- {p}\n+++ {p} (new)\n@@ -2,8 +2,9 @@\n Task * GPU,CPU;   # kinds\n \n # memories\n-Region * * GPU FBMEM;\n+Region * * GPU ZCMEM;\n Region * * CPU SYSMEM;\n+Layout * * * SOA F_order;\n \n # placement\n m = Machine(GPU);\n")
    );
    // A removed function goes with its lines; the comment above it stays.
    let fewer = "Task * GPU,CPU;\nRegion * * GPU ZCMEM;\nRegion * * CPU SYSMEM;\nLayout * * * SOA F_order;\nm = Machine(GPU);\n";
    tuner::rewrite::rewrite_mapper(&path, "", fewer, &ok).unwrap();
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "# header comment\nTask * GPU,CPU;   # kinds\n\n# memories\nRegion * * GPU ZCMEM;\nRegion * * CPU SYSMEM;\nLayout * * * SOA F_order;\n\n# placement\nm = Machine(GPU);\n"
    );
    // No backup is left behind.
    assert!(!dir.path().join("x.mapper.tune-backup").exists());
}
