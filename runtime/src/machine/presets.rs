//! Built-in simulated machines (`sim:NAME`), embedded TOML descriptions from
//! `runtime/machines/`: `p100x4` (the reference paper's node), `h100x4` (seeded from the measured
//! anchors in BENCHMARKS.md), `cluster4x4` (four h100x4 nodes on a network) and `devbox` (the
//! 2-core development machine, for calibration).

use super::MachineDesc;
use mapper_core::diag::closest;

/// (name, TOML text) of every preset.
pub const PRESETS: &[(&str, &str)] = &[
    ("p100x4", include_str!("../../machines/p100x4.toml")),
    ("h100x4", include_str!("../../machines/h100x4.toml")),
    ("cluster4x4", include_str!("../../machines/cluster4x4.toml")),
    ("devbox", include_str!("../../machines/devbox.toml")),
];

/// Names of the presets.
pub fn names() -> Vec<&'static str> {
    PRESETS.iter().map(|p| p.0).collect()
}

/// The TOML text of preset `name`.
pub fn source(name: &str) -> Option<&'static str> {
    PRESETS.iter().find(|p| p.0 == name).map(|p| p.1)
}

/// The machine of preset `name` (named `sim:NAME`).
pub fn preset(name: &str) -> Result<MachineDesc, String> {
    let Some(text) = source(name) else {
        let hint = closest(name, names())
            .map(|c| format!(" (did you mean `{c}`?)"))
            .unwrap_or_default();
        return Err(format!(
            "unknown simulated machine preset `{name}`{hint}; presets: {}; or give a description file, sim:FILE.toml",
            names().join(", ")
        ));
    };
    super::file::parse_str(text, &format!("preset {name}"), &format!("sim:{name}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use mapper_core::{MemKind, ProcKind};

    #[test]
    fn every_preset_parses() {
        for (name, _) in PRESETS {
            let m = preset(name).unwrap_or_else(|e| panic!("{e}"));
            assert!(m.simulated);
            assert_eq!(m.name, format!("sim:{name}"));
        }
        let p = MachineDesc::parse("sim:p100x4").unwrap();
        let s = p.shape();
        assert_eq!(s.nodes, 1);
        assert_eq!(s.per_node(ProcKind::Gpu), 4);
        assert_eq!(s.per_node(ProcKind::Cpu), 20);
        assert_eq!(
            p.mems
                .iter()
                .filter(|m| m.kind == MemKind::Fbmem)
                .map(|m| m.capacity)
                .collect::<Vec<_>>(),
            vec![16 << 30; 4]
        );
        let c = MachineDesc::parse("sim:cluster4x4").unwrap();
        assert_eq!(c.shape().nodes, 4);
        assert_eq!(c.shape().per_node(ProcKind::Gpu), 4);
    }

    #[test]
    fn unknown_preset_suggests() {
        assert_eq!(
            preset("p100x2").unwrap_err(),
            "unknown simulated machine preset `p100x2` (did you mean `p100x4`?); presets: p100x4, h100x4, cluster4x4, devbox; or give a description file, sim:FILE.toml"
        );
    }
}
