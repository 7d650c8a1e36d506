//! The static checker: names, placement-function signatures, a small type inference over
//! expressions, statement sanity (limits, layouts, priority lists) and, when an [`AppInfo`] is
//! given, task and region names. Every problem is collected (not just the first), each with the
//! span of the offending tokens, a one-line message and, where possible, a `help:`.
//!
//! Scoping rules (the spec is silent; these follow how the original DSL evaluates a mapper):
//! top-level expressions see globals assigned *earlier* in the file; function bodies see their
//! parameters, their own locals assigned earlier in the body, every global of the file and every
//! function (globals are all bound before any placement function runs). Placement statements may
//! name a function defined anywhere in the file.

use crate::app::AppInfo;
use crate::ast::{
    BinOp, Expr, ExprKind, FnStmt, FuncDef, ParamType, ProcSel, Program, RegionSel, Stmt,
    TaskNames, TaskSel, UnOp,
};
use crate::diag::{edit_distance, Diagnostic, MAX_DIAGNOSTICS};
use crate::kinds::{combined_align, AlignOp, Constraint, ProcKind, MAX_ALIGN};
use crate::machine::{visible, visible_mems};
use crate::span::{Ident, Span};
use std::collections::{HashMap, HashSet};

/// Checks `p` (and, with `app`, its task and region names); returns errors and warnings sorted
/// in source order, at most [`MAX_DIAGNOSTICS`] of them.
pub fn check(p: &Program, app: Option<&AppInfo>) -> Vec<Diagnostic> {
    let mut c = Checker::new(p, app);
    c.run();
    sorted(c.diags)
}

/// Diagnostics in source order, at most [`MAX_DIAGNOSTICS`] of them.
fn sorted(mut diags: Vec<Diagnostic>) -> Vec<Diagnostic> {
    diags.sort_by_key(|d| (d.span.lo.line, d.span.lo.col));
    diags.truncate(MAX_DIAGNOSTICS);
    diags
}

/// Checks `p` (and, with `app`, its task and region names) and returns the checked program
/// every later stage consumes, or every diagnostic when there is an error.
pub fn check_program(p: Program, app: Option<&AppInfo>) -> Result<Checked, Vec<Diagnostic>> {
    let (funcs, globals, diags) = {
        let mut c = Checker::new(&p, app);
        c.run();
        let diags = sorted(std::mem::take(&mut c.diags));
        if has_errors(&diags) {
            return Err(diags);
        }
        (c.func_sigs(), c.global_sigs(), diags)
    };
    Ok(Checked {
        program: p,
        funcs,
        globals,
        warnings: diags,
    })
}

/// The application-dependent diagnostics of a checked program: task and region names checked
/// against `app` (what binding to an application adds to [`check_program`]).
pub fn check_app(checked: &Checked, app: &AppInfo) -> Vec<Diagnostic> {
    let mut c = Checker::new(&checked.program, Some(app));
    c.names_only = true;
    c.run();
    sorted(c.diags)
}

/// True if any diagnostic is an error.
pub fn has_errors(diags: &[Diagnostic]) -> bool {
    diags.iter().any(Diagnostic::is_error)
}

use super::checked::{Checked, FuncSig, GlobalSig, Type as Ty};

impl Ty {
    fn of_param(t: ParamType) -> Ty {
        match t {
            ParamType::Task => Ty::Task,
            ParamType::Int => Ty::Int,
            ParamType::Bool => Ty::Bool,
            ParamType::IPoint | ParamType::ISpace | ParamType::Tuple => Ty::Tuple(None),
            ParamType::MSpace => Ty::Space(None),
        }
    }

    /// True if a value of type `self` may be passed where `want` is declared.
    fn fits(self, want: ParamType) -> bool {
        match (self, Ty::of_param(want)) {
            (Ty::Unknown, _) => true,
            (Ty::Parent, Ty::Task) => true,
            (Ty::Tuple(_), Ty::Tuple(_)) | (Ty::Space(_), Ty::Space(_)) => true,
            (a, b) => a == b,
        }
    }

    /// "a machine space", "a task", "a value of type int": how messages name a receiver.
    fn describe(self) -> String {
        match self {
            Ty::Space(_) => "a machine space".to_string(),
            Ty::Task => "a task".to_string(),
            Ty::Parent => "the parent task".to_string(),
            other => format!("a value of type {other}"),
        }
    }

    fn join(a: Ty, b: Ty) -> Ty {
        match (a, b) {
            (Ty::Tuple(x), Ty::Tuple(y)) => Ty::Tuple(if x == y { x } else { None }),
            (Ty::Space(x), Ty::Space(y)) => Ty::Space(if x == y { x } else { None }),
            (x, y) if x == y => x,
            _ => Ty::Unknown,
        }
    }
}

/// Fields of a task object.
const TASK_FIELDS: &[&str] = &["ipoint", "ispace", "parent"];
/// Methods of a task object.
const TASK_METHODS: &[&str] = &["processor"];
/// Fields of a machine space.
const SPACE_FIELDS: &[&str] = &["size", "len", "volume"];
/// Fields of a tuple (`IPoint`, `ISpace`): the same names as a machine space's.
const TUPLE_FIELDS: &[&str] = SPACE_FIELDS;
/// Machine-space transforms and their arities.
const TRANSFORMS: &[(&str, usize)] = &[
    ("merge", 2),
    ("split", 2),
    ("swap", 2),
    ("slice", 3),
    ("reverse", 1),
    ("balance_split", 2),
    ("auto_split", 2),
    ("decompose", 2),
    ("greedy_split", 2),
];

/// How a method is called (for arity help).
fn method_signature(name: &str) -> &'static str {
    match name {
        "merge" => "m.merge(d1, d2)",
        "split" => "m.split(d, f)",
        "swap" => "m.swap(d1, d2)",
        "slice" => "m.slice(d, lo, hi)",
        "reverse" => "m.reverse(d)",
        "balance_split" => "m.balance_split(d, k)",
        "auto_split" => "m.auto_split(d, extents)",
        "decompose" => "m.decompose(d, extents)",
        "greedy_split" => "m.greedy_split(d, extents)",
        _ => "task.processor(m)",
    }
}

/// "1 argument", "2 arguments".
fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// "1 was", "3 were".
fn was_were(n: usize) -> String {
    if n == 1 {
        format!("{n} was")
    } else {
        format!("{n} were")
    }
}

/// Joins names as "a, b or c".
fn or_list(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => (*one).to_string(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// Joins names as "`a`, `b`, `c`", eliding after `max`.
fn tick_list(items: &[&str], max: usize) -> String {
    let mut v: Vec<String> = items.iter().take(max).map(|s| format!("`{s}`")).collect();
    if items.len() > max {
        v.push(format!("... ({} more)", items.len() - max));
    }
    v.join(", ")
}

/// The best did-you-mean candidate for `name`: within edit distance `max(len, 3) / 3` or an
/// anagram of it (a transposition), the closest first, ties broken alphabetically so that the
/// output never depends on hash order.
fn suggest<'c>(name: &str, cands: impl IntoIterator<Item = &'c str>) -> Option<&'c str> {
    let limit = name.chars().count().max(3) / 3;
    let sorted = |s: &str| {
        let mut v: Vec<char> = s.to_lowercase().chars().collect();
        v.sort_unstable();
        v
    };
    let key = sorted(name);
    cands
        .into_iter()
        .filter(|c| *c != name)
        .filter_map(|c| {
            let d = edit_distance(name, c);
            (d <= limit || sorted(c) == key).then_some((d, c))
        })
        .min()
        .map(|(_, c)| c)
}

/// The processor kind a name like `mgpu` or `mcpu` suggests (`m` + a kind spelling).
fn machine_like(name: &str) -> Option<ProcKind> {
    let rest = name.strip_prefix('m')?;
    ProcKind::parse(&rest.to_ascii_uppercase())
}

/// Value of a constant integer expression (literals, negation and arithmetic on them).
pub(crate) fn const_int(e: &Expr) -> Option<i64> {
    match &e.kind {
        ExprKind::Int(v) => Some(*v),
        ExprKind::Unary(UnOp::Neg, x) => const_int(x)?.checked_neg(),
        ExprKind::Binary(op, a, b) => {
            let (a, b) = (const_int(a)?, const_int(b)?);
            match op {
                BinOp::Add => a.checked_add(b),
                BinOp::Sub => a.checked_sub(b),
                BinOp::Mul => a.checked_mul(b),
                BinOp::Div => a.checked_div(b),
                BinOp::Rem => a.checked_rem(b),
                _ => None,
            }
        }
        _ => None,
    }
}

/// Number of `{}` placeholders in a print format.
fn placeholders(fmt: &str) -> usize {
    fmt.matches("{}").count()
}

/// A scope of local names (parameters, locals, comprehension variables), innermost last.
struct Scope<'a> {
    locals: Vec<(&'a str, Ty)>,
    /// True inside a function body.
    in_function: bool,
    /// Names assigned later in the current body (for "used before it is defined").
    later: HashMap<&'a str, Span>,
    /// Globals visible here (top level: those assigned so far).
    globals: HashMap<&'a str, Ty>,
}

impl<'a> Scope<'a> {
    fn lookup(&self, name: &str) -> Option<Ty> {
        self.locals
            .iter()
            .rev()
            .find(|(n, _)| *n == name)
            .map(|(_, t)| *t)
    }
}

/// What the checker learned about a function's body.
#[derive(Clone, Copy)]
struct FnInfo {
    /// Type of the first `return`, and the span of its value.
    ret: Option<(Ty, Span)>,
}

struct Checker<'a> {
    prog: &'a Program,
    app: Option<&'a AppInfo>,
    diags: Vec<Diagnostic>,
    /// Suppresses diagnostics while inferring a function's return type out of order.
    quiet: u32,
    funcs: HashMap<&'a str, &'a FuncDef>,
    /// Type of each global after the whole file ran (what function bodies see).
    globals_final: HashMap<&'a str, Ty>,
    /// Line of the first top-level assignment of each global.
    global_def: HashMap<&'a str, Span>,
    infos: HashMap<&'a str, FnInfo>,
    in_progress: HashSet<&'a str>,
    used: HashSet<&'a str>,
    /// True while computing `globals_final` (calls are not resolved yet).
    prepass: bool,
    /// Type of each global after the main pass (calls resolved).
    globals_out: HashMap<&'a str, Ty>,
    /// Only the statements' task and region names are checked ([`check_app`]).
    names_only: bool,
}

impl<'a> Checker<'a> {
    fn new(prog: &'a Program, app: Option<&'a AppInfo>) -> Self {
        Checker {
            prog,
            app,
            diags: Vec::new(),
            quiet: 0,
            funcs: HashMap::new(),
            globals_final: HashMap::new(),
            global_def: HashMap::new(),
            infos: HashMap::new(),
            in_progress: HashSet::new(),
            used: HashSet::new(),
            prepass: false,
            globals_out: HashMap::new(),
            names_only: false,
        }
    }

    /// Every function in definition order (the first of duplicates), with its return type.
    fn func_sigs(&self) -> Vec<FuncSig> {
        let mut out: Vec<FuncSig> = Vec::new();
        for s in &self.prog.stmts {
            if let Stmt::Def(f) = s {
                if out.iter().any(|g| g.name == f.name.node) {
                    continue;
                }
                let ret = self
                    .infos
                    .get(f.name.node.as_str())
                    .and_then(|i| i.ret)
                    .map_or(Ty::Unknown, |r| r.0);
                out.push(FuncSig {
                    name: f.name.node.clone(),
                    params: f.params.iter().map(|p| p.ty.node).collect(),
                    ret,
                    span: f.name.span,
                });
            }
        }
        out
    }

    /// Every global in order of first assignment, with its final type and constant value.
    fn global_sigs(&self) -> Vec<GlobalSig> {
        let mut out: Vec<GlobalSig> = Vec::new();
        for s in &self.prog.stmts {
            if let Stmt::Assign { name, value, .. } = s {
                if let Some(g) = out.iter_mut().find(|g| g.name == name.node) {
                    g.constant = None;
                    continue;
                }
                out.push(GlobalSig {
                    name: name.node.clone(),
                    ty: self
                        .globals_out
                        .get(name.node.as_str())
                        .copied()
                        .unwrap_or(Ty::Unknown),
                    constant: const_int(value),
                });
            }
        }
        out
    }

    fn emit(&mut self, d: Diagnostic) {
        if self.quiet == 0 && !self.prepass {
            self.diags.push(d);
        }
    }

    fn err(&mut self, span: Span, msg: impl Into<String>) {
        self.emit(Diagnostic::error(span, msg));
    }

    fn err_help(&mut self, span: Span, msg: impl Into<String>, help: impl Into<String>) {
        self.emit(Diagnostic::error(span, msg).with_help(help));
    }

    fn run(&mut self) {
        // Functions, and duplicate definitions.
        for s in &self.prog.stmts {
            if let Stmt::Def(f) = s {
                if let Some(first) = self.funcs.get(f.name.node.as_str()) {
                    let line = first.name.span.lo.line;
                    self.err_help(
                        f.name.span,
                        format!("function `{}` is defined more than once", f.name.node),
                        format!(
                            "the first definition is at line {line}; rename or remove one of them"
                        ),
                    );
                } else {
                    self.funcs.insert(&f.name.node, f);
                }
            }
        }
        if self.names_only {
            for s in &self.prog.stmts {
                if !matches!(s, Stmt::Assign { .. } | Stmt::Def(_)) {
                    self.stmt_names(s);
                }
            }
            return;
        }
        // Global types after the whole file (what function bodies see).
        self.prepass = true;
        let mut sc = self.top_scope(HashMap::new());
        for s in &self.prog.stmts {
            if let Stmt::Assign { name, value, .. } = s {
                let t = self.expr(value, &mut sc);
                sc.globals.insert(&name.node, t);
                self.global_def.entry(&name.node).or_insert(name.span);
            }
        }
        self.globals_final = sc.globals;
        self.prepass = false;

        let mut placement: Vec<&'a Ident> = Vec::new();
        let mut globals: HashMap<&'a str, Ty> = HashMap::new();
        for s in &self.prog.stmts {
            match s {
                Stmt::IndexTaskMap { func, .. } | Stmt::SingleTaskMap { func, .. } => {
                    self.stmt_names(s);
                    placement.push(func);
                }
                Stmt::Assign { name, value, .. } => {
                    if self.funcs.contains_key(name.node.as_str()) {
                        self.err_help(
                            name.span,
                            format!("`{}` is already defined as a function", name.node),
                            "give the variable a different name",
                        );
                    }
                    let mut sc = self.top_scope(globals.clone());
                    let t = self.expr(value, &mut sc);
                    globals.insert(&name.node, t);
                }
                Stmt::Def(f) => self.def(f),
                _ => self.stmt_names(s),
            }
        }
        self.globals_out = globals;
        // Placement functions: existence, signature, return.
        let mut sig_done: HashSet<&str> = HashSet::new();
        for func in placement {
            let name = func.node.as_str();
            let Some(&f) = self.funcs.get(name) else {
                let help = match suggest(name, self.funcs.keys().copied()) {
                    Some(c) => format!("did you mean `{c}`?"),
                    None => format!("define it with `def {name}(Task task) {{ ... }}`"),
                };
                self.err_help(func.span, crate::diag::not_defined(name), help);
                continue;
            };
            self.used.insert(&f.name.node);
            if !sig_done.insert(name) {
                continue;
            }
            let ok = f.params.len() == 1
                && f.params
                    .first()
                    .is_some_and(|p| p.ty.node == ParamType::Task);
            if !ok {
                let span = match (f.params.first(), f.params.last()) {
                    (Some(a), Some(b)) => a.ty.span.to(b.name.span),
                    _ => f.name.span,
                };
                self.err_help(
                    span,
                    format!("placement function `{name}` must take exactly one parameter of type `Task`"),
                    format!("declare it as `def {name}(Task task)`"),
                );
            }
            if let Some(FnInfo {
                ret: Some((t, span)),
            }) = self.infos.get(name).copied()
            {
                if !matches!(t, Ty::Proc | Ty::Unknown) {
                    self.err_help(
                        span,
                        format!(
                            "placement function `{name}` returns {}, not a processor",
                            t.describe()
                        ),
                        "return a point of a machine space, e.g. `m[i, j]`",
                    );
                }
            }
        }
        // Used functions that can finish without returning.
        let mut missing: Vec<&FuncDef> = self
            .used
            .iter()
            .filter_map(|n| self.funcs.get(n).copied())
            .filter(|f| !f.body.iter().any(|s| matches!(s, FnStmt::Return { .. })))
            .collect();
        missing.sort_by_key(|f| (f.name.span.lo.line, f.name.span.lo.col));
        for f in missing {
            self.err_help(
                f.name.span,
                format!(
                    "function `{}` can finish without returning a value",
                    f.name.node
                ),
                format!("end `{}` with a `return` statement", f.name.node),
            );
        }
    }

    /// Checks one table statement (everything but assignments and definitions): names, kinds,
    /// priority lists, layouts and limits.
    fn stmt_names(&mut self, s: &'a Stmt) {
        match s {
            Stmt::Task { tasks, kinds, .. } => {
                self.task_names(tasks);
                self.dup_list(kinds.iter().map(|k| (k.node.as_str(), k.span)));
            }
            Stmt::Region {
                task,
                region,
                proc,
                mems,
                span,
            } => {
                self.task_sel(task);
                self.region_sel(task, region);
                if mems.is_empty() {
                    self.err_help(
                        *span,
                        "a Region statement needs at least one memory kind",
                        "list memory kinds after the processor kind, e.g. `Region * * GPU FBMEM;`",
                    );
                }
                self.dup_list(mems.iter().map(|m| (m.node.as_str(), m.span)));
                if let ProcSel::Kind(k) = proc {
                    if let Some(mut d) = region_visibility(k.node, mems) {
                        if let Some(args) = self.mapped_args(task, region, k.node) {
                            d.message = format!("{}, where this puts {args}", d.message);
                        }
                        self.emit(d);
                    }
                }
            }
            Stmt::Layout {
                task,
                region,
                constraints,
                ..
            } => {
                self.task_sel(task);
                self.region_sel(task, region);
                self.layout(constraints);
            }
            Stmt::InstanceLimit { task, limit, .. } => {
                self.task_sel(task);
                if limit.node <= 0 {
                    self.err_help(
                        limit.span,
                        format!("InstanceLimit must be positive, found {}", limit.node),
                        "use a limit of at least 1, or remove the statement",
                    );
                } else if limit.node > i64::from(u32::MAX) {
                    self.err_help(
                        limit.span,
                        format!("InstanceLimit {} is too large", limit.node),
                        format!("the largest limit is {}", u32::MAX),
                    );
                }
            }
            Stmt::CollectMemory { task, region, span } => {
                self.task_sel(task);
                self.region_sel(task, region);
                self.collect_readonly(task, region, *span);
            }
            Stmt::IndexTaskMap { tasks, .. } | Stmt::SingleTaskMap { tasks, .. } => {
                self.task_names(tasks);
            }
            Stmt::ControlReplicate { tasks, span } => {
                self.task_names(tasks);
                self.emit(
                    Diagnostic::warning(
                        *span,
                        "ControlReplicate has no effect on a single-node run",
                    )
                    .with_help(
                        "control replication covers the whole top-level program: every rank of a `--machine mpi` run replicates it (docs/multinode.md)",
                    ),
                );
            }
            Stmt::Assign { .. } | Stmt::Def(_) => {}
        }
    }

    fn top_scope(&self, globals: HashMap<&'a str, Ty>) -> Scope<'a> {
        Scope {
            locals: Vec::new(),
            in_function: false,
            later: HashMap::new(),
            globals,
        }
    }

    /// Warns about repeated entries of a priority list.
    fn dup_list<'s>(&mut self, items: impl Iterator<Item = (&'s str, Span)>) {
        let mut seen: Vec<&str> = Vec::new();
        for (name, span) in items {
            if seen.contains(&name) {
                self.emit(
                    Diagnostic::warning(span, format!("`{name}` is listed more than once"))
                        .with_help(format!("remove the repeated `{name}`")),
                );
            } else {
                seen.push(name);
            }
        }
    }

    fn layout(&mut self, cs: &[crate::span::Spanned<Constraint>]) {
        let group = |c: &Constraint| match c {
            Constraint::Soa | Constraint::Aos => 0,
            Constraint::COrder | Constraint::FOrder => 1,
            Constraint::Align(..) | Constraint::NoAlign => 2,
            Constraint::Compact => 3,
            Constraint::Exact => 4,
        };
        // `Align` constraints already reported as conflicting (not counted again).
        let mut conflicting: Vec<usize> = Vec::new();
        for (i, c) in cs.iter().enumerate() {
            if let Constraint::Align(op, n) = c.node {
                if n <= 0 {
                    self.err_help(
                        c.span,
                        format!("alignment must be positive, found {n}"),
                        "use a power of two such as `Align==128`, or `No_Align`",
                    );
                } else if n > 1 << 20 {
                    self.err_help(
                        c.span,
                        format!("alignment {n} is too large"),
                        "the largest alignment is 1048576 bytes",
                    );
                } else if matches!(op, AlignOp::Eq | AlignOp::Ge | AlignOp::Gt)
                    && (n & (n - 1)) != 0
                {
                    self.err_help(
                        c.span,
                        format!("alignment must be a power of two, found {n}"),
                        "use a power of two such as `Align==128`",
                    );
                }
            }
            if let Constraint::Align(..) = c.node {
                // Several `Align` constraints combine; only an unsatisfiable set conflicts.
                let align_of = |x: &Constraint| match *x {
                    Constraint::Align(op, n)
                        if n > 0
                            && n <= MAX_ALIGN
                            && (!op.is_lower_bound() || (n & (n - 1)) == 0) =>
                    {
                        Some((op, n))
                    }
                    _ => None,
                };
                let before: Vec<&crate::span::Spanned<Constraint>> = cs
                    .iter()
                    .enumerate()
                    .take(i)
                    .filter(|(j, e)| {
                        align_of(&e.node).is_some() && e.node != c.node && !conflicting.contains(j)
                    })
                    .map(|(_, e)| e)
                    .collect();
                let all: Vec<(AlignOp, i64)> = before
                    .iter()
                    .filter_map(|e| align_of(&e.node))
                    .chain(align_of(&c.node))
                    .collect();
                if align_of(&c.node).is_some()
                    && !before.is_empty()
                    && combined_align(&all).is_none()
                {
                    let me = align_of(&c.node);
                    let pair_conflict = before.iter().find(|e| {
                        let pair: Vec<_> = align_of(&e.node).into_iter().chain(me).collect();
                        combined_align(&pair).is_none()
                    });
                    match pair_conflict {
                        Some(e) => self.err_help(
                            c.span,
                            format!(
                                "conflicting layout constraints `{}` and `{}`",
                                e.node, c.node
                            ),
                            "no alignment satisfies both; keep only one of them",
                        ),
                        None => self.err_help(
                            c.span,
                            format!(
                                "layout constraint `{}` conflicts with the earlier `Align` constraints",
                                c.node
                            ),
                            "no alignment satisfies them all together",
                        ),
                    }
                    conflicting.push(i);
                    continue;
                }
            }
            let earlier = cs.iter().take(i).find(|e| {
                group(&e.node) == group(&c.node)
                    && !(matches!(e.node, Constraint::Align(..))
                        && matches!(c.node, Constraint::Align(..))
                        && e.node != c.node)
            });
            if let Some(e) = earlier {
                if e.node == c.node {
                    self.emit(
                        Diagnostic::warning(
                            c.span,
                            format!("layout constraint `{}` is given more than once", c.node),
                        )
                        .with_help(format!("remove the repeated `{}`", c.node)),
                    );
                } else if group(&c.node) <= 2 {
                    self.err_help(
                        c.span,
                        format!(
                            "conflicting layout constraints `{}` and `{}`",
                            e.node, c.node
                        ),
                        "keep only one of them",
                    );
                }
            }
        }
    }

    // ----- application-aware checks -------------------------------------------------------

    fn task_names(&mut self, tasks: &TaskNames) {
        if let TaskNames::List(names) = tasks {
            let mut seen: Vec<&str> = Vec::new();
            for n in names {
                if seen.contains(&n.node.as_str()) {
                    self.emit(
                        Diagnostic::warning(
                            n.span,
                            format!("task `{}` is listed more than once", n.node),
                        )
                        .with_help(format!("remove the repeated `{}`", n.node)),
                    );
                } else {
                    seen.push(&n.node);
                }
                self.task_name(n);
            }
        }
    }

    fn task_sel(&mut self, t: &TaskSel) {
        if let TaskSel::Named(n) = t {
            self.task_name(n);
        }
    }

    fn task_name(&mut self, n: &Ident) {
        let Some(app) = self.app else { return };
        if app.task_id(&n.node).is_some() {
            return;
        }
        let names: Vec<&str> = app.tasks.iter().map(|t| t.name.as_str()).collect();
        let help = match suggest(&n.node, names.iter().copied()) {
            Some(c) => format!("did you mean `{c}`?"),
            None if ProcKind::parse(&n.node).is_some() => format!(
                "`{}` is a processor kind: `IndexTaskMap {} FUNC;` and `SingleTaskMap {} FUNC;` take one kind alone",
                n.node, n.node, n.node
            ),
            None if names.is_empty() => format!("application `{}` has no tasks", app.name),
            None => format!("the tasks of `{}` are {}", app.name, tick_list(&names, 8)),
        };
        self.err_help(n.span, format!("unknown task `{}`", n.node), help);
    }

    fn region_sel(&mut self, task: &TaskSel, region: &RegionSel) {
        let Some(app) = self.app else { return };
        let named_task = match task {
            TaskSel::Named(n) => match app.task_id(&n.node).and_then(|id| app.tasks.get(id)) {
                Some(t) => Some(t),
                None => return, // already reported as an unknown task
            },
            TaskSel::Any(_) => None,
        };
        match (region, named_task) {
            (RegionSel::Any(_), _) => {}
            (RegionSel::Named(r), Some(t)) => {
                if (0..t.args.len()).any(|i| t.arg_matches(i, &r.node)) {
                    return;
                }
                let mut names: Vec<&str> = t
                    .args
                    .iter()
                    .flat_map(|a| {
                        std::iter::once(a.name.as_str()).chain(a.regions.iter().map(String::as_str))
                    })
                    .collect();
                names.sort_unstable();
                names.dedup();
                let help = match suggest(&r.node, names.iter().copied()) {
                    Some(c) => format!("did you mean `{c}`?"),
                    None if t.args.is_empty() => {
                        format!("task `{}` has no region arguments", t.name)
                    }
                    None => {
                        let args: Vec<&str> = t.args.iter().map(|a| a.name.as_str()).collect();
                        format!("the arguments of `{}` are {}", t.name, tick_list(&args, 8))
                    }
                };
                self.err_help(
                    r.span,
                    format!("unknown region `{}` for task `{}`", r.node, t.name),
                    help,
                );
            }
            (RegionSel::Named(r), None) => {
                let names = app.region_names();
                if names.contains(&r.node.as_str()) {
                    return;
                }
                let help = match suggest(&r.node, names.iter().copied()) {
                    Some(c) => format!("did you mean `{c}`?"),
                    None => format!(
                        "no task of `{}` has an argument or region with this name",
                        app.name
                    ),
                };
                self.err_help(r.span, format!("unknown region `{}`", r.node), help);
            }
            (RegionSel::Index(i), Some(t)) => {
                let n = t.args.len();
                if (i.node as usize) < n {
                    return;
                }
                let help = if n == 0 {
                    format!("task `{}` has no region arguments", t.name)
                } else {
                    format!(
                        "`{}` has {} (indices 0 to {})",
                        t.name,
                        plural(n, "region argument"),
                        n - 1
                    )
                };
                self.err_help(
                    i.span,
                    format!(
                        "argument index {} is out of range for task `{}`",
                        i.node, t.name
                    ),
                    help,
                );
            }
            (RegionSel::Index(i), None) => {
                let max = app.tasks.iter().map(|t| t.args.len()).max().unwrap_or(0);
                if (i.node as usize) >= max {
                    self.emit(
                        Diagnostic::warning(
                            i.span,
                            format!("no task has a region argument with index {}", i.node),
                        )
                        .with_help(format!(
                            "the most arguments any task of `{}` has is {max}",
                            app.name
                        )),
                    );
                }
            }
        }
    }

    /// The arguments a `Region` statement maps for the tasks with a `kind` variant, as
    /// "argument `a` of task `t`; argument `b` of tasks `u`, `v`" (`None` without the
    /// application, or if the statement maps none).
    fn mapped_args(&self, task: &TaskSel, region: &RegionSel, kind: ProcKind) -> Option<String> {
        let app = self.app?;
        let mut groups: Vec<(&str, Vec<&str>)> = Vec::new();
        for t in &app.tasks {
            if matches!(task, TaskSel::Named(n) if n.node != t.name) || !t.variants.contains(&kind)
            {
                continue;
            }
            for (i, a) in t.args.iter().enumerate() {
                let hit = match region {
                    RegionSel::Any(_) => true,
                    RegionSel::Named(r) => t.arg_matches(i, &r.node),
                    RegionSel::Index(x) => x.node as usize == i,
                };
                if !hit {
                    continue;
                }
                match groups.iter_mut().find(|(n, _)| *n == a.name) {
                    Some((_, ts)) if ts.contains(&t.name.as_str()) => {}
                    Some((_, ts)) => ts.push(&t.name),
                    None => groups.push((&a.name, vec![&t.name])),
                }
            }
        }
        if groups.is_empty() {
            return None;
        }
        let mut parts: Vec<String> = groups
            .iter()
            .take(4)
            .map(|(a, ts)| {
                let what = if ts.len() == 1 { "task" } else { "tasks" };
                format!("argument `{a}` of {what} {}", tick_list(ts, 6))
            })
            .collect();
        if groups.len() > 4 {
            parts.push(format!("... ({} more arguments)", groups.len() - 4));
        }
        Some(parts.join("; "))
    }

    fn collect_readonly(&mut self, task: &TaskSel, region: &RegionSel, span: Span) {
        let Some(app) = self.app else { return };
        let TaskSel::Named(tn) = task else { return };
        let Some(t) = app.task_id(&tn.node).and_then(|id| app.tasks.get(id)) else {
            return;
        };
        let matched: Vec<usize> = (0..t.args.len())
            .filter(|&i| match region {
                RegionSel::Any(_) => true,
                RegionSel::Named(r) => t.arg_matches(i, &r.node),
                RegionSel::Index(x) => x.node as usize == i,
            })
            .collect();
        if matched.is_empty()
            || matched
                .iter()
                .any(|&i| t.args.get(i).is_some_and(|a| a.read_only))
        {
            return;
        }
        let msg = match region {
            RegionSel::Any(_) => format!(
                "CollectMemory has no effect on task `{}`: it has no read-only arguments",
                t.name
            ),
            _ => {
                let arg = matched
                    .first()
                    .and_then(|&i| t.args.get(i))
                    .map_or("?", |a| a.name.as_str());
                format!(
                    "CollectMemory has no effect on `{arg}` of task `{}`: the task writes it",
                    t.name
                )
            }
        };
        self.emit(
            Diagnostic::warning(span, msg)
                .with_help("only read-only arguments are collected early"),
        );
    }
}

mod expr;
#[cfg(test)]
pub(crate) mod tests;

/// Where a list element sits (what a `*` element means there).
#[derive(Clone, Copy, PartialEq, Eq)]
enum ListCtx {
    Tuple,
    SpaceIndex,
    Args,
}

/// "1 index", "2 indices".
fn indices(n: usize) -> String {
    if n == 1 {
        "1 index".to_string()
    } else {
        format!("{n} indices")
    }
}

/// "1 index was", "2 indices were".
fn was_were_idx(n: usize) -> String {
    if n == 1 {
        "1 index was".to_string()
    } else {
        format!("{n} indices were")
    }
}

/// "1 argument was", "2 arguments were".
fn was_were_arg(n: usize) -> String {
    if n == 1 {
        "1 argument was".to_string()
    } else {
        format!("{n} arguments were")
    }
}

/// The span from a method or function name to the end of its call.
fn call_span_after(name: Span, call: Span) -> Span {
    Span {
        lo: name.lo,
        hi: call.hi,
        tok_lo: name.tok_lo,
        tok_hi: call.tok_hi,
    }
}

fn did_you_mean(name: &str, cands: &[&str], fallback: &str) -> String {
    match suggest(name, cands.iter().copied()) {
        Some(c) => format!("did you mean `{c}`?"),
        None => fallback.to_string(),
    }
}

/// Length of `x[lo:hi]` for a known length and constant bounds.
fn slice_len(n: Option<usize>, lo: Option<&Expr>, hi: Option<&Expr>) -> Option<usize> {
    let n = i64::try_from(n?).ok()?;
    let norm = |v: i64| if v < 0 { (n + v).max(0) } else { v.min(n) };
    let lo = match lo {
        Some(e) => norm(const_int(e)?),
        None => 0,
    };
    let hi = match hi {
        Some(e) => norm(const_int(e)?),
        None => n,
    };
    usize::try_from((hi - lo).max(0)).ok()
}

/// The diagnostic for a `Region` statement with processor kind `kind` naming memories that
/// processors of that kind cannot use: an error if none is usable, else a warning per unusable
/// entry (those entries are skipped).
pub(crate) fn region_visibility(
    kind: ProcKind,
    mems: &[crate::span::Spanned<crate::kinds::MemKind>],
) -> Option<Diagnostic> {
    let bad: Vec<&crate::span::Spanned<crate::kinds::MemKind>> =
        mems.iter().filter(|m| !visible(kind, m.node)).collect();
    let (first, last) = (bad.first()?, bad.last()?);
    let names: Vec<&str> = bad.iter().map(|m| m.node.as_str()).collect();
    let usable: Vec<&str> = visible_mems(kind).iter().map(|m| m.as_str()).collect();
    if bad.len() == mems.len() {
        Some(
            Diagnostic::error(
                first.span.to(last.span),
                format!("{kind} tasks cannot use {}", or_list(&names)),
            )
            .with_help(format!("use {}", or_list(&usable))),
        )
    } else {
        Some(
            Diagnostic::warning(
                first.span.to(last.span),
                format!("{kind} tasks cannot use {}", or_list(&names)),
            )
            .with_help(format!(
                "{} skipped; {kind} tasks can use {}",
                if names.len() == 1 {
                    "it is"
                } else {
                    "they are"
                },
                or_list(&usable)
            )),
        )
    }
}
