//! The zone view: an index of the cluster objects DNS answers from, built from k8s-openapi
//! Services, EndpointSlices, Namespaces and Pods. Every lookup the answer builder makes is a
//! hash-map probe (namespace → name, IP → PTR sources), so NXDOMAIN and PTR cost the same with
//! 100k Services as with ten. The view is published as an immutable snapshot; the watcher owns
//! a working copy and applies events to it with the `apply_*`/`delete_*` methods.

use std::collections::{BTreeSet, HashSet};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use k8s_openapi::api::core::v1::{Namespace, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;

use crate::config::{Config, PodsMode};
use crate::cow::{PerNamespace, ShardedMap, ns_entry, ns_mut};
use crate::name::dashed_ip;
use crate::precomputed::AnswerCache;

/// Label that ties an EndpointSlice to its Service, whoever manages the slice.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

/// Longest pod name usable as an endpoint label with `endpoint_pod_names` (a DNS label).
const MAX_LABEL: usize = 63;

/// How a Service is answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServiceKind {
    /// ClusterIP, NodePort or LoadBalancer: the `spec.clusterIPs` (both families if dual-stack).
    ClusterIp(Vec<IpAddr>),
    /// `clusterIP: None`: answered from ready endpoints.
    Headless,
    /// `type: ExternalName`: a CNAME to this name (lowercase, no trailing dot).
    ExternalName(String),
}

/// A Service or EndpointSlice port. `name` is lowercase and empty when unnamed; `protocol` is
/// lowercase (`tcp`, `udp`, `sctp`) so `_<port>._<proto>` matches case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortSpec {
    pub name: String,
    pub protocol: String,
    pub port: u16,
}

/// What DNS keeps of a Service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceData {
    pub namespace: String,
    pub name: String,
    pub kind: ServiceKind,
    pub ports: Vec<PortSpec>,
}

/// One ready endpoint address of a Service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointData {
    pub ip: IpAddr,
    /// DNS label: hostname, else pod name (`endpoint_pod_names`), else the dashed IP.
    pub name: String,
    /// The ports of the slice the address came from (resolved target ports).
    pub ports: Arc<[PortSpec]>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct SliceData {
    service: String,
    ready: Vec<EndpointData>,
}

#[derive(Debug, Clone, Default)]
struct ServiceEndpoints {
    slices: BTreeSet<String>,
    /// Ready addresses from all slices, deduplicated by IP (first slice by name wins).
    ready: Vec<EndpointData>,
}

/// Why an IP has a PTR record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PtrSource {
    /// It is a ClusterIP of the Service: target `<svc>.<ns>.svc.<zone>.`.
    ClusterIp,
    /// It is a ready address in this EndpointSlice: target `<ep>.<svc>.<ns>.svc.<zone>.`.
    Endpoint { slice: String, ep: String },
}

/// One PTR candidate for an IP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PtrEntry {
    pub namespace: String,
    pub service: String,
    pub source: PtrSource,
}

/// Immutable-by-convention snapshot of everything DNS answers from. Cloning it (publishing a
/// snapshot) is cheap: the maps are copy-on-write ([`crate::cow`]), so the working copy and
/// the snapshots share everything a change has not touched.
#[derive(Debug, Clone)]
pub struct ZoneView {
    config: Config,
    synced: bool,
    serial: u32,
    /// Counts changes, so the feeder knows whether there is anything to publish (the serial has
    /// one-second resolution).
    generation: u64,
    namespaces: Arc<HashSet<String>>,
    services: PerNamespace<ServiceData>,
    slices: PerNamespace<SliceData>,
    endpoints: PerNamespace<ServiceEndpoints>,
    reverse: ShardedMap<IpAddr, Vec<PtrEntry>>,
    /// `verified` pods only: pod IP → namespaces of the (non-deleting) pods holding it.
    pod_ips: ShardedMap<IpAddr, Vec<String>>,
    /// `verified` pods only: (ns, pod) → indexed IP, to undo an earlier apply.
    pods: PerNamespace<IpAddr>,
    /// Replies pre-encoded from this very view. A clone starts empty and every change empties
    /// it, so no reply outlives the data it came from.
    answers: AnswerCache,
}

impl ZoneView {
    /// An empty, not yet synced view: cluster misses answer SERVFAIL until [`ZoneView::build`]
    /// or [`ZoneView::mark_synced`]. `config` must come from [`Config::validated`] (or be
    /// the default).
    pub fn unsynced(config: &Config) -> Self {
        Self {
            config: config.clone(),
            synced: false,
            serial: now_serial(),
            generation: 0,
            namespaces: Arc::default(),
            services: PerNamespace::new(),
            slices: PerNamespace::new(),
            endpoints: PerNamespace::new(),
            reverse: ShardedMap::new(),
            pod_ips: ShardedMap::new(),
            pods: PerNamespace::new(),
            answers: AnswerCache::new(),
        }
    }

    /// Builds a synced view from full object lists (an initial list of each watch).
    pub fn build(
        config: &Config,
        services: &[Service],
        slices: &[EndpointSlice],
        namespaces: &[Namespace],
        pods: &[Pod],
    ) -> Self {
        let mut view = Self::unsynced(config);
        namespaces.iter().for_each(|n| view.apply_namespace(n));
        services.iter().for_each(|s| view.apply_service(s));
        slices.iter().for_each(|s| view.apply_slice(s));
        pods.iter().for_each(|p| view.apply_pod(p));
        view.synced = true;
        view
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Whether the initial lists have been loaded.
    pub fn synced(&self) -> bool {
        self.synced
    }

    pub fn mark_synced(&mut self) {
        self.synced = true;
        self.answers.clear();
    }

    /// SOA serial: Unix time of the last change applied.
    pub fn serial(&self) -> u32 {
        self.serial
    }

    /// Pins the serial (golden tests, or a caller with its own clock).
    pub fn set_serial(&mut self, serial: u32) {
        self.serial = serial;
        self.answers.clear();
    }

    /// Whether `ns` exists and is exposed. A namespace that only shows up through its Services
    /// also counts, so a missing Namespace watch degrades gracefully.
    pub fn namespace_exists(&self, ns: &str) -> bool {
        self.namespaces.contains(ns) || self.services.contains_key(ns)
    }

    pub fn service(&self, ns: &str, name: &str) -> Option<&ServiceData> {
        self.services.get(ns)?.get(name)
    }

    /// Ready endpoint addresses of a Service, deduplicated by IP; empty with `noendpoints`.
    pub fn ready_endpoints(&self, ns: &str, svc: &str) -> &[EndpointData] {
        self.endpoints
            .get(ns)
            .and_then(|m| m.get(svc))
            .map_or(&[], |e| e.ready.as_slice())
    }

    /// PTR candidates of an IP: ClusterIP sources first, then endpoint sources, in insertion
    /// order. The answer builder picks the first ClusterIP and deduplicates targets.
    pub fn ptr_entries(&self, ip: IpAddr) -> &[PtrEntry] {
        self.reverse.get(&ip).map_or(&[], Vec::as_slice)
    }

    /// `verified` pod check: a pod in `ns` has primary IP `ip` and is not being deleted.
    pub fn pod_exists(&self, ns: &str, ip: IpAddr) -> bool {
        self.pod_ips
            .get(&ip)
            .is_some_and(|nss| nss.iter().any(|n| n == ns))
    }

    /// Number of Services indexed (for metrics and tests).
    pub fn service_count(&self) -> usize {
        self.services.values().map(|m| m.len()).sum()
    }

    /// Number of changes applied so far.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The pre-encoded replies of this snapshot.
    pub fn answer_cache(&self) -> &AnswerCache {
        &self.answers
    }

    fn touch(&mut self) {
        self.serial = now_serial();
        self.generation += 1;
        self.answers.clear();
    }

    fn exposed_key<'a>(
        &self,
        meta: &'a k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    ) -> Option<(String, &'a str)> {
        let ns = meta.namespace.as_deref()?.to_ascii_lowercase();
        let name = meta.name.as_deref()?;
        self.config.namespace_exposed(&ns).then_some((ns, name))
    }

    pub fn apply_namespace(&mut self, ns: &Namespace) {
        if let Some(name) = ns.metadata.name.as_deref() {
            let name = name.to_ascii_lowercase();
            // A relist re-applies every namespace; only a new one moves the serial.
            if self.config.namespace_exposed(&name) && !self.namespaces.contains(&name) {
                Arc::make_mut(&mut self.namespaces).insert(name);
                self.touch();
            }
        }
    }

    pub fn delete_namespace(&mut self, name: &str) {
        let name = name.to_ascii_lowercase();
        if self.namespaces.contains(&name) {
            Arc::make_mut(&mut self.namespaces).remove(&name);
            self.touch();
        }
    }

    /// Adds or replaces a Service. Its ClusterIP PTRs are re-indexed.
    pub fn apply_service(&mut self, svc: &Service) {
        let Some((ns, name)) = self.exposed_key(&svc.metadata) else {
            return;
        };
        let data = service_data(&ns, &name.to_ascii_lowercase(), svc);
        // Status-only updates and relists re-apply unchanged Services: keep the serial.
        if self.service(&ns, &data.name) == Some(&data) {
            return;
        }
        let name = data.name.clone();
        self.remove_service_ptrs(&ns, &name);
        self.add_service_ptrs(&data);
        ns_entry(&mut self.services, ns).insert(name, data);
        self.touch();
    }

    pub fn delete_service(&mut self, ns: &str, name: &str) {
        let (ns, name) = (ns.to_ascii_lowercase(), name.to_ascii_lowercase());
        if self.service(&ns, &name).is_none() {
            return;
        }
        self.remove_service_ptrs(&ns, &name);
        if let Some(m) = ns_mut(&mut self.services, &ns) {
            m.remove(&name);
            if m.is_empty() {
                self.services.remove(&ns);
            }
        }
        self.touch();
    }

    /// Adds or replaces an EndpointSlice: the ready addresses of its Service are recomputed
    /// and its endpoint PTRs re-indexed. A slice without the service-name label is dropped.
    pub fn apply_slice(&mut self, slice: &EndpointSlice) {
        if self.config.noendpoints {
            return;
        }
        let Some((ns, name)) = self.exposed_key(&slice.metadata) else {
            return;
        };
        let name = name.to_string();
        let data = slice
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(SERVICE_NAME_LABEL))
            .map(|svc| SliceData {
                ready: ready_endpoints(slice, self.config.endpoint_pod_names),
                service: svc.to_ascii_lowercase(),
            });
        // Endpoint conditions other than `ready` change often and do not matter here.
        let old = self.slices.get(&ns).and_then(|m| m.get(&name));
        if old.is_some() && old == data.as_ref() {
            return;
        }
        self.delete_slice(&ns, &name);
        let Some(data) = data else {
            return;
        };
        for ep in &data.ready {
            self.reverse.entry_or_default(ep.ip).push(PtrEntry {
                namespace: ns.clone(),
                service: data.service.clone(),
                source: PtrSource::Endpoint {
                    slice: name.clone(),
                    ep: ep.name.clone(),
                },
            });
        }
        let svc = data.service.clone();
        ns_entry(&mut self.slices, ns.clone()).insert(name.clone(), data);
        ns_entry(&mut self.endpoints, ns.clone())
            .entry(svc.clone())
            .or_default()
            .slices
            .insert(name);
        self.recompute_endpoints(&ns, &svc);
        self.touch();
    }

    pub fn delete_slice(&mut self, ns: &str, name: &str) {
        // Look first: writing would copy the namespace's map out of the published snapshot.
        if self.slices.get(ns).is_none_or(|m| !m.contains_key(name)) {
            return;
        }
        let Some(old) = ns_mut(&mut self.slices, ns).and_then(|m| m.remove(name)) else {
            return;
        };
        for ep in &old.ready {
            self.remove_ptr(ep.ip, |e| {
                e.namespace == ns
                    && matches!(&e.source, PtrSource::Endpoint { slice, .. } if slice == name)
            });
        }
        if let Some(e) = ns_mut(&mut self.endpoints, ns).and_then(|m| m.get_mut(&old.service)) {
            e.slices.remove(name);
        }
        self.recompute_endpoints(ns, &old.service);
        self.touch();
    }

    /// Indexes a pod's primary IP for `pods verified`; other modes never look at pods, so they
    /// skip the memory (dns-spec.md §3.9).
    pub fn apply_pod(&mut self, pod: &Pod) {
        if self.config.pods != PodsMode::Verified {
            return;
        }
        let Some((ns, name)) = self.exposed_key(&pod.metadata) else {
            return;
        };
        let name = name.to_string();
        let ip: Option<IpAddr> = pod
            .status
            .as_ref()
            .and_then(|s| s.pod_ip.as_deref())
            .and_then(|ip| ip.parse().ok())
            .filter(|_| pod.metadata.deletion_timestamp.is_none());
        // Pods change status all the time; only the indexed IP matters.
        if ip.is_some() && self.pods.get(&ns).and_then(|m| m.get(&name)) == ip.as_ref() {
            return;
        }
        self.delete_pod(&ns, &name);
        if let Some(ip) = ip {
            self.pod_ips.entry_or_default(ip).push(ns.clone());
            ns_entry(&mut self.pods, ns).insert(name, ip);
            self.touch();
        }
    }

    pub fn delete_pod(&mut self, ns: &str, name: &str) {
        if self.pods.get(ns).is_none_or(|m| !m.contains_key(name)) {
            return;
        }
        let Some(ip) = ns_mut(&mut self.pods, ns).and_then(|m| m.remove(name)) else {
            return;
        };
        if let Some(list) = self.pod_ips.get_mut(&ip) {
            if let Some(i) = list.iter().position(|n| n == ns) {
                list.swap_remove(i);
            }
            if list.is_empty() {
                self.pod_ips.remove(&ip);
            }
        }
        self.touch();
    }

    /// Replaces every Namespace with `list` (a relist): missing ones are deleted, the rest
    /// applied, so a name that still exists is never absent from a published snapshot.
    pub fn replace_namespaces(&mut self, list: &[Namespace]) {
        let keep: HashSet<String> = list
            .iter()
            .filter_map(|n| n.metadata.name.as_deref())
            .map(str::to_ascii_lowercase)
            .collect();
        let gone: Vec<String> = self
            .namespaces
            .iter()
            .filter(|n| !keep.contains(*n))
            .cloned()
            .collect();
        gone.iter().for_each(|n| self.delete_namespace(n));
        list.iter().for_each(|n| self.apply_namespace(n));
    }

    /// Replaces every Service with `list` (a relist), like [`ZoneView::replace_namespaces`].
    pub fn replace_services(&mut self, list: &[Service]) {
        // Service names are DNS labels (lowercase); the view lowercases them anyway.
        let keep = namespaced_keys(list.iter().map(|s| &s.metadata))
            .into_iter()
            .map(|(ns, n)| (ns, n.to_ascii_lowercase()))
            .collect();
        let gone = stale_keys(&self.services, &keep);
        gone.iter().for_each(|(ns, n)| self.delete_service(ns, n));
        list.iter().for_each(|s| self.apply_service(s));
    }

    /// Replaces every EndpointSlice with `list` (a relist).
    pub fn replace_slices(&mut self, list: &[EndpointSlice]) {
        let keep = namespaced_keys(list.iter().map(|s| &s.metadata));
        let gone = stale_keys(&self.slices, &keep);
        gone.iter().for_each(|(ns, n)| self.delete_slice(ns, n));
        list.iter().for_each(|s| self.apply_slice(s));
    }

    /// Replaces every indexed Pod with `list` (a relist; `verified` mode only keeps any).
    pub fn replace_pods(&mut self, list: &[Pod]) {
        let keep = namespaced_keys(list.iter().map(|p| &p.metadata));
        let gone = stale_keys(&self.pods, &keep);
        gone.iter().for_each(|(ns, n)| self.delete_pod(ns, n));
        list.iter().for_each(|p| self.apply_pod(p));
    }

    fn add_service_ptrs(&mut self, data: &ServiceData) {
        if let ServiceKind::ClusterIp(ips) = &data.kind {
            for ip in ips {
                let list = self.reverse.entry_or_default(*ip);
                // ClusterIP sources stay ahead of endpoint sources.
                let at = list
                    .iter()
                    .take_while(|e| e.source == PtrSource::ClusterIp)
                    .count();
                list.insert(
                    at,
                    PtrEntry {
                        namespace: data.namespace.clone(),
                        service: data.name.clone(),
                        source: PtrSource::ClusterIp,
                    },
                );
            }
        }
    }

    fn remove_service_ptrs(&mut self, ns: &str, name: &str) {
        let Some(ServiceData {
            kind: ServiceKind::ClusterIp(ips),
            ..
        }) = self.service(ns, name)
        else {
            return;
        };
        for ip in ips.clone() {
            self.remove_ptr(ip, |e| {
                e.source == PtrSource::ClusterIp && e.namespace == ns && e.service == name
            });
        }
    }

    fn remove_ptr(&mut self, ip: IpAddr, pred: impl Fn(&PtrEntry) -> bool) {
        if let Some(list) = self.reverse.get_mut(&ip) {
            list.retain(|e| !pred(e));
            if list.is_empty() {
                self.reverse.remove(&ip);
            }
        }
    }

    fn recompute_endpoints(&mut self, ns: &str, svc: &str) {
        if self.endpoints.get(ns).is_none_or(|m| !m.contains_key(svc)) {
            return;
        }
        let Some(by_svc) = ns_mut(&mut self.endpoints, ns) else {
            return;
        };
        let Some(entry) = by_svc.get_mut(svc) else {
            return;
        };
        if entry.slices.is_empty() {
            by_svc.remove(svc);
            if by_svc.is_empty() {
                self.endpoints.remove(ns);
            }
            return;
        }
        let mut seen = HashSet::new();
        let slices = self.slices.get(ns);
        entry.ready = entry
            .slices
            .iter()
            .filter_map(|name| slices.and_then(|m| m.get(name)))
            .flat_map(|s| s.ready.iter())
            .filter(|ep| seen.insert(ep.ip))
            .cloned()
            .collect();
    }
}

/// `(namespace lowercase, name)` of each object, as the maps of the view key them.
fn namespaced_keys<'a>(
    metas: impl Iterator<Item = &'a k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta>,
) -> HashSet<(String, String)> {
    metas
        .filter_map(|m| {
            Some((
                m.namespace.as_deref()?.to_ascii_lowercase(),
                m.name.as_deref()?.to_string(),
            ))
        })
        .collect()
}

/// Keys of a two-level map that are not in `keep`.
fn stale_keys<V>(map: &PerNamespace<V>, keep: &HashSet<(String, String)>) -> Vec<(String, String)> {
    map.iter()
        .flat_map(|(ns, m)| m.keys().map(move |n| (ns.clone(), n.clone())))
        .filter(|k| !keep.contains(k))
        .collect()
}

fn now_serial() -> u32 {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    // SOA serials are 32-bit and compared with serial arithmetic (RFC 1982), so wrapping is fine.
    secs as u32
}

fn service_data(ns: &str, name: &str, svc: &Service) -> ServiceData {
    let spec = svc.spec.as_ref();
    let ports = spec
        .and_then(|s| s.ports.as_ref())
        .map(|ps| {
            ps.iter()
                .filter_map(|p| {
                    Some(PortSpec {
                        name: p.name.as_deref().unwrap_or("").to_ascii_lowercase(),
                        protocol: p.protocol.as_deref().unwrap_or("TCP").to_ascii_lowercase(),
                        port: u16::try_from(p.port).ok()?,
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let kind = if spec.and_then(|s| s.type_.as_deref()) == Some("ExternalName") {
        let target = spec.and_then(|s| s.external_name.as_deref()).unwrap_or("");
        ServiceKind::ExternalName(target.trim_end_matches('.').to_ascii_lowercase())
    } else if spec.and_then(|s| s.cluster_ip.as_deref()) == Some("None") {
        ServiceKind::Headless
    } else {
        let ips = spec.and_then(|s| s.cluster_ips.clone()).unwrap_or_default();
        let ips = if ips.is_empty() {
            spec.and_then(|s| s.cluster_ip.clone())
                .into_iter()
                .collect()
        } else {
            ips
        };
        // "" or "None" and anything unparseable are skipped rather than trusted.
        ServiceKind::ClusterIp(ips.iter().filter_map(|ip| ip.parse().ok()).collect())
    };
    ServiceData {
        namespace: ns.to_string(),
        name: name.to_string(),
        kind,
        ports,
    }
}

fn ready_endpoints(slice: &EndpointSlice, endpoint_pod_names: bool) -> Vec<EndpointData> {
    let ports: Arc<[PortSpec]> = slice
        .ports
        .iter()
        .flatten()
        .filter_map(|p| {
            Some(PortSpec {
                name: p.name.as_deref().unwrap_or("").to_ascii_lowercase(),
                protocol: p.protocol.as_deref().unwrap_or("TCP").to_ascii_lowercase(),
                // A nil port means "all ports"; it cannot be put in an SRV record.
                port: u16::try_from(p.port?).ok()?,
            })
        })
        .collect();
    let mut out = Vec::new();
    for ep in &slice.endpoints {
        // Published iff ready is true or nil (serving/terminating are ignored, like CoreDNS).
        if ep.conditions.as_ref().and_then(|c| c.ready) == Some(false) {
            continue;
        }
        let pod_name = ep
            .target_ref
            .as_ref()
            .filter(|r| r.kind.as_deref().is_none_or(|k| k == "Pod"))
            .and_then(|r| r.name.as_deref())
            .filter(|n| endpoint_pod_names && !n.is_empty() && n.len() <= MAX_LABEL);
        for addr in &ep.addresses {
            let Ok(ip) = addr.parse::<IpAddr>() else {
                continue;
            };
            let name = match (ep.hostname.as_deref().filter(|h| !h.is_empty()), pod_name) {
                (Some(h), _) => h.to_ascii_lowercase(),
                (None, Some(p)) => p.to_ascii_lowercase(),
                (None, None) => dashed_ip(ip),
            };
            out.push(EndpointData {
                ip,
                name,
                ports: ports.clone(),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures;
    use k8s_openapi::api::core::v1::ServiceSpec;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    use serde_json::json;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn ptr_targets(v: &ZoneView, addr: &str) -> Vec<String> {
        v.ptr_entries(ip(addr))
            .iter()
            .map(|e| match &e.source {
                PtrSource::ClusterIp => format!("{}.{}", e.service, e.namespace),
                PtrSource::Endpoint { ep, .. } => format!("{ep}.{}.{}", e.service, e.namespace),
            })
            .collect()
    }

    #[test]
    fn dedup_across_slices_and_readiness() {
        let v = fixtures::view(&Config::default());
        let ips: Vec<IpAddr> = v
            .ready_endpoints("demo", "nginx")
            .iter()
            .map(|e| e.ip)
            .collect();
        assert_eq!(ips, vec![ip("10.244.1.20"), ip("10.244.2.21")]);
        assert!(v.ready_endpoints("demo", "unready").is_empty());
    }

    #[test]
    fn incremental_slice_and_service_updates() {
        let mut v = fixtures::view(&Config::default());
        // Dropping one of two slices with the same address keeps the address.
        v.delete_slice("demo", "nginx-def");
        assert_eq!(v.ready_endpoints("demo", "nginx").len(), 2);
        assert_eq!(
            ptr_targets(&v, "10.244.1.20"),
            vec!["web-0.nginx.demo", "10-244-1-20.nginx-lb.demo"]
        );
        v.delete_slice("demo", "nginx-abc");
        assert!(v.ready_endpoints("demo", "nginx").is_empty());
        assert_eq!(
            ptr_targets(&v, "10.244.1.20"),
            vec!["10-244-1-20.nginx-lb.demo"]
        );
        assert!(
            ptr_targets(&v, "10.244.2.21")
                .iter()
                .all(|t| !t.contains(".nginx.demo"))
        );

        // A slice relabelled to another Service moves its addresses.
        let moved: EndpointSlice = serde_json::from_value(json!({
            "metadata": {"namespace": "demo", "name": "web-abc", "labels": {SERVICE_NAME_LABEL: "plain"}},
            "addressType": "IPv4",
            "endpoints": [{"addresses": ["10.244.1.10"]}],
        }))
        .unwrap();
        v.apply_slice(&moved);
        assert!(v.ready_endpoints("demo", "web").is_empty());
        assert_eq!(v.ready_endpoints("demo", "plain").len(), 1);
        assert_eq!(
            ptr_targets(&v, "10.244.1.10"),
            vec!["10-244-1-10.plain.demo"]
        );

        // A ClusterIP change moves the PTR; ClusterIP sources stay ahead of endpoints.
        let mut web = fixtures::services()
            .into_iter()
            .find(|s| s.metadata.name.as_deref() == Some("web"))
            .unwrap();
        web.spec = Some(ServiceSpec {
            cluster_ip: Some("10.244.1.10".into()),
            cluster_ips: Some(vec!["10.244.1.10".into()]),
            ..ServiceSpec::default()
        });
        v.apply_service(&web);
        assert!(v.ptr_entries(ip("10.96.1.10")).is_empty());
        assert_eq!(
            ptr_targets(&v, "10.244.1.10"),
            vec!["web.demo", "10-244-1-10.plain.demo"]
        );
        v.delete_service("demo", "web");
        assert!(v.service("demo", "web").is_none());
        assert_eq!(
            ptr_targets(&v, "10.244.1.10"),
            vec!["10-244-1-10.plain.demo"]
        );
    }

    #[test]
    fn serial_moves_on_change() {
        let mut v = fixtures::view(&Config::default());
        v.delete_namespace("quiet");
        assert_ne!(v.serial(), fixtures::SERIAL);
        assert!(!v.namespace_exists("quiet"));
    }

    #[test]
    fn verified_pods_ignore_deleting_and_track_updates() {
        let config = Config {
            pods: PodsMode::Verified,
            ..Config::default()
        };
        let mut v = fixtures::view(&config);
        assert!(v.pod_exists("demo", ip("10.244.1.20")));
        let deleting: Pod = serde_json::from_value(json!({
            "metadata": {"namespace": "demo", "name": "web-0", "deletionTimestamp": "2024-01-01T00:00:00Z"},
            "status": {"podIP": "10.244.1.20"},
        }))
        .unwrap();
        v.apply_pod(&deleting);
        assert!(!v.pod_exists("demo", ip("10.244.1.20")));
        v.delete_pod("demo", "web-1");
        assert!(!v.pod_exists("demo", ip("10.244.2.21")));
        // Other modes keep no pod index at all.
        assert!(!fixtures::view(&Config::default()).pod_exists("demo", ip("10.244.1.20")));
    }

    #[test]
    fn large_zone_lookups_are_keyed() {
        // 20k Services: building is linear and lookups never scan.
        let services: Vec<Service> = (0..20_000u32)
            .map(|i| Service {
                metadata: ObjectMeta {
                    namespace: Some(format!("ns-{}", i % 100)),
                    name: Some(format!("svc-{i}")),
                    ..ObjectMeta::default()
                },
                spec: Some(ServiceSpec {
                    cluster_ip: Some(format!("10.96.{}.{}", i / 250, i % 250 + 1)),
                    ..ServiceSpec::default()
                }),
                ..Service::default()
            })
            .collect();
        let v = ZoneView::build(&Config::default(), &services, &[], &[], &[]);
        assert_eq!(v.service_count(), 20_000);
        assert!(v.service("ns-7", "svc-19907").is_some());
        assert!(v.service("ns-7", "svc-19908").is_none());
        assert_eq!(v.ptr_entries(ip("10.96.79.158")).len(), 1);
    }
}
