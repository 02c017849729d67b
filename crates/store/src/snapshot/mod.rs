//! Backups of a whole store, as `etcdctl snapshot save/restore` makes them of etcd: every key
//! under the store, exactly as stored (`/registry/...`), with its revisions, as of **one**
//! store revision, in a self-describing file (see `format`: magic, format version, revision,
//! entry count, SHA-256).
//!
//! - Saving reads through [`Store::export`](crate::Store::export), so it works on any backend
//!   while writes go on: the embedded store from one redb read transaction, etcd page by page at
//!   one revision. [`export_embedded`] reads a store file no server holds; a running server
//!   serves the same bytes over its API ([`encode`]).
//! - Restoring verifies the whole file (structure, order, count, checksum) before it writes
//!   anything, refuses a non-empty target unless told to replace it, and never leaves a
//!   half-restored store unannounced: the embedded store is built in a new file and renamed
//!   into place (all or nothing); etcd is written in batches between a marker key that makes
//!   `svcplane server` refuse the prefix until a restore completes.
//!
//! Revisions: a restored embedded store keeps every key's revisions and the snapshot's
//! revision, so resourceVersions survive. In etcd, revisions are etcd's own, so restored
//! objects get new resourceVersions (from etcd's current revision on); servers started on
//! the restored store start their watches and controllers from a fresh list either way.

mod error;
mod file;
mod format;
mod restore;

#[cfg(test)]
mod tests;

pub use error::{Result, SnapshotError};
pub use file::{SnapshotFile, Summary, verify};
pub use format::{Decoder, Encoder, FORMAT_VERSION, Header, MAGIC};
#[cfg(feature = "etcd")]
pub use restore::restore_etcd;
pub use restore::{PROCESS_RECORDS_PREFIX, RestoreOptions, Restored, restore_embedded};

use std::path::Path;

use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;

use crate::redb_store::snapshot::{OpenFailure, export_file};
use crate::{Export, KeyValue};

/// The snapshot of `export` as a byte stream (header, entries page by page, trailer); an error
/// ends it. `source` says what was saved, for `status`.
pub fn encode(export: Export, source: String) -> BoxStream<'static, Result<Bytes>> {
    enum State {
        Start(Export, Header),
        Pages(
            Box<Encoder>,
            BoxStream<'static, crate::Result<Vec<KeyValue>>>,
        ),
        Done,
    }
    let header = Header {
        revision: export.revision,
        count: export.count,
        taken_at: unix_now(),
        source,
    };
    futures::stream::unfold(State::Start(export, header), |state| async move {
        match state {
            State::Start(export, header) => {
                let mut out = Vec::new();
                let encoder = Box::new(Encoder::new(&header, &mut out));
                Some((Ok(Bytes::from(out)), State::Pages(encoder, export.pages)))
            }
            State::Pages(mut encoder, mut pages) => match pages.next().await {
                Some(Ok(page)) => {
                    let mut out = Vec::new();
                    for kv in &page {
                        if let Err(e) = encoder.entry(kv, &mut out) {
                            return Some((Err(e), State::Done));
                        }
                    }
                    Some((Ok(Bytes::from(out)), State::Pages(encoder, pages)))
                }
                Some(Err(e)) => Some((Err(e.into()), State::Done)),
                None => {
                    let mut out = Vec::new();
                    let end = encoder.finish(&mut out).map(|_| Bytes::from(out));
                    Some((end, State::Done))
                }
            },
            State::Done => None,
        }
    })
    .boxed()
}

/// Writes the snapshot of `export` to `path` (replacing it only once the new file is complete
/// and verified).
pub async fn save(export: Export, source: String, path: &Path) -> Result<Summary> {
    let mut file = SnapshotFile::create(path)?;
    let mut chunks = encode(export, source);
    while let Some(chunk) = chunks.next().await {
        file.write(&chunk?)?;
    }
    file.commit()
}

/// Exports the embedded store file at `path`, read-only. Fails with
/// [`SnapshotError::StoreInUse`] while a server holds it, and [`SnapshotError::NoStore`] if
/// there is none.
pub async fn export_embedded(path: &Path) -> Result<Export> {
    export_file(path, "").await.map_err(|e| match e {
        OpenFailure::Missing => SnapshotError::NoStore {
            path: path.to_owned(),
        },
        OpenFailure::InUse => SnapshotError::StoreInUse {
            path: path.to_owned(),
        },
        OpenFailure::Other(e) => e.into(),
    })
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
