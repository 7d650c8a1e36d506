//! Stage 2, semantics: [`check`] (names, kinds, signatures, types; every error collected) and
//! [`bind`] (the statement tables for one application on one machine, with DSL.md precedence).
//! `bind` runs `check`; `check` depends on no later stage.

pub mod bind;
pub mod check;
pub mod checked;
