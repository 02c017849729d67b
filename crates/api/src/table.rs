//! Server-side Table printing (stub: being written).
