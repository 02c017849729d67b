//! The loop every controller runs: changes → keys → one reconcile at a time per controller.
//!
//! One worker per controller keeps a key from being reconciled twice at once without locks;
//! the controllers here are small enough that this is not the bottleneck.

use std::fmt::Debug;
use std::future::Future;
use std::hash::Hash;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::broadcast::{self, error::RecvError};
use tokio_util::sync::CancellationToken;

use super::{Change, WorkQueue};

/// What to do with a key after a successful reconcile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Done,
    /// Look again later (e.g. waiting for minReadySeconds or for the cache to catch up).
    RequeueAfter(Duration),
}

pub trait Reconciler: Send + Sync + 'static {
    type Key: Clone + Eq + Hash + Debug + Send + Sync + 'static;
    /// For logs.
    const NAME: &'static str;
    /// Keys a change affects. Must be cheap: reads caches only.
    fn keys_for(&self, change: &Change) -> Vec<Self::Key>;
    /// Every key this controller is responsible for (start-up, resyncs, missed changes).
    fn all_keys(&self) -> Vec<Self::Key>;
    fn reconcile(&self, key: &Self::Key) -> impl Future<Output = crate::Result<Action>> + Send;
}

/// Run `r` until `shutdown`: feed its queue from `changes` and periodic resyncs, and reconcile.
pub async fn run_worker<R: Reconciler>(
    r: Arc<R>,
    mut changes: broadcast::Receiver<Change>,
    resync: Duration,
    shutdown: CancellationToken,
) {
    let queue = WorkQueue::<R::Key>::new();
    for key in r.all_keys() {
        queue.add(key);
    }
    let feeder = {
        let (r, queue, shutdown) = (Arc::clone(&r), Arc::clone(&queue), shutdown.clone());
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(resync);
            ticker.tick().await;
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = ticker.tick() => r.all_keys().into_iter().for_each(|k| queue.add(k)),
                    change = changes.recv() => match change {
                        Ok(c) => r.keys_for(&c).into_iter().for_each(|k| queue.add(k)),
                        // Fell behind the broadcast: some changes are lost, so look at everything.
                        Err(RecvError::Lagged(_)) => r.all_keys().into_iter().for_each(|k| queue.add(k)),
                        Err(RecvError::Closed) => return,
                    },
                }
            }
        })
    };
    loop {
        let key = tokio::select! {
            _ = shutdown.cancelled() => break,
            k = queue.next() => k,
        };
        match r.reconcile(&key).await {
            Ok(Action::Done) => queue.forget(&key),
            Ok(Action::RequeueAfter(d)) => {
                queue.forget(&key);
                queue.add_after(key, d);
            }
            Err(e) => {
                if matches!(e, crate::Error::Conflict(_)) {
                    tracing::debug!(controller = R::NAME, ?key, error = %e, "conflict; requeueing");
                } else {
                    tracing::warn!(controller = R::NAME, ?key, error = %e, "reconcile failed; requeueing");
                }
                queue.add_rate_limited(key);
            }
        }
    }
    feeder.abort();
}
