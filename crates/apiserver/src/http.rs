//! The HTTP surface: authentication, the non-resource paths (version, health, discovery,
//! OpenAPI) and the resource verbs, each translated to a registry call and back to JSON.

use std::sync::Arc;
use std::time::Duration;

use api::decode::{BodyFormat, parse_body};
use api::resources::ResourceType;
use api::selectors::{FieldSelector, LabelSelector};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::discovery;
use crate::error::{ApiError, Result};
use crate::managed_fields;
use crate::openapi;
use crate::patch::{self, PatchType};
use crate::registry::{
    self, DeleteOptions, FieldValidation, ListOptions, Propagation, Registry, WriteOptions,
};
use crate::request::{self, Query, ResourceRequest, ResponseForm, Target, Verb};
use crate::tables;
use crate::watch::{self, WatchParams};

/// kube-apiserver refuses request bodies over 3 MiB.
pub const MAX_BODY_BYTES: usize = 3 * 1024 * 1024;

pub struct App {
    pub registry: Arc<Registry>,
    /// Where `resourceVersion=0` reads go, when the server keeps a watch cache.
    pub cached_reads: Option<crate::watch_cache::CachedReads>,
    /// The bearer token every request must carry; `None` turns authentication off.
    pub token: Option<String>,
    /// `host:port` clients reach this server at, for legacy discovery.
    pub server_address: String,
    pub shutdown: tokio_util::sync::CancellationToken,
}

pub fn router(app: Arc<App>) -> axum::Router {
    axum::Router::new().fallback(handle).with_state(app)
}

async fn handle(State(app): State<Arc<App>>, req: Request) -> Response {
    let method = req.method().clone();
    let uri = req.uri().clone();
    let response = route(&app, req)
        .await
        .unwrap_or_else(IntoResponse::into_response);
    tracing::debug!(%method, path = uri.path(), status = response.status().as_u16(), "request");
    response
}

/// Paths anyone may read, as the `system:public-info-viewer` role allows in Kubernetes.
fn is_public(path: &str) -> bool {
    matches!(path, "/version" | "/healthz" | "/livez" | "/readyz")
}

fn authenticated(app: &App, headers: &HeaderMap) -> bool {
    let Some(token) = &app.token else { return true };
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|given| constant_time_eq(given.trim().as_bytes(), token.as_bytes()))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn json_response(code: StatusCode, body: &Value) -> Response {
    let bytes = api::encode::to_vec(body);
    json_bytes_response(code, bytes::Bytes::from(bytes))
}

/// A list's `metadata`.
fn list_meta(revision: i64, continue_token: &Option<String>, remaining: Option<u64>) -> Value {
    let mut meta = json!({"resourceVersion": revision.to_string()});
    if let Some(token) = continue_token {
        meta["continue"] = json!(token);
    }
    if let Some(remaining) = remaining {
        meta["remainingItemCount"] = json!(remaining);
    }
    meta
}

/// `head` (kind, apiVersion, metadata) with `"items"`: the already encoded objects.
fn list_body(head: &Value, items: &[Vec<u8>]) -> Vec<u8> {
    let mut out = api::encode::to_vec(head);
    // `head` is a non-empty JSON object: reopen it before its closing brace.
    out.pop();
    let size: usize = items.iter().map(|i| i.len() + 1).sum();
    out.reserve(size + 12);
    out.extend_from_slice(b",\"items\":[");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(item);
    }
    out.extend_from_slice(b"]}");
    out
}

fn json_bytes_response(code: StatusCode, json: bytes::Bytes) -> Response {
    (code, [(header::CONTENT_TYPE, "application/json")], json).into_response()
}

fn add_warnings(response: &mut Response, warnings: &[String]) {
    for w in warnings {
        if let Ok(v) = HeaderValue::from_str(&format!("299 - {w:?}")) {
            response.headers_mut().append(header::WARNING, v);
        }
    }
}

async fn route(app: &Arc<App>, req: Request) -> Result<Response> {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_string();
    let query = Query::parse(parts.uri.query());
    if !is_public(&path) && !authenticated(app, &parts.headers) {
        return Err(ApiError::Unauthorized);
    }
    match path.trim_end_matches('/') {
        "/version" => return Ok(json_response(StatusCode::OK, &discovery::version())),
        "/healthz" | "/livez" | "/readyz" => return Ok((StatusCode::OK, "ok").into_response()),
        "/api" | "/apis" => {
            let core = path.trim_end_matches('/') == "/api";
            return Ok(
                match request::aggregated_discovery_version(&parts.headers) {
                    Some(v) => {
                        let body =
                            serde_json::to_vec(&discovery::aggregated(core, v)).unwrap_or_default();
                        let ct = HeaderValue::from_str(&discovery::aggregated_content_type(v))
                            .expect("static header");
                        (StatusCode::OK, [(header::CONTENT_TYPE, ct)], body).into_response()
                    }
                    None if core => json_response(
                        StatusCode::OK,
                        &discovery::api_versions(&app.server_address),
                    ),
                    None => json_response(StatusCode::OK, &discovery::api_group_list()),
                },
            );
        }
        crate::snapshot::PATH => return crate::snapshot::serve(app, &parts.method).await,
        "/openapi/v3" => return Ok(json_response(StatusCode::OK, &openapi::root())),
        p if p.starts_with("/openapi/v3/") => {
            let gv = &p["/openapi/v3/".len()..];
            return openapi::group_version_document(gv)
                .map(|doc| json_response(StatusCode::OK, &doc))
                .ok_or_else(ApiError::no_route);
        }
        _ => {}
    }
    let target =
        request::parse_path(&parts.method, &path, &query)?.ok_or_else(ApiError::no_route)?;
    let req = match target {
        Target::GroupVersion { group, version } => {
            return discovery::api_resource_list(&group, &version)
                .map(|doc| json_response(StatusCode::OK, &doc))
                .ok_or_else(ApiError::no_route);
        }
        Target::Resource(r) => r,
    };
    let body = axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| ApiError::TooLarge(MAX_BODY_BYTES))?;
    let ctx = Ctx {
        app,
        req,
        query,
        headers: parts.headers,
    };
    ctx.dispatch(&body).await
}

struct Ctx<'a> {
    app: &'a Arc<App>,
    req: ResourceRequest,
    query: Query,
    headers: HeaderMap,
}

impl Ctx<'_> {
    fn rt(&self) -> &'static ResourceType {
        self.req.rt
    }

    fn ns(&self) -> Option<&str> {
        self.req.namespace.as_deref()
    }

    fn name(&self) -> &str {
        self.req.name.as_deref().unwrap_or_default()
    }

    fn sub(&self) -> Option<&str> {
        self.req.subresource.as_deref()
    }

    fn registry(&self) -> &Registry {
        &self.app.registry
    }

    /// The registry a get or list reads from: `resourceVersion=0` (any recent state) is
    /// answered by the watch cache once it has loaded, as kube-apiserver does.
    fn read_registry(&self) -> &Registry {
        match &self.app.cached_reads {
            Some(cached) if self.query.get("resourceVersion") == Some("0") => {
                cached.registry().unwrap_or(&self.app.registry)
            }
            _ => &self.app.registry,
        }
    }

    async fn dispatch(&self, body: &[u8]) -> Result<Response> {
        if self.rt().namespaced()
            && self.ns().is_none()
            && !matches!(self.req.verb, Verb::List | Verb::Watch)
        {
            return Err(ApiError::no_route());
        }
        if let Some(sub) = self.sub()
            && request::POD_RUNTIME_SUBRESOURCES.contains(&sub)
        {
            return self.no_container_runtime(sub).await;
        }
        match self.req.verb {
            Verb::Create if self.sub() == Some("binding") => self.bind(body).await,
            Verb::Get => self.get().await,
            Verb::List => self.list().await,
            Verb::Watch => self.watch().await,
            Verb::Create => self.create(body).await,
            Verb::Update => self.update(body).await,
            Verb::Patch => self.patch(body).await,
            Verb::Delete => self.delete(body).await,
            Verb::DeleteCollection => self.delete_collection(body).await,
        }
    }

    fn form(&self) -> ResponseForm {
        request::response_form(&self.headers, &self.query)
    }

    fn write_options(&self) -> WriteOptions {
        let user_agent = self
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok());
        WriteOptions {
            field_manager: managed_fields::manager_name(self.query.get("fieldManager"), user_agent),
            dry_run: self.query.dry_run(),
        }
    }

    fn field_validation(&self) -> Result<FieldValidation> {
        match self.query.get("fieldValidation") {
            None | Some("Strict") => Ok(FieldValidation::Strict),
            Some("Warn") => Ok(FieldValidation::Warn),
            Some("Ignore") => Ok(FieldValidation::Ignore),
            Some(other) => Err(ApiError::BadRequest(format!(
                "fieldValidation must be one of Strict, Warn or Ignore, not {other:?}"
            ))),
        }
    }

    fn list_options(&self) -> Result<ListOptions> {
        let labels = match self.query.get("labelSelector") {
            Some(s) => LabelSelector::parse(s).map_err(|e| ApiError::BadRequest(e.to_string()))?,
            None => LabelSelector::everything(),
        };
        let mut field_text = self
            .query
            .get("fieldSelector")
            .unwrap_or_default()
            .to_string();
        if let Some(name) = &self.req.name {
            if !field_text.is_empty() {
                field_text.push(',');
            }
            field_text.push_str(&format!("metadata.name={name}"));
        }
        let fields = if field_text.is_empty() {
            FieldSelector::everything()
        } else {
            let fs = FieldSelector::parse(&field_text)
                .map_err(|e| ApiError::BadRequest(e.to_string()))?;
            fs.check_supported(self.rt().field_selectors)
                .map_err(|e| ApiError::BadRequest(e.to_string()))?;
            fs
        };
        let limit = self.query.int("limit")?.map(|l| l.max(0) as usize);
        Ok(ListOptions {
            labels,
            fields,
            limit,
            continue_token: self.query.get("continue").map(String::from),
        })
    }

    /// Parse a write body, enforcing `fieldValidation` on unknown fields; returns warnings.
    fn decode_body(&self, body: &[u8]) -> Result<(Value, Vec<String>)> {
        let ct = self
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        let format = BodyFormat::from_content_type(ct).ok_or_else(|| {
            ApiError::UnsupportedMediaType(format!(
                "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf (got {})",
                ct.unwrap_or_default()
            ))
        })?;
        let obj = parse_body(format, body).map_err(|e| ApiError::BadRequest(e.to_string()))?;
        let warnings = self.check_unknown_fields(&obj)?;
        Ok((obj, warnings))
    }

    fn check_unknown_fields(&self, obj: &Value) -> Result<Vec<String>> {
        let rt = self.rt();
        let validation = self.field_validation()?;
        if validation == FieldValidation::Ignore || self.sub() == Some("scale") {
            return Ok(Vec::new());
        }
        let unknown = rt
            .unknown_fields(obj)
            .map_err(|e| registry::decode_error(rt, &e))?;
        if unknown.is_empty() {
            return Ok(Vec::new());
        }
        if validation == FieldValidation::Strict {
            return Err(registry::decode_error(
                rt,
                &api::error::DecodeError::UnknownFields(unknown),
            ));
        }
        Ok(unknown
            .iter()
            .map(|f| format!("unknown field {f:?}"))
            .collect())
    }

    fn object_response(&self, code: StatusCode, obj: &Value, warnings: &[String]) -> Response {
        let mut response = match self.form() {
            ResponseForm::Table(include) if self.sub().is_none() => {
                let rv = crate::object::resource_version(obj).unwrap_or_default();
                let table = tables::table(
                    self.rt(),
                    std::slice::from_ref(obj),
                    json!({"resourceVersion": rv}),
                    include,
                );
                json_response(code, &table)
            }
            _ => json_response(code, obj),
        };
        add_warnings(&mut response, warnings);
        response
    }

    /// `exec`, `logs` and friends: svcplane's pods are simulated, so there is nothing to reach.
    async fn no_container_runtime(&self, sub: &str) -> Result<Response> {
        let pod = self
            .registry()
            .get(self.rt(), self.ns(), self.name())
            .await?;
        let node = pod
            .pointer("/spec/nodeName")
            .and_then(Value::as_str)
            .unwrap_or("<none>");
        Err(ApiError::BadRequest(format!(
            "pod {:?} runs on the simulated node {node:?}: svcplane runs no containers, so pods/{sub} is not available",
            self.name()
        )))
    }

    /// `pods/binding`: assign a pod to a node, once.
    async fn bind(&self, body: &[u8]) -> Result<Response> {
        let binding: Value = serde_json::from_slice(body)
            .map_err(|e| ApiError::BadRequest(format!("invalid Binding: {e}")))?;
        let node = binding
            .pointer("/target/name")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
            .ok_or_else(|| ApiError::BadRequest("Binding.target.name is required".into()))?;
        self.registry()
            .bind(
                self.rt(),
                self.ns(),
                self.name(),
                node,
                &self.write_options(),
            )
            .await?;
        let status = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201});
        Ok(json_response(StatusCode::CREATED, &status))
    }

    async fn get(&self) -> Result<Response> {
        let obj = self
            .read_registry()
            .get(self.rt(), self.ns(), self.name())
            .await?;
        let obj = if self.sub() == Some("scale") {
            registry::scale_of(self.rt(), &obj)?
        } else {
            obj
        };
        Ok(self.object_response(StatusCode::OK, &obj, &[]))
    }

    async fn list(&self) -> Result<Response> {
        let opts = self.list_options()?;
        let registry = self.read_registry();
        let form = self.form();
        if let ResponseForm::Table(include) = form {
            let list = registry.list(self.rt(), self.ns(), &opts).await?;
            let meta = list_meta(list.revision, &list.continue_token, list.remaining);
            let body = tables::table(self.rt(), &list.items, meta, include);
            return Ok(json_response(StatusCode::OK, &body));
        }
        // Each item is encoded as it is read, so the parsed objects never pile up.
        let list = registry
            .list_as(self.rt(), self.ns(), &opts, |obj| api::encode::to_vec(&obj))
            .await?;
        let meta = list_meta(list.revision, &list.continue_token, list.remaining);
        let head = json!({
            "kind": format!("{}List", self.rt().kind),
            "apiVersion": self.rt().api_version(),
            "metadata": meta,
        });
        Ok(json_bytes_response(
            StatusCode::OK,
            bytes::Bytes::from(list_body(&head, &list.items)),
        ))
    }

    async fn watch(&self) -> Result<Response> {
        let timeout = self
            .query
            .int("timeoutSeconds")?
            .filter(|t| *t > 0)
            .map(|t| Duration::from_secs(t as u64));
        let params = WatchParams {
            resource_version: self.query.get("resourceVersion").map(String::from),
            timeout,
            bookmarks: self.query.allow_bookmarks(),
            form: self.form(),
            list: self.list_options()?,
        };
        watch::watch(
            self.app.registry.clone(),
            self.rt(),
            self.req.namespace.clone(),
            params,
            self.app.shutdown.clone(),
        )
        .await
    }

    async fn create(&self, body: &[u8]) -> Result<Response> {
        let (obj, warnings) = self.decode_body(body)?;
        let written = self
            .registry()
            .create(self.rt(), self.ns(), obj, &self.write_options())
            .await?;
        if let Some(response) = self.encoded_response(StatusCode::CREATED, &written, &warnings) {
            return Ok(response);
        }
        Ok(self.object_response(StatusCode::CREATED, &written.object, &warnings))
    }

    async fn update(&self, body: &[u8]) -> Result<Response> {
        let (obj, warnings) = self.decode_body(body)?;
        let opts = self.write_options();
        let written = if self.sub() == Some("scale") {
            let replicas = obj.pointer("/spec/replicas").cloned().unwrap_or(json!(0));
            let patch =
                serde_json::to_vec(&json!({"spec": {"replicas": replicas}})).unwrap_or_default();
            self.registry()
                .patch(
                    self.rt(),
                    self.ns(),
                    self.name(),
                    PatchType::Merge,
                    &patch,
                    Some("scale"),
                    &opts,
                )
                .await?
        } else {
            self.registry()
                .update(self.rt(), self.ns(), self.name(), obj, self.sub(), &opts)
                .await?
        };
        self.written_response(written, &warnings)
    }

    /// The response of a write from the write's own encoding of the object, when it has one
    /// and the client asked for the object itself: it saves serializing the object again.
    fn encoded_response(
        &self,
        code: StatusCode,
        written: &registry::Written,
        warnings: &[String],
    ) -> Option<Response> {
        let json = written.json.clone()?;
        if self.form() != ResponseForm::Object {
            return None;
        }
        let mut response = json_bytes_response(code, json);
        add_warnings(&mut response, warnings);
        Some(response)
    }

    fn written_response(
        &self,
        written: registry::Written,
        warnings: &[String],
    ) -> Result<Response> {
        let code = if written.created {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        };
        let obj = if self.sub() == Some("scale") {
            registry::scale_of(self.rt(), &written.object)?
        } else {
            if let Some(response) = self.encoded_response(code, &written, warnings) {
                return Ok(response);
            }
            written.object
        };
        Ok(self.object_response(code, &obj, warnings))
    }

    async fn patch(&self, body: &[u8]) -> Result<Response> {
        let ct = self
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        let patch_type = PatchType::from_content_type(ct).ok_or_else(|| {
            ApiError::UnsupportedMediaType(format!(
                "the body of the request was in an unknown format - accepted media types include: {}",
                patch::ACCEPTED
            ))
        })?;
        if patch_type == PatchType::Apply && self.query.get("fieldManager").is_none() {
            return Err(ApiError::BadRequest(
                "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch".into(),
            ));
        }
        let mut warnings = Vec::new();
        if patch_type == PatchType::Apply {
            warnings = self.check_unknown_fields(&patch::parse_apply_body(body)?)?;
        } else if patch_type != PatchType::Json
            && self.sub() != Some("scale")
            && let Ok(patch_obj) = serde_json::from_slice::<Value>(body)
        {
            warnings = self.check_unknown_patch_fields(&patch_obj)?;
        }
        let written = self
            .registry()
            .patch(
                self.rt(),
                self.ns(),
                self.name(),
                patch_type,
                body,
                self.sub(),
                &self.write_options(),
            )
            .await?;
        self.written_response(written, &warnings)
    }

    /// Unknown fields of a merge-style patch: strategic directives (`$patch`, `$setElementOrder/…`)
    /// and nulls are not fields, so they are dropped before the check.
    fn check_unknown_patch_fields(&self, patch: &Value) -> Result<Vec<String>> {
        self.check_unknown_fields(&strip_directives(patch))
    }

    async fn delete(&self, body: &[u8]) -> Result<Response> {
        let opts = self.delete_options(body)?;
        let obj = self
            .registry()
            .delete(self.rt(), self.ns(), self.name(), &opts)
            .await?;
        Ok(self.object_response(StatusCode::OK, &obj, &[]))
    }

    async fn delete_collection(&self, body: &[u8]) -> Result<Response> {
        let opts = self.delete_options(body)?;
        let list = self
            .registry()
            .list(self.rt(), self.ns(), &self.list_options()?)
            .await?;
        let mut deleted = Vec::new();
        for obj in list.items {
            let name = crate::object::name(&obj).unwrap_or_default().to_string();
            let ns = crate::object::namespace(&obj).map(str::to_string);
            match self
                .registry()
                .delete(self.rt(), ns.as_deref(), &name, &opts)
                .await
            {
                Ok(obj) => deleted.push(obj),
                Err(ApiError::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        let rv = self.registry().store.current_revision().await?;
        let body = json!({"kind": format!("{}List", self.rt().kind), "apiVersion": self.rt().api_version(),
            "metadata": {"resourceVersion": rv.to_string()}, "items": deleted});
        Ok(json_response(StatusCode::OK, &body))
    }

    fn delete_options(&self, body: &[u8]) -> Result<DeleteOptions> {
        let body: Value = if body.iter().all(u8::is_ascii_whitespace) {
            json!({})
        } else {
            serde_json::from_slice(body)
                .map_err(|e| ApiError::BadRequest(format!("invalid DeleteOptions: {e}")))?
        };
        let grace = match self.query.int("gracePeriodSeconds")? {
            Some(g) => Some(g),
            None => body.get("gracePeriodSeconds").and_then(Value::as_i64),
        };
        let dry_run = self.query.dry_run()
            || body
                .get("dryRun")
                .and_then(Value::as_array)
                .is_some_and(|a| a.iter().any(|v| v == "All"));
        let policy = self
            .query
            .get("propagationPolicy")
            .or_else(|| body.get("propagationPolicy").and_then(Value::as_str));
        let propagation = match policy {
            None => Propagation::default(),
            Some(p) => Propagation::parse(p).ok_or_else(|| {
                ApiError::BadRequest(format!(
                    "propagationPolicy: Unsupported value: {p:?}: supported values: \"Foreground\", \"Background\", \"Orphan\""
                ))
            })?,
        };
        Ok(DeleteOptions {
            grace_period_seconds: grace,
            precondition_uid: body
                .pointer("/preconditions/uid")
                .and_then(Value::as_str)
                .map(String::from),
            precondition_resource_version: body
                .pointer("/preconditions/resourceVersion")
                .and_then(Value::as_str)
                .map(String::from),
            propagation,
            dry_run,
        })
    }
}

fn strip_directives(v: &Value) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, v)| !k.starts_with('$') && !v.is_null())
                .map(|(k, v)| (k.clone(), strip_directives(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(strip_directives).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_body_is_the_head_with_its_encoded_items() {
        let head = json!({"kind": "PodList", "apiVersion": "v1",
                          "metadata": {"resourceVersion": "7", "continue": "x"}});
        let items = [
            json!({"metadata": {"name": "a"}}),
            json!({"metadata": {"name": "b"}}),
        ];
        let encoded: Vec<Vec<u8>> = items.iter().map(api::encode::to_vec).collect();
        let body: Value = serde_json::from_slice(&list_body(&head, &encoded)).unwrap();
        let mut want = head.clone();
        want["items"] = json!(items);
        assert_eq!(body, want);

        let empty: Value = serde_json::from_slice(&list_body(&head, &[])).unwrap();
        assert_eq!(empty["items"], json!([]));
        assert_eq!(
            list_meta(3, &None, Some(2)),
            json!({"resourceVersion": "3", "remainingItemCount": 2})
        );
    }
}
