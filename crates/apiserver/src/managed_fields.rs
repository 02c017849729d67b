//! `metadata.managedFields`: which manager last wrote which fields. Each write replaces the
//! entry of its (manager, operation, subresource) with the object's current field set, so
//! `kubectl get -o yaml --show-managed-fields` shows who wrote what. Ownership is recorded, not
//! yet enforced: server-side apply does not raise field-manager conflicts.

use serde_json::{Map, Value, json};

use crate::object;

/// What kind of write produced an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Update,
    Apply,
}

impl Operation {
    fn as_str(self) -> &'static str {
        match self {
            Operation::Update => "Update",
            Operation::Apply => "Apply",
        }
    }
}

/// The manager name of a request: the `fieldManager` parameter, else the client's user agent up
/// to its first `/` (as kube-apiserver derives it).
pub fn manager_name(field_manager: Option<&str>, user_agent: Option<&str>) -> String {
    if let Some(m) = field_manager.filter(|m| !m.is_empty()) {
        return m.to_string();
    }
    user_agent
        .and_then(|ua| ua.split('/').next())
        .filter(|s| !s.is_empty())
        .unwrap_or("unknown")
        .to_string()
}

/// Replace `manager`'s entry on `obj` with its current field set.
pub fn record(obj: &mut Value, manager: &str, op: Operation, subresource: Option<&str>) {
    let api_version = obj.get("apiVersion").cloned().unwrap_or(Value::Null);
    let fields = field_set(obj, subresource);
    let mut entry = json!({
        "manager": manager,
        "operation": op.as_str(),
        "apiVersion": api_version,
        "time": object::now(),
        "fieldsType": "FieldsV1",
        "fieldsV1": fields,
    });
    if let Some(sub) = subresource {
        entry["subresource"] = json!(sub);
    }
    let meta = object::meta_mut(obj);
    let mut entries: Vec<Value> = match meta.remove("managedFields") {
        Some(Value::Array(entries)) => entries,
        _ => Vec::new(),
    };
    entries.retain(|e| {
        !(e["manager"] == manager
            && e["operation"] == op.as_str()
            && e.get("subresource").and_then(Value::as_str) == subresource)
    });
    entries.push(entry);
    meta.insert("managedFields".into(), Value::Array(entries));
}

/// Metadata fields the server owns; they never appear in a manager's field set.
const SYSTEM_METADATA: &[&str] = &[
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "managedFields",
    "selfLink",
];

/// The FieldsV1 set of `obj`: `f:<field>` for map keys, `k:{"name":…}` for list items keyed by
/// name, and `.` leaves. A status write owns `status`; other writes own everything else.
fn field_set(obj: &Value, subresource: Option<&str>) -> Value {
    let mut out = Map::new();
    let Some(map) = obj.as_object() else {
        return json!({});
    };
    for (k, v) in map {
        let owned = match subresource {
            Some("status") => k == "status",
            _ => k != "status" && k != "apiVersion" && k != "kind",
        };
        if !owned {
            continue;
        }
        let child = match v {
            Value::Object(meta) if k == "metadata" => {
                let mut out = Map::new();
                for (key, child) in meta {
                    if !SYSTEM_METADATA.contains(&key.as_str()) {
                        out.insert(format!("f:{key}"), fields_of(child));
                    }
                }
                if out.is_empty() {
                    continue;
                }
                Value::Object(out)
            }
            _ => fields_of(v),
        };
        out.insert(format!("f:{k}"), child);
    }
    Value::Object(out)
}

fn fields_of(v: &Value) -> Value {
    match v {
        Value::Object(map) => {
            let mut out = Map::new();
            for (k, child) in map {
                out.insert(format!("f:{k}"), fields_of(child));
            }
            Value::Object(out)
        }
        Value::Array(items) => {
            let mut out = Map::new();
            for item in items {
                match item.get("name").and_then(Value::as_str) {
                    Some(name) => {
                        let mut inner = match fields_of(item) {
                            Value::Object(m) => m,
                            _ => Map::new(),
                        };
                        inner.insert(".".into(), json!({}));
                        out.insert(format!("k:{}", json!({"name": name})), Value::Object(inner));
                    }
                    None => {
                        out.insert(format!("v:{item}"), json!({}));
                    }
                }
            }
            Value::Object(out)
        }
        _ => json!({}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manager_names() {
        assert_eq!(
            manager_name(Some("kubectl-client-side-apply"), Some("kubectl/v1.33")),
            "kubectl-client-side-apply"
        );
        assert_eq!(
            manager_name(None, Some("kubectl/v1.33.1 (linux/amd64)")),
            "kubectl"
        );
        assert_eq!(manager_name(None, None), "unknown");
    }

    #[test]
    fn entries_replace_per_manager() {
        let mut obj = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "a", "labels": {"x": "y"}},
            "spec": {"ports": [{"name": "http", "port": 80}]}, "status": {}});
        record(&mut obj, "kubectl", Operation::Update, None);
        record(&mut obj, "kubectl", Operation::Update, None);
        record(&mut obj, "ctl", Operation::Update, Some("status"));
        let entries = obj["metadata"]["managedFields"].as_array().unwrap();
        assert_eq!(entries.len(), 2);
        let fields = &entries[0]["fieldsV1"];
        assert!(fields["f:metadata"]["f:labels"]["f:x"].is_object());
        assert!(fields["f:metadata"].get("f:name").is_none());
        assert!(fields["f:spec"]["f:ports"][r#"k:{"name":"http"}"#]["f:port"].is_object());
        assert!(entries[1]["fieldsV1"]["f:status"].is_object());
    }
}
