//! The circuit graph, generated deterministically from a seed: pieces of `npp` nodes and `wpp`
//! wires; the first [`Graph::shared`] nodes of each piece are its shared nodes (the only ones
//! wires of other pieces reach); about 20% of a piece's wires end at a shared node of a
//! neighbouring piece. Also the sequential reference run.

use super::kernels::{charge_of, new_voltage, wire_steps, WireState};

/// Segments of a wire.
pub const SEGMENTS: usize = 10;
/// Time step of the RLC loop.
pub const DT: f32 = 1e-6;
/// Charge is kept in fixed point: an i64 counts units of 1/`CHARGE_SCALE` (2^40), so the
/// reductions add exactly, in any order, on any processor.
pub const CHARGE_SCALE: f32 = (1u64 << 40) as f32;
/// Percent of a piece's wires that end in another piece (with more than one piece).
pub const PCT_CROSSING: u64 = 20;

/// The sizes and seed of a circuit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Graph {
    /// Pieces.
    pub pieces: i64,
    /// Nodes per piece.
    pub npp: i64,
    /// Wires per piece.
    pub wpp: i64,
    /// Seed.
    pub seed: u64,
}

/// A node's constants and initial voltage.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NodeInit {
    /// Capacitance.
    pub capacitance: f32,
    /// Leakage.
    pub leakage: f32,
    /// Initial voltage.
    pub voltage: f32,
}

/// A wire's ends and constants.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WireInit {
    /// Node the wire starts at (in its own piece).
    pub in_node: i64,
    /// Node the wire ends at.
    pub out_node: i64,
    /// Inductance.
    pub inductance: f32,
    /// Resistance.
    pub resistance: f32,
    /// Capacitance.
    pub capacitance: f32,
}

fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

impl Graph {
    fn hash(&self, kind: u64, i: i64, k: u64) -> u64 {
        mix(self
            .seed
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .wrapping_add(mix(kind << 56 ^ (i as u64) << 4 ^ k)))
    }

    fn unit(&self, kind: u64, i: i64, k: u64) -> f32 {
        (self.hash(kind, i, k) >> 40) as f32 / (1u64 << 24) as f32
    }

    /// Shared nodes per piece (a tenth, at least one, always fewer than `npp`).
    pub fn shared(&self) -> i64 {
        (self.npp / 10).max(1)
    }

    /// All nodes.
    pub fn nodes(&self) -> i64 {
        self.pieces * self.npp
    }

    /// All wires.
    pub fn wires(&self) -> i64 {
        self.pieces * self.wpp
    }

    /// Node `n`'s constants and initial voltage.
    pub fn node(&self, n: i64) -> NodeInit {
        NodeInit {
            capacitance: self.unit(1, n, 0) + 1.0,
            leakage: 0.1 * self.unit(1, n, 1),
            voltage: 2.0 * self.unit(1, n, 2) - 1.0,
        }
    }

    /// Wire `w`'s ends and constants.
    pub fn wire(&self, w: i64) -> WireInit {
        let p = w / self.wpp;
        let in_node = p * self.npp + (self.hash(2, w, 0) % self.npp as u64) as i64;
        let out_node = if self.pieces > 1 && self.hash(2, w, 1) % 100 < PCT_CROSSING {
            let q = if self.hash(2, w, 2) & 1 == 0 {
                (p + 1) % self.pieces
            } else {
                (p + self.pieces - 1) % self.pieces
            };
            q * self.npp + (self.hash(2, w, 3) % self.shared() as u64) as i64
        } else {
            p * self.npp + (self.hash(2, w, 3) % self.npp as u64) as i64
        };
        WireInit {
            in_node,
            out_node,
            inductance: (self.unit(3, w, 0) + 0.1) * 1e-8,
            resistance: self.unit(3, w, 1) * 10.0 + 1.0,
            capacitance: self.unit(3, w, 2) * 0.1 + 0.01,
        }
    }

    /// Runs `iterations` iterations of `steps` RLC steps as one piece (plain Rust, the
    /// kernels' arithmetic); returns the node voltages and the wire states. The wires' RLC
    /// steps of an iteration are independent, so large problems spread them over the cores
    /// (the result does not depend on it); the charge and voltage updates run in order.
    pub fn reference(&self, iterations: i64, steps: i64) -> (Vec<f32>, Vec<WireState>) {
        let nodes: Vec<NodeInit> = (0..self.nodes()).map(|n| self.node(n)).collect();
        let wires: Vec<WireInit> = (0..self.wires()).map(|w| self.wire(w)).collect();
        let mut volt: Vec<f32> = nodes.iter().map(|n| n.voltage).collect();
        let mut charge = vec![0i64; nodes.len()];
        let mut state = vec![WireState::default(); wires.len()];
        let threads = if wires.len() as f64 * steps as f64 >= 1e7 {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            1
        };
        let chunk = wires.len().div_ceil(threads).max(1);
        let run = |ws: &[WireInit], ss: &mut [WireState], volt: &[f32]| {
            for (w, s) in ws.iter().zip(ss.iter_mut()) {
                let (vi, vo) = (volt[w.in_node as usize], volt[w.out_node as usize]);
                wire_steps(s, vi, vo, w.inductance, w.resistance, w.capacitance, steps);
            }
        };
        for _ in 0..iterations {
            if threads == 1 {
                run(&wires, &mut state, &volt);
            } else {
                std::thread::scope(|sc| {
                    for (ws, ss) in wires.chunks(chunk).zip(state.chunks_mut(chunk)) {
                        let volt = &volt;
                        sc.spawn(move || run(ws, ss, volt));
                    }
                });
            }
            for (w, s) in wires.iter().zip(state.iter()) {
                let i = w.in_node as usize;
                charge[i] = charge[i].wrapping_sub(charge_of(s.current[0]));
                let o = w.out_node as usize;
                charge[o] = charge[o].wrapping_add(charge_of(s.current[SEGMENTS - 1]));
            }
            for ((v, q), n) in volt.iter_mut().zip(charge.iter_mut()).zip(nodes.iter()) {
                *v = new_voltage(*v, *q, n.capacitance, n.leakage);
                *q = 0;
            }
        }
        (volt, state)
    }
}
