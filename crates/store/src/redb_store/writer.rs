//! The single writer of the embedded store, on its own thread.
//!
//! It group-commits: it takes every queued command (up to `max_batch`), applies them in one redb
//! write transaction, commits durably (one fsync for the whole batch), publishes the events to
//! the watch hub and only then acknowledges each caller. A command whose precondition fails
//! fails alone; a storage failure fails the whole batch, because the outcome of every command in
//! it may depend on the ones before it.

use std::sync::Arc;
use std::thread::JoinHandle;

use redb::{Database, Durability, ReadableTable, WriteTransaction};
use tokio::sync::{mpsc, oneshot};

use super::tables::{
    CHANGELOG, META, META_REVISION, OBJECTS, encode_event, from_redb, object_kv, object_row,
};
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
        }
    }

    fn commit(&mut self, batch: Vec<Command>) {
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

    /// Applies `batch` in one durable transaction. Returns each command's outcome and the new
    /// revision, or the storage error that aborted the whole transaction.
    fn apply(&self, batch: &[Command]) -> Result<(Vec<Result<WatchEvent>>, i64)> {
        let mut txn = self.db.begin_write().map_err(from_redb)?;
        txn.set_durability(Durability::Immediate)
            .map_err(from_redb)?;
        txn.set_quick_repair(self.quick_repair);
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
        txn.commit().map_err(from_redb)?;
        Ok((outcomes, revision))
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
