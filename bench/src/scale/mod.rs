//! `scale`: builds a generated cluster (workload.rs) through the API of a running `svcplane
//! server` with its controllers and node agent, the way users would (Namespaces, Services,
//! Deployments, StatefulSets; the controllers make the ReplicaSets, pods and EndpointSlices, the
//! agent schedules the pods and makes them Ready), then measures:
//! - the time until every pod is a ready endpoint in an EndpointSlice;
//! - the server's RSS at that size;
//! - readiness flips: a pod is made unready (and ready again) through the agent's readiness
//!   annotation, and for each flip the delay from the pod's Ready condition changing (seen on a
//!   Pod watch) to its endpoint changing (seen on an EndpointSlice watch), p50/p99/max.

pub mod follow;
pub mod live;
pub mod restart;
pub mod workload;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use futures::StreamExt;
use hyper::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use self::follow::{Seen, Shared, Source};
use self::workload::{Cluster, ServiceKind, Workload};
use crate::Output;
use crate::client::{ApiArgs, Endpoint, Proto, Sender, ensure_namespace, list_revision};
use crate::results::{Record, record};
use crate::stats::{Percentiles, kib_to_mb};
use crate::{parse_duration, procfs};

/// The agent's readiness annotation (crates/agent: `svcplane.dev/ready: "false"` keeps a pod
/// unready).
const READY_ANNOTATION: &str = "svcplane.dev/ready";

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    api: ApiArgs,
    #[arg(long, default_value_t = 10_000)]
    services: usize,
    #[arg(long, default_value_t = 100_000)]
    pods: usize,
    /// The simulated nodes the server runs (reported; the server's `--nodes` sets them).
    #[arg(long, default_value_t = 1_000)]
    nodes: usize,
    /// Readiness flips to measure (half of them unready, half ready again).
    #[arg(long, default_value_t = 1_000)]
    flips: usize,
    /// Creates in flight while building the cluster.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Longest to wait for the cluster to be built.
    #[arg(long, default_value = "40m", value_parser = parse_duration)]
    build_timeout: Duration,
    /// Longest to wait for one flip to show.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    flip_timeout: Duration,
    /// The server's PID, for its RSS and CPU.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Once built, read the cluster back from the API and write the DNS part's query files
    /// (`queries.txt`, per type, and the gate's `expected.tsv`) for it into this directory.
    #[arg(long)]
    dns_queries: Option<std::path::PathBuf>,
    #[command(flatten)]
    out: Output,
}

/// What one scale run measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScaleResult {
    pub services: usize,
    pub pods: u64,
    pub nodes: usize,
    pub namespaces: usize,
    pub deployments: usize,
    pub statefulsets: usize,
    /// Seconds to send every create (Namespaces, Services, workloads).
    pub submit_s: f64,
    /// Seconds from the first create until every pod was a ready endpoint.
    pub build_s: f64,
    /// Server CPU seconds spent building.
    pub build_cpu_s: Option<f64>,
    pub rss_kib: Option<u64>,
    pub hwm_kib: Option<u64>,
    pub flips: usize,
    pub timeouts: usize,
    /// Pod Ready condition change → EndpointSlice change.
    pub ready_to_slice: Percentiles,
    /// Annotation write sent → EndpointSlice change (includes the agent's reaction).
    pub write_to_slice: Percentiles,
}

pub async fn run(args: Args) -> Result<()> {
    let cluster = Cluster::generate(args.services, args.pods);
    let endpoint = Endpoint::new(&args.api)?;
    let mut sender = endpoint.connect(Proto::H2).await?;
    println!(
        "scale: {} Services ({} headless, {} ExternalName) in {} namespaces, {} pods \
         ({} Deployments, {} StatefulSets) on {} nodes",
        cluster.services.len(),
        cluster.count(ServiceKind::Headless),
        cluster.count(ServiceKind::ExternalName),
        cluster.namespaces.len(),
        cluster.pods(),
        cluster.workloads(Workload::Deployment),
        cluster.workloads(Workload::StatefulSet),
        args.nodes,
    );

    let shared = Arc::new(Shared::default());
    let (tx, mut rx) = mpsc::unbounded_channel();
    let start_rv = list_revision(&endpoint, &mut sender, "/api/v1/namespaces").await?;
    let slice_watch = tokio::spawn(follow::slices(
        endpoint.clone(),
        start_rv,
        shared.clone(),
        tx.clone(),
    ));

    let cpu_before = args.server_pid.map(procfs::cpu_seconds).transpose()?;
    let started = Instant::now();
    submit(&endpoint, &sender, &cluster, args.concurrency).await?;
    let submit_s = started.elapsed().as_secs_f64();
    println!("scale: every object submitted in {submit_s:.1} s");
    let want = cluster.pods();
    let mut last_report = Instant::now();
    loop {
        let ready = shared.ready_endpoints.load(Ordering::Relaxed);
        if ready == want {
            break;
        }
        if slice_watch.is_finished() {
            return Err(slice_watch.await?.err().unwrap_or_else(|| {
                anyhow::anyhow!("the EndpointSlice watch ended while building")
            }));
        }
        if started.elapsed() > args.build_timeout {
            bail!(
                "only {ready} of {want} pods were ready endpoints after {:?}",
                args.build_timeout
            );
        }
        if last_report.elapsed() > Duration::from_secs(10) {
            println!(
                "scale: {ready} of {want} pods ready endpoints after {:.0} s",
                started.elapsed().as_secs_f64()
            );
            last_report = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let build_s = started.elapsed().as_secs_f64();
    let build_cpu_s = match (args.server_pid, cpu_before) {
        (Some(pid), Some(before)) => Some(procfs::cpu_seconds(pid)? - before),
        _ => None,
    };
    println!("scale: {want} pods ready endpoints {build_s:.1} s after the first create");
    let memory = args.server_pid.map(procfs::memory).transpose()?;
    if let Some(m) = &memory {
        println!(
            "scale: server VmRSS {:.1} MB, VmHWM {:.1} MB",
            kib_to_mb(m.rss_kib),
            kib_to_mb(m.hwm_kib)
        );
    }

    let flip_rv = list_revision(&endpoint, &mut sender, "/api/v1/pods").await?;
    let pod_watch = tokio::spawn(follow::pods(endpoint.clone(), flip_rv, shared.clone(), tx));
    // The watch is open once its first frame could arrive; a pause keeps the first flip from
    // racing the watch's start (the flips themselves are sequential).
    tokio::time::sleep(Duration::from_millis(500)).await;
    shared.reporting.store(true, Ordering::Relaxed);
    let targets = flip_targets(&shared, args.flips.div_ceil(2));
    let mut ready_to_slice = Vec::new();
    let mut write_to_slice = Vec::new();
    let mut timeouts = 0;
    let mut flips = 0;
    'flips: for pod in &targets {
        for ready in [false, true] {
            if flips == args.flips {
                break 'flips;
            }
            flips += 1;
            let written = flip(&endpoint, &mut sender, pod, ready).await?;
            match observe(&mut rx, pod, ready, args.flip_timeout).await {
                Some((pod_at, slice_at)) => {
                    ready_to_slice.push(slice_at.saturating_duration_since(pod_at));
                    write_to_slice.push(slice_at.saturating_duration_since(written));
                }
                None => timeouts += 1,
            }
            if pod_watch.is_finished() || slice_watch.is_finished() {
                bail!("a watch ended during the flips");
            }
        }
    }
    pod_watch.abort();
    slice_watch.abort();
    report_memory(args.server_pid, "after the flips")?;
    if let Some(dir) = &args.dns_queries {
        // Every flip ended ready again, so each headless Service has all its endpoints.
        let live = live::read(&endpoint, &mut sender).await?;
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        crate::dns::queries::write_all(&live, dir, 100_000, 200)?;
        println!(
            "scale: DNS queries for {} Services ({} headless) written to {}",
            live.services.len(),
            live.headless().count(),
            dir.display()
        );
        report_memory(
            args.server_pid,
            "after listing every Service and EndpointSlice",
        )?;
    }
    let result = ScaleResult {
        services: cluster.services.len(),
        pods: want,
        nodes: args.nodes,
        namespaces: cluster.namespaces.len(),
        deployments: cluster.workloads(Workload::Deployment),
        statefulsets: cluster.workloads(Workload::StatefulSet),
        submit_s,
        build_s,
        build_cpu_s,
        rss_kib: memory.as_ref().map(|m| m.rss_kib),
        hwm_kib: memory.as_ref().map(|m| m.hwm_kib),
        flips,
        timeouts,
        ready_to_slice: Percentiles::of(&mut ready_to_slice),
        write_to_slice: Percentiles::of(&mut write_to_slice),
    };
    println!(
        "scale: {flips} flips ({timeouts} timed out): pod Ready → slice {}; write → slice {}",
        result.ready_to_slice, result.write_to_slice
    );
    record(&args.out, Record::Scale(result))
}

/// Prints the server's memory now (the RSS recorded is the one once built).
fn report_memory(pid: Option<u32>, when: &str) -> Result<()> {
    if let Some(pid) = pid {
        let m = procfs::memory(pid)?;
        println!("scale: server VmRSS {:.1} MB {when}", kib_to_mb(m.rss_kib));
    }
    Ok(())
}

/// Sends every create, `concurrency` in flight over one HTTP/2 connection.
async fn submit(
    endpoint: &Arc<Endpoint>,
    sender: &Sender,
    cluster: &Cluster,
    concurrency: usize,
) -> Result<()> {
    let mut first = sender.share().context("the build needs HTTP/2")?;
    for namespace in &cluster.namespaces {
        ensure_namespace(endpoint, &mut first, namespace).await?;
    }
    let mut creates = Vec::new();
    for service in &cluster.services {
        let path = format!("/api/v1/namespaces/{}/services", service.namespace);
        creates.push((path, service.service_json()));
        creates.extend(service.workload_json());
    }
    let results = futures::stream::iter(creates)
        .map(|(path, body)| {
            let mut sender = sender.share().expect("HTTP/2");
            async move {
                let request =
                    endpoint.request(Method::POST, &path, Bytes::from(body.to_string()))?;
                sender
                    .call(request, &[StatusCode::CREATED])
                    .await
                    .with_context(|| format!("creating {} in {path}", body["metadata"]["name"]))
            }
        })
        .buffer_unordered(concurrency.max(1));
    futures::pin_mut!(results);
    while let Some(result) = results.next().await {
        result?;
    }
    Ok(())
}

/// Ready pods to flip, spread over the slices (every k-th slice's first ready endpoint).
fn flip_targets(shared: &Shared, count: usize) -> Vec<String> {
    let endpoints = shared.endpoints.lock().unwrap_or_else(|e| e.into_inner());
    let mut slices: Vec<&String> = endpoints.keys().collect();
    slices.sort();
    let step = (slices.len() / count.max(1)).max(1);
    slices
        .iter()
        .step_by(step)
        .filter_map(|key| endpoints[*key].iter().find(|(_, ready)| *ready))
        .map(|(pod, _)| pod.clone())
        .take(count)
        .collect()
}

/// Sets (or clears) the pod's readiness annotation; returns when the write was sent.
async fn flip(endpoint: &Endpoint, sender: &mut Sender, pod: &str, ready: bool) -> Result<Instant> {
    let (namespace, name) = pod.split_once('/').context("pod key")?;
    let value = if ready {
        serde_json::Value::Null
    } else {
        "false".into()
    };
    let patch = serde_json::json!({"metadata": {"annotations": {READY_ANNOTATION: value}}});
    let mut request = endpoint.request(
        Method::PATCH,
        &format!("/api/v1/namespaces/{namespace}/pods/{name}"),
        Bytes::from(patch.to_string()),
    )?;
    request.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/merge-patch+json"),
    );
    let sent = Instant::now();
    sender
        .call(request, &[StatusCode::OK])
        .await
        .with_context(|| format!("flipping {pod}"))?;
    Ok(sent)
}

/// Waits for both watches to show `pod` with readiness `ready`: (pod seen, slice seen).
async fn observe(
    rx: &mut mpsc::UnboundedReceiver<Seen>,
    pod: &str,
    ready: bool,
    limit: Duration,
) -> Option<(Instant, Instant)> {
    let deadline = tokio::time::Instant::now() + limit;
    let (mut pod_at, mut slice_at) = (None, None);
    while pod_at.is_none() || slice_at.is_none() {
        let seen = tokio::time::timeout_at(deadline, rx.recv()).await.ok()??;
        if seen.pod != pod || seen.ready != ready {
            continue;
        }
        match seen.source {
            Source::Pod => pod_at = pod_at.or(Some(seen.at)),
            Source::Slice => slice_at = slice_at.or(Some(seen.at)),
        }
    }
    Some((pod_at?, slice_at?))
}
