//! Address management, pure: pod CIDRs for nodes and pod IPs within a node's CIDR. The callers
//! derive what is in use from the stored objects (nodes' `spec.podCIDR`, pods' `status.podIP`),
//! so the choice is correct after a restart or a relist without any state of its own.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::net::Ipv4Addr;

use crate::cidr::Ipv4Cidr;
use crate::error::Error;

/// The pod CIDR of each node in `wanted` (name, preferred subnet index).
///
/// A node keeps the CIDR it already has (`existing`, every node of the cluster), so ranges are
/// stable across restarts; a new node gets its preferred subnet (node-3 → `10.244.3.0/24`) when
/// no other node holds it, else the lowest free one.
pub fn assign_node_cidrs(
    cluster: Ipv4Cidr,
    prefix: u8,
    wanted: &[(String, u64)],
    existing: &BTreeMap<String, Ipv4Cidr>,
) -> Result<BTreeMap<String, Ipv4Cidr>, Error> {
    let mut used: BTreeSet<u64> = existing
        .values()
        .filter(|c| c.prefix() == prefix)
        .filter_map(|c| cluster.subnet_index(c))
        .collect();
    // A foreign range of another size that overlaps ours blocks the subnets it covers.
    let foreign: Vec<&Ipv4Cidr> = existing
        .values()
        .filter(|c| c.prefix() != prefix && c.overlaps(&cluster))
        .collect();
    let free = |i: u64, used: &BTreeSet<u64>| {
        !used.contains(&i)
            && cluster
                .subnet(prefix, i)
                .is_some_and(|s| foreign.iter().all(|f| !f.overlaps(&s)))
    };
    let count = cluster.subnet_count(prefix);
    let mut out = BTreeMap::new();
    for (name, preferred) in wanted {
        if let Some(cidr) = existing.get(name) {
            out.insert(name.clone(), *cidr);
            continue;
        }
        let index = if free(*preferred, &used) {
            Some(*preferred)
        } else {
            (0..count).find(|i| free(*i, &used))
        };
        let Some(index) = index else {
            return Err(Error::CidrExhausted {
                cluster: cluster.to_string(),
                prefix,
                wanted: wanted.len(),
            });
        };
        used.insert(index);
        out.insert(
            name.clone(),
            cluster.subnet(prefix, index).expect("index is in range"),
        );
    }
    Ok(out)
}

/// A free pod address in `cidr`, scanning round robin from just after `last` (as the
/// host-local IPAM plugin does) so that a just-released address is not handed out again at once
/// while clients may still remember it. `None` when the range is full.
pub fn next_free_ip(
    cidr: &Ipv4Cidr,
    in_use: &HashSet<Ipv4Addr>,
    last: Option<Ipv4Addr>,
) -> Option<Ipv4Addr> {
    let (first, end) = cidr.pod_range()?;
    let (first, end) = (u32::from(first), u32::from(end));
    let start = match last.map(u32::from) {
        Some(l) if (first..end).contains(&l) => l + 1,
        _ => first,
    };
    (start..=end)
        .chain(first..start)
        .map(Ipv4Addr::from)
        .find(|ip| !in_use.contains(ip))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> Ipv4Cidr {
        s.parse().unwrap()
    }

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    #[test]
    fn node_cidrs() {
        struct Case {
            name: &'static str,
            wanted: &'static [(&'static str, u64)],
            existing: &'static [(&'static str, &'static str)],
            want: Result<&'static [(&'static str, &'static str)], ()>,
        }
        let cases = [
            Case {
                name: "fresh cluster: node i gets subnet i",
                wanted: &[("node-1", 1), ("node-2", 2)],
                existing: &[],
                want: Ok(&[("node-1", "10.244.1.0/24"), ("node-2", "10.244.2.0/24")]),
            },
            Case {
                name: "stored ranges are kept even when not the preferred ones",
                wanted: &[("node-1", 1), ("node-2", 2)],
                existing: &[("node-1", "10.244.9.0/24")],
                want: Ok(&[("node-1", "10.244.9.0/24"), ("node-2", "10.244.2.0/24")]),
            },
            Case {
                name: "a preferred subnet held by another node falls back to the lowest free",
                wanted: &[("node-1", 1)],
                existing: &[("other", "10.244.1.0/24"), ("x", "10.244.0.0/24")],
                want: Ok(&[("node-1", "10.244.2.0/24")]),
            },
            Case {
                name: "a foreign range of another size blocks what it covers",
                wanted: &[("node-1", 1)],
                existing: &[("other", "10.244.0.0/23")],
                want: Ok(&[("node-1", "10.244.2.0/24")]),
            },
            Case {
                name: "out of subnets",
                wanted: &[("node-1", 1), ("node-2", 2)],
                existing: &[("a", "10.244.0.0/17"), ("b", "10.244.128.0/17")],
                want: Err(()),
            },
        ];
        for case in cases {
            let wanted: Vec<(String, u64)> = case
                .wanted
                .iter()
                .map(|(n, i)| (n.to_string(), *i))
                .collect();
            let existing = case
                .existing
                .iter()
                .map(|(n, s)| (n.to_string(), c(s)))
                .collect();
            let got = assign_node_cidrs(c("10.244.0.0/16"), 24, &wanted, &existing);
            match case.want {
                Ok(want) => {
                    let want: BTreeMap<String, Ipv4Cidr> =
                        want.iter().map(|(n, s)| (n.to_string(), c(s))).collect();
                    assert_eq!(got.unwrap(), want, "{}", case.name);
                }
                Err(()) => assert!(got.is_err(), "{}", case.name),
            }
        }
    }

    #[test]
    fn pod_ips() {
        // (case, node CIDR, in use, last handed out, want)
        type Case = (
            &'static str,
            &'static str,
            &'static [&'static str],
            Option<&'static str>,
            Option<&'static str>,
        );
        let cases: &[Case] = &[
            (
                "empty range starts at .2",
                "10.244.1.0/24",
                &[],
                None,
                Some("10.244.1.2"),
            ),
            (
                "skips used",
                "10.244.1.0/24",
                &["10.244.1.2", "10.244.1.3"],
                None,
                Some("10.244.1.4"),
            ),
            (
                "continues after the last allocation, not at the lowest free",
                "10.244.1.0/24",
                &["10.244.1.3"],
                Some("10.244.1.3"),
                Some("10.244.1.4"),
            ),
            (
                "a released address is not reused at once",
                "10.244.1.0/24",
                &[],
                Some("10.244.1.5"),
                Some("10.244.1.6"),
            ),
            (
                "wraps around at the end",
                "10.244.1.0/24",
                &["10.244.1.2"],
                Some("10.244.1.254"),
                Some("10.244.1.3"),
            ),
            (
                "a foreign last address is ignored",
                "10.244.1.0/24",
                &[],
                Some("10.0.0.9"),
                Some("10.244.1.2"),
            ),
            (
                "full",
                "10.244.1.0/29",
                &[
                    "10.244.1.2",
                    "10.244.1.3",
                    "10.244.1.4",
                    "10.244.1.5",
                    "10.244.1.6",
                ],
                Some("10.244.1.4"),
                None,
            ),
            ("too small for pods", "10.244.1.0/30", &[], None, None),
        ];
        for (name, cidr, used, last, want) in cases {
            let used: HashSet<Ipv4Addr> = used.iter().map(|s| ip(s)).collect();
            assert_eq!(
                next_free_ip(&c(cidr), &used, last.map(ip)),
                want.map(ip),
                "{name}"
            );
        }
    }
}
