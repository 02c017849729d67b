//! The records of a generated cluster as the peers need them: RFC 1035 zone files (Knot, NSD,
//! BIND), Unbound `local-data`, and a dnsmasq hosts file plus `srv-host` lines. The records are
//! those svcplane synthesizes from the same objects (dns-spec.md §2–3): Service A, ClusterIP and
//! headless SRV, endpoint-name A, and PTR for ClusterIPs and ready endpoint IPs.

use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::path::Path;

use anyhow::{Context, Result};

use super::model::{Cluster, Kind, REVERSE_ZONE, SERVICE_PORT, TARGET_PORT, TTL, ZONE};

pub enum Data {
    A(Ipv4Addr),
    Srv {
        weight: u16,
        port: u16,
        target: String,
    },
    Ptr(String),
}

/// One record; names are absolute, without the trailing dot.
pub struct Rr {
    pub owner: String,
    pub data: Data,
}

pub fn reverse_name(ip: Ipv4Addr) -> String {
    let [a, b, c, d] = ip.octets();
    format!("{d}.{c}.{b}.{a}.in-addr.arpa")
}

/// `cluster.local` records.
pub fn forward(cluster: &Cluster) -> Vec<Rr> {
    let mut rrs = Vec::new();
    for svc in &cluster.services {
        let fqdn = svc.fqdn();
        let srv_owner = format!("_http._tcp.{fqdn}");
        match &svc.kind {
            Kind::ClusterIp(ip) => {
                rrs.push(Rr {
                    owner: fqdn.clone(),
                    data: Data::A(*ip),
                });
                rrs.push(Rr {
                    owner: srv_owner,
                    data: Data::Srv {
                        weight: 100,
                        port: SERVICE_PORT,
                        target: fqdn,
                    },
                });
            }
            Kind::Headless(eps) => {
                // CoreDNS's weight: floor(100 / N), at least 1.
                let weight = (100 / eps.len().max(1)).max(1) as u16;
                for ep in eps {
                    let ep_name = format!("{}.{fqdn}", ep.label());
                    rrs.push(Rr {
                        owner: fqdn.clone(),
                        data: Data::A(ep.ip),
                    });
                    rrs.push(Rr {
                        owner: ep_name.clone(),
                        data: Data::A(ep.ip),
                    });
                    rrs.push(Rr {
                        owner: srv_owner.clone(),
                        data: Data::Srv {
                            weight,
                            port: TARGET_PORT,
                            target: ep_name,
                        },
                    });
                }
            }
        }
    }
    rrs
}

/// `10.in-addr.arpa` records: one PTR per ClusterIP and per ready endpoint IP.
pub fn reverse(cluster: &Cluster) -> Vec<Rr> {
    let mut rrs = Vec::new();
    for svc in &cluster.services {
        let fqdn = svc.fqdn();
        match &svc.kind {
            Kind::ClusterIp(ip) => rrs.push(Rr {
                owner: reverse_name(*ip),
                data: Data::Ptr(fqdn),
            }),
            Kind::Headless(eps) => {
                for ep in eps {
                    rrs.push(Rr {
                        owner: reverse_name(ep.ip),
                        data: Data::Ptr(format!("{}.{fqdn}", ep.label())),
                    });
                }
            }
        }
    }
    rrs
}

/// `TYPE RDATA` in presentation format.
fn rdata(data: &Data) -> String {
    match data {
        Data::A(ip) => format!("A {ip}"),
        Data::Srv {
            weight,
            port,
            target,
        } => format!("SRV 0 {weight} {port} {target}."),
        Data::Ptr(target) => format!("PTR {target}."),
    }
}

fn soa(origin: &str) -> String {
    format!("{origin}. {TTL} IN SOA ns.dns.{ZONE}. hostmaster.{ZONE}. 1 7200 1800 86400 {TTL}")
}

/// A zone file every authoritative peer loads as is.
pub fn zone_file(origin: &str, rrs: &[Rr]) -> String {
    let mut out = String::with_capacity(rrs.len() * 64);
    let _ = writeln!(
        out,
        "$TTL {TTL}\n{}\n{origin}. {TTL} IN NS ns.dns.{ZONE}.",
        soa(origin)
    );
    if origin == ZONE {
        let _ = writeln!(out, "ns.dns.{ZONE}. {TTL} IN A 127.0.0.1");
    }
    for rr in rrs {
        let _ = writeln!(out, "{}. {TTL} IN {}", rr.owner, rdata(&rr.data));
    }
    out
}

/// Unbound: static local zones, so any name without data is NXDOMAIN (or NODATA for an empty
/// non-terminal), as in an authoritative zone.
pub fn unbound_include(forward: &[Rr], reverse: &[Rr]) -> String {
    let mut out = String::with_capacity((forward.len() + reverse.len()) * 70);
    for origin in [ZONE, REVERSE_ZONE] {
        let _ = writeln!(out, "local-zone: \"{origin}.\" static");
        let _ = writeln!(out, "local-data: \"{}\"", soa(origin));
    }
    for rr in forward.iter().chain(reverse) {
        let _ = writeln!(
            out,
            "local-data: \"{}. {TTL} IN {}\"",
            rr.owner,
            rdata(&rr.data)
        );
    }
    out
}

/// dnsmasq: a hosts file (the first name on a line is what PTR answers, so an endpoint's own
/// name goes first, then the headless Service name it also answers) and `srv-host` lines.
pub fn dnsmasq(cluster: &Cluster) -> (String, String) {
    let (mut hosts, mut conf) = (String::new(), String::new());
    for svc in &cluster.services {
        let fqdn = svc.fqdn();
        match &svc.kind {
            Kind::ClusterIp(ip) => {
                let _ = writeln!(hosts, "{ip} {fqdn}");
                let _ = writeln!(
                    conf,
                    "srv-host=_http._tcp.{fqdn},{fqdn},{SERVICE_PORT},0,100"
                );
            }
            Kind::Headless(eps) => {
                let weight = (100 / eps.len().max(1)).max(1);
                for ep in eps {
                    let ep_name = format!("{}.{fqdn}", ep.label());
                    let _ = writeln!(hosts, "{} {ep_name} {fqdn}", ep.ip);
                    let _ = writeln!(
                        conf,
                        "srv-host=_http._tcp.{fqdn},{ep_name},{TARGET_PORT},0,{weight}"
                    );
                }
            }
        }
    }
    (hosts, conf)
}

/// Writes every peer's data into `dir`: `cluster.local.zone`, `10.in-addr.arpa.zone`,
/// `unbound-local.conf`, `dnsmasq.hosts`, `dnsmasq-srv.conf`.
pub fn write_all(cluster: &Cluster, dir: &Path) -> Result<()> {
    let fwd = forward(cluster);
    let rev = reverse(cluster);
    let (hosts, srv) = dnsmasq(cluster);
    let files = [
        (format!("{ZONE}.zone"), zone_file(ZONE, &fwd)),
        (
            format!("{REVERSE_ZONE}.zone"),
            zone_file(REVERSE_ZONE, &rev),
        ),
        (
            "unbound-local.conf".to_string(),
            unbound_include(&fwd, &rev),
        ),
        ("dnsmasq.hosts".to_string(), hosts),
        ("dnsmasq-srv.conf".to_string(), srv),
    ];
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::model::generate;
    use super::*;

    #[test]
    fn records_of_a_small_cluster() {
        let c = generate(10);
        let fwd = forward(&c);
        let zone = zone_file(ZONE, &fwd);
        assert!(
            zone.contains("svc-0.ns-0.svc.cluster.local. 5 IN A 10.96.1.0\n"),
            "{zone}"
        );
        assert!(zone.contains(
            "_http._tcp.svc-0.ns-0.svc.cluster.local. 5 IN SRV 0 100 80 svc-0.ns-0.svc.cluster.local.\n"
        ));
        // svc-7 is the first headless Service, with hostnames.
        assert!(zone.contains("web-0.svc-7.ns-7.svc.cluster.local. 5 IN A 10.244.0.2\n"));
        let rev = zone_file(REVERSE_ZONE, &reverse(&c));
        assert!(rev.contains("0.1.96.10.in-addr.arpa. 5 IN PTR svc-0.ns-0.svc.cluster.local.\n"));
        assert!(
            rev.contains("2.0.244.10.in-addr.arpa. 5 IN PTR web-0.svc-7.ns-7.svc.cluster.local.\n")
        );
        let (hosts, _) = dnsmasq(&c);
        assert!(hosts.contains(
            "10.244.0.2 web-0.svc-7.ns-7.svc.cluster.local svc-7.ns-7.svc.cluster.local\n"
        ));
    }
}
