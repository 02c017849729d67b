//! Endpoints (core/v1) and EndpointSlices (discovery.k8s.io/v1).

use std::collections::HashSet;
use std::net::IpAddr;

use super::meta::{self, MetaRules};
use super::names;
use super::render::quote;
use super::{Path, Validate, dedup, ip};
use crate::k8s::api::core::v1::{EndpointAddress, EndpointPort, Endpoints};
use crate::k8s::api::discovery::v1::{Endpoint, EndpointSlice};
use crate::{CauseType, FieldError};

const RULES: MetaRules = MetaRules::NAMESPACED_SUBDOMAIN;
const PROTOCOLS: &[&str] = &["SCTP", "TCP", "UDP"];
const ADDRESS_TYPES: &[&str] = &["FQDN", "IPv4", "IPv6"];
/// Accepted on update only, so that old slices can still be changed.
const ADDRESS_TYPES_WITH_DEPRECATED: &[&str] = &["FQDN", "IP", "IPv4", "IPv6"];
const MAX_ENDPOINTS: usize = 1000;
const MAX_ADDRESSES: usize = 100;
const MAX_PORTS: usize = 100;
const MAX_TOPOLOGY_LABELS: usize = 16;

/// `Too many: N: must have at most M items` (error.rs has no constructor for it).
fn too_many(path: &Path, actual: usize, max: usize) -> FieldError {
    FieldError {
        field: path.into(),
        cause: CauseType::TooMany,
        message: format!("Too many: {actual}: must have at most {max} items"),
    }
}

fn s(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or_default()
}

fn dns1123_label(value: &str, path: &Path) -> Vec<FieldError> {
    names::is_dns1123_label(value)
        .into_iter()
        .map(|m| FieldError::invalid(path, quote(value), &m))
        .collect()
}

fn validate_protocol(protocol: Option<&str>, path: &Path) -> Option<FieldError> {
    match protocol {
        None | Some("") => Some(FieldError::required(path, "")),
        Some(p) if !PROTOCOLS.contains(&p) => Some(FieldError::not_supported(path, p, PROTOCOLS)),
        Some(_) => None,
    }
}

fn validate_app_protocol(app_protocol: Option<&str>, path: &Path) -> Vec<FieldError> {
    let Some(ap) = app_protocol else {
        return Vec::new();
    };
    names::is_qualified_name(ap)
        .into_iter()
        .map(|m| FieldError::invalid(path, quote(ap), &m))
        .collect()
}

impl Validate for Endpoints {
    fn validate(&self, old: Option<&Self>) -> Vec<FieldError> {
        let mut errs =
            meta::validate_meta_for(&self.metadata, old.map(|o| &o.metadata), RULES, true);
        let path = Path::new("subsets");
        for (i, subset) in self.subsets.iter().flatten().enumerate() {
            let p = path.index(i);
            let ready = subset.addresses.as_deref().unwrap_or_default();
            let not_ready = subset.not_ready_addresses.as_deref().unwrap_or_default();
            if ready.is_empty() && not_ready.is_empty() {
                errs.push(FieldError::required(
                    &p,
                    "must specify `addresses` or `notReadyAddresses`",
                ));
            }
            for (j, a) in ready.iter().enumerate() {
                errs.extend(validate_endpoint_address(a, &p.child("addresses").index(j)));
            }
            for (j, a) in not_ready.iter().enumerate() {
                errs.extend(validate_endpoint_address(
                    a,
                    &p.child("notReadyAddresses").index(j),
                ));
            }
            let ports = subset.ports.as_deref().unwrap_or_default();
            for (j, port) in ports.iter().enumerate() {
                errs.extend(validate_endpoint_port(
                    port,
                    ports.len() > 1,
                    &p.child("ports").index(j),
                ));
            }
        }
        dedup(errs)
    }
}

fn validate_endpoint_address(a: &EndpointAddress, path: &Path) -> Vec<FieldError> {
    let ip_path = path.child("ip");
    let mut errs = ip::validate_ip(&ip_path, &a.ip);
    let hostname = s(&a.hostname);
    if !hostname.is_empty() {
        errs.extend(dns1123_label(hostname, &path.child("hostname")));
    }
    if let Some(node) = &a.node_name {
        for m in names::is_dns1123_subdomain(node) {
            errs.push(FieldError::invalid(path.child("nodeName"), quote(node), &m));
        }
    }
    errs.extend(ip::validate_non_special_ip(&ip_path, &a.ip));
    errs
}

fn validate_endpoint_port(port: &EndpointPort, require_name: bool, path: &Path) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let name = s(&port.name);
    if require_name && name.is_empty() {
        errs.push(FieldError::required(path.child("name"), ""));
    } else if !name.is_empty() {
        errs.extend(dns1123_label(name, &path.child("name")));
    }
    for m in names::is_valid_port_num(i64::from(port.port)) {
        errs.push(FieldError::invalid(path.child("port"), port.port, &m));
    }
    errs.extend(validate_protocol(
        port.protocol.as_deref(),
        &path.child("protocol"),
    ));
    errs.extend(validate_app_protocol(
        port.app_protocol.as_deref(),
        &path.child("appProtocol"),
    ));
    errs
}

impl Validate for EndpointSlice {
    fn validate(&self, old: Option<&Self>) -> Vec<FieldError> {
        let mut errs =
            meta::validate_meta_for(&self.metadata, old.map(|o| &o.metadata), RULES, true);
        let type_path = Path::new("addressType");
        let supported = if old.is_some() {
            ADDRESS_TYPES_WITH_DEPRECATED
        } else {
            ADDRESS_TYPES
        };
        if self.address_type.is_empty() {
            errs.push(FieldError::required(&type_path, ""));
        } else if !supported.contains(&self.address_type.as_str()) {
            errs.push(FieldError::not_supported(
                &type_path,
                &self.address_type,
                supported,
            ));
        }
        errs.extend(validate_slice_endpoints(
            &self.endpoints,
            &self.address_type,
        ));
        errs.extend(validate_slice_ports(self));
        if let Some(old) = old
            && old.address_type != self.address_type
        {
            errs.push(FieldError::invalid(
                &type_path,
                quote(&self.address_type),
                meta::FIELD_IMMUTABLE,
            ));
        }
        dedup(errs)
    }
}

fn validate_slice_endpoints(endpoints: &[Endpoint], address_type: &str) -> Vec<FieldError> {
    let path = Path::new("endpoints");
    if endpoints.len() > MAX_ENDPOINTS {
        return vec![too_many(&path, endpoints.len(), MAX_ENDPOINTS)];
    }
    let mut errs = Vec::new();
    for (i, ep) in endpoints.iter().enumerate() {
        let p = path.index(i);
        let addr_path = p.child("addresses");
        if ep.addresses.is_empty() {
            errs.push(FieldError::required(
                &addr_path,
                "must contain at least 1 address",
            ));
        } else if ep.addresses.len() > MAX_ADDRESSES {
            errs.push(too_many(&addr_path, ep.addresses.len(), MAX_ADDRESSES));
        }
        for (j, address) in ep.addresses.iter().enumerate() {
            errs.extend(validate_slice_address(
                address,
                address_type,
                &addr_path.index(j),
            ));
        }
        if let Some(node) = &ep.node_name {
            for m in names::is_dns1123_subdomain(node) {
                errs.push(FieldError::invalid(p.child("nodeName"), quote(node), &m));
            }
        }
        let topology_path = p.child("deprecatedTopology");
        if let Some(topology) = &ep.deprecated_topology {
            if topology.len() > MAX_TOPOLOGY_LABELS {
                errs.push(too_many(
                    &topology_path,
                    topology.len(),
                    MAX_TOPOLOGY_LABELS,
                ));
            }
            errs.extend(meta::validate_labels(Some(topology), &topology_path));
        }
        if let Some(hostname) = &ep.hostname {
            errs.extend(dns1123_label(hostname, &p.child("hostname")));
        }
    }
    errs
}

/// An address must fit the slice's type; unknown types are not checked (they were
/// rejected above).
fn validate_slice_address(address: &str, address_type: &str, path: &Path) -> Vec<FieldError> {
    let family = match address_type {
        "IPv4" => 4,
        "IPv6" => 6,
        "IP" => 0,
        "FQDN" => return validate_fqdn(address, path),
        _ => return Vec::new(),
    };
    let ip_errs = ip::validate_ip(path, address);
    if !ip_errs.is_empty() {
        return ip_errs;
    }
    let mut errs = Vec::new();
    match (family, ip::parse_ip_sloppy(address)) {
        (4, Some(IpAddr::V6(_))) => errs.push(FieldError::invalid(
            path,
            quote(address),
            "must be an IPv4 address",
        )),
        (6, Some(IpAddr::V4(_))) => errs.push(FieldError::invalid(
            path,
            quote(address),
            "must be an IPv6 address",
        )),
        _ => {}
    }
    errs.extend(ip::validate_non_special_ip(path, address));
    errs
}

/// apimachinery's `IsFullyQualifiedDomainName`: at least two labels, an optional final dot.
fn validate_fqdn(name: &str, path: &Path) -> Vec<FieldError> {
    if name.is_empty() {
        return vec![FieldError::required(path, "")];
    }
    let name = name.strip_suffix('.').unwrap_or(name);
    let errs = names::is_dns1123_subdomain(name);
    if !errs.is_empty() {
        return vec![FieldError::invalid(path, quote(name), &errs.join(","))];
    }
    if !name.contains('.') {
        return vec![FieldError::invalid(
            path,
            quote(name),
            "should be a domain with at least two segments separated by dots",
        )];
    }
    for label in name.split('.') {
        let errs = names::is_dns1123_label(label);
        if !errs.is_empty() {
            return vec![FieldError::invalid(path, quote(label), &errs.join(","))];
        }
    }
    Vec::new()
}

fn validate_slice_ports(slice: &EndpointSlice) -> Vec<FieldError> {
    let path = Path::new("ports");
    let ports = slice.ports.as_deref().unwrap_or_default();
    if ports.len() > MAX_PORTS {
        return vec![too_many(&path, ports.len(), MAX_PORTS)];
    }
    let mut errs = Vec::new();
    let mut names_seen = HashSet::new();
    for (i, port) in ports.iter().enumerate() {
        let p = path.index(i);
        let name = s(&port.name);
        if !name.is_empty() {
            errs.extend(dns1123_label(name, &p.child("name")));
        }
        if !names_seen.insert(name) {
            errs.push(FieldError::duplicate(p.child("name"), quote(name)));
        }
        match port.protocol.as_deref() {
            None => errs.push(FieldError::required(p.child("protocol"), "")),
            Some(proto) if !PROTOCOLS.contains(&proto) => {
                errs.push(FieldError::not_supported(
                    p.child("protocol"),
                    proto,
                    PROTOCOLS,
                ));
            }
            Some(_) => {}
        }
        errs.extend(validate_app_protocol(
            port.app_protocol.as_deref(),
            &p.child("appProtocol"),
        ));
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::defaults::ApplyDefaults;
    use crate::k8s::api::core::v1::EndpointSubset;
    use crate::validation::tests::{assert_errors, meta, strs};

    fn endpoints(ips: &[&str], ports: Vec<EndpointPort>) -> Endpoints {
        let mut ep = Endpoints {
            metadata: meta("default", "web"),
            subsets: Some(vec![EndpointSubset {
                addresses: Some(
                    ips.iter()
                        .map(|ip| EndpointAddress {
                            ip: ip.to_string(),
                            ..Default::default()
                        })
                        .collect(),
                ),
                ports: Some(ports),
                ..Default::default()
            }]),
        };
        ep.apply_defaults();
        ep
    }

    fn port(name: &str, port: i32) -> EndpointPort {
        EndpointPort {
            name: (!name.is_empty()).then(|| name.into()),
            port,
            ..Default::default()
        }
    }

    #[test]
    fn endpoints_cases() {
        let cases: Vec<(&str, Endpoints, Vec<String>)> = vec![
            (
                "valid",
                endpoints(&["10.1.0.5"], vec![port("", 80)]),
                vec![],
            ),
            (
                "bad ip",
                endpoints(&["10.1.0"], vec![port("", 80)]),
                strs(&[
                    "subsets[0].addresses[0].ip: Invalid value: \"10.1.0\": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
                    "subsets[0].addresses[0].ip: Invalid value: \"10.1.0\": must be a valid IP address",
                ]),
            ),
            (
                "loopback",
                endpoints(&["127.0.0.1"], vec![port("", 80)]),
                strs(&[
                    "subsets[0].addresses[0].ip: Invalid value: \"127.0.0.1\": may not be in the loopback range (127.0.0.0/8, ::1/128)",
                ]),
            ),
            (
                "unnamed ports",
                endpoints(&["10.1.0.5"], vec![port("", 80), port("b", 81)]),
                strs(&["subsets[0].ports[0].name: Required value"]),
            ),
            (
                "no addresses",
                Endpoints {
                    subsets: Some(vec![EndpointSubset::default()]),
                    ..endpoints(&[], vec![])
                },
                strs(&[
                    "subsets[0]: Required value: must specify `addresses` or `notReadyAddresses`",
                ]),
            ),
        ];
        for (name, ep, want) in cases {
            assert_errors(name, &ep.validate(None), &want);
        }
    }

    fn slice(address_type: &str, addresses: &[&str]) -> EndpointSlice {
        let mut s = EndpointSlice {
            metadata: meta("default", "web-abc"),
            address_type: address_type.into(),
            endpoints: vec![Endpoint {
                addresses: addresses.iter().map(|a| a.to_string()).collect(),
                ..Default::default()
            }],
            ports: Some(vec![crate::k8s::api::discovery::v1::EndpointPort {
                port: Some(80),
                ..Default::default()
            }]),
        };
        s.apply_defaults();
        s
    }

    #[test]
    fn endpoint_slice_cases() {
        let cases: Vec<(&str, EndpointSlice, Vec<String>)> = vec![
            ("valid", slice("IPv4", &["10.1.0.5"]), vec![]),
            ("valid fqdn", slice("FQDN", &["db.example.com"]), vec![]),
            (
                "bad type",
                slice("IPv5", &["10.1.0.5"]),
                strs(&[
                    "addressType: Unsupported value: \"IPv5\": supported values: \"FQDN\", \"IPv4\", \"IPv6\"",
                ]),
            ),
            (
                "ipv6 in an IPv4 slice",
                slice("IPv4", &["2001:db8::1"]),
                strs(&[
                    "endpoints[0].addresses[0]: Invalid value: \"2001:db8::1\": must be an IPv4 address",
                ]),
            ),
            (
                "no addresses",
                slice("IPv4", &[]),
                strs(&["endpoints[0].addresses: Required value: must contain at least 1 address"]),
            ),
            (
                "too many addresses",
                slice("IPv4", &["10.1.0.5"; 101]),
                strs(&["endpoints[0].addresses: Too many: 101: must have at most 100 items"]),
            ),
        ];
        for (name, s, want) in cases {
            assert_errors(name, &s.validate(None), &want);
        }
        assert_errors(
            "address type change",
            &slice("IPv6", &["2001:db8::1"]).validate(Some(&slice("IPv4", &["10.1.0.5"]))),
            &["addressType: Invalid value: \"IPv6\": field is immutable"],
        );
    }
}
