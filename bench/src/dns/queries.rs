//! The query files: the mix of perf-anchors.md for dnsperf (60% Service A, 15% headless A,
//! 10% SRV, 10% search-path misses, 5% PTR), one file per type (to compare each type's cost
//! with a plain Service lookup), and a sample with the expected rcode and answers for the
//! correctness gate, all from the generated cluster.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};

use std::net::Ipv4Addr;

use super::model::{Cluster, Rng, Service, ZONE};
use super::zone::reverse_name;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum QueryKind {
    ServiceA,
    HeadlessA,
    Srv,
    Miss,
    Ptr,
}

impl QueryKind {
    pub const ALL: [QueryKind; 5] = [
        QueryKind::ServiceA,
        QueryKind::HeadlessA,
        QueryKind::Srv,
        QueryKind::Miss,
        QueryKind::Ptr,
    ];

    /// Short name, used in file names and tables.
    pub fn as_str(self) -> &'static str {
        match self {
            QueryKind::ServiceA => "a",
            QueryKind::HeadlessA => "headless",
            QueryKind::Srv => "srv",
            QueryKind::Miss => "nxdomain",
            QueryKind::Ptr => "ptr",
        }
    }

    pub fn parse(s: &str) -> Option<QueryKind> {
        QueryKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Percent of the mix.
    fn share(self) -> usize {
        match self {
            QueryKind::ServiceA => 60,
            QueryKind::HeadlessA => 15,
            QueryKind::Srv | QueryKind::Miss => 10,
            QueryKind::Ptr => 5,
        }
    }
}

pub struct Query {
    pub kind: QueryKind,
    pub name: String,
    pub qtype: &'static str,
    pub nxdomain: bool,
    /// Sorted answer data in presentation form (`10.96.1.0`, `0 100 80 x.`, `x.`); the SRV
    /// priority and weight are left out because they are not prescribed (dns-spec.md §3.3).
    pub answers: Vec<String>,
}

/// The Services by kind, indexed once: queries are drawn by the hundred thousand.
pub struct Picker<'a> {
    cluster: &'a Cluster,
    cip: Vec<(&'a Service, Ipv4Addr)>,
    headless: Vec<&'a Service>,
}

impl<'a> Picker<'a> {
    pub fn new(cluster: &'a Cluster) -> Picker<'a> {
        Picker {
            cluster,
            cip: cluster.cluster_ip().collect(),
            headless: cluster.headless().collect(),
        }
    }
}

/// One query of `kind`, drawn at random from the cluster.
fn draw(p: &Picker, kind: QueryKind, rng: &mut Rng) -> Query {
    let (cluster, headless) = (p.cluster, &p.headless);
    let (svc, ip) = p.cip[rng.below(p.cip.len())];
    let fqdn = svc.fqdn();
    let q = |name: String, qtype, nxdomain, answers: Vec<String>| Query {
        kind,
        name,
        qtype,
        nxdomain,
        answers,
    };
    match kind {
        QueryKind::ServiceA => q(fqdn, "A", false, vec![ip.to_string()]),
        QueryKind::HeadlessA => {
            let h = headless[rng.below(headless.len())];
            let mut ips: Vec<String> = h.endpoints().iter().map(|e| e.ip.to_string()).collect();
            ips.sort();
            q(h.fqdn(), "A", false, ips)
        }
        QueryKind::Srv => q(
            format!("_http._tcp.{fqdn}"),
            "SRV",
            false,
            vec![format!("80 {fqdn}.")],
        ),
        QueryKind::Miss => {
            // What a pod's stub resolver (ndots:5, search <ns>.svc svc cluster.local) sends
            // before the name that answers: every one must be NXDOMAIN.
            let ns = &svc.namespace;
            let other =
                &cluster.namespaces[(cluster.namespaces.iter().position(|n| n == ns).unwrap_or(0)
                    + 1)
                    % cluster.namespaces.len()];
            let name = match rng.below(5) {
                0 => format!("{fqdn}.{ns}.svc.{ZONE}"),
                1 => format!("api.example.com.{ns}.svc.{ZONE}"),
                2 => format!("api.example.com.svc.{ZONE}"),
                3 => format!("api.example.com.{ZONE}"),
                // With a single namespace there is no other one: name a namespace that
                // does not exist, which is NXDOMAIN too.
                _ if other == ns => format!("{}.no-{ns}.svc.{ZONE}", svc.name),
                _ => format!("{}.{other}.svc.{ZONE}", svc.name),
            };
            q(name, "A", true, Vec::new())
        }
        QueryKind::Ptr => {
            // Half ClusterIPs, half pod IPs of headless Services.
            if rng.below(2) == 0 {
                q(reverse_name(ip), "PTR", false, vec![format!("{fqdn}.")])
            } else {
                let h = headless[rng.below(headless.len())];
                let ep = &h.endpoints()[rng.below(h.endpoints().len())];
                let target = format!("{}.{}.", ep.label(), h.fqdn());
                q(reverse_name(ep.ip), "PTR", false, vec![target])
            }
        }
    }
}

/// `count` queries in the mix's proportions, shuffled.
pub fn mix(p: &Picker, count: usize, rng: &mut Rng) -> Vec<Query> {
    (0..count)
        .map(|_| {
            let mut pick = rng.below(100);
            let kind = QueryKind::ALL
                .into_iter()
                .find(|k| {
                    if pick < k.share() {
                        true
                    } else {
                        pick -= k.share();
                        false
                    }
                })
                .unwrap_or(QueryKind::ServiceA);
            draw(p, kind, rng)
        })
        .collect()
}

pub fn of_kind(p: &Picker, kind: QueryKind, count: usize, rng: &mut Rng) -> Vec<Query> {
    (0..count).map(|_| draw(p, kind, rng)).collect()
}

/// dnsperf's input: `name TYPE` per line.
pub fn dnsperf_file(queries: &[Query]) -> String {
    let mut out = String::with_capacity(queries.len() * 48);
    for q in queries {
        let _ = writeln!(out, "{} {}", q.name, q.qtype);
    }
    out
}

/// The gate's input: `kind<TAB>name<TAB>type<TAB>NOERROR|NXDOMAIN<TAB>answer|answer…`.
pub fn expected_file(queries: &[Query]) -> String {
    let mut out = String::new();
    for q in queries {
        let _ = writeln!(
            out,
            "{}\t{}\t{}\t{}\t{}",
            q.kind.as_str(),
            q.name,
            q.qtype,
            if q.nxdomain { "NXDOMAIN" } else { "NOERROR" },
            q.answers.join("|")
        );
    }
    out
}

pub fn parse_expected(text: &str) -> Result<Vec<Query>> {
    text.lines()
        .filter(|l| !l.is_empty())
        .map(|line| {
            let f: Vec<&str> = line.split('\t').collect();
            let bad = || format!("bad expected line {line:?}");
            anyhow::ensure!(f.len() == 5, bad());
            Ok(Query {
                kind: QueryKind::parse(f[0]).with_context(bad)?,
                name: f[1].to_string(),
                qtype: match f[2] {
                    "A" => "A",
                    "SRV" => "SRV",
                    "PTR" => "PTR",
                    _ => anyhow::bail!(bad()),
                },
                nxdomain: f[3] == "NXDOMAIN",
                answers: f[4]
                    .split('|')
                    .filter(|a| !a.is_empty())
                    .map(String::from)
                    .collect(),
            })
        })
        .collect()
}

/// Writes `queries.txt` (the mix), `queries-<kind>.txt` and `expected.tsv` (`sample` per kind).
pub fn write_all(cluster: &Cluster, dir: &Path, mix_len: usize, sample: usize) -> Result<()> {
    let mut rng = Rng::new(0xD15C0);
    let p = Picker::new(cluster);
    let write = |name: String, text: String| {
        let path = dir.join(name);
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))
    };
    write(
        "queries.txt".into(),
        dnsperf_file(&mix(&p, mix_len, &mut rng)),
    )?;
    let mut expected = Vec::new();
    for kind in QueryKind::ALL {
        let per_type = of_kind(&p, kind, mix_len / 5, &mut rng);
        write(
            format!("queries-{}.txt", kind.as_str()),
            dnsperf_file(&per_type),
        )?;
        expected.extend(of_kind(&p, kind, sample, &mut rng));
    }
    write("expected.tsv".into(), expected_file(&expected))
}

#[cfg(test)]
mod tests {
    use super::super::model::generate;
    use super::*;

    #[test]
    fn mix_proportions_and_round_trip() {
        let c = generate(1000);
        let mut rng = Rng::new(1);
        let qs = mix(&Picker::new(&c), 10_000, &mut rng);
        let share = |k| qs.iter().filter(|q| q.kind == k).count() as f64 / 100.0;
        assert!((share(QueryKind::ServiceA) - 60.0).abs() < 3.0);
        assert!((share(QueryKind::Ptr) - 5.0).abs() < 1.5);
        assert!(
            qs.iter()
                .filter(|q| q.kind == QueryKind::Miss)
                .all(|q| q.nxdomain)
        );
        let back = parse_expected(&expected_file(&qs[..50])).unwrap();
        assert_eq!(back.len(), 50);
        assert_eq!(back[7].answers, qs[7].answers);
    }
}
