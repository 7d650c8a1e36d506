//! Placement throughput: one index point through the interpreter (an `auto_split`-based
//! COSMA/SUMMA-style function and DSL.md's `block1d`) and through the default placement, on a
//! 4-node x 4-GPU machine shape.

use criterion::{criterion_group, criterion_main, Criterion};
use mapper_core::ast::{BinOp, Expr, ExprKind, FnStmt, FuncDef, Param, ParamType, Program, Stmt};
use mapper_core::default::default_index_placement;
use mapper_core::eval::Evaluator;
use mapper_core::span::{Span, Spanned};
use mapper_core::{MachineShape, PointCtx, ProcId, ProcKind};
use std::hint::black_box;

fn ex(k: ExprKind) -> Expr {
    Expr::new(k, Span::default())
}
fn id(s: &str) -> Spanned<String> {
    Spanned::new(s.to_string(), Span::default())
}
fn var(s: &str) -> Expr {
    ex(ExprKind::Var(s.into()))
}
fn int(i: i64) -> Expr {
    ex(ExprKind::Int(i))
}
fn bin(op: BinOp, a: Expr, b: Expr) -> Expr {
    ex(ExprKind::Binary(op, Box::new(a), Box::new(b)))
}
fn field(b: Expr, f: &str) -> Expr {
    ex(ExprKind::Field(Box::new(b), id(f)))
}
fn method(b: Expr, m: &str, args: Vec<Expr>) -> Expr {
    ex(ExprKind::Method(Box::new(b), id(m), args))
}
fn index(b: Expr, i: Vec<Expr>) -> Expr {
    ex(ExprKind::Index(Box::new(b), i))
}
fn local(n: &str, v: Expr) -> FnStmt {
    FnStmt::Assign {
        name: id(n),
        value: v,
        span: Span::default(),
    }
}
fn ret(v: Expr) -> FnStmt {
    FnStmt::Return {
        value: v,
        span: Span::default(),
    }
}

/// ```text
/// mgpu = Machine(GPU);
/// def cosma(Task task) {
///     ip = task.ipoint; is = task.ispace;
///     m = mgpu.merge(0, 1).auto_split(0, is);
///     return m[*(ip * m.size / is)];
/// }
/// def block1d(Task task) { ... DSL.md §7 ... }
/// ```
fn program() -> Program {
    let cosma = vec![
        local("ip", field(var("task"), "ipoint")),
        local("is", field(var("task"), "ispace")),
        local(
            "m",
            method(
                method(var("mgpu"), "merge", vec![int(0), int(1)]),
                "auto_split",
                vec![int(0), var("is")],
            ),
        ),
        ret(index(
            var("m"),
            vec![ex(ExprKind::Splat(Box::new(bin(
                BinOp::Div,
                bin(BinOp::Mul, var("ip"), field(var("m"), "size")),
                var("is"),
            ))))],
        )),
    ];
    let m0 = || index(field(var("mgpu"), "size"), vec![int(0)]);
    let m1 = || index(field(var("mgpu"), "size"), vec![int(1)]);
    let ip0 = || index(var("ip"), vec![int(0)]);
    let is0 = || index(var("is"), vec![int(0)]);
    let block1d = vec![
        local("ip", field(var("task"), "ipoint")),
        local("is", field(var("task"), "ispace")),
        local("node", bin(BinOp::Div, bin(BinOp::Mul, ip0(), m0()), is0())),
        local(
            "per_node",
            bin(
                BinOp::Div,
                bin(BinOp::Sub, bin(BinOp::Add, is0(), m0()), int(1)),
                m0(),
            ),
        ),
        ret(index(
            var("mgpu"),
            vec![
                var("node"),
                bin(
                    BinOp::Div,
                    bin(BinOp::Mul, bin(BinOp::Rem, ip0(), var("per_node")), m1()),
                    var("per_node"),
                ),
            ],
        )),
    ];
    let def = |name: &str, body| {
        Stmt::Def(FuncDef {
            name: id(name),
            params: vec![Param {
                ty: Spanned::new(ParamType::Task, Span::default()),
                name: id("task"),
            }],
            body,
            span: Span::default(),
        })
    };
    Program {
        stmts: vec![
            Stmt::Assign {
                name: id("mgpu"),
                value: ex(ExprKind::Machine(Spanned::new(
                    ProcKind::Gpu,
                    Span::default(),
                ))),
                span: Span::default(),
            },
            def("cosma", cosma),
            def("block1d", block1d),
        ],
    }
}

fn bench(c: &mut Criterion) {
    let machine = MachineShape::new(4, 8, 4);
    let ev = Evaluator::new(&program(), &machine).expect("benchmark program compiles");
    let parent = ProcId {
        node: 0,
        kind: ProcKind::Cpu,
        index: 0,
    };
    let cosma = ev.func_id("cosma").expect("cosma");
    let block1d = ev.func_id("block1d").expect("block1d");

    let domain2 = [64i64, 64];
    let points2: Vec<[i64; 2]> = (0..64).flat_map(|i| (0..64).map(move |j| [i, j])).collect();
    let mut k = 0usize;
    c.bench_function("interp/auto_split_point", |b| {
        b.iter(|| {
            k = (k + 1) % points2.len();
            let ctx = PointCtx {
                task: 0,
                point: &points2[k],
                domain: &domain2,
                index_launch: true,
                parent_proc: parent,
                seq: 0,
            };
            black_box(ev.place(cosma, &ctx, "mm").expect("placement"))
        })
    });

    let domain1 = [1024i64];
    let mut i = 0i64;
    c.bench_function("interp/block1d_point", |b| {
        b.iter(|| {
            i = (i + 1) % 1024;
            let p = [i];
            let ctx = PointCtx {
                task: 0,
                point: &p,
                domain: &domain1,
                index_launch: true,
                parent_proc: parent,
                seq: 0,
            };
            black_box(ev.place(block1d, &ctx, "cnc").expect("placement"))
        })
    });

    let mut k2 = 0usize;
    c.bench_function("default/index_point", |b| {
        b.iter(|| {
            k2 = (k2 + 1) % points2.len();
            black_box(
                default_index_placement(&points2[k2], &domain2, ProcKind::Gpu, &machine)
                    .expect("placement"),
            )
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
