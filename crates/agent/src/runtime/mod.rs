//! The reconcile loops, over kube-rs: one pod controller (scheduling unbound pods, simulating
//! the kubelet for pods on our nodes), re-triggered by node changes, and one node loop
//! (registration, status heartbeats, Leases). All decisions come from the pure modules; this
//! layer reads caches, writes through the API and retries.

mod events;
mod kubelet;
mod nodes;
mod pod_index;
mod scheduler;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::runtime::controller::{self, Action, Controller};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, ResourceExt};
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::pod_cache::CachedPod;

/// Shared by every reconcile.
pub(crate) struct Ctx {
    client: Client,
    config: Config,
    nodes: Store<Node>,
    /// Names of the nodes this agent simulates.
    ours: BTreeSet<String>,
    scheduler: Mutex<scheduler::State>,
    /// Bumped whenever a node's scheduling fingerprint changes (or a node appears), after the
    /// node cache holds the change: the scheduler's per-node facts are rebuilt when it moves.
    node_generation: Arc<AtomicU64>,
    ipam: Mutex<kubelet::IpamState>,
    /// Pods per node and IPs in use, kept per watch event.
    index: Arc<Mutex<pod_index::PodIndex>>,
    /// Turn `true` once the pod and the node cache hold their first list. Set from the
    /// watch streams, not kube-runtime's `Store::wait_until_ready`: that wakes only the last
    /// of several concurrent waiters (one oneshot receiver polled by all), and the controller
    /// itself waits on the pod cache, so the first reconciles of a burst hung forever.
    pods_listed: tokio::sync::watch::Receiver<bool>,
    nodes_listed: tokio::sync::watch::Receiver<bool>,
    /// Pod uid → the resourceVersion our last write replaced. Until the cache shows a newer
    /// version, a reconcile would plan from stale data (and repeat events), so it waits.
    written: Mutex<HashMap<String, (String, Instant)>>,
    /// Ends waits for the caches: once it fires, the controller stops polling the watch
    /// streams, so a cache that had not listed yet never would, and a reconcile (or the
    /// heartbeat) waiting for it would keep the agent from ever stopping.
    shutdown: CancellationToken,
}

/// Pod reconciles in flight at once. kube-runtime's default is unbounded: after a restart (or
/// a re-list) every pod on our nodes is reconciled at once, each reading its pod and maybe
/// writing its status over its own HTTP/1.1 connection, and at 10k pods those connections'
/// buffers alone held ~400 MB. Each reconcile waits mostly on the API server's fsync, so a few
/// dozen in flight keep up with it.
const RECONCILE_CONCURRENCY: u16 = 64;

/// How long running reconciles may take to finish once the agent is told to stop.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// How long to trust that our own write will show up in the cache.
const WRITE_VISIBLE_WITHIN: Duration = Duration::from_secs(5);

impl Ctx {
    fn note_write(&self, pod: &Pod) {
        if let (Some(uid), Some(rv)) = (pod.uid(), pod.resource_version()) {
            let mut written = lock(&self.written);
            // Entries of pods deleted before their next version showed up would stay forever.
            written.retain(|_, (_, at)| at.elapsed() < WRITE_VISIBLE_WITHIN);
            written.insert(uid, (rv, Instant::now()));
        }
    }

    /// Waits until both caches hold their first list; fails if the agent stops first.
    async fn caches_ready(&self) -> Result<()> {
        let listed = async {
            for listed in [&self.pods_listed, &self.nodes_listed] {
                listed
                    .clone()
                    .wait_for(|listed| *listed)
                    .await
                    .map_err(|_| Error::CacheClosed)?;
            }
            Ok(())
        };
        tokio::select! {
            listed = listed => listed,
            () = self.shutdown.cancelled() => Err(Error::CacheClosed),
        }
    }

    /// The whole pod behind a cached (slim) one, read from the API without its managedFields;
    /// `None` when it is gone or a new pod of the same name has replaced it.
    async fn fetch_whole(&self, pod: &CachedPod) -> Result<Option<Pod>> {
        let api: Api<Pod> =
            Api::namespaced(self.client.clone(), &pod.namespace().unwrap_or_default());
        Ok(api
            .get_opt(&pod.name_any())
            .await?
            .filter(|whole| whole.uid() == pod.uid())
            .map(|mut whole| {
                whole.metadata.managed_fields = None;
                whole
            }))
    }

    /// Whether `pod` is older than what we last wrote.
    fn is_stale(&self, pod: &CachedPod) -> bool {
        let (Some(uid), Some(rv)) = (pod.uid(), pod.resource_version()) else {
            return false;
        };
        let mut written = lock(&self.written);
        match written.get(&uid) {
            Some((old, at)) if *old == rv && at.elapsed() < WRITE_VISIBLE_WITHIN => true,
            Some(_) => {
                written.remove(&uid);
                false
            }
            None => false,
        }
    }
}

/// A poisoned lock only means another reconcile panicked; the maps stay usable.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Run the agent until `shutdown`.
pub async fn run(config: Config, client: Client, shutdown: CancellationToken) -> Result<()> {
    if config.nodes == 0 {
        tracing::info!("node agent off (--nodes 0)");
        return Ok(());
    }
    nodes::register(&client, &config).await?;

    let (node_reader, node_writer) = reflector::store();
    let node_generation = Arc::new(AtomicU64::new(0));
    // Nodes whose scheduling fingerprint changed in the event being delivered: the pods they
    // affect are requeued once the event reaches the controller (below).
    let changed_nodes: Arc<Mutex<HashSet<String>>> = Arc::default();
    let (nodes_listed, nodes_listed_rx) = tokio::sync::watch::channel(false);
    // Without managedFields, as in kube-controller-manager's informers: nothing here reads
    // them, and they were most of a cached pod's memory.
    let node_stream = watcher(Api::<Node>::all(client.clone()), watcher::Config::default())
        .modify(|n| n.metadata.managed_fields = None)
        .reflect(node_writer)
        .default_backoff()
        .inspect({
            let (generation, changed_nodes) = (node_generation.clone(), changed_nodes.clone());
            let mut fingerprints: HashMap<String, u64> = HashMap::new();
            move |event| {
                let changed = match event {
                    Ok(watcher::Event::Apply(n) | watcher::Event::InitApply(n)) => {
                        let fingerprint = nodes::scheduling_fingerprint(n);
                        let name = n.name_any();
                        let changed =
                            fingerprints.insert(name.clone(), fingerprint) != Some(fingerprint);
                        if changed {
                            lock(&changed_nodes).insert(name);
                        }
                        changed
                    }
                    Ok(watcher::Event::Delete(n)) => {
                        fingerprints.remove(&n.name_any());
                        true
                    }
                    Ok(watcher::Event::InitDone) => {
                        nodes_listed.send_replace(true);
                        true
                    }
                    Ok(watcher::Event::Init) | Err(_) => false,
                };
                if changed {
                    generation.fetch_add(1, Ordering::Release);
                }
            }
        })
        .applied_objects();
    // The pod index is fed from the same watch as the cache, right after the reflector
    // applies each event.
    let (pod_reader, pod_writer) = reflector::store();
    let index = Arc::new(Mutex::new(pod_index::PodIndex::default()));
    let (feed, store_view) = (index.clone(), pod_reader.clone());
    // A re-list (after `410 Gone`) names each pod while the cache still holds the old list;
    // kube-runtime skips a pod it cannot find in the cache, so a pod created during the
    // re-list would never be reconciled. Once the new list is in the cache, every pod is.
    let (relisted, relists) = tokio::sync::mpsc::unbounded_channel::<()>();
    let (pods_listed, pods_listed_rx) = tokio::sync::watch::channel(false);
    // Slim pods (see `pod_cache`): the kubelet path reads the one pod it works on from the API.
    let pod_stream = watcher(
        Api::<CachedPod>::all(client.clone()),
        watcher::Config::default(),
    )
    .modify(CachedPod::slim)
    .reflect(pod_writer)
    .default_backoff()
    .inspect(move |event| {
        if let Ok(event) = event {
            lock(&feed).observe(event, || {
                store_view.state().iter().map(|p| (**p).clone()).collect()
            });
            if matches!(event, watcher::Event::InitDone) {
                pods_listed.send_replace(true);
                let _ = relisted.send(());
            }
        }
    })
    .touched_objects();
    let controller = Controller::for_stream(pod_stream, pod_reader.clone())
        .with_config(controller::Config::default().concurrency(RECONCILE_CONCURRENCY))
        .reconcile_all_on(tokio_stream::wrappers::UnboundedReceiverStream::new(
            relists,
        ));
    let ctx = Arc::new(Ctx {
        client: client.clone(),
        ours: config.node_names().into_iter().collect(),
        config,
        nodes: node_reader,
        scheduler: Mutex::new(scheduler::State::default()),
        node_generation: node_generation.clone(),
        ipam: Mutex::new(kubelet::IpamState::default()),
        index: index.clone(),
        pods_listed: pods_listed_rx.clone(),
        nodes_listed: nodes_listed_rx,
        written: Mutex::new(HashMap::new()),
        shutdown: shutdown.clone(),
    });

    let pods_listed_at_stop = pods_listed_rx;
    let heartbeat = tokio::spawn(nodes::heartbeat_loop(ctx.clone(), shutdown.clone()));
    let pods = controller
        // A node change (readiness, labels, a new node) can change every pod on it and
        // whether unbound pods fit anywhere. Status reports that change none of that (the
        // periodic heartbeats) requeue nothing.
        .watches_stream(node_stream, move |node: Node| {
            let name = node.name_any();
            if !lock(&changed_nodes).remove(&name) {
                return Vec::new();
            }
            lock(&index).affected_by_node(&name)
        })
        .graceful_shutdown_on(shutdown.clone().cancelled_owned())
        .run(reconcile, error_policy, ctx)
        .for_each(|result| async move {
            // Failed reconciles are retried by `error_policy`; this also shows the ones
            // kube-runtime could not start (e.g. a pod missing from the cache).
            if let Err(e) = result {
                tracing::debug!(error = %e, "pod reconcile did not run or failed");
            }
        });
    // kube-runtime's applier first waits for the pod cache's initial list, and a graceful
    // shutdown stops the watch feeding it: stopped before that list, the controller would
    // wait forever (a server stopped right after it started never exited). Reconciles are
    // idempotent, so past a grace period they are dropped.
    tokio::select! {
        () = pods => {}
        () = async {
            shutdown.cancelled().await;
            if !*pods_listed_at_stop.borrow() {
                // Nothing was reconciled yet (reconciles wait for the caches).
                return;
            }
            tokio::time::sleep(SHUTDOWN_GRACE).await;
            tracing::warn!(
                grace = ?SHUTDOWN_GRACE,
                "pod reconciles still running at shutdown were dropped"
            );
        } => {}
    }
    shutdown.cancel();
    let _ = heartbeat.await;
    Ok(())
}

async fn reconcile(pod: Arc<CachedPod>, ctx: Arc<Ctx>) -> Result<Action> {
    // Decisions (IPs in use, pods per node) need the whole picture: never act on a partial
    // initial list.
    ctx.caches_ready().await?;
    if ctx.is_stale(&pod) {
        return Ok(Action::requeue(Duration::from_millis(200)));
    }
    let node = pod
        .spec
        .as_ref()
        .and_then(|s| s.node_name.clone())
        .unwrap_or_default();
    if node.is_empty() {
        scheduler::schedule(&pod, &ctx).await
    } else if ctx.ours.contains(&node) {
        match ctx.fetch_whole(&pod).await? {
            Some(whole) => kubelet::sync(&whole, &node, &ctx).await,
            None => Ok(Action::await_change()),
        }
    } else {
        Ok(Action::await_change())
    }
}

fn error_policy(pod: Arc<CachedPod>, error: &Error, _ctx: Arc<Ctx>) -> Action {
    tracing::debug!(pod = %pod.name_any(), %error, "pod reconcile failed; retrying");
    Action::requeue(Duration::from_secs(1))
}

/// An API error's HTTP code.
fn api_code(e: &kube::Error) -> Option<u16> {
    match e {
        kube::Error::Api(status) => Some(status.code),
        _ => None,
    }
}
