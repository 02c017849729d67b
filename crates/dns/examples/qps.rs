//! In-process DNS throughput: queries/s through the respond path (no sockets) with and without
//! the pre-encoded answer cache, for the cluster-shaped zone and query mix of perf-anchors.md,
//! plus the cost of publishing a snapshot (a change applied to the working copy, then a clone).
//!
//! `cargo run --release -p dns --example qps [SERVICES...]` (default: 1000 100000).
//!
//! Zone: SERVICES Services in SERVICES/100 namespaces (at least 10); 70% ClusterIP with a
//! named port `http` and 2 endpoints, 30% headless with 3–20 endpoints (every third with
//! hostnames). Mix: 60% Service A, 15% headless A, 10% SRV, 10% search-path misses
//! (NXDOMAIN), 5% PTR of ClusterIPs, drawn from a 100k-query list replayed in order.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use dns::wire::query_packet;
use dns::{Config, RecordType, Transport, ZoneView, respond, respond_uncached};
use k8s_openapi::api::core::v1::{Namespace, Service, ServicePort, ServiceSpec};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort, EndpointSlice};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

/// Distinct queries in the replayed list (dnsperf replays a query file the same way).
const QUERY_LIST: usize = 100_000;
/// Queries per type for the per-type costs: few enough to stay in the CPU caches, like the
/// receive buffer of a server, so the numbers compare the work per type, not memory misses.
const PER_TYPE_LIST: usize = 2_000;

struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

/// The i-th address of a /8-sized pool starting at `base`.
fn addr(base: [u8; 2], i: usize) -> Ipv4Addr {
    let [b, c, d] = [(i >> 16) as u8, (i >> 8) as u8, i as u8];
    Ipv4Addr::new(base[0], base[1] + b, c, d)
}

fn meta(ns: &str, name: &str, labels: Option<BTreeMap<String, String>>) -> ObjectMeta {
    ObjectMeta {
        namespace: Some(ns.into()),
        name: Some(name.into()),
        labels,
        ..ObjectMeta::default()
    }
}

struct Cluster {
    view: ZoneView,
    cluster_ip: Vec<(String, String, Ipv4Addr)>,
    headless: Vec<(String, String)>,
}

fn cluster(services: usize) -> Cluster {
    let namespaces = (services / 100).max(10);
    let mut rng = Rng(0x5EED);
    let (mut svcs, mut slices) = (Vec::new(), Vec::new());
    let (mut cluster_ip, mut headless) = (Vec::new(), Vec::new());
    let mut pod_ip = 0;
    for i in 0..services {
        let ns = format!("ns-{}", i % namespaces);
        let name = format!("svc-{i}");
        let is_headless = i % 10 >= 7;
        let ip = addr([10, 96], i + 1);
        svcs.push(Service {
            metadata: meta(&ns, &name, None),
            spec: Some(ServiceSpec {
                cluster_ip: Some(if is_headless {
                    "None".into()
                } else {
                    ip.to_string()
                }),
                ports: Some(vec![ServicePort {
                    name: Some("http".into()),
                    port: 80,
                    protocol: Some("TCP".into()),
                    ..ServicePort::default()
                }]),
                ..ServiceSpec::default()
            }),
            ..Service::default()
        });
        let n = if is_headless { 3 + rng.below(18) } else { 2 };
        let endpoints = (0..n)
            .map(|k| {
                pod_ip += 1;
                Endpoint {
                    addresses: vec![addr([10, 128], pod_ip).to_string()],
                    hostname: (is_headless && i % 3 == 0).then(|| format!("host-{k}")),
                    conditions: Some(EndpointConditions {
                        ready: Some(true),
                        ..EndpointConditions::default()
                    }),
                    ..Endpoint::default()
                }
            })
            .collect();
        let labels = BTreeMap::from([("kubernetes.io/service-name".into(), name.clone())]);
        slices.push(EndpointSlice {
            metadata: meta(&ns, &format!("{name}-abc"), Some(labels)),
            address_type: "IPv4".into(),
            endpoints,
            ports: Some(vec![EndpointPort {
                name: Some("http".into()),
                port: Some(8080),
                protocol: Some("TCP".into()),
                ..EndpointPort::default()
            }]),
        });
        if is_headless {
            headless.push((ns, name));
        } else {
            cluster_ip.push((ns, name, ip));
        }
    }
    let nss: Vec<Namespace> = (0..namespaces)
        .map(|i| Namespace {
            metadata: ObjectMeta {
                name: Some(format!("ns-{i}")),
                ..ObjectMeta::default()
            },
            ..Namespace::default()
        })
        .collect();
    let view = ZoneView::build(&Config::default(), &svcs, &slices, &nss, &[]);
    Cluster {
        view,
        cluster_ip,
        headless,
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    ServiceA,
    HeadlessA,
    Srv,
    NxDomain,
    Ptr,
}

const KINDS: [Kind; 5] = [
    Kind::ServiceA,
    Kind::HeadlessA,
    Kind::Srv,
    Kind::NxDomain,
    Kind::Ptr,
];

fn query(c: &Cluster, kind: Kind, rng: &mut Rng, id: u16) -> Vec<u8> {
    let pick = |rng: &mut Rng| &c.cluster_ip[rng.below(c.cluster_ip.len())];
    let (name, qtype) = match kind {
        Kind::ServiceA => {
            let (ns, s, _) = pick(rng);
            (format!("{s}.{ns}.svc.cluster.local."), RecordType::A)
        }
        Kind::HeadlessA => {
            let (ns, s) = &c.headless[rng.below(c.headless.len())];
            (format!("{s}.{ns}.svc.cluster.local."), RecordType::A)
        }
        Kind::Srv => {
            let (ns, s, _) = pick(rng);
            (
                format!("_http._tcp.{s}.{ns}.svc.cluster.local."),
                RecordType::SRV,
            )
        }
        // ndots:5 expands `svc.ns.svc.cluster.local` with the pod's own search domain first.
        Kind::NxDomain => {
            let (ns, s, _) = pick(rng);
            (
                format!("{s}.{ns}.svc.cluster.local.{ns}.svc.cluster.local."),
                RecordType::A,
            )
        }
        Kind::Ptr => {
            let [a, b, cc, d] = pick(rng).2.octets();
            (format!("{d}.{cc}.{b}.{a}.in-addr.arpa."), RecordType::PTR)
        }
    };
    query_packet(id, &name, qtype, None).expect("valid name")
}

fn kind_for(rng: &mut Rng) -> Kind {
    match rng.below(100) {
        0..60 => Kind::ServiceA,
        60..75 => Kind::HeadlessA,
        75..85 => Kind::Srv,
        85..95 => Kind::NxDomain,
        _ => Kind::Ptr,
    }
}

type Respond = fn(&ZoneView, &[u8], Transport, usize) -> Option<Vec<u8>>;

/// Best of `rounds` passes over `queries`: nanoseconds per query.
fn ns_per_query(view: &ZoneView, queries: &[Vec<u8>], f: Respond, rounds: usize) -> f64 {
    let mut best = Duration::MAX;
    let mut rot = 0usize;
    for _ in 0..rounds {
        let t = Instant::now();
        for q in queries {
            rot = rot.wrapping_add(1);
            black_box(f(view, black_box(q), Transport::Udp, rot));
        }
        best = best.min(t.elapsed());
    }
    best.as_nanos() as f64 / queries.len() as f64
}

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn run(services: usize) {
    let t = Instant::now();
    let c = cluster(services);
    println!(
        "== {services} Services: view built in {:.0} ms, RSS {:.0} MiB",
        t.elapsed().as_secs_f64() * 1e3,
        rss_mib()
    );
    let mut rng = Rng(42);
    let mix: Vec<Vec<u8>> = (0..QUERY_LIST)
        .map(|i| {
            let k = kind_for(&mut rng);
            query(&c, k, &mut rng, i as u16)
        })
        .collect();
    let v = &c.view;
    // Sanity: cached and general paths agree on the whole list.
    for (i, q) in mix.iter().enumerate() {
        assert_eq!(
            respond(v, q, Transport::Udp, i),
            respond_uncached(v, q, Transport::Udp, i)
        );
    }
    let fresh = v.clone();
    let cold = ns_per_query(&fresh, &mix, respond, 1);
    let before = ns_per_query(v, &mix, respond_uncached, 3);
    let after = ns_per_query(v, &mix, respond, 5);
    println!(
        "mix: general path {:.0} ns/q ({:.0} kqps), cached {:.0} ns/q ({:.0} kqps), x{:.1}; \
         first pass on an empty cache {:.0} ns/q; {} entries, RSS {:.0} MiB",
        before,
        1e6 / before,
        after,
        1e6 / after,
        before / after,
        cold,
        v.answer_cache().len(),
        rss_mib()
    );
    // Per type, interleaved rounds so a noisy neighbour hits every type alike.
    let lists: Vec<Vec<Vec<u8>>> = KINDS
        .iter()
        .map(|&kind| {
            (0..PER_TYPE_LIST)
                .map(|i| query(&c, kind, &mut rng, i as u16))
                .collect()
        })
        .collect();
    let (mut slow, mut fast) = ([f64::MAX; 5], [f64::MAX; 5]);
    for _ in 0..5 {
        for (i, qs) in lists.iter().enumerate() {
            slow[i] = slow[i].min(ns_per_query(v, qs, respond_uncached, 2));
            fast[i] = fast[i].min(ns_per_query(v, qs, respond, 20));
        }
    }
    // `QPS_PROFILE=<type index>`: loop that type's cached path for a profiler.
    if let Some(i) = std::env::var("QPS_PROFILE")
        .ok()
        .and_then(|k| k.parse::<usize>().ok())
    {
        ns_per_query(v, &lists[i % lists.len()], respond, 500);
    }
    for (i, kind) in KINDS.iter().enumerate() {
        println!(
            "  {kind:?}: general {:.0} ns/q, cached {:.0} ns/q ({:.2}x Service A)",
            slow[i],
            fast[i],
            fast[i] / fast[0]
        );
    }
    publish_cost(&c);
}

/// A feeder cycle: one EndpointSlice change applied to the working copy, then a publish
/// (clone). With copy-on-write maps the change pays for copying what it touches.
fn publish_cost(c: &Cluster) {
    let mut work = c.view.clone();
    let mut rng = Rng(7);
    let (mut change, mut clone) = (Duration::ZERO, Duration::ZERO);
    const ROUNDS: u32 = 50;
    for round in 0..ROUNDS {
        let (ns, name) = &c.headless[rng.below(c.headless.len())];
        let endpoints = (0..5)
            .map(|k| Endpoint {
                addresses: vec![addr([10, 200], round as usize * 8 + k).to_string()],
                ..Endpoint::default()
            })
            .collect();
        let labels = BTreeMap::from([("kubernetes.io/service-name".into(), name.clone())]);
        let slice = EndpointSlice {
            metadata: meta(ns, &format!("{name}-abc"), Some(labels)),
            address_type: "IPv4".into(),
            endpoints,
            ports: None,
        };
        let t = Instant::now();
        work.apply_slice(&slice);
        change += t.elapsed();
        let t = Instant::now();
        let snapshot = black_box(work.clone());
        clone += t.elapsed();
        drop(snapshot);
    }
    println!(
        "publish: apply one slice change {:.3} ms + clone {:.3} ms (mean of {ROUNDS})",
        change.as_secs_f64() * 1e3 / f64::from(ROUNDS),
        clone.as_secs_f64() * 1e3 / f64::from(ROUNDS),
    );
}

fn main() {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sizes = if sizes.is_empty() {
        vec![1_000, 100_000]
    } else {
        sizes
    };
    for n in sizes {
        run(n);
    }
}
