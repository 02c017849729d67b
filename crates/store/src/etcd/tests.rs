//! The etcd backend against real etcd members started by `testkit::etcd`: the conformance suite
//! on one and on three members, and what only this backend does (key layout, compaction by
//! others and by the periodic task, timeouts, an unreachable etcd). Each test skips when the
//! `etcd` binary is absent, unless `CI` is set.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use testkit::etcd::EtcdCluster;

use super::{ConnectError, EtcdConfig, EtcdStore};
use crate::conformance::{self, StoreSpec};
use crate::{Error, KeyValue, ListOptions, ListResult, Result, Store, WatchStream};

/// A prefix no other store in the cluster uses (fixed width: none is a prefix of another).
fn fresh_prefix() -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!("/t{:06}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// A store of plain keys (`/a/b`) under `prefix`, without periodic compaction.
fn config(cluster: &EtcdCluster, prefix: &str) -> EtcdConfig {
    EtcdConfig {
        prefix: prefix.to_owned(),
        store_root: String::new(),
        compaction_interval: None,
        ..EtcdConfig::new(cluster.client_urls())
    }
}

async fn connect(config: EtcdConfig) -> EtcdStore {
    EtcdStore::connect(config)
        .await
        .expect("connecting to etcd")
}

fn bytes(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

/// Keeps about `history` revisions of history by compacting after writes, for the suite's
/// expiry cases: etcd keeps everything until someone compacts, and the periodic compaction
/// works in minutes.
struct Compacting {
    inner: EtcdStore,
    history: i64,
}

impl Compacting {
    async fn written(&self, result: Result<KeyValue>) -> Result<KeyValue> {
        if let Ok(kv) = &result {
            let head = kv.mod_revision;
            if head - self.inner.compacted_revision() >= 2 * self.history {
                self.inner.compact(head - self.history).await?;
            }
        }
        result
    }
}

#[async_trait]
impl Store for Compacting {
    async fn get(&self, key: &str) -> Result<Option<KeyValue>> {
        self.inner.get(key).await
    }
    async fn list(&self, prefix: &str, opts: ListOptions) -> Result<ListResult> {
        self.inner.list(prefix, opts).await
    }
    async fn create(&self, key: &str, value: Bytes) -> Result<KeyValue> {
        self.written(self.inner.create(key, value).await).await
    }
    async fn update(&self, key: &str, value: Bytes, expected: Option<i64>) -> Result<KeyValue> {
        self.written(self.inner.update(key, value, expected).await)
            .await
    }
    async fn delete(&self, key: &str, expected: Option<i64>) -> Result<KeyValue> {
        self.written(self.inner.delete(key, expected).await).await
    }
    async fn current_revision(&self) -> Result<i64> {
        self.inner.current_revision().await
    }
    async fn watch(&self, prefix: &str, after: i64) -> Result<WatchStream> {
        self.inner.watch(prefix, after).await
    }
    fn compacted_revision(&self) -> i64 {
        self.inner.compacted_revision()
    }
}

async fn conformance_on(members: usize) {
    let Some(cluster) = EtcdCluster::start_or_skip(members).unwrap() else {
        return;
    };
    let started = Instant::now();
    conformance::run_all(|spec: StoreSpec| {
        let config = config(&cluster, &fresh_prefix());
        async move {
            let store = connect(config).await;
            if spec.history < 1_000 {
                Arc::new(Compacting {
                    inner: store,
                    history: spec.history as i64,
                }) as Arc<dyn Store>
            } else {
                Arc::new(store) as Arc<dyn Store>
            }
        }
    })
    .await;
    let durable = config(&cluster, &fresh_prefix());
    conformance::run_durable(|_| {
        let config = durable.clone();
        async move { Arc::new(connect(config).await) as Arc<dyn Store> }
    })
    .await;
    eprintln!(
        "etcd conformance on {members} member(s): {:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_on_one_member() {
    conformance_on(1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_on_three_members() {
    conformance_on(3).await;
}

#[tokio::test]
async fn keys_live_under_the_prefix_in_place_of_the_root() {
    let Some(cluster) = EtcdCluster::start_or_skip(1).unwrap() else {
        return;
    };
    let store = connect(EtcdConfig {
        prefix: "/tenant-a/".into(),
        ..EtcdConfig::new(cluster.client_urls())
    })
    .await;
    let key = "/registry/services/default/web";
    let created = store.create(key, bytes("svc")).await.unwrap();

    let mut raw = etcd_client::Client::connect(cluster.client_urls(), None)
        .await
        .unwrap();
    let stored = raw
        .get("/tenant-a/services/default/web", None)
        .await
        .unwrap();
    assert_eq!(stored.kvs()[0].value(), b"svc");
    assert_eq!(stored.kvs()[0].mod_revision(), created.mod_revision);

    let listed = store
        .list("/registry/", ListOptions::default())
        .await
        .unwrap();
    assert_eq!(listed.items, vec![created]);
    assert!(matches!(
        store.create("/elsewhere/x", bytes("v")).await,
        Err(Error::Corrupt(_))
    ));
}

#[tokio::test]
async fn a_compaction_elsewhere_ends_a_watch_with_expired() {
    let Some(cluster) = EtcdCluster::start_or_skip(1).unwrap() else {
        return;
    };
    let prefix = fresh_prefix();
    let watcher = connect(config(&cluster, &prefix)).await;
    let compactor = connect(config(&cluster, &prefix)).await;
    for i in 0..3 {
        watcher
            .create(&format!("/k/{i}"), bytes("v"))
            .await
            .unwrap();
    }
    let head = watcher.current_revision().await.unwrap();
    compactor.compact(head).await.unwrap();
    assert_eq!(watcher.compacted_revision(), 0, "not known here yet");

    // etcd confirms the watch, then ends it: the first item says Expired, then the stream ends.
    let outcome = match watcher.watch("/k/", 0).await {
        Err(e) => e,
        Ok(mut stream) => {
            let first = tokio::time::timeout(Duration::from_secs(5), stream.next()).await;
            let Ok(Some(Err(e))) = first else {
                panic!("expected an error, got {first:?}")
            };
            assert!(
                stream.next().await.is_none(),
                "stream goes on after Expired"
            );
            e
        }
    };
    assert_eq!(
        outcome,
        Error::Expired {
            requested: 0,
            oldest: head
        }
    );
    assert_eq!(watcher.compacted_revision(), head, "learned from etcd");
    assert!(matches!(
        watcher.watch("/k/", head - 1).await,
        Err(Error::Expired { .. })
    ));
    let mut after = watcher.watch("/k/", head).await.unwrap();
    let next = watcher.create("/k/next", bytes("v")).await.unwrap();
    let event = tokio::time::timeout(Duration::from_secs(5), after.next()).await;
    assert!(matches!(event, Ok(Some(Ok(e))) if e.kv == next));
}

#[tokio::test]
async fn periodic_compaction_keeps_one_interval_of_history() {
    let Some(cluster) = EtcdCluster::start_or_skip(1).unwrap() else {
        return;
    };
    let store = connect(EtcdConfig {
        compaction_interval: Some(Duration::from_millis(200)),
        ..config(&cluster, &fresh_prefix())
    })
    .await;
    let first = store.create("/a", bytes("v")).await.unwrap();
    // The first tick records the revision, the second compacts to it.
    let deadline = Instant::now() + Duration::from_secs(10);
    while store.compacted_revision() < first.mod_revision {
        assert!(Instant::now() < deadline, "no compaction within 10 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(matches!(
        store.watch("/", first.mod_revision - 1).await,
        Err(Error::Expired { .. })
    ));
    // A second store on the same etcd starts from the compacted revision it finds.
    let other = connect(config(&cluster, &fresh_prefix())).await;
    assert!(other.compacted_revision() >= first.mod_revision);
}

#[tokio::test]
async fn watches_outlive_the_request_timeout() {
    let Some(cluster) = EtcdCluster::start_or_skip(1).unwrap() else {
        return;
    };
    let store = connect(EtcdConfig {
        request_timeout: Duration::from_millis(500),
        ..config(&cluster, &fresh_prefix())
    })
    .await;
    let now = store.current_revision().await.unwrap();
    let mut stream = store.watch("/w/", now).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let created = store.create("/w/late", bytes("v")).await.unwrap();
    let event = tokio::time::timeout(Duration::from_secs(5), stream.next()).await;
    assert!(
        matches!(&event, Ok(Some(Ok(e))) if e.kv == created),
        "{event:?}"
    );
}

#[tokio::test]
async fn an_unreachable_etcd_is_unavailable() {
    let Some(mut cluster) = EtcdCluster::start_or_skip(1).unwrap() else {
        return;
    };
    let quick = EtcdConfig {
        request_timeout: Duration::from_secs(2),
        connect_timeout: Duration::from_secs(1),
        ..config(&cluster, &fresh_prefix())
    };
    let store = connect(quick.clone()).await;
    let now = store.current_revision().await.unwrap();
    let mut stream = store.watch("/", now).await.unwrap();
    cluster.kill_member(0);

    let started = Instant::now();
    let err = store.get("/a").await.unwrap_err();
    assert!(matches!(err, Error::Unavailable(_)), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5));
    let end = tokio::time::timeout(Duration::from_secs(10), stream.next()).await;
    assert!(
        matches!(end, Ok(Some(Err(Error::Unavailable(_))))),
        "{end:?}"
    );
    let write = store.create("/b", bytes("v")).await;
    assert!(matches!(write, Err(Error::Unavailable(_))), "{write:?}");

    let refused = EtcdStore::connect(quick).await.unwrap_err();
    assert!(matches!(refused, ConnectError::Unavailable(_)), "{refused}");
    eprintln!("unavailable: {err}\nconnect: {refused}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_resume_after_the_leader_is_killed() {
    let Some(mut cluster) = EtcdCluster::start_or_skip(3).unwrap() else {
        return;
    };
    let store = connect(EtcdConfig {
        request_timeout: Duration::from_secs(2),
        connect_timeout: Duration::from_secs(1),
        ..config(&cluster, &fresh_prefix())
    })
    .await;
    store.create("/before", bytes("v")).await.unwrap();
    let leader = cluster.leader().expect("a leader");
    cluster.kill_member(leader);

    // Requests balanced onto the dead member, or sent before the election, are Unavailable;
    // retried, a write lands once the others elect a leader.
    let killed = Instant::now();
    let mut failures = 0;
    let written = loop {
        match store.create("/after", bytes("v")).await {
            Ok(kv) => break kv,
            Err(Error::Unavailable(_)) => failures += 1,
            Err(e) => panic!("unexpected {e}"),
        }
        assert!(
            killed.elapsed() < Duration::from_secs(20),
            "no write within 20 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    eprintln!(
        "leader SIGKILL: next write accepted after {:?} ({failures} failed attempts)",
        killed.elapsed()
    );
    assert_eq!(store.get("/after").await.unwrap(), Some(written));
    let new_leader = cluster.leader().expect("a new leader");
    assert_ne!(new_leader, leader);
}
