//! The vocabulary of the language: processor kinds, memory kinds and layout constraints, with
//! their spellings (used by the parser, the printer and did-you-mean suggestions).

use std::fmt;

macro_rules! keyword_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $var:ident = $s:literal),* $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($(#[$vm])* $var),* }
        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$var),*];
            /// The spelling used in mapper text.
            pub fn as_str(self) -> &'static str { match self { $($name::$var => $s),* } }
            /// Parses the exact (case-sensitive) spelling.
            pub fn parse(s: &str) -> Option<Self> { match s { $($s => Some($name::$var),)* _ => None } }
            /// All spellings, for did-you-mean suggestions.
            pub fn names() -> impl Iterator<Item = &'static str> { Self::ALL.iter().map(|k| k.as_str()) }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.write_str(self.as_str()) }
        }
    };
}

keyword_enum! {
    /// A processor kind. Four bytes wide, so that a [`crate::ProcId`] and a
    /// [`crate::Placement`] are three whole words with no padding: they are copied with word moves
    /// instead of byte moves, which stall store forwarding on the placement hot path.
    #[repr(u32)]
    ProcKind {
        /// A CPU core (worker thread).
        Cpu = "CPU",
        /// A CUDA GPU.
        Gpu = "GPU",
        /// An OpenMP-style group of cores.
        Omp = "OMP",
        /// An I/O processor.
        Io = "IO",
        /// A Python processor.
        Py = "PY",
        /// A utility processor.
        Proc = "PROC",
    }
}

keyword_enum! {
    /// A memory kind.
    MemKind {
        /// Host system memory.
        Sysmem = "SYSMEM",
        /// GPU framebuffer memory.
        Fbmem = "FBMEM",
        /// Zero-copy memory: pinned host memory mapped into GPUs.
        Zcmem = "ZCMEM",
        /// Registered (RDMA) memory.
        Rdmem = "RDMEM",
        /// Socket-local host memory.
        Sockmem = "SOCKMEM",
        /// Virtual memory (no physical backing; only for metadata).
        Virtual = "VIRTUAL",
    }
}

/// A comparison operator of an `Align` constraint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AlignOp {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

/// The largest alignment a layout can ask for, in bytes.
pub const MAX_ALIGN: i64 = 1 << 20;

impl AlignOp {
    /// True if alignment `a` (bytes) satisfies `Align OP n`.
    pub fn holds(self, a: i64, n: i64) -> bool {
        match self {
            AlignOp::Eq => a == n,
            AlignOp::Ne => a != n,
            AlignOp::Lt => a < n,
            AlignOp::Le => a <= n,
            AlignOp::Gt => a > n,
            AlignOp::Ge => a >= n,
        }
    }

    /// True if the operator asks for a minimum alignment (`==`, `>=`, `>`).
    pub fn is_lower_bound(self) -> bool {
        matches!(self, AlignOp::Eq | AlignOp::Ge | AlignOp::Gt)
    }

    /// The spelling of the operator.
    pub fn as_str(self) -> &'static str {
        match self {
            AlignOp::Eq => "==",
            AlignOp::Ne => "!=",
            AlignOp::Lt => "<",
            AlignOp::Le => "<=",
            AlignOp::Gt => ">",
            AlignOp::Ge => ">=",
        }
    }
}

/// One layout constraint of a `Layout` statement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Constraint {
    /// Struct of arrays: one array per field.
    Soa,
    /// Array of structs: fields interleaved per point.
    Aos,
    /// Row-major (last dimension fastest).
    COrder,
    /// Column-major (first dimension fastest).
    FOrder,
    /// Alignment constraint in bytes.
    Align(AlignOp, i64),
    /// No alignment constraint.
    NoAlign,
    /// The instance holds exactly the points used, with no holes.
    Compact,
    /// The instance covers exactly the region used, never a larger one.
    Exact,
}

impl Constraint {
    /// The keyword spellings of constraints (for did-you-mean suggestions).
    pub const NAMES: &'static [&'static str] = &[
        "SOA", "AOS", "C_order", "F_order", "Align", "No_Align", "Compact", "Exact",
    ];
}

impl fmt::Display for Constraint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Constraint::Soa => f.write_str("SOA"),
            Constraint::Aos => f.write_str("AOS"),
            Constraint::COrder => f.write_str("C_order"),
            Constraint::FOrder => f.write_str("F_order"),
            Constraint::Align(op, n) => write!(f, "Align{}{}", op.as_str(), n),
            Constraint::NoAlign => f.write_str("No_Align"),
            Constraint::Compact => f.write_str("Compact"),
            Constraint::Exact => f.write_str("Exact"),
        }
    }
}

/// A fully resolved instance layout (what the runtime allocates).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Layout {
    /// Struct of arrays (true) or array of structs (false).
    pub soa: bool,
    /// Row-major (true) or column-major (false).
    pub c_order: bool,
    /// Required alignment of each field array in bytes (0 = natural alignment).
    pub align: u32,
    /// Instance must be compact.
    pub compact: bool,
    /// Instance must cover exactly the requested region.
    pub exact: bool,
}

/// The alignment that `Align` constraints ask for together: `Some(0)` (natural alignment) when
/// none of them asks for a minimum and natural alignment may stand (only `!=`, `<`, `<=`), else the
/// smallest power of two up to [`MAX_ALIGN`] that satisfies them all; `None` when no power of two
/// satisfies them all (the constraints conflict).
pub fn combined_align(aligns: &[(AlignOp, i64)]) -> Option<u32> {
    let fits = |a: i64| aligns.iter().all(|&(op, n)| op.holds(a, n));
    let first = (0..=20).map(|e| 1i64 << e).find(|&a| fits(a))?;
    if aligns.iter().any(|&(op, _)| op.is_lower_bound()) {
        u32::try_from(first).ok()
    } else {
        Some(0)
    }
}

impl Default for Layout {
    /// The runtime default of DSL.md §5: SOA, C order, natural alignment.
    fn default() -> Self {
        Layout {
            soa: true,
            c_order: true,
            align: 0,
            compact: false,
            exact: false,
        }
    }
}

impl Layout {
    /// Applies constraints in order on top of `self` (later ones override earlier ones, except
    /// that several `Align` constraints combine: see [`combined_align`]).
    pub fn with(mut self, constraints: &[Constraint]) -> Layout {
        let mut aligns: Vec<(AlignOp, i64)> = Vec::new();
        for c in constraints {
            if let Constraint::Align(op, n) = *c {
                aligns.push((op, n));
                if aligns.len() > 1 {
                    if let Some(a) = combined_align(&aligns) {
                        self.align = a;
                        continue;
                    }
                }
            }
            if *c == Constraint::NoAlign {
                aligns.clear();
            }
            match *c {
                Constraint::Soa => self.soa = true,
                Constraint::Aos => self.soa = false,
                Constraint::COrder => self.c_order = true,
                Constraint::FOrder => self.c_order = false,
                Constraint::Align(op, n) => {
                    let n = n.clamp(0, 1 << 20) as u32;
                    self.align = match op {
                        AlignOp::Eq | AlignOp::Ge => n,
                        AlignOp::Gt => n.saturating_mul(2).max(1),
                        AlignOp::Ne | AlignOp::Lt | AlignOp::Le => 0,
                    }
                }
                Constraint::NoAlign => self.align = 0,
                Constraint::Compact => self.compact = true,
                Constraint::Exact => self.exact = true,
            }
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn align_constraints_combine() {
        use AlignOp::*;
        // Only upper bounds and exclusions: natural alignment stands.
        assert_eq!(combined_align(&[(Ne, 16), (Le, 256)]), Some(0));
        // A lower bound: the smallest power of two that satisfies every constraint.
        assert_eq!(combined_align(&[(Ge, 64), (Le, 256), (Ne, 64)]), Some(128));
        assert_eq!(combined_align(&[(Gt, 64)]), Some(128));
        assert_eq!(combined_align(&[(Eq, 32), (Lt, 64)]), Some(32));
        // Unsatisfiable sets.
        assert_eq!(combined_align(&[(Ge, 512), (Le, 256)]), None);
        assert_eq!(combined_align(&[(Eq, 32), (Ne, 32)]), None);
        assert_eq!(
            combined_align(&[(Ge, 16), (Le, 32), (Ne, 16), (Ne, 32)]),
            None
        );
        assert_eq!(combined_align(&[(Gt, MAX_ALIGN)]), None);
    }

    #[test]
    fn layout_combines_aligns_of_one_statement() {
        let l = Layout::default().with(&[
            Constraint::Align(AlignOp::Ge, 64),
            Constraint::Align(AlignOp::Ne, 64),
        ]);
        assert_eq!(l.align, 128);
        // One `Align` alone keeps its meaning; `No_Align` resets.
        let l = Layout::default().with(&[Constraint::Align(AlignOp::Gt, 16)]);
        assert_eq!(l.align, 32);
        let l = Layout::default().with(&[Constraint::Align(AlignOp::Eq, 64), Constraint::NoAlign]);
        assert_eq!(l.align, 0);
    }
}
