//! The conformance suite: the behaviour every [`Store`] backend must show, written once against
//! the trait. It must never depend on a particular backend.
//!
//! Each case runs on a fresh, empty store from the caller's factory; revisions are checked
//! relative to the store's revision at the start of the case. To check a new backend, enable
//! this crate's `conformance` feature in its dev-dependencies and call, from a tokio test:
//!
//! ```ignore
//! store::conformance::run_all(|spec: StoreSpec| async move {
//!     Arc::new(MyStore::connect(/* retaining about spec.history events */).await.unwrap())
//!         as Arc<dyn Store>
//! })
//! .await;
//! // Durable backends also: `open` must open the same data on every call.
//! store::conformance::run_durable(|spec| async move { /* open the same location */ }).await;
//! ```
//!
//! Failures panic with the names of the failed cases after every case has run.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};

use crate::{Error, EventKind, KeyValue, ListOptions, Store, WatchEvent, WatchStream};

/// What the suite asks of the factory for one case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreSpec {
    /// How many events of watch history the store should keep: cases about expiry rely on a
    /// store that keeps no more than this many (give or take the backend's granularity).
    pub history: usize,
}

/// The history given to cases that do not test expiry: larger than any of them writes.
const ROOMY_HISTORY: usize = 10_000;
/// How long a case waits for an event that must arrive.
const EVENT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a case waits to be confident that no event is coming.
const QUIET_PERIOD: Duration = Duration::from_millis(100);
/// A case that runs longer than this is failed.
const CASE_TIMEOUT: Duration = Duration::from_secs(120);

type CaseFn = fn(Arc<dyn Store>) -> BoxFuture<'static, ()>;

struct Case {
    name: &'static str,
    history: usize,
    run: CaseFn,
}

macro_rules! case {
    ($name:ident) => {
        case!($name, ROOMY_HISTORY)
    };
    ($name:ident, $history:expr) => {
        Case {
            name: stringify!($name),
            history: $history,
            run: |store| Box::pin($name(store)),
        }
    };
}

fn cases() -> Vec<Case> {
    vec![
        case!(create_then_get),
        case!(create_existing_fails),
        case!(update_outcomes),
        case!(delete_outcomes),
        case!(revisions_grow_by_one_per_successful_write),
        case!(list_isolates_prefixes),
        case!(list_pages_with_limit_and_start_after),
        case!(watch_replays_history_after_a_revision),
        case!(watch_delivers_live_events),
        case!(watch_filters_by_prefix),
        case!(deleted_event_carries_last_value_and_prev),
        case!(watch_subscribed_during_writes_has_no_gap_or_duplicate),
        case!(watch_after_a_future_revision_waits_for_it),
        case!(watch_before_history_is_expired, 5),
        case!(lagging_watcher_ends_with_expired, 5),
        case!(concurrent_creates_get_unique_gap_free_revisions),
        case!(concurrent_compare_and_swap_loses_no_update),
    ]
}

/// Runs every case, each on a store from `make`.
pub async fn run_all<F, Fut>(make: F)
where
    F: Fn(StoreSpec) -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    let mut failed = Vec::new();
    for case in cases() {
        let store = make(StoreSpec {
            history: case.history,
        })
        .await;
        if !run_case(case.name, (case.run)(store)).await {
            failed.push(case.name);
        }
    }
    assert!(failed.is_empty(), "conformance cases failed: {failed:?}");
}

/// Runs the cases of durable backends: data, revision and watch history survive closing and
/// reopening. `open` must open the same data on every call; the suite drops each store (its
/// only reference) before opening the next.
pub async fn run_durable<F, Fut>(open: F)
where
    F: Fn(StoreSpec) -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    let open = &open;
    let mut failed = Vec::new();
    if !run_case(
        "reopen_keeps_data_revision_and_history",
        reopen_keeps_state(open),
    )
    .await
    {
        failed.push("reopen_keeps_data_revision_and_history");
    }
    assert!(
        failed.is_empty(),
        "durable conformance cases failed: {failed:?}"
    );
}

/// Runs one case, reporting a panic or a timeout as a failure.
async fn run_case(name: &str, case: impl Future<Output = ()>) -> bool {
    let outcome = tokio::time::timeout(CASE_TIMEOUT, AssertUnwindSafe(case).catch_unwind()).await;
    match outcome {
        Ok(Ok(())) => true,
        Ok(Err(_)) => {
            eprintln!("conformance case {name} panicked");
            false
        }
        Err(_) => {
            eprintln!("conformance case {name} timed out");
            false
        }
    }
}

// ---- helpers ----

fn page(limit: Option<usize>, start_after: Option<&str>) -> ListOptions {
    ListOptions {
        limit,
        start_after: start_after.map(String::from),
    }
}

fn bytes(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

async fn next_event(stream: &mut WatchStream) -> WatchEvent {
    match tokio::time::timeout(EVENT_TIMEOUT, stream.next()).await {
        Ok(Some(Ok(event))) => event,
        Ok(Some(Err(e))) => panic!("watch failed: {e}"),
        Ok(None) => panic!("watch ended"),
        Err(_) => panic!("no watch event within {EVENT_TIMEOUT:?}"),
    }
}

async fn next_events(stream: &mut WatchStream, n: usize) -> Vec<WatchEvent> {
    let mut events = Vec::with_capacity(n);
    for _ in 0..n {
        events.push(next_event(stream).await);
    }
    events
}

async fn assert_quiet(stream: &mut WatchStream) {
    if let Ok(item) = tokio::time::timeout(QUIET_PERIOD, stream.next()).await {
        panic!("expected no watch event, got {item:?}");
    }
}

fn summary(events: &[WatchEvent]) -> Vec<(EventKind, String, i64)> {
    events
        .iter()
        .map(|e| (e.kind, e.kv.key.clone(), e.kv.mod_revision))
        .collect()
}

async fn list_keys(store: &dyn Store, prefix: &str) -> Vec<String> {
    let listed = store.list(prefix, ListOptions::default()).await.unwrap();
    listed.items.into_iter().map(|kv| kv.key).collect()
}

/// Writes a fixed mix of creates, updates and deletes under `/h/`; returns their events as the
/// store acknowledged them.
async fn write_mix(store: &dyn Store) -> Vec<WatchEvent> {
    let mut events = Vec::new();
    for i in 0..4 {
        let kv = store
            .create(&format!("/h/{i}"), bytes(&format!("v{i}")))
            .await
            .unwrap();
        events.push(WatchEvent {
            kind: EventKind::Created,
            kv,
            prev: None,
        });
    }
    let prev = store.get("/h/1").await.unwrap().unwrap();
    let kv = store
        .update("/h/1", bytes("v1b"), Some(prev.mod_revision))
        .await
        .unwrap();
    events.push(WatchEvent {
        kind: EventKind::Modified,
        kv,
        prev: Some(prev),
    });
    let prev = store.get("/h/2").await.unwrap().unwrap();
    let kv = store.delete("/h/2", None).await.unwrap();
    events.push(WatchEvent {
        kind: EventKind::Deleted,
        kv,
        prev: Some(prev),
    });
    events
}

// ---- cases ----

async fn create_then_get(store: Arc<dyn Store>) {
    let base = store.current_revision().await.unwrap();
    assert_eq!(store.get("/c/a").await.unwrap(), None);
    // Values are opaque: any bytes, including none.
    let values = [
        Bytes::from_static(b"{\"kind\":\"Service\"}"),
        Bytes::from_static(&[0, 255, 0]),
        Bytes::new(),
    ];
    for (i, value) in values.into_iter().enumerate() {
        let key = format!("/c/{i}");
        let revision = base + 1 + i as i64;
        let created = store.create(&key, value.clone()).await.unwrap();
        let want = KeyValue {
            key: key.clone(),
            value,
            create_revision: revision,
            mod_revision: revision,
        };
        assert_eq!(created, want);
        assert_eq!(store.get(&key).await.unwrap(), Some(want));
    }
    assert_eq!(store.current_revision().await.unwrap(), base + 3);
}

async fn create_existing_fails(store: Arc<dyn Store>) {
    let first = store.create("/c/a", bytes("one")).await.unwrap();
    let err = store.create("/c/a", bytes("two")).await.unwrap_err();
    assert_eq!(err, Error::AlreadyExists { key: "/c/a".into() });
    assert_eq!(store.get("/c/a").await.unwrap(), Some(first.clone()));
    assert_eq!(store.current_revision().await.unwrap(), first.mod_revision);
}

async fn update_outcomes(store: Arc<dyn Store>) {
    let created = store.create("/u/a", bytes("v1")).await.unwrap();
    let r = created.mod_revision;
    struct Step {
        name: &'static str,
        key: &'static str,
        expected: Option<i64>,
        outcome: Result<i64, Error>,
    }
    let steps = [
        Step {
            name: "unconditional",
            key: "/u/a",
            expected: None,
            outcome: Ok(r + 1),
        },
        Step {
            name: "matching precondition",
            key: "/u/a",
            expected: Some(r + 1),
            outcome: Ok(r + 2),
        },
        Step {
            name: "stale precondition",
            key: "/u/a",
            expected: Some(r + 1),
            outcome: Err(Error::Conflict {
                key: "/u/a".into(),
                expected: r + 1,
                actual: r + 2,
            }),
        },
        Step {
            name: "missing key",
            key: "/u/missing",
            expected: None,
            outcome: Err(Error::NotFound {
                key: "/u/missing".into(),
            }),
        },
        Step {
            name: "missing key with precondition",
            key: "/u/missing",
            expected: Some(r),
            outcome: Err(Error::NotFound {
                key: "/u/missing".into(),
            }),
        },
    ];
    for step in steps {
        let value = bytes(step.name);
        let got = store.update(step.key, value.clone(), step.expected).await;
        match step.outcome {
            Ok(revision) => {
                let want = KeyValue {
                    key: step.key.into(),
                    value,
                    create_revision: created.create_revision,
                    mod_revision: revision,
                };
                assert_eq!(got, Ok(want.clone()), "{}", step.name);
                assert_eq!(
                    store.get(step.key).await.unwrap(),
                    Some(want),
                    "{}",
                    step.name
                );
            }
            Err(e) => assert_eq!(got, Err(e), "{}", step.name),
        }
    }
    assert_eq!(store.current_revision().await.unwrap(), r + 2);
    assert_eq!(store.get("/u/missing").await.unwrap(), None);
}

async fn delete_outcomes(store: Arc<dyn Store>) {
    let created = store.create("/d/a", bytes("last")).await.unwrap();
    let r = created.mod_revision;
    let stale = store.delete("/d/a", Some(r - 1)).await;
    assert_eq!(
        stale,
        Err(Error::Conflict {
            key: "/d/a".into(),
            expected: r - 1,
            actual: r,
        })
    );
    assert_eq!(store.get("/d/a").await.unwrap(), Some(created.clone()));

    let deleted = store.delete("/d/a", Some(r)).await.unwrap();
    assert_eq!(
        deleted,
        KeyValue {
            mod_revision: r + 1,
            ..created.clone()
        }
    );
    assert_eq!(store.get("/d/a").await.unwrap(), None);
    for expected in [None, Some(r)] {
        let again = store.delete("/d/a", expected).await;
        assert_eq!(again, Err(Error::NotFound { key: "/d/a".into() }));
    }

    let unconditional = store.create("/d/b", bytes("b")).await.unwrap();
    let deleted = store.delete("/d/b", None).await.unwrap();
    assert_eq!(deleted.mod_revision, unconditional.mod_revision + 1);

    // A recreated key is a new object: a new create revision.
    let recreated = store.create("/d/a", bytes("again")).await.unwrap();
    assert_eq!(recreated.create_revision, r + 4);
    assert_eq!(recreated.mod_revision, r + 4);
}

async fn revisions_grow_by_one_per_successful_write(store: Arc<dyn Store>) {
    let mut revision = store.current_revision().await.unwrap();
    for i in 0..5 {
        let key = format!("/r/{i}");
        let created = store.create(&key, bytes("a")).await.unwrap();
        revision += 1;
        assert_eq!(created.mod_revision, revision);

        // Failed writes consume no revision.
        assert!(store.create(&key, bytes("b")).await.is_err());
        assert!(
            store
                .update(&key, bytes("b"), Some(revision - 1))
                .await
                .is_err()
        );
        assert!(store.delete("/r/missing", None).await.is_err());
        assert_eq!(store.current_revision().await.unwrap(), revision);

        let updated = store.update(&key, bytes("c"), None).await.unwrap();
        revision += 1;
        assert_eq!(updated.mod_revision, revision);
        assert_eq!(store.current_revision().await.unwrap(), revision);
    }
    let deleted = store.delete("/r/0", None).await.unwrap();
    assert_eq!(deleted.mod_revision, revision + 1);
    assert_eq!(store.current_revision().await.unwrap(), revision + 1);
}

async fn list_isolates_prefixes(store: Arc<dyn Store>) {
    for key in ["/ab/1", "/a/2", "/b/1", "/a", "/a/1", "/a/1/x", "/a0"] {
        store.create(key, bytes(key)).await.unwrap();
    }
    let cases: &[(&str, &[&str])] = &[
        ("/a/", &["/a/1", "/a/1/x", "/a/2"]),
        ("/ab/", &["/ab/1"]),
        ("/a/1/", &["/a/1/x"]),
        ("/c/", &[]),
        ("/a", &["/a", "/a/1", "/a/1/x", "/a/2", "/a0", "/ab/1"]),
        (
            "",
            &["/a", "/a/1", "/a/1/x", "/a/2", "/a0", "/ab/1", "/b/1"],
        ),
    ];
    let revision = store.current_revision().await.unwrap();
    for (prefix, want) in cases {
        let listed = store.list(prefix, ListOptions::default()).await.unwrap();
        let keys: Vec<&str> = listed.items.iter().map(|kv| kv.key.as_str()).collect();
        assert_eq!(keys, *want, "prefix {prefix:?}");
        assert!(
            listed.items.iter().all(|kv| kv.value == bytes(&kv.key)),
            "values under {prefix:?}"
        );
        assert_eq!(listed.revision, revision, "revision of list {prefix:?}");
        assert!(!listed.more, "more for {prefix:?}");
        assert!(
            matches!(listed.remaining, None | Some(0)),
            "remaining for {prefix:?}"
        );
    }
}

async fn list_pages_with_limit_and_start_after(store: Arc<dyn Store>) {
    let keys: Vec<String> = (0..10).map(|i| format!("/p/{i:02}")).collect();
    for key in &keys {
        store.create(key, bytes(key)).await.unwrap();
    }
    store.create("/q/00", bytes("other")).await.unwrap();
    store.create("/o/99", bytes("other")).await.unwrap();
    let revision = store.current_revision().await.unwrap();

    for limit in [1, 3, 4, 10, 11] {
        let mut start_after = None;
        let mut seen = Vec::new();
        loop {
            let opts = ListOptions {
                limit: Some(limit),
                start_after: start_after.clone(),
            };
            let page = store.list("/p/", opts).await.unwrap();
            assert!(page.items.len() <= limit, "limit {limit}");
            assert_eq!(page.revision, revision);
            seen.extend(page.items.iter().map(|kv| kv.key.clone()));
            let left = (keys.len() - seen.len()) as u64;
            assert_eq!(page.more, left > 0, "more after {seen:?} (limit {limit})");
            if let Some(remaining) = page.remaining {
                assert_eq!(remaining, left, "remaining after {seen:?} (limit {limit})");
            }
            if !page.more {
                break;
            }
            start_after = seen.last().cloned();
        }
        assert_eq!(seen, keys, "pages of {limit}");
    }

    let all: Vec<&str> = keys.iter().map(String::as_str).collect();
    let cases: &[(&str, ListOptions, &[&str], bool)] = &[
        ("limit 0 means all", page(Some(0), None), &all, false),
        (
            "start_after a missing key",
            page(Some(2), Some("/p/045")),
            &["/p/05", "/p/06"],
            true,
        ),
        (
            "start_after before the prefix",
            page(Some(1), Some("/a")),
            &["/p/00"],
            true,
        ),
        (
            "start_after the last key",
            page(None, Some("/p/09")),
            &[],
            false,
        ),
        (
            "start_after past the prefix",
            page(None, Some("/q")),
            &[],
            false,
        ),
    ];
    for (name, opts, want, more) in cases {
        let page = store.list("/p/", opts.clone()).await.unwrap();
        let got: Vec<&str> = page.items.iter().map(|kv| kv.key.as_str()).collect();
        assert_eq!(got, *want, "{name}");
        assert_eq!(page.more, *more, "{name}");
    }
}

async fn watch_replays_history_after_a_revision(store: Arc<dyn Store>) {
    let base = store.current_revision().await.unwrap();
    let written = write_mix(&*store).await;
    assert_eq!(written.last().unwrap().kv.mod_revision, base + 6);
    for after in base..=base + 6 {
        let mut stream = store.watch("/h/", after).await.unwrap();
        let want: Vec<WatchEvent> = written
            .iter()
            .filter(|e| e.kv.mod_revision > after)
            .cloned()
            .collect();
        let got = next_events(&mut stream, want.len()).await;
        assert_eq!(got, want, "replay after {after}");
        assert_quiet(&mut stream).await;
    }
}

async fn watch_delivers_live_events(store: Arc<dyn Store>) {
    let now = store.current_revision().await.unwrap();
    let mut stream = store.watch("/h/", now).await.unwrap();
    assert_quiet(&mut stream).await;
    let written = write_mix(&*store).await;
    assert_eq!(next_events(&mut stream, written.len()).await, written);
    assert_quiet(&mut stream).await;
}

async fn watch_filters_by_prefix(store: Arc<dyn Store>) {
    let base = store.current_revision().await.unwrap();
    store.create("/w/a/1", bytes("in")).await.unwrap();
    store.create("/w/ab/1", bytes("out")).await.unwrap();
    let mut history = store.watch("/w/a/", base).await.unwrap();
    let mut live = store.watch("/w/a/", base + 2).await.unwrap();
    store.create("/w/ab/2", bytes("out")).await.unwrap();
    store.create("/w/a/2", bytes("in")).await.unwrap();
    store.create("/w/b", bytes("out")).await.unwrap();
    store.delete("/w/a/1", None).await.unwrap();

    let want = [
        (EventKind::Created, "/w/a/1".to_owned(), base + 1),
        (EventKind::Created, "/w/a/2".to_owned(), base + 4),
        (EventKind::Deleted, "/w/a/1".to_owned(), base + 6),
    ];
    assert_eq!(summary(&next_events(&mut history, 3).await), want);
    assert_eq!(summary(&next_events(&mut live, 2).await), want[1..]);
    assert_quiet(&mut history).await;
    assert_quiet(&mut live).await;

    let mut everything = store.watch("", base).await.unwrap();
    let all = next_events(&mut everything, 6).await;
    let revisions: Vec<i64> = all.iter().map(|e| e.kv.mod_revision).collect();
    assert_eq!(revisions, (base + 1..=base + 6).collect::<Vec<_>>());
}

async fn deleted_event_carries_last_value_and_prev(store: Arc<dyn Store>) {
    let base = store.current_revision().await.unwrap();
    let mut live = store.watch("/del/", base).await.unwrap();
    store.create("/del/x", bytes("first")).await.unwrap();
    let updated = store.update("/del/x", bytes("last"), None).await.unwrap();
    let deleted = store
        .delete("/del/x", Some(updated.mod_revision))
        .await
        .unwrap();

    let want_deleted = WatchEvent {
        kind: EventKind::Deleted,
        kv: KeyValue {
            key: "/del/x".into(),
            value: bytes("last"),
            create_revision: base + 1,
            mod_revision: base + 3,
        },
        prev: Some(updated.clone()),
    };
    assert_eq!(deleted, want_deleted.kv);
    let events = next_events(&mut live, 3).await;
    assert_eq!(
        events[1].prev.as_ref().map(|p| p.value.clone()),
        Some(bytes("first"))
    );
    assert_eq!(events[2], want_deleted);

    // The same from the history.
    let mut replay = store.watch("/del/", base + 2).await.unwrap();
    assert_eq!(next_event(&mut replay).await, want_deleted);
}

async fn watch_subscribed_during_writes_has_no_gap_or_duplicate(store: Arc<dyn Store>) {
    const WRITES: i64 = 300;
    let base = store.current_revision().await.unwrap();
    let writer = {
        let store = Arc::clone(&store);
        tokio::spawn(async move {
            for i in 0..WRITES {
                store
                    .create(&format!("/g/{i:04}"), bytes("v"))
                    .await
                    .unwrap();
            }
        })
    };
    let mut streams = Vec::new();
    for _ in 0..5 {
        streams.push(store.watch("/g/", base).await.unwrap());
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    for mut stream in streams {
        let events = next_events(&mut stream, WRITES as usize).await;
        let revisions: Vec<i64> = events.iter().map(|e| e.kv.mod_revision).collect();
        assert_eq!(revisions, (base + 1..=base + WRITES).collect::<Vec<_>>());
        assert_quiet(&mut stream).await;
    }
    writer.await.unwrap();
}

async fn watch_after_a_future_revision_waits_for_it(store: Arc<dyn Store>) {
    let base = store.current_revision().await.unwrap();
    let mut stream = store.watch("/f/", base + 2).await.unwrap();
    for i in 0..4 {
        store.create(&format!("/f/{i}"), bytes("v")).await.unwrap();
    }
    let events = next_events(&mut stream, 2).await;
    assert_eq!(
        summary(&events),
        [
            (EventKind::Created, "/f/2".to_owned(), base + 3),
            (EventKind::Created, "/f/3".to_owned(), base + 4),
        ]
    );
    assert_quiet(&mut stream).await;
}

async fn watch_before_history_is_expired(store: Arc<dyn Store>) {
    let base = store.current_revision().await.unwrap();
    for i in 0..20 {
        store
            .create(&format!("/e/{i:02}"), bytes("v"))
            .await
            .unwrap();
    }
    let head = base + 20;
    let floor = store.compacted_revision();
    assert!(
        floor > base && floor <= head - 5,
        "history floor {floor} with head {head}, history 5"
    );

    let expired = store.watch("/e/", floor - 1).await.err();
    assert_eq!(
        expired,
        Some(Error::Expired {
            requested: floor - 1,
            oldest: floor
        })
    );
    assert!(matches!(
        store.watch("/e/", base).await,
        Err(Error::Expired { .. })
    ));

    let mut oldest = store.watch("/e/", floor).await.unwrap();
    let events = next_events(&mut oldest, (head - floor) as usize).await;
    let revisions: Vec<i64> = events.iter().map(|e| e.kv.mod_revision).collect();
    assert_eq!(revisions, (floor + 1..=head).collect::<Vec<_>>());
    assert_quiet(&mut oldest).await;
}

async fn lagging_watcher_ends_with_expired(store: Arc<dyn Store>) {
    let base = store.current_revision().await.unwrap();
    let mut stream = store.watch("/l/", base).await.unwrap();
    const WRITES: i64 = 200;
    for i in 0..WRITES {
        store
            .create(&format!("/l/{i:03}"), bytes("v"))
            .await
            .unwrap();
    }
    // A backend decides how far behind is too far; whatever it delivers is in order, and if it
    // gives up it says Expired and ends the stream.
    let mut next = base + 1;
    loop {
        match tokio::time::timeout(EVENT_TIMEOUT, stream.next()).await {
            Ok(Some(Ok(event))) => {
                assert_eq!(event.kv.mod_revision, next);
                next += 1;
                if next > base + WRITES {
                    assert_quiet(&mut stream).await;
                    break;
                }
            }
            Ok(Some(Err(Error::Expired { .. }))) => {
                let end = tokio::time::timeout(EVENT_TIMEOUT, stream.next()).await;
                assert!(
                    matches!(end, Ok(None)),
                    "stream goes on after Expired: {end:?}"
                );
                break;
            }
            other => panic!("unexpected watch item {other:?}"),
        }
    }
}

async fn concurrent_creates_get_unique_gap_free_revisions(store: Arc<dyn Store>) {
    const TASKS: usize = 64;
    const PER_TASK: usize = 50;
    let base = store.current_revision().await.unwrap();
    let tasks: Vec<_> = (0..TASKS)
        .map(|t| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let mut revisions = Vec::with_capacity(PER_TASK);
                for i in 0..PER_TASK {
                    let kv = store
                        .create(&format!("/cc/{t:02}/{i:02}"), bytes("v"))
                        .await
                        .unwrap();
                    assert_eq!(kv.create_revision, kv.mod_revision);
                    revisions.push(kv.mod_revision);
                }
                revisions
            })
        })
        .collect();
    let mut revisions = Vec::with_capacity(TASKS * PER_TASK);
    for task in tasks {
        let mine = task.await.unwrap();
        assert!(
            mine.windows(2).all(|w| w[0] < w[1]),
            "one task's writes are ordered"
        );
        revisions.extend(mine);
    }
    revisions.sort_unstable();
    let total = (TASKS * PER_TASK) as i64;
    assert_eq!(revisions, (base + 1..=base + total).collect::<Vec<_>>());
    assert_eq!(store.current_revision().await.unwrap(), base + total);
    assert_eq!(list_keys(&*store, "/cc/").await.len(), TASKS * PER_TASK);
}

async fn concurrent_compare_and_swap_loses_no_update(store: Arc<dyn Store>) {
    const TASKS: usize = 16;
    const INCREMENTS: usize = 20;
    store.create("/cas", bytes("0")).await.unwrap();
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                for _ in 0..INCREMENTS {
                    loop {
                        let current = store.get("/cas").await.unwrap().unwrap();
                        let n: usize = std::str::from_utf8(&current.value)
                            .unwrap()
                            .parse()
                            .unwrap();
                        let next = bytes(&(n + 1).to_string());
                        match store.update("/cas", next, Some(current.mod_revision)).await {
                            Ok(_) => break,
                            Err(Error::Conflict { .. }) => continue,
                            Err(e) => panic!("update failed: {e}"),
                        }
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let last = store.get("/cas").await.unwrap().unwrap();
    assert_eq!(last.value, bytes(&(TASKS * INCREMENTS).to_string()));
}

async fn reopen_keeps_state<F, Fut>(open: &F)
where
    F: Fn(StoreSpec) -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    let spec = StoreSpec { history: 100 };
    let store = open(spec).await;
    let base = store.current_revision().await.unwrap();
    let written = write_mix(&*store).await;
    let listed = store.list("/h/", ListOptions::default()).await.unwrap();
    let floor = store.compacted_revision();
    drop(store);

    let store = open(spec).await;
    assert_eq!(store.current_revision().await.unwrap(), base + 6);
    assert_eq!(
        store.list("/h/", ListOptions::default()).await.unwrap(),
        listed
    );
    assert_eq!(store.compacted_revision(), floor);
    let mut replay = store.watch("/h/", base).await.unwrap();
    assert_eq!(next_events(&mut replay, written.len()).await, written);

    // Writing continues from the stored revision, and the live part of an old watch follows.
    let created = store.create("/h/new", bytes("after reopen")).await.unwrap();
    assert_eq!(created.mod_revision, base + 7);
    assert_eq!(next_event(&mut replay).await.kv, created);
}
