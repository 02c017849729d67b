//! The values that cross the [`Store`](crate::Store) boundary.

use bytes::Bytes;

/// A key with its value and revisions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValue {
    pub key: String,
    /// Opaque to the store.
    pub value: Bytes,
    /// The revision of the write that created the key (unchanged by updates).
    pub create_revision: i64,
    /// The revision of the latest write to the key (for a deleted key: the delete's revision).
    pub mod_revision: i64,
}

/// Paging of [`Store::list`](crate::Store::list).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListOptions {
    /// Return at most this many items (`None`: all of them). `Some(0)` is treated as `None`,
    /// as Kubernetes treats `limit=0`.
    pub limit: Option<usize>,
    /// Return only keys strictly greater than this one: the last key of the previous page.
    pub start_after: Option<String>,
}

/// One page of [`Store::list`](crate::Store::list).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListResult {
    pub items: Vec<KeyValue>,
    /// The store revision the page was read at.
    pub revision: i64,
    /// Whether keys under the prefix remain after the last returned item.
    pub more: bool,
    /// How many keys under the prefix remain after the last returned item, if the backend knows.
    pub remaining: Option<u64>,
}

/// What a write did to a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    Created,
    Modified,
    Deleted,
}

/// One write, as seen by watchers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchEvent {
    pub kind: EventKind,
    /// The key after the write. For `Deleted`: the last value, with `mod_revision` set to the
    /// delete's revision. `kv.mod_revision` is always the event's revision.
    pub kv: KeyValue,
    /// The key before the write, for `Modified` and `Deleted`.
    pub prev: Option<KeyValue>,
}

/// What a progress-reporting watch yields; see [`Store::watch_with_progress`](crate::Store::watch_with_progress).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchItem {
    Event(WatchEvent),
    /// Every event under the watched prefix up to this revision has been yielded: a watch
    /// resumed after it misses nothing. It moves past writes to other prefixes, which is what
    /// keeps a quiet kind's watchers from falling out of the history (Kubernetes' bookmarks).
    Progress(i64),
}

impl WatchEvent {
    /// The revision of the write that produced this event.
    pub fn revision(&self) -> i64 {
        self.kv.mod_revision
    }
}
