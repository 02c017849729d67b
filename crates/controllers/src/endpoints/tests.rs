//! Table-driven tests of the Endpoints plan.

use serde_json::json;

use super::plan::{OVER_CAPACITY_ANNOTATION, Write, desired, plan};
use crate::cached_pod::CachedPod;
use crate::testutil::{pod, service, with};

fn ips(v: &Option<Vec<k8s_openapi::api::core::v1::EndpointAddress>>) -> Vec<String> {
    v.iter().flatten().map(|a| a.ip.clone()).collect()
}

#[test]
fn addresses_and_not_ready_addresses() {
    let terminating = with(pod("t", Some("10.0.0.4"), true), |v| {
        v["metadata"]["deletionTimestamp"] = json!("2024-01-01T00:00:00Z")
    });
    // (case, pods, publishNotReadyAddresses, ready IPs, not-ready IPs)
    type Row = (
        &'static str,
        Vec<CachedPod>,
        bool,
        Vec<&'static str>,
        Vec<&'static str>,
    );
    let cases: Vec<Row> = vec![
        ("none", vec![], false, vec![], vec![]),
        (
            "ready and not",
            vec![
                pod("a", Some("10.0.0.1"), true),
                pod("b", Some("10.0.0.2"), false),
            ],
            false,
            vec!["10.0.0.1"],
            vec!["10.0.0.2"],
        ),
        (
            "terminating dropped",
            vec![terminating.clone()],
            false,
            vec![],
            vec![],
        ),
        (
            "publishNotReady keeps everyone ready",
            vec![pod("b", Some("10.0.0.2"), false), terminating],
            true,
            vec!["10.0.0.2", "10.0.0.4"],
            vec![],
        ),
        ("no IP", vec![pod("a", None, true)], false, vec![], vec![]),
    ];
    for (name, pods, pnr, ready, not_ready) in cases {
        let svc = service(json!({"spec": {"publishNotReadyAddresses": pnr}}));
        let refs: Vec<&CachedPod> = pods.iter().collect();
        let e = desired(&svc, &refs, 1000);
        let subsets = e.subsets.clone().unwrap_or_default();
        let got_ready: Vec<String> = subsets.iter().flat_map(|s| ips(&s.addresses)).collect();
        let got_not: Vec<String> = subsets
            .iter()
            .flat_map(|s| ips(&s.not_ready_addresses))
            .collect();
        assert_eq!(
            (got_ready, got_not),
            (
                ready.iter().map(|s| s.to_string()).collect(),
                not_ready.iter().map(|s| s.to_string()).collect()
            ),
            "{name}"
        );
        for s in &subsets {
            let port = &s.ports.clone().unwrap()[0];
            assert_eq!(
                (port.name.as_deref(), port.port),
                (Some("http"), 8080),
                "{name}"
            );
        }
    }
}

#[test]
fn labels_truncation_and_no_op() {
    let headless = service(json!({"spec": {"clusterIP": "None"}}));
    let pods: Vec<CachedPod> = (1..=5)
        .map(|i| pod(&format!("p{i}"), Some(&format!("10.0.0.{i}")), i % 2 == 0))
        .collect();
    let refs: Vec<&CachedPod> = pods.iter().collect();
    let e = desired(&headless, &refs, 3);
    assert_eq!(
        e.metadata.labels.clone().unwrap()["service.kubernetes.io/headless"],
        ""
    );
    assert_eq!(
        e.metadata.annotations.clone().unwrap()[OVER_CAPACITY_ANNOTATION],
        "truncated"
    );
    let s = &e.subsets.clone().unwrap()[0];
    assert_eq!(
        (ips(&s.addresses).len(), ips(&s.not_ready_addresses).len()),
        (2, 1),
        "ready addresses kept first"
    );
    let a = &s.addresses.clone().unwrap()[0];
    assert_eq!(a.target_ref.clone().unwrap().kind.as_deref(), Some("Pod"));

    let Write::Create(mut stored) = plan(&headless, &refs, None, 1000) else {
        panic!("create")
    };
    stored.metadata.resource_version = Some("7".into());
    assert_eq!(
        plan(&headless, &refs, Some(&stored), 1000),
        Write::None,
        "unchanged: no write"
    );
    let Write::Update(u) = plan(&headless, &refs[..2], Some(&stored), 1000) else {
        panic!("update")
    };
    assert_eq!(
        u.metadata.resource_version.as_deref(),
        Some("7"),
        "update carries the resourceVersion"
    );
}
