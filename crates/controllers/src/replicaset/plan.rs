//! What a ReplicaSet needs: pods to create, pods to delete, and its status (pure).

use std::cmp::Reverse;

use k8s_openapi::api::apps::v1::{ReplicaSet, ReplicaSetStatus};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::jiff::Timestamp;

use crate::cached_pod::CachedPod;
use crate::cached_workload::CachedReplicaSet;
use crate::podutil;

/// Most pods created or deleted in one pass (kube-controller-manager's burst replicas).
pub const BURST: usize = 500;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Plan {
    /// How many pods to create from the template.
    pub create: usize,
    /// Names of pods to delete, in order.
    pub delete: Vec<String>,
    pub status: ReplicaSetStatus,
    /// Seconds until a ready pod becomes available (minReadySeconds), to look again then.
    pub recheck_in: Option<i64>,
}

pub fn spec_replicas(rs: &CachedReplicaSet) -> usize {
    rs.spec
        .as_ref()
        .and_then(|s| s.replicas)
        .unwrap_or(1)
        .max(0) as usize
}

fn min_ready_seconds(rs: &CachedReplicaSet) -> i32 {
    rs.spec
        .as_ref()
        .and_then(|s| s.min_ready_seconds)
        .unwrap_or(0)
}

/// `pods`: the pods this ReplicaSet controls (by controller ownerReference).
pub fn plan(rs: &CachedReplicaSet, pods: &[&CachedPod], now: Timestamp) -> Plan {
    let active: Vec<&CachedPod> = pods
        .iter()
        .copied()
        .filter(|p| podutil::is_active(p))
        .collect();
    let want = spec_replicas(rs);
    let mut plan = Plan {
        status: status(rs, &active, now),
        ..Plan::default()
    };
    if rs.metadata.deletion_timestamp.is_none() {
        if active.len() < want {
            plan.create = (want - active.len()).min(BURST);
        } else if active.len() > want {
            let mut ranked = active.clone();
            ranked.sort_by_key(|p| deletion_rank(p));
            plan.delete = ranked
                .into_iter()
                .take((active.len() - want).min(BURST))
                .filter_map(|p| p.metadata.name.clone())
                .collect();
        }
    }
    let min_ready = min_ready_seconds(rs);
    plan.recheck_in = active
        .iter()
        .filter(|p| podutil::is_ready(p) && !podutil::is_available(p, min_ready, now))
        .filter_map(|p| podutil::ready_since(p))
        .map(|since| since.as_second() + i64::from(min_ready) - now.as_second())
        .min()
        .map(|s| s.max(1));
    plan
}

/// Sort key: pods that cost least to lose come first (upstream `ActivePods` ordering):
/// unscheduled, then Pending/Unknown before Running, not ready before ready, newest first.
fn deletion_rank(p: &CachedPod) -> (bool, u8, bool, Reverse<Option<Timestamp>>, Option<String>) {
    let phase = match podutil::phase(p) {
        "Pending" | "" => 0,
        "Unknown" => 1,
        _ => 2,
    };
    (
        podutil::node_name(p).is_some(),
        phase,
        podutil::is_ready(p),
        Reverse(p.metadata.creation_timestamp.as_ref().map(|t| t.0)),
        p.metadata.name.clone(),
    )
}

/// Status from the active pods, with every count explicit (0 must overwrite an old value).
pub fn status(rs: &CachedReplicaSet, active: &[&CachedPod], now: Timestamp) -> ReplicaSetStatus {
    let template_labels: &[(String, String)] = rs
        .spec
        .as_ref()
        .and_then(|s| s.template.as_ref())
        .map_or(&[], |t| &t.labels);
    let min_ready = min_ready_seconds(rs);
    let count = |f: &dyn Fn(&CachedPod) -> bool| active.iter().filter(|p| f(p)).count() as i32;
    ReplicaSetStatus {
        replicas: active.len() as i32,
        fully_labeled_replicas: Some(count(&|p| {
            let labels = podutil::labels(&p.metadata);
            template_labels
                .iter()
                .all(|(k, v)| labels.get(k) == Some(v))
        })),
        ready_replicas: Some(count(&podutil::is_ready)),
        available_replicas: Some(count(&|p| podutil::is_available(p, min_ready, now))),
        observed_generation: rs.metadata.generation,
        conditions: rs.status.as_ref().and_then(|s| s.conditions.clone()),
        terminating_replicas: None,
    }
}

/// A new pod from the ReplicaSet's template, named by the API server (`<rs>-<5 chars>`).
pub fn pod_from_template(rs: &ReplicaSet) -> Pod {
    let template = rs
        .spec
        .as_ref()
        .and_then(|s| s.template.clone())
        .unwrap_or_default();
    let tmeta = template.metadata.unwrap_or_default();
    Pod {
        metadata: ObjectMeta {
            generate_name: Some(format!("{}-", rs.metadata.name.as_deref().unwrap_or(""))),
            namespace: rs.metadata.namespace.clone(),
            labels: tmeta.labels,
            annotations: tmeta.annotations,
            finalizers: tmeta.finalizers,
            owner_references: Some(vec![podutil::owner_ref(
                "apps/v1",
                "ReplicaSet",
                &rs.metadata,
            )]),
            ..ObjectMeta::default()
        },
        spec: template.spec,
        status: None,
    }
}
