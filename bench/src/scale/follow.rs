//! Watch followers for the scale benchmark: one on every EndpointSlice (it knows when the
//! cluster is fully built: as many ready endpoints as pods) and one on every Pod (it sees the
//! Ready condition change). Each timestamps a frame when its bytes arrive, before parsing, and
//! reports per-pod readiness changes while the flips are measured.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{Method, StatusCode};
use serde::Deserialize;
use tokio::sync::mpsc;

use super::workload::NAMESPACE_PREFIX;
use crate::client::{Endpoint, Proto};

/// Which watch saw a readiness.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The pod's Ready condition.
    Pod,
    /// The pod's endpoint in an EndpointSlice.
    Slice,
}

/// A pod (`namespace/name`) seen ready or not, and when the bytes saying so arrived.
#[derive(Debug)]
pub struct Seen {
    pub source: Source,
    pub pod: String,
    pub ready: bool,
    pub at: Instant,
}

/// What the followers share with the benchmark driver.
#[derive(Default)]
pub struct Shared {
    /// Ready endpoints across the benchmark's namespaces' slices.
    pub ready_endpoints: AtomicU64,
    /// Pods known to be ready endpoints, by slice (to pick flip targets from).
    pub endpoints: std::sync::Mutex<HashMap<String, Vec<(String, bool)>>>,
    /// While set, readiness observations are sent to the driver.
    pub reporting: AtomicBool,
}

/// Opens a watch of `collection` (all namespaces) from `resource_version` and hands each
/// complete event line, with its arrival time, to `on_line`; ends with an error when the stream
/// breaks.
async fn follow_lines(
    endpoint: &Endpoint,
    collection: &str,
    resource_version: &str,
    mut on_line: impl FnMut(&[u8], Instant),
) -> Result<()> {
    let mut sender = endpoint.connect(Proto::H1).await?;
    let query = format!(
        "{collection}?watch=true&resourceVersion={resource_version}&timeoutSeconds=86400&allowWatchBookmarks=true"
    );
    let request = endpoint.request(Method::GET, &query, Bytes::new())?;
    let response = sender.send(request).await?;
    if response.status() != StatusCode::OK {
        bail!("watching {collection}: HTTP {}", response.status());
    }
    let mut body: Incoming = response.into_body();
    let mut buffer = BytesMut::new();
    loop {
        let frame = body.frame().await;
        let at = Instant::now();
        let frame = match frame {
            Some(frame) => frame.with_context(|| format!("reading the {collection} watch"))?,
            None => bail!("the {collection} watch ended"),
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        buffer.extend_from_slice(&data);
        while let Some(end) = buffer.iter().position(|&b| b == b'\n') {
            let line = buffer.split_to(end + 1);
            on_line(&line, at);
        }
    }
}

#[derive(Deserialize)]
struct Event<T> {
    #[serde(rename = "type")]
    kind: String,
    object: T,
}

#[derive(Deserialize, Default)]
struct Meta {
    #[serde(default)]
    name: String,
    #[serde(default)]
    namespace: String,
}

#[derive(Deserialize)]
struct Slice {
    #[serde(default)]
    metadata: Meta,
    #[serde(default)]
    endpoints: Option<Vec<SliceEndpoint>>,
}

#[derive(Deserialize)]
struct SliceEndpoint {
    #[serde(default)]
    conditions: Conditions,
    #[serde(rename = "targetRef")]
    target_ref: Option<TargetRef>,
}

#[derive(Deserialize, Default)]
struct Conditions {
    ready: Option<bool>,
}

#[derive(Deserialize)]
struct TargetRef {
    name: String,
}

/// Follows every EndpointSlice, keeping the ready count and each slice's endpoints.
pub async fn slices(
    endpoint: Arc<Endpoint>,
    resource_version: String,
    shared: Arc<Shared>,
    tx: mpsc::UnboundedSender<Seen>,
) -> Result<()> {
    let collection = "/apis/discovery.k8s.io/v1/endpointslices";
    follow_lines(&endpoint, collection, &resource_version, |line, at| {
        let Ok(event) = serde_json::from_slice::<Event<Slice>>(line) else {
            return;
        };
        let meta = &event.object.metadata;
        if !meta.namespace.starts_with(NAMESPACE_PREFIX) {
            return;
        }
        let key = format!("{}/{}", meta.namespace, meta.name);
        let now: Vec<(String, bool)> = match event.kind.as_str() {
            "ADDED" | "MODIFIED" => event
                .object
                .endpoints
                .unwrap_or_default()
                .into_iter()
                .filter_map(|e| {
                    let pod = e.target_ref?.name;
                    Some((
                        format!("{}/{pod}", meta.namespace),
                        e.conditions.ready.unwrap_or(true),
                    ))
                })
                .collect(),
            "DELETED" => Vec::new(),
            _ => return,
        };
        let mut endpoints = shared.endpoints.lock().unwrap_or_else(|e| e.into_inner());
        let before = endpoints.remove(&key).unwrap_or_default();
        let ready = |list: &[(String, bool)]| list.iter().filter(|(_, r)| *r).count() as u64;
        let (was, is) = (ready(&before), ready(&now));
        if is >= was {
            shared
                .ready_endpoints
                .fetch_add(is - was, Ordering::Relaxed);
        } else {
            shared
                .ready_endpoints
                .fetch_sub(was - is, Ordering::Relaxed);
        }
        if shared.reporting.load(Ordering::Relaxed) {
            let old: HashMap<&str, bool> = before.iter().map(|(p, r)| (p.as_str(), *r)).collect();
            for (pod, ready) in &now {
                if old.get(pod.as_str()) != Some(ready) {
                    let _ = tx.send(Seen {
                        source: Source::Slice,
                        pod: pod.clone(),
                        ready: *ready,
                        at,
                    });
                }
            }
        }
        if !now.is_empty() {
            endpoints.insert(key, now);
        }
    })
    .await
}

#[derive(Deserialize)]
struct Pod {
    #[serde(default)]
    metadata: Meta,
    #[serde(default)]
    status: PodStatus,
}

#[derive(Deserialize, Default)]
struct PodStatus {
    #[serde(default)]
    conditions: Vec<PodCondition>,
}

#[derive(Deserialize)]
struct PodCondition {
    #[serde(rename = "type")]
    kind: String,
    status: String,
}

/// Follows every Pod, reporting its Ready condition on each event while reporting is on.
pub async fn pods(
    endpoint: Arc<Endpoint>,
    resource_version: String,
    shared: Arc<Shared>,
    tx: mpsc::UnboundedSender<Seen>,
) -> Result<()> {
    follow_lines(&endpoint, "/api/v1/pods", &resource_version, |line, at| {
        if !shared.reporting.load(Ordering::Relaxed) {
            return;
        }
        let Ok(event) = serde_json::from_slice::<Event<Pod>>(line) else {
            return;
        };
        if event.kind != "MODIFIED" {
            return;
        }
        let meta = &event.object.metadata;
        let ready = event
            .object
            .status
            .conditions
            .iter()
            .any(|c| c.kind == "Ready" && c.status == "True");
        let _ = tx.send(Seen {
            source: Source::Pod,
            pod: format!("{}/{}", meta.namespace, meta.name),
            ready,
            at,
        });
    })
    .await
}
