//! The small controller runtime shared by every controller: reflector caches over kube-rs
//! watchers ([`informers`]), a deduplicating work queue with per-key backoff ([`queue`]), and
//! create expectations that keep a stale cache from causing duplicate creates
//! ([`expectations`]). It never decides what objects should exist; controllers do.

pub mod cache;
pub mod expectations;
pub mod informers;
pub mod queue;
pub mod worker;

pub use cache::Cache;
pub use expectations::Expectations;
pub use informers::{Change, Informers, Kind, Obj};
pub use queue::WorkQueue;
pub use worker::{Action, Reconciler, run_worker};
