//! Defaulting (stub: being written).
