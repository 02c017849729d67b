//! Watch streams: newline-delimited JSON events over a chunked response, from a resourceVersion
//! (or from a synthetic list of ADDED events for `resourceVersion=0`/unset), filtered by label and
//! field selectors with Kubernetes' transition rules, ended after `timeoutSeconds`.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use api::resources::ResourceType;
use axum::body::Body;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::StreamExt;
use serde_json::{Value, json};
use store::WatchItem;
use tokio::sync::mpsc;

use crate::error::{ApiError, Result};
use crate::object;
use crate::registry::{ListOptions, Registry};
use crate::request::ResponseForm;
use crate::tables;

/// Watches last this long unless the client asks otherwise (kube-apiserver uses 30–60 min).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1800);
/// How often a watch that allows bookmarks is told the revision it has reached.
const BOOKMARK_INTERVAL: Duration = Duration::from_secs(60);

pub struct WatchParams {
    pub resource_version: Option<String>,
    pub timeout: Option<Duration>,
    pub bookmarks: bool,
    pub form: ResponseForm,
    pub list: ListOptions,
}

pub async fn watch(
    registry: Arc<Registry>,
    rt: &'static ResourceType,
    ns: Option<String>,
    params: WatchParams,
    cancel: tokio_util::sync::CancellationToken,
) -> Result<Response> {
    let start = match params.resource_version.as_deref() {
        None | Some("") | Some("0") => None,
        Some(rv) => Some(
            rv.parse::<i64>()
                .map_err(|_| ApiError::BadRequest(format!("invalid resource version: {rv:?}")))?,
        ),
    };
    let (initial, from) = match start {
        Some(rev) => (Vec::new(), rev),
        None => {
            let mut opts = params.list.clone();
            opts.limit = None;
            opts.continue_token = None;
            let list = registry.list(rt, ns.as_deref(), &opts).await?;
            (list.items, list.revision)
        }
    };
    let prefix = object::prefix(rt, ns.as_deref());
    let stream = registry.store.watch_with_progress(&prefix, from).await;
    let (tx, rx) = mpsc::channel::<Bytes>(64);
    let encoder = Encoder {
        rt,
        form: params.form,
    };
    let timeout = params.timeout.unwrap_or(DEFAULT_TIMEOUT);
    let list = params.list;
    let bookmarks = params.bookmarks;
    tokio::spawn(async move {
        for obj in initial {
            if tx.send(encoder.event("ADDED", &obj)).await.is_err() {
                return;
            }
        }
        let mut stream = match stream {
            Ok(s) => s,
            Err(e) => {
                let _ = tx.send(encoder.error(&ApiError::from(e))).await;
                return;
            }
        };
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        let mut ticker = tokio::time::interval(BOOKMARK_INTERVAL);
        ticker.tick().await;
        let mut last_rev = from;
        loop {
            tokio::select! {
                _ = &mut deadline => {
                    // Like kube-apiserver, a last bookmark before the watch ends, so the client
                    // resumes from how far the watch got rather than from its last event.
                    if bookmarks {
                        let _ = tx.send(encoder.bookmark(last_rev)).await;
                    }
                    return;
                }
                _ = cancel.cancelled() => return,
                _ = tx.closed() => return,
                _ = ticker.tick(), if bookmarks => {
                    if tx.send(encoder.bookmark(last_rev)).await.is_err() {
                        return;
                    }
                }
                next = stream.next() => {
                    let Some(next) = next else { return };
                    let event = match next {
                        Ok(WatchItem::Event(event)) => event,
                        Ok(WatchItem::Progress(revision)) => {
                            last_rev = revision;
                            continue;
                        }
                        Err(e) => {
                            let _ = tx.send(encoder.error(&ApiError::from(e))).await;
                            return;
                        }
                    };
                    last_rev = event.kv.mod_revision;
                    if let Some(line) = encoder.store_event(&event, &list)
                        && tx.send(line).await.is_err()
                    {
                        return;
                    }
                }
            }
        }
    });
    let body = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<_, Infallible>(b), rx))
    });
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(body),
    )
        .into_response())
}

struct Encoder {
    rt: &'static ResourceType,
    form: ResponseForm,
}

fn matches(list: &ListOptions, obj: &Value) -> bool {
    list.labels.matches_json(obj.pointer("/metadata/labels")) && list.fields.matches(obj)
}

impl Encoder {
    fn line(&self, event_type: &str, object: Value) -> Bytes {
        let mut line = api::encode::to_vec(&json!({"type": event_type, "object": object}));
        line.push(b'\n');
        Bytes::from(line)
    }

    fn event(&self, event_type: &str, obj: &Value) -> Bytes {
        let object = match self.form {
            ResponseForm::Object => obj.clone(),
            ResponseForm::Table(include) => {
                let rv = object::resource_version(obj).unwrap_or_default();
                tables::table(
                    self.rt,
                    std::slice::from_ref(obj),
                    json!({"resourceVersion": rv}),
                    include,
                )
            }
        };
        self.line(event_type, object)
    }

    fn bookmark(&self, rev: i64) -> Bytes {
        let object = json!({"kind": self.rt.kind, "apiVersion": self.rt.api_version(),
            "metadata": {"resourceVersion": rev.to_string()}});
        self.line("BOOKMARK", object)
    }

    fn error(&self, e: &ApiError) -> Bytes {
        self.line("ERROR", e.status())
    }

    /// A store event as the watcher sees it: an object entering the selection is ADDED, one
    /// leaving it is DELETED, and events outside it are dropped.
    fn store_event(&self, event: &store::WatchEvent, list: &ListOptions) -> Option<Bytes> {
        let obj = object::from_kv(&event.kv).ok()?;
        let was = event
            .prev
            .as_ref()
            .and_then(|p| object::from_kv(p).ok())
            .is_some_and(|p| matches(list, &p));
        let is = matches(list, &obj);
        let event_type = match event.kind {
            store::EventKind::Created if is => "ADDED",
            store::EventKind::Modified if is && was => "MODIFIED",
            store::EventKind::Modified if is => "ADDED",
            store::EventKind::Modified if was => "DELETED",
            store::EventKind::Deleted if was || is => "DELETED",
            _ => return None,
        };
        Some(self.event(event_type, &obj))
    }
}
