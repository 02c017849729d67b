//! The pod as the controllers cache it: only the fields they read, decoded straight from the
//! watch's JSON.
//!
//! The cache holds every pod in the cluster. A typed k8s-openapi `Pod` is 2.2 KB inline before
//! any of its contents (a `Container` alone is 2.1 KB inline), ~5 KB once slimmed; this type is
//! a few hundred bytes plus its strings. It has the same field names and nesting as `Pod`
//! (`pod.spec.as_ref()?.node_name`, `pod.status?.conditions`), so the code reading it reads like
//! code reading a pod. Controllers never write a pod from the cache (they create from templates,
//! delete, and patch), so nothing left out here can be written back.

use k8s_openapi::api::core::v1::{ContainerPort, Pod, PodCondition, PodIP};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Serialize};

/// A pod reduced to labels and ownership, node, hostname and subdomain, named container ports
/// (what a named `targetPort` resolves to), phase, IPs and the `Ready` condition.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CachedPod {
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<CachedPodSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<CachedPodStatus>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct CachedPodSpec {
    pub node_name: Option<String>,
    pub hostname: Option<String>,
    pub subdomain: Option<String>,
    pub containers: Vec<CachedContainer>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CachedContainer {
    pub name: String,
    pub ports: Option<Vec<ContainerPort>>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct CachedPodStatus {
    pub phase: Option<String>,
    #[serde(rename = "podIP")]
    pub pod_ip: Option<String>,
    #[serde(rename = "podIPs")]
    pub pod_ips: Option<Vec<PodIP>>,
    pub conditions: Option<Vec<PodCondition>>,
}

api::pod_view!(CachedPod);

impl CachedPod {
    /// Drops what decoding kept but no controller reads: managedFields and annotations,
    /// containers without a named port, ports without a name, conditions other than `Ready`.
    pub fn slim(&mut self) {
        self.metadata.managed_fields = None;
        self.metadata.annotations = None;
        // Each kept Vec is shrunk: decoding grows it from 4 slots by doubling, and `retain`
        // keeps the capacity, so the one Ready condition of five held 8 conditions' room
        // (~1.3 KB a pod), and a pod's one ownerReference room for four (~310 bytes).
        if let Some(refs) = &mut self.metadata.owner_references {
            refs.shrink_to_fit();
        }
        if let Some(spec) = &mut self.spec {
            spec.containers.retain_mut(|c| {
                if let Some(ports) = &mut c.ports {
                    ports.retain(|p| p.name.is_some());
                    ports.shrink_to_fit();
                }
                c.ports.as_ref().is_some_and(|p| !p.is_empty())
            });
            spec.containers.shrink_to_fit();
        }
        if let Some(conditions) = self.status.as_mut().and_then(|s| s.conditions.as_mut()) {
            conditions.retain(|c| c.type_ == "Ready");
            conditions.shrink_to_fit();
        }
        if let Some(ips) = self.status.as_mut().and_then(|s| s.pod_ips.as_mut()) {
            ips.shrink_to_fit();
        }
    }
}

impl From<&Pod> for CachedPod {
    fn from(pod: &Pod) -> Self {
        let mut cached = CachedPod {
            metadata: pod.metadata.clone(),
            spec: pod.spec.as_ref().map(|s| CachedPodSpec {
                node_name: s.node_name.clone(),
                hostname: s.hostname.clone(),
                subdomain: s.subdomain.clone(),
                containers: s
                    .containers
                    .iter()
                    .map(|c| CachedContainer {
                        name: c.name.clone(),
                        ports: c.ports.clone(),
                    })
                    .collect(),
            }),
            status: pod.status.as_ref().map(|s| CachedPodStatus {
                phase: s.phase.clone(),
                pod_ip: s.pod_ip.clone(),
                pod_ips: s.pod_ips.clone(),
                conditions: s.conditions.clone(),
            }),
        };
        cached.slim();
        cached
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::podutil::{is_ready, node_name, phase, pod_ips, ready_since};
    use crate::service;

    fn full_pod_json() -> serde_json::Value {
        json!({
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
        })
    }

    /// Decoded from the watch's JSON (as the cache does) or converted from a typed pod, the
    /// cached pod answers every question the controllers ask like the whole pod does.
    #[test]
    fn a_cached_pod_keeps_what_controllers_read() {
        // From bytes, as the watch decodes: from a `Value` serde knows each Vec's length and
        // leaves no room to shrink.
        let bytes = serde_json::to_vec(&full_pod_json()).unwrap();
        let mut decoded: CachedPod = serde_json::from_slice(&bytes).unwrap();
        decoded.slim();
        let typed: Pod = serde_json::from_value(full_pod_json()).unwrap();
        let converted = CachedPod::from(&typed);
        assert_eq!(decoded, converted);

        let svc = crate::testutil::service(json!({
            "metadata": {"name": "web", "namespace": "ns"},
            "spec": {"selector": {"app": "web"},
                "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}
        }));
        let pod = &decoded;
        assert!(is_ready(pod));
        assert_eq!(
            ready_since(pod).map(|t| t.to_string()).as_deref(),
            Some("2026-01-01T00:00:00Z")
        );
        assert_eq!(phase(pod), "Running");
        assert_eq!(node_name(pod), Some("node-1"));
        assert_eq!(pod_ips(pod), vec!["10.244.1.5".to_string()]);
        assert_eq!(service::pod_hostname(&svc, pod).as_deref(), Some("web-0"));
        assert_eq!(service::selected_pods(&svc, [pod]).len(), 1);
        let ports = service::resolve_ports(&svc, pod);
        assert_eq!(ports.iter().map(|p| p.port).collect::<Vec<_>>(), vec![8080]);
        assert_eq!(
            pod.metadata.owner_references,
            typed.metadata.owner_references
        );

        let spec = pod.spec.as_ref().unwrap();
        assert_eq!(spec.containers.len(), 1, "only containers with named ports");
        assert_eq!(spec.containers[0].ports.as_ref().unwrap().len(), 1);
        let status = pod.status.as_ref().unwrap();
        assert_eq!(status.conditions.as_ref().unwrap().len(), 1);
        assert_eq!(
            status.conditions.as_ref().unwrap().capacity(),
            1,
            "no room kept"
        );
        assert_eq!(spec.containers.capacity(), 1);
        assert_eq!(
            pod.metadata.owner_references.as_ref().unwrap().capacity(),
            1
        );
        assert_eq!(pod.metadata.annotations, None);
        assert_eq!(pod.metadata.managed_fields, None);
    }
}
