//! The persistence layer of svcplane: a revisioned key-value store with watch, playing the role
//! etcd plays for kube-apiserver.
//!
//! This crate owns the [`Store`] trait (get, prefix list with paging, create, update and delete
//! with a mod-revision precondition, watch from a revision), its backends ([`RedbStore`], an
//! embedded single-file store, and [`MemoryStore`], a non-durable one for tests), and the
//! conformance suite every backend must pass (`store::conformance`, behind the `conformance`
//! feature).
//!
//! [`snapshot`] writes and reads backup files of a whole store as of one revision, and restores
//! them into a new embedded store file or into etcd.
//!
//! A single global revision counter starts at 1 with the first write and grows by exactly one per
//! successful write; it becomes the Kubernetes `resourceVersion`.
//!
//! The store must never interpret values: they are opaque bytes (JSON of an object, as chosen by
//! the API server), and keys are opaque strings whose only structure is prefix ordering. Mapping
//! errors to HTTP statuses is the API server's job, not this crate's.

mod error;
mod keys;
mod memory;
mod model;
mod ops;
mod redb_store;
pub mod snapshot;
mod watch;

#[cfg(any(test, feature = "conformance"))]
pub mod conformance;
#[cfg(feature = "etcd")]
pub mod etcd;

pub use error::{Error, Result};
#[cfg(feature = "etcd")]
pub use etcd::{EtcdConfig, EtcdStore};
pub use memory::MemoryStore;
pub use model::{EventKind, KeyValue, ListOptions, ListResult, WatchEvent, WatchItem};
pub use redb_store::{EmbeddedConfig, RedbStore};

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;

/// The default number of events a backend keeps for watch resume (see
/// [`EmbeddedConfig::history`]).
pub const DEFAULT_HISTORY: usize = 10_000;

/// A stream of watch events; see [`Store::watch`].
pub type WatchStream = BoxStream<'static, Result<WatchEvent>>;

/// A stream of watch events and progress; see [`Store::watch_with_progress`].
pub type ProgressStream = BoxStream<'static, Result<WatchItem>>;

/// Every key under a prefix as of one revision, for backups; see [`Store::export`].
pub struct Export {
    /// The revision every key was read at.
    pub revision: i64,
    /// How many keys `pages` yields in all.
    pub count: u64,
    /// The keys in key order, a page at a time, all read at `revision`.
    pub pages: BoxStream<'static, Result<Vec<KeyValue>>>,
}

impl std::fmt::Debug for Export {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Export")
            .field("revision", &self.revision)
            .field("count", &self.count)
            .finish_non_exhaustive()
    }
}

/// A revisioned key-value store with watch.
///
/// Every successful write gets the next revision (the previous one plus one) and produces exactly
/// one [`WatchEvent`]. Used as `Arc<dyn Store>`.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// The current value of `key`, or `None` if it does not exist.
    async fn get(&self, key: &str) -> Result<Option<KeyValue>>;

    /// The keys starting with `prefix`, sorted by key, read from one consistent snapshot.
    ///
    /// `opts.start_after` (an exclusive lower bound, the "continue" key) and `opts.limit` page
    /// through large prefixes. Each page is read at the current revision: pages of one listing
    /// are not guaranteed to come from the same snapshot.
    async fn list(&self, prefix: &str, opts: ListOptions) -> Result<ListResult>;

    /// Creates `key`; fails with [`Error::AlreadyExists`] if it exists.
    async fn create(&self, key: &str, value: Bytes) -> Result<KeyValue>;

    /// Replaces the value of an existing `key`.
    ///
    /// Fails with [`Error::NotFound`] if the key does not exist, and with [`Error::Conflict`]
    /// if `expected_mod_revision` is given and differs from the key's current mod revision.
    async fn update(
        &self,
        key: &str,
        value: Bytes,
        expected_mod_revision: Option<i64>,
    ) -> Result<KeyValue>;

    /// Deletes `key`, returning its last value with `mod_revision` set to the delete's revision.
    ///
    /// Fails with [`Error::NotFound`] or [`Error::Conflict`] like [`Store::update`].
    async fn delete(&self, key: &str, expected_mod_revision: Option<i64>) -> Result<KeyValue>;

    /// The revision of the latest write visible to watchers (0 for an empty store).
    async fn current_revision(&self) -> Result<i64>;

    /// Events for keys under `prefix` with revision greater than `after_revision`, in revision
    /// order: first those still in the history, then live events until the store shuts down.
    ///
    /// Fails with [`Error::Expired`] if `after_revision` is older than
    /// [`Store::compacted_revision`]. A consumer that falls more than the history behind the
    /// live events receives one final `Err(Expired)` item, after which the stream ends; it must
    /// list again and watch from the list's revision, as a Kubernetes client does on
    /// `410 Gone`. An `after_revision` newer than the current revision is allowed: the stream
    /// then starts with the first write after it.
    async fn watch(&self, prefix: &str, after_revision: i64) -> Result<WatchStream>;

    /// [`Store::watch`], also telling how far the stream has got when it has yielded every
    /// event so far and writes to other prefixes moved the store on: a
    /// [`WatchItem::Progress`] whenever the stream catches up past revisions it had not yet
    /// reported. Backends that cannot know this without asking a server yield only events (this
    /// default): etcd 3.4's progress notifications may run ahead of events not yet sent
    /// (etcd-io/etcd#15220).
    async fn watch_with_progress(
        &self,
        prefix: &str,
        after_revision: i64,
    ) -> Result<ProgressStream> {
        let events = self.watch(prefix, after_revision).await?;
        Ok(events.map(|item| item.map(WatchItem::Event)).boxed())
    }

    /// The history floor: the oldest revision a watch may still start after. Revisions greater
    /// than it are retained for watch resume.
    fn compacted_revision(&self) -> i64;

    /// Every key under `prefix` as of one revision, with its revisions, in key order: a
    /// consistent backup while writes go on. Backends page through large stores; this default
    /// is one [`Store::list`], which every backend reads from one snapshot.
    async fn export(&self, prefix: &str) -> Result<Export> {
        let list = self.list(prefix, ListOptions::default()).await?;
        Ok(Export {
            revision: list.revision,
            count: list.items.len() as u64,
            pages: futures::stream::once(std::future::ready(Ok(list.items))).boxed(),
        })
    }
}
