//! Feeds the zone view from the API with kube-rs watchers: Services, discovery.k8s.io/v1
//! EndpointSlices, Namespaces, and Pods only in `pods verified` mode. One task owns the working
//! [`ZoneView`], applies every event to it incrementally and publishes immutable snapshots
//! through a `watch` channel. It only reads the API.
//!
//! Consistency rules:
//! - A (re)list is applied object by object as its pages arrive, remembering each key, and at
//!   its `InitDone` whatever it did not mention is swept ([`ZoneView::sweep_services`] and
//!   friends). So a relist after a watch error or a `410 Gone` never publishes a view where
//!   existing names are missing (no false NXDOMAIN), and no list is ever held as typed objects:
//!   each one is dropped once indexed, which keeps the memory of a large first list to one
//!   page of the watcher ([`LIST_PAGE`] objects).
//! - The view is marked synced only when every watched kind has completed its first list;
//!   nothing is published before that, so cluster names are SERVFAIL until then (and the
//!   first load copies nothing: no snapshot shares the maps it builds).
//!
//! Cost: the view's maps are copy-on-write ([`crate::cow`]), so a publish is a shallow clone
//! (about 0.5 ms at 100k Services in 1,000 namespaces, measured with `examples/qps.rs`, release
//! build) and the first change after it copies only the namespace map and PTR shards it
//! touches (about 3 ms). Events are still batched: everything already queued is applied before
//! one publish, and publishes are spaced by a few times the last clone's cost (at most
//! [`MAX_PUBLISH_DELAY`]), which now keeps a change visible within about a millisecond.
//! Each snapshot starts with an empty pre-encoded answer cache ([`crate::precomputed`]).

use std::collections::HashSet;
use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use futures::stream::{BoxStream, SelectAll};
use futures::{FutureExt, StreamExt};
use k8s_openapi::api::core::v1::{Namespace, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event, watcher};
use kube::{Api, Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::config::{Config, PodsMode};
use crate::error::{Error, Result};
use crate::zone::{Key, ZoneView};

/// Most events applied before a publish, so a flood cannot starve the snapshot forever.
const MAX_BATCH: usize = 10_000;
/// Objects per page of a (re)list: each page is held as typed objects until applied, and
/// whatever it leaves behind in the allocator shows in the resident size after a big first
/// list (kube-rs's default is 500).
const LIST_PAGE: u32 = 100;
/// Publishes are spaced by this many times the cost of the last clone (see the module docs).
const CLONE_COST_FACTOR: u32 = 4;
/// Upper bound on that spacing: a change is visible within this even at huge scale.
const MAX_PUBLISH_DELAY: Duration = Duration::from_millis(500);

/// One event of one watched kind. Not boxed: each event is moved once from the stream into
/// the view, so boxing would only add an allocation per event.
#[allow(clippy::large_enum_variant)]
enum Change {
    Namespace(Event<Namespace>),
    Service(Event<Service>),
    Slice(Event<EndpointSlice>),
    Pod(Event<Pod>),
}

/// Per-kind relist state: the keys a relist in progress has mentioned so far.
#[derive(Default)]
struct Relist {
    /// `None` during the first list: the view holds nothing of the kind yet, so there is
    /// nothing to sweep and no need to hold a key per object.
    seen: Option<HashSet<Key>>,
    listed_before: bool,
    synced: bool,
}

/// The applying half: pure with respect to I/O, so it is unit-tested without an API server.
pub struct Feeder {
    view: ZoneView,
    namespaces: Relist,
    services: Relist,
    slices: Relist,
    /// `None` unless pods are watched (`pods verified`).
    pods: Option<Relist>,
}

impl Feeder {
    pub fn new(config: &Config) -> Self {
        Self {
            view: ZoneView::unsynced(config),
            namespaces: Relist::default(),
            services: Relist::default(),
            slices: Relist::default(),
            pods: (config.pods == PodsMode::Verified).then(Relist::default),
        }
    }

    pub fn view(&self) -> &ZoneView {
        &self.view
    }

    fn apply(&mut self, change: Change) {
        let v = &mut self.view;
        match change {
            Change::Namespace(ev) => step(
                &mut self.namespaces,
                ev,
                v,
                ZoneView::apply_namespace,
                |v, n| v.delete_namespace(&n.name_any()),
                ZoneView::sweep_namespaces,
            ),
            Change::Service(ev) => step(
                &mut self.services,
                ev,
                v,
                ZoneView::apply_service,
                |v, s| v.delete_service(&s.namespace().unwrap_or_default(), &s.name_any()),
                ZoneView::sweep_services,
            ),
            Change::Slice(ev) => step(
                &mut self.slices,
                ev,
                v,
                ZoneView::apply_slice,
                |v, s| v.delete_slice(&s.namespace().unwrap_or_default(), &s.name_any()),
                ZoneView::sweep_slices,
            ),
            Change::Pod(ev) => {
                if let Some(pods) = &mut self.pods {
                    step(
                        pods,
                        ev,
                        v,
                        ZoneView::apply_pod,
                        |v, p| v.delete_pod(&p.namespace().unwrap_or_default(), &p.name_any()),
                        ZoneView::sweep_pods,
                    );
                }
            }
        }
        if !self.view.synced() && self.all_listed() {
            self.view.mark_synced();
        }
    }

    fn all_listed(&self) -> bool {
        self.namespaces.synced
            && self.services.synced
            && self.slices.synced
            && self.pods.as_ref().is_none_or(|p| p.synced)
    }
}

/// Applies one watcher event of a kind: live events at once, and list items too (their keys
/// remembered), with the sweep of what the list did not mention at its end.
fn step<K: Resource>(
    relist: &mut Relist,
    ev: Event<K>,
    view: &mut ZoneView,
    apply: fn(&mut ZoneView, &K),
    delete: fn(&mut ZoneView, &K),
    sweep: fn(&mut ZoneView, &HashSet<Key>),
) {
    match ev {
        Event::Apply(k) => apply(view, &k),
        Event::Delete(k) => delete(view, &k),
        Event::Init => {
            relist.seen = relist.listed_before.then(HashSet::new);
            relist.listed_before = true;
        }
        Event::InitApply(k) => {
            if let Some(seen) = &mut relist.seen {
                seen.insert(Key::of(k.meta()));
            }
            apply(view, &k);
        }
        Event::InitDone => {
            if let Some(seen) = relist.seen.take() {
                sweep(view, &seen);
            }
            relist.synced = true;
        }
    }
}

fn watch_kind<K>(
    client: &Client,
    kind: &'static str,
    wrap: fn(Event<K>) -> Change,
) -> BoxStream<'static, (&'static str, std::result::Result<Change, watcher::Error>)>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + 'static,
{
    let config = watcher::Config::default().page_size(LIST_PAGE);
    watcher(Api::<K>::all(client.clone()), config)
        // Errors (including 410 Gone) are retried with backoff; the watcher relists by itself.
        .default_backoff()
        .map(move |r| (kind, r.map(wrap)))
        .boxed()
}

/// Watches the API and publishes a new snapshot into `tx` after each batch of changes, until
/// `shutdown`. `tx` should start with [`ZoneView::unsynced`].
pub async fn run(
    client: Client,
    config: Config,
    tx: watch::Sender<Arc<ZoneView>>,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    let mut streams: SelectAll<_> = SelectAll::new();
    streams.push(watch_kind::<Namespace>(
        &client,
        "Namespace",
        Change::Namespace,
    ));
    streams.push(watch_kind::<Service>(&client, "Service", Change::Service));
    streams.push(watch_kind::<EndpointSlice>(
        &client,
        "EndpointSlice",
        Change::Slice,
    ));
    if config.pods == PodsMode::Verified {
        streams.push(watch_kind::<Pod>(&client, "Pod", Change::Pod));
    }
    let mut feeder = Feeder::new(&config);
    let mut published = (feeder.view.generation(), feeder.view.synced());
    let mut next_publish = Instant::now();
    tokio::pin!(shutdown);
    loop {
        let dirty =
            feeder.view.synced() && (feeder.view.generation(), feeder.view.synced()) != published;
        let first = tokio::select! {
            () = &mut shutdown => return Ok(()),
            ev = streams.next() => Some(ev),
            () = tokio::time::sleep_until(next_publish), if dirty => None,
        };
        if let Some(ev) = first {
            let Some(ev) = ev else {
                return Err(Error::WatchEnded("API"));
            };
            handle(&mut feeder, ev);
            // Everything already queued joins this batch: one clone for all of it.
            let mut n = 1;
            while n < MAX_BATCH {
                match streams.next().now_or_never() {
                    Some(Some(ev)) => handle(&mut feeder, ev),
                    _ => break,
                }
                n += 1;
            }
        }
        let state = (feeder.view.generation(), feeder.view.synced());
        // Nothing before the first sync: the unsynced view in `tx` answers SERVFAIL.
        if state != published && state.1 && Instant::now() >= next_publish {
            let started = Instant::now();
            tx.send_replace(Arc::new(feeder.view.clone()));
            let cost = started.elapsed();
            next_publish = Instant::now() + (cost * CLONE_COST_FACTOR).min(MAX_PUBLISH_DELAY);
            if !published.1 && state.1 {
                tracing::info!(services = feeder.view.service_count(), "DNS zone synced");
            }
            published = state;
        }
    }
}

fn handle(feeder: &mut Feeder, ev: (&'static str, std::result::Result<Change, watcher::Error>)) {
    match ev {
        (_, Ok(change)) => feeder.apply(change),
        (kind, Err(err)) => tracing::warn!(kind, %err, "watch error; retrying"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures;

    fn svc(name: &str) -> Service {
        serde_json::from_value(serde_json::json!({
            "metadata": {"namespace": "demo", "name": name},
            "spec": {"clusterIP": "10.96.7.7", "clusterIPs": ["10.96.7.7"], "ports": [{"port": 80}]},
        }))
        .unwrap()
    }

    fn list_all(f: &mut Feeder) {
        f.apply(Change::Namespace(Event::Init));
        for n in fixtures::namespaces() {
            f.apply(Change::Namespace(Event::InitApply(n)));
        }
        f.apply(Change::Namespace(Event::InitDone));
        f.apply(Change::Service(Event::Init));
        for s in fixtures::services() {
            f.apply(Change::Service(Event::InitApply(s)));
        }
        f.apply(Change::Service(Event::InitDone));
        assert!(!f.view().synced(), "slices are not listed yet");
        f.apply(Change::Slice(Event::Init));
        for s in fixtures::slices() {
            f.apply(Change::Slice(Event::InitApply(s)));
        }
        f.apply(Change::Slice(Event::InitDone));
    }

    #[test]
    fn synced_only_after_every_kind_listed() {
        let mut f = Feeder::new(&Config::default());
        list_all(&mut f);
        assert!(f.view().synced());
        assert!(f.view().service("demo", "web").is_some());
        assert_eq!(f.view().ready_endpoints("demo", "nginx").len(), 2);

        // Verified pods add a fourth kind to wait for.
        let mut f = Feeder::new(&Config {
            pods: PodsMode::Verified,
            ..Config::default()
        });
        list_all(&mut f);
        assert!(!f.view().synced());
        f.apply(Change::Pod(Event::Init));
        f.apply(Change::Pod(Event::InitDone));
        assert!(f.view().synced());
    }

    #[test]
    fn relist_sweeps_at_init_done_and_keeps_names_meanwhile() {
        let mut f = Feeder::new(&Config::default());
        list_all(&mut f);
        f.apply(Change::Service(Event::Apply(svc("extra"))));
        assert!(f.view().service("demo", "extra").is_some());
        let generation = f.view().generation();

        // A relist (after 410 Gone) that no longer has "extra" and has "late".
        f.apply(Change::Service(Event::Init));
        for s in fixtures::services() {
            f.apply(Change::Service(Event::InitApply(s)));
            // Until InitDone the old state is intact.
            assert!(f.view().service("demo", "extra").is_some());
            assert!(f.view().service("demo", "web").is_some());
        }
        assert_eq!(
            f.view().generation(),
            generation,
            "re-listing unchanged objects changes nothing"
        );
        f.apply(Change::Service(Event::InitApply(svc("late"))));
        // Listed objects are applied at once; only the sweep waits for the end of the list.
        assert!(f.view().service("demo", "late").is_some());
        assert!(f.view().service("demo", "extra").is_some());
        f.apply(Change::Service(Event::InitDone));
        assert!(f.view().service("demo", "extra").is_none());
        assert!(f.view().service("demo", "late").is_some());
        assert!(f.view().service("demo", "web").is_some());
        assert!(f.view().synced());
    }

    #[test]
    fn first_list_restarted_midway_still_sweeps() {
        let mut f = Feeder::new(&Config::default());
        f.apply(Change::Service(Event::Init));
        f.apply(Change::Service(Event::InitApply(svc("gone"))));
        // The watch failed mid-list and lists again; "gone" was deleted meanwhile.
        f.apply(Change::Service(Event::Init));
        f.apply(Change::Service(Event::InitApply(svc("kept"))));
        f.apply(Change::Service(Event::InitDone));
        assert!(f.view().service("demo", "gone").is_none());
        assert!(f.view().service("demo", "kept").is_some());
    }

    #[test]
    fn unchanged_relist_keeps_the_serial() {
        let mut f = Feeder::new(&Config::default());
        list_all(&mut f);
        let generation = f.view().generation();
        f.apply(Change::Slice(Event::Init));
        for s in fixtures::slices() {
            f.apply(Change::Slice(Event::InitApply(s)));
        }
        f.apply(Change::Slice(Event::InitDone));
        f.apply(Change::Service(Event::Apply(
            fixtures::services().remove(0),
        )));
        assert_eq!(f.view().generation(), generation);
        f.apply(Change::Service(Event::Delete(
            fixtures::services().remove(0),
        )));
        assert_ne!(f.view().generation(), generation);
    }
}
