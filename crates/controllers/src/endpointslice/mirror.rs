//! Desired mirrored EndpointSlices of a selectorless Service with user-written Endpoints (pure).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{EndpointAddress, Endpoints, Service};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort, EndpointSlice};

use super::slices::{self, Group, SliceMeta, SlicePlan};
use crate::podutil;
use crate::service::{self, MANAGED_BY_LABEL, SERVICE_NAME_LABEL};

/// `managed-by` value of slices the mirroring controller writes.
pub const MIRROR_CONTROLLER_NAME: &str = "endpointslicemirroring-controller.k8s.io";
/// Endpoints with this label set to "true" are not mirrored.
pub const SKIP_MIRROR_LABEL: &str = "endpointslice.kubernetes.io/skip-mirror";
/// Most addresses mirrored per Endpoints object, as upstream.
pub const MAX_MIRRORED: usize = 1000;

/// Whether a Service's Endpoints should be mirrored at all.
pub fn should_mirror(svc: &Service, endpoints: Option<&Endpoints>) -> bool {
    let Some(ep) = endpoints else { return false };
    service::selector(svc).is_none()
        && svc.spec.as_ref().and_then(|s| s.type_.as_deref()) != Some("ExternalName")
        && podutil::labels(&ep.metadata)
            .get(SKIP_MIRROR_LABEL)
            .map(String::as_str)
            != Some("true")
}

/// The mirroring plan: slices that carry the Endpoints' addresses, or none when not mirrored.
pub fn plan(
    svc: &Service,
    endpoints: Option<&Endpoints>,
    existing: &[&EndpointSlice],
    max_per_slice: usize,
) -> SlicePlan {
    let meta = mirror_meta(svc, endpoints);
    let groups = match endpoints {
        Some(ep) if should_mirror(svc, Some(ep)) => groups(ep),
        _ => Vec::new(),
    };
    slices::plan_slices(&groups, existing, &meta, max_per_slice, &[])
}

fn mirror_meta(svc: &Service, endpoints: Option<&Endpoints>) -> SliceMeta {
    // Upstream copies the Endpoints' labels (not the Service's) onto mirrored slices.
    let mut labels = endpoints
        .and_then(|e| e.metadata.labels.clone())
        .unwrap_or_default();
    labels.remove(SKIP_MIRROR_LABEL);
    labels.insert(
        SERVICE_NAME_LABEL.into(),
        svc.metadata.name.clone().unwrap_or_default(),
    );
    labels.insert(MANAGED_BY_LABEL.into(), MIRROR_CONTROLLER_NAME.into());
    SliceMeta {
        namespace: svc.metadata.namespace.clone().unwrap_or_default(),
        generate_name: format!("{}-", svc.metadata.name.as_deref().unwrap_or("")),
        labels,
        owner: podutil::owner_ref("v1", "Service", &svc.metadata),
    }
}

fn groups(ep: &Endpoints) -> Vec<Group> {
    // Subsets with the same ports share slices, so they are grouped by the canonical port list.
    let mut groups: BTreeMap<(String, String), Group> = BTreeMap::new();
    let mut mirrored = 0;
    for subset in ep.subsets.iter().flatten() {
        let ports: Vec<EndpointPort> = subset
            .ports
            .iter()
            .flatten()
            .map(|p| EndpointPort {
                name: Some(p.name.clone().unwrap_or_default()),
                port: Some(p.port),
                protocol: Some(p.protocol.clone().unwrap_or_else(|| "TCP".into())),
                app_protocol: p.app_protocol.clone(),
            })
            .collect();
        let ports = slices::canonical_ports(ports);
        let ports_key = format!("{ports:?}");
        let ready = subset.addresses.iter().flatten().map(|a| (a, true));
        let not_ready = subset
            .not_ready_addresses
            .iter()
            .flatten()
            .map(|a| (a, false));
        for (addr, is_ready) in ready.chain(not_ready) {
            if mirrored >= MAX_MIRRORED {
                break;
            }
            mirrored += 1;
            let at = service::address_type_of(&addr.ip).to_string();
            groups
                .entry((at.clone(), ports_key.clone()))
                .or_insert_with(|| Group {
                    address_type: at,
                    ports: ports.clone(),
                    endpoints: Vec::new(),
                })
                .endpoints
                .push(mirror_endpoint(addr, is_ready));
        }
    }
    groups.into_values().collect()
}

fn mirror_endpoint(addr: &EndpointAddress, ready: bool) -> Endpoint {
    Endpoint {
        addresses: vec![addr.ip.clone()],
        conditions: Some(EndpointConditions {
            ready: Some(ready),
            ..EndpointConditions::default()
        }),
        hostname: addr.hostname.clone(),
        node_name: addr.node_name.clone(),
        target_ref: addr.target_ref.clone(),
        ..Endpoint::default()
    }
}
