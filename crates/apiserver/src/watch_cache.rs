//! A watch-fed copy of the store for reads at `resourceVersion=0`, like kube-apiserver's watch
//! cache: such a read asks for any recent state rather than the latest, so it is answered from
//! memory and keeps being answered while etcd has lost quorum (reflectors start with these
//! lists, so clients can still start while etcd is down). Every other read stays a quorum read.
//!
//! One list of all objects, then one watch from its revision; each event updates the copy. When
//! the watch ends (etcd unreachable) the copy keeps serving as it was and the watch is opened
//! again from the last revision seen; when that revision is compacted, everything is listed
//! again. Until the first list has loaded, reads go to the store.
//!
//! Used with etcd only: the embedded store is in-process and always as available as the server.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::RwLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use store::{EventKind, KeyValue, ListOptions, ListResult, Store, WatchStream};
use tokio_util::sync::CancellationToken;

/// Every object key starts with it.
const ROOT: &str = "/registry/";

/// Wait between tries to list or watch again after a failure.
const RETRY: Duration = Duration::from_secs(1);

#[derive(Default)]
struct Copy {
    items: BTreeMap<String, KeyValue>,
    revision: i64,
}

/// The copy, as a read-only [`Store`] for a [`Registry`](crate::registry::Registry) that serves
/// `resourceVersion=0` reads.
#[derive(Default)]
pub struct WatchCache {
    copy: RwLock<Copy>,
    loaded: AtomicBool,
}

impl WatchCache {
    /// Whether the first list has loaded: before that, reads must go to the store.
    pub fn loaded(&self) -> bool {
        self.loaded.load(Ordering::Acquire)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Copy> {
        self.copy.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Copy> {
        self.copy.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Replaces the copy with a full list; returns its revision.
    async fn relist(&self, store: &dyn Store) -> store::Result<i64> {
        let list = store.list(ROOT, ListOptions::default()).await?;
        let mut copy = self.write();
        copy.items = list
            .items
            .into_iter()
            .map(|kv| (kv.key.clone(), kv))
            .collect();
        copy.revision = list.revision;
        drop(copy);
        self.loaded.store(true, Ordering::Release);
        Ok(list.revision)
    }

    fn apply(&self, event: store::WatchEvent) {
        let mut copy = self.write();
        copy.revision = copy.revision.max(event.revision());
        match event.kind {
            EventKind::Created | EventKind::Modified => {
                copy.items.insert(event.kv.key.clone(), event.kv);
            }
            EventKind::Deleted => {
                copy.items.remove(&event.kv.key);
            }
        }
    }

    /// Follows `store` until `shutdown`.
    pub async fn run(self: Arc<Self>, store: Arc<dyn Store>, shutdown: CancellationToken) {
        let mut from = None;
        while !shutdown.is_cancelled() {
            let after = match from {
                Some(revision) => revision,
                None => match self.relist(store.as_ref()).await {
                    Ok(revision) => revision,
                    Err(e) => {
                        tracing::debug!(error = %e, "watch cache: list failed; will retry");
                        sleep_or_stop(&shutdown).await;
                        continue;
                    }
                },
            };
            let mut stream = match store.watch(ROOT, after).await {
                Ok(stream) => stream,
                Err(store::Error::Expired { .. }) => {
                    from = None;
                    continue;
                }
                Err(e) => {
                    tracing::debug!(error = %e, "watch cache: watch failed; serving the copy as it is");
                    from = Some(after);
                    sleep_or_stop(&shutdown).await;
                    continue;
                }
            };
            from = Some(after);
            loop {
                let next = tokio::select! {
                    _ = shutdown.cancelled() => return,
                    next = stream.next() => next,
                };
                match next {
                    Some(Ok(event)) => {
                        from = Some(event.revision());
                        self.apply(event);
                    }
                    Some(Err(store::Error::Expired { .. })) => {
                        from = None;
                        break;
                    }
                    Some(Err(e)) => {
                        tracing::debug!(error = %e, "watch cache: watch ended; serving the copy as it is");
                        sleep_or_stop(&shutdown).await;
                        break;
                    }
                    None => break,
                }
            }
        }
    }
}

/// The registry that answers `resourceVersion=0` reads from a [`WatchCache`].
pub struct CachedReads {
    cache: Arc<WatchCache>,
    registry: crate::registry::Registry,
}

impl CachedReads {
    /// Starts following `registry`'s store until `shutdown`.
    pub fn start(registry: &crate::registry::Registry, shutdown: CancellationToken) -> Self {
        let cache = Arc::new(WatchCache::default());
        tokio::spawn(cache.clone().run(registry.store.clone(), shutdown));
        let view: Arc<dyn Store> = cache.clone();
        CachedReads {
            cache,
            registry: crate::registry::Registry::new(view, registry.alloc.clone()),
        }
    }

    /// The cache's registry, once the cache has loaded.
    pub fn registry(&self) -> Option<&crate::registry::Registry> {
        self.cache.loaded().then_some(&self.registry)
    }
}

async fn sleep_or_stop(shutdown: &CancellationToken) {
    tokio::select! {
        _ = shutdown.cancelled() => {}
        _ = tokio::time::sleep(RETRY) => {}
    }
}

fn read_only() -> store::Error {
    store::Error::Unavailable("the watch cache serves reads only".into())
}

#[async_trait]
impl Store for WatchCache {
    async fn get(&self, key: &str) -> store::Result<Option<KeyValue>> {
        Ok(self.read().items.get(key).cloned())
    }

    async fn list(&self, prefix: &str, opts: ListOptions) -> store::Result<ListResult> {
        let copy = self.read();
        let start = match &opts.start_after {
            Some(after) if after.as_str() >= prefix => std::ops::Bound::Excluded(after.clone()),
            _ => std::ops::Bound::Included(prefix.to_owned()),
        };
        let mut matching = copy
            .items
            .range::<String, _>((start, std::ops::Bound::Unbounded))
            .take_while(|(key, _)| key.starts_with(prefix))
            .map(|(_, kv)| kv);
        let limit = opts.limit.filter(|&l| l > 0).unwrap_or(usize::MAX);
        let items: Vec<KeyValue> = matching.by_ref().take(limit).cloned().collect();
        let remaining = matching.count() as u64;
        Ok(ListResult {
            items,
            revision: copy.revision,
            more: remaining > 0,
            remaining: Some(remaining),
        })
    }

    async fn create(&self, _key: &str, _value: Bytes) -> store::Result<KeyValue> {
        Err(read_only())
    }

    async fn update(&self, _: &str, _: Bytes, _: Option<i64>) -> store::Result<KeyValue> {
        Err(read_only())
    }

    async fn delete(&self, _key: &str, _: Option<i64>) -> store::Result<KeyValue> {
        Err(read_only())
    }

    async fn current_revision(&self) -> store::Result<i64> {
        Ok(self.read().revision)
    }

    async fn watch(&self, _prefix: &str, _after: i64) -> store::Result<WatchStream> {
        Err(read_only())
    }

    fn compacted_revision(&self) -> i64 {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(s: &str) -> Bytes {
        Bytes::from(s.to_owned())
    }

    #[tokio::test]
    async fn the_copy_follows_the_store() {
        let store: Arc<dyn Store> = Arc::new(store::MemoryStore::new());
        store.create("/registry/a/1", bytes("one")).await.unwrap();
        store.create("/registry/b/1", bytes("b")).await.unwrap();
        let cache = Arc::new(WatchCache::default());
        let stop = CancellationToken::new();
        let task = tokio::spawn(cache.clone().run(store.clone(), stop.clone()));
        let two = store.create("/registry/a/2", bytes("two")).await.unwrap();
        store.delete("/registry/a/1", None).await.unwrap();
        let now = store.current_revision().await.unwrap();
        for _ in 0..200 {
            if cache.loaded() && cache.current_revision().await.unwrap() == now {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(cache.current_revision().await.unwrap(), now);
        let list = cache
            .list("/registry/a/", ListOptions::default())
            .await
            .unwrap();
        assert_eq!(list.items, vec![two.clone()]);
        assert_eq!(cache.get("/registry/a/1").await.unwrap(), None);
        assert_eq!(cache.get("/registry/a/2").await.unwrap(), Some(two));
        let page = cache
            .list(
                "/registry/",
                ListOptions {
                    limit: Some(1),
                    start_after: None,
                },
            )
            .await
            .unwrap();
        assert_eq!(
            (page.items.len(), page.more, page.remaining),
            (1, true, Some(1))
        );
        assert!(cache.create("/registry/x", bytes("x")).await.is_err());
        stop.cancel();
        task.await.unwrap();
    }
}
