//! The reverse (PTR) index of the zone view: IP → the Services and endpoints that own it.
//!
//! It has an entry per ClusterIP and per ready endpoint address, so at 100k pods it is the
//! largest part of the view, and it is laid out for size (measured with heaptrack at 10k
//! Services / 100k pods, where a `Vec` per IP alone took 25 MB): IPv4 keys are stored as 4
//! bytes rather than as an `IpAddr`; an entry is an `Arc` to its owner (shared by every
//! address of one slice, or the ClusterIPs of one Service) plus the endpoint's label; and the
//! usual single entry of an IP sits inline in the map slot, not in an allocation of its own.

use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use crate::cow::ShardedMap;
use crate::name::dashed_ip;
use crate::zone::Name;

/// Who owns a set of PTR entries: a Service through its ClusterIPs, or one of its slices.
#[derive(Debug, PartialEq, Eq)]
pub struct PtrOwner {
    namespace: Name,
    service: Name,
    /// `None` for the ClusterIP source.
    slice: Option<Name>,
}

impl PtrOwner {
    pub fn cluster_ip(namespace: Name, service: Name) -> Arc<PtrOwner> {
        Arc::new(PtrOwner {
            namespace,
            service,
            slice: None,
        })
    }

    pub fn slice(namespace: Name, service: Name, slice: Name) -> Arc<PtrOwner> {
        Arc::new(PtrOwner {
            namespace,
            service,
            slice: Some(slice),
        })
    }
}

/// One PTR candidate for an IP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PtrEntry {
    owner: Arc<PtrOwner>,
    /// The endpoint's label when it is not the dashed IP.
    label: Option<Name>,
}

impl PtrEntry {
    pub fn new(owner: &Arc<PtrOwner>, label: Option<Name>) -> PtrEntry {
        PtrEntry {
            owner: Arc::clone(owner),
            label,
        }
    }

    pub fn namespace(&self) -> &str {
        &self.owner.namespace
    }

    pub fn service(&self) -> &str {
        &self.owner.service
    }

    /// The IP is a ClusterIP of the Service (else a ready address of [`PtrEntry::slice`]).
    pub fn is_cluster_ip(&self) -> bool {
        self.owner.slice.is_none()
    }

    pub fn slice(&self) -> Option<&str> {
        self.owner.slice.as_deref()
    }

    /// The PTR target for `ip` (the IP this entry is indexed under) in `zone`:
    /// `<svc>.<ns>.svc.<zone>.` for a ClusterIP, `<ep>.<svc>.<ns>.svc.<zone>.` for an endpoint.
    pub fn target(&self, ip: IpAddr, zone: &str) -> String {
        let (svc, ns) = (&self.owner.service, &self.owner.namespace);
        if self.is_cluster_ip() {
            return format!("{svc}.{ns}.svc.{zone}.");
        }
        let ep = match &self.label {
            Some(l) => Cow::Borrowed(&**l),
            None => Cow::Owned(dashed_ip(ip)),
        };
        format!("{ep}.{svc}.{ns}.svc.{zone}.")
    }
}

/// The entries of one IP: most IPs have exactly one, kept inline.
#[derive(Debug, Clone)]
enum PtrList {
    One(PtrEntry),
    Many(Box<[PtrEntry]>),
}

impl PtrList {
    fn as_slice(&self) -> &[PtrEntry] {
        match self {
            PtrList::One(e) => std::slice::from_ref(e),
            PtrList::Many(list) => list,
        }
    }

    fn from_vec(mut v: Vec<PtrEntry>) -> Option<PtrList> {
        match v.len() {
            0 => None,
            1 => v.pop().map(PtrList::One),
            _ => Some(PtrList::Many(v.into_boxed_slice())),
        }
    }

    fn into_vec(self) -> Vec<PtrEntry> {
        match self {
            PtrList::One(e) => vec![e],
            PtrList::Many(list) => list.into_vec(),
        }
    }
}

/// IP → PTR candidates, ClusterIP sources first, then endpoint sources in insertion order.
/// Copy-on-write like the rest of the view ([`ShardedMap`]).
#[derive(Debug, Clone, Default)]
pub struct ReverseIndex {
    v4: ShardedMap<Ipv4Addr, PtrList>,
    v6: ShardedMap<Ipv6Addr, PtrList>,
}

impl ReverseIndex {
    pub fn get(&self, ip: IpAddr) -> &[PtrEntry] {
        let list = match ip {
            IpAddr::V4(ip) => self.v4.get(&ip),
            IpAddr::V6(ip) => self.v6.get(&ip),
        };
        list.map_or(&[], PtrList::as_slice)
    }

    fn take(&mut self, ip: IpAddr) -> Option<PtrList> {
        match ip {
            IpAddr::V4(ip) => self.v4.remove(&ip),
            IpAddr::V6(ip) => self.v6.remove(&ip),
        }
    }

    fn put(&mut self, ip: IpAddr, list: Option<PtrList>) {
        let Some(list) = list else {
            return;
        };
        match ip {
            IpAddr::V4(ip) => self.v4.insert(ip, list),
            IpAddr::V6(ip) => self.v6.insert(ip, list),
        };
    }

    /// Adds a candidate: a ClusterIP source after the other ClusterIP sources, an endpoint
    /// source at the end.
    pub fn add(&mut self, ip: IpAddr, entry: PtrEntry) {
        let list = match self.take(ip) {
            None => PtrList::One(entry),
            Some(list) => {
                let mut v = list.into_vec();
                let at = if entry.is_cluster_ip() {
                    v.iter().take_while(|e| e.is_cluster_ip()).count()
                } else {
                    v.len()
                };
                v.reserve_exact(1);
                v.insert(at, entry);
                PtrList::Many(v.into_boxed_slice())
            }
        };
        self.put(ip, Some(list));
    }

    /// Removes the candidates of `ip` matching `pred`.
    pub fn remove(&mut self, ip: IpAddr, pred: impl Fn(&PtrEntry) -> bool) {
        // Look first: taking would copy a shard out of the published snapshot.
        if !self.get(ip).iter().any(&pred) {
            return;
        }
        if let Some(list) = self.take(ip) {
            let mut v = list.into_vec();
            v.retain(|e| !pred(e));
            self.put(ip, PtrList::from_vec(v));
        }
    }

    /// Addresses indexed (tests).
    pub fn len(&self) -> usize {
        self.v4.len() + self.v6.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn order_inline_and_removal() {
        let svc = PtrOwner::cluster_ip("demo".into(), "web".into());
        let slice = PtrOwner::slice("demo".into(), "nginx".into(), "nginx-abc".into());
        let mut r = ReverseIndex::default();
        let a = ip("10.244.1.20");
        r.add(a, PtrEntry::new(&slice, None));
        r.add(a, PtrEntry::new(&slice, Some("web-0".into())));
        r.add(a, PtrEntry::new(&svc, None));
        let targets: Vec<String> = r.get(a).iter().map(|e| e.target(a, "z")).collect();
        assert_eq!(
            targets,
            [
                "web.demo.svc.z.",
                "10-244-1-20.nginx.demo.svc.z.",
                "web-0.nginx.demo.svc.z."
            ]
        );
        r.remove(a, |e| e.slice() == Some("nginx-abc"));
        assert_eq!(r.get(a).len(), 1);
        assert!(matches!(
            r.v4.get(&Ipv4Addr::new(10, 244, 1, 20)),
            Some(PtrList::One(_))
        ));
        r.remove(a, PtrEntry::is_cluster_ip);
        assert!(r.get(a).is_empty() && r.is_empty());

        let b = ip("fd00::1");
        r.add(b, PtrEntry::new(&slice, None));
        assert_eq!(r.get(b)[0].target(b, "z"), "fd00--1.nginx.demo.svc.z.");
        assert_eq!(r.len(), 1);
    }

    #[test]
    fn stays_small() {
        // The inline entry is the point of the layout: keep it two words plus the label.
        assert!(std::mem::size_of::<PtrList>() <= 32);
    }
}
