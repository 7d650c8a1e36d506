//! The circuit: verified bit for bit on `local` and `emulated:2x4` with the expert, default and
//! all-framebuffer mappers, simulated on `sim:p100x4`; 200 seeded random mappers never change
//! the verified result; shared nodes in a memory the GPU cannot reach are a mapping error that
//! names the task, the argument and the memory.

use apps::{AppError, Application, MapperChoice, Problem, RunConfig, Verification};

mod common;
use common::{random_mapper, text, Rng};

fn app() -> &'static dyn Application {
    apps::find("circuit").expect("circuit")
}

fn cfg(machine: &str, size: &str, mapper: MapperChoice) -> RunConfig {
    common::config(app(), machine, size, mapper)
}

fn named(name: &str) -> MapperChoice {
    MapperChoice::resolve(app(), name).expect("named mapper")
}

#[test]
fn verifies_with_expert_default_and_all_fbmem_mappers() {
    for m in ["local", "emulated:2x4"] {
        for mapper in [
            MapperChoice::Expert,
            MapperChoice::Default,
            named("all_fbmem"),
        ] {
            let r = apps::run(app(), &cfg(m, "tiny", mapper)).expect("runs");
            assert!(
                r.outcome.verification.ok(),
                "{m}: {:?}",
                r.outcome.verification
            );
            assert_eq!(r.outcome.unit, "wire updates");
            assert_eq!(r.outcome.work, 4.0 * 40.0 * 3.0 * 10.0);
        }
    }
    let r = apps::run(app(), &cfg("local", "tiny", named("all_sysmem"))).expect("runs");
    assert!(r.outcome.verification.ok());
}

#[test]
fn one_piece_many_pieces_and_other_seeds_verify() {
    for size in [
        "tiny,pieces=1",
        "tiny,pieces=2,npp=2,wpp=5",
        "tiny,pieces=13,npp=30,wpp=7",
    ] {
        for machine in ["local", "emulated:1x3"] {
            let mut c = cfg(machine, size, MapperChoice::Expert);
            c.problem.seed = 7;
            let r = apps::run(app(), &c).expect(size);
            assert!(
                r.outcome.verification.ok(),
                "{size} on {machine}: {:?}",
                r.outcome.verification
            );
        }
    }
}

#[test]
fn a_wrong_voltage_is_named() {
    let g = apps::circuit::graph_of(&Problem::preset(app(), "tiny").expect("tiny"));
    let (mut v, w) = g.reference(2, 3);
    let cur: Vec<Vec<f32>> = (0..10)
        .map(|k| w.iter().map(|s| s.current[k]).collect())
        .collect();
    assert!(apps::circuit::verify(&g, 2, 3, &v, &cur).ok());
    v[17] += 1.0;
    match apps::circuit::verify(&g, 2, 3, &v, &cur) {
        Verification::Failed(m) => assert!(m.starts_with("voltage of node 17 is "), "{m}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn simulated_runs_are_deterministic() {
    for mapper in [
        MapperChoice::Expert,
        named("all_fbmem"),
        MapperChoice::Default,
    ] {
        let c = cfg("sim:p100x4", "small", mapper);
        let a = apps::run(app(), &c).expect("runs");
        let b = apps::run(app(), &c).expect("runs");
        assert!(a.simulated && a.verified());
        assert_eq!(a.outcome.verification, Verification::Simulated);
        assert_eq!(a.time_s, b.time_s);
        assert!(a.time_s > 0.0);
    }
    let a = apps::run(app(), &cfg("sim:p100x4", "small", MapperChoice::Expert)).expect("runs");
    assert_eq!(a.outcome.decomposition, "8 pieces on 4 GPU");
}

#[test]
fn random_mappers_never_change_the_result() {
    let mut rng = Rng(0xC1C0_17A5_0000_0001);
    let mut ran = 0;
    for k in 0..200 {
        let machine = ["local", "emulated:2x4", "emulated:1x3"][k % 3];
        let gpus = machine.starts_with("emulated");
        // The launch domains are 1-D: the placement functions index the point's only
        // coordinate.
        let src = random_mapper(app(), gpus, true, &mut rng).replace("ip[1]", "ip[0]");
        let c = cfg(
            machine,
            "tiny,iterations=2,steps=3",
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
            Err(e) => panic!("random-{k} on {machine}: {e}\n{src}"),
        }
    }
    assert_eq!(ran, 200);
}

/// The error a mapper ending in `stmt` (after the expert's text) gets on `emulated:1x2`, with
/// `{line}` in it standing for the statement's line.
fn mapping_error(stmt: &str) -> String {
    let src = format!("{}\n{stmt}\n", app().expert().source);
    let line = src.lines().position(|l| l == stmt).expect("the statement") + 1;
    match apps::run(
        app(),
        &cfg("emulated:1x2", "tiny", text("sys.mapper", &src)),
    ) {
        Err(AppError::Mapper(m)) => m
            .replace(&format!("sys.mapper:{line}:"), "sys.mapper:{line}:")
            .replace(&format!("\n{line} | "), "\n{line} | "),
        Err(e) => panic!("expected a mapping error, got {e}"),
        Ok(r) => panic!("expected a mapping error, got {r}"),
    }
}

#[test]
fn shared_nodes_in_a_memory_the_gpu_cannot_reach_are_a_mapping_error() {
    // `*` for the task: the error names every task whose argument the statement maps.
    assert_eq!(
        mapping_error("Region * rp_shared GPU SYSMEM;"),
        "error: GPU tasks cannot use SYSMEM, where this puts argument `shared_nodes` of tasks `calculate_new_currents`, `distribute_charge`, `update_voltages`\n  --> sys.mapper:{line}:24\n   |\n{line} | Region * rp_shared GPU SYSMEM;\n   |                        ^^^^^^\n   = help: use FBMEM or ZCMEM\n\nerror: could not check `sys.mapper` due to 1 previous error\n"
    );
    // A named task and argument.
    assert_eq!(
        mapping_error("Region distribute_charge ghost_nodes GPU SYSMEM;"),
        "error: GPU tasks cannot use SYSMEM, where this puts argument `ghost_nodes` of task `distribute_charge`\n  --> sys.mapper:{line}:42\n   |\n{line} | Region distribute_charge ghost_nodes GPU SYSMEM;\n   |                                          ^^^^^^\n   = help: use FBMEM or ZCMEM\n\nerror: could not check `sys.mapper` due to 1 previous error\n"
    );
}

/// A runtime bug the random mappers found: with a read instance of ghost nodes collected early
/// after `calculate_new_currents`, 64-byte-aligned instances and this placement, a shared node's
/// voltage came out as -inf on `emulated:1x3`: the collected instance also held the only valid
/// copy of another field (`charge`), and early collection dropped it.
#[test]
fn collecting_ghost_nodes_early_keeps_the_result() {
    let src = "mcpu = Machine(CPU);
mgpu = Machine(GPU);
Layout calculate_new_currents 3 * SOA F_order Align==64;
CollectMemory calculate_new_currents ghost_nodes;
def place1(Task task) {
    ip = task.ipoint;
    f = mgpu.merge(0, 1);
    return f[(ip[0] * 2 + ip[0] * 2 + 0) % f.size[0]];
}
IndexTaskMap calculate_new_currents place1;
Layout update_voltages 1 * SOA F_order Align==64;
def place3(Task task) {
    ip = task.ipoint;
    f = mgpu.merge(0, 1);
    return f[(ip[0] * 3 + ip[0] * 2 + 2) % f.size[0]];
}
IndexTaskMap update_voltages place3;
";
    let c = cfg(
        "emulated:1x3",
        "tiny,iterations=2,steps=3",
        text("collect.mapper", src),
    );
    let r = apps::run(app(), &c).expect("runs");
    assert!(r.outcome.verification.ok(), "{:?}", r.outcome.verification);
}
