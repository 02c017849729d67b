//! The cluster the DNS benchmark serves, generated deterministically from its size so that the
//! objects loaded into svcplane, the zone files of the peers and the expected answers of the
//! correctness gate are all derived from one value and can never disagree.
//!
//! Shape (shared/design/perf-anchors.md): N Services in max(N/100, 10) namespaces; 70% ClusterIP
//! with one named port `http`/TCP (A, SRV, PTR); 30% headless with 3–20 ready endpoints, every
//! third of them with StatefulSet-style hostnames `web-0`, `web-1`… (the others are named by
//! their dashed IP, as CoreDNS and svcplane do). ClusterIPs come from 10.96.0.0/12, pod IPs from
//! 10.244.0.0/16 (continuing into 10.245+ past 65k pods: the addresses are data only).
//!
//! The memory shape ([`generate_with_pods`]): the same Services, but a given number of pods
//! spread evenly over *all* of them, ClusterIP ones included (their EndpointSlices are watched
//! too and give PTR records). Only svcplane is loaded with it (the RSS measurement); the peers'
//! zones and the query files always use the default shape.

use std::net::Ipv4Addr;

pub const ZONE: &str = "cluster.local";
/// The reverse zone the peers serve: it covers both the ClusterIPs and the pod IPs.
pub const REVERSE_ZONE: &str = "10.in-addr.arpa";
pub const TTL: u32 = 5;
/// The Service port, which ClusterIP SRV records carry.
pub const SERVICE_PORT: u16 = 80;
/// The endpoint (target) port, which headless SRV records carry (dns-spec.md §3.6).
pub const TARGET_PORT: u16 = 8080;
/// First ClusterIP handed out: 10.96.1.0 keeps clear of the bootstrap Services (10.96.0.1
/// `kubernetes`, 10.96.0.10 `kube-dns`).
const FIRST_CLUSTER_IP: Ipv4Addr = Ipv4Addr::new(10, 96, 1, 0);
const FIRST_POD_IP: Ipv4Addr = Ipv4Addr::new(10, 244, 0, 2);

pub struct Cluster {
    pub namespaces: Vec<String>,
    pub services: Vec<Service>,
}

pub struct Service {
    pub namespace: String,
    pub name: String,
    pub kind: Kind,
    /// Ready pods behind a ClusterIP Service (memory shape only; empty in the default shape).
    pub backends: Vec<Endpoint>,
}

pub enum Kind {
    ClusterIp(Ipv4Addr),
    Headless(Vec<Endpoint>),
}

pub struct Endpoint {
    pub ip: Ipv4Addr,
    pub hostname: Option<String>,
}

impl Endpoint {
    /// The endpoint's DNS label: its hostname, else the dashed IP.
    pub fn label(&self) -> String {
        match &self.hostname {
            Some(h) => h.clone(),
            None => self.ip.to_string().replace('.', "-"),
        }
    }
}

impl Service {
    /// `<svc>.<ns>.svc.cluster.local`, without the trailing dot.
    pub fn fqdn(&self) -> String {
        format!("{}.{}.svc.{ZONE}", self.name, self.namespace)
    }

    pub fn endpoints(&self) -> &[Endpoint] {
        match &self.kind {
            Kind::ClusterIp(_) => &[],
            Kind::Headless(eps) => eps,
        }
    }

    /// The addresses of the Service's EndpointSlice: its headless endpoints or its backends.
    pub fn slice_endpoints(&self) -> &[Endpoint] {
        match &self.kind {
            Kind::ClusterIp(_) => &self.backends,
            Kind::Headless(eps) => eps,
        }
    }
}

/// xorshift64: tiny, deterministic and good enough to pick sizes and queries.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    pub fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n.max(1) as u64) as usize
    }
}

fn nth(base: Ipv4Addr, i: usize) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(base) + i as u32)
}

pub fn generate(services: usize) -> Cluster {
    generate_shaped(services, None)
}

/// `services` Services with `pods` ready pods spread evenly over all of them (see the module
/// docs); ClusterIPs, names and the ClusterIP/headless split are those of [`generate`].
pub fn generate_with_pods(services: usize, pods: usize) -> Cluster {
    generate_shaped(services, Some(pods))
}

fn generate_shaped(services: usize, total_pods: Option<usize>) -> Cluster {
    let ns_count = (services / 100).max(10);
    let namespaces: Vec<String> = (0..ns_count).map(|i| format!("ns-{i}")).collect();
    let mut rng = Rng::new(0x5EED_D115);
    let mut pods = 0;
    let mut headless_seen = 0;
    // Pods of Service i in the memory shape: an even share, the remainder to the first ones.
    let share = |i: usize| total_pods.map(|p| p / services + usize::from(i < p % services));
    let mut next_pods = |n: usize, named: bool| -> Vec<Endpoint> {
        (0..n)
            .map(|k| {
                pods += 1;
                Endpoint {
                    ip: nth(FIRST_POD_IP, pods - 1),
                    hostname: named.then(|| format!("web-{k}")),
                }
            })
            .collect()
    };
    let services = (0..services)
        .map(|i| {
            // Every 10 consecutive Services: 7 ClusterIP, 3 headless.
            let (kind, backends) = if i % 10 < 7 {
                let backends = next_pods(share(i).unwrap_or(0), false);
                (Kind::ClusterIp(nth(FIRST_CLUSTER_IP, i)), backends)
            } else {
                let named = headless_seen % 3 == 0;
                headless_seen += 1;
                let n = share(i).unwrap_or_else(|| 3 + rng.below(18));
                (Kind::Headless(next_pods(n, named)), Vec::new())
            };
            Service {
                namespace: namespaces[i % ns_count].clone(),
                name: format!("svc-{i}"),
                kind,
                backends,
            }
        })
        .collect();
    Cluster {
        namespaces,
        services,
    }
}

impl Cluster {
    pub fn cluster_ip(&self) -> impl Iterator<Item = (&Service, Ipv4Addr)> {
        self.services.iter().filter_map(|s| match s.kind {
            Kind::ClusterIp(ip) => Some((s, ip)),
            Kind::Headless(_) => None,
        })
    }

    pub fn headless(&self) -> impl Iterator<Item = &Service> {
        self.services
            .iter()
            .filter(|s| matches!(s.kind, Kind::Headless(_)))
    }

    pub fn pods(&self) -> usize {
        self.services
            .iter()
            .map(|s| s.slice_endpoints().len())
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape() {
        let c = generate(1000);
        assert_eq!(c.namespaces.len(), 10);
        assert_eq!(c.cluster_ip().count(), 700);
        let headless: Vec<&Service> = c.headless().collect();
        assert_eq!(headless.len(), 300);
        assert!(
            headless
                .iter()
                .all(|s| (3..=20).contains(&s.endpoints().len()))
        );
        assert_eq!(headless[0].endpoints()[0].label(), "web-0");
        // The next headless Service has no hostnames: its endpoints go by dashed IP.
        let ep = &headless[1].endpoints()[0];
        assert!(ep.hostname.is_none());
        assert_eq!(ep.label(), ep.ip.to_string().replace('.', "-"));
        assert_eq!(c.services[0].fqdn(), "svc-0.ns-0.svc.cluster.local");
        // Deterministic: the peers' zone and svcplane's objects come from separate calls.
        assert_eq!(generate(1000).pods(), c.pods());
    }

    #[test]
    fn memory_shape_spreads_pods_over_every_service() {
        let c = generate_with_pods(1000, 10_005);
        assert_eq!(c.pods(), 10_005);
        assert!(
            c.services
                .iter()
                .all(|s| (10..=11).contains(&s.slice_endpoints().len()))
        );
        // Same Services as the default shape: only the endpoints differ.
        let d = generate(1000);
        assert_eq!(c.cluster_ip().count(), d.cluster_ip().count());
        assert_eq!(c.services[999].fqdn(), d.services[999].fqdn());
        // Pod IPs are unique across Services.
        let ips: std::collections::HashSet<_> = c
            .services
            .iter()
            .flat_map(|s| s.slice_endpoints().iter().map(|e| e.ip))
            .collect();
        assert_eq!(ips.len(), 10_005);
    }
}
