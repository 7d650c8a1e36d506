//! Parser unit tests (the text-based suites live in `tests/`).

use super::*;
use crate::print::{print, print_expr};
use proc_macro2::{Delimiter, Spacing, TokenTree};
use std::str::FromStr;

/// Parses text that must be error-free.
fn ok(src: &str) -> Program {
    let out = parse_text(src);
    assert!(
        out.diagnostics.is_empty(),
        "unexpected errors for {src:?}: {:#?}",
        out.diagnostics
    );
    out.program
}

/// The single statement of `src`.
fn one(src: &str) -> Stmt {
    let mut p = ok(src);
    assert_eq!(p.stmts.len(), 1, "{src:?}");
    p.stmts.remove(0)
}

/// Errors of `src` as `line:col message` strings.
fn errs(src: &str) -> Vec<String> {
    parse_text(src)
        .diagnostics
        .iter()
        .map(|d| format!("{}:{} {}", d.span.lo.line, d.span.lo.col, d.message))
        .collect()
}

/// The first diagnostic of `src`.
fn first(src: &str) -> Diagnostic {
    let out = parse_text(src);
    assert!(!out.diagnostics.is_empty(), "expected an error for {src:?}");
    out.diagnostics[0].clone()
}

fn e(src: &str) -> String {
    match parse_expr_text(src) {
        Ok(e) => print_expr(&e),
        Err(d) => panic!("{src:?}: {d:#?}"),
    }
}

const CIRCUIT: &str = "Task * GPU,CPU;
Region * * GPU FBMEM;
Region * * CPU SYSMEM;
Region * rp_shared GPU ZCMEM;
Region * rp_ghost GPU ZCMEM;
Layout * * * SOA C_order;
mgpu = Machine(GPU);
def block1d(Task task) {
    ip = task.ipoint;
    is = task.ispace;
    node = ip[0] * mgpu.size[0] / is[0];
    per_node = (is[0] + mgpu.size[0] - 1) / mgpu.size[0];
    return mgpu[node, (ip[0] % per_node) * mgpu.size[1] / per_node];
}
IndexTaskMap calculate_new_currents, distribute_charge, update_voltages block1d;
";

#[test]
fn circuit_example_prints_canonically() {
    let p = ok(CIRCUIT);
    assert_eq!(p.stmts.len(), 9);
    // Minimal parentheses: `%` and `*` have the same precedence and associate left.
    let canonical = CIRCUIT.replace("(ip[0] % per_node) * ", "ip[0] % per_node * ");
    assert_eq!(print(&p), canonical);
    assert_eq!(print(&ok(&canonical)), canonical);
}

#[test]
fn original_style() {
    let src = "# A mapper in the original style\n\
            Task * GPU,CPU; # comment after a statement\n\
            Layout * * * SOA C_order Align==128;\n\
            Layout * * GPU AOS F_order Align == 64 No_Align Compact Exact;\n\
            InstanceLimit task_5 GPU 1;\n\
            Region * * CPU SOCKMEM;\n\
            m_2d = Machine(GPU);\n\
            def f(Task task) {\n\
            \x20   ip = task.ipoint;\n\
            \x20   t = tuple(g(i) for i in (0,1,2));\n\
            \x20   return m_2d[*ip[:-1], *];\n\
            }\n\
            SingleTaskMap a f;\n";
    let p = ok(src);
    assert_eq!(
        print(&p),
        "Task * GPU,CPU;\n\
             Layout * * * SOA C_order Align==128;\n\
             Layout * * GPU AOS F_order Align==64 No_Align Compact Exact;\n\
             InstanceLimit task_5 GPU 1;\n\
             Region * * CPU SOCKMEM;\n\
             m_2d = Machine(GPU);\n\
             def f(Task task) {\n\
             \x20   ip = task.ipoint;\n\
             \x20   t = tuple(g(i) for i in (0, 1, 2));\n\
             \x20   return m_2d[*ip[:-1], *];\n\
             }\n\
             SingleTaskMap a f;\n"
    );
}

/// Fully parenthesized prefix form of an expression, to check structure.
fn sx(e: &Expr) -> String {
    let list = |v: &[Expr]| v.iter().map(sx).collect::<Vec<_>>().join(" ");
    match &e.kind {
        ExprKind::Int(v) => v.to_string(),
        ExprKind::Bool(b) => b.to_string(),
        ExprKind::Str(s) => format!("{s:?}"),
        ExprKind::Var(v) => v.clone(),
        ExprKind::Machine(k) => format!("(machine {})", k.node),
        ExprKind::Tuple(v) => format!("(tuple {})", list(v)),
        ExprKind::Splat(x) => format!("(splat {})", sx(x)),
        ExprKind::Wildcard => "_".into(),
        ExprKind::Unary(op, x) => format!(
            "({} {})",
            if *op == UnOp::Neg { "neg" } else { "not" },
            sx(x)
        ),
        ExprKind::Binary(op, l, r) => format!("({} {} {})", op.as_str(), sx(l), sx(r)),
        ExprKind::Ternary(c, a, b) => format!("(? {} {} {})", sx(c), sx(a), sx(b)),
        ExprKind::Index(x, v) => format!("(index {} {})", sx(x), list(v)),
        ExprKind::Slice(x, lo, hi) => format!(
            "(slice {} {} {})",
            sx(x),
            lo.as_ref().map_or("none".into(), |e| sx(e)),
            hi.as_ref().map_or("none".into(), |e| sx(e))
        ),
        ExprKind::Field(x, f) => format!("(. {} {})", sx(x), f.node),
        ExprKind::Method(x, m, a) => format!("(.{} {} {})", m.node, sx(x), list(a)),
        ExprKind::Call(f, a) => format!("(call {} {})", f.node, list(a)),
        ExprKind::TupleComp { body, var, iter } => {
            format!("(comp {} {} {})", sx(body), var.node, sx(iter))
        }
    }
}

fn s(src: &str) -> String {
    match parse_expr_text(src) {
        Ok(e) => sx(&e),
        Err(d) => panic!("{src:?}: {d:#?}"),
    }
}

fn pos(span: Span) -> (u32, u32, u32, u32) {
    (span.lo.line, span.lo.col, span.hi.line, span.hi.col)
}

fn toks(span: Span) -> (u32, u32) {
    (span.tok_lo, span.tok_hi)
}

fn names(t: &TaskNames) -> Vec<String> {
    match t {
        TaskNames::Any(_) => vec!["*".into()],
        TaskNames::List(v) => v.iter().map(|n| n.node.clone()).collect(),
        TaskNames::Kind(k) => vec![format!("kind {}", k.node)],
    }
}

// ----- statements -----

#[test]
fn empty_input() {
    assert_eq!(ok(""), Program::default());
    assert_eq!(
        ok("# just a comment\n   \n// and another\n"),
        Program::default()
    );
    assert_eq!(ok(";;"), Program::default());
}

#[test]
fn task_statement() {
    let Stmt::Task { tasks, kinds, span } = one("Task a, b GPU,CPU;") else {
        panic!()
    };
    assert_eq!(names(&tasks), ["a", "b"]);
    assert_eq!(
        kinds.iter().map(|k| k.node).collect::<Vec<_>>(),
        [ProcKind::Gpu, ProcKind::Cpu]
    );
    assert_eq!(pos(span), (1, 1, 1, 19));
    assert_eq!(toks(span), (0, 7));
    assert_eq!(pos(kinds[1].span), (1, 15, 1, 18));
    assert_eq!(toks(kinds[1].span), (6, 6));
    let Stmt::Task { tasks, kinds, .. } = one("Task * OMP;") else {
        panic!()
    };
    assert!(matches!(tasks, TaskNames::Any(_)));
    assert_eq!(kinds.len(), 1);
    let Stmt::Task { tasks, kinds, .. } = one("Task GPU CPU , PY;") else {
        panic!()
    };
    assert_eq!(names(&tasks), ["GPU"]);
    assert_eq!(
        kinds.iter().map(|k| k.node).collect::<Vec<_>>(),
        [ProcKind::Cpu, ProcKind::Py]
    );
}

#[test]
fn region_statement() {
    let Stmt::Region {
        task,
        region,
        proc,
        mems,
        span,
    } = one("Region * rp_shared GPU ZCMEM,SYSMEM;")
    else {
        panic!()
    };
    assert!(matches!(task, TaskSel::Any(_)));
    assert!(matches!(&region, RegionSel::Named(n) if n.node == "rp_shared"));
    assert!(matches!(proc, ProcSel::Kind(k) if k.node == ProcKind::Gpu));
    assert_eq!(
        mems.iter().map(|m| m.node).collect::<Vec<_>>(),
        [MemKind::Zcmem, MemKind::Sysmem]
    );
    assert_eq!(toks(span), (0, 7));
    let Stmt::Region {
        task, region, proc, ..
    } = one("Region t 2 * SOCKMEM;")
    else {
        panic!()
    };
    assert!(matches!(&task, TaskSel::Named(n) if n.node == "t"));
    assert!(matches!(region, RegionSel::Index(i) if i.node == 2));
    assert!(matches!(proc, ProcSel::Any(_)));
}

#[test]
fn layout_statement() {
    let Stmt::Layout {
        target,
        constraints,
        ..
    } = one("Layout * * * SOA C_order Align==128 No_Align Compact Exact;")
    else {
        panic!()
    };
    assert!(matches!(target, LayoutTarget::Any(_)));
    let cs: Vec<Constraint> = constraints.iter().map(|c| c.node).collect();
    assert_eq!(
        cs,
        [
            Constraint::Soa,
            Constraint::COrder,
            Constraint::Align(AlignOp::Eq, 128),
            Constraint::NoAlign,
            Constraint::Compact,
            Constraint::Exact
        ]
    );
    // `Align==128` spans its four tokens: Align = = 128.
    assert_eq!(toks(constraints[2].span), (6, 9));
    assert_eq!(pos(constraints[2].span), (1, 26, 1, 36));
    let Stmt::Layout {
        target,
        constraints,
        ..
    } = one("Layout t r FBMEM AOS F_order Align != 8 Align<4 Align <= 2 Align>1 Align >= 16;")
    else {
        panic!()
    };
    assert!(matches!(target, LayoutTarget::Mem(m) if m.node == MemKind::Fbmem));
    let cs: Vec<Constraint> = constraints.iter().map(|c| c.node).collect();
    assert_eq!(
        cs,
        [
            Constraint::Aos,
            Constraint::FOrder,
            Constraint::Align(AlignOp::Ne, 8),
            Constraint::Align(AlignOp::Lt, 4),
            Constraint::Align(AlignOp::Le, 2),
            Constraint::Align(AlignOp::Gt, 1),
            Constraint::Align(AlignOp::Ge, 16)
        ]
    );
    let Stmt::Layout { target, .. } = one("Layout * 0 GPU SOA;") else {
        panic!()
    };
    assert!(matches!(target, LayoutTarget::Proc(p) if p.node == ProcKind::Gpu));
}

#[test]
fn instance_limit_collect_replicate() {
    let Stmt::InstanceLimit {
        task, proc, limit, ..
    } = one("InstanceLimit task_5 GPU 1;")
    else {
        panic!()
    };
    assert!(matches!(&task, TaskSel::Named(n) if n.node == "task_5"));
    assert!(matches!(proc, Some(ProcSel::Kind(k)) if k.node == ProcKind::Gpu));
    assert_eq!(limit.node, 1);
    let Stmt::InstanceLimit { proc, limit, .. } = one("InstanceLimit * 1_000;") else {
        panic!()
    };
    assert!(proc.is_none());
    assert_eq!(limit.node, 1000);
    let Stmt::InstanceLimit { proc, .. } = one("InstanceLimit t * 3;") else {
        panic!()
    };
    assert!(matches!(proc, Some(ProcSel::Any(_))));
    let Stmt::CollectMemory { task, region, .. } = one("CollectMemory t *;") else {
        panic!()
    };
    assert!(matches!(task, TaskSel::Named(_)));
    assert!(matches!(region, RegionSel::Any(_)));
    let Stmt::ControlReplicate { tasks, .. } = one("ControlReplicate a, b;") else {
        panic!()
    };
    assert_eq!(names(&tasks), ["a", "b"]);
}

#[test]
fn task_map_statements() {
    let Stmt::IndexTaskMap { tasks, func, span } = one("IndexTaskMap a, b f;") else {
        panic!()
    };
    assert_eq!(names(&tasks), ["a", "b"]);
    assert_eq!(func.node, "f");
    assert_eq!(pos(func.span), (1, 19, 1, 20));
    assert_eq!(toks(span), (0, 5));
    let Stmt::SingleTaskMap { tasks, func, .. } = one("SingleTaskMap * g;") else {
        panic!()
    };
    assert!(matches!(tasks, TaskNames::Any(_)));
    assert_eq!(func.node, "g");
    // A processor kind alone is the fallback for that kind (as in the original language);
    // in a list it is a task name.
    let Stmt::IndexTaskMap { tasks, .. } = one("IndexTaskMap GPU f;") else {
        panic!()
    };
    assert_eq!(names(&tasks), ["kind GPU"]);
    let TaskNames::Kind(k) = &tasks else { panic!() };
    assert_eq!(pos(k.span), (1, 14, 1, 17));
    let Stmt::SingleTaskMap { tasks, .. } = one("SingleTaskMap OMP g;") else {
        panic!()
    };
    assert_eq!(names(&tasks), ["kind OMP"]);
    let Stmt::IndexTaskMap { tasks, .. } = one("IndexTaskMap GPU, t f;") else {
        panic!()
    };
    assert_eq!(names(&tasks), ["GPU", "t"]);
}

#[test]
fn assignment_and_def() {
    let Stmt::Assign { name, value, span } = one("mgpu = Machine(GPU);") else {
        panic!()
    };
    assert_eq!(name.node, "mgpu");
    assert_eq!(sx(&value), "(machine GPU)");
    assert_eq!(toks(value.span), (2, 5));
    assert_eq!(toks(span), (0, 6));
    let src = "def f(Task task, int n, bool b, IPoint p, ISpace s, MSpace m, Tuple t) {\n\
                   \x20   x = n + 1;\n\
                   \x20   print(\"x = {} #{}\", x, *t);\n\
                   \x20   return m[x, *];\n\
                   }\n";
    let Stmt::Def(f) = one(src) else { panic!() };
    assert_eq!(f.name.node, "f");
    let tys: Vec<ParamType> = f.params.iter().map(|p| p.ty.node).collect();
    assert_eq!(tys, ParamType::ALL);
    assert_eq!(f.params[6].name.node, "t");
    assert_eq!(f.body.len(), 3);
    let FnStmt::Assign { name, value, span } = &f.body[0] else {
        panic!()
    };
    assert_eq!((name.node.as_str(), sx(value).as_str()), ("x", "(+ n 1)"));
    assert_eq!(pos(*span), (2, 5, 2, 15));
    let FnStmt::Print { format, args, .. } = &f.body[1] else {
        panic!()
    };
    assert_eq!(format.node, "x = {} #{}");
    assert_eq!(args.iter().map(sx).collect::<Vec<_>>(), ["x", "(splat t)"]);
    let FnStmt::Return { value, .. } = &f.body[2] else {
        panic!()
    };
    assert_eq!(sx(value), "(index m x _)");
    assert_eq!(pos(f.span), (1, 1, 5, 2));
    assert_eq!(print(&ok(src)), src);
    // Empty body and no parameters.
    let Stmt::Def(f) = one("def g() { }") else {
        panic!()
    };
    assert!(f.params.is_empty() && f.body.is_empty());
    assert_eq!(print(&ok("def g() { }")), "def g() {\n}\n");
}

#[test]
fn doc_comments_are_ignored() {
    let p = ok("/// doc\nTask * GPU; //! inner\n/** block */ Region * * GPU FBMEM;");
    assert_eq!(p.stmts.len(), 2);
}

// ----- expressions -----

#[test]
fn expression_forms() {
    assert_eq!(s("42"), "42");
    assert_eq!(s("1_000"), "1000");
    assert_eq!(s("True"), "true");
    assert_eq!(s("False"), "false");
    assert_eq!(s("x"), "x");
    assert_eq!(s("Machine(CPU)"), "(machine CPU)");
    assert_eq!(s("(a, b)"), "(tuple a b)");
    assert_eq!(s("(a,)"), "(tuple a)");
    assert_eq!(s("()"), "(tuple )");
    assert_eq!(s("(a)"), "a");
    assert_eq!(s("((a))"), "a");
    assert_eq!(s("(*t, 1)"), "(tuple (splat t) 1)");
    assert_eq!(s("-x"), "(neg x)");
    assert_eq!(s("-1"), "(neg 1)");
    assert_eq!(s("- -1"), "(neg (neg 1))");
    assert_eq!(s("--1"), "(neg (neg 1))");
    assert_eq!(s("!b"), "(not b)");
    assert_eq!(s("x[i, j]"), "(index x i j)");
    assert_eq!(s("m[i, *]"), "(index m i _)");
    assert_eq!(s("m[*p]"), "(index m (splat p))");
    assert_eq!(s("m[*p, *]"), "(index m (splat p) _)");
    assert_eq!(s("x[a:b]"), "(slice x a b)");
    assert_eq!(s("m[:-1]"), "(slice m none (neg 1))");
    assert_eq!(s("x[1:]"), "(slice x 1 none)");
    assert_eq!(s("x[:]"), "(slice x none none)");
    assert_eq!(s("x.size"), "(. x size)");
    assert_eq!(s("x.size[0]"), "(index (. x size) 0)");
    assert_eq!(s("m.split(0, 2)"), "(.split m 0 2)");
    assert_eq!(s("t.processor(m)[0]"), "(index (.processor t m) 0)");
    assert_eq!(s("f()"), "(call f )");
    assert_eq!(s("f(a, *b)"), "(call f a (splat b))");
    assert_eq!(s("f(a,)"), "(call f a)");
    assert_eq!(
        s("tuple(f(i) for i in (0,1,2))"),
        "(comp (call f i) i (tuple 0 1 2))"
    );
    assert_eq!(s("c ? a : b"), "(? c a b)");
}

#[test]
fn precedence_and_associativity() {
    assert_eq!(s("a + b * c"), "(+ a (* b c))");
    assert_eq!(s("a * b + c"), "(+ (* a b) c)");
    assert_eq!(s("a - b - c"), "(- (- a b) c)");
    assert_eq!(s("a - (b - c)"), "(- a (- b c))");
    assert_eq!(s("a / b % c * d"), "(* (% (/ a b) c) d)");
    assert_eq!(s("a < b == c >= d"), "(>= (== (< a b) c) d)");
    assert_eq!(s("a <= b != c > d"), "(> (!= (<= a b) c) d)");
    assert_eq!(
        s("a || b && c == d + e * -f[0]"),
        "(|| a (&& b (== c (+ d (* e (neg (index f 0)))))))"
    );
    assert_eq!(s("!a && b"), "(&& (not a) b)");
    assert_eq!(s("-a.b"), "(neg (. a b))");
    assert_eq!(s("a ? b : c ? d : e"), "(? a b (? c d e))");
    assert_eq!(s("a ? b ? c : d : e"), "(? a (? b c d) e)");
    assert_eq!(s("a || b ? c + 1 : d"), "(? (|| a b) (+ c 1) d)");
    assert_eq!(s("a==-1"), "(== a (neg 1))");
    assert_eq!(s("a<-1"), "(< a (neg 1))");
    assert_eq!(s("x[c ? a : b : d]"), "(slice x (? c a b) d)");
}

#[test]
fn expression_spans() {
    let Stmt::Assign { value, .. } = one("x = (a + b) * c;") else {
        panic!()
    };
    // `(` a + b `)` * c: tokens 2..=8, the parenthesized operand includes its parentheses.
    assert_eq!(toks(value.span), (2, 8));
    assert_eq!(pos(value.span), (1, 5, 1, 16));
    let ExprKind::Binary(_, l, r) = &value.kind else {
        panic!()
    };
    assert_eq!(toks(l.span), (2, 6));
    assert_eq!(toks(r.span), (8, 8));
    let out = parse_text("x = f(y)[0];\n");
    // x = f ( y ) [ 0 ] ;  -> 10 flattened tokens.
    assert_eq!(out.token_spans.len(), 10);
    let Stmt::Assign { value, .. } = &out.program.stmts[0] else {
        panic!()
    };
    assert_eq!(toks(value.span), (2, 8));
    let ExprKind::Index(f, _) = &value.kind else {
        panic!()
    };
    assert_eq!(toks(f.span), (2, 5));
    let start = out.token_spans[2].start();
    assert_eq!((start.line, start.column), (1, 4));
}

#[test]
fn printer_minimal_parentheses() {
    assert_eq!(e("a - (b - c)"), "a - (b - c)");
    assert_eq!(e("(a - b) - c"), "a - b - c");
    assert_eq!(e("(a * b) + (c * d)"), "a * b + c * d");
    assert_eq!(e("(a + b) * (c + d)"), "(a + b) * (c + d)");
    assert_eq!(e("-(-1)"), "- -1");
    assert_eq!(e("-(a + b)"), "-(a + b)");
    assert_eq!(e("(a ? b : c) ? d : e"), "(a ? b : c) ? d : e");
    assert_eq!(e("a ? b : (c ? d : e)"), "a ? b : c ? d : e");
    assert_eq!(e("(a + b)[0]"), "(a + b)[0]");
    assert_eq!(e("(-a).b"), "(-a).b");
    assert_eq!(e("(1,)"), "(1,)");
    assert_eq!(e("f(*(a, b), *)"), "f(*(a, b), *)");
    assert_eq!(e("m[i,*]"), "m[i, *]");
    assert_eq!(e("tuple( i*2 for i in t )"), "tuple(i * 2 for i in t)");
    assert_eq!(e("(5).x"), "(5).x");
}

// ----- errors -----

#[test]
fn kind_errors_with_suggestions() {
    let d = first("Task * GPUU;");
    assert_eq!(
        (d.message.as_str(), d.help.as_deref()),
        ("unknown processor kind `GPUU`", Some("did you mean `GPU`?"))
    );
    assert_eq!(pos(d.span), (1, 8, 1, 12));
    let d = first("Task * XYZZY;");
    assert_eq!(
        d.help.as_deref(),
        Some("expected one of CPU, GPU, OMP, IO, PY, PROC")
    );
    let d = first("Region * * GPU FBMEN;");
    assert_eq!(
        (d.message.as_str(), d.help.as_deref()),
        ("unknown memory kind `FBMEN`", Some("did you mean `FBMEM`?"))
    );
    assert_eq!(pos(d.span), (1, 16, 1, 21));
    let d = first("Region * * GPU QQQQQQQ;");
    assert_eq!(
        d.help.as_deref(),
        Some("expected one of SYSMEM, FBMEM, ZCMEM, RDMEM, SOCKMEM, VIRTUAL")
    );
    let d = first("Layout * * * SOAA;");
    assert_eq!(
        (d.message.as_str(), d.help.as_deref()),
        (
            "unknown layout constraint `SOAA`",
            Some("did you mean `SOA`?")
        )
    );
    let d = first("Layout * * * Zigzag;");
    assert_eq!(
        d.help.as_deref(),
        Some("expected one of SOA, AOS, C_order, F_order, Align, No_Align, Compact, Exact")
    );
    let d = first("x = Machine(gpu);");
    assert_eq!(
        (d.message.as_str(), d.help.as_deref()),
        ("unknown processor kind `gpu`", Some("did you mean `GPU`?"))
    );
    // Several errors in one statement are all reported; the statement is dropped.
    let out = parse_text("Region * * GPUS FBMEN,ZCMEN;\nTask * GPU;");
    assert_eq!(out.diagnostics.len(), 3);
    assert_eq!(out.program.stmts.len(), 1);
}

#[test]
fn statement_errors() {
    assert_eq!(errs("task * GPU;"), ["1:1 unknown statement `task`"]);
    let d = first("Regoin * * GPU FBMEM;");
    assert_eq!(
        (d.message.as_str(), d.help.as_deref()),
        ("unknown statement `Regoin`", Some("did you mean `Region`?"))
    );
    assert_eq!(
        errs("Task * GPU\nRegion * * GPU FBMEM;"),
        ["1:11 expected `;` after statement"]
    );
    // A forgotten `;` at the end of a line keeps the statement.
    assert_eq!(
        parse_text("Task * GPU\nRegion * * GPU FBMEM;")
            .program
            .stmts
            .len(),
        2
    );
    assert_eq!(
        errs("Task * GPU CPU;"),
        ["1:12 expected `,` or `;` after processor kind, found `CPU`"]
    );
    assert_eq!(errs("x = 1 2;"), ["1:6 expected `;` after statement"]);
    assert_eq!(errs("return 1;"), ["1:1 `return` outside of a function"]);
    assert_eq!(
        errs("IndexTaskMap f;"),
        ["1:15 expected function name, found `;`"]
    );
    assert_eq!(
        errs("Layout * * * SOA, C_order;"),
        ["1:17 unexpected `,` between layout constraints"]
    );
    assert_eq!(
        errs("Layout * * * Align=128;"),
        ["1:19 expected comparison operator after `Align`, found `=`"]
    );
    assert_eq!(
        errs("Layout * * *;"),
        ["1:13 expected layout constraint, found `;`"]
    );
    assert_eq!(
        errs("Task for GPU;"),
        ["1:6 expected task name or `*`, found keyword `for`"]
    );
    assert_eq!(
        errs("Machine = 1;"),
        ["1:1 cannot assign to keyword `Machine`"]
    );
    assert_eq!(
        errs("InstanceLimit t GPU x;"),
        ["1:21 expected instance limit (a non-negative integer), found `x`"]
    );
    assert_eq!(
        errs("Region * 4294967296 GPU FBMEM;"),
        ["1:10 region argument index `4294967296` is too large"]
    );
}

#[test]
fn def_errors() {
    let d = first("def f(Task t)\n    return 1;\n");
    assert_eq!(d.message, "expected `{` after function parameters");
    assert_eq!(pos(d.span), (2, 5, 2, 11));
    let d = first("def f(Task t):\n    ip = t.ipoint;\n    return ip;\nTask * GPU;\n");
    assert_eq!(d.message, "unexpected `:` in function definition");
    assert_eq!(
        d.help.as_deref(),
        Some("function bodies are wrapped in `{ }`, not introduced by `:`")
    );
    assert_eq!(pos(d.span), (1, 14, 1, 15));
    // The Python-style body is skipped as a whole; the next statement is parsed.
    let out = parse_text("def f(Task t):\n    ip = t.ipoint;\n    return ip;\nTask * GPU;\n");
    assert_eq!(out.diagnostics.len(), 1);
    assert_eq!(out.program.stmts.len(), 1);
    // `:` followed by a braced body: one error, the body is still checked.
    assert_eq!(
        errs("def f(Task t): { return 1 }"),
        [
            "1:14 unexpected `:` in function definition",
            "1:26 expected `;` after statement"
        ]
    );
    let d = first("def f(Tsk t) { return 1; }");
    assert_eq!(
        (d.message.as_str(), d.help.as_deref()),
        ("unknown parameter type `Tsk`", Some("did you mean `Task`?"))
    );
    assert_eq!(pos(d.span), (1, 7, 1, 10));
    let d = first("def f(Banana t) { return 1; }");
    assert_eq!(
        d.help.as_deref(),
        Some("expected one of Task, int, bool, IPoint, ISpace, MSpace, Tuple")
    );
    assert_eq!(
        errs("def f(task) { return 1; }"),
        ["1:7 missing type for parameter `task`"]
    );
    assert_eq!(
        errs("def f Task t { }"),
        ["1:7 expected `(` after function name, found `Task`"]
    );
    assert_eq!(
        errs("def f(Task t) { return; }"),
        ["1:17 `return` needs a value"]
    );
    assert_eq!(
        errs("def f(Task t) { retrun 1; }"),
        ["1:17 unknown statement `retrun`"]
    );
    assert_eq!(
        errs("def f(Task t) { Task * GPU; }"),
        ["1:17 `Task` statements are only allowed at top level"]
    );
    assert_eq!(
        errs("def f(Task t) { print(x); }"),
        ["1:23 `print` needs a format string as its first argument"]
    );
    assert_eq!(
        errs("def f(Task t) { if x { return 1; } }"),
        ["1:17 expected `NAME = EXPR;`, `return EXPR;` or `print(...);`, found `if`"]
    );
    // Broken body statements are dropped, the rest of the function is kept.
    let out = parse_text("def f(Task t) {\n    x = ;\n    return 1;\n}\n");
    assert_eq!(
        errs("def f(Task t) {\n    x = ;\n    return 1;\n}\n"),
        ["2:9 expected expression, found `;`"]
    );
    let Some(Stmt::Def(f)) = out.program.stmts.first() else {
        panic!()
    };
    assert_eq!(f.body.len(), 1);
    // A def with a broken header is dropped, and recovery does not eat the next statement.
    let out = parse_text("def 5(Task t) { return 1; }\nTask * GPU;");
    assert_eq!(out.diagnostics.len(), 1);
    assert_eq!(out.program.stmts.len(), 1);
}

#[test]
fn expression_errors() {
    assert_eq!(errs("x = 1 +;"), ["1:8 expected expression, found `;`"]);
    assert_eq!(errs("x = );"), ["1:5 unexpected closing delimiter `)`"]);
    assert_eq!(
        errs("x = 1.5;"),
        ["1:5 floating-point literal `1.5` is not supported"]
    );
    assert_eq!(
        errs("x = 0x10;"),
        ["1:5 hexadecimal literal `0x10` is not supported"]
    );
    assert_eq!(
        errs("x = 3u8;"),
        ["1:5 integer literal `3u8` has a suffix `u8`"]
    );
    assert_eq!(
        errs("x = 9223372036854775808;"),
        ["1:5 integer literal `9223372036854775808` is too large"]
    );
    assert_eq!(ok("x = 9223372036854775807;").stmts.len(), 1);
    assert_eq!(errs("x = \"s\";"), ["1:5 string literal outside `print`"]);
    assert_eq!(errs("x = *t;"), ["1:5 expected expression, found `*`"]);
    assert_eq!(
        errs("x = f(1)(2);"),
        ["1:9 unexpected `(` after expression"]
    );
    assert_eq!(
        errs("x = a[];"),
        ["1:7 expected index expression, found `]`"]
    );
    assert_eq!(
        errs("x = a[1:2:3];"),
        ["1:10 expected `]` after slice, found `:`"]
    );
    assert_eq!(
        errs("x = a[*:2];"),
        ["1:7 `*` is not allowed in a slice bound"]
    );
    assert_eq!(
        errs("x = Machine(1);"),
        ["1:13 expected processor kind in `Machine(...)`, found `1`"]
    );
    assert_eq!(
        errs("x = tuple(1, 2);"),
        ["1:12 expected `for` in tuple comprehension, found `,`"]
    );
    assert_eq!(
        errs("x = t.0;"),
        ["1:7 expected field or method name after `.`, found `0`"]
    );
    assert_eq!(
        errs("x = a ? b;"),
        ["1:10 expected `:` in conditional expression, found `;`"]
    );
    assert_eq!(
        errs("x = (1 2);"),
        ["1:8 expected `,` or `)` in tuple, found `2`"]
    );
    assert_eq!(
        errs("x = def;"),
        ["1:5 expected expression, found keyword `def`"]
    );
    assert_eq!(errs("x = a $ b;"), ["1:6 expected `;` after statement"]);
    let deep = format!("x = {}1{};", "(".repeat(150), ")".repeat(150));
    assert_eq!(
        errs(&deep)[0],
        format!("1:{} expression nested too deeply", 5 + MAX_EXPR_DEPTH)
    );
    assert_eq!(
        parse_expr_text("a b").unwrap_err()[0].message,
        "expected end of expression, found `b`"
    );
}

#[test]
fn lexical_errors() {
    assert_eq!(
        errs("x = \"abc;\nTask * GPU;"),
        ["1:5 unterminated string literal"]
    );
    assert_eq!(errs("x = 1; /* open"), ["1:8 unterminated block comment"]);
    assert_eq!(
        errs("Task * GPU;\n}"),
        ["2:1 unexpected closing delimiter `}`"]
    );
    assert_eq!(
        errs("def f(Task t) {\n  return 1;\n"),
        ["1:15 unclosed delimiter `{`"]
    );
    assert_eq!(errs("x = (1];"), ["1:7 mismatched closing delimiter `]`"]);
    assert_eq!(errs("x = \0;"), ["1:5 unexpected character `\\0`"]);
    assert_eq!(errs(&"(".repeat(10_000)), ["1:201 nesting too deep"]);
    assert_eq!(
        errs("x = 'a';"),
        ["1:5 character literals are not supported: 'a'"]
    );
    // `#` inside a string is not a comment.
    let Stmt::Def(f) = one("def f() { print(\"a # b\"); } # c") else {
        panic!()
    };
    let FnStmt::Print { format, .. } = &f.body[0] else {
        panic!()
    };
    assert_eq!(format.node, "a # b");
}

#[test]
fn recovery_collects_all_errors() {
    let src = "Task * GPUU;\nRegion * * GPU FBMEN;\nLayout * * * SOAA;\nx = ;\nTask * CPU;\n";
    assert_eq!(
        errs(src),
        [
            "1:8 unknown processor kind `GPUU`",
            "2:16 unknown memory kind `FBMEN`",
            "3:14 unknown layout constraint `SOAA`",
            "4:5 expected expression, found `;`"
        ]
    );
    assert_eq!(parse_text(src).program.stmts.len(), 1);
}

#[test]
fn token_stream_input() {
    let ts = TokenStream::from_str("Task * GPU; /// doc\n def f(Task t) { return t.ipoint; }")
        .unwrap_or_default();
    let out = parse_tokens(ts);
    assert!(out.diagnostics.is_empty());
    assert_eq!(out.program.stmts.len(), 2);
    let ts = TokenStream::from_str("# x\nTask * GPU;").unwrap_or_default();
    let out = parse_tokens(ts);
    assert_eq!(out.diagnostics[0].message, "unexpected `#`");
    // Negative literals built by macros (`Literal::i64_unsuffixed(-3)`).
    let ts: TokenStream = [
        TokenTree::from(proc_macro2::Ident::new("x", proc_macro2::Span::call_site())),
        TokenTree::from(proc_macro2::Punct::new('=', Spacing::Alone)),
        TokenTree::from(proc_macro2::Literal::i64_unsuffixed(-3)),
        TokenTree::from(proc_macro2::Punct::new(';', Spacing::Alone)),
    ]
    .into_iter()
    .collect();
    let out = parse_tokens(ts);
    assert!(out.diagnostics.is_empty(), "{:?}", out.diagnostics);
    let Some(Stmt::Assign { value, .. }) = out.program.stmts.first() else {
        panic!()
    };
    assert_eq!(sx(value), "(neg 3)");
    // Invisible groups from macro expansion are transparent.
    let inner: TokenStream = TokenStream::from_str("1 + 2").unwrap_or_default();
    let mut ts = TokenStream::from_str("x = ").unwrap_or_default();
    ts.extend([TokenTree::from(proc_macro2::Group::new(
        Delimiter::None,
        inner,
    ))]);
    ts.extend(TokenStream::from_str("* 3;").unwrap_or_default());
    let out = parse_tokens(ts);
    assert!(out.diagnostics.is_empty(), "{:?}", out.diagnostics);
}

#[test]
fn smoke() {
    let p = ok("Task * GPU,CPU;\nmgpu = Machine(GPU);\n");
    assert_eq!(print(&p), "Task * GPU,CPU;\nmgpu = Machine(GPU);\n");
}
