//! The four patch formats kubectl sends, applied to an object's JSON.

use api::resources::ResourceType;
use serde_json::Value;

use crate::error::{ApiError, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchType {
    /// RFC 6902 (`kubectl patch --type=json`).
    Json,
    /// RFC 7386 (`label`, `annotate`, `scale`).
    Merge,
    /// Strategic merge (client-side `apply`, `edit`, `patch`).
    Strategic,
    /// Server-side apply (`apply --server-side`).
    Apply,
}

pub const ACCEPTED: &str = "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json";

impl PatchType {
    pub fn from_content_type(ct: Option<&str>) -> Option<Self> {
        let essence = ct?.split(';').next()?.trim().to_ascii_lowercase();
        match essence.as_str() {
            "application/json-patch+json" => Some(PatchType::Json),
            "application/merge-patch+json" => Some(PatchType::Merge),
            "application/strategic-merge-patch+json" => Some(PatchType::Strategic),
            "application/apply-patch+yaml" | "application/apply-patch+json" => {
                Some(PatchType::Apply)
            }
            _ => None,
        }
    }
}

fn parse_json(body: &[u8]) -> Result<Value> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::BadRequest(format!("error decoding patch: {e}")))
}

/// An apply body: YAML (of which JSON is a subset) holding one object.
pub fn parse_apply_body(body: &[u8]) -> Result<Value> {
    let obj = match serde_json::from_slice::<Value>(body) {
        Ok(v) => v,
        Err(_) => {
            let text = std::str::from_utf8(body)
                .map_err(|e| ApiError::BadRequest(format!("error decoding YAML: {e}")))?;
            serde_saphyr_free_parse(text)?
        }
    };
    if !obj.is_object() {
        return Err(ApiError::BadRequest(
            "error decoding YAML: the apply body must be an object".into(),
        ));
    }
    Ok(obj)
}

fn serde_saphyr_free_parse(text: &str) -> Result<Value> {
    api::decode::parse_body(api::decode::BodyFormat::Yaml, text.as_bytes())
        .map_err(|e| ApiError::BadRequest(format!("error decoding YAML: {e}")))
}

/// `current` patched by `body`.
pub fn apply(
    rt: &ResourceType,
    patch_type: PatchType,
    current: &Value,
    body: &[u8],
) -> Result<Value> {
    let kind = current
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or(rt.kind);
    match patch_type {
        PatchType::Json => {
            let ops: json_patch::Patch = serde_json::from_slice(body)
                .map_err(|e| ApiError::BadRequest(format!("error decoding patch: {e}")))?;
            let mut doc = current.clone();
            json_patch::patch(&mut doc, &ops).map_err(|e| {
                ApiError::BadRequest(format!(
                    "the server rejected our request due to an error in our request: {e}"
                ))
            })?;
            Ok(doc)
        }
        PatchType::Merge => {
            let patch = parse_json(body)?;
            if !patch.is_object() {
                return Err(ApiError::BadRequest(
                    "error decoding patch: a merge patch must be a JSON object".into(),
                ));
            }
            let mut doc = current.clone();
            json_patch::merge(&mut doc, &patch);
            Ok(doc)
        }
        PatchType::Strategic => {
            let patch = parse_json(body)?;
            api::smp::strategic_merge_patch(kind, current, &patch)
                .map_err(|e| ApiError::BadRequest(e.to_string()))
        }
        PatchType::Apply => {
            let applied = parse_apply_body(body)?;
            api::smp::strategic_merge_patch(kind, current, &applied)
                .map_err(|e| ApiError::BadRequest(e.to_string()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn content_types() {
        assert_eq!(
            PatchType::from_content_type(Some("application/merge-patch+json")),
            Some(PatchType::Merge)
        );
        assert_eq!(
            PatchType::from_content_type(Some("application/apply-patch+yaml")),
            Some(PatchType::Apply)
        );
        assert_eq!(PatchType::from_content_type(Some("application/json")), None);
    }

    #[test]
    fn merge_and_json_patches() {
        let rt = api::resources::by_kind("v1", "Pod").unwrap();
        let obj = json!({"kind": "Pod", "metadata": {"labels": {"a": "1", "b": "2"}}});
        let merged = apply(
            rt,
            PatchType::Merge,
            &obj,
            br#"{"metadata":{"labels":{"a":null,"c":"3"}}}"#,
        )
        .unwrap();
        assert_eq!(merged["metadata"]["labels"], json!({"b": "2", "c": "3"}));
        let patched = apply(
            rt,
            PatchType::Json,
            &obj,
            br#"[{"op":"replace","path":"/metadata/labels/a","value":"9"}]"#,
        )
        .unwrap();
        assert_eq!(patched["metadata"]["labels"]["a"], "9");
        assert!(
            apply(
                rt,
                PatchType::Json,
                &obj,
                br#"[{"op":"test","path":"/metadata/labels/a","value":"x"}]"#
            )
            .is_err()
        );
        assert!(apply(rt, PatchType::Merge, &obj, b"[1]").is_err());
        let applied = apply(
            rt,
            PatchType::Apply,
            &obj,
            b"kind: Pod\nmetadata:\n  labels:\n    d: \"4\"\n",
        )
        .unwrap();
        assert_eq!(applied["metadata"]["labels"]["d"], "4");
    }
}
