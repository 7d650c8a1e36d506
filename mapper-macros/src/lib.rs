//! The mapper! procedural macro.
