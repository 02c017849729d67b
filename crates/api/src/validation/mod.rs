//! Validation (stub: being written).
