//! Round-trip properties of the parser and the canonical printer: for random ASTs covering every
//! statement and expression form, `parse(print(ast)) == ast` and printing is a fixed point; for
//! hand-written mappers in the original style, formatting is stable.

use mapper_core::ast::{
    BinOp, Expr, ExprKind, FnStmt, FuncDef, LayoutTarget, Param, ParamType, ProcSel, Program,
    RegionSel, Stmt, TaskNames, TaskSel, UnOp,
};
use mapper_core::kinds::{AlignOp, Constraint, MemKind, ProcKind};
use mapper_core::parse::{is_keyword, parse_expr_text, parse_text};
use mapper_core::print::{print, print_expr};
use mapper_core::span::{Span, Spanned};
use proptest::prelude::*;

fn sp<T>(node: T) -> Spanned<T> {
    Spanned::new(node, Span::default())
}

fn ex(kind: ExprKind) -> Expr {
    Expr::new(kind, Span::default())
}

fn ident() -> impl Strategy<Value = String> {
    "[a-zA-Z][a-zA-Z0-9_]{0,5}".prop_filter("not a keyword", |s| !is_keyword(s))
}

fn name() -> impl Strategy<Value = Spanned<String>> {
    ident().prop_map(sp)
}

fn proc_kind() -> impl Strategy<Value = ProcKind> {
    prop::sample::select(ProcKind::ALL.to_vec())
}

fn mem_kind() -> impl Strategy<Value = MemKind> {
    prop::sample::select(MemKind::ALL.to_vec())
}

fn binop() -> impl Strategy<Value = BinOp> {
    prop::sample::select(vec![
        BinOp::Or,
        BinOp::And,
        BinOp::Eq,
        BinOp::Ne,
        BinOp::Lt,
        BinOp::Le,
        BinOp::Gt,
        BinOp::Ge,
        BinOp::Add,
        BinOp::Sub,
        BinOp::Mul,
        BinOp::Div,
        BinOp::Rem,
    ])
}

fn int() -> impl Strategy<Value = i64> {
    prop_oneof![0i64..100, 0i64..=i64::MAX]
}

fn leaf() -> impl Strategy<Value = Expr> {
    prop_oneof![
        int().prop_map(|v| ex(ExprKind::Int(v))),
        any::<bool>().prop_map(|b| ex(ExprKind::Bool(b))),
        ident().prop_map(|v| ex(ExprKind::Var(v))),
        proc_kind().prop_map(|k| ex(ExprKind::Machine(sp(k)))),
        Just(ex(ExprKind::Wildcard)),
    ]
}

/// Every expression form, nested a few levels (splats and wildcards anywhere).
fn expr() -> impl Strategy<Value = Expr> {
    leaf().prop_recursive(4, 48, 4, |inner| {
        let b = |e: Expr| Box::new(e);
        let list = prop::collection::vec(inner.clone(), 0..4);
        let nonempty = prop::collection::vec(inner.clone(), 1..4);
        prop_oneof![
            1 => list.clone().prop_map(|v| ex(ExprKind::Tuple(v))),
            1 => inner.clone().prop_map(move |e| ex(ExprKind::Splat(b(e)))),
            2 => (prop::bool::ANY, inner.clone()).prop_map(move |(neg, e)| {
                ex(ExprKind::Unary(if neg { UnOp::Neg } else { UnOp::Not }, b(e)))
            }),
            6 => (binop(), inner.clone(), inner.clone())
                .prop_map(move |(op, l, r)| ex(ExprKind::Binary(op, b(l), b(r)))),
            3 => (inner.clone(), inner.clone(), inner.clone())
                .prop_map(move |(c, t, f)| ex(ExprKind::Ternary(b(c), b(t), b(f)))),
            1 => (inner.clone(), nonempty).prop_map(move |(x, i)| ex(ExprKind::Index(b(x), i))),
            1 => (inner.clone(), prop::option::of(inner.clone()), prop::option::of(inner.clone()))
                .prop_map(move |(x, lo, hi)| ex(ExprKind::Slice(b(x), lo.map(b), hi.map(b)))),
            1 => (inner.clone(), name()).prop_map(move |(x, f)| ex(ExprKind::Field(b(x), f))),
            1 => (inner.clone(), name(), list.clone())
                .prop_map(move |(x, m, a)| ex(ExprKind::Method(b(x), m, a))),
            1 => (name(), list).prop_map(|(f, a)| ex(ExprKind::Call(f, a))),
            1 => (inner.clone(), name(), inner).prop_map(move |(body, var, iter)| {
                ex(ExprKind::TupleComp { body: b(body), var, iter: b(iter) })
            }),
        ]
    })
}

fn task_names() -> impl Strategy<Value = TaskNames> {
    prop_oneof![
        Just(TaskNames::Any(Span::default())),
        prop::collection::vec(name(), 1..4).prop_map(TaskNames::List),
    ]
}

/// Task selectors of `IndexTaskMap`/`SingleTaskMap`: names, `*` or a processor kind (a single
/// name spelled like a processor kind would read back as the kind).
fn map_task_names() -> impl Strategy<Value = TaskNames> {
    prop_oneof![
        task_names().prop_filter("not a processor kind", |t| !matches!(
            t,
            TaskNames::List(v) if v.len() == 1 && ProcKind::parse(&v[0].node).is_some()
        )),
        proc_kind().prop_map(|k| TaskNames::Kind(sp(k))),
    ]
}

fn task_sel() -> impl Strategy<Value = TaskSel> {
    prop_oneof![
        Just(TaskSel::Any(Span::default())),
        name().prop_map(TaskSel::Named)
    ]
}

fn region_sel() -> impl Strategy<Value = RegionSel> {
    prop_oneof![
        Just(RegionSel::Any(Span::default())),
        name().prop_map(RegionSel::Named),
        any::<u32>().prop_map(|i| RegionSel::Index(sp(i))),
    ]
}

fn proc_sel() -> impl Strategy<Value = ProcSel> {
    prop_oneof![
        Just(ProcSel::Any(Span::default())),
        proc_kind().prop_map(|k| ProcSel::Kind(sp(k)))
    ]
}

fn constraint() -> impl Strategy<Value = Constraint> {
    let op = prop::sample::select(vec![
        AlignOp::Eq,
        AlignOp::Ne,
        AlignOp::Lt,
        AlignOp::Le,
        AlignOp::Gt,
        AlignOp::Ge,
    ]);
    prop_oneof![
        prop::sample::select(vec![
            Constraint::Soa,
            Constraint::Aos,
            Constraint::COrder,
            Constraint::FOrder,
            Constraint::NoAlign,
            Constraint::Compact,
            Constraint::Exact,
        ]),
        (op, int()).prop_map(|(op, n)| Constraint::Align(op, n)),
    ]
}

fn fn_stmt() -> impl Strategy<Value = FnStmt> {
    let span = Span::default();
    prop_oneof![
        (name(), expr()).prop_map(move |(name, value)| FnStmt::Assign { name, value, span }),
        expr().prop_map(move |value| FnStmt::Return { value, span }),
        (any::<String>(), prop::collection::vec(expr(), 0..3)).prop_map(move |(f, args)| {
            FnStmt::Print {
                format: sp(f),
                args,
                span,
            }
        }),
    ]
}

fn param_type() -> impl Strategy<Value = ParamType> {
    prop::sample::select(ParamType::ALL.to_vec())
}

/// Every statement form.
fn stmt() -> impl Strategy<Value = Stmt> {
    let span = Span::default();
    prop_oneof![
        (
            task_names(),
            prop::collection::vec(proc_kind().prop_map(sp), 1..4)
        )
            .prop_map(move |(tasks, kinds)| Stmt::Task { tasks, kinds, span }),
        (
            task_sel(),
            region_sel(),
            proc_sel(),
            prop::collection::vec(mem_kind().prop_map(sp), 1..4)
        )
            .prop_map(move |(task, region, proc, mems)| Stmt::Region {
                task,
                region,
                proc,
                mems,
                span
            }),
        (
            task_sel(),
            region_sel(),
            prop_oneof![
                Just(LayoutTarget::Any(span)),
                mem_kind().prop_map(|m| LayoutTarget::Mem(sp(m))),
                proc_kind().prop_map(|p| LayoutTarget::Proc(sp(p))),
            ],
            prop::collection::vec(constraint().prop_map(sp), 1..5),
        )
            .prop_map(move |(task, region, target, constraints)| Stmt::Layout {
                task,
                region,
                target,
                constraints,
                span
            }),
        (task_sel(), prop::option::of(proc_sel()), int()).prop_map(move |(task, proc, n)| {
            Stmt::InstanceLimit {
                task,
                proc,
                limit: sp(n),
                span,
            }
        }),
        (task_sel(), region_sel()).prop_map(move |(task, region)| Stmt::CollectMemory {
            task,
            region,
            span
        }),
        (map_task_names(), name()).prop_map(move |(tasks, func)| Stmt::IndexTaskMap {
            tasks,
            func,
            span
        }),
        (map_task_names(), name()).prop_map(move |(tasks, func)| Stmt::SingleTaskMap {
            tasks,
            func,
            span
        }),
        task_names().prop_map(move |tasks| Stmt::ControlReplicate { tasks, span }),
        (name(), expr()).prop_map(move |(name, value)| Stmt::Assign { name, value, span }),
        (
            name(),
            prop::collection::vec((param_type().prop_map(sp), name()), 0..3),
            prop::collection::vec(fn_stmt(), 0..4),
        )
            .prop_map(move |(name, params, body)| Stmt::Def(FuncDef {
                name,
                params: params
                    .into_iter()
                    .map(|(ty, name)| Param { ty, name })
                    .collect(),
                body,
                span,
            })),
    ]
}

fn program() -> impl Strategy<Value = Program> {
    prop::collection::vec(stmt(), 0..6).prop_map(|stmts| Program { stmts })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn program_roundtrip(p in program()) {
        let text = print(&p);
        let out = parse_text(&text);
        prop_assert!(out.diagnostics.is_empty(), "errors {:#?} for\n{}", out.diagnostics, text);
        prop_assert_eq!(&out.program, &p, "text:\n{}", text);
        prop_assert_eq!(print(&out.program), text);
    }

    #[test]
    fn expr_roundtrip(e in expr()) {
        let text = print_expr(&e);
        let back = parse_expr_text(&text);
        prop_assert!(back.is_ok(), "errors {:#?} for {}", back, text);
        if let Ok(back) = back {
            prop_assert_eq!(&back, &e, "text: {}", text);
            prop_assert_eq!(print_expr(&back), text);
        }
    }
}

/// Formats `src` (which must parse without errors).
fn fmt(src: &str) -> String {
    let out = parse_text(src);
    assert!(out.diagnostics.is_empty(), "{src}: {:#?}", out.diagnostics);
    print(&out.program)
}

const SAMPLES: &[&str] = &[
    "# circuit, expert strategy\n\
     Task * GPU,CPU; # prefer GPUs\n\
     Region * * GPU FBMEM;\n\
     Region * * CPU SYSMEM;\n\
     Region * rp_shared GPU ZCMEM;\n\
     Region * rp_ghost GPU ZCMEM;\n\
     Layout * * * SOA C_order;\n\
     mgpu = Machine(GPU);\n\
     def block1d(Task task) {\n\
         ip = task.ipoint;\n\
         is = task.ispace;\n\
         node = ip[0] * mgpu.size[0] / is[0];\n\
         per_node = (is[0] + mgpu.size[0] - 1) / mgpu.size[0];\n\
         return mgpu[node, (ip[0] % per_node) * mgpu.size[1] / per_node];\n\
     }\n\
     IndexTaskMap calculate_new_currents, distribute_charge, update_voltages block1d;\n",
    "Task task_1,task_2 GPU , OMP,CPU;\n\
     Layout * * * SOA C_order Align==128;\n\
     Layout task_3 0 FBMEM AOS F_order Align >= 64 No_Align Compact Exact;\n\
     InstanceLimit task_5 GPU 1;\n\
     InstanceLimit * 4;\n\
     CollectMemory task_4 *;\n\
     CollectMemory * rp_private;\n\
     ControlReplicate main_task;\n\
     Region * * CPU SOCKMEM,SYSMEM;\n\
     m_2d = Machine(GPU);\n\
     m_1d = m_2d.merge(0, 1);\n\
     def linearize(Task task) {\n\
         ip = task.ipoint;\n\
         sz = task.ispace;\n\
         idx = tuple(ip[i] * (i + 1) for i in (0, 1, 2));\n\
         print(\"point {} -> {}\", ip, idx);\n\
         return m_1d[(ip[0] + ip[1] * sz[0]) % m_1d.size[0]];\n\
     }\n\
     def same_point(Task task) {\n\
         return task.parent.processor(m_2d)[0] == 0 ? m_2d[*task.parent.processor(m_2d)] : m_2d[0, *];\n\
     }\n\
     def tail(Task task) { x = task.ipoint[:-1]; y = task.ipoint[1:]; return m_2d[*x, *y]; }\n\
     IndexTaskMap task_1, task_2 linearize;\n\
     SingleTaskMap * same_point;\n",
    "x = - -1;\ny = -(a - (b - c));\nz = a ? b : c ? d : e;\nw = (a ? b : c) ? d : e;\n\
     v = !(a && b) || c;\nu = (1,);\nt = ();\ns = f(*t, 1)[0].len;\n",
];

#[test]
fn formatting_is_stable() {
    for src in SAMPLES {
        let once = fmt(src);
        assert_eq!(fmt(&once), once, "unstable formatting of\n{src}");
    }
}

#[test]
fn formatting_sample_exactly() {
    assert_eq!(
        fmt(SAMPLES[2]),
        "x = - -1;\ny = -(a - (b - c));\nz = a ? b : c ? d : e;\nw = (a ? b : c) ? d : e;\n\
         v = !(a && b) || c;\nu = (1,);\nt = ();\ns = f(*t, 1)[0].len;\n"
    );
    assert_eq!(
        fmt("def tail(Task task) { x = task.ipoint[:-1]; return m[*x, *]; }"),
        "def tail(Task task) {\n    x = task.ipoint[:-1];\n    return m[*x, *];\n}\n"
    );
}
