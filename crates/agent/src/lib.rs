//! Node agent (being written).
