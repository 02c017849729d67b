//! Scheduling unbound pods: the pure choice over the node cache, then a binding.
//!
//! Binding uses the `pods/binding` subresource, as kube-scheduler does. When the API server
//! does not serve it (404 for the route), it falls back to a merge patch of `spec.nodeName`;
//! if that is refused too (pod spec immutability), the pod gets PodScheduled=False and a
//! FailedScheduling event saying why, and is retried.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use k8s_openapi::api::core::v1::{Binding, Node, ObjectReference, Pod, Taint};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::controller::Action;

use super::events::{Reporter, pod_event, record};
use super::{Ctx, api_code, lock};
use crate::config::SCHEDULER_NAME;
use crate::error::Result;
use crate::node_plan::{MAX_PODS, is_ready};
use crate::pod_cache::CachedPod;
use crate::pod_plan::{EventType, set_condition};
use crate::schedule::{self, NodeFacts, PodNeeds};

/// Retry for pods that fit nowhere, besides the re-trigger on every node change.
const UNSCHEDULABLE_RETRY: Duration = Duration::from_secs(60);
const BIND_RETRY: Duration = Duration::from_secs(10);

#[derive(Default)]
pub(super) struct State {
    /// What scheduling reads of each node, with the node generation it was built at: rebuilt
    /// only when a node's scheduling fingerprint changes, not per pod (at 5,000 nodes, building
    /// it for every pod was a quarter of the server's CPU).
    nodes: Option<(u64, Vec<NodeStatics>)>,
    /// Pods bound by us that the cache does not show bound yet (kube-scheduler's "assumed"
    /// pods), so that back-to-back choices spread.
    assumed: HashMap<String, String>,
    /// The last FailedScheduling message per pod, so a retry that fails the same way does not
    /// record the event again.
    failures: HashMap<String, String>,
}

/// `pods/binding` answered 404 for the route: use the merge-patch fallback from then on.
static BINDING_UNSERVED: AtomicBool = AtomicBool::new(false);

pub(super) async fn schedule(pod: &CachedPod, ctx: &Ctx) -> Result<Action> {
    let Some(spec) = pod.spec.as_ref() else {
        return Ok(Action::await_change());
    };
    let ours = spec
        .scheduler_name
        .as_deref()
        .is_none_or(|n| n == SCHEDULER_NAME);
    let gated = spec
        .scheduling_gates
        .as_ref()
        .is_some_and(|g| !g.is_empty());
    let finished = matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded" | "Failed")
    );
    if !ours || gated || finished || pod.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let uid = pod.uid().unwrap_or_default();
    let choice = choose(pod, &uid, ctx);
    match choice {
        Ok(node) => match bind(pod, &node, ctx).await {
            Ok(()) => {
                lock(&ctx.scheduler).failures.remove(&uid);
                let ev = pod_event(
                    EventType::Normal,
                    "Scheduled",
                    format!(
                        "Successfully assigned {}/{} to {node}",
                        pod.namespace().unwrap_or_default(),
                        pod.name_any()
                    ),
                );
                record(&ctx.client, pod, &Reporter::scheduler(), &ev).await;
                Ok(Action::await_change())
            }
            Err(e) => {
                lock(&ctx.scheduler).assumed.remove(&uid);
                if api_code(&e) == Some(409) {
                    // Bound meanwhile (by someone else): the watch brings it back to us.
                    return Ok(Action::await_change());
                }
                if api_code(&e).is_none() {
                    return Err(e.into());
                }
                tracing::warn!(pod = %pod.name_any(), %node, error = %e, "binding rejected");
                let message = format!("Binding rejected: {}", api_message(&e));
                unschedulable(pod, &uid, "SchedulerError", &message, ctx).await?;
                Ok(Action::requeue(BIND_RETRY))
            }
        },
        Err(no_fit) => {
            unschedulable(pod, &uid, "Unschedulable", &no_fit.message, ctx).await?;
            Ok(Action::requeue(UNSCHEDULABLE_RETRY))
        }
    }
}

/// The pure choice over the caches, assuming the result until the cache shows the binding.
fn choose(pod: &CachedPod, uid: &str, ctx: &Ctx) -> Result<String, schedule::Unschedulable> {
    let mut state = lock(&ctx.scheduler);
    let State {
        nodes,
        assumed: assumed_by_uid,
        failures,
    } = &mut *state;
    let index = lock(&ctx.index);
    // Assumed bindings count until the cache shows the pod bound (or gone).
    assumed_by_uid.retain(|uid, _| index.is_unbound(uid));
    failures.retain(|uid, _| index.exists(uid));
    let mut assumed: HashMap<&str, usize> = HashMap::new();
    for (assumed_uid, node) in assumed_by_uid.iter() {
        if assumed_uid != uid {
            *assumed.entry(node.as_str()).or_default() += 1;
        }
    }
    let counts = |node: &str| index.pods_on(node) + assumed.get(node).copied().unwrap_or(0);

    // Read before the cache: a change landing in between bumps it again.
    let generation = ctx.node_generation.load(Ordering::Acquire);
    if nodes.as_ref().is_none_or(|(built, _)| *built != generation) {
        let statics = ctx
            .nodes
            .state()
            .iter()
            .map(|n| NodeStatics::of(n))
            .collect();
        *nodes = Some((generation, statics));
    }
    let facts: Vec<NodeFacts<'_>> = nodes
        .iter()
        .flat_map(|(_, statics)| statics)
        .map(|n| NodeFacts {
            name: &n.name,
            labels: &n.labels,
            ready: n.ready,
            unschedulable: n.unschedulable,
            taints: &n.taints,
            pods: counts(&n.name),
            max_pods: n.max_pods,
        })
        .collect();
    let spec = pod.spec.as_ref();
    let needs = PodNeeds {
        node_selector: spec.and_then(|s| s.node_selector.as_ref()),
        tolerations: spec
            .and_then(|s| s.tolerations.as_deref())
            .unwrap_or_default(),
    };
    let choice = schedule::choose(&needs, &facts);
    if let Ok(node) = &choice {
        assumed_by_uid.insert(uid.to_string(), node.clone());
    }
    choice
}

/// A node as scheduling sees it, apart from its pod count.
struct NodeStatics {
    name: String,
    labels: BTreeMap<String, String>,
    ready: bool,
    unschedulable: bool,
    taints: Vec<Taint>,
    /// `status.allocatable.pods`.
    max_pods: usize,
}

impl NodeStatics {
    fn of(n: &Node) -> NodeStatics {
        let spec = n.spec.as_ref();
        NodeStatics {
            name: n.metadata.name.clone().unwrap_or_default(),
            labels: n.metadata.labels.clone().unwrap_or_default(),
            ready: is_ready(n),
            unschedulable: spec.and_then(|s| s.unschedulable).unwrap_or(false),
            taints: spec.and_then(|s| s.taints.clone()).unwrap_or_default(),
            max_pods: n
                .status
                .as_ref()
                .and_then(|s| s.allocatable.as_ref())
                .and_then(|a| a.get("pods"))
                .and_then(|q| q.0.parse().ok())
                .unwrap_or(MAX_PODS),
        }
    }
}

async fn bind(pod: &CachedPod, node: &str, ctx: &Ctx) -> Result<(), kube::Error> {
    let namespace = pod.namespace().unwrap_or_default();
    let api: Api<Pod> = Api::namespaced(ctx.client.clone(), &namespace);
    let name = pod.name_any();
    if !BINDING_UNSERVED.load(Ordering::Relaxed) {
        let binding = Binding {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                namespace: Some(namespace.clone()),
                uid: pod.uid(),
                ..ObjectMeta::default()
            },
            target: ObjectReference {
                api_version: Some("v1".into()),
                kind: Some("Node".into()),
                name: Some(node.into()),
                ..ObjectReference::default()
            },
        };
        match api
            .create_subresource::<_, serde_json::Value>(
                "binding",
                &name,
                &PostParams::default(),
                &binding,
            )
            .await
        {
            Ok(_) => return Ok(()),
            Err(kube::Error::Api(s))
                if s.code == 404 && s.message.contains("could not find the requested resource") =>
            {
                tracing::info!(
                    "the API server does not serve pods/binding; binding by patching spec.nodeName"
                );
                BINDING_UNSERVED.store(true, Ordering::Relaxed);
            }
            Err(e) => return Err(e),
        }
    }
    let patch = serde_json::json!({"spec": {"nodeName": node}});
    let params = PatchParams {
        field_manager: Some(SCHEDULER_NAME.into()),
        ..PatchParams::default()
    };
    api.patch(&name, &params, &Patch::Merge(&patch)).await?;
    Ok(())
}

/// PodScheduled=False with `reason`/`message`, and a FailedScheduling event when the message is
/// new for this pod.
async fn unschedulable(
    pod: &CachedPod,
    uid: &str,
    reason: &str,
    message: &str,
    ctx: &Ctx,
) -> Result<()> {
    // The cached pod is slim; the status written back must be the whole one.
    let Some(pod) = &ctx.fetch_whole(pod).await? else {
        return Ok(());
    };
    let mut status = pod.status.clone().unwrap_or_default();
    let conditions = status.conditions.get_or_insert_with(Vec::new);
    set_condition(
        conditions,
        "PodScheduled",
        false,
        Some(reason),
        Some(message),
        Timestamp::now(),
    );
    if Some(&status) != pod.status.as_ref() {
        let mut next = pod.clone();
        next.status = Some(status);
        let api: Api<Pod> =
            Api::namespaced(ctx.client.clone(), &pod.namespace().unwrap_or_default());
        match api
            .replace_status(&pod.name_any(), &PostParams::default(), &next)
            .await
        {
            Ok(_) => ctx.note_write(pod),
            // Changed meanwhile: the next reconcile sees the new version.
            Err(e) if matches!(api_code(&e), Some(404 | 409)) => return Ok(()),
            Err(e) => return Err(e.into()),
        }
    }
    let new = lock(&ctx.scheduler)
        .failures
        .insert(uid.to_string(), message.to_string())
        .is_none_or(|old| old != message);
    if new {
        let ev = pod_event(EventType::Warning, "FailedScheduling", message.to_string());
        record(&ctx.client, pod, &Reporter::scheduler(), &ev).await;
    }
    Ok(())
}

fn api_message(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) => s.message.lines().next().unwrap_or_default().to_string(),
        other => other.to_string(),
    }
}
