//! Lifting a [`Checked`] program into Rust code that rebuilds it: what a `mapper!` mapper binds
//! from, so that binding neither parses nor checks the mapper text again. Every node keeps its
//! span (line, column and token range), so bind-time diagnostics and evaluation-error positions
//! are those of the source the macro saw.

use crate::ast::{
    BinOp, Expr, ExprKind, FnStmt, FuncDef, LayoutTarget, Param, ParamType, ProcSel, Program,
    RegionSel, Stmt, TaskNames, TaskSel, UnOp,
};
use crate::diag::{Diagnostic, Severity};
use crate::kinds::{AlignOp, Constraint, MemKind, ProcKind};
use crate::sema::checked::{Checked, FuncSig, GlobalSig, Type};
use crate::span::{Pos, Span, Spanned};
use proc_macro2::TokenStream;
use quote::{format_ident, quote};

/// A value that generated code can rebuild: `lift` gives an expression of the value's type,
/// with `k` the path of `mapper-core`.
pub trait Lift {
    /// Rust code (an expression) that evaluates to a copy of `self`.
    fn lift(&self, k: &TokenStream) -> TokenStream;
}

/// `KRATE::module::Enum::Variant` of a fieldless enum value (its `Debug` name is the variant).
fn variant(k: &TokenStream, path: &[&str], v: impl std::fmt::Debug) -> TokenStream {
    let segs = path.iter().map(|s| format_ident!("{s}"));
    let v = format_ident!("{}", format!("{v:?}"));
    quote!(#k #(::#segs)* :: #v)
}

macro_rules! lift_fieldless {
    ($($t:ty => [$($seg:literal),*];)*) => {$(
        impl Lift for $t {
            fn lift(&self, k: &TokenStream) -> TokenStream {
                variant(k, &[$($seg),*], self)
            }
        }
    )*};
}

lift_fieldless! {
    ProcKind => ["kinds", "ProcKind"];
    MemKind => ["kinds", "MemKind"];
    AlignOp => ["kinds", "AlignOp"];
    ParamType => ["ast", "ParamType"];
    BinOp => ["ast", "BinOp"];
    UnOp => ["ast", "UnOp"];
    Severity => ["diag", "Severity"];
}

impl Lift for i64 {
    fn lift(&self, _: &TokenStream) -> TokenStream {
        quote!(#self)
    }
}

impl Lift for u32 {
    fn lift(&self, _: &TokenStream) -> TokenStream {
        quote!(#self)
    }
}

impl Lift for usize {
    fn lift(&self, _: &TokenStream) -> TokenStream {
        quote!(#self)
    }
}

impl Lift for bool {
    fn lift(&self, _: &TokenStream) -> TokenStream {
        quote!(#self)
    }
}

impl Lift for String {
    fn lift(&self, _: &TokenStream) -> TokenStream {
        let s = self.as_str();
        quote!(::std::string::String::from(#s))
    }
}

impl<T: Lift> Lift for Vec<T> {
    fn lift(&self, k: &TokenStream) -> TokenStream {
        let items = self.iter().map(|x| x.lift(k));
        quote!(::std::vec![#(#items),*])
    }
}

impl<T: Lift> Lift for Option<T> {
    fn lift(&self, k: &TokenStream) -> TokenStream {
        match self {
            Some(x) => {
                let x = x.lift(k);
                quote!(::core::option::Option::Some(#x))
            }
            None => quote!(::core::option::Option::None),
        }
    }
}

impl<T: Lift> Lift for Box<T> {
    fn lift(&self, k: &TokenStream) -> TokenStream {
        let x = (**self).lift(k);
        quote!(::std::boxed::Box::new(#x))
    }
}

impl Lift for Pos {
    fn lift(&self, k: &TokenStream) -> TokenStream {
        let (l, c) = (self.line, self.col);
        quote!(#k::span::Pos { line: #l, col: #c })
    }
}

impl Lift for Span {
    fn lift(&self, k: &TokenStream) -> TokenStream {
        let (lo, hi) = (self.lo.lift(k), self.hi.lift(k));
        let (a, b) = (self.tok_lo, self.tok_hi);
        quote!(#k::span::Span { lo: #lo, hi: #hi, tok_lo: #a, tok_hi: #b })
    }
}

impl<T: Lift> Lift for Spanned<T> {
    fn lift(&self, k: &TokenStream) -> TokenStream {
        let (n, s) = (self.node.lift(k), self.span.lift(k));
        quote!(#k::span::Spanned { node: #n, span: #s })
    }
}

impl Lift for Constraint {
    fn lift(&self, k: &TokenStream) -> TokenStream {
        match self {
            Constraint::Align(op, n) => {
                let op = op.lift(k);
                quote!(#k::kinds::Constraint::Align(#op, #n))
            }
            other => variant(k, &["kinds", "Constraint"], other),
        }
    }
}

impl Lift for TaskNames {
    fn lift(&self, k: &TokenStream) -> TokenStream {
        match self {
            TaskNames::Any(s) => {
                let s = s.lift(k);
                quote!(#k::ast::TaskNames::Any(#s))
            }
            TaskNames::List(v) => {
                let v = v.lift(k);
                quote!(#k::ast::TaskNames::List(#v))
            }
            TaskNames::Kind(x) => {
                let x = x.lift(k);
                quote!(#k::ast::TaskNames::Kind(#x))
            }
        }
    }
}

impl Lift for TaskSel {
    fn lift(&self, k: &TokenStream) -> TokenStream {
        match self {
            TaskSel::Any(s) => {
                let s = s.lift(k);
                quote!(#k::ast::TaskSel::Any(#s))
            }
            TaskSel::Named(x) => {
                let x = x.lift(k);
                quote!(#k::ast::TaskSel::Named(#x))
            }
        }
    }
}

impl Lift for RegionSel {
    fn lift(&self, k: &TokenStream) -> TokenStream {
        match self {
            RegionSel::Any(s) => {
                let s = s.lift(k);
                quote!(#k::ast::RegionSel::Any(#s))
            }
            RegionSel::Named(x) => {
                let x = x.lift(k);
                quote!(#k::ast::RegionSel::Named(#x))
            }
            RegionSel::Index(x) => {
                let x = x.lift(k);
                quote!(#k::ast::RegionSel::Index(#x))
            }
        }
    }
}

impl Lift for ProcSel {
    fn lift(&self, k: &TokenStream) -> TokenStream {
        match self {
            ProcSel::Any(s) => {
                let s = s.lift(k);
                quote!(#k::ast::ProcSel::Any(#s))
            }
            ProcSel::Kind(x) => {
                let x = x.lift(k);
                quote!(#k::ast::ProcSel::Kind(#x))
            }
        }
    }
}

impl Lift for LayoutTarget {
    fn lift(&self, k: &TokenStream) -> TokenStream {
        match self {
            LayoutTarget::Any(s) => {
                let s = s.lift(k);
                quote!(#k::ast::LayoutTarget::Any(#s))
            }
            LayoutTarget::Mem(x) => {
                let x = x.lift(k);
                quote!(#k::ast::LayoutTarget::Mem(#x))
            }
            LayoutTarget::Proc(x) => {
                let x = x.lift(k);
                quote!(#k::ast::LayoutTarget::Proc(#x))
            }
        }
    }
}

impl Lift for Stmt {
    fn lift(&self, k: &TokenStream) -> TokenStream {
        match self {
            Stmt::Task { tasks, kinds, span } => {
                let (t, ks, s) = (tasks.lift(k), kinds.lift(k), span.lift(k));
                quote!(#k::ast::Stmt::Task { tasks: #t, kinds: #ks, span: #s })
            }
            Stmt::Region {
                task,
                region,
                proc,
                mems,
                span,
            } => {
                let (t, r, p, m, s) = (
                    task.lift(k),
                    region.lift(k),
                    proc.lift(k),
                    mems.lift(k),
                    span.lift(k),
                );
                quote!(#k::ast::Stmt::Region { task: #t, region: #r, proc: #p, mems: #m, span: #s })
            }
            Stmt::Layout {
                task,
                region,
                target,
                constraints,
                span,
            } => {
                let (t, r, g, c, s) = (
                    task.lift(k),
                    region.lift(k),
                    target.lift(k),
                    constraints.lift(k),
                    span.lift(k),
                );
                quote!(#k::ast::Stmt::Layout { task: #t, region: #r, target: #g, constraints: #c, span: #s })
            }
            Stmt::InstanceLimit {
                task,
                proc,
                limit,
                span,
            } => {
                let (t, p, l, s) = (task.lift(k), proc.lift(k), limit.lift(k), span.lift(k));
                quote!(#k::ast::Stmt::InstanceLimit { task: #t, proc: #p, limit: #l, span: #s })
            }
            Stmt::CollectMemory { task, region, span } => {
                let (t, r, s) = (task.lift(k), region.lift(k), span.lift(k));
                quote!(#k::ast::Stmt::CollectMemory { task: #t, region: #r, span: #s })
            }
            Stmt::IndexTaskMap { tasks, func, span } => {
                let (t, f, s) = (tasks.lift(k), func.lift(k), span.lift(k));
                quote!(#k::ast::Stmt::IndexTaskMap { tasks: #t, func: #f, span: #s })
            }
            Stmt::SingleTaskMap { tasks, func, span } => {
                let (t, f, s) = (tasks.lift(k), func.lift(k), span.lift(k));
                quote!(#k::ast::Stmt::SingleTaskMap { tasks: #t, func: #f, span: #s })
            }
            Stmt::ControlReplicate { tasks, span } => {
                let (t, s) = (tasks.lift(k), span.lift(k));
                quote!(#k::ast::Stmt::ControlReplicate { tasks: #t, span: #s })
            }
            Stmt::Assign { name, value, span } => {
                let (n, v, s) = (name.lift(k), value.lift(k), span.lift(k));
                quote!(#k::ast::Stmt::Assign { name: #n, value: #v, span: #s })
            }
            Stmt::Def(f) => {
                let f = f.lift(k);
                quote!(#k::ast::Stmt::Def(#f))
            }
        }
    }
}

impl Lift for Param {
    fn lift(&self, k: &TokenStream) -> TokenStream {
        let (t, n) = (self.ty.lift(k), self.name.lift(k));
        quote!(#k::ast::Param { ty: #t, name: #n })
    }
}

impl Lift for FuncDef {
    fn lift(&self, k: &TokenStream) -> TokenStream {
        let (n, p, b, s) = (
            self.name.lift(k),
            self.params.lift(k),
            self.body.lift(k),
            self.span.lift(k),
        );
        quote!(#k::ast::FuncDef { name: #n, params: #p, body: #b, span: #s })
    }
}

impl Lift for FnStmt {
    fn lift(&self, k: &TokenStream) -> TokenStream {
        match self {
            FnStmt::Assign { name, value, span } => {
                let (n, v, s) = (name.lift(k), value.lift(k), span.lift(k));
                quote!(#k::ast::FnStmt::Assign { name: #n, value: #v, span: #s })
            }
            FnStmt::Return { value, span } => {
                let (v, s) = (value.lift(k), span.lift(k));
                quote!(#k::ast::FnStmt::Return { value: #v, span: #s })
            }
            FnStmt::Print { format, args, span } => {
                let (f, a, s) = (format.lift(k), args.lift(k), span.lift(k));
                quote!(#k::ast::FnStmt::Print { format: #f, args: #a, span: #s })
            }
        }
    }
}

impl Lift for Expr {
    fn lift(&self, k: &TokenStream) -> TokenStream {
        let (e, s) = (self.kind.lift(k), self.span.lift(k));
        quote!(#k::ast::Expr { kind: #e, span: #s })
    }
}

impl Lift for ExprKind {
    fn lift(&self, k: &TokenStream) -> TokenStream {
        let p = quote!(#k::ast::ExprKind);
        match self {
            ExprKind::Int(i) => quote!(#p::Int(#i)),
            ExprKind::Bool(b) => quote!(#p::Bool(#b)),
            ExprKind::Str(s) => {
                let s = s.lift(k);
                quote!(#p::Str(#s))
            }
            ExprKind::Var(v) => {
                let v = v.lift(k);
                quote!(#p::Var(#v))
            }
            ExprKind::Machine(m) => {
                let m = m.lift(k);
                quote!(#p::Machine(#m))
            }
            ExprKind::Tuple(v) => {
                let v = v.lift(k);
                quote!(#p::Tuple(#v))
            }
            ExprKind::Splat(x) => {
                let x = x.lift(k);
                quote!(#p::Splat(#x))
            }
            ExprKind::Wildcard => quote!(#p::Wildcard),
            ExprKind::Unary(op, x) => {
                let (op, x) = (op.lift(k), x.lift(k));
                quote!(#p::Unary(#op, #x))
            }
            ExprKind::Binary(op, a, b) => {
                let (op, a, b) = (op.lift(k), a.lift(k), b.lift(k));
                quote!(#p::Binary(#op, #a, #b))
            }
            ExprKind::Ternary(c, a, b) => {
                let (c, a, b) = (c.lift(k), a.lift(k), b.lift(k));
                quote!(#p::Ternary(#c, #a, #b))
            }
            ExprKind::Index(x, i) => {
                let (x, i) = (x.lift(k), i.lift(k));
                quote!(#p::Index(#x, #i))
            }
            ExprKind::Slice(x, lo, hi) => {
                let (x, lo, hi) = (x.lift(k), lo.lift(k), hi.lift(k));
                quote!(#p::Slice(#x, #lo, #hi))
            }
            ExprKind::Field(x, f) => {
                let (x, f) = (x.lift(k), f.lift(k));
                quote!(#p::Field(#x, #f))
            }
            ExprKind::Method(x, m, a) => {
                let (x, m, a) = (x.lift(k), m.lift(k), a.lift(k));
                quote!(#p::Method(#x, #m, #a))
            }
            ExprKind::Call(f, a) => {
                let (f, a) = (f.lift(k), a.lift(k));
                quote!(#p::Call(#f, #a))
            }
            ExprKind::TupleComp { body, var, iter } => {
                let (b, v, i) = (body.lift(k), var.lift(k), iter.lift(k));
                quote!(#p::TupleComp { body: #b, var: #v, iter: #i })
            }
        }
    }
}

impl Lift for Program {
    fn lift(&self, k: &TokenStream) -> TokenStream {
        let s = self.stmts.lift(k);
        quote!(#k::ast::Program { stmts: #s })
    }
}

impl Lift for Type {
    fn lift(&self, k: &TokenStream) -> TokenStream {
        let p = quote!(#k::sema::checked::Type);
        match self {
            Type::Tuple(n) => {
                let n = n.lift(k);
                quote!(#p::Tuple(#n))
            }
            Type::Space(n) => {
                let n = n.lift(k);
                quote!(#p::Space(#n))
            }
            other => variant(k, &["sema", "checked", "Type"], other),
        }
    }
}

impl Lift for FuncSig {
    fn lift(&self, k: &TokenStream) -> TokenStream {
        let (n, p, r, s) = (
            self.name.lift(k),
            self.params.lift(k),
            self.ret.lift(k),
            self.span.lift(k),
        );
        quote!(#k::sema::checked::FuncSig { name: #n, params: #p, ret: #r, span: #s })
    }
}

impl Lift for GlobalSig {
    fn lift(&self, k: &TokenStream) -> TokenStream {
        let (n, t, c) = (self.name.lift(k), self.ty.lift(k), self.constant.lift(k));
        quote!(#k::sema::checked::GlobalSig { name: #n, ty: #t, constant: #c })
    }
}

impl Lift for Diagnostic {
    fn lift(&self, k: &TokenStream) -> TokenStream {
        let (sev, m, s, h) = (
            self.severity.lift(k),
            self.message.lift(k),
            self.span.lift(k),
            self.help.lift(k),
        );
        quote!(#k::Diagnostic { severity: #sev, message: #m, span: #s, help: #h })
    }
}

impl Lift for Checked {
    fn lift(&self, k: &TokenStream) -> TokenStream {
        let (p, f, g, w) = (
            self.program.lift(k),
            self.funcs.lift(k),
            self.globals.lift(k),
            self.warnings.lift(k),
        );
        quote!(#k::sema::checked::Checked { program: #p, funcs: #f, globals: #g, warnings: #w })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every corpus mapper lifts to code that mentions each of its functions, and every AST
    /// type round-trips through the generated constructor expression's shape (checked end to
    /// end, by building the lifted code, in the workspace's differential test).
    #[test]
    fn lifted_program_names_its_parts() {
        let src = "mgpu = Machine(GPU);\ndef f(Task task) { return mgpu[0, task.ipoint[0] % 4]; }\nIndexTaskMap * f;\nLayout * * GPU SOA Align!=16 Align<=256;\n";
        let out = crate::parse::parse_text(src);
        let checked = crate::check::check_program(out.program, None).expect("checks");
        let code = checked.lift(&quote!(::mapper_core)).to_string();
        for part in [
            "Stmt :: Def",
            "ExprKind :: Binary",
            "BinOp :: Rem",
            "Constraint :: Align",
            "AlignOp :: Ne",
            "Type :: Proc",
            "line : 2u32",
        ] {
            assert!(code.contains(part), "{part} missing from {code}");
        }
    }
}
