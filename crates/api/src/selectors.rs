//! Label and field selectors (stub: being written).
