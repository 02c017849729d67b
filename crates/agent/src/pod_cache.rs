//! What the agent keeps of each pod in its watch cache.
//!
//! The cache answers two questions for every pod in the cluster: where may an unbound pod go
//! (the scheduler), and which pods and IPs sit on each node (the index, IP allocation). The
//! kubelet's work on one pod needs the whole object (containers, probes, the status it
//! rewrites), so it reads that pod fresh from the API instead. [`CachedPod`] is decoded
//! straight from the watch's JSON with only these fields: a few hundred bytes plus its
//! strings, where a typed k8s-openapi `Pod` is ~10 KB (2.2 KB inline before any contents).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{PodSchedulingGate, Toleration};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Serialize};

/// A pod reduced to identity and version, deletion, `spec.nodeName` and the scheduling inputs,
/// `status.phase` and `status.podIP`. Field names and nesting are `Pod`'s.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct CachedPod {
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<CachedPodSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<CachedPodStatus>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct CachedPodSpec {
    pub node_name: Option<String>,
    pub scheduler_name: Option<String>,
    pub scheduling_gates: Option<Vec<PodSchedulingGate>>,
    pub node_selector: Option<BTreeMap<String, String>>,
    pub tolerations: Option<Vec<Toleration>>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct CachedPodStatus {
    pub phase: Option<String>,
    #[serde(rename = "podIP")]
    pub pod_ip: Option<String>,
}

api::pod_view!(CachedPod);

impl CachedPod {
    /// Drops the metadata decoding kept but nothing here reads: all but identity, version and
    /// deletion.
    pub(crate) fn slim(&mut self) {
        let meta = std::mem::take(&mut self.metadata);
        self.metadata = ObjectMeta {
            name: meta.name,
            namespace: meta.namespace,
            uid: meta.uid,
            resource_version: meta.resource_version,
            deletion_timestamp: meta.deletion_timestamp,
            ..ObjectMeta::default()
        };
        // Decoding leaves room for 4 in a Vec of 1 or 2.
        if let Some(spec) = &mut self.spec {
            if let Some(tolerations) = &mut spec.tolerations {
                tolerations.shrink_to_fit();
            }
            if let Some(gates) = &mut spec.scheduling_gates {
                gates.shrink_to_fit();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use k8s_openapi::api::core::v1::{Container, Pod, PodCondition, PodSpec, PodStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use k8s_openapi::jiff::Timestamp;

    use super::*;

    fn full_pod() -> Pod {
        Pod {
            metadata: ObjectMeta {
                name: Some("web-0".into()),
                namespace: Some("default".into()),
                uid: Some("uid-1".into()),
                resource_version: Some("42".into()),
                deletion_timestamp: Some(Time(Timestamp::UNIX_EPOCH)),
                labels: Some(BTreeMap::from([("app".into(), "web".into())])),
                annotations: Some(BTreeMap::from([(
                    "svcplane.dev/ready".into(),
                    "false".into(),
                )])),
                ..ObjectMeta::default()
            },
            spec: Some(PodSpec {
                node_name: Some("node-1".into()),
                scheduler_name: Some("default-scheduler".into()),
                scheduling_gates: Some(vec![PodSchedulingGate {
                    name: "gate".into(),
                }]),
                node_selector: Some(BTreeMap::from([("zone".into(), "a".into())])),
                tolerations: Some(vec![Toleration {
                    key: Some("dedicated".into()),
                    ..Toleration::default()
                }]),
                containers: vec![Container {
                    name: "nginx".into(),
                    image: Some("nginx".into()),
                    ..Container::default()
                }],
                host_network: Some(true),
                ..PodSpec::default()
            }),
            status: Some(PodStatus {
                phase: Some("Running".into()),
                pod_ip: Some("10.244.1.5".into()),
                host_ip: Some("10.0.0.1".into()),
                conditions: Some(vec![PodCondition {
                    type_: "Ready".into(),
                    status: "True".into(),
                    ..PodCondition::default()
                }]),
                ..PodStatus::default()
            }),
        }
    }

    /// Decoded from the JSON of a whole pod, as the watch does.
    fn cached(pod: &Pod) -> CachedPod {
        let mut cached: CachedPod =
            serde_json::from_value(serde_json::to_value(pod).unwrap()).unwrap();
        cached.slim();
        cached
    }

    #[test]
    fn a_cached_pod_keeps_what_the_scheduler_and_the_index_read() {
        let full = full_pod();
        let pod = cached(&full);
        let (spec, full_spec) = (pod.spec.as_ref().unwrap(), full.spec.as_ref().unwrap());
        let status = pod.status.as_ref().unwrap();

        assert_eq!(pod.metadata.name, full.metadata.name);
        assert_eq!(pod.metadata.namespace, full.metadata.namespace);
        assert_eq!(pod.metadata.uid, full.metadata.uid);
        assert_eq!(
            pod.metadata.resource_version,
            full.metadata.resource_version
        );
        assert_eq!(
            pod.metadata.deletion_timestamp,
            full.metadata.deletion_timestamp
        );
        assert_eq!(spec.node_name, full_spec.node_name);
        assert_eq!(spec.scheduler_name, full_spec.scheduler_name);
        assert_eq!(spec.scheduling_gates, full_spec.scheduling_gates);
        assert_eq!(spec.node_selector, full_spec.node_selector);
        assert_eq!(spec.tolerations, full_spec.tolerations);
        assert_eq!(status.phase.as_deref(), Some("Running"));
        assert_eq!(status.pod_ip.as_deref(), Some("10.244.1.5"));

        // What the kubelet path reads comes from the API, not from here.
        assert_eq!(pod.metadata.labels, None);
        assert_eq!(pod.metadata.annotations, None);
    }

    #[test]
    fn a_pod_without_spec_or_status_stays_without() {
        assert_eq!(cached(&Pod::default()), CachedPod::default());
    }
}
