//! The single writer of the embedded store, on its own thread.
//!
//! It group-commits: it takes every queued command (up to `max_batch`), applies them in one redb
//! write transaction, appends the batch's events to the write-ahead log and syncs it (one
//! fdatasync for the whole batch), commits the transaction without an fsync, publishes the
//! events to the watch hub and only then acknowledges each caller. Readers therefore never see a
//! write that is not yet durable. At most every `checkpoint_interval` a durable redb commit
//! makes the store file itself current and empties the log.
//!
//! A command whose precondition fails fails alone; a storage failure before the log append
//! fails the whole batch, because the outcome of every command in it may depend on the ones
//! before it. A failure from the log append on stops the writer for good: the batch may or may
//! not be on disk, and only recovery (reopening the store) can tell.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use redb::{Database, Durability, ReadableTable, WriteTransaction};
use tokio::sync::{mpsc, oneshot};

use super::tables::{
    CHANGELOG, META, META_REVISION, OBJECTS, encode_event, from_redb, object_kv, object_row,
};
use super::wal::Wal;
use crate::ops::{Op, plan};
use crate::watch::Hub;
use crate::{Error, EventKind, KeyValue, Result, WatchEvent};

/// A write request and where to send its outcome.
pub(super) struct Command {
    pub(super) key: String,
    pub(super) op: Op,
    pub(super) reply: oneshot::Sender<Result<KeyValue>>,
}

pub(super) struct Writer {
    pub(super) db: Arc<Database>,
    pub(super) hub: Arc<Hub>,
    pub(super) commands: mpsc::UnboundedReceiver<Command>,
    /// The revision of the last committed write.
    pub(super) revision: i64,
    pub(super) history: usize,
    pub(super) max_batch: usize,
    pub(super) quick_repair: bool,
    pub(super) wal: Wal,
    pub(super) checkpoint_interval: Duration,
    pub(super) checkpoint_bytes: u64,
    pub(super) last_checkpoint: Instant,
    /// Set when a write may have reached the log but not the store: every later command fails.
    pub(super) failed: Option<Error>,
}

impl Writer {
    pub(super) fn spawn(self) -> Result<JoinHandle<()>> {
        std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || self.run())
            .map_err(|e| Error::Unavailable(format!("cannot start the store writer: {e}")))
    }

    /// Runs until every command sender is dropped and the queue is drained.
    fn run(mut self) {
        let mut batch = Vec::with_capacity(self.max_batch);
        while let Some(first) = self.commands.blocking_recv() {
            batch.push(first);
            while batch.len() < self.max_batch {
                match self.commands.try_recv() {
                    Ok(command) => batch.push(command),
                    Err(_) => break,
                }
            }
            self.commit(std::mem::take(&mut batch));
            self.checkpoint_if_due();
        }
        if self.failed.is_none() {
            self.checkpoint();
        }
        if self.failed.is_none()
            && let Err(error) = self.wal.remove()
        {
            tracing::warn!(%error, "the store closed cleanly but left its log file");
        }
    }

    fn commit(&mut self, batch: Vec<Command>) {
        if let Some(failed) = &self.failed {
            for command in batch {
                let _ = command.reply.send(Err(failed.clone()));
            }
            return;
        }
        let applied = self.apply(&batch);
        let outcomes = match applied {
            Ok((outcomes, revision)) => {
                self.revision = revision;
                outcomes
            }
            Err(error) => {
                tracing::error!(%error, commands = batch.len(), "store batch failed");
                for command in batch {
                    let _ = command.reply.send(Err(error.clone()));
                }
                return;
            }
        };
        let acks: Vec<Result<KeyValue>> = outcomes
            .iter()
            .map(|outcome| match outcome {
                Ok(event) => Ok(event.kv.clone()),
                Err(error) => Err(error.clone()),
            })
            .collect();
        // Publish before acknowledging: a caller that saw its write acknowledged may
        // immediately watch from just before it.
        self.hub
            .publish(outcomes.into_iter().filter_map(Result::ok));
        for (command, ack) in batch.into_iter().zip(acks) {
            // The caller may have given up waiting; the write stands regardless.
            let _ = command.reply.send(ack);
        }
    }

    /// Applies `batch` in one transaction, made durable by the log. Returns each command's
    /// outcome and the new revision, or the storage error that aborted the whole transaction.
    fn apply(&mut self, batch: &[Command]) -> Result<(Vec<Result<WatchEvent>>, i64)> {
        let mut txn = self.db.begin_write().map_err(from_redb)?;
        txn.set_durability(Durability::None).map_err(from_redb)?;
        let mut revision = self.revision;
        let mut outcomes = Vec::with_capacity(batch.len());
        {
            let mut objects = txn.open_table(OBJECTS).map_err(from_redb)?;
            for command in batch {
                let key = command.key.as_str();
                let current = objects
                    .get(key)
                    .map_err(from_redb)?
                    .map(|row| object_kv(key, row.value()));
                let event = match plan(key, current, command.op.clone(), revision + 1) {
                    Ok(event) => event,
                    Err(error) => {
                        outcomes.push(Err(error));
                        continue;
                    }
                };
                match event.kind {
                    EventKind::Created | EventKind::Modified => {
                        objects
                            .insert(key, object_row(&event.kv))
                            .map_err(from_redb)?;
                    }
                    EventKind::Deleted => {
                        objects.remove(key).map_err(from_redb)?;
                    }
                }
                revision = event.revision();
                outcomes.push(Ok(event));
            }
        }
        if revision == self.revision {
            // Every command failed its precondition: nothing to make durable.
            txn.abort().map_err(from_redb)?;
            return Ok((outcomes, revision));
        }
        let mut row = Vec::new();
        for event in outcomes.iter().flatten() {
            encode_event(&mut row, event);
        }
        txn.open_table(CHANGELOG)
            .map_err(from_redb)?
            .insert(revision, row.as_slice())
            .map_err(from_redb)?;
        record_revision(&txn, revision, self.history)?;
        let logged = self
            .wal
            .append(revision, &row)
            .and_then(|()| txn.commit().map_err(from_redb));
        if let Err(error) = logged {
            return Err(self.fail(error));
        }
        Ok((outcomes, revision))
    }

    fn checkpoint_if_due(&mut self) {
        let due = self.last_checkpoint.elapsed() >= self.checkpoint_interval
            || self.wal.len() >= self.checkpoint_bytes;
        if self.failed.is_none() && self.wal.len() > 0 && due {
            self.checkpoint();
        }
    }

    /// Makes every commit so far durable in the store file and empties the log.
    fn checkpoint(&mut self) {
        let checkpointed = (|| {
            let mut txn = self.db.begin_write().map_err(from_redb)?;
            txn.set_durability(Durability::Immediate)
                .map_err(from_redb)?;
            txn.set_quick_repair(self.quick_repair);
            txn.commit().map_err(from_redb)?;
            self.wal.reset()
        })();
        self.last_checkpoint = Instant::now();
        if let Err(error) = checkpointed {
            self.fail(error);
        }
    }

    /// Stops the writer for good after a failure that leaves the log and the store's state in
    /// doubt; reopening the store recovers from the log.
    fn fail(&mut self, error: Error) -> Error {
        tracing::error!(%error, "the store writer stopped; restart to recover from its log");
        let failed = Error::Unavailable(format!(
            "the store stopped taking writes after a failure ({error}); restart the server to \
             recover"
        ));
        self.failed = Some(failed.clone());
        failed
    }
}

/// Stores `revision` as the current one and trims the change log to the batches holding the last
/// `history` events.
pub(super) fn record_revision(txn: &WriteTransaction, revision: i64, history: usize) -> Result<()> {
    let mut meta = txn.open_table(META).map_err(from_redb)?;
    meta.insert(META_REVISION, revision).map_err(from_redb)?;
    let mut log = txn.open_table(CHANGELOG).map_err(from_redb)?;
    let history = i64::try_from(history).unwrap_or(i64::MAX);
    let cut = revision.saturating_sub(history);
    if cut > 0 {
        // Usually removes only the batch the latest one pushed out of the history; a batch
        // that still holds a retained event stays whole (loading skips its older events).
        log.retain_in(..=cut, |_, _| false).map_err(from_redb)?;
    }
    Ok(())
}
