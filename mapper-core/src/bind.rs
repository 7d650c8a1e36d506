//! TODO: bind (being written).
