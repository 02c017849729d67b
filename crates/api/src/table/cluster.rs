//! Cluster-level kinds: Namespace, Node, and the coordination Lease.

use std::collections::BTreeSet;

use serde_json::Value;

use super::fields::{bool_at, items_at, name, object_at, or, str_at};
use super::{AGE, Column, NAME, age};

pub(super) const NAMESPACE_COLUMNS: &[Column] = &[
    NAME,
    Column::string("Status", "The lifecycle phase of the namespace."),
    AGE,
];

pub(super) fn namespace_cells(ns: &Value, now: jiff::Timestamp) -> Vec<Value> {
    vec![
        name(ns).into(),
        str_at(ns, "/status/phase").into(),
        age(ns, now).into(),
    ]
}

/// Label prefix whose suffix names a role (`node-role.kubernetes.io/control-plane`).
const NODE_ROLE_PREFIX: &str = "node-role.kubernetes.io/";
/// Older label whose value names a role.
const NODE_ROLE_LABEL: &str = "kubernetes.io/role";

pub(super) const NODE_COLUMNS: &[Column] = &[
    NAME,
    Column::string(
        "Status",
        "Readiness of the node, and whether it takes new pods.",
    ),
    Column::string("Roles", "Roles of the node, from its node-role labels."),
    AGE,
    Column::string("Version", "Kubelet version reported by the node."),
    Column::string("Internal-IP", "The node's first internal address.").wide(),
    Column::string("External-IP", "The node's first external address.").wide(),
    Column::string("OS-Image", "Operating system image reported by the node.").wide(),
    Column::string("Kernel-Version", "Kernel version reported by the node.").wide(),
    Column::string(
        "Container-Runtime",
        "Container runtime and version on the node.",
    )
    .wide(),
];

pub(super) fn node_cells(node: &Value, now: jiff::Timestamp) -> Vec<Value> {
    let info = |field: &str| {
        or(
            str_at(node, &format!("/status/nodeInfo/{field}")),
            "<unknown>",
        )
    };
    vec![
        name(node).into(),
        node_status(node).into(),
        or(&node_roles(node), "<none>").into(),
        age(node, now).into(),
        str_at(node, "/status/nodeInfo/kubeletVersion").into(),
        node_address(node, "InternalIP").into(),
        node_address(node, "ExternalIP").into(),
        info("osImage").into(),
        info("kernelVersion").into(),
        info("containerRuntimeVersion").into(),
    ]
}

/// `Ready`, `NotReady` or `Unknown` from the Ready condition (the last one wins, as in
/// upstream's map), then `SchedulingDisabled` for cordoned nodes.
fn node_status(node: &Value) -> String {
    let ready = items_at(node, "/status/conditions")
        .iter()
        .rfind(|condition| str_at(condition, "/type") == "Ready")
        .map(|condition| str_at(condition, "/status") == "True");
    let mut status = match ready {
        Some(true) => "Ready",
        Some(false) => "NotReady",
        None => "Unknown",
    }
    .to_owned();
    if bool_at(node, "/spec/unschedulable") {
        status.push_str(",SchedulingDisabled");
    }
    status
}

/// Sorted, de-duplicated roles joined by `,`; `""` when the node has none.
fn node_roles(node: &Value) -> String {
    let roles: BTreeSet<&str> = object_at(node, "/metadata/labels")
        .into_iter()
        .flatten()
        .filter_map(|(key, value)| match key.strip_prefix(NODE_ROLE_PREFIX) {
            Some(role) => Some(role),
            None if key == NODE_ROLE_LABEL => value.as_str(),
            None => None,
        })
        .filter(|role| !role.is_empty())
        .collect();
    roles.into_iter().collect::<Vec<_>>().join(",")
}

/// The first address of `kind`, or `<none>`.
fn node_address<'a>(node: &'a Value, kind: &str) -> &'a str {
    items_at(node, "/status/addresses")
        .iter()
        .find(|address| str_at(address, "/type") == kind)
        .map_or("<none>", |address| str_at(address, "/address"))
}

pub(super) const LEASE_COLUMNS: &[Column] = &[
    NAME,
    Column::string("Holder", "Identity of the current holder of the lease."),
    AGE,
];

pub(super) fn lease_cells(lease: &Value, now: jiff::Timestamp) -> Vec<Value> {
    vec![
        name(lease).into(),
        str_at(lease, "/spec/holderIdentity").into(),
        age(lease, now).into(),
    ]
}

#[cfg(test)]
mod tests {
    use super::super::cells;
    use serde_json::{Value, json};

    fn now() -> jiff::Timestamp {
        "2024-06-01T12:00:00Z".parse().unwrap()
    }

    fn meta(name: &str) -> Value {
        json!({"name": name, "creationTimestamp": "2024-05-01T12:00:00Z"})
    }

    #[test]
    fn namespace_cases() {
        let cases = [
            (
                "active",
                json!({"metadata": meta("default"), "status": {"phase": "Active"}}),
                json!(["default", "Active", "31d"]),
            ),
            (
                "terminating",
                json!({"metadata": meta("demo"), "status": {"phase": "Terminating"}}),
                json!(["demo", "Terminating", "31d"]),
            ),
            (
                "no status",
                json!({"metadata": meta("new")}),
                json!(["new", "", "31d"]),
            ),
        ];
        for (name, obj, want) in cases {
            assert_eq!(Value::from(cells("Namespace", &obj, now())), want, "{name}");
        }
    }

    #[test]
    fn node_cases() {
        let info = json!({"kubeletVersion": "v1.33.1", "osImage": "Ubuntu 24.04",
                          "kernelVersion": "6.8.0", "containerRuntimeVersion": "containerd://1.7.2"});
        let cases = [
            (
                "ready control plane",
                json!({"metadata": {"name": "k8s-master1", "creationTimestamp": "2024-05-01T12:00:00Z",
                                    "labels": {"node-role.kubernetes.io/control-plane": "",
                                               "node-role.kubernetes.io/master": "",
                                               "kubernetes.io/hostname": "k8s-master1"}},
                       "status": {"conditions": [{"type": "MemoryPressure", "status": "False"},
                                                 {"type": "Ready", "status": "True"}],
                                  "addresses": [{"type": "Hostname", "address": "k8s-master1"},
                                                {"type": "InternalIP", "address": "192.168.1.10"},
                                                {"type": "InternalIP", "address": "192.168.1.11"}],
                                  "nodeInfo": info}}),
                json!([
                    "k8s-master1",
                    "Ready",
                    "control-plane,master",
                    "31d",
                    "v1.33.1",
                    "192.168.1.10",
                    "<none>",
                    "Ubuntu 24.04",
                    "6.8.0",
                    "containerd://1.7.2"
                ]),
            ),
            (
                "not ready and cordoned worker",
                json!({"metadata": {"name": "k8s-node1", "creationTimestamp": "2024-05-01T12:00:00Z",
                                    "labels": {"kubernetes.io/role": "worker",
                                               "node-role.kubernetes.io/": ""}},
                       "spec": {"unschedulable": true},
                       "status": {"conditions": [{"type": "Ready", "status": "Unknown"}],
                                  "addresses": [{"type": "ExternalIP", "address": "203.0.113.5"}],
                                  "nodeInfo": {"kubeletVersion": "v1.33.1"}}}),
                json!([
                    "k8s-node1",
                    "NotReady,SchedulingDisabled",
                    "worker",
                    "31d",
                    "v1.33.1",
                    "<none>",
                    "203.0.113.5",
                    "<unknown>",
                    "<unknown>",
                    "<unknown>"
                ]),
            ),
            (
                "no conditions yet",
                json!({"metadata": {"name": "fresh"}}),
                json!([
                    "fresh",
                    "Unknown",
                    "<none>",
                    "<unknown>",
                    "",
                    "<none>",
                    "<none>",
                    "<unknown>",
                    "<unknown>",
                    "<unknown>"
                ]),
            ),
            (
                "cordoned without conditions",
                json!({"metadata": {"name": "n", "labels": {"kubernetes.io/role": ""}},
                       "spec": {"unschedulable": true}}),
                json!([
                    "n",
                    "Unknown,SchedulingDisabled",
                    "<none>",
                    "<unknown>",
                    "",
                    "<none>",
                    "<none>",
                    "<unknown>",
                    "<unknown>",
                    "<unknown>"
                ]),
            ),
            (
                "last ready condition wins",
                json!({"metadata": {"name": "n"},
                       "status": {"conditions": [{"type": "Ready", "status": "False"},
                                                 {"type": "Ready", "status": "True"}]}}),
                json!([
                    "n",
                    "Ready",
                    "<none>",
                    "<unknown>",
                    "",
                    "<none>",
                    "<none>",
                    "<unknown>",
                    "<unknown>",
                    "<unknown>"
                ]),
            ),
        ];
        for (name, obj, want) in cases {
            assert_eq!(Value::from(cells("Node", &obj, now())), want, "{name}");
        }
    }

    #[test]
    fn lease_cases() {
        let cases = [
            (
                "held",
                json!({"metadata": meta("kube-scheduler"),
                       "spec": {"holderIdentity": "master1_1234"}}),
                json!(["kube-scheduler", "master1_1234", "31d"]),
            ),
            (
                "unheld",
                json!({"metadata": meta("free"), "spec": {"holderIdentity": null}}),
                json!(["free", "", "31d"]),
            ),
        ];
        for (name, obj, want) in cases {
            assert_eq!(Value::from(cells("Lease", &obj, now())), want, "{name}");
        }
    }
}
