//! Stage 4b, code generation for `mapper!`: [`expand`] (header, diagnostics as compile errors,
//! application-name references, the stub on error) and [`expand_gen`] (the Rust code of the
//! mapper: typed placement functions, globals, the `Mapper` impl).

pub mod expand;
pub mod expand_gen;
pub mod lift;
