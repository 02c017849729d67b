//! Leader election on a `coordination.k8s.io/v1` Lease through kube-rs, with the semantics of
//! client-go's `leaderelection` as kube-controller-manager uses it:
//!
//! - a candidate creates the Lease if it is missing, or takes it over when it is free (released)
//!   or its holder has not renewed it for `leaseDurationSeconds`, timed by the candidate's own
//!   clock from when it saw the Lease last change (never by the holder's timestamps);
//! - every write is conditional on the resourceVersion read, so two candidates never both win;
//! - the leader renews every retry period, and stops leading when it could not renew for the
//!   renew deadline, which is shorter than the lease duration, so it has stopped before anyone
//!   may take over;
//! - on shutdown the leader releases the Lease (no holder, 1s), so another takes over at once.
//!
//! ```no_run
//! # async fn example(client: kube::Client) -> Result<(), election::Error> {
//! let shutdown = tokio_util::sync::CancellationToken::new();
//! election::run(election::Config::default(), client, shutdown, |leading| async move {
//!     // Work only the leader does, until `leading` is cancelled.
//!     leading.cancelled().await;
//! })
//! .await
//! # }
//! ```
//!
//! `decide` holds every rule as pure functions; `elector` is the loop that carries them out,
//! `lock` the Lease reads and conditional writes, `record` the fields of the Lease it owns.

mod config;
mod decide;
#[cfg(test)]
mod decide_tests;
mod elector;
mod error;
mod lock;
mod record;

pub use config::{
    Config, DEFAULT_LEASE_DURATION, DEFAULT_NAME, DEFAULT_NAMESPACE, DEFAULT_RENEW_DEADLINE,
    DEFAULT_RETRY_PERIOD, JITTER_FACTOR, default_identity,
};
pub use elector::run;
pub use error::{Error, Result};
