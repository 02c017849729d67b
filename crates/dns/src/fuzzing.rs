//! The respond-path fuzz target, shared by cargo-fuzz (`/fuzz`, needs nightly) and a seeded
//! stable test in this crate (so CI exercises it). For any bytes it must not panic, and the
//! cached hot path must answer byte for byte like the general path: the first query of a key
//! fills the snapshot's cache, so later inputs that differ only in what the cache patches (ID,
//! RD, CD, rotation) or in what it must not ignore check the replay.
//!
//! Input layout: the first byte picks the transport (bit 0) and the rotation (the rest), the
//! remaining bytes are the packet.

use std::sync::OnceLock;

use hickory_proto::op::Edns;
use hickory_proto::rr::RecordType;
use serde_json::json;

use crate::config::Config;
use crate::fixtures;
use crate::wire::{self, Transport, query_packet};
use crate::zone::ZoneView;

/// Runs one input (see the module docs). Panics only when the cached and general paths
/// disagree.
pub fn respond(data: &[u8]) {
    let view = view();
    let (transport, rotation, packet) = split(data);
    let general = wire::respond_uncached(view, packet, transport, rotation);
    for _ in 0..2 {
        // The second call is a cache hit whenever the first could fill the cache.
        let cached = wire::respond(view, packet, transport, rotation);
        assert_eq!(
            cached, general,
            "cached and general replies differ for {packet:02x?} ({transport:?}, rotation {rotation})"
        );
    }
}

fn split(data: &[u8]) -> (Transport, usize, &[u8]) {
    match data.split_first() {
        None => (Transport::Udp, 0, data),
        Some((&b, rest)) => {
            let transport = if b & 1 == 0 {
                Transport::Udp
            } else {
                Transport::Tcp
            };
            (transport, usize::from(b >> 1), rest)
        }
    }
}

/// The view every input runs against, shared so the cache fills across inputs.
pub fn view() -> &'static ZoneView {
    static VIEW: OnceLock<ZoneView> = OnceLock::new();
    VIEW.get_or_init(build_view)
}

/// The fixture cluster plus a headless Service with 100 endpoints (truncation).
pub fn build_view() -> ZoneView {
    let mut v = fixtures::view(&Config::default());
    let svc = serde_json::from_value(json!({
        "metadata": {"namespace": "demo", "name": "big"}, "spec": {"clusterIP": "None"}
    }))
    .expect("valid Service");
    let eps: Vec<_> = (0..100)
        .map(|i| json!({"addresses": [format!("10.244.9.{}", i + 1)]}))
        .collect();
    let slice = serde_json::from_value(json!({
        "metadata": {"namespace": "demo", "name": "big-1",
                     "labels": {"kubernetes.io/service-name": "big"}},
        "addressType": "IPv4", "endpoints": eps,
        "ports": [{"name": "http", "port": 80, "protocol": "TCP"}],
    }))
    .expect("valid EndpointSlice");
    v.apply_service(&svc);
    v.apply_slice(&slice);
    v
}

/// Valid queries (with the control byte) covering every answer shape of the fixture: a
/// starting corpus for cargo-fuzz and the seeds of the stable test.
pub fn seeds() -> Vec<Vec<u8>> {
    const NAMES: &[&str] = &[
        "web.demo.svc.cluster.local.",
        "WeB.DeMo.svc.Cluster.Local.",
        "nginx.demo.svc.cluster.local.",
        "web-0.nginx.demo.svc.cluster.local.",
        "big.demo.svc.cluster.local.",
        "_http._tcp.web.demo.svc.cluster.local.",
        "_web._tcp.nginx.demo.svc.cluster.local.",
        "_http._tcp.big.demo.svc.cluster.local.",
        "my-nginx-headless-svc.default.svc.cluster.local.",
        "alias.demo.svc.cluster.local.",
        "ext.demo.svc.cluster.local.",
        "dangling.demo.svc.cluster.local.",
        "nope.demo.svc.cluster.local.",
        "web.demo.svc.cluster.local.demo.svc.cluster.local.",
        "10-244-1-20.demo.pod.cluster.local.",
        "10.1.96.10.in-addr.arpa.",
        "20.1.244.10.in-addr.arpa.",
        "1.2.0.192.in-addr.arpa.",
        "cluster.local.",
        "dns-version.cluster.local.",
        "demo.svc.cluster.local.",
        "example.com.",
    ];
    const TYPES: &[RecordType] = &[
        RecordType::A,
        RecordType::AAAA,
        RecordType::SRV,
        RecordType::PTR,
        RecordType::TXT,
        RecordType::CNAME,
        RecordType::SOA,
        RecordType::NS,
        RecordType::MX,
        RecordType::AXFR,
    ];
    let mut out = Vec::new();
    for (i, name) in NAMES.iter().enumerate() {
        for (j, &qtype) in TYPES.iter().enumerate() {
            let edns = match (i + j) % 3 {
                0 => None,
                1 => Some(edns(1232, false)),
                _ => Some(edns(4096, true)),
            };
            let Ok(packet) = query_packet(0x1000 + i as u16, name, qtype, edns) else {
                continue;
            };
            let control = ((i + j) % 8) as u8;
            out.push([&[control][..], &packet].concat());
        }
    }
    out
}

fn edns(size: u16, dnssec_ok: bool) -> Edns {
    let mut e = Edns::new();
    e.set_max_payload(size);
    e.set_dnssec_ok(dnssec_ok);
    e
}

/// A tiny deterministic generator (xorshift64), so the stable test needs no dependency.
pub struct XorShift(pub u64);

impl XorShift {
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
}

/// One structure-aware mutation of `input`: header bits, ID, name case, type, EDNS fields,
/// truncation, extension or a random byte. Offsets count the control byte.
pub fn mutate(rng: &mut XorShift, input: &mut Vec<u8>) {
    if input.is_empty() {
        input.push(rng.next_u64() as u8);
        return;
    }
    let len = input.len();
    let byte = rng.next_u64() as u8;
    match rng.below(9) {
        // Control byte: transport and rotation.
        0 => input[0] = byte,
        // ID and flag bytes (RD, CD, AD, opcode, QR, TC, ...).
        1 => {
            let at = 1 + rng.below(4);
            if at < len {
                input[at] ^= 1 << rng.below(8);
            }
        }
        // Flip the case of a letter.
        2 => {
            let at = rng.below(len);
            if input[at].is_ascii_alphabetic() {
                input[at] ^= 0x20;
            }
        }
        // Anywhere in the last 15 bytes: QTYPE, QCLASS and the OPT fields.
        3 => {
            let at = len - 1 - rng.below(15.min(len));
            input[at] = byte;
        }
        4 => input.truncate(rng.below(len)),
        5 => input.extend((0..1 + rng.below(16)).map(|_| rng.next_u64() as u8)),
        // Section counts.
        6 => {
            let at = 5 + rng.below(8);
            if at < len {
                input[at] = byte % 3;
            }
        }
        _ => {
            let at = rng.below(len);
            input[at] = byte;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fuzz target over seeded mutations and random bytes, on stable.
    #[test]
    fn respond_target_holds_for_mutated_and_random_inputs() {
        let seeds = seeds();
        for s in &seeds {
            respond(s);
        }
        let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
        let rounds = if cfg!(debug_assertions) {
            200_000
        } else {
            1_000_000
        };
        for i in 0..rounds {
            let mut input = if i % 16 == 0 {
                (0..rng.below(300)).map(|_| rng.next_u64() as u8).collect()
            } else {
                seeds[rng.below(seeds.len())].clone()
            };
            for _ in 0..1 + rng.below(3) {
                mutate(&mut rng, &mut input);
            }
            respond(&input);
        }
        assert!(
            !view().answer_cache().is_empty(),
            "the cache took part in the run"
        );
    }
}
