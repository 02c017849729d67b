//! `GET /svcplane/snapshot`: a backup of the whole store as of one revision, streamed in the
//! snapshot file format (`store::snapshot`). It is how `svcplane snapshot save --kubeconfig`
//! backs up a running server, whose embedded store file redb keeps locked; it works on etcd
//! too. Like every non-public path it needs the admin token: a snapshot holds every object.
//!
//! The response starts once the store has fixed the export's revision (sent as a header); a
//! failure after that can only cut the stream short, which the client's checksum and
//! truncation checks report.

use axum::body::Body;
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;

use crate::error::{ApiError, Result};
use crate::http::App;

pub(crate) const PATH: &str = "/svcplane/snapshot";

/// The revision the snapshot is taken at, before the body arrives.
const REVISION_HEADER: &str = "x-svcplane-snapshot-revision";

pub(crate) async fn serve(app: &App, method: &Method) -> Result<Response> {
    if method != Method::GET {
        return Err(ApiError::MethodNotAllowed(format!(
            "{method} is not supported on {PATH}; use GET"
        )));
    }
    let export = app.registry.store.export("").await?;
    let revision = export.revision;
    tracing::info!(revision, keys = export.count, "serving a store snapshot");
    let source = format!("svcplane API server at {}", app.server_address);
    let body = store::snapshot::encode(export, source).map(|chunk| {
        chunk.map_err(|e| {
            tracing::error!(error = %e, "store snapshot failed part way");
            std::io::Error::other(e.to_string())
        })
    });
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
            (
                header::HeaderName::from_static(REVISION_HEADER),
                revision.to_string(),
            ),
        ],
        Body::from_stream(body),
    )
        .into_response())
}
