//! Wire handling: turns a query packet into a response packet with hickory-proto. Owns the
//! server-level rules of dns-spec.md §7: FORMERR/NOTIMP for packets we cannot answer, EDNS0
//! echo and BADVERS, truncation with TC to 512 bytes / the EDNS size / 64 KiB, and A/AAAA
//! rotation. Never panics on input.
//!
//! [`process`] is the hot path: a query of the common shape ([`crate::packet`]) is answered
//! from the snapshot's pre-encoded replies ([`crate::precomputed`]) when it can be, and the
//! general path [`process_uncached`] (hickory-proto decode, answer building, encode) fills
//! that cache. Both give byte-identical replies.
//!
//! Answers that need an upstream (out-of-zone names, fallthrough misses, ExternalName targets
//! outside the zone) come back from [`process`] as a [`Pending`], so the I/O stays in the
//! async layer and this module stays pure.

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, CNAME, NS, PTR, SOA, SRV, TXT};
use hickory_proto::rr::{self, DNSClass, Name, Record, RecordType};

use crate::answer::answer;
use crate::error::{Error, Result};
use crate::packet;
use crate::record::{Answer, Next, RData, Rcode, Rr};
use crate::zone::ZoneView;

/// Largest UDP reply without EDNS0 (RFC 1035), and the floor for advertised EDNS sizes.
pub const MIN_UDP_SIZE: u16 = 512;
const HEADER_LEN: usize = 12;

/// How the query arrived; decides the reply size limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Udp,
    Tcp,
}

/// Answers one query packet from the zone alone. `rotation` (e.g. a per-server counter)
/// picks the A/AAAA order: round robin so clients that take the first address spread over
/// endpoints. Anything that would need an upstream is answered as without a forwarder
/// (REFUSED, the local NXDOMAIN, or the CNAME alone).
/// Returns `None` when nothing should be sent: too short to carry an ID, or not a query.
pub fn respond(
    view: &ZoneView,
    packet: &[u8],
    transport: Transport,
    rotation: usize,
) -> Option<Vec<u8>> {
    local(process(view, packet, transport, rotation)?)
}

/// [`respond`] without the pre-encoded answer cache: the general path alone (benchmarks and
/// the differential tests).
pub fn respond_uncached(
    view: &ZoneView,
    packet: &[u8],
    transport: Transport,
    rotation: usize,
) -> Option<Vec<u8>> {
    local(process_uncached(view, packet, transport, rotation)?)
}

fn local(p: Processed) -> Option<Vec<u8>> {
    match p.step {
        Step::Reply(bytes) => Some(bytes),
        Step::Upstream(pending) => pending.local(),
    }
}

/// A query handled as far as the zone goes.
#[derive(Debug)]
pub struct Processed {
    /// The question type, when the packet had exactly one question (for metrics).
    pub qtype: Option<RecordType>,
    pub step: Step,
}

/// What is left to do for a query.
#[derive(Debug)]
pub enum Step {
    /// The encoded reply.
    Reply(Vec<u8>),
    /// An upstream must be asked [`Pending::question`] first. Boxed: rare next to replies.
    Upstream(Box<Pending>),
}

/// Why an upstream is asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PendingKind {
    /// The name is outside every zone: the upstream reply is the reply.
    Forward,
    /// NXDOMAIN in a fallthrough zone: the upstream reply replaces it when there is one.
    Fallthrough,
    /// An ExternalName CNAME to an out-of-zone name: the upstream records follow the CNAME.
    Chase,
}

/// A reply waiting for an upstream answer. It holds the local reply, so it can also be
/// finished without one.
#[derive(Debug)]
pub struct Pending {
    pub kind: PendingKind,
    reply: Message,
    question: Query,
    limit: usize,
}

/// The sections of an upstream reply, with TTLs already aged by any cache.
#[derive(Debug, Clone, PartialEq)]
pub struct UpstreamReply {
    pub rcode: ResponseCode,
    pub authoritative: bool,
    pub answers: Vec<Record>,
    pub authorities: Vec<Record>,
    pub additionals: Vec<Record>,
    /// The upstream set TC (even after the TCP retry, e.g. over 64 KiB).
    pub truncated: bool,
}

impl Pending {
    /// The question to send upstream: the client's, or the CNAME target for a chase.
    pub fn question(&self) -> &Query {
        &self.question
    }

    /// Finishes without an upstream (none configured): REFUSED for out-of-zone names, the local
    /// answer otherwise.
    pub fn local(self) -> Option<Vec<u8>> {
        let mut reply = self.reply;
        finish(&mut reply, self.limit)
    }

    /// Finishes after every upstream failed: SERVFAIL for forwarded names (like CoreDNS's
    /// `forward`), the local answer for fallthrough and CNAME chases.
    pub fn failed(self) -> Option<Vec<u8>> {
        let mut reply = self.reply;
        if self.kind == PendingKind::Forward {
            reply.metadata.response_code = ResponseCode::ServFail;
        }
        finish(&mut reply, self.limit)
    }

    /// Finishes with the upstream's records.
    pub fn answered(self, up: UpstreamReply) -> Option<Vec<u8>> {
        let mut reply = self.reply;
        // Forwarded data is not ours: RA=1, AA as the upstream said (dns-spec.md §7).
        reply.metadata.recursion_available = true;
        match self.kind {
            PendingKind::Forward | PendingKind::Fallthrough => {
                reply.metadata.authoritative = up.authoritative;
                reply.answers = up.answers;
            }
            // CNAME first, then the target's records; the final rcode is the target's.
            PendingKind::Chase => reply.answers.extend(up.answers),
        }
        reply.metadata.response_code = up.rcode;
        reply.authorities = up.authorities;
        reply.additionals = up.additionals;
        // coredns#4684: a truncated upstream answer must not look complete.
        reply.metadata.truncation |= up.truncated;
        finish(&mut reply, self.limit)
    }
}

fn finish(reply: &mut Message, limit: usize) -> Option<Vec<u8>> {
    match encode_within(reply, limit) {
        Ok(bytes) => Some(bytes),
        Err(err) => {
            tracing::warn!(%err, "could not encode DNS reply");
            servfail(reply)
        }
    }
}

fn servfail(reply: &Message) -> Option<Vec<u8>> {
    let mut m = Message::response(reply.metadata.id, reply.metadata.op_code);
    m.metadata.recursion_desired = reply.metadata.recursion_desired;
    m.queries = reply.queries.clone();
    m.edns = reply.edns.clone();
    m.metadata.response_code = ResponseCode::ServFail;
    m.to_vec().ok()
}

/// Handles one query packet as far as the zone can: the reply, or what to ask upstream.
/// Returns `None` when nothing should be sent: too short to carry an ID, or not a query.
/// Replies come from the snapshot's answer cache when possible (see the module docs).
pub fn process(
    view: &ZoneView,
    packet: &[u8],
    transport: Transport,
    rotation: usize,
) -> Option<Processed> {
    let Some(query) = packet::parse(packet) else {
        return process_uncached(view, packet, transport, rotation);
    };
    let cache = view.answer_cache();
    if let Some(reply) = cache.render(&query, transport, rotation) {
        return Some(Processed {
            qtype: Some(RecordType::from(query.qtype)),
            step: Step::Reply(reply),
        });
    }
    let processed = process_uncached(view, packet, transport, rotation)?;
    if let Step::Reply(reply) = &processed.step {
        cache.insert(&query, transport, reply, rotation);
    }
    Some(processed)
}

/// [`process`] by the general path only: decode with hickory-proto, build, encode.
pub fn process_uncached(
    view: &ZoneView,
    packet: &[u8],
    transport: Transport,
    rotation: usize,
) -> Option<Processed> {
    if packet.len() < HEADER_LEN {
        return None;
    }
    // Never answer responses: that is how reflection loops start.
    if packet[2] & 0x80 != 0 {
        return None;
    }
    let Ok(request) = Message::from_vec(packet) else {
        let id = u16::from_be_bytes([packet[0], packet[1]]);
        let bytes = Message::error_msg(id, OpCode::Query, ResponseCode::FormErr)
            .to_vec()
            .ok()?;
        return Some(Processed {
            qtype: None,
            step: Step::Reply(bytes),
        });
    };
    let qtype = match request.queries.as_slice() {
        [q] => Some(q.query_type()),
        _ => None,
    };
    let step = match build_reply(view, &request, transport, rotation) {
        Ok(step) => step,
        Err(err) => {
            tracing::warn!(%err, "could not encode DNS reply");
            Step::Reply(servfail(&reply_skeleton(&request))?)
        }
    };
    Some(Processed { qtype, step })
}

/// Response header and question copied from the request, OPT echoed when the client sent one.
fn reply_skeleton(request: &Message) -> Message {
    let mut m = Message::response(request.metadata.id, request.metadata.op_code);
    m.metadata.recursion_desired = request.metadata.recursion_desired;
    m.metadata.checking_disabled = request.metadata.checking_disabled;
    m.queries = request.queries.clone();
    if let Some(client) = &request.edns {
        let mut edns = Edns::new();
        edns.set_max_payload(client.max_payload().max(MIN_UDP_SIZE));
        edns.set_version(0);
        edns.set_dnssec_ok(client.flags().dnssec_ok);
        m.set_edns(edns);
    }
    m
}

fn build_reply(
    view: &ZoneView,
    request: &Message,
    transport: Transport,
    rotation: usize,
) -> Result<Step> {
    let mut reply = reply_skeleton(request);
    let done = |reply: &Message| encode(reply).map(Step::Reply);
    if request.metadata.message_type != MessageType::Query {
        return done(&reply);
    }
    if request.edns.as_ref().is_some_and(|e| e.version() > 0) {
        reply.metadata.response_code = ResponseCode::BADVERS;
        return done(&reply);
    }
    if request.metadata.op_code != OpCode::Query {
        reply.metadata.response_code = ResponseCode::NotImp;
        return done(&reply);
    }
    let [query] = request.queries.as_slice() else {
        reply.metadata.response_code = ResponseCode::FormErr;
        return done(&reply);
    };
    let ans = answer(
        view,
        &query.name().to_ascii(),
        query.query_type(),
        query.query_class(),
    );
    fill(&mut reply, &ans, rotation)?;
    let limit = match transport {
        Transport::Tcp => usize::from(u16::MAX),
        Transport::Udp => usize::from(
            request
                .edns
                .as_ref()
                .map_or(MIN_UDP_SIZE, |e| e.max_payload().max(MIN_UDP_SIZE)),
        ),
    };
    let (kind, question) = match &ans.next {
        Next::Done => return encode_within(&mut reply, limit).map(Step::Reply),
        Next::Forward => (PendingKind::Forward, query.clone()),
        Next::Fallthrough => (PendingKind::Fallthrough, query.clone()),
        Next::Upstream {
            name: target,
            qtype,
        } => {
            let mut q = Query::query(name(target)?, *qtype);
            q.set_query_class(DNSClass::IN);
            (PendingKind::Chase, q)
        }
    };
    Ok(Step::Upstream(Box::new(Pending {
        kind,
        reply,
        question,
        limit,
    })))
}

/// Copies an [`Answer`] into the reply. Out-of-zone names are REFUSED unless a forwarder
/// answers them later ([`Pending`]).
fn fill(reply: &mut Message, ans: &Answer, rotation: usize) -> Result<()> {
    reply.metadata.authoritative = ans.authoritative;
    reply.metadata.response_code = match ans.rcode {
        Rcode::NoError => ResponseCode::NoError,
        Rcode::FormErr => ResponseCode::FormErr,
        Rcode::ServFail => ResponseCode::ServFail,
        Rcode::NxDomain => ResponseCode::NXDomain,
        Rcode::NotImp => ResponseCode::NotImp,
        Rcode::Refused => ResponseCode::Refused,
    };
    reply.answers = ans.answers.iter().map(to_record).collect::<Result<_>>()?;
    reply.authorities = ans.authority.iter().map(to_record).collect::<Result<_>>()?;
    reply.additionals = ans
        .additionals
        .iter()
        .map(to_record)
        .collect::<Result<_>>()?;
    rotate_addresses(&mut reply.answers, rotation);
    Ok(())
}

/// Rotates the A/AAAA records among their own positions, so CNAMEs stay first.
fn rotate_addresses(records: &mut [Record], by: usize) {
    let idx: Vec<usize> = records
        .iter()
        .enumerate()
        .filter(|(_, r)| matches!(r.record_type(), RecordType::A | RecordType::AAAA))
        .map(|(i, _)| i)
        .collect();
    if idx.len() < 2 {
        return;
    }
    let mut addrs: Vec<Record> = idx.iter().map(|&i| records[i].clone()).collect();
    addrs.rotate_left(by % idx.len());
    for (i, r) in idx.into_iter().zip(addrs) {
        records[i] = r;
    }
}

fn encode(m: &Message) -> Result<Vec<u8>> {
    m.to_vec().map_err(|e| Error::Encode(e.to_string()))
}

/// Encodes within `limit` bytes. On overflow it drops RRs from the end (additional, then
/// authority, then answers) keeping as many answers as fit, and sets TC whenever anything was
/// dropped, TCP included (CoreDNS; coredns#3660).
fn encode_within(m: &mut Message, limit: usize) -> Result<Vec<u8>> {
    let full = encode(m)?;
    if full.len() <= limit {
        return Ok(full);
    }
    m.metadata.truncation = true;
    m.additionals.clear();
    let bytes = encode(m)?;
    if bytes.len() <= limit {
        return Ok(bytes);
    }
    m.authorities.clear();
    let answers = std::mem::take(&mut m.answers);
    // Largest prefix of the answers that fits; a header plus question always does.
    let (mut lo, mut hi) = (0, answers.len());
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        m.answers = answers[..mid].to_vec();
        if encode(m)?.len() <= limit {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    m.answers = answers[..lo].to_vec();
    encode(m)
}

fn name(s: &str) -> Result<Name> {
    Name::from_ascii(s).map_err(|e| Error::Name {
        name: s.to_string(),
        reason: e.to_string(),
    })
}

/// Converts our record to hickory's.
pub fn to_record(rr: &Rr) -> Result<Record> {
    let data = match &rr.data {
        RData::A(ip) => rr::RData::A(A(*ip)),
        RData::Aaaa(ip) => rr::RData::AAAA(AAAA(*ip)),
        RData::Cname(n) => rr::RData::CNAME(CNAME(name(n)?)),
        RData::Ptr(n) => rr::RData::PTR(PTR(name(n)?)),
        RData::Ns(n) => rr::RData::NS(NS(name(n)?)),
        RData::Txt(t) => rr::RData::TXT(TXT::new(vec![t.clone()])),
        RData::Srv {
            priority,
            weight,
            port,
            target,
        } => rr::RData::SRV(SRV::new(*priority, *weight, *port, name(target)?)),
        RData::Soa {
            mname,
            rname,
            serial,
            refresh,
            retry,
            expire,
            minimum,
        } => rr::RData::SOA(SOA::new(
            name(mname)?,
            name(rname)?,
            *serial,
            *refresh,
            *retry,
            *expire,
            *minimum,
        )),
    };
    Ok(Record::from_rdata(name(&rr.name)?, rr.ttl, data))
}

/// Builds a query packet (tests and tools).
pub fn query_packet(
    id: u16,
    qname: &str,
    qtype: RecordType,
    edns: Option<Edns>,
) -> Result<Vec<u8>> {
    let mut m = Message::query();
    m.metadata.id = id;
    m.metadata.recursion_desired = true;
    let mut q = Query::new();
    q.set_name(name(qname)?).set_query_type(qtype);
    m.add_query(q);
    if let Some(e) = edns {
        m.set_edns(e);
    }
    encode(&m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::fixtures;
    use hickory_proto::rr::DNSClass;

    fn view() -> ZoneView {
        fixtures::view(&Config::default())
    }

    fn ask(
        v: &ZoneView,
        qname: &str,
        qtype: RecordType,
        edns: Option<Edns>,
        t: Transport,
    ) -> Message {
        let q = query_packet(0x1234, qname, qtype, edns).unwrap();
        let r = respond(v, &q, t, 0).expect("a reply");
        Message::from_vec(&r).unwrap()
    }

    fn edns(size: u16, version: u8) -> Edns {
        let mut e = Edns::new();
        e.set_max_payload(size);
        e.set_version(version);
        e
    }

    /// A headless Service with `n` ready endpoints.
    fn big_view(n: usize) -> ZoneView {
        use serde_json::json;
        let mut v = view();
        let svc = serde_json::from_value(json!({
            "metadata": {"namespace": "demo", "name": "big"}, "spec": {"clusterIP": "None"}
        }))
        .unwrap();
        let eps: Vec<_> = (0..n)
            .map(|i| json!({"addresses": [format!("10.244.9.{}", i + 1)]}))
            .collect();
        let slice = serde_json::from_value(json!({
            "metadata": {"namespace": "demo", "name": "big-1", "labels": {"kubernetes.io/service-name": "big"}},
            "addressType": "IPv4", "endpoints": eps,
        }))
        .unwrap();
        v.apply_service(&svc);
        v.apply_slice(&slice);
        v
    }

    #[test]
    fn answers_with_header_bits() {
        let m = ask(
            &view(),
            "web.demo.svc.cluster.local.",
            RecordType::A,
            None,
            Transport::Udp,
        );
        assert_eq!(m.metadata.id, 0x1234);
        assert_eq!(m.metadata.message_type, MessageType::Response);
        assert!(m.metadata.authoritative);
        assert!(m.metadata.recursion_desired);
        assert!(!m.metadata.recursion_available);
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        assert_eq!(m.queries.len(), 1);
        assert_eq!(m.answers.len(), 1);
        assert!(
            m.edns.is_none(),
            "no OPT in the query means none in the reply"
        );
    }

    #[test]
    fn nxdomain_carries_soa_and_case_is_echoed() {
        let m = ask(
            &view(),
            "NoPe.DeMo.svc.cluster.local.",
            RecordType::A,
            None,
            Transport::Udp,
        );
        assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
        assert_eq!(m.authorities.len(), 1);
        assert_eq!(m.authorities[0].record_type(), RecordType::SOA);
        assert_eq!(
            m.queries[0].name().to_ascii(),
            "NoPe.DeMo.svc.cluster.local."
        );
    }

    #[test]
    fn edns_is_echoed_and_badvers() {
        let m = ask(
            &view(),
            "web.demo.svc.cluster.local.",
            RecordType::A,
            Some(edns(1232, 0)),
            Transport::Udp,
        );
        let e = m.edns.expect("OPT echoed");
        assert_eq!((e.max_payload(), e.version()), (1232, 0));
        let small = ask(
            &view(),
            "web.demo.svc.cluster.local.",
            RecordType::A,
            Some(edns(100, 0)),
            Transport::Udp,
        );
        assert_eq!(small.edns.map(|e| e.max_payload()), Some(512));
        let bad = ask(
            &view(),
            "web.demo.svc.cluster.local.",
            RecordType::A,
            Some(edns(1232, 1)),
            Transport::Udp,
        );
        // 16 is BADVERS in an OPT context (hickory decodes it as its alias BADSIG).
        assert_eq!(u16::from(bad.metadata.response_code), 16);
        assert!(bad.answers.is_empty());
        assert_eq!(bad.edns.map(|e| e.version()), Some(0));
    }

    #[test]
    fn truncates_to_512_without_edns_and_sets_tc() {
        let v = big_view(100);
        let q = query_packet(7, "big.demo.svc.cluster.local.", RecordType::A, None).unwrap();
        let r = respond(&v, &q, Transport::Udp, 0).unwrap();
        assert!(r.len() <= 512, "{}", r.len());
        let m = Message::from_vec(&r).unwrap();
        assert!(m.metadata.truncation);
        assert!(!m.answers.is_empty() && m.answers.len() < 100);
        // The EDNS size raises the limit.
        let q = query_packet(
            7,
            "big.demo.svc.cluster.local.",
            RecordType::A,
            Some(edns(4096, 0)),
        )
        .unwrap();
        let m = Message::from_vec(&respond(&v, &q, Transport::Udp, 0).unwrap()).unwrap();
        assert!(!m.metadata.truncation);
        assert_eq!(m.answers.len(), 100);
        // TCP carries everything.
        let q = query_packet(7, "big.demo.svc.cluster.local.", RecordType::A, None).unwrap();
        let m = Message::from_vec(&respond(&v, &q, Transport::Tcp, 0).unwrap()).unwrap();
        assert!(!m.metadata.truncation);
        assert_eq!(m.answers.len(), 100);
    }

    #[test]
    fn rotation_is_round_robin() {
        let v = view();
        let q = query_packet(1, "nginx.demo.svc.cluster.local.", RecordType::A, None).unwrap();
        let first = |rot| {
            let m = Message::from_vec(&respond(&v, &q, Transport::Udp, rot).unwrap()).unwrap();
            m.answers[0].data.clone()
        };
        assert_ne!(first(0), first(1));
        assert_eq!(first(0), first(2));
    }

    #[test]
    fn server_level_errors() {
        let v = view();
        // Non-IN class.
        let mut m = Message::query();
        let mut q = Query::query(name("web.demo.svc.cluster.local.").unwrap(), RecordType::A);
        q.set_query_class(DNSClass::CH);
        m.add_query(q);
        let r = Message::from_vec(&respond(&v, &m.to_vec().unwrap(), Transport::Udp, 0).unwrap())
            .unwrap();
        assert_eq!(r.metadata.response_code, ResponseCode::Refused);
        // AXFR.
        let r = ask(&v, "cluster.local.", RecordType::AXFR, None, Transport::Tcp);
        assert_eq!(r.metadata.response_code, ResponseCode::Refused);
        // Two questions.
        let mut m = Message::query();
        m.add_query(Query::query(
            name("a.cluster.local.").unwrap(),
            RecordType::A,
        ));
        m.add_query(Query::query(
            name("b.cluster.local.").unwrap(),
            RecordType::A,
        ));
        let r = Message::from_vec(&respond(&v, &m.to_vec().unwrap(), Transport::Udp, 0).unwrap())
            .unwrap();
        assert_eq!(r.metadata.response_code, ResponseCode::FormErr);
        // Other opcode.
        let mut m = Message::new(9, MessageType::Query, OpCode::Status);
        m.add_query(Query::query(
            name("a.cluster.local.").unwrap(),
            RecordType::A,
        ));
        let r = Message::from_vec(&respond(&v, &m.to_vec().unwrap(), Transport::Udp, 0).unwrap())
            .unwrap();
        assert_eq!(r.metadata.response_code, ResponseCode::NotImp);
    }

    #[test]
    fn malformed_packets_get_formerr_or_nothing() {
        let v = view();
        assert!(respond(&v, &[1, 2, 3], Transport::Udp, 0).is_none());
        let good =
            query_packet(0xbeef, "web.demo.svc.cluster.local.", RecordType::A, None).unwrap();
        let cut = &good[..good.len() - 3];
        let r = Message::from_vec(&respond(&v, cut, Transport::Udp, 0).unwrap()).unwrap();
        assert_eq!(r.metadata.id, 0xbeef);
        assert_eq!(r.metadata.response_code, ResponseCode::FormErr);
        // A response is never answered.
        let resp = respond(&v, &good, Transport::Udp, 0).unwrap();
        assert!(respond(&v, &resp, Transport::Udp, 0).is_none());
    }

    #[test]
    fn random_and_truncated_bytes_never_panic() {
        let v = view();
        let good = query_packet(
            1,
            "_web._tcp.nginx.demo.svc.cluster.local.",
            RecordType::SRV,
            Some(edns(1232, 0)),
        )
        .unwrap();
        for len in 0..=good.len() {
            let _ = respond(&v, &good[..len], Transport::Udp, len);
        }
        // xorshift: deterministic pseudo-random packets, some with a valid header prefix.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for i in 0..20_000usize {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let len = (x % 600) as usize;
            let mut buf: Vec<u8> = (0..len)
                .map(|j| (x.rotate_left(j as u32 % 64) >> (j % 8)) as u8)
                .collect();
            if i % 2 == 0 && buf.len() > good.len() {
                buf[..12].copy_from_slice(&good[..12]);
            }
            let _ = respond(&v, &buf, Transport::Udp, i);
            // Flip one byte of a valid packet too.
            let mut g = good.clone();
            let at = (x as usize) % g.len();
            g[at] ^= (x >> 8) as u8 | 1;
            let _ = respond(&v, &g, Transport::Tcp, i);
        }
    }
}
