//! The records and answers the crate synthesizes, as plain data with a zone-file rendering.
//! Kept independent of hickory-proto so answer building stays pure and golden tests compare
//! text; `wire` converts to hickory types when encoding.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use hickory_proto::rr::RecordType;

/// Record data. Names are absolute (trailing dot) and keep the case they were built with.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RData {
    A(Ipv4Addr),
    Aaaa(Ipv6Addr),
    Cname(String),
    Ptr(String),
    Ns(String),
    Txt(String),
    Srv {
        priority: u16,
        weight: u16,
        port: u16,
        target: String,
    },
    Soa {
        mname: String,
        rname: String,
        serial: u32,
        refresh: i32,
        retry: i32,
        expire: i32,
        minimum: u32,
    },
}

impl RData {
    pub fn record_type(&self) -> RecordType {
        match self {
            RData::A(_) => RecordType::A,
            RData::Aaaa(_) => RecordType::AAAA,
            RData::Cname(_) => RecordType::CNAME,
            RData::Ptr(_) => RecordType::PTR,
            RData::Ns(_) => RecordType::NS,
            RData::Txt(_) => RecordType::TXT,
            RData::Srv { .. } => RecordType::SRV,
            RData::Soa { .. } => RecordType::SOA,
        }
    }
}

/// A resource record of class IN.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Rr {
    pub name: String,
    pub ttl: u32,
    pub data: RData,
}

impl fmt::Display for Rr {
    /// Zone-file form: `name ttl IN TYPE rdata`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} IN {} ",
            self.name,
            self.ttl,
            self.data.record_type()
        )?;
        match &self.data {
            RData::A(ip) => write!(f, "{ip}"),
            RData::Aaaa(ip) => write!(f, "{ip}"),
            RData::Cname(n) | RData::Ptr(n) | RData::Ns(n) => f.write_str(n),
            RData::Txt(t) => write!(f, "\"{t}\""),
            RData::Srv {
                priority,
                weight,
                port,
                target,
            } => {
                write!(f, "{priority} {weight} {port} {target}")
            }
            RData::Soa {
                mname,
                rname,
                serial,
                refresh,
                retry,
                expire,
                minimum,
            } => {
                write!(
                    f,
                    "{mname} {rname} {serial} {refresh} {retry} {expire} {minimum}"
                )
            }
        }
    }
}

/// Response codes the answer builder produces (BADVERS is a wire-level matter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rcode {
    NoError,
    FormErr,
    ServFail,
    NxDomain,
    NotImp,
    Refused,
}

impl fmt::Display for Rcode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Rcode::NoError => "NOERROR",
            Rcode::FormErr => "FORMERR",
            Rcode::ServFail => "SERVFAIL",
            Rcode::NxDomain => "NXDOMAIN",
            Rcode::NotImp => "NOTIMP",
            Rcode::Refused => "REFUSED",
        })
    }
}

/// What the server must still do after the local answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// The answer is final.
    Done,
    /// The name is outside our zones: forward the whole query (REFUSED if no forwarder).
    Forward,
    /// NXDOMAIN in a `fallthrough` zone: the next handler (forwarder) may answer instead.
    Fallthrough,
    /// The answer ends in a CNAME to an out-of-zone name: resolve `name`/`qtype` upstream and
    /// append the records (and copy TC) after the CNAME.
    Upstream { name: String, qtype: RecordType },
}

/// A complete answer to one question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub rcode: Rcode,
    /// AA: set on everything synthesized from the zone.
    pub authoritative: bool,
    pub answers: Vec<Rr>,
    /// The zone SOA on NXDOMAIN and NODATA.
    pub authority: Vec<Rr>,
    pub additionals: Vec<Rr>,
    pub next: Next,
}

impl Answer {
    /// A non-authoritative empty answer with `rcode`.
    pub fn bare(rcode: Rcode, next: Next) -> Self {
        Self {
            rcode,
            authoritative: false,
            answers: Vec::new(),
            authority: Vec::new(),
            additionals: Vec::new(),
            next,
        }
    }

    /// Canonical text: header line, then each section's records sorted, so golden tests do not
    /// depend on index order (order-sensitive properties are tested separately).
    pub fn to_zone_text(&self) -> String {
        let mut out = format!(
            ";{}{}\n",
            self.rcode,
            if self.authoritative { " aa" } else { "" }
        );
        for (title, rrs) in [
            ("answer", &self.answers),
            ("authority", &self.authority),
            ("additional", &self.additionals),
        ] {
            if rrs.is_empty() {
                continue;
            }
            out.push_str(&format!(";{title}\n"));
            let mut lines: Vec<String> = rrs.iter().map(ToString::to_string).collect();
            lines.sort();
            for l in lines {
                out.push_str(&l);
                out.push('\n');
            }
        }
        out
    }
}
