//! What a simulated node looks like, pure: its object (labels, annotation, pod CIDR), its
//! reported status (conditions, addresses, capacity, nodeInfo) and its Lease.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::core::v1::{
    Node, NodeAddress, NodeCondition, NodeSpec, NodeStatus, NodeSystemInfo,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, OwnerReference, Time};
use k8s_openapi::jiff::Timestamp;

use crate::cidr::Ipv4Cidr;
use crate::config::{NODE_READY_ANNOTATION, SIMULATED_ANNOTATION};

pub const KUBELET_VERSION: &str = "v1.33.0";
pub const RUNTIME_VERSION: &str = "svcplane://simulated";
pub const LEASE_NAMESPACE: &str = "kube-node-lease";
pub const MAX_PODS: usize = 110;

/// The labels and annotation a simulated node carries (merged over whatever else is there).
pub fn node_metadata(name: &str) -> (BTreeMap<String, String>, BTreeMap<String, String>) {
    let labels = [
        ("kubernetes.io/hostname", name),
        ("kubernetes.io/os", "linux"),
        ("kubernetes.io/arch", arch()),
        ("beta.kubernetes.io/os", "linux"),
        ("beta.kubernetes.io/arch", arch()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let annotations = BTreeMap::from([(SIMULATED_ANNOTATION.to_string(), "true".to_string())]);
    (labels, annotations)
}

/// A new Node object for `name` with its pod CIDR (status is written separately).
pub fn new_node(name: &str, pod_cidr: Ipv4Cidr) -> Node {
    let (labels, annotations) = node_metadata(name);
    Node {
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels: Some(labels),
            annotations: Some(annotations),
            ..ObjectMeta::default()
        },
        spec: Some(NodeSpec {
            pod_cidr: Some(pod_cidr.to_string()),
            pod_cidrs: Some(vec![pod_cidr.to_string()]),
            ..NodeSpec::default()
        }),
        status: None,
    }
}

/// Node i's InternalIP: 172.18.0.(i+1), as kind numbers its containers. Data only.
pub fn internal_ip(index: u32) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(Ipv4Addr::new(172, 18, 0, 1)).wrapping_add(index))
}

/// Whether the node's owner asked for it to be reported NotReady.
pub fn forced_not_ready(node: &Node) -> bool {
    node.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(NODE_READY_ANNOTATION))
        .is_some_and(|v| v == "false")
}

/// The status to report for node `index`, from the stored one: conditions keep their
/// `lastTransitionTime` unless they flip; every report is a heartbeat.
pub fn node_status(
    current: Option<&NodeStatus>,
    name: &str,
    index: u32,
    ready: bool,
    now: Timestamp,
) -> NodeStatus {
    let old = current.and_then(|s| s.conditions.as_ref());
    let condition = |type_: &str, status: bool, reason: &str, message: &str| {
        let status = if status { "True" } else { "False" };
        let transition = old
            .and_then(|cs| cs.iter().find(|c| c.type_ == type_))
            .filter(|c| c.status == status)
            .and_then(|c| c.last_transition_time.clone())
            .unwrap_or(Time(now));
        NodeCondition {
            type_: type_.into(),
            status: status.into(),
            reason: Some(reason.into()),
            message: Some(message.into()),
            last_heartbeat_time: Some(Time(now)),
            last_transition_time: Some(transition),
        }
    };
    let ready_condition = if ready {
        condition(
            "Ready",
            true,
            "KubeletReady",
            "kubelet is posting ready status",
        )
    } else {
        condition(
            "Ready",
            false,
            "KubeletNotReady",
            &format!("simulated: the annotation {NODE_READY_ANNOTATION} is \"false\""),
        )
    };
    let resources: BTreeMap<String, Quantity> = [
        ("cpu", "8"),
        ("memory", "16Gi"),
        ("ephemeral-storage", "100Gi"),
        ("pods", "110"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), Quantity(v.to_string())))
    .collect();
    NodeStatus {
        conditions: Some(vec![
            condition(
                "MemoryPressure",
                false,
                "KubeletHasSufficientMemory",
                "kubelet has sufficient memory available",
            ),
            condition(
                "DiskPressure",
                false,
                "KubeletHasNoDiskPressure",
                "kubelet has no disk pressure",
            ),
            condition(
                "PIDPressure",
                false,
                "KubeletHasSufficientPID",
                "kubelet has sufficient PID available",
            ),
            ready_condition,
        ]),
        addresses: Some(vec![
            NodeAddress {
                type_: "InternalIP".into(),
                address: internal_ip(index).to_string(),
            },
            NodeAddress {
                type_: "Hostname".into(),
                address: name.into(),
            },
        ]),
        capacity: Some(resources.clone()),
        allocatable: Some(resources),
        node_info: Some(NodeSystemInfo {
            architecture: arch().into(),
            boot_id: stable_id(name, "boot"),
            container_runtime_version: RUNTIME_VERSION.into(),
            kernel_version: "simulated".into(),
            kube_proxy_version: String::new(),
            kubelet_version: KUBELET_VERSION.into(),
            machine_id: stable_id(name, "machine").replace('-', ""),
            operating_system: "linux".into(),
            os_image: "svcplane simulated node".into(),
            system_uuid: stable_id(name, "system"),
            ..NodeSystemInfo::default()
        }),
        ..current.cloned().unwrap_or_default()
    }
}

/// Whether two reports differ in anything but heartbeat times (then the report is due now).
pub fn status_differs(a: Option<&NodeStatus>, b: &NodeStatus) -> bool {
    let strip = |s: &NodeStatus| {
        let mut s = s.clone();
        for c in s.conditions.iter_mut().flatten() {
            c.last_heartbeat_time = None;
        }
        s
    };
    a.is_none_or(|a| strip(a) != strip(b))
}

/// The newest heartbeat in a stored status.
pub fn last_heartbeat(status: Option<&NodeStatus>) -> Option<Timestamp> {
    status?
        .conditions
        .as_ref()?
        .iter()
        .filter_map(|c| c.last_heartbeat_time.as_ref().map(|t| t.0))
        .max()
}

/// The node's Lease in kube-node-lease, owned by the node as the kubelet makes it.
pub fn lease(node: &str, node_uid: Option<&str>, duration_seconds: i32, now: Timestamp) -> Lease {
    Lease {
        metadata: ObjectMeta {
            name: Some(node.into()),
            namespace: Some(LEASE_NAMESPACE.into()),
            owner_references: node_uid.map(|uid| {
                vec![OwnerReference {
                    api_version: "v1".into(),
                    kind: "Node".into(),
                    name: node.into(),
                    uid: uid.into(),
                    ..OwnerReference::default()
                }]
            }),
            ..ObjectMeta::default()
        },
        spec: Some(LeaseSpec {
            holder_identity: Some(node.into()),
            lease_duration_seconds: Some(duration_seconds),
            renew_time: Some(MicroTime(now)),
            ..LeaseSpec::default()
        }),
    }
}

/// The node's Ready condition is True.
pub fn is_ready(node: &Node) -> bool {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.type_ == "Ready"))
        .is_some_and(|c| c.status == "True")
}

/// The node's InternalIP as reported.
pub fn host_ip(node: &Node) -> Option<&str> {
    node.status
        .as_ref()?
        .addresses
        .as_ref()?
        .iter()
        .find(|a| a.type_ == "InternalIP")
        .map(|a| a.address.as_str())
}

/// The node's pod CIDR (`spec.podCIDRs[0]`, else `spec.podCIDR`), if it is IPv4.
pub fn pod_cidr(node: &Node) -> Option<Ipv4Cidr> {
    let spec = node.spec.as_ref()?;
    spec.pod_cidrs
        .as_ref()
        .and_then(|c| c.first())
        .or(spec.pod_cidr.as_ref())
        .and_then(|c| c.parse().ok())
}

/// Kubernetes' name for the machine architecture.
fn arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// A UUID-shaped id that is the same for a node across restarts.
fn stable_id(name: &str, salt: &str) -> String {
    let mut h: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    for b in salt.bytes().chain([b'/']).chain(name.bytes()) {
        h ^= u128::from(b);
        h = h.wrapping_mul(0x0000_0000_0100_0000_0000_0000_0000_013b);
    }
    let hex = format!("{h:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::jiff::SignedDuration;

    fn t(secs: i64) -> Timestamp {
        "2025-01-01T00:00:00Z".parse::<Timestamp>().unwrap() + SignedDuration::from_secs(secs)
    }

    fn condition<'a>(s: &'a NodeStatus, type_: &str) -> &'a NodeCondition {
        s.conditions
            .as_ref()
            .unwrap()
            .iter()
            .find(|c| c.type_ == type_)
            .unwrap()
    }

    #[test]
    fn new_nodes() {
        let node = new_node("node-2", "10.244.2.0/24".parse().unwrap());
        let labels = node.metadata.labels.as_ref().unwrap();
        assert_eq!(labels["kubernetes.io/hostname"], "node-2");
        assert_eq!(labels["kubernetes.io/os"], "linux");
        assert!(
            !labels
                .keys()
                .any(|k| k.starts_with("node-role.kubernetes.io/"))
        );
        assert_eq!(
            node.metadata.annotations.as_ref().unwrap()[SIMULATED_ANNOTATION],
            "true"
        );
        assert_eq!(pod_cidr(&node), Some("10.244.2.0/24".parse().unwrap()));
        assert_eq!(internal_ip(1).to_string(), "172.18.0.2");
        assert_eq!(internal_ip(300).to_string(), "172.18.1.45");
    }

    #[test]
    fn status_reports() {
        let first = node_status(None, "node-1", 1, true, t(0));
        assert_eq!(condition(&first, "Ready").status, "True");
        for c in ["MemoryPressure", "DiskPressure", "PIDPressure"] {
            assert_eq!(condition(&first, c).status, "False", "{c}");
        }
        let info = first.node_info.as_ref().unwrap();
        assert_eq!(info.kubelet_version, "v1.33.0");
        assert_eq!(info.container_runtime_version, "svcplane://simulated");
        assert_eq!(first.allocatable.as_ref().unwrap()["pods"].0, "110");
        assert_eq!(
            host_ip(&Node {
                status: Some(first.clone()),
                ..Node::default()
            }),
            Some("172.18.0.2")
        );

        // A heartbeat: only heartbeat times move.
        let beat = node_status(Some(&first), "node-1", 1, true, t(60));
        assert!(!status_differs(Some(&first), &beat));
        assert_eq!(
            condition(&beat, "Ready").last_heartbeat_time,
            Some(Time(t(60)))
        );
        assert_eq!(
            condition(&beat, "Ready").last_transition_time,
            Some(Time(t(0)))
        );
        assert_eq!(last_heartbeat(Some(&beat)), Some(t(60)));

        // Forced NotReady flips Ready only.
        let down = node_status(Some(&beat), "node-1", 1, false, t(70));
        assert!(status_differs(Some(&beat), &down));
        assert_eq!(condition(&down, "Ready").status, "False");
        assert_eq!(
            condition(&down, "Ready").last_transition_time,
            Some(Time(t(70)))
        );
        assert_eq!(
            condition(&down, "MemoryPressure").last_transition_time,
            Some(Time(t(0)))
        );
        assert!(!is_ready(&Node {
            status: Some(down),
            ..Node::default()
        }));
    }

    #[test]
    fn leases() {
        let l = lease("node-1", Some("u1"), 40, t(5));
        assert_eq!(l.metadata.namespace.as_deref(), Some("kube-node-lease"));
        let spec = l.spec.unwrap();
        assert_eq!(spec.holder_identity.as_deref(), Some("node-1"));
        assert_eq!(spec.lease_duration_seconds, Some(40));
        assert_eq!(l.metadata.owner_references.unwrap()[0].kind, "Node");
    }
}
