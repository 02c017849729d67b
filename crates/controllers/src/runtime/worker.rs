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

/// The longest a lost change waits for the resync that covers it.
const LAG_RESYNC_EVERY: Duration = Duration::from_secs(2);

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
            // Falling behind the broadcast loses changes, so everything is looked at again, but
            // at most once per LAG_RESYNC_EVERY: under a burst the feeder lags again and again,
            // and a full resync per lag made it fall further behind each time.
            let mut lag_resync = tokio::time::interval(LAG_RESYNC_EVERY);
            lag_resync.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut lagged = false;
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = ticker.tick() => r.all_keys().into_iter().for_each(|k| queue.add(k)),
                    _ = lag_resync.tick(), if lagged => {
                        lagged = false;
                        r.all_keys().into_iter().for_each(|k| queue.add(k));
                    }
                    change = changes.recv() => match change {
                        Ok(c) => r.keys_for(&c).into_iter().for_each(|k| queue.add(k)),
                        Err(RecvError::Lagged(_)) => lagged = true,
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
