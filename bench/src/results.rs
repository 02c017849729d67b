//! Recorded measurements: one JSON line each, appended by the subcommands during a run and read
//! back by `report`, so the document is rendered from exactly what was measured.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::Output;
use crate::cpu::CpuUse;
use crate::stats::Percentiles;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "bench", rename_all = "kebab-case")]
pub enum Record {
    Load(LoadResult),
    Watch(WatchResult),
    Rss(RssResult),
    DnsPerf(DnsPerfResult),
    DnsCheck(DnsCheckResult),
    DnsPropagation(DnsPropagationResult),
    Scale(crate::scale::ScaleResult),
    Restart(crate::scale::restart::RestartResult),
}

/// The label prefix of DNS measurements taken in the scale part (against the cluster the
/// controllers built), which its section reports and the DNS part's tables leave out.
pub const SCALE_LABEL: &str = "scale";

pub fn is_scale_label(label: &str) -> bool {
    label.starts_with(SCALE_LABEL)
}

/// A closed-loop write load (svcplane creates or etcd puts).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoadResult {
    pub label: String,
    /// `svcplane` or `etcd`.
    pub target: String,
    /// How the clients reach the server, e.g. `HTTPS, HTTP/2, 1 connection`.
    pub transport: String,
    pub clients: usize,
    /// The measured window (after the warm-up).
    pub seconds: f64,
    pub ops: u64,
    pub errors: u64,
    pub first_error: Option<String>,
    pub rate: f64,
    pub latency: Percentiles,
    /// CPU use during the window.
    pub cpu: CpuUse,
}

/// Watch fan-out delays.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WatchResult {
    pub label: String,
    pub transport: String,
    pub watchers: usize,
    pub events: usize,
    /// Writes per second.
    pub rate: f64,
    /// Seconds to open every watch.
    pub setup_s: f64,
    /// (watcher, event) pairs seen, and expected.
    pub deliveries: u64,
    pub expected: u64,
    /// Watch streams that ended or failed before the end of the measurement.
    pub broken_watches: u64,
    /// From just before the write was sent to the watcher seeing the event.
    pub from_write: Percentiles,
    /// From the write's acknowledgement (0 when the watcher saw it first).
    pub from_ack: Percentiles,
    /// Deliveries that arrived before the writer had its acknowledgement.
    pub before_ack: u64,
    /// Latency of the writes themselves.
    pub write_latency: Percentiles,
    /// CPU use from the first measured write to the end of the deliveries (`cpu_seconds` long).
    pub cpu: CpuUse,
    pub cpu_seconds: f64,
    /// Whether the writes went through another server than the watches (`--write-url`).
    #[serde(default)]
    pub writes_elsewhere: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RssResult {
    pub label: String,
    pub process: String,
    pub rss_kib: u64,
    pub hwm_kib: u64,
}

/// One dnsperf run against one DNS server.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DnsPerfResult {
    pub label: String,
    /// Services in the generated cluster.
    pub services: usize,
    pub server: String,
    /// `mix`, or the one query type of the file.
    pub kind: String,
    pub seconds: f64,
    pub sent: u64,
    pub completed: u64,
    pub lost: u64,
    pub qps: f64,
    pub mean_latency_ms: f64,
    /// Percentiles of every query's latency (runs with dnsperf `-v` only).
    pub latency: Option<Percentiles>,
    pub rcodes: String,
    pub server_cpu_us_per_query: f64,
    pub server_cores: f64,
    /// dnsperf's own CPU.
    pub client_cores: f64,
    /// Everything else on the machine.
    pub other_cores: f64,
    /// The server's VmRSS after the run.
    pub rss_kib: u64,
    /// Whether dnsperf printed every query (`-v`), which slows it.
    pub verbose: bool,
}

/// The correctness gate, per server and query type.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DnsCheckResult {
    /// Empty for the DNS part's gate; see [`SCALE_LABEL`].
    #[serde(default)]
    pub label: String,
    pub services: usize,
    pub server: String,
    pub kind: String,
    pub checked: usize,
    pub mismatches: usize,
    pub example: Option<String>,
}

/// From an EndpointSlice write to the changed DNS answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DnsPropagationResult {
    pub services: usize,
    pub flips: usize,
    pub timeouts: usize,
    pub delay: Percentiles,
    pub write_latency: Percentiles,
}

/// Appends `record` to the `--json` file, if one was given.
pub fn record(out: &Output, record: Record) -> Result<()> {
    let Some(path) = &out.json else {
        return Ok(());
    };
    let mut line = serde_json::to_vec(&record)?;
    line.push(b'\n');
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|mut file| file.write_all(&line))
        .with_context(|| format!("appending to {}", path.display()))
}

pub fn read_all(path: &Path) -> Result<Vec<Record>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .enumerate()
        .map(|(i, line)| {
            serde_json::from_str(line)
                .with_context(|| format!("{}: line {}", path.display(), i + 1))
        })
        .collect()
}

/// A load result for the report tests: `rate` ops/s over 10 s from 64 clients, p50/p99/max
/// 5/9/12 ms, no errors, no CPU figures.
#[cfg(test)]
pub(crate) fn load_fixture(label: &str, target: &str, rate: f64) -> LoadResult {
    LoadResult {
        label: label.into(),
        target: target.into(),
        transport: "t".into(),
        clients: 64,
        seconds: 10.0,
        ops: (rate * 10.0) as u64,
        errors: 0,
        first_error: None,
        rate,
        latency: Percentiles {
            p50_ms: 5.0,
            p99_ms: 9.0,
            max_ms: 12.0,
        },
        cpu: CpuUse::default(),
    }
}

/// A DNS run for the report tests: one mix run of 10 s at 1,000 Services, nothing lost.
#[cfg(test)]
pub(crate) fn dns_perf_fixture(label: &str, server: &str, qps: f64, cpu: f64) -> DnsPerfResult {
    DnsPerfResult {
        label: label.into(),
        services: 1000,
        server: server.into(),
        kind: "mix".into(),
        seconds: 10.0,
        sent: 1,
        completed: 1,
        lost: 0,
        qps,
        mean_latency_ms: 0.5,
        latency: None,
        rcodes: String::new(),
        server_cpu_us_per_query: cpu,
        server_cores: 0.8,
        client_cores: 0.95,
        other_cores: 0.1,
        rss_kib: 10_000,
        verbose: false,
    }
}
