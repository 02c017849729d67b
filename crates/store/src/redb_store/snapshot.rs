//! What backups need of the embedded store: a consistent export from one redb read
//! transaction (of the open store, or of a file no server holds, opened read-only unless it
//! needs the repair a crash leaves to do), and
//! building a new store file from a snapshot's entries.
//!
//! A redb read transaction is a snapshot: the writer keeps committing beside it, and the export
//! sees none of that. It runs on the blocking pool and hands pages over a small channel, so a
//! large store is never all in memory; holding the transaction only keeps redb from reusing the
//! pages it sees until the export ends.

use std::path::Path;

use futures::StreamExt;
use redb::{
    Database, DatabaseError, Durability, ReadOnlyDatabase, ReadTransaction, ReadableTableMetadata,
    TableError,
};
use tokio::sync::{mpsc, oneshot};

use super::read_revision;
use super::tables::{
    CHANGELOG, FORMAT_VERSION, META, META_FORMAT, META_REVISION, OBJECTS, from_redb, object_kv,
    object_row,
};
use super::wal::Wal;
use crate::keys::prefix_range;
use crate::{Error, Export, KeyValue, Result};

/// Keys per export page.
const PAGE: usize = 1000;

/// Exports every key under `prefix` as of the snapshot `txn` sees. `db` is the database `txn`
/// reads, kept open until the export ends (dropping a redb database closes its transactions).
pub(super) async fn export<D: Send + 'static>(
    db: D,
    txn: ReadTransaction,
    prefix: &str,
) -> Result<Export> {
    let range = prefix_range(prefix, None);
    let (head_tx, head_rx) = oneshot::channel::<Result<(i64, u64)>>();
    let (pages_tx, pages_rx) = mpsc::channel::<Result<Vec<KeyValue>>>(2);
    tokio::task::spawn_blocking(move || {
        let _db = db;
        let head = (|| {
            let revision = read_revision(&txn)?;
            let objects = txn.open_table(OBJECTS).map_err(from_redb)?;
            let count = match &range {
                None => 0,
                Some((std::ops::Bound::Included(start), std::ops::Bound::Unbounded))
                    if start.is_empty() =>
                {
                    objects.len().map_err(from_redb)?
                }
                Some((start, end)) => {
                    let bounds = (
                        start.as_ref().map(String::as_str),
                        end.as_ref().map(String::as_str),
                    );
                    objects.range::<&str>(bounds).map_err(from_redb)?.count() as u64
                }
            };
            Ok((revision, count, objects))
        })();
        let objects = match head {
            Ok((revision, count, objects)) => {
                if head_tx.send(Ok((revision, count))).is_err() {
                    return;
                }
                objects
            }
            Err(e) => {
                let _ = head_tx.send(Err(e));
                return;
            }
        };
        let Some((start, end)) = range else { return };
        let bounds = (
            start.as_ref().map(String::as_str),
            end.as_ref().map(String::as_str),
        );
        let entries = match objects.range::<&str>(bounds) {
            Ok(entries) => entries,
            Err(e) => {
                let _ = pages_tx.blocking_send(Err(from_redb(e)));
                return;
            }
        };
        let mut page = Vec::with_capacity(PAGE);
        for entry in entries {
            match entry {
                Ok((key, row)) => page.push(object_kv(key.value(), row.value())),
                Err(e) => {
                    let _ = pages_tx.blocking_send(Err(from_redb(e)));
                    return;
                }
            }
            if page.len() == PAGE {
                let full = std::mem::replace(&mut page, Vec::with_capacity(PAGE));
                if pages_tx.blocking_send(Ok(full)).is_err() {
                    // The consumer gave up; end the read transaction.
                    return;
                }
            }
        }
        if !page.is_empty() {
            let _ = pages_tx.blocking_send(Ok(page));
        }
    });
    let (revision, count) = head_rx
        .await
        .map_err(|_| Error::Unavailable("the store export stopped".into()))??;
    let pages = futures::stream::unfold(pages_rx, |mut rx| async move {
        rx.recv().await.map(|page| (page, rx))
    })
    .boxed();
    Ok(Export {
        revision,
        count,
        pages,
    })
}

/// Why the store file at a path cannot be read or replaced.
#[derive(Debug)]
pub(crate) enum OpenFailure {
    /// No such file.
    Missing,
    /// A running server holds it.
    InUse,
    Other(Error),
}

fn open_failure(e: DatabaseError) -> OpenFailure {
    match e {
        DatabaseError::DatabaseAlreadyOpen => OpenFailure::InUse,
        DatabaseError::Storage(redb::StorageError::Io(io))
            if io.kind() == std::io::ErrorKind::NotFound =>
        {
            OpenFailure::Missing
        }
        other => OpenFailure::Other(from_redb(other)),
    }
}

/// Exports the store file at `path`, opened read-only (it fails while a server holds it).
pub(crate) async fn export_file(
    path: &Path,
    prefix: &str,
) -> std::result::Result<Export, OpenFailure> {
    if !path.exists() {
        return Err(OpenFailure::Missing);
    }
    let other = |e: redb::TransactionError| OpenFailure::Other(from_redb(e));
    // A log with batches in it (its server crashed) must be replayed first, which needs the
    // file writable; so does the repair a crashed file needs.
    let read_only = log_is_empty(path).then(|| ReadOnlyDatabase::open(path));
    let exported = match read_only {
        Some(Ok(db)) => {
            let txn = redb::ReadableDatabase::begin_read(&db).map_err(other)?;
            export(db, txn, prefix).await
        }
        None | Some(Err(DatabaseError::RepairAborted)) => {
            let db = open_recovered(path)?;
            let txn = redb::ReadableDatabase::begin_read(&db).map_err(other)?;
            export(db, txn, prefix).await
        }
        Some(Err(e)) => return Err(open_failure(e)),
    };
    exported.map_err(OpenFailure::Other)
}

fn log_is_empty(path: &Path) -> bool {
    std::fs::metadata(Wal::path_for(path)).map_or(true, |log| log.len() == 0)
}

/// Opens the existing store file at `path` for writing and replays its write-ahead log into it,
/// so that it holds every acknowledged write; the change log is not trimmed.
fn open_recovered(path: &Path) -> std::result::Result<Database, OpenFailure> {
    let db = Database::open(path).map_err(open_failure)?;
    let (_, log) = super::recover(&db, path, usize::MAX).map_err(OpenFailure::Other)?;
    log.remove().map_err(OpenFailure::Other)?;
    Ok(db)
}

/// The store file at `path`, held open (so no server starts on it) while a restore replaces
/// it, with the number of keys it holds.
pub(crate) struct Held {
    _db: Database,
    pub(crate) keys: u64,
}

/// Opens the existing store file at `path` exclusively and counts its keys.
pub(crate) fn hold(path: &Path) -> std::result::Result<Held, OpenFailure> {
    if !path.exists() {
        return Err(OpenFailure::Missing);
    }
    let db = open_recovered(path)?;
    let txn =
        redb::ReadableDatabase::begin_read(&db).map_err(|e| OpenFailure::Other(from_redb(e)))?;
    let keys = match txn.open_table(OBJECTS) {
        Ok(objects) => objects
            .len()
            .map_err(|e| OpenFailure::Other(from_redb(e)))?,
        // A file without the table never held an object.
        Err(TableError::TableDoesNotExist(_)) => 0,
        Err(e) => return Err(OpenFailure::Other(from_redb(e))),
    };
    drop(txn);
    Ok(Held { _db: db, keys })
}

/// Writes a new store file at `path` (which must not exist) holding the entries `next` yields,
/// at store revision `revision`, in one durable transaction. Keys keep their revisions, so
/// resourceVersions survive; the change log starts empty, so a watch from before `revision`
/// gets `Expired` and relists. Returns how many keys were written.
pub(crate) fn build<E: From<Error>>(
    path: &Path,
    revision: i64,
    mut next: impl FnMut() -> std::result::Result<Option<KeyValue>, E>,
) -> std::result::Result<u64, E> {
    let db = Database::builder().create(path).map_err(from_redb)?;
    let mut txn = db.begin_write().map_err(from_redb)?;
    txn.set_durability(Durability::Immediate)
        .map_err(from_redb)?;
    let mut written = 0;
    {
        let mut meta = txn.open_table(META).map_err(from_redb)?;
        meta.insert(META_FORMAT, FORMAT_VERSION)
            .map_err(from_redb)?;
        meta.insert(META_REVISION, revision).map_err(from_redb)?;
        txn.open_table(CHANGELOG).map_err(from_redb)?;
        let mut objects = txn.open_table(OBJECTS).map_err(from_redb)?;
        while let Some(kv) = next()? {
            objects
                .insert(kv.key.as_str(), object_row(&kv))
                .map_err(from_redb)?;
            written += 1;
        }
    }
    txn.commit().map_err(from_redb)?;
    Ok(written)
}
