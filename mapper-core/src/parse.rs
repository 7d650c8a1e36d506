//! TODO: parse (being written).
