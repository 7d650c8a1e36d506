//! runtime crate.
