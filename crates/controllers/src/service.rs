//! Facts about Services that the endpoint controllers share (pure).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::cached_pod::CachedPod;
use crate::podutil;

/// Label on EndpointSlices naming their Service.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";
/// Label on EndpointSlices naming their writer.
pub const MANAGED_BY_LABEL: &str = "endpointslice.kubernetes.io/managed-by";
/// Label on endpoints objects of headless Services.
pub const HEADLESS_LABEL: &str = "service.kubernetes.io/headless";

/// The Service's selector, if it selects pods at all (ExternalName Services never do).
pub fn selector(svc: &Service) -> Option<&BTreeMap<String, String>> {
    let spec = svc.spec.as_ref()?;
    if spec.type_.as_deref() == Some("ExternalName") {
        return None;
    }
    spec.selector.as_ref().filter(|s| !s.is_empty())
}

pub fn is_headless(svc: &Service) -> bool {
    svc.spec.as_ref().and_then(|s| s.cluster_ip.as_deref()) == Some("None")
}

pub fn publish_not_ready(svc: &Service) -> bool {
    svc.spec
        .as_ref()
        .and_then(|s| s.publish_not_ready_addresses)
        .unwrap_or(false)
}

/// EndpointSlice address types of the Service's IP families, primary first (`IPv4` if unset).
pub fn address_types(svc: &Service) -> Vec<&'static str> {
    let families = svc.spec.as_ref().and_then(|s| s.ip_families.as_ref());
    let mut types: Vec<&'static str> = families
        .into_iter()
        .flatten()
        .map(|f| if f == "IPv6" { "IPv6" } else { "IPv4" })
        .collect();
    types.dedup();
    if types.is_empty() {
        types.push("IPv4");
    }
    types
}

/// The address type (`IPv4`/`IPv6`) of an IP string.
pub fn address_type_of(ip: &str) -> &'static str {
    if ip.contains(':') { "IPv6" } else { "IPv4" }
}

/// The pod's IP of the given address type.
pub fn pod_ip_of_type(pod: &CachedPod, address_type: &str) -> Option<String> {
    podutil::pod_ips(pod)
        .into_iter()
        .find(|ip| address_type_of(ip) == address_type)
}

/// A Service port resolved against one pod: (name, number, protocol, appProtocol).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ResolvedPort {
    pub name: String,
    pub port: i32,
    pub protocol: String,
    pub app_protocol: Option<String>,
}

/// Resolve each Service port's targetPort for `pod`: a number as is, a name through the pod's
/// container ports. A name the pod does not define leaves that port out for this pod, as the
/// EndpointSlice controller does.
pub fn resolve_ports(svc: &Service, pod: &CachedPod) -> Vec<ResolvedPort> {
    let ports = svc.spec.as_ref().and_then(|s| s.ports.as_ref());
    let mut out = Vec::new();
    for sp in ports.into_iter().flatten() {
        let protocol = sp.protocol.clone().unwrap_or_else(|| "TCP".into());
        let number = match &sp.target_port {
            None => Some(sp.port),
            Some(IntOrString::Int(n)) if *n == 0 => Some(sp.port),
            Some(IntOrString::Int(n)) => Some(*n),
            Some(IntOrString::String(name)) => match name.parse::<i32>() {
                Ok(n) => Some(n),
                Err(_) => find_container_port(pod, name, &protocol),
            },
        };
        if let Some(port) = number {
            out.push(ResolvedPort {
                name: sp.name.clone().unwrap_or_default(),
                port,
                protocol,
                app_protocol: sp.app_protocol.clone(),
            });
        }
    }
    out
}

fn find_container_port(pod: &CachedPod, name: &str, protocol: &str) -> Option<i32> {
    let containers = pod.spec.as_ref().map(|s| &s.containers)?;
    containers
        .iter()
        .flat_map(|c| c.ports.iter().flatten())
        .find(|p| {
            p.name.as_deref() == Some(name) && p.protocol.as_deref().unwrap_or("TCP") == protocol
        })
        .map(|p| p.container_port)
}

/// The DNS hostname a pod gets under this Service: only when the pod sets `hostname` and its
/// `subdomain` is the Service's name (StatefulSet pods under their governing Service).
pub fn pod_hostname(svc: &Service, pod: &CachedPod) -> Option<String> {
    let spec = pod.spec.as_ref()?;
    let hostname = spec.hostname.as_ref().filter(|h| !h.is_empty())?;
    (spec.subdomain.as_deref() == svc.metadata.name.as_deref()).then(|| hostname.clone())
}

/// Pods in the Service's namespace that its selector matches.
pub fn selected_pods<'a>(
    svc: &Service,
    pods: impl IntoIterator<Item = &'a CachedPod>,
) -> Vec<&'a CachedPod> {
    let Some(sel) = selector(svc) else {
        return Vec::new();
    };
    let ns = svc.metadata.namespace.as_deref();
    pods.into_iter()
        .filter(|p| p.metadata.namespace.as_deref() == ns)
        .filter(|p| podutil::map_selector_matches(sel, podutil::labels(&p.metadata)))
        .collect()
}
