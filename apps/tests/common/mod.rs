//! Shared by the app tests: run configurations, mapper texts, and a seeded generator of random
//! valid mappers.

#![allow(dead_code)]

use apps::{Application, MapperChoice, Problem, RunConfig};

/// A small deterministic generator (xorshift64*).
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    pub fn pick<'a>(&mut self, v: &[&'a str]) -> &'a str {
        v[self.below(v.len())]
    }
}

/// A random mapper valid for `app` on a machine with `gpus` GPUs per node: random processor
/// kind per task, memories, SOA layouts (C or F order, alignments; also AOS if `aos`),
/// instance limits, early collection and placement functions.
pub fn random_mapper(app: &dyn Application, gpus: bool, aos: bool, rng: &mut Rng) -> String {
    let info = app.info();
    let mut kinds = vec!["CPU", "OMP"];
    if gpus {
        kinds.push("GPU");
    }
    let mut s = String::new();
    s.push_str("mcpu = Machine(CPU);\nmomp = Machine(OMP);\n");
    if gpus {
        s.push_str("mgpu = Machine(GPU);\n");
        s.push_str(rng.pick(&[
            "Region * * GPU FBMEM;\n",
            "Region * * GPU ZCMEM;\n",
            "Region * * GPU FBMEM,ZCMEM;\n",
            "Region * * GPU ZCMEM,FBMEM;\n",
        ]));
        s.push_str(rng.pick(&["Region * * CPU SYSMEM;\n", "Region * * CPU ZCMEM,SYSMEM;\n"]));
    } else {
        s.push_str("Region * * CPU SYSMEM;\n");
    }
    s.push_str("Region * * OMP SYSMEM;\n");
    for (ti, t) in info.tasks.iter().enumerate() {
        let kind = rng.pick(&kinds);
        s.push_str(&format!("Task {} {kind};\n", t.name));
        for (i, a) in t.args.iter().enumerate() {
            let order = rng.pick(&["C_order", "F_order"]);
            let align = rng.pick(&["", " Align==16", " Align==64", " Align==128", " No_Align"]);
            let target = if rng.below(2) == 0 {
                a.name.clone()
            } else {
                i.to_string()
            };
            let soa = if aos && rng.below(4) == 0 {
                "AOS"
            } else {
                "SOA"
            };
            s.push_str(&format!(
                "Layout {} {target} * {soa} {order}{align};\n",
                t.name
            ));
            if a.read_only && rng.below(2) == 0 {
                s.push_str(&format!("CollectMemory {} {};\n", t.name, a.name));
            }
        }
        if rng.below(2) == 0 {
            s.push_str(&format!("InstanceLimit {} {};\n", t.name, 1 + rng.below(4)));
        }
        let m = match kind {
            "GPU" => "mgpu",
            "OMP" => "momp",
            _ => "mcpu",
        };
        let (c0, c1, c2, c3) = (
            1 + rng.below(3),
            rng.below(3),
            rng.below(3),
            1 + rng.below(3),
        );
        let body = match rng.below(4) {
            0 => format!(
                "    return {m}[(ip[0] * {c0} + ip[1] * {c1}) % {m}.size[0], (ip[0] * {c2} + ip[1] * {c3} + {c1}) % {m}.size[1]];\n"
            ),
            1 => format!(
                "    f = {m}.merge(0, 1);\n    return f[(ip[0] * {c0} + ip[1] * {c3} + {c2}) % f.size[0]];\n"
            ),
            2 => format!(
                "    g = {m}.merge(0, 1).balance_split(0, 2);\n    return g[ip[0] % g.size[0], (ip[1] + {c1}) % g.size[1]];\n"
            ),
            _ => String::new(),
        };
        if !body.is_empty() {
            s.push_str(&format!(
                "def place{ti}(Task task) {{\n    ip = task.ipoint;\n{body}}}\nIndexTaskMap {} place{ti};\n",
                t.name
            ));
        }
    }
    s
}

/// A run of `app` on `machine` at `size` (a preset with optional `,name=value` overrides).
pub fn config(app: &dyn Application, machine: &str, size: &str, mapper: MapperChoice) -> RunConfig {
    RunConfig {
        machine: machine.into(),
        problem: Problem::parse(app, size).expect("size"),
        mapper,
        profile: false,
    }
}

/// A mapper given as text.
pub fn text(name: &str, source: &str) -> MapperChoice {
    MapperChoice::Text {
        name: name.into(),
        source: source.into(),
    }
}
