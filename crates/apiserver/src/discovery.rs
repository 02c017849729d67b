//! Discovery documents: `/version`, aggregated discovery (`apidiscovery.k8s.io/v2`, chosen by
//! the Accept header, which is what makes kubectl treat the answer as aggregated) and the legacy
//! `APIVersions` / `APIGroupList` / `APIResourceList` forms that kube-rs and `get --raw` read.

use api::resources::{self, ResourceType, Scope};
use serde_json::{Value, json};

/// The Kubernetes version svcplane implements. The gcloud kubectl dispatcher picks the kubectl
/// binary by the minor version reported here.
pub const KUBE_MAJOR: &str = "1";
pub const KUBE_MINOR: &str = "33";

pub fn version() -> Value {
    json!({
        "major": KUBE_MAJOR,
        "minor": KUBE_MINOR,
        "gitVersion": format!("v{KUBE_MAJOR}.{KUBE_MINOR}.0-svcplane.{}", env!("CARGO_PKG_VERSION")),
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "1970-01-01T00:00:00Z",
        "goVersion": "rust",
        "compiler": "rustc",
        "platform": format!("{}/{}", std::env::consts::OS, go_arch()),
    })
}

fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

const VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];
const SUBRESOURCE_VERBS: &[&str] = &["get", "patch", "update"];

fn subresource_verbs(name: &str) -> &'static [&'static str] {
    match name {
        "finalize" => &["update"],
        "binding" => &["create"],
        _ => SUBRESOURCE_VERBS,
    }
}

fn scope_name(scope: Scope) -> &'static str {
    match scope {
        Scope::Namespaced => "Namespaced",
        Scope::Cluster => "Cluster",
    }
}

fn in_group(group: &str) -> impl Iterator<Item = &'static ResourceType> + '_ {
    resources::all().iter().filter(move |r| r.group == group)
}

/// `(subresource, group, version, kind)` for each subresource of `rt`.
fn subresources(
    rt: &ResourceType,
) -> Vec<(&'static str, &'static str, &'static str, &'static str)> {
    let mut subs = Vec::new();
    if rt.has_status {
        subs.push(("status", rt.group, rt.version, rt.kind));
    }
    if rt.has_scale {
        subs.push(("scale", "autoscaling", "v1", "Scale"));
    }
    if rt.plural == "namespaces" {
        subs.push(("finalize", "", "v1", "Namespace"));
    }
    if rt.kind == "Pod" {
        subs.push(("binding", "", "v1", "Binding"));
    }
    subs
}

fn aggregated_resource(rt: &ResourceType) -> Value {
    let subs: Vec<Value> = subresources(rt)
        .into_iter()
        .map(|(name, group, version, kind)| {
            let verbs = subresource_verbs(name);
            json!({"subresource": name, "responseKind": {"group": group, "version": version, "kind": kind}, "verbs": verbs})
        })
        .collect();
    let mut r = json!({
        "resource": rt.plural,
        "responseKind": {"group": rt.group, "version": rt.version, "kind": rt.kind},
        "scope": scope_name(rt.scope),
        "singularResource": rt.singular,
        "verbs": VERBS,
    });
    if !rt.short_names.is_empty() {
        r["shortNames"] = json!(rt.short_names);
    }
    if !rt.categories.is_empty() {
        r["categories"] = json!(rt.categories);
    }
    if !subs.is_empty() {
        r["subresources"] = json!(subs);
    }
    r
}

fn aggregated_group(group: &str) -> Value {
    let resources: Vec<Value> = in_group(group).map(aggregated_resource).collect();
    let metadata = if group.is_empty() {
        json!({})
    } else {
        json!({"name": group})
    };
    json!({"metadata": metadata, "versions": [{"version": "v1", "resources": resources, "freshness": "Current"}]})
}

/// The aggregated document for `/api` (`core == true`) or `/apis`.
pub fn aggregated(core: bool, version: &str) -> Value {
    let items: Vec<Value> = if core {
        vec![aggregated_group("")]
    } else {
        resources::groups()
            .into_iter()
            .map(aggregated_group)
            .collect()
    };
    json!({"kind": "APIGroupDiscoveryList", "apiVersion": format!("apidiscovery.k8s.io/{version}"), "metadata": {}, "items": items})
}

pub fn aggregated_content_type(version: &str) -> String {
    format!("application/json;g=apidiscovery.k8s.io;v={version};as=APIGroupDiscoveryList")
}

/// Legacy `/api`.
pub fn api_versions(server_address: &str) -> Value {
    json!({"kind": "APIVersions", "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}]})
}

/// Legacy `/apis`.
pub fn api_group_list() -> Value {
    let groups: Vec<Value> = resources::groups()
        .into_iter()
        .map(|g| {
            let gv = json!({"groupVersion": format!("{g}/v1"), "version": "v1"});
            json!({"name": g, "versions": [gv.clone()], "preferredVersion": gv})
        })
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// Legacy `/api/v1` and `/apis/<g>/<v>`; `None` for a group version that is not served.
pub fn api_resource_list(group: &str, version: &str) -> Option<Value> {
    if version != "v1" || (!group.is_empty() && !resources::groups().contains(&group)) {
        return None;
    }
    let mut list = Vec::new();
    for rt in in_group(group) {
        let mut r = json!({
            "name": rt.plural, "singularName": rt.singular, "namespaced": rt.namespaced(),
            "kind": rt.kind, "verbs": VERBS,
        });
        if !rt.short_names.is_empty() {
            r["shortNames"] = json!(rt.short_names);
        }
        if !rt.categories.is_empty() {
            r["categories"] = json!(rt.categories);
        }
        list.push(r);
        for (name, sub_group, sub_version, kind) in subresources(rt) {
            let verbs = subresource_verbs(name);
            let mut s = json!({"name": format!("{}/{name}", rt.plural), "singularName": "",
                "namespaced": rt.namespaced(), "kind": kind, "verbs": verbs});
            if sub_group != rt.group {
                s["group"] = json!(sub_group);
                s["version"] = json!(sub_version);
            }
            list.push(s);
        }
    }
    let group_version = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    Some(
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": list}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aggregated_core_group_has_no_name_and_short_names() {
        let doc = aggregated(true, "v2");
        assert_eq!(doc["items"][0]["metadata"], json!({}));
        let svc = doc["items"][0]["versions"][0]["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["resource"] == "services")
            .unwrap();
        assert_eq!(svc["shortNames"], json!(["svc"]));
        assert_eq!(svc["categories"], json!(["all"]));
    }

    #[test]
    fn deployments_expose_scale_as_autoscaling() {
        let list = api_resource_list("apps", "v1").unwrap();
        let scale = list["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == "deployments/scale")
            .unwrap();
        assert_eq!(scale["group"], "autoscaling");
        assert_eq!(scale["kind"], "Scale");
        assert!(api_resource_list("batch", "v1").is_none());
    }
}
