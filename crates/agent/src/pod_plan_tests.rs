//! Table-driven tests of the pod state machine: each case starts from a pod at some stage and
//! checks the next plan.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, PodSpec, Probe};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::*;

fn t0() -> Timestamp {
    "2025-01-01T00:00:00Z".parse().unwrap()
}

fn at(secs: i64) -> Timestamp {
    t0() + SignedDuration::from_secs(secs)
}

fn pod() -> Pod {
    Pod {
        metadata: ObjectMeta {
            name: Some("web".into()),
            namespace: Some("default".into()),
            uid: Some("uid-1".into()),
            ..ObjectMeta::default()
        },
        spec: Some(PodSpec {
            node_name: Some("node-1".into()),
            containers: vec![Container {
                name: "nginx".into(),
                image: Some("nginx".into()),
                ..Container::default()
            }],
            ..PodSpec::default()
        }),
        status: Some(PodStatus {
            phase: Some("Pending".into()),
            qos_class: Some("BestEffort".into()),
            ..PodStatus::default()
        }),
    }
}

fn env(now: Timestamp, start_delay_ms: u64) -> PodEnv<'static> {
    PodEnv {
        node_name: "node-1",
        host_ip: "172.18.0.2",
        node_ready: true,
        pod_ip: Some("10.244.1.2".into()),
        now,
        start_delay: Duration::from_millis(start_delay_ms),
        stop_delay: Duration::from_secs(1),
    }
}

/// The pod after its plan's status write.
fn apply(mut pod: Pod, plan: &Plan) -> Pod {
    if let Some(status) = &plan.status {
        pod.status = Some(status.clone());
    }
    pod
}

fn reasons(plan: &Plan) -> Vec<&'static str> {
    plan.events.iter().map(|e| e.reason).collect()
}

fn condition(pod: &Pod, type_: &str) -> (String, Option<String>, Option<Timestamp>) {
    let c = pod
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.type_ == type_))
        .unwrap_or_else(|| panic!("no {type_} condition"));
    (
        c.status.clone(),
        c.reason.clone(),
        c.last_transition_time.as_ref().map(|t| t.0),
    )
}

fn container_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .unwrap()
        .container_statuses
        .as_ref()
        .unwrap()[0]
        .ready
}

fn phase(pod: &Pod) -> &str {
    pod.status.as_ref().unwrap().phase.as_deref().unwrap()
}

fn annotate(mut pod: Pod, key: &str, value: &str) -> Pod {
    pod.metadata
        .annotations
        .get_or_insert_with(BTreeMap::new)
        .insert(key.into(), value.into());
    pod
}

fn running() -> Pod {
    let p = pod();
    let plan = plan(&p, &env(t0(), 0));
    apply(p, &plan)
}

fn deleting(pod: Pod, grace: i64, requested: Timestamp) -> Pod {
    let mut pod = pod;
    pod.metadata.deletion_grace_period_seconds = Some(grace);
    pod.metadata.deletion_timestamp = Some(Time(requested + SignedDuration::from_secs(grace)));
    pod
}

#[test]
fn start_without_delay_goes_straight_to_running() {
    let p = pod();
    let plan = plan(&p, &env(t0(), 0));
    assert_eq!(reasons(&plan), ["Pulling", "Pulled", "Created", "Started"]);
    assert_eq!(plan.requeue, None);
    let p = apply(p, &plan);
    let s = p.status.as_ref().unwrap();
    assert_eq!(s.phase.as_deref(), Some("Running"));
    assert_eq!(s.pod_ip.as_deref(), Some("10.244.1.2"));
    assert_eq!(s.pod_ips.as_ref().unwrap()[0].ip, "10.244.1.2");
    assert_eq!(s.host_ip.as_deref(), Some("172.18.0.2"));
    assert_eq!(s.start_time, Some(Time(t0())));
    assert_eq!(
        s.qos_class.as_deref(),
        Some("BestEffort"),
        "kept from the server"
    );
    let types: Vec<&str> = s
        .conditions
        .as_ref()
        .unwrap()
        .iter()
        .map(|c| c.type_.as_str())
        .collect();
    assert_eq!(types, CONDITION_ORDER);
    for t in CONDITION_ORDER {
        assert_eq!(condition(&p, t).0, "True", "{t}");
    }
    let cs = &s.container_statuses.as_ref().unwrap()[0];
    assert!(cs.ready);
    assert_eq!(cs.started, Some(true));
    assert_eq!(cs.restart_count, 0);
    assert!(
        cs.container_id
            .as_deref()
            .unwrap()
            .starts_with("svcplane://")
    );
    assert!(cs.image_id.starts_with("docker.io/library/nginx@sha256:"));
    assert_eq!(
        cs.state
            .as_ref()
            .unwrap()
            .running
            .as_ref()
            .unwrap()
            .started_at,
        Some(Time(t0()))
    );
}

#[test]
fn lifecycle_steps() {
    struct Case {
        name: &'static str,
        pod: Pod,
        env: PodEnv<'static>,
        phase: Option<&'static str>,
        events: &'static [&'static str],
        delete: bool,
        requeue: Option<Duration>,
    }
    let pending = {
        let p = pod();
        let plan = plan(&p, &env(t0(), 1500));
        apply(p, &plan)
    };
    let no_ip = PodEnv {
        pod_ip: None,
        ..env(t0(), 0)
    };
    let stop_zero = PodEnv {
        stop_delay: Duration::ZERO,
        ..env(at(1), 0)
    };
    let mut succeeded = running();
    succeeded.status.as_mut().unwrap().phase = Some("Succeeded".into());
    let cases = [
        Case {
            name: "with a start delay the pod waits in Pending, containers creating",
            pod: pod(),
            env: env(t0(), 1500),
            phase: Some("Pending"),
            events: &["Pulling", "Pulled"],
            delete: false,
            requeue: Some(Duration::from_millis(1500)),
        },
        Case {
            name: "before the delay ends nothing is written",
            pod: pending.clone(),
            env: env(at(1), 1500),
            phase: None,
            events: &[],
            delete: false,
            requeue: Some(Duration::from_millis(500)),
        },
        Case {
            name: "after the delay the pod runs",
            pod: pending,
            env: env(at(2), 1500),
            phase: Some("Running"),
            events: &["Created", "Started"],
            delete: false,
            requeue: None,
        },
        Case {
            name: "a running pod planned again is left alone (idempotent)",
            pod: running(),
            env: env(at(60), 0),
            phase: None,
            events: &[],
            delete: false,
            requeue: None,
        },
        Case {
            name: "no free IP: a warning and a retry, no write",
            pod: pod(),
            env: no_ip,
            phase: None,
            events: &["FailedCreatePodSandBox"],
            delete: false,
            requeue: Some(Duration::from_secs(30)),
        },
        Case {
            name: "finished pods are left alone",
            pod: succeeded,
            env: env(at(5), 0),
            phase: None,
            events: &[],
            delete: false,
            requeue: None,
        },
        Case {
            name: "deletion stops the containers, then waits for the stop delay",
            pod: deleting(running(), 30, at(1)),
            env: env(at(1), 0),
            phase: Some("Running"),
            events: &["Killing"],
            delete: false,
            requeue: Some(Duration::from_secs(1)),
        },
        Case {
            name: "deletion: after min(grace, stop delay) the pod is removed",
            pod: deleting(running(), 30, at(1)),
            env: env(at(2), 0),
            phase: None,
            events: &[],
            delete: true,
            requeue: None,
        },
        Case {
            name: "a grace period shorter than the stop delay wins",
            pod: deleting(running(), 0, at(1)),
            env: env(at(1), 0),
            phase: None,
            events: &[],
            delete: true,
            requeue: None,
        },
        Case {
            name: "stop delay 0 removes at once",
            pod: deleting(running(), 30, at(1)),
            env: stop_zero,
            phase: None,
            events: &[],
            delete: true,
            requeue: None,
        },
        Case {
            name: "a pod that never started is removed at once",
            pod: deleting(pod(), 30, at(1)),
            env: env(at(1), 0),
            phase: None,
            events: &[],
            delete: true,
            requeue: None,
        },
    ];
    for case in cases {
        let plan = plan(&case.pod, &case.env);
        assert_eq!(
            plan.status.as_ref().and_then(|s| s.phase.as_deref()),
            case.phase,
            "{}",
            case.name
        );
        assert_eq!(reasons(&plan), case.events, "{}", case.name);
        assert_eq!(plan.delete, case.delete, "{}", case.name);
        assert_eq!(plan.requeue, case.requeue, "{}", case.name);
    }
}

#[test]
fn terminated_containers_are_not_ready() {
    let p = deleting(running(), 30, at(1));
    let plan = plan(&p, &env(at(1), 0));
    let p = apply(p, &plan);
    assert!(!container_ready(&p));
    assert_eq!(condition(&p, "Ready").0, "False");
    let state = p
        .status
        .as_ref()
        .unwrap()
        .container_statuses
        .as_ref()
        .unwrap()[0]
        .state
        .clone()
        .unwrap();
    let terminated = state.terminated.unwrap();
    assert_eq!(terminated.started_at, Some(Time(t0())));
    assert_eq!(terminated.finished_at, Some(Time(at(1))));
    // Planned again before the deadline: no second write, no second Killing.
    let again = super::plan(&p, &env(at(1), 0));
    assert_eq!(again.status, None);
    assert!(again.events.is_empty());
}

#[test]
fn readiness_annotation_flips_both_ways() {
    let p = annotate(running(), POD_READY_ANNOTATION, "false");
    let plan = plan(&p, &env(at(10), 0));
    assert!(plan.events.is_empty());
    let p = apply(p, &plan);
    assert!(!container_ready(&p));
    assert_eq!(
        condition(&p, "Ready"),
        (
            "False".into(),
            Some("ContainersNotReady".into()),
            Some(at(10))
        )
    );
    assert_eq!(condition(&p, "ContainersReady").0, "False");
    assert_eq!(phase(&p), "Running");

    let p = annotate(p, POD_READY_ANNOTATION, "true");
    let plan = super::plan(&p, &env(at(20), 0));
    let p = apply(p, &plan);
    assert!(container_ready(&p));
    assert_eq!(condition(&p, "Ready"), ("True".into(), None, Some(at(20))));
    // Unchanged conditions keep their transition time.
    assert_eq!(condition(&p, "Initialized").2, Some(t0()));
}

#[test]
fn node_not_ready_makes_the_pod_not_ready() {
    let node_down = PodEnv {
        node_ready: false,
        ..env(at(10), 0)
    };
    let p = running();
    let plan = plan(&p, &node_down);
    let p = apply(p, &plan);
    assert_eq!(condition(&p, "Ready").1.as_deref(), Some("NodeNotReady"));
    assert_eq!(condition(&p, "ContainersReady").0, "True");
    let plan = super::plan(&p, &env(at(11), 0));
    let p = apply(p, &plan);
    assert_eq!(condition(&p, "Ready").0, "True");
}

#[test]
fn readiness_probe_initial_delay() {
    let mut p = pod();
    p.spec.as_mut().unwrap().containers[0].readiness_probe = Some(Probe {
        initial_delay_seconds: Some(5),
        ..Probe::default()
    });
    let plan1 = plan(&p, &env(t0(), 0));
    assert_eq!(plan1.requeue, Some(Duration::from_secs(5)));
    let p = apply(p, &plan1);
    assert!(!container_ready(&p));
    let plan2 = plan(&p, &env(at(3), 0));
    assert_eq!(plan2.status, None);
    assert_eq!(plan2.requeue, Some(Duration::from_secs(2)));
    let plan3 = plan(&p, &env(at(5), 0));
    let p = apply(p, &plan3);
    assert!(container_ready(&p));
    assert_eq!(condition(&p, "Ready").0, "True");
}

#[test]
fn image_ids() {
    for (image, repo) in [
        ("nginx", "docker.io/library/nginx@sha256:"),
        ("nginx:1.27", "docker.io/library/nginx@sha256:"),
        ("bitnami/redis:7", "docker.io/bitnami/redis@sha256:"),
        (
            "registry.k8s.io/pause:3.10",
            "registry.k8s.io/pause@sha256:",
        ),
        ("localhost:5000/app", "localhost:5000/app@sha256:"),
    ] {
        let id = image_id(image);
        assert!(id.starts_with(repo), "{image} → {id}");
        assert_eq!(id.len(), repo.len() + 64, "{id}");
    }
    assert_eq!(container_id("u", "c"), container_id("u", "c"));
    assert_ne!(container_id("u", "c"), container_id("u", "d"));
}
