//! The structured decision space of the built-in optimizers.
//!
//! Per task: the processor kind (among kinds it has variants for and the machine has), a
//! placement function for index launches (the runtime default, the starting mapper's own
//! function, or a template: block or cyclic over all processors, nodes by block with processors
//! cyclic, and for 2-D/3-D launches `auto_split` (decompose) or `greedy_split` grids, blocked or
//! cyclic) and an instance limit. Per region argument: a memory priority list among those the
//! kind can use on this machine, a layout among those the variant accepts, and (for read-only
//! arguments) early collection. A [`Candidate`] picks one option per decision and renders to a
//! complete mapper text, so every point of the space is a real mapper mapper-core checks.
//!
//! A space can be built around a starting mapper (the expert's): its decisions are projected
//! into the space with mapper-core's binder, so the search starts from it ([`Space::start`]).

use crate::target::TuneApp;
use mapper_core::ast::Stmt;
use mapper_core::bind::{default_memories, visible, Tables, DEFAULT_KIND_ORDER};
use mapper_core::kinds::{Layout, MemKind, ProcKind};
use mapper_core::machine::MachineShape;
use mapper_core::parse::parse_text;
use mapper_core::print::print_stmt;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// A placement choice for the index launches of one task.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Place {
    /// No `IndexTaskMap`: the runtime default (near-square blocks over all processors).
    Default,
    /// The starting mapper's function of this name.
    Base(String),
    /// Points in row-major order, blocked over all processors (node-major).
    Block,
    /// Points in row-major order, dealt cyclically over all processors.
    Cyclic,
    /// Points blocked over nodes, and cyclically over the processors of a node.
    NodeBlockProcCyclic,
    /// An `auto_split` grid of all processors shaped like the launch domain; blocks.
    Decompose,
    /// The same grid, points dealt cyclically along each dimension.
    DecomposeCyclic,
    /// A `greedy_split` grid of all processors; blocks.
    Greedy,
}

impl Place {
    /// A short label for logs.
    pub fn label(&self) -> String {
        match self {
            Place::Default => "default".into(),
            Place::Base(f) => format!("start:{f}"),
            Place::Block => "block".into(),
            Place::Cyclic => "cyclic".into(),
            Place::NodeBlockProcCyclic => "node-block-proc-cyclic".into(),
            Place::Decompose => "decompose".into(),
            Place::DecomposeCyclic => "decompose-cyclic".into(),
            Place::Greedy => "greedy-split".into(),
        }
    }
}

/// The options of one region argument.
#[derive(Clone, Debug, PartialEq)]
pub struct ArgSpace {
    /// Declared name.
    pub name: String,
    /// How the argument is named in `Region`/`Layout` statements (its name, or its index where
    /// the name would be ambiguous).
    pub selector: String,
    /// True if the task only reads it (then early collection is a decision).
    pub read_only: bool,
    /// Memory priority lists per processor kind (parallel to the task's kinds).
    pub mems: Vec<Vec<Vec<MemKind>>>,
    /// Layouts per processor kind (parallel to the task's kinds).
    pub layouts: Vec<Vec<Layout>>,
}

/// The options of one task.
#[derive(Clone, Debug, PartialEq)]
pub struct TaskSpace {
    /// Task name.
    pub name: String,
    /// Processor kinds it can run on here, fastest first.
    pub kinds: Vec<ProcKind>,
    /// Its region arguments.
    pub args: Vec<ArgSpace>,
    /// Dimensions of its index launches (`None`: single launches only, or unknown).
    pub dims: Option<usize>,
    /// Placement options (one, `Default`, for single launches).
    pub places: Vec<Place>,
    /// True if the task is index-launched.
    pub index_launch: bool,
    /// Instance-limit options.
    pub limits: Vec<Option<u32>>,
}

/// One decision of a candidate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Decision {
    /// Processor kind of task `t`.
    Kind(usize),
    /// Memory list of argument `a` of task `t`.
    Mem(usize, usize),
    /// Layout of argument `a` of task `t`.
    Layout(usize, usize),
    /// Placement of task `t`.
    Place(usize),
    /// Instance limit of task `t`.
    Limit(usize),
    /// Early collection of argument `a` of task `t`.
    Collect(usize, usize),
}

/// One point of the space: an option index per decision.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Candidate {
    /// Kind index per task.
    pub kind: Vec<usize>,
    /// Memory option per task and argument (for the task's current kind).
    pub mem: Vec<Vec<usize>>,
    /// Layout option per task and argument (for the task's current kind).
    pub layout: Vec<Vec<usize>>,
    /// Placement option per task.
    pub place: Vec<usize>,
    /// Instance-limit option per task.
    pub limit: Vec<usize>,
    /// Early collection per task and argument (0 = no, 1 = yes).
    pub collect: Vec<Vec<usize>>,
}

/// The decision space of one application on one machine.
#[derive(Clone, Debug)]
pub struct Space {
    /// Tasks.
    pub tasks: Vec<TaskSpace>,
    /// Machine shape.
    pub shape: MachineShape,
    /// Global assignments, functions and `SingleTaskMap` statements of the starting mapper
    /// (printed), kept in every candidate so `Place::Base` functions exist.
    base_prelude: String,
    /// The starting point.
    start: Candidate,
}

/// Renders a resolved layout as constraints (`SOA F_order Align==128`).
pub fn layout_text(l: &Layout) -> String {
    let mut s = String::from(if l.soa { "SOA" } else { "AOS" });
    s.push_str(if l.c_order { " C_order" } else { " F_order" });
    if l.align > 0 {
        let _ = write!(s, " Align=={}", l.align);
    }
    if l.compact {
        s.push_str(" Compact");
    }
    if l.exact {
        s.push_str(" Exact");
    }
    s
}

/// Parses constraint words (`SOA C_order Align==64 Exact`) into a layout; unknown words are
/// ignored.
pub fn parse_layout(s: &str) -> Layout {
    let mut l = Layout::default();
    for w in s.split_whitespace() {
        match w {
            "SOA" => l.soa = true,
            "AOS" => l.soa = false,
            "C_order" => l.c_order = true,
            "F_order" => l.c_order = false,
            "No_Align" => l.align = 0,
            "Compact" => l.compact = true,
            "Exact" => l.exact = true,
            _ => {
                if let Some(n) = w.strip_prefix("Align==").and_then(|n| n.parse().ok()) {
                    l.align = n;
                }
            }
        }
    }
    l
}

/// The list the binder resolves `l` to: `l`, then the default list as fallback (mapper-core's
/// bind rule), so two lists with the same effective list are the same decision.
pub fn effective_mems(l: &[MemKind], kind: ProcKind, m: &MachineShape) -> Vec<MemKind> {
    let mut v: Vec<MemKind> = l.to_vec();
    for d in default_memories(kind, m) {
        if !v.contains(&d) {
            v.push(d);
        }
    }
    v
}

/// Memory priority lists a processor of `kind` may use on machine `m`, one per distinct
/// effective list: each visible memory first (the closest one first).
fn mem_options(kind: ProcKind, m: &MachineShape) -> Vec<Vec<MemKind>> {
    let mut v: Vec<Vec<MemKind>> = Vec::new();
    let mut eff: Vec<Vec<MemKind>> = Vec::new();
    let firsts = default_memories(kind, m).into_iter().chain([
        MemKind::Fbmem,
        MemKind::Zcmem,
        MemKind::Sysmem,
        MemKind::Sockmem,
    ]);
    for k in firsts {
        if visible(kind, k) && m.mems.contains(&k) {
            let e = effective_mems(&[k], kind, m);
            if !eff.contains(&e) {
                eff.push(e);
                v.push(vec![k]);
            }
        }
    }
    if v.is_empty() {
        v.push(default_memories(kind, m));
    }
    v
}

fn places_for(dims: Option<usize>) -> Vec<Place> {
    match dims {
        None => vec![Place::Default],
        Some(d) => {
            let mut v = vec![
                Place::Default,
                Place::Block,
                Place::Cyclic,
                Place::NodeBlockProcCyclic,
            ];
            if d >= 2 {
                v.extend([Place::Decompose, Place::DecomposeCyclic, Place::Greedy]);
            }
            v
        }
    }
}

impl Space {
    /// The space of `app` on `shape`, starting from `base` (a mapper text, e.g. the expert's) if
    /// given and bindable, else from the runtime defaults.
    pub fn new(app: &dyn TuneApp, shape: &MachineShape, base: Option<&str>) -> Space {
        Space::with_dims(app, shape, base, &BTreeMap::new())
    }

    /// Like [`Space::new`], with the launch dimensionality observed in a run (task name ->
    /// dimensions) taking precedence over [`TuneApp::launch_dims`].
    pub fn with_dims(
        app: &dyn TuneApp,
        shape: &MachineShape,
        base: Option<&str>,
        observed: &BTreeMap<String, usize>,
    ) -> Space {
        let info = app.info();
        let mut tasks = Vec::new();
        for t in &info.tasks {
            let kinds: Vec<ProcKind> = DEFAULT_KIND_ORDER
                .iter()
                .copied()
                .filter(|k| t.variants.contains(k) && shape.has(*k))
                .collect();
            // Index launches of unknown dimensionality (the task did not run in the baselines
            // and the app does not say) get only dimension-agnostic placements.
            let dims = if t.index_launch {
                observed
                    .get(&t.name)
                    .copied()
                    .or_else(|| app.launch_dims(&t.name))
                    .map(|d| d.clamp(1, 3))
            } else {
                None
            };
            let args =
                t.args
                    .iter()
                    .enumerate()
                    .map(|(i, a)| {
                        let ambiguous = t.args.iter().enumerate().any(|(j, o)| {
                            j != i && (o.name == a.name || o.regions.contains(&a.name))
                        });
                        ArgSpace {
                            name: a.name.clone(),
                            selector: if ambiguous || !plain_ident(&a.name) {
                                i.to_string()
                            } else {
                                a.name.clone()
                            },
                            read_only: a.read_only,
                            mems: kinds.iter().map(|k| mem_options(*k, shape)).collect(),
                            layouts: kinds
                                .iter()
                                .map(|k| {
                                    let mut v: Vec<Layout> = Vec::new();
                                    for s in app.layouts(&t.name, i, *k) {
                                        let l = parse_layout(&s);
                                        if !v.contains(&l) {
                                            v.push(l);
                                        }
                                    }
                                    if v.is_empty() {
                                        v.push(Layout::default());
                                    }
                                    v
                                })
                                .collect(),
                        }
                    })
                    .collect();
            tasks.push(TaskSpace {
                name: t.name.clone(),
                kinds,
                args,
                dims,
                places: if t.index_launch && dims.is_none() {
                    vec![Place::Default]
                } else {
                    places_for(dims)
                },
                limits: vec![None, Some(1), Some(2), Some(4)],
                index_launch: t.index_launch,
            });
        }
        let mut space = Space {
            tasks,
            shape: shape.clone(),
            base_prelude: String::new(),
            start: Candidate {
                kind: vec![],
                mem: vec![],
                layout: vec![],
                place: vec![],
                limit: vec![],
                collect: vec![],
            },
        };
        space.start = space.zero();
        if let Some(text) = base {
            space.project(text, &info);
        }
        space
    }

    /// The candidate with option 0 everywhere (fastest kind, closest memory, first layout,
    /// default placement, no limit, no collection).
    pub fn zero(&self) -> Candidate {
        Candidate {
            kind: vec![0; self.tasks.len()],
            mem: self.tasks.iter().map(|t| vec![0; t.args.len()]).collect(),
            layout: self.tasks.iter().map(|t| vec![0; t.args.len()]).collect(),
            place: vec![0; self.tasks.len()],
            limit: vec![0; self.tasks.len()],
            collect: self.tasks.iter().map(|t| vec![0; t.args.len()]).collect(),
        }
    }

    /// The starting point (the projected base mapper, or [`Space::zero`]).
    pub fn start(&self) -> Candidate {
        self.start.clone()
    }

    /// Projects a mapper's decisions into the space (adding options it uses that the space
    /// lacks) and makes it the start. A mapper that does not bind leaves the start unchanged.
    fn project(&mut self, text: &str, info: &mapper_core::AppInfo) {
        let parsed = parse_text(text);
        if parsed.has_errors() {
            return;
        }
        let Ok(tables) = Tables::resolve_program(&parsed.program, info, &self.shape) else {
            return;
        };
        let mut prelude = String::new();
        for s in &parsed.program.stmts {
            if matches!(
                s,
                Stmt::Assign { .. } | Stmt::Def(_) | Stmt::SingleTaskMap { .. }
            ) {
                prelude.push_str(&print_stmt(s));
            }
        }
        self.base_prelude = prelude;
        let mut c = self.zero();
        for (ti, t) in self.tasks.iter_mut().enumerate() {
            let kind = tables.proc_kind(ti);
            let Some(ki) = t.kinds.iter().position(|k| *k == kind) else {
                continue;
            };
            c.kind[ti] = ki;
            for (ai, a) in t.args.iter_mut().enumerate() {
                let mems = tables.memories(ti, ai, kind).to_vec();
                let shape = &self.shape;
                let opts = &mut a.mems[ki];
                c.mem[ti][ai] = match opts
                    .iter()
                    .position(|m| effective_mems(m, kind, shape) == mems)
                {
                    Some(i) => i,
                    None => {
                        opts.push(mems.clone());
                        opts.len() - 1
                    }
                };
                let first = mems.first().copied().unwrap_or(MemKind::Sysmem);
                let l = tables.layout(ti, ai, kind, first);
                let lopts = &mut a.layouts[ki];
                c.layout[ti][ai] = match lopts.iter().position(|x| *x == l) {
                    Some(i) => i,
                    None => {
                        lopts.push(l);
                        lopts.len() - 1
                    }
                };
                c.collect[ti][ai] = usize::from(a.read_only && tables.collect(ti, ai));
            }
            if let Some(lim) = tables.instance_limit(ti, kind) {
                c.limit[ti] = match t.limits.iter().position(|x| *x == Some(lim)) {
                    Some(i) => i,
                    None => {
                        t.limits.push(Some(lim));
                        t.limits.len() - 1
                    }
                };
            }
            if t.index_launch {
                if let Some(f) = tables.index_func(ti) {
                    t.places.push(Place::Base(f.to_string()));
                    c.place[ti] = t.places.len() - 1;
                }
            }
        }
        self.start = c;
    }

    /// Every decision with more than one option.
    pub fn decisions(&self) -> Vec<Decision> {
        let mut v = Vec::new();
        for (ti, t) in self.tasks.iter().enumerate() {
            if t.kinds.len() > 1 {
                v.push(Decision::Kind(ti));
            }
            if t.places.len() > 1 {
                v.push(Decision::Place(ti));
            }
            for (ai, a) in t.args.iter().enumerate() {
                if a.mems.iter().any(|m| m.len() > 1) {
                    v.push(Decision::Mem(ti, ai));
                }
                if a.layouts.iter().any(|l| l.len() > 1) {
                    v.push(Decision::Layout(ti, ai));
                }
                if a.read_only {
                    v.push(Decision::Collect(ti, ai));
                }
            }
            if t.limits.len() > 1 {
                v.push(Decision::Limit(ti));
            }
        }
        v
    }

    /// Number of options of decision `d` in candidate `c` (memory and layout options depend on
    /// the task's current kind).
    pub fn options(&self, c: &Candidate, d: Decision) -> usize {
        let kind_of = |t: usize| c.kind.get(t).copied().unwrap_or(0);
        match d {
            Decision::Kind(t) => self.tasks.get(t).map_or(1, |t| t.kinds.len()),
            Decision::Place(t) => self.tasks.get(t).map_or(1, |t| t.places.len()),
            Decision::Limit(t) => self.tasks.get(t).map_or(1, |t| t.limits.len()),
            Decision::Mem(t, a) => self
                .arg(t, a)
                .and_then(|x| x.mems.get(kind_of(t)))
                .map_or(1, Vec::len),
            Decision::Layout(t, a) => self
                .arg(t, a)
                .and_then(|x| x.layouts.get(kind_of(t)))
                .map_or(1, Vec::len),
            Decision::Collect(..) => 2,
        }
        .max(1)
    }

    fn arg(&self, t: usize, a: usize) -> Option<&ArgSpace> {
        self.tasks.get(t)?.args.get(a)
    }

    /// The option of `d` in `c`.
    pub fn get(&self, c: &Candidate, d: Decision) -> usize {
        let v = match d {
            Decision::Kind(t) => c.kind.get(t),
            Decision::Place(t) => c.place.get(t),
            Decision::Limit(t) => c.limit.get(t),
            Decision::Mem(t, a) => c.mem.get(t).and_then(|v| v.get(a)),
            Decision::Layout(t, a) => c.layout.get(t).and_then(|v| v.get(a)),
            Decision::Collect(t, a) => c.collect.get(t).and_then(|v| v.get(a)),
        };
        v.copied().unwrap_or(0)
    }

    /// Sets decision `d` of `c` to option `v` (taken modulo the number of options). Changing a
    /// task's kind moves its data along (AutoMap-style): its memories and layouts go back to the
    /// new kind's first options, and a starting-mapper placement function (written for the old
    /// kind) becomes a block placement.
    pub fn set(&self, c: &mut Candidate, d: Decision, v: usize) {
        let n = self.options(c, d);
        let v = v % n;
        let slot = match d {
            Decision::Kind(t) => {
                let changed = c.kind.get(t).is_some_and(|k| *k != v);
                if changed {
                    for x in c.mem.get_mut(t).into_iter().flatten() {
                        *x = 0;
                    }
                    for x in c.layout.get_mut(t).into_iter().flatten() {
                        *x = 0;
                    }
                    if let (Some(p), Some(ts)) = (c.place.get_mut(t), self.tasks.get(t)) {
                        if matches!(ts.places.get(*p), Some(Place::Base(_))) {
                            *p = ts
                                .places
                                .iter()
                                .position(|x| *x == Place::Block)
                                .unwrap_or(0);
                        }
                    }
                }
                c.kind.get_mut(t)
            }
            Decision::Place(t) => c.place.get_mut(t),
            Decision::Limit(t) => c.limit.get_mut(t),
            Decision::Mem(t, a) => c.mem.get_mut(t).and_then(|x| x.get_mut(a)),
            Decision::Layout(t, a) => c.layout.get_mut(t).and_then(|x| x.get_mut(a)),
            Decision::Collect(t, a) => c.collect.get_mut(t).and_then(|x| x.get_mut(a)),
        };
        if let Some(s) = slot {
            *s = v;
        }
    }

    /// A uniformly random candidate.
    pub fn random(&self, rng: &mut fastrand::Rng) -> Candidate {
        let mut c = self.zero();
        for (t, ts) in self.tasks.iter().enumerate() {
            let k = rng.usize(..ts.kinds.len().max(1));
            c.kind[t] = k;
            c.place[t] = rng.usize(..ts.places.len().max(1));
            c.limit[t] = rng.usize(..ts.limits.len().max(1));
            for (a, arg) in ts.args.iter().enumerate() {
                c.mem[t][a] = rng.usize(..arg.mems.get(k).map_or(1, Vec::len).max(1));
                c.layout[t][a] = rng.usize(..arg.layouts.get(k).map_or(1, Vec::len).max(1));
                c.collect[t][a] = if arg.read_only { rng.usize(..2) } else { 0 };
            }
        }
        c
    }

    /// A one-line description of decision `d`'s current option in `c`.
    pub fn describe(&self, c: &Candidate, d: Decision) -> String {
        let v = self.get(c, d);
        let (t, name) = match d {
            Decision::Kind(t)
            | Decision::Place(t)
            | Decision::Limit(t)
            | Decision::Mem(t, _)
            | Decision::Layout(t, _)
            | Decision::Collect(t, _) => (t, self.tasks.get(t).map_or("?", |t| &t.name)),
        };
        let k = self.get(c, Decision::Kind(t));
        let ts = self.tasks.get(t);
        match d {
            Decision::Kind(_) => format!(
                "{name} on {}",
                ts.and_then(|x| x.kinds.get(v)).map_or("?", |k| k.as_str())
            ),
            Decision::Place(_) => format!(
                "{name} placed {}",
                ts.and_then(|x| x.places.get(v))
                    .map_or("?".into(), Place::label)
            ),
            Decision::Limit(_) => match ts.and_then(|x| x.limits.get(v)).copied().flatten() {
                Some(n) => format!("{name} limited to {n} instances"),
                None => format!("{name} unlimited"),
            },
            Decision::Mem(_, a) => {
                let arg = self.arg(t, a);
                let mems = arg
                    .and_then(|x| x.mems.get(k))
                    .and_then(|o| o.get(v))
                    .map(|m| join_mems(m))
                    .unwrap_or_default();
                format!("{name}.{} in {mems}", arg.map_or("?", |x| &x.name))
            }
            Decision::Layout(_, a) => {
                let arg = self.arg(t, a);
                let l = arg
                    .and_then(|x| x.layouts.get(k))
                    .and_then(|o| o.get(v))
                    .map(layout_text)
                    .unwrap_or_default();
                format!("{name}.{} layout {l}", arg.map_or("?", |x| &x.name))
            }
            Decision::Collect(_, a) => format!(
                "{name}.{} {}",
                self.arg(t, a).map_or("?", |x| &x.name),
                if v == 1 { "collected early" } else { "kept" }
            ),
        }
    }

    /// The mapper text of a candidate.
    pub fn render(&self, c: &Candidate) -> String {
        let mut out = String::new();
        let mut funcs = String::new();
        let mut spaces: Vec<String> = Vec::new();
        let mut defined: Vec<String> = Vec::new();
        let mut maps: Vec<String> = Vec::new();
        for (ti, t) in self.tasks.iter().enumerate() {
            let Some(&kind) = t.kinds.get(c.kind.get(ti).copied().unwrap_or(0)) else {
                continue;
            };
            let ki = c.kind.get(ti).copied().unwrap_or(0);
            let _ = writeln!(out, "Task {} {};", t.name, kind);
            for (ai, a) in t.args.iter().enumerate() {
                let mi = c.mem.get(ti).and_then(|v| v.get(ai)).copied().unwrap_or(0);
                if let Some(opts) = a.mems.get(ki) {
                    if let Some(m) = opts.get(mi % opts.len().max(1)) {
                        let _ = writeln!(
                            out,
                            "Region {} {} {} {};",
                            t.name,
                            a.selector,
                            kind,
                            join_mems(m)
                        );
                    }
                }
                let li = c
                    .layout
                    .get(ti)
                    .and_then(|v| v.get(ai))
                    .copied()
                    .unwrap_or(0);
                if let Some(opts) = a.layouts.get(ki) {
                    if let Some(l) = opts.get(li % opts.len().max(1)) {
                        let _ = writeln!(
                            out,
                            "Layout {} {} {} {};",
                            t.name,
                            a.selector,
                            kind,
                            layout_text(l)
                        );
                    }
                }
                if a.read_only && c.collect.get(ti).and_then(|v| v.get(ai)).copied() == Some(1) {
                    let _ = writeln!(out, "CollectMemory {} {};", t.name, a.selector);
                }
            }
            let lim = c.limit.get(ti).copied().unwrap_or(0);
            if let Some(Some(n)) = t.limits.get(lim % t.limits.len().max(1)) {
                let _ = writeln!(out, "InstanceLimit {} {} {};", t.name, kind, n);
            }
            let pi = c.place.get(ti).copied().unwrap_or(0);
            let dims = t.dims.unwrap_or(1);
            let func = match t.places.get(pi % t.places.len().max(1)) {
                None | Some(Place::Default) => None,
                Some(Place::Base(f)) => Some(f.clone()),
                Some(p) => {
                    let (name, def, space) = template(p, kind, dims);
                    if !defined.contains(&name) {
                        defined.push(name.clone());
                        funcs.push_str(&def);
                    }
                    for s in space {
                        if !spaces.contains(&s) {
                            spaces.push(s);
                        }
                    }
                    Some(name)
                }
            };
            if let Some(f) = func {
                maps.push(format!("IndexTaskMap {} {};", t.name, f));
            }
        }
        if !self.base_prelude.is_empty() {
            out.push_str(&self.base_prelude);
        }
        for s in &spaces {
            out.push_str(s);
            out.push('\n');
        }
        out.push_str(&funcs);
        for m in maps {
            out.push_str(&m);
            out.push('\n');
        }
        out
    }
}

/// True if `s` can name a region in a statement: an identifier that is not a keyword.
fn plain_ident(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !mapper_core::parse::is_keyword(s)
        && ProcKind::parse(s).is_none()
        && MemKind::parse(s).is_none()
}

fn join_mems(m: &[MemKind]) -> String {
    m.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(",")
}

/// Name, definition and required global spaces of a placement template.
fn template(p: &Place, kind: ProcKind, dims: usize) -> (String, String, Vec<String>) {
    let k = kind.as_str();
    let m = format!("tune_m_{k}");
    let mut spaces = vec![format!("{m} = Machine({k});")];
    let (lin, total) = match dims {
        1 => ("ip[0]".to_string(), "is[0]".to_string()),
        2 => ("ip[0] * is[1] + ip[1]".into(), "is[0] * is[1]".into()),
        _ => (
            "(ip[0] * is[1] + ip[1]) * is[2] + ip[2]".into(),
            "is[0] * is[1] * is[2]".into(),
        ),
    };
    let idx: Vec<String> = (0..dims).map(|i| i.to_string()).collect();
    let dims_tuple = if dims == 1 {
        "(0,)".to_string()
    } else {
        format!("({})", idx.join(", "))
    };
    let head = "    ip = task.ipoint;\n    is = task.ispace;\n";
    let (tag, body) = match p {
        Place::Block => (
            "block",
            format!(
                "{head}    lin = {lin};\n    i = lin * {m}.volume / ({total});\n    return {m}[i / {m}.size[1], i % {m}.size[1]];\n"
            ),
        ),
        Place::Cyclic => (
            "cyclic",
            format!(
                "{head}    i = ({lin}) % {m}.volume;\n    return {m}[i / {m}.size[1], i % {m}.size[1]];\n"
            ),
        ),
        Place::NodeBlockProcCyclic => (
            "nodeblock",
            format!(
                "{head}    lin = {lin};\n    return {m}[lin * {m}.size[0] / ({total}), lin % {m}.size[1]];\n"
            ),
        ),
        Place::Decompose | Place::DecomposeCyclic | Place::Greedy => {
            let flat = format!("tune_flat_{k}");
            spaces.push(format!("{flat} = {m}.merge(0, 1);"));
            let split = if *p == Place::Greedy {
                "greedy_split"
            } else {
                "auto_split"
            };
            let cell = if *p == Place::DecomposeCyclic {
                format!("tuple(ip[i] % g.size[i] for i in {dims_tuple})")
            } else {
                format!("tuple(ip[i] * g.size[i] / is[i] for i in {dims_tuple})")
            };
            let tag = match p {
                Place::Decompose => "decompose",
                Place::DecomposeCyclic => "decompose_cyclic",
                _ => "greedy",
            };
            (
                tag,
                format!(
                    "{head}    g = {flat}.{split}(0, is);\n    cell = {cell};\n    return g[*cell];\n"
                ),
            )
        }
        Place::Default | Place::Base(_) => ("default", format!("{head}    return {m}[0, 0];\n")),
    };
    let name = format!("tune_{tag}_{k}_{dims}d");
    let def = format!("def {name}(Task task) {{\n{body}}}\n");
    (name, def, spaces)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::{MapperSource, MapperSpec, RunFailure, RunReport};
    use crate::validate::check_text_for;
    use mapper_core::interp::Interpreted;
    use mapper_core::machine::{Placement, ProcId};
    use mapper_core::mapper::{Mapper, PointCtx};

    /// The stencil app (tasks `init`, `stencil`, `increment`, all with 2-D index launches).
    fn stencil() -> Box<dyn TuneApp> {
        crate::registry::find("stencil").unwrap()
    }

    /// The stencil app with 3-D launches of `stencil`, to exercise the 3-D grid templates too.
    struct Stencil3d(Box<dyn TuneApp>);
    impl TuneApp for Stencil3d {
        fn name(&self) -> &str {
            self.0.name()
        }
        fn summary(&self) -> String {
            self.0.summary()
        }
        fn info(&self) -> mapper_core::AppInfo {
            self.0.info()
        }
        fn launch_dims(&self, task: &str) -> Option<usize> {
            if task == "stencil" {
                Some(3)
            } else {
                self.0.launch_dims(task)
            }
        }
        fn expert_mapper(&self) -> String {
            self.0.expert_mapper()
        }
        fn mapper_source(&self) -> Option<MapperSource> {
            self.0.mapper_source()
        }
        fn sizes(&self) -> Vec<String> {
            self.0.sizes()
        }
        fn run(&self, m: &MapperSpec, machine: &str, size: &str) -> Result<RunReport, RunFailure> {
            self.0.run(m, machine, size)
        }
    }

    #[test]
    fn zero_candidate_renders_exactly() {
        let app = stencil();
        let s = Space::new(&*app, &MachineShape::new(1, 2, 2), None);
        let names: Vec<&str> = s.tasks.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, vec!["init", "stencil", "increment"]);
        assert!(s.tasks.iter().all(|t| t.dims == Some(2)));
        assert_eq!(
            s.tasks[0].kinds,
            vec![ProcKind::Gpu, ProcKind::Omp, ProcKind::Cpu]
        );
        assert_eq!(
            s.tasks[0].args[0].mems[0],
            vec![vec![MemKind::Fbmem], vec![MemKind::Zcmem]]
        );
        let mut c = s.zero();
        assert_eq!(
            s.render(&c),
            "Task init GPU;\n\
             Region init tile GPU FBMEM;\n\
             Layout init tile GPU SOA C_order;\n\
             Task stencil GPU;\n\
             Region stencil ghost GPU FBMEM;\n\
             Layout stencil ghost GPU SOA C_order;\n\
             Region stencil out GPU FBMEM;\n\
             Layout stencil out GPU SOA C_order;\n\
             Task increment GPU;\n\
             Region increment tile GPU FBMEM;\n\
             Layout increment tile GPU SOA C_order;\n"
        );
        s.set(&mut c, Decision::Place(1), 2);
        s.set(&mut c, Decision::Limit(1), 2);
        s.set(&mut c, Decision::Collect(1, 0), 1);
        let text = s.render(&c);
        assert!(text.contains("InstanceLimit stencil GPU 2;\n"), "{text}");
        assert!(text.contains("CollectMemory stencil ghost;\n"), "{text}");
        assert!(text.contains("tune_m_GPU = Machine(GPU);\ndef tune_cyclic_GPU_2d(Task task) {\n    ip = task.ipoint;\n    is = task.ispace;\n    i = (ip[0] * is[1] + ip[1]) % tune_m_GPU.volume;\n    return tune_m_GPU[i / tune_m_GPU.size[1], i % tune_m_GPU.size[1]];\n}\nIndexTaskMap stencil tune_cyclic_GPU_2d;\n"), "{text}");
        assert_eq!(s.describe(&c, Decision::Place(1)), "stencil placed cyclic");
        assert_eq!(s.describe(&c, Decision::Mem(1, 1)), "stencil.out in FBMEM");
        assert_eq!(
            s.describe(&c, Decision::Collect(1, 0)),
            "stencil.ghost collected early"
        );
    }

    fn place_all(text: &str, shape: &MachineShape, task: usize, domain: &[i64]) -> Vec<ProcId> {
        let m = Interpreted::from_text("c", text).unwrap();
        let b = m.bind(&stencil().info(), shape).unwrap();
        let mut out = Vec::new();
        let n: i64 = domain.iter().product();
        for lin in 0..n {
            let mut p = vec![0; domain.len()];
            let mut r = lin;
            for d in (0..domain.len()).rev() {
                p[d] = r % domain[d];
                r /= domain[d];
            }
            let ctx = PointCtx {
                task,
                point: &p,
                domain,
                index_launch: true,
                parent_proc: ProcId {
                    node: 0,
                    kind: ProcKind::Cpu,
                    index: 0,
                },
                seq: 0,
            };
            match b.place(&ctx) {
                Ok(Placement::Proc(id)) => out.push(id),
                other => panic!("{other:?}"),
            }
        }
        out
    }

    #[test]
    fn every_template_checks_and_places_in_range() {
        let shape = MachineShape::new(2, 2, 2);
        let app = Stencil3d(stencil());
        let info = app.info();
        let s = Space::new(&app, &shape, None);
        assert_eq!(s.tasks[1].dims, Some(3));
        assert_eq!(s.tasks[0].dims, Some(2));
        assert_eq!(s.tasks[1].places.len(), 7);
        for p in 0..7 {
            for k in 0..3 {
                let mut c = s.zero();
                for t in 0..3 {
                    s.set(&mut c, Decision::Kind(t), k);
                    s.set(&mut c, Decision::Place(t), p);
                }
                let text = s.render(&c);
                let checked = check_text_for(&text, Some(&info));
                assert!(checked.is_valid(), "{text}\n{:?}", checked.diagnostics());
                let procs = place_all(&text, &shape, 1, &[2, 3, 4]);
                assert_eq!(procs.len(), 24);
                let kind = s.tasks[1].kinds[k];
                assert!(procs.iter().all(|p| p.kind == kind));
                let procs = place_all(&text, &shape, 0, &[3, 5]);
                assert_eq!(procs.len(), 15);
            }
        }
        // Block over 4 GPUs (2 nodes x 2) of a 2x4 domain: two points per GPU, node-major.
        let mut c = s.zero();
        s.set(&mut c, Decision::Place(0), 1);
        let procs = place_all(&s.render(&c), &shape, 0, &[2, 4]);
        let got: Vec<(u32, u32)> = procs.iter().map(|p| (p.node, p.index)).collect();
        assert_eq!(
            got,
            vec![
                (0, 0),
                (0, 0),
                (0, 1),
                (0, 1),
                (1, 0),
                (1, 0),
                (1, 1),
                (1, 1)
            ]
        );
    }

    #[test]
    fn projection_of_a_base_mapper() {
        let app = stencil();
        let base = "SingleTaskMap init f;\nTask * GPU,CPU;\nRegion * * GPU FBMEM,ZCMEM;\nLayout increment * GPU SOA F_order Align==128;\nInstanceLimit increment GPU 3;\nCollectMemory stencil ghost;\nmg = Machine(GPU);\ndef f(Task task) { return mg[0, task.ipoint[0] % mg.size[1]]; }\nIndexTaskMap stencil f;\n";
        let shape = MachineShape::new(1, 2, 2);
        let s = Space::new(&*app, &shape, Some(base));
        let c = s.start();
        assert_eq!(c.kind, vec![0, 0, 0]);
        assert_eq!(c.mem[1], vec![0, 0]);
        // `increment` takes both SOA orders on GPU (the stencil kernel only C order): the
        // base's F order with its alignment becomes a third option.
        assert_eq!(c.layout[2], vec![2]);
        assert_eq!(c.layout[1], vec![0, 0]);
        assert_eq!(s.tasks[1].args[0].layouts[0].len(), 1);
        assert_eq!(c.limit, vec![0, 0, 4]);
        assert_eq!(c.collect[1], vec![1, 0]);
        assert_eq!(s.tasks[1].places.last(), Some(&Place::Base("f".into())));
        let text = s.render(&c);
        assert!(
            text.contains("Layout increment tile GPU SOA F_order Align==128;"),
            "{text}"
        );
        assert!(text.contains("InstanceLimit increment GPU 3;"), "{text}");
        assert!(
            text.contains("mg = Machine(GPU);\ndef f(Task task) {"),
            "{text}"
        );
        assert!(text.contains("IndexTaskMap stencil f;"), "{text}");
        assert!(
            text.contains("SingleTaskMap init f;\nmg = Machine(GPU);\n"),
            "{text}"
        );
        assert!(
            check_text_for(&text, Some(&app.info())).is_valid(),
            "{text}"
        );
        // Same placements as the base.
        assert_eq!(
            place_all(&text, &shape, 1, &[3, 2]),
            place_all(base, &shape, 1, &[3, 2])
        );
        // Moving the task to CPU moves its data and drops the GPU-only function.
        let mut c2 = c.clone();
        s.set(&mut c2, Decision::Kind(1), 2);
        assert_eq!(c2.mem[1], vec![0, 0]);
        assert_eq!(s.tasks[1].places[c2.place[1]], Place::Block);
        // The stencil's expert projects too (GPUs, its own placement function, the same
        // placements), and an unparsable base is ignored.
        let expert = app.expert_mapper();
        let x = Space::new(&*app, &shape, Some(&expert));
        let e = x.start();
        assert_eq!(e.kind, vec![0; 3]);
        for t in 0..3 {
            assert_eq!(
                x.tasks[t].places[e.place[t]],
                Place::Base("block_nodes".into())
            );
        }
        assert_eq!(
            place_all(&x.render(&e), &shape, 1, &[2, 2]),
            place_all(&expert, &shape, 1, &[2, 2])
        );
        assert_eq!(
            Space::new(&*app, &shape, Some("Task * GPX;")).start(),
            s.zero()
        );
    }

    #[test]
    fn random_candidates_are_valid_mappers() {
        let shape = MachineShape::new(2, 4, 2);
        let app = Stencil3d(stencil());
        let info = app.info();
        let s = Space::new(&app, &shape, None);
        let mut rng = fastrand::Rng::with_seed(7);
        for _ in 0..50 {
            let c = s.random(&mut rng);
            let text = s.render(&c);
            assert!(check_text_for(&text, Some(&info)).is_valid(), "{text}");
        }
        // 3 kinds + 3 placements + 3 limits + 4 memories + 4 layouts + 1 collection (the
        // stencil's `ghost`, its only read-only argument).
        assert_eq!(s.decisions().len(), 18);
    }
}
