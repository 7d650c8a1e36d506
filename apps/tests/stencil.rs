//! The stencil: verified on `local` and `emulated:2x4` with the expert and default mappers,
//! simulated on `sim:p100x4`; 200 seeded random mappers never change the verified result; a
//! layout the GPU kernel cannot take is refused before the run with the exact message; a
//! memory that is too small is the runtime's out-of-memory error.

use apps::{AppError, Application, MapperChoice, RunConfig, Verification};
use runtime::RuntimeError;

mod common;
use common::{random_mapper, text, Rng};

fn app() -> &'static dyn Application {
    apps::find("stencil").expect("stencil")
}

fn cfg(machine: &str, size: &str, mapper: MapperChoice) -> RunConfig {
    common::config(app(), machine, size, mapper)
}

#[test]
fn verifies_with_expert_and_default_mappers() {
    for m in ["local", "emulated:2x4", "emulated:1x3"] {
        for mapper in [MapperChoice::Expert, MapperChoice::Default] {
            let r = apps::run(app(), &cfg(m, "tiny", mapper)).expect("runs");
            assert!(
                r.outcome.verification.ok(),
                "{m}: {:?}",
                r.outcome.verification
            );
            assert_eq!(r.outcome.unit, "cell updates");
            assert_eq!(r.outcome.work, 44.0 * 44.0 * 4.0);
        }
    }
}

#[test]
fn uneven_tiles_and_more_tiles_than_processors_verify() {
    for size in [
        "tiny,n=37,tiles=6",
        "tiny,n=23,steps=3,tiles=12",
        "tiny,n=5,tiles=1",
    ] {
        let r = apps::run(app(), &cfg("emulated:1x4", size, MapperChoice::Expert)).expect(size);
        assert!(
            r.outcome.verification.ok(),
            "{size}: {:?}",
            r.outcome.verification
        );
    }
}

#[test]
fn simulated_runs_are_deterministic() {
    let c = cfg("sim:p100x4", "small", MapperChoice::Expert);
    let a = apps::run(app(), &c).expect("runs");
    let b = apps::run(app(), &c).expect("runs");
    assert!(a.simulated && a.verified());
    assert_eq!(a.outcome.verification, Verification::Simulated);
    assert_eq!(a.time_s, b.time_s);
    assert!(a.time_s > 0.0);
    assert_eq!(a.outcome.decomposition, "2x2 tiles on 4 GPU");
}

#[test]
fn every_step_moves_halos_between_tiles() {
    // Two tiles on two emulated GPUs: each step copies the R-wide halo strips between the two
    // framebuffers (and nothing else once the tiles are in place).
    let mut c = cfg("emulated:1x2", "tiny,n=32,steps=5", MapperChoice::Expert);
    c.profile = true;
    let r = apps::run(app(), &c).expect("runs");
    assert!(r.outcome.verification.ok());
    let p = r.profile.expect("profile");
    let fb_to_fb: u64 = p
        .bytes_per_pair()
        .iter()
        .filter(|(k, _)| k.starts_with("FBMEM") && k.contains("-> FBMEM"))
        .map(|(_, b)| *b)
        .sum();
    // Per step, each of the two tiles receives a 2 x 32 halo of `input` (8 bytes).
    assert!(fb_to_fb >= 5 * 2 * 2 * 32 * 8, "{:?}", p.bytes_per_pair());
}

#[test]
fn random_mappers_never_change_the_result() {
    let mut rng = Rng(0x57E7_C11A_0000_0001);
    let mut ran = 0;
    for k in 0..200 {
        let machine = ["local", "emulated:2x4", "emulated:1x3"][k % 3];
        let gpus = machine.starts_with("emulated");
        let src = random_mapper(app(), gpus, true, &mut rng);
        let c = cfg(
            machine,
            "tiny,n=20,steps=3",
            text(&format!("random-{k}"), &src),
        );
        match apps::run(app(), &c) {
            Ok(r) => {
                assert!(
                    r.outcome.verification.ok(),
                    "random-{k} on {machine}: {:?}\n{src}",
                    r.outcome.verification
                );
                ran += 1;
            }
            // The GPU kernel's layout rule may refuse a random layout; nothing else may fail.
            Err(AppError::Layout(m)) => assert!(m.contains("GPU stencil kernel"), "{m}"),
            Err(e) => panic!("random-{k} on {machine}: {e}\n{src}"),
        }
    }
    assert!(ran >= 150, "only {ran} of 200 random mappers ran");
}

#[test]
fn a_layout_the_gpu_kernel_cannot_take_is_refused_before_the_run() {
    let src = format!(
        "{}\nLayout stencil ghost GPU SOA F_order;\n",
        app().expert().source
    );
    match apps::run(app(), &cfg("emulated:1x2", "tiny", text("f.mapper", &src))) {
        Err(AppError::Layout(m)) => assert_eq!(
            m,
            "the mapper lays out argument `ghost` of task `stencil` on GPU in FBMEM as SOA F_order, \
             which the GPU stencil kernel cannot take (it needs SOA instances in C_order (unit stride \
             along the last dimension)); help: use `Layout stencil ghost GPU SOA C_order;`"
        ),
        other => panic!("expected a layout refusal, got {other:?}"),
    }
    // The CPU variant takes any layout.
    let src = "Task * CPU;\nLayout * * * AOS F_order;\n";
    let r = apps::run(app(), &cfg("local", "tiny", text("aos.mapper", src))).expect("runs");
    assert!(r.outcome.verification.ok());
}

#[test]
fn a_memory_too_small_is_the_runtimes_out_of_memory_error() {
    // 4 tiles of 100000^2 points x 16 bytes fit no memory of a P100 node.
    let src = "Task * GPU;\nRegion * * GPU FBMEM;\n";
    let c = cfg("sim:p100x4", "small,n=200000", text("fb.mapper", src));
    match apps::run(app(), &c) {
        Err(AppError::Runtime(e @ RuntimeError::MemoryFull { .. })) => {
            let m = e.to_string();
            assert!(m.starts_with("out of memory mapping task `init`"), "{m}");
            assert!(m.contains("FBMEM"), "{m}");
        }
        other => panic!("expected out of memory, got {other:?}"),
    }
}

#[test]
fn a_full_emulated_framebuffer_is_the_runtimes_out_of_memory_error() {
    // 64 KB memories cannot hold a 64 x 128 tile's two fields (128 KB).
    let src = "Task * GPU;\nRegion * * GPU FBMEM;\n";
    let c = cfg(
        "emulated:1x2,fb=65536,zc=65536,sys=65536",
        "tiny,n=128",
        text("fb.mapper", src),
    );
    match apps::run(app(), &c) {
        Err(AppError::Runtime(e @ RuntimeError::MemoryFull { .. })) => {
            assert!(e.to_string().contains("FBMEM[0."), "{e}");
        }
        other => panic!("expected out of memory, got {other:?}"),
    }
}

#[test]
fn the_expert_is_at_least_as_fast_as_the_default_in_the_simulator() {
    for m in ["sim:p100x4", "sim:h100x4"] {
        let e = apps::run(app(), &cfg(m, "large", MapperChoice::Expert)).expect("expert");
        let d = apps::run(app(), &cfg(m, "large", MapperChoice::Default)).expect("default");
        assert!(
            e.time_s <= d.time_s * 1.001,
            "{m}: expert {} default {}",
            e.time_s,
            d.time_s
        );
    }
}
