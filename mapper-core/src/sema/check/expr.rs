//! Functions and expressions: function bodies, return types, and the type of every
//! expression (operators, indexing, fields, methods and transforms, calls).

use super::*;

impl<'a> Checker<'a> {
    // ----- functions and expressions ------------------------------------------------------

    /// Checks a function body with diagnostics and records its return type.
    pub(super) fn def(&mut self, f: &'a FuncDef) {
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

    pub(super) fn body(&mut self, f: &'a FuncDef) -> FnInfo {
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
    pub(super) fn ret_type(&mut self, f: &'a FuncDef) -> Ty {
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

    pub(super) fn undefined(&mut self, name: &str, span: Span, sc: &Scope<'a>) {
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
        let d = Diagnostic::error(span, crate::diag::not_defined(name));
        self.emit(match help {
            Some(h) => d.with_help(h),
            None => d,
        });
    }

    /// Length contributed by a list element (`Some(1)` for a plain element, the tuple length for
    /// a splat when known, `None` when unknown).
    pub(super) fn list_len(
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

    pub(super) fn expr(&mut self, e: &'a Expr, sc: &mut Scope<'a>) -> Ty {
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

    pub(super) fn expect_int(&mut self, t: Ty, span: Span) {
        if !matches!(t, Ty::Int | Ty::Unknown) {
            self.err(span, format!("mismatched types: expected int, found {t}"));
        }
    }

    pub(super) fn binary(&mut self, op: BinOp, a: &'a Expr, b: &'a Expr, sc: &mut Scope<'a>) -> Ty {
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

    pub(super) fn index(&mut self, base: &'a Expr, idx: &'a [Expr], sc: &mut Scope<'a>) -> Ty {
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

    pub(super) fn field(&mut self, t: Ty, field: &Ident) -> Ty {
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

    pub(super) fn method(
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
    pub(super) fn transform(
        &mut self,
        name: &str,
        dims: Option<usize>,
        args: &'a [Expr],
        tys: &[Ty],
    ) -> Ty {
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

    pub(super) fn call(
        &mut self,
        f: &Ident,
        args: &'a [Expr],
        call_span: Span,
        sc: &mut Scope<'a>,
    ) -> Ty {
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
            self.err_help(f.span, crate::diag::not_defined(name), help);
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
