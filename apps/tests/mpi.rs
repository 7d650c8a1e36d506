//! Multi-rank runs under `mpirun` (feature `mpi`; skipped with a message when `mpirun` is
//! missing): random mappers never change results across 2 ranks, a rank killed mid-run ends
//! the job with an error and no hang, and a mapping error on one rank ends every rank with the
//! error printed once. Every job runs under a time limit.

#![cfg(feature = "mpi")]

mod common;

use common::{random_mapper, Rng};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_mapper");

/// `mpirun` if it runs here, else `None` (the caller prints why it skips).
fn mpirun() -> Option<&'static str> {
    let ok = Command::new("mpirun")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    ok.then_some("mpirun")
}

/// `mpirun` with the flags a shared test host needs, then `ranks` as given.
fn job() -> Command {
    let mut c = Command::new("mpirun");
    c.args(["--oversubscribe", "--allow-run-as-root"]);
    c.env("OMPI_MCA_rmaps_base_oversubscribe", "1");
    c
}

/// Runs `cmd` to completion or kills it after `limit`; the output and whether it finished.
fn run_limited(mut cmd: Command, limit: Duration) -> (Output, bool) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn mpirun");
    let start = Instant::now();
    let finished = loop {
        if child.try_wait().expect("wait").is_some() {
            break true;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            break false;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    (child.wait_with_output().expect("output"), finished)
}

fn json_line(out: &Output) -> serde_json::Value {
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().last().unwrap_or_default();
    serde_json::from_str(line).unwrap_or_else(|e| {
        panic!(
            "no JSON line ({e}) in:\n{text}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn tempdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("mapper-mpi-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

/// One process on `emulated:2x2,cpus=2` and two ranks on `mpi:emulated:1x2,cpus=2` (the same
/// machine) with the same random mapper: both verify and read back bit-identical results.
#[test]
fn random_mappers_under_two_ranks_never_change_results() {
    if mpirun().is_none() {
        eprintln!("skipped: mpirun is not installed");
        return;
    }
    let dir = tempdir("random");
    for (app, size, seeds) in [
        ("stencil", "tiny", 0..3u64),
        ("circuit", "tiny", 0..2),
        ("cannon", "tiny", 0..2),
        ("cosma", "tiny", 0..2),
    ] {
        let a = apps::find(app).expect("app");
        for seed in seeds {
            let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ ((seed + 1) * 7919));
            let mut text = random_mapper(a, true, matches!(app, "stencil" | "circuit"), &mut rng);
            if app == "circuit" {
                // Circuit's launches are 1-D.
                text = text.replace("ip[1]", "ip[0]");
            }
            let file = dir.join(format!("{app}-{seed}.mapper"));
            std::fs::write(&file, &text).expect("write mapper");
            let one = Command::new(BIN)
                .args(["run", "--app", app, "--size", size, "--json", "--machine"])
                .arg("emulated:2x2,cpus=2")
                .arg("--mapper")
                .arg(&file)
                .output()
                .expect("run mapper");
            assert!(
                one.status.success(),
                "{app} seed {seed}, one process: {}\n{text}",
                String::from_utf8_lossy(&one.stderr)
            );
            let mut c = job();
            c.args([
                "-np", "2", BIN, "run", "--app", app, "--size", size, "--json",
            ])
            .args([
                "--machine",
                "mpi:emulated:1x2,cpus=2",
                "--time-limit",
                "100",
            ])
            .arg("--mapper")
            .arg(&file);
            let (two, finished) = run_limited(c, Duration::from_secs(120));
            assert!(finished, "{app} seed {seed}: 2 ranks did not finish");
            assert!(
                two.status.success(),
                "{app} seed {seed}, 2 ranks: {}\n{text}",
                String::from_utf8_lossy(&two.stderr)
            );
            let (j1, j2) = (json_line(&one), json_line(&two));
            assert_eq!(j2["verified"], true, "{app} seed {seed}: {j2}");
            assert_eq!(j2["ranks"], 2);
            assert_eq!(
                j1["result_digest"], j2["result_digest"],
                "{app} seed {seed}: results differ between one process and 2 ranks\n{text}"
            );
            // Rank 0 alone prints the report.
            assert_eq!(String::from_utf8_lossy(&two.stdout).lines().count(), 1);
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Rank 1 of a long run is killed: the job ends with an error, well before its time limit.
#[test]
fn a_killed_rank_ends_the_job_without_a_hang() {
    if mpirun().is_none() {
        eprintln!("skipped: mpirun is not installed");
        return;
    }
    let dir = tempdir("kill");
    let script = format!(
        "echo $$ > {}/pid.$OMPI_COMM_WORLD_RANK; exec {BIN} run --app stencil --machine mpi --size tiny --set steps=1000000 --time-limit 120",
        dir.display()
    );
    let mut c = job();
    c.args(["-np", "2", "sh", "-c", &script]);
    let child = c
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn mpirun");
    let pid_file = dir.join("pid.1");
    let start = Instant::now();
    let pid = loop {
        if let Some(p) = read_pid(&pid_file) {
            break p;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "rank 1 never started"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    // Let the ranks exchange data for a while, then kill rank 1.
    std::thread::sleep(Duration::from_millis(1500));
    let killed = Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let killed_at = Instant::now();
    let mut child = child;
    let finished = loop {
        if child.try_wait().expect("wait").is_some() {
            break true;
        }
        if killed_at.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            break false;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = child.wait_with_output().expect("output");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(finished, "the job hung after rank 1 was killed:\n{err}");
    assert!(
        !out.status.success(),
        "the job succeeded after a rank was killed"
    );
    assert_eq!(
        err.matches("exited on signal 9").count(),
        1,
        "mpirun reports the killed rank once:\n{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn read_pid(p: &Path) -> Option<u32> {
    std::fs::read_to_string(p).ok()?.trim().parse().ok()
}

/// Rank 1 alone gets a mapper whose placement is out of range: every rank stops, the mapping
/// error is printed once (by rank 0), and the job fails.
#[test]
fn a_mapping_error_on_one_rank_ends_every_rank_with_one_message() {
    if mpirun().is_none() {
        eprintln!("skipped: mpirun is not installed");
        return;
    }
    let dir = tempdir("maperr");
    let bad = dir.join("far.mapper");
    std::fs::write(
        &bad,
        "Task * CPU;\nRegion * * CPU SYSMEM;\nm = Machine(CPU);\ndef far(Task task) {\n    return m[0, 7];\n}\nIndexTaskMap * far;\n",
    )
    .expect("write mapper");
    let mut c = job();
    let args = [
        "run",
        "--app",
        "stencil",
        "--machine",
        "mpi",
        "--size",
        "tiny",
    ];
    c.args(["-np", "1", BIN])
        .args(args)
        .args(["--time-limit", "100", ":", "-np", "1", BIN])
        .args(args)
        .args(["--time-limit", "100", "--mapper"])
        .arg(&bad);
    let (out, finished) = run_limited(c, Duration::from_secs(120));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(finished, "the job hung:\n{err}");
    assert!(!out.status.success());
    assert_eq!(out.stdout.len(), 0, "no report is printed");
    let want = "mapping error: mapping task `init` at point [0, 0] in function `far` (line 5:12): index 7 out of bound for dimension 1 of size 1";
    assert_eq!(
        err.matches(want).count(),
        1,
        "the error is printed once:\n{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
