//! Desired EndpointSlices of a Service with a selector (pure).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ObjectReference, Service};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort, EndpointSlice};

use super::slices::{self, Group, SliceMeta, SlicePlan};
use crate::cached_pod::CachedPod;
use crate::podutil;
use crate::service::{self, HEADLESS_LABEL, MANAGED_BY_LABEL, ResolvedPort, SERVICE_NAME_LABEL};

/// `managed-by` value of slices this controller writes.
pub const CONTROLLER_NAME: &str = "endpointslice-controller.k8s.io";
/// Node label that gives endpoints their zone.
pub const ZONE_LABEL: &str = "topology.kubernetes.io/zone";

/// A snapshot of what the plan reads.
pub struct Snapshot<'a> {
    pub service: &'a Service,
    /// Pods of the Service's namespace (the plan applies the selector).
    pub pods: Vec<&'a CachedPod>,
    /// A node's zone label if the node exists (`None`: no such node). A lookup, not a map: the
    /// controller answers it from the node cache, and copying every node's zone per reconcile
    /// was most of its CPU at 5,000 nodes.
    pub nodes: &'a dyn Fn(&str) -> Option<Option<String>>,
    /// Slices this controller manages for this Service (owned by it).
    pub existing: Vec<&'a EndpointSlice>,
    pub max_per_slice: usize,
}

/// Labels every slice of `svc` carries: the Service's own, then the controller's (which win).
pub fn slice_labels(svc: &Service, managed_by: &str) -> BTreeMap<String, String> {
    let mut labels = svc.metadata.labels.clone().unwrap_or_default();
    let name = svc.metadata.name.clone().unwrap_or_default();
    labels.insert(SERVICE_NAME_LABEL.into(), name);
    labels.insert(MANAGED_BY_LABEL.into(), managed_by.into());
    if service::is_headless(svc) {
        labels.insert(HEADLESS_LABEL.into(), String::new());
    } else {
        labels.remove(HEADLESS_LABEL);
    }
    labels
}

pub fn slice_meta(svc: &Service, managed_by: &str) -> SliceMeta {
    SliceMeta {
        namespace: svc.metadata.namespace.clone().unwrap_or_default(),
        generate_name: format!("{}-", svc.metadata.name.as_deref().unwrap_or("")),
        labels: slice_labels(svc, managed_by),
        owner: podutil::owner_ref("v1", "Service", &svc.metadata),
    }
}

/// Desired endpoints grouped by (address type, resolved ports).
pub fn desired_groups(snap: &Snapshot) -> Vec<Group> {
    let svc = snap.service;
    let publish_not_ready = service::publish_not_ready(svc);
    let mut groups: BTreeMap<(String, Vec<ResolvedPort>), Vec<Endpoint>> = BTreeMap::new();
    let mut pods = service::selected_pods(svc, snap.pods.iter().copied());
    pods.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    for pod in pods {
        if podutil::is_terminal(pod) {
            continue;
        }
        let node = podutil::node_name(pod);
        // A pod on a node that does not exist is left out (it may never go away otherwise),
        // unless the user asked for not-ready addresses too. A pod not yet bound has no node
        // to check.
        let zone = match node {
            Some(n) => match (snap.nodes)(n) {
                Some(zone) => zone,
                None if publish_not_ready => None,
                None => continue,
            },
            None => None,
        };
        let ports = service::resolve_ports(svc, pod);
        for address_type in service::address_types(svc) {
            let Some(ip) = service::pod_ip_of_type(pod, address_type) else {
                continue;
            };
            let endpoint = pod_endpoint(svc, pod, ip, node, zone.clone(), publish_not_ready);
            groups
                .entry((address_type.to_string(), ports.clone()))
                .or_default()
                .push(endpoint);
        }
    }
    groups
        .into_iter()
        .map(|((address_type, ports), endpoints)| Group {
            address_type,
            ports: ports.into_iter().map(endpoint_port).collect(),
            endpoints,
        })
        .collect()
}

fn pod_endpoint(
    svc: &Service,
    pod: &CachedPod,
    ip: String,
    node: Option<&str>,
    zone: Option<String>,
    publish_not_ready: bool,
) -> Endpoint {
    let ready = podutil::is_ready(pod);
    let terminating = podutil::is_terminating(&pod.metadata);
    Endpoint {
        addresses: vec![ip],
        conditions: Some(EndpointConditions {
            ready: Some(publish_not_ready || (ready && !terminating)),
            serving: Some(ready),
            terminating: Some(terminating),
        }),
        hostname: service::pod_hostname(svc, pod),
        node_name: node.map(str::to_string),
        zone,
        target_ref: Some(ObjectReference {
            kind: Some("Pod".into()),
            name: pod.metadata.name.clone(),
            namespace: pod.metadata.namespace.clone(),
            uid: pod.metadata.uid.clone(),
            ..ObjectReference::default()
        }),
        ..Endpoint::default()
    }
}

fn endpoint_port(p: ResolvedPort) -> EndpointPort {
    EndpointPort {
        // Always present, even "": kubectl describe dereferences it.
        name: Some(p.name),
        port: Some(p.port),
        protocol: Some(p.protocol),
        app_protocol: p.app_protocol,
    }
}

/// The writes that bring the Service's slices to the desired state.
pub fn plan(snap: &Snapshot) -> SlicePlan {
    let groups = desired_groups(snap);
    let meta = slice_meta(snap.service, CONTROLLER_NAME);
    let placeholder_types = service::address_types(snap.service);
    slices::plan_slices(
        &groups,
        &snap.existing,
        &meta,
        snap.max_per_slice,
        &placeholder_types,
    )
}
