//! Stage 1, syntax: text and tokens -> [`ast::Program`]. [`text`] strips `#` comments keeping
//! positions and pre-scans delimiters; [`lexer`] flattens `proc_macro2` tokens; [`parse`] is the
//! recursive-descent parser (statements in `parse/stmt.rs`, expressions in `parse/expr.rs`);
//! [`print`] is the canonical printer (`parse(print(ast)) == ast`).

pub mod ast;
pub mod lexer;
pub mod parse;
pub mod print;
pub mod text;
