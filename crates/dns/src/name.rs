//! Query-name parsing (pure): which record family a name asks for, following the CoreDNS
//! grammar of dns-spec.md §2. Labels are read right to left after the zone is stripped and are
//! compared case-insensitively; the caller keeps the original spelling to echo it back.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::config::{Config, is_subzone};

/// What a name under one of our zones refers to. Labels are lowercase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Query {
    /// The zone itself (forward or reverse): SOA, NS, NODATA otherwise.
    Apex,
    /// `dns-version.<zone>`.
    DnsVersion,
    /// `ns.dns.<zone>`, the name of this server in SOA/NS records.
    NameServer,
    /// `svc.<zone>` or `pod.<zone>`.
    EmptyNonTerminal(Kind),
    /// `<ns>.svc.<zone>` or `<ns>.pod.<zone>`.
    Namespace { ns: String, kind: Kind },
    /// `<svc>.<ns>.svc.<zone>`.
    Service { ns: String, svc: String },
    /// `<ep>.<svc>.<ns>.svc.<zone>`.
    Endpoint { ns: String, svc: String, ep: String },
    /// `_<port>._<proto>.<svc>.<ns>.svc.<zone>` with the underscores stripped.
    Srv {
        ns: String,
        svc: String,
        port: String,
        proto: String,
    },
    /// `<dashed-ip>.<ns>.pod.<zone>`.
    Pod { ns: String, ip: IpAddr },
    /// A complete address under a reverse zone.
    Reverse(IpAddr),
    /// Not under any served zone: the server forwards it.
    OutOfZone,
    /// Under a served zone but cannot exist (too long, 2nd label not svc/pod, bad pod IP, ...).
    NxDomain,
}

/// `svc` or `pod`, the second label from the zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Svc,
    Pod,
}

/// The served zone a name fell into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneMatch {
    /// The configured zone (lowercase, no dot): the SOA owner and the fallthrough key.
    pub origin: String,
    /// The zone as spelled in the query, no trailing dot: synthesized targets end in it so
    /// they keep the query's case (CoreDNS handler_case_test).
    pub echo: String,
    /// Whether this is a reverse (`in-addr.arpa`/`ip6.arpa`) zone.
    pub reverse: bool,
}

/// Result of [`parse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedName {
    /// The query name as sent, with a trailing dot: the owner of answer records.
    pub owner: String,
    /// The zone matched, `None` when out of zone.
    pub zone: Option<ZoneMatch>,
    pub query: Query,
}

/// Parses `qname` (absolute, trailing dot optional) against the configured zones. The longest
/// matching zone wins, so a reverse zone like `0.96.10.in-addr.arpa` beats `in-addr.arpa`.
pub fn parse(config: &Config, qname: &str) -> ParsedName {
    let bare = qname.strip_suffix('.').unwrap_or(qname);
    let owner = format!("{bare}.");
    let lower = bare.to_ascii_lowercase();

    let forward = std::iter::once((config.zone.as_str(), false));
    let reverse = config.reverse_zones.iter().map(|z| (z.as_str(), true));
    let matched = forward
        .chain(reverse)
        .filter(|(z, _)| is_subzone(&lower, z))
        .max_by_key(|(z, _)| z.len());
    let Some((origin, is_reverse)) = matched else {
        return ParsedName {
            owner,
            zone: None,
            query: Query::OutOfZone,
        };
    };

    let split = lower.len() - origin.len();
    // `split` is at a char boundary: the suffix is ASCII and equal to `origin` ignoring case.
    let echo = bare.get(split..).unwrap_or(origin).to_string();
    let rel = lower[..split].trim_end_matches('.');
    let query = if is_reverse {
        parse_reverse(rel, &lower)
    } else {
        parse_forward(rel)
    };
    ParsedName {
        owner,
        zone: Some(ZoneMatch {
            origin: origin.to_string(),
            echo,
            reverse: is_reverse,
        }),
        query,
    }
}

fn parse_forward(rel: &str) -> Query {
    if rel.is_empty() {
        return Query::Apex;
    }
    // Right to left: labels[0] is the one next to the zone.
    let labels: Vec<&str> = rel.rsplit('.').collect();
    if labels.iter().any(|l| l.is_empty()) {
        return Query::NxDomain;
    }
    let kind = match labels[0] {
        "svc" => Kind::Svc,
        "pod" => Kind::Pod,
        "dns-version" if labels.len() == 1 => return Query::DnsVersion,
        "dns" if labels.len() == 2 && labels[1] == "ns" => return Query::NameServer,
        _ => return Query::NxDomain,
    };
    let ns = || labels[1].to_string();
    match (kind, labels.len()) {
        (_, 1) => Query::EmptyNonTerminal(kind),
        (_, 2) => Query::Namespace { ns: ns(), kind },
        (Kind::Svc, 3) => Query::Service {
            ns: ns(),
            svc: labels[2].into(),
        },
        // `_x.<svc>` is an endpoint called `_x` (CoreDNS), which cannot exist: NXDOMAIN later.
        (Kind::Svc, 4) => Query::Endpoint {
            ns: ns(),
            svc: labels[2].into(),
            ep: labels[3].into(),
        },
        (Kind::Svc, 5) => Query::Srv {
            ns: ns(),
            svc: labels[2].into(),
            proto: strip_underscore(labels[3]).into(),
            port: strip_underscore(labels[4]).into(),
        },
        (Kind::Pod, 3) => match pod_ip(labels[2]) {
            Some(ip) => Query::Pod { ns: ns(), ip },
            None => Query::NxDomain,
        },
        // "query too long"
        _ => Query::NxDomain,
    }
}

fn strip_underscore(label: &str) -> &str {
    label.strip_prefix('_').unwrap_or(label)
}

/// Pod label to IP: exactly 3 dashes and no `--` means IPv4, anything else is IPv6 with `-`
/// for `:` (dns-spec.md §3.9).
fn pod_ip(label: &str) -> Option<IpAddr> {
    let dashes = label.bytes().filter(|&b| b == b'-').count();
    if dashes == 3 && !label.contains("--") {
        label
            .replace('-', ".")
            .parse::<Ipv4Addr>()
            .ok()
            .map(IpAddr::V4)
    } else {
        label
            .replace('-', ":")
            .parse::<Ipv6Addr>()
            .ok()
            .map(IpAddr::V6)
    }
}

/// A reverse name must spell a whole address; partial names (e.g. `96.10.in-addr.arpa`) are
/// NXDOMAIN here, which with kubeadm's `fallthrough` sends them upstream like CoreDNS does.
fn parse_reverse(rel: &str, lower: &str) -> Query {
    if rel.is_empty() {
        return Query::Apex;
    }
    if let Some(v4) = lower.strip_suffix(".in-addr.arpa") {
        let octets: Vec<&str> = v4.rsplit('.').collect();
        if octets.len() == 4 {
            let mut out = [0u8; 4];
            for (o, s) in out.iter_mut().zip(&octets) {
                // Reject `+1`, `01`-style spellings that `parse` would accept or that are
                // not canonical reverse labels.
                if s.is_empty() || s.len() > 3 || (s.len() > 1 && s.starts_with('0')) {
                    return Query::NxDomain;
                }
                match s.parse::<u8>() {
                    Ok(v) if s.bytes().all(|b| b.is_ascii_digit()) => *o = v,
                    _ => return Query::NxDomain,
                }
            }
            return Query::Reverse(IpAddr::V4(Ipv4Addr::from(out)));
        }
    } else if let Some(v6) = lower.strip_suffix(".ip6.arpa") {
        let nibbles: Vec<&str> = v6.rsplit('.').collect();
        if nibbles.len() == 32 {
            let mut value: u128 = 0;
            for n in nibbles {
                let mut chars = n.chars();
                match (chars.next().and_then(|c| c.to_digit(16)), chars.next()) {
                    (Some(d), None) => value = (value << 4) | u128::from(d),
                    _ => return Query::NxDomain,
                }
            }
            return Query::Reverse(IpAddr::V6(Ipv6Addr::from(value)));
        }
    }
    Query::NxDomain
}

/// The reverse name of `ip` (no trailing dot): `d.c.b.a.in-addr.arpa` or 32 nibbles of
/// `ip6.arpa`.
pub fn reverse_name(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, d] = v4.octets();
            format!("{d}.{c}.{b}.{a}.in-addr.arpa")
        }
        IpAddr::V6(v6) => {
            let mut s = String::with_capacity(72);
            for byte in v6.octets().iter().rev() {
                s.push(hex_digit(byte & 0xf));
                s.push('.');
                s.push(hex_digit(byte >> 4));
                s.push('.');
            }
            s.push_str("ip6.arpa");
            s
        }
    }
}

fn hex_digit(n: u8) -> char {
    char::from_digit(u32::from(n), 16).unwrap_or('0')
}

/// The generated endpoint name: `10-244-1-5`, or for IPv6 `:` → `-` with a trailing `-`
/// completed by `0` so the label does not end in a dash (CoreDNS `endpointHostname`).
pub fn dashed_ip(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string().replace('.', "-"),
        IpAddr::V6(v6) => {
            let mut s = v6.to_string().replace(':', "-");
            if s.ends_with('-') {
                s.push('0');
            }
            s
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(name: &str) -> Query {
        parse(&Config::default(), name).query
    }

    fn s(x: &str) -> String {
        x.to_string()
    }

    #[test]
    fn grammar_table() {
        use Query::*;
        let cases: Vec<(&str, Query)> = vec![
            ("cluster.local.", Apex),
            ("CLUSTER.local", Apex),
            ("dns-version.cluster.local.", DnsVersion),
            ("ns.dns.cluster.local.", NameServer),
            ("svc.cluster.local.", EmptyNonTerminal(Kind::Svc)),
            ("pod.cluster.local.", EmptyNonTerminal(Kind::Pod)),
            (
                "default.svc.cluster.local.",
                Namespace {
                    ns: s("default"),
                    kind: Kind::Svc,
                },
            ),
            (
                "demo.pod.cluster.local.",
                Namespace {
                    ns: s("demo"),
                    kind: Kind::Pod,
                },
            ),
            (
                "Web.Demo.svc.cluster.local.",
                Service {
                    ns: s("demo"),
                    svc: s("web"),
                },
            ),
            (
                "web-0.nginx.demo.svc.cluster.local.",
                Endpoint {
                    ns: s("demo"),
                    svc: s("nginx"),
                    ep: s("web-0"),
                },
            ),
            (
                "_x.nginx.demo.svc.cluster.local.",
                Endpoint {
                    ns: s("demo"),
                    svc: s("nginx"),
                    ep: s("_x"),
                },
            ),
            (
                "_HTTP._Tcp.web.demo.svc.cluster.local.",
                Srv {
                    ns: s("demo"),
                    svc: s("web"),
                    port: s("http"),
                    proto: s("tcp"),
                },
            ),
            ("a._http._tcp.web.demo.svc.cluster.local.", NxDomain),
            ("web.demo.xyz.cluster.local.", NxDomain),
            ("foo.cluster.local.", NxDomain),
            ("a..svc.cluster.local.", NxDomain),
            (
                "10-244-1-5.demo.pod.cluster.local.",
                Pod {
                    ns: s("demo"),
                    ip: "10.244.1.5".parse().unwrap(),
                },
            ),
            (
                "fd00-10-244-2--72.demo.pod.cluster.local.",
                Pod {
                    ns: s("demo"),
                    ip: "fd00:10:244:2::72".parse().unwrap(),
                },
            ),
            ("not-an-ip.demo.pod.cluster.local.", NxDomain),
            ("x.10-244-1-5.demo.pod.cluster.local.", NxDomain),
            (
                "1.0.96.10.in-addr.arpa.",
                Reverse("10.96.0.1".parse().unwrap()),
            ),
            ("96.10.in-addr.arpa.", NxDomain),
            ("01.0.96.10.in-addr.arpa.", NxDomain),
            ("1.0.96.10.in-addr.arpa.cluster.local.", NxDomain),
            ("in-addr.arpa.", Apex),
            ("example.com.", OutOfZone),
            ("local.", OutOfZone),
            ("xcluster.local.", OutOfZone),
        ];
        for (name, want) in cases {
            assert_eq!(q(name), want, "{name}");
        }
    }

    #[test]
    fn ipv6_reverse_roundtrip() {
        let ip: IpAddr = "fd00:10:96::a".parse().unwrap();
        let name = reverse_name(ip);
        assert_eq!(
            name,
            "a.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.6.9.0.0.0.1.0.0.0.0.d.f.ip6.arpa"
        );
        assert_eq!(q(&name), Query::Reverse(ip));
    }

    #[test]
    fn echo_keeps_case() {
        let p = parse(&Config::default(), "SvC1.TeStNs.SvC.cLuStEr.LoCaL");
        assert_eq!(p.owner, "SvC1.TeStNs.SvC.cLuStEr.LoCaL.");
        let z = p.zone.expect("in zone");
        assert_eq!(z.echo, "cLuStEr.LoCaL");
        assert_eq!(z.origin, "cluster.local");
    }

    #[test]
    fn longest_reverse_zone_wins() {
        let c = Config {
            reverse_zones: vec!["in-addr.arpa".into(), "0.96.10.in-addr.arpa".into()],
            ..Config::default()
        };
        let p = parse(&c, "5.0.96.10.in-addr.arpa.");
        assert_eq!(
            p.zone.map(|z| z.origin).as_deref(),
            Some("0.96.10.in-addr.arpa")
        );
    }

    #[test]
    fn dashed() {
        assert_eq!(dashed_ip("10.244.1.5".parse().unwrap()), "10-244-1-5");
        assert_eq!(
            dashed_ip("fd00:10:244:2::72".parse().unwrap()),
            "fd00-10-244-2--72"
        );
        assert_eq!(dashed_ip("fd00::".parse().unwrap()), "fd00--0");
    }
}
