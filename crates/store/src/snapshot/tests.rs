//! The file format (round trip and every way a file can be wrong), and saving and restoring
//! real stores: the embedded store (also while it is written to) and etcd (skipped without the
//! `etcd` binary unless `CI` is set), including the move from the embedded store to etcd.

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt;

use super::*;
use crate::{EmbeddedConfig, Error, KeyValue, ListOptions, MemoryStore, RedbStore, Store};

fn kv(key: &str, value: &str, create: i64, modified: i64) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Bytes::copy_from_slice(value.as_bytes()),
        create_revision: create,
        mod_revision: modified,
    }
}

fn sample() -> (Header, Vec<KeyValue>) {
    let header = Header {
        revision: 9,
        count: 3,
        taken_at: 1_700_000_000,
        source: "test".into(),
    };
    let entries = vec![
        kv("/registry/namespaces/default", "{\"a\":1}", 1, 1),
        kv("/registry/services/default/web", "", 2, 7),
        kv("/registry/services/default/wéb", "\u{0}\u{ff}binary", 9, 9),
    ];
    (header, entries)
}

fn encode_all(header: &Header, entries: &[KeyValue]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = Encoder::new(header, &mut out);
    for entry in entries {
        encoder.entry(entry, &mut out).unwrap();
    }
    encoder.finish(&mut out).unwrap();
    out
}

fn decode_all(bytes: &[u8]) -> Result<(Header, Vec<KeyValue>, String)> {
    let mut decoder = Decoder::new(bytes)?;
    let mut entries = Vec::new();
    while let Some(entry) = decoder.next_entry()? {
        entries.push(entry);
    }
    let sum = decoder.sha256().expect("verified at the end");
    Ok((decoder.header().clone(), entries, sum))
}

#[test]
fn format_round_trips() {
    let (header, entries) = sample();
    let bytes = encode_all(&header, &entries);
    assert_eq!(&bytes[..8], MAGIC);
    let (got_header, got_entries, sum) = decode_all(&bytes).unwrap();
    assert_eq!(got_header, header);
    assert_eq!(got_entries, entries);
    assert_eq!(sum.len(), 64);

    let empty = Header { count: 0, ..header };
    let (got, none, _) = decode_all(&encode_all(&empty, &[])).unwrap();
    assert_eq!(got, empty);
    assert!(none.is_empty());
}

#[test]
fn every_truncation_is_reported_as_such() {
    let (header, entries) = sample();
    let bytes = encode_all(&header, &entries);
    for cut in 0..bytes.len() {
        let err = decode_all(&bytes[..cut]).unwrap_err();
        match err {
            SnapshotError::NotASnapshot { .. } if cut < MAGIC.len() => {}
            SnapshotError::Truncated { .. } if cut >= MAGIC.len() => {}
            other => panic!("cut at {cut} of {}: {other}", bytes.len()),
        }
    }
}

#[test]
fn damage_is_caught_by_the_checksum() {
    let (header, entries) = sample();
    let bytes = encode_all(&header, &entries);
    // A byte inside the first value, and one inside the header's source.
    let value_at = bytes.windows(7).position(|w| w == b"{\"a\":1}").unwrap();
    let source_at = bytes.windows(4).position(|w| w == b"test").unwrap();
    for at in [value_at + 2, source_at] {
        let mut damaged = bytes.clone();
        damaged[at] ^= 0x20;
        let err = decode_all(&damaged).unwrap_err();
        assert!(
            matches!(err, SnapshotError::ChecksumMismatch { .. }),
            "byte {at}: {err}"
        );
        assert!(err.to_string().contains("checksum mismatch"), "{err}");
    }
}

#[test]
fn wrong_magic_version_and_trailing_data_are_clear_errors() {
    let (header, entries) = sample();
    let bytes = encode_all(&header, &entries);

    let mut magic = bytes.clone();
    magic[0] = b'X';
    let err = decode_all(&magic).unwrap_err();
    assert!(matches!(err, SnapshotError::NotASnapshot { .. }), "{err}");
    assert!(err.to_string().contains("not a svcplane snapshot"), "{err}");
    let err = decode_all(b"{\"kind\":\"Status\"}").unwrap_err();
    assert!(matches!(err, SnapshotError::NotASnapshot { .. }), "{err}");

    let mut version = bytes.clone();
    version[8..12].copy_from_slice(&2u32.to_be_bytes());
    let err = decode_all(&version).unwrap_err();
    assert!(
        matches!(
            err,
            SnapshotError::UnsupportedVersion {
                found: 2,
                supported: 1
            }
        ),
        "{err}"
    );

    let mut trailing = bytes.clone();
    trailing.push(0);
    let err = decode_all(&trailing).unwrap_err();
    assert!(matches!(err, SnapshotError::Invalid(_)), "{err}");
}

#[test]
fn impossible_content_is_refused_on_both_sides() {
    let (header, entries) = sample();
    // The encoder checks order, revisions and the announced count.
    let mut out = Vec::new();
    let mut encoder = Encoder::new(&header, &mut out);
    encoder.entry(&entries[1], &mut out).unwrap();
    assert!(
        encoder.entry(&entries[0], &mut out).is_err(),
        "out of order"
    );
    assert!(encoder.entry(&entries[1], &mut out).is_err(), "duplicate");
    let future = kv("/registry/z", "", 3, header.revision + 1);
    assert!(
        encoder.entry(&future, &mut out).is_err(),
        "after the revision"
    );
    assert!(encoder.finish(&mut out).is_err(), "fewer than announced");

    // A header whose revision is older than an entry's is caught before the checksum.
    let mut bytes = encode_all(&header, &entries);
    bytes[12..20].copy_from_slice(&5i64.to_be_bytes());
    let err = decode_all(&bytes).unwrap_err();
    assert!(matches!(err, SnapshotError::Invalid(_)), "{err}");
    assert!(err.to_string().contains("impossible"), "{err}");

    // More entries announced than present: the trailer is read as an entry and runs out.
    let mut bytes = encode_all(&header, &entries);
    bytes[20..28].copy_from_slice(&4u64.to_be_bytes());
    assert!(decode_all(&bytes).is_err());
}

async fn fill(store: &dyn Store, n: usize) {
    for i in 0..n {
        store
            .create(
                &format!("/registry/things/ns/{i:05}"),
                Bytes::from(format!("value {i}")),
            )
            .await
            .unwrap();
    }
}

async fn all(store: &dyn Store) -> (i64, Vec<KeyValue>) {
    let list = store.list("", ListOptions::default()).await.unwrap();
    (list.revision, list.items)
}

#[tokio::test]
async fn a_failed_save_leaves_no_file_and_a_good_one_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let store = MemoryStore::new();
    fill(&store, 5).await;
    let path = dir.path().join("snap.db");

    // A source that breaks in the middle.
    let broken = Export {
        revision: 5,
        count: 5,
        pages: futures::stream::iter(vec![
            Ok(vec![kv("/registry/a", "", 1, 1)]),
            Err(Error::Unavailable("etcd went away".into())),
        ])
        .boxed(),
    };
    let err = save(broken, "broken".into(), &path).await.unwrap_err();
    assert!(err.to_string().contains("etcd went away"), "{err}");
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(left.is_empty(), "a failed save left {left:?}");

    let summary = save(store.export("").await.unwrap(), "memory".into(), &path)
        .await
        .unwrap();
    assert_eq!(summary.header.count, 5);
    assert_eq!(summary.header.revision, 5);
    assert_eq!(summary.header.source, "memory");
    assert_eq!(verify(&path).unwrap(), summary);
}

fn open_redb(path: &Path) -> RedbStore {
    RedbStore::open(path, EmbeddedConfig::default()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_export_is_one_revision_while_writes_go_on() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(open_redb(&dir.path().join("store.redb")));
    // More than one export page, so later pages are read after the writes below.
    fill(store.as_ref(), 2_500).await;
    let (revision, before) = all(store.as_ref()).await;

    let export = store.export("").await.unwrap();
    assert_eq!((export.revision, export.count), (revision, 2_500));
    for i in (0..2_500).step_by(50) {
        let key = format!("/registry/things/ns/{i:05}");
        if i % 100 == 0 {
            store.delete(&key, None).await.unwrap();
        } else {
            store
                .update(&key, Bytes::from("changed"), None)
                .await
                .unwrap();
        }
    }
    store
        .create("/registry/things/ns/new", Bytes::new())
        .await
        .unwrap();
    let exported: Vec<KeyValue> = export.pages.map(|page| page.unwrap()).concat().await;
    assert_eq!(
        exported, before,
        "the export is the store as of its revision"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_restore_keeps_keys_and_revisions() {
    let dir = tempfile::tempdir().unwrap();
    let source_path = dir.path().join("a/store.redb");
    std::fs::create_dir_all(source_path.parent().unwrap()).unwrap();
    let source = open_redb(&source_path);
    fill(&source, 30).await;
    source
        .update("/registry/things/ns/00003", Bytes::from("v2"), None)
        .await
        .unwrap();
    source
        .delete("/registry/things/ns/00004", None)
        .await
        .unwrap();
    let (revision, items) = all(&source).await;
    let file = dir.path().join("backup.snap");

    // The open store is locked: saving from its file says so; saving through it works.
    let err = export_embedded(&source_path).await.unwrap_err();
    assert!(matches!(err, SnapshotError::StoreInUse { .. }), "{err}");
    save(source.export("").await.unwrap(), "a".into(), &file)
        .await
        .unwrap();
    let err = restore_embedded(&file, &source_path, &RestoreOptions::default()).unwrap_err();
    assert!(matches!(err, SnapshotError::StoreInUse { .. }), "{err}");
    drop(source);

    // A stopped store saves from its file, to the same bytes but for the time taken.
    let again = dir.path().join("again.snap");
    let summary = save(
        export_embedded(&source_path).await.unwrap(),
        "a".into(),
        &again,
    )
    .await
    .unwrap();
    assert_eq!(
        (summary.header.revision, summary.header.count),
        (revision, 29)
    );

    let target = dir.path().join("b/store.redb");
    let restored = restore_embedded(&file, &target, &RestoreOptions::default()).unwrap();
    assert_eq!((restored.written, restored.replaced), (29, 0));
    assert_eq!(restored.revision, revision);
    let store = open_redb(&target);
    assert_eq!(all(&store).await, (revision, items.clone()));
    assert_eq!(store.current_revision().await.unwrap(), revision);
    // History starts at the restore: older watches relist, new writes continue the revisions.
    assert!(matches!(
        store.watch("", revision - 1).await,
        Err(Error::Expired { .. })
    ));
    let mut watch = store.watch("", revision).await.unwrap();
    let created = store
        .create("/registry/things/ns/after", Bytes::new())
        .await
        .unwrap();
    assert_eq!(created.mod_revision, revision + 1);
    assert_eq!(
        watch.next().await.unwrap().unwrap().revision(),
        revision + 1
    );
    drop(watch);
    drop(store);

    // A non-empty target is refused, untouched; --replace replaces it.
    let err = restore_embedded(&file, &target, &RestoreOptions::default()).unwrap_err();
    assert!(
        matches!(err, SnapshotError::TargetNotEmpty { keys: 30, .. }),
        "{err}"
    );
    // A damaged snapshot is refused before anything is written, even with replace.
    let damaged = dir.path().join("damaged.snap");
    let mut bytes = std::fs::read(&file).unwrap();
    let last = bytes.len() - 40;
    bytes[last] ^= 1;
    std::fs::write(&damaged, bytes).unwrap();
    let replace = RestoreOptions {
        replace: true,
        ..RestoreOptions::default()
    };
    assert!(restore_embedded(&damaged, &target, &replace).is_err());
    let store = open_redb(&target);
    assert_eq!(all(&store).await.1.len(), 30, "the target is untouched");
    drop(store);

    let restored = restore_embedded(&file, &target, &replace).unwrap();
    assert_eq!((restored.written, restored.replaced), (29, 30));
    let store = open_redb(&target);
    assert_eq!(all(&store).await, (revision, items.clone()));
    drop(store);

    // With a bump, resourceVersions handed out after the backup are history to the new store.
    let bumped = RestoreOptions {
        replace: true,
        bump_revision: 1_000,
    };
    let restored = restore_embedded(&file, &target, &bumped).unwrap();
    assert_eq!(restored.revision, revision + 1_000);
    let store = open_redb(&target);
    assert_eq!(all(&store).await, (revision + 1_000, items));
    assert!(matches!(
        store.watch("", revision + 999).await,
        Err(Error::Expired { .. })
    ));
    let created = store
        .create("/registry/things/ns/after", Bytes::new())
        .await
        .unwrap();
    assert_eq!(created.mod_revision, revision + 1_001);
    drop(store);
    let negative = RestoreOptions {
        replace: true,
        bump_revision: -1,
    };
    assert!(restore_embedded(&file, &target, &negative).is_err());
    let names: Vec<_> = std::fs::read_dir(target.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["store.redb"], "no temporary files are left");
}

#[tokio::test]
async fn saving_a_missing_store_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let err = export_embedded(&dir.path().join("store.redb"))
        .await
        .unwrap_err();
    assert!(matches!(err, SnapshotError::NoStore { .. }), "{err}");
}

#[cfg(feature = "etcd")]
mod etcd {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use testkit::etcd::EtcdCluster;

    use super::*;
    use crate::{EtcdConfig, EtcdStore};

    /// Keeps `/registry` store keys under a prefix no other test uses.
    fn config(cluster: &EtcdCluster) -> EtcdConfig {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        EtcdConfig {
            prefix: format!("/snap{:04}", NEXT.fetch_add(1, Ordering::Relaxed)),
            compaction_interval: None,
            ..EtcdConfig::new(cluster.client_urls())
        }
    }

    async fn fill_concurrently(store: &EtcdStore, n: usize) {
        futures::stream::iter(0..n)
            .for_each_concurrent(32, |i| async move {
                store
                    .create(
                        &format!("/registry/things/ns/{i:05}"),
                        Bytes::from(format!("value {i}")),
                    )
                    .await
                    .unwrap();
            })
            .await;
    }

    fn without_revisions(items: Vec<KeyValue>) -> Vec<(String, Bytes)> {
        items.into_iter().map(|kv| (kv.key, kv.value)).collect()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn etcd_save_and_restore() {
        let Some(cluster) = EtcdCluster::start_or_skip(1).unwrap() else {
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let source_config = config(&cluster);
        let source = EtcdStore::connect(source_config.clone()).await.unwrap();
        // More than one export page (1,000 keys), so later pages are read at the first's
        // revision after the writes below.
        fill_concurrently(&source, 1_200).await;
        let (revision, before) = all(&source).await;

        let export = source.export("").await.unwrap();
        assert_eq!((export.revision, export.count), (revision, 1_200));
        for i in (0..1_200).step_by(7) {
            source
                .update(&format!("/registry/things/ns/{i:05}"), Bytes::new(), None)
                .await
                .unwrap();
        }
        source
            .delete("/registry/things/ns/01199", None)
            .await
            .unwrap();
        let file = dir.path().join("etcd.snap");
        let summary = save(export, "etcd".into(), &file).await.unwrap();
        assert_eq!(summary.header.revision, revision);
        let mut decoder = super::super::file::open(&file).unwrap();
        let mut saved = Vec::new();
        while let Some(kv) = decoder.next_entry().unwrap() {
            saved.push(kv);
        }
        assert_eq!(saved, before, "the export is etcd as of its revision");

        // Into a new prefix: same keys and values, etcd's own revisions.
        let target = config(&cluster);
        let restored = restore_etcd(&file, target.clone(), &RestoreOptions::default())
            .await
            .unwrap();
        assert_eq!(restored.written, 1_200);
        let store = EtcdStore::connect(target.clone()).await.unwrap();
        let (_, items) = all(&store).await;
        assert_eq!(without_revisions(items), without_revisions(before.clone()));

        // Non-empty targets are refused; --replace deletes what is there first.
        let err = restore_etcd(&file, source_config.clone(), &RestoreOptions::default())
            .await
            .unwrap_err();
        assert!(
            matches!(err, SnapshotError::TargetNotEmpty { keys: 1_199, .. }),
            "{err}"
        );
        let replace = RestoreOptions {
            replace: true,
            ..RestoreOptions::default()
        };
        let restored = restore_etcd(&file, source_config.clone(), &replace)
            .await
            .unwrap();
        assert_eq!((restored.written, restored.replaced), (1_200, 1_199));
        let (_, items) = all(&source).await;
        assert_eq!(without_revisions(items), without_revisions(before));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn large_values_restore_in_transactions_etcd_accepts() {
        let Some(cluster) = EtcdCluster::start_or_skip(1).unwrap() else {
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        // Two of these exceed etcd's default 1.5 MiB request limit together.
        let memory = MemoryStore::new();
        for i in 0..4 {
            let value = Bytes::from(vec![b'a' + i; 1_000_000]);
            memory
                .create(&format!("/registry/configmaps/ns/big-{i}"), value)
                .await
                .unwrap();
        }
        fill(&memory, 250).await;
        let file = dir.path().join("big.snap");
        save(memory.export("").await.unwrap(), "m".into(), &file)
            .await
            .unwrap();
        let target = config(&cluster);
        let restored = restore_etcd(&file, target.clone(), &RestoreOptions::default())
            .await
            .unwrap();
        assert_eq!(restored.written, 254);
        let store = EtcdStore::connect(target).await.unwrap();
        assert_eq!(
            without_revisions(all(&store).await.1),
            without_revisions(all(&memory).await.1)
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn embedded_to_etcd_and_unfinished_restores() {
        let Some(cluster) = EtcdCluster::start_or_skip(1).unwrap() else {
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let embedded = open_redb(&dir.path().join("store.redb"));
        fill(&embedded, 40).await;
        embedded
            .create("/registry/ipaddresses/10.96.0.10", Bytes::from("svc"))
            .await
            .unwrap();
        let (_, items) = all(&embedded).await;
        let file = dir.path().join("embedded.snap");
        save(embedded.export("").await.unwrap(), "embedded".into(), &file)
            .await
            .unwrap();
        drop(embedded);

        let target = config(&cluster);
        restore_etcd(&file, target.clone(), &RestoreOptions::default())
            .await
            .unwrap();
        let store = EtcdStore::connect(target.clone()).await.unwrap();
        assert_eq!(
            without_revisions(all(&store).await.1),
            without_revisions(items)
        );
        drop(store);

        // A restore that stopped part way leaves its marker: servers refuse the prefix, and a
        // plain restore says how to finish it.
        let unfinished = EtcdStore::connect_unchecked(target.clone()).await.unwrap();
        unfinished
            .set_restore_marker(Some("restore of x"))
            .await
            .unwrap();
        let err = EtcdStore::connect(target.clone()).await.unwrap_err();
        assert!(
            matches!(err, crate::etcd::ConnectError::UnfinishedRestore { .. }),
            "{err}"
        );
        assert!(err.to_string().contains("restore of x"), "{err}");
        let err = restore_etcd(&file, target.clone(), &RestoreOptions::default())
            .await
            .unwrap_err();
        assert!(
            matches!(err, SnapshotError::UnfinishedRestore { .. }),
            "{err}"
        );
        let bump = RestoreOptions {
            replace: true,
            bump_revision: 10,
        };
        let err = restore_etcd(&file, target.clone(), &bump)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("embedded store only"), "{err}");
        let replace = RestoreOptions {
            replace: true,
            ..RestoreOptions::default()
        };
        restore_etcd(&file, target.clone(), &replace).await.unwrap();
        EtcdStore::connect(target).await.expect("restore finished");

        // Keys outside the store root have no place in etcd: refused before writing.
        let odd = dir.path().join("odd.snap");
        let memory = MemoryStore::new();
        memory.create("/elsewhere/x", Bytes::new()).await.unwrap();
        save(memory.export("").await.unwrap(), "m".into(), &odd)
            .await
            .unwrap();
        let fresh = config(&cluster);
        let err = restore_etcd(&odd, fresh.clone(), &RestoreOptions::default())
            .await
            .unwrap_err();
        assert!(err.to_string().contains("outside"), "{err}");
        let store = EtcdStore::connect(fresh).await.unwrap();
        assert!(all(&store).await.1.is_empty(), "nothing was written");
    }
}
