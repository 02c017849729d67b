//! [`MemoryStore`]: the [`Store`] semantics without durability, for unit tests of higher crates
//! and as a second implementation keeping the trait and the conformance suite backend-agnostic.

use std::collections::BTreeMap;
use std::sync::{Arc, PoisonError, RwLock};

use async_trait::async_trait;
use bytes::Bytes;

use crate::keys::prefix_range;
use crate::ops::{Op, plan};
use crate::watch::Hub;
use crate::{
    DEFAULT_HISTORY, EventKind, KeyValue, ListOptions, ListResult, ProgressStream, Result, Store,
    WatchStream,
};

/// An in-memory store; everything is lost when it is dropped.
#[derive(Debug)]
pub struct MemoryStore {
    state: RwLock<State>,
    hub: Arc<Hub>,
}

#[derive(Debug, Default)]
struct State {
    objects: BTreeMap<String, Object>,
    revision: i64,
}

#[derive(Debug, Clone)]
struct Object {
    value: Bytes,
    create_revision: i64,
    mod_revision: i64,
}

impl Object {
    fn to_kv(&self, key: &str) -> KeyValue {
        KeyValue {
            key: key.to_owned(),
            value: self.value.clone(),
            create_revision: self.create_revision,
            mod_revision: self.mod_revision,
        }
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryStore {
    /// An empty store keeping [`DEFAULT_HISTORY`] events of watch history.
    pub fn new() -> Self {
        Self::with_history(DEFAULT_HISTORY)
    }

    /// An empty store keeping the last `history` (at least one) events of watch history.
    pub fn with_history(history: usize) -> Self {
        MemoryStore {
            state: RwLock::new(State::default()),
            hub: Hub::new(history, 0, Vec::new()),
        }
    }

    fn write(&self, key: &str, op: Op) -> Result<KeyValue> {
        // The state lock is held while publishing so that events reach the hub in revision order.
        let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
        let current = state.objects.get(key).map(|object| object.to_kv(key));
        let event = plan(key, current, op, state.revision + 1)?;
        state.revision = event.revision();
        match event.kind {
            EventKind::Created | EventKind::Modified => {
                let object = Object {
                    value: event.kv.value.clone(),
                    create_revision: event.kv.create_revision,
                    mod_revision: event.kv.mod_revision,
                };
                state.objects.insert(key.to_owned(), object);
            }
            EventKind::Deleted => {
                state.objects.remove(key);
            }
        }
        let kv = event.kv.clone();
        self.hub.publish([event]);
        Ok(kv)
    }
}

impl Drop for MemoryStore {
    fn drop(&mut self) {
        self.hub.close();
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn get(&self, key: &str) -> Result<Option<KeyValue>> {
        let state = self.state.read().unwrap_or_else(PoisonError::into_inner);
        Ok(state.objects.get(key).map(|object| object.to_kv(key)))
    }

    async fn list(&self, prefix: &str, opts: ListOptions) -> Result<ListResult> {
        let state = self.state.read().unwrap_or_else(PoisonError::into_inner);
        let limit = opts.limit.filter(|&limit| limit > 0).unwrap_or(usize::MAX);
        let mut items = Vec::new();
        let mut remaining = 0u64;
        if let Some(range) = prefix_range(prefix, opts.start_after.as_deref()) {
            for (key, object) in state.objects.range(range) {
                if items.len() < limit {
                    items.push(object.to_kv(key));
                } else {
                    remaining += 1;
                }
            }
        }
        Ok(ListResult {
            items,
            revision: state.revision,
            more: remaining > 0,
            remaining: Some(remaining),
        })
    }

    async fn create(&self, key: &str, value: Bytes) -> Result<KeyValue> {
        self.write(key, Op::Create(value))
    }

    async fn update(
        &self,
        key: &str,
        value: Bytes,
        expected_mod_revision: Option<i64>,
    ) -> Result<KeyValue> {
        self.write(
            key,
            Op::Update {
                value,
                expected_mod_revision,
            },
        )
    }

    async fn delete(&self, key: &str, expected_mod_revision: Option<i64>) -> Result<KeyValue> {
        self.write(
            key,
            Op::Delete {
                expected_mod_revision,
            },
        )
    }

    async fn current_revision(&self) -> Result<i64> {
        Ok(self.hub.head())
    }

    async fn watch(&self, prefix: &str, after_revision: i64) -> Result<WatchStream> {
        self.hub.watch(prefix, after_revision)
    }

    async fn watch_with_progress(
        &self,
        prefix: &str,
        after_revision: i64,
    ) -> Result<ProgressStream> {
        self.hub.watch_with_progress(prefix, after_revision)
    }

    fn compacted_revision(&self) -> i64 {
        self.hub.floor()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance::{self, StoreSpec};

    #[tokio::test]
    async fn conformance() {
        conformance::run_all(|spec: StoreSpec| async move {
            Arc::new(MemoryStore::with_history(spec.history)) as Arc<dyn Store>
        })
        .await;
    }
}
