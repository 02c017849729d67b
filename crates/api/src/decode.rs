//! Request bodies to JSON objects: content-type dispatch (JSON, YAML, protobuf), strict
//! decoding (which fields a kind does not know) and typed conversions with readable errors.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::DecodeError;

/// The body formats the API accepts for objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFormat {
    Json,
    Yaml,
    Protobuf,
}

impl BodyFormat {
    /// The format named by a `Content-Type` header (parameters ignored); `None` if unsupported.
    /// A missing header is JSON, as in kube-apiserver.
    pub fn from_content_type(content_type: Option<&str>) -> Option<Self> {
        let Some(ct) = content_type else {
            return Some(BodyFormat::Json);
        };
        let essence = ct
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match essence.as_str() {
            "" | "application/json" | "*/*" => Some(BodyFormat::Json),
            "application/yaml" | "application/x-yaml" | "text/yaml" => Some(BodyFormat::Yaml),
            crate::protobuf::CONTENT_TYPE => Some(BodyFormat::Protobuf),
            _ => None,
        }
    }
}

/// Parse a request body into a JSON value; an object body must be a JSON object.
pub fn parse_body(format: BodyFormat, body: &[u8]) -> Result<Value, DecodeError> {
    let value = match format {
        BodyFormat::Json => serde_json::from_slice::<Value>(body).map_err(|e| {
            DecodeError::Malformed(format!("couldn't get version/kind; json parse error: {e}"))
        })?,
        BodyFormat::Yaml => {
            let text = std::str::from_utf8(body)
                .map_err(|e| DecodeError::Malformed(format!("yaml: body is not UTF-8: {e}")))?;
            serde_saphyr::from_str::<Value>(text)
                .map_err(|e| DecodeError::Malformed(format!("yaml: {e}")))?
        }
        BodyFormat::Protobuf => crate::protobuf::decode(body)?,
    };
    if !value.is_object() {
        return Err(DecodeError::Malformed(
            "couldn't get version/kind; json parse error: the body is not a JSON object".into(),
        ));
    }
    Ok(value)
}

/// The fields of `obj` that `K` does not know, as Kubernetes field paths (`spec.ports[0].x`).
pub fn unknown_fields<K: DeserializeOwned>(obj: &Value) -> Result<Vec<String>, DecodeError> {
    let mut unknown = Vec::new();
    let result: Result<K, _> =
        serde_ignored::deserialize(obj, |path| unknown.push(kubernetes_path(&path)));
    result.map_err(|e| DecodeError::Type(e.to_string()))?;
    Ok(unknown)
}

/// Render a serde_ignored path the way Kubernetes names fields: maps as `.key`, sequences as `[i]`,
/// with serde's `Option`/newtype wrappers left out.
fn kubernetes_path(path: &serde_ignored::Path<'_>) -> String {
    use serde_ignored::Path;
    match path {
        Path::Root => String::new(),
        Path::Seq { parent, index } => format!("{}[{index}]", kubernetes_path(parent)),
        Path::Map { parent, key } => {
            let parent = kubernetes_path(parent);
            if parent.is_empty() {
                key.clone()
            } else {
                format!("{parent}.{key}")
            }
        }
        Path::Some { parent }
        | Path::NewtypeStruct { parent }
        | Path::NewtypeVariant { parent } => kubernetes_path(parent),
    }
}

/// Deserialize a typed object; type mismatches become `DecodeError::Type`.
pub fn from_value<K: DeserializeOwned>(obj: Value) -> Result<K, DecodeError> {
    serde_json::from_value(obj).map_err(|e| DecodeError::Type(e.to_string()))
}

/// Serialize a typed object. k8s-openapi types always serialize, so this cannot fail.
pub fn to_value<K: Serialize>(obj: &K) -> Value {
    serde_json::to_value(obj).expect("k8s-openapi objects serialize to JSON")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::k8s::api::core::v1::Service;
    use serde_json::json;

    #[test]
    fn content_types() {
        let cases = [
            (None, Some(BodyFormat::Json)),
            (Some("application/json"), Some(BodyFormat::Json)),
            (
                Some("application/json; charset=utf-8"),
                Some(BodyFormat::Json),
            ),
            (Some("application/yaml"), Some(BodyFormat::Yaml)),
            (
                Some("application/vnd.kubernetes.protobuf"),
                Some(BodyFormat::Protobuf),
            ),
            (Some("text/plain"), None),
        ];
        for (ct, want) in cases {
            assert_eq!(BodyFormat::from_content_type(ct), want, "{ct:?}");
        }
    }

    #[test]
    fn unknown_fields_use_kubernetes_paths() {
        let obj = json!({"metadata": {"name": "x", "bogusMeta": 1},
            "spec": {"bogus": true, "ports": [{"port": 80}, {"port": 81, "extra": "y"}]}});
        let mut got = unknown_fields::<Service>(&obj).unwrap();
        got.sort();
        assert_eq!(
            got,
            vec!["metadata.bogusMeta", "spec.bogus", "spec.ports[1].extra"]
        );
    }

    #[test]
    fn yaml_and_json_bodies_agree() {
        let yaml = b"kind: Service\napiVersion: v1\nmetadata:\n  name: web\nspec:\n  clusterIP: None\n  ports:\n  - port: 80\n";
        let from_yaml = parse_body(BodyFormat::Yaml, yaml).unwrap();
        let from_json = parse_body(
            BodyFormat::Json,
            br#"{"kind":"Service","apiVersion":"v1","metadata":{"name":"web"},"spec":{"clusterIP":"None","ports":[{"port":80}]}}"#,
        )
        .unwrap();
        assert_eq!(from_yaml, from_json);
    }

    #[test]
    fn malformed_bodies_are_errors() {
        assert!(matches!(
            parse_body(BodyFormat::Json, b"{"),
            Err(DecodeError::Malformed(_))
        ));
        assert!(matches!(
            parse_body(BodyFormat::Json, b"[1]"),
            Err(DecodeError::Malformed(_))
        ));
        assert!(matches!(
            parse_body(BodyFormat::Yaml, b"a: [b"),
            Err(DecodeError::Malformed(_))
        ));
        let err =
            from_value::<Service>(json!({"spec": {"ports": [{"port": "eighty"}]}})).unwrap_err();
        assert!(matches!(err, DecodeError::Type(_)));
    }
}
