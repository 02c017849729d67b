//! The pre-encoded answer cache: the hot path of the server (perf-anchors.md: "the answer for
//! a (name, type) is encoded once and only its ID and flags are patched per query").
//!
//! Each [`ZoneView`](crate::ZoneView) snapshot owns one [`AnswerCache`]; cloning a view (which
//! is how a snapshot is published) starts an empty one and every mutation of a view empties
//! its own, so a cached answer can never outlive the data it was built from.
//!
//! Design choices:
//! - **Key**: the question bytes exactly as sent (name with its case, QTYPE, QCLASS) plus the
//!   EDNS fields the reply echoes (present, payload size, DO) and the transport. Keying on the
//!   exact name bytes instead of patching the case in: the query's spelling of the zone is
//!   echoed in owner names *and* in synthesized targets (SRV, in-zone CNAMEs), so patching only
//!   the question would be wrong, and clients in a cluster keep one spelling per name. A client
//!   randomizing case (0x20) only costs misses, bounded by the eviction below.
//! - **Value**: the reply the general path ([`crate::wire::process_uncached`]) produced for the
//!   first such query, with the A/AAAA records put back in rotation-0 order. Per query it is
//!   copied and its ID, RD and CD patched; A/AAAA rotation rotates the byte run of those
//!   records, which is exactly what re-encoding the rotated records would give because each
//!   one is a fixed-size record whose owner is a compression pointer to an earlier name.
//! - **Not cached** (the general path answers every time, as before): anything that needs an
//!   upstream (forwarding has its own cache), truncated replies (which records survive depends
//!   on the rotation), FORMERR, and replies whose address records do not form such a run.
//! - **Bound**: [`MAX_BYTES`] across [`SHARDS`] shards, FIFO eviction per shard: O(1), and a
//!   hot name evicted by a flood of one-off names costs one general-path answer to come back.

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};
use std::sync::{Mutex, MutexGuard};

use crate::packet::SimpleQuery;
use crate::wire::Transport;

/// Memory budget of one snapshot's cache (keys, replies and bookkeeping).
pub const MAX_BYTES: usize = 32 << 20;
/// Independent locks, so TCP connections and UDP loops on other threads rarely meet.
const SHARDS: usize = 16;
/// Rough per-entry overhead: map slot, FIFO slot, allocator header.
const ENTRY_OVERHEAD: usize = 96;

const HEADER_LEN: usize = 12;
const TYPE_A: u16 = 1;
const TYPE_AAAA: u16 = 28;
/// The RD bit in header byte 2 and the CD bit in header byte 3.
const RD: u8 = 0x01;
const CD: u8 = 0x10;
const TC: u8 = 0x02;
const RCODE_FORMERR: u8 = 1;

/// The non-question part of the key: transport, EDNS presence, payload size, DO.
type KeyTail = [u8; 5];

fn key_tail(q: &SimpleQuery<'_>, transport: Transport) -> KeyTail {
    let t = u8::from(transport == Transport::Tcp);
    match q.edns {
        None => [t, 0, 0, 0, 0],
        Some(e) => {
            let [hi, lo] = e.payload.to_be_bytes();
            [t, 1, hi, lo, u8::from(e.dnssec_ok)]
        }
    }
}

/// The A/AAAA records of the answer section: `count` records of `size` bytes from `start`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct AddressRun {
    start: usize,
    size: usize,
    count: usize,
}

impl AddressRun {
    fn bytes(&self) -> std::ops::Range<usize> {
        self.start..self.start + self.size * self.count
    }
}

/// One pre-encoded reply. Key and reply share one allocation, so a hit touches the map slot
/// and one buffer.
struct Entry {
    /// Question bytes, the [`KeyTail`], then the reply in rotation-0 order.
    data: Box<[u8]>,
    key_len: usize,
    /// Set when there are at least two address records to rotate.
    run: Option<AddressRun>,
}

impl Entry {
    fn matches(&self, question: &[u8], tail: &KeyTail) -> bool {
        self.key_len == question.len() + tail.len()
            && self.data[..question.len()] == *question
            && self.data[question.len()..self.key_len] == *tail
    }

    fn cost(&self) -> usize {
        self.data.len() + ENTRY_OVERHEAD
    }

    /// The reply for one query: ID, RD and CD patched, addresses rotated by `rotation`.
    fn render(&self, q: &SimpleQuery<'_>, rotation: usize) -> Vec<u8> {
        let mut out = self.data[self.key_len..].to_vec();
        out[..2].copy_from_slice(&q.id);
        out[2] = (out[2] & !RD) | if q.rd { RD } else { 0 };
        out[3] = (out[3] & !CD) | if q.cd { CD } else { 0 };
        if let Some(run) = self.run {
            out[run.bytes()].rotate_left(rotation % run.count * run.size);
        }
        out
    }
}

/// A shard: the entries by key hash (the entry holds the full key; two keys with the same
/// 64-bit hash just replace each other) and their insertion order for eviction.
#[derive(Default)]
struct Shard {
    map: HashMap<u64, Entry, BuildHasherDefault<PassThrough>>,
    order: VecDeque<u64>,
    bytes: usize,
}

impl Shard {
    fn insert(&mut self, hash: u64, entry: Entry, budget: usize) {
        let cost = entry.cost();
        if cost > budget {
            return;
        }
        while self.bytes + cost > budget {
            let Some(old) = self.order.pop_front() else {
                break;
            };
            if let Some(e) = self.map.remove(&old) {
                self.bytes -= e.cost();
            }
        }
        match self.map.insert(hash, entry) {
            // Same hash again (a race of two misses, or a hash collision): already queued.
            Some(old) => self.bytes -= old.cost(),
            None => self.order.push_back(hash),
        }
        self.bytes += cost;
    }
}

/// The keys are already SipHash outputs; hashing them again would only cost time.
#[derive(Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used; fold anything else so the hasher stays total.
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// Pre-encoded replies of one snapshot. Cloning gives an empty cache: a clone is a new
/// snapshot, whose answers may differ.
pub struct AnswerCache {
    shards: Box<[Mutex<Shard>]>,
    /// Seeded per cache, so nobody can aim collisions at one shard.
    hasher: RandomState,
    budget_per_shard: usize,
}

impl AnswerCache {
    pub fn new() -> Self {
        Self::with_budget(MAX_BYTES)
    }

    /// A cache using at most about `max_bytes`.
    pub fn with_budget(max_bytes: usize) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            hasher: RandomState::new(),
            budget_per_shard: max_bytes / SHARDS,
        }
    }

    fn hash(&self, question: &[u8], tail: &KeyTail) -> u64 {
        let mut h = self.hasher.build_hasher();
        h.write(question);
        h.write(tail);
        h.finish()
    }

    fn shard(&self, hash: u64) -> MutexGuard<'_, Shard> {
        // High bits pick the shard; the map uses the whole hash.
        let i = (hash >> 58) as usize % self.shards.len();
        // A panic while holding the lock cannot leave a shard inconsistent in a way that
        // matters: at worst an entry is missing or the byte count is off.
        self.shards[i].lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The cached reply for `q`, patched for it, if there is one.
    pub fn render(
        &self,
        q: &SimpleQuery<'_>,
        transport: Transport,
        rotation: usize,
    ) -> Option<Vec<u8>> {
        let tail = key_tail(q, transport);
        let hash = self.hash(q.question, &tail);
        // Copying ~100 bytes under the lock is cheaper than sharing the entry out of it.
        let shard = self.shard(hash);
        let entry = shard.map.get(&hash)?;
        entry
            .matches(q.question, &tail)
            .then(|| entry.render(q, rotation))
    }

    /// Remembers `reply`, the general path's answer to `q` with `rotation`, if it can be
    /// replayed exactly for any query with the same key (see the module docs).
    pub fn insert(&self, q: &SimpleQuery<'_>, transport: Transport, reply: &[u8], rotation: usize) {
        let Some(run) = replayable(q, reply) else {
            return;
        };
        let tail = key_tail(q, transport);
        let key_len = q.question.len() + tail.len();
        let mut data: Box<[u8]> = [q.question, &tail[..], reply].concat().into();
        if let Some(run) = run {
            // Back to rotation 0, so `render` can rotate from there.
            data[key_len..][run.bytes()].rotate_right(rotation % run.count * run.size);
        }
        let hash = self.hash(q.question, &tail);
        let entry = Entry { data, key_len, run };
        self.shard(hash).insert(hash, entry, self.budget_per_shard);
    }

    /// Entries held (tests and metrics).
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|e| e.into_inner()).map.len())
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops every entry (the view changed).
    pub fn clear(&mut self) {
        for s in self.shards.iter_mut() {
            *s.get_mut().unwrap_or_else(|e| e.into_inner()) = Shard::default();
        }
    }
}

impl Default for AnswerCache {
    fn default() -> Self {
        Self::new()
    }
}

impl Clone for AnswerCache {
    fn clone(&self) -> Self {
        Self::with_budget(self.budget_per_shard * self.shards.len())
    }
}

impl fmt::Debug for AnswerCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AnswerCache")
            .field("entries", &self.len())
            .finish()
    }
}

/// Whether `reply` can be replayed for every query with `q`'s key: `Some(run)` with the
/// address records to rotate (if more than one), `None` if it must not be cached.
fn replayable(q: &SimpleQuery<'_>, reply: &[u8]) -> Option<Option<AddressRun>> {
    let header = reply.get(..HEADER_LEN)?;
    if header[2] & TC != 0 || header[3] & 0x0F == RCODE_FORMERR {
        return None;
    }
    let count = |at: usize| usize::from(u16::from_be_bytes([header[at], header[at + 1]]));
    // The reply must echo the question byte for byte: only then is it the same for every
    // query with this key.
    let question_end = HEADER_LEN + q.question.len();
    if count(4) != 1 || reply.get(HEADER_LEN..question_end)? != q.question {
        return None;
    }
    // Walk the answer section for the A/AAAA records. Replaying them by rotating bytes is
    // exact only if each is a fixed-size record owned by a pointer to an earlier name (so its
    // encoding does not depend on its position) and they all sit together.
    let mut at = question_end;
    let mut run: Option<AddressRun> = None;
    let mut rotatable = true;
    for _ in 0..count(6) {
        let rr = record_at(reply, at)?;
        if matches!(rr.rtype, TYPE_A | TYPE_AAAA) {
            let size = rr.end - at;
            rotatable &= rr.name_len == 2 && reply[at] & 0xC0 == 0xC0;
            match &mut run {
                None => {
                    run = Some(AddressRun {
                        start: at,
                        size,
                        count: 1,
                    });
                }
                Some(r) => {
                    rotatable &= r.size == size && r.start + r.size * r.count == at;
                    r.count += 1;
                }
            }
        }
        at = rr.end;
    }
    match run {
        Some(r) if r.count > 1 => rotatable.then_some(Some(r)),
        _ => Some(None),
    }
}

struct RecordBounds {
    name_len: usize,
    rtype: u16,
    end: usize,
}

/// The owner name length, type and end of the record at `at`.
fn record_at(msg: &[u8], at: usize) -> Option<RecordBounds> {
    let mut p = at;
    loop {
        let len = *msg.get(p)?;
        if len & 0xC0 == 0xC0 {
            p += 2;
            break;
        }
        if len & 0xC0 != 0 {
            return None;
        }
        p += 1 + usize::from(len);
        if len == 0 {
            break;
        }
    }
    let name_len = p - at;
    let rtype = u16::from_be_bytes([*msg.get(p)?, *msg.get(p + 1)?]);
    let rdlen = usize::from(u16::from_be_bytes([*msg.get(p + 8)?, *msg.get(p + 9)?]));
    let end = p + 10 + rdlen;
    (end <= msg.len()).then_some(RecordBounds {
        name_len,
        rtype,
        end,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::fixtures;
    use crate::packet;
    use crate::wire::{query_packet, respond, respond_uncached};
    use hickory_proto::op::{Edns, Message};
    use hickory_proto::rr::RecordType;

    fn ask(v: &crate::ZoneView, name: &str, qtype: RecordType, rot: usize) -> Vec<u8> {
        let q = query_packet(7, name, qtype, None).unwrap();
        let fast = respond(v, &q, Transport::Udp, rot).unwrap();
        assert_eq!(
            Some(&fast),
            respond_uncached(v, &q, Transport::Udp, rot).as_ref()
        );
        fast
    }

    #[test]
    fn fills_once_and_replays_with_rotation() {
        let v = fixtures::view(&Config::default());
        let name = "nginx.demo.svc.cluster.local.";
        let first = ask(&v, name, RecordType::A, 1);
        assert_eq!(v.answer_cache().len(), 1);
        // Hits: rotation moves the first address and comes back after a full turn.
        let hit = |rot| {
            Message::from_vec(&ask(&v, name, RecordType::A, rot))
                .unwrap()
                .answers
        };
        assert_ne!(hit(0)[0].data, hit(1)[0].data);
        assert_eq!(hit(3), Message::from_vec(&first).unwrap().answers);
        assert_eq!(v.answer_cache().len(), 1, "hits add nothing");
        // NXDOMAIN search-path misses are cached too; the name's case is part of the key.
        ask(
            &v,
            "web.demo.svc.cluster.local.demo.svc.cluster.local.",
            RecordType::A,
            0,
        );
        ask(&v, "Web.demo.svc.cluster.local.", RecordType::A, 0);
        assert_eq!(v.answer_cache().len(), 3);
    }

    #[test]
    fn key_includes_edns_and_transport() {
        let v = fixtures::view(&Config::default());
        let name = "web.demo.svc.cluster.local.";
        for edns in [None, Some(1232), Some(4096)] {
            let e = edns.map(|size| {
                let mut e = Edns::new();
                e.set_max_payload(size);
                e
            });
            let q = query_packet(1, name, RecordType::A, e).unwrap();
            for t in [Transport::Udp, Transport::Tcp] {
                for _ in 0..2 {
                    assert_eq!(respond(&v, &q, t, 0), respond_uncached(&v, &q, t, 0));
                }
            }
        }
        assert_eq!(v.answer_cache().len(), 6);
    }

    #[test]
    fn never_outlives_the_view() {
        let mut v = fixtures::view(&Config::default());
        let name = "web.demo.svc.cluster.local.";
        ask(&v, name, RecordType::A, 0);
        assert_eq!(
            v.clone().answer_cache().len(),
            0,
            "a new snapshot starts empty"
        );
        v.delete_service("demo", "web");
        assert!(v.answer_cache().is_empty());
        let m = Message::from_vec(&ask(&v, name, RecordType::A, 0)).unwrap();
        assert!(m.answers.is_empty());
    }

    #[test]
    fn upstream_and_truncated_replies_are_not_cached() {
        let v = &crate::fuzzing::build_view();
        // Forwarded (answered REFUSED without a forwarder), CNAME chased upstream, and a
        // 100-address reply cut to 512 bytes.
        ask(v, "example.com.", RecordType::A, 0);
        ask(v, "ext.demo.svc.cluster.local.", RecordType::A, 0);
        ask(v, "big.demo.svc.cluster.local.", RecordType::A, 3);
        assert!(v.answer_cache().is_empty());
    }

    #[test]
    fn memory_is_bounded() {
        let v = fixtures::view(&Config::default());
        let cache = AnswerCache::with_budget(SHARDS * 1024);
        for i in 0..2_000 {
            let name = format!("n{i}.demo.svc.cluster.local.");
            let p = query_packet(1, &name, RecordType::A, None).unwrap();
            let reply = respond_uncached(&v, &p, Transport::Udp, 0).unwrap();
            cache.insert(&packet::parse(&p).unwrap(), Transport::Udp, &reply, 0);
        }
        let bytes: usize = cache.shards.iter().map(|s| s.lock().unwrap().bytes).sum();
        assert!(bytes <= SHARDS * 1024, "{bytes}");
        assert!(cache.len() > 16 && cache.len() < 2_000, "{}", cache.len());
    }
}
