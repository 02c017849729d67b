//! Facts about pods and ownership that several controllers share (pure).

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference};
use k8s_openapi::jiff::Timestamp;

use crate::cached_pod::CachedPod;

/// The pod's `Ready` condition is `True`.
pub fn is_ready(pod: &CachedPod) -> bool {
    ready_since(pod).is_some()
}

/// When the pod's `Ready` condition last became `True` (epoch if the time is missing).
pub fn ready_since(pod: &CachedPod) -> Option<Timestamp> {
    pod.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Ready" && c.status == "True")
        .map(|c| {
            c.last_transition_time
                .as_ref()
                .map_or(Timestamp::UNIX_EPOCH, |t| t.0)
        })
}

/// Ready for at least `min_ready_seconds` at `now`.
pub fn is_available(pod: &CachedPod, min_ready_seconds: i32, now: Timestamp) -> bool {
    match ready_since(pod) {
        None => false,
        Some(_) if min_ready_seconds <= 0 => true,
        Some(since) => since.as_second() + i64::from(min_ready_seconds) <= now.as_second(),
    }
}

pub fn phase(pod: &CachedPod) -> &str {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("")
}

/// Succeeded or Failed: the pod will never run again.
pub fn is_terminal(pod: &CachedPod) -> bool {
    matches!(phase(pod), "Succeeded" | "Failed")
}

pub fn is_terminating(meta: &ObjectMeta) -> bool {
    meta.deletion_timestamp.is_some()
}

/// Counted as one of its controller's replicas: neither terminal nor being deleted.
pub fn is_active(pod: &CachedPod) -> bool {
    !is_terminal(pod) && !is_terminating(&pod.metadata)
}

pub fn node_name(pod: &CachedPod) -> Option<&str> {
    pod.spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .filter(|n| !n.is_empty())
}

/// The pod's IPs (`status.podIPs`, falling back to `status.podIP`).
pub fn pod_ips(pod: &CachedPod) -> Vec<String> {
    let Some(status) = pod.status.as_ref() else {
        return Vec::new();
    };
    let mut ips: Vec<String> = status
        .pod_ips
        .iter()
        .flatten()
        .map(|p| p.ip.clone())
        .filter(|ip| !ip.is_empty())
        .collect();
    if ips.is_empty()
        && let Some(ip) = status.pod_ip.as_ref().filter(|ip| !ip.is_empty())
    {
        ips.push(ip.clone());
    }
    ips
}

/// The controller ownerReference, if any.
pub fn controller_ref(meta: &ObjectMeta) -> Option<&OwnerReference> {
    meta.owner_references
        .iter()
        .flatten()
        .find(|r| r.controller == Some(true))
}

/// `meta` is controlled by the object with this uid.
pub fn is_controlled_by(meta: &ObjectMeta, uid: &str) -> bool {
    controller_ref(meta).is_some_and(|r| r.uid == uid)
}

/// An ownerReference marking `owner` as the controller of a dependent.
pub fn owner_ref(api_version: &str, kind: &str, owner: &ObjectMeta) -> OwnerReference {
    OwnerReference {
        api_version: api_version.to_string(),
        kind: kind.to_string(),
        name: owner.name.clone().unwrap_or_default(),
        uid: owner.uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// `labels` satisfy `selector`. An empty or missing selector selects nothing, as workloads use it.
pub fn selector_matches(
    selector: Option<&LabelSelector>,
    labels: &BTreeMap<String, String>,
) -> bool {
    let Some(sel) = selector else { return false };
    if sel.match_labels.as_ref().is_none_or(|m| m.is_empty())
        && sel.match_expressions.as_ref().is_none_or(|e| e.is_empty())
    {
        return false;
    }
    api::selectors::LabelSelector::from_k8s(sel).is_ok_and(|s| s.matches(labels))
}

/// A Service selector (equality on every pair) matches `labels`. Empty selects nothing.
pub fn map_selector_matches(
    selector: &BTreeMap<String, String>,
    labels: &BTreeMap<String, String>,
) -> bool {
    !selector.is_empty() && selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

pub fn labels(meta: &ObjectMeta) -> &BTreeMap<String, String> {
    static EMPTY: BTreeMap<String, String> = BTreeMap::new();
    meta.labels.as_ref().unwrap_or(&EMPTY)
}

/// The keys of every object in a watch cache.
pub fn keys<K>(cache: &crate::runtime::Cache<K>) -> Vec<(String, String)>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
{
    cache.all().iter().map(|o| key_of(o.meta())).collect()
}

/// The cached object at `key` (namespace, name), if the watch cache has it.
pub fn cached<K>(
    cache: &crate::runtime::Cache<K>,
    key: &(String, String),
) -> Option<std::sync::Arc<K>>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
{
    cache.get(&key.0, &key.1)
}

/// `namespace/name` for logs and keys.
pub fn key_of(meta: &ObjectMeta) -> (String, String) {
    (
        meta.namespace.clone().unwrap_or_default(),
        meta.name.clone().unwrap_or_default(),
    )
}
