//! What a Deployment needs next: ReplicaSet creations, scalings, revision bumps, history
//! cleanup, and its status (pure). One pass does one phase, as upstream: a scale-up of the new
//! ReplicaSet, or else scale-downs of old ones; the resulting watch events drive the next pass.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentCondition, DeploymentStatus, ReplicaSet, ReplicaSetSpec,
};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, Time};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::jiff::Timestamp;

use super::hash::{POD_TEMPLATE_HASH_LABEL, hash_from};
use crate::cached_workload::{CachedDeployment, CachedReplicaSet, TemplateFingerprint};
use crate::podutil;

pub const REVISION_ANNOTATION: &str = "deployment.kubernetes.io/revision";
pub const DESIRED_REPLICAS_ANNOTATION: &str = "deployment.kubernetes.io/desired-replicas";
pub const MAX_REPLICAS_ANNOTATION: &str = "deployment.kubernetes.io/max-replicas";
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Create the new ReplicaSet `name` (`<deploy>-<hash>`, see [`new_replicaset_name`]) with
    /// `replicas` pods at `revision`, from the Deployment as read from the API
    /// ([`new_replicaset`]): the cache keeps no template to make it from.
    Create {
        name: String,
        replicas: i32,
        revision: i64,
    },
    Scale {
        name: String,
        from: i32,
        to: i32,
    },
    /// An older ReplicaSet became the new one again (rollback): it takes the next revision.
    SetRevision {
        name: String,
        revision: String,
    },
    Delete {
        name: String,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub steps: Vec<Step>,
    pub status: DeploymentStatus,
    /// The Deployment's `deployment.kubernetes.io/revision` annotation, when it must change.
    pub revision: Option<String>,
}

pub fn replicas(d: &CachedDeployment) -> i32 {
    d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1).max(0)
}

fn rs_replicas(rs: &CachedReplicaSet) -> i32 {
    rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}

fn rs_status(rs: &CachedReplicaSet) -> (i32, i32, i32) {
    rs.status.as_ref().map_or((0, 0, 0), |s| {
        (
            s.replicas,
            s.ready_replicas.unwrap_or(0),
            s.available_replicas.unwrap_or(0),
        )
    })
}

fn revision_of(rs: &CachedReplicaSet) -> i64 {
    rs.revision
        .as_deref()
        .and_then(|r| r.parse().ok())
        .unwrap_or(0)
}

fn is_recreate(d: &CachedDeployment) -> bool {
    d.spec
        .as_ref()
        .and_then(|s| s.strategy.as_ref())
        .and_then(|s| s.type_.as_deref())
        == Some("Recreate")
}

/// An int or a percentage of `total`, rounded up or down.
pub fn scaled_value(v: &IntOrString, total: i32, round_up: bool) -> i32 {
    match v {
        IntOrString::Int(n) => *n,
        IntOrString::String(s) => {
            let pct: i64 = s.trim_end_matches('%').parse().unwrap_or(0);
            let num = pct * i64::from(total);
            let v = if round_up {
                (num + 99) / 100
            } else {
                num / 100
            };
            v as i32
        }
    }
}

/// (maxSurge, maxUnavailable) resolved against the desired replicas; never both zero.
pub fn fenceposts(d: &CachedDeployment) -> (i32, i32) {
    let want = replicas(d);
    let ru = d
        .spec
        .as_ref()
        .and_then(|s| s.strategy.as_ref())
        .and_then(|s| s.rolling_update.as_ref());
    let quarter = IntOrString::String("25%".into());
    let surge = ru.and_then(|r| r.max_surge.as_ref()).unwrap_or(&quarter);
    let unavailable = ru
        .and_then(|r| r.max_unavailable.as_ref())
        .unwrap_or(&quarter);
    let surge = scaled_value(surge, want, true);
    let unavailable = scaled_value(unavailable, want, false);
    if surge == 0 && unavailable == 0 {
        (0, 1)
    } else {
        (surge, unavailable)
    }
}

fn template(d: &CachedDeployment) -> TemplateFingerprint {
    match &d.spec {
        Some(s) => s.template,
        None => TemplateFingerprint::of(&PodTemplateSpec::default()),
    }
}

/// Whether `rs` runs the Deployment's current template: the templates are equal but for the
/// `pod-template-hash` label.
pub fn is_new_rs(d: &CachedDeployment, rs: &CachedReplicaSet) -> bool {
    let rs_t = rs.spec.as_ref().and_then(|s| s.template.as_ref());
    rs_t.is_some_and(|t| t.fingerprint.without_hash_label == template(d).without_hash_label)
}

/// The `pod-template-hash` of the Deployment's current template.
fn template_hash(d: &CachedDeployment) -> String {
    let collision = d.status.as_ref().and_then(|s| s.collision_count);
    hash_from(template(d).fnv, collision)
}

/// `<deploy>-<pod-template-hash>`: the name of the ReplicaSet for the current template.
pub fn new_replicaset_name(d: &CachedDeployment) -> String {
    format!(
        "{}-{}",
        d.metadata.name.as_deref().unwrap_or(""),
        template_hash(d)
    )
}

/// The new ReplicaSet for the Deployment's template, with `replicas` pods.
pub fn new_replicaset(full: &Deployment, replicas: i32, revision: i64) -> ReplicaSet {
    let d = &CachedDeployment::from(full);
    let hash = template_hash(d);
    let mut tpl = full
        .spec
        .as_ref()
        .map(|s| s.template.clone())
        .unwrap_or_default();
    let tmeta = tpl.metadata.get_or_insert_with(ObjectMeta::default);
    tmeta
        .labels
        .get_or_insert_with(BTreeMap::new)
        .insert(POD_TEMPLATE_HASH_LABEL.into(), hash.clone());
    let labels = tmeta.labels.clone();
    let spec = full.spec.as_ref();
    let mut selector: LabelSelector = spec.map(|s| s.selector.clone()).unwrap_or_default();
    selector
        .match_labels
        .get_or_insert_with(BTreeMap::new)
        .insert(POD_TEMPLATE_HASH_LABEL.into(), hash.clone());
    let mut annotations: BTreeMap<String, String> = full
        .metadata
        .annotations
        .clone()
        .unwrap_or_default()
        .into_iter()
        .filter(|(k, _)| k != LAST_APPLIED && k != REVISION_ANNOTATION)
        .collect();
    let (surge, _) = fenceposts(d);
    annotations.insert(REVISION_ANNOTATION.into(), revision.to_string());
    annotations.insert(
        DESIRED_REPLICAS_ANNOTATION.into(),
        replicas_of(d).to_string(),
    );
    annotations.insert(
        MAX_REPLICAS_ANNOTATION.into(),
        (replicas_of(d) + surge).to_string(),
    );
    ReplicaSet {
        metadata: ObjectMeta {
            name: Some(new_replicaset_name(d)),
            namespace: d.metadata.namespace.clone(),
            labels,
            annotations: Some(annotations),
            owner_references: Some(vec![podutil::owner_ref(
                "apps/v1",
                "Deployment",
                &d.metadata,
            )]),
            ..ObjectMeta::default()
        },
        spec: Some(ReplicaSetSpec {
            replicas: Some(replicas),
            min_ready_seconds: spec.and_then(|s| s.min_ready_seconds),
            selector,
            template: Some(tpl),
        }),
        status: None,
    }
}

fn replicas_of(d: &CachedDeployment) -> i32 {
    replicas(d)
}

/// A ReplicaSet as the plan sees it: its spec replicas after this pass's steps.
struct View<'a> {
    rs: Option<&'a CachedReplicaSet>,
    name: String,
    replicas: i32,
    available: i32,
    status_replicas: i32,
}

/// `rss`: ReplicaSets the Deployment controls. `now`: for condition times.
pub fn plan(d: &CachedDeployment, rss: &[&CachedReplicaSet], now: Timestamp) -> Plan {
    let want = replicas(d);
    let mut rss: Vec<&CachedReplicaSet> = rss.to_vec();
    rss.sort_by(|a, b| {
        (
            a.metadata.creation_timestamp.as_ref().map(|t| t.0),
            &a.metadata.name,
        )
            .cmp(&(
                b.metadata.creation_timestamp.as_ref().map(|t| t.0),
                &b.metadata.name,
            ))
    });
    let new_rs = rss.iter().copied().find(|rs| is_new_rs(d, rs));
    let olds: Vec<&CachedReplicaSet> = rss
        .iter()
        .copied()
        .filter(|rs| new_rs.is_none_or(|n| n.metadata.uid != rs.metadata.uid))
        .collect();
    let max_old_revision = olds.iter().map(|r| revision_of(r)).max().unwrap_or(0);
    let next_revision = max_old_revision + 1;
    let paused = d.spec.as_ref().and_then(|s| s.paused).unwrap_or(false);

    let mut steps = Vec::new();
    // The Deployment's revision is its new ReplicaSet's; a ReplicaSet that becomes new again
    // (rollback) moves past every old revision.
    let mut revision = None;
    let mut new_view = match new_rs {
        Some(rs) => {
            let r = revision_of(rs);
            if r < next_revision {
                steps.push(Step::SetRevision {
                    name: rs.metadata.name.clone().unwrap_or_default(),
                    revision: next_revision.to_string(),
                });
                revision = Some(next_revision);
            } else {
                revision = Some(r);
            }
            view(rs)
        }
        None => View {
            rs: None,
            name: String::new(),
            replicas: 0,
            available: 0,
            status_replicas: 0,
        },
    };
    let mut old_views: Vec<View> = olds.iter().map(|rs| view(rs)).collect();

    if !paused {
        let target = if is_recreate(d) {
            recreate(want, &new_view, &mut old_views)
        } else {
            rolling(d, want, &new_view, &mut old_views)
        };
        match (new_rs, target) {
            (None, Some(n)) => {
                let name = new_replicaset_name(d);
                new_view.name = name.clone();
                new_view.replicas = n;
                revision = Some(next_revision);
                steps.push(Step::Create {
                    name,
                    replicas: n,
                    revision: next_revision,
                });
            }
            (Some(rs), Some(n)) if n != new_view.replicas => {
                steps.push(Step::Scale {
                    name: rs.metadata.name.clone().unwrap_or_default(),
                    from: new_view.replicas,
                    to: n,
                });
                new_view.replicas = n;
            }
            _ => {}
        }
        for (v, rs) in old_views.iter().zip(&olds) {
            if v.replicas != rs_replicas(rs) {
                steps.push(Step::Scale {
                    name: v.name.clone(),
                    from: rs_replicas(rs),
                    to: v.replicas,
                });
            }
        }
    }

    let created = steps.iter().any(|s| matches!(s, Step::Create { .. }));
    let status = status(d, &new_view, &old_views, created, now);
    if !paused && complete(d, &status) {
        steps.extend(cleanup(d, &olds));
    }
    let revision = revision
        .map(|r| r.to_string())
        .filter(|r| d.revision.as_ref() != Some(r));
    Plan {
        steps,
        status,
        revision,
    }
}

fn view(rs: &CachedReplicaSet) -> View<'_> {
    let (status_replicas, _, available) = rs_status(rs);
    View {
        rs: Some(rs),
        name: rs.metadata.name.clone().unwrap_or_default(),
        replicas: rs_replicas(rs),
        available,
        status_replicas,
    }
}

/// Recreate: old ReplicaSets to zero, wait for their pods to go, then the new one to `want`.
/// Returns the new ReplicaSet's target, or None to leave it (or not create it yet).
fn recreate(want: i32, new: &View, olds: &mut [View]) -> Option<i32> {
    if olds.iter().any(|o| o.replicas > 0) {
        for o in olds.iter_mut() {
            o.replicas = 0;
        }
        return None;
    }
    if olds.iter().any(|o| o.status_replicas > 0) {
        return None;
    }
    (new.rs.is_none() || new.replicas != want).then_some(want)
}

/// RollingUpdate: scale the new ReplicaSet up within maxSurge; if it did not change, scale
/// old ones down within maxUnavailable (unhealthy pods first), as upstream's
/// `reconcileNewReplicaSet` and `reconcileOldReplicaSets`.
fn rolling(d: &CachedDeployment, want: i32, new: &View, olds: &mut [View]) -> Option<i32> {
    let (surge, max_unavailable) = fenceposts(d);
    let current: i32 = new.replicas + olds.iter().map(|o| o.replicas).sum::<i32>();
    let new_target = if new.replicas > want {
        Some(want)
    } else if new.replicas < want {
        let max_total = want + surge;
        if current >= max_total {
            None
        } else {
            let up = (max_total - current).min(want - new.replicas);
            Some(new.replicas + up)
        }
    } else {
        None
    };
    if new_target.is_some_and(|t| t != new.replicas) || (new.rs.is_none() && new_target.is_some()) {
        return new_target;
    }
    if new.rs.is_none() {
        // The new ReplicaSet must exist before old ones shrink (even at zero replicas).
        return Some(0);
    }

    let old_total: i32 = olds.iter().map(|o| o.replicas).sum();
    if old_total == 0 {
        return None;
    }
    let all = current;
    let min_available = want - max_unavailable;
    let new_unavailable = new.replicas - new.available;
    let max_scaled_down = all - min_available - new_unavailable;
    if max_scaled_down <= 0 {
        return None;
    }
    // Unhealthy replicas of old ReplicaSets go first: they serve nothing.
    let mut cleaned = 0;
    for o in olds.iter_mut() {
        if cleaned >= max_scaled_down {
            break;
        }
        let unhealthy = o.replicas - o.available;
        if o.replicas == 0 || unhealthy <= 0 {
            continue;
        }
        let down = (max_scaled_down - cleaned).min(unhealthy);
        o.replicas -= down;
        cleaned += down;
    }
    // Then healthy ones, while availability stays at or above the minimum.
    let available: i32 = new.available + olds.iter().map(|o| o.available).sum::<i32>();
    if available > min_available {
        let total = available - min_available;
        let mut done = 0;
        for o in olds.iter_mut() {
            if done >= total {
                break;
            }
            if o.replicas == 0 {
                continue;
            }
            let down = o.replicas.min(total - done);
            o.replicas -= down;
            done += down;
        }
    }
    None
}

/// Old ReplicaSets beyond `revisionHistoryLimit` that have no pods left, oldest revision first.
fn cleanup(d: &CachedDeployment, olds: &[&CachedReplicaSet]) -> Vec<Step> {
    let limit = d
        .spec
        .as_ref()
        .and_then(|s| s.revision_history_limit)
        .unwrap_or(10)
        .max(0) as usize;
    if olds.len() <= limit {
        return Vec::new();
    }
    let mut candidates: Vec<&&CachedReplicaSet> = olds
        .iter()
        .filter(|rs| {
            rs_replicas(rs) == 0
                && rs_status(rs).0 == 0
                && rs.metadata.deletion_timestamp.is_none()
                && rs.status.as_ref().and_then(|s| s.observed_generation) >= rs.metadata.generation
        })
        .collect();
    candidates.sort_by_key(|rs| revision_of(rs));
    candidates
        .into_iter()
        .take(olds.len() - limit)
        .map(|rs| Step::Delete {
            name: rs.metadata.name.clone().unwrap_or_default(),
        })
        .collect()
}

/// Upstream `DeploymentComplete`.
fn complete(d: &CachedDeployment, s: &DeploymentStatus) -> bool {
    let want = replicas(d);
    s.updated_replicas == Some(want)
        && s.replicas == Some(want)
        && s.available_replicas == Some(want)
        && s.observed_generation >= d.metadata.generation
}

fn status(
    d: &CachedDeployment,
    new: &View,
    olds: &[View],
    created: bool,
    now: Timestamp,
) -> DeploymentStatus {
    let want = replicas(d);
    let all = std::iter::once(new).chain(olds.iter());
    let (mut replicas, mut ready, mut available) = (0, 0, 0);
    for v in all {
        if let Some(rs) = v.rs {
            let (r, rd, a) = rs_status(rs);
            replicas += r;
            ready += rd;
            available += a;
        }
    }
    let updated = new.rs.map_or(0, |rs| rs_status(rs).0);
    let (_, max_unavailable) = fenceposts(d);
    let old = d.status.clone().unwrap_or_default();
    let mut s = DeploymentStatus {
        replicas: Some(replicas),
        updated_replicas: Some(updated),
        ready_replicas: Some(ready),
        available_replicas: Some(available),
        unavailable_replicas: Some((want - available).max(0)),
        observed_generation: d.metadata.generation,
        collision_count: old.collision_count,
        conditions: None,
        terminating_replicas: None,
    };
    let available_cond = if available >= want - max_unavailable {
        (
            "True",
            "MinimumReplicasAvailable",
            "Deployment has minimum availability.".to_string(),
        )
    } else {
        (
            "False",
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.".to_string(),
        )
    };
    let progressing_cond = if complete(d, &s) && !new.name.is_empty() {
        (
            "True",
            "NewReplicaSetAvailable",
            format!("ReplicaSet \"{}\" has successfully progressed.", new.name),
        )
    } else if created {
        (
            "True",
            "NewReplicaSetCreated",
            format!("Created new replica set \"{}\"", new.name),
        )
    } else if !new.name.is_empty() {
        (
            "True",
            "ReplicaSetUpdated",
            format!("ReplicaSet \"{}\" is progressing.", new.name),
        )
    } else {
        (
            "True",
            "ReplicaSetUpdated",
            "Deployment is progressing.".to_string(),
        )
    };
    let old_conds = old.conditions.unwrap_or_default();
    let mut conds = Vec::new();
    // kubectl prints Progressing after Available when both were set in that order.
    for (type_, (st, reason, msg)) in [
        ("Available", available_cond),
        ("Progressing", progressing_cond),
    ] {
        conds.push(condition(&old_conds, type_, st, reason, msg, now));
    }
    s.conditions = Some(conds);
    s
}

/// A condition keeping its times when nothing about it changed (no status churn).
fn condition(
    old: &[DeploymentCondition],
    type_: &str,
    status: &str,
    reason: &str,
    message: String,
    now: Timestamp,
) -> DeploymentCondition {
    let prev = old.iter().find(|c| c.type_ == type_);
    let same = prev.is_some_and(|c| {
        c.status == status
            && c.reason.as_deref() == Some(reason)
            && c.message.as_deref() == Some(message.as_str())
    });
    if same {
        return prev.cloned().expect("checked above");
    }
    let transition = match prev {
        Some(c) if c.status == status => c.last_transition_time.clone(),
        _ => Some(Time(now)),
    };
    DeploymentCondition {
        type_: type_.to_string(),
        status: status.to_string(),
        reason: Some(reason.to_string()),
        message: Some(message),
        last_update_time: Some(Time(now)),
        last_transition_time: transition,
    }
}
