//! svcplane's simulated node agent, modelled on kwok: it registers Nodes (with Leases and
//! heartbeats), schedules pending pods onto them, and plays the kubelet for the pods bound
//! there — pod IPs from the node's pod CIDR, Pending → Running → Ready, graceful deletion. No
//! containers run and the simulated addresses are data only.
//!
//! The decisions are pure and unit-tested ([`cidr`], [`ipam`], [`schedule`], [`pod_plan`],
//! [`node_plan`]); `runtime` runs them as level-triggered kube-rs reconcile loops that derive
//! everything from the API (pod IPs in use, node CIDRs), so they are correct after a restart
//! or a watch relist.
//!
//! Knobs for tests and demos (see [`config`]): the pod annotation `svcplane.dev/ready: "false"`
//! keeps a pod not ready; the node annotation `svcplane.dev/node-ready: "false"` reports its
//! node NotReady (its pods turn not ready; nothing new is scheduled there).

pub mod cidr;
pub mod config;
pub mod error;
pub mod ipam;
pub mod node_plan;
mod pod_cache;
pub mod pod_plan;
mod runtime;
pub mod schedule;

pub use cidr::Ipv4Cidr;
pub use config::{
    Config, NODE_READY_ANNOTATION, POD_READY_ANNOTATION, SIMULATED_ANNOTATION, parse_duration,
};
pub use error::Error;

/// Run the agent against the API `client` talks to until `shutdown` is cancelled. With
/// `config.nodes == 0` it returns at once and does nothing.
pub async fn run(
    config: Config,
    client: kube::Client,
    shutdown: tokio_util::sync::CancellationToken,
) -> Result<(), Error> {
    runtime::run(config, client, shutdown).await
}
