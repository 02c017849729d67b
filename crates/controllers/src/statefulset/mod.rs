//! The StatefulSet controller: stable pod names `<set>-<ordinal>` with DNS hostnames under the
//! governing Service, OrderedReady or Parallel management, and status.
//!
//! Pod names are deterministic, so a stale cache can only cause `AlreadyExists` (requeue),
//! never a duplicate pod. The cache holds no pod template: pods are made from the StatefulSet
//! as read from the API, and only if that is still the set the plan saw.

pub mod plan;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;
use kube::api::{DeleteParams, PostParams};
use kube::{Api, Client};

use crate::cached_pod::CachedPod;
use crate::events::Recorder;
use crate::replicaset::{owner_key, patch_status};
use crate::runtime::{Action, Change, Informers, Kind, Obj, Reconciler};
use crate::{Error, Result, podutil};

pub type SetKey = (String, String);

pub struct StatefulSetController {
    client: Client,
    inf: Informers,
    events: Recorder,
}

impl StatefulSetController {
    pub fn new(client: Client, inf: Informers) -> Self {
        StatefulSetController {
            events: Recorder::new(client.clone(), "statefulset-controller"),
            client,
            inf,
        }
    }
}

impl Reconciler for StatefulSetController {
    type Key = SetKey;
    const NAME: &'static str = "statefulset";

    fn keys_for(&self, change: &Change) -> Vec<SetKey> {
        match change {
            Change::Applied(Obj::StatefulSet(s)) | Change::Deleted(Obj::StatefulSet(s)) => {
                vec![podutil::key_of(&s.metadata)]
            }
            Change::Applied(Obj::Pod(p)) | Change::Deleted(Obj::Pod(p)) => {
                owner_key(&p.metadata, "StatefulSet").into_iter().collect()
            }
            Change::Resynced(Kind::StatefulSet | Kind::Pod) => self.all_keys(),
            _ => Vec::new(),
        }
    }

    fn all_keys(&self) -> Vec<SetKey> {
        podutil::keys(&self.inf.statefulsets)
    }

    async fn reconcile(&self, key: &SetKey) -> Result<Action> {
        let Some(ss) = podutil::cached(&self.inf.statefulsets, key) else {
            return Ok(Action::Done);
        };
        let uid = ss.metadata.uid.clone().unwrap_or_default();
        let mut pods: Vec<Arc<CachedPod>> = self.inf.pods.in_namespace(&key.0);
        pods.retain(|p| podutil::is_controlled_by(&p.metadata, &uid));
        let refs: Vec<&CachedPod> = pods.iter().map(|p| p.as_ref()).collect();
        let plan = plan::plan(&ss, &refs, Timestamp::now());
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &key.0);
        let sapi: Api<StatefulSet> = Api::namespaced(self.client.clone(), &key.0);
        if !plan.create.is_empty() {
            let live = match sapi.get_opt(&key.1).await? {
                Some(live) if ss.matches_live(&live) => live,
                _ => {
                    return Err(Error::Conflict(format!(
                        "statefulset {}/{} changed or went since it was cached",
                        key.0, key.1
                    )));
                }
            };
            let revision = plan::update_revision(&ss);
            for &i in &plan.create {
                let pod = plan::new_pod(&live, i, &revision);
                let name = pod.metadata.name.clone().unwrap_or_default();
                match api.create(&PostParams::default(), &pod).await {
                    Ok(_) => {
                        let msg = format!("create Pod {name} in StatefulSet {} successful", key.1);
                        self.events
                            .normal(
                                "apps/v1",
                                "StatefulSet",
                                &ss.metadata,
                                "SuccessfulCreate",
                                msg,
                            )
                            .await;
                    }
                    // The cache is behind (or the old pod is still being deleted): look again.
                    Err(kube::Error::Api(s)) if s.code == 409 => {
                        return Err(Error::Conflict(format!("pod {name} exists")));
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        }
        for name in &plan.delete {
            match api.delete(name, &DeleteParams::default()).await {
                Ok(_) => {
                    let msg = format!("delete Pod {name} in StatefulSet {} successful", key.1);
                    self.events
                        .normal(
                            "apps/v1",
                            "StatefulSet",
                            &ss.metadata,
                            "SuccessfulDelete",
                            msg,
                        )
                        .await;
                }
                Err(e) => {
                    let e = Error::from(e);
                    if !e.is_not_found() {
                        return Err(e);
                    }
                }
            }
        }
        if ss.status.as_ref() != Some(&plan.status) {
            let status = serde_json::to_value(&plan.status).map_err(|source| Error::Encode {
                what: "StatefulSet status".into(),
                source,
            })?;
            match patch_status(&sapi, &key.1, status).await {
                Err(e) if e.is_not_found() => {}
                r => r?,
            }
        }
        Ok(Action::Done)
    }
}
