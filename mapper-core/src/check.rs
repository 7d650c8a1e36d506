//! TODO: check (being written).
