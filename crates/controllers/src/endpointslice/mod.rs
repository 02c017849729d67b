//! The EndpointSlice controller (Services with a selector → slices of their pods) and the
//! mirroring controller (selectorless Services with user Endpoints → mirrored slices).
//!
//! Both only write slices labelled with their own `managed-by` and owned by the Service; slices
//! of others are never touched. Slices go away with their Service through the garbage
//! collector (ownerReference), not here.

pub mod mirror;
pub mod plan;
pub mod slices;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{DeleteParams, PostParams};
use kube::{Api, Client};

use crate::cached_pod::CachedPod;
use crate::runtime::{Action, Change, Expectations, Informers, Kind, Obj, Reconciler};
use crate::service::{MANAGED_BY_LABEL, SERVICE_NAME_LABEL};
use crate::{Config, Result, podutil, service};
use slices::SlicePlan;

/// `namespace/name` of a Service.
pub type ServiceKey = (String, String);

/// How soon to look again when the cache has not caught up with our own writes.
const CACHE_WAIT: Duration = Duration::from_secs(1);

/// The slices `managed_by` keeps for the Service (by label, then by owner uid: slices of an
/// older Service of the same name are left to the garbage collector).
fn owned_slices(inf: &Informers, svc: &Service, managed_by: &str) -> Vec<Arc<EndpointSlice>> {
    let (ns, name) = podutil::key_of(&svc.metadata);
    let uid = svc.metadata.uid.clone().unwrap_or_default();
    let mut slices = inf.slices.in_namespace(&ns);
    slices.retain(|s| {
        let labels = podutil::labels(&s.metadata);
        labels.get(SERVICE_NAME_LABEL) == Some(&name)
            && labels.get(MANAGED_BY_LABEL).map(String::as_str) == Some(managed_by)
            && s.metadata
                .owner_references
                .iter()
                .flatten()
                .any(|o| o.uid == uid)
    });
    slices
}

/// Whether the cache shows every slice we created or deleted for `key`.
fn caught_up(exp: &Expectations<ServiceKey>, inf: &Informers, key: &ServiceKey) -> bool {
    exp.satisfied(key, |name| inf.slices.get(&key.0, name).is_some())
}

async fn apply_plan(
    client: &Client,
    exp: &Expectations<ServiceKey>,
    key: &ServiceKey,
    plan: SlicePlan,
) -> Result<()> {
    let api: Api<EndpointSlice> = Api::namespaced(client.clone(), &key.0);
    for s in plan.update {
        let name = s.metadata.name.clone().unwrap_or_default();
        // Carries the cached resourceVersion: a stale cache gets a 409 and a requeue.
        api.replace(&name, &PostParams::default(), &s).await?;
    }
    for s in plan.create {
        let created = api.create(&PostParams::default(), &s).await?;
        if let Some(name) = created.metadata.name {
            exp.expect_add(key, name);
        }
    }
    for name in plan.delete {
        match api.delete(&name, &DeleteParams::background()).await {
            Ok(_) => exp.expect_delete(key, name),
            Err(e) => {
                let e = crate::Error::from(e);
                if !e.is_not_found() {
                    return Err(e);
                }
            }
        }
    }
    Ok(())
}

/// Keeps the slices of every Service with a selector.
pub struct SliceController {
    client: Client,
    inf: Informers,
    max_per_slice: usize,
    exp: Expectations<ServiceKey>,
    /// The zone each node had when last seen: node status reports (heartbeats) change
    /// nothing a slice holds, and must not cost a look at every pod.
    node_zones: Mutex<HashMap<String, Option<String>>>,
}

impl SliceController {
    pub fn new(client: Client, inf: Informers, config: &Config) -> Self {
        SliceController {
            client,
            inf,
            max_per_slice: config.max_endpoints_per_slice,
            exp: Expectations::default(),
            node_zones: Mutex::default(),
        }
    }

    /// Services in the pod's namespace that select it, plus those whose slices list it (its
    /// labels may have changed so that they no longer select it).
    fn services_for_pod(&self, pod: &CachedPod) -> Vec<ServiceKey> {
        let ns = pod.metadata.namespace.clone().unwrap_or_default();
        let name = pod.metadata.name.as_deref();
        let mut keys: Vec<ServiceKey> = self
            .inf
            .services
            .in_namespace(&ns)
            .iter()
            .filter(|s| {
                service::selector(s).is_some_and(|sel| {
                    podutil::map_selector_matches(sel, podutil::labels(&pod.metadata))
                })
            })
            .map(|s| podutil::key_of(&s.metadata))
            .collect();
        for s in self.inf.slices.in_namespace(&ns) {
            if s.endpoints
                .iter()
                .any(|e| e.target_ref.as_ref().and_then(|t| t.name.as_deref()) == name)
                && let Some(svc) = podutil::labels(&s.metadata).get(SERVICE_NAME_LABEL)
            {
                keys.push((ns.clone(), svc.clone()));
            }
        }
        keys
    }
}

impl Reconciler for SliceController {
    type Key = ServiceKey;
    const NAME: &'static str = "endpointslice";

    fn keys_for(&self, change: &Change) -> Vec<ServiceKey> {
        match change {
            Change::Applied(Obj::Service(s)) | Change::Deleted(Obj::Service(s)) => {
                vec![podutil::key_of(&s.metadata)]
            }
            Change::Applied(Obj::Pod(p)) | Change::Deleted(Obj::Pod(p)) => self.services_for_pod(p),
            Change::Applied(Obj::EndpointSlice(s)) | Change::Deleted(Obj::EndpointSlice(s)) => {
                let labels = podutil::labels(&s.metadata);
                match (labels.get(SERVICE_NAME_LABEL), labels.get(MANAGED_BY_LABEL)) {
                    (Some(svc), Some(m)) if m == plan::CONTROLLER_NAME => {
                        vec![(
                            s.metadata.namespace.clone().unwrap_or_default(),
                            svc.clone(),
                        )]
                    }
                    _ => Vec::new(),
                }
            }
            // A node appearing, going or changing zone affects the pods bound to it.
            Change::Applied(Obj::Node(n)) | Change::Deleted(Obj::Node(n)) => {
                let name = n.metadata.name.clone().unwrap_or_default();
                let zone = podutil::labels(&n.metadata).get(plan::ZONE_LABEL).cloned();
                {
                    let mut zones = self.node_zones.lock().unwrap_or_else(|e| e.into_inner());
                    let before = if matches!(change, Change::Deleted(_)) {
                        zones.remove(&name)
                    } else {
                        zones.insert(name.clone(), zone.clone())
                    };
                    if matches!(change, Change::Applied(_)) && before == Some(zone) {
                        return Vec::new();
                    }
                }
                let node = Some(name.as_str());
                self.inf
                    .pods
                    .all()
                    .iter()
                    .filter(|p| podutil::node_name(p) == node)
                    .flat_map(|p| self.services_for_pod(p))
                    .collect()
            }
            Change::Resynced(Kind::Node) => {
                // The listed nodes arrive in the cache without an `Applied` each: know their
                // zones now, or each one's first status report would look like a new node and
                // re-check every pod (at 5,000 nodes, most of the controllers' CPU).
                let mut zones = self.node_zones.lock().unwrap_or_else(|e| e.into_inner());
                *zones = self
                    .inf
                    .nodes
                    .all()
                    .iter()
                    .map(|n| {
                        let zone = podutil::labels(&n.metadata).get(plan::ZONE_LABEL).cloned();
                        (n.metadata.name.clone().unwrap_or_default(), zone)
                    })
                    .collect();
                drop(zones);
                self.all_keys()
            }
            Change::Resynced(Kind::Service | Kind::Pod | Kind::EndpointSlice) => self.all_keys(),
            _ => Vec::new(),
        }
    }

    fn all_keys(&self) -> Vec<ServiceKey> {
        podutil::keys(&self.inf.services)
    }

    async fn reconcile(&self, key: &ServiceKey) -> Result<Action> {
        let Some(svc) = podutil::cached(&self.inf.services, key) else {
            // Slices are owned by the Service: the garbage collector removes them.
            self.exp.forget(key);
            return Ok(Action::Done);
        };
        if !caught_up(&self.exp, &self.inf, key) {
            return Ok(Action::RequeueAfter(CACHE_WAIT));
        }
        let existing = owned_slices(&self.inf, &svc, plan::CONTROLLER_NAME);
        let existing: Vec<&EndpointSlice> = existing.iter().map(|s| s.as_ref()).collect();
        let plan = if service::selector(&svc).is_none() {
            // No selector (any more): the slices we wrote must go; mirroring takes over.
            SlicePlan {
                delete: existing
                    .iter()
                    .filter_map(|s| s.metadata.name.clone())
                    .collect(),
                ..SlicePlan::default()
            }
        } else {
            let pods: Vec<Arc<CachedPod>> = self
                .inf
                .pods
                .in_namespace(svc.metadata.namespace.as_deref().unwrap_or_default());
            let node_zone = |name: &str| {
                let node = self.inf.nodes.get("", name)?;
                Some(
                    podutil::labels(&node.metadata)
                        .get(plan::ZONE_LABEL)
                        .cloned(),
                )
            };
            plan::plan(&plan::Snapshot {
                service: &svc,
                pods: pods.iter().map(|p| p.as_ref()).collect(),
                nodes: &node_zone,
                existing,
                max_per_slice: self.max_per_slice,
            })
        };
        if plan.is_empty() {
            return Ok(Action::Done);
        }
        tracing::debug!(service = ?key, creates = plan.create.len(), updates = plan.update.len(), deletes = plan.delete.len(), "writing endpointslices");
        apply_plan(&self.client, &self.exp, key, plan).await?;
        Ok(Action::Done)
    }
}

/// Mirrors user Endpoints of selectorless Services into slices.
pub struct MirrorController {
    client: Client,
    inf: Informers,
    max_per_slice: usize,
    exp: Expectations<ServiceKey>,
}

impl MirrorController {
    pub fn new(client: Client, inf: Informers, config: &Config) -> Self {
        MirrorController {
            client,
            inf,
            max_per_slice: config.max_endpoints_per_slice,
            exp: Expectations::default(),
        }
    }
}

impl Reconciler for MirrorController {
    type Key = ServiceKey;
    const NAME: &'static str = "endpointslicemirroring";

    fn keys_for(&self, change: &Change) -> Vec<ServiceKey> {
        match change {
            Change::Applied(Obj::Service(s)) | Change::Deleted(Obj::Service(s)) => {
                vec![podutil::key_of(&s.metadata)]
            }
            Change::Applied(Obj::Endpoints(e)) | Change::Deleted(Obj::Endpoints(e)) => {
                vec![podutil::key_of(&e.metadata)]
            }
            Change::Applied(Obj::EndpointSlice(s)) | Change::Deleted(Obj::EndpointSlice(s)) => {
                let labels = podutil::labels(&s.metadata);
                match (labels.get(SERVICE_NAME_LABEL), labels.get(MANAGED_BY_LABEL)) {
                    (Some(svc), Some(m)) if m == mirror::MIRROR_CONTROLLER_NAME => {
                        vec![(
                            s.metadata.namespace.clone().unwrap_or_default(),
                            svc.clone(),
                        )]
                    }
                    _ => Vec::new(),
                }
            }
            Change::Resynced(Kind::Service | Kind::Endpoints | Kind::EndpointSlice) => {
                self.all_keys()
            }
            _ => Vec::new(),
        }
    }

    fn all_keys(&self) -> Vec<ServiceKey> {
        podutil::keys(&self.inf.services)
    }

    async fn reconcile(&self, key: &ServiceKey) -> Result<Action> {
        let Some(svc) = podutil::cached(&self.inf.services, key) else {
            self.exp.forget(key);
            return Ok(Action::Done);
        };
        if !caught_up(&self.exp, &self.inf, key) {
            return Ok(Action::RequeueAfter(CACHE_WAIT));
        }
        let endpoints = podutil::cached(&self.inf.endpoints, key);
        let existing = owned_slices(&self.inf, &svc, mirror::MIRROR_CONTROLLER_NAME);
        let existing: Vec<&EndpointSlice> = existing.iter().map(|s| s.as_ref()).collect();
        let plan = mirror::plan(&svc, endpoints.as_deref(), &existing, self.max_per_slice);
        if plan.is_empty() {
            return Ok(Action::Done);
        }
        apply_plan(&self.client, &self.exp, key, plan).await?;
        Ok(Action::Done)
    }
}
