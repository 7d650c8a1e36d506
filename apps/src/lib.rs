//! apps crate.
