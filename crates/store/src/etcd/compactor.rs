//! Periodic compaction, as kube-apiserver does it: every interval, compact up to the revision
//! seen at the previous tick, so that a watch may resume from anything newer than one interval.
//!
//! Replicas sharing an etcd must not all compact: they take turns through the version of
//! `compact_rev_key`. Each tick bumps that version in a transaction conditioned on the version
//! seen last time; the replica whose transaction succeeds compacts, the others learn the new
//! version (and the revision compacted to, which is the key's value) and try again next tick.
//! The key and protocol are kube-apiserver's, so svcplane and kube-apiserver sharing an etcd
//! cooperate too.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use etcd_client::{Compare, CompareOp, Txn, TxnOp, TxnOpResponse};

use super::members::{Members, Retry};
use crate::Result;

/// kube-apiserver's coordination key, outside every prefix.
pub(super) const COMPACT_REV_KEY: &str = "compact_rev_key";

/// Compacts every `interval` until the task is aborted, raising `floor` to each compacted
/// revision.
pub(super) async fn run(members: Arc<Members>, interval: Duration, floor: Arc<AtomicI64>) {
    let mut version = 0;
    let mut revision = 0;
    loop {
        tokio::time::sleep(interval).await;
        match tick(&members, version, revision, &floor).await {
            Ok((v, r)) => (version, revision) = (v, r),
            Err(e) => tracing::warn!(error = %e, "etcd compaction failed"),
        }
    }
}

/// One tick: returns the version of `compact_rev_key` and the current revision, to pass to the
/// next tick.
async fn tick(
    members: &Members,
    version: i64,
    revision: i64,
    floor: &AtomicI64,
) -> Result<(i64, i64)> {
    let txn = Txn::new()
        .when([Compare::version(COMPACT_REV_KEY, CompareOp::Equal, version)])
        .and_then([TxnOp::put(COMPACT_REV_KEY, revision.to_string(), None)])
        .or_else([TxnOp::get(COMPACT_REV_KEY, None)]);
    let response = members
        .kv("txn", COMPACT_REV_KEY, Retry::Write, |mut kv| {
            let txn = txn.clone();
            async move { kv.txn(txn).await }
        })
        .await?;
    let current = response.header().map_or(revision, |h| h.revision());
    if !response.succeeded() {
        // Another replica took this turn; it compacts to the revision it wrote.
        let Some(TxnOpResponse::Get(get)) = response.op_responses().into_iter().next() else {
            return Ok((0, current));
        };
        let Some(key) = get.kvs().first() else {
            return Ok((0, current));
        };
        if let Some(theirs) = std::str::from_utf8(key.value())
            .ok()
            .and_then(|v| v.parse().ok())
        {
            floor.fetch_max(theirs, Ordering::AcqRel);
        }
        return Ok((key.version(), current));
    }
    // The first tick only records where history stands.
    if revision > 0 {
        compact(members, revision, floor).await?;
        tracing::debug!(revision, "etcd history compacted");
    }
    Ok((version + 1, current))
}

/// Compacts etcd's history before `revision` and raises `floor` to it. Compacting to a revision
/// already compacted is not an error: the floor is at least there.
pub(super) async fn compact(members: &Members, revision: i64, floor: &AtomicI64) -> Result<()> {
    members
        .kv(
            "compact",
            &revision.to_string(),
            Retry::Read,
            |mut kv| async move {
                match kv.compact(revision, None).await {
                    Ok(_) => Ok(()),
                    Err(etcd_client::Error::GRpcStatus(s)) if s.message().contains("compacted") => {
                        Ok(())
                    }
                    Err(e) => Err(e),
                }
            },
        )
        .await?;
    floor.fetch_max(revision, Ordering::AcqRel);
    Ok(())
}

/// The revision compacted to by whoever last took a turn, from `compact_rev_key` (0 if none):
/// where a store's history floor starts.
pub(super) async fn last_compacted(members: &Members) -> Result<i64> {
    let response = members
        .kv("get", COMPACT_REV_KEY, Retry::Read, |mut kv| async move {
            kv.get(COMPACT_REV_KEY, None).await
        })
        .await?;
    Ok(response
        .kvs()
        .first()
        .and_then(|kv| std::str::from_utf8(kv.value()).ok()?.parse().ok())
        .unwrap_or(0))
}
