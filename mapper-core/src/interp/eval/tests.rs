//! Evaluator unit tests over hand-built ASTs.

use super::*;
use crate::ast::{Expr, FuncDef, Param, Program};
use crate::machine::{Placement, ProcId};
use crate::span::Spanned;

// ---- hand-built AST helpers (the parser is developed in parallel) ----
pub fn sp() -> Span {
    Span::default()
}
pub fn at(mut e: Expr, line: u32, col: u32) -> Expr {
    e.span.lo = Pos { line, col };
    e
}
pub fn ex(k: ExprKind) -> Expr {
    Expr::new(k, sp())
}
pub fn id(s: &str) -> Spanned<String> {
    Spanned::new(s.to_string(), sp())
}
pub fn var(s: &str) -> Expr {
    ex(ExprKind::Var(s.into()))
}
pub fn int(i: i64) -> Expr {
    ex(ExprKind::Int(i))
}
pub fn boolean(b: bool) -> Expr {
    ex(ExprKind::Bool(b))
}
pub fn bin(op: BinOp, a: Expr, b: Expr) -> Expr {
    ex(ExprKind::Binary(op, Box::new(a), Box::new(b)))
}
pub fn neg(a: Expr) -> Expr {
    ex(ExprKind::Unary(UnOp::Neg, Box::new(a)))
}
pub fn field(b: Expr, f: &str) -> Expr {
    ex(ExprKind::Field(Box::new(b), id(f)))
}
pub fn method(b: Expr, m: &str, args: Vec<Expr>) -> Expr {
    ex(ExprKind::Method(Box::new(b), id(m), args))
}
pub fn index(b: Expr, i: Vec<Expr>) -> Expr {
    ex(ExprKind::Index(Box::new(b), i))
}
pub fn slice(b: Expr, lo: Option<Expr>, hi: Option<Expr>) -> Expr {
    ex(ExprKind::Slice(
        Box::new(b),
        lo.map(Box::new),
        hi.map(Box::new),
    ))
}
pub fn call(f: &str, args: Vec<Expr>) -> Expr {
    ex(ExprKind::Call(id(f), args))
}
pub fn tuple(v: Vec<Expr>) -> Expr {
    ex(ExprKind::Tuple(v))
}
pub fn splat(e: Expr) -> Expr {
    ex(ExprKind::Splat(Box::new(e)))
}
pub fn wild() -> Expr {
    ex(ExprKind::Wildcard)
}
pub fn ternary(c: Expr, a: Expr, b: Expr) -> Expr {
    ex(ExprKind::Ternary(Box::new(c), Box::new(a), Box::new(b)))
}
pub fn comp(body: Expr, v: &str, iter: Expr) -> Expr {
    ex(ExprKind::TupleComp {
        body: Box::new(body),
        var: id(v),
        iter: Box::new(iter),
    })
}
pub fn machine(k: ProcKind) -> Expr {
    ex(ExprKind::Machine(Spanned::new(k, sp())))
}
pub fn assign(n: &str, v: Expr) -> Stmt {
    Stmt::Assign {
        name: id(n),
        value: v,
        span: sp(),
    }
}
pub fn local(n: &str, v: Expr) -> FnStmt {
    FnStmt::Assign {
        name: id(n),
        value: v,
        span: sp(),
    }
}
pub fn ret(v: Expr) -> FnStmt {
    FnStmt::Return {
        value: v,
        span: sp(),
    }
}
pub fn def(n: &str, params: &[(ParamType, &str)], body: Vec<FnStmt>) -> Stmt {
    Stmt::Def(FuncDef {
        name: id(n),
        params: params
            .iter()
            .map(|(t, p)| Param {
                ty: Spanned::new(*t, sp()),
                name: id(p),
            })
            .collect(),
        body,
        span: sp(),
    })
}
pub fn task_def(n: &str, body: Vec<FnStmt>) -> Stmt {
    def(n, &[(ParamType::Task, "task")], body)
}
pub fn prog(stmts: Vec<Stmt>) -> Program {
    Program { stmts }
}

use BinOp::*;

fn shape() -> MachineShape {
    MachineShape::new(2, 4, 4)
}

fn gpu(node: u32, index: u32) -> Placement {
    Placement::Proc(ProcId {
        node,
        kind: ProcKind::Gpu,
        index,
    })
}

/// `p` with the checker's function and global tables but none of its checks and no static
/// types: these tests reach the evaluator's run-time errors with programs whose errors the
/// checker would already report from constants.
fn unchecked(p: &Program) -> Checked {
    use crate::sema::checked::{FuncSig, GlobalSig, Type};
    let mut funcs: Vec<FuncSig> = Vec::new();
    let mut globals: Vec<GlobalSig> = Vec::new();
    for s in &p.stmts {
        match s {
            Stmt::Def(f) if !funcs.iter().any(|g| g.name == f.name.node) => funcs.push(FuncSig {
                name: f.name.node.clone(),
                params: f.params.iter().map(|p| p.ty.node).collect(),
                ret: Type::Unknown,
                span: f.name.span,
            }),
            Stmt::Assign { name, .. } if !globals.iter().any(|g| g.name == name.node) => globals
                .push(GlobalSig {
                    name: name.node.clone(),
                    ty: Type::Unknown,
                    constant: None,
                }),
            _ => {}
        }
    }
    Checked {
        program: p.clone(),
        funcs,
        globals,
        warnings: Vec::new(),
    }
}

/// Lowers `p` for `m` without checking it (see [`unchecked`]).
fn ev_new(p: &Program, m: &MachineShape) -> Result<Evaluator, Vec<Diagnostic>> {
    Evaluator::new(&unchecked(p), m)
}

/// Checks `p` and lowers it for `m` (the way every mapper reaches the evaluator).
fn ev_checked(p: &Program, m: &MachineShape) -> Result<Evaluator, Vec<Diagnostic>> {
    let checked = crate::check::check_program(p.clone(), None)?;
    Evaluator::new(&checked, m)
}

fn ctx<'a>(point: &'a [i64], domain: &'a [i64]) -> PointCtx<'a> {
    PointCtx {
        task: 0,
        point,
        domain,
        index_launch: true,
        parent_proc: ProcId {
            node: 1,
            kind: ProcKind::Cpu,
            index: 2,
        },
        seq: 0,
    }
}

/// `mgpu = Machine(GPU);` plus function `f(Task task) { body }`.
fn ev_with(body: Vec<FnStmt>) -> Evaluator {
    ev_new(
        &prog(vec![
            assign("mgpu", machine(ProcKind::Gpu)),
            task_def("f", body),
        ]),
        &shape(),
    )
    .unwrap()
}

fn run(body: Vec<FnStmt>, point: &[i64], domain: &[i64]) -> crate::mapper::PlaceResult {
    let ev = ev_with(body);
    ev.place(ev.func_id("f").unwrap(), &ctx(point, domain), "t")
}

/// Evaluates `e` inside f and returns it wrapped as the index of a 1-node machine? No: we
/// evaluate expressions by returning `mgpu[0, 0]` only if `e == expected`.
fn eval_expr(e: Expr) -> Result<Value, String> {
    let ev = ev_new(
        &prog(vec![assign("mgpu", machine(ProcKind::Gpu)), assign("x", e)]),
        &shape(),
    )
    .map_err(|d| d[0].message.clone())?;
    Ok(ev.global("x").unwrap().clone())
}

fn ints(v: &[i64]) -> Vec<Expr> {
    v.iter().map(|&i| int(i)).collect()
}

fn as_tuple(v: Value) -> Vec<i64> {
    match v {
        Value::Tuple(t) => t.as_slice().to_vec(),
        other => panic!("expected a tuple, got {other:?}"),
    }
}

fn as_int(v: Value) -> i64 {
    match v {
        Value::Int(i) => i,
        other => panic!("expected an int, got {other:?}"),
    }
}

#[test]
fn arithmetic_is_c_like_and_checked() {
    assert_eq!(as_int(eval_expr(bin(Div, int(-7), int(2))).unwrap()), -3);
    assert_eq!(as_int(eval_expr(bin(Rem, int(-7), int(2))).unwrap()), -1);
    assert_eq!(
        as_int(eval_expr(bin(Add, int(1), bin(Mul, int(2), int(3)))).unwrap()),
        7
    );
    assert_eq!(
        eval_expr(bin(Div, int(1), int(0))).unwrap_err(),
        "division by zero in `1 / 0`"
    );
    assert_eq!(
        eval_expr(bin(Rem, int(1), int(0))).unwrap_err(),
        "division by zero in `1 % 0`"
    );
    assert_eq!(
        eval_expr(bin(Mul, int(i64::MAX), int(2))).unwrap_err(),
        format!("integer overflow in `{} * 2`", i64::MAX)
    );
    assert_eq!(
        eval_expr(neg(bin(Sub, neg(int(i64::MAX)), int(1)))).unwrap_err(),
        "integer overflow in negation"
    );
}

#[test]
fn tuple_arithmetic_broadcasts() {
    let t = tuple(ints(&[4, 9]));
    assert_eq!(
        as_tuple(eval_expr(bin(Add, t.clone(), tuple(ints(&[1, 2])))).unwrap()),
        vec![5, 11]
    );
    assert_eq!(
        as_tuple(eval_expr(bin(Mul, t.clone(), int(2))).unwrap()),
        vec![8, 18]
    );
    assert_eq!(
        as_tuple(eval_expr(bin(Sub, int(10), t.clone())).unwrap()),
        vec![6, 1]
    );
    assert_eq!(
        as_tuple(eval_expr(bin(Div, t.clone(), int(4))).unwrap()),
        vec![1, 2]
    );
    assert_eq!(
        eval_expr(bin(Add, t.clone(), tuple(ints(&[1, 2, 3])))).unwrap_err(),
        "tuple length mismatch in `+`: 2 vs 3"
    );
    assert_eq!(
        eval_expr(bin(Div, t, tuple(ints(&[1, 0])))).unwrap_err(),
        "division by zero in `9 / 0`"
    );
    // Long tuples spill to the heap and still work.
    let long = tuple(ints(&[1, 2, 3, 4, 5, 6, 7, 8]));
    assert_eq!(
        as_tuple(eval_expr(bin(Add, long, int(1))).unwrap()),
        vec![2, 3, 4, 5, 6, 7, 8, 9]
    );
}

#[test]
fn comparisons_and_short_circuit() {
    assert!(matches!(
        eval_expr(bin(Lt, int(1), int(2))).unwrap(),
        Value::Bool(true)
    ));
    assert!(matches!(
        eval_expr(bin(Eq, tuple(ints(&[1, 2])), tuple(ints(&[1, 2])))).unwrap(),
        Value::Bool(true)
    ));
    assert!(matches!(
        eval_expr(bin(Ne, int(1), int(1))).unwrap(),
        Value::Bool(false)
    ));
    // The right side would divide by zero: short-circuit must skip it.
    let boom = bin(Eq, bin(Div, int(1), int(0)), int(0));
    assert!(matches!(
        eval_expr(bin(And, boolean(false), boom.clone())).unwrap(),
        Value::Bool(false)
    ));
    assert!(matches!(
        eval_expr(bin(Or, boolean(true), boom.clone())).unwrap(),
        Value::Bool(true)
    ));
    assert_eq!(
        eval_expr(bin(And, boolean(true), boom)).unwrap_err(),
        "division by zero in `1 / 0`"
    );
    assert_eq!(
        eval_expr(bin(And, int(1), boolean(true))).unwrap_err(),
        "the left operand of `&&` must be a boolean, got an integer"
    );
    assert_eq!(
        eval_expr(bin(Lt, tuple(ints(&[1, 2])), int(2))).unwrap_err(),
        "`<` compares integers, got a tuple and an integer"
    );
    assert_eq!(
        as_int(eval_expr(ternary(bin(Gt, int(3), int(2)), int(10), int(20))).unwrap()),
        10
    );
}

#[test]
fn indexing_slicing_splats_comprehensions() {
    let t = tuple(ints(&[10, 20, 30, 40]));
    assert_eq!(
        as_int(eval_expr(index(t.clone(), vec![int(1)])).unwrap()),
        20
    );
    assert_eq!(
        as_int(eval_expr(index(t.clone(), vec![neg(int(1))])).unwrap()),
        40
    );
    assert_eq!(
        eval_expr(index(t.clone(), vec![int(4)])).unwrap_err(),
        "index 4 out of bound for a tuple of length 4"
    );
    assert_eq!(
        eval_expr(index(t.clone(), vec![neg(int(5))])).unwrap_err(),
        "index -5 out of bound for a tuple of length 4"
    );
    assert_eq!(
        as_tuple(eval_expr(slice(t.clone(), Some(int(1)), Some(int(3)))).unwrap()),
        vec![20, 30]
    );
    assert_eq!(
        as_tuple(eval_expr(slice(t.clone(), None, Some(neg(int(1))))).unwrap()),
        vec![10, 20, 30]
    );
    assert_eq!(
        as_tuple(eval_expr(slice(t.clone(), Some(neg(int(2))), None)).unwrap()),
        vec![30, 40]
    );
    assert_eq!(
        as_tuple(eval_expr(slice(t.clone(), Some(int(3)), Some(int(1)))).unwrap()),
        Vec::<i64>::new()
    );
    assert_eq!(
        as_tuple(eval_expr(tuple(vec![int(1), splat(t.clone()), int(2)])).unwrap()),
        vec![1, 10, 20, 30, 40, 2]
    );
    assert_eq!(
        as_tuple(eval_expr(comp(bin(Mul, var("i"), int(2)), "i", t.clone())).unwrap()),
        vec![20, 40, 60, 80]
    );
    assert_eq!(as_int(eval_expr(field(t, "len")).unwrap()), 4);
    assert_eq!(
        eval_expr(index(int(3), vec![int(0)])).unwrap_err(),
        "cannot index an integer; only tuples and machine spaces can be indexed"
    );
}

#[test]
fn space_fields_and_transforms() {
    let m = || var("mgpu");
    assert_eq!(as_tuple(eval_expr(field(m(), "size")).unwrap()), vec![2, 4]);
    assert_eq!(as_int(eval_expr(field(m(), "volume")).unwrap()), 8);
    assert_eq!(as_int(eval_expr(field(m(), "len")).unwrap()), 2);
    assert_eq!(
        as_int(eval_expr(index(field(m(), "size"), vec![int(1)])).unwrap()),
        4
    );
    assert_eq!(
        as_tuple(eval_expr(slice(m(), Some(int(1)), None)).unwrap()),
        vec![4]
    );
    let s = method(m(), "split", ints(&[1, 2]));
    assert_eq!(
        as_tuple(eval_expr(field(s, "size")).unwrap()),
        vec![2, 2, 2]
    );
    let s = method(
        method(m(), "merge", ints(&[0, 1])),
        "auto_split",
        vec![int(0), tuple(ints(&[100, 100, 100]))],
    );
    assert_eq!(
        as_tuple(eval_expr(field(s, "size")).unwrap()),
        vec![2, 2, 2]
    );
    let s = method(m(), "decompose", vec![int(1), tuple(ints(&[10, 40]))]);
    assert_eq!(
        as_tuple(eval_expr(field(s, "size")).unwrap()),
        vec![2, 1, 4]
    );
    assert_eq!(
        eval_expr(method(m(), "split", ints(&[1, 3]))).unwrap_err(),
        "split: 4 is not divisible by 3"
    );
    assert_eq!(
        eval_expr(method(m(), "split", vec![splat(tuple(ints(&[1, 2, 3])))])).unwrap_err(),
        "`split` takes 2 argument(s), got 3; call it as `.split(dim, factor)`"
    );
    assert!(matches!(
        eval_expr(index(m(), vec![int(1), int(3)])).unwrap(),
        Value::Proc(p) if p == gpu(1, 3)
    ));
}

#[test]
fn compile_errors_are_the_checkers() {
    // Lowering never reports a user error of its own: what the checker rejects is an
    // internal error if it ever reached the evaluator.
    let d = ev_new(&prog(vec![task_def("f", vec![ret(var("nope"))])]), &shape()).unwrap_err();
    assert_eq!(
        d[0].message,
        "internal error: the checker accepted an undefined name `nope`"
    );
    let r = ev_checked(
        &prog(vec![task_def(
            "f",
            vec![ret(index(var("mgpu"), ints(&[0, 0])))],
        )]),
        &shape(),
    );
    let d = r.unwrap_err();
    assert_eq!(d[0].message, "mgpu is not defined");
    assert_eq!(
        d[0].help.as_deref(),
        Some("add `mgpu = Machine(GPU);` before its first use")
    );
    let r = ev_checked(
        &prog(vec![
            assign("mgpu", machine(ProcKind::Gpu)),
            task_def("f", vec![ret(field(var("mgpu"), "sise"))]),
        ]),
        &shape(),
    );
    let d = r.unwrap_err();
    assert_eq!(d[0].message, "no field `sise` on a machine space");
    assert_eq!(d[0].help.as_deref(), Some("did you mean `size`?"));
    let r = ev_checked(
        &prog(vec![
            assign("mgpu", machine(ProcKind::Gpu)),
            task_def("f", vec![ret(method(var("mgpu"), "split", ints(&[1])))]),
        ]),
        &shape(),
    );
    assert_eq!(
        r.unwrap_err()[0].message,
        "split takes 2 arguments but 1 was given"
    );
    let r = ev_checked(
        &prog(vec![task_def("f", vec![ret(call("g", vec![]))])]),
        &shape(),
    );
    assert_eq!(r.unwrap_err()[0].message, "g is not defined");
    // A global initializer only sees earlier globals.
    let r = ev_checked(
        &prog(vec![assign("a", var("b")), assign("b", int(1))]),
        &shape(),
    );
    assert_eq!(r.unwrap_err()[0].message, "b is used before it is defined");
    // Global evaluation errors are diagnostics at the failing expression.
    let r = ev_new(
        &prog(vec![assign("a", at(bin(Div, int(1), int(0)), 3, 5))]),
        &shape(),
    );
    let d = r.unwrap_err();
    assert_eq!(d[0].message, "division by zero in `1 / 0`");
    assert_eq!(d[0].span.lo, Pos { line: 3, col: 5 });
}

/// DSL.md §7's block1d on 2 nodes x 4 GPUs with 16 points.
fn block1d() -> Vec<FnStmt> {
    let m0 = || index(field(var("mgpu"), "size"), vec![int(0)]);
    let m1 = || index(field(var("mgpu"), "size"), vec![int(1)]);
    vec![
        local("ip", field(var("task"), "ipoint")),
        local("is", field(var("task"), "ispace")),
        local(
            "node",
            bin(
                Div,
                bin(Mul, index(var("ip"), vec![int(0)]), m0()),
                index(var("is"), vec![int(0)]),
            ),
        ),
        local(
            "per_node",
            bin(
                Div,
                bin(Sub, bin(Add, index(var("is"), vec![int(0)]), m0()), int(1)),
                m0(),
            ),
        ),
        ret(index(
            var("mgpu"),
            vec![
                var("node"),
                bin(
                    Div,
                    bin(
                        Mul,
                        bin(Rem, index(var("ip"), vec![int(0)]), var("per_node")),
                        m1(),
                    ),
                    var("per_node"),
                ),
            ],
        )),
    ]
}

#[test]
fn block1d_places_blocks() {
    let ev = ev_with(block1d());
    let f = ev.func_id("f").unwrap();
    let got: Vec<Placement> = (0..16)
        .map(|i| ev.place(f, &ctx(&[i], &[16]), "t").unwrap())
        .collect();
    let want: Vec<Placement> = (0..16)
        .map(|i| gpu((i / 8) as u32, ((i % 8) / 2) as u32))
        .collect();
    assert_eq!(got, want);
}

/// `m = mgpu.merge(0, 1).auto_split(0, task.ispace); return m[*(ip * m.size / is)];`
pub fn auto_split_body() -> Vec<FnStmt> {
    vec![
        local("ip", field(var("task"), "ipoint")),
        local("is", field(var("task"), "ispace")),
        local(
            "m",
            method(
                method(var("mgpu"), "merge", ints(&[0, 1])),
                "auto_split",
                vec![int(0), var("is")],
            ),
        ),
        ret(index(
            var("m"),
            vec![splat(bin(
                Div,
                bin(Mul, var("ip"), field(var("m"), "size")),
                var("is"),
            ))],
        )),
    ]
}

#[test]
fn auto_split_placement_covers_all_gpus_once_per_block() {
    let ev = ev_with(auto_split_body());
    let f = ev.func_id("f").unwrap();
    // 8 GPUs, domain 4 x 8 -> auto_split gives (2, 4): blocks of 2 x 2 points.
    let mut seen = std::collections::HashMap::new();
    for i in 0..4 {
        for j in 0..8 {
            let p = ev.place(f, &ctx(&[i, j], &[4, 8]), "t").unwrap();
            *seen.entry(p).or_insert(0) += 1;
        }
    }
    assert_eq!(seen.len(), 8);
    assert!(seen.values().all(|&c| c == 4));
    // Point (3, 7) -> block (1, 3) -> merged index 7 -> GPU[1, 3].
    assert_eq!(ev.place(f, &ctx(&[3, 7], &[4, 8]), "t").unwrap(), gpu(1, 3));
}

#[test]
fn placement_errors_name_task_point_function_and_position() {
    let body = vec![ret(at(
        index(
            var("mgpu"),
            vec![int(0), field(var("task"), "ipoint").index0()],
        ),
        7,
        12,
    ))];
    let e = run(body, &[4], &[8]).unwrap_err();
    assert_eq!(e.message, "index 4 out of bound for dimension 1 of size 4");
    assert_eq!(e.task, "t");
    assert_eq!(e.point, vec![4]);
    assert_eq!(e.function.as_deref(), Some("f"));
    assert_eq!(e.at, Some(Pos { line: 7, col: 12 }));
    assert_eq!(
            e.to_string(),
            "mapping task `t` at point [4] in function `f` (line 7:12): index 4 out of bound for dimension 1 of size 4"
        );
    let e = run(vec![ret(field(var("task"), "ipoint"))], &[1], &[2]).unwrap_err();
    assert_eq!(
        e.message,
        "placement function must return a processor, got a tuple"
    );
    let e = run(vec![local("x", int(1))], &[1], &[2]).unwrap_err();
    assert_eq!(e.message, "function `f` finished without `return`");
}

trait Index0 {
    fn index0(self) -> Expr;
}
impl Index0 for Expr {
    fn index0(self) -> Expr {
        index(self, vec![int(0)])
    }
}

#[test]
fn parent_processor_and_wildcards() {
    let mcpu = || var("mcpu");
    let p = prog(vec![
        assign("mgpu", machine(ProcKind::Gpu)),
        assign("mcpu", machine(ProcKind::Cpu)),
        task_def(
            "f",
            vec![
                local(
                    "c",
                    method(field(var("task"), "parent"), "processor", vec![mcpu()]),
                ),
                ret(index(
                    var("mgpu"),
                    vec![index(var("c"), vec![int(0)]), wild()],
                )),
            ],
        ),
        task_def(
            "g",
            vec![ret(index(
                mcpu(),
                vec![splat(method(var("task"), "processor", vec![mcpu()]))],
            ))],
        ),
    ]);
    let ev = ev_new(&p, &shape()).unwrap();
    // The parent runs on CPU[1, 2]: node 1.
    assert_eq!(
        ev.place(ev.func_id("f").unwrap(), &ctx(&[0], &[1]), "t")
            .unwrap(),
        Placement::AnyOnNode {
            node: 1,
            kind: ProcKind::Gpu
        }
    );
    assert_eq!(
            ev.place(ev.func_id("g").unwrap(), &ctx(&[0], &[1]), "t").unwrap_err().message,
            "the task being mapped has no processor yet; use `task.parent.processor(m)` for the launching task's"
        );
}

#[test]
fn user_functions_recursion_and_types() {
    // def fact(int n) { return n <= 1 ? 1 : n * fact(n - 1); }
    let fact = def(
        "fact",
        &[(ParamType::Int, "n")],
        vec![ret(ternary(
            bin(Le, var("n"), int(1)),
            int(1),
            bin(
                Mul,
                var("n"),
                call("fact", vec![bin(Sub, var("n"), int(1))]),
            ),
        ))],
    );
    let ev = ev_new(
        &prog(vec![fact.clone(), assign("x", call("fact", vec![int(10)]))]),
        &shape(),
    )
    .unwrap();
    assert!(matches!(ev.global("x"), Some(Value::Int(3628800))));
    // Unbounded recursion hits the depth limit.
    let r = ev_new(
        &prog(vec![fact, assign("x", call("fact", vec![int(1000)]))]),
        &shape(),
    );
    let d = r.unwrap_err();
    assert_eq!(
            d[0].message,
            "call depth limit of 64 exceeded calling `fact` (unbounded recursion?) (in function `fact`)"
        );
    // Parameter types are checked.
    let g = def(
        "g",
        &[(ParamType::MSpace, "m")],
        vec![ret(field(var("m"), "volume"))],
    );
    let r = ev_new(
        &prog(vec![g, assign("x", call("g", vec![int(3)]))]),
        &shape(),
    );
    assert_eq!(
        r.unwrap_err()[0].message,
        "argument 1 of `g` is declared `MSpace` but got an integer"
    );
}

#[test]
fn locals_shadow_globals_after_assignment() {
    // x = 5; def f(Task task) { y = x; x = 1; return mgpu[y - 4, x]; }
    let p = prog(vec![
        assign("mgpu", machine(ProcKind::Gpu)),
        assign("x", int(5)),
        task_def(
            "f",
            vec![
                local("y", var("x")),
                local("x", int(1)),
                ret(index(
                    var("mgpu"),
                    vec![bin(Sub, var("y"), int(4)), var("x")],
                )),
            ],
        ),
    ]);
    let ev = ev_new(&p, &shape()).unwrap();
    assert_eq!(
        ev.place(ev.func_id("f").unwrap(), &ctx(&[0], &[1]), "t")
            .unwrap(),
        gpu(1, 1)
    );
}

#[test]
fn depth_limit_fits_a_small_thread_stack() {
    // def r(int n) { return r(n + 1); } on a 1 MiB stack: the depth limit must come first.
    let r = def(
        "r",
        &[(ParamType::Int, "n")],
        vec![ret(call("r", vec![bin(Add, var("n"), int(1))]))],
    );
    let p = prog(vec![r, assign("x", call("r", vec![int(0)]))]);
    let h = std::thread::Builder::new()
        .stack_size(1 << 20)
        .spawn(move || ev_new(&p, &shape()).map(|_| ()));
    let d = h.unwrap().join().unwrap().unwrap_err();
    assert!(
        d[0].message.starts_with("call depth limit of 64 exceeded"),
        "{}",
        d[0].message
    );
}

#[test]
fn evaluator_is_send_sync() {
    fn check<T: Send + Sync>() {}
    check::<Evaluator>();
}
