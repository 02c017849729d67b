//! The garbage collector: deletes dependents whose owners (by uid) are all gone, drops
//! references to owners that are gone while others remain, and carries out the
//! `foregroundDeletion` and `orphan` finalizers of owners being deleted.
//!
//! It covers the kinds the controllers cache. An owner that looks absent in the cache is
//! confirmed with a live GET before anything is deleted: caches of different kinds lag
//! independently, and a deletion cannot be undone.

pub mod plan;
#[cfg(test)]
mod tests;

use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{Endpoints, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::api::{ApiResource, DeleteParams, DynamicObject, Patch, PatchParams, Preconditions};
use kube::{Api, Client, Resource};

use crate::runtime::{Action, Cache, Change, Informers, Obj, Reconciler};
use crate::{Error, Result};
use plan::{DependentAction, OwnerAction};

/// The kinds the collector watches, as owners and as dependents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GcKind {
    Pod,
    Service,
    Endpoints,
    EndpointSlice,
    ReplicaSet,
    Deployment,
    StatefulSet,
}

const ALL: [GcKind; 7] = [
    GcKind::Pod,
    GcKind::Service,
    GcKind::Endpoints,
    GcKind::EndpointSlice,
    GcKind::ReplicaSet,
    GcKind::Deployment,
    GcKind::StatefulSet,
];

impl GcKind {
    fn api_resource(self) -> ApiResource {
        match self {
            GcKind::Pod => ApiResource::erase::<Pod>(&()),
            GcKind::Service => ApiResource::erase::<Service>(&()),
            GcKind::Endpoints => ApiResource::erase::<Endpoints>(&()),
            GcKind::EndpointSlice => ApiResource::erase::<EndpointSlice>(&()),
            GcKind::ReplicaSet => ApiResource::erase::<ReplicaSet>(&()),
            GcKind::Deployment => ApiResource::erase::<Deployment>(&()),
            GcKind::StatefulSet => ApiResource::erase::<StatefulSet>(&()),
        }
    }

    /// The kind an ownerReference points to, if the collector knows it.
    pub fn of_owner(r: &OwnerReference) -> Option<GcKind> {
        ALL.into_iter().find(|k| {
            let ar = k.api_resource();
            ar.kind == r.kind && ar.api_version == r.api_version
        })
    }

    fn of_obj(o: &Obj) -> Option<(GcKind, &ObjectMeta)> {
        Some(match o {
            Obj::Pod(x) => (GcKind::Pod, &x.metadata),
            Obj::Service(x) => (GcKind::Service, &x.metadata),
            Obj::Endpoints(x) => (GcKind::Endpoints, &x.metadata),
            Obj::EndpointSlice(x) => (GcKind::EndpointSlice, &x.metadata),
            Obj::ReplicaSet(x) => (GcKind::ReplicaSet, &x.metadata),
            Obj::Deployment(x) => (GcKind::Deployment, &x.metadata),
            Obj::StatefulSet(x) => (GcKind::StatefulSet, &x.metadata),
            Obj::Node(_) => return None,
        })
    }
}

pub type GcKey = (GcKind, String, String);

fn key(kind: GcKind, meta: &ObjectMeta) -> GcKey {
    (
        kind,
        meta.namespace.clone().unwrap_or_default(),
        meta.name.clone().unwrap_or_default(),
    )
}

/// What the collector reads of any kind's cache: metadata only.
trait MetaCache {
    /// Calls `visit` with the metadata of each cached object (of namespace `ns`, or all). Nothing
    /// is copied unless `visit` copies it: a delete scans every object of its namespace for
    /// dependents and a resync every owned object, and at 100k pods copying all their metadata
    /// per scan raised the controllers' peak memory by ~100 MB.
    fn visit(&self, ns: Option<&str>, visit: &mut dyn FnMut(&ObjectMeta));
    fn meta(&self, ns: &str, name: &str) -> Option<ObjectMeta>;
}

impl<K: Resource<DynamicType = ()>> MetaCache for Cache<K> {
    fn visit(&self, ns: Option<&str>, visit: &mut dyn FnMut(&ObjectMeta)) {
        let objects = match ns {
            Some(ns) => self.in_namespace(ns),
            None => self.all(),
        };
        objects.iter().for_each(|o| visit(o.meta()));
    }

    fn meta(&self, ns: &str, name: &str) -> Option<ObjectMeta> {
        self.get(ns, name).map(|o| o.meta().clone())
    }
}

pub struct GarbageCollector {
    client: Client,
    inf: Informers,
}

impl GarbageCollector {
    pub fn new(client: Client, inf: Informers) -> Self {
        GarbageCollector { client, inf }
    }

    fn cache(&self, kind: GcKind) -> &dyn MetaCache {
        let i = &self.inf;
        match kind {
            GcKind::Pod => &i.pods,
            GcKind::Service => &i.services,
            GcKind::Endpoints => &i.endpoints,
            GcKind::EndpointSlice => &i.slices,
            GcKind::ReplicaSet => &i.replicasets,
            GcKind::Deployment => &i.deployments,
            GcKind::StatefulSet => &i.statefulsets,
        }
    }

    /// What `pick` makes of the cached objects of `kind` (in namespace `ns`, or all) it picks.
    fn scan<T>(
        &self,
        kind: GcKind,
        ns: Option<&str>,
        pick: &dyn Fn(&ObjectMeta) -> Option<T>,
    ) -> Vec<T> {
        let mut picked = Vec::new();
        self.cache(kind)
            .visit(ns, &mut |meta| picked.extend(pick(meta)));
        picked
    }

    fn get(&self, kind: GcKind, ns: &str, name: &str) -> Option<ObjectMeta> {
        self.cache(kind).meta(ns, name)
    }

    /// Every cached object that references `uid`, with its kind.
    fn dependents_of(&self, ns: &str, uid: &str) -> Vec<(GcKind, ObjectMeta)> {
        let owned = |m: &ObjectMeta| {
            let owned = m.owner_references.iter().flatten().any(|r| r.uid == uid);
            owned.then(|| m.clone())
        };
        ALL.into_iter()
            .flat_map(|k| {
                self.scan(k, Some(ns), &owned)
                    .into_iter()
                    .map(move |m| (k, m))
            })
            .collect()
    }

    fn api(&self, kind: GcKind, ns: &str) -> Api<DynamicObject> {
        Api::namespaced_with(self.client.clone(), ns, &kind.api_resource())
    }

    /// Whether the owner exists, by cache; None for kinds the collector does not know.
    fn owner_cached(&self, ns: &str, r: &OwnerReference) -> Option<bool> {
        let kind = GcKind::of_owner(r)?;
        Some(
            self.get(kind, ns, &r.name)
                .is_some_and(|m| m.uid.as_deref() == Some(r.uid.as_str())),
        )
    }

    /// Confirm an absent owner with the API server.
    async fn owner_live(&self, ns: &str, r: &OwnerReference) -> Result<bool> {
        let Some(kind) = GcKind::of_owner(r) else {
            return Ok(true);
        };
        match self.api(kind, ns).get_opt(&r.name).await? {
            Some(o) => Ok(o.metadata.uid.as_deref() == Some(r.uid.as_str())),
            None => Ok(false),
        }
    }

    async fn delete(&self, kind: GcKind, meta: &ObjectMeta) -> Result<()> {
        let ns = meta.namespace.as_deref().unwrap_or("");
        let name = meta.name.as_deref().unwrap_or("");
        // The uid precondition keeps a same-named successor safe.
        let dp = DeleteParams {
            preconditions: Some(Preconditions {
                uid: meta.uid.clone(),
                resource_version: None,
            }),
            ..DeleteParams::background()
        };
        match self.api(kind, ns).delete(name, &dp).await {
            Ok(_) => Ok(()),
            Err(e) => {
                let e = Error::from(e);
                // Gone already, or a different object now (409 on the uid precondition).
                if e.is_not_found() || matches!(e, Error::Conflict(_)) {
                    Ok(())
                } else {
                    Err(e)
                }
            }
        }
    }

    async fn set_owner_refs(
        &self,
        kind: GcKind,
        meta: &ObjectMeta,
        refs: Vec<OwnerReference>,
    ) -> Result<()> {
        let ns = meta.namespace.as_deref().unwrap_or("");
        let name = meta.name.as_deref().unwrap_or("");
        let refs = if refs.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::to_value(refs).map_err(|source| Error::Encode {
                what: "ownerReferences".into(),
                source,
            })?
        };
        // The resourceVersion makes this a compare-and-swap: a stale view conflicts.
        let body = serde_json::json!({"metadata": {
            "ownerReferences": refs,
            "resourceVersion": meta.resource_version,
        }});
        ignore_not_found(
            self.api(kind, ns)
                .patch(name, &PatchParams::default(), &Patch::Merge(&body))
                .await,
        )
    }

    async fn remove_finalizer(
        &self,
        kind: GcKind,
        meta: &ObjectMeta,
        finalizer: &str,
    ) -> Result<()> {
        let ns = meta.namespace.as_deref().unwrap_or("");
        let name = meta.name.as_deref().unwrap_or("");
        let left: Vec<&String> = meta
            .finalizers
            .iter()
            .flatten()
            .filter(|f| *f != finalizer)
            .collect();
        let body = serde_json::json!({"metadata": {
            "finalizers": if left.is_empty() { serde_json::Value::Null } else { serde_json::json!(left) },
            "resourceVersion": meta.resource_version,
        }});
        ignore_not_found(
            self.api(kind, ns)
                .patch(name, &PatchParams::default(), &Patch::Merge(&body))
                .await,
        )
    }

    async fn reconcile_owner(&self, kind: GcKind, meta: &ObjectMeta) -> Result<Action> {
        let ns = meta.namespace.as_deref().unwrap_or("");
        let uid = meta.uid.as_deref().unwrap_or("");
        let deps = self.dependents_of(ns, uid);
        let dep_metas: Vec<&ObjectMeta> = deps.iter().map(|(_, m)| m).collect();
        match plan::plan_owner(meta, &dep_metas) {
            OwnerAction::None => Ok(Action::Done),
            OwnerAction::DeleteDependents(idx) => {
                for i in idx {
                    self.delete(deps[i].0, &deps[i].1).await?;
                }
                Ok(Action::RequeueAfter(Duration::from_secs(1)))
            }
            OwnerAction::WaitForDependents => Ok(Action::RequeueAfter(Duration::from_secs(1))),
            OwnerAction::OrphanDependents(idx) => {
                for i in idx {
                    let (k, m) = &deps[i];
                    self.set_owner_refs(*k, m, plan::without_refs(m, &[uid.to_string()]))
                        .await?;
                }
                Ok(Action::RequeueAfter(Duration::from_millis(200)))
            }
            OwnerAction::RemoveFinalizer(f) => {
                self.remove_finalizer(kind, meta, f).await?;
                Ok(Action::Done)
            }
        }
    }
}

fn ignore_not_found<T>(r: std::result::Result<T, kube::Error>) -> Result<()> {
    match r {
        Ok(_) => Ok(()),
        Err(e) => {
            let e = Error::from(e);
            if e.is_not_found() { Ok(()) } else { Err(e) }
        }
    }
}

impl Reconciler for GarbageCollector {
    type Key = GcKey;
    const NAME: &'static str = "garbagecollector";

    fn keys_for(&self, change: &Change) -> Vec<GcKey> {
        match change {
            Change::Applied(o) => {
                let Some((kind, meta)) = GcKind::of_obj(o) else {
                    return Vec::new();
                };
                let mut keys = Vec::new();
                if meta
                    .owner_references
                    .as_ref()
                    .is_some_and(|r| !r.is_empty())
                    || meta.deletion_timestamp.is_some()
                {
                    keys.push(key(kind, meta));
                }
                keys
            }
            Change::Deleted(o) => {
                let Some((_, meta)) = GcKind::of_obj(o) else {
                    return Vec::new();
                };
                let ns = meta.namespace.as_deref().unwrap_or("");
                // Its dependents may be orphans now; its owners may be waiting for it.
                let mut keys: Vec<GcKey> = self
                    .dependents_of(ns, meta.uid.as_deref().unwrap_or(""))
                    .iter()
                    .map(|(k, m)| key(*k, m))
                    .collect();
                for r in meta.owner_references.iter().flatten() {
                    if let Some(k) = GcKind::of_owner(r) {
                        keys.push((k, ns.to_string(), r.name.clone()));
                    }
                }
                keys
            }
            Change::Resynced(_) => self.all_keys(),
        }
    }

    fn all_keys(&self) -> Vec<GcKey> {
        ALL.into_iter()
            .flat_map(|k| {
                let pending = move |m: &ObjectMeta| {
                    let pending = m.owner_references.as_ref().is_some_and(|r| !r.is_empty())
                        || m.deletion_timestamp.is_some();
                    pending.then(|| key(k, m))
                };
                self.scan(k, None, &pending)
            })
            .collect()
    }

    async fn reconcile(&self, key: &GcKey) -> Result<Action> {
        let (kind, ns, name) = key;
        let Some(meta) = self.get(*kind, ns, name) else {
            return Ok(Action::Done);
        };
        if meta.deletion_timestamp.is_some() {
            return self.reconcile_owner(*kind, &meta).await;
        }
        let action = plan::plan_dependent(&meta, |r| self.owner_cached(ns, r));
        let gone = match &action {
            DependentAction::Keep => return Ok(Action::Done),
            DependentAction::Delete => meta
                .owner_references
                .iter()
                .flatten()
                .map(|r| r.uid.clone())
                .collect::<Vec<_>>(),
            DependentAction::DropRefs(g) => g.clone(),
        };
        // Confirm every owner the cache thinks is gone before acting.
        let mut confirmed = Vec::new();
        for r in meta.owner_references.iter().flatten() {
            if gone.contains(&r.uid) && !self.owner_live(ns, r).await? {
                confirmed.push(r.uid.clone());
            }
        }
        let all = meta.owner_references.as_ref().map_or(0, Vec::len);
        if confirmed.is_empty() {
            // The cache was behind; the owner's own event will bring us back if needed.
            return Ok(Action::Done);
        }
        if confirmed.len() == all {
            tracing::debug!(?kind, ns, name, "deleting: every owner is gone");
            self.delete(*kind, &meta).await?;
        } else {
            self.set_owner_refs(*kind, &meta, plan::without_refs(&meta, &confirmed))
                .await?;
        }
        Ok(Action::Done)
    }
}
