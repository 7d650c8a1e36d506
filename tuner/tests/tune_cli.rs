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
            "--confirm-rounds",
            "2",
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
    assert!(
        stdout.contains("\nconfirmation: 2 round(s), each running the expert and every candidate once (the expert first in odd rounds, last in even ones); ratio = expert time / candidate time; median and spread (min-max)"),
        "{stdout}"
    );
    let confirmed = stdout
        .lines()
        .find(|l| l.starts_with("confirmed: "))
        .unwrap_or_else(|| panic!("{stdout}"));
    let best = std::fs::read_to_string(out.join("best.mapper")).unwrap();
    assert!(tuner::validate::check_text(&best).is_valid(), "{best}");
    if confirmed.contains("no gain beyond noise") {
        assert!(best.starts_with("# No gain beyond noise over the expert mapper (2 round(s)); this is the expert mapper.\n"), "{best}");
    } else {
        assert!(confirmed.contains("best.mapper holds it"), "{confirmed}");
    }
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        report.contains("## Confirmed result\n\nConfirmation: 2 round(s)"),
        "{report}"
    );
    assert!(
        report.contains("| candidate | seed | median | spread | verdict |"),
        "{report}"
    );
    assert!(report.starts_with("# Tuning report: `stencil` on `emulated:1x2` (size tiny)\n"));
    assert!(report.contains("- LLM: no LLM configured"), "{report}");
    let svg = std::fs::read_to_string(out.join("best_so_far.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("ensemble"), "{svg}");
}

/// A fake chat-completions server answering request i with `script[i]` (status, content).
fn fake_server(script: Vec<(u16, String)>) -> (String, Arc<Mutex<usize>>) {
    let (base, count, _) = recording_server(script);
    (base, count)
}

/// The bodies of the requests a fake server received.
type Bodies = Arc<Mutex<Vec<String>>>;

/// [`fake_server`] that also keeps the body of every request it received.
fn recording_server(script: Vec<(u16, String)>) -> (String, Arc<Mutex<usize>>, Bodies) {
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let kept = bodies.clone();
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
            kept.lock()
                .unwrap()
                .push(String::from_utf8_lossy(&body).into_owned());
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
                // An error body echoing key-like strings, as some servers do.
                format!("{{\"error\": {{\"message\": \"scripted {code}: invalid key sk-leaked-abcdefghij, Authorization: Bearer sk-test-0123456789abcdef\"}}}}")
            };
            let mut s = stream;
            let _ = write!(
                s,
                "HTTP/1.1 {code} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (format!("http://{addr}/v1"), count, bodies)
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
            "7",
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
        vec![
            "ok",
            "ok",
            "ok",
            "no proposal",
            "rejected",
            "mapping error",
            "ok"
        ]
    );
    // The LLM starts from the same seeds as the searches: the expert, then the default.
    let seeds: Vec<bool> = h.iter().map(|r| r["seed"].as_bool().unwrap()).collect();
    assert_eq!(seeds, vec![true, true, false, false, false, false, false]);
    assert!(
        stdout.contains("seed: every optimizer run starts from the same two seeds"),
        "{stdout}"
    );
    let h: Vec<serde_json::Value> = h[2..].to_vec();
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
    // best.mapper holds a mapper that ran (a seed or a proposal, confirmed faster than the
    // expert), or the expert with the note that nothing beat it beyond noise.
    let best = std::fs::read_to_string(out.join("best.mapper")).unwrap();
    let ran: Vec<String> = history(&out)
        .iter()
        .filter(|r| r["outcome"] == "ok")
        .map(|r| r["mapper"].as_str().unwrap().trim().to_string())
        .collect();
    assert_eq!(ran.len(), 4);
    assert!(ran.contains(&good.trim().to_string()));
    assert!(
        ran.contains(&best.trim().to_string())
            || best.starts_with("# No gain beyond noise over the expert mapper"),
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
        "error: unknown app `nope` (known apps: stencil, circuit, pennant, cannon, summa, pumma, johnson, solomonik, cosma)\n"
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
        "error: unknown app `canon`; did you mean `cannon`? (known apps: stencil, circuit, pennant, cannon, summa, pumma, johnson, solomonik, cosma)\n"
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
    // Simulated: one confirmation round, and a verdict.
    assert!(stdout.contains("\nconfirmation: 1 round(s)"), "{stdout}");
    assert!(
        stdout.lines().any(|l| l.starts_with("confirmed: ")),
        "{stdout}"
    );
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

#[test]
fn resume_continues_the_history() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o");
    let args = |iterations: &'static str, resume: bool| {
        let mut v = vec![
            "--app",
            "stencil",
            "--machine",
            "sim:p100x4",
            "--size",
            "small",
            "--optimizer",
            "coordinate",
            "--iterations",
            iterations,
            "--quiet",
        ];
        v.push(if resume { "--resume" } else { "--out" });
        v
    };
    let mut a = args("2", false);
    a.push(out.to_str().unwrap());
    let o = tune(&a, &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let first = history(&out);
    assert_eq!(first.len(), 2);
    let mut a = args("4", true);
    a.push(out.to_str().unwrap());
    let o = tune(&a, &[]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let h = history(&out);
    assert_eq!(h.len(), 4);
    assert_eq!(h[..2], first[..]);
    let its: Vec<u64> = h.iter().map(|r| r["iteration"].as_u64().unwrap()).collect();
    assert_eq!(its, vec![1, 2, 3, 4]);
    assert!(
        stdout.contains("note: Resumed from 2 recorded iteration(s)"),
        "{stdout}"
    );
    // The same as an uninterrupted run of 4 iterations (a simulated machine is deterministic).
    let full = dir.path().join("full");
    let mut a = args("4", false);
    a.push(full.to_str().unwrap());
    assert!(tune(&a, &[]).status.success());
    assert_eq!(history(&full), h);
    // Errors: no history, or two different directories.
    let o = tune(
        &[
            "--app",
            "stencil",
            "--resume",
            dir.path().join("none").to_str().unwrap(),
        ],
        &[],
    );
    assert!(String::from_utf8_lossy(&o.stderr).starts_with("error: --resume: cannot read "));
}

#[test]
fn outputs_are_written_during_the_run() {
    // A run killed half-way leaves its outputs with the iterations done so far: a run of
    // 100000 iterations is killed once its history has two lines.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o");
    let mut child = Command::new(TUNE)
        .args([
            "--app",
            "stencil",
            "--machine",
            "sim:p100x4",
            "--size",
            "small",
            "--optimizer",
            "random",
            "--iterations",
            "100000",
            "--quiet",
            "--out",
            out.to_str().unwrap(),
        ])
        .env_remove("OPENAI_API_KEY")
        .env_remove("OPENAI_BASE_URL")
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    let mut lines = 0;
    while start.elapsed() < std::time::Duration::from_secs(120) {
        lines = std::fs::read_to_string(out.join("history.jsonl"))
            .map(|t| t.lines().count())
            .unwrap_or(0);
        if lines >= 2 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(lines >= 2, "no history written during the run");
    assert!(out.join("best.mapper").is_file() && out.join("report.md").is_file());
}

#[test]
fn bad_values_are_clear_errors() {
    let err = |args: &[&str]| {
        let o = tune(args, &[]);
        let e = String::from_utf8_lossy(&o.stderr).to_string();
        assert!(!e.contains("panicked"), "{args:?}: {e}");
        assert_ne!(o.status.code(), Some(0), "{args:?}");
        assert!(o.status.code().is_some(), "{args:?}: killed by a signal");
        e
    };
    let e = err(&["--app", "stencil", "--timeout", "nan"]);
    assert!(
        e.contains("invalid value 'nan' for '--timeout <TIMEOUT>': not a number"),
        "{e}"
    );
    let e = err(&["--app", "stencil", "--timeout", "-1"]);
    assert!(e.contains("must be positive seconds (got -1)"), "{e}");
    let e = err(&["--app", "stencil", "--timeout", "0"]);
    assert!(e.contains("must be positive seconds"), "{e}");
    let e = err(&["--app", "stencil", "--timeout", "soon"]);
    assert!(e.contains("`soon` is not a number of seconds"), "{e}");
    let e = err(&["--app", "stencil", "--min-gain", "-0.5"]);
    assert!(e.contains("must be a fraction between 0 and 10"), "{e}");
    for size in ["99999999999999999999999", "-5", "1e300", "0", ""] {
        let e = err(&["--app", "stencil", "--size", size]);
        assert!(e.starts_with("error: "), "{size}: {e}");
    }
    for size in ["99999999999999999999999", "-5", "0"] {
        let e = err(&["--app", "cannon", "--size", size]);
        assert!(e.starts_with("error: "), "{size}: {e}");
    }
    let e = err(&["--app", "stencl"]);
    assert!(e.contains("did you mean `stencil`?"), "{e}");
    let e = err(&["--app", "stencil", "--machine", "/nonexistent/m.toml"]);
    assert!(
        e.starts_with("error: cannot read machine description"),
        "{e}"
    );
    // A machine description over 1 MiB is refused before it is read.
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.toml");
    std::fs::write(&big, "#".repeat(2 << 20)).unwrap();
    let e = err(&["--app", "stencil", "--machine", big.to_str().unwrap()]);
    assert!(
        e.contains("is larger than 1048576 bytes (1 MiB); refusing to read it"),
        "{e}"
    );
    // Too many processors in all (nodes x count per node).
    let huge = dir.path().join("huge.toml");
    std::fs::write(
        &huge,
        "nodes = 4096\n[[processor]]\nkind = \"CPU\"\ncount = 4096\ngflops = 10.0\n\
         [[memory]]\nkind = \"SYSMEM\"\ncapacity = \"1G\"\nbandwidth = 50.0\n\
         [[access]]\nproc = \"CPU\"\nmem = \"SYSMEM\"\nbandwidth = 10.0\n",
    )
    .unwrap();
    let e = err(&["--app", "stencil", "--machine", huge.to_str().unwrap()]);
    assert!(
        e.contains("the machine has 16777216 processors in all (nodes x count per node); at most 65536 are supported"),
        "{e}"
    );
    let e = err(&["--app", "stencil", "--iterations", "-3"]);
    assert!(e.contains("invalid value '-3' for '--iterations"), "{e}");
}

#[test]
fn infinite_timeout_means_no_fixed_limit() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o");
    let o = tune(
        &[
            "--app",
            "stencil",
            "--machine",
            "sim:p100x4",
            "--size",
            "small",
            "--optimizer",
            "random",
            "--iterations",
            "1",
            "--timeout",
            "inf",
            "--quiet",
            "--out",
            out.to_str().unwrap(),
        ],
        &[],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        report.contains("- time limit per run: none (--timeout inf)"),
        "{report}"
    );
}

#[test]
fn key_like_strings_in_server_errors_are_redacted() {
    let (base, _) = fake_server(vec![(401, String::new())]);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o");
    let o = tune(
        &[
            "--app",
            "stencil",
            "--machine",
            "sim:p100x4",
            "--size",
            "small",
            "--iterations",
            "3",
            "--quiet",
            "--out",
            out.to_str().unwrap(),
        ],
        &[
            ("OPENAI_BASE_URL", &base),
            ("OPENAI_API_KEY", "sk-test-0123456789abcdef"),
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let h = std::fs::read_to_string(out.join("history.jsonl")).unwrap();
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    let log = std::fs::read_to_string(out.join("llm.jsonl")).unwrap();
    for text in [&h, &report, &log] {
        assert!(!text.contains("sk-test-0123456789abcdef"), "{text}");
        assert!(!text.contains("sk-leaked"), "{text}");
    }
    assert!(h.contains("[REDACTED]"), "{h}");
}

#[test]
fn the_prompt_for_cosma_on_p100x4_is_one_a_model_can_use() {
    let reply = serde_json::json!({"reasoning": "all on GPU", "mapper": "Task * GPU,CPU;\nRegion * * GPU FBMEM;\n"}).to_string();
    let (base, count, bodies) = recording_server(vec![(200, reply)]);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o");
    let o = tune(
        &[
            "--app",
            "cosma",
            "--machine",
            "sim:p100x4",
            "--size",
            "small",
            "--iterations",
            "3",
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
    // Two seeds, then one proposal from the model.
    assert_eq!(*count.lock().unwrap(), 1);
    let body: serde_json::Value = serde_json::from_str(&bodies.lock().unwrap()[0]).unwrap();
    let prompt = body["messages"][1]["content"].as_str().unwrap();
    // Kinds as the language spells them.
    assert!(
        prompt.contains(
            "- cosma_gemm (variants: CPU, GPU, OMP; index launch over 2x2x1 (4 points per launch;"
        ),
        "{prompt}"
    );
    assert!(
        !prompt.contains("Gpu") && !prompt.contains("Fbmem"),
        "{prompt}"
    );
    assert!(
        prompt.contains("- init_tiles (variants: CPU, GPU, OMP; index launch over 2x2 ("),
        "{prompt}"
    );
    assert!(
        prompt.contains("Problem size: small (n=1536, f64)."),
        "{prompt}"
    );
    assert!(
        prompt.contains("arg 2 `c_block`: reduction (+)"),
        "{prompt}"
    );
    // Capacities and bandwidths of the simulated machine.
    assert!(
        prompt.contains("Memories per node: 4 FBMEM (16.00 GiB each, 720 GB/s inside the memory)"),
        "{prompt}"
    );
    assert!(prompt.contains("GPU -> its own FBMEM 720 GB/s"), "{prompt}");
    assert!(
        prompt.contains("SYSMEM <-> FBMEM same node 12 GB/s"),
        "{prompt}"
    );
    // Per-processor busy time of the last attempt, and what changed since the one before.
    assert!(
        prompt.contains("Busy fraction of each processor over the run (")
            && prompt.contains("GPU[0, 3] "),
        "{prompt}"
    );
    assert!(
        prompt.contains("Change since the previous attempt: "),
        "{prompt}"
    );
}

/// A Rust file holding a `mapper!` of the stencil's expert type whose mapper is weak (every
/// tile on one processor), written with comments and odd spacing, in `dir`. Tests use it as the
/// expert (`--write-file`), so they depend neither on the app's expert nor on the repository's
/// sources.
fn weak_stencil_expert(dir: &Path) -> (std::path::PathBuf, String) {
    let weak = "//! A copy of an app's expert file.\n\nruntime::mapper! {\n    pub StencilExpert for names;\n    // A weak stencil expert: GPUs if any, else CPUs.\n    Task * GPU,CPU;\n\n    Region * * GPU FBMEM;\n    Region * * CPU SYSMEM;\n    Layout * * * SOA C_order;\n\n    // The processors of the kind the tasks run on.\n    m  =  Machine(GPU).volume > 0 ? Machine(GPU) : Machine(CPU);\n\n    // Every tile on the first processor.\n    def first(Task task) {\n        return m[0, 0];\n    }\n\n    IndexTaskMap init, stencil, increment first;\n}\n\n/// After the mapper.\npub fn after() {}\n";
    let path = dir.join("expert.rs");
    std::fs::write(&path, weak).unwrap();
    (path, weak.to_string())
}

#[test]
fn write_refuses_without_a_confirmed_gain() {
    let dir = tempfile::tempdir().unwrap();
    let (file, before) = weak_stencil_expert(dir.path());
    let out = dir.path().join("o");
    let o = tune(
        &[
            "--app",
            "stencil",
            "--machine",
            "sim:devbox",
            "--size",
            "small",
            "--optimizer",
            "coordinate",
            "--iterations",
            "3",
            "--quiet",
            "--min-gain",
            "9",
            "--out",
            out.to_str().unwrap(),
            "--write",
            "--write-file",
            file.to_str().unwrap(),
            "--write-check",
            "true",
        ],
        &[],
    );
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("error: --write refused: no candidate has a confirmed gain of at least 900.0% beyond noise over the expert; the source is unchanged"),
        "{stderr}"
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), before);

    // A winner that maps only where it was tuned (GPU-only tasks) is refused too, with the
    // machine it fails on: the weak expert here keeps GPU tiles in zero-copy memory.
    let weak = "runtime::mapper! {\n    pub SummaExpert for names;\n    Task * GPU,CPU;\n    Region * * GPU ZCMEM;\n    Region * * CPU SYSMEM;\n    Layout * * GPU SOA F_order;\n}\n";
    let file = dir.path().join("summa.rs");
    std::fs::write(&file, weak).unwrap();
    let o = tune(
        &[
            "--app",
            "summa",
            "--machine",
            "sim:p100x4",
            "--size",
            "small",
            "--optimizer",
            "coordinate",
            "--iterations",
            "4",
            "--quiet",
            "--out",
            dir.path().join("o2").to_str().unwrap(),
            "--write",
            "--write-file",
            file.to_str().unwrap(),
            "--write-check",
            "true",
        ],
        &[],
    );
    let stdout = String::from_utf8_lossy(&o.stdout);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("error: --write refused: the confirmed winner (")
            && stderr
                .contains("does not run on `local` (size tiny), where the app's tests run it: ")
            && !stderr.contains("run it: error:")
            && stderr.contains(
                "(--write-machines sets the machines it must run on); the source is unchanged"
            ),
        "{stdout}\n{stderr}"
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), weak);
}

#[test]
fn write_edits_only_what_changed() {
    let dir = tempfile::tempdir().unwrap();
    let (file, before) = weak_stencil_expert(dir.path());
    let out = dir.path().join("o");
    let o = tune(
        &[
            "--app",
            "stencil",
            "--machine",
            "sim:devbox",
            "--size",
            "small",
            "--optimizer",
            "coordinate",
            "--iterations",
            "3",
            "--quiet",
            "--out",
            out.to_str().unwrap(),
            "--write",
            "--write-file",
            file.to_str().unwrap(),
            "--write-check",
            "true",
        ],
        &[],
    );
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let after = std::fs::read_to_string(&file).unwrap();
    assert_ne!(after, before);
    // The checks ran on the test machines, the diff was printed.
    assert!(
        stdout.contains("--write: the new mapper maps and verifies on local (size tiny)\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("--write: the new mapper maps and verifies on emulated:2x4 (size tiny)\n"),
        "{stdout}"
    );
    let path = file.display().to_string();
    assert!(
        stdout.contains(&format!("--- {path}\n+++ {path} (new)\n@@ -")),
        "{stdout}"
    );
    assert!(
        stdout.contains("rewrote the mapper `StencilExpert` in ")
            && stdout.contains("(only the statements that changed; comments kept; "),
        "{stdout}"
    );
    // Every comment of the original is still there, and everything outside the mapper! too.
    for line in before.lines().filter(|l| l.trim_start().starts_with("//")) {
        assert!(after.contains(line), "lost comment {line:?}\n{after}");
    }
    let head = "//! A copy of an app's expert file.\n\nruntime::mapper! {\n    pub StencilExpert for names;\n";
    let tail = "\n}\n\n/// After the mapper.\npub fn after() {}\n";
    assert!(after.starts_with(head) && after.ends_with(tail), "{after}");
    // The new body is exactly the confirmed best mapper.
    let best = std::fs::read_to_string(out.join("best.mapper")).unwrap();
    let body = &after[head.len()..after.len() - tail.len()];
    let best = tuner::validate::canonicalize(&best).unwrap();
    assert_eq!(tuner::validate::canonicalize(body).unwrap(), best);
    // Statements the winner keeps are still written as they were (one-line statements of the
    // original whose canonical form the winner has, e.g. `m  =  ...` with its odd spacing).
    let mut kept = 0;
    for line in before[head.len()..before.len() - tail.len()]
        .lines()
        .map(str::trim)
    {
        if line.ends_with(';') && !line.starts_with("return") {
            let c = mapper_core::print::print(&mapper_core::parse::parse_text(line).program);
            if best.lines().any(|b| format!("{b}\n") == c) {
                assert!(after.contains(line), "{line:?} was rewritten\n{after}");
                kept += 1;
            }
        }
    }
    assert!(
        kept >= 1,
        "the winner kept no statement of the expert:\n{best}"
    );
    // No backup is left once the check passed.
    assert!(!dir.path().join("expert.rs.tune-backup").exists());
}
