//! Run-time values of the mapping language, shared by the interpreter ([`super::eval`]), the
//! primitive operations ([`super::ops`]) and the code `mapper!` generates.

use crate::machine::Placement;
use crate::space::Space;
use std::fmt;
use std::sync::Arc;

/// A tuple of integers: inline up to [`Tup::INLINE`] elements, shared on the heap beyond.
#[derive(Clone)]
pub enum Tup {
    /// Small tuple stored inline.
    Inline {
        /// Number of elements.
        len: u8,
        /// Elements (only `..len` are meaningful).
        buf: [i64; Tup::INLINE],
    },
    /// Larger tuple.
    Heap(Arc<[i64]>),
}

impl Tup {
    /// Elements stored inline.
    pub const INLINE: usize = 4;

    /// A tuple with the given elements.
    #[inline]
    pub fn from_slice(s: &[i64]) -> Tup {
        if s.len() <= Tup::INLINE {
            let mut buf = [0; Tup::INLINE];
            buf[..s.len()].copy_from_slice(s);
            Tup::Inline {
                len: s.len() as u8,
                buf,
            }
        } else {
            Tup::Heap(s.into())
        }
    }

    /// The elements.
    #[inline]
    pub fn as_slice(&self) -> &[i64] {
        match self {
            Tup::Inline { len, buf } => &buf[..usize::from(*len)],
            Tup::Heap(a) => a,
        }
    }
}

impl PartialEq for Tup {
    fn eq(&self, o: &Tup) -> bool {
        self.as_slice() == o.as_slice()
    }
}

impl fmt::Debug for Tup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_tuple(f, self.as_slice())
    }
}

fn write_tuple(f: &mut fmt::Formatter<'_>, s: &[i64]) -> fmt::Result {
    f.write_str("(")?;
    for (i, x) in s.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{x}")?;
    }
    if s.len() == 1 {
        f.write_str(",")?;
    }
    f.write_str(")")
}

/// Which task a task object denotes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskRef {
    /// The task point being mapped.
    Current,
    /// The task that launched it.
    Parent,
}

/// A run-time value.
#[derive(Clone, Debug)]
pub enum Value {
    /// An integer.
    Int(i64),
    /// A boolean.
    Bool(bool),
    /// A string (only as a `print` argument).
    Str(Arc<str>),
    /// A tuple of integers.
    Tuple(Tup),
    /// A machine space.
    Space(Arc<Space>),
    /// A processor (or a node's set of processors).
    Proc(Placement),
    /// A task object.
    Task(TaskRef),
}

impl Value {
    /// The value's type, with an article, for error messages (`an integer`, `a tuple`).
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Int(_) => "an integer",
            Value::Bool(_) => "a boolean",
            Value::Str(_) => "a string",
            Value::Tuple(_) => "a tuple",
            Value::Space(_) => "a machine space",
            Value::Proc(_) => "a processor",
            Value::Task(_) => "a task",
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Int(i) => write!(f, "{i}"),
            Value::Bool(b) => f.write_str(if *b { "True" } else { "False" }),
            Value::Str(s) => f.write_str(s),
            Value::Tuple(t) => write_tuple(f, t.as_slice()),
            Value::Space(s) => {
                write!(f, "Machine({}) of size ", s.kind())?;
                write_tuple(f, s.size())
            }
            Value::Proc(Placement::Proc(p)) => write!(f, "{p}"),
            Value::Proc(Placement::AnyOnNode { node, kind }) => write!(f, "{kind}[{node}, *]"),
            Value::Task(TaskRef::Current) => f.write_str("task"),
            Value::Task(TaskRef::Parent) => f.write_str("task.parent"),
        }
    }
}
