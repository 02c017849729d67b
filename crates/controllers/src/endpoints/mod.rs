//! The legacy Endpoints controller: one core/v1 Endpoints per Service with a selector.
//!
//! Endpoints of selectorless Services belong to the user and are never written here. Endpoints
//! carry no ownerReference (as upstream), so this controller deletes them with their Service.

pub mod plan;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use k8s_openapi::api::core::v1::Endpoints;
use kube::api::{DeleteParams, PostParams};
use kube::{Api, Client};

use crate::cached_pod::CachedPod;
use crate::endpointslice::ServiceKey;
use crate::runtime::{Action, Change, Informers, Kind, Obj, Reconciler};
use crate::{Config, Result, podutil, service};

pub struct EndpointsController {
    client: Client,
    inf: Informers,
    max_addresses: usize,
}

impl EndpointsController {
    pub fn new(client: Client, inf: Informers, config: &Config) -> Self {
        EndpointsController {
            client,
            inf,
            max_addresses: config.max_endpoints_addresses,
        }
    }
}

impl Reconciler for EndpointsController {
    type Key = ServiceKey;
    const NAME: &'static str = "endpoints";

    fn keys_for(&self, change: &Change) -> Vec<ServiceKey> {
        match change {
            Change::Applied(Obj::Service(s)) | Change::Deleted(Obj::Service(s)) => {
                vec![podutil::key_of(&s.metadata)]
            }
            Change::Applied(Obj::Endpoints(e)) | Change::Deleted(Obj::Endpoints(e)) => {
                vec![podutil::key_of(&e.metadata)]
            }
            Change::Applied(Obj::Pod(p)) | Change::Deleted(Obj::Pod(p)) => {
                let ns = p.metadata.namespace.as_deref();
                let name = p.metadata.name.as_deref();
                let ns = ns.unwrap_or_default();
                let selecting = self.inf.services.in_namespace(ns).into_iter().filter(|s| {
                    service::selector(s).is_some_and(|sel| {
                        podutil::map_selector_matches(sel, podutil::labels(&p.metadata))
                    })
                });
                // Endpoints that list the pod (its labels may no longer match).
                let listing = self.inf.endpoints.in_namespace(ns).into_iter().filter(|e| {
                    e.subsets.iter().flatten().any(|s| {
                        s.addresses
                            .iter()
                            .chain(s.not_ready_addresses.iter())
                            .flatten()
                            .any(|a| a.target_ref.as_ref().and_then(|t| t.name.as_deref()) == name)
                    })
                });
                selecting
                    .map(|s| podutil::key_of(&s.metadata))
                    .chain(listing.map(|e| podutil::key_of(&e.metadata)))
                    .collect()
            }
            Change::Resynced(Kind::Service | Kind::Pod | Kind::Endpoints) => self.all_keys(),
            _ => Vec::new(),
        }
    }

    fn all_keys(&self) -> Vec<ServiceKey> {
        podutil::keys(&self.inf.services)
    }

    async fn reconcile(&self, key: &ServiceKey) -> Result<Action> {
        let api: Api<Endpoints> = Api::namespaced(self.client.clone(), &key.0);
        let current = podutil::cached(&self.inf.endpoints, key);
        let Some(svc) = podutil::cached(&self.inf.services, key) else {
            // The Service is gone: so are its Endpoints (they have no owner reference).
            if current.is_some() {
                match api.delete(&key.1, &DeleteParams::default()).await {
                    Ok(_) => {}
                    Err(e) => {
                        let e = crate::Error::from(e);
                        if !e.is_not_found() {
                            return Err(e);
                        }
                    }
                }
            }
            return Ok(Action::Done);
        };
        if service::selector(&svc).is_none() {
            // Selectorless: the Endpoints are the user's.
            return Ok(Action::Done);
        }
        let pods: Vec<Arc<CachedPod>> = self.inf.pods.in_namespace(&key.0);
        let pods: Vec<&CachedPod> = pods.iter().map(|p| p.as_ref()).collect();
        match plan::plan(&svc, &pods, current.as_deref(), self.max_addresses) {
            plan::Write::None => {}
            plan::Write::Create(e) => {
                match api.create(&PostParams::default(), &e).await {
                    Ok(_) => {}
                    // Our cache is behind: level-triggered, look again with the fresh object.
                    Err(kube::Error::Api(s)) if s.code == 409 => {
                        return Err(crate::Error::Conflict(s.message.clone()));
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            plan::Write::Update(e) => {
                api.replace(&key.1, &PostParams::default(), &e).await?;
            }
        }
        Ok(Action::Done)
    }
}
