//! The circuit benchmark (the Legion circuit simulation): a graph of P pieces, each of `npp`
//! nodes and `wpp` wires of 10 RLC segments; about 20% of a piece's wires end at a shared node
//! of a neighbouring piece. Each iteration runs three index launches over the pieces:
//! `calculate_new_currents` (`steps` RLC steps per wire, reading node voltages of the piece's
//! private, shared and ghost nodes), `distribute_charge` (charge into private nodes in place, a
//! sum reduction into shared and ghost nodes) and `update_voltages`.
//!
//! Partitions of `all_nodes`: `rp_private` and `rp_shared` (disjoint; together the piece's
//! nodes) and `rp_ghost` (aliased: the other pieces' shared nodes the piece's wires reach);
//! `rp_wires` of `all_wires`.
//!
//! Verification is exact: node charge is kept in fixed point (i64, see
//! [`graph::CHARGE_SCALE`]), so the reductions, whose instances the runtime folds in the order
//! the point tasks finish, add exactly in any order; every node voltage and every segment
//! current is compared bit for bit with a sequential one-piece run, and the first differing
//! element is named.

mod expert;
#[cfg(feature = "cuda")]
mod gpu;
pub mod graph;
pub mod kernels;

pub use expert::{names, CircuitExpert};

use crate::{
    AppError, Application, Expert, Job, NamedMapper, Outcome, ParamDecl, Precision, Preset,
    Problem, Verification,
};
use graph::{Graph, SEGMENTS};
use kernels::*;
use runtime::{FieldSpace, IndexSpace, Point, Privilege, Rect, ReduceOp, TaskDecl, Value};
use std::collections::BTreeMap;

/// The circuit app.
pub struct Circuit;

/// The registered instance.
pub static CIRCUIT: Circuit = Circuit;

const PARAMS: &[ParamDecl] = &[
    ParamDecl {
        name: "pieces",
        about: "pieces of the graph",
        min: 1,
        max: 1 << 14,
    },
    ParamDecl {
        name: "npp",
        about: "nodes per piece",
        min: 2,
        max: 1 << 22,
    },
    ParamDecl {
        name: "wpp",
        about: "wires per piece",
        min: 1,
        max: 1 << 24,
    },
    ParamDecl {
        name: "iterations",
        about: "iterations (three index launches each)",
        min: 1,
        max: 1 << 20,
    },
    ParamDecl {
        name: "steps",
        about: "RLC steps per wire and iteration",
        min: 1,
        max: 1 << 20,
    },
];

const PRESETS: &[Preset] = &[
    Preset {
        name: "tiny",
        about: "milliseconds; for tests",
        values: &[
            ("pieces", 4),
            ("npp", 20),
            ("wpp", 40),
            ("iterations", 3),
            ("steps", 10),
        ],
    },
    Preset {
        name: "small",
        about: "tens of milliseconds on two cores (the tuner's default)",
        values: &[
            ("pieces", 8),
            ("npp", 250),
            ("wpp", 1000),
            ("iterations", 3),
            ("steps", 20),
        ],
    },
    Preset {
        name: "large",
        about: "the CPU benchmark",
        values: &[
            ("pieces", 16),
            ("npp", 2500),
            ("wpp", 10000),
            ("iterations", 5),
            ("steps", 100),
        ],
    },
    Preset {
        name: "gpu",
        about: "one GPU (10 pieces of 5000 nodes and 20000 wires, the standard 10000 steps)",
        values: &[
            ("pieces", 10),
            ("npp", 5000),
            ("wpp", 20000),
            ("iterations", 10),
            ("steps", 10000),
        ],
    },
    Preset {
        name: "multigpu",
        about: "four GPUs (10 pieces of 5000 nodes and 20000 wires per GPU)",
        values: &[
            ("pieces", 40),
            ("npp", 5000),
            ("wpp", 20000),
            ("iterations", 10),
            ("steps", 10000),
        ],
    },
];

const MAPPERS: &[NamedMapper] = &[
    NamedMapper {
        name: "all_fbmem",
        about: "shared and ghost nodes in the framebuffer too (copied between GPUs)",
        source: include_str!("all_fbmem.mapper"),
    },
    NamedMapper {
        name: "all_sysmem",
        about: "CPUs only, everything in system memory",
        source: include_str!("all_sysmem.mapper"),
    },
];

fn node_fields() -> FieldSpace {
    FieldSpace::new()
        .field::<f32>(CAPACITANCE)
        .field::<f32>(LEAKAGE)
        .field::<i64>(CHARGE)
        .field::<f32>(VOLTAGE)
}

fn wire_fields() -> FieldSpace {
    let mut fs = FieldSpace::new()
        .field::<i64>(IN_PTR)
        .field::<i64>(OUT_PTR)
        .field::<f32>(INDUCTANCE)
        .field::<f32>(RESISTANCE)
        .field::<f32>(WIRE_CAP);
    for n in CURRENT.iter().chain(WIRE_VOLTAGE.iter()) {
        fs = fs.field::<f32>(n);
    }
    fs
}

/// The graph of a problem.
pub fn graph_of(p: &Problem) -> Graph {
    Graph {
        pieces: p.get("pieces"),
        npp: p.get("npp"),
        wpp: p.get("wpp"),
        seed: p.seed,
    }
}

impl Application for Circuit {
    fn name(&self) -> &'static str {
        "circuit"
    }
    fn description(&self) -> &'static str {
        "Legion circuit simulation: RLC wires between pieces of nodes, charge through sum reductions into shared and ghost nodes"
    }
    fn expert(&self) -> Expert {
        expert::expert()
    }
    fn mappers(&self) -> &'static [NamedMapper] {
        MAPPERS
    }
    fn params(&self) -> &'static [ParamDecl] {
        PARAMS
    }
    fn presets(&self) -> &'static [Preset] {
        PRESETS
    }
    fn precisions(&self) -> &'static [Precision] {
        &[Precision::F32]
    }

    fn declare(&self, _: &Problem) -> runtime::App {
        let mut app = runtime::App::new("circuit");
        let wires_all: Vec<&str> = [IN_PTR, OUT_PTR, INDUCTANCE, RESISTANCE, WIRE_CAP]
            .into_iter()
            .chain(CURRENT)
            .chain(WIRE_VOLTAGE)
            .collect();
        let nodes_all = [CAPACITANCE, LEAKAGE, CHARGE, VOLTAGE];
        let (wires, private, shared, ghost) = (
            &["rp_wires", "all_wires"][..],
            &["rp_private", "all_nodes"][..],
            &["rp_shared", "all_nodes"][..],
            &["rp_ghost", "all_nodes"][..],
        );
        app.task(
            TaskDecl::new("init_pieces")
                .arg("wires", Privilege::WriteDiscard, &wires_all, &["all_wires"])
                .arg("nodes", Privilege::WriteDiscard, &nodes_all, &["all_nodes"])
                .all_kinds(init_pieces)
                .cost(init_cost()),
        );
        app.task(
            TaskDecl::new("calculate_new_currents")
                .arg("wires", Privilege::ReadWrite, &wires_all, wires)
                .arg("private_nodes", Privilege::Read, &[VOLTAGE], private)
                .arg("shared_nodes", Privilege::Read, &[VOLTAGE], shared)
                .arg("ghost_nodes", Privilege::Read, &[VOLTAGE], ghost)
                .all_kinds(calculate_new_currents)
                .cost(currents_cost())
                .index_launch(),
        );
        let sum = Privilege::Reduce(ReduceOp::Sum);
        app.task(
            TaskDecl::new("distribute_charge")
                .arg(
                    "wires",
                    Privilege::Read,
                    &[IN_PTR, OUT_PTR, CURRENT[0], CURRENT[SEGMENTS - 1]],
                    wires,
                )
                .arg("private_nodes", Privilege::ReadWrite, &[CHARGE], private)
                .arg("shared_nodes", sum, &[CHARGE], shared)
                .arg("ghost_nodes", sum, &[CHARGE], ghost)
                .all_kinds(distribute_charge)
                .cost(charge_cost())
                .index_launch(),
        );
        app.task(
            TaskDecl::new("update_voltages")
                .arg("private_nodes", Privilege::ReadWrite, &nodes_all, private)
                .arg("shared_nodes", Privilege::ReadWrite, &nodes_all, shared)
                .all_kinds(update_voltages)
                .cost(voltage_cost())
                .index_launch(),
        );
        app
    }

    fn run(&self, job: &mut Job) -> Result<Outcome, AppError> {
        let g = graph_of(&job.problem);
        let (iterations, steps) = (job.problem.get("iterations"), job.problem.get("steps"));
        let (kind, procs) = job.procs_of("calculate_new_currents")?;
        let (pieces, npp, ns) = (g.pieces, g.npp, g.shared());
        let nodes = job.rt.create_region(
            "all_nodes",
            IndexSpace::from_rect(Rect::r1(0, g.nodes() - 1)),
            node_fields(),
        )?;
        let wires = job.rt.create_region(
            "all_wires",
            IndexSpace::from_rect(Rect::r1(0, g.wires() - 1)),
            wire_fields(),
        )?;
        let rp_wires = job.rt.partition_equal(wires, "rp_wires", &[pieces])?;
        let mut private = Vec::new();
        let mut shared = Vec::new();
        let mut ghost = Vec::new();
        for p in 0..pieces {
            let base = p * npp;
            private.push((
                Point::p1(p),
                IndexSpace::from_rect(Rect::r1(base + ns, base + npp - 1)),
            ));
            shared.push((
                Point::p1(p),
                IndexSpace::from_rect(Rect::r1(base, base + ns - 1)),
            ));
            let mut reached: Vec<i64> = (p * g.wpp..(p + 1) * g.wpp)
                .map(|w| g.wire(w).out_node)
                .filter(|n| n / npp != p)
                .collect();
            reached.sort_unstable();
            reached.dedup();
            let mut rects: Vec<Rect> = Vec::new();
            for n in reached {
                match rects.last_mut() {
                    Some(r) if r.hi.get(0) + 1 == n => *r = Rect::r1(r.lo.get(0), n),
                    _ => rects.push(Rect::r1(n, n)),
                }
            }
            ghost.push((Point::p1(p), IndexSpace::from_rects_disjoint(1, rects)));
        }
        let rp_private = job
            .rt
            .partition_by_subspaces(nodes, "rp_private", private)?;
        let rp_shared = job.rt.partition_by_subspaces(nodes, "rp_shared", shared)?;
        let rp_ghost = job.rt.partition_by_subspaces(nodes, "rp_ghost", ghost)?;
        let (init, cnc, dc, uv) = (
            job.task("init_pieces")?,
            job.task("calculate_new_currents")?,
            job.task("distribute_charge")?,
            job.task("update_voltages")?,
        );
        let sizes = [
            Value::I64(pieces),
            Value::I64(npp),
            Value::I64(g.wpp),
            Value::I64(g.seed as i64),
        ];
        job.rt.launch(init, &[wires.into(), nodes.into()], &sizes)?;
        let dom = Rect::r1(0, pieces - 1);
        job.start_clock()?;
        for _ in 0..iterations {
            job.rt.index_launch(
                cnc,
                dom,
                &[
                    rp_wires.into(),
                    rp_private.into(),
                    rp_shared.into(),
                    rp_ghost.into(),
                ],
                &[Value::I64(steps)],
            )?;
            job.rt.index_launch(
                dc,
                dom,
                &[
                    rp_wires.into(),
                    rp_private.into(),
                    rp_shared.into(),
                    rp_ghost.into(),
                ],
                &[],
            )?;
            job.rt
                .index_launch(uv, dom, &[rp_private.into(), rp_shared.into()], &[])?;
        }
        job.stop_clock()?;
        let verification = if job.simulated() {
            Verification::Simulated
        } else {
            let volt = job.rt.read_field::<f32>(nodes, VOLTAGE)?;
            let mut currents = Vec::with_capacity(SEGMENTS);
            for n in CURRENT {
                currents.push(job.rt.read_field::<f32>(wires, n)?);
            }
            verify(&g, iterations, steps, &volt, &currents)
        };
        let mut extra = BTreeMap::new();
        extra.insert("flops_per_wire_update", FLOPS_PER_WIRE_STEP);
        Ok(Outcome {
            work: (g.wires() * iterations * steps) as f64,
            unit: "wire updates",
            decomposition: format!("{pieces} pieces on {procs} {kind}"),
            verification,
            extra,
        })
    }
}

/// Compares node voltages and segment currents (`currents[k][w]`) bit for bit with the
/// sequential reference; names the first differing element.
pub fn verify(
    g: &Graph,
    iterations: i64,
    steps: i64,
    volt: &[f32],
    currents: &[Vec<f32>],
) -> Verification {
    let (want_v, want_w) = g.reference(iterations, steps);
    if volt.len() != want_v.len() || currents.iter().any(|c| c.len() != want_w.len()) {
        return Verification::Failed(format!(
            "expected {} nodes and {} wires, read {} voltages",
            want_v.len(),
            want_w.len(),
            volt.len()
        ));
    }
    for (n, (got, want)) in volt.iter().zip(&want_v).enumerate() {
        if got.to_bits() != want.to_bits() {
            return Verification::Failed(format!(
                "voltage of node {n} is {got:e}, expected {want:e}"
            ));
        }
    }
    for (w, s) in want_w.iter().enumerate() {
        for (k, c) in currents.iter().enumerate() {
            if c[w].to_bits() != s.current[k].to_bits() {
                return Verification::Failed(format!(
                    "current {k} of wire {w} is {:e}, expected {:e}",
                    c[w], s.current[k]
                ));
            }
        }
    }
    Verification::Verified(format!(
        "all {} node voltages and {} segment currents bit-identical to a sequential run",
        want_v.len(),
        want_w.len() * SEGMENTS
    ))
}
