//! The `scale` subresource: an `autoscaling/v1` Scale view of a workload's replicas.

use api::resources::ResourceType;
use api::selectors::LabelSelector;
use serde_json::{Value, json};

use crate::error::{ApiError, Result};

/// The `autoscaling/v1` Scale of a scalable object.
pub fn scale_of(rt: &ResourceType, obj: &Value) -> Result<Value> {
    let selector = obj
        .pointer("/spec/selector")
        .map(|s| {
            serde_json::from_value::<api::k8s::apimachinery::pkg::apis::meta::v1::LabelSelector>(
                s.clone(),
            )
        })
        .transpose()
        .map_err(|e| ApiError::Internal(format!("stored selector is invalid: {e}")))?
        .map(|s| {
            LabelSelector::from_k8s(&s)
                .map(|s| s.to_string())
                .unwrap_or_default()
        })
        .unwrap_or_default();
    let meta = obj.get("metadata").cloned().unwrap_or(json!({}));
    let _ = rt;
    Ok(json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": meta.get("name"), "namespace": meta.get("namespace"), "uid": meta.get("uid"),
            "resourceVersion": meta.get("resourceVersion"), "creationTimestamp": meta.get("creationTimestamp"),
        },
        "spec": {"replicas": obj.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(0)},
        "status": {
            "replicas": obj.pointer("/status/replicas").and_then(Value::as_i64).unwrap_or(0),
            "selector": selector,
        },
    }))
}

/// The object with `spec.replicas` taken from a written Scale.
pub(super) fn with_scale(obj: &Value, scale: &Value) -> Result<Value> {
    let replicas = scale
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .ok_or_else(|| ApiError::BadRequest("Scale.spec.replicas must be an integer".into()))?;
    let mut new = obj.clone();
    new["spec"]["replicas"] = json!(replicas);
    Ok(new)
}
