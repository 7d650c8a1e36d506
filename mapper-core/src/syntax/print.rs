//! The canonical printer: one statement per line, function bodies indented by four spaces,
//! expressions with the fewest parentheses that keep their structure, so that
//! `parse(print(ast)) == ast` for every AST the parser can produce.
//!
//! Parenthesization follows the parser's grammar: `?:` (right-associative, condition needs
//! parentheses if it is itself a conditional), binary operators (left-associative, precedence
//! from [`BinOp::precedence`]), unary `-`/`!`, then postfix and primary forms. `*e` (splat) and
//! `*` (wildcard) are written bare only where the parser accepts them (tuple elements, index
//! lists, argument lists) and inside parentheses elsewhere. Negative integer literals (which the
//! parser never produces: it reads `-5` as a negation) print as `(-5)`.

use crate::ast::{
    Expr, ExprKind, FnStmt, FuncDef, LayoutTarget, ProcSel, Program, RegionSel, Stmt, TaskNames,
    TaskSel, UnOp,
};
use crate::span::Spanned;
use std::fmt::Write as _;

/// Canonical text of a program; ends with `'\n'` (an empty program prints as `""`).
pub fn print(p: &Program) -> String {
    let mut out = String::new();
    for s in &p.stmts {
        out.push_str(&print_stmt(s));
    }
    out
}

/// Canonical text of one expression.
pub fn print_expr(e: &Expr) -> String {
    let mut out = String::new();
    write_expr(&mut out, e, 0);
    out
}

/// Canonical text of one top-level statement, ending with `'\n'` (several lines for a `def`).
pub fn print_stmt(s: &Stmt) -> String {
    let mut out = String::new();
    match s {
        Stmt::Task { tasks, kinds, .. } => {
            let _ = writeln!(out, "Task {} {};", names(tasks), join_kinds(kinds));
        }
        Stmt::Region {
            task,
            region,
            proc,
            mems,
            ..
        } => {
            let _ = writeln!(
                out,
                "Region {} {} {} {};",
                task_sel(task),
                region_sel(region),
                proc_sel(proc),
                join_kinds(mems)
            );
        }
        Stmt::Layout {
            task,
            region,
            target,
            constraints,
            ..
        } => {
            let target = match target {
                LayoutTarget::Any(_) => "*".to_string(),
                LayoutTarget::Mem(m) => m.node.to_string(),
                LayoutTarget::Proc(p) => p.node.to_string(),
            };
            let cs: Vec<String> = constraints.iter().map(|c| c.node.to_string()).collect();
            let _ = writeln!(
                out,
                "Layout {} {} {} {};",
                task_sel(task),
                region_sel(region),
                target,
                cs.join(" ")
            );
        }
        Stmt::InstanceLimit {
            task, proc, limit, ..
        } => {
            out.push_str("InstanceLimit ");
            out.push_str(&task_sel(task));
            if let Some(p) = proc {
                out.push(' ');
                out.push_str(&proc_sel(p));
            }
            let _ = writeln!(out, " {};", limit.node);
        }
        Stmt::CollectMemory { task, region, .. } => {
            let _ = writeln!(
                out,
                "CollectMemory {} {};",
                task_sel(task),
                region_sel(region)
            );
        }
        Stmt::IndexTaskMap { tasks, func, .. } => {
            let _ = writeln!(out, "IndexTaskMap {} {};", names(tasks), func.node);
        }
        Stmt::SingleTaskMap { tasks, func, .. } => {
            let _ = writeln!(out, "SingleTaskMap {} {};", names(tasks), func.node);
        }
        Stmt::ControlReplicate { tasks, .. } => {
            let _ = writeln!(out, "ControlReplicate {};", names(tasks));
        }
        Stmt::Assign { name, value, .. } => {
            let _ = writeln!(out, "{} = {};", name.node, print_expr(value));
        }
        Stmt::Def(f) => write_def(&mut out, f),
    }
    out
}

fn write_def(out: &mut String, f: &FuncDef) {
    let params: Vec<String> = f
        .params
        .iter()
        .map(|p| format!("{} {}", p.ty.node.as_str(), p.name.node))
        .collect();
    let _ = writeln!(out, "def {}({}) {{", f.name.node, params.join(", "));
    for s in &f.body {
        out.push_str("    ");
        match s {
            FnStmt::Assign { name, value, .. } => {
                let _ = write!(out, "{} = {};", name.node, print_expr(value));
            }
            FnStmt::Return { value, .. } => {
                let _ = write!(out, "return {};", print_expr(value));
            }
            FnStmt::Print { format, args, .. } => {
                out.push_str("print(");
                out.push_str(&quote(&format.node));
                for a in args {
                    out.push_str(", ");
                    write_element(out, a);
                }
                out.push_str(");");
            }
        }
        out.push('\n');
    }
    out.push_str("}\n");
}

fn names(t: &TaskNames) -> String {
    match t {
        TaskNames::Any(_) => "*".to_string(),
        TaskNames::List(v) => v
            .iter()
            .map(|n| n.node.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        TaskNames::Kind(k) => k.node.to_string(),
    }
}

fn join_kinds<T: std::fmt::Display>(v: &[Spanned<T>]) -> String {
    v.iter()
        .map(|k| k.node.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

fn task_sel(t: &TaskSel) -> String {
    match t {
        TaskSel::Any(_) => "*".to_string(),
        TaskSel::Named(n) => n.node.clone(),
    }
}

fn region_sel(r: &RegionSel) -> String {
    match r {
        RegionSel::Any(_) => "*".to_string(),
        RegionSel::Named(n) => n.node.clone(),
        RegionSel::Index(i) => i.node.to_string(),
    }
}

fn proc_sel(p: &ProcSel) -> String {
    match p {
        ProcSel::Any(_) => "*".to_string(),
        ProcSel::Kind(k) => k.node.to_string(),
    }
}

/// A string literal that the parser reads back as `s`.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\0' => out.push_str("\\0"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Binding strength of an expression as written: 0 `?:`, 1-5 binary, 6 unary, 7 postfix and
/// primary forms.
fn prec(e: &Expr) -> u8 {
    match &e.kind {
        ExprKind::Ternary(..) => 0,
        ExprKind::Binary(op, ..) => op.precedence(),
        ExprKind::Unary(..) => 6,
        _ => 7,
    }
}

/// Writes `e` where the context needs binding strength at least `min`.
fn write_expr(out: &mut String, e: &Expr, min: u8) {
    if matches!(e.kind, ExprKind::Splat(_) | ExprKind::Wildcard) {
        out.push('(');
        write_element(out, e);
        out.push(')');
        return;
    }
    if prec(e) < min {
        out.push('(');
        write_bare(out, e);
        out.push(')');
    } else {
        write_bare(out, e);
    }
}

/// Writes an element of a tuple, index list or argument list.
fn write_element(out: &mut String, e: &Expr) {
    match &e.kind {
        ExprKind::Wildcard => out.push('*'),
        ExprKind::Splat(inner) => {
            out.push('*');
            write_expr(out, inner, 0);
        }
        _ => write_expr(out, e, 0),
    }
}

fn write_elements(out: &mut String, elems: &[Expr]) {
    for (i, e) in elems.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write_element(out, e);
    }
}

/// Writes the receiver of `.field` / `.method()` / `[...]`.
fn write_receiver(out: &mut String, e: &Expr) {
    if matches!(e.kind, ExprKind::Int(_)) {
        // `(5).x` rather than `5.x`, which reads like a float.
        out.push('(');
        write_bare(out, e);
        out.push(')');
    } else {
        write_expr(out, e, 7);
    }
}

fn write_bare(out: &mut String, e: &Expr) {
    match &e.kind {
        ExprKind::Int(v) if *v < 0 => {
            let _ = write!(out, "(-{})", v.unsigned_abs());
        }
        ExprKind::Int(v) => {
            let _ = write!(out, "{v}");
        }
        ExprKind::Bool(b) => out.push_str(if *b { "True" } else { "False" }),
        ExprKind::Str(s) => out.push_str(&quote(s)),
        ExprKind::Var(v) => out.push_str(v),
        ExprKind::Machine(k) => {
            let _ = write!(out, "Machine({})", k.node);
        }
        ExprKind::Tuple(elems) => {
            out.push('(');
            write_elements(out, elems);
            if elems.len() == 1 {
                out.push(',');
            }
            out.push(')');
        }
        ExprKind::Splat(_) | ExprKind::Wildcard => write_element(out, e),
        ExprKind::Unary(op, x) => {
            let mut inner = String::new();
            write_expr(&mut inner, x, 6);
            out.push(match op {
                UnOp::Neg => '-',
                UnOp::Not => '!',
            });
            // `- -1`, not `--1`; `! =`-like sequences cannot occur.
            if *op == UnOp::Neg && inner.starts_with('-') {
                out.push(' ');
            }
            out.push_str(&inner);
        }
        ExprKind::Binary(op, l, r) => {
            let p = op.precedence();
            write_expr(out, l, p);
            out.push(' ');
            out.push_str(op.as_str());
            out.push(' ');
            write_expr(out, r, p + 1);
        }
        ExprKind::Ternary(c, a, b) => {
            write_expr(out, c, 1);
            out.push_str(" ? ");
            write_expr(out, a, 0);
            out.push_str(" : ");
            write_expr(out, b, 0);
        }
        ExprKind::Index(x, elems) => {
            write_receiver(out, x);
            out.push('[');
            write_elements(out, elems);
            out.push(']');
        }
        ExprKind::Slice(x, lo, hi) => {
            write_receiver(out, x);
            out.push('[');
            if let Some(lo) = lo {
                write_expr(out, lo, 0);
            }
            out.push(':');
            if let Some(hi) = hi {
                write_expr(out, hi, 0);
            }
            out.push(']');
        }
        ExprKind::Field(x, f) => {
            write_receiver(out, x);
            out.push('.');
            out.push_str(&f.node);
        }
        ExprKind::Method(x, m, args) => {
            write_receiver(out, x);
            out.push('.');
            out.push_str(&m.node);
            out.push('(');
            write_elements(out, args);
            out.push(')');
        }
        ExprKind::Call(f, args) => {
            out.push_str(&f.node);
            out.push('(');
            write_elements(out, args);
            out.push(')');
        }
        ExprKind::TupleComp { body, var, iter } => {
            out.push_str("tuple(");
            write_expr(out, body, 0);
            out.push_str(" for ");
            out.push_str(&var.node);
            out.push_str(" in ");
            write_expr(out, iter, 0);
            out.push(')');
        }
    }
}
