//! A deduplicating work queue of keys, with per-key exponential backoff on failure.
//!
//! A key added many times before it is processed runs once (level-triggered: the reconcile
//! reads the latest state anyway). Delayed adds go through a timer task.

use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;

/// First retry delay after a failure; doubled on every further failure of the same key.
const BASE_BACKOFF: Duration = Duration::from_millis(50);
/// Retry delay cap, as client-go's default controller rate limiter.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

pub struct WorkQueue<K> {
    inner: Mutex<Inner<K>>,
    notify: Notify,
}

struct Inner<K> {
    order: VecDeque<K>,
    queued: HashSet<K>,
    failures: HashMap<K, u32>,
}

impl<K: Clone + Eq + Hash + Send + Sync + 'static> WorkQueue<K> {
    pub fn new() -> Arc<Self> {
        Arc::new(WorkQueue {
            inner: Mutex::new(Inner {
                order: VecDeque::new(),
                queued: HashSet::new(),
                failures: HashMap::new(),
            }),
            notify: Notify::new(),
        })
    }

    /// Queue `key` unless it is already waiting.
    pub fn add(&self, key: K) {
        let mut inner = self.inner.lock().expect("queue lock");
        if inner.queued.insert(key.clone()) {
            inner.order.push_back(key);
            drop(inner);
            self.notify.notify_one();
        }
    }

    /// Queue `key` after `delay`.
    pub fn add_after(self: &Arc<Self>, key: K, delay: Duration) {
        let queue = Arc::clone(self);
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            queue.add(key);
        });
    }

    /// Queue `key` again after its next backoff delay.
    pub fn add_rate_limited(self: &Arc<Self>, key: K) {
        let delay = {
            let mut inner = self.inner.lock().expect("queue lock");
            let n = inner.failures.entry(key.clone()).or_insert(0);
            *n = n.saturating_add(1);
            backoff(*n)
        };
        self.add_after(key, delay);
    }

    /// The key succeeded: its next failure starts from the base delay again.
    pub fn forget(&self, key: &K) {
        self.inner.lock().expect("queue lock").failures.remove(key);
    }

    /// The next key, waiting for one.
    pub async fn next(&self) -> K {
        loop {
            let notified = self.notify.notified();
            {
                let mut inner = self.inner.lock().expect("queue lock");
                if let Some(key) = inner.order.pop_front() {
                    inner.queued.remove(&key);
                    return key;
                }
            }
            notified.await;
        }
    }

    /// How many keys are waiting (for tests).
    pub fn len(&self) -> usize {
        self.inner.lock().expect("queue lock").order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Delay before the `n`th retry (n ≥ 1).
pub fn backoff(n: u32) -> Duration {
    let factor = 1u32
        .checked_shl(n.saturating_sub(1).min(20))
        .unwrap_or(u32::MAX);
    BASE_BACKOFF.saturating_mul(factor).min(MAX_BACKOFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let cases = [
            (1, Duration::from_millis(50)),
            (2, Duration::from_millis(100)),
            (5, Duration::from_millis(800)),
            (30, MAX_BACKOFF),
        ];
        for (n, want) in cases {
            assert_eq!(backoff(n), want, "failure {n}");
        }
    }

    #[tokio::test]
    async fn duplicate_adds_run_once() {
        let q = WorkQueue::new();
        q.add("a");
        q.add("b");
        q.add("a");
        assert_eq!(q.len(), 2);
        assert_eq!(q.next().await, "a");
        assert_eq!(q.next().await, "b");
        assert!(q.is_empty());
    }
}
