//! Node registration, status reports and Leases.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, NodeStatus};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::reflector::ObjectRef;
use kube::{Client, ResourceExt};
use tokio_util::sync::CancellationToken;

use super::{Ctx, api_code};
use crate::cidr::Ipv4Cidr;
use crate::config::Config;
use crate::error::Result;
use crate::ipam::assign_node_cidrs;
use crate::node_plan::{
    LEASE_NAMESPACE, forced_not_ready, last_heartbeat, lease, new_node, node_metadata, node_status,
    pod_cidr, status_differs,
};

const MANAGER: &str = "svcplane-agent";
/// How often the node loop looks at the cache (annotation flips take effect within this).
const TICK: Duration = Duration::from_secs(1);
/// A report the cache does not show yet is not repeated sooner than this.
const REPORT_SETTLE: Duration = Duration::from_secs(2);

fn params() -> PatchParams {
    PatchParams {
        field_manager: Some(MANAGER.into()),
        ..PatchParams::default()
    }
}

/// Create our nodes (or adopt them, keeping their pod CIDRs) and report their status once, so
/// the scheduler finds them Ready from the start.
pub(super) async fn register(client: &Client, config: &Config) -> Result<()> {
    let api: Api<Node> = Api::all(client.clone());
    let existing = api.list(&ListParams::default()).await?.items;
    ensure_nodes(client, config, &existing).await?;
    let now = Timestamp::now();
    for name in config.node_names() {
        let current = api.get(&name).await?;
        report(client, config, &current, now).await?;
    }
    Ok(())
}

/// Create missing nodes and put our labels, annotation and pod CIDR on existing ones.
async fn ensure_nodes(client: &Client, config: &Config, existing: &[Node]) -> Result<()> {
    let api: Api<Node> = Api::all(client.clone());
    let stored: BTreeMap<String, Ipv4Cidr> = existing
        .iter()
        .filter_map(|n| Some((n.name_any(), pod_cidr(n)?)))
        .collect();
    let wanted: Vec<(String, u64)> = (1..=config.nodes)
        .map(|i| (config.node_name(i), u64::from(i)))
        .collect();
    let cidrs = assign_node_cidrs(
        config.cluster_cidr,
        config.node_cidr_prefix,
        &wanted,
        &stored,
    )?;
    let by_name: HashMap<String, &Node> = existing.iter().map(|n| (n.name_any(), n)).collect();
    for (name, cidr) in &cidrs {
        match by_name.get(name).copied() {
            None => match api
                .create(&PostParams::default(), &new_node(name, *cidr))
                .await
            {
                Ok(_) => {
                    tracing::info!(node = %name, pod_cidr = %cidr, "registered simulated node")
                }
                Err(e) if api_code(&e) == Some(409) => {}
                Err(e) => return Err(e.into()),
            },
            Some(node) => {
                let (labels, annotations) = node_metadata(name);
                let has = |have: Option<&BTreeMap<String, String>>,
                           want: &BTreeMap<String, String>| {
                    want.iter()
                        .all(|(k, v)| have.and_then(|h| h.get(k)) == Some(v))
                };
                let mut patch = serde_json::Map::new();
                if !has(node.metadata.labels.as_ref(), &labels)
                    || !has(node.metadata.annotations.as_ref(), &annotations)
                {
                    patch.insert(
                        "metadata".into(),
                        serde_json::json!({"labels": labels, "annotations": annotations}),
                    );
                }
                if pod_cidr(node).is_none() {
                    patch.insert(
                        "spec".into(),
                        serde_json::json!({"podCIDR": cidr.to_string(), "podCIDRs": [cidr.to_string()]}),
                    );
                }
                if !patch.is_empty() {
                    api.patch(
                        name,
                        &params(),
                        &Patch::Merge(serde_json::Value::Object(patch)),
                    )
                    .await?;
                }
            }
        }
    }
    Ok(())
}

/// Write the node's status report (a heartbeat).
async fn report(
    client: &Client,
    config: &Config,
    node: &Node,
    now: Timestamp,
) -> Result<NodeStatus> {
    let name = node.name_any();
    let index = config.node_index(&name).unwrap_or_default();
    let status = node_status(
        node.status.as_ref(),
        &name,
        index,
        !forced_not_ready(node),
        now,
    );
    let api: Api<Node> = Api::all(client.clone());
    api.patch_status(
        &name,
        &params(),
        &Patch::Merge(serde_json::json!({"status": status})),
    )
    .await?;
    Ok(status)
}

async fn renew_lease(client: &Client, config: &Config, node: &Node) -> Result<()> {
    let name = node.name_any();
    let api: Api<Lease> = Api::namespaced(client.clone(), LEASE_NAMESPACE);
    let l = lease(
        &name,
        node.uid().as_deref(),
        config.lease_duration_seconds,
        Timestamp::now(),
    );
    match api
        .patch(
            &name,
            &params(),
            &Patch::Merge(serde_json::json!({"spec": l.spec})),
        )
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if api_code(&e) == Some(404) => match api.create(&PostParams::default(), &l).await {
            Ok(_) => Ok(()),
            Err(e) if api_code(&e) == Some(409) => Ok(()),
            Err(e) => Err(e.into()),
        },
        Err(e) => Err(e.into()),
    }
}

/// A hash of what a pod's scheduling and readiness depend on in a node: its labels,
/// annotations, spec (unschedulable, taints, pod CIDR), whether it is Ready and how many pods
/// it takes.
pub(super) fn scheduling_fingerprint(node: &Node) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    node.metadata.labels.hash(&mut h);
    node.metadata.annotations.hash(&mut h);
    serde_json::to_string(&node.spec)
        .unwrap_or_default()
        .hash(&mut h);
    crate::node_plan::is_ready(node).hash(&mut h);
    node.status
        .as_ref()
        .and_then(|s| s.allocatable.as_ref()?.get("pods"))
        .map(|q| &q.0)
        .hash(&mut h);
    h.finish()
}

/// Every tick: recreate deleted nodes, report status when it changed (e.g. the
/// `svcplane.dev/node-ready` annotation) or the heartbeat is due, renew Leases when due.
pub(super) async fn heartbeat_loop(ctx: Arc<Ctx>, shutdown: CancellationToken) {
    if ctx.caches_ready().await.is_err() {
        return;
    }
    let mut reported: HashMap<String, (Instant, NodeStatus)> = HashMap::new();
    let mut leases_at: Option<Instant> = None;
    let mut ticker = tokio::time::interval(TICK);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = ticker.tick() => {}
        }
        if let Err(e) = tick(&ctx, &mut reported, &mut leases_at).await {
            tracing::warn!(error = %e, "node heartbeat failed; retrying");
        }
    }
}

async fn tick(
    ctx: &Ctx,
    reported: &mut HashMap<String, (Instant, NodeStatus)>,
    leases_at: &mut Option<Instant>,
) -> Result<()> {
    let config = &ctx.config;
    // Runs every second: a lookup per node, and a copy of the cache only when one is missing
    // (scanning the node list for each name was quadratic, most of a core at 5,000 nodes).
    if ctx
        .ours
        .iter()
        .any(|name| ctx.nodes.get(&ObjectRef::new(name)).is_none())
    {
        let nodes: Vec<Node> = ctx.nodes.state().iter().map(|n| (**n).clone()).collect();
        ensure_nodes(&ctx.client, config, &nodes).await?;
    }
    let now = Timestamp::now();
    for name in &ctx.ours {
        let Some(node) = ctx.nodes.get(&ObjectRef::new(name)) else {
            continue;
        };
        let index = config.node_index(name).unwrap_or_default();
        let desired = node_status(
            node.status.as_ref(),
            name,
            index,
            !forced_not_ready(&node),
            now,
        );
        let beat_due = last_heartbeat(node.status.as_ref()).is_none_or(|at| {
            now.duration_since(at).as_secs_f64() >= config.node_status_interval.as_secs_f64()
        });
        let changed = status_differs(node.status.as_ref(), &desired);
        let last = reported.get(name);
        // Our last report may simply not be in the cache yet: repeat it only if it differs
        // from what we now want or it had time to show up.
        let settled = last.is_none_or(|(at, status)| {
            at.elapsed() >= REPORT_SETTLE || status_differs(Some(status), &desired)
        });
        if (changed || beat_due) && settled {
            let status = report(&ctx.client, config, &node, now).await?;
            reported.insert(name.clone(), (Instant::now(), status));
        }
    }
    if leases_at.is_none_or(|at| at.elapsed() >= config.lease_interval) {
        for name in &ctx.ours {
            if let Some(node) = ctx.nodes.get(&ObjectRef::new(name)) {
                renew_lease(&ctx.client, config, &node).await?;
            }
        }
        *leases_at = Some(Instant::now());
    }
    Ok(())
}
