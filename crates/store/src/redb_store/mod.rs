//! [`RedbStore`]: the embedded backend, one redb file.
//!
//! Writes go through a single writer thread that group-commits (see `writer`), durable through
//! a write-ahead log beside the file (see `wal`) and checkpointed into the file; reads run redb
//! read transactions on tokio's blocking pool, concurrently with the writer; watches are served
//! from the in-memory [`Hub`], whose history is reloaded from the persistent change log on
//! open. It must never acknowledge a write, nor let a reader see one, before it is on disk.

pub(crate) mod snapshot;
mod tables;
mod wal;
mod writer;

#[cfg(test)]
mod tests;

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use redb::{
    Database, Durability, ReadTransaction, ReadableDatabase, ReadableTable, WriteTransaction,
};
use tokio::sync::{mpsc, oneshot};

use self::tables::{
    CHANGELOG, CHANGELOG_V1, FORMAT_VERSION, FORMAT_VERSION_V1, FORMAT_VERSION_V2, META,
    META_FORMAT, META_REVISION, META_WAL_EPOCH, OBJECTS, decode_events, encode_event, from_redb,
    log_event, object_kv,
};
use self::wal::{Record, Wal};
use self::writer::{Command, Input, WriterConfig};
use crate::keys::prefix_range;
use crate::ops::Op;
use crate::watch::Hub;
use crate::{
    DEFAULT_HISTORY, Error, Export, KeyValue, ListOptions, ListResult, ProgressStream, Result,
    Store, WatchEvent, WatchStream,
};

/// Configuration of [`RedbStore`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmbeddedConfig {
    /// How many of the latest events are kept (on disk and in memory) for watches to resume
    /// from; a watcher further behind gets `Expired` and must relist. Default 10,000 (at ~1 KiB
    /// per object about 10 MiB of memory), which covers minutes of a busy cluster's writes, the
    /// same order as the kube-apiserver watch cache. Values below 1 mean 1.
    pub history: usize,
    /// The most writes planned, logged and committed as one batch. Default 1,024: large enough
    /// to amortize one log sync over many concurrent writers, small enough to bound one batch's
    /// latency. Values below 1 mean 1.
    pub max_batch: usize,
    /// redb quick-repair: every durable commit (each checkpoint) also saves the allocator state
    /// and commits in two phases (two fsyncs), so reopening after a crash skips the repair scan
    /// of the file. Default `false`: the saved state grows with the file, so it cost ~0.55M
    /// instructions and a second fsync per commit (measured when every batch was a durable
    /// commit, then the bulk of a single client's create), while the repair
    /// scan after `kill -9` takes ~0.4 s at 100k objects of 1.3 KiB (570 MB) and ~1.05 s at
    /// 300k (`restart_after_kill` in the tests), inside the 2 s restart budget.
    pub quick_repair: bool,
    /// The bytes redb may hold in memory: its read cache plus the pages a commit is writing.
    /// Default 32 MiB. redb's own default is 1 GiB, which a busy store fills: the server held
    /// 1.2 GB after the create benchmark. At 128 MiB the cache was full at 10k pods, with a
    /// 1.7 GB file at 100k, and 32 MiB measured no slower for 64 concurrent creates (15.5k and
    /// 17.2k/s against 15.3k and 16.4k/s, alternating runs) for 100 MB less RSS. The objects
    /// a list or get reads beyond it come from the OS page cache instead.
    pub cache_size: usize,
    /// The longest time between durable commits of the store file; between them writes are
    /// durable in the write-ahead log, which a restart replays. Default 1 s: each checkpoint
    /// writes and fsyncs the pages changed since the last one, a pause of the writer that a
    /// longer interval makes rarer and longer; a restart replays at most this long's writes.
    pub checkpoint_interval: Duration,
}

/// The default [`EmbeddedConfig::cache_size`].
const DEFAULT_CACHE_SIZE: usize = 32 << 20;

/// A log this large is checkpointed before the interval is up, bounding the replay after a
/// crash and the log file's size.
const CHECKPOINT_BYTES: u64 = 64 << 20;

impl Default for EmbeddedConfig {
    fn default() -> Self {
        EmbeddedConfig {
            history: DEFAULT_HISTORY,
            max_batch: 1024,
            quick_repair: false,
            cache_size: DEFAULT_CACHE_SIZE,
            checkpoint_interval: Duration::from_secs(1),
        }
    }
}

/// The embedded store: a single redb file with a durable, group-committing writer.
///
/// Dropping it (or [`RedbStore::shutdown`]) stops the writer after the queued writes, closes
/// the watch streams, and releases the file once in-flight reads are done.
#[derive(Debug)]
pub struct RedbStore {
    db: Arc<Database>,
    hub: Arc<Hub>,
    /// The writer's queue; `None` after shutdown. Sending never blocks (the queue is bounded by
    /// the callers awaiting their acknowledgements), so the lock is only held for an instant.
    inputs: RwLock<Option<mpsc::UnboundedSender<Input>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
}

impl RedbStore {
    /// Opens the store in the file at `path`, creating it if it does not exist, and starts the
    /// writer. Blocks while it replays the write-ahead log and loads the retained change log.
    pub fn open(path: &Path, config: EmbeddedConfig) -> Result<Self> {
        let history = config.history.max(1);
        let db = Database::builder()
            .set_cache_size(config.cache_size)
            .create(path)
            .map_err(from_redb)?;
        let (revision, wal) = recover(&db, path, history)?;
        let events = load_history(&db, revision, history)?;
        let hub = Hub::new(history, revision, events);
        let db = Arc::new(db);
        let (inputs, receiver) = mpsc::unbounded_channel();
        let config = WriterConfig {
            db: Arc::clone(&db),
            hub: Arc::clone(&hub),
            wal,
            revision,
            history,
            max_batch: config.max_batch.max(1),
            quick_repair: config.quick_repair,
            checkpoint_interval: config.checkpoint_interval,
            checkpoint_bytes: CHECKPOINT_BYTES,
        };
        let writer = writer::spawn(config, &inputs, receiver)?;
        tracing::debug!(path = %path.display(), revision, "opened embedded store");
        Ok(RedbStore {
            db,
            hub,
            inputs: RwLock::new(Some(inputs)),
            writer: Mutex::new(Some(writer)),
        })
    }

    /// Stops accepting writes, waits for the writer to commit the queued ones, and ends every
    /// watch stream. Reads keep working until the store is dropped. Idempotent; blocks for at
    /// most the batch in progress.
    pub fn shutdown(&self) {
        let inputs = self
            .inputs
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(inputs) = inputs {
            // Queued after every write already sent; fails only if the writer is gone.
            let _ = inputs.send(Input::Stop);
        }
        let writer = self
            .writer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(writer) = writer
            && writer.join().is_err()
        {
            tracing::error!("the store writer panicked");
        }
        self.hub.close();
    }

    async fn write(&self, key: &str, op: Op) -> Result<KeyValue> {
        let (reply, acknowledged) = oneshot::channel();
        let command = Command {
            key: key.to_owned(),
            op,
            reply,
        };
        {
            let inputs = self.inputs.read().unwrap_or_else(PoisonError::into_inner);
            let sender = inputs.as_ref().ok_or_else(shut_down)?;
            sender
                .send(Input::Command(command))
                .map_err(|_| writer_stopped())?;
        }
        acknowledged.await.map_err(|_| writer_stopped())?
    }

    /// Runs `read` in a redb read transaction (one consistent snapshot) on the blocking pool.
    async fn read<T: Send + 'static>(
        &self,
        read: impl FnOnce(&ReadTransaction) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let db = Arc::clone(&self.db);
        tokio::task::spawn_blocking(move || read(&db.begin_read().map_err(from_redb)?))
            .await
            .map_err(|e| Error::Unavailable(format!("store read failed: {e}")))?
    }
}

impl Drop for RedbStore {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn shut_down() -> Error {
    Error::Unavailable("store is shut down".into())
}

fn writer_stopped() -> Error {
    Error::Unavailable("store writer stopped".into())
}

/// Brings the store file at `path` up to date: prepares it, replays into it (durably) the
/// batches its write-ahead log holds beyond its revision, and empties the log. Returns the
/// revision and the log, ready for appends.
fn recover(db: &Database, path: &Path, history: usize) -> Result<(i64, Wal)> {
    let (revision, epoch) = prepare(db, history)?;
    let (mut wal, records) = Wal::open(&Wal::path_for(path), epoch)?;
    let replayed = replay(db, revision, records, history)?;
    if replayed != revision {
        tracing::info!(
            from = revision,
            to = replayed,
            "replayed the store's write-ahead log"
        );
    }
    wal.reset();
    Ok((replayed, wal))
}

/// Applies the logged batches that follow `revision`, in one durable transaction, and returns
/// the new revision. Batches at or before it were checkpointed already. Replay stops at a batch
/// that does not follow on (a stale record past the end of the current log).
fn replay(db: &Database, revision: i64, records: Vec<Record>, history: usize) -> Result<i64> {
    let mut current = revision;
    let mut txn = db.begin_write().map_err(from_redb)?;
    txn.set_durability(Durability::Immediate)
        .map_err(from_redb)?;
    for record in records {
        if record.last_revision <= current {
            continue;
        }
        let events = decode_events(record.last_revision, &record.payload)?;
        if events.first().map(WatchEvent::revision) != Some(current + 1) {
            break;
        }
        writer::write_batch(&txn, record.last_revision, &events, &record.payload)?;
        current = record.last_revision;
    }
    if current == revision {
        txn.abort().map_err(from_redb)?;
        return Ok(revision);
    }
    writer::record_revision(&txn, current, history)?;
    txn.commit().map_err(from_redb)?;
    Ok(current)
}

/// Creates the tables of a new file, checks the format of an existing one (converting older
/// ones), trims its change log to `history` (which may have shrunk since the last run) and
/// returns the current revision and the epoch that marks this file's write-ahead log.
fn prepare(db: &Database, history: usize) -> Result<(i64, i64)> {
    let mut txn = db.begin_write().map_err(from_redb)?;
    txn.set_durability(Durability::Immediate)
        .map_err(from_redb)?;
    let (revision, epoch) = {
        let mut meta = txn.open_table(META).map_err(from_redb)?;
        let format = meta.get(META_FORMAT).map_err(from_redb)?.map(|v| v.value());
        match format {
            Some(FORMAT_VERSION) => {}
            // Format 3 only adds the log epoch (below), and its number keeps older builds,
            // which would ignore the log, from opening a file whose latest writes are there.
            Some(FORMAT_VERSION_V2) => {
                meta.insert(META_FORMAT, FORMAT_VERSION)
                    .map_err(from_redb)?;
            }
            Some(FORMAT_VERSION_V1) => {
                convert_v1_log(&txn)?;
                meta.insert(META_FORMAT, FORMAT_VERSION)
                    .map_err(from_redb)?;
            }
            Some(other) => {
                return Err(Error::Corrupt(format!(
                    "unsupported store format {other} (this build reads {FORMAT_VERSION})"
                )));
            }
            None => {
                meta.insert(META_FORMAT, FORMAT_VERSION)
                    .map_err(from_redb)?;
            }
        }
        let revision = meta
            .get(META_REVISION)
            .map_err(from_redb)?
            .map(|v| v.value());
        let epoch = meta
            .get(META_WAL_EPOCH)
            .map_err(from_redb)?
            .map(|v| v.value());
        let epoch = match epoch {
            Some(epoch) => epoch,
            None => {
                let epoch = new_epoch()?;
                meta.insert(META_WAL_EPOCH, epoch).map_err(from_redb)?;
                epoch
            }
        };
        (revision.unwrap_or(0), epoch)
    };
    txn.open_table(OBJECTS).map_err(from_redb)?;
    txn.open_table(CHANGELOG).map_err(from_redb)?;
    writer::record_revision(&txn, revision, history)?;
    txn.commit().map_err(from_redb)?;
    Ok((revision, epoch))
}

/// A random log epoch: a log written for another file (the one a restore replaced) must not
/// pass for this file's.
fn new_epoch() -> Result<i64> {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 8];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| Error::Unavailable("no randomness for the store's log epoch".into()))?;
    Ok(i64::from_le_bytes(bytes))
}

/// Rewrites a format 1 change log (a row per event) as one batch row.
fn convert_v1_log(txn: &WriteTransaction) -> Result<()> {
    let mut row = Vec::new();
    let mut last = None;
    {
        let old = txn.open_table(CHANGELOG_V1).map_err(from_redb)?;
        for entry in old.iter().map_err(from_redb)? {
            let (rev, old_row) = entry.map_err(from_redb)?;
            let event = log_event(rev.value(), old_row.value())?;
            encode_event(&mut row, &event);
            last = Some(event.revision());
        }
    }
    txn.delete_table(CHANGELOG_V1).map_err(from_redb)?;
    if let Some(last) = last {
        txn.open_table(CHANGELOG)
            .map_err(from_redb)?
            .insert(last, row.as_slice())
            .map_err(from_redb)?;
    }
    Ok(())
}

/// Reads the retained change log, which must be the contiguous run of events ending at
/// `revision`, and returns its last `history` events.
fn load_history(db: &Database, revision: i64, history: usize) -> Result<Vec<WatchEvent>> {
    let txn = db.begin_read().map_err(from_redb)?;
    let log = txn.open_table(CHANGELOG).map_err(from_redb)?;
    let mut events = Vec::new();
    for entry in log.iter().map_err(from_redb)? {
        let (last, row) = entry.map_err(from_redb)?;
        for event in decode_events(last.value(), row.value())? {
            if let Some(last) = events.last().map(WatchEvent::revision)
                && event.revision() != last + 1
            {
                return Err(Error::Corrupt(format!(
                    "change log skips from revision {last} to {}",
                    event.revision()
                )));
            }
            events.push(event);
        }
    }
    // The oldest batch may hold events older than the history.
    events.drain(..events.len().saturating_sub(history));
    if let Some(last) = events.last().map(WatchEvent::revision)
        && last != revision
    {
        return Err(Error::Corrupt(format!(
            "change log ends at revision {last}, the store is at {revision}"
        )));
    }
    Ok(events)
}

fn read_revision(txn: &ReadTransaction) -> Result<i64> {
    let meta = txn.open_table(META).map_err(from_redb)?;
    let revision = meta.get(META_REVISION).map_err(from_redb)?;
    Ok(revision.map_or(0, |v| v.value()))
}

#[async_trait]
impl Store for RedbStore {
    async fn get(&self, key: &str) -> Result<Option<KeyValue>> {
        // One key is read in place: a few µs from redb's cache or the OS page cache, less than
        // handing it to the blocking pool and back costs (two thread wake-ups).
        let txn = self.db.begin_read().map_err(from_redb)?;
        let objects = txn.open_table(OBJECTS).map_err(from_redb)?;
        let row = objects.get(key).map_err(from_redb)?;
        Ok(row.map(|row| object_kv(key, row.value())))
    }

    async fn list(&self, prefix: &str, opts: ListOptions) -> Result<ListResult> {
        let range = prefix_range(prefix, opts.start_after.as_deref());
        let limit = opts.limit.filter(|&limit| limit > 0).unwrap_or(usize::MAX);
        self.read(move |txn| {
            let revision = read_revision(txn)?;
            let mut items = Vec::new();
            let mut remaining = 0u64;
            if let Some((start, end)) = range {
                let objects = txn.open_table(OBJECTS).map_err(from_redb)?;
                let bounds = (
                    start.as_ref().map(String::as_str),
                    end.as_ref().map(String::as_str),
                );
                for entry in objects.range::<&str>(bounds).map_err(from_redb)? {
                    let (key, row) = entry.map_err(from_redb)?;
                    if items.len() < limit {
                        items.push(object_kv(key.value(), row.value()));
                    } else {
                        // Counting the rest costs a scan of it, but no copies.
                        remaining += 1;
                    }
                }
            }
            Ok(ListResult {
                items,
                revision,
                more: remaining > 0,
                remaining: Some(remaining),
            })
        })
        .await
    }

    async fn create(&self, key: &str, value: Bytes) -> Result<KeyValue> {
        self.write(key, Op::Create(value)).await
    }

    async fn update(
        &self,
        key: &str,
        value: Bytes,
        expected_mod_revision: Option<i64>,
    ) -> Result<KeyValue> {
        let op = Op::Update {
            value,
            expected_mod_revision,
        };
        self.write(key, op).await
    }

    async fn delete(&self, key: &str, expected_mod_revision: Option<i64>) -> Result<KeyValue> {
        self.write(
            key,
            Op::Delete {
                expected_mod_revision,
            },
        )
        .await
    }

    async fn current_revision(&self) -> Result<i64> {
        Ok(self.hub.head())
    }

    async fn watch(&self, prefix: &str, after_revision: i64) -> Result<WatchStream> {
        self.hub.watch(prefix, after_revision)
    }

    async fn watch_with_progress(
        &self,
        prefix: &str,
        after_revision: i64,
    ) -> Result<ProgressStream> {
        self.hub.watch_with_progress(prefix, after_revision)
    }

    fn compacted_revision(&self) -> i64 {
        self.hub.floor()
    }

    async fn export(&self, prefix: &str) -> Result<Export> {
        let txn = self.db.begin_read().map_err(from_redb)?;
        snapshot::export(Arc::clone(&self.db), txn, prefix).await
    }
}
