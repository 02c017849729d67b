//! Failover between etcd members, as etcd's Go client does it: requests go to one member at a
//! time, and move on to the next when that member fails.
//!
//! etcd-client balances each request over all endpoints and keeps picking a dead member
//! (etcdv3/etcd-client#39), so with one of three members down about a third of all requests
//! would fail. Instead there is one client per member. A request that certainly did not reach
//! the member (connection refused, no leader) is retried on the next one; reads are retried
//! after any member failure; a write whose outcome is unknown (the connection broke after it was
//! sent, a deadline) is not retried, since a retried create or compare-and-swap would report its
//! own first attempt as a conflict: it fails as Unavailable and the next request starts on the
//! next member.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};

use etcd_client::{Client, ConnectOptions, KvClient, WatchClient};
use tonic::Code;

use super::error::{unavailable, unavailable_from};
use crate::{Error, Result};

/// The largest response accepted from etcd (a list of a whole prefix comes in one message);
/// kube-apiserver's client allows the same.
const MAX_RESPONSE_BYTES: usize = i32::MAX as usize;

/// Whether a retry of the request may repeat its effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Retry {
    /// A read: retried on the next member after any member failure.
    Read,
    /// A write: retried only when it certainly was not applied.
    Write,
}

struct Member {
    kv: KvClient,
    watch: WatchClient,
}

/// One client per member and the member in use.
pub(super) struct Members {
    members: Vec<Member>,
    current: AtomicUsize,
    /// Each member's URL and all of them joined, for error messages.
    urls: Vec<String>,
    endpoints: String,
}

impl Members {
    /// Clients for `urls`; connections are made on first use.
    pub(super) async fn connect(
        urls: &[String],
        options: &ConnectOptions,
    ) -> Result<Members, etcd_client::Error> {
        let mut members = Vec::with_capacity(urls.len());
        for url in urls {
            let client = Client::connect([url], Some(options.clone())).await?;
            members.push(Member {
                kv: client
                    .kv_client()
                    .max_decoding_message_size(MAX_RESPONSE_BYTES),
                watch: client
                    .watch_client()
                    .max_decoding_message_size(MAX_RESPONSE_BYTES),
            });
        }
        Ok(Members {
            members,
            current: AtomicUsize::new(0),
            urls: urls.to_vec(),
            endpoints: urls.join(","),
        })
    }

    pub(super) fn endpoints(&self) -> &str {
        &self.endpoints
    }

    /// Member indexes in the order to try them: the one in use first.
    fn order(&self) -> impl Iterator<Item = usize> + '_ {
        let start = self.current.load(Ordering::Relaxed);
        (0..self.members.len()).map(move |i| (start + i) % self.members.len())
    }

    /// Moves on from member `failed` (unless another request already did).
    pub(super) fn failed(&self, failed: usize) {
        let next = (failed + 1) % self.members.len();
        let _ = self
            .current
            .compare_exchange(failed, next, Ordering::Relaxed, Ordering::Relaxed);
    }

    /// Runs `request` (`op` on `key`, for messages) against the member in use, failing over as
    /// the module doc describes.
    pub(super) async fn kv<T, F, Fut>(
        &self,
        op: &str,
        key: &str,
        retry: Retry,
        request: F,
    ) -> Result<T>
    where
        F: Fn(KvClient) -> Fut,
        Fut: Future<Output = Result<T, etcd_client::Error>>,
    {
        // Every member's failure goes into the error: with quorum lost, the one member still up
        // says "no leader" or times out while the others refuse, and the message must say both.
        let mut failures = Vec::new();
        for i in self.order() {
            let err = match request(self.members[i].kv.clone()).await {
                Ok(value) => return Ok(value),
                Err(err) => err,
            };
            let failure = classify(&err);
            if failure != Failure::Request {
                self.failed(i);
            }
            let retried = match retry {
                Retry::Read => failure != Failure::Request,
                Retry::Write => failure == Failure::NotSent,
            };
            if !retried && failures.is_empty() {
                return Err(unavailable(op, key, &self.endpoints, err));
            }
            failures.push((self.urls[i].as_str(), err));
            if !retried {
                break;
            }
        }
        if failures.is_empty() {
            return Err(Error::Unavailable("no etcd members".into()));
        }
        Err(unavailable_from(op, key, self.members.len(), &failures))
    }

    /// The watch clients in the order to try them, with their member index.
    pub(super) fn watch_clients(&self) -> Vec<(usize, WatchClient)> {
        self.order()
            .map(|i| (i, self.members[i].watch.clone()))
            .collect()
    }
}

/// What a failed request says about the member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Failure {
    /// The member did not take the request: unreachable, or cut off from the leader.
    NotSent,
    /// The member failed while the request was out; it may or may not have been applied.
    Unknown,
    /// The member answered: the request itself failed (invalid, compacted, too large).
    Request,
}

pub(super) fn classify(err: &etcd_client::Error) -> Failure {
    use etcd_client::Error as E;
    match err {
        E::GRpcStatus(status) => {
            let message = status.message();
            if message.contains("tcp connect error")
                || message.contains("Connection refused")
                || message.contains("no leader")
                || message.contains("not ready")
            {
                Failure::NotSent
            } else if matches!(
                status.code(),
                Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled | Code::Unknown
            ) {
                Failure::Unknown
            } else {
                Failure::Request
            }
        }
        E::TransportError(_) | E::IoError(_) => Failure::Unknown,
        _ => Failure::Request,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::Status;

    #[test]
    fn failures() {
        let cases = [
            (Status::unavailable("tcp connect error"), Failure::NotSent),
            (
                Status::unavailable("etcdserver: no leader"),
                Failure::NotSent,
            ),
            (Status::unknown("transport error"), Failure::Unknown),
            (Status::deadline_exceeded("deadline"), Failure::Unknown),
            (
                Status::unavailable("etcdserver: request timed out"),
                Failure::Unknown,
            ),
            (
                Status::out_of_range("mvcc: required revision has been compacted"),
                Failure::Request,
            ),
            (
                Status::invalid_argument("etcdserver: request is too large"),
                Failure::Request,
            ),
        ];
        for (status, want) in cases {
            let message = status.message().to_owned();
            assert_eq!(
                classify(&etcd_client::Error::GRpcStatus(status)),
                want,
                "{message}"
            );
        }
    }
}
