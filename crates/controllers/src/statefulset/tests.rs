//! Table-driven tests of the StatefulSet plan.

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::jiff::Timestamp;
use serde_json::json;

use super::plan::{REVISION_LABEL, new_pod, plan, update_revision};
use crate::cached_pod::CachedPod;
use crate::cached_workload::CachedStatefulSet;
use crate::testutil::{pod, with};

/// The StatefulSet as the controller caches it.
fn set(replicas: i32, policy: &str) -> CachedStatefulSet {
    CachedStatefulSet::from(&full_set(replicas, policy))
}

fn full_set(replicas: i32, policy: &str) -> StatefulSet {
    serde_json::from_value(json!({
        "metadata": {"name": "web", "namespace": "default", "uid": "ss-uid", "generation": 1},
        "spec": {"replicas": replicas, "serviceName": "nginx", "podManagementPolicy": policy,
                 "selector": {"matchLabels": {"app": "nginx"}},
                 "template": {"metadata": {"labels": {"app": "nginx"}},
                              "spec": {"containers": [{"name": "c", "image": "nginx"}]}}},
    }))
    .unwrap()
}

/// Pod `web-<i>` at the set's current revision, ready or not.
fn member(ss: &CachedStatefulSet, i: i32, ready: bool) -> CachedPod {
    let rev = update_revision(ss);
    with(
        pod(&format!("web-{i}"), Some("10.0.0.1"), ready),
        move |v| {
            v["metadata"]["labels"][REVISION_LABEL] = json!(rev);
        },
    )
}

#[test]
fn ordinals_to_create_and_delete() {
    let o = set(3, "OrderedReady");
    let par = set(3, "Parallel");
    let one = set(1, "OrderedReady");
    let one_par = set(1, "Parallel");
    // (case, set, pods as (ordinal, ready), creates, deletes)
    type Row<'a> = (
        &'static str,
        &'a CachedStatefulSet,
        Vec<(i32, bool)>,
        Vec<&'static str>,
        Vec<&'static str>,
    );
    let cases: Vec<Row> = vec![
        ("ordered: first pod only", &o, vec![], vec!["web-0"], vec![]),
        (
            "ordered: wait for web-0 ready",
            &o,
            vec![(0, false)],
            vec![],
            vec![],
        ),
        (
            "ordered: next once ready",
            &o,
            vec![(0, true)],
            vec!["web-1"],
            vec![],
        ),
        (
            "ordered: fill a gap first",
            &o,
            vec![(0, true), (2, true)],
            vec!["web-1"],
            vec![],
        ),
        (
            "parallel: all at once",
            &par,
            vec![],
            vec!["web-0", "web-1", "web-2"],
            vec![],
        ),
        (
            "ordered: scale down highest first",
            &one,
            vec![(0, true), (1, true), (2, true)],
            vec![],
            vec!["web-2"],
        ),
        (
            "ordered: no scale down while unhealthy",
            &one,
            vec![(0, true), (1, false), (2, true)],
            vec![],
            vec![],
        ),
        (
            "parallel: scale down all at once",
            &one_par,
            vec![(0, true), (1, false), (2, true)],
            vec![],
            vec!["web-2", "web-1"],
        ),
    ];
    for (name, ss, pods, creates, deletes) in cases {
        let pods: Vec<CachedPod> = pods.into_iter().map(|(i, r)| member(ss, i, r)).collect();
        let refs: Vec<&CachedPod> = pods.iter().collect();
        let p = plan(ss, &refs, Timestamp::now());
        let got: Vec<String> = p.create.iter().map(|i| format!("web-{i}")).collect();
        assert_eq!(got, creates, "{name}");
        assert_eq!(p.delete, deletes, "{name}");
    }
}

#[test]
fn pod_identity_and_status() {
    let full = full_set(2, "OrderedReady");
    let ss = CachedStatefulSet::from(&full);
    let p = plan(&ss, &[], Timestamp::now());
    assert_eq!(p.create, [0]);
    let web0 = &new_pod(&full, p.create[0], &update_revision(&ss));
    assert_eq!(web0.metadata.name.as_deref(), Some("web-0"));
    let spec = web0.spec.clone().unwrap();
    assert_eq!(
        (spec.hostname.as_deref(), spec.subdomain.as_deref()),
        (Some("web-0"), Some("nginx"))
    );
    let labels = web0.metadata.labels.clone().unwrap();
    assert_eq!(labels["statefulset.kubernetes.io/pod-name"], "web-0");
    assert_eq!(labels["app"], "nginx");
    // The revision is named as before the cache kept only a fingerprint, so an upgrade does
    // not roll every pod.
    let hash = crate::deployment::hash::compute_hash(&full.spec.clone().unwrap().template, None);
    assert_eq!(labels[REVISION_LABEL], format!("web-{hash}"));

    let pods = [member(&ss, 0, true), member(&ss, 1, false)];
    let refs: Vec<&CachedPod> = pods.iter().collect();
    let s = plan(&ss, &refs, Timestamp::now()).status;
    assert_eq!(
        (
            s.replicas,
            s.ready_replicas,
            s.available_replicas,
            s.current_replicas,
            s.updated_replicas,
            s.observed_generation
        ),
        (2, Some(1), Some(1), Some(2), Some(2), Some(1))
    );

    // A template change replaces the highest outdated pod once all are ready.
    let mut changed = full.clone();
    changed
        .spec
        .as_mut()
        .unwrap()
        .template
        .spec
        .as_mut()
        .unwrap()
        .containers[0]
        .image = Some("nginx:2".into());
    let pods = [member(&ss, 0, true), member(&ss, 1, true)];
    let refs: Vec<&CachedPod> = pods.iter().collect();
    let changed = CachedStatefulSet::from(&changed);
    assert_ne!(update_revision(&changed), update_revision(&ss));
    assert_eq!(
        plan(&changed, &refs, Timestamp::now()).delete,
        vec!["web-1"]
    );
}
