//! The mapping language: one front end shared by the `mapper!` macro and the run-time tools.
//!
//! Pipeline: [`text`] (strip `#` comments, keep positions) -> [`parse`] (over `proc_macro2`
//! tokens) -> [`ast`] -> [`check`] (names, kinds, types, signatures; all errors collected) ->
//! back ends: [`eval`]/[`interp`] (the interpreter, behind the [`mapper::Mapper`] trait) and
//! [`expand`] (Rust code generation for `mapper!`). [`print`] gives the canonical text form.
//! [`bind`] resolves the statement tables (kinds, memories, layouts, limits) shared by both back
//! ends. [`space`] implements machine spaces and their transforms; [`default`] the runtime defaults.

pub mod app;
pub mod ast;
pub mod bind;
pub mod check;
pub mod default;
pub mod diag;
pub mod eval;
pub mod expand;
pub mod expand_gen;
pub mod interp;
pub mod kinds;
pub mod machine;
pub mod mapper;
#[doc(hidden)]
pub mod ops;
pub mod parse;
pub mod print;
pub mod space;
pub mod span;
pub mod text;

pub use app::{AppInfo, ArgInfo, TaskId, TaskInfo};
pub use diag::{Diagnostic, Severity};
pub use kinds::{Constraint, Layout, MemKind, ProcKind};
pub use machine::{MachineShape, Placement, ProcId};
pub use mapper::{BoundMapper, MapError, Mapper, PointCtx};
