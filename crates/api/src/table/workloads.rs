//! Workload controllers: Deployment, ReplicaSet and StatefulSet.

use serde_json::Value;

use super::fields::{container_cells, int_at, name, opt_int_at};
use super::selector::{format_label_selector, selector_string};
use super::{AGE, Column, NAME, age};

/// `spec.replicas` is a pointer defaulted to 1; an undefaulted object means the same.
fn desired_replicas(obj: &Value) -> i64 {
    opt_int_at(obj, "/spec/replicas").unwrap_or(1)
}

fn template_containers(obj: &Value) -> (String, String) {
    container_cells(obj.pointer("/spec/template/spec"))
}

const CONTAINERS: Column =
    Column::string("Containers", "Names of the containers in the pod template.").wide();
const IMAGES: Column =
    Column::string("Images", "Images of the containers in the pod template.").wide();
const SELECTOR: Column = Column::string(
    "Selector",
    "Label selector of the pods the controller owns.",
)
.wide();

// Upstream declares these counters "string" although the cells are numbers.
pub(super) const DEPLOYMENT_COLUMNS: &[Column] = &[
    NAME,
    Column::string("Ready", "Ready pods out of the desired number."),
    Column::string("Up-to-date", "Pods running the latest pod template."),
    Column::string("Available", "Pods available to serve."),
    AGE,
    CONTAINERS,
    IMAGES,
    SELECTOR,
];

pub(super) fn deployment_cells(deploy: &Value, now: jiff::Timestamp) -> Vec<Value> {
    let (containers, images) = template_containers(deploy);
    // Deployments print the raw selector string: empty rather than `<none>`.
    let selector =
        selector_string(deploy.pointer("/spec/selector")).unwrap_or_else(|_| "<invalid>".into());
    vec![
        name(deploy).into(),
        ready_of_desired(deploy).into(),
        int_at(deploy, "/status/updatedReplicas").into(),
        int_at(deploy, "/status/availableReplicas").into(),
        age(deploy, now).into(),
        containers.into(),
        images.into(),
        selector.into(),
    ]
}

pub(super) const REPLICA_SET_COLUMNS: &[Column] = &[
    NAME,
    Column::integer("Desired", "Number of pods wanted."),
    Column::integer("Current", "Number of pods that exist."),
    Column::integer("Ready", "Number of pods that are ready."),
    AGE,
    CONTAINERS,
    IMAGES,
    SELECTOR,
];

pub(super) fn replica_set_cells(rs: &Value, now: jiff::Timestamp) -> Vec<Value> {
    let (containers, images) = template_containers(rs);
    vec![
        name(rs).into(),
        desired_replicas(rs).into(),
        int_at(rs, "/status/replicas").into(),
        int_at(rs, "/status/readyReplicas").into(),
        age(rs, now).into(),
        containers.into(),
        images.into(),
        format_label_selector(rs.pointer("/spec/selector")).into(),
    ]
}

pub(super) const STATEFUL_SET_COLUMNS: &[Column] = &[
    NAME,
    Column::string("Ready", "Ready pods out of the desired number."),
    AGE,
    CONTAINERS,
    IMAGES,
];

pub(super) fn stateful_set_cells(sts: &Value, now: jiff::Timestamp) -> Vec<Value> {
    let (containers, images) = template_containers(sts);
    vec![
        name(sts).into(),
        ready_of_desired(sts).into(),
        age(sts, now).into(),
        containers.into(),
        images.into(),
    ]
}

/// `ready/desired`, e.g. `2/3`.
fn ready_of_desired(obj: &Value) -> String {
    format!(
        "{}/{}",
        int_at(obj, "/status/readyReplicas"),
        desired_replicas(obj)
    )
}

#[cfg(test)]
mod tests {
    use super::super::cells;
    use serde_json::{Value, json};

    fn now() -> jiff::Timestamp {
        "2024-06-01T12:00:00Z".parse().unwrap()
    }

    fn meta() -> Value {
        json!({"name": "my-nginx", "creationTimestamp": "2024-06-01T11:35:00Z"})
    }

    fn template() -> Value {
        json!({"metadata": {"labels": {"app": "my-nginx"}},
               "spec": {"containers": [{"name": "nginx", "image": "nginx"},
                                       {"name": "sidecar", "image": "busybox:1.36"}]}})
    }

    #[test]
    fn deployment_cases() {
        let cases = [
            (
                "rolled out",
                json!({"metadata": meta(),
                       "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "my-nginx"}},
                                "template": template()},
                       "status": {"replicas": 2, "readyReplicas": 2, "updatedReplicas": 2,
                                  "availableReplicas": 2}}),
                json!([
                    "my-nginx",
                    "2/2",
                    2,
                    2,
                    "25m",
                    "nginx,sidecar",
                    "nginx,busybox:1.36",
                    "app=my-nginx"
                ]),
            ),
            (
                "scaling up, expressions in selector",
                json!({"metadata": meta(),
                       "spec": {"replicas": 3,
                                "selector": {"matchLabels": {"app": "my-nginx"},
                                             "matchExpressions": [{"key": "tier",
                                                                   "operator": "In",
                                                                   "values": ["fe"]}]},
                                "template": template()},
                       "status": {"readyReplicas": 1, "updatedReplicas": 3,
                                  "availableReplicas": 1}}),
                json!([
                    "my-nginx",
                    "1/3",
                    3,
                    1,
                    "25m",
                    "nginx,sidecar",
                    "nginx,busybox:1.36",
                    "app=my-nginx,tier in (fe)"
                ]),
            ),
            (
                "fresh object: replicas default to one, empty selector prints empty",
                json!({"metadata": meta(), "spec": {"selector": {}}}),
                json!(["my-nginx", "0/1", 0, 0, "25m", "", "", ""]),
            ),
            (
                "zero replicas",
                json!({"metadata": meta(), "spec": {"replicas": 0}}),
                json!(["my-nginx", "0/0", 0, 0, "25m", "", "", ""]),
            ),
            (
                "invalid selector",
                json!({"metadata": meta(),
                       "spec": {"replicas": 1,
                                "selector": {"matchExpressions": [{"key": "a",
                                                                   "operator": "Bogus"}]}}}),
                json!(["my-nginx", "0/1", 0, 0, "25m", "", "", "<invalid>"]),
            ),
        ];
        for (name, obj, want) in cases {
            assert_eq!(
                Value::from(cells("Deployment", &obj, now())),
                want,
                "{name}"
            );
        }
    }

    #[test]
    fn replica_set_cases() {
        let cases = [
            (
                "steady",
                json!({"metadata": meta(),
                       "spec": {"replicas": 2,
                                "selector": {"matchLabels": {"app": "my-nginx",
                                                             "pod-template-hash": "6f6bcdf657"}},
                                "template": template()},
                       "status": {"replicas": 2, "readyReplicas": 1}}),
                json!([
                    "my-nginx",
                    2,
                    2,
                    1,
                    "25m",
                    "nginx,sidecar",
                    "nginx,busybox:1.36",
                    "app=my-nginx,pod-template-hash=6f6bcdf657"
                ]),
            ),
            (
                "empty selector prints none",
                json!({"metadata": meta(), "spec": {"selector": {}}}),
                json!(["my-nginx", 1, 0, 0, "25m", "", "", "<none>"]),
            ),
            (
                "invalid selector prints error",
                json!({"metadata": meta(),
                       "spec": {"selector": {"matchLabels": {"bad key": "x"}}}}),
                json!(["my-nginx", 1, 0, 0, "25m", "", "", "<error>"]),
            ),
        ];
        for (name, obj, want) in cases {
            assert_eq!(
                Value::from(cells("ReplicaSet", &obj, now())),
                want,
                "{name}"
            );
        }
    }

    #[test]
    fn stateful_set_cases() {
        let cases = [
            (
                "ready",
                json!({"metadata": meta(),
                       "spec": {"replicas": 1, "template": template()},
                       "status": {"replicas": 1, "readyReplicas": 1}}),
                json!([
                    "my-nginx",
                    "1/1",
                    "25m",
                    "nginx,sidecar",
                    "nginx,busybox:1.36"
                ]),
            ),
            (
                "no status",
                json!({"metadata": meta(), "spec": {"replicas": 3}}),
                json!(["my-nginx", "0/3", "25m", "", ""]),
            ),
        ];
        for (name, obj, want) in cases {
            assert_eq!(
                Value::from(cells("StatefulSet", &obj, now())),
                want,
                "{name}"
            );
        }
    }
}
