//! Fitting desired endpoints into existing EndpointSlices with minimal churn (pure).
//!
//! Shared by the EndpointSlice controller and the mirroring controller. Endpoints are grouped
//! by (address type, ports); an unchanged endpoint stays in its slice, a slice is only written
//! when something in it changed, new endpoints go into slices that are written anyway first,
//! and a create paired with a delete becomes one update (as the upstream reconciler does).

use std::collections::{BTreeMap, HashSet};

use k8s_openapi::api::discovery::v1::{Endpoint, EndpointPort, EndpointSlice};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

/// Endpoints that share an address type and a port list, i.e. may share a slice.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub address_type: String,
    /// Sorted by (name, port, protocol).
    pub ports: Vec<EndpointPort>,
    pub endpoints: Vec<Endpoint>,
}

/// What every slice of one Service carries.
#[derive(Debug, Clone)]
pub struct SliceMeta {
    pub namespace: String,
    pub generate_name: String,
    pub labels: BTreeMap<String, String>,
    pub owner: OwnerReference,
}

/// Writes that take existing slices to the desired ones.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SlicePlan {
    pub create: Vec<EndpointSlice>,
    /// Full objects carrying the existing name and resourceVersion (for optimistic concurrency).
    pub update: Vec<EndpointSlice>,
    pub delete: Vec<String>,
}

impl SlicePlan {
    pub fn is_empty(&self) -> bool {
        self.create.is_empty() && self.update.is_empty() && self.delete.is_empty()
    }
}

/// Ports sorted canonically, with `name` always present (kubectl describe needs the key).
pub fn canonical_ports(mut ports: Vec<EndpointPort>) -> Vec<EndpointPort> {
    for p in &mut ports {
        p.name.get_or_insert_with(String::new);
        p.protocol.get_or_insert_with(|| "TCP".into());
    }
    ports.sort_by(|a, b| (&a.name, a.port, &a.protocol).cmp(&(&b.name, b.port, &b.protocol)));
    ports
}

/// Identity of an endpoint across writes: its target and addresses.
fn endpoint_key(ep: &Endpoint) -> String {
    let target = ep
        .target_ref
        .as_ref()
        .map(|t| {
            format!(
                "{}/{}",
                t.name.as_deref().unwrap_or(""),
                t.uid.as_deref().unwrap_or("")
            )
        })
        .unwrap_or_default();
    format!("{target}@{}", ep.addresses.join(","))
}

struct Working<'a> {
    existing: &'a EndpointSlice,
    endpoints: Vec<Endpoint>,
    changed: bool,
}

/// Plan the writes. `placeholder_types`: address types that get an empty slice when they have
/// no endpoints at all (the EndpointSlice controller's placeholder; empty for mirroring).
pub fn plan_slices(
    groups: &[Group],
    existing: &[&EndpointSlice],
    meta: &SliceMeta,
    max_per_slice: usize,
    placeholder_types: &[&str],
) -> SlicePlan {
    let max = max_per_slice.max(1);
    let mut existing: Vec<&EndpointSlice> = existing.to_vec();
    existing.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    let mut plan = SlicePlan::default();
    let mut used: HashSet<&str> = HashSet::new();
    // Slices that must go unless reused for a create.
    let mut to_delete: Vec<&EndpointSlice> = Vec::new();
    let mut creates: Vec<(String, Vec<EndpointPort>, Vec<Endpoint>)> = Vec::new();

    for g in groups.iter().filter(|g| !g.endpoints.is_empty()) {
        let ports = canonical_ports(g.ports.clone());
        let desired: BTreeMap<String, &Endpoint> =
            g.endpoints.iter().map(|e| (endpoint_key(e), e)).collect();
        let mut placed: HashSet<String> = HashSet::new();
        let mut work: Vec<Working> = Vec::new();
        let mut overflow: Vec<Endpoint> = Vec::new();
        let matching: Vec<&EndpointSlice> = existing
            .iter()
            .copied()
            .filter(|s| {
                s.address_type == g.address_type
                    && canonical_ports(s.ports.clone().unwrap_or_default()) == ports
                    && !used.contains(s.metadata.name.as_deref().unwrap_or(""))
            })
            .collect();
        for s in matching {
            used.insert(s.metadata.name.as_deref().unwrap_or(""));
            let mut w = Working {
                existing: s,
                endpoints: Vec::new(),
                changed: false,
            };
            for ep in &s.endpoints {
                let key = endpoint_key(ep);
                match desired.get(&key) {
                    Some(want) if placed.insert(key) => {
                        if *want != ep {
                            w.changed = true;
                        }
                        if w.endpoints.len() < max {
                            w.endpoints.push((*want).clone());
                        } else {
                            w.changed = true;
                            overflow.push((*want).clone());
                        }
                    }
                    // Gone, or a duplicate of one placed in an earlier slice.
                    _ => w.changed = true,
                }
            }
            work.push(w);
        }
        let mut remaining: Vec<Endpoint> = overflow;
        remaining.extend(
            g.endpoints
                .iter()
                .filter(|e| !placed.contains(&endpoint_key(e)))
                .cloned(),
        );
        // Fill slices that are written anyway first, then the fullest unchanged ones.
        work.sort_by_key(|w| (!w.changed, std::cmp::Reverse(w.endpoints.len())));
        let mut remaining = remaining.into_iter().peekable();
        for w in &mut work {
            while w.endpoints.len() < max {
                let Some(ep) = remaining.next() else { break };
                w.endpoints.push(ep);
                w.changed = true;
            }
        }
        let rest: Vec<Endpoint> = remaining.collect();
        for chunk in rest.chunks(max) {
            creates.push((g.address_type.clone(), ports.clone(), chunk.to_vec()));
        }
        for w in work {
            if w.endpoints.is_empty() {
                to_delete.push(w.existing);
            } else if w.changed || needs_meta_update(w.existing, meta) {
                plan.update
                    .push(with_meta(w.existing, meta, w.endpoints, &ports));
            }
        }
    }

    // Address types with no endpoints at all keep (or get) one placeholder slice.
    for at in placeholder_types {
        let has_endpoints = groups
            .iter()
            .any(|g| g.address_type == *at && !g.endpoints.is_empty());
        if has_endpoints {
            continue;
        }
        let placeholder = existing.iter().find(|s| {
            s.address_type == *at
                && s.endpoints.is_empty()
                && s.ports.as_ref().is_none_or(|p| p.is_empty())
                && !used.contains(s.metadata.name.as_deref().unwrap_or(""))
        });
        match placeholder {
            Some(s) => {
                used.insert(s.metadata.name.as_deref().unwrap_or(""));
                if needs_meta_update(s, meta) || s.ports.is_none() {
                    plan.update.push(with_meta(s, meta, Vec::new(), &[]));
                }
            }
            None => creates.push((at.to_string(), Vec::new(), Vec::new())),
        }
    }

    // Slices no group claimed (ports or address type no longer wanted).
    for s in &existing {
        if !used.contains(s.metadata.name.as_deref().unwrap_or("")) {
            to_delete.push(s);
        }
    }

    // Reuse a slice that would be deleted for each create: one update instead of two writes.
    let mut to_delete = to_delete.into_iter();
    for (address_type, ports, endpoints) in creates {
        match to_delete.next() {
            Some(old) => {
                let mut s = with_meta(old, meta, endpoints, &ports);
                s.address_type = address_type;
                plan.update.push(s);
            }
            None => plan
                .create
                .push(new_slice(meta, address_type, ports, endpoints)),
        }
    }
    plan.delete = to_delete.filter_map(|s| s.metadata.name.clone()).collect();
    plan
}

fn needs_meta_update(s: &EndpointSlice, meta: &SliceMeta) -> bool {
    s.metadata.labels.as_ref() != Some(&meta.labels)
        || !s
            .metadata
            .owner_references
            .iter()
            .flatten()
            .any(|o| o.uid == meta.owner.uid && o.controller == Some(true))
}

fn with_meta(
    old: &EndpointSlice,
    meta: &SliceMeta,
    endpoints: Vec<Endpoint>,
    ports: &[EndpointPort],
) -> EndpointSlice {
    let mut s = old.clone();
    s.metadata.labels = Some(meta.labels.clone());
    let mut owners: Vec<OwnerReference> = s
        .metadata
        .owner_references
        .take()
        .unwrap_or_default()
        .into_iter()
        .filter(|o| o.uid != meta.owner.uid && o.controller != Some(true))
        .collect();
    owners.insert(0, meta.owner.clone());
    s.metadata.owner_references = Some(owners);
    s.metadata.managed_fields = None;
    s.endpoints = endpoints;
    s.ports = Some(ports.to_vec());
    s
}

fn new_slice(
    meta: &SliceMeta,
    address_type: String,
    ports: Vec<EndpointPort>,
    endpoints: Vec<Endpoint>,
) -> EndpointSlice {
    EndpointSlice {
        metadata: ObjectMeta {
            generate_name: Some(meta.generate_name.clone()),
            namespace: Some(meta.namespace.clone()),
            labels: Some(meta.labels.clone()),
            owner_references: Some(vec![meta.owner.clone()]),
            ..ObjectMeta::default()
        },
        address_type,
        endpoints,
        ports: Some(ports),
    }
}
