//! TODO: expand (being written).
