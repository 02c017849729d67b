//! Helpers over objects as JSON: metadata access, store keys, and the stored form (the
//! resourceVersion is not stored; it is the store's revision, injected on every read).

use api::resources::ResourceType;
use bytes::Bytes;
use serde_json::{Map, Value, json};
use store::KeyValue;

use crate::error::{ApiError, Result};

/// Keys follow kube-apiserver's etcd layout: `/registry/<group-resource>/<ns>/<name>`.
pub fn key(rt: &ResourceType, namespace: Option<&str>, name: &str) -> String {
    match namespace {
        Some(ns) if rt.namespaced() => format!("/registry/{}/{ns}/{name}", rt.group_resource()),
        _ => format!("/registry/{}/{name}", rt.group_resource()),
    }
}

/// The key prefix of every object of `rt` in `namespace` (all namespaces when `None`).
pub fn prefix(rt: &ResourceType, namespace: Option<&str>) -> String {
    match namespace {
        Some(ns) if rt.namespaced() => format!("/registry/{}/{ns}/", rt.group_resource()),
        _ => format!("/registry/{}/", rt.group_resource()),
    }
}

/// A stored object with its resourceVersion set from the store's revision.
pub fn from_kv(kv: &KeyValue) -> Result<Value> {
    let mut obj: Value = serde_json::from_slice(&kv.value)
        .map_err(|e| ApiError::Internal(format!("stored object at {} is corrupt: {e}", kv.key)))?;
    set_resource_version(&mut obj, kv.mod_revision);
    Ok(obj)
}

/// The stored form of `obj`: without its resourceVersion.
pub fn to_bytes(obj: &Value) -> Bytes {
    if obj.pointer("/metadata/resourceVersion").is_none() {
        return Bytes::from(serde_json::to_vec(obj).expect("JSON values serialize"));
    }
    let mut obj = obj.clone();
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("resourceVersion");
    }
    Bytes::from(serde_json::to_vec(&obj).expect("JSON values serialize"))
}

/// [`to_bytes`] of an object the caller is about to store: its resourceVersion is removed in
/// place (no copy), to be set again with [`set_resource_version`] from the write's revision.
pub fn to_stored_bytes(obj: &mut Value) -> Bytes {
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("resourceVersion");
    }
    Bytes::from(serde_json::to_vec(obj).expect("JSON values serialize"))
}

/// Whether a stored object is being deleted (`metadata.deletionTimestamp` set), read without
/// building the whole object: only the metadata's deletionTimestamp is kept.
pub fn stored_is_deleting(kv: &KeyValue) -> Result<bool> {
    // The stored form is serde_json's output, which writes keys unescaped: without the key in
    // the bytes there is no deletionTimestamp, and nothing to parse.
    const KEY: &[u8] = b"\"deletionTimestamp\"";
    if !kv
        .value
        .windows(KEY.len())
        .any(|w| w[1] == b'd' && w == KEY)
    {
        return Ok(false);
    }
    #[derive(serde::Deserialize)]
    struct Stored {
        #[serde(default)]
        metadata: Option<Metadata>,
    }
    #[derive(serde::Deserialize)]
    struct Metadata {
        #[serde(default, rename = "deletionTimestamp")]
        deletion_timestamp: Option<Value>,
    }
    let stored: Stored = serde_json::from_slice(&kv.value)
        .map_err(|e| ApiError::Internal(format!("stored object at {} is corrupt: {e}", kv.key)))?;
    Ok(stored
        .metadata
        .and_then(|m| m.deletion_timestamp)
        .as_ref()
        .and_then(Value::as_str)
        .is_some_and(|s| !s.is_empty()))
}

pub fn set_resource_version(obj: &mut Value, rev: i64) {
    meta_mut(obj).insert("resourceVersion".into(), json!(rev.to_string()));
}

/// The object's metadata map, created if missing.
pub fn meta_mut(obj: &mut Value) -> &mut Map<String, Value> {
    if !obj.is_object() {
        *obj = json!({});
    }
    let map = obj.as_object_mut().expect("object");
    let meta = map.entry("metadata").or_insert_with(|| json!({}));
    if !meta.is_object() {
        *meta = json!({});
    }
    meta.as_object_mut().expect("metadata object")
}

pub fn meta_str<'a>(obj: &'a Value, field: &str) -> Option<&'a str> {
    obj.get("metadata")?
        .get(field)?
        .as_str()
        .filter(|s| !s.is_empty())
}

pub fn name(obj: &Value) -> Option<&str> {
    meta_str(obj, "name")
}

pub fn namespace(obj: &Value) -> Option<&str> {
    meta_str(obj, "namespace")
}

pub fn resource_version(obj: &Value) -> Option<&str> {
    meta_str(obj, "resourceVersion")
}

pub fn finalizers(obj: &Value) -> Vec<String> {
    obj.pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|f| f.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

pub fn is_deleting(obj: &Value) -> bool {
    meta_str(obj, "deletionTimestamp").is_some()
}

/// RFC 3339 at second precision, as Kubernetes writes timestamps.
pub fn timestamp(t: jiff::Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

pub fn now() -> String {
    timestamp(jiff::Timestamp::now())
}

/// Two objects equal but for their resourceVersion and managedFields timestamps: a write of
/// such an object is a no-op and must not bump the resourceVersion.
pub fn same_content(a: &Value, b: &Value) -> bool {
    strip_volatile(a) == strip_volatile(b)
}

fn strip_volatile(obj: &Value) -> Value {
    let mut obj = obj.clone();
    let meta = meta_mut(&mut obj);
    meta.remove("resourceVersion");
    meta.remove("managedFields");
    obj
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_prefixes() {
        let svc = api::resources::by_kind("v1", "Service").unwrap();
        let ns = api::resources::by_kind("v1", "Namespace").unwrap();
        let deploy = api::resources::by_kind("apps/v1", "Deployment").unwrap();
        assert_eq!(
            key(svc, Some("default"), "web"),
            "/registry/services/default/web"
        );
        assert_eq!(prefix(svc, Some("default")), "/registry/services/default/");
        assert_eq!(prefix(svc, None), "/registry/services/");
        assert_eq!(key(ns, None, "demo"), "/registry/namespaces/demo");
        assert_eq!(
            key(deploy, Some("a"), "b"),
            "/registry/deployments.apps/a/b"
        );
    }

    #[test]
    fn stored_form_has_no_resource_version() {
        let obj = json!({"metadata": {"name": "a", "resourceVersion": "7"}});
        let kv = KeyValue {
            key: "k".into(),
            value: to_bytes(&obj),
            create_revision: 3,
            mod_revision: 9,
        };
        assert!(!String::from_utf8_lossy(&kv.value).contains("resourceVersion"));
        assert_eq!(resource_version(&from_kv(&kv).unwrap()), Some("9"));
        let mut in_hand = obj.clone();
        assert_eq!(to_stored_bytes(&mut in_hand), kv.value);
        assert_eq!(resource_version(&in_hand), None);
    }

    #[test]
    fn deletion_is_read_from_the_stored_bytes() {
        let kv = |obj: Value| KeyValue {
            key: "k".into(),
            value: to_bytes(&obj),
            create_revision: 1,
            mod_revision: 1,
        };
        let deleting = json!({"metadata": {"name": "a", "deletionTimestamp": "2024-01-01T00:00:00Z"},
            "spec": {"finalizers": ["kubernetes"]}});
        for (obj, want) in [
            (deleting, true),
            (
                json!({"metadata": {"name": "a"}, "status": {"phase": "Active"}}),
                false,
            ),
            (json!({"metadata": {"deletionTimestamp": ""}}), false),
            (json!({"metadata": {"deletionTimestamp": null}}), false),
            (json!({"kind": "Namespace"}), false),
        ] {
            let stored = kv(obj.clone());
            assert_eq!(stored_is_deleting(&stored).unwrap(), want, "{obj}");
            assert_eq!(is_deleting(&from_kv(&stored).unwrap()), want, "{obj}");
        }
    }
}
