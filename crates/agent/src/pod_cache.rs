//! What the agent keeps of each pod in its watch cache.
//!
//! The cache answers two questions for every pod in the cluster: where may an unbound pod go
//! (the scheduler), and which pods and IPs sit on each node (the index, IP allocation). The
//! kubelet's work on one pod needs the whole object (containers, probes, the status it
//! rewrites), so it reads that pod fresh from the API instead. Keeping only these fields
//! takes a cached pod from ~10 KB to ~2.5 KB, which is most of the agent's memory at 100k
//! pods.

use k8s_openapi::api::core::v1::{Pod, PodSpec, PodStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

/// Reduces `pod` to the fields the scheduler and the pod index read: identity and version,
/// deletion, `spec.nodeName` and the scheduling inputs, `status.phase` and `status.podIP`.
pub(crate) fn slim(pod: &mut Pod) {
    let meta = std::mem::take(&mut pod.metadata);
    pod.metadata = ObjectMeta {
        name: meta.name,
        namespace: meta.namespace,
        uid: meta.uid,
        resource_version: meta.resource_version,
        deletion_timestamp: meta.deletion_timestamp,
        ..ObjectMeta::default()
    };
    pod.spec = pod.spec.take().map(|spec| PodSpec {
        node_name: spec.node_name,
        scheduler_name: spec.scheduler_name,
        scheduling_gates: spec.scheduling_gates,
        node_selector: spec.node_selector,
        tolerations: spec.tolerations,
        ..PodSpec::default()
    });
    pod.status = pod.status.take().map(|status| PodStatus {
        phase: status.phase,
        pod_ip: status.pod_ip,
        ..PodStatus::default()
    });
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use k8s_openapi::api::core::v1::{Container, PodCondition, PodSchedulingGate, Toleration};
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

    #[test]
    fn a_slim_pod_keeps_what_the_scheduler_and_the_index_read() {
        let mut pod = full_pod();
        slim(&mut pod);
        let full = full_pod();
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
        assert!(spec.containers.is_empty());
        assert_eq!(spec.host_network, None);
        assert_eq!(status.conditions, None);
        assert_eq!(status.host_ip, None);
    }

    #[test]
    fn a_pod_without_spec_or_status_stays_without() {
        let mut pod = Pod::default();
        slim(&mut pod);
        assert_eq!(pod, Pod::default());
    }
}
