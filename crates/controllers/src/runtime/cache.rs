//! A reflector cache with a namespace index. Controllers mostly ask "the pods (services,
//! slices…) of this namespace"; scanning the whole cache for that made every pod event cost
//! O(cluster) and building a 100k-pod cluster quadratic. The index holds the same `Arc`s as
//! the reflector store, so it costs a map entry per object, not a copy.

use std::collections::HashMap;
use std::ops::Deref;
use std::sync::{Arc, RwLock};

use kube::Resource;
use kube::runtime::reflector::{ObjectRef, Store};

type ByName<K> = HashMap<String, Arc<K>>;

/// The reflector store (all of its API through `Deref`) plus objects by namespace.
#[derive(Clone)]
pub struct Cache<K: Resource<DynamicType = ()> + 'static> {
    store: Store<K>,
    by_namespace: Arc<RwLock<HashMap<String, ByName<K>>>>,
}

impl<K: Resource<DynamicType = ()> + Clone + 'static> Cache<K> {
    pub fn new(store: Store<K>) -> Self {
        Cache {
            store,
            by_namespace: Arc::default(),
        }
    }

    /// The objects of namespace `ns` (`""` for cluster-scoped kinds).
    pub fn in_namespace(&self, ns: &str) -> Vec<Arc<K>> {
        let index = self.by_namespace.read().unwrap_or_else(|e| e.into_inner());
        index
            .get(ns)
            .map(|objects| objects.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Records an applied object; returns the store's own `Arc` of it (falling back to `obj`
    /// if the store no longer has it).
    pub(crate) fn applied(&self, obj: K) -> Arc<K> {
        let stored = self
            .store
            .get(&ObjectRef::from_obj(&obj))
            .unwrap_or_else(|| Arc::new(obj));
        let (ns, name) = names(stored.as_ref());
        let mut index = self.by_namespace.write().unwrap_or_else(|e| e.into_inner());
        index.entry(ns).or_default().insert(name, stored.clone());
        stored
    }

    pub(crate) fn deleted(&self, obj: &K) {
        let (ns, name) = names(obj);
        let mut index = self.by_namespace.write().unwrap_or_else(|e| e.into_inner());
        if let Some(objects) = index.get_mut(&ns) {
            objects.remove(&name);
            if objects.is_empty() {
                index.remove(&ns);
            }
        }
    }

    /// After a (re-)list the store holds exactly the listed objects: the index follows.
    pub(crate) fn resynced(&self) {
        let mut fresh: HashMap<String, ByName<K>> = HashMap::new();
        for obj in self.store.state() {
            let (ns, name) = names(obj.as_ref());
            fresh.entry(ns).or_default().insert(name, obj);
        }
        *self.by_namespace.write().unwrap_or_else(|e| e.into_inner()) = fresh;
    }
}

fn names<K: Resource>(obj: &K) -> (String, String) {
    let meta = obj.meta();
    (
        meta.namespace.clone().unwrap_or_default(),
        meta.name.clone().unwrap_or_default(),
    )
}

impl<K: Resource<DynamicType = ()> + 'static> Deref for Cache<K> {
    type Target = Store<K>;

    fn deref(&self) -> &Store<K> {
        &self.store
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::Pod;
    use kube::runtime::reflector;
    use kube::runtime::watcher::Event;

    use super::*;

    fn pod(ns: &str, name: &str) -> Pod {
        let mut p = Pod::default();
        p.metadata.namespace = Some(ns.into());
        p.metadata.name = Some(name.into());
        p
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
    fn the_index_follows_events_and_relists() {
        let (reader, mut writer) = reflector::store::<Pod>();
        let cache = Cache::new(reader);
        for p in [pod("a", "1"), pod("a", "2"), pod("b", "1")] {
            writer.apply_watcher_event(&Event::Apply(p.clone()));
            let stored = cache.applied(p);
            assert!(Arc::ptr_eq(
                &stored,
                &cache.get(&ObjectRef::from_obj(&*stored)).unwrap()
            ));
        }
        assert_eq!(names_in(&cache, "a"), ["1", "2"]);
        writer.apply_watcher_event(&Event::Delete(pod("a", "1")));
        cache.deleted(&pod("a", "1"));
        assert_eq!(names_in(&cache, "a"), ["2"]);
        // A relist that no longer has namespace b.
        writer.apply_watcher_event(&Event::Init);
        writer.apply_watcher_event(&Event::InitApply(pod("a", "3")));
        writer.apply_watcher_event(&Event::InitDone);
        cache.resynced();
        assert_eq!(names_in(&cache, "a"), ["3"]);
        assert!(names_in(&cache, "b").is_empty());
    }
}
