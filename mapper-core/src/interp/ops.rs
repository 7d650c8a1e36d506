//! Primitive operations of the mapping language, shared by both back ends: the interpreter
//! ([`crate::eval`]) and the Rust code that `mapper!` generates ([`crate::expand_gen`]).
//!
//! Every operation that can fail returns [`R`] with the exact message the language reports, so
//! the two back ends cannot drift apart: integer arithmetic (checked, truncating), tuple
//! elementwise and broadcast arithmetic, tuple and machine-space indexing, slices, fields,
//! transforms, comparisons, operand checks of `&&`, `||`, `!` and `?:`, user-function argument
//! checks, and the conversion of a failure into a [`MapError`]. Error construction is kept out
//! of line (`#[cold]`) so that the success paths inline into straight-line code.

use crate::ast::{BinOp, ParamType};
use crate::interp::value::{TaskRef, Tup, Value};
use crate::machine::Placement;
use crate::mapper::{MapError, PointCtx};
use crate::space::{Extents, Space, Transform, MAX_DIMS};
use crate::span::Pos;
use std::cell::RefCell;
use std::sync::Arc;
use std::thread::LocalKey;

/// Maximum nesting of user function calls.
pub const MAX_CALL_DEPTH: usize = 64;

/// An evaluation failure, before it is attached to a task point.
#[derive(Debug)]
pub struct Fail {
    /// What went wrong.
    pub msg: String,
    /// Where (the start of the failing expression).
    pub pos: Pos,
    /// The function (by definition order) in which it happened, once known.
    pub func: Option<usize>,
}

/// Errors are boxed so that `R<Value>` is no larger than a `Value` (cheap moves on the hot path).
pub type R<T> = Result<T, Box<Fail>>;

/// A failure at `pos`.
#[cold]
#[inline(never)]
pub fn err(pos: Pos, msg: impl Into<String>) -> Box<Fail> {
    Box::new(Fail {
        msg: msg.into(),
        pos,
        func: None,
    })
}

/// `Err` of [`err`].
#[cold]
#[inline(never)]
pub fn fail<T>(pos: Pos, msg: impl Into<String>) -> R<T> {
    Err(err(pos, msg))
}

/// Attributes `e` to function `func` unless it already names one (the innermost function wins).
#[cold]
#[inline(never)]
pub fn in_func(mut e: Box<Fail>, func: usize) -> Box<Fail> {
    if e.func.is_none() {
        e.func = Some(func);
    }
    e
}

/// Turns a failure of placement function `top` into a [`MapError`]; `name_of` gives the names of
/// functions by definition order.
#[allow(clippy::boxed_local)] // takes the `Err` of an `R` as it is
#[cold]
#[inline(never)]
pub fn map_error<'n>(
    f: Box<Fail>,
    task_name: &str,
    ctx: &PointCtx<'_>,
    top: &'n str,
    name_of: impl Fn(usize) -> Option<&'n str>,
) -> Box<MapError> {
    let name = f.func.and_then(name_of).unwrap_or(top);
    Box::new(MapError {
        task: task_name.to_string(),
        point: ctx.point.to_vec(),
        function: Some(name.to_string()),
        message: f.msg,
        at: Some(f.pos),
    })
}

/// The error of a placement function that returned `v` instead of a processor.
#[cold]
#[inline(never)]
pub fn not_a_processor(
    v: &Value,
    task_name: &str,
    ctx: &PointCtx<'_>,
    top: &str,
    pos: Pos,
) -> Box<MapError> {
    Box::new(MapError {
        task: task_name.to_string(),
        point: ctx.point.to_vec(),
        function: Some(top.to_string()),
        message: format!(
            "placement function must return a processor, got {}",
            v.type_name()
        ),
        at: Some(pos),
    })
}

// ---------------------------------------------------------------------------------------------
// Scalars

#[cold]
#[inline(never)]
fn arith_fail(op: BinOp, a: i64, b: i64, pos: Pos) -> Box<Fail> {
    if matches!(op, BinOp::Div | BinOp::Rem) && b == 0 {
        return err(
            pos,
            format!("division by zero in `{a} {} {b}`", op.as_str()),
        );
    }
    err(
        pos,
        format!("integer overflow in `{a} {} {b}`", op.as_str()),
    )
}

/// Checked integer `a op b` for `+ - * / %` (`/` and `%` truncate; division by zero and
/// overflow are errors).
#[inline]
pub fn arith(op: BinOp, a: i64, b: i64, pos: Pos) -> R<i64> {
    let r = match op {
        BinOp::Add => a.checked_add(b),
        BinOp::Sub => a.checked_sub(b),
        BinOp::Mul => a.checked_mul(b),
        BinOp::Div => a.checked_div(b),
        BinOp::Rem => a.checked_rem(b),
        _ => None,
    };
    match r {
        Some(x) => Ok(x),
        None => Err(arith_fail(op, a, b, pos)),
    }
}

/// Checked `a + b`.
#[inline]
pub fn add(a: i64, b: i64, pos: Pos) -> R<i64> {
    arith(BinOp::Add, a, b, pos)
}
/// Checked `a - b`.
#[inline]
pub fn sub(a: i64, b: i64, pos: Pos) -> R<i64> {
    arith(BinOp::Sub, a, b, pos)
}
/// Checked `a * b`.
#[inline]
pub fn mul(a: i64, b: i64, pos: Pos) -> R<i64> {
    arith(BinOp::Mul, a, b, pos)
}
/// Checked, truncating `a / b`.
#[inline]
pub fn div(a: i64, b: i64, pos: Pos) -> R<i64> {
    arith(BinOp::Div, a, b, pos)
}
/// Checked, truncating `a % b`.
#[inline]
pub fn rem(a: i64, b: i64, pos: Pos) -> R<i64> {
    arith(BinOp::Rem, a, b, pos)
}

/// Checked `-i`.
#[inline]
pub fn neg_int(i: i64, pos: Pos) -> R<i64> {
    match i.checked_neg() {
        Some(x) => Ok(x),
        None => fail(pos, "integer overflow in negation"),
    }
}

/// `-v` for an integer or a tuple.
pub fn neg(v: &Value, pos: Pos) -> R<Value> {
    match v {
        Value::Int(i) => neg_int(*i, pos).map(Value::Int),
        Value::Tuple(t) => neg_tup(t.as_slice(), pos).map(Value::Tuple),
        v => fail(pos, format!("cannot negate {}", v.type_name())),
    }
}

/// Elementwise `-t`.
pub fn neg_tup(t: &[i64], pos: Pos) -> R<Tup> {
    let mut b = TupBuilder::new();
    for &x in t {
        b.push(neg_int(x, pos)?);
    }
    Ok(b.finish())
}

#[cold]
#[inline(never)]
fn type_fail(v: &Value, what: &str, ty: &str, pos: Pos) -> Box<Fail> {
    err(pos, format!("{what} must be {ty}, got {}", v.type_name()))
}

/// `v` as an integer; `what` names it in the error (`a tuple index`).
#[inline]
pub fn int_of(v: &Value, what: &str, pos: Pos) -> R<i64> {
    match v {
        Value::Int(i) => Ok(*i),
        _ => Err(type_fail(v, what, "an integer", pos)),
    }
}

/// `v` as a boolean; `what` names it in the error (`the condition of `?:``).
#[inline]
pub fn bool_of(v: &Value, what: &str, pos: Pos) -> R<bool> {
    match v {
        Value::Bool(b) => Ok(*b),
        _ => Err(type_fail(v, what, "a boolean", pos)),
    }
}

/// An operand of `&&` / `||` as a boolean (`left` selects the message).
#[inline]
pub fn logic_operand(v: &Value, op: BinOp, left: bool, pos: Pos) -> R<bool> {
    match v {
        Value::Bool(b) => Ok(*b),
        _ => Err(logic_fail(v, op, left, pos)),
    }
}

#[cold]
#[inline(never)]
fn logic_fail(v: &Value, op: BinOp, left: bool, pos: Pos) -> Box<Fail> {
    let side = if left { "left" } else { "right" };
    type_fail(
        v,
        &format!("the {side} operand of `{}`", op.as_str()),
        "a boolean",
        pos,
    )
}

/// The condition of `?:` as a boolean.
#[inline]
pub fn cond_of(v: &Value, pos: Pos) -> R<bool> {
    bool_of(v, "the condition of `?:`", pos)
}

/// The operand of `!` as a boolean.
#[inline]
pub fn not_operand(v: &Value, pos: Pos) -> R<bool> {
    bool_of(v, "the operand of `!`", pos)
}

// ---------------------------------------------------------------------------------------------
// Tuples

/// Builds a tuple element by element without allocating while it stays small.
pub struct TupBuilder {
    len: usize,
    buf: [i64; Tup::INLINE],
    spill: Vec<i64>,
}

impl Default for TupBuilder {
    fn default() -> Self {
        TupBuilder::new()
    }
}

impl TupBuilder {
    /// An empty builder.
    #[inline]
    pub fn new() -> Self {
        TupBuilder {
            len: 0,
            buf: [0; Tup::INLINE],
            spill: Vec::new(),
        }
    }

    /// Appends one element.
    #[inline]
    pub fn push(&mut self, x: i64) {
        if self.len < Tup::INLINE {
            self.buf[self.len] = x;
        } else {
            if self.spill.is_empty() {
                self.spill.extend_from_slice(&self.buf);
            }
            self.spill.push(x);
        }
        self.len += 1;
    }

    /// Appends every element of `s`.
    #[inline]
    pub fn extend(&mut self, s: &[i64]) {
        for &x in s {
            self.push(x);
        }
    }

    /// Appends `v` as a tuple element (an integer, else the tuple-element error).
    #[inline]
    pub fn push_value(&mut self, v: &Value, pos: Pos) -> R<()> {
        self.push(int_of(v, "a tuple element", pos)?);
        Ok(())
    }

    /// Appends the elements of a splatted `*v` (a tuple, else the splat error).
    #[inline]
    pub fn splat_value(&mut self, v: &Value, pos: Pos) -> R<()> {
        match v {
            Value::Tuple(t) => {
                self.extend(t.as_slice());
                Ok(())
            }
            v => Err(splat_error(v, pos)),
        }
    }

    /// The tuple.
    #[inline]
    pub fn finish(self) -> Tup {
        if self.len <= Tup::INLINE {
            Tup::Inline {
                len: self.len as u8,
                buf: self.buf,
            }
        } else {
            Tup::Heap(self.spill.into())
        }
    }
}

/// The error of splatting something that is not a tuple.
#[cold]
#[inline(never)]
pub fn splat_error(v: &Value, pos: Pos) -> Box<Fail> {
    err(
        pos,
        format!(
            "only a tuple can be splatted with `*`, got {}",
            v.type_name()
        ),
    )
}

/// The error of a `*` wildcard outside a machine-space index.
#[cold]
#[inline(never)]
pub fn wildcard_error(pos: Pos) -> Box<Fail> {
    err(pos, "`*` wildcard is only allowed as a machine-space index")
}

/// The elements of a splatted `*v` (a tuple, else the splat error).
#[inline]
pub fn splat_of(v: &Value, pos: Pos) -> R<&[i64]> {
    match v {
        Value::Tuple(t) => Ok(t.as_slice()),
        v => Err(splat_error(v, pos)),
    }
}

/// The tuple a comprehension iterates over (else the comprehension error at `pos`).
#[inline]
pub fn comp_iter(v: Value, pos: Pos) -> R<Tup> {
    match v {
        Value::Tuple(t) => Ok(t),
        v => fail(
            pos,
            format!(
                "a tuple comprehension iterates over a tuple, got {}",
                v.type_name()
            ),
        ),
    }
}

/// A comprehension element as an integer.
#[inline]
pub fn comp_elem(v: &Value, pos: Pos) -> R<i64> {
    int_of(v, "a tuple comprehension element", pos)
}

#[cold]
#[inline(never)]
fn tuple_index_fail(i: i64, n: i64, pos: Pos) -> Box<Fail> {
    err(
        pos,
        format!("index {i} out of bound for a tuple of length {n}"),
    )
}

/// `s[i]` with negative indices counting from the end.
#[inline]
pub fn tuple_index(s: &[i64], i: i64, pos: Pos) -> R<i64> {
    let n = s.len() as i64;
    let j = if i < 0 { i.saturating_add(n) } else { i };
    if j < 0 || j >= n {
        return Err(tuple_index_fail(i, n, pos));
    }
    Ok(s[j as usize])
}

/// `x op y` elementwise for tuples of equal length.
pub fn tup_tup(op: BinOp, x: &[i64], y: &[i64], pos: Pos) -> R<Tup> {
    if x.len() != y.len() {
        return fail(
            pos,
            format!(
                "tuple length mismatch in `{}`: {} vs {}",
                op.as_str(),
                x.len(),
                y.len()
            ),
        );
    }
    let mut t = TupBuilder::new();
    for (p, q) in x.iter().zip(y) {
        t.push(arith(op, *p, *q, pos)?);
    }
    Ok(t.finish())
}

/// `x op y` with the integer `y` broadcast.
pub fn tup_int(op: BinOp, x: &[i64], y: i64, pos: Pos) -> R<Tup> {
    let mut t = TupBuilder::new();
    for p in x {
        t.push(arith(op, *p, y, pos)?);
    }
    Ok(t.finish())
}

/// `x op y` with the integer `x` broadcast.
pub fn int_tup(op: BinOp, x: i64, y: &[i64], pos: Pos) -> R<Tup> {
    let mut t = TupBuilder::new();
    for q in y {
        t.push(arith(op, x, *q, pos)?);
    }
    Ok(t.finish())
}

/// The elements `lo..hi` of `s`, Python-style (negative bounds count from the end, clamped).
pub fn slice_of(s: &[i64], lo: Option<i64>, hi: Option<i64>) -> Tup {
    let n = s.len() as i64;
    let norm = |b: Option<i64>, dflt: i64| -> i64 {
        match b {
            None => dflt,
            Some(b) if b < 0 => (b.saturating_add(n)).max(0),
            Some(b) => b.min(n),
        }
    };
    let (l, h) = (norm(lo, 0), norm(hi, n));
    match s.get(l.max(0) as usize..h.max(0) as usize) {
        Some(out) if l < h => Tup::from_slice(out),
        _ => Tup::from_slice(&[]),
    }
}

/// `v[lo:hi]` for a tuple or (its size) a machine space.
pub fn slice(v: &Value, lo: Option<i64>, hi: Option<i64>, pos: Pos) -> R<Tup> {
    match v {
        Value::Tuple(t) => Ok(slice_of(t.as_slice(), lo, hi)),
        Value::Space(sp) => Ok(slice_of(sp.size(), lo, hi)),
        _ => fail(
            pos,
            format!(
                "cannot slice {}; only tuples and machine spaces can be sliced",
                v.type_name()
            ),
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// Binary operators on values

/// `a op b` for every operator but `&&` and `||` (which short-circuit in the caller).
pub fn binary(op: BinOp, av: &Value, bv: &Value, pos: Pos) -> R<Value> {
    match op {
        BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Rem => match (av, bv) {
            (Value::Int(x), Value::Int(y)) => Ok(Value::Int(arith(op, *x, *y, pos)?)),
            (Value::Tuple(x), Value::Tuple(y)) => {
                tup_tup(op, x.as_slice(), y.as_slice(), pos).map(Value::Tuple)
            }
            (Value::Tuple(x), Value::Int(y)) => {
                tup_int(op, x.as_slice(), *y, pos).map(Value::Tuple)
            }
            (Value::Int(x), Value::Tuple(y)) => {
                int_tup(op, *x, y.as_slice(), pos).map(Value::Tuple)
            }
            _ => fail(
                pos,
                format!(
                    "cannot apply `{}` to {} and {}",
                    op.as_str(),
                    av.type_name(),
                    bv.type_name()
                ),
            ),
        },
        BinOp::Eq | BinOp::Ne => {
            let eq = match (av, bv) {
                (Value::Int(x), Value::Int(y)) => x == y,
                (Value::Bool(x), Value::Bool(y)) => x == y,
                (Value::Str(x), Value::Str(y)) => x == y,
                (Value::Tuple(x), Value::Tuple(y)) => x == y,
                (Value::Proc(x), Value::Proc(y)) => x == y,
                (Value::Space(x), Value::Space(y)) => space_eq(x, y),
                _ => {
                    return fail(
                        pos,
                        format!(
                            "cannot compare {} with {} using `{}`",
                            av.type_name(),
                            bv.type_name(),
                            op.as_str()
                        ),
                    )
                }
            };
            Ok(Value::Bool(eq == (op == BinOp::Eq)))
        }
        BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => match (av, bv) {
            (Value::Int(x), Value::Int(y)) => Ok(Value::Bool(compare(op, *x, *y))),
            _ => fail(
                pos,
                format!(
                    "`{}` compares integers, got {} and {}",
                    op.as_str(),
                    av.type_name(),
                    bv.type_name()
                ),
            ),
        },
        BinOp::And | BinOp::Or => fail(
            pos,
            "internal error: operator dispatched to the wrong evaluator",
        ),
    }
}

/// Integer ordering `x op y` for `< <= > >=`.
#[inline]
pub fn compare(op: BinOp, x: i64, y: i64) -> bool {
    match op {
        BinOp::Lt => x < y,
        BinOp::Le => x <= y,
        BinOp::Gt => x > y,
        _ => x >= y,
    }
}

/// Equality of machine spaces: the same space, or the same extents naming the same processors.
#[inline]
pub fn space_eq(x: &Arc<Space>, y: &Arc<Space>) -> bool {
    Arc::ptr_eq(x, y) || **x == **y
}

// ---------------------------------------------------------------------------------------------
// Fields

/// Field names of the language.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    /// `m.size`, `t.size` (a tuple's size is the tuple itself)
    Size,
    /// `m.len`, `t.len`
    Len,
    /// `m.volume`, `t.volume`
    Volume,
    /// `task.ipoint`
    Ipoint,
    /// `task.ispace`
    Ispace,
    /// `task.parent`
    Parent,
}

impl Field {
    /// Every field name.
    pub const NAMES: &'static [&'static str] =
        &["size", "len", "volume", "ipoint", "ispace", "parent"];

    /// The field called `s`.
    pub fn parse(s: &str) -> Option<Field> {
        Some(match s {
            "size" => Field::Size,
            "len" => Field::Len,
            "volume" => Field::Volume,
            "ipoint" => Field::Ipoint,
            "ispace" => Field::Ispace,
            "parent" => Field::Parent,
            _ => return None,
        })
    }

    /// The field's name.
    pub fn name(self) -> &'static str {
        match self {
            Field::Size => "size",
            Field::Len => "len",
            Field::Volume => "volume",
            Field::Ipoint => "ipoint",
            Field::Ispace => "ispace",
            Field::Parent => "parent",
        }
    }
}

#[cold]
#[inline(never)]
fn parent_field_fail(f: Field, pos: Pos) -> Box<Fail> {
    err(
        pos,
        format!(
            "`task.parent.{}` is not available: only the parent's processor is known (use `task.parent.processor(m)`)",
            f.name()
        ),
    )
}

/// `task.ipoint` / `task.ispace` of a task object.
#[inline]
pub fn task_tuple<'c>(t: TaskRef, ctx: &PointCtx<'c>, f: Field, pos: Pos) -> R<&'c [i64]> {
    match (t, f) {
        (TaskRef::Current, Field::Ipoint) => Ok(ctx.point),
        (TaskRef::Current, Field::Ispace) => Ok(ctx.domain),
        _ => Err(parent_field_fail(f, pos)),
    }
}

/// `task.parent` of a task object.
#[inline]
pub fn task_parent(t: TaskRef, pos: Pos) -> R<TaskRef> {
    match t {
        TaskRef::Current => Ok(TaskRef::Parent),
        TaskRef::Parent => Err(parent_field_fail(Field::Parent, pos)),
    }
}

/// `t.volume` of a tuple: the product of its elements (1 for the empty tuple).
#[inline]
pub fn tuple_volume(t: &[i64], pos: Pos) -> R<i64> {
    let mut v: i64 = 1;
    for &x in t {
        match v.checked_mul(x) {
            Some(p) => v = p,
            None => return fail(pos, "integer overflow in `volume`"),
        }
    }
    Ok(v)
}

/// A field of a value (`m.size`, `t.len`, `task.ipoint`, ...).
pub fn field_of(v: &Value, ctx: Option<&PointCtx<'_>>, f: Field, pos: Pos) -> R<Value> {
    match (v, f) {
        (Value::Space(s), Field::Size) => Ok(Value::Tuple(Tup::from_slice(s.size()))),
        (Value::Space(s), Field::Len) => Ok(Value::Int(s.len() as i64)),
        (Value::Space(s), Field::Volume) => Ok(Value::Int(s.volume())),
        (Value::Tuple(t), Field::Size) => Ok(Value::Tuple(t.clone())),
        (Value::Tuple(t), Field::Len) => Ok(Value::Int(t.as_slice().len() as i64)),
        (Value::Tuple(t), Field::Volume) => tuple_volume(t.as_slice(), pos).map(Value::Int),
        (Value::Task(t), Field::Ipoint | Field::Ispace | Field::Parent) => {
            let Some(ctx) = ctx else {
                return fail(pos, "no task is being mapped here");
            };
            if f == Field::Parent {
                return task_parent(*t, pos).map(Value::Task);
            }
            task_tuple(*t, ctx, f, pos).map(|s| Value::Tuple(Tup::from_slice(s)))
        }
        _ => fail(
            pos,
            format!("{} has no field `{}`", v.type_name(), f.name()),
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// Indexing

/// The error of indexing something that is neither a tuple nor a machine space.
#[cold]
#[inline(never)]
pub fn cannot_index(v: &Value, pos: Pos) -> Box<Fail> {
    err(
        pos,
        format!(
            "cannot index {}; only tuples and machine spaces can be indexed",
            v.type_name()
        ),
    )
}

/// The error of a tuple index list that is not exactly one index.
#[cold]
#[inline(never)]
pub fn tuple_one_index(pos: Pos) -> Box<Fail> {
    err(pos, "a tuple takes exactly one index")
}

/// `t[i]` where `iv` is the evaluated index (`ipos` its position, `pos` the indexing's).
#[inline]
pub fn tuple_index_value(t: &[i64], iv: &Value, ipos: Pos, pos: Pos) -> R<i64> {
    let i = int_of(iv, "a tuple index", ipos)?;
    tuple_index(t, i, pos)
}

/// `sp[idx...]` without wildcards.
#[inline]
pub fn space_get(sp: &Space, idx: &[i64], pos: Pos) -> R<Placement> {
    if sp.contains(idx) {
        Ok(Placement::Proc(sp.at(idx)))
    } else {
        Err(space_get_fail(sp, idx, pos))
    }
}

/// The error of `sp[idx...]` (out of line: only failures build a message).
#[cold]
#[inline(never)]
fn space_get_fail(sp: &Space, idx: &[i64], pos: Pos) -> Box<Fail> {
    match sp.get(idx) {
        Err(m) => err(pos, m),
        Ok(p) => err(
            pos,
            format!("internal error: {p} is in the space but its fast lookup failed"),
        ),
    }
}

/// An index list of a machine space being collected (integers, splats and `*` wildcards).
pub struct IdxBuf {
    buf: [i64; MAX_DIMS],
    wild: [bool; MAX_DIMS],
    n: usize,
    any_wild: bool,
    dims: usize,
}

impl IdxBuf {
    /// An empty index list for space `sp`.
    #[inline]
    pub fn new(sp: &Space) -> IdxBuf {
        IdxBuf {
            buf: [0; MAX_DIMS],
            wild: [false; MAX_DIMS],
            n: 0,
            any_wild: false,
            dims: sp.len(),
        }
    }

    #[cold]
    #[inline(never)]
    fn too_many(&self, pos: Pos) -> Box<Fail> {
        err(
            pos,
            format!("too many indices for a {}-D machine space", self.dims),
        )
    }

    /// Appends an evaluated index `v` written at `pos`.
    #[inline]
    pub fn push_value(&mut self, v: &Value, pos: Pos) -> R<()> {
        if self.n >= MAX_DIMS {
            return Err(self.too_many(pos));
        }
        self.buf[self.n] = int_of(v, "a machine-space index", pos)?;
        self.n += 1;
        Ok(())
    }

    /// Appends an integer index written at `pos`.
    #[inline]
    pub fn push_int(&mut self, i: i64, pos: Pos) -> R<()> {
        if self.n >= MAX_DIMS {
            return Err(self.too_many(pos));
        }
        self.buf[self.n] = i;
        self.n += 1;
        Ok(())
    }

    /// Appends the elements of a splatted tuple written at `pos`.
    #[inline]
    pub fn push_slice(&mut self, s: &[i64], pos: Pos) -> R<()> {
        for &i in s {
            self.push_int(i, pos)?;
        }
        Ok(())
    }

    /// Appends a splatted value (a tuple, else the splat error).
    #[inline]
    pub fn push_splat(&mut self, v: &Value, pos: Pos) -> R<()> {
        let s = splat_of(v, pos)?;
        self.push_slice(s, pos)
    }

    /// Appends a `*` wildcard written at `pos`.
    #[inline]
    pub fn push_wild(&mut self, pos: Pos) -> R<()> {
        if self.n >= MAX_DIMS {
            return Err(self.too_many(pos));
        }
        self.wild[self.n] = true;
        self.any_wild = true;
        self.n += 1;
        Ok(())
    }

    /// The processor (or node's processors) the index list names in `sp`.
    #[inline]
    pub fn get(&self, sp: &Space, pos: Pos) -> R<Placement> {
        if self.any_wild {
            let idx: Vec<Option<i64>> = (0..self.n)
                .map(|i| {
                    if self.wild[i] {
                        None
                    } else {
                        Some(self.buf[i])
                    }
                })
                .collect();
            sp.get_any(&idx).or_else(|m| fail(pos, m))
        } else {
            space_get(sp, &self.buf[..self.n], pos)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Methods

/// Method names of the language.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// `m.merge(d1, d2)`
    Merge,
    /// `m.split(d, f)`
    Split,
    /// `m.swap(d1, d2)`
    Swap,
    /// `m.slice(d, lo, hi)`
    Slice,
    /// `m.reverse(d)`
    Reverse,
    /// `m.balance_split(d, k)`
    BalanceSplit,
    /// `m.auto_split(d, v)` / `m.decompose(d, v)`
    AutoSplit,
    /// `m.greedy_split(d, v)`
    GreedySplit,
    /// `task.processor(m)`
    Processor,
}

impl Method {
    /// Every method name.
    pub const NAMES: &'static [&'static str] = &[
        "merge",
        "split",
        "swap",
        "slice",
        "reverse",
        "balance_split",
        "auto_split",
        "decompose",
        "greedy_split",
        "processor",
    ];

    /// The method called `s`.
    pub fn parse(s: &str) -> Option<Method> {
        Some(match s {
            "merge" => Method::Merge,
            "split" => Method::Split,
            "swap" => Method::Swap,
            "slice" => Method::Slice,
            "reverse" => Method::Reverse,
            "balance_split" => Method::BalanceSplit,
            "auto_split" | "decompose" => Method::AutoSplit,
            "greedy_split" => Method::GreedySplit,
            "processor" => Method::Processor,
            _ => return None,
        })
    }

    /// The method's (canonical) name.
    pub fn name(self) -> &'static str {
        match self {
            Method::Merge => "merge",
            Method::Split => "split",
            Method::Swap => "swap",
            Method::Slice => "slice",
            Method::Reverse => "reverse",
            Method::BalanceSplit => "balance_split",
            Method::AutoSplit => "auto_split",
            Method::GreedySplit => "greedy_split",
            Method::Processor => "processor",
        }
    }

    /// Number of arguments.
    pub fn arity(self) -> usize {
        match self {
            Method::Reverse | Method::Processor => 1,
            Method::Slice => 3,
            _ => 2,
        }
    }

    /// The argument list as written in documentation.
    pub fn signature(self) -> &'static str {
        match self {
            Method::Merge | Method::Swap => "(dim1, dim2)",
            Method::Split => "(dim, factor)",
            Method::Slice => "(dim, lo, hi)",
            Method::Reverse => "(dim)",
            Method::BalanceSplit => "(dim, parts)",
            Method::AutoSplit | Method::GreedySplit => "(dim, extents)",
            Method::Processor => "(machine_space)",
        }
    }

    /// True for the transforms that take an extents tuple as their second argument.
    pub fn takes_extents(self) -> bool {
        matches!(self, Method::AutoSplit | Method::GreedySplit)
    }
}

/// The error of calling method `m` with `got` arguments.
#[cold]
#[inline(never)]
pub fn method_arity(m: Method, got: usize, pos: Pos) -> Box<Fail> {
    err(
        pos,
        format!(
            "`{}` takes {} argument(s), got {}; call it as `.{}{}`",
            m.name(),
            m.arity(),
            got,
            m.name(),
            m.signature()
        ),
    )
}

/// The error of calling transform `m` on something that is not a machine space.
#[cold]
#[inline(never)]
pub fn not_a_space_method(m: Method, recv: &Value, pos: Pos) -> Box<Fail> {
    err(
        pos,
        format!(
            "`{}` is a method of machine spaces, not of {}",
            m.name(),
            recv.type_name()
        ),
    )
}

/// Integer argument `i` of method `m`.
#[inline]
pub fn method_int(m: Method, args: &[Value], i: usize, pos: Pos) -> R<i64> {
    match args.get(i) {
        Some(Value::Int(x)) => Ok(*x),
        Some(v) => Err(type_fail(
            v,
            &format!("argument {} of `{}`", i + 1, m.name()),
            "an integer",
            pos,
        )),
        None => Err(method_arity(m, args.len(), pos)),
    }
}

/// Extents argument of `auto_split`/`greedy_split`.
#[inline]
pub fn extents(m: Method, v: &[i64], pos: Pos) -> R<Extents> {
    Extents::new(v).or_else(|e| fail(pos, format!("{}: {e}", m.name())))
}

/// Tuple argument `i` of method `m`, as extents.
#[inline]
pub fn method_extents(m: Method, args: &[Value], i: usize, pos: Pos) -> R<Extents> {
    match args.get(i) {
        Some(Value::Tuple(t)) => extents(m, t.as_slice(), pos),
        Some(v) => fail(
            pos,
            format!(
                "argument {} of `{}` must be a tuple, got {}",
                i + 1,
                m.name(),
                v.type_name()
            ),
        ),
        None => Err(method_arity(m, args.len(), pos)),
    }
}

/// The transform `m(args)` (arity already checked), converting arguments left to right.
pub fn transform(m: Method, args: &[Value], pos: Pos) -> R<Transform> {
    let int = |i: usize| method_int(m, args, i, pos);
    Ok(match m {
        Method::Merge => Transform::Merge(int(0)?, int(1)?),
        Method::Split => Transform::Split(int(0)?, int(1)?),
        Method::Swap => Transform::Swap(int(0)?, int(1)?),
        Method::Slice => Transform::Slice(int(0)?, int(1)?, int(2)?),
        Method::Reverse => Transform::Reverse(int(0)?),
        Method::BalanceSplit => Transform::BalanceSplit(int(0)?, int(1)?),
        Method::AutoSplit => Transform::AutoSplit(int(0)?, method_extents(m, args, 1, pos)?),
        Method::GreedySplit => Transform::GreedySplit(int(0)?, method_extents(m, args, 1, pos)?),
        Method::Processor => {
            return fail(
                pos,
                "internal error: operator dispatched to the wrong evaluator",
            )
        }
    })
}

/// `sp.<t>`, memoized on `sp`.
#[inline]
pub fn apply(sp: &Arc<Space>, t: &Transform, pos: Pos) -> R<Arc<Space>> {
    sp.apply_cached(t).or_else(|m| fail(pos, m))
}

/// One call site's last transform: (source space, transform, result).
pub type SiteCache = RefCell<Option<(Arc<Space>, Transform, Arc<Space>)>>;

/// `sp.<t>` through a per-call-site, per-thread cache of the last result (a pointer comparison
/// and a key comparison when a placement function re-derives the same space point after
/// point), falling back to [`apply`].
#[inline]
pub fn apply_site(
    site: &'static LocalKey<SiteCache>,
    sp: &Arc<Space>,
    t: &Transform,
    pos: Pos,
) -> R<Arc<Space>> {
    if let Some(r) = site_lookup(site, sp, |k| k == t) {
        return Ok(r);
    }
    let r = apply(sp, t, pos)?;
    site_store(site, sp, *t, &r);
    Ok(r)
}

/// `sp.auto_split(d, v)` / `sp.greedy_split(d, v)` (`m` says which) through the call-site cache:
/// a hit compares the extents in place, without building a [`Transform`].
#[inline]
pub fn apply_site_split(
    site: &'static LocalKey<SiteCache>,
    sp: &Arc<Space>,
    m: Method,
    d: i64,
    v: &[i64],
    pos: Pos,
) -> R<Arc<Space>> {
    let hit = site_lookup(site, sp, |k| match (m, k) {
        (Method::AutoSplit, Transform::AutoSplit(d0, e0))
        | (Method::GreedySplit, Transform::GreedySplit(d0, e0)) => *d0 == d && e0.is(v),
        _ => false,
    });
    if let Some(r) = hit {
        return Ok(r);
    }
    let e = extents(m, v, pos)?;
    let t = if m == Method::GreedySplit {
        Transform::GreedySplit(d, e)
    } else {
        Transform::AutoSplit(d, e)
    };
    let r = apply(sp, &t, pos)?;
    site_store(site, sp, t, &r);
    Ok(r)
}

#[inline]
fn site_lookup(
    site: &'static LocalKey<SiteCache>,
    sp: &Arc<Space>,
    same: impl Fn(&Transform) -> bool,
) -> Option<Arc<Space>> {
    site.try_with(|c| match c.try_borrow() {
        Ok(c) => match &*c {
            Some((s, k, r)) if Arc::ptr_eq(s, sp) && same(k) => Some(Arc::clone(r)),
            _ => None,
        },
        Err(_) => None,
    })
    .ok()
    .flatten()
}

#[cold]
#[inline(never)]
fn site_store(site: &'static LocalKey<SiteCache>, sp: &Arc<Space>, t: Transform, r: &Arc<Space>) {
    let _ = site.try_with(|c| {
        if let Ok(mut c) = c.try_borrow_mut() {
            *c = Some((Arc::clone(sp), t, Arc::clone(r)));
        }
    });
}

/// `t.processor(sp)`: the coordinates of the task's processor in `sp`.
pub fn processor(t: TaskRef, sp: &Space, ctx: Option<&PointCtx<'_>>, pos: Pos) -> R<Tup> {
    let Some(ctx) = ctx else {
        return fail(pos, "no task is being mapped here");
    };
    if t == TaskRef::Current {
        return fail(
            pos,
            "the task being mapped has no processor yet; use `task.parent.processor(m)` for the launching task's",
        );
    }
    match sp.coords_of(ctx.parent_proc) {
        Ok(c) => Ok(Tup::from_slice(&c)),
        Err(msg) => fail(pos, msg),
    }
}

/// `recv.m(args)` on values.
pub fn method(
    recv: &Value,
    m: Method,
    args: &[Value],
    ctx: Option<&PointCtx<'_>>,
    pos: Pos,
) -> R<Value> {
    if args.len() != m.arity() {
        return Err(method_arity(m, args.len(), pos));
    }
    if m == Method::Processor {
        let Value::Task(t) = recv else {
            return fail(
                pos,
                format!(
                    "`processor` is a method of tasks, not of {}",
                    recv.type_name()
                ),
            );
        };
        let Some(Value::Space(sp)) = args.first() else {
            let got = args.first().map(Value::type_name).unwrap_or("nothing");
            return fail(pos, format!("`processor` takes a machine space, got {got}"));
        };
        return processor(*t, sp, ctx, pos).map(Value::Tuple);
    }
    let Value::Space(sp) = recv else {
        return Err(not_a_space_method(m, recv, pos));
    };
    let t = transform(m, args, pos)?;
    apply(sp, &t, pos).map(Value::Space)
}

// ---------------------------------------------------------------------------------------------
// User function calls

/// The check before entering a function at call depth `depth`.
#[inline]
pub fn depth_check(depth: usize, fname: &str, pos: Pos) -> R<()> {
    if depth >= MAX_CALL_DEPTH {
        return fail(
            pos,
            format!(
                "call depth limit of {MAX_CALL_DEPTH} exceeded calling `{fname}` (unbounded recursion?)"
            ),
        );
    }
    Ok(())
}

/// The error of calling `fname` (declaring `want` parameters) with `got` arguments.
#[cold]
#[inline(never)]
pub fn call_arity(fname: &str, want: usize, got: usize, pos: Pos) -> Box<Fail> {
    err(
        pos,
        format!("function `{fname}` takes {want} argument(s), got {got}"),
    )
}

/// True if `v` may be passed for a parameter of type `ty`.
#[inline]
pub fn param_accepts(ty: ParamType, v: &Value) -> bool {
    matches!(
        (ty, v),
        (ParamType::Task, Value::Task(_))
            | (ParamType::Int, Value::Int(_))
            | (ParamType::Bool, Value::Bool(_))
            | (
                ParamType::IPoint | ParamType::ISpace | ParamType::Tuple,
                Value::Tuple(_)
            )
            | (ParamType::MSpace, Value::Space(_))
    )
}

/// Checks argument `i` (0-based) of a call of `fname` against its declared type.
#[inline]
pub fn check_arg(v: &Value, i: usize, fname: &str, ty: ParamType, pos: Pos) -> R<()> {
    if param_accepts(ty, v) {
        return Ok(());
    }
    fail(
        pos,
        format!(
            "argument {} of `{fname}` is declared `{}` but got {}",
            i + 1,
            ty.as_str(),
            v.type_name()
        ),
    )
}

/// The error of a function body that ends without `return`.
#[cold]
#[inline(never)]
pub fn no_return(fname: &str, pos: Pos) -> Box<Fail> {
    err(pos, format!("function `{fname}` finished without `return`"))
}

/// An integer argument after [`check_arg`] (0 if the check was skipped by mistake).
#[inline]
pub fn arg_int(v: &Value) -> i64 {
    match v {
        Value::Int(i) => *i,
        _ => 0,
    }
}

/// A boolean argument after [`check_arg`].
#[inline]
pub fn arg_bool(v: &Value) -> bool {
    matches!(v, Value::Bool(true))
}

/// A tuple argument after [`check_arg`].
#[inline]
pub fn arg_tup(v: Value) -> Tup {
    match v {
        Value::Tuple(t) => t,
        _ => Tup::from_slice(&[]),
    }
}

/// A task argument after [`check_arg`].
#[inline]
pub fn arg_task(v: &Value) -> TaskRef {
    match v {
        Value::Task(t) => *t,
        _ => TaskRef::Current,
    }
}

/// A machine-space argument after [`check_arg`]; `fallback` if the check was skipped.
#[inline]
pub fn arg_space(v: Value, fallback: &Arc<Space>) -> Arc<Space> {
    match v {
        Value::Space(s) => s,
        _ => Arc::clone(fallback),
    }
}

/// Writes one `print` line (the pieces and the displayed arguments, already joined).
#[cold]
#[inline(never)]
pub fn print_line(line: &str) {
    eprintln!("{line}");
}

// ---------------------------------------------------------------------------------------------
// Narrowing to the checker's types (generated code)

/// A value whose run-time type is not the one the checker gave its expression.
#[cold]
#[inline(never)]
fn narrow_fail(v: &Value, want: &str) -> Box<Fail> {
    err(
        Pos::default(),
        format!(
            "internal error: the checker typed {} as {want}",
            v.type_name()
        ),
    )
}

/// `v` as an integer, which the checker says it is.
#[inline]
pub fn as_int(v: Value) -> R<i64> {
    match v {
        Value::Int(i) => Ok(i),
        other => Err(narrow_fail(&other, "an integer")),
    }
}

/// `v` as a boolean, which the checker says it is.
#[inline]
pub fn as_bool(v: Value) -> R<bool> {
    match v {
        Value::Bool(b) => Ok(b),
        other => Err(narrow_fail(&other, "a boolean")),
    }
}

/// `v` as a tuple, which the checker says it is.
#[inline]
pub fn as_tup(v: Value) -> R<Tup> {
    match v {
        Value::Tuple(t) => Ok(t),
        other => Err(narrow_fail(&other, "a tuple")),
    }
}

/// `v` as a tuple of `N` elements, which the checker says it is.
#[inline]
pub fn as_array<const N: usize>(v: Value) -> R<[i64; N]> {
    match &v {
        Value::Tuple(t) if t.as_slice().len() == N => {
            let mut a = [0i64; N];
            a.copy_from_slice(t.as_slice());
            Ok(a)
        }
        other => Err(narrow_fail(other, &format!("a tuple of {N} elements"))),
    }
}

/// `v` as a machine space, which the checker says it is.
#[inline]
pub fn as_space(v: Value) -> R<Arc<Space>> {
    match v {
        Value::Space(s) => Ok(s),
        other => Err(narrow_fail(&other, "a machine space")),
    }
}

/// `v` as a processor, which the checker says it is.
#[inline]
pub fn as_proc(v: Value) -> R<Placement> {
    match v {
        Value::Proc(p) => Ok(p),
        other => Err(narrow_fail(&other, "a processor")),
    }
}

/// `v` as a task, which the checker says it is.
#[inline]
pub fn as_task(v: Value) -> R<TaskRef> {
    match v {
        Value::Task(t) => Ok(t),
        other => Err(narrow_fail(&other, "a task")),
    }
}
