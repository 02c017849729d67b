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

    /// The first request over TLS without a client certificate failed (its message first).
    #[error(
        "store unavailable: {0}; no client certificate was given for TLS to etcd, and members that require one (etcd --client-cert-auth) refuse the connection: give a client certificate and key (--etcd-certfile, --etcd-keyfile)"
    )]
    WithoutClientCertificate(String),

    /// The first request failed: etcd is unreachable or has no leader.
    #[error(transparent)]
    Unavailable(#[from] Error),
}

/// Why an etcd member could not answer a request, from the least to the most telling: when
/// several members fail, the most telling one heads the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Reason {
    Failed,
    Unreachable,
    Overloaded,
    TimedOut,
    NoLeader,
}

impl Reason {
    fn of(err: &etcd_client::Error) -> Reason {
        use etcd_client::Error as E;
        match err {
            E::GRpcStatus(status) => {
                let message = status.message();
                if message.contains("no leader") || message.contains("leader changed") {
                    Reason::NoLeader
                } else if status.code() == Code::DeadlineExceeded
                    || message.contains("timed out")
                    || message.contains("Timeout expired")
                {
                    Reason::TimedOut
                } else if status.code() == Code::Unavailable
                    || message.contains("transport error")
                    || message.contains("connect")
                {
                    Reason::Unreachable
                } else if message.contains("too many requests") {
                    Reason::Overloaded
                } else {
                    Reason::Failed
                }
            }
            E::TransportError(_) | E::IoError(_) => Reason::Unreachable,
            _ => Reason::Failed,
        }
    }

    /// The reason in words an operator acts on.
    fn headline(self) -> &'static str {
        match self {
            Reason::NoLeader => "the etcd cluster has no leader",
            Reason::TimedOut => "the etcd request timed out",
            Reason::Unreachable => "etcd is unreachable",
            Reason::Overloaded => "etcd is overloaded",
            Reason::Failed => "the etcd request failed",
        }
    }

    /// One member's failure, short.
    fn member(self) -> &'static str {
        match self {
            Reason::NoLeader => "no leader",
            Reason::TimedOut => "timed out",
            Reason::Unreachable => "unreachable",
            Reason::Overloaded => "overloaded",
            Reason::Failed => "failed",
        }
    }
}

/// The core of an etcd-client error: the gRPC message without tonic's debug dump.
fn detail(err: &etcd_client::Error) -> String {
    match err {
        etcd_client::Error::GRpcStatus(status) => {
            // tonic's source chain says what the message does not (which connect error).
            let mut source = std::error::Error::source(status);
            let mut last = None;
            while let Some(s) = source {
                last = Some(s.to_string());
                source = s.source();
            }
            match last {
                Some(cause) if cause != status.message() => {
                    format!("{}: {cause}", status.message())
                }
                _ => status.message().to_owned(),
            }
        }
        other => other.to_string(),
    }
}

/// The store error for a failed etcd request: `op` on `key` (or a prefix) against `endpoints`.
pub(super) fn unavailable(op: &str, key: &str, endpoints: &str, err: etcd_client::Error) -> Error {
    Error::Unavailable(format!(
        "{} ({op} {key:?} at {endpoints}): {}",
        Reason::of(&err).headline(),
        detail(&err)
    ))
}

/// The store error for a request that every member in `failures` (URL, error) failed, out of
/// `members`: headed by the most telling reason, with each member's own.
pub(super) fn unavailable_from(
    op: &str,
    key: &str,
    members: usize,
    failures: &[(&str, etcd_client::Error)],
) -> Error {
    let reasons: Vec<Reason> = failures.iter().map(|(_, e)| Reason::of(e)).collect();
    let headline = reasons
        .iter()
        .max()
        .map_or("no etcd member was tried", |r| r.headline());
    let unreachable = reasons
        .iter()
        .filter(|&&r| r == Reason::Unreachable)
        .count();
    // A majority unreachable is the usual cause of no leader or of a request that timed out.
    let quorum = if unreachable > 0 && unreachable < reasons.len() && unreachable * 2 >= members {
        format!(", and {unreachable} of {members} members are unreachable (quorum lost)")
    } else {
        String::new()
    };
    let each: Vec<String> = failures
        .iter()
        .zip(&reasons)
        .map(|((url, err), reason)| format!("{url}: {} ({})", reason.member(), detail(err)))
        .collect();
    Error::Unavailable(format!(
        "{headline}{quorum} ({op} {key:?}; {})",
        each.join("; ")
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

    #[test]
    fn the_most_telling_member_failure_heads_the_message() {
        let refused = || etcd_client::Error::GRpcStatus(Status::unavailable("tcp connect error"));
        let timed_out =
            etcd_client::Error::GRpcStatus(Status::deadline_exceeded("context deadline exceeded"));
        let failures = [
            ("http://a", refused()),
            ("http://b", timed_out),
            ("http://c", refused()),
        ];
        let Error::Unavailable(text) = unavailable_from("get", "/k", 3, &failures) else {
            panic!("not Unavailable")
        };
        assert!(
            text.starts_with(
                "the etcd request timed out, and 2 of 3 members are unreachable (quorum lost)"
            ),
            "{text}"
        );
        assert!(
            text.contains("http://b: timed out (context deadline exceeded)"),
            "{text}"
        );
        assert!(
            text.contains("http://a: unreachable (tcp connect error)"),
            "{text}"
        );

        let failures = [("http://a", refused()), ("http://b", refused())];
        let Error::Unavailable(text) = unavailable_from("create", "/k", 2, &failures) else {
            panic!("not Unavailable")
        };
        assert!(
            text.starts_with("etcd is unreachable (create \"/k\"; "),
            "{text}"
        );
    }
}
