//! The zone view: an index of the cluster objects DNS answers from, built from k8s-openapi
//! Services, EndpointSlices, Namespaces and Pods. Every lookup the answer builder makes is a
//! hash-map probe (namespace → name, IP → PTR sources), so NXDOMAIN and PTR cost the same with
//! 100k Services as with ten. The view is published as an immutable snapshot; the watcher owns
//! a working copy and applies events to it with the `apply_*`/`delete_*` methods.
//!
//! Memory (the budget is 64 MB for 10k Services and 100k pods): names are [`Name`]s shared by
//! every entry that mentions them (the namespace and Service names of slices and PTR entries
//! point at one allocation); an endpoint keeps its IP, its label only when it is not the
//! dashed IP (that one is derived when asked for), and its slice's shared port list; a
//! Service's ready list *is* its slice's list in the usual one-slice case, so addresses are
//! stored once per slice.

use std::borrow::Cow;
use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use k8s_openapi::api::core::v1::{Namespace, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::config::{Config, PodsMode};
use crate::cow::{PerNamespace, ShardedMap, ns_entry, ns_mut};
use crate::name::dashed_ip;
use crate::precomputed::AnswerCache;
pub use crate::reverse::PtrEntry;
use crate::reverse::{PtrOwner, ReverseIndex};

/// Label that ties an EndpointSlice to its Service, whoever manages the slice.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

/// Longest pod name usable as an endpoint label with `endpoint_pod_names` (a DNS label).
const MAX_LABEL: usize = 63;

/// A name shared by every part of the view that mentions it (one allocation per name).
pub type Name = Arc<str>;

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
    pub namespace: Name,
    pub name: Name,
    pub kind: ServiceKind,
    pub ports: Vec<PortSpec>,
}

/// One ready endpoint address of a Service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointData {
    pub ip: IpAddr,
    /// The DNS label when it is not the dashed IP: the hostname, else the pod name
    /// (`endpoint_pod_names`).
    label: Option<Name>,
    /// The ports of the slice the address came from (resolved target ports).
    pub ports: Arc<[PortSpec]>,
}

impl EndpointData {
    /// DNS label: hostname, else pod name (`endpoint_pod_names`), else the dashed IP.
    pub fn name(&self) -> Cow<'_, str> {
        endpoint_label(self.ip, self.label.as_ref())
    }

    /// Whether [`EndpointData::name`] is `label` (lowercase), without building the dashed IP
    /// for named endpoints.
    pub fn is_named(&self, label: &str) -> bool {
        match &self.label {
            Some(l) => **l == *label,
            None => dashed_ip(self.ip) == label,
        }
    }
}

fn endpoint_label(ip: IpAddr, label: Option<&Name>) -> Cow<'_, str> {
    match label {
        Some(l) => Cow::Borrowed(l),
        None => Cow::Owned(dashed_ip(ip)),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct SliceData {
    service: Name,
    ready: Arc<[EndpointData]>,
}

#[derive(Debug, Clone)]
struct ServiceEndpoints {
    /// Names of the Service's slices, sorted (the first slice by name wins a duplicate IP).
    slices: Vec<Name>,
    /// Ready addresses from all slices, deduplicated by IP: the one slice's own list when
    /// there is a single slice without duplicates.
    ready: Arc<[EndpointData]>,
}

/// `(namespace, name)` of a listed object, lowercased as the view compares them; a Namespace's
/// own key has an empty namespace. A relist remembers these to sweep what it did not mention.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    namespace: String,
    name: String,
}

impl Key {
    pub fn of(meta: &ObjectMeta) -> Key {
        Key::new(
            meta.namespace.as_deref().unwrap_or(""),
            meta.name.as_deref().unwrap_or(""),
        )
    }

    fn new(namespace: &str, name: &str) -> Key {
        Key {
            namespace: namespace.to_ascii_lowercase(),
            name: name.to_ascii_lowercase(),
        }
    }
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
    namespaces: Arc<HashSet<Name>>,
    services: PerNamespace<ServiceData>,
    slices: PerNamespace<SliceData>,
    endpoints: PerNamespace<ServiceEndpoints>,
    reverse: ReverseIndex,
    /// `verified` pods only: pod IP → namespaces of the (non-deleting) pods holding it.
    pod_ips: ShardedMap<IpAddr, Vec<Name>>,
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
            reverse: ReverseIndex::default(),
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
            .map_or(&[], |e| &e.ready[..])
    }

    /// PTR candidates of an IP: ClusterIP sources first, then endpoint sources, in insertion
    /// order. The answer builder picks the first ClusterIP and deduplicates targets.
    pub fn ptr_entries(&self, ip: IpAddr) -> &[PtrEntry] {
        self.reverse.get(ip)
    }

    /// `verified` pod check: a pod in `ns` has primary IP `ip` and is not being deleted.
    pub fn pod_exists(&self, ns: &str, ip: IpAddr) -> bool {
        self.pod_ips
            .get(&ip)
            .is_some_and(|nss| nss.iter().any(|n| **n == *ns))
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

    /// The shared [`Name`] of a (lowercase) namespace: the one already in the view if any.
    fn ns_name(&self, ns: &str) -> Name {
        self.namespaces
            .get(ns)
            .or_else(|| self.services.get_key_value(ns).map(|(k, _)| k))
            .or_else(|| self.slices.get_key_value(ns).map(|(k, _)| k))
            .or_else(|| self.pods.get_key_value(ns).map(|(k, _)| k))
            .cloned()
            .unwrap_or_else(|| ns.into())
    }

    /// The shared [`Name`] of a (lowercase) Service name in `ns`.
    fn service_name(&self, ns: &str, name: &str) -> Name {
        self.services
            .get(ns)
            .and_then(|m| m.get_key_value(name))
            .map(|(k, _)| k.clone())
            .unwrap_or_else(|| name.into())
    }

    fn exposed_key<'a>(&self, meta: &'a ObjectMeta) -> Option<(Name, &'a str)> {
        let ns = meta.namespace.as_deref()?.to_ascii_lowercase();
        let name = meta.name.as_deref()?;
        self.config
            .namespace_exposed(&ns)
            .then(|| (self.ns_name(&ns), name))
    }

    pub fn apply_namespace(&mut self, ns: &Namespace) {
        if let Some(name) = ns.metadata.name.as_deref() {
            let name = name.to_ascii_lowercase();
            // A relist re-applies every namespace; only a new one moves the serial.
            if self.config.namespace_exposed(&name) && !self.namespaces.contains(name.as_str()) {
                let name = self.ns_name(&name);
                Arc::make_mut(&mut self.namespaces).insert(name);
                self.touch();
            }
        }
    }

    pub fn delete_namespace(&mut self, name: &str) {
        let name = name.to_ascii_lowercase();
        if self.namespaces.contains(name.as_str()) {
            Arc::make_mut(&mut self.namespaces).remove(name.as_str());
            self.touch();
        }
    }

    /// Adds or replaces a Service. Its ClusterIP PTRs are re-indexed.
    pub fn apply_service(&mut self, svc: &Service) {
        let Some((ns, name)) = self.exposed_key(&svc.metadata) else {
            return;
        };
        let name = self.service_name(&ns, &name.to_ascii_lowercase());
        let data = service_data(ns.clone(), name.clone(), svc);
        // Status-only updates and relists re-apply unchanged Services: keep the serial.
        if self.service(&ns, &name) == Some(&data) {
            return;
        }
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
            m.remove(name.as_str());
            if m.is_empty() {
                self.services.remove(ns.as_str());
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
        let data = slice
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(SERVICE_NAME_LABEL))
            .map(|svc| SliceData {
                ready: ready_endpoints(slice, self.config.endpoint_pod_names).into(),
                service: self.service_name(&ns, &svc.to_ascii_lowercase()),
            });
        // Endpoint conditions other than `ready` change often and do not matter here.
        let old = self.slices.get(&ns).and_then(|m| m.get_key_value(name));
        if old.is_some_and(|(_, old)| Some(old) == data.as_ref()) {
            return;
        }
        let name: Name = old.map_or_else(|| name.into(), |(k, _)| k.clone());
        self.delete_slice(&ns, &name);
        let Some(data) = data else {
            return;
        };
        let owner = PtrOwner::slice(ns.clone(), data.service.clone(), name.clone());
        for ep in data.ready.iter() {
            self.reverse
                .add(ep.ip, PtrEntry::new(&owner, ep.label.clone()));
        }
        let svc = data.service.clone();
        ns_entry(&mut self.slices, ns.clone()).insert(name.clone(), data);
        let slices = &mut ns_entry(&mut self.endpoints, ns.clone())
            .entry(svc.clone())
            .or_insert_with(|| ServiceEndpoints {
                slices: Vec::new(),
                ready: Arc::new([]),
            })
            .slices;
        if let Err(at) = slices.binary_search(&name) {
            slices.insert(at, name);
        }
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
        for ep in old.ready.iter() {
            self.reverse
                .remove(ep.ip, |e| e.namespace() == ns && e.slice() == Some(name));
        }
        if let Some(e) = ns_mut(&mut self.endpoints, ns).and_then(|m| m.get_mut(&old.service)) {
            e.slices.retain(|s| **s != *name);
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
        let ip: Option<IpAddr> = pod
            .status
            .as_ref()
            .and_then(|s| s.pod_ip.as_deref())
            .and_then(|ip| ip.parse().ok())
            .filter(|_| pod.metadata.deletion_timestamp.is_none());
        // Pods change status all the time; only the indexed IP matters.
        if ip.is_some() && self.pods.get(&ns).and_then(|m| m.get(name)) == ip.as_ref() {
            return;
        }
        self.delete_pod(&ns, name);
        if let Some(ip) = ip {
            self.pod_ips.entry_or_default(ip).push(ns.clone());
            ns_entry(&mut self.pods, ns).insert(name.into(), ip);
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
            if let Some(i) = list.iter().position(|n| **n == *ns) {
                list.swap_remove(i);
            }
            if list.is_empty() {
                self.pod_ips.remove(&ip);
            }
        }
        self.touch();
    }

    /// Ends a relist of Namespaces: deletes every one `keep` (the relist's keys) does not
    /// name. The relist's objects were applied as they came, so a name that still exists is
    /// never absent from a published snapshot.
    pub fn sweep_namespaces(&mut self, keep: &HashSet<Key>) {
        let gone: Vec<Name> = self
            .namespaces
            .iter()
            .filter(|n| !keep.contains(&Key::new("", n)))
            .cloned()
            .collect();
        gone.iter().for_each(|n| self.delete_namespace(n));
    }

    /// Ends a relist of Services, like [`ZoneView::sweep_namespaces`].
    pub fn sweep_services(&mut self, keep: &HashSet<Key>) {
        let gone = stale_keys(&self.services, keep);
        gone.iter().for_each(|(ns, n)| self.delete_service(ns, n));
    }

    /// Ends a relist of EndpointSlices.
    pub fn sweep_slices(&mut self, keep: &HashSet<Key>) {
        let gone = stale_keys(&self.slices, keep);
        gone.iter().for_each(|(ns, n)| self.delete_slice(ns, n));
    }

    /// Ends a relist of Pods (`verified` mode only keeps any).
    pub fn sweep_pods(&mut self, keep: &HashSet<Key>) {
        let gone = stale_keys(&self.pods, keep);
        gone.iter().for_each(|(ns, n)| self.delete_pod(ns, n));
    }

    fn add_service_ptrs(&mut self, data: &ServiceData) {
        if let ServiceKind::ClusterIp(ips) = &data.kind {
            let owner = PtrOwner::cluster_ip(data.namespace.clone(), data.name.clone());
            for ip in ips {
                self.reverse.add(*ip, PtrEntry::new(&owner, None));
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
            self.reverse.remove(ip, |e| {
                e.is_cluster_ip() && e.namespace() == ns && e.service() == name
            });
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
        let slices = self.slices.get(ns);
        let lists: Vec<&Arc<[EndpointData]>> = entry
            .slices
            .iter()
            .filter_map(|name| slices.and_then(|m| m.get(name)))
            .map(|s| &s.ready)
            .collect();
        let mut seen = HashSet::new();
        let total: usize = lists.iter().map(|l| l.len()).sum();
        let unique: Vec<EndpointData> = lists
            .iter()
            .flat_map(|l| l.iter())
            .filter(|ep| seen.insert(ep.ip))
            .cloned()
            .collect();
        entry.ready = match lists.as_slice() {
            // The usual case: share the slice's own list instead of copying it.
            [only] if unique.len() == total => Arc::clone(only),
            _ => unique.into(),
        };
    }
}

/// `(namespace, name)` of the entries of a two-level map whose [`Key`] is not in `keep`.
fn stale_keys<V>(map: &PerNamespace<V>, keep: &HashSet<Key>) -> Vec<(Name, Name)> {
    map.iter()
        .flat_map(|(ns, m)| m.keys().map(move |n| (ns.clone(), n.clone())))
        .filter(|(ns, n)| !keep.contains(&Key::new(ns, n)))
        .collect()
}

fn now_serial() -> u32 {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    // SOA serials are 32-bit and compared with serial arithmetic (RFC 1982), so wrapping is fine.
    secs as u32
}

fn service_data(namespace: Name, name: Name, svc: &Service) -> ServiceData {
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
        let ips = spec.and_then(|s| s.cluster_ips.as_deref()).unwrap_or(&[]);
        let ips = if ips.is_empty() {
            spec.map_or(&[][..], |s| s.cluster_ip.as_slice())
        } else {
            ips
        };
        // "" or "None" and anything unparseable are skipped rather than trusted.
        ServiceKind::ClusterIp(ips.iter().filter_map(|ip| ip.parse().ok()).collect())
    };
    ServiceData {
        namespace,
        name,
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
        // One allocation per named endpoint, shared by its addresses and PTR entries.
        let label: Option<Name> = match (ep.hostname.as_deref().filter(|h| !h.is_empty()), pod_name)
        {
            (Some(h), _) => Some(h.to_ascii_lowercase().into()),
            (None, Some(p)) => Some(p.to_ascii_lowercase().into()),
            (None, None) => None,
        };
        for addr in &ep.addresses {
            let Ok(ip) = addr.parse::<IpAddr>() else {
                continue;
            };
            out.push(EndpointData {
                ip,
                label: label.clone(),
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
            .map(|e| {
                e.target(ip(addr), "cluster.local")
                    .replace(".svc.cluster.local.", "")
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
    fn one_slice_services_share_its_list() {
        let v = fixtures::view(&Config::default());
        let shared = |svc: &str, slice: &str| {
            Arc::ptr_eq(
                &v.endpoints["demo"][svc].ready,
                &v.slices["demo"][slice].ready,
            )
        };
        assert!(shared("web", "web-abc"));
        // Two slices (with an address in common): a merged, deduplicated list of its own.
        assert!(!shared("nginx", "nginx-abc") && !shared("nginx", "nginx-def"));
        // Unnamed endpoints keep no label; their name is the dashed IP, derived.
        let ep = &v.ready_endpoints("demo", "web")[0];
        assert!(ep.label.is_none() && ep.is_named("10-244-1-10") && ep.name() == "10-244-1-10");
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
