//! `watch-fanout`: many concurrent watches on one namespace's ConfigMaps, then writes at a modest
//! rate; for every (watcher, event) pair, the delay from the write to the watcher seeing it.
//!
//! Each watcher has its own HTTP/1.1 connection, as 1,000 separate clients (kube-proxies,
//! kubelets) would. All watches start from the resourceVersion of one list, and a first "sync"
//! write that every watcher must see proves they are all live before the measured writes begin.
//! A delivery is timestamped when its bytes reach the watcher's task, before any parsing.
//!
//! With `--write-url`/`--write-kubeconfig` the writes go to another server than the watches (a
//! second replica on the same etcd): the delay is then the propagation between replicas.

use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{Method, StatusCode};
use serde::Deserialize;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use crate::Output;
use crate::client::{ApiArgs, Endpoint, Proto, configmap, ensure_namespace, list_revision, run_id};
use crate::results::{Record, WatchResult, record};
use crate::stats::Percentiles;
use crate::{cpu, procfs};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    api: ApiArgs,
    /// Write through this server instead of the watched one (another replica on the same etcd).
    #[arg(long)]
    write_url: Option<String>,
    /// Kubeconfig for `--write-url` (its server, CA and token); the watched server's otherwise.
    #[arg(long)]
    write_kubeconfig: Option<PathBuf>,
    #[arg(long, default_value_t = 1000)]
    watchers: usize,
    /// Measured writes (one event each).
    #[arg(long, default_value_t = 200)]
    events: usize,
    /// Writes per second.
    #[arg(long, default_value_t = 20.0)]
    rate: f64,
    /// Namespace whose ConfigMaps are watched and written (created if missing).
    #[arg(long, default_value = "watch")]
    namespace: String,
    /// Bytes of payload per written ConfigMap.
    #[arg(long, default_value_t = 1024)]
    payload: usize,
    /// Watch connections opened at once while setting up.
    #[arg(long, default_value_t = 32)]
    connect_parallelism: usize,
    /// How long to wait, after the last write, for deliveries still on their way.
    #[arg(long, default_value = "5s", value_parser = crate::parse_duration)]
    drain: Duration,
    /// The server's PID, to report the CPU it used while the events were written.
    #[arg(long)]
    server_pid: Option<u32>,
    #[command(flatten)]
    out: Output,
}

/// Counters the watchers bump, so the writer knows when everyone has caught up.
#[derive(Default)]
struct Progress {
    synced: AtomicUsize,
    delivered: AtomicU64,
}

/// What one watcher saw: (event index, when).
struct Seen {
    deliveries: Vec<(u32, Instant)>,
    broken: bool,
}

/// What the watchers look for in the object names of the events.
#[derive(Clone)]
struct Names {
    /// `{prefix}-{index}` are the measured events.
    prefix: Arc<str>,
    sync: Arc<str>,
}

enum Seeing {
    Sync,
    Event(u32),
    Other,
}

impl Names {
    fn event(&self, index: usize) -> String {
        format!("{}-{index}", self.prefix)
    }

    fn classify(&self, name: &str) -> Seeing {
        if name == &*self.sync {
            return Seeing::Sync;
        }
        name.strip_prefix(&*self.prefix)
            .and_then(|rest| rest.strip_prefix('-'))
            .and_then(|index| index.parse().ok())
            .map_or(Seeing::Other, Seeing::Event)
    }
}

pub async fn run(args: Args) -> Result<()> {
    if args.watchers == 0 || args.events == 0 || args.rate <= 0.0 {
        bail!("--watchers, --events and --rate must be positive");
    }
    // One socket per watcher, plus a few.
    procfs::check_open_files(args.watchers as u64 + 64)?;
    let endpoint = Endpoint::new(&args.api)?;
    let elsewhere = args.write_url.is_some() || args.write_kubeconfig.is_some();
    let write_endpoint = if elsewhere {
        Endpoint::new(&ApiArgs {
            url: args.write_url.clone(),
            kubeconfig: args
                .write_kubeconfig
                .clone()
                .or_else(|| args.api.kubeconfig.clone()),
        })?
    } else {
        endpoint.clone()
    };
    let mut writer = write_endpoint.connect(Proto::H1).await?;
    ensure_namespace(&write_endpoint, &mut writer, &args.namespace).await?;
    let path = format!("/api/v1/namespaces/{}/configmaps", args.namespace);
    // The watches start from a list on the server they watch (on one etcd, resourceVersions are
    // the same on every replica).
    let mut lister = endpoint.connect(Proto::H1).await?;
    let from = list_revision(&endpoint, &mut lister, &path).await?;
    drop(lister);
    let run = run_id();
    let names = Names {
        prefix: format!("w{run}").into(),
        sync: format!("w{run}-sync").into(),
    };

    let setup = Instant::now();
    let progress = Arc::new(Progress::default());
    let (stop_tx, stop_rx) = watch::channel(false);
    let watchers =
        open_watchers(&args, &endpoint, &path, &from, &names, &progress, stop_rx).await?;
    let payload = "x".repeat(args.payload);
    write(&write_endpoint, &mut writer, &path, &names.sync, &payload).await?;
    wait_for(
        || progress.synced.load(Ordering::Relaxed) >= args.watchers,
        Duration::from_secs(30),
    )
    .await
    .with_context(|| {
        format!(
            "only {} of {} watchers saw the first write",
            progress.synced.load(Ordering::Relaxed),
            args.watchers
        )
    })?;
    let setup_s = setup.elapsed().as_secs_f64();
    println!("{} watches open and live in {setup_s:.1} s", args.watchers);

    let probe = cpu::Probe::start(args.server_pid)?;
    let measuring = Instant::now();
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / args.rate));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut sent = Vec::with_capacity(args.events);
    let mut acked = Vec::with_capacity(args.events);
    for index in 0..args.events {
        ticker.tick().await;
        let began = Instant::now();
        write(
            &write_endpoint,
            &mut writer,
            &path,
            &names.event(index),
            &payload,
        )
        .await?;
        sent.push(began);
        acked.push(Instant::now());
    }
    let expected = (args.watchers * args.events) as u64;
    // Missing deliveries are reported, not fatal: they are part of the result.
    let _ = wait_for(
        || progress.delivered.load(Ordering::Relaxed) >= expected,
        args.drain,
    )
    .await;
    let cpu = probe.finish()?;
    let cpu_seconds = measuring.elapsed().as_secs_f64();
    let _ = stop_tx.send(true);

    let mut from_write = Vec::with_capacity(expected as usize);
    let mut from_ack = Vec::with_capacity(expected as usize);
    let mut before_ack = 0;
    let mut broken_watches = 0;
    for seen in watchers.join_all().await {
        broken_watches += u64::from(seen.broken);
        for (index, at) in seen.deliveries {
            let index = index as usize;
            if index >= sent.len() {
                continue;
            }
            from_write.push(at.saturating_duration_since(sent[index]));
            if at < acked[index] {
                before_ack += 1;
            }
            from_ack.push(at.saturating_duration_since(acked[index]));
        }
    }
    let mut write_latency: Vec<Duration> = sent.iter().zip(&acked).map(|(s, a)| *a - *s).collect();
    let result = WatchResult {
        label: args.out.label.clone(),
        transport: format!(
            "{}, HTTP/1.1, 1 connection per watcher{}",
            if endpoint.is_tls() {
                "HTTPS"
            } else {
                "plain HTTP"
            },
            if elsewhere {
                "; writes through another server"
            } else {
                ""
            }
        ),
        writes_elsewhere: elsewhere,
        watchers: args.watchers,
        events: args.events,
        rate: args.rate,
        setup_s,
        deliveries: from_write.len() as u64,
        expected,
        broken_watches,
        from_write: Percentiles::of(&mut from_write),
        from_ack: Percentiles::of(&mut from_ack),
        before_ack,
        write_latency: Percentiles::of(&mut write_latency),
        cpu,
        cpu_seconds,
    };
    println!(
        "watch fan-out: {} watchers × {} events at {}/s: {} of {} delivered, {} broken watches\n  \
         from just before the write: {}\n  from the acknowledgement: {} ({} seen before it)\n  \
         write latency: {}\n  CPU: {}",
        result.watchers,
        result.events,
        result.rate,
        result.deliveries,
        result.expected,
        result.broken_watches,
        result.from_write,
        result.from_ack,
        result.before_ack,
        result.write_latency,
        result.cpu.summary(result.cpu_seconds),
    );
    record(&args.out, Record::Watch(result))
}

async fn write(
    endpoint: &Endpoint,
    writer: &mut crate::client::Sender,
    path: &str,
    name: &str,
    payload: &str,
) -> Result<()> {
    let request = endpoint.request(Method::POST, path, configmap(name, payload))?;
    writer
        .call(request, &[StatusCode::CREATED])
        .await
        .with_context(|| format!("creating {name}"))?;
    Ok(())
}

/// Opens every watch (a bounded number of handshakes at a time) and returns their tasks once all
/// have their response headers.
async fn open_watchers(
    args: &Args,
    endpoint: &Arc<Endpoint>,
    path: &str,
    from: &str,
    names: &Names,
    progress: &Arc<Progress>,
    stop: watch::Receiver<bool>,
) -> Result<JoinSet<Seen>> {
    let query = format!("{path}?watch=true&resourceVersion={from}&timeoutSeconds=3600");
    let gate = Arc::new(Semaphore::new(args.connect_parallelism.max(1)));
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::channel::<Result<()>>(args.watchers);
    let mut tasks = JoinSet::new();
    for _ in 0..args.watchers {
        let (endpoint, query, names) = (endpoint.clone(), query.clone(), names.clone());
        let (progress, stop, gate) = (progress.clone(), stop.clone(), gate.clone());
        let ready = ready_tx.clone();
        tasks.spawn(async move {
            let opened = async {
                let _permit = gate.acquire().await?;
                let mut sender = endpoint.connect(Proto::H1).await?;
                let request = endpoint.request(Method::GET, &query, Bytes::new())?;
                let response = sender.send(request).await?;
                if response.status() != StatusCode::OK {
                    bail!("watch answered HTTP {}", response.status());
                }
                // The connection lives as long as the response body is read.
                Ok(response.into_body())
            }
            .await;
            match opened {
                Ok(body) => {
                    let _ = ready.send(Ok(())).await;
                    follow(body, &names, &progress, stop).await
                }
                Err(e) => {
                    let _ = ready.send(Err(e)).await;
                    Seen {
                        deliveries: Vec::new(),
                        broken: true,
                    }
                }
            }
        });
    }
    drop(ready_tx);
    for opened in 0..args.watchers {
        let outcome = ready_rx
            .recv()
            .await
            .context("a watcher task ended early")?;
        outcome.with_context(|| format!("opening watch {} of {}", opened + 1, args.watchers))?;
    }
    Ok(tasks)
}

/// Reads one watch stream until told to stop, recording when each measured event arrived.
async fn follow(
    mut body: Incoming,
    names: &Names,
    progress: &Progress,
    mut stop: watch::Receiver<bool>,
) -> Seen {
    let mut seen = Seen {
        deliveries: Vec::new(),
        broken: false,
    };
    let mut buffer = BytesMut::new();
    loop {
        let frame = tokio::select! {
            _ = stop.changed() => return seen,
            frame = body.frame() => frame,
        };
        let at = Instant::now();
        let Some(Ok(frame)) = frame else {
            seen.broken = true;
            return seen;
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        buffer.extend_from_slice(&data);
        while let Some(end) = buffer.iter().position(|&b| b == b'\n') {
            let line = buffer.split_to(end + 1).freeze();
            match names.classify(&event_name(&line)) {
                Seeing::Sync => {
                    progress.synced.fetch_add(1, Ordering::Relaxed);
                }
                Seeing::Event(index) => {
                    seen.deliveries.push((index, at));
                    progress.delivered.fetch_add(1, Ordering::Relaxed);
                }
                Seeing::Other => {}
            }
        }
    }
}

/// The object name of a watch event line, or "" for anything else (errors, bookmarks).
fn event_name(line: &Bytes) -> Cow<'_, str> {
    #[derive(Deserialize)]
    struct Event<'a> {
        #[serde(borrow)]
        object: Object<'a>,
    }
    #[derive(Deserialize)]
    struct Object<'a> {
        #[serde(borrow)]
        metadata: Meta<'a>,
    }
    #[derive(Deserialize)]
    struct Meta<'a> {
        #[serde(borrow, default)]
        name: Cow<'a, str>,
    }
    serde_json::from_slice::<Event>(line).map_or(Cow::Borrowed(""), |e| e.object.metadata.name)
}

/// Polls `done` until it holds or `limit` passes.
async fn wait_for(done: impl Fn() -> bool, limit: Duration) -> Result<()> {
    let deadline = Instant::now() + limit;
    while !done() {
        if Instant::now() >= deadline {
            bail!("timed out after {limit:?}");
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognizes_event_lines() {
        let names = Names {
            prefix: "wabc".into(),
            sync: "wabc-sync".into(),
        };
        let line = Bytes::from_static(
            br#"{"object":{"apiVersion":"v1","data":{"payload":"x"},"kind":"ConfigMap","metadata":{"name":"wabc-17","namespace":"watch"}},"type":"ADDED"}"#,
        );
        assert!(matches!(
            names.classify(&event_name(&line)),
            Seeing::Event(17)
        ));
        let sync =
            Bytes::from_static(br#"{"type":"ADDED","object":{"metadata":{"name":"wabc-sync"}}}"#);
        assert!(matches!(names.classify(&event_name(&sync)), Seeing::Sync));
        let bookmark = Bytes::from_static(br#"{"type":"BOOKMARK","object":{"metadata":{}}}"#);
        assert!(matches!(
            names.classify(&event_name(&bookmark)),
            Seeing::Other
        ));
        assert!(matches!(names.classify("wabcd-1"), Seeing::Other));
    }
}
