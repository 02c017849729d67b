//! What a StatefulSet needs: pods `<name>-<ordinal>` to create or delete, and its status (pure).
//!
//! OrderedReady (default) creates ordinal i only when 0..i are Running and Ready and removes
//! the highest ordinal first, one at a time; Parallel creates and removes all at once. A
//! template change replaces pods from the highest ordinal down, one at a time, once all are
//! Ready (RollingUpdate).

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetStatus};
use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::jiff::Timestamp;

use crate::cached_pod::CachedPod;
use crate::cached_workload::CachedStatefulSet;
use crate::deployment::hash::{hash_from, template_fnv};
use crate::podutil;

pub const POD_NAME_LABEL: &str = "statefulset.kubernetes.io/pod-name";
pub const POD_INDEX_LABEL: &str = "apps.kubernetes.io/pod-index";
pub const REVISION_LABEL: &str = "controller-revision-hash";

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Plan {
    /// Ordinals of the pods to create ([`new_pod`]), in order.
    pub create: Vec<i32>,
    pub delete: Vec<String>,
    pub status: StatefulSetStatus,
}

fn name(ss: &CachedStatefulSet) -> &str {
    ss.metadata.name.as_deref().unwrap_or("")
}

pub fn replicas(ss: &CachedStatefulSet) -> i32 {
    ss.spec
        .as_ref()
        .and_then(|s| s.replicas)
        .unwrap_or(1)
        .max(0)
}

fn parallel(ss: &CachedStatefulSet) -> bool {
    ss.spec
        .as_ref()
        .and_then(|s| s.pod_management_policy.as_deref())
        == Some("Parallel")
}

fn on_delete(ss: &CachedStatefulSet) -> bool {
    ss.spec
        .as_ref()
        .and_then(|s| s.update_strategy.as_ref())
        .and_then(|s| s.type_.as_deref())
        == Some("OnDelete")
}

/// `<name>-<hash of the template>`, as a ControllerRevision name would be.
pub fn update_revision(ss: &CachedStatefulSet) -> String {
    let fnv = match &ss.spec {
        Some(s) => s.template.fnv,
        None => template_fnv(&PodTemplateSpec::default()),
    };
    format!("{}-{}", name(ss), hash_from(fnv, None))
}

/// The ordinal of a pod named `<set>-<n>`.
pub fn ordinal(set: &str, pod: &str) -> Option<i32> {
    pod.strip_prefix(set)?.strip_prefix('-')?.parse().ok()
}

fn revision_of(p: &CachedPod) -> Option<&str> {
    podutil::labels(&p.metadata)
        .get(REVISION_LABEL)
        .map(String::as_str)
}

fn healthy(p: &CachedPod) -> bool {
    podutil::phase(p) == "Running" && podutil::is_ready(p) && !podutil::is_terminating(&p.metadata)
}

/// `pods`: the pods the StatefulSet controls.
pub fn plan(ss: &CachedStatefulSet, pods: &[&CachedPod], now: Timestamp) -> Plan {
    let want = replicas(ss);
    let set = name(ss);
    let revision = update_revision(ss);
    let by_ordinal: BTreeMap<i32, &CachedPod> = pods
        .iter()
        .filter_map(|p| Some((ordinal(set, p.metadata.name.as_deref()?)?, *p)))
        .collect();
    let mut plan = Plan {
        status: status(ss, &by_ordinal, &revision, now),
        ..Plan::default()
    };
    if ss.metadata.deletion_timestamp.is_some() {
        return plan;
    }
    // Failed or succeeded pods are replaced: delete now, recreate on a later pass.
    for p in by_ordinal
        .values()
        .filter(|p| podutil::is_terminal(p) && !podutil::is_terminating(&p.metadata))
    {
        plan.delete.extend(p.metadata.name.clone());
    }
    if !plan.delete.is_empty() {
        return plan;
    }
    let ordered = !parallel(ss);
    for i in 0..want {
        match by_ordinal.get(&i) {
            None => {
                plan.create.push(i);
                if ordered {
                    return plan;
                }
            }
            Some(p) if ordered && !healthy(p) => return plan,
            Some(_) => {}
        }
    }
    if !plan.create.is_empty() {
        return plan;
    }
    // Condemned pods (ordinal ≥ replicas), highest first.
    let condemned: Vec<&CachedPod> = by_ordinal.range(want..).rev().map(|(_, p)| *p).collect();
    if !condemned.is_empty() {
        if ordered {
            let all_healthy = by_ordinal.values().all(|p| healthy(p));
            if all_healthy && let Some(p) = condemned.first() {
                plan.delete.extend(p.metadata.name.clone());
            }
        } else {
            plan.delete.extend(
                condemned
                    .iter()
                    .filter(|p| !podutil::is_terminating(&p.metadata))
                    .filter_map(|p| p.metadata.name.clone()),
            );
        }
        return plan;
    }
    // RollingUpdate: replace the highest outdated pod once every pod is healthy.
    if !on_delete(ss) && by_ordinal.values().all(|p| healthy(p)) {
        let outdated = by_ordinal
            .range(..want)
            .rev()
            .find(|(_, p)| revision_of(p) != Some(revision.as_str()));
        if let Some((_, p)) = outdated {
            plan.delete.extend(p.metadata.name.clone());
        }
    }
    plan
}

fn status(
    ss: &CachedStatefulSet,
    pods: &BTreeMap<i32, &CachedPod>,
    revision: &str,
    now: Timestamp,
) -> StatefulSetStatus {
    let min_ready = ss
        .spec
        .as_ref()
        .and_then(|s| s.min_ready_seconds)
        .unwrap_or(0);
    let active: Vec<&CachedPod> = pods
        .values()
        .copied()
        .filter(|p| podutil::is_active(p))
        .collect();
    let old = ss.status.clone().unwrap_or_default();
    let updated = active
        .iter()
        .filter(|p| revision_of(p) == Some(revision))
        .count() as i32;
    let current_revision = match old.current_revision {
        Some(r) if updated < active.len() as i32 || updated < replicas(ss) => r,
        _ => revision.to_string(),
    };
    let current = active
        .iter()
        .filter(|p| revision_of(p) == Some(current_revision.as_str()))
        .count() as i32;
    StatefulSetStatus {
        replicas: active.len() as i32,
        ready_replicas: Some(active.iter().filter(|p| podutil::is_ready(p)).count() as i32),
        available_replicas: Some(
            active
                .iter()
                .filter(|p| podutil::is_available(p, min_ready, now))
                .count() as i32,
        ),
        current_replicas: Some(current),
        updated_replicas: Some(updated),
        current_revision: Some(current_revision),
        update_revision: Some(revision.to_string()),
        observed_generation: ss.metadata.generation,
        collision_count: old.collision_count,
        conditions: old.conditions,
    }
}

/// Pod `<set>-<ordinal>`: the template, its identity labels, and a DNS hostname under the
/// governing Service (`hostname` = pod name, `subdomain` = `serviceName`).
pub fn new_pod(ss: &StatefulSet, i: i32, revision: &str) -> Pod {
    let spec = ss.spec.clone().unwrap_or_default();
    let template = spec.template;
    let tmeta = template.metadata.unwrap_or_default();
    let pod_name = format!("{}-{i}", ss.metadata.name.as_deref().unwrap_or(""));
    let mut labels = tmeta.labels.unwrap_or_default();
    labels.insert(POD_NAME_LABEL.into(), pod_name.clone());
    labels.insert(POD_INDEX_LABEL.into(), i.to_string());
    labels.insert(REVISION_LABEL.into(), revision.to_string());
    let mut pod_spec = template.spec.unwrap_or_default();
    pod_spec.hostname = Some(pod_name.clone());
    pod_spec.subdomain = spec.service_name.filter(|s| !s.is_empty());
    Pod {
        metadata: ObjectMeta {
            name: Some(pod_name),
            namespace: ss.metadata.namespace.clone(),
            labels: Some(labels),
            annotations: tmeta.annotations,
            owner_references: Some(vec![podutil::owner_ref(
                "apps/v1",
                "StatefulSet",
                &ss.metadata,
            )]),
            ..ObjectMeta::default()
        },
        spec: Some(pod_spec),
        status: None,
    }
}
