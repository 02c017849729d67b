//! Watch streams: one etcd watch per [`Store::watch`](crate::Store::watch), from the revision
//! after the caller's, with previous values (a delete event from etcd carries only the key, so
//! the last value comes from `prev_kv`).
//!
//! etcd ends a watch whose start was compacted with a `compact_revision`; that becomes
//! [`Error::Expired`] and the end of the stream, as the trait asks. Any other end (a member went
//! away, no leader) is one final [`Error::Unavailable`]: the caller watches again from the last
//! revision it saw, like a Kubernetes client after its watch closes.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use bytes::Bytes;
use etcd_client::{Event, EventType, WatchOptions, WatchResponse};
use futures::StreamExt;

use super::error::unavailable;
use super::keyspace::KeySpace;
use super::members::{Failure, Members, classify};
use crate::{Error, EventKind, KeyValue, Result, WatchEvent, WatchStream};

/// What a watch needs of its store.
pub(super) struct WatchContext {
    pub(super) members: Arc<Members>,
    pub(super) keys: KeySpace,
    /// The store's compacted revision, raised when etcd reports a newer one.
    pub(super) floor: Arc<AtomicI64>,
}

/// Opens the watch of store keys under `prefix` after revision `after`.
pub(super) async fn open(ctx: WatchContext, prefix: &str, after: i64) -> Result<WatchStream> {
    let oldest = ctx.floor.load(Ordering::Acquire);
    if after < oldest {
        return Err(Error::Expired {
            requested: after,
            oldest,
        });
    }
    let Some((start, end)) = ctx.keys.range(prefix, None) else {
        // No store key can ever be under this prefix.
        return Ok(futures::stream::pending().boxed());
    };
    let options = WatchOptions::new()
        .with_range(end)
        // etcd reads 0 as "from now"; revision `after + 1` is at least 1.
        .with_start_revision(after + 1)
        .with_prev_key();
    // The first member that confirms the watch serves it; an unreachable etcd fails the call.
    let mut last = None;
    for (member, mut client) in ctx.members.watch_clients() {
        let err = match client.watch(start.clone(), Some(options.clone())).await {
            Ok(mut stream) => match stream.message().await {
                Ok(Some(response)) if response.created() && !response.canceled() => {
                    return Ok(running(ctx, stream, member, prefix, after));
                }
                Ok(Some(response)) => return Err(ended(&ctx, prefix, after, &response)),
                Ok(None) => {
                    ctx.members.failed(member);
                    last = Some(closed(&ctx, prefix));
                    continue;
                }
                Err(e) => e,
            },
            Err(e) => e,
        };
        let failure = classify(&err);
        let err = unavailable("watch", prefix, ctx.members.endpoints(), err);
        if failure == Failure::Request {
            return Err(err);
        }
        ctx.members.failed(member);
        last = Some(err);
    }
    Err(last.unwrap_or_else(|| Error::Unavailable("no etcd members".into())))
}

fn running(
    ctx: WatchContext,
    stream: etcd_client::WatchStream,
    member: usize,
    prefix: &str,
    after: i64,
) -> WatchStream {
    let state = State {
        stream,
        member,
        ctx,
        prefix: prefix.to_owned(),
        last: after,
        pending: VecDeque::new(),
        done: false,
    };
    futures::stream::unfold(state, State::next).boxed()
}

/// A running watch: the etcd stream (dropping it cancels the etcd watch) and the events of the
/// last response not yet handed out.
struct State {
    stream: etcd_client::WatchStream,
    /// The member serving it, to move on from when it fails.
    member: usize,
    ctx: WatchContext,
    prefix: String,
    /// The revision of the last event handed out.
    last: i64,
    pending: VecDeque<WatchEvent>,
    done: bool,
}

impl State {
    async fn next(mut self) -> Option<(Result<WatchEvent>, State)> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                self.last = event.revision();
                return Some((Ok(event), self));
            }
            if self.done {
                return None;
            }
            let response = match self.stream.message().await {
                Ok(Some(response)) => response,
                Ok(None) => {
                    self.ctx.members.failed(self.member);
                    let err = closed(&self.ctx, &self.prefix);
                    return self.fail(err);
                }
                Err(e) => {
                    if classify(&e) != Failure::Request {
                        self.ctx.members.failed(self.member);
                    }
                    let err = unavailable("watch", &self.prefix, self.ctx.members.endpoints(), e);
                    return self.fail(err);
                }
            };
            if response.canceled() || response.compact_revision() > 0 {
                if response.compact_revision() == 0 {
                    // Canceled by the member (no leader): the next watch goes elsewhere.
                    self.ctx.members.failed(self.member);
                }
                let err = ended(&self.ctx, &self.prefix, self.last, &response);
                return self.fail(err);
            }
            for event in response.events() {
                match to_event(&self.ctx.keys, event) {
                    Ok(event) => self.pending.push_back(event),
                    Err(e) => return self.fail(e),
                }
            }
        }
    }

    /// Ends the stream with `err` as its last item.
    fn fail(mut self, err: Error) -> Option<(Result<WatchEvent>, State)> {
        self.done = true;
        Some((Err(err), self))
    }
}

/// The error for a watch etcd ended: compacted past the next event wanted, or canceled.
fn ended(ctx: &WatchContext, prefix: &str, last: i64, response: &WatchResponse) -> Error {
    let compacted = response.compact_revision();
    if compacted > 0 {
        // etcd keeps revision `compacted` itself, but not necessarily a delete at it, so the
        // store's history floor is that revision: a watch may start after it.
        let oldest = ctx
            .floor
            .fetch_max(compacted, Ordering::AcqRel)
            .max(compacted);
        return Error::Expired {
            requested: last,
            oldest,
        };
    }
    Error::Unavailable(format!(
        "etcd canceled the watch of {prefix:?} at {}: {}",
        ctx.members.endpoints(),
        response.cancel_reason()
    ))
}

fn closed(ctx: &WatchContext, prefix: &str) -> Error {
    Error::Unavailable(format!(
        "etcd closed the watch of {prefix:?} at {}",
        ctx.members.endpoints()
    ))
}

/// A store key-value from an etcd one.
pub(super) fn to_kv(keys: &KeySpace, kv: &etcd_client::KeyValue) -> Result<KeyValue> {
    Ok(KeyValue {
        key: store_key(keys, kv.key())?,
        value: Bytes::copy_from_slice(kv.value()),
        create_revision: kv.create_revision(),
        mod_revision: kv.mod_revision(),
    })
}

pub(super) fn store_key(keys: &KeySpace, key: &[u8]) -> Result<String> {
    keys.to_store(key).ok_or_else(|| {
        Error::Corrupt(format!(
            "etcd key {:?} is not a UTF-8 key under {:?}",
            String::from_utf8_lossy(key),
            keys.prefix()
        ))
    })
}

/// The store event of an etcd event.
fn to_event(keys: &KeySpace, event: &Event) -> Result<WatchEvent> {
    let kv = event
        .kv()
        .ok_or_else(|| Error::Corrupt("etcd watch event without a key".into()))?;
    let kv = to_kv(keys, kv)?;
    let prev = event.prev_kv().map(|p| to_kv(keys, p)).transpose()?;
    Ok(match event.event_type() {
        EventType::Put if kv.create_revision == kv.mod_revision => WatchEvent {
            kind: EventKind::Created,
            kv,
            prev: None,
        },
        EventType::Put => WatchEvent {
            kind: EventKind::Modified,
            kv,
            prev,
        },
        EventType::Delete => {
            // etcd's delete event is a tombstone (key and revision); the store's carries the
            // last value. Without `prev_kv` (etcd could not read it) only the key is known.
            let last = match &prev {
                Some(prev) => KeyValue {
                    mod_revision: kv.mod_revision,
                    ..prev.clone()
                },
                None => {
                    tracing::warn!(key = %kv.key, "etcd delete event without the previous value");
                    kv
                }
            };
            WatchEvent {
                kind: EventKind::Deleted,
                kv: last,
                prev,
            }
        }
    })
}
