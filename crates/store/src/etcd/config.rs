//! [`EtcdConfig`]: how to reach etcd and where the store lives in it, with kube-apiserver's
//! defaults.

use std::path::PathBuf;
use std::time::Duration;

/// The key prefix of kube-apiserver's objects in etcd, and of the API server's store keys.
pub const DEFAULT_PREFIX: &str = "/registry";

/// How often history is compacted by default (kube-apiserver's `--etcd-compaction-interval`).
pub const DEFAULT_COMPACTION_INTERVAL: Duration = Duration::from_secs(5 * 60);

/// The configuration of an [`EtcdStore`](super::EtcdStore).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EtcdConfig {
    /// Client URLs of the members (`http://` or `https://`); requests are balanced over them.
    pub endpoints: Vec<String>,
    /// Where the store's keys live in etcd: it replaces [`Self::store_root`] at the start of
    /// every key. Must start with `/`; trailing slashes are ignored. Default `/registry`, so an
    /// object's etcd key is its store key. Prefixes of stores sharing one etcd must not be
    /// string prefixes of each other (`/a` and `/ab`).
    pub prefix: String,
    /// The leading part of every store key, which `prefix` replaces. Default `/registry` (all
    /// of the API server's keys start with it); empty makes `prefix` a plain prepend. Writes to
    /// keys outside it fail.
    pub store_root: String,
    /// TLS towards `https://` endpoints.
    pub tls: Option<EtcdTls>,
    /// Every interval, compact the history up to the revision seen one interval earlier, as
    /// kube-apiserver does; replicas sharing an etcd take turns through the `compact_rev_key`
    /// key. `None` leaves compaction to someone else. Default 5 minutes.
    pub compaction_interval: Option<Duration>,
    /// The deadline of each request; watch streams are not cut by it. Default 10 s.
    pub request_timeout: Duration,
    /// The deadline of establishing a connection to a member. Default 5 s.
    pub connect_timeout: Duration,
}

impl EtcdConfig {
    /// The defaults above for these endpoints.
    pub fn new(endpoints: Vec<String>) -> Self {
        EtcdConfig {
            endpoints,
            prefix: DEFAULT_PREFIX.to_owned(),
            store_root: DEFAULT_PREFIX.to_owned(),
            tls: None,
            compaction_interval: Some(DEFAULT_COMPACTION_INTERVAL),
            request_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
        }
    }
}

/// PEM files for TLS towards etcd (kube-apiserver's `--etcd-cafile`, `--etcd-certfile`,
/// `--etcd-keyfile`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EtcdTls {
    /// The CA that signed the members' serving certificates.
    pub ca_file: Option<PathBuf>,
    /// A client certificate, for members that require one; needs `key_file`.
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
}
