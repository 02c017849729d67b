//! The embedded store against the conformance suite, plus what only it promises: trimming on
//! reopen and acknowledged writes surviving `kill -9`.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;

use super::{EmbeddedConfig, RedbStore};
use crate::conformance::{self, StoreSpec};
use crate::{Error, ListOptions, Store};

fn config(history: usize) -> EmbeddedConfig {
    EmbeddedConfig {
        history,
        ..EmbeddedConfig::default()
    }
}

fn open(path: &Path, history: usize) -> Arc<dyn Store> {
    Arc::new(RedbStore::open(path, config(history)).expect("open store"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance() {
    let dir = tempfile::tempdir().unwrap();
    let files = AtomicUsize::new(0);
    conformance::run_all(|spec: StoreSpec| {
        let path = dir
            .path()
            .join(format!("{}.redb", files.fetch_add(1, Ordering::Relaxed)));
        async move { open(&path, spec.history) }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn durable_conformance() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.redb");
    conformance::run_durable(|spec: StoreSpec| {
        let path = path.clone();
        async move { open(&path, spec.history) }
    })
    .await;
}

#[tokio::test]
async fn reopening_with_a_smaller_history_trims_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.redb");
    let store = open(&path, 100);
    for i in 0..10 {
        store
            .create(&format!("/t/{i}"), Bytes::from("v"))
            .await
            .unwrap();
    }
    drop(store);

    for _ in 0..2 {
        let store = open(&path, 3);
        assert_eq!(store.compacted_revision(), 7);
        assert!(matches!(
            store.watch("/t/", 6).await,
            Err(Error::Expired {
                requested: 6,
                oldest: 7
            })
        ));
        let mut tail = store.watch("/t/", 7).await.unwrap();
        for want in 8..=10 {
            let event = tail.next().await.unwrap().unwrap();
            assert_eq!(event.kv.mod_revision, want);
        }
        let all = store.list("/t/", ListOptions::default()).await.unwrap();
        assert_eq!((all.items.len(), all.revision), (10, 10));
    }
}

/// A file written by the format 1 layout (a change-log row per event) opens with its history.
#[tokio::test]
async fn a_format_1_change_log_is_converted() {
    use super::tables::{
        CHANGELOG_V1, FORMAT_VERSION_V1, META, META_FORMAT, META_REVISION, OBJECTS,
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.redb");
    {
        let db = redb::Database::create(&path).unwrap();
        let txn = db.begin_write().unwrap();
        {
            let mut meta = txn.open_table(META).unwrap();
            meta.insert(META_FORMAT, FORMAT_VERSION_V1).unwrap();
            meta.insert(META_REVISION, 3).unwrap();
            let mut objects = txn.open_table(OBJECTS).unwrap();
            objects.insert("/t/a", (1, 3, b"a2".as_slice())).unwrap();
            let mut log = txn.open_table(CHANGELOG_V1).unwrap();
            log.insert(1, (1, 1, 0, "/t/a", b"a1".as_slice(), b"".as_slice()))
                .unwrap();
            log.insert(2, (1, 2, 0, "/t/b", b"b1".as_slice(), b"".as_slice()))
                .unwrap();
            log.insert(3, (2, 1, 1, "/t/a", b"a2".as_slice(), b"a1".as_slice()))
                .unwrap();
        }
        txn.commit().unwrap();
    }
    for reopen in 0..2 {
        let store = open(&path, 100);
        let mut watch = store.watch("/t/", 0).await.unwrap();
        let mut seen = Vec::new();
        for _ in 0..3 + reopen {
            let event = watch.next().await.unwrap().unwrap();
            seen.push((event.kv.mod_revision, event.kv.key, event.kv.value));
        }
        assert_eq!(
            seen[..3],
            [
                (1, "/t/a".to_string(), Bytes::from("a1")),
                (2, "/t/b".to_string(), Bytes::from("b1")),
                (3, "/t/a".to_string(), Bytes::from("a2")),
            ]
        );
        if reopen == 0 {
            let kv = store.create("/t/c", Bytes::from("c1")).await.unwrap();
            assert_eq!(kv.mod_revision, 4);
        }
    }
}

#[tokio::test]
async fn writes_after_shutdown_are_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    let store = RedbStore::open(&dir.path().join("store.redb"), EmbeddedConfig::default()).unwrap();
    let mut watch = store.watch("/", 0).await.unwrap();
    store.create("/k", Bytes::from("v")).await.unwrap();
    store.shutdown();
    store.shutdown();
    assert!(matches!(
        store.create("/j", Bytes::new()).await,
        Err(Error::Unavailable(_))
    ));
    // Reads still work, and the watch stream delivers what was written, then ends.
    assert!(store.get("/k").await.unwrap().is_some());
    assert_eq!(watch.next().await.unwrap().unwrap().kv.key, "/k");
    assert!(watch.next().await.is_none());
}

#[test]
fn a_file_that_is_not_a_store_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("garbage.redb");
    std::fs::write(&path, vec![0x5a; 4096]).unwrap();
    assert!(RedbStore::open(&path, EmbeddedConfig::default()).is_err());
}

// ---- write-ahead log ----

/// The epoch of the store file at `path` (closed).
fn log_epoch(path: &Path) -> i64 {
    use redb::ReadableDatabase;
    let db = redb::Database::open(path).unwrap();
    let txn = db.begin_read().unwrap();
    let meta = txn.open_table(super::tables::META).unwrap();
    let epoch = meta.get(super::tables::META_WAL_EPOCH).unwrap().unwrap();
    epoch.value()
}

/// Appends batches to the closed store's log as a writer killed before its next checkpoint
/// would have left them.
fn append_to_log(path: &Path, batches: &[&[crate::WatchEvent]]) {
    let (mut wal, _) =
        super::wal::Wal::open(&super::wal::Wal::path_for(path), log_epoch(path)).unwrap();
    for batch in batches {
        let mut row = Vec::new();
        for event in *batch {
            super::tables::encode_event(&mut row, event);
        }
        wal.append(batch.last().unwrap().revision(), &row).unwrap();
    }
}

fn created(key: &str, revision: i64) -> crate::WatchEvent {
    crate::ops::plan(
        key,
        None,
        crate::ops::Op::Create(Bytes::from(key.to_owned())),
        revision,
    )
    .unwrap()
}

#[tokio::test]
async fn opening_replays_the_logged_batches_after_the_files_revision() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.redb");
    let store = open(&path, 100);
    store.create("/a", Bytes::from_static(b"a")).await.unwrap();
    drop(store);
    // Revision 1 is in the file; a stale copy of it, then two batches that follow on, then one
    // that does not (a leftover from before a checkpoint) are in the log.
    let stale = created("/a", 1);
    let deleted = crate::ops::plan(
        "/b",
        Some(created("/b", 2).kv),
        crate::ops::Op::Delete {
            expected_mod_revision: None,
        },
        4,
    )
    .unwrap();
    append_to_log(
        &path,
        &[
            &[stale],
            &[created("/b", 2), created("/c", 3)],
            &[deleted],
            &[created("/gap", 9)],
        ],
    );

    let store = open(&path, 100);
    assert_eq!(store.current_revision().await.unwrap(), 4);
    let keys: Vec<String> = store
        .list("/", ListOptions::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|kv| kv.key)
        .collect();
    assert_eq!(keys, ["/a", "/c"]);
    // The replayed batches are in the watch history, and writes go on from them.
    let mut watch = store.watch("/", 1).await.unwrap();
    for revision in 2..=4 {
        assert_eq!(watch.next().await.unwrap().unwrap().revision(), revision);
    }
    let next = store.create("/d", Bytes::from_static(b"d")).await.unwrap();
    assert_eq!(next.mod_revision, 5);
    drop((watch, store));
    // Replayed once, and a clean close leaves no log: the file holds everything.
    assert!(!super::wal::Wal::path_for(&path).exists());
    let store = open(&path, 100);
    assert_eq!(store.current_revision().await.unwrap(), 5);
}

#[tokio::test]
async fn a_log_left_by_another_store_file_is_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.redb");
    drop(open(&path, 100));
    append_to_log(&path, &[&[created("/mine", 1)]]);
    // The file is replaced (as a restore does) by one with its own epoch.
    std::fs::remove_file(&path).unwrap();
    drop(open(&path, 100));
    let store = open(&path, 100);
    assert_eq!(store.current_revision().await.unwrap(), 0);
}

#[tokio::test]
async fn a_file_of_format_2_opens_and_gets_a_log() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.redb");
    let store = open(&path, 100);
    store.create("/a", Bytes::from_static(b"a")).await.unwrap();
    drop(store);
    {
        let db = redb::Database::open(&path).unwrap();
        let txn = db.begin_write().unwrap();
        {
            let mut meta = txn.open_table(super::tables::META).unwrap();
            meta.insert(super::tables::META_FORMAT, super::tables::FORMAT_VERSION_V2)
                .unwrap();
            meta.remove(super::tables::META_WAL_EPOCH).unwrap();
        }
        txn.commit().unwrap();
    }
    let store = open(&path, 100);
    assert!(store.get("/a").await.unwrap().is_some());
    store.create("/b", Bytes::from_static(b"b")).await.unwrap();
    drop(store);
    log_epoch(&path);
}

/// Compare-and-swap increments from many tasks: each update is planned while earlier ones may
/// still be on their way to disk, so a precondition must be judged against those too, or
/// increments are lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_compare_and_swap_loses_no_increment() {
    const TASKS: usize = 8;
    const EACH: usize = 40;
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("store.redb"), 10_000);
    store
        .create("/counter", Bytes::from_static(b"0"))
        .await
        .unwrap();
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let mut done = 0;
                while done < EACH {
                    let current = store.get("/counter").await.unwrap().unwrap();
                    let n: usize = std::str::from_utf8(&current.value)
                        .unwrap()
                        .parse()
                        .unwrap();
                    let next = Bytes::from((n + 1).to_string());
                    match store
                        .update("/counter", next, Some(current.mod_revision))
                        .await
                    {
                        Ok(_) => done += 1,
                        Err(Error::Conflict { .. }) => {}
                        Err(other) => panic!("{other}"),
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let counter = store.get("/counter").await.unwrap().unwrap();
    assert_eq!(counter.value, (TASKS * EACH).to_string().as_bytes());
    // One revision per successful write, none for the conflicts.
    assert_eq!(counter.mod_revision, 1 + (TASKS * EACH) as i64);
}

/// Writes to one key sent back to back, without waiting, land in order in one pipeline.
#[tokio::test]
async fn back_to_back_writes_to_one_key_apply_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("store.redb"), 10_000);
    for round in 0..50 {
        let key = format!("/k{round}");
        let (created, updated, deleted, recreated) = futures::join!(
            store.create(&key, Bytes::from_static(b"1")),
            store.update(&key, Bytes::from_static(b"2"), None),
            store.delete(&key, None),
            store.create(&key, Bytes::from_static(b"3")),
        );
        let created = created.unwrap();
        assert_eq!(updated.unwrap().mod_revision, created.mod_revision + 1);
        assert_eq!(deleted.unwrap().mod_revision, created.mod_revision + 2);
        let recreated = recreated.unwrap();
        assert_eq!(recreated.create_revision, created.mod_revision + 3);
        assert_eq!(store.get(&key).await.unwrap().unwrap().value, "3");
    }
}

// ---- crash test ----

/// Set (to a file path) in the environment of the child process of the crash test.
const CRASH_CHILD_ENV: &str = "STORE_CRASH_CHILD_PATH";
/// The child's checkpoint interval in ms: odd trials checkpoint every few ms, so the kill lands
/// among checkpoints; even ones at the default, so it lands before the first.
const CRASH_CHECKPOINT_ENV: &str = "STORE_CRASH_CHILD_CHECKPOINT_MS";
const CRASH_CHILD_TEST: &str = "redb_store::tests::crash_child";
const CRASH_TRIALS: usize = 5;

fn crash_value(key: &str) -> String {
    format!("value of {key}")
}

/// The child of the crash test: writes concurrently and prints each acknowledged key until it
/// is killed. Without the environment variable (an ordinary test run) it does nothing.
#[test]
fn crash_child() {
    let Some(path) = std::env::var_os(CRASH_CHILD_ENV).map(PathBuf::from) else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let checkpoint_ms = std::env::var(CRASH_CHECKPOINT_ENV)
        .ok()
        .and_then(|ms| ms.parse().ok())
        .unwrap_or(1000);
    let config = EmbeddedConfig {
        checkpoint_interval: Duration::from_millis(checkpoint_ms),
        ..EmbeddedConfig::default()
    };
    runtime.block_on(async move {
        let store: Arc<dyn Store> = Arc::new(RedbStore::open(&path, config).unwrap());
        let writers: Vec<_> = (0..16)
            .map(|task| {
                let store = Arc::clone(&store);
                tokio::spawn(async move {
                    for i in 0.. {
                        let key = format!("/crash/{}/{task:02}/{i:06}", std::process::id());
                        store
                            .create(&key, Bytes::from(crash_value(&key)))
                            .await
                            .unwrap();
                        // One write per line so the parent never sees half an acknowledgement
                        // as a whole one.
                        let mut out = std::io::stdout().lock();
                        writeln!(out, "ACK {key}").unwrap();
                        out.flush().unwrap();
                    }
                })
            })
            .collect();
        for writer in writers {
            writer.await.unwrap();
        }
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_kill_9() {
    for trial in 0..CRASH_TRIALS {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.redb");
        let mut acknowledged = Vec::new();
        // Earlier trials also check that a crashed file reopens and keeps taking writes.
        let rounds = 1 + trial % 2;
        for round in 0..rounds {
            let wait_for = 100 + 150 * trial + round * 50;
            let checkpoint_ms = if trial % 2 == 1 { 3 } else { 1000 };
            acknowledged.extend(crash_child_run(&path, wait_for, checkpoint_ms));
        }
        assert!(!acknowledged.is_empty());

        let store = RedbStore::open(&path, EmbeddedConfig::default()).unwrap();
        let stored: BTreeMap<String, Bytes> = store
            .list("/crash/", ListOptions::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .map(|kv| (kv.key, kv.value))
            .collect();
        for key in &acknowledged {
            let value = stored
                .get(key)
                .unwrap_or_else(|| panic!("trial {trial}: acknowledged {key} lost"));
            assert_eq!(
                value,
                crash_value(key).as_bytes(),
                "trial {trial}: value of {key}"
            );
        }
        // Revisions stay gap-free across the crash: one per stored key, and the history agrees.
        let revision = store.current_revision().await.unwrap();
        assert_eq!(revision, stored.len() as i64, "trial {trial}");
        assert_eq!(
            store.compacted_revision(),
            revision.saturating_sub(10_000).max(0)
        );
    }
}

/// Runs the crash child on `path` until it acknowledged `wait_for` writes, kills it, and returns
/// every key it acknowledged (including those printed between the read and the kill).
fn crash_child_run(path: &Path, wait_for: usize, checkpoint_ms: u64) -> Vec<String> {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            CRASH_CHILD_TEST,
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CRASH_CHILD_ENV, path)
        .env(CRASH_CHECKPOINT_ENV, checkpoint_ms.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut acknowledged = Vec::new();
    let mut line = String::new();
    while acknowledged.len() < wait_for {
        line.clear();
        if stdout.read_line(&mut line).unwrap() == 0 {
            let status = child.wait().unwrap();
            panic!(
                "crash child exited early ({status}) after {} writes",
                acknowledged.len()
            );
        }
        acknowledged.extend(acknowledged_key(&line));
    }
    // SIGKILL on unix: no destructor, no flush, no clean shutdown of the store.
    child.kill().unwrap();
    child.wait().unwrap();
    // Acknowledgements still in the pipe count too.
    let mut rest = Vec::new();
    stdout.read_to_end(&mut rest).unwrap();
    let rest = String::from_utf8_lossy(&rest);
    acknowledged.extend(rest.split_inclusive('\n').filter_map(acknowledged_key));
    acknowledged
}

/// The key of a complete acknowledgement line; a line torn by the kill has no newline.
fn acknowledged_key(line: &str) -> Option<String> {
    let key = line.strip_suffix('\n')?.strip_prefix("ACK ")?;
    Some(key.to_owned())
}

// ---- restart time after a crash ----

const RESTART_CHILD_ENV: &str = "STORE_RESTART_CHILD_PATH";
const RESTART_CHILD_TEST: &str = "redb_store::tests::restart_child";

fn restart_objects() -> usize {
    std::env::var("STORE_RESTART_OBJECTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000)
}

/// The child of the restart probe: creates `restart_objects()` objects of ~1.3 KiB from 64
/// tasks, prints `FILLED`, then keeps writing until it is killed.
#[test]
fn restart_child() {
    let Some(path) = std::env::var_os(RESTART_CHILD_ENV).map(PathBuf::from) else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let mut config = EmbeddedConfig::default();
        if let Ok(quick_repair) = std::env::var("STORE_RESTART_QUICK_REPAIR") {
            config.quick_repair = quick_repair == "1";
        }
        let store: Arc<dyn Store> = Arc::new(RedbStore::open(&path, config).unwrap());
        let objects = restart_objects();
        let value = Bytes::from("x".repeat(1300));
        let tasks = 64;
        let fill: Vec<_> = (0..tasks)
            .map(|task| {
                let store = Arc::clone(&store);
                let value = value.clone();
                tokio::spawn(async move {
                    for i in (task..objects).step_by(tasks) {
                        let key = format!("/registry/configmaps/default/object-{i:07}");
                        store.create(&key, value.clone()).await.unwrap();
                    }
                })
            })
            .collect();
        for task in fill {
            task.await.unwrap();
        }
        println!("FILLED");
        for i in 0.. {
            let key = format!("/registry/configmaps/default/more-{i:07}");
            store.create(&key, value.clone()).await.unwrap();
        }
    });
}

/// How long the store takes to open after `kill -9` with `restart_objects()` objects (100k by
/// default): the restart-to-serving budget is 2 s. A probe, run by hand:
/// `cargo test --release -p store restart_after_kill -- --ignored --nocapture`.
#[test]
#[ignore = "a timing probe that writes ~150 MB"]
fn restart_after_kill() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.redb");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            RESTART_CHILD_TEST,
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(RESTART_CHILD_ENV, &path)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        assert!(stdout.read_line(&mut line).unwrap() > 0, "child exited");
        // libtest may print "test … ... " before the line on the same line.
        if line.trim_end().ends_with("FILLED") {
            break;
        }
    }
    let filled = started.elapsed();
    std::thread::sleep(std::time::Duration::from_millis(200));
    child.kill().unwrap();
    child.wait().unwrap();
    let size = std::fs::metadata(&path).unwrap().len();
    let opening = std::time::Instant::now();
    let store = RedbStore::open(&path, EmbeddedConfig::default()).unwrap();
    let opened = opening.elapsed();
    eprintln!(
        "filled {} objects in {filled:?}; file {} MB; reopened after kill -9 in {opened:?}",
        restart_objects(),
        size / 1_000_000
    );
    drop(store);
    assert!(opened < std::time::Duration::from_secs(2));
}
