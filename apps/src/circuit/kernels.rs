//! The circuit's host kernels (CPUs, OMP pools and emulated GPUs), the graph generator and the
//! sequential reference they share, and the cost model for the simulator.
//!
//! The kernels use the layout-aware accessors (any layout): the work of a wire is its inner
//! loop of RLC steps on wire-local values, so an access per wire and iteration costs little.

use super::graph::{Graph, CHARGE_SCALE, DT, SEGMENTS};
use runtime::task::{Cost, CostModel};
use runtime::{Point, TaskCtx, TaskError, Value};
use std::sync::Arc;

/// Node field: capacitance (f32).
pub const CAPACITANCE: &str = "capacitance";
/// Node field: leakage (f32).
pub const LEAKAGE: &str = "leakage";
/// Node field: charge (i64 fixed point, units of 1/[`CHARGE_SCALE`]).
pub const CHARGE: &str = "charge";
/// Node field: voltage (f32).
pub const VOLTAGE: &str = "voltage";
/// Wire field: the node the wire starts at (i64 node index).
pub const IN_PTR: &str = "in_ptr";
/// Wire field: the node the wire ends at (i64 node index).
pub const OUT_PTR: &str = "out_ptr";
/// Wire field: inductance (f32).
pub const INDUCTANCE: &str = "inductance";
/// Wire field: resistance (f32).
pub const RESISTANCE: &str = "resistance";
/// Wire field: capacitance of the wire (f32).
pub const WIRE_CAP: &str = "wire_cap";
/// Wire fields: the current of each segment (f32).
pub const CURRENT: [&str; SEGMENTS] = [
    "current_0",
    "current_1",
    "current_2",
    "current_3",
    "current_4",
    "current_5",
    "current_6",
    "current_7",
    "current_8",
    "current_9",
];
/// Wire fields: the voltage between consecutive segments (f32).
pub const WIRE_VOLTAGE: [&str; SEGMENTS - 1] = [
    "voltage_0",
    "voltage_1",
    "voltage_2",
    "voltage_3",
    "voltage_4",
    "voltage_5",
    "voltage_6",
    "voltage_7",
    "voltage_8",
];

/// A wire's state for the RLC steps.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct WireState {
    /// Segment currents.
    pub current: [f32; SEGMENTS],
    /// Inner voltages.
    pub voltage: [f32; SEGMENTS - 1],
}

/// `steps` RLC steps of one wire between node voltages `v_in` and `v_out` (the standard
/// circuit kernel, in f32, without fused multiply-adds).
pub fn wire_steps(s: &mut WireState, v_in: f32, v_out: f32, l: f32, r: f32, c: f32, steps: i64) {
    let recip_dt = 1.0 / DT;
    let recip_r = 1.0 / r;
    let recip_c = 1.0 / c;
    let mut v = [0f32; SEGMENTS + 1];
    v[0] = v_in;
    v[SEGMENTS] = v_out;
    v[1..SEGMENTS].copy_from_slice(&s.voltage);
    let old_v = v;
    let old_i = s.current;
    let mut i = s.current;
    for _ in 0..steps {
        for k in 0..SEGMENTS {
            i[k] = ((v[k + 1] - v[k]) - (l * (i[k] - old_i[k]) * recip_dt)) * recip_r;
        }
        for k in 0..SEGMENTS - 1 {
            v[k + 1] = old_v[k + 1] + DT * (i[k] - i[k + 1]) * recip_c;
        }
    }
    s.current = i;
    s.voltage.copy_from_slice(&v[1..SEGMENTS]);
}

/// The charge a current moves in one time step, in fixed point (exact to add in any order).
pub fn charge_of(current: f32) -> i64 {
    (DT * current * CHARGE_SCALE).round() as i64
}

/// The new voltage of a node from its voltage, charge, capacitance and leakage.
pub fn new_voltage(voltage: f32, charge: i64, cap: f32, leak: f32) -> f32 {
    let v = voltage + (charge as f32 / CHARGE_SCALE) / cap;
    v * (1.0 - leak)
}

fn graph_of(ctx: &TaskCtx) -> Result<Graph, TaskError> {
    Ok(Graph {
        pieces: ctx.i64(0)?,
        npp: ctx.i64(1)?,
        wpp: ctx.i64(2)?,
        seed: ctx.i64(3)? as u64,
    })
}

/// `init_pieces(wires, nodes)`: the whole graph from the scalars (pieces, npp, wpp, seed).
pub fn init_pieces(ctx: &TaskCtx) -> Result<Value, TaskError> {
    let g = graph_of(ctx)?;
    let f32w = |name: &str| ctx.write::<f32>(0, name);
    let (inp, outp) = (ctx.write::<i64>(0, IN_PTR)?, ctx.write::<i64>(0, OUT_PTR)?);
    let (l, r, c) = (f32w(INDUCTANCE)?, f32w(RESISTANCE)?, f32w(WIRE_CAP)?);
    let mut zero = Vec::with_capacity(2 * SEGMENTS - 1);
    for n in CURRENT.iter().chain(WIRE_VOLTAGE.iter()) {
        zero.push(ctx.write::<f32>(0, *n)?);
    }
    for w in 0..g.wires() {
        let wire = g.wire(w);
        let p = Point::p1(w);
        inp.set(p, wire.in_node);
        outp.set(p, wire.out_node);
        l.set(p, wire.inductance);
        r.set(p, wire.resistance);
        c.set(p, wire.capacitance);
        for a in &zero {
            a.set(p, 0.0);
        }
    }
    let (cap, leak) = (
        ctx.write::<f32>(1, CAPACITANCE)?,
        ctx.write::<f32>(1, LEAKAGE)?,
    );
    let (q, v) = (ctx.write::<i64>(1, CHARGE)?, ctx.write::<f32>(1, VOLTAGE)?);
    for n in 0..g.nodes() {
        let node = g.node(n);
        let p = Point::p1(n);
        cap.set(p, node.capacitance);
        leak.set(p, node.leakage);
        q.set(p, 0);
        v.set(p, node.voltage);
    }
    Ok(Value::None)
}

/// `calculate_new_currents(wires, private_nodes, shared_nodes, ghost_nodes)`: `steps` (the
/// scalar) RLC steps on every wire of the piece.
pub fn calculate_new_currents(ctx: &TaskCtx) -> Result<Value, TaskError> {
    #[cfg(feature = "cuda")]
    if let Some(gpu) = ctx.cuda_gpu() {
        return super::gpu::calculate_new_currents(ctx, &gpu).map(|()| Value::None);
    }
    let steps = ctx.i64(0)?;
    let (pv, sv, gv) = (
        ctx.read::<f32>(1, VOLTAGE)?,
        ctx.read::<f32>(2, VOLTAGE)?,
        ctx.read::<f32>(3, VOLTAGE)?,
    );
    let (pb, sb) = (ctx.bounds(1)?, ctx.bounds(2)?);
    let volt = |n: i64| {
        let p = Point::p1(n);
        if pb.contains(&p) {
            pv.get(p)
        } else if sb.contains(&p) {
            sv.get(p)
        } else {
            gv.get(p)
        }
    };
    let (inp, outp) = (ctx.write::<i64>(0, IN_PTR)?, ctx.write::<i64>(0, OUT_PTR)?);
    let (l, r, c) = (
        ctx.write::<f32>(0, INDUCTANCE)?,
        ctx.write::<f32>(0, RESISTANCE)?,
        ctx.write::<f32>(0, WIRE_CAP)?,
    );
    let mut cur = Vec::with_capacity(SEGMENTS);
    for n in CURRENT {
        cur.push(ctx.write::<f32>(0, n)?);
    }
    let mut vol = Vec::with_capacity(SEGMENTS - 1);
    for n in WIRE_VOLTAGE {
        vol.push(ctx.write::<f32>(0, n)?);
    }
    for p in ctx.space(0)?.iter() {
        let mut s = WireState::default();
        for (k, a) in cur.iter().enumerate() {
            s.current[k] = a.get(p);
        }
        for (k, a) in vol.iter().enumerate() {
            s.voltage[k] = a.get(p);
        }
        let (vi, vo) = (volt(inp.get(p)), volt(outp.get(p)));
        wire_steps(&mut s, vi, vo, l.get(p), r.get(p), c.get(p), steps);
        for (k, a) in cur.iter().enumerate() {
            a.set(p, s.current[k]);
        }
        for (k, a) in vol.iter().enumerate() {
            a.set(p, s.voltage[k]);
        }
    }
    Ok(Value::None)
}

/// `distribute_charge(wires, private_nodes, shared_nodes, ghost_nodes)`: each wire takes
/// charge from its in node and gives charge to its out node; private nodes are updated in
/// place, shared and ghost nodes through the sum reduction.
pub fn distribute_charge(ctx: &TaskCtx) -> Result<Value, TaskError> {
    #[cfg(feature = "cuda")]
    if let Some(gpu) = ctx.cuda_gpu() {
        return super::gpu::distribute_charge(ctx, &gpu).map(|()| Value::None);
    }
    let (inp, outp) = (ctx.read::<i64>(0, IN_PTR)?, ctx.read::<i64>(0, OUT_PTR)?);
    let (first, last) = (
        ctx.read::<f32>(0, CURRENT[0])?,
        ctx.read::<f32>(0, CURRENT[SEGMENTS - 1])?,
    );
    let pq = ctx.write::<i64>(1, CHARGE)?;
    let (sq, gq) = (ctx.reduce::<i64>(2, CHARGE)?, ctx.reduce::<i64>(3, CHARGE)?);
    let (pb, sb) = (ctx.bounds(1)?, ctx.bounds(2)?);
    let add = |n: i64, dq: i64| {
        let p = Point::p1(n);
        if pb.contains(&p) {
            pq.set(p, pq.get(p).wrapping_add(dq));
        } else if sb.contains(&p) {
            sq.fold(p, dq);
        } else {
            gq.fold(p, dq);
        }
    };
    for p in ctx.space(0)?.iter() {
        add(inp.get(p), charge_of(first.get(p)).wrapping_neg());
        add(outp.get(p), charge_of(last.get(p)));
    }
    Ok(Value::None)
}

/// `update_voltages(private_nodes, shared_nodes)`: voltages from the charges; charges to 0.
pub fn update_voltages(ctx: &TaskCtx) -> Result<Value, TaskError> {
    #[cfg(feature = "cuda")]
    if let Some(gpu) = ctx.cuda_gpu() {
        return super::gpu::update_voltages(ctx, &gpu).map(|()| Value::None);
    }
    for arg in 0..2 {
        let (cap, leak) = (
            ctx.write::<f32>(arg, CAPACITANCE)?,
            ctx.write::<f32>(arg, LEAKAGE)?,
        );
        let (q, v) = (
            ctx.write::<i64>(arg, CHARGE)?,
            ctx.write::<f32>(arg, VOLTAGE)?,
        );
        for p in ctx.space(arg)?.iter() {
            v.set(p, new_voltage(v.get(p), q.get(p), cap.get(p), leak.get(p)));
            q.set(p, 0);
        }
    }
    Ok(Value::None)
}

/// Flops of one RLC step of one wire.
pub const FLOPS_PER_WIRE_STEP: f64 = (7 * SEGMENTS + 5 * (SEGMENTS - 1)) as f64;
/// Bytes of a wire the currents task reads and writes (pointers, R, L, C read; currents and
/// voltages read and written).
pub const BYTES_PER_WIRE: f64 = 16.0 + 12.0 + 2.0 * 4.0 * (2 * SEGMENTS - 1) as f64;

fn vol(rects: &[runtime::Rect], i: usize) -> f64 {
    rects.get(i).map(|r| r.volume() as f64).unwrap_or(0.0)
}

/// Simulator cost of `calculate_new_currents`: [`FLOPS_PER_WIRE_STEP`] per wire and step;
/// [`BYTES_PER_WIRE`] per wire, 4 bytes per node voltage read.
pub fn currents_cost() -> CostModel {
    CostModel::PerArgs(Arc::new(|rects, scalars| {
        let steps = scalars.first().and_then(|v| v.as_f64()).unwrap_or(1.0);
        Cost {
            flops: FLOPS_PER_WIRE_STEP * steps * vol(rects, 0),
            bytes: vec![
                BYTES_PER_WIRE * vol(rects, 0),
                4.0 * vol(rects, 1),
                4.0 * vol(rects, 2),
                4.0 * vol(rects, 3),
            ],
            streamed: Vec::new(),
        }
    }))
}

/// Simulator cost of `distribute_charge`: 4 flops per wire; 24 bytes per wire read, the
/// 8-byte charge of a node read and written.
pub fn charge_cost() -> CostModel {
    CostModel::PerArgs(Arc::new(|rects, _| Cost {
        flops: 4.0 * vol(rects, 0),
        bytes: vec![
            24.0 * vol(rects, 0),
            16.0 * vol(rects, 1),
            16.0 * vol(rects, 2),
            16.0 * vol(rects, 3),
        ],
        streamed: Vec::new(),
    }))
}

/// Simulator cost of `update_voltages`: 5 flops per node; 32 bytes per node.
pub fn voltage_cost() -> CostModel {
    CostModel::PerArgs(Arc::new(|rects, _| Cost {
        flops: 5.0 * (vol(rects, 0) + vol(rects, 1)),
        bytes: vec![32.0 * vol(rects, 0), 32.0 * vol(rects, 1)],
        streamed: Vec::new(),
    }))
}

/// Simulator cost of `init_pieces`: every field written.
pub fn init_cost() -> CostModel {
    CostModel::PerArgs(Arc::new(|rects, _| Cost {
        flops: vol(rects, 0) + vol(rects, 1),
        bytes: vec![BYTES_PER_WIRE * vol(rects, 0), 20.0 * vol(rects, 1)],
        streamed: Vec::new(),
    }))
}
