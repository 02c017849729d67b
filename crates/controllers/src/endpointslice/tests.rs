//! Table-driven tests of the EndpointSlice and mirroring plans.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Endpoints, Service};

use k8s_openapi::api::discovery::v1::EndpointSlice;
use serde_json::json;

use super::mirror;
use super::plan::{Snapshot, plan};
use super::slices::SlicePlan;
use crate::cached_pod::CachedPod;
use crate::testutil::{pod, service, with};

fn run(
    svc: &Service,
    pods: &[CachedPod],
    nodes: &BTreeMap<String, Option<String>>,
    existing: &[EndpointSlice],
    max: usize,
) -> SlicePlan {
    plan(&Snapshot {
        service: svc,
        pods: pods.iter().collect(),
        nodes: &|n: &str| nodes.get(n).cloned(),
        existing: existing.iter().collect(),
        max_per_slice: max,
    })
}

/// (address, ready, serving, terminating, hostname) of every endpoint the plan writes.
fn endpoints_of(p: &SlicePlan) -> Vec<(String, bool, bool, bool, Option<String>)> {
    let mut out: Vec<_> = p
        .create
        .iter()
        .chain(&p.update)
        .flat_map(|s| s.endpoints.iter())
        .map(|e| {
            let c = e.conditions.clone().unwrap_or_default();
            (
                e.addresses[0].clone(),
                c.ready.unwrap_or(false),
                c.serving.unwrap_or(false),
                c.terminating.unwrap_or(false),
                e.hostname.clone(),
            )
        })
        .collect();
    out.sort();
    out
}

/// Turn a plan's creates into "existing" slices, as the API server would store them.
fn stored(p: &SlicePlan) -> Vec<EndpointSlice> {
    p.create
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let mut s = s.clone();
            s.metadata.name = Some(format!("web-{i}"));
            s.metadata.resource_version = Some("1".into());
            s
        })
        .chain(p.update.iter().cloned())
        .collect()
}

#[test]
fn endpoints_from_pods() {
    let no_nodes = BTreeMap::new();
    let terminating = with(pod("t", Some("10.0.0.4"), true), |v| {
        v["metadata"]["deletionTimestamp"] = json!("2024-01-01T00:00:00Z")
    });
    let succeeded = with(pod("s", Some("10.0.0.5"), false), |v| {
        v["status"]["phase"] = json!("Succeeded")
    });
    let sts = with(pod("h", Some("10.0.0.6"), true), |v| {
        v["spec"]["hostname"] = json!("h");
        v["spec"]["subdomain"] = json!("web");
    });
    let other_subdomain = with(pod("o", Some("10.0.0.7"), true), |v| {
        v["spec"]["hostname"] = json!("o");
        v["spec"]["subdomain"] = json!("elsewhere");
    });
    let unlabeled = with(pod("u", Some("10.0.0.8"), true), |v| {
        v["metadata"]["labels"] = json!({"run": "other"})
    });
    let on_missing_node = with(pod("m", Some("10.0.0.9"), true), |v| {
        v["spec"]["nodeName"] = json!("gone")
    });
    type Row = (
        &'static str,
        Vec<CachedPod>,
        Service,
        Vec<(&'static str, bool, bool, bool, Option<&'static str>)>,
    );
    let cases: Vec<Row> = vec![
        (
            "ready pod",
            vec![pod("a", Some("10.0.0.1"), true)],
            service(json!({})),
            vec![("10.0.0.1", true, true, false, None)],
        ),
        (
            "not ready pod",
            vec![pod("a", Some("10.0.0.1"), false)],
            service(json!({})),
            vec![("10.0.0.1", false, false, false, None)],
        ),
        (
            "no IP is skipped",
            vec![pod("a", None, true)],
            service(json!({})),
            vec![],
        ),
        (
            "terminating stays, not ready",
            vec![terminating.clone()],
            service(json!({})),
            vec![("10.0.0.4", false, true, true, None)],
        ),
        (
            "terminal is skipped",
            vec![succeeded],
            service(json!({})),
            vec![],
        ),
        (
            "publishNotReadyAddresses",
            vec![pod("a", Some("10.0.0.1"), false), terminating],
            service(json!({"spec": {"publishNotReadyAddresses": true}})),
            vec![
                ("10.0.0.1", true, false, false, None),
                ("10.0.0.4", true, true, true, None),
            ],
        ),
        (
            "hostname only under its subdomain",
            vec![sts, other_subdomain],
            service(json!({})),
            vec![
                ("10.0.0.6", true, true, false, Some("h")),
                ("10.0.0.7", true, true, false, None),
            ],
        ),
        (
            "selector filters",
            vec![unlabeled],
            service(json!({})),
            vec![],
        ),
        (
            "pod on a missing node is skipped",
            vec![on_missing_node],
            service(json!({})),
            vec![],
        ),
    ];
    for (name, pods, svc, want) in cases {
        let p = run(&svc, &pods, &no_nodes, &[], 100);
        let want: Vec<_> = want
            .into_iter()
            .map(|(a, r, s, t, h)| (a.to_string(), r, s, t, h.map(str::to_string)))
            .collect();
        assert_eq!(endpoints_of(&p), want, "{name}");
    }
}

#[test]
fn slice_shape_labels_owner_ports_and_zone() {
    let nodes = BTreeMap::from([("n1".to_string(), Some("zone-a".to_string()))]);
    let svc = service(json!({"spec": {"clusterIP": "None", "ports": [
        {"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"},
        {"port": 81, "protocol": "UDP"}]}}));
    let p = run(
        &svc,
        &[with(pod("a", Some("10.0.0.1"), true), |v| {
            v["spec"]["nodeName"] = json!("n1")
        })],
        &nodes,
        &[],
        100,
    );
    assert_eq!(p.create.len(), 1);
    let s = &p.create[0];
    assert_eq!(s.address_type, "IPv4");
    assert_eq!(s.metadata.generate_name.as_deref(), Some("web-"));
    let labels = s.metadata.labels.clone().unwrap();
    assert_eq!(labels["kubernetes.io/service-name"], "web");
    assert_eq!(
        labels["endpointslice.kubernetes.io/managed-by"],
        "endpointslice-controller.k8s.io"
    );
    assert_eq!(labels["service.kubernetes.io/headless"], "");
    assert_eq!(labels["app"], "web", "the Service's own labels");
    let owner = &s.metadata.owner_references.clone().unwrap()[0];
    assert_eq!(
        (
            owner.kind.as_str(),
            owner.uid.as_str(),
            owner.controller,
            owner.block_owner_deletion
        ),
        ("Service", "svc-uid", Some(true), Some(true))
    );
    let ports: Vec<_> = s
        .ports
        .clone()
        .unwrap()
        .into_iter()
        .map(|p| (p.name, p.port, p.protocol))
        .collect();
    assert_eq!(
        ports,
        vec![
            (Some(String::new()), Some(81), Some("UDP".to_string())),
            (
                Some("http".to_string()),
                Some(8080),
                Some("TCP".to_string())
            ),
        ],
        "named targetPort resolved, unnamed port keeps name \"\""
    );
    let e = &s.endpoints[0];
    assert_eq!(
        (e.node_name.as_deref(), e.zone.as_deref()),
        (Some("n1"), Some("zone-a"))
    );
    let t = e.target_ref.clone().unwrap();
    assert_eq!(
        (t.kind.as_deref(), t.name.as_deref(), t.uid.as_deref()),
        (Some("Pod"), Some("a"), Some("uid-a"))
    );
}

#[test]
fn churn_is_minimal() {
    let nodes = BTreeMap::new();
    let svc = service(json!({}));
    let pods: Vec<CachedPod> = (1..=5)
        .map(|i| pod(&format!("p{i}"), Some(&format!("10.0.0.{i}")), true))
        .collect();

    // (case, max per slice, creates, updates, deletes) from nothing.
    let cases = [
        ("one slice", 100, 1),
        ("chunks of two", 2, 3),
        ("one each", 1, 5),
    ];
    for (name, max, creates) in cases {
        let p = run(&svc, &pods, &nodes, &[], max);
        assert_eq!(
            (p.create.len(), p.update.len(), p.delete.len()),
            (creates, 0, 0),
            "{name}"
        );
        assert!(p.create.iter().all(|s| s.endpoints.len() <= max), "{name}");
    }

    let first = run(&svc, &pods, &nodes, &[], 2);
    let existing = stored(&first);
    assert!(
        run(&svc, &pods, &nodes, &existing, 2).is_empty(),
        "unchanged: no writes"
    );

    // One pod turns unready: exactly one slice is written.
    let mut changed = pods.clone();
    changed[2] = pod("p3", Some("10.0.0.3"), false);
    let p = run(&svc, &changed, &nodes, &existing, 2);
    assert_eq!((p.create.len(), p.update.len(), p.delete.len()), (0, 1, 0));

    // A sixth pod fills the slice with room before any new slice is made.
    let mut more = pods.clone();
    more.push(pod("p6", Some("10.0.0.6"), true));
    let p = run(&svc, &more, &nodes, &existing, 2);
    assert_eq!((p.create.len(), p.update.len(), p.delete.len()), (0, 1, 0));

    // All pods gone: one slice is reused as the placeholder, the others deleted.
    let p = run(&svc, &[], &nodes, &existing, 2);
    assert_eq!((p.create.len(), p.update.len(), p.delete.len()), (0, 1, 2));
    assert!(
        p.update[0].endpoints.is_empty()
            && p.update[0].ports.as_ref().is_some_and(|p| p.is_empty())
    );
}

#[test]
fn placeholder_per_family_and_kept() {
    let nodes = BTreeMap::new();
    let cases = [
        ("single stack", service(json!({})), vec!["IPv4"]),
        (
            "dual stack",
            service(json!({"spec": {"ipFamilies": ["IPv6", "IPv4"]}})),
            vec!["IPv6", "IPv4"],
        ),
    ];
    for (name, svc, want) in cases {
        let p = run(&svc, &[], &nodes, &[], 100);
        let got: Vec<&str> = p.create.iter().map(|s| s.address_type.as_str()).collect();
        assert_eq!(got, want, "{name}");
        assert!(p.create.iter().all(|s| s.endpoints.is_empty()), "{name}");
        assert!(
            run(&svc, &[], &nodes, &stored(&p), 100).is_empty(),
            "{name}: placeholder kept"
        );
    }
}

#[test]
fn mirroring() {
    let svc = service(json!({"spec": {"selector": null}}));
    let ep: Endpoints = serde_json::from_value(json!({
        "metadata": {"name": "web", "namespace": "default", "labels": {"team": "db"}},
        "subsets": [{"addresses": [{"ip": "192.0.2.1"}, {"ip": "2001:db8::1"}],
                     "notReadyAddresses": [{"ip": "192.0.2.2"}],
                     "ports": [{"port": 5432}]}],
    }))
    .unwrap();
    let p = mirror::plan(&svc, Some(&ep), &[], 100);
    let mut got: Vec<(String, Vec<(String, bool)>)> = p
        .create
        .iter()
        .map(|s| {
            let eps = s
                .endpoints
                .iter()
                .map(|e| {
                    (
                        e.addresses[0].clone(),
                        e.conditions.clone().unwrap().ready.unwrap(),
                    )
                })
                .collect();
            (s.address_type.clone(), eps)
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        vec![
            (
                "IPv4".to_string(),
                vec![
                    ("192.0.2.1".to_string(), true),
                    ("192.0.2.2".to_string(), false)
                ]
            ),
            ("IPv6".to_string(), vec![("2001:db8::1".to_string(), true)]),
        ]
    );
    let labels = p.create[0].metadata.labels.clone().unwrap();
    assert_eq!(
        labels["endpointslice.kubernetes.io/managed-by"],
        "endpointslicemirroring-controller.k8s.io"
    );
    assert_eq!(labels["team"], "db");
    assert_eq!(
        p.create[0].ports.clone().unwrap()[0].name.as_deref(),
        Some("")
    );

    let cases = [
        (
            "service with a selector is not mirrored",
            service(json!({})),
            Some(ep.clone()),
        ),
        ("no endpoints", svc.clone(), None),
    ];
    for (name, svc, ep) in cases {
        assert!(
            mirror::plan(&svc, ep.as_ref(), &[], 100).is_empty(),
            "{name}"
        );
    }
    // Skip label deletes what was mirrored before.
    let mut skipped = ep.clone();
    skipped.metadata.labels = Some(BTreeMap::from([(
        mirror::SKIP_MIRROR_LABEL.to_string(),
        "true".to_string(),
    )]));
    let existing = stored(&p);
    let refs: Vec<&EndpointSlice> = existing.iter().collect();
    assert_eq!(
        mirror::plan(&svc, Some(&skipped), &refs, 100).delete.len(),
        2
    );
}
