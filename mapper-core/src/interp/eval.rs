//! The expression evaluator: the interpreter back end of the mapping language (DSL.md §3).
//!
//! [`Evaluator::new`] lowers a checked program's ([`Checked`]) globals and functions into a small slot-based
//! tree IR: every variable is resolved to a local slot or a global index at construction, field
//! and method names become enums, and globals (`mgpu = Machine(GPU);`) are evaluated once, in
//! source order. [`Evaluator::place`] then runs one placement function for one task point with a
//! reusable per-thread value stack, so a typical evaluation allocates nothing: tuples of up to
//! [`Tup::INLINE`] elements live inline, machine spaces are shared through `Arc`, and space
//! transforms are memoized on the space they are applied to ([`Space::apply_cached`]).
//!
//! Semantics: integers are i64 with checked arithmetic (overflow and division by zero are
//! errors); `/` and `%` truncate toward zero; tuple arithmetic is elementwise and broadcasts with
//! integers; `&&`/`||` short-circuit and need booleans; tuple indices may be negative (from the
//! end), tuple slices clamp like Python's; machine-space indices are never wrapped. Top-level
//! statements run in order, so a global initializer sees only globals assigned before it; inside
//! a function a name refers to a local once it has been assigned, and to the global before that.

use crate::ast::{self, BinOp, ExprKind, FnStmt, ParamType, Stmt, UnOp};
use crate::diag::Diagnostic;
use crate::kinds::ProcKind;
use crate::machine::MachineShape;
use crate::mapper::{MapError, PointCtx};
use crate::ops::{self, fail, Field, IdxBuf, Method, TupBuilder, R};
use crate::sema::checked::Checked;
use crate::space::Space;
use crate::span::{Pos, Span};
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

pub use crate::ops::MAX_CALL_DEPTH;

pub use super::value::{TaskRef, Tup, Value};

// ---------------------------------------------------------------------------------------------
// IR

/// A compiled expression with the position of its source.
#[derive(Debug)]
struct E {
    node: Node,
    pos: Pos,
}

#[derive(Debug)]
enum Node {
    Const(Value),
    Local(usize),
    Global(usize),
    Neg(Box<E>),
    Not(Box<E>),
    Bin(BinOp, Box<E>, Box<E>),
    Ternary(Box<E>, Box<E>, Box<E>),
    Tuple(Vec<Item>),
    Index(Box<E>, Vec<Item>),
    Slice(Box<E>, Option<Box<E>>, Option<Box<E>>),
    Field(Box<E>, Field),
    Method(Box<E>, Method, Vec<Item>),
    Call(usize, Vec<Item>),
    Comp {
        body: Box<E>,
        slot: usize,
        iter: Box<E>,
    },
}

/// An element of a tuple, an index list or an argument list.
#[derive(Debug)]
enum Item {
    One(E),
    Splat(E),
    Wild(Pos),
}

#[derive(Debug)]
enum FStmt {
    Assign(usize, E),
    Return(E),
    Print { pieces: Vec<String>, args: Vec<E> },
}

#[derive(Debug)]
struct Func {
    name: String,
    params: Vec<ParamType>,
    nslots: usize,
    body: Vec<FStmt>,
    pos: Pos,
}

/// A compiled mapper program: evaluated globals and placement functions.
#[derive(Debug)]
pub struct Evaluator {
    funcs: Vec<Func>,
    func_ids: HashMap<String, usize>,
    globals: Vec<Option<Value>>,
    global_names: Vec<String>,
    /// `Machine(KIND)` per kind, in [`ProcKind::ALL`] order.
    spaces: Vec<Arc<Space>>,
}

// ---------------------------------------------------------------------------------------------
// Compilation

struct Compiler<'a> {
    func_ids: &'a HashMap<String, usize>,
    globals: &'a HashMap<String, usize>,
    spaces: &'a [Arc<Space>],
    scope: Vec<(String, usize)>,
    nslots: usize,
    diags: Vec<Diagnostic>,
}

impl Compiler<'_> {
    fn alloc(&mut self) -> usize {
        self.nslots += 1;
        self.nslots - 1
    }

    fn lookup(&self, name: &str) -> Option<usize> {
        self.scope
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, s)| *s)
    }

    fn bind(&mut self, name: &str) -> usize {
        if let Some(s) = self.lookup(name) {
            return s;
        }
        let s = self.alloc();
        self.scope.push((name.to_string(), s));
        s
    }

    /// A construct the checker rejects reached lowering: an internal error (the checker and
    /// the evaluator disagree), never a user-facing diagnostic of its own.
    fn err(&mut self, span: Span, what: impl std::fmt::Display) -> E {
        self.diags.push(Diagnostic::error(
            span,
            format!("internal error: the checker accepted {what}"),
        ));
        E {
            node: Node::Const(Value::Int(0)),
            pos: span.lo,
        }
    }

    fn items(&mut self, es: &[ast::Expr], allow_wild: bool) -> Vec<Item> {
        es.iter()
            .map(|e| match &e.kind {
                ExprKind::Splat(inner) => Item::Splat(self.expr(inner)),
                ExprKind::Wildcard if allow_wild => Item::Wild(e.span.lo),
                _ => Item::One(self.expr(e)),
            })
            .collect()
    }

    fn boxed(&mut self, e: &ast::Expr) -> Box<E> {
        Box::new(self.expr(e))
    }

    fn expr(&mut self, e: &ast::Expr) -> E {
        let pos = e.span.lo;
        let node = match &e.kind {
            ExprKind::Int(i) => Node::Const(Value::Int(*i)),
            ExprKind::Bool(b) => Node::Const(Value::Bool(*b)),
            ExprKind::Str(s) => Node::Const(Value::Str(s.as_str().into())),
            ExprKind::Var(name) => {
                if let Some(s) = self.lookup(name) {
                    Node::Local(s)
                } else if let Some(g) = self.globals.get(name) {
                    Node::Global(*g)
                } else {
                    return self.err(e.span, format_args!("an undefined name `{name}`"));
                }
            }
            ExprKind::Machine(k) => match ProcKind::ALL
                .iter()
                .position(|x| *x == k.node)
                .and_then(|i| self.spaces.get(i))
            {
                Some(sp) => Node::Const(Value::Space(Arc::clone(sp))),
                None => return self.err(e.span, format_args!("`Machine({})`", k.node)),
            },
            ExprKind::Tuple(es) => Node::Tuple(self.items(es, false)),
            ExprKind::Splat(_) => return self.err(e.span, "a misplaced `*` splat"),
            ExprKind::Wildcard => return self.err(e.span, "a misplaced `*` wildcard"),
            ExprKind::Unary(UnOp::Neg, x) => Node::Neg(self.boxed(x)),
            ExprKind::Unary(UnOp::Not, x) => Node::Not(self.boxed(x)),
            ExprKind::Binary(op, a, b) => Node::Bin(*op, self.boxed(a), self.boxed(b)),
            ExprKind::Ternary(c, a, b) => {
                Node::Ternary(self.boxed(c), self.boxed(a), self.boxed(b))
            }
            ExprKind::Index(x, idx) => Node::Index(self.boxed(x), self.items(idx, true)),
            ExprKind::Slice(x, lo, hi) => {
                let x = self.boxed(x);
                let lo = lo.as_ref().map(|l| self.boxed(l));
                let hi = hi.as_ref().map(|h| self.boxed(h));
                Node::Slice(x, lo, hi)
            }
            ExprKind::Field(x, f) => {
                let Some(field) = Field::parse(&f.node) else {
                    return self.err(f.span, format_args!("an unknown field `{}`", f.node));
                };
                Node::Field(self.boxed(x), field)
            }
            ExprKind::Method(x, m, args) => {
                let Some(method) = Method::parse(&m.node) else {
                    return self.err(m.span, format_args!("an unknown method `{}`", m.node));
                };
                Node::Method(self.boxed(x), method, self.items(args, false))
            }
            ExprKind::Call(f, args) => match self.func_ids.get(&f.node) {
                Some(&id) => Node::Call(id, self.items(args, false)),
                None => return self.err(f.span, format_args!("an unknown function `{}`", f.node)),
            },
            ExprKind::TupleComp { body, var, iter } => {
                let iter = self.boxed(iter);
                let slot = self.alloc();
                self.scope.push((var.node.clone(), slot));
                let body = self.boxed(body);
                self.scope.pop();
                Node::Comp { body, slot, iter }
            }
        };
        E { node, pos }
    }

    fn body(&mut self, stmts: &[FnStmt]) -> Vec<FStmt> {
        let mut out = Vec::with_capacity(stmts.len());
        for s in stmts {
            match s {
                FnStmt::Assign { name, value, .. } => {
                    let e = self.expr(value);
                    let slot = self.bind(&name.node);
                    out.push(FStmt::Assign(slot, e));
                }
                FnStmt::Return { value, .. } => out.push(FStmt::Return(self.expr(value))),
                FnStmt::Print { format, args, .. } => {
                    let pieces: Vec<String> = format.node.split("{}").map(str::to_string).collect();
                    let args = args.iter().map(|a| self.expr(a)).collect();
                    out.push(FStmt::Print { pieces, args });
                }
            }
        }
        out
    }
}

impl Evaluator {
    /// Lowers the globals and functions of the checked program to the evaluator's slot IR and
    /// evaluates the globals on `machine`. Other statements are ignored (they are resolved by
    /// [`crate::bind`]). The checker has already rejected every name, arity and placement error,
    /// so lowering itself cannot fail; only evaluating a global can.
    pub fn new(checked: &Checked, machine: &MachineShape) -> Result<Evaluator, Vec<Diagnostic>> {
        let p = &checked.program;
        // Base spaces for `Machine(KIND)`.
        let mut spaces = Vec::with_capacity(ProcKind::ALL.len());
        for &k in ProcKind::ALL {
            match Space::machine(k, machine) {
                Ok(s) => spaces.push(Arc::new(s)),
                Err(e) => {
                    return Err(vec![Diagnostic::error(
                        Span::default(),
                        format!("Machine({k}): {e}"),
                    )])
                }
            }
        }
        let mut diags = Vec::new();
        // Functions and globals by the checker's ids.
        let func_ids: HashMap<String, usize> = checked
            .funcs
            .iter()
            .enumerate()
            .map(|(i, f)| (f.name.clone(), i))
            .collect();
        let mut defs: Vec<&ast::FuncDef> = Vec::with_capacity(checked.funcs.len());
        for s in &p.stmts {
            if let Stmt::Def(f) = s {
                if func_ids.get(&f.name.node) == Some(&defs.len()) {
                    defs.push(f);
                }
            }
        }
        let all_globals: HashMap<String, usize> = checked
            .globals
            .iter()
            .enumerate()
            .map(|(i, g)| (g.name.clone(), i))
            .collect();
        let global_names: Vec<String> = checked.globals.iter().map(|g| g.name.clone()).collect();
        let mut funcs = Vec::with_capacity(defs.len());
        for f in &defs {
            let mut c = Compiler {
                func_ids: &func_ids,
                globals: &all_globals,
                spaces: &spaces,
                scope: Vec::new(),
                nslots: 0,
                diags: Vec::new(),
            };
            for prm in &f.params {
                let s = c.alloc();
                c.scope.push((prm.name.node.clone(), s));
            }
            let body = c.body(&f.body);
            diags.append(&mut c.diags);
            funcs.push(Func {
                name: f.name.node.clone(),
                params: f.params.iter().map(|p| p.ty.node).collect(),
                nslots: c.nslots,
                body,
                pos: f.span.lo,
            });
        }
        // Global initializers, compiled with only earlier globals visible.
        let mut visible: HashMap<String, usize> = HashMap::new();
        let mut inits: Vec<(usize, E, usize, Span)> = Vec::new();
        for s in &p.stmts {
            if let Stmt::Assign { name, value, span } = s {
                let mut c = Compiler {
                    func_ids: &func_ids,
                    globals: &visible,
                    spaces: &spaces,
                    scope: Vec::new(),
                    nslots: 0,
                    diags: Vec::new(),
                };
                let e = c.expr(value);
                diags.append(&mut c.diags);
                let g = all_globals.get(&name.node).copied().unwrap_or(0);
                inits.push((g, e, c.nslots, *span));
                visible.insert(name.node.clone(), g);
            }
        }
        if !diags.is_empty() {
            return Err(diags);
        }
        let mut ev = Evaluator {
            funcs,
            func_ids,
            globals: vec![None; global_names.len()],
            global_names,
            spaces,
        };
        for (g, e, nslots, span) in &inits {
            let r = with_stack(|stack| {
                stack.resize(*nslots, Value::Int(0));
                let mut cx = Cx {
                    ev: &ev,
                    ctx: None,
                    stack,
                    base: 0,
                    depth: 0,
                    func: None,
                };
                cx.eval(e)
            });
            match r {
                Ok(v) => ev.globals[*g] = Some(v),
                Err(f) => {
                    let mut span = *span;
                    if f.pos != Pos::default() {
                        span.lo = f.pos;
                        span.hi = f.pos;
                    }
                    let mut msg = f.msg;
                    if let Some(func) = f.func.and_then(|i| ev.funcs.get(i)) {
                        msg = format!("{msg} (in function `{}`)", func.name);
                    }
                    return Err(vec![Diagnostic::error(span, msg)]);
                }
            }
        }
        let mut funcs = std::mem::take(&mut ev.funcs);
        for f in &mut funcs {
            for st in &mut f.body {
                match st {
                    FStmt::Assign(_, e) | FStmt::Return(e) => fold(e, &ev),
                    FStmt::Print { args, .. } => args.iter_mut().for_each(|a| fold(a, &ev)),
                }
            }
        }
        ev.funcs = funcs;
        Ok(ev)
    }

    /// The index of function `name`, for [`Evaluator::place`].
    pub fn func_id(&self, name: &str) -> Option<usize> {
        self.func_ids.get(name).copied()
    }

    /// The name of function `func`.
    pub fn func_name(&self, func: usize) -> Option<&str> {
        self.funcs.get(func).map(|f| f.name.as_str())
    }

    /// The declared parameter types of function `func`.
    pub fn func_params(&self, func: usize) -> Option<&[ParamType]> {
        self.funcs.get(func).map(|f| f.params.as_slice())
    }

    /// The machine space `Machine(kind)` the program's expressions use.
    pub fn machine_space(&self, kind: ProcKind) -> Option<&Arc<Space>> {
        let i = ProcKind::ALL.iter().position(|k| *k == kind)?;
        self.spaces.get(i)
    }

    /// The value of global `name` after initialization.
    pub fn global(&self, name: &str) -> Option<&Value> {
        let i = self.global_names.iter().position(|n| n == name)?;
        self.globals.get(i)?.as_ref()
    }

    /// Runs placement function `func` (signature `(Task t)`) for the point in `ctx` and returns
    /// the processor it names. Errors name the task, the point, the function and the position.
    pub fn place(
        &self,
        func: usize,
        ctx: &PointCtx<'_>,
        task_name: &str,
    ) -> crate::mapper::PlaceResult {
        let err = |function: Option<&str>, message: String, at: Option<Pos>| {
            Box::new(MapError {
                task: task_name.to_string(),
                point: ctx.point.to_vec(),
                function: function.map(str::to_string),
                message,
                at,
            })
        };
        let Some(f) = self.funcs.get(func) else {
            return Err(err(
                None,
                format!("no placement function with id {func}"),
                None,
            ));
        };
        let r = with_stack(|stack| {
            let mut cx = Cx {
                ev: self,
                ctx: Some(ctx),
                stack,
                base: 0,
                depth: 0,
                func: None,
            };
            cx.stack.push(Value::Task(TaskRef::Current));
            cx.enter(func, 0, f.pos)
        });
        match r {
            Ok(Value::Proc(p)) => Ok(p),
            Ok(v) => Err(err(
                Some(&f.name),
                format!(
                    "placement function must return a processor, got {}",
                    v.type_name()
                ),
                Some(f.pos),
            )),
            Err(fl) => {
                let name = fl
                    .func
                    .and_then(|i| self.funcs.get(i))
                    .map(|f| f.name.as_str())
                    .unwrap_or(&f.name);
                Err(err(Some(name), fl.msg, Some(fl.pos)))
            }
        }
    }
}

/// Constant folding after the globals are known: globals become constants, and pure nodes
/// whose operands are all constants (`mgpu.size[0]`, `mgpu.merge(0, 1)`, `mgpu[0, *]`) are
/// evaluated once. A node whose evaluation fails is left alone, so the error is reported when
/// (and if) a task point reaches it, with the point and function attached.
fn fold(e: &mut E, ev: &Evaluator) {
    fn is_const(e: &E) -> bool {
        matches!(e.node, Node::Const(_))
    }
    fn items_const(items: &[Item]) -> bool {
        items.iter().all(|i| match i {
            Item::One(e) | Item::Splat(e) => is_const(e),
            Item::Wild(_) => true,
        })
    }
    fn fold_items(items: &mut [Item], ev: &Evaluator) {
        for it in items {
            if let Item::One(e) | Item::Splat(e) = it {
                fold(e, ev);
            }
        }
    }
    match &mut e.node {
        Node::Global(g) => {
            if let Some(Some(v)) = ev.globals.get(*g) {
                e.node = Node::Const(v.clone());
            }
            return;
        }
        Node::Const(_) | Node::Local(_) => return,
        Node::Neg(a) | Node::Not(a) | Node::Field(a, _) => fold(a, ev),
        Node::Bin(_, a, b) => {
            fold(a, ev);
            fold(b, ev);
        }
        Node::Ternary(c, a, b) => {
            fold(c, ev);
            fold(a, ev);
            fold(b, ev);
            if let Node::Const(Value::Bool(cv)) = c.node {
                let chosen = if cv { a } else { b };
                let placeholder = E {
                    node: Node::Const(Value::Int(0)),
                    pos: chosen.pos,
                };
                *e = std::mem::replace(&mut **chosen, placeholder);
            }
            return;
        }
        Node::Tuple(items) | Node::Call(_, items) => fold_items(items, ev),
        Node::Index(a, items) | Node::Method(a, _, items) => {
            fold(a, ev);
            fold_items(items, ev);
        }
        Node::Slice(a, lo, hi) => {
            fold(a, ev);
            if let Some(lo) = lo {
                fold(lo, ev);
            }
            if let Some(hi) = hi {
                fold(hi, ev);
            }
        }
        Node::Comp { body, iter, .. } => {
            fold(body, ev);
            fold(iter, ev);
        }
    }
    let foldable = match &e.node {
        Node::Neg(a) | Node::Not(a) | Node::Field(a, _) => is_const(a),
        Node::Bin(_, a, b) => is_const(a) && is_const(b),
        Node::Tuple(items) => items_const(items),
        Node::Index(a, items) => is_const(a) && items_const(items),
        Node::Method(a, m, items) => *m != Method::Processor && is_const(a) && items_const(items),
        Node::Slice(a, lo, hi) => {
            is_const(a) && lo.as_deref().is_none_or(is_const) && hi.as_deref().is_none_or(is_const)
        }
        _ => false,
    };
    if foldable {
        let mut stack = Vec::new();
        let mut cx = Cx {
            ev,
            ctx: None,
            stack: &mut stack,
            base: 0,
            depth: 0,
            func: None,
        };
        if let Ok(v) = cx.eval(e) {
            if !matches!(v, Value::Task(_)) {
                e.node = Node::Const(v);
            }
        }
    }
}

thread_local! {
    static STACK: RefCell<Vec<Value>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` with an empty, reusable value stack (one per thread; a fresh one when re-entered).
fn with_stack<T>(f: impl FnOnce(&mut Vec<Value>) -> T) -> T {
    let mut stack = STACK.with(|s| {
        s.try_borrow_mut()
            .map(|mut s| std::mem::take(&mut *s))
            .unwrap_or_default()
    });
    stack.clear();
    let r = f(&mut stack);
    stack.clear();
    STACK.with(|s| {
        if let Ok(mut s) = s.try_borrow_mut() {
            *s = stack;
        }
    });
    r
}

// ---------------------------------------------------------------------------------------------
// Evaluation

struct Cx<'a, 'c> {
    ev: &'a Evaluator,
    ctx: Option<&'a PointCtx<'c>>,
    stack: &'a mut Vec<Value>,
    base: usize,
    depth: usize,
    func: Option<usize>,
}

impl<'a, 'c> Cx<'a, 'c> {
    fn eval(&mut self, e: &E) -> R<Value> {
        match &e.node {
            Node::Const(v) => Ok(v.clone()),
            Node::Local(s) => Ok(self.stack[self.base + s].clone()),
            Node::Global(g) => match self.ev.globals.get(*g).and_then(|v| v.as_ref()) {
                Some(v) => Ok(v.clone()),
                None => fail(
                    e.pos,
                    format!(
                        "global `{}` is used before it is assigned",
                        self.ev
                            .global_names
                            .get(*g)
                            .map(String::as_str)
                            .unwrap_or("?")
                    ),
                ),
            },
            Node::Bin(op, a, b) => self.binary(*op, a, b, e.pos),
            Node::Ternary(c, a, b) => {
                let cv = self.eval(c)?;
                if ops::cond_of(&cv, c.pos)? {
                    self.eval(a)
                } else {
                    self.eval(b)
                }
            }
            Node::Index(x, items) => self.index(x, items, e.pos),
            Node::Field(x, f) => {
                if let Node::Local(slot) = x.node {
                    // Read a local in place (no clone of a space or tuple).
                    let v = &self.stack[self.base + slot];
                    return ops::field_of(v, self.ctx, *f, e.pos);
                }
                let v = self.eval(x)?;
                ops::field_of(&v, self.ctx, *f, e.pos)
            }
            Node::Method(x, m, items) => self.method_call(x, *m, items, e.pos),
            Node::Call(id, items) => self.call_items(*id, items, e.pos),
            _ => self.eval_cold(e),
        }
    }

    #[inline(never)]
    fn method_call(&mut self, x: &E, m: Method, items: &[Item], pos: Pos) -> R<Value> {
        let recv = self.eval(x)?;
        if items.len() <= 3 && items.iter().all(|i| matches!(i, Item::One(_))) {
            // Common case: no splats, so no argument vector is allocated.
            let mut buf = [Value::Int(0), Value::Int(0), Value::Int(0)];
            for (slot, it) in buf.iter_mut().zip(items) {
                if let Item::One(e) = it {
                    *slot = self.eval(e)?;
                }
            }
            return ops::method(&recv, m, &buf[..items.len()], self.ctx, pos);
        }
        let args = self.args(items)?;
        ops::method(&recv, m, &args, self.ctx, pos)
    }

    /// The less frequent expression forms, kept out of [`Cx::eval`] so that its stack frame
    /// stays small (recursion depth is bounded by frame size in debug builds).
    #[inline(never)]
    fn eval_cold(&mut self, e: &E) -> R<Value> {
        match &e.node {
            Node::Neg(x) => {
                let v = self.eval(x)?;
                ops::neg(&v, e.pos)
            }
            Node::Not(x) => {
                let v = self.eval(x)?;
                Ok(Value::Bool(!ops::not_operand(&v, x.pos)?))
            }
            Node::Tuple(items) => {
                let mut b = TupBuilder::new();
                for it in items {
                    match it {
                        Item::One(x) => {
                            let v = self.eval(x)?;
                            b.push_value(&v, x.pos)?;
                        }
                        Item::Splat(x) => {
                            let v = self.eval(x)?;
                            b.splat_value(&v, x.pos)?;
                        }
                        Item::Wild(p) => return Err(ops::wildcard_error(*p)),
                    }
                }
                Ok(Value::Tuple(b.finish()))
            }
            Node::Slice(x, lo, hi) => {
                let v = self.eval(x)?;
                let lo = match lo {
                    Some(l) => Some(ops::int_of(&self.eval(l)?, "a slice bound", l.pos)?),
                    None => None,
                };
                let hi = match hi {
                    Some(h) => Some(ops::int_of(&self.eval(h)?, "a slice bound", h.pos)?),
                    None => None,
                };
                ops::slice(&v, lo, hi, e.pos).map(Value::Tuple)
            }
            Node::Comp { body, slot, iter } => {
                let v = self.eval(iter)?;
                let t = ops::comp_iter(v, iter.pos)?;
                let mut b = TupBuilder::new();
                for &x in t.as_slice() {
                    self.stack[self.base + slot] = Value::Int(x);
                    let v = self.eval(body)?;
                    b.push(ops::comp_elem(&v, body.pos)?);
                }
                Ok(Value::Tuple(b.finish()))
            }
            _ => unreachable_bool(e.pos),
        }
    }

    fn args(&mut self, items: &[Item]) -> R<Vec<Value>> {
        let mut out: Vec<Value> = Vec::with_capacity(items.len());
        for it in items {
            match it {
                Item::One(x) => out.push(self.eval(x)?),
                Item::Splat(x) => {
                    let v = self.eval(x)?;
                    out.extend(ops::splat_of(&v, x.pos)?.iter().map(|&i| Value::Int(i)));
                }
                Item::Wild(p) => return Err(ops::wildcard_error(*p)),
            }
        }
        Ok(out)
    }

    fn binary(&mut self, op: BinOp, a: &E, b: &E, pos: Pos) -> R<Value> {
        if let BinOp::And | BinOp::Or = op {
            let av = self.eval(a)?;
            let l = ops::logic_operand(&av, op, true, a.pos)?;
            if (op == BinOp::And) != l {
                return Ok(Value::Bool(l));
            }
            let bv = self.eval(b)?;
            return Ok(Value::Bool(ops::logic_operand(&bv, op, false, b.pos)?));
        }
        let av = self.eval(a)?;
        let bv = self.eval(b)?;
        if let (Value::Int(x), Value::Int(y)) = (&av, &bv) {
            if let BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Rem = op {
                return ops::arith(op, *x, *y, pos).map(Value::Int);
            }
        }
        ops::binary(op, &av, &bv, pos)
    }

    fn index(&mut self, x: &E, items: &[Item], pos: Pos) -> R<Value> {
        // Fast path: `t[i]` on a local tuple reads it in place instead of copying it (the
        // index cannot assign locals, so the local is still a tuple after evaluating it).
        if let (Node::Local(slot), [Item::One(ie)]) = (&x.node, items) {
            if let Value::Tuple(_) = &self.stack[self.base + slot] {
                let iv = self.eval(ie)?;
                if let Value::Tuple(t) = &self.stack[self.base + slot] {
                    return ops::tuple_index_value(t.as_slice(), &iv, ie.pos, pos).map(Value::Int);
                }
            }
        }
        let v = self.eval(x)?;
        match &v {
            Value::Space(sp) => {
                let mut idx = IdxBuf::new(sp);
                for it in items {
                    match it {
                        Item::One(e) => {
                            let iv = self.eval(e)?;
                            idx.push_value(&iv, e.pos)?;
                        }
                        Item::Splat(e) => {
                            let sv = self.eval(e)?;
                            idx.push_splat(&sv, e.pos)?;
                        }
                        Item::Wild(p) => idx.push_wild(*p)?,
                    }
                }
                idx.get(sp, pos).map(Value::Proc)
            }
            Value::Tuple(t) => {
                let [Item::One(ie)] = items else {
                    return Err(ops::tuple_one_index(pos));
                };
                let iv = self.eval(ie)?;
                ops::tuple_index_value(t.as_slice(), &iv, ie.pos, pos).map(Value::Int)
            }
            _ => Err(ops::cannot_index(&v, pos)),
        }
    }

    /// Evaluates the arguments of a user-function call straight onto the stack and calls it.
    fn call_items(&mut self, id: usize, items: &[Item], pos: Pos) -> R<Value> {
        let new_base = self.stack.len();
        for it in items {
            let r = match it {
                Item::One(x) => self.eval(x).map(|v| self.stack.push(v)),
                Item::Splat(x) => match self.eval(x) {
                    Ok(v) => ops::splat_of(&v, x.pos).map(|s| {
                        self.stack.extend(s.iter().map(|&i| Value::Int(i)));
                    }),
                    Err(e) => Err(e),
                },
                Item::Wild(p) => Err(ops::wildcard_error(*p)),
            };
            if let Err(e) = r {
                self.stack.truncate(new_base);
                return Err(e);
            }
        }
        self.enter(id, new_base, pos)
    }

    /// Calls function `id` whose arguments are `stack[new_base..]`.
    fn enter(&mut self, id: usize, new_base: usize, pos: Pos) -> R<Value> {
        let r = self.enter_inner(id, new_base, pos);
        self.stack.truncate(new_base);
        r
    }

    fn enter_inner(&mut self, id: usize, new_base: usize, pos: Pos) -> R<Value> {
        let ev = self.ev;
        let Some(f) = ev.funcs.get(id) else {
            return fail(pos, format!("no function with id {id}"));
        };
        ops::depth_check(self.depth, &f.name, pos)?;
        let args = &self.stack[new_base..];
        if args.len() != f.params.len() {
            return Err(ops::call_arity(&f.name, f.params.len(), args.len(), pos));
        }
        for (i, (a, ty)) in args.iter().zip(&f.params).enumerate() {
            ops::check_arg(a, i, &f.name, *ty, pos)?;
        }
        let nargs = args.len();
        self.stack
            .resize(new_base + f.nslots.max(nargs), Value::Int(0));
        let (old_base, old_func) = (self.base, self.func);
        self.base = new_base;
        self.func = Some(id);
        self.depth += 1;
        let r = self.run(f);
        self.depth -= 1;
        self.base = old_base;
        self.func = old_func;
        r.map_err(|e| ops::in_func(e, id))
    }

    fn run(&mut self, f: &Func) -> R<Value> {
        for s in &f.body {
            match s {
                FStmt::Assign(slot, e) => {
                    let v = self.eval(e)?;
                    self.stack[self.base + slot] = v;
                }
                FStmt::Return(e) => return self.eval(e),
                FStmt::Print { pieces, args } => {
                    let mut out = String::new();
                    for (i, p) in pieces.iter().enumerate() {
                        out.push_str(p);
                        if let Some(a) = args.get(i) {
                            let v = self.eval(a)?;
                            out.push_str(&v.to_string());
                        }
                    }
                    ops::print_line(&out);
                }
            }
        }
        Err(ops::no_return(&f.name, f.pos))
    }
}

/// Reports an internal inconsistency as an error rather than panicking.
fn unreachable_bool<T>(pos: Pos) -> R<T> {
    fail(
        pos,
        "internal error: operator dispatched to the wrong evaluator",
    )
}

#[cfg(test)]
pub(crate) mod tests;
