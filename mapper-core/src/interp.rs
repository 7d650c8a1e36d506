//! TODO: interp (being written).
