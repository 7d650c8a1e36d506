//! TODO: text (being written).
