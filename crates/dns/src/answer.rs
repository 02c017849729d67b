//! Answer building (pure): one question against a [`ZoneView`] gives an [`Answer`], following
//! dns-spec.md §1–§4 and the choices of §8. No I/O, no clock, no randomness: rotation and
//! truncation belong to `wire`.

use std::net::IpAddr;

use hickory_proto::rr::{DNSClass, RecordType};

use crate::config::PodsMode;
use crate::name::{Kind, ParsedName, Query, ZoneMatch, parse};
use crate::record::{Answer, Next, RData, Rcode, Rr};
use crate::zone::{EndpointData, PortSpec, ServiceData, ServiceKind, ZoneView};

/// TTL of the `dns-version` TXT record, fixed by the spec example and CoreDNS.
pub const DNS_VERSION_TTL: u32 = 28800;
/// The schema version the zone implements.
pub const DNS_SCHEMA_VERSION: &str = "1.1.0";
/// How many in-zone CNAMEs are followed before giving up (ExternalName loops).
const MAX_CHASE: usize = 8;

/// Answers one question. `qname` is absolute; the trailing dot is optional.
pub fn answer(view: &ZoneView, qname: &str, qtype: RecordType, qclass: DNSClass) -> Answer {
    if qclass != DNSClass::IN || matches!(qtype, RecordType::AXFR | RecordType::IXFR) {
        return Answer::bare(Rcode::Refused, Next::Done);
    }
    answer_at_depth(view, qname, qtype, 0)
}

fn answer_at_depth(view: &ZoneView, qname: &str, qtype: RecordType, depth: usize) -> Answer {
    let parsed = parse(view.config(), qname);
    let Some(zone) = &parsed.zone else {
        return Answer::bare(Rcode::Refused, Next::Forward);
    };
    let ctx = Ctx {
        view,
        zone,
        owner: &parsed.owner,
        qtype,
    };
    match ctx.lookup(&parsed) {
        Outcome::Records {
            answers,
            additionals,
        } => Answer {
            rcode: Rcode::NoError,
            authoritative: true,
            answers,
            authority: Vec::new(),
            additionals,
            next: Next::Done,
        },
        Outcome::NoData => ctx.negative(Rcode::NoError),
        Outcome::NxDomain if !view.synced() => Answer::bare(Rcode::ServFail, Next::Done),
        Outcome::NxDomain => ctx.negative(Rcode::NxDomain),
        Outcome::Cname { record, target } => ctx.chase(record, &target, depth),
    }
}

/// The result of looking a name up, before it becomes an [`Answer`].
enum Outcome {
    Records {
        answers: Vec<Rr>,
        additionals: Vec<Rr>,
    },
    NoData,
    NxDomain,
    /// An ExternalName: the CNAME, then the target's records.
    Cname {
        record: Rr,
        target: String,
    },
}

impl Outcome {
    fn records(answers: Vec<Rr>) -> Self {
        Self::with_additionals(answers, Vec::new())
    }

    /// Empty answers mean the name exists without data of the asked type.
    fn with_additionals(answers: Vec<Rr>, additionals: Vec<Rr>) -> Self {
        if answers.is_empty() {
            Self::NoData
        } else {
            Self::Records {
                answers,
                additionals,
            }
        }
    }

    fn exists_if(exists: bool) -> Self {
        if exists { Self::NoData } else { Self::NxDomain }
    }
}

struct Ctx<'a> {
    view: &'a ZoneView,
    zone: &'a ZoneMatch,
    owner: &'a str,
    qtype: RecordType,
}

impl Ctx<'_> {
    fn ttl(&self) -> u32 {
        self.view.config().ttl
    }

    fn rr(&self, name: impl Into<String>, data: RData) -> Rr {
        Rr {
            name: name.into(),
            ttl: self.ttl(),
            data,
        }
    }

    /// The SOA of the matched zone, owned by the configured zone name.
    fn soa(&self, owner: String) -> Rr {
        let origin = &self.zone.origin;
        let cfg = self.view.config();
        Rr {
            name: owner,
            ttl: cfg.soa_ttl(),
            data: RData::Soa {
                mname: format!("ns.dns.{origin}."),
                rname: format!("hostmaster.{origin}."),
                serial: self.view.serial(),
                refresh: 7200,
                retry: 1800,
                expire: 86400,
                minimum: cfg.ttl,
            },
        }
    }

    /// NODATA or NXDOMAIN: SOA in authority; NXDOMAIN may fall through.
    fn negative(&self, rcode: Rcode) -> Answer {
        let next =
            if rcode == Rcode::NxDomain && self.view.config().falls_through(&self.zone.origin) {
                Next::Fallthrough
            } else {
                Next::Done
            };
        Answer {
            rcode,
            authoritative: true,
            answers: Vec::new(),
            authority: vec![self.soa(format!("{}.", self.zone.origin))],
            additionals: Vec::new(),
            next,
        }
    }

    /// `<rel>.<zone as spelled in the query>.`
    fn in_zone(&self, rel: &str) -> String {
        format!("{rel}.{}.", self.zone.echo)
    }

    fn service_target(&self, s: &ServiceData) -> String {
        self.in_zone(&format!("{}.{}.svc", s.name, s.namespace))
    }

    /// A/AAAA for `ip` when its family matches the query type.
    fn addr_rr(&self, name: &str, ip: IpAddr) -> Option<Rr> {
        let data = match ip {
            IpAddr::V4(v4) => RData::A(v4),
            IpAddr::V6(v6) => RData::Aaaa(v6),
        };
        (data.record_type() == self.qtype).then(|| self.rr(name, data))
    }

    /// A/AAAA of either family, for Additional sections.
    fn glue(&self, name: &str, ip: IpAddr) -> Rr {
        let data = match ip {
            IpAddr::V4(v4) => RData::A(v4),
            IpAddr::V6(v6) => RData::Aaaa(v6),
        };
        self.rr(name, data)
    }

    fn lookup(&self, parsed: &ParsedName) -> Outcome {
        let view = self.view;
        let cfg = view.config();
        match &parsed.query {
            Query::Apex => self.apex(),
            Query::DnsVersion => match self.qtype {
                RecordType::TXT => Outcome::records(vec![Rr {
                    name: self.owner.to_string(),
                    ttl: DNS_VERSION_TTL,
                    data: RData::Txt(DNS_SCHEMA_VERSION.into()),
                }]),
                // CoreDNS answers NXDOMAIN here; RFC 2308 wants NODATA (dns-spec.md §8).
                _ => Outcome::NoData,
            },
            Query::NameServer => {
                let ips = cfg
                    .self_ips
                    .iter()
                    .filter_map(|ip| self.addr_rr(self.owner, *ip))
                    .collect();
                Outcome::records(ips)
            }
            Query::EmptyNonTerminal(Kind::Pod) if cfg.pods == PodsMode::Disabled => {
                Outcome::NxDomain
            }
            Query::EmptyNonTerminal(_) => Outcome::NoData,
            Query::Namespace {
                kind: Kind::Pod, ..
            } if cfg.pods == PodsMode::Disabled => Outcome::NxDomain,
            Query::Namespace { ns, .. } => Outcome::exists_if(view.namespace_exists(ns)),
            Query::Service { ns, svc } => self.service(ns, svc),
            Query::Endpoint { ns, svc, ep } => self.endpoint(ns, svc, ep),
            Query::Srv {
                ns,
                svc,
                port,
                proto,
            } => self.srv(ns, svc, port, proto),
            Query::Pod { ns, ip } => self.pod(ns, *ip),
            Query::Reverse(ip) => self.reverse(*ip),
            Query::NxDomain | Query::OutOfZone => Outcome::NxDomain,
        }
    }

    fn apex(&self) -> Outcome {
        match self.qtype {
            RecordType::SOA => Outcome::records(vec![self.soa(self.owner.to_string())]),
            RecordType::NS => {
                let (target, glue) = self.nameserver();
                Outcome::with_additionals(vec![self.rr(self.owner, RData::Ns(target))], glue)
            }
            _ => Outcome::NoData,
        }
    }

    /// The NS target: the Service fronting this server if one of our IPs is its endpoint
    /// (glue: its ClusterIPs), else `ns.dns.<zone>.` with our own IPs as glue (§3.10).
    fn nameserver(&self) -> (String, Vec<Rr>) {
        let view = self.view;
        let cfg = view.config();
        // Reverse zones name the server under the forward zone.
        let fwd = if self.zone.reverse {
            cfg.zone.as_str()
        } else {
            self.zone.echo.as_str()
        };
        for ip in &cfg.self_ips {
            for e in view.ptr_entries(*ip) {
                if e.is_cluster_ip() {
                    continue;
                }
                if let Some(
                    s @ ServiceData {
                        kind: ServiceKind::ClusterIp(ips),
                        ..
                    },
                ) = view.service(e.namespace(), e.service())
                {
                    let target = format!("{}.{}.svc.{fwd}.", s.name, s.namespace);
                    let glue = ips.iter().map(|ip| self.glue(&target, *ip)).collect();
                    return (target, glue);
                }
            }
        }
        let target = format!("ns.dns.{fwd}.");
        let glue = cfg
            .self_ips
            .iter()
            .map(|ip| self.glue(&target, *ip))
            .collect();
        (target, glue)
    }

    /// The Service, unless `ignore empty_service` hides it (ClusterIP only, coredns#1809).
    fn find_service(&self, ns: &str, svc: &str) -> Option<&ServiceData> {
        let s = self.view.service(ns, svc)?;
        let hidden = self.view.config().ignore_empty_service
            && matches!(s.kind, ServiceKind::ClusterIp(_))
            && self.view.ready_endpoints(ns, svc).is_empty();
        (!hidden).then_some(s)
    }

    fn service(&self, ns: &str, svc: &str) -> Outcome {
        let Some(s) = self.find_service(ns, svc) else {
            return Outcome::NxDomain;
        };
        match &s.kind {
            ServiceKind::ExternalName(target) => self.external_name(target),
            ServiceKind::ClusterIp(ips) => match self.qtype {
                RecordType::A | RecordType::AAAA => Outcome::records(
                    ips.iter()
                        .filter_map(|ip| self.addr_rr(self.owner, *ip))
                        .collect(),
                ),
                RecordType::SRV => self.cluster_srv(s, ips, s.ports.iter().collect()),
                _ => Outcome::NoData,
            },
            ServiceKind::Headless => {
                let eps = self.view.ready_endpoints(ns, svc);
                if eps.is_empty() {
                    // spec 2.4.1: no ready endpoints is NXDOMAIN for every type.
                    return Outcome::NxDomain;
                }
                match self.qtype {
                    RecordType::A | RecordType::AAAA => Outcome::records(
                        eps.iter()
                            .filter_map(|e| self.addr_rr(self.owner, e.ip))
                            .collect(),
                    ),
                    RecordType::SRV => self.headless_srv(s, eps, None),
                    _ => Outcome::NoData,
                }
            }
        }
    }

    fn external_name(&self, target: &str) -> Outcome {
        // An IP literal is not a name; API validation normally stops it (§3.8).
        if target.is_empty() || target.parse::<IpAddr>().is_ok() {
            return Outcome::NxDomain;
        }
        match self.qtype {
            RecordType::A | RecordType::AAAA | RecordType::TXT | RecordType::CNAME => {
                Outcome::Cname {
                    record: self.rr(self.owner, RData::Cname(format!("{target}."))),
                    target: target.to_string(),
                }
            }
            _ => Outcome::NoData,
        }
    }

    /// CNAME first, then the target's records: chased here when in zone, left to the server
    /// (`Next::Upstream`) otherwise. The final rcode is the target's (RFC 6604).
    fn chase(&self, record: Rr, target: &str, depth: usize) -> Answer {
        let mut out = Answer {
            rcode: Rcode::NoError,
            authoritative: true,
            answers: vec![record],
            authority: Vec::new(),
            additionals: Vec::new(),
            next: Next::Done,
        };
        if self.qtype == RecordType::CNAME || depth >= MAX_CHASE {
            return out;
        }
        let sub = answer_at_depth(self.view, target, self.qtype, depth + 1);
        if sub.next == Next::Forward {
            out.next = Next::Upstream {
                name: format!("{target}."),
                qtype: self.qtype,
            };
            return out;
        }
        out.rcode = sub.rcode;
        out.answers.extend(sub.answers);
        out.authority = sub.authority;
        out.additionals = sub.additionals;
        out.next = sub.next;
        out
    }

    fn endpoint(&self, ns: &str, svc: &str, ep: &str) -> Outcome {
        let Some(s) = self.find_service(ns, svc) else {
            return Outcome::NxDomain;
        };
        if matches!(s.kind, ServiceKind::ExternalName(_)) {
            return Outcome::NxDomain;
        }
        // Endpoint names also resolve under ClusterIP Services (CoreDNS extension, §3.5).
        let mut matching = self
            .view
            .ready_endpoints(ns, svc)
            .iter()
            .filter(|e| e.is_named(ep))
            .peekable();
        if matching.peek().is_none() {
            return Outcome::NxDomain;
        }
        Outcome::records(
            matching
                .filter_map(|e| self.addr_rr(self.owner, e.ip))
                .collect(),
        )
    }

    fn srv(&self, ns: &str, svc: &str, port: &str, proto: &str) -> Outcome {
        let Some(s) = self.find_service(ns, svc) else {
            return Outcome::NxDomain;
        };
        let named = |p: &PortSpec| !p.name.is_empty() && p.name == port && p.protocol == proto;
        match &s.kind {
            ServiceKind::ExternalName(_) => Outcome::NxDomain,
            ServiceKind::ClusterIp(ips) => {
                let ports: Vec<&PortSpec> = s.ports.iter().filter(|p| named(p)).collect();
                if ports.is_empty() {
                    Outcome::NxDomain
                } else if self.qtype == RecordType::SRV {
                    self.cluster_srv(s, ips, ports)
                } else {
                    Outcome::NoData
                }
            }
            ServiceKind::Headless => {
                // Headless ports come from the slices (resolved target ports).
                let eps = self.view.ready_endpoints(ns, svc);
                if !eps.iter().any(|e| e.ports.iter().any(named)) {
                    Outcome::NxDomain
                } else if self.qtype == RecordType::SRV {
                    self.headless_srv(s, eps, Some(&named))
                } else {
                    Outcome::NoData
                }
            }
        }
    }

    /// ClusterIP SRV: Service port, target the Service name, ClusterIPs in Additional.
    /// Weight `floor(100/N)` with N = ports × ClusterIPs before duplicates collapse (§3.3).
    fn cluster_srv(&self, s: &ServiceData, ips: &[IpAddr], ports: Vec<&PortSpec>) -> Outcome {
        let target = self.service_target(s);
        let weight = srv_weight(ports.len() * ips.len().max(1));
        let answers = dedup(
            ports
                .iter()
                .map(|p| {
                    let data = RData::Srv {
                        priority: 0,
                        weight,
                        port: p.port,
                        target: target.clone(),
                    };
                    self.rr(self.owner, data)
                })
                .collect(),
        );
        let glue = ips.iter().map(|ip| self.glue(&target, *ip)).collect();
        Outcome::with_additionals(answers, glue)
    }

    /// Headless SRV: one per (ready address × matching slice port), endpoint port, target the
    /// endpoint name; same target+port collapse; the addresses go to Additional (§3.6).
    fn headless_srv(
        &self,
        s: &ServiceData,
        eps: &[EndpointData],
        filter: Option<&dyn Fn(&PortSpec) -> bool>,
    ) -> Outcome {
        let entries: Vec<(String, u16, IpAddr)> = eps
            .iter()
            .flat_map(|e| {
                let target = self.in_zone(&format!("{}.{}.{}.svc", e.name(), s.name, s.namespace));
                e.ports
                    .iter()
                    .filter(|p| filter.is_none_or(|f| f(p)))
                    .map(move |p| (target.clone(), p.port, e.ip))
            })
            .collect();
        let weight = srv_weight(entries.len());
        let answers = entries
            .iter()
            .map(|(target, port, _)| {
                let data = RData::Srv {
                    priority: 0,
                    weight,
                    port: *port,
                    target: target.clone(),
                };
                self.rr(self.owner, data)
            })
            .collect();
        let glue = entries
            .iter()
            .map(|(target, _, ip)| self.glue(target, *ip))
            .collect();
        Outcome::with_additionals(dedup(answers), dedup(glue))
    }

    fn pod(&self, ns: &str, ip: IpAddr) -> Outcome {
        let view = self.view;
        let exists = view.namespace_exists(ns)
            && match view.config().pods {
                PodsMode::Disabled => false,
                // The IP is echoed without looking at pods (kubeadm default).
                PodsMode::Insecure => true,
                PodsMode::Verified => view.pod_exists(ns, ip),
            };
        if !exists {
            return Outcome::NxDomain;
        }
        Outcome::records(self.addr_rr(self.owner, ip).into_iter().collect())
    }

    /// PTR: the first Service owning the IP as ClusterIP, otherwise one target per ready
    /// endpoint of every selecting Service, duplicates removed (§3.7).
    fn reverse(&self, ip: IpAddr) -> Outcome {
        let entries = self.view.ptr_entries(ip);
        if entries.is_empty() {
            return Outcome::NxDomain;
        }
        if self.qtype != RecordType::PTR {
            return Outcome::NoData;
        }
        let zone = &self.view.config().zone;
        let target = |e: &crate::zone::PtrEntry| e.target(ip, zone);
        let targets: Vec<String> = match entries.iter().find(|e| e.is_cluster_ip()) {
            Some(e) => vec![target(e)],
            None => entries.iter().map(target).collect(),
        };
        let answers = targets
            .into_iter()
            .map(|t| self.rr(self.owner, RData::Ptr(t)))
            .collect();
        Outcome::records(dedup(answers))
    }
}

fn srv_weight(n: usize) -> u16 {
    u16::try_from(100 / n.max(1)).unwrap_or(1).max(1)
}

/// Removes repeated records, keeping the first occurrence (order matters for CNAME chains).
fn dedup(rrs: Vec<Rr>) -> Vec<Rr> {
    let mut seen = std::collections::HashSet::new();
    rrs.into_iter().filter(|r| seen.insert(r.clone())).collect()
}

#[cfg(test)]
#[path = "answer_tests.rs"]
mod tests;
