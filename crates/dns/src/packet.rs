//! Allocation-free parse of the query shape nearly every client sends: a standard query
//! (QR=0, opcode QUERY) with one question whose name is written out without compression, and
//! at most one OPT record of EDNS version 0 without options, and nothing after it.
//!
//! Anything else gives `None` and goes through hickory-proto, which owns FORMERR, NOTIMP,
//! BADVERS and every other corner. So this parser may turn away packets hickory would accept
//! (it only costs speed), but every packet it accepts is one hickory also decodes, with a reply
//! that depends on nothing but the fields returned here (checked by the differential tests in
//! `precomputed` and the fuzz target).

/// DNS header length.
const HEADER_LEN: usize = 12;
/// Longest name on the wire (RFC 1035 §2.3.4).
const MAX_NAME: usize = 255;
/// The OPT pseudo-RR type (RFC 6891).
const OPT: u16 = 41;
/// Root name, TYPE, CLASS, TTL, RDLENGTH: an OPT record without options.
const BARE_OPT_LEN: usize = 1 + 2 + 2 + 4 + 2;

/// The EDNS0 fields a reply depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EdnsFields {
    /// The advertised UDP payload size, as sent (the reply raises it to 512).
    pub payload: u16,
    /// The DO bit, echoed in the reply.
    pub dnssec_ok: bool,
}

/// A query of the common shape, borrowing the packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SimpleQuery<'a> {
    pub id: [u8; 2],
    /// Recursion desired, echoed in the reply.
    pub rd: bool,
    /// Checking disabled, echoed in the reply.
    pub cd: bool,
    /// The question exactly as sent: name (case kept), QTYPE, QCLASS.
    pub question: &'a [u8],
    pub qtype: u16,
    pub qclass: u16,
    pub edns: Option<EdnsFields>,
}

fn u16_at(p: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*p.get(at)?, *p.get(at + 1)?]))
}

/// Parses `packet` if it has the common shape (see the module docs).
pub fn parse(packet: &[u8]) -> Option<SimpleQuery<'_>> {
    let header = packet.get(..HEADER_LEN)?;
    // QR=0 and opcode 0 (QUERY); AA/TC in a query carry nothing the reply uses.
    if header[2] & 0xF8 != 0 {
        return None;
    }
    let counts = [
        u16_at(header, 4)?,
        u16_at(header, 6)?,
        u16_at(header, 8)?,
        u16_at(header, 10)?,
    ];
    let with_opt = match counts {
        [1, 0, 0, 0] => false,
        [1, 0, 0, 1] => true,
        _ => return None,
    };
    // The name: plain labels up to the root; a pointer or an extended label type goes to the
    // general path.
    let mut at = HEADER_LEN;
    loop {
        let len = usize::from(*packet.get(at)?);
        if len & 0xC0 != 0 {
            return None;
        }
        at += 1 + len;
        if at - HEADER_LEN > MAX_NAME {
            return None;
        }
        if len == 0 {
            break;
        }
    }
    let qtype = u16_at(packet, at)?;
    let qclass = u16_at(packet, at + 2)?;
    let question_end = at + 4;
    let question = &packet[HEADER_LEN..question_end];
    let edns = if with_opt {
        let opt = packet.get(question_end..)?;
        // Root owner, TYPE OPT, no options and nothing after: anything richer (cookies, ECS,
        // padding, a second record) takes the general path.
        if opt.len() != BARE_OPT_LEN || opt[0] != 0 || u16_at(opt, 1)? != OPT {
            return None;
        }
        // TTL = extended RCODE, VERSION, flags; RDLENGTH must be 0.
        let (version, flags, rdlen) = (opt[6], u16_at(opt, 7)?, u16_at(opt, 9)?);
        if version != 0 || rdlen != 0 {
            return None;
        }
        Some(EdnsFields {
            payload: u16_at(opt, 3)?,
            dnssec_ok: flags & 0x8000 != 0,
        })
    } else {
        if packet.len() != question_end {
            return None;
        }
        None
    };
    Some(SimpleQuery {
        id: [header[0], header[1]],
        rd: header[2] & 0x01 != 0,
        cd: header[3] & 0x10 != 0,
        question,
        qtype,
        qclass,
        edns,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::query_packet;
    use hickory_proto::op::{Edns, Message, OpCode, Query};
    use hickory_proto::rr::{Name, RecordType};

    fn edns(size: u16, version: u8, dnssec_ok: bool) -> Edns {
        let mut e = Edns::new();
        e.set_max_payload(size);
        e.set_version(version);
        e.set_dnssec_ok(dnssec_ok);
        e
    }

    #[test]
    fn reads_the_common_shape() {
        let p = query_packet(0xabcd, "Web.demo.svc.cluster.local.", RecordType::SRV, None).unwrap();
        let q = parse(&p).expect("simple");
        assert_eq!(q.id, [0xab, 0xcd]);
        assert!(q.rd && !q.cd);
        assert_eq!((q.qtype, q.qclass), (33, 1));
        assert_eq!(q.edns, None);
        assert_eq!(
            q.question.len(),
            "Web.demo.svc.cluster.local.".len() + 1 + 4
        );
        assert_eq!(&q.question[1..4], b"Web");

        let p = query_packet(1, "a.b.", RecordType::A, Some(edns(1232, 0, true))).unwrap();
        assert_eq!(
            parse(&p).unwrap().edns,
            Some(EdnsFields {
                payload: 1232,
                dnssec_ok: true
            })
        );
    }

    #[test]
    fn leaves_everything_else_to_hickory() {
        // BADVERS, two questions, other opcodes, responses, trailing bytes, truncation.
        let p = query_packet(1, "a.b.", RecordType::A, Some(edns(1232, 1, false))).unwrap();
        assert!(parse(&p).is_none());
        let mut m = Message::query();
        m.add_query(Query::query(Name::from_ascii("a.").unwrap(), RecordType::A));
        m.add_query(Query::query(Name::from_ascii("b.").unwrap(), RecordType::A));
        assert!(parse(&m.to_vec().unwrap()).is_none());
        let mut m = Message::query();
        m.metadata.op_code = OpCode::Status;
        m.add_query(Query::query(Name::from_ascii("a.").unwrap(), RecordType::A));
        assert!(parse(&m.to_vec().unwrap()).is_none());
        let p = query_packet(1, "a.b.", RecordType::A, None).unwrap();
        let mut resp = p.clone();
        resp[2] |= 0x80;
        assert!(parse(&resp).is_none());
        let mut long = p.clone();
        long.push(0);
        assert!(parse(&long).is_none());
        for len in 0..p.len() {
            assert!(parse(&p[..len]).is_none(), "{len}");
        }
        // A compression pointer in the question.
        let mut ptr = p[..12].to_vec();
        ptr.extend_from_slice(&[0xC0, 12, 0, 1, 0, 1]);
        assert!(parse(&ptr).is_none());
    }
}
