//! Table-driven tests of the ReplicaSet plan.

use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::jiff::Timestamp;
use serde_json::json;

use super::plan::{plan, pod_from_template};
use crate::cached_pod::CachedPod;
use crate::cached_workload::CachedReplicaSet;
use crate::testutil::{pod, with};

/// The ReplicaSet as the controller caches it.
fn rs(replicas: i32, min_ready: i32) -> CachedReplicaSet {
    CachedReplicaSet::from(&full_rs(replicas, min_ready))
}

fn full_rs(replicas: i32, min_ready: i32) -> ReplicaSet {
    serde_json::from_value(json!({
        "metadata": {"name": "web-abc", "namespace": "default", "uid": "rs-uid", "generation": 3},
        "spec": {"replicas": replicas, "minReadySeconds": min_ready,
                 "selector": {"matchLabels": {"run": "web"}},
                 "template": {"metadata": {"labels": {"run": "web", "pod-template-hash": "abc"}},
                              "spec": {"containers": [{"name": "c", "image": "nginx"}]}}},
    }))
    .unwrap()
}

fn created(name: &str, at: &str) -> CachedPod {
    let at = at.to_string();
    with(pod(name, Some("10.0.0.1"), true), move |v| {
        v["metadata"]["creationTimestamp"] = json!(at);
        v["spec"]["nodeName"] = json!("n1");
    })
}

#[test]
fn replicas_to_creates_and_deletes() {
    let unscheduled = with(pod("unscheduled", None, false), |v| {
        v["status"]["phase"] = json!("Pending")
    });
    let not_ready = with(created("not-ready", "2024-01-01T00:00:00Z"), |v| {
        v["status"]["conditions"][0]["status"] = json!("False")
    });
    let old = created("old", "2024-01-01T00:00:00Z");
    let new = created("new", "2024-02-01T00:00:00Z");
    let failed = with(created("failed", "2024-01-01T00:00:00Z"), |v| {
        v["status"]["phase"] = json!("Failed")
    });
    // (case, replicas, pods, creates, deletes in order)
    type Row = (&'static str, i32, Vec<CachedPod>, usize, Vec<&'static str>);
    let cases: Vec<Row> = vec![
        ("from nothing", 3, vec![], 3, vec![]),
        ("enough", 2, vec![old.clone(), new.clone()], 0, vec![]),
        ("one short", 3, vec![old.clone(), new.clone()], 1, vec![]),
        (
            "failed pods do not count",
            2,
            vec![old.clone(), failed],
            1,
            vec![],
        ),
        (
            "newest goes first",
            1,
            vec![old.clone(), new.clone()],
            0,
            vec!["new"],
        ),
        (
            "unscheduled, then not ready, then newest",
            1,
            vec![old.clone(), new.clone(), not_ready, unscheduled],
            0,
            vec!["unscheduled", "not-ready", "new"],
        ),
        ("to zero", 0, vec![old, new], 0, vec!["new", "old"]),
    ];
    for (name, replicas, pods, creates, deletes) in cases {
        let refs: Vec<&CachedPod> = pods.iter().collect();
        let p = plan(&rs(replicas, 0), &refs, Timestamp::now());
        assert_eq!(p.create, creates, "{name}");
        assert_eq!(p.delete, deletes, "{name}");
    }
}

#[test]
fn status_counts() {
    let now: Timestamp = "2024-01-01T00:00:10Z".parse().unwrap();
    let ready_long_ago = pod("a", Some("10.0.0.1"), true);
    let ready_just_now = with(pod("b", Some("10.0.0.2"), true), |v| {
        v["status"]["conditions"][0]["lastTransitionTime"] = json!("2024-01-01T00:00:08Z")
    });
    let unlabeled = with(pod("c", Some("10.0.0.3"), false), |v| {
        v["metadata"]["labels"] = json!({"run": "web"})
    });
    let pods = [ready_long_ago, ready_just_now, unlabeled];
    let refs: Vec<&CachedPod> = pods.iter().collect();
    // (minReadySeconds, available, recheck)
    for (min_ready, available, recheck) in [(0, 2, None), (5, 1, Some(3))] {
        let p = plan(&rs(3, min_ready), &refs, now);
        let s = &p.status;
        assert_eq!(
            (
                s.replicas,
                s.ready_replicas,
                s.available_replicas,
                s.fully_labeled_replicas,
                s.observed_generation
            ),
            (3, Some(2), Some(available), Some(0), Some(3)),
            "minReadySeconds {min_ready}"
        );
        assert_eq!(p.recheck_in, recheck, "minReadySeconds {min_ready}");
    }
}

#[test]
fn pods_from_the_template() {
    let p = pod_from_template(&full_rs(1, 0));
    assert_eq!(p.metadata.generate_name.as_deref(), Some("web-abc-"));
    assert_eq!(p.metadata.labels.unwrap()["pod-template-hash"], "abc");
    let owner = &p.metadata.owner_references.unwrap()[0];
    assert_eq!(
        (
            owner.kind.as_str(),
            owner.name.as_str(),
            owner.uid.as_str(),
            owner.controller
        ),
        ("ReplicaSet", "web-abc", "rs-uid", Some(true))
    );
}
