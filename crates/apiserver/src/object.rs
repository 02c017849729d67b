//! Helpers over objects as JSON: metadata access, store keys, and the stored form (the
//! resourceVersion is not stored; it is the store's revision, injected on every read).

use api::resources::ResourceType;
use bytes::Bytes;
use serde_json::{Map, Value, json};
use store::KeyValue;

use crate::error::{ApiError, Result};

/// Keys follow kube-apiserver's etcd layout, `/registry/<resource>/<ns>/<name>`, with its
/// historical names: Services under `services/specs`, Endpoints under `services/endpoints`,
/// Nodes under `minions`; other kinds by plural, without their API group.
pub fn key(rt: &ResourceType, namespace: Option<&str>, name: &str) -> String {
    format!("{}{name}", prefix(rt, namespace))
}

/// The key prefix of every object of `rt` in `namespace` (all namespaces when `None`).
pub fn prefix(rt: &ResourceType, namespace: Option<&str>) -> String {
    let resource = storage_resource(rt);
    match namespace {
        Some(ns) if rt.namespaced() => format!("/registry/{resource}/{ns}/"),
        _ => format!("/registry/{resource}/"),
    }
}

fn storage_resource(rt: &ResourceType) -> &'static str {
    match (rt.group, rt.plural) {
        ("", "services") => "services/specs",
        ("", "endpoints") => "services/endpoints",
        ("", "nodes") => "minions",
        (_, plural) => plural,
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
        return Bytes::from(api::encode::to_vec(obj));
    }
    let mut obj = obj.clone();
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("resourceVersion");
    }
    Bytes::from(api::encode::to_vec(&obj))
}

/// An object's stored form, encoded so that its JSON with a resourceVersion (the body of the
/// write's response) is a copy of it with the field spliced in, not a second serialization of
/// the whole object.
#[derive(Debug, Clone)]
pub struct StoredJson {
    pub bytes: Bytes,
    /// Where `"resourceVersion":…` goes in `bytes`, and whether a metadata field precedes
    /// and follows that spot (each needs a comma); `None` when the object has no metadata map.
    splice: Option<(usize, bool, bool)>,
}

impl StoredJson {
    /// The stored form of an object the caller is about to store ([`to_bytes`]; its
    /// resourceVersion is removed in place, to be set again from the write's revision),
    /// and where the resourceVersion goes: the same place [`set_resource_version`] puts it, so
    /// that [`StoredJson::with_resource_version`] equals serializing the object after it.
    pub fn encode(obj: &mut Value) -> StoredJson {
        if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.remove("resourceVersion");
        }
        let top = obj
            .as_object()
            .filter(|top| top.get("metadata").is_some_and(Value::is_object));
        let Some(top) = top else {
            return StoredJson {
                bytes: Bytes::from(api::encode::to_vec(obj)),
                splice: None,
            };
        };
        // serde_json's map keeps its keys sorted, or in insertion order with `preserve_order`
        // (then a new key goes last): find which once, to put the field where it would go.
        static SORTED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        let sorted = *SORTED.get_or_init(|| {
            let mut probe = Map::new();
            probe.insert("b".into(), Value::Null);
            probe.insert("a".into(), Value::Null);
            probe.keys().next().map(String::as_str) == Some("a")
        });
        // What serde_json::to_vec writes (compact, map order), with the metadata map written
        // field by field to note the spot.
        let (write, write_str) = (api::encode::write, api::encode::write_str);
        let mut out = Vec::with_capacity(2048);
        let mut splice = None;
        out.push(b'{');
        for (i, (key, value)) in top.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_str(&mut out, key);
            out.push(b':');
            match value {
                Value::Object(meta) if key == "metadata" => {
                    out.push(b'{');
                    let mut before = false;
                    for (field, value) in meta {
                        if splice.is_none() && sorted && field.as_str() > "resourceVersion" {
                            splice = Some((out.len(), before, true));
                        }
                        if before {
                            out.push(b',');
                        }
                        write_str(&mut out, field);
                        out.push(b':');
                        write(&mut out, value);
                        before = true;
                    }
                    if splice.is_none() {
                        splice = Some((out.len(), before, false));
                    }
                    out.push(b'}');
                }
                _ => write(&mut out, value),
            }
        }
        out.push(b'}');
        StoredJson {
            bytes: Bytes::from(out),
            splice,
        }
    }

    /// The object's JSON with its resourceVersion set to `rev`.
    pub fn with_resource_version(&self, rev: i64) -> Option<Bytes> {
        let (at, before, after) = self.splice?;
        // Between two fields the comma before the next one is already there.
        let field = format!(
            "{}\"resourceVersion\":\"{rev}\"{}",
            if before { "," } else { "" },
            if after && !before { "," } else { "" }
        );
        let mut out = Vec::with_capacity(self.bytes.len() + field.len());
        out.extend_from_slice(self.bytes.get(..at)?);
        out.extend_from_slice(field.as_bytes());
        out.extend_from_slice(self.bytes.get(at..)?);
        Some(Bytes::from(out))
    }
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

/// The current time as [`timestamp`] writes it. Formatting it once per second, not per write,
/// saves a few thousand instructions on every create.
pub fn now() -> String {
    thread_local! {
        static LAST: std::cell::RefCell<(i64, String)> = const {
            std::cell::RefCell::new((i64::MIN, String::new()))
        };
    }
    let t = jiff::Timestamp::now();
    LAST.with_borrow_mut(|(second, text)| {
        if *second != t.as_second() {
            *second = t.as_second();
            *text = timestamp(t);
        }
        text.clone()
    })
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
        let endpoints = api::resources::by_kind("v1", "Endpoints").unwrap();
        let node = api::resources::by_kind("v1", "Node").unwrap();
        let slice = api::resources::by_kind("discovery.k8s.io/v1", "EndpointSlice").unwrap();
        for (key, want) in [
            (
                key(svc, Some("default"), "web"),
                "/registry/services/specs/default/web",
            ),
            (
                prefix(svc, Some("default")),
                "/registry/services/specs/default/",
            ),
            (prefix(svc, None), "/registry/services/specs/"),
            (
                key(endpoints, Some("default"), "web"),
                "/registry/services/endpoints/default/web",
            ),
            (key(ns, None, "demo"), "/registry/namespaces/demo"),
            (key(node, None, "node-1"), "/registry/minions/node-1"),
            (key(deploy, Some("a"), "b"), "/registry/deployments/a/b"),
            (key(slice, Some("a"), "b"), "/registry/endpointslices/a/b"),
        ] {
            assert_eq!(key, want);
        }
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
        assert_eq!(StoredJson::encode(&mut in_hand).bytes, kv.value);
        assert_eq!(resource_version(&in_hand), None);
    }

    #[test]
    fn the_response_is_the_stored_form_with_the_resource_version() {
        for obj in [
            json!({"apiVersion": "v1", "data": {"a": "x\"y"}, "kind": "ConfigMap",
                "metadata": {"name": "a", "namespace": "n", "resourceVersion": "3", "uid": "u"}}),
            json!({"kind": "A", "metadata": {}}),
            json!({"metadata": {"name": "a"}}),
            json!({"metadata": {"uid": "u", "zz": {"metadata": {}}}, "spec": {"x": 1}}),
            json!({"metadata": {"annotations": {"k": "v"}, "name": "a"}, "z": [1]}),
            json!({"kind": "NoMetadata"}),
            json!({"metadata": "not a map"}),
        ] {
            let mut in_hand = obj.clone();
            let stored = StoredJson::encode(&mut in_hand);
            assert_eq!(stored.bytes, to_bytes(&obj), "{obj}");
            let spliced = stored.with_resource_version(42);
            set_resource_version(&mut in_hand, 42);
            if obj["metadata"].is_object() {
                assert_eq!(
                    spliced.unwrap(),
                    serde_json::to_vec(&in_hand).unwrap(),
                    "{obj}"
                );
            } else {
                assert_eq!(spliced, None, "{obj}");
            }
        }
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
