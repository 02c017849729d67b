//! The single writer of the embedded store, on its own thread, with a helper thread that syncs
//! the write-ahead log.
//!
//! It group-commits, as a pipeline: it takes every queued command (up to `max_batch`), plans
//! them against the store (and the batches still on their way to disk), appends the batch's
//! events to the log and asks the syncer to fdatasync it, then goes on planning the commands
//! that arrived meanwhile. Once the log is on disk past a batch, the writer commits the batch to
//! redb (without an fsync), publishes its events to the watch hub and only then acknowledges
//! each caller. Readers therefore never see a write before it is on disk, and the fdatasync no
//! longer stops the writer: it was the largest part of its time after the redb commit itself.
//! At most every `checkpoint_interval`, planning pauses until every logged batch is committed,
//! and a durable redb commit makes the store file current and empties the log.
//!
//! A command whose precondition fails fails alone (acknowledged with its batch, as its failure
//! may rest on writes before it); a storage failure while planning fails the batch. A failure
//! from the log append on stops the writer for good: the log may or may not hold a batch, and
//! only recovery (reopening the store) can tell.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::mpsc as std_mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use redb::{Database, Durability, ReadableDatabase, WriteTransaction};
use tokio::sync::{mpsc, oneshot};

use super::tables::{
    CHANGELOG, META, META_REVISION, OBJECTS, encode_event, from_redb, object_kv, object_row,
};
use super::wal::Wal;
use crate::ops::{Op, plan};
use crate::watch::Hub;
use crate::{Error, EventKind, KeyValue, Result, WatchEvent};

/// What the writer thread waits for.
pub(super) enum Input {
    /// A write request.
    Command(Command),
    /// The log is on disk up to this position (bytes ever appended), or syncing it failed.
    Synced(Result<u64>),
    /// Finish the queued writes, checkpoint and stop.
    Stop,
}

/// A write request and where to send its outcome.
pub(super) struct Command {
    pub(super) key: String,
    pub(super) op: Op,
    pub(super) reply: oneshot::Sender<Result<KeyValue>>,
}

/// The writer's settings and its handles on the store.
pub(super) struct WriterConfig {
    pub(super) db: Arc<Database>,
    pub(super) hub: Arc<Hub>,
    pub(super) wal: Wal,
    /// The revision of the last write in the store.
    pub(super) revision: i64,
    pub(super) history: usize,
    pub(super) max_batch: usize,
    pub(super) quick_repair: bool,
    pub(super) checkpoint_interval: Duration,
    pub(super) checkpoint_bytes: u64,
}

/// A planned batch whose events are in the log, waiting for the log to reach the disk.
struct Logged {
    /// The log position just past this batch.
    end: u64,
    /// The revision of its last event (that of the batch before if it has none).
    revision: i64,
    events: Vec<WatchEvent>,
    /// The batch's events as the log and the change log encode them.
    row: Vec<u8>,
    replies: Vec<(oneshot::Sender<Result<KeyValue>>, Result<KeyValue>)>,
}

/// A key's value after the newest logged batch that wrote it (`None`: deleted).
struct Pending {
    revision: i64,
    value: Option<KeyValue>,
}

/// A batch planned against the store and the logged batches.
struct Planned {
    /// Each command's outcome.
    outcomes: Vec<Result<WatchEvent>>,
    /// What the batch writes.
    written: HashMap<String, Pending>,
    /// The revision after it.
    revision: i64,
}

struct Writer {
    config: WriterConfig,
    inputs: mpsc::UnboundedReceiver<Input>,
    sync_requests: std_mpsc::Sender<u64>,
    /// The revision of the last planned write.
    revision: i64,
    queued: VecDeque<Command>,
    logged: VecDeque<Logged>,
    /// What the logged batches wrote, so that planning sees them before redb does.
    pending: HashMap<String, Pending>,
    last_checkpoint: Instant,
    stopping: bool,
    /// Set when a write may have reached the log but not the store: every later command fails.
    failed: Option<Error>,
}

/// Starts the writer and its syncer. `inputs` must be the receiver of `sender`, whose clone
/// the syncer uses to report; the writer stops on [`Input::Stop`].
pub(super) fn spawn(
    config: WriterConfig,
    sender: &mpsc::UnboundedSender<Input>,
    inputs: mpsc::UnboundedReceiver<Input>,
) -> Result<JoinHandle<()>> {
    let (sync_requests, requests) = std_mpsc::channel();
    let syncer = config.wal.syncer()?;
    let reports = sender.clone();
    let syncer = std::thread::Builder::new()
        .name("store-sync".into())
        .spawn(move || sync_until_closed(&syncer, &requests, &reports))
        .map_err(|e| Error::Unavailable(format!("cannot start the store syncer: {e}")))?;
    let writer = Writer {
        revision: config.revision,
        config,
        inputs,
        sync_requests,
        queued: VecDeque::new(),
        logged: VecDeque::new(),
        pending: HashMap::new(),
        last_checkpoint: Instant::now(),
        stopping: false,
        failed: None,
    };
    std::thread::Builder::new()
        .name("store-writer".into())
        .spawn(move || {
            writer.run();
            // The writer dropped its request sender: the syncer ends.
            if syncer.join().is_err() {
                tracing::error!("the store syncer panicked");
            }
        })
        .map_err(|e| Error::Unavailable(format!("cannot start the store writer: {e}")))
}

/// The syncer: fdatasyncs the log through the newest requested position, as often as asked,
/// and reports each position reached.
fn sync_until_closed(
    log: &std::fs::File,
    requests: &std_mpsc::Receiver<u64>,
    reports: &mpsc::UnboundedSender<Input>,
) {
    while let Ok(mut position) = requests.recv() {
        // Requests that queued up during the last sync are all covered by this one.
        while let Ok(later) = requests.try_recv() {
            position = position.max(later);
        }
        let synced = log
            .sync_data()
            .map(|()| position)
            .map_err(|e| Error::Unavailable(format!("syncing the store log: {e}")));
        if reports.send(Input::Synced(synced)).is_err() {
            return;
        }
    }
}

impl Writer {
    fn run(mut self) {
        loop {
            self.checkpoint_if_due();
            self.plan_queued();
            if self.stopping && self.queued.is_empty() && self.logged.is_empty() {
                break;
            }
            if !self.receive() {
                break;
            }
        }
        if self.failed.is_none() {
            self.checkpoint();
        }
        if self.failed.is_none()
            && let Err(error) = self.config.wal.remove()
        {
            tracing::warn!(%error, "the store closed cleanly but left its log file");
        }
    }

    /// Takes every waiting input, first waiting for one unless there are commands to plan.
    fn receive(&mut self) -> bool {
        if self.queued.is_empty() || self.planning_paused() {
            match self.inputs.blocking_recv() {
                Some(input) => self.take(input),
                None => return false,
            }
        }
        while let Ok(input) = self.inputs.try_recv() {
            self.take(input);
        }
        true
    }

    fn take(&mut self, input: Input) {
        match input {
            Input::Command(command) => match &self.failed {
                Some(failed) => {
                    let _ = command.reply.send(Err(failed.clone()));
                }
                None => self.queued.push_back(command),
            },
            Input::Synced(Ok(position)) => self.commit_synced(position),
            Input::Synced(Err(error)) => self.fail(error),
            Input::Stop => self.stopping = true,
        }
    }

    fn checkpoint_due(&self) -> bool {
        let log = self.config.wal.len();
        self.failed.is_none()
            && log > 0
            && (self.last_checkpoint.elapsed() >= self.config.checkpoint_interval
                || log >= self.config.checkpoint_bytes)
    }

    /// While a checkpoint is due, nothing new is planned until the logged batches are
    /// committed: the log can only be emptied once all of it is in the store.
    fn planning_paused(&self) -> bool {
        self.checkpoint_due() && !self.logged.is_empty()
    }

    fn checkpoint_if_due(&mut self) {
        if self.checkpoint_due() && self.logged.is_empty() {
            self.checkpoint();
        }
    }

    /// Plans up to `max_batch` queued commands as one batch and appends it to the log.
    fn plan_queued(&mut self) {
        if self.queued.is_empty() || self.planning_paused() || self.failed.is_some() {
            return;
        }
        let take = self.queued.len().min(self.config.max_batch);
        let commands: Vec<Command> = self.queued.drain(..take).collect();
        let Planned {
            outcomes,
            written,
            revision,
        } = match self.plan(&commands) {
            Ok(planned) => planned,
            Err(error) => {
                tracing::error!(%error, commands = commands.len(), "store batch failed");
                for command in commands {
                    let _ = command.reply.send(Err(error.clone()));
                }
                return;
            }
        };
        let mut row = Vec::new();
        let mut events = Vec::new();
        let mut replies = Vec::with_capacity(commands.len());
        for (command, outcome) in commands.into_iter().zip(outcomes) {
            let ack = match outcome {
                Ok(event) => {
                    encode_event(&mut row, &event);
                    let kv = event.kv.clone();
                    events.push(event);
                    Ok(kv)
                }
                Err(error) => Err(error),
            };
            replies.push((command.reply, ack));
        }
        let mut batch = Logged {
            end: self.config.wal.position(),
            revision,
            events,
            row,
            replies,
        };
        if !batch.events.is_empty() {
            match self.config.wal.write(revision, &batch.row) {
                Ok(end) => batch.end = end,
                Err(error) => {
                    self.logged.push_back(batch);
                    self.fail(error);
                    return;
                }
            }
            // The syncer is gone only if the writer is going down anyway.
            let _ = self.sync_requests.send(batch.end);
            self.revision = revision;
            self.pending.extend(written);
        }
        if self.logged.is_empty() && batch.events.is_empty() {
            // Only failed preconditions, judged against writes already in the store.
            for (reply, ack) in batch.replies {
                let _ = reply.send(ack);
            }
        } else {
            self.logged.push_back(batch);
        }
    }

    fn plan(&self, commands: &[Command]) -> Result<Planned> {
        let txn = self.config.db.begin_read().map_err(from_redb)?;
        let objects = txn.open_table(OBJECTS).map_err(from_redb)?;
        let mut revision = self.revision;
        let mut written: HashMap<String, Pending> = HashMap::new();
        let mut outcomes = Vec::with_capacity(commands.len());
        for command in commands {
            let key = command.key.as_str();
            let current = match written.get(key).or_else(|| self.pending.get(key)) {
                Some(pending) => pending.value.clone(),
                None => objects
                    .get(key)
                    .map_err(from_redb)?
                    .map(|row| object_kv(key, row.value())),
            };
            let outcome = plan(key, current, command.op.clone(), revision + 1);
            if let Ok(event) = &outcome {
                revision = event.revision();
                let value = (event.kind != EventKind::Deleted).then(|| event.kv.clone());
                written.insert(command.key.clone(), Pending { revision, value });
            }
            outcomes.push(outcome);
        }
        Ok(Planned {
            outcomes,
            written,
            revision,
        })
    }

    /// Commits to redb, publishes and acknowledges every logged batch the log is on disk past.
    fn commit_synced(&mut self, position: u64) {
        if self.failed.is_some() {
            return;
        }
        let synced = self.logged.iter().take_while(|b| b.end <= position).count();
        if synced == 0 {
            return;
        }
        let batches: Vec<Logged> = self.logged.drain(..synced).collect();
        if let Err(error) = self.commit(&batches) {
            // The log holds these batches: a restart replays them.
            self.logged.extend(batches);
            self.fail(error);
            return;
        }
        let revision = batches.last().map_or(self.revision, |b| b.revision);
        self.pending
            .retain(|_, pending| pending.revision > revision);
        let mut replies = Vec::new();
        // Publish before acknowledging: a caller that saw its write acknowledged may
        // immediately watch from just before it.
        self.config
            .hub
            .publish(batches.into_iter().flat_map(|batch| {
                replies.extend(batch.replies);
                batch.events
            }));
        for (reply, ack) in replies {
            // The caller may have given up waiting; the write stands regardless.
            let _ = reply.send(ack);
        }
    }

    /// Writes `batches` to redb in one transaction without an fsync: the log made them durable.
    fn commit(&self, batches: &[Logged]) -> Result<()> {
        let mut txn = self.config.db.begin_write().map_err(from_redb)?;
        txn.set_durability(Durability::None).map_err(from_redb)?;
        let mut revision = None;
        for batch in batches.iter().filter(|b| !b.events.is_empty()) {
            write_batch(&txn, batch.revision, &batch.events, &batch.row)?;
            revision = Some(batch.revision);
        }
        match revision {
            Some(revision) => {
                record_revision(&txn, revision, self.config.history)?;
                txn.commit().map_err(from_redb)
            }
            None => txn.abort().map_err(from_redb),
        }
    }

    /// Makes every commit so far durable in the store file and empties the log. Only called
    /// with nothing logged but uncommitted.
    fn checkpoint(&mut self) {
        let started = Instant::now();
        let log_bytes = self.config.wal.len();
        let checkpointed = (|| {
            let mut txn = self.config.db.begin_write().map_err(from_redb)?;
            txn.set_durability(Durability::Immediate)
                .map_err(from_redb)?;
            txn.set_quick_repair(self.config.quick_repair);
            txn.commit().map_err(from_redb)
        })();
        if checkpointed.is_ok() {
            self.config.wal.reset();
        }
        self.last_checkpoint = Instant::now();
        match checkpointed {
            Ok(()) => tracing::debug!(
                log_bytes,
                took_ms = started.elapsed().as_secs_f64() * 1e3,
                "store checkpoint"
            ),
            Err(error) => self.fail(error),
        }
    }

    /// Stops the writer for good after a failure that leaves the log and the store's state in
    /// doubt; reopening the store recovers from the log. Every write waiting fails.
    fn fail(&mut self, error: Error) {
        tracing::error!(%error, "the store writer stopped; restart to recover from its log");
        let failed = Error::Unavailable(format!(
            "the store stopped taking writes after a failure ({error}); restart the server to \
             recover"
        ));
        for batch in self.logged.drain(..) {
            for (reply, _) in batch.replies {
                let _ = reply.send(Err(failed.clone()));
            }
        }
        for command in self.queued.drain(..) {
            let _ = command.reply.send(Err(failed.clone()));
        }
        self.pending.clear();
        self.failed = Some(failed);
    }
}

/// Writes one batch's events to the objects table and its row to the change log.
pub(super) fn write_batch(
    txn: &WriteTransaction,
    revision: i64,
    events: &[WatchEvent],
    row: &[u8],
) -> Result<()> {
    let mut objects = txn.open_table(OBJECTS).map_err(from_redb)?;
    for event in events {
        let key = event.kv.key.as_str();
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
    }
    txn.open_table(CHANGELOG)
        .map_err(from_redb)?
        .insert(revision, row)
        .map_err(from_redb)?;
    Ok(())
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
