//! Resource registry (stub: being written).
pub struct ResourceType;
pub enum Scope { Namespaced, Cluster }
