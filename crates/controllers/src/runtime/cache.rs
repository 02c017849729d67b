//! The controllers' watch cache of one kind: objects by namespace and name, filled by one
//! watch. Controllers mostly ask "the pods (services, slices…) of this namespace"; scanning the
//! whole cache for that made every pod event cost O(cluster) and building a 100k-pod cluster
//! quadratic.
//!
//! It replaces kube-runtime's reflector store rather than indexing beside it: the store keys
//! each object by an `ObjectRef` holding copies of its name, namespace, uid and
//! resourceVersion, which beside this map cost a second entry and four strings per object
//! (tens of MB at 100k pods). Like the reflector, a re-list is collected aside and swapped in
//! whole when it completes, so readers never see half a list.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use kube::Resource;
use tokio::sync::watch;

type ByName<K> = HashMap<String, Arc<K>>;
type ByNamespace<K> = HashMap<String, ByName<K>>;

/// The read side, cheap to clone.
pub struct Cache<K> {
    objects: Arc<RwLock<ByNamespace<K>>>,
    ready: watch::Receiver<bool>,
}

impl<K> Clone for Cache<K> {
    fn clone(&self) -> Self {
        Cache {
            objects: Arc::clone(&self.objects),
            ready: self.ready.clone(),
        }
    }
}

/// The write side, owned by the kind's watch task. Dropping it before the first list
/// completes makes [`Cache::wait_until_ready`] fail.
pub struct CacheWriter<K> {
    objects: Arc<RwLock<ByNamespace<K>>>,
    ready: watch::Sender<bool>,
    /// A re-list in progress: what it has delivered so far.
    relisting: Option<ByNamespace<K>>,
}

/// An empty cache and its writer.
pub fn cache<K>() -> (Cache<K>, CacheWriter<K>) {
    let objects = Arc::default();
    let (ready, ready_rx) = watch::channel(false);
    (
        Cache {
            objects: Arc::clone(&objects),
            ready: ready_rx,
        },
        CacheWriter {
            objects,
            ready,
            relisting: None,
        },
    )
}

impl<K: Resource> Cache<K> {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, ByNamespace<K>> {
        self.objects.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// The objects of namespace `ns` (`""` for cluster-scoped kinds).
    pub fn in_namespace(&self, ns: &str) -> Vec<Arc<K>> {
        self.read()
            .get(ns)
            .map(|objects| objects.values().cloned().collect())
            .unwrap_or_default()
    }

    /// The object `name` of namespace `ns` (`""` for cluster-scoped kinds).
    pub fn get(&self, ns: &str, name: &str) -> Option<Arc<K>> {
        self.read().get(ns)?.get(name).cloned()
    }

    /// Every object.
    pub fn all(&self) -> Vec<Arc<K>> {
        self.read()
            .values()
            .flat_map(|objects| objects.values().cloned())
            .collect()
    }

    /// Waits for the first complete list. Fails if the watch task ended before it.
    pub async fn wait_until_ready(&self) -> crate::Result<()> {
        let mut ready = self.ready.clone();
        ready
            .wait_for(|ready| *ready)
            .await
            .map(|_| ())
            .map_err(|_| crate::Error::NotReady)
    }
}

impl<K: Resource> CacheWriter<K> {
    /// Records an added or changed object; returns the cached `Arc` of it.
    pub fn applied(&mut self, obj: K) -> Arc<K> {
        let obj = Arc::new(obj);
        let (ns, name) = names(obj.as_ref());
        let mut objects = self.write();
        objects
            .entry(ns)
            .or_default()
            .insert(name, Arc::clone(&obj));
        obj
    }

    pub fn deleted(&mut self, obj: &K) {
        let (ns, name) = names(obj);
        let mut objects = self.write();
        if let Some(in_ns) = objects.get_mut(&ns) {
            in_ns.remove(&name);
            if in_ns.is_empty() {
                objects.remove(&ns);
            }
        }
    }

    /// A (re-)list begins: its objects are collected aside until [`CacheWriter::listed`].
    pub fn listing(&mut self) {
        self.relisting = Some(HashMap::new());
    }

    /// One object of the list in progress.
    pub fn listed_one(&mut self, obj: K) {
        let (ns, name) = names(&obj);
        self.relisting
            .get_or_insert_default()
            .entry(ns)
            .or_default()
            .insert(name, Arc::new(obj));
    }

    /// The list is complete: it replaces the cache's contents whole.
    pub fn listed(&mut self) {
        let listed = self.relisting.take().unwrap_or_default();
        let replaced = std::mem::replace(&mut *self.write(), listed);
        // Dropped after the lock is released: freeing a large list need not block readers.
        drop(replaced);
        self.ready.send_replace(true);
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, ByNamespace<K>> {
        self.objects.write().unwrap_or_else(PoisonError::into_inner)
    }
}

fn names<K: Resource>(obj: &K) -> (String, String) {
    let meta = obj.meta();
    (
        meta.namespace.clone().unwrap_or_default(),
        meta.name.clone().unwrap_or_default(),
    )
}

#[cfg(test)]
mod tests {
    use futures::FutureExt;
    use k8s_openapi::api::core::v1::Pod;
    use kube::runtime::watcher::Event;

    use super::*;

    fn pod(ns: &str, name: &str) -> Pod {
        let mut p = Pod::default();
        p.metadata.namespace = Some(ns.into());
        p.metadata.name = Some(name.into());
        p
    }

    /// What the watch task does with each event.
    fn feed(writer: &mut CacheWriter<Pod>, event: Event<Pod>) {
        match event {
            Event::Apply(obj) => {
                writer.applied(obj);
            }
            Event::Delete(obj) => writer.deleted(&obj),
            Event::Init => writer.listing(),
            Event::InitApply(obj) => writer.listed_one(obj),
            Event::InitDone => writer.listed(),
        }
    }

    fn names_in(cache: &Cache<Pod>, ns: &str) -> Vec<String> {
        let mut names: Vec<String> = cache
            .in_namespace(ns)
            .iter()
            .map(|p| p.metadata.name.clone().unwrap())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn the_cache_follows_events_and_swaps_in_relists_whole() {
        let (cache, mut writer) = super::cache::<Pod>();
        assert!(cache.wait_until_ready().now_or_never().is_none());
        feed(&mut writer, Event::Init);
        feed(&mut writer, Event::InitApply(pod("a", "1")));
        assert!(
            names_in(&cache, "a").is_empty(),
            "a list shows only once done"
        );
        feed(&mut writer, Event::InitDone);
        assert!(matches!(
            cache.wait_until_ready().now_or_never(),
            Some(Ok(()))
        ));
        for p in [pod("a", "2"), pod("b", "1")] {
            let stored = writer.applied(p);
            let name = stored.metadata.name.as_deref().unwrap();
            let ns = stored.metadata.namespace.as_deref().unwrap();
            assert!(Arc::ptr_eq(&stored, &cache.get(ns, name).unwrap()));
        }
        assert_eq!(names_in(&cache, "a"), ["1", "2"]);
        assert_eq!(cache.all().len(), 3);
        feed(&mut writer, Event::Delete(pod("a", "1")));
        assert_eq!(names_in(&cache, "a"), ["2"]);
        // A relist that no longer has namespace b.
        feed(&mut writer, Event::Init);
        feed(&mut writer, Event::InitApply(pod("a", "3")));
        assert_eq!(
            names_in(&cache, "b"),
            ["1"],
            "the old list serves until the new one is done"
        );
        feed(&mut writer, Event::InitDone);
        assert_eq!(names_in(&cache, "a"), ["3"]);
        assert!(names_in(&cache, "b").is_empty());
        assert!(cache.get("b", "1").is_none());
    }

    #[test]
    fn waiting_fails_when_the_writer_is_gone_before_a_list() {
        let (cache, writer) = super::cache::<Pod>();
        drop(writer);
        assert!(matches!(
            cache.wait_until_ready().now_or_never(),
            Some(Err(crate::Error::NotReady))
        ));
    }
}
