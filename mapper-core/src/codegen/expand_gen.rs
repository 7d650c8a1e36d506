//! Rust code generation for `mapper!`: lowers a checked [`Program`] to a type implementing
//! [`crate::Mapper`] whose placement functions are native Rust.
//!
//! Binding goes through the same [`crate::interp::Prepared`] as the interpreter (statement
//! tables, globals), from the checked program itself: the macro lifts its [`Checked`] program
//! into code that rebuilds it ([`super::lift`]), with every span, so binding parses and checks
//! nothing again and bind-time diagnostics and evaluation-error positions are the
//! interpreter's. Placement then runs generated functions instead of the evaluator.
//!
//! Lowering: the types of globals and function results are the checker's ([`Checked::funcs`],
//! [`Checked::globals`]); from them every expression gets one of [`T`], bottom-up while its
//! code is generated (no second inference); integers become `i64` with checked [`crate::ops`]
//! arithmetic, tuples of statically known length `[i64; N]` (tuple comprehensions over such
//! tuples are unrolled), other tuples [`crate::eval::Tup`], machine spaces `Arc<Space>` (borrowed
//! where possible), processors [`crate::Placement`]. Transforms go through a per-call-site,
//! per-thread cache of the last result. Where a type is not known statically the code falls back
//! to [`crate::eval::Value`] and the very functions the interpreter calls, so every decision and
//! every error (message, function, position) is the interpreter's. Evaluation order is the
//! interpreter's, including the order in which operands are checked.

use crate::ast::{BinOp, Expr, ExprKind, FnStmt, FuncDef, ParamType, Stmt, UnOp};
use crate::kinds::ProcKind;
use crate::ops::{Field, Method};
use crate::sema::checked::{Checked, Type};
use crate::space::MAX_DIMS;
use crate::span::Pos;
use proc_macro2::{Ident, Literal, TokenStream};
use quote::{format_ident, quote};
use std::collections::HashMap;

/// Static type of an expression in generated code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum T {
    /// No value: the expression never completes normally.
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

/// The representation of a value of the checker's type `t`.
pub fn of_type(t: Type) -> T {
    match t {
        Type::Int => T::Int,
        Type::Bool => T::Bool,
        Type::Tuple(Some(n)) => T::TupN(n),
        Type::Tuple(None) => T::Tup,
        Type::Space(_) => T::Space,
        Type::Proc => T::Proc,
        Type::Task | Type::Parent => T::Task,
        Type::Str | Type::Unknown => T::Val,
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

/// The type a parameter of declared type `p` has inside the function. Tuples are borrowed
/// slices and machine spaces borrowed `Arc`s (see [`Gen::param_rust_ty`]): a call copies no
/// tuple and touches no reference count.
fn param_t(p: ParamType) -> T {
    match p {
        ParamType::Task => T::Task,
        ParamType::Int => T::Int,
        ParamType::Bool => T::Bool,
        ParamType::IPoint | ParamType::ISpace | ParamType::Tuple => T::Slice,
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
    /// Variables in scope: name, the code of the place that holds it, type.
    scope: Vec<(String, TokenStream, T)>,
    counter: usize,
    sites: TokenStream,
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

    /// The Rust type of a parameter of declared type `p`.
    fn param_rust_ty(&self, p: ParamType) -> TokenStream {
        let k = &self.k;
        match param_t(p) {
            T::Space => quote!(&::std::sync::Arc<#k::space::Space>),
            t => self.rust_ty(t),
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
            // Narrowing to the checker's more precise type (the value is checked, so a
            // disagreement between the checker and the code is an internal error, not UB).
            (_, to) => {
                let v = self.val(e);
                match to {
                    T::Int => quote!(#k::ops::as_int(#v)?),
                    T::Bool => quote!(#k::ops::as_bool(#v)?),
                    T::TupN(n) => quote!(#k::ops::as_array::<#n>(#v)?),
                    T::Space => quote!(#k::ops::as_space(#v)?),
                    T::Proc => quote!(#k::ops::as_proc(#v)?),
                    T::Task => quote!(#k::ops::as_task(#v)?),
                    _ => quote!(#k::ops::as_tup(#v)?),
                }
            }
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
    // Functions

    /// The body of function `id` and the type of what it returns (`Bot` without `return`).
    fn body(&mut self, id: usize) -> (TokenStream, T, Vec<Ident>) {
        let k = self.k.clone();
        let f = self.funcs[id];
        self.scope.clear();
        let mut params = Vec::new();
        for (i, p) in f.params.iter().enumerate() {
            let id = format_ident!("__p{}", i);
            let t = param_t(p.ty.node);
            // A machine-space parameter is a `&Arc<Space>`: its place is `(*p)`.
            let place = if t == T::Space {
                quote!((*#id))
            } else {
                quote!(#id)
            };
            self.scope.push((p.name.node.clone(), place, t));
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
                    self.scope.push((name.node.clone(), quote!(#v), e.ty));
                }
                FnStmt::Return { value, .. } => {
                    let e = self.expr(value);
                    if e.ty == T::Bot {
                        return (out, T::Bot, params);
                    }
                    let c = self.conv(&e, self.rets[id]);
                    out.extend(quote!(return ::core::result::Result::Ok(#c);));
                    return (out, self.rets[id], params);
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

/// Generates the mapper type `name` for the checked program. `positioned` is the body's text
/// with every token at its source line and column (kept as `__POSITIONED` for tests that run
/// the interpreter on the same text; binding does not read it).
pub fn generate(
    krate: &TokenStream,
    vis: &TokenStream,
    name: &Ident,
    checked: &Checked,
    name_checks: TokenStream,
    positioned: &str,
) -> TokenStream {
    let k = krate.clone();
    let p = &checked.program;
    // Functions by the checker's ids (definition order, the first of duplicates).
    let mut funcs: Vec<&FuncDef> = Vec::new();
    let mut func_ids: HashMap<String, usize> = HashMap::new();
    for s in &p.stmts {
        if let Stmt::Def(f) = s {
            if checked.func_id(&f.name.node) == Some(funcs.len()) {
                func_ids.insert(f.name.node.clone(), funcs.len());
                funcs.push(f);
            }
        }
    }
    // Globals by the checker's ids, with the checker's types.
    let global_names: Vec<String> = checked.globals.iter().map(|g| g.name.clone()).collect();
    let final_globals: HashMap<String, (Ident, T)> = checked
        .globals
        .iter()
        .enumerate()
        .map(|(i, g)| (g.name.clone(), (format_ident!("__g{}", i), of_type(g.ty))))
        .collect();
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
        rets: checked.funcs.iter().map(|f| of_type(f.ret)).collect(),
        globals: final_globals.clone(),
        scope: Vec::new(),
        counter: 0,
        sites: TokenStream::new(),
    };

    // Functions.
    let mut fns = TokenStream::new();
    let mut arms = TokenStream::new();
    for (id, f) in funcs.iter().enumerate() {
        let (body, _, params) = g.body(id);
        let ptys: Vec<TokenStream> = f
            .params
            .iter()
            .map(|p| g.param_rust_ty(p.ty.node))
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
    let lifted = super::lift::Lift::lift(checked, &k);
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

            /// The checked program, as the macro checked it.
            fn __checked() -> #k::sema::checked::Checked {
                #lifted
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
                ) -> #k::PlaceResult {
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
                    let prepared = #k::interp::Prepared::new(&__checked(), app, machine)?;
                    let placer = __G::new(&prepared.ev)?;
                    ::core::result::Result::Ok(::std::boxed::Box::new(#k::interp::Bound { prepared, placer }))
                }
            }
        };
    }
}

mod expr;
#[cfg(test)]
mod tests;
