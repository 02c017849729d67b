//! Server-side printing: the columns and cells of a `meta.k8s.io/v1` `Table`, per kind.
//!
//! kubectl 1.32 asks for `as=Table` and prints whatever the server computes, so these rules
//! follow kube-apiserver's `pkg/printers/internalversion` printers. The API server always
//! prints as if `-o wide` were given (kubectl hides `priority: 1` columns itself), so every
//! row carries every column.
//!
//! Objects arrive as the stored JSON. Cells are read straight from it with Go's zero-value
//! semantics (a missing field reads as `""`, `0` or `false`), which keeps odd objects
//! printable instead of failing a whole deserialization.

mod cluster;
mod config;
mod duration;
mod event;
mod fields;
mod network;
mod pod;
mod selector;
mod workloads;

use serde_json::Value;

pub use duration::human_duration;

/// One column definition of a Table (`columnDefinitions[]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    pub name: &'static str,
    /// OpenAPI type of the cells: `"string"`, `"integer"`, ...
    pub type_: &'static str,
    /// `"name"` for the object's Name column, `""` otherwise.
    pub format: &'static str,
    pub description: &'static str,
    /// 0 for default columns, 1 for the ones kubectl shows only with `-o wide`.
    pub priority: i32,
}

impl Column {
    const fn new(name: &'static str, type_: &'static str, description: &'static str) -> Self {
        Self {
            name,
            type_,
            format: "",
            description,
            priority: 0,
        }
    }

    const fn string(name: &'static str, description: &'static str) -> Self {
        Self::new(name, "string", description)
    }

    const fn integer(name: &'static str, description: &'static str) -> Self {
        Self::new(name, "integer", description)
    }

    /// Marks the column as `-o wide` only.
    const fn wide(self) -> Self {
        Self {
            priority: 1,
            ..self
        }
    }

    /// Marks the column as the one kubectl uses for `-o name` and row identity.
    const fn name_format(self) -> Self {
        Self {
            format: "name",
            ..self
        }
    }
}

/// The object's name, first column of almost every kind.
const NAME: Column =
    Column::string("Name", "Name of the object, unique within its namespace.").name_format();

/// Time since `metadata.creationTimestamp`, rendered like `5m` or `2d`.
const AGE: Column = Column::string("Age", "Time since the object was created.");

/// Columns of kinds without a dedicated printer.
const DEFAULT_COLUMNS: &[Column] = &[NAME, AGE];

type CellsFn = fn(&Value, jiff::Timestamp) -> Vec<Value>;

/// The column list and cell function of a kind; unknown kinds get Name + Age.
fn printer(kind: &str) -> (&'static [Column], CellsFn) {
    match kind {
        "Namespace" => (cluster::NAMESPACE_COLUMNS, cluster::namespace_cells),
        "Node" => (cluster::NODE_COLUMNS, cluster::node_cells),
        "Lease" => (cluster::LEASE_COLUMNS, cluster::lease_cells),
        "ConfigMap" => (config::CONFIG_MAP_COLUMNS, config::config_map_cells),
        "Secret" => (config::SECRET_COLUMNS, config::secret_cells),
        "Pod" => (pod::POD_COLUMNS, pod::pod_cells),
        "Service" => (network::SERVICE_COLUMNS, network::service_cells),
        "Endpoints" => (network::ENDPOINTS_COLUMNS, network::endpoints_cells),
        "EndpointSlice" => (
            network::ENDPOINT_SLICE_COLUMNS,
            network::endpoint_slice_cells,
        ),
        "Event" => (event::EVENT_COLUMNS, event::event_cells),
        "Deployment" => (workloads::DEPLOYMENT_COLUMNS, workloads::deployment_cells),
        "ReplicaSet" => (workloads::REPLICA_SET_COLUMNS, workloads::replica_set_cells),
        "StatefulSet" => (
            workloads::STATEFUL_SET_COLUMNS,
            workloads::stateful_set_cells,
        ),
        _ => (DEFAULT_COLUMNS, default_cells),
    }
}

/// Column definitions for `kind` (e.g. `"Service"`); unknown kinds get Name + Age.
pub fn columns(kind: &str) -> &'static [Column] {
    printer(kind).0
}

/// The row cells for one object, same length and order as [`columns`]`(kind)`.
///
/// Integer cells are JSON numbers, everything else JSON strings. Never panics, whatever the
/// shape of `obj`.
pub fn cells(kind: &str, obj: &Value, now: jiff::Timestamp) -> Vec<Value> {
    (printer(kind).1)(obj, now)
}

/// The Age cell of an object: `<unknown>` when `metadata.creationTimestamp` is missing.
pub fn age(obj: &Value, now: jiff::Timestamp) -> String {
    fields::since(fields::time_at(obj, "/metadata/creationTimestamp"), now)
}

fn default_cells(obj: &Value, now: jiff::Timestamp) -> Vec<Value> {
    vec![fields::name(obj).into(), age(obj, now).into()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const KINDS: &[&str] = &[
        "Namespace",
        "Node",
        "Lease",
        "ConfigMap",
        "Secret",
        "Pod",
        "Service",
        "Endpoints",
        "EndpointSlice",
        "Event",
        "Deployment",
        "ReplicaSet",
        "StatefulSet",
        "Widget",
    ];

    fn now() -> jiff::Timestamp {
        "2024-06-01T12:00:00Z".parse().unwrap()
    }

    /// Every printer must cope with objects of the wrong shape and still fill every column.
    #[test]
    fn odd_objects_fill_every_column() {
        let odd = [
            json!(null),
            json!({}),
            json!("pod"),
            json!([1, 2]),
            json!({"metadata": 5, "spec": "x", "status": null}),
            json!({"spec": {"containers": "x", "ports": [1, "a", null], "selector": [1]},
                   "status": {"conditions": {}, "containerStatuses": [null, 3, {"state": 7}],
                              "initContainerStatuses": [{"state": {"terminated": 1}}]},
                   "subsets": [null, {"addresses": 1, "ports": [{}]}],
                   "endpoints": [{"addresses": [1]}], "series": {}}),
            json!({"status": {"containerStatuses": [{"restartCount": i64::MAX},
                                                    {"restartCount": i64::MAX}]}}),
        ];
        for kind in KINDS {
            for obj in &odd {
                let row = cells(kind, obj, now());
                assert_eq!(row.len(), columns(kind).len(), "{kind} on {obj}");
            }
        }
    }

    #[test]
    fn column_names_follow_upstream() {
        let cases: &[(&str, &[&str])] = &[
            ("Namespace", &["Name", "Status", "Age"]),
            (
                "Node",
                &[
                    "Name",
                    "Status",
                    "Roles",
                    "Age",
                    "Version",
                    "Internal-IP",
                    "External-IP",
                    "OS-Image",
                    "Kernel-Version",
                    "Container-Runtime",
                ],
            ),
            (
                "Pod",
                &[
                    "Name",
                    "Ready",
                    "Status",
                    "Restarts",
                    "Age",
                    "IP",
                    "Node",
                    "Nominated Node",
                    "Readiness Gates",
                ],
            ),
            (
                "Service",
                &[
                    "Name",
                    "Type",
                    "Cluster-IP",
                    "External-IP",
                    "Port(s)",
                    "Age",
                    "Selector",
                ],
            ),
            ("Endpoints", &["Name", "Endpoints", "Age"]),
            (
                "EndpointSlice",
                &["Name", "AddressType", "Ports", "Endpoints", "Age"],
            ),
            (
                "Event",
                &[
                    "Last Seen",
                    "Type",
                    "Reason",
                    "Object",
                    "Subobject",
                    "Source",
                    "Message",
                    "First Seen",
                    "Count",
                    "Name",
                ],
            ),
            ("ConfigMap", &["Name", "Data", "Age"]),
            ("Secret", &["Name", "Type", "Data", "Age"]),
            (
                "Deployment",
                &[
                    "Name",
                    "Ready",
                    "Up-to-date",
                    "Available",
                    "Age",
                    "Containers",
                    "Images",
                    "Selector",
                ],
            ),
            (
                "ReplicaSet",
                &[
                    "Name",
                    "Desired",
                    "Current",
                    "Ready",
                    "Age",
                    "Containers",
                    "Images",
                    "Selector",
                ],
            ),
            (
                "StatefulSet",
                &["Name", "Ready", "Age", "Containers", "Images"],
            ),
            ("Lease", &["Name", "Holder", "Age"]),
            ("Widget", &["Name", "Age"]),
        ];
        for (kind, want) in cases {
            let got: Vec<_> = columns(kind).iter().map(|c| c.name).collect();
            assert_eq!(&got, want, "{kind}");
        }
    }

    #[test]
    fn wide_columns_follow_upstream() {
        let cases: &[(&str, &[&str])] = &[
            ("Namespace", &[]),
            (
                "Node",
                &[
                    "Internal-IP",
                    "External-IP",
                    "OS-Image",
                    "Kernel-Version",
                    "Container-Runtime",
                ],
            ),
            ("Pod", &["IP", "Node", "Nominated Node", "Readiness Gates"]),
            ("Service", &["Selector"]),
            ("Endpoints", &[]),
            ("EndpointSlice", &[]),
            (
                "Event",
                &["Subobject", "Source", "First Seen", "Count", "Name"],
            ),
            ("Deployment", &["Containers", "Images", "Selector"]),
            ("ReplicaSet", &["Containers", "Images", "Selector"]),
            ("StatefulSet", &["Containers", "Images"]),
            ("Lease", &[]),
        ];
        for (kind, want) in cases {
            let got: Vec<_> = columns(kind)
                .iter()
                .filter(|c| c.priority == 1)
                .map(|c| c.name)
                .collect();
            assert_eq!(&got, want, "{kind}");
        }
    }

    #[test]
    fn exactly_one_name_formatted_column_per_kind() {
        for kind in KINDS {
            let named: Vec<_> = columns(kind)
                .iter()
                .filter(|c| c.format == "name")
                .map(|c| c.name)
                .collect();
            assert_eq!(named, ["Name"], "{kind}");
            for column in columns(kind) {
                assert!(!column.description.is_empty(), "{kind}/{}", column.name);
                assert!(matches!(column.priority, 0 | 1), "{kind}/{}", column.name);
            }
        }
    }

    /// Column types are upstream's, which are not always the cells' JSON type (e.g. the
    /// Deployment counters are declared "string" but printed as numbers).
    #[test]
    fn integer_typed_columns_follow_upstream() {
        let cases: &[(&str, &[&str])] = &[
            ("ReplicaSet", &["Desired", "Current", "Ready"]),
            ("Deployment", &[]),
            ("Pod", &[]),
            ("ConfigMap", &[]),
            ("Event", &[]),
        ];
        for (kind, want) in cases {
            let got: Vec<_> = columns(kind)
                .iter()
                .filter(|c| c.type_ == "integer")
                .map(|c| c.name)
                .collect();
            assert_eq!(&got, want, "{kind}");
        }
    }

    #[test]
    fn unknown_kinds_get_name_and_age() {
        let obj = json!({"metadata": {"name": "w1", "creationTimestamp": "2024-06-01T11:55:00Z"}});
        assert_eq!(cells("Widget", &obj, now()), [json!("w1"), json!("5m")]);
        assert_eq!(
            cells("Widget", &json!({}), now()),
            [json!(""), json!("<unknown>")]
        );
    }

    #[test]
    fn age_cases() {
        let cases = [
            ("missing", json!({}), "<unknown>"),
            (
                "null",
                json!({"metadata": {"creationTimestamp": null}}),
                "<unknown>",
            ),
            (
                "garbage",
                json!({"metadata": {"creationTimestamp": "yesterday"}}),
                "<unknown>",
            ),
            (
                "go zero time",
                json!({"metadata": {"creationTimestamp": "0001-01-01T00:00:00Z"}}),
                "<unknown>",
            ),
            (
                "now",
                json!({"metadata": {"creationTimestamp": "2024-06-01T12:00:00Z"}}),
                "0s",
            ),
            (
                "clock skew of 1s",
                json!({"metadata": {"creationTimestamp": "2024-06-01T12:00:01Z"}}),
                "0s",
            ),
            (
                "future",
                json!({"metadata": {"creationTimestamp": "2024-06-01T12:00:02Z"}}),
                "<invalid>",
            ),
            (
                "44 days",
                json!({"metadata": {"creationTimestamp": "2024-04-18T12:00:00Z"}}),
                "44d",
            ),
            (
                "fractional seconds",
                json!({"metadata": {"creationTimestamp": "2024-06-01T11:59:50.900Z"}}),
                "9s",
            ),
        ];
        for (name, obj, want) in cases {
            assert_eq!(age(&obj, now()), want, "{name}");
        }
    }
}
