//! The simulated kubelet's pod state machine, pure: from a bound pod, facts about its node and
//! the time, the status to write next, the events to record, whether to remove the pod and when
//! to look again. Every step starts from the stored status, so re-running it (after a restart,
//! a relist, a lost write) gives the same answer and unchanged pods get no write.
//!
//! Pending (IP, hostIP, startTime; containers ContainerCreating) → after the start delay Running
//! (containers running and ready unless `svcplane.dev/ready: "false"` or a readinessProbe's
//! initialDelaySeconds has not passed) → on deletion, containers terminated and, after
//! min(grace period, stop delay), removal with gracePeriodSeconds=0.

use std::time::Duration;

use k8s_openapi::api::core::v1::{
    ContainerState, ContainerStateRunning, ContainerStateTerminated, ContainerStateWaiting,
    ContainerStatus, HostIP, Pod, PodCondition, PodIP, PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::{SignedDuration, Timestamp};

use crate::config::POD_READY_ANNOTATION;

/// What the kubelet knows beside the pod.
#[derive(Debug, Clone)]
pub struct PodEnv<'a> {
    pub node_name: &'a str,
    /// The node's InternalIP.
    pub host_ip: &'a str,
    pub node_ready: bool,
    /// The pod's address: the stored `status.podIP`, else a fresh allocation (`None`: the
    /// node's range is full).
    pub pod_ip: Option<String>,
    pub now: Timestamp,
    pub start_delay: Duration,
    pub stop_delay: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Normal,
    Warning,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Normal => "Normal",
            EventType::Warning => "Warning",
        }
    }
}

/// An Event about the pod to record once the status write succeeded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodEvent {
    pub type_: EventType,
    pub reason: &'static str,
    pub message: String,
    /// `spec.containers{name}` for container events.
    pub field_path: Option<String>,
}

/// The next step for one pod.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    /// Write this status (only present when it differs from the stored one).
    pub status: Option<PodStatus>,
    pub events: Vec<PodEvent>,
    /// Remove the pod now (gracePeriodSeconds=0, precondition on its uid).
    pub delete: bool,
    /// Look at the pod again after this long even if nothing changes.
    pub requeue: Option<Duration>,
}

const CONDITION_ORDER: [&str; 5] = [
    "PodReadyToStartContainers",
    "Initialized",
    "Ready",
    "ContainersReady",
    "PodScheduled",
];

/// The next step for `pod`, bound to `env.node_name`.
pub fn plan(pod: &Pod, env: &PodEnv<'_>) -> Plan {
    let current = pod.status.clone().unwrap_or_default();
    if pod.metadata.deletion_timestamp.is_some() {
        return terminating(pod, &current, env);
    }
    if matches!(current.phase.as_deref(), Some("Succeeded" | "Failed")) {
        return Plan::default();
    }
    let accepted = current.pod_ip.is_some() && current.start_time.is_some();
    let mut next = current.clone();
    let mut events = Vec::new();
    let mut requeue = None;
    if !accepted {
        let Some(ip) = env.pod_ip.clone() else {
            return Plan {
                events: vec![PodEvent {
                    type_: EventType::Warning,
                    reason: "FailedCreatePodSandBox",
                    message: format!(
                        "Failed to create pod sandbox: no IP addresses available in the pod CIDR of node {}",
                        env.node_name
                    ),
                    field_path: None,
                }],
                requeue: Some(Duration::from_secs(30)),
                ..Plan::default()
            };
        };
        next.phase = Some("Pending".into());
        next.host_ip = Some(env.host_ip.to_string());
        next.host_ips = Some(vec![HostIP {
            ip: env.host_ip.to_string(),
        }]);
        next.pod_ip = Some(ip.clone());
        next.pod_ips = Some(vec![PodIP { ip }]);
        next.start_time = Some(Time(env.now));
        for c in containers(pod) {
            events.push(container_event(
                "Pulling",
                &c.name,
                format!("Pulling image {:?}", image(c)),
            ));
            events.push(container_event(
                "Pulled",
                &c.name,
                format!(
                    "Successfully pulled image {:?} in 0s (0s including waiting). Image size: 0 bytes.",
                    image(c)
                ),
            ));
        }
    }
    let running = next.phase.as_deref() == Some("Running");
    if !running {
        let started = next.start_time.as_ref().map_or(env.now, |t| t.0);
        let due = add(started, env.start_delay);
        if env.now < due {
            requeue = Some(until(env.now, due));
        } else {
            next.phase = Some("Running".into());
            for c in containers(pod) {
                events.push(container_event(
                    "Created",
                    &c.name,
                    format!("Created container: {}", c.name),
                ));
                events.push(container_event(
                    "Started",
                    &c.name,
                    format!("Started container {}", c.name),
                ));
            }
        }
    }
    let probe_requeue = set_containers_and_conditions(pod, &mut next, env);
    requeue = min_opt(requeue, probe_requeue);
    Plan {
        status: (next != current).then_some(next),
        events,
        delete: false,
        requeue,
    }
}

/// Deleted pod: stop the containers, then remove it after min(grace period, stop delay) from
/// the deletion request (deletionTimestamp − deletionGracePeriodSeconds).
fn terminating(pod: &Pod, current: &PodStatus, env: &PodEnv<'_>) -> Plan {
    let meta = &pod.metadata;
    let grace = meta.deletion_grace_period_seconds.unwrap_or(0).max(0);
    let deadline = meta.deletion_timestamp.as_ref().map_or(env.now, |t| t.0);
    let requested = deadline - SignedDuration::from_secs(grace);
    let wait = env
        .stop_delay
        .min(Duration::from_secs(grace.unsigned_abs()));
    let due = add(requested, wait);
    if env.now >= due || current.pod_ip.is_none() {
        // Time is up, or the pod never started: nothing to stop.
        return Plan {
            delete: true,
            ..Plan::default()
        };
    }
    let mut next = current.clone();
    let mut events = Vec::new();
    let statuses = next.container_statuses.get_or_insert_with(Vec::new);
    for s in statuses.iter_mut() {
        if s.state.as_ref().is_some_and(|st| st.terminated.is_some()) {
            continue;
        }
        let started_at = s
            .state
            .as_ref()
            .and_then(|st| st.running.as_ref())
            .and_then(|r| r.started_at.clone());
        events.push(container_event(
            "Killing",
            &s.name,
            format!("Stopping container {}", s.name),
        ));
        s.state = Some(ContainerState {
            terminated: Some(ContainerStateTerminated {
                exit_code: 0,
                reason: Some("Completed".into()),
                started_at,
                finished_at: Some(Time(env.now)),
                container_id: s.container_id.clone(),
                ..ContainerStateTerminated::default()
            }),
            ..ContainerState::default()
        });
        s.ready = false;
        s.started = Some(false);
    }
    let names: Vec<String> = statuses.iter().map(|s| s.name.clone()).collect();
    let conditions = next.conditions.get_or_insert_with(Vec::new);
    let message = format!("containers with unready status: [{}]", names.join(" "));
    set_condition(
        conditions,
        "ContainersReady",
        false,
        Some("ContainersNotReady"),
        Some(&message),
        env.now,
    );
    set_condition(
        conditions,
        "Ready",
        false,
        Some("ContainersNotReady"),
        Some(&message),
        env.now,
    );
    Plan {
        status: (next != *current).then_some(next),
        events,
        delete: false,
        requeue: Some(until(env.now, due)),
    }
}

/// Container statuses and pod conditions for the pod's phase; returns when a readinessProbe's
/// initial delay ends, if one is still pending.
fn set_containers_and_conditions(
    pod: &Pod,
    status: &mut PodStatus,
    env: &PodEnv<'_>,
) -> Option<Duration> {
    let running = status.phase.as_deref() == Some("Running");
    let annotation_ready = pod
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(POD_READY_ANNOTATION))
        .is_none_or(|v| v != "false");
    let uid = pod.metadata.uid.as_deref().unwrap_or_default();
    let previous = status.container_statuses.take().unwrap_or_default();
    let mut wake = None;
    let mut statuses = Vec::new();
    for c in containers(pod) {
        let prev = previous.iter().find(|s| s.name == c.name);
        let prev_started_at = prev
            .and_then(|s| s.state.as_ref())
            .and_then(|st| st.running.as_ref())
            .and_then(|r| r.started_at.clone());
        let (state, ready) = if running {
            let started_at = prev_started_at.unwrap_or(Time(env.now));
            let ready_at = add(
                started_at.0,
                Duration::from_secs(
                    c.readiness_probe
                        .as_ref()
                        .and_then(|p| p.initial_delay_seconds)
                        .unwrap_or(0)
                        .max(0)
                        .unsigned_abs()
                        .into(),
                ),
            );
            if env.now < ready_at {
                wake = min_opt(wake, Some(until(env.now, ready_at)));
            }
            let state = ContainerState {
                running: Some(ContainerStateRunning {
                    started_at: Some(started_at),
                }),
                ..ContainerState::default()
            };
            (state, annotation_ready && env.now >= ready_at)
        } else {
            let state = ContainerState {
                waiting: Some(ContainerStateWaiting {
                    reason: Some("ContainerCreating".into()),
                    message: None,
                }),
                ..ContainerState::default()
            };
            (state, false)
        };
        statuses.push(ContainerStatus {
            name: c.name.clone(),
            image: image(c).to_string(),
            image_id: if running {
                image_id(image(c))
            } else {
                String::new()
            },
            container_id: running.then(|| container_id(uid, &c.name)),
            ready,
            started: Some(running),
            restart_count: 0,
            state: Some(state),
            ..prev.cloned().unwrap_or_default()
        });
    }
    let unready: Vec<&str> = statuses
        .iter()
        .filter(|s| !s.ready)
        .map(|s| s.name.as_str())
        .collect();
    let containers_ready = running && unready.is_empty();
    let unready_message = format!("containers with unready status: [{}]", unready.join(" "));
    status.container_statuses = Some(statuses);

    let conditions = status.conditions.get_or_insert_with(Vec::new);
    let now = env.now;
    set_condition(conditions, "PodScheduled", true, None, None, now);
    set_condition(
        conditions,
        "PodReadyToStartContainers",
        true,
        None,
        None,
        now,
    );
    set_condition(conditions, "Initialized", true, None, None, now);
    if containers_ready {
        set_condition(conditions, "ContainersReady", true, None, None, now);
    } else {
        set_condition(
            conditions,
            "ContainersReady",
            false,
            Some("ContainersNotReady"),
            Some(&unready_message),
            now,
        );
    }
    if !containers_ready {
        set_condition(
            conditions,
            "Ready",
            false,
            Some("ContainersNotReady"),
            Some(&unready_message),
            now,
        );
    } else if !env.node_ready {
        let message = format!("node {} is not ready", env.node_name);
        set_condition(
            conditions,
            "Ready",
            false,
            Some("NodeNotReady"),
            Some(&message),
            now,
        );
    } else {
        set_condition(conditions, "Ready", true, None, None, now);
    }
    sort_conditions(conditions);
    wake
}

/// Set a condition, keeping `lastTransitionTime` unless its status flips.
pub fn set_condition(
    conditions: &mut Vec<PodCondition>,
    type_: &str,
    value: bool,
    reason: Option<&str>,
    message: Option<&str>,
    now: Timestamp,
) {
    let status = if value { "True" } else { "False" };
    let fresh = PodCondition {
        type_: type_.into(),
        status: status.into(),
        reason: reason.map(Into::into),
        message: message.map(Into::into),
        last_transition_time: Some(Time(now)),
        ..PodCondition::default()
    };
    match conditions.iter_mut().find(|c| c.type_ == type_) {
        Some(c) if c.status == status => {
            c.reason = fresh.reason;
            c.message = fresh.message;
        }
        Some(c) => *c = fresh,
        None => conditions.push(fresh),
    }
}

/// kubelet's condition order; conditions others own (readiness gates…) keep theirs, after ours.
fn sort_conditions(conditions: &mut [PodCondition]) {
    conditions.sort_by_key(|c| {
        CONDITION_ORDER
            .iter()
            .position(|t| *t == c.type_)
            .unwrap_or(CONDITION_ORDER.len())
    });
}

fn containers(pod: &Pod) -> &[k8s_openapi::api::core::v1::Container] {
    pod.spec.as_ref().map_or(&[], |s| &s.containers[..])
}

fn container_event(reason: &'static str, container: &str, message: String) -> PodEvent {
    PodEvent {
        type_: EventType::Normal,
        reason,
        message,
        field_path: Some(format!("spec.containers{{{container}}}")),
    }
}

fn image(c: &k8s_openapi::api::core::v1::Container) -> &str {
    c.image.as_deref().unwrap_or_default()
}

/// A registry-qualified image reference with a stable fake digest, like containerd reports
/// (`docker.io/library/nginx@sha256:…`).
pub fn image_id(image: &str) -> String {
    let repo = image.split('@').next().unwrap_or(image);
    let repo = match repo.rsplit_once(':') {
        Some((r, tag)) if !tag.contains('/') => r,
        _ => repo,
    };
    let first = repo.split('/').next().unwrap_or_default();
    let qualified = if !repo.contains('/') {
        format!("docker.io/library/{repo}")
    } else if first.contains('.') || first.contains(':') || first == "localhost" {
        repo.to_string()
    } else {
        format!("docker.io/{repo}")
    };
    format!("{qualified}@sha256:{}", hex64(image))
}

/// `svcplane://` and a stable 64-hex id per pod and container.
pub fn container_id(pod_uid: &str, container: &str) -> String {
    format!("svcplane://{}", hex64(&format!("{pod_uid}/{container}")))
}

/// 64 hex digits derived from `text` (FNV-1a in four lanes; not cryptographic, just stable).
fn hex64(text: &str) -> String {
    (0u64..4)
        .map(|lane| {
            let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ lane;
            for b in text.bytes() {
                h ^= u64::from(b);
                h = h.wrapping_mul(0x0000_0100_0000_01b3);
            }
            format!("{h:016x}")
        })
        .collect()
}

fn add(t: Timestamp, d: Duration) -> Timestamp {
    t.checked_add(SignedDuration::try_from(d).unwrap_or(SignedDuration::MAX))
        .unwrap_or(Timestamp::MAX)
}

fn until(now: Timestamp, due: Timestamp) -> Duration {
    Duration::try_from(due.duration_since(now)).unwrap_or(Duration::ZERO)
}

fn min_opt(a: Option<Duration>, b: Option<Duration>) -> Option<Duration> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
#[path = "pod_plan_tests.rs"]
mod tests;
