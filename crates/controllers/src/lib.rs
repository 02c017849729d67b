//! svcplane's controllers: EndpointSlices (and their mirroring from user Endpoints), legacy
//! Endpoints, ReplicaSets, Deployments, StatefulSets and the garbage collector.
//!
//! Each controller is a pure `plan` (desired objects from a snapshot of the caches, unit-tested
//! with tables) and a thin reconcile that writes the difference through kube-rs, like any other
//! API client. Controllers are level-triggered: changes only queue keys, a reconcile reads the
//! latest cached state, a stale cache means requeue (never a duplicate create), and a re-listed
//! watch (`410 Gone`) re-checks every key. This crate never touches the store directly.

pub mod cached_pod;
pub mod cached_workload;
pub mod deployment;
pub mod endpoints;
pub mod endpointslice;
mod error;
pub mod events;
pub mod gc;
pub mod podutil;
pub mod replicaset;
pub mod runtime;
pub mod service;
pub mod statefulset;
#[cfg(test)]
mod testutil;

use std::sync::Arc;
use std::time::Duration;

use kube::Client;
use tokio_util::sync::CancellationToken;

pub use error::{Error, Result};

/// Controller settings. `Config::default()` matches kube-controller-manager's defaults.
#[derive(Debug, Clone)]
pub struct Config {
    /// Run no controller at all (`--no-controllers`). Default: false.
    pub disabled: bool,
    /// Most endpoints in one EndpointSlice (`--max-endpoints-per-slice`). Default: 100.
    pub max_endpoints_per_slice: usize,
    /// Most addresses in one Endpoints object before it is truncated. Default: 1000.
    pub max_endpoints_addresses: usize,
    /// How often every key is reconciled even without a change. Default: 5 minutes.
    pub resync_period: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            disabled: false,
            max_endpoints_per_slice: 100,
            max_endpoints_addresses: 1000,
            resync_period: Duration::from_secs(300),
        }
    }
}

/// Run every controller until `shutdown` is cancelled.
pub async fn run(config: Config, client: Client, shutdown: CancellationToken) -> Result<()> {
    if config.disabled {
        return Ok(());
    }
    let (informers, mut tasks) = runtime::Informers::start(&client, &shutdown);
    // Every controller subscribes before the caches are ready, so no change is lost between.
    let subs: Vec<_> = (0..7).map(|_| informers.subscribe()).collect();
    tokio::select! {
        _ = shutdown.cancelled() => return Ok(()),
        r = informers.wait_ready() => r?,
    }
    tracing::info!("controller caches synced; starting controllers");
    let mut subs = subs.into_iter();
    let mut next = || subs.next().expect("one subscription per controller");
    let resync = config.resync_period;
    macro_rules! spawn {
        ($r:expr) => {
            tasks.push(tokio::spawn(runtime::run_worker(
                Arc::new($r),
                next(),
                resync,
                shutdown.clone(),
            )))
        };
    }
    spawn!(endpointslice::SliceController::new(
        client.clone(),
        informers.clone(),
        &config
    ));
    spawn!(endpointslice::MirrorController::new(
        client.clone(),
        informers.clone(),
        &config
    ));
    spawn!(endpoints::EndpointsController::new(
        client.clone(),
        informers.clone(),
        &config
    ));
    spawn!(replicaset::ReplicaSetController::new(
        client.clone(),
        informers.clone()
    ));
    spawn!(deployment::DeploymentController::new(
        client.clone(),
        informers.clone()
    ));
    spawn!(gc::GarbageCollector::new(client.clone(), informers.clone()));
    spawn!(statefulset::StatefulSetController::new(
        client.clone(),
        informers.clone()
    ));
    shutdown.cancelled().await;
    for t in tasks {
        let _ = t.await;
    }
    Ok(())
}
