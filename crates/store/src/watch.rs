//! Watch fan-out shared by the backends: an in-memory ring of the most recent events, which is
//! both the history a watch may resume from and the buffer live watchers read from, and a
//! signal that wakes the watchers when it grows.
//!
//! A backend calls [`Hub::publish`] with the events of each durable batch, in revision order and
//! before acknowledging the writes, so that a caller that saw its write acknowledged can watch
//! from just before it. A watcher keeps a cursor (the newest revision it has considered) and, on
//! each wake, copies the ring's newer events that match its prefix. So the ring is shared, not
//! copied per watcher; a batch costs one wake-up per watcher, not one per event (a broadcast
//! per event made publishing ~15% of the store writer's time under 64 concurrent creates); and
//! a watcher whose cursor fell out of the ring gets [`Error::Expired`], exactly as a Kubernetes
//! watcher behind the watch cache.

use std::collections::VecDeque;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard};

use futures::StreamExt;
use tokio::sync::watch;

use crate::{Error, ProgressStream, Result, WatchEvent, WatchItem, WatchStream};

/// The most recent events, oldest first, at most `capacity` of them.
#[derive(Debug)]
pub(crate) struct Ring {
    events: VecDeque<Arc<WatchEvent>>,
    capacity: usize,
    /// The revision of the newest event pushed (or the revision the store started at).
    head: i64,
}

impl Ring {
    /// A ring at revision `head` retaining `events`, which must be the contiguous run of events
    /// ending at `head`. Keeps at most `capacity` (at least one) of them.
    pub(crate) fn new(capacity: usize, head: i64, events: Vec<WatchEvent>) -> Self {
        let mut ring = Ring {
            events: VecDeque::with_capacity(capacity.min(events.len())),
            capacity: capacity.max(1),
            head,
        };
        for event in events {
            ring.push(Arc::new(event));
        }
        ring.head = head;
        ring
    }

    pub(crate) fn push(&mut self, event: Arc<WatchEvent>) {
        debug_assert!(self.events.is_empty() || event.revision() == self.head + 1);
        self.head = event.revision();
        if self.events.len() == self.capacity {
            self.events.pop_front();
        }
        self.events.push_back(event);
    }

    pub(crate) fn head(&self) -> i64 {
        self.head
    }

    /// The oldest revision a watch may start after: every later event is retained.
    pub(crate) fn floor(&self) -> i64 {
        self.events
            .front()
            .map_or(self.head, |event| event.revision() - 1)
    }

    /// The retained events with a revision greater than `revision`, oldest first.
    pub(crate) fn after(&self, revision: i64) -> impl Iterator<Item = &Arc<WatchEvent>> {
        let start = self
            .events
            .partition_point(|event| event.revision() <= revision);
        self.events.range(start..)
    }
}

/// The history ring and the signal of its growth.
#[derive(Debug)]
pub(crate) struct Hub {
    ring: RwLock<Ring>,
    /// Changed after every publish; holds `true` once the store shut down, which ends every
    /// watch stream once it has read the ring.
    grown: watch::Sender<bool>,
}

impl Hub {
    /// A hub keeping `history` events, at revision `head`, with the retained `events` (see
    /// [`Ring::new`]).
    pub(crate) fn new(history: usize, head: i64, events: Vec<WatchEvent>) -> Arc<Self> {
        Arc::new(Hub {
            ring: RwLock::new(Ring::new(history, head, events)),
            grown: watch::Sender::new(false),
        })
    }

    fn read(&self) -> RwLockReadGuard<'_, Ring> {
        // Every critical section leaves the ring consistent, so a panic elsewhere while holding
        // the lock does not make the state unusable.
        self.ring.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records the events of committed writes, in revision order, and wakes the watchers.
    pub(crate) fn publish(&self, events: impl IntoIterator<Item = WatchEvent>) {
        {
            let mut ring = self.ring.write().unwrap_or_else(PoisonError::into_inner);
            for event in events {
                ring.push(Arc::new(event));
            }
        }
        self.grown.send_modify(|_| {});
    }

    /// The revision of the newest published event.
    pub(crate) fn head(&self) -> i64 {
        self.read().head()
    }

    /// The oldest revision a watch may start after.
    pub(crate) fn floor(&self) -> i64 {
        self.read().floor()
    }

    /// Ends every watch stream, once it has read what was published; later watches end
    /// immediately after their replay.
    pub(crate) fn close(&self) {
        self.grown.send_replace(true);
    }

    /// See [`Store::watch`](crate::Store::watch).
    pub(crate) fn watch(
        self: &Arc<Self>,
        prefix: &str,
        after_revision: i64,
    ) -> Result<WatchStream> {
        let items = self.items(prefix, after_revision, false)?;
        Ok(items
            .filter_map(|item| {
                std::future::ready(match item {
                    Ok(WatchItem::Event(event)) => Some(Ok(event)),
                    Ok(WatchItem::Progress(_)) => None,
                    Err(e) => Some(Err(e)),
                })
            })
            .boxed())
    }

    /// See [`Store::watch_with_progress`](crate::Store::watch_with_progress).
    pub(crate) fn watch_with_progress(
        self: &Arc<Self>,
        prefix: &str,
        after_revision: i64,
    ) -> Result<ProgressStream> {
        self.items(prefix, after_revision, true)
    }

    fn items(
        self: &Arc<Self>,
        prefix: &str,
        after_revision: i64,
        progress: bool,
    ) -> Result<ProgressStream> {
        let floor = self.floor();
        if after_revision < floor {
            return Err(Error::Expired {
                requested: after_revision,
                oldest: floor,
            });
        }
        let watcher = Watcher {
            hub: Arc::clone(self),
            prefix: prefix.to_owned(),
            ready: VecDeque::new(),
            grown: self.grown.subscribe(),
            cursor: after_revision,
            reported: progress.then_some(after_revision),
            over: false,
        };
        Ok(futures::stream::unfold(watcher, |mut watcher| async move {
            let item = watcher.next().await?;
            Some((item, watcher))
        })
        .boxed())
    }
}

/// The state of one watch stream.
struct Watcher {
    hub: Arc<Hub>,
    prefix: String,
    /// Events read from the ring, not yet yielded.
    ready: VecDeque<Arc<WatchEvent>>,
    grown: watch::Receiver<bool>,
    /// The newest revision this watcher has read the ring up to.
    cursor: i64,
    /// For a progress-reporting watch: the newest revision yielded, as an event or progress.
    reported: Option<i64>,
    /// Set once the stream has ended (store closed, or the watcher fell out of the history).
    over: bool,
}

impl Watcher {
    async fn next(&mut self) -> Option<Result<WatchItem>> {
        loop {
            if let Some(event) = self.ready.pop_front() {
                return Some(Ok(self.yielded(&event)));
            }
            if self.over {
                return None;
            }
            // Marked seen before reading, so a publish after the read wakes the wait below.
            let closed = *self.grown.borrow_and_update();
            if let Err(expired) = self.read_ring() {
                self.over = true;
                return Some(Err(expired));
            }
            if !self.ready.is_empty() {
                continue;
            }
            // Caught up: everything up to the cursor has been considered, so this is the
            // moment progress is true (and reported once, not per skipped event).
            if let Some(reported) = self.reported
                && self.cursor > reported
            {
                self.reported = Some(self.cursor);
                return Some(Ok(WatchItem::Progress(self.cursor)));
            }
            if closed || self.grown.changed().await.is_err() {
                // Read once more what was published before the close.
                self.over = true;
            }
        }
    }

    /// Copies the ring's events past the cursor that match the prefix, and moves the cursor to
    /// the ring's head.
    fn read_ring(&mut self) -> Result<()> {
        let ring = self.hub.read();
        let floor = ring.floor();
        if self.cursor < floor {
            return Err(Error::Expired {
                requested: self.cursor,
                oldest: floor,
            });
        }
        self.ready.extend(
            ring.after(self.cursor)
                .filter(|event| event.kv.key.starts_with(&self.prefix))
                .cloned(),
        );
        self.cursor = self.cursor.max(ring.head());
        Ok(())
    }

    fn yielded(&mut self, event: &WatchEvent) -> WatchItem {
        if let Some(reported) = &mut self.reported {
            *reported = event.revision();
        }
        WatchItem::Event(event.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{EventKind, KeyValue};
    use bytes::Bytes;
    use futures::FutureExt;

    fn event(revision: i64, key: &str) -> WatchEvent {
        WatchEvent {
            kind: EventKind::Created,
            kv: KeyValue {
                key: key.to_owned(),
                value: Bytes::new(),
                create_revision: revision,
                mod_revision: revision,
            },
            prev: None,
        }
    }

    fn revisions<'a>(events: impl Iterator<Item = &'a Arc<WatchEvent>>) -> Vec<i64> {
        events.map(|event| event.revision()).collect()
    }

    #[test]
    fn ring_trims_to_capacity_and_moves_the_floor() {
        let mut ring = Ring::new(3, 0, Vec::new());
        assert_eq!((ring.head(), ring.floor()), (0, 0));
        for revision in 1..=5 {
            ring.push(Arc::new(event(revision, "/k")));
        }
        assert_eq!((ring.head(), ring.floor()), (5, 2));
        assert_eq!(revisions(ring.after(2)), [3, 4, 5]);
        assert_eq!(revisions(ring.after(4)), [5]);
        assert_eq!(revisions(ring.after(5)), Vec::<i64>::new());
        assert_eq!(revisions(ring.after(9)), Vec::<i64>::new());
    }

    #[test]
    fn ring_restores_the_tail_of_a_longer_history() {
        let events = (8..=12).map(|revision| event(revision, "/k")).collect();
        let ring = Ring::new(2, 12, events);
        assert_eq!((ring.head(), ring.floor()), (12, 10));
        assert_eq!(revisions(ring.after(0)), [11, 12]);
    }

    #[test]
    fn ring_without_history_starts_at_head() {
        let ring = Ring::new(10, 42, Vec::new());
        assert_eq!((ring.head(), ring.floor()), (42, 42));
    }

    #[test]
    fn zero_capacity_keeps_one_event() {
        let mut ring = Ring::new(0, 0, Vec::new());
        ring.push(Arc::new(event(1, "/k")));
        ring.push(Arc::new(event(2, "/k")));
        assert_eq!((ring.head(), ring.floor()), (2, 1));
    }

    #[tokio::test]
    async fn lagging_watcher_gets_expired_then_ends() {
        let hub = Hub::new(2, 0, Vec::new());
        let mut stream = hub.watch("/", 0).expect("watch");
        hub.publish((1..=10).map(|revision| event(revision, "/k")));
        match stream.next().await {
            Some(Err(Error::Expired { requested, oldest })) => {
                assert_eq!((requested, oldest), (0, 8));
            }
            other => panic!("expected Expired, got {other:?}"),
        }
        assert!(stream.next().await.is_none());
    }

    #[tokio::test]
    async fn close_ends_streams_after_replay() {
        let hub = Hub::new(10, 0, Vec::new());
        hub.publish([event(1, "/a"), event(2, "/b")]);
        let mut stream = hub.watch("/a", 0).expect("watch");
        hub.close();
        let first = stream.next().await.expect("replayed").expect("event");
        assert_eq!(first.revision(), 1);
        assert!(stream.next().await.is_none());
    }

    fn kinds(items: &[WatchItem]) -> Vec<String> {
        items
            .iter()
            .map(|item| match item {
                WatchItem::Event(event) => format!("event {}", event.revision()),
                WatchItem::Progress(revision) => format!("progress {revision}"),
            })
            .collect()
    }

    async fn take(stream: &mut ProgressStream, n: usize) -> Vec<WatchItem> {
        let mut items = Vec::new();
        for _ in 0..n {
            items.push(stream.next().await.expect("item").expect("no error"));
        }
        items
    }

    #[tokio::test]
    async fn progress_is_reported_once_caught_up_past_other_prefixes() {
        let hub = Hub::new(10, 0, Vec::new());
        let mut stream = hub.watch_with_progress("/a", 0).expect("watch");
        hub.publish([
            event(1, "/b"),
            event(2, "/a"),
            event(3, "/b"),
            event(4, "/b"),
        ]);
        let items = take(&mut stream, 2).await;
        assert_eq!(kinds(&items), ["event 2", "progress 4"]);
        assert!(
            stream.next().now_or_never().is_none(),
            "nothing more to say"
        );
        hub.publish([event(5, "/a")]);
        assert_eq!(kinds(&take(&mut stream, 1).await), ["event 5"]);
        assert!(
            stream.next().now_or_never().is_none(),
            "no progress past an event"
        );
    }

    #[tokio::test]
    async fn progress_starts_at_the_head_when_the_history_has_nothing_for_the_prefix() {
        let hub = Hub::new(10, 0, Vec::new());
        hub.publish([event(1, "/b"), event(2, "/b")]);
        let mut stream = hub.watch_with_progress("/a", 0).expect("watch");
        assert_eq!(kinds(&take(&mut stream, 1).await), ["progress 2"]);
        let mut resumed = hub.watch_with_progress("/a", 2).expect("watch");
        assert!(resumed.next().now_or_never().is_none());
    }

    #[tokio::test]
    async fn plain_watches_yield_no_progress() {
        let hub = Hub::new(10, 0, Vec::new());
        let mut stream = hub.watch("/a", 0).expect("watch");
        hub.publish([event(1, "/b"), event(2, "/b")]);
        assert!(stream.next().now_or_never().is_none());
    }
}
