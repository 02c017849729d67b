//! Copy-on-write building blocks of the zone view, so publishing a snapshot (a clone) costs
//! O(shards), not O(objects), and the next change copies only the part it touches.
//!
//! - [`PerNamespace`]: name maps per namespace behind an `Arc`; a change copies one
//!   namespace's map (at most a few thousand entries in real clusters).
//! - [`ShardedMap`]: maps keyed by IP spread over [`SHARDS`] `Arc`ed shards; a change copies
//!   one shard (1/1024 of the map).
//!
//! Writers go through `Arc::make_mut`, which copies only when a published snapshot still
//! shares the map; lookups that find nothing never copy.

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher, Hash};
use std::sync::Arc;

use crate::zone::Name;

/// `namespace → name → V`, each namespace's map shared between snapshots until written. The
/// keys are shared names ([`Name`]), so entries elsewhere can point at the same allocation.
pub type PerNamespace<V> = HashMap<Name, Arc<HashMap<Name, V>>>;

/// The namespace's map for writing, copied first if a snapshot shares it.
pub fn ns_mut<'a, V: Clone>(
    map: &'a mut PerNamespace<V>,
    ns: &str,
) -> Option<&'a mut HashMap<Name, V>> {
    map.get_mut(ns).map(Arc::make_mut)
}

/// The namespace's map for writing, created if missing.
pub fn ns_entry<V: Clone>(map: &mut PerNamespace<V>, ns: Name) -> &mut HashMap<Name, V> {
    Arc::make_mut(map.entry(ns).or_default())
}

/// Shards per [`ShardedMap`]: a clone is this many reference-count increments, a first write
/// to a shard after a publish copies about 1/SHARDS of the entries.
pub const SHARDS: usize = 1024;

/// A hash map split into `Arc`ed shards by a fixed hash of the key.
pub struct ShardedMap<K, V> {
    shards: Box<[Arc<HashMap<K, V>>]>,
}

/// Shard choice must agree between a map and its clones, so the hasher has fixed keys.
type ShardHasher = BuildHasherDefault<DefaultHasher>;

impl<K: Hash + Eq + Clone, V: Clone> ShardedMap<K, V> {
    pub fn new() -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Arc::default()).collect(),
        }
    }

    fn index(key: &K) -> usize {
        (ShardHasher::default().hash_one(key) % SHARDS as u64) as usize
    }

    pub fn get(&self, key: &K) -> Option<&V> {
        self.shards[Self::index(key)].get(key)
    }

    /// The value for writing; its shard is copied only if the key is there.
    pub fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        let shard = &mut self.shards[Self::index(key)];
        if !shard.contains_key(key) {
            return None;
        }
        Arc::make_mut(shard).get_mut(key)
    }

    pub fn entry_or_default(&mut self, key: K) -> &mut V
    where
        V: Default,
    {
        let shard = &mut self.shards[Self::index(&key)];
        Arc::make_mut(shard).entry(key).or_default()
    }

    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        let shard = &mut self.shards[Self::index(&key)];
        Arc::make_mut(shard).insert(key, value)
    }

    pub fn remove(&mut self, key: &K) -> Option<V> {
        let shard = &mut self.shards[Self::index(key)];
        if !shard.contains_key(key) {
            return None;
        }
        Arc::make_mut(shard).remove(key)
    }

    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.shards.iter().all(|s| s.is_empty())
    }
}

impl<K: Hash + Eq + Clone, V: Clone> Default for ShardedMap<K, V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K, V> Clone for ShardedMap<K, V> {
    /// O(SHARDS): the shards are shared until written.
    fn clone(&self) -> Self {
        Self {
            shards: self.shards.clone(),
        }
    }
}

impl<K, V> fmt::Debug for ShardedMap<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let len: usize = self.shards.iter().map(|s| s.len()).sum();
        f.debug_struct("ShardedMap").field("len", &len).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_until_written() {
        let mut a: ShardedMap<u32, String> = ShardedMap::new();
        for i in 0..10_000 {
            *a.entry_or_default(i) = i.to_string();
        }
        let snapshot = a.clone();
        *a.get_mut(&7).unwrap() = "seven".into();
        assert_eq!(a.remove(&8).as_deref(), Some("8"));
        assert!(a.get_mut(&20_000).is_none() && a.remove(&20_000).is_none());
        assert_eq!(snapshot.get(&7).map(String::as_str), Some("7"));
        assert_eq!(snapshot.get(&8).map(String::as_str), Some("8"));
        assert_eq!(a.get(&7).map(String::as_str), Some("seven"));
        assert_eq!((a.len(), snapshot.len()), (9_999, 10_000));
        // Only the written shards were copied.
        let copied = (0..SHARDS)
            .filter(|&i| !Arc::ptr_eq(&a.shards[i], &snapshot.shards[i]))
            .count();
        assert!(copied <= 2, "{copied}");

        let mut per_ns: PerNamespace<u32> = PerNamespace::new();
        ns_entry(&mut per_ns, "a".into()).insert("x".into(), 1);
        ns_entry(&mut per_ns, "b".into()).insert("y".into(), 2);
        let snapshot = per_ns.clone();
        ns_mut(&mut per_ns, "a").unwrap().insert("x".into(), 3);
        assert_eq!(snapshot["a"]["x"], 1);
        assert_eq!(per_ns["a"]["x"], 3);
        assert!(Arc::ptr_eq(&per_ns["b"], &snapshot["b"]));
    }
}
