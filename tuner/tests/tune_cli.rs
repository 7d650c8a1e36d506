//! The `tune` binary end to end on the stencil app: the built-in optimizer without an LLM (all
//! report files written), the LLM optimizer against a fake OpenAI-compatible server through the
//! child-process evaluation path, and user errors.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

const TUNE: &str = env!("CARGO_BIN_EXE_tune");

fn tune(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(TUNE);
    c.args(args)
        .env_remove("OPENAI_API_KEY")
        .env_remove("OPENAI_BASE_URL");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn history(dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join("history.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn builtin_optimizer_without_llm_writes_every_report() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o");
    let o = tune(
        &[
            "--app",
            "stencil",
            "--machine",
            "emulated:1x2",
            "--size",
            "tiny",
            "--iterations",
            "2",
            "--runs",
            "1",
            "--quiet",
            "--out",
            out.to_str().unwrap(),
        ],
        &[],
    );
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(
        stdout
            .lines()
            .filter(|l| l.starts_with("no LLM configured"))
            .collect::<Vec<_>>(),
        vec![format!("{} (ensemble)", tuner::llm::NO_LLM_MESSAGE)]
    );
    assert!(stdout.contains("\nmapper "), "{stdout}");
    for row in ["default ", "expert ", "best (ensemble) "] {
        assert!(
            stdout.lines().any(|l| l.starts_with(row)),
            "{row}: {stdout}"
        );
    }
    for f in tuner::report::OUTPUT_FILES {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    let h = history(&out);
    assert_eq!(h.len(), 2);
    for (i, rec) in h.iter().enumerate() {
        assert_eq!(rec["iteration"], i + 1);
        assert_eq!(rec["optimizer"], "ensemble");
        assert_eq!(rec["outcome"], "ok", "{rec}");
        assert!(rec["score"].as_f64().unwrap() > 0.0);
        assert!(rec["feedback"]
            .as_str()
            .unwrap()
            .starts_with("Outcome: ok.\nRaw: ran in "));
    }
    let best = std::fs::read_to_string(out.join("best.mapper")).unwrap();
    assert!(tuner::validate::check_text(&best).is_valid(), "{best}");
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(report.starts_with("# Tuning report: `stencil` on `emulated:1x2` (size tiny)\n"));
    assert!(report.contains("- LLM: no LLM configured"), "{report}");
    let svg = std::fs::read_to_string(out.join("best_so_far.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("ensemble"), "{svg}");
}

/// A fake chat-completions server answering request i with `script[i]` (status, content).
fn fake_server(script: Vec<(u16, String)>) -> (String, Arc<Mutex<usize>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let count = Arc::new(Mutex::new(0usize));
    let seen = count.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut len = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some((k, v)) = line.split_once(':') {
                    if k.eq_ignore_ascii_case("content-length") {
                        len = v.trim().parse().unwrap_or(0);
                    }
                }
            }
            let mut body = vec![0; len];
            let _ = reader.read_exact(&mut body);
            let i = {
                let mut c = seen.lock().unwrap();
                *c += 1;
                *c - 1
            };
            let (code, content) = script.get(i).cloned().unwrap_or((503, String::new()));
            let body = if code == 200 {
                serde_json::json!({"choices": [{"index": 0, "message": {"role": "assistant", "content": content}}]})
                    .to_string()
            } else {
                format!("{{\"error\": {{\"message\": \"scripted {code}\"}}}}")
            };
            let mut s = stream;
            let _ = write!(
                s,
                "HTTP/1.1 {code} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (format!("http://{addr}/v1"), count)
}

#[test]
fn llm_optimizer_through_the_evaluation_path() {
    let good = "Task * GPU;\nRegion * * GPU FBMEM;\n";
    let out_of_range =
        "Task * GPU;\nm = Machine(GPU);\ndef f(Task task) {\n    return m[0, 7];\n}\nIndexTaskMap * f;\n";
    let script = vec![
        (200, serde_json::json!({"reasoning": "all on GPU", "mapper": good}).to_string()),
        (200, "I would rather not answer in JSON.".to_string()),
        (429, String::new()),
        (200, "```\nTask * GPX;\n```".to_string()),
        (200, format!("```text\n{out_of_range}```")),
        (200, "Here is a better one:\n```\nTask stencil CPU;\nTask * GPU;\n```\nIt keeps the stencil on a CPU.".to_string()),
    ];
    let (base, count) = fake_server(script);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o");
    let o = tune(
        &[
            "--app",
            "stencil",
            "--machine",
            "emulated:1x2",
            "--size",
            "tiny",
            "--iterations",
            "5",
            "--runs",
            "1",
            "--quiet",
            "--out",
            out.to_str().unwrap(),
            "--model",
            "fake",
        ],
        &[("OPENAI_BASE_URL", &base)],
    );
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(!stdout.contains("no LLM configured"), "{stdout}");
    assert_eq!(*count.lock().unwrap(), 6);
    let h = history(&out);
    let outcomes: Vec<&str> = h.iter().map(|r| r["outcome"].as_str().unwrap()).collect();
    assert_eq!(
        outcomes,
        vec!["ok", "no proposal", "rejected", "mapping error", "ok"]
    );
    assert!(h[1]["feedback"]
        .as_str()
        .unwrap()
        .contains("no mapper found in the reply"));
    assert!(h[2]["feedback"]
        .as_str()
        .unwrap()
        .contains("Explanation: A processor kind, memory kind or layout constraint is misspelled"));
    let fb3 = h[3]["feedback"].as_str().unwrap();
    assert!(
        fb3.contains("out of bound") && fb3.contains("Suggestion: Scale the point"),
        "{fb3}"
    );
    assert_eq!(h[0]["mapper"], good);
    // The best valid mapper is one of the two that ran.
    let best = std::fs::read_to_string(out.join("best.mapper")).unwrap();
    assert!(
        best == good || best == "Task stencil CPU;\nTask * GPU;\n",
        "{best}"
    );
    let log = std::fs::read_to_string(out.join("llm.jsonl")).unwrap();
    assert_eq!(log.lines().count(), 6, "{log}");
}

#[test]
fn user_errors() {
    let o = tune(&["--app", "nope"], &[]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        "error: unknown app `nope` (known apps: stencil, pennant, cannon, summa, pumma, johnson, solomonik, cosma)\n"
    );
    let o = tune(&["--app", "stencil", "--size", "huge"], &[]);
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        "error: unknown size `huge` for stencil; (presets: tiny, small, large, gpu, multigpu)\n"
    );
    let o = tune(&["--app", "stencil", "--machine", "bogus"], &[]);
    assert!(String::from_utf8_lossy(&o.stderr).starts_with("error: unknown machine `bogus`"));
    let o = tune(&["--app", "canon"], &[]);
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        "error: unknown app `canon`; did you mean `cannon`? (known apps: stencil, pennant, cannon, summa, pumma, johnson, solomonik, cosma)\n"
    );
}

#[test]
fn timeouts_are_classified_and_scored_zero() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o");
    let o = tune(
        &[
            "--app",
            "stencil",
            "--machine",
            "emulated:1x2",
            "--size",
            "small",
            "--iterations",
            "1",
            "--runs",
            "1",
            "--quiet",
            "--optimizer",
            "random",
            "--timeout",
            "0.001",
            "--out",
            out.to_str().unwrap(),
        ],
        &[],
    );
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("expert ") && l.contains("timeout")),
        "{stdout}"
    );
    assert!(
        stdout.contains("note: The expert mapper did not run (timeout)"),
        "{stdout}"
    );
    let h = history(&out);
    assert_eq!(h[0]["outcome"], "timeout");
    assert_eq!(h[0]["score"], 0.0);
    assert!(h[0]["feedback"]
        .as_str()
        .unwrap()
        .contains("Explanation: The run took longer than the time limit"));
    let best = std::fs::read_to_string(out.join("best.mapper")).unwrap();
    assert!(
        best.starts_with("# No candidate ran successfully; this is the expert mapper.\n"),
        "{best}"
    );
}

#[test]
fn seeded_simulated_runs_are_reproducible() {
    let dir = tempfile::tempdir().unwrap();
    let run = |name: &str, seed: &str| {
        let out = dir.path().join(name);
        let o = tune(
            &[
                "--app",
                "stencil",
                "--machine",
                "sim:p100x4",
                "--size",
                "small",
                "--optimizer",
                "all",
                "--iterations",
                "4",
                "--seed",
                seed,
                "--quiet",
                "--out",
                out.to_str().unwrap(),
            ],
            &[],
        );
        let stdout = String::from_utf8_lossy(&o.stdout).to_string();
        assert!(
            o.status.success(),
            "{stdout}\n{}",
            String::from_utf8_lossy(&o.stderr)
        );
        (
            stdout,
            std::fs::read_to_string(out.join("history.jsonl")).unwrap(),
        )
    };
    let (stdout, a) = run("a", "3");
    assert!(stdout
        .contains("sim:p100x4 is simulated: times are deterministic, so each mapper runs once"));
    assert!(stdout.contains("1 run(s) per evaluation"), "{stdout}");
    let (stdout_b, b) = run("b", "3");
    assert_eq!(a, b);
    assert_eq!(stdout.replace("/a/", "/b/"), stdout_b);
    assert_eq!(a.lines().count(), 12);
    // The first proposal of every search is the expert projected into the space: same time.
    for line in a
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
    {
        if line["iteration"] == 1 {
            assert_eq!(line["score"], 1.0, "{line}");
        }
    }
    let (_, c) = run("c", "4");
    assert_ne!(a, c);
}
