//! What backups need of etcd: a consistent export paged at one revision, and the primitives a
//! restore is made of (the unfinished-restore marker, emptying the prefix, batched creates).
//!
//! An export reads its first page at the current revision and every further page *at that
//! revision* (etcd's MVCC keeps it until compacted), so it is one consistent view however long
//! it takes, without holding everything in one response.
//!
//! A restore cannot be one etcd transaction (etcd caps a transaction at 128 operations and a
//! request at 1.5 MiB by default), so it is many, bracketed by a marker key outside every
//! prefix: written before the first batch, deleted after the last. While it exists,
//! [`EtcdStore::connect`] refuses the prefix, so a half-restored store is never served.

use etcd_client::{Compare, CompareOp, DeleteOptions, GetOptions, Txn, TxnOp};
use futures::StreamExt;

use super::keyspace::range_end;
use super::members::Retry;
use super::{EtcdStore, revision, watch};
use crate::{Error, Export, KeyValue, Result, Store};

/// Keys per export page (kube-apiserver pages its lists by 500 to 1000).
const EXPORT_PAGE: i64 = 1000;

/// Puts per restore transaction: below etcd's default `--max-txn-ops` of 128.
pub(crate) const RESTORE_BATCH_KEYS: usize = 100;
/// Bytes of keys and values per restore transaction: below etcd's default
/// `--max-request-bytes` of 1.5 MiB, with room for the request's framing.
pub(crate) const RESTORE_BATCH_BYTES: usize = 1024 * 1024;

/// The marker of an unfinished restore into `prefix`; not under any prefix (they start with
/// `/`), like kube-apiserver's `compact_rev_key`.
pub(crate) fn marker_key(prefix: &str) -> String {
    format!("svcplane/restore-in-progress{prefix}")
}

/// Every store key under `prefix` at one revision, paged.
pub(super) async fn export(store: &EtcdStore, prefix: &str) -> Result<Export> {
    let Some((start, end)) = store.keys.range(prefix, None) else {
        return Ok(Export {
            revision: Store::current_revision(store).await?,
            count: 0,
            pages: futures::stream::empty().boxed(),
        });
    };
    let pager = std::sync::Arc::new(Pager {
        members: store.members.clone(),
        keys: store.keys.clone(),
    });
    let first = pager.page(prefix, start, &end, None).await?;
    let (revision, count) = (first.revision, first.count);
    let prefix = prefix.to_owned();
    let rest = futures::stream::try_unfold(first.next, move |next| {
        let (pager, prefix, end) = (pager.clone(), prefix.clone(), end.clone());
        async move {
            let Some(start) = next else {
                return Ok(None);
            };
            let page = pager.page(&prefix, start, &end, Some(revision)).await?;
            Ok(Some((page.items, page.next)))
        }
    });
    let pages = futures::stream::once(std::future::ready(Ok(first.items)))
        .chain(rest)
        .boxed();
    Ok(Export {
        revision,
        count,
        pages,
    })
}

struct Page {
    items: Vec<KeyValue>,
    revision: i64,
    count: u64,
    /// Where the next page starts, if there is one.
    next: Option<Vec<u8>>,
}

/// What the pages after the first need (the stream outlives the borrow of the store).
struct Pager {
    members: std::sync::Arc<super::members::Members>,
    keys: super::keyspace::KeySpace,
}

impl Pager {
    async fn page(
        &self,
        prefix: &str,
        start: Vec<u8>,
        end: &[u8],
        at: Option<i64>,
    ) -> Result<Page> {
        let mut options = GetOptions::new()
            .with_range(end.to_vec())
            .with_limit(EXPORT_PAGE);
        if let Some(at) = at {
            options = options.with_revision(at);
        }
        let mut response = self
            .members
            .kv("export", prefix, Retry::Read, |mut kv| {
                let (start, options) = (start.clone(), options.clone());
                async move { kv.get(start, Some(options)).await }
            })
            .await?;
        let revision = revision(response.header())?;
        let (more, count) = (response.more(), response.count());
        let kvs = response.take_kvs();
        let next = match (more, kvs.last()) {
            (true, Some(last)) => {
                let mut next = last.key().to_vec();
                next.push(0);
                Some(next)
            }
            _ => None,
        };
        let items = kvs
            .iter()
            .map(|kv| watch::to_kv(&self.keys, kv))
            .collect::<Result<Vec<_>>>()?;
        Ok(Page {
            items,
            revision: at.unwrap_or(revision),
            count: u64::try_from(count).unwrap_or(0),
            next,
        })
    }
}

impl EtcdStore {
    /// The etcd prefix this store's keys live under (`/registry` by default).
    pub(crate) fn etcd_prefix(&self) -> &str {
        self.keys.prefix()
    }

    /// Whether the store key `key` has a place in this store's etcd prefix.
    pub(crate) fn holds_key(&self, key: &str) -> bool {
        self.keys.to_etcd(key).is_some()
    }

    /// How many keys the prefix holds.
    pub(crate) async fn key_count(&self) -> Result<u64> {
        let Some((start, end)) = self.keys.range("", None) else {
            return Ok(0);
        };
        let response = self
            .members
            .kv("count", self.keys.prefix(), Retry::Read, |mut kv| {
                let (start, end) = (start.clone(), end.clone());
                async move {
                    kv.get(
                        start,
                        Some(GetOptions::new().with_range(end).with_count_only()),
                    )
                    .await
                }
            })
            .await?;
        Ok(u64::try_from(response.count()).unwrap_or(0))
    }

    /// The note of an unfinished restore into this prefix, if there is one.
    pub(crate) async fn restore_marker(&self) -> Result<Option<String>> {
        let marker = marker_key(self.keys.prefix());
        let response = self
            .members
            .kv("get", &marker, Retry::Read, |mut kv| {
                let marker = marker.clone();
                async move { kv.get(marker, None).await }
            })
            .await?;
        Ok(response
            .kvs()
            .first()
            .map(|kv| String::from_utf8_lossy(kv.value()).into_owned()))
    }

    /// Marks a restore as started (`note` says from what), or clears the mark (`None`).
    pub(crate) async fn set_restore_marker(&self, note: Option<&str>) -> Result<()> {
        let marker = marker_key(self.keys.prefix());
        let op = match note {
            Some(note) => TxnOp::put(marker.as_str(), note, None),
            None => TxnOp::delete(marker.as_str(), None),
        };
        self.txn("restore marker", &marker, Txn::new().and_then([op]))
            .await?;
        Ok(())
    }

    /// Deletes every key under the prefix in one request; returns how many there were.
    pub(crate) async fn delete_all(&self) -> Result<u64> {
        let prefix = self.keys.prefix().as_bytes().to_vec();
        let end = range_end(&prefix);
        let response = self
            .members
            .kv("delete", self.keys.prefix(), Retry::Write, |mut kv| {
                let (prefix, end) = (prefix.clone(), end.clone());
                async move {
                    kv.delete(prefix, Some(DeleteOptions::new().with_range(end)))
                        .await
                }
            })
            .await?;
        Ok(u64::try_from(response.deleted()).unwrap_or(0))
    }

    /// Creates all of `batch` in one transaction, or none of it if any key exists
    /// ([`Error::AlreadyExists`] for the first of the batch). Returns the revision it wrote at.
    pub(crate) async fn create_batch(&self, batch: &[KeyValue]) -> Result<i64> {
        let Some(first) = batch.first() else {
            return Store::current_revision(self).await;
        };
        let mut compares = Vec::with_capacity(batch.len());
        let mut puts = Vec::with_capacity(batch.len());
        for kv in batch {
            let key = self.etcd_key(&kv.key)?;
            compares.push(Compare::create_revision(
                key.as_slice(),
                CompareOp::Equal,
                0,
            ));
            puts.push(TxnOp::put(key, kv.value.to_vec(), None));
        }
        let txn = Txn::new().when(compares).and_then(puts);
        let response = self.txn("restore", &first.key, txn).await?;
        if !response.succeeded() {
            return Err(Error::AlreadyExists {
                key: first.key.clone(),
            });
        }
        revision(response.header())
    }
}
