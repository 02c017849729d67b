//! Concurrent reads of one key, joined: the check before every create reads the namespace, and
//! on etcd each such read is a quorum read (a round trip through the leader). Callers that
//! arrive while a read of the key is in flight share the *next* read, which starts once that
//! one ends, so every caller still gets a read that began after it arrived (what it sees is
//! never older than a write acknowledged before its request). With 64 creates in flight this is
//! a couple of reads per batch instead of one per create.
//!
//! The read stays a real store read, so without an etcd leader it fails fast as before, and
//! the callers' creates are refused rather than proposed to a cluster that drops them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use store::{KeyValue, Store};
use tokio::sync::watch;

type Outcome = store::Result<Option<KeyValue>>;

#[derive(Default)]
pub(crate) struct JoinedReads {
    keys: Mutex<HashMap<String, Batches>>,
}

/// The reads of one key: whether one is in flight, and the callers waiting for the next.
#[derive(Default)]
struct Batches {
    running: bool,
    next: Option<watch::Sender<Option<Outcome>>>,
}

enum Role {
    /// Read now; later arrivals queue behind this read.
    Read,
    /// Wait for the next read's outcome.
    Wait(watch::Receiver<Option<Outcome>>),
}

impl JoinedReads {
    pub(crate) async fn get(self: &Arc<Self>, store: &Arc<dyn Store>, key: &str) -> Outcome {
        let role = {
            let mut keys = self.keys.lock().unwrap_or_else(PoisonError::into_inner);
            let batches = keys.entry(key.to_owned()).or_default();
            if !batches.running {
                batches.running = true;
                Role::Read
            } else {
                let next = batches.next.get_or_insert_with(|| watch::channel(None).0);
                Role::Wait(next.subscribe())
            }
        };
        match role {
            Role::Read => {
                let outcome = store.get(key).await;
                self.serve_queued(store.clone(), key.to_owned());
                outcome
            }
            Role::Wait(mut next) => {
                let shared = next.wait_for(Option::is_some).await.map(|o| o.clone());
                match shared {
                    Ok(Some(outcome)) => outcome,
                    // The serving task ended without an outcome (the runtime is shutting down).
                    _ => store.get(key).await,
                }
            }
        }
    }

    /// Runs the reads queued behind the one that just ended, in a task of their own so that
    /// the caller that read returns at once.
    fn serve_queued(self: &Arc<Self>, store: Arc<dyn Store>, key: String) {
        let Some(first) = self.take_next(&key) else {
            return;
        };
        let this = self.clone();
        tokio::spawn(async move {
            let mut batch = Some(first);
            while let Some(waiters) = batch {
                let outcome = store.get(&key).await;
                let _ = waiters.send(Some(outcome));
                batch = this.take_next(&key);
            }
        });
    }

    /// The next batch of `key`, or none (and no read in flight any more).
    fn take_next(&self, key: &str) -> Option<watch::Sender<Option<Outcome>>> {
        let mut keys = self.keys.lock().unwrap_or_else(PoisonError::into_inner);
        let batches = keys.get_mut(key)?;
        let next = batches.next.take();
        if next.is_none() {
            keys.remove(key);
        }
        next
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use async_trait::async_trait;
    use bytes::Bytes;
    use store::{ListOptions, ListResult, MemoryStore, WatchStream};
    use tokio::sync::Semaphore;

    use super::*;

    /// A store whose gets each wait for a permit, and are counted.
    struct Gated {
        inner: MemoryStore,
        gate: Semaphore,
        gets: AtomicUsize,
    }

    #[async_trait]
    impl Store for Gated {
        async fn get(&self, key: &str) -> store::Result<Option<KeyValue>> {
            self.gets.fetch_add(1, Ordering::SeqCst);
            // The value as of the read's start, returned when let through: a caller handed an
            // older read's answer would miss a write made since.
            let value = self.inner.get(key).await;
            self.gate.acquire().await.expect("open").forget();
            value
        }
        async fn list(&self, prefix: &str, opts: ListOptions) -> store::Result<ListResult> {
            self.inner.list(prefix, opts).await
        }
        async fn create(&self, key: &str, value: Bytes) -> store::Result<KeyValue> {
            self.inner.create(key, value).await
        }
        async fn update(&self, key: &str, v: Bytes, rev: Option<i64>) -> store::Result<KeyValue> {
            self.inner.update(key, v, rev).await
        }
        async fn delete(&self, key: &str, rev: Option<i64>) -> store::Result<KeyValue> {
            self.inner.delete(key, rev).await
        }
        async fn current_revision(&self) -> store::Result<i64> {
            self.inner.current_revision().await
        }
        async fn watch(&self, prefix: &str, after: i64) -> store::Result<WatchStream> {
            self.inner.watch(prefix, after).await
        }
        fn compacted_revision(&self) -> i64 {
            self.inner.compacted_revision()
        }
    }

    async fn settle() {
        for _ in 0..20 {
            tokio::task::yield_now().await;
        }
    }

    /// Callers that arrive during a read share the next one, and that one starts after they
    /// arrived: a write acknowledged before a caller's arrival is always seen.
    #[tokio::test]
    async fn waiters_share_a_read_that_starts_after_they_arrive() {
        let gated = Arc::new(Gated {
            inner: MemoryStore::new(),
            gate: Semaphore::new(0),
            gets: AtomicUsize::new(0),
        });
        let store: Arc<dyn Store> = gated.clone();
        let reads = Arc::new(JoinedReads::default());

        let first = tokio::spawn({
            let (reads, store) = (reads.clone(), store.clone());
            async move { reads.get(&store, "/k").await }
        });
        settle().await;
        assert_eq!(
            gated.gets.load(Ordering::SeqCst),
            1,
            "the first caller reads"
        );

        // Written while the first read is in flight: later callers must see it.
        store.create("/k", Bytes::from_static(b"v")).await.unwrap();
        let later: Vec<_> = (0..5)
            .map(|_| {
                let (reads, store) = (reads.clone(), store.clone());
                tokio::spawn(async move { reads.get(&store, "/k").await })
            })
            .collect();
        settle().await;
        assert_eq!(gated.gets.load(Ordering::SeqCst), 1, "later callers wait");

        gated.gate.add_permits(2);
        assert_eq!(first.await.unwrap().unwrap(), None, "read before the write");
        for caller in later {
            let kv = caller.await.unwrap().unwrap().expect("the write is seen");
            assert_eq!(kv.value, Bytes::from_static(b"v"));
        }
        assert_eq!(
            gated.gets.load(Ordering::SeqCst),
            2,
            "one read for five callers"
        );
        assert!(reads.keys.lock().unwrap().is_empty(), "nothing left behind");
    }
}
