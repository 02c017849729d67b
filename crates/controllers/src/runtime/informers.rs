//! One reflector cache per kind, shared by all controllers, and a broadcast of what changed.
//!
//! Caches are read-only snapshots for planning; writes always go to the API server. After a
//! watch is re-listed (e.g. `410 Gone`), deletions that happened in the gap produce no event,
//! so every re-list is announced as [`Change::Resynced`] and controllers re-check every key.

use std::fmt::Debug;
use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Endpoints, Node, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::cache::{self, Cache};
use crate::cached_pod::CachedPod;
use crate::cached_workload::{CachedDeployment, CachedReplicaSet, CachedStatefulSet};

/// The kinds the controllers cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Pod,
    Service,
    Endpoints,
    EndpointSlice,
    Node,
    ReplicaSet,
    Deployment,
    StatefulSet,
}

/// A changed object, as the cache now holds it (or held it last, for deletions).
#[derive(Debug, Clone)]
pub enum Obj {
    Pod(Arc<CachedPod>),
    Service(Arc<Service>),
    Endpoints(Arc<Endpoints>),
    EndpointSlice(Arc<EndpointSlice>),
    Node(Arc<Node>),
    ReplicaSet(Arc<CachedReplicaSet>),
    Deployment(Arc<CachedDeployment>),
    StatefulSet(Arc<CachedStatefulSet>),
}

/// What the informers broadcast to controllers. Controllers only map these to keys.
#[derive(Debug, Clone)]
pub enum Change {
    Applied(Obj),
    Deleted(Obj),
    /// A (re-)list of this kind finished: objects may have vanished without a `Deleted`.
    Resynced(Kind),
}

/// The shared caches. Cheap to clone (every store is an `Arc` inside).
#[derive(Clone)]
pub struct Informers {
    pub pods: Cache<CachedPod>,
    pub services: Cache<Service>,
    pub endpoints: Cache<Endpoints>,
    pub slices: Cache<EndpointSlice>,
    pub nodes: Cache<Node>,
    pub replicasets: Cache<CachedReplicaSet>,
    pub deployments: Cache<CachedDeployment>,
    pub statefulsets: Cache<CachedStatefulSet>,
    changes: broadcast::Sender<Change>,
}

/// How many changes may queue up for a slow controller before it must resync everything.
const CHANGE_BUFFER: usize = 8192;

impl Informers {
    /// Start one watcher per kind (all namespaces). The caches fill in the background; see
    /// [`Informers::wait_ready`].
    pub fn start(client: &Client, shutdown: &CancellationToken) -> (Self, Vec<JoinHandle<()>>) {
        let (changes, _) = broadcast::channel(CHANGE_BUFFER);
        let mut tasks = Vec::new();
        let mut spawn = |t| tasks.push(t);
        let pods = watch_kind(
            client,
            Kind::Pod,
            Obj::Pod,
            CachedPod::slim,
            &changes,
            shutdown,
            &mut spawn,
        );
        let services = watch_kind(
            client,
            Kind::Service,
            Obj::Service,
            drop_managed_fields,
            &changes,
            shutdown,
            &mut spawn,
        );
        let endpoints = watch_kind(
            client,
            Kind::Endpoints,
            Obj::Endpoints,
            slim_endpoints,
            &changes,
            shutdown,
            &mut spawn,
        );
        let slices = watch_kind(
            client,
            Kind::EndpointSlice,
            Obj::EndpointSlice,
            slim_slice,
            &changes,
            shutdown,
            &mut spawn,
        );
        let nodes = watch_kind(
            client,
            Kind::Node,
            Obj::Node,
            drop_managed_fields,
            &changes,
            shutdown,
            &mut spawn,
        );
        let replicasets = watch_kind(
            client,
            Kind::ReplicaSet,
            Obj::ReplicaSet,
            already_slim,
            &changes,
            shutdown,
            &mut spawn,
        );
        let deployments = watch_kind(
            client,
            Kind::Deployment,
            Obj::Deployment,
            already_slim,
            &changes,
            shutdown,
            &mut spawn,
        );
        let statefulsets = watch_kind(
            client,
            Kind::StatefulSet,
            Obj::StatefulSet,
            already_slim,
            &changes,
            shutdown,
            &mut spawn,
        );
        let informers = Informers {
            pods,
            services,
            endpoints,
            slices,
            nodes,
            replicasets,
            deployments,
            statefulsets,
            changes,
        };
        (informers, tasks)
    }

    /// Subscribe before waiting for readiness so no change is missed in between.
    pub fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.changes.subscribe()
    }

    /// Wait until every cache has completed its first list. Controllers must not act before:
    /// an empty cache would look like "no pods yet" and cause duplicate creates after a restart.
    pub async fn wait_ready(&self) -> crate::Result<()> {
        tokio::try_join!(
            self.pods.wait_until_ready(),
            self.services.wait_until_ready(),
            self.endpoints.wait_until_ready(),
            self.slices.wait_until_ready(),
            self.nodes.wait_until_ready(),
            self.replicasets.wait_until_ready(),
            self.deployments.wait_until_ready(),
            self.statefulsets.wait_until_ready(),
        )
        .map(|_| ())
    }
}

/// managedFields are dropped from every cache, as client-go's informers in
/// kube-controller-manager do: no controller reads them, and as parsed JSON trees they were
/// most of a cached object's memory.
fn drop_managed_fields<K: Resource>(object: &mut K) {
    object.meta_mut().managed_fields = None;
}

/// For the kinds whose cached type slims itself as it is decoded.
fn already_slim<K>(_: &mut K) {}

/// Endpoints as [`drop_managed_fields`] leaves them, each list shrunk to its length: decoding
/// grows a Vec by doubling, so an address list held up to twice its addresses' room.
fn slim_endpoints(endpoints: &mut Endpoints) {
    drop_managed_fields(endpoints);
    endpoints.subsets.iter_mut().for_each(Vec::shrink_to_fit);
    for subset in endpoints.subsets.iter_mut().flatten() {
        for list in [&mut subset.addresses, &mut subset.not_ready_addresses] {
            list.iter_mut().for_each(Vec::shrink_to_fit);
        }
        subset.ports.iter_mut().for_each(Vec::shrink_to_fit);
    }
}

/// An EndpointSlice as [`drop_managed_fields`] leaves it, its lists shrunk as in
/// [`slim_endpoints`].
fn slim_slice(slice: &mut EndpointSlice) {
    drop_managed_fields(slice);
    slice.endpoints.shrink_to_fit();
    for endpoint in &mut slice.endpoints {
        endpoint.addresses.shrink_to_fit();
    }
    slice.ports.iter_mut().for_each(Vec::shrink_to_fit);
}

fn watch_kind<K>(
    client: &Client,
    kind: Kind,
    wrap: fn(Arc<K>) -> Obj,
    slim: fn(&mut K),
    changes: &broadcast::Sender<Change>,
    shutdown: &CancellationToken,
    spawn: &mut impl FnMut(JoinHandle<()>),
) -> Cache<K>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    let (cache, mut writer) = cache::cache();
    let api: Api<K> = Api::all(client.clone());
    let changes = changes.clone();
    let shutdown = shutdown.clone();
    spawn(tokio::spawn(async move {
        // Objects are cached without what no controller reads (`slim`).
        let stream = watcher(api, watcher::Config::default())
            .modify(slim)
            .default_backoff();
        let mut stream = std::pin::pin!(stream);
        loop {
            let event = tokio::select! {
                _ = shutdown.cancelled() => return,
                e = stream.next() => e,
            };
            let event = match event {
                None => return,
                Some(Err(e)) => {
                    tracing::warn!(?kind, error = %e, "watch failed; retrying with backoff");
                    continue;
                }
                Some(Ok(event)) => event,
            };
            // Each event is applied to the cache before it is announced, so a controller
            // woken by a change always reads a cache that already contains it.
            let change = match event {
                watcher::Event::Apply(o) => Change::Applied(wrap(writer.applied(o))),
                watcher::Event::Delete(o) => {
                    writer.deleted(&o);
                    Change::Deleted(wrap(Arc::new(o)))
                }
                watcher::Event::InitDone => {
                    writer.listed();
                    Change::Resynced(kind)
                }
                // A re-list is swapped in at `InitDone`, so its objects are announced all at
                // once by `Resynced`.
                watcher::Event::Init => {
                    writer.listing();
                    continue;
                }
                watcher::Event::InitApply(o) => {
                    writer.listed_one(o);
                    continue;
                }
            };
            // No subscriber yet is fine: controllers resync on start.
            let _ = changes.send(change);
        }
    }));
    cache
}
