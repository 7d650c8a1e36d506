//! TODO: space (being written).
