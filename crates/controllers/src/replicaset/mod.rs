//! The ReplicaSet controller: keeps `spec.replicas` pods from the template, and the status.
//!
//! Pods are created with `generateName`, so create/delete expectations stop a stale cache from
//! creating a second batch. Pods are found by their controller ownerReference. The cache holds
//! no pod template: pods are made from the ReplicaSet as read from the API, once per pass that
//! creates any, and only if that is still the ReplicaSet the plan saw.

pub mod plan;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::{Api, Client};

use crate::cached_pod::CachedPod;
use crate::events::Recorder;
use crate::runtime::{Action, Change, Expectations, Informers, Kind, Obj, Reconciler};
use crate::{Result, podutil};

pub type RsKey = (String, String);

pub struct ReplicaSetController {
    client: Client,
    inf: Informers,
    exp: Expectations<RsKey>,
    events: Recorder,
}

impl ReplicaSetController {
    pub fn new(client: Client, inf: Informers) -> Self {
        ReplicaSetController {
            events: Recorder::new(client.clone(), "replicaset-controller"),
            client,
            inf,
            exp: Expectations::default(),
        }
    }
}

/// The key of the controller of `meta` if it is a `kind` (apps/v1).
pub(crate) fn owner_key(
    meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    kind: &str,
) -> Option<(String, String)> {
    let r = podutil::controller_ref(meta)?;
    (r.kind == kind && r.api_version.starts_with("apps/"))
        .then(|| (meta.namespace.clone().unwrap_or_default(), r.name.clone()))
}

/// Write `status` through the status subresource with a merge patch (every count explicit).
pub(crate) async fn patch_status<K>(
    api: &Api<K>,
    name: &str,
    status: serde_json::Value,
) -> Result<()>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let body = serde_json::json!({ "status": status });
    api.patch_status(name, &PatchParams::default(), &Patch::Merge(&body))
        .await?;
    Ok(())
}

impl Reconciler for ReplicaSetController {
    type Key = RsKey;
    const NAME: &'static str = "replicaset";

    fn keys_for(&self, change: &Change) -> Vec<RsKey> {
        match change {
            Change::Applied(Obj::ReplicaSet(rs)) | Change::Deleted(Obj::ReplicaSet(rs)) => {
                vec![podutil::key_of(&rs.metadata)]
            }
            Change::Applied(Obj::Pod(p)) | Change::Deleted(Obj::Pod(p)) => {
                owner_key(&p.metadata, "ReplicaSet").into_iter().collect()
            }
            Change::Resynced(Kind::ReplicaSet | Kind::Pod) => self.all_keys(),
            _ => Vec::new(),
        }
    }

    fn all_keys(&self) -> Vec<RsKey> {
        podutil::keys(&self.inf.replicasets)
    }

    async fn reconcile(&self, key: &RsKey) -> Result<Action> {
        let Some(rs) = podutil::cached(&self.inf.replicasets, key) else {
            self.exp.forget(key);
            return Ok(Action::Done);
        };
        let uid = rs.metadata.uid.clone().unwrap_or_default();
        let mut pods: Vec<Arc<CachedPod>> = self.inf.pods.in_namespace(&key.0);
        pods.retain(|p| podutil::is_controlled_by(&p.metadata, &uid));
        let synced = self.exp.satisfied(key, |name| {
            pods.iter()
                .any(|p| p.metadata.name.as_deref() == Some(name) && podutil::is_active(p))
        });
        let pod_refs: Vec<&CachedPod> = pods.iter().map(|p| p.as_ref()).collect();
        let plan = plan::plan(&rs, &pod_refs, Timestamp::now());

        let pods_api: Api<Pod> = Api::namespaced(self.client.clone(), &key.0);
        let rs_api: Api<ReplicaSet> = Api::namespaced(self.client.clone(), &key.0);
        if synced && plan.create > 0 {
            // One GET per pass that creates: the plan never needs the template.
            let live = match rs_api.get_opt(&key.1).await? {
                Some(live) if rs.matches_live(&live) => live,
                _ => {
                    return Err(crate::Error::Conflict(format!(
                        "replicaset {}/{} changed or went since it was cached",
                        key.0, key.1
                    )));
                }
            };
            let pod = plan::pod_from_template(&live);
            for _ in 0..plan.create {
                let created = pods_api.create(&PostParams::default(), &pod).await?;
                let name = created.metadata.name.unwrap_or_default();
                self.exp.expect_add(key, name.clone());
                self.events
                    .normal(
                        "apps/v1",
                        "ReplicaSet",
                        &rs.metadata,
                        "SuccessfulCreate",
                        format!("Created pod: {name}"),
                    )
                    .await;
            }
        }
        if synced {
            for name in &plan.delete {
                match pods_api.delete(name, &DeleteParams::default()).await {
                    Ok(_) => {
                        self.exp.expect_delete(key, name.clone());
                        self.events
                            .normal(
                                "apps/v1",
                                "ReplicaSet",
                                &rs.metadata,
                                "SuccessfulDelete",
                                format!("Deleted pod: {name}"),
                            )
                            .await;
                    }
                    Err(e) => {
                        let e = crate::Error::from(e);
                        if !e.is_not_found() {
                            return Err(e);
                        }
                    }
                }
            }
        }

        if rs.status.as_ref() != Some(&plan.status) {
            let status =
                serde_json::to_value(&plan.status).map_err(|source| crate::Error::Encode {
                    what: "ReplicaSet status".into(),
                    source,
                })?;
            match patch_status(&rs_api, &key.1, status).await {
                Err(e) if e.is_not_found() => return Ok(Action::Done),
                r => r?,
            }
        }
        if !synced {
            return Ok(Action::RequeueAfter(Duration::from_secs(1)));
        }
        Ok(match plan.recheck_in {
            Some(s) => Action::RequeueAfter(Duration::from_secs(s as u64)),
            None => Action::Done,
        })
    }
}
