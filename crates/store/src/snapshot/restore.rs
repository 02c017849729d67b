//! Restoring a snapshot file into a new embedded store file or into etcd (see the module doc of
//! `snapshot` for the guarantees).

use std::path::Path;

use super::error::{Result, SnapshotError};
use super::file::{self, Summary, sync_dir};
use crate::redb_store::snapshot::{OpenFailure, build, hold};

/// How to restore.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RestoreOptions {
    /// Delete what the target holds instead of refusing a non-empty target.
    pub replace: bool,
    /// Start the restored embedded store this many revisions after the snapshot's, like
    /// `etcdutl snapshot restore --bump-revision --mark-compacted`: every resourceVersion a
    /// client may hold from the old server (up to the bump) is then older than the new store's
    /// history, so its watch gets `410 Gone` and relists instead of waiting for revisions the
    /// new store has not reached. Keys keep their own revisions. Must be 0 for etcd, which
    /// numbers revisions itself.
    pub bump_revision: i64,
}

/// What a restore did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restored {
    /// The snapshot restored (verified before anything was written).
    pub summary: Summary,
    /// Keys written.
    pub written: u64,
    /// Keys the target held before and `replace` deleted.
    pub replaced: u64,
    /// The target's revision after the restore: the snapshot's revision for the embedded
    /// store, etcd's revision of the last write for etcd.
    pub revision: i64,
}

/// Restores the snapshot at `file` as the embedded store file `store_path`.
///
/// The new store is built beside `store_path` and renamed over it only when complete, so the
/// target is either untouched or fully restored. Fails with [`SnapshotError::StoreInUse`] while
/// a server holds `store_path`, and [`SnapshotError::TargetNotEmpty`] if it holds keys and
/// `replace` is off. Blocking.
pub fn restore_embedded(
    file: &Path,
    store_path: &Path,
    options: &RestoreOptions,
) -> Result<Restored> {
    let summary = file::verify(file)?;
    let revision = u64::try_from(options.bump_revision)
        .ok()
        .and_then(|bump| {
            summary
                .header
                .revision
                .checked_add(i64::try_from(bump).ok()?)
        })
        .ok_or_else(|| {
            SnapshotError::Invalid(format!(
                "cannot bump revision {} by {}",
                summary.header.revision, options.bump_revision
            ))
        })?;
    // Held until the new file is in place, so no server opens the old one meanwhile.
    let held = match hold(store_path) {
        Ok(held) => Some(held),
        Err(OpenFailure::Missing) => None,
        Err(OpenFailure::InUse) => {
            return Err(SnapshotError::StoreInUse {
                path: store_path.to_owned(),
            });
        }
        // An unreadable store is replaced only when asked to.
        Err(OpenFailure::Other(_)) if options.replace => None,
        Err(OpenFailure::Other(e)) => return Err(e.into()),
    };
    let replaced = held.as_ref().map_or(0, |held| held.keys);
    if replaced > 0 && !options.replace {
        return Err(SnapshotError::TargetNotEmpty {
            target: store_path.display().to_string(),
            keys: replaced,
        });
    }
    if let Some(dir) = store_path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| SnapshotError::io("creating the data dir", dir, e))?;
    }
    let name = store_path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = store_path.with_file_name(format!(".{name}.restore-{}", std::process::id()));
    let _ = std::fs::remove_file(&temp);
    let built = (|| {
        let mut entries = file::open(file)?;
        let written = build(&temp, revision, || next_restorable(&mut entries))?;
        same_file(&summary, entries.sha256())?;
        Ok::<_, SnapshotError>(written)
    })();
    let written = match built {
        Ok(written) => written,
        Err(e) => {
            let _ = std::fs::remove_file(&temp);
            return Err(e);
        }
    };
    std::fs::rename(&temp, store_path).map_err(|e| {
        let _ = std::fs::remove_file(&temp);
        SnapshotError::io("renaming the restored store to", store_path, e)
    })?;
    sync_dir(store_path)?;
    drop(held);
    Ok(Restored {
        revision,
        summary,
        written,
        replaced,
    })
}

/// The second read of a file must be the file that was verified.
fn same_file(summary: &Summary, second: Option<String>) -> Result<()> {
    match second {
        Some(sum) if sum == summary.sha256 => Ok(()),
        _ => Err(SnapshotError::Invalid(
            "the snapshot file changed while it was being restored".into(),
        )),
    }
}

/// Restores the snapshot at `file` into etcd under `config`'s prefix.
///
/// Every key of the snapshot must map into the prefix (store keys under `config.store_root`).
/// The keys are created in transactions of up to 100, each failing as a whole if one of its
/// keys exists, so a writer racing the restore is detected, not overwritten. A marker key is
/// set for the duration: if the restore fails part way it stays, the error says how far it
/// got, and [`crate::EtcdStore::connect`] refuses the prefix until a restore with `replace`
/// completes.
#[cfg(feature = "etcd")]
pub async fn restore_etcd(
    file: &Path,
    mut config: crate::EtcdConfig,
    options: &RestoreOptions,
) -> Result<Restored> {
    use crate::etcd::snapshot::{RESTORE_BATCH_BYTES, RESTORE_BATCH_KEYS, marker_key};

    if options.bump_revision != 0 {
        return Err(SnapshotError::Invalid(
            "a revision bump applies to the embedded store only: etcd numbers its revisions itself, and restored objects get new resourceVersions there".into(),
        ));
    }
    config.compaction_interval = None;
    let store = crate::EtcdStore::connect_unchecked(config)
        .await
        .map_err(|e| SnapshotError::Etcd(e.to_string()))?;
    let prefix = store.etcd_prefix().to_owned();
    let marker = marker_key(&prefix);
    // Verify the whole file, and that every key has a place in the prefix, before writing.
    let summary = file::verify_with(file, |kv| {
        if store.holds_key(&kv.key) {
            Ok(())
        } else {
            Err(SnapshotError::Invalid(format!(
                "key {:?} is outside the etcd store's key space (store keys must start with its root)",
                kv.key
            )))
        }
    })?;
    if let Some(note) = store.restore_marker().await?
        && !options.replace
    {
        return Err(SnapshotError::UnfinishedRestore {
            prefix,
            marker,
            note,
        });
    }
    let existing = store.key_count().await?;
    if existing > 0 && !options.replace {
        return Err(SnapshotError::TargetNotEmpty {
            target: format!("etcd prefix {prefix}"),
            keys: existing,
        });
    }
    let total = summary.header.count;
    let note = format!(
        "restore of {} (revision {}, {total} keys, sha256 {}) started at Unix time {}",
        file.display(),
        summary.header.revision,
        summary.sha256,
        super::unix_now()
    );
    store.set_restore_marker(Some(&note)).await?;
    let mut written = 0u64;
    let partial = |written: u64, cause: String| SnapshotError::PartialRestore {
        written,
        total,
        prefix: prefix.clone(),
        marker: marker.clone(),
        cause,
    };
    let replaced = if options.replace {
        store
            .delete_all()
            .await
            .map_err(|e| partial(0, format!("deleting the existing keys: {e}")))?
    } else {
        0
    };
    let mut entries = file::open(file).map_err(|e| partial(0, e.to_string()))?;
    let mut revision = 0;
    let mut batch = Vec::with_capacity(RESTORE_BATCH_KEYS);
    let mut batch_bytes = 0;
    loop {
        let next = next_restorable(&mut entries).map_err(|e| partial(written, e.to_string()))?;
        let size = next.as_ref().map_or(0, |kv| kv.key.len() + kv.value.len());
        // Sent before it would outgrow a transaction; a single key larger than that goes
        // alone, and etcd refuses it only if it exceeds etcd's own request limit.
        let full = batch.len() >= RESTORE_BATCH_KEYS || batch_bytes + size > RESTORE_BATCH_BYTES;
        if !batch.is_empty() && (next.is_none() || full) {
            revision = store.create_batch(&batch).await.map_err(|e| {
                let cause = match e {
                    crate::Error::AlreadyExists { key } => format!(
                        "a key of the batch from {key:?} appeared in etcd during the restore (is a server running on this prefix?)"
                    ),
                    other => other.to_string(),
                };
                partial(written, cause)
            })?;
            written += batch.len() as u64;
            batch.clear();
            batch_bytes = 0;
        }
        let Some(kv) = next else { break };
        batch_bytes += size;
        batch.push(kv);
    }
    same_file(&summary, entries.sha256()).map_err(|e| partial(written, e.to_string()))?;
    store
        .set_restore_marker(None)
        .await
        .map_err(|e| partial(written, format!("clearing the marker: {e}")))?;
    if revision == 0 {
        revision = crate::Store::current_revision(&store).await?;
    }
    Ok(Restored {
        summary,
        written,
        replaced,
        revision,
    })
}

/// Keys under this prefix are the API server replicas' liveness records (the `kubernetes`
/// Endpoints list the replicas holding one). They describe processes, not cluster state: a
/// restored cluster's replicas write their own, and restored ones would list replicas that
/// do not exist until they expired.
pub const PROCESS_RECORDS_PREFIX: &str = "/registry/masterleases/";

/// The next entry a restore writes: every entry but the replicas' liveness records.
fn next_restorable<R: std::io::Read>(
    entries: &mut super::format::Decoder<R>,
) -> Result<Option<crate::KeyValue>> {
    loop {
        match entries.next_entry()? {
            Some(kv) if kv.key.starts_with(PROCESS_RECORDS_PREFIX) => continue,
            other => return Ok(other),
        }
    }
}
