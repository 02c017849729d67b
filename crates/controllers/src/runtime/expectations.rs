//! Create/delete expectations, as client-go's `ControllerExpectations`, keyed by owner.
//!
//! After a controller creates objects with `generateName` it cannot recognise them by name, and
//! its cache may not show them yet; acting on that stale cache would create them again. So it
//! records the names it created (and deleted) and does not act for that owner until the cache
//! shows all of them, or until a timeout passes (a watch event may have been lost).

use std::collections::{HashMap, HashSet};
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long to trust expectations before acting on the cache anyway.
pub const EXPECTATION_TIMEOUT: Duration = Duration::from_secs(30);

pub struct Expectations<K> {
    inner: Mutex<HashMap<K, Pending>>,
}

struct Pending {
    adds: HashSet<String>,
    deletes: HashSet<String>,
    since: Instant,
}

impl<K: Clone + Eq + Hash> Default for Expectations<K> {
    fn default() -> Self {
        Expectations {
            inner: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: Clone + Eq + Hash> Expectations<K> {
    /// Expect `name` to appear in the cache for `owner`.
    pub fn expect_add(&self, owner: &K, name: String) {
        self.entry(owner, |p| {
            p.adds.insert(name);
        });
    }

    /// Expect `name` to disappear from the cache (or show a deletionTimestamp) for `owner`.
    pub fn expect_delete(&self, owner: &K, name: String) {
        self.entry(owner, |p| {
            p.deletes.insert(name);
        });
    }

    fn entry(&self, owner: &K, f: impl FnOnce(&mut Pending)) {
        let mut inner = self.inner.lock().expect("expectations lock");
        let p = inner.entry(owner.clone()).or_insert_with(|| Pending {
            adds: HashSet::new(),
            deletes: HashSet::new(),
            since: Instant::now(),
        });
        p.since = Instant::now();
        f(p);
    }

    /// Whether the cache has caught up with every write made for `owner`. `seen(name)` says
    /// whether the cache holds a live (not terminating) object of that name.
    pub fn satisfied(&self, owner: &K, seen: impl Fn(&str) -> bool) -> bool {
        let mut inner = self.inner.lock().expect("expectations lock");
        let Some(p) = inner.get_mut(owner) else {
            return true;
        };
        p.adds.retain(|n| !seen(n));
        p.deletes.retain(|n| seen(n));
        if (p.adds.is_empty() && p.deletes.is_empty()) || p.since.elapsed() > EXPECTATION_TIMEOUT {
            inner.remove(owner);
            return true;
        }
        false
    }

    /// Forget everything about `owner` (it was deleted).
    pub fn forget(&self, owner: &K) {
        self.inner.lock().expect("expectations lock").remove(owner);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn satisfied_once_the_cache_shows_every_write() {
        let e = Expectations::default();
        let owner = "ns/rs".to_string();
        assert!(e.satisfied(&owner, |_| false));
        e.expect_add(&owner, "rs-abcde".into());
        e.expect_delete(&owner, "rs-old".into());
        // Cache shows neither write yet.
        assert!(!e.satisfied(&owner, |n| n == "rs-old"));
        // The new pod shows, the old one is still there.
        assert!(!e.satisfied(&owner, |_| true));
        // Both writes observed.
        assert!(e.satisfied(&owner, |n| n == "rs-abcde"));
    }
}
