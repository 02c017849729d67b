//! [`EtcdStore`]: the [`Store`] trait on an etcd v3 cluster, so that several API server
//! replicas can share one state, as kube-apiserver replicas do.
//!
//! The store revision is etcd's revision: a key's `mod_revision` is its resourceVersion, a list
//! reports the header revision it was read at, and a watch resumes from any revision etcd has
//! not compacted. Every write is one transaction whose comparison carries the store's
//! precondition (absent for create, the expected mod revision for update and delete), so
//! concurrent writers through any replica never lose an update; a failed comparison reads the
//! key in the same transaction to tell NotFound from Conflict. Reads are linearizable (etcd's
//! default), never serializable: a replica must not serve a list older than a write another
//! replica acknowledged.
//!
//! etcd's revision also counts writes outside the store's prefix (other tenants, the compactor's
//! bookkeeping), so with etcd the revision grows by at least one per write, not exactly one.
//! Connection problems, deadlines and a missing leader are [`Error::Unavailable`].

mod compactor;
mod config;
mod error;
mod keyspace;
mod members;
pub(crate) mod snapshot;
mod watch;

#[cfg(test)]
mod tests;

pub use config::{DEFAULT_COMPACTION_INTERVAL, DEFAULT_PREFIX, EtcdConfig, EtcdTls};
pub use error::ConnectError;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use etcd_client::{
    Compare, CompareOp, ConnectOptions, DeleteOptions, GetOptions, Txn, TxnOp, TxnOpResponse,
    TxnResponse,
};
use tokio::task::JoinHandle;

use crate::{Error, Export, KeyValue, ListOptions, ListResult, Result, Store, WatchStream};
use keyspace::KeySpace;
use members::{Members, Retry};

/// How often an idle connection to a member is pinged, and how long a ping may go unanswered
/// before the connection counts as broken.
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(30);
const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(10);

/// A [`Store`] backed by an etcd cluster.
pub struct EtcdStore {
    members: Arc<Members>,
    keys: KeySpace,
    /// The history floor: the highest revision known to be compacted.
    floor: Arc<AtomicI64>,
    compactor: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for EtcdStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EtcdStore")
            .field("endpoints", &self.members.endpoints())
            .field("keys", &self.keys)
            .finish_non_exhaustive()
    }
}

impl EtcdStore {
    /// Connects to etcd and checks that it answers (one linearizable read, which also needs a
    /// leader) and that no restore into the prefix is unfinished, then starts the periodic
    /// compaction if configured. Must be called within a tokio runtime.
    pub async fn connect(config: EtcdConfig) -> Result<EtcdStore, ConnectError> {
        let store = Self::connect_unchecked(config).await?;
        if let Some(note) = store.restore_marker().await? {
            return Err(ConnectError::UnfinishedRestore {
                prefix: store.etcd_prefix().to_owned(),
                marker: snapshot::marker_key(store.etcd_prefix()),
                note,
            });
        }
        Ok(store)
    }

    /// [`EtcdStore::connect`] without the unfinished-restore check, for the restore itself.
    pub(crate) async fn connect_unchecked(config: EtcdConfig) -> Result<EtcdStore, ConnectError> {
        if config.endpoints.is_empty() {
            return Err(ConnectError::NoEndpoints);
        }
        let prefix = config.prefix.trim_end_matches('/');
        if !prefix.starts_with('/') {
            return Err(ConnectError::InvalidPrefix(config.prefix.clone()));
        }
        let mut options = ConnectOptions::new()
            .with_timeout(config.request_timeout)
            .with_connect_timeout(config.connect_timeout)
            // Fail requests and watches on a member cut off from the leader instead of letting
            // them wait (or watch a member that no longer hears about writes).
            .with_require_leader(true)
            // kube-apiserver's keepalive. etcd closes connections that ping more often than
            // every 5 s (its `--grpc-keepalive-min-time`), which would cut every watch.
            .with_keep_alive(KEEPALIVE_INTERVAL, KEEPALIVE_TIMEOUT);
        if let Some(tls) = &config.tls {
            options = options.with_tls(tls_options(tls)?);
        }
        let members = Members::connect(&config.endpoints, &options)
            .await
            .map_err(ConnectError::Client)?;
        let members = Arc::new(members);
        let compacted = compactor::last_compacted(&members)
            .await
            .map_err(|err| match err {
                // Members that require a client certificate often just close the connection
                // of a client without one, and the client sees no reason: name the likely one.
                Error::Unavailable(message) if tls_without_identity(&config) => {
                    ConnectError::WithoutClientCertificate(message)
                }
                other => ConnectError::Unavailable(other),
            })?;
        let floor = Arc::new(AtomicI64::new(compacted));
        let compactor = config
            .compaction_interval
            .filter(|interval| !interval.is_zero())
            .map(|interval| tokio::spawn(compactor::run(members.clone(), interval, floor.clone())));
        Ok(EtcdStore {
            members,
            keys: KeySpace::new(&config.store_root, prefix),
            floor,
            compactor,
        })
    }

    /// Compacts etcd's history before `revision` now (the periodic compaction does this on
    /// its own); watches may then start after `revision` at the earliest.
    pub async fn compact(&self, revision: i64) -> Result<()> {
        compactor::compact(&self.members, revision, &self.floor).await
    }

    fn etcd_key(&self, key: &str) -> Result<Vec<u8>> {
        self.keys.to_etcd(key).ok_or_else(|| {
            Error::Corrupt(format!(
                "key {key:?} is outside the etcd store's key space (it must start with the store root)"
            ))
        })
    }

    /// Runs `txn` (`op` on `key`, for messages).
    async fn txn(&self, op: &str, key: &str, txn: Txn) -> Result<TxnResponse> {
        self.members
            .kv(op, key, Retry::Write, |mut kv| {
                let txn = txn.clone();
                async move { kv.txn(txn).await }
            })
            .await
    }

    /// Runs `then` if `key` exists and, when `expected` is given, has that mod revision; else
    /// reads the key to say why not.
    async fn conditional(
        &self,
        op: &str,
        key: &str,
        etcd_key: &[u8],
        expected: Option<i64>,
        then: Vec<TxnOp>,
    ) -> Result<TxnResponse> {
        let mut when = vec![Compare::version(etcd_key, CompareOp::Greater, 0)];
        if let Some(expected) = expected {
            when.push(Compare::mod_revision(etcd_key, CompareOp::Equal, expected));
        }
        let read = GetOptions::new().with_keys_only();
        let txn = Txn::new()
            .when(when)
            .and_then(then)
            .or_else([TxnOp::get(etcd_key, Some(read))]);
        let response = self.txn(op, key, txn).await?;
        if response.succeeded() {
            return Ok(response);
        }
        let actual = match response.op_responses().into_iter().next() {
            Some(TxnOpResponse::Get(get)) => get.kvs().first().map(|kv| kv.mod_revision()),
            _ => None,
        };
        Err(match (actual, expected) {
            (Some(actual), Some(expected)) => Error::Conflict {
                key: key.to_owned(),
                expected,
                actual,
            },
            _ => Error::NotFound {
                key: key.to_owned(),
            },
        })
    }
}

impl Drop for EtcdStore {
    fn drop(&mut self) {
        if let Some(compactor) = self.compactor.take() {
            compactor.abort();
        }
    }
}

/// The revision a response was served at.
fn revision(header: Option<&etcd_client::ResponseHeader>) -> Result<i64> {
    header
        .map(|h| h.revision())
        .ok_or_else(|| Error::Corrupt("etcd response without a header".into()))
}

/// Whether `config` reaches an `https://` member without a client certificate.
fn tls_without_identity(config: &EtcdConfig) -> bool {
    let https = config.endpoints.iter().any(|e| e.starts_with("https://"));
    https
        && config
            .tls
            .as_ref()
            .is_none_or(|tls| tls.cert_file.is_none())
}

fn tls_options(tls: &EtcdTls) -> Result<etcd_client::TlsOptions, ConnectError> {
    let read = |path: &std::path::PathBuf| {
        std::fs::read(path).map_err(|source| ConnectError::ReadTls {
            path: path.clone(),
            source,
        })
    };
    let mut options = etcd_client::TlsOptions::new();
    if let Some(ca) = &tls.ca_file {
        options = options.ca_certificate(etcd_client::Certificate::from_pem(read(ca)?));
    }
    match (&tls.cert_file, &tls.key_file) {
        (Some(cert), Some(key)) => {
            options = options.identity(etcd_client::Identity::from_pem(read(cert)?, read(key)?));
        }
        (None, None) => {}
        _ => return Err(ConnectError::IncompleteIdentity),
    }
    Ok(options)
}

#[async_trait]
impl Store for EtcdStore {
    async fn get(&self, key: &str) -> Result<Option<KeyValue>> {
        let etcd_key = self.etcd_key(key)?;
        let response = self
            .members
            .kv("get", key, Retry::Read, |mut kv| {
                let etcd_key = etcd_key.clone();
                async move { kv.get(etcd_key, None).await }
            })
            .await?;
        response
            .kvs()
            .first()
            .map(|kv| watch::to_kv(&self.keys, kv))
            .transpose()
    }

    async fn list(&self, prefix: &str, opts: ListOptions) -> Result<ListResult> {
        let Some((start, end)) = self.keys.range(prefix, opts.start_after.as_deref()) else {
            return Ok(ListResult {
                items: Vec::new(),
                revision: self.current_revision().await?,
                more: false,
                remaining: Some(0),
            });
        };
        let mut options = GetOptions::new().with_range(end);
        if let Some(limit) = opts.limit.filter(|&limit| limit > 0) {
            options = options.with_limit(i64::try_from(limit).unwrap_or(i64::MAX));
        }
        let mut response = self
            .members
            .kv("list", prefix, Retry::Read, |mut kv| {
                let (start, options) = (start.clone(), options.clone());
                async move { kv.get(start, Some(options)).await }
            })
            .await?;
        let revision = revision(response.header())?;
        let (more, count) = (response.more(), response.count());
        let items = response
            .take_kvs()
            .into_iter()
            .map(|kv| {
                let (create_revision, mod_revision) = (kv.create_revision(), kv.mod_revision());
                let (key, value) = kv.into_key_value();
                Ok(KeyValue {
                    key: watch::store_key(&self.keys, &key)?,
                    value: Bytes::from(value),
                    create_revision,
                    mod_revision,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        // etcd's count is of the whole range, before the limit.
        let remaining = u64::try_from(count).unwrap_or(0) - items.len() as u64;
        Ok(ListResult {
            items,
            revision,
            more,
            remaining: Some(remaining),
        })
    }

    async fn create(&self, key: &str, value: Bytes) -> Result<KeyValue> {
        let etcd_key = self.etcd_key(key)?;
        let absent = Compare::create_revision(etcd_key.as_slice(), CompareOp::Equal, 0);
        let txn = Txn::new()
            .when([absent])
            .and_then([TxnOp::put(etcd_key, value.to_vec(), None)]);
        let response = self.txn("create", key, txn).await?;
        if !response.succeeded() {
            return Err(Error::AlreadyExists {
                key: key.to_owned(),
            });
        }
        let revision = revision(response.header())?;
        Ok(KeyValue {
            key: key.to_owned(),
            value,
            create_revision: revision,
            mod_revision: revision,
        })
    }

    async fn update(
        &self,
        key: &str,
        value: Bytes,
        expected_mod_revision: Option<i64>,
    ) -> Result<KeyValue> {
        let etcd_key = self.etcd_key(key)?;
        // The read after the put, in the same transaction, gives the key's create revision
        // without shipping the old value back.
        let then = vec![
            TxnOp::put(etcd_key.as_slice(), value.to_vec(), None),
            TxnOp::get(
                etcd_key.as_slice(),
                Some(GetOptions::new().with_keys_only()),
            ),
        ];
        let response = self
            .conditional("update", key, &etcd_key, expected_mod_revision, then)
            .await?;
        let create_revision = match response.op_responses().get(1) {
            Some(TxnOpResponse::Get(get)) => get.kvs().first().map(|kv| kv.create_revision()),
            _ => None,
        }
        .ok_or_else(|| Error::Corrupt(format!("etcd update of {key:?} returned no key")))?;
        Ok(KeyValue {
            key: key.to_owned(),
            value,
            create_revision,
            mod_revision: revision(response.header())?,
        })
    }

    async fn delete(&self, key: &str, expected_mod_revision: Option<i64>) -> Result<KeyValue> {
        let etcd_key = self.etcd_key(key)?;
        let then = vec![TxnOp::delete(
            etcd_key.as_slice(),
            Some(DeleteOptions::new().with_prev_key()),
        )];
        let response = self
            .conditional("delete", key, &etcd_key, expected_mod_revision, then)
            .await?;
        let last = match response.op_responses().into_iter().next() {
            Some(TxnOpResponse::Delete(delete)) => delete
                .prev_kvs()
                .first()
                .map(|kv| watch::to_kv(&self.keys, kv)),
            _ => None,
        }
        .ok_or_else(|| Error::Corrupt(format!("etcd delete of {key:?} returned no value")))??;
        Ok(KeyValue {
            mod_revision: revision(response.header())?,
            ..last
        })
    }

    async fn current_revision(&self) -> Result<i64> {
        let prefix = self.keys.prefix();
        let response = self
            .members
            .kv("get", prefix, Retry::Read, |mut kv| async move {
                kv.get(prefix, Some(GetOptions::new().with_count_only()))
                    .await
            })
            .await?;
        revision(response.header())
    }

    async fn watch(&self, prefix: &str, after_revision: i64) -> Result<WatchStream> {
        let ctx = watch::WatchContext {
            members: Arc::clone(&self.members),
            keys: self.keys.clone(),
            floor: Arc::clone(&self.floor),
        };
        watch::open(ctx, prefix, after_revision).await
    }

    fn compacted_revision(&self) -> i64 {
        self.floor.load(Ordering::Acquire)
    }

    async fn export(&self, prefix: &str) -> Result<Export> {
        snapshot::export(self, prefix).await
    }
}
