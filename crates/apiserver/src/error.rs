//! API errors and their one translation into HTTP: a Kubernetes `Status` body with reason,
//! code, message and details, which kubectl prints as `Error from server (Reason): message`.

use api::FieldError;
use api::resources::ResourceType;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// An API failure, by the case a client branches on.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{message}")]
    NotFound { message: String, details: Value },
    #[error("{message}")]
    AlreadyExists { message: String, details: Value },
    #[error("{message}")]
    Conflict { message: String, details: Value },
    #[error("{message}")]
    Invalid { message: String, details: Value },
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("Unauthorized")]
    Unauthorized,
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    NotAcceptable(String),
    #[error("the request is too large; the limit is {0} bytes")]
    TooLarge(usize),
    #[error("{message}")]
    Expired { message: String },
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    Internal(String),
}

pub type Result<T, E = ApiError> = std::result::Result<T, E>;

fn details(rt: &ResourceType, name: &str) -> Value {
    let mut d = json!({"name": name, "kind": rt.plural});
    if !rt.group.is_empty() {
        d["group"] = json!(rt.group);
    }
    d
}

impl ApiError {
    pub fn not_found(rt: &ResourceType, name: &str) -> Self {
        ApiError::NotFound {
            message: format!("{} {name:?} not found", rt.group_resource()),
            details: details(rt, name),
        }
    }

    /// The Status kube-apiserver returns for a path it does not serve.
    pub fn no_route() -> Self {
        ApiError::NotFound {
            message: "the server could not find the requested resource".into(),
            details: json!({}),
        }
    }

    pub fn already_exists(rt: &ResourceType, name: &str) -> Self {
        ApiError::AlreadyExists {
            message: format!("{} {name:?} already exists", rt.group_resource()),
            details: details(rt, name),
        }
    }

    pub fn conflict(rt: &ResourceType, name: &str) -> Self {
        ApiError::Conflict {
            message: format!(
                "Operation cannot be fulfilled on {} {name:?}: the object has been modified; please apply your changes to the latest version and try again",
                rt.group_resource()
            ),
            details: details(rt, name),
        }
    }

    pub fn conflict_with(rt: &ResourceType, name: &str, why: &str) -> Self {
        ApiError::Conflict {
            message: format!(
                "Operation cannot be fulfilled on {} {name:?}: {why}",
                rt.group_resource()
            ),
            details: details(rt, name),
        }
    }

    /// 422 Invalid, with one cause per field error; `details.kind` is the Kind here.
    pub fn invalid(rt: &ResourceType, name: &str, errors: &[FieldError]) -> Self {
        let summary = match errors {
            [one] => one.to_string(),
            many => format!(
                "[{}]",
                many.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        let causes: Vec<Value> = errors
            .iter()
            .map(|e| json!({"reason": e.cause.reason(), "message": e.message, "field": e.field}))
            .collect();
        ApiError::Invalid {
            message: format!("{} {name:?} is invalid: {summary}", rt.kind),
            details: json!({"name": name, "group": rt.group, "kind": rt.kind, "causes": causes}),
        }
    }

    pub fn code(&self) -> StatusCode {
        match self {
            ApiError::NotFound { .. } => StatusCode::NOT_FOUND,
            ApiError::AlreadyExists { .. } | ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::NotAcceptable(_) => StatusCode::NOT_ACCEPTABLE,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Expired { .. } => StatusCode::GONE,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn reason(&self) -> &'static str {
        match self {
            ApiError::NotFound { .. } => "NotFound",
            ApiError::AlreadyExists { .. } => "AlreadyExists",
            ApiError::Conflict { .. } => "Conflict",
            ApiError::Invalid { .. } => "Invalid",
            ApiError::BadRequest(_) => "BadRequest",
            ApiError::Forbidden(_) => "Forbidden",
            ApiError::Unauthorized => "Unauthorized",
            ApiError::MethodNotAllowed(_) => "MethodNotAllowed",
            ApiError::UnsupportedMediaType(_) => "UnsupportedMediaType",
            ApiError::NotAcceptable(_) => "NotAcceptable",
            ApiError::TooLarge(_) => "RequestEntityTooLarge",
            ApiError::Expired { .. } => "Expired",
            ApiError::Unavailable(_) => "ServiceUnavailable",
            ApiError::Internal(_) => "InternalError",
        }
    }

    /// The `metav1.Status` body.
    pub fn status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.to_string(),
            "reason": self.reason(),
            "code": self.code().as_u16(),
        });
        match self {
            ApiError::NotFound { details, .. }
            | ApiError::AlreadyExists { details, .. }
            | ApiError::Conflict { details, .. }
            | ApiError::Invalid { details, .. }
                if details.as_object().is_some_and(|d| !d.is_empty()) =>
            {
                status["details"] = details.clone();
            }
            _ => {}
        }
        status
    }
}

impl From<store::Error> for ApiError {
    fn from(e: store::Error) -> Self {
        match e {
            store::Error::Expired { requested, oldest } => ApiError::Expired {
                message: format!("too old resource version: {requested} ({oldest})"),
            },
            store::Error::Unavailable(msg) => {
                ApiError::Unavailable(format!("storage is unavailable: {msg}"))
            }
            other => ApiError::Internal(format!("storage error: {other}")),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.code().is_server_error() {
            tracing::warn!(error = %self, "request failed");
        }
        let body = serde_json::to_vec(&self.status()).unwrap_or_default();
        (
            self.code(),
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rt(kind: &str, api_version: &str) -> &'static ResourceType {
        api::resources::by_kind(api_version, kind).unwrap()
    }

    #[test]
    fn messages_match_kube_apiserver() {
        let cases = [
            (
                ApiError::not_found(rt("Service", "v1"), "x"),
                404,
                "NotFound",
                r#"services "x" not found"#,
            ),
            (
                ApiError::not_found(rt("Deployment", "apps/v1"), "web"),
                404,
                "NotFound",
                r#"deployments.apps "web" not found"#,
            ),
            (
                ApiError::already_exists(rt("Namespace", "v1"), "demo"),
                409,
                "AlreadyExists",
                r#"namespaces "demo" already exists"#,
            ),
            (
                ApiError::conflict(rt("Service", "v1"), "x"),
                409,
                "Conflict",
                r#"Operation cannot be fulfilled on services "x": the object has been modified; please apply your changes to the latest version and try again"#,
            ),
        ];
        for (err, code, reason, message) in cases {
            let s = err.status();
            assert_eq!(s["code"], code);
            assert_eq!(s["reason"], reason);
            assert_eq!(s["message"], message);
        }
    }

    #[test]
    fn invalid_carries_causes_with_kind() {
        let errs = [FieldError::invalid(
            "spec.ports[0].port",
            70000,
            "must be between 1 and 65535, inclusive",
        )];
        let s = ApiError::invalid(rt("Service", "v1"), "x", &errs).status();
        assert_eq!(
            s["message"],
            r#"Service "x" is invalid: spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive"#
        );
        assert_eq!(s["details"]["kind"], "Service");
        assert_eq!(s["details"]["causes"][0]["reason"], "FieldValueInvalid");
        assert_eq!(s["details"]["causes"][0]["field"], "spec.ports[0].port");
    }
}
