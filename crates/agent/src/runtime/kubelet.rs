//! The simulated kubelet for pods bound to our nodes: pick the pod IP, run the pure state
//! machine, write status, record events, remove pods whose grace period is over.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, PostParams, Preconditions};
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;

use super::events::{Reporter, record};
use super::{Ctx, api_code, lock};
use crate::error::{Error, Result};
use crate::ipam::next_free_ip;
use crate::node_plan::{host_ip, is_ready, pod_cidr};
use crate::pod_plan::{PodEnv, plan};

/// IPs handed out whose pods' status does not show them yet.
#[derive(Default)]
pub(super) struct IpamState {
    /// Pod uid → (node, IP).
    reserved: HashMap<String, (String, Ipv4Addr)>,
    /// Per node, the last address handed out (allocation continues after it).
    last: HashMap<String, Ipv4Addr>,
}

pub(super) async fn sync(pod: &Pod, node_name: &str, ctx: &Ctx) -> Result<Action> {
    let Some(node) = ctx.nodes.get(&ObjectRef::new(node_name)) else {
        return Ok(Action::requeue(Duration::from_secs(2)));
    };
    let Some(host) = host_ip(&node).map(str::to_string) else {
        // Not reported yet; the status write re-triggers us.
        return Ok(Action::requeue(Duration::from_secs(1)));
    };
    let status = pod.status.as_ref();
    let deleting = pod.metadata.deletion_timestamp.is_some();
    let host_network = pod
        .spec
        .as_ref()
        .and_then(|s| s.host_network)
        .unwrap_or(false);
    let pod_ip = match status.and_then(|s| s.pod_ip.clone()) {
        Some(ip) => Some(ip),
        None if deleting => None,
        None if host_network => Some(host.clone()),
        None => allocate(pod, node_name, &node, ctx)?.map(|ip| ip.to_string()),
    };
    let env = PodEnv {
        node_name,
        host_ip: &host,
        node_ready: is_ready(&node),
        pod_ip,
        now: Timestamp::now(),
        start_delay: ctx.config.pod_start_delay,
        stop_delay: ctx.config.pod_stop_delay,
    };
    let step = plan(pod, &env);
    let api: Api<Pod> = Api::namespaced(ctx.client.clone(), &pod.namespace().unwrap_or_default());
    let name = pod.name_any();
    if step.delete {
        let params = DeleteParams {
            grace_period_seconds: Some(0),
            preconditions: Some(Preconditions {
                uid: pod.uid(),
                resource_version: None,
            }),
            ..DeleteParams::default()
        };
        return match api.delete(&name, &params).await {
            Ok(_) => Ok(Action::await_change()),
            // Gone already, or a new pod of the same name (uid precondition): nothing to do.
            Err(e) if matches!(api_code(&e), Some(404 | 409)) => Ok(Action::await_change()),
            Err(e) => Err(e.into()),
        };
    }
    if let Some(status) = step.status {
        let mut next = pod.clone();
        next.status = Some(status);
        match api
            .replace_status(&name, &PostParams::default(), &next)
            .await
        {
            Ok(_) => ctx.note_write(pod),
            // Changed meanwhile: plan again from the new version (the watch brings it).
            Err(e) if api_code(&e) == Some(409) => {
                return Ok(Action::requeue(Duration::from_millis(100)));
            }
            Err(e) if api_code(&e) == Some(404) => return Ok(Action::await_change()),
            Err(e) => return Err(e.into()),
        }
    }
    let reporter = Reporter::kubelet(node_name);
    for ev in &step.events {
        record(&ctx.client, pod, &reporter, ev).await;
    }
    Ok(step
        .requeue
        .map_or_else(Action::await_change, Action::requeue))
}

/// A free IP in the node's pod CIDR for `pod` (the same one on retries). In use: every pod
/// whose `status.podIP` is in the range (from the cache, so correct after restarts and
/// relists) and every reservation not yet visible there. `None` when the range is full.
fn allocate(pod: &Pod, node_name: &str, node: &Node, ctx: &Ctx) -> Result<Option<Ipv4Addr>> {
    let cidr = pod_cidr(node).ok_or_else(|| Error::NoPodCidr(node_name.to_string()))?;
    let uid = pod.uid().unwrap_or_default();
    let mut state = lock(&ctx.ipam);
    if let Some((n, ip)) = state.reserved.get(&uid)
        && n == node_name
    {
        return Ok(Some(*ip));
    }
    let index = lock(&ctx.index);
    let mut in_use = index.ips_in(&cidr);
    // A reservation ends when its pod shows the IP in status, or is gone.
    state.reserved.retain(|uid, _| index.awaits_ip(uid));
    drop(index);
    in_use.extend(
        state
            .reserved
            .values()
            .filter(|(n, _)| n == node_name)
            .map(|(_, ip)| *ip),
    );
    let last = state.last.get(node_name).copied();
    let Some(ip) = next_free_ip(&cidr, &in_use, last) else {
        return Ok(None);
    };
    state.reserved.insert(uid, (node_name.to_string(), ip));
    state.last.insert(node_name.to_string(), ip);
    Ok(Some(ip))
}
