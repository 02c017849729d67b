//! Decoding (stub: being written).
