//! TODO: default (being written).
