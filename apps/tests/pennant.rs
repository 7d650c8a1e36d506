//! PENNANT: the sequential method against the original's reference outputs; the task version
//! verified against the sequential method on `local` and emulated GPUs with the expert, default
//! and all-framebuffer mappers, simulated on `sim:p100x4`; bitwise the same result under every
//! mapping (the expert's, the default, and 120 seeded random mappers); the sedov blast run
//! for 160 cycles.

use apps::pennant::params::{
    compare, parse_reference, Params, LEBLANC_PNT, LEBLANC_STD, SEDOV_PNT, SEDOV_STD,
};
use apps::pennant::seq::Hydro;
use apps::{Application, MapperChoice, RunConfig, RunReport, Verification};

mod common;
use common::{random_mapper, Rng};

fn check(pnt: &str, std: &str, rel: f64, abs: f64) {
    let p = Params::parse(pnt).unwrap();
    let mut h = Hydro::new(&p);
    h.run();
    let want = parse_reference(std).unwrap();
    if let Some((f, z, g, w)) = compare([&h.zr, &h.ze, &h.zp], &want, rel, abs) {
        panic!(
            "cycle {}: {f} of zone {} is {g:e}, reference {w:e}",
            h.cycle,
            z + 1
        );
    }
}

#[test]
fn sequential_sedov_matches_reference() {
    check(SEDOV_PNT, SEDOV_STD, 1e-8, 2e-6);
}

#[test]
fn sequential_leblanc_matches_reference() {
    check(LEBLANC_PNT, LEBLANC_STD, 1e-8, 1e-8);
}

fn app() -> &'static dyn Application {
    apps::find("pennant").expect("pennant")
}

fn cfg(machine: &str, size: &str, mapper: MapperChoice) -> RunConfig {
    common::config(app(), machine, size, mapper)
}

fn named(name: &str) -> MapperChoice {
    MapperChoice::resolve(app(), name).expect("mapper")
}

fn run_ok(c: &RunConfig) -> RunReport {
    let r = apps::run(app(), c)
        .unwrap_or_else(|e| panic!("{} on {}: {e}", c.mapper.label(), c.machine));
    assert!(
        r.outcome.verification.ok(),
        "{} on {}: {:?}",
        c.mapper.label(),
        c.machine,
        r.outcome.verification
    );
    r
}

fn digest(r: &RunReport) -> f64 {
    r.outcome.extra["digest"]
}

#[test]
fn tiny_sedov_verifies_and_is_the_same_under_every_mapper() {
    let mut digests = Vec::new();
    for m in ["local", "emulated:2x4"] {
        for mapper in ["expert", "default", "all_fbmem"] {
            let r = run_ok(&cfg(m, "tiny", named(mapper)));
            assert_eq!(r.outcome.unit, "zone-cycles");
            assert_eq!(r.outcome.work, 45.0 * 45.0 * 10.0);
            assert_eq!(r.outcome.extra["cycles"], 10.0);
            digests.push(digest(&r));
        }
    }
    assert!(digests.iter().all(|d| *d == digests[0]), "{digests:?}");
}

#[test]
fn one_piece_is_bitwise_the_sequential_run_and_leblanc_verifies() {
    let r = run_ok(&cfg("local", "tiny,pieces=1", MapperChoice::Expert));
    assert!(
        r.outcome
            .verification
            .note()
            .contains("max abs. diff 0.0e0,"),
        "{:?}",
        r.outcome.verification
    );
    for size in [
        "tiny,problem=1,pieces=3",
        "tiny,problem=1,pieces=7,cycles=4",
    ] {
        run_ok(&cfg("emulated:1x3", size, MapperChoice::Expert));
    }
    // More pieces than zone rows: one piece per row.
    let r = run_ok(&cfg(
        "local",
        "tiny,nz=6,cycles=3,pieces=50",
        MapperChoice::Expert,
    ));
    assert_eq!(r.outcome.decomposition, "6 pieces of zone rows on 2 CPU");
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
    assert_eq!(a.outcome.work, 120.0 * 120.0 * 20.0);
    assert_eq!(a.outcome.decomposition, "4 pieces of zone rows on 4 GPU");
    for mapper in ["default", "all_fbmem"] {
        let r = apps::run(app(), &cfg("sim:p100x4", "small", named(mapper))).expect(mapper);
        assert!(r.time_s > 0.0, "{mapper}");
    }
}

#[test]
fn the_expert_beats_the_default_in_the_simulator() {
    // Boundary points in zero-copy memory: the per-cycle halo reads and reductions need no
    // framebuffer-to-framebuffer copies.
    for size in ["small", "large"] {
        let e = apps::run(app(), &cfg("sim:p100x4", size, MapperChoice::Expert)).expect("expert");
        let d = apps::run(app(), &cfg("sim:p100x4", size, MapperChoice::Default)).expect("default");
        assert!(
            e.time_s < d.time_s,
            "{size}: expert {} default {}",
            e.time_s,
            d.time_s
        );
    }
}

#[test]
fn random_mappers_never_change_the_result() {
    const SIZE: &str = "tiny,nz=12,cycles=6,pieces=3";
    let want = digest(&run_ok(&cfg("local", SIZE, MapperChoice::Expert)));
    let mut rng = Rng(0x9E77_A17C_0000_0001);
    for k in 0..120 {
        let machine = ["local", "emulated:2x4", "emulated:1x3"][k % 3];
        let gpus = machine.starts_with("emulated");
        let src = random_mapper(app(), gpus, true, &mut rng);
        let c = cfg(
            machine,
            SIZE,
            MapperChoice::Text {
                name: format!("random-{k}"),
                source: src.clone(),
            },
        );
        let r =
            apps::run(app(), &c).unwrap_or_else(|e| panic!("random-{k} on {machine}: {e}\n{src}"));
        assert!(
            r.outcome.verification.ok(),
            "random-{k} on {machine}: {:?}\n{src}",
            r.outcome.verification
        );
        assert_eq!(digest(&r), want, "random-{k} on {machine}\n{src}");
    }
}

#[test]
fn sedov_160_cycles_verifies_on_cpus_and_emulated_gpus() {
    let mut digests = Vec::new();
    for m in ["local", "emulated:2x4"] {
        let r = run_ok(&cfg(m, "tiny,cycles=160", MapperChoice::Expert));
        assert_eq!(r.outcome.extra["cycles"], 160.0);
        digests.push(digest(&r));
    }
    assert_eq!(digests[0], digests[1]);
}

#[test]
fn baseline_is_the_sequential_run_of_the_same_problem() {
    let r = run_ok(&cfg("local", "tiny", MapperChoice::Expert));
    let b = app().baseline(&r).expect("pennant has a baseline");
    // The tiny problem (45x45 zones, 10 cycles) runs to its end well within the time limit.
    assert_eq!(b.label, "sequential PENNANT, 1 thread, 10 cycles");
    assert!(b.rate.is_finite() && b.rate > 0.0, "rate {}", b.rate);
    // Advancing cycle by cycle is the sequential run.
    let p = apps::pennant::problem_params(&r.problem);
    let (mut a, mut h) = (Hydro::new(&p), Hydro::new(&p));
    a.run();
    let mut n = 0;
    while h.advance() {
        n += 1;
    }
    assert_eq!((n, h.cycle), (10, a.cycle));
    assert_eq!((h.zr, h.ze, h.zp), (a.zr, a.ze, a.zp));
}
