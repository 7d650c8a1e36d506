//! Code generation for expressions: operators, tuples, indexing, fields, methods and calls,
//! each typed statically where it can be and through `Value` where it cannot.

use super::*;

impl Gen<'_> {
    // -----------------------------------------------------------------------------------------
    // Expressions

    pub(super) fn expr(&mut self, e: &Expr) -> Ex {
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
                if let Some((_, place, t)) = self.scope.iter().rev().find(|(n, _, _)| n == name) {
                    return Ex {
                        code: place.clone(),
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
                self.scope.push((var.node.clone(), quote!(#v), T::Int));
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

    pub(super) fn tuple(&mut self, items: &[Expr]) -> Ex {
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

    pub(super) fn binary(&mut self, op: BinOp, a: &Expr, b: &Expr, at: Pos) -> Ex {
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
    pub(super) fn idx_pushes(&mut self, ib: &Ident, items: &[(u8, Ex, Pos)]) -> TokenStream {
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
    pub(super) fn arg_items(&mut self, items: &[Expr]) -> Option<Vec<(bool, Ex, Pos)>> {
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
    pub(super) fn index_items(&mut self, items: &[Expr]) -> Option<Vec<(u8, Ex, Pos)>> {
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

    pub(super) fn single_index(items: &[Expr]) -> Option<&Expr> {
        match items {
            [ie] if !matches!(ie.kind, ExprKind::Splat(_) | ExprKind::Wildcard) => Some(ie),
            _ => None,
        }
    }

    pub(super) fn index(&mut self, x: &Expr, items: &[Expr], at: Pos) -> Ex {
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

    pub(super) fn field(&mut self, x: Ex, f: Field, at: Pos) -> Ex {
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

    pub(super) fn method(&mut self, x: &Expr, m: Method, args: &[Expr], at: Pos) -> Ex {
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
            self.sites.extend(quote! {
                ::std::thread_local! {
                    static #site: #k::ops::SiteCache = const { ::core::cell::RefCell::new(::core::option::Option::None) };
                }
            });
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

    /// Converts argument value `a` (bound to `t`) for parameter `i` of declared type `p`:
    /// the statements that prepare it and the expression passed (tuples as slices, machine
    /// spaces as `&Arc`, see [`param_t`]).
    pub(super) fn arg_for(
        &mut self,
        a: &Ex,
        t: &Ident,
        i: usize,
        p: ParamType,
        fname: &str,
        pos: &TokenStream,
    ) -> (TokenStream, TokenStream) {
        let k = self.k.clone();
        let tuple_param = matches!(p, ParamType::IPoint | ParamType::ISpace | ParamType::Tuple);
        match (p, a.ty) {
            (ParamType::Int, T::Int)
            | (ParamType::Bool, T::Bool)
            | (ParamType::Task, T::Task)
            | (ParamType::MSpace, T::Space) => (TokenStream::new(), quote!(#t)),
            (_, T::Tup) if tuple_param => (TokenStream::new(), quote!(#t.as_slice())),
            (_, T::TupN(_)) if tuple_param => (TokenStream::new(), quote!(&#t[..])),
            (_, T::Slice) if tuple_param => (TokenStream::new(), quote!(#t)),
            _ => {
                let tv = Ex::new(quote!(#t), a.ty);
                let v = self.conv(&tv, T::Val);
                let pt = self.param_tok(p);
                let vv = self.fresh("v");
                let ci = self.fresh("c");
                let ex = self.extract(p, &vv);
                let pass = self.pass(p, &ci);
                (
                    quote!(let #ci = { let #vv = #v; #k::ops::check_arg(&#vv, #i, #fname, #pt, #pos)?; #ex };),
                    pass,
                )
            }
        }
    }

    /// How an owned, extracted argument `ci` is passed to a parameter of declared type `p`.
    fn pass(&self, p: ParamType, ci: &Ident) -> TokenStream {
        match p {
            ParamType::IPoint | ParamType::ISpace | ParamType::Tuple => quote!(#ci.as_slice()),
            ParamType::MSpace => quote!(&#ci),
            _ => quote!(#ci),
        }
    }

    pub(super) fn extract(&self, p: ParamType, v: &Ident) -> TokenStream {
        let k = &self.k;
        match p {
            ParamType::Int => quote!(#k::ops::arg_int(&#v)),
            ParamType::Bool => quote!(#k::ops::arg_bool(&#v)),
            ParamType::Task => quote!(#k::ops::arg_task(&#v)),
            ParamType::MSpace => quote!(#k::ops::arg_space(#v, &g.__spaces[0])),
            _ => quote!(#k::ops::arg_tup(#v)),
        }
    }

    pub(super) fn call(&mut self, fname: &str, args: &[Expr], at: Pos) -> Ex {
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
            for (i, (_, e, _)) in ag.iter().enumerate() {
                let t = self.fresh("a");
                // A machine space passed as one is borrowed (no reference count).
                let o = if params[i] == ParamType::MSpace && e.ty == T::Space {
                    self.borrow(e)
                } else {
                    self.own(e)
                };
                lets.extend(quote!(let #t = #o;));
                temps.push(t);
            }
            let mut conv = TokenStream::new();
            let mut pass = Vec::new();
            for (i, ((_, e, _), t)) in ag.iter().zip(&temps).enumerate() {
                let (prep, arg) = self.arg_for(e, t, i, params[i], fname, &pos);
                conv.extend(prep);
                pass.push(arg);
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
            pass.push(self.pass(*p, &ci));
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
}
