//! IPv4 CIDRs: parsing, carving the cluster CIDR into per-node pod CIDRs, and the usable host
//! addresses of a node's range. Pure.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use crate::error::Error;

/// An IPv4 network `addr/prefix` with the host bits of `addr` zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ipv4Cidr {
    addr: Ipv4Addr,
    prefix: u8,
}

impl Ipv4Cidr {
    pub fn new(addr: Ipv4Addr, prefix: u8) -> Result<Self, Error> {
        let text = format!("{addr}/{prefix}");
        if prefix > 32 {
            return Err(Error::InvalidCidr(text, "the prefix length is above 32"));
        }
        if u32::from(addr) & !mask(prefix) != 0 {
            return Err(Error::InvalidCidr(text, "host bits are set"));
        }
        Ok(Self { addr, prefix })
    }

    pub fn addr(&self) -> Ipv4Addr {
        self.addr
    }

    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// The highest address of the network.
    pub fn last(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) | !mask(self.prefix))
    }

    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & mask(self.prefix) == u32::from(self.addr)
    }

    /// Whether the two networks share any address (one contains the other).
    pub fn overlaps(&self, other: &Ipv4Cidr) -> bool {
        self.contains(other.addr) || other.contains(self.addr)
    }

    /// How many subnets of length `prefix` this network holds (0 if `prefix` is shorter).
    pub fn subnet_count(&self, prefix: u8) -> u64 {
        if prefix < self.prefix || prefix > 32 {
            0
        } else {
            1u64 << (prefix - self.prefix)
        }
    }

    /// The `index`-th subnet of length `prefix` (`10.244.0.0/16`, 24, 3 → `10.244.3.0/24`).
    pub fn subnet(&self, prefix: u8, index: u64) -> Option<Ipv4Cidr> {
        if index >= self.subnet_count(prefix) {
            return None;
        }
        let size = 1u64 << (32 - prefix);
        let base = u64::from(u32::from(self.addr)) + index * size;
        Some(Ipv4Cidr {
            addr: Ipv4Addr::from(u32::try_from(base).ok()?),
            prefix,
        })
    }

    /// Which subnet of length `sub.prefix` `sub` is, if it is one of ours.
    pub fn subnet_index(&self, sub: &Ipv4Cidr) -> Option<u64> {
        if sub.prefix < self.prefix || !self.contains(sub.addr) {
            return None;
        }
        let offset = u64::from(u32::from(sub.addr) - u32::from(self.addr));
        Some(offset >> (32 - sub.prefix))
    }

    /// Pod addresses: the network address, the first host (the node's bridge, as with the
    /// host-local IPAM plugin) and the broadcast address are never handed out.
    pub fn pod_range(&self) -> Option<(Ipv4Addr, Ipv4Addr)> {
        if self.prefix > 29 {
            return None;
        }
        let first = u32::from(self.addr) + 2;
        let last = u32::from(self.addr) | !mask(self.prefix);
        Some((Ipv4Addr::from(first), Ipv4Addr::from(last - 1)))
    }
}

fn mask(prefix: u8) -> u32 {
    if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix))
    }
}

impl FromStr for Ipv4Cidr {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        let invalid = |why| Error::InvalidCidr(s.to_string(), why);
        let (addr, prefix) = s
            .trim()
            .split_once('/')
            .ok_or_else(|| invalid("expected address/prefix"))?;
        let addr: Ipv4Addr = addr.parse().map_err(|_| invalid("not an IPv4 address"))?;
        let prefix: u8 = prefix
            .parse()
            .map_err(|_| invalid("the prefix length is not a number"))?;
        Ipv4Cidr::new(addr, prefix).map_err(|_| {
            invalid(if prefix > 32 {
                "the prefix length is above 32"
            } else {
                "host bits are set"
            })
        })
    }
}

impl fmt::Display for Ipv4Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> Ipv4Cidr {
        s.parse().unwrap()
    }

    #[test]
    fn parsing() {
        for (text, ok) in [
            ("10.244.0.0/16", true),
            ("0.0.0.0/0", true),
            ("10.244.1.0/24", true),
            ("10.244.1.1/24", false),
            ("10.244.0.0/33", false),
            ("10.244.0.0", false),
            ("fd00::/64", false),
            ("10.244.0.0/x", false),
        ] {
            assert_eq!(text.parse::<Ipv4Cidr>().is_ok(), ok, "{text}");
        }
        assert_eq!(c("10.244.0.0/16").to_string(), "10.244.0.0/16");
    }

    #[test]
    fn carving_subnets() {
        let cluster = c("10.244.0.0/16");
        for (index, want) in [
            (0, Some("10.244.0.0/24")),
            (1, Some("10.244.1.0/24")),
            (255, Some("10.244.255.0/24")),
            (256, None),
        ] {
            assert_eq!(
                cluster.subnet(24, index).map(|s| s.to_string()),
                want.map(str::to_string),
                "{index}"
            );
        }
        assert_eq!(cluster.subnet_count(24), 256);
        assert_eq!(cluster.subnet_count(8), 0);
        assert_eq!(c("10.0.0.0/8").subnet(24, 257), Some(c("10.1.1.0/24")));
        assert_eq!(cluster.subnet_index(&c("10.244.7.0/24")), Some(7));
        assert_eq!(cluster.subnet_index(&c("10.245.7.0/24")), None);
        assert!(cluster.overlaps(&c("10.244.7.0/24")));
        assert!(!cluster.overlaps(&c("10.245.0.0/24")));
    }

    #[test]
    fn pod_range_skips_network_bridge_and_broadcast() {
        for (cidr, want) in [
            ("10.244.1.0/24", Some(("10.244.1.2", "10.244.1.254"))),
            ("10.244.0.0/29", Some(("10.244.0.2", "10.244.0.6"))),
            ("10.244.0.0/30", None),
        ] {
            let got = c(cidr)
                .pod_range()
                .map(|(a, b)| (a.to_string(), b.to_string()));
            assert_eq!(
                got,
                want.map(|(a, b)| (a.to_string(), b.to_string())),
                "{cidr}"
            );
        }
    }
}
