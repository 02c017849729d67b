//! Services (core `ValidateService`, `ValidateServiceUpdate`).

use std::collections::HashSet;

use super::meta::{self, MetaRules};
use super::names;
use super::pod::validate_port_num_or_name;
use super::render::{self, quote};
use super::{Path, Validate, dedup, ip};
use crate::FieldError;
use crate::k8s::api::core::v1::{Service, ServicePort, ServiceSpec};

const SERVICE_TYPES: &[&str] = &["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"];
const SESSION_AFFINITIES: &[&str] = &["ClientIP", "None"];
const PROTOCOLS: &[&str] = &["SCTP", "TCP", "UDP"];
const IP_FAMILIES: &[&str] = &["IPv4", "IPv6"];
const IP_FAMILY_POLICIES: &[&str] = &["PreferDualStack", "RequireDualStack", "SingleStack"];
const TRAFFIC_POLICIES: &[&str] = &["Cluster", "Local"];
/// Longest ClientIP session affinity (a day).
const MAX_CLIENT_IP_AFFINITY_SECONDS: i32 = 86400;
/// kube-apiserver's default `--service-node-port-range`.
pub const NODE_PORT_RANGE: (i32, i32) = (30000, 32767);

const RULES: MetaRules = MetaRules {
    namespaced: true,
    name_fn: names::name_is_dns1035_label,
    kube_finalizers: true,
};

fn s(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or_default()
}

fn cluster_ips(spec: &ServiceSpec) -> &[String] {
    spec.cluster_ips.as_deref().unwrap_or_default()
}

/// `clusterIPs: ["None"]`: no virtual IP, DNS returns the endpoints.
fn is_headless(spec: &ServiceSpec) -> bool {
    cluster_ips(spec) == ["None"]
}

/// NodePort and LoadBalancer services, and ClusterIP ones with external IPs.
fn externally_accessible(spec: &ServiceSpec) -> bool {
    match s(&spec.type_) {
        "LoadBalancer" | "NodePort" => true,
        "ClusterIP" => spec
            .external_ips
            .as_ref()
            .is_some_and(|ips| !ips.is_empty()),
        _ => false,
    }
}

/// LoadBalancer services that keep client source IPs need a health-check node port.
fn needs_health_check(spec: &ServiceSpec) -> bool {
    s(&spec.type_) == "LoadBalancer" && s(&spec.external_traffic_policy) == "Local"
}

impl Validate for Service {
    fn validate(&self, old: Option<&Self>) -> Vec<FieldError> {
        let empty = ServiceSpec::default();
        let spec = self.spec.as_ref().unwrap_or(&empty);
        let mut errs = Vec::new();
        if let Some(old) = old {
            let old_spec = old.spec.as_ref().unwrap_or(&empty);
            errs.extend(meta::validate_object_meta_update(
                &self.metadata,
                &old.metadata,
                RULES,
            ));
            errs.extend(validate_cluster_ips_update(old_spec, spec));
            errs.extend(validate_ip_families_update(old_spec, spec));
            errs.extend(validate_load_balancer_class(Some(old_spec), spec));
            if needs_health_check(old_spec)
                && needs_health_check(spec)
                && old_spec.health_check_node_port != spec.health_check_node_port
            {
                errs.push(FieldError::forbidden(
                    "spec.healthCheckNodePort",
                    meta::FIELD_IMMUTABLE,
                ));
            }
        }
        errs.extend(meta::validate_object_meta(&self.metadata, RULES));
        errs.extend(validate_topology_annotations(self));
        errs.extend(validate_spec(spec));
        dedup(errs)
    }
}

fn validate_topology_annotations(svc: &Service) -> Option<FieldError> {
    const MODE: &str = "service.kubernetes.io/topology-mode";
    const HINTS: &str = "service.kubernetes.io/topology-aware-hints";
    let annotations = svc.metadata.annotations.as_ref()?;
    let (mode, hints) = (annotations.get(MODE)?, annotations.get(HINTS)?);
    (mode != hints).then(|| {
        FieldError::invalid(
            Path::new("metadata").child("annotations").key(MODE),
            quote(mode),
            &format!("must match annotations[{HINTS}] when both are specified"),
        )
    })
}

/// `ValidateService` minus metadata, in upstream's order.
fn validate_spec(spec: &ServiceSpec) -> Vec<FieldError> {
    let path = Path::new("spec");
    let ports = spec.ports.as_deref().unwrap_or_default();
    let svc_type = s(&spec.type_);
    let headless = is_headless(spec);
    let mut errs = Vec::new();

    if ports.is_empty() && !headless && svc_type != "ExternalName" {
        errs.push(FieldError::required(path.child("ports"), ""));
    }
    match svc_type {
        "LoadBalancer" | "NodePort" if headless => {
            errs.push(FieldError::invalid(
                path.child("clusterIPs").index(0),
                quote("None"),
                &format!("may not be set to 'None' for {svc_type} services"),
            ));
        }
        "ExternalName" => {
            if !cluster_ips(spec).is_empty() {
                errs.push(FieldError::forbidden(
                    path.child("clusterIPs"),
                    "may not be set for ExternalName services",
                ));
            }
            if spec.ip_families.as_ref().is_some_and(|f| !f.is_empty()) {
                errs.push(FieldError::forbidden(
                    path.child("ipFamilies"),
                    "may not be set for ExternalName services",
                ));
            }
            if spec.ip_family_policy.is_some() {
                errs.push(FieldError::forbidden(
                    path.child("ipFamilyPolicy"),
                    "may not be set for ExternalName services",
                ));
            }
            // A CNAME may end in a dot to mark it fully qualified.
            let cname = s(&spec.external_name)
                .strip_suffix('.')
                .unwrap_or(s(&spec.external_name));
            if cname.is_empty() {
                errs.push(FieldError::required(path.child("externalName"), ""));
            } else {
                for m in names::is_dns1123_subdomain(cname) {
                    errs.push(FieldError::invalid(
                        path.child("externalName"),
                        quote(cname),
                        &m,
                    ));
                }
            }
        }
        _ => {}
    }

    let mut port_names = HashSet::new();
    for (i, port) in ports.iter().enumerate() {
        errs.extend(validate_service_port(
            port,
            ports.len() > 1,
            &mut port_names,
            &path.child("ports").index(i),
        ));
    }
    if spec.selector.is_some() {
        errs.extend(meta::validate_labels(
            spec.selector.as_ref(),
            &path.child("selector"),
        ));
    }

    let affinity = s(&spec.session_affinity);
    if affinity.is_empty() {
        errs.push(FieldError::required(path.child("sessionAffinity"), ""));
    } else if !SESSION_AFFINITIES.contains(&affinity) {
        errs.push(FieldError::not_supported(
            path.child("sessionAffinity"),
            affinity,
            SESSION_AFFINITIES,
        ));
    }
    let config_path = path.child("sessionAffinityConfig");
    match affinity {
        "ClientIP" => errs.extend(validate_client_ip_affinity(spec, &config_path)),
        "None" if spec.session_affinity_config.is_some() => {
            errs.push(FieldError::forbidden(
                &config_path,
                "must not be set when session affinity is None",
            ));
        }
        _ => {}
    }

    errs.extend(validate_cluster_ips_related(spec));

    for (i, ext) in spec.external_ips.iter().flatten().enumerate() {
        let p = path.child("externalIPs").index(i);
        let ip_errs = ip::validate_ip(&p, ext);
        if ip_errs.is_empty() {
            errs.extend(ip::validate_non_special_ip(&p, ext));
        } else {
            errs.extend(ip_errs);
        }
    }

    if svc_type.is_empty() {
        errs.push(FieldError::required(path.child("type"), ""));
    } else if !SERVICE_TYPES.contains(&svc_type) {
        errs.push(FieldError::not_supported(
            path.child("type"),
            svc_type,
            SERVICE_TYPES,
        ));
    }
    for (i, port) in ports.iter().enumerate() {
        let node_port = port.node_port.unwrap_or(0);
        if node_port == 0 {
            continue;
        }
        let p = path.child("ports").index(i).child("nodePort");
        if svc_type == "ClusterIP" {
            errs.push(FieldError::forbidden(
                &p,
                "may not be used when `type` is 'ClusterIP'",
            ));
        } else if !(NODE_PORT_RANGE.0..=NODE_PORT_RANGE.1).contains(&node_port) {
            // Reported by the node-port allocator upstream; checked here so that a bad
            // value never reaches storage.
            errs.push(FieldError::invalid(
                &p,
                node_port,
                &format!(
                    "provided port is not in the valid range. The range of valid ports is {}-{}",
                    NODE_PORT_RANGE.0, NODE_PORT_RANGE.1
                ),
            ));
        }
    }

    let mut node_ports = HashSet::new();
    for (i, port) in ports.iter().enumerate() {
        let node_port = port.node_port.unwrap_or(0);
        if node_port != 0 && !node_ports.insert((s(&port.protocol), node_port)) {
            errs.push(FieldError::duplicate(
                path.child("ports").index(i).child("nodePort"),
                node_port,
            ));
        }
    }
    let mut port_keys = HashSet::new();
    for (i, port) in ports.iter().enumerate() {
        if !port_keys.insert((s(&port.protocol), port.port)) {
            errs.push(FieldError::duplicate(
                path.child("ports").index(i),
                render::service_port_key(s(&port.protocol), port.port),
            ));
        }
    }

    let source_ranges = spec
        .load_balancer_source_ranges
        .as_deref()
        .unwrap_or_default();
    if !source_ranges.is_empty() {
        // Upstream spells this path with a capital L.
        let p = path.child("LoadBalancerSourceRanges");
        if svc_type != "LoadBalancer" {
            errs.push(FieldError::forbidden(
                &p,
                "may only be used when `type` is 'LoadBalancer'",
            ));
        }
        for (i, range) in source_ranges.iter().enumerate() {
            errs.extend(validate_cidr(range.trim(), &p.index(i)));
        }
    }
    if spec.allocate_load_balancer_node_ports.is_some() && svc_type != "LoadBalancer" {
        errs.push(FieldError::forbidden(
            path.child("allocateLoadBalancerNodePorts"),
            "may only be used when `type` is 'LoadBalancer'",
        ));
    }
    if svc_type == "LoadBalancer" && spec.allocate_load_balancer_node_ports.is_none() {
        // Upstream reports this one without the `spec.` prefix.
        errs.push(FieldError::required("allocateLoadBalancerNodePorts", ""));
    }
    errs.extend(validate_load_balancer_class(None, spec));
    errs.extend(validate_traffic_policies(spec, &path));
    errs
}

fn validate_service_port(
    port: &ServicePort,
    require_name: bool,
    names: &mut HashSet<String>,
    path: &Path,
) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let name = s(&port.name);
    if require_name && name.is_empty() {
        errs.push(FieldError::required(path.child("name"), ""));
    } else if !name.is_empty() {
        for m in names::is_dns1123_label(name) {
            errs.push(FieldError::invalid(path.child("name"), quote(name), &m));
        }
        if !names.insert(name.to_string()) {
            errs.push(FieldError::duplicate(path.child("name"), quote(name)));
        }
    }
    for m in names::is_valid_port_num(i64::from(port.port)) {
        errs.push(FieldError::invalid(path.child("port"), port.port, &m));
    }
    let protocol = s(&port.protocol);
    if protocol.is_empty() {
        errs.push(FieldError::required(path.child("protocol"), ""));
    } else if !PROTOCOLS.contains(&protocol) {
        errs.push(FieldError::not_supported(
            path.child("protocol"),
            protocol,
            PROTOCOLS,
        ));
    }
    // An unset targetPort is Go's zero IntOrString, the integer 0.
    let target = port
        .target_port
        .clone()
        .unwrap_or(crate::k8s::apimachinery::pkg::util::intstr::IntOrString::Int(0));
    errs.extend(validate_port_num_or_name(
        &target,
        &path.child("targetPort"),
    ));
    if let Some(app_protocol) = &port.app_protocol {
        for m in names::is_qualified_name(app_protocol) {
            errs.push(FieldError::invalid(
                path.child("appProtocol"),
                quote(app_protocol),
                &m,
            ));
        }
    }
    errs
}

fn validate_client_ip_affinity(spec: &ServiceSpec, path: &Path) -> Vec<FieldError> {
    let detail = "when session affinity type is ClientIP";
    let Some(config) = &spec.session_affinity_config else {
        return vec![FieldError::required(path, detail)];
    };
    let Some(client_ip) = &config.client_ip else {
        return vec![FieldError::required(path.child("clientIP"), detail)];
    };
    let timeout_path = path.child("clientIP").child("timeoutSeconds");
    match client_ip.timeout_seconds {
        None => vec![FieldError::required(&timeout_path, detail)],
        Some(t) if t <= 0 || t > MAX_CLIENT_IP_AFFINITY_SECONDS => vec![FieldError::invalid(
            &timeout_path,
            t,
            &format!("must be greater than 0 and less than {MAX_CLIENT_IP_AFFINITY_SECONDS}"),
        )],
        Some(_) => Vec::new(),
    }
}

/// A CIDR in a legacy field (sloppy, like the IPs).
fn validate_cidr(value: &str, path: &Path) -> Vec<FieldError> {
    let valid = value.split_once('/').is_some_and(|(addr, prefix)| {
        let max = match ip::parse_ip_sloppy(addr) {
            Some(std::net::IpAddr::V4(_)) if !addr.contains(':') => 32,
            Some(_) => 128,
            None => return false,
        };
        !prefix.is_empty() && prefix.len() <= 3 && prefix.parse::<u8>().is_ok_and(|p| p <= max)
    });
    if valid {
        Vec::new()
    } else {
        vec![FieldError::invalid(
            path,
            quote(value),
            "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)",
        )]
    }
}

/// `loadBalancerClass`: only for LoadBalancer services, and fixed once set on one.
fn validate_load_balancer_class(old: Option<&ServiceSpec>, spec: &ServiceSpec) -> Vec<FieldError> {
    let path = Path::new("spec").child("loadBalancerClass");
    let is_lb = |sp: &ServiceSpec| s(&sp.type_) == "LoadBalancer";
    let mut errs = Vec::new();
    if let Some(old) = old {
        if is_lb(old) && is_lb(spec) && old.load_balancer_class != spec.load_balancer_class {
            let value = spec
                .load_balancer_class
                .as_deref()
                .map_or(quote("null"), quote);
            errs.push(FieldError::invalid(&path, value, "may not change once set"));
        }
        return errs;
    }
    match (&spec.load_balancer_class, is_lb(spec)) {
        (Some(class), true) => {
            for m in names::is_qualified_name(class) {
                errs.push(FieldError::invalid(&path, quote(class), &m));
            }
        }
        (Some(_), false) => errs.push(FieldError::forbidden(
            &path,
            "may only be used when `type` is 'LoadBalancer'",
        )),
        (None, _) => {}
    }
    errs
}

fn validate_traffic_policies(spec: &ServiceSpec, path: &Path) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let etp = s(&spec.external_traffic_policy);
    let etp_path = path.child("externalTrafficPolicy");
    if !externally_accessible(spec) {
        if !etp.is_empty() {
            errs.push(FieldError::invalid(
                &etp_path,
                quote(etp),
                "may only be set for externally-accessible services",
            ));
        }
    } else if etp.is_empty() {
        errs.push(FieldError::required(&etp_path, ""));
    } else if !TRAFFIC_POLICIES.contains(&etp) {
        errs.push(FieldError::not_supported(&etp_path, etp, TRAFFIC_POLICIES));
    }

    let hc = spec.health_check_node_port.unwrap_or(0);
    let hc_path = path.child("healthCheckNodePort");
    if !needs_health_check(spec) {
        if hc != 0 {
            errs.push(FieldError::invalid(
                &hc_path,
                hc,
                "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'",
            ));
        }
    } else if hc != 0 {
        // A missing port is left to the allocator, which assigns one.
        for m in names::is_valid_port_num(i64::from(hc)) {
            errs.push(FieldError::invalid(&hc_path, hc, &m));
        }
    }

    let itp_path = path.child("internalTrafficPolicy");
    match spec.internal_traffic_policy.as_deref() {
        None if matches!(s(&spec.type_), "NodePort" | "LoadBalancer" | "ClusterIP") => {
            errs.push(FieldError::required(&itp_path, ""));
        }
        Some(itp) if !TRAFFIC_POLICIES.contains(&itp) => {
            errs.push(FieldError::not_supported(&itp_path, itp, TRAFFIC_POLICIES));
        }
        _ => {}
    }
    if let Some(td) = spec
        .traffic_distribution
        .as_deref()
        .filter(|td| *td != "PreferClose")
    {
        errs.push(FieldError::not_supported(
            path.child("trafficDistribution"),
            td,
            &["PreferClose"],
        ));
    }
    errs
}

/// clusterIP, clusterIPs, ipFamilies and ipFamilyPolicy, which must agree.
fn validate_cluster_ips_related(spec: &ServiceSpec) -> Vec<FieldError> {
    if s(&spec.type_) == "ExternalName" {
        return Vec::new();
    }
    let path = Path::new("spec");
    let ips_path = path.child("clusterIPs");
    let ips = cluster_ips(spec);
    let ips_value = render::string_slice(spec.cluster_ips.as_deref());
    let mut errs = Vec::new();

    let cluster_ip = s(&spec.cluster_ip);
    if !cluster_ip.is_empty() {
        if ips.is_empty() {
            errs.push(FieldError::required(&ips_path, ""));
        } else if ips[0] != cluster_ip {
            errs.push(FieldError::invalid(
                &ips_path,
                &ips_value,
                "first value must match `clusterIP`",
            ));
        }
    } else if !ips.is_empty() {
        errs.push(FieldError::invalid(
            &ips_path,
            &ips_value,
            "must be empty when `clusterIP` is not specified",
        ));
    }

    let families = spec.ip_families.as_deref().unwrap_or_default();
    let mut seen = HashSet::new();
    for (i, family) in families.iter().enumerate() {
        let p = path.child("ipFamilies").index(i);
        if !IP_FAMILIES.contains(&family.as_str()) {
            errs.push(FieldError::not_supported(&p, family, IP_FAMILIES));
        }
        if !seen.insert(family.as_str()) {
            errs.push(FieldError::duplicate(&p, quote(family)));
        }
    }
    if let Some(policy) = spec
        .ip_family_policy
        .as_deref()
        .filter(|p| !IP_FAMILY_POLICIES.contains(p))
    {
        errs.push(FieldError::not_supported(
            path.child("ipFamilyPolicy"),
            policy,
            IP_FAMILY_POLICIES,
        ));
    }

    let mut has_invalid = false;
    for (i, ip) in ips.iter().enumerate() {
        if i == 0 && ip == "None" {
            if ips.len() > 1 {
                has_invalid = true;
                errs.push(FieldError::invalid(
                    &ips_path,
                    &ips_value,
                    "'None' must be the first and only value",
                ));
            }
            continue;
        }
        let ip_errs = ip::validate_ip(&ips_path.index(i), ip);
        has_invalid |= !ip_errs.is_empty();
        errs.extend(ip_errs);
    }
    if ips.len() > 2 {
        errs.push(FieldError::invalid(
            &ips_path,
            &ips_value,
            "may only hold up to 2 values",
        ));
    }
    if has_invalid {
        return errs;
    }
    if ips.len() > 1 {
        let v6 = ips.iter().filter(|ip| is_ipv6(ip)).count();
        if v6 != 1 || ips.len() != 2 {
            errs.push(FieldError::invalid(
                &ips_path,
                &ips_value,
                "may specify no more than one IP for each IP family",
            ));
        }
    }
    if !is_headless(spec) {
        for (i, (ip, family)) in ips.iter().zip(families).enumerate() {
            let wrong = match family.as_str() {
                "IPv4" => is_ipv6(ip).then_some("IPv4"),
                "IPv6" => (!is_ipv6(ip)).then_some("IPv6"),
                _ => None,
            };
            if let Some(expected) = wrong {
                errs.push(FieldError::invalid(
                    ips_path.index(i),
                    quote(ip),
                    &format!("expected an {expected} value as indicated by `ipFamilies[{i}]`"),
                ));
            }
        }
    }
    errs
}

fn is_ipv6(ip: &str) -> bool {
    matches!(ip::parse_ip_sloppy(ip), Some(std::net::IpAddr::V6(_)))
}

/// Cluster IPs can be added (dual-stack upgrade) or the secondary removed, but the primary
/// never changes, except when the Service turns into or out of ExternalName.
fn validate_cluster_ips_update(old: &ServiceSpec, new: &ServiceSpec) -> Vec<FieldError> {
    if s(&new.type_) == "ExternalName" || s(&old.type_) == "ExternalName" {
        return Vec::new();
    }
    if is_headless(old) && is_headless(new) {
        return Vec::new();
    }
    let (old_ips, new_ips) = (cluster_ips(old), cluster_ips(new));
    let value = render::string_slice(new.cluster_ips.as_deref());
    let path = |i: usize| Path::new("spec").child("clusterIPs").index(i);
    let mut errs = Vec::new();
    if old_ips.len() == new_ips.len() {
        for (i, (o, n)) in old_ips.iter().zip(new_ips).enumerate() {
            if o != n {
                errs.push(FieldError::invalid(
                    path(i),
                    &value,
                    "may not change once set",
                ));
            }
        }
    } else if old_ips.len() > new_ips.len() {
        if new_ips.is_empty() {
            errs.push(FieldError::invalid(
                path(0),
                &value,
                "primary clusterIP can not be unset",
            ));
        }
        if !old_ips.is_empty() && !new_ips.is_empty() && new_ips[0] != old_ips[0] {
            errs.push(FieldError::invalid(
                path(0),
                &value,
                "may not change once set",
            ));
        }
        if new_ips.len() == 1 && new.ip_family_policy.as_deref() != Some("SingleStack") {
            errs.push(FieldError::invalid(
                "spec.ipFamilyPolicy",
                new.ip_family_policy.as_deref().map_or(quote("null"), quote),
                "must be set to 'SingleStack' when releasing the secondary clusterIP",
            ));
        }
    } else if !old_ips.is_empty() && new_ips[0] != old_ips[0] {
        errs.push(FieldError::invalid(
            path(0),
            &value,
            "may not change once set",
        ));
    }
    errs
}

/// Same rules for ipFamilies; headless Services may change families freely.
fn validate_ip_families_update(old: &ServiceSpec, new: &ServiceSpec) -> Vec<FieldError> {
    if s(&new.type_) == "ExternalName"
        || s(&old.type_) == "ExternalName"
        || is_headless(old)
        || is_headless(new)
    {
        return Vec::new();
    }
    let old_f = old.ip_families.as_deref().unwrap_or_default();
    let new_f = new.ip_families.as_deref().unwrap_or_default();
    let families_value = render::string_slice(new.ip_families.as_deref());
    // Upstream prints the clusterIPs as the value of some ipFamilies errors.
    let ips_value = render::string_slice(new.cluster_ips.as_deref());
    let path = Path::new("spec").child("ipFamilies").index(0);
    let mut errs = Vec::new();
    if old_f.len() == new_f.len() {
        for (o, n) in old_f.iter().zip(new_f) {
            if o != n {
                errs.push(FieldError::invalid(
                    &path,
                    &families_value,
                    "may not change once set",
                ));
            }
        }
    } else if old_f.len() > new_f.len() {
        if cluster_ips(new).is_empty() {
            errs.push(FieldError::invalid(
                &path,
                &families_value,
                "primary ipFamily can not be unset",
            ));
        }
        if !new_f.is_empty() && new_f[0] != old_f[0] {
            errs.push(FieldError::invalid(
                &path,
                &ips_value,
                "may not change once set",
            ));
        }
        if new_f.len() == 1 && new.ip_family_policy.as_deref() != Some("SingleStack") {
            errs.push(FieldError::invalid(
                "spec.ipFamilyPolicy",
                new.ip_family_policy.as_deref().map_or(quote("null"), quote),
                "must be set to 'SingleStack' when releasing the secondary ipFamily",
            ));
        }
    } else if !old_f.is_empty() && !new_f.is_empty() && new_f[0] != old_f[0] {
        errs.push(FieldError::invalid(
            &path,
            &ips_value,
            "may not change once set",
        ));
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::defaults::ApplyDefaults;
    use crate::k8s::apimachinery::pkg::util::intstr::IntOrString;
    use crate::validation::tests::{assert_errors, meta, strs};

    fn port(port: i32) -> ServicePort {
        ServicePort {
            port,
            ..Default::default()
        }
    }

    /// A defaulted ClusterIP service with an allocated IP.
    fn service(f: impl FnOnce(&mut ServiceSpec)) -> Service {
        let mut svc = Service {
            metadata: meta("default", "web"),
            spec: Some(ServiceSpec {
                selector: Some([("app".to_string(), "web".to_string())].into()),
                ports: Some(vec![port(80)]),
                ..Default::default()
            }),
            ..Default::default()
        };
        f(svc.spec.as_mut().unwrap());
        svc.apply_defaults();
        svc
    }

    fn allocated(ip: &str) -> Service {
        service(|s| s.cluster_ip = Some(ip.into()))
    }

    #[test]
    fn service_create_cases() {
        let cases: Vec<(&str, Service, Vec<String>)> = vec![
            ("valid", service(|_| {}), vec![]),
            (
                "valid headless",
                service(|s| {
                    s.cluster_ip = Some("None".into());
                    s.ports = None;
                }),
                vec![],
            ),
            (
                "valid external name",
                service(|s| {
                    s.type_ = Some("ExternalName".into());
                    s.external_name = Some("db.example.com.".into());
                    s.ports = None;
                }),
                vec![],
            ),
            (
                "valid node port",
                service(|s| {
                    s.type_ = Some("NodePort".into());
                    s.ports = Some(vec![ServicePort {
                        node_port: Some(30080),
                        ..port(80)
                    }]);
                }),
                vec![],
            ),
            (
                "valid load balancer",
                service(|s| s.type_ = Some("LoadBalancer".into())),
                vec![],
            ),
            (
                "no ports",
                service(|s| s.ports = None),
                strs(&["spec.ports: Required value"]),
            ),
            (
                "port out of range",
                service(|s| s.ports = Some(vec![port(70000)])),
                strs(&[
                    "spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive",
                    "spec.ports[0].targetPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
                ]),
            ),
            (
                "unnamed ports",
                service(|s| s.ports = Some(vec![port(80), port(443)])),
                strs(&[
                    "spec.ports[0].name: Required value",
                    "spec.ports[1].name: Required value",
                ]),
            ),
            (
                "duplicate port names",
                service(|s| {
                    s.ports = Some(vec![
                        ServicePort {
                            name: Some("http".into()),
                            ..port(80)
                        },
                        ServicePort {
                            name: Some("http".into()),
                            ..port(81)
                        },
                    ])
                }),
                strs(&["spec.ports[1].name: Duplicate value: \"http\""]),
            ),
            (
                "duplicate port and protocol",
                service(|s| {
                    s.ports = Some(vec![
                        ServicePort {
                            name: Some("a".into()),
                            ..port(80)
                        },
                        ServicePort {
                            name: Some("b".into()),
                            ..port(80)
                        },
                    ])
                }),
                strs(&[
                    "spec.ports[1]: Duplicate value: core.ServicePort{Name:\"\", Protocol:\"TCP\", AppProtocol:(*string)(nil), Port:80, TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:\"\"}, NodePort:0}",
                ]),
            ),
            (
                "bad protocol",
                service(|s| {
                    s.ports = Some(vec![ServicePort {
                        protocol: Some("ICMP".into()),
                        ..port(80)
                    }])
                }),
                strs(&[
                    "spec.ports[0].protocol: Unsupported value: \"ICMP\": supported values: \"SCTP\", \"TCP\", \"UDP\"",
                ]),
            ),
            (
                "bad target port name",
                service(|s| {
                    s.ports = Some(vec![ServicePort {
                        target_port: Some(IntOrString::String("Http".into())),
                        ..port(80)
                    }])
                }),
                strs(&[
                    "spec.ports[0].targetPort: Invalid value: \"Http\": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)",
                ]),
            ),
            (
                "bad type",
                service(|s| s.type_ = Some("Magic".into())),
                strs(&[
                    "spec.type: Unsupported value: \"Magic\": supported values: \"ClusterIP\", \"ExternalName\", \"LoadBalancer\", \"NodePort\"",
                ]),
            ),
            (
                "headless load balancer",
                service(|s| {
                    s.type_ = Some("LoadBalancer".into());
                    s.cluster_ip = Some("None".into());
                }),
                strs(&[
                    "spec.clusterIPs[0]: Invalid value: \"None\": may not be set to 'None' for LoadBalancer services",
                ]),
            ),
            (
                "headless node port",
                service(|s| {
                    s.type_ = Some("NodePort".into());
                    s.cluster_ip = Some("None".into());
                }),
                strs(&[
                    "spec.clusterIPs[0]: Invalid value: \"None\": may not be set to 'None' for NodePort services",
                ]),
            ),
            (
                "bad cluster IP",
                service(|s| s.cluster_ip = Some("10.0.0.300".into())),
                strs(&[
                    "spec.clusterIPs[0]: Invalid value: \"10.0.0.300\": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
                ]),
            ),
            (
                "external name without name",
                service(|s| {
                    s.type_ = Some("ExternalName".into());
                    s.ports = None;
                }),
                strs(&["spec.externalName: Required value"]),
            ),
            (
                "external name with cluster IP",
                service(|s| {
                    s.type_ = Some("ExternalName".into());
                    s.external_name = Some("db".into());
                    s.cluster_ip = Some("10.0.0.1".into());
                }),
                strs(&["spec.clusterIPs: Forbidden: may not be set for ExternalName services"]),
            ),
            (
                "node port on ClusterIP",
                service(|s| {
                    s.ports = Some(vec![ServicePort {
                        node_port: Some(30080),
                        ..port(80)
                    }])
                }),
                strs(&[
                    "spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'",
                ]),
            ),
            (
                "node port out of range",
                service(|s| {
                    s.type_ = Some("NodePort".into());
                    s.ports = Some(vec![ServicePort {
                        node_port: Some(80),
                        ..port(80)
                    }]);
                }),
                strs(&[
                    "spec.ports[0].nodePort: Invalid value: 80: provided port is not in the valid range. The range of valid ports is 30000-32767",
                ]),
            ),
            (
                "bad selector",
                service(|s| s.selector = Some([("app".to_string(), "a b".to_string())].into())),
                strs(&[
                    "spec.selector: Invalid value: \"a b\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
                ]),
            ),
            (
                "bad session affinity",
                service(|s| s.session_affinity = Some("Sticky".into())),
                strs(&[
                    "spec.sessionAffinity: Unsupported value: \"Sticky\": supported values: \"ClientIP\", \"None\"",
                ]),
            ),
            (
                "bad ip family policy",
                service(|s| s.ip_family_policy = Some("DualStack".into())),
                strs(&[
                    "spec.ipFamilyPolicy: Unsupported value: \"DualStack\": supported values: \"PreferDualStack\", \"RequireDualStack\", \"SingleStack\"",
                ]),
            ),
            (
                "external traffic policy on ClusterIP",
                service(|s| s.external_traffic_policy = Some("Local".into())),
                strs(&[
                    "spec.externalTrafficPolicy: Invalid value: \"Local\": may only be set for externally-accessible services",
                ]),
            ),
            (
                "loopback external IP",
                service(|s| s.external_ips = Some(vec!["127.0.0.1".into()])),
                strs(&[
                    "spec.externalIPs[0]: Invalid value: \"127.0.0.1\": may not be in the loopback range (127.0.0.0/8, ::1/128)",
                ]),
            ),
        ];
        for (name, svc, want) in cases {
            assert_errors(name, &svc.validate(None), &want);
        }
    }

    #[test]
    fn dns1035_service_names() {
        let mut svc = service(|_| {});
        svc.metadata.name = Some("1web".into());
        assert_errors(
            "digit first",
            &svc.validate(None),
            &[
                "metadata.name: Invalid value: \"1web\": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')",
            ],
        );
    }

    #[test]
    fn service_update_cases() {
        let old = allocated("10.96.0.10");
        let cases: Vec<(&str, Service, Vec<String>)> = vec![
            ("unchanged", allocated("10.96.0.10"), vec![]),
            (
                "cluster IP changed",
                allocated("10.96.0.11"),
                strs(&[
                    "spec.clusterIPs[0]: Invalid value: []string{\"10.96.0.11\"}: may not change once set",
                ]),
            ),
            (
                "cluster IP removed",
                service(|_| {}),
                strs(&[
                    "spec.clusterIPs[0]: Invalid value: []string(nil): primary clusterIP can not be unset",
                ]),
            ),
            (
                "to ExternalName",
                service(|s| {
                    s.type_ = Some("ExternalName".into());
                    s.external_name = Some("db.example.com".into());
                    s.ports = None;
                }),
                vec![],
            ),
        ];
        for (name, svc, want) in cases {
            assert_errors(name, &svc.validate(Some(&old)), &want);
        }
    }

    #[test]
    fn affinity_timeout_bounds() {
        let svc = service(|s| {
            s.session_affinity = Some("ClientIP".into());
            s.session_affinity_config = Some(crate::k8s::api::core::v1::SessionAffinityConfig {
                client_ip: Some(crate::k8s::api::core::v1::ClientIPConfig {
                    timeout_seconds: Some(0),
                }),
            });
        });
        assert_errors(
            "zero timeout",
            &svc.validate(None),
            &[
                "spec.sessionAffinityConfig.clientIP.timeoutSeconds: Invalid value: 0: must be greater than 0 and less than 86400",
            ],
        );
    }

    #[test]
    fn cidrs() {
        let p = Path::new("x");
        assert!(validate_cidr("10.0.0.0/8", &p).is_empty());
        assert!(validate_cidr("2001:db8::/64", &p).is_empty());
        assert_eq!(validate_cidr("10.0.0.0/33", &p).len(), 1);
        assert_eq!(validate_cidr("10.0.0.0", &p).len(), 1);
    }
}
