//! Table-driven tests of the Deployment plan: rollout steps, strategies, status, history.

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::jiff::Timestamp;
use serde_json::{Value, json};

use super::plan::{REVISION_ANNOTATION, Step, new_replicaset, plan, scaled_value};
use crate::cached_workload::{CachedDeployment, CachedReplicaSet};
use crate::testutil::merge;

/// The Deployment as the controller caches it.
fn deploy(image: &str, replicas: i32, extra: Value) -> CachedDeployment {
    CachedDeployment::from(&full_deploy(image, replicas, extra))
}

fn full_deploy(image: &str, replicas: i32, extra: Value) -> Deployment {
    let mut v = json!({
        "metadata": {"name": "web", "namespace": "default", "uid": "d-uid", "generation": 2},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"run": "web"}},
                 "template": {"metadata": {"labels": {"run": "web"}},
                              "spec": {"containers": [{"name": "c", "image": image}]}}},
        "status": {"observedGeneration": 2},
    });
    merge(&mut v, extra);
    serde_json::from_value(v).unwrap()
}

/// The ReplicaSet the Deployment with `image` makes, at `replicas` spec and `available` pods,
/// as the controller caches it.
fn rs(
    image: &str,
    replicas: i32,
    available: i32,
    revision: i32,
    created: &str,
) -> CachedReplicaSet {
    CachedReplicaSet::from(&full_rs(image, replicas, available, revision, created))
}

fn full_rs(image: &str, replicas: i32, available: i32, revision: i32, created: &str) -> ReplicaSet {
    let d = full_deploy(image, replicas, json!({}));
    let mut r = new_replicaset(&d, replicas, i64::from(revision));
    r.metadata.uid = Some(format!("uid-{image}"));
    r.metadata.creation_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
        created.parse().unwrap(),
    ));
    r.metadata.generation = Some(1);
    r.status = Some(serde_json::from_value(json!({
        "replicas": replicas, "readyReplicas": available, "availableReplicas": available, "observedGeneration": 1,
    })).unwrap());
    r
}

fn describe(steps: &[Step]) -> Vec<String> {
    steps
        .iter()
        .map(|s| match s {
            Step::Create { replicas, .. } => format!("create {replicas}"),
            Step::Scale { name, from, to } => {
                let which = if name.contains(&super::hash::compute_hash(
                    &full_deploy("v2", 1, json!({})).spec.unwrap().template,
                    None,
                )) {
                    "new"
                } else {
                    "old"
                };
                format!("scale {which} {from}->{to}")
            }
            Step::SetRevision { revision, .. } => format!("revision {revision}"),
            Step::Delete { name } => format!("delete {name}"),
        })
        .collect()
}

#[test]
fn rollout_steps() {
    let t0 = "2024-01-01T00:00:00Z";
    let t1 = "2024-01-02T00:00:00Z";
    let recreate = json!({"spec": {"strategy": {"type": "Recreate"}}});
    // (case, deployment, replica sets, steps)
    let cases: Vec<(&str, CachedDeployment, Vec<CachedReplicaSet>, Vec<&str>)> = vec![
        (
            "first rollout: all at once within surge",
            deploy("v2", 2, json!({})),
            vec![],
            vec!["create 2"],
        ),
        (
            "steady",
            deploy("v2", 2, json!({})),
            vec![rs("v2", 2, 2, 1, t0)],
            vec![],
        ),
        (
            "scale up",
            deploy("v2", 3, json!({})),
            vec![rs("v2", 2, 2, 1, t0)],
            vec!["scale new 2->3"],
        ),
        (
            "scale down",
            deploy("v2", 1, json!({})),
            vec![rs("v2", 3, 3, 1, t0)],
            vec!["scale new 3->1"],
        ),
        (
            "new template: surge one",
            deploy("v2", 2, json!({})),
            vec![rs("v1", 2, 2, 1, t0)],
            vec!["create 1"],
        ),
        (
            "new not available: hold",
            deploy("v2", 2, json!({})),
            vec![rs("v1", 2, 2, 1, t0), rs("v2", 1, 0, 2, t1)],
            vec![],
        ),
        (
            "new available: old down one",
            deploy("v2", 2, json!({})),
            vec![rs("v1", 2, 2, 1, t0), rs("v2", 1, 1, 2, t1)],
            vec!["scale old 2->1"],
        ),
        (
            "then new up",
            deploy("v2", 2, json!({})),
            vec![rs("v1", 1, 1, 1, t0), rs("v2", 1, 1, 2, t1)],
            vec!["scale new 1->2"],
        ),
        (
            "unhealthy old first",
            deploy(
                "v2",
                2,
                json!({"spec": {"strategy": {"rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}}}),
            ),
            vec![rs("v1", 2, 1, 1, t0), rs("v2", 0, 0, 2, t1)],
            vec!["scale old 2->1"],
        ),
        (
            "recreate: old to zero first",
            deploy("v2", 2, recreate.clone()),
            vec![rs("v1", 2, 2, 1, t0)],
            vec!["scale old 2->0"],
        ),
        (
            "recreate: then new",
            deploy("v2", 2, recreate.clone()),
            vec![rs("v1", 0, 0, 1, t0)],
            vec!["create 2"],
        ),
        (
            "rollback takes the next revision",
            deploy("v2", 2, json!({})),
            vec![rs("v2", 2, 2, 1, t0), rs("v1", 0, 0, 2, t1)],
            vec!["revision 3"],
        ),
        (
            "paused: nothing",
            deploy("v2", 2, json!({"spec": {"paused": true}})),
            vec![rs("v1", 2, 2, 1, t0)],
            vec![],
        ),
    ];
    for (name, d, rss, want) in cases {
        let refs: Vec<&CachedReplicaSet> = rss.iter().collect();
        let p = plan(&d, &refs, Timestamp::now());
        assert_eq!(describe(&p.steps), want, "{name}");
    }
}

/// The plan names the ReplicaSet from the cached fingerprint; the controller makes it from the
/// Deployment read from the API. Both must agree, with and without a collision count.
#[test]
fn new_replicaset_shape() {
    for collisions in [json!({}), json!({"status": {"collisionCount": 3}})] {
        let full = full_deploy("v2", 2, collisions.clone());
        let p = plan(&CachedDeployment::from(&full), &[], Timestamp::now());
        let Step::Create {
            name,
            replicas,
            revision,
        } = &p.steps[0]
        else {
            panic!("create")
        };
        let r = new_replicaset(&full, *replicas, *revision);
        assert_eq!(r.metadata.name.as_ref(), Some(name), "{collisions}");
        assert_eq!(r.spec.as_ref().unwrap().replicas, Some(2));
        assert_new_replicaset_shape(&r);
        assert_eq!(p.revision.as_deref(), Some("1"));
    }
    let plain = new_replicaset(&full_deploy("v2", 2, json!({})), 2, 1);
    let collided = new_replicaset(
        &full_deploy("v2", 2, json!({"status": {"collisionCount": 3}})),
        2,
        1,
    );
    assert_ne!(plain.metadata.name, collided.metadata.name);
}

fn assert_new_replicaset_shape(r: &ReplicaSet) {
    let hash = r.metadata.labels.clone().unwrap()["pod-template-hash"].clone();
    assert_eq!(r.metadata.name.clone().unwrap(), format!("web-{hash}"));
    let spec = r.spec.clone().unwrap();
    assert_eq!(
        spec.selector.match_labels.unwrap()["pod-template-hash"],
        hash
    );
    assert_eq!(
        spec.template.unwrap().metadata.unwrap().labels.unwrap()["pod-template-hash"],
        hash
    );
    assert_eq!(
        r.metadata.annotations.clone().unwrap()[REVISION_ANNOTATION],
        "1"
    );
    let owner = &r.metadata.owner_references.clone().unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.controller),
        ("Deployment", Some(true))
    );
}

#[test]
fn status_and_conditions() {
    let t0 = "2024-01-01T00:00:00Z";
    let t1 = "2024-01-02T00:00:00Z";
    // (case, rss, (replicas, updated, ready, available, unavailable), Available, Progressing reason)
    type Row = (
        &'static str,
        Vec<CachedReplicaSet>,
        (i32, i32, i32, i32, i32),
        &'static str,
        &'static str,
    );
    let cases: Vec<Row> = vec![
        (
            "complete",
            vec![rs("v2", 2, 2, 1, t0)],
            (2, 2, 2, 2, 0),
            "True",
            "NewReplicaSetAvailable",
        ),
        (
            "mid rollout",
            vec![rs("v1", 2, 2, 1, t0), rs("v2", 1, 0, 2, t1)],
            (3, 1, 2, 2, 0),
            "True",
            "ReplicaSetUpdated",
        ),
        (
            "nothing available",
            vec![rs("v2", 2, 0, 1, t0)],
            (2, 2, 0, 0, 2),
            "False",
            "ReplicaSetUpdated",
        ),
    ];
    for (name, rss, counts, available, progressing) in cases {
        let refs: Vec<&CachedReplicaSet> = rss.iter().collect();
        let s = plan(&deploy("v2", 2, json!({})), &refs, Timestamp::now()).status;
        let got = (
            s.replicas.unwrap(),
            s.updated_replicas.unwrap(),
            s.ready_replicas.unwrap(),
            s.available_replicas.unwrap(),
            s.unavailable_replicas.unwrap(),
        );
        assert_eq!(got, counts, "{name}");
        let conds = s.conditions.unwrap();
        let get = |t: &str| conds.iter().find(|c| c.type_ == t).cloned().unwrap();
        assert_eq!(get("Available").status, available, "{name}");
        assert_eq!(
            get("Progressing").reason.as_deref(),
            Some(progressing),
            "{name}"
        );
    }
    // Unchanged conditions keep their times: a second pass writes nothing new.
    let rss = [rs("v2", 2, 2, 1, t0)];
    let refs: Vec<&CachedReplicaSet> = rss.iter().collect();
    let mut d = deploy("v2", 2, json!({}));
    let first = plan(&d, &refs, Timestamp::now()).status;
    d.status = Some(first.clone());
    let later: Timestamp = "2030-01-01T00:00:00Z".parse().unwrap();
    assert_eq!(plan(&d, &refs, later).status, first);
}

#[test]
fn history_is_trimmed_after_a_complete_rollout() {
    let d = deploy("v4", 1, json!({"spec": {"revisionHistoryLimit": 1}}));
    let rss = [
        rs("v1", 0, 0, 1, "2024-01-01T00:00:00Z"),
        rs("v2", 0, 0, 2, "2024-01-02T00:00:00Z"),
        rs("v3", 0, 0, 3, "2024-01-03T00:00:00Z"),
        rs("v4", 1, 1, 4, "2024-01-04T00:00:00Z"),
    ];
    let refs: Vec<&CachedReplicaSet> = rss.iter().collect();
    let deleted: Vec<String> = plan(&d, &refs, Timestamp::now())
        .steps
        .into_iter()
        .filter_map(|s| match s {
            Step::Delete { name } => Some(name),
            _ => None,
        })
        .collect();
    let names: Vec<String> = rss[..2]
        .iter()
        .map(|r| r.metadata.name.clone().unwrap())
        .collect();
    assert_eq!(deleted, names);
}

#[test]
fn surge_and_unavailable_values() {
    // (value, total, round up, want)
    let cases = [
        (IntOrString::Int(3), 10, true, 3),
        (IntOrString::String("25%".into()), 10, true, 3),
        (IntOrString::String("25%".into()), 10, false, 2),
        (IntOrString::String("50%".into()), 1, true, 1),
        (IntOrString::String("50%".into()), 1, false, 0),
        (IntOrString::String("100%".into()), 4, false, 4),
    ];
    for (v, total, up, want) in cases {
        assert_eq!(scaled_value(&v, total, up), want, "{v:?} of {total}");
    }
}
