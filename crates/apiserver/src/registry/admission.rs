//! Turning a request body into a storable object: type and namespace checks, generated
//! names, system metadata and initial status, the merge of an update with the stored object,
//! and typed admission (defaults and validation).

use api::resources::{AdmitError, ResourceType};
use serde_json::{Value, json};

use super::tracks_generation;
use crate::error::{ApiError, Result};
use crate::object;

/// `apiVersion`/`kind` in a body must name the resource of the URL; missing ones are filled in.
pub(super) fn check_type_meta(rt: &ResourceType, obj: &mut Value) -> Result<()> {
    let want_version = rt.api_version();
    if let Some(v) = obj.get("apiVersion").and_then(Value::as_str)
        && v != want_version
    {
        return Err(ApiError::BadRequest(format!(
            "the API version in the data ({v}) does not match the expected API version ({want_version})"
        )));
    }
    if let Some(k) = obj.get("kind").and_then(Value::as_str)
        && k != rt.kind
    {
        return Err(ApiError::BadRequest(format!(
            "the kind in the data ({k}) does not match the expected kind ({})",
            rt.kind
        )));
    }
    obj["apiVersion"] = json!(want_version);
    obj["kind"] = json!(rt.kind);
    Ok(())
}

pub(super) fn set_namespace(rt: &ResourceType, obj: &mut Value, ns: Option<&str>) -> Result<()> {
    let meta = object::meta_mut(obj);
    if !rt.namespaced() {
        meta.remove("namespace");
        return Ok(());
    }
    let Some(ns) = ns else {
        return Err(ApiError::BadRequest(
            "a namespace is required for namespaced objects".into(),
        ));
    };
    match meta
        .get("namespace")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
    {
        Some(body_ns) if body_ns != ns => Err(ApiError::BadRequest(
            "the namespace of the provided object does not match the namespace sent on the request"
                .into(),
        )),
        _ => {
            meta.insert("namespace".into(), json!(ns));
            Ok(())
        }
    }
}

/// The object's name, generated from `generateName` when it has none.
pub(super) fn assign_name(obj: &mut Value) -> String {
    if let Some(name) = object::name(obj) {
        return name.to_string();
    }
    let Some(prefix) = object::meta_str(obj, "generateName").map(str::to_string) else {
        return String::new();
    };
    let name = format!("{}{}", truncate_prefix(&prefix), random_suffix());
    object::meta_mut(obj).insert("name".into(), json!(name));
    name
}

/// kube-apiserver keeps generated names within 63 characters.
fn truncate_prefix(prefix: &str) -> &str {
    const MAX_PREFIX: usize = 63 - 5;
    if prefix.len() > MAX_PREFIX {
        &prefix[..MAX_PREFIX]
    } else {
        prefix
    }
}

/// Five characters from the alphabet Kubernetes uses for generated names (no vowels, no
/// look-alikes), so generated names never spell words.
pub fn random_suffix() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut rng = rand::rng();
    (0..5)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// System metadata and initial status of a new object.
pub(super) fn prepare_create(rt: &ResourceType, obj: &mut Value) {
    let meta = object::meta_mut(obj);
    for field in [
        "resourceVersion",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "selfLink",
        "managedFields",
    ] {
        meta.remove(field);
    }
    // A random (v4) UUID from the thread's CSPRNG: `Uuid::new_v4` asks the OS each time.
    let uid = uuid::Builder::from_random_bytes(rand::random()).into_uuid();
    meta.insert("uid".into(), json!(uid.to_string()));
    meta.insert("creationTimestamp".into(), json!(object::now()));
    if tracks_generation(rt) {
        meta.insert("generation".into(), json!(1));
    }
    if rt.has_status && rt.kind != "Node" {
        obj["status"] = initial_status(rt, obj);
    }
}

fn initial_status(rt: &ResourceType, obj: &Value) -> Value {
    match rt.kind {
        "Pod" => json!({"phase": "Pending", "qosClass": qos_class(obj)}),
        "Namespace" => json!({"phase": "Active"}),
        "Service" => json!({"loadBalancer": {}}),
        _ => json!({}),
    }
}

/// A pod's QoS class from its containers' requests and limits (BestEffort, Burstable or
/// Guaranteed), as the kubelet and `kubectl describe` report it.
fn qos_class(pod: &Value) -> &'static str {
    let containers = pod
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut any = false;
    let mut guaranteed = !containers.is_empty();
    for c in &containers {
        let requests = c.pointer("/resources/requests").and_then(Value::as_object);
        let limits = c.pointer("/resources/limits").and_then(Value::as_object);
        any |= requests.is_some_and(|r| !r.is_empty()) || limits.is_some_and(|l| !l.is_empty());
        let full = ["cpu", "memory"].iter().all(|res| {
            let limit = limits.and_then(|l| l.get(*res));
            let request = requests.and_then(|r| r.get(*res)).or(limit);
            limit.is_some() && request == limit
        });
        guaranteed &= full;
    }
    if !any {
        "BestEffort"
    } else if guaranteed {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

/// Merge an incoming object with the stored one: system metadata always comes from the store;
/// a write to the main resource keeps the stored status, a `status` write keeps everything else.
pub(super) fn prepare_update(
    rt: &ResourceType,
    old: &Value,
    mut new: Value,
    subresource: Option<&str>,
) -> Value {
    if subresource == Some("status") {
        let mut merged = old.clone();
        merged["status"] = new.get("status").cloned().unwrap_or(json!({}));
        return merged;
    }
    if subresource == Some("finalize") {
        let mut merged = old.clone();
        merged["spec"] = new.get("spec").cloned().unwrap_or(json!({}));
        return merged;
    }
    let old_meta = old.get("metadata").cloned().unwrap_or(json!({}));
    let meta = object::meta_mut(&mut new);
    for field in [
        "uid",
        "creationTimestamp",
        "generation",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "namespace",
        "name",
    ] {
        match old_meta.get(field) {
            Some(v) => meta.insert(field.into(), v.clone()),
            None => meta.remove(field),
        };
    }
    meta.remove("resourceVersion");
    if rt.has_status && rt.kind != "Node" {
        match old.get("status") {
            Some(status) => new["status"] = status.clone(),
            None => {
                if let Some(map) = new.as_object_mut() {
                    map.remove("status");
                }
            }
        }
    }
    new
}

/// Admission: typed decoding, defaulting and validation; field errors become 422.
pub(super) fn admit(
    rt: &ResourceType,
    name: &str,
    obj: Value,
    old: Option<&Value>,
) -> Result<Value> {
    rt.admit(obj, old).map_err(|e| match e {
        AdmitError::Invalid(errors) => ApiError::invalid(rt, name, &errors),
        AdmitError::Decode(d) => decode_error(rt, &d),
    })
}

/// kube-apiserver's wording for a body that does not decode as its kind.
pub fn decode_error(rt: &ResourceType, e: &api::error::DecodeError) -> ApiError {
    ApiError::BadRequest(format!(
        "{} in version {:?} cannot be handled as a {}: {e}",
        rt.kind, rt.version, rt.kind
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    #[test]
    fn generated_names_use_the_kubernetes_alphabet() {
        let s = random_suffix();
        assert_eq!(s.len(), 5);
        assert!(s.chars().all(|c| "bcdfghjklmnpqrstvwxz2456789".contains(c)));
    }

    #[test]
    fn qos_classes() {
        let best_effort = json!({"spec": {"containers": [{"name": "a"}]}});
        let guaranteed = json!({"spec": {"containers": [{"name": "a", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}]}});
        let burstable = json!({"spec": {"containers": [{"name": "a", "resources": {"requests": {"cpu": "1"}}}]}});
        assert_eq!(qos_class(&best_effort), "BestEffort");
        assert_eq!(qos_class(&guaranteed), "Guaranteed");
        assert_eq!(qos_class(&burstable), "Burstable");
    }

    #[test]
    fn updates_keep_system_metadata_and_status() {
        let rt = api::resources::by_kind("apps/v1", "Deployment").unwrap();
        let old = json!({"metadata": {"name": "a", "uid": "u1", "creationTimestamp": "t", "generation": 3},
            "spec": {"replicas": 1}, "status": {"replicas": 1}});
        let new = json!({"metadata": {"name": "a", "uid": "forged"}, "spec": {"replicas": 2}, "status": {"replicas": 9}});
        let merged = prepare_update(rt, &old, new, None);
        assert_eq!(merged["metadata"]["uid"], "u1");
        assert_eq!(merged["status"]["replicas"], 1);
        assert_eq!(merged["spec"]["replicas"], 2);
        let status_write = prepare_update(
            rt,
            &old,
            json!({"spec": {"replicas": 5}, "status": {"replicas": 2}}),
            Some("status"),
        );
        assert_eq!(status_write["spec"]["replicas"], 1);
        assert_eq!(status_write["status"]["replicas"], 2);
    }
}
