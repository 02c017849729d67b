//! Just enough DNS wire format for the gate, the propagation probe and the fixed-answer
//! responder: build a query, read a reply's rcode and answer records. Hand-written so the
//! measuring side costs little and depends on nothing the server under test uses.

use std::net::Ipv4Addr;

pub const TYPE_A: u16 = 1;
pub const TYPE_PTR: u16 = 12;
pub const TYPE_SRV: u16 = 33;

pub fn qtype(name: &str) -> Option<u16> {
    match name {
        "A" => Some(TYPE_A),
        "PTR" => Some(TYPE_PTR),
        "SRV" => Some(TYPE_SRV),
        _ => None,
    }
}

/// A query with RD set, as a stub resolver sends it.
pub fn query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
    let mut p = Vec::with_capacity(name.len() + 18);
    p.extend_from_slice(&id.to_be_bytes());
    p.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.trim_end_matches('.').split('.') {
        p.push(label.len() as u8);
        p.extend_from_slice(label.as_bytes());
    }
    p.push(0);
    p.extend_from_slice(&qtype.to_be_bytes());
    p.extend_from_slice(&1u16.to_be_bytes());
    p
}

#[derive(Debug)]
pub struct Reply {
    pub id: u16,
    pub rcode: u8,
    pub truncated: bool,
    /// Answer records of the asked type in presentation form: `10.1.2.3`, `80 target.` (SRV
    /// port and target), `target.` (PTR).
    pub answers: Vec<String>,
}

pub fn rcode_name(rcode: u8) -> String {
    match rcode {
        0 => "NOERROR".into(),
        2 => "SERVFAIL".into(),
        3 => "NXDOMAIN".into(),
        5 => "REFUSED".into(),
        n => format!("RCODE{n}"),
    }
}

/// Reads a possibly compressed name at `pos`; returns it (with a trailing dot) and the offset
/// after it in the record.
fn name(p: &[u8], mut pos: usize) -> Option<(String, usize)> {
    let mut out = String::new();
    let mut end = None;
    for _ in 0..128 {
        let len = *p.get(pos)? as usize;
        if len & 0xC0 == 0xC0 {
            let ptr = ((len & 0x3F) << 8) | *p.get(pos + 1)? as usize;
            end.get_or_insert(pos + 2);
            pos = ptr;
            continue;
        }
        if len == 0 {
            if out.is_empty() {
                out.push('.');
            }
            return Some((out, end.unwrap_or(pos + 1)));
        }
        out.push_str(std::str::from_utf8(p.get(pos + 1..pos + 1 + len)?).ok()?);
        out.push('.');
        pos += 1 + len;
    }
    None
}

fn u16_at(p: &[u8], pos: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*p.get(pos)?, *p.get(pos + 1)?]))
}

pub fn parse(p: &[u8]) -> Option<Reply> {
    let id = u16_at(p, 0)?;
    let flags = u16_at(p, 2)?;
    let (qd, an) = (u16_at(p, 4)?, u16_at(p, 6)?);
    let mut pos = 12;
    let mut qtype = 0;
    for _ in 0..qd {
        pos = name(p, pos)?.1;
        qtype = u16_at(p, pos)?;
        pos += 4;
    }
    let mut answers = Vec::new();
    for _ in 0..an {
        pos = name(p, pos)?.1;
        let rtype = u16_at(p, pos)?;
        let rdlen = u16_at(p, pos + 8)? as usize;
        let rdata = pos + 10;
        p.get(rdata..rdata + rdlen)?;
        if rtype == qtype {
            answers.push(match rtype {
                TYPE_A if rdlen == 4 => {
                    Ipv4Addr::new(p[rdata], p[rdata + 1], p[rdata + 2], p[rdata + 3]).to_string()
                }
                TYPE_SRV => format!("{} {}", u16_at(p, rdata + 4)?, name(p, rdata + 6)?.0),
                TYPE_PTR => name(p, rdata)?.0,
                _ => String::from("?"),
            });
        }
        pos = rdata + rdlen;
    }
    Some(Reply {
        id,
        rcode: (flags & 0x0F) as u8,
        truncated: flags & 0x0200 != 0,
        answers,
    })
}

/// A reply to `query` with one fixed A record, or None if it is not a query: the ceiling
/// server's whole work (copy the question, set QR/AA, append a pointer to it and the address).
pub fn fixed_answer(query: &[u8], out: &mut Vec<u8>) -> Option<()> {
    if query.len() < 17 || query[2] & 0x80 != 0 || u16_at(query, 4)? != 1 {
        return None;
    }
    let qend = name(query, 12)?.1 + 4;
    out.clear();
    out.extend_from_slice(query.get(..qend)?);
    out[2] = 0x84 | (query[2] & 0x01);
    out[3] = 0;
    out[6..12].copy_from_slice(&[0, 1, 0, 0, 0, 0]);
    out.extend_from_slice(&[0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 5, 0, 4, 10, 96, 0, 1]);
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_answer_parses_back() {
        let q = query(7, "svc-1.ns-1.svc.cluster.local", TYPE_A);
        let mut out = Vec::new();
        fixed_answer(&q, &mut out).unwrap();
        let r = parse(&out).unwrap();
        assert_eq!((r.id, r.rcode), (7, 0));
        assert_eq!(r.answers, vec!["10.96.0.1"]);
        assert!(
            fixed_answer(&out, &mut Vec::new()).is_none(),
            "replies are not answered"
        );
    }
}
