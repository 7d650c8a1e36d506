//! The mapping language: one front end shared by the `mapper!` macro and the run-time tools.
//!
//! The source is organised by pipeline stage; each stage depends only on earlier ones:
//!
//! 1. [`syntax`]: [`text`] (strip `#` comments, keep positions) -> [`lexer`] (flat tokens over
//!    `proc_macro2`) -> [`parse`] (statements and expressions) -> [`ast`]; [`print`] gives the
//!    canonical text form.
//! 2. [`sema`]: [`check`] (names, kinds, types, signatures; all errors collected) and [`bind`]
//!    (the statement tables for one application and machine, shared by both back ends).
//! 3. [`interp`]: the interpreter ([`interp::Interpreted`], [`eval`]) and the primitive
//!    operations ([`ops`]) that generated code calls too, over the values of [`value`].
//! 4. [`codegen`]: Rust code generation for `mapper!` ([`expand`], [`expand_gen`]).
//!
//! Beside the stages: [`machine`] (machine shapes and, in [`space`], machine spaces and their
//! transforms), [`policy`] (the one default policy, also reachable as `default`), and the shared
//! vocabulary ([`kinds`], [`app`], [`mapper`], [`diag`], [`span`]).

pub mod app;
pub mod codegen;
pub mod diag;
pub mod interp;
pub mod kinds;
pub mod machine;
pub mod mapper;
pub mod policy;
pub mod sema;
pub mod span;
pub mod syntax;

pub use codegen::{expand, expand_gen};
#[doc(hidden)]
pub use interp::ops;
pub use interp::{eval, value};
pub use machine::space;
pub use policy as default;
pub use sema::{bind, check};
pub use syntax::{ast, lexer, parse, print, text};

pub use app::{AppInfo, ArgInfo, TaskId, TaskInfo};
pub use diag::{Diagnostic, Severity};
pub use kinds::{Constraint, Layout, MemKind, ProcKind};
pub use machine::{MachineShape, Placement, ProcId};
pub use mapper::{BoundMapper, MapError, Mapper, PlaceResult, PointCtx};
pub use sema::checked::Checked;
