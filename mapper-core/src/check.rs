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
use crate::bind::{visible, visible_mems};
use crate::diag::{edit_distance, Diagnostic, MAX_DIAGNOSTICS};
use crate::kinds::{combined_align, AlignOp, Constraint, ProcKind, MAX_ALIGN};
use crate::span::{Ident, Span};
use std::collections::{HashMap, HashSet};
use std::fmt;

/// Checks `p` (and, with `app`, its task and region names); returns errors and warnings sorted
/// in source order, at most [`MAX_DIAGNOSTICS`] of them.
pub fn check(p: &Program, app: Option<&AppInfo>) -> Vec<Diagnostic> {
    let mut c = Checker::new(p, app);
    c.run();
    let mut diags = c.diags;
    diags.sort_by_key(|d| (d.span.lo.line, d.span.lo.col));
    diags.truncate(MAX_DIAGNOSTICS);
    diags
}

/// True if any diagnostic is an error.
pub fn has_errors(diags: &[Diagnostic]) -> bool {
    diags.iter().any(Diagnostic::is_error)
}

/// Statically known type of an expression (`Unknown` when the checker cannot tell).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ty {
    Int,
    Bool,
    Str,
    /// A tuple of integers, with its length when known.
    Tuple(Option<usize>),
    /// A machine space, with its number of dimensions when known.
    Space(Option<usize>),
    Proc,
    Task,
    /// `task.parent`: only its processor is known.
    Parent,
    Unknown,
}

impl fmt::Display for Ty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Ty::Int => "int",
            Ty::Bool => "bool",
            Ty::Str => "string",
            Ty::Tuple(_) => "tuple",
            Ty::Space(_) => "machine space",
            Ty::Proc => "processor",
            Ty::Task | Ty::Parent => "task",
            Ty::Unknown => "unknown",
        })
    }
}

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
        }
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
                        if let Some(d) = region_visibility(k.node, mems) {
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
                Stmt::IndexTaskMap { tasks, func, .. }
                | Stmt::SingleTaskMap { tasks, func, .. } => {
                    self.task_names(tasks);
                    placement.push(func);
                }
                Stmt::ControlReplicate { tasks, span } => {
                    self.task_names(tasks);
                    self.emit(
                        Diagnostic::warning(*span, "ControlReplicate has no effect on a single-node run")
                            .with_help("the statement is accepted and ignored until multi-node execution exists"),
                    );
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
            }
        }
        // Placement functions: existence, signature, return.
        let mut sig_done: HashSet<&str> = HashSet::new();
        for func in placement {
            let name = func.node.as_str();
            let Some(&f) = self.funcs.get(name) else {
                let help = match suggest(name, self.funcs.keys().copied()) {
                    Some(c) => format!("did you mean `{c}`?"),
                    None => format!("define it with `def {name}(Task task) {{ ... }}`"),
                };
                self.err_help(func.span, format!("{name} is not defined"), help);
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
                    .take(i)
                    .filter(|e| align_of(&e.node).is_some() && e.node != c.node)
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

    // ----- functions and expressions ------------------------------------------------------

    /// Checks a function body with diagnostics and records its return type.
    fn def(&mut self, f: &'a FuncDef) {
        let info = self.body(f);
        // Keep the info of the first definition (the one calls resolve to).
        if self
            .funcs
            .get(f.name.node.as_str())
            .is_some_and(|g| std::ptr::eq(*g, f))
        {
            self.infos.insert(&f.name.node, info);
        }
    }

    fn body(&mut self, f: &'a FuncDef) -> FnInfo {
        let mut sc = Scope {
            locals: Vec::new(),
            in_function: true,
            later: HashMap::new(),
            globals: self.globals_final.clone(),
        };
        for p in &f.params {
            if sc.locals.iter().any(|(n, _)| *n == p.name.node) {
                self.err_help(
                    p.name.span,
                    format!("parameter `{}` is declared more than once", p.name.node),
                    "give each parameter a different name",
                );
            }
            sc.locals.push((&p.name.node, Ty::of_param(p.ty.node)));
        }
        for s in &f.body {
            if let FnStmt::Assign { name, .. } = s {
                sc.later.entry(&name.node).or_insert(name.span);
            }
        }
        let mut ret: Option<(Ty, Span)> = None;
        let mut warned_unreachable = false;
        for s in &f.body {
            if ret.is_some() && !warned_unreachable {
                warned_unreachable = true;
                let span = match s {
                    FnStmt::Assign { span, .. }
                    | FnStmt::Return { span, .. }
                    | FnStmt::Print { span, .. } => *span,
                };
                self.emit(
                    Diagnostic::warning(span, "unreachable statement")
                        .with_help("it comes after a `return`"),
                );
            }
            match s {
                FnStmt::Assign { name, value, .. } => {
                    let t = self.expr(value, &mut sc);
                    // Names assigned later stay "later" only until their first assignment.
                    if sc
                        .later
                        .get(name.node.as_str())
                        .is_some_and(|sp| sp.lo == name.span.lo)
                    {
                        sc.later.remove(name.node.as_str());
                    }
                    sc.locals.push((&name.node, t));
                }
                FnStmt::Return { value, .. } => {
                    let t = self.expr(value, &mut sc);
                    if ret.is_none() {
                        ret = Some((t, value.span));
                    }
                }
                FnStmt::Print { format, args, .. } => {
                    let want = placeholders(&format.node);
                    if want != args.len() {
                        self.err_help(
                            format.span,
                            format!(
                                "format string has {} but {} given",
                                plural(want, "placeholder"),
                                was_were_arg(args.len())
                            ),
                            "give one argument for each `{}`",
                        );
                    }
                    for a in args {
                        if !matches!(a.kind, ExprKind::Str(_)) {
                            self.expr(a, &mut sc);
                        }
                    }
                }
            }
        }
        FnInfo { ret }
    }

    /// The return type of a function (inferring it quietly if its body was not checked yet).
    fn ret_type(&mut self, f: &'a FuncDef) -> Ty {
        let name = f.name.node.as_str();
        if let Some(info) = self.infos.get(name) {
            return info.ret.map_or(Ty::Unknown, |r| r.0);
        }
        if self.prepass || !self.in_progress.insert(name) {
            return Ty::Unknown;
        }
        self.quiet += 1;
        let info = self.body(f);
        self.quiet -= 1;
        self.in_progress.remove(name);
        info.ret.map_or(Ty::Unknown, |r| r.0)
    }

    fn undefined(&mut self, name: &str, span: Span, sc: &Scope<'a>) {
        if let Some(def) = (!sc.in_function)
            .then(|| self.global_def.get(name))
            .flatten()
        {
            let line = def.lo.line;
            self.err_help(
                span,
                format!("{name} is used before it is defined"),
                format!("`{name}` is assigned at line {line}; move that statement above this use"),
            );
            return;
        }
        if let Some(def) = sc.later.get(name) {
            let line = def.lo.line;
            self.err_help(
                span,
                format!("{name} is used before it is defined"),
                format!("`{name}` is assigned at line {line}; assign it before this use"),
            );
            return;
        }
        let help = if let Some(k) = machine_like(name) {
            Some(format!("add `{name} = Machine({k});` before its first use"))
        } else {
            let mut cands: Vec<&str> = sc.locals.iter().map(|(n, _)| *n).collect();
            cands.extend(sc.globals.keys().copied());
            suggest(name, cands).map(|c| format!("did you mean `{c}`?"))
        };
        let d = Diagnostic::error(span, format!("{name} is not defined"));
        self.emit(match help {
            Some(h) => d.with_help(h),
            None => d,
        });
    }

    /// Length contributed by a list element (`Some(1)` for a plain element, the tuple length for
    /// a splat when known, `None` when unknown).
    fn list_len(
        &mut self,
        items: &'a [Expr],
        sc: &mut Scope<'a>,
        ctx: ListCtx,
    ) -> (Option<usize>, Vec<Ty>) {
        let mut len = Some(0usize);
        let mut tys = Vec::with_capacity(items.len());
        for it in items {
            match &it.kind {
                ExprKind::Splat(inner) => {
                    let t = self.expr(inner, sc);
                    let n = match t {
                        Ty::Tuple(n) => n,
                        Ty::Unknown => None,
                        other => {
                            self.err_help(
                                inner.span,
                                format!("cannot splat {}", other.describe()),
                                "only tuples can be splatted with `*`",
                            );
                            None
                        }
                    };
                    len = len.zip(n).map(|(a, b)| a + b);
                    tys.push(Ty::Unknown);
                }
                ExprKind::Wildcard if ctx == ListCtx::SpaceIndex => {
                    len = len.map(|a| a + 1);
                    tys.push(Ty::Int);
                }
                _ => {
                    let t = self.expr(it, sc);
                    len = len.map(|a| a + 1);
                    tys.push(t);
                }
            }
        }
        (len, tys)
    }

    fn expr(&mut self, e: &'a Expr, sc: &mut Scope<'a>) -> Ty {
        match &e.kind {
            ExprKind::Int(_) => Ty::Int,
            ExprKind::Bool(_) => Ty::Bool,
            ExprKind::Str(_) => {
                self.err_help(
                    e.span,
                    "string literal outside `print`",
                    "strings are only allowed as the format argument of `print(\"...\", ...)`",
                );
                Ty::Str
            }
            ExprKind::Var(name) => {
                if let Some(t) = sc.lookup(name) {
                    return t;
                }
                if let Some(t) = sc.globals.get(name.as_str()) {
                    return *t;
                }
                if self.funcs.contains_key(name.as_str()) {
                    self.err_help(
                        e.span,
                        format!("function `{name}` used as a value"),
                        format!("call it: `{name}(...)`"),
                    );
                    return Ty::Unknown;
                }
                self.undefined(name, e.span, sc);
                Ty::Unknown
            }
            ExprKind::Machine(_) => Ty::Space(Some(2)),
            ExprKind::Tuple(items) => {
                let (len, tys) = self.list_len(items, sc, ListCtx::Tuple);
                for (it, t) in items.iter().zip(tys) {
                    if !matches!(t, Ty::Int | Ty::Unknown) {
                        self.err_help(
                            it.span,
                            format!("a tuple element must be an int, found {t}"),
                            "tuples hold integers; use `*t` to splat a tuple into another",
                        );
                    }
                }
                Ty::Tuple(len)
            }
            ExprKind::Splat(inner) => {
                self.err(
                    e.span,
                    "`*` splat is only allowed inside a tuple, an index or call arguments",
                );
                self.expr(inner, sc);
                Ty::Unknown
            }
            ExprKind::Wildcard => {
                self.err(
                    e.span,
                    "`*` can only be used as an index of a machine space",
                );
                Ty::Unknown
            }
            ExprKind::Unary(op, x) => {
                let t = self.expr(x, sc);
                match (op, t) {
                    (_, Ty::Unknown) => Ty::Unknown,
                    (UnOp::Neg, Ty::Int | Ty::Tuple(_)) => t,
                    (UnOp::Not, Ty::Bool) => Ty::Bool,
                    (op, t) => {
                        let sym = if *op == UnOp::Neg { "-" } else { "!" };
                        self.err(x.span, format!("cannot apply `{sym}` to {}", t.describe()));
                        Ty::Unknown
                    }
                }
            }
            ExprKind::Binary(op, a, b) => self.binary(*op, a, b, sc),
            ExprKind::Ternary(c, a, b) => {
                let ct = self.expr(c, sc);
                if !matches!(ct, Ty::Bool | Ty::Unknown) {
                    self.err_help(
                        c.span,
                        format!("mismatched types: expected bool, found {ct}"),
                        "the condition of `?:` must be a boolean; compare explicitly, e.g. `x != 0`",
                    );
                }
                let ta = self.expr(a, sc);
                let tb = self.expr(b, sc);
                Ty::join(ta, tb)
            }
            ExprKind::Index(base, idx) => self.index(base, idx, sc),
            ExprKind::Slice(base, lo, hi) => {
                let t = self.expr(base, sc);
                for bound in [lo, hi].into_iter().flatten() {
                    let bt = self.expr(bound, sc);
                    self.expect_int(bt, bound.span);
                }
                match t {
                    Ty::Tuple(_) | Ty::Space(_) => {
                        let n = match t {
                            Ty::Tuple(n) | Ty::Space(n) => n,
                            _ => None,
                        };
                        Ty::Tuple(slice_len(n, lo.as_deref(), hi.as_deref()))
                    }
                    Ty::Unknown => Ty::Tuple(None),
                    other => {
                        self.err(base.span, format!("cannot slice {}", other.describe()));
                        Ty::Unknown
                    }
                }
            }
            ExprKind::Field(base, field) => {
                let t = self.expr(base, sc);
                self.field(t, field)
            }
            ExprKind::Method(base, m, args) => {
                let t = self.expr(base, sc);
                self.method(t, m, args, e.span, sc)
            }
            ExprKind::Call(f, args) => self.call(f, args, e.span, sc),
            ExprKind::TupleComp { body, var, iter } => {
                let it = self.expr(iter, sc);
                let n = match it {
                    Ty::Tuple(n) => n,
                    Ty::Unknown => None,
                    other => {
                        self.err(
                            iter.span,
                            format!("mismatched types: expected tuple, found {other}"),
                        );
                        None
                    }
                };
                sc.locals.push((&var.node, Ty::Int));
                let bt = self.expr(body, sc);
                sc.locals.pop();
                if !matches!(bt, Ty::Int | Ty::Unknown) {
                    self.err_help(
                        body.span,
                        format!("a tuple element must be an int, found {bt}"),
                        "the expression of `tuple(...)` must give an integer",
                    );
                }
                Ty::Tuple(n)
            }
        }
    }

    fn expect_int(&mut self, t: Ty, span: Span) {
        if !matches!(t, Ty::Int | Ty::Unknown) {
            self.err(span, format!("mismatched types: expected int, found {t}"));
        }
    }

    fn binary(&mut self, op: BinOp, a: &'a Expr, b: &'a Expr, sc: &mut Scope<'a>) -> Ty {
        let ta = self.expr(a, sc);
        let tb = self.expr(b, sc);
        let sym = op.as_str();
        match op {
            BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Rem => {
                let mut bad = false;
                for (t, x) in [(ta, a), (tb, b)] {
                    if !matches!(t, Ty::Int | Ty::Tuple(_) | Ty::Unknown) {
                        self.err_help(
                            x.span,
                            format!("cannot apply `{sym}` to {}", t.describe()),
                            format!("`{sym}` takes integers or tuples of integers"),
                        );
                        bad = true;
                    }
                }
                if matches!(op, BinOp::Div | BinOp::Rem) && const_int(b) == Some(0) {
                    self.err_help(b.span, "division by zero", "the divisor is always 0");
                }
                if bad {
                    return Ty::Unknown;
                }
                match (ta, tb) {
                    (Ty::Int, Ty::Int) => Ty::Int,
                    (Ty::Tuple(x), Ty::Tuple(y)) => {
                        if let (Some(x), Some(y)) = (x, y) {
                            if x != y {
                                self.err_help(
                                    a.span.to(b.span),
                                    format!("tuple length mismatch: `{sym}` of tuples of length {x} and {y}"),
                                    "elementwise operations need tuples of equal length",
                                );
                                return Ty::Tuple(None);
                            }
                        }
                        Ty::Tuple(x.or(y))
                    }
                    (Ty::Tuple(x), _) | (_, Ty::Tuple(x)) => Ty::Tuple(x),
                    _ => Ty::Unknown,
                }
            }
            BinOp::Eq | BinOp::Ne => {
                for (t, x) in [(ta, a), (tb, b)] {
                    if matches!(t, Ty::Task | Ty::Parent) {
                        self.err(x.span, format!("cannot apply `{sym}` to {}", t.describe()));
                        return Ty::Bool;
                    }
                }
                let same = std::mem::discriminant(&ta) == std::mem::discriminant(&tb);
                if !same && ta != Ty::Unknown && tb != Ty::Unknown {
                    self.err_help(
                        a.span.to(b.span),
                        format!("cannot compare {ta} with {tb} using `{sym}`"),
                        format!("`{sym}` compares two values of the same type"),
                    );
                }
                Ty::Bool
            }
            BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
                for (t, x) in [(ta, a), (tb, b)] {
                    if !matches!(t, Ty::Int | Ty::Unknown) {
                        self.err_help(
                            x.span,
                            format!("cannot apply `{sym}` to {}", t.describe()),
                            format!("`{sym}` compares integers"),
                        );
                    }
                }
                Ty::Bool
            }
            BinOp::And | BinOp::Or => {
                for (t, x) in [(ta, a), (tb, b)] {
                    if !matches!(t, Ty::Bool | Ty::Unknown) {
                        self.err_help(
                            x.span,
                            format!("cannot apply `{sym}` to {}", t.describe()),
                            format!("`{sym}` takes booleans; compare explicitly, e.g. `x != 0`"),
                        );
                    }
                }
                Ty::Bool
            }
        }
    }

    fn index(&mut self, base: &'a Expr, idx: &'a [Expr], sc: &mut Scope<'a>) -> Ty {
        let t = self.expr(base, sc);
        match t {
            Ty::Space(dims) => {
                let (n, tys) = self.list_len(idx, sc, ListCtx::SpaceIndex);
                for (it, ty) in idx.iter().zip(tys) {
                    if matches!(ty, Ty::Tuple(_)) {
                        self.err_help(
                            it.span,
                            "mismatched types: expected int, found tuple",
                            "use `*t` to splat a tuple into the index list",
                        );
                    } else {
                        self.expect_int(ty, it.span);
                    }
                }
                if let (Some(d), Some(n)) = (dims, n) {
                    if d != n {
                        let span = match (idx.first(), idx.last()) {
                            (Some(a), Some(b)) => a.span.to(b.span),
                            _ => base.span,
                        };
                        self.err_help(
                            span,
                            format!(
                                "a {d}-dimensional machine space takes {} but {} given",
                                indices(d),
                                was_were_idx(n)
                            ),
                            "give one index per dimension",
                        );
                    }
                }
                Ty::Proc
            }
            Ty::Tuple(len) => {
                if idx.iter().any(|i| matches!(i.kind, ExprKind::Wildcard)) {
                    for i in idx.iter().filter(|i| matches!(i.kind, ExprKind::Wildcard)) {
                        self.err_help(
                            i.span,
                            "`*` can only be used as an index of a machine space",
                            "a tuple takes one integer index",
                        );
                    }
                    return Ty::Unknown;
                }
                let (n, tys) = self.list_len(idx, sc, ListCtx::Tuple);
                for (it, ty) in idx.iter().zip(tys) {
                    self.expect_int(ty, it.span);
                }
                if n.is_some_and(|n| n != 1) {
                    let span = match (idx.first(), idx.last()) {
                        (Some(a), Some(b)) => a.span.to(b.span),
                        _ => base.span,
                    };
                    self.err(
                        span,
                        format!(
                            "a tuple takes 1 index but {} given",
                            was_were_idx(n.unwrap_or(0))
                        ),
                    );
                    return Ty::Int;
                }
                if let (Some(len), [only]) = (len, idx) {
                    if let Some(i) = const_int(only) {
                        let ok = if i >= 0 {
                            (i as u64) < len as u64
                        } else {
                            i.unsigned_abs() <= len as u64
                        };
                        if !ok {
                            self.err_help(
                                only.span,
                                format!("index {i} is out of range for a tuple of length {len}"),
                                format!("valid indices are 0 to {}", len.saturating_sub(1)),
                            );
                        }
                    }
                }
                Ty::Int
            }
            Ty::Unknown => {
                self.list_len(idx, sc, ListCtx::SpaceIndex);
                Ty::Unknown
            }
            other => {
                self.err_help(
                    base.span,
                    format!("cannot index {}", other.describe()),
                    "only tuples and machine spaces can be indexed",
                );
                self.list_len(idx, sc, ListCtx::SpaceIndex);
                Ty::Unknown
            }
        }
    }

    fn field(&mut self, t: Ty, field: &Ident) -> Ty {
        let name = field.node.as_str();
        match t {
            Ty::Task => match name {
                "ipoint" | "ispace" => Ty::Tuple(None),
                "parent" => Ty::Parent,
                _ => {
                    let help = if TASK_METHODS.contains(&name) {
                        format!("`{name}` is a method: call `task.{name}(m)`")
                    } else {
                        did_you_mean(
                            name,
                            TASK_FIELDS,
                            "task fields are `ipoint`, `ispace` and `parent`",
                        )
                    };
                    self.err_help(field.span, format!("no field `{name}` on a task"), help);
                    Ty::Unknown
                }
            },
            Ty::Space(d) => {
                match name {
                    "size" => Ty::Tuple(d),
                    "len" | "volume" => Ty::Int,
                    _ => {
                        let help = if TRANSFORMS.iter().any(|(m, _)| *m == name) {
                            format!("`{name}` is a method: call it with arguments, e.g. `m.{name}(...)`")
                        } else {
                            did_you_mean(
                                name,
                                SPACE_FIELDS,
                                "machine spaces have fields `size`, `len` and `volume`",
                            )
                        };
                        self.err_help(
                            field.span,
                            format!("no field `{name}` on a machine space"),
                            help,
                        );
                        Ty::Unknown
                    }
                }
            }
            // As in the original language, every tuple (an `IPoint`, an `ISpace`) has `size`
            // (the tuple itself: `y.size[d]` is extent `d` of an `ISpace y`), `len` and `volume`.
            Ty::Tuple(n) if name == "size" => Ty::Tuple(n),
            Ty::Tuple(_) if name == "len" || name == "volume" => Ty::Int,
            Ty::Parent => {
                self.err_help(
                    field.span,
                    format!("no field `{name}` on the parent task"),
                    "only the parent's processor is known: use `task.parent.processor(m)`",
                );
                Ty::Unknown
            }
            Ty::Unknown => Ty::Unknown,
            other => {
                let d = Diagnostic::error(
                    field.span,
                    format!("no field `{name}` on {}", other.describe()),
                );
                self.emit(if matches!(other, Ty::Tuple(_)) {
                    d.with_help(did_you_mean(
                        name,
                        TUPLE_FIELDS,
                        "tuples have fields `size`, `len` and `volume`",
                    ))
                } else {
                    d
                });
                Ty::Unknown
            }
        }
    }

    fn method(
        &mut self,
        t: Ty,
        m: &Ident,
        args: &'a [Expr],
        call_span: Span,
        sc: &mut Scope<'a>,
    ) -> Ty {
        let name = m.node.as_str();
        let (n, tys) = self.list_len(args, sc, ListCtx::Args);
        let arity_err = |this: &mut Self, want: usize| {
            if let Some(n) = n {
                if n != want {
                    this.err_help(
                        call_span_after(m.span, call_span),
                        format!(
                            "{name} takes {} but {} given",
                            plural(want, "argument"),
                            was_were(n)
                        ),
                        format!("call it as `{}`", method_signature(name)),
                    );
                    return true;
                }
            }
            false
        };
        match t {
            Ty::Task | Ty::Parent => {
                if name != "processor" {
                    let help = if TASK_FIELDS.contains(&name) {
                        format!("`{name}` is a field: write `task.{name}`")
                    } else {
                        did_you_mean(name, TASK_METHODS, "the task method is `processor(m)`")
                    };
                    self.err_help(m.span, format!("no method `{name}` on a task"), help);
                    return Ty::Unknown;
                }
                if arity_err(self, 1) {
                    return Ty::Tuple(None);
                }
                match tys.first() {
                    Some(Ty::Space(d)) => Ty::Tuple(*d),
                    Some(Ty::Unknown) | None => Ty::Tuple(None),
                    Some(other) => {
                        if let Some(a) = args.first() {
                            self.err(
                                a.span,
                                format!("mismatched types: expected machine space, found {other}"),
                            );
                        }
                        Ty::Tuple(None)
                    }
                }
            }
            Ty::Space(dims) => {
                let Some(&(_, want)) = TRANSFORMS.iter().find(|(t, _)| *t == name) else {
                    let names: Vec<&str> = TRANSFORMS.iter().map(|(t, _)| *t).collect();
                    let help = if SPACE_FIELDS.contains(&name) {
                        format!("`{name}` is a field: write `m.{name}`")
                    } else {
                        did_you_mean(name, &names, "machine-space transforms are merge, split, swap, slice, reverse, balance_split, auto_split, decompose and greedy_split")
                    };
                    self.err_help(
                        m.span,
                        format!("no method `{name}` on a machine space"),
                        help,
                    );
                    return Ty::Space(None);
                };
                if arity_err(self, want) {
                    return Ty::Space(None);
                }
                if n.is_none() {
                    return Ty::Space(None);
                }
                self.transform(name, dims, args, &tys)
            }
            Ty::Unknown => Ty::Unknown,
            other => {
                self.err(
                    m.span,
                    format!("no method `{name}` on {}", other.describe()),
                );
                Ty::Unknown
            }
        }
    }

    /// Checks the arguments of a transform with the right arity; returns the resulting space.
    fn transform(&mut self, name: &str, dims: Option<usize>, args: &'a [Expr], tys: &[Ty]) -> Ty {
        // Which arguments are dimensions, which are integers and which are tuples.
        let (dim_args, tuple_arg): (&[usize], Option<usize>) = match name {
            "merge" | "swap" => (&[0, 1], None),
            "auto_split" | "decompose" | "greedy_split" => (&[0], Some(1)),
            _ => (&[0], None),
        };
        for (i, (a, t)) in args.iter().zip(tys).enumerate() {
            if Some(i) == tuple_arg {
                if !matches!(t, Ty::Tuple(_) | Ty::Unknown) {
                    self.err(
                        a.span,
                        format!("mismatched types: expected tuple, found {t}"),
                    );
                }
            } else {
                self.expect_int(*t, a.span);
            }
        }
        let mut ok = true;
        for &i in dim_args {
            if let (Some(a), Some(d)) = (args.get(i), dims) {
                if let Some(v) = const_int(a) {
                    if v < 0 || v as u64 >= d as u64 {
                        ok = false;
                        self.err_help(
                            a.span,
                            format!("{name}: dimension {v} is out of range for a {d}-dimensional machine space"),
                            format!("dimensions are numbered 0 to {}", d.saturating_sub(1)),
                        );
                    }
                }
            }
        }
        let arg = |i: usize| args.get(i).and_then(const_int);
        match name {
            "merge" => {
                if let (Some(x), Some(y), Some(a)) = (arg(0), arg(1), args.get(1)) {
                    if x == y {
                        self.err_help(
                            a.span,
                            "merge needs two different dimensions",
                            format!("dimension {x} is given twice"),
                        );
                        return Ty::Space(None);
                    }
                }
                Ty::Space(dims.filter(|_| ok).and_then(|d| d.checked_sub(1)))
            }
            "split" => {
                if let (Some(f), Some(a)) = (arg(1), args.get(1)) {
                    if f <= 0 {
                        self.err_help(
                            a.span,
                            format!("split: the factor must be positive, found {f}"),
                            "use a factor that divides the dimension, e.g. `m.split(1, 2)`",
                        );
                    }
                }
                Ty::Space(dims.filter(|_| ok).map(|d| d + 1))
            }
            "balance_split" => match (arg(1), args.get(1)) {
                (Some(k @ (2 | 3)), _) => {
                    Ty::Space(dims.filter(|_| ok).map(|d| d + k as usize - 1))
                }
                (Some(k), Some(a)) => {
                    self.err_help(
                        a.span,
                        format!("balance_split: the number of parts must be 2 or 3, found {k}"),
                        "use `balance_split(d, 2)` or `balance_split(d, 3)`",
                    );
                    Ty::Space(None)
                }
                _ => Ty::Space(None),
            },
            "auto_split" | "decompose" | "greedy_split" => match tys.get(1) {
                Some(Ty::Tuple(Some(0))) => {
                    if let Some(a) = args.get(1) {
                        self.err(
                            a.span,
                            format!("{name}: the extents tuple must not be empty"),
                        );
                    }
                    Ty::Space(None)
                }
                Some(Ty::Tuple(Some(n))) => Ty::Space(dims.filter(|_| ok).map(|d| d + n - 1)),
                _ => Ty::Space(None),
            },
            _ => Ty::Space(dims.filter(|_| ok)),
        }
    }

    fn call(&mut self, f: &Ident, args: &'a [Expr], call_span: Span, sc: &mut Scope<'a>) -> Ty {
        let name = f.node.as_str();
        let (n, tys) = self.list_len(args, sc, ListCtx::Args);
        let Some(&def) = self.funcs.get(name) else {
            if sc.lookup(name).is_some() || sc.globals.contains_key(name) {
                self.err(f.span, format!("`{name}` is not a function"));
                return Ty::Unknown;
            }
            let help = match suggest(name, self.funcs.keys().copied()) {
                Some(c) => format!("did you mean `{c}`?"),
                None => format!("define it with `def {name}(...) {{ ... }}`"),
            };
            self.err_help(f.span, format!("{name} is not defined"), help);
            return Ty::Unknown;
        };
        if !self.prepass && self.quiet == 0 {
            self.used.insert(&def.name.node);
        }
        let want = def.params.len();
        if let Some(n) = n {
            if n != want {
                let sig: Vec<String> = def
                    .params
                    .iter()
                    .map(|p| format!("{} {}", p.ty.node.as_str(), p.name.node))
                    .collect();
                self.err_help(
                    call_span_after(f.span, call_span),
                    format!(
                        "function `{name}` takes {} but {} given",
                        plural(want, "argument"),
                        was_were(n)
                    ),
                    format!("`{name}` is declared as `def {name}({})`", sig.join(", ")),
                );
                return self.ret_type(def);
            }
            for ((a, t), p) in args.iter().zip(&tys).zip(&def.params) {
                if !t.fits(p.ty.node) {
                    let sig: Vec<String> = def
                        .params
                        .iter()
                        .map(|p| format!("{} {}", p.ty.node.as_str(), p.name.node))
                        .collect();
                    self.err_help(
                        a.span,
                        format!(
                            "mismatched types: parameter `{}` of `{name}` is {}, found {t}",
                            p.name.node,
                            p.ty.node.as_str()
                        ),
                        format!("`{name}` is declared as `def {name}({})`", sig.join(", ")),
                    );
                }
            }
        }
        self.ret_type(def)
    }
}

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

#[cfg(test)]
pub(crate) mod tests {
    //! Unit tests over hand-built ASTs (the text-based tests live in `tests/check.rs`).
    use super::*;
    use crate::app::{ArgInfo, TaskInfo};
    use crate::ast::Param;
    use crate::kinds::MemKind;
    use crate::span::{Pos, Spanned};

    /// A span on line `l`, column `c`, one character wide.
    pub fn at(l: u32, c: u32) -> Span {
        Span {
            lo: Pos { line: l, col: c },
            hi: Pos {
                line: l,
                col: c + 1,
            },
            tok_lo: 0,
            tok_hi: 0,
        }
    }
    /// An identifier with a default span.
    pub fn id(s: &str) -> Ident {
        Spanned::new(s.to_string(), Span::default())
    }
    /// An expression with a default span.
    pub fn ex(k: ExprKind) -> Expr {
        Expr::new(k, Span::default())
    }
    /// A variable reference.
    pub fn var(s: &str) -> Expr {
        ex(ExprKind::Var(s.into()))
    }
    /// An integer literal.
    pub fn int(v: i64) -> Expr {
        ex(ExprKind::Int(v))
    }
    /// A binary operation.
    pub fn bin(op: BinOp, a: Expr, b: Expr) -> Expr {
        ex(ExprKind::Binary(op, Box::new(a), Box::new(b)))
    }
    /// A field access.
    pub fn field(b: Expr, f: &str) -> Expr {
        ex(ExprKind::Field(Box::new(b), id(f)))
    }
    /// A method call.
    pub fn method(b: Expr, m: &str, args: Vec<Expr>) -> Expr {
        ex(ExprKind::Method(Box::new(b), id(m), args))
    }
    /// An index expression.
    pub fn index(b: Expr, i: Vec<Expr>) -> Expr {
        ex(ExprKind::Index(Box::new(b), i))
    }
    /// A function call.
    pub fn call(f: &str, args: Vec<Expr>) -> Expr {
        ex(ExprKind::Call(id(f), args))
    }
    /// A tuple literal.
    pub fn tuple(v: Vec<Expr>) -> Expr {
        ex(ExprKind::Tuple(v))
    }
    /// `Machine(KIND)`.
    pub fn machine(k: ProcKind) -> Expr {
        ex(ExprKind::Machine(Spanned::new(k, Span::default())))
    }
    /// A top-level assignment.
    pub fn assign(n: &str, v: Expr) -> Stmt {
        Stmt::Assign {
            name: id(n),
            value: v,
            span: Span::default(),
        }
    }
    /// A `return` statement.
    pub fn ret(v: Expr) -> FnStmt {
        FnStmt::Return {
            value: v,
            span: Span::default(),
        }
    }
    /// A local assignment in a function body.
    pub fn local(n: &str, v: Expr) -> FnStmt {
        FnStmt::Assign {
            name: id(n),
            value: v,
            span: Span::default(),
        }
    }
    /// A function definition.
    pub fn def(n: &str, params: &[(ParamType, &str)], body: Vec<FnStmt>) -> Stmt {
        Stmt::Def(FuncDef {
            name: id(n),
            params: params
                .iter()
                .map(|(t, p)| Param {
                    ty: Spanned::new(*t, Span::default()),
                    name: id(p),
                })
                .collect(),
            body,
            span: Span::default(),
        })
    }
    /// An `IndexTaskMap` statement.
    pub fn itm(tasks: &[&str], f: &str) -> Stmt {
        Stmt::IndexTaskMap {
            tasks: names(tasks),
            func: id(f),
            span: Span::default(),
        }
    }
    /// A task-name list (`*` for any).
    pub fn names(tasks: &[&str]) -> TaskNames {
        if tasks == ["*"] {
            TaskNames::Any(Span::default())
        } else {
            TaskNames::List(tasks.iter().map(|t| id(t)).collect())
        }
    }
    /// `mgpu = Machine(GPU);` and `def f(Task task) { return mgpu[0, 0]; }`.
    fn good_prelude() -> Vec<Stmt> {
        vec![
            assign("mgpu", machine(ProcKind::Gpu)),
            def(
                "f",
                &[(ParamType::Task, "task")],
                vec![ret(index(var("mgpu"), vec![int(0), int(0)]))],
            ),
        ]
    }
    fn msgs(stmts: Vec<Stmt>) -> Vec<(String, Option<String>)> {
        check(&Program { stmts }, None)
            .into_iter()
            .map(|d| (d.message, d.help))
            .collect()
    }
    fn one(stmts: Vec<Stmt>) -> (String, Option<String>) {
        let v = msgs(stmts);
        assert_eq!(v.len(), 1, "{v:?}");
        v.into_iter().next().unwrap_or_default()
    }
    fn in_fn(e: Expr) -> Vec<Stmt> {
        let mut v = good_prelude();
        v.push(def(
            "g",
            &[(ParamType::Task, "task")],
            vec![local("x", e), ret(index(var("mgpu"), vec![int(0), int(0)]))],
        ));
        v
    }

    #[test]
    fn clean_program_has_no_diagnostics() {
        let mut p = good_prelude();
        p.push(itm(&["a", "b"], "f"));
        assert_eq!(msgs(p), vec![]);
    }

    #[test]
    fn undefined_machine_like_name_suggests_machine() {
        let p = vec![def(
            "f",
            &[(ParamType::Task, "task")],
            vec![ret(index(var("mgpu"), vec![int(0), int(0)]))],
        )];
        assert_eq!(
            one(p),
            (
                "mgpu is not defined".into(),
                Some("add `mgpu = Machine(GPU);` before its first use".into())
            )
        );
    }

    #[test]
    fn undefined_name_suggests_closest() {
        assert_eq!(
            one(in_fn(var("tsk"))),
            (
                "tsk is not defined".into(),
                Some("did you mean `task`?".into())
            )
        );
    }

    #[test]
    fn use_before_definition_at_top_level() {
        let mut a = assign("y", var("x"));
        if let Stmt::Assign { value, .. } = &mut a {
            value.span = at(1, 5);
        }
        let mut b = assign("x", int(1));
        if let Stmt::Assign { name, .. } = &mut b {
            name.span = at(2, 1);
        }
        assert_eq!(
            one(vec![a, b]),
            (
                "x is used before it is defined".into(),
                Some("`x` is assigned at line 2; move that statement above this use".into())
            )
        );
    }

    #[test]
    fn placement_signature_and_missing_return() {
        let p = vec![
            assign("mgpu", machine(ProcKind::Gpu)),
            def("f", &[(ParamType::Int, "x")], vec![local("y", var("x"))]),
            itm(&["a"], "f"),
        ];
        assert_eq!(
            msgs(p),
            vec![
                (
                    "placement function `f` must take exactly one parameter of type `Task`".into(),
                    Some("declare it as `def f(Task task)`".into())
                ),
                (
                    "function `f` can finish without returning a value".into(),
                    Some("end `f` with a `return` statement".into())
                ),
            ]
        );
    }

    #[test]
    fn unused_function_without_return_is_fine() {
        assert_eq!(
            msgs(vec![def(
                "f",
                &[(ParamType::Int, "x")],
                vec![local("y", var("x"))]
            )]),
            vec![]
        );
    }

    #[test]
    fn placement_function_must_exist() {
        let mut p = good_prelude();
        p.push(itm(&["a"], "g"));
        assert_eq!(
            one(p),
            ("g is not defined".into(), Some("did you mean `f`?".into()))
        );
    }

    #[test]
    fn call_arity() {
        let mut p = in_fn(call("h", vec![int(1), int(2), int(3)]));
        p.push(def(
            "h",
            &[(ParamType::Int, "a"), (ParamType::Int, "b")],
            vec![ret(var("a"))],
        ));
        assert_eq!(
            one(p),
            (
                "function `h` takes 2 arguments but 3 were given".into(),
                Some("`h` is declared as `def h(int a, int b)`".into())
            )
        );
    }

    #[test]
    fn type_errors() {
        assert_eq!(
            one(in_fn(index(int(3), vec![int(0)]))),
            (
                "cannot index a value of type int".into(),
                Some("only tuples and machine spaces can be indexed".into())
            )
        );
        let t2 = tuple(vec![int(1), int(2)]);
        let t3 = tuple(vec![int(1), int(2), int(3)]);
        assert_eq!(
            one(in_fn(bin(BinOp::Add, t2, t3))).0,
            "tuple length mismatch: `+` of tuples of length 2 and 3"
        );
        assert_eq!(
            one(in_fn(field(var("mgpu"), "sise"))),
            (
                "no field `sise` on a machine space".into(),
                Some("did you mean `size`?".into())
            )
        );
        assert_eq!(
            one(in_fn(method(var("mgpu"), "splt", vec![int(0), int(2)]))),
            (
                "no method `splt` on a machine space".into(),
                Some("did you mean `split`?".into())
            )
        );
        assert_eq!(
            one(in_fn(method(var("mgpu"), "split", vec![int(0)]))).0,
            "split takes 2 arguments but 1 was given"
        );
        assert_eq!(
            one(in_fn(field(var("task"), "ipont"))),
            (
                "no field `ipont` on a task".into(),
                Some("did you mean `ipoint`?".into())
            )
        );
        assert_eq!(
            one(in_fn(ex(ExprKind::Str("s".into())))).0,
            "string literal outside `print`"
        );
        assert_eq!(
            one(in_fn(bin(BinOp::Div, int(1), int(0)))),
            (
                "division by zero".into(),
                Some("the divisor is always 0".into())
            )
        );
        assert_eq!(
            one(in_fn(index(var("mgpu"), vec![int(0)]))).0,
            "a 2-dimensional machine space takes 2 indices but 1 index was given"
        );
        assert_eq!(
            one(in_fn(method(var("mgpu"), "merge", vec![int(0), int(2)]))).0,
            "merge: dimension 2 is out of range for a 2-dimensional machine space"
        );
    }

    #[test]
    fn space_dimensions_are_tracked_through_transforms() {
        // mgpu.split(1, 2) is 3-D, so indexing it with 3 indices is fine and with 2 is not.
        let s = method(var("mgpu"), "split", vec![int(1), int(2)]);
        assert_eq!(
            msgs(in_fn(index(s.clone(), vec![int(0), int(0), int(0)]))),
            vec![]
        );
        assert_eq!(
            one(in_fn(index(s, vec![int(0), int(0)]))).0,
            "a 3-dimensional machine space takes 3 indices but 2 indices were given"
        );
        let d = method(
            var("mgpu"),
            "auto_split",
            vec![int(1), tuple(vec![int(4), int(4), int(4)])],
        );
        assert_eq!(
            one(in_fn(index(d, vec![int(0)]))).0,
            "a 4-dimensional machine space takes 4 indices but 1 index was given"
        );
    }

    #[test]
    fn placement_function_returning_a_tuple() {
        let p = vec![
            def(
                "f",
                &[(ParamType::Task, "task")],
                vec![ret(field(var("task"), "ipoint"))],
            ),
            itm(&["*"], "f"),
        ];
        assert_eq!(
            one(p),
            (
                "placement function `f` returns a value of type tuple, not a processor".into(),
                Some("return a point of a machine space, e.g. `m[i, j]`".into())
            )
        );
    }

    #[test]
    fn statement_checks() {
        let lim = Stmt::InstanceLimit {
            task: TaskSel::Any(Span::default()),
            proc: None,
            limit: Spanned::new(0, Span::default()),
            span: Span::default(),
        };
        assert_eq!(
            one(vec![lim]),
            (
                "InstanceLimit must be positive, found 0".into(),
                Some("use a limit of at least 1, or remove the statement".into())
            )
        );
        let c = |x| Spanned::new(x, Span::default());
        let lay = Stmt::Layout {
            task: TaskSel::Any(Span::default()),
            region: RegionSel::Any(Span::default()),
            target: crate::ast::LayoutTarget::Any(Span::default()),
            constraints: vec![
                c(Constraint::Soa),
                c(Constraint::COrder),
                c(Constraint::Aos),
            ],
            span: Span::default(),
        };
        assert_eq!(
            one(vec![lay]),
            (
                "conflicting layout constraints `SOA` and `AOS`".into(),
                Some("keep only one of them".into())
            )
        );
        let cr = Stmt::ControlReplicate {
            tasks: names(&["*"]),
            span: Span::default(),
        };
        let d = check(&Program { stmts: vec![cr] }, None);
        assert_eq!(d.len(), 1);
        assert!(!d[0].is_error());
        assert_eq!(
            d[0].message,
            "ControlReplicate has no effect on a single-node run"
        );
        let reg = Stmt::Region {
            task: TaskSel::Any(Span::default()),
            region: RegionSel::Any(Span::default()),
            proc: ProcSel::Kind(Spanned::new(ProcKind::Gpu, Span::default())),
            mems: vec![Spanned::new(MemKind::Sysmem, Span::default())],
            span: Span::default(),
        };
        assert_eq!(
            one(vec![reg]),
            (
                "GPU tasks cannot use SYSMEM".into(),
                Some("use FBMEM or ZCMEM".into())
            )
        );
    }

    /// A small circuit-like application.
    pub fn app() -> AppInfo {
        let arg = |n: &str, r: &[&str], ro: bool| ArgInfo {
            name: n.into(),
            regions: r.iter().map(|s| s.to_string()).collect(),
            read_only: ro,
        };
        AppInfo {
            name: "circuit".into(),
            tasks: vec![
                TaskInfo {
                    name: "calculate_new_currents".into(),
                    args: vec![
                        arg("wires", &["rp_wires"], false),
                        arg("nodes", &["rp_shared", "rp_ghost"], true),
                    ],
                    variants: vec![ProcKind::Cpu, ProcKind::Gpu],
                    index_launch: true,
                },
                TaskInfo {
                    name: "init".into(),
                    args: vec![arg("all", &["all_nodes"], false)],
                    variants: vec![ProcKind::Cpu],
                    index_launch: false,
                },
            ],
        }
    }

    #[test]
    fn app_names() {
        let app = app();
        let run = |s: Stmt| -> Vec<(String, Option<String>)> {
            check(&Program { stmts: vec![s] }, Some(&app))
                .into_iter()
                .map(|d| (d.message, d.help))
                .collect()
        };
        let t = Stmt::Task {
            tasks: names(&["calc_new_currents"]),
            kinds: vec![Spanned::new(ProcKind::Gpu, Span::default())],
            span: Span::default(),
        };
        assert_eq!(
            run(t),
            vec![(
                "unknown task `calc_new_currents`".into(),
                Some("did you mean `calculate_new_currents`?".into())
            )]
        );
        let r = |task: TaskSel, region: RegionSel| Stmt::CollectMemory {
            task,
            region,
            span: Span::default(),
        };
        let named = |s: &str| TaskSel::Named(id(s));
        assert_eq!(
            run(r(
                named("calculate_new_currents"),
                RegionSel::Named(id("rp_shard"))
            )),
            vec![(
                "unknown region `rp_shard` for task `calculate_new_currents`".into(),
                Some("did you mean `rp_shared`?".into())
            )]
        );
        assert_eq!(
            run(r(
                TaskSel::Any(Span::default()),
                RegionSel::Named(id("all_node"))
            )),
            vec![(
                "unknown region `all_node`".into(),
                Some("did you mean `all_nodes`?".into())
            )]
        );
        assert_eq!(
            run(r(
                named("init"),
                RegionSel::Index(Spanned::new(1, Span::default()))
            )),
            vec![(
                "argument index 1 is out of range for task `init`".into(),
                Some("`init` has 1 region argument (indices 0 to 0)".into())
            )]
        );
        assert_eq!(
            run(r(named("init"), RegionSel::Any(Span::default()))),
            vec![(
                "CollectMemory has no effect on task `init`: it has no read-only arguments".into(),
                Some("only read-only arguments are collected early".into())
            )]
        );
        assert_eq!(
            run(r(
                named("calculate_new_currents"),
                RegionSel::Named(id("rp_ghost"))
            )),
            vec![]
        );
    }

    #[test]
    fn diagnostics_are_sorted_by_position() {
        let mut a = assign("a", var("zz"));
        if let Stmt::Assign { value, .. } = &mut a {
            value.span = at(5, 1);
        }
        let mut b = assign("b", var("yy"));
        if let Stmt::Assign { value, .. } = &mut b {
            value.span = at(2, 1);
        }
        let m: Vec<String> = check(&Program { stmts: vec![a, b] }, None)
            .into_iter()
            .map(|d| d.message)
            .collect();
        assert_eq!(m, vec!["yy is not defined", "zz is not defined"]);
    }
}
