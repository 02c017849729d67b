//! The Deployment controller: one ReplicaSet per pod template (`<deploy>-<pod-template-hash>`),
//! rolled with RollingUpdate or Recreate, old ones trimmed to `revisionHistoryLimit`, status
//! and conditions for `kubectl rollout status`, `get` and `describe`.
//!
//! ReplicaSet names are deterministic, so a stale cache can at worst get `AlreadyExists`; spec
//! writes carry the cached resourceVersion, so they fail with a conflict instead of acting on
//! old numbers. The caches hold no pod templates: a new ReplicaSet is made from the Deployment
//! as read from the API, and only if that is still the Deployment the plan saw.

pub mod hash;
pub mod plan;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::jiff::Timestamp;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::{Api, Client};

use crate::cached_workload::{CachedDeployment, CachedReplicaSet};
use crate::events::Recorder;
use crate::replicaset::{owner_key, patch_status};
use crate::runtime::{Action, Change, Informers, Kind, Obj, Reconciler};
use crate::{Error, Result, podutil};
use plan::Step;

pub type DeployKey = (String, String);

pub struct DeploymentController {
    client: Client,
    inf: Informers,
    events: Recorder,
}

impl DeploymentController {
    pub fn new(client: Client, inf: Informers) -> Self {
        DeploymentController {
            events: Recorder::new(client.clone(), "deployment-controller"),
            client,
            inf,
        }
    }

    async fn scaled_event(&self, d: &CachedDeployment, name: &str, from: i32, to: i32) {
        let dir = if to > from { "up" } else { "down" };
        self.events
            .normal(
                "apps/v1",
                "Deployment",
                &d.metadata,
                "ScalingReplicaSet",
                format!("Scaled {dir} replica set {name} from {from} to {to}"),
            )
            .await;
    }

    /// Apply one step. Writes to existing ReplicaSets are merge patches carrying the cached
    /// resourceVersion: if the cache was stale they conflict and the key is requeued.
    async fn apply(
        &self,
        d: &CachedDeployment,
        rss: &[Arc<CachedReplicaSet>],
        step: Step,
    ) -> Result<()> {
        let ns = d.metadata.namespace.clone().unwrap_or_default();
        let api: Api<ReplicaSet> = Api::namespaced(self.client.clone(), &ns);
        let cached = |name: &str| {
            rss.iter()
                .find(|r| r.metadata.name.as_deref() == Some(name))
                .cloned()
        };
        match step {
            Step::Create {
                name,
                replicas,
                revision,
            } => {
                let dapi: Api<Deployment> = Api::namespaced(self.client.clone(), &ns);
                let dname = d.metadata.name.as_deref().unwrap_or("");
                let live = match dapi.get_opt(dname).await? {
                    Some(live) if d.matches_live(&live) => live,
                    _ => {
                        return Err(Error::Conflict(format!(
                            "deployment {ns}/{dname} changed or went since it was cached"
                        )));
                    }
                };
                let rs = plan::new_replicaset(&live, replicas, revision);
                debug_assert_eq!(rs.metadata.name.as_deref(), Some(name.as_str()));
                match api.create(&PostParams::default(), &rs).await {
                    Ok(_) => {
                        if replicas > 0 {
                            self.scaled_event(d, &name, 0, replicas).await;
                        }
                    }
                    Err(kube::Error::Api(s)) if s.code == 409 => {
                        return Err(self.collision(d, &api, &name).await);
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            Step::Scale { name, from, to } => {
                let Some(rs) = cached(&name) else {
                    return Ok(());
                };
                let (surge, _) = plan::fenceposts(d);
                let want = plan::replicas(d);
                let body = serde_json::json!({
                    "metadata": {
                        "resourceVersion": rs.metadata.resource_version,
                        "annotations": {
                            plan::DESIRED_REPLICAS_ANNOTATION: want.to_string(),
                            plan::MAX_REPLICAS_ANNOTATION: (want + surge).to_string(),
                        },
                    },
                    "spec": {"replicas": to},
                });
                api.patch(&name, &PatchParams::default(), &Patch::Merge(&body))
                    .await?;
                self.scaled_event(d, &name, from, to).await;
            }
            Step::SetRevision { name, revision } => {
                let Some(rs) = cached(&name) else {
                    return Ok(());
                };
                let body = serde_json::json!({"metadata": {
                    "resourceVersion": rs.metadata.resource_version,
                    "annotations": {plan::REVISION_ANNOTATION: revision},
                }});
                api.patch(&name, &PatchParams::default(), &Patch::Merge(&body))
                    .await?;
            }
            Step::Delete { name } => match api.delete(&name, &DeleteParams::background()).await {
                Ok(_) => {}
                Err(e) => {
                    let e = Error::from(e);
                    if !e.is_not_found() {
                        return Err(e);
                    }
                }
            },
        }
        Ok(())
    }

    /// `<deploy>-<hash>` exists. Ours (the cache is behind): requeue. Someone else's: a hash
    /// collision, so bump `status.collisionCount` to get a new hash, as upstream.
    async fn collision(&self, d: &CachedDeployment, api: &Api<ReplicaSet>, name: &str) -> Error {
        let uid = d.metadata.uid.clone().unwrap_or_default();
        match api.get(name).await {
            Ok(rs) if podutil::is_controlled_by(&rs.metadata, &uid) => {
                Error::Conflict(format!("replicaset {name} exists; cache is behind"))
            }
            Ok(_) => {
                let count = d
                    .status
                    .as_ref()
                    .and_then(|s| s.collision_count)
                    .unwrap_or(0)
                    + 1;
                let dapi: Api<Deployment> = Api::namespaced(
                    self.client.clone(),
                    d.metadata.namespace.as_deref().unwrap_or(""),
                );
                let name_d = d.metadata.name.clone().unwrap_or_default();
                if let Err(e) = patch_status(
                    &dapi,
                    &name_d,
                    serde_json::json!({ "collisionCount": count }),
                )
                .await
                {
                    return e;
                }
                Error::Conflict(format!("replicaset {name} is not ours: hash collision"))
            }
            Err(e) => e.into(),
        }
    }
}

impl Reconciler for DeploymentController {
    type Key = DeployKey;
    const NAME: &'static str = "deployment";

    fn keys_for(&self, change: &Change) -> Vec<DeployKey> {
        match change {
            Change::Applied(Obj::Deployment(d)) | Change::Deleted(Obj::Deployment(d)) => {
                vec![podutil::key_of(&d.metadata)]
            }
            Change::Applied(Obj::ReplicaSet(rs)) | Change::Deleted(Obj::ReplicaSet(rs)) => {
                owner_key(&rs.metadata, "Deployment").into_iter().collect()
            }
            Change::Resynced(Kind::Deployment | Kind::ReplicaSet) => self.all_keys(),
            _ => Vec::new(),
        }
    }

    fn all_keys(&self) -> Vec<DeployKey> {
        podutil::keys(&self.inf.deployments)
    }

    async fn reconcile(&self, key: &DeployKey) -> Result<Action> {
        let Some(d) = podutil::cached(&self.inf.deployments, key) else {
            return Ok(Action::Done);
        };
        if d.metadata.deletion_timestamp.is_some() {
            return Ok(Action::Done);
        }
        let uid = d.metadata.uid.clone().unwrap_or_default();
        let mut rss: Vec<Arc<CachedReplicaSet>> = self.inf.replicasets.in_namespace(&key.0);
        rss.retain(|rs| podutil::is_controlled_by(&rs.metadata, &uid));
        let refs: Vec<&CachedReplicaSet> = rss.iter().map(|r| r.as_ref()).collect();
        let plan = plan::plan(&d, &refs, Timestamp::now());
        for step in plan.steps {
            self.apply(&d, &rss, step).await?;
        }
        let api: Api<Deployment> = Api::namespaced(self.client.clone(), &key.0);
        if let Some(rev) = plan.revision {
            let body = serde_json::json!({
                "metadata": {"annotations": {plan::REVISION_ANNOTATION: rev}}
            });
            api.patch(&key.1, &PatchParams::default(), &Patch::Merge(&body))
                .await?;
        }
        if d.status.as_ref() != Some(&plan.status) {
            let status = serde_json::to_value(&plan.status).map_err(|source| Error::Encode {
                what: "Deployment status".into(),
                source,
            })?;
            match patch_status(&api, &key.1, status).await {
                Err(e) if e.is_not_found() => {}
                r => r?,
            }
        }
        Ok(Action::Done)
    }
}
