//! The simulator: determinism, the task and copy cost model with exact times, FIFO copy
//! contention, memory capacity enforced as in real runs, and simulated profiles.

#[path = "programs/tiled_gemm.rs"]
mod tiled_gemm;

use runtime::mapper_core::interp::Interpreted;
use runtime::mapper_core::{MemKind, ProcKind};
use runtime::profile::CopyKind;
use runtime::task::{Cost, CostModel};
use runtime::*;

fn dsl(name: &str, text: &str) -> Interpreted {
    Interpreted::from_text(name, text).unwrap_or_else(|d| panic!("{d:?}"))
}

#[test]
fn simulation_is_deterministic() {
    for machine in ["sim:p100x4", "sim:cluster4x4"] {
        let m = DefaultMapper;
        let a = tiled_gemm::run(machine, &m, 4096, 8, false).unwrap();
        let b = tiled_gemm::run(machine, &m, 4096, 8, false).unwrap();
        assert!(a.simulated);
        assert_eq!(a.tasks, 3 * 64 + 8 * 64);
        assert!(a.ns > 0);
        assert_eq!(a.ns, b.ns, "{machine}");
        assert_eq!(a.summary, b.summary, "{machine}");
        assert_eq!(a.trace, b.trace, "{machine}");
    }
}

#[test]
fn gemm_time_follows_the_cost_model() {
    // One 1x1 tile of 1024^2 on one P100: 2 * 1024^3 flops at the curve's first point
    // (3500 GFLOP/s at 2.15e9 flops; 2.147e9 is below it, so clamped) plus 10 us launch.
    let m = dsl("gpu", "Task * GPU;\nRegion * * GPU FBMEM;");
    let o = tiled_gemm::run("sim:p100x4", &m, 1024, 1, false).unwrap();
    let flops = 2.0 * 1024f64.powi(3);
    let body = (flops / 3500.0).round() as u64 + 10_000;
    // Copies SYSMEM -> FBMEM are not needed (init ran on the GPU), so the time is the task.
    assert_eq!(o.ns, body, "{}", o.summary);
}

/// A task reading an 8 MB region, no flops, on GPU 0 of the P100 node; with `streamed`, its
/// cost model says it streams that many bytes from a memory the GPU does not cache.
fn read_task_time(mem: &str, streamed: Option<f64>) -> (u64, Profile) {
    let mut app = App::new("zc");
    app.task(
        TaskDecl::new("produce")
            .arg("out", Privilege::WriteDiscard, &["x"], &["r"])
            .all_kinds(|_| Ok(Value::None)),
    );
    let mut consume = TaskDecl::new("consume")
        .arg("in", Privilege::Read, &["x"], &["r"])
        .all_kinds(|_| Ok(Value::None));
    if let Some(s) = streamed {
        consume = consume.cost(CostModel::Fixed(Cost {
            streamed: vec![s],
            ..Cost::default()
        }));
    }
    app.task(consume);
    let m = dsl(
        mem,
        &format!("Task * GPU;\nRegion * * GPU {mem};\nSingleTaskMap * first;\nmgpu = Machine(GPU);\ndef first(Task t) {{\n    return mgpu[0, 0];\n}}\n"),
    );
    let mut rt = Runtime::from_spec(app, "sim:p100x4", &m).unwrap();
    let r = rt
        .create_region(
            "r",
            IndexSpace::range(0, 999_999),
            FieldSpace::new().field::<f64>("x"),
        )
        .unwrap();
    rt.launch(TaskHandle(0), &[r.into()], &[]).unwrap();
    rt.launch(TaskHandle(1), &[r.into()], &[]).unwrap();
    rt.wait_all().unwrap();
    let p = rt.profile();
    let t = p.tasks.iter().find(|t| &*t.name == "consume").unwrap();
    (t.end_ns - t.start_ns, p)
}

#[test]
fn zero_copy_is_slower_than_framebuffer_for_a_gpu_task() {
    let (fb, p) = read_task_time("FBMEM", None);
    let (zc, _) = read_task_time("ZCMEM", None);
    // 8e6 bytes: 720 GB/s from FBMEM, 10 GB/s from ZCMEM over PCIe; 10 us launch.
    assert_eq!(fb, 10_000 + 11_111);
    assert_eq!(zc, 10_000 + 800_000);
    assert_eq!(p.tasks[0].proc.kind, ProcKind::Gpu);
    assert!(p.copies.is_empty(), "{:?}", p.copies);
}

#[test]
fn streamed_bytes_are_charged_only_where_the_processor_does_not_cache() {
    // The task re-reads its 8 MB four times (32e6 streamed bytes): the GPU's caches absorb that
    // from FBMEM, but every pass crosses PCIe from ZCMEM (`cached = false` in p100x4.toml).
    let (fb, _) = read_task_time("FBMEM", Some(32e6));
    let (zc, _) = read_task_time("ZCMEM", Some(32e6));
    assert_eq!(fb, 10_000 + 11_111);
    assert_eq!(zc, 10_000 + 3_200_000);
}

#[test]
fn copies_on_one_channel_queue_and_others_overlap() {
    // Two regions written on the CPU (SYSMEM), then read by tasks on GPU 0 and GPU 1 from
    // their framebuffers: each GPU task needs two SYSMEM -> FBMEM copies. Copies to the same
    // framebuffer share a channel (FIFO), copies to different GPUs do not.
    let mut app = App::new("contention");
    app.task(
        TaskDecl::new("produce")
            .arg("out", Privilege::WriteDiscard, &["x"], &["r", "s"])
            .all_kinds(|_| Ok(Value::None)),
    );
    app.task(
        TaskDecl::new("consume")
            .arg("a", Privilege::Read, &["x"], &["r"])
            .arg("b", Privilege::Read, &["x"], &["s"])
            .all_kinds(|_| Ok(Value::None)),
    );
    let m = dsl(
        "m",
        "Task produce CPU;\nTask consume GPU;\nRegion * * GPU FBMEM;\nRegion * * CPU SYSMEM;\n",
    );
    let mut rt = Runtime::from_spec(app, "sim:p100x4", &m).unwrap();
    let fs = || FieldSpace::new().field::<f64>("x");
    let r = rt
        .create_region("r", IndexSpace::range(0, 1_199_999), fs())
        .unwrap();
    let s = rt
        .create_region("s", IndexSpace::range(0, 1_199_999), fs())
        .unwrap();
    rt.launch(TaskHandle(0), &[r.into()], &[]).unwrap();
    rt.launch(TaskHandle(0), &[s.into()], &[]).unwrap();
    rt.wait_all().unwrap();
    let t0 = rt.elapsed_ns();
    // Round-robin single placement: the two consumers go to GPU 0 and GPU 1.
    rt.launch(TaskHandle(1), &[r.into(), s.into()], &[])
        .unwrap();
    rt.launch(TaskHandle(1), &[r.into(), s.into()], &[])
        .unwrap();
    rt.wait_all().unwrap();
    let p = rt.profile();
    let copies: Vec<_> = p
        .copies
        .iter()
        .filter(|c| c.kind == CopyKind::Copy)
        .collect();
    assert_eq!(copies.len(), 4, "{}", p.summary());
    // 9.6e6 bytes at 12 GB/s plus 10 us latency = 810 us per copy.
    let d = 10_000 + 800_000;
    let mut by_dst: Vec<(String, u64, u64)> = copies
        .iter()
        .map(|c| (c.dst.to_string(), c.start_ns - t0, c.end_ns - t0))
        .collect();
    by_dst.sort();
    assert_eq!(
        by_dst,
        vec![
            ("FBMEM[0.0]".to_string(), 0, d),
            ("FBMEM[0.0]".to_string(), d, 2 * d),
            ("FBMEM[0.1]".to_string(), 0, d),
            ("FBMEM[0.1]".to_string(), d, 2 * d),
        ]
    );
    // Each consumer starts when its second copy lands and reads 19.2 MB at 720 GB/s.
    for t in p.tasks.iter().filter(|t| &*t.name == "consume") {
        assert_eq!(t.start_ns - t0, 2 * d);
        assert_eq!(t.end_ns - t.start_ns, 10_000 + 26_667);
    }
    assert_eq!(rt.elapsed_ns() - t0, 2 * d + 10_000 + 26_667);
}

/// The emulated machine `emulated:1x1,fb=1M` described in TOML, so the simulator runs it.
const EMULATED_1X1: &str = r#"
nodes = 1
[[processor]]
kind = "CPU"
count = 2
gflops = 10.0
[[processor]]
kind = "OMP"
count = 1
threads = 2
gflops = 20.0
[[processor]]
kind = "GPU"
count = 1
gflops = 1000.0
[[memory]]
kind = "SYSMEM"
capacity = "1G"
bandwidth = 20.0
[[memory]]
kind = "ZCMEM"
capacity = "64M"
bandwidth = 20.0
[[memory]]
kind = "FBMEM"
capacity = "1M"
bandwidth = 500.0
[[access]]
proc = "CPU"
mem = "SYSMEM"
bandwidth = 20.0
[[access]]
proc = "CPU"
mem = "ZCMEM"
bandwidth = 15.0
[[access]]
proc = "OMP"
mem = "SYSMEM"
bandwidth = 20.0
[[access]]
proc = "OMP"
mem = "ZCMEM"
bandwidth = 15.0
[[access]]
proc = "GPU"
mem = "FBMEM"
bandwidth = 500.0
[[access]]
proc = "GPU"
mem = "ZCMEM"
bandwidth = 12.0
"#;

fn write_machine(name: &str) -> String {
    let dir = std::env::temp_dir().join(format!("runtime-sim-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, EMULATED_1X1).unwrap();
    path.display().to_string()
}

/// A GPU task over a region of `points` f64 in FBMEM, twice in sequence.
fn fb_program(machine: &str, points: i64) -> Result<(), String> {
    let mut app = App::new("cap");
    app.task(
        TaskDecl::new("fill")
            .arg("out", Privilege::WriteDiscard, &["x"], &["big"])
            .all_kinds(|_| Ok(Value::None)),
    );
    let mut rt = Runtime::from_spec(app, machine, &fb_only("fill")).map_err(|e| e.to_string())?;
    let r = rt
        .create_region(
            "big",
            IndexSpace::range(0, points - 1),
            FieldSpace::new().field::<f64>("x"),
        )
        .map_err(|e| e.to_string())?;
    rt.launch(TaskHandle(0), &[r.into()], &[])
        .map_err(|e| e.to_string())?;
    rt.wait_all().map_err(|e| e.to_string())
}

/// GPU only, FBMEM only (no fallback memory) for every task's first argument.
fn fb_only(task: &str) -> TableMapper {
    let mut m = TableMapper::new("fb").kinds(&[ProcKind::Gpu]);
    m.memories
        .insert((task.into(), 0, ProcKind::Gpu), vec![MemKind::Fbmem]);
    m
}

#[test]
fn over_full_framebuffer_fails_exactly_as_in_a_real_run() {
    let file = write_machine("emu1x1.toml");
    // 200k f64 = 1.6 MB > 1 MB framebuffer.
    let real = fb_program("emulated:1x1,fb=1M", 200_000).unwrap_err();
    let sim = fb_program(&file, 200_000).unwrap_err();
    assert_eq!(real, sim);
    assert!(
        sim.starts_with("out of memory mapping task `fill` at point [0], argument `out` (region `big`): FBMEM[0.0] needs 1600000 bytes but only 1048576 of 1048576 bytes are available"),
        "{sim}"
    );
    // 100k f64 fits in both.
    fb_program("emulated:1x1,fb=1M", 100_000).unwrap();
    fb_program(&file, 100_000).unwrap();
    let m = MachineDesc::parse(&file).unwrap();
    assert!(m.simulated);
    assert_eq!(
        m.mems.iter().map(|x| x.label()).collect::<Vec<_>>(),
        MachineDesc::parse("emulated:1x1,fb=1M")
            .unwrap()
            .mems
            .iter()
            .map(|x| x.label())
            .collect::<Vec<_>>()
    );
}

#[test]
fn eviction_under_pressure_matches_the_real_run() {
    // Three 600 KB regions written on the GPU in turn: each needs the previous instance
    // evicted (written back to SYSMEM) from the 1 MB framebuffer. Both runs succeed and record
    // the same copies.
    let file = write_machine("emu1x1-evict.toml");
    let run = |machine: &str| {
        let mut app = App::new("evict");
        app.task(
            TaskDecl::new("fill")
                .arg("out", Privilege::WriteDiscard, &["x"], &["r0", "r1", "r2"])
                .all_kinds(|_| Ok(Value::None)),
        );
        let mut rt = Runtime::from_spec(app, machine, &fb_only("fill")).unwrap();
        let mut rs = Vec::new();
        for i in 0..3 {
            rs.push(
                rt.create_region(
                    &format!("r{i}"),
                    IndexSpace::range(0, 74_999),
                    FieldSpace::new().field::<f64>("x"),
                )
                .unwrap(),
            );
        }
        for r in &rs {
            rt.launch(TaskHandle(0), &[(*r).into()], &[]).unwrap();
        }
        rt.wait_all().unwrap();
        let p = rt.profile();
        let mut copies: Vec<(CopyKind, String, String, u64)> = p
            .copies
            .iter()
            .map(|c| {
                (
                    c.kind,
                    c.src.as_deref().unwrap_or("").to_string(),
                    c.dst.to_string(),
                    c.bytes,
                )
            })
            .collect();
        copies.sort();
        (copies, rt.memory_usage())
    };
    let (real, real_mem) = run("emulated:1x1,fb=1M");
    let (sim, sim_mem) = run(&file);
    assert_eq!(real, sim);
    assert_eq!(real_mem, sim_mem);
    assert_eq!(
        sim,
        vec![
            (
                CopyKind::Writeback,
                "FBMEM[0.0]".to_string(),
                "SYSMEM[0.0]".to_string(),
                600_000
            );
            2
        ]
    );
}

#[test]
fn simulated_runs_compute_no_data() {
    let mut app = App::new("nodata");
    app.task(
        TaskDecl::new("t")
            .arg("out", Privilege::WriteDiscard, &["x"], &["r"])
            .cpu(|_| panic!("a simulated run must not execute task bodies")),
    );
    let mut rt = Runtime::with_defaults(app, "sim:p100x4").unwrap();
    assert!(rt.is_simulated());
    let r = rt
        .create_region(
            "r",
            IndexSpace::range(0, 9),
            FieldSpace::new().field::<f64>("x"),
        )
        .unwrap();
    rt.fill_field(r, "x", 1.0f64).unwrap();
    let f = rt.launch(TaskHandle(0), &[r.into()], &[]).unwrap();
    assert_eq!(f.get(), Ok(Value::None));
    rt.wait_all().unwrap();
    assert_eq!(
        rt.read_field::<f64>(r, "x").unwrap_err().to_string(),
        "read_field `x`: a simulated run computes no data (machine `sim:p100x4`); check Runtime::is_simulated() and skip result checks"
    );
    let p = rt.profile();
    assert_eq!(p.tasks.len(), 1);
    // A CPU task, 80 bytes from SYSMEM at 12 GB/s, 3 us launch; SYSMEM already holds the data.
    assert_eq!(p.tasks[0].end_ns - p.tasks[0].start_ns, 3_000 + 7);
    let usage = rt.memory_usage();
    assert_eq!(usage[0], ("SYSMEM[0.0]".to_string(), 80, 192 << 30));
}

#[test]
fn real_runs_are_unchanged_by_the_cost_model() {
    let m = DefaultMapper;
    let o = tiled_gemm::run("local", &m, 32, 4, true).unwrap();
    assert!(!o.simulated);
    assert_eq!(o.max_err, 0.0);
    assert_eq!(o.tasks, 3 * 16 + 4 * 16);
}
