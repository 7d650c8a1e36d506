//! TODO: print (being written).
