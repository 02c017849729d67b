//! Errors of connecting to etcd, and the mapping of etcd-client's errors onto the store's:
//! anything that keeps a request from being answered (unreachable members, deadlines, no
//! leader) is [`Error::Unavailable`], which the API server turns into 503, with a message that
//! says which of these it was.

use std::path::PathBuf;

use tonic::Code;

use crate::Error;

/// Why [`EtcdStore::connect`](super::EtcdStore::connect) failed.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("no etcd endpoints given")]
    NoEndpoints,

    #[error("invalid etcd prefix {0:?}: it must start with '/' and name more than the root")]
    InvalidPrefix(String),

    #[error("a client certificate for etcd needs both the certificate and the key file")]
    IncompleteIdentity,

    #[error("reading {path}: {source}")]
    ReadTls {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The endpoints or TLS settings were rejected by the client.
    #[error("invalid etcd client configuration: {0}")]
    Client(#[source] etcd_client::Error),

    /// `svcplane snapshot restore` into this prefix started and did not finish: serving the
    /// half-restored keys would look like data loss.
    #[error(
        "etcd prefix {prefix} holds an unfinished snapshot restore (marker key {marker:?}: {note}); finish it with `svcplane snapshot restore --replace` before serving"
    )]
    UnfinishedRestore {
        prefix: String,
        marker: String,
        note: String,
    },

    /// The first request failed: etcd is unreachable or has no leader.
    #[error(transparent)]
    Unavailable(#[from] Error),
}

/// Why an etcd request could not be answered, in words an operator acts on.
fn reason(err: &etcd_client::Error) -> &'static str {
    use etcd_client::Error as E;
    match err {
        E::GRpcStatus(status) => {
            let message = status.message();
            if message.contains("no leader") || message.contains("leader changed") {
                "the etcd cluster has no leader"
            } else if status.code() == Code::DeadlineExceeded || message.contains("timed out") {
                "the etcd request timed out"
            } else if status.code() == Code::Unavailable
                || message.contains("transport error")
                || message.contains("connect")
            {
                "etcd is unreachable"
            } else if message.contains("too many requests") {
                "etcd is overloaded"
            } else {
                "the etcd request failed"
            }
        }
        E::TransportError(_) | E::IoError(_) => "etcd is unreachable",
        _ => "the etcd request failed",
    }
}

/// The store error for a failed etcd request: `op` on `key` (or a prefix) against `endpoints`.
pub(super) fn unavailable(op: &str, key: &str, endpoints: &str, err: etcd_client::Error) -> Error {
    Error::Unavailable(format!(
        "{} ({op} {key:?} at {endpoints}): {err}",
        reason(&err)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::Status;

    #[test]
    fn reasons() {
        let cases = [
            (Status::unavailable("etcdserver: no leader"), "no leader"),
            (Status::unknown("etcdserver: leader changed"), "no leader"),
            (
                Status::deadline_exceeded("context deadline exceeded"),
                "timed out",
            ),
            (
                Status::unavailable("etcdserver: request timed out"),
                "timed out",
            ),
            (
                Status::unavailable("transport: connection refused"),
                "unreachable",
            ),
            (Status::unknown("transport error"), "unreachable"),
            (
                Status::resource_exhausted("etcdserver: too many requests"),
                "overloaded",
            ),
            (
                Status::invalid_argument("etcdserver: key is not provided"),
                "failed",
            ),
        ];
        for (status, want) in cases {
            let message = status.message().to_owned();
            let err = unavailable(
                "get",
                "/k",
                "http://e",
                etcd_client::Error::GRpcStatus(status),
            );
            let Error::Unavailable(text) = err else {
                panic!("{message}: not Unavailable")
            };
            assert!(text.contains(want), "{message}: {text}");
            assert!(text.contains("get \"/k\" at http://e"), "{text}");
        }
    }
}
