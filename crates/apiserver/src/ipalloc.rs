//! ClusterIP and NodePort allocation. Each allocated IP or port is a key in the store created
//! with create-if-absent, so allocation is unique across restarts and across API server
//! replicas sharing a store (the same idea as Kubernetes' IPAddress objects).

use std::net::IpAddr;
use std::str::FromStr;
use std::sync::Arc;

use bytes::Bytes;
use rand::Rng;
use store::Store;

/// An IP network such as `10.96.0.0/12` or `fd00:10:96::/112`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    pub addr: IpAddr,
    pub prefix: u8,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AllocError {
    #[error("provided IP ({0}) is not in the valid range. The range of valid IPs is {1}")]
    OutOfRange(IpAddr, String),
    #[error("provided IP is already allocated")]
    IpInUse,
    #[error("provided port is already allocated")]
    PortInUse,
    #[error("provided port is not in the valid range. The range of valid ports is 30000-32767")]
    PortOutOfRange,
    #[error("range is full")]
    Full,
    #[error("this cluster is not configured for {0}")]
    FamilyNotConfigured(&'static str),
    #[error("{0}")]
    Store(String),
}

impl FromStr for Cidr {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (addr, prefix) = s
            .trim()
            .split_once('/')
            .ok_or_else(|| format!("{s:?} is not a CIDR"))?;
        let addr: IpAddr = addr.parse().map_err(|e| format!("{s:?}: {e}"))?;
        let prefix: u8 = prefix.parse().map_err(|e| format!("{s:?}: {e}"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        if prefix > max {
            return Err(format!("{s:?}: prefix longer than {max}"));
        }
        let cidr = Cidr { addr, prefix };
        if cidr.nth(0) != addr {
            return Err(format!("{s:?}: address has host bits set"));
        }
        Ok(cidr)
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl Cidr {
    fn bits(&self) -> u32 {
        if self.addr.is_ipv4() { 32 } else { 128 }
    }

    fn base(&self) -> u128 {
        let host_bits = self.bits() - u32::from(self.prefix);
        let raw = match self.addr {
            IpAddr::V4(a) => u128::from(u32::from(a)),
            IpAddr::V6(a) => u128::from(a),
        };
        if host_bits >= 128 {
            0
        } else {
            raw >> host_bits << host_bits
        }
    }

    /// Number of addresses, capped (a /64 is treated as 2^63 addresses).
    pub fn size(&self) -> u128 {
        let host_bits = (self.bits() - u32::from(self.prefix)).min(63);
        1u128 << host_bits
    }

    /// The address at `offset` from the network address.
    pub fn nth(&self, offset: u128) -> IpAddr {
        let v = self.base() + offset;
        match self.addr {
            IpAddr::V4(_) => IpAddr::V4((v as u32).into()),
            IpAddr::V6(_) => IpAddr::V6(v.into()),
        }
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let raw = match (self.addr, ip) {
            (IpAddr::V4(_), IpAddr::V4(a)) => u128::from(u32::from(a)),
            (IpAddr::V6(_), IpAddr::V6(a)) => u128::from(a),
            _ => return false,
        };
        let host_bits = self.bits() - u32::from(self.prefix);
        let net = if host_bits >= 128 {
            0
        } else {
            raw >> host_bits << host_bits
        };
        net == self.base()
    }

    /// Usable service addresses: not the network address, and for IPv4 not the broadcast.
    fn usable(&self) -> (u128, u128) {
        let last = if self.addr.is_ipv4() {
            self.size().saturating_sub(2)
        } else {
            self.size() - 1
        };
        (1, last.max(1))
    }

    pub fn family(&self) -> &'static str {
        if self.addr.is_ipv4() { "IPv4" } else { "IPv6" }
    }
}

/// Hands out ClusterIPs from the service CIDRs and NodePorts from 30000–32767.
#[derive(Clone)]
pub struct Allocator {
    store: Arc<dyn Store>,
    cidrs: Vec<Cidr>,
}

const IP_PREFIX: &str = "/registry/ipaddresses/";
const PORT_PREFIX: &str = "/registry/nodeports/";
const NODE_PORT_RANGE: (u16, u16) = (30000, 32767);
const RANDOM_PROBES: usize = 32;

impl Allocator {
    pub fn new(store: Arc<dyn Store>, cidrs: Vec<Cidr>) -> Self {
        Allocator { store, cidrs }
    }

    pub fn cidrs(&self) -> &[Cidr] {
        &self.cidrs
    }

    pub fn cidr_for(&self, family: &str) -> Option<Cidr> {
        self.cidrs.iter().copied().find(|c| c.family() == family)
    }

    /// Reserve `ip` for `owner` (`ns/name`).
    pub async fn reserve_ip(&self, ip: IpAddr, owner: &str) -> Result<(), AllocError> {
        let cidr = self
            .cidrs
            .iter()
            .find(|c| c.contains(ip))
            .ok_or_else(|| AllocError::OutOfRange(ip, self.cidr_list()))?;
        let (first, last) = cidr.usable();
        if ip == cidr.nth(first - 1) || (cidr.addr.is_ipv4() && ip == cidr.nth(last + 1)) {
            return Err(AllocError::OutOfRange(ip, self.cidr_list()));
        }
        self.claim(&format!("{IP_PREFIX}{ip}"), owner, AllocError::IpInUse)
            .await
    }

    /// Allocate a free IP of `family` for `owner`: random probes first (cheap while the range is
    /// sparse), then a scan of what is taken.
    pub async fn allocate_ip(
        &self,
        family: &'static str,
        owner: &str,
    ) -> Result<IpAddr, AllocError> {
        let cidr = self
            .cidr_for(family)
            .ok_or(AllocError::FamilyNotConfigured(family))?;
        let (first, last) = cidr.usable();
        for _ in 0..RANDOM_PROBES {
            let offset = rand::rng().random_range(first..=last);
            let ip = cidr.nth(offset);
            match self
                .claim(&format!("{IP_PREFIX}{ip}"), owner, AllocError::IpInUse)
                .await
            {
                Ok(()) => return Ok(ip),
                Err(AllocError::IpInUse) => continue,
                Err(e) => return Err(e),
            }
        }
        let taken = self.taken(IP_PREFIX).await?;
        for offset in first..=last.min(first + 1_000_000) {
            let ip = cidr.nth(offset);
            if taken.contains(&ip.to_string()) {
                continue;
            }
            match self
                .claim(&format!("{IP_PREFIX}{ip}"), owner, AllocError::IpInUse)
                .await
            {
                Ok(()) => return Ok(ip),
                Err(AllocError::IpInUse) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(AllocError::Full)
    }

    pub async fn release_ip(&self, ip: &str) {
        self.release(&format!("{IP_PREFIX}{ip}")).await;
    }

    pub async fn reserve_port(&self, port: i32, owner: &str) -> Result<(), AllocError> {
        if port < i32::from(NODE_PORT_RANGE.0) || port > i32::from(NODE_PORT_RANGE.1) {
            return Err(AllocError::PortOutOfRange);
        }
        self.claim(
            &format!("{PORT_PREFIX}{port}"),
            owner,
            AllocError::PortInUse,
        )
        .await
    }

    pub async fn allocate_port(&self, owner: &str) -> Result<i32, AllocError> {
        let (lo, hi) = NODE_PORT_RANGE;
        for _ in 0..RANDOM_PROBES {
            let port = i32::from(rand::rng().random_range(lo..=hi));
            match self.reserve_port(port, owner).await {
                Ok(()) => return Ok(port),
                Err(AllocError::PortInUse) => continue,
                Err(e) => return Err(e),
            }
        }
        for port in lo..=hi {
            match self.reserve_port(i32::from(port), owner).await {
                Ok(()) => return Ok(i32::from(port)),
                Err(AllocError::PortInUse) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(AllocError::Full)
    }

    pub async fn release_port(&self, port: i64) {
        self.release(&format!("{PORT_PREFIX}{port}")).await;
    }

    /// Owners of every allocation, for the repair pass at start-up: `(key, owner)`.
    pub async fn allocations(&self) -> Result<Vec<(String, String)>, AllocError> {
        let mut out = Vec::new();
        for prefix in [IP_PREFIX, PORT_PREFIX] {
            let list = self
                .store
                .list(prefix, store::ListOptions::default())
                .await
                .map_err(|e| AllocError::Store(e.to_string()))?;
            out.extend(
                list.items
                    .into_iter()
                    .map(|kv| (kv.key, String::from_utf8_lossy(&kv.value).into_owned())),
            );
        }
        Ok(out)
    }

    pub async fn release_key(&self, key: &str) {
        self.release(key).await;
    }

    fn cidr_list(&self) -> String {
        self.cidrs
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(",")
    }

    async fn claim(&self, key: &str, owner: &str, in_use: AllocError) -> Result<(), AllocError> {
        match self.store.create(key, Bytes::from(owner.to_string())).await {
            Ok(_) => Ok(()),
            Err(store::Error::AlreadyExists { .. }) => Err(in_use),
            Err(e) => Err(AllocError::Store(e.to_string())),
        }
    }

    async fn taken(&self, prefix: &str) -> Result<std::collections::HashSet<String>, AllocError> {
        let list = self
            .store
            .list(prefix, store::ListOptions::default())
            .await
            .map_err(|e| AllocError::Store(e.to_string()))?;
        Ok(list
            .items
            .into_iter()
            .map(|kv| kv.key[prefix.len()..].to_string())
            .collect())
    }

    async fn release(&self, key: &str) {
        match self.store.delete(key, None).await {
            Ok(_) | Err(store::Error::NotFound { .. }) => {}
            Err(e) => tracing::warn!(key, error = %e, "could not release allocation"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_arithmetic() {
        let c: Cidr = "10.96.0.0/12".parse().unwrap();
        assert_eq!(c.nth(1).to_string(), "10.96.0.1");
        assert_eq!(c.nth(10).to_string(), "10.96.0.10");
        assert!(c.contains("10.111.255.254".parse().unwrap()));
        assert!(!c.contains("10.112.0.1".parse().unwrap()));
        assert!(!c.contains("fd00::1".parse().unwrap()));
        assert_eq!(c.size(), 1 << 20);
        let v6: Cidr = "fd00:10:96::/112".parse().unwrap();
        assert_eq!(v6.nth(10).to_string(), "fd00:10:96::a");
        assert!("10.96.0.1/12".parse::<Cidr>().is_err());
        assert!("10.96.0.0/33".parse::<Cidr>().is_err());
    }

    #[tokio::test]
    async fn allocation_is_unique_and_released() {
        let store: Arc<dyn Store> = Arc::new(store::MemoryStore::new());
        let alloc = Allocator::new(store, vec!["10.0.0.0/29".parse().unwrap()]);
        let mut got = std::collections::HashSet::new();
        for i in 0..6 {
            got.insert(
                alloc
                    .allocate_ip("IPv4", &format!("ns/s{i}"))
                    .await
                    .unwrap(),
            );
        }
        assert_eq!(got.len(), 6);
        assert_eq!(
            alloc.allocate_ip("IPv4", "ns/full").await,
            Err(AllocError::Full)
        );
        let ip = *got.iter().next().unwrap();
        assert_eq!(alloc.reserve_ip(ip, "ns/x").await, Err(AllocError::IpInUse));
        alloc.release_ip(&ip.to_string()).await;
        assert_eq!(alloc.reserve_ip(ip, "ns/x").await, Ok(()));
        assert!(matches!(
            alloc.reserve_ip("10.0.1.1".parse().unwrap(), "ns/y").await,
            Err(AllocError::OutOfRange(..))
        ));
        assert_eq!(
            alloc.allocate_ip("IPv6", "ns/z").await,
            Err(AllocError::FamilyNotConfigured("IPv6"))
        );
    }
}
