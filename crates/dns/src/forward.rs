//! Forwarding of names outside our zones (and fallthrough misses, and out-of-zone
//! ExternalName targets) to upstream resolvers, like CoreDNS's `forward . /etc/resolv.conf`:
//! UDP first, TCP again when the reply is truncated, upstreams tried in order, answers cached
//! for their TTL (capped, see [`crate::cache`]).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hickory_proto::op::{Edns, Message, MessageType, Query};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

use crate::cache::Cache;
use crate::error::{Error, Result};
use crate::wire::UpstreamReply;

/// How long one upstream gets per attempt before the next one is tried. Short, because a pod's
/// resolver gives up after 5 s and may still want to try its next search domain.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);
/// The EDNS size we advertise upstream (the DNS flag day 2020 value that avoids fragments).
const UPSTREAM_UDP_SIZE: u16 = 1232;
/// Upstream answers kept at most; bounded so a scan of random names cannot grow memory.
const CACHE_ENTRIES: usize = 10_000;
/// The port of a `nameserver` line (resolv.conf has no port syntax).
const DNS_PORT: u16 = 53;

/// Sends questions to upstream servers, with a TTL-obeying cache in front.
pub struct Forwarder {
    upstreams: Vec<SocketAddr>,
    cache: Mutex<Cache>,
    timeout: Duration,
}

impl Forwarder {
    /// A forwarder to `upstreams`, tried in order.
    pub fn new(upstreams: Vec<SocketAddr>) -> Self {
        Self {
            upstreams,
            cache: Mutex::new(Cache::new(CACHE_ENTRIES)),
            timeout: ATTEMPT_TIMEOUT,
        }
    }

    pub fn upstreams(&self) -> &[SocketAddr] {
        &self.upstreams
    }

    /// Resolves one question: from the cache, else from the first upstream that answers.
    pub async fn resolve(&self, question: &Query) -> Result<UpstreamReply> {
        let (name, qtype, qclass) = (
            question.name(),
            question.query_type(),
            u16::from(question.query_class()),
        );
        if let Some(hit) = self.cache().get(name, qtype, qclass, Instant::now()) {
            return Ok(hit);
        }
        let mut last = None;
        for &addr in &self.upstreams {
            match self.exchange(addr, question).await {
                Ok(reply) => {
                    self.cache()
                        .put(name, qtype, qclass, &reply, Instant::now());
                    return Ok(reply);
                }
                Err(err) => {
                    tracing::debug!(%err, "upstream failed");
                    last = Some(err);
                }
            }
        }
        Err(last.unwrap_or(Error::Upstream {
            addr: SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)),
            reason: "no upstream configured".into(),
        }))
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, Cache> {
        // A panic while holding the lock leaves a consistent map (every write is one insert).
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// UDP, then TCP when the UDP reply is truncated (if TCP fails, the truncated reply is
    /// still better than nothing: it carries TC to the client, which retries over TCP itself).
    async fn exchange(&self, addr: SocketAddr, question: &Query) -> Result<UpstreamReply> {
        let id: u16 = rand::random();
        let packet = query(id, question).map_err(|reason| Error::Upstream { addr, reason })?;
        let udp = tokio::time::timeout(self.timeout, exchange_udp(addr, id, question, &packet))
            .await
            .map_err(|_| timeout(addr))??;
        if !udp.truncated {
            return Ok(udp);
        }
        match tokio::time::timeout(self.timeout, exchange_tcp(addr, id, question, &packet)).await {
            Ok(Ok(tcp)) => Ok(tcp),
            Ok(Err(err)) => {
                tracing::debug!(%err, "TCP retry failed");
                Ok(udp)
            }
            Err(_) => Ok(udp),
        }
    }
}

fn timeout(addr: SocketAddr) -> Error {
    Error::Upstream {
        addr,
        reason: "timed out".into(),
    }
}

fn query(id: u16, question: &Query) -> std::result::Result<Vec<u8>, String> {
    let mut m = Message::query();
    m.metadata.id = id;
    m.metadata.recursion_desired = true;
    m.add_query(question.clone());
    let mut edns = Edns::new();
    edns.set_max_payload(UPSTREAM_UDP_SIZE);
    m.set_edns(edns);
    m.to_vec().map_err(|e| e.to_string())
}

/// Accepts only a response to our ID and question (anything else could be spoofed or late).
fn accept(bytes: &[u8], id: u16, question: &Query) -> Option<UpstreamReply> {
    let m = Message::from_vec(bytes).ok()?;
    let matches = m.metadata.id == id
        && m.metadata.message_type == MessageType::Response
        && m.queries.len() == 1
        && m.queries[0].name() == question.name()
        && m.queries[0].query_type() == question.query_type();
    matches.then_some(UpstreamReply {
        rcode: m.metadata.response_code,
        authoritative: m.metadata.authoritative,
        truncated: m.metadata.truncation,
        answers: m.answers,
        authorities: m.authorities,
        additionals: m.additionals,
    })
}

async fn exchange_udp(
    addr: SocketAddr,
    id: u16,
    question: &Query,
    packet: &[u8],
) -> Result<UpstreamReply> {
    let local: SocketAddr = match addr.ip() {
        IpAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        IpAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let io = |e: std::io::Error| Error::Upstream {
        addr,
        reason: e.to_string(),
    };
    let sock = UdpSocket::bind(local).await.map_err(io)?;
    // Connected: the kernel drops datagrams from any other source.
    sock.connect(addr).await.map_err(io)?;
    sock.send(packet).await.map_err(io)?;
    let mut buf = vec![0u8; 65535];
    loop {
        let n = sock.recv(&mut buf).await.map_err(io)?;
        if let Some(reply) = accept(&buf[..n], id, question) {
            return Ok(reply);
        }
    }
}

async fn exchange_tcp(
    addr: SocketAddr,
    id: u16,
    question: &Query,
    packet: &[u8],
) -> Result<UpstreamReply> {
    let io = |e: std::io::Error| Error::Upstream {
        addr,
        reason: e.to_string(),
    };
    let mut conn = TcpStream::connect(addr).await.map_err(io)?;
    let len = u16::try_from(packet.len()).map_err(|_| Error::Upstream {
        addr,
        reason: "query too long".into(),
    })?;
    let mut framed = len.to_be_bytes().to_vec();
    framed.extend_from_slice(packet);
    conn.write_all(&framed).await.map_err(io)?;
    let mut len = [0u8; 2];
    conn.read_exact(&mut len).await.map_err(io)?;
    let mut body = vec![0u8; usize::from(u16::from_be_bytes(len))];
    conn.read_exact(&mut body).await.map_err(io)?;
    accept(&body, id, question).ok_or_else(|| Error::Upstream {
        addr,
        reason: "reply does not match the question".into(),
    })
}

/// The `nameserver` addresses of a resolv.conf text, on port 53. Zone-scoped IPv6 addresses
/// (`fe80::1%eth0`) are skipped: std cannot carry the scope name.
pub fn parse_resolv_conf(text: &str) -> Vec<SocketAddr> {
    text.lines()
        .map(|l| l.split(['#', ';']).next().unwrap_or(""))
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            (words.next() == Some("nameserver")).then(|| words.next())?
        })
        .filter_map(|ip| ip.parse::<IpAddr>().ok())
        .map(|ip| SocketAddr::new(ip, DNS_PORT))
        .collect()
}

/// Reads the nameservers of a resolv.conf file. A missing file means no upstream.
pub fn read_resolv_conf(path: &Path) -> Result<Vec<SocketAddr>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(parse_resolv_conf(&text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(source) => Err(Error::ResolvConf {
            path: path.display().to_string(),
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::FakeUpstream;
    use hickory_proto::op::ResponseCode;
    use hickory_proto::rr::{Name, RecordType};

    #[test]
    fn resolv_conf() {
        let text = "# generated\nsearch example.com\nnameserver 192.0.2.53\nnameserver ::1 # six\n\
                    nameserver fe80::1%eth0\noptions ndots:5\n";
        assert_eq!(
            parse_resolv_conf(text),
            vec![
                "192.0.2.53:53".parse().unwrap(),
                "[::1]:53".parse().unwrap()
            ]
        );
    }

    fn q(name: &str, t: RecordType) -> Query {
        Query::query(Name::from_ascii(name).unwrap(), t)
    }

    #[tokio::test]
    async fn udp_then_tcp_on_truncation_and_cache() {
        let up = FakeUpstream::start().await;
        let f = Forwarder::new(vec![up.addr]);
        let r = f.resolve(&q("one.example.", RecordType::A)).await.unwrap();
        assert_eq!(r.rcode, ResponseCode::NoError);
        assert_eq!(r.answers.len(), 1);
        // Cached: the upstream is not asked again.
        let r2 = f.resolve(&q("ONE.example.", RecordType::A)).await.unwrap();
        assert_eq!(r2.answers.len(), 1);
        assert_eq!(up.udp_queries(), 1);
        // 100 records do not fit in UDP: TC, then TCP gives all of them.
        let r = f.resolve(&q("big.example.", RecordType::A)).await.unwrap();
        assert!(!r.truncated);
        assert_eq!(r.answers.len(), 100);
        assert_eq!(up.tcp_queries(), 1);
        // NXDOMAIN passes through.
        let r = f.resolve(&q("nx.example.", RecordType::A)).await.unwrap();
        assert_eq!(r.rcode, ResponseCode::NXDomain);
    }

    #[tokio::test]
    async fn falls_over_to_the_next_upstream() {
        // A bound socket that never answers, then a working upstream.
        let silent = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let up = FakeUpstream::start().await;
        let mut f = Forwarder::new(vec![silent.local_addr().unwrap(), up.addr]);
        f.timeout = Duration::from_millis(200);
        let r = f.resolve(&q("one.example.", RecordType::A)).await.unwrap();
        assert_eq!(r.answers.len(), 1);
        let none = Forwarder::new(Vec::new());
        assert!(
            none.resolve(&q("one.example.", RecordType::A))
                .await
                .is_err()
        );
    }
}
