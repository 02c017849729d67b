//! The write-ahead log of the embedded store: every batch's events are appended to one
//! sequential file and fdatasync'd (by the writer's syncer thread) before the batch is committed
//! or acknowledged, so that redb commits without an fsync between checkpoints.
//!
//! Why: a durable redb commit checksums and writes every dirty B-tree page and fsyncs the whole
//! file. At 64 concurrent creates that was 12 of the writer thread's 28 µs per write, and the
//! writer thread is the store's one serial stage. An append of the same events to a log costs a
//! copy and a flush of a few sequential pages.
//!
//! Record layout, numbers little-endian: payload length (u32), the revision of the batch's last
//! event (i64), a CRC-32 (u32) of the store's log epoch, the length, the revision and the
//! payload, then the payload: the batch's events as the change log encodes them
//! ([`super::tables::encode_event`]). Reading stops at the first record that is cut short or
//! fails its checksum: that is a batch whose append a crash interrupted, which was never
//! acknowledged. After a checkpoint the log is written again from the start, so whole records
//! of earlier rounds may follow the current ones; they all end at or before the store file's
//! revision, and recovery skips them. The epoch (random, kept in the store's meta table) makes a
//! log left beside a different store file (one a restore put in its place) read as empty.

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::{Error, Result};

const HEADER_LEN: usize = 4 + 8 + 4;

/// One batch read back from the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Record {
    /// The revision of the batch's last event.
    pub(super) last_revision: i64,
    /// The batch's encoded events.
    pub(super) payload: Vec<u8>,
}

/// The open log file, appended to by the store's writer thread only.
#[derive(Debug)]
pub(super) struct Wal {
    file: File,
    path: PathBuf,
    epoch: i64,
    /// Bytes of valid records; the next record goes here.
    len: u64,
    /// See [`Wal::position`].
    position: u64,
    /// Reused for each record, so appending allocates only when a batch is larger than any
    /// before it.
    buffer: Vec<u8>,
}

impl Wal {
    /// The log beside the store file `store`.
    pub(super) fn path_for(store: &Path) -> PathBuf {
        let mut name = store.as_os_str().to_owned();
        name.push("-wal");
        PathBuf::from(name)
    }

    /// Opens (or creates) the log at `path` and reads its valid records of `epoch`, oldest
    /// first. The log is not emptied: that is [`Wal::reset`]'s job once the records are safe in
    /// the store.
    pub(super) fn open(path: &Path, epoch: i64) -> Result<(Wal, Vec<Record>)> {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| io("opening", path, &e))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .map_err(|e| io("reading", path, &e))?;
        let records = read_records(&bytes, epoch);
        let len = records
            .iter()
            .map(|r| (HEADER_LEN + r.payload.len()) as u64)
            .sum();
        let wal = Wal {
            file,
            path: path.to_owned(),
            epoch,
            len,
            position: len,
            buffer: Vec::new(),
        };
        Ok((wal, records))
    }

    /// Bytes of records since the last reset.
    pub(super) fn len(&self) -> u64 {
        self.len
    }

    /// The position just past the last record: bytes ever appended since the log was opened,
    /// which (unlike [`Wal::len`]) never goes back, so a sync reported for a position cannot be
    /// mistaken for one that covers records appended after a reset.
    pub(super) fn position(&self) -> u64 {
        self.position
    }

    /// Appends one batch, not yet synced, and returns the position just past it.
    pub(super) fn write(&mut self, last_revision: i64, payload: &[u8]) -> Result<u64> {
        let len = u32::try_from(payload.len())
            .map_err(|_| Error::Unavailable("a store batch above 4 GiB".into()))?;
        self.buffer.clear();
        self.buffer.extend_from_slice(&len.to_le_bytes());
        self.buffer.extend_from_slice(&last_revision.to_le_bytes());
        let crc = checksum(self.epoch, len, last_revision, payload);
        self.buffer.extend_from_slice(&crc.to_le_bytes());
        self.buffer.extend_from_slice(payload);
        self.file
            .write_all_at(&self.buffer, self.len)
            .map_err(|e| io("writing", &self.path, &e))?;
        self.len += self.buffer.len() as u64;
        self.position += self.buffer.len() as u64;
        Ok(self.position)
    }

    /// Appends one batch and waits until it is on disk.
    #[cfg(test)]
    pub(super) fn append(&mut self, last_revision: i64, payload: &[u8]) -> Result<()> {
        self.write(last_revision, payload)?;
        self.file
            .sync_data()
            .map_err(|e| io("syncing", &self.path, &e))
    }

    /// A second handle on the log file, for the thread that syncs it.
    pub(super) fn syncer(&self) -> Result<File> {
        self.file
            .try_clone()
            .map_err(|e| io("opening a second handle on", &self.path, &e))
    }

    /// Empties the log once everything in it is durable in the store: the next record is
    /// written over the first. The file is not truncated, which would free its cached pages only
    /// for the next second's appends to allocate them again (and make every sync also write the
    /// file's size). The old records left past the new ones all end at or before the store's
    /// revision, so recovery skips any it can still read.
    pub(super) fn reset(&mut self) {
        self.len = 0;
    }

    /// Removes the log file of a store that closes cleanly: everything in it is checkpointed,
    /// and a data dir without one is how a cleanly stopped store looks.
    pub(super) fn remove(self) -> Result<()> {
        std::fs::remove_file(&self.path).map_err(|e| io("removing", &self.path, &e))
    }
}

fn checksum(epoch: i64, len: u32, last_revision: i64, payload: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&epoch.to_le_bytes());
    hasher.update(&len.to_le_bytes());
    hasher.update(&last_revision.to_le_bytes());
    hasher.update(payload);
    hasher.finalize()
}

/// The valid records at the start of `bytes`.
fn read_records(mut bytes: &[u8], epoch: i64) -> Vec<Record> {
    let mut records = Vec::new();
    while bytes.len() >= HEADER_LEN {
        let len = u32::from_le_bytes(bytes[0..4].try_into().expect("4 bytes"));
        let last_revision = i64::from_le_bytes(bytes[4..12].try_into().expect("8 bytes"));
        let crc = u32::from_le_bytes(bytes[12..16].try_into().expect("4 bytes"));
        let Some(payload) = bytes[HEADER_LEN..].get(..len as usize) else {
            break;
        };
        if checksum(epoch, len, last_revision, payload) != crc {
            break;
        }
        records.push(Record {
            last_revision,
            payload: payload.to_vec(),
        });
        bytes = &bytes[HEADER_LEN + payload.len()..];
    }
    records
}

fn io(what: &str, path: &Path, e: &std::io::Error) -> Error {
    Error::Unavailable(format!("{what} the store log {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log_with(records: &[(i64, &[u8])]) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.redb-wal");
        let (mut wal, read) = Wal::open(&path, 7).unwrap();
        assert!(read.is_empty());
        for (revision, payload) in records {
            wal.append(*revision, payload).unwrap();
        }
        (dir, path)
    }

    fn read(path: &Path, epoch: i64) -> Vec<(i64, Vec<u8>)> {
        let (_, records) = Wal::open(path, epoch).unwrap();
        records
            .into_iter()
            .map(|r| (r.last_revision, r.payload))
            .collect()
    }

    #[test]
    fn appended_records_read_back_in_order() {
        let (_dir, path) = log_with(&[(3, b"abc"), (4, b""), (9, b"defgh")]);
        assert_eq!(
            read(&path, 7),
            vec![(3, b"abc".to_vec()), (4, vec![]), (9, b"defgh".to_vec())]
        );
        let (wal, _) = Wal::open(&path, 7).unwrap();
        assert_eq!(wal.len(), 3 * HEADER_LEN as u64 + 8);
    }

    #[test]
    fn a_torn_last_record_is_dropped_at_every_cut() {
        let (_dir, path) = log_with(&[(3, b"abc"), (9, b"defgh")]);
        let whole = std::fs::read(&path).unwrap();
        let first = HEADER_LEN + 3;
        for cut in first..whole.len() {
            std::fs::write(&path, &whole[..cut]).unwrap();
            assert_eq!(read(&path, 7), vec![(3, b"abc".to_vec())], "cut at {cut}");
        }
    }

    #[test]
    fn a_flipped_byte_ends_the_log_there() {
        let (_dir, path) = log_with(&[(3, b"abc"), (9, b"defgh")]);
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        assert_eq!(read(&path, 7), vec![(3, b"abc".to_vec())]);
    }

    #[test]
    fn another_stores_log_reads_as_empty() {
        let (_dir, path) = log_with(&[(3, b"abc")]);
        assert!(read(&path, 8).is_empty());
    }

    #[test]
    fn a_reset_log_takes_new_records_from_the_start() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w");
        let (mut wal, _) = Wal::open(&path, 1).unwrap();
        wal.append(5, b"old").unwrap();
        wal.append(6, b"older tail").unwrap();
        wal.reset();
        assert_eq!(wal.len(), 0);
        let before = wal.position();
        wal.append(7, b"new").unwrap();
        assert_eq!(wal.position() - before, (HEADER_LEN + 3) as u64);
        drop(wal);
        // The record past the new one is still whole and readable: recovery skips it by its
        // revision, which is older than the store's.
        assert_eq!(
            read(&path, 1),
            vec![(7, b"new".to_vec()), (6, b"older tail".to_vec())]
        );
    }

    #[test]
    fn the_log_sits_beside_its_store() {
        assert_eq!(
            Wal::path_for(Path::new("/d/store.redb")),
            PathBuf::from("/d/store.redb-wal")
        );
    }
}
