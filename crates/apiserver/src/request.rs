//! What a request asks for: the resource path parsed like kube-apiserver's RequestInfo, the
//! query options of list/watch/write verbs, and the response form the `Accept` header wants.

use std::collections::HashMap;

use api::resources::{self, ResourceType};
use axum::http::{HeaderMap, Method, header};

use crate::error::{ApiError, Result};

/// The verb of a resource request, derived from method, path and `watch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Get,
    List,
    Watch,
    Create,
    Update,
    Patch,
    Delete,
    DeleteCollection,
}

/// A request for a resource (or a discovery document of one group version).
#[derive(Debug, Clone)]
pub enum Target {
    /// `GET /api/v1` or `/apis/<g>/<v>`: the APIResourceList.
    GroupVersion {
        group: String,
        version: String,
    },
    Resource(ResourceRequest),
}

#[derive(Debug, Clone)]
pub struct ResourceRequest {
    pub rt: &'static ResourceType,
    pub verb: Verb,
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub subresource: Option<String>,
}

/// Pod subresources that need a running container; simulated pods have none.
pub const POD_RUNTIME_SUBRESOURCES: &[&str] = &["exec", "attach", "log", "portforward", "proxy"];

/// Subresources of namespaces that the path grammar keeps under `namespaces/<name>/…`.
const NAMESPACE_SUBRESOURCES: &[&str] = &["status", "finalize"];

/// Parse `/api/v1/…` or `/apis/<group>/<version>/…`; `None` if the path is not an API path.
pub fn parse_path(method: &Method, path: &str, query: &Query) -> Result<Option<Target>> {
    let parts: Vec<&str> = path
        .trim_matches('/')
        .split('/')
        .filter(|p| !p.is_empty())
        .collect();
    let (group, version, mut rest) = match parts.as_slice() {
        ["api", version, rest @ ..] => ("", *version, rest),
        ["apis", group, version, rest @ ..] => (*group, *version, rest),
        _ => return Ok(None),
    };
    if rest.is_empty() {
        return Ok(Some(Target::GroupVersion {
            group: group.into(),
            version: version.into(),
        }));
    }
    // The deprecated `/watch/` path prefix means `?watch=true`.
    let mut watch = query.watch();
    if rest[0] == "watch" {
        watch = true;
        rest = &rest[1..];
    }
    let mut namespace = None;
    if rest.first() == Some(&"namespaces") && rest.len() > 1 {
        namespace = Some(rest[1].to_string());
        if rest.len() > 2 && !NAMESPACE_SUBRESOURCES.contains(&rest[2]) {
            rest = &rest[2..];
        }
    }
    let Some(plural) = rest.first() else {
        return Ok(None);
    };
    let Some(rt) = resources::by_plural(group, version, plural) else {
        return Err(ApiError::no_route());
    };
    let name = rest.get(1).map(|s| s.to_string());
    let subresource = rest.get(2).map(|s| s.to_string());
    if rest.len() > 3 {
        return Err(ApiError::no_route());
    }
    // For the namespaces resource itself the parsed namespace is the object's name.
    let (namespace, name) = if rt.plural == "namespaces" && rt.group.is_empty() {
        (None, name.or(namespace))
    } else {
        (namespace, name)
    };
    if !rt.namespaced() && namespace.is_some() {
        return Err(ApiError::no_route());
    }
    if let Some(sub) = &subresource {
        let known = (sub == "status" && rt.has_status)
            || (sub == "scale" && rt.has_scale)
            || (sub == "finalize" && rt.plural == "namespaces")
            || (rt.kind == "Pod"
                && (sub == "binding" || POD_RUNTIME_SUBRESOURCES.contains(&sub.as_str())));
        if !known {
            return Err(ApiError::no_route());
        }
    }
    let verb = match (method.clone(), name.is_some()) {
        (Method::GET, true) if watch => Verb::Watch,
        (Method::GET, true) => Verb::Get,
        (Method::GET, false) if watch => Verb::Watch,
        (Method::GET, false) => Verb::List,
        (Method::POST, false) => Verb::Create,
        // Subresources that are created: `pods/binding`, and the streaming ones kubectl POSTs.
        (Method::POST, true) if subresource.is_some() => Verb::Create,
        (Method::PUT, true) => Verb::Update,
        (Method::PATCH, true) => Verb::Patch,
        (Method::DELETE, true) => Verb::Delete,
        (Method::DELETE, false) => Verb::DeleteCollection,
        (m, _) => {
            return Err(ApiError::MethodNotAllowed(format!(
                "the server does not allow this method on the requested resource ({m})"
            )));
        }
    };
    Ok(Some(Target::Resource(ResourceRequest {
        rt,
        verb,
        namespace,
        name,
        subresource,
    })))
}

/// Decoded query parameters.
#[derive(Debug, Default, Clone)]
pub struct Query(HashMap<String, String>);

impl Query {
    pub fn parse(raw: Option<&str>) -> Self {
        let mut map = HashMap::new();
        for pair in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            map.insert(percent_decode(k), percent_decode(v));
        }
        Query(map)
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    fn flag(&self, key: &str) -> bool {
        matches!(self.0.get(key).map(String::as_str), Some("true" | "1" | ""))
            && self.0.contains_key(key)
    }

    pub fn watch(&self) -> bool {
        self.flag("watch")
    }

    pub fn allow_bookmarks(&self) -> bool {
        self.flag("allowWatchBookmarks")
    }

    pub fn dry_run(&self) -> bool {
        self.get("dryRun") == Some("All")
    }

    pub fn int(&self, key: &str) -> Result<Option<i64>> {
        self.get(key)
            .map(|v| {
                v.parse::<i64>()
                    .map_err(|_| ApiError::BadRequest(format!("invalid value for {key}: {v:?}")))
            })
            .transpose()
    }
}

/// `application/x-www-form-urlencoded` decoding (`+` is a space, `%XX` a byte).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(hi), Some(lo)) => {
                    out.push(hi << 4 | lo);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// The response forms a client accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseForm {
    Object,
    /// `as=Table;g=meta.k8s.io`, with what each row's `object` should carry.
    Table(IncludeObject),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncludeObject {
    None,
    Metadata,
    Object,
}

pub fn response_form(headers: &HeaderMap, query: &Query) -> ResponseForm {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let wants_table = accept.split(',').any(|media| {
        let params: Vec<&str> = media.split(';').map(str::trim).collect();
        params.contains(&"as=Table") && params.contains(&"g=meta.k8s.io")
    });
    if !wants_table {
        return ResponseForm::Object;
    }
    let include = match query.get("includeObject") {
        Some("None") => IncludeObject::None,
        Some("Object") => IncludeObject::Object,
        _ => IncludeObject::Metadata,
    };
    ResponseForm::Table(include)
}

/// Whether the Accept header asks for aggregated discovery (`as=APIGroupDiscoveryList`), and in
/// which version (`v2` preferred over `v2beta1`).
pub fn aggregated_discovery_version(headers: &HeaderMap) -> Option<&'static str> {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok())?;
    let mut best = None;
    for media in accept.split(',') {
        let params: Vec<&str> = media.split(';').map(str::trim).collect();
        if params.contains(&"as=APIGroupDiscoveryList") && params.contains(&"g=apidiscovery.k8s.io")
        {
            if params.contains(&"v=v2") {
                return Some("v2");
            }
            if params.contains(&"v=v2beta1") {
                best = Some("v2beta1");
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    type Parsed = (String, Verb, Option<String>, Option<String>, Option<String>);

    fn target(method: Method, path: &str) -> Option<Parsed> {
        let q = Query::parse(path.split_once('?').map(|x| x.1));
        let p = path.split('?').next().unwrap();
        match parse_path(&method, p, &q).unwrap()? {
            Target::Resource(r) => Some((
                r.rt.plural.to_string(),
                r.verb,
                r.namespace,
                r.name,
                r.subresource,
            )),
            Target::GroupVersion { .. } => None,
        }
    }

    #[test]
    fn paths_parse_like_kube_apiserver() {
        let s = |x: &str| Some(x.to_string());
        let cases = [
            (
                Method::GET,
                "/api/v1/namespaces/default/services",
                ("services", Verb::List, s("default"), None, None),
            ),
            (
                Method::GET,
                "/api/v1/namespaces/default/services/web",
                ("services", Verb::Get, s("default"), s("web"), None),
            ),
            (
                Method::GET,
                "/api/v1/services?watch=true",
                ("services", Verb::Watch, None, None, None),
            ),
            (
                Method::GET,
                "/api/v1/watch/namespaces/default/pods",
                ("pods", Verb::Watch, s("default"), None, None),
            ),
            (
                Method::GET,
                "/api/v1/namespaces/demo",
                ("namespaces", Verb::Get, None, s("demo"), None),
            ),
            (
                Method::PUT,
                "/api/v1/namespaces/demo/finalize",
                ("namespaces", Verb::Update, None, s("demo"), s("finalize")),
            ),
            (
                Method::GET,
                "/api/v1/namespaces",
                ("namespaces", Verb::List, None, None, None),
            ),
            (
                Method::POST,
                "/apis/apps/v1/namespaces/default/deployments",
                ("deployments", Verb::Create, s("default"), None, None),
            ),
            (
                Method::PATCH,
                "/apis/apps/v1/namespaces/default/deployments/web/scale",
                (
                    "deployments",
                    Verb::Patch,
                    s("default"),
                    s("web"),
                    s("scale"),
                ),
            ),
            (
                Method::DELETE,
                "/api/v1/namespaces/default/pods",
                ("pods", Verb::DeleteCollection, s("default"), None, None),
            ),
        ];
        for (method, path, (plural, verb, ns, name, sub)) in cases {
            let got = target(method, path).unwrap_or_else(|| panic!("{path}"));
            assert_eq!(got, (plural.to_string(), verb, ns, name, sub), "{path}");
        }
    }

    #[test]
    fn unknown_resources_and_subresources_are_404() {
        let q = Query::default();
        for path in [
            "/api/v1/namespaces/default/foos",
            "/api/v1/namespaces/default/services/x/scale",
            "/api/v1/namespaces/default/nodes",
        ] {
            assert!(
                matches!(
                    parse_path(&Method::GET, path, &q),
                    Err(ApiError::NotFound { .. })
                ),
                "{path}"
            );
        }
        assert!(parse_path(&Method::GET, "/healthz", &q).unwrap().is_none());
    }

    #[test]
    fn query_decoding() {
        let q = Query::parse(Some(
            "labelSelector=run%3Dmy-nginx&limit=500&watch=1&fieldSelector=a+b",
        ));
        assert_eq!(q.get("labelSelector"), Some("run=my-nginx"));
        assert_eq!(q.int("limit").unwrap(), Some(500));
        assert!(q.watch());
        assert_eq!(q.get("fieldSelector"), Some("a b"));
        assert!(!Query::parse(Some("watch=false")).watch());
    }

    #[test]
    fn accept_headers() {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json".parse().unwrap());
        assert_eq!(
            response_form(&h, &Query::default()),
            ResponseForm::Table(IncludeObject::Metadata)
        );
        h.insert(header::ACCEPT, "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json".parse().unwrap());
        assert_eq!(aggregated_discovery_version(&h), Some("v2"));
        h.insert(header::ACCEPT, "application/json, */*".parse().unwrap());
        assert_eq!(aggregated_discovery_version(&h), None);
        assert_eq!(response_form(&h, &Query::default()), ResponseForm::Object);
    }
}
