//! OpenAPI v3 documents, just rich enough for kubectl's query-parameter verifier: for every kind a
//! PATCH operation tagged with its group-version-kind that lists `fieldValidation`. Seeing it,
//! kubectl leaves schema validation to the server and sends `fieldValidation=Strict`.

use api::resources::{self, ResourceType};
use serde_json::{Map, Value, json};

/// `openapi/v3` path keys: `api/v1`, `apis/apps/v1`, …
pub fn group_versions() -> Vec<String> {
    let mut gvs = vec!["api/v1".to_string()];
    gvs.extend(
        resources::groups()
            .into_iter()
            .map(|g| format!("apis/{g}/v1")),
    );
    gvs
}

/// The root document: where each group version's document lives, with a content hash.
pub fn root() -> Value {
    let mut paths = Map::new();
    for gv in group_versions() {
        let doc = group_version_document(&gv).expect("listed group versions have documents");
        paths.insert(
            gv.clone(),
            json!({"serverRelativeURL": format!("/openapi/v3/{gv}?hash={}", hash(&doc))}),
        );
    }
    json!({"paths": paths})
}

/// FNV-1a over the document's JSON: stable across runs, changes whenever the document does.
fn hash(doc: &Value) -> String {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in doc.to_string().bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x100000001b3);
    }
    format!("{h:016X}")
}

fn query_param(name: &str) -> Value {
    json!({"name": name, "in": "query", "schema": {"type": "string", "uniqueItems": true}})
}

fn operation(rt: &ResourceType, action: &str, write_params: bool) -> Value {
    let mut params = vec![query_param("pretty")];
    if write_params {
        params.extend(["dryRun", "fieldManager", "fieldValidation"].map(query_param));
    }
    if action == "patch" {
        params.push(query_param("force"));
    }
    json!({
        "operationId": format!("{action}{}", rt.kind),
        "parameters": params,
        "responses": {"200": {"description": "OK"}},
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": {"group": rt.group, "version": rt.version, "kind": rt.kind},
    })
}

/// The document for one group version (`api/v1`, `apis/apps/v1`); `None` if not served.
pub fn group_version_document(gv: &str) -> Option<Value> {
    let (group, prefix) = match gv.split('/').collect::<Vec<_>>().as_slice() {
        ["api", "v1"] => ("", "/api/v1".to_string()),
        ["apis", g, "v1"] => (*g, format!("/apis/{g}/v1")),
        _ => return None,
    };
    let mut paths = Map::new();
    let mut found = false;
    for rt in resources::all().iter().filter(|r| r.group == group) {
        found = true;
        let collection = if rt.namespaced() {
            format!("{prefix}/namespaces/{{namespace}}/{}", rt.plural)
        } else {
            format!("{prefix}/{}", rt.plural)
        };
        paths.insert(
            collection.clone(),
            json!({"get": operation(rt, "list", false), "post": operation(rt, "post", true),
                   "delete": operation(rt, "deletecollection", false)}),
        );
        paths.insert(
            format!("{collection}/{{name}}"),
            json!({"get": operation(rt, "get", false), "put": operation(rt, "put", true),
                   "patch": operation(rt, "patch", true), "delete": operation(rt, "delete", false)}),
        );
    }
    found.then(|| {
        json!({"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "v1.33.0"},
               "paths": paths, "components": {"schemas": {}}})
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_a_patch_with_field_validation() {
        for rt in resources::all() {
            let gv = if rt.group.is_empty() {
                "api/v1".to_string()
            } else {
                format!("apis/{}/v1", rt.group)
            };
            let doc = group_version_document(&gv).unwrap();
            let found = doc["paths"].as_object().unwrap().values().any(|p| {
                p["patch"]["x-kubernetes-group-version-kind"]["kind"] == rt.kind
                    && p["patch"]["parameters"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|q| q["name"] == "fieldValidation")
            });
            assert!(found, "{}", rt.kind);
        }
        assert!(
            root()["paths"]["apis/apps/v1"]["serverRelativeURL"]
                .as_str()
                .unwrap()
                .starts_with("/openapi/v3/apis/apps/v1?hash=")
        );
    }
}
