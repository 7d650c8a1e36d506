//! The abstract syntax tree of a mapper, with spans. Spans compare equal, so two ASTs are equal
//! when they have the same structure (see [`crate::span::Span`]).

use crate::kinds::{Constraint, MemKind, ProcKind};
use crate::span::{Ident, Span, Spanned};

/// A whole mapper: statements in source order.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Program {
    /// Top-level statements.
    pub stmts: Vec<Stmt>,
}

/// Task selector `NAMES`: `*` or a comma-separated list of task names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TaskNames {
    /// `*`: every task.
    Any(Span),
    /// A list of task names.
    List(Vec<Ident>),
    /// A processor kind (only in `IndexTaskMap` and `SingleTaskMap`): the launches of tasks
    /// that run on that kind and have no entry by name.
    Kind(Spanned<ProcKind>),
}

/// Task selector `TASK`: `*` or one task name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TaskSel {
    /// `*`
    Any(Span),
    /// One task name.
    Named(Ident),
}

/// Region selector: `*`, a region name, or a 0-based argument index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RegionSel {
    /// `*`
    Any(Span),
    /// A region or argument name.
    Named(Ident),
    /// A 0-based argument index.
    Index(Spanned<u32>),
}

/// Processor-kind selector: `*` or a kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProcSel {
    /// `*`
    Any(Span),
    /// One processor kind.
    Kind(Spanned<ProcKind>),
}

/// The kind column of a `Layout` statement: `*`, a memory kind or a processor kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LayoutTarget {
    /// `*`
    Any(Span),
    /// Instances in memories of this kind.
    Mem(Spanned<MemKind>),
    /// Instances used by tasks running on processors of this kind.
    Proc(Spanned<ProcKind>),
}

/// A top-level statement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stmt {
    /// `Task NAMES KIND[,KIND...];`
    Task {
        /// Tasks the statement applies to.
        tasks: TaskNames,
        /// Processor-kind priority list.
        kinds: Vec<Spanned<ProcKind>>,
        /// The whole statement.
        span: Span,
    },
    /// `Region TASK REGION PROC MEM[,MEM...];`
    Region {
        /// Task selector.
        task: TaskSel,
        /// Region selector.
        region: RegionSel,
        /// Processor kind the rule applies to.
        proc: ProcSel,
        /// Memory-kind priority list.
        mems: Vec<Spanned<MemKind>>,
        /// The whole statement.
        span: Span,
    },
    /// `Layout TASK REGION KIND CONSTRAINT+;`
    Layout {
        /// Task selector.
        task: TaskSel,
        /// Region selector.
        region: RegionSel,
        /// Memory or processor kind the rule applies to.
        target: LayoutTarget,
        /// Constraints, in order.
        constraints: Vec<Spanned<Constraint>>,
        /// The whole statement.
        span: Span,
    },
    /// `InstanceLimit TASK [PROC] N;`
    InstanceLimit {
        /// Task selector.
        task: TaskSel,
        /// Optional processor kind.
        proc: Option<ProcSel>,
        /// The limit.
        limit: Spanned<i64>,
        /// The whole statement.
        span: Span,
    },
    /// `CollectMemory TASK REGION;`
    CollectMemory {
        /// Task selector.
        task: TaskSel,
        /// Region selector.
        region: RegionSel,
        /// The whole statement.
        span: Span,
    },
    /// `IndexTaskMap NAMES FUNC;` or `IndexTaskMap KIND FUNC;`
    IndexTaskMap {
        /// Tasks the statement applies to (or the processor kind it is the fallback for).
        tasks: TaskNames,
        /// Placement function.
        func: Ident,
        /// The whole statement.
        span: Span,
    },
    /// `SingleTaskMap NAMES FUNC;` or `SingleTaskMap KIND FUNC;`
    SingleTaskMap {
        /// Tasks the statement applies to (or the processor kind it is the fallback for).
        tasks: TaskNames,
        /// Placement function.
        func: Ident,
        /// The whole statement.
        span: Span,
    },
    /// `ControlReplicate NAMES;`
    ControlReplicate {
        /// Tasks the statement applies to.
        tasks: TaskNames,
        /// The whole statement.
        span: Span,
    },
    /// `NAME = EXPR;` at top level.
    Assign {
        /// Bound name.
        name: Ident,
        /// Value.
        value: Expr,
        /// The whole statement.
        span: Span,
    },
    /// `def NAME(TYPE ARG, ...) { STMT* }`
    Def(FuncDef),
}

/// Parameter types of functions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ParamType {
    /// `Task`: a task object.
    Task,
    /// `int`
    Int,
    /// `bool`
    Bool,
    /// `IPoint`: an index point (tuple).
    IPoint,
    /// `ISpace`: an index-space extent (tuple).
    ISpace,
    /// `MSpace`: a machine space.
    MSpace,
    /// `Tuple`
    Tuple,
}

impl ParamType {
    /// Every parameter type.
    pub const ALL: &'static [ParamType] = &[
        ParamType::Task,
        ParamType::Int,
        ParamType::Bool,
        ParamType::IPoint,
        ParamType::ISpace,
        ParamType::MSpace,
        ParamType::Tuple,
    ];

    /// The spelling of the type.
    pub fn as_str(self) -> &'static str {
        match self {
            ParamType::Task => "Task",
            ParamType::Int => "int",
            ParamType::Bool => "bool",
            ParamType::IPoint => "IPoint",
            ParamType::ISpace => "ISpace",
            ParamType::MSpace => "MSpace",
            ParamType::Tuple => "Tuple",
        }
    }

    /// Parses the exact spelling.
    pub fn parse(s: &str) -> Option<ParamType> {
        ParamType::ALL.iter().copied().find(|t| t.as_str() == s)
    }
}

/// One function parameter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Param {
    /// Declared type.
    pub ty: Spanned<ParamType>,
    /// Name.
    pub name: Ident,
}

/// A function definition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FuncDef {
    /// Function name.
    pub name: Ident,
    /// Parameters.
    pub params: Vec<Param>,
    /// Body statements.
    pub body: Vec<FnStmt>,
    /// The whole definition.
    pub span: Span,
}

/// A statement inside a function body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FnStmt {
    /// `NAME = EXPR;`
    Assign {
        /// Bound name.
        name: Ident,
        /// Value.
        value: Expr,
        /// The whole statement.
        span: Span,
    },
    /// `return EXPR;`
    Return {
        /// Returned value.
        value: Expr,
        /// The whole statement.
        span: Span,
    },
    /// `print("fmt {}", EXPR, ...);`
    Print {
        /// Format string; each `{}` takes the next argument.
        format: Spanned<String>,
        /// Arguments.
        args: Vec<Expr>,
        /// The whole statement.
        span: Span,
    },
}

/// An expression with its span.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expr {
    /// What the expression is.
    pub kind: ExprKind,
    /// Where it was written.
    pub span: Span,
}

impl Expr {
    /// Builds an expression.
    pub fn new(kind: ExprKind, span: Span) -> Self {
        Expr { kind, span }
    }
}

/// Unary operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnOp {
    /// `-x`
    Neg,
    /// `!x`
    Not,
}

/// Binary operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinOp {
    /// `||`
    Or,
    /// `&&`
    And,
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/` (truncating)
    Div,
    /// `%` (truncating)
    Rem,
}

impl BinOp {
    /// The operator's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            BinOp::Or => "||",
            BinOp::And => "&&",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Rem => "%",
        }
    }

    /// Binding strength: higher binds tighter (`||` = 1 ... `* / %` = 5).
    pub fn precedence(self) -> u8 {
        match self {
            BinOp::Or => 1,
            BinOp::And => 2,
            BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => 3,
            BinOp::Add | BinOp::Sub => 4,
            BinOp::Mul | BinOp::Div | BinOp::Rem => 5,
        }
    }
}

/// Expression forms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExprKind {
    /// Integer literal (non-negative as written; negation is [`UnOp::Neg`]).
    Int(i64),
    /// `True` / `False`.
    Bool(bool),
    /// String literal (only valid as a `print` argument).
    Str(String),
    /// A variable, parameter, global or function name.
    Var(String),
    /// `Machine(KIND)`: the machine space of processors of a kind.
    Machine(Spanned<ProcKind>),
    /// `(a, b, ...)`; a one-element tuple is written `(a,)`; `(e)` is just `e` (the printer adds
    /// parentheses where precedence needs them). Elements may be [`ExprKind::Splat`].
    Tuple(Vec<Expr>),
    /// `*e`: splat a tuple into the enclosing tuple, index list or argument list.
    Splat(Box<Expr>),
    /// `*` as an index of a machine space: `m[i, *]`.
    Wildcard,
    /// Unary operation.
    Unary(UnOp, Box<Expr>),
    /// Binary operation.
    Binary(BinOp, Box<Expr>, Box<Expr>),
    /// `c ? a : b`.
    Ternary(Box<Expr>, Box<Expr>, Box<Expr>),
    /// `x[i, j, ...]`.
    Index(Box<Expr>, Vec<Expr>),
    /// `x[a:b]` with optional bounds.
    Slice(Box<Expr>, Option<Box<Expr>>, Option<Box<Expr>>),
    /// `x.field`.
    Field(Box<Expr>, Ident),
    /// `x.method(args)`.
    Method(Box<Expr>, Ident, Vec<Expr>),
    /// `f(args)`.
    Call(Ident, Vec<Expr>),
    /// `tuple(EXPR for NAME in TUPLE)`.
    TupleComp {
        /// Element expression.
        body: Box<Expr>,
        /// Loop variable.
        var: Ident,
        /// Tuple iterated over.
        iter: Box<Expr>,
    },
}
