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

#[test]
fn invisible_memory_names_the_tasks_and_arguments_it_maps() {
    let app = app();
    let reg = |task: TaskSel, region: RegionSel, kind: ProcKind, mem: MemKind| Stmt::Region {
        task,
        region,
        proc: ProcSel::Kind(Spanned::new(kind, Span::default())),
        mems: vec![Spanned::new(mem, Span::default())],
        span: Span::default(),
    };
    let run = |s: Stmt| -> Vec<String> {
        check(&Program { stmts: vec![s] }, Some(&app))
            .into_iter()
            .map(|d| d.message)
            .collect()
    };
    let any = || TaskSel::Any(Span::default());
    // `*` for the task: every task with a GPU variant whose argument the region selects.
    assert_eq!(
        run(reg(
            any(),
            RegionSel::Named(id("rp_shared")),
            ProcKind::Gpu,
            MemKind::Sysmem
        )),
        vec![
            "GPU tasks cannot use SYSMEM, where this puts argument `nodes` of task `calculate_new_currents`"
                .to_string()
        ]
    );
    assert_eq!(
        run(reg(
            any(),
            RegionSel::Any(Span::default()),
            ProcKind::Gpu,
            MemKind::Sysmem
        )),
        vec![
            "GPU tasks cannot use SYSMEM, where this puts argument `wires` of task `calculate_new_currents`; argument `nodes` of task `calculate_new_currents`"
                .to_string()
        ]
    );
    // A task without a variant of the kind is not mapped by the statement: no detail.
    assert_eq!(
        run(reg(
            TaskSel::Named(id("init")),
            RegionSel::Index(Spanned::new(0, Span::default())),
            ProcKind::Gpu,
            MemKind::Sysmem
        )),
        vec!["GPU tasks cannot use SYSMEM".to_string()]
    );
}
