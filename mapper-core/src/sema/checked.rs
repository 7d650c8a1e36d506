//! The checked program: what [`crate::check::check_program`] produces and every later stage
//! consumes. The interpreter ([`crate::interp`]), the statement tables ([`crate::bind`]) and the
//! code generator ([`crate::codegen`]) take a [`Checked`], never a bare syntax tree, so no stage
//! parses, resolves or type-checks the program again, and every error kind has the checker's one
//! message.

use crate::ast::{ParamType, Program};
use crate::diag::Diagnostic;
use crate::span::Span;
use std::fmt;

/// Statically known type of an expression (`Unknown` when the checker cannot tell).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Type {
    /// An integer.
    Int,
    /// A boolean.
    Bool,
    /// A string (only as a `print` argument).
    Str,
    /// A tuple of integers, with its length when known.
    Tuple(Option<usize>),
    /// A machine space, with its number of dimensions when known.
    Space(Option<usize>),
    /// A processor (or a node's processors of one kind).
    Proc,
    /// The task being mapped.
    Task,
    /// `task.parent`: only its processor is known.
    Parent,
    /// Not known statically.
    Unknown,
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Type::Int => "int",
            Type::Bool => "bool",
            Type::Str => "string",
            Type::Tuple(_) => "tuple",
            Type::Space(_) => "machine space",
            Type::Proc => "processor",
            Type::Task | Type::Parent => "task",
            Type::Unknown => "unknown",
        })
    }
}

/// A function of the program, as calls and placement statements resolve it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FuncSig {
    /// The function's name.
    pub name: String,
    /// Declared parameter types, in order.
    pub params: Vec<ParamType>,
    /// The type of the value it returns (its first `return`), `Unknown` without one.
    pub ret: Type,
    /// The span of its name (for bind-time diagnostics).
    pub span: Span,
}

/// A global variable: its type once the whole file has run (what function bodies see).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GlobalSig {
    /// The global's name.
    pub name: String,
    /// Its type after the last top-level assignment.
    pub ty: Type,
    /// Its value, when it is a constant integer assigned exactly once.
    pub constant: Option<i64>,
}

/// A program that passed the checker (no errors), with what the checker worked out about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checked {
    /// The syntax tree.
    pub program: Program,
    /// Functions in definition order (the index is the function's id in every back end).
    pub funcs: Vec<FuncSig>,
    /// Globals in order of first assignment (the index is the global's id).
    pub globals: Vec<GlobalSig>,
    /// The checker's warnings.
    pub warnings: Vec<Diagnostic>,
}

impl Checked {
    /// The id of function `name`.
    pub fn func_id(&self, name: &str) -> Option<usize> {
        self.funcs.iter().position(|f| f.name == name)
    }

    /// The id of global `name`.
    pub fn global_id(&self, name: &str) -> Option<usize> {
        self.globals.iter().position(|g| g.name == name)
    }
}
