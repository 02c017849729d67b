//! Desired core/v1 Endpoints of a Service with a selector (pure).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    EndpointAddress, EndpointPort, EndpointSubset, Endpoints, ObjectReference, Service,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::cached_pod::CachedPod;
use crate::podutil;
use crate::service::{self, HEADLESS_LABEL, ResolvedPort};

/// Annotation set when addresses had to be dropped to stay within capacity.
pub const OVER_CAPACITY_ANNOTATION: &str = "endpoints.kubernetes.io/over-capacity";

/// The Endpoints object the Service should have (name, labels, annotations, subsets).
pub fn desired(svc: &Service, pods: &[&CachedPod], max_addresses: usize) -> Endpoints {
    let publish_not_ready = service::publish_not_ready(svc);
    // Only the primary IP family, as the legacy controller.
    let address_type = service::address_types(svc)[0];
    let mut by_ports: BTreeMap<Vec<ResolvedPort>, (Vec<EndpointAddress>, Vec<EndpointAddress>)> =
        BTreeMap::new();
    for pod in service::selected_pods(svc, pods.iter().copied()) {
        if podutil::is_terminal(pod) {
            continue;
        }
        let terminating = podutil::is_terminating(&pod.metadata);
        // Terminating pods leave the Endpoints unless not-ready addresses are published.
        if terminating && !publish_not_ready {
            continue;
        }
        let Some(ip) = service::pod_ip_of_type(pod, address_type) else {
            continue;
        };
        let addr = EndpointAddress {
            ip,
            hostname: service::pod_hostname(svc, pod),
            node_name: podutil::node_name(pod).map(str::to_string),
            target_ref: Some(ObjectReference {
                kind: Some("Pod".into()),
                name: pod.metadata.name.clone(),
                namespace: pod.metadata.namespace.clone(),
                uid: pod.metadata.uid.clone(),
                ..ObjectReference::default()
            }),
        };
        let ports = service::resolve_ports(svc, pod);
        let entry = by_ports.entry(ports).or_default();
        if publish_not_ready || podutil::is_ready(pod) {
            entry.0.push(addr);
        } else {
            entry.1.push(addr);
        }
    }
    let mut subsets: Vec<EndpointSubset> = by_ports
        .into_iter()
        .map(|(ports, (mut ready, mut not_ready))| {
            ready.sort_by(|a, b| a.ip.cmp(&b.ip));
            not_ready.sort_by(|a, b| a.ip.cmp(&b.ip));
            EndpointSubset {
                addresses: (!ready.is_empty()).then_some(ready),
                not_ready_addresses: (!not_ready.is_empty()).then_some(not_ready),
                ports: (!ports.is_empty()).then(|| ports.into_iter().map(endpoint_port).collect()),
            }
        })
        .collect();
    let truncated = truncate(&mut subsets, max_addresses);

    let mut labels = svc.metadata.labels.clone().unwrap_or_default();
    if service::is_headless(svc) {
        labels.insert(HEADLESS_LABEL.into(), String::new());
    } else {
        labels.remove(HEADLESS_LABEL);
    }
    let annotations = truncated.then(|| {
        BTreeMap::from([(
            OVER_CAPACITY_ANNOTATION.to_string(),
            "truncated".to_string(),
        )])
    });
    Endpoints {
        metadata: ObjectMeta {
            name: svc.metadata.name.clone(),
            namespace: svc.metadata.namespace.clone(),
            labels: Some(labels),
            annotations,
            ..ObjectMeta::default()
        },
        subsets: (!subsets.is_empty()).then_some(subsets),
    }
}

fn endpoint_port(p: ResolvedPort) -> EndpointPort {
    EndpointPort {
        name: (!p.name.is_empty()).then_some(p.name),
        port: p.port,
        protocol: Some(p.protocol),
        app_protocol: p.app_protocol,
    }
}

/// Keep at most `max` addresses, ready ones first (they carry traffic). True if any dropped.
fn truncate(subsets: &mut Vec<EndpointSubset>, max: usize) -> bool {
    let total: usize = subsets
        .iter()
        .map(|s| {
            s.addresses.as_ref().map_or(0, Vec::len)
                + s.not_ready_addresses.as_ref().map_or(0, Vec::len)
        })
        .sum();
    if total <= max {
        return false;
    }
    let mut left = max;
    for s in subsets.iter_mut() {
        if let Some(a) = s.addresses.as_mut() {
            a.truncate(left);
            left -= a.len();
        }
    }
    for s in subsets.iter_mut() {
        if let Some(a) = s.not_ready_addresses.as_mut() {
            a.truncate(left);
            left -= a.len();
        }
    }
    for s in subsets.iter_mut() {
        if s.addresses.as_ref().is_some_and(Vec::is_empty) {
            s.addresses = None;
        }
        if s.not_ready_addresses.as_ref().is_some_and(Vec::is_empty) {
            s.not_ready_addresses = None;
        }
    }
    subsets.retain(|s| s.addresses.is_some() || s.not_ready_addresses.is_some());
    true
}

/// What to write, given the current object (if any).
#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    None,
    Create(Endpoints),
    /// The desired object carrying the current name and resourceVersion.
    Update(Endpoints),
}

/// Compare the desired object with the current one; unchanged means no write.
pub fn plan(
    svc: &Service,
    pods: &[&CachedPod],
    current: Option<&Endpoints>,
    max_addresses: usize,
) -> Write {
    let want = desired(svc, pods, max_addresses);
    let Some(cur) = current else {
        return Write::Create(want);
    };
    let same_subsets = normalize(cur.subsets.clone()) == normalize(want.subsets.clone());
    let same_labels = cur.metadata.labels.clone().unwrap_or_default()
        == want.metadata.labels.clone().unwrap_or_default();
    let cur_over = podutil_annotation(&cur.metadata, OVER_CAPACITY_ANNOTATION);
    let want_over = podutil_annotation(&want.metadata, OVER_CAPACITY_ANNOTATION);
    if same_subsets && same_labels && cur_over == want_over {
        return Write::None;
    }
    let mut updated = cur.clone();
    updated.metadata.managed_fields = None;
    updated.metadata.labels = want.metadata.labels;
    let mut annotations = updated.metadata.annotations.take().unwrap_or_default();
    annotations.remove(OVER_CAPACITY_ANNOTATION);
    annotations.extend(want.metadata.annotations.unwrap_or_default());
    updated.metadata.annotations = (!annotations.is_empty()).then_some(annotations);
    updated.subsets = want.subsets;
    Write::Update(updated)
}

fn podutil_annotation<'a>(meta: &'a ObjectMeta, key: &str) -> Option<&'a String> {
    meta.annotations.as_ref().and_then(|a| a.get(key))
}

/// Empty lists and missing lists mean the same to clients.
fn normalize(subsets: Option<Vec<EndpointSubset>>) -> Vec<EndpointSubset> {
    subsets
        .unwrap_or_default()
        .into_iter()
        .map(|mut s| {
            s.addresses = s.addresses.filter(|a| !a.is_empty());
            s.not_ready_addresses = s.not_ready_addresses.filter(|a| !a.is_empty());
            s.ports = s.ports.filter(|p| !p.is_empty());
            s
        })
        .collect()
}
