//! Prometheus metrics under CoreDNS's names, so existing dashboards and alerts work:
//! `coredns_dns_requests_total`, `coredns_dns_responses_total{rcode}` and the
//! `coredns_dns_request_duration_seconds` histogram; plus the HTTP endpoint that serves them
//! with `/health` and `/ready` (200 only once the zone has synced, like CoreDNS's `ready`).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use hickory_proto::rr::RecordType;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::error::Result;
use crate::wire::Transport;
use crate::zone::ZoneView;

/// CoreDNS's buckets: `prometheus.ExponentialBuckets(0.00025, 2, 16)`, 0.25 ms to 8.192 s.
fn buckets() -> impl Iterator<Item = f64> {
    (0..16).map(|i| 0.00025 * f64::from(1u32 << i))
}

#[derive(Default, Clone)]
struct Histogram {
    counts: [u64; 16],
    sum: f64,
    count: u64,
}

/// Counters of one listener. Keys stay in their compact form; names are rendered at scrape
/// time, so counting a query allocates nothing.
#[derive(Default)]
struct ServerStats {
    /// (proto, family, type) → count
    requests: HashMap<(&'static str, u8, Option<RecordType>), u64>,
    /// rcode (the header's 4 bits) → count
    responses: [u64; 16],
    /// type → histogram
    durations: HashMap<Option<RecordType>, Histogram>,
}

#[derive(Default)]
struct Inner {
    /// server label → its counters
    servers: HashMap<String, ServerStats>,
}

/// One query as the metrics see it.
pub struct Observation<'a> {
    /// `dns://<addr>`, the listener that got the query.
    pub server: &'a str,
    pub transport: Transport,
    /// The client's address family: 1 for IPv4, 2 for IPv6 (CoreDNS's `family` label).
    pub family: u8,
    pub qtype: Option<RecordType>,
    /// The rcode of the reply sent; `None` when nothing was sent.
    pub rcode: Option<u8>,
    pub elapsed: Duration,
}

/// Counters shared by every listener. A mutex is enough: one short critical section per query,
/// far below the cost of answering it.
#[derive(Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

impl Metrics {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // Every update is a few additions; a panic mid-update cannot break an invariant.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn observe(&self, o: &Observation<'_>) {
        let proto = match o.transport {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
        };
        let secs = o.elapsed.as_secs_f64();
        let mut inner = self.lock();
        // Only a listener's first query allocates its label.
        let stats = match inner.servers.get_mut(o.server) {
            Some(stats) => stats,
            None => inner.servers.entry(o.server.to_string()).or_default(),
        };
        *stats
            .requests
            .entry((proto, o.family, o.qtype))
            .or_default() += 1;
        if let Some(rcode) = o.rcode {
            stats.responses[usize::from(rcode & 0x0f)] += 1;
        }
        let h = stats.durations.entry(o.qtype).or_default();
        for (slot, le) in h.counts.iter_mut().zip(buckets()) {
            if secs <= le {
                *slot += 1;
            }
        }
        h.sum += secs;
        h.count += 1;
    }

    /// The Prometheus text exposition format (version 0.0.4), series sorted by their labels.
    pub fn render(&self) -> String {
        let inner = self.lock();
        let type_name =
            |t: &Option<RecordType>| t.map_or_else(|| "other".to_string(), |t| t.to_string());
        let mut requests = Vec::new();
        let mut responses = Vec::new();
        let mut durations = Vec::new();
        for (server, stats) in &inner.servers {
            for ((proto, family, qtype), n) in &stats.requests {
                requests.push((server, *proto, *family, type_name(qtype), *n));
            }
            for (rcode, n) in (0u8..).zip(stats.responses).filter(|(_, n)| *n > 0) {
                responses.push((server, rcode_name(rcode), n));
            }
            for (qtype, h) in &stats.durations {
                durations.push((server, type_name(qtype), h));
            }
        }
        requests.sort_unstable_by(|a, b| (a.0, a.1, a.2, &a.3).cmp(&(b.0, b.1, b.2, &b.3)));
        responses.sort_unstable_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        durations.sort_unstable_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        let mut out = String::new();
        out.push_str("# HELP coredns_dns_requests_total Counter of DNS requests made per zone, protocol and family.\n");
        out.push_str("# TYPE coredns_dns_requests_total counter\n");
        for (server, proto, family, qtype, n) in &requests {
            let _ = writeln!(
                out,
                "coredns_dns_requests_total{{server=\"{server}\",zone=\".\",view=\"\",proto=\"{proto}\",family=\"{family}\",type=\"{qtype}\"}} {n}"
            );
        }
        out.push_str("# HELP coredns_dns_responses_total Counter of response status codes.\n");
        out.push_str("# TYPE coredns_dns_responses_total counter\n");
        for (server, rcode, n) in &responses {
            let _ = writeln!(
                out,
                "coredns_dns_responses_total{{server=\"{server}\",zone=\".\",view=\"\",rcode=\"{rcode}\",plugin=\"\"}} {n}"
            );
        }
        out.push_str("# HELP coredns_dns_request_duration_seconds Histogram of the time (in seconds) each request took per zone.\n");
        out.push_str("# TYPE coredns_dns_request_duration_seconds histogram\n");
        for (server, qtype, h) in &durations {
            let labels = format!("server=\"{server}\",zone=\".\",view=\"\",type=\"{qtype}\"");
            for (n, le) in h.counts.iter().zip(buckets()) {
                let _ = writeln!(
                    out,
                    "coredns_dns_request_duration_seconds_bucket{{{labels},le=\"{le}\"}} {n}"
                );
            }
            let _ = writeln!(
                out,
                "coredns_dns_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "coredns_dns_request_duration_seconds_sum{{{labels}}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "coredns_dns_request_duration_seconds_count{{{labels}}} {}",
                h.count
            );
        }
        out
    }
}

fn rcode_name(rcode: u8) -> String {
    match rcode {
        0 => "NOERROR".into(),
        1 => "FORMERR".into(),
        2 => "SERVFAIL".into(),
        3 => "NXDOMAIN".into(),
        4 => "NOTIMP".into(),
        5 => "REFUSED".into(),
        n => n.to_string(),
    }
}

#[derive(Clone)]
struct HttpState {
    metrics: Arc<Metrics>,
    view: watch::Receiver<Arc<ZoneView>>,
}

/// Serves `/metrics`, `/health` and `/ready` on an already bound listener until `shutdown`.
pub async fn serve_http(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    view: watch::Receiver<Arc<ZoneView>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let app = Router::new()
        .route("/metrics", get(render))
        .route("/health", get(|| async { "OK" }))
        .route("/ready", get(ready))
        .with_state(HttpState { metrics, view });
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await?;
    Ok(())
}

async fn render(State(s): State<HttpState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        s.metrics.render(),
    )
}

async fn ready(State(s): State<HttpState>) -> impl IntoResponse {
    if s.view.borrow().synced() {
        (StatusCode::OK, "OK")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "zone not synced yet")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_coredns_names() {
        let m = Metrics::new();
        for rcode in [0, 3, 3] {
            m.observe(&Observation {
                server: "dns://127.0.0.1:53",
                transport: Transport::Udp,
                family: 1,
                qtype: Some(RecordType::A),
                rcode: Some(rcode),
                elapsed: Duration::from_micros(300),
            });
        }
        let text = m.render();
        assert!(text.contains("coredns_dns_requests_total{server=\"dns://127.0.0.1:53\",zone=\".\",view=\"\",proto=\"udp\",family=\"1\",type=\"A\"} 3"), "{text}");
        assert!(text.contains("rcode=\"NXDOMAIN\",plugin=\"\"} 2"), "{text}");
        assert!(text.contains("le=\"0.00025\"} 0"), "{text}");
        assert!(text.contains("le=\"0.0005\"} 3"), "{text}");
        assert!(text.contains("coredns_dns_request_duration_seconds_count{server=\"dns://127.0.0.1:53\",zone=\".\",view=\"\",type=\"A\"} 3"), "{text}");
    }
}
