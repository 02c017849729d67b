//! Facts about pods and ownership that several controllers share (pure).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, Pod, PodSpec, PodStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference};
use k8s_openapi::jiff::Timestamp;

/// Reduces a pod to what the controllers read, for their cache: labels and ownership, node,
/// hostname and subdomain, named container ports (named `targetPort`s), phase, IPs and the
/// `Ready` condition. A typed pod is ~7.5 KB in memory, most of it fields no controller reads
/// (each `Container` alone is 2 KB inline), and the cache holds every pod in the cluster.
/// Controllers never write a pod from the cache (they create, delete and patch), so nothing
/// stripped here can be written back.
pub fn slim(pod: &mut Pod) {
    let meta = &mut pod.metadata;
    meta.managed_fields = None;
    meta.annotations = None;
    if let Some(spec) = pod.spec.take() {
        let containers = spec
            .containers
            .into_iter()
            .filter_map(|c| {
                let ports: Vec<_> = c.ports?.into_iter().filter(|p| p.name.is_some()).collect();
                (!ports.is_empty()).then(|| Container {
                    name: c.name,
                    ports: Some(ports),
                    ..Container::default()
                })
            })
            .collect();
        pod.spec = Some(PodSpec {
            containers,
            node_name: spec.node_name,
            hostname: spec.hostname,
            subdomain: spec.subdomain,
            ..PodSpec::default()
        });
    }
    if let Some(status) = pod.status.take() {
        let conditions = status.conditions.map(|conditions| {
            conditions
                .into_iter()
                .filter(|c| c.type_ == "Ready")
                .collect()
        });
        pod.status = Some(PodStatus {
            phase: status.phase,
            pod_ip: status.pod_ip,
            pod_ips: status.pod_ips,
            conditions,
            ..PodStatus::default()
        });
    }
}

/// The pod's `Ready` condition is `True`.
pub fn is_ready(pod: &Pod) -> bool {
    ready_since(pod).is_some()
}

/// When the pod's `Ready` condition last became `True` (epoch if the time is missing).
pub fn ready_since(pod: &Pod) -> Option<Timestamp> {
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
pub fn is_available(pod: &Pod, min_ready_seconds: i32, now: Timestamp) -> bool {
    match ready_since(pod) {
        None => false,
        Some(_) if min_ready_seconds <= 0 => true,
        Some(since) => since.as_second() + i64::from(min_ready_seconds) <= now.as_second(),
    }
}

pub fn phase(pod: &Pod) -> &str {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("")
}

/// Succeeded or Failed: the pod will never run again.
pub fn is_terminal(pod: &Pod) -> bool {
    matches!(phase(pod), "Succeeded" | "Failed")
}

pub fn is_terminating(meta: &ObjectMeta) -> bool {
    meta.deletion_timestamp.is_some()
}

/// Counted as one of its controller's replicas: neither terminal nor being deleted.
pub fn is_active(pod: &Pod) -> bool {
    !is_terminal(pod) && !is_terminating(&pod.metadata)
}

pub fn node_name(pod: &Pod) -> Option<&str> {
    pod.spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .filter(|n| !n.is_empty())
}

/// The pod's IPs (`status.podIPs`, falling back to `status.podIP`).
pub fn pod_ips(pod: &Pod) -> Vec<String> {
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
pub fn keys<K>(store: &kube::runtime::reflector::Store<K>) -> Vec<(String, String)>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope> + Clone + 'static,
    K::DynamicType: Eq + std::hash::Hash + Clone + Default,
{
    store.state().iter().map(|o| key_of(o.meta())).collect()
}

/// The cached object at `key` (namespace, name), if the watch cache has it.
pub fn cached<K>(
    store: &kube::runtime::reflector::Store<K>,
    key: &(String, String),
) -> Option<std::sync::Arc<K>>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope> + Clone + 'static,
    K::DynamicType: Eq + std::hash::Hash + Clone + Default,
{
    store.get(&kube::runtime::reflector::ObjectRef::new(&key.1).within(&key.0))
}

/// `namespace/name` for logs and keys.
pub fn key_of(meta: &ObjectMeta) -> (String, String) {
    (
        meta.namespace.clone().unwrap_or_default(),
        meta.name.clone().unwrap_or_default(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service;
    use crate::testutil::from;
    use serde_json::json;

    /// What the controllers read survives `slim`; the rest is gone.
    #[test]
    fn a_slim_pod_keeps_what_controllers_read() {
        let full = from(json!({
            "metadata": {"name": "web-0", "namespace": "ns", "uid": "u1",
                "labels": {"run": "web", "app": "web"}, "annotations": {"big": "x"},
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "StatefulSet",
                    "name": "web", "uid": "o1", "controller": true}],
                "managedFields": [{"manager": "kubectl"}]},
            "spec": {"nodeName": "node-1", "hostname": "web-0", "subdomain": "web",
                "containers": [
                    {"name": "app", "image": "nginx", "ports": [
                        {"name": "http", "containerPort": 8080},
                        {"containerPort": 9090}]},
                    {"name": "sidecar", "image": "envoy", "ports": [{"containerPort": 15000}]}],
                "tolerations": [{"key": "k", "operator": "Exists"}]},
            "status": {"phase": "Running", "podIP": "10.244.1.5",
                "podIPs": [{"ip": "10.244.1.5"}],
                "conditions": [
                    {"type": "PodScheduled", "status": "True"},
                    {"type": "Ready", "status": "True",
                        "lastTransitionTime": "2026-01-01T00:00:00Z"}],
                "containerStatuses": [{"name": "app", "image": "nginx", "imageID": "",
                    "ready": true, "restartCount": 0}]}
        }));
        let mut slim_pod = full.clone();
        slim(&mut slim_pod);

        let svc = crate::testutil::service(json!({
            "metadata": {"name": "web", "namespace": "ns"},
            "spec": {"selector": {"app": "web"},
                "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}
        }));
        for pod in [&full, &slim_pod] {
            assert!(is_ready(pod));
            assert_eq!(ready_since(pod), ready_since(&full));
            assert_eq!(phase(pod), "Running");
            assert_eq!(node_name(pod), Some("node-1"));
            assert_eq!(pod_ips(pod), vec!["10.244.1.5".to_string()]);
            assert_eq!(service::pod_hostname(&svc, pod).as_deref(), Some("web-0"));
            assert_eq!(service::selected_pods(&svc, [pod]).len(), 1);
            let ports = service::resolve_ports(&svc, pod);
            assert_eq!(ports.iter().map(|p| p.port).collect::<Vec<_>>(), vec![8080]);
            assert_eq!(
                pod.metadata.owner_references,
                full.metadata.owner_references
            );
        }
        let spec = slim_pod.spec.as_ref().unwrap();
        assert_eq!(spec.containers.len(), 1, "only containers with named ports");
        assert_eq!(spec.containers[0].ports.as_ref().unwrap().len(), 1);
        assert_eq!(spec.containers[0].image, None);
        assert_eq!(spec.tolerations, None);
        let status = slim_pod.status.as_ref().unwrap();
        assert_eq!(status.conditions.as_ref().unwrap().len(), 1);
        assert_eq!(status.container_statuses, None);
        assert_eq!(slim_pod.metadata.annotations, None);
        assert_eq!(slim_pod.metadata.managed_fields, None);
    }
}
