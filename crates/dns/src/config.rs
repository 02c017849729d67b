//! Configuration of the cluster DNS, mirroring the CoreDNS `kubernetes` plugin options
//! (dns-spec.md §6). Defaults follow the kubeadm Corefile where it differs from the plugin,
//! except the TTL, which keeps the plugin's 5 s (architecture.md "Defaults").

use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};

use crate::error::{Error, Result};

/// How `<a-b-c-d>.<ns>.pod.<zone>` names are answered (dns-spec.md §3.9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PodsMode {
    /// NXDOMAIN for everything under `pod` (the plugin's own default).
    Disabled,
    /// Echo the IP in the name without checking that such a pod exists (kubeadm's Corefile).
    #[default]
    Insecure,
    /// Answer only when a pod in that namespace has that primary `status.podIP`.
    Verified,
}

/// Which zones let an NXDOMAIN go on to the next handler (forwarding) instead of being final.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fallthrough {
    /// Every NXDOMAIN is final.
    Off,
    /// `fallthrough` without zones: every served zone falls through.
    All,
    /// Only names inside these zones (lowercase, no trailing dot) fall through.
    Zones(Vec<String>),
}

/// Where names outside our zones (and fallthrough misses) are sent.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Upstream {
    /// The `nameserver` lines of `/etc/resolv.conf`, read at start (`forward . /etc/resolv.conf`).
    #[default]
    ResolvConf,
    /// These servers, tried in order. Empty: no forwarding, out-of-zone names are REFUSED.
    Servers(Vec<SocketAddr>),
}

/// Default DNS address: loopback, an unprivileged port (architecture.md "Defaults").
pub const DEFAULT_LISTEN: SocketAddr =
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 10053));
/// Default metrics address: CoreDNS's `prometheus` plugin port, on loopback.
pub const DEFAULT_METRICS_LISTEN: SocketAddr =
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 9153));

/// Cluster DNS settings. Field names follow the Corefile options they mirror.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Forward zone served authoritatively. Default `cluster.local`.
    pub zone: String,
    /// Reverse zones that turn on PTR answers. Default `in-addr.arpa` and `ip6.arpa` (kubeadm).
    pub reverse_zones: Vec<String>,
    /// TTL of every synthesized record, 0–3600; also the SOA minimum. Default 5.
    pub ttl: u32,
    /// Pod record mode. Default `Insecure` (kubeadm).
    pub pods: PodsMode,
    /// Name hostname-less endpoints after their pod (`targetRef.name`) instead of the dashed IP.
    pub endpoint_pod_names: bool,
    /// Only these namespaces resolve (PTR included); empty means all. Default empty.
    pub namespaces: Vec<String>,
    /// ClusterIP Services without ready endpoints answer NXDOMAIN (`ignore empty_service`).
    pub ignore_empty_service: bool,
    /// Ignore EndpointSlices: headless and endpoint names answer NXDOMAIN (`noendpoints`).
    pub noendpoints: bool,
    /// Zones whose NXDOMAIN goes on to the next handler. Default: the reverse zones (kubeadm).
    pub fallthrough: Fallthrough,
    /// Addresses of this DNS server, used as glue for `ns.dns.<zone>` and to find the Service
    /// that fronts the server (the NS target). Default empty.
    pub self_ips: Vec<IpAddr>,
    /// Addresses served over UDP and TCP (port 0 picks one). Empty: DNS is off.
    /// Default `127.0.0.1:10053`.
    pub listen: Vec<SocketAddr>,
    /// `/metrics`, `/health` and `/ready` over HTTP; `None` turns them off.
    /// Default `127.0.0.1:9153`.
    pub metrics_listen: Option<SocketAddr>,
    /// Forwarding target for everything outside the zones. Default: `/etc/resolv.conf`.
    pub upstream: Upstream,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            zone: "cluster.local".into(),
            reverse_zones: vec!["in-addr.arpa".into(), "ip6.arpa".into()],
            ttl: 5,
            pods: PodsMode::Insecure,
            endpoint_pod_names: false,
            namespaces: Vec::new(),
            ignore_empty_service: false,
            noendpoints: false,
            fallthrough: Fallthrough::Zones(vec!["in-addr.arpa".into(), "ip6.arpa".into()]),
            self_ips: Vec::new(),
            listen: vec![DEFAULT_LISTEN],
            metrics_listen: Some(DEFAULT_METRICS_LISTEN),
            upstream: Upstream::ResolvConf,
        }
    }
}

/// Highest TTL the plugin accepts.
pub const MAX_TTL: u32 = 3600;

impl Config {
    /// Checks ranges and normalizes zone names to lowercase without a trailing dot, so the rest
    /// of the crate can compare them byte-wise.
    pub fn validated(mut self) -> Result<Self> {
        if self.ttl > MAX_TTL {
            return Err(Error::Config(format!("ttl {} exceeds {MAX_TTL}", self.ttl)));
        }
        self.zone = normalize_zone(&self.zone)?;
        for z in &mut self.reverse_zones {
            *z = normalize_zone(z)?;
            if !(is_subzone(z, "in-addr.arpa") || is_subzone(z, "ip6.arpa")) {
                return Err(Error::Config(format!("{z} is not a reverse zone")));
            }
        }
        if let Fallthrough::Zones(zones) = &mut self.fallthrough {
            for z in zones {
                *z = normalize_zone(z)?;
            }
        }
        for ns in &mut self.namespaces {
            ns.make_ascii_lowercase();
        }
        Ok(self)
    }

    /// Whether names in `ns` may be answered at all (the `namespaces` filter).
    pub fn namespace_exposed(&self, ns: &str) -> bool {
        self.namespaces.is_empty() || self.namespaces.iter().any(|n| n.eq_ignore_ascii_case(ns))
    }

    /// Whether an NXDOMAIN inside `zone` (a configured zone) may fall through.
    pub fn falls_through(&self, zone: &str) -> bool {
        match &self.fallthrough {
            Fallthrough::Off => false,
            Fallthrough::All => true,
            Fallthrough::Zones(zones) => zones.iter().any(|z| is_subzone(zone, z)),
        }
    }

    /// TTL of the SOA record: `min(ttl, 300)` like CoreDNS.
    pub fn soa_ttl(&self) -> u32 {
        self.ttl.min(300)
    }
}

fn normalize_zone(zone: &str) -> Result<String> {
    let z = zone.trim_end_matches('.').to_ascii_lowercase();
    if z.is_empty() || z.split('.').any(|l| l.is_empty() || l.len() > 63) {
        return Err(Error::Config(format!("invalid zone {zone:?}")));
    }
    Ok(z)
}

/// `name` equals `zone` or lies below it. Both lowercase, no trailing dot.
pub(crate) fn is_subzone(name: &str, zone: &str) -> bool {
    name == zone
        || (name.len() > zone.len()
            && name.ends_with(zone)
            && name.as_bytes()[name.len() - zone.len() - 1] == b'.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_kubeadm() {
        let c = Config::default()
            .validated()
            .expect("default config is valid");
        assert_eq!(c.zone, "cluster.local");
        assert_eq!(c.ttl, 5);
        assert_eq!(c.pods, PodsMode::Insecure);
        assert!(c.falls_through("in-addr.arpa"));
        assert!(!c.falls_through("cluster.local"));
    }

    #[test]
    fn rejects_bad_values() {
        let c = Config {
            ttl: 3601,
            ..Config::default()
        };
        assert!(c.validated().is_err());
        let c = Config {
            zone: "a..b".into(),
            ..Config::default()
        };
        assert!(c.validated().is_err());
        let c = Config {
            reverse_zones: vec!["example.com".into()],
            ..Config::default()
        };
        assert!(c.validated().is_err());
    }

    #[test]
    fn normalizes_zone() {
        let c = Config {
            zone: "Cluster.Local.".into(),
            ..Config::default()
        };
        assert_eq!(
            c.validated().map(|c| c.zone).ok().as_deref(),
            Some("cluster.local")
        );
    }

    #[test]
    fn subzones() {
        assert!(is_subzone("0.96.10.in-addr.arpa", "in-addr.arpa"));
        assert!(!is_subzone("xin-addr.arpa", "in-addr.arpa"));
        assert!(is_subzone("in-addr.arpa", "in-addr.arpa"));
    }
}
