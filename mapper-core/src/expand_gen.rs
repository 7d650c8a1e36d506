//! Rust code generation for `mapper!`: lowers a checked [`Program`] to a type implementing
//! [`crate::Mapper`] whose placement functions are native Rust.
//!
//! Binding goes through the same [`crate::interp::Prepared`] as the interpreter (statement
//! tables, globals, placement-function checks), from a text of the body that keeps every token
//! at its line and column, so bind-time diagnostics and evaluation-error positions are the
//! interpreter's. Placement then runs generated functions instead of the evaluator.
//!
//! Lowering: a static type inference (a fixpoint over function return types and global types)
//! gives every expression one of [`T`]; integers become `i64` with checked [`crate::ops`]
//! arithmetic, tuples of statically known length `[i64; N]` (tuple comprehensions over such
//! tuples are unrolled), other tuples [`crate::eval::Tup`], machine spaces `Arc<Space>` (borrowed
//! where possible), processors [`crate::Placement`]. Transforms go through a per-call-site,
//! per-thread cache of the last result. Where a type is not known statically the code falls back
//! to [`crate::eval::Value`] and the very functions the interpreter calls, so every decision and
//! every error (message, function, position) is the interpreter's. Evaluation order is the
//! interpreter's, including the order in which operands are checked.

use crate::ast::{BinOp, Expr, ExprKind, FnStmt, FuncDef, ParamType, Program, Stmt, UnOp};
use crate::kinds::ProcKind;
use crate::ops::{Field, Method};
use crate::space::MAX_DIMS;
use crate::span::Pos;
use proc_macro2::{Ident, Literal, TokenStream};
use quote::{format_ident, quote};
use std::collections::HashMap;

/// Static type of an expression in generated code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum T {
    /// No value yet (inference only): the expression never completes normally.
    Bot,
    /// `i64`
    Int,
    /// `bool`
    Bool,
    /// `[i64; N]`
    TupN(usize),
    /// `Tup` (length not known statically)
    Tup,
    /// `&[i64]` borrowed from the task point (`task.ipoint`, `task.ispace`)
    Slice,
    /// `Arc<Space>`
    Space,
    /// `Placement`
    Proc,
    /// `TaskRef`
    Task,
    /// `Value` (anything)
    Val,
}

/// The least type covering `a` and `b`.
pub fn join(a: T, b: T) -> T {
    match (a, b) {
        (T::Bot, x) | (x, T::Bot) => x,
        (x, y) if x == y => x,
        (T::TupN(_) | T::Tup | T::Slice, T::TupN(_) | T::Tup | T::Slice) => T::Tup,
        _ => T::Val,
    }
}

fn is_copy(t: T) -> bool {
    matches!(
        t,
        T::Int | T::Bool | T::TupN(_) | T::Slice | T::Proc | T::Task
    )
}

fn is_tuple(t: T) -> bool {
    matches!(t, T::TupN(_) | T::Tup | T::Slice)
}

/// The type a function returns or a global holds: borrowed slices become owned tuples.
fn stored(t: T) -> T {
    if t == T::Slice {
        T::Tup
    } else {
        t
    }
}

/// A generated expression: its code, its type, and whether the code is a place (a variable or
/// a global field) that can be borrowed without a temporary.
struct Ex {
    code: TokenStream,
    ty: T,
    place: bool,
}

impl Ex {
    fn new(code: TokenStream, ty: T) -> Ex {
        Ex {
            code,
            ty,
            place: false,
        }
    }
}

/// The type a parameter of declared type `p` has inside the function.
fn param_t(p: ParamType) -> T {
    match p {
        ParamType::Task => T::Task,
        ParamType::Int => T::Int,
        ParamType::Bool => T::Bool,
        ParamType::IPoint | ParamType::ISpace | ParamType::Tuple => T::Tup,
        ParamType::MSpace => T::Space,
    }
}

struct Gen<'p> {
    k: TokenStream,
    funcs: Vec<&'p FuncDef>,
    func_ids: HashMap<String, usize>,
    rets: Vec<T>,
    /// Globals visible here: name -> (field, type).
    globals: HashMap<String, (Ident, T)>,
    scope: Vec<(String, Ident, T)>,
    counter: usize,
    sites: TokenStream,
    infer: bool,
}

impl Gen<'_> {
    fn fresh(&mut self, base: &str) -> Ident {
        self.counter += 1;
        format_ident!("__{}{}", base, self.counter)
    }

    fn pos(&self, p: Pos) -> TokenStream {
        let k = &self.k;
        let (l, c) = (p.line, p.col);
        quote!(#k::span::Pos { line: #l, col: #c })
    }

    fn rust_ty(&self, t: T) -> TokenStream {
        let k = &self.k;
        match t {
            T::Int => quote!(i64),
            T::Bool => quote!(bool),
            T::TupN(n) => quote!([i64; #n]),
            T::Tup => quote!(#k::eval::Tup),
            T::Slice => quote!(&[i64]),
            T::Space => quote!(::std::sync::Arc<#k::space::Space>),
            T::Proc => quote!(#k::Placement),
            T::Task => quote!(#k::eval::TaskRef),
            T::Bot | T::Val => quote!(#k::eval::Value),
        }
    }

    fn bot(&self) -> Ex {
        Ex::new(quote!(()), T::Bot)
    }

    /// A placeholder for constructs the interpreter rejects when binding (so this code never
    /// runs: binding fails with the interpreter's diagnostic first).
    fn rejected(&self) -> Ex {
        Ex::new(quote!(0i64), T::Int)
    }

    /// Owned value.
    fn own(&self, e: &Ex) -> TokenStream {
        let c = &e.code;
        if e.place && !is_copy(e.ty) {
            quote!(::core::clone::Clone::clone(&#c))
        } else {
            c.clone()
        }
    }

    /// A reference to the value.
    fn borrow(&self, e: &Ex) -> TokenStream {
        let c = &e.code;
        if e.place {
            quote!(&#c)
        } else {
            quote!(&(#c))
        }
    }

    /// The owned value converted to type `to` (an upcast: same type, `[i64; N]` -> `Tup`, or
    /// anything -> `Value`).
    fn conv(&self, e: &Ex, to: T) -> TokenStream {
        let k = &self.k;
        let o = self.own(e);
        if e.ty == to {
            return o;
        }
        match (e.ty, to) {
            (T::TupN(_), T::Tup) => quote!(#k::eval::Tup::from_slice(&#o)),
            (T::Slice, T::Tup) => quote!(#k::eval::Tup::from_slice(#o)),
            (_, T::Val | T::Bot) => match e.ty {
                T::Int => quote!(#k::eval::Value::Int(#o)),
                T::Bool => quote!(#k::eval::Value::Bool(#o)),
                T::TupN(_) => quote!(#k::eval::Value::Tuple(#k::eval::Tup::from_slice(&#o))),
                T::Tup => quote!(#k::eval::Value::Tuple(#o)),
                T::Slice => quote!(#k::eval::Value::Tuple(#k::eval::Tup::from_slice(#o))),
                T::Space => quote!(#k::eval::Value::Space(#o)),
                T::Proc => quote!(#k::eval::Value::Proc(#o)),
                T::Task => quote!(#k::eval::Value::Task(#o)),
                T::Bot | T::Val => o,
            },
            // Not an upcast: never requested by the generator.
            _ => o,
        }
    }

    fn val(&self, e: &Ex) -> TokenStream {
        self.conv(e, T::Val)
    }

    /// `let id = <value or reference>;` for use as a temporary: copies of small values,
    /// references to the others.
    fn bind_tmp(&mut self, e: &Ex) -> (Ident, TokenStream) {
        let id = self.fresh("t");
        let code = if is_copy(e.ty) {
            self.own(e)
        } else {
            self.borrow(e)
        };
        (id.clone(), quote!(let #id = #code;))
    }

    /// The elements of a tuple temporary bound by [`Gen::bind_tmp`].
    fn slice(&self, id: &Ident, t: T) -> TokenStream {
        match t {
            T::TupN(_) => quote!(&#id[..]),
            T::Slice => quote!(#id),
            _ => quote!(#id.as_slice()),
        }
    }

    /// `e` as an integer: the value, or the interpreter's `int_of` check with `what`.
    fn need_int(&self, e: &Ex, what: &str, pos: Pos) -> TokenStream {
        let k = &self.k;
        if e.ty == T::Int {
            return self.own(e);
        }
        let v = self.val(e);
        let p = self.pos(pos);
        quote!(#k::ops::int_of(&#v, #what, #p)?)
    }

    fn arith_fn(&self, op: BinOp) -> TokenStream {
        let k = &self.k;
        match op {
            BinOp::Add => quote!(#k::ops::add),
            BinOp::Sub => quote!(#k::ops::sub),
            BinOp::Mul => quote!(#k::ops::mul),
            BinOp::Div => quote!(#k::ops::div),
            _ => quote!(#k::ops::rem),
        }
    }

    /// The path `KRATE::module::Enum::Variant` of a fieldless enum value (its `Debug` name is
    /// the variant name), so generated code names the same value.
    fn variant(&self, module: &str, ty: &str, v: impl std::fmt::Debug) -> TokenStream {
        let k = &self.k;
        let (m, t, v) = (
            format_ident!("{module}"),
            format_ident!("{ty}"),
            format_ident!("{v:?}"),
        );
        quote!(#k::#m::#t::#v)
    }

    fn binop(&self, op: BinOp) -> TokenStream {
        self.variant("ast", "BinOp", op)
    }

    fn field_tok(&self, f: Field) -> TokenStream {
        self.variant("ops", "Field", f)
    }

    fn method_tok(&self, m: Method) -> TokenStream {
        self.variant("ops", "Method", m)
    }

    fn param_tok(&self, p: ParamType) -> TokenStream {
        self.variant("ast", "ParamType", p)
    }

    // -----------------------------------------------------------------------------------------
    // Expressions

    fn expr(&mut self, e: &Expr) -> Ex {
        let k = self.k.clone();
        let pos = self.pos(e.span.lo);
        match &e.kind {
            ExprKind::Int(i) => {
                let l = Literal::i64_suffixed(*i);
                Ex::new(quote!(#l), T::Int)
            }
            ExprKind::Bool(b) => Ex::new(quote!(#b), T::Bool),
            ExprKind::Str(s) => Ex::new(
                quote!(#k::eval::Value::Str(::std::sync::Arc::from(#s))),
                T::Val,
            ),
            ExprKind::Var(name) => {
                if let Some((_, id, t)) = self.scope.iter().rev().find(|(n, _, _)| n == name) {
                    return Ex {
                        code: quote!(#id),
                        ty: *t,
                        place: true,
                    };
                }
                if let Some((f, t)) = self.globals.get(name) {
                    return Ex {
                        code: quote!(g.#f),
                        ty: *t,
                        place: true,
                    };
                }
                self.rejected()
            }
            ExprKind::Machine(kind) => {
                let i = ProcKind::ALL
                    .iter()
                    .position(|x| *x == kind.node)
                    .unwrap_or(0);
                Ex {
                    code: quote!(g.__spaces[#i]),
                    ty: T::Space,
                    place: true,
                }
            }
            ExprKind::Tuple(items) => self.tuple(items),
            ExprKind::Splat(_) | ExprKind::Wildcard => self.rejected(),
            ExprKind::Unary(UnOp::Neg, x) => {
                let x = self.expr(x);
                match x.ty {
                    T::Bot => self.bot(),
                    T::Int => {
                        let o = self.own(&x);
                        Ex::new(quote!(#k::ops::neg_int(#o, #pos)?), T::Int)
                    }
                    T::TupN(n) => {
                        let o = self.own(&x);
                        let t = self.fresh("t");
                        let el = (0..n).map(|i| quote!(#k::ops::neg_int(#t[#i], #pos)?));
                        Ex::new(quote!({ let #t = #o; [#(#el),*] }), T::TupN(n))
                    }
                    T::Tup => {
                        let b = self.borrow(&x);
                        Ex::new(quote!(#k::ops::neg_tup((#b).as_slice(), #pos)?), T::Tup)
                    }
                    T::Slice => {
                        let o = self.own(&x);
                        Ex::new(quote!(#k::ops::neg_tup(#o, #pos)?), T::Tup)
                    }
                    _ => {
                        let v = self.val(&x);
                        Ex::new(quote!(#k::ops::neg(&#v, #pos)?), T::Val)
                    }
                }
            }
            ExprKind::Unary(UnOp::Not, x) => {
                let xpos = self.pos(x.span.lo);
                let x = self.expr(x);
                match x.ty {
                    T::Bot => self.bot(),
                    T::Bool => {
                        let o = self.own(&x);
                        Ex::new(quote!((!#o)), T::Bool)
                    }
                    _ => {
                        let v = self.val(&x);
                        Ex::new(quote!((!#k::ops::not_operand(&#v, #xpos)?)), T::Bool)
                    }
                }
            }
            ExprKind::Binary(op, a, b) => self.binary(*op, a, b, e.span.lo),
            ExprKind::Ternary(c, a, b) => {
                let cpos = self.pos(c.span.lo);
                let c = self.expr(c);
                if c.ty == T::Bot {
                    return self.bot();
                }
                let cc = if c.ty == T::Bool {
                    self.own(&c)
                } else {
                    let v = self.val(&c);
                    quote!(#k::ops::cond_of(&#v, #cpos)?)
                };
                let a = self.expr(a);
                let b = self.expr(b);
                let j = join(a.ty, b.ty);
                if j == T::Bot {
                    return self.bot();
                }
                let (ac, bc) = (self.conv(&a, j), self.conv(&b, j));
                Ex::new(quote!(if #cc { #ac } else { #bc }), j)
            }
            ExprKind::Index(x, items) => self.index(x, items, e.span.lo),
            ExprKind::Slice(x, lo, hi) => {
                let x = self.expr(x);
                let mut bounds = Vec::new();
                for b in [lo, hi] {
                    match b {
                        Some(b) => {
                            let bpos = b.span.lo;
                            let be = self.expr(b);
                            if be.ty == T::Bot {
                                return self.bot();
                            }
                            let c = self.need_int(&be, "a slice bound", bpos);
                            bounds.push(quote!(::core::option::Option::Some(#c)));
                        }
                        None => bounds.push(quote!(::core::option::Option::None)),
                    }
                }
                if x.ty == T::Bot {
                    return self.bot();
                }
                let (lo_c, hi_c) = (&bounds[0], &bounds[1]);
                let (lo_i, hi_i) = (self.fresh("lo"), self.fresh("hi"));
                let code = match x.ty {
                    T::TupN(_) | T::Tup | T::Slice | T::Space => {
                        let (t, bind) = self.bind_tmp(&x);
                        let s = if x.ty == T::Space {
                            quote!(#t.size())
                        } else {
                            self.slice(&t, x.ty)
                        };
                        quote!({ #bind let #lo_i = #lo_c; let #hi_i = #hi_c; #k::ops::slice_of(#s, #lo_i, #hi_i) })
                    }
                    _ => {
                        let v = self.val(&x);
                        let t = self.fresh("t");
                        quote!({ let #t = #v; let #lo_i = #lo_c; let #hi_i = #hi_c; #k::ops::slice(&#t, #lo_i, #hi_i, #pos)? })
                    }
                };
                Ex::new(code, T::Tup)
            }
            ExprKind::Field(x, f) => {
                let Some(field) = Field::parse(&f.node) else {
                    return self.rejected();
                };
                let x = self.expr(x);
                self.field(x, field, e.span.lo)
            }
            ExprKind::Method(x, m, args) => {
                let Some(method) = Method::parse(&m.node) else {
                    return self.rejected();
                };
                self.method(x, method, args, e.span.lo)
            }
            ExprKind::Call(f, args) => self.call(&f.node, args, e.span.lo),
            ExprKind::TupleComp { body, var, iter } => {
                let ipos = self.pos(iter.span.lo);
                let bpos = body.span.lo;
                let it = self.expr(iter);
                if it.ty == T::Bot {
                    return self.bot();
                }
                let v = self.fresh("v");
                self.scope.push((var.node.clone(), v.clone(), T::Int));
                let b = self.expr(body);
                self.scope.pop();
                let elem = if b.ty == T::Int || b.ty == T::Bot {
                    self.own(&b)
                } else {
                    self.need_int(&b, "a tuple comprehension element", bpos)
                };
                let t = self.fresh("t");
                match it.ty {
                    T::TupN(n) if n <= MAX_DIMS => {
                        let o = self.own(&it);
                        let f = self.fresh("f");
                        let calls = (0..n).map(|i| quote!(#f(#t[#i])?));
                        Ex::new(
                            quote!({
                                let #t = #o;
                                let #f = |#v: i64| -> #k::ops::R<i64> { ::core::result::Result::Ok(#elem) };
                                [#(#calls),*]
                            }),
                            T::TupN(n),
                        )
                    }
                    _ => {
                        let (src, s) = if is_tuple(it.ty) {
                            let (tt, bind) = self.bind_tmp(&it);
                            let s = self.slice(&tt, it.ty);
                            (bind, s)
                        } else {
                            let vv = self.val(&it);
                            (
                                quote!(let #t = #k::ops::comp_iter(#vv, #ipos)?;),
                                quote!(#t.as_slice()),
                            )
                        };
                        let b = self.fresh("b");
                        Ex::new(
                            quote!({
                                #src
                                let mut #b = #k::ops::TupBuilder::new();
                                for &#v in #s { #b.push(#elem); }
                                #b.finish()
                            }),
                            T::Tup,
                        )
                    }
                }
            }
        }
    }

    fn tuple(&mut self, items: &[Expr]) -> Ex {
        let k = self.k.clone();
        let Some(parts) = self.arg_items(items) else {
            return self.rejected();
        };
        if parts.iter().any(|(_, x, _)| x.ty == T::Bot) {
            return self.bot();
        }
        let static_len: Option<usize> =
            parts
                .iter()
                .try_fold(0usize, |acc, (splat, x, _)| match (splat, x.ty) {
                    (false, T::Int) => Some(acc + 1),
                    (true, T::TupN(n)) => Some(acc + n),
                    _ => None,
                });
        if let Some(n) = static_len {
            let mut lets = TokenStream::new();
            let mut elems = Vec::new();
            for (splat, x, _) in &parts {
                let o = self.own(x);
                let t = self.fresh("t");
                lets.extend(quote!(let #t = #o;));
                if *splat {
                    if let T::TupN(m) = x.ty {
                        elems.extend((0..m).map(|i| quote!(#t[#i])));
                    }
                } else {
                    elems.push(quote!(#t));
                }
            }
            return Ex::new(quote!({ #lets [#(#elems),*] }), T::TupN(n));
        }
        let b = self.fresh("b");
        let mut pushes = TokenStream::new();
        for (splat, x, p) in &parts {
            let p = self.pos(*p);
            let code = match (splat, x.ty) {
                (false, T::Int) => {
                    let o = self.own(x);
                    quote!(#b.push(#o);)
                }
                (false, _) => {
                    let v = self.val(x);
                    quote!(#b.push_value(&#v, #p)?;)
                }
                (true, T::TupN(_) | T::Tup | T::Slice) => {
                    let (t, bind) = self.bind_tmp(x);
                    let s = self.slice(&t, x.ty);
                    quote!({ #bind #b.extend(#s); })
                }
                (true, _) => {
                    let v = self.val(x);
                    quote!(#b.splat_value(&#v, #p)?;)
                }
            };
            pushes.extend(code);
        }
        Ex::new(
            quote!({ let mut #b = #k::ops::TupBuilder::new(); #pushes #b.finish() }),
            T::Tup,
        )
    }

    fn binary(&mut self, op: BinOp, a: &Expr, b: &Expr, at: Pos) -> Ex {
        let k = self.k.clone();
        let pos = self.pos(at);
        if let BinOp::And | BinOp::Or = op {
            let (apos, bpos) = (self.pos(a.span.lo), self.pos(b.span.lo));
            let a = self.expr(a);
            if a.ty == T::Bot {
                return self.bot();
            }
            let b = self.expr(b);
            let opt = self.binop(op);
            let la = if a.ty == T::Bool {
                self.own(&a)
            } else {
                let v = self.val(&a);
                quote!(#k::ops::logic_operand(&#v, #opt, true, #apos)?)
            };
            let lb = if b.ty == T::Bool || b.ty == T::Bot {
                self.own(&b)
            } else {
                let v = self.val(&b);
                quote!(#k::ops::logic_operand(&#v, #opt, false, #bpos)?)
            };
            let l = self.fresh("l");
            let code = if op == BinOp::And {
                quote!({ let #l: bool = #la; if !#l { false } else { #lb } })
            } else {
                quote!({ let #l: bool = #la; if #l { true } else { #lb } })
            };
            return Ex::new(code, T::Bool);
        }
        let a = self.expr(a);
        let b = self.expr(b);
        if a.ty == T::Bot || b.ty == T::Bot {
            return self.bot();
        }
        let generic = |g: &mut Self, a: &Ex, b: &Ex| {
            let (va, vb) = (g.val(a), g.val(b));
            let (x, y) = (g.fresh("x"), g.fresh("y"));
            let opt = g.binop(op);
            Ex::new(
                quote!({ let #x = #va; let #y = #vb; #k::ops::binary(#opt, &#x, &#y, #pos)? }),
                T::Val,
            )
        };
        match op {
            BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Rem => {
                let f = self.arith_fn(op);
                let opt = self.binop(op);
                match (a.ty, b.ty) {
                    (T::Int, T::Int) => {
                        let (oa, ob) = (self.own(&a), self.own(&b));
                        Ex::new(quote!(#f(#oa, #ob, #pos)?), T::Int)
                    }
                    (T::TupN(n), T::TupN(m)) if n == m => {
                        let (oa, ob) = (self.own(&a), self.own(&b));
                        let (x, y) = (self.fresh("x"), self.fresh("y"));
                        let el = (0..n).map(|i| quote!(#f(#x[#i], #y[#i], #pos)?));
                        Ex::new(
                            quote!({ let #x = #oa; let #y = #ob; [#(#el),*] }),
                            T::TupN(n),
                        )
                    }
                    (T::TupN(n), T::Int) => {
                        let (oa, ob) = (self.own(&a), self.own(&b));
                        let (x, y) = (self.fresh("x"), self.fresh("y"));
                        let el = (0..n).map(|i| quote!(#f(#x[#i], #y, #pos)?));
                        Ex::new(
                            quote!({ let #x = #oa; let #y = #ob; [#(#el),*] }),
                            T::TupN(n),
                        )
                    }
                    (T::Int, T::TupN(n)) => {
                        let (oa, ob) = (self.own(&a), self.own(&b));
                        let (x, y) = (self.fresh("x"), self.fresh("y"));
                        let el = (0..n).map(|i| quote!(#f(#x, #y[#i], #pos)?));
                        Ex::new(
                            quote!({ let #x = #oa; let #y = #ob; [#(#el),*] }),
                            T::TupN(n),
                        )
                    }
                    (ta, tb) if is_tuple(ta) && is_tuple(tb) => {
                        let (x, bx) = self.bind_tmp(&a);
                        let (y, by) = self.bind_tmp(&b);
                        let (sx, sy) = (self.slice(&x, ta), self.slice(&y, tb));
                        Ex::new(
                            quote!({ #bx #by #k::ops::tup_tup(#opt, #sx, #sy, #pos)? }),
                            T::Tup,
                        )
                    }
                    (ta, T::Int) if is_tuple(ta) => {
                        let (x, bx) = self.bind_tmp(&a);
                        let ob = self.own(&b);
                        let y = self.fresh("y");
                        let sx = self.slice(&x, ta);
                        Ex::new(
                            quote!({ #bx let #y = #ob; #k::ops::tup_int(#opt, #sx, #y, #pos)? }),
                            T::Tup,
                        )
                    }
                    (T::Int, tb) if is_tuple(tb) => {
                        let oa = self.own(&a);
                        let x = self.fresh("x");
                        let (y, by) = self.bind_tmp(&b);
                        let sy = self.slice(&y, tb);
                        Ex::new(
                            quote!({ let #x = #oa; #by #k::ops::int_tup(#opt, #x, #sy, #pos)? }),
                            T::Tup,
                        )
                    }
                    _ => generic(self, &a, &b),
                }
            }
            BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => match (a.ty, b.ty) {
                (T::Int, T::Int) => {
                    let (oa, ob) = (self.own(&a), self.own(&b));
                    let cmp = match op {
                        BinOp::Lt => quote!(<),
                        BinOp::Le => quote!(<=),
                        BinOp::Gt => quote!(>),
                        _ => quote!(>=),
                    };
                    Ex::new(quote!(((#oa) #cmp (#ob))), T::Bool)
                }
                _ => generic(self, &a, &b),
            },
            BinOp::Eq | BinOp::Ne => {
                let neg = op == BinOp::Ne;
                let code = match (a.ty, b.ty) {
                    (T::Int, T::Int) | (T::Bool, T::Bool) | (T::Proc, T::Proc) => {
                        let (oa, ob) = (self.own(&a), self.own(&b));
                        quote!(((#oa) == (#ob)))
                    }
                    (ta, tb) if is_tuple(ta) && is_tuple(tb) => {
                        let (x, bx) = self.bind_tmp(&a);
                        let (y, by) = self.bind_tmp(&b);
                        let (sx, sy) = (self.slice(&x, ta), self.slice(&y, tb));
                        quote!({ #bx #by (#sx == #sy) })
                    }
                    (T::Space, T::Space) => {
                        let (x, bx) = self.bind_tmp(&a);
                        let (y, by) = self.bind_tmp(&b);
                        quote!({ #bx #by #k::ops::space_eq(#x, #y) })
                    }
                    _ => return generic(self, &a, &b),
                };
                if neg {
                    Ex::new(quote!((!#code)), T::Bool)
                } else {
                    Ex::new(code, T::Bool)
                }
            }
            BinOp::And | BinOp::Or => self.rejected(),
        }
    }

    /// Pushes of a machine-space index list onto `IdxBuf` `ib`.
    fn idx_pushes(&mut self, ib: &Ident, items: &[(u8, Ex, Pos)]) -> TokenStream {
        let mut out = TokenStream::new();
        for (kind, x, p) in items {
            let pc = self.pos(*p);
            out.extend(match (kind, x.ty) {
                (0, T::Int) => {
                    let o = self.own(x);
                    quote!(#ib.push_int(#o, #pc)?;)
                }
                (0, _) => {
                    let v = self.val(x);
                    quote!(#ib.push_value(&#v, #pc)?;)
                }
                (1, T::TupN(_) | T::Tup | T::Slice) => {
                    let (t, bind) = self.bind_tmp(x);
                    let s = self.slice(&t, x.ty);
                    quote!({ #bind #ib.push_slice(#s, #pc)?; })
                }
                (1, _) => {
                    let v = self.val(x);
                    quote!(#ib.push_splat(&#v, #pc)?;)
                }
                _ => quote!(#ib.push_wild(#pc)?;),
            });
        }
        out
    }

    /// Generates tuple items or call arguments: (splatted, code, pos); `None` if one is a
    /// wildcard (which only index lists accept).
    fn arg_items(&mut self, items: &[Expr]) -> Option<Vec<(bool, Ex, Pos)>> {
        let mut out = Vec::new();
        for it in items {
            match &it.kind {
                ExprKind::Splat(inner) => {
                    let x = self.expr(inner);
                    out.push((true, x, inner.span.lo));
                }
                ExprKind::Wildcard => return None,
                _ => {
                    let x = self.expr(it);
                    out.push((false, x, it.span.lo));
                }
            }
        }
        Some(out)
    }

    /// Generates the items of an index list: (0 = one, 1 = splat, 2 = wildcard, code, pos).
    fn index_items(&mut self, items: &[Expr]) -> Option<Vec<(u8, Ex, Pos)>> {
        let mut out = Vec::new();
        for it in items {
            match &it.kind {
                ExprKind::Splat(inner) => {
                    let x = self.expr(inner);
                    out.push((1, x, inner.span.lo));
                }
                ExprKind::Wildcard => out.push((2, Ex::new(quote!(()), T::Int), it.span.lo)),
                _ => {
                    let x = self.expr(it);
                    out.push((0, x, it.span.lo));
                }
            }
        }
        if out.iter().any(|(_, x, _)| x.ty == T::Bot) {
            return None;
        }
        Some(out)
    }

    fn single_index(items: &[Expr]) -> Option<&Expr> {
        match items {
            [ie] if !matches!(ie.kind, ExprKind::Splat(_) | ExprKind::Wildcard) => Some(ie),
            _ => None,
        }
    }

    fn index(&mut self, x: &Expr, items: &[Expr], at: Pos) -> Ex {
        let k = self.k.clone();
        let pos = self.pos(at);
        // `m.size[i]` and `task.ipoint[i]` read in place.
        if let (ExprKind::Field(y, f), Some(ie)) = (&x.kind, Self::single_index(items)) {
            let fpos = x.span.lo;
            match Field::parse(&f.node) {
                Some(Field::Size) => {
                    let yg = self.expr(y);
                    if yg.ty == T::Space {
                        let ipos = ie.span.lo;
                        let ig = self.expr(ie);
                        if ig.ty == T::Bot {
                            return self.bot();
                        }
                        let (s, bind) = self.bind_tmp(&yg);
                        let i = self.need_int(&ig, "a tuple index", ipos);
                        return Ex::new(
                            quote!({ #bind #k::ops::tuple_index(#s.size(), #i, #pos)? }),
                            T::Int,
                        );
                    }
                }
                Some(fl @ (Field::Ipoint | Field::Ispace)) => {
                    let yg = self.expr(y);
                    if yg.ty == T::Task {
                        let ipos = ie.span.lo;
                        let ig = self.expr(ie);
                        if ig.ty == T::Bot {
                            return self.bot();
                        }
                        let o = self.own(&yg);
                        let ft = self.field_tok(fl);
                        let fp = self.pos(fpos);
                        let i = self.need_int(&ig, "a tuple index", ipos);
                        return Ex::new(
                            quote!(#k::ops::tuple_index(#k::ops::task_tuple(#o, ctx, #ft, #fp)?, #i, #pos)?),
                            T::Int,
                        );
                    }
                }
                _ => {}
            }
        }
        let xg = self.expr(x);
        match xg.ty {
            T::Bot => self.bot(),
            T::TupN(_) | T::Tup | T::Slice => {
                let Some(ie) = Self::single_index(items) else {
                    let o = self.own(&xg);
                    let t = self.fresh("t");
                    return Ex::new(
                        quote!({ let #t = #o; ::core::result::Result::Err::<i64, _>(#k::ops::tuple_one_index(#pos))? }),
                        T::Int,
                    );
                };
                let ipos = ie.span.lo;
                let (t, bind) = self.bind_tmp(&xg);
                let ig = self.expr(ie);
                if ig.ty == T::Bot {
                    return self.bot();
                }
                let i = self.need_int(&ig, "a tuple index", ipos);
                let s = self.slice(&t, xg.ty);
                Ex::new(
                    quote!({ #bind #k::ops::tuple_index(#s, #i, #pos)? }),
                    T::Int,
                )
            }
            T::Space => {
                let (s, bind) = self.bind_tmp(&xg);
                let Some(its) = self.index_items(items) else {
                    return self.bot();
                };
                let static_len: Option<usize> =
                    its.iter()
                        .try_fold(0usize, |acc, (kd, x, _)| match (kd, x.ty) {
                            (0, T::Int) => Some(acc + 1),
                            (1, T::TupN(n)) => Some(acc + n),
                            _ => None,
                        });
                match static_len {
                    Some(n) if n <= MAX_DIMS => {
                        let mut lets = TokenStream::new();
                        let mut elems = Vec::new();
                        for (kd, x, _) in &its {
                            let o = self.own(x);
                            let t = self.fresh("t");
                            lets.extend(quote!(let #t = #o;));
                            if *kd == 1 {
                                if let T::TupN(m) = x.ty {
                                    elems.extend((0..m).map(|i| quote!(#t[#i])));
                                }
                            } else {
                                elems.push(quote!(#t));
                            }
                        }
                        Ex::new(
                            quote!({ #bind #lets #k::ops::space_get(#s, &[#(#elems),*], #pos)? }),
                            T::Proc,
                        )
                    }
                    _ => {
                        let ib = self.fresh("ib");
                        let pushes = self.idx_pushes(&ib, &its);
                        Ex::new(
                            quote!({ #bind let mut #ib = #k::ops::IdxBuf::new(#s); #pushes #ib.get(#s, #pos)? }),
                            T::Proc,
                        )
                    }
                }
            }
            T::Val => {
                let v = self.val(&xg);
                let t = self.fresh("t");
                let Some(its) = self.index_items(items) else {
                    return self.bot();
                };
                let ib = self.fresh("ib");
                let (sid, tid) = (self.fresh("s"), self.fresh("tt"));
                let pushes = self.idx_pushes(&ib, &its);
                let tuple_arm = match Self::single_index(items) {
                    Some(ie) => {
                        let ipos = self.pos(ie.span.lo);
                        let ig = self.expr(ie);
                        let iv = self.val(&ig);
                        quote!(#k::eval::Value::Int(#k::ops::tuple_index_value(#tid.as_slice(), &#iv, #ipos, #pos)?))
                    }
                    None => {
                        quote!({ let _ = #tid; ::core::result::Result::Err::<#k::eval::Value, _>(#k::ops::tuple_one_index(#pos))? })
                    }
                };
                Ex::new(
                    quote!({
                        let #t = #v;
                        match &#t {
                            #k::eval::Value::Space(#sid) => {
                                let mut #ib = #k::ops::IdxBuf::new(#sid);
                                #pushes
                                #k::eval::Value::Proc(#ib.get(#sid, #pos)?)
                            }
                            #k::eval::Value::Tuple(#tid) => #tuple_arm,
                            other => ::core::result::Result::Err::<#k::eval::Value, _>(#k::ops::cannot_index(other, #pos))?,
                        }
                    }),
                    T::Val,
                )
            }
            _ => {
                let v = self.val(&xg);
                let t = self.fresh("t");
                Ex::new(
                    quote!({ let #t = #v; ::core::result::Result::Err::<#k::eval::Value, _>(#k::ops::cannot_index(&#t, #pos))? }),
                    T::Val,
                )
            }
        }
    }

    fn field(&mut self, x: Ex, f: Field, at: Pos) -> Ex {
        let k = self.k.clone();
        let pos = self.pos(at);
        let ft = self.field_tok(f);
        match (x.ty, f) {
            (T::Bot, _) => self.bot(),
            (T::Space, Field::Size) => {
                let b = self.borrow(&x);
                Ex::new(quote!(#k::eval::Tup::from_slice((#b).size())), T::Tup)
            }
            (T::Space, Field::Len) => {
                let b = self.borrow(&x);
                Ex::new(quote!(((#b).len() as i64)), T::Int)
            }
            (T::Space, Field::Volume) => {
                let b = self.borrow(&x);
                Ex::new(quote!((#b).volume()), T::Int)
            }
            (T::TupN(_) | T::Tup | T::Slice, Field::Size) => x,
            (T::TupN(_) | T::Tup | T::Slice, Field::Volume) => {
                let (t, bind) = self.bind_tmp(&x);
                let s = self.slice(&t, x.ty);
                Ex::new(quote!({ #bind #k::ops::tuple_volume(#s, #pos)? }), T::Int)
            }
            (T::TupN(n), Field::Len) => {
                let n = n as i64;
                if x.place {
                    Ex::new(quote!(#n), T::Int)
                } else {
                    let o = self.own(&x);
                    Ex::new(quote!({ let _ = #o; #n }), T::Int)
                }
            }
            (T::Tup, Field::Len) => {
                let b = self.borrow(&x);
                Ex::new(quote!(((#b).as_slice().len() as i64)), T::Int)
            }
            (T::Slice, Field::Len) => {
                let o = self.own(&x);
                Ex::new(quote!((#o.len() as i64)), T::Int)
            }
            (T::Task, Field::Ipoint | Field::Ispace) => {
                let o = self.own(&x);
                Ex::new(quote!(#k::ops::task_tuple(#o, ctx, #ft, #pos)?), T::Slice)
            }
            (T::Task, Field::Parent) => {
                let o = self.own(&x);
                Ex::new(quote!(#k::ops::task_parent(#o, #pos)?), T::Task)
            }
            _ => {
                let v = self.val(&x);
                Ex::new(
                    quote!(#k::ops::field_of(&#v, ::core::option::Option::Some(ctx), #ft, #pos)?),
                    T::Val,
                )
            }
        }
    }

    fn method(&mut self, x: &Expr, m: Method, args: &[Expr], at: Pos) -> Ex {
        let k = self.k.clone();
        let pos = self.pos(at);
        let mt = self.method_tok(m);
        let xg = self.expr(x);
        let Some(ag) = self.arg_items(args) else {
            return self.rejected();
        };
        if xg.ty == T::Bot || ag.iter().any(|(_, e, _)| e.ty == T::Bot) {
            return self.bot();
        }
        let has_splat = ag.iter().any(|(s, _, _)| *s);
        if !has_splat && ag.len() != m.arity() {
            return self.rejected();
        }
        if !has_splat && m == Method::Processor && xg.ty == T::Task && ag[0].1.ty == T::Space {
            let o = self.own(&xg);
            let t = self.fresh("t");
            let (s, bind) = self.bind_tmp(&ag[0].1);
            return Ex::new(
                quote!({ let #t = #o; #bind #k::ops::processor(#t, #s, ::core::option::Option::Some(ctx), #pos)? }),
                T::Tup,
            );
        }
        let typed_ok = !has_splat
            && m != Method::Processor
            && xg.ty == T::Space
            && ag.iter().enumerate().all(|(i, (_, e, _))| {
                if i == 1 && m.takes_extents() {
                    is_tuple(e.ty)
                } else {
                    e.ty == T::Int
                }
            });
        if typed_ok {
            let (s, bind) = self.bind_tmp(&xg);
            let site = self.fresh("SITE");
            if !self.infer {
                self.sites.extend(quote! {
                    ::std::thread_local! {
                        static #site: #k::ops::SiteCache = const { ::core::cell::RefCell::new(::core::option::Option::None) };
                    }
                });
            }
            let mut lets = TokenStream::new();
            let mut a = Vec::new();
            for (_, e, _) in &ag {
                let (t, b) = self.bind_tmp(e);
                lets.extend(b);
                a.push((t, e.ty));
            }
            if m.takes_extents() {
                let (d, _) = &a[0];
                let (v, vt) = &a[1];
                let sl = self.slice(v, *vt);
                return Ex::new(
                    quote!({
                        #bind #lets
                        #k::ops::apply_site_split(&#site, #s, #mt, #d, #sl, #pos)?
                    }),
                    T::Space,
                );
            }
            let tr = match m {
                Method::Merge => quote!(Merge),
                Method::Split => quote!(Split),
                Method::Swap => quote!(Swap),
                Method::Slice => quote!(Slice),
                Method::Reverse => quote!(Reverse),
                _ => quote!(BalanceSplit),
            };
            let ids = a.iter().map(|(t, _)| t);
            let tt = self.fresh("tr");
            return Ex::new(
                quote!({
                    #bind #lets
                    let #tt = #k::space::Transform::#tr(#(#ids),*);
                    #k::ops::apply_site(&#site, #s, &#tt, #pos)?
                }),
                T::Space,
            );
        }
        let r = self.fresh("r");
        let argv = self.fresh("args");
        let rv = self.val(&xg);
        let code = if has_splat {
            let mut pushes = TokenStream::new();
            for (splat, e, p) in &ag {
                let v = self.val(e);
                let pc = self.pos(*p);
                pushes.extend(if *splat {
                    let t = self.fresh("t");
                    quote!({ let #t = #v; #argv.extend(#k::ops::splat_of(&#t, #pc)?.iter().map(|&i| #k::eval::Value::Int(i))); })
                } else {
                    quote!(#argv.push(#v);)
                });
            }
            quote!({
                let #r = #rv;
                let mut #argv: ::std::vec::Vec<#k::eval::Value> = ::std::vec::Vec::new();
                #pushes
                #k::ops::method(&#r, #mt, &#argv, ::core::option::Option::Some(ctx), #pos)?
            })
        } else {
            let vs: Vec<TokenStream> = ag.iter().map(|(_, e, _)| self.val(e)).collect();
            let nargs = vs.len();
            quote!({
                let #r = #rv;
                let #argv: [#k::eval::Value; #nargs] = [#(#vs),*];
                #k::ops::method(&#r, #mt, &#argv, ::core::option::Option::Some(ctx), #pos)?
            })
        };
        Ex::new(code, T::Val)
    }

    /// Converts argument value `a` (bound to `t`) for parameter `i` of declared type `p`.
    fn arg_for(
        &mut self,
        a: &Ex,
        t: &Ident,
        i: usize,
        p: ParamType,
        fname: &str,
        pos: &TokenStream,
    ) -> TokenStream {
        let k = self.k.clone();
        match (p, a.ty) {
            (ParamType::Int, T::Int)
            | (ParamType::Bool, T::Bool)
            | (ParamType::Task, T::Task)
            | (ParamType::MSpace, T::Space)
            | (ParamType::IPoint | ParamType::ISpace | ParamType::Tuple, T::Tup) => quote!(#t),
            (ParamType::IPoint | ParamType::ISpace | ParamType::Tuple, T::TupN(_)) => {
                quote!(#k::eval::Tup::from_slice(&#t))
            }
            (ParamType::IPoint | ParamType::ISpace | ParamType::Tuple, T::Slice) => {
                quote!(#k::eval::Tup::from_slice(#t))
            }
            _ => {
                let tv = Ex::new(quote!(#t), a.ty);
                let v = self.conv(&tv, T::Val);
                let pt = self.param_tok(p);
                let vv = self.fresh("v");
                let ex = self.extract(p, &vv);
                quote!({ let #vv = #v; #k::ops::check_arg(&#vv, #i, #fname, #pt, #pos)?; #ex })
            }
        }
    }

    fn extract(&self, p: ParamType, v: &Ident) -> TokenStream {
        let k = &self.k;
        match p {
            ParamType::Int => quote!(#k::ops::arg_int(&#v)),
            ParamType::Bool => quote!(#k::ops::arg_bool(&#v)),
            ParamType::Task => quote!(#k::ops::arg_task(&#v)),
            ParamType::MSpace => quote!(#k::ops::arg_space(#v, &g.__spaces[0])),
            _ => quote!(#k::ops::arg_tup(#v)),
        }
    }

    fn call(&mut self, fname: &str, args: &[Expr], at: Pos) -> Ex {
        let k = self.k.clone();
        let pos = self.pos(at);
        let Some(&id) = self.func_ids.get(fname) else {
            return self.rejected();
        };
        let params: Vec<ParamType> = self.funcs[id].params.iter().map(|p| p.ty.node).collect();
        let ret = self.rets[id];
        let Some(ag) = self.arg_items(args) else {
            return self.rejected();
        };
        if ret == T::Bot || ag.iter().any(|(_, e, _)| e.ty == T::Bot) {
            return self.bot();
        }
        let callee = format_ident!("__f{}", id);
        let has_splat = ag.iter().any(|(s, _, _)| *s);
        if !has_splat {
            if ag.len() != params.len() {
                return self.rejected();
            }
            let mut lets = TokenStream::new();
            let mut temps = Vec::new();
            for (_, e, _) in &ag {
                let t = self.fresh("a");
                let o = self.own(e);
                lets.extend(quote!(let #t = #o;));
                temps.push(t);
            }
            let mut conv = TokenStream::new();
            let mut pass = Vec::new();
            for (i, ((_, e, _), t)) in ag.iter().zip(&temps).enumerate() {
                let c = self.arg_for(e, t, i, params[i], fname, &pos);
                let ci = self.fresh("c");
                conv.extend(quote!(let #ci = #c;));
                pass.push(ci);
            }
            return Ex::new(
                quote!({
                    #lets
                    #k::ops::depth_check(depth, #fname, #pos)?;
                    #conv
                    #callee(g, ctx, depth + 1, #(#pass),*)?
                }),
                ret,
            );
        }
        let argv = self.fresh("args");
        let mut pushes = TokenStream::new();
        for (splat, e, p) in &ag {
            let v = self.val(e);
            let pc = self.pos(*p);
            pushes.extend(if *splat {
                let t = self.fresh("t");
                quote!({ let #t = #v; #argv.extend(#k::ops::splat_of(&#t, #pc)?.iter().map(|&i| #k::eval::Value::Int(i))); })
            } else {
                quote!(#argv.push(#v);)
            });
        }
        let n = params.len();
        let it = self.fresh("it");
        let mut conv = TokenStream::new();
        let mut pass = Vec::new();
        for (i, p) in params.iter().enumerate() {
            let v = self.fresh("v");
            let pt = self.param_tok(*p);
            let ex = self.extract(*p, &v);
            let ci = self.fresh("c");
            conv.extend(quote! {
                let #v = #it.next().unwrap_or(#k::eval::Value::Int(0));
                #k::ops::check_arg(&#v, #i, #fname, #pt, #pos)?;
                let #ci = #ex;
            });
            pass.push(ci);
        }
        Ex::new(
            quote!({
                let mut #argv: ::std::vec::Vec<#k::eval::Value> = ::std::vec::Vec::new();
                #pushes
                #k::ops::depth_check(depth, #fname, #pos)?;
                if #argv.len() != #n {
                    ::core::result::Result::Err::<(), _>(#k::ops::call_arity(#fname, #n, #argv.len(), #pos))?;
                }
                let mut #it = #argv.into_iter();
                #conv
                #callee(g, ctx, depth + 1, #(#pass),*)?
            }),
            ret,
        )
    }

    // -----------------------------------------------------------------------------------------
    // Functions

    /// The body of function `id` and the type of what it returns (`Bot` without `return`).
    fn body(&mut self, id: usize) -> (TokenStream, T, Vec<Ident>) {
        let k = self.k.clone();
        let f = self.funcs[id];
        self.scope.clear();
        let mut params = Vec::new();
        for (i, p) in f.params.iter().enumerate() {
            let id = format_ident!("__p{}", i);
            self.scope
                .push((p.name.node.clone(), id.clone(), param_t(p.ty.node)));
            params.push(id);
        }
        let mut out = TokenStream::new();
        for s in &f.body {
            match s {
                FnStmt::Assign { name, value, .. } => {
                    let e = self.expr(value);
                    if e.ty == T::Bot {
                        return (out, T::Bot, params);
                    }
                    let v = self.fresh("v");
                    let o = self.own(&e);
                    let ty = self.rust_ty(e.ty);
                    out.extend(quote!(let #v: #ty = #o;));
                    self.scope.push((name.node.clone(), v, e.ty));
                }
                FnStmt::Return { value, .. } => {
                    let e = self.expr(value);
                    if e.ty == T::Bot {
                        return (out, T::Bot, params);
                    }
                    let ret = if self.infer {
                        stored(e.ty)
                    } else {
                        self.rets[id]
                    };
                    let c = self.conv(&e, ret);
                    out.extend(quote!(return ::core::result::Result::Ok(#c);));
                    return (out, stored(e.ty), params);
                }
                FnStmt::Print { format, args, .. } => {
                    let pieces: Vec<&str> = format.node.split("{}").collect();
                    let s = self.fresh("s");
                    let mut pushes = TokenStream::new();
                    for (i, p) in pieces.iter().enumerate() {
                        pushes.extend(quote!(#s.push_str(#p);));
                        if let Some(a) = args.get(i) {
                            let e = self.expr(a);
                            if e.ty == T::Bot {
                                return (out, T::Bot, params);
                            }
                            let v = self.val(&e);
                            pushes.extend(
                                quote!(#s.push_str(&::std::string::ToString::to_string(&#v));),
                            );
                        }
                    }
                    out.extend(quote!({
                        let mut #s = ::std::string::String::new();
                        #pushes
                        #k::ops::print_line(&#s);
                    }));
                }
            }
        }
        let fname = f.name.node.as_str();
        let fpos = self.pos(f.span.lo);
        out.extend(quote!(::core::result::Result::Err(#k::ops::no_return(#fname, #fpos))));
        (out, T::Bot, params)
    }
}

/// Generates the mapper type `name` for the checked program `p`. `positioned` is the body's
/// text with every token at its source line and column (parsed again at bind time).
pub fn generate(
    krate: &TokenStream,
    vis: &TokenStream,
    name: &Ident,
    p: &Program,
    name_checks: TokenStream,
    positioned: &str,
) -> TokenStream {
    let k = krate.clone();
    // Functions by definition order (the first of duplicates, as the evaluator does).
    let mut funcs: Vec<&FuncDef> = Vec::new();
    let mut func_ids: HashMap<String, usize> = HashMap::new();
    for s in &p.stmts {
        if let Stmt::Def(f) = s {
            if !func_ids.contains_key(&f.name.node) {
                func_ids.insert(f.name.node.clone(), funcs.len());
                funcs.push(f);
            }
        }
    }
    // Globals, in order of first assignment.
    let mut global_names: Vec<String> = Vec::new();
    for s in &p.stmts {
        if let Stmt::Assign { name, .. } = s {
            if !global_names.contains(&name.node) {
                global_names.push(name.node.clone());
            }
        }
    }
    let gfield = |n: &str| {
        format_ident!(
            "__g{}",
            global_names.iter().position(|x| x == n).unwrap_or(0)
        )
    };

    let mut g = Gen {
        k: k.clone(),
        funcs: funcs.clone(),
        func_ids: func_ids.clone(),
        rets: vec![T::Bot; funcs.len()],
        globals: HashMap::new(),
        scope: Vec::new(),
        counter: 0,
        sites: TokenStream::new(),
        infer: true,
    };
    // Fixpoint of global and return types.
    let mut converged = false;
    let mut final_globals: HashMap<String, (Ident, T)> = HashMap::new();
    for _ in 0..64 {
        g.globals.clear();
        for s in &p.stmts {
            if let Stmt::Assign { name, value, .. } = s {
                g.scope.clear();
                let t = stored(g.expr(value).ty);
                g.globals.insert(name.node.clone(), (gfield(&name.node), t));
            }
        }
        final_globals = g.globals.clone();
        let rets: Vec<T> = (0..funcs.len()).map(|i| g.body(i).1).collect();
        if rets == g.rets {
            converged = true;
            break;
        }
        g.rets = rets;
    }
    if !converged {
        g.rets = vec![T::Val; funcs.len()];
        for v in final_globals.values_mut() {
            v.1 = T::Val;
        }
    }
    for r in &mut g.rets {
        if *r == T::Bot {
            *r = T::Val;
        }
    }
    for v in final_globals.values_mut() {
        if v.1 == T::Bot {
            v.1 = T::Val;
        }
    }
    g.globals = final_globals.clone();
    g.infer = false;

    // Functions.
    let mut fns = TokenStream::new();
    let mut arms = TokenStream::new();
    for (id, f) in funcs.iter().enumerate() {
        let (body, _, params) = g.body(id);
        let ptys: Vec<TokenStream> = f
            .params
            .iter()
            .map(|p| g.rust_ty(param_t(p.ty.node)))
            .collect();
        let ret = g.rust_ty(g.rets[id]);
        let (fi, bi) = (format_ident!("__f{}", id), format_ident!("__b{}", id));
        fns.extend(quote! {
            fn #bi(g: &__G, ctx: &#k::PointCtx<'_>, depth: usize, #(#params: #ptys),*) -> #k::ops::R<#ret> {
                #body
            }
            #[inline]
            fn #fi(g: &__G, ctx: &#k::PointCtx<'_>, depth: usize, #(#params: #ptys),*) -> #k::ops::R<#ret> {
                match #bi(g, ctx, depth, #(#params),*) {
                    ::core::result::Result::Ok(v) => ::core::result::Result::Ok(v),
                    ::core::result::Result::Err(e) => ::core::result::Result::Err(#k::ops::in_func(e, #id)),
                }
            }
        });
        let is_placement = f.params.len() == 1 && f.params[0].ty.node == ParamType::Task;
        if is_placement {
            let fname = f.name.node.as_str();
            let fpos = g.pos(f.span.lo);
            let ok = if g.rets[id] == T::Proc {
                quote!(::core::result::Result::Ok(p) => ::core::result::Result::Ok(p),)
            } else {
                let v = g.conv(&Ex::new(quote!(v), g.rets[id]), T::Val);
                quote! {
                    ::core::result::Result::Ok(v) => match #v {
                        #k::eval::Value::Proc(p) => ::core::result::Result::Ok(p),
                        other => ::core::result::Result::Err(#k::ops::not_a_processor(&other, task_name, ctx, #fname, #fpos)),
                    },
                }
            };
            arms.extend(quote! {
                #id => match #fi(self, ctx, 1, #k::eval::TaskRef::Current) {
                    #ok
                    ::core::result::Result::Err(e) => ::core::result::Result::Err(
                        #k::ops::map_error(e, task_name, ctx, #fname, |i| __FN_NAMES.get(i).copied()),
                    ),
                },
            });
        }
    }
    let fn_names: Vec<&str> = funcs.iter().map(|f| f.name.node.as_str()).collect();

    // Globals struct.
    let mut fields = TokenStream::new();
    let mut inits = TokenStream::new();
    for gname in &global_names {
        let (fid, t) = final_globals
            .get(gname)
            .cloned()
            .unwrap_or_else(|| (gfield(gname), T::Val));
        let ty = g.rust_ty(t);
        fields.extend(quote!(#fid: #ty,));
        let pat = match t {
            T::Int => quote!(::core::option::Option::Some(#k::eval::Value::Int(x)) => *x,),
            T::Bool => quote!(::core::option::Option::Some(#k::eval::Value::Bool(x)) => *x,),
            T::TupN(n) => {
                quote!(::core::option::Option::Some(#k::eval::Value::Tuple(x)) if x.as_slice().len() == #n => {
                    let mut a = [0i64; #n];
                    a.copy_from_slice(x.as_slice());
                    a
                })
            }
            T::Tup | T::Slice => {
                quote!(::core::option::Option::Some(#k::eval::Value::Tuple(x)) => x.clone(),)
            }
            T::Space => {
                quote!(::core::option::Option::Some(#k::eval::Value::Space(x)) => ::std::sync::Arc::clone(x),)
            }
            T::Proc => quote!(::core::option::Option::Some(#k::eval::Value::Proc(x)) => *x,),
            T::Task => quote!(::core::option::Option::Some(#k::eval::Value::Task(x)) => *x,),
            T::Bot | T::Val => quote!(::core::option::Option::Some(x) => x.clone(),),
        };
        inits.extend(quote! {
            #fid: match ev.global(#gname) {
                #pat
                _ => return ::core::result::Result::Err(::std::vec![#k::Diagnostic::error(
                    #k::span::Span::default(),
                    ::std::format!("internal error: global `{}` does not have the type `mapper!` inferred for it", #gname),
                )]),
            },
        });
    }
    let sites = std::mem::take(&mut g.sites);
    let kinds: Vec<TokenStream> = ProcKind::ALL
        .iter()
        .map(|kd| {
            let v = format_ident!("{}", format!("{kd:?}"));
            quote!(#k::ProcKind::#v)
        })
        .collect();
    let canonical = crate::print::print(p);
    let name_str = name.to_string();
    quote! {
        #name_checks
        /// A mapper compiled from the mapping language by `mapper!`.
        #[derive(Clone, Copy, Debug, Default)]
        #vis struct #name;

        impl #name {
            /// The mapper's canonical text (what the tuner starts from).
            pub const SOURCE: &'static str = #canonical;
            #[doc(hidden)]
            pub const __POSITIONED: &'static str = #positioned;
        }

        #[allow(non_snake_case, non_upper_case_globals, unused_variables, unused_mut, unused_braces,
                unused_parens, unreachable_code, dead_code, clippy::all, clippy::pedantic)]
        const _: () = {
            const __FN_NAMES: &[&str] = &[#(#fn_names),*];

            struct __G {
                __spaces: [::std::sync::Arc<#k::space::Space>; 6],
                #fields
            }

            impl __G {
                fn new(ev: &#k::eval::Evaluator) -> ::core::result::Result<__G, ::std::vec::Vec<#k::Diagnostic>> {
                    let sp = |kd: #k::ProcKind| ev.machine_space(kd).cloned().ok_or_else(|| ::std::vec![#k::Diagnostic::error(
                        #k::span::Span::default(),
                        ::std::format!("internal error: no machine space for {}", kd),
                    )]);
                    ::core::result::Result::Ok(__G {
                        __spaces: [#(sp(#kinds)?),*],
                        #inits
                    })
                }
            }

            #sites
            #fns

            impl #k::interp::Placer for __G {
                fn run(
                    &self,
                    prepared: &#k::interp::Prepared,
                    func: usize,
                    ctx: &#k::PointCtx<'_>,
                    task_name: &str,
                ) -> ::core::result::Result<#k::Placement, #k::MapError> {
                    match func {
                        #arms
                        _ => prepared.ev.place(func, ctx, task_name),
                    }
                }
            }

            impl #k::Mapper for #name {
                fn name(&self) -> &str {
                    #name_str
                }

                fn bind(
                    &self,
                    app: &#k::AppInfo,
                    machine: &#k::MachineShape,
                ) -> ::core::result::Result<::std::boxed::Box<dyn #k::BoundMapper>, ::std::vec::Vec<#k::Diagnostic>> {
                    let parsed = #k::parse::parse_text(#name::__POSITIONED);
                    if parsed.has_errors() {
                        return ::core::result::Result::Err(parsed.diagnostics);
                    }
                    let prepared = #k::interp::Prepared::new(&parsed.program, app, machine)?;
                    let placer = __G::new(&prepared.ev)?;
                    ::core::result::Result::Ok(::std::boxed::Box::new(#k::interp::Bound { prepared, placer }))
                }
            }
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The generated code of `body` (a mapper without errors).
    fn gen(body: &str) -> String {
        let out = crate::parse::parse_text(body);
        assert!(!out.has_errors(), "{:?}", out.diagnostics);
        generate(
            &quote!(::mapper_core),
            &TokenStream::new(),
            &format_ident!("M"),
            &out.program,
            TokenStream::new(),
            body,
        )
        .to_string()
    }

    /// The generated body function of function `id`.
    fn body_fn(code: &str, id: usize) -> &str {
        let start = code
            .find(&format!("fn __b{id} "))
            .unwrap_or_else(|| panic!("no __b{id} in {code}"));
        let end = code[start..]
            .find(&format!("fn __f{id} "))
            .map_or(code.len(), |e| start + e);
        &code[start..end]
    }

    #[test]
    fn join_is_the_least_upper_bound() {
        assert_eq!(join(T::Bot, T::Int), T::Int);
        assert_eq!(join(T::TupN(2), T::TupN(2)), T::TupN(2));
        assert_eq!(join(T::TupN(2), T::TupN(3)), T::Tup);
        assert_eq!(join(T::Tup, T::TupN(3)), T::Tup);
        assert_eq!(join(T::Int, T::Bool), T::Val);
        assert_eq!(join(T::Space, T::Val), T::Val);
    }

    #[test]
    fn typed_placement_functions_have_no_dynamic_values() {
        let code = gen(&std::fs::read_to_string("corpus/cosma.mapper")
            .map(|s| crate::text::strip_comments(&s))
            .expect("corpus file"));
        for id in 0..2 {
            let f = body_fn(&code, id);
            assert!(
                f.contains("-> :: mapper_core :: ops :: R < :: mapper_core :: Placement >"),
                "{f}"
            );
            assert!(!f.contains("eval :: Value"), "{f}");
            assert!(!f.contains("ops :: binary"), "{f}");
        }
        // The comprehension over `(0, 1, 2)` is unrolled into a 3-element array.
        assert!(body_fn(&code, 0).contains("[i64 ; 3usize]"));
        // The transform goes through a call-site cache.
        assert!(body_fn(&code, 0).contains("apply_site"));
    }

    #[test]
    fn recursive_functions_get_static_return_types() {
        let code = gen("def fact(int n) { return n <= 1 ? 1 : n * fact(n - 1); }\n\
                        def pair(int n) { return (n, fact(n)); }\n\
                        def odd(int n) { return n > 0 ? odd(n - 1) : (n, n); }\n");
        assert!(body_fn(&code, 0).contains("-> :: mapper_core :: ops :: R < i64 >"));
        assert!(body_fn(&code, 1).contains("R < [i64 ; 2usize] >"));
        assert!(body_fn(&code, 2).contains("R < [i64 ; 2usize] >"));
    }

    #[test]
    fn dynamic_types_fall_back_to_values() {
        let code = gen("def either(bool b, int x) { return b ? x : (x, x); }\n\
                        def f(Task task) { v = either(True, 1); return v; }\n");
        assert!(body_fn(&code, 0).contains("R < :: mapper_core :: eval :: Value >"));
        // A placement function returning a dynamic value is checked when it returns.
        assert!(code.contains("not_a_processor"));
    }

    #[test]
    fn globals_are_typed_fields() {
        let code = gen("mgpu = Machine(GPU);\nn = mgpu.volume;\nt = (1, 2);\nb = n > 1;\n");
        let g = &code[code.find("struct __G").expect("globals")..];
        let g = &g[..g.find('}').expect("end")];
        assert!(
            g.contains("__g0 : :: std :: sync :: Arc < :: mapper_core :: space :: Space >"),
            "{g}"
        );
        assert!(g.contains("__g1 : i64"), "{g}");
        assert!(g.contains("__g2 : [i64 ; 2usize]"), "{g}");
        assert!(g.contains("__g3 : bool"), "{g}");
    }

    #[test]
    fn canonical_source_constant() {
        let code = gen("Task * GPU , CPU ;\n");
        let lit = Literal::string("Task * GPU,CPU;\n").to_string();
        assert!(
            code.contains(&format!("SOURCE : & 'static str = {lit}")),
            "{code}"
        );
    }
}
