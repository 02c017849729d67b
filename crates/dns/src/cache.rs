//! A small cache of upstream answers that obeys their TTLs (dns-spec.md §7, kubeadm's
//! `cache 30`). Only forwarded data is cached: the zone itself is always answered from the
//! current snapshot, so cluster changes are never hidden behind a cache.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{Name, RData, Record, RecordType};

use crate::wire::UpstreamReply;

/// Longest time any answer is kept, whatever its TTL (kubeadm caps at 30 s).
pub const MAX_TTL: u32 = 30;

/// Key: lowercase name, type, class.
type Key = (String, u16, u16);

struct Entry {
    reply: UpstreamReply,
    stored: Instant,
    ttl: Duration,
}

/// A bounded map from question to upstream reply; expired entries are never returned.
pub struct Cache {
    entries: HashMap<Key, Entry>,
    capacity: usize,
}

impl Cache {
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: HashMap::new(),
            capacity,
        }
    }

    fn key(name: &Name, qtype: RecordType, qclass: u16) -> Key {
        (
            name.to_ascii().to_ascii_lowercase(),
            u16::from(qtype),
            qclass,
        )
    }

    /// The cached reply with every TTL lowered by its age, if still fresh.
    pub fn get(
        &mut self,
        name: &Name,
        qtype: RecordType,
        qclass: u16,
        now: Instant,
    ) -> Option<UpstreamReply> {
        let key = Self::key(name, qtype, qclass);
        let entry = self.entries.get(&key)?;
        let age = now.saturating_duration_since(entry.stored);
        if age >= entry.ttl {
            self.entries.remove(&key);
            return None;
        }
        let mut reply = entry.reply.clone();
        let aged = u32::try_from(age.as_secs()).unwrap_or(u32::MAX);
        for r in reply
            .answers
            .iter_mut()
            .chain(&mut reply.authorities)
            .chain(&mut reply.additionals)
        {
            r.ttl = r.ttl.saturating_sub(aged);
        }
        Some(reply)
    }

    /// Stores a reply for as long as its records allow: the smallest answer TTL, or for a
    /// negative answer the SOA's TTL and minimum (RFC 2308), capped at [`MAX_TTL`]. Truncated,
    /// failed and uncacheable replies are not stored.
    pub fn put(
        &mut self,
        name: &Name,
        qtype: RecordType,
        qclass: u16,
        reply: &UpstreamReply,
        now: Instant,
    ) {
        let Some(ttl) = cache_ttl(reply) else {
            return;
        };
        if self.entries.len() >= self.capacity {
            self.entries
                .retain(|_, e| now.saturating_duration_since(e.stored) < e.ttl);
            if self.entries.len() >= self.capacity {
                // Still full of live entries: skip rather than scan for a victim on every miss.
                return;
            }
        }
        self.entries.insert(
            Self::key(name, qtype, qclass),
            Entry {
                reply: reply.clone(),
                stored: now,
                ttl: Duration::from_secs(u64::from(ttl)),
            },
        );
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

fn cache_ttl(reply: &UpstreamReply) -> Option<u32> {
    if reply.truncated {
        return None;
    }
    let ttl = match reply.rcode {
        ResponseCode::NoError if !reply.answers.is_empty() => {
            reply.answers.iter().map(|r| r.ttl).min()
        }
        ResponseCode::NoError | ResponseCode::NXDomain => {
            reply.authorities.iter().find_map(negative_ttl)
        }
        _ => None,
    }?;
    (ttl > 0).then_some(ttl.min(MAX_TTL))
}

fn negative_ttl(r: &Record) -> Option<u32> {
    match &r.data {
        RData::SOA(soa) => Some(r.ttl.min(soa.minimum)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::rr::rdata::{A, SOA};

    fn name(s: &str) -> Name {
        Name::from_ascii(s).unwrap()
    }

    fn reply(rcode: ResponseCode, answers: Vec<Record>, authorities: Vec<Record>) -> UpstreamReply {
        UpstreamReply {
            rcode,
            authoritative: false,
            answers,
            authorities,
            additionals: Vec::new(),
            truncated: false,
        }
    }

    fn a(ttl: u32) -> Record {
        Record::from_rdata(name("x.example."), ttl, RData::A(A::new(192, 0, 2, 1)))
    }

    #[test]
    fn ttl_is_obeyed_and_aged() {
        let mut c = Cache::new(10);
        let t0 = Instant::now();
        let n = name("X.Example.");
        c.put(
            &n,
            RecordType::A,
            1,
            &reply(ResponseCode::NoError, vec![a(10)], vec![]),
            t0,
        );
        let hit = c
            .get(
                &name("x.example."),
                RecordType::A,
                1,
                t0 + Duration::from_secs(3),
            )
            .expect("fresh");
        assert_eq!(hit.answers[0].ttl, 7);
        assert!(c.get(&n, RecordType::AAAA, 1, t0).is_none());
        assert!(
            c.get(&n, RecordType::A, 1, t0 + Duration::from_secs(10))
                .is_none()
        );
        assert!(c.is_empty(), "expired entries are dropped on access");
    }

    #[test]
    fn caps_and_negative_answers() {
        let mut c = Cache::new(10);
        let t0 = Instant::now();
        c.put(
            &name("long."),
            RecordType::A,
            1,
            &reply(ResponseCode::NoError, vec![a(3600)], vec![]),
            t0,
        );
        assert!(
            c.get(
                &name("long."),
                RecordType::A,
                1,
                t0 + Duration::from_secs(31)
            )
            .is_none()
        );
        let soa = Record::from_rdata(
            name("example."),
            60,
            RData::SOA(SOA::new(
                name("ns.example."),
                name("h.example."),
                1,
                1,
                1,
                1,
                4,
            )),
        );
        c.put(
            &name("nx."),
            RecordType::A,
            1,
            &reply(ResponseCode::NXDomain, vec![], vec![soa]),
            t0,
        );
        assert!(
            c.get(&name("nx."), RecordType::A, 1, t0 + Duration::from_secs(3))
                .is_some()
        );
        assert!(
            c.get(&name("nx."), RecordType::A, 1, t0 + Duration::from_secs(4))
                .is_none()
        );
        // SERVFAIL and truncated answers are never stored.
        c.put(
            &name("sf."),
            RecordType::A,
            1,
            &reply(ResponseCode::ServFail, vec![a(10)], vec![]),
            t0,
        );
        let mut tc = reply(ResponseCode::NoError, vec![a(10)], vec![]);
        tc.truncated = true;
        c.put(&name("tc."), RecordType::A, 1, &tc, t0);
        assert_eq!(c.len(), 0);
    }

    #[test]
    fn bounded() {
        let mut c = Cache::new(2);
        let t0 = Instant::now();
        for n in ["a.", "b.", "c."] {
            c.put(
                &name(n),
                RecordType::A,
                1,
                &reply(ResponseCode::NoError, vec![a(10)], vec![]),
                t0,
            );
        }
        assert_eq!(c.len(), 2);
        // Once the old ones expire there is room again.
        c.put(
            &name("d."),
            RecordType::A,
            1,
            &reply(ResponseCode::NoError, vec![a(10)], vec![]),
            t0 + Duration::from_secs(11),
        );
        assert!(
            c.get(&name("d."), RecordType::A, 1, t0 + Duration::from_secs(11))
                .is_some()
        );
    }
}
